//! Sharded bundles: catalogues too large for one page load (1M items is
//! ~92 MB even in int8, 10M ~1 GB) are split into a small **head** bundle and
//! **factor shards**, each shard a complete, self-describing `.vtr` bundle of
//! its items. The head is itself a valid bundle (the most popular items with
//! their factors, so cold start and a first recommendation need nothing
//! else; the Gram matrix for fold-in; every category name) plus a
//! SHARD_TABLE section listing the shards. Each shard carries a SHARD_INFO
//! section naming the model and its place in the table. Spec:
//! `docs/format.md#sharded-bundles`.
//!
//! ```text
//! SHARD_TABLE (26, head)  by u32 | count u32 | total_items u64 | 16 B zero
//!                         count × (start u32 | end u32 | category u32 | table_crc32 u32 | bytes u64 | 8 B zero)
//!                         string table: model_id, then per shard: file, first id, last id
//! SHARD_INFO  (27, shard) index u32 | count u32 | start u32 | end u32 | category u32 | by u32 | 8 B zero
//!                         string table: model_id
//! ```
//!
//! Why the shard's *table* CRC pins the whole file: the table holds every
//! section's CRC-32 and the table CRC covers the table and the header, and
//! a load verifies every section against its table entry (padding and the
//! reserved header bytes must be zero). So a shard that loads and whose
//! header carries the head's table CRC and byte length is, up to CRC
//! collisions, the file the head was written with, without hashing the
//! file a second time.
//!
//! Shards split the catalogue either **by id range** (items in byte order of
//! their ids, cut where a shard would pass `max_shard_bytes`: any id maps to
//! one shard by binary search on the first/last ids) or **by category**
//! (items grouped by category, each group in id order and cut the same way:
//! a query filtered to some categories needs only their shards).
//!
//! Every read of untrusted bytes goes through `.get(..)` and checked
//! arithmetic, as in [`super::read`].

use super::read::{BundleLayout, FactorsView};
use super::{strings, Dtype, Kind, StringTable};
use crate::error::{At, Error, Result};
use std::borrow::Cow;

/// Category value of a shard (or an item) that has none.
pub const NO_CATEGORY: u32 = u32::MAX;
const TABLE_HEADER: usize = 32;
const TABLE_ENTRY: usize = 32;
const INFO_LEN: usize = 32;

/// How the items are split into shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardBy {
    /// Contiguous ranges of ids in byte order.
    Range,
    /// One or more shards per category (items without one share a group).
    Category,
}

impl ShardBy {
    pub fn code(self) -> u32 {
        match self {
            ShardBy::Range => 0,
            ShardBy::Category => 1,
        }
    }
    pub fn from_code(c: u32) -> Option<Self> {
        match c {
            0 => Some(ShardBy::Range),
            1 => Some(ShardBy::Category),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ShardBy::Range => "range",
            ShardBy::Category => "category",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "range" | "id" | "id-range" => Some(ShardBy::Range),
            "category" => Some(ShardBy::Category),
            _ => None,
        }
    }
}

/// One row of the head's SHARD_TABLE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardEntry {
    /// Rows `start..end` of the sharded order (shard `i + 1` starts where `i` ends).
    pub start: u32,
    pub end: u32,
    /// Index into the head's CATEGORY_NAMES, or [`NO_CATEGORY`].
    pub category: u32,
    /// The shard file's header table CRC (see the module doc for why this suffices).
    pub table_crc32: u32,
    /// The shard file's length in bytes.
    pub bytes: u64,
    /// File name, relative to the head's location.
    pub file: String,
    /// Smallest and largest id in the shard, in byte order.
    pub first_id: String,
    pub last_id: String,
}

/// The decoded SHARD_TABLE of a head bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardTable {
    pub by: ShardBy,
    pub model_id: String,
    pub total_items: u64,
    pub shards: Vec<ShardEntry>,
}

/// The decoded SHARD_INFO of a shard bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
    pub start: u32,
    pub end: u32,
    pub category: u32,
    pub by: ShardBy,
    pub model_id: String,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at.checked_add(8)?)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
}

fn bad(section: &'static str, offset: u64, reason: impl Into<String>) -> Error {
    Error::BadSection {
        at: At { section, offset },
        reason: reason.into(),
    }
}

fn reserved(b: &[u8], r: std::ops::Range<usize>, at: &At, what: &'static str) -> Result<()> {
    let start = r.start;
    match b.get(r) {
        Some(z) => match z.iter().position(|&x| x != 0) {
            Some(i) => Err(Error::ReservedNotZero {
                at: At {
                    section: at.section,
                    offset: at.offset.saturating_add((start + i) as u64),
                },
                what,
            }),
            None => Ok(()),
        },
        None => Err(bad(
            at.section,
            at.offset,
            format!("truncated at byte {start}"),
        )),
    }
}

/// A file name a head may name: a plain name, so that resolving it against
/// the head's URL or directory can never leave that directory.
fn safe_file_name(f: &str) -> bool {
    !f.is_empty()
        && f.len() <= 255
        && !f.starts_with('.')
        && f.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Decodes and checks a SHARD_TABLE section found at file offset `offset`
/// of a head whose CATEGORY_NAMES holds `n_categories` names.
pub fn decode_table(b: &[u8], offset: u64, n_categories: usize) -> Result<ShardTable> {
    let name = Kind::ShardTable.name();
    let here = At {
        section: name,
        offset,
    };
    // Static reasons and one formatting site (`of_shard`): every format!
    // here is wasm code that each page downloads.
    let err = |reason: &'static str| bad(name, offset, reason);
    let of_shard = |i: usize, what: &'static str| bad(name, offset, format!("shard {i}: {what}"));
    if b.len() < TABLE_HEADER {
        return Err(err("shorter than its 32-byte header"));
    }
    let by_code = u32_at(b, 0).unwrap_or(u32::MAX);
    let by = ShardBy::from_code(by_code).ok_or_else(|| err("unknown split (bytes 0..4)"))?;
    let count = u32_at(b, 4).unwrap_or(0);
    let total_items = u64_at(b, 8).unwrap_or(0);
    reserved(b, 16..32, &here, "SHARD_TABLE bytes 16..32")?;
    if count == 0 {
        return Err(err("no shards"));
    }
    let n = count as usize;
    let entries_end = n
        .checked_mul(TABLE_ENTRY)
        .and_then(|e| e.checked_add(TABLE_HEADER))
        .ok_or(Error::SizeOverflow {
            what: "SHARD_TABLE entries",
        })?;
    let entries = b
        .get(TABLE_HEADER..entries_end)
        .ok_or_else(|| err("shorter than its entries"))?;
    let names = StringTable::parse(
        b.get(entries_end..).unwrap_or(&[]),
        &At {
            section: name,
            offset: offset.saturating_add(entries_end as u64),
        },
    )?;
    let want = n
        .checked_mul(3)
        .and_then(|v| v.checked_add(1))
        .ok_or(Error::SizeOverflow {
            what: "SHARD_TABLE strings",
        })?;
    if names.len() != want {
        return Err(err(
            "wrong number of strings: the model id, then file, first and last id per shard",
        ));
    }
    let model_id = names.get(0).unwrap_or("").to_string();
    if model_id.is_empty() {
        return Err(err("empty model_id"));
    }
    let mut shards = Vec::with_capacity(n);
    let mut prev_end = 0u32;
    for i in 0..n {
        let e = i * TABLE_ENTRY;
        let start = u32_at(entries, e).unwrap_or(0);
        let end = u32_at(entries, e + 4).unwrap_or(0);
        let category = u32_at(entries, e + 8).unwrap_or(0);
        let table_crc32 = u32_at(entries, e + 12).unwrap_or(0);
        let bytes = u64_at(entries, e + 16).unwrap_or(0);
        reserved(
            entries,
            e + 24..e + 32,
            &At {
                section: name,
                offset: offset.saturating_add((TABLE_HEADER + e) as u64),
            },
            "SHARD_TABLE entry bytes 24..32",
        )?;
        if start != prev_end || end <= start {
            return Err(of_shard(
                i,
                "its rows must start where the previous shard's end, and be at least one",
            ));
        }
        if category != NO_CATEGORY && category as usize >= n_categories {
            return Err(of_shard(i, "a category the head has no name for"));
        }
        if bytes < super::HEADER_LEN as u64 {
            return Err(of_shard(i, "fewer bytes than a header"));
        }
        let s = |k: usize| names.get(1 + 3 * i + k).unwrap_or("").to_string();
        let (file, first_id, last_id) = (s(0), s(1), s(2));
        if !safe_file_name(&file) {
            return Err(of_shard(
                i,
                "the file name must be plain (letters, digits, - _ .; not starting with .)",
            ));
        }
        if first_id.as_bytes() > last_id.as_bytes() {
            return Err(of_shard(i, "first id after last id"));
        }
        prev_end = end;
        shards.push(ShardEntry {
            start,
            end,
            category,
            table_crc32,
            bytes,
            file,
            first_id,
            last_id,
        });
    }
    if u64::from(prev_end) != total_items {
        return Err(err("the shards' rows do not add up to total_items"));
    }
    Ok(ShardTable {
        by,
        model_id,
        total_items,
        shards,
    })
}

/// Decodes and checks a SHARD_INFO section of a bundle of `n_items` items.
pub fn decode_info(b: &[u8], offset: u64, n_items: usize) -> Result<ShardInfo> {
    let name = Kind::ShardInfo.name();
    let here = At {
        section: name,
        offset,
    };
    let err = |reason: &'static str| bad(name, offset, reason);
    if b.len() < INFO_LEN {
        return Err(err("shorter than its 32-byte header"));
    }
    let index = u32_at(b, 0).unwrap_or(0);
    let count = u32_at(b, 4).unwrap_or(0);
    let start = u32_at(b, 8).unwrap_or(0);
    let end = u32_at(b, 12).unwrap_or(0);
    let category = u32_at(b, 16).unwrap_or(0);
    let by_code = u32_at(b, 20).unwrap_or(u32::MAX);
    reserved(b, 24..32, &here, "SHARD_INFO bytes 24..32")?;
    let by = ShardBy::from_code(by_code).ok_or_else(|| err("unknown split (bytes 20..24)"))?;
    if index >= count {
        return Err(err("shard index not below the shard count"));
    }
    if end.checked_sub(start).map(|d| d as usize) != Some(n_items) {
        return Err(err("its rows are not as many as the bundle's items"));
    }
    let names = StringTable::parse(
        b.get(INFO_LEN..).unwrap_or(&[]),
        &At {
            section: name,
            offset: offset.saturating_add(INFO_LEN as u64),
        },
    )?;
    let model_id = match (names.len(), names.get(0)) {
        (1, Some(m)) if !m.is_empty() => m.to_string(),
        _ => return Err(err("the string table must hold exactly the model_id")),
    };
    Ok(ShardInfo {
        index,
        count,
        start,
        end,
        category,
        by,
        model_id,
    })
}

/// Load-time check of the shard sections a bundle carries (called by
/// `read::parse`, so a malformed one is refused like any other section).
pub(crate) fn validate(bytes: &[u8], layout: &BundleLayout) -> Result<()> {
    if let Some((b, off)) = layout.section_at(bytes, Kind::ShardTable) {
        let names = layout.view(bytes).category_names.len();
        decode_table(b, off, names)?;
    }
    if let Some((b, off)) = layout.section_at(bytes, Kind::ShardInfo) {
        decode_info(b, off, layout.n_items)?;
    }
    Ok(())
}

/// The SHARD_TABLE of a parsed head bundle, if it is one.
pub fn table_of(bytes: &[u8], layout: &BundleLayout) -> Result<Option<ShardTable>> {
    match layout.section_at(bytes, Kind::ShardTable) {
        Some((b, off)) => decode_table(b, off, layout.view(bytes).category_names.len()).map(Some),
        None => Ok(None),
    }
}

/// The SHARD_INFO of a parsed shard bundle, if it is one.
pub fn info_of(bytes: &[u8], layout: &BundleLayout) -> Result<Option<ShardInfo>> {
    match layout.section_at(bytes, Kind::ShardInfo) {
        Some((b, off)) => decode_info(b, off, layout.n_items).map(Some),
        None => Ok(None),
    }
}

/// The shard's header table CRC (bytes 32..36).
fn header_table_crc(bytes: &[u8]) -> Option<u32> {
    u32_at(bytes, 32)
}

/// Checks that `shard` (already parsed, so every section matched its CRC)
/// is shard `index` of the head `table`: same model, same place, same file.
/// Anything else is `SHARD_MISMATCH` naming what differs: a stale cached
/// copy, a shard of another model, a corrupted or replaced file.
pub fn check_shard(
    table: &ShardTable,
    index: u32,
    shard: &[u8],
    layout: &BundleLayout,
) -> Result<()> {
    let mismatch = |reason: String| Error::ShardMismatch {
        shard: index,
        reason,
    };
    let entry = table.shards.get(index as usize).ok_or_else(|| {
        mismatch(format!(
            "the head lists {} shards, there is no shard {index}",
            table.shards.len()
        ))
    })?;
    let info = info_of(shard, layout)?
        .ok_or_else(|| mismatch("the file has no SHARD_INFO section: not a shard".into()))?;
    if info.model_id != table.model_id {
        return Err(mismatch(format!(
            "the shard belongs to model {}, the head to {}",
            crate::error::Quoted(&info.model_id),
            crate::error::Quoted(&table.model_id)
        )));
    }
    if info.index != index || info.count as usize != table.shards.len() {
        return Err(mismatch(format!(
            "the file is shard {} of {}, expected {index} of {}",
            info.index,
            info.count,
            table.shards.len()
        )));
    }
    if shard.len() as u64 != entry.bytes {
        return Err(mismatch(format!(
            "{} bytes, the head says {}",
            shard.len(),
            entry.bytes
        )));
    }
    let crc = header_table_crc(shard).unwrap_or(0);
    if crc != entry.table_crc32 {
        return Err(mismatch(format!(
            "table checksum {crc:08x}, the head says {:08x} (another export of the same model?)",
            entry.table_crc32
        )));
    }
    if (info.start, info.end, info.category, info.by)
        != (entry.start, entry.end, entry.category, table.by)
    {
        return Err(mismatch(format!(
            "rows {}..{} category {} differ from the head's {}..{} category {}",
            info.start, info.end, info.category, entry.start, entry.end, entry.category
        )));
    }
    Ok(())
}

// ---- writing -----------------------------------------------------------------

/// What [`write_sharded`] needs from a catalogue: a bundle read from disk
/// ([`BundleSource`]) or one generated item by item ([`SynthSource`], for
/// catalogues too large to hold as one bundle).
pub trait Source {
    fn n_items(&self) -> usize;
    fn dim(&self) -> usize;
    fn dtype(&self) -> Dtype;
    fn columns(&self) -> Columns;
    fn category_names(&self) -> Vec<String>;
    /// Item indices in byte order of their ids.
    fn id_order(&self) -> Vec<u32>;
    fn id(&self, i: usize) -> Cow<'_, str>;
    fn category(&self, i: usize) -> u32;
    fn popularity(&self, i: usize) -> f32;
    /// Bytes item `i` adds to a bundle (every per-item column).
    fn item_bytes(&self, i: usize) -> u64;
    /// Appends item `i` to every present column.
    fn append(&self, i: usize, to: &mut Cols);
    fn meta(&self) -> Vec<(String, String)>;
    /// Sections that concern the whole model, not items (GRAM, SEGMENTS,
    /// RANKER, BEHAVIOUR): copied into the head as they are.
    fn head_sections(&self) -> Vec<(Kind, bool, Vec<u8>)>;
    /// A stable identity for the model when its META has no `model_id`.
    fn fallback_model_id(&self) -> String;
}

/// Which optional per-item columns a catalogue has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Columns {
    pub residual: bool,
    pub bias: bool,
    pub popularity: bool,
    pub category: bool,
    pub price: bool,
    pub price_f64: bool,
    pub flags: bool,
    pub titles: bool,
}

/// Per-item columns of a bundle being written, as section bytes.
#[derive(Debug, Default)]
pub struct Cols {
    pub ids: Vec<String>,
    pub factors: Vec<u8>,
    pub scales: Vec<u8>,
    pub residual: Vec<u8>,
    pub bias: Vec<u8>,
    pub popularity: Vec<u8>,
    pub category: Vec<u8>,
    pub price: Vec<u8>,
    pub price_f64: Vec<u8>,
    pub flags: Vec<u8>,
    pub titles: Vec<String>,
}

/// A bundle read from disk (validated by [`super::parse`]).
pub struct BundleSource<'a> {
    bytes: &'a [u8],
    layout: &'a BundleLayout,
    view: super::BundleView<'a>,
}

impl<'a> BundleSource<'a> {
    /// Refuses bundles that are themselves heads or shards.
    pub fn new(bytes: &'a [u8], layout: &'a BundleLayout) -> Result<Self> {
        if layout.has(Kind::ShardTable) || layout.has(Kind::ShardInfo) {
            return Err(Error::invalid(
                "this bundle is already a shard head or a shard; shard the original bundle",
            ));
        }
        Ok(BundleSource {
            bytes,
            layout,
            view: layout.view(bytes),
        })
    }

    fn row_bytes(&self) -> usize {
        self.layout.stride * self.layout.dtype.elem_bytes()
    }
}

fn le_f32s(v: &[f32], i: usize) -> [u8; 4] {
    v.get(i).copied().unwrap_or(0.0).to_le_bytes()
}

impl Source for BundleSource<'_> {
    fn n_items(&self) -> usize {
        self.layout.n_items
    }
    fn dim(&self) -> usize {
        self.layout.dim
    }
    fn dtype(&self) -> Dtype {
        self.layout.dtype
    }
    fn columns(&self) -> Columns {
        let v = &self.view;
        Columns {
            residual: matches!(
                v.factors,
                FactorsView::I8 {
                    residual: Some(_),
                    ..
                }
            ),
            bias: v.bias.is_some(),
            popularity: v.popularity.is_some(),
            category: v.category.is_some(),
            price: v.price.is_some(),
            price_f64: v.price_f64.is_some(),
            flags: v.flags.is_some(),
            titles: v.titles.is_some(),
        }
    }
    fn category_names(&self) -> Vec<String> {
        self.view
            .category_names
            .iter()
            .map(str::to_string)
            .collect()
    }
    fn id_order(&self) -> Vec<u32> {
        self.view.id_index.to_vec()
    }
    fn id(&self, i: usize) -> Cow<'_, str> {
        Cow::Borrowed(self.view.ids.get(i).unwrap_or(""))
    }
    fn category(&self, i: usize) -> u32 {
        self.view
            .category
            .and_then(|c| c.get(i).copied())
            .unwrap_or(NO_CATEGORY)
    }
    fn popularity(&self, i: usize) -> f32 {
        self.view
            .popularity
            .and_then(|p| p.get(i).copied())
            .unwrap_or(0.0)
    }
    fn item_bytes(&self, i: usize) -> u64 {
        let c = self.columns();
        let s = self.layout.stride;
        let mut b = self.row_bytes() + 8 + self.id(i).len();
        if self.layout.dtype == Dtype::I8 {
            b += 4 + if c.residual { s } else { 0 };
        }
        b += 4 * usize::from(c.bias) + 4 * usize::from(c.popularity) + 4 * usize::from(c.category);
        b += 4 * usize::from(c.price) + 8 * usize::from(c.price_f64) + usize::from(c.flags);
        if let Some(t) = self.view.titles {
            b += 4 + t.get(i).map_or(0, str::len);
        }
        b as u64
    }
    fn append(&self, i: usize, to: &mut Cols) {
        let v = &self.view;
        to.ids.push(self.id(i).into_owned());
        let rb = self.row_bytes();
        let s = self.layout.stride;
        let row = |b: &[u8], w: usize| b.get(i * w..(i + 1) * w).unwrap_or(&[]).to_vec();
        match v.factors {
            FactorsView::F32(f) => to
                .factors
                .extend_from_slice(&row(bytemuck::cast_slice(f), rb)),
            FactorsView::F16(f) => to
                .factors
                .extend_from_slice(&row(bytemuck::cast_slice(f), rb)),
            FactorsView::I8 {
                q,
                scales,
                residual,
            } => {
                to.factors
                    .extend_from_slice(&row(bytemuck::cast_slice(q), s));
                to.scales.extend_from_slice(&le_f32s(scales, i));
                if let Some(r) = residual {
                    to.residual
                        .extend_from_slice(&row(bytemuck::cast_slice(r), s));
                }
            }
        }
        if let Some(b) = v.bias {
            to.bias.extend_from_slice(&le_f32s(b, i));
        }
        if let Some(p) = v.popularity {
            to.popularity.extend_from_slice(&le_f32s(p, i));
        }
        if v.category.is_some() {
            to.category
                .extend_from_slice(&self.category(i).to_le_bytes());
        }
        if let Some(p) = v.price {
            to.price.extend_from_slice(&le_f32s(p, i));
        }
        if let Some(p) = v.price_f64 {
            to.price_f64
                .extend_from_slice(&p.get(i).copied().unwrap_or(f64::NAN).to_le_bytes());
        }
        if let Some(f) = v.flags {
            to.flags.push(f.get(i).copied().unwrap_or(0));
        }
        if let Some(t) = v.titles {
            to.titles.push(t.get(i).unwrap_or("").to_string());
        }
    }
    fn meta(&self) -> Vec<(String, String)> {
        let m = self.view.meta;
        (0..m.len() / 2)
            .map(|i| {
                (
                    m.get(2 * i).unwrap_or("").to_string(),
                    m.get(2 * i + 1).unwrap_or("").to_string(),
                )
            })
            .collect()
    }
    fn head_sections(&self) -> Vec<(Kind, bool, Vec<u8>)> {
        [
            Kind::Gram,
            Kind::Segments,
            Kind::SegmentNames,
            Kind::Ranker,
            Kind::Behaviour,
        ]
        .into_iter()
        .filter_map(|k| {
            self.layout
                .section_at(self.bytes, k)
                .map(|(b, _)| (k, false, b.to_vec()))
        })
        .collect()
    }
    fn fallback_model_id(&self) -> String {
        format!(
            "vtr-{:08x}-{}",
            header_table_crc(self.bytes).unwrap_or(0),
            self.bytes.len()
        )
    }
}

/// A synthetic catalogue generated item by item (ids `item-<n>` zero padded
/// to 9 digits so that index order is id order, Gaussian-like factors,
/// `categories` categories, Zipf-like popularity, all in stock): a 10M-item
/// sharded bundle without ever holding a 1 GB bundle in memory.
pub struct SynthSource {
    pub n: usize,
    pub dim: usize,
    pub dtype: Dtype,
    pub categories: usize,
    pub seed: u64,
}

impl SynthSource {
    fn rng(&self, i: usize, salt: u64) -> crate::rng::Rng {
        crate::rng::Rng::new(
            self.seed
                ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03),
        )
    }
    fn row(&self, i: usize) -> Vec<f32> {
        let mut r = self.rng(i, 1);
        // Sum of four uniforms: close enough to Gaussian for a benchmark.
        (0..self.dim)
            .map(|_| (r.uniform() + r.uniform() + r.uniform() + r.uniform() - 2.0) * 0.5)
            .collect()
    }
}

impl Source for SynthSource {
    fn n_items(&self) -> usize {
        self.n
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn columns(&self) -> Columns {
        Columns {
            popularity: true,
            category: self.categories > 0,
            flags: true,
            ..Columns::default()
        }
    }
    fn category_names(&self) -> Vec<String> {
        (0..self.categories).map(|c| format!("cat-{c}")).collect()
    }
    fn id_order(&self) -> Vec<u32> {
        (0..super::index_u32(self.n)).collect()
    }
    fn id(&self, i: usize) -> Cow<'_, str> {
        Cow::Owned(format!("item-{i:09}"))
    }
    fn category(&self, i: usize) -> u32 {
        if self.categories == 0 {
            return NO_CATEGORY;
        }
        u32::try_from(self.rng(i, 2).next_u64() % self.categories as u64).unwrap_or(NO_CATEGORY)
    }
    fn popularity(&self, i: usize) -> f32 {
        // Zipf-like: rank drawn uniformly, weight 1 / rank.
        let u = self.rng(i, 3).uniform();
        1.0 / (1.0 + u * self.n as f32)
    }
    fn item_bytes(&self, _i: usize) -> u64 {
        let s = super::stride_for(self.dim);
        let row = s * self.dtype.elem_bytes() + if self.dtype == Dtype::I8 { 4 } else { 0 };
        (row + 8 + 14 + 4 + 4 + 1) as u64
    }
    fn append(&self, i: usize, to: &mut Cols) {
        to.ids.push(self.id(i).into_owned());
        let row = self.row(i);
        let s = super::stride_for(self.dim);
        match self.dtype {
            Dtype::F32 => {
                to.factors.extend(row.iter().flat_map(|x| x.to_le_bytes()));
                to.factors.resize(to.factors.len() + (s - self.dim) * 4, 0);
            }
            Dtype::F16 => {
                to.factors
                    .extend(row.iter().flat_map(|&x| super::f32_to_f16(x).to_le_bytes()));
                to.factors.resize(to.factors.len() + (s - self.dim) * 2, 0);
            }
            Dtype::I8 => {
                let mut q = vec![0i8; self.dim];
                let scale = super::write::quantize_row_i8(&row, &mut q);
                to.factors.extend(q.iter().map(|&v| v.to_le_bytes()[0]));
                to.factors.resize(to.factors.len() + (s - self.dim), 0);
                to.scales.extend_from_slice(&scale.to_le_bytes());
            }
        }
        to.popularity
            .extend_from_slice(&self.popularity(i).to_le_bytes());
        if self.categories > 0 {
            to.category
                .extend_from_slice(&self.category(i).to_le_bytes());
        }
        to.flags.push(super::read::ITEM_IN_STOCK);
    }
    fn meta(&self) -> Vec<(String, String)> {
        vec![
            (
                "trainer".into(),
                "synthetic (vitrine shard --synth-items)".into(),
            ),
            ("seed".into(), self.seed.to_string()),
        ]
    }
    fn head_sections(&self) -> Vec<(Kind, bool, Vec<u8>)> {
        Vec::new()
    }
    fn fallback_model_id(&self) -> String {
        format!(
            "synth-{}x{}-{}-s{}",
            self.n,
            self.dim,
            self.dtype.name(),
            self.seed
        )
    }
}

/// Options of [`write_sharded`].
#[derive(Debug, Clone)]
pub struct ShardOptions {
    pub by: ShardBy,
    /// No shard file is larger than this.
    pub max_shard_bytes: u64,
    /// The head holds the `head_items` most popular items, plus the
    /// `head_items / 10` most popular of each category (so a category
    /// filter finds cold-start items in the head).
    pub head_items: usize,
    /// Overrides the source's model id.
    pub model_id: Option<String>,
}

/// What [`write_sharded`] wrote.
#[derive(Debug, Clone)]
pub struct ShardSummary {
    pub model_id: String,
    pub head_items: usize,
    pub head_bytes: u64,
    pub table: ShardTable,
}

/// Bytes every bundle has besides its per-item columns: header, a table of
/// up to 16 sections, alignment padding, META, CATEGORY_NAMES, SHARD_INFO
/// and the string tables' fixed words.
fn fixed_bytes(meta: &[u8], names: &[u8]) -> u64 {
    (64 + 32 * 16 + 64 * 16 + 64 + 16 * 8) as u64 + meta.len() as u64 + names.len() as u64 + 256
}

fn meta_bytes(meta: &[(String, String)]) -> Result<Vec<u8>> {
    let kv: Vec<&str> = meta
        .iter()
        .flat_map(|(k, v)| [k.as_str(), v.as_str()])
        .collect();
    strings::encode(&kv)
}

/// Lays out one bundle (head or shard) from its columns.
fn bundle_of(
    src: &dyn Source,
    cols: Cols,
    meta: &[u8],
    names: &[u8],
    extra: Vec<(Kind, bool, Vec<u8>)>,
) -> Result<Vec<u8>> {
    let n = cols.ids.len();
    let c = src.columns();
    let dim = src.dim();
    let u =
        |v: usize, what: &'static str| u32::try_from(v).map_err(|_| Error::SizeOverflow { what });
    let mut model = Vec::with_capacity(32);
    for v in [
        u(n, "item count")?,
        u(dim, "dim")?,
        u(super::stride_for(dim), "stride")?,
        src.dtype().code(),
    ] {
        model.extend_from_slice(&v.to_le_bytes());
    }
    model.resize(32, 0);
    let mut order: Vec<u32> = (0..u(n, "item count")?).collect();
    order.sort_unstable_by(|&a, &b| {
        let (x, y) = (&cols.ids[a as usize], &cols.ids[b as usize]);
        super::cmp_bytes(x.as_bytes(), y.as_bytes())
    });
    let mut s: Vec<(Kind, bool, Vec<u8>)> = vec![
        (Kind::Model, true, model),
        (Kind::Meta, false, meta.to_vec()),
        (Kind::ItemIds, true, strings::encode(&cols.ids)?),
        (
            Kind::IdIndex,
            true,
            order.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
        (Kind::Factors, true, cols.factors),
    ];
    if src.dtype() == Dtype::I8 {
        s.push((Kind::Scales, true, cols.scales));
        if c.residual {
            s.push((Kind::Residual, false, cols.residual));
        }
    }
    let opt = [
        (c.bias, Kind::Bias, cols.bias),
        (c.popularity, Kind::Popularity, cols.popularity),
        (c.category, Kind::Category, cols.category),
    ];
    for (present, k, b) in opt {
        if present {
            s.push((k, false, b));
        }
    }
    if c.category || !names.is_empty() {
        s.push((Kind::CategoryNames, false, names.to_vec()));
    }
    let opt = [
        (c.price, Kind::Price, cols.price),
        (c.price_f64, Kind::PriceF64, cols.price_f64),
        (c.flags, Kind::Flags, cols.flags),
    ];
    for (present, k, b) in opt {
        if present {
            s.push((k, false, b));
        }
    }
    if c.titles {
        s.push((Kind::Titles, false, strings::encode(&cols.titles)?));
    }
    s.extend(extra);
    Ok(super::write::assemble(&s))
}

/// Splits `src` into shards and a head, handing each file (name, bytes) to
/// `out` as it is made (shards first, the head last, since it lists their
/// checksums), so at most one shard is in memory at a time. Every file is
/// parsed back before it is handed over: what is written loads.
pub fn write_sharded(
    src: &dyn Source,
    opts: &ShardOptions,
    out: &mut dyn FnMut(&str, &[u8]) -> std::io::Result<()>,
) -> Result<ShardSummary> {
    let n = src.n_items();
    if n == 0 {
        return Err(Error::invalid("the catalogue has no items"));
    }
    let names_list = src.category_names();
    let names = strings::encode(&names_list)?;
    let mut meta = src.meta();
    let model_id = match (&opts.model_id, meta.iter().find(|(k, _)| k == "model_id")) {
        (Some(id), _) => id.clone(),
        (None, Some((_, v))) if !v.is_empty() => v.clone(),
        _ => src.fallback_model_id(),
    };
    if model_id.is_empty() || model_id.len() > 200 || model_id.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "model id {} must be 1 to 200 bytes without control characters",
            crate::error::Quoted(&model_id)
        )));
    }
    meta.retain(|(k, _)| k != "model_id");
    meta.push(("model_id".into(), model_id.clone()));
    let meta_b = meta_bytes(&meta)?;
    let fixed = fixed_bytes(&meta_b, &names).saturating_add(model_id.len() as u64);
    if opts.max_shard_bytes <= fixed {
        return Err(Error::invalid(format!(
            "--max-shard-bytes {} leaves no room for items: a shard's fixed part is ~{fixed} bytes",
            opts.max_shard_bytes
        )));
    }

    // The sharded order: id order, grouped by category when asked.
    let mut order = src.id_order();
    if opts.by == ShardBy::Category {
        order.sort_by_key(|&i| src.category(i as usize));
    }
    // Cut: a new shard where the category changes or the size would pass the maximum.
    let group = |i: u32| {
        if opts.by == ShardBy::Category {
            src.category(i as usize)
        } else {
            NO_CATEGORY
        }
    };
    let mut cuts: Vec<(usize, usize, u32)> = Vec::new();
    let (mut start, mut size) = (0usize, fixed);
    for (pos, &i) in order.iter().enumerate() {
        let b = src.item_bytes(i as usize);
        if fixed.saturating_add(b) > opts.max_shard_bytes {
            return Err(Error::invalid(format!(
                "item {} needs {b} bytes, more than --max-shard-bytes {} minus the ~{fixed} bytes every shard has",
                crate::error::Quoted(&src.id(i as usize)),
                opts.max_shard_bytes
            )));
        }
        let prev = pos.checked_sub(1).and_then(|p| order.get(p)).copied();
        let new_group = prev.is_some_and(|p| group(p) != group(i));
        if pos > start && (new_group || size.saturating_add(b) > opts.max_shard_bytes) {
            cuts.push((start, pos, group(order[start])));
            start = pos;
            size = fixed;
        }
        size = size.saturating_add(b);
    }
    cuts.push((start, order.len(), group(order[start])));
    let count = u32::try_from(cuts.len()).map_err(|_| Error::SizeOverflow {
        what: "shard count",
    })?;
    let width = cuts.len().to_string().len().max(4);

    let mut entries = Vec::with_capacity(cuts.len());
    for (k, &(a, b, cat)) in cuts.iter().enumerate() {
        let mut cols = Cols::default();
        for &i in &order[a..b] {
            src.append(i as usize, &mut cols);
        }
        let (first_id, last_id) = (
            cols.ids
                .iter()
                .min_by(|x, y| x.as_bytes().cmp(y.as_bytes()))
                .cloned(),
            cols.ids
                .iter()
                .max_by(|x, y| x.as_bytes().cmp(y.as_bytes()))
                .cloned(),
        );
        let (start, end) = (super::index_u32(a), super::index_u32(b));
        let mut info = Vec::with_capacity(64);
        for v in [super::index_u32(k), count, start, end, cat, opts.by.code()] {
            info.extend_from_slice(&v.to_le_bytes());
        }
        info.resize(INFO_LEN, 0);
        info.extend(strings::encode(&[model_id.as_str()])?);
        let bytes = bundle_of(
            src,
            cols,
            &meta_b,
            &names,
            vec![(Kind::ShardInfo, false, info)],
        )?;
        if bytes.len() as u64 > opts.max_shard_bytes {
            return Err(Error::invalid(format!(
                "shard {k} came out at {} bytes, past --max-shard-bytes {} (a bug in the size estimate)",
                bytes.len(),
                opts.max_shard_bytes
            )));
        }
        super::parse(&bytes)?;
        let file = format!("shard-{k:0width$}.vtr");
        out(&file, &bytes).map_err(|e| Error::invalid(format!("cannot write {file}: {e}")))?;
        entries.push(ShardEntry {
            start,
            end,
            category: cat,
            table_crc32: header_table_crc(&bytes).unwrap_or(0),
            bytes: bytes.len() as u64,
            file,
            first_id: first_id.unwrap_or_default(),
            last_id: last_id.unwrap_or_default(),
        });
    }
    let table = ShardTable {
        by: opts.by,
        model_id: model_id.clone(),
        total_items: n as u64,
        shards: entries,
    };

    // Head: the most popular items overall, and of each category.
    let mut by_pop: Vec<u32> = order.clone();
    by_pop.sort_by(|&a, &b| {
        src.popularity(b as usize)
            .total_cmp(&src.popularity(a as usize))
            .then(a.cmp(&b))
    });
    let per_cat = opts.head_items / 10;
    let mut taken = vec![0usize; names_list.len()];
    let mut head: Vec<u32> = Vec::new();
    for (rank, &i) in by_pop.iter().enumerate() {
        let c = src.category(i as usize) as usize;
        let in_cat = taken.get_mut(c).is_some_and(|t| {
            *t += 1;
            *t <= per_cat
        });
        if rank < opts.head_items || in_cat {
            head.push(i);
        }
    }
    if head.is_empty() {
        head.push(order[0]);
    }
    let mut cols = Cols::default();
    for &i in &head {
        src.append(i as usize, &mut cols);
    }
    let mut extra = src.head_sections();
    extra.push((Kind::ShardTable, false, encode_table(&table)?));
    let head_bytes = bundle_of(src, cols, &meta_b, &names, extra)?;
    super::parse(&head_bytes)?;
    out("head.vtr", &head_bytes)
        .map_err(|e| Error::invalid(format!("cannot write head.vtr: {e}")))?;
    Ok(ShardSummary {
        model_id,
        head_items: head.len(),
        head_bytes: head_bytes.len() as u64,
        table,
    })
}

/// SHARD_TABLE bytes.
pub fn encode_table(t: &ShardTable) -> Result<Vec<u8>> {
    let count = u32::try_from(t.shards.len()).map_err(|_| Error::SizeOverflow {
        what: "shard count",
    })?;
    let mut b = Vec::with_capacity(TABLE_HEADER + TABLE_ENTRY * t.shards.len());
    b.extend_from_slice(&t.by.code().to_le_bytes());
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(&t.total_items.to_le_bytes());
    b.resize(TABLE_HEADER, 0);
    let mut names: Vec<&str> = vec![t.model_id.as_str()];
    for e in &t.shards {
        for v in [e.start, e.end, e.category, e.table_crc32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&e.bytes.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        names.extend([e.file.as_str(), e.first_id.as_str(), e.last_id.as_str()]);
    }
    b.extend(strings::encode(&names)?);
    Ok(b)
}

#[cfg(test)]
#[path = "shard_tests.rs"]
mod tests;
