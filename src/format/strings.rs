//! String tables: `count u32 | offsets u32 × (count+1) | UTF-8 bytes`.
//! Offsets are relative to the start of the bytes, start at 0, never decrease,
//! and the last equals the byte length. Validated once; reads are then O(1).

use crate::error::{At, Error};

/// A validated view of a string table.
#[derive(Clone, Copy, Debug)]
pub struct StringTable<'a> {
    offsets: &'a [u32],
    /// Validated as UTF-8 with every offset on a char boundary by [`StringTable::parse`];
    /// `get` re-checks only the one string it returns, so views stay O(1) to build.
    data: &'a [u8],
}

impl<'a> StringTable<'a> {
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<&'a str> {
        let a = *self.offsets.get(i)? as usize;
        let b = *self.offsets.get(i + 1)? as usize;
        std::str::from_utf8(self.data.get(a..b)?).ok()
    }

    /// Raw bytes of string `i`: for comparisons on the hot path (id lookup).
    pub fn get_bytes(&self, i: usize) -> Option<&'a [u8]> {
        let a = *self.offsets.get(i)? as usize;
        let b = *self.offsets.get(i + 1)? as usize;
        self.data.get(a..b)
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(move |i| self.get(i).unwrap_or(""))
    }

    pub(crate) fn empty() -> StringTable<'static> {
        StringTable {
            offsets: &[],
            data: &[],
        }
    }

    /// O(1) view of a table that [`StringTable::parse`] already accepted.
    pub(crate) fn view(bytes: &'a [u8]) -> StringTable<'a> {
        let at = At {
            section: "",
            offset: 0,
        };
        Self::split(bytes, &at).map_or(Self::empty(), |(offsets, data)| StringTable {
            offsets,
            data,
        })
    }

    fn split(bytes: &'a [u8], at: &At) -> Result<(&'a [u32], &'a [u8]), Error> {
        let bad = |reason: String| Error::BadSection {
            at: at.clone(),
            reason,
        };
        let count = bytes
            .get(0..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| bad("string table shorter than its count".into()))?
            as usize;
        let table_len =
            count
                .checked_add(1)
                .and_then(|c| c.checked_mul(4))
                .ok_or(Error::SizeOverflow {
                    what: "string table offsets",
                })?;
        let end = table_len.checked_add(4).ok_or(Error::SizeOverflow {
            what: "string table offsets",
        })?;
        let offs_bytes = bytes
            .get(4..end)
            .ok_or_else(|| bad(format!("{count} strings need {table_len} bytes of offsets")))?;
        // Section starts are 64-aligned, so +4 keeps u32 alignment.
        let offsets: &[u32] = bytemuck::try_cast_slice(offs_bytes)
            .map_err(|_| bad("string offsets misaligned".into()))?;
        Ok((offsets, bytes.get(end..).unwrap_or(&[])))
    }

    /// Parses and validates. `at` names the section for errors.
    pub(crate) fn parse(bytes: &'a [u8], at: &At) -> Result<StringTable<'a>, Error> {
        let bad = |reason: String| Error::BadSection {
            at: at.clone(),
            reason,
        };
        let (offsets, raw) = Self::split(bytes, at)?;
        let data = std::str::from_utf8(raw)
            .map_err(|e| bad(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        let mut prev = 0u32;
        if offsets.first() != Some(&0) {
            return Err(bad("first string offset must be 0".into()));
        }
        for (i, &o) in offsets.iter().enumerate() {
            if o < prev {
                return Err(bad(format!("string offset {i} goes backwards")));
            }
            if !data.is_char_boundary(o as usize) {
                return Err(bad(format!(
                    "string offset {i} splits a character or is past the end"
                )));
            }
            prev = o;
        }
        if prev as usize != data.len() {
            return Err(bad(format!(
                "strings end at {prev} but the section holds {} bytes of text",
                data.len()
            )));
        }
        Ok(StringTable { offsets, data: raw })
    }
}

/// Byte-wise lexicographic order (as `<[u8]>::cmp`), eight bytes at a time:
/// in wasm `<[u8]>::cmp` is a byte-at-a-time `memcmp`, and the load-time
/// check that ids are unique (100k comparisons of sorted neighbours, which
/// share long prefixes) spent ~1 ms there.
pub(crate) fn cmp_bytes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let (x, y) = (be_u64(x), be_u64(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    // Whole words equal: the rest (under 8 bytes of the shorter one, plus
    // anything longer) decides.
    let done = a.len().min(b.len()) / 8 * 8;
    a.get(done..)
        .unwrap_or(&[])
        .cmp(b.get(done..).unwrap_or(&[]))
}

fn be_u64(c: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(c);
    u64::from_be_bytes(w)
}

/// Encodes strings as a table. Fails if the text exceeds u32 offsets.
pub(crate) fn encode<S: AsRef<str>>(strings: &[S]) -> Result<Vec<u8>, Error> {
    let overflow = || Error::SizeOverflow {
        what: "string table",
    };
    let total: usize = strings.iter().map(|s| s.as_ref().len()).sum();
    let count = u32::try_from(strings.len())
        .ok()
        .filter(|&c| c < u32::MAX)
        .ok_or_else(overflow)?;
    u32::try_from(total).map_err(|_| overflow())?;
    let mut out = Vec::with_capacity(4 + 4 * (strings.len() + 1) + total);
    out.extend_from_slice(&count.to_le_bytes());
    let mut off = 0u32;
    out.extend_from_slice(&off.to_le_bytes());
    for s in strings {
        // Every prefix sum ≤ total, which fits u32 (checked above).
        let len = u32::try_from(s.as_ref().len()).map_err(|_| overflow())?;
        off = off.checked_add(len).ok_or_else(overflow)?;
        out.extend_from_slice(&off.to_le_bytes());
    }
    for s in strings {
        out.extend_from_slice(s.as_ref().as_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Agrees with `<[u8]>::cmp` on every pair from a set built to hit its
    /// edges: prefixes, equal words with different tails, bytes ≥ 0x80,
    /// lengths around the word size.
    #[test]
    fn cmp_bytes_is_slice_order() {
        let mut set: Vec<Vec<u8>> = vec![vec![]];
        for len in [1usize, 7, 8, 9, 15, 16, 17, 24] {
            for fill in [0u8, b'a', 0x7f, 0x80, 0xff] {
                let v = vec![fill; len];
                let mut w = v.clone();
                *w.last_mut().unwrap() ^= 1;
                let mut x = v.clone();
                x[0] = x[0].wrapping_add(1);
                set.extend([v, w, x]);
            }
        }
        set.extend([
            b"item-1".to_vec(),
            b"item-10".to_vec(),
            b"item-100000".to_vec(),
            b"item-99999".to_vec(),
        ]);
        for a in &set {
            for b in &set {
                assert_eq!(
                    cmp_bytes(a, b),
                    a.as_slice().cmp(b.as_slice()),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }
}
