//! Factors trained elsewhere → a model state the exporter turns into a bundle.
//!
//! Stores with hundreds of millions of interactions train on the engine they
//! already run: Apache Spark MLlib ALS (`implicitPrefs=True`) or the `implicit`
//! library. vitrine does not grow a distributed trainer; it reads their saved
//! models, maps their integer ids back to the storefront's item ids, and hands
//! the result to the same exporter `vitrine train` uses, so the bundle (Gram
//! matrix, quantization, checksums) is built by one code path only.
//!
//! - Spark: `ALSModel.save(DIR)` writes `DIR/metadata/part-*` (one JSON line:
//!   class, sparkVersion, paramMap, defaultParamMap, rank) and
//!   `DIR/{itemFactors,userFactors}/part-*.parquet` with columns
//!   `id: int` and `features: array<float>`.
//! - implicit: `model.save(PATH)` writes an `.npz` (a zip of `.npy` arrays):
//!   `item_factors`, `user_factors` and the hyperparameters as 0-d arrays.
//!
//! Every problem is an [`ImportError`] naming the file, the column and the
//! row, and is found before anything is written.

use super::state::{ModelState, StateHeader};
use ndarray::Array2;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A malformed or inconsistent input, located as precisely as it can be.
#[derive(Debug)]
pub struct ImportError {
    pub file: PathBuf,
    /// Column (Parquet column, CSV column or `.npy` array name), if any.
    pub column: Option<String>,
    /// 0-based data row (Parquet row within the file, factor row of an array)
    /// or, for CSV id maps, the 1-based line number.
    pub row: Option<Loc>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    /// 0-based row of a Parquet file or an array.
    Row(u64),
    /// 1-based line of a text file.
    Line(u64),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(c) = &self.column {
            write!(f, ", column {c:?}")?;
        }
        match self.row {
            Some(Loc::Row(r)) => write!(f, ", row {r} (0-based)")?,
            Some(Loc::Line(l)) => write!(f, ", line {l}")?,
            None => {}
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ImportError {}

pub type Result<T> = std::result::Result<T, ImportError>;

fn err(
    file: &Path,
    column: Option<&str>,
    row: Option<Loc>,
    reason: impl Into<String>,
) -> ImportError {
    ImportError {
        file: file.to_path_buf(),
        column: column.map(str::to_string),
        row,
        reason: reason.into(),
    }
}

/// Factor rows as read, each remembering where it came from for error messages.
#[derive(Debug, Default)]
pub struct RawFactors {
    pub dim: usize,
    /// The trainer's integer id of each row (Spark `id`; `implicit` row index).
    pub ids: Vec<i64>,
    /// Row-major `ids.len() × dim`.
    pub data: Vec<f32>,
    pub files: Vec<PathBuf>,
    /// (index into `files`, 0-based row within that file) per factor row.
    pub origin: Vec<(u32, u64)>,
    /// The column the ids came from (for messages).
    pub id_column: String,
}

impl RawFactors {
    fn locate(&self, k: usize) -> (&Path, u64) {
        let (f, r) = self.origin[k];
        (&self.files[f as usize], r)
    }
}

/// How the fold-in regularization relates to the trainer's λ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaScaling {
    /// λ as is (vitrine, `implicit`).
    None,
    /// λ × the user's number of positives (Spark's ALS-WR weighting).
    Positives,
}

/// Hyperparameters needed for on-device fold-in, plus provenance.
#[derive(Debug, Clone)]
pub struct ImportParams {
    pub rank: usize,
    pub lambda: f32,
    pub alpha: f32,
    pub lambda_scaling: LambdaScaling,
    pub iterations: usize,
    pub seed: u64,
    /// e.g. "spark 4.0.5 ALS" or "implicit ALS".
    pub trainer: String,
    /// How to recompute `c` from a weight, for the bundle meta.
    pub confidence: String,
}

// ---------------------------------------------------------------- Spark ----

const ALS_MODEL_CLASS: &str = "org.apache.spark.ml.recommendation.ALSModel";

/// `part-*` files of a Spark output directory, in name order (Spark's order).
fn part_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let rd =
        std::fs::read_dir(dir).map_err(|e| err(dir, None, None, format!("cannot list: {e}")))?;
    let mut files = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| err(dir, None, None, format!("cannot list: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("part-") && name.ends_with(ext) {
            files.push(entry.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(err(
            dir,
            None,
            None,
            format!("no part-*{ext} files: not the layout ALSModel.save() writes"),
        ));
    }
    Ok(files)
}

/// Where the pieces of a saved Spark ALSModel are.
#[derive(Debug, Clone)]
pub struct SparkLayout {
    pub metadata: PathBuf,
    pub item_factors: PathBuf,
    pub user_factors: PathBuf,
}

/// Accepts the directory `ALSModel.save()` was given, or its `itemFactors`
/// subdirectory (then the model is its parent).
pub fn spark_layout(dir: &Path) -> Result<SparkLayout> {
    let root = if dir.join("itemFactors").is_dir() {
        dir.to_path_buf()
    } else if dir.file_name().is_some_and(|n| n == "itemFactors") && dir.is_dir() {
        dir.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        return Err(err(
            dir,
            None,
            None,
            "expected a saved Spark ALSModel (a directory with metadata/ and itemFactors/), \
             or its itemFactors/ directory",
        ));
    };
    let metadata = root.join("metadata");
    if !metadata.is_dir() {
        return Err(err(
            &metadata,
            None,
            None,
            "missing: a Spark ALSModel directory has metadata/ beside itemFactors/",
        ));
    }
    Ok(SparkLayout {
        metadata,
        item_factors: root.join("itemFactors"),
        user_factors: root.join("userFactors"),
    })
}

fn json_param<'a>(meta: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    meta.get("paramMap")
        .and_then(|m| m.get(key))
        .or_else(|| meta.get("defaultParamMap").and_then(|m| m.get(key)))
}

/// One Spark metadata JSON line (`DIR/metadata/part-*`) and the file it came from.
fn read_spark_metadata(metadata_dir: &Path) -> Result<(PathBuf, serde_json::Value)> {
    // Spark 3 writes `part-00000`; Spark 4 writes it through a DataFrame
    // (`part-00000-<uuid>.txt`). Either way: the first part file, one line.
    let files = part_files(metadata_dir, "")?;
    let file = files[0].clone();
    let text = std::fs::read_to_string(&file)
        .map_err(|e| err(&file, None, None, format!("cannot read: {e}")))?;
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let meta: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        err(
            &file,
            None,
            Some(Loc::Line(1)),
            format!("not Spark's metadata JSON: {e}"),
        )
    })?;
    Ok((file, meta))
}

/// Fold-in parameters given on the command line, for models saved without
/// their estimator.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParamOverrides {
    pub lambda: Option<f32>,
    pub alpha: Option<f32>,
}

/// Reads the rank from the ALSModel's metadata and regParam, alpha and
/// implicitPrefs from the ALS estimator's (`ALS.save()`, which
/// `scripts/spark_als.py` writes to OUT/als): Spark keeps the training
/// hyperparameters on the estimator, not on the fitted model.
pub fn spark_params(
    layout: &SparkLayout,
    estimator: Option<&Path>,
    over: ParamOverrides,
) -> Result<ImportParams> {
    let (file, meta) = read_spark_metadata(&layout.metadata)?;
    let class = meta.get("class").and_then(|c| c.as_str()).unwrap_or("");
    if class != ALS_MODEL_CLASS {
        return Err(err(
            &file,
            Some("class"),
            Some(Loc::Line(1)),
            format!("{class:?} is not {ALS_MODEL_CLASS}"),
        ));
    }
    let rank = meta.get("rank").and_then(|v| v.as_u64()).ok_or_else(|| {
        err(
            &file,
            Some("rank"),
            Some(Loc::Line(1)),
            "missing or not an integer (another Spark layout?)",
        )
    })?;
    if rank == 0 || rank > 4096 {
        return Err(err(
            &file,
            Some("rank"),
            Some(Loc::Line(1)),
            format!("rank {rank} is outside 1..=4096"),
        ));
    }
    let version = meta
        .get("sparkVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("?")
        .to_string();
    // Where regParam/alpha/implicitPrefs live: the model's own metadata (if a
    // future Spark puts them there), else the estimator's.
    let (pfile, pmeta) = if json_param(&meta, "regParam").is_some() {
        (file.clone(), meta.clone())
    } else if let Some(dir) = estimator {
        let (f, m) = read_spark_metadata(&dir.join("metadata"))?;
        let c = m.get("class").and_then(|c| c.as_str()).unwrap_or("");
        if c != "org.apache.spark.ml.recommendation.ALS" {
            return Err(err(
                &f,
                Some("class"),
                Some(Loc::Line(1)),
                format!("{c:?} is not org.apache.spark.ml.recommendation.ALS (the estimator)"),
            ));
        }
        (f, m)
    } else if over.lambda.is_some() && over.alpha.is_some() {
        (file.clone(), serde_json::Value::Null)
    } else {
        return Err(err(
            &file,
            Some("regParam"),
            Some(Loc::Line(1)),
            "a fitted ALSModel does not record regParam, alpha or implicitPrefs (Spark keeps \
             them on the ALS estimator): pass --estimator DIR (what ALS.save() wrote; \
             scripts/spark_als.py writes OUT/als) or both --lambda and --alpha",
        ));
    };
    let num = |key: &str| -> Result<f64> {
        json_param(&pmeta, key)
            .and_then(|v| v.as_f64())
            .ok_or_else(|| {
                err(
                    &pfile,
                    Some(key),
                    Some(Loc::Line(1)),
                    "missing or not a number in paramMap/defaultParamMap (another Spark layout?)",
                )
            })
    };
    if !pmeta.is_null() {
        if let Some(r) = json_param(&pmeta, "rank").and_then(|v| v.as_u64()) {
            if r != rank {
                return Err(err(
                    &pfile,
                    Some("rank"),
                    Some(Loc::Line(1)),
                    format!(
                        "the estimator's rank {r} differs from the model's {rank} ({})",
                        file.display()
                    ),
                ));
            }
        }
        let implicit = json_param(&pmeta, "implicitPrefs").and_then(|v| v.as_bool());
        if implicit != Some(true) {
            return Err(err(
                &pfile,
                Some("implicitPrefs"),
                Some(Loc::Line(1)),
                "the model was trained with implicitPrefs=false (explicit ratings): vitrine's \
                 on-device fold-in is implicit-feedback ALS; retrain with implicitPrefs=True",
            ));
        }
    }
    let lambda = match over.lambda {
        Some(l) => l as f64,
        None => num("regParam")?,
    };
    let alpha = match over.alpha {
        Some(a) => a as f64,
        None => num("alpha")?,
    };
    for (k, v) in [("regParam", lambda), ("alpha", alpha)] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(err(
                &pfile,
                Some(k),
                Some(Loc::Line(1)),
                format!("{v} is not a finite number ≥ 0"),
            ));
        }
    }
    let iterations = if pmeta.is_null() {
        0.0
    } else {
        num("maxIter").unwrap_or(0.0)
    };
    let seed = json_param(&pmeta, "seed")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    Ok(ImportParams {
        rank: rank as usize,
        lambda: lambda as f32,
        alpha: alpha as f32,
        lambda_scaling: LambdaScaling::Positives,
        iterations: iterations as usize,
        seed: seed as u64,
        trainer: format!("spark {version} ALS (implicitPrefs)"),
        confidence: "1 + alpha * r (Spark implicitPrefs; lambda x the user's positives)".into(),
    })
}

/// Checks that a Parquet file has Spark's factor schema: `id` INT32 (INT64
/// accepted) and `features` a list of FLOAT.
fn check_factor_schema(file: &Path, schema: &parquet::schema::types::Type) -> Result<()> {
    use parquet::basic::Type as Phys;
    let fields = schema.get_fields();
    let find = |name: &str| fields.iter().find(|f| f.name() == name);
    let id = find("id").ok_or_else(|| {
        err(
            file,
            Some("id"),
            None,
            format!(
                "no such column (columns: {:?}); expected Spark's factor schema id: int, features: array<float>",
                fields.iter().map(|f| f.name()).collect::<Vec<_>>()
            ),
        )
    })?;
    if !id.is_primitive() || !matches!(id.get_physical_type(), Phys::INT32 | Phys::INT64) {
        return Err(err(
            file,
            Some("id"),
            None,
            "must be an integer column (Spark writes int)",
        ));
    }
    let features = find("features").ok_or_else(|| {
        err(
            file,
            Some("features"),
            None,
            format!(
                "no such column (columns: {:?}); expected Spark's factor schema id: int, features: array<float>",
                fields.iter().map(|f| f.name()).collect::<Vec<_>>()
            ),
        )
    })?;
    // Standard 3-level LIST (`features.list.element`) or the legacy 2-level
    // form (`repeated float array`): either way the leaf must be FLOAT.
    let mut t = features.as_ref();
    let mut depth = 0;
    while t.is_group() {
        let f = t.get_fields();
        if f.len() != 1 || depth > 3 {
            return Err(err(
                file,
                Some("features"),
                None,
                "must be array<float> (found a struct or map; an ML Vector column is not supported)",
            ));
        }
        t = f[0].as_ref();
        depth += 1;
    }
    if depth == 0 || t.get_physical_type() != Phys::FLOAT {
        return Err(err(
            file,
            Some("features"),
            None,
            format!(
                "must be array<float>, found {:?} leaves",
                t.get_physical_type()
            ),
        ));
    }
    Ok(())
}

/// Reads every `part-*.parquet` of a Spark factor directory.
/// `want_dim`: the model's rank; every row must have exactly that many values.
pub fn read_spark_factors(
    dir: &Path,
    want_dim: usize,
    max_rows: Option<usize>,
) -> Result<RawFactors> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let files = part_files(dir, ".parquet")?;
    let mut out = RawFactors {
        dim: want_dim,
        id_column: "id".into(),
        ..Default::default()
    };
    'files: for (fi, file) in files.iter().enumerate() {
        let f = std::fs::File::open(file)
            .map_err(|e| err(file, None, None, format!("cannot open: {e}")))?;
        let reader = SerializedFileReader::new(f).map_err(|e| {
            err(
                file,
                None,
                None,
                format!("not a readable Parquet file: {e}"),
            )
        })?;
        check_factor_schema(file, reader.metadata().file_metadata().schema())?;
        let rows = reader
            .get_row_iter(None)
            .map_err(|e| err(file, None, None, format!("cannot read rows: {e}")))?;
        for (r, row) in rows.enumerate() {
            let r = r as u64;
            let row = row.map_err(|e| {
                err(
                    file,
                    None,
                    Some(Loc::Row(r)),
                    format!("cannot decode row: {e}"),
                )
            })?;
            let mut id = None;
            let mut n_values = None;
            for (name, field) in row.get_column_iter() {
                match (name.as_str(), field) {
                    ("id", Field::Int(v)) => id = Some(*v as i64),
                    ("id", Field::Long(v)) => id = Some(*v),
                    ("id", Field::Null) => {
                        return Err(err(file, Some("id"), Some(Loc::Row(r)), "null id"));
                    }
                    ("features", Field::ListInternal(list)) => {
                        let el = list.elements();
                        if el.len() != want_dim {
                            return Err(err(
                                file,
                                Some("features"),
                                Some(Loc::Row(r)),
                                format!("{} values, but the model's rank is {want_dim}", el.len()),
                            ));
                        }
                        for (k, v) in el.iter().enumerate() {
                            let x = match v {
                                Field::Float(x) => *x,
                                other => {
                                    return Err(err(
                                        file,
                                        Some("features"),
                                        Some(Loc::Row(r)),
                                        format!("value {k} is {other:?}, expected a float"),
                                    ))
                                }
                            };
                            if !x.is_finite() {
                                return Err(err(
                                    file,
                                    Some("features"),
                                    Some(Loc::Row(r)),
                                    format!("value {k} is {x} (factors must be finite)"),
                                ));
                            }
                            out.data.push(x);
                        }
                        n_values = Some(el.len());
                    }
                    ("features", Field::Null) => {
                        return Err(err(
                            file,
                            Some("features"),
                            Some(Loc::Row(r)),
                            "null features",
                        ));
                    }
                    ("features", other) => {
                        return Err(err(
                            file,
                            Some("features"),
                            Some(Loc::Row(r)),
                            format!("expected array<float>, found {other:?}"),
                        ));
                    }
                    _ => {}
                }
            }
            let (Some(id), Some(_)) = (id, n_values) else {
                return Err(err(
                    file,
                    None,
                    Some(Loc::Row(r)),
                    "row lacks id or features",
                ));
            };
            out.ids.push(id);
            out.origin.push((fi as u32, r));
            if max_rows.is_some_and(|m| out.ids.len() >= m) {
                out.files = files.clone();
                break 'files;
            }
        }
    }
    out.files = files;
    Ok(out)
}

// ------------------------------------------------------------- implicit ----

/// One `.npy` array: shape and values (converted to f64 for scalars, f32 for matrices).
#[derive(Debug, Clone)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: NpyData,
}

#[derive(Debug, Clone)]
pub enum NpyData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    /// Another dtype (strings, objects, …): kept only as its name.
    Other(String),
}

impl NpyArray {
    fn scalar_f64(&self) -> Option<f64> {
        if self.shape.iter().product::<usize>() != 1 {
            return None;
        }
        match &self.data {
            NpyData::F32(v) => v.first().map(|&x| x as f64),
            NpyData::F64(v) => v.first().copied(),
            NpyData::I64(v) => v.first().map(|&x| x as f64),
            NpyData::Bool(v) => v.first().map(|&x| x as u8 as f64),
            NpyData::Other(_) => None,
        }
    }
}

/// Value of `'key': value` in a `.npy` header dict (numpy writes a Python
/// literal; the three keys it writes are all we need).
fn npy_header_value<'a>(h: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("'{key}':");
    let start = h.find(&pat)? + pat.len();
    let rest = h.get(start..)?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else if let Some(q) = rest.strip_prefix('\'') {
        q.find('\'')? + 2
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest.get(..end)?.trim())
}

/// Parses one `.npy` file (format versions 1–3). `file`/`name` are for messages.
pub fn parse_npy(bytes: &[u8], file: &Path, name: &str) -> Result<NpyArray> {
    let bad = |m: String| err(file, Some(name), None, m);
    if bytes.get(..6) != Some(b"\x93NUMPY") {
        return Err(bad("not a .npy array (bad magic)".into()));
    }
    let major = *bytes.get(6).ok_or_else(|| bad("truncated header".into()))?;
    let (hlen, hstart) = match major {
        1 => (
            u16::from_le_bytes([*bytes.get(8).unwrap_or(&0), *bytes.get(9).unwrap_or(&0)]) as usize,
            10usize,
        ),
        2 | 3 => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| bad("truncated header".into()))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(bad(format!(".npy format version {v} is not supported"))),
    };
    let hend = hstart
        .checked_add(hlen)
        .ok_or_else(|| bad("header length overflows".into()))?;
    let header = bytes
        .get(hstart..hend)
        .ok_or_else(|| bad("truncated header".into()))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text".into()))?;
    let descr = npy_header_value(header, "descr")
        .ok_or_else(|| bad(format!("header has no 'descr': {header}")))?
        .trim_matches('\'');
    let fortran = npy_header_value(header, "fortran_order")
        .ok_or_else(|| bad(format!("header has no 'fortran_order': {header}")))?
        == "True";
    let shape_s = npy_header_value(header, "shape")
        .ok_or_else(|| bad(format!("header has no 'shape': {header}")))?;
    let mut shape = Vec::new();
    for part in shape_s
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
    {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        shape.push(
            p.parse::<usize>()
                .map_err(|_| bad(format!("bad shape {shape_s}")))?,
        );
    }
    let count = shape
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or_else(|| bad("shape overflows".into()))?;
    let body = bytes.get(hend..).unwrap_or(&[]);
    let need = |w: usize| -> Result<&[u8]> {
        let n = count
            .checked_mul(w)
            .ok_or_else(|| bad("size overflows".into()))?;
        body.get(..n).ok_or_else(|| {
            bad(format!(
                "array data is {} bytes, shape {shape:?} needs {n}",
                body.len()
            ))
        })
    };
    let data = match descr {
        "<f4" | "|f4" => NpyData::F32(
            need(4)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        "<f8" => NpyData::F64(
            need(8)?
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        "<i8" => NpyData::I64(
            need(8)?
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        "<i4" => NpyData::I64(
            need(4)?
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
        ),
        "|b1" => NpyData::Bool(need(1)?.iter().map(|&b| b != 0).collect()),
        other => NpyData::Other(other.to_string()),
    };
    let data = match (fortran, data, shape.as_slice()) {
        // Column-major 2-D floats: transpose to rows.
        (true, NpyData::F32(v), &[r, c]) => {
            let mut t = vec![0f32; v.len()];
            for i in 0..r {
                for j in 0..c {
                    t[i * c + j] = v[j * r + i];
                }
            }
            NpyData::F32(t)
        }
        (true, NpyData::F64(v), &[r, c]) => {
            let mut t = vec![0f64; v.len()];
            for i in 0..r {
                for j in 0..c {
                    t[i * c + j] = v[j * r + i];
                }
            }
            NpyData::F64(t)
        }
        (_, d, _) => d,
    };
    Ok(NpyArray { shape, data })
}

/// Every array of an `.npz` by name (without the `.npy` suffix).
pub fn read_npz(path: &Path) -> Result<HashMap<String, NpyArray>> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| err(path, None, None, format!("cannot open: {e}")))?;
    let mut zip = zip::ZipArchive::new(f)
        .map_err(|e| err(path, None, None, format!("not an .npz (zip) file: {e}")))?;
    let mut out = HashMap::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| err(path, None, None, format!("zip entry {i}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| err(path, None, None, format!("zip entry {i}: {e}")))?
            .trim_end_matches(".npy")
            .to_string();
        let mut bytes = Vec::with_capacity(entry.size().min(1 << 26) as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| err(path, Some(&name), None, format!("cannot decompress: {e}")))?;
        out.insert(name.clone(), parse_npy(&bytes, path, &name)?);
    }
    Ok(out)
}

/// A factor matrix from an npz array: f32 or f64, 2-D, finite.
pub fn npz_factors(
    path: &Path,
    arrays: &HashMap<String, NpyArray>,
    name: &str,
) -> Result<RawFactors> {
    let a = arrays.get(name).ok_or_else(|| {
        let mut keys: Vec<&String> = arrays.keys().collect();
        keys.sort();
        err(
            path,
            Some(name),
            None,
            format!("missing; arrays in the file: {keys:?} (not an implicit ALS model.save()?)"),
        )
    })?;
    let [rows, dim] = a.shape[..] else {
        return Err(err(
            path,
            Some(name),
            None,
            format!("shape {:?} is not 2-D", a.shape),
        ));
    };
    let data: Vec<f32> = match &a.data {
        NpyData::F32(v) => v.clone(),
        NpyData::F64(v) => v.iter().map(|&x| x as f32).collect(),
        NpyData::I64(_) | NpyData::Bool(_) => {
            return Err(err(path, Some(name), None, "must be a float array"));
        }
        NpyData::Other(d) => {
            return Err(err(
                path,
                Some(name),
                None,
                format!("dtype {d} is not f4/f8"),
            ));
        }
    };
    if let Some(k) = data.iter().position(|v| !v.is_finite()) {
        return Err(err(
            path,
            Some(name),
            Some(Loc::Row((k / dim.max(1)) as u64)),
            format!(
                "value {} is {} (factors must be finite)",
                k % dim.max(1),
                data[k]
            ),
        ));
    }
    Ok(RawFactors {
        dim,
        ids: (0..rows as i64).collect(),
        data,
        files: vec![path.to_path_buf()],
        origin: (0..rows as u64).map(|r| (0, r)).collect(),
        id_column: format!("{name} (row index)"),
    })
}

/// Fold-in parameters of an `implicit` model. implicit's confidence is
/// `alpha × value`, so for binary values (the usual case) `c = 1 + (alpha−1)·r`
/// and vitrine's α is `alpha − 1`. A model trained on values `1 + α·r` with
/// `alpha = 1` (as `vitrine eval` does) must say its α with `alpha_override`.
pub fn implicit_params(
    path: &Path,
    arrays: &HashMap<String, NpyArray>,
    dim: usize,
    alpha_override: Option<f32>,
) -> Result<ImportParams> {
    let get = |k: &str| arrays.get(k).and_then(NpyArray::scalar_f64);
    let lambda = get("regularization").ok_or_else(|| {
        err(
            path,
            Some("regularization"),
            None,
            "missing (not an implicit ALS model.save()?)",
        )
    })?;
    let raw_alpha = get("alpha").unwrap_or(1.0);
    let alpha = match alpha_override {
        Some(a) => a as f64,
        None => raw_alpha - 1.0,
    };
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(err(
            path,
            Some("regularization"),
            None,
            format!("{lambda} is not a finite number ≥ 0"),
        ));
    }
    if !(alpha.is_finite() && alpha >= 0.0) {
        return Err(err(
            path,
            Some("alpha"),
            None,
            format!("implicit alpha {raw_alpha} gives vitrine α = {alpha} < 0; pass --alpha"),
        ));
    }
    if let Some(f) = get("factors") {
        // implicit's GPU build pads factors; the CPU model has exactly `factors` columns.
        if f as usize != dim {
            return Err(err(
                path,
                Some("item_factors"),
                None,
                format!("{dim} columns but the model's factors parameter is {f}"),
            ));
        }
    }
    Ok(ImportParams {
        rank: dim,
        lambda: lambda as f32,
        alpha: alpha as f32,
        lambda_scaling: LambdaScaling::None,
        iterations: get("iterations").unwrap_or(0.0) as usize,
        seed: get("random_state").map(|s| s as u64).unwrap_or(0),
        trainer: "implicit ALS".into(),
        confidence: match alpha_override {
            Some(_) => "1 + alpha * r (implicit trained on 1 + alpha * r values)".into(),
            None => format!("1 + alpha * r (implicit alpha {raw_alpha} on binary values)"),
        },
    })
}

// --------------------------------------------------------------- id maps ----

/// One row of an id map: the trainer's integer id, the storefront's id.
#[derive(Debug, Clone)]
pub struct MapRow {
    pub index: i64,
    pub id: String,
    pub popularity: Option<f32>,
    pub title: Option<String>,
    pub category: Option<String>,
    pub line: u64,
    pub file: u32,
}

#[derive(Debug, Default)]
pub struct IdMap {
    pub rows: Vec<MapRow>,
    pub files: Vec<PathBuf>,
    /// Name of the id column (`item_id` / `user_id`).
    pub id_column: String,
}

impl IdMap {
    pub fn has_popularity(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.popularity.is_some())
    }
}

const INDEX_COLUMNS: [&str; 3] = ["spark_id", "index", "implicit_id"];

/// Reads an id map: a CSV/TSV file (or a Spark output directory of
/// `part-*.csv`) whose header has an index column (`spark_id`, `index` or
/// `implicit_id`) and `id_column`, optionally `popularity`, `title` and
/// `category`; or, when `plain_ok`, a plain list of ids (one per line, no
/// header, line i ↔ row i) as `implicit` users keep it.
pub fn read_id_map(path: &Path, id_column: &str, plain_ok: bool) -> Result<IdMap> {
    let files = if path.is_dir() {
        part_files(path, ".csv")?
    } else {
        vec![path.to_path_buf()]
    };
    let mut map = IdMap {
        id_column: id_column.to_string(),
        ..Default::default()
    };
    for (fi, file) in files.iter().enumerate() {
        let bytes =
            crate::table::read_input(file).map_err(|e| err(file, None, None, e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            err(
                file,
                None,
                None,
                format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
            )
        })?;
        if text.trim_start_matches('\u{feff}').trim().is_empty() {
            continue; // Spark writes empty part files for empty partitions.
        }
        let first = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let first_line = first.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let delim = if first_line.contains('\t') {
            b'\t'
        } else {
            b','
        };
        let table = crate::table::Table::open(
            text.as_bytes(),
            &crate::table::TableOptions {
                delimiter: Some(delim),
                has_header: true,
                what: file.display().to_string(),
            },
        )
        .map_err(|e| err(file, None, None, e.to_string()))?;
        let header: Vec<String> = table
            .header()
            .unwrap_or(&[])
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let col = |n: &str| header.iter().position(|h| h == n);
        let idx_col = INDEX_COLUMNS.iter().find_map(|n| col(n));
        let id_col = col(id_column);
        let (Some(idx_col), Some(id_col)) = (idx_col, id_col) else {
            if plain_ok && fi == 0 && files.len() == 1 {
                // A plain list: line i is row i, so a blank line is an error
                // rather than a silent shift of every id after it.
                let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                let body = text.strip_suffix('\n').unwrap_or(text);
                for (k, l) in body.split('\n').enumerate() {
                    let l = l.strip_suffix('\r').unwrap_or(l);
                    let line = k as u64 + 1;
                    if l.is_empty() {
                        return Err(err(
                            file,
                            Some(id_column),
                            Some(Loc::Line(line)),
                            "empty id (a plain id list maps line i to factor row i)",
                        ));
                    }
                    map.rows.push(MapRow {
                        index: k as i64,
                        id: l.to_string(),
                        popularity: None,
                        title: None,
                        category: None,
                        line,
                        file: 0,
                    });
                }
                break;
            }
            return Err(err(
                file,
                Some(id_column),
                Some(Loc::Line(1)),
                format!(
                    "the header needs an index column ({}) and {id_column:?}; found {header:?}",
                    INDEX_COLUMNS.join(" / ")
                ),
            ));
        };
        let (pop_col, title_col, cat_col) = (col("popularity"), col("title"), col("category"));
        for rec in table.records() {
            let rec = rec.map_err(|e| err(file, None, None, e.to_string()))?;
            let line = rec.line as u64;
            let f = rec.fields;
            let field = |c: usize, name: &str| -> Result<&str> {
                f.get(c).map(String::as_str).ok_or_else(|| {
                    err(
                        file,
                        Some(name),
                        Some(Loc::Line(line)),
                        format!("row has {} fields", f.len()),
                    )
                })
            };
            let idx_name = header[idx_col].as_str();
            let index = field(idx_col, idx_name)?
                .trim()
                .parse::<i64>()
                .map_err(|_| {
                    err(
                        file,
                        Some(idx_name),
                        Some(Loc::Line(line)),
                        "not an integer",
                    )
                })?;
            let id = field(id_col, id_column)?.to_string();
            if id.is_empty() {
                return Err(err(
                    file,
                    Some(id_column),
                    Some(Loc::Line(line)),
                    "empty id",
                ));
            }
            let popularity = match pop_col {
                Some(c) => {
                    let v = field(c, "popularity")?
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .ok_or_else(|| {
                            err(
                                file,
                                Some("popularity"),
                                Some(Loc::Line(line)),
                                "not a finite number ≥ 0",
                            )
                        })?;
                    Some(v)
                }
                None => None,
            };
            let title = title_col.and_then(|c| f.get(c).cloned());
            let category = cat_col.and_then(|c| f.get(c).cloned());
            map.rows.push(MapRow {
                index,
                id,
                popularity,
                title,
                category,
                line,
                file: fi as u32,
            });
        }
    }
    map.files = files;
    if map.rows.is_empty() {
        return Err(err(path, Some(id_column), None, "the id map has no rows"));
    }
    Ok(map)
}

/// Joins factor rows to an id map. Every factor id must be in the map and
/// every map row must have factors (either way round is a sign that the map
/// belongs to another training run); duplicates on either side are errors.
/// Returns the map rows in index order and the factors in the same order.
pub fn join(factors: &RawFactors, map: &IdMap) -> Result<(Vec<MapRow>, Array2<f32>)> {
    let mut by_index: HashMap<i64, usize> = HashMap::with_capacity(map.rows.len());
    let mut seen_ids: HashMap<&str, usize> = HashMap::with_capacity(map.rows.len());
    let map_file = |r: &MapRow| map.files[r.file as usize].as_path();
    for (k, r) in map.rows.iter().enumerate() {
        if let Some(prev) = by_index.insert(r.index, k) {
            let p = &map.rows[prev];
            return Err(err(
                map_file(r),
                None,
                Some(Loc::Line(r.line)),
                format!("index {} appears twice (also line {})", r.index, p.line),
            ));
        }
        if let Some(prev) = seen_ids.insert(r.id.as_str(), k) {
            return Err(err(
                map_file(r),
                Some(&map.id_column),
                Some(Loc::Line(r.line)),
                format!(
                    "id {:?} appears twice (also line {})",
                    r.id, map.rows[prev].line
                ),
            ));
        }
    }
    let d = factors.dim;
    let mut row_of_map: Vec<Option<usize>> = vec![None; map.rows.len()];
    for (k, &id) in factors.ids.iter().enumerate() {
        let (file, row) = factors.locate(k);
        let Some(&m) = by_index.get(&id) else {
            return Err(err(
                file,
                Some(&factors.id_column),
                Some(Loc::Row(row)),
                format!(
                    "id {id} is not in the id map {} (a map from another training run?)",
                    map.files
                        .first()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            ));
        };
        if let Some(prev) = row_of_map[m] {
            let (pf, pr) = factors.locate(prev);
            return Err(err(
                file,
                Some(&factors.id_column),
                Some(Loc::Row(row)),
                format!("id {id} appears twice (also {} row {pr})", pf.display()),
            ));
        }
        row_of_map[m] = Some(k);
    }
    let mut order: Vec<usize> = (0..map.rows.len()).collect();
    order.sort_by_key(|&k| map.rows[k].index);
    let mut data = Vec::with_capacity(map.rows.len() * d);
    let mut rows = Vec::with_capacity(map.rows.len());
    for &m in &order {
        let r = &map.rows[m];
        let Some(k) = row_of_map[m] else {
            return Err(err(
                map_file(r),
                Some(&map.id_column),
                Some(Loc::Line(r.line)),
                format!(
                    "{:?} (index {}) has no factor row in {} (a map from another training run?)",
                    r.id,
                    r.index,
                    factors
                        .files
                        .first()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            ));
        };
        data.extend_from_slice(&factors.data[k * d..(k + 1) * d]);
        rows.push(r.clone());
    }
    let arr = Array2::from_shape_vec((rows.len(), d), data)
        .map_err(|e| err(&factors.files[0], None, None, e.to_string()))?;
    Ok((rows, arr))
}

/// Puts imported factors into the model state the exporter reads. The users
/// are only there for per-user files; the bundle never carries them.
pub fn to_state(
    items: &[MapRow],
    item_factors: Array2<f32>,
    users: Option<(Vec<MapRow>, Array2<f32>)>,
    params: &ImportParams,
    dataset: &str,
) -> ModelState {
    let d = item_factors.ncols();
    let (user_ids, user_factors) = match users {
        Some((rows, f)) => (rows.into_iter().map(|r| r.id).collect::<Vec<_>>(), f),
        None => (Vec::new(), Array2::zeros((0, d))),
    };
    let has_titles = items.iter().any(|r| r.title.is_some());
    let has_cats = items.iter().any(|r| r.category.is_some());
    let header = StateHeader {
        n_users: user_ids.len(),
        n_items: items.len(),
        dim: d,
        users: user_ids,
        items: items.iter().map(|r| r.id.clone()).collect(),
        alpha: params.alpha,
        lambda: params.lambda,
        iterations: params.iterations,
        cg_steps: 0,
        solver: params.trainer.clone(),
        seed: params.seed,
        loss: Vec::new(),
        train_seconds: 0.0,
        popularity: items.iter().map(|r| r.popularity.unwrap_or(0.0)).collect(),
        titles: has_titles.then(|| {
            items
                .iter()
                .map(|r| r.title.clone().unwrap_or_else(|| r.id.clone()))
                .collect()
        }),
        categories: has_cats.then(|| {
            items
                .iter()
                .map(|r| r.category.clone().unwrap_or_default())
                .collect()
        }),
        prices: None,
        dataset: dataset.to_string(),
        in_stock: None,
        currency: None,
    };
    ModelState {
        header,
        user_factors,
        item_factors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(major: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let f = if fortran { "True" } else { "False" };
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}");
        h.push('\n');
        let mut b = b"\x93NUMPY".to_vec();
        b.extend_from_slice(&[major, 0]);
        if major == 1 {
            b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(h.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn npy_versions_dtypes_and_fortran_order() {
        let p = Path::new("m.npz");
        let a = parse_npy(
            &npy(1, "<f4", false, "(2, 3)", &f32s(&[1., 2., 3., 4., 5., 6.])),
            p,
            "x",
        )
        .unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert!(matches!(&a.data, NpyData::F32(v) if v == &[1., 2., 3., 4., 5., 6.]));
        // Column-major storage of the same matrix comes back row-major.
        let b = parse_npy(
            &npy(2, "<f4", true, "(2, 3)", &f32s(&[1., 4., 2., 5., 3., 6.])),
            p,
            "x",
        )
        .unwrap();
        assert!(matches!(&b.data, NpyData::F32(v) if v == &[1., 2., 3., 4., 5., 6.]));
        let s = parse_npy(
            &npy(1, "<f8", false, "()", &0.25f64.to_le_bytes()),
            p,
            "reg",
        )
        .unwrap();
        assert_eq!(s.scalar_f64(), Some(0.25));
        let i = parse_npy(
            &npy(3, "<i8", false, "()", &64i64.to_le_bytes()),
            p,
            "factors",
        )
        .unwrap();
        assert_eq!(i.scalar_f64(), Some(64.0));
        let u = parse_npy(&npy(1, "<U7", false, "()", &[0; 28]), p, "dtype").unwrap();
        assert!(matches!(u.data, NpyData::Other(ref d) if d == "<U7"));
    }

    #[test]
    fn npy_damage_is_an_error_never_a_panic() {
        let p = Path::new("m.npz");
        let good = npy(1, "<f4", false, "(2, 3)", &f32s(&[1., 2., 3., 4., 5., 6.]));
        for cut in 0..good.len() {
            let r = parse_npy(&good[..cut], p, "item_factors");
            if cut < good.len() {
                assert!(r.is_err(), "cut at {cut} parsed");
            }
        }
        let e = parse_npy(&good[..good.len() - 1], p, "item_factors").unwrap_err();
        assert_eq!(e.column.as_deref(), Some("item_factors"));
        assert!(e.to_string().contains("m.npz"), "{e}");
        let huge = npy(1, "<f4", false, "(18446744073709551615, 2)", &[]);
        assert!(parse_npy(&huge, p, "x").is_err());
        let v9 = npy(9, "<f4", false, "(1,)", &f32s(&[1.]));
        assert!(parse_npy(&v9, p, "x").is_err());
    }

    #[test]
    fn join_reports_both_directions() {
        let factors = RawFactors {
            dim: 1,
            ids: vec![10, 20],
            data: vec![1.0, 2.0],
            files: vec![PathBuf::from("f.parquet")],
            origin: vec![(0, 0), (0, 1)],
            id_column: "id".into(),
        };
        let row = |index, id: &str, line| MapRow {
            index,
            id: id.into(),
            popularity: None,
            title: None,
            category: None,
            line,
            file: 0,
        };
        let map = |rows| IdMap {
            rows,
            files: vec![PathBuf::from("items.csv")],
            id_column: "item_id".into(),
        };
        // Map order is by index, whatever the file order.
        let (rows, f) = join(&factors, &map(vec![row(20, "b", 2), row(10, "a", 3)])).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(f.as_slice().unwrap(), &[1.0, 2.0]);
        let e = join(&factors, &map(vec![row(10, "a", 2)])).unwrap_err();
        assert_eq!(
            (e.row, e.column.as_deref()),
            (Some(Loc::Row(1)), Some("id"))
        );
        let e = join(
            &factors,
            &map(vec![row(10, "a", 2), row(20, "b", 3), row(30, "c", 4)]),
        )
        .unwrap_err();
        assert_eq!(
            (e.row, e.file.to_str()),
            (Some(Loc::Line(4)), Some("items.csv"))
        );
        let e = join(&factors, &map(vec![row(10, "a", 2), row(20, "a", 3)])).unwrap_err();
        assert!(e.reason.contains("twice"), "{e}");
    }
}
