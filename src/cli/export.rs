//! `vitrine export`: model state → `.vtr` bundle (+ per-user rows).

use crate::format::write::write_atomic;
use crate::format::{write_bundle, Dtype};
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
    /// Extra `key=value` metadata (repeatable; the key must not be empty).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
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

/// `--meta key=value`, checked when parsed so that a bad pair fails before
/// any training or writing.
fn parse_meta(kv: &str) -> Result<(String, String), String> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| format!("{kv:?} is not key=value"))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("{kv:?} has an empty key"));
    }
    if k.chars().any(char::is_control) || v.chars().any(char::is_control) {
        return Err(format!("{kv:?} contains control characters"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// An intent model to embed, decoded and validated the way the browser will
/// decode it, so a wrong file fails here and not in a shopper's page.
pub fn read_intent(path: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let bytes = super::read_input(path)?;
    crate::intent::IntentModel::from_bytes(&bytes).map_err(|e| {
        format!(
            "--intent {}: not a valid intent model: {e} [{}]",
            path.display(),
            e.code()
        )
    })?;
    Ok(bytes)
}

/// What `ExportArgs` say, checked and loaded before any work is done.
pub struct Prepared {
    dtype: Dtype,
    intent: Option<Vec<u8>>,
}

impl ExportArgs {
    pub fn prepare(&self) -> Result<Prepared, Box<dyn std::error::Error>> {
        let dtype = Dtype::parse(&self.dtype)
            .ok_or_else(|| TrainError::Config(format!("--dtype {}", self.dtype)))?;
        let intent = self.intent.as_deref().map(read_intent).transpose()?;
        Ok(Prepared { dtype, intent })
    }
}

/// A bundle built in memory: nothing is written until every part of the
/// run has succeeded.
pub struct Built {
    bytes: Vec<u8>,
    items: usize,
    dim: usize,
    dtype: Dtype,
}

/// `sessions` (item indices in the state's item order) feed `--neighbours`.
pub fn build_bundle(
    state: &ModelState,
    a: &ExportArgs,
    p: &Prepared,
    sessions: Option<&[Vec<u32>]>,
) -> Result<Built, Box<dyn std::error::Error>> {
    let mut parts = bundle_parts(
        state,
        &ExportOptions {
            synthetic_prices: a.synthetic_prices,
            intent: p.intent.clone(),
            extra_meta: a.meta.clone(),
        },
    )?;
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
    let bytes = write_bundle(&parts, p.dtype)?;
    Ok(Built {
        bytes,
        items: parts.ids.len(),
        dim: parts.dim,
        dtype: p.dtype,
    })
}

/// Writes the bundle (temp file + rename) and then the per-user rows.
pub fn write_built(
    built: &Built,
    state: &ModelState,
    out: &Path,
    a: &ExportArgs,
    quiet: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    write_atomic(out, &built.bytes).map_err(|e| TrainError::io(out, e))?;
    if !quiet {
        eprintln!(
            "wrote {} ({} items, dim {}, {}, {} bytes)",
            out.display(),
            built.items,
            built.dim,
            built.dtype.name(),
            built.bytes.len()
        );
    }
    if let Some(dir) = &a.users {
        let n = match write_user_rows(dir, state, &model_id(state)) {
            Ok(n) => n,
            Err(e) => {
                // The run failed: its bundle must not look like a result.
                let _ = std::fs::remove_file(out);
                return Err(e.into());
            }
        };
        if !quiet {
            eprintln!("wrote {n} user rows to {}", dir.display());
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let prepared = args.opts.prepare()?;
    let state = ModelState::from_bytes(&super::read_input(&args.state)?)?;
    let built = build_bundle(&state, &args.opts, &prepared, None)?;
    write_built(&built, &state, &args.output, &args.opts, args.quiet)
}
