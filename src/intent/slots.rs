//! Rule-based slots: order numbers, quantities, price constraints and product
//! mentions. Rules, not a learned tagger: the patterns are few, bilingual
//! keyword lists are small, and a wrong slot is easy to explain and fix.
//!
//! All rules run on the normalized text (lowercase, full-width folded), so
//! "１００元以内" and "100元以内" behave the same.

use serde::Serialize;

pub use super::titles::ProductMention;
use super::titles::TitleIndex;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Slots {
    /// Order references: digit runs of 5+ digits (4+ after "#" or an order
    /// keyword) and letter+digit codes with 5+ digits, ASCII letters uppercased.
    pub order_numbers: Vec<String>,
    pub quantities: Vec<Quantity>,
    pub price: Option<PriceSlot>,
    /// Catalogue items whose titles the text mentions (needs a title index).
    pub products: Vec<ProductMention>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quantity {
    pub value: u32,
    /// The unit as written ("件", "pairs"), normalized.
    pub unit: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceSlot {
    /// Lower bound ("over 50", "100元以上", the low end of "50-80").
    pub min: Option<f32>,
    /// Upper bound ("under $50", "100元以内", "cheaper than 30").
    pub max: Option<f32>,
    /// An amount mentioned without a bound ("around 200", "the 99 one").
    pub amount: Option<f32>,
    /// ISO code guessed from the symbol or word ("USD" for "$", "CNY" for 元/块/¥).
    pub currency: Option<String>,
    /// The shopper wants something cheaper ("cheaper", "便宜点", "太贵了").
    pub cheaper: bool,
    /// The shopper wants something pricier / higher-end.
    pub more_expensive: bool,
}

const CHEAPER: &[&str] = &[
    "cheaper",
    "cheapest",
    "lowest price",
    "less expensive",
    "more affordable",
    "lower price",
    "cheap",
    "inexpensive",
    "budget",
    "affordable",
    "bargain",
    "too expensive",
    "too pricey",
    "便宜",
    "实惠",
    "平价",
    "低价",
    "划算",
    "性价比",
    "省钱",
    "太贵",
    "贵了",
];
const PRICIER: &[&str] = &[
    "more expensive",
    "pricier",
    "higher end",
    "high end",
    "high-end",
    "premium",
    "fancier",
    "更贵",
    "贵一点",
    "贵点",
    "贵一些",
    "高端",
    "高档",
    "更好的",
];
const MAX_BEFORE: &[&str] = &[
    "under",
    "below",
    "less than",
    "cheaper than",
    "no more than",
    "not more than",
    "at most",
    "max",
    "up to",
    "within",
    "lower than",
    "budget",
    "no more",
    "不超过",
    "低于",
    "少于",
    "不到",
    "最多",
    "预算",
    "以内",
    "不高于",
    "小于",
];
const MAX_AFTER: &[&str] = &[
    "以内", "以下", "之内", "内", "or less", "or under", "or below", "max", "tops", "封顶", "之下",
];
const MIN_BEFORE: &[&str] = &[
    "over",
    "above",
    "more than",
    "at least",
    "higher than",
    "starting at",
    "超过",
    "高于",
    "至少",
    "不低于",
    "大于",
    "多于",
];
const MIN_AFTER: &[&str] = &["以上", "or more", "+", "起", "plus", "and up", "or above"];
const CURRENCY_AFTER: &[(&str, &str)] = &[
    ("块钱", "CNY"),
    ("元", "CNY"),
    ("块", "CNY"),
    ("rmb", "CNY"),
    ("yuan", "CNY"),
    ("cny", "CNY"),
    ("美元", "USD"),
    ("美金", "USD"),
    ("刀", "USD"),
    ("dollars", "USD"),
    ("dollar", "USD"),
    ("bucks", "USD"),
    ("usd", "USD"),
    ("euros", "EUR"),
    ("euro", "EUR"),
    ("eur", "EUR"),
    ("欧元", "EUR"),
    ("pounds", "GBP"),
    ("gbp", "GBP"),
    ("英镑", "GBP"),
];
const CJK_UNITS: &str = "件个双条套盒瓶包台支只份张本箱袋对副桶罐片";
const WORD_UNITS: &[&str] = &[
    "pcs", "pc", "pieces", "piece", "items", "item", "units", "unit", "pairs", "pair", "packs",
    "pack", "boxes", "box", "bottles", "bottle", "sets", "set", "bags", "bag", "packets",
];
const ORDER_WORDS: &[&str] = &[
    "order",
    "订单",
    "单号",
    "order no",
    "order number",
    "order #",
    "no",
    "#",
    "订单号",
];
const PHONE_WORDS: &[&str] = &["phone", "tel", "mobile", "手机", "电话", "call"];

/// A number found in the text.
#[derive(Clone, Copy, Debug)]
struct Num {
    start: usize,
    end: usize,
    value: f64,
    digits: usize,
    integer: bool,
}

// Keyword matching works on the normalized `&[char]` directly: no String
// building, no substring-search machinery in the wasm.

#[inline(never)]
fn kw_len(kw: &str) -> usize {
    kw.chars().count()
}

#[inline(never)]
fn starts_at(c: &[char], i: usize, kw: &str) -> bool {
    for (j, k) in (i..).zip(kw.chars()) {
        if c.get(j) != Some(&k) {
            return false;
        }
    }
    true
}

#[inline(never)]
fn alnum_at(c: &[char], i: usize) -> bool {
    c.get(i).is_some_and(|x| x.is_ascii_alphanumeric())
}

/// `kw` at `i`; ASCII keywords must not be glued to other ASCII letters/digits.
#[inline(never)]
fn word_at(c: &[char], i: usize, kw: &str) -> bool {
    starts_at(c, i, kw)
        && (!kw.is_ascii() || (!alnum_at(c, i + kw_len(kw)) && (i == 0 || !alnum_at(c, i - 1))))
}

/// `kw` ending exactly at `i` (exclusive), with a word start for ASCII keywords.
#[inline(never)]
fn word_ends_at(c: &[char], i: usize, kw: &str) -> bool {
    let n = kw_len(kw);
    i >= n && starts_at(c, i - n, kw) && (!kw.is_ascii() || i == n || !alnum_at(c, i - n - 1))
}

/// The first-character test skips almost every position before the full
/// keyword comparison (a third of a 40-character match's time went to
/// `starts_at` calls from here).
#[inline(never)]
fn contains(c: &[char], a: usize, b: usize, kw: &str) -> bool {
    let n = kw_len(kw);
    let first = kw.chars().next();
    (a..b)
        .any(|i| i + n <= b && (first.is_none() || c.get(i).copied() == first) && word_at(c, i, kw))
}

#[inline(never)]
pub(crate) fn any_in(c: &[char], a: usize, b: usize, kws: &[&str]) -> bool {
    kws.iter().any(|k| contains(c, a, b, k))
}

#[inline(never)]
fn in_set(c: char, set: &str) -> bool {
    set.chars().any(|x| x == c)
}

fn skip_fwd(c: &[char], mut i: usize) -> usize {
    while c.get(i) == Some(&' ') {
        i += 1;
    }
    i
}

fn skip_back(c: &[char], mut i: usize, also: &str) -> usize {
    while i > 0 && (c[i - 1] == ' ' || in_set(c[i - 1], also)) {
        i -= 1;
    }
    i
}

/// The currency word starting at `i`, with its length.
#[inline(never)]
fn currency_word(c: &[char], i: usize) -> Option<(usize, &'static str)> {
    CURRENCY_AFTER
        .iter()
        .find(|(w, _)| word_at(c, i, w))
        .map(|(w, code)| (kw_len(w), *code))
}

#[inline(never)]
fn find_numbers(chars: &[char]) -> Vec<Num> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let (mut mant, mut frac, mut digits, mut integer) = (0f64, 0i32, 0usize, true);
        while i < chars.len() {
            let c = chars[i];
            if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
                mant = mant * 10.0 + d as f64;
                digits += 1;
                if !integer {
                    frac += 1;
                }
                i += 1;
            } else if c == ','
                && (1..4).all(|k| chars.get(i + k).is_some_and(|c| c.is_ascii_digit()))
                && !chars.get(i + 4).is_some_and(|c| c.is_ascii_digit())
            {
                i += 1;
            } else if c == '.' && integer && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                integer = false;
                i += 1;
            } else {
                break;
            }
        }
        out.push(Num {
            start,
            end: i,
            value: mant / 10f64.powi(frac),
            digits,
            integer,
        });
    }
    out
}

/// A quantity already bounded by its caller (range 1..=9999, or at most four
/// digits): the float-to-int `as` saturates, so even a stray value cannot wrap.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "callers bound the value to 0..=9999; `as` saturates"
)]
fn small_count(v: f64) -> u32 {
    v as u32
}

/// A parsed price as the slot API's f32. Rounding to f32 is the intended
/// precision; a value beyond f32's range becomes infinite and callers drop it.
#[allow(
    clippy::cast_possible_truncation,
    reason = "f64 to f32 rounding is intended; non-finite results are filtered by callers"
)]
fn price_f32(v: f64) -> f32 {
    v as f32
}

/// Value of a Chinese numeral character: 一..九 (两 = 2) and 十 = 10.
fn cn_value(c: char) -> Option<u32> {
    "一二三四五六七八九十"
        .chars()
        .zip(1u32..)
        .find_map(|(x, v)| (x == c).then_some(v))
        .or((c == '两').then_some(2))
}

/// Parses a Chinese numeral of up to two digits ("三", "十二", "二十五").
fn cn_number(w: &[char]) -> Option<u32> {
    let v: Vec<u32> = w.iter().map(|&c| cn_value(c)).collect::<Option<_>>()?;
    match v[..] {
        [a] => Some(a),
        [10, b] if b < 10 => Some(10 + b),
        [a, 10] if a < 10 => Some(a * 10),
        [a, 10, b] if a < 10 && b < 10 => Some(a * 10 + b),
        _ => None,
    }
}

fn is_cn_numeral(c: char) -> bool {
    cn_value(c).is_some()
}

const CURRENCY_SYMBOLS: &str = "$¥€£";

/// Extracts all slots from normalized `chars`.
pub fn extract(chars: &[char], titles: Option<&TitleIndex>) -> Slots {
    let c = chars;
    let mut slots = Slots::default();
    let nums = find_numbers(c);
    let mut price = PriceSlot::default();
    let mut has_price = false;
    let mut skip_next = false;

    for (k, n) in nums.iter().enumerate() {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        let attached_letter = n.start > 0 && c[n.start - 1].is_ascii_alphabetic();
        // Letter+digit codes ("so20240517"): the whole alphanumeric word.
        if attached_letter || c.get(n.end).is_some_and(|x| x.is_ascii_alphabetic()) {
            let mut a = n.start;
            while a > 0 && (c[a - 1].is_ascii_alphanumeric() || c[a - 1] == '-') {
                a -= 1;
            }
            let mut b = n.end;
            while b < c.len() && (c[b].is_ascii_alphanumeric() || c[b] == '-') {
                b += 1;
            }
            let word = &c[a..b];
            let digit_count = word.iter().filter(|x| x.is_ascii_digit()).count();
            let first_run = !c[a..n.start].iter().any(|x| x.is_ascii_digit());
            if first_run && digit_count >= 5 && word.iter().any(|x| x.is_ascii_alphabetic()) {
                push_unique(
                    &mut slots.order_numbers,
                    word.iter().map(|x| x.to_ascii_uppercase()).collect(),
                );
            }
            if attached_letter {
                continue;
            }
        }
        let pre_end = skip_back(c, n.start, "");
        let prev_char = pre_end.checked_sub(1).map(|i| c[i]);
        let pre_trim = skip_back(c, n.start, CURRENCY_SYMBOLS);
        let pre_lo = n.start.saturating_sub(16);
        let r = skip_fwd(c, n.end);
        let mut currency: Option<&str> = match prev_char {
            Some('$') => Some("USD"),
            Some('¥') => Some("CNY"),
            Some('€') => Some("EUR"),
            Some('£') => Some("GBP"),
            _ => None,
        };
        let cur_after = currency_word(c, r);
        let after_cur = cur_after.map_or(r, |(len, _)| skip_fwd(c, r + len));
        if currency.is_none() {
            currency = cur_after.map(|(_, code)| code);
        }
        if currency.is_none() {
            if word_ends_at(c, pre_end, "rmb") {
                currency = Some("CNY");
            } else if word_ends_at(c, pre_end, "usd") {
                currency = Some("USD");
            }
        }
        // Quantity?
        if currency.is_none() && n.integer {
            let unit = c
                .get(r)
                .filter(|x| in_set(**x, CJK_UNITS))
                .map(|x| x.to_string())
                .or_else(|| {
                    WORD_UNITS
                        .iter()
                        .find(|w| word_at(c, r, w))
                        .map(|w| w.to_string())
                });
            if let Some(unit) = unit {
                if (1.0..=9999.0).contains(&n.value) {
                    slots.quantities.push(Quantity {
                        value: small_count(n.value),
                        unit,
                    });
                }
                continue;
            }
            let qty_prefix = ["qty", "quantity", "数量", "x"]
                .iter()
                .any(|w| word_ends_at(c, pre_end, w));
            if qty_prefix && n.digits <= 4 {
                slots.quantities.push(Quantity {
                    value: small_count(n.value),
                    unit: String::new(),
                });
                continue;
            }
        }
        let min_after = MIN_AFTER.iter().any(|w| starts_at(c, after_cur, w));
        let max_kw = !min_after
            && (any_in(c, pre_lo, pre_trim, MAX_BEFORE)
                || MAX_AFTER.iter().any(|w| word_at(c, after_cur, w)));
        let min_kw = min_after || any_in(c, pre_lo, pre_trim, MIN_BEFORE);
        // Range "A-B", "A到B", "between A and B": the next number closes it.
        let range = nums.get(k + 1).filter(|m| {
            let mut a = n.end;
            while a < m.start && (c[a] == ' ' || in_set(c[a], CURRENCY_SYMBOLS)) {
                a += 1;
            }
            if let Some((len, _)) = currency_word(c, a) {
                a = skip_fwd(c, a + len);
            }
            let b = skip_back(c, m.start, CURRENCY_SYMBOLS).max(a);
            let connector = ["-", "~", "到", "至", "to", "and", "—"]
                .iter()
                .any(|w| b - a == kw_len(w) && starts_at(c, a, w));
            connector
                && (currency.is_some()
                    || currency_word(c, skip_fwd(c, m.end)).is_some()
                    || any_in(c, pre_lo, pre_end, &["between", "price", "价格", "价位"]))
        });
        let range =
            range.filter(|m| price_f32(n.value).is_finite() && price_f32(m.value).is_finite());
        if let Some(m) = range {
            price.min = Some(price_f32(n.value));
            price.max = Some(price_f32(m.value));
            has_price = true;
            skip_next = true;
            let cur =
                currency.or_else(|| currency_word(c, skip_fwd(c, m.end)).map(|(_, code)| code));
            if let Some(cur) = cur {
                price.currency = Some(cur.to_string());
            }
            continue;
        }
        let pricey = currency.is_some() || max_kw || min_kw;
        // "under $999…9" (400 digits) is no price a shop can filter by: a
        // value that is not a finite f32 gives no price slot at all rather
        // than `max: Infinity`.
        let finite = price_f32(n.value).is_finite();
        if pricey && finite && !(n.integer && n.digits >= 5 && currency.is_none()) {
            has_price = true;
            if let Some(cur) = currency {
                price.currency = Some(cur.to_string());
            }
            let v = price_f32(n.value);
            if max_kw {
                price.max = Some(v);
            } else if min_kw {
                price.min = Some(v);
            } else {
                price.amount = Some(v);
            }
            continue;
        }
        // Order number?
        let keyword = ORDER_WORDS.iter().any(|w| word_ends_at(c, pre_end, w));
        let phone = any_in(c, pre_lo, pre_end, PHONE_WORDS);
        if n.integer && !phone && (n.digits >= 5 || (n.digits >= 4 && keyword)) {
            push_unique(
                &mut slots.order_numbers,
                c[n.start..n.end].iter().filter(|x| **x != ',').collect(),
            );
        }
    }

    cn_quantities(c, &mut slots.quantities);

    price.cheaper = any_in(c, 0, c.len(), CHEAPER) && !contains(c, 0, c.len(), "not cheap");
    price.more_expensive = any_in(c, 0, c.len(), PRICIER);
    if has_price || price.cheaper || price.more_expensive {
        slots.price = Some(price);
    }
    if let Some(t) = titles {
        slots.products = t.lookup(c);
    }
    slots
}

/// Chinese-numeral quantities: "两件", "三双" (but "第三件" is an ordinal).
#[inline(never)]
fn cn_quantities(c: &[char], out: &mut Vec<Quantity>) {
    let mut i = 0;
    while i < c.len() {
        if !is_cn_numeral(c[i]) {
            i += 1;
            continue;
        }
        let a = i;
        while i < c.len() && is_cn_numeral(c[i]) && i - a < 3 {
            i += 1;
        }
        if let (Some(v), Some(&u)) = (cn_number(&c[a..i]), c.get(i)) {
            if in_set(u, CJK_UNITS) && !(a > 0 && c[a - 1] == '第') {
                out.push(Quantity {
                    value: v,
                    unit: u.to_string(),
                });
            }
        }
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::normalize::normalize;

    fn slots(text: &str) -> Slots {
        let chars: Vec<char> = normalize(text).chars().collect();
        extract(&chars, None)
    }

    #[test]
    fn order_numbers_in_both_languages() {
        assert_eq!(slots("where is my order 12345").order_numbers, ["12345"]);
        assert_eq!(slots("订单号12345的快递到哪了").order_numbers, ["12345"]);
        assert_eq!(
            slots("订单号：１２３４５６７８").order_numbers,
            ["12345678"]
        );
        assert_eq!(slots("order #4321 still not here").order_numbers, ["4321"]);
        assert_eq!(
            slots("my order so20240517 hasnt shipped").order_numbers,
            ["SO20240517"]
        );
        assert!(slots("order 12 items").order_numbers.is_empty());
        assert!(slots("call me at phone 13800138000")
            .order_numbers
            .is_empty());
    }

    #[test]
    fn quantities_with_units() {
        let q = slots("我要买3件").quantities;
        assert_eq!(
            q,
            [Quantity {
                value: 3,
                unit: "件".into()
            }]
        );
        let q = slots("can I order 2 pairs and 10 pcs").quantities;
        assert_eq!(q.iter().map(|q| q.value).collect::<Vec<_>>(), [2, 10]);
        let q = slots("两件一起买有优惠吗").quantities;
        assert_eq!(
            q,
            [Quantity {
                value: 2,
                unit: "件".into()
            }]
        );
        assert!(slots("第三件半价").quantities.is_empty());
    }

    #[test]
    fn price_bounds_and_directions() {
        let p = slots("running shoes under $50").price.unwrap();
        assert_eq!(
            (p.max, p.min, p.currency.as_deref()),
            (Some(50.0), None, Some("USD"))
        );
        let p = slots("100元以内的连衣裙").price.unwrap();
        assert_eq!((p.max, p.currency.as_deref()), (Some(100.0), Some("CNY")));
        let p = slots("200块以上的").price.unwrap();
        assert_eq!(p.min, Some(200.0));
        assert_eq!(p.max, None);
        let p = slots("something between 20 and 40 dollars").price.unwrap();
        assert_eq!((p.min, p.max), (Some(20.0), Some(40.0)));
        let p = slots("50-80元的有吗").price.unwrap();
        assert_eq!((p.min, p.max), (Some(50.0), Some(80.0)));
        let p = slots("something like this but cheaper").price.unwrap();
        assert!(p.cheaper && !p.more_expensive && p.max.is_none());
        assert!(slots("有没有便宜点的").price.unwrap().cheaper);
        assert!(slots("有更高端一点的吗").price.unwrap().more_expensive);
        assert!(slots("where is my order").price.is_none());
        // Issue #13 item 4: 400 nines overflow f32; no `max: Infinity`.
        let nines = format!("under ${}", "9".repeat(400));
        let s = slots(&nines);
        assert!(s.price.is_none(), "{:?}", s.price);
        let s = slots(&format!("between {} and 5 dollars", "9".repeat(60)));
        assert!(s
            .price
            .is_none_or(|p| p.min.is_none_or(f32::is_finite) && p.max.is_none_or(f32::is_finite)));
        assert_eq!(
            slots("under $99999999").price.unwrap().max,
            Some(99999999.0)
        );
        let p = slots("it costs $49.99?").price.unwrap();
        assert_eq!(p.amount, Some(49.99));
    }
}
