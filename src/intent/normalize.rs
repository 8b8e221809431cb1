//! Text normalization and tokenization shared by training, matching, slots and
//! the title index, so that every stage sees exactly the same characters.
//!
//! We implement a documented *subset* of NFKC instead of pulling in full
//! normalization tables: shopper text mostly differs by full-width forms typed
//! with Chinese IMEs, and the subset below covers those in a few hundred bytes
//! of wasm (see `docs/intent.md` for the exact list).

/// Input longer than this (in Unicode scalar values) is truncated and the
/// match reports `truncated: true`. Help-box questions are short; the cap keeps
/// the worst-case cost of one call bounded.
pub const MAX_INPUT_CHARS: usize = 512;

/// Character class of a normalized character, as seen by the tokenizer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    /// Han ideographs, kana: scripts written without spaces, featurized by character n-grams.
    Cjk,
    /// Letters and digits of space-separated scripts.
    Word,
    /// Emoji and pictographs: kept as single-character tokens (they carry intent, e.g. 👍).
    Symbol,
    /// Whitespace, punctuation and everything else.
    Sep,
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // hiragana, katakana
        | 0x31F0..=0x31FF // katakana phonetic extensions
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0x20000..=0x2FA1F) // supplementary ideographic planes
}

fn is_symbol(c: char) -> bool {
    matches!(c as u32, 0x2600..=0x27BF | 0x1F300..=0x1FAFF)
}

/// Letters, digits and combining marks of space-separated scripts, by block.
/// A block-level approximation of `char::is_alphanumeric` that keeps std's
/// Unicode property tables (several KB) out of the wasm.
pub fn is_word(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return c.is_ascii_alphanumeric();
    }
    matches!(u,
        0xAA | 0xB5 | 0xBA
        | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x2AF // Latin-1 letters, Latin Extended, IPA
        | 0x300..=0x36F // combining diacritics
        | 0x370..=0x37D | 0x37F..=0x386 | 0x388..=0x3FF // Greek
        | 0x400..=0x52F // Cyrillic
        | 0x531..=0x587 // Armenian
        | 0x591..=0x5F2 // Hebrew
        | 0x610..=0x61A | 0x620..=0x669 | 0x66E..=0x6D3 | 0x6D5..=0x6FF // Arabic
        | 0x900..=0x963 | 0x966..=0xDFF // Indic scripts (without the danda punctuation)
        | 0xE00..=0xEFF // Thai, Lao
        | 0x10A0..=0x10FF | 0x1100..=0x11FF // Georgian, Hangul Jamo
        | 0x1E00..=0x1FFF // Latin Extended Additional (Vietnamese), Greek Extended
        | 0x3130..=0x318F | 0xAC00..=0xD7A3) // Hangul
}

/// Simple lowercase for the scripts shoppers write in (ASCII, Latin-1,
/// Latin Extended-A and Additional, Greek, Cyrillic, Armenian); other
/// characters are unchanged. Avoids std's 11 KB case-mapping table in the wasm.
pub fn lower(c: char) -> char {
    let u = c as u32;
    let l = match u {
        0x41..=0x5A | 0xC0..=0xD6 | 0xD8..=0xDE | 0x391..=0x3A1 | 0x3A3..=0x3AB | 0x410..=0x42F => {
            u + 0x20
        }
        0x100..=0x137 | 0x14A..=0x177 | 0x1E00..=0x1E95 | 0x1EA0..=0x1EFF if u % 2 == 0 => u + 1,
        0x139..=0x148 | 0x179..=0x17E if u % 2 == 1 => u + 1,
        0x178 => 0xFF,
        0x386 => 0x3AC,
        0x388..=0x38A => u + 37,
        0x38C => 0x3CC,
        0x38E..=0x38F => u + 63,
        0x400..=0x40F => u + 0x50,
        0x531..=0x556 => u + 0x30,
        _ => u,
    };
    char::from_u32(l).unwrap_or(c)
}

pub fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if is_word(c) {
        Class::Word
    } else if is_symbol(c) {
        Class::Symbol
    } else {
        Class::Sep
    }
}

/// Appends the NFKC-subset + lowercase form of `c` to `out`.
fn push_normalized(c: char, out: &mut Vec<char>) {
    let u = c as u32;
    let mapped: Option<&str> = match u {
        // Full-width ASCII variants (！ .. ～) -> ASCII.
        0xFF01..=0xFF5E => {
            if let Some(a) = char::from_u32(u - 0xFEE0) {
                push_lower(a, out);
            }
            return;
        }
        // Spaces of every width, including the ideographic space.
        0x3000 | 0x00A0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F => {
            out.push(' ');
            return;
        }
        // Zero-width characters and the BOM vanish.
        0x200B..=0x200D | 0x2060 | 0xFEFF | 0x00AD => return,
        // Apostrophes are dropped so "don't" and "dont" tokenize alike.
        0x27 | 0x2019 | 0x2018 => return,
        // Circled digits ①..⑳ and parenthesized / dotted digits.
        0x2460..=0x2473 => return push_number(u - 0x2460 + 1, "", "", out),
        0x2474..=0x2487 => return push_number(u - 0x2474 + 1, "(", ")", out),
        0x2488..=0x249B => return push_number(u - 0x2488 + 1, "", ".", out),
        0x24EA => Some("0"),
        // Superscript / subscript digits.
        0x00B9 => Some("1"),
        0x00B2 => Some("2"),
        0x00B3 => Some("3"),
        0x2070 => Some("0"),
        0x2074..=0x2079 | 0x2080..=0x2089 => {
            let base = if u >= 0x2080 { 0x2080 } else { 0x2070 };
            if let Some(d) = char::from_digit(u - base, 10) {
                out.push(d);
            }
            return;
        }
        // Full-width currency signs.
        0xFFE0 => Some("¢"),
        0xFFE1 => Some("£"),
        0xFFE5 => Some("¥"),
        0xFFE6 => Some("₩"),
        // Latin ligatures.
        0xFB00 => Some("ff"),
        0xFB01 => Some("fi"),
        0xFB02 => Some("fl"),
        0xFB03 => Some("ffi"),
        0xFB04 => Some("ffl"),
        0xFB05 | 0xFB06 => Some("st"),
        // Letterlike symbols and CJK unit squares shoppers paste from listings.
        0x2026 => Some("..."),
        0x2103 => Some("°c"),
        0x2109 => Some("°f"),
        0x2116 => Some("no"),
        0x2122 => Some("tm"),
        0x338E => Some("mg"),
        0x338F => Some("kg"),
        0x3396 => Some("ml"),
        0x339C => Some("mm"),
        0x339D => Some("cm"),
        0x339E => Some("km"),
        0x33A1 => Some("m2"),
        0x33C4 => Some("cc"),
        _ => None,
    };
    match mapped {
        Some(s) => out.extend(s.chars()),
        None => push_lower(c, out),
    }
}

fn push_number(n: u32, pre: &str, post: &str, out: &mut Vec<char>) {
    out.extend(pre.chars());
    if n >= 10 {
        out.extend(char::from_digit(n / 10, 10));
    }
    out.extend(char::from_digit(n % 10, 10));
    out.extend(post.chars());
}

fn push_lower(c: char, out: &mut Vec<char>) {
    out.push(lower(c));
}

/// Normalizes `text` into `out` (cleared first). Returns true if the input was
/// longer than [`MAX_INPUT_CHARS`] and was truncated.
pub fn normalize_into(text: &str, out: &mut Vec<char>) -> bool {
    out.clear();
    let mut truncated = false;
    for (n, c) in text.chars().enumerate() {
        if n >= MAX_INPUT_CHARS {
            truncated = true;
            break;
        }
        push_normalized(c, out);
    }
    truncated
}

pub fn normalize(text: &str) -> String {
    let mut v = Vec::new();
    normalize_into(text, &mut v);
    v.into_iter().collect()
}

/// A maximal run of characters of one class (never `Sep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub class: Class,
    pub start: usize,
    pub end: usize,
    /// True when only spaces (no punctuation) separate it from the previous token;
    /// word bigrams never span punctuation or script changes.
    pub joined: bool,
}

/// Calls `f` for every token of the normalized characters, in order.
pub fn for_each_token(chars: &[char], mut f: impl FnMut(Token)) {
    let mut i = 0;
    let mut joined = false;
    while i < chars.len() {
        let c = chars[i];
        let cl = class(c);
        if cl == Class::Sep {
            if c != ' ' {
                joined = false;
            }
            i += 1;
            continue;
        }
        let start = i;
        if cl == Class::Symbol {
            i += 1;
        } else {
            while i < chars.len() && class(chars[i]) == cl {
                i += 1;
            }
        }
        f(Token {
            class: cl,
            start,
            end: i,
            joined,
        });
        joined = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_ideographic_space_fold_to_ascii() {
        assert_eq!(normalize("ＨＥＬＬＯ　１２３！"), "hello 123!");
        assert_eq!(normalize("订单号：１２３４５"), "订单号:12345");
        assert_eq!(normalize("￥９９"), "¥99");
    }

    #[test]
    fn compatibility_forms_shoppers_type() {
        assert_eq!(normalize("②件"), "2件");
        assert_eq!(normalize("⑳"), "20");
        assert_eq!(normalize("５㎏"), "5kg");
        assert_eq!(normalize("ﬁne"), "fine");
        assert_eq!(normalize("Don’t"), "dont");
        assert_eq!(normalize("a\u{200B}b"), "ab");
    }

    #[test]
    fn case_folding_beyond_ascii() {
        assert_eq!(normalize("ÉCOLE Größe"), "école größe");
        assert_eq!(
            normalize("ΑΘΉΝΑ МОСКВА ŁÓDŹ TIẾNG"),
            "αθήνα москва łódź tiếng"
        );
        for c in ['A', 'Ä', 'Ω', 'Ж', 'Ё', 'Ł', 'Ž', 'Ạ', 'Ÿ'] {
            let std: Vec<char> = c.to_lowercase().collect();
            assert_eq!(vec![lower(c)], std, "{c}");
        }
    }

    #[test]
    fn word_chars_agree_with_std_on_common_scripts() {
        for c in "azAZ09éßøłжщΩאبक가ệ".chars() {
            assert!(is_word(c), "{c}");
            assert_eq!(is_word(c), c.is_alphanumeric(), "{c}");
        }
        for c in " ,.!?;:'\"()[]{}<>/@#$%^&*-_=+|~`×÷«»—…".chars() {
            assert!(!is_word(c), "{c:?}");
        }
    }

    #[test]
    fn truncation_is_reported() {
        let long = "a".repeat(MAX_INPUT_CHARS + 10);
        let mut v = Vec::new();
        assert!(normalize_into(&long, &mut v));
        assert_eq!(v.len(), MAX_INPUT_CHARS);
        assert!(!normalize_into("short", &mut v));
    }

    #[test]
    fn tokens_split_by_script_and_track_adjacency() {
        let chars: Vec<char> = normalize("订单12345的快递, where is it 👍")
            .chars()
            .collect();
        let mut toks = Vec::new();
        for_each_token(&chars, |t| toks.push(t));
        let text: Vec<String> = toks
            .iter()
            .map(|t| chars[t.start..t.end].iter().collect())
            .collect();
        assert_eq!(text, ["订单", "12345", "的快递", "where", "is", "it", "👍"]);
        assert!(!toks[3].joined, "comma breaks adjacency");
        assert!(toks[4].joined);
    }
}
