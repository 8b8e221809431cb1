//! The learned ranker offline: training examples from session prefixes,
//! regularisation chosen on held-out validation sessions, one test run
//! against the grid-tuned blend and the baselines.

use super::session::{self, points, profile, Prepared, SessionEvalConfig};
use super::EvalError;
use crate::engine::Model;
use crate::format::placements::{PlacementParts, TimeUnit};
use crate::placements::build::{self as pbuild, Basket, BuildOptions};
use crate::ranker::{self, FitOptions, Ranker, F};
use crate::shopper::rerank::{self, Blend, RerankOptions};
use rayon::prelude::*;

/// Options beyond the session evaluation's.
#[derive(Clone, Debug)]
pub struct RankerConfig {
    pub session: SessionEvalConfig,
    /// L2 strengths tried; the best on the selection half of valid wins.
    pub l2_grid: Vec<f32>,
    /// Negatives kept per prefix (sampled from the candidate pool past the
    /// `hard` ones).
    pub negatives: usize,
    /// The blend's top candidates always kept as negatives (the ones that
    /// compete with the target for the top 20).
    pub hard: usize,
    pub steps: usize,
    pub seed: u64,
    /// Add CO_PURCHASE and TRENDING sections built from the training
    /// sessions to the evaluation bundle (what `placements build` adds to a
    /// store's bundle), so the `co_purchase` and `trend` features carry
    /// evidence; without them both features are 0.
    pub placements: bool,
    /// TRENDING's half-life in days.
    pub trending_half_life: f32,
}

impl Default for RankerConfig {
    fn default() -> Self {
        RankerConfig {
            session: SessionEvalConfig::default(),
            l2_grid: vec![1e-3, 1e-2, 1e-1],
            negatives: 20,
            hard: 20,
            steps: 300,
            seed: 42,
            placements: true,
            trending_half_life: 14.0,
        }
    }
}

fn pool_opts(blend: Blend, pool: usize) -> RerankOptions {
    RerankOptions {
        k: 20,
        blend,
        rules: Default::default(),
        pool,
        ..Default::default()
    }
}

/// Training rows of the ranker: features, labels, and each row's weight in
/// the two negative samples drawn from the same pools (0 = not drawn).
/// `uniform`: `negatives` per prefix drawn uniformly from the pool, weight
/// one each. `top`: the blend's first `hard` candidates always, `negatives`
/// more drawn from the rest with probability q and weight 1/q (so the loss
/// is the whole pool's, see `ranker::fit_weighted`). Which sample trains
/// the better ranker is chosen on validation like λ.
#[derive(Default)]
pub struct Examples {
    pub x: Vec<[f32; F]>,
    pub y: Vec<bool>,
    pub uniform: Vec<f32>,
    pub top: Vec<f32>,
}

/// The two samples' names, in [`Examples::sample`] order.
pub const SAMPLES: [&str; 2] = ["uniform", "top_weighted"];

impl Examples {
    /// Rows of one sample (`0` uniform, `1` top + weighted) with their weights.
    pub fn sample(&self, which: usize) -> (Vec<[f32; F]>, Vec<bool>, Vec<f32>) {
        let w = if which == 0 { &self.uniform } else { &self.top };
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for ((x, &y), &wi) in self.x.iter().zip(&self.y).zip(w) {
            if wi > 0.0 {
                out.0.push(*x);
                out.1.push(y);
                out.2.push(wi);
            }
        }
        out
    }
}

/// For every prefix of every session: the blend's candidate pool, features
/// per candidate, label = the candidate is the next item. Prefixes whose
/// next item is not in the pool teach nothing and are skipped; negatives are
/// sampled twice (see [`Examples`]; deterministic in `seed`).
pub fn examples(
    model: &Model,
    log: &[Vec<(u32, f64)>],
    blend: Blend,
    cfg: &RankerConfig,
) -> Examples {
    let opts = pool_opts(blend, cfg.session.pool);
    let all = RerankOptions {
        k: 0,
        reason_depth: 0,
        ..opts.clone()
    };
    let pts = points(log);
    // (features, label, weight in the uniform sample, in the top sample)
    type Row = ([f32; F], bool, f32, f32);
    let rows: Vec<Vec<Row>> = pts
        .par_iter()
        .enumerate()
        .map(|(n, &(s, p))| {
            let prefix = &log[s][..p];
            let target = log[s][p].0;
            let prof = profile(model, prefix, cfg.session.half_life);
            let ranked = rerank::candidates(model, &prof, &opts)
                .and_then(|c| rerank::rerank(model, &prof, &c, &all))
                .unwrap_or_default();
            if !ranked.iter().any(|r| r.index == target) {
                return Vec::new();
            }
            let x = ranker::features(model, &prof, &ranked);
            let mut rng = crate::synth::Rng::new(cfg.seed ^ (n as u64).wrapping_mul(0x9e37_79b9));
            let m = ranked.len().max(1) as f32;
            let keep_u = (cfg.negatives as f32 / m).min(1.0);
            // `ranked` is in blend order: its first `hard` candidates are
            // the ones HR@20 / MRR@20 turn on.
            let rest = ranked.len().saturating_sub(cfg.hard).max(1) as f32;
            let keep_t = (cfg.negatives as f32 / rest).min(1.0);
            let w_rest = 1.0 / keep_t.max(f32::MIN_POSITIVE);
            ranked
                .iter()
                .zip(x)
                .enumerate()
                .filter_map(|(k, (r, f))| {
                    let pos = r.index == target;
                    let (du, dt) = (rng.uniform(), rng.uniform());
                    let wu = if pos || du < keep_u { 1.0 } else { 0.0 };
                    let wt = if pos || k < cfg.hard {
                        1.0
                    } else if dt < keep_t {
                        w_rest
                    } else {
                        0.0
                    };
                    (wu > 0.0 || wt > 0.0).then_some((f, pos, wu, wt))
                })
                .collect()
        })
        .collect();
    let mut out = Examples::default();
    for (f, y, wu, wt) in rows.into_iter().flatten() {
        out.x.push(f);
        out.y.push(y);
        out.uniform.push(wu);
        out.top.push(wt);
    }
    out
}

/// HR@20 + MRR@20 of a ranker on validation sessions (the blend's pools).
fn select_score(
    model: &Model,
    log: &[Vec<(u32, f64)>],
    r: &Ranker,
    blend: Blend,
    cfg: &RankerConfig,
) -> (f64, f64) {
    let opts = pool_opts(blend, cfg.session.pool);
    let pts = points(log);
    let (h, rr) = pts
        .par_iter()
        .map(|&(s, p)| {
            let prefix = &log[s][..p];
            let prof = profile(model, prefix, cfg.session.half_life);
            let top = session::ranked_by(r, model, &prof, prefix, &opts);
            match top.iter().position(|&i| i == log[s][p].0) {
                Some(k) => (1.0, 1.0 / (k + 1) as f64),
                None => (0.0, 0.0),
            }
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let n = pts.len().max(1) as f64;
    (h / n, rr / n)
}

/// CO_PURCHASE and TRENDING from training sessions, as a store's order
/// log would give them: each session is one basket (its distinct items),
/// dated by its last event (timestamps are in ms; TRENDING counts days back
/// from the newest training event). Sessions with more than
/// `BuildOptions::max_basket_pairs` distinct items add no pairs, as at export.
pub fn placement_parts(
    train: &[Vec<(u32, f64)>],
    n_items: usize,
    half_life_days: f32,
) -> PlacementParts {
    const DAY_MS: f64 = 86_400_000.0;
    let baskets: Vec<Basket> = train
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(s, v)| Basket {
            user: s as u32,
            time: v.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max) / DAY_MS,
            items: v.iter().map(|x| x.0).collect(),
        })
        .collect();
    let o = BuildOptions {
        trending_half_life: half_life_days,
        unit: TimeUnit::Days,
        ..Default::default()
    };
    PlacementParts {
        co_purchase: Some(pbuild::co_purchase(n_items, &baskets, &o)),
        cadence: None,
        trending: Some(pbuild::trending(
            n_items,
            &baskets,
            half_life_days,
            TimeUnit::Days,
        )),
    }
}

/// Trains the ranker (fit on even-numbered validation sessions, L2 chosen
/// on the odd-numbered ones, after the blend was tuned on all of them), then
/// scores everything once on test. Returns the report and the ranker.
/// The placement sections added (if `cfg.placements`) come back with the
/// rest, so the bundle written for the device has them too.
pub fn run(
    cfg: &RankerConfig,
    progress: &dyn Fn(&str),
) -> Result<(serde_json::Value, Ranker, Prepared, Blend, PlacementParts), EvalError> {
    let t0 = std::time::Instant::now();
    let a = &cfg.session;
    let mut prep = session::prepare(a, progress)?;
    let mut placements = PlacementParts::default();
    if cfg.placements {
        if !(cfg.trending_half_life.is_finite() && cfg.trending_half_life > 0.0) {
            return Err(EvalError::Invalid(
                "the trending half-life must be a positive number of days".into(),
            ));
        }
        placements = placement_parts(&prep.train.sessions, prep.n_items, cfg.trending_half_life);
        let bytes = crate::format::write_bundle(&prep.parts, crate::format::Dtype::F32)?;
        let with = crate::format::placements::add_sections(&bytes, &placements)?;
        prep.model = Model::from_bytes(&with)?;
        progress(&format!(
            "  added CO_PURCHASE ({} pairs) and TRENDING (half-life {} days) from the training sessions ({:.1}s)",
            placements.co_purchase.as_ref().map_or(0, |c| c.partners.len()),
            cfg.trending_half_life,
            t0.elapsed().as_secs_f64()
        ));
    }
    let vlog = session::tuning_sessions(&prep.valid, a.tune_sessions);
    let (blend, tuning) = session::tune(
        &prep.model,
        &vlog,
        a.half_life,
        a.tune_rounds,
        a.pool,
        progress,
    );
    progress(&format!(
        "  tuned blend {blend:?} ({:.1}s)",
        t0.elapsed().as_secs_f64()
    ));
    let fit_log: Vec<_> = vlog.iter().step_by(2).cloned().collect();
    let sel_log: Vec<_> = vlog.iter().skip(1).step_by(2).cloned().collect();
    let ex = examples(&prep.model, &fit_log, blend, cfg);
    progress(&format!(
        "  ranker examples: {} rows, {} positives",
        ex.x.len(),
        ex.y.iter().filter(|&&v| v).count()
    ));
    let mut best: Option<(f64, f32, usize, Ranker)> = None;
    let mut grid = Vec::new();
    let samples = if cfg.hard > 0 { 2 } else { 1 };
    let mut rows = [0usize; 2];
    for (which, row_count) in rows.iter_mut().enumerate().take(samples) {
        let (x, y, rw) = ex.sample(which);
        *row_count = x.len();
        for &l2 in &cfg.l2_grid {
            let r = ranker::fit_weighted(
                &x,
                &y,
                &rw,
                &FitOptions {
                    l2,
                    steps: cfg.steps,
                    ..Default::default()
                },
            )?;
            let (h, m) = select_score(&prep.model, &sel_log, &r, blend, cfg);
            let name = SAMPLES[which];
            progress(&format!(
                "  {name} negatives, l2 {l2:e}: valid HR@20 {h:.4} MRR@20 {m:.4}"
            ));
            grid.push(serde_json::json!({"negatives": name, "l2": l2, "valid_hr@20": h, "valid_mrr@20": m}));
            if best.as_ref().is_none_or(|b| h + m > b.0) {
                best = Some((h + m, l2, which, r));
            }
        }
    }
    let (_, l2, which, r) = best.ok_or_else(|| EvalError::Invalid("empty --l2 grid".into()))?;
    let (blend_h, blend_m) = {
        // The tuned blend on the same selection half, for the record.
        let opts = pool_opts(blend, a.pool);
        let pts = points(&sel_log);
        let (h, m) = pts
            .par_iter()
            .map(|&(s, p)| {
                let prof = profile(&prep.model, &sel_log[s][..p], a.half_life);
                let recs: Vec<u32> = rerank::recommend(&prep.model, &prof, &opts)
                    .map_or(Vec::new(), |v| v.into_iter().map(|x| x.index).collect());
                match recs.iter().position(|&i| i == sel_log[s][p].0) {
                    Some(k) => (1.0, 1.0 / (k + 1) as f64),
                    None => (0.0, 0.0),
                }
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        let n = pts.len().max(1) as f64;
        (h / n, m / n)
    };
    let (names, total) = session::score_test(
        a,
        &prep.model,
        &prep.items_f,
        &prep.pop,
        &prep.train,
        &prep.test,
        prep.n_items,
        blend,
        Some(&r),
    );
    let mut results = serde_json::Map::new();
    for (n, acc) in names.iter().zip(&total) {
        results.insert(n.to_string(), acc.json());
        let k = acc.n.max(1) as f64;
        progress(&format!(
            "  {n:<20} HR@20 {:.4}  MRR@20 {:.4}",
            acc.hits / k,
            acc.rr / k
        ));
    }
    let (rk, bl) = (&total[5], &total[4]);
    let weights: serde_json::Map<String, serde_json::Value> = r
        .names
        .iter()
        .zip(&r.weights)
        .map(|(n, w)| (n.clone(), serde_json::json!(w)))
        .collect();
    let out = serde_json::json!({
        "dataset": a.dataset(),
        "task": "next-item prediction from each session prefix; the ranker reorders the tuned blend's candidate pool",
        "protocol": "ALS + neighbours trained on train; blend grid-tuned on valid; ranker fitted on even-numbered valid sessions, L2 and the negative sample chosen on odd-numbered ones; test scored once",
        "tuning_sessions": vlog.len(),
        "test_sessions": prep.test.sessions.len(),
        "lines": {"train": prep.train.lines, "valid": prep.valid.lines, "test": prep.test.lines},
        "skipped_unparseable_lines": {"train": prep.train.skipped, "valid": prep.valid.skipped, "test": prep.test.skipped},
        "placements_from_train": if cfg.placements {
            serde_json::json!({"co_purchase_pairs": placements.co_purchase.as_ref().map_or(0, |c| c.partners.len()),
                               "trending_half_life_days": cfg.trending_half_life,
                               "baskets": "one per training session"})
        } else { serde_json::Value::Null },
        "features": ranker::FEATURES,
        "blend": {"long": blend.long, "session": blend.session, "popularity": blend.popularity, "neighbours": blend.neighbours},
        "blend_tuning_on_valid": tuning,
        "ranker": {"l2": l2, "negatives": SAMPLES[which], "l2_grid": grid, "training_rows": rows[which],
                   "training_rows_per_sample": {"uniform": rows[0], "top_weighted": rows[1]},
                   "negatives_per_prefix": cfg.negatives, "top_kept_per_prefix": cfg.hard,
                   "bias": r.bias, "weights_standardised": weights,
                   "selection_half": {"ranker_hr@20": grid.iter().find(|g| g["l2"] == serde_json::json!(l2) && g["negatives"] == SAMPLES[which]).map(|g| g["valid_hr@20"].clone()),
                                      "ranker_mrr@20": grid.iter().find(|g| g["l2"] == serde_json::json!(l2) && g["negatives"] == SAMPLES[which]).map(|g| g["valid_mrr@20"].clone()),
                                      "blend_hr@20": blend_h, "blend_mrr@20": blend_m}},
        "results": results,
        "ranker_beats_tuned_blend": {"hr@20": rk.hits > bl.hits, "mrr@20": rk.rr > bl.rr},
        "seconds": t0.elapsed().as_secs_f64(),
    });
    Ok((out, r, prep, blend, placements))
}
