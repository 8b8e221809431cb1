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

#[test]
fn bundle_ranker_drives_recommend_and_falls_back() {
    use crate::shopper::rerank::RerankOptions;
    let items = [10u32, 11, 12];
    let ctx = Context {
        items: items.to_vec(),
    };
    let opts = RerankOptions {
        k: 5,
        ..Default::default()
    };
    // A ranker that only rewards items already in the session puts them first.
    let m = bundle(Some(only(5, 1.0)));
    let prof = session_profile(&m, &items);
    let (recs, used) = recommend(&m, &prof, &ctx, &opts).unwrap();
    assert_eq!(used, Used::Ranker);
    let top: Vec<u32> = recs.iter().take(3).map(|r| r.0.index).collect();
    let mut sorted = top.clone();
    sorted.sort();
    assert_eq!(sorted, items, "{top:?}");
    assert_eq!(reason_feature(recs[0].1), Some("in_session"));
    // Rewarding the link from the last item puts its neighbours first instead.
    let m2 = bundle(Some(only(4, 1.0)));
    let (recs2, _) = recommend(&m2, &prof, &ctx, &opts).unwrap();
    assert!(!items.contains(&recs2[0].0.index));
    assert_eq!(reason_feature(recs2[0].1), Some("neighbour_last"));
    // No section: the blend.
    let m3 = bundle(None);
    assert_eq!(recommend(&m3, &prof, &ctx, &opts).unwrap().1, Used::Blend);
    // NaN weights load (structure is fine) and fall back to the blend.
    let mut nan = only(5, 1.0);
    nan.weights[0] = f32::NAN;
    let m4 = bundle(Some(nan));
    assert!(from_model(&m4).unwrap().is_err());
    assert_eq!(
        recommend(&m4, &prof, &ctx, &opts).unwrap().1,
        Used::BlendFallback
    );
    // Another feature spec: refused, blend.
    let mut other = only(5, 1.0);
    other.names[9] = "trend".into();
    let m5 = bundle(Some(other));
    assert_eq!(
        recommend(&m5, &prof, &ctx, &opts).unwrap().1,
        Used::BlendFallback
    );
}
