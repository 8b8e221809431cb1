//! Hashed n-gram features that need no word segmenter: character n-grams for
//! CJK runs, word and character n-grams for space-separated scripts.
//!
//! Features are 32-bit hashes, not vocabulary ids, so the browser needs no
//! vocabulary: the model stores only the hashes it kept, sorted.

use super::normalize::{for_each_token, Class};

/// Which feature families are on. Stored in the model so matching always
/// reproduces training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureConfig {
    pub cjk_trigrams: bool,
    pub char_min: u8,
    pub char_max: u8,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            cjk_trigrams: true,
            char_min: 3,
            char_max: 5,
        }
    }
}

impl FeatureConfig {
    pub(crate) fn to_bits(self) -> u32 {
        (self.cjk_trigrams as u32) | ((self.char_min as u32) << 8) | ((self.char_max as u32) << 16)
    }
    pub(crate) fn from_bits(b: u32) -> Option<Self> {
        let c = FeatureConfig {
            cjk_trigrams: b & 1 != 0,
            char_min: ((b >> 8) & 0xFF) as u8,
            char_max: ((b >> 16) & 0xFF) as u8,
        };
        let ok =
            b & !0x00FF_FF01 == 0 && c.char_min >= 1 && c.char_min <= c.char_max && c.char_max <= 8;
        ok.then_some(c)
    }
}

/// Words longer than this get no character n-grams: they are URLs, hashes or
/// keyboard mashing, and would otherwise dominate the feature vector.
const MAX_CHARGRAM_WORD: usize = 32;

pub(crate) const FAM_CJK1: u32 = 1;
pub(crate) const FAM_CJK2: u32 = 2;
const FAM_CJK3: u32 = 3;
pub(crate) const FAM_WORD: u32 = 4;
const FAM_WORD2: u32 = 5;
const FAM_CHAR: u32 = 6;
const FAM_SYM: u32 = 8;

pub(crate) fn hash_chars(fam: u32, chars: impl IntoIterator<Item = char>) -> u32 {
    let mut h = hash_start(fam);
    for c in chars {
        h ^= c as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash_finish(h)
}

#[inline(never)]
fn hash_start(fam: u32) -> u64 {
    0xcbf2_9ce4_8422_2325 ^ ((fam as u64) << 40)
}

/// murmur3 finalizer: FNV's low bits are weak for short keys. Out of line so
/// the several `hash_chars` instantiations stay small in the wasm.
#[inline(never)]
#[allow(
    clippy::cast_possible_truncation,
    reason = "a hash: keeping the low 32 mixed bits is the intent"
)]
fn hash_finish(mut h: u64) -> u32 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h as u32
}

/// A word as it enters word features: digit strings are replaced by their
/// length so order numbers and prices generalize ("12345" ~ "67890").
fn word_form(w: &[char]) -> WordForm<'_> {
    if w.iter().all(|c| c.is_ascii_digit()) {
        #[allow(clippy::cast_possible_truncation, reason = "clamped to 9 just before")]
        let len = w.len().min(9) as u8;
        WordForm::Number(len)
    } else {
        WordForm::Text(w)
    }
}

#[derive(Clone, Copy)]
enum WordForm<'a> {
    Text(&'a [char]),
    Number(u8),
}

impl<'a> WordForm<'a> {
    fn chars(self) -> impl Iterator<Item = char> + Clone + 'a {
        let (text, num): (&'a [char], Option<char>) = match self {
            WordForm::Text(t) => (t, None),
            WordForm::Number(n) => (&[], Some(char::from(b'0' + n))),
        };
        num.into_iter()
            .flat_map(|d| ['#', d])
            .chain(text.iter().copied())
    }
}

/// Appends the sorted, deduplicated feature hashes of normalized `chars` to
/// `out` (cleared first).
pub fn extract(chars: &[char], cfg: &FeatureConfig, out: &mut Vec<u32>) {
    out.clear();
    let mut prev_word: Option<WordForm<'_>> = None;
    for_each_token(chars, |t| {
        let s = &chars[t.start..t.end];
        match t.class {
            Class::Cjk => {
                prev_word = None;
                for (i, &c) in s.iter().enumerate() {
                    out.push(hash_chars(FAM_CJK1, [c]));
                    if i + 1 < s.len() {
                        out.push(hash_chars(FAM_CJK2, [c, s[i + 1]]));
                    }
                    if cfg.cjk_trigrams && i + 2 < s.len() {
                        out.push(hash_chars(FAM_CJK3, [c, s[i + 1], s[i + 2]]));
                    }
                }
            }
            Class::Symbol => {
                prev_word = None;
                out.push(hash_chars(FAM_SYM, s.iter().copied()));
            }
            Class::Word => {
                let form = word_form(s);
                out.push(hash_chars(FAM_WORD, form.chars()));
                if let (Some(p), true) = (prev_word, t.joined) {
                    out.push(hash_chars(
                        FAM_WORD2,
                        p.chars().chain([' ']).chain(form.chars()),
                    ));
                }
                if let WordForm::Text(w) = form {
                    if w.len() <= MAX_CHARGRAM_WORD {
                        push_char_ngrams(w, cfg, out);
                    }
                }
                prev_word = Some(form);
            }
            Class::Sep => {}
        }
    });
    super::small_sort(out);
    out.dedup();
}

/// Character n-grams of `<word>` (with boundary marks), without allocating.
fn push_char_ngrams(w: &[char], cfg: &FeatureConfig, out: &mut Vec<u32>) {
    let padded_len = w.len() + 2;
    let at = |p: usize| -> char {
        if p == 0 {
            '<'
        } else if p == padded_len - 1 {
            '>'
        } else {
            w[p - 1]
        }
    };
    for n in cfg.char_min as usize..=cfg.char_max as usize {
        if n > padded_len {
            break;
        }
        for s in 0..=padded_len - n {
            out.push(hash_chars(FAM_CHAR, (s..s + n).map(at)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::normalize::normalize;

    fn feats(text: &str) -> Vec<u32> {
        let chars: Vec<char> = normalize(text).chars().collect();
        let mut v = Vec::new();
        extract(&chars, &FeatureConfig::default(), &mut v);
        v
    }

    #[test]
    fn cjk_unigrams_and_bigrams_without_segmenter() {
        let f = feats("能退货吗");
        for c in ['能', '退', '货', '吗'] {
            assert!(f.contains(&hash_chars(FAM_CJK1, [c])));
        }
        assert!(f.contains(&hash_chars(FAM_CJK2, ['退', '货'])));
        assert!(!f.contains(&hash_chars(FAM_CJK2, ['能', '货'])));
        // 4 unigrams + 3 bigrams + 2 trigrams
        assert_eq!(f.len(), 9);
    }

    #[test]
    fn full_width_text_gives_identical_features() {
        assert_eq!(feats("ＲＥＴＵＲＮ　ｐｏｌｉｃｙ"), feats("return policy"));
        assert_eq!(feats("退货？"), feats("退货?"));
    }

    #[test]
    fn latin_word_and_char_ngrams() {
        let f = feats("Return policy");
        let w: Vec<char> = "return".chars().collect();
        assert!(f.contains(&hash_chars(FAM_WORD, w.iter().copied())));
        assert!(f.contains(&hash_chars(FAM_WORD2, "return policy".chars())));
        assert!(f.contains(&hash_chars(FAM_CHAR, "<re".chars())));
        assert!(f.contains(&hash_chars(FAM_CHAR, "turn>".chars())));
        assert!(!f.contains(&hash_chars(FAM_CHAR, "<return".chars())));
        // A typo still shares most character n-grams.
        let g = feats("retrun policy");
        let shared = f.iter().filter(|h| g.contains(h)).count();
        assert!(shared * 3 > f.len(), "shared {shared} of {}", f.len());
    }

    #[test]
    fn numbers_generalize_by_length() {
        assert_eq!(feats("order 12345"), feats("order 67890"));
        assert_ne!(feats("order 12345"), feats("order 123"));
    }

    #[test]
    fn punctuation_breaks_word_bigrams() {
        let f = feats("size, chart");
        assert!(!f.contains(&hash_chars(FAM_WORD2, "size chart".chars())));
    }

    #[test]
    fn config_bits_round_trip_and_reject_garbage() {
        let c = FeatureConfig::default();
        assert_eq!(FeatureConfig::from_bits(c.to_bits()), Some(c));
        assert_eq!(FeatureConfig::from_bits(0xFFFF_FFFF), None);
        assert_eq!(FeatureConfig::from_bits(0), None);
    }
}
