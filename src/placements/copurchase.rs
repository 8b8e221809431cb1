//! The Bayes co-purchase model behind "frequently bought together".
//!
//! The founding example: 80% of the buyers of X also bought Y, 40% of all
//! buyers bought Y, 50% bought X. Bayes' rule gives the share of Y's buyers
//! who bought X: P(X|Y) = P(Y|X)·P(X) / P(Y) = 0.8·0.5 / 0.4 = 1.0, so X is
//! recommended to buyers of Y. From basket counts this is c(XY) / c(Y).
//!
//! Raw, that estimate is noisy for real data: one basket with a rare Y makes
//! P(X|Y) = 1 for everything in it, and popular X dominate every Y. So:
//! - **support**: pairs seen in fewer than `min_support` baskets are ignored;
//! - **shrinkage toward popularity**: P(X|Y) is the posterior mean under a
//!   Beta prior centred on P(X) with the weight of `shrinkage` baskets,
//!   (c(XY) + β·P(X)) / (c(Y) + β): a Y seen in few baskets says little;
//! - **lift**: the estimate is divided by P(X)^`lift`; 0 keeps P(X|Y), 1 is the
//!   lift P(X|Y)/P(X), between them popular X are damped.
//!
//! A cart sums its items' scores; `because` names the cart item that
//! contributed most. Parameters are chosen on a validation split of Ta-Feng
//! (docs/placements.md).

use super::{Placed, ReasonCode, Stage};
use crate::format::placements::CoPurchaseView;

/// P(X|Y) from P(Y|X), P(X) and P(Y) (Bayes' rule). `None` when P(Y) = 0.
pub fn bayes(p_y_given_x: f64, p_x: f64, p_y: f64) -> Option<f64> {
    (p_y > 0.0).then(|| p_y_given_x * p_x / p_y)
}

/// Robustness knobs. The defaults are the values chosen on Ta-Feng's
/// validation split (`make eval`, target/eval/placements.json).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoParams {
    pub min_support: u32,
    pub shrinkage: f32,
    pub lift: f32,
}

impl Default for CoParams {
    fn default() -> Self {
        CoParams {
            min_support: 1,
            shrinkage: 20.0,
            lift: 0.0,
        }
    }
}

/// Score of X for a shopper holding Y, from counts: baskets with both
/// (`c_xy`), with X (`c_x`), with Y (`c_y`), and all baskets (`n`).
pub fn score(c_xy: u32, c_x: u32, c_y: u32, n: u32, p: &CoParams) -> f32 {
    if c_xy < p.min_support.max(1) || n == 0 || c_x == 0 {
        return 0.0;
    }
    let p_x = c_x as f64 / n as f64;
    let beta = p.shrinkage.max(0.0) as f64;
    let post = (c_xy as f64 + beta * p_x) / (c_y as f64 + beta);
    super::finite_score(post / p_x.powf(p.lift as f64))
}

/// Scores every partner of the seeds (weighted), summed per item.
pub(crate) fn stage(co: &CoPurchaseView<'_>, seeds: &[(u32, f32)], p: &CoParams) -> Stage {
    let mut contrib: Vec<(u32, f32, u32)> = Vec::new();
    for &(y, w) in seeds {
        let c_y = co.basket_count.get(y as usize).copied().unwrap_or(0);
        for (x, c_xy) in co.row(y as usize) {
            if c_xy < p.min_support {
                // Rows are sorted by count: the rest are below support too.
                break;
            }
            let c_x = co.basket_count.get(x as usize).copied().unwrap_or(0);
            let s = score(c_xy, c_x, c_y, co.n_baskets, p) * w;
            if s > 0.0 {
                contrib.push((x, s, y));
            }
        }
    }
    Stage {
        items: merge(contrib, ReasonCode::BoughtTogether),
    }
}

/// Sums (item, score, because) per item; `because` = the largest contributor.
pub(crate) fn merge(mut v: Vec<(u32, f32, u32)>, reason: ReasonCode) -> Vec<Placed> {
    crate::shopper::sort_by(&mut v, |a, b| a.0 < b.0);
    let mut out: Vec<Placed> = Vec::new();
    let mut best = 0f32;
    for (x, s, y) in v {
        match out.last_mut() {
            Some(p) if p.index == x => {
                p.score += s;
                if s > best {
                    best = s;
                    p.because = Some(y);
                }
            }
            _ => {
                best = s;
                out.push(Placed {
                    index: x,
                    score: s,
                    reason,
                    because: Some(y),
                });
            }
        }
    }
    out
}
