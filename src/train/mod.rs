//! Native trainer, exporter and offline evaluation.
//!
//! - [`data`]: interaction logs and item metadata (CSV/TSV, messy rows counted).
//! - [`values`]: timestamp, price and stock fields as storefront exports write them.
//! - [`als`]: implicit-feedback ALS with conjugate-gradient or Cholesky solves.
//! - [`state`]: the model state file between `vitrine train` and `vitrine export`.
//! - [`export`]: state → bundle parts (+ per-user rows).
//! - [`import`]: factors from Spark ALS / `implicit` → model state.
//! - [`eval`]: reproducible split, metrics, baselines and the HTML report.

pub mod als;
pub mod compare;
pub mod data;
pub mod error;
pub mod eval;
pub mod export;
pub mod import;
pub mod kernels;
pub mod state;
pub mod values;

pub use error::{Result, TrainError};

use als::{AlsModel, AlsParams, Csr, Progress};
use data::{Dataset, ItemMeta};
use state::{ModelState, StateHeader};

/// Item × user-count-style popularity: summed training weight per item.
pub fn popularity(ds: &Dataset) -> Vec<f32> {
    let mut p = vec![0f32; ds.items.len()];
    for x in &ds.interactions {
        p[x.item as usize] += x.weight;
    }
    p
}

/// The user × item matrix of raw weights `r`.
pub fn user_item_matrix(ds: &Dataset) -> Csr {
    let t: Vec<(u32, u32, f32)> = ds
        .interactions
        .iter()
        .map(|x| (x.user, x.item, x.weight))
        .collect();
    Csr::from_triplets(ds.users.len(), ds.items.len(), &t)
}

/// Aligns catalogue metadata to the trained item order.
fn attach_meta(h: &mut StateHeader, meta: &ItemMeta) {
    if !meta.titles.is_empty() {
        h.titles = Some(
            h.items
                .iter()
                .map(|id| meta.titles.get(id).cloned().unwrap_or_else(|| id.clone()))
                .collect(),
        );
    }
    if !meta.categories.is_empty() {
        h.categories = Some(
            h.items
                .iter()
                .map(|id| meta.categories.get(id).cloned().unwrap_or_default())
                .collect(),
        );
    }
    if !meta.in_stock.is_empty() {
        h.in_stock = Some(
            h.items
                .iter()
                .map(|id| meta.in_stock.get(id).copied().unwrap_or(true))
                .collect(),
        );
    }
    h.currency = meta.currency.clone();
    if !meta.prices.is_empty() {
        h.prices = Some(
            h.items
                .iter()
                .map(|id| meta.prices.get(id).copied().unwrap_or(f32::NAN))
                .collect(),
        );
    }
}

/// Trains ALS on a dataset and packages the result as a model state.
pub fn train_state(
    ds: &Dataset,
    meta: Option<&ItemMeta>,
    params: &AlsParams,
    dataset_name: &str,
    on_iter: impl FnMut(&Progress),
) -> Result<(ModelState, AlsModel)> {
    let m = user_item_matrix(ds);
    let model = als::train(&m, params, on_iter)?;
    let mut header = StateHeader {
        n_users: ds.users.len(),
        n_items: ds.items.len(),
        dim: params.factors,
        users: ds.users.clone(),
        items: ds.items.clone(),
        alpha: params.alpha,
        lambda: params.lambda,
        iterations: params.iterations,
        cg_steps: params.cg_steps,
        solver: match params.solver {
            als::Solver::Cg => "cg".into(),
            als::Solver::Cholesky => "cholesky".into(),
        },
        seed: params.seed,
        loss: model.loss.clone(),
        train_seconds: model.train_time.as_secs_f64(),
        popularity: popularity(ds),
        dataset: dataset_name.to_string(),
        ..Default::default()
    };
    if let Some(meta) = meta {
        attach_meta(&mut header, meta);
    }
    let state = ModelState {
        header,
        user_factors: model.user_factors.clone(),
        item_factors: model.item_factors.clone(),
    };
    Ok((state, model))
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system, all threads) this process has used, in seconds,
/// from `/proc/self/stat`. Less sensitive than wall time to other processes
/// competing for the cores. Assumes the usual 100 ticks per second.
pub fn process_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = s.get(s.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
