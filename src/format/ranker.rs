//! RANKER section codec: the learned ranker's feature spec and weights.
//!
//! Layout (little-endian): `u32 n` features; n × (`u16` name length, UTF-8
//! name); zero padding to 4 bytes; then f32 mean[n], scale[n], weight[n] and
//! one f32 bias. Kept in its own file so the section can be added to the
//! bundle with a one-line Kind and two match arms.

use crate::error::{Error, Result};
use crate::ranker::Ranker;

/// Upper bound on features (a sanity bound against hostile lengths).
pub const MAX_FEATURES: usize = 256;

fn bad(reason: impl Into<String>) -> Error {
    super::bad_small_section("RANKER", reason)
}

pub fn encode(r: &Ranker) -> Result<Vec<u8>> {
    let n = r.names.len();
    if n > MAX_FEATURES || [r.mean.len(), r.scale.len(), r.weights.len()] != [n; 3] {
        return Err(Error::invalid(
            "ranker names, means, scales and weights must agree in length",
        ));
    }
    let mut out = Vec::new();
    let n32 = u32::try_from(n).map_err(|_| Error::SizeOverflow {
        what: "ranker features",
    })?;
    out.extend_from_slice(&n32.to_le_bytes());
    for name in &r.names {
        let len = u16::try_from(name.len())
            .map_err(|_| Error::invalid("ranker feature name too long"))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    for v in [&r.mean, &r.scale, &r.weights] {
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.extend_from_slice(&r.bias.to_le_bytes());
    Ok(out)
}

fn take<'a>(b: &'a [u8], pos: &mut usize, len: usize) -> Result<&'a [u8]> {
    super::take_small_section(b, pos, len, "RANKER")
}

fn f32s(b: &[u8], pos: &mut usize, n: usize) -> Result<Vec<f32>> {
    let raw = take(
        b,
        pos,
        n.checked_mul(4).ok_or_else(|| bad("length overflow"))?,
    )?;
    Ok(raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Decodes the section (structure only; [`Ranker::check`] decides whether
/// this build can use it).
pub fn decode(b: &[u8]) -> Result<Ranker> {
    let mut pos = 0usize;
    let h = take(b, &mut pos, 4)?;
    let n = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if n > MAX_FEATURES {
        return Err(bad(format!("{n} features (at most {MAX_FEATURES})")));
    }
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let l = take(b, &mut pos, 2)?;
        let len = u16::from_le_bytes([l[0], l[1]]) as usize;
        let s = take(b, &mut pos, len)?;
        names.push(
            std::str::from_utf8(s)
                .map_err(|_| bad("feature name is not UTF-8"))?
                .to_string(),
        );
    }
    let pad = (4 - pos % 4) % 4;
    if take(b, &mut pos, pad)?.iter().any(|&x| x != 0) {
        return Err(bad("non-zero padding"));
    }
    let mean = f32s(b, &mut pos, n)?;
    let scale = f32s(b, &mut pos, n)?;
    let weights = f32s(b, &mut pos, n)?;
    let bias = f32s(b, &mut pos, 1)?[0];
    if pos != b.len() {
        return Err(bad(format!("{} trailing bytes", b.len() - pos)));
    }
    Ok(Ranker {
        names,
        mean,
        scale,
        weights,
        bias,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranker::{F, FEATURES};

    fn sample() -> Ranker {
        Ranker {
            names: FEATURES.iter().map(|s| s.to_string()).collect(),
            mean: (0..F).map(|j| j as f32 * 0.1).collect(),
            scale: vec![1.5; F],
            weights: (0..F).map(|j| j as f32 - 3.0).collect(),
            bias: -2.25,
        }
    }

    #[test]
    fn round_trip_and_small() {
        let r = sample();
        let b = encode(&r).unwrap();
        assert_eq!(decode(&b).unwrap(), r);
        assert!(b.len() <= 4096, "section is {} bytes", b.len());
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_an_error() {
        let b = encode(&sample()).unwrap();
        for cut in 0..b.len() {
            assert_eq!(
                decode(&b[..cut]).unwrap_err().code(),
                "BAD_SECTION",
                "cut {cut}"
            );
        }
        let mut long = b.clone();
        long.push(0);
        assert!(decode(&long).is_err());
    }

    #[test]
    fn hostile_counts_and_nan_weights() {
        let mut b = encode(&sample()).unwrap();
        b[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&b).is_err());
        // NaN weights decode (structure is fine) but the check refuses them,
        // so callers fall back to the blend.
        let mut r = sample();
        r.weights[0] = f32::NAN;
        let d = decode(&encode(&r).unwrap()).unwrap();
        assert!(d.weights[0].is_nan());
        assert!(d.check().is_err());
    }
}
