//! Small dense kernels over `f32` slices.
//!
//! ALS spends nearly all its time in length-`d` dots and axpys (d = 32..256),
//! far too small for a BLAS call to pay off. The loops below are written with
//! 16 independent accumulators so LLVM can keep them in vector registers
//! without being allowed to reassociate a single running sum. They are
//! `inline(always)` so that when they are inlined into a function compiled
//! with `#[target_feature(enable = "avx2")]` they use 256-bit registers.

const LANES: usize = 16;

#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_k::<false>(a, b)
}

/// `a + b * c`, fused when `FMA` (only inside functions compiled with the
/// `fma` target feature; elsewhere `mul_add` would be a slow libm call).
#[inline(always)]
pub fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        b.mul_add(c, a)
    } else {
        a + b * c
    }
}

#[inline(always)]
pub fn dot_k<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..LANES {
            acc[j] = madd::<FMA>(acc[j], x[j], y[j]);
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    // Pairwise fold keeps the reduction order fixed (determinism).
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            acc[j] += acc[j + w];
        }
    }
    acc[0] + tail
}

/// `y += alpha * x`
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    axpy_k::<false>(alpha, x, y)
}

#[inline(always)]
pub fn axpy_k<const FMA: bool>(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = madd::<FMA>(*yi, alpha, *xi);
    }
}

/// `out = m * v` for a row-major `d x d` matrix.
#[inline(always)]
pub fn matvec(m: &[f32], v: &[f32], out: &mut [f32]) {
    matvec_k::<false>(m, v, out)
}

#[inline(always)]
pub fn matvec_k<const FMA: bool>(m: &[f32], v: &[f32], out: &mut [f32]) {
    let d = v.len();
    for (o, row) in out.iter_mut().zip(m.chunks_exact(d)) {
        *o = dot_k::<FMA>(row, v);
    }
}

/// Solves `a x = b` in place (`a` is `d x d` symmetric positive definite,
/// row-major, f64 for stability); returns false if `a` is not positive definite.
pub fn cholesky_solve(a: &mut [f64], b: &mut [f64], d: usize) -> bool {
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        if s.is_nan() || s <= 0.0 {
            return false;
        }
        let l = s.sqrt();
        a[j * d + j] = l;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / l;
        }
    }
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * d + k] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
    for i in (0..d).rev() {
        let mut s = b[i];
        for k in i + 1..d {
            s -= a[k * d + i] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_for_odd_lengths() {
        for n in [0usize, 1, 7, 16, 33, 64] {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 / (1.0 + i as f32)).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn cholesky_solves_spd_system() {
        let mut a = vec![4.0, 1.0, 1.0, 3.0];
        let mut b = vec![1.0, 2.0];
        assert!(cholesky_solve(&mut a, &mut b, 2));
        assert!((b[0] - 1.0 / 11.0).abs() < 1e-12 && (b[1] - 7.0 / 11.0).abs() < 1e-12);
        let mut n = vec![1.0, 2.0, 2.0, 1.0];
        assert!(!cholesky_solve(&mut n, &mut [0.0, 0.0], 2));
    }
}
