//! Framing helpers for structure-aware fuzzing: split a `.vtr` bundle into its
//! sections, lay sections out again by the format's layout rule, and recompute
//! every checksum, so a mutation of a section's *content* reaches the content
//! validators instead of stopping at `CHECKSUM_MISMATCH`.
//!
//! Only std and vitrine's public API: `tests/props.rs` includes this file with
//! `#[path]` and checks that [`reseal`] reproduces the writer's checksums
//! byte for byte, so a change of the checksum layout in `src/format` fails a
//! test instead of silently sending every resealed input back to the door.

use vitrine::format::{crc32, data_start, next_offset, ENTRY_LEN, HEADER_LEN};

/// Largest table this module walks; real bundles have at most ~20 sections.
pub const MAX_SECTIONS: usize = 64;

/// One table row with its body, as found in (or to be written to) a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: u32,
    pub flags: u32,
    pub body: Vec<u8>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// The header and the sections a table describes. Lenient: offsets need not
/// follow the layout rule, only lie inside the file. `None` when the header or
/// table cannot be read or a section points outside the file.
pub fn split(bytes: &[u8]) -> Option<([u8; HEADER_LEN], Vec<Section>)> {
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(bytes.get(..HEADER_LEN)?);
    let count = u32_at(&header, 16)? as usize;
    if count > MAX_SECTIONS {
        return None;
    }
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
        let e = HEADER_LEN + i * ENTRY_LEN;
        let kind = u32_at(bytes, e)?;
        let flags = u32_at(bytes, e + 4)?;
        let off = usize::try_from(u64_at(bytes, e + 8)?).ok()?;
        let len = usize::try_from(u64_at(bytes, e + 16)?).ok()?;
        let body = bytes.get(off..off.checked_add(len)?)?.to_vec();
        sections.push(Section { kind, flags, body });
    }
    Some((header, sections))
}

/// Lays `sections` out as the writer does (64-byte aligned, zero padding, in
/// order), keeping every header byte of `header` except the section count,
/// the file length and the checksums, which are set to match.
pub fn assemble(header: &[u8; HEADER_LEN], sections: &[Section]) -> Vec<u8> {
    let count = sections.len() as u64;
    let mut pos = data_start(count).unwrap_or(0) as usize;
    let mut offsets = Vec::with_capacity(sections.len());
    let mut end = pos;
    for s in sections {
        offsets.push(pos);
        end = pos + s.body.len();
        pos = next_offset(end as u64).unwrap_or(0) as usize;
    }
    let mut out = vec![0u8; end];
    out[..HEADER_LEN].copy_from_slice(header);
    out[16..20].copy_from_slice(&(count as u32).to_le_bytes());
    out[24..32].copy_from_slice(&(end as u64).to_le_bytes());
    for (i, (s, &off)) in sections.iter().zip(&offsets).enumerate() {
        let e = HEADER_LEN + i * ENTRY_LEN;
        out[e..e + 4].copy_from_slice(&s.kind.to_le_bytes());
        out[e + 4..e + 8].copy_from_slice(&s.flags.to_le_bytes());
        out[e + 8..e + 16].copy_from_slice(&(off as u64).to_le_bytes());
        out[e + 16..e + 24].copy_from_slice(&(s.body.len() as u64).to_le_bytes());
        out[off..off + s.body.len()].copy_from_slice(&s.body);
    }
    reseal(&mut out);
    out
}

/// Recomputes the CRC of every section whose range lies inside the file, then
/// the table checksum (over header bytes 0..32 and the table). Leaves
/// everything else, valid or not, as it is.
pub fn reseal(bytes: &mut [u8]) {
    let Some(count) = u32_at(bytes, 16) else {
        return;
    };
    let count = (count as usize).min(MAX_SECTIONS);
    for i in 0..count {
        let e = HEADER_LEN + i * ENTRY_LEN;
        let (Some(off), Some(len)) = (u64_at(bytes, e + 8), u64_at(bytes, e + 16)) else {
            break;
        };
        let range = usize::try_from(off)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(o, l)| Some(o..o.checked_add(l)?));
        let Some(crc) = range.and_then(|r| bytes.get(r)).map(crc32::hash) else {
            continue;
        };
        if let Some(slot) = bytes.get_mut(e + 24..e + 28) {
            slot.copy_from_slice(&crc.to_le_bytes());
        }
    }
    let table_end = HEADER_LEN + count * ENTRY_LEN;
    let Some(table) = bytes.get(HEADER_LEN..table_end) else {
        return;
    };
    let mut h = crc32::Crc32::new();
    h.update(&bytes[..32]);
    h.update(table);
    let crc = h.finalize();
    bytes[32..36].copy_from_slice(&crc.to_le_bytes());
}

/// `.vti` header: payload length at 12..16, payload CRC at 16..20, payload from 28.
pub const VTI_HEADER_LEN: usize = 28;

/// Sets a `.vti` blob's payload length and checksum to match its payload.
pub fn reseal_vti(bytes: &mut [u8]) {
    if bytes.len() < VTI_HEADER_LEN {
        return;
    }
    let (head, payload) = bytes.split_at_mut(VTI_HEADER_LEN);
    head[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    head[16..20].copy_from_slice(&crc32::hash(payload).to_le_bytes());
}
