//! Errors of the native trainer, exporter and evaluator.
//!
//! Kept separate from `crate::error::Error` (the bundle/engine error with
//! stable codes) because these never cross into the browser: they only need
//! to be precise enough for a person reading a terminal.

use std::fmt;

#[derive(Debug)]
pub enum TrainError {
    /// Reading or writing a file failed.
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The input has no usable header/column layout (e.g. a named column is absent).
    Columns(String),
    /// A malformed row under `--strict`.
    Malformed { line: usize, reason: String },
    /// Nothing left to train on after parsing and filtering.
    Empty(String),
    /// A hyperparameter or option is out of range.
    Config(String),
    /// More distinct users or items than the bundle format can index.
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    /// Training diverged (NaN or infinite loss / factors).
    NonFinite { iteration: usize },
    /// A model state file is corrupt or of another version.
    State(String),
    /// The bundle writer/reader rejected something.
    Bundle(String),
    /// An external baseline (the `implicit` script) failed.
    External(String),
    /// The table reader refused an input (too large, unterminated quote, too
    /// many malformed rows).
    Input(crate::table::TableError),
}

impl From<crate::table::TableError> for TrainError {
    fn from(e: crate::table::TableError) -> Self {
        use crate::table::TableError as T;
        match e {
            T::Io { path, source } => TrainError::Io { path, source },
            T::Columns(m) => TrainError::Columns(m),
            T::Empty(m) => TrainError::Empty(m),
            T::Malformed { line, reason } => TrainError::Malformed { line, reason },
            e => TrainError::Input(e),
        }
    }
}

impl TrainError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Io { path, source } => write!(f, "{path}: {source}"),
            TrainError::Columns(m) => write!(f, "column layout: {m}"),
            TrainError::Malformed { line, reason } => {
                write!(f, "malformed row at line {line}: {reason} (--strict)")
            }
            TrainError::Empty(m) => write!(f, "no training data: {m}"),
            TrainError::Config(m) => write!(f, "invalid option: {m}"),
            TrainError::TooMany { what, count, limit } => {
                write!(
                    f,
                    "{count} distinct {what} exceed the bundle format's limit of {limit}"
                )
            }
            TrainError::NonFinite { iteration } => write!(
                f,
                "training diverged: non-finite loss at iteration {iteration} \
                 (lower --alpha or raise --lambda)"
            ),
            TrainError::State(m) => write!(f, "model state file: {m}"),
            TrainError::Bundle(m) => write!(f, "bundle: {m}"),
            TrainError::External(m) => write!(f, "external baseline: {m}"),
            TrainError::Input(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Io { source, .. } => Some(source),
            TrainError::Input(e) => Some(e),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, TrainError>;
