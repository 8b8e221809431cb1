//! Field parsers for what storefront exports actually hold: ISO-8601 or
//! unix timestamps in any of four units, prices with currency symbols and
//! either decimal separator, and stock / availability words.
//!
//! Each parser reads one field into a raw value that keeps every reading
//! the text allows; a column-wide decision ([`TimeColumn`],
//! [`PriceColumn`]) then picks one reading for the whole column, so that a
//! unit or a decimal separator is never guessed row by row (a guess that
//! flips between rows changes a duration 1000× or a price 1000× silently).
//! Rows that do not fit the column's decision are malformed, with a reason.
//!
//! Small and strict on purpose: chrono / time would parse more calendar
//! formats than exports use, and the ones that matter fit in a page.

use std::fmt;

/// Largest |timestamp| accepted, in seconds (~ year 318,000): keeps every
/// difference of two timestamps far from i64 overflow, and still lets a
/// millisecond log forced to `--time-unit s` through (the flag is obeyed).
const MAX_ABS_SECONDS: i64 = 10_000_000_000_000;

/// Unit of numeric timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    S,
    Ms,
    Us,
    Ns,
}

impl TimeUnit {
    const ALL: [TimeUnit; 4] = [TimeUnit::S, TimeUnit::Ms, TimeUnit::Us, TimeUnit::Ns];

    pub fn per_second(self) -> i64 {
        match self {
            TimeUnit::S => 1,
            TimeUnit::Ms => 1_000,
            TimeUnit::Us => 1_000_000,
            TimeUnit::Ns => 1_000_000_000,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::S => "seconds",
            TimeUnit::Ms => "milliseconds",
            TimeUnit::Us => "microseconds",
            TimeUnit::Ns => "nanoseconds",
        }
    }

    /// The unit a timestamp of the 1970s..5000s has at this magnitude: a
    /// 2020s date is ~1.7e9 s, ~1.7e12 ms, ~1.7e15 µs, ~1.7e18 ns. Values
    /// below 1e11 (small counters, relative times) read as seconds.
    pub fn of_magnitude(v: f64) -> TimeUnit {
        let a = v.abs();
        if a < 1e11 {
            TimeUnit::S
        } else if a < 1e14 {
            TimeUnit::Ms
        } else if a < 1e17 {
            TimeUnit::Us
        } else {
            TimeUnit::Ns
        }
    }

    fn index(self) -> usize {
        match self {
            TimeUnit::S => 0,
            TimeUnit::Ms => 1,
            TimeUnit::Us => 2,
            TimeUnit::Ns => 3,
        }
    }
}

/// `--time-unit`: what the numbers of a timestamp column mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeSpec {
    /// ISO-8601 text, or numbers whose unit is read from their magnitude.
    #[default]
    Auto,
    /// Numbers in this unit (ISO-8601 text still parses).
    Unit(TimeUnit),
    /// ISO-8601 text only; numbers are malformed.
    Iso,
}

/// Parses `auto|s|ms|us|ns|iso` (also `µs`, and long names like `seconds`).
pub fn parse_time_spec(s: &str) -> Result<TimeSpec, String> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "auto" => TimeSpec::Auto,
        "s" | "sec" | "seconds" => TimeSpec::Unit(TimeUnit::S),
        "ms" | "milliseconds" => TimeSpec::Unit(TimeUnit::Ms),
        "us" | "µs" | "microseconds" => TimeSpec::Unit(TimeUnit::Us),
        "ns" | "nanoseconds" => TimeSpec::Unit(TimeUnit::Ns),
        "iso" | "iso8601" | "iso-8601" => TimeSpec::Iso,
        _ => return Err(format!("{s:?} is not one of auto, s, ms, us, ns, iso")),
    })
}

/// One timestamp field before the column's format is decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RawTime {
    /// ISO-8601, already in seconds since the epoch (UTC). `naive`: no
    /// offset was written (taken as UTC); `date_only`: no time of day
    /// (midnight UTC).
    Iso {
        secs: i64,
        naive: bool,
        date_only: bool,
    },
    /// A number as written; `int` when it is an exact integer (kept exact:
    /// nanosecond values do not fit an f64's 53 bits).
    Number { value: f64, int: Option<i64> },
}

/// Reads one timestamp field: ISO-8601 if it starts like a date
/// (`YYYY-MM-DD`), else a finite number.
pub fn parse_raw_time(s: &str) -> Result<RawTime, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    let b = s.as_bytes();
    if b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        let (secs, naive, date_only) =
            parse_iso8601(s).map_err(|why| format!("timestamp {s:?}: {why}"))?;
        return Ok(RawTime::Iso {
            secs,
            naive,
            date_only,
        });
    }
    if let Ok(i) = s.parse::<i64>() {
        return Ok(RawTime::Number {
            value: i as f64,
            int: Some(i),
        });
    }
    // `f64::from_str` also takes "inf" and "NaN": only digits, a sign, a
    // point and an exponent (spreadsheets write 1.70E+12) are numbers here.
    let numeric = s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'));
    match s.parse::<f64>() {
        Ok(v) if numeric && v.is_finite() => Ok(RawTime::Number {
            value: v,
            int: None,
        }),
        _ => Err(format!(
            "timestamp {s:?} is neither a number nor an ISO-8601 date"
        )),
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date (year, month, day) of a day count from
/// 1970-01-01 (H. Hinnant's `civil_from_days`): the inverse of
/// [`days_from_civil`], for printing dates.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Strict ISO-8601 / RFC 3339 subset: `YYYY-MM-DD`, then optionally `T` or
/// one space, `HH:MM[:SS[.fraction]]`, then optionally (after at most one
/// space) `Z`, `UTC`, `±HH:MM`, `±HHMM` or `±HH`. Fractions are cut to the
/// second. Returns (seconds since the epoch UTC, no offset written, no time
/// written).
pub fn parse_iso8601(s: &str) -> Result<(i64, bool, bool), &'static str> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        d.iter().try_fold(0i64, |n, &c| {
            n.checked_mul(10)?.checked_add(i64::from(c - b'0'))
        })
    };
    let (Some(y), Some(mo), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return Err("not a YYYY-MM-DD date");
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err("not a YYYY-MM-DD date");
    }
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return Err("no such day");
    }
    let days = days_from_civil(y, mo, d);
    if b.len() == 10 {
        return Ok((days * 86_400, true, true));
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return Err("expected T or a space after the date");
    }
    let (Some(h), Some(mi)) = (num(11..13), num(14..16)) else {
        return Err("expected HH:MM after the date");
    };
    if b.get(13) != Some(&b':') {
        return Err("expected HH:MM after the date");
    }
    let mut i = 16;
    let mut sec = 0;
    if b.get(i) == Some(&b':') {
        sec = num(i + 1..i + 3).ok_or("expected two digits of seconds")?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return Err("a decimal point without digits");
            }
        }
    }
    // 60 is a leap second (RFC 3339); it reads as the next minute's first.
    if h > 23 || mi > 59 || sec > 60 {
        return Err("hour, minute or second out of range");
    }
    let local = days * 86_400 + h * 3600 + mi * 60 + sec;
    let mut rest = &b[i..];
    if rest.first() == Some(&b' ') {
        rest = &rest[1..];
        if rest.is_empty() {
            return Err("trailing space");
        }
    }
    let offset = match rest {
        [] => return Ok((local, true, false)),
        b"Z" | b"z" | b"UTC" => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let two = |x: &[u8]| -> Option<i64> {
                match x {
                    [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                        Some(i64::from(a - b'0') * 10 + i64::from(b - b'0'))
                    }
                    _ => None,
                }
            };
            let (oh, om) = match tail.len() {
                2 => (two(tail), Some(0)),
                4 => (two(&tail[..2]), two(&tail[2..])),
                5 if tail[2] == b':' => (two(&tail[..2]), two(&tail[3..])),
                _ => (None, None),
            };
            let (Some(oh), Some(om)) = (oh, om) else {
                return Err("a UTC offset must be ±HH:MM, ±HHMM or ±HH");
            };
            if oh > 23 || om > 59 {
                return Err("UTC offset out of range");
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return Err("unexpected text after the time"),
    };
    Ok((local - offset, false, false))
}

/// Counts a timestamp column's values by format and magnitude, then
/// decides one reading for all of them.
#[derive(Clone, Debug, Default)]
pub struct TimeColumn {
    iso: usize,
    numbers: usize,
    by_unit: [usize; 4],
    min: Option<f64>,
    max: Option<f64>,
}

impl TimeColumn {
    pub fn add(&mut self, t: &RawTime) {
        match *t {
            RawTime::Iso { .. } => self.iso += 1,
            RawTime::Number { value, .. } => {
                self.numbers += 1;
                self.by_unit[TimeUnit::of_magnitude(value).index()] += 1;
                self.min = Some(self.min.map_or(value, |m| m.min(value)));
                self.max = Some(self.max.map_or(value, |m| m.max(value)));
            }
        }
    }

    /// ISO text against numbers: the larger share wins (ties: ISO, the
    /// self-describing one). The unit of numbers: the flag's, or under
    /// `auto` the magnitude most values have (ties: the smaller unit).
    pub fn decide(&self, spec: TimeSpec) -> TimeDecision {
        let iso = match spec {
            TimeSpec::Iso => true,
            _ => self.iso > 0 && self.iso >= self.numbers,
        };
        let (unit, guessed) = match spec {
            TimeSpec::Unit(u) => (u, false),
            _ => {
                let mut best = TimeUnit::S;
                for u in TimeUnit::ALL {
                    if self.by_unit[u.index()] > self.by_unit[best.index()] {
                        best = u;
                    }
                }
                (best, true)
            }
        };
        TimeDecision {
            iso,
            unit,
            guessed,
            spec,
            naive: 0,
            date_only: 0,
            range: self.min.zip(self.max),
            agreeing: self.by_unit[unit.index()],
            numbers: self.numbers,
        }
    }
}

/// Reads column `c` of `t` alone (a first pass before the rows) and
/// decides its one reading: a row never gets a unit of its own.
pub fn decide_time_column(t: &crate::table::Table, c: usize, spec: TimeSpec) -> TimeDecision {
    let mut col = TimeColumn::default();
    t.for_each_in_column(c, |v| {
        if let Ok(raw) = parse_raw_time(v) {
            col.add(&raw);
        }
    });
    col.decide(spec)
}

/// The reading a timestamp column gets, and what it met (for the summary).
#[derive(Clone, Debug)]
pub struct TimeDecision {
    /// The column holds ISO-8601 text (numbers in it are malformed).
    pub iso: bool,
    /// Unit of numbers (when `!iso`).
    pub unit: TimeUnit,
    /// The unit came from the values' magnitude (`--time-unit auto`).
    pub guessed: bool,
    pub spec: TimeSpec,
    /// ISO values converted without a written UTC offset / without a time.
    pub naive: usize,
    pub date_only: usize,
    range: Option<(f64, f64)>,
    /// Numbers of the chosen unit's magnitude, of all numbers.
    agreeing: usize,
    numbers: usize,
}

impl TimeDecision {
    /// Seconds since the epoch for one field of the column, or why it does
    /// not fit the column's format.
    pub fn seconds(&mut self, t: &RawTime, text: &str) -> Result<i64, String> {
        let text = text.trim();
        let secs = match *t {
            RawTime::Iso {
                secs,
                naive,
                date_only,
            } => {
                if !self.iso {
                    return Err(format!(
                        "timestamp {text:?} is an ISO-8601 date in a column of {} numbers",
                        self.unit.name()
                    ));
                }
                self.naive += usize::from(naive && !date_only);
                self.date_only += usize::from(date_only);
                secs
            }
            RawTime::Number { value, int } => {
                if self.iso {
                    return Err(if self.spec == TimeSpec::Iso {
                        format!("timestamp {text:?} is a number; --time-unit iso expects ISO-8601 dates")
                    } else {
                        format!("timestamp {text:?} is a number in a column of ISO-8601 dates")
                    });
                }
                let here = TimeUnit::of_magnitude(value);
                if self.guessed && here != self.unit {
                    return Err(format!(
                        "timestamp {text:?} looks like {} but the column's values are {} \
                         (--time-unit auto; set it to override)",
                        here.name(),
                        self.unit.name()
                    ));
                }
                let per = self.unit.per_second();
                match int {
                    Some(i) => i.div_euclid(per),
                    None => {
                        let s = (value / per as f64).floor();
                        if s.abs() > MAX_ABS_SECONDS as f64 {
                            i64::MAX
                        } else {
                            s as i64
                        }
                    }
                }
            }
        };
        if secs.checked_abs().is_none_or(|a| a > MAX_ABS_SECONDS) {
            return Err(format!(
                "timestamp {text:?} is out of range in {}",
                if self.iso {
                    "ISO-8601"
                } else {
                    self.unit.name()
                }
            ));
        }
        Ok(secs)
    }

    /// For the parse summary: what the column was read as and why, so a
    /// wrong guess is visible.
    pub fn describe(&self) -> String {
        if self.iso {
            let mut s = String::from("timestamps ISO-8601");
            if self.date_only > 0 {
                s.push_str(&format!(
                    ", {} dates without a time taken as midnight UTC",
                    self.date_only
                ));
            }
            if self.naive > 0 {
                s.push_str(&format!(
                    ", {} without a UTC offset taken as UTC",
                    self.naive
                ));
            }
            return s;
        }
        let how = if self.guessed {
            match self.range {
                Some((lo, hi)) => format!(
                    " (--time-unit auto: {} of {} values have that magnitude; range {lo:.4e}..{hi:.4e})",
                    self.agreeing, self.numbers
                ),
                None => " (--time-unit auto)".into(),
            }
        } else {
            " (--time-unit)".into()
        };
        format!("timestamps in {}{how}", self.unit.name())
    }
}

/// `--price-decimal`: which character separates a price's decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DecimalSep {
    /// Read from the column's unambiguous prices (see [`PriceColumn`]).
    #[default]
    Auto,
    /// `1,299.00`: a point, with commas grouping thousands.
    Point,
    /// `1.299,00`: a comma, with points grouping thousands.
    Comma,
}

pub fn parse_decimal_sep(s: &str) -> Result<DecimalSep, String> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "auto" => DecimalSep::Auto,
        "point" | "dot" | "." => DecimalSep::Point,
        "comma" | "," => DecimalSep::Comma,
        _ => return Err(format!("{s:?} is not one of auto, point, comma")),
    })
}

/// One price field before the column's decimal separator is decided: its
/// value read with a decimal point and read with a decimal comma (`None`
/// where that reading is not a valid number). `1,299` has both (1299 and
/// 1.299): ambiguous. `12,99` has only the comma reading.
#[derive(Clone, Debug, PartialEq)]
pub struct RawPrice {
    pub point: Option<f64>,
    pub comma: Option<f64>,
    /// Canonical currency (ISO code, or `$` / `¥` / `kr` when only the symbol says it).
    pub currency: Option<String>,
}

/// Currency symbols with one meaning, and prefixed dollars.
const SYMBOLS: [(&str, &str); 25] = [
    ("€", "EUR"),
    ("£", "GBP"),
    ("₹", "INR"),
    ("₩", "KRW"),
    ("₽", "RUB"),
    ("₺", "TRY"),
    ("₪", "ILS"),
    ("₫", "VND"),
    ("฿", "THB"),
    ("₴", "UAH"),
    ("₦", "NGN"),
    ("₱", "PHP"),
    ("zł", "PLN"),
    ("Kč", "CZK"),
    ("US$", "USD"),
    ("C$", "CAD"),
    ("CA$", "CAD"),
    ("A$", "AUD"),
    ("AU$", "AUD"),
    ("NZ$", "NZD"),
    ("HK$", "HKD"),
    ("S$", "SGD"),
    ("R$", "BRL"),
    ("MX$", "MXN"),
    ("NT$", "TWD"),
];

/// Symbols several currencies write, and the ISO codes each may stand for
/// in a file that names one.
const GENERIC: [(&str, &[&str]); 3] = [
    (
        "$",
        &[
            "USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN", "BRL", "ARS", "CLP", "COP",
            "UYU", "FJD", "JMD",
        ],
    ),
    ("¥", &["JPY", "CNY"]),
    ("kr", &["SEK", "NOK", "DKK", "ISK"]),
];

fn is_generic(c: &str) -> bool {
    GENERIC.iter().any(|(s, _)| *s == c)
}

fn currency_of(tok: &str) -> Option<String> {
    let tok = if tok == "￥" { "¥" } else { tok };
    if is_generic(tok) {
        return Some(tok.into());
    }
    if let Some((_, code)) = SYMBOLS.iter().find(|(s, _)| *s == tok) {
        return Some((*code).into());
    }
    // ISO 4217 shape: three letters (Google Merchant Center: `12.99 USD`).
    if tok.len() == 3 && tok.bytes().all(|c| c.is_ascii_alphabetic()) {
        return Some(tok.to_ascii_uppercase());
    }
    None
}

/// Whether two canonical currencies can be the same money (`$` and `USD`).
pub fn same_currency(a: &str, b: &str) -> bool {
    let family = |sym: &str, code: &str| {
        GENERIC
            .iter()
            .any(|(s, codes)| *s == sym && codes.contains(&code))
    };
    a == b || family(a, b) || family(b, a)
}

/// Characters that only ever group thousands: spaces (plain, no-break,
/// narrow no-break) and apostrophes (Swiss `1'299.00`).
fn is_group_only(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\'' | '’')
}

/// The number `s` with `dec` as the decimal separator and `group` (or a
/// space or apostrophe) grouping thousands: groups of three after a first
/// of one to three digits, one kind of grouping character per number.
fn read_number(s: &str, dec: char, group: char) -> Option<f64> {
    let (int, frac) = match s.split_once(dec) {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if let Some(f) = frac {
        if f.is_empty() || !f.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let mut sep: Option<char> = None;
    let mut groups: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in int.char_indices() {
        if c.is_ascii_digit() {
            continue;
        }
        if !(c == group || is_group_only(c)) || sep.is_some_and(|s| s != c) {
            return None;
        }
        sep = Some(c);
        groups.push(&int[start..i]);
        start = i + c.len_utf8();
    }
    groups.push(&int[start..]);
    if groups[0].is_empty() || groups.iter().any(|g| g.is_empty()) {
        return None;
    }
    if groups.len() > 1 && (groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)) {
        return None;
    }
    let mut clean: String = groups.concat();
    if let Some(f) = frac {
        clean.push('.');
        clean.push_str(f);
    }
    clean.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Reads one price field: an optional currency before or after (symbol or
/// ISO code, spaces allowed between), a non-negative number with either
/// decimal separator.
pub fn parse_raw_price(s: &str) -> Result<RawPrice, String> {
    let t = s.trim();
    let why = |m: &str| format!("price {t:?}: {m}");
    if t.is_empty() {
        return Err(why("empty"));
    }
    let is_num = |c: char| c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+');
    let lead_end = t.find(is_num).ok_or_else(|| why("no number"))?;
    let trail_start = t
        .rfind(|c: char| c.is_ascii_digit())
        .map(|i| i + 1)
        .ok_or_else(|| why("no number"))?;
    let lead = t[..lead_end].trim_matches(is_group_only);
    let trail = t[trail_start..].trim_matches(is_group_only);
    let body = t[lead_end..trail_start].trim();
    let currency = match (lead.is_empty(), trail.is_empty()) {
        (true, true) => None,
        (false, false) => return Err(why("a currency on both sides")),
        (false, true) => Some(lead),
        (true, false) => Some(trail),
    };
    let currency = match currency {
        Some(c) => Some(currency_of(c).ok_or_else(|| why(&format!("unknown currency {c:?}")))?),
        None => None,
    };
    if body.starts_with('-') {
        return Err(why("negative"));
    }
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(why("not a number"));
    }
    let point = read_number(body, '.', ',');
    let comma = read_number(body, ',', '.');
    if point.is_none() && comma.is_none() {
        return Err(why(
            "not a number (digits, one decimal separator, thousands in groups of three)",
        ));
    }
    Ok(RawPrice {
        point,
        comma,
        currency,
    })
}

/// Counts a price column's decimal-separator evidence and currencies,
/// then decides one reading for all rows.
#[derive(Clone, Debug, Default)]
pub struct PriceColumn {
    /// Prices only a decimal point reads (`12.99`, `1,299.00`).
    pub point_only: usize,
    /// Prices only a decimal comma reads (`12,99`, `1.299,00`).
    pub comma_only: usize,
    currencies: Vec<(String, usize)>,
}

impl PriceColumn {
    pub fn add(&mut self, p: &RawPrice) {
        match (p.point, p.comma) {
            (Some(_), None) => self.point_only += 1,
            (None, Some(_)) => self.comma_only += 1,
            _ => {}
        }
        if let Some(c) = &p.currency {
            match self.currencies.iter_mut().find(|(k, _)| k == c) {
                Some(e) => e.1 += 1,
                None => self.currencies.push((c.clone(), 1)),
            }
        }
    }

    /// The separator: the flag's, else the one the column's unambiguous
    /// prices use most (none if no price shows it). The currency: the most
    /// frequent ISO code (a bare `$` / `¥` counts for a code it can stand
    /// for), else the most frequent symbol.
    pub fn decide(&self, flag: DecimalSep) -> PriceDecision {
        let sep = match flag {
            DecimalSep::Auto if self.point_only == 0 && self.comma_only == 0 => None,
            DecimalSep::Auto if self.comma_only > self.point_only => Some(DecimalSep::Comma),
            DecimalSep::Auto => Some(DecimalSep::Point),
            f => Some(f),
        };
        let votes = |code: &str| -> usize {
            self.currencies
                .iter()
                .filter(|(k, _)| same_currency(k, code))
                .map(|x| x.1)
                .sum()
        };
        let mut best: Option<(&str, usize)> = None;
        for (k, _) in &self.currencies {
            let generic = is_generic(k);
            let v = votes(k);
            let better = match best {
                None => true,
                Some((b, bv)) => {
                    let b_generic = is_generic(b);
                    (b_generic && !generic) || (b_generic == generic && v > bv)
                }
            };
            if better {
                best = Some((k, v));
            }
        }
        PriceDecision {
            sep,
            flag,
            point_only: self.point_only,
            comma_only: self.comma_only,
            currency: best.map(|b| b.0.to_string()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PriceDecision {
    /// `None`: no price in the column shows its separator.
    pub sep: Option<DecimalSep>,
    pub flag: DecimalSep,
    point_only: usize,
    comma_only: usize,
    /// The file's currency, if any price names one.
    pub currency: Option<String>,
}

impl PriceDecision {
    pub fn value(&self, p: &RawPrice, text: &str) -> Result<f64, String> {
        let text = text.trim();
        if let (Some(c), Some(file)) = (&p.currency, &self.currency) {
            if !same_currency(c, file) {
                return Err(format!(
                    "price {text:?} is in {c}, the file's prices are in {file} (one currency per file)"
                ));
            }
        }
        match (self.sep, p.point, p.comma) {
            (_, Some(a), Some(b)) if a == b => Ok(a),
            (Some(DecimalSep::Point), Some(v), _) | (Some(DecimalSep::Comma), _, Some(v)) => Ok(v),
            (Some(DecimalSep::Point), None, Some(_)) => Err(format!(
                "price {text:?} has a decimal comma, the column's prices a decimal point{}",
                self.why()
            )),
            (Some(DecimalSep::Comma), Some(_), None) => Err(format!(
                "price {text:?} has a decimal point, the column's prices a decimal comma{}",
                self.why()
            )),
            (None, Some(a), Some(b)) => Err(format!(
                "price {text:?} is ambiguous ({a} or {b}) and no other price shows the decimal \
                 separator: set --price-decimal point|comma"
            )),
            (None, Some(v), None) | (None, None, Some(v)) => Ok(v),
            _ => Err(format!("price {text:?} is not a number")),
        }
    }

    fn why(&self) -> &'static str {
        if self.flag == DecimalSep::Auto {
            " (--price-decimal auto)"
        } else {
            " (--price-decimal)"
        }
    }

    pub fn describe(&self) -> String {
        let sep = match (self.sep, self.flag) {
            (None, _) => "no decimals seen".to_string(),
            (Some(DecimalSep::Comma), DecimalSep::Auto) => format!(
                "decimal comma (auto: {} prices with a comma, {} with a point)",
                self.comma_only, self.point_only
            ),
            (Some(_), DecimalSep::Auto) => format!(
                "decimal point (auto: {} prices with a point, {} with a comma)",
                self.point_only, self.comma_only
            ),
            (Some(DecimalSep::Comma), _) => "decimal comma (--price-decimal)".into(),
            (Some(_), _) => "decimal point (--price-decimal)".into(),
        };
        match &self.currency {
            Some(c) => format!("prices in {c}, {sep}"),
            None => format!("prices without a currency, {sep}"),
        }
    }
}

/// Stock / availability as Google Merchant Center feeds, shop exports and
/// inventory files write it. `preorder` and `backorder` are **not** in
/// stock: the FLAGS bit answers "can it ship now", which `inStockOnly`
/// filters on. A number is a quantity: above 0 is in stock.
pub fn parse_stock(s: &str) -> Result<bool, String> {
    let t = s.trim();
    let norm: String = t
        .chars()
        .map(|c| match c {
            '_' | '-' => ' ',
            c => c.to_ascii_lowercase(),
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match norm.as_str() {
        "in stock"
        | "instock"
        | "available"
        | "limited availability"
        | "true"
        | "yes"
        | "y"
        | "t" => return Ok(true),
        "out of stock" | "outofstock" | "sold out" | "soldout" | "unavailable"
        | "not available" | "discontinued" | "preorder" | "pre order" | "backorder"
        | "back order" | "backordered" | "false" | "no" | "n" | "f" => return Ok(false),
        _ => {}
    }
    match t.parse::<f64>() {
        Ok(q)
            if q.is_finite()
                && t.bytes()
                    .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+')) =>
        {
            Ok(q > 0.0)
        }
        _ => Err(format!(
            "stock {t:?} is not a known availability (in stock, out of stock, preorder, \
             backorder, true/false, yes/no) nor a quantity"
        )),
    }
}

/// `--category-level N`: the first N levels of a `Home > Kitchen > Mugs`
/// path (Google `product_type`), each level trimmed, joined by ` > `.
pub fn category_prefix(path: &str, levels: usize) -> String {
    path.split('>')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(levels)
        .collect::<Vec<_>>()
        .join(" > ")
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests;
