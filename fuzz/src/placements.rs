//! The `placements` target: a sequence of calls decoded from the fuzzer's
//! bytes on a bundle with every section the placements, the business options
//! and the learned ranker read (CO_PURCHASE, CADENCE, TRENDING, RANKER,
//! BEHAVIOUR, NEIGHBOURS, SEGMENTS, CATEGORY, PRICE, FLAGS, POPULARITY).
//!
//! Values reach the core as the wasm bindings hand them over
//! (`src/wasm/placements.rs`, `src/wasm/shopper.rs`): where a binding refuses
//! a value (a k that is not whole, a rotation rate above 1, a non-finite
//! "now") the call is skipped; where it passes the value through (price
//! bounds, NaN `lastShown`, categories and items the core must check) the
//! core sees it raw, edge values included. Item indexes run up to n + 1 and
//! category indexes past the last category, so the core's own checks
//! (`UNKNOWN_ITEM`, `INVALID_ARGUMENT`) are reached too.
//!
//! Checked on every answer: at most k items, no item twice, every index in
//! the catalogue, excluded items (and the cart, and what was bought since,
//! for the placements that promise it) absent, every filter held, facets
//! best first. With `VITRINE_FUZZ_STRICT=1` also: finite scores, and exactly
//! k items when the fallback chain is on and the filters leave k
//! (pkg/README.md, "Exactly k").

use vitrine::engine::{Model, RecommendOptions};
use vitrine::format::read::ITEM_IN_STOCK;
use vitrine::placements::{
    self, business, Business, CadenceParams, CoParams, Mode, Placed, PlacementOptions, PriceLevel,
    Promotion, Rotation,
};
use vitrine::ranker::{Ranker, Used, F, FEATURES};
use vitrine::shopper::rerank::{self, Profile, RerankOptions};
use vitrine::shopper::{Event, EventKind, ProfileOptions};

use crate::{strict, whole, Bytes};

/// Most calls one input makes: enough for a few placements on one page.
const MAX_CALLS: usize = 8;

/// The bundle every call reads: [`crate::shopper_bundle`], which carries the
/// placement, ranker and behaviour sections.
pub fn placements_bundle() -> &'static Model {
    crate::shopper_bundle()
}

fn category_count(m: &Model) -> usize {
    m.view().category_names.len()
}

/// An item index: mostly in the catalogue, sometimes one or two past it.
fn item(b: &mut Bytes<'_>, n: usize) -> u32 {
    (b.u8() as usize % (n + 2)) as u32
}

fn items(b: &mut Bytes<'_>, n: usize, max: u8) -> Vec<u32> {
    (0..b.u8() % max).map(|_| item(b, n)).collect()
}

/// `non_negative` of the bindings: finite, ≥ 0, fits an f32.
fn non_negative(v: Option<f64>) -> Option<Option<f32>> {
    match v {
        Some(x) if !(x.is_finite() && x >= 0.0 && x <= f64::from(f32::MAX)) => None,
        _ => Some(v.map(|x| x as f32)),
    }
}

/// A k as the bindings accept it (whole, ≥ 0, capped at 1e7), or `None`
/// when they refuse it. Mostly small, sometimes around the catalogue size
/// or past `MAX_K`.
fn k_of(b: &mut Bytes<'_>, n: usize, default: usize) -> Option<usize> {
    Some(match b.u8() % 5 {
        0 => default,
        1 | 2 => usize::from(b.u8() % 40),
        3 => (n + usize::from(b.u8() % 3)).saturating_sub(1),
        _ => (whole(Some(b.f64()), default)? as f64).min(1e7) as usize,
    })
}

/// Categories as a filter: none, empty, or a few indexes (past the last
/// one and `u32::MAX` included).
fn categories(b: &mut Bytes<'_>, nc: usize) -> Option<Vec<u32>> {
    match b.u8() % 4 {
        0 | 1 => None,
        2 => Some(Vec::new()),
        _ => Some(
            (0..1 + b.u8() % 3)
                .map(|_| match b.u8() % 8 {
                    0 => u32::MAX,
                    x => (usize::from(x) % (nc + 1)) as u32,
                })
                .collect(),
        ),
    }
}

/// The business options (`price`, `preferPrice`, `rotation`, `promotion`)
/// as `Model::business` in the bindings builds them; `None` when it would
/// refuse them.
fn business_of(b: &mut Bytes<'_>, m: &Model, now: f64) -> Option<Business> {
    let n = m.n_items();
    let nc = category_count(m);
    let mut out = Business {
        now_ms: now,
        ..Default::default()
    };
    let flags = b.u8();
    out.price_level = [
        PriceLevel::None,
        PriceLevel::Low,
        PriceLevel::Medium,
        PriceLevel::High,
    ][usize::from(flags & 3)];
    out.prefer_higher_price = flags & 4 == 0;
    if flags & 8 != 0 {
        let rate = non_negative(b.opt_f64())?.unwrap_or(0.2);
        if rate > 1.0 {
            return None;
        }
        let time = non_negative(b.opt_f64())?.map_or(86_400_000.0, f64::from);
        let impressions = (0..b.u8() % 6)
            .filter_map(|_| {
                let i = item(b, n);
                let shown = u32::from(b.u16()).min(1_000_000);
                // lastShown is passed through unchecked: NaN and ±inf reach the core.
                let last = b.f64();
                ((i as usize) < n).then_some((i, shown, last))
            })
            .collect();
        out.rotation = Some(Rotation {
            impressions,
            rate,
            time_ms: time,
        });
    }
    if flags & 16 != 0 {
        let share = non_negative(b.opt_f64())?.unwrap_or(0.2);
        if share > 1.0 {
            return None;
        }
        // Ids and category names are resolved by the bindings: unknown ones
        // never reach the core.
        let items = items(b, n, 4).into_iter().filter(|&i| (i as usize) < n);
        let cats = (0..b.u8() % 3).map(|_| (b.u8() as usize % nc.max(1)) as u32);
        out.promotion = Some(Promotion {
            items: items.collect(),
            categories: cats.collect(),
            share,
        });
    }
    Some(out)
}

/// The options every placement takes (`placement_options` in the bindings).
fn placement_opts(b: &mut Bytes<'_>, m: &Model, now: f64) -> Option<PlacementOptions> {
    let n = m.n_items();
    let k = k_of(b, n, 10)?;
    let exclude = items(b, n, 4);
    let categories = categories(b, category_count(m));
    let price_min = b.opt_f64();
    let price_max = b.opt_f64();
    let flags = b.u8();
    let biz = business_of(b, m, now)?;
    Some(PlacementOptions {
        k,
        exclude,
        categories,
        in_stock_only: flags & 1 != 0,
        price_min,
        price_max,
        price_level: biz.price_level,
        prefer_higher_price: biz.prefer_higher_price,
        rotation: biz.rotation,
        promotion: biz.promotion,
        // fill defaults to true; `fill: false` one time in four.
        fill: flags & 6 != 0,
        now_ms: now,
    })
}

/// Events as `events_of` + `placement_events` in the bindings leave them:
/// finite times, none past now, sorted by time (stable), items possibly
/// past the catalogue (the core must refuse those).
fn events(b: &mut Bytes<'_>, m: &Model, now: f64) -> Option<Vec<Event>> {
    let n = m.n_items();
    let mut ev: Vec<(usize, Event)> = Vec::new();
    for _ in 0..b.u8() % 24 {
        let kind = match b.u8() % 4 {
            0 => EventKind::View,
            1 => EventKind::Cart,
            2 => EventKind::Purchase,
            _ => EventKind::Search,
        };
        // Mostly known items: an unknown one is an UNKNOWN_ITEM for the
        // whole call, which would hide everything else.
        let tag = b.u8();
        let i = if tag & 0xF0 == 0xF0 {
            item(b, n)
        } else {
            (b.u8() as usize % n) as u32
        };
        let ts = match tag % 4 {
            0 => now,
            1 => now - f64::from(b.u16()) * 60_000.0,
            2 => now - f64::from(b.u16()) * 86_400_000.0 / 64.0,
            _ => b.f64(),
        };
        if !ts.is_finite() {
            return None; // INVALID_EVENT
        }
        ev.push((
            ev.len(),
            Event {
                kind,
                item: i,
                ts: ts.min(now),
            },
        ));
    }
    vitrine::shopper::sort_by(&mut ev, |a, b| {
        a.1.ts < b.1.ts || (a.1.ts == b.1.ts && a.0 < b.0)
    });
    Some(ev.into_iter().map(|e| e.1).collect())
}

fn co_params(b: &mut Bytes<'_>) -> Option<CoParams> {
    let d = CoParams::default();
    if b.u8() & 1 == 0 {
        return Some(d);
    }
    let min_support = match b.opt_f64() {
        None => d.min_support,
        Some(x) if x.is_finite() && x >= 1.0 && x.fract() == 0.0 => x.min(1e9) as u32,
        Some(_) => return None,
    };
    Some(CoParams {
        min_support,
        shrinkage: non_negative(b.opt_f64())?.unwrap_or(d.shrinkage),
        lift: non_negative(b.opt_f64())?.unwrap_or(d.lift),
    })
}

fn cadence_params(b: &mut Bytes<'_>) -> Option<CadenceParams> {
    let d = CadenceParams::default();
    let mut p = CadenceParams {
        co: co_params(b)?,
        ..d
    };
    if b.u8() & 1 == 1 {
        p.half_life = non_negative(b.opt_f64())?.unwrap_or(d.half_life);
        p.cadence_weight = non_negative(b.opt_f64())?.unwrap_or(d.cadence_weight);
        p.sigma = non_negative(b.opt_f64())?.unwrap_or(d.sigma);
        p.repeat_power = non_negative(b.opt_f64())?.unwrap_or(d.repeat_power);
        if let Some(g) = non_negative(b.opt_f64())? {
            p.basket_gap_ms = f64::from(g) * 60_000.0;
        }
    }
    Some(p)
}

/// Whether item `i` passes the filters of `o` (exclusions, categories,
/// price, stock), decided independently of `placements::Filter`: f64 prices
/// when the bundle has them, an unknown (NaN) price failing every range.
fn allowed(m: &Model, o: &PlacementOptions, i: usize) -> bool {
    let v = m.view();
    if i >= m.n_items() || o.exclude.contains(&(i as u32)) {
        return false;
    }
    if let Some(cs) = &o.categories {
        match v.category.and_then(|c| c.get(i)) {
            Some(&c) if c != u32::MAX && cs.contains(&c) => {}
            _ => return false,
        }
    }
    if o.price_min.is_some() || o.price_max.is_some() {
        let lo = o.price_min.unwrap_or(f64::NEG_INFINITY);
        let hi = o.price_max.unwrap_or(f64::INFINITY);
        let ok = match (v.price_f64, v.price) {
            (Some(p), _) => p.get(i).is_some_and(|&p| p >= lo && p <= hi),
            (None, Some(p)) => p.get(i).is_some_and(|&p| p >= lo as f32 && p <= hi as f32),
            (None, None) => false,
        };
        if !ok {
            return false;
        }
    }
    if o.in_stock_only
        && v.flags
            .and_then(|f| f.get(i))
            .is_none_or(|f| f & ITEM_IN_STOCK == 0)
    {
        return false;
    }
    true
}

/// The shape every placement promises. `o`: the options in effect (the
/// caller's plus what the placement adds: the cart, the purchases);
/// `exact`: whether the fallback chain must fill to k.
fn check_placed(m: &Model, what: &str, r: &[Placed], o: &PlacementOptions, exact: bool) {
    let n = m.n_items();
    assert!(r.len() <= o.k, "{what}: {} items for k={}", r.len(), o.k);
    let mut seen = vec![false; n];
    for p in r {
        let i = p.index as usize;
        assert!(i < n, "{what}: index {i} of {n}");
        assert!(!seen[i], "{what}: item {i} twice in {r:?}");
        seen[i] = true;
        assert!(allowed(m, o, i), "{what}: item {i} fails the filters {o:?}");
        assert!(
            p.because.is_none_or(|x| (x as usize) < n),
            "{what}: because {p:?}"
        );
        if strict() {
            assert!(p.score.is_finite(), "{what}: score of {p:?}");
        }
    }
    if strict() && exact && o.fill {
        let can = (0..n).filter(|&i| allowed(m, o, i)).count();
        assert_eq!(
            r.len(),
            o.k.min(can),
            "{what}: not exactly k ({can} allowed)"
        );
    }
}

/// A learned ranker from the fuzzer's bytes: the bundle's own with some
/// numbers replaced (NaN, ±inf, 0 and negative scales included), or with
/// a name dropped, repeated or unknown. `Ranker::aligned` must refuse what
/// it cannot score finitely; what it accepts is used.
fn fuzzed_ranker(b: &mut Bytes<'_>) -> Ranker {
    let mut r = crate::synthetic_ranker(b.u8() & 1 == 1);
    for _ in 0..b.u8() % 4 {
        let f = r.names.len().max(1);
        let j = b.u8() as usize % f;
        let x = b.f64() as f32;
        match b.u8() % 6 {
            0 => r.mean[j] = x,
            1 => r.scale[j] = x,
            2 => r.weights[j] = x,
            3 => r.bias = x,
            4 => {
                r.names[j] = r.names[(j + 1) % f].clone();
            }
            _ => {
                r.names.remove(j);
                r.mean.remove(j);
                r.scale.remove(j);
                r.weights.remove(j);
            }
        }
    }
    r
}

/// The shopper's ranking (`recommend` / `rerank` in the bindings) with the
/// rules, filters, business options and a learned ranker from the bytes;
/// whether it answered.
fn shopper_call(b: &mut Bytes<'_>, m: &Model, now: f64) -> bool {
    let n = m.n_items();
    let Some(events) = events(b, m, now) else {
        return false;
    };
    let events: Vec<Event> = events
        .into_iter()
        .filter(|e| (e.item as usize) < n)
        .collect();
    let popts = ProfileOptions {
        now_ms: now,
        ..Default::default()
    };
    let segment = match b.u8() % 4 {
        0 => Some(u32::from(b.u8() % 5)),
        _ => None,
    };
    let Ok(mut profile) = Profile::build(m, &events, &popts, rerank::SESSION_HALF_LIFE, segment)
    else {
        return false;
    };
    let mut ro = RerankOptions {
        k: usize::from(b.u8() % 24),
        ..Default::default()
    };
    ro.ranker = match b.u8() % 4 {
        0 => None,
        1 | 2 => match vitrine::ranker::status(m) {
            Used::Ranker(r) => Some(r),
            other => panic!("the seed bundle's ranker is refused: {other:?}"),
        },
        _ => {
            let r = fuzzed_ranker(b);
            match r.aligned() {
                Ok((a, _)) => {
                    let all_finite = a
                        .mean
                        .iter()
                        .chain(&a.scale)
                        .chain(&a.weights)
                        .all(|x| x.is_finite())
                        && a.bias.is_finite()
                        && a.scale.iter().all(|&s| s > 0.0);
                    assert!(all_finite, "aligned() accepted {a:?}");
                    assert_eq!(a.names.len(), F);
                    Some(a)
                }
                Err(_) => None,
            }
        }
    };
    for _ in 0..b.u8() % 4 {
        let i = item(b, n);
        ro.rules.pins.push((i, usize::from(b.u8() % 16)));
    }
    for _ in 0..b.u8() % 4 {
        let i = item(b, n);
        // `numbers_by_id` in the bindings: finite, |v| ≤ MAX_BOOST (1e30).
        let v = b.f64();
        if !(v.is_finite() && v.abs() <= 1e30) {
            return false;
        }
        ro.rules.boost.push((i, v as f32));
    }
    ro.rules.bury = items(b, n, 4);
    ro.rules.exclude = items(b, n, 4);
    ro.rules.category_cap = b.u8().is_multiple_of(3).then(|| usize::from(b.u8() % 4));
    ro.rules.exclude_purchased = b.u8() & 1 == 1;
    if let Some(l) = b.opt_f64() {
        if (0.0..=1.0).contains(&l) {
            ro.mmr_lambda = l as f32;
        }
    }
    let fin = |x: Option<f64>| x.filter(|v| v.is_finite());
    ro.filter = RecommendOptions {
        k: 0,
        exclude: Vec::new(),
        categories: categories(b, category_count(m)),
        price_min: fin(b.opt_f64()),
        price_max: fin(b.opt_f64()),
        in_stock_only: b.u8() & 1 == 1,
    };
    let candidates: Option<Vec<u32>> = (b.u8() & 1 == 1).then(|| items(b, n, 24));
    let Some(mut biz) = business_of(b, m, now) else {
        return false;
    };
    let ranked: Vec<rerank::Ranked> = if biz.is_active() {
        if let Some(rot) = biz.rotation.as_mut() {
            business::ignore_impressions(m, &mut profile, &events, rot, now);
            if strict() {
                assert!(
                    profile.session_vec.iter().all(|x| x.is_finite()),
                    "ignore_impressions: session vector {:?}",
                    profile.session_vec
                );
            }
        }
        match business::shopper_rank(m, &profile, candidates.as_deref(), &ro, &biz) {
            Ok(r) => r.into_iter().map(|x| x.0).collect(),
            Err(_) => return false,
        }
    } else {
        let r = match &candidates {
            Some(c) => rerank::rerank(m, &profile, c, &ro),
            None => rerank::recommend(m, &profile, &ro),
        };
        match r {
            Ok(r) => r,
            Err(_) => return false,
        }
    };
    let k = match (&candidates, ro.k) {
        (None, 0) => 10,
        (_, k) => k,
    };
    if k > 0 {
        assert!(
            ranked.len() <= k,
            "shopper: {} items for k={k}",
            ranked.len()
        );
    }
    let mut seen = vec![false; n];
    for r in &ranked {
        let i = r.index as usize;
        assert!(i < n, "shopper: index {i}");
        assert!(!seen[i], "shopper: item {i} twice");
        seen[i] = true;
        assert!(
            !ro.rules.exclude.contains(&r.index),
            "shopper: excluded {i} returned"
        );
        if ro.rules.exclude_purchased {
            assert!(
                !profile.purchased.contains(&r.index),
                "shopper: purchased {i} returned"
            );
        }
        if let Some(c) = &candidates {
            assert!(c.contains(&r.index), "shopper: {i} is not a candidate");
        }
        if let Some(f) = r.feature {
            assert!(usize::from(f) < FEATURES.len(), "shopper: feature {f}");
        }
        if strict() {
            assert!(r.score.is_finite(), "shopper: score of {r:?}");
        }
    }
    true
}

/// One input: "now", then up to [`MAX_CALLS`] calls, each an opcode and
/// its arguments. Every call returns Ok or a typed error; see the module
/// doc for what is checked on the answers.
pub fn exercise_placements(data: &[u8]) {
    run(data);
}

/// [`exercise_placements`], returning how many calls of each opcode
/// answered Ok (so a test can tell seeds that reach the code from seeds
/// that only reach refusals).
pub fn run(data: &[u8]) -> [u32; 8] {
    let mut ok = [0u32; 8];
    let m = placements_bundle();
    let n = m.n_items();
    let nc = category_count(m);
    let mut b = Bytes::new(data);
    let now = match b.opt_f64() {
        Some(x) if x.is_finite() => x,
        Some(_) => return ok, // "now must be a finite number"
        None => 1.0e12,
    };
    for _ in 0..MAX_CALLS {
        if b.is_empty() {
            break;
        }
        let op = b.u8() % 8;
        let answered = match op {
            0 => {
                let cart = items(&mut b, n, 5);
                let mode = if b.u8() & 1 == 0 {
                    Mode::Relaxed
                } else {
                    Mode::Strict
                };
                let (Some(co), Some(o)) = (co_params(&mut b), placement_opts(&mut b, m, now))
                else {
                    continue;
                };
                let res = placements::bought_together(m, &cart, mode, &co, &o);
                if let Ok(r) = &res {
                    let mut eff = o.clone();
                    eff.exclude.extend_from_slice(&cart);
                    check_placed(m, "bought together", r, &eff, mode == Mode::Relaxed);
                }
                res.is_ok()
            }
            1 => {
                let seeds = items(&mut b, n, 5);
                let Some(o) = placement_opts(&mut b, m, now) else {
                    continue;
                };
                let res = placements::viewed_together(m, &seeds, &o);
                if let Ok(r) = &res {
                    let mut eff = o.clone();
                    eff.exclude.extend_from_slice(&seeds);
                    check_placed(m, "viewed together", r, &eff, true);
                }
                res.is_ok()
            }
            2 => {
                let (Some(ev), Some(p), Some(o)) = (
                    events(&mut b, m, now),
                    cadence_params(&mut b),
                    placement_opts(&mut b, m, now),
                ) else {
                    continue;
                };
                let res = placements::buy_again(m, &ev, &p, &o);
                if let Ok(r) = &res {
                    check_placed(m, "buy again", r, &o, true);
                }
                res.is_ok()
            }
            3 => {
                let (Some(ev), Some(o)) = (events(&mut b, m, now), placement_opts(&mut b, m, now))
                else {
                    continue;
                };
                let res = placements::recently_viewed(m, &ev, &o);
                if let Ok(r) = &res {
                    let mut eff = o.clone();
                    eff.exclude.extend(
                        ev.iter()
                            .filter(|e| e.kind == EventKind::Purchase)
                            .map(|e| e.item),
                    );
                    check_placed(m, "recently viewed", r, &eff, true);
                }
                res.is_ok()
            }
            4 => {
                let category = match b.u8() % 3 {
                    0 => None,
                    _ => Some((b.u8() as usize % (nc + 2)) as u32),
                };
                let Some(o) = placement_opts(&mut b, m, now) else {
                    continue;
                };
                let res = placements::trending(m, category, &o);
                if let Ok(r) = &res {
                    let mut eff = o.clone();
                    if let Some(c) = category {
                        eff.categories = Some(match eff.categories.take() {
                            Some(cs) => cs.into_iter().filter(|&x| x == c).collect(),
                            None => vec![c],
                        });
                    }
                    check_placed(m, "trending", r, &eff, true);
                }
                res.is_ok()
            }
            5 => {
                let Some(k) = k_of(&mut b, nc, 5) else {
                    continue;
                };
                let res = placements::trending_facets(m, k.min(1_000_000));
                if let Ok(f) = &res {
                    assert!(
                        f.len() <= k && f.len() <= nc,
                        "facets: {} for k={k}",
                        f.len()
                    );
                    for w in f.windows(2) {
                        assert!(
                            w[0].rise > w[1].rise
                                || (w[0].rise == w[1].rise && w[0].category < w[1].category),
                            "facets not best first: {w:?}"
                        );
                    }
                    let mut cats: Vec<u32> = f.iter().map(|x| x.category).collect();
                    cats.sort_unstable();
                    cats.dedup();
                    assert_eq!(cats.len(), f.len(), "a facet twice: {f:?}");
                    assert!(f.iter().all(|x| (x.category as usize) < nc), "facet {f:?}");
                    if strict() {
                        assert!(
                            f.iter().all(|x| x.rise.is_finite() && x.recent.is_finite()),
                            "facet not finite: {f:?}"
                        );
                    }
                }
                res.is_ok()
            }
            6 => {
                // recommend(user, {k, filters, price, preferPrice, rotation, promotion}).
                let d = m.dim();
                let user: Vec<f32> = (0..d)
                    .map(|_| match b.u8() % 8 {
                        0 => b.f64() as f32,
                        x => f32::from(x) * 0.25 - 1.0,
                    })
                    .collect();
                let Some(o) = placement_opts(&mut b, m, now) else {
                    continue;
                };
                let ro = o.recommend_filter();
                let biz = Business {
                    price_level: o.price_level,
                    prefer_higher_price: o.prefer_higher_price,
                    rotation: o.rotation.clone(),
                    promotion: o.promotion.clone(),
                    now_ms: now,
                };
                let res = business::recommend(m, &user, &ro, &biz);
                if let Ok(r) = &res {
                    check_placed(m, "business recommend", r, &o, false);
                }
                res.is_ok()
            }
            _ => shopper_call(&mut b, m, now),
        };
        if answered {
            ok[usize::from(op)] += 1;
        }
    }
    ok
}

/// Byte strings that decode to one call of each kind with plausible
/// arguments (seeds for `fuzz/corpus/placements/`, and the fixed inputs
/// `make fuzz-test` replays).
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    // now absent; then per call: the opcode and mostly "default" bytes.
    let opts = |k: u8, biz: u8| -> Vec<u8> {
        // k tag 1 (small), k; no exclusions; no categories; no prices;
        // flags (fill on); business flags.
        vec![1, k, 0, 0, 0, 0, 2, biz]
    };
    for op in 0..8u8 {
        for (v, biz) in [0u8, 0x1A, 0x13].into_iter().enumerate() {
            let mut s = vec![0u8, op];
            match op {
                0 | 1 => {
                    s.extend_from_slice(&[3, 1, 5, 9]); // three items
                    if op == 0 {
                        s.extend_from_slice(&[v as u8 & 1, 0]); // mode, default co params
                    }
                    s.extend(opts(6, biz));
                }
                2 | 3 => {
                    s.push(6); // six events
                    for e in 0..6u8 {
                        s.extend_from_slice(&[e % 3, 1, e * 5, 0, e + 1]);
                    }
                    if op == 2 {
                        s.extend_from_slice(&[0, 0]); // default cadence params
                    }
                    s.extend(opts(8, biz));
                }
                4 => {
                    s.push(v as u8);
                    if v > 0 {
                        s.push(1); // category #1
                    }
                    s.extend(opts(5, biz));
                }
                5 => s.extend_from_slice(&[1, 3]),
                6 => {
                    s.extend((0..8u8).map(|j| 1 + j % 7));
                    s.extend(opts(7, biz));
                }
                _ => {
                    s.push(5);
                    for e in 0..5u8 {
                        s.extend_from_slice(&[e % 3, 1, e * 7, 0, 3 * e + 2]);
                    }
                    // segment, k, ranker tag, no rules, lambda absent,
                    // no filter, candidates absent, business.
                    s.extend_from_slice(&[1, 8, 1 + v as u8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
                    s.push(biz);
                    if biz & 8 != 0 {
                        s.extend_from_slice(&[0, 0, 2, 4, 3, 0, 0, 7, 1, 1, 0, 6]);
                    }
                }
            }
            out.push((format!("op{op}-{v}"), s));
        }
    }
    out
}

/// The placements, business options and learned ranker on whatever a
/// loaded bundle holds (the `bundle` target): a CO_PURCHASE, CADENCE,
/// TRENDING or RANKER section whose bytes were edited and resealed, and
/// that still loads, must answer or give a typed error (a refused RANKER:
/// the blend), never panic.
pub fn exercise_bundle_placements(m: &Model) {
    let n = m.n_items();
    if n == 0 {
        return;
    }
    let now = 1.0e12;
    let o = PlacementOptions {
        k: 6,
        now_ms: now,
        ..Default::default()
    };
    let kinds = [EventKind::View, EventKind::Purchase, EventKind::Cart];
    let events: Vec<Event> = (0..n.min(6))
        .map(|i| Event {
            kind: kinds[i % 3],
            item: i as u32,
            ts: now - 86_400_000.0 * (6 - i) as f64,
        })
        .collect();
    let last = (n - 1) as u32;
    let mut eff = o.clone();
    eff.exclude.push(0);
    if let Ok(r) = placements::bought_together(m, &[0], Mode::Relaxed, &CoParams::default(), &o) {
        check_placed(m, "bought together", &r, &eff, true);
    }
    let mut eff = o.clone();
    eff.exclude.push(last);
    if let Ok(r) = placements::viewed_together(m, &[last], &o) {
        check_placed(m, "viewed together", &r, &eff, true);
    }
    if let Ok(r) = placements::buy_again(m, &events, &CadenceParams::default(), &o) {
        check_placed(m, "buy again", &r, &o, true);
    }
    let mut eff = o.clone();
    eff.exclude.extend(
        events
            .iter()
            .filter(|e| e.kind == EventKind::Purchase)
            .map(|e| e.item),
    );
    if let Ok(r) = placements::recently_viewed(m, &events, &o) {
        check_placed(m, "recently viewed", &r, &eff, true);
    }
    if let Ok(r) = placements::trending(m, None, &o) {
        check_placed(m, "trending", &r, &o, true);
    }
    let _ = placements::trending(m, Some(0), &o);
    let _ = placements::trending_facets(m, 5);
    let biz = Business {
        price_level: PriceLevel::Medium,
        prefer_higher_price: false,
        rotation: Some(Rotation {
            impressions: vec![(0, 3, now - 1000.0), (last, 1, f64::NAN)],
            rate: 0.3,
            time_ms: 86_400_000.0,
        }),
        promotion: Some(Promotion {
            items: vec![last],
            categories: vec![0],
            share: 0.3,
        }),
        now_ms: now,
    };
    let user: Vec<f32> = (0..m.dim()).map(|i| ((i % 5) as f32 - 2.0) * 0.3).collect();
    let ro = RecommendOptions {
        k: 6,
        ..Default::default()
    };
    if let Ok(r) = business::recommend(m, &user, &ro, &biz) {
        check_placed(m, "business recommend", &r, &o, false);
    }
    // The learned ranker: a section that decodes and aligns has finite
    // numbers for every feature; its scores rank the shopper's list.
    if let Some(Ok((r, _))) = vitrine::ranker::from_model_detail(m) {
        assert!(r.check().is_ok(), "an aligned ranker fails check(): {r:?}");
    }
    let popts = ProfileOptions {
        now_ms: now,
        ..Default::default()
    };
    let Ok(mut p) = Profile::build(m, &events, &popts, rerank::SESSION_HALF_LIFE, Some(0)) else {
        return;
    };
    let mut ro = RerankOptions {
        k: 6,
        ..Default::default()
    };
    if let Used::Ranker(r) = vitrine::ranker::status(m) {
        ro.ranker = Some(r);
    }
    if let Ok(r) = rerank::recommend(m, &p, &ro) {
        assert!(r.len() <= 6, "ranker recommend: {} items", r.len());
        if strict() {
            assert!(r.iter().all(|x| x.score.is_finite()), "ranker score: {r:?}");
        }
    }
    if let Some(rot) = biz.rotation.clone().as_mut() {
        business::ignore_impressions(m, &mut p, &events, rot, now);
    }
    let _ = business::shopper_rank(m, &p, None, &ro, &biz);
}
