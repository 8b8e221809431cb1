//! Storefront placements computed on-device: bought together, buy it again,
//! recently viewed, trending (and trending facets), each with price-aware
//! re-ranking, rotation, promotions and a fallback chain whose every item
//! carries a reason code a page can render.
//!
//! Pure Rust over a loaded [`Model`]: the wasm bindings (`src/wasm/placements.rs`)
//! only resolve ids and convert options. The bundle sections these read are in
//! [`crate::format::placements`]; their builders are in [`build`].
//!
//! **Exactly k.** Every placement fills its k slots stage by stage (the
//! placement's own signal → co-purchase / neighbours → category trending →
//! global popular → catalogue order) until k items pass the filters, unless
//! the caller turned filling off (`fill: false`, which is what `strict` means
//! for bought together) or the filters leave fewer than k items in the catalogue.

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod build;
pub mod business;
pub mod cadence;
pub mod copurchase;
#[cfg(not(target_arch = "wasm32"))]
pub mod eval;
pub mod trending;

use crate::engine::{Model, RecommendOptions};
use crate::error::{Error, Result};
use crate::format::read::ITEM_IN_STOCK;
use crate::shopper::{Event, EventKind};

pub use business::Business;
pub use cadence::CadenceParams;
pub use copurchase::CoParams;

/// A placement score narrowed to f32 and kept inside the engine's score
/// envelope ([`MAX_SCORE_TERM`](crate::format::limits::MAX_SCORE_TERM)),
/// whatever the options: the bindings accept any finite `lift` or
/// `repeatPower`, and `p^lift` or `r^power` at such exponents leave f64's
/// range (a probability to the 300th is 0, a ratio over it is ∞), after which
/// a price level turned ∞ into NaN. Saturated scores tie, and ties rank by
/// catalogue order as everywhere else. NaN cannot come from finite inputs;
/// it maps to 0 (no evidence) rather than poison the sort.
#[allow(
    clippy::cast_possible_truncation,
    reason = "clamped into f32's finite range first"
)]
pub(crate) fn finite_score(x: f64) -> f32 {
    let bound = f64::from(crate::format::limits::MAX_SCORE_TERM);
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-bound, bound) as f32
    }
}

/// Why an item is in a placement. The names are stable (pages branch on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonCode {
    /// The shopper's own history (personalized stage).
    History,
    BoughtTogether,
    /// NEIGHBOURS: items viewed in the same sessions.
    ViewedTogether,
    /// Nearest by factor cosine (relaxed bought together).
    Similar,
    Trending,
    Popular,
    Promoted,
    BuyAgain,
    RecentlyViewed,
    Segment,
    /// Last resort when the bundle has no popularity signal at all.
    Catalogue,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 11] = [
        ReasonCode::History,
        ReasonCode::BoughtTogether,
        ReasonCode::ViewedTogether,
        ReasonCode::Similar,
        ReasonCode::Trending,
        ReasonCode::Popular,
        ReasonCode::Promoted,
        ReasonCode::BuyAgain,
        ReasonCode::RecentlyViewed,
        ReasonCode::Segment,
        ReasonCode::Catalogue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReasonCode::History => "history",
            ReasonCode::BoughtTogether => "bought_together",
            ReasonCode::ViewedTogether => "viewed_together",
            ReasonCode::Similar => "similar",
            ReasonCode::Trending => "trending",
            ReasonCode::Popular => "popular",
            ReasonCode::Promoted => "promoted",
            ReasonCode::BuyAgain => "buy_again",
            ReasonCode::RecentlyViewed => "recently_viewed",
            ReasonCode::Segment => "segment",
            ReasonCode::Catalogue => "catalogue",
        }
    }
}

/// One placed item. `because` is the history / cart item that brought it in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    pub index: u32,
    pub score: f32,
    pub reason: ReasonCode,
    pub because: Option<u32>,
}

/// How strongly price breaks near-ties: among items whose scores are within
/// this share of the stage's score range, the preferred price wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PriceLevel {
    #[default]
    None,
    Low,
    Medium,
    High,
}

impl PriceLevel {
    pub fn parse(s: &str) -> Option<PriceLevel> {
        match s {
            "none" => Some(PriceLevel::None),
            "low" => Some(PriceLevel::Low),
            "medium" => Some(PriceLevel::Medium),
            "high" => Some(PriceLevel::High),
            _ => None,
        }
    }
    /// Share of the score range a full price swing may move an item.
    fn weight(self) -> f32 {
        match self {
            PriceLevel::None => 0.0,
            PriceLevel::Low => 0.05,
            PriceLevel::Medium => 0.15,
            PriceLevel::High => 0.35,
        }
    }
}

/// The local impression log, summarized per item: shown `shown` times since
/// the last click, last at `last_ms`. Items shown often without a click are
/// damped by `(1 − rate)^shown`; the damping fades linearly over `time_ms`
/// after the last impression, so nothing is buried for ever.
#[derive(Debug, Clone, Default)]
pub struct Rotation {
    pub impressions: Vec<(u32, u32, f64)>,
    pub rate: f32,
    pub time_ms: f64,
}

/// A share of the k slots reserved for items matching a filter (ids and/or
/// categories), filled by the best-ranked matching items.
#[derive(Debug, Clone, Default)]
pub struct Promotion {
    pub items: Vec<u32>,
    pub categories: Vec<u32>,
    pub share: f32,
}

/// Options every placement takes.
#[derive(Debug, Clone)]
pub struct PlacementOptions {
    pub k: usize,
    pub exclude: Vec<u32>,
    pub categories: Option<Vec<u32>>,
    pub in_stock_only: bool,
    /// f64, compared like the engine's filter (PRICE_F64 exactly: priceMax
    /// 24.99 keeps a 24.99 item).
    pub price_min: Option<f64>,
    pub price_max: Option<f64>,
    pub price_level: PriceLevel,
    /// With a price level: prefer higher prices (true) or lower.
    pub prefer_higher_price: bool,
    pub rotation: Option<Rotation>,
    pub promotion: Option<Promotion>,
    /// Fill to k through the fallback chain (default). Off: the placement's own signal only.
    pub fill: bool,
    /// "Now" in ms since the epoch (the core has no clock).
    pub now_ms: f64,
}

impl PlacementOptions {
    /// The item filter part of these options, as the engine's `recommend`
    /// takes it (what a placement's answer must satisfy, without the
    /// business stage).
    pub fn recommend_filter(&self) -> RecommendOptions {
        RecommendOptions {
            k: self.k,
            exclude: self.exclude.clone(),
            categories: self.categories.clone(),
            price_min: self.price_min,
            price_max: self.price_max,
            in_stock_only: self.in_stock_only,
        }
    }
}

impl Default for PlacementOptions {
    fn default() -> Self {
        PlacementOptions {
            k: 10,
            exclude: Vec::new(),
            categories: None,
            price_min: None,
            price_max: None,
            in_stock_only: false,
            price_level: PriceLevel::None,
            prefer_higher_price: true,
            rotation: None,
            promotion: None,
            fill: true,
            now_ms: 0.0,
        }
    }
}

/// Most items a placement may ask for: a page shows a strip, not a catalogue.
pub const MAX_K: usize = 1000;

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

fn set_bit(bits: &mut [u64], i: usize) {
    if let Some(w) = bits.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

fn bitset(n: usize, items: impl IntoIterator<Item = u32>) -> Vec<u64> {
    let mut b = vec![0u64; n.div_ceil(64)];
    for i in items {
        set_bit(&mut b, i as usize);
    }
    b
}

/// Filters compiled once per call. `taken` grows as stages place items.
pub(crate) struct Filter<'a> {
    taken: Vec<u64>,
    categories: Option<Vec<u64>>,
    category: Option<&'a [u32]>,
    price: Option<(f64, f64)>,
    prices: Option<&'a [f32]>,
    prices_f64: Option<&'a [f64]>,
    stock: Option<&'a [u8]>,
    n: usize,
}

impl<'a> Filter<'a> {
    pub(crate) fn new(model: &'a Model, opts: &PlacementOptions) -> Result<Filter<'a>> {
        let v = model.view();
        let n = model.n_items();
        if let Some(&i) = opts.exclude.iter().find(|&&i| i as usize >= n) {
            return Err(Error::UnknownItem {
                id: format!("#{i}"),
            });
        }
        let categories = match &opts.categories {
            None => None,
            Some(c) => {
                if v.category.is_none() {
                    return Err(Error::MissingCapability {
                        section: "CATEGORY",
                        needed_for: "a category filter",
                    });
                }
                Some(bitset(v.category_names.len(), c.iter().copied()))
            }
        };
        let price = match (opts.price_min, opts.price_max) {
            (None, None) => None,
            (lo, hi) => {
                let (lo, hi) = (lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY));
                if lo.is_nan() || hi.is_nan() || lo > hi {
                    return Err(Error::InvalidArgument {
                        // No float in the message: float formatting costs ~10 KB of wasm.
                        what: "the price range is empty or not a number".into(),
                    });
                }
                if v.price.is_none() && v.price_f64.is_none() {
                    return Err(Error::MissingCapability {
                        section: "PRICE",
                        needed_for: "a price filter",
                    });
                }
                Some((lo, hi))
            }
        };
        if opts.in_stock_only && v.flags.is_none() {
            return Err(Error::MissingCapability {
                section: "FLAGS",
                needed_for: "inStockOnly",
            });
        }
        Ok(Filter {
            taken: bitset(n, opts.exclude.iter().copied()),
            categories,
            category: v.category,
            price,
            prices: v.price,
            prices_f64: v.price_f64,
            stock: if opts.in_stock_only { v.flags } else { None },
            n,
        })
    }

    #[inline]
    pub(crate) fn allows(&self, i: usize) -> bool {
        if i >= self.n || bit(&self.taken, i) {
            return false;
        }
        if let (Some(bits), Some(cats)) = (&self.categories, self.category) {
            match cats.get(i) {
                Some(&c) if c != u32::MAX && bit(bits, c as usize) => {}
                _ => return false,
            }
        }
        if let Some((lo, hi)) = self.price {
            // As the engine's scan decides it: exact prices in f64, older
            // bundles' f32 prices against the bounds rounded to f32; an
            // unknown (NaN) price fails every range.
            let ok = match (self.prices_f64, self.prices) {
                (Some(p), _) => p.get(i).is_some_and(|&p| p >= lo && p <= hi),
                (None, Some(p)) => p.get(i).is_some_and(|&p| p >= lo as f32 && p <= hi as f32),
                (None, None) => false,
            };
            if !ok {
                return false;
            }
        }
        if let Some(f) = self.stock {
            if f.get(i).is_none_or(|f| f & ITEM_IN_STOCK == 0) {
                return false;
            }
        }
        true
    }

    fn take(&mut self, i: usize) {
        set_bit(&mut self.taken, i);
    }
}

/// A candidate pool from one stage of the chain, before filtering.
pub(crate) struct Stage {
    pub items: Vec<Placed>,
}

/// Ranking order: higher score first, ties to the lower index.
fn better(a: &Placed, b: &Placed) -> bool {
    a.score > b.score || (a.score == b.score && a.index < b.index)
}

/// Takes up to `need` items from `stage` that pass `filter` (best first after
/// adjustment) and marks them taken.
fn take_from(
    model: &Model,
    stage: Stage,
    filter: &mut Filter<'_>,
    need: usize,
    opts: &PlacementOptions,
    out: &mut Vec<(usize, Placed)>,
    tier: usize,
) -> Vec<Placed> {
    if need == 0 {
        return Vec::new();
    }
    let mut pool: Vec<Placed> = Vec::with_capacity(stage.items.len());
    let mut seen = bitset(filter.n, std::iter::empty());
    for p in stage.items {
        let i = p.index as usize;
        if filter.allows(i) && !bit(&seen, i) {
            set_bit(&mut seen, i);
            pool.push(p);
        }
    }
    business::adjust(model, &mut pool, &opts.business());
    crate::shopper::sort_by(&mut pool, better);
    let rest = pool.split_off(need.min(pool.len()));
    for p in pool {
        filter.take(p.index as usize);
        out.push((tier, p));
    }
    rest
}

/// Lazily built fallback stages, so a placement that fills k from its own
/// signal never scans the catalogue.
pub(crate) type StageFn<'m> = Box<dyn FnOnce(&Filter<'_>, usize) -> Result<Stage> + 'm>;

/// Runs the chain, then reserves the promotion's slots.
pub(crate) fn run_chain<'m>(
    model: &'m Model,
    stages: Vec<StageFn<'m>>,
    opts: &PlacementOptions,
) -> Result<Vec<Placed>> {
    if opts.k > MAX_K {
        return Err(Error::InvalidArgument {
            what: format!(
                "k = {} is more than a placement shows (at most {MAX_K})",
                opts.k
            ),
        });
    }
    let mut filter = Filter::new(model, opts)?;
    let mut out: Vec<(usize, Placed)> = Vec::with_capacity(opts.k);
    // What each stage ranked but did not place, in chain order: the first
    // candidates for a promotion's slots.
    let mut rest: Vec<Placed> = Vec::new();
    let stage_count = if opts.fill { stages.len() } else { 1 };
    for (tier, make) in stages.into_iter().take(stage_count).enumerate() {
        let need = opts.k - out.len();
        if need == 0 {
            break;
        }
        let stage = make(&filter, need)?;
        rest.extend(take_from(
            model,
            stage,
            &mut filter,
            need,
            opts,
            &mut out,
            tier,
        ));
    }
    if let Some(promo) = &opts.promotion {
        promote(model, promo, opts, &mut out, &mut filter, &rest)?;
    }
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

pub(crate) fn promotion_matches<'a>(
    model: &'a Model,
    promo: &'a Promotion,
) -> impl Fn(u32) -> bool + 'a {
    let cats = model.view().category;
    let items = bitset(listed_len(promo), promo.items.iter().copied());
    let wanted = bitset(
        model.view().category_names.len(),
        promo.categories.iter().copied(),
    );
    move |i| {
        bit(&items, i as usize)
            || cats
                .and_then(|c| c.get(i as usize))
                .is_some_and(|&c| bit(&wanted, c as usize))
    }
}

/// Reserves ⌈share · k⌉ slots for matching items: those already placed keep
/// their rank; missing ones are the best-ranked matching items (first those
/// the chain's stages ranked but did not place, by stage then score; then
/// the most popular), and they replace the lowest-ranked non-matching items.
/// Every matching item is labelled `promoted`.
fn promote(
    model: &Model,
    promo: &Promotion,
    opts: &PlacementOptions,
    out: &mut Vec<(usize, Placed)>,
    filter: &mut Filter<'_>,
    ranked_rest: &[Placed],
) -> Result<()> {
    if !(0.0..=1.0).contains(&promo.share) {
        return Err(Error::InvalidArgument {
            what: "promotion share must be in [0, 1]".into(),
        });
    }
    let matches = promotion_matches(model, promo);
    let want = ((promo.share * opts.k as f32).ceil() as usize).min(opts.k);
    let have = out.iter().filter(|(_, p)| matches(p.index)).count();
    if have < want {
        // First the matching items the stages ranked below the cut (placed
        // by their score), then matching items by popularity (the one
        // ranking every matching item has), filtered like the rest; one
        // pass, bounded heap.
        let mut extra: Vec<Placed> = Vec::with_capacity(want - have);
        for p in ranked_rest {
            if extra.len() == want - have {
                break;
            }
            let i = p.index as usize;
            if matches(p.index) && filter.allows(i) {
                filter.take(i);
                extra.push(Placed {
                    reason: ReasonCode::Promoted,
                    because: None,
                    ..*p
                });
            }
        }
        if extra.len() < want - have {
            let n = want - have - extra.len();
            extra.extend(
                popular_matching(model, promo, filter, n)
                    .into_iter()
                    .map(|x| Placed {
                        index: x.index,
                        score: x.score,
                        reason: ReasonCode::Promoted,
                        because: None,
                    }),
            );
        }
        // Drop the lowest-ranked non-matching items to make room.
        let room = (out.len() + extra.len()).saturating_sub(opts.k);
        let mut dropped = 0;
        let mut j = out.len();
        while dropped < room && j > 0 {
            j -= 1;
            if !matches(out[j].1.index) {
                out.remove(j);
                dropped += 1;
            }
        }
        let tier = usize::MAX;
        for p in extra {
            filter.take(p.index as usize);
            out.push((tier, p));
        }
    }
    for (_, p) in out.iter_mut() {
        if matches(p.index) {
            p.reason = ReasonCode::Promoted;
        }
    }
    Ok(())
}

/// The `n` most popular items matching a promotion that `filter` allows,
/// best first, ties to the lower index. A promotion of listed items alone
/// ranks those items; one with categories takes the popularity column's
/// kept order ([`Model::top_of_column`]), so a re-ranking or placement that
/// fills a promotion does not scan the catalogue on every call (at 1M items
/// that scan was the call's largest cost).
pub(crate) fn popular_matching(
    model: &Model,
    promo: &Promotion,
    filter: &Filter<'_>,
    n: usize,
) -> Vec<crate::engine::Scored> {
    let pop = popularity_scores(model);
    let mut top = crate::engine::TopK::new(n);
    let mut consider = |i: u32| {
        if filter.allows(i as usize) {
            top.push(
                i,
                pop.and_then(|p| p.get(i as usize)).copied().unwrap_or(0.0),
            );
        }
    };
    if promo.categories.is_empty() {
        // A set, not a sort, drops repeats: the heap orders ties by index.
        let mut seen = bitset(listed_len(promo), []);
        for &i in &promo.items {
            if !bit(&seen, i as usize) {
                set_bit(&mut seen, i as usize);
                consider(i);
            }
        }
    } else {
        let matches = promotion_matches(model, promo);
        if let Some(p) = pop {
            return model.top_of_column(p, n, &|i| {
                matches(crate::format::index_u32(i)) && filter.allows(i)
            });
        }
        // No ranking signal: every score is 0, so the first items by index.
        for i in 0..model.n_items() {
            let i = crate::format::index_u32(i);
            if matches(i) {
                consider(i);
            }
        }
    }
    top.into_sorted()
}

/// Bits a set of the promotion's listed items needs: up to its highest
/// item, since a category promotion lists none and a catalogue-long set per
/// call would cost more than the walk it serves.
fn listed_len(promo: &Promotion) -> usize {
    promo.items.iter().max().map_or(0, |&i| i as usize + 1)
}

/// POPULARITY, else TRENDING totals, else bias: the global ranking signal.
fn popularity_scores(model: &Model) -> Option<&[f32]> {
    let v = model.view();
    v.popularity
        .or(v.placements.trending.map(|t| t.total))
        .or(v.bias)
}

/// Top `need` (+ slack for adjustment) items by `score` among those `filter`
/// allows (the bundle's columns walk their kept order:
/// [`Model::top_of_column`]).
fn top_by(
    model: &Model,
    scores: &[f32],
    filter: &Filter<'_>,
    need: usize,
    reason: ReasonCode,
    keep: impl Fn(usize) -> bool,
) -> Stage {
    let k = need.saturating_mul(2).saturating_add(8);
    Stage {
        items: model
            .top_of_column(scores, k, &|i| keep(i) && filter.allows(i))
            .into_iter()
            .map(|s| Placed {
                index: s.index,
                score: s.score,
                reason,
                because: None,
            })
            .collect(),
    }
}

/// Global popular: the last signal-bearing stage.
pub(crate) fn stage_popular(model: &Model) -> StageFn<'_> {
    Box::new(move |filter, need| {
        Ok(match popularity_scores(model) {
            Some(p) => top_by(model, p, filter, need, ReasonCode::Popular, |_| true),
            None => Stage { items: Vec::new() },
        })
    })
}

/// Catalogue order: only reached when the bundle has no popularity signal.
pub(crate) fn stage_catalogue(model: &Model) -> StageFn<'_> {
    Box::new(move |filter, need| {
        let items = (0..model.n_items())
            .filter(|&i| filter.allows(i))
            .take(need)
            .map(|i| Placed {
                index: i as u32,
                score: 0.0,
                reason: ReasonCode::Catalogue,
                because: None,
            })
            .collect();
        Ok(Stage { items })
    })
}

/// Trending among the categories of `seeds` (all categories when `seeds` is
/// empty): the "category trending" stage.
pub(crate) fn stage_category_trending(model: &Model, seeds: Vec<u32>) -> StageFn<'_> {
    Box::new(move |filter, need| {
        let v = model.view();
        let scores = match v.placements.trending {
            Some(t) => t.recent,
            None => return Ok(Stage { items: Vec::new() }),
        };
        let cats: Vec<u32> = match v.category {
            Some(c) => seeds
                .iter()
                .filter_map(|&s| c.get(s as usize).copied())
                .filter(|&c| c != u32::MAX)
                .collect(),
            None => Vec::new(),
        };
        if cats.is_empty() && !seeds.is_empty() {
            return Ok(Stage { items: Vec::new() });
        }
        let in_cats = |i: usize| {
            cats.is_empty()
                || v.category
                    .and_then(|c| c.get(i))
                    .is_some_and(|c| cats.contains(c))
        };
        Ok(top_by(
            model,
            scores,
            filter,
            need,
            ReasonCode::Trending,
            in_cats,
        ))
    })
}

/// NEIGHBOURS of the seeds (items viewed in the same sessions).
pub(crate) fn stage_neighbours(model: &Model, seeds: Vec<(u32, f32)>) -> StageFn<'_> {
    Box::new(move |_filter, _need| {
        let mut contrib: Vec<(u32, f32, u32)> = Vec::new();
        if let Some(nb) = model.neighbours() {
            for &(s, w) in &seeds {
                contrib.extend(nb.of(s as usize).map(|(it, nw)| (it, w * nw.max(0.0), s)));
            }
        }
        Ok(Stage {
            items: copurchase::merge(contrib, ReasonCode::ViewedTogether),
        })
    })
}

/// Nearest by factor cosine to the first seed (relaxed bought together).
pub(crate) fn stage_similar(model: &Model, seed: Option<u32>) -> StageFn<'_> {
    Box::new(move |_filter, need| {
        let Some(s) = seed else {
            return Ok(Stage { items: Vec::new() });
        };
        let r = model.similar(
            s as usize,
            &RecommendOptions {
                k: need.saturating_mul(2).saturating_add(8),
                ..Default::default()
            },
        )?;
        Ok(Stage {
            items: r
                .into_iter()
                .map(|x| Placed {
                    index: x.index,
                    // Cosine may be negative; placements keep scores ≥ 0 so
                    // rotation's multiplicative damping pushes down, never up.
                    score: (x.score + 1.0) * 0.5,
                    reason: ReasonCode::Similar,
                    because: Some(s),
                })
                .collect(),
        })
    })
}

fn check_items(model: &Model, items: &[u32]) -> Result<()> {
    match items.iter().find(|&&i| i as usize >= model.n_items()) {
        Some(i) => Err(Error::UnknownItem {
            id: format!("#{i}"),
        }),
        None => Ok(()),
    }
}

/// Strict: co-purchase only. Relaxed: co-purchase, then similar items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    Strict,
    #[default]
    Relaxed,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "strict" => Some(Mode::Strict),
            "relaxed" => Some(Mode::Relaxed),
            _ => None,
        }
    }
}

/// "Frequently bought together" for one item or a whole cart (the cart's own
/// items are never suggested). Strict mode returns co-purchases only (possibly
/// fewer than k); relaxed fills through neighbours, similar items, the cart's
/// category trending and global popular.
pub fn bought_together(
    model: &Model,
    cart: &[u32],
    mode: Mode,
    params: &CoParams,
    opts: &PlacementOptions,
) -> Result<Vec<Placed>> {
    check_items(model, cart)?;
    let co = model
        .view()
        .placements
        .co_purchase
        .ok_or(Error::NoSection {
            section: "CO_PURCHASE",
            placement: "boughtTogether",
            flag: "--baskets FILE",
        })?;
    if cart.is_empty() {
        return Err(Error::InvalidArgument {
            what: "bought together needs at least one item (the product or the cart)".into(),
        });
    }
    let mut opts = opts.clone();
    opts.exclude.extend_from_slice(cart);
    if mode == Mode::Strict {
        opts.fill = false;
    }
    let seeds: Vec<(u32, f32)> = cart.iter().map(|&i| (i, 1.0)).collect();
    let p = *params;
    let stages: Vec<StageFn<'_>> = vec![
        Box::new(move |_f, _n| Ok(copurchase::stage(&co, &seeds, &p))),
        stage_neighbours(model, cart.iter().map(|&i| (i, 1.0)).collect()),
        stage_similar(model, cart.last().copied()),
        stage_category_trending(model, cart.to_vec()),
        stage_popular(model),
        stage_catalogue(model),
    ];
    run_chain(model, stages, &opts)
}

/// "Viewed together" for a product page: NEIGHBOURS (items viewed in the
/// same sessions), filled with similar items, category trending and popular.
/// A bundle without NEIGHBOURS starts at similar items (reason `similar`).
pub fn viewed_together(
    model: &Model,
    items: &[u32],
    opts: &PlacementOptions,
) -> Result<Vec<Placed>> {
    check_items(model, items)?;
    if items.is_empty() {
        return Err(Error::InvalidArgument {
            what: "viewed together needs at least one item".into(),
        });
    }
    let mut opts = opts.clone();
    opts.exclude.extend_from_slice(items);
    let stages: Vec<StageFn<'_>> = vec![
        stage_neighbours(model, items.iter().map(|&i| (i, 1.0)).collect()),
        stage_similar(model, items.last().copied()),
        stage_category_trending(model, items.to_vec()),
        stage_popular(model),
        stage_catalogue(model),
    ];
    run_chain(model, stages, &opts)
}

/// The shopper's purchases as (item, time in the CADENCE unit), oldest first,
/// and "now" in that unit. Days: ms / 86 400 000. Baskets: purchases closer
/// than `basket_gap_ms` form one basket; now = one past the last basket.
pub fn purchase_times(
    events: &[Event],
    unit: crate::format::placements::TimeUnit,
    now_ms: f64,
    basket_gap_ms: f64,
) -> (Vec<(u32, f64)>, f64) {
    let mut p: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == EventKind::Purchase)
        .collect();
    crate::shopper::sort_by(&mut p, |a, b| a.ts < b.ts);
    match unit {
        crate::format::placements::TimeUnit::Days => (
            p.iter().map(|e| (e.item, e.ts / DAY_MS)).collect(),
            now_ms / DAY_MS,
        ),
        crate::format::placements::TimeUnit::Baskets => {
            let mut out = Vec::with_capacity(p.len());
            let mut basket = 0.0;
            let mut last: Option<f64> = None;
            for e in p {
                if last.is_some_and(|l| e.ts - l > basket_gap_ms) {
                    basket += 1.0;
                }
                last = Some(e.ts);
                out.push((e.item, basket));
            }
            let now = if out.is_empty() { 0.0 } else { basket + 1.0 };
            (out, now)
        }
    }
}

const DAY_MS: f64 = 86_400_000.0;

/// "Buy it again": the shopper's own purchases ordered by how due each is
/// (its repurchase cadence against the time since the last purchase) and how
/// often it was bought; filled with what is bought with them, then category
/// trending and popular. Needs CADENCE.
pub fn buy_again(
    model: &Model,
    events: &[Event],
    params: &CadenceParams,
    opts: &PlacementOptions,
) -> Result<Vec<Placed>> {
    let cad = model.view().placements.cadence.ok_or(Error::NoSection {
        section: "CADENCE",
        placement: "buyAgain",
        flag: "--baskets FILE",
    })?;
    check_items(model, &events.iter().map(|e| e.item).collect::<Vec<_>>())?;
    let (history, now) = purchase_times(events, cad.unit, opts.now_ms, params.basket_gap_ms);
    let scored = cadence::score_history(&cad, &history, now, params);
    let seeds: Vec<(u32, f32)> = scored.iter().map(|p| (p.index, p.score)).collect();
    let bought: Vec<u32> = scored.iter().map(|p| p.index).collect();
    let co = model.view().placements.co_purchase;
    let cp = params.co;
    let seeds2 = seeds.clone();
    let stages: Vec<StageFn<'_>> = vec![
        Box::new(move |_f, _n| Ok(Stage { items: scored })),
        Box::new(move |_f, _n| {
            Ok(match co {
                Some(co) => copurchase::stage(&co, &seeds2, &cp),
                None => Stage { items: Vec::new() },
            })
        }),
        stage_neighbours(model, seeds),
        stage_category_trending(model, bought),
        stage_popular(model),
        stage_catalogue(model),
    ];
    run_chain(model, stages, opts)
}

/// Recently viewed ("continue shopping"): viewed items newest first, each
/// once, without what the shopper has since bought. Filled (unless
/// `fill: false`) with items viewed together with them, category trending and popular.
pub fn recently_viewed(
    model: &Model,
    events: &[Event],
    opts: &PlacementOptions,
) -> Result<Vec<Placed>> {
    check_items(model, &events.iter().map(|e| e.item).collect::<Vec<_>>())?;
    let mut order: Vec<&Event> = events.iter().collect();
    crate::shopper::sort_by(&mut order, |a, b| a.ts > b.ts);
    let purchased = bitset(
        model.n_items(),
        events
            .iter()
            .filter(|e| e.kind == EventKind::Purchase)
            .map(|e| e.item),
    );
    let mut seen = bitset(model.n_items(), std::iter::empty());
    let mut viewed: Vec<Placed> = Vec::new();
    let n = order.len().max(1) as f32;
    for (rank, e) in order.iter().enumerate() {
        let i = e.item as usize;
        if e.kind == EventKind::View && !bit(&purchased, i) && !bit(&seen, i) {
            set_bit(&mut seen, i);
            viewed.push(Placed {
                index: e.item,
                // Newest first, and the order survives price re-ranking only
                // as far as the merchant's level allows.
                score: 1.0 - rank as f32 / n,
                reason: ReasonCode::RecentlyViewed,
                because: None,
            });
        }
    }
    let seeds: Vec<(u32, f32)> = viewed.iter().map(|p| (p.index, p.score)).collect();
    let cats: Vec<u32> = viewed.iter().map(|p| p.index).collect();
    // Bought since: not "continue shopping", in the fill either.
    let mut opts = opts.clone();
    opts.exclude.extend(
        events
            .iter()
            .filter(|e| e.kind == EventKind::Purchase)
            .map(|e| e.item),
    );
    let stages: Vec<StageFn<'_>> = vec![
        Box::new(move |_f, _n| Ok(Stage { items: viewed })),
        stage_neighbours(model, seeds),
        stage_category_trending(model, cats),
        stage_popular(model),
        stage_catalogue(model),
    ];
    run_chain(model, stages, &opts)
}

/// Trending items (time-decayed popularity at export), optionally in one
/// category; filled with popular items. Needs TRENDING.
pub fn trending(
    model: &Model,
    category: Option<u32>,
    opts: &PlacementOptions,
) -> Result<Vec<Placed>> {
    let t = model.view().placements.trending.ok_or(Error::NoSection {
        section: "TRENDING",
        placement: "trending",
        flag: "--baskets FILE --trending-half-life DAYS",
    })?;
    let mut opts = opts.clone();
    if let Some(c) = category {
        if c as usize >= model.view().category_names.len() {
            return Err(Error::InvalidArgument {
                what: format!("category #{c} is not in this bundle"),
            });
        }
        opts.categories = Some(match opts.categories.take() {
            // Both filters hold: the intersection.
            Some(cs) => cs.into_iter().filter(|&x| x == c).collect(),
            None => vec![c],
        });
    }
    let stages: Vec<StageFn<'_>> = vec![
        Box::new(move |f, need| {
            Ok(top_by(
                model,
                t.recent,
                f,
                need,
                ReasonCode::Trending,
                |_| true,
            ))
        }),
        stage_popular(model),
        stage_catalogue(model),
    ];
    run_chain(model, stages, &opts)
}

pub use trending::{trending_facets, Facet};

#[cfg(test)]
mod tests;
