//! Offline evaluation as a library: the CLI parses flags and prints, the
//! computation (data checks, baselines, tuning, the learned ranker) lives
//! here so tests and other front ends run exactly what `make eval` runs.

pub mod metrics;
pub mod ranker;
pub mod replay;
pub mod segments;
pub mod session;

use std::fmt;

/// Failures of an offline evaluation. Separate from `crate::error::Error`
/// (the bundle/engine error surfaced to JavaScript): these never reach a
/// browser, but they carry a stable `code` all the same so scripts can tell
/// "wrong file" from "broken file" from "training failed".
#[derive(Debug)]
pub enum EvalError {
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The file is not the layout the evaluation reads (wrong header,
    /// delimiter or columns).
    BadLayout {
        path: String,
        detail: String,
    },
    /// More lines failed to parse than the allowed share.
    TooManyBadLines {
        path: String,
        bad: usize,
        total: usize,
        max_share: f64,
        first: Vec<(usize, String)>,
    },
    /// Nothing to evaluate (no training sessions, no prediction points).
    Empty {
        what: String,
    },
    Invalid(String),
    Train(String),
}

impl EvalError {
    pub fn code(&self) -> &'static str {
        match self {
            EvalError::Io { .. } => "IO",
            EvalError::BadLayout { .. } => "BAD_LAYOUT",
            EvalError::TooManyBadLines { .. } => "TOO_MANY_BAD_LINES",
            EvalError::Empty { .. } => "EMPTY",
            EvalError::Invalid(_) => "INVALID_ARGUMENT",
            EvalError::Train(_) => "TRAIN",
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Io { path, source } => write!(f, "[IO] cannot read {path}: {source}"),
            EvalError::BadLayout { path, detail } => write!(f, "[BAD_LAYOUT] {path}: {detail}"),
            EvalError::TooManyBadLines {
                path,
                bad,
                total,
                max_share,
                first,
            } => {
                write!(
                    f,
                    "[TOO_MANY_BAD_LINES] {path}: {bad} of {total} data lines unparseable \
                     (more than {:.1}% allowed); first:",
                    max_share * 100.0
                )?;
                for (ln, l) in first {
                    write!(f, " line {ln}: {l:?};")?;
                }
                Ok(())
            }
            EvalError::Empty { what } => write!(f, "[EMPTY] {what}"),
            EvalError::Invalid(m) => write!(f, "[INVALID_ARGUMENT] {m}"),
            EvalError::Train(m) => write!(f, "[TRAIN] {m}"),
        }
    }
}

impl std::error::Error for EvalError {}

impl From<crate::error::Error> for EvalError {
    fn from(e: crate::error::Error) -> Self {
        EvalError::Train(e.to_string())
    }
}

#[cfg(test)]
mod tests;
