//! The one reader for every CSV/TSV file the CLI reads: interaction logs,
//! item metadata, utterances, sessions and baskets.
//!
//! Field splitting (quotes, doubled quotes, CRLF, newlines inside quotes) is
//! the `csv` crate's; this module adds what every caller used to redo on its
//! own, so it is decided once: how big an input may be, which delimiter a
//! file uses, where the header is and which column a name or index means,
//! how a byte that is not UTF-8 is read, and when too many bad rows make a
//! run fail instead of quietly training on what is left.
//!
//! Native only (the browser never reads CSV).

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest input file read by default (2 GiB): larger than any log the
/// trainer has been run on (MovieLens-20M's ratings are 0.5 GB), small enough
/// that a wrong path (`/dev/zero`, a disk image) fails in seconds instead of
/// exhausting memory. `vitrine --max-input-bytes SIZE` changes it.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 2 << 30;

/// Share of data rows that may be malformed before a run fails (5%): a few
/// broken lines in a large export are normal, a third of the file is a wrong
/// delimiter or layout. `--max-bad-rows` changes it.
pub const DEFAULT_MAX_BAD_SHARE: f64 = 0.05;

/// How many bad rows are quoted by line number in a report.
pub const SHOWN_BAD_ROWS: usize = 5;

static MAX_INPUT_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_INPUT_BYTES);

/// Sets the size limit of [`read_input`] for this process (the CLI's global
/// `--max-input-bytes`).
pub fn set_max_input_bytes(limit: u64) {
    MAX_INPUT_BYTES.store(limit, Ordering::Relaxed);
}

pub fn max_input_bytes() -> u64 {
    MAX_INPUT_BYTES.load(Ordering::Relaxed)
}

#[derive(Debug)]
pub enum TableError {
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The input is larger than the limit (or an endless device).
    TooLarge { path: String, limit: u64 },
    /// Nothing but blank lines.
    Empty(String),
    /// A named column is absent, or an index is used without a header.
    Columns(String),
    /// A quoted field opens and the file ends before it closes: every line
    /// after `line` would silently become part of one field.
    Unterminated { line: usize },
    /// A bad row where none are allowed (`--strict`, utterance files).
    Malformed { line: usize, reason: String },
    /// Text that is neither UTF-8 nor Latin-1: UTF-16 with an unpaired
    /// surrogate, or NUL bytes (UTF-16 without a byte-order mark, a binary
    /// file).
    Encoding(String),
    /// More than the allowed share of data rows were malformed.
    TooManyBad {
        what: String,
        bad: usize,
        rows: usize,
        limit: f64,
        first: Vec<(usize, String)>,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Io { path, source } => write!(f, "{path}: {source}"),
            TableError::TooLarge { path, limit } => write!(
                f,
                "{path} is larger than the input limit of {limit} bytes \
                 (raise it with --max-input-bytes)"
            ),
            TableError::Empty(m) => write!(f, "{m}"),
            TableError::Columns(m) => write!(f, "column layout: {m}"),
            TableError::Encoding(m) => write!(f, "encoding: {m}"),
            TableError::Unterminated { line } => write!(
                f,
                "a quoted field opened on line {line} is never closed (the rest of the \
                 file would be one field)"
            ),
            TableError::Malformed { line, reason } => write!(f, "line {line}: {reason}"),
            TableError::TooManyBad {
                what,
                bad,
                rows,
                limit,
                first,
            } => {
                write!(
                    f,
                    "{what}: {bad} of {rows} rows are malformed ({:.1}%, more than the \
                     allowed {:.1}%; check the delimiter and columns, or raise --max-bad-rows)",
                    share(*bad, *rows) * 100.0,
                    limit * 100.0
                )?;
                f.write_str(&bad_lines(first, *bad))
            }
        }
    }
}

/// The first bad lines with their reasons, then how many more there were:
/// the tail of every message that reports skipped or refused rows.
pub fn bad_lines(first: &[(usize, String)], bad: usize) -> String {
    let mut s = String::new();
    for (line, reason) in first {
        s.push_str(&format!("\n  line {line}: {reason}"));
    }
    if bad > first.len() {
        s.push_str(&format!("\n  ... and {} more", bad - first.len()));
    }
    s
}

impl std::error::Error for TableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TableError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<TableError> for crate::error::Error {
    fn from(e: TableError) -> Self {
        crate::error::Error::invalid(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, TableError>;

fn share(bad: usize, rows: usize) -> f64 {
    if rows == 0 {
        0.0
    } else {
        bad as f64 / rows as f64
    }
}

/// Reads a whole input file, refusing more than [`max_input_bytes`]. The
/// read itself is capped (not only the file's stated length), so devices and
/// pipes that never end are refused too.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    read_input_limited(path, max_input_bytes())
}

pub fn read_input_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = |source| TableError::Io {
        path: path.display().to_string(),
        source,
    };
    let too_large = || TableError::TooLarge {
        path: path.display().to_string(),
        limit,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let stated = file.metadata().map(|m| m.len()).unwrap_or(0);
    if stated > limit {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(usize::try_from(stated).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(io)?;
    if out.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// `2G`, `512M`, `64K` (binary units, optional `B`/`iB`) or a plain byte count.
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let body = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (num, shift) = match body.chars().last() {
        Some('K') => (&body[..body.len() - 1], 10),
        Some('M') => (&body[..body.len() - 1], 20),
        Some('G') => (&body[..body.len() - 1], 30),
        Some('T') => (&body[..body.len() - 1], 40),
        _ => (body, 0),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 2G, 512M, 1000000)"))?;
    n.checked_mul(1u64 << shift)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("{s:?}: a size must be between 1 byte and 16 EiB"))
}

/// `5%` or `0.05`: a share of rows in `[0, 1]`.
pub fn parse_share(s: &str) -> std::result::Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a share (e.g. 5% or 0.05)"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("{s:?}: a share must be between 0% and 100%"));
    }
    Ok(v)
}

/// `auto`, `tab`, `comma`, `semicolon`, `pipe`, or one ASCII character.
pub fn parse_delimiter(s: &str) -> std::result::Result<Option<u8>, String> {
    Ok(Some(match s {
        "auto" => return Ok(None),
        "tab" | "\\t" | "\t" => b'\t',
        "comma" | "," => b',',
        "semicolon" | ";" => b';',
        "pipe" | "|" => b'|',
        s if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" && s != "\r" => s.as_bytes()[0],
        s => {
            return Err(format!(
                "{s:?}: expected auto, tab, comma, semicolon, pipe or one ASCII character"
            ))
        }
    }))
}

/// Bytes to text without failing: UTF-8 if valid, otherwise Latin-1 (every
/// byte is a code point), which is what older catalogue exports use.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

/// Text as the table reads it. Spreadsheets and Notepad save "Unicode text"
/// as UTF-16 with a byte-order mark: that is transcoded to UTF-8 (the only
/// copy a table makes). NUL bytes in the first line are refused by name:
/// UTF-16 without a mark (or a binary file) would otherwise read as one
/// column of Latin-1 noise and fail later as "no column named user_id".
pub fn text_bytes<'a>(bytes: &'a [u8], what: &str) -> Result<Cow<'a, [u8]>> {
    let units = |be: bool| -> Result<Vec<u8>> {
        let body = bytes.get(2..).unwrap_or(&[]);
        if body.len() % 2 != 0 {
            return Err(TableError::Encoding(format!(
                "the {what} is UTF-16 (byte-order mark) but has an odd number of bytes"
            )));
        }
        let it = body.chunks_exact(2).map(|c| {
            let pair = [c[0], c[1]];
            if be {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            }
        });
        let mut out = String::with_capacity(body.len());
        for (i, ch) in char::decode_utf16(it).enumerate() {
            match ch {
                Ok(c) => out.push(c),
                Err(_) => {
                    return Err(TableError::Encoding(format!(
                        "the {what} is UTF-16 with an unpaired surrogate at code unit {i}"
                    )))
                }
            }
        }
        Ok(out.into_bytes())
    };
    match bytes {
        [0xFF, 0xFE, ..] => return units(false).map(Cow::Owned),
        [0xFE, 0xFF, ..] => return units(true).map(Cow::Owned),
        _ => {}
    }
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    if first.contains(&0) {
        return Err(TableError::Encoding(format!(
            "the {what} has NUL bytes in its first line: UTF-16 without a byte-order \
             mark, or not a text file (save it as UTF-8 or UTF-16 with a BOM)"
        )));
    }
    Ok(Cow::Borrowed(bytes))
}

/// The delimiter of a file whose first line is `first`: tab, then comma,
/// semicolon and pipe, the first one present (comma when none is).
pub fn detect_delimiter(first: &[u8]) -> u8 {
    [b'\t', b',', b';', b'|']
        .into_iter()
        .find(|d| first.contains(d))
        .unwrap_or(b',')
}

#[derive(Clone, Debug)]
pub struct TableOptions {
    /// `None`: detected from the first non-blank line.
    pub delimiter: Option<u8>,
    pub has_header: bool,
    /// What the file is, for messages ("interaction log", "item metadata").
    pub what: String,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            delimiter: None,
            has_header: true,
            what: "input".into(),
        }
    }
}

/// One data row: its 1-based line in the file and its fields (trimmed of
/// nothing: callers decide what whitespace means).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

impl Record {
    /// Field `c` trimmed, `None` when the row is too short or the field
    /// blank: what an id column means by "missing".
    pub fn field(&self, c: usize) -> Option<&str> {
        self.fields
            .get(c)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

/// A CSV/TSV file held in memory: delimiter and header resolved, rows read
/// lazily (an interaction log is never held twice).
pub struct Table<'a> {
    /// The file's bytes (UTF-16 transcoded, a UTF-8 BOM stripped).
    bytes: Cow<'a, [u8]>,
    delimiter: u8,
    header: Option<Vec<String>>,
    /// Byte offset and line of the first data row.
    body: (usize, usize),
    what: String,
}

fn reader(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        // Tab-separated exports (RecBole, MovieLens) never quote: a `"` in a
        // title is text.
        .quoting(delimiter != b'\t')
        .from_reader(bytes)
}

fn blank(r: &csv::ByteRecord) -> bool {
    r.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

impl<'a> Table<'a> {
    pub fn open(bytes: &'a [u8], opts: &TableOptions) -> Result<Table<'a>> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = text_bytes(bytes, &opts.what)?;
        let first = text
            .split(|&b| b == b'\n')
            .find(|l| !l.iter().all(u8::is_ascii_whitespace))
            .ok_or_else(|| TableError::Empty(format!("the {} is empty", opts.what)))?;
        let delimiter = opts.delimiter.unwrap_or_else(|| detect_delimiter(first));
        let mut t = Table {
            bytes: text,
            delimiter,
            header: None,
            body: (0, 1),
            what: opts.what.clone(),
        };
        if opts.has_header {
            let (header, body) = t.read_header()?;
            t.header = Some(header);
            t.body = body;
        }
        Ok(t)
    }

    /// The first non-blank record, and the byte offset and line of the row
    /// after it.
    fn read_header(&self) -> Result<(Vec<String>, (usize, usize))> {
        let bytes: &[u8] = &self.bytes;
        let mut rd = reader(bytes, self.delimiter);
        let mut rec = csv::ByteRecord::new();
        loop {
            match rd.read_byte_record(&mut rec) {
                Ok(true) if blank(&rec) => continue,
                Ok(true) => break,
                Ok(false) => return Err(TableError::Empty(format!("the {} is empty", self.what))),
                Err(e) => {
                    return Err(TableError::Malformed {
                        line: 1,
                        reason: e.to_string(),
                    })
                }
            }
        }
        let end = rd.position().clone();
        let mut start = rec.position().map_or(0, |p| p.byte() as usize);
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let start = start.min(bytes.len());
        let header_line = 1 + bytes[..start].iter().filter(|&&c| c == b'\n').count();
        if end.byte() as usize >= bytes.len() {
            // The header ran to the end of the file: maybe one open quote.
            self.check_closed(start, header_line)?;
        }
        let header = rec.iter().map(|f| decode(f).trim().to_string()).collect();
        // The reader's line counter lags at a record's end: count.
        let b = (end.byte() as usize).min(bytes.len());
        let line = 1 + bytes[..b].iter().filter(|&&c| c == b'\n').count();
        Ok((header, (b, line)))
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    pub fn header(&self) -> Option<&[String]> {
        self.header.as_deref()
    }

    /// A column by header name (case-insensitive; `name` also matches a
    /// RecBole-style `name:type`) or by 0-based index.
    pub fn column(&self, spec: &str) -> Result<usize> {
        if let Some(i) = self.find(spec) {
            return Ok(i);
        }
        spec.trim().parse::<usize>().map_err(|_| {
            TableError::Columns(match &self.header {
                Some(h) => format!("{}: no column named {spec:?}; header has {h:?}", self.what),
                None => format!(
                    "{}: column {spec:?} must be a 0-based index when the file has no header",
                    self.what
                ),
            })
        })
    }

    /// The column a flag names (`given`: header name or index, which must
    /// exist), else the first of `names` the header has. Errors name the
    /// file and the flag, so a wrong `--item-col` reads as such.
    pub fn pick(
        &self,
        given: Option<&str>,
        flag: &str,
        names: &[&str],
    ) -> std::result::Result<Option<usize>, String> {
        match given {
            Some(spec) => self
                .column(spec)
                .map(Some)
                .map_err(|e| format!("--{flag}: {e}")),
            None => Ok(names.iter().find_map(|n| self.find(n))),
        }
    }

    /// [`Table::pick`] for a column the file must have: without one, the
    /// error lists the header and the flag that names it.
    pub fn require(
        &self,
        given: Option<&str>,
        flag: &str,
        names: &[&str],
    ) -> std::result::Result<usize, String> {
        self.pick(given, flag, names)?.ok_or_else(|| {
            let header = self.header.as_deref().unwrap_or(&[]);
            format!(
                "{}: no {} column (also tried {:?}) in the header {header:?}; name it with --{flag}",
                self.what,
                names.first().copied().unwrap_or("?"),
                names.get(1..).unwrap_or(&[]),
            )
        })
    }

    /// A column by header name only (for optional columns).
    pub fn find(&self, name: &str) -> Option<usize> {
        let want = name.trim().to_ascii_lowercase();
        self.header.as_ref()?.iter().position(|h| {
            let n = h.to_ascii_lowercase();
            n == want || n.split(':').next() == Some(want.as_str())
        })
    }

    /// Calls `f` with field `col` of every data row that has one (decoded as
    /// [`Table::records`] does), stopping at the first CSV error. No line
    /// counting and no per-row allocation: a cheap first pass over one
    /// column (the trainer decides a timestamp column's unit before it
    /// reads the rows).
    pub fn for_each_in_column(&self, col: usize, mut f: impl FnMut(&str)) {
        let mut rd = reader(&self.bytes[self.body.0..], self.delimiter);
        let mut rec = csv::ByteRecord::new();
        while let Ok(true) = rd.read_byte_record(&mut rec) {
            if let Some(v) = rec.get(col) {
                f(&decode(v));
            }
        }
    }

    /// The data rows, blank lines skipped, each field decoded (UTF-8, else
    /// Latin-1). Ends with an error if the file ends inside a quoted field.
    pub fn records(&self) -> Records<'_> {
        Records {
            table: self,
            rd: reader(&self.bytes[self.body.0..], self.delimiter),
            rec: csv::ByteRecord::new(),
            last_start: None,
            cursor: self.body,
            done: false,
        }
    }

    /// Whether a quoted field starting in the record at `start` runs to the
    /// end of the file. The csv crate ends such a field quietly at EOF;
    /// appending a closing quote changes nothing exactly when the file ended
    /// inside quotes (anywhere else it adds a record or a character).
    fn check_closed(&self, start: usize, line: usize) -> Result<()> {
        if self.delimiter == b'\t' {
            return Ok(());
        }
        let tail = self.bytes.get(start..).unwrap_or(&[]);
        if !tail.contains(&b'"') {
            return Ok(());
        }
        let fields = |b: &[u8]| -> Vec<Vec<Vec<u8>>> {
            reader(b, self.delimiter)
                .byte_records()
                .filter_map(|r| r.ok())
                .map(|r| r.iter().map(<[u8]>::to_vec).collect())
                .collect()
        };
        let mut closed = tail.to_vec();
        closed.push(b'"');
        if fields(tail) == fields(&closed) {
            return Err(TableError::Unterminated { line });
        }
        Ok(())
    }
}

pub struct Records<'t> {
    table: &'t Table<'t>,
    rd: csv::Reader<&'t [u8]>,
    rec: csv::ByteRecord,
    /// Byte offset (in the file) and line of the last record returned.
    last_start: Option<(usize, usize)>,
    /// Byte offset and line number counted so far.
    cursor: (usize, usize),
    done: bool,
}

impl Iterator for Records<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        let (b0, l0) = self.table.body;
        loop {
            match self.rd.read_byte_record(&mut self.rec) {
                Ok(true) => {
                    // The crate's positions point at the previous record's
                    // line terminator; count lines from its byte offsets.
                    let table: &Table<'_> = self.table;
                    let bytes: &[u8] = &table.bytes;
                    let mut start = b0 + self.rec.position().map_or(0, |p| p.byte() as usize);
                    while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
                        start += 1;
                    }
                    let (cur, line) = self.cursor;
                    let start = start.max(cur).min(bytes.len());
                    let line = line + bytes[cur..start].iter().filter(|&&c| c == b'\n').count();
                    self.cursor = (start, line);
                    let at = (start, line);
                    self.last_start = Some(at);
                    if blank(&self.rec) {
                        continue;
                    }
                    return Some(Ok(Record {
                        line: at.1,
                        fields: self.rec.iter().map(|f| decode(f).into_owned()).collect(),
                    }));
                }
                Ok(false) => {
                    self.done = true;
                    let (start, line) = self.last_start?;
                    return self.table.check_closed(start, line).err().map(Err);
                }
                Err(e) => {
                    self.done = true;
                    let line = e.position().map_or(l0, |p| l0 + p.line() as usize - 1);
                    return Some(Err(TableError::Malformed {
                        line,
                        reason: e.to_string(),
                    }));
                }
            }
        }
    }
}

/// Counts data rows and malformed ones, quotes the first few, and decides
/// whether a run may go on: under `strict` at the first bad row, otherwise
/// at the end when the share of bad rows is above the limit.
#[derive(Clone, Debug)]
pub struct BadRows {
    pub rows: usize,
    pub bad: usize,
    pub first: Vec<(usize, String)>,
    pub strict: bool,
    pub max_share: f64,
}

impl BadRows {
    pub fn new(max_share: f64, strict: bool) -> Self {
        BadRows {
            rows: 0,
            bad: 0,
            first: Vec::new(),
            strict,
            max_share,
        }
    }

    /// Records a malformed row; an error under `strict`.
    pub fn bad(&mut self, line: usize, reason: String) -> Result<()> {
        if self.strict {
            return Err(TableError::Malformed { line, reason });
        }
        self.bad += 1;
        if self.first.len() < SHOWN_BAD_ROWS {
            self.first.push((line, reason));
        }
        Ok(())
    }

    /// The end-of-file verdict.
    pub fn check(&self, what: &str) -> Result<()> {
        if share(self.bad, self.rows) > self.max_share {
            return Err(TableError::TooManyBad {
                what: what.to_string(),
                bad: self.bad,
                rows: self.rows,
                limit: self.max_share,
                first: self.first.clone(),
            });
        }
        Ok(())
    }
}

/// A small file read whole: header (trimmed, lower-cased) and rows that must
/// all have the header's width. For curated inputs (utterances, intent
/// configuration) where any bad row is an error.
pub fn read_strict(path: &Path, delimiter: u8) -> Result<(Vec<String>, Vec<Record>)> {
    let raw = read_input(path)?;
    let bytes = text_bytes(&raw, &path.display().to_string())?;
    // Curated text (utterances, labels) must be UTF-8: the Latin-1 fallback
    // that suits old catalogue exports would quietly train on mojibake.
    if let Err(e) = std::str::from_utf8(&bytes) {
        let at = e.valid_up_to();
        let line = bytes
            .get(..at)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
            + 1;
        return Err(TableError::Malformed {
            line,
            reason: format!("{}: not valid UTF-8 (byte {at})", path.display()),
        });
    }
    let t = Table::open(
        &bytes,
        &TableOptions {
            delimiter: Some(delimiter),
            has_header: true,
            what: path.display().to_string(),
        },
    )?;
    let header: Vec<String> = t
        .header()
        .unwrap_or(&[])
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let mut rows = Vec::new();
    for r in t.records() {
        let r = r?;
        if r.fields.len() != header.len() {
            return Err(TableError::Malformed {
                line: r.line,
                reason: format!(
                    "{}: {} fields, the header has {}",
                    path.display(),
                    r.fields.len(),
                    header.len()
                ),
            });
        }
        rows.push(r);
    }
    Ok((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, delimiter: Option<u8>) -> Result<Vec<Record>> {
        let t = Table::open(
            text.as_bytes(),
            &TableOptions {
                delimiter,
                has_header: true,
                what: "test".into(),
            },
        )?;
        t.records().collect()
    }

    #[test]
    fn quotes_crlf_blank_lines_and_line_numbers() {
        let r = rows(
            "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n  \n\"two\nlines\",z\nlast,1",
            None,
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].fields, ["x, y", "say \"hi\""]);
        assert_eq!(r[0].line, 2);
        assert_eq!(r[1].fields, ["two\nlines", "z"]);
        assert_eq!(r[1].line, 5);
        assert_eq!(r[2].line, 7);
    }

    #[test]
    fn tab_files_keep_quotes_as_text_and_latin1_decodes() {
        let mut b = b"id\ttitle\n1\t5\" screen\n2\tCaf".to_vec();
        b.push(0xe9);
        let t = Table::open(&b, &TableOptions::default()).unwrap();
        assert_eq!(t.delimiter(), b'\t');
        let r: Vec<Record> = t.records().collect::<Result<_>>().unwrap();
        assert_eq!(r[0].fields[1], "5\" screen");
        assert_eq!(r[1].fields[1], "Café");
    }

    #[test]
    fn unterminated_quote_is_an_error_with_its_line() {
        match rows("a,b\n1,2\n3,\"open\n4,5\n", None) {
            Err(TableError::Unterminated { line: 3 }) => {}
            other => panic!("{other:?}"),
        }
        // Closed quotes at the very end are fine, and so are quotes inside
        // an unquoted field.
        assert_eq!(rows("a,b\n1,\"x\"", None).unwrap()[0].fields, ["1", "x"]);
        assert_eq!(rows("a,b\n1,x\"y", None).unwrap()[0].fields, ["1", "x\"y"]);
        assert!(matches!(
            rows("\"a,b\n1,2\n", None),
            Err(TableError::Unterminated { line: 1 })
        ));
    }

    #[test]
    fn one_column_scan_sees_what_records_see() {
        let mut b = b"a,b\n1,\"x, y\"\n\n2\n3,Caf".to_vec();
        b.push(0xe9);
        let t = Table::open(&b, &TableOptions::default()).unwrap();
        let mut seen = Vec::new();
        t.for_each_in_column(1, |v| seen.push(v.to_string()));
        assert_eq!(seen, ["x, y", "Café"]);
    }

    #[test]
    fn columns_by_name_type_suffix_or_index() {
        let b = b"user_id:token\tItem_ID:token\tx\n1\t2\t3\n";
        let t = Table::open(b, &TableOptions::default()).unwrap();
        assert_eq!(t.column("user_id").unwrap(), 0);
        assert_eq!(t.column("item_id").unwrap(), 1);
        assert_eq!(t.column("2").unwrap(), 2);
        let e = t.column("rating").unwrap_err().to_string();
        assert!(e.contains("no column named \"rating\""), "{e}");
        assert!(matches!(
            Table::open(b"\n \n", &TableOptions::default()),
            Err(TableError::Empty(_))
        ));
    }

    #[test]
    fn bad_row_share_is_enforced() {
        let mut b = BadRows::new(0.05, false);
        b.rows = 120;
        for line in 0..80 {
            b.bad(line + 2, "short".into()).unwrap();
        }
        let e = b.check("log").unwrap_err().to_string();
        assert!(e.contains("80 of 120 rows"), "{e}");
        assert!(
            e.contains("line 2: short") && e.contains("... and 75 more"),
            "{e}"
        );
        b.max_share = 0.6;
        assert!(b.check("log").is_err());
        b.max_share = 0.7; // 80/120 = 0.667
        assert!(b.check("log").is_ok());
        let mut s = BadRows::new(1.0, true);
        assert!(matches!(
            s.bad(9, "x".into()),
            Err(TableError::Malformed { line: 9, .. })
        ));
    }

    #[test]
    fn sizes_shares_and_delimiters_parse() {
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("0").is_err() && parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(parse_share("5%").unwrap(), 0.05);
        assert_eq!(parse_share("0.25").unwrap(), 0.25);
        assert!(parse_share("120%").is_err() && parse_share("NaN").is_err());
        assert_eq!(parse_delimiter("tab").unwrap(), Some(b'\t'));
        assert_eq!(parse_delimiter("auto").unwrap(), None);
        assert!(parse_delimiter("\"").is_err() && parse_delimiter("ab").is_err());
    }

    #[test]
    fn reads_are_bounded_even_for_endless_devices() {
        let dir = std::env::temp_dir().join(format!("vitrine-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ten.txt");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_input_limited(&p, 10).unwrap().len(), 10);
        assert!(matches!(
            read_input_limited(&p, 9),
            Err(TableError::TooLarge { limit: 9, .. })
        ));
        if Path::new("/dev/zero").exists() {
            assert!(matches!(
                read_input_limited(Path::new("/dev/zero"), 1 << 16),
                Err(TableError::TooLarge { .. })
            ));
        }
        assert_eq!(DEFAULT_MAX_INPUT_BYTES, 2 << 30);
    }

    /// Excel's and Notepad's "Unicode text" is UTF-16 with a byte-order
    /// mark: read as the text it spells, in either byte order.
    #[test]
    fn utf16_with_a_bom_reads_as_its_text() {
        let text = "user_id\titem_id\r\nu1\tCafé\r\nu2\t杯子 😀\r\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for bytes in [le, be] {
            let t = Table::open(&bytes, &TableOptions::default()).unwrap();
            assert_eq!(t.delimiter(), b'\t');
            assert_eq!(t.header().unwrap(), ["user_id", "item_id"]);
            let r: Vec<Record> = t.records().collect::<Result<_>>().unwrap();
            assert_eq!(r[0].fields, ["u1", "Café"]);
            assert_eq!(r[1].fields, ["u2", "杯子 😀"]);
            assert_eq!(r[1].line, 3);
        }
    }

    /// What is not text is refused by name, not read as Latin-1 noise.
    #[test]
    fn utf16_without_a_bom_or_broken_is_an_encoding_error() {
        let check = |bytes: &[u8], want: &str| match Table::open(bytes, &TableOptions::default()) {
            Err(TableError::Encoding(m)) => assert!(m.contains(want), "{m}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("accepted {bytes:?}"),
        };
        let no_bom: Vec<u8> = "a,b\n1,2\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        check(&no_bom, "NUL bytes");
        check(b"\xFF\xFEa\x00,", "odd number of bytes");
        // A low surrogate alone.
        check(
            b"\xFF\xFEa\x00\x00\xDC",
            "unpaired surrogate at code unit 1",
        );
        // The file's first line only: a NUL further down is a field's byte.
        assert!(Table::open(b"a,b\n1,\x002\n", &TableOptions::default()).is_ok());
    }
}
