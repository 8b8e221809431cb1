//! `vitrine shard`: split a bundle too large for one page load into a small
//! head bundle and factor shards (`format::shard`, `docs/format.md#sharded-bundles`),
//! fetched on demand by `loadSharded` in the browser.

use crate::format::shard::{self, BundleSource, ShardBy, ShardOptions, SynthSource};
use crate::format::Dtype;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The `.vtr` bundle to split (omit with `--synth-items`).
    pub model: Option<PathBuf>,
    /// `range`: contiguous runs of ids (byte order); `category`: one or more
    /// shards per category, so a category filter fetches only those.
    #[arg(long, default_value = "category")]
    pub by: String,
    /// Largest shard file (`16M`, `64M`, bytes).
    #[arg(long, value_name = "SIZE", default_value = "16M", value_parser = crate::table::parse_size)]
    pub max_shard_bytes: u64,
    /// Items in the head: the most popular overall, plus a tenth of this
    /// many of each category (cold start and a first recommendation).
    #[arg(long, default_value_t = 1000)]
    pub head_items: usize,
    /// Output directory: `head.vtr` and `shard-NNNN.vtr`.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Instead of a bundle, generate a synthetic catalogue of this many
    /// items shard by shard (benchmarks of 10M items never hold a 1 GB bundle).
    #[arg(long)]
    pub synth_items: Option<usize>,
    /// With --synth-items.
    #[arg(long, default_value_t = 64)]
    pub dim: usize,
    /// With --synth-items: f32 | f16 | int8.
    #[arg(long, default_value = "int8")]
    pub dtype: String,
    /// With --synth-items.
    #[arg(long, default_value_t = 20)]
    pub categories: usize,
    /// With --synth-items.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The model id heads and shards carry (default: the bundle's META
    /// `model_id`, else one derived from its bytes). Name each export
    /// differently: browsers cache shards under it.
    #[arg(long)]
    pub model_id: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Largest synthetic catalogue: 2^27 items (the format's u32 rows with room).
const MAX_SYNTH_ITEMS: usize = 1 << 27;

pub fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let by = ShardBy::parse(&a.by)
        .ok_or_else(|| format!("--by must be range or category, not {:?}", a.by))?;
    let opts = ShardOptions {
        by,
        max_shard_bytes: a.max_shard_bytes,
        head_items: a.head_items,
        model_id: a.model_id.clone(),
    };
    // Everything goes to a sibling directory first, so a failure leaves
    // nothing partial in --out; any error removes it.
    let tmp = sibling(&a.out, &format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let summary = match write(&a, &opts, &tmp) {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = publish(&tmp, &a.out, &summary) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let largest = summary
        .table
        .shards
        .iter()
        .map(|e| e.bytes)
        .max()
        .unwrap_or(0);
    let total: u64 = summary.table.shards.iter().map(|e| e.bytes).sum();
    if a.json {
        let shards: Vec<_> = summary
            .table
            .shards
            .iter()
            .map(|e| {
                serde_json::json!({"file": e.file, "bytes": e.bytes, "items": e.end - e.start,
                "category": (e.category != shard::NO_CATEGORY).then_some(e.category)})
            })
            .collect();
        let out = serde_json::json!({
            "model_id": summary.model_id, "by": by.name(), "items": summary.table.total_items,
            "head_items": summary.head_items, "head_bytes": summary.head_bytes,
            "shard_bytes": total, "largest_shard_bytes": largest, "shards": shards,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{}: model {}, {} items by {}: head.vtr {} bytes ({} items), {} shards, {} bytes in all, largest {}",
            a.out.display(),
            summary.model_id,
            summary.table.total_items,
            by.name(),
            summary.head_bytes,
            summary.head_items,
            summary.table.shards.len(),
            total,
            largest
        );
    }
    Ok(())
}

/// Shards the bundle (or the synthetic catalogue) into `tmp`.
fn write(
    a: &Args,
    opts: &ShardOptions,
    tmp: &Path,
) -> Result<shard::ShardSummary, Box<dyn std::error::Error>> {
    let mut write = |name: &str, bytes: &[u8]| std::fs::write(tmp.join(name), bytes);
    let coded = |e: crate::error::Error| format!("{e} [{}]", e.code());
    match (&a.model, a.synth_items) {
        (Some(path), None) => {
            let bytes = super::read_input(path).map_err(|e| format!("cannot read {e}"))?;
            let layout = crate::format::parse(&bytes)
                .map_err(|e| format!("{}: {e} [{}]", path.display(), e.code()))?;
            let src = BundleSource::new(&bytes, &layout).map_err(coded)?;
            Ok(shard::write_sharded(&src, opts, &mut write).map_err(coded)?)
        }
        (None, Some(n)) => {
            let dtype = Dtype::parse(&a.dtype)
                .ok_or_else(|| format!("--dtype must be f32, f16 or int8, not {:?}", a.dtype))?;
            if n == 0 || n > MAX_SYNTH_ITEMS || a.dim == 0 || a.dim > crate::format::MAX_DIM {
                return Err(format!(
                    "--synth-items must be 1..={MAX_SYNTH_ITEMS} and --dim 1..={}",
                    crate::format::MAX_DIM
                )
                .into());
            }
            let src = SynthSource {
                n,
                dim: a.dim,
                dtype,
                categories: a.categories.min(4096),
                seed: a.seed,
            };
            Ok(shard::write_sharded(&src, opts, &mut write).map_err(coded)?)
        }
        _ => Err("give either a bundle or --synth-items, not both".into()),
    }
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "shards".into());
    dir.with_file_name(format!(".{name}.{suffix}"))
}

/// Moves the finished files into `out`: a new directory is renamed whole;
/// into an existing one the shards go first and the head last (a page that
/// reads the head meanwhile finds its shards), and shard files of an earlier
/// export that the new head does not list are removed.
fn publish(
    tmp: &Path,
    out: &Path,
    s: &shard::ShardSummary,
) -> Result<(), Box<dyn std::error::Error>> {
    if !out.exists() {
        if let Some(p) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(p)?;
        }
        std::fs::rename(tmp, out)
            .map_err(|e| format!("cannot move {} to {}: {e}", tmp.display(), out.display()))?;
        return Ok(());
    }
    for e in &s.table.shards {
        std::fs::rename(tmp.join(&e.file), out.join(&e.file))?;
    }
    std::fs::rename(tmp.join("head.vtr"), out.join("head.vtr"))?;
    let listed: std::collections::HashSet<&str> =
        s.table.shards.iter().map(|e| e.file.as_str()).collect();
    for entry in std::fs::read_dir(out)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("shard-") && name.ends_with(".vtr") && !listed.contains(name.as_str()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let _ = std::fs::remove_dir_all(tmp);
    Ok(())
}
