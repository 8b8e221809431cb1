//! Interaction-log and item-metadata loading.
//!
//! Real logs are messy: CRLF endings, Latin-1 bytes next to UTF-8, quoted CSV
//! fields, a stray header repeated mid-file. The loader therefore never aborts
//! on a bad row unless `strict` is set; it counts every rejected row and keeps
//! the first few line numbers so a person can go and look.

use super::error::{Result, TrainError};
use std::collections::HashMap;
use std::path::Path;

/// How many malformed rows are quoted by line number in the report.
pub const SHOWN_ERRORS: usize = 5;

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

/// Bytes to text without failing: UTF-8 if valid, otherwise Latin-1 (every byte
/// is a code point), which is what older catalogue exports use.
fn decode(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => std::borrow::Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

/// Lines with their 1-based numbers, CR stripped, blank lines skipped.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let l = if i == 0 {
                l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l)
            } else {
                l
            };
            if l.iter().all(|b| b.is_ascii_whitespace()) {
                None
            } else {
                Some((i + 1, l))
            }
        })
}

fn detect_delimiter(first: &str) -> u8 {
    for d in [b'\t', b',', b';', b'|'] {
        if first.as_bytes().contains(&d) {
            return d;
        }
    }
    b','
}

/// Splits one line; double-quoted fields (RFC 4180 style, `""` escapes) are
/// honoured for every delimiter except tab, where quotes are ordinary text.
pub fn split_fields(line: &str, delim: u8) -> Vec<String> {
    let d = delim as char;
    if delim == b'\t' || !line.contains('"') {
        return line.split(d).map(|s| s.to_string()).collect();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            in_quotes = true;
            at_start = false;
        } else if c == d {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    out.push(cur);
    out
}

/// Finds a column by header name (also `name:type`) or a 0-based index.
fn resolve(header: Option<&[String]>, spec: &str) -> Result<usize> {
    if let Some(h) = header {
        let want = spec.trim().to_ascii_lowercase();
        for (i, name) in h.iter().enumerate() {
            let n = name.trim().to_ascii_lowercase();
            let base = n.split(':').next().unwrap_or("");
            if n == want || base == want {
                return Ok(i);
            }
        }
    }
    match spec.trim().parse::<usize>() {
        Ok(i) => Ok(i),
        Err(_) => Err(TrainError::Columns(match header {
            Some(h) => format!("no column named {spec:?}; header has {h:?}"),
            None => format!("column {spec:?} must be a 0-based index when the file has no header"),
        })),
    }
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

pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| TrainError::io(path, e))
}

pub fn load_interactions(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let bytes = read_file(path)?;
    parse_interactions(&bytes, opts)
}

/// Parses an interaction log held in memory (see [`load_interactions`]).
pub fn parse_interactions(bytes: &[u8], opts: &LoadOptions) -> Result<Dataset> {
    let mut it = lines(bytes).peekable();
    let first = match it.peek() {
        Some((_, l)) => decode(l).into_owned(),
        None => return Err(TrainError::Empty("the input file is empty".into())),
    };
    let delim = opts.delimiter.unwrap_or_else(|| detect_delimiter(&first));
    let header: Option<Vec<String>> = if opts.has_header {
        it.next();
        Some(split_fields(&first, delim))
    } else {
        None
    };
    let hdr = header.as_deref();
    let cu = resolve(hdr, &opts.user_col)?;
    let ci = resolve(hdr, &opts.item_col)?;
    let cv = match (&opts.value_col, &opts.value) {
        (_, ValueMode::Ones) | (None, _) => None,
        (Some(c), _) => Some(resolve(hdr, c)?),
    };
    if cv.is_none() && !matches!(opts.value, ValueMode::Ones) {
        return Err(TrainError::Config(
            "a rating threshold or event weights need a value column".into(),
        ));
    }
    let ct = match &opts.time_col {
        Some(c) => Some(resolve(hdr, c)?),
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

    for (lineno, raw) in it {
        rep.rows += 1;
        let text = decode(raw);
        let f = split_fields(&text, delim);
        let bad = |reason: String, rep: &mut ParseReport| -> Result<()> {
            if opts.strict {
                return Err(TrainError::Malformed {
                    line: lineno,
                    reason,
                });
            }
            rep.malformed += 1;
            if rep.first_errors.len() < SHOWN_ERRORS {
                rep.first_errors.push((lineno, reason));
            }
            Ok(())
        };
        if f.len() < needed {
            bad(
                format!("expected at least {needed} fields, found {}", f.len()),
                &mut rep,
            )?;
            continue;
        }
        let (u, i) = (f[cu].trim(), f[ci].trim());
        if u.is_empty() || i.is_empty() {
            bad("empty user or item id".into(), &mut rep)?;
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
                        &mut rep,
                    )?;
                    continue;
                }
            },
            (ValueMode::Events(_), Some(c)) => {
                let ev = f[c].trim().to_ascii_lowercase();
                if ev.is_empty() {
                    bad("empty event type".into(), &mut rep)?;
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
                        &mut rep,
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
        }
    }
}

pub fn load_item_meta(path: &Path, opts: &MetaOptions) -> Result<ItemMeta> {
    let bytes = read_file(path)?;
    let mut it = lines(&bytes);
    let first = match it.next() {
        Some((_, l)) => decode(l).into_owned(),
        None => {
            return Err(TrainError::Empty(format!(
                "item metadata file {} is empty",
                path.display()
            )))
        }
    };
    let delim = opts.delimiter.unwrap_or_else(|| detect_delimiter(&first));
    let header = split_fields(&first, delim);
    let cid = resolve(Some(&header), &opts.id_col)?;
    let ct = opts
        .title_col
        .as_deref()
        .map(|c| resolve(Some(&header), c))
        .transpose()?;
    let cc = opts
        .category_col
        .as_deref()
        .map(|c| resolve(Some(&header), c))
        .transpose()?;
    let cp = opts
        .price_col
        .as_deref()
        .map(|c| resolve(Some(&header), c))
        .transpose()?;
    let mut meta = ItemMeta::default();
    for (_, raw) in it {
        let f = split_fields(&decode(raw), delim);
        let id = match f.get(cid) {
            Some(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                meta.malformed += 1;
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
                _ => meta.malformed += 1,
            }
        }
    }
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
        assert_eq!(split_fields(r#"a,"b, c",d"#, b','), vec!["a", "b, c", "d"]);
        assert_eq!(split_fields(r#""x ""y""",z"#, b','), vec![r#"x "y""#, "z"]);
        assert_eq!(split_fields("a\t\"b\tc", b'\t'), vec!["a", "\"b", "c"]);
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
