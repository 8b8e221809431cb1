//! The full offline comparison behind `vitrine eval`: split, train, score
//! vitrine through real exported bundles (f32/f16/int8), the baselines, and
//! `implicit` in a Python subprocess on the identical split.

use super::als::AlsParams;
use super::data::Dataset;
use super::error::{Result, TrainError};
use super::eval::{self, ModelResult, Split, TestUser, MAX_K};
use super::export::{bundle_parts, ExportOptions};
use super::state::atomic_write;
use super::{peak_rss_bytes, train_state, user_item_matrix};
use crate::engine::{Model, RecommendOptions};
use crate::format::{write_bundle, Dtype};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub dataset_name: String,
    pub params: AlsParams,
    pub min_positives: usize,
    pub holdout: f64,
    /// Evaluate on a validation split carved from the training part (for tuning).
    pub validation: bool,
    pub knn: usize,
    pub out_dir: PathBuf,
    /// Python interpreter with `implicit` installed; `None` skips that baseline.
    pub implicit_python: Option<PathBuf>,
    pub implicit_script: PathBuf,
    pub dtypes: Vec<Dtype>,
    pub quiet: bool,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    dataset: &'a str,
    factors: usize,
    alpha: f32,
    lambda: f32,
    iterations: usize,
    cg_steps: usize,
    threads: usize,
    seed: u64,
    validation: bool,
    train_users: usize,
    train_items: usize,
    train_interactions: usize,
    test_users: usize,
    test_interactions: usize,
    models: &'a [ModelResult],
}

fn recommend_bundle(
    model: &Model,
    user_factors: &ndarray::Array2<f32>,
    test: &[TestUser],
    seen: &[Vec<u32>],
) -> Result<Vec<Vec<u32>>> {
    test.par_iter()
        .map(|t| {
            let row: Vec<f32> = user_factors.row(t.user as usize).iter().copied().collect();
            let opts = RecommendOptions {
                k: MAX_K,
                exclude: seen[t.user as usize].clone(),
                ..Default::default()
            };
            model
                .recommend(&row, &opts)
                .map(|v| v.into_iter().map(|s| s.index).collect())
                .map_err(|e| TrainError::Bundle(e.to_string()))
        })
        .collect()
}

/// Fraction of users whose first ten recommendations are the same set.
fn top10_agreement(a: &[Vec<u32>], b: &[Vec<u32>]) -> f64 {
    let same = a
        .iter()
        .zip(b)
        .filter(|(x, y)| {
            let mut x: Vec<u32> = x.iter().take(10).copied().collect();
            let mut y: Vec<u32> = y.iter().take(10).copied().collect();
            x.sort_unstable();
            y.sort_unstable();
            x == y
        })
        .count();
    same as f64 / a.len().max(1) as f64
}

#[derive(serde::Deserialize)]
struct ImplicitOut {
    train_seconds: f64,
    train_cpu_seconds: f64,
    peak_rss_bytes: u64,
    version: String,
    recs: Vec<Vec<i64>>,
    /// Set by scripts that stand in for implicit on the same split
    /// (`tests/eval/spark_als_eval.py`): the row's name and note.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

fn write_split_files(dir: &Path, split: &Split, p: &AlsParams) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let mut tsv = Vec::with_capacity(split.train.interactions.len() * 16);
    for x in &split.train.interactions {
        let _ = writeln!(tsv, "{}\t{}\t{}", x.user, x.item, x.weight);
    }
    atomic_write(&dir.join("train.tsv"), &tsv)?;
    let users: String = split.test.iter().map(|t| format!("{}\n", t.user)).collect();
    atomic_write(&dir.join("test_users.txt"), users.as_bytes())?;
    let params = serde_json::json!({
        "n_users": split.train.users.len(), "n_items": split.train.items.len(),
        "factors": p.factors, "alpha": p.alpha, "lambda": p.lambda, "iterations": p.iterations,
        "threads": p.threads, "seed": p.seed, "k": MAX_K,
    });
    atomic_write(&dir.join("params.json"), params.to_string().as_bytes())
}

fn run_implicit(
    opts: &CompareOptions,
    python: &Path,
    split_dir: &Path,
    n_test: usize,
) -> Result<ImplicitOut> {
    let out_path = split_dir.join("implicit_out.json");
    let _ = std::fs::remove_file(&out_path);
    let status = Command::new(python)
        .arg(&opts.implicit_script)
        .arg(split_dir)
        .arg(&out_path)
        // implicit asks for single-threaded BLAS; its own solver uses `threads`.
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .status()
        .map_err(|e| TrainError::External(format!("cannot run {}: {e}", python.display())))?;
    if !status.success() {
        return Err(TrainError::External(format!(
            "{} exited with {status}",
            opts.implicit_script.display()
        )));
    }
    let bytes = std::fs::read(&out_path).map_err(|e| TrainError::io(&out_path, e))?;
    let out: ImplicitOut = serde_json::from_slice(&bytes)
        .map_err(|e| TrainError::External(format!("implicit output: {e}")))?;
    if out.recs.len() != n_test {
        return Err(TrainError::External(format!(
            "implicit returned {} users, expected {n_test}",
            out.recs.len()
        )));
    }
    Ok(out)
}

fn log(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("{msg}");
    }
}

/// Runs everything and writes `recs.json`, `metrics.json` and `report.html`
/// into `out_dir`. Returns the per-model results.
pub fn run(ds: &Dataset, opts: &CompareOptions) -> Result<Vec<ModelResult>> {
    let outer = eval::split(ds, opts.min_positives, opts.holdout)?;
    let split = if opts.validation {
        eval::split(&outer.train, opts.min_positives, opts.holdout)?
    } else {
        outer
    };
    let p = &opts.params;
    let n_items = split.train.items.len();
    let test = &split.test;
    let test_interactions: usize = test.iter().map(|t| t.relevant()).sum();
    log(
        opts.quiet,
        &format!(
            "split{}: {} train interactions ({} users, {} items); {} test users, {} held-out positives",
            if opts.validation { " (validation)" } else { "" },
            split.train.interactions.len(),
            split.train.users.len(),
            n_items,
            test.len(),
            test_interactions
        ),
    );

    let (state, als) = train_state(&split.train, None, p, &opts.dataset_name, |pr| {
        if !opts.quiet {
            eprintln!(
                "  iter {}/{} loss {:.6} ({:.2}s)",
                pr.iteration,
                pr.iterations,
                pr.loss,
                pr.elapsed.as_secs_f64()
            );
        }
    })?;
    let ours_cpu = als.train_cpu_seconds;
    let ours_rss = peak_rss_bytes();
    let ours_secs = als.train_time.as_secs_f64();
    log(
        opts.quiet,
        &format!("vitrine ALS trained in {ours_secs:.3}s"),
    );

    let seen = eval::seen_items(&user_item_matrix(&split.train));
    let mut results: Vec<ModelResult> = Vec::new();
    let mut all_recs: Vec<(String, Vec<Vec<u32>>)> = Vec::new();

    let parts = bundle_parts(&state, &ExportOptions::default())?;
    for &dt in &opts.dtypes {
        let bytes = write_bundle(&parts, dt).map_err(|e| TrainError::Bundle(e.to_string()))?;
        let size = bytes.len();
        let model = Model::from_bytes(&bytes).map_err(|e| TrainError::Bundle(e.to_string()))?;
        if model.n_items() != n_items
            || (0..n_items).any(|i| model.item_id(i) != Some(parts.ids[i].as_str()))
        {
            return Err(TrainError::Bundle(
                "bundle item order differs from the trained order".into(),
            ));
        }
        let recs = recommend_bundle(&model, &state.user_factors, test, &seen)?;
        let name = format!("vitrine ALS ({})", dt.name());
        results.push(ModelResult {
            name: name.clone(),
            metrics: eval::metrics(&recs, test, n_items),
            train_seconds: Some(ours_secs),
            train_cpu_seconds: ours_cpu,
            peak_rss_bytes: ours_rss,
            note: format!("scored through a {size}-byte bundle"),
        });
        all_recs.push((name, recs));
    }
    // What quantization costs in the rankings real users get: how often a
    // quantized bundle's top-10 is the f32 bundle's top-10 as a set.
    if let Some(f32_pos) = opts.dtypes.iter().position(|&d| d == Dtype::F32) {
        for (k, &dt) in opts.dtypes.iter().enumerate() {
            if k == f32_pos {
                continue;
            }
            let same = top10_agreement(&all_recs[f32_pos].1, &all_recs[k].1);
            results[k].note += &format!(
                "; top-10 = the f32 bundle's top-10 (as a set) for {:.2}% of test users",
                100.0 * same
            );
            log(
                opts.quiet,
                &format!(
                    "{} top-10 agreement with f32: {:.2}%",
                    dt.name(),
                    100.0 * same
                ),
            );
        }
    }

    let pop = eval::popularity_recs(&state.header.popularity, test, &seen, MAX_K);
    results.push(ModelResult {
        name: "popularity".into(),
        metrics: eval::metrics(&pop, test, n_items),
        train_seconds: None,
        train_cpu_seconds: None,
        peak_rss_bytes: None,
        note: String::new(),
    });
    all_recs.push(("popularity".into(), pop));

    let train_csr = user_item_matrix(&split.train);
    let t0 = std::time::Instant::now();
    let nbrs = eval::item_knn(&train_csr, opts.knn);
    let knn_secs = t0.elapsed().as_secs_f64();
    let knn = eval::knn_recs(&nbrs, test, &seen, MAX_K);
    results.push(ModelResult {
        name: format!("item-kNN (cosine, k={})", opts.knn),
        metrics: eval::metrics(&knn, test, n_items),
        train_seconds: Some(knn_secs),
        train_cpu_seconds: None,
        peak_rss_bytes: None,
        note: String::new(),
    });
    all_recs.push(("item-kNN".into(), knn));

    if let Some(py) = &opts.implicit_python {
        let split_dir = opts.out_dir.join("split");
        write_split_files(&split_dir, &split, p)?;
        let out = run_implicit(opts, py, &split_dir, test.len())?;
        let recs: Vec<Vec<u32>> = out
            .recs
            .iter()
            .map(|r| {
                r.iter()
                    .filter(|&&i| i >= 0 && (i as usize) < n_items)
                    .map(|&i| i as u32)
                    .collect()
            })
            .collect();
        log(
            opts.quiet,
            &format!(
                "{} trained in {:.3}s",
                out.name
                    .clone()
                    .unwrap_or_else(|| format!("implicit {} ALS", out.version)),
                out.train_seconds
            ),
        );
        results.push(ModelResult {
            name: out
                .name
                .clone()
                .unwrap_or_else(|| format!("implicit {} ALS", out.version)),
            metrics: eval::metrics(&recs, test, n_items),
            train_seconds: Some(out.train_seconds),
            train_cpu_seconds: Some(out.train_cpu_seconds),
            peak_rss_bytes: Some(out.peak_rss_bytes),
            note: out.note.clone().unwrap_or_else(|| {
                "same split, factors, λ, confidence 1+α·r, iterations, threads".into()
            }),
        });
        all_recs.push(("implicit".into(), recs));
    }

    // Outputs.
    let dir = &opts.out_dir;
    let recs_json = serde_json::json!({
        "items": split.train.items,
        "users": test.iter().map(|t| &split.train.users[t.user as usize]).collect::<Vec<_>>(),
        "models": all_recs.iter().map(|(n, r)| (n.clone(), serde_json::json!(r))).collect::<serde_json::Map<_, _>>(),
    });
    atomic_write(&dir.join("recs.json"), recs_json.to_string().as_bytes())?;
    let report = Report {
        dataset: &opts.dataset_name,
        factors: p.factors,
        alpha: p.alpha,
        lambda: p.lambda,
        iterations: p.iterations,
        cg_steps: p.cg_steps,
        threads: p.threads,
        seed: p.seed,
        validation: opts.validation,
        train_users: split.train.users.len(),
        train_items: n_items,
        train_interactions: split.train.interactions.len(),
        test_users: test.len(),
        test_interactions,
        models: &results,
    };
    let mj = serde_json::to_vec_pretty(&report).map_err(|e| TrainError::State(e.to_string()))?;
    atomic_write(&dir.join("metrics.json"), &mj)?;
    let summary = vec![
        ("dataset".to_string(), opts.dataset_name.clone()),
        (
            "split".to_string(),
            format!(
                "users with ≥{} positives: latest {:.0}% (≥1) held out{}",
                opts.min_positives,
                opts.holdout * 100.0,
                if opts.validation {
                    "; validation split inside the training part"
                } else {
                    ""
                }
            ),
        ),
        (
            "train".to_string(),
            format!(
                "{} users, {} items, {} interactions",
                report.train_users, n_items, report.train_interactions
            ),
        ),
        (
            "test".to_string(),
            format!(
                "{} users, {} held-out positives",
                test.len(),
                test_interactions
            ),
        ),
        (
            "ALS".to_string(),
            format!(
                "factors {}, α {}, λ {}, iterations {}, CG steps {}, threads {}, seed {}",
                p.factors, p.alpha, p.lambda, p.iterations, p.cg_steps, p.threads, p.seed
            ),
        ),
    ];
    let html = eval::report_html(
        &format!("vitrine offline evaluation: {}", opts.dataset_name),
        &summary,
        &results,
    );
    atomic_write(&dir.join("report.html"), html.as_bytes())?;
    Ok(results)
}
