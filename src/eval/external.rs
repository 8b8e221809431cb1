//! Scoring another system's next-item predictions with vitrine's own metric
//! code, so a peer (RecBole's GRU4Rec in `make eval-neural`) and vitrine's
//! rows of the session table are measured by one implementation on one split.
//!
//! The peer writes one line per prediction point of the test log, in the
//! harness's order (sessions in order of first appearance, positions 1..len,
//! see [`super::session::points`]): `session_id  position  target  items`,
//! tab-separated with that header, `items` being up to 20 item ids (best
//! first, space-separated). The target column is redundant on purpose: the
//! scorer checks it against its own reading of the test file, so a peer that
//! split, sorted or filtered sessions differently fails loudly instead of
//! being scored against the wrong next items.

use super::session::{points, read_log, Acc, Log};
use super::EvalError;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Header columns of a predictions file, in this order.
pub const PREDICTION_COLUMNS: [&str; 4] = ["session_id", "position", "target", "items"];

/// The cut-off of the metrics ([`Acc`] scores the first 20).
pub const K: usize = 20;

/// Scores a predictions file against the test log. `ids` is the catalogue
/// (train.csv's items, as `session eval` builds it) and `test` the log read
/// with it: items outside the catalogue are `u32::MAX` there, so they can
/// never be hit, for the peer as for vitrine.
pub fn parse_predictions(
    text: &str,
    path: &str,
    ids: &HashMap<String, u32>,
    test: &Log,
) -> Result<Acc, EvalError> {
    let bad = |line: usize, detail: String| EvalError::BadLayout {
        path: path.to_string(),
        detail: format!("line {line}: {detail}"),
    };
    let mut lines = text.lines().enumerate();
    let header = lines.next().map_or("", |x| x.1);
    let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
    if cols != PREDICTION_COLUMNS {
        return Err(EvalError::BadLayout {
            path: path.to_string(),
            detail: format!(
                "the first line must be the tab-separated header {}; found {:?}",
                PREDICTION_COLUMNS.join(", "),
                header.chars().take(120).collect::<String>()
            ),
        });
    }
    let expected = points(&test.sessions);
    let mut next = expected.iter();
    let mut acc = Acc::default();
    // Session ids already closed, and the one being read (log index, id).
    let mut done: HashSet<String> = HashSet::new();
    let mut current: Option<(usize, String)> = None;
    let name_of = |i: u32| -> String {
        if i == u32::MAX {
            return "an item outside train.csv".into();
        }
        ids.iter()
            .find(|(_, &v)| v == i)
            .map_or_else(|| format!("#{i}"), |(k, _)| format!("{k:?}"))
    };
    for (ln, line) in lines {
        let ln = ln + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let [sid, pos, target, items] = f[..] else {
            return Err(bad(
                ln,
                format!("{} columns, expected {}", f.len(), PREDICTION_COLUMNS.len()),
            ));
        };
        let Some(&(s, p)) = next.next() else {
            return Err(bad(
                ln,
                format!(
                    "more lines than the test log's {} prediction points",
                    expected.len()
                ),
            ));
        };
        match &current {
            Some((cs, cid)) if *cs == s => {
                if cid != sid {
                    return Err(bad(
                        ln,
                        format!("session {sid:?} where the test log continues session {cid:?}"),
                    ));
                }
            }
            _ => {
                if let Some((_, cid)) = current.take() {
                    done.insert(cid);
                }
                if sid.is_empty() || done.contains(sid) {
                    return Err(bad(
                        ln,
                        format!("session {sid:?} empty or out of the test log's order"),
                    ));
                }
                current = Some((s, sid.to_string()));
            }
        }
        if pos.trim().parse::<usize>().ok() != Some(p) {
            return Err(bad(
                ln,
                format!("position {pos:?} where the test log's next point is {p}"),
            ));
        }
        let truth = test
            .sessions
            .get(s)
            .and_then(|v| v.get(p))
            .map_or(u32::MAX, |x| x.0);
        let claimed = ids.get(target).copied().unwrap_or(u32::MAX);
        if claimed != truth {
            return Err(bad(
                ln,
                format!(
                    "target {target:?} but the test log's next item at session {sid:?} \
                     position {p} is {}",
                    name_of(truth)
                ),
            ));
        }
        let mut recs: Vec<u32> = Vec::with_capacity(K);
        for item in items.split_whitespace() {
            let Some(&i) = ids.get(item) else {
                return Err(bad(
                    ln,
                    format!("recommended item {item:?} is not in train.csv's catalogue"),
                ));
            };
            if recs.contains(&i) {
                return Err(bad(ln, format!("item {item:?} recommended twice")));
            }
            recs.push(i);
        }
        if recs.len() > K {
            return Err(bad(
                ln,
                format!("{} items, at most {K} are scored", recs.len()),
            ));
        }
        acc.add(&recs, truth);
    }
    let missing = next.count();
    if missing > 0 {
        return Err(EvalError::BadLayout {
            path: path.to_string(),
            detail: format!(
                "{missing} of the test log's {} prediction points have no line",
                expected.len()
            ),
        });
    }
    if acc.n == 0 {
        return Err(EvalError::Empty {
            what: format!("{path}: the test log has no prediction points"),
        });
    }
    Ok(acc)
}

/// Reads train.csv (the catalogue) and the test file from `data` exactly as
/// `session eval` does, and scores the predictions file: HR@20, MRR@20,
/// Precision@20 and F1@20 in the session table's JSON shape.
pub fn score_file(
    data: &Path,
    test_file: &str,
    predictions: &Path,
    max_bad_share: f64,
) -> Result<serde_json::Value, EvalError> {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let train = read_log(&data.join("train.csv"), &mut ids, true, max_bad_share)?;
    if train.sessions.is_empty() || ids.is_empty() {
        return Err(EvalError::Empty {
            what: format!("{}: no training sessions", data.join("train.csv").display()),
        });
    }
    let test_path = data.join(test_file);
    let test = read_log(&test_path, &mut ids, false, max_bad_share)?;
    let text = std::fs::read_to_string(predictions).map_err(|e| EvalError::Io {
        path: predictions.display().to_string(),
        source: e,
    })?;
    let acc = parse_predictions(&text, &predictions.display().to_string(), &ids, &test)?;
    Ok(serde_json::json!({
        "task": "next-item prediction from each session prefix, full catalogue, repeats allowed",
        "data": data.display().to_string(),
        "test_file": test_file,
        "predictions_file": predictions.display().to_string(),
        "test_sessions": test.sessions.len(),
        "n_items": ids.len(),
        "skipped_unparseable_lines": {"train": train.skipped, "test": test.skipped},
        "results": acc.json(),
    }))
}

#[cfg(test)]
mod tests;
