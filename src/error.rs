//! One error type for the whole crate, so every failure reaching JavaScript
//! carries a stable machine-readable `code` and a message that says what to fix.
//!
//! Codes are part of the public API: they may be added, never renamed.

use std::fmt;

/// Where in a bundle something went wrong. Offsets are absolute file offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub section: &'static str,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    // ---- bundle format -------------------------------------------------------
    /// Fewer bytes than a structure needs.
    Truncated {
        at: At,
        need: u64,
        have: u64,
    },
    BadMagic {
        found: [u8; 8],
    },
    UnsupportedVersion {
        major: u16,
        minor: u16,
    },
    ChecksumMismatch {
        at: At,
        expected: u32,
        actual: u32,
    },
    SectionOutOfBounds {
        at: At,
        end: u64,
        file_len: u64,
    },
    MisalignedSection {
        at: At,
        align: u64,
    },
    /// A section starts before the previous one ended.
    OverlappingSections {
        at: At,
        previous_end: u64,
    },
    /// Bytes between sections (or after the last) that belong to nobody.
    SectionGap {
        at: At,
        expected: u64,
    },
    MissingSection {
        section: &'static str,
    },
    DuplicateSection {
        at: At,
    },
    UnknownRequiredSection {
        kind: u32,
        offset: u64,
    },
    /// Arithmetic on sizes from the file would overflow; names the quantity.
    SizeOverflow {
        what: &'static str,
    },
    NonFinite {
        at: At,
        index: u64,
    },
    DuplicateId {
        id: String,
        first: u32,
        second: u32,
    },
    /// Section content that is structurally wrong (lengths disagree, bad UTF-8, ...).
    BadSection {
        at: At,
        reason: String,
    },
    /// A reserved field (header bytes, flags, a section's reserved words) is
    /// not zero: written by a newer major version, or corrupted.
    ReservedNotZero {
        at: At,
        what: &'static str,
    },
    /// A finite value outside the envelope that keeps every score finite
    /// (`format::limits`): the bundle could produce Infinity or NaN scores.
    UnsafeValue {
        at: At,
        index: u64,
        limit: &'static str,
    },
    /// The bundle is larger than the caller's maximum bundle size.
    TooLarge {
        size: u64,
        max: u64,
    },

    // ---- API misuse ----------------------------------------------------------
    InvalidArgument {
        what: String,
    },
    DimMismatch {
        expected: usize,
        got: usize,
    },
    UnknownItem {
        id: String,
    },
    NoIntentModel,
    /// The bundle lacks an optional section that the call needs (e.g. Gram for fold-in).
    MissingCapability {
        section: &'static str,
        needed_for: &'static str,
    },
    /// A placement was asked of a bundle exported without the section it
    /// reads; `flag` is the export option that adds it.
    NoSection {
        section: &'static str,
        placement: &'static str,
        flag: &'static str,
    },
    /// A tracked shopper event is malformed (unknown type, non-numeric time, ...).
    InvalidEvent {
        index: usize,
        reason: String,
    },
    /// A finite number outside its documented range (a user vector value
    /// past `format::limits::MAX_USER_ABS`, ...): scoring it could overflow.
    OutOfRange {
        what: String,
    },
    /// A shard of a sharded bundle is not the one its head lists (another
    /// model, another export, a replaced or corrupted file, a stale cache).
    ShardMismatch {
        shard: u32,
        reason: String,
    },
}

impl Error {
    /// Stable code surfaced to JavaScript as `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Truncated { .. } => "TRUNCATED",
            Error::BadMagic { .. } => "BAD_MAGIC",
            Error::UnsupportedVersion { .. } => "UNSUPPORTED_VERSION",
            Error::ChecksumMismatch { .. } => "CHECKSUM_MISMATCH",
            Error::SectionOutOfBounds { .. } => "SECTION_OUT_OF_BOUNDS",
            Error::MisalignedSection { .. } => "MISALIGNED_SECTION",
            Error::OverlappingSections { .. } => "OVERLAPPING_SECTIONS",
            Error::SectionGap { .. } => "SECTION_GAP",
            Error::MissingSection { .. } => "MISSING_SECTION",
            Error::DuplicateSection { .. } => "DUPLICATE_SECTION",
            Error::UnknownRequiredSection { .. } => "UNKNOWN_REQUIRED_SECTION",
            Error::SizeOverflow { .. } => "SIZE_OVERFLOW",
            Error::NonFinite { .. } => "NON_FINITE",
            Error::DuplicateId { .. } => "DUPLICATE_ID",
            Error::BadSection { .. } => "BAD_SECTION",
            Error::ReservedNotZero { .. } => "RESERVED_NOT_ZERO",
            Error::UnsafeValue { .. } => "UNSAFE_VALUE",
            Error::TooLarge { .. } => "TOO_LARGE",
            Error::InvalidArgument { .. } => "INVALID_ARGUMENT",
            Error::DimMismatch { .. } => "DIM_MISMATCH",
            Error::UnknownItem { .. } => "UNKNOWN_ITEM",
            Error::NoIntentModel => "NO_INTENT_MODEL",
            Error::MissingCapability { .. } => "MISSING_CAPABILITY",
            Error::InvalidEvent { .. } => "INVALID_EVENT",
            Error::NoSection { .. } => "NO_SECTION",
            Error::OutOfRange { .. } => "OUT_OF_RANGE",
            Error::ShardMismatch { .. } => "SHARD_MISMATCH",
        }
    }

    /// The section and offset for format errors, for tooling and JS `err.section`.
    pub fn location(&self) -> Option<&At> {
        match self {
            Error::Truncated { at, .. }
            | Error::ChecksumMismatch { at, .. }
            | Error::SectionOutOfBounds { at, .. }
            | Error::MisalignedSection { at, .. }
            | Error::OverlappingSections { at, .. }
            | Error::SectionGap { at, .. }
            | Error::DuplicateSection { at }
            | Error::NonFinite { at, .. }
            | Error::BadSection { at, .. }
            | Error::ReservedNotZero { at, .. }
            | Error::UnsafeValue { at, .. } => Some(at),
            _ => None,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Error::InvalidArgument { what: what.into() }
    }
}

/// `"text"` for messages. `{:?}` on a `str` would do, but it drags core's
/// Unicode escape tables (~9 KB) into the wasm; ids and keys need no escaping
/// to be readable.
pub(crate) struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { at, need, have } => write!(
                f,
                "bundle truncated in {} at offset {}: need {need} bytes, have {have}",
                at.section, at.offset
            ),
            // Byte by byte: `{found:02x?}` links core's Debug list and
            // padding machinery (~1 KB of every wasm build).
            Error::BadMagic { found } => {
                f.write_str("not a vitrine bundle: magic bytes are")?;
                for b in found {
                    write!(f, " {b:02x}")?;
                }
                f.write_str(", expected \"VITRINE\\0\"")
            }
            Error::UnsupportedVersion { major, minor } => write!(
                f,
                "bundle format {major}.{minor} is newer than this reader (supports 1.x); upgrade vitrine"
            ),
            Error::ChecksumMismatch { at, expected, actual } => write!(
                f,
                "checksum mismatch in {} at offset {}: expected crc32 {expected:08x}, got {actual:08x} (file corrupted in transit?)",
                at.section, at.offset
            ),
            Error::SectionOutOfBounds { at, end, file_len } => write!(
                f,
                "section {} at offset {} ends at {end}, past the end of the file ({file_len} bytes)",
                at.section, at.offset
            ),
            Error::MisalignedSection { at, align } => write!(
                f,
                "section {} at offset {} is not aligned to {align} bytes",
                at.section, at.offset
            ),
            Error::OverlappingSections { at, previous_end } => write!(
                f,
                "section {} at offset {} overlaps the previous section (which ends at {previous_end})",
                at.section, at.offset
            ),
            Error::SectionGap { at, expected } => write!(
                f,
                "section {} starts at offset {} but the layout says {expected}: bundles have no holes",
                at.section, at.offset
            ),
            Error::MissingSection { section } => {
                write!(f, "required section {section} is missing")
            }
            Error::DuplicateSection { at } => write!(
                f,
                "section {} appears twice (second at offset {})",
                at.section, at.offset
            ),
            Error::UnknownRequiredSection { kind, offset } => write!(
                f,
                "section kind {kind} at offset {offset} is required but unknown to this reader; upgrade vitrine"
            ),
            Error::SizeOverflow { what } => write!(f, "size overflow computing {what}"),
            Error::NonFinite { at, index } => write!(
                f,
                "non-finite value (NaN or infinity) in {} at element {index} (section offset {})",
                at.section, at.offset
            ),
            Error::DuplicateId { id, first, second } => {
                write!(
                    f,
                    "item id {} appears twice (items {first} and {second})",
                    Quoted(id)
                )
            }
            Error::BadSection { at, reason } => write!(
                f,
                "malformed section {} at offset {}: {reason}",
                at.section, at.offset
            ),
            Error::ReservedNotZero { at, what } => write!(
                f,
                "reserved {what} in {} at offset {} is not zero (a newer major format version, or a corrupted file)",
                at.section, at.offset
            ),
            Error::UnsafeValue { at, index, limit } => write!(
                f,
                "value at element {index} of {} (section offset {}) is outside {limit}, where scores could overflow to Infinity; re-export the model",
                at.section, at.offset
            ),
            Error::TooLarge { size, max } => write!(
                f,
                "the bundle is {size} bytes, more than the maximum bundle size of {max} bytes; raise the maxBytes option if it is really that large"
            ),
            Error::InvalidArgument { what } => write!(f, "invalid argument: {what}"),
            Error::DimMismatch { expected, got } => write!(
                f,
                "user vector has {got} values but the model has {expected} factors"
            ),
            Error::UnknownItem { id } => write!(f, "unknown item id {}", Quoted(id)),
            Error::NoIntentModel => write!(
                f,
                "this bundle has no intent model; export it with `vitrine export --intent FILE` or load an intent file"
            ),
            Error::MissingCapability {
                section,
                needed_for,
            } => write!(
                f,
                "this bundle has no {section} section, which {needed_for} needs; re-export it with the trainer"
            ),
            Error::InvalidEvent { index, reason } => write!(f, "event {index} is invalid: {reason}"),
            Error::NoSection {
                section,
                placement,
                flag,
            } => {
                // `flag` is a placements-build flag, or (starting with
                // "vitrine ") the whole command that adds the section.
                let how = if flag.starts_with("vitrine ") { "" } else { "vitrine placements build " };
                write!(
                    f,
                    "{placement} needs the {section} section, which this bundle lacks; add it with `{how}{flag}`"
                )
            }
            Error::OutOfRange { what } => write!(f, "out of range: {what}"),
            Error::ShardMismatch { shard, reason } => write!(
                f,
                "shard {shard} does not match its head: {reason}; the cached copy is dropped and the shard fetched again"
            ),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
