//! The `.vtr` model bundle, version 1. This module owns every byte: no other
//! module knows an offset. The full spec is `docs/format.md`; the short form:
//!
//! ```text
//! header   64 B   "VITRINE\0" | major u16 | minor u16 | header_len u32 | section_count u32
//!                 | flags u32 | file_len u64 | table_crc32 u32 | 28 B zero
//! table    32 B × section_count: kind u32 | flags u32 | offset u64 | length u64 | crc32 u32 | 0 u32
//! sections each at the next 64-byte boundary after the previous end, zero padding, in table order;
//!          the last section ends exactly at file_len.
//! ```
//! All integers and floats are little-endian. Readers refuse a major version they
//! do not know, skip unknown optional sections and refuse unknown required ones.
//!
//! **Promise:** [`read::parse`] never panics, for any input. It only uses checked
//! arithmetic and `.get(..)` on the untrusted bytes.
// Casts on sizes from untrusted input must be checked (`try_from`); `make lint` denies these.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod aligned;
pub mod behaviour;
pub mod crc32;
mod f16;
pub mod placements;
pub mod ranker;
pub mod read;
pub mod shard;
mod strings;
pub mod write;

pub use aligned::{AlignedBuf, Intake, SectionCrc, EAGER_BYTES};
pub use f16::{f16_to_f32, f32_to_f16};
pub use read::{
    parse, parse_with, BundleLayout, BundleView, FactorsView, Known, NeighboursView, SectionInfo,
};
pub(crate) use strings::cmp_bytes;
pub use strings::StringTable;
pub use write::{write_bundle, write_bundle_file};

pub const MAGIC: [u8; 8] = *b"VITRINE\0";
pub const FORMAT_MAJOR: u16 = 1;
/// 1.1 added the optional RESIDUAL section (older 1.x readers skip it);
/// 1.2 added PRICE_F64, prices exactly as exported (PRICE stays, as f32, for
/// 1.0/1.1 readers).
pub const FORMAT_MINOR: u16 = 2;
pub const HEADER_LEN: usize = 64;
pub const ENTRY_LEN: usize = 32;
/// Every section starts on this boundary so typed views (and SIMD loads) need no copy.
pub const ALIGN: usize = 64;
/// Largest supported factor count; bounds i32 accumulators in the int8 kernel.
pub const MAX_DIM: usize = 4096;
/// RESIDUAL refines an int8 value to `scale × (q + r / RESIDUAL_STEPS)`:
/// r ∈ ±127 covers the ±½ step rounding left, so precision is ~15 bits.
pub const RESIDUAL_STEPS: f32 = 254.0;
/// Table flag: a reader that does not know this section kind must refuse the file.
pub const FLAG_REQUIRED: u32 = 1;
/// The default maximum bundle size a browser load accepts (512 MiB): larger
/// than any bundle a page should download, far below what would exhaust a
/// tab's memory. Callers pass their own maximum to raise it.
pub const DEFAULT_MAX_BUNDLE_BYTES: u64 = 512 << 20;

/// The safety envelope. A bundle loads only if its values are inside these
/// bounds, and the engine scores only user vectors inside
/// [`MAX_USER_ABS`](limits::MAX_USER_ABS); together they keep every score finite
/// in f32 for any dim up to [`MAX_DIM`]:
///
/// ```text
/// |⟨u, y⟩| ≤ MAX_DIM · MAX_USER_ABS · MAX_FACTOR_ABS · (1 + 1/254)  ≈ 4.1e27
/// |score|  ≤ 4.1e27 + MAX_SCORE_TERM                                  ≈ 1.0e30  ≪ f32::MAX ≈ 3.4e38
/// ```
///
/// (the int8 kernel's partial products `dot · scale · user_scale` stay below
/// the same bound). Trained models sit many orders of magnitude inside it:
/// only corrupted or hostile files come near.
pub mod limits {
    /// Largest |value| of a user vector the engine scores (`OUT_OF_RANGE` past it).
    pub const MAX_USER_ABS: f32 = 1e12;
    pub const MAX_USER_ABS_TEXT: &str = "±1e12";
    /// Largest |value| of an f32 factor; f16 factors are bounded by f16 itself.
    pub const MAX_FACTOR_ABS: f32 = 1e12;
    pub const MAX_FACTOR_ABS_TEXT: &str = "±1e12";
    /// Largest int8 row scale: 127.5 steps (RESIDUAL included) stay ≤ MAX_FACTOR_ABS.
    pub const MAX_SCALE: f32 = MAX_FACTOR_ABS / 128.0;
    pub const MAX_SCALE_TEXT: &str = "0..=1e12/128";
    /// Largest |bias| or |popularity|: terms added to (or returned as) a score.
    pub const MAX_SCORE_TERM: f32 = 1e30;
    pub const MAX_SCORE_TERM_TEXT: &str = "±1e30";
    /// Largest |entry| of the Gram matrix, λ and α: a trace over MAX_DIM
    /// entries stays finite in f32.
    pub const MAX_GRAM_ABS: f32 = 1e34;
    pub const MAX_GRAM_ABS_TEXT: &str = "±1e34";
}

/// An item index (< n_items, itself a u32 in MODEL) as the u32 the engine
/// stores; saturates rather than wraps should that ever not hold.
pub fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// The decimal an f32 price stood for: the fewest fraction digits that round
/// to the same f32 (24.99f32 → 24.99, not 24.989999771118164). Exact for any
/// price written with ≤ 7 significant digits, which is what f32 can carry.
/// No float formatting (it would cost ~10 KB of wasm).
pub fn decimal_of_f32(p: f32) -> f64 {
    if !p.is_finite() {
        return f64::from(p);
    }
    let x = f64::from(p);
    let mut pow = 1f64;
    for _ in 0..=9 {
        let c = (x * pow).round() / pow;
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the round trip to f32 is the test"
        )]
        let back = c as f32;
        if back == p {
            return c;
        }
        pow *= 10.0;
    }
    x
}

/// Factor storage type. `I8` stores one f32 scale per row (symmetric, max-abs / 127).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    I8,
}

impl Dtype {
    pub fn code(self) -> u32 {
        match self {
            Dtype::F32 => 0,
            Dtype::F16 => 1,
            Dtype::I8 => 2,
        }
    }
    pub fn from_code(c: u32) -> Option<Self> {
        match c {
            0 => Some(Dtype::F32),
            1 => Some(Dtype::F16),
            2 => Some(Dtype::I8),
            _ => None,
        }
    }
    pub fn elem_bytes(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 => 2,
            Dtype::I8 => 1,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::I8 => "int8",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "f32" => Some(Dtype::F32),
            "f16" => Some(Dtype::F16),
            "int8" | "i8" => Some(Dtype::I8),
            _ => None,
        }
    }
}

/// Section kinds. The numeric values are the on-disk identity and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Model = 1,
    Meta = 2,
    ItemIds = 3,
    IdIndex = 4,
    Factors = 5,
    Scales = 6,
    Bias = 7,
    Popularity = 8,
    Category = 9,
    CategoryNames = 10,
    Price = 11,
    Flags = 12,
    Titles = 13,
    Gram = 14,
    Neighbours = 15,
    Segments = 16,
    SegmentNames = 17,
    Intent = 18,
    Residual = 19,
    PriceF64 = 20,
    CoPurchase = 21,
    Cadence = 22,
    Trending = 23,
    Ranker = 24,
    Behaviour = 25,
    ShardTable = 26,
    ShardInfo = 27,
}

impl Kind {
    pub const ALL: [Kind; 27] = [
        Kind::Model,
        Kind::Meta,
        Kind::ItemIds,
        Kind::IdIndex,
        Kind::Factors,
        Kind::Scales,
        Kind::Bias,
        Kind::Popularity,
        Kind::Category,
        Kind::CategoryNames,
        Kind::Price,
        Kind::Flags,
        Kind::Titles,
        Kind::Gram,
        Kind::Neighbours,
        Kind::Segments,
        Kind::SegmentNames,
        Kind::Intent,
        Kind::Residual,
        Kind::PriceF64,
        Kind::CoPurchase,
        Kind::Cadence,
        Kind::Trending,
        Kind::Ranker,
        Kind::Behaviour,
        Kind::ShardTable,
        Kind::ShardInfo,
    ];

    pub fn from_u32(v: u32) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| *k as u32 == v)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Model => "MODEL",
            Kind::Meta => "META",
            Kind::ItemIds => "ITEM_IDS",
            Kind::IdIndex => "ID_INDEX",
            Kind::Factors => "FACTORS",
            Kind::Scales => "SCALES",
            Kind::Bias => "BIAS",
            Kind::Popularity => "POPULARITY",
            Kind::Category => "CATEGORY",
            Kind::CategoryNames => "CATEGORY_NAMES",
            Kind::Price => "PRICE",
            Kind::Flags => "FLAGS",
            Kind::Titles => "TITLES",
            Kind::Gram => "GRAM",
            Kind::Neighbours => "NEIGHBOURS",
            Kind::Segments => "SEGMENTS",
            Kind::SegmentNames => "SEGMENT_NAMES",
            Kind::Intent => "INTENT",
            Kind::Residual => "RESIDUAL",
            Kind::PriceF64 => "PRICE_F64",
            Kind::CoPurchase => "CO_PURCHASE",
            Kind::Cadence => "CADENCE",
            Kind::Trending => "TRENDING",
            Kind::Ranker => "RANKER",
            Kind::Behaviour => "BEHAVIOUR",
            Kind::ShardTable => "SHARD_TABLE",
            Kind::ShardInfo => "SHARD_INFO",
        }
    }
}

/// Section name for diagnostics, including kinds this reader does not know.
pub fn kind_name(kind: u32) -> &'static str {
    Kind::from_u32(kind).map_or("UNKNOWN", Kind::name)
}

/// The one layout rule shared by reader and writer: where section `i` starts given
/// where the previous one ended. Returns `None` on overflow.
pub fn next_offset(prev_end: u64) -> Option<u64> {
    let a = ALIGN as u64;
    prev_end.checked_add(a - 1).map(|v| v / a * a)
}

/// Where the first section starts for a table of `count` entries.
pub fn data_start(count: u64) -> Option<u64> {
    count
        .checked_mul(ENTRY_LEN as u64)
        .and_then(|t| t.checked_add(HEADER_LEN as u64))
        .and_then(next_offset)
}

/// Everything a trainer hands to the writer. Factors are f32; the writer quantizes.
#[derive(Debug, Default, Clone)]
pub struct BundleParts {
    pub ids: Vec<String>,
    pub dim: usize,
    /// `ids.len() * dim`, row-major.
    pub factors: Vec<f32>,
    /// With [`Dtype::I8`]: also write the RESIDUAL section (a second int8 per
    /// value, ~16-bit precision in total) so the engine can re-score its int8
    /// candidates almost exactly. Doubles the factor bytes; scan speed is the same.
    pub int8_residual: bool,
    pub bias: Option<Vec<f32>>,
    /// Raw interaction weight per item (popularity fallback, priors).
    pub popularity: Option<Vec<f32>>,
    /// Index into `category_names`, per item; `u32::MAX` = no category.
    pub categories: Option<Vec<u32>>,
    pub category_names: Vec<String>,
    /// Per item; NaN = unknown price (never matches a price filter). f64 so
    /// that 24.99 reaches the page as 24.99 (PRICE_F64); producers holding
    /// f32 prices convert with [`decimal_of_f32`].
    pub prices: Option<Vec<f64>>,
    pub in_stock: Option<Vec<bool>>,
    pub titles: Option<Vec<String>>,
    pub gram: Option<Gram>,
    pub neighbours: Option<Neighbours>,
    pub segments: Option<Segments>,
    /// The learned ranker (RANKER section, `format::ranker`).
    pub ranker: Option<crate::ranker::Ranker>,
    /// Behaviour segments (BEHAVIOUR section, `format::behaviour`).
    pub behaviour: Option<crate::shopper::segments::BehaviourSegments>,
    /// Opaque blob owned by `crate::intent`.
    pub intent: Option<Vec<u8>>,
    pub meta: Vec<(String, String)>,
}

/// `YᵀY` of the item factors (without λ) and the hyperparameters fold-in needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Gram {
    pub yty: Vec<f32>,
    pub lambda: f32,
    pub alpha: f32,
}

/// Item neighbour lists in CSR form. Weights are stored as f16.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    pub offsets: Vec<u32>,
    pub items: Vec<u32>,
    pub weights: Vec<f32>,
}

/// Segment centroids in user-factor space.
#[derive(Debug, Clone, PartialEq)]
pub struct Segments {
    pub dim: usize,
    pub centroids: Vec<f32>,
    pub names: Vec<String>,
}

/// Rows are padded with zeros to a multiple of 16 elements so every SIMD kernel
/// works on whole vectors; padding never changes a dot product.
pub fn stride_for(dim: usize) -> usize {
    dim.div_ceil(16) * 16
}

#[cfg(test)]
mod tests;

/// BAD_SECTION for the small sections decoded whole into owned values
/// (RANKER, BEHAVIOUR): offsets inside them are reported in the reason.
pub(crate) fn bad_small_section(
    section: &'static str,
    reason: impl Into<String>,
) -> crate::error::Error {
    crate::error::Error::BadSection {
        at: crate::error::At { section, offset: 0 },
        reason: reason.into(),
    }
}

/// The next `len` bytes of a small section at `*pos` (advanced past them),
/// or BAD_SECTION naming where it ended: the decoders' one cursor step.
pub(crate) fn take_small_section<'a>(
    b: &'a [u8],
    pos: &mut usize,
    len: usize,
    section: &'static str,
) -> crate::error::Result<&'a [u8]> {
    let end = pos
        .checked_add(len)
        .ok_or_else(|| bad_small_section(section, "length overflow"))?;
    let s = b
        .get(*pos..end)
        .ok_or_else(|| bad_small_section(section, format!("truncated at byte {pos}")))?;
    *pos = end;
    Ok(s)
}
