//! CRC-32 (IEEE 802.3, reflected, as zlib/PNG). Large inputs fold by a sparse
//! multiple of the polynomial (`update_fold`, ~5× the table speed in wasm
//! SIMD128: load time is mostly checksum time); short ones, and the fold's
//! remainder, use slice-by-16 tables built at first use (computed rather than
//! shipped: 16 KiB less wasm).

use std::sync::OnceLock;

use crate::engine::kernels;

const POLY: u32 = 0xEDB8_8320;

fn tables() -> &'static [[u32; 256]; 16] {
    static T: OnceLock<Box<[[u32; 256]; 16]>> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Box::new([[0u32; 256]; 16]);
        for i in 0..256u32 {
            let mut c = i;
            for _ in 0..8 {
                c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            }
            t[0][i as usize] = c;
        }
        for k in 1..16 {
            for i in 0..256 {
                let prev = t[k - 1][i];
                t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            }
        }
        t
    })
}

#[inline(always)]
fn step16(t: &[[u32; 256]; 16], c: u32, b: &[u8]) -> u32 {
    let x = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    t[15][(x & 0xff) as usize]
        ^ t[14][((x >> 8) & 0xff) as usize]
        ^ t[13][((x >> 16) & 0xff) as usize]
        ^ t[12][(x >> 24) as usize]
        ^ t[11][b[4] as usize]
        ^ t[10][b[5] as usize]
        ^ t[9][b[6] as usize]
        ^ t[8][b[7] as usize]
        ^ t[7][b[8] as usize]
        ^ t[6][b[9] as usize]
        ^ t[5][b[10] as usize]
        ^ t[4][b[11] as usize]
        ^ t[3][b[12] as usize]
        ^ t[2][b[13] as usize]
        ^ t[1][b[14] as usize]
        ^ t[0][b[15] as usize]
}

/// Slice-by-16 over one stream; `c` is the raw (inverted) state.
fn update_one(mut c: u32, bytes: &[u8]) -> u32 {
    let t = tables();
    let mut chunks = bytes.chunks_exact(16);
    for b in &mut chunks {
        c = step16(t, c, b);
    }
    for &b in chunks.remainder() {
        c = (c >> 8) ^ t[0][((c ^ b as u32) & 0xff) as usize];
    }
    c
}

/// Folding by a sparse multiple of the CRC polynomial (the idea of Russell's
/// "Chorba", 2024): with y = x^128, P(x) divides
///
///   Q(y) = y^300 + y^155 + y^117 + y^89 + 1
///
/// (found by a meet-in-the-middle search; `q_is_a_multiple_of_the_polynomial`
/// checks it). A message and its remainder mod Q have the same CRC, and
/// reducing mod Q needs no tables: one 16-byte word of message, XORed with four
/// earlier reduced words, gives the next reduced word. That is 5 loads and 4
/// XORs per 16 bytes instead of slice-by-16's 16 table lookups, and y = x^128
/// keeps every word whole, so the byte order inside a word never matters. The
/// last `SPAN` words (the remainder, 4800 bytes) go through the tables.
const SPAN: usize = 300;
/// Q's exponents below the top one, as distances back from the word being
/// reduced: w[i] = m[i] ^ w[i - 145] ^ w[i - 183] ^ w[i - 211] ^ w[i - 300].
const TAPS: [usize; 4] = [SPAN - 155, SPAN - 117, SPAN - 89, SPAN];
/// Words reduced between moves of the history window (16 KiB, so that the
/// window and the block stay in L1).
const BLOCK: usize = 1024;
/// Below this the tables are as fast and need no history buffer.
const MIN_FOLD: usize = 4 * SPAN * 16;

fn word(c: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    if let Some(c) = c.get(..16) {
        a.copy_from_slice(c);
    }
    a
}

/// Raw state `c` after `bytes`, by folding; `bytes.len() >= MIN_FOLD`.
fn update_fold(c: u32, bytes: &[u8]) -> u32 {
    let n_words = bytes.len() / 16;
    let folded = n_words - SPAN;
    // hist[..SPAN] holds the SPAN reduced words before the block;
    // hist[SPAN + t] receives word t of the block. Words are raw bytes in
    // native order (`kernels::xor_taps`).
    let mut hist = vec![0u128; SPAN + BLOCK];
    // Word 0 has no taps: the running state enters as an XOR on its first
    // four bytes, and the kernel starts at word 1.
    let mut w0 = word(bytes);
    for (x, s) in w0.iter_mut().zip(c.to_le_bytes()) {
        *x ^= s;
    }
    hist[SPAN] = u128::from_ne_bytes(w0);
    let mut done = 1;
    let mut first = 1; // hist index of the block start: 1 for the first block only
    while done < folded {
        let n = (BLOCK - first).min(folded - done);
        let block = bytes.get(done * 16..(done + n) * 16).unwrap_or(&[]);
        let h = hist.get_mut(first..first + SPAN + n).unwrap_or(&mut []);
        kernels::xor_taps::<SPAN, { TAPS[0] }, { TAPS[1] }, { TAPS[2] }, { TAPS[3] }>(h, block);
        let end = first + n;
        hist.copy_within(end..end + SPAN, 0);
        done += n;
        first = 0;
    }
    // The remainder: the last SPAN words plus what the reduced words above
    // pushed into them (a tap reaches word j only from a reduced word).
    let mut rem = [0u8; SPAN * 16];
    let tail = bytes.get(folded * 16..).unwrap_or(&[]);
    for (j, (m, out)) in tail
        .chunks_exact(16)
        .zip(rem.chunks_exact_mut(16))
        .enumerate()
    {
        let mut v = u128::from_ne_bytes(word(m));
        for d in TAPS {
            if j < d {
                v ^= hist[SPAN + j - d];
            }
        }
        out.copy_from_slice(&v.to_ne_bytes());
    }
    let rest = bytes.get(n_words * 16..).unwrap_or(&[]);
    update_one(update_one(0, &rem), rest)
}

/// Running CRC state (pre- and post-inverted like zlib's `crc32`).
#[derive(Clone, Copy)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32(!0)
    }
}

impl Crc32 {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0 = if bytes.len() >= MIN_FOLD {
            update_fold(self.0, bytes)
        } else {
            update_one(self.0, bytes)
        };
    }

    pub fn finalize(self) -> u32 {
        !self.0
    }
}

pub fn hash(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(hash(b""), 0);
        assert_eq!(hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            hash(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    /// Q(y) with y = x^128 is 0 mod P: the sum of x^(128 e) mod P over Q's
    /// exponents vanishes. (Bit-serial, non-reflected arithmetic: an
    /// independent check of the constants the fold is built on.)
    #[test]
    fn q_is_a_multiple_of_the_polynomial() {
        const P: u64 = 0x1_04C1_1DB7;
        let times_x = |a: u64| {
            let a = a << 1;
            if a >> 32 != 0 {
                a ^ P
            } else {
                a
            }
        };
        let mut sum = 0u64;
        for e in [SPAN, SPAN - TAPS[0], SPAN - TAPS[1], SPAN - TAPS[2], 0] {
            let mut r = 1u64;
            for _ in 0..128 * e {
                r = times_x(r);
            }
            sum ^= r;
        }
        assert_eq!(sum, 0);
    }

    /// The fold equals the tables at every length around its thresholds, from
    /// any running state and any start alignment.
    #[test]
    fn fold_equals_tables() {
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
            .collect();
        let lens = [
            MIN_FOLD,
            MIN_FOLD + 1,
            MIN_FOLD + 15,
            MIN_FOLD + 16,
            (SPAN + BLOCK) * 16,
            (SPAN + BLOCK) * 16 + 16,
            (SPAN + 2 * BLOCK) * 16 + 7,
            100_003,
            199_990,
        ];
        for len in lens {
            for start in [0, 1, 3, 8] {
                let bytes = &data[start..start + len];
                for c in [!0u32, 0, 0x1234_5678] {
                    assert_eq!(
                        update_fold(c, bytes),
                        update_one(c, bytes),
                        "len {len} start {start} state {c:#x}"
                    );
                }
            }
        }
        let mut c = Crc32::new();
        c.update(&data[..7]);
        c.update(&data[7..]);
        assert_eq!(c.finalize(), !update_one(!0, &data));
    }

    #[test]
    fn chunked_equals_whole_and_bytewise() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut c = Crc32::new();
        for part in data.chunks(37) {
            c.update(part);
        }
        let mut bytewise = !0u32;
        for &b in &data {
            bytewise ^= b as u32;
            for _ in 0..8 {
                bytewise = if bytewise & 1 != 0 {
                    POLY ^ (bytewise >> 1)
                } else {
                    bytewise >> 1
                };
            }
        }
        assert_eq!(c.finalize(), !bytewise);
        assert_eq!(hash(&data), !bytewise);
    }
}
