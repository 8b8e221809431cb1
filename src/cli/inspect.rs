//! `vitrine inspect`: what is in a bundle, without trusting it (it is parsed
//! with the same validating reader the browser uses).

use crate::engine::Model;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The `.vtr` bundle.
    pub path: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = super::read_input(&a.path).map_err(|e| format!("cannot read {e}"))?;
    let m = Model::from_bytes(&bytes)
        .map_err(|e| format!("{}: {e} [{}]", a.path.display(), e.code()))?;
    let l = m.layout();
    let v = m.view();
    if a.json {
        let sections: Vec<_> = l
            .sections
            .iter()
            .map(|s| {
                serde_json::json!({"kind": s.kind, "name": s.name, "offset": s.offset,
                    "length": s.length, "crc32": format!("{:08x}", s.crc32), "required": s.required()})
            })
            .collect();
        let meta: serde_json::Map<_, _> =
            m.meta().into_iter().map(|(k, v)| (k, v.into())).collect();
        let out = serde_json::json!({
            "file": a.path.display().to_string(), "bytes": bytes.len(),
            "format_version": format!("{}.{}", l.version.0, l.version.1),
            "n_items": l.n_items, "dim": l.dim, "stride": l.stride, "dtype": l.dtype.name(),
            "categories": v.category_names.len(), "has_gram": v.gram.is_some(),
            "neighbours": v.neighbours.map(|n| n.items.len()),
            "segments": v.segments.map(|s| s.k), "intent_bytes": v.intent.map(<[u8]>::len),
            "meta": meta, "sections": sections,
            "ranker": super::ranker::weights_json(&m),
            "behaviour": behaviour_json(v.behaviour),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{}  ({} bytes, checksums ok)",
        a.path.display(),
        bytes.len()
    );
    println!(
        "  format     vitrine bundle v{}.{}",
        l.version.0, l.version.1
    );
    println!(
        "  items      {}  ×  {} factors ({}; row stride {})",
        l.n_items,
        l.dim,
        l.dtype.name(),
        l.stride
    );
    if let Some(g) = v.gram {
        println!(
            "  fold-in    gram {}×{}, λ={}, α={}",
            g.dim, g.dim, g.lambda, g.alpha
        );
    }
    if let Some(n) = v.neighbours {
        println!("  neighbours {} links", n.items.len());
    }
    if let Some(s) = v.segments {
        println!("  segments   {}", s.k);
    }
    super::ranker::print_weights(&m);
    print_behaviour(v.behaviour);
    if !v.category_names.is_empty() {
        let names: Vec<&str> = v.category_names.iter().take(8).collect();
        println!(
            "  categories {} ({}{})",
            v.category_names.len(),
            names.join(", "),
            if v.category_names.len() > 8 {
                ", …"
            } else {
                ""
            }
        );
    }
    for (k, val) in m.meta() {
        println!("  meta       {k} = {val}");
    }
    println!("  sections");
    println!(
        "    {:<15} {:>10} {:>12}  {:<8}  req",
        "name", "offset", "length", "crc32"
    );
    for s in &l.sections {
        println!(
            "    {:<15} {:>10} {:>12}  {:08x}  {}",
            s.name,
            s.offset,
            s.length,
            s.crc32,
            if s.required() { "yes" } else { "" }
        );
    }
    Ok(())
}

/// BEHAVIOUR as a merchant reads it: each segment's label, size and raw
/// feature means (the section was validated at load; decoding cannot fail
/// on a loaded bundle, but a failure would print nothing rather than panic).
fn print_behaviour(b: Option<&[u8]>) {
    let Some(seg) = b.and_then(|b| crate::format::behaviour::decode(b).ok()) else {
        return;
    };
    use crate::shopper::segments::BEHAVIOUR;
    println!(
        "  behaviour  {} segments ({}), short histories shrunk by a prior of {:.2} visits",
        seg.centroids.len(),
        BEHAVIOUR.join(", "),
        seg.shrink
    );
    for (i, l) in seg.labels.iter().enumerate() {
        let means: Vec<String> = seg.feature_means[i]
            .iter()
            .map(|v| {
                if v.is_finite() {
                    format!("{v:.2}")
                } else {
                    "-".into()
                }
            })
            .collect();
        println!(
            "    {i} {:>6} users  {l}  [{}]",
            seg.sizes[i],
            means.join(" ")
        );
    }
}

fn behaviour_json(b: Option<&[u8]>) -> serde_json::Value {
    let Some(seg) = b.and_then(|b| crate::format::behaviour::decode(b).ok()) else {
        return serde_json::Value::Null;
    };
    let segs: Vec<serde_json::Value> = (0..seg.centroids.len())
        .map(|i| {
            let means: serde_json::Map<String, serde_json::Value> = crate::shopper::segments::BEHAVIOUR
                .iter()
                .zip(seg.feature_means[i])
                .map(|(n, v)| (n.to_string(), if v.is_finite() { v.into() } else { serde_json::Value::Null }))
                .collect();
            serde_json::json!({"id": i, "label": seg.labels[i], "users": seg.sizes[i], "feature_means": means})
        })
        .collect();
    serde_json::Value::Array(segs)
}
