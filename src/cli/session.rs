//! `vitrine session`: the shopper side offline.
//!
//! - `session synth`: a synthetic catalogue bundle with NEIGHBOURS (from
//!   simulated sessions) and SEGMENTS (k-means over simulated users), for the
//!   JS tests, the shopper demo and the benchmark.
//! - `session eval`: next-item prediction on NowPlaying-1M test sessions
//!   (HR@20 / MRR@20) for popularity, item neighbours, session-kNN, the
//!   session vector over ALS factors and vitrine's on-device blend.

use crate::engine::Model;
use crate::eval::session::SessionEvalConfig;
use crate::format::{write_bundle, write_bundle_file, BundleParts, Dtype, Gram, Segments};
use crate::shopper::neighbours::{self, NeighbourOptions};
use crate::shopper::rerank::{self, RerankOptions};
use crate::shopper::segments;
use crate::synth::Rng;
use crate::train::als;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Synthetic catalogue + neighbours + segments, for tests, demo and benchmarks.
    Synth(SynthArgs),
    /// Next-item prediction on NowPlaying-1M sessions → JSON.
    Eval(EvalArgs),
    /// Recall@10 of held-out users through on-device fold-in vs the trainer's user factors.
    FoldinEval(Box<FoldinArgs>),
    /// Behaviour segments from a basket log (user_id, basket_id, item_id): table + stability.
    Segments(SegmentsArgs),
    /// Score another system's top-20 file (one line per test prediction point) with the session metrics.
    Score(ScoreArgs),
}

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Directory with train.csv (the catalogue) and the test file.
    #[arg(long, default_value = ".cache/data/nowplaying1m")]
    pub data: PathBuf,
    /// Tab-separated session_id, position, target, items (see src/eval/external.rs).
    #[arg(long)]
    pub predictions: PathBuf,
    #[arg(long, default_value = "test.csv")]
    pub test_file: String,
    /// Name of the scored system in the JSON and the printed line.
    #[arg(long, default_value = "external")]
    pub name: String,
    #[arg(long, default_value_t = 0.01)]
    pub max_bad_share: f64,
    #[arg(long, default_value = "target/eval/score.json")]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct SegmentsArgs {
    /// Basket log with a header naming user_id (or customer_id), basket_id
    /// (whole numbers in each user's day order) and item_id (or
    /// product_id); CSV or TSV, as every log the CLI reads. Ta-Feng's
    /// original log is recognised by its own columns.
    #[arg(long, default_value = ".cache/data/tafeng/train.csv")]
    pub data: PathBuf,
    /// Number of segments (default: best mean silhouette over 2..=6).
    #[arg(long)]
    pub k: Option<usize>,
    /// Users need this many baskets to be counted in the stability check.
    #[arg(long, default_value_t = 4)]
    pub min_baskets: usize,
    #[arg(long, default_value_t = 0.01)]
    pub max_bad_share: f64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long, default_value = "target/eval/segments.json")]
    pub out: PathBuf,
    /// Instead of the basket evaluation: give this bundle a BEHAVIOUR section
    /// (written to --bundle-out), fitted on --events or --synthetic-users.
    #[arg(long, requires = "bundle_out")]
    pub bundle: Option<PathBuf>,
    #[arg(long, requires = "bundle")]
    pub bundle_out: Option<PathBuf>,
    /// Event log for --bundle (as `vitrine export --behaviour`).
    #[arg(long, requires = "bundle", conflicts_with = "synthetic_users")]
    pub events: Option<PathBuf>,
    /// What the event log's timestamps are: `auto` (ISO-8601, or numbers
    /// whose unit is read from their magnitude), `s`, `ms`, `us`, `ns`, `iso`.
    #[arg(long, requires = "events", default_value = "auto", value_name = "UNIT", value_parser = crate::train::values::parse_time_spec)]
    pub time_unit: crate::train::values::TimeSpec,
    /// The event log's user column (header name or 0-based index); default:
    /// `user_id`, `user`, `visitorid` or `customer_id`.
    #[arg(long, value_name = "COL", requires = "events")]
    pub user_col: Option<String>,
    /// Its item column; default: `item_id`, `item`, `itemid` or `product_id`.
    #[arg(long, value_name = "COL", requires = "events")]
    pub item_col: Option<String>,
    /// Its time column; default: `timestamp`, `ts` or `time`.
    #[arg(long, value_name = "COL", requires = "events")]
    pub time_col: Option<String>,
    /// Its event type column; default: `type`, `event` or `event_type` if
    /// present; `none`: every row is a purchase (an order export).
    #[arg(long, value_name = "COL", requires = "events")]
    pub type_col: Option<String>,
    /// For --bundle: a simulated population of this many shoppers over the
    /// bundle's prices and categories (demo bundles, which are synthetic too).
    #[arg(long, requires = "bundle")]
    pub synthetic_users: Option<usize>,
    /// For --bundle: prior strength (visits) pulling short histories toward
    /// the average shopper, or `auto` (estimated from the log; as `vitrine
    /// export --behaviour-shrink`).
    #[arg(long, requires = "bundle", value_name = "VISITS|auto", default_value = "auto", value_parser = super::export::parse_shrink)]
    pub shrink: super::export::BehaviourShrink,
}

#[derive(clap::Args, Debug)]
pub struct FoldinArgs {
    #[command(flatten)]
    pub input: super::train::InputArgs,
    #[command(flatten)]
    pub als: super::train::AlsArgs,
    #[arg(long, default_value_t = 5)]
    pub min_positives: usize,
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    #[arg(long, default_value = "target/eval/foldin.json")]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    #[arg(long, default_value_t = 2000)]
    pub items: usize,
    #[arg(long, default_value_t = 32)]
    pub dim: usize,
    /// f32 | f16 | int8
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long, default_value_t = 8)]
    pub categories: usize,
    /// Simulated sessions for the neighbour lists (0 = no NEIGHBOURS section).
    #[arg(long, default_value_t = 5000)]
    pub sessions: usize,
    /// Segments (k-means over simulated users; 0 = no SEGMENTS section).
    #[arg(long, default_value_t = 5)]
    pub segments: usize,
    /// A RANKER section: `trained` (fitted on fresh simulated sessions),
    /// or, for the fallback tests, `nan` (a NaN weight) and `other-spec`
    /// (a feature this build does not compute).
    #[arg(long, value_parser = ["trained", "nan", "other-spec"])]
    pub ranker: Option<String>,
    #[arg(long, short)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Directory with train.csv / valid.csv / test.csv (tab-separated session_id, item_id, timestamp).
    #[arg(long, default_value = ".cache/data/nowplaying1m")]
    pub data: PathBuf,
    /// Test sessions evaluated (the first N by id; 0 = all).
    #[arg(long, default_value_t = 1500)]
    pub max_sessions: usize,
    #[arg(long, default_value_t = 64)]
    pub factors: usize,
    #[arg(long, default_value_t = 12)]
    pub iterations: usize,
    /// Confidence weight (chosen on valid.csv among 2–256; 4 before).
    #[arg(long, default_value_t = 64.0)]
    pub alpha: f32,
    #[arg(long, default_value_t = 1.0)]
    pub lambda: f32,
    /// Neighbours kept per item in the bundle.
    #[arg(long, default_value_t = 100)]
    pub neighbours: usize,
    /// Co-occurrence window in positions (0 = whole session).
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Weight of links to items seen before the source item, relative to
    /// those after it (1 = symmetric).
    #[arg(long, default_value_t = NeighbourOptions::default().backward)]
    pub backward: f32,
    /// Link weights are divided by count(source)^(1−d)·count(target)^d.
    #[arg(long, default_value_t = NeighbourOptions::default().damping)]
    pub damping: f32,
    /// Session recency half-life in events (session vector and neighbour evidence).
    #[arg(long, default_value_t = rerank::SESSION_HALF_LIFE)]
    pub half_life: f32,
    /// Tune the blend weights on valid.csv before the test run.
    #[arg(long)]
    pub tune: bool,
    /// Validation sessions used for tuning (about N, evenly spaced over the
    /// file, so over the whole period; 0 = all).
    #[arg(long, default_value_t = 0)]
    pub tune_sessions: usize,
    /// Candidate pool of the blend's `recommend` (engine scan and neighbour links, each).
    #[arg(long, default_value_t = RerankOptions::default().pool)]
    pub pool: usize,
    /// The file evaluated (test.csv; valid.csv only to compare options during development).
    #[arg(long, default_value = "test.csv")]
    pub test_file: String,
    /// Tuning rounds (each redraws the candidate pools with the weights found so far).
    #[arg(long, default_value_t = 2)]
    pub tune_rounds: usize,
    /// Stop after tuning (no test run): for choosing the bundle options on valid.csv.
    #[arg(long)]
    pub tune_only: bool,
    /// Name of the data set in the JSON (default: the --data directory's name).
    #[arg(long)]
    pub dataset_name: Option<String>,
    /// Largest share of data lines that may fail to parse (counted and
    /// reported below it; the run fails above it).
    #[arg(long, default_value_t = 0.01)]
    pub max_bad_share: f64,
    #[arg(long, default_value = "target/eval/session.json")]
    pub out: PathBuf,
}

pub fn run(cmd: Cmd) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Cmd::Synth(a) => synth(a),
        Cmd::Eval(a) => eval(a),
        Cmd::FoldinEval(a) => foldin_eval(*a),
        Cmd::Segments(a) => behaviour_segments(a),
        Cmd::Score(a) => score(a),
    }
}

/// Sessions that browse one category, preferring items a random user likes:
/// neighbours then link items that are close in factor space, as real ones do.
fn simulated_sessions(p: &BundleParts, n: usize, rng: &mut Rng) -> Vec<Vec<u32>> {
    let d = p.dim;
    let cats = p.categories.clone().unwrap_or_default();
    let n_items = p.ids.len();
    let ncat = p.category_names.len().max(1);
    let by_cat: Vec<Vec<u32>> = (0..ncat)
        .map(|c| {
            (0..n_items as u32)
                .filter(|&i| cats.get(i as usize) == Some(&(c as u32)))
                .collect()
        })
        .collect();
    (0..n)
        .map(|_| {
            let u = crate::synth::user(d, rng);
            let c = (rng.next_u64() % ncat as u64) as usize;
            let pool = &by_cat[c];
            let len = 2 + (rng.next_u64() % 6) as usize;
            let mut scored: Vec<(f32, u32)> = (0..len * 6)
                .filter_map(|_| {
                    let i = *pool.get((rng.next_u64() % pool.len().max(1) as u64) as usize)?;
                    let y = &p.factors[i as usize * d..(i as usize + 1) * d];
                    Some((
                        y.iter().zip(&u).map(|(a, b)| a * b).sum::<f32>() + 0.3 * rng.normal(),
                        i,
                    ))
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            scored.into_iter().take(len).map(|s| s.1).collect()
        })
        .collect()
}

fn synth(a: SynthArgs) -> Result<(), Box<dyn std::error::Error>> {
    let dtype = Dtype::parse(&a.dtype).ok_or("--dtype must be f32, f16 or int8")?;
    if a.items == 0 || a.dim == 0 {
        return Err("--items and --dim must be at least 1".into());
    }
    let mut p = crate::synth::catalogue(a.items, a.dim, a.categories, a.seed);
    let mut rng = Rng::new(a.seed ^ 0x5e55);
    if a.sessions > 0 {
        let s = simulated_sessions(&p, a.sessions, &mut rng);
        p.neighbours = Some(neighbours::build(
            a.items,
            &s,
            &NeighbourOptions {
                top_n: 20,
                ..Default::default()
            },
        ));
    }
    if a.segments > 0 {
        // Users folded in from simulated histories, so centroids live where real folded-in users do.
        let model = Model::from_bytes(&write_bundle(&p, Dtype::F32)?)?;
        let hist = simulated_sessions(&p, 600, &mut rng);
        let mut users = Vec::with_capacity(hist.len() * a.dim);
        for h in &hist {
            let agg: Vec<(u32, f32)> = h.iter().map(|&i| (i, 1.0)).collect();
            let mut agg = agg;
            agg.sort_by_key(|x| x.0);
            agg.dedup_by_key(|x| x.0);
            users.extend(crate::shopper::fold_in(&model, &agg)?.user);
        }
        let (cent, assign) = segments::kmeans(&users, a.dim, a.segments, 50, a.seed);
        let k = cent.len() / a.dim;
        // Name each segment after the category its members browse most.
        let cats = p.categories.clone().unwrap_or_default();
        let names = (0..k)
            .map(|s| {
                let mut count = vec![0usize; p.category_names.len()];
                for (h, &g) in hist.iter().zip(&assign) {
                    if g as usize == s {
                        for &i in h {
                            if let Some(c) = cats
                                .get(i as usize)
                                .and_then(|&c| count.get_mut(c as usize))
                            {
                                *c += 1;
                            }
                        }
                    }
                }
                let best = (0..count.len()).max_by_key(|&c| count[c]).unwrap_or(0);
                format!(
                    "{} fans",
                    p.category_names.get(best).map_or("segment", |s| s.as_str())
                )
            })
            .collect();
        p.segments = Some(Segments {
            dim: a.dim,
            centroids: cent,
            names,
        });
    }
    if let Some(kind) = &a.ranker {
        // Fresh sessions (not those the neighbours came from), each prefix
        // a training point, as `ranker train` does on real logs.
        let model = Model::from_bytes(&write_bundle(&p, Dtype::F32)?)?;
        let log: Vec<Vec<(u32, f64)>> = simulated_sessions(&p, 800, &mut rng)
            .into_iter()
            .map(|s| {
                s.into_iter()
                    .zip(0..)
                    .map(|(i, t)| (i, 1000.0 * f64::from(t)))
                    .collect()
            })
            .collect();
        let cfg = crate::eval::ranker::RankerConfig::default();
        let ex = crate::eval::ranker::examples(&model, &log, Default::default(), &cfg);
        let (x, y, rw) = ex.sample(1);
        let mut r = crate::ranker::fit_weighted(&x, &y, &rw, &Default::default())?;
        match kind.as_str() {
            "nan" => r.weights[0] = f32::NAN,
            "other-spec" => {
                if let Some(n) = r.names.last_mut() {
                    *n = "weather".into();
                }
            }
            _ => {}
        }
        p.ranker = Some(r);
    }
    p.meta.push(("dtype".into(), dtype.name().into()));
    p.meta.push((
        "shopper".into(),
        format!("sessions={} segments={}", a.sessions, a.segments),
    ));
    write_bundle_file(&a.out, &p, dtype)?;
    eprintln!(
        "wrote {} ({} items × {} dims, {})",
        a.out.display(),
        a.items,
        a.dim,
        dtype.name()
    );
    Ok(())
}

// ---- evaluation (computed in `crate::eval::session`) ----------------------------

impl EvalArgs {
    pub(super) fn config(&self) -> SessionEvalConfig {
        SessionEvalConfig {
            data: self.data.clone(),
            dataset_name: self.dataset_name.clone(),
            max_sessions: self.max_sessions,
            factors: self.factors,
            iterations: self.iterations,
            alpha: self.alpha,
            lambda: self.lambda,
            neighbours: self.neighbours,
            window: self.window,
            backward: self.backward,
            damping: self.damping,
            half_life: self.half_life,
            tune: self.tune,
            tune_sessions: self.tune_sessions,
            pool: self.pool,
            test_file: self.test_file.clone(),
            tune_rounds: self.tune_rounds,
            tune_only: self.tune_only,
            max_bad_share: self.max_bad_share,
        }
    }
}

fn eval(a: EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    let Some(out) = crate::eval::session::run(&a.config(), &|m| eprintln!("{m}"))? else {
        return Ok(());
    };
    write_json(&a.out, &out)
}

fn score(a: ScoreArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut out =
        crate::eval::external::score_file(&a.data, &a.test_file, &a.predictions, a.max_bad_share)?;
    let r = |k: &str| out["results"][k].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "  {:<20} HR@20 {:.4}  MRR@20 {:.4}  P@20 {:.4}  F1@20 {:.4}  ({} predictions)",
        a.name,
        r("hr@20"),
        r("mrr@20"),
        r("precision@20"),
        r("f1@20"),
        r("predictions")
    );
    out["name"] = a.name.into();
    out["run"] = super::run_info();
    write_json(&a.out, &out)
}

fn behaviour_segments(a: SegmentsArgs) -> Result<(), Box<dyn std::error::Error>> {
    use crate::eval::segments;
    if a.k == Some(0) {
        return Err("--k must be at least 1".into());
    }
    if let (Some(inp), Some(out)) = (&a.bundle, &a.bundle_out) {
        return behaviour_into_bundle(&a, inp, out);
    }
    let bytes = super::read_input(&a.data)?;
    if segments::is_full_tafeng(&bytes) {
        let log =
            segments::read_full_tafeng(&bytes, &a.data.display().to_string(), a.max_bad_share)?;
        eprintln!(
            "{}: {} rows ({} unreadable), {} customers, {} products",
            a.data.display(),
            log.rows,
            log.bad_rows,
            log.histories.len(),
            log.prices.len()
        );
        let (mut out, _) = segments::run_full(&log, a.k, a.min_baskets, a.seed)?;
        out["data"] = a.data.display().to_string().into();
        out["dataset"] = dataset_name(&a.data).into();
        out["layout"] =
            "Ta-Feng's original columns: dates, customers, product subclass, amount, sales price"
                .into();
        return finish_segments(a, out);
    }
    let users = segments::parse_baskets(&bytes, &a.data.display().to_string(), a.max_bad_share)?;
    let (mut out, _) = segments::run(&users, a.k, a.min_baskets, a.seed)?;
    out["data"] = a.data.display().to_string().into();
    out["dataset"] = dataset_name(&a.data).into();
    out["layout"] = "baskets: user_id, basket_id (day order), item_id".into();
    finish_segments(a, out)
}

/// What the report calls the data: named from the input, never assumed
/// (a Ta-Feng-shaped log from another store is not Ta-Feng). The folder
/// names the dataset where the file is one of a split's generic names.
fn dataset_name(path: &std::path::Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("data");
    let generic = ["train", "valid", "test", "data", "all", "events", "orders"];
    match path
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|d| d.to_str())
    {
        Some(dir) if generic.contains(&stem.to_ascii_lowercase().as_str()) => {
            format!("{dir}/{stem}")
        }
        _ => stem.to_string(),
    }
}

fn finish_segments(
    a: SegmentsArgs,
    mut out: serde_json::Value,
) -> Result<(), Box<dyn std::error::Error>> {
    out["goal_same_segment_share"] = crate::eval::segments::STABILITY_GOAL.into();
    out["run"] = super::run_info();
    if let Some(t) = out["segments"].as_array() {
        for s in t {
            eprintln!(
                "  segment {}  {:>5} users  {}",
                s["id"], s["users"], s["label"]
            );
        }
    }
    eprintln!(
        "  stability (same segment, two halves): {}",
        out["stability"]["same_segment_share"]
    );
    write_json(&a.out, &out)
}

/// `session segments --bundle`: BEHAVIOUR fitted on an event log or a
/// simulated population, over the bundle's own ids, prices and categories.
fn behaviour_into_bundle(
    a: &SegmentsArgs,
    inp: &Path,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use crate::eval::segments;
    let bytes = super::read_input(inp)?;
    let model = crate::engine::Model::from_bytes(&bytes)?;
    let v = model.view();
    let gap = crate::shopper::ProfileOptions::default().session_gap_ms;
    let (seg, users) = match (&a.events, a.synthetic_users) {
        (Some(path), _) => {
            let ids: Vec<String> = (0..model.n_items())
                .map(|i| model.item_id(i).unwrap_or_default().to_string())
                .collect();
            let cols = segments::EventLogColumns {
                user: a.user_col.clone(),
                item: a.item_col.clone(),
                time: a.time_col.clone(),
                kind: a.type_col.clone(),
                flag_prefix: "",
            };
            let log = segments::read_event_log(path, &ids, &cols, a.time_unit, a.max_bad_share)?;
            eprintln!("{}: {}", path.display(), log.times);
            segments::fit_log(&log, v.price, v.category, gap, a.shrink.0, a.k, a.seed)?
        }
        (None, Some(n)) => {
            let (Some(p), Some(c)) = (v.price, v.category) else {
                return Err("--synthetic-users needs a bundle with prices and categories".into());
            };
            let (hist, end) = segments::synthetic_histories(p, c, n, a.seed);
            let log = segments::EventLog {
                histories: hist,
                end_ms: end,
                ..Default::default()
            };
            segments::fit_log(&log, Some(p), Some(c), gap, a.shrink.0, a.k, a.seed)?
        }
        (None, None) => return Err("--bundle needs --events LOG or --synthetic-users N".into()),
    };
    let written = crate::format::behaviour::add_to_bundle(&bytes, &seg)?;
    crate::format::write::write_atomic(out, &written)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!(
        "{}: behaviour segments from {users} users, k = {}, shrinkage {:.2} visits",
        out.display(),
        seg.centroids.len(),
        seg.shrink
    );
    for (i, l) in seg.labels.iter().enumerate() {
        eprintln!("  segment {i}  {:>5} users  {l}", seg.sizes[i]);
    }
    Ok(())
}

pub(super) fn write_json(
    path: &Path,
    v: &serde_json::Value,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(v)?)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Same split, same trained items: recommend for each held-out user from
/// (a) the user row ALS trained and (b) a fresh fold-in of that user's
/// training history through an exported bundle, as the browser would.
fn foldin_eval(a: FoldinArgs) -> Result<(), Box<dyn std::error::Error>> {
    use crate::train::eval as ev;
    let lopts = a.input.load_options()?;
    let params = a.als.params()?;
    let ds = crate::train::data::load_interactions(&a.input.input, &lopts)?;
    let split = ev::split(&ds, a.min_positives, a.holdout)?;
    let m = crate::train::user_item_matrix(&split.train);
    let trained = als::train(&m, &params, |_| {})?;
    let (n, d) = trained.item_factors.dim();
    let items: Vec<f32> = trained.item_factors.iter().copied().collect();
    let parts = BundleParts {
        ids: (0..n).map(|i| format!("{i}")).collect(),
        dim: d,
        factors: items.clone(),
        gram: Some(Gram {
            yty: als::gram(&trained.item_factors).iter().copied().collect(),
            lambda: params.lambda,
            alpha: params.alpha,
        }),
        ..Default::default()
    };
    let mut out = serde_json::Map::new();
    for dtype in [Dtype::F32, Dtype::I8] {
        let model = Model::from_bytes(&write_bundle(&parts, dtype)?)?;
        let seen = ev::seen_items(&m);
        let score = |u: &[f32]| -> Vec<f32> {
            items
                .chunks_exact(d)
                .map(|y| y.iter().zip(u).map(|(a, b)| a * b).sum())
                .collect()
        };
        let (recs_t, recs_f): (Vec<Vec<u32>>, Vec<Vec<u32>>) = split
            .test
            .par_iter()
            .map(|t| {
                let u = t.user as usize;
                let row: Vec<f32> = trained.user_factors.row(u).to_vec();
                let (idx, r) = m.row(u);
                let hist: Vec<(u32, f32)> = idx.iter().copied().zip(r.iter().copied()).collect();
                let f = crate::shopper::fold_in(&model, &hist)
                    .map(|f| f.user)
                    .unwrap_or_else(|_| vec![0.0; d]);
                (
                    ev::top_k(&score(&row), &seen[u], ev::MAX_K),
                    ev::top_k(&score(&f), &seen[u], ev::MAX_K),
                )
            })
            .unzip();
        let mt = ev::metrics(&recs_t, &split.test, n);
        let mf = ev::metrics(&recs_f, &split.test, n);
        let rel = (mf.recall - mt.recall) / mt.recall.max(1e-12);
        eprintln!(
            "  {:<5} recall@10 trainer {:.4}  fold-in {:.4}  ({:+.2}%)",
            dtype.name(),
            mt.recall,
            mf.recall,
            100.0 * rel
        );
        out.insert(
            dtype.name().to_string(),
            serde_json::json!({"recall@10_trainer_user_factors": mt.recall, "recall@10_foldin": mf.recall,
                "ndcg@10_trainer": mt.ndcg, "ndcg@10_foldin": mf.ndcg, "relative_difference": rel, "within_2pct": rel.abs() <= 0.02}),
        );
    }
    let json = serde_json::json!({"input": a.input.input.display().to_string(), "users": split.test.len(),
        "als": {"factors": params.factors, "iterations": params.iterations, "alpha": params.alpha, "lambda": params.lambda},
        "note": "item factors scored in f32 for both; the fold-in solves against the bundle's Gram and (de)quantized rows",
        "results": out});
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&a.out, serde_json::to_string_pretty(&json)?)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
