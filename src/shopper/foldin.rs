//! Fold-in: the shopper's user vector by the exact implicit-ALS closed form
//!
//! ```text
//! u = (YᵀY + Yᵀ(Cᵤ − I)Y + λI)⁻¹ YᵀCᵤ p(u),   cᵤⱼ = 1 + α·rⱼ
//! ```
//!
//! `YᵀY` comes precomputed from the bundle, so the cost is one rank-1 update per
//! history item plus a d×d Cholesky, whatever the catalogue size. The factor L
//! is kept: with W = LLᵀ, the score of item i splits exactly over the history,
//! `⟨u, yᵢ⟩ = Σⱼ cⱼ ⟨L⁻¹yᵢ, L⁻¹yⱼ⟩`, which is how `implicit`'s `explain` works
//! and what the "because you viewed X" reasons are made of.

use crate::engine::Model;
use crate::error::{Error, Result};
use crate::format::limits::MAX_USER_ABS;

/// A folded-in user plus what is needed to explain any score exactly.
#[derive(Debug, Clone)]
pub struct FoldIn {
    pub user: Vec<f32>,
    /// True when W was not positive definite and a larger ridge was added.
    pub regularized: bool,
    dim: usize,
    /// Lower-triangular Cholesky factor of W, row-major d×d (f64 for stability).
    chol: Vec<f64>,
    /// History item indices and their confidences cⱼ = 1 + α·rⱼ.
    items: Vec<u32>,
    conf: Vec<f64>,
    /// History item rows yⱼ, m×d.
    rows: Vec<f32>,
}

/// Cholesky in place (lower triangle of `a`, row-major). False if not SPD.
fn cholesky(a: &mut [f64], d: usize) -> bool {
    for j in 0..d {
        let row_j = &mut a[j * d..(j + 1) * d];
        let s = row_j[j] - row_j[..j].iter().map(|v| v * v).sum::<f64>();
        if !(s > 0.0 && s.is_finite()) {
            return false;
        }
        let l = s.sqrt();
        row_j[j] = l;
        for i in j + 1..d {
            let (top, bottom) = a.split_at_mut(i * d);
            let rj = &top[j * d..j * d + j];
            let ri = &mut bottom[..=j];
            let dot: f64 = ri[..j].iter().zip(rj).map(|(x, y)| x * y).sum();
            ri[j] = (ri[j] - dot) / l;
        }
    }
    true
}

fn dot4(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    acc[0] + acc[1] + acc[2] + acc[3] + tail
}

/// Solves L z = b in place.
fn forward(l: &[f64], z: &mut [f64], d: usize) {
    for i in 0..d {
        let row = &l[i * d..i * d + i];
        let s: f64 = row.iter().zip(&z[..i]).map(|(a, b)| a * b).sum();
        z[i] = (z[i] - s) / l[i * d + i];
    }
}

/// Solves Lᵀ x = z in place.
fn backward(l: &[f64], x: &mut [f64], d: usize) {
    for i in (0..d).rev() {
        let mut s = x[i];
        for k in i + 1..d {
            s -= l[k * d + i] * x[k];
        }
        x[i] = s / l[i * d + i];
    }
}

/// True for bundles whose trainer scaled λ by the user's number of positives
/// (`vitrine import --from spark` writes `lambda_scaling = positives`): the
/// fold-in must do the same to reproduce the trainer's user vectors.
fn lambda_per_positive(model: &Model) -> bool {
    let m = model.view().meta;
    (0..m.len() / 2)
        .any(|i| m.get(2 * i) == Some("lambda_scaling") && m.get(2 * i + 1) == Some("positives"))
}

/// The last resort when no relative ridge works (a Gram that loaded but is
/// far from YᵀY, e.g. huge off-diagonal entries): a ridge of twice the
/// largest absolute row sum makes W + ridge·I strictly diagonally dominant,
/// hence positive definite with a 50% margin that rounding cannot erase,
/// so the factorization succeeds. A solution still outside the user range
/// is scaled into it (the ranking by ⟨u, y⟩ is kept). Errors only if the
/// arithmetic itself overflowed, which the load-time bounds rule out.
fn dominant_solve(w: &[f64], b: &[f64], d: usize, chol: &mut [f64]) -> Result<Vec<f64>> {
    // Row sums of the symmetric W from its lower triangle.
    let mut rows = vec![0f64; d];
    for a in 0..d {
        for c in 0..=a {
            let v = w[a * d + c].abs();
            rows[a] += v;
            if c != a {
                rows[c] += v;
            }
        }
    }
    let ridge = 2.0 * rows.iter().fold(0f64, |m, &v| m.max(v)) + 1.0;
    chol.copy_from_slice(w);
    for a in 0..d {
        chol[a * d + a] += ridge;
    }
    let bad = || Error::invalid("fold-in system is not solvable (non-finite Gram?)");
    if !cholesky(chol, d) {
        return Err(bad());
    }
    let mut z = b.to_vec();
    forward(chol, &mut z, d);
    backward(chol, &mut z, d);
    if !z.iter().all(|v| v.is_finite()) {
        return Err(bad());
    }
    let max = z.iter().fold(0f64, |m, v| m.max(v.abs()));
    let limit = f64::from(MAX_USER_ABS);
    if max > limit {
        z.iter_mut().for_each(|v| *v *= limit / max);
    }
    Ok(z)
}

/// Folds a history `(item index, r)` into a user vector. Items past the end of
/// the catalogue are refused (the bindings drop unknown ids before this).
/// An empty history gives the zero vector: the caller picks a cold-start answer.
pub fn fold_in(model: &Model, history: &[(u32, f32)]) -> Result<FoldIn> {
    let g = model.gram().ok_or(Error::MissingCapability {
        section: "GRAM",
        needed_for: "fold-in",
    })?;
    let d = model.dim();
    if g.dim != d || g.yty.len() != d * d {
        return Err(Error::DimMismatch {
            expected: d,
            got: g.dim,
        });
    }
    let alpha = g.alpha as f64;
    let mut lambda = g.lambda as f64;
    if lambda_per_positive(model) {
        // Spark's ALS (ALS-WR) regularizes a user by λ × their positives.
        lambda *= history.iter().filter(|&&(_, r)| r > 0.0).count() as f64;
    }
    let m = history.len();
    let mut rows = vec![0f32; m * d];
    let mut items = Vec::with_capacity(m);
    let mut conf = Vec::with_capacity(m);
    for (k, &(i, r)) in history.iter().enumerate() {
        if !(r.is_finite() && r >= 0.0) {
            return Err(Error::invalid(format!(
                "history weight for item #{i} must be a finite number ≥ 0"
            )));
        }
        let row = model
            .item_row_f32(i as usize)
            .ok_or_else(|| Error::UnknownItem {
                id: format!("#{i}"),
            })?;
        rows[k * d..(k + 1) * d].copy_from_slice(&row);
        items.push(i);
        conf.push(1.0 + alpha * r as f64);
    }
    // W's lower triangle: YᵀY + λI + Σ (c−1) y yᵀ.
    let mut w: Vec<f64> = g.yty.iter().map(|&v| v as f64).collect();
    for (row, &c) in rows.chunks_exact(d).zip(&conf) {
        let c1 = c - 1.0;
        if c1 == 0.0 {
            continue;
        }
        for a in 0..d {
            let ya = c1 * row[a] as f64;
            let wr = &mut w[a * d..a * d + a + 1];
            for (x, &yb) in wr.iter_mut().zip(&row[..=a]) {
                *x += ya * yb as f64;
            }
        }
    }
    let trace: f64 = (0..d).map(|a| w[a * d + a]).sum::<f64>() / d.max(1) as f64;
    // b = Σ cⱼ yⱼ.
    let mut b = vec![0f64; d];
    for (row, &c) in rows.chunks_exact(d).zip(&conf) {
        for (zz, &v) in b.iter_mut().zip(row) {
            *zz += c * v as f64;
        }
    }
    // λ alone first. If W + λI does not factorize (singular or indefinite:
    // λ = 0 with too few items, or a damaged Gram) or the user it gives is
    // outside the range the engine scores (`format::limits`), add a growing
    // ridge relative to the diagonal until both hold.
    let mut chol = w.clone();
    let mut solved = None;
    for (step, eps) in [0.0, 1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4]
        .into_iter()
        .enumerate()
    {
        chol.copy_from_slice(&w);
        let ridge = if step == 0 {
            lambda
        } else {
            lambda + eps * (trace.abs() + 1.0)
        };
        for a in 0..d {
            chol[a * d + a] += ridge;
        }
        if !cholesky(&mut chol, d) {
            continue;
        }
        let mut z = b.clone();
        forward(&chol, &mut z, d);
        backward(&chol, &mut z, d);
        if z.iter()
            .all(|v| v.is_finite() && v.abs() <= f64::from(MAX_USER_ABS))
        {
            solved = Some((z, step > 0));
            break;
        }
    }
    let (z, regularized) = match solved {
        Some(s) => s,
        None => (dominant_solve(&w, &b, d, &mut chol)?, true),
    };
    #[allow(
        clippy::cast_possible_truncation,
        reason = "|z| ≤ MAX_USER_ABS, checked above"
    )]
    let user: Vec<f32> = z.iter().map(|&v| v as f32).collect();
    Ok(FoldIn {
        user,
        regularized,
        dim: d,
        chol,
        items,
        conf,
        rows,
    })
}

impl FoldIn {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// History items and their confidences, in the order given to [`fold_in`].
    pub fn history(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.items.iter().copied().zip(self.conf.iter().copied())
    }

    /// Exact per-history-item contributions to ⟨u, y⟩ for an item row `y`
    /// (length dim): cⱼ⟨W⁻¹y, yⱼ⟩, which is cⱼ⟨L⁻¹y, L⁻¹yⱼ⟩. They sum to
    /// ⟨u, y⟩ up to rounding. Cost d² + m·d.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "f64 products of bounded f32 values, narrowed back"
    )]
    pub fn contributions(&self, y: &[f32]) -> Vec<(u32, f32)> {
        let d = self.dim;
        let mut z: Vec<f64> = y.iter().take(d).map(|&v| v as f64).collect();
        z.resize(d, 0.0);
        forward(&self.chol, &mut z, d);
        backward(&self.chol, &mut z, d);
        // The solve is f64; the m dot products run in f32 with four
        // accumulators (vectorizable), which is plenty for ranking reasons.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "f64 solve, f32 dot products by design"
        )]
        let zf: Vec<f32> = z.iter().map(|&v| v as f32).collect();
        self.rows
            .chunks_exact(d)
            .zip(&self.items)
            .zip(&self.conf)
            .map(|((row, &i), &c)| (i, (c * dot4(row, &zf) as f64) as f32))
            .collect()
    }

    /// The history item contributing most to the score of row `y`, with its share.
    pub fn top_reason(&self, y: &[f32]) -> Option<(u32, f32)> {
        self.contributions(y)
            .into_iter()
            .filter(|c| c.1.is_finite())
            .max_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
    }
}
