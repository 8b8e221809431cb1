//! Scoring kernels: the only module with `unsafe` and SIMD. Every kernel has a
//! scalar twin with the same summation order, so SIMD and scalar builds give
//! bit-identical f32 scores (asserted by the Node test that loads both builds,
//! and by `tests` below against a naive reference).
//!
//! Layout contract (guaranteed by `format`): rows are `stride` elements, stride
//! is a multiple of 16, padding is zero, user vectors are padded the same way.

use crate::format::f16_to_f32;

/// Per-row epilogue applied by the kernels,
/// `score = dot · (scale[j] · c) · mul[j] + add[j]` (int8 row scale × user
/// scale, then inverse norms for cosine, then bias), so a block's scores and
/// their maximum come out of the kernel call (f32: inside the row loop; int8:
/// a second pass over the block, still in L1) and the scan drops the block
/// from that maximum without touching it again. Every build applies the same
/// f32 operations in the same order, so int8 scores stay bit-identical
/// across builds.
#[derive(Clone, Copy, Default)]
pub struct Affine<'a> {
    pub scale: Option<(&'a [f32], f32)>,
    pub mul: Option<&'a [f32]>,
    pub add: Option<&'a [f32]>,
}

impl Affine<'_> {
    #[inline(always)]
    fn apply(&self, j: usize, d: f32) -> f32 {
        let d = match self.scale.and_then(|(s, c)| s.get(j).map(|&s| s * c)) {
            Some(k) => d * k,
            None => d,
        };
        let d = match self.mul.and_then(|m| m.get(j)) {
            Some(&m) => d * m,
            None => d,
        };
        match self.add.and_then(|a| a.get(j)) {
            Some(&a) => d + a,
            None => d,
        }
    }
}

/// `out[j] = aff(rows[j] · user)`; returns the largest value written (NaN
/// never wins; −∞ for none).
pub fn dot_f32(rows: &[f32], stride: usize, user: &[f32], aff: Affine<'_>, out: &mut [f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::dot_f32(rows, stride, user, aff, out)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        #[cfg(target_arch = "x86_64")]
        if native::avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time just above).
            return unsafe { native::dot_f32(rows, stride, user, aff, out) };
        }
        scalar::dot_f32(rows, stride, user, aff, out)
    }
}

/// Largest magnitude of the quantized int8 user in [`dot_i8`]: ±63, not ±127,
/// in every build. The relaxed-SIMD kernel feeds the user as the unsigned
/// 7-bit operand of `i32x4.relaxed_dot_i8x16_i7x16_add_s` (u + 64 ∈ 1..=127,
/// where the instruction is deterministic), and all builds must compute the
/// same integers so that they rank alike. The int8 scan only picks candidates;
/// they are rescored with the f32 user, so the coarser user costs no accuracy.
pub const USER_I8_MAX: f32 = 63.0;

/// Whether [`dot_i8`] reads `row_sums` (the relaxed-SIMD build only; the
/// engine computes them at load when it does).
pub const NEEDS_ROW_SUMS: bool = cfg!(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    target_feature = "relaxed-simd"
));

/// Integer dot products of int8 rows with an int8 user (|u| ≤ [`USER_I8_MAX`]),
/// exact in i32, then `out[j] = aff(dot as f32)`. `row_sums[j]` = Σ row j's
/// bytes ([`sum_i8`]), read only when [`NEEDS_ROW_SUMS`]; pass `&[]`
/// otherwise. Returns the largest value written (NaN never wins; −∞ for none).
pub fn dot_i8(
    rows: &[i8],
    stride: usize,
    user: &[i8],
    row_sums: &[i32],
    aff: Affine<'_>,
    out: &mut [f32],
) -> f32 {
    #[cfg(all(
        target_arch = "wasm32",
        target_feature = "simd128",
        target_feature = "relaxed-simd"
    ))]
    {
        relaxed::dot_i8(rows, stride, user, row_sums, aff, out)
    }
    #[cfg(all(
        target_arch = "wasm32",
        target_feature = "simd128",
        not(target_feature = "relaxed-simd")
    ))]
    {
        let _ = row_sums;
        simd::dot_i8(rows, stride, user, aff, out)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = row_sums;
        #[cfg(target_arch = "x86_64")]
        if native::avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time just above).
            return unsafe { native::dot_i8(rows, stride, user, aff, out) };
        }
        scalar::dot_i8(rows, stride, user, aff, out)
    }
}

/// [`dot_f32`] over two blocks, their rows read as two streams in turn (two
/// quads, eight rows, from each): one thread reads two places faster than one
/// on some hosts (the AMD EPYC one: 0–30% natively; the scan 11% faster at
/// 1M × 64 and 18% at 100k × 64 in Chromium). Eight rows a turn rather than
/// four: 8–14% less page-thread CPU time at 1M × 64 in four interleaved runs
/// on that host under load (`make bench-ort`), where four-row turns had let
/// onnxruntime-web's single-stream Gemm get 7–13% ahead; sixteen gained no
/// more. Each block's scores and maximum are exactly `dot_f32`'s.
pub fn dot_f32_pair(
    rows: [&[f32]; 2],
    stride: usize,
    user: &[f32],
    aff: [Affine<'_>; 2],
    out: [&mut [f32]; 2],
) -> [f32; 2] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::dot_f32_pair(rows, stride, user, aff, out)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let [oa, ob] = out;
        [
            dot_f32(rows[0], stride, user, aff[0], oa),
            dot_f32(rows[1], stride, user, aff[1], ob),
        ]
    }
}

/// Σ of each int8 row's bytes (`out[j]`), for the relaxed kernel's offset.
pub fn sum_i8(rows: &[i8], stride: usize, out: &mut [i32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::sum_i8(rows, stride, out)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        scalar::sum_i8(rows, stride, out)
    }
}

/// f16 rows: widened block by block into `scratch`, then the f32 kernel.
pub fn dot_f16(
    rows: &[u16],
    stride: usize,
    user: &[f32],
    aff: Affine<'_>,
    out: &mut [f32],
    scratch: &mut Vec<f32>,
) -> f32 {
    scratch.clear();
    scratch.extend(rows.iter().take(out.len() * stride).map(|&h| f16_to_f32(h)));
    dot_f32(scratch, stride, user, aff, out)
}

/// Squared norms of int8 rows (`out[j] = rowⱼ · rowⱼ`, exact), for cosine.
pub fn sumsq_i8(rows: &[i8], stride: usize, out: &mut [f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::sumsq_i8(rows, stride, out)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        scalar::sumsq_i8(rows, stride, out)
    }
}

/// The reduction step of the folding CRC in `format::crc32`, for each 16-byte
/// word `t` of `m`:
///
/// `h[B + t] = m[t] ^ h[B + t - D0] ^ h[B + t - D1] ^ h[B + t - D2] ^ h[B + t - D3]`
///
/// where `h[..B]` holds the `B` words before `m`. Words are raw bytes (XOR
/// never looks inside one). Stops at the shorter of `m` and `h`.
pub fn xor_taps<
    const B: usize,
    const D0: usize,
    const D1: usize,
    const D2: usize,
    const D3: usize,
>(
    h: &mut [u128],
    m: &[u8],
) {
    const {
        assert!(D0 >= 1 && D1 >= 1 && D2 >= 1 && D3 >= 1);
        assert!(D0 <= B && D1 <= B && D2 <= B && D3 <= B);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::xor_taps::<B, D0, D1, D2, D3>(h, m)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        scalar::xor_taps::<B, D0, D1, D2, D3>(h, m)
    }
}

/// Squared norms of f32 rows.
pub fn sumsq_f32(rows: &[f32], stride: usize, out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(stride)) {
        let mut one = [0f32];
        dot_f32(row, stride, row, Affine::default(), &mut one);
        *o = one[0];
    }
}

/// The f32 summation order for rows of `stride` values, shared by both
/// twins. Four accumulators, each with four lanes, then (acc0 + acc1) +
/// (acc2 + acc3) lane-wise and (t0 + t1) + (t2 + t3). For the unrolled SIMD
/// widths (32, 64) accumulator k sums the k-th quarter of the row;
/// otherwise it sums every fourth 4-value vector, k, k + 4, … Why two: LLVM
/// emits each accumulator's chain as one expression tree, and V8 loads in
/// that order, so an unrolled row with interleaved accumulators reads its
/// cache lines out of order: 3–13% slower at 1M × 64 in Chromium 156 than
/// reading by quarters. A loop reads 16 values per step, in order either way.
pub const fn quarter_order(stride: usize) -> bool {
    matches!(stride, 32 | 64)
}

/// Whether this build scores with wasm SIMD128.
pub const SIMD: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// Whether this build's int8 kernel uses relaxed SIMD.
pub const RELAXED: bool = NEEDS_ROW_SUMS;

/// The native (CLI) kernels on x86-64 with AVX2, picked at run time like the
/// trainer's (`train::als`); without AVX2 the scan runs the scalar twins.
///
/// f32: the scalar twin's sixteen lanes in two 8-wide accumulators, same
/// products, same per-lane order, same reduction tree, no FMA, so the scores
/// are bit-identical to the scalar twin's (asserted in `tests`). int8: sign-extend 16 bytes to i16 and `vpmaddwd`
/// pairs into i32 lanes; every product and sum is exact in i32
/// (|row| ≤ 128, |user| ≤ 63, stride ≤ 2¹⁶), so it equals the scalar twin.
#[cfg(target_arch = "x86_64")]
mod native {
    use std::arch::x86_64::*;

    /// AVX2 present, unless `VITRINE_NATIVE_SIMD=0` asks for the scalar
    /// twins (an A/B of the two with one binary, e.g. `vitrine bench-native`).
    /// Decided once per process.
    #[inline]
    pub(super) fn avx2() -> bool {
        static USE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *USE.get_or_init(|| {
            std::env::var_os("VITRINE_NATIVE_SIMD").is_none_or(|v| v != "0")
                && std::is_x86_feature_detected!("avx2")
        })
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot_f32(
        rows: &[f32],
        stride: usize,
        user: &[f32],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        super::scalar::each_row(rows, stride, aff, out, |row| dot_row_f32(row, user))
    }

    /// The scalar twin's sixteen lanes as two 8-wide accumulators: `a` holds
    /// its accumulators 0 and 1, `b` 2 and 3 (quarter order: quarters 0|1
    /// and 2|3 side by side), each lane the same mul-then-add sequence; then
    /// its reduction tree exactly. No FMA (it would round once, not twice).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn dot_row_f32(row: &[f32], user: &[f32]) -> f32 {
        let n = row.len();
        if user.len() < n || n % 16 != 0 {
            return super::scalar::dot_row_f32(row, user);
        }
        let r = row.as_ptr();
        let u = user.as_ptr();
        let (mut a, mut b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        if super::quarter_order(n) {
            let q = n / 4;
            for i in (0..q).step_by(4) {
                // SAFETY: i + 3q + 4 ≤ 4q = n ≤ row.len(), user.len();
                // unaligned loads; AVX2 is enabled on this function.
                unsafe {
                    let ld = |p: *const f32, k: usize| {
                        _mm256_set_m128(
                            _mm_loadu_ps(p.add(i + (k + 1) * q)),
                            _mm_loadu_ps(p.add(i + k * q)),
                        )
                    };
                    a = _mm256_add_ps(a, _mm256_mul_ps(ld(r, 0), ld(u, 0)));
                    b = _mm256_add_ps(b, _mm256_mul_ps(ld(r, 2), ld(u, 2)));
                }
            }
        } else {
            for i in (0..n).step_by(16) {
                // SAFETY: i + 16 ≤ n ≤ row.len(), user.len(); unaligned loads.
                unsafe {
                    let (r0, r1) = (_mm256_loadu_ps(r.add(i)), _mm256_loadu_ps(r.add(i + 8)));
                    let (u0, u1) = (_mm256_loadu_ps(u.add(i)), _mm256_loadu_ps(u.add(i + 8)));
                    a = _mm256_add_ps(a, _mm256_mul_ps(r0, u0));
                    b = _mm256_add_ps(b, _mm256_mul_ps(r1, u1));
                }
            }
        }
        // t[l] = (acc0[l] + acc1[l]) + (acc2[l] + acc3[l]).
        let t = _mm_add_ps(
            _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a)),
            _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps::<1>(b)),
        );
        let mut l = [0f32; 4];
        // SAFETY: `l` holds four f32; unaligned store.
        unsafe { _mm_storeu_ps(l.as_mut_ptr(), t) };
        (l[0] + l[1]) + (l[2] + l[3])
    }

    /// # Safety
    /// The CPU must support AVX2.
    ///
    /// Two passes over a block, as the relaxed wasm kernel: first the raw
    /// dot products, eight rows at a time, whose eight accumulators are
    /// reduced together (three rounds of `hadd` and one cross-half add, once
    /// per eight rows instead of a horizontal sum per row); then the
    /// epilogue (`aff`) and the maximum over the block, in L1. Fused into
    /// the row loop, the per-row horizontal sum and the epilogue's loads and
    /// checks left this scan at 1.4× its memory bound at 1M × 64 on the AMD
    /// EPYC host (2.8 ms vs 2.0). Integer sums are exact in any order, and
    /// the epilogue is `Affine::apply` itself, so every score is the scalar
    /// twin's.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot_i8(
        rows: &[i8],
        stride: usize,
        user: &[i8],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        if stride == 0 || stride % 16 != 0 || user.len() < stride {
            return super::scalar::dot_i8(rows, stride, user, aff, out);
        }
        let n = out.len().min(rows.len() / stride);
        match stride / 16 {
            // SAFETY (each arm): AVX2 is enabled here; `raw_dots` reads rows
            // j < n ≤ rows.len() / stride and `user[..stride]`.
            1 => unsafe { raw_dots::<1>(rows, user, &mut out[..n]) },
            2 => unsafe { raw_dots::<2>(rows, user, &mut out[..n]) },
            4 => unsafe { raw_dots::<4>(rows, user, &mut out[..n]) },
            8 => unsafe { raw_dots::<8>(rows, user, &mut out[..n]) },
            _ => {
                let uw = widen(user, stride / 16);
                for (o, row) in out[..n].iter_mut().zip(rows.chunks_exact(stride)) {
                    // SAFETY: the row has `stride` = 16·uw.len() bytes.
                    *o = unsafe { hsum(row_acc(row.as_ptr(), &uw)) } as f32;
                }
            }
        }
        let mut best = f32::NEG_INFINITY;
        for (j, o) in out[..n].iter_mut().enumerate() {
            *o = aff.apply(j, *o);
            if *o > best {
                best = *o;
            }
        }
        best
    }

    /// The user's first `chunks` 16-byte chunks, each widened to 16 i16.
    #[target_feature(enable = "avx2")]
    fn widen(user: &[i8], chunks: usize) -> Vec<__m256i> {
        user.chunks_exact(16)
            .take(chunks)
            // SAFETY: 16-byte chunk (chunks_exact); unaligned load.
            .map(|c| unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(c.as_ptr().cast())) })
            .collect()
    }

    /// One row's products in eight i32 lanes (their sum is the dot).
    ///
    /// # Safety
    /// `r` must point at `16 · uw.len()` readable bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn row_acc(r: *const i8, uw: &[__m256i]) -> __m256i {
        let mut acc = _mm256_setzero_si256();
        for (c, &u) in uw.iter().enumerate() {
            // SAFETY: chunk c of the row is in bounds (caller); unaligned load.
            let x = unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(r.add(16 * c).cast())) };
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, u));
        }
        acc
    }

    /// The sum of the eight lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn hsum(acc: __m256i) -> i32 {
        let s = _mm_add_epi32(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256::<1>(acc),
        );
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }

    /// `out[j] = row j · user` (as f32, exact) for rows of `16 · C` bytes.
    ///
    /// # Safety
    /// `rows` must hold `out.len()` rows of `16 · C` bytes, `user` at least
    /// `16 · C` bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn raw_dots<const C: usize>(rows: &[i8], user: &[i8], out: &mut [f32]) {
        let uw: [__m256i; C] = core::array::from_fn(|c| {
            // SAFETY: chunk c < C of the user is in bounds (caller).
            unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(user.as_ptr().add(16 * c).cast())) }
        });
        let base = rows.as_ptr();
        let n = out.len();
        let mut j = 0;
        while j + 8 <= n {
            // SAFETY: rows j..j + 8 < n are in bounds (caller).
            let a: [__m256i; 8] =
                core::array::from_fn(|i| unsafe { row_acc(base.add(16 * C * (j + i)), &uw) });
            let h01 = _mm256_hadd_epi32(a[0], a[1]);
            let h23 = _mm256_hadd_epi32(a[2], a[3]);
            let h45 = _mm256_hadd_epi32(a[4], a[5]);
            let h67 = _mm256_hadd_epi32(a[6], a[7]);
            // Per 128-bit half: the sums of rows 0–3 (4–7) over that half's lanes.
            let h0123 = _mm256_hadd_epi32(h01, h23);
            let h4567 = _mm256_hadd_epi32(h45, h67);
            let t = _mm256_add_epi32(
                _mm256_permute2x128_si256::<0x20>(h0123, h4567),
                _mm256_permute2x128_si256::<0x31>(h0123, h4567),
            );
            if let Some(o) = out.get_mut(j..j + 8) {
                // SAFETY: `o` holds eight f32; unaligned store.
                unsafe { _mm256_storeu_ps(o.as_mut_ptr(), _mm256_cvtepi32_ps(t)) };
            }
            j += 8;
        }
        while j < n {
            // SAFETY: row j < n is in bounds (caller).
            out[j] = hsum(unsafe { row_acc(base.add(16 * C * j), &uw) }) as f32;
            j += 1;
        }
    }
}

pub mod scalar {
    /// Twin of the SIMD `xor_taps`.
    pub fn xor_taps<
        const B: usize,
        const D0: usize,
        const D1: usize,
        const D2: usize,
        const D3: usize,
    >(
        h: &mut [u128],
        m: &[u8],
    ) {
        let n = (m.len() / 16).min(h.len().saturating_sub(B));
        for (t, w) in m.chunks_exact(16).take(n).enumerate() {
            let mut a = [0u8; 16];
            a.copy_from_slice(w);
            // Native byte order both ways: the bytes of h[i] are m's bytes
            // XORed, as in the SIMD twin's load/store.
            // One bounds check per word: the taps index a window of known length.
            let Some(w) = h.get_mut(t..t + B + 1) else {
                return;
            };
            w[B] = u128::from_ne_bytes(a) ^ w[B - D0] ^ w[B - D1] ^ w[B - D2] ^ w[B - D3];
        }
    }

    /// 16 independent lanes mirror the 4×f32x4 accumulators of the SIMD twin
    /// in [`super::quarter_order`], which also lets LLVM vectorize this natively.
    #[inline(always)]
    pub fn dot_row_f32(row: &[f32], user: &[f32]) -> f32 {
        let mut acc = [0f32; 16];
        if super::quarter_order(row.len()) {
            let q = row.len() / 4;
            for (k, (r, u)) in row.chunks_exact(q).zip(user.chunks_exact(q)).enumerate() {
                for (r, u) in r.chunks_exact(4).zip(u.chunks_exact(4)) {
                    for l in 0..4 {
                        acc[4 * k + l] += r[l] * u[l];
                    }
                }
            }
        } else {
            for (r, u) in row.chunks_exact(16).zip(user.chunks_exact(16)) {
                for l in 0..16 {
                    acc[l] += r[l] * u[l];
                }
            }
        }
        // Same reduction tree as the SIMD twin: (acc0 + acc1) + (acc2 + acc3)
        // lane-wise, then (t0 + t1) + (t2 + t3) (its 4-row transpose, or
        // `simd::hsum` for a tail row).
        let mut t = [0f32; 4];
        for (l, t) in t.iter_mut().enumerate() {
            *t = (acc[l] + acc[4 + l]) + (acc[8 + l] + acc[12 + l]);
        }
        // Lanes that start at +0 make a dot of −0 products +0; the SIMD twin's
        // quarters start at their first products and add 0 at the end.
        (t[0] + t[1]) + (t[2] + t[3])
    }

    pub fn dot_f32(
        rows: &[f32],
        stride: usize,
        user: &[f32],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        each_row(rows, stride, aff, out, |row| dot_row_f32(row, user))
    }

    /// `out[j] = aff(dot(row j))` over consecutive rows; returns the maximum.
    #[inline(always)]
    pub(super) fn each_row<T>(
        rows: &[T],
        stride: usize,
        aff: super::Affine<'_>,
        out: &mut [f32],
        dot: impl Fn(&[T]) -> f32,
    ) -> f32 {
        let mut best = f32::NEG_INFINITY;
        for (j, (o, row)) in out.iter_mut().zip(rows.chunks_exact(stride)).enumerate() {
            *o = aff.apply(j, dot(row));
            if *o > best {
                best = *o;
            }
        }
        best
    }

    pub fn sum_i8(rows: &[i8], stride: usize, out: &mut [i32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(stride.max(1))) {
            *o = row.iter().map(|&x| x as i32).sum();
        }
    }

    /// One accumulator, not `dot_row_i8(row, row)`'s sixteen: in the scalar
    /// wasm build that is ~1.7× faster at load (exact either way).
    pub fn sumsq_i8(rows: &[i8], stride: usize, out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(stride.max(1))) {
            *o = row.iter().map(|&x| x as i32 * x as i32).sum::<i32>() as f32;
        }
    }

    #[inline]
    pub fn dot_row_i8(row: &[i8], user: &[i8]) -> i32 {
        let mut acc = [0i32; 16];
        for (r, u) in row.chunks_exact(16).zip(user.chunks_exact(16)) {
            for l in 0..16 {
                acc[l] += r[l] as i32 * u[l] as i32;
            }
        }
        acc.iter().sum()
    }

    pub fn dot_i8(
        rows: &[i8],
        stride: usize,
        user: &[i8],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        each_row(rows, stride, aff, out, |row| dot_row_i8(row, user) as f32)
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
// In the relaxed-SIMD build `relaxed` replaces this module's int8 kernel.
#[cfg_attr(target_feature = "relaxed-simd", allow(dead_code))]
mod simd {
    use core::arch::wasm32::*;

    pub fn xor_taps<
        const B: usize,
        const D0: usize,
        const D1: usize,
        const D2: usize,
        const D3: usize,
    >(
        h: &mut [u128],
        m: &[u8],
    ) {
        let n = (m.len() / 16).min(h.len().saturating_sub(B));
        let hp = h.as_mut_ptr() as *mut v128;
        let mp = m.as_ptr() as *const v128;
        for t in 0..n {
            // SAFETY: t < n ≤ m.len() / 16, so word t of `m` is readable
            // (v128 loads need no alignment); t + B < h.len(), and every tap
            // reads index t + B - D ∈ [t, t + B) as 1 ≤ D ≤ B (checked at
            // compile time by the caller). Only raw pointers touch `h` here.
            // Positive constant offsets from `p` fold into the loads.
            unsafe {
                let p = hp.add(t);
                let x = v128_xor(v128_load(mp.add(t)), v128_load(p.add(B - D0)));
                let y = v128_xor(v128_load(p.add(B - D1)), v128_load(p.add(B - D2)));
                v128_store(p.add(B), v128_xor(v128_xor(x, y), v128_load(p.add(B - D3))));
            }
        }
    }

    /// Lane sum in the scalar twin's order: (t0 + t1) + (t2 + t3).
    #[inline(always)]
    fn hsum(v: v128) -> f32 {
        let s = f32x4_add(v, i32x4_shuffle::<1, 0, 3, 2>(v, v));
        f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<2>(s)
    }

    /// One row's four partial-sum lanes, (acc0 + acc1) + (acc2 + acc3), in
    /// [`super::quarter_order`] when `quarters`.
    ///
    /// A quarter starts at its first product: `0.0 + x` is not folded away
    /// (it turns −0 into +0), so a zero start would cost 4 adds a row (2–3%
    /// at 1M × 64 in Chromium 156). The loop keeps the zero start: peeled, V8
    /// ran it 2–3 × slower. The two differ only for a dot of −0 products,
    /// which callers of the quarter order turn into +0 with one more add.
    ///
    /// # Safety
    /// `r` and `u` must point at `stride` readable f32; `stride` is a
    /// non-zero multiple of 16.
    #[inline(always)]
    unsafe fn row_f32(r: *const f32, u: *const f32, stride: usize, quarters: bool) -> v128 {
        if quarters {
            let (rp, up) = (r as *const v128, u as *const v128);
            let q = stride / 16; // vectors per quarter
            let quarter = |k: usize| {
                let (rq, uq) = (rp.add(k * q), up.add(k * q));
                let mut a = f32x4_mul(v128_load(rq), v128_load(uq));
                let mut i = 1;
                while i < q {
                    a = f32x4_add(a, f32x4_mul(v128_load(rq.add(i)), v128_load(uq.add(i))));
                    i += 1;
                }
                a
            };
            return f32x4_add(
                f32x4_add(quarter(0), quarter(1)),
                f32x4_add(quarter(2), quarter(3)),
            );
        }
        let mut a0 = f32x4_splat(0.0);
        let (mut a1, mut a2, mut a3) = (a0, a0, a0);
        let mut c = 0;
        while c < stride {
            let rp = r.add(c) as *const v128;
            let up = u.add(c) as *const v128;
            a0 = f32x4_add(a0, f32x4_mul(v128_load(rp), v128_load(up)));
            a1 = f32x4_add(a1, f32x4_mul(v128_load(rp.add(1)), v128_load(up.add(1))));
            a2 = f32x4_add(a2, f32x4_mul(v128_load(rp.add(2)), v128_load(up.add(2))));
            a3 = f32x4_add(a3, f32x4_mul(v128_load(rp.add(3)), v128_load(up.add(3))));
            c += 16;
        }
        f32x4_add(f32x4_add(a0, a1), f32x4_add(a2, a3))
    }

    /// [Σa, Σb, Σc, Σd] over four vectors' lanes by a transpose-add (`add` is
    /// the f32 or i32 lane add), each as (x0 + x1) + (x2 + x3): the scalar
    /// twin's order.
    #[inline(always)]
    fn lane_sums(a: v128, b: v128, c: v128, d: v128, add: impl Fn(v128, v128) -> v128) -> v128 {
        // [a0+a1, b0+b1, a2+a3, b2+b3] and the same for c, d.
        let ab = add(
            i32x4_shuffle::<0, 4, 2, 6>(a, b),
            i32x4_shuffle::<1, 5, 3, 7>(a, b),
        );
        let cd = add(
            i32x4_shuffle::<0, 4, 2, 6>(c, d),
            i32x4_shuffle::<1, 5, 3, 7>(c, d),
        );
        add(
            i32x4_shuffle::<0, 1, 4, 5>(ab, cd),
            i32x4_shuffle::<2, 3, 6, 7>(ab, cd),
        )
    }

    /// Loads `v[j..j + 4]`, or `None` when `v` is absent or too short.
    #[inline(always)]
    fn load4(v: Option<&[f32]>, j: usize) -> Option<v128> {
        let s = v?.get(j..j + 4)?;
        // SAFETY: s has exactly 4 f32; v128_load has no alignment requirement.
        Some(unsafe { v128_load(s.as_ptr() as *const v128) })
    }

    /// Four rows per step: their lane sums come out of one transpose (one
    /// vector of four dots), the epilogue and the running maximum are two or
    /// three vector ops per four rows, and a store writes the four scores.
    /// Common row widths get an instance with the row loop fully unrolled:
    /// V8 puts a stack check on every loop back-edge, and without the inner
    /// loop the 1M × 64 scan runs ~10% faster in Chromium 156 (20% at 100k
    /// × 32), at a bare wasm read's speed. Width 128 unrolled was 1.7 × slower
    /// than its loop (its 32 hoisted user vectors spill), so only 32 and 64
    /// get an instance (1.5–3 KB of wasm each).
    pub fn dot_f32(
        rows: &[f32],
        stride: usize,
        user: &[f32],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        let n = out.len().min(rows.len() / stride.max(1));
        if stride == 0 || stride % 16 != 0 || user.len() < stride {
            return f32::NEG_INFINITY;
        }
        rest_f32(
            rows,
            stride,
            user,
            aff,
            out,
            n,
            0,
            f32x4_splat(f32::NEG_INFINITY),
        )
    }

    /// Two blocks, two quads of rows from each in turn, then the rest of each.
    /// Not inlined: inside the scan function this code made the int8 scan
    /// beside it 17% slower at 100k × 64 in Chromium (same int8 kernel).
    #[inline(never)]
    pub fn dot_f32_pair(
        rows: [&[f32]; 2],
        stride: usize,
        user: &[f32],
        aff: [super::Affine<'_>; 2],
        out: [&mut [f32]; 2],
    ) -> [f32; 2] {
        let [oa, ob] = out;
        let na = oa.len().min(rows[0].len() / stride.max(1));
        let nb = ob.len().min(rows[1].len() / stride.max(1));
        if stride == 0 || stride % 16 != 0 || user.len() < stride {
            return [f32::NEG_INFINITY; 2];
        }
        let both = na.min(nb) / 8 * 8;
        let mut best = [f32x4_splat(f32::NEG_INFINITY); 2];
        let mut j = 0;
        while j < both {
            match stride {
                32 => quad_pair::<32>(rows, stride, user, aff, [&mut *oa, &mut *ob], j, &mut best),
                64 => quad_pair::<64>(rows, stride, user, aff, [&mut *oa, &mut *ob], j, &mut best),
                // Other widths: one block after the other (no unrolled quad
                // to pair, and the code would cost wasm size).
                _ => break,
            }
            j += 8;
        }
        [
            rest_f32(rows[0], stride, user, aff[0], oa, na, j, best[0]),
            rest_f32(rows[1], stride, user, aff[1], ob, nb, j, best[1]),
        ]
    }

    /// Quads `j` and `j + 4` of each of two blocks (both hold rows j..j + 8).
    #[inline(always)]
    fn quad_pair<const S: usize>(
        rows: [&[f32]; 2],
        stride: usize,
        user: &[f32],
        aff: [super::Affine<'_>; 2],
        out: [&mut [f32]; 2],
        j: usize,
        best: &mut [v128; 2],
    ) {
        for (((r, a), o), b) in rows.into_iter().zip(aff).zip(out).zip(best.iter_mut()) {
            let x = quad_f32::<S>(r, stride, user, a, o, j);
            let y = quad_f32::<S>(r, stride, user, a, o, j + 4);
            *b = f32x4_pmax(*b, f32x4_pmax(x, y));
        }
    }

    /// Rows j0..n: whole quads, then one row at a time; `best` is the lanes'
    /// running maximum so far. Callers check that `n ≤ rows.len() / stride`,
    /// `user.len() ≥ stride` and `stride % 16 == 0`.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn rest_f32(
        rows: &[f32],
        stride: usize,
        user: &[f32],
        aff: super::Affine<'_>,
        out: &mut [f32],
        n: usize,
        j0: usize,
        best: v128,
    ) -> f32 {
        let (mut j, best) = match stride {
            32 => quads_f32::<32>(rows, stride, user, aff, out, n, j0, best),
            64 => quads_f32::<64>(rows, stride, user, aff, out, n, j0, best),
            _ => quads_f32::<0>(rows, stride, user, aff, out, n, j0, best),
        };
        let quarters = super::quarter_order(stride);
        let mut m = lane_max(best);
        while j < n {
            // SAFETY: as in `quad_f32`, for row j < n.
            let dot = hsum(unsafe {
                row_f32(
                    rows.as_ptr().add(j * stride),
                    user.as_ptr(),
                    stride,
                    quarters,
                )
            }) + 0.0;
            let v = aff.apply(j, dot);
            if let Some(o) = out.get_mut(j) {
                *o = v;
            }
            if v > m {
                m = v;
            }
            j += 1;
        }
        m
    }

    /// Rows j0..n in whole groups of four, with the row width `S` known at
    /// compile time (`S == 0`: `stride` at run time). Returns the first row
    /// not scored and the lanes' running maximum.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn quads_f32<const S: usize>(
        rows: &[f32],
        stride: usize,
        user: &[f32],
        aff: super::Affine<'_>,
        out: &mut [f32],
        n: usize,
        j0: usize,
        mut best: v128,
    ) -> (usize, v128) {
        let mut j = j0;
        while j + 4 <= n {
            // pmax(best, s) keeps `best` when s is NaN: NaN never wins.
            best = f32x4_pmax(best, quad_f32::<S>(rows, stride, user, aff, out, j));
            j += 4;
        }
        (j, best)
    }

    /// Scores rows j..j + 4 into `out[j..j + 4]` and returns them. Callers
    /// check that j + 4 ≤ rows.len() / stride, `user.len() ≥ stride` and
    /// `stride % 16 == 0`; `S` is 0 (run-time `stride`) or `stride`.
    #[inline(always)]
    fn quad_f32<const S: usize>(
        rows: &[f32],
        stride: usize,
        user: &[f32],
        aff: super::Affine<'_>,
        out: &mut [f32],
        j: usize,
    ) -> v128 {
        let stride = if S == 0 { stride } else { S };
        let (u, base) = (user.as_ptr(), rows.as_ptr());
        // SAFETY (every `row` call): row i < j + 4 spans rows[i*stride ..
        // (i+1)*stride] within `rows`; user spans stride f32; stride % 16 == 0.
        let quarters = S != 0 && super::quarter_order(stride);
        let row = |i: usize| unsafe { row_f32(base.add(i * stride), u, stride, quarters) };
        let (a, b, c, d) = (row(j), row(j + 1), row(j + 2), row(j + 3));
        let dots = f32x4_add(
            lane_sums(a, b, c, d, |x, y| f32x4_add(x, y)),
            f32x4_splat(0.0),
        );
        let s = epilogue4(dots, aff, j);
        if let Some(o) = out.get_mut(j..j + 4) {
            // SAFETY: o has exactly 4 f32; v128_store has no alignment requirement.
            unsafe { v128_store(o.as_mut_ptr() as *mut v128, s) };
        }
        s
    }

    /// Exact int8 dot products: rows and user split into sign-extended even
    /// and odd bytes (i16 lanes), multiplied and pair-summed into i32 lanes
    /// by `i32x4.dot_i16x8_s`. The split is i16 shifts rather than
    /// `extend_low/high`, which V8 lowers to shuffles that all queue on one
    /// x86 port: 1.5 × faster in Chromium 156 at 1M × 64, equal in Node 20
    /// (two shifts per 16 bytes in `row_dot`: 8–10% faster than three). Common row
    /// widths get a const-generic instance with the widened user held in
    /// registers and the row loop fully unrolled; four rows are reduced
    /// together so the horizontal sums cost one shuffle tree per four rows.
    pub fn dot_i8(
        rows: &[i8],
        stride: usize,
        user: &[i8],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        let n = out.len().min(rows.len() / stride.max(1));
        if stride == 0 || stride % 16 != 0 || user.len() < stride {
            return f32::NEG_INFINITY;
        }
        let out = &mut out[..n];
        match stride / 16 {
            1 => dot_i8_c::<1>(rows, user, aff, out),
            2 => dot_i8_c::<2>(rows, user, aff, out),
            4 => dot_i8_c::<4>(rows, user, aff, out),
            8 => dot_i8_c::<8>(rows, user, aff, out),
            _ => dot_i8_any(rows, stride, user, aff, out),
        }
    }

    /// 16 bytes as i16x8 lanes of their (even, odd) bytes, sign-extended.
    #[inline(always)]
    fn even_odd(v: v128) -> (v128, v128) {
        (i16x8_shr(i16x8_shl(v, 8), 8), i16x8_shr(v, 8))
    }

    /// A 16-byte user chunk split by [`even_odd`].
    #[inline(always)]
    fn widen(chunk: &[i8]) -> (v128, v128) {
        // SAFETY: callers pass 16-byte chunks (chunks_exact(16) / from_fn over
        // 16·C bytes); v128_load has no alignment requirement.
        even_odd(unsafe { v128_load(chunk.as_ptr() as *const v128) })
    }

    /// One row against the split user: two shifts and two
    /// `i32x4.dot_i16x8_s` (one x86 `pmaddwd` each) per 16 bytes.
    ///
    /// # Safety
    /// `r` must point at `16 · uw.len()` readable bytes.
    #[inline(always)]
    unsafe fn row_dot(r: *const i8, uw: &[(v128, v128)]) -> v128 {
        // `shl 8` alone makes each even byte an exact i16 (256 · byte): its
        // products are 256 × too large, summed apart and shifted back once
        // per row (exact: |Σ| ≤ 4096 / 8 · 2 · 128 · 256 · 63 < 2³¹), which
        // saves one shift per 16 bytes.
        let mut acc_e = i32x4_splat(0);
        let mut acc_o = i32x4_splat(0);
        for (c, &(ue, uo)) in uw.iter().enumerate() {
            let v = v128_load(r.add(16 * c) as *const v128);
            acc_e = i32x4_add(acc_e, i32x4_dot_i16x8(i16x8_shl(v, 8), ue));
            acc_o = i32x4_add(acc_o, i32x4_dot_i16x8(i16x8_shr(v, 8), uo));
        }
        i32x4_add(i32x4_shr(acc_e, 8), acc_o)
    }

    /// Const width: the widened user stays in registers, the loop unrolls.
    #[inline(always)]
    fn dot_i8_c<const C: usize>(
        rows: &[i8],
        user: &[i8],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        let n = out.len().min(rows.len() / (16 * C));
        let ub: [(v128, v128); C] = core::array::from_fn(|c| widen(&user[16 * c..16 * c + 16]));
        let base = rows.as_ptr();
        // SAFETY: row j < n spans rows[16·C·j .. 16·C·(j+1)].
        reduce4(
            n,
            |j| unsafe { row_dot(base.add(16 * C * j), &ub) },
            None,
            out,
        );
        apply(out, aff)
    }

    pub fn sumsq_i8(rows: &[i8], stride: usize, out: &mut [f32]) {
        let n = out.len().min(rows.len() / stride.max(1));
        if stride == 0 || stride % 16 != 0 {
            return;
        }
        let base = rows.as_ptr();
        // SAFETY: row j < n spans rows[stride·j .. stride·(j+1)].
        let row_acc = |j: usize| -> v128 {
            let r = unsafe { base.add(stride * j) };
            let mut acc = i32x4_splat(0);
            let mut c = 0;
            while c < stride {
                let (e, o) = even_odd(unsafe { v128_load(r.add(c) as *const v128) });
                acc = i32x4_add(acc, i32x4_add(i32x4_dot_i16x8(e, e), i32x4_dot_i16x8(o, o)));
                c += 16;
            }
            acc
        };
        reduce4(n, row_acc, None, &mut out[..n]);
    }

    pub fn sum_i8(rows: &[i8], stride: usize, out: &mut [i32]) {
        if stride == 0 || stride % 16 != 0 {
            return super::scalar::sum_i8(rows, stride, out);
        }
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(stride)) {
            let mut acc = i32x4_splat(0);
            for c in row.chunks_exact(16) {
                // SAFETY: `c` is 16 readable bytes (v128 loads need no alignment).
                let v = unsafe { v128_load(c.as_ptr() as *const v128) };
                acc = i32x4_add(
                    acc,
                    i32x4_extadd_pairwise_i16x8(i16x8_extadd_pairwise_i8x16(v)),
                );
            }
            *o = i32x4_extract_lane::<0>(acc)
                + i32x4_extract_lane::<1>(acc)
                + i32x4_extract_lane::<2>(acc)
                + i32x4_extract_lane::<3>(acc);
        }
    }

    fn dot_i8_any(
        rows: &[i8],
        stride: usize,
        user: &[i8],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        let n = out.len();
        let uw: Vec<(v128, v128)> = user.chunks_exact(16).take(stride / 16).map(widen).collect();
        let base = rows.as_ptr();
        // SAFETY: row j < n spans rows[stride·j .. stride·(j+1)], stride = 16·uw.len().
        reduce4(
            n,
            |j| unsafe { row_dot(base.add(stride * j), &uw) },
            None,
            out,
        );
        apply(out, aff)
    }

    /// Row sums of four i32x4 accumulators at a time (transpose-add), as f32.
    /// With `offset`, `64 · offset[j]` is taken off row j's sum first (the
    /// relaxed kernel's +64 user bias); `offset` must then cover `n` rows.
    #[inline(always)]
    pub(super) fn reduce4(
        n: usize,
        row_acc: impl Fn(usize) -> v128,
        offset: Option<&[i32]>,
        out: &mut [f32],
    ) {
        let mut j = 0;
        while j + 4 <= n {
            let (a, b, c, d) = (row_acc(j), row_acc(j + 1), row_acc(j + 2), row_acc(j + 3));
            let mut s = lane_sums(a, b, c, d, |x, y| i32x4_add(x, y));
            if let Some(o) = offset.and_then(|o| o.get(j..j + 4)) {
                // SAFETY: o has exactly 4 i32; v128_load has no alignment requirement.
                let o = unsafe { v128_load(o.as_ptr() as *const v128) };
                s = i32x4_sub(s, i32x4_shl(o, 6));
            }
            if let Some(o) = out.get_mut(j..j + 4) {
                // SAFETY: o has exactly 4 f32; v128_store has no alignment requirement.
                unsafe { v128_store(o.as_mut_ptr() as *mut v128, f32x4_convert_i32x4(s)) };
            }
            j += 4;
        }
        while j < n {
            let a = row_acc(j);
            let s = i32x4_extract_lane::<0>(a)
                + i32x4_extract_lane::<1>(a)
                + i32x4_extract_lane::<2>(a)
                + i32x4_extract_lane::<3>(a)
                - offset.and_then(|o| o.get(j)).map_or(0, |&o| o << 6);
            if let Some(o) = out.get_mut(j) {
                *o = s as f32;
            }
            j += 1;
        }
    }

    /// `aff` over a block of raw int8 dot products in place, as a second
    /// pass over the block (in L1): inside the compute-bound int8 loop the
    /// epilogue's loads cost 10–20% in Chromium, here almost nothing. (The
    /// memory-bound f32 kernel fuses it instead.) Returns the maximum.
    pub(super) fn apply(out: &mut [f32], aff: super::Affine<'_>) -> f32 {
        let mut best = f32x4_splat(f32::NEG_INFINITY);
        let mut j = 0;
        while j + 4 <= out.len() {
            if let Some(o) = out.get_mut(j..j + 4) {
                // SAFETY: o has exactly 4 f32; no alignment requirement.
                unsafe {
                    let f = epilogue4(v128_load(o.as_ptr() as *const v128), aff, j);
                    best = f32x4_pmax(best, f);
                    v128_store(o.as_mut_ptr() as *mut v128, f);
                }
            }
            j += 4;
        }
        let mut m = lane_max(best);
        while j < out.len() {
            let v = aff.apply(j, out[j]);
            out[j] = v;
            if v > m {
                m = v;
            }
            j += 1;
        }
        m
    }

    /// `aff` on rows j..j+4, the same f32 operations as `Affine::apply`.
    #[inline(always)]
    fn epilogue4(mut s: v128, aff: super::Affine<'_>, j: usize) -> v128 {
        if let Some((sc, c)) = aff.scale {
            if let Some(k) = load4(Some(sc), j) {
                s = f32x4_mul(s, f32x4_mul(k, f32x4_splat(c)));
            }
        }
        if let Some(m) = load4(aff.mul, j) {
            s = f32x4_mul(s, m);
        }
        if let Some(a) = load4(aff.add, j) {
            s = f32x4_add(s, a);
        }
        s
    }

    #[inline(always)]
    fn lane_max(v: v128) -> f32 {
        f32x4_extract_lane::<0>(v)
            .max(f32x4_extract_lane::<1>(v))
            .max(f32x4_extract_lane::<2>(v))
            .max(f32x4_extract_lane::<3>(v))
    }
}

/// The int8 kernel with relaxed SIMD: `i32x4.relaxed_dot_i8x16_i7x16_add_s`
/// does 16 multiply-adds per instruction (x86 `pmaddubsw` + `pmaddwd`, or one
/// `vpdpbusd`), against two widenings and two `dot_i16x8` in `simd`. Its
/// second operand must be in 0..=127 to be deterministic, so the user goes in
/// as u + 64 and `64 · Σrow` comes off again in `reduce4`. No `i16` pair sum
/// can saturate: |2 · (−128) · 127| = 32512 < 32768, even for −128 bytes.
#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    target_feature = "relaxed-simd"
))]
mod relaxed {
    use super::simd::{apply, reduce4};
    use core::arch::wasm32::*;

    pub fn dot_i8(
        rows: &[i8],
        stride: usize,
        user: &[i8],
        sums: &[i32],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        let n = out.len().min(rows.len() / stride.max(1));
        if stride == 0 || stride % 16 != 0 || user.len() < stride || sums.len() < n {
            return f32::NEG_INFINITY;
        }
        let (out, sums) = (&mut out[..n], &sums[..n]);
        match stride / 16 {
            1 => dot_c::<1>(rows, user, sums, aff, out),
            2 => dot_c::<2>(rows, user, sums, aff, out),
            4 => dot_c::<4>(rows, user, sums, aff, out),
            8 => dot_c::<8>(rows, user, sums, aff, out),
            _ => {
                let ub: Vec<v128> = user
                    .chunks_exact(16)
                    .take(stride / 16)
                    .map(biased)
                    .collect();
                let base = rows.as_ptr();
                // SAFETY: row j < n spans rows[stride·j .. stride·(j+1)], stride = 16·ub.len().
                reduce4(
                    n,
                    |j| unsafe { row_dot(base.add(stride * j), &ub) },
                    Some(sums),
                    out,
                );
                apply(out, aff)
            }
        }
    }

    /// A 16-byte user chunk plus 64: bytes in 1..=127.
    #[inline(always)]
    fn biased(chunk: &[i8]) -> v128 {
        // SAFETY: callers pass 16-byte chunks; no alignment requirement.
        let u = unsafe { v128_load(chunk.as_ptr() as *const v128) };
        i8x16_add(u, i8x16_splat(64))
    }

    /// # Safety
    /// `r` must point at `16 · ub.len()` readable bytes.
    #[inline(always)]
    unsafe fn row_dot(r: *const i8, ub: &[v128]) -> v128 {
        // Two accumulators: a dot-add waits for the previous one's sum.
        let dot = |c: usize, u: v128, acc: v128| {
            i32x4_relaxed_dot_i8x16_i7x16_add(v128_load(r.add(16 * c) as *const v128), u, acc)
        };
        let (mut a0, mut a1) = (i32x4_splat(0), i32x4_splat(0));
        let mut c = 0;
        while c + 2 <= ub.len() {
            a0 = dot(c, ub[c], a0);
            a1 = dot(c + 1, ub[c + 1], a1);
            c += 2;
        }
        if c < ub.len() {
            a0 = dot(c, ub[c], a0);
        }
        i32x4_add(a0, a1)
    }

    #[inline(always)]
    fn dot_c<const C: usize>(
        rows: &[i8],
        user: &[i8],
        sums: &[i32],
        aff: super::Affine<'_>,
        out: &mut [f32],
    ) -> f32 {
        let n = out.len().min(rows.len() / (16 * C));
        let ub: [v128; C] = core::array::from_fn(|c| biased(&user[16 * c..16 * c + 16]));
        let base = rows.as_ptr();
        // SAFETY: row j < n spans rows[16·C·j .. 16·C·(j+1)].
        reduce4(
            n,
            |j| unsafe { row_dot(base.add(16 * C * j), &ub) },
            Some(sums),
            out,
        );
        apply(out, aff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn f32_kernel_matches_naive_sum() {
        let mut s = 7;
        for stride in [16, 32, 64, 128] {
            let rows: Vec<f32> = (0..stride * 37).map(|_| lcg(&mut s)).collect();
            let user: Vec<f32> = (0..stride).map(|_| lcg(&mut s)).collect();
            let mut out = vec![0.0; 37];
            dot_f32(&rows, stride, &user, Affine::default(), &mut out);
            for (j, &o) in out.iter().enumerate() {
                let naive: f64 = (0..stride)
                    .map(|c| rows[j * stride + c] as f64 * user[c] as f64)
                    .sum();
                assert!((o as f64 - naive).abs() < 1e-4, "row {j}: {o} vs {naive}");
            }
        }
    }

    #[test]
    fn f32_kernel_gives_plus_zero_for_a_dot_of_negative_zeros() {
        // Every product is −0: the dot is +0 (lanes start at +0), the value
        // the SIMD twin's unrolled widths normalize to (checked in Node).
        for stride in [16, 32, 64, 128] {
            let rows: Vec<f32> = (0..stride * 5)
                .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
                .collect();
            let user: Vec<f32> = (0..stride)
                .map(|i| if i % 2 == 0 { -0.0 } else { -1.0 })
                .collect();
            let mut out = vec![f32::NAN; 5];
            dot_f32(&rows, stride, &user, Affine::default(), &mut out);
            for o in out {
                assert_eq!(o.to_bits(), 0f32.to_bits(), "stride {stride}");
            }
        }
    }

    #[test]
    fn f32_kernel_applies_the_epilogue_and_returns_the_max() {
        let mut s = 3;
        let stride = 32;
        // 4-row steps plus a tail of 3.
        let n = 23;
        let rows: Vec<f32> = (0..stride * n).map(|_| lcg(&mut s)).collect();
        let user: Vec<f32> = (0..stride).map(|_| lcg(&mut s)).collect();
        let mul: Vec<f32> = (0..n).map(|_| lcg(&mut s).abs()).collect();
        let add: Vec<f32> = (0..n).map(|_| lcg(&mut s)).collect();
        let mut raw = vec![0.0; n];
        let raw_max = dot_f32(&rows, stride, &user, Affine::default(), &mut raw);
        assert_eq!(
            raw_max,
            raw.iter().copied().fold(f32::NEG_INFINITY, f32::max)
        );
        let sc: Vec<f32> = (0..n).map(|_| lcg(&mut s).abs()).collect();
        let aff = Affine {
            scale: Some((&sc, 0.37)),
            mul: Some(&mul),
            add: Some(&add),
        };
        let mut out = vec![0.0; n];
        let max = dot_f32(&rows, stride, &user, aff, &mut out);
        for j in 0..n {
            assert_eq!(out[j], raw[j] * (sc[j] * 0.37) * mul[j] + add[j], "row {j}");
        }
        assert_eq!(max, out.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        // The int8 kernel applies the same epilogue to its exact integers.
        let q: Vec<i8> = rows.iter().map(|&v| (v * 127.0) as i8).collect();
        let uq: Vec<i8> = user.iter().map(|&v| (v * USER_I8_MAX) as i8).collect();
        let mut sums = vec![0; n];
        sum_i8(&q, stride, &mut sums);
        let mut ints = vec![0.0; n];
        dot_i8(&q, stride, &uq, &sums, Affine::default(), &mut ints);
        let max = dot_i8(&q, stride, &uq, &sums, aff, &mut out);
        for j in 0..n {
            assert_eq!(
                out[j],
                ints[j] * (sc[j] * 0.37) * mul[j] + add[j],
                "int8 row {j}"
            );
        }
        assert_eq!(max, out.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        assert_eq!(
            dot_f32(&rows, stride, &user, aff, &mut []),
            f32::NEG_INFINITY
        );
    }

    /// The native AVX2 kernels against their scalar twins, bit for bit
    /// (f32: same summation order; int8: exact integers), with the epilogue,
    /// tails of 1–3 rows, extreme bytes and every stride shape.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn native_kernels_match_scalar_twins_bit_for_bit() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: the scan runs the scalar twins");
            return;
        }
        let mut s = 19;
        for stride in [16, 32, 48, 64, 128, 256] {
            for n in [0, 1, 3, 4, 37] {
                let rows: Vec<f32> = (0..stride * n).map(|_| lcg(&mut s) * 3.0).collect();
                let user: Vec<f32> = (0..stride).map(|_| lcg(&mut s)).collect();
                let sc: Vec<f32> = (0..n).map(|_| lcg(&mut s).abs()).collect();
                let mul: Vec<f32> = (0..n).map(|_| lcg(&mut s).abs()).collect();
                let add: Vec<f32> = (0..n).map(|_| lcg(&mut s)).collect();
                for aff in [
                    Affine::default(),
                    Affine {
                        scale: Some((&sc, 0.37)),
                        mul: Some(&mul),
                        add: Some(&add),
                    },
                ] {
                    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
                    // SAFETY: AVX2 checked above.
                    let ma = unsafe { native::dot_f32(&rows, stride, &user, aff, &mut a) };
                    let mb = scalar::dot_f32(&rows, stride, &user, aff, &mut b);
                    assert_eq!(ma.to_bits(), mb.to_bits(), "f32 max, stride {stride}");
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a), bits(&b), "f32, stride {stride} n {n}");
                    let mut q: Vec<i8> = rows.iter().map(|&v| (v * 50.0) as i8).collect();
                    if let Some(x) = q.first_mut() {
                        *x = i8::MIN;
                    }
                    let mut uq: Vec<i8> = user.iter().map(|&v| (v * USER_I8_MAX) as i8).collect();
                    uq[0] = -(USER_I8_MAX as i8);
                    // SAFETY: AVX2 checked above.
                    let ma = unsafe { native::dot_i8(&q, stride, &uq, aff, &mut a) };
                    let mb = scalar::dot_i8(&q, stride, &uq, aff, &mut b);
                    assert_eq!(ma.to_bits(), mb.to_bits(), "int8 max, stride {stride}");
                    assert_eq!(bits(&a), bits(&b), "int8, stride {stride} n {n}");
                }
            }
        }
    }

    #[test]
    fn i8_kernel_is_exact() {
        let mut s = 11;
        let stride = 64;
        let rows: Vec<i8> = (0..stride * 41)
            .map(|_| (lcg(&mut s) * 127.0) as i8)
            .collect();
        let user: Vec<i8> = (0..stride)
            .map(|_| (lcg(&mut s) * USER_I8_MAX) as i8)
            .collect();
        let mut sums = vec![0; 41];
        sum_i8(&rows, stride, &mut sums);
        let mut out = vec![0.0; 41];
        let best = dot_i8(&rows, stride, &user, &sums, Affine::default(), &mut out);
        assert_eq!(best, out.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        for (j, &o) in out.iter().enumerate() {
            let naive: i32 = (0..stride)
                .map(|c| rows[j * stride + c] as i32 * user[c] as i32)
                .sum();
            assert_eq!(o, naive as f32);
        }
    }

    #[test]
    fn sumsq_kernels_match_naive() {
        let mut s = 5;
        let stride = 32;
        let q: Vec<i8> = (0..stride * 9)
            .map(|_| (lcg(&mut s) * 127.0) as i8)
            .collect();
        let mut out = vec![0.0; 9];
        sumsq_i8(&q, stride, &mut out);
        for (j, &o) in out.iter().enumerate() {
            let naive: i32 = q[j * stride..(j + 1) * stride]
                .iter()
                .map(|&v| v as i32 * v as i32)
                .sum();
            assert_eq!(o, naive as f32);
        }
        let f: Vec<f32> = (0..stride * 9).map(|_| lcg(&mut s)).collect();
        sumsq_f32(&f, stride, &mut out);
        for (j, &o) in out.iter().enumerate() {
            let naive: f32 = f[j * stride..(j + 1) * stride].iter().map(|v| v * v).sum();
            assert!((o - naive).abs() < 1e-4);
        }
    }

    #[test]
    fn extreme_int8_values_do_not_overflow() {
        // -128 can appear in a hostile file; the sum must still be exact.
        let rows = vec![-128i8; 32];
        let user = vec![-(USER_I8_MAX as i8); 32];
        let mut sums = [0];
        sum_i8(&rows, 32, &mut sums);
        assert_eq!(sums[0], -128 * 32);
        let mut out = [0.0];
        dot_i8(&rows, 32, &user, &sums, Affine::default(), &mut out);
        assert_eq!(out[0], (128 * 63 * 32) as f32);
    }

    #[test]
    fn f16_kernel_matches_widened_f32() {
        let mut s = 3;
        let stride = 32;
        let vals: Vec<f32> = (0..stride * 5).map(|_| lcg(&mut s)).collect();
        let halves: Vec<u16> = vals.iter().map(|&v| crate::format::f32_to_f16(v)).collect();
        let widened: Vec<f32> = halves.iter().map(|&h| f16_to_f32(h)).collect();
        let user: Vec<f32> = (0..stride).map(|_| lcg(&mut s)).collect();
        let (mut a, mut b) = (vec![0.0; 5], vec![0.0; 5]);
        dot_f16(
            &halves,
            stride,
            &user,
            Affine::default(),
            &mut a,
            &mut Vec::new(),
        );
        dot_f32(&widened, stride, &user, Affine::default(), &mut b);
        assert_eq!(a, b);
    }
}
