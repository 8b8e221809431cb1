//! `vitrine export`: model state → `.vtr` bundle (+ per-user rows).

use crate::format::{write_bundle_file, Dtype};
use crate::train::export::{bundle_parts, model_id, write_user_rows, ExportOptions};
use crate::train::state::ModelState;
use crate::train::TrainError;
use std::path::{Path, PathBuf};

/// Bundle options. Shared with `vitrine train --export`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    /// Factor storage in the bundle.
    #[arg(long, value_parser = ["f32", "f16", "int8"], default_value = "f16")]
    pub dtype: String,
    /// With `--dtype int8`: add a RESIDUAL section (one more byte per value)
    /// so the browser re-scores its int8 candidates at ~15-bit precision: the
    /// top-k then matches the f32 model's almost always, at int8 scan speed,
    /// for a file as large as f16.
    #[arg(long)]
    pub residual: bool,
    /// Also write one `<user>.json` per user with their factor row into this
    /// directory (served per user; never part of the shared bundle).
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Embed an intent model produced by `vitrine intent train`.
    #[arg(long)]
    pub intent: Option<PathBuf>,
    /// Fill prices from a hash of the item id (demo data; marked synthetic in the meta).
    #[arg(long)]
    pub synthetic_prices: bool,
    /// Extra `key=value` metadata (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Add K shopper segments: k-means centroids over the trained user factors.
    #[arg(long, default_value_t = 0)]
    pub segments: usize,
    /// Names for the segments, comma-separated (default "segment 1", ...).
    #[arg(long, value_delimiter = ',')]
    pub segment_names: Vec<String>,
    /// Add the top-N co-occurrence neighbours per item, from the training log's
    /// sessions (a user's events split at 30 minutes of inactivity). Needs the
    /// log, so only with `vitrine train ... --export`.
    #[arg(long, default_value_t = 0)]
    pub neighbours: usize,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model state written by `vitrine train`.
    pub state: PathBuf,
    /// Bundle to write.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub opts: ExportArgs,
    #[arg(short, long)]
    pub quiet: bool,
}

/// `sessions` (item indices in the state's item order) feed `--neighbours`.
pub fn export_state(
    state: &ModelState,
    out: &Path,
    a: &ExportArgs,
    quiet: bool,
    sessions: Option<&[Vec<u32>]>,
) -> Result<(), Box<dyn std::error::Error>> {
    let dtype =
        Dtype::parse(&a.dtype).ok_or_else(|| TrainError::Config(format!("--dtype {}", a.dtype)))?;
    let intent = match &a.intent {
        Some(p) => Some(std::fs::read(p).map_err(|e| TrainError::io(p, e))?),
        None => None,
    };
    let mut extra_meta = Vec::new();
    for kv in &a.meta {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| TrainError::Config(format!("--meta {kv:?} is not key=value")))?;
        extra_meta.push((k.to_string(), v.to_string()));
    }
    let parts = bundle_parts(
        state,
        &ExportOptions {
            synthetic_prices: a.synthetic_prices,
            intent,
            extra_meta,
        },
    )?;
    let mut parts = parts;
    if a.segments > 0 {
        let users: Vec<f32> = state.user_factors.iter().copied().collect();
        let names = (!a.segment_names.is_empty()).then(|| a.segment_names.clone());
        parts.segments = Some(crate::shopper::segments::section(
            &users,
            state.header.dim,
            a.segments,
            names,
            state.header.seed,
        ));
    }
    if a.neighbours > 0 {
        let sessions = sessions.ok_or_else(|| {
            TrainError::Config(
                "--neighbours needs the interaction log: use `vitrine train ... --export`".into(),
            )
        })?;
        let opts = crate::shopper::neighbours::NeighbourOptions {
            top_n: a.neighbours,
            ..Default::default()
        };
        parts.neighbours = Some(crate::shopper::neighbours::build(
            state.header.n_items,
            sessions,
            &opts,
        ));
    }
    parts.int8_residual = a.residual;
    write_bundle_file(out, &parts, dtype)?;
    if !quiet {
        let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "wrote {} ({} items, dim {}, {}, {size} bytes)",
            out.display(),
            parts.ids.len(),
            parts.dim,
            dtype.name()
        );
    }
    if let Some(dir) = &a.users {
        let n = write_user_rows(dir, state, &model_id(state))?;
        if !quiet {
            eprintln!("wrote {n} user rows to {}", dir.display());
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let state = ModelState::load(&args.state)?;
    export_state(&state, &args.output, &args.opts, args.quiet, None)
}
