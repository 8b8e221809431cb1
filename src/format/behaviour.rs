//! BEHAVIOUR section codec: behaviour segments for marketing
//! (`shopper::segments::BehaviourSegments`).
//!
//! Layout (little-endian): `u32 k`, `u32 b` (features); b × (u16 length,
//! UTF-8 name); k × (u16 length, UTF-8 label); zero padding to 4 bytes; f32
//! mean[b], scale[b], centroids[k×b] (standardised), feature_means[k×b]
//! (raw; NaN = the data had no value); u32 sizes[k]; then, only when the
//! segments were fitted with shrinkage, f32 shrink (prior strength in
//! visits, finite, > 0). Without it (every bundle written before it existed)
//! shrink is 0: those centroids were fitted on unshrunk features and are used
//! so. A build that predates the field refuses such a section (trailing
//! bytes, `BAD_SECTION`).

use crate::error::{Error, Quoted, Result};
use crate::shopper::segments::{BehaviourSegments, B, BEHAVIOUR};

const MAX_K: usize = 64;

fn bad(reason: impl Into<String>) -> Error {
    super::bad_small_section("BEHAVIOUR", reason)
}

fn push_str(out: &mut Vec<u8>, s: &str) -> Result<()> {
    let len = u16::try_from(s.len()).map_err(|_| Error::invalid("behaviour label too long"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

pub fn encode(s: &BehaviourSegments) -> Result<Vec<u8>> {
    let k = s.centroids.len();
    if k == 0
        || k > MAX_K
        || s.labels.len() != k
        || s.feature_means.len() != k
        || s.sizes.len() != k
    {
        return Err(Error::invalid(
            "behaviour segments: 1..=64 centroids, one label, mean row and size each",
        ));
    }
    let mut out = Vec::new();
    let what = "behaviour segments";
    let k32 = u32::try_from(k).map_err(|_| Error::SizeOverflow { what })?;
    let b32 = u32::try_from(B).map_err(|_| Error::SizeOverflow { what })?;
    out.extend_from_slice(&k32.to_le_bytes());
    out.extend_from_slice(&b32.to_le_bytes());
    for n in BEHAVIOUR {
        push_str(&mut out, n)?;
    }
    for l in &s.labels {
        push_str(&mut out, l)?;
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    let rows = s
        .mean
        .iter()
        .chain(&s.scale)
        .chain(s.centroids.iter().flatten())
        .chain(s.feature_means.iter().flatten());
    for v in rows {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in &s.sizes {
        out.extend_from_slice(&v.to_le_bytes());
    }
    if !s.shrink.is_finite() || s.shrink < 0.0 {
        return Err(Error::invalid(
            "behaviour segments: shrink must be finite and ≥ 0",
        ));
    }
    if s.shrink > 0.0 {
        out.extend_from_slice(&s.shrink.to_le_bytes());
    }
    Ok(out)
}

fn take<'a>(b: &'a [u8], pos: &mut usize, len: usize) -> Result<&'a [u8]> {
    super::take_small_section(b, pos, len, "BEHAVIOUR")
}

fn u32_at(b: &[u8], pos: &mut usize) -> Result<u32> {
    let s = take(b, pos, 4)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn string(b: &[u8], pos: &mut usize) -> Result<String> {
    let l = take(b, pos, 2)?;
    let s = take(b, pos, u16::from_le_bytes([l[0], l[1]]) as usize)?;
    Ok(std::str::from_utf8(s)
        .map_err(|_| bad("label is not UTF-8"))?
        .to_string())
}

fn row(b: &[u8], pos: &mut usize) -> Result<[f32; B]> {
    let s = take(b, pos, 4 * B)?;
    Ok(std::array::from_fn(|j| {
        f32::from_le_bytes([s[4 * j], s[4 * j + 1], s[4 * j + 2], s[4 * j + 3]])
    }))
}

/// Decodes and checks: the feature names must be this build's, the
/// standardisation and centroids finite, scales positive.
pub fn decode(b: &[u8]) -> Result<BehaviourSegments> {
    let mut pos = 0;
    let k = u32_at(b, &mut pos)? as usize;
    let nb = u32_at(b, &mut pos)? as usize;
    if k == 0 || k > MAX_K {
        return Err(bad(format!("{k} segments (1..={MAX_K})")));
    }
    if nb != B {
        return Err(bad(format!(
            "{nb} behaviour features, this build computes {B}"
        )));
    }
    for want in BEHAVIOUR {
        let n = string(b, &mut pos)?;
        if n != want {
            // Quoted, not `{:?}`: Debug of a str pulls core's Unicode escape
            // tables into every engine wasm.
            return Err(bad(format!(
                "feature {} where this build computes {}",
                Quoted(&n),
                Quoted(want)
            )));
        }
    }
    let labels = (0..k)
        .map(|_| string(b, &mut pos))
        .collect::<Result<Vec<_>>>()?;
    let pad = (4 - pos % 4) % 4;
    if take(b, &mut pos, pad)?.iter().any(|&x| x != 0) {
        return Err(bad("non-zero padding"));
    }
    let mean = row(b, &mut pos)?;
    let scale = row(b, &mut pos)?;
    let centroids = (0..k)
        .map(|_| row(b, &mut pos))
        .collect::<Result<Vec<_>>>()?;
    let feature_means = (0..k)
        .map(|_| row(b, &mut pos))
        .collect::<Result<Vec<_>>>()?;
    let sizes = (0..k)
        .map(|_| u32_at(b, &mut pos))
        .collect::<Result<Vec<_>>>()?;
    let shrink = match b.len().checked_sub(pos) {
        Some(0) => 0.0,
        Some(4) => {
            let v = f32::from_le_bytes(
                take(b, &mut pos, 4)?
                    .try_into()
                    .map_err(|_| bad("shrink"))?,
            );
            if !(v.is_finite() && v > 0.0) {
                // No `{v}`: formatting an f32 pulls core's float printing
                // (~20 KB) into every wasm build; the value is in the bytes.
                return Err(bad("shrink not finite and > 0"));
            }
            v
        }
        _ => {
            return Err(bad(format!(
                "{} trailing bytes",
                b.len().saturating_sub(pos)
            )))
        }
    };
    if mean
        .iter()
        .chain(&scale)
        .chain(centroids.iter().flatten())
        .any(|v| !v.is_finite())
        || scale.iter().any(|&s| s <= 0.0)
    {
        return Err(bad(
            "non-finite standardisation or centroid, or a scale ≤ 0",
        ));
    }
    Ok(BehaviourSegments {
        mean,
        scale,
        centroids,
        labels,
        feature_means,
        sizes,
        shrink,
    })
}

/// A copy of `bundle` with its BEHAVIOUR section set to `s` (added, or
/// replacing the old one); every other section is kept byte for byte. The
/// way to give an existing bundle (a synthetic one, one built by
/// `placements build`) behaviour segments without re-exporting it.
pub fn add_to_bundle(bundle: &[u8], s: &BehaviourSegments) -> Result<Vec<u8>> {
    use super::{read::parse, write::assemble_raw, Kind};
    let layout = parse(bundle)?;
    let body = encode(s)?;
    let mut raw: Vec<(u32, u32, &[u8])> = Vec::with_capacity(layout.sections.len() + 1);
    for sec in &layout.sections {
        if sec.kind == Kind::Behaviour as u32 {
            continue;
        }
        let what = "section bounds";
        let start = usize::try_from(sec.offset).map_err(|_| Error::SizeOverflow { what })?;
        let len = usize::try_from(sec.length).map_err(|_| Error::SizeOverflow { what })?;
        let end = start.checked_add(len).ok_or(Error::SizeOverflow { what })?;
        // `parse` has checked every section against the file.
        let b = bundle.get(start..end).ok_or(Error::SizeOverflow { what })?;
        raw.push((sec.kind, sec.flags, b));
    }
    raw.push((Kind::Behaviour as u32, 0, &body));
    let out = assemble_raw(&raw);
    parse(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BehaviourSegments {
        BehaviourSegments {
            mean: [0.5; B],
            scale: [2.0; B],
            centroids: vec![[1.0; B], [-1.0; B]],
            labels: vec![
                "frequent visitors, big spenders".into(),
                "rare visitors".into(),
            ],
            feature_means: vec![[3.0; B], [f32::NAN; B]],
            sizes: vec![10, 20],
            shrink: 0.0,
        }
    }

    #[test]
    fn round_trip_small_and_every_cut_fails() {
        let s = sample();
        let b = encode(&s).unwrap();
        let d = decode(&b).unwrap();
        assert_eq!(d.labels, s.labels);
        assert_eq!(d.centroids, s.centroids);
        assert!(d.feature_means[1][0].is_nan());
        assert!(b.len() < 1024);
        for cut in 0..b.len() {
            assert_eq!(decode(&b[..cut]).unwrap_err().code(), "BAD_SECTION");
        }
    }

    #[test]
    fn shrink_round_trips_and_old_layout_means_none() {
        let mut s = sample();
        let old = encode(&s).unwrap();
        s.shrink = 2.5;
        let b = encode(&s).unwrap();
        // The field is a 4-byte trailer: the layout without it is the one
        // every earlier bundle has, read as "no shrinkage".
        assert_eq!(b.len(), old.len() + 4);
        assert_eq!(&b[..old.len()], &old[..]);
        assert_eq!(decode(&b).unwrap().shrink, 2.5);
        assert_eq!(decode(&old).unwrap().shrink, 0.0);
        for bad_shrink in [0.0f32, -1.0, f32::NAN, f32::INFINITY] {
            let mut x = old.clone();
            x.extend_from_slice(&bad_shrink.to_le_bytes());
            assert_eq!(
                decode(&x).unwrap_err().code(),
                "BAD_SECTION",
                "{bad_shrink}"
            );
        }
        let mut x = b.clone();
        x.push(0);
        assert_eq!(decode(&x).unwrap_err().code(), "BAD_SECTION");
        s.shrink = f32::NAN;
        assert!(encode(&s).is_err());
    }

    #[test]
    fn nan_centroid_and_other_spec_are_refused() {
        let mut s = sample();
        s.centroids[0][3] = f32::NAN;
        assert!(decode(&encode(&s).unwrap()).is_err());
        let mut b = encode(&sample()).unwrap();
        // First feature name "recency_days" → "Recency_days".
        b[10] = b'R';
        assert!(decode(&b)
            .unwrap_err()
            .to_string()
            .contains("this build computes"));
    }
}
