//! Reader: validates a whole bundle once ([`parse`]) and then hands out O(1)
//! typed views ([`BundleLayout::view`]) over the same bytes.
//!
//! Never panics for any input: every read of the untrusted bytes goes through
//! `.get(..)`, and every size computed from the file is checked arithmetic that
//! names what overflowed.

use super::limits::{
    MAX_FACTOR_ABS, MAX_FACTOR_ABS_TEXT, MAX_GRAM_ABS, MAX_GRAM_ABS_TEXT, MAX_SCALE,
    MAX_SCALE_TEXT, MAX_SCORE_TERM, MAX_SCORE_TERM_TEXT, MAX_USER_ABS, MAX_USER_ABS_TEXT,
};
use super::{
    data_start, f16_to_f32, kind_name, next_offset, Dtype, Kind, StringTable, ENTRY_LEN,
    FLAG_REQUIRED, FORMAT_MAJOR, HEADER_LEN, MAGIC, MAX_DIM,
};
use crate::error::{At, Error};
use std::ops::Range;

/// One row of the section table, as found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionInfo {
    pub kind: u32,
    pub name: &'static str,
    pub flags: u32,
    pub offset: u64,
    pub length: u64,
    pub crc32: u32,
}

impl SectionInfo {
    pub fn required(&self) -> bool {
        self.flags & FLAG_REQUIRED != 0
    }
}

/// The validated shape of a bundle: dimensions plus where each known section
/// lives. Owns no bytes, so the engine can keep it next to the buffer.
#[derive(Debug, Clone)]
pub struct BundleLayout {
    pub version: (u16, u16),
    pub n_items: usize,
    pub dim: usize,
    pub stride: usize,
    pub dtype: Dtype,
    pub sections: Vec<SectionInfo>,
    ranges: Vec<Option<Range<usize>>>,
}

/// Factor rows, `stride` elements each (zero padded past `dim`).
#[derive(Debug, Clone, Copy)]
pub enum FactorsView<'a> {
    F32(&'a [f32]),
    F16(&'a [u16]),
    /// `residual`: the optional RESIDUAL section, same shape as `q`.
    I8 {
        q: &'a [i8],
        scales: &'a [f32],
        residual: Option<&'a [i8]>,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct GramView<'a> {
    pub dim: usize,
    pub lambda: f32,
    pub alpha: f32,
    pub yty: &'a [f32],
}

#[derive(Debug, Clone, Copy)]
pub struct NeighboursView<'a> {
    pub offsets: &'a [u32],
    pub items: &'a [u32],
    /// f16 bits.
    pub weights: &'a [u16],
}

impl<'a> NeighboursView<'a> {
    /// Neighbours of item `i` as (item index, weight), strongest first.
    pub fn of(&self, i: usize) -> impl Iterator<Item = (u32, f32)> + 'a {
        let a = self.offsets.get(i).copied().unwrap_or(0) as usize;
        let b = self.offsets.get(i + 1).copied().unwrap_or(0) as usize;
        let items = self.items.get(a..b).unwrap_or(&[]);
        let weights = self.weights.get(a..b).unwrap_or(&[]);
        items
            .iter()
            .zip(weights)
            .map(|(&it, &w)| (it, f16_to_f32(w)))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct SegmentsView<'a> {
    pub k: usize,
    pub dim: usize,
    pub centroids: &'a [f32],
    pub names: Option<StringTable<'a>>,
}

/// Typed, zero-copy views of every known section.
#[derive(Debug, Clone, Copy)]
pub struct BundleView<'a> {
    pub ids: StringTable<'a>,
    /// Item indices ordered by id bytes: binary search for lookups.
    pub id_index: &'a [u32],
    pub factors: FactorsView<'a>,
    pub bias: Option<&'a [f32]>,
    pub popularity: Option<&'a [f32]>,
    pub category: Option<&'a [u32]>,
    pub category_names: StringTable<'a>,
    /// PRICE as stored (f32); [`BundleView::price_at`] gives the exact price.
    pub price: Option<&'a [f32]>,
    /// PRICE_F64 (format 1.2+): prices exactly as exported.
    pub price_f64: Option<&'a [f64]>,
    pub flags: Option<&'a [u8]>,
    pub titles: Option<StringTable<'a>>,
    /// Alternating key, value.
    pub meta: StringTable<'a>,
    pub gram: Option<GramView<'a>>,
    pub neighbours: Option<NeighboursView<'a>>,
    pub segments: Option<SegmentsView<'a>>,
    pub intent: Option<&'a [u8]>,
    /// CO_PURCHASE, CADENCE, TRENDING (`format::placements`).
    pub placements: super::placements::PlacementsView<'a>,
    /// RANKER bytes (decode with `format::ranker::decode`).
    pub ranker: Option<&'a [u8]>,
    /// BEHAVIOUR bytes (validated at load; decode with `format::behaviour::decode`).
    pub behaviour: Option<&'a [u8]>,
}

impl BundleView<'_> {
    /// Whether the bundle has prices at all (a price filter needs them).
    pub fn has_prices(&self) -> bool {
        self.price_f64.is_some() || self.price.is_some()
    }

    /// Item `i`'s price as exported (NaN = unknown, `None` = no prices or
    /// out of range): PRICE_F64 when present, else the decimal the f32 PRICE
    /// of an older bundle stood for ([`super::decimal_of_f32`]).
    pub fn price_at(&self, i: usize) -> Option<f64> {
        match (self.price_f64, self.price) {
            (Some(p), _) => p.get(i).copied(),
            (None, Some(p)) => p.get(i).map(|&v| super::decimal_of_f32(v)),
            (None, None) => None,
        }
    }
}

/// Bit 0 of an item's FLAGS byte.
pub const ITEM_IN_STOCK: u8 = 1;

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8).map(|s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

/// A file offset as a slice index; past usize (impossible for offsets
/// already checked against the slice's length) it saturates, so `.get` fails.
fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn at(section: &'static str, offset: u64) -> At {
    At { section, offset }
}

fn cast<'a, T: bytemuck::Pod>(bytes: &'a [u8], at: &At) -> Result<&'a [T], Error> {
    bytemuck::try_cast_slice(bytes).map_err(|e| Error::BadSection {
        at: at.clone(),
        reason: format!("cannot view as {}: {e:?}", std::any::type_name::<T>()),
    })
}

/// What a caller already knows about the bytes, so that [`parse_with`] can
/// skip work.
#[derive(Debug, Default, Clone)]
pub struct Known {
    /// (offset, length, CRC-32) of sections computed over exactly these
    /// bytes as they arrived ([`super::Intake::finish_known`]); they are
    /// still compared with the table's CRCs, only not computed twice.
    pub crcs: Vec<super::SectionCrc>,
    /// Skip the O(n) value checks of the content (ids sorted and unique,
    /// factors, scales, bias and popularity finite and bounded, zero row
    /// padding); shapes, lengths, the layout and every checksum are still
    /// checked. Only for a byte-identical copy of a bundle that passed them:
    /// the device's model cache (docs/web.md, "Warm visits", argues why).
    pub skip_value_checks: bool,
}

/// Validates everything: header, table, layout (aligned, contiguous, no holes,
/// no overlap, end = file length), checksums, and the content of every known
/// section (shapes agree, floats finite, ids unique, references in range).
pub fn parse(bytes: &[u8]) -> Result<BundleLayout, Error> {
    parse_with(bytes, &Known::default())
}

/// [`parse`], reusing section CRCs computed while the bytes arrived and, for
/// a cached copy of a validated bundle, without the value checks.
pub fn parse_with(bytes: &[u8], known: &Known) -> Result<BundleLayout, Error> {
    let file_len = bytes.len() as u64;
    let header = bytes.get(..HEADER_LEN).ok_or(Error::Truncated {
        at: at("HEADER", 0),
        need: HEADER_LEN as u64,
        have: file_len,
    })?;
    let mut magic = [0u8; 8];
    magic.copy_from_slice(header.get(..8).unwrap_or(&[0; 8]));
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    let major = le_u16(header, 8).unwrap_or(0);
    let minor = le_u16(header, 10).unwrap_or(0);
    if major != FORMAT_MAJOR {
        return Err(Error::UnsupportedVersion { major, minor });
    }
    // Bytes 36..64 are outside the table checksum, so they must be zero:
    // otherwise a corruption there would load unnoticed.
    if let Some(i) = header
        .get(36..HEADER_LEN)
        .and_then(|r| r.iter().position(|&b| b != 0))
    {
        return Err(Error::ReservedNotZero {
            at: at("HEADER", 36 + i as u64),
            what: "header bytes 36..64",
        });
    }
    let header_len = le_u32(header, 12).unwrap_or(0) as u64;
    if header_len != HEADER_LEN as u64 {
        return Err(Error::BadSection {
            at: at("HEADER", 12),
            reason: format!("header length {header_len}, expected {HEADER_LEN}"),
        });
    }
    let count = le_u32(header, 16).unwrap_or(0) as u64;
    let declared_len = le_u64(header, 24).unwrap_or(0);
    if declared_len != file_len {
        return Err(if declared_len > file_len {
            Error::Truncated {
                at: at("HEADER", 24),
                need: declared_len,
                have: file_len,
            }
        } else {
            Error::SectionGap {
                at: at("END", file_len),
                expected: declared_len,
            }
        });
    }
    let table_end = count
        .checked_mul(ENTRY_LEN as u64)
        .and_then(|t| t.checked_add(HEADER_LEN as u64))
        .ok_or(Error::SizeOverflow {
            what: "section table length",
        })?;
    let table = bytes
        .get(HEADER_LEN..usize::try_from(table_end).unwrap_or(usize::MAX))
        .ok_or(Error::Truncated {
            at: at("TABLE", HEADER_LEN as u64),
            need: table_end,
            have: file_len,
        })?;
    let table_crc = le_u32(header, 32).unwrap_or(0);
    let mut h = super::crc32::Crc32::new();
    h.update(header.get(..32).unwrap_or(&[]));
    h.update(table);
    let actual = h.finalize();
    if actual != table_crc {
        return Err(Error::ChecksumMismatch {
            at: at("TABLE", HEADER_LEN as u64),
            expected: table_crc,
            actual,
        });
    }

    if le_u32(header, 20) != Some(0) {
        return Err(Error::ReservedNotZero {
            at: at("HEADER", 20),
            what: "header flags",
        });
    }

    // Layout: contiguous, aligned, in table order, no holes, no overlap.
    let mut sections = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(64));
    let mut ranges: Vec<Option<Range<usize>>> = vec![None; Kind::ALL.len() + 1];
    let mut prev_end = table_end;
    let mut expected = data_start(count).ok_or(Error::SizeOverflow {
        what: "first section offset",
    })?;
    // `count` entries fit in the file (checked above), so in usize.
    for i in 0..usize::try_from(count).unwrap_or(0) {
        let e = HEADER_LEN + i * ENTRY_LEN;
        let kind = le_u32(bytes, e).unwrap_or(0);
        let flags = le_u32(bytes, e + 4).unwrap_or(0);
        let offset = le_u64(bytes, e + 8).unwrap_or(0);
        let length = le_u64(bytes, e + 16).unwrap_or(0);
        let crc = le_u32(bytes, e + 24).unwrap_or(0);
        let name = kind_name(kind);
        if flags & !FLAG_REQUIRED != 0 {
            return Err(Error::ReservedNotZero {
                at: at(name, (e + 4) as u64),
                what: "section flags (only bit 0 is defined)",
            });
        }
        if le_u32(bytes, e + 28) != Some(0) {
            return Err(Error::ReservedNotZero {
                at: at(name, (e + 28) as u64),
                what: "section table word",
            });
        }
        let here = at(name, offset);
        if offset % super::ALIGN as u64 != 0 {
            return Err(Error::MisalignedSection {
                at: here,
                align: super::ALIGN as u64,
            });
        }
        if offset < prev_end {
            return Err(Error::OverlappingSections {
                at: here,
                previous_end: prev_end,
            });
        }
        if offset != expected {
            return Err(Error::SectionGap { at: here, expected });
        }
        let end = offset.checked_add(length).ok_or(Error::SizeOverflow {
            what: "section end",
        })?;
        if end > file_len {
            return Err(Error::SectionOutOfBounds {
                at: here,
                end,
                file_len,
            });
        }
        // Both ≤ file_len, which is a slice length: they fit usize.
        let (start, stop) = (to_usize(offset), to_usize(end));
        // Padding must be zero so that equal models are equal files.
        if let Some(pad) = bytes.get(to_usize(prev_end)..start) {
            if pad.iter().any(|&b| b != 0) {
                return Err(Error::BadSection {
                    at: at(name, prev_end),
                    reason: "non-zero padding before section".into(),
                });
            }
        }
        let body = bytes.get(start..stop).unwrap_or(&[]);
        let actual = known
            .crcs
            .iter()
            .find(|&&(o, l, _)| o == offset && l == length)
            .map_or_else(|| super::crc32::hash(body), |&(_, _, c)| c);
        if actual != crc {
            return Err(Error::ChecksumMismatch {
                at: here,
                expected: crc,
                actual,
            });
        }
        match Kind::from_u32(kind) {
            Some(k) => {
                let slot = &mut ranges[k as usize];
                if slot.is_some() {
                    return Err(Error::DuplicateSection { at: here });
                }
                *slot = Some(start..stop);
            }
            None if flags & FLAG_REQUIRED != 0 => {
                return Err(Error::UnknownRequiredSection { kind, offset })
            }
            None => {} // optional and unknown: skipped, by design
        }
        sections.push(SectionInfo {
            kind,
            name,
            flags,
            offset,
            length,
            crc32: crc,
        });
        prev_end = end;
        expected = next_offset(end).ok_or(Error::SizeOverflow {
            what: "next section offset",
        })?;
    }
    if prev_end != file_len {
        return Err(Error::SectionGap {
            at: at("END", prev_end),
            expected: file_len,
        });
    }

    let mut layout = BundleLayout {
        version: (major, minor),
        n_items: 0,
        dim: 0,
        stride: 0,
        dtype: Dtype::F32,
        sections,
        ranges,
    };
    validate_content(bytes, &mut layout, !known.skip_value_checks)?;
    Ok(layout)
}

impl BundleLayout {
    fn range(&self, k: Kind) -> Option<Range<usize>> {
        self.ranges.get(k as usize).cloned().flatten()
    }

    fn section<'a>(&self, bytes: &'a [u8], k: Kind) -> Option<&'a [u8]> {
        self.range(k).and_then(|r| bytes.get(r))
    }

    /// A section's bytes and file offset, for the codecs in sibling modules.
    pub(super) fn section_at<'a>(&self, bytes: &'a [u8], k: Kind) -> Option<(&'a [u8], u64)> {
        let r = self.range(k)?;
        let start = r.start as u64;
        bytes.get(r).map(|b| (b, start))
    }

    pub fn has(&self, k: Kind) -> bool {
        self.range(k).is_some()
    }

    /// The factor rows alone, as [`BundleLayout::view`] gives them. A whole
    /// view re-derives every section's slice, string table and sub-header
    /// (~0.2 µs in wasm); per-row lookups (re-scoring a scan's candidates,
    /// the shopper's and the ranker's rows) take only this.
    pub fn factors<'a>(&self, bytes: &'a [u8]) -> FactorsView<'a> {
        let factors_bytes = self.section(bytes, Kind::Factors).unwrap_or(&[]);
        match self.dtype {
            Dtype::F32 => FactorsView::F32(bytemuck::try_cast_slice(factors_bytes).unwrap_or(&[])),
            Dtype::F16 => FactorsView::F16(bytemuck::try_cast_slice(factors_bytes).unwrap_or(&[])),
            Dtype::I8 => FactorsView::I8 {
                q: bytemuck::try_cast_slice(factors_bytes).unwrap_or(&[]),
                scales: self.f32_section(bytes, Kind::Scales).unwrap_or(&[]),
                residual: self
                    .section(bytes, Kind::Residual)
                    .and_then(|b| bytemuck::try_cast_slice(b).ok()),
            },
        }
    }

    /// The item bias, as [`BundleLayout::view`] gives it (see
    /// [`BundleLayout::factors`]).
    pub fn bias<'a>(&self, bytes: &'a [u8]) -> Option<&'a [f32]> {
        self.f32_section(bytes, Kind::Bias)
    }

    /// The item ids, as [`BundleLayout::view`] gives them (see
    /// [`BundleLayout::factors`]).
    pub fn ids<'a>(&self, bytes: &'a [u8]) -> StringTable<'a> {
        self.section(bytes, Kind::ItemIds)
            .map_or(StringTable::empty(), StringTable::view)
    }

    /// The id index (item indices in byte order of their ids), as
    /// [`BundleLayout::view`] gives it.
    pub fn id_index<'a>(&self, bytes: &'a [u8]) -> &'a [u32] {
        self.section(bytes, Kind::IdIndex)
            .and_then(|b| bytemuck::try_cast_slice(b).ok())
            .unwrap_or(&[])
    }

    /// A section of f32 values.
    fn f32_section<'a>(&self, bytes: &'a [u8], k: Kind) -> Option<&'a [f32]> {
        self.section(bytes, k)
            .and_then(|b| bytemuck::try_cast_slice::<u8, f32>(b).ok())
    }

    /// O(1) typed views. `bytes` must be the buffer this layout was parsed from;
    /// with any other buffer the views come back empty rather than panicking.
    pub fn view<'a>(&self, bytes: &'a [u8]) -> BundleView<'a> {
        let f32s = |k| {
            self.section(bytes, k)
                .and_then(|b| bytemuck::try_cast_slice::<u8, f32>(b).ok())
        };
        let strings = |k| self.section(bytes, k).map(StringTable::view);
        let factors = self.factors(bytes);
        let gram = self.section(bytes, Kind::Gram).map(|b| GramView {
            dim: le_u32(b, 0).unwrap_or(0) as usize,
            lambda: f32::from_bits(le_u32(b, 8).unwrap_or(0)),
            alpha: f32::from_bits(le_u32(b, 12).unwrap_or(0)),
            yty: b
                .get(16..)
                .and_then(|t| bytemuck::try_cast_slice(t).ok())
                .unwrap_or(&[]),
        });
        let neighbours = self
            .section(bytes, Kind::Neighbours)
            .and_then(|b| neighbours_parts(b, &at("NEIGHBOURS", 0)).ok())
            .map(|(offsets, items, weights)| NeighboursView {
                offsets,
                items,
                weights,
            });
        let segments = self.section(bytes, Kind::Segments).map(|b| SegmentsView {
            k: le_u32(b, 0).unwrap_or(0) as usize,
            dim: le_u32(b, 4).unwrap_or(0) as usize,
            centroids: b
                .get(16..)
                .and_then(|t| bytemuck::try_cast_slice(t).ok())
                .unwrap_or(&[]),
            names: strings(Kind::SegmentNames),
        });
        BundleView {
            ids: self.ids(bytes),
            id_index: self.id_index(bytes),
            factors,
            bias: f32s(Kind::Bias),
            popularity: f32s(Kind::Popularity),
            category: self
                .section(bytes, Kind::Category)
                .and_then(|b| bytemuck::try_cast_slice(b).ok()),
            category_names: strings(Kind::CategoryNames).unwrap_or(StringTable::empty()),
            price: f32s(Kind::Price),
            price_f64: self
                .section(bytes, Kind::PriceF64)
                .and_then(|b| bytemuck::try_cast_slice(b).ok()),
            flags: self.section(bytes, Kind::Flags),
            titles: strings(Kind::Titles),
            meta: strings(Kind::Meta).unwrap_or(StringTable::empty()),
            gram,
            neighbours,
            segments,
            intent: self.section(bytes, Kind::Intent),
            placements: super::placements::view(|k| self.section(bytes, k)),
            ranker: self.section(bytes, Kind::Ranker),
            behaviour: self.section(bytes, Kind::Behaviour),
        }
    }
}

type NeighbourParts<'a> = (&'a [u32], &'a [u32], &'a [u16]);

fn neighbours_parts<'a>(b: &'a [u8], here: &At) -> Result<NeighbourParts<'a>, Error> {
    let n = le_u32(b, 0).ok_or_else(|| short(here, 16, b.len()))? as usize;
    let total = le_u32(b, 4).ok_or_else(|| short(here, 16, b.len()))? as usize;
    let offs_len = n
        .checked_add(1)
        .and_then(|v| v.checked_mul(4))
        .ok_or(Error::SizeOverflow {
            what: "neighbour offsets",
        })?;
    let items_len = total.checked_mul(4).ok_or(Error::SizeOverflow {
        what: "neighbour items",
    })?;
    let w_len = total.checked_mul(2).ok_or(Error::SizeOverflow {
        what: "neighbour weights",
    })?;
    let need = 16usize
        .checked_add(offs_len)
        .and_then(|v| v.checked_add(items_len))
        .and_then(|v| v.checked_add(w_len))
        .ok_or(Error::SizeOverflow {
            what: "neighbours section",
        })?;
    if b.len() != need {
        return Err(Error::BadSection {
            at: here.clone(),
            reason: format!(
                "{n} items with {total} neighbours need {need} bytes, section has {}",
                b.len()
            ),
        });
    }
    let offsets = cast(b.get(16..16 + offs_len).unwrap_or(&[]), here)?;
    let items = cast(
        b.get(16 + offs_len..16 + offs_len + items_len)
            .unwrap_or(&[]),
        here,
    )?;
    let weights = cast(b.get(16 + offs_len + items_len..).unwrap_or(&[]), here)?;
    Ok((offsets, items, weights))
}

fn short(here: &At, need: usize, have: usize) -> Error {
    Error::Truncated {
        at: here.clone(),
        need: need as u64,
        have: have as u64,
    }
}

fn check_finite(values: &[f32], here: &At) -> Result<(), Error> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::NonFinite {
            at: here.clone(),
            index: i as u64,
        }),
        None => Ok(()),
    }
}

/// Finite and within ±`limit` (the safety envelope, [`super::limits`]).
fn check_bounded(values: &[f32], limit: f32, text: &'static str, here: &At) -> Result<(), Error> {
    check_finite(values, here)?;
    match values.iter().position(|v| v.abs() > limit) {
        Some(i) => Err(Error::UnsafeValue {
            at: here.clone(),
            index: i as u64,
            limit: text,
        }),
        None => Ok(()),
    }
}

/// Reserved bytes `r` of section `b` (at `here`) must be zero.
fn check_reserved(b: &[u8], r: Range<usize>, here: &At, what: &'static str) -> Result<(), Error> {
    let start = r.start;
    match b.get(r).map(|z| z.iter().position(|&x| x != 0)) {
        Some(Some(i)) => Err(Error::ReservedNotZero {
            at: At {
                section: here.section,
                offset: here.offset + (start + i) as u64,
            },
            what,
        }),
        Some(None) => Ok(()),
        None => Err(short(here, start, b.len())),
    }
}

fn validate_content(bytes: &[u8], layout: &mut BundleLayout, values: bool) -> Result<(), Error> {
    // MODEL: n_items u32 | dim u32 | stride u32 | dtype u32 | 16 reserved.
    let m = layout
        .section(bytes, Kind::Model)
        .ok_or(Error::MissingSection {
            section: Kind::Model.name(),
        })?;
    let here = at(
        Kind::Model.name(),
        layout.range(Kind::Model).map_or(0, |r| r.start as u64),
    );
    if m.len() < 32 {
        return Err(short(&here, 32, m.len()));
    }
    check_reserved(m, 16..32, &here, "MODEL bytes 16..32")?;
    let n = le_u32(m, 0).unwrap_or(0) as usize;
    let dim = le_u32(m, 4).unwrap_or(0) as usize;
    let stride = le_u32(m, 8).unwrap_or(0) as usize;
    let dtype_code = le_u32(m, 12).unwrap_or(u32::MAX);
    let dtype = Dtype::from_code(dtype_code).ok_or_else(|| Error::BadSection {
        at: here.clone(),
        reason: format!("unknown dtype code {dtype_code}"),
    })?;
    if dim == 0 || dim > MAX_DIM {
        return Err(Error::BadSection {
            at: here,
            reason: format!("dim {dim} outside 1..={MAX_DIM}"),
        });
    }
    if stride != super::stride_for(dim) {
        return Err(Error::BadSection {
            at: here,
            reason: format!("row stride {stride} must be dim {dim} rounded up to 16"),
        });
    }
    layout.n_items = n;
    layout.dim = dim;
    layout.stride = stride;
    layout.dtype = dtype;
    let layout: &BundleLayout = layout;
    let loc = |k: Kind| at(k.name(), layout.range(k).map_or(0, |r| r.start as u64));
    let need = |k: Kind| {
        layout
            .section(bytes, k)
            .ok_or(Error::MissingSection { section: k.name() })
    };

    let per_item = |k: Kind, elem: usize| -> Result<&[u8], Error> {
        let b = need(k)?;
        let want = n
            .checked_mul(elem)
            .ok_or(Error::SizeOverflow { what: k.name() })?;
        if b.len() != want {
            return Err(Error::BadSection {
                at: loc(k),
                reason: format!("{n} items need {want} bytes, section has {}", b.len()),
            });
        }
        Ok(b)
    };
    let per_item_opt = |k: Kind, elem: usize| -> Result<Option<&[u8]>, Error> {
        if layout.has(k) {
            per_item(k, elem).map(Some)
        } else {
            Ok(None)
        }
    };

    // Ids: a string table of n unique ids, and the index that sorts them.
    let ids = StringTable::parse(need(Kind::ItemIds)?, &loc(Kind::ItemIds))?;
    if ids.len() != n {
        return Err(Error::BadSection {
            at: loc(Kind::ItemIds),
            reason: format!("{} ids for {n} items", ids.len()),
        });
    }
    let index: &[u32] = cast(per_item(Kind::IdIndex, 4)?, &loc(Kind::IdIndex))?;
    let mut prev: Option<(u32, &[u8])> = None;
    for &i in index.iter().take(if values { usize::MAX } else { 0 }) {
        let id = ids.get_bytes(i as usize).ok_or_else(|| Error::BadSection {
            at: loc(Kind::IdIndex),
            reason: format!("item index {i} out of range"),
        })?;
        if let Some((pi, p)) = prev {
            match super::strings::cmp_bytes(p, id) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return Err(Error::DuplicateId {
                        id: String::from_utf8_lossy(id).into_owned(),
                        first: pi.min(i),
                        second: pi.max(i),
                    })
                }
                std::cmp::Ordering::Greater => {
                    return Err(Error::BadSection {
                        at: loc(Kind::IdIndex),
                        reason: "id index is not sorted".into(),
                    })
                }
            }
        }
        prev = Some((i, id));
    }

    // Factors (+ scales for int8): finite, zero padding.
    let row_bytes = stride
        .checked_mul(dtype.elem_bytes())
        .ok_or(Error::SizeOverflow { what: "row bytes" })?;
    let fb = per_item(Kind::Factors, row_bytes)?;
    let here = loc(Kind::Factors);
    if !values {
        // Shapes only: the lengths the views and kernels rely on.
        if dtype == Dtype::I8 {
            per_item_opt(Kind::Residual, stride)?;
            per_item(Kind::Scales, 4)?;
        }
    }
    match dtype {
        _ if !values => {}
        Dtype::F32 => {
            let f: &[f32] = cast(fb, &here)?;
            check_bounded(f, MAX_FACTOR_ABS, MAX_FACTOR_ABS_TEXT, &here)?;
            if stride != dim {
                for (r, row) in f.chunks_exact(stride).enumerate() {
                    if row.get(dim..).is_some_and(|p| p.iter().any(|&v| v != 0.0)) {
                        return Err(bad_pad(&here, r));
                    }
                }
            }
        }
        Dtype::F16 => {
            let f: &[u16] = cast(fb, &here)?;
            if let Some(i) = f.iter().position(|&h| h & 0x7c00 == 0x7c00) {
                return Err(Error::NonFinite {
                    at: here,
                    index: i as u64,
                });
            }
            if stride != dim {
                for (r, row) in f.chunks_exact(stride).enumerate() {
                    if row
                        .get(dim..)
                        .is_some_and(|p| p.iter().any(|&v| v & 0x7fff != 0))
                    {
                        return Err(bad_pad(&here, r));
                    }
                }
            }
        }
        Dtype::I8 => {
            let residual = per_item_opt(Kind::Residual, stride)?;
            for (rows, here) in [(Some(fb), here.clone()), (residual, loc(Kind::Residual))] {
                match rows {
                    Some(rows) if stride != dim => {
                        for (r, row) in rows.chunks_exact(stride).enumerate() {
                            if row.get(dim..).is_some_and(|p| p.iter().any(|&v| v != 0)) {
                                return Err(bad_pad(&here, r));
                            }
                        }
                    }
                    _ => {}
                }
            }
            let s: &[f32] = cast(per_item(Kind::Scales, 4)?, &loc(Kind::Scales))?;
            check_finite(s, &loc(Kind::Scales))?;
            if let Some(i) = s.iter().position(|&v| v < 0.0) {
                return Err(Error::BadSection {
                    at: loc(Kind::Scales),
                    reason: format!("negative scale at row {i}"),
                });
            }
            check_bounded(s, MAX_SCALE, MAX_SCALE_TEXT, &loc(Kind::Scales))?;
        }
    }

    if dtype != Dtype::I8 && layout.has(Kind::Residual) {
        return Err(Error::BadSection {
            at: loc(Kind::Residual),
            reason: format!("refines int8 factors only; this bundle is {}", dtype.name()),
        });
    }

    for k in [Kind::Bias, Kind::Popularity] {
        if let Some(b) = per_item_opt(k, 4)?.filter(|_| values) {
            check_bounded(
                cast(b, &loc(k))?,
                MAX_SCORE_TERM,
                MAX_SCORE_TERM_TEXT,
                &loc(k),
            )?;
        }
    }
    if let Some(b) = per_item_opt(Kind::Price, 4)? {
        let p: &[f32] = cast(b, &loc(Kind::Price))?;
        // NaN means "price unknown"; infinities are corruption.
        if let Some(i) = p.iter().position(|v| v.is_infinite()) {
            return Err(Error::NonFinite {
                at: loc(Kind::Price),
                index: i as u64,
            });
        }
    }
    if let Some(b) = per_item_opt(Kind::PriceF64, 8)? {
        let p: &[f64] = cast(b, &loc(Kind::PriceF64))?;
        if let Some(i) = p.iter().position(|v| v.is_infinite()) {
            return Err(Error::NonFinite {
                at: loc(Kind::PriceF64),
                index: i as u64,
            });
        }
        // Both carry the same prices (PRICE for 1.0/1.1 readers): a filter
        // must not depend on which reader runs it.
        if let Some(b32) = layout.section(bytes, Kind::Price) {
            let p32: &[f32] = cast(b32, &loc(Kind::Price))?;
            #[allow(
                clippy::cast_possible_truncation,
                reason = "PRICE is PRICE_F64 rounded to f32"
            )]
            let differs = |(a, b): (&f32, &f64)| {
                let r = *b as f32;
                !(r == *a || (r.is_nan() && a.is_nan()))
            };
            if let Some(i) = p32.iter().zip(p).position(differs) {
                return Err(Error::BadSection {
                    at: loc(Kind::PriceF64),
                    reason: format!("price of item {i} disagrees with PRICE"),
                });
            }
        }
    }
    per_item_opt(Kind::Flags, 1)?;
    if let Some(b) = per_item_opt(Kind::Category, 4)? {
        let cats: &[u32] = cast(b, &loc(Kind::Category))?;
        let names = StringTable::parse(need(Kind::CategoryNames)?, &loc(Kind::CategoryNames))?;
        if let Some(i) = cats
            .iter()
            .position(|&c| c != u32::MAX && c as usize >= names.len())
        {
            return Err(Error::BadSection {
                at: loc(Kind::Category),
                reason: format!(
                    "item {i} has category {} but there are {} names",
                    cats[i],
                    names.len()
                ),
            });
        }
    } else if layout.has(Kind::CategoryNames) {
        StringTable::parse(need(Kind::CategoryNames)?, &loc(Kind::CategoryNames))?;
    }
    if layout.has(Kind::Titles) {
        let t = StringTable::parse(need(Kind::Titles)?, &loc(Kind::Titles))?;
        if t.len() != n {
            return Err(Error::BadSection {
                at: loc(Kind::Titles),
                reason: format!("{} titles for {n} items", t.len()),
            });
        }
    }
    if layout.has(Kind::Meta) {
        let t = StringTable::parse(need(Kind::Meta)?, &loc(Kind::Meta))?;
        if t.len() % 2 != 0 {
            return Err(Error::BadSection {
                at: loc(Kind::Meta),
                reason: "metadata must be key/value pairs".into(),
            });
        }
    }
    if let Some(b) = layout.section(bytes, Kind::Gram) {
        let here = loc(Kind::Gram);
        let gd = le_u32(b, 0).ok_or_else(|| short(&here, 16, b.len()))? as usize;
        let want = dim
            .checked_mul(dim)
            .and_then(|v| v.checked_mul(4))
            .and_then(|v| v.checked_add(16))
            .ok_or(Error::SizeOverflow { what: "gram" })?;
        if gd != dim || b.len() != want {
            return Err(Error::BadSection {
                at: here,
                reason: format!(
                    "gram for dim {gd} with {} bytes; model dim is {dim}",
                    b.len()
                ),
            });
        }
        check_reserved(b, 4..8, &here, "GRAM bytes 4..8")?;
        let vals: &[f32] = cast(b.get(8..).unwrap_or(&[]), &here)?;
        check_bounded(vals, MAX_GRAM_ABS, MAX_GRAM_ABS_TEXT, &here)?;
        if vals.first().is_some_and(|&l| l < 0.0) {
            return Err(Error::BadSection {
                at: here,
                reason: "negative regularization".into(),
            });
        }
        if vals.get(1).is_some_and(|&a| a < 0.0) {
            return Err(Error::BadSection {
                at: here,
                reason: "negative confidence weight α".into(),
            });
        }
        // YᵀY has a non-negative diagonal: a negative one is no Gram matrix,
        // and fold-in would solve a system that is not positive definite.
        let yty = vals.get(2..).unwrap_or(&[]);
        if let Some(a) = (0..dim).find(|&a| yty.get(a * dim + a).is_some_and(|&v| v < 0.0)) {
            return Err(Error::BadSection {
                at: here,
                reason: format!("negative diagonal entry {a} of YᵀY"),
            });
        }
    }
    if let Some(b) = layout.section(bytes, Kind::Neighbours) {
        let here = loc(Kind::Neighbours);
        let (offsets, items, weights) = neighbours_parts(b, &here)?;
        check_reserved(b, 8..16, &here, "NEIGHBOURS bytes 8..16")?;
        if offsets.len() != n + 1 {
            return Err(Error::BadSection {
                at: here,
                reason: format!(
                    "neighbour lists for {} items, model has {n}",
                    offsets.len().saturating_sub(1)
                ),
            });
        }
        let mut prev = 0u32;
        for &o in offsets {
            if o < prev {
                return Err(Error::BadSection {
                    at: here,
                    reason: "neighbour offsets go backwards".into(),
                });
            }
            prev = o;
        }
        if offsets.first() != Some(&0) || prev as usize != items.len() {
            return Err(Error::BadSection {
                at: here,
                reason: "neighbour offsets do not cover the lists".into(),
            });
        }
        if let Some(i) = items.iter().position(|&it| it as usize >= n) {
            return Err(Error::BadSection {
                at: here,
                reason: format!("neighbour {i} points at item {} of {n}", items[i]),
            });
        }
        if let Some(i) = weights.iter().position(|&h| h & 0x7c00 == 0x7c00) {
            return Err(Error::NonFinite {
                at: here,
                index: i as u64,
            });
        }
    }
    if let Some(b) = layout.section(bytes, Kind::Segments) {
        let here = loc(Kind::Segments);
        let k = le_u32(b, 0).ok_or_else(|| short(&here, 16, b.len()))? as usize;
        let sd = le_u32(b, 4).ok_or_else(|| short(&here, 16, b.len()))? as usize;
        let want = k
            .checked_mul(sd)
            .and_then(|v| v.checked_mul(4))
            .and_then(|v| v.checked_add(16))
            .ok_or(Error::SizeOverflow { what: "segments" })?;
        if sd != dim || k == 0 || b.len() != want {
            return Err(Error::BadSection {
                at: here,
                reason: format!(
                    "{k} centroids of dim {sd} in {} bytes; model dim is {dim}",
                    b.len()
                ),
            });
        }
        check_reserved(b, 8..16, &here, "SEGMENTS bytes 8..16")?;
        // Centroids stand in for the user at cold start: the user range applies.
        check_bounded(
            cast(b.get(16..).unwrap_or(&[]), &here)?,
            MAX_USER_ABS,
            MAX_USER_ABS_TEXT,
            &here,
        )?;
        if layout.has(Kind::SegmentNames) {
            let t = StringTable::parse(need(Kind::SegmentNames)?, &loc(Kind::SegmentNames))?;
            if t.len() != k {
                return Err(Error::BadSection {
                    at: loc(Kind::SegmentNames),
                    reason: format!("{} names for {k} segments", t.len()),
                });
            }
        }
    }
    super::placements::validate(n, |k| layout.section(bytes, k).map(|b| (b, loc(k))))?;
    if let Some(b) = layout.section(bytes, Kind::Ranker) {
        super::ranker::decode(b)?;
    }
    if let Some(b) = layout.section(bytes, Kind::Behaviour) {
        super::behaviour::decode(b)?;
    }
    super::shard::validate(bytes, layout)?;
    Ok(())
}

fn bad_pad(here: &At, row: usize) -> Error {
    Error::BadSection {
        at: here.clone(),
        reason: format!("row {row} has non-zero padding past dim"),
    }
}
