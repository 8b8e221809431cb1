//! A learned ranker: logistic regression over per-candidate features that the
//! shopper's signals already produce, trained offline (no Python) and shipped
//! in the bundle's RANKER section (`crate::format::ranker`).
//!
//! For a candidate with features x (standardised with the training means and
//! scales stored beside the weights), the model is
//! `p(next | x) = σ(b + Σⱼ wⱼ·(xⱼ − μⱼ)/sⱼ)`, `σ(z) = 1 / (1 + e^(−z))`,
//! fitted by minimising the class-weighted log loss
//! `L = (1/N) Σᵢ cᵢ·[−yᵢ log σ(zᵢ) − (1 − yᵢ) log(1 − σ(zᵢ))] + (λ/2)‖w‖²`
//! where cᵢ balances the classes (one positive per prefix against hundreds of
//! candidates). Ranking only needs z; the largest term wⱼ·(xⱼ − μⱼ)/sⱼ is the
//! reason shown to the shopper.

use crate::engine::Model;
use crate::error::{Error, Result};
use crate::shopper::rerank::{Profile, Ranked};
use crate::shopper::segments;

/// The feature spec, in order. A bundle's RANKER section names its features;
/// a ranker whose names differ from these is refused (see [`Ranker::check`]).
pub const FEATURES: [&str; 11] = [
    "als_long",
    "session_cosine",
    "popularity",
    "neighbour_session",
    "neighbour_last",
    "in_session",
    "session_recency",
    "last_position",
    "category_in_session",
    "price_vs_session",
    "segment_match",
];

/// Number of features.
pub const F: usize = FEATURES.len();

/// A fitted ranker: names, standardisation and weights (all of length F).
#[derive(Clone, Debug, PartialEq)]
pub struct Ranker {
    pub names: Vec<String>,
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    pub weights: Vec<f32>,
    pub bias: f32,
}

impl Ranker {
    /// Refuses a ranker this build cannot use: other features (a bundle
    /// trained by another version) or non-finite numbers. Callers fall back
    /// to the blend on error.
    pub fn check(&self) -> Result<()> {
        if self.names.len() != F || self.names.iter().zip(FEATURES).any(|(a, b)| a != b) {
            return Err(Error::invalid(format!(
                "ranker feature spec mismatch: bundle has [{}], this build computes [{}]",
                self.names.join(", "),
                FEATURES.join(", ")
            )));
        }
        for (what, v) in [
            ("mean", &self.mean),
            ("scale", &self.scale),
            ("weights", &self.weights),
        ] {
            if v.len() != F {
                return Err(Error::invalid(format!(
                    "ranker {what} has {} values, expected {F}",
                    v.len()
                )));
            }
            if let Some(k) = v.iter().position(|x| !x.is_finite()) {
                return Err(Error::invalid(format!(
                    "ranker {what}[{k}] ({}) is not finite",
                    FEATURES[k]
                )));
            }
        }
        if let Some(k) = self.scale.iter().position(|&s| s <= 0.0) {
            return Err(Error::invalid(format!(
                "ranker scale[{k}] must be positive"
            )));
        }
        if !self.bias.is_finite() {
            return Err(Error::invalid("ranker bias is not finite"));
        }
        Ok(())
    }

    /// Per-feature contributions wⱼ·(xⱼ − μⱼ)/sⱼ.
    pub fn contributions(&self, x: &[f32; F]) -> [f32; F] {
        std::array::from_fn(|j| self.weights[j] * (x[j] - self.mean[j]) / self.scale[j])
    }

    /// The logit z (monotone in the probability, all ranking needs).
    pub fn score(&self, x: &[f32; F]) -> f32 {
        self.bias + self.contributions(x).iter().sum::<f32>()
    }

    /// Index of the feature that lifts this candidate most (the reason).
    pub fn top_feature(&self, x: &[f32; F]) -> usize {
        let c = self.contributions(x);
        (0..F).fold(0, |b, j| if c[j] > c[b] { j } else { b })
    }
}

/// Session facts reused for every candidate of one prefix.
pub struct Context {
    /// Session items oldest → newest (events, repeats kept).
    pub items: Vec<u32>,
}

/// Features of each ranked candidate (`ranked` from `rerank::rerank`, whose
/// `parts` are the blend's unweighted components).
pub fn features(
    model: &Model,
    profile: &Profile,
    ctx: &Context,
    ranked: &[Ranked],
) -> Vec<[f32; F]> {
    let view = model.view();
    let last = ctx.items.last().copied();
    let last_links: Vec<(u32, f32)> = match (model.neighbours(), last) {
        (Some(nv), Some(l)) => nv.of(l as usize).collect(),
        _ => Vec::new(),
    };
    let cats = view.category;
    let cat_of = |i: u32| cats.and_then(|c| c.get(i as usize)).copied();
    let n = ctx.items.len().max(1) as f32;
    let prices = view.price;
    let price_of = |i: u32| {
        prices
            .and_then(|p| p.get(i as usize))
            .copied()
            .filter(|p| p.is_finite() && *p > 0.0)
    };
    // The session's typical price: the median of the priced items seen.
    let mut seen_prices: Vec<f32> = ctx.items.iter().filter_map(|&i| price_of(i)).collect();
    seen_prices.sort_by(|a, b| a.total_cmp(b));
    let typical = seen_prices.get(seen_prices.len() / 2).copied();
    let seg = model.segments();
    let user_seg = profile.segment.map(|s| s.0 as usize);
    ranked
        .iter()
        .map(|r| {
            let c = r.index;
            let link_last = last_links.iter().find(|l| l.0 == c).map_or(0.0, |l| l.1);
            let rec = profile
                .session
                .iter()
                .find(|s| s.0 == c)
                .map_or(0.0, |s| s.1);
            let last_pos = ctx.items.iter().rposition(|&i| i == c);
            let in_session = if last_pos.is_some() { 1.0 } else { 0.0 };
            let pos = last_pos.map_or(0.0, |p| 1.0 / (ctx.items.len() - p) as f32);
            let cat_share = match cat_of(c) {
                Some(cc) => ctx.items.iter().filter(|&&i| cat_of(i) == Some(cc)).count() as f32 / n,
                None => 0.0,
            };
            let price = match (price_of(c), typical) {
                (Some(p), Some(t)) => (p / t).ln().clamp(-3.0, 3.0),
                _ => 0.0,
            };
            let seg_match = match (&seg, user_seg, model.item_row_f32(c as usize)) {
                (Some(sv), Some(u), Some(row)) => {
                    let near = segments::assign(sv, &row).map(|x| x.0);
                    if near == Some(u) {
                        1.0
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            };
            [
                r.parts[0], r.parts[1], r.parts[2], r.parts[3], link_last, in_session, rec, pos,
                cat_share, price, seg_match,
            ]
        })
        .collect()
}

/// Training options.
#[derive(Clone, Copy, Debug)]
pub struct FitOptions {
    /// L2 strength λ on the weights (not the bias).
    pub l2: f32,
    /// Full-batch Adam steps.
    pub steps: usize,
    pub learning_rate: f32,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l2: 1e-3,
            steps: 300,
            learning_rate: 0.05,
        }
    }
}

/// Class-weighted log loss of `r` on (x, y) plus the L2 term (the objective
/// [`fit`] minimises; exposed for tests).
pub fn loss(r: &Ranker, x: &[[f32; F]], y: &[bool], l2: f32) -> f64 {
    let (cp, cn) = class_weights(y);
    let mut s = 0.0f64;
    for (xi, &yi) in x.iter().zip(y) {
        let z = r.score(xi) as f64;
        // log(1 + e^(−z)) and log(1 + e^z), stable for large |z|.
        let l = if yi {
            softplus(-z) * cp
        } else {
            softplus(z) * cn
        };
        s += l;
    }
    let reg: f64 = r.weights.iter().map(|&w| (w as f64).powi(2)).sum::<f64>() * l2 as f64 / 2.0;
    s / x.len().max(1) as f64 + reg
}

fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Weights making both classes count half of the loss: N/(2·n₊), N/(2·n₋).
fn class_weights(y: &[bool]) -> (f64, f64) {
    let n = y.len() as f64;
    let np = y.iter().filter(|&&v| v).count() as f64;
    let nn = n - np;
    (
        if np > 0.0 { n / (2.0 * np) } else { 0.0 },
        if nn > 0.0 { n / (2.0 * nn) } else { 0.0 },
    )
}

/// Fits the logistic regression by full-batch Adam on the class-weighted
/// log loss with L2. Features are standardised first (mean 0, sd 1; a
/// constant feature keeps scale 1 and ends with weight 0 under L2).
pub fn fit(x: &[[f32; F]], y: &[bool], opts: &FitOptions) -> Result<Ranker> {
    if x.len() != y.len() || x.is_empty() {
        return Err(Error::invalid(
            "ranker training needs as many labels as rows, at least one",
        ));
    }
    if !y.iter().any(|&v| v) || y.iter().all(|&v| v) {
        return Err(Error::invalid(
            "ranker training needs positive and negative examples",
        ));
    }
    if let Some(k) = x.iter().position(|r| r.iter().any(|v| !v.is_finite())) {
        return Err(Error::invalid(format!(
            "ranker training row {k} has a non-finite feature"
        )));
    }
    let n = x.len() as f64;
    let mut mean = [0f64; F];
    for r in x {
        for j in 0..F {
            mean[j] += r[j] as f64 / n;
        }
    }
    let mut var = [0f64; F];
    for r in x {
        for j in 0..F {
            var[j] += (r[j] as f64 - mean[j]).powi(2) / n;
        }
    }
    let scale: [f64; F] = std::array::from_fn(|j| if var[j] > 1e-12 { var[j].sqrt() } else { 1.0 });
    let z: Vec<[f64; F]> = x
        .iter()
        .map(|r| std::array::from_fn(|j| (r[j] as f64 - mean[j]) / scale[j]))
        .collect();
    let (cp, cn) = class_weights(y);
    // Parameters: F weights then the bias.
    let mut w = [0f64; F + 1];
    let (mut m1, mut m2) = ([0f64; F + 1], [0f64; F + 1]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let lr = opts.learning_rate as f64;
    let l2 = opts.l2 as f64;
    for t in 1..=opts.steps {
        let mut g = [0f64; F + 1];
        for (zi, &yi) in z.iter().zip(y) {
            let s = w[F] + (0..F).map(|j| w[j] * zi[j]).sum::<f64>();
            let p = sigmoid(s);
            // d/ds of the weighted log loss.
            let d = if yi { (p - 1.0) * cp } else { p * cn };
            for j in 0..F {
                g[j] += d * zi[j];
            }
            g[F] += d;
        }
        for j in 0..=F {
            g[j] /= n;
            if j < F {
                g[j] += l2 * w[j];
            }
            m1[j] = b1 * m1[j] + (1.0 - b1) * g[j];
            m2[j] = b2 * m2[j] + (1.0 - b2) * g[j] * g[j];
            let mh = m1[j] / (1.0 - b1.powi(t as i32));
            let vh = m2[j] / (1.0 - b2.powi(t as i32));
            w[j] -= lr * mh / (vh.sqrt() + eps);
        }
    }
    let r = Ranker {
        names: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: mean.iter().map(|&v| v as f32).collect(),
        scale: scale.iter().map(|&v| v as f32).collect(),
        weights: w[..F].iter().map(|&v| v as f32).collect(),
        bias: w[F] as f32,
    };
    r.check()?;
    Ok(r)
}

/// The bundle's ranker: `None` without a RANKER section; `Some(Err)` when
/// the section is malformed, trained for other features or holds non-finite
/// numbers (callers then fall back to the blend, see [`recommend`]).
pub fn from_model(model: &Model) -> Option<Result<Ranker>> {
    let b = model.view().ranker?;
    Some(crate::format::ranker::decode(b).and_then(|r| r.check().map(|()| r)))
}

/// Which ordering produced a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Used {
    Ranker,
    /// No RANKER section.
    Blend,
    /// A RANKER section this build refuses (spec mismatch, NaN): the
    /// documented fallback is the blend.
    BlendFallback,
}

/// Recommendations with the learned ranker when the bundle has a usable
/// one, else the blend: the blend's candidate pool, reordered by the
/// logistic model; each result's `score` is the logit and `reason` the
/// feature contributing most ([`reason_feature`] names it). Merchandising
/// rules are not re-applied on the ranker path (`rerank::rerank` applies
/// them on the blend path).
pub fn recommend(
    model: &Model,
    profile: &Profile,
    ctx: &Context,
    opts: &crate::shopper::rerank::RerankOptions,
) -> Result<(Vec<(Ranked, usize)>, Used)> {
    use crate::shopper::rerank;
    let r = match from_model(model) {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(_)) => {
            let recs = rerank::recommend(model, profile, opts)?;
            return Ok((
                recs.into_iter().map(|x| (x, usize::MAX)).collect(),
                Used::BlendFallback,
            ));
        }
    };
    let Some(r) = r else {
        let recs = rerank::recommend(model, profile, opts)?;
        return Ok((
            recs.into_iter().map(|x| (x, usize::MAX)).collect(),
            Used::Blend,
        ));
    };
    let all = rerank::RerankOptions {
        k: 0,
        reason_depth: 0,
        ..opts.clone()
    };
    let cands = rerank::candidates(model, profile, opts)?;
    let ranked = rerank::rerank(model, profile, &cands, &all)?;
    let x = features(model, profile, ctx, &ranked);
    let mut out: Vec<(Ranked, usize)> = ranked
        .into_iter()
        .zip(&x)
        .map(|(mut c, f)| {
            c.score = r.score(f);
            (c, r.top_feature(f))
        })
        .collect();
    out.sort_by(|a, b| {
        b.0.score
            .total_cmp(&a.0.score)
            .then(a.0.index.cmp(&b.0.index))
    });
    out.truncate(if opts.k == 0 { 10 } else { opts.k });
    Ok((out, Used::Ranker))
}

/// The name of a reason index from [`recommend`] (`None` on the blend path).
pub fn reason_feature(k: usize) -> Option<&'static str> {
    FEATURES.get(k).copied()
}

#[cfg(test)]
mod tests;
