//! Hashed n-gram features that need no word segmenter: character n-grams for
//! CJK runs, word and character n-grams for space-separated scripts.
//!
//! Features are 32-bit hashes, not vocabulary ids, so the browser needs no
//! vocabulary: the model stores only the hashes it kept, sorted.

use super::normalize::{self, for_each_token, Class};

/// Which feature families are on. Stored in the model so matching always
/// reproduces training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureConfig {
    pub cjk_trigrams: bool,
    /// CJK character 4-grams too (only with `cjk_trigrams`): Chinese words
    /// and set phrases of four characters (成语, "什么时候", "运费多少").
    pub cjk_fourgrams: bool,
    /// Context features a bag of n-grams misses: each punctuation mark
    /// ("?" separates a question from a statement), and the first and last
    /// one and two characters of each CJK run marked as run edges (what
    /// scikit-learn's `char_wb` padding gives it for unsegmented text).
    pub edges: bool,
    pub char_min: u8,
    pub char_max: u8,
    /// Fold every feature hash into `2^hash_bits` buckets (0: keep all 32
    /// bits). Fewer buckets merge rare features by collision, so the model
    /// stores fewer rows: the size knob of the size/accuracy sweep.
    pub hash_bits: u8,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            cjk_trigrams: true,
            cjk_fourgrams: false,
            edges: false,
            char_min: 3,
            char_max: 5,
            hash_bits: 0,
        }
    }
}

impl FeatureConfig {
    pub(crate) fn to_bits(self) -> u32 {
        (self.cjk_trigrams as u32)
            | ((self.cjk_fourgrams as u32) << 1)
            | ((self.edges as u32) << 2)
            | ((self.char_min as u32) << 8)
            | ((self.char_max as u32) << 16)
            | ((self.hash_bits as u32) << 24)
    }
    pub(crate) fn from_bits(b: u32) -> Option<Self> {
        let c = FeatureConfig {
            cjk_trigrams: b & 1 != 0,
            cjk_fourgrams: b & 2 != 0,
            edges: b & 4 != 0,
            char_min: ((b >> 8) & 0xFF) as u8,
            char_max: ((b >> 16) & 0xFF) as u8,
            hash_bits: ((b >> 24) & 0xFF) as u8,
        };
        let ok = b & !0xFFFF_FF07 == 0
            && (c.hash_bits == 0 || (8..=31).contains(&c.hash_bits))
            && c.char_min >= 1
            && c.char_min <= c.char_max
            && c.char_max <= 8
            && (c.cjk_trigrams || !c.cjk_fourgrams);
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
const FAM_CJK4: u32 = 9;
const FAM_PUNCT: u32 = 10;
const FAM_CJK_EDGE: u32 = 11;

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
                        if cfg.cjk_fourgrams && i + 3 < s.len() {
                            out.push(hash_chars(FAM_CJK4, [c, s[i + 1], s[i + 2], s[i + 3]]));
                        }
                    }
                }
                if cfg.edges {
                    push_cjk_edges(s, out);
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
    if cfg.edges {
        for &c in chars {
            if c != ' ' && normalize::class(c) == Class::Sep {
                out.push(hash_chars(FAM_PUNCT, [c]));
            }
        }
    }
    if cfg.hash_bits != 0 {
        let mask = (1u32 << cfg.hash_bits.min(31)) - 1;
        out.iter_mut().for_each(|h| *h &= mask);
    }
    super::small_sort(out);
    out.dedup();
}

/// A CJK run's first and last one and two characters, marked as edges
/// ("<请", "<请问", "吗>", "了吗>").
fn push_cjk_edges(s: &[char], out: &mut Vec<u32>) {
    let (Some(&first), Some(&last)) = (s.first(), s.last()) else {
        return;
    };
    out.push(hash_chars(FAM_CJK_EDGE, ['<', first]));
    out.push(hash_chars(FAM_CJK_EDGE, [last, '>']));
    if let [a, b, ..] = *s {
        out.push(hash_chars(FAM_CJK_EDGE, ['<', a, b]));
    }
    if let [.., y, z] = *s {
        out.push(hash_chars(FAM_CJK_EDGE, [y, z, '>']));
    }
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
        let all = FeatureConfig {
            cjk_fourgrams: true,
            edges: true,
            hash_bits: 16,
            ..c
        };
        assert_eq!(FeatureConfig::from_bits(all.to_bits()), Some(all));
        // 4-grams without trigrams, and 1..7 hash bits, are not configurations.
        let bad = FeatureConfig {
            cjk_trigrams: false,
            cjk_fourgrams: true,
            ..c
        };
        assert_eq!(FeatureConfig::from_bits(bad.to_bits()), None);
        assert_eq!(FeatureConfig::from_bits(c.to_bits() | (4 << 24)), None);
        // Models written before these options decode to them switched off.
        assert_eq!(
            FeatureConfig::from_bits(0x0005_0301),
            Some(FeatureConfig::default())
        );
    }

    #[test]
    fn four_grams_edges_and_punctuation_only_when_configured() {
        let chars: Vec<char> = normalize("什么时候发货?").chars().collect();
        let (mut plain, mut rich) = (Vec::new(), Vec::new());
        extract(&chars, &FeatureConfig::default(), &mut plain);
        let cfg = FeatureConfig {
            cjk_fourgrams: true,
            edges: true,
            ..FeatureConfig::default()
        };
        extract(&chars, &cfg, &mut rich);
        // 6 chars: 6 + 5 + 4 n-grams, + 3 four-grams, + 4 edges, + "?".
        assert_eq!(plain.len(), 15);
        assert_eq!(rich.len(), 15 + 3 + 4 + 1);
        assert!(rich.contains(&hash_chars(FAM_CJK4, "什么时候".chars())));
        assert!(rich.contains(&hash_chars(FAM_CJK_EDGE, "<什么".chars())));
        assert!(rich.contains(&hash_chars(FAM_CJK_EDGE, "货>".chars())));
        assert!(rich.contains(&hash_chars(FAM_PUNCT, ['?'])));
        assert!(plain.iter().all(|h| rich.contains(h)));
    }

    #[test]
    fn hash_buckets_fold_features() {
        let chars: Vec<char> = normalize("where is my order 12345").chars().collect();
        let mut full = Vec::new();
        extract(&chars, &FeatureConfig::default(), &mut full);
        let cfg = FeatureConfig {
            hash_bits: 8,
            ..FeatureConfig::default()
        };
        let mut folded = Vec::new();
        extract(&chars, &cfg, &mut folded);
        assert!(folded.iter().all(|&h| h < 256));
        assert!(
            folded.windows(2).all(|w| w[0] < w[1]),
            "sorted, deduplicated"
        );
        let mut want: Vec<u32> = full.iter().map(|h| h & 255).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(folded, want);
    }
}
