use super::*;

/// Rows where the label depends on features 1 (positively) and 4
/// (negatively) through a logistic model; the rest is noise.
fn data(n: usize, seed: u64) -> (Vec<[f32; F]>, Vec<bool>) {
    let mut rng = crate::synth::Rng::new(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let r: [f32; F] = std::array::from_fn(|_| rng.normal());
        let z = -2.0 + 2.5 * r[1] - 1.5 * r[4];
        let p = 1.0 / (1.0 + (-z).exp());
        y.push(rng.uniform() < p);
        x.push(r);
    }
    (x, y)
}

#[test]
fn fit_recovers_the_signs_and_lowers_the_loss() {
    let (x, y) = data(3000, 1);
    let r = fit(&x, &y, &FitOptions::default()).unwrap();
    assert!(r.weights[1] > 1.0, "{:?}", r.weights);
    assert!(r.weights[4] < -0.5, "{:?}", r.weights);
    for j in [0, 2, 3, 5, 6] {
        assert!(
            r.weights[j].abs() < 0.3,
            "noise feature {j}: {:?}",
            r.weights
        );
    }
    let zero = Ranker {
        weights: vec![0.0; F],
        bias: 0.0,
        ..r.clone()
    };
    assert!(loss(&r, &x, &y, 1e-3) < loss(&zero, &x, &y, 1e-3) - 0.1);
}

#[test]
fn stronger_l2_shrinks_the_weights() {
    let (x, y) = data(2000, 2);
    let weak = fit(&x, &y, &FitOptions::default()).unwrap();
    let strong = fit(
        &x,
        &y,
        &FitOptions {
            l2: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let norm = |r: &Ranker| r.weights.iter().map(|w| w * w).sum::<f32>();
    assert!(norm(&strong) < 0.5 * norm(&weak));
}

#[test]
fn the_fitted_weights_are_a_minimum_of_the_loss() {
    // Finite differences: no small step of any weight lowers the objective.
    let (x, y) = data(1500, 3);
    let opts = FitOptions {
        steps: 1500,
        ..Default::default()
    };
    let r = fit(&x, &y, &opts).unwrap();
    let base = loss(&r, &x, &y, opts.l2);
    for j in 0..F {
        for h in [-0.02f32, 0.02] {
            let mut q = r.clone();
            q.weights[j] += h * q.scale[j];
            assert!(
                loss(&q, &x, &y, opts.l2) >= base - 1e-4,
                "weight {j} step {h}"
            );
        }
    }
}

#[test]
fn check_refuses_other_specs_and_non_finite_numbers() {
    let (x, y) = data(500, 4);
    let r = fit(&x, &y, &FitOptions::default()).unwrap();
    assert!(r.check().is_ok());
    let mut bad = r.clone();
    bad.names[3] = "trend".into();
    assert!(bad
        .check()
        .unwrap_err()
        .to_string()
        .contains("spec mismatch"));
    let mut bad = r.clone();
    bad.names.pop();
    assert!(bad.check().is_err());
    let mut bad = r.clone();
    bad.weights[2] = f32::NAN;
    assert_eq!(bad.check().unwrap_err().code(), "INVALID_ARGUMENT");
    let mut bad = r.clone();
    bad.scale[0] = 0.0;
    assert!(bad.check().is_err());
    let mut bad = r;
    bad.bias = f32::INFINITY;
    assert!(bad.check().is_err());
}

#[test]
fn fit_refuses_one_class_and_nan_rows() {
    let (mut x, y) = data(100, 5);
    assert!(fit(&x, &[false; 100], &FitOptions::default()).is_err());
    x[7][2] = f32::NAN;
    assert!(fit(&x, &y, &FitOptions::default()).is_err());
}

#[test]
fn reason_is_the_largest_contribution() {
    let r = Ranker {
        names: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: vec![0.0; F],
        scale: vec![1.0; F],
        weights: (0..F).map(|j| if j == 4 { 2.0 } else { 0.5 }).collect(),
        bias: 0.0,
    };
    let mut x = [0.1f32; F];
    x[4] = 1.0;
    assert_eq!(r.top_feature(&x), 4);
    x[0] = 10.0;
    assert_eq!(r.top_feature(&x), 0);
}

fn bundle(r: Option<Ranker>) -> Model {
    let mut p = crate::synth::catalogue(60, 8, 4, 3);
    let sessions: Vec<Vec<u32>> = (0..200u32)
        .map(|s| (0..4).map(|k| (s + k) % 60).collect())
        .collect();
    p.neighbours = Some(crate::shopper::neighbours::build(
        60,
        &sessions,
        &Default::default(),
    ));
    p.ranker = r;
    Model::from_bytes(&crate::format::write_bundle(&p, crate::format::Dtype::F32).unwrap()).unwrap()
}

fn session_profile(model: &Model, items: &[u32]) -> Profile {
    let ev: Vec<crate::shopper::Event> = items
        .iter()
        .enumerate()
        .map(|(k, &item)| crate::shopper::Event {
            kind: crate::shopper::EventKind::View,
            item,
            ts: 1000.0 * k as f64,
        })
        .collect();
    let opts = crate::shopper::ProfileOptions {
        now_ms: 1e6,
        session_gap_ms: f64::INFINITY,
        ..Default::default()
    };
    Profile::build(model, &ev, &opts, 2.0, None).unwrap()
}

fn only(feature: usize, w: f32) -> Ranker {
    Ranker {
        names: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: vec![0.0; F],
        scale: vec![1.0; F],
        weights: (0..F).map(|j| if j == feature { w } else { 0.0 }).collect(),
        bias: 0.0,
    }
}

/// What the device does: the bundle's status decides the options' ranker.
fn serve(m: &Model, prof: &Profile) -> (Vec<crate::shopper::Ranked>, Used) {
    let used = status(m);
    let opts = crate::shopper::rerank::RerankOptions {
        k: 5,
        ranker: match &used {
            Used::Ranker(r) => Some(r.clone()),
            _ => None,
        },
        ..Default::default()
    };
    (
        crate::shopper::rerank::recommend(m, prof, &opts).unwrap(),
        used,
    )
}

#[test]
fn bundle_ranker_drives_recommend_and_falls_back() {
    let items = [10u32, 11, 12];
    // A ranker that only rewards items already in the session puts them first.
    let m = bundle(Some(only(5, 1.0)));
    let prof = session_profile(&m, &items);
    assert_eq!(prof.items, items);
    let (recs, used) = serve(&m, &prof);
    assert!(matches!(used, Used::Ranker(_)));
    let top: Vec<u32> = recs.iter().take(3).map(|r| r.index).collect();
    let mut sorted = top.clone();
    sorted.sort();
    assert_eq!(sorted, items, "{top:?}");
    let f = recs[0].feature.map(usize::from).unwrap();
    assert_eq!(reason_feature(f), Some("in_session"));
    // The shopper sees "you viewed it", not the blend's reason.
    assert_eq!(
        recs[0].reason,
        crate::shopper::Reason::History {
            item: recs[0].index,
            weight: prof
                .session
                .iter()
                .find(|s| s.0 == recs[0].index)
                .unwrap()
                .1
        }
    );
    // Rewarding the link from the last item puts its neighbours first instead,
    // with the last item as the reason.
    let m2 = bundle(Some(only(4, 1.0)));
    let (recs2, _) = serve(&m2, &prof);
    assert!(!items.contains(&recs2[0].index));
    assert_eq!(recs2[0].feature, Some(4));
    assert!(
        matches!(
            recs2[0].reason,
            crate::shopper::Reason::Neighbour { item: 12, .. }
        ),
        "{:?}",
        recs2[0].reason
    );
    // No section: the blend, and no feature on the results.
    let m3 = bundle(None);
    let (recs3, used3) = serve(&m3, &prof);
    assert_eq!(used3, Used::Blend);
    assert!(recs3.iter().all(|r| r.feature.is_none()));
    // NaN weights load (structure is fine) and fall back to the blend.
    let mut nan = only(5, 1.0);
    nan.weights[0] = f32::NAN;
    let m4 = bundle(Some(nan));
    assert!(from_model(&m4).unwrap().is_err());
    let (recs4, used4) = serve(&m4, &prof);
    assert!(
        matches!(&used4, Used::BlendFallback(why) if why.contains("not finite")),
        "{used4:?}"
    );
    assert_eq!(recs4, recs3, "the fallback is exactly the blend");
    // A feature this build does not compute: refused, blend.
    let mut other = only(5, 1.0);
    other.names[9] = "moon_phase".into();
    let m5 = bundle(Some(other));
    assert!(
        matches!(serve(&m5, &prof).1, Used::BlendFallback(why) if why.contains("spec mismatch"))
    );
    // A feature named twice: refused, blend.
    let mut twice = only(5, 1.0);
    twice.names[9] = "trend".into();
    let m6 = bundle(Some(twice));
    assert!(
        matches!(serve(&m6, &prof).1, Used::BlendFallback(why) if why.contains("twice")),
        "{:?}",
        serve(&m6, &prof).1
    );
}

#[test]
fn ranker_scores_keep_the_merchandising_rules() {
    let items = [10u32, 11, 12];
    let m = bundle(Some(only(5, 1.0)));
    let prof = session_profile(&m, &items);
    let Used::Ranker(r) = status(&m) else {
        panic!("ranker refused")
    };
    let base = crate::shopper::rerank::RerankOptions {
        k: 5,
        ranker: Some(r),
        ..Default::default()
    };
    // Bury the session items the ranker puts first, pin another at 0.
    let mut o = base.clone();
    o.rules.bury = items.to_vec();
    o.rules.pins = vec![(40, 0)];
    let recs = crate::shopper::rerank::recommend(&m, &prof, &o).unwrap();
    assert_eq!(recs[0].index, 40);
    assert_eq!(recs[0].reason, crate::shopper::Reason::Pinned);
    assert!(
        recs[1..].iter().all(|x| !items.contains(&x.index)),
        "{recs:?}"
    );
    // A boost adds to the ranker's logit.
    let mut o = base.clone();
    o.rules.boost = vec![(41, 100.0)];
    let recs = crate::shopper::rerank::recommend(&m, &prof, &o).unwrap();
    assert_eq!(recs[0].index, 41);
}

#[test]
fn features_see_the_session_order() {
    let m = bundle(None);
    let prof = session_profile(&m, &[10, 11, 10, 12]);
    let cands: Vec<u32> = vec![10, 11, 12, 30];
    let ranked = crate::shopper::rerank::rerank(
        &m,
        &prof,
        &cands,
        &crate::shopper::rerank::RerankOptions {
            rules: Default::default(),
            ..Default::default()
        },
    )
    .unwrap();
    let x = features(&m, &prof, &ranked);
    let at = |i: u32| x[ranked.iter().position(|r| r.index == i).unwrap()];
    // last_position: 12 is the newest event, 10 two back, 11 three back.
    assert_eq!(at(12)[7], 1.0);
    assert_eq!(at(10)[7], 0.5);
    assert!((at(11)[7] - 1.0 / 3.0).abs() < 1e-6);
    assert_eq!(at(30)[5], 0.0);
    assert_eq!(at(10)[5], 1.0);
    // Reciprocal ranks are in (0, 1], one candidate each at rank 1.
    for j in [11, 12, 13] {
        assert!(x.iter().all(|r| (0.0..=1.0).contains(&r[j])));
        assert!(x.iter().filter(|r| r[j] == 1.0).count() <= 1);
    }
}

#[test]
fn a_row_weight_counts_as_that_many_copies() {
    let (x, y) = data(400, 9);
    // Every negative at even index twice, versus once with weight 2.
    let (mut xd, mut yd) = (x.clone(), y.clone());
    let mut w = vec![1.0f32; y.len()];
    for k in (0..y.len()).step_by(2).filter(|&k| !y[k]) {
        xd.push(x[k]);
        yd.push(false);
        w[k] = 2.0;
    }
    let o = FitOptions {
        steps: 200,
        ..Default::default()
    };
    let a = fit(&xd, &yd, &o).unwrap();
    let b = fit_weighted(&x, &y, &w, &o).unwrap();
    for j in 0..F {
        assert!(
            (a.weights[j] - b.weights[j]).abs() < 1e-3,
            "{j}: {a:?} {b:?}"
        );
        assert!((a.mean[j] - b.mean[j]).abs() < 1e-4);
    }
    assert!((loss(&a, &xd, &yd, 1e-3) - loss_weighted(&a, &x, &y, &w, 1e-3)).abs() < 1e-9);
    // Weights must be positive and finite, one per row.
    assert!(fit_weighted(&x, &y, &w[1..], &o).is_err());
    let mut bad = w.clone();
    bad[3] = 0.0;
    assert!(fit_weighted(&x, &y, &bad, &o).is_err());
    bad[3] = f32::NAN;
    assert!(fit_weighted(&x, &y, &bad, &o).is_err());
}

/// A bundle written before `co_purchase` and `trend` existed: `vitrine
/// session synth --items 120 --dim 8 --sessions 400 --segments 3 --seed 5
/// --ranker trained`, by the build of 2026-11-30 with the 15 features of
/// [`FEATURES_V1`].
const OLD_BUNDLE: &[u8] = include_bytes!("../../tests/fixtures/v1.2-ranker15.vtr");

fn raw_section(m: &Model) -> Ranker {
    crate::format::ranker::decode(m.view().ranker.unwrap()).unwrap()
}

/// The fixture plus CO_PURCHASE and TRENDING from a few baskets.
fn with_placements(bytes: &[u8]) -> Model {
    use crate::placements::build::{co_purchase, trending, Basket, BuildOptions};
    let n = Model::from_bytes(bytes).unwrap().n_items();
    let b = |time: f64, items: &[u32]| Basket {
        user: 0,
        time,
        items: items.to_vec(),
    };
    let mut baskets = vec![
        b(100.0, &[10, 20]),
        b(100.0, &[10, 20]),
        b(100.0, &[10, 20]),
    ];
    baskets.push(b(100.0, &[10, 21]));
    baskets.push(b(100.0, &[10]));
    baskets.push(b(100.0, &[10]));
    for _ in 0..4 {
        baskets.push(b(0.0, &[30]));
    }
    let o = BuildOptions::default();
    let parts = crate::format::placements::PlacementParts {
        co_purchase: Some(co_purchase(n, &baskets, &o)),
        cadence: None,
        trending: Some(trending(
            n,
            &baskets,
            14.0,
            crate::format::placements::TimeUnit::Days,
        )),
    };
    // `include_bytes!` gives no alignment guarantee; the parser views
    // PRICE_F64 in place, so copy to an aligned buffer first.
    let aligned = crate::format::AlignedBuf::from_slice(bytes).unwrap();
    let with = crate::format::placements::add_sections(aligned.as_slice(), &parts).unwrap();
    Model::from_bytes(&with).unwrap()
}

fn blend_ranked(m: &Model, prof: &Profile, cands: &[u32]) -> Vec<crate::shopper::Ranked> {
    crate::shopper::rerank::rerank(
        m,
        prof,
        cands,
        &crate::shopper::rerank::RerankOptions {
            rules: Default::default(),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn an_old_spec_ranker_is_used_by_name_and_scores_as_before() {
    let m = Model::from_bytes(OLD_BUNDLE).unwrap();
    let raw = raw_section(&m);
    assert_eq!(raw.names, FEATURES_V1, "the fixture has the old spec");
    // As it stands it does not match this build's spec...
    assert!(raw
        .check()
        .unwrap_err()
        .to_string()
        .contains("spec mismatch"));
    // ...but every name is one this build computes: used, by name.
    let Used::Ranker(r) = status(&m) else {
        panic!("old ranker refused: {:?}", status(&m))
    };
    assert_eq!(r.names, FEATURES);
    assert_eq!(missing_features(&m), Some(vec!["co_purchase", "trend"]));
    for (k, name) in FEATURES.iter().enumerate() {
        match FEATURES_V1.iter().position(|n| n == name) {
            Some(o) => {
                assert_eq!(r.weights[k], raw.weights[o]);
                assert_eq!(r.mean[k], raw.mean[o]);
                assert_eq!(r.scale[k], raw.scale[o]);
            }
            None => assert_eq!((r.weights[k], r.mean[k], r.scale[k]), (0.0, 0.0, 1.0)),
        }
    }
    // Served scores are the old 15-feature logit, even on a bundle whose
    // new features are not 0 (CO_PURCHASE and TRENDING present).
    let m = with_placements(OLD_BUNDLE);
    let prof = session_profile(&m, &[10, 11, 40]);
    let cands: Vec<u32> = (0..120).collect();
    let x = features(&m, &prof, &blend_ranked(&m, &prof, &cands));
    assert!(x.iter().any(|f| f[15] != 0.0) && x.iter().any(|f| f[16] != 0.0));
    let (recs, used) = serve(&m, &prof);
    assert!(matches!(used, Used::Ranker(_)));
    let ranked = blend_ranked(&m, &prof, &cands);
    for rec in &recs {
        let k = ranked.iter().position(|q| q.index == rec.index).unwrap();
        let old: f32 = raw.bias
            + (0..FEATURES_V1.len())
                .map(|j| raw.weights[j] * (x[k][j] - raw.mean[j]) / raw.scale[j])
                .sum::<f32>();
        assert!((rec.score - old).abs() < 1e-5, "{} vs {old}", rec.score);
    }
}

#[test]
fn co_purchase_and_trend_come_from_their_sections() {
    let m = with_placements(OLD_BUNDLE);
    let at = |prof: &Profile, i: u32| {
        let ranked = blend_ranked(&m, prof, &[20, 21, 30, 50]);
        let k = ranked.iter().position(|r| r.index == i).unwrap();
        features(&m, prof, &ranked)[k]
    };
    // Item 10 is in 6 baskets, 3 of them with 20, 1 with 21.
    let one = session_profile(&m, &[10]);
    assert!((at(&one, 20)[15] - 0.5).abs() < 1e-6);
    assert!((at(&one, 21)[15] - 1.0 / 6.0).abs() < 1e-6);
    assert_eq!(at(&one, 50)[15], 0.0);
    // Two session items: the recency-weighted mean of P(c | s).
    let two = session_profile(&m, &[10, 50]);
    let w: Vec<f32> = [10u32, 50]
        .iter()
        .map(|i| two.session.iter().find(|s| s.0 == *i).unwrap().1)
        .collect();
    let want = w[0] / (w[0] + w[1]) * 0.5;
    assert!((at(&two, 20)[15] - want).abs() < 1e-6, "{want}");
    // Trend: 20's purchases are all at the reference day, 30's 100 days
    // (7.1 half-lives) before it.
    assert!(at(&one, 20)[16].abs() < 1e-6);
    let recent30 = 4.0 * 0.5f32.powf(100.0 / 14.0);
    assert!((at(&one, 30)[16] - ((recent30 + 1.0) / 5.0).ln()).abs() < 1e-4);
    assert!(at(&one, 30)[16] < -1.0);
    // Without the sections both features are 0 for every candidate.
    let plain = Model::from_bytes(OLD_BUNDLE).unwrap();
    let prof = session_profile(&plain, &[10]);
    let x = features(
        &plain,
        &prof,
        &blend_ranked(&plain, &prof, &(0..120).collect::<Vec<_>>()),
    );
    assert!(x.iter().all(|f| f[15] == 0.0 && f[16] == 0.0));
}

/// Train and serve cannot drift: the training examples' features
/// (`features`, as `eval::ranker::examples` computes them) are those the
/// serving path computes inside `rerank` (`features_with_rows` with the rows
/// it copied), and the served score is the ranker's logit of them.
#[test]
fn serving_computes_the_training_features() {
    let m = with_placements(OLD_BUNDLE);
    // A ranker with every feature weighted, so each one moves the score.
    let r = Ranker {
        names: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: vec![0.1; F],
        scale: vec![0.7; F],
        weights: (0..F).map(|j| 0.3 + 0.1 * j as f32).collect(),
        bias: -0.5,
    };
    let mut all = Vec::new();
    for items in [&[10u32][..], &[10, 11, 10, 40, 20], &[3, 70, 71, 72, 3, 90]] {
        let prof = session_profile(&m, items);
        assert!(prof.segment.is_some(), "the segment feature is exercised");
        let cands: Vec<u32> = (0..120).rev().collect();
        let ranked = blend_ranked(&m, &prof, &cands);
        let train = features(&m, &prof, &ranked);
        let rows: Vec<f32> = ranked
            .iter()
            .flat_map(|q| m.item_row_f32(q.index as usize).unwrap())
            .collect();
        assert_eq!(features_with_rows(&m, &prof, &ranked, Some(&rows)), train);
        // The rank features by their definition: 1 / (1 + candidates with a
        // larger part, or an equal one earlier in the list), 0 at part ≤ 0.
        for (j, part) in [(11usize, 0usize), (12, 1), (13, 3)] {
            for (k, q) in ranked.iter().enumerate() {
                let v = q.parts[part];
                let want = if v > 0.0 {
                    let ahead = ranked
                        .iter()
                        .enumerate()
                        .filter(|(i, o)| o.parts[part] > v || (o.parts[part] == v && *i < k))
                        .count();
                    1.0 / (ahead + 1) as f32
                } else {
                    0.0
                };
                assert_eq!(train[k][j], want, "{} of {}", FEATURES[j], q.index);
            }
        }
        all.extend_from_slice(&train);
        // The served scores: rerank (candidate order) with the ranker.
        let served = crate::shopper::rerank::rerank(
            &m,
            &prof,
            &cands,
            &crate::shopper::rerank::RerankOptions {
                rules: Default::default(),
                ranker: Some(r.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        let serve_x = features(&m, &prof, &blend_ranked(&m, &prof, &cands));
        for s in &served {
            let k = ranked.iter().position(|q| q.index == s.index).unwrap();
            // Rank features break exact ties by list order, so compare the
            // scores where no tie can differ: the same rows, same logit.
            assert_eq!(serve_x[k], train[k]);
            assert!((s.score - r.score(&train[k])).abs() < 1e-4, "{}", s.index);
            assert_eq!(s.feature.map(usize::from), Some(r.top_feature(&train[k])));
        }
    }
    // Every feature varies somewhere, so the agreement above covers each
    // (none silently stuck at a constant).
    for j in 0..F {
        assert!(
            all.iter().any(|x| x[j] != all[0][j]),
            "feature {} is constant",
            FEATURES[j]
        );
    }
}

/// The evaluation scores the blend and the ranker on one candidate pool
/// without reasons (`eval::session::score_test`): the same lists as
/// `recommend` with reasons, which the device runs.
#[test]
fn one_pool_without_reasons_ranks_as_recommend() {
    use crate::shopper::rerank::{candidates, recommend, rerank, RerankOptions};
    let m = with_placements(OLD_BUNDLE);
    let Used::Ranker(r) = status(&m) else {
        panic!("ranker refused")
    };
    for items in [&[10u32][..], &[10, 11, 10, 40, 20], &[3, 70, 71, 72, 3, 90]] {
        let prof = session_profile(&m, items);
        for ranker in [None, Some(r.clone())] {
            let device = RerankOptions {
                k: 20,
                rules: Default::default(),
                ranker,
                ..Default::default()
            };
            let eval = RerankOptions {
                reason_depth: 0,
                ..device.clone()
            };
            let ids =
                |v: Vec<crate::shopper::Ranked>| v.into_iter().map(|x| x.index).collect::<Vec<_>>();
            let pool = candidates(&m, &prof, &eval).unwrap();
            assert_eq!(
                ids(rerank(&m, &prof, &pool, &eval).unwrap()),
                ids(recommend(&m, &prof, &device).unwrap())
            );
        }
    }
}
