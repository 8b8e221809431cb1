//! Writes the seed corpora `make fuzz` starts from (`fuzz/corpus/<target>/`):
//!
//! - bundle: the committed fixtures (`tests/fixtures/*.vtr`), and synthetic
//!   bundles in every dtype with every optional section (NEIGHBOURS,
//!   SEGMENTS, SEGMENT_NAMES, BEHAVIOUR, CO_PURCHASE, CADENCE, TRENDING,
//!   RANKER (also one of the first 15-feature spec), RESIDUAL, INTENT), small so each run is fast
//!   (the INTENT section holds a small model: the default one is ~300 KB and
//!   has its own target);
//! - vti: the default intent model and two small ones (with and without a
//!   title index);
//! - intent_text: the utterances of the shipped default set;
//! - shopper: byte strings that decode to plausible histories and options;
//! - placements: one call of each kind (`vitrine_fuzz::placements::seeds`).
//!
//! Usage: `seedgen CORPUS_DIR DEFAULT_VTI` (the `.vti` from `make intent-demo`;
//! trained here when the file does not exist).

use std::path::{Path, PathBuf};

use vitrine::format::Dtype;
use vitrine::intent::IntentModel;
use vitrine_fuzz::full_bundle_with;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus = PathBuf::from(args.get(1).expect("usage: seedgen CORPUS_DIR DEFAULT_VTI"));
    let vti_path = PathBuf::from(args.get(2).expect("usage: seedgen CORPUS_DIR DEFAULT_VTI"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    let default_vti = match std::fs::read(&vti_path) {
        Ok(b) => b,
        Err(_) => {
            eprintln!(
                "{} not found: training the default set here",
                vti_path.display()
            );
            let b = vitrine_fuzz::train_default_intent().to_bytes();
            std::fs::write(&vti_path, &b).unwrap();
            b
        }
    };
    IntentModel::from_bytes(&default_vti).expect("the default .vti decodes");

    // bundle
    let dir = corpus.join("bundle");
    for e in std::fs::read_dir(root.join("tests/fixtures"))
        .unwrap()
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "vtr") {
            write(
                &dir,
                &p.file_name().unwrap().to_string_lossy(),
                &std::fs::read(&p).unwrap(),
            );
        }
    }
    let small = vitrine_fuzz::small_intent(true).to_bytes();
    for (name, n, d, dtype, res, intent) in [
        ("full-f32.vtr", 24, 8, Dtype::F32, false, None),
        ("full-f16.vtr", 24, 20, Dtype::F16, false, None),
        ("full-i8.vtr", 24, 8, Dtype::I8, false, None),
        (
            "full-i8-residual-intent.vtr",
            24,
            16,
            Dtype::I8,
            true,
            Some(small.clone()),
        ),
        ("full-f32-d33.vtr", 5, 33, Dtype::F32, false, None),
    ] {
        write(&dir, name, &full_bundle_with(n, d, dtype, res, intent));
    }
    // A RANKER of the first (15-feature) spec, mapped by `Ranker::aligned`.
    write(
        &dir,
        "full-f32-ranker-v1.vtr",
        &vitrine_fuzz::full_bundle_ext(
            20,
            8,
            Dtype::F32,
            false,
            None,
            Some(vitrine_fuzz::synthetic_ranker(true)),
        ),
    );

    // vti
    let dir = corpus.join("vti");
    write(&dir, "default.vti", &default_vti);
    write(
        &dir,
        "small.vti",
        &vitrine_fuzz::small_intent(false).to_bytes(),
    );
    write(&dir, "small-titles.vti", &small);

    // intent_text: one file per utterance of the default set.
    let dir = corpus.join("intent_text");
    let mut k = 0;
    for f in ["default_train.csv", "default_test.csv", "default_oos.csv"] {
        let text = std::fs::read_to_string(root.join("src/intent/data").join(f)).unwrap();
        for line in text.lines().skip(1).step_by(3) {
            // The text column; quoted fields keep their commas.
            let t = if let Some(rest) = line.strip_prefix('"') {
                rest.split('"').next().unwrap_or("")
            } else {
                line.split(',').next().unwrap_or("")
            };
            write(&dir, &format!("u{k:04}"), t.as_bytes());
            k += 1;
        }
    }
    for (i, t) in [
        "under $99999999999999999999999",
        "between 50 and 80 元",
        "Classic Sneaker 3 x2 pairs",
        "#A12345 order",
    ]
    .iter()
    .enumerate()
    {
        write(&dir, &format!("slot{i}"), t.as_bytes());
    }

    // shopper: option tags mostly "absent", then events (kind, item, ts tag).
    let dir = corpus.join("shopper");
    for s in 0..16u8 {
        let mut b = vec![0u8; 20]; // 20 absent options (low bit 0)
        b.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4]); // rules, filter, candidates
        for c in 0..4u8 {
            b.push(c);
        }
        for e in 0..(4 + s) {
            b.extend_from_slice(&[e % 4, e.wrapping_mul(7).wrapping_add(s), 1, e, 0]);
        }
        write(&dir, &format!("s{s:02}"), &b);
    }
    // placements: one call of each kind, with and without business options.
    let dir = corpus.join("placements");
    for (name, bytes) in vitrine_fuzz::placements::seeds() {
        write(&dir, &name, &bytes);
    }
    eprintln!("seeds written under {}", corpus.display());
}
