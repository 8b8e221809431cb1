//! Next-item prediction on session logs (NowPlaying-1M layout: tab-separated
//! `session_id item_id timestamp` with that header): popularity, item
//! neighbours, session-kNN, the session vector over ALS factors and vitrine's
//! on-device blend, its weights tuned on valid, scored once on test.

use super::EvalError;
use crate::engine::Model;
use crate::format::{write_bundle, BundleParts, Dtype, Gram};
use crate::shopper::neighbours::{self, NeighbourOptions};
use crate::shopper::rerank::{self, Blend, Profile, RerankOptions};
use crate::shopper::{Event, EventKind, ProfileOptions};
use crate::train::als::{self, AlsParams, Csr};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Options of a session evaluation (the CLI's flags, one to one).
#[derive(Clone, Debug)]
pub struct SessionEvalConfig {
    /// Directory with train.csv / valid.csv / test file.
    pub data: PathBuf,
    /// Name written into the JSON; `None` = the data directory's name.
    pub dataset_name: Option<String>,
    pub max_sessions: usize,
    pub factors: usize,
    pub iterations: usize,
    pub alpha: f32,
    pub lambda: f32,
    pub neighbours: usize,
    pub window: usize,
    pub backward: f32,
    pub damping: f32,
    pub half_life: f32,
    pub tune: bool,
    pub tune_sessions: usize,
    pub pool: usize,
    pub test_file: String,
    pub tune_rounds: usize,
    pub tune_only: bool,
    /// Largest share of data lines that may fail to parse before the run fails.
    pub max_bad_share: f64,
}

impl Default for SessionEvalConfig {
    fn default() -> Self {
        SessionEvalConfig {
            data: PathBuf::from(".cache/data/nowplaying1m"),
            dataset_name: None,
            max_sessions: 1500,
            factors: 64,
            iterations: 12,
            alpha: 64.0,
            lambda: 1.0,
            neighbours: 100,
            window: 5,
            backward: NeighbourOptions::default().backward,
            damping: NeighbourOptions::default().damping,
            half_life: rerank::SESSION_HALF_LIFE,
            tune: false,
            tune_sessions: 0,
            pool: RerankOptions::default().pool,
            test_file: "test.csv".into(),
            tune_rounds: 2,
            tune_only: false,
            max_bad_share: 0.01,
        }
    }
}

impl SessionEvalConfig {
    /// The dataset's name for reports: the flag, else the directory's name
    /// (never a fixed string: the JSON must say what was measured).
    pub fn dataset(&self) -> String {
        self.dataset_name.clone().unwrap_or_else(|| {
            self.data
                .canonicalize()
                .unwrap_or_else(|_| self.data.clone())
                .file_name()
                .map_or_else(
                    || self.data.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
        })
    }
}

/// A session log read from one file.
#[derive(Debug)]
pub struct Log {
    /// Sessions in file order, each (item index, ts ms); items unknown to train are u32::MAX.
    pub sessions: Vec<Vec<(u32, f64)>>,
    /// Data lines (header excluded) and those skipped as unparseable.
    pub lines: usize,
    pub skipped: usize,
}

/// The columns a session file must name in its header.
pub const SESSION_COLUMNS: [&str; 3] = ["session_id", "item_id", "timestamp"];

/// Reads a tab-separated session log. The header must name `session_id`,
/// `item_id` and `timestamp` (any order, other columns ignored): a file of
/// another layout (say `user_id basket_id item_id`) would otherwise parse
/// into nonsense sessions and a perfect-looking score. Lines that do not
/// parse are counted; past `max_bad_share` of the data lines the read fails
/// with the first few, below it the count is reported.
pub fn read_log(
    path: &Path,
    ids: &mut HashMap<String, u32>,
    grow: bool,
    max_bad_share: f64,
) -> Result<Log, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::Io {
        path: format!("{} (run `make data-nowplaying`)", path.display()),
        source: e,
    })?;
    parse_log(&text, &path.display().to_string(), ids, grow, max_bad_share)
}

/// [`read_log`] on text already in memory (`path` only names it in errors).
pub fn parse_log(
    text: &str,
    path: &str,
    ids: &mut HashMap<String, u32>,
    grow: bool,
    max_bad_share: f64,
) -> Result<Log, EvalError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|x| x.1).unwrap_or("");
    let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
    let col = |name: &str| cols.iter().position(|c| *c == name);
    let (Some(cs), Some(ci), Some(ct)) = (
        col(SESSION_COLUMNS[0]),
        col(SESSION_COLUMNS[1]),
        col(SESSION_COLUMNS[2]),
    ) else {
        return Err(EvalError::BadLayout {
            path: path.to_string(),
            detail: format!(
                "the first line must be a tab-separated header naming {}; found {:?}",
                SESSION_COLUMNS.join(", "),
                header.chars().take(120).collect::<String>()
            ),
        });
    };
    let width = cols.len();
    let mut by_session: Vec<(String, Vec<(u32, f64)>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let (mut total, mut skipped) = (0usize, 0usize);
    let mut first_bad: Vec<(usize, String)> = Vec::new();
    for (ln, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        total += 1;
        let f: Vec<&str> = line.split('\t').collect();
        let parsed = (f.len() == width)
            .then(|| (f.get(cs), f.get(ci), f.get(ct)))
            .and_then(|x| match x {
                (Some(s), Some(i), Some(t)) if !s.is_empty() && !i.is_empty() => {
                    let ts = t.trim().parse::<f64>().ok().filter(|t| t.is_finite())?;
                    Some((*s, *i, ts))
                }
                _ => None,
            });
        let Some((s, i, ts)) = parsed else {
            skipped += 1;
            if first_bad.len() < 5 {
                first_bad.push((ln + 1, line.chars().take(120).collect()));
            }
            continue;
        };
        let n = ids.len() as u32;
        let item = if grow {
            *ids.entry(i.to_string()).or_insert(n)
        } else {
            ids.get(i).copied().unwrap_or(u32::MAX)
        };
        let k = *index.entry(s.to_string()).or_insert_with(|| {
            by_session.push((s.to_string(), Vec::new()));
            by_session.len() - 1
        });
        by_session[k].1.push((item, ts * 1000.0));
    }
    if skipped > 0 && skipped as f64 > max_bad_share * total as f64 {
        return Err(EvalError::TooManyBadLines {
            path: path.to_string(),
            bad: skipped,
            total,
            max_share: max_bad_share,
            first: first_bad,
        });
    }
    let mut sessions: Vec<Vec<(u32, f64)>> = by_session.into_iter().map(|s| s.1).collect();
    for s in &mut sessions {
        s.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    Ok(Log {
        sessions,
        lines: total,
        skipped,
    })
}

/// Sums of the top-20 metrics over next-item predictions (one relevant
/// item each), from the shared helpers in `eval::metrics`.
#[derive(Default, Clone, Copy)]
pub struct Acc {
    pub hits: f64,
    pub rr: f64,
    pub ndcg: f64,
    pub precision: f64,
    pub f1: f64,
    pub n: usize,
}

/// The cut-off of every session table.
pub const K: usize = 20;

impl Acc {
    pub fn add(&mut self, recs: &[u32], target: u32) {
        let m = super::metrics::at_k(recs, K, 1, |i| i == target);
        self.n += 1;
        self.hits += m.recall;
        self.rr += m.rr;
        self.ndcg += m.ndcg;
        self.precision += m.precision;
        self.f1 += m.f1;
    }
    pub fn merge(mut self, o: Acc) -> Acc {
        self.hits += o.hits;
        self.rr += o.rr;
        self.ndcg += o.ndcg;
        self.precision += o.precision;
        self.f1 += o.f1;
        self.n += o.n;
        self
    }
    /// One relevant item per prediction: Recall@20 = HR@20.
    pub fn json(&self) -> serde_json::Value {
        let n = self.n.max(1) as f64;
        serde_json::json!({"hr@20": self.hits / n, "recall@20": self.hits / n, "mrr@20": self.rr / n,
                           "ndcg@20": self.ndcg / n, "precision@20": self.precision / n,
                           "f1@20": self.f1 / n, "predictions": self.n})
    }
}

/// Top 20 by score, ties to the lower index whatever the iteration order
/// (SKNN iterates a HashMap).
pub fn top20(scores: impl Iterator<Item = (u32, f32)>) -> Vec<u32> {
    let mut t = crate::engine::TopK::new(20);
    for (i, s) in scores {
        if s >= t.threshold() {
            t.push(i, s);
        }
    }
    t.into_sorted().into_iter().map(|s| s.index).collect()
}

/// session-kNN as in session-rec (Ludewig & Jannach): the `sample` most recent
/// training sessions sharing an item, cosine over item sets, top `k`.
pub struct Sknn {
    /// item → training sessions containing it, most recent first.
    by_item: Vec<Vec<u32>>,
    sets: Vec<Vec<u32>>,
    /// session → its position in recency order (0 = most recent).
    rank: Vec<u32>,
    k: usize,
    sample: usize,
}

impl Sknn {
    pub fn new(train: &[Vec<(u32, f64)>], n_items: usize) -> Self {
        let sets: Vec<Vec<u32>> = train
            .iter()
            .map(|s| {
                let mut v: Vec<u32> = s.iter().map(|x| x.0).collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        let mut order: Vec<usize> = (0..train.len()).collect();
        let last = |s: &Vec<(u32, f64)>| s.last().map_or(0.0, |x| x.1);
        order.sort_by(|&a, &b| last(&train[b]).total_cmp(&last(&train[a])));
        let mut rank = vec![0u32; train.len()];
        for (k, &s) in order.iter().enumerate() {
            rank[s] = k as u32;
        }
        let mut by_item = vec![Vec::new(); n_items];
        for &s in &order {
            for &i in &sets[s] {
                by_item[i as usize].push(s as u32);
            }
        }
        Sknn {
            by_item,
            sets,
            rank,
            k: 100,
            sample: 500,
        }
    }

    pub fn recommend(&self, prefix: &[u32]) -> Vec<u32> {
        let mut cur: Vec<u32> = prefix.iter().copied().filter(|&i| i != u32::MAX).collect();
        cur.sort_unstable();
        cur.dedup();
        // The `sample` most recent sessions sharing an item: a k-way merge of
        // the per-item lists (each newest first), so a long prefix (a
        // replayed MovieLens user) costs O(sample · log items), not a sort
        // of every session of every item. Ties in recency go to the session
        // earlier in `order`.
        let mut heap = std::collections::BinaryHeap::new();
        let mut lists: Vec<&[u32]> = Vec::new();
        for &i in cur.iter() {
            if let Some(list) = self.by_item.get(i as usize) {
                let list = &list[..list.len().min(self.sample)];
                if let Some(&s) = list.first() {
                    heap.push(std::cmp::Reverse((
                        self.rank[s as usize],
                        lists.len(),
                        0usize,
                    )));
                    lists.push(list);
                }
            }
        }
        let mut cand: Vec<u32> = Vec::with_capacity(self.sample);
        let mut taken = std::collections::HashSet::new();
        while let Some(std::cmp::Reverse((_, l, p))) = heap.pop() {
            let s = lists[l][p];
            if taken.insert(s) {
                cand.push(s);
                if cand.len() == self.sample {
                    break;
                }
            }
            if let Some(&n) = lists[l].get(p + 1) {
                heap.push(std::cmp::Reverse((self.rank[n as usize], l, p + 1)));
            }
        }
        // Per-thread scratch, cleared after use: a bitmap of the prefix's
        // items (set intersections by bit tests instead of binary searches
        // of each candidate session) and dense scores with the list of
        // items touched (no hashing; a long replayed user makes thousands
        // of additions per prediction).
        thread_local! {
            static SCRATCH: std::cell::RefCell<(Vec<u64>, Vec<f32>, Vec<u32>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
        }
        let n_items = self.by_item.len();
        SCRATCH.with(|cell| {
            let mut guard = cell.borrow_mut();
            let (bits, score, touched) = &mut *guard;
            if bits.len() < n_items.div_ceil(64) {
                bits.resize(n_items.div_ceil(64), 0);
            }
            if score.len() < n_items {
                score.resize(n_items, 0.0);
            }
            let has = |bits: &[u64], i: u32| {
                bits.get(i as usize / 64)
                    .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
            };
            for &i in &cur {
                if let Some(w) = bits.get_mut(i as usize / 64) {
                    *w |= 1u64 << (i % 64);
                }
            }
            let mut sims: Vec<(f32, u32)> = cand
                .iter()
                .map(|&s| {
                    let set = &self.sets[s as usize];
                    let inter = set.iter().filter(|&&i| has(bits, i)).count();
                    (
                        inter as f32 / ((set.len() * cur.len()) as f32).sqrt().max(1.0),
                        s,
                    )
                })
                .collect();
            for &i in &cur {
                if let Some(w) = bits.get_mut(i as usize / 64) {
                    *w = 0;
                }
            }
            sims.sort_by(|a, b| b.0.total_cmp(&a.0));
            sims.truncate(self.k);
            // Same additions in the same order as a map per item would
            // make, so the sums (and the top 20, ties to the lower index)
            // are those of the HashMap version.
            for (sim, s) in sims {
                for &i in &self.sets[s as usize] {
                    if let Some(v) = score.get_mut(i as usize) {
                        if *v == 0.0 {
                            touched.push(i);
                        }
                        *v += sim;
                    }
                }
            }
            // An item whose sum stays 0 (sim 0) may be pushed twice: dedup.
            touched.sort_unstable();
            touched.dedup();
            let top = top20(touched.iter().map(|&i| (i, score[i as usize])));
            for &i in touched.iter() {
                score[i as usize] = 0.0;
            }
            touched.clear();
            top
        })
    }
}

pub fn events_of(prefix: &[(u32, f64)]) -> Vec<Event> {
    prefix
        .iter()
        .filter(|x| x.0 != u32::MAX)
        .map(|&(item, ts)| Event {
            kind: EventKind::View,
            item,
            ts,
        })
        .collect()
}

pub fn profile(model: &Model, prefix: &[(u32, f64)], half_life: f32) -> Profile {
    let ev = events_of(prefix);
    let now = prefix.last().map_or(0.0, |x| x.1);
    let opts = ProfileOptions {
        now_ms: now,
        // Sessions are already split by the dataset.
        session_gap_ms: f64::INFINITY,
        ..Default::default()
    };
    Profile::build(model, &ev, &opts, half_life, None).unwrap_or_default()
}

/// Prediction points: (session, prefix length) for every next item.
pub fn points(log: &[Vec<(u32, f64)>]) -> Vec<(usize, usize)> {
    log.iter()
        .enumerate()
        .flat_map(|(s, v)| (1..v.len()).map(move |p| (s, p)))
        .collect()
}

/// The data read and the bundle trained on train.csv, shared by the session
/// evaluation and the ranker.
pub struct Prepared {
    pub train: Log,
    pub valid: Log,
    pub test: Log,
    pub n_items: usize,
    pub model: Model,
    pub items_f: Vec<f32>,
    pub pop: Vec<f32>,
    pub bundle_bytes: usize,
    pub parts: BundleParts,
}

/// Reads the three files (layout and bad-line checks) and trains ALS +
/// neighbours on train.csv into an in-memory bundle.
pub fn prepare(a: &SessionEvalConfig, progress: &dyn Fn(&str)) -> Result<Prepared, EvalError> {
    let t0 = std::time::Instant::now();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let train = read_log(&a.data.join("train.csv"), &mut ids, true, a.max_bad_share)?;
    let valid = read_log(&a.data.join("valid.csv"), &mut ids, false, a.max_bad_share)?;
    let mut test = read_log(&a.data.join(&a.test_file), &mut ids, false, a.max_bad_share)?;
    if a.max_sessions > 0 {
        test.sessions.truncate(a.max_sessions);
    }
    let n_items = ids.len();
    if train.sessions.is_empty() || n_items == 0 {
        return Err(EvalError::Empty {
            what: format!(
                "{}: no training sessions",
                a.data.join("train.csv").display()
            ),
        });
    }
    progress(&format!(
        "session eval: {} train sessions, {} items, {} test sessions",
        train.sessions.len(),
        n_items,
        test.sessions.len()
    ));

    // ALS over sessions as users (counts as weights).
    let mut trip: Vec<(u32, u32, f32)> = Vec::new();
    for (s, v) in train.sessions.iter().enumerate() {
        for &(i, _) in v {
            trip.push((s as u32, i, 1.0));
        }
    }
    let m = Csr::from_triplets(train.sessions.len(), n_items, &trip);
    let params = AlsParams {
        factors: a.factors,
        iterations: a.iterations,
        alpha: a.alpha,
        lambda: a.lambda,
        ..Default::default()
    };
    let model_als = als::train(&m, &params, |_| {}).map_err(|e| EvalError::Train(e.to_string()))?;
    let items_f: Vec<f32> = model_als.item_factors.iter().copied().collect();
    let yty = als::gram(&model_als.item_factors).iter().copied().collect();
    let mut pop = vec![0f32; n_items];
    for v in &train.sessions {
        for &(i, _) in v {
            pop[i as usize] += 1.0;
        }
    }
    let train_items: Vec<Vec<u32>> = train
        .sessions
        .iter()
        .map(|v| v.iter().map(|x| x.0).collect())
        .collect();
    let nb = neighbours::build(
        n_items,
        &train_items,
        &NeighbourOptions {
            top_n: a.neighbours,
            window: a.window,
            min_count: 1,
            backward: a.backward,
            damping: a.damping,
        },
    );
    let mut names: Vec<String> = vec![String::new(); n_items];
    for (k, &v) in &ids {
        names[v as usize] = k.clone();
    }
    let parts = BundleParts {
        ids: names,
        dim: a.factors,
        factors: items_f.clone(),
        popularity: Some(pop.clone()),
        gram: Some(Gram {
            yty,
            lambda: a.lambda,
            alpha: a.alpha,
        }),
        neighbours: Some(nb),
        ..Default::default()
    };
    let bytes = write_bundle(&parts, Dtype::F32)?;
    let model = Model::from_bytes(&bytes)?;
    progress(&format!(
        "  trained ALS + neighbours in {:.1}s (bundle {} bytes)",
        t0.elapsed().as_secs_f64(),
        bytes.len()
    ));
    Ok(Prepared {
        train,
        valid,
        test,
        n_items,
        model,
        items_f,
        pop,
        bundle_bytes: bytes.len(),
        parts,
    })
}

/// Validation sessions used for tuning: about `n`, evenly spaced over the
/// file (so over the whole period); 0 = all.
pub fn tuning_sessions(valid: &Log, n: usize) -> Vec<Vec<(u32, f64)>> {
    let step = match n {
        0 => 1,
        n => valid.sessions.len().div_ceil(n).max(1),
    };
    valid.sessions.iter().step_by(step).cloned().collect()
}

/// The whole session evaluation: returns the report (`None` with
/// `tune_only`, after the tuning lines went to `progress`).
pub fn run(
    a: &SessionEvalConfig,
    progress: &dyn Fn(&str),
) -> Result<Option<serde_json::Value>, EvalError> {
    let t0 = std::time::Instant::now();
    let Prepared {
        train,
        valid,
        test,
        n_items,
        model,
        items_f,
        pop,
        ..
    } = prepare(a, progress)?;
    let mut blend = Blend::default();
    let mut tuning = serde_json::Value::Null;
    if a.tune {
        let vlog = tuning_sessions(&valid, a.tune_sessions);
        let (best, grid) = tune(&model, &vlog, a.half_life, a.tune_rounds, a.pool, progress);
        blend = best;
        tuning = grid;
        progress(&format!(
            "  tuned blend {blend:?} ({:.1}s)",
            t0.elapsed().as_secs_f64()
        ));
    }
    if a.tune_only {
        return Ok(None);
    }

    let (names, total) = score_test(
        a, &model, &items_f, &pop, &train, &test, n_items, blend, None,
    );
    let mut results = serde_json::Map::new();
    for (k, n) in names.iter().enumerate() {
        results.insert(n.to_string(), total[k].json());
        progress(&format!(
            "  {n:<20} HR@20 {:.4}  MRR@20 {:.4}",
            total[k].hits / total[k].n.max(1) as f64,
            total[k].rr / total[k].n.max(1) as f64
        ));
    }
    let best_base = (0..4).fold((0.0f64, 0.0f64), |(h, r), k| {
        (h.max(total[k].hits), r.max(total[k].rr))
    });
    let out = serde_json::json!({
        "dataset": a.dataset(),
        "lines": {"train": train.lines, "valid": valid.lines, "test": test.lines},
        "skipped_unparseable_lines": {"train": train.skipped, "valid": valid.skipped, "test": test.skipped},
        "task": "next-item prediction from each session prefix, full catalogue, repeats allowed",
        "test_sessions": test.sessions.len(),
        "n_items": n_items,
        "als": {"factors": a.factors, "iterations": a.iterations, "alpha": a.alpha, "lambda": a.lambda},
        "neighbours": {"top_n": a.neighbours, "window": a.window, "backward": a.backward, "damping": a.damping},
        "session_half_life": a.half_life,
        "blend": {"long": blend.long, "session": blend.session, "popularity": blend.popularity, "neighbours": blend.neighbours},
        "tuning_on_valid": tuning,
        "results": results,
        "blend_beats_best_baseline": {"hr@20": total[4].hits >= best_base.0, "mrr@20": total[4].rr >= best_base.1},
        "seconds": t0.elapsed().as_secs_f64(),
    });
    Ok(Some(out))
}

/// Test-set scores of the baselines, the blend and (if given) the ranker,
/// all from one pass over the prediction points.
#[allow(clippy::too_many_arguments)]
pub fn score_test(
    a: &SessionEvalConfig,
    model: &Model,
    items_f: &[f32],
    pop: &[f32],
    train: &Log,
    test: &Log,
    n_items: usize,
    blend: Blend,
    ranker: Option<&crate::ranker::Ranker>,
) -> (Vec<&'static str>, Vec<Acc>) {
    let pts = points(&test.sessions);
    let d = a.factors;
    let inv: Vec<f32> = items_f
        .chunks_exact(d)
        .map(|r| {
            let s: f32 = r.iter().map(|x| x * x).sum();
            if s > 0.0 {
                1.0 / s.sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let pop_top = top20(pop.iter().enumerate().map(|(i, &p)| (i as u32, p)));
    let sknn = Sknn::new(&train.sessions, n_items);
    // Reasons are not scored (they are computed after the order is final),
    // so none are built: the full ones decompose the ALS score over the
    // whole prefix for each of the 20 results.
    let ropts = RerankOptions {
        k: 20,
        blend,
        rules: Default::default(),
        pool: a.pool,
        reason_depth: 0,
        ..Default::default()
    };
    let ranker_opts = ranker.map(|r| RerankOptions {
        ranker: Some(r.clone()),
        ..ropts.clone()
    });
    let names = [
        "popularity",
        "item_neighbours",
        "sknn",
        "session_vector_als",
        "vitrine_blend",
        "vitrine_ranker",
    ];
    let accs: Vec<[Acc; 6]> = pts
        .par_iter()
        .map(|&(s, p)| {
            let sess = &test.sessions[s];
            let prefix = &sess[..p];
            let target = sess[p].0;
            let mut acc = [Acc::default(); 6];
            acc[0].add(&pop_top, target);
            let last = prefix[p - 1].0;
            let nbr: Vec<u32> = model.neighbours().map_or(Vec::new(), |v| {
                v.of(last as usize).map(|x| x.0).take(20).collect()
            });
            acc[1].add(&nbr, target);
            acc[2].add(
                &sknn.recommend(&prefix.iter().map(|x| x.0).collect::<Vec<_>>()),
                target,
            );
            let prof = profile(model, prefix, a.half_life);
            if prof.session_vec.is_empty() {
                acc[3].add(&[], target);
            } else {
                let sv = &prof.session_vec;
                let scores = items_f.chunks_exact(d).enumerate().map(|(i, r)| {
                    (
                        i as u32,
                        r.iter().zip(sv).map(|(x, y)| x * y).sum::<f32>() * inv[i],
                    )
                });
                acc[3].add(&top20(scores), target);
            }
            // One candidate pool for the blend and the ranker, as
            // `rerank::recommend` would retrieve it for either (the pool
            // does not depend on the ranker).
            let pool = rerank::candidates(model, &prof, &ropts).ok();
            let top = |o: &RerankOptions| -> Vec<u32> {
                pool.as_ref()
                    .and_then(|c| rerank::rerank(model, &prof, c, o).ok())
                    .map_or(Vec::new(), |r| r.into_iter().map(|x| x.index).collect())
            };
            acc[4].add(&top(&ropts), target);
            if let Some(o) = &ranker_opts {
                acc[5].add(&top(o), target);
            }
            acc
        })
        .collect();
    let total = accs.into_iter().fold([Acc::default(); 6], |mut t, a| {
        for k in 0..6 {
            t[k] = t[k].merge(a[k]);
        }
        t
    });
    let n = if ranker.is_some() { 6 } else { 5 };
    (names[..n].to_vec(), total[..n].to_vec())
}

/// The learned ranker's top 20: the blend's candidate pool, scored by the
/// logistic model inside `rerank::recommend`, the path the device runs.
pub fn ranked_by(
    r: &crate::ranker::Ranker,
    model: &Model,
    prof: &Profile,
    _prefix: &[(u32, f64)],
    ropts: &RerankOptions,
) -> Vec<u32> {
    let opts = RerankOptions {
        k: 20,
        reason_depth: 0,
        ranker: Some(r.clone()),
        ..ropts.clone()
    };
    rerank::recommend(model, prof, &opts)
        .map_or(Vec::new(), |v| v.into_iter().map(|x| x.index).collect())
}

/// One validation prediction reduced to what decides the target's rank
/// under any non-negative blend: how many pool candidates beat it on every
/// part, and the part differences (candidate − target) of those that beat it
/// only under some weights. `None`: the target is not in the pool, or 20
/// candidates always beat it.
pub type Point = Option<(u32, Vec<[f32; 4]>)>;

pub fn reduce(ranked: &[rerank::Ranked], target: u32) -> Point {
    let t = ranked.iter().find(|r| r.index == target)?.parts;
    let mut always = 0u32;
    let mut mixed = Vec::new();
    for r in ranked.iter().filter(|r| r.index != target) {
        let d: [f32; 4] = std::array::from_fn(|k| r.parts[k] - t[k]);
        if d.iter().all(|&x| x > 0.0) {
            always += 1;
        } else if d.iter().any(|&x| x > 0.0) {
            mixed.push(d);
        }
    }
    (always < 20).then_some((always, mixed))
}

/// HR@20 and MRR@20 of a blend over reduced points (ties count against the target).
pub fn score_points(points: &[Point], b: &Blend) -> (f64, f64) {
    let w = [b.long, b.session, b.popularity, b.neighbours];
    let (hits, rr) = points
        .par_iter()
        .map(|p| {
            let Some((always, mixed)) = p else {
                return (0.0, 0.0);
            };
            let mut rank = *always as usize;
            for d in mixed {
                if w[0] * d[0] + w[1] * d[1] + w[2] * d[2] + w[3] * d[3] >= 0.0 {
                    rank += 1;
                    if rank >= 20 {
                        return (0.0, 0.0);
                    }
                }
            }
            (1.0, 1.0 / (rank + 1) as f64)
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let n = points.len().max(1) as f64;
    (hits / n, rr / n)
}

/// Blend weights tuned on validation sessions, maximizing HR@20 + MRR@20.
/// Each round draws every prediction's candidate pool exactly as `recommend`
/// does with the current weights, scores the pool's parts once, then searches
/// weights over it: a grid (the score is scale-free, so neighbours = 1), then
/// coordinate steps from the best point. The next round redraws the pools
/// with the new weights (the engine scan direction depends on them).
pub fn tune(
    model: &Model,
    log: &[Vec<(u32, f64)>],
    half_life: f32,
    n_rounds: usize,
    pool: usize,
    progress: &dyn Fn(&str),
) -> (Blend, serde_json::Value) {
    let pts = points(log);
    let n = pts.len().max(1) as f64;
    let mut blend = Blend::default();
    let mut rounds = Vec::new();
    let mut default_score = (0.0, 0.0);
    for round in 0..n_rounds {
        let pool_opts = RerankOptions {
            k: 20,
            blend,
            rules: Default::default(),
            pool,
            ..Default::default()
        };
        let all = RerankOptions {
            k: 0,
            reason_depth: 0,
            ..pool_opts.clone()
        };
        // (reduced point, target in the pool, target already in the session)
        let scored: Vec<(Point, bool, bool)> = pts
            .par_iter()
            .map(|&(s, p)| {
                let prof = profile(model, &log[s][..p], half_life);
                let target = log[s][p].0;
                let repeat = log[s][..p].iter().any(|x| x.0 == target);
                let ranked = rerank::candidates(model, &prof, &pool_opts)
                    .and_then(|c| rerank::rerank(model, &prof, &c, &all))
                    .unwrap_or_default();
                let in_pool = ranked.iter().any(|r| r.index == target);
                (reduce(&ranked, target), in_pool, repeat)
            })
            .collect();
        let count = |f: &dyn Fn(&(Point, bool, bool)) -> bool| {
            scored.iter().filter(|x| f(x)).count() as f64 / n
        };
        let (in_pool, reachable) = (count(&|x| x.1), count(&|x| x.0.is_some()));
        let (repeats, repeats_in_pool) = (count(&|x| x.2), count(&|x| x.1 && x.2));
        let reduced: Vec<Point> = scored.iter().map(|x| x.0.clone()).collect();
        let obj = |b: &Blend| {
            let (h, r) = score_points(&reduced, b);
            (h + r, h, r)
        };
        let start = obj(&blend);
        let mut best = (start.0, blend);
        let steps = [0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.45, 0.7, 1.0, 1.5];
        for &long in &steps {
            for &session in &steps {
                for popularity in [0.0, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.25] {
                    let b = Blend {
                        long,
                        session,
                        popularity,
                        neighbours: 1.0,
                    };
                    let v = obj(&b).0;
                    if v > best.0 {
                        best = (v, b);
                    }
                }
            }
        }
        // Coordinate steps around the grid's best, halving the step when stuck.
        let mut step = 0.25f32;
        while step > 0.02 {
            let mut moved = false;
            for k in 0..3 {
                for dir in [1.0 + step, 1.0 / (1.0 + step)] {
                    let mut b = best.1;
                    let x = match k {
                        0 => &mut b.long,
                        1 => &mut b.session,
                        _ => &mut b.popularity,
                    };
                    *x = if *x == 0.0 { 0.01 * step } else { *x * dir };
                    let v = obj(&b).0;
                    if v > best.0 {
                        best = (v, b);
                        moved = true;
                    }
                }
            }
            if !moved {
                step /= 2.0;
            }
        }
        blend = best.1;
        let (_, h, r) = obj(&blend);
        let repeat_points: Vec<Point> =
            scored.iter().filter(|x| x.2).map(|x| x.0.clone()).collect();
        let (rh, rr) = score_points(&repeat_points, &blend);
        default_score = score_points(&reduced, &Blend::default());
        progress(&format!(
            "  tune round {round}: target in pool {in_pool:.4} (reachable {reachable:.4}); \
             start HR@20 {:.4} MRR@20 {:.4}; best {blend:?} HR@20 {h:.4} MRR@20 {r:.4}",
            start.1, start.2
        ));
        rounds.push(serde_json::json!({
            "target_in_pool": in_pool,
            "target_in_pool_and_fewer_than_20_always_ahead": reachable,
            "start": {"long": pool_opts.blend.long, "session": pool_opts.blend.session,
                      "popularity": pool_opts.blend.popularity, "neighbours": pool_opts.blend.neighbours,
                      "hr@20": start.1, "mrr@20": start.2},
            "best": {"long": blend.long, "session": blend.session, "popularity": blend.popularity,
                     "neighbours": blend.neighbours, "hr@20": h, "mrr@20": r},
            "targets_seen_earlier_in_the_session": {"share": repeats, "in_pool": repeats_in_pool,
                        "hr@20": rh, "mrr@20": rr},
        }));
    }
    let json = serde_json::json!({
        "sessions": log.len(),
        "predictions": pts.len(),
        "objective": "hr@20 + mrr@20",
        "rounds": rounds,
        "default_blend_on_last_pools": {"hr@20": default_score.0, "mrr@20": default_score.1},
    });
    (blend, json)
}
