//! Interaction-log and item-metadata loading.
//!
//! Real logs are messy: CRLF endings, Latin-1 bytes next to UTF-8, quoted CSV
//! fields, a stray header repeated mid-file. Files are read by the crate's one
//! table reader (`crate::table`): a few bad rows are counted, quoted by line
//! number and skipped, but a file where more than `max_bad_share` of the rows
//! are bad (a wrong delimiter, another layout) fails instead of training on
//! what is left. `strict` fails on the first bad row.

use super::error::{Result, TrainError};
use super::values::{self, DecimalSep, PriceColumn, TimeSpec};
use crate::table::{self, BadRows, Table, TableOptions};
use std::collections::HashMap;
use std::path::Path;

/// How many malformed rows are quoted by line number in the report.
pub const SHOWN_ERRORS: usize = table::SHOWN_BAD_ROWS;

/// How the value column becomes a training weight `r` (confidence is `1 + α·r`).
#[derive(Clone, Debug)]
pub enum ValueMode {
    /// No value column: every row is a positive with weight 1.
    Ones,
    /// Numeric ratings: rows below `min` are not positives and are dropped.
    /// `use_value` keeps the rating itself as the weight instead of 1.
    Rating { min: f32, use_value: bool },
    /// Event types (`view`, `cart`, ...) mapped to weights; unknown events are dropped.
    Events(Vec<(String, f32)>),
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `None` = detect from the first line (tab, then comma, then semicolon).
    pub delimiter: Option<u8>,
    pub has_header: bool,
    /// Column names (matched case-insensitively, also against the part before a
    /// RecBole-style `:type` suffix) or 0-based indices.
    pub user_col: String,
    pub item_col: String,
    pub value_col: Option<String>,
    pub time_col: Option<String>,
    /// What the time column's numbers mean (`--time-unit`); every unit is
    /// converted to seconds, the unit of [`Interaction::time`].
    pub time_unit: TimeSpec,
    pub value: ValueMode,
    pub strict: bool,
    /// Largest share of malformed data rows before the load fails.
    pub max_bad_share: f64,
    /// Largest number of distinct users / items accepted. The bundle indexes
    /// items with u32; tests lower this to exercise the overflow path.
    pub max_ids: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            delimiter: None,
            has_header: true,
            user_col: "user_id".into(),
            item_col: "item_id".into(),
            value_col: Some("rating".into()),
            time_col: Some("timestamp".into()),
            time_unit: TimeSpec::Auto,
            value: ValueMode::Rating {
                min: 4.0,
                use_value: false,
            },
            strict: false,
            max_bad_share: table::DEFAULT_MAX_BAD_SHARE,
            max_ids: u32::MAX as usize,
        }
    }
}

/// One positive (user, item) pair after merging duplicates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interaction {
    pub user: u32,
    pub item: u32,
    /// Summed weight of all rows for this pair.
    pub weight: f32,
    /// Latest timestamp of the pair in seconds since the epoch, whatever
    /// the log's unit or format (the line number if there is no time
    /// column: an order, not a time).
    pub time: i64,
    /// 1-based line of the first row of the pair; breaks timestamp ties
    /// deterministically.
    pub line: u32,
}

#[derive(Clone, Debug, Default)]
pub struct ParseReport {
    pub rows: usize,
    pub malformed: usize,
    pub first_errors: Vec<(usize, String)>,
    /// Rows that parsed but are not positives (below the rating threshold).
    pub below_threshold: usize,
    pub unknown_events: usize,
    pub duplicates_merged: usize,
    /// How the time column was read (unit or ISO-8601, and why), so that a
    /// wrong guess shows in the summary; `None` without a time column.
    pub time: Option<String>,
}

impl ParseReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} rows read, {} malformed, {} below threshold, {} unknown events, {} duplicate pairs merged",
            self.rows, self.malformed, self.below_threshold, self.unknown_events, self.duplicates_merged
        );
        s.push_str("; ");
        s.push_str(
            self.time
                .as_deref()
                .unwrap_or("no time column: file order, sessions by line distance"),
        );
        s.push_str(&table::bad_lines(&self.first_errors, self.malformed));
        s
    }
}

#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub users: Vec<String>,
    pub items: Vec<String>,
    pub interactions: Vec<Interaction>,
    pub report: ParseReport,
}

struct Interner {
    map: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn new() -> Self {
        Interner {
            map: HashMap::new(),
            names: Vec::new(),
        }
    }
    fn get(&mut self, s: &str, what: &'static str, limit: usize) -> Result<u32> {
        if let Some(&i) = self.map.get(s) {
            return Ok(i);
        }
        let n = self.names.len();
        if n >= limit || n >= u32::MAX as usize {
            return Err(TrainError::TooMany {
                what,
                count: n + 1,
                limit: limit.min(u32::MAX as usize),
            });
        }
        self.map.insert(s.to_string(), n as u32);
        self.names.push(s.to_string());
        Ok(n as u32)
    }
}

/// The whole file, bounded by the CLI's input limit (`--max-input-bytes`).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    Ok(table::read_input(path)?)
}

pub fn load_interactions(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let bytes = read_file(path)?;
    parse_interactions(&bytes, opts)
}

/// Parses an interaction log held in memory (see [`load_interactions`]).
pub fn parse_interactions(bytes: &[u8], opts: &LoadOptions) -> Result<Dataset> {
    let t = Table::open(
        bytes,
        &TableOptions {
            delimiter: opts.delimiter,
            has_header: opts.has_header,
            what: "interaction log".into(),
        },
    )
    .map_err(|e| match e {
        table::TableError::Empty(_) => TrainError::Empty("the input file is empty".into()),
        e => e.into(),
    })?;
    let cu = t.column(&opts.user_col)?;
    let ci = t.column(&opts.item_col)?;
    let cv = match (&opts.value_col, &opts.value) {
        (_, ValueMode::Ones) | (None, _) => None,
        (Some(c), _) => Some(t.column(c)?),
    };
    if cv.is_none() && !matches!(opts.value, ValueMode::Ones) {
        return Err(TrainError::Config(
            "a rating threshold or event weights need a value column".into(),
        ));
    }
    let ct = match &opts.time_col {
        Some(c) => Some(t.column(c)?),
        None => None,
    };
    let events: HashMap<String, f32> = match &opts.value {
        ValueMode::Events(v) => v
            .iter()
            .map(|(k, w)| (k.to_ascii_lowercase(), *w))
            .collect(),
        _ => HashMap::new(),
    };
    let needed = [Some(cu), Some(ci), cv, ct]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
        + 1;

    // A first pass reads the time column alone and decides its format and
    // unit for every row, so a row never gets a unit of its own.
    let mut time_decision = ct.map(|c| values::decide_time_column(&t, c, opts.time_unit));

    let mut users = Interner::new();
    let mut items = Interner::new();
    let mut pairs: HashMap<(u32, u32), usize> = HashMap::new();
    let mut out: Vec<Interaction> = Vec::new();
    let mut rep = ParseReport::default();
    let mut bad_rows = BadRows::new(opts.max_bad_share, opts.strict);

    for rec in t.records() {
        let rec = rec?;
        let lineno = rec.line;
        let f = rec.fields;
        rep.rows += 1;
        bad_rows.rows += 1;
        let bad = |reason: String, bad_rows: &mut BadRows| -> Result<()> {
            bad_rows.bad(lineno, reason).map_err(|e| match e {
                table::TableError::Malformed { line, reason } => {
                    TrainError::Malformed { line, reason }
                }
                e => e.into(),
            })
        };
        if f.len() < needed {
            bad(
                format!("expected at least {needed} fields, found {}", f.len()),
                &mut bad_rows,
            )?;
            continue;
        }
        let (u, i) = (f[cu].trim(), f[ci].trim());
        if u.is_empty() || i.is_empty() {
            bad("empty user or item id".into(), &mut bad_rows)?;
            continue;
        }
        let weight = match (&opts.value, cv) {
            (ValueMode::Ones, _) | (_, None) => 1.0,
            (ValueMode::Rating { min, use_value }, Some(c)) => match f[c].trim().parse::<f32>() {
                Ok(v) if v.is_finite() => {
                    if v < *min {
                        rep.below_threshold += 1;
                        continue;
                    }
                    if *use_value {
                        v
                    } else {
                        1.0
                    }
                }
                _ => {
                    bad(
                        format!("rating {:?} is not a finite number", f[c].trim()),
                        &mut bad_rows,
                    )?;
                    continue;
                }
            },
            (ValueMode::Events(_), Some(c)) => {
                let ev = f[c].trim().to_ascii_lowercase();
                if ev.is_empty() {
                    bad("empty event type".into(), &mut bad_rows)?;
                    continue;
                }
                match events.get(&ev) {
                    Some(&w) => w,
                    None => {
                        rep.unknown_events += 1;
                        continue;
                    }
                }
            }
        };
        let time = match (ct, time_decision.as_mut()) {
            (Some(c), Some(d)) => {
                match values::parse_raw_time(&f[c]).and_then(|raw| d.seconds(&raw, &f[c])) {
                    Ok(t) => t,
                    Err(reason) => {
                        bad(reason, &mut bad_rows)?;
                        continue;
                    }
                }
            }
            _ => lineno as i64,
        };
        let uid = users.get(u, "users", opts.max_ids)?;
        let iid = items.get(i, "items", opts.max_ids)?;
        match pairs.get(&(uid, iid)) {
            Some(&k) => {
                let e = &mut out[k];
                e.weight += weight;
                e.time = e.time.max(time);
                rep.duplicates_merged += 1;
            }
            None => {
                pairs.insert((uid, iid), out.len());
                out.push(Interaction {
                    user: uid,
                    item: iid,
                    weight,
                    time,
                    line: lineno.min(u32::MAX as usize) as u32,
                });
            }
        }
    }
    rep.malformed = bad_rows.bad;
    rep.first_errors = bad_rows.first.clone();
    rep.time = time_decision.map(|d| d.describe());
    bad_rows.check("interaction log")?;
    if out.is_empty() {
        return Err(TrainError::Empty(format!(
            "no positive interactions left ({})",
            rep.summary().replace('\n', "; ")
        )));
    }
    Ok(Dataset {
        users: users.names,
        items: items.names,
        interactions: out,
        report: rep,
    })
}

/// Optional per-item catalogue data, keyed by item id.
#[derive(Clone, Debug, Default)]
pub struct ItemMeta {
    pub titles: HashMap<String, String>,
    pub categories: HashMap<String, String>,
    pub prices: HashMap<String, f32>,
    /// Stock of the items the file names (`--stock-col`); items it does not
    /// name stay in stock, as without a stock column.
    pub in_stock: HashMap<String, bool>,
    /// The currency the prices name (ISO code, or a bare `$` / `¥`).
    pub currency: Option<String>,
    pub rows: usize,
    pub malformed: usize,
    pub first_errors: Vec<(usize, String)>,
    /// How the price column was read (`None` without one).
    pub price_reading: Option<String>,
}

impl ItemMeta {
    /// One line for the run's log: what was read and how prices were read.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "item metadata: {} rows, {} malformed; {} titles, {} categories, {} prices",
            self.rows,
            self.malformed,
            self.titles.len(),
            self.categories.len(),
            self.prices.len()
        );
        if let Some(p) = &self.price_reading {
            s.push_str(&format!(" ({p})"));
        }
        if !self.in_stock.is_empty() {
            let out = self.in_stock.values().filter(|&&v| !v).count();
            s.push_str(&format!(
                ", stock for {} items ({} out of stock; items not listed stay in stock)",
                self.in_stock.len(),
                out
            ));
        }
        s.push_str(&table::bad_lines(&self.first_errors, self.malformed));
        s
    }
}

#[derive(Clone, Debug)]
pub struct MetaOptions {
    pub delimiter: Option<u8>,
    pub id_col: String,
    pub title_col: Option<String>,
    pub category_col: Option<String>,
    /// Keep only the first whitespace-separated token of the category field
    /// (MovieLens lists all genres in one field).
    pub category_first_token: bool,
    /// Keep the first N levels of a `Home > Kitchen > Mugs` path.
    pub category_level: Option<usize>,
    pub price_col: Option<String>,
    /// Decimal separator of the prices (`--price-decimal`).
    pub price_decimal: DecimalSep,
    /// Availability or quantity column (`--stock-col`).
    pub stock_col: Option<String>,
    /// Largest share of malformed rows before the load fails.
    pub max_bad_share: f64,
}

impl Default for MetaOptions {
    fn default() -> Self {
        MetaOptions {
            delimiter: None,
            id_col: "item_id".into(),
            title_col: None,
            category_col: None,
            category_first_token: false,
            category_level: None,
            price_col: None,
            price_decimal: DecimalSep::Auto,
            stock_col: None,
            max_bad_share: table::DEFAULT_MAX_BAD_SHARE,
        }
    }
}

pub fn load_item_meta(path: &Path, opts: &MetaOptions) -> Result<ItemMeta> {
    let bytes = read_file(path)?;
    parse_item_meta(&bytes, opts).map_err(|e| match e {
        TrainError::Empty(_) => {
            TrainError::Empty(format!("item metadata file {} is empty", path.display()))
        }
        e => e,
    })
}

/// Parses item metadata held in memory (see [`load_item_meta`]). A row
/// without an id, with a price that is not a non-negative amount in the
/// file's currency and decimal convention, or with an unknown stock value
/// is malformed; past `max_bad_share` of them the load fails.
pub fn parse_item_meta(bytes: &[u8], opts: &MetaOptions) -> Result<ItemMeta> {
    if opts.category_first_token && opts.category_level.is_some() {
        return Err(TrainError::Config(
            "--category-first-token and --category-level exclude each other".into(),
        ));
    }
    if opts.category_level == Some(0) {
        return Err(TrainError::Config(
            "--category-level must be at least 1".into(),
        ));
    }
    let t = Table::open(
        bytes,
        &TableOptions {
            delimiter: opts.delimiter,
            has_header: true,
            what: "item metadata".into(),
        },
    )?;
    let cid = t.column(&opts.id_col)?;
    let ct = opts.title_col.as_deref().map(|c| t.column(c)).transpose()?;
    let cc = opts
        .category_col
        .as_deref()
        .map(|c| t.column(c))
        .transpose()?;
    let cp = opts.price_col.as_deref().map(|c| t.column(c)).transpose()?;
    let cs = opts.stock_col.as_deref().map(|c| t.column(c)).transpose()?;
    // First pass over the prices alone: the decimal separator and the
    // currency are the column's, never a row's own guess.
    let prices = match cp {
        Some(c) => {
            let mut col = PriceColumn::default();
            t.for_each_in_column(c, |v| {
                if let Ok(p) = values::parse_raw_price(v) {
                    col.add(&p);
                }
            });
            Some(col.decide(opts.price_decimal))
        }
        None => None,
    };
    let mut meta = ItemMeta {
        currency: prices.as_ref().and_then(|p| p.currency.clone()),
        price_reading: prices.as_ref().map(|p| p.describe()),
        ..ItemMeta::default()
    };
    let mut bad = BadRows::new(opts.max_bad_share, false);
    for rec in t.records() {
        let rec = rec?;
        let f = rec.fields;
        bad.rows += 1;
        let id = match f.get(cid) {
            Some(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                bad.bad(rec.line, format!("no item id in column {}", cid + 1))?;
                continue;
            }
        };
        if let Some(t) = ct.and_then(|c| f.get(c)) {
            meta.titles.insert(id.clone(), t.trim().to_string());
        }
        if let Some(c) = cc.and_then(|c| f.get(c)) {
            let c = c.trim();
            let c = match opts.category_level {
                Some(n) => values::category_prefix(c, n),
                None if opts.category_first_token => {
                    c.split_whitespace().next().unwrap_or("").to_string()
                }
                None => c.to_string(),
            };
            if !c.is_empty() {
                meta.categories.insert(id.clone(), c);
            }
        }
        // A row with a bad price and a bad stock value is one bad row.
        let mut reasons: Vec<String> = Vec::new();
        if let (Some(p), Some(d)) = (cp.and_then(|c| f.get(c)), &prices) {
            match values::parse_raw_price(p).and_then(|raw| d.value(&raw, p)) {
                // Narrowed to the f32 the state keeps; a price past f32's
                // range is not a price.
                Ok(v) if (v as f32).is_finite() => {
                    meta.prices.insert(id.clone(), v as f32);
                }
                Ok(_) => reasons.push(format!("price {:?} is out of range", p.trim())),
                Err(reason) => reasons.push(reason),
            }
        }
        if let Some(s) = cs.and_then(|c| f.get(c)) {
            match values::parse_stock(s) {
                Ok(v) => {
                    meta.in_stock.insert(id.clone(), v);
                }
                Err(reason) => reasons.push(reason),
            }
        }
        if !reasons.is_empty() {
            bad.bad(rec.line, reasons.join("; "))?;
        }
    }
    meta.rows = bad.rows;
    meta.malformed = bad.bad;
    meta.first_errors = bad.first.clone();
    bad.check("item metadata")?;
    Ok(meta)
}

/// Parses `view=1,cart=3,purchase=5`.
pub fn parse_event_weights(s: &str) -> Result<Vec<(String, f32)>> {
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, w) = part.split_once('=').ok_or_else(|| {
            TrainError::Config(format!("event weight {part:?} is not name=weight"))
        })?;
        let w: f32 = w.trim().parse().map_err(|_| {
            TrainError::Config(format!("event weight {part:?}: weight is not a number"))
        })?;
        if !w.is_finite() || w <= 0.0 {
            return Err(TrainError::Config(format!(
                "event weight {part:?} must be positive"
            )));
        }
        v.push((k.trim().to_string(), w));
    }
    if v.is_empty() {
        return Err(TrainError::Config("empty --event-weights".into()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_csv_fields() {
        let data = "user_id,item_id,rating\n\"u, 1\",\"x \"\"y\"\"\",5\n";
        let d = parse_interactions(data.as_bytes(), &LoadOptions::default()).unwrap_err();
        // No timestamp column: the default layout asks for one.
        assert!(d.to_string().contains("timestamp"), "{d}");
        let opts = LoadOptions {
            time_col: None,
            ..LoadOptions::default()
        };
        let d = parse_interactions(data.as_bytes(), &opts).unwrap();
        assert_eq!(d.users, ["u, 1"]);
        assert_eq!(d.items, ["x \"y\""]);
    }

    /// 120 rows of which 80 use another delimiter: 80 rows dropped with a
    /// warning used to train on a third of the data.
    #[test]
    fn mixed_delimiters_fail_with_counts_and_lines() {
        let mut data = String::from("user_id,item_id,rating,timestamp\n");
        for i in 0..120 {
            if i % 3 == 0 {
                data.push_str(&format!("u{i},i{i},5,{i}\n"));
            } else {
                data.push_str(&format!("u{i};i{i};5;{i}\n"));
            }
        }
        let e = parse_interactions(data.as_bytes(), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("80 of 120 rows are malformed"), "{e}");
        assert!(e.contains("line 3:") && e.contains("line 4:"), "{e}");
        let lenient = LoadOptions {
            max_bad_share: 0.7,
            ..LoadOptions::default()
        };
        let d = parse_interactions(data.as_bytes(), &lenient).unwrap();
        assert_eq!((d.report.rows, d.report.malformed), (120, 80));
        assert_eq!(d.interactions.len(), 40);
    }

    #[test]
    fn item_meta_counts_bad_rows_and_fails_past_the_share() {
        let opts = MetaOptions {
            title_col: Some("title".into()),
            price_col: Some("price".into()),
            ..MetaOptions::default()
        };
        let mut ok = String::from("item_id,title,price\n");
        for i in 0..40 {
            ok.push_str(&format!("i{i},\"T, {i}\",{i}.5\n"));
        }
        ok.push_str(",no id,1\n");
        let m = parse_item_meta(ok.as_bytes(), &opts).unwrap();
        assert_eq!((m.malformed, m.titles.len()), (1, 40));
        assert_eq!(m.titles["i3"], "T, 3");
        let bad = "item_id,title,price\na,x,-1\nb,y,free\nc,z,3\n";
        let e = parse_item_meta(bad.as_bytes(), &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2 of 3 rows") && e.contains("line 3: price \"free\""),
            "{e}"
        );
    }

    #[test]
    fn recbole_header_and_latin1() {
        let mut data = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\r\n".to_vec();
        data.extend_from_slice(b"u1\tCaf\xe9\t5\t10\r\nu1\tB\t3\t11\r\nu2\tB\t4\t12.0\r\n\r\n");
        let d = parse_interactions(&data, &LoadOptions::default()).unwrap();
        assert_eq!(d.items, vec!["Café".to_string(), "B".to_string()]);
        assert_eq!(d.interactions.len(), 2);
        assert_eq!(d.report.below_threshold, 1);
        assert_eq!(d.interactions[1].time, 12);
    }

    /// One log written in seconds, milliseconds, microseconds and ISO-8601
    /// text: the same interactions at the same seconds.
    #[test]
    fn every_time_format_reads_to_the_same_seconds() {
        let secs = [1_704_189_600i64, 1_704_189_660, 1_704_196_800];
        let iso = [
            "2024-01-02T10:00:00Z",
            "2024-01-02 12:01:00+02:00",
            "2024-01-02T12:00:00.250",
        ];
        let log = |f: &dyn Fn(usize) -> String| {
            let mut t = String::from("user_id,item_id,rating,timestamp\n");
            for (k, it) in ["a", "b", "c"].iter().enumerate() {
                t.push_str(&format!("u1,{it},5,{}\n", f(k)));
            }
            t
        };
        let read = |text: String, spec: TimeSpec| {
            let d = parse_interactions(
                text.as_bytes(),
                &LoadOptions {
                    time_unit: spec,
                    ..LoadOptions::default()
                },
            )
            .unwrap();
            let times: Vec<i64> = d.interactions.iter().map(|x| x.time).collect();
            (times, d.report.summary())
        };
        let (t, sum) = read(log(&|k| secs[k].to_string()), TimeSpec::Auto);
        assert_eq!(t, secs);
        assert!(
            sum.contains("timestamps in seconds (--time-unit auto"),
            "{sum}"
        );
        let (t, sum) = read(log(&|k| (secs[k] * 1000 + 999).to_string()), TimeSpec::Auto);
        assert_eq!(t, secs);
        assert!(
            sum.contains("milliseconds (--time-unit auto: 3 of 3"),
            "{sum}"
        );
        let (t, _) = read(log(&|k| (secs[k] * 1_000_000).to_string()), TimeSpec::Auto);
        assert_eq!(t, secs);
        let (t, sum) = read(log(&|k| iso[k].to_string()), TimeSpec::Auto);
        assert_eq!(t, secs);
        assert!(sum.contains("1 without a UTC offset taken as UTC"), "{sum}");
        // A flag that contradicts the values is obeyed (and visible).
        let (t, sum) = read(
            log(&|k| secs[k].to_string()),
            TimeSpec::Unit(super::values::TimeUnit::Ms),
        );
        assert_eq!(t, secs.map(|s| s / 1000));
        assert!(sum.contains("milliseconds (--time-unit)"), "{sum}");
    }

    #[test]
    fn a_row_of_another_unit_is_malformed_with_its_reason() {
        let mut t = String::from("user_id,item_id,rating,timestamp\n");
        for i in 0..40 {
            t.push_str(&format!("u{i},i{i},5,{}\n", 1_704_189_600_000i64 + i));
        }
        t.push_str("u1,x,5,1704189600\n");
        let d = parse_interactions(t.as_bytes(), &LoadOptions::default()).unwrap();
        assert_eq!((d.report.rows, d.report.malformed), (41, 1));
        assert_eq!(d.report.first_errors[0].0, 42);
        assert!(d.report.first_errors[0].1.contains("looks like seconds"));
        let strict = LoadOptions {
            strict: true,
            ..LoadOptions::default()
        };
        match parse_interactions(t.as_bytes(), &strict) {
            Err(TrainError::Malformed { line: 42, reason }) => {
                assert!(reason.contains("milliseconds"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn item_meta_reads_feed_prices_stock_and_category_levels() {
        let opts = MetaOptions {
            category_col: Some("product_type".into()),
            category_level: Some(2),
            price_col: Some("price".into()),
            stock_col: Some("availability".into()),
            ..MetaOptions::default()
        };
        let feed = "item_id,product_type,price,availability\n\
            a,Home > Kitchen > Mugs,12.99 USD,in stock\n\
            b,Home > Garden,\"1,299.00 USD\",out of stock\n\
            c,Toys,$5,preorder\n\
            d,Toys,7 USD,3\n";
        let m = parse_item_meta(feed.as_bytes(), &opts).unwrap();
        assert_eq!(m.malformed, 0);
        assert_eq!(m.prices["a"], 12.99);
        assert_eq!(m.prices["b"], 1299.0);
        assert_eq!(m.prices["c"], 5.0);
        assert_eq!(m.currency.as_deref(), Some("USD"));
        assert_eq!(m.categories["a"], "Home > Kitchen");
        assert_eq!(m.categories["c"], "Toys");
        let stock: Vec<bool> = ["a", "b", "c", "d"]
            .iter()
            .map(|i| m.in_stock[*i])
            .collect();
        assert_eq!(stock, [true, false, false, true]);
        assert!(
            m.summary().contains("prices in USD, decimal point"),
            "{}",
            m.summary()
        );

        // A bad price and a bad stock value in one row are one bad row;
        // a price in another currency is one too.
        let bad = "item_id,price,availability\na,1 USD,in stock\nb,2 EUR,soon\nc,3 USD,0\n";
        let lenient = MetaOptions {
            max_bad_share: 0.5,
            ..opts.clone()
        };
        let m = parse_item_meta(
            bad.as_bytes(),
            &MetaOptions {
                category_col: None,
                ..lenient
            },
        )
        .unwrap();
        assert_eq!((m.rows, m.malformed), (3, 1));
        let (line, reason) = &m.first_errors[0];
        assert_eq!(*line, 3);
        assert!(
            reason.contains("in EUR") && reason.contains("stock \"soon\""),
            "{reason}"
        );
        assert!(!m.in_stock["c"]);

        // European feed: decimal commas, point thousands; `1.299` follows them.
        let eu = "item_id;price\na;12,99 €\nb;1.299\nc;€ 1.299,50\n";
        let m = parse_item_meta(
            eu.as_bytes(),
            &MetaOptions {
                price_col: Some("price".into()),
                ..MetaOptions::default()
            },
        )
        .unwrap();
        assert_eq!(
            (m.prices["a"], m.prices["b"], m.prices["c"]),
            (12.99, 1299.0, 1299.5)
        );
        assert_eq!(m.currency.as_deref(), Some("EUR"));

        let both = MetaOptions {
            category_first_token: true,
            ..opts
        };
        assert!(matches!(
            parse_item_meta(feed.as_bytes(), &both),
            Err(TrainError::Config(_))
        ));
    }
}
