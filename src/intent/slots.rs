//! Rule-based slots: order numbers, quantities, price constraints and product
//! mentions. Rules, not a learned tagger: the patterns are few, bilingual
//! keyword lists are small, and a wrong slot is easy to explain and fix.
//!
//! All rules run on the normalized text (lowercase, full-width folded), so
//! "１００元以内" and "100元以内" behave the same.

use serde::Serialize;

use super::titles::TitleIndex;
pub use super::titles::ProductMention;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
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
pub struct Quantity {
    pub value: u32,
    /// The unit as written ("件", "pairs"), normalized.
    pub unit: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
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
    "cheaper", "less expensive", "more affordable", "lower price", "cheap", "inexpensive", "budget",
    "affordable", "bargain", "too expensive", "too pricey", "便宜", "实惠", "平价", "低价", "划算",
    "性价比", "省钱", "太贵", "贵了",
];
const PRICIER: &[&str] = &[
    "more expensive", "pricier", "higher end", "high end", "high-end", "premium", "fancier", "更贵",
    "贵一点", "贵点", "贵一些", "高端", "高档", "更好的",
];
const MAX_BEFORE: &[&str] = &[
    "under", "below", "less than", "cheaper than", "no more than", "not more than", "at most", "max",
    "up to", "within", "lower than", "budget", "no more", "不超过", "低于", "少于", "不到", "最多",
    "预算", "以内", "不高于", "小于",
];
const MAX_AFTER: &[&str] = &[
    "以内", "以下", "之内", "内", "or less", "or under", "or below", "max", "tops", "封顶", "之下",
];
const MIN_BEFORE: &[&str] = &[
    "over", "above", "more than", "at least", "higher than", "starting at", "超过", "高于", "至少",
    "不低于", "大于", "多于",
];
const MIN_AFTER: &[&str] = &["以上", "or more", "+", "起", "plus", "and up", "or above"];
const CURRENCY_AFTER: &[(&str, &str)] = &[
    ("块钱", "CNY"), ("元", "CNY"), ("块", "CNY"), ("rmb", "CNY"), ("yuan", "CNY"), ("cny", "CNY"),
    ("美元", "USD"), ("美金", "USD"), ("刀", "USD"), ("dollars", "USD"), ("dollar", "USD"),
    ("bucks", "USD"), ("usd", "USD"), ("euros", "EUR"), ("euro", "EUR"), ("eur", "EUR"),
    ("欧元", "EUR"), ("pounds", "GBP"), ("gbp", "GBP"), ("英镑", "GBP"),
];
const CJK_UNITS: &str = "件个双条套盒瓶包台支只份张本箱袋对副桶罐片";
const WORD_UNITS: &[&str] = &[
    "pcs", "pc", "pieces", "piece", "items", "item", "units", "unit", "pairs", "pair", "packs", "pack",
    "boxes", "box", "bottles", "bottle", "sets", "set", "bags", "bag", "packets",
];
const ORDER_WORDS: &[&str] = &["order", "订单", "单号", "order no", "order number", "order #", "no", "#", "订单号"];
const PHONE_WORDS: &[&str] = &["phone", "tel", "mobile", "手机", "电话", "call"];

/// A number found in the text.
#[derive(Clone, Debug)]
struct Num {
    start: usize,
    end: usize,
    value: f64,
    digits: usize,
    integer: bool,
}

fn s(chars: &[char]) -> String {
    chars.iter().collect()
}

/// Text of up to `n` chars before `i` (trailing spaces removed).
fn before(chars: &[char], i: usize, n: usize) -> String {
    let a = i.saturating_sub(n);
    s(&chars[a..i]).trim_end().to_string()
}

/// Text of up to `n` chars after `i` (leading spaces removed).
fn after(chars: &[char], i: usize, n: usize) -> String {
    let b = (i + n).min(chars.len());
    s(&chars[i..b]).trim_start().to_string()
}

fn word_boundary_after(rest: &str, kw: &str) -> bool {
    match rest[kw.len()..].chars().next() {
        None => true,
        Some(c) => !(c.is_ascii_alphanumeric()),
    }
}

fn starts_with_word(rest: &str, kw: &str) -> bool {
    rest.starts_with(kw) && (!kw.is_ascii() || word_boundary_after(rest, kw))
}

fn ends_with_word(text: &str, kw: &str) -> bool {
    text.ends_with(kw)
        && (!kw.is_ascii()
            || text[..text.len() - kw.len()]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric()))
}

fn find_numbers(chars: &[char]) -> Vec<Num> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        let mut integer = true;
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                text.push(c);
                i += 1;
            } else if c == ','
                && chars.get(i + 1..i + 4).is_some_and(|d| d.iter().all(|c| c.is_ascii_digit()))
                && !chars.get(i + 4).is_some_and(|c| c.is_ascii_digit())
            {
                i += 1;
            } else if c == '.' && integer && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                text.push('.');
                integer = false;
                i += 1;
            } else {
                break;
            }
        }
        let digits = text.chars().filter(|c| c.is_ascii_digit()).count();
        if let Ok(value) = text.parse::<f64>() {
            out.push(Num {
                start,
                end: i,
                value,
                digits,
                integer,
            });
        }
    }
    out
}

fn cn_digit(c: char) -> Option<u32> {
    Some(match c {
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// Parses a Chinese numeral of up to two digits ("三", "十二", "二十五").
fn cn_number(w: &[char]) -> Option<u32> {
    match w {
        [a] => cn_digit(*a).or((*a == '十').then_some(10)),
        ['十', b] => Some(10 + cn_digit(*b)?),
        [a, '十'] => Some(cn_digit(*a)? * 10),
        [a, '十', b] => Some(cn_digit(*a)? * 10 + cn_digit(*b)?),
        _ => None,
    }
}

fn is_cn_numeral(c: char) -> bool {
    cn_digit(c).is_some() || c == '十'
}

/// Extracts all slots from normalized `chars`.
pub fn extract(chars: &[char], titles: Option<&TitleIndex>) -> Slots {
    let mut slots = Slots::default();
    let nums = find_numbers(chars);
    let mut price = PriceSlot::default();
    let mut has_price = false;
    let mut used_as_range_end = vec![false; nums.len()];

    for (k, n) in nums.iter().enumerate() {
        let prev_char = chars[..n.start].iter().rev().find(|c| **c != ' ').copied();
        let attached_letter = n.start > 0 && chars[n.start - 1].is_alphabetic() && chars[n.start - 1].is_ascii();
        // Letter+digit codes: the whole alphanumeric word.
        if attached_letter || chars.get(n.end).is_some_and(|c| c.is_ascii_alphabetic()) {
            let mut a = n.start;
            while a > 0 && (chars[a - 1].is_ascii_alphanumeric() || chars[a - 1] == '-') {
                a -= 1;
            }
            let mut b = n.end;
            while b < chars.len() && (chars[b].is_ascii_alphanumeric() || chars[b] == '-') {
                b += 1;
            }
            let word = &chars[a..b];
            let digit_count = word.iter().filter(|c| c.is_ascii_digit()).count();
            let has_letter = word.iter().any(|c| c.is_ascii_alphabetic());
            if attached_letter || (has_letter && digit_count >= 5) {
                if has_letter && digit_count >= 5 && n.start == a + word.iter().take_while(|c| !c.is_ascii_digit()).count() {
                    let code: String = word.iter().map(|c| c.to_ascii_uppercase()).collect();
                    if !slots.order_numbers.contains(&code) {
                        slots.order_numbers.push(code);
                    }
                }
                if attached_letter {
                    continue;
                }
            }
        }
        let rest = after(chars, n.end, 12);
        let pre = before(chars, n.start, 16);
        // Currency?
        let mut currency: Option<&str> = match prev_char {
            Some('$') => Some("USD"),
            Some('¥') => Some("CNY"),
            Some('€') => Some("EUR"),
            Some('£') => Some("GBP"),
            _ => None,
        };
        if currency.is_none() {
            currency = CURRENCY_AFTER
                .iter()
                .find(|(w, _)| starts_with_word(&rest, w))
                .map(|(_, c)| *c);
        }
        if currency.is_none() && (ends_with_word(&pre, "rmb") || ends_with_word(&pre, "usd")) {
            currency = Some(if pre.ends_with("rmb") { "CNY" } else { "USD" });
        }
        // Quantity?
        let unit = rest
            .chars()
            .next()
            .filter(|c| CJK_UNITS.contains(*c))
            .map(String::from)
            .or_else(|| WORD_UNITS.iter().find(|w| starts_with_word(&rest, w)).map(|w| w.to_string()));
        if currency.is_none() && n.integer {
            if let Some(u) = unit {
                if n.value >= 1.0 && n.value <= 9999.0 {
                    slots.quantities.push(Quantity {
                        value: n.value as u32,
                        unit: u,
                    });
                }
                continue;
            }
            let qty_prefix = ["qty", "quantity", "数量", "x"].iter().any(|w| ends_with_word(&pre, w));
            if qty_prefix && n.digits <= 4 && !pre.ends_with('#') {
                slots.quantities.push(Quantity {
                    value: n.value as u32,
                    unit: String::new(),
                });
                continue;
            }
        }
        let pre_trim = pre.trim_end_matches(['$', '¥', '€', '£', ' ']);
        let after_cur = CURRENCY_AFTER
            .iter()
            .find(|(cw, _)| starts_with_word(&rest, cw))
            .map(|(cw, _)| rest[cw.len()..].trim_start().to_string())
            .unwrap_or_else(|| rest.clone());
        let min_after = MIN_AFTER.iter().any(|w| starts_with_word(&after_cur, w));
        let max_kw = !min_after
            && (MAX_BEFORE.iter().any(|w| pre_trim.contains(w))
                || MAX_AFTER.iter().any(|w| starts_with_word(&after_cur, w)));
        let min_kw = min_after || MIN_BEFORE.iter().any(|w| pre_trim.contains(w));
        // Range "A-B", "A到B", "between A and B": the next number closes it.
        let range_next = nums.get(k + 1).filter(|m| {
            let mid = s(&chars[n.end..m.start]);
            let mid = mid.trim_matches(|c: char| c == ' ' || "$¥€£".contains(c));
            let mid = CURRENCY_AFTER
                .iter()
                .find(|(cw, _)| mid.starts_with(cw))
                .map(|(cw, _)| mid[cw.len()..].trim())
                .unwrap_or(mid);
            ["-", "~", "到", "至", "to", "and", "—", "－"].contains(&mid)
        });
        let pricey_context = currency.is_some() || max_kw || min_kw;
        let range = range_next.filter(|m| {
            let cur_after_m = CURRENCY_AFTER.iter().any(|(w, _)| starts_with_word(&after(chars, m.end, 8), w));
            currency.is_some() || cur_after_m || ["between", "price", "价格", "价位"].iter().any(|w| pre.contains(w))
        });
        if let Some(m) = range {
            price.min = Some(n.value as f32);
            price.max = Some(m.value as f32);
            if let Some(i) = nums.iter().position(|x| x.start == m.start) {
                used_as_range_end[i] = true;
            }
            has_price = true;
            if currency.is_none() {
                currency = CURRENCY_AFTER.iter().find(|(w, _)| starts_with_word(&after(chars, m.end, 8), w)).map(|(_, c)| *c);
            }
            if let Some(c) = currency {
                price.currency = Some(c.to_string());
            }
            continue;
        }
        if used_as_range_end[k] {
            continue;
        }
        if pricey_context && !(n.integer && n.digits >= 5 && currency.is_none()) {
            has_price = true;
            if let Some(c) = currency {
                price.currency = Some(c.to_string());
            }
            let v = n.value as f32;
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
        let keyword = ORDER_WORDS.iter().any(|w| ends_with_word(&pre, w) || pre.ends_with(w));
        let phone = PHONE_WORDS.iter().any(|w| pre.contains(w));
        if n.integer && !phone && (n.digits >= 5 || (n.digits >= 4 && keyword)) {
            let code = s(&chars[n.start..n.end]).replace(',', "");
            if !slots.order_numbers.contains(&code) {
                slots.order_numbers.push(code);
            }
        }
    }

    // Chinese-numeral quantities: "两件", "三双".
    let mut i = 0;
    while i < chars.len() {
        if is_cn_numeral(chars[i]) {
            let a = i;
            while i < chars.len() && is_cn_numeral(chars[i]) && i - a < 3 {
                i += 1;
            }
            if let (Some(v), Some(&u)) = (cn_number(&chars[a..i]), chars.get(i)) {
                if CJK_UNITS.contains(u) && !(a > 0 && chars[a - 1] == '第') {
                    slots.quantities.push(Quantity {
                        value: v,
                        unit: u.to_string(),
                    });
                }
            }
        } else {
            i += 1;
        }
    }

    let text = s(chars);
    price.cheaper = CHEAPER.iter().any(|w| text.contains(w)) && !text.contains("not cheap");
    price.more_expensive = PRICIER.iter().any(|w| text.contains(w));
    if price.cheaper || price.more_expensive {
        has_price = true;
    }
    if has_price {
        slots.price = Some(price);
    }
    if let Some(t) = titles {
        slots.products = t.lookup(chars);
    }
    slots
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
        assert_eq!(slots("订单号：１２３４５６７８").order_numbers, ["12345678"]);
        assert_eq!(slots("order #4321 still not here").order_numbers, ["4321"]);
        assert_eq!(slots("my order so20240517 hasnt shipped").order_numbers, ["SO20240517"]);
        assert!(slots("order 12 items").order_numbers.is_empty());
        assert!(slots("call me at phone 13800138000").order_numbers.is_empty());
    }

    #[test]
    fn quantities_with_units() {
        let q = slots("我要买3件").quantities;
        assert_eq!(q, [Quantity { value: 3, unit: "件".into() }]);
        let q = slots("can I order 2 pairs and 10 pcs").quantities;
        assert_eq!(q.iter().map(|q| q.value).collect::<Vec<_>>(), [2, 10]);
        let q = slots("两件一起买有优惠吗").quantities;
        assert_eq!(q, [Quantity { value: 2, unit: "件".into() }]);
        assert!(slots("第三件半价").quantities.is_empty());
    }

    #[test]
    fn price_bounds_and_directions() {
        let p = slots("running shoes under $50").price.unwrap();
        assert_eq!((p.max, p.min, p.currency.as_deref()), (Some(50.0), None, Some("USD")));
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
        let p = slots("it costs $49.99?").price.unwrap();
        assert_eq!(p.amount, Some(49.99));
    }
}
