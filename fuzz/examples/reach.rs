//! What a corpus reaches (`cargo run --example reach -- fuzz/corpus`, after a
//! fuzz run): of the `bundle` corpus, how many files load and with which
//! placement / RANKER sections, and how a RANKER fares (used, refused for
//! the blend); of the `placements` corpus, how many calls of each kind
//! answered Ok. Figures for the "Fuzzing" section of DEVELOPERS.md.

use std::path::PathBuf;

use vitrine::engine::Model;
use vitrine::ranker::Used;

fn files(dir: PathBuf) -> Vec<Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn main() {
    let corpus = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let bundles = files(corpus.join("bundle"));
    let (mut loaded, mut co, mut cad, mut tr, mut ranker, mut used, mut refused) =
        (0, 0, 0, 0, 0, 0, 0);
    for b in &bundles {
        let Ok(m) = Model::from_bytes(b) else {
            continue;
        };
        loaded += 1;
        let v = m.view();
        co += usize::from(v.placements.co_purchase.is_some());
        cad += usize::from(v.placements.cadence.is_some());
        tr += usize::from(v.placements.trending.is_some());
        ranker += usize::from(v.ranker.is_some());
        match vitrine::ranker::status(&m) {
            Used::Ranker(_) => used += 1,
            Used::BlendFallback(_) => refused += 1,
            Used::Blend => {}
        }
    }
    println!(
        "bundle: {} files, {loaded} load; with CO_PURCHASE {co}, CADENCE {cad}, TRENDING {tr}, RANKER {ranker} (used {used}, refused for the blend {refused})",
        bundles.len()
    );
    let inputs = files(corpus.join("placements"));
    let mut ok = [0u32; 8];
    for i in &inputs {
        for (t, x) in ok.iter_mut().zip(vitrine_fuzz::placements::run(i)) {
            *t += x;
        }
    }
    let names = [
        "bought_together",
        "viewed_together",
        "buy_again",
        "recently_viewed",
        "trending",
        "trending_facets",
        "business::recommend",
        "shopper ranking",
    ];
    let per: Vec<String> = names
        .iter()
        .zip(ok)
        .map(|(n, c)| format!("{n} {c}"))
        .collect();
    println!(
        "placements: {} inputs; calls answered Ok: {}",
        inputs.len(),
        per.join(", ")
    );
}
