//! The business stage every ranked list goes through last — placements,
//! the model's `recommend`, the shopper's `recommend` and `rerank`: price-aware
//! re-ranking, rotation (the local impression log) and promotions.
//!
//! One implementation, so that `price: 'high'` or a promotion means the same
//! thing on a "bought together" strip as on the home page's recommendations.
//! The placements' fallback chain applies [`adjust`] inside each stage and
//! reserves the promotion's slots at the end (`super::run_chain`); the ranked
//! lists here get the same adjustment over their candidate pool, then the
//! same slot reservation.
//!
//! Impressions are also a negative signal for the shopper's session
//! ([`ignore_impressions`]): an item shown again and again without a click
//! pulls the session vector away from itself, so items like it sink too, not
//! only the item.

use super::{Placed, PlacementOptions, PriceLevel, Promotion, ReasonCode, Rotation};
use crate::engine::{Model, RecommendOptions};
use crate::error::{Error, Result};
use crate::shopper::rerank::{self, Profile, Ranked, RerankOptions};
use crate::shopper::Event;

/// The business options of one call, owned (the wasm bindings parse them
/// once, for any of the ranked lists).
#[derive(Debug, Clone)]
pub struct Business {
    pub price_level: PriceLevel,
    /// With a price level: prefer higher prices (true) or lower.
    pub prefer_higher_price: bool,
    pub rotation: Option<Rotation>,
    pub promotion: Option<Promotion>,
    /// "Now" in ms since the epoch, for the rotation's fade.
    pub now_ms: f64,
}

impl Default for Business {
    fn default() -> Self {
        Business {
            price_level: PriceLevel::None,
            prefer_higher_price: true,
            rotation: None,
            promotion: None,
            now_ms: 0.0,
        }
    }
}

impl Business {
    /// Whether any option would change a ranking (else the plain path runs).
    pub fn is_active(&self) -> bool {
        self.price_level != PriceLevel::None || self.rotation.is_some() || self.promotion.is_some()
    }

    pub(crate) fn adjustment(&self) -> Adjust<'_> {
        Adjust {
            price_level: self.price_level,
            prefer_higher_price: self.prefer_higher_price,
            rotation: self.rotation.as_ref(),
            now_ms: self.now_ms,
        }
    }
}

impl PlacementOptions {
    pub(crate) fn business(&self) -> Adjust<'_> {
        Adjust {
            price_level: self.price_level,
            prefer_higher_price: self.prefer_higher_price,
            rotation: self.rotation.as_ref(),
            now_ms: self.now_ms,
        }
    }
}

/// The score-changing part of the business options (promotions move slots,
/// not scores), borrowed from whichever options struct the call has.
#[derive(Clone, Copy)]
pub(crate) struct Adjust<'a> {
    price_level: PriceLevel,
    prefer_higher_price: bool,
    rotation: Option<&'a Rotation>,
    now_ms: f64,
}

/// Multiplier in (0, 1] from the impression log: `(1 − rate)^shown`, fading
/// linearly back to 1 over `time_ms` after the last impression.
pub(crate) fn damping(rot: &Rotation, now_ms: f64, item: u32) -> f32 {
    rot.impressions
        .iter()
        .find(|(it, _, _)| *it == item)
        .map_or(1.0, |&(_, shown, last)| {
            damping_of(rot, now_ms, shown, last)
        })
}

fn damping_of(rot: &Rotation, now_ms: f64, shown: u32, last: f64) -> f32 {
    if shown == 0 {
        return 1.0;
    }
    let fade = if rot.time_ms > 0.0 {
        (1.0 - ((now_ms - last) / rot.time_ms).max(0.0)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let d = (1.0 - rot.rate.clamp(0.0, 1.0)).powi(shown.min(1000) as i32);
    1.0 - (1.0 - d) * fade as f32
}

fn price_of(prices: Option<&[f32]>, i: u32) -> Option<f32> {
    // Negative prices are as good as unknown: they cannot rank by price.
    prices
        .and_then(|p| p.get(i as usize))
        .copied()
        .filter(|p| p.is_finite() && *p >= 0.0)
}

/// Rotation and price re-ranking inside one pool (a placement stage, or the
/// candidate pool of a ranked list): scores stay comparable within a pool,
/// never across pools.
///
/// Rotation scales each item's distance above the pool's floor (the lower of
/// 0 and its lowest score) by its damping, so it pushes down whatever the
/// sign of the scores (a dot product may be negative; placement scores are
/// not, and for them this is plain multiplication). Price moves an item by up
/// to 5 / 15 / 35% of the pool's score range (at least a tenth of its best
/// score) by its price's position in the pool, so price decides among close
/// scores only.
pub(crate) fn adjust(model: &Model, pool: &mut [Placed], a: &Adjust<'_>) {
    if let Some(rot) = a.rotation {
        let floor = pool.iter().fold(0f32, |m, p| m.min(p.score));
        for p in pool.iter_mut() {
            let d = damping(rot, a.now_ms, p.index);
            if d < 1.0 {
                p.score = floor + (p.score - floor) * d;
            }
        }
    }
    let w = a.price_level.weight();
    if w > 0.0 && pool.len() > 1 {
        let prices = model.view().price;
        let (lo, hi) = pool
            .iter()
            .filter_map(|p| price_of(prices, p.index))
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), p| {
                (a.min(p), b.max(p))
            });
        let (smin, smax) = pool
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), p| {
                (a.min(p.score), b.max(p.score))
            });
        // When every score ties, price still decides: the range never drops below a tenth of the best score.
        let range = (smax - smin).max(smax.abs() * 0.1).max(f32::MIN_POSITIVE);
        if hi > lo {
            for p in pool.iter_mut() {
                // Unknown prices sit in the middle: neither preferred nor pushed down.
                let t = price_of(prices, p.index).map_or(0.5, |x| (x - lo) / (hi - lo));
                let t = if a.prefer_higher_price { t } else { 1.0 - t };
                p.score += w * range * t;
            }
        }
    }
}

/// `recommend(user, {price, preferPrice, rotation, promotion})` on the
/// model: the engine's top-k scan over a pool deeper than k (2k + 8, so that
/// rotation and price can bring items up from below the cut), adjusted and
/// cut to k; a promotion's slots go to the best-scored matching items
/// ([`promotion_pool`]), then to the most popular matching items that pass
/// the filters.
/// Items keep reason `history` (personalized) unless promoted.
pub fn recommend(
    model: &Model,
    user: &[f32],
    opts: &RecommendOptions,
    b: &Business,
) -> Result<Vec<Placed>> {
    let popts = PlacementOptions {
        k: opts.k,
        exclude: opts.exclude.clone(),
        categories: opts.categories.clone(),
        in_stock_only: opts.in_stock_only,
        price_min: opts.price_min,
        price_max: opts.price_max,
        price_level: b.price_level,
        prefer_higher_price: b.prefer_higher_price,
        rotation: b.rotation.clone(),
        promotion: b.promotion.clone(),
        fill: true,
        now_ms: b.now_ms,
    };
    if opts.k > super::MAX_K {
        // Checked before the scan: the pool is 2k + 8 deep.
        return Err(Error::InvalidArgument {
            what: "k is too many for price, rotation or promotion options (at most 1000)".into(),
        });
    }
    let pool_k = opts.k.saturating_mul(2).saturating_add(8);
    let pool = model.recommend(
        user,
        &RecommendOptions {
            k: pool_k,
            ..opts.clone()
        },
    )?;
    let mut pool = pool;
    if let Some(p) = &b.promotion {
        pool.extend(promotion_pool(model, user, opts, p)?);
    }
    let items: Vec<Placed> = pool
        .into_iter()
        .map(|s| Placed {
            index: s.index,
            score: s.score,
            reason: ReasonCode::History,
            because: None,
        })
        .collect();
    let stages: Vec<super::StageFn<'_>> = vec![Box::new(move |_f, _n| Ok(super::Stage { items }))];
    super::run_chain(model, stages, &popts)
}

/// The best-scored items matching a promotion, by the same score as the
/// list (so its slots go "by score", not by popularity): the engine's scan
/// restricted to the promotion's categories (within the call's own category
/// filter), and its listed items scored directly. They join the pool; the
/// chain's filter and the slot reservation do the rest.
fn promotion_pool(
    model: &Model,
    user: &[f32],
    opts: &RecommendOptions,
    p: &Promotion,
) -> Result<Vec<crate::engine::Scored>> {
    let want = share_of(p, opts.k)?;
    let mut out = Vec::new();
    if want == 0 {
        return Ok(out);
    }
    let cats: Vec<u32> = match &opts.categories {
        Some(c) => p
            .categories
            .iter()
            .copied()
            .filter(|x| c.contains(x))
            .collect(),
        None => p.categories.clone(),
    };
    if !cats.is_empty() {
        out = model.recommend(
            user,
            &RecommendOptions {
                k: want.saturating_mul(2).saturating_add(4),
                categories: Some(cats),
                ..opts.clone()
            },
        )?;
    }
    let bias = model.view().bias;
    out.extend(p.items.iter().filter_map(|&index| {
        let row = model_row(model, index)?;
        let dot: f32 = row.iter().zip(user).map(|(a, b)| a * b).sum();
        let b = bias.and_then(|b| b.get(index as usize)).copied();
        Some(crate::engine::Scored {
            index,
            score: dot + b.unwrap_or(0.0),
        })
    }));
    Ok(out)
}

/// Item `i`'s dequantized row. Not inlined: one copy of the dequantization.
/// (The scan's exact scorer, `score_indices`, is not otherwise in the wasm;
/// a listed item's ⟨u, y⟩ + b only orders it among the pool, where the last
/// bits of the summation order do not matter.)
#[inline(never)]
fn model_row(model: &Model, i: u32) -> Option<Vec<f32>> {
    model.item_row_f32(i as usize)
}

/// How much the business options move each candidate's score: `(item,
/// added score)` for the items they move, from the candidates' scores
/// (`pool`: the blended scores of one rerank pass). The shopper's ranking
/// adds these as boosts, so MMR, category caps, buries and pins then apply
/// to the adjusted scores as they do to any boost.
pub fn score_deltas(model: &Model, pool: &[(u32, f32)], b: &Business) -> Vec<(u32, f32)> {
    let mut placed: Vec<Placed> = pool
        .iter()
        .map(|&(index, score)| Placed {
            index,
            score,
            reason: ReasonCode::History,
            because: None,
        })
        .collect();
    adjust(model, &mut placed, &b.adjustment());
    placed
        .iter()
        .zip(pool)
        .filter_map(|(p, &(i, s))| {
            let d = p.score - s;
            (d != 0.0 && d.is_finite()).then_some((i, d))
        })
        .collect()
}

/// Most ignored impressions, together, may weigh against the session: this
/// share of the session's own (recency) weight.
pub const IGNORED_SHARE: f32 = 0.5;

/// Impressions without a click as a negative signal for the session.
///
/// The rule: an impression entry is cancelled (dropped from `rot`) when the
/// history has an event on that item at or after its last showing — the
/// shopper clicked it since. Each remaining item j counts against the
/// session with weight `g_j = 1 − damping_j` (the rotation's own damping, so
/// the same `rate` and `time`): the session vector becomes
/// `normalize(Σ wᵢ·ŷᵢ − c·Σ g_j·ŷ_j)` over unit item rows, with
/// `c = min(1, IGNORED_SHARE · Σ wᵢ / Σ g_j)` so ignored items never outweigh
/// half the session. Items in the current session are left out of the
/// negative sum (the shopper engaged with them). Without a current session
/// there is no session vector to move; the rotation's damping of the items
/// themselves still applies through [`score_deltas`].
pub fn ignore_impressions(
    model: &Model,
    profile: &mut Profile,
    events: &[Event],
    rot: &mut Rotation,
    now_ms: f64,
) {
    // A linear scan, not an index: a few hundred events against a log of at
    // most a few thousand entries, and no sort instantiated in the wasm.
    rot.impressions
        .retain(|&(item, _, last)| !events.iter().any(|e| e.item == item && e.ts >= last));
    if profile.session.is_empty() || profile.session_vec.is_empty() {
        return;
    }
    let neg: Vec<(u32, f32)> = rot
        .impressions
        .iter()
        .filter(|(i, _, _)| !profile.session.iter().any(|s| s.0 == *i))
        .map(|&(i, shown, last)| (i, 1.0 - damping_of(rot, now_ms, shown, last)))
        .filter(|&(_, g)| g > 0.0)
        .collect();
    let total_neg: f32 = neg.iter().map(|x| x.1).sum();
    if total_neg <= 0.0 {
        return;
    }
    let total_pos: f32 = profile.session.iter().map(|s| s.1).sum();
    let c = (IGNORED_SHARE * total_pos / total_neg).min(1.0);
    let weighted = profile
        .session
        .iter()
        .copied()
        .chain(neg.iter().map(|&(i, g)| (i, -c * g)));
    let mut v = vec![0f32; model.dim()];
    for (i, w) in weighted {
        if let Some(row) = unit_row(model, i) {
            for (s, x) in v.iter_mut().zip(&row) {
                *s += w * x;
            }
        }
    }
    let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 && n.is_finite() {
        v.iter_mut().for_each(|x| *x /= n);
        profile.session_vec = v;
    }
}

/// Item `i`'s row at unit length (`None` past the end or for a zero row).
/// Not inlined: one copy of the row dequantization in the wasm, not one per caller.
#[inline(never)]
fn unit_row(model: &Model, i: u32) -> Option<Vec<f32>> {
    let mut row = model_row(model, i)?;
    let n: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n.is_nan() || n <= 0.0 {
        return None;
    }
    row.iter_mut().for_each(|x| *x /= n);
    Some(row)
}

/// The shopper's ranking with the business options: `candidates` given →
/// `rerank` (promotions pick from those candidates only: a caller's list is
/// not widened), else `recommend` over the catalogue (its candidate pool,
/// plus the most popular matching items for a promotion, all scored by the
/// same blend). Returns the ranked items and, for each, whether it is
/// promoted.
///
/// Two passes of the same ranking: the first scores every candidate (no
/// diversity, caps or pins) so that [`score_deltas`] sees the pool (its
/// best 2k + 50, or 1000 when k = 0); the second ranks with those deltas
/// added as boosts. A promotion then reserves
/// ⌈share · k⌉ of the k slots: matching items already in the top k keep
/// their places; the best-ranked matching items below the cut replace the
/// lowest-ranked non-matching ones that are not pinned.
pub fn shopper_rank(
    model: &Model,
    profile: &Profile,
    candidates: Option<&[u32]>,
    ro: &RerankOptions,
    b: &Business,
) -> Result<Vec<(Ranked, bool)>> {
    let k = match candidates {
        Some(_) => ro.k,
        None if ro.k == 0 => 10,
        None => ro.k,
    };
    let cands: Vec<u32> = match candidates {
        Some(c) => c.to_vec(),
        None => {
            let mut c = rerank::candidates(model, profile, ro)?;
            if let Some(p) = &b.promotion {
                c.extend(promotion_candidates(model, p, ro, profile, k)?);
            }
            c
        }
    };
    let mut ro2 = ro.clone();
    if b.price_level != PriceLevel::None || b.rotation.is_some() {
        // One pass without diversity, caps or pins: the blended scores.
        ro2.k = 0;
        ro2.mmr_lambda = 1.0;
        ro2.reason_depth = 0;
        ro2.rules.pins.clear();
        ro2.rules.bury.clear();
        ro2.rules.category_cap = None;
        let first = rerank::rerank(model, profile, &cands, &ro2)?;
        // The head of the first pass only: price moves an item by a share of
        // this pool's range, so items far below the cut cannot enter it, and
        // every delta is a boost the second pass looks up per candidate (a
        // 10k-candidate rerank must not cost 10k × 10k).
        let head = if k == 0 {
            1000
        } else {
            k.saturating_mul(2).saturating_add(50)
        };
        let pool: Vec<(u32, f32)> = first
            .iter()
            .take(head)
            .map(|r| (r.index, r.score))
            .collect();
        ro2 = ro.clone();
        ro2.rules.boost.extend(score_deltas(model, &pool, b));
    }
    ro2.k = if b.promotion.is_some() { 0 } else { k };
    let ranked = rerank::rerank(model, profile, &cands, &ro2)?;
    let mut out: Vec<(Ranked, bool)> = ranked.into_iter().map(|r| (r, false)).collect();
    if let Some(p) = &b.promotion {
        promote_ranked(model, p, k, &mut out)?;
    }
    Ok(out)
}

/// The most popular items matching the promotion that pass the call's
/// filters and exclusions: candidates a promotion can fill its slots from.
fn promotion_candidates(
    model: &Model,
    promo: &Promotion,
    ro: &RerankOptions,
    profile: &Profile,
    k: usize,
) -> Result<Vec<u32>> {
    let mut exclude = ro.rules.exclude.clone();
    if ro.rules.exclude_purchased {
        exclude.extend_from_slice(&profile.purchased);
    }
    let popts = PlacementOptions {
        k,
        exclude,
        categories: ro.filter.categories.clone(),
        in_stock_only: ro.filter.in_stock_only,
        price_min: ro.filter.price_min,
        price_max: ro.filter.price_max,
        ..Default::default()
    };
    let filter = super::Filter::new(model, &popts)?;
    let n = share_of(promo, k)?.saturating_mul(2).saturating_add(4);
    Ok(super::popular_matching(model, promo, &filter, n)
        .into_iter()
        .map(|s| s.index)
        .collect())
}

/// ⌈share · k⌉, refusing a share outside [0, 1].
fn share_of(promo: &Promotion, k: usize) -> Result<usize> {
    if !(0.0..=1.0).contains(&promo.share) {
        return Err(Error::InvalidArgument {
            what: "promotion share must be in [0, 1]".into(),
        });
    }
    Ok(((promo.share * k as f32).ceil() as usize).min(k))
}

/// Slot reservation over a ranked list (all candidates, best first), then
/// the cut to k (k = 0: the whole list, where every candidate is already
/// placed and matching ones are only labelled).
fn promote_ranked(
    model: &Model,
    promo: &Promotion,
    k: usize,
    out: &mut Vec<(Ranked, bool)>,
) -> Result<()> {
    let k = if k == 0 { out.len() } else { k };
    let want = share_of(promo, k)?;
    let matches = super::promotion_matches(model, promo);
    let cut = k.min(out.len());
    let mut rest = out.split_off(cut);
    let have = out.iter().filter(|(r, _)| matches(r.index)).count();
    if have < want {
        let mut extra: Vec<(Ranked, bool)> = Vec::new();
        let mut j = 0;
        while extra.len() < want - have && j < rest.len() {
            if matches(rest[j].0.index) {
                extra.push(rest.remove(j));
            } else {
                j += 1;
            }
        }
        // Room: drop the lowest-ranked non-matching, non-pinned items.
        let room = (out.len() + extra.len()).saturating_sub(k);
        let mut dropped = 0;
        let mut j = out.len();
        while dropped < room && j > 0 {
            j -= 1;
            let (r, _) = &out[j];
            if !matches(r.index) && r.reason != rerank::Reason::Pinned {
                out.remove(j);
                dropped += 1;
            }
        }
        out.extend(extra);
        out.truncate(k);
    }
    for (r, promoted) in out.iter_mut() {
        if matches(r.index) && r.reason != rerank::Reason::Pinned {
            *promoted = true;
        }
    }
    Ok(())
}
