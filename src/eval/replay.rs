//! A rating log replayed as sessions, so the session harness (baselines,
//! blend tuning, the learned ranker) runs unchanged on data that has users
//! instead of sessions (MovieLens-1M): each user's events in time order, the
//! last `test_share` of them one test session, the `valid_share` before those
//! one validation session, the rest one training "session" (what ALS and the
//! neighbour lists learn from). Every prediction inside a test session is a
//! next-item prediction from that session's prefix, as on NowPlaying.
//!
//! Held-out events come from each user's own future, so no test event is
//! older than the same user's training events (a random split would leak
//! the future into ALS).

use super::session::SESSION_COLUMNS;
use super::EvalError;
use crate::train::data::{self, LoadOptions, ValueMode};
use std::path::Path;

/// Shares of each user's events held out (validation, then test, at the end).
#[derive(Clone, Copy, Debug)]
pub struct ReplaySplit {
    pub valid_share: f64,
    pub test_share: f64,
}

impl Default for ReplaySplit {
    fn default() -> Self {
        ReplaySplit {
            valid_share: 0.1,
            test_share: 0.2,
        }
    }
}

/// What a replay wrote, for the report.
#[derive(Debug, Default, PartialEq)]
pub struct ReplaySummary {
    pub users: usize,
    pub items: usize,
    pub events: [usize; 3],
}

/// Per user, (item, time) sorted by time then file line: train, valid, test.
pub type UserSplit = (Vec<(u32, i64)>, Vec<(u32, i64)>, Vec<(u32, i64)>);

/// Splits each user's time-ordered events (ties in file order). Shares are
/// rounded, but a user with two events still gives one test event and one
/// with three also a validation event; at least one event stays in train.
pub fn split_users(ds: &data::Dataset, s: ReplaySplit) -> Result<Vec<UserSplit>, EvalError> {
    let ok = |v: f64| v.is_finite() && (0.0..1.0).contains(&v);
    if !ok(s.valid_share) || !ok(s.test_share) || s.test_share <= 0.0 {
        return Err(EvalError::Invalid(
            "replay shares must be in [0, 1) and the test share above 0".into(),
        ));
    }
    if s.valid_share + s.test_share >= 1.0 {
        return Err(EvalError::Invalid(
            "replay valid + test shares must leave events for training".into(),
        ));
    }
    let mut by_user: Vec<Vec<(i64, u32, u32)>> = vec![Vec::new(); ds.users.len()];
    for x in &ds.interactions {
        if let Some(u) = by_user.get_mut(x.user as usize) {
            u.push((x.time, x.line, x.item));
        }
    }
    Ok(by_user
        .into_iter()
        .map(|mut ev| {
            ev.sort_unstable();
            let n = ev.len();
            // Rounded shares, but at least one test event from two events
            // on and one validation event from three on (when asked for).
            let take = |share: f64, from: usize| {
                let k = (n as f64 * share).round() as usize;
                if share > 0.0 && n >= from {
                    k.max(1)
                } else {
                    k
                }
            };
            let n_test = take(s.test_share, 2).min(n.saturating_sub(1));
            let n_valid = take(s.valid_share, 3).min(n.saturating_sub(n_test + 1));
            let cut_v = n - n_test - n_valid;
            let cut_t = n - n_test;
            let pick = |r: std::ops::Range<usize>| -> Vec<(u32, i64)> {
                ev[r].iter().map(|&(t, _, i)| (i, t)).collect()
            };
            (pick(0..cut_v), pick(cut_v..cut_t), pick(cut_t..n))
        })
        .collect())
}

/// Reads a rating log (every row counts as an interaction, whatever its
/// rating: a rating says the user watched the film; a user's repeated item
/// is kept once, at its latest time) and writes
/// `train.csv`, `valid.csv`, `test.csv` in the session layout into `out`.
pub fn replay(
    inter: &Path,
    opts: &LoadOptions,
    split: ReplaySplit,
    out: &Path,
) -> Result<ReplaySummary, EvalError> {
    let mut lo = opts.clone();
    lo.value = ValueMode::Ones;
    let ds = data::load_interactions(inter, &lo).map_err(|e| EvalError::BadLayout {
        path: inter.display().to_string(),
        detail: e.to_string(),
    })?;
    if ds.interactions.is_empty() {
        return Err(EvalError::Empty {
            what: format!("{}: no interactions", inter.display()),
        });
    }
    let users = split_users(&ds, split)?;
    std::fs::create_dir_all(out).map_err(|e| EvalError::Io {
        path: out.display().to_string(),
        source: e,
    })?;
    let mut summary = ReplaySummary {
        users: ds.users.len(),
        items: ds.items.len(),
        events: [0; 3],
    };
    for (k, name) in ["train.csv", "valid.csv", "test.csv"].iter().enumerate() {
        let mut text = SESSION_COLUMNS.join("\t");
        text.push('\n');
        for (u, parts) in users.iter().enumerate() {
            let part = match k {
                0 => &parts.0,
                1 => &parts.1,
                _ => &parts.2,
            };
            for &(i, t) in part {
                let id = &ds.items[i as usize];
                if id.contains(['\t', '\n']) {
                    return Err(EvalError::BadLayout {
                        path: inter.display().to_string(),
                        detail: format!("item id {id:?} holds a tab or newline"),
                    });
                }
                text.push_str(&format!("u{u}\t{id}\t{t}\n"));
            }
            summary.events[k] += part.len();
        }
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| EvalError::Io {
            path: p.display().to_string(),
            source: e,
        })?;
    }
    Ok(summary)
}
