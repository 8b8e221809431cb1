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
/// [`Ranker::aligned`] maps a section trained on a subset of these (an older
/// spec, e.g. the 15 features before `co_purchase` and `trend`) onto this
/// order with weight 0 for the features it lacks; a section naming a feature
/// this build does not compute is refused (see [`Ranker::check`]).
pub const FEATURES: [&str; 17] = [
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
    "als_rank",
    "session_rank",
    "neighbour_rank",
    "neighbour_log",
    "co_purchase",
    "trend",
];

/// The 15 features of the first RANKER sections (before `co_purchase` and
/// `trend`, which were appended): bundles written with them still load, see
/// [`Ranker::aligned`]. A prefix, so the two lists cannot disagree.
pub const FEATURES_V1: &[&str] = FEATURES.split_at(15).0;

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

fn spec_mismatch(names: &[String]) -> Error {
    Error::invalid(format!(
        "ranker feature spec mismatch: bundle has [{}], this build computes [{}]",
        names.join(", "),
        FEATURES.join(", ")
    ))
}

impl Ranker {
    /// Refuses a ranker this build cannot use as it stands: features other
    /// than [`FEATURES`] in its order (use [`Ranker::aligned`] first for a
    /// section from another version) or non-finite numbers. Callers fall back
    /// to the blend on error.
    pub fn check(&self) -> Result<()> {
        if self.names.len() != F || self.names.iter().zip(FEATURES).any(|(a, b)| a != b) {
            return Err(spec_mismatch(&self.names));
        }
        self.check_numbers()
    }

    fn check_numbers(&self) -> Result<()> {
        let n = self.names.len();
        for (what, v) in [
            ("mean", &self.mean),
            ("scale", &self.scale),
            ("weights", &self.weights),
        ] {
            if v.len() != n {
                return Err(Error::invalid(format!(
                    "ranker {what} has {} values, expected {n}",
                    v.len()
                )));
            }
            if let Some(k) = v.iter().position(|x| !x.is_finite()) {
                return Err(Error::invalid(format!(
                    "ranker {what}[{k}] ({}) is not finite",
                    self.names.get(k).map_or("?", |s| s.as_str())
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

    /// This ranker in [`FEATURES`] order, matched by name: a section trained
    /// on a subset of the features (an older spec such as [`FEATURES_V1`])
    /// gets weight 0, mean 0 and scale 1 for the ones it lacks, so it scores
    /// exactly as it did when written. A name this build does not compute,
    /// a repeated name or non-finite numbers are refused (the caller falls
    /// back to the blend). Also reports which features were missing.
    pub fn aligned(&self) -> Result<(Ranker, Vec<&'static str>)> {
        self.check_numbers()?;
        let mut slot: [Option<usize>; F] = [None; F];
        for (k, name) in self.names.iter().enumerate() {
            let j = FEATURES
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| spec_mismatch(&self.names))?;
            if slot[j].replace(k).is_some() {
                return Err(Error::invalid(format!(
                    "ranker feature {name} appears twice"
                )));
            }
        }
        let pick = |v: &[f32], absent: f32| -> Vec<f32> {
            slot.iter()
                .map(|s| s.and_then(|k| v.get(k).copied()).unwrap_or(absent))
                .collect()
        };
        let missing = (0..F)
            .filter(|&j| slot[j].is_none())
            .map(|j| FEATURES[j])
            .collect();
        let r = Ranker {
            names: FEATURES.iter().map(|s| s.to_string()).collect(),
            mean: pick(&self.mean, 0.0),
            scale: pick(&self.scale, 1.0),
            weights: pick(&self.weights, 0.0),
            bias: self.bias,
        };
        r.check()?;
        Ok((r, missing))
    }

    /// Per-feature contributions wⱼ·(xⱼ − μⱼ)/sⱼ.
    pub fn contributions(&self, x: &[f32; F]) -> [f32; F] {
        std::array::from_fn(|j| self.weights[j] * (x[j] - self.mean[j]) / self.scale[j])
    }

    /// The logit z (monotone in the probability, all ranking needs).
    ///
    /// Summed in f64 and kept inside ±[`MAX_SCORE_TERM`]: `check` accepts
    /// any finite numbers, and a RANKER section holding extreme ones (a
    /// weight of 3e38, a scale of 1e-38) made the f32 sum ±∞ (found by the
    /// `placements` fuzz target). With finite inputs every f64 term is below
    /// 1e123, so the sum is finite and only the clamp applies; a NaN from a
    /// non-finite feature ranks last.
    ///
    /// [`MAX_SCORE_TERM`]: crate::format::limits::MAX_SCORE_TERM
    pub fn score(&self, x: &[f32; F]) -> f32 {
        let z = (0..F).fold(f64::from(self.bias), |z, j| {
            z + f64::from(self.weights[j]) * (f64::from(x[j]) - f64::from(self.mean[j]))
                / f64::from(self.scale[j])
        });
        let bound = f64::from(crate::format::limits::MAX_SCORE_TERM);
        if z.is_nan() {
            -crate::format::limits::MAX_SCORE_TERM
        } else {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "clamped into f32's finite range first"
            )]
            let z = z.clamp(-bound, bound) as f32;
            z
        }
    }

    /// [`Ranker::score`] and [`Ranker::top_feature`] (the serving path needs
    /// both).
    pub fn score_and_top(&self, x: &[f32; F]) -> (f32, usize) {
        (self.score(x), self.top_feature(x))
    }

    /// Index of the feature that lifts this candidate most (the reason).
    pub fn top_feature(&self, x: &[f32; F]) -> usize {
        let c = self.contributions(x);
        (0..F).fold(0, |b, j| if c[j] > c[b] { j } else { b })
    }
}

/// Which evidence a feature stands for: the kind of reason shown to the
/// shopper when that feature contributes most to an item's score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Long-term taste (the ALS fold-in).
    Long,
    /// Similar to the current session.
    Session,
    Popularity,
    /// Co-occurrence links from the session's items.
    Neighbours,
    /// A co-occurrence link from the last item viewed.
    LastItem,
    /// The item itself was seen in this session.
    Seen,
    /// Its category was browsed in this session.
    Category,
    /// Fits the shopper's price level (no item to name).
    Taste,
    Segment,
}

/// The evidence behind feature `k` of [`FEATURES`].
pub fn source(k: usize) -> Source {
    match FEATURES.get(k).copied().unwrap_or("") {
        "als_long" | "als_rank" => Source::Long,
        "session_cosine" | "session_rank" => Source::Session,
        // Co-purchase evidence comes from the session's items like the
        // neighbour links; the reason names the strongest linked one.
        "neighbour_session" | "neighbour_rank" | "neighbour_log" | "co_purchase" => {
            Source::Neighbours
        }
        "neighbour_last" => Source::LastItem,
        "in_session" | "session_recency" | "last_position" => Source::Seen,
        "category_in_session" => Source::Category,
        "price_vs_session" => Source::Taste,
        "segment_match" => Source::Segment,
        _ => Source::Popularity,
    }
}

/// Features of each candidate (`ranked` as `rerank::rerank` scores them,
/// whose `parts` are the blend's unweighted components). The one function
/// both training (`eval::ranker`) and serving (`rerank::rerank`) call, so the
/// features a bundle's weights were fitted on are the ones it is served with.
pub fn features(model: &Model, profile: &Profile, ranked: &[Ranked]) -> Vec<[f32; F]> {
    features_with_rows(model, profile, ranked, None)
}

/// Sorted (key, value) pairs, looked up by binary search: per-candidate
/// lookups cost log(session) instead of a scan of the session, and no
/// hasher is linked into the wasm.
struct Sorted<T>(Vec<(u32, T)>);

impl<T: Copy> Sorted<T> {
    /// From pairs; of repeated keys, the first in `v`'s order wins.
    fn new(v: Vec<(u32, T)>) -> Self {
        let mut k: Vec<(usize, (u32, T))> = v.into_iter().enumerate().collect();
        crate::shopper::sort_unique_by(&mut k, |a, b| (a.1 .0, a.0) < (b.1 .0, b.0));
        let mut out: Vec<(u32, T)> = Vec::with_capacity(k.len());
        for (_, p) in k {
            if out.last().is_none_or(|l| l.0 != p.0) {
                out.push(p);
            }
        }
        Sorted(out)
    }

    fn get(&self, key: u32) -> Option<T> {
        self.0
            .binary_search_by_key(&key, |p| p.0)
            .ok()
            .and_then(|k| self.0.get(k))
            .map(|p| p.1)
    }
}

/// Co-purchase evidence for every partner of the session's items, from the
/// bundle's CO_PURCHASE section: the recency-weighted mean over session
/// items s of P(c | s) = baskets(s, c) / baskets(s), the share of the
/// baskets holding s that also held c. Empty without the section (the
/// feature is then 0 for every candidate).
fn co_purchase_evidence(model: &Model, profile: &Profile) -> Sorted<f32> {
    let view = model.view();
    let Some(co) = view.placements.co_purchase else {
        return Sorted(Vec::new());
    };
    let total: f32 = profile.session.iter().map(|s| s.1).sum();
    if total <= 0.0 {
        return Sorted(Vec::new());
    }
    // (partner, session slot, contribution): summed per partner in slot
    // order, so the value does not depend on the sort's tie order.
    let mut raw: Vec<(u32, usize, f32)> = Vec::new();
    for (k, &(src, w)) in profile.session.iter().enumerate() {
        let baskets = co.basket_count.get(src as usize).copied().unwrap_or(0);
        if baskets == 0 {
            continue;
        }
        let scale = w / total / baskets as f32;
        raw.extend(co.row(src as usize).map(|(c, n)| (c, k, n as f32 * scale)));
    }
    crate::shopper::sort_unique_by(&mut raw, |a, b| (a.0, a.1) < (b.0, b.1));
    let mut out: Vec<(u32, f32)> = Vec::new();
    for (c, _, v) in raw {
        match out.last_mut() {
            Some(l) if l.0 == c => l.1 += v,
            _ => out.push((c, v)),
        }
    }
    Sorted(out)
}

/// The trend of item `c` from the bundle's TRENDING section:
/// `ln((recent + 1) / (total + 1))`, where `recent` is the item's
/// time-decayed purchase count at export and `total` its plain count. It is
/// 0 for an item whose purchases are all fresh and falls the longer ago they
/// were; the +1 keeps an item with one sale from looking like a trend. 0
/// without the section (the standardisation then makes it a constant that
/// fitting weights 0).
fn trend_of(view: &crate::format::read::BundleView<'_>, c: u32) -> f32 {
    let Some(t) = view.placements.trending else {
        return 0.0;
    };
    match (t.recent.get(c as usize), t.total.get(c as usize)) {
        (Some(&r), Some(&n)) if r.is_finite() && n.is_finite() && r >= 0.0 && n >= 0.0 => {
            ((r + 1.0) / (n + 1.0)).ln().clamp(-20.0, 20.0)
        }
        _ => 0.0,
    }
}

/// [`features`], with the candidates' factor rows when the caller already
/// copied them (`rows`: `ranked.len()` rows of `model.dim()` floats, in
/// `ranked` order), so the segment feature does not copy them again. The
/// rows must be `model.item_row_f32` of each candidate: the result is then
/// identical to [`features`] (a test checks it).
pub fn features_with_rows(
    model: &Model,
    profile: &Profile,
    ranked: &[Ranked],
    rows: Option<&[f32]>,
) -> Vec<[f32; F]> {
    let items = &profile.items;
    let view = model.view();
    let d = model.dim();
    let last = items.last().copied();
    let last_links: Sorted<f32> = Sorted::new(match (model.neighbours(), last) {
        (Some(nv), Some(l)) => nv.of(l as usize).collect(),
        _ => Vec::new(),
    });
    let recency: Sorted<f32> = Sorted::new(profile.session.clone());
    // Newest position of each session item (the last occurrence wins:
    // reversed, so the first pair per key is the newest).
    let last_pos: Sorted<usize> = Sorted::new(
        items
            .iter()
            .enumerate()
            .rev()
            .map(|(p, &i)| (i, p))
            .collect(),
    );
    let cats = view.category;
    let cat_of = |i: u32| cats.and_then(|c| c.get(i as usize)).copied();
    // Session items per category.
    let cat_count: Sorted<usize> = {
        let mut v: Vec<u32> = items.iter().filter_map(|&i| cat_of(i)).collect();
        crate::shopper::sort_by(&mut v, |a, b| a < b);
        let mut out: Vec<(u32, usize)> = Vec::new();
        for c in v {
            match out.last_mut() {
                Some(l) if l.0 == c => l.1 += 1,
                _ => out.push((c, 1)),
            }
        }
        Sorted(out)
    };
    let co = co_purchase_evidence(model, profile);
    let n = items.len().max(1) as f32;
    let prices = view.price;
    let price_of = |i: u32| {
        prices
            .and_then(|p| p.get(i as usize))
            .copied()
            .filter(|p| p.is_finite() && *p > 0.0)
    };
    // The session's typical price: the median of the priced items seen.
    let mut seen_prices: Vec<f32> = items.iter().filter_map(|&i| price_of(i)).collect();
    crate::shopper::sort_by(&mut seen_prices, |a, b| a < b);
    let typical = seen_prices.get(seen_prices.len() / 2).copied();
    let seg = model.segments();
    let user_seg = profile.segment.map(|s| s.0 as usize);
    // Reciprocal rank of each candidate by one blend part among the
    // candidates (0 where the part is 0): rank, unlike the raw value, is
    // comparable across sessions of any length.
    let rank_of = |part: usize| -> Vec<f32> {
        // Only candidates whose part is > 0 get a rank, and they all come
        // before the others in the full order: sorting just them gives the
        // same ranks (most candidates have no neighbour link, so this is a
        // fraction of the sort). Ties go to the earlier candidate: a total
        // order, no ties left.
        let mut order: Vec<usize> = (0..ranked.len())
            .filter(|&i| ranked[i].parts[part] > 0.0)
            .collect();
        crate::shopper::sort_unique_by(&mut order, |&x, &y| {
            let (a, b) = (ranked[x].parts[part], ranked[y].parts[part]);
            a > b || (a == b && x < y)
        });
        let mut rr = vec![0f32; ranked.len()];
        for (k, &i) in order.iter().enumerate() {
            rr[i] = 1.0 / (k + 1) as f32;
        }
        rr
    };
    let (long_rank, sess_rank, nb_rank) = (rank_of(0), rank_of(1), rank_of(3));
    ranked
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let c = r.index;
            let link_last = last_links.get(c).unwrap_or(0.0);
            let rec = recency.get(c).unwrap_or(0.0);
            let last_p = last_pos.get(c);
            let in_session = if last_p.is_some() { 1.0 } else { 0.0 };
            let pos = last_p.map_or(0.0, |p| 1.0 / (items.len() - p) as f32);
            let cat_share = match cat_of(c) {
                Some(cc) => cat_count.get(cc).unwrap_or(0) as f32 / n,
                None => 0.0,
            };
            let price = match (price_of(c), typical) {
                (Some(p), Some(t)) => (p / t).ln().clamp(-3.0, 3.0),
                _ => 0.0,
            };
            // The item's row is read only when there is a segment to match.
            let seg_match = match (&seg, user_seg) {
                (Some(sv), Some(u)) => {
                    let given =
                        rows.and_then(|rs| rs.get(k.checked_mul(d)?..(k + 1).checked_mul(d)?));
                    let near = match given {
                        Some(row) => segments::assign(sv, row),
                        None => model
                            .item_row_f32(c as usize)
                            .and_then(|row| segments::assign(sv, &row)),
                    }
                    .map(|x| x.0);
                    if near == Some(u) {
                        1.0
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            };
            // log of the link share: links are heavy-tailed, and a linear
            // weight on the raw share lets one strong link drown the rest.
            let nb_log = (r.parts[3] + 1e-3).ln() - 1e-3f32.ln();
            [
                r.parts[0],
                r.parts[1],
                r.parts[2],
                r.parts[3],
                link_last,
                in_session,
                rec,
                pos,
                cat_share,
                price,
                seg_match,
                long_rank[k],
                sess_rank[k],
                nb_rank[k],
                nb_log,
                co.get(c).unwrap_or(0.0),
                trend_of(&view, c),
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
    loss_weighted(r, x, y, &vec![1.0; y.len()], l2)
}

/// [`loss`] with a weight per row (see [`fit_weighted`]).
pub fn loss_weighted(r: &Ranker, x: &[[f32; F]], y: &[bool], rw: &[f32], l2: f32) -> f64 {
    let (cp, cn) = class_weights(y, rw);
    let mut s = 0.0f64;
    for ((xi, &yi), &wi) in x.iter().zip(y).zip(rw) {
        let z = r.score(xi) as f64;
        // log(1 + e^(−z)) and log(1 + e^z), stable for large |z|.
        let l = if yi {
            softplus(-z) * cp
        } else {
            softplus(z) * cn
        };
        s += l * wi as f64;
    }
    let total: f64 = rw.iter().map(|&v| v as f64).sum();
    let reg: f64 = r.weights.iter().map(|&w| (w as f64).powi(2)).sum::<f64>() * l2 as f64 / 2.0;
    s / total.max(f64::MIN_POSITIVE) + reg
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

/// Weights making both classes count half of the loss: W/(2·W₊), W/(2·W₋)
/// over the row weights (row counts when every weight is 1).
fn class_weights(y: &[bool], rw: &[f32]) -> (f64, f64) {
    let n: f64 = rw.iter().map(|&v| v as f64).sum();
    let np: f64 = y.iter().zip(rw).filter(|x| *x.0).map(|x| *x.1 as f64).sum();
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
    fit_weighted(x, y, &vec![1.0; y.len()], opts)
}

/// [`fit`] with a weight per row: a negative kept with probability q
/// stands for 1/q of them, so the loss (and the standardisation) is that of
/// the whole candidate pool although only a sample of it was stored; the
/// sampling may then depend on the features (keep every top candidate of
/// the blend) without biasing the weights.
pub fn fit_weighted(x: &[[f32; F]], y: &[bool], rw: &[f32], opts: &FitOptions) -> Result<Ranker> {
    if x.len() != y.len() || x.len() != rw.len() || x.is_empty() {
        return Err(Error::invalid(
            "ranker training needs as many labels and row weights as rows, at least one",
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
    if let Some(k) = rw.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(Error::invalid(format!(
            "ranker training row {k} has a weight that is not a positive number"
        )));
    }
    let n: f64 = rw.iter().map(|&v| v as f64).sum();
    let mut mean = [0f64; F];
    for (r, &wi) in x.iter().zip(rw) {
        for j in 0..F {
            mean[j] += wi as f64 * r[j] as f64 / n;
        }
    }
    let mut var = [0f64; F];
    for (r, &wi) in x.iter().zip(rw) {
        for j in 0..F {
            var[j] += wi as f64 * (r[j] as f64 - mean[j]).powi(2) / n;
        }
    }
    let scale: [f64; F] = std::array::from_fn(|j| if var[j] > 1e-12 { var[j].sqrt() } else { 1.0 });
    let z: Vec<[f64; F]> = x
        .iter()
        .map(|r| std::array::from_fn(|j| (r[j] as f64 - mean[j]) / scale[j]))
        .collect();
    let (cp, cn) = class_weights(y, rw);
    // Parameters: F weights then the bias.
    let mut w = [0f64; F + 1];
    let (mut m1, mut m2) = ([0f64; F + 1], [0f64; F + 1]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let lr = opts.learning_rate as f64;
    let l2 = opts.l2 as f64;
    for t in 1..=opts.steps {
        let mut g = [0f64; F + 1];
        for ((zi, &yi), &wi) in z.iter().zip(y).zip(rw) {
            let s = w[F] + (0..F).map(|j| w[j] * zi[j]).sum::<f64>();
            let p = sigmoid(s);
            // d/ds of the weighted log loss.
            let d = wi as f64 * if yi { (p - 1.0) * cp } else { p * cn };
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
/// numbers (callers then fall back to the blend, see [`status`]).
pub fn from_model(model: &Model) -> Option<Result<Ranker>> {
    from_model_detail(model).map(|r| r.map(|x| x.0))
}

/// [`from_model`] with the features the section lacks (weighted 0: a
/// section written for an older spec, see [`Ranker::aligned`]).
pub fn from_model_detail(model: &Model) -> Option<Result<(Ranker, Vec<&'static str>)>> {
    let b = model.view().ranker?;
    Some(crate::format::ranker::decode(b).and_then(|r| r.aligned()))
}

/// The features this build computes that the bundle's ranker was not
/// trained on (`None` when it has them all, has no usable ranker, or none).
pub fn missing_features(model: &Model) -> Option<Vec<&'static str>> {
    match from_model_detail(model)? {
        Ok((_, missing)) if !missing.is_empty() => Some(missing),
        _ => None,
    }
}

/// Which ordering a bundle gets on the device.
#[derive(Clone, Debug, PartialEq)]
pub enum Used {
    Ranker(Ranker),
    /// No RANKER section.
    Blend,
    /// A RANKER section this build refuses (spec mismatch, NaN): the
    /// documented fallback is the blend; the string says why.
    BlendFallback(String),
}

/// What recommend / rerank use for `model`.
pub fn status(model: &Model) -> Used {
    match from_model(model) {
        None => Used::Blend,
        Some(Ok(r)) => Used::Ranker(r),
        Some(Err(e)) => Used::BlendFallback(e.to_string()),
    }
}

/// The name of feature `k` (`Ranked::feature` on the ranker path).
pub fn reason_feature(k: usize) -> Option<&'static str> {
    FEATURES.get(k).copied()
}

#[cfg(test)]
mod tests;
