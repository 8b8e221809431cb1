//! `vitrine synth`: a bundle from synthetic (or given) factors, for tests,
//! benchmarks and the first-run demo.

use crate::format::{write_bundle_file, Dtype};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 1000)]
    pub items: usize,
    #[arg(long, default_value_t = 64)]
    pub dim: usize,
    /// f32 | f16 | int8
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// With `--dtype int8`: add the RESIDUAL section (see `vitrine export --help`).
    #[arg(long)]
    pub residual: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 8)]
    pub categories: usize,
    /// Use these factors instead of random ones: raw little-endian f32, items × dim.
    #[arg(long)]
    pub factors: Option<PathBuf>,
    /// Embed an intent model (`vitrine intent train --out FILE`).
    #[arg(long)]
    pub intent: Option<PathBuf>,
    #[arg(long, short)]
    pub out: PathBuf,
}

/// Largest synthetic catalogue, in factor values: 8× the largest benchmark
/// shape (1M × 64).
const MAX_SYNTH_VALUES: usize = 1 << 29;

pub fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let dtype = Dtype::parse(&a.dtype)
        .ok_or_else(|| format!("--dtype must be f32, f16 or int8, not {:?}", a.dtype))?;
    if a.items == 0 || a.dim == 0 {
        return Err("--items and --dim must be at least 1".into());
    }
    // Checked before anything is allocated: a typo in --items must not try
    // to build a catalogue of many gigabytes.
    if a.dim > crate::format::MAX_DIM {
        return Err(format!(
            "--dim {} is above the format's {}",
            a.dim,
            crate::format::MAX_DIM
        )
        .into());
    }
    if a.items
        .checked_mul(a.dim)
        .is_none_or(|v| v > MAX_SYNTH_VALUES)
    {
        return Err(format!(
            "--items {} × --dim {} is more than {MAX_SYNTH_VALUES} factor values (2 GiB of f32)",
            a.items, a.dim
        )
        .into());
    }
    let mut parts = crate::synth::catalogue(a.items, a.dim, a.categories, a.seed);
    if let Some(path) = &a.factors {
        let raw = super::read_input(path).map_err(|e| format!("cannot read {e}"))?;
        let want = a
            .items
            .checked_mul(a.dim)
            .and_then(|v| v.checked_mul(4))
            .ok_or("--items × --dim is too large")?;
        if raw.len() != want {
            return Err(format!(
                "{} has {} bytes; {} items × {} dims need {want}",
                path.display(),
                raw.len(),
                a.items,
                a.dim
            )
            .into());
        }
        parts.factors = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        parts.gram = None;
    }
    if let Some(path) = &a.intent {
        parts.intent = Some(super::export::read_intent(path)?);
    }
    parts.meta.push(("dtype".into(), dtype.name().into()));
    parts.int8_residual = a.residual;
    write_bundle_file(&a.out, &parts, dtype)?;
    let len = std::fs::metadata(&a.out)?.len();
    eprintln!(
        "wrote {} ({} items × {} dims, {}, {} bytes)",
        a.out.display(),
        a.items,
        a.dim,
        dtype.name(),
        len
    );
    Ok(())
}
