//! Writer: turns [`BundleParts`] into the canonical byte layout that
//! [`super::read::parse`] accepts. Quantization to f16 / int8 happens here so
//! every producer (trainer, synth, Spark import) shares it.

use super::{
    data_start, f32_to_f16, limits, next_offset, stride_for, strings, BundleParts, Dtype, Kind,
    ENTRY_LEN, FLAG_REQUIRED, FORMAT_MAJOR, FORMAT_MINOR, HEADER_LEN, MAGIC, MAX_DIM,
    RESIDUAL_STEPS,
};
use crate::error::{At, Error};
use std::path::Path;

fn invalid(what: String) -> Error {
    Error::InvalidArgument { what }
}

fn check_len<T>(name: &str, v: &[T], n: usize) -> Result<(), Error> {
    if v.len() != n {
        return Err(invalid(format!(
            "{name} has {} entries for {n} items",
            v.len()
        )));
    }
    Ok(())
}

fn check_finite(name: &'static str, v: &[f32]) -> Result<(), Error> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::NonFinite {
            at: At {
                section: name,
                offset: 0,
            },
            index: i as u64,
        }),
        None => Ok(()),
    }
}

/// The envelope of [`super::limits`], checked here too so that a trainer's
/// bad output fails at export rather than in every browser.
fn check_bounded(
    name: &'static str,
    v: &[f32],
    limit: f32,
    text: &'static str,
) -> Result<(), Error> {
    check_finite(name, v)?;
    match v.iter().position(|x| x.abs() > limit) {
        Some(i) => Err(Error::UnsafeValue {
            at: At {
                section: name,
                offset: 0,
            },
            index: i as u64,
            limit: text,
        }),
        None => Ok(()),
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Symmetric per-row int8: q = round(x / s), s = max|x| / 127.
#[allow(
    clippy::cast_possible_truncation,
    reason = "rounded and clamped to ±127"
)]
pub fn quantize_row_i8(row: &[f32], out: &mut [i8]) -> f32 {
    let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 {
        out.iter_mut().for_each(|q| *q = 0);
        return 0.0;
    }
    let s = max / 127.0;
    for (q, &x) in out.iter_mut().zip(row) {
        *q = (x / s).round().clamp(-127.0, 127.0) as i8;
    }
    s
}

/// The RESIDUAL byte of `x` stored as `q × s`: what is left, in steps of
/// `s / RESIDUAL_STEPS` (|x − q·s| ≤ s/2 by rounding, so it fits ±127).
#[allow(
    clippy::cast_possible_truncation,
    reason = "rounded and clamped to ±127"
)]
pub fn residual_i8(x: f32, q: i8, s: f32) -> i8 {
    if s == 0.0 {
        return 0;
    }
    ((x / s - q as f32) * RESIDUAL_STEPS)
        .round()
        .clamp(-127.0, 127.0) as i8
}

/// Serializes a bundle. Validates shapes and values first, so a bad trainer
/// output fails here with a clear message instead of producing a file that
/// every browser then refuses.
pub fn write_bundle(parts: &BundleParts, dtype: Dtype) -> Result<Vec<u8>, Error> {
    Ok(assemble(&encode_sections(parts, dtype)?))
}

/// Encoded sections in canonical order, before layout.
pub(crate) type Sections = Vec<(Kind, bool, Vec<u8>)>;

pub(crate) fn encode_sections(parts: &BundleParts, dtype: Dtype) -> Result<Sections, Error> {
    let n = parts.ids.len();
    let dim = parts.dim;
    if n > u32::MAX as usize - 1 {
        return Err(Error::SizeOverflow { what: "item count" });
    }
    if dim == 0 || dim > MAX_DIM {
        return Err(invalid(format!("dim {dim} outside 1..={MAX_DIM}")));
    }
    let want = n
        .checked_mul(dim)
        .ok_or(Error::SizeOverflow { what: "n × dim" })?;
    if parts.int8_residual && dtype != Dtype::I8 {
        return Err(invalid(format!(
            "a RESIDUAL section refines int8 factors only, not {}",
            dtype.name()
        )));
    }
    check_len("factors", &parts.factors, want)?;
    // int8 rows must keep their scale ≤ MAX_SCALE = MAX_FACTOR_ABS / 128.
    let factor_limit = match dtype {
        Dtype::I8 => limits::MAX_SCALE * 127.0,
        _ => limits::MAX_FACTOR_ABS,
    };
    check_bounded(
        "FACTORS",
        &parts.factors,
        factor_limit,
        limits::MAX_FACTOR_ABS_TEXT,
    )?;
    let stride = stride_for(dim);

    let mut sections: Vec<(Kind, bool, Vec<u8>)> = Vec::new();
    let mut model = Vec::with_capacity(32);
    let u32_of =
        |v: usize, what: &'static str| u32::try_from(v).map_err(|_| Error::SizeOverflow { what });
    let (n32, dim32) = (u32_of(n, "item count")?, u32_of(dim, "dim")?);
    for v in [n32, dim32, u32_of(stride, "stride")?, dtype.code()] {
        model.extend_from_slice(&v.to_le_bytes());
    }
    model.resize(32, 0);
    sections.push((Kind::Model, true, model));

    if !parts.meta.is_empty() {
        let kv: Vec<&str> = parts
            .meta
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()])
            .collect();
        sections.push((Kind::Meta, false, strings::encode(&kv)?));
    }

    sections.push((Kind::ItemIds, true, strings::encode(&parts.ids)?));
    let mut order: Vec<u32> = (0..n32).collect();
    order.sort_unstable_by(|&a, &b| {
        parts.ids[a as usize]
            .as_bytes()
            .cmp(parts.ids[b as usize].as_bytes())
    });
    for w in order.windows(2) {
        if parts.ids[w[0] as usize] == parts.ids[w[1] as usize] {
            return Err(Error::DuplicateId {
                id: parts.ids[w[0] as usize].clone(),
                first: w[0].min(w[1]),
                second: w[0].max(w[1]),
            });
        }
    }
    sections.push((
        Kind::IdIndex,
        true,
        order.iter().flat_map(|v| v.to_le_bytes()).collect(),
    ));

    let rows = parts.factors.chunks_exact(dim);
    match dtype {
        Dtype::F32 => {
            let mut b = Vec::with_capacity(n * stride * 4);
            for row in rows {
                b.extend(row.iter().flat_map(|x| x.to_le_bytes()));
                b.resize(b.len() + (stride - dim) * 4, 0);
            }
            sections.push((Kind::Factors, true, b));
        }
        Dtype::F16 => {
            if let Some(i) = parts.factors.iter().position(|x| x.abs() > 65504.0) {
                return Err(invalid(format!(
                    "factor {i} exceeds the f16 range; use --dtype f32"
                )));
            }
            let mut b = Vec::with_capacity(n * stride * 2);
            for row in rows {
                b.extend(row.iter().flat_map(|&x| f32_to_f16(x).to_le_bytes()));
                b.resize(b.len() + (stride - dim) * 2, 0);
            }
            sections.push((Kind::Factors, true, b));
        }
        Dtype::I8 => {
            let mut b = vec![0u8; n * stride];
            let mut scales = Vec::with_capacity(n);
            let mut q = vec![0i8; dim];
            for (r, row) in rows.enumerate() {
                scales.push(quantize_row_i8(row, &mut q));
                for (dst, &v) in b[r * stride..r * stride + dim].iter_mut().zip(&q) {
                    *dst = v.to_le_bytes()[0];
                }
            }
            let residual = parts.int8_residual.then(|| {
                let mut r = vec![0u8; n * stride];
                for (i, row) in parts.factors.chunks_exact(dim).enumerate() {
                    let (s, qs) = (scales[i], &b[i * stride..i * stride + dim]);
                    for ((dst, &x), &q) in r[i * stride..].iter_mut().zip(row).zip(qs) {
                        *dst = residual_i8(x, i8::from_le_bytes([q]), s).to_le_bytes()[0];
                    }
                }
                r
            });
            sections.push((Kind::Factors, true, b));
            sections.push((Kind::Scales, true, f32_bytes(&scales)));
            if let Some(r) = residual {
                sections.push((Kind::Residual, false, r));
            }
        }
    }

    if let Some(b) = &parts.bias {
        check_len("bias", b, n)?;
        check_bounded(
            "BIAS",
            b,
            limits::MAX_SCORE_TERM,
            limits::MAX_SCORE_TERM_TEXT,
        )?;
        sections.push((Kind::Bias, false, f32_bytes(b)));
    }
    if let Some(p) = &parts.popularity {
        check_len("popularity", p, n)?;
        check_bounded(
            "POPULARITY",
            p,
            limits::MAX_SCORE_TERM,
            limits::MAX_SCORE_TERM_TEXT,
        )?;
        sections.push((Kind::Popularity, false, f32_bytes(p)));
    }
    if let Some(c) = &parts.categories {
        check_len("categories", c, n)?;
        if let Some(i) = c
            .iter()
            .position(|&c| c != u32::MAX && c as usize >= parts.category_names.len())
        {
            return Err(invalid(format!("item {i} has an unknown category index")));
        }
        sections.push((
            Kind::Category,
            false,
            c.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ));
    }
    if parts.categories.is_some() || !parts.category_names.is_empty() {
        sections.push((
            Kind::CategoryNames,
            false,
            strings::encode(&parts.category_names)?,
        ));
    }
    if let Some(p) = &parts.prices {
        check_len("prices", p, n)?;
        if p.iter()
            .any(|v| v.is_infinite() || v.abs() > f64::from(f32::MAX))
        {
            return Err(invalid(
                "prices must be finite (NaN = unknown) and fit an f32".into(),
            ));
        }
        // PRICE (f32) for 1.0/1.1 readers, PRICE_F64 for the exact value.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "PRICE is the f32 rounding by design"
        )]
        let p32: Vec<f32> = p.iter().map(|&v| v as f32).collect();
        sections.push((Kind::Price, false, f32_bytes(&p32)));
        sections.push((
            Kind::PriceF64,
            false,
            p.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ));
    }
    if let Some(s) = &parts.in_stock {
        check_len("in_stock", s, n)?;
        sections.push((Kind::Flags, false, s.iter().map(|&b| u8::from(b)).collect()));
    }
    if let Some(t) = &parts.titles {
        check_len("titles", t, n)?;
        sections.push((Kind::Titles, false, strings::encode(t)?));
    }
    if let Some(g) = &parts.gram {
        check_len("gram", &g.yty, dim * dim)?;
        check_bounded(
            "GRAM",
            &g.yty,
            limits::MAX_GRAM_ABS,
            limits::MAX_GRAM_ABS_TEXT,
        )?;
        let ok = |x: f32| x.is_finite() && (0.0..=limits::MAX_GRAM_ABS).contains(&x);
        if !(ok(g.lambda) && ok(g.alpha)) {
            return Err(invalid(
                "gram lambda and alpha must be finite, in 0..=1e34".into(),
            ));
        }
        if (0..dim).any(|a| g.yty[a * dim + a] < 0.0) {
            return Err(invalid("gram has a negative diagonal: not YᵀY".into()));
        }
        let mut b = Vec::with_capacity(16 + dim * dim * 4);
        b.extend_from_slice(&dim32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&g.lambda.to_le_bytes());
        b.extend_from_slice(&g.alpha.to_le_bytes());
        b.extend(f32_bytes(&g.yty));
        sections.push((Kind::Gram, false, b));
    }
    if let Some(nb) = &parts.neighbours {
        check_len("neighbour offsets", &nb.offsets, n + 1)?;
        if nb.items.len() != nb.weights.len()
            || nb.offsets.first() != Some(&0)
            || nb.offsets.last().map(|&v| v as usize) != Some(nb.items.len())
            || nb.offsets.windows(2).any(|w| w[0] > w[1])
            || nb.items.iter().any(|&i| i as usize >= n)
        {
            return Err(invalid(
                "neighbour lists are not valid CSR over the items".into(),
            ));
        }
        check_finite("NEIGHBOURS", &nb.weights)?;
        let mut b = Vec::new();
        b.extend_from_slice(&n32.to_le_bytes());
        b.extend_from_slice(&u32_of(nb.items.len(), "neighbour count")?.to_le_bytes());
        b.resize(16, 0);
        b.extend(nb.offsets.iter().flat_map(|v| v.to_le_bytes()));
        b.extend(nb.items.iter().flat_map(|v| v.to_le_bytes()));
        b.extend(nb.weights.iter().flat_map(|&w| f32_to_f16(w).to_le_bytes()));
        sections.push((Kind::Neighbours, false, b));
    }
    if let Some(s) = &parts.segments {
        let k = s.centroids.len() / dim.max(1);
        if s.dim != dim || k == 0 || s.centroids.len() != k * dim {
            return Err(invalid(
                "segment centroids must be k × dim with the model's dim".into(),
            ));
        }
        check_bounded(
            "SEGMENTS",
            &s.centroids,
            limits::MAX_USER_ABS,
            limits::MAX_USER_ABS_TEXT,
        )?;
        let mut b = Vec::new();
        b.extend_from_slice(&u32_of(k, "segment count")?.to_le_bytes());
        b.extend_from_slice(&dim32.to_le_bytes());
        b.resize(16, 0);
        b.extend(f32_bytes(&s.centroids));
        sections.push((Kind::Segments, false, b));
        if !s.names.is_empty() {
            check_len("segment names", &s.names, k)?;
            sections.push((Kind::SegmentNames, false, strings::encode(&s.names)?));
        }
    }
    if let Some(s) = &parts.behaviour {
        sections.push((Kind::Behaviour, false, super::behaviour::encode(s)?));
    }
    if let Some(r) = &parts.ranker {
        sections.push((Kind::Ranker, false, super::ranker::encode(r)?));
    }
    if let Some(blob) = &parts.intent {
        sections.push((Kind::Intent, false, blob.clone()));
    }
    Ok(sections)
}

/// Lays out already-encoded sections. Public within the crate so tests can
/// build deliberately odd (but well-framed) files.
pub(crate) fn assemble(sections: &[(Kind, bool, Vec<u8>)]) -> Vec<u8> {
    let raw: Vec<(u32, u32, &[u8])> = sections
        .iter()
        .map(|(k, req, b)| {
            (
                *k as u32,
                if *req { FLAG_REQUIRED } else { 0 },
                b.as_slice(),
            )
        })
        .collect();
    assemble_raw(&raw)
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "lays out in-memory sections: their offsets and count (≤ 20 kinds) fit usize and u32"
)]
pub(crate) fn assemble_raw(sections: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let count = sections.len() as u64;
    let mut offsets = Vec::with_capacity(sections.len());
    let mut pos = data_start(count).unwrap_or(0);
    for (_, _, b) in sections {
        offsets.push(pos);
        pos = next_offset(pos + b.len() as u64).unwrap_or(0);
    }
    let file_len = offsets
        .last()
        .zip(sections.last())
        .map_or(data_start(count).unwrap_or(0), |(o, s)| {
            o + s.2.len() as u64
        });
    let mut out = vec![0u8; file_len as usize];
    out[..8].copy_from_slice(&MAGIC);
    out[8..10].copy_from_slice(&FORMAT_MAJOR.to_le_bytes());
    out[10..12].copy_from_slice(&FORMAT_MINOR.to_le_bytes());
    out[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
    out[16..20].copy_from_slice(&(count as u32).to_le_bytes());
    out[24..32].copy_from_slice(&file_len.to_le_bytes());
    for (i, ((kind, flags, b), &off)) in sections.iter().zip(&offsets).enumerate() {
        let e = HEADER_LEN + i * ENTRY_LEN;
        out[e..e + 4].copy_from_slice(&kind.to_le_bytes());
        out[e + 4..e + 8].copy_from_slice(&flags.to_le_bytes());
        out[e + 8..e + 16].copy_from_slice(&off.to_le_bytes());
        out[e + 16..e + 24].copy_from_slice(&(b.len() as u64).to_le_bytes());
        out[e + 24..e + 28].copy_from_slice(&super::crc32::hash(b).to_le_bytes());
        out[off as usize..off as usize + b.len()].copy_from_slice(b);
    }
    reseal(&mut out);
    out
}

/// Recomputes the table checksum (after editing the header or table).
pub(crate) fn reseal(out: &mut [u8]) {
    let count = u32::from_le_bytes([out[16], out[17], out[18], out[19]]) as usize;
    let table_end = HEADER_LEN + count * ENTRY_LEN;
    if table_end > out.len() {
        return;
    }
    let mut h = super::crc32::Crc32::new();
    h.update(&out[..32]);
    h.update(&out[HEADER_LEN..table_end]);
    let crc = h.finalize();
    out[32..36].copy_from_slice(&crc.to_le_bytes());
}

/// Recomputes every section's CRC and then the table's, so a mutation inside
/// a section reaches the content checks instead of stopping at the checksum.
#[cfg(test)]
pub(crate) fn reseal_all(c: &mut [u8]) {
    let Some(count) = c
        .get(16..20)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    else {
        return;
    };
    for i in 0..count as usize {
        let e = HEADER_LEN + i * ENTRY_LEN;
        let Some(entry) = c.get(e..e + ENTRY_LEN) else {
            return;
        };
        let off = u64::from_le_bytes(entry[8..16].try_into().unwrap());
        let len = u64::from_le_bytes(entry[16..24].try_into().unwrap());
        let Some(end) = off.checked_add(len) else {
            continue;
        };
        let (Ok(off), Ok(end)) = (usize::try_from(off), usize::try_from(end)) else {
            continue;
        };
        if let Some(body) = c.get(off..end) {
            let crc = super::crc32::hash(body);
            c[e + 24..e + 28].copy_from_slice(&crc.to_le_bytes());
        }
    }
    reseal(c);
}

/// Writes atomically: a temp file next to `path`, then rename, so a crash or a
/// validation error never leaves a half-written bundle behind.
pub fn write_bundle_file(path: &Path, parts: &BundleParts, dtype: Dtype) -> Result<(), Error> {
    let bytes = write_bundle(parts, dtype)?;
    write_atomic(path, &bytes).map_err(|e| invalid(format!("cannot write {}: {e}", path.display())))
}

/// Temp file + rename in the same directory (created if missing): the one
/// way every output of the project (bundles, model state, reports) is written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
