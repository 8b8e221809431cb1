use super::*;

/// Every table row goes through here: the input, and either the expected
/// value or a fragment the error reason must contain.
fn check<T: PartialEq + fmt::Debug>(
    what: &str,
    cases: &[(&str, Result<T, &str>)],
    parse: impl Fn(&str) -> Result<T, String>,
) {
    for (input, want) in cases {
        let got = parse(input);
        match (want, &got) {
            (Ok(w), Ok(g)) if w == g => {}
            (Err(frag), Err(e)) if e.contains(frag) => {}
            _ => panic!("{what} {input:?}: expected {want:?}, got {got:?}"),
        }
    }
}

/// 2024-01-02T00:00:00Z.
const JAN2: i64 = 1_704_153_600;

#[test]
fn iso8601_dates_and_datetimes() {
    let iso = |s: &str| parse_iso8601(s).map_err(String::from);
    check(
        "iso",
        &[
            ("1970-01-01", Ok((0, true, true))),
            ("2024-01-02", Ok((JAN2, true, true))),
            ("2024-01-02T10:00:00Z", Ok((JAN2 + 36_000, false, false))),
            ("2024-01-02t10:00:00z", Ok((JAN2 + 36_000, false, false))),
            ("2024-01-02 10:00:00", Ok((JAN2 + 36_000, true, false))),
            ("2024-01-02 10:00", Ok((JAN2 + 36_000, true, false))),
            ("2024-01-02T10:00Z", Ok((JAN2 + 36_000, false, false))),
            (
                "2024-01-02T10:00:00.999Z",
                Ok((JAN2 + 36_000, false, false)),
            ),
            ("2024-01-02T10:00:00,5", Ok((JAN2 + 36_000, true, false))),
            (
                "2024-01-02T10:00:00.123456789+00:00",
                Ok((JAN2 + 36_000, false, false)),
            ),
            (
                "2024-01-02T12:00:00+02:00",
                Ok((JAN2 + 36_000, false, false)),
            ),
            (
                "2024-01-02T12:00:00+0200",
                Ok((JAN2 + 36_000, false, false)),
            ),
            ("2024-01-02T12:00:00+02", Ok((JAN2 + 36_000, false, false))),
            (
                "2024-01-02T05:30:00-04:30",
                Ok((JAN2 + 36_000, false, false)),
            ),
            (
                "2024-01-02 10:00:00 +0000",
                Ok((JAN2 + 36_000, false, false)),
            ),
            ("2024-01-02 10:00:00 UTC", Ok((JAN2 + 36_000, false, false))),
            // An offset can move the instant to the previous day.
            ("2024-01-02T01:00:00+02:00", Ok((JAN2 - 3600, false, false))),
            ("2024-02-29", Ok((JAN2 + 58 * 86_400, true, true))),
            ("2000-02-29", Ok((951_782_400, true, true))),
            ("1969-12-31T23:59:59Z", Ok((-1, false, false))),
            ("2024-01-02T23:59:60Z", Ok((JAN2 + 86_400, false, false))),
            ("2023-02-29", Err("no such day")),
            ("1900-02-29", Err("no such day")),
            ("2024-13-01", Err("no such day")),
            ("2024-04-31", Err("no such day")),
            ("2024-00-10", Err("no such day")),
            ("2024-01-02T24:00:00", Err("out of range")),
            ("2024-01-02T10:60", Err("out of range")),
            ("2024-01-02X10:00", Err("expected T")),
            ("2024-01-02T10", Err("HH:MM")),
            ("2024-01-02T10:00:00.", Err("without digits")),
            ("2024-01-02T10:00:00+2:00", Err("±HH:MM")),
            ("2024-01-02T10:00:00+24:00", Err("offset out of range")),
            ("2024-01-02T10:00:00 ", Err("trailing space")),
            ("2024-01-02T10:00:00 CET", Err("unexpected text")),
            ("2024-01-02T10:00:00Zjunk", Err("unexpected text")),
            ("2024/01/02", Err("YYYY-MM-DD")),
        ],
        iso,
    );
}

#[test]
fn raw_timestamps_are_numbers_or_iso() {
    let n = |v: f64, i: Option<i64>| Ok(RawTime::Number { value: v, int: i });
    check(
        "raw time",
        &[
            ("1704153600", n(1_704_153_600.0, Some(1_704_153_600))),
            (" 12 ", n(12.0, Some(12))),
            ("-5", n(-5.0, Some(-5))),
            ("12.0", n(12.0, None)),
            ("1.704153600123E+12", n(1.704153600123e12, None)),
            (
                "2024-01-02",
                Ok(RawTime::Iso {
                    secs: JAN2,
                    naive: true,
                    date_only: true,
                }),
            ),
            ("", Err("empty timestamp")),
            ("NaN", Err("neither a number")),
            ("inf", Err("neither a number")),
            ("yesterday", Err("neither a number")),
            ("2024-1-2", Err("neither a number")),
            ("2024-01-32", Err("no such day")),
        ],
        parse_raw_time,
    );
}

/// The whole column through `TimeColumn` then each value through the
/// decision: what `parse_interactions` does.
fn column(values: &[&str], spec: TimeSpec) -> (TimeDecision, Vec<Result<i64, String>>) {
    let raws: Vec<Result<RawTime, String>> = values.iter().map(|v| parse_raw_time(v)).collect();
    let mut col = TimeColumn::default();
    for r in raws.iter().flatten() {
        col.add(r);
    }
    let mut d = col.decide(spec);
    let out = raws
        .iter()
        .zip(values)
        .map(|(r, v)| r.clone().and_then(|r| d.seconds(&r, v)))
        .collect();
    (d, out)
}

#[test]
fn auto_reads_the_unit_from_the_magnitude() {
    for (vals, unit) in [
        (["1704153600", "1704153601"], TimeUnit::S),
        (["1704153600000", "1704153601999"], TimeUnit::Ms),
        (["1704153600000000", "1704153601000001"], TimeUnit::Us),
        (["1704153600000000000", "1704153601000000000"], TimeUnit::Ns),
    ] {
        let (d, out) = column(&vals, TimeSpec::Auto);
        assert_eq!(d.unit, unit, "{vals:?}");
        assert!(!d.iso);
        assert_eq!(out, vec![Ok(JAN2), Ok(JAN2 + 1)], "{vals:?}");
        assert!(d.describe().contains(unit.name()), "{}", d.describe());
        assert!(d.describe().contains("auto"), "{}", d.describe());
    }
    // Small counters (MovieLens-style tests, relative times) are seconds.
    let (d, out) = column(&["1", "2", "3"], TimeSpec::Auto);
    assert_eq!((d.unit, out), (TimeUnit::S, vec![Ok(1), Ok(2), Ok(3)]));
    // Fractional seconds are cut toward the past, negative ones too.
    let (_, out) = column(&["10.9", "-0.5"], TimeSpec::Auto);
    assert_eq!(out, vec![Ok(10), Ok(-1)]);
    let (_, out) = column(&["-1500", "1500"], TimeSpec::Unit(TimeUnit::Ms));
    assert_eq!(out, vec![Ok(-2), Ok(1)]);
}

#[test]
fn a_column_mixing_units_or_formats_has_malformed_rows() {
    let (d, out) = column(
        &["1704153600000", "1704153601000", "1704153600"],
        TimeSpec::Auto,
    );
    assert_eq!(d.unit, TimeUnit::Ms);
    assert_eq!(out[..2], [Ok(JAN2), Ok(JAN2 + 1)]);
    let e = out[2].clone().unwrap_err();
    assert!(
        e.contains("looks like seconds") && e.contains("milliseconds"),
        "{e}"
    );

    // An explicit unit is trusted: no magnitude check.
    let (_, out) = column(
        &["1704153600000", "1704153600"],
        TimeSpec::Unit(TimeUnit::Ms),
    );
    assert_eq!(out, vec![Ok(JAN2), Ok(1_704_153)]);

    // ISO against numbers: the larger share wins, whatever the unit flag.
    for spec in [TimeSpec::Auto, TimeSpec::Unit(TimeUnit::Ms)] {
        let (d, out) = column(&["2024-01-02", "2024-01-02T00:00:01Z", "1704153600"], spec);
        assert!(d.iso);
        assert_eq!(out[..2], [Ok(JAN2), Ok(JAN2 + 1)]);
        assert!(out[2]
            .clone()
            .unwrap_err()
            .contains("a number in a column of ISO-8601"));
    }
    let (d, out) = column(&["1704153600", "1704153601", "2024-01-02"], TimeSpec::Auto);
    assert!(!d.iso);
    assert!(out[2]
        .clone()
        .unwrap_err()
        .contains("ISO-8601 date in a column of seconds"));
    // `iso` refuses numbers even when they are all there is.
    let (_, out) = column(&["1704153600"], TimeSpec::Iso);
    assert!(out[0].clone().unwrap_err().contains("--time-unit iso"));
    // Seconds past the supported range are malformed, not wrapped.
    let (_, out) = column(&["90000000000000"], TimeSpec::Unit(TimeUnit::S));
    assert!(out[0].clone().unwrap_err().contains("out of range"));
    let (_, out) = column(&["1e300"], TimeSpec::Unit(TimeUnit::Ns));
    assert!(out[0].clone().unwrap_err().contains("out of range"));
}

#[test]
fn the_summary_says_how_iso_values_were_read() {
    let (d, out) = column(
        &["2024-01-02", "2024-01-02 10:00:00", "2024-01-02T10:00:00Z"],
        TimeSpec::Auto,
    );
    assert!(out.iter().all(Result::is_ok));
    let s = d.describe();
    assert!(
        s.contains("ISO-8601")
            && s.contains("1 dates without a time taken as midnight UTC")
            && s.contains("1 without a UTC offset taken as UTC"),
        "{s}"
    );
}

#[test]
fn time_unit_flag_values() {
    check(
        "spec",
        &[
            ("auto", Ok(TimeSpec::Auto)),
            ("MS", Ok(TimeSpec::Unit(TimeUnit::Ms))),
            ("µs", Ok(TimeSpec::Unit(TimeUnit::Us))),
            ("ns", Ok(TimeSpec::Unit(TimeUnit::Ns))),
            ("seconds", Ok(TimeSpec::Unit(TimeUnit::S))),
            ("iso", Ok(TimeSpec::Iso)),
            ("days", Err("not one of")),
        ],
        parse_time_spec,
    );
}

#[test]
fn raw_prices_keep_both_readings() {
    let p = |point: Option<f64>, comma: Option<f64>, cur: Option<&str>| {
        Ok(RawPrice {
            point,
            comma,
            currency: cur.map(String::from),
        })
    };
    check(
        "price",
        &[
            ("12.99", p(Some(12.99), None, None)),
            ("12", p(Some(12.0), Some(12.0), None)),
            ("$12.99", p(Some(12.99), None, Some("$"))),
            ("12.99 USD", p(Some(12.99), None, Some("USD"))),
            ("usd 12.99", p(Some(12.99), None, Some("USD"))),
            ("12,99 €", p(None, Some(12.99), Some("EUR"))),
            ("€12,99", p(None, Some(12.99), Some("EUR"))),
            ("1.299,00", p(None, Some(1299.0), None)),
            ("1,299.00", p(Some(1299.0), None, None)),
            ("1,299", p(Some(1299.0), Some(1.299), None)),
            ("1.299", p(Some(1.299), Some(1299.0), None)),
            ("1,299,000", p(Some(1_299_000.0), None, None)),
            ("1.299.000,5", p(None, Some(1_299_000.5), None)),
            ("1 299,00 zł", p(None, Some(1299.0), Some("PLN"))),
            ("kr 49,50", p(None, Some(49.5), Some("kr"))),
            ("￥500", p(Some(500.0), Some(500.0), Some("¥"))),
            ("1\u{a0}299.00", p(Some(1299.0), None, None)),
            ("CHF 1'299.50", p(Some(1299.5), None, Some("CHF"))),
            ("US$ 5", p(Some(5.0), Some(5.0), Some("USD"))),
            ("R$ 10,50", p(None, Some(10.5), Some("BRL"))),
            ("0,5", p(None, Some(0.5), None)),
            ("0", p(Some(0.0), Some(0.0), None)),
            ("", Err("empty")),
            ("free", Err("no number")),
            ("-1", Err("negative")),
            ("$-1", Err("negative")),
            ("$12.99 USD", Err("both sides")),
            ("12.99 dollars", Err("unknown currency")),
            ("12..99", Err("not a number")),
            ("12,9,9", Err("not a number")),
            ("1,2345.00", Err("not a number")),
            ("1 299,000.5", Err("not a number")),
            ("1.299,00.5", Err("not a number")),
            ("12.", Err("unknown currency")),
            ("1e3", Err("not a number")),
        ],
        parse_raw_price,
    );
}

/// A price column through `PriceColumn`, each value through the decision.
fn prices(values: &[&str], flag: DecimalSep) -> (PriceDecision, Vec<Result<f64, String>>) {
    let raws: Vec<RawPrice> = values.iter().map(|v| parse_raw_price(v).unwrap()).collect();
    let mut col = PriceColumn::default();
    for r in &raws {
        col.add(r);
    }
    let d = col.decide(flag);
    let out = raws
        .iter()
        .zip(values)
        .map(|(r, v)| d.value(r, v))
        .collect();
    (d, out)
}

#[test]
fn ambiguous_prices_follow_the_column_never_a_guess() {
    // The column shows a decimal comma: 1.299 is one thousand two hundred.
    let (d, out) = prices(&["12,99", "1.299", "5"], DecimalSep::Auto);
    assert_eq!(out, vec![Ok(12.99), Ok(1299.0), Ok(5.0)]);
    assert!(
        d.describe().contains("decimal comma (auto"),
        "{}",
        d.describe()
    );
    // ... a decimal point: 1,299 is one thousand two hundred.
    let (_, out) = prices(&["12.99", "1,299"], DecimalSep::Auto);
    assert_eq!(out, vec![Ok(12.99), Ok(1299.0)]);
    // Nothing shows it: the ambiguous value is malformed, the flag decides.
    let (d, out) = prices(&["1,299", "20"], DecimalSep::Auto);
    assert!(out[0]
        .clone()
        .unwrap_err()
        .contains("ambiguous (1299 or 1.299)"));
    assert_eq!(out[1], Ok(20.0));
    assert!(d.describe().contains("no decimals seen"));
    let (_, out) = prices(&["1,299", "20"], DecimalSep::Comma);
    assert_eq!(out, vec![Ok(1.299), Ok(20.0)]);
    let (_, out) = prices(&["1,299", "20"], DecimalSep::Point);
    assert_eq!(out, vec![Ok(1299.0), Ok(20.0)]);
    // A column using both: the minority is malformed, with the reason.
    let (_, out) = prices(&["12.99", "3.50", "4,50"], DecimalSep::Auto);
    assert_eq!(out[..2], [Ok(12.99), Ok(3.5)]);
    assert!(out[2]
        .clone()
        .unwrap_err()
        .contains("decimal comma, the column's prices a decimal point"));
    // The flag overrides what the values show.
    let (_, out) = prices(&["12.99"], DecimalSep::Comma);
    assert!(out[0].clone().unwrap_err().contains("(--price-decimal)"));
}

#[test]
fn one_currency_per_file() {
    let (d, out) = prices(&["12.99 USD", "$5", "3 USD", "4 EUR"], DecimalSep::Auto);
    assert_eq!(d.currency.as_deref(), Some("USD"));
    assert_eq!(out[..3], [Ok(12.99), Ok(5.0), Ok(3.0)]);
    let e = out[3].clone().unwrap_err();
    assert!(e.contains("is in EUR, the file's prices are in USD"), "{e}");
    // A bare symbol cannot stand for another symbol's money.
    let (d, out) = prices(&["€5", "€6", "$7"], DecimalSep::Auto);
    assert_eq!(d.currency.as_deref(), Some("EUR"));
    assert!(out[2].is_err());
    // Only symbols: the symbol is the currency.
    let (d, out) = prices(&["$5", "6"], DecimalSep::Auto);
    assert_eq!(
        (d.currency.as_deref(), out),
        (Some("$"), vec![Ok(5.0), Ok(6.0)])
    );
    assert!(d.describe().starts_with("prices in $"));
    assert!(same_currency("¥", "JPY") && !same_currency("¥", "USD"));
    // `kr` is Swedish, Norwegian, Danish or Icelandic: the code decides.
    let (d, out) = prices(&["kr 99", "99 NOK", "12 kr"], DecimalSep::Auto);
    assert_eq!(d.currency.as_deref(), Some("NOK"));
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    assert!(same_currency("kr", "DKK") && !same_currency("kr", "EUR"));
}

#[test]
fn stock_values() {
    check(
        "stock",
        &[
            ("in stock", Ok(true)),
            ("in_stock", Ok(true)),
            ("In Stock", Ok(true)),
            ("InStock", Ok(true)),
            ("limited availability", Ok(true)),
            ("true", Ok(true)),
            ("Yes", Ok(true)),
            ("1", Ok(true)),
            ("12", Ok(true)),
            ("0.5", Ok(true)),
            ("out of stock", Ok(false)),
            ("out-of-stock", Ok(false)),
            ("sold out", Ok(false)),
            ("preorder", Ok(false)),
            ("pre-order", Ok(false)),
            ("backorder", Ok(false)),
            ("discontinued", Ok(false)),
            ("false", Ok(false)),
            ("no", Ok(false)),
            ("0", Ok(false)),
            ("-3", Ok(false)),
            ("", Err("not a known availability")),
            ("maybe", Err("not a known availability")),
            ("NaN", Err("not a known availability")),
            ("inf", Err("not a known availability")),
        ],
        parse_stock,
    );
}

#[test]
fn category_levels() {
    let lvl = |s: &str| -> Result<String, String> {
        let (path, n) = s.rsplit_once('|').unwrap();
        Ok(category_prefix(path, n.parse().unwrap()))
    };
    check(
        "category",
        &[
            ("Home > Kitchen > Mugs|1", Ok("Home".to_string())),
            ("Home > Kitchen > Mugs|2", Ok("Home > Kitchen".to_string())),
            (
                "Home>Kitchen>Mugs|5",
                Ok("Home > Kitchen > Mugs".to_string()),
            ),
            (" Home >  > Mugs |2", Ok("Home > Mugs".to_string())),
            ("Books|2", Ok("Books".to_string())),
        ],
        lvl,
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any text: a value or a reason, never a panic.
        #[test]
        fn parsers_never_panic(s in ".{0,40}") {
            let _ = parse_raw_time(&s);
            let _ = parse_iso8601(&s);
            let _ = parse_raw_price(&s);
            let _ = parse_stock(&s);
            let _ = category_prefix(&s, 2);
        }

        /// Near-miss text (digits, separators, currency, offsets): no panic
        /// either, and a price that parses is finite and non-negative.
        #[test]
        fn near_miss_prices_and_dates(s in "[0-9 .,:+\\-TZ$€'a-c]{0,24}") {
            if let Ok(p) = parse_raw_price(&s) {
                for v in [p.point, p.comma].into_iter().flatten() {
                    prop_assert!(v.is_finite() && v >= 0.0, "{s:?} -> {v}");
                }
            }
            let _ = parse_raw_time(&s);
        }

        /// Every instant of years 1900..2200, printed at any offset, reads
        /// back to itself; the same instant in s / ms / µs / ns reads to it
        /// under `auto` (from 1973 on, where each unit's magnitude is its own).
        #[test]
        fn iso_and_units_round_trip(
            secs in -2_208_988_800i64..7_258_118_400,
            off_min in -1439i64..=1439,
            style in 0usize..3,
        ) {
            let local = secs + off_min * 60;
            let (y, m, d) = civil_from_days(local.div_euclid(86_400));
            let t = local.rem_euclid(86_400);
            let sign = if off_min < 0 { '-' } else { '+' };
            let (oh, om) = (off_min.abs() / 60, off_min.abs() % 60);
            let off = match style {
                0 => format!("{sign}{oh:02}:{om:02}"),
                1 => format!("{sign}{oh:02}{om:02}"),
                _ => format!(" {sign}{oh:02}{om:02}"),
            };
            let text = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.5{off}", t / 3600, t % 3600 / 60, t % 60);
            prop_assert_eq!(parse_iso8601(&text), Ok((secs, false, false)), "{}", text);
            if secs > 100_000_000 {
                for (mul, unit) in [(1i64, TimeUnit::S), (1_000, TimeUnit::Ms), (1_000_000, TimeUnit::Us), (1_000_000_000, TimeUnit::Ns)] {
                    let v = (secs * mul).to_string();
                    let (d, out) = column(&[&v], TimeSpec::Auto);
                    prop_assert_eq!(d.unit, unit);
                    prop_assert_eq!(out[0].clone(), Ok(secs));
                }
            }
        }
    }
}

#[test]
fn civil_dates_of_known_day_counts() {
    for (days, ymd) in [
        (0, (1970, 1, 1)),
        (-1, (1969, 12, 31)),
        (11_016, (2000, 2, 29)),
        (19_723, (2024, 1, 1)),
        (19_782, (2024, 2, 29)),
    ] {
        assert_eq!(civil_from_days(days), ymd, "{days}");
        assert_eq!(days_from_civil(ymd.0, ymd.1, ymd.2), days, "{ymd:?}");
    }
}
