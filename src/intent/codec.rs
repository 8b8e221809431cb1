//! The `.vti` byte layout (also stored verbatim as a bundle's INTENT section).
//!
//! ```text
//! header (28 bytes)
//!   magic        [u8; 8] = "VTINTENT"
//!   major, minor u16, u16 (1, 0)
//!   payload_len  u32
//!   crc32        u32   of the payload
//!   feature_bits u32   FeatureConfig
//!   reserved     u32   = 0
//! payload (little-endian, no padding)
//!   threshold f32, n_classes u16, reserved u16
//!   n_classes × (name, action, response)  each: u32 byte length + UTF-8
//!   bias [n_classes] f32, scales [n_classes] f32
//!   n_features u32, hashes [n] u32 strictly increasing, counts [n] u8
//!   entry_class [Σcounts] u8, entry_weight [Σcounts] i8
//!   has_titles u8, then the title index (see titles.rs)
//! ```
//!
//! The whole blob is copied into owned vectors on load: it is small, and owning
//! it frees the wasm layer from lifetimes tied to the bundle buffer.

use super::features::FeatureConfig;
use super::titles::TitleIndex;
use super::{IntentClass, IntentModel, MoodHead, MAX_CLASSES, MOODS};
use crate::error::{At, Error};

pub(crate) const MAGIC: [u8; 8] = *b"VTINTENT";
pub(crate) const MAJOR: u16 = 1;
pub(crate) const MINOR: u16 = 0;
/// Minor version of files that carry a mood head.
pub(crate) const MINOR_MOOD: u16 = 1;
const HEADER_LEN: usize = 28;
pub(crate) const SECTION: &str = "INTENT";

pub(crate) fn encode(m: &IntentModel) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&m.threshold.to_le_bytes());
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a model has at most MAX_CLASSES = 256 classes (checked by the trainer and the decoder)"
    )]
    let n_classes = m.classes.len() as u16;
    p.extend_from_slice(&n_classes.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    for c in &m.classes {
        put_str(&mut p, &c.name);
        put_str(&mut p, &c.action);
        put_str(&mut p, &c.response);
    }
    for v in m.bias.iter().chain(&m.scales) {
        p.extend_from_slice(&v.to_le_bytes());
    }
    put_sparse(
        &mut p,
        &m.hashes,
        &m.offsets,
        &m.entry_class,
        &m.entry_weight,
    );
    match &m.titles {
        None => p.push(0),
        Some(t) => {
            p.push(1);
            t.encode_into(&mut p);
        }
    }
    // Format 1.1: an optional mood head after the title index. Files
    // without one stay 1.0, byte for byte, so older readers keep working.
    if let Some(h) = &m.mood {
        p.push(1);
        for v in h.bias.iter().chain(&h.scales) {
            p.extend_from_slice(&v.to_le_bytes());
        }
        put_sparse(
            &mut p,
            &h.hashes,
            &h.offsets,
            &h.entry_class,
            &h.entry_weight,
        );
    }
    let mut out = Vec::with_capacity(HEADER_LEN + p.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&MAJOR.to_le_bytes());
    out.extend_from_slice(&(if m.mood.is_some() { MINOR_MOOD } else { MINOR }).to_le_bytes());
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a model's payload is far below 4 GiB: its parts were read from a u32-sized .vti or built by the trainer"
    )]
    let payload_len = p.len() as u32;
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&crate::format::crc32::hash(&p).to_le_bytes());
    out.extend_from_slice(&m.features.to_bits().to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&p);
    out
}

fn put_sparse(p: &mut Vec<u8>, hashes: &[u32], offsets: &[u32], class: &[u8], weight: &[i8]) {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "hashes are distinct u32s from a u32-counted .vti or the trainer"
    )]
    let n = hashes.len() as u32;
    p.extend_from_slice(&n.to_le_bytes());
    for h in hashes {
        p.extend_from_slice(&h.to_le_bytes());
    }
    for w in offsets.windows(2) {
        // A row holds 1..=MAX_CLASSES (256) entries, one per class; the
        // length byte stores it modulo 256, so 0 means a full row of 256
        // (a row is never empty). Files without full 256-entry rows are
        // byte-identical to the old encoding.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "modulo 256 on purpose: 256 is written as 0, see above"
        )]
        let count = (w[1] - w[0]) as u8;
        p.push(count);
    }
    p.extend_from_slice(class);
    p.extend(weight.iter().flat_map(|w| w.to_le_bytes()));
}

/// Sparse rows for `n_classes` classes: (hashes, offsets, entry classes, weights).
type SparseParts = (Vec<u32>, Vec<u32>, Vec<u8>, Vec<i8>);

fn read_sparse(p: &mut Cursor<'_>, n_classes: usize) -> Result<SparseParts, Error> {
    let n = p.u32()? as usize;
    let hoff = p.offset();
    let hashes = p.u32s(n)?;
    if hashes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad(hoff, "feature hashes are not strictly increasing"));
    }
    let coff = p.offset();
    let counts = p.take(n)?;
    let mut offsets = Vec::with_capacity(n + 1);
    let mut total = 0u32;
    offsets.push(0);
    for &c in counts {
        // 0 stands for a full row of 256 entries (see `put_sparse`).
        let c = if c == 0 { 256 } else { u32::from(c) };
        if c as usize > n_classes {
            return Err(bad(coff, "feature row length out of range"));
        }
        // 256 classes x 16.8M features of 256 entries would wrap a u32: the
        // sum is checked so a hostile count is a typed error, never a panic
        // (or, with overflow checks off as in the wasm profile, a bad slice).
        total = total.checked_add(c).ok_or(Error::SizeOverflow {
            what: "intent weight entries",
        })?;
        offsets.push(total);
    }
    let eoff = p.offset();
    let entry_class = p.take(total as usize)?.to_vec();
    for w in offsets.windows(2) {
        let row = &entry_class[w[0] as usize..w[1] as usize];
        if row.iter().any(|&k| k as usize >= n_classes) || row.windows(2).any(|x| x[0] >= x[1]) {
            return Err(bad(eoff, "feature row has invalid intent indices"));
        }
    }
    let entry_weight: Vec<i8> = p
        .take(total as usize)?
        .iter()
        .map(|&b| i8::from_le_bytes([b]))
        .collect();
    Ok((hashes, offsets, entry_class, entry_weight))
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "model strings were read with a u32 length or written by the trainer"
)]
pub(crate) fn put_str(p: &mut Vec<u8>, s: &str) {
    p.extend_from_slice(&(s.len() as u32).to_le_bytes());
    p.extend_from_slice(s.as_bytes());
}

#[cold]
#[inline(never)]
pub(crate) fn bad(offset: usize, reason: &'static str) -> Error {
    Error::BadSection {
        at: At {
            section: SECTION,
            offset: offset as u64,
        },
        reason: reason.to_string(),
    }
}

/// Bounds-checked little-endian reader; every read is a typed error on short input.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Added to `pos` in error offsets (the payload starts after the header).
    base: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Cursor { buf, pos: 0, base }
    }
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    #[inline(never)]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let have = self.remaining();
        if n > have {
            return Err(Error::Truncated {
                at: At {
                    section: SECTION,
                    offset: self.offset() as u64,
                },
                need: n as u64,
                have: have as u64,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    #[inline(never)]
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    #[inline(never)]
    pub(crate) fn f32(&mut self) -> Result<f32, Error> {
        let off = self.offset();
        let v = f32::from_le_bytes(self.array()?);
        if !v.is_finite() {
            return Err(Error::NonFinite {
                at: At {
                    section: SECTION,
                    offset: off as u64,
                },
                index: 0,
            });
        }
        Ok(v)
    }
    pub(crate) fn str(&mut self) -> Result<String, Error> {
        let n = self.u32()? as usize;
        let off = self.offset();
        let b = self.take(n)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| bad(off, "string is not valid UTF-8"))
    }
    /// Reads `n` u32 values, refusing counts the remaining bytes cannot hold
    /// before allocating (a flipped length must not trigger a huge allocation).
    pub(crate) fn u32s(&mut self, n: usize) -> Result<Vec<u32>, Error> {
        let bytes = n.checked_mul(4).ok_or(Error::SizeOverflow {
            what: "intent u32 array",
        })?;
        let s = self.take(bytes)?;
        Ok(s.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Largest |bias| and |scale| a model may carry. Trained models stay far
/// below (scales are max|w|/127 with |w| in the tens); with this bound every
/// logit a text can produce (|acc| <= 127 per feature, normalized by
/// 1/sqrt(n)) stays finite in f32, so a checksum-valid file with a scale of
/// 3e38 cannot turn `confidence` into NaN.
pub(crate) const MAX_COEF: f32 = 1.0e6;

/// Per-class bias then per-class scale, each finite and within [`MAX_COEF`].
pub(crate) fn read_bias_scales(
    p: &mut Cursor<'_>,
    n_classes: usize,
) -> Result<(Vec<f32>, Vec<f32>), Error> {
    let mut v = Vec::with_capacity(2 * n_classes);
    for _ in 0..2 * n_classes {
        let off = p.offset();
        let x = p.f32()?;
        if x.abs() > MAX_COEF {
            return Err(bad(off, "bias or scale too large for finite scores"));
        }
        v.push(x);
    }
    let scales = v.split_off(n_classes);
    Ok((v, scales))
}

pub(crate) fn decode(bytes: &[u8]) -> Result<IntentModel, Error> {
    let mut h = Cursor::new(bytes, 0);
    let magic: [u8; 8] = h.array()?;
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    let major = h.u16()?;
    let minor = h.u16()?;
    if major != MAJOR {
        return Err(Error::UnsupportedVersion { major, minor });
    }
    let payload_len = h.u32()? as usize;
    let crc = h.u32()?;
    let bits = h.u32()?;
    if h.u32()? != 0 {
        return Err(bad(24, "reserved header word is not zero"));
    }
    let features = FeatureConfig::from_bits(bits)
        .ok_or_else(|| bad(20, "unknown feature configuration bits"))?;
    let payload = h.take(payload_len)?;
    if h.remaining() != 0 {
        return Err(bad(
            HEADER_LEN + payload_len,
            "trailing bytes after the intent payload",
        ));
    }
    let actual = crate::format::crc32::hash(payload);
    if actual != crc {
        return Err(Error::ChecksumMismatch {
            at: At {
                section: SECTION,
                offset: HEADER_LEN as u64,
            },
            expected: crc,
            actual,
        });
    }
    let mut p = Cursor::new(payload, HEADER_LEN);
    let threshold = p.f32()?;
    if !(0.0..=1.0).contains(&threshold) {
        return Err(bad(HEADER_LEN, "threshold outside [0, 1]"));
    }
    let n_classes = p.u16()? as usize;
    let _ = p.u16()?;
    if n_classes == 0 || n_classes > MAX_CLASSES {
        return Err(bad(p.offset(), "intent count must be 1..=256"));
    }
    let mut classes = Vec::with_capacity(n_classes);
    for _ in 0..n_classes {
        let off = p.offset();
        let c = IntentClass {
            name: p.str()?,
            action: p.str()?,
            response: p.str()?,
        };
        if c.name.is_empty() || classes.iter().any(|k: &IntentClass| k.name == c.name) {
            return Err(bad(off, "empty or duplicate intent name"));
        }
        classes.push(c);
    }
    let (bias, scales) = read_bias_scales(&mut p, n_classes)?;
    let (hashes, offsets, entry_class, entry_weight) = read_sparse(&mut p, n_classes)?;
    let toff = p.offset();
    let titles = match p.u8()? {
        0 => None,
        1 => Some(TitleIndex::decode(&mut p)?),
        _ => return Err(bad(toff, "title index flag is not 0 or 1")),
    };
    let moff = p.offset();
    let mood = if minor >= MINOR_MOOD {
        match p.u8()? {
            1 => {
                let (bias, scales) = read_bias_scales(&mut p, MOODS.len())?;
                let (hashes, offsets, entry_class, entry_weight) =
                    read_sparse(&mut p, MOODS.len())?;
                Some(MoodHead {
                    bias,
                    scales,
                    hashes,
                    offsets,
                    entry_class,
                    entry_weight,
                })
            }
            _ => return Err(bad(moff, "mood head flag is not 1")),
        }
    } else {
        None
    };
    if p.remaining() != 0 {
        return Err(bad(
            p.offset(),
            "unparsed bytes at the end of the intent payload",
        ));
    }
    Ok(IntentModel {
        features,
        threshold,
        classes,
        bias,
        scales,
        hashes,
        offsets,
        entry_class,
        entry_weight,
        titles,
        mood,
    })
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "test fixtures: at most 256 classes"
)]
mod tests {
    use super::*;

    /// A model with `n` classes and one feature row holding every class.
    fn full_row_model(n: usize) -> IntentModel {
        IntentModel {
            features: FeatureConfig::default(),
            threshold: 0.0,
            classes: (0..n)
                .map(|k| IntentClass {
                    name: format!("c{k}"),
                    ..Default::default()
                })
                .collect(),
            bias: vec![0.0; n],
            scales: vec![0.01; n],
            hashes: vec![7, 9],
            offsets: vec![0, n as u32, n as u32 + 1],
            entry_class: (0..n).map(|k| k as u8).chain([1]).collect(),
            entry_weight: (0..n)
                .map(|k| ((k % 200) as i32 - 100) as i8)
                .chain([5])
                .collect(),
            titles: None,
            mood: None,
        }
    }

    #[test]
    fn full_rows_round_trip_up_to_256_classes() {
        for n in [2, 255, 256] {
            let m = full_row_model(n);
            let back = decode(&encode(&m)).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(back, m, "{n} classes");
        }
    }

    #[test]
    fn a_zero_length_byte_is_refused_below_256_classes() {
        let m = full_row_model(255);
        let mut bytes = encode(&m);
        // header, threshold, count + reserved, the class strings, bias and scales,
        // the feature count, two hashes: then the first row-length byte.
        let strings: usize = m.classes.iter().map(|c| 3 * 4 + c.name.len()).sum();
        let n_off = HEADER_LEN + 4 + 4 + strings + 8 * 255;
        assert_eq!(bytes[n_off..n_off + 4], 2u32.to_le_bytes());
        let len_off = n_off + 4 + 2 * 4;
        assert_eq!(bytes[len_off], 255);
        bytes[len_off] = 0;
        let payload = &bytes[HEADER_LEN..];
        let crc = crate::format::crc32::hash(payload).to_le_bytes();
        bytes[16..20].copy_from_slice(&crc);
        let err = decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("row length"), "{err}");
    }
}
