//! Interaction-log and item-metadata loading.
//!
//! Real logs are messy: CRLF endings, Latin-1 bytes next to UTF-8, quoted CSV
//! fields, a stray header repeated mid-file. Files are read by the crate's one
//! table reader (`crate::table`): a few bad rows are counted, quoted by line
//! number and skipped, but a file where more than `max_bad_share` of the rows
//! are bad (a wrong delimiter, another layout) fails instead of training on
//! what is left. `strict` fails on the first bad row.

use super::error::{Result, TrainError};
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
    /// Latest timestamp of the pair (file order if there is no time column).
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
}

impl ParseReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} rows read, {} malformed, {} below threshold, {} unknown events, {} duplicate pairs merged",
            self.rows, self.malformed, self.below_threshold, self.unknown_events, self.duplicates_merged
        );
        for (line, reason) in &self.first_errors {
            s.push_str(&format!("\n  line {line}: {reason}"));
        }
        if self.malformed > self.first_errors.len() {
            s.push_str(&format!(
                "\n  ... and {} more",
                self.malformed - self.first_errors.len()
            ));
        }
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

fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<i64>() {
        return Some(v);
    }
    let f = s.parse::<f64>().ok()?;
    if f.is_finite() && f.abs() < 9.0e15 {
        Some(f as i64)
    } else {
        None
    }
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
        let time = match ct {
            Some(c) => match parse_time(&f[c]) {
                Some(t) => t,
                None => {
                    bad(
                        format!("timestamp {:?} is not a number", f[c].trim()),
                        &mut bad_rows,
                    )?;
                    continue;
                }
            },
            None => lineno as i64,
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
    pub malformed: usize,
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
    pub price_col: Option<String>,
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
            price_col: None,
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
/// without an id or with a price that is not a non-negative number is
/// malformed; past `max_bad_share` of them the load fails.
pub fn parse_item_meta(bytes: &[u8], opts: &MetaOptions) -> Result<ItemMeta> {
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
    let mut meta = ItemMeta::default();
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
            let c = if opts.category_first_token {
                c.split_whitespace().next().unwrap_or("")
            } else {
                c
            };
            if !c.is_empty() {
                meta.categories.insert(id.clone(), c.to_string());
            }
        }
        if let Some(p) = cp.and_then(|c| f.get(c)) {
            match p.trim().parse::<f32>() {
                Ok(v) if v.is_finite() && v >= 0.0 => {
                    meta.prices.insert(id, v);
                }
                _ => bad.bad(
                    rec.line,
                    format!("price {:?} is not a non-negative number", p.trim()),
                )?,
            }
        }
    }
    meta.malformed = bad.bad;
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
}
