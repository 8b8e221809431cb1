#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "test code: small, known values"
)]

use super::neighbours::{build, NeighbourOptions};
use super::rerank::{recommend, rerank, Profile, Reason, RerankOptions};
use super::segments::{assign, kmeans};
use super::*;
use crate::engine::Model;
use crate::format::{write_bundle, BundleParts, Dtype, Gram, Segments};

fn parts(n: usize, d: usize, seed: u64) -> BundleParts {
    crate::synth::catalogue(n, d, 4, seed)
}

fn model(p: &BundleParts) -> Model {
    Model::from_bytes(&write_bundle(p, Dtype::F32).expect("write")).expect("load")
}

/// Dense Gaussian elimination with partial pivoting, f64: the reference solve.
fn solve_dense(mut a: Vec<f64>, mut b: Vec<f64>, d: usize) -> Vec<f64> {
    for c in 0..d {
        let p = (c..d)
            .max_by(|&x, &y| a[x * d + c].abs().partial_cmp(&a[y * d + c].abs()).unwrap())
            .unwrap();
        for j in 0..d {
            a.swap(c * d + j, p * d + j);
        }
        b.swap(c, p);
        for r in c + 1..d {
            let f = a[r * d + c] / a[c * d + c];
            for j in c..d {
                a[r * d + j] -= f * a[c * d + j];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0f64; d];
    for r in (0..d).rev() {
        let s: f64 = (r + 1..d).map(|j| a[r * d + j] * x[j]).sum();
        x[r] = (b[r] - s) / a[r * d + r];
    }
    x
}

fn normal_equations(p: &BundleParts, hist: &[(u32, f32)]) -> Vec<f64> {
    let d = p.dim;
    let g = p.gram.as_ref().unwrap();
    let n = p.ids.len();
    // Y from scratch, not from the stored Gram: checks the Gram too.
    let mut a = vec![0f64; d * d];
    let mut b = vec![0f64; d];
    for i in 0..n {
        let y = &p.factors[i * d..(i + 1) * d];
        let c = hist
            .iter()
            .find(|h| h.0 as usize == i)
            .map_or(1.0, |h| 1.0 + g.alpha as f64 * h.1 as f64);
        for r in 0..d {
            for s in 0..d {
                a[r * d + s] += c * y[r] as f64 * y[s] as f64;
            }
            if c > 1.0 || hist.iter().any(|h| h.0 as usize == i) {
                b[r] += c * y[r] as f64;
            }
        }
    }
    for r in 0..d {
        a[r * d + r] += g.lambda as f64;
    }
    solve_dense(a, b, d)
}

#[test]
fn fold_in_matches_dense_normal_equations() {
    let p = parts(60, 8, 3);
    let m = model(&p);
    let hist = vec![(3u32, 1.0f32), (17, 3.0), (40, 0.5), (59, 5.0)];
    let f = fold_in(&m, &hist).unwrap();
    let want = normal_equations(&p, &hist);
    assert!(!f.regularized);
    for (a, b) in f.user.iter().zip(&want) {
        assert!((*a as f64 - b).abs() < 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn contributions_sum_to_the_score() {
    let p = parts(80, 12, 5);
    let m = model(&p);
    let hist = vec![(1u32, 1.0f32), (2, 2.0), (30, 1.0), (77, 4.0)];
    let f = fold_in(&m, &hist).unwrap();
    for i in [0usize, 5, 30, 79] {
        let y = m.item_row_f32(i).unwrap();
        let score: f32 = f.user.iter().zip(&y).map(|(a, b)| a * b).sum();
        let parts = f.contributions(&y);
        assert_eq!(parts.len(), 4);
        let sum: f32 = parts.iter().map(|c| c.1).sum();
        assert!(
            (sum - score).abs() < 1e-4 * (1.0 + score.abs()),
            "{sum} vs {score}"
        );
    }
    // An item in the history explains itself most (positive definite W).
    let y = m.item_row_f32(77).unwrap();
    assert_eq!(f.top_reason(&y).unwrap().0, 77);
}

#[test]
fn singular_system_falls_back_to_a_regularized_solve() {
    let mut p = parts(20, 6, 9);
    p.gram = Some(Gram {
        yty: vec![0.0; 36],
        lambda: 0.0,
        alpha: 1.0,
    });
    let m = model(&p);
    let f = fold_in(&m, &[(4, 1.0)]).unwrap();
    assert!(f.regularized);
    assert!(f.user.iter().all(|v| v.is_finite()));
    let y = m.item_row_f32(4).unwrap();
    assert!(f.user.iter().zip(&y).map(|(a, b)| a * b).sum::<f32>() > 0.0);
}

#[test]
fn fold_in_refuses_bad_input() {
    let p = parts(10, 4, 1);
    let m = model(&p);
    assert_eq!(
        fold_in(&m, &[(10, 1.0)]).unwrap_err().code(),
        "UNKNOWN_ITEM"
    );
    assert_eq!(
        fold_in(&m, &[(1, f32::NAN)]).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
    let mut q = parts(10, 4, 1);
    q.gram = None;
    assert_eq!(
        fold_in(&model(&q), &[(1, 1.0)]).unwrap_err().code(),
        "MISSING_CAPABILITY"
    );
}

fn ev(kind: EventKind, item: u32, min: f64) -> Event {
    Event {
        kind,
        item,
        ts: min * 60_000.0,
    }
}

#[test]
fn sessions_split_on_inactivity_and_weights_aggregate() {
    let evs = vec![
        ev(EventKind::View, 1, 0.0),
        ev(EventKind::Cart, 1, 10.0),
        ev(EventKind::View, 2, 50.0),
        ev(EventKind::Purchase, 3, 60.0),
    ];
    let s = sessions(&evs, 30.0 * 60_000.0);
    assert_eq!(s, vec![0..2, 2..4]);
    let opts = ProfileOptions {
        now_ms: 70.0 * 60_000.0,
        ..Default::default()
    };
    assert_eq!(current_session(&evs, &opts).len(), 2);
    let late = ProfileOptions {
        now_ms: 200.0 * 60_000.0,
        ..Default::default()
    };
    assert!(current_session(&evs, &late).is_empty());
    assert_eq!(aggregate(&evs, &opts), vec![(1, 4.0), (2, 1.0), (3, 5.0)]);
    let decayed = ProfileOptions {
        half_life_days: Some(1.0 / 24.0 / 60.0 * 60.0), // one hour
        ..opts
    };
    let a = aggregate(&evs, &decayed);
    // Item 1's view is 70 min old: 0.5^(70/60).
    let want = 0.5f32.powf(70.0 / 60.0) + 3.0 * 0.5f32.powf(1.0);
    assert!((a[0].1 - want).abs() < 1e-4, "{a:?}");
}

#[test]
fn rules_pin_bury_cap_and_exclude() {
    let p = parts(40, 8, 11);
    let m = model(&p);
    let evs = vec![ev(EventKind::View, 0, 0.0), ev(EventKind::Purchase, 5, 1.0)];
    let popts = ProfileOptions {
        now_ms: 2.0 * 60_000.0,
        ..Default::default()
    };
    let prof = Profile::build(&m, &evs, &popts, 2.0, None).unwrap();
    let cands: Vec<u32> = (0..40).collect();
    let base = rerank(&m, &prof, &cands, &RerankOptions::default()).unwrap();
    assert!(base.iter().all(|r| r.index != 5), "purchased item excluded");
    assert_eq!(base.len(), 39);
    for w in base.windows(2) {
        assert!(w[0].score >= w[1].score);
    }
    let top = base[0].index;
    let mut o = RerankOptions::default();
    o.rules.bury = vec![top];
    o.rules.pins = vec![(base[30].index, 0)];
    o.rules.exclude = vec![base[1].index];
    let r = rerank(&m, &prof, &cands, &o).unwrap();
    assert_eq!(r[0].index, base[30].index);
    assert_eq!(r[0].reason, Reason::Pinned);
    assert_eq!(r.last().unwrap().index, top);
    assert!(r.iter().all(|x| x.index != base[1].index));
    // Category cap 2: among the first entries no category appears more than twice.
    let cats = p.categories.as_ref().unwrap();
    let mut o = RerankOptions::default();
    o.rules.category_cap = Some(2);
    o.k = 8;
    let r = rerank(&m, &prof, &cands, &o).unwrap();
    let mut counts = std::collections::HashMap::new();
    for x in &r {
        *counts.entry(cats[x.index as usize]).or_insert(0) += 1;
    }
    assert!(counts.values().all(|&c| c <= 2), "{counts:?}");
    // Boost moves an item to the top.
    let mut o = RerankOptions::default();
    o.rules.boost = vec![(base[20].index, 100.0)];
    assert_eq!(
        rerank(&m, &prof, &cands, &o).unwrap()[0].index,
        base[20].index
    );
}

#[test]
fn mmr_avoids_near_duplicates() {
    let d = 4;
    let mut p = parts(6, d, 2);
    // Items 0 and 1 identical and best; item 2 different, slightly worse.
    p.factors = vec![
        1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.7, 0.7, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0,
        0.0, 1.0, -1.0, 0.0, 0.0, 0.0,
    ];
    p.popularity = Some(vec![1.0; 6]);
    let m = model(&p);
    let prof = Profile {
        cold_user: Some(vec![1.0, 0.2, 0.0, 0.0]),
        ..Default::default()
    };
    let cands: Vec<u32> = (0..6).collect();
    let plain = rerank(&m, &prof, &cands, &RerankOptions::default()).unwrap();
    assert_eq!(plain[0].index, 0);
    assert_eq!(plain[1].index, 1);
    let o = RerankOptions {
        mmr_lambda: 0.5,
        ..Default::default()
    };
    let div = rerank(&m, &prof, &cands, &o).unwrap();
    assert_eq!(div[0].index, 0);
    assert_ne!(div[1].index, 1, "{div:?}");
    assert_eq!(div.len(), 6);
}

#[test]
fn recommend_uses_history_and_explains() {
    let mut p = parts(300, 16, 21);
    let sessions: Vec<Vec<u32>> = (0..200)
        .map(|s| vec![s % 50, (s % 50) + 100, (s % 50) + 200])
        .collect();
    p.neighbours = Some(build(300, &sessions, &NeighbourOptions::default()));
    let m = model(&p);
    let evs = vec![ev(EventKind::View, 7, 0.0), ev(EventKind::Cart, 9, 1.0)];
    let popts = ProfileOptions {
        now_ms: 2.0 * 60_000.0,
        ..Default::default()
    };
    let prof = Profile::build(&m, &evs, &popts, 2.0, None).unwrap();
    let o = RerankOptions {
        k: 10,
        ..Default::default()
    };
    let r = recommend(&m, &prof, &o).unwrap();
    assert_eq!(r.len(), 10);
    // The strongest co-occurrence partner of the newest item shows up with a neighbour reason.
    assert!(
        r.iter()
            .any(|x| matches!(x.reason, Reason::Neighbour { item: 9, .. })),
        "{r:?}"
    );
    for x in &r {
        if let Reason::History { item, .. } = x.reason {
            assert!(item == 7 || item == 9);
        }
    }
    // Cold start: popularity order.
    let cold = Profile::build(&m, &[], &popts, 2.0, None).unwrap();
    let c = recommend(&m, &cold, &o).unwrap();
    let pop = m
        .popular(&crate::engine::RecommendOptions {
            k: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        c.iter().map(|x| x.index).collect::<Vec<_>>(),
        pop.iter().map(|x| x.index).collect::<Vec<_>>()
    );
    assert!(c.iter().all(|x| x.reason == Reason::Popular));
}

/// Every source of the shopper's candidate pool keeps the catalogue filters,
/// the session's neighbour links included (the scan and the popular list
/// are filtered by the engine; the links by the shopper itself).
#[test]
fn recommend_keeps_the_filters_on_every_source() {
    let mut p = parts(300, 16, 21);
    let sessions: Vec<Vec<u32>> = (0..200)
        .map(|s| vec![s % 50, (s % 50) + 100, (s % 50) + 200])
        .collect();
    p.neighbours = Some(build(300, &sessions, &NeighbourOptions::default()));
    // Categories by item, prices rising with the index, every third item
    // out of stock: each filter below rejects some of the session's partners.
    p.categories = Some((0..300).map(|i| i % 4).collect());
    p.prices = Some((0..300).map(|i| f64::from(i) + 0.5).collect());
    p.in_stock = Some((0..300).map(|i| i % 3 != 0).collect());
    let m = model(&p);
    let evs: Vec<Event> = [7, 9, 11, 13]
        .iter()
        .enumerate()
        .map(|(k, &i)| ev(EventKind::View, i, k as f64))
        .collect();
    let popts = ProfileOptions {
        now_ms: 5.0 * 60_000.0,
        ..Default::default()
    };
    let prof = Profile::build(&m, &evs, &popts, 5.0, None).unwrap();
    type Case = (
        &'static str,
        crate::engine::RecommendOptions,
        fn(u32) -> bool,
    );
    let filters: [Case; 4] = [
        (
            "category",
            crate::engine::RecommendOptions {
                categories: Some(vec![1]),
                ..Default::default()
            },
            |i| i % 4 == 1,
        ),
        (
            "price",
            crate::engine::RecommendOptions {
                price_min: Some(150.0),
                price_max: Some(260.0),
                ..Default::default()
            },
            |i| (150..260).contains(&i),
        ),
        (
            "stock",
            crate::engine::RecommendOptions {
                in_stock_only: true,
                ..Default::default()
            },
            |i| i % 3 != 0,
        ),
        (
            "all three",
            crate::engine::RecommendOptions {
                categories: Some(vec![2, 3]),
                price_max: Some(230.0),
                in_stock_only: true,
                ..Default::default()
            },
            |i| matches!(i % 4, 2 | 3) && i < 230 && i % 3 != 0,
        ),
    ];
    let open = super::rerank::candidates(
        &m,
        &prof,
        &RerankOptions {
            k: 10,
            ..Default::default()
        },
    )
    .unwrap();
    for (name, filter, passes) in filters {
        // The test can fail: unfiltered, the pool holds items this filter rejects.
        assert!(open.iter().any(|&i| !passes(i)), "{name}: {open:?}");
        let o = RerankOptions {
            k: 10,
            filter,
            ..Default::default()
        };
        let pool = super::rerank::candidates(&m, &prof, &o).unwrap();
        assert!(!pool.is_empty(), "{name}");
        assert!(pool.iter().all(|&i| passes(i)), "{name}: {pool:?}");
        let r = recommend(&m, &prof, &o).unwrap();
        assert!(!r.is_empty(), "{name}");
        assert!(r.iter().all(|x| passes(x.index)), "{name}: {r:?}");
    }
}

#[test]
fn kmeans_recovers_separated_blobs_and_assign_picks_nearest() {
    let mut rng = crate::synth::Rng::new(4);
    let centers = [[5.0f32, 0.0], [-5.0, 0.0], [0.0, 6.0]];
    let mut data = Vec::new();
    for i in 0..300 {
        let c = centers[i % 3];
        data.push(c[0] + 0.3 * rng.normal());
        data.push(c[1] + 0.3 * rng.normal());
    }
    let (cents, asg) = kmeans(&data, 2, 3, 50, 1);
    assert_eq!(cents.len(), 6);
    for i in 0..300 {
        assert_eq!(asg[i], asg[i % 3], "row {i}");
    }
    for c in centers {
        assert!(cents
            .chunks(2)
            .any(|x| (x[0] - c[0]).abs() < 0.2 && (x[1] - c[1]).abs() < 0.2));
    }
    let seg = Segments {
        dim: 2,
        centroids: cents.clone(),
        names: vec![],
    };
    let view = crate::format::read::SegmentsView {
        k: 3,
        dim: 2,
        centroids: &seg.centroids,
        names: None,
    };
    let (s, dist) = assign(&view, &[4.0, 0.0]).unwrap();
    assert!((cents[s * 2] - 5.0).abs() < 0.2);
    assert!((dist - 1.0).abs() < 0.3);
    assert!(assign(&view, &[1.0, 2.0, 3.0]).is_none());
}

#[test]
fn neighbours_builder_links_cooccurring_items() {
    let sessions = vec![vec![0, 1, 2], vec![0, 1], vec![3, 4], vec![0, 9, 1]];
    let nb = build(5, &sessions, &NeighbourOptions::default());
    assert_eq!(nb.offsets.len(), 6);
    let of = |i: usize| -> Vec<(u32, f32)> {
        let (a, b) = (nb.offsets[i] as usize, nb.offsets[i + 1] as usize);
        nb.items[a..b]
            .iter()
            .copied()
            .zip(nb.weights[a..b].iter().copied())
            .collect()
    };
    let n0 = of(0);
    assert_eq!(n0[0].0, 1, "{n0:?}");
    assert!(n0.iter().all(|x| x.0 != 3 && x.0 != 4 && x.0 != 9));
    assert!(n0.iter().all(|x| x.1 > 0.0 && x.1 <= 1.0));
    assert_eq!(of(3), vec![(4, 1.0)]);
    let capped = build(
        5,
        &sessions,
        &NeighbourOptions {
            top_n: 1,
            ..Default::default()
        },
    );
    assert_eq!(capped.offsets[1], 1);
}

#[test]
fn neighbours_builder_direction_and_damping() {
    // 1 follows 0 three times; 2 precedes 0 three times; 3 follows 0 once and is rare.
    let sessions = vec![
        vec![2, 0, 1],
        vec![2, 0, 1],
        vec![2, 0, 1],
        vec![0, 3],
        vec![1, 4],
        vec![1, 4],
    ];
    let of = |o: &NeighbourOptions| -> Vec<(u32, f32)> {
        let nb = build(5, &sessions, o);
        let (a, b) = (nb.offsets[0] as usize, nb.offsets[1] as usize);
        nb.items[a..b]
            .iter()
            .copied()
            .zip(nb.weights[a..b].iter().copied())
            .collect()
    };
    let w = |row: &[(u32, f32)], j: u32| row.iter().find(|x| x.0 == j).map_or(0.0, |x| x.1);
    // Symmetric cosine: 1 and 2 each co-occur with 0 three times at distance 1.
    let sym = of(&NeighbourOptions {
        backward: 1.0,
        damping: 0.5,
        ..Default::default()
    });
    assert!(
        (w(&sym, 2) - 3.0 / (4.0f32 * 3.0).sqrt()).abs() < 1e-6,
        "{sym:?}"
    );
    assert!(
        (w(&sym, 1) - 3.0 / (4.0f32 * 5.0).sqrt()).abs() < 1e-6,
        "{sym:?}"
    );
    // Forward only: what came before 0 is no neighbour of 0.
    let fwd = of(&NeighbourOptions {
        backward: 0.0,
        damping: 0.5,
        ..Default::default()
    });
    assert_eq!(w(&fwd, 2), 0.0, "{fwd:?}");
    assert_eq!(fwd[0].0, 1);
    // Half-weight backward links rank below forward ones of the same count.
    let half = of(&NeighbourOptions {
        backward: 0.5,
        damping: 0.0,
        ..Default::default()
    });
    assert_eq!(half[0].0, 1, "{half:?}");
    // damping 0: the rate at which the target follows the source (3 of 4).
    assert!((w(&half, 1) - 0.75).abs() < 1e-6, "{half:?}");
    // damping 1 favours the rare follower (3 occurs once).
    let rare = of(&NeighbourOptions {
        backward: 0.0,
        damping: 1.0,
        ..Default::default()
    });
    assert_eq!(rare[0].0, 3, "{rare:?}");
}

#[test]
fn heapsort_matches_std_sort() {
    let mut rng = crate::synth::Rng::new(8);
    for n in [0usize, 1, 2, 3, 10, 257] {
        let mut v: Vec<u32> = (0..n).map(|_| (rng.next_u64() % 50) as u32).collect();
        let mut want = v.clone();
        want.sort();
        sort_by(&mut v, |a, b| a < b);
        assert_eq!(v, want, "n={n}");
    }
}

/// The radix sort is the standard library's stable sort by key: keys that
/// share bytes (skipped passes), differ in one byte only, in all eight,
/// repeat (stability: payloads keep their order), at every length up to the
/// insertion sort's cutoff and past it.
#[test]
fn radix_sort_matches_std_stable_sort() {
    let mut rng = crate::synth::Rng::new(11);
    let shapes: [fn(u64) -> u64; 5] = [
        |r| r,
        |r| r % 7,
        |r| (r % 300) << 40,
        |r| ((r % 50_000) << 32) | ((r >> 40) % 3),
        |r| u64::MAX - (r % 1_000),
    ];
    for (si, shape) in shapes.iter().enumerate() {
        for n in (0..70).chain([255, 256, 1_000, 4_097]) {
            let mut v: Vec<(u64, u32)> =
                (0..n).map(|i| (shape(rng.next_u64()), i as u32)).collect();
            let mut want = v.clone();
            want.sort_by_key(|e| e.0);
            sort_by_key_u64(&mut v);
            assert_eq!(v, want, "shape {si}, n = {n}");
        }
    }
}

#[test]
fn segments_section_round_trips_through_a_bundle() {
    let mut p = parts(50, 4, 6);
    let mut rng = crate::synth::Rng::new(2);
    let users: Vec<f32> = (0..400)
        .map(|i| if i % 8 < 4 { 3.0 } else { -3.0 } + 0.1 * rng.normal())
        .collect();
    p.segments = Some(super::segments::section(&users, 4, 2, None, 1));
    let m = model(&p);
    let sv = m.segments().unwrap();
    assert_eq!(sv.k, 2);
    assert_eq!(sv.names.unwrap().get(1), Some("segment 2"));
    let (s, dist) = assign(&sv, &[3.0, 3.0, 3.0, 3.0]).unwrap();
    assert!(dist < 0.5);
    assert!(sv.centroids[s * 4] > 2.5);
}

// ---- hostile options and bundles ---------------------------------------------

#[test]
fn candidate_pool_is_bounded_by_the_catalogue() {
    let p = parts(300, 16, 5);
    let m = model(&p);
    let popts = ProfileOptions {
        now_ms: 2.0 * 60_000.0,
        ..Default::default()
    };
    let evs = vec![ev(EventKind::View, 7, 0.0)];
    let prof = Profile::build(&m, &evs, &popts, 2.0, None).unwrap();
    let o = RerankOptions {
        k: 10,
        pool: 20_000_000,
        ..Default::default()
    };
    // Not 3 × 2e7 reserved (240 MB per call): no more than the catalogue
    // from each of the three sources.
    let c = super::rerank::candidates(&m, &prof, &o).unwrap();
    assert!(c.capacity() <= 4 * 300, "{}", c.capacity());
    let r = recommend(&m, &prof, &o).unwrap();
    assert_eq!(r.len(), 10);
}

#[test]
fn segment_index_is_checked() {
    let mut p = parts(50, 8, 2);
    p.segments = Some(Segments {
        dim: 8,
        centroids: p.factors[..3 * 8].to_vec(),
        names: vec![],
    });
    let m = model(&p);
    let popts = ProfileOptions::default();
    let k = m.segments().unwrap().k as u32;
    for s in [k, 8_388_608, u32::MAX] {
        let e = Profile::build(&m, &[], &popts, 2.0, Some(s)).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT", "segment {s}");
    }
    let ok = Profile::build(&m, &[], &popts, 2.0, Some(k - 1)).unwrap();
    assert_eq!(ok.segment.map(|s| s.0), Some(k - 1));
}

#[test]
fn rerank_refuses_a_candidate_list_too_large_to_copy() {
    let d = 64;
    let n = super::rerank::MAX_RERANK_VALUES / d + 10;
    // A tiny fake: only the shape matters (n items × d), so one row repeated.
    let mut p = parts(n, d, 1);
    p.gram = None;
    p.neighbours = None;
    p.segments = None;
    let m = Model::from_bytes(&write_bundle(&p, Dtype::I8).unwrap()).unwrap();
    let prof = Profile::default();
    let all: Vec<u32> = (0..n as u32).collect();
    let e = rerank(&m, &prof, &all, &RerankOptions::default()).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert!(e.to_string().contains("too many"), "{e}");
    assert_eq!(
        rerank(&m, &prof, &all[..100], &RerankOptions::default())
            .unwrap()
            .len(),
        100
    );
}

#[test]
fn fold_in_keeps_the_user_inside_the_scored_range() {
    // A valid but near-singular Gram (1e-30·I, λ = 0, α = 0): the plain solve
    // gives u = 1e30 · Σ y, finite in f32 but far outside ±1e12; the ridge
    // brings it back, flagged `regularized`.
    let mut p = parts(20, 6, 9);
    let mut yty = vec![0.0; 36];
    for a in 0..6 {
        yty[a * 6 + a] = 1e-30;
    }
    p.gram = Some(Gram {
        yty,
        lambda: 0.0,
        alpha: 0.0,
    });
    let m = model(&p);
    let f = fold_in(&m, &[(4, 1.0), (5, 3.0)]).unwrap();
    assert!(f.regularized);
    assert!(f
        .user
        .iter()
        .all(|v| v.abs() <= crate::format::limits::MAX_USER_ABS));
    m.recommend(
        &f.user,
        &crate::engine::RecommendOptions {
            k: 5,
            ..Default::default()
        },
    )
    .unwrap();
}

/// Any bundle that loads (GRAM and SEGMENTS mutated behind valid checksums)
/// gives the shopper finite scores: fold-in, recommend and cold start never
/// fail with an error that blames the caller.
#[test]
fn shopper_scores_finitely_on_any_bundle_that_loads() {
    use crate::format::write::{assemble, encode_sections, reseal_all};
    use crate::format::Kind;
    let mut rng = crate::synth::Rng::new(5);
    let mut p = parts(60, 8, 13);
    p.segments = Some(Segments {
        dim: 8,
        centroids: p.factors[..3 * 8].to_vec(),
        names: vec![],
    });
    let sections = encode_sections(&p, Dtype::F32).unwrap();
    let base = assemble(&sections);
    let gram_at = |b: &[u8]| {
        let layout =
            crate::format::parse(crate::format::AlignedBuf::from_slice(b).unwrap().as_slice())
                .unwrap();
        let s = layout
            .sections
            .iter()
            .find(|s| s.kind == Kind::Gram as u32)
            .unwrap();
        (s.offset as usize, s.length as usize)
    };
    let (g_off, g_len) = gram_at(&base);
    let popts = ProfileOptions {
        now_ms: 2.0 * 60_000.0,
        ..Default::default()
    };
    let evs = vec![ev(EventKind::View, 3, 0.0), ev(EventKind::Purchase, 7, 1.0)];
    let mut loaded = 0;
    for _ in 0..1500 {
        let mut c = base.clone();
        for _ in 0..1 + rng.next_u64() % 3 {
            // λ, α or a Gram entry (4-byte aligned inside the section).
            let i = g_off + 8 + 4 * ((rng.next_u64() as usize) % ((g_len - 8) / 4));
            let v: f32 = match rng.next_u64() % 5 {
                0 => 1e34,
                1 => -1e30,
                2 => 1e-38,
                3 => 0.0,
                _ => f32::from_bits(rng.next_u64() as u32),
            };
            c[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        reseal_all(&mut c);
        let Ok(m) = Model::from_bytes(&c) else {
            continue;
        };
        loaded += 1;
        let prof = Profile::build(&m, &evs, &popts, 2.0, None).expect("fold-in on a loaded bundle");
        if let Some(f) = &prof.fold {
            assert!(f
                .user
                .iter()
                .all(|v| v.abs() <= crate::format::limits::MAX_USER_ABS));
        }
        let r = recommend(
            &m,
            &prof,
            &RerankOptions {
                k: 5,
                ..Default::default()
            },
        )
        .expect("recommend");
        assert!(r.iter().all(|x| x.score.is_finite()), "{r:?}");
        let cold = Profile::build(&m, &[], &popts, 2.0, Some(1)).unwrap();
        let r = recommend(
            &m,
            &cold,
            &RerankOptions {
                k: 5,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.iter().all(|x| x.score.is_finite()), "{r:?}");
    }
    assert!(loaded > 100, "{loaded}");
}
