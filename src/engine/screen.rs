//! A certified int8 screen for f32 and f16 rows: the scan reads a quarter
//! (f32) or half (f16) of the bytes and computes exact scores only for the
//! rows that can still enter the top-k. The answer is the plain scan's, bit
//! for bit, not an approximation of it.
//!
//! Why it is exact. Row r is stored as q·s (int8 q, one scale s per row) with
//! residual ε = r − s·q; the scan quantizes the user u as su·uq with residual
//! δ = u − su·uq (the int8 scan's own quantization). Then
//!
//! ```text
//! u·r = su·s·(uq·q) + u·ε + s·(δ·q)
//! |u·r − su·s·(uq·q)| ≤ ‖u‖·‖ε‖ + ‖δ‖·‖s·q‖      (Cauchy–Schwarz, twice)
//! ```
//!
//! so a row whose screen score plus that bound (times the epilogue's `mul`)
//! is below the current k-th exact score cannot enter the top-k, and is
//! skipped. Every other row is scored by the same f32 kernel as the plain
//! scan, and pushed by the same rule, so the heap ends with the same rows and
//! the same scores. The bound's constants are rounded up, and it carries a
//! term for the f32 rounding of both scores ([`rounding`]): the f32 dot of a
//! row sums `stride` products, each sum off by at most 2⁻²⁴ of the running
//! magnitude, which `(stride + 8) · 2⁻²²` of ‖u‖·‖r‖ covers with room to
//! spare; bias terms get 2⁻¹⁸ of |bias|.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use super::kernels;
use super::model::BLOCK;

/// Catalogues smaller than this are scanned plainly: the rows are in cache
/// and a screen would save less than it costs to hold.
pub const MIN_ITEMS: usize = 4096;

/// Per 256-row block of the whole catalogue (block b = rows b·256..): the
/// largest per-row constants, so the scan can drop a block from its best
/// screen score alone.
#[derive(Clone, Copy, Default)]
struct BlockMax {
    err: f32,
    qnorm: f32,
    /// The same, times the row's inverse norm (the cosine epilogue's `mul`).
    err_cos: f32,
    qnorm_cos: f32,
    bias: f32,
}

pub struct Screen {
    pub(super) q: Vec<i8>,
    pub(super) scales: Vec<f32>,
    /// Σ of each row's bytes, when the int8 kernel reads them.
    pub(super) sums: Vec<i32>,
    /// ‖ε‖ plus the rounding allowance, rounded up.
    err: Vec<f32>,
    /// ‖s·q‖, rounded up.
    qnorm: Vec<f32>,
    blocks: Vec<BlockMax>,
}

/// `x` rounded up to f32 (x ≥ 0).
#[allow(
    clippy::cast_possible_truncation,
    reason = "rounded to nearest, then stepped up when that was down"
)]
fn up(x: f64) -> f32 {
    let y = x as f32;
    if f64::from(y) < x && y.is_finite() {
        // The next f32 up (y ≥ 0): `next_up` is newer than the MSRV.
        f32::from_bits(y.to_bits() + 1)
    } else {
        y
    }
}

/// The larger of two values, as a select: `f32::max` is a libm call in wasm.
#[inline(always)]
fn larger(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// Σ of sixteen lanes, four vectors wide (any order is inside the margins).
#[inline(always)]
fn sum16(a: &[f32; 16]) -> f32 {
    let mut t = [0f32; 4];
    for (l, t) in t.iter_mut().enumerate() {
        *t = (a[l] + a[l + 4]) + (a[l + 8] + a[l + 12]);
    }
    (t[0] + t[1]) + (t[2] + t[3])
}

/// Relative allowance for the f32 rounding of a dot product over `stride`
/// values (see the module comment).
fn rounding(stride: usize) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "stride is a row width")]
    let s = stride as f64;
    (s + 8.0) * f64::powi(2.0, -22)
}

impl Screen {
    /// Quantizes `n` rows of `stride` values (`row(i, buf)` writes row i as
    /// f32). `inv_norms` are the model's (cosine), `bias` its item bias.
    pub fn build(
        n: usize,
        stride: usize,
        row: &mut dyn FnMut(usize, &mut [f32]) -> bool,
        inv_norms: &[f32],
        bias: Option<&[f32]>,
    ) -> Option<Screen> {
        let len = n.checked_mul(stride)?;
        let mut q: Vec<i8> = Vec::new();
        q.try_reserve_exact(len).ok()?;
        q.resize(len, 0);
        let (mut scales, mut err, mut qnorm) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let c = rounding(stride);
        // The f32 sum of squares is within stride · 2⁻²⁴ of its value.
        #[allow(clippy::cast_precision_loss, reason = "stride is a row width")]
        let sum_margin = 1.0 + (stride as f64 + 1.0) * f64::powi(2.0, -23);
        let mut buf = vec![0f32; stride];
        for (i, dst) in q.chunks_exact_mut(stride.max(1)).enumerate().take(n) {
            if !row(i, &mut buf) {
                return None;
            }
            // Sixteen lanes (stride is a multiple of 16): independent sums
            // that LLVM turns into SIMD, where one running f32 sum would stay
            // a serial chain (f32 addition does not reassociate).
            let mut lanes = [0f32; 16];
            for c in buf.chunks_exact(16) {
                for (m, &v) in lanes.iter_mut().zip(c) {
                    *m = larger(*m, v.abs());
                }
            }
            // A NaN is passed over here; it makes the sums below NaN.
            let max = lanes.iter().fold(0f32, |m, &v| larger(m, v));
            if !max.is_finite() {
                return None;
            }
            let (s, inv) = if max > 0.0 {
                (max / 127.0, 127.0 / max)
            } else {
                (0.0, 0.0)
            };
            // f32 all through, so it vectorizes; every rounding is inside
            // the allowance `c · ‖r‖` (the residual's f32 error is below
            // 2⁻²² · √stride · ‖r‖).
            let (mut e2l, mut r2l, mut k2l) = ([0f32; 16], [0f32; 16], [0f32; 16]);
            for (d, c) in dst.chunks_exact_mut(16).zip(buf.chunks_exact(16)) {
                for l in 0..16 {
                    let v = c[l];
                    // Round to nearest even without libm: |v · inv| ≤ 127.
                    let r = ((v * inv + ROUND_MAGIC) - ROUND_MAGIC).clamp(-127.0, 127.0);
                    // Through i32 (`i32x4.trunc_sat_f32x4_s`), then narrowed.
                    #[allow(clippy::cast_possible_truncation, reason = "an integer in ±127")]
                    let k = r as i32 as i8;
                    d[l] = k;
                    let e = v - s * r;
                    e2l[l] += e * e;
                    r2l[l] += v * v;
                    // Exact: sums of squares of integers stay far below 2²⁴.
                    k2l[l] += r * r;
                }
            }
            let (e2, r2, k2) = (sum16(&e2l), sum16(&r2l), sum16(&k2l));
            if !(e2.is_finite() && r2.is_finite()) {
                return None;
            }
            let (e2, r2) = (f64::from(e2) * sum_margin, f64::from(r2) * sum_margin);
            scales.push(s);
            err.push(up((e2.sqrt() + c * r2.sqrt()) * (1.0 + f64::powi(2.0, -20))));
            qnorm.push(up(f64::from(s)
                * f64::from(k2).sqrt()
                * (1.0 + f64::powi(2.0, -20))));
        }
        let mut sums = Vec::new();
        if kernels::NEEDS_ROW_SUMS {
            sums = vec![0; n];
            kernels::sum_i8(&q, stride, &mut sums);
        }
        let blocks = (0..n.div_ceil(BLOCK))
            .map(|b| {
                let mut m = BlockMax::default();
                for i in b * BLOCK..((b + 1) * BLOCK).min(n) {
                    let (e, w) = (err[i], qnorm[i]);
                    let inv = inv_norms.get(i).copied().unwrap_or(f32::INFINITY);
                    m.err = larger(m.err, e);
                    m.qnorm = larger(m.qnorm, w);
                    m.err_cos = larger(m.err_cos, up(f64::from(e) * f64::from(inv)));
                    m.qnorm_cos = larger(m.qnorm_cos, up(f64::from(w) * f64::from(inv)));
                    let b = bias.and_then(|b| b.get(i)).map_or(0.0, |b| b.abs());
                    m.bias = larger(m.bias, b);
                }
                m
            })
            .collect();
        Some(Screen {
            q,
            scales,
            sums,
            err,
            qnorm,
            blocks,
        })
    }

    /// Bytes held (what `info()` reports).
    pub fn bytes(&self) -> usize {
        self.q.len()
            + 4 * (self.scales.len() + self.sums.len() + self.err.len() + self.qnorm.len())
            + std::mem::size_of::<BlockMax>() * self.blocks.len()
    }

    /// The bound on |exact − screen| for a block of rows `s..e` (any
    /// alignment: it spans at most two of the stored blocks).
    pub(super) fn block_slack(&self, s: usize, e: usize, b: &Bound, cosine: bool) -> f32 {
        let first = s / BLOCK;
        let last = e.saturating_sub(1) / BLOCK;
        let mut slack = 0f32;
        for m in self.blocks.get(first..=last.max(first)).unwrap_or(&[]) {
            let (er, qn) = if cosine {
                (m.err_cos, m.qnorm_cos)
            } else {
                (m.err, m.qnorm)
            };
            slack = slack.max(b.u * er + b.delta * qn + BIAS_SLACK * m.bias);
        }
        slack * (1.0 + ROUND_SLACK)
    }

    /// Writes to `maybe` the offsets in block `rows` of the rows whose
    /// screen score `out[j]` plus their bound reaches `thr` (given the
    /// epilogue's `mul` and `add` over the block), and returns how many
    /// there were (more than `maybe` holds are counted, not written).
    pub(super) fn may_enter(
        &self,
        rows: std::ops::Range<usize>,
        out: &[f32],
        b: &Bound,
        (mul, add): (Option<&[f32]>, Option<&[f32]>),
        thr: f32,
        maybe: &mut [u16],
    ) -> usize {
        let err = self.err.get(rows.clone()).unwrap_or(&[]);
        let qn = self.qnorm.get(rows).unwrap_or(&[]);
        let one = [1.0f32; BLOCK];
        let zero = [0.0f32; BLOCK];
        let mul = mul.unwrap_or(&one);
        let add = add.unwrap_or(&zero);
        let mut n = 0;
        for (j, ((((&v, &e), &w), &m), &a)) in
            out.iter().zip(err).zip(qn).zip(mul).zip(add).enumerate()
        {
            if v + slack(b, e, w, m, a) >= thr {
                if let Some(slot) = maybe.get_mut(n) {
                    #[allow(clippy::cast_possible_truncation, reason = "j < BLOCK ≤ 2¹⁶")]
                    let j = j as u16;
                    *slot = j;
                }
                n += 1;
            }
        }
        n
    }

    /// The bound on |exact − screen| for row `i`, whose epilogue multiplies
    /// by `mul` and adds `add`.
    #[cfg(test)]
    fn row_slack(&self, i: usize, b: &Bound, mul: f32, add: f32) -> f32 {
        slack(b, self.err[i], self.qnorm[i], mul, add)
    }
}

/// The bound on |exact − screen| for a row with constants `err`, `qnorm`
/// whose epilogue multiplies by `mul` and adds `add`.
#[inline(always)]
fn slack(b: &Bound, err: f32, qnorm: f32, mul: f32, add: f32) -> f32 {
    (mul.abs() * (b.u * err + b.delta * qnorm) + BIAS_SLACK * add.abs()) * (1.0 + ROUND_SLACK)
}

/// 1.5 · 2²³: adding and subtracting it rounds an f32 below 2²² to the
/// nearest integer (ties to even), as `round_ties_even` does.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// Share of |bias| allowed for the rounding of the epilogue's addition.
const BIAS_SLACK: f32 = 1.0 / 262_144.0;
/// Share of a bound allowed for its own f32 arithmetic.
const ROUND_SLACK: f32 = 1.0 / 65_536.0;

/// A query's side of the bound: ‖u‖ and ‖δ‖, rounded up.
pub struct Bound {
    u: f32,
    delta: f32,
}

impl Bound {
    /// `u` is the padded f32 user, `uq`·`su` its int8 quantization. In f64,
    /// `v − su·k` is exact to 2⁻⁵³ (both products fit), so the 2⁻¹⁶ margin
    /// covers it and the square roots.
    pub fn new(u: &[f32], uq: &[i8], su: f32) -> Bound {
        let (mut u2, mut d2) = (0f64, 0f64);
        for (&v, &k) in u.iter().zip(uq) {
            let v = f64::from(v);
            let d = v - f64::from(su) * f64::from(k);
            u2 += v * v;
            d2 += d * d;
        }
        let un = u2.sqrt() * (1.0 + f64::powi(2.0, -16));
        Bound {
            u: up(un),
            delta: up(d2.sqrt() * (1.0 + f64::powi(2.0, -16))),
        }
    }
}

/// Blocks of a screened scan by their bound, best first: a binary max-heap
/// (built in O(blocks), then one O(log blocks) pop per visited block; a
/// scan visits few, so sorting them all would cost more).
pub(super) struct BlockOrder {
    heap: Vec<(f32, usize)>,
    blocks: usize,
}

impl BlockOrder {
    pub(super) fn new(blocks: usize) -> Self {
        BlockOrder {
            heap: Vec::with_capacity(blocks),
            blocks,
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.blocks
    }

    /// A NaN bound (no finite query gives one) is kept as +∞: the block is
    /// visited, never skipped on a comparison that is always false.
    pub(super) fn add(&mut self, best: f32, block: usize) {
        let best = if best.is_nan() { f32::INFINITY } else { best };
        self.heap.push((best, block));
    }

    /// `a` goes before `b`: higher bound, then lower block.
    #[inline(always)]
    fn before(a: (f32, usize), b: (f32, usize)) -> bool {
        a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let mut m = i;
            for c in [2 * i + 1, 2 * i + 2] {
                if let (Some(&x), Some(&y)) = (self.heap.get(c), self.heap.get(m)) {
                    if Self::before(x, y) {
                        m = c;
                    }
                }
            }
            if m == i {
                break;
            }
            self.heap.swap(i, m);
            i = m;
        }
    }

    pub(super) fn arrange(&mut self) {
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    pub(super) fn pop(&mut self) -> Option<(f32, usize)> {
        if self.heap.is_empty() {
            return None;
        }
        let last = self.heap.len() - 1;
        self.heap.swap(0, last);
        let top = self.heap.pop();
        self.sift_down(0);
        top
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::cast_possible_truncation,
        clippy::cast_precision_loss,
        reason = "test code: small, known values"
    )]
    use super::*;
    use crate::synth::Rng;

    /// Pops come best bound first (ties to the lower block), a NaN bound
    /// comes first as +∞ (it must be visited, not skipped), and every block
    /// comes once: a scan that stops at the first bound below its k-th
    /// relies on all three.
    #[test]
    fn blocks_come_best_bound_first() {
        let mut rng = Rng::new(5);
        for n in [0usize, 1, 2, 3, 39, 256, 1001] {
            let mut order = BlockOrder::new(n);
            let mut want: Vec<(f32, usize)> = (0..n)
                .map(|b| {
                    // Coarse values, so that ties occur.
                    let v = (rng.uniform() * 8.0).floor() - 4.0;
                    (if b % 97 == 5 { f32::NAN } else { v }, b)
                })
                .collect();
            for &(v, b) in &want {
                order.add(v, b);
            }
            assert_eq!(order.capacity(), n);
            order.arrange();
            let got: Vec<(f32, usize)> = std::iter::from_fn(|| order.pop()).collect();
            for w in &mut want {
                if w.0.is_nan() {
                    w.0 = f32::INFINITY;
                }
            }
            want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            assert_eq!(got, want, "n = {n}");
        }
    }

    /// Rows and a user on the int8 grids but for one value per row, a unit
    /// in the last place off it: the quantization residual is that unit, so the Cauchy–Schwarz terms alone are
    /// smaller than the f32 rounding of the two scores. Asserts that the
    /// bound holds for every row (exact ≤ screen + slack and the reverse),
    /// and that without its rounding allowance it would not: the allowance
    /// is load-bearing, not decoration.
    #[test]
    fn the_bound_holds_where_only_its_rounding_allowance_covers_the_gap() {
        let (n, stride) = (2048, 64);
        let mut rng = Rng::new(41);
        let rows: Vec<f32> = (0..n * stride)
            .map(|j| {
                let v = if j % stride == 0 {
                    127.0
                } else {
                    (rng.uniform() * 254.0).round() - 127.0
                };
                let v = v / 128.0;
                // One value per row a unit in the last place off the grid:
                // its product with the user needs more than f32's bits.
                if j % stride == 1 {
                    f32::from_bits(v.to_bits() + 1)
                } else {
                    v
                }
            })
            .collect();
        let bias: Vec<f32> = (0..n).map(|i| 100.0 + (i % 7) as f32 * 0.3).collect();
        let inv = vec![1.0; n];
        let sc = Screen::build(
            n,
            stride,
            &mut |i, out| {
                out.copy_from_slice(&rows[i * stride..(i + 1) * stride]);
                true
            },
            &inv,
            Some(&bias),
        )
        .unwrap();
        let (mut beyond_cs, mut worst) = (0, 0f64);
        for _ in 0..20 {
            let u: Vec<f32> = (0..stride)
                .map(|_| ((rng.uniform() * 126.0).round() - 63.0) * 0.75)
                .collect();
            let (uq, su) = super::super::model::quantize_user(&u);
            let b = Bound::new(&u, &uq, su);
            let mut exact = vec![0f32; n];
            let aff = kernels::Affine {
                scale: None,
                mul: None,
                add: Some(&bias),
            };
            kernels::dot_f32(&rows, stride, &u, aff, &mut exact);
            let mut screen = vec![0f32; n];
            let aff = kernels::Affine {
                scale: Some((&sc.scales, su)),
                ..aff
            };
            kernels::dot_i8(&sc.q, stride, &uq, &sc.sums, aff, &mut screen);
            let un: f64 = u.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
            for i in 0..n {
                let gap = (f64::from(exact[i]) - f64::from(screen[i])).abs();
                let slack = f64::from(sc.row_slack(i, &b, 1.0, bias[i]));
                assert!(gap <= slack, "row {i}: |exact − screen| {gap} > {slack}");
                worst = worst.max(gap / slack);
                let r = &rows[i * stride..(i + 1) * stride];
                let q = &sc.q[i * stride..(i + 1) * stride];
                let s = f64::from(sc.scales[i]);
                let eps: f64 = r
                    .iter()
                    .zip(q)
                    .map(|(&v, &k)| (f64::from(v) - s * f64::from(k)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let qn: f64 = q
                    .iter()
                    .map(|&k| (s * f64::from(k)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let delta: f64 = u
                    .iter()
                    .zip(&uq)
                    .map(|(&v, &k)| (f64::from(v) - f64::from(su) * f64::from(k)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                if gap > un * eps + delta * qn {
                    beyond_cs += 1;
                }
            }
        }
        assert!(beyond_cs > 0, "no row needed the rounding allowance");
        assert!(worst <= 1.0);
    }
}
