//! PII masking for questions a storefront forwards to a human agent:
//! phone numbers, e-mail addresses, card numbers and their security codes,
//! Chinese resident ID and passport numbers, and street addresses (Chinese,
//! English, and European with their postcodes) become `[phone]`,
//! `[email]`, `[card]`, `[id_number]`, `[address]`. Personal names are not
//! masked (no rule tells "Mark" the name from "mark" the verb).
//!
//! Order numbers are what an agent needs, so digit runs are masked only on
//! evidence: a Luhn-valid 13–19 digit run (a card), an ID check digit and
//! birth date (an ID number), a phone shape (a `+` prefix, brackets or
//! groups of 7–15 digits with a last group of at least 4, a trunk 0 and
//! groups of 2–3 as in "06 12 34 56 78", a Chinese mobile `1[3-9]` + 9
//! digits) or a cue before it (a phone word: "tel", "call", "手机", "电话";
//! "CVV", "安全码" for a 3–4 digit code; "passport", "护照"). The first
//! number after an order word ("order", "#", "订单", "单号", "运单",
//! "tracking") is never masked, nor an amount (`¥`, `元`).
//! Rules, not a model: a linear char scan over the original text (the
//! output keeps everything else byte for byte); docs/intent.md has the
//! table of what is masked and kept, and why.

/// What a masked span was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pii {
    Phone,
    Email,
    Card,
    Address,
    /// An identity document's number: a Chinese resident ID (18
    /// characters, a valid check digit and birth date) or a passport
    /// number after its cue. Names the person as surely as a phone does.
    IdNumber,
}

impl Pii {
    const ALL: [Pii; 5] = [
        Pii::Phone,
        Pii::Email,
        Pii::Card,
        Pii::Address,
        Pii::IdNumber,
    ];

    fn token(self) -> &'static str {
        ["[phone]", "[email]", "[card]", "[address]", "[id_number]"][self as usize]
    }
}

/// `text` with every phone number, e-mail address, card-like number and
/// street address replaced by a bracketed token.
pub fn redact(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (&ch, &t) in c.iter().zip(&tags(&c)) {
        match t {
            FREE => out.push(ch),
            INSIDE => {}
            k => out.push_str(Pii::ALL.get(usize::from(k)).map_or("", |p| p.token())),
        }
    }
    out
}

/// Non-overlapping `(start, end, kind)` spans in char indices, in order.
/// Earlier detectors win: an e-mail's digits are not a phone.
pub fn find(c: &[char]) -> Vec<(usize, usize, Pii)> {
    let t = tags(c);
    let mut out: Vec<(usize, usize, Pii)> = Vec::new();
    for (i, &k) in t.iter().enumerate() {
        match (k, out.last_mut()) {
            (INSIDE, Some(l)) => l.1 = i + 1,
            (FREE | INSIDE, _) => {}
            (k, _) => out.push((i, i + 1, Pii::ALL[usize::from(k)])),
        }
    }
    out
}

/// Per char: `FREE`, the `Pii` index of a span starting there, or `INSIDE`.
/// The spans are marked in place, so no list of spans is kept or sorted.
fn tags(c: &[char]) -> Vec<u8> {
    let mut f = Found {
        tag: vec![FREE; c.len()],
    };
    emails(c, &mut f);
    addresses_en(c, &mut f);
    addresses_zh(c, &mut f);
    passports(c, &mut f);
    numbers(c, &mut f);
    f.tag
}

const FREE: u8 = 0xFF;
const INSIDE: u8 = 0xFE;

/// The chars covered so far. Checking a candidate costs its own length,
/// not the number of spans (a scan of a span list was quadratic: a 10 MB
/// paste of e-mail addresses would not finish).
struct Found {
    tag: Vec<u8>,
}

impl Found {
    /// Keeps `a..b` unless an earlier span covers part of it.
    #[inline(never)]
    fn add(&mut self, a: usize, b: usize, kind: Pii) {
        if let Some([first, rest @ ..]) = self.tag.get_mut(a..b) {
            if *first == FREE && rest.iter().all(|&t| t == FREE) {
                *first = kind as u8;
                rest.fill(INSIDE);
            }
        }
    }
}

/// ASCII or full-width digit value.
fn digit(ch: char) -> Option<u32> {
    match ch {
        '0'..='9' => Some(ch as u32 - '0' as u32),
        '０'..='９' => Some(ch as u32 - '０' as u32),
        _ => None,
    }
}

fn is_email_local(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '%' | '+' | '-')
}

fn is_email_domain(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '.' || ch == '-'
}

fn emails(c: &[char], spans: &mut Found) {
    for at in 0..c.len() {
        if c[at] != '@' && c[at] != '＠' {
            continue;
        }
        let mut a = at;
        while a > 0 && is_email_local(c[a - 1]) {
            a -= 1;
        }
        let mut b = at + 1;
        while b < c.len() && is_email_domain(c[b]) {
            b += 1;
        }
        // A trailing dot ends the sentence, not the domain.
        while b > at + 1 && c[b - 1] == '.' {
            b -= 1;
        }
        let domain = &c[at + 1..b];
        let tld = domain
            .iter()
            .rposition(|&x| x == '.')
            .map(|p| &domain[p + 1..]);
        let ok = a < at
            && tld.is_some_and(|t| t.len() >= 2 && t.iter().all(|x| x.is_ascii_alphabetic()));
        if ok {
            spans.add(a, b, Pii::Email);
        }
    }
}

/// ASCII-lowercased `c[a..b]` is one of the words of `list` (lowercase
/// ASCII, each followed by a space): one string, not a table of slices.
#[inline(never)]
fn word_in(c: &[char], a: usize, b: usize, list: &str) -> bool {
    let (mut k, mut ok) = (0, true);
    for &x in list.as_bytes() {
        if x == b' ' {
            if ok && a + k == b {
                return true;
            }
            (k, ok) = (0, true);
        } else {
            ok &= a + k < b
                && c.get(a + k)
                    .is_some_and(|ch| ch.to_ascii_lowercase() == char::from(x));
            k += 1;
        }
    }
    false
}

/// Words ending an English street name (lowercase, without a final dot).
const STREET_SUFFIX: &str = "street st avenue ave road rd boulevard blvd lane ln drive dr court ct way place pl terrace parkway pkwy highway hwy square sq crescent close circle cir loop trail plaza alley ";
/// Words that cannot be part of a street name: "2 items on Main Street" is
/// a sentence.
const STOP_WORDS: &str = "on at in to from for of the and or my near by with is ";
const UNIT_WORDS: &str = "apt apartment suite ste unit flat floor room ";

/// Token boundaries of ASCII-ish words (letters/digits runs) with positions.
fn words(c: &[char]) -> Vec<(usize, usize)> {
    let mut w = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_ascii_alphanumeric() || digit(c[i]).is_some() {
            let a = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || digit(c[i]).is_some()) {
                i += 1;
            }
            w.push((a, i));
        } else {
            i += 1;
        }
    }
    w
}

/// "221B Baker Street", "1600 Amphitheatre Parkway, Suite 200",
/// "PO Box 123": a house number, one to four words, a street suffix.
fn addresses_en(c: &[char], spans: &mut Found) {
    let w = words(c);
    let is_num = |k: usize| {
        let (a, b) = w[k];
        digit(c[a]).is_some()
            && b - a <= 6
            && c[a..b].iter().filter(|x| digit(**x).is_some()).count() <= 5
    };
    let gap_ok = |k: usize| {
        // Words of an address are separated by spaces (or a comma before a unit).
        let (_, b) = w[k];
        let (a2, _) = w[k + 1];
        c[b..a2].iter().all(|&x| x == ' ' || x == '.' || x == ',') && a2 - b <= 3
    };
    let mut k = 0;
    while k < w.len() {
        // "PO Box 12" / "P.O. Box 12": the box word and its number.
        let bx = if word_in(c, w[k].0, w[k].1, "po ") {
            k + 1
        } else if word_in(c, w[k].0, w[k].1, "p ")
            && w.get(k + 1).is_some_and(|&(a, b)| word_in(c, a, b, "o "))
        {
            k + 2
        } else {
            0
        };
        if bx > 0 && bx + 1 < w.len() {
            let n2 = w[bx + 1];
            if word_in(c, w[bx].0, w[bx].1, "box ") && digit(c[n2.0]).is_some() {
                spans.add(w[k].0, n2.1, Pii::Address);
                k = bx + 2;
                continue;
            }
        }
        if !is_num(k) {
            k += 1;
            continue;
        }
        // "Invalidenstraße 117, 10115 Berlin", "Kalverstraat 92": the
        // street name first, then the house number and a postcode tail.
        if let Some(a) = street_before(c, w[k].0) {
            let e = w[k].1;
            spans.add(a, tail(c, e).0, Pii::Address);
            k += 1;
            continue;
        }
        // One to four name words, then a street suffix ("Baker Street"),
        // or capitalised words and a US city/state/ZIP ("1500 Broadway,
        // New York, NY"). Ordinals ("5th Ave") are names; a function word
        // ("2 items on Main Street") means a sentence, not an address.
        let mut found = None;
        let mut capital = false;
        for (j, &(a, b)) in w.iter().enumerate().take(k + 5).skip(k + 1) {
            let ordinal = b - a >= 3 && word_in(c, b - 2, b, "st nd rd th ");
            if !gap_ok(j - 1)
                || (c[a..b].iter().any(|x| digit(*x).is_some()) && !ordinal)
                || word_in(c, a, b, STOP_WORDS)
            {
                break;
            }
            if j > k + 1 && word_in(c, a, b, STREET_SUFFIX) {
                found = Some(j);
                break;
            }
            let upper = c[a].is_ascii_uppercase();
            capital |= upper;
            if upper && tail(c, b).1 {
                found = Some(j);
                break;
            }
        }
        // "4 wheel drive": a one-digit number before lowercase words is a
        // quantity more often than a house.
        let Some(s) = found.filter(|_| capital || w[k].1 - w[k].0 > 1) else {
            k += 1;
            continue;
        };
        let mut end = w[s].1;
        if c.get(end) == Some(&'.') {
            end += 1;
        }
        // ", Apt 4B" / "Suite 200" after the street.
        if s + 2 < w.len()
            && gap_ok(s)
            && word_in(c, w[s + 1].0, w[s + 1].1, UNIT_WORDS)
            && gap_ok(s + 1)
        {
            end = w[s + 2].1;
        }
        // ", Mountain View, CA 94043": a US city, state and ZIP close the
        // address, or a city and a UK postcode, or a European postcode and
        // its city (a bare ", London" stays: it names no door).
        end = tail(c, end).0;
        // "Apt 4B, 123 Main St.": the unit written before the street.
        let mut start = w[k].0;
        if k >= 2
            && word_in(c, w[k - 2].0, w[k - 2].1, UNIT_WORDS)
            && c[w[k - 1].0..w[k - 1].1]
                .iter()
                .any(|x| digit(*x).is_some())
            && gap_ok(k - 2)
            && gap_ok(k - 1)
        {
            start = w[k - 2].0;
        }
        spans.add(start, end, Pii::Address);
        k = s + 1;
    }
}

/// German and Dutch street words, ending a street name written before its
/// house number.
const STREET_EU: &str = "straße strasse str. weg gasse platz allee straat laan gracht plein kade";

/// Start of the street name ending at the space before `i`: a capitalised
/// word that ends in a word of `STREET_EU` and is longer than it
/// ("Invalidenstraße", "Hauptstr.", "Kalverstraat"; not "Weg" alone).
fn street_before(c: &[char], i: usize) -> Option<usize> {
    let e = i.checked_sub(1).filter(|&e| c.get(e) == Some(&' '))?;
    let mut a = e;
    while a > 0 && (latin(c[a - 1]) || c[a - 1] == '.') {
        a -= 1;
    }
    // Walk the list backwards, comparing each word with the name's end.
    let (mut m, mut ok) = (0, true);
    for x in STREET_EU.chars().rev().chain([' ']) {
        if x == ' ' {
            if ok && m > 0 && e - a > m && c[a].is_ascii_uppercase() {
                return Some(a);
            }
            (m, ok) = (0, true);
        } else {
            m += 1;
            ok &= e
                .checked_sub(m)
                .and_then(|q| c.get(q))
                .is_some_and(|y| y.to_ascii_lowercase() == x);
        }
    }
    None
}

/// A letter of a European street or city name: ASCII, or Latin-1 and
/// Latin Extended-A/B ("ß", "ö", "é"); no Unicode tables in the wasm.
fn latin(x: char) -> bool {
    x.is_ascii_alphabetic() || ('\u{C0}'..='\u{24F}').contains(&x)
}

/// The place after an address ending at `p`: ", " and up to five words
/// separated by spaces or ", ", each capitalised (a city, "ON") or 2–5
/// capitals and digits (a postcode's parts; a ZIP and its +4): ", Mountain
/// View, CA 94043", ", London SW1A 2AA", ", Ottawa, ON K1A 0B1",
/// ", 10115 Berlin", ", 1012 PH Amsterdam". Returns where it ends (`p` when
/// no word holds a digit: a bare ", London" names no door) and whether it
/// is a postal line on its own — a two-capital state before a ZIP, or 4–5
/// digits before a capitalised city — which makes capitalised words
/// before it an address even without a street word ("1500 Broadway, New
/// York, NY 10036", "12 rue de Rivoli, 75001 Paris").
#[inline(never)]
fn tail(c: &[char], p: usize) -> (usize, bool) {
    let at = |p: usize| c.get(p).copied().unwrap_or('\0');
    let (mut q, mut end, mut digits, mut postal) = (p, p, false, false);
    let (mut caps2, mut num45) = (false, false);
    if at(q) != ',' {
        return (p, false);
    }
    for _ in 0..5 {
        q += usize::from(at(q) == ',');
        if at(q) != ' ' {
            break;
        }
        q += 1;
        let a = q;
        while latin(at(q)) || at(q).is_ascii_digit() || at(q) == '-' {
            q += 1;
        }
        let w = c.get(a..q).unwrap_or_default();
        let nd = w.iter().filter(|x| x.is_ascii_digit()).count();
        let upper = at(a).is_ascii_uppercase();
        let ok = q > a + 1
            && if nd > 0 {
                (q - a <= 5 || (q - a == 10 && at(a + 5) == '-'))
                    && !w.iter().any(char::is_ascii_lowercase)
            } else {
                upper
            };
        if !ok {
            break;
        }
        postal |= (caps2 && nd >= 5) || (num45 && nd == 0);
        caps2 = q - a == 2 && nd == 0 && w.iter().all(char::is_ascii_uppercase);
        num45 = (4..=5).contains(&nd) && nd == q - a;
        digits |= nd > 0;
        end = q;
    }
    if digits {
        (end, postal)
    } else {
        (p, false)
    }
}

fn is_han(ch: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&ch) || ('\u{3400}'..='\u{4DBF}').contains(&ch)
}

const ZH_NUMERALS: &str = "零〇一二三四五六七八九十百千两";
/// Last characters of road words (胡同 by its 同).
const ZH_ROAD: &str = "路街道巷弄里同";
const ZH_UNIT: &str = "号栋幢座楼层室单元区期排户院";
/// Characters that end the leftward scan for the start of a Chinese
/// address: pronouns, verbs and particles that precede one in a sentence.
const ZH_STOP: &str = "我你他她您在是到寄送往发的了吗呢吧请把给和与及或从住址";

/// `set` contains `ch` (a char scan: no substring-search code in the wasm).
#[inline(never)]
fn has(set: &str, ch: char) -> bool {
    set.chars().any(|x| x == ch)
}

#[inline(never)]
fn zh_num_at(c: &[char], i: usize) -> usize {
    let mut j = i;
    while j < c.len() && (digit(c[j]).is_some() || has(ZH_NUMERALS, c[j]) || c[j] == '-') {
        j += 1;
    }
    j - i
}

/// "北京市朝阳区建国路88号", "世纪大道100号3栋501室", "幸福小区3栋2单元501室":
/// a road word + number + 号, or building/room numbers; the span reaches left
/// over the place names before it (up to 20 Han characters, stopping at
/// pronouns and verbs) and right over building, unit and room numbers.
fn addresses_zh(c: &[char], spans: &mut Found) {
    let mut i = 0;
    while i < c.len() {
        let n = zh_num_at(c, i);
        if n == 0 {
            i += 1;
            continue;
        }
        let after = c.get(i + n).copied();
        // A road word, unless it ends a common word: 知道, 味道, 这里, 公里
        // (and 同 only in 胡同).
        let before = |k: usize| i.checked_sub(k).map_or(' ', |p| c[p]);
        let road_before = has(ZH_ROAD, before(1))
            && (before(1) != '同' || before(2) == '胡')
            && !has("知味频难这那哪心家公千", before(2));
        let next = c.get(i + n + 1).copied();
        // Not "第5单元" (a textbook's unit) nor "2室1厅" (a flat's layout).
        let anchored = i.checked_sub(1).is_none_or(|p| c[p] != '第')
            && match after {
                Some('号') => road_before,
                Some('栋') | Some('幢') => true,
                Some('室') => c.get(i + n + 1 + zh_num_at(c, i + n + 1)) != Some(&'厅'),
                Some('单') => next == Some('元'),
                _ => false,
            };
        if !anchored {
            i += n;
            continue;
        }
        let mut a = i;
        let mut steps = 0;
        // Leftwards over place names, and over numbered parts before the
        // anchor ("小区3号楼2单元": the 3 of 3号楼).
        while a > 0
            && steps < 20
            && ((is_han(c[a - 1]) && !has(ZH_STOP, c[a - 1]))
                || (c[a - 1].is_ascii_digit() && (c[a].is_ascii_digit() || has(ZH_UNIT, c[a]))))
        {
            a -= 1;
            steps += 1;
        }
        let mut b = i + n;
        loop {
            let mut j = b;
            while j < c.len() && has(ZH_UNIT, c[j]) {
                j += 1;
            }
            let m = zh_num_at(c, j);
            if j > b {
                b = j;
            }
            if m > 0 && c.get(j + m).is_some_and(|x| has(ZH_UNIT, *x)) {
                b = j + m;
                continue;
            }
            // A building's name after the door number when a block, floor
            // or room follows it: "88号圣爱大厦15楼", "18号德基广场A座".
            let mut h = b;
            while h < b + 10
                && c.get(h)
                    .is_some_and(|&x| is_han(x) && !has(ZH_STOP, x) && !has(ZH_UNIT, x))
            {
                h += 1;
            }
            let mut m = h;
            while m < h + 4 && c.get(m).is_some_and(char::is_ascii_alphanumeric) {
                m += 1;
            }
            if h > b && m > h && c.get(m).is_some_and(|&x| has(ZH_UNIT, x)) {
                b = m;
                continue;
            }
            break;
        }
        // "1单元301", "2号楼502": a bare room number after a unit or
        // building ends the address (not "3楼2件": a quantity follows).
        if b > i + n && has("元楼栋幢座", c[b - 1]) {
            let mut m = 0;
            while c.get(b + m).is_some_and(char::is_ascii_digit) {
                m += 1;
            }
            if (2..=4).contains(&m)
                && !c
                    .get(b + m)
                    .is_some_and(|&x| x.is_ascii_alphanumeric() || has("件个块元米", x))
            {
                b += m;
            }
        }
        spans.add(a, b, Pii::Address);
        i = b.max(i + 1);
    }
}

const PHONE_WORDS: &[&str] = &[
    "phone",
    "tel",
    "mobile",
    "call",
    "cell",
    "whatsapp",
    "wechat",
    "text me",
    "手机",
    "电话",
    "联系方式",
    "号码",
    "微信",
    "致电",
    "打给",
];
const ORDER_WORDS: &[&str] = &[
    "order",
    "tracking",
    "#",
    "订单",
    "单号",
    "运单",
    "快递单",
    "物流单",
    "no.",
];

/// One of `list` within the `span` characters before `i` (ASCII
/// case-insensitive substring match).
fn word_before(c: &[char], i: usize, span: usize, list: &[&str]) -> bool {
    let a = i.saturating_sub(span);
    list.iter().any(|w| {
        (a..i).any(|p| {
            // `w` at `p`, compared char by char (no count of its chars).
            let mut k = p;
            let at_p = w.chars().all(|y| {
                k += 1;
                c.get(k - 1).is_some_and(|x| x.to_ascii_lowercase() == y)
            });
            // No digit between the word and `i`: in "订单号12345678，13800138000"
            // the order word belongs to the first number only. An ASCII cue
            // starts a word: "Bestellnummer" holds no "tel".
            at_p && k <= i
                && !(p > 0 && c[p - 1].is_ascii_alphabetic() && c[p].is_ascii_alphabetic())
                && !c[k..i].iter().any(|x| digit(*x).is_some())
        })
    })
}

const ID_WORDS: &[&str] = &["身份证", "证件", "id card", "id no", "id number"];
/// Words before a card's security code (3–4 digits): card data, `[card]`.
const CVV_WORDS: &[&str] = &["cvv", "cvc", "cvv2", "cvc2", "security code", "安全码"];

/// Words before a passport number.
const PASSPORT_WORDS: &[&str] = &["passport", "护照"];

/// Passport numbers: a token of 6–12 letters and digits with at least 5
/// digits ("E12345678", "C01X00T47", "533380006"; not "2030" nor
/// "35x45") within 20 chars after "passport" / "护照", no other number
/// between. An identity document, so `[id_number]`. Tokens glued to
/// letters are codes to `numbers`, so they are looked at here.
fn passports(c: &[char], spans: &mut Found) {
    let mut i = 0;
    while i < c.len() {
        let mut q = i;
        while c.get(q).is_some_and(char::is_ascii_alphanumeric) {
            q += 1;
        }
        let digits = c[i..q].iter().filter(|x| x.is_ascii_digit()).count();
        if (6..=12).contains(&(q - i)) && digits >= 5 && word_before(c, i, 20, PASSPORT_WORDS) {
            spans.add(i, q, Pii::IdNumber);
        }
        i = q.max(i + 1);
    }
}

/// A Chinese resident ID number (GB 11643): 17 digits and an ISO 7064
/// MOD 11-2 check digit (10 written X), a region code starting 1–8 and a
/// plausible birth date in digits 7–14. The check digit and the date are
/// what tell it from an 18-digit order number (1 in 11 random runs pass
/// the check digit, far fewer with a date in the right place).
fn resident_id(d: &[u32]) -> bool {
    if d.len() != 18 || !(1..=8).contains(&d[0]) {
        return false;
    }
    let num = |a: usize, b: usize| d[a..b].iter().fold(0, |n, &x| n * 10 + x);
    let (year, month, day) = (num(6, 10), num(10, 12), num(12, 14));
    // Weight of digit i is 2^(17-i) mod 11.
    let sum: u32 = d[..17]
        .iter()
        .enumerate()
        .map(|(i, &x)| x * ((1u32 << (17 - i)) % 11))
        .sum();
    (1900..=2099).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (12 - sum % 11) % 11 == d[17]
}

fn luhn(d: &[u32]) -> bool {
    let mut sum = 0;
    for (k, &x) in d.iter().rev().enumerate() {
        let v = if k % 2 == 1 { x * 2 } else { x };
        sum += if v > 9 { v - 9 } else { v };
    }
    sum % 10 == 0
}

/// One run of digits and separators (see `scan`).
struct Run {
    /// The first 20 digits (more is no card, ID or phone; a 10 MB digit run
    /// is scanned, not stored) and how many there were.
    d: [u32; 20],
    n: usize,
    /// Digit groups: how many, the first two and the last.
    groups: usize,
    g0: usize,
    g1: usize,
    last: usize,
    /// Where the leading groups last formed a card (Luhn); 0: nowhere.
    card_end: usize,
    brackets: bool,
    /// A group after the first has 4 or more digits.
    wide: bool,
    /// Where the scan stopped, and where the last digit ends.
    j: usize,
    end: usize,
}

/// Scans the digit run at `j`: digits joined by single spaces, dashes,
/// dots or brackets. Out of line: inlined, the loop was duplicated.
#[inline(never)]
fn scan(c: &[char], mut j: usize) -> Run {
    let mut r = Run {
        d: [0; 20],
        n: 0,
        groups: 0,
        g0: 0,
        g1: 0,
        last: 0,
        card_end: 0,
        brackets: false,
        wide: false,
        j,
        end: j,
    };
    let mut cur = 0usize;
    loop {
        let ch = c.get(j).copied().unwrap_or('\0');
        if let Some(v) = digit(ch) {
            if let Some(x) = r.d.get_mut(r.n) {
                *x = v;
            }
            r.n += 1;
            cur += 1;
            j += 1;
            r.end = j;
            continue;
        }
        if cur > 0 {
            match r.groups {
                0 => r.g0 = cur,
                1 => r.g1 = cur,
                _ => {}
            }
            if (13..=19).contains(&r.n) && luhn(&r.d[..r.n]) {
                r.card_end = r.end;
            }
            r.wide |= r.groups > 0 && cur >= 4;
            r.groups += 1;
            r.last = cur;
            cur = 0;
        }
        let next = c.get(j + 1).copied().unwrap_or('\0');
        if matches!(ch, ' ' | '-' | '.' | '(' | ')' | '（' | '）')
            && (digit(next).is_some() || matches!(next, '(' | '（' | ' '))
            && r.n < 19
            // An unbroken Chinese mobile ends the run ("13800138000 2").
            && !(r.n == 11 && r.groups == 1 && r.d[0] == 1 && r.d[1] >= 3)
        {
            r.brackets |= matches!(ch, '(' | ')' | '（' | '）');
            j += 1;
        } else {
            r.j = j;
            return r;
        }
    }
}

/// Digit runs with phone-like separators: card, phone or left alone.
fn numbers(c: &[char], spans: &mut Found) {
    let mut i = 0;
    while i < c.len() {
        if digit(c[i]).is_none() && !(c[i] == '+' || c[i] == '(' || c[i] == '（') {
            i += 1;
            continue;
        }
        // A digit glued to letters belongs to a code ("SO20240517"), not a phone.
        if i > 0 && c[i - 1].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        let plus = c[i] == '+';
        let Run {
            mut d,
            mut n,
            groups,
            g0,
            g1,
            last,
            card_end,
            brackets,
            wide,
            j,
            mut end,
        } = scan(c, i + usize::from(plus));
        if n == 0 {
            i = j.max(i + 1);
            continue;
        }
        // "CVV 123": a card's security code after its cue.
        if (3..=4).contains(&n) && groups == 1 && word_before(c, start, 16, CVV_WORDS) {
            spans.add(start, end, Pii::Card);
        }
        // Fewer than 7 digits is no phone, card or ID: no context look-up
        // (10 MB of "1,1,1,…" took 9 s of them natively).
        if n < 7 {
            i = end.max(i + 1);
            continue;
        }
        // An ID number's check digit X (value 10) ends the run.
        if n == 17 && matches!(c.get(end), Some('X' | 'x' | 'Ｘ')) {
            d[17] = 10;
            n = 18;
            end += 1;
        }
        if c.get(end).is_some_and(|x| x.is_ascii_alphabetic()) {
            i = end;
            continue;
        }
        let digits = &d[..n.min(20)];
        let order_ctx = word_before(c, start, 14, ORDER_WORDS);
        let phone_ctx = word_before(c, start, 16, PHONE_WORDS);
        let id_ctx = word_before(c, start, 8, ID_WORDS);
        // "¥5000-8000", "5000-8000元", "30%": an amount, not a phone.
        let amount = (start > 0 && has("$¥￥€£", c[start - 1]))
            || c.get(end).is_some_and(|&x| has("元块円%％件个", x));
        let kind = if (order_ctx && !phone_ctx && !id_ctx) || amount {
            None
        } else if resident_id(digits) || (id_ctx && (n == 15 || n == 18)) {
            Some((Pii::IdNumber, end))
        } else if card_end > 0 && !plus {
            // The whole run, or its leading groups when more digits follow
            // ("4111 1111 1111 1111 123" with its CVV).
            Some((Pii::Card, card_end))
        } else if ((7..=15).contains(&n)
            && (plus
                || phone_ctx
                || (groups >= 2
                    && last >= 4
                    && (brackets || g0 >= 2 || groups >= 3)
                    // "11-30-2026", "30.11.2026": a date.
                    && !(groups == 3 && g0 <= 2 && g1 <= 2 && last == 4))
                // "06 12 34 56 78", "079 123 45 67": a trunk 0 and groups
                // of 2–3 ("06.12.2024 10.15" has a 4-digit group: a date).
                || (digits[0] == 0 && g0 >= 2 && groups >= 3 && n >= 9 && !wide)))
            // A Chinese mobile number: 1[3-9] and 9 more digits, unbroken.
            || (n == 11 && groups == 1 && digits[0] == 1 && digits[1] >= 3)
        {
            Some((Pii::Phone, end))
        } else {
            None
        };
        if let Some((k, e)) = kind {
            spans.add(start, e, k);
            end = e;
        }
        i = end.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_what_it_must() {
        let cases = [
            (
                "call me at +1 (555) 123-4567 please",
                "call me at [phone] please",
            ),
            ("my phone is 555-123-4567", "my phone is [phone]"),
            ("手机13812345678，谢谢", "手机[phone]，谢谢"),
            ("电话：020-12345678", "电话：[phone]"),
            ("13912345678 这是我的号", "[phone] 这是我的号"),
            ("+44 20 7946 0958", "[phone]"),
            ("mail me: jane.doe+shop@example.co.uk.", "mail me: [email]."),
            ("邮箱 zhang_san@qq.com 收不到", "邮箱 [email] 收不到"),
            (
                "card 4111 1111 1111 1111 was charged twice",
                "card [card] was charged twice",
            ),
            ("卡号4111-1111-1111-1111扣了两次", "卡号[card]扣了两次"),
            (
                "ship to 221B Baker Street, London",
                "ship to [address], London",
            ),
            (
                "1600 Amphitheatre Parkway, Suite 200 please",
                "[address] please",
            ),
            (
                "send it to 42 Elm St. instead",
                "send it to [address] instead",
            ),
            ("PO Box 1234", "[address]"),
            ("寄到北京市朝阳区建国路88号", "寄到[address]"),
            (
                "我住在上海市浦东新区世纪大道100号3栋501室，能改地址吗",
                "我住在[address]，能改地址吗",
            ),
            ("地址是幸福小区3栋2单元501室", "地址是[address]"),
            ("Tel. 06 12 34 56 78", "Tel. [phone]"),
            ("cvc 987", "cvc [card]"),
            ("护照E12345678", "护照[id_number]"),
            ("Hauptstraße 5a, 10115 Berlin.", "[address]."),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn leaves_what_it_must_not_mask() {
        for keep in [
            "where is my order 12345",
            "order #4111111111111111 has not arrived",
            "订单号 2024051712345678 还没发货",
            "单号13812345678查不到",
            "tracking 9400110200881234567890",
            "my order SO20240517 is late",
            "running shoes under $50, size 42",
            "I want 3 pairs, 2 of them in 10.5",
            "delivered on 2024-05-17 at 10:30",
            "price between 100 and 200 dollars",
            "4111 1111 1111 1112 is not a card number",
            "第3件半价吗",
            "买2件送1件",
            "the 5 best roads for cycling",
            "I live on the main street",
            "路上堵车了3天",
            "email me at the address on file",
            "iphone 15 pro 256gb",
            // A date and a time written with dots: a 4-digit group after
            // the first is no French phone number.
            "am 06.12.2024 10.15 Uhr",
            "Bestellnummer 1234567890 und Hotel 4155552671",
            "the passport expires in 2030, order 12345678",
            "Weg 5",
        ] {
            assert_eq!(redact(keep), keep);
        }
    }

    #[test]
    fn output_keeps_other_text_exactly_and_is_idempotent() {
        let t = "Hi 👋 — order 12345, phone 555-123-4567, 谢谢！";
        let r = redact(t);
        assert_eq!(r, "Hi 👋 — order 12345, phone [phone], 谢谢！");
        assert_eq!(redact(&r), r);
        assert_eq!(redact(""), "");
        let long = "4".repeat(10_000);
        assert_eq!(
            redact(&long),
            long,
            "a 10,000-digit run is no card or phone"
        );
    }

    #[test]
    fn luhn_check() {
        assert!(luhn(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
        assert!(!luhn(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]));
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
    }
}
