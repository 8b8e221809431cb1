//! Utterance files (`text,intent[,lang]`, out-of-scope examples, intent
//! configuration): RFC 4180 CSV read through the crate's one table reader
//! (`crate::table`, on the `csv` crate), so quoting, line numbers, size
//! limits and column checks are the same as for interaction logs. Any bad
//! row is an error here: these files are small and written by hand.

use crate::error::Error;
use crate::table::{Table, TableOptions};

/// Parses CSV text into rows of fields. Blank lines are skipped; a quoted
/// field that never closes is an error.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, Error> {
    let t = match Table::open(
        text.as_bytes(),
        &TableOptions {
            delimiter: Some(b','),
            has_header: false,
            what: "CSV".into(),
        },
    ) {
        Ok(t) => t,
        Err(crate::table::TableError::Empty(_)) => return Ok(Vec::new()),
        Err(e) => return Err(Error::invalid(format!("CSV: {e}"))),
    };
    t.records()
        .map(|r| {
            r.map(|r| r.fields)
                .map_err(|e| Error::invalid(format!("CSV: {e}")))
        })
        .collect()
}

/// Quotes a field when needed.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Reads a CSV with a header row (names trimmed and lower-cased); every
/// row must have the header's width. The file is bounded by the CLI's input
/// limit (`--max-input-bytes`).
pub fn read_table(path: &std::path::Path) -> Result<(Vec<String>, Vec<Vec<String>>), Error> {
    let (header, rows) = crate::table::read_strict(path, b',').map_err(|e| match e {
        crate::table::TableError::Empty(_) => {
            Error::invalid(format!("{} is empty", path.display()))
        }
        e => Error::invalid(e.to_string()),
    })?;
    Ok((header, rows.into_iter().map(|r| r.fields).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_commas_and_newlines() {
        let rows =
            parse("text,intent\n\"hi, there\",greet\n\"say \"\"yo\"\"\nnow\",x\r\nlast,y").unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], ["hi, there", "greet"]);
        assert_eq!(rows[2], ["say \"yo\"\nnow", "x"]);
        assert_eq!(rows[3], ["last", "y"]);
        assert!(parse("\"open").is_err());
        assert_eq!(
            parse(&format!("{},b\n", field("a,\"b\""))).unwrap()[0],
            ["a,\"b\"", "b"]
        );
    }
}
