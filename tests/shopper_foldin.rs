//! On-device fold-in (src/shopper) against the trainer's own user solve
//! (src/train/als.rs) for users in the training data.

use vitrine::engine::Model;
use vitrine::format::{write_bundle, BundleParts, Dtype, Gram};
use vitrine::shopper::fold_in;
use vitrine::train::als::{self, AlsParams, Csr, Solver};

/// A small implicit dataset with structure: users in 3 taste groups.
fn dataset(users: usize, items: usize, seed: u64) -> Vec<(u32, u32, f32)> {
    let mut rng = vitrine::synth::Rng::new(seed);
    let mut t = Vec::new();
    for u in 0..users as u32 {
        let g = u % 3;
        for i in 0..items as u32 {
            let like = if i % 3 == g { 0.35 } else { 0.04 };
            if rng.uniform() < like {
                t.push((u, i, 1.0 + (rng.next_u64() % 3) as f32));
            }
        }
    }
    t
}

fn bundle(items: &ndarray::Array2<f32>, lambda: f32, alpha: f32) -> Model {
    let (n, d) = items.dim();
    let yty: Vec<f32> = als::gram(items).iter().copied().collect();
    let parts = BundleParts {
        ids: (0..n).map(|i| format!("i{i}")).collect(),
        dim: d,
        factors: items.iter().copied().collect(),
        gram: Some(Gram { yty, lambda, alpha }),
        ..Default::default()
    };
    Model::from_bytes(&write_bundle(&parts, Dtype::F32).expect("write")).expect("load")
}

fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    let num: f32 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt();
    let den: f32 = b.iter().map(|y| y * y).sum::<f32>().sqrt().max(1e-6);
    num / den
}

#[test]
fn fold_in_equals_the_trainers_user_solve() {
    let (nu, ni) = (60, 45);
    let t = dataset(nu, ni, 3);
    let m = Csr::from_triplets(nu, ni, &t);
    let params = AlsParams {
        factors: 8,
        iterations: 25,
        alpha: 2.0,
        lambda: 0.5,
        solver: Solver::Cholesky,
        threads: 1,
        ..Default::default()
    };
    let trained = als::train(&m, &params, |_| {}).expect("train");
    let model = bundle(&trained.item_factors, params.lambda, params.alpha);
    let yty: Vec<f32> = als::gram(&trained.item_factors).iter().copied().collect();
    let mut worst_exact = 0f32;
    let mut worst_trained = 0f32;
    for u in 0..nu {
        let (idx, r) = m.row(u);
        let hist: Vec<(u32, f32)> = idx.iter().copied().zip(r.iter().copied()).collect();
        if hist.is_empty() {
            continue;
        }
        let ours = fold_in(&model, &hist).expect("fold-in").user;
        // The trainer's exact row solve (the code path of its Cholesky half-step).
        let theirs = als::fold_in(
            trained.item_factors.view(),
            &yty,
            params.lambda,
            params.alpha,
            &hist,
        );
        worst_exact = worst_exact.max(rel_err(&ours, &theirs));
        // And the user row the trainer converged to (solved against the
        // previous iteration's items, hence a looser bound).
        let row: Vec<f32> = trained.user_factors.row(u).to_vec();
        worst_trained = worst_trained.max(rel_err(&ours, &row));
    }
    assert!(
        worst_exact < 1e-4,
        "fold-in vs trainer solve: relative error {worst_exact}"
    );
    assert!(
        worst_trained < 2e-2,
        "fold-in vs trained user rows: relative error {worst_trained}"
    );
}

#[test]
fn quantized_bundles_stay_close() {
    let (nu, ni) = (40, 30);
    let t = dataset(nu, ni, 9);
    let m = Csr::from_triplets(nu, ni, &t);
    let params = AlsParams {
        factors: 6,
        iterations: 10,
        alpha: 1.0,
        lambda: 0.3,
        solver: Solver::Cholesky,
        threads: 1,
        ..Default::default()
    };
    let trained = als::train(&m, &params, |_| {}).expect("train");
    let (n, d) = trained.item_factors.dim();
    let yty: Vec<f32> = als::gram(&trained.item_factors).iter().copied().collect();
    let parts = BundleParts {
        ids: (0..n).map(|i| format!("i{i}")).collect(),
        dim: d,
        factors: trained.item_factors.iter().copied().collect(),
        gram: Some(Gram {
            yty: yty.clone(),
            lambda: params.lambda,
            alpha: params.alpha,
        }),
        ..Default::default()
    };
    let f16 = Model::from_bytes(&write_bundle(&parts, Dtype::F16).unwrap()).unwrap();
    let (idx, r) = m.row(0);
    let hist: Vec<(u32, f32)> = idx.iter().copied().zip(r.iter().copied()).collect();
    let ours = fold_in(&f16, &hist).unwrap().user;
    let theirs = als::fold_in(
        trained.item_factors.view(),
        &yty,
        params.lambda,
        params.alpha,
        &hist,
    );
    assert!(rel_err(&ours, &theirs) < 1e-2);
}
