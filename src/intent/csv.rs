//! Minimal RFC 4180 CSV reading/writing for utterance files (quoted fields,
//! doubled quotes, newlines inside quotes). A full CSV crate is not worth a
//! dependency for two-to-four-column files.

use crate::error::Error;

/// Parses CSV text into rows of fields. Blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, Error> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut field_started = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if !field_started => {
                in_quotes = true;
                field_started = true;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                field_started = false;
            }
            '\r' => {}
            '\n' => {
                line += 1;
                row.push(std::mem::take(&mut field));
                field_started = false;
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            _ => {
                field_started = true;
                field.push(c);
            }
        }
    }
    if in_quotes {
        return Err(Error::invalid(format!(
            "CSV: unterminated quoted field (line {line})"
        )));
    }
    if field_started || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// Quotes a field when needed.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Reads a CSV with a header row into maps from column name to value.
pub fn read_table(path: &std::path::Path) -> Result<(Vec<String>, Vec<Vec<String>>), Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
    let mut rows = parse(&text)?;
    if rows.is_empty() {
        return Err(Error::invalid(format!("{} is empty", path.display())));
    }
    let header: Vec<String> = rows
        .remove(0)
        .into_iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    for (i, r) in rows.iter().enumerate() {
        if r.len() != header.len() {
            return Err(Error::invalid(format!(
                "{}: row {} has {} fields, header has {}",
                path.display(),
                i + 2,
                r.len(),
                header.len()
            )));
        }
    }
    Ok((header, rows))
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
