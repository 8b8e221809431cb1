//! Custom mutators. libFuzzer's byte mutations almost never keep a CRC-32
//! right, so on their own they test the checksum check and little else. These
//! mutators mix three kinds of step:
//!
//! - **raw**: libFuzzer's own mutation of the whole file, checksums left as
//!   they fall (the bytes around the content: header, table, checksums);
//! - **raw, resealed**: the same, then every checksum recomputed (header and
//!   table fields behind valid checksums);
//! - **structured**: one section's body mutated, resized, retyped, dropped,
//!   duplicated or moved, the file laid out again and resealed (section
//!   content behind valid checksums and valid framing).
//!
//! The byte-level mutator is a parameter (`libfuzzer_sys::fuzzer_mutate` in
//! the targets) so the logic can be unit-tested without libFuzzer.

use crate::reseal::{assemble, reseal, reseal_vti, split, Section, VTI_HEADER_LEN};

/// `(data, size, max_size) -> new size`, libFuzzer's `LLVMFuzzerMutate` shape.
pub type ByteMutator<'a> = &'a mut dyn FnMut(&mut [u8], usize, usize) -> usize;

/// SplitMix64, seeded by libFuzzer's per-call seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u32) -> Self {
        Rng(u64::from(seed) ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// 32-bit values that sit on the validators' edges: zero, one, all ones, the
/// f32 specials, huge finite floats (int8 scales, Gram diagonals), tiny and
/// negative ones, and small counts.
pub const INTERESTING_U32: [u32; 20] = [
    0,
    1,
    2,
    0xFFFF_FFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0x7F80_0000, // +inf
    0xFF80_0000, // -inf
    0x7FC0_0000, // NaN
    0x7F7F_FFFF, // f32::MAX
    0xFF7F_FFFF, // f32::MIN
    0x7E96_7699, // 1e38
    0xF149_F2CA, // -1e30
    0x0000_0001, // smallest subnormal
    0x3F80_0000, // 1.0
    0xBF80_0000, // -1.0
    0x4780_0000, // 65536.0
    16,
    64,
    4097,
];

fn raw(data: &mut [u8], size: usize, max_size: usize, m: ByteMutator<'_>) -> usize {
    m(data, size, max_size).min(max_size)
}

/// Writes `out` into libFuzzer's buffer if it fits; the new size, or `None`.
fn emit(data: &mut [u8], max_size: usize, out: &[u8]) -> Option<usize> {
    if out.len() > max_size || out.len() > data.len() {
        return None;
    }
    data[..out.len()].copy_from_slice(out);
    Some(out.len())
}

/// One structured edit of `sections`; false when it had nothing to act on.
fn edit_sections(
    sections: &mut Vec<Section>,
    rng: &mut Rng,
    max_size: usize,
    m: ByteMutator<'_>,
) -> bool {
    if sections.is_empty() {
        return false;
    }
    let i = rng.below(sections.len());
    match rng.below(16) {
        // Content, the common case: libFuzzer's mutation of one body, which
        // may grow or shrink it.
        0..=7 => {
            let body = &mut sections[i].body;
            let len = body.len();
            let cap = (len * 2).clamp(64, max_size.max(64));
            body.resize(cap.max(len), 0);
            let n = m(body, len, cap.max(len));
            body.truncate(n);
        }
        // A value on a validator's edge at an aligned word (most sections are
        // arrays of u32/f32).
        8..=10 => {
            let body = &mut sections[i].body;
            let words = body.len() / 4;
            if words == 0 {
                return false;
            }
            let w = rng.below(words) * 4;
            let v = if rng.below(4) == 0 {
                rng.next_u64() as u32
            } else {
                INTERESTING_U32[rng.below(INTERESTING_U32.len())]
            };
            body[w..w + 4].copy_from_slice(&v.to_le_bytes());
        }
        11 => {
            sections.remove(i);
        }
        12 => {
            let s = sections[i].clone();
            let at = rng.below(sections.len() + 1);
            sections.insert(at, s);
        }
        13 => {
            let j = rng.below(sections.len());
            sections.swap(i, j);
        }
        // Another kind (known or not), or the required flag flipped.
        14 => {
            if rng.below(2) == 0 {
                sections[i].kind = match rng.below(4) {
                    0 => rng.next_u64() as u32,
                    _ => 1 + rng.below(21) as u32,
                };
            } else {
                sections[i].flags ^= 1 << rng.below(3);
            }
        }
        // Cut or pad the end: shapes that disagree by a few elements.
        _ => {
            let body = &mut sections[i].body;
            let d = 1 + rng.below(8);
            if rng.below(2) == 0 {
                body.truncate(body.len().saturating_sub(d));
            } else {
                body.extend(std::iter::repeat_n(0u8, d));
            }
        }
    }
    true
}

/// The bundle mutator: see the module doc for the mix.
pub fn mutate_bundle(
    data: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u32,
    m: ByteMutator<'_>,
) -> usize {
    let mut rng = Rng::new(seed);
    let size = size.min(data.len());
    match rng.below(8) {
        0 | 1 => raw(data, size, max_size, m),
        2 => {
            let n = raw(data, size, max_size, m);
            reseal(&mut data[..n]);
            n
        }
        _ => {
            let Some((mut header, mut sections)) = split(&data[..size]) else {
                let n = raw(data, size, max_size, m);
                reseal(&mut data[..n]);
                return n;
            };
            // Sometimes two edits, and sometimes a reserved header byte too
            // (flags at 20..24, bytes 36..64).
            let steps = 1 + rng.below(2);
            for _ in 0..steps {
                edit_sections(&mut sections, &mut rng, max_size, &mut *m);
            }
            if rng.below(16) == 0 {
                let at = [20, 21, 22, 23, 36 + rng.below(28)][rng.below(5)];
                header[at] = rng.next_u64() as u8;
            }
            let out = assemble(&header, &sections);
            emit(data, max_size, &out).unwrap_or_else(|| raw(data, size, max_size, m))
        }
    }
}

/// The `.vti` mutator: raw (a quarter), or the payload mutated / given an
/// edge value and the header's length and CRC fixed.
pub fn mutate_vti(
    data: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u32,
    m: ByteMutator<'_>,
) -> usize {
    let mut rng = Rng::new(seed);
    let size = size.min(data.len());
    if size < VTI_HEADER_LEN || max_size <= VTI_HEADER_LEN || rng.below(4) == 0 {
        return raw(data, size, max_size, m);
    }
    let n = if rng.below(3) == 0 {
        let words = (size - VTI_HEADER_LEN) / 4;
        if words > 0 {
            // Unaligned on purpose: payload fields are packed, not aligned.
            let at = VTI_HEADER_LEN + rng.below(size - VTI_HEADER_LEN - 3);
            let v = INTERESTING_U32[rng.below(INTERESTING_U32.len())];
            data[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        size
    } else {
        let end = max_size.min(data.len());
        let payload = &mut data[VTI_HEADER_LEN..end];
        let cap = payload.len();
        VTI_HEADER_LEN + m(payload, size - VTI_HEADER_LEN, cap).min(cap)
    };
    reseal_vti(&mut data[..n]);
    n
}
