//! Implicit-feedback ALS (Hu, Koren & Volinsky, ICDM 2008).
//!
//! Objective: `Σ_{u,i} c_ui (p_ui − x_uᵀy_i)² + λ(Σ‖x_u‖² + Σ‖y_i‖²)` with
//! `c_ui = 1 + α·r_ui` for observed pairs (`p = 1`) and `c = 1, p = 0`
//! elsewhere. The regulariser is *not* scaled by per-row counts (same as the
//! `implicit` library), so the two trainers optimise the same function.
//!
//! Each half-step solves `(YᵀY + λI + Yᵀ(C_u − I)Y) x_u = YᵀC_u p_u` for every
//! row. The default solver runs a few warm-started conjugate-gradient steps
//! using the precomputed Gram matrix, which touches only the row's observed
//! items; `Cholesky` forms and factorises the full system (exact, slower).
//!
//! Rows are independent, so a half-step is data-parallel over rows with rayon;
//! every row's arithmetic is fixed regardless of scheduling and reductions are
//! done in chunk order, so a seed gives bit-identical factors on a machine.

use super::error::{Result, TrainError};
use super::kernels::{axpy_k, cholesky_solve, dot_k, matvec_k};
use crate::rng::Rng;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// Sparse rows (CSR). `data` holds `α·r` (that is `c − 1`), ready for the solver.
#[derive(Clone, Debug, Default)]
pub struct Csr {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub data: Vec<f32>,
}

impl Csr {
    /// Builds from `(row, col, value)` triplets; duplicates must already be merged.
    pub fn from_triplets(n_rows: usize, n_cols: usize, t: &[(u32, u32, f32)]) -> Csr {
        let mut counts = vec![0usize; n_rows + 1];
        for &(r, _, _) in t {
            counts[r as usize + 1] += 1;
        }
        for i in 0..n_rows {
            counts[i + 1] += counts[i];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0u32; t.len()];
        let mut data = vec![0f32; t.len()];
        for &(r, c, v) in t {
            let k = next[r as usize];
            indices[k] = c;
            data[k] = v;
            next[r as usize] += 1;
        }
        let mut m = Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        };
        m.sort_rows();
        m
    }

    fn sort_rows(&mut self) {
        for r in 0..self.n_rows {
            let (s, e) = (self.indptr[r], self.indptr[r + 1]);
            let mut pairs: Vec<(u32, f32)> = self.indices[s..e]
                .iter()
                .copied()
                .zip(self.data[s..e].iter().copied())
                .collect();
            pairs.sort_by_key(|p| p.0);
            for (k, (c, v)) in pairs.into_iter().enumerate() {
                self.indices[s + k] = c;
                self.data[s + k] = v;
            }
        }
    }

    pub fn transpose(&self) -> Csr {
        let mut t = Vec::with_capacity(self.indices.len());
        for r in 0..self.n_rows {
            for k in self.indptr[r]..self.indptr[r + 1] {
                t.push((self.indices[k], r as u32, self.data[k]));
            }
        }
        Csr::from_triplets(self.n_cols, self.n_rows, &t)
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (s, e) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[s..e], &self.data[s..e])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Solver {
    Cg,
    Cholesky,
}

#[derive(Clone, Debug)]
pub struct AlsParams {
    pub factors: usize,
    pub iterations: usize,
    pub alpha: f32,
    pub lambda: f32,
    pub cg_steps: usize,
    pub solver: Solver,
    pub seed: u64,
    /// 0 = all cores.
    pub threads: usize,
    /// Initial factors are uniform in `[0, init_scale)`, or in
    /// `[-init_scale/2, init_scale/2)` when `init_centered`.
    pub init_scale: f32,
    pub init_centered: bool,
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 64,
            iterations: 15,
            alpha: 1.0,
            lambda: 0.1,
            cg_steps: 3,
            solver: Solver::Cg,
            seed: 42,
            threads: 0,
            init_scale: 0.01,
            init_centered: false,
        }
    }
}

impl AlsParams {
    pub fn validate(&self) -> Result<()> {
        if self.factors == 0 {
            return Err(TrainError::Config("--factors must be > 0".into()));
        }
        if self.factors > 4096 {
            return Err(TrainError::Config("--factors must be <= 4096".into()));
        }
        if self.iterations == 0 {
            return Err(TrainError::Config("--iterations must be > 0".into()));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(TrainError::Config("--alpha must be finite and >= 0".into()));
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(TrainError::Config(
                "--lambda must be finite and >= 0".into(),
            ));
        }
        if self.solver == Solver::Cg && self.cg_steps == 0 {
            return Err(TrainError::Config("--cg-steps must be > 0".into()));
        }
        if !(self.init_scale.is_finite() && self.init_scale > 0.0) {
            return Err(TrainError::Config(
                "init scale must be finite and > 0".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct AlsModel {
    pub user_factors: Array2<f32>,
    pub item_factors: Array2<f32>,
    /// Normalised training loss after each iteration.
    pub loss: Vec<f64>,
    pub train_time: Duration,
    /// CPU seconds of the whole process during training (all threads), if known.
    pub train_cpu_seconds: Option<f64>,
}

/// What a progress display needs after each iteration.
pub struct Progress {
    pub iteration: usize,
    pub iterations: usize,
    pub loss: f64,
    pub elapsed: Duration,
}

fn random_factors(rows: usize, d: usize, rng: &mut Rng, scale: f32, centered: bool) -> Array2<f32> {
    let shift = if centered { 0.5 } else { 0.0 };
    Array2::from_shape_fn((rows, d), |_| (rng.uniform() - shift) * scale)
}

/// `FᵀF` through ndarray's GEMM (deterministic, single-threaded).
pub fn gram(f: &Array2<f32>) -> Array2<f32> {
    f.t().dot(f)
}

struct Scratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
    a64: Vec<f64>,
    b64: Vec<f64>,
}

impl Scratch {
    fn new(d: usize, solver: Solver) -> Self {
        let n = if solver == Solver::Cholesky { d } else { 0 };
        Scratch {
            r: vec![0.0; d],
            p: vec![0.0; d],
            ap: vec![0.0; d],
            a64: vec![0.0; n * n],
            b64: vec![0.0; n],
        }
    }
}

/// Warm-started CG on one row; `g` is `FᵀF + λI`.
#[inline(always)]
fn cg_row<const F: bool>(
    x: &mut [f32],
    g: &[f32],
    idx: &[u32],
    cm1: &[f32],
    other: &[f32],
    steps: usize,
    s: &mut Scratch,
) {
    let d = x.len();
    let (r, p, ap) = (&mut s.r[..], &mut s.p[..], &mut s.ap[..]);
    matvec_k::<F>(g, x, r);
    for v in r.iter_mut() {
        *v = -*v;
    }
    for (&i, &c1) in idx.iter().zip(cm1) {
        let y = &other[i as usize * d..(i as usize + 1) * d];
        let coef = (1.0 + c1) - c1 * dot_k::<F>(y, x);
        axpy_k::<F>(coef, y, r);
    }
    p.copy_from_slice(r);
    let mut rsold = dot_k::<F>(r, r);
    if rsold < 1e-20 {
        return;
    }
    for _ in 0..steps {
        matvec_k::<F>(g, p, ap);
        for (&i, &c1) in idx.iter().zip(cm1) {
            let y = &other[i as usize * d..(i as usize + 1) * d];
            axpy_k::<F>(c1 * dot_k::<F>(y, p), y, ap);
        }
        let pap = dot_k::<F>(p, ap);
        if pap.is_nan() || pap <= 0.0 {
            break;
        }
        let a = rsold / pap;
        axpy_k::<F>(a, p, x);
        axpy_k::<F>(-a, ap, r);
        let rsnew = dot_k::<F>(r, r);
        if rsnew < 1e-20 {
            break;
        }
        let beta = rsnew / rsold;
        for (pi, ri) in p.iter_mut().zip(r.iter()) {
            *pi = ri + beta * *pi;
        }
        rsold = rsnew;
    }
}

/// Exact solve on one row; `g` is `FᵀF + λI`.
#[inline(always)]
fn cholesky_row(
    x: &mut [f32],
    g: &[f32],
    idx: &[u32],
    cm1: &[f32],
    other: &[f32],
    s: &mut Scratch,
) {
    let d = x.len();
    for (a, &v) in s.a64.iter_mut().zip(g) {
        *a = v as f64;
    }
    s.b64.iter_mut().for_each(|b| *b = 0.0);
    for (&i, &c1) in idx.iter().zip(cm1) {
        let y = &other[i as usize * d..(i as usize + 1) * d];
        for j in 0..d {
            let yj = (c1 * y[j]) as f64;
            s.b64[j] += (1.0 + c1 as f64) * y[j] as f64;
            let row = &mut s.a64[j * d..(j + 1) * d];
            for k in 0..d {
                row[k] += yj * y[k] as f64;
            }
        }
    }
    if cholesky_solve(&mut s.a64, &mut s.b64, d) {
        for (xi, &b) in x.iter_mut().zip(&s.b64) {
            *xi = b as f32;
        }
    }
}

/// Arguments shared by every chunk of a half-step.
struct HalfStep<'a> {
    m: &'a Csr,
    other: &'a [f32],
    g_reg: &'a [f32],
    /// `FᵀF` without λ, for the loss term; empty if the loss is not wanted.
    g_plain: &'a [f32],
    d: usize,
    params: &'a AlsParams,
}

/// Solves rows `first..first + chunk.len()/d` and returns their loss terms
/// `yᵀ(FᵀF)y + Σ_obs [c(1−s)² − s²]` (if requested).
#[inline(always)]
fn half_step_chunk<const F: bool>(h: &HalfStep<'_>, first: usize, chunk: &mut [f32]) -> f64 {
    let d = h.d;
    let mut s = Scratch::new(d, h.params.solver);
    let mut loss = 0.0f64;
    for (k, x) in chunk.chunks_exact_mut(d).enumerate() {
        let (idx, cm1) = h.m.row(first + k);
        match h.params.solver {
            Solver::Cg => cg_row::<F>(x, h.g_reg, idx, cm1, h.other, h.params.cg_steps, &mut s),
            Solver::Cholesky => cholesky_row(x, h.g_reg, idx, cm1, h.other, &mut s),
        }
        if !h.g_plain.is_empty() {
            matvec_k::<F>(h.g_plain, x, &mut s.ap);
            let mut l = dot_k::<F>(x, &s.ap) as f64;
            for (&i, &c1) in idx.iter().zip(cm1) {
                let y = &h.other[i as usize * d..(i as usize + 1) * d];
                let sc = dot_k::<F>(y, x) as f64;
                let c = 1.0 + c1 as f64;
                l += c * (1.0 - sc) * (1.0 - sc) - sc * sc;
            }
            loss += l;
        }
    }
    loss
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn half_step_chunk_avx2(h: &HalfStep<'_>, first: usize, chunk: &mut [f32]) -> f64 {
    half_step_chunk::<true>(h, first, chunk)
}

fn run_chunk(h: &HalfStep<'_>, first: usize, chunk: &mut [f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the enabled features (checked just above).
            return unsafe { half_step_chunk_avx2(h, first, chunk) };
        }
    }
    half_step_chunk::<false>(h, first, chunk)
}

const ROWS_PER_TASK: usize = 32;

/// Updates every row of `target` given the fixed `other` factors.
fn half_step(
    m: &Csr,
    target: &mut Array2<f32>,
    other: &Array2<f32>,
    params: &AlsParams,
    want_loss: bool,
) -> f64 {
    let d = params.factors;
    let g_plain = gram(other);
    let mut g_reg = g_plain.clone();
    for j in 0..d {
        g_reg[[j, j]] += params.lambda;
    }
    let g_plain_s = g_plain.as_slice().unwrap_or(&[]);
    let h = HalfStep {
        m,
        other: other.as_slice().unwrap_or(&[]),
        g_reg: g_reg.as_slice().unwrap_or(&[]),
        g_plain: if want_loss { g_plain_s } else { &[] },
        d,
        params,
    };
    let tslice = match target.as_slice_mut() {
        Some(s) => s,
        None => return f64::NAN,
    };
    let parts: Vec<f64> = tslice
        .par_chunks_mut(ROWS_PER_TASK * d)
        .enumerate()
        .map(|(c, chunk)| run_chunk(&h, c * ROWS_PER_TASK, chunk))
        .collect();
    parts.iter().sum()
}

fn sq_norm(a: &Array2<f32>) -> f64 {
    a.iter().map(|&v| (v as f64) * (v as f64)).sum()
}

/// Trains on a user×item matrix whose `data` are raw weights `r` (not yet
/// multiplied by α). `on_iter` is called after every iteration.
pub fn train(ui: &Csr, params: &AlsParams, mut on_iter: impl FnMut(&Progress)) -> Result<AlsModel> {
    params.validate()?;
    if ui.nnz() == 0 || ui.n_rows == 0 || ui.n_cols == 0 {
        return Err(TrainError::Empty("the interaction matrix is empty".into()));
    }
    let start = Instant::now();
    let cpu0 = super::process_cpu_seconds();
    let mut cui = ui.clone();
    for v in cui.data.iter_mut() {
        *v *= params.alpha;
    }
    let ciu = cui.transpose();
    let total_conf: f64 = cui.data.iter().map(|&v| 1.0 + v as f64).sum::<f64>()
        + (ui.n_rows as f64 * ui.n_cols as f64 - ui.nnz() as f64);

    // The raw seed as the state: the factors every published model was
    // trained from.
    let mut rng = Rng::from_state(params.seed);
    let mut users = random_factors(
        ui.n_rows,
        params.factors,
        &mut rng,
        params.init_scale,
        params.init_centered,
    );
    let mut items = random_factors(
        ui.n_cols,
        params.factors,
        &mut rng,
        params.init_scale,
        params.init_centered,
    );

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(params.threads)
        .build()
        .map_err(|e| TrainError::Config(format!("thread pool: {e}")))?;
    let mut losses = Vec::with_capacity(params.iterations);
    for it in 0..params.iterations {
        let raw = pool.install(|| {
            half_step(&cui, &mut users, &items, params, false);
            half_step(&ciu, &mut items, &users, params, true)
        });
        let loss = (raw + params.lambda as f64 * (sq_norm(&users) + sq_norm(&items))) / total_conf;
        if !loss.is_finite() {
            return Err(TrainError::NonFinite { iteration: it + 1 });
        }
        losses.push(loss);
        on_iter(&Progress {
            iteration: it + 1,
            iterations: params.iterations,
            loss,
            elapsed: start.elapsed(),
        });
    }
    let train_time = start.elapsed();
    let train_cpu_seconds = match (cpu0, super::process_cpu_seconds()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(AlsModel {
        user_factors: users,
        item_factors: items,
        loss: losses,
        train_time,
        train_cpu_seconds,
    })
}

/// Recomputes one user's factors from scratch (exact solve), the way the
/// browser folds in a new shopper: useful to check the exported Gram matrix.
pub fn fold_in(
    items: ArrayView2<'_, f32>,
    yty: &[f32],
    lambda: f32,
    alpha: f32,
    seen: &[(u32, f32)],
) -> Vec<f32> {
    let d = items.ncols();
    let mut g = yty.to_vec();
    for j in 0..d {
        g[j * d + j] += lambda;
    }
    let (idx, cm1): (Vec<u32>, Vec<f32>) = seen.iter().map(|&(i, r)| (i, alpha * r)).unzip();
    let mut x = vec![0.0f32; d];
    let params = AlsParams {
        factors: d,
        solver: Solver::Cholesky,
        ..Default::default()
    };
    let mut s = Scratch::new(d, params.solver);
    let other: Vec<f32> = items.iter().copied().collect();
    cholesky_row(&mut x, &g, &idx, &cm1, &other, &mut s);
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::kernels::dot;

    fn toy() -> Csr {
        // Two clear blocks: users 0-3 like items 0-2, users 4-7 like items 3-5.
        let mut t = Vec::new();
        for u in 0..8u32 {
            for i in 0..6u32 {
                if (u < 4) == (i < 3) && (u + i) % 5 != 0 {
                    t.push((u, i, 1.0));
                }
            }
        }
        Csr::from_triplets(8, 6, &t)
    }

    #[test]
    fn transpose_round_trips() {
        let m = toy();
        let tt = m.transpose().transpose();
        assert_eq!(m.indptr, tt.indptr);
        assert_eq!(m.indices, tt.indices);
    }

    #[test]
    fn loss_decreases_and_blocks_are_learned() {
        let p = AlsParams {
            factors: 4,
            iterations: 8,
            alpha: 5.0,
            lambda: 0.05,
            threads: 1,
            ..Default::default()
        };
        let m = train(&toy(), &p, |_| {}).unwrap();
        assert!(m.loss.last().unwrap() < m.loss.first().unwrap());
        let s = |u: usize, i: usize| {
            dot(
                m.user_factors.row(u).as_slice().unwrap(),
                m.item_factors.row(i).as_slice().unwrap(),
            )
        };
        // User 0 never saw item 0 ((0+0)%5==0) but should prefer it to items of the other block.
        assert!(s(0, 0) > s(0, 4));
    }

    #[test]
    fn cg_and_cholesky_agree_roughly() {
        let base = AlsParams {
            factors: 4,
            iterations: 10,
            alpha: 2.0,
            lambda: 0.1,
            threads: 1,
            cg_steps: 8,
            ..Default::default()
        };
        let a = train(&toy(), &base, |_| {}).unwrap();
        let b = train(
            &toy(),
            &AlsParams {
                solver: Solver::Cholesky,
                ..base
            },
            |_| {},
        )
        .unwrap();
        let (la, lb) = (*a.loss.last().unwrap(), *b.loss.last().unwrap());
        assert!((la - lb).abs() / lb < 0.05, "{la} vs {lb}");
    }

    #[test]
    fn same_seed_same_factors_regardless_of_threads() {
        let p1 = AlsParams {
            factors: 8,
            iterations: 3,
            threads: 1,
            ..Default::default()
        };
        let p2 = AlsParams {
            threads: 2,
            ..p1.clone()
        };
        let a = train(&toy(), &p1, |_| {}).unwrap();
        let b = train(&toy(), &p2, |_| {}).unwrap();
        assert_eq!(a.user_factors, b.user_factors);
        assert_eq!(a.item_factors, b.item_factors);
        let c = train(&toy(), &AlsParams { seed: 7, ..p1 }, |_| {}).unwrap();
        assert_ne!(a.item_factors, c.item_factors);
    }

    #[test]
    fn fold_in_solves_the_normal_equations() {
        let p = AlsParams {
            factors: 4,
            iterations: 5,
            alpha: 3.0,
            lambda: 0.2,
            threads: 1,
            ..Default::default()
        };
        let m = train(&toy(), &p, |_| {}).unwrap();
        let y = &m.item_factors;
        let yty = gram(y);
        let seen = [(0u32, 1.0f32), (2, 2.0)];
        let x = fold_in(y.view(), yty.as_slice().unwrap(), p.lambda, p.alpha, &seen);
        // (YᵀY + λI + Σ αr y yᵀ) x = Σ (1 + αr) y
        for j in 0..4 {
            let mut lhs = p.lambda * x[j];
            for k in 0..4 {
                lhs += yty[[j, k]] * x[k];
            }
            let mut rhs = 0.0;
            for &(i, r) in &seen {
                let yi = y.row(i as usize);
                let c1 = p.alpha * r;
                lhs += c1 * yi[j] * dot(yi.as_slice().unwrap(), &x);
                rhs += (1.0 + c1) * yi[j];
            }
            assert!(
                (lhs - rhs).abs() < 1e-3 * (1.0 + rhs.abs()),
                "row {j}: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn zero_factors_is_an_error() {
        let p = AlsParams {
            factors: 0,
            ..Default::default()
        };
        assert!(matches!(
            train(&toy(), &p, |_| {}),
            Err(TrainError::Config(_))
        ));
    }

    #[test]
    fn divergence_is_reported() {
        let p = AlsParams {
            factors: 2,
            iterations: 2,
            alpha: f32::MAX,
            lambda: 0.0,
            threads: 1,
            ..Default::default()
        };
        let mut m = toy();
        m.data.iter_mut().for_each(|v| *v = f32::MAX);
        assert!(matches!(
            train(&m, &p, |_| {}),
            Err(TrainError::NonFinite { .. })
        ));
    }
}
