//! Offline evaluation of the placements on order logs (Ta-Feng in `make eval`):
//!
//! - **bought together**: hold one item out of each basket and predict it from
//!   the rest (top 10 over the catalogue, the rest excluded): HR@10, MRR@10,
//!   Precision@10, F1@10, for the engine's own `bought_together` (relaxed, on
//!   a bundle with the CO_PURCHASE section) against raw co-occurrence counts,
//!   item-kNN cosine, the ALS scorer (fold-in of the cart) and popularity;
//! - **next basket**: predict each user's next basket from their earlier ones:
//!   Recall@10, NDCG@10, Precision@10, F1@10, for `buy_again` against the
//!   user's most frequent past items (personal popularity) and global popularity.
//!
//! Parameters are chosen on a validation split carved from the training log
//! only (each user's last training basket is the validation target, the
//! earlier ones the fitting data); the test log is scored once with them.
//! Native only: the CLI parses flags and prints, everything else is here.

use super::build::{self, Basket, BuildOptions};
use super::{bought_together, buy_again, CadenceParams, CoParams, Mode, PlacementOptions};
use crate::engine::{Model, TopK};
use crate::format::placements::{add_sections, TimeUnit};
use crate::format::{write_bundle, BundleParts, Dtype, Gram};
use crate::shopper::{Event, EventKind};
use crate::train::als::{self, AlsParams, Csr};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// An order log: baskets over its own user and item vocabularies.
#[derive(Debug, Clone, Default)]
pub struct BasketLog {
    pub users: Vec<String>,
    pub items: Vec<String>,
    pub baskets: Vec<Basket>,
    pub unit: Option<TimeUnit>,
    /// Rows that could not be read (a missing id, a time that does not fit
    /// the column); counted, fatal above the allowed share.
    pub bad_rows: usize,
    /// How the time column was read (for the summary), when there is one.
    pub times: Option<String>,
}

/// How an order log is read: the trainer's `--time-unit` and
/// `--max-bad-rows`, with the same defaults.
#[derive(Clone, Debug)]
pub struct BasketReadOptions {
    pub time_spec: crate::train::values::TimeSpec,
    /// Share of malformed rows skipped with a count; above it the read fails
    /// and names the first bad lines (a wrong delimiter or layout, not a few
    /// broken rows of a large export).
    pub max_bad_share: f64,
    /// Columns by header name or 0-based index (an export's own names:
    /// Shopify's `Email`, `Name`, `Lineitem sku`, `Created at`); `None`
    /// looks for the usual names. `time_col` `none`: no time column.
    pub user_col: Option<String>,
    pub basket_col: Option<String>,
    pub item_col: Option<String>,
    pub time_col: Option<String>,
}

impl Default for BasketReadOptions {
    fn default() -> Self {
        BasketReadOptions {
            time_spec: crate::train::values::TimeSpec::Auto,
            max_bad_share: crate::table::DEFAULT_MAX_BAD_SHARE,
            user_col: None,
            basket_col: None,
            item_col: None,
            time_col: None,
        }
    }
}

/// Reads `user_id, basket_id, item_id[, date|ts]` (or the columns `opts`
/// names) with a header, through the CLI's one CSV/TSV reader
/// (`crate::table`: delimiter detected, quoted fields, CRLF, Latin-1 or
/// UTF-16 text, the input size limit). Times are read as
/// the trainer reads them (`crate::train::values`): ISO-8601 dates with or
/// without a time and offset, or unix numbers whose one unit for the column
/// comes from their magnitude (or `time_spec`); they become days since
/// 1970-01-01 UTC, fractional when a time of day is written. Without a time
/// column, each user's baskets are numbered in basket-id order (numeric ids
/// numerically) and time is that ordinal. `items` may fix the item
/// vocabulary (a bundle's ids): rows with other items are counted in
/// `unknown` and dropped. A row with an empty time takes its basket's.
/// Malformed rows (a missing or empty id, a time that does not fit the
/// column, a basket without any time) are counted in `bad_rows`; more than
/// `max_bad_share` of them is an error quoting the first ones.
pub fn read_baskets(
    path: &Path,
    items: Option<&[String]>,
    opts: &BasketReadOptions,
) -> Result<(BasketLog, usize), String> {
    use crate::table::{BadRows, Table, TableOptions};
    use crate::train::values::{decide_time_column, parse_raw_time};
    let shown = path.display().to_string();
    let bytes = crate::table::read_input(path).map_err(|e| e.to_string())?;
    let t = Table::open(
        &bytes,
        &TableOptions {
            what: format!("order log {shown}"),
            ..Default::default()
        },
    )
    .map_err(|e| format!("{shown}: {e}"))?;
    // A column the caller named must exist; otherwise the usual names (the
    // errors name the file: it is the table's `what`).
    let cu = t.require(
        opts.user_col.as_deref(),
        "user-col",
        &["user_id", "user", "customer_id"],
    )?;
    let cb = t.require(
        opts.basket_col.as_deref(),
        "basket-col",
        &["basket_id", "basket", "order_id", "order"],
    )?;
    let ci = t.require(
        opts.item_col.as_deref(),
        "item-col",
        &["item_id", "item", "product_id"],
    )?;
    let ct = match opts.time_col.as_deref() {
        Some(n) if n.eq_ignore_ascii_case("none") => None,
        given => t.pick(given, "time-col", &["date", "ts", "timestamp", "time"])?,
    };
    let mut log = BasketLog {
        unit: Some(if ct.is_some() {
            TimeUnit::Days
        } else {
            TimeUnit::Baskets
        }),
        ..Default::default()
    };
    // One reading for the whole column, decided in a first pass over it
    // (a millisecond log read as seconds made every day 1000 days).
    let mut times = ct.map(|c| decide_time_column(&t, c, opts.time_spec));
    let mut item_ix: HashMap<String, u32> = HashMap::new();
    if let Some(v) = items {
        for (i, id) in v.iter().enumerate() {
            item_ix.insert(id.clone(), i as u32);
        }
        log.items = v.to_vec();
    }
    let mut user_ix: HashMap<String, u32> = HashMap::new();
    // (user, basket id) -> index into `log.baskets`
    let mut basket_ix: HashMap<(u32, String), usize> = HashMap::new();
    let mut basket_keys: Vec<String> = Vec::new();
    let mut unknown = 0usize;
    let mut bad = BadRows::new(opts.max_bad_share, false);
    // A row with an empty time takes its basket's: exports write an order's
    // own fields (Shopify's `Created at`) on its first line item's row and
    // may leave them blank on the others. Per basket: has a time, first line.
    let mut timed: Vec<(bool, usize)> = Vec::new();
    for rec in t.records() {
        let rec = rec.map_err(|e| format!("{shown}: {e}"))?;
        bad.rows += 1;
        let f = |c: usize| rec.field(c);
        let parsed = (|| {
            let (Some(u), Some(b), Some(it)) = (f(cu), f(cb), f(ci)) else {
                return Err("needs a user_id, a basket_id and an item_id".to_string());
            };
            let day = match (ct.and_then(f), times.as_mut()) {
                (Some(text), Some(times)) => {
                    let secs = parse_raw_time(text).and_then(|raw| times.seconds(&raw, text))?;
                    // |secs| ≤ 1e13 (values::MAX_ABS_SECONDS): exact in an f64.
                    Some(secs as f64 / 86_400.0)
                }
                (None, Some(_)) => None,
                _ => Some(0.0),
            };
            Ok::<_, String>((u, b, it, day))
        })();
        let (u, b, it, t) = match parsed {
            Ok(p) => p,
            Err(reason) => {
                bad.bad(rec.line, reason).map_err(|e| e.to_string())?;
                continue;
            }
        };
        let item = match item_ix.get(it) {
            Some(&i) => i,
            None if items.is_some() => {
                unknown += 1;
                continue;
            }
            None => {
                let i = log.items.len() as u32;
                log.items.push(it.to_string());
                item_ix.insert(it.to_string(), i);
                i
            }
        };
        let nu = user_ix.len() as u32;
        let user = *user_ix.entry(u.to_string()).or_insert_with(|| {
            log.users.push(u.to_string());
            nu
        });
        let k = (user, b.to_string());
        let bi = match basket_ix.get(&k) {
            Some(&bi) => {
                if let (Some(t), Some((has, _))) = (t, timed.get_mut(bi)) {
                    if !*has {
                        log.baskets[bi].time = t;
                        *has = true;
                    }
                }
                bi
            }
            None => {
                log.baskets.push(Basket {
                    user,
                    time: t.unwrap_or(0.0),
                    items: Vec::new(),
                });
                timed.push((t.is_some(), rec.line));
                basket_keys.push(b.to_string());
                basket_ix.insert(k, log.baskets.len() - 1);
                log.baskets.len() - 1
            }
        };
        log.baskets[bi].items.push(item);
    }
    if timed.iter().any(|&(has, _)| !has) {
        let baskets = std::mem::take(&mut log.baskets);
        for (b, &(has, line)) in baskets.into_iter().zip(&timed) {
            if has {
                log.baskets.push(b);
                continue;
            }
            for _ in &b.items {
                bad.bad(
                    line,
                    "empty timestamp, and no row of its basket has one".into(),
                )
                .map_err(|e| e.to_string())?;
            }
        }
    }
    log.bad_rows = bad.bad;
    log.times = times.map(|t| t.describe());
    bad.check(&format!("order log {shown}"))
        .map_err(|e| e.to_string())?;
    if ct.is_none() {
        // Ordinal per user, by basket id (numerically when every id is a number).
        let mut per_user: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, b) in log.baskets.iter().enumerate() {
            per_user.entry(b.user).or_default().push(i);
        }
        for v in per_user.values_mut() {
            v.sort_by(|&a, &b| {
                match (basket_keys[a].parse::<f64>(), basket_keys[b].parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    _ => a.cmp(&b),
                }
            });
            for (ord, &bi) in v.iter().enumerate() {
                log.baskets[bi].time = ord as f64;
            }
        }
    }
    Ok((log, unknown))
}

/// Re-expresses `other`'s baskets in `base`'s user and item vocabularies
/// (items `base` lacks are dropped; new users are appended). Returns the
/// dropped item rows.
pub fn align(base: &mut BasketLog, other: &BasketLog) -> (Vec<Basket>, usize) {
    let items: HashMap<&str, u32> = base
        .items
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i as u32))
        .collect();
    let mut users: HashMap<String, u32> = base
        .users
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i as u32))
        .collect();
    let mut dropped = 0;
    let mut out = Vec::new();
    for b in &other.baskets {
        let name = &other.users[b.user as usize];
        let nu = users.len() as u32;
        let user = *users.entry(name.clone()).or_insert_with(|| {
            base.users.push(name.clone());
            nu
        });
        let mut its = Vec::new();
        for &i in &b.items {
            match items.get(other.items[i as usize].as_str()) {
                Some(&j) => its.push(j),
                None => dropped += 1,
            }
        }
        out.push(Basket {
            user,
            time: b.time,
            items: its,
        });
    }
    (out, dropped)
}

/// Ranking quality of one method on one task.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Scores {
    pub method: String,
    pub hr: f64,
    pub mrr: f64,
    pub recall: f64,
    pub ndcg: f64,
    pub precision: f64,
    pub f1: f64,
    pub n: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub task: String,
    pub k: usize,
    pub protocol: String,
    pub validation: Vec<Scores>,
    pub test: Vec<Scores>,
    /// Bought together only: the test repeated with other held-out items
    /// (seeds seed+1 …), so a lead can be told from the choice of item.
    pub test_other_holdouts: Vec<Vec<Scores>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub dataset: String,
    pub items: usize,
    pub train_baskets: usize,
    pub test_baskets: usize,
    pub test_items_unknown: usize,
    pub chosen: Chosen,
    pub bought_together: TaskReport,
    pub next_basket: TaskReport,
    pub grid: Vec<GridRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Chosen {
    pub min_support: u32,
    pub shrinkage: f32,
    pub lift: f32,
    pub half_life: f32,
    pub cadence_weight: f32,
    pub sigma: f32,
    pub repeat_power: f32,
    pub als_alpha: f32,
    pub trending_half_life: f32,
}

/// One validation run of the tuning grid (kept in the report so the choice can be checked).
#[derive(Debug, Clone, Serialize)]
pub struct GridRow {
    pub task: String,
    pub params: String,
    pub score: f64,
}

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub k: usize,
    pub seed: u64,
    pub factors: usize,
    pub iterations: usize,
    pub threads: usize,
    /// Smaller grids (tests): one value per parameter around the defaults.
    pub quick: bool,
    /// Bought together: score the test log again with this many other held-out items.
    pub extra_holdouts: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            k: 10,
            seed: 42,
            factors: 64,
            iterations: 15,
            threads: 2,
            quick: false,
            extra_holdouts: 4,
        }
    }
}

/// Everything one split needs: the fitted bundle (ALS factors + placement
/// sections), raw pair counts for the baselines, and popularity.
struct Fitted {
    model: Model,
    n: usize,
    pop: Vec<f32>,
    /// Sparse pair counts, both directions: row y -> (x, c(XY)).
    pairs: Vec<Vec<(u32, u32)>>,
    count: Vec<u32>,
    items: Vec<f32>,
    dim: usize,
    yty: Vec<f32>,
    lambda: f32,
    alpha: f32,
}

fn fit(
    n: usize,
    baskets: &[Basket],
    o: &EvalOptions,
    alpha: f32,
    unit: TimeUnit,
) -> Result<Fitted, String> {
    let bo = BuildOptions {
        unit,
        trending_half_life: 4.0,
        ..Default::default()
    };
    let parts = build::parts(n, baskets, &bo);
    // Every pair, unpruned, for the count-based baselines.
    let full = build::co_purchase(
        n,
        baskets,
        &BuildOptions {
            max_partners: usize::MAX,
            ..bo
        },
    );
    let pairs: Vec<Vec<(u32, u32)>> = (0..n)
        .map(|y| {
            (full.offsets[y] as usize..full.offsets[y + 1] as usize)
                .map(|j| (full.partners[j], full.co_count[j]))
                .collect()
        })
        .collect();
    let count = full.basket_count.clone();
    // ALS on user × item purchase counts.
    let n_users = baskets
        .iter()
        .map(|b| b.user as usize + 1)
        .max()
        .unwrap_or(0);
    let mut ui: HashMap<(u32, u32), f32> = HashMap::new();
    for b in baskets {
        for &i in &b.items {
            *ui.entry((b.user, i)).or_insert(0.0) += 1.0;
        }
    }
    let mut t: Vec<(u32, u32, f32)> = ui.into_iter().map(|((u, i), c)| (u, i, c)).collect();
    t.sort_unstable_by_key(|x| (x.0, x.1));
    let csr = Csr::from_triplets(n_users, n, &t);
    let params = AlsParams {
        factors: o.factors,
        iterations: o.iterations,
        alpha,
        lambda: 0.1,
        seed: o.seed,
        threads: o.threads,
        ..Default::default()
    };
    let als = als::train(&csr, &params, |_| {}).map_err(|e| e.to_string())?;
    let dim = o.factors;
    let items: Vec<f32> = als.item_factors.iter().copied().collect();
    let yty: Vec<f32> = als::gram(&als.item_factors).iter().copied().collect();
    let pop: Vec<f32> = count.iter().map(|&c| c as f32).collect();
    let bp = BundleParts {
        ids: (0..n).map(|i| format!("{i}")).collect(),
        dim,
        factors: items.clone(),
        popularity: Some(pop.clone()),
        gram: Some(Gram {
            yty: yty.clone(),
            lambda: params.lambda,
            alpha,
        }),
        ..Default::default()
    };
    let bytes = write_bundle(&bp, Dtype::F32).map_err(|e| e.to_string())?;
    let bytes = add_sections(&bytes, &parts).map_err(|e| e.to_string())?;
    let model = Model::from_bytes(&bytes).map_err(|e| e.to_string())?;
    Ok(Fitted {
        model,
        n,
        pop,
        pairs,
        count,
        items,
        dim,
        yty,
        lambda: params.lambda,
        alpha,
    })
}

/// Top k of dense `scores`, skipping `exclude`; popularity breaks ties so
/// every method returns k items.
fn top_dense(scores: &[f32], pop: &[f32], exclude: &[u32], k: usize) -> Vec<u32> {
    let maxp = pop.iter().copied().fold(1.0f32, f32::max);
    let mut top = TopK::new(k);
    for (i, &s) in scores.iter().enumerate() {
        if exclude.contains(&(i as u32)) {
            continue;
        }
        top.push(i as u32, s + 1e-6 * pop[i] / maxp);
    }
    top.into_sorted().into_iter().map(|s| s.index).collect()
}

/// SplitMix64 hash: the held-out item of each basket, reproducibly.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// (query, held-out) pairs: one item out of each basket with ≥ 2 distinct items.
fn holdouts(baskets: &[Basket], seed: u64) -> Vec<(Vec<u32>, u32)> {
    let mut out = Vec::new();
    for (bi, b) in baskets.iter().enumerate() {
        let mut items = b.items.clone();
        items.sort_unstable();
        items.dedup();
        if items.len() < 2 {
            continue;
        }
        let h = (mix(seed ^ (bi as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)) % items.len() as u64)
            as usize;
        let held = items.remove(h);
        out.push((items, held));
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum BtMethod {
    Vitrine(CoParams),
    Cooc,
    Cosine,
    Als,
    Popular,
}

impl BtMethod {
    fn name(&self) -> String {
        match self {
            BtMethod::Vitrine(_) => "vitrine bought together (Bayes, relaxed)".into(),
            BtMethod::Cooc => "raw co-occurrence".into(),
            BtMethod::Cosine => "item-kNN cosine".into(),
            BtMethod::Als => "ALS scorer (fold-in)".into(),
            BtMethod::Popular => "popularity".into(),
        }
    }
}

fn predict_bt(f: &Fitted, m: BtMethod, query: &[u32], k: usize) -> Result<Vec<u32>, String> {
    let n = f.n;
    match m {
        BtMethod::Vitrine(p) => {
            let o = PlacementOptions {
                k,
                ..Default::default()
            };
            let r = bought_together(&f.model, query, Mode::Relaxed, &p, &o)
                .map_err(|e| e.to_string())?;
            Ok(r.into_iter().map(|x| x.index).collect())
        }
        BtMethod::Cooc | BtMethod::Cosine => {
            let mut s = vec![0f32; n];
            for &y in query {
                for &(x, c) in &f.pairs[y as usize] {
                    s[x as usize] += match m {
                        BtMethod::Cooc => c as f32,
                        _ => {
                            c as f32
                                / ((f.count[x as usize] as f32) * (f.count[y as usize] as f32))
                                    .sqrt()
                                    .max(1.0)
                        }
                    };
                }
            }
            Ok(top_dense(&s, &f.pop, query, k))
        }
        BtMethod::Als => {
            let items =
                ndarray::ArrayView2::from_shape((n, f.dim), &f.items).map_err(|e| e.to_string())?;
            let seen: Vec<(u32, f32)> = query.iter().map(|&i| (i, 1.0)).collect();
            let u = als::fold_in(items, &f.yty, f.lambda, f.alpha, &seen);
            let s: Vec<f32> = f
                .items
                .chunks_exact(f.dim)
                .map(|row| row.iter().zip(&u).map(|(a, b)| a * b).sum())
                .collect();
            Ok(top_dense(&s, &f.pop, query, k))
        }
        BtMethod::Popular => Ok(top_dense(&vec![0.0; n], &f.pop, query, k)),
    }
}

fn score_bt(
    f: &Fitted,
    m: BtMethod,
    cases: &[(Vec<u32>, u32)],
    k: usize,
) -> Result<Scores, String> {
    let (mut hr, mut mrr) = (0f64, 0f64);
    for (q, held) in cases {
        let top = predict_bt(f, m, q, k)?;
        if let Some(r) = top.iter().position(|x| x == held) {
            hr += 1.0;
            mrr += 1.0 / (r as f64 + 1.0);
        }
    }
    let n = cases.len().max(1) as f64;
    let (hr, mrr) = (hr / n, mrr / n);
    let precision = hr / k as f64;
    Ok(Scores {
        method: m.name(),
        hr,
        mrr,
        recall: hr,
        ndcg: 0.0,
        precision,
        f1: f1(precision, hr),
        n: cases.len(),
    })
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

#[derive(Clone, Copy, Debug)]
enum NbMethod {
    Vitrine(CadenceParams),
    PersonalPopular,
    Popular,
}

impl NbMethod {
    fn name(&self) -> String {
        match self {
            NbMethod::Vitrine(_) => "vitrine buy it again (cadence)".into(),
            NbMethod::PersonalPopular => "personal popularity".into(),
            NbMethod::Popular => "global popularity".into(),
        }
    }
}

/// Per user: (history baskets oldest first, next basket).
type NbCase = (Vec<Basket>, Vec<u32>);

const DAY: f64 = 86_400_000.0;

fn predict_nb(f: &Fitted, m: NbMethod, hist: &[Basket], k: usize) -> Result<Vec<u32>, String> {
    match m {
        NbMethod::Vitrine(p) => {
            // The shopper's purchases as the browser would hold them: one
            // event per item per basket, baskets a day apart.
            let events: Vec<Event> = hist
                .iter()
                .enumerate()
                .flat_map(|(bi, b)| {
                    b.items.iter().map(move |&i| Event {
                        kind: EventKind::Purchase,
                        item: i,
                        ts: bi as f64 * DAY,
                    })
                })
                .collect();
            let o = PlacementOptions {
                k,
                now_ms: hist.len() as f64 * DAY,
                ..Default::default()
            };
            let r = buy_again(&f.model, &events, &p, &o).map_err(|e| e.to_string())?;
            Ok(r.into_iter().map(|x| x.index).collect())
        }
        NbMethod::PersonalPopular => {
            let mut s = vec![0f32; f.n];
            let total = hist.len().max(1) as f32;
            for (bi, b) in hist.iter().enumerate() {
                let mut its = b.items.clone();
                its.sort_unstable();
                its.dedup();
                for i in its {
                    // Count first; the most recent purchase breaks ties.
                    s[i as usize] += 1.0 + 1e-3 * (bi as f32 + 1.0) / total;
                }
            }
            Ok(top_dense(&s, &f.pop, &[], k))
        }
        NbMethod::Popular => Ok(top_dense(&vec![0.0; f.n], &f.pop, &[], k)),
    }
}

fn score_nb(f: &Fitted, m: NbMethod, cases: &[NbCase], k: usize) -> Result<Scores, String> {
    let (mut rec, mut ndcg, mut prec) = (0f64, 0f64, 0f64);
    let mut n = 0usize;
    for (hist, target) in cases {
        let mut t = target.clone();
        t.sort_unstable();
        t.dedup();
        if t.is_empty() {
            continue;
        }
        n += 1;
        let top = predict_nb(f, m, hist, k)?;
        let hits: Vec<bool> = top.iter().map(|x| t.binary_search(x).is_ok()).collect();
        let h = hits.iter().filter(|&&b| b).count() as f64;
        rec += h / t.len() as f64;
        prec += h / k as f64;
        let dcg: f64 = hits
            .iter()
            .enumerate()
            .filter(|(_, &b)| b)
            .map(|(r, _)| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let idcg: f64 = (0..t.len().min(k))
            .map(|r| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        ndcg += dcg / idcg;
    }
    let d = n.max(1) as f64;
    let (recall, ndcg, precision) = (rec / d, ndcg / d, prec / d);
    Ok(Scores {
        method: m.name(),
        hr: 0.0,
        mrr: 0.0,
        recall,
        ndcg,
        precision,
        f1: f1(precision, recall),
        n,
    })
}

/// Each user's baskets in time order.
fn by_user(baskets: &[Basket]) -> HashMap<u32, Vec<Basket>> {
    let mut m: HashMap<u32, Vec<Basket>> = HashMap::new();
    for b in baskets {
        m.entry(b.user).or_default().push(b.clone());
    }
    for v in m.values_mut() {
        v.sort_by(|a, b| {
            a.time
                .partial_cmp(&b.time)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    m
}

/// Fitting baskets, validation targets (each user's last training basket)
/// and next-basket cases for the validation phase.
fn carve(train: &[Basket]) -> (Vec<Basket>, Vec<Basket>, Vec<NbCase>) {
    let mut fit = Vec::new();
    let mut val = Vec::new();
    let mut cases = Vec::new();
    let mut users: Vec<(u32, Vec<Basket>)> = by_user(train).into_iter().collect();
    users.sort_unstable_by_key(|(u, _)| *u);
    for (_, mut v) in users {
        if v.len() >= 2 {
            let last = v.pop().expect("len ≥ 2");
            cases.push((v.clone(), last.items.clone()));
            val.push(last);
        }
        fit.extend(v);
    }
    (fit, val, cases)
}

fn best<T: Copy>(
    rows: &mut Vec<GridRow>,
    task: &str,
    cands: Vec<(String, T)>,
    mut eval: impl FnMut(T) -> Result<f64, String>,
) -> Result<T, String> {
    let mut best: Option<(f64, T)> = None;
    for (name, c) in cands {
        let s = eval(c)?;
        rows.push(GridRow {
            task: task.into(),
            params: name,
            score: s,
        });
        if best.as_ref().is_none_or(|(b, _)| s > *b) {
            best = Some((s, c));
        }
    }
    best.map(|(_, c)| c).ok_or_else(|| "empty grid".to_string())
}

/// The whole evaluation: tune on a split of `train`, report on `test` once.
pub fn run(
    train: &BasketLog,
    test: &BasketLog,
    dataset: &str,
    o: &EvalOptions,
) -> Result<Report, String> {
    let mut vocab = train.clone();
    let (test_baskets, unknown) = align(&mut vocab, test);
    let n = vocab.items.len();
    let unit = train.unit.unwrap_or(TimeUnit::Baskets);
    let k = o.k;
    let mut grid = Vec::new();

    // ---- validation: fit on the earlier training baskets -------------------
    let (fit_b, val_b, val_nb) = carve(&train.baskets);
    let val_bt = holdouts(&val_b, o.seed);
    let alphas: Vec<f32> = if o.quick {
        vec![5.0]
    } else {
        vec![1.0, 5.0, 20.0]
    };
    let mut fitted: Vec<(f32, Fitted)> = Vec::new();
    for &a in &alphas {
        fitted.push((a, fit(n, &fit_b, o, a, unit)?));
    }
    let als_alpha = best(
        &mut grid,
        "bought_together/als",
        alphas.iter().map(|&a| (format!("alpha={a}"), a)).collect(),
        |a| {
            let f = &fitted.iter().find(|(x, _)| *x == a).expect("fitted").1;
            let s = score_bt(f, BtMethod::Als, &val_bt, k)?;
            Ok(s.hr + s.mrr)
        },
    )?;
    let fv = &fitted
        .iter()
        .find(|(x, _)| *x == als_alpha)
        .expect("fitted")
        .1;
    let supports: &[u32] = if o.quick { &[1] } else { &[1, 2, 3] };
    let shrinks: &[f32] = if o.quick {
        &[5.0]
    } else {
        &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
    };
    let lifts: &[f32] = if o.quick {
        &[0.25]
    } else {
        &[0.0, 0.25, 0.5, 0.75, 1.0]
    };
    let mut cands = Vec::new();
    for &min_support in supports {
        for &shrinkage in shrinks {
            for &lift in lifts {
                let p = CoParams {
                    min_support,
                    shrinkage,
                    lift,
                };
                cands.push((
                    format!("min_support={min_support} shrinkage={shrinkage} lift={lift}"),
                    p,
                ));
            }
        }
    }
    let co = best(&mut grid, "bought_together/vitrine", cands, |p| {
        let s = score_bt(fv, BtMethod::Vitrine(p), &val_bt, k)?;
        Ok(s.hr + s.mrr)
    })?;
    let halves: &[f32] = if o.quick {
        &[8.0]
    } else {
        &[0.0, 2.0, 4.0, 8.0, 16.0]
    };
    let weights: &[f32] = if o.quick {
        &[0.25]
    } else {
        &[0.0, 0.25, 0.5, 0.75]
    };
    let sigmas: &[f32] = if o.quick { &[1.0] } else { &[0.5, 1.0, 2.0] };
    let powers: &[f32] = if o.quick { &[0.5] } else { &[0.0, 0.5, 1.0] };
    let mut cands = Vec::new();
    for &half_life in halves {
        for &cadence_weight in weights {
            for &sigma in sigmas {
                for &repeat_power in powers {
                    let p = CadenceParams {
                        half_life,
                        cadence_weight,
                        sigma,
                        repeat_power,
                        co,
                        ..Default::default()
                    };
                    cands.push((
                        format!("half_life={half_life} cadence_weight={cadence_weight} sigma={sigma} repeat_power={repeat_power}"),
                        p,
                    ));
                }
            }
        }
    }
    let cad = best(&mut grid, "next_basket/vitrine", cands, |p| {
        Ok(score_nb(fv, NbMethod::Vitrine(p), &val_nb, k)?.ndcg)
    })?;

    let bt_methods = [
        BtMethod::Vitrine(co),
        BtMethod::Cooc,
        BtMethod::Cosine,
        BtMethod::Als,
        BtMethod::Popular,
    ];
    let nb_methods = [
        NbMethod::Vitrine(cad),
        NbMethod::PersonalPopular,
        NbMethod::Popular,
    ];
    let val_bt_scores = bt_methods
        .iter()
        .map(|&m| score_bt(fv, m, &val_bt, k))
        .collect::<Result<Vec<_>, _>>()?;
    let val_nb_scores = nb_methods
        .iter()
        .map(|&m| score_nb(fv, m, &val_nb, k))
        .collect::<Result<Vec<_>, _>>()?;
    drop(fitted);

    // ---- test: fit on all of train, score the test log once -----------------
    let ft = fit(n, &train.baskets, o, als_alpha, unit)?;
    let test_bt = holdouts(&test_baskets, o.seed);
    let hist = by_user(&train.baskets);
    let mut test_nb: Vec<NbCase> = Vec::new();
    let mut tb: Vec<&Basket> = test_baskets.iter().collect();
    tb.sort_by_key(|b| b.user);
    let mut done = std::collections::HashSet::new();
    for b in tb {
        // The user's first test basket is their "next" one.
        if let Some(h) = hist.get(&b.user) {
            if done.insert(b.user) {
                // Test items unknown to training were dropped by `align`
                // (nobody can predict them); the report counts them.
                test_nb.push((h.clone(), b.items.clone()));
            }
        }
    }
    let test_bt_scores = bt_methods
        .iter()
        .map(|&m| score_bt(&ft, m, &test_bt, k))
        .collect::<Result<Vec<_>, _>>()?;
    let mut other = Vec::new();
    for extra in 1..=o.extra_holdouts as u64 {
        let cases = holdouts(&test_baskets, o.seed.wrapping_add(extra));
        other.push(
            bt_methods
                .iter()
                .map(|&m| score_bt(&ft, m, &cases, k))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let test_nb_scores = nb_methods
        .iter()
        .map(|&m| score_nb(&ft, m, &test_nb, k))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Report {
        dataset: dataset.into(),
        items: n,
        train_baskets: train.baskets.len(),
        test_baskets: test_baskets.len(),
        test_items_unknown: unknown,
        chosen: Chosen {
            min_support: co.min_support,
            shrinkage: co.shrinkage,
            lift: co.lift,
            half_life: cad.half_life,
            cadence_weight: cad.cadence_weight,
            sigma: cad.sigma,
            repeat_power: cad.repeat_power,
            als_alpha,
            trending_half_life: 4.0,
        },
        bought_together: TaskReport {
            task: "bought together".into(),
            k,
            protocol:
                "one item held out of each basket with ≥ 2 known items, predicted from the rest"
                    .into(),
            validation: val_bt_scores,
            test: test_bt_scores,
            test_other_holdouts: other,
        },
        next_basket: TaskReport {
            task: "next basket".into(),
            k,
            protocol: "each user's next basket predicted from all earlier baskets".into(),
            validation: val_nb_scores,
            test: test_nb_scores,
            test_other_holdouts: Vec::new(),
        },
        grid,
    })
}
