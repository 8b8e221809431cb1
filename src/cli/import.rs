//! `vitrine import`: a bundle from factors trained by Apache Spark MLlib ALS
//! or by `implicit`, built by the same exporter as `vitrine train --export`.

use crate::format::{write_bundle_file, Dtype};
use crate::train::export::{bundle_parts, model_id, write_user_rows, ExportOptions};
use crate::train::import::{self as imp, ImportParams, LambdaScaling};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which trainer wrote the model.
    #[arg(long, value_parser = ["spark", "implicit"])]
    pub from: String,
    /// Spark: the directory `ALSModel.save()` wrote (or its itemFactors/).
    /// implicit: the `.npz` `model.save()` wrote.
    #[arg(long = "item-factors", value_name = "PATH")]
    pub item_factors: PathBuf,
    /// Item id map: CSV/TSV with an index column (`spark_id`, `index` or
    /// `implicit_id`) and `item_id` [, popularity, title, category] —
    /// `scripts/spark_als.py` writes DIR/items/. For implicit also a plain list
    /// of ids, one per line in factor-row order.
    #[arg(long)]
    pub items: PathBuf,
    /// Bundle to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Factor storage in the bundle.
    #[arg(long, value_parser = ["f32", "f16", "int8"], default_value = "f16")]
    pub dtype: String,
    /// With `--dtype int8`: the RESIDUAL section (see `vitrine export --help`).
    #[arg(long)]
    pub residual: bool,
    /// Write one `<user>.json` per user (their factor row) into this
    /// directory; user factors never go into the bundle. Needs --user-map.
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// User id map (`spark_id`/`index`/`implicit_id`, `user_id`), for --users.
    #[arg(long = "user-map")]
    pub user_map: Option<PathBuf>,
    /// Spark: the ALS estimator's directory (`ALS.save()`; spark_als.py
    /// writes OUT/als), where Spark keeps regParam, alpha and implicitPrefs.
    /// Default: `als/` beside the model directory, if there.
    #[arg(long)]
    pub estimator: Option<PathBuf>,
    /// Fold-in α. Spark: replaces the estimator's alpha. implicit: vitrine's α
    /// when the model was trained on values `1 + α·r` with implicit's
    /// alpha = 1; default implicit's alpha − 1 (exact for binary values,
    /// where implicit's confidence is alpha).
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Spark only: fold-in λ (regParam) when the estimator was not saved.
    #[arg(long)]
    pub lambda: Option<f32>,
    /// Dataset name for the bundle meta.
    #[arg(long, default_value = "")]
    pub dataset: String,
    /// Extra `key=value` metadata (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let dtype = Dtype::parse(&a.dtype).ok_or_else(|| format!("--dtype {}", a.dtype))?;
    if a.residual && dtype != Dtype::I8 {
        return Err("--residual needs --dtype int8".into());
    }
    if a.users.is_some() != a.user_map.is_some() {
        return Err("--users DIR and --user-map FILE go together".into());
    }
    if (a.lambda.is_some() || a.estimator.is_some()) && a.from != "spark" {
        return Err(
            "--lambda and --estimator are for --from spark (the .npz has regularization)".into(),
        );
    }
    let mut extra_meta = Vec::new();
    for kv in &a.meta {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--meta {kv:?} is not key=value"))?;
        extra_meta.push((k.to_string(), v.to_string()));
    }

    // Everything is read and checked before anything is written.
    let (params, items, item_factors, users) = match a.from.as_str() {
        "spark" => {
            let layout = imp::spark_layout(&a.item_factors)?;
            let model_dir = layout.metadata.parent().unwrap_or(Path::new("."));
            let sibling = model_dir.parent().map(|p| p.join("als"));
            let estimator = a
                .estimator
                .clone()
                .or_else(|| sibling.filter(|p| p.join("metadata").is_dir()));
            let over = imp::ParamOverrides {
                lambda: a.lambda,
                alpha: a.alpha,
            };
            let params = imp::spark_params(&layout, estimator.as_deref(), over)?;
            let raw = imp::read_spark_factors(&layout.item_factors, params.rank, None)?;
            let map = imp::read_id_map(&a.items, "item_id", false)?;
            let (items, f) = imp::join(&raw, &map)?;
            // User factors must agree with the items' rank even when they are
            // not exported: a mismatch means the directory was put together
            // from two runs.
            let users = if layout.user_factors.is_dir() {
                let limit = if a.users.is_some() { None } else { Some(1) };
                let raw_u = imp::read_spark_factors(&layout.user_factors, params.rank, limit)?;
                match &a.user_map {
                    Some(p) => Some(imp::join(&raw_u, &imp::read_id_map(p, "user_id", false)?)?),
                    None => None,
                }
            } else if a.users.is_some() {
                return Err(format!(
                    "{}: missing, cannot write --users",
                    layout.user_factors.display()
                )
                .into());
            } else {
                None
            };
            (params, items, f, users)
        }
        _ => {
            let arrays = imp::read_npz(&a.item_factors)?;
            let raw = imp::npz_factors(&a.item_factors, &arrays, "item_factors")?;
            let params = imp::implicit_params(&a.item_factors, &arrays, raw.dim, a.alpha)?;
            let raw_u = imp::npz_factors(&a.item_factors, &arrays, "user_factors")?;
            if raw_u.dim != raw.dim {
                return Err(imp::ImportError {
                    file: a.item_factors.clone(),
                    column: Some("user_factors".into()),
                    row: None,
                    reason: format!("{} columns, item_factors has {}", raw_u.dim, raw.dim),
                }
                .into());
            }
            let map = imp::read_id_map(&a.items, "item_id", true)?;
            let (items, f) = imp::join(&raw, &map)?;
            let users = match &a.user_map {
                Some(p) => Some(imp::join(&raw_u, &imp::read_id_map(p, "user_id", true)?)?),
                None => None,
            };
            (params, items, f, users)
        }
    };
    let has_popularity = items.iter().all(|r| r.popularity.is_some());
    let state = imp::to_state(&items, item_factors, users, &params, &a.dataset);
    let mut parts = bundle_parts(
        &state,
        &ExportOptions {
            extra_meta: import_meta(&params, extra_meta),
            ..Default::default()
        },
    )?;
    if !has_popularity {
        // No counts came with the id map: better no POPULARITY section than
        // zeros that would make `popular()` look meaningful.
        parts.popularity = None;
    }
    parts.int8_residual = a.residual;
    write_bundle_file(&a.output, &parts, dtype)?;
    if !a.quiet {
        let size = std::fs::metadata(&a.output).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "wrote {} ({} items from {}, dim {}, {}, λ {}{}, α {}, {size} bytes)",
            a.output.display(),
            parts.ids.len(),
            params.trainer,
            parts.dim,
            dtype.name(),
            params.lambda,
            if params.lambda_scaling == LambdaScaling::Positives {
                " × positives"
            } else {
                ""
            },
            params.alpha,
        );
    }
    if let Some(dir) = &a.users {
        let n = write_user_rows(dir, &state, &model_id(&state))?;
        if !a.quiet {
            eprintln!("wrote {n} user rows to {}", dir.display());
        }
    }
    Ok(())
}

/// Meta keys that replace the native trainer's defaults; `lambda_scaling`
/// tells the on-device fold-in to weight λ as Spark did.
fn import_meta(p: &ImportParams, user: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut m = vec![
        ("trainer".to_string(), p.trainer.clone()),
        ("solver".to_string(), p.trainer.clone()),
        ("confidence".to_string(), p.confidence.clone()),
        (
            "lambda_scaling".to_string(),
            match p.lambda_scaling {
                LambdaScaling::None => "none".to_string(),
                LambdaScaling::Positives => "positives".to_string(),
            },
        ),
    ];
    m.extend(user);
    m
}
