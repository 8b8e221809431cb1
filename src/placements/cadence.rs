//! "Buy it again": which of the shopper's own purchases are due.
//!
//! Each item's typical gap between two purchases by the same buyer (CADENCE,
//! computed at export) is compared with the time since the shopper last
//! bought it: an item bought every 7 days and last bought 7 days ago is due;
//! one bought 2 days ago is not yet. The score is
//!
//! ```text
//! freq · (r + 0.05)^ρ · (1 − w + w · due),   due = exp(−ln²(elapsed / T) / 2σ²)
//! ```
//!
//! with `freq` the shopper's purchase count of the item (each purchase
//! weighted 0.5^(age / half-life)), `r` the item's repeat rate (share of its
//! buyers who bought it again), `T` the interval (the shopper's own mean gap
//! when they bought it twice or more, blended with the item's). With w = 0,
//! ρ = 0 and no half-life this is "the shopper's most frequent items", the
//! strong grocery baseline; the parameters are chosen on a validation split.

use super::{CoParams, Placed, ReasonCode};
use crate::format::placements::CadenceView;

/// The defaults are the values chosen on Ta-Feng's validation split, whose
/// time unit is baskets (`make eval`); for a dated log the half-life is in days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CadenceParams {
    /// Older purchases count less (in the CADENCE unit); 0 = no decay.
    pub half_life: f32,
    /// Weight of "is it due" against plain frequency, in [0, 1].
    pub cadence_weight: f32,
    /// Width of the due window on a log scale.
    pub sigma: f32,
    /// Exponent on the item's repeat rate.
    pub repeat_power: f32,
    /// Purchases closer than this form one basket (bundles timed in baskets).
    pub basket_gap_ms: f64,
    /// For the co-purchase fill.
    pub co: CoParams,
}

impl Default for CadenceParams {
    fn default() -> Self {
        CadenceParams {
            half_life: 16.0,
            cadence_weight: 0.5,
            sigma: 2.0,
            repeat_power: 0.5,
            basket_gap_ms: 3_600_000.0,
            co: CoParams::default(),
        }
    }
}

/// How due an item is: 1 when `elapsed` equals its interval, falling off on a log scale.
pub fn due(elapsed: f64, interval: f64, sigma: f64) -> f64 {
    if !(elapsed > 0.0 && interval > 0.0 && sigma > 0.0) {
        return 0.0;
    }
    let l = (elapsed / interval).ln();
    (-l * l / (2.0 * sigma * sigma)).exp()
}

/// Scores each purchased item. `history`: (item, time) oldest first, in the
/// CADENCE unit; `now` in that unit. One entry per distinct (item, time).
pub fn score_history(
    cad: &CadenceView<'_>,
    history: &[(u32, f64)],
    now: f64,
    p: &CadenceParams,
) -> Vec<Placed> {
    let mut h: Vec<(u32, f64)> = history.to_vec();
    crate::shopper::sort_by(&mut h, |a, b| (a.0, a.1) < (b.0, b.1));
    let mut out = Vec::new();
    let mut i = 0;
    while i < h.len() {
        let item = h[i].0;
        let mut j = i;
        let mut times: Vec<f64> = Vec::new();
        while j < h.len() && h[j].0 == item {
            if times.last() != Some(&h[j].1) {
                times.push(h[j].1);
            }
            j += 1;
        }
        i = j;
        let freq: f64 = times
            .iter()
            .map(|&t| {
                if p.half_life > 0.0 {
                    0.5f64.powf(((now - t).max(0.0)) / p.half_life as f64)
                } else {
                    1.0
                }
            })
            .sum();
        let item_t = cad
            .interval
            .get(item as usize)
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(cad.global_interval) as f64;
        let (first, last) = (times[0], times[times.len() - 1]);
        let c = times.len() as f64;
        let interval = if c >= 2.0 {
            // The shopper's own rhythm, with the item's as one more observation.
            ((last - first) + item_t) / c
        } else {
            item_t
        };
        let d = due(now - last, interval, p.sigma as f64);
        let r = cad.repeat_rate.get(item as usize).copied().unwrap_or(0.0) as f64;
        let w = p.cadence_weight.clamp(0.0, 1.0) as f64;
        let score = freq * (r + 0.05).powf(p.repeat_power as f64) * (1.0 - w + w * d);
        out.push(Placed {
            index: item,
            score: super::finite_score(score),
            reason: ReasonCode::BuyAgain,
            because: None,
        });
    }
    out
}
