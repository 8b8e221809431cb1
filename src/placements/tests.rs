use super::build::{self, Basket, BuildOptions};
use super::*;
use crate::format::placements::{add_sections, PlacementParts, TimeUnit};
use crate::format::{write_bundle, BundleParts, Dtype, Kind};

fn plain(n: usize) -> BundleParts {
    crate::synth::catalogue(n, 8, 4, 7)
}

fn basket(user: u32, time: f64, items: &[u32]) -> Basket {
    Basket {
        user,
        time,
        items: items.to_vec(),
    }
}

/// 10 baskets over items 0..6: X = 0 is in 5, Y = 1 in 4, X with Y in 4
/// (P(Y|X) = 0.8, P(Y) = 0.4, P(X) = 0.5, the founding example).
fn example_baskets() -> Vec<Basket> {
    vec![
        basket(0, 0.0, &[0, 1, 2]),
        basket(1, 0.0, &[0, 1]),
        basket(2, 0.0, &[0, 1, 3]),
        basket(3, 0.0, &[0, 1]),
        basket(4, 0.0, &[0, 4]),
        basket(5, 0.0, &[2, 3]),
        basket(6, 0.0, &[2, 5]),
        basket(7, 0.0, &[3]),
        basket(8, 0.0, &[4, 5]),
        basket(9, 0.0, &[5]),
    ]
}

fn with_sections(p: &BundleParts, baskets: &[Basket], o: &BuildOptions) -> Model {
    let base = write_bundle(p, Dtype::F32).expect("write");
    let parts = build::parts(p.ids.len(), baskets, o);
    Model::from_bytes(&add_sections(&base, &parts).expect("add")).expect("load")
}

fn ids(v: &[Placed]) -> Vec<u32> {
    v.iter().map(|p| p.index).collect()
}

#[test]
fn bayes_worked_example() {
    // 80% of X's buyers bought Y, 40% bought Y, 50% bought X ⇒ P(X|Y) = 1.0.
    let p = copurchase::bayes(0.8, 0.5, 0.4).unwrap();
    assert!((p - 1.0).abs() < 1e-12, "{p}");
    assert_eq!(copurchase::bayes(0.8, 0.5, 0.0), None);
    // The same from basket counts: c(XY) / c(Y) with no shrinkage and no lift.
    let raw = CoParams {
        min_support: 1,
        shrinkage: 0.0,
        lift: 0.0,
    };
    let co = build::co_purchase(6, &example_baskets(), &BuildOptions::default());
    assert_eq!(co.n_baskets, 10);
    assert_eq!((co.basket_count[0], co.basket_count[1]), (5, 4));
    let row1: Vec<(u32, u32)> = (co.offsets[1]..co.offsets[2])
        .map(|j| (co.partners[j as usize], co.co_count[j as usize]))
        .collect();
    assert_eq!(row1[0], (0, 4), "X is Y's strongest partner");
    let s = copurchase::score(4, 5, 4, 10, &raw);
    assert!((s - 1.0).abs() < 1e-6, "{s}");
    // And P(Y|X) the other way round is 0.8.
    assert!((copurchase::score(4, 4, 5, 10, &raw) - 0.8).abs() < 1e-6);
}

#[test]
fn support_shrinkage_and_lift_behave() {
    let raw = CoParams {
        min_support: 1,
        shrinkage: 0.0,
        lift: 0.0,
    };
    // One basket with a rare Y: raw P(X|Y) = 1, shrinkage pulls it to ~P(X).
    assert_eq!(copurchase::score(1, 50, 1, 100, &raw), 1.0);
    let shrunk = CoParams {
        shrinkage: 10.0,
        ..raw
    };
    let s = copurchase::score(1, 50, 1, 100, &shrunk);
    assert!(s < 0.6 && s > 0.5, "{s}");
    // Below support: nothing.
    let sup = CoParams {
        min_support: 2,
        ..raw
    };
    assert_eq!(copurchase::score(1, 50, 1, 100, &sup), 0.0);
    // Lift 1 prefers the rarer of two equally co-bought items.
    let lift = CoParams { lift: 1.0, ..raw };
    assert!(copurchase::score(5, 10, 20, 100, &lift) > copurchase::score(5, 80, 20, 100, &lift));
    assert!(copurchase::score(5, 10, 20, 100, &raw) == copurchase::score(5, 80, 20, 100, &raw));
}

#[test]
fn bought_together_one_item_and_cart() {
    let p = plain(6);
    let m = with_sections(&p, &example_baskets(), &BuildOptions::default());
    let raw = CoParams {
        min_support: 1,
        shrinkage: 0.0,
        lift: 0.0,
    };
    let opts = PlacementOptions {
        k: 3,
        ..Default::default()
    };
    let r = bought_together(&m, &[1], Mode::Strict, &raw, &opts).unwrap();
    assert_eq!(r[0].index, 0);
    assert_eq!(r[0].reason, ReasonCode::BoughtTogether);
    assert_eq!(r[0].because, Some(1));
    assert!((r[0].score - 1.0).abs() < 1e-6);
    // Strict: only co-purchases (Y = 1 was bought with 0, 2, 3).
    assert_eq!(ids(&r).len(), 3);
    assert!(r.iter().all(|x| [0, 2, 3].contains(&x.index)));
    // Whole cart: the cart's items are never suggested.
    let r = bought_together(&m, &[0, 1], Mode::Relaxed, &raw, &opts).unwrap();
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|x| x.index != 0 && x.index != 1));
}

#[test]
fn strict_may_return_fewer_relaxed_fills_exactly_k() {
    let p = plain(40);
    let m = with_sections(&p, &example_baskets(), &BuildOptions::default());
    let opts = PlacementOptions {
        k: 12,
        ..Default::default()
    };
    let strict = bought_together(&m, &[5], Mode::Strict, &CoParams::default(), &opts).unwrap();
    assert!(strict.len() < 12 && !strict.is_empty());
    assert!(strict
        .iter()
        .all(|x| x.reason == ReasonCode::BoughtTogether));
    let relaxed = bought_together(&m, &[5], Mode::Relaxed, &CoParams::default(), &opts).unwrap();
    assert_eq!(relaxed.len(), 12);
    // The chain's order: co-purchase first, then the fallbacks.
    assert_eq!(ids(&relaxed[..strict.len()]), ids(&strict));
    assert!(relaxed[strict.len()..]
        .iter()
        .all(|x| x.reason != ReasonCode::BoughtTogether));
    let mut u = ids(&relaxed);
    u.sort_unstable();
    u.dedup();
    assert_eq!(u.len(), 12, "no duplicates");
}

#[test]
fn every_placement_fills_k_under_filters() {
    let p = plain(300);
    let baskets: Vec<Basket> = (0..200u32)
        .map(|b| {
            basket(
                b % 20,
                (b / 20) as f64,
                &[b % 37, (b * 7) % 53, (b * 11) % 41],
            )
        })
        .collect();
    let m = with_sections(&p, &baskets, &BuildOptions::default());
    let events: Vec<Event> = (0..30u32)
        .map(|i| Event {
            kind: if i % 3 == 0 {
                EventKind::Purchase
            } else {
                EventKind::View
            },
            item: i * 3 % 50,
            ts: 1e12 + i as f64 * 1e7,
        })
        .collect();
    let cat = 2u32;
    let opts = PlacementOptions {
        k: 10,
        categories: Some(vec![cat]),
        price_max: Some(30.0),
        now_ms: 2e12,
        ..Default::default()
    };
    let v = m.view();
    let ok = |r: &[Placed]| {
        assert_eq!(r.len(), 10);
        for x in r {
            let i = x.index as usize;
            assert_eq!(v.category.unwrap()[i], cat);
            assert!(v.price.unwrap()[i] <= 30.0);
        }
    };
    ok(&bought_together(&m, &[1, 2], Mode::Relaxed, &CoParams::default(), &opts).unwrap());
    ok(&buy_again(&m, &events, &CadenceParams::default(), &opts).unwrap());
    ok(&recently_viewed(&m, &events, &opts).unwrap());
    ok(&trending(&m, Some(cat), &opts).unwrap());
}

#[test]
fn missing_sections_are_typed_errors() {
    let p = plain(20);
    let m = Model::from_bytes(&write_bundle(&p, Dtype::F32).unwrap()).unwrap();
    let o = PlacementOptions::default();
    let e = bought_together(&m, &[1], Mode::Relaxed, &CoParams::default(), &o).unwrap_err();
    assert_eq!(e.code(), "NO_SECTION");
    assert!(e.to_string().contains("CO_PURCHASE") && e.to_string().contains("--baskets"));
    let e = buy_again(&m, &[], &CadenceParams::default(), &o).unwrap_err();
    assert!(e.code() == "NO_SECTION" && e.to_string().contains("CADENCE"));
    let e = trending(&m, None, &o).unwrap_err();
    assert!(e.code() == "NO_SECTION" && e.to_string().contains("--trending-half-life"));
    assert_eq!(trending_facets(&m, 3).unwrap_err().code(), "NO_SECTION");
    // Recently viewed needs no section, and an empty history still fills k.
    let r = recently_viewed(&m, &[], &PlacementOptions { k: 5, ..o.clone() }).unwrap();
    assert_eq!(r.len(), 5);
    assert!(r.iter().all(|x| x.reason == ReasonCode::Popular));
    // Unknown item indices are refused, not skipped.
    let m2 = with_sections(&p, &example_baskets(), &BuildOptions::default());
    let e = bought_together(&m2, &[99], Mode::Strict, &CoParams::default(), &o).unwrap_err();
    assert_eq!(e.code(), "UNKNOWN_ITEM");
    let e = bought_together(&m2, &[], Mode::Strict, &CoParams::default(), &o).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
}

#[test]
fn buy_again_orders_by_cadence_and_recency() {
    let p = plain(10);
    // Item 0: everyone rebuys every 2 baskets; item 1 every 6.
    let mut baskets = Vec::new();
    for u in 0..20u32 {
        for t in 0..12u32 {
            let mut items = vec![9];
            if t % 2 == 0 {
                items.push(0);
            }
            if t % 6 == 0 {
                items.push(1);
            }
            baskets.push(basket(u, t as f64, &items));
        }
    }
    let o = BuildOptions {
        unit: TimeUnit::Baskets,
        ..Default::default()
    };
    let m = with_sections(&p, &baskets, &o);
    let cad = m.view().placements.cadence.unwrap();
    assert_eq!(cad.interval[0], 2.0);
    assert_eq!(cad.interval[1], 6.0);
    assert!(cad.interval[5].is_nan());
    assert_eq!(cad.repeat_rate[0], 1.0);
    let params = CadenceParams {
        half_life: 0.0,
        cadence_weight: 1.0,
        repeat_power: 0.0,
        ..Default::default()
    };
    // Shopper bought 0 and 1 once each, in the same basket, two baskets ago
    // ⇒ 0 (every 2) is due, 1 (every 6) is not.
    let hist = [(0u32, 0.0), (1, 0.0)];
    let s = cadence::score_history(&cad, &hist, 2.0, &params);
    let s0 = s.iter().find(|x| x.index == 0).unwrap().score;
    let s1 = s.iter().find(|x| x.index == 1).unwrap().score;
    assert!(s0 > s1, "{s0} {s1}");
    // Six baskets later it is the other way round.
    let s = cadence::score_history(&cad, &hist, 6.0, &params);
    let s0 = s.iter().find(|x| x.index == 0).unwrap().score;
    let s1 = s.iter().find(|x| x.index == 1).unwrap().score;
    assert!(s1 > s0, "{s0} {s1}");
    // Through the placement, from purchase events grouped into baskets.
    let h = 3_600_000.0;
    let events = [
        Event {
            kind: EventKind::Purchase,
            item: 0,
            ts: 0.0,
        },
        Event {
            kind: EventKind::Purchase,
            item: 1,
            ts: 1000.0,
        },
        Event {
            kind: EventKind::Purchase,
            item: 9,
            ts: 3.0 * h,
        },
    ];
    let (times, now) = purchase_times(&events, TimeUnit::Baskets, 0.0, h);
    assert_eq!(times, vec![(0, 0.0), (1, 0.0), (9, 1.0)]);
    assert_eq!(now, 2.0);
    let r = buy_again(
        &m,
        &events,
        &params,
        &PlacementOptions {
            k: 5,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.len(), 5);
    assert_eq!(
        r[..3]
            .iter()
            .filter(|x| x.reason == ReasonCode::BuyAgain)
            .count(),
        3
    );
    assert!(r[3..].iter().all(|x| x.reason != ReasonCode::BuyAgain));
}

#[test]
fn recently_viewed_dedups_newest_first_without_purchases() {
    let p = plain(30);
    let m = with_sections(&p, &example_baskets(), &BuildOptions::default());
    let ev = |kind, item, ts| Event { kind, item, ts };
    let events = [
        ev(EventKind::View, 3, 1.0),
        ev(EventKind::View, 4, 2.0),
        ev(EventKind::View, 3, 3.0),
        ev(EventKind::View, 5, 4.0),
        ev(EventKind::Purchase, 5, 5.0),
        ev(EventKind::Cart, 7, 6.0),
    ];
    let o = PlacementOptions {
        k: 4,
        fill: false,
        ..Default::default()
    };
    let r = recently_viewed(&m, &events, &o).unwrap();
    assert_eq!(ids(&r), vec![3, 4]);
    assert!(r.iter().all(|x| x.reason == ReasonCode::RecentlyViewed));
    let r = recently_viewed(&m, &events, &PlacementOptions { fill: true, ..o }).unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(ids(&r[..2]), vec![3, 4]);
    assert!(
        !ids(&r).contains(&5),
        "bought since: not in the fill either"
    );
}

#[test]
fn trending_and_facets() {
    let p = plain(40);
    let cats = p.categories.clone().unwrap();
    // Old baskets buy category-0 items, recent ones category-1 items.
    let c0: Vec<u32> = (0..40).filter(|&i| cats[i as usize] == 0).collect();
    let c1: Vec<u32> = (0..40).filter(|&i| cats[i as usize] == 1).collect();
    let mut baskets = Vec::new();
    for d in 0..60 {
        let items = if d < 40 { &c0[..3] } else { &c1[..2] };
        baskets.push(basket(d, d as f64, items));
    }
    let o = BuildOptions {
        trending_half_life: 5.0,
        ..Default::default()
    };
    let m = with_sections(&p, &baskets, &o);
    let r = trending(
        &m,
        None,
        &PlacementOptions {
            k: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(r
        .iter()
        .all(|x| c1.contains(&x.index) && x.reason == ReasonCode::Trending));
    let f = trending_facets(&m, 2).unwrap();
    assert_eq!(f[0].category, 1);
    assert!(f[0].rise > 1.0 && f[1].rise < 1.0);
    // Within a category, trending fills with popular items of that category.
    let r = trending(
        &m,
        Some(0),
        &PlacementOptions {
            k: 6,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.len(), 6.min(c0.len()));
    assert!(r.iter().all(|x| cats[x.index as usize] == 0));
}

fn sample_pool(n: u32) -> (Model, Vec<Basket>) {
    let p = plain(n as usize);
    let baskets: Vec<Basket> = (0..n).map(|i| basket(i, 0.0, &[0, i])).collect();
    (
        with_sections(&p, &baskets, &BuildOptions::default()),
        baskets,
    )
}

#[test]
fn price_levels_move_near_ties_only() {
    let (m, _) = sample_pool(30);
    let prices = m.view().price.unwrap();
    let raw = CoParams::default();
    let base = PlacementOptions {
        k: 10,
        fill: false,
        ..Default::default()
    };
    // All partners of 0 tie (one basket each): price decides at any level.
    let hi = bought_together(
        &m,
        &[0],
        Mode::Strict,
        &raw,
        &PlacementOptions {
            price_level: PriceLevel::Low,
            ..base.clone()
        },
    )
    .unwrap();
    let lo = bought_together(
        &m,
        &[0],
        Mode::Strict,
        &raw,
        &PlacementOptions {
            price_level: PriceLevel::Low,
            prefer_higher_price: false,
            ..base.clone()
        },
    )
    .unwrap();
    let pr = |r: &[Placed]| {
        r.iter()
            .map(|x| prices[x.index as usize])
            .collect::<Vec<f32>>()
    };
    assert!(pr(&hi).windows(2).all(|w| w[0] >= w[1]), "{:?}", pr(&hi));
    assert!(pr(&lo).windows(2).all(|w| w[0] <= w[1]), "{:?}", pr(&lo));
    let none = bought_together(&m, &[0], Mode::Strict, &raw, &base).unwrap();
    let mut a = ids(&none);
    a.sort_unstable();
    assert_eq!(
        ids(&none),
        a,
        "without a price level ties go to the lower index"
    );
}

#[test]
fn rotation_damps_items_shown_without_clicks() {
    let (m, _) = sample_pool(30);
    let base = PlacementOptions {
        k: 5,
        fill: false,
        now_ms: 1000.0,
        ..Default::default()
    };
    let first = bought_together(&m, &[0], Mode::Strict, &CoParams::default(), &base).unwrap();
    let shown: Vec<(u32, u32, f64)> = first.iter().map(|x| (x.index, 3, 900.0)).collect();
    let rot = Rotation {
        impressions: shown,
        rate: 0.5,
        time_ms: 10_000.0,
    };
    let next = bought_together(
        &m,
        &[0],
        Mode::Strict,
        &CoParams::default(),
        &PlacementOptions {
            rotation: Some(rot.clone()),
            ..base.clone()
        },
    )
    .unwrap();
    assert!(
        next.iter().all(|x| !ids(&first).contains(&x.index)),
        "rotated out"
    );
    // After rotationTime the damping has faded.
    let later = bought_together(
        &m,
        &[0],
        Mode::Strict,
        &CoParams::default(),
        &PlacementOptions {
            rotation: Some(rot),
            now_ms: 20_000.0,
            ..base
        },
    )
    .unwrap();
    assert_eq!(ids(&later), ids(&first));
}

#[test]
fn promotions_reserve_their_share() {
    let (m, _) = sample_pool(40);
    let cats = m.view().category.unwrap().to_vec();
    let promo_cat = cats[39];
    let base = PlacementOptions {
        k: 10,
        ..Default::default()
    };
    let plain_r = bought_together(&m, &[0], Mode::Relaxed, &CoParams::default(), &base).unwrap();
    let promo = Promotion {
        items: vec![],
        categories: vec![promo_cat],
        share: 0.3,
    };
    let r = bought_together(
        &m,
        &[0],
        Mode::Relaxed,
        &CoParams::default(),
        &PlacementOptions {
            promotion: Some(promo),
            ..base
        },
    )
    .unwrap();
    assert_eq!(r.len(), 10);
    let promoted: Vec<&Placed> = r
        .iter()
        .filter(|x| cats[x.index as usize] == promo_cat)
        .collect();
    assert!(promoted.len() >= 3, "{}", promoted.len());
    assert!(promoted.iter().all(|x| x.reason == ReasonCode::Promoted));
    // And only the promotion's items say so.
    assert!(r
        .iter()
        .filter(|x| x.reason == ReasonCode::Promoted)
        .all(|x| cats[x.index as usize] == promo_cat));
    // Non-promoted items keep their relative order.
    let rest: Vec<u32> = r
        .iter()
        .filter(|x| cats[x.index as usize] != promo_cat)
        .map(|x| x.index)
        .collect();
    let before: Vec<u32> = plain_r
        .iter()
        .map(|x| x.index)
        .filter(|i| rest.contains(i))
        .collect();
    assert_eq!(rest, before);
}

#[test]
fn sections_round_trip_and_refuse_corruption() {
    let p = plain(6);
    let base = write_bundle(&p, Dtype::F32).unwrap();
    let parts = build::parts(6, &example_baskets(), &BuildOptions::default());
    let b = add_sections(&base, &parts).unwrap();
    let layout = crate::format::parse(&b).unwrap();
    for k in [Kind::CoPurchase, Kind::Cadence, Kind::Trending] {
        assert!(layout.has(k), "{}", k.name());
    }
    // Adding again replaces, never duplicates.
    let b2 = add_sections(&b, &parts).unwrap();
    assert_eq!(b2, b);
    // An inconsistent count is refused at write time, with a typed error.
    let mut bad = parts.clone();
    if let Some(c) = bad.co_purchase.as_mut() {
        c.co_count[0] = 99;
    }
    assert_eq!(add_sections(&base, &bad).unwrap_err().code(), "BAD_SECTION");
    let mut bad = parts.clone();
    if let Some(c) = bad.cadence.as_mut() {
        c.repeat_rate[0] = 2.0;
    }
    assert_eq!(add_sections(&base, &bad).unwrap_err().code(), "BAD_SECTION");
    let wrong_n = build::parts(7, &example_baskets(), &BuildOptions::default());
    assert_eq!(
        add_sections(&base, &wrong_n).unwrap_err().code(),
        "BAD_SECTION"
    );
    // Every byte flip in the new sections is caught (checksum or content), never a panic.
    let start = layout
        .sections
        .iter()
        .find(|s| s.kind == Kind::CoPurchase as u32)
        .unwrap()
        .offset as usize;
    for i in (start..b.len()).step_by(7) {
        let mut c = b.clone();
        c[i] ^= 0x5a;
        assert!(crate::format::parse(&c).is_err());
    }
    let _ = PlacementParts::default();
}

#[test]
fn reason_codes_are_stable() {
    let names: Vec<&str> = ReasonCode::ALL.iter().map(|r| r.name()).collect();
    for want in [
        "history",
        "bought_together",
        "viewed_together",
        "trending",
        "popular",
        "promoted",
        "buy_again",
        "segment",
    ] {
        assert!(names.contains(&want), "{want}");
    }
}

/// A bundle written when the placement sections were introduced must keep
/// loading and answering (tests/fixtures/v1.1-placements.vtr: 40 items, 400
/// synthetic dated baskets, trending half-life 3 days).
#[test]
fn placements_fixture_keeps_loading() {
    let b = include_bytes!("../../tests/fixtures/v1.1-placements.vtr");
    let m = Model::from_bytes(b).expect("fixture loads");
    let p = m.view().placements;
    let co = p.co_purchase.expect("CO_PURCHASE");
    assert_eq!(co.n_baskets, 400);
    assert_eq!(co.partners.len(), 1154);
    let cad = p.cadence.expect("CADENCE");
    assert_eq!(cad.unit, TimeUnit::Days);
    let t = p.trending.expect("TRENDING");
    assert_eq!(t.half_life, 3.0);
    let r = bought_together(
        &m,
        &[0],
        Mode::Relaxed,
        &CoParams::default(),
        &PlacementOptions::default(),
    )
    .unwrap();
    assert_eq!(r.len(), 10);
    assert_eq!(r[0].reason, ReasonCode::BoughtTogether);
    assert_eq!(
        trending(&m, None, &PlacementOptions::default())
            .unwrap()
            .len(),
        10
    );
}

// ---- the business stage on ranked lists (recommend, rerank) ----------------

use crate::shopper::rerank::{self as shop, Profile, RerankOptions};
use crate::shopper::{Event, ProfileOptions};

fn unit_row(m: &Model, i: u32) -> Vec<f32> {
    let r = m.item_row_f32(i as usize).unwrap();
    let n: f32 = r.iter().map(|x| x * x).sum::<f32>().sqrt();
    r.iter().map(|x| x / n).collect()
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn model_recommend_with_business_options() {
    let m = Model::from_bytes(&write_bundle(&plain(400), Dtype::F32).unwrap()).unwrap();
    let cats = m.view().category.unwrap().to_vec();
    let user = m.item_row_f32(3).unwrap();
    let o = crate::engine::RecommendOptions {
        k: 10,
        ..Default::default()
    };
    let plain_top: Vec<u32> = m
        .recommend(&user, &o)
        .unwrap()
        .iter()
        .map(|s| s.index)
        .collect();
    // No option set: the same list as the engine's.
    let same = business::recommend(&m, &user, &o, &Business::default()).unwrap();
    assert_eq!(ids(&same), plain_top);
    // Rotation: the top three, shown 5 times without a click, leave the top three.
    let b = Business {
        rotation: Some(Rotation {
            impressions: plain_top[..3].iter().map(|&i| (i, 5, 900.0)).collect(),
            rate: 0.3,
            time_ms: 10_000.0,
        }),
        now_ms: 1000.0,
        ..Default::default()
    };
    let rot = business::recommend(&m, &user, &o, &b).unwrap();
    assert_eq!(rot.len(), 10);
    for i in &plain_top[..3] {
        let at = ids(&rot).iter().position(|x| x == i);
        assert!(at.is_none_or(|p| p >= 3), "{i} still at {at:?}");
    }
    // ... and once rotationTime has passed, they are back.
    let later = Business {
        now_ms: 20_000.0,
        ..b.clone()
    };
    assert_eq!(
        ids(&business::recommend(&m, &user, &o, &later).unwrap()),
        plain_top
    );
    // Price: preferring lower prices lowers the list's mean price.
    let prices = m.view().price.unwrap();
    let mean =
        |r: &[Placed]| r.iter().map(|p| prices[p.index as usize]).sum::<f32>() / r.len() as f32;
    let price = |higher| Business {
        price_level: PriceLevel::High,
        prefer_higher_price: higher,
        ..Default::default()
    };
    let hi = business::recommend(&m, &user, &o, &price(true)).unwrap();
    let lo = business::recommend(&m, &user, &o, &price(false)).unwrap();
    assert!(mean(&hi) > mean(&lo), "{} vs {}", mean(&hi), mean(&lo));
    // Promotion: 30% of 10 slots for one category, labelled `promoted`.
    let promo_cat = (0..4u32)
        .min_by_key(|c| {
            plain_top
                .iter()
                .filter(|&&i| cats[i as usize] == *c)
                .count()
        })
        .unwrap();
    let pr = business::recommend(
        &m,
        &user,
        &o,
        &Business {
            promotion: Some(Promotion {
                items: vec![],
                categories: vec![promo_cat],
                share: 0.3,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(pr.len(), 10);
    let matching: Vec<&Placed> = pr
        .iter()
        .filter(|p| cats[p.index as usize] == promo_cat)
        .collect();
    assert!(matching.len() >= 3, "{}", matching.len());
    assert!(matching.iter().all(|p| p.reason == ReasonCode::Promoted));
    assert!(pr
        .iter()
        .filter(|p| cats[p.index as usize] != promo_cat)
        .all(|p| p.reason == ReasonCode::History));
    // By score: the matching items are the best-scored items of that category.
    let best_in_cat: Vec<u32> = m
        .recommend(
            &user,
            &crate::engine::RecommendOptions {
                k: matching.len(),
                categories: Some(vec![promo_cat]),
                ..Default::default()
            },
        )
        .unwrap()
        .iter()
        .map(|s| s.index)
        .collect();
    let mut got: Vec<u32> = matching.iter().map(|p| p.index).collect();
    let mut want = best_in_cat.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "promoted by score");
    // A listed item is placed even when its score is low.
    let worst = *m
        .score_indices(&user, &(0..400).collect::<Vec<u32>>())
        .unwrap()
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i as u32)
        .as_ref()
        .unwrap();
    let listed = business::recommend(
        &m,
        &user,
        &o,
        &Business {
            promotion: Some(Promotion {
                items: vec![worst],
                categories: vec![],
                share: 0.1,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(listed.len(), 10);
    assert!(listed
        .iter()
        .any(|p| p.index == worst && p.reason == ReasonCode::Promoted));
    // Filters still hold for promoted items; k past a strip's size is refused.
    let f = crate::engine::RecommendOptions {
        k: 10,
        price_max: Some(20.0),
        ..Default::default()
    };
    let pf = business::recommend(
        &m,
        &user,
        &f,
        &Business {
            promotion: Some(Promotion {
                items: vec![],
                categories: vec![promo_cat],
                share: 0.5,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(pf.iter().all(|p| prices[p.index as usize] <= 20.0));
    let big = crate::engine::RecommendOptions {
        k: 5000,
        ..Default::default()
    };
    let e = business::recommend(&m, &user, &big, &price(true)).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
}

fn view(item: u32, ms: f64) -> Event {
    Event {
        kind: EventKind::View,
        item,
        ts: ms,
    }
}

#[test]
fn shopper_rank_applies_price_promotion_and_keeps_pins() {
    let m = Model::from_bytes(&write_bundle(&plain(300), Dtype::F32).unwrap()).unwrap();
    let cats = m.view().category.unwrap().to_vec();
    let prices = m.view().price.unwrap();
    let now = 10.0 * 60_000.0;
    let evs = vec![view(5, now - 120_000.0), view(6, now - 60_000.0)];
    let popts = ProfileOptions {
        now_ms: now,
        ..Default::default()
    };
    let prof = Profile::build(&m, &evs, &popts, 2.0, None).unwrap();
    let ro = RerankOptions {
        k: 10,
        ..Default::default()
    };
    let base = shop::recommend(&m, &prof, &ro).unwrap();
    let none = business::shopper_rank(&m, &prof, None, &ro, &Business::default()).unwrap();
    assert_eq!(
        none.iter().map(|x| x.0.index).collect::<Vec<_>>(),
        base.iter().map(|x| x.index).collect::<Vec<_>>(),
        "no option: the plain ranking"
    );
    let mean = |r: &[(shop::Ranked, bool)]| {
        r.iter().map(|p| prices[p.0.index as usize]).sum::<f32>() / r.len() as f32
    };
    let price = |higher| Business {
        price_level: PriceLevel::High,
        prefer_higher_price: higher,
        ..Default::default()
    };
    let hi = business::shopper_rank(&m, &prof, None, &ro, &price(true)).unwrap();
    let lo = business::shopper_rank(&m, &prof, None, &ro, &price(false)).unwrap();
    assert!(mean(&hi) > mean(&lo), "{} vs {}", mean(&hi), mean(&lo));
    // rerank over a caller's list: promotions pick from that list only, pins stay.
    let cands: Vec<u32> = (100..160).collect();
    let promo_cat = cats[150];
    let ro_pin = RerankOptions {
        k: 8,
        rules: crate::shopper::Rules {
            pins: vec![(120, 0)],
            exclude_purchased: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let b = Business {
        promotion: Some(Promotion {
            items: vec![],
            categories: vec![promo_cat],
            share: 0.5,
        }),
        ..Default::default()
    };
    let r = business::shopper_rank(&m, &prof, Some(&cands), &ro_pin, &b).unwrap();
    assert_eq!(r.len(), 8);
    assert_eq!(r[0].0.index, 120, "the pin keeps its slot");
    assert!(r.iter().all(|x| cands.contains(&x.0.index)));
    let matching = r
        .iter()
        .filter(|x| cats[x.0.index as usize] == promo_cat)
        .count();
    assert!(matching >= 4, "{matching}");
    assert!(r
        .iter()
        .all(|x| x.1 == (cats[x.0.index as usize] == promo_cat && x.0.index != 120)));
    // A share outside [0, 1] is a typed error.
    let bad = Business {
        promotion: Some(Promotion {
            share: 1.5,
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        business::shopper_rank(&m, &prof, None, &ro, &bad)
            .unwrap_err()
            .code(),
        "INVALID_ARGUMENT"
    );
}

#[test]
fn impressions_without_a_click_push_an_item_down_and_a_click_cancels_it() {
    let m = Model::from_bytes(&write_bundle(&plain(300), Dtype::F32).unwrap()).unwrap();
    let now = 60.0 * 60_000.0;
    let evs = vec![
        view(5, now - 180_000.0),
        view(6, now - 120_000.0),
        view(7, now - 60_000.0),
    ];
    let popts = ProfileOptions {
        now_ms: now,
        ..Default::default()
    };
    let ro = RerankOptions {
        k: 10,
        ..Default::default()
    };
    let rank_with = |events: &[Event], impressions: Vec<(u32, u32, f64)>| {
        let mut prof = Profile::build(&m, events, &popts, 2.0, None).unwrap();
        let mut rot = Rotation {
            impressions,
            rate: 0.2,
            time_ms: 86_400_000.0,
        };
        business::ignore_impressions(&m, &mut prof, events, &mut rot, now);
        let b = Business {
            rotation: Some(rot),
            now_ms: now,
            ..Default::default()
        };
        let r = business::shopper_rank(&m, &prof, None, &ro, &b).unwrap();
        (prof, r.into_iter().map(|x| x.0.index).collect::<Vec<u32>>())
    };
    let (base_prof, base) = rank_with(&evs, vec![]);
    let x = base[0];
    // Shown 4 times in the last minutes, never clicked: it ranks lower.
    let shown = vec![(x, 4, now - 30_000.0)];
    let (prof, pushed) = rank_with(&evs, shown.clone());
    let at = pushed.iter().position(|&i| i == x);
    assert!(at.is_none_or(|p| p > 0), "{x} still first: {pushed:?}");
    // The session vector moved away from it, so items like it sink too.
    let y = unit_row(&m, x);
    assert!(cos(&prof.session_vec, &y) < cos(&base_prof.session_vec, &y));
    // A click (any event on it after its last showing) cancels the signal:
    // the same ranking as that history without impressions.
    let mut clicked = evs.clone();
    clicked.push(view(x, now - 10_000.0));
    let (_, with_click) = rank_with(&clicked, shown);
    let (_, no_imp) = rank_with(&clicked, vec![]);
    assert_eq!(with_click, no_imp);
    // Shown once at rate 0.2: pushed down less than shown 4 times.
    let (_, once) = rank_with(&evs, vec![(x, 1, now - 30_000.0)]);
    let pos = |v: &[u32]| v.iter().position(|&i| i == x).unwrap_or(usize::MAX);
    assert!(pos(&once) <= pos(&pushed));
}

/// A promotion's fill: its most popular matching items that the filter
/// allows, best first, ties to the lower index, the same on every call:
/// listed items alone (duplicates, items the filter drops), categories
/// (the kept order's walk, and its scan when the kept head has too few),
/// both, and a bundle with no ranking signal (index order).
#[test]
fn popular_matching_is_the_promotions_best_allowed_items() {
    let check = |m: &Model, promo: &Promotion, opts: &PlacementOptions, n: usize| {
        let filter = super::Filter::new(m, opts).unwrap();
        let matches = super::promotion_matches(m, promo);
        let pop = super::popularity_scores(m);
        let score = |i: usize| pop.map_or(0.0, |p| p[i]);
        let mut want: Vec<usize> = (0..m.n_items())
            .filter(|&i| matches(i as u32) && filter.allows(i))
            .collect();
        want.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
        want.truncate(n);
        for _ in 0..2 {
            let got = super::popular_matching(m, promo, &filter, n);
            let idx: Vec<usize> = got.iter().map(|s| s.index as usize).collect();
            assert_eq!(idx, want, "n {n}, {promo:?}");
            assert!(got.iter().all(|s| s.score == score(s.index as usize)));
        }
    };
    let (m, _) = sample_pool(2000);
    let cats = m.view().category.unwrap();
    let stock = PlacementOptions {
        in_stock_only: true,
        ..Default::default()
    };
    let promos = [
        Promotion {
            items: vec![],
            categories: vec![cats[7]],
            share: 0.5,
        },
        Promotion {
            items: vec![1999, 4, 4, 700, 3, 1500, 12],
            categories: vec![],
            share: 0.5,
        },
        Promotion {
            items: vec![1999, 4, 700],
            categories: vec![cats[7], cats[8]],
            share: 0.5,
        },
    ];
    for promo in &promos {
        for opts in [&stock, &PlacementOptions::default()] {
            // 300 of one category in stock: more than the kept head holds.
            for n in [1, 5, 40, 300, 2000] {
                check(&m, promo, opts, n);
            }
        }
    }
    // No POPULARITY, TRENDING or bias: the first matching items by index.
    let mut p = plain(300);
    p.popularity = None;
    p.bias = None;
    let bare = Model::from_bytes(&write_bundle(&p, Dtype::F32).unwrap()).unwrap();
    assert!(super::popularity_scores(&bare).is_none());
    let cats = bare.view().category.unwrap();
    let promo = Promotion {
        items: vec![250, 3],
        categories: vec![cats[7]],
        share: 0.5,
    };
    for n in [1, 5, 40, 300] {
        check(&bare, &promo, &stock, n);
    }
}
