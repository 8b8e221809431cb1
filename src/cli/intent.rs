//! `vitrine intent train | eval | match`: build `.vti` intent models, measure
//! them on held-out files, and try them from the shell.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::Error;
use crate::intent::train::{
    self, evaluate, read_class_config, read_examples, Example, Metrics, TrainConfig,
};
use crate::intent::{FeatureConfig, IntentModel, TitleIndex};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Train an intent model from `text,intent[,lang]` CSV and write a `.vti` file.
    Train(TrainArgs),
    /// Train on one file and evaluate on another (or evaluate a saved model).
    Eval(EvalArgs),
    /// Match texts (arguments, or stdin lines) and print JSON; `--bench` times it.
    Match(MatchArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct ModelOpts {
    /// Inverse L2 regularization strength (scikit-learn's C). Default: chosen
    /// by cross-validation among `--c-grid`.
    /// Checked when parsed: finite and > 0 (`--c 0|NaN|inf` used to train a
    /// useless model and exit 0).
    #[arg(long, value_parser = positive_finite)]
    pub c: Option<f32>,
    /// Size budget of the written model in bytes: the smallest int8 weights
    /// are pruned until it fits (0 = no budget). The browser budget is 1 MB.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_bytes: usize,
    /// Feature weightings the cross-validation tries with every C:
    /// `uniform` (binary features) and/or `idf` (frequent features
    /// regularized more, as idf weighting would) and/or `nb` (features
    /// concentrated in one class regularized less, NBSVM-like). The first is
    /// used with `--c`.
    #[arg(long, value_delimiter = ',', value_parser = ["uniform", "idf", "nb"], default_values = ["uniform", "idf"])]
    pub weightings: Vec<String>,
    /// Feature sets the cross-validation tries with every weighting and C
    /// (comma-separated; the first is used with `--c`): `base` (CJK
    /// character 1-3-grams, words, word bigrams, character 3-5-grams),
    /// `cjk4` (+ CJK 4-grams), `edges` (+ punctuation and CJK run edges),
    /// `cjk4+edges`, `cjk2` and `cjk2+edges` (CJK 1-2-grams only: shorter
    /// n-grams for topic-like text such as news titles).
    #[arg(long, value_delimiter = ',', value_parser = ["base", "cjk4", "edges", "cjk4+edges", "cjk2", "cjk2+edges"],
          default_values = crate::intent::train::DEFAULT_FEATURE_SETS)]
    pub feature_sets: Vec<String>,
    /// Candidate C values for the cross-validated choice (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = positive_finite, default_values_t = crate::intent::train::DEFAULT_C_GRID)]
    pub c_grid: Vec<f32>,
    /// Drop features seen in fewer training utterances (shrinks the model).
    #[arg(long, default_value_t = 1)]
    pub min_count: u32,
    /// Disable CJK character trigrams (uni- and bigrams only).
    #[arg(long)]
    pub no_cjk_trigrams: bool,
    /// L-BFGS iterations (at least 1).
    #[arg(long, default_value_t = TrainConfig::default().max_iter,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_iter: usize,
    /// Fixed out-of-scope threshold in [0, 1] instead of calibrating one (0 = never reject).
    #[arg(long, value_parser = unit_interval)]
    pub threshold: Option<f32>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Outlier exposure: weight of each out-of-scope example's cross-entropy
    /// to the uniform distribution over the intents (0 = use out-of-scope
    /// examples only to calibrate the threshold).
    #[arg(long, default_value_t = TrainConfig::default().oe_weight, value_parser = non_negative_finite)]
    pub oe_weight: f32,
    /// Cross-validation folds (2–100) of the model selection and, when
    /// out-of-scope examples are given, of the threshold. Default: 5, or 3
    /// from 5,000 in-scope training rows (half the cost on large files).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..=100))]
    pub cv_folds: Option<usize>,
}

/// The training options are checked when parsed: `--c 0`, `NaN` or `inf`
/// used to train a model of zeros (or NaN weights) and exit 0.
fn finite(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{s:?} must be a finite number"));
    }
    Ok(v)
}

fn positive_finite(s: &str) -> Result<f32, String> {
    let v = finite(s)?;
    if v <= 0.0 {
        return Err(format!("{s:?} must be greater than 0"));
    }
    Ok(v)
}

fn non_negative_finite(s: &str) -> Result<f32, String> {
    let v = finite(s)?;
    if v < 0.0 {
        return Err(format!("{s:?} must be 0 or more"));
    }
    Ok(v)
}

fn unit_interval(s: &str) -> Result<f32, String> {
    let v = finite(s)?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("{s:?} must be between 0 and 1"));
    }
    Ok(v)
}

impl ModelOpts {
    fn config(&self) -> TrainConfig {
        use crate::intent::train::{parse_feature_set, Weighting};
        let mut feature_sets: Vec<FeatureConfig> = self
            .feature_sets
            .iter()
            .filter_map(|n| parse_feature_set(n))
            .map(|f| FeatureConfig {
                cjk_trigrams: f.cjk_trigrams && !self.no_cjk_trigrams,
                cjk_fourgrams: f.cjk_fourgrams && !self.no_cjk_trigrams,
                ..f
            })
            .collect();
        feature_sets.dedup();
        let features = feature_sets.first().copied().unwrap_or_default();
        let weightings = self
            .weightings
            .iter()
            .map(|w| match w.trim() {
                "idf" => Weighting::Idf,
                "nb" => Weighting::Nb,
                _ => Weighting::Uniform,
            })
            .collect();
        TrainConfig {
            weightings,
            c: self.c.unwrap_or(TrainConfig::default().c),
            // An explicit --c turns model selection off.
            c_grid: if self.c.is_some() {
                Vec::new()
            } else {
                self.c_grid.clone()
            },
            max_iter: self.max_iter,
            min_count: self.min_count,
            features,
            feature_sets,
            seed: self.seed,
            fixed_threshold: self.threshold,
            oe_weight: self.oe_weight,
            cv_folds: self.cv_folds.unwrap_or(0),
            ..TrainConfig::default()
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Utterances: CSV with `text,intent` (optional `lang`); intent `_oos` or
    /// empty marks out-of-scope examples (outlier exposure + threshold calibration).
    #[arg(long)]
    pub data: PathBuf,
    /// Extra out-of-scope examples (CSV with a `text` column).
    #[arg(long)]
    pub oos: Option<PathBuf>,
    /// Per-intent configuration: CSV `intent,action,response`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Build the product-mention title index from this bundle's titles.
    #[arg(long)]
    pub titles_from: Option<PathBuf>,
    /// Titles as TSV `id<TAB>title` (item index = line order, or the bundle's
    /// index of `id` when `--titles-from` is also given).
    #[arg(long)]
    pub titles: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    /// Mood training data (CSV `text,mood[,split]`, mood one of negative,
    /// neutral, positive; rows with split=test are never trained on); may be
    /// repeated. Adds the mood head `matchIntent` reports as `mood`.
    #[arg(long)]
    pub mood: Vec<PathBuf>,
    /// Drop mood features seen in fewer mood rows (size knob: review texts
    /// are long and bring many rare n-grams).
    #[arg(long, default_value_t = 3)]
    pub mood_min_count: u32,
    /// Also write the training report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelOpts,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Training CSV (ignored with `--model`).
    #[arg(long, required_unless_present = "model")]
    pub train: Option<PathBuf>,
    /// Held-out CSV; rows of withheld classes or with intent `_oos` count as out-of-scope.
    #[arg(long)]
    pub test: PathBuf,
    /// Evaluate this saved model instead of training one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// File with one class name per line: removed from training and treated
    /// as out-of-scope in the test file (open-set evaluation).
    #[arg(long)]
    pub withhold: Option<PathBuf>,
    /// Out-of-scope examples (CSV with `text`, optional `split`): rows not
    /// marked `test` calibrate the threshold, rows marked `test` are added to
    /// the test set as out-of-scope.
    #[arg(long)]
    pub oos: Option<PathBuf>,
    /// Write JSON results here (printed to stdout either way).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Label column of both files (e.g. `mood`); with a `split` column,
    /// training uses the rows not marked `test`, testing the rows marked `test`.
    #[arg(long, default_value = "intent")]
    pub label_column: String,
    /// Write `truth,prediction,confidence` per test row here (no rejection),
    /// for paired tests such as McNemar's against another system.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Dataset name for the JSON (default: the test file's directory name,
    /// or its stem for files in the working directory).
    #[arg(long)]
    pub name: Option<String>,
    /// Also write the size/accuracy trade-off here (JSON lines: hash
    /// buckets x int8/int4 weights x pruning levels, at the chosen C and
    /// weighting, closed set on the test rows). Needs `--train`.
    #[arg(long)]
    pub sweep: Option<PathBuf>,
    #[command(flatten)]
    pub opts: ModelOpts,
}

#[derive(clap::Args, Debug)]
pub struct MatchArgs {
    /// A `.vti` intent model or a `.vtr` bundle with an INTENT section.
    #[arg(long)]
    pub model: PathBuf,
    /// Texts to match; reads stdin lines when none are given.
    pub texts: Vec<String>,
    /// Time `match_text` over the texts (or the `text` column of `--bench-file`)
    /// for this many rounds and print per-call latency instead of matches.
    #[arg(long)]
    pub bench: Option<usize>,
    #[arg(long)]
    pub bench_file: Option<PathBuf>,
}

pub fn run(cmd: Cmd) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Cmd::Train(a) => run_train(a),
        Cmd::Eval(a) => run_eval(a),
        Cmd::Match(a) => run_match(a),
    }
}

/// Out-of-scope examples from a CSV with a `text` column. With a `split`
/// column, `calibration` selects the rows not marked `test` (for the
/// threshold) and `!calibration` the rows marked `test` (for evaluation), so
/// one file serves both without leaking test rows into calibration.
fn read_oos(path: &Path, calibration: bool) -> Result<Vec<Example>, Error> {
    let (header, rows) = crate::intent::csv::read_table(path)?;
    let t = header
        .iter()
        .position(|h| h == "text")
        .ok_or_else(|| Error::invalid(format!("{}: no `text` column", path.display())))?;
    let split = header.iter().position(|h| h == "split");
    Ok(rows
        .into_iter()
        .filter(|r| split.is_none_or(|s| (r[s].trim() == "test") != calibration))
        .map(|r| Example {
            text: r[t].clone(),
            intent: None,
        })
        .collect())
}

/// `(text, label)` rows of a CSV with a `text` column and a `column` label
/// column; with a `split` column, rows marked `test` are kept only when
/// `test` is true and skipped otherwise (and vice versa). Rows with an empty
/// text or label are skipped and counted (second value).
fn read_labelled(
    path: &Path,
    column: &str,
    test: bool,
) -> Result<(Vec<(String, String)>, usize), Error> {
    let (header, rows) = crate::intent::csv::read_table(path)?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let t = col("text")
        .ok_or_else(|| Error::invalid(format!("{}: no `text` column", path.display())))?;
    let l = col(column)
        .ok_or_else(|| Error::invalid(format!("{}: no `{column}` column", path.display())))?;
    let split = col("split");
    let mut out = Vec::new();
    let mut skipped = 0;
    for r in rows {
        if split.is_some_and(|s| (r[s].trim() == "test") != test) {
            continue;
        }
        let (text, label) = (r[t].trim(), r[l].trim());
        if text.is_empty() || label.is_empty() {
            skipped += 1;
            continue;
        }
        out.push((text.to_string(), label.to_string()));
    }
    Ok((out, skipped))
}

fn load_titles(a: &TrainArgs) -> Result<Option<TitleIndex>, Box<dyn std::error::Error>> {
    let bundle = match &a.titles_from {
        Some(p) => Some(crate::engine::Model::from_bytes(&super::read_input(p)?)?),
        None => None,
    };
    let titles: Vec<String> = match (&a.titles, &bundle) {
        (Some(tsv), _) => {
            // `id<TAB>title`, no header, no quoting (titles may hold tabs).
            let bytes = super::read_input(tsv)?;
            let table = crate::table::Table::open(
                &bytes,
                &crate::table::TableOptions {
                    delimiter: Some(b'\t'),
                    has_header: false,
                    what: format!("titles file {}", tsv.display()),
                },
            )?;
            let mut out: Vec<String> = match &bundle {
                Some(b) => vec![String::new(); b.n_items()],
                None => Vec::new(),
            };
            let mut bad = crate::table::BadRows::new(crate::table::DEFAULT_MAX_BAD_SHARE, false);
            for rec in table.records() {
                let rec = rec?;
                bad.rows += 1;
                let (id, title) = match rec.fields.split_first() {
                    Some((id, rest)) if !rest.is_empty() => (id.as_str(), rest.join("\t")),
                    _ => ("", rec.fields.concat()),
                };
                match &bundle {
                    Some(b) => match b.item_index(id) {
                        Some(i) => out[i] = title,
                        None => bad.bad(rec.line, format!("unknown item id {id:?}"))?,
                    },
                    None => out.push(title),
                }
            }
            if bad.bad > 0 {
                eprintln!(
                    "warning: {}: {} of {} titles name no item of the bundle (first at line {})",
                    tsv.display(),
                    bad.bad,
                    bad.rows,
                    bad.first.first().map_or(0, |f| f.0)
                );
            }
            bad.check(&format!("titles file {}", tsv.display()))?;
            out
        }
        (None, Some(b)) => {
            let t = b.view().titles.ok_or_else(|| {
                Error::invalid("the bundle has no TITLES section; pass --titles titles.tsv instead")
            })?;
            (0..b.n_items())
                .map(|i| t.get(i).unwrap_or("").to_string())
                .collect()
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(TitleIndex::build(&titles)?))
}

fn run_train(a: TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (mut examples, _) = read_examples(&a.data)?;
    if let Some(p) = &a.oos {
        examples.extend(read_oos(p, true)?);
    }
    let class_config = match &a.config {
        Some(p) => read_class_config(p)?,
        None => HashMap::new(),
    };
    let t0 = Instant::now();
    let (mut model, report) = train::train(&examples, &class_config, &a.model.config())?;
    if report.skipped_empty > 0 {
        eprintln!(
            "warning: skipped {} rows without text",
            report.skipped_empty
        );
    }
    if report.conflicting > 0 {
        eprintln!(
            "warning: {} rows have a text that also occurs under another label (kept: the model predicts the majority)",
            report.conflicting
        );
    }
    model.set_title_index(load_titles(&a)?);
    let mut mood_json = serde_json::Value::Null;
    if !a.mood.is_empty() {
        let mut rows = Vec::new();
        for p in &a.mood {
            rows.extend(read_labelled(p, "mood", false)?.0);
        }
        let cfg = TrainConfig {
            min_count: a.mood_min_count,
            features: model.feature_config(),
            ..a.model.config()
        };
        let (head, rep) = train::train_mood(&rows, &cfg)?;
        eprintln!(
            "mood head: {} rows, {} features, C={}",
            rows.len(),
            head.n_features(),
            rep.selection.as_ref().map_or(cfg.c, |s| s.c)
        );
        mood_json = serde_json::json!({
            "rows": rows.len(),
            "features": head.n_features(),
            "selection": rep.selection,
        });
        model.set_mood_head(Some(head));
    }
    let pruned_at = match a.model.max_bytes {
        0 => 0,
        n => train::prune_to_budget(&mut model, n)?,
    };
    if pruned_at > 0 {
        eprintln!(
            "pruned weights with |q| <= {pruned_at} to fit {} bytes",
            a.model.max_bytes
        );
    }
    let bytes = model.to_bytes();
    let json = serde_json::json!({
        "utterances": report.n_train,
        "skipped_empty": report.skipped_empty,
        "conflicting": report.conflicting,
        "classes": report.n_classes,
        "features": report.n_features,
        "weights": report.n_weights,
        "bytes": bytes.len(),
        "title_terms": model.title_index().map(|t| t.n_terms()),
        "iterations": report.iterations,
        "loss": report.final_loss,
        "threshold": model.threshold(),
        "calibration": report.calibration.as_ref().map(|c| serde_json::json!({
            "val_in_scope": c.val_in_scope,
            "val_oos": c.val_oos,
            "val_in_scope_accuracy": c.val_in_scope_accuracy,
            "val_oos_recall": c.val_oos_recall,
            "pseudo_oos_classes": c.pseudo_oos_classes,
            "folds": c.folds,
            "objective": c.objective,
            "margin_objective": (c.margin_objective.is_finite()).then_some(c.margin_objective),
        })),
        "oe_weight": a.model.oe_weight,
        "c": report.selection.as_ref().map_or(a.model.c.unwrap_or_default(), |s| s.c),
        "selection": report.selection,
        "mood": mood_json,
        "pruned_at_abs_q": pruned_at,
        "train_seconds": t0.elapsed().as_secs_f64(),
    });
    if let Some(sel) = &report.selection {
        let grid: Vec<String> = sel
            .grid
            .iter()
            .map(|p| {
                format!(
                    "{} {:?} C={} acc {:.4} macro-F1 {:.4}",
                    train::feature_name(&p.features),
                    p.weighting,
                    p.c,
                    p.accuracy,
                    p.macro_f1
                )
            })
            .collect();
        eprintln!(
            "model selection ({}-fold CV, out-of-fold, no rejection): {}; chose {} {:?} C={}",
            sel.folds,
            grid.join(", "),
            train::feature_name(&sel.features),
            sel.weighting,
            sel.c
        );
    }
    let report_text = serde_json::to_string_pretty(&json)?;
    let mut outputs: Vec<(&Path, &[u8])> = vec![(&a.out, &bytes)];
    if let Some(r) = &a.report {
        outputs.push((r, report_text.as_bytes()));
    }
    write_all_or_nothing(&outputs)?;
    eprintln!(
        "wrote {} ({} bytes): {} intents, {} features, {} weights, threshold {:.3}",
        a.out.display(),
        bytes.len(),
        report.n_classes,
        report.n_features,
        report.n_weights,
        model.threshold()
    );
    Ok(())
}

/// Writes every output of one run or none (`intent train`'s model and
/// report, `intent eval`'s JSON, predictions and sweep): each goes to a temp
/// file next to it first, and only when all of them are written are they
/// renamed into place. A report that cannot be written (its path is a
/// directory, its disk is full) used to fail the run after the model had
/// already replaced the old one. One path given for two outputs is refused
/// up front: both would share the temp file and one would silently win.
fn write_all_or_nothing(outputs: &[(&Path, &[u8])]) -> Result<(), Error> {
    use std::io::Write;
    let fail =
        |p: &Path, e: std::io::Error| Error::invalid(format!("cannot write {}: {e}", p.display()));
    for (i, (p, _)) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|(q, _)| q == p) {
            return Err(Error::invalid(format!(
                "{} is given for two outputs; name each output file once",
                p.display()
            )));
        }
    }
    let mut staged: Vec<(std::path::PathBuf, &Path)> = Vec::new();
    let cleanup = |staged: &[(std::path::PathBuf, &Path)]| {
        for (tmp, _) in staged {
            let _ = std::fs::remove_file(tmp);
        }
    };
    for &(path, bytes) in outputs {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            name.unwrap_or_default(),
            std::process::id()
        ));
        let written = std::fs::create_dir_all(dir).and_then(|()| {
            if path.is_dir() {
                return Err(std::io::Error::other("it is a directory"));
            }
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            cleanup(&staged);
            return Err(fail(path, e));
        }
        staged.push((tmp, path));
    }
    for (i, (tmp, path)) in staged.iter().enumerate() {
        if let Err(e) = std::fs::rename(tmp, path) {
            cleanup(&staged[i..]);
            return Err(fail(path, e));
        }
    }
    Ok(())
}

fn metrics_json(m: &Metrics) -> serde_json::Value {
    serde_json::to_value(m).unwrap_or(serde_json::Value::Null)
}

fn run_eval(a: EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    let withheld: Vec<String> = match &a.withhold {
        Some(p) => super::read_text(p)?
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
        None => Vec::new(),
    };
    let labelled = |rows: Vec<(String, String)>| -> Vec<Example> {
        rows.into_iter()
            .map(|(text, l)| Example {
                text,
                intent: Some(l),
            })
            .collect()
    };
    let custom = a.label_column != "intent";
    let (mut test, mut langs) = if custom {
        let rows = labelled(read_labelled(&a.test, &a.label_column, true)?.0);
        let n = rows.len();
        (rows, vec![String::new(); n])
    } else {
        read_examples(&a.test)?
    };
    if let Some(p) = &a.oos {
        let (header, rows) = crate::intent::csv::read_table(p)?;
        let lang = header.iter().position(|h| h == "lang");
        let oos_test = read_oos(p, false)?;
        if header.iter().any(|h| h == "split") {
            let langs_of: Vec<String> = rows
                .iter()
                .filter(|r| {
                    header
                        .iter()
                        .position(|h| h == "split")
                        .is_some_and(|s| r[s].trim() == "test")
                })
                .map(|r| lang.map(|l| r[l].trim().to_string()).unwrap_or_default())
                .collect();
            langs.extend(langs_of);
            test.extend(oos_test);
        }
    }
    for e in test.iter_mut() {
        if e.intent.as_ref().is_some_and(|i| withheld.contains(i)) {
            e.intent = None;
        }
    }
    let t0 = Instant::now();
    let cpu0 = crate::train::process_cpu_seconds();
    // CPU seconds of the training alone (CV + final fit + pruning), before
    // the size sweep: the figure compared with scikit-learn's CPU time.
    let mut train_cpu_seconds = None;
    let mut sweep = Vec::new();
    let mut sweep_seconds = 0.0;
    let (model, calibration, selection) = match (&a.model, &a.train) {
        (Some(p), _) => (load_model(p)?, None, None),
        (None, Some(train_path)) => {
            let mut train_rows = if custom {
                labelled(read_labelled(train_path, &a.label_column, false)?.0)
            } else {
                read_examples(train_path)?.0
            };
            train_rows.retain(|e| !e.intent.as_ref().is_some_and(|i| withheld.contains(i)));
            if let Some(p) = &a.oos {
                train_rows.extend(read_oos(p, true)?);
            }
            let (mut m, rep) = train::train(&train_rows, &HashMap::new(), &a.opts.config())?;
            if a.opts.max_bytes > 0 {
                train::prune_to_budget(&mut m, a.opts.max_bytes)?;
            }
            train_cpu_seconds = cpu0
                .zip(crate::train::process_cpu_seconds())
                .map(|(start, end)| end - start);
            if a.sweep.is_some() {
                let mut cfg = a.opts.config();
                if let Some(sel) = &rep.selection {
                    (cfg.c, cfg.weightings) = (sel.c, vec![sel.weighting]);
                    cfg.features = sel.features;
                }
                let in_scope: Vec<Example> = test
                    .iter()
                    .filter(|e| e.intent.is_some())
                    .cloned()
                    .collect();
                let ts = Instant::now();
                sweep = train::size_sweep(
                    &train_rows,
                    &in_scope,
                    &cfg,
                    &[32, 18, 16, 14],
                    &[0, 1, 2, 4, 8, 16],
                )?;
                sweep_seconds = ts.elapsed().as_secs_f64();
            }
            (m, rep.calibration, rep.selection)
        }
        (None, None) => return Err(Box::new(Error::invalid("pass --train or --model"))),
    };
    let train_seconds = t0.elapsed().as_secs_f64() - sweep_seconds;
    let t1 = Instant::now();
    let m = evaluate(&model, &test);
    let eval_seconds = t1.elapsed().as_secs_f64();
    let mut by_lang = serde_json::Map::new();
    let mut lang_names: Vec<&String> = langs.iter().filter(|l| !l.is_empty()).collect();
    lang_names.sort();
    lang_names.dedup();
    for l in lang_names {
        let rows: Vec<Example> = test
            .iter()
            .zip(&langs)
            .filter(|(_, x)| *x == l)
            .map(|(e, _)| e.clone())
            .collect();
        by_lang.insert(l.clone(), metrics_json(&evaluate(&model, &rows)));
    }
    // Every output of this run is written at the end, all or nothing.
    let mut outputs: Vec<(&Path, Vec<u8>)> = Vec::new();
    if let Some(p) = &a.predictions {
        let mut out = String::from("truth,prediction,confidence\n");
        let names: Vec<&str> = model.class_names().collect();
        for e in &test {
            let (pred, conf) = match model.predict(&e.text) {
                Some((k, c)) => (names[k], c),
                None => ("", 0.0),
            };
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            out.push_str(&format!(
                "{},{},{conf}\n",
                q(e.intent.as_deref().unwrap_or("_oos")),
                q(pred)
            ));
        }
        outputs.push((p, out.into_bytes()));
    }
    let dataset = a.name.clone().unwrap_or_else(|| {
        let parent = a
            .test
            .parent()
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().into_owned());
        parent.unwrap_or_else(|| {
            a.test
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        })
    });
    if let Some(p) = &a.sweep {
        let mut lines = String::new();
        for pt in &sweep {
            let mut v = serde_json::to_value(pt)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("dataset".into(), dataset.clone().into());
            }
            lines.push_str(&v.to_string());
            lines.push('\n');
        }
        outputs.push((p, lines.into_bytes()));
    }
    let json = serde_json::json!({
        "dataset": dataset,
        "train_file": a.train.as_ref().map(|p| p.display().to_string()),
        "test_file": a.test.display().to_string(),
        "label_column": a.label_column,
        "accuracy": m.accuracy,
        "macro_f1": m.macro_f1,
        "n_test": m.n,
        "n_in_scope": m.n_in_scope,
        "n_oos": m.n_oos,
        "in_scope_accuracy": m.in_scope_accuracy,
        "oos_recall": m.oos_recall,
        "threshold": model.threshold(),
        "withheld_classes": withheld,
        "model_bytes": model.to_bytes().len(),
        "classes": model.n_classes(),
        "features": model.n_features(),
        "weights": model.n_weights(),
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "threads": a.opts.config().threads,
        "eval_seconds": eval_seconds,
        "by_lang": by_lang,
        "selection": selection,
        "calibration": calibration.map(|c| serde_json::json!({
            "val_in_scope": c.val_in_scope,
            "val_oos": c.val_oos,
            "val_in_scope_accuracy": c.val_in_scope_accuracy,
            "val_oos_recall": c.val_oos_recall,
            "pseudo_oos_classes": c.pseudo_oos_classes,
            "folds": c.folds,
            "objective": c.objective,
            "margin_objective": (c.margin_objective.is_finite()).then_some(c.margin_objective),
        })),
        "run": super::run_info(),
    });
    let text = serde_json::to_string_pretty(&json)?;
    if let Some(p) = &a.out {
        outputs.push((p, text.clone().into_bytes()));
    }
    let borrowed: Vec<(&Path, &[u8])> = outputs.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    write_all_or_nothing(&borrowed)?;
    println!("{text}");
    Ok(())
}

/// Loads a `.vti` file, or the INTENT section of a `.vtr` bundle.
pub fn load_model(path: &Path) -> Result<IntentModel, Box<dyn std::error::Error>> {
    let bytes = super::read_input(path)?;
    if bytes.starts_with(b"VTINTENT") {
        return Ok(IntentModel::from_bytes(&bytes)?);
    }
    let bundle = crate::engine::Model::from_bytes(&bytes)?;
    let blob = bundle.view().intent.ok_or(Error::NoIntentModel)?;
    Ok(IntentModel::from_bytes(blob)?)
}

fn run_match(a: MatchArgs) -> Result<(), Box<dyn std::error::Error>> {
    let model = load_model(&a.model)?;
    let mut texts = a.texts.clone();
    if let Some(p) = &a.bench_file {
        texts.extend(read_examples(p)?.0.into_iter().map(|e| e.text));
    }
    if texts.is_empty() {
        // Bounded like every other input: a pipe that never ends fails at
        // the limit instead of filling memory.
        use std::io::Read;
        let limit = crate::table::max_input_bytes();
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)?;
        if buf.len() as u64 > limit {
            return Err(format!(
                "stdin is larger than the input limit of {limit} bytes (raise it with --max-input-bytes)"
            )
            .into());
        }
        let text = String::from_utf8(buf).map_err(|_| "stdin is not UTF-8 text")?;
        texts.extend(text.lines().map(str::to_string));
    }
    if let Some(rounds) = a.bench {
        if texts.is_empty() {
            return Err(Box::new(Error::invalid("nothing to benchmark")));
        }
        let mut per_round = Vec::with_capacity(rounds.max(1));
        let mut sink = 0usize;
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            for s in &texts {
                let m = model.match_text(s);
                sink += m.alternatives.len() + m.intent.map_or(0, |s| s.len());
            }
            per_round.push(t.elapsed().as_secs_f64() * 1e6 / texts.len() as f64);
        }
        per_round.sort_by(f64::total_cmp);
        let median = per_round[per_round.len() / 2];
        println!(
            "{}",
            serde_json::json!({
                "texts": texts.len(),
                "rounds": per_round.len(),
                "median_us_per_match": median,
                "min_us_per_match": per_round[0],
                "checksum": sink,
            })
        );
        return Ok(());
    }
    for s in &texts {
        println!("{}", serde_json::to_string(&model.match_text(s))?);
    }
    Ok(())
}
