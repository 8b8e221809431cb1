//! Segments: k-means centroids over user factors (trained natively, shipped in
//! the bundle) and the on-device nearest-centroid assignment.

use crate::format::index_u32;
use crate::format::read::SegmentsView;
use crate::synth::Rng;

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Nearest centroid to `user` and its Euclidean distance; `None` if the
/// bundle's segments have another dimension or there are none.
pub fn assign(view: &SegmentsView<'_>, user: &[f32]) -> Option<(usize, f32)> {
    if view.dim != user.len() || view.dim == 0 {
        return None;
    }
    nearest(view.centroids, view.dim, user)
}

fn nearest(centroids: &[f32], d: usize, x: &[f32]) -> Option<(usize, f32)> {
    centroids
        .chunks_exact(d)
        .map(|c| sq_dist(c, x))
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
        .map(|(i, v)| (i, v.sqrt()))
}

/// k-means++ seeding then Lloyd iterations over `n` rows of `d` floats.
/// Returns `k' ≤ k` centroids (fewer if there are fewer distinct rows) and
/// each row's assignment. Deterministic for a seed.
pub fn kmeans(
    data: &[f32],
    d: usize,
    k: usize,
    iterations: usize,
    seed: u64,
) -> (Vec<f32>, Vec<u32>) {
    let n = data.len().checked_div(d).unwrap_or(0);
    if n == 0 || k == 0 {
        return (Vec::new(), Vec::new());
    }
    let mut rng = Rng::new(seed);
    let row = |i: usize| &data[i * d..(i + 1) * d];
    let mut centroids: Vec<f32> = Vec::with_capacity(k * d);
    let first = usize::try_from(rng.next_u64() % n as u64).unwrap_or(0);
    centroids.extend_from_slice(row(first));
    let mut best: Vec<f32> = (0..n).map(|i| sq_dist(row(i), row(first))).collect();
    while centroids.len() / d < k {
        let total: f64 = best.iter().map(|&v| v as f64).sum();
        if total <= 0.0 {
            break; // every row coincides with a centroid
        }
        let mut target = rng.uniform() as f64 * total;
        let mut pick = n - 1;
        for (i, &v) in best.iter().enumerate() {
            target -= v as f64;
            if target <= 0.0 && v > 0.0 {
                pick = i;
                break;
            }
        }
        let c = row(pick).to_vec();
        for (i, b) in best.iter_mut().enumerate() {
            *b = b.min(sq_dist(row(i), &c));
        }
        centroids.extend_from_slice(&c);
    }
    let kk = centroids.len() / d;
    let mut assign = vec![0u32; n];
    for _ in 0..iterations.max(1) {
        let mut changed = false;
        for (i, a) in assign.iter_mut().enumerate() {
            let c = nearest(&centroids, d, row(i)).map_or(0, |(c, _)| index_u32(c));
            if c != *a {
                *a = c;
                changed = true;
            }
        }
        let mut sums = vec![0f64; kk * d];
        let mut counts = vec![0usize; kk];
        for (i, &a) in assign.iter().enumerate() {
            counts[a as usize] += 1;
            for (s, &v) in sums[a as usize * d..(a as usize + 1) * d]
                .iter_mut()
                .zip(row(i))
            {
                *s += v as f64;
            }
        }
        for c in 0..kk {
            if counts[c] > 0 {
                for j in 0..d {
                    #[allow(clippy::cast_possible_truncation, reason = "a mean of f32 values")]
                    let mean = (sums[c * d + j] / counts[c] as f64) as f32;
                    centroids[c * d + j] = mean;
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (i, a) in assign.iter_mut().enumerate() {
        *a = nearest(&centroids, d, row(i)).map_or(0, |(c, _)| index_u32(c));
    }
    (centroids, assign)
}

/// The SEGMENTS section for a bundle: k-means over the trained user factors
/// (`n × d`, row-major). `names` (e.g. from a config) are used when there is
/// one per centroid; otherwise segments are called "segment N" (1-based).
pub fn section(
    users: &[f32],
    d: usize,
    k: usize,
    names: Option<Vec<String>>,
    seed: u64,
) -> crate::format::Segments {
    let (centroids, _) = kmeans(users, d, k, 100, seed);
    let got = centroids.len().checked_div(d).unwrap_or(0);
    let names = match names {
        Some(n) if n.len() == got => n,
        _ => (1..=got).map(|i| format!("segment {i}")).collect(),
    };
    crate::format::Segments {
        dim: d,
        centroids,
        names,
    }
}

// ---- behaviour segments ---------------------------------------------------------
//
// Per-user features a device can compute from its own history, standardised,
// clustered by k-means (objective: Σ_users ‖z_u − c_{a(u)}‖², minimised by
// Lloyd iterations from k-means++ seeds; k chosen by mean silhouette or given),
// labelled in plain language from the centroids.

use super::{Event, EventKind};

/// Behaviour features, in order (the bundle stores these names).
pub const BEHAVIOUR: [&str; 7] = [
    "recency_days",
    "frequency",
    "monetary",
    "basket_size",
    "category_breadth",
    "cheaper_share",
    "repeat_rate",
];

/// An f64 narrowed to f32, saturating at ±f32::MAX instead of becoming
/// ±Infinity: event times come from the device (any finite f64), and a
/// feature must stay finite whatever they are. NaN stays NaN (a missing
/// feature, standardised to the mean).
#[allow(
    clippy::cast_possible_truncation,
    reason = "clamped into f32's finite range first"
)]
fn f32_of(x: f64) -> f32 {
    x.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
}

/// Number of behaviour features.
pub const B: usize = BEHAVIOUR.len();

/// What the device knows about the catalogue for the features: prices and
/// categories (either may be absent) and each category's typical (median)
/// price, so "cheaper than usual" needs nothing beyond the bundle.
pub struct Catalogue<'a> {
    pub prices: Option<&'a [f32]>,
    pub categories: Option<&'a [u32]>,
    typical: Vec<f32>,
}

impl<'a> Catalogue<'a> {
    pub fn new(prices: Option<&'a [f32]>, categories: Option<&'a [u32]>) -> Self {
        let mut typical = Vec::new();
        if let (Some(p), Some(c)) = (prices, categories) {
            let ncat = c
                .iter()
                .filter(|&&x| x != u32::MAX)
                .max()
                .map_or(0, |&m| m as usize + 1);
            let mut by: Vec<Vec<f32>> = vec![Vec::new(); ncat];
            for (i, &cat) in c.iter().enumerate() {
                if let (Some(v), Some(&pr)) = (by.get_mut(cat as usize), p.get(i)) {
                    if pr.is_finite() && pr > 0.0 {
                        v.push(pr);
                    }
                }
            }
            typical = by
                .into_iter()
                .map(|mut v| {
                    // The crate's small heapsort: std's sorts would add
                    // several KB to the wasm the device downloads.
                    super::sort_by(&mut v, |a, b| a < b);
                    v.get(v.len() / 2).copied().unwrap_or(f32::NAN)
                })
                .collect();
        }
        Catalogue {
            prices,
            categories,
            typical,
        }
    }

    fn price(&self, i: u32) -> Option<f32> {
        self.prices
            .and_then(|p| p.get(i as usize))
            .copied()
            .filter(|p| p.is_finite() && *p > 0.0)
    }

    fn category(&self, i: u32) -> Option<u32> {
        self.categories
            .and_then(|c| c.get(i as usize))
            .copied()
            .filter(|&c| c != u32::MAX)
    }

    /// Whether item `i` costs less than its category's median price; `None`
    /// without a price, a category or a typical price to compare with.
    pub fn below_typical(&self, i: u32) -> Option<bool> {
        let p = self.price(i)?;
        let t = *self.typical.get(self.category(i)? as usize)?;
        t.is_finite().then_some(p < t)
    }
}

/// Why a history has no segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSegment {
    EmptyHistory,
    /// The bundle has no behaviour segments.
    NoSegments,
}

impl NoSegment {
    pub fn reason(self) -> &'static str {
        match self {
            NoSegment::EmptyHistory => "no history on this device yet",
            NoSegment::NoSegments => "the bundle has no behaviour segments",
        }
    }
}

/// Number of distinct values (sorts `v` with the crate's small heapsort:
/// std's sorts would add several KB to the wasm the device downloads).
#[inline(never)]
fn distinct(v: &mut Vec<u32>) -> usize {
    super::sort_by(v, |a, b| a < b);
    v.dedup();
    v.len()
}

/// Number of visits in a history (sorted by time): the sessions
/// `sessions()` would cut (a gap longer than `gap_ms`), counted without
/// building them (code size on the device). It is how much evidence the
/// features rest on, for the shrinkage in [`BehaviourSegments::assign_with`].
#[allow(
    clippy::cast_possible_truncation,
    reason = "a count well inside f32's exact range"
)]
pub fn visits(events: &[Event], gap_ms: f64) -> f32 {
    if events.is_empty() {
        return 0.0;
    }
    (1 + events
        .windows(2)
        .filter(|w| w[1].ts - w[0].ts > gap_ms)
        .count()) as f32
}

/// Raw behaviour features of one history (sorted by time). A feature the
/// data cannot give (no prices, no categories) is NaN: standardisation
/// maps it to the population mean (z = 0), so it never pulls a user anywhere.
/// Visits are the history's sessions (`gap_ms` apart); picks are purchases
/// when there are any, else every event.
#[allow(
    clippy::cast_possible_truncation,
    reason = "day counts computed in f64 from ms timestamps, rounded to f32 features"
)]
pub fn behaviour(
    events: &[Event],
    cat: &Catalogue<'_>,
    now_ms: f64,
    gap_ms: f64,
) -> Result<[f32; B], NoSegment> {
    let last = events.last().ok_or(NoSegment::EmptyHistory)?;
    let n_visits = visits(events, gap_ms);
    let bought = events.iter().any(|e| e.kind == EventKind::Purchase);
    let mut picks: Vec<u32> = events
        .iter()
        .filter(|e| !bought || e.kind == EventKind::Purchase)
        .map(|e| e.item)
        .collect();
    let n_picks = picks.len();
    let days = f32_of((now_ms - last.ts) / 86_400_000.0).max(0.0);
    // One pass over the picks: spend (summed in f64, so f32 prices near
    // f32::MAX cannot add up to ∞) and the below-typical-price count.
    let (mut spend, mut priced, mut cheap, mut compared) = (0f64, 0usize, 0usize, 0usize);
    for &i in &picks {
        if let Some(p) = cat.price(i) {
            spend += f64::from(p);
            priced += 1;
            if let Some(c) = cat.below_typical(i) {
                compared += 1;
                cheap += usize::from(c);
            }
        }
    }
    let monetary = if priced == 0 {
        f32::NAN
    } else {
        f32_of(spend / f64::from(n_visits)).ln_1p()
    };
    let cheaper_share = if compared == 0 {
        f32::NAN
    } else {
        cheap as f32 / compared as f32
    };
    // The categories of the distinct items are those of all picks.
    let mut cats: Vec<u32> = picks.iter().filter_map(|&i| cat.category(i)).collect();
    let n_items = distinct(&mut picks);
    let n_cats = distinct(&mut cats);
    let breadth = if cat.categories.is_none() || n_items == 0 {
        f32::NAN
    } else {
        n_cats as f32 / n_items as f32
    };
    let repeat = if n_picks == 0 {
        0.0
    } else {
        1.0 - n_items as f32 / n_picks as f32
    };
    Ok([
        days.ln_1p(),
        // Visits per 30 days since the first event (at least 30 days, so a
        // first visit is not a "daily" habit): a rate, so half a history of
        // the same habit gives about the same value.
        (n_visits / f32_of(((now_ms - events[0].ts) / 86_400_000.0).max(30.0)) * 30.0).ln_1p(),
        monetary,
        (n_picks as f32 / n_visits).ln_1p(),
        breadth,
        cheaper_share,
        repeat,
    ])
}

/// Fitted behaviour segments: standardisation, centroids (standardised
/// space), labels and each segment's mean raw features.
#[derive(Clone, Debug, PartialEq)]
pub struct BehaviourSegments {
    pub mean: [f32; B],
    pub scale: [f32; B],
    pub centroids: Vec<[f32; B]>,
    pub labels: Vec<String>,
    pub feature_means: Vec<[f32; B]>,
    pub sizes: Vec<u32>,
    /// Empirical-Bayes prior strength, in visits: a history of `n` visits
    /// is placed at `n / (n + shrink)` of its standardised features, i.e.
    /// pulled toward the average shopper the less it has shown. 0 = none
    /// (bundles written before this field: their centroids were fitted
    /// without it, so they are used without it).
    pub shrink: f32,
}

/// A user's segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Assigned {
    pub id: usize,
    pub label: String,
    pub features: [f32; B],
    pub distance: f32,
}

/// The weight of a history of `visits` under prior strength `shrink`.
fn evidence(visits: f32, shrink: f32) -> f32 {
    if shrink > 0.0 && visits.is_finite() {
        let v = visits.max(0.0);
        v / (v + shrink)
    } else {
        1.0
    }
}

fn standardise(x: &[f32; B], mean: &[f32; B], scale: &[f32; B]) -> [f32; B] {
    std::array::from_fn(|j| {
        if x[j].is_finite() {
            (x[j] - mean[j]) / scale[j]
        } else {
            0.0
        }
    })
}

/// Mean silhouette of an assignment (exact, O(n²); callers pass a sample).
#[allow(
    clippy::cast_possible_truncation,
    reason = "a mean silhouette in [-1, 1], accumulated in f64 and returned as f32"
)]
pub fn silhouette(rows: &[[f32; B]], assign: &[u32], k: usize) -> f32 {
    let n = rows.len();
    if k < 2 || n < 2 {
        return 0.0;
    }
    let d = |a: &[f32; B], b: &[f32; B]| sq_dist(a, b).sqrt();
    let mut total = 0.0f64;
    for i in 0..n {
        let mut sum = vec![0f64; k];
        let mut cnt = vec![0usize; k];
        for j in 0..n {
            if i != j {
                sum[assign[j] as usize] += d(&rows[i], &rows[j]) as f64;
                cnt[assign[j] as usize] += 1;
            }
        }
        let own = assign[i] as usize;
        if cnt[own] == 0 {
            continue; // a singleton's silhouette is 0
        }
        let a = sum[own] / cnt[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && cnt[c] > 0)
            .map(|c| sum[c] / cnt[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b).max(1e-12);
        }
    }
    f32_of(total / n as f64)
}

/// Standardises the users' features, picks k (given, or the best mean
/// silhouette over 2..=6 on up to 1,500 users) and clusters.
#[allow(
    clippy::cast_possible_truncation,
    reason = "f64 statistics rounded to the f32 the segments store; nothing is sized by them"
)]
pub fn fit_behaviour(rows: &[[f32; B]], k: Option<usize>, seed: u64) -> Option<BehaviourSegments> {
    fit_behaviour_shrunk(rows, &[], 0.0, k, seed)
}

/// [`fit_behaviour`] with shrinkage: `visits[i]` is row i's evidence (rows
/// without an entry count in full); each standardised row is scaled by
/// `n / (n + shrink)` before clustering, exactly as
/// [`BehaviourSegments::assign_with`] places a device's history.
#[allow(
    clippy::cast_possible_truncation,
    reason = "f64 statistics rounded to the f32 the segments store; nothing is sized by them"
)]
pub fn fit_behaviour_shrunk(
    rows: &[[f32; B]],
    visits: &[f32],
    shrink: f32,
    k: Option<usize>,
    seed: u64,
) -> Option<BehaviourSegments> {
    if rows.len() < 2 {
        return None;
    }
    let shrink = if shrink.is_finite() {
        shrink.max(0.0)
    } else {
        0.0
    };
    let mut mean = [0f32; B];
    let mut scale = [1f32; B];
    for j in 0..B {
        let v: Vec<f64> = rows
            .iter()
            .map(|r| r[j] as f64)
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            continue;
        }
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
        mean[j] = f32_of(m);
        scale[j] = if var > 1e-12 { f32_of(var.sqrt()) } else { 1.0 };
    }
    let z: Vec<[f32; B]> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let w = evidence(visits.get(i).copied().unwrap_or(f32::INFINITY), shrink);
            standardise(r, &mean, &scale).map(|x| x * w)
        })
        .collect();
    let flat: Vec<f32> = z.iter().flatten().copied().collect();
    let k = match k {
        Some(k) => k.max(1),
        None => {
            let step = z.len().div_ceil(1500).max(1);
            let sample: Vec<[f32; B]> = z.iter().step_by(step).copied().collect();
            let sflat: Vec<f32> = sample.iter().flatten().copied().collect();
            (2..=6)
                .map(|k| {
                    let (c, a) = kmeans(&sflat, B, k, 50, seed);
                    (silhouette(&sample, &a, c.len() / B), k)
                })
                .fold((f32::NEG_INFINITY, 2), |b, x| if x.0 > b.0 { x } else { b })
                .1
        }
    };
    let (c, assign) = kmeans(&flat, B, k, 100, seed);
    let centroids: Vec<[f32; B]> = c
        .chunks_exact(B)
        .map(|r| std::array::from_fn(|j| r[j]))
        .collect();
    let kk = centroids.len();
    let mut sums = vec![[0f64; B]; kk];
    let mut cnts = vec![[0u32; B]; kk];
    let mut sizes = vec![0u32; kk];
    for (r, &a) in rows.iter().zip(&assign) {
        sizes[a as usize] += 1;
        for j in 0..B {
            if r[j].is_finite() {
                sums[a as usize][j] += r[j] as f64;
                cnts[a as usize][j] += 1;
            }
        }
    }
    let feature_means = (0..kk)
        .map(|c| {
            std::array::from_fn(|j| {
                if cnts[c][j] > 0 {
                    (sums[c][j] / cnts[c][j] as f64) as f32
                } else {
                    f32::NAN
                }
            })
        })
        .collect();
    let labels = labels(&centroids);
    Some(BehaviourSegments {
        mean,
        scale,
        centroids,
        labels,
        feature_means,
        sizes,
        shrink,
    })
}

/// Plain-language label from a centroid (standardised features): the two
/// strongest departures from the average shopper (|z| ≥ 0.5), in words a
/// merchant can map to an offer.
pub fn label(c: &[f32; B]) -> String {
    label_with(c, 2, 0.5)
}

const WORDS: [(&str, &str); B] = [
    ("inactive for a while", "recently active"),
    ("frequent visitors", "rare visitors"),
    ("big spenders", "small spenders"),
    ("large baskets", "small baskets"),
    ("broad browsers", "focused on few categories"),
    ("discount seekers", "full-price buyers"),
    ("repeat buyers", "explorers"),
];

/// Labels for all centroids, distinct: where two centroids share the same
/// two strongest departures, a third and weaker ones (|z| ≥ 0.25) tell them
/// apart; if nothing does, a number does.
pub fn labels(centroids: &[[f32; B]]) -> Vec<String> {
    let mut out: Vec<String> = centroids.iter().map(label).collect();
    for i in 0..out.len() {
        if out.iter().filter(|l| **l == out[i]).count() > 1 {
            let twins: Vec<usize> = (0..out.len()).filter(|&j| out[j] == out[i]).collect();
            for j in twins {
                out[j] = label_with(&centroids[j], 3, 0.25);
            }
        }
    }
    for i in 0..out.len() {
        let same: Vec<usize> = (0..out.len()).filter(|&j| out[j] == out[i]).collect();
        if same.len() > 1 {
            for (n, j) in same.into_iter().enumerate() {
                out[j] = format!("{} ({})", out[j], n + 1);
            }
        }
    }
    out
}

fn label_with(c: &[f32; B], words: usize, min_z: f32) -> String {
    let mut by: Vec<usize> = (0..B).filter(|&j| c[j].abs() >= min_z).collect();
    by.sort_by(|&a, &b| c[b].abs().total_cmp(&c[a].abs()));
    let words: Vec<&str> = by
        .iter()
        .take(words)
        .map(|&j| if c[j] > 0.0 { WORDS[j].0 } else { WORDS[j].1 })
        .collect();
    if words.is_empty() {
        "typical shoppers".into()
    } else {
        words.join(", ")
    }
}

impl BehaviourSegments {
    /// The nearest segment (distance in standardised units), the features
    /// taken at full weight.
    pub fn assign(&self, features: &[f32; B]) -> Option<Assigned> {
        self.assign_with(features, f32::INFINITY)
    }

    /// The nearest segment of a history of `visits` visits: its
    /// standardised features shrunk by `visits / (visits + shrink)`.
    pub fn assign_with(&self, features: &[f32; B], visits: f32) -> Option<Assigned> {
        let w = evidence(visits, self.shrink);
        let z = standardise(features, &self.mean, &self.scale).map(|x| x * w);
        let flat: Vec<f32> = self.centroids.iter().flatten().copied().collect();
        let (id, distance) = nearest(&flat, B, &z)?;
        Some(Assigned {
            id,
            label: self.labels.get(id).cloned().unwrap_or_default(),
            features: *features,
            distance,
        })
    }
}

/// Export side of [`segment_of`]: every user's features through the same
/// [`behaviour`] the device runs (so a shopper is placed by exactly the
/// numbers the segments were fitted on), then [`fit_behaviour`]. Histories
/// must be time-sorted item indices of the bundle; `now_ms` is the log's end
/// (the device uses its clock). Empty histories are skipped. Returns the
/// segments and how many users they were fitted on.
pub fn fit_histories(
    histories: &[Vec<Event>],
    cat: &Catalogue<'_>,
    now_ms: f64,
    gap_ms: f64,
    shrink: f32,
    k: Option<usize>,
    seed: u64,
) -> Option<(BehaviourSegments, usize)> {
    let (rows, seen): (Vec<[f32; B]>, Vec<f32>) = histories
        .iter()
        .filter_map(|h| Some((behaviour(h, cat, now_ms, gap_ms).ok()?, visits(h, gap_ms))))
        .unzip();
    let n = rows.len();
    fit_behaviour_shrunk(&rows, &seen, shrink, k, seed).map(|s| (s, n))
}

/// The device's segment: behaviour features from its own history (sorted by
/// time), nearest centroid of the bundle's BEHAVIOUR section. Nothing leaves
/// the device. `Err` says why there is none (empty history, no section); a
/// malformed section never loads (the bundle is refused at load).
pub fn segment_of(
    model: &crate::engine::Model,
    events: &[Event],
    now_ms: f64,
    gap_ms: f64,
) -> Result<Assigned, NoSegment> {
    let v = model.view();
    let seg = v
        .behaviour
        .and_then(|b| crate::format::behaviour::decode(b).ok())
        .ok_or(NoSegment::NoSegments)?;
    let cat = Catalogue::new(v.price, v.category);
    let f = behaviour(events, &cat, now_ms, gap_ms)?;
    seg.assign_with(&f, visits(events, gap_ms))
        .ok_or(NoSegment::NoSegments)
}

#[cfg(test)]
mod behaviour_tests {
    use super::*;

    fn ev(item: u32, day: f64, kind: EventKind) -> Event {
        Event {
            kind,
            item,
            ts: day * 86_400_000.0,
        }
    }

    #[test]
    fn features_by_hand() {
        // Items 0..4: prices 10, 2, 10, 2; categories 0, 0, 1, 1 (typical 10 and 10 → median
        // of [10, 2] is index 1 after sort = 10).
        let prices = [10.0f32, 2.0, 10.0, 2.0];
        let cats = [0u32, 0, 1, 1];
        let cat = Catalogue::new(Some(&prices), Some(&cats));
        let h = [
            ev(1, 0.0, EventKind::Purchase),
            ev(1, 0.01, EventKind::Purchase),
            ev(0, 10.0, EventKind::View),
            ev(2, 10.01, EventKind::Purchase),
        ];
        let f = behaviour(&h, &cat, 13.01 * 86_400_000.0, 3_600_000.0).unwrap();
        assert!((f[0] - 3f32.ln_1p()).abs() < 1e-4, "recency {f:?}");
        assert!(
            (f[1] - 2f32.ln_1p()).abs() < 1e-4,
            "two visits, span under 30 days"
        );
        // Picks are the purchases: 1, 1, 2 → spend 14 over 2 visits.
        assert!((f[2] - 7f32.ln_1p()).abs() < 1e-5);
        assert!((f[3] - 1.5f32.ln_1p()).abs() < 1e-5);
        assert_eq!(f[4], 1.0, "2 categories over 2 distinct items");
        assert!(
            (f[5] - 2.0 / 3.0).abs() < 1e-6,
            "two of three picks below typical"
        );
        assert!((f[6] - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn shrinkage_pulls_short_histories_toward_the_average_shopper() {
        let seg = BehaviourSegments {
            mean: [0.0; B],
            scale: [1.0; B],
            centroids: vec![[0.0; B], [2.0; B]],
            labels: vec!["typical shoppers".into(), "far".into()],
            feature_means: vec![[0.0; B]; 2],
            sizes: vec![1, 1],
            shrink: 4.0,
        };
        let f = [1.5; B];
        // One visit: weight 1/5, z = 0.3 → the average shopper's segment.
        assert_eq!(seg.assign_with(&f, 1.0).unwrap().id, 0);
        // A hundred visits: weight 0.96, z = 1.44 → the far segment.
        assert_eq!(seg.assign_with(&f, 100.0).unwrap().id, 1);
        // Without a prior (old bundles) the features count in full.
        let old = BehaviourSegments {
            shrink: 0.0,
            ..seg.clone()
        };
        assert_eq!(old.assign_with(&f, 1.0).unwrap().id, 1);
        assert_eq!(seg.assign(&f).unwrap().id, 1, "assign() is full weight");
        assert_eq!(visits(&[], 1.0), 0.0);
    }

    #[test]
    fn empty_history_and_missing_prices() {
        let cat = Catalogue::new(None, None);
        assert_eq!(behaviour(&[], &cat, 0.0, 1.0), Err(NoSegment::EmptyHistory));
        let f = behaviour(&[ev(3, 0.0, EventKind::View)], &cat, 0.0, 1.0).unwrap();
        assert!(f[2].is_nan() && f[4].is_nan() && f[5].is_nan());
        let seg = fit_behaviour(&[f, f, [0.5; B]], Some(2), 1).unwrap();
        // A missing feature sits at the mean (z = 0), never at a guess.
        let a = seg.assign(&f).unwrap();
        assert!(a.distance.is_finite());
    }

    /// Three behaviour groups; silhouette finds k = 3 and the labels say
    /// what each group does.
    #[test]
    fn silhouette_finds_the_groups_and_labels_speak() {
        let mut rng = crate::synth::Rng::new(9);
        let mut rows = Vec::new();
        for g in 0..3 {
            for _ in 0..80 {
                let mut r = [0f32; B];
                for (j, v) in r.iter_mut().enumerate() {
                    *v = 0.1 * rng.normal() + if j == g { 3.0 } else { 0.0 };
                }
                rows.push(r);
            }
        }
        let seg = fit_behaviour(&rows, None, 3).unwrap();
        assert_eq!(seg.centroids.len(), 3, "{:?}", seg.labels);
        let mut labels = seg.labels.clone();
        labels.sort();
        assert!(
            labels.iter().any(|l| l.starts_with("inactive for a while")),
            "{labels:?}"
        );
        assert!(
            labels.iter().any(|l| l.starts_with("frequent visitors")),
            "{labels:?}"
        );
        assert!(
            labels.iter().any(|l| l.starts_with("big spenders")),
            "{labels:?}"
        );
        assert!(seg.sizes.iter().all(|&s| s == 80));
        // Each user lands in its group's segment.
        let a = seg.assign(&rows[0]).unwrap();
        let b = seg.assign(&rows[100]).unwrap();
        assert_ne!(a.id, b.id);
        assert!(silhouette(&rows, &vec![0; rows.len()], 1) == 0.0);
    }

    /// Any device history (clock skew, timestamps at the edges of f64,
    /// items past the catalogue) gives features that are finite or NaN
    /// (missing), never ±∞, and a finite distance to a fitted segment.
    #[test]
    #[allow(
        clippy::cast_possible_truncation,
        reason = "random indices reduced modulo small lengths"
    )]
    fn any_history_gives_finite_features() {
        let prices = [3.0f32, f32::NAN, f32::MAX, f32::MAX];
        let cats = [0u32, u32::MAX, 1, 1];
        let cat = Catalogue::new(Some(&prices), Some(&cats));
        let mut rng = crate::synth::Rng::new(11);
        let edges = [0.0, -1e300, 1e300, f64::MAX, f64::MIN, 1.7e12, -0.0];
        let seg = fit_behaviour(&[[0.0; B], [1.0; B], [2.0; B]], Some(2), 1).unwrap();
        for _ in 0..500 {
            let n = (rng.next_u64() % 6) as usize;
            let mut h: Vec<Event> = (0..n)
                .map(|_| Event {
                    kind: [
                        EventKind::View,
                        EventKind::Cart,
                        EventKind::Purchase,
                        EventKind::Search,
                    ][(rng.next_u64() % 4) as usize],
                    item: (rng.next_u64() % 7) as u32,
                    ts: edges[(rng.next_u64() % edges.len() as u64) as usize],
                })
                .collect();
            h.sort_by(|a, b| a.ts.total_cmp(&b.ts));
            let now = edges[(rng.next_u64() % edges.len() as u64) as usize];
            match behaviour(&h, &cat, now, 1_800_000.0) {
                Err(e) => assert!(h.is_empty() && e == NoSegment::EmptyHistory),
                Ok(f) => {
                    assert!(f.iter().all(|v| v.is_finite() || v.is_nan()), "{f:?} {h:?}");
                    let a = seg.assign(&f).expect("a segment");
                    assert!(a.distance.is_finite(), "{a:?}");
                }
            }
        }
    }

    #[test]
    fn labels_from_centroids() {
        let mut c = [0f32; B];
        assert_eq!(label(&c), "typical shoppers");
        c[5] = 1.2;
        c[1] = -0.7;
        assert_eq!(label(&c), "discount seekers, rare visitors");
        // Two centroids alike in their two strongest departures are told
        // apart by a third; identical ones by a number.
        let mut d = c;
        d[3] = 0.3;
        let mut e = c;
        e[3] = -0.3;
        assert_eq!(
            labels(&[d, e, c, c]),
            [
                "discount seekers, rare visitors, large baskets",
                "discount seekers, rare visitors, small baskets",
                "discount seekers, rare visitors (1)",
                "discount seekers, rare visitors (2)",
            ]
        );
    }

    #[test]
    fn segment_of_a_device_history_through_a_bundle() {
        let mut p = crate::synth::catalogue(40, 4, 3, 1);
        let mut rng = crate::synth::Rng::new(5);
        // Users: some visit often with small baskets, some rarely with big ones.
        let mut rows = Vec::new();
        // Behaviour features compare prices relatively: the f32 PRICE the
        // device reads is enough (the bundle's exact PRICE_F64 is for display).
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the f64 display prices rounded to the f32 the device reads"
        )]
        let prices32: Option<Vec<f32>> = p
            .prices
            .as_ref()
            .map(|v| v.iter().map(|&x| x as f32).collect());
        let cat = Catalogue::new(prices32.as_deref(), p.categories.as_deref());
        let hist = |visits: usize, size: usize, rng: &mut crate::synth::Rng| {
            let mut h = Vec::new();
            for v in 0..visits {
                for s in 0..size {
                    h.push(ev(
                        (rng.next_u64() % 40) as u32,
                        v as f64 * 2.0 + s as f64 * 0.001,
                        EventKind::Purchase,
                    ));
                }
            }
            h
        };
        for u in 0..60 {
            let h = if u % 2 == 0 {
                hist(12, 1, &mut rng)
            } else {
                hist(1, 8, &mut rng)
            };
            let now = h.last().unwrap().ts + 86_400_000.0;
            rows.push(behaviour(&h, &cat, now, 3_600_000.0).unwrap());
        }
        let seg = fit_behaviour(&rows, Some(2), 3).unwrap();
        p.behaviour = Some(seg);
        let m = crate::engine::Model::from_bytes(
            &crate::format::write_bundle(&p, crate::format::Dtype::F32).unwrap(),
        )
        .unwrap();
        let frequent = hist(12, 1, &mut rng);
        let bulk = hist(1, 8, &mut rng);
        let now = 30.0 * 86_400_000.0;
        let a = segment_of(&m, &frequent, now, 3_600_000.0).unwrap();
        let b = segment_of(&m, &bulk, now, 3_600_000.0).unwrap();
        assert_ne!(a.id, b.id);
        assert!(
            a.label.contains("frequent visitors") || a.label.contains("small baskets"),
            "{}",
            a.label
        );
        assert_eq!(segment_of(&m, &[], now, 1.0), Err(NoSegment::EmptyHistory));
        let plain = crate::engine::Model::from_bytes(
            &crate::format::write_bundle(
                &crate::synth::catalogue(5, 2, 1, 1),
                crate::format::Dtype::F32,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            segment_of(&plain, &frequent, now, 1.0),
            Err(NoSegment::NoSegments)
        );
    }
}
