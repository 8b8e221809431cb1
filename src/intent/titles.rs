//! A small inverted index over catalogue titles, built at export, so product
//! mentions in a question ("like the Trail Runner 2 but cheaper", "耐克跑步鞋有
//! 便宜点的吗") resolve to item indices on the device.
//!
//! Terms are CJK character bigrams (a lone CJK character counts as a unigram)
//! and whole words of other scripts, numbers kept literally because model
//! numbers matter ("iphone 15"). A title's score for a query is the
//! idf-weighted fraction of the title's terms the query contains.
//!
//! Layout (inside the intent payload):
//! `n_items u32, n_terms u32, hashes [n_terms] u32 (strictly increasing),
//!  offsets [n_terms + 1] u32 (byte offsets into postings), postings_len u32,
//!  postings [postings_len] u8` — each term's postings are LEB128 varints:
//! the first item index, then gaps (> 0) to the next.

use serde::Serialize;

use super::codec::{bad, Cursor};
use super::features::hash_chars;
use super::normalize::{for_each_token, Class};
use crate::error::Error;

const FAM_TITLE_CJK: u32 = 10;
const FAM_TITLE_WORD: u32 = 11;

/// A title must cover at least this idf-weighted fraction to be reported.
pub const MIN_TITLE_SCORE: f32 = 0.3;
/// Posting hits gathered per lookup at most: bounds the worst case (512
/// characters of text whose every bigram is an indexed term) to a few
/// milliseconds; real questions gather a few hundred.
pub const MAX_HITS: usize = 16_384;
/// Catalogues larger than this cannot carry a title index.
pub const MAX_ITEMS: u32 = 1 << 22;
/// At most this many product mentions are returned.
pub const MAX_MENTIONS: usize = 5;

/// A catalogue item mentioned in the text.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductMention {
    /// Index of the item in the bundle's item order.
    pub item: u32,
    /// Idf-weighted fraction of the title's terms found in the text (0..1].
    pub score: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TitleIndex {
    n_items: u32,
    hashes: Vec<u32>,
    offsets: Vec<u32>,
    postings: Vec<u8>,
    // Derived on load, not stored.
    idf: Vec<f32>,
    norms: Vec<f32>,
    n_terms_of: Vec<u16>,
}

/// Appends the sorted, deduplicated title terms of normalized `chars`.
pub(crate) fn title_terms(chars: &[char], out: &mut Vec<u32>) {
    out.clear();
    for_each_token(chars, |t| {
        let s = &chars[t.start..t.end];
        match t.class {
            Class::Cjk if s.len() == 1 => out.push(hash_chars(FAM_TITLE_CJK, [s[0]])),
            Class::Cjk => {
                for w in s.windows(2) {
                    out.push(hash_chars(FAM_TITLE_CJK, [w[0], w[1]]));
                }
            }
            Class::Word if s.len() >= 2 || s[0].is_ascii_digit() => {
                out.push(hash_chars(FAM_TITLE_WORD, s.iter().copied()))
            }
            _ => {}
        }
    });
    super::small_sort(out);
    out.dedup();
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        let part = (b & 0x7F) as u32;
        if shift == 28 && part > 0x0F {
            return None;
        }
        v |= part << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(not(target_arch = "wasm32"))]
#[allow(
    clippy::cast_possible_truncation,
    reason = "LEB128: each byte keeps the low 7 bits on purpose; the last is < 0x80"
)]
fn write_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl TitleIndex {
    /// Builds the index over `titles` (item `i` is `titles[i]`). Terms found in
    /// more than `max_df` titles are not indexed: they describe a category,
    /// not a product, and their long postings would slow every match.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn build<S: AsRef<str>>(titles: &[S]) -> Result<TitleIndex, Error> {
        use std::collections::HashMap;
        let n = u32::try_from(titles.len()).map_err(|_| Error::invalid("too many titles"))?;
        let max_df = (titles.len() / 20).clamp(20, 500);
        let mut by_term: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut terms = Vec::new();
        for (i, t) in (0..n).zip(titles) {
            let chars: Vec<char> = super::normalize::normalize(t.as_ref()).chars().collect();
            title_terms(&chars, &mut terms);
            for &h in &terms {
                by_term.entry(h).or_default().push(i);
            }
        }
        let mut keys: Vec<u32> = by_term
            .iter()
            .filter(|(_, v)| v.len() <= max_df)
            .map(|(&k, _)| k)
            .collect();
        keys.sort_unstable();
        let mut offsets = vec![0u32];
        let mut postings = Vec::new();
        for k in &keys {
            let mut prev = None;
            for &item in &by_term[k] {
                write_varint(&mut postings, prev.map_or(item, |p| item - p));
                prev = Some(item);
            }
            offsets.push(
                u32::try_from(postings.len()).map_err(|_| Error::SizeOverflow {
                    what: "title postings",
                })?,
            );
        }
        Self::from_parts(n, keys, offsets, postings)
            .map_err(|e| Error::invalid(format!("title index: {e}")))
    }

    /// Validates the stored parts and derives idf, norms and term counts.
    fn from_parts(
        n_items: u32,
        hashes: Vec<u32>,
        offsets: Vec<u32>,
        postings: Vec<u8>,
    ) -> Result<Self, &'static str> {
        if hashes.windows(2).any(|w| w[0] >= w[1]) {
            return Err("term hashes are not strictly increasing");
        }
        if offsets.len() != hashes.len() + 1
            || offsets.first() != Some(&0)
            || offsets.last().map(|&l| l as usize) != Some(postings.len())
            || offsets.windows(2).any(|w| w[0] >= w[1])
        {
            return Err("posting offsets are inconsistent");
        }
        let n = n_items as usize;
        let mut norms = vec![0f32; n];
        let mut n_terms_of = vec![0u16; n];
        let mut idf = Vec::with_capacity(hashes.len());
        let mut items = Vec::new();
        for t in 0..hashes.len() {
            items.clear();
            let (a, b) = (offsets[t] as usize, offsets[t + 1] as usize);
            decode_postings(&postings[a..b], n_items, &mut items).ok_or("corrupt postings")?;
            let w = (1.0 + n_items as f32 / items.len() as f32).ln();
            idf.push(w);
            for &i in &items {
                norms[i as usize] += w;
                n_terms_of[i as usize] = n_terms_of[i as usize].saturating_add(1);
            }
        }
        Ok(TitleIndex {
            n_items,
            hashes,
            offsets,
            postings,
            idf,
            norms,
            n_terms_of,
        })
    }

    pub fn n_items(&self) -> u32 {
        self.n_items
    }

    pub fn n_terms(&self) -> usize {
        self.hashes.len()
    }

    #[allow(
        clippy::cast_possible_truncation,
        reason = "both lengths were u32 on decode, or checked by build()"
    )]
    pub(crate) fn encode_into(&self, p: &mut Vec<u8>) {
        p.extend_from_slice(&self.n_items.to_le_bytes());
        p.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
        for v in self.hashes.iter().chain(&self.offsets) {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p.extend_from_slice(&(self.postings.len() as u32).to_le_bytes());
        p.extend_from_slice(&self.postings);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<TitleIndex, Error> {
        let off = c.offset();
        let n_items = c.u32()?;
        let n_terms = c.u32()? as usize;
        let hashes = c.u32s(n_terms)?;
        let offsets = c.u32s(n_terms.checked_add(1).ok_or(Error::SizeOverflow {
            what: "title terms",
        })?)?;
        let len = c.u32()? as usize;
        let postings = c.take(len)?.to_vec();
        if n_items > MAX_ITEMS {
            // Norms are allocated per item; a corrupted count must not become
            // a multi-gigabyte allocation.
            return Err(bad(off, "title index claims too many items"));
        }
        Self::from_parts(n_items, hashes, offsets, postings).map_err(|r| bad(off, r))
    }

    /// Items whose titles the normalized `chars` mention, best first.
    pub fn lookup(&self, chars: &[char]) -> Vec<ProductMention> {
        let mut terms = Vec::new();
        title_terms(chars, &mut terms);
        // Hits packed as (item << 32 | term) so one small integer sort groups them.
        let mut hits: Vec<u64> = Vec::new();
        let mut items = Vec::new();
        for h in &terms {
            if hits.len() >= MAX_HITS {
                break;
            }
            if let Ok(t) = self.hashes.binary_search(h) {
                items.clear();
                let (a, b) = (self.offsets[t] as usize, self.offsets[t + 1] as usize);
                if decode_postings(&self.postings[a..b], self.n_items, &mut items).is_some() {
                    hits.extend(items.iter().map(|&i| (i as u64) << 32 | t as u64));
                }
            }
        }
        super::small_sort(&mut hits);
        // Ranked as (!score_bits << 32 | item): positive f32 bits order like
        // the floats, so ascending keys = best score first, then lower item.
        let mut ranked: Vec<u64> = Vec::new();
        let mut i = 0;
        while i < hits.len() {
            let item = hi32(hits[i]);
            let (mut sum, mut matched) = (0.0f32, 0u16);
            while i < hits.len() && hi32(hits[i]) == item {
                sum += self.idf[lo32(hits[i]) as usize];
                matched += 1;
                i += 1;
            }
            let norm = self.norms[item as usize];
            let need = self.n_terms_of[item as usize].min(2);
            let score = if norm > 0.0 {
                (sum / norm).min(1.0)
            } else {
                0.0
            };
            if score >= MIN_TITLE_SCORE && matched >= need {
                ranked.push(((!score.to_bits()) as u64) << 32 | item as u64);
            }
        }
        super::small_sort(&mut ranked);
        ranked
            .iter()
            .take(MAX_MENTIONS)
            .map(|&k| ProductMention {
                item: lo32(k),
                score: f32::from_bits(!hi32(k)),
            })
            .collect()
    }
}

/// The high half of a packed `(hi << 32 | lo)` key.
#[allow(
    clippy::cast_possible_truncation,
    reason = "a u64 shifted right by 32 fits a u32"
)]
fn hi32(k: u64) -> u32 {
    (k >> 32) as u32
}

/// The low half of a packed `(hi << 32 | lo)` key.
#[allow(
    clippy::cast_possible_truncation,
    reason = "keeping the low 32 bits is the unpacking"
)]
fn lo32(k: u64) -> u32 {
    k as u32
}

/// Decodes one term's postings, checking gaps and bounds.
#[inline(never)]
fn decode_postings(buf: &[u8], n_items: u32, out: &mut Vec<u32>) -> Option<()> {
    let mut pos = 0;
    let mut prev: Option<u32> = None;
    while pos < buf.len() {
        let v = read_varint(buf, &mut pos)?;
        let item = match prev {
            None => v,
            Some(_) if v == 0 => return None,
            Some(p) => p.checked_add(v)?,
        };
        if item >= n_items {
            return None;
        }
        out.push(item);
        prev = Some(item);
    }
    (!out.is_empty()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::normalize::normalize;

    fn chars(s: &str) -> Vec<char> {
        normalize(s).chars().collect()
    }

    fn catalogue() -> Vec<&'static str> {
        vec![
            "Trail Runner 2 Men's Running Shoe",
            "Trail Runner 3 GTX Waterproof",
            "Classic Cotton Crew T-Shirt",
            "耐克 Air Zoom 跑步鞋 男款",
            "纯棉圆领短袖T恤",
            "Leather Ankle Boots",
        ]
    }

    #[test]
    fn mentions_resolve_to_items_in_both_scripts() {
        let idx = TitleIndex::build(&catalogue()).unwrap();
        let m = idx.lookup(&chars(
            "do you have something like the trail runner 2 running shoe but cheaper",
        ));
        assert_eq!(m.first().map(|m| m.item), Some(0), "{m:?}");
        let m = idx.lookup(&chars("有没有比耐克跑步鞋便宜点的"));
        assert_eq!(m.first().map(|m| m.item), Some(3), "{m:?}");
        let m = idx.lookup(&chars("纯棉短袖T恤还有货吗"));
        assert_eq!(m.first().map(|m| m.item), Some(4), "{m:?}");
        assert!(idx.lookup(&chars("where is my order 12345")).is_empty());
    }

    #[test]
    fn pathological_queries_are_bounded() {
        // 40 terms in 500 titles each: a text naming all 40 gathers 20,000
        // hits, past MAX_HITS, and must still answer.
        let titles: Vec<String> = (0..20_000)
            .map(|i| format!("w{} item{i}", i % 40))
            .collect();
        let idx = TitleIndex::build(&titles).unwrap();
        let q: Vec<String> = (0..40).map(|j| format!("w{j}")).collect();
        let m = idx.lookup(&chars(&q.join(" ")));
        // One matched term of two is not a mention.
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn round_trip_through_bytes() {
        let idx = TitleIndex::build(&catalogue()).unwrap();
        let mut buf = Vec::new();
        idx.encode_into(&mut buf);
        let mut c = Cursor::new(&buf, 0);
        assert_eq!(TitleIndex::decode(&mut c).unwrap(), idx);
    }

    #[test]
    fn varints_reject_overlong_encodings() {
        let mut p = 0;
        assert_eq!(read_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F], &mut p), None);
        let mut v = Vec::new();
        write_varint(&mut v, u32::MAX);
        let mut p = 0;
        assert_eq!(read_varint(&v, &mut p), Some(u32::MAX));
    }
}
