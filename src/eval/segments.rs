//! Behaviour segments offline: fit on basket logs (Ta-Feng layout,
//! tab-separated `user_id basket_id item_id` with that header, basket ids in
//! each user's time order), then stability: each user's first and second
//! half of baskets should land in the same segment.

use super::EvalError;
use crate::shopper::segments::{
    behaviour, fit_behaviour, visits, BehaviourSegments, Catalogue, B, BEHAVIOUR,
};
use crate::shopper::{Event, EventKind};
use std::collections::HashMap;

const DAY: f64 = 86_400_000.0;

/// The end-of-file verdict on a log's malformed rows, as the eval error every
/// reader here returns (`TOO_MANY_BAD_LINES` naming the file).
fn too_many_bad(
    bad: &crate::table::BadRows,
    what: &str,
    path: impl Into<String>,
) -> Result<(), EvalError> {
    match bad.check(what) {
        Ok(()) => Ok(()),
        Err(_) => Err(EvalError::TooManyBadLines {
            path: path.into(),
            bad: bad.bad,
            total: bad.rows,
            max_share: bad.max_share,
            first: bad.first.clone(),
        }),
    }
}

/// A log through the CLI's one table reader; what it cannot open (an
/// encoding, an unterminated quote) is a layout error naming the file.
fn open_log<'a>(
    bytes: &'a [u8],
    what: &str,
    path: &str,
) -> Result<crate::table::Table<'a>, EvalError> {
    let opts = crate::table::TableOptions {
        what: format!("{what} {path}"),
        ..Default::default()
    };
    crate::table::Table::open(bytes, &opts).map_err(|e| EvalError::BadLayout {
        path: path.into(),
        detail: e.to_string(),
    })
}

/// Per user: (basket ordinal, item index), file order. Read through the
/// CLI's one table reader, so a basket log may be comma- or tab-separated,
/// quoted, UTF-16 or Latin-1 like every other log the CLI takes. Columns are
/// found by name (`user_id` or `customer_id`, `basket_id`, `item_id` or
/// `product_id`); basket ids are whole numbers in each user's time order,
/// read as day numbers by the visit features (Ta-Feng's processed layout).
pub fn parse_baskets(
    bytes: &[u8],
    path: &str,
    max_bad_share: f64,
) -> Result<Vec<Vec<(u32, u32)>>, EvalError> {
    use crate::table::BadRows;
    let layout = |detail: String| EvalError::BadLayout {
        path: path.into(),
        detail,
    };
    let t = open_log(bytes, "basket log", path)?;
    let need = |names: &[&str]| {
        names.iter().find_map(|n| t.find(n)).ok_or_else(|| {
            layout(format!(
                "needs a header naming user_id, basket_id and item_id (no {} column); found {:?}",
                names.first().copied().unwrap_or("?"),
                t.header().unwrap_or(&[])
            ))
        })
    };
    let cu = need(&["user_id", "customer_id"])?;
    let cb = need(&["basket_id"])?;
    let ci = need(&["item_id", "product_id"])?;
    let mut users: Vec<Vec<(u32, u32)>> = Vec::new();
    let mut uix: HashMap<String, usize> = HashMap::new();
    let mut iix: HashMap<String, u32> = HashMap::new();
    let mut bad = BadRows::new(max_bad_share, false);
    for rec in t.records() {
        let rec = rec.map_err(|e| layout(e.to_string()))?;
        bad.rows += 1;
        let f = |c: usize| rec.field(c);
        let parsed = (|| {
            let needs = "needs a user, a whole-number basket id and an item";
            let u = f(cu).ok_or(needs)?;
            let b = f(cb).and_then(|b| b.parse::<u32>().ok()).ok_or(needs)?;
            let i = f(ci).ok_or(needs)?;
            Ok::<_, &str>((u, b, i))
        })();
        let (u, b, i) = match parsed {
            Ok(p) => p,
            Err(reason) => {
                bad.bad(rec.line, reason.to_string())
                    .map_err(|e| layout(e.to_string()))?;
                continue;
            }
        };
        let n = u32::try_from(iix.len()).map_err(|_| layout("more than 2^32 items".into()))?;
        let item = *iix.entry(i.to_string()).or_insert(n);
        let k = *uix.entry(u.to_string()).or_insert_with(|| {
            users.push(Vec::new());
            users.len() - 1
        });
        users[k].push((b, item));
    }
    too_many_bad(&bad, "basket log", path)?;
    if users.is_empty() {
        return Err(EvalError::Empty {
            what: format!("{path}: no basket rows"),
        });
    }
    Ok(users)
}

fn events(rows: &[(u32, u32)]) -> Vec<Event> {
    let mut e: Vec<Event> = rows
        .iter()
        .map(|&(b, item)| Event {
            kind: EventKind::Purchase,
            item,
            ts: b as f64 * DAY,
        })
        .collect();
    e.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    e
}

/// The features a basket log without dates, prices or categories measures:
/// basket size and repeat rate. Basket ordinals are not dates (every user's
/// baskets are numbered 0, 1, 2, …), so recency and frequency computed from
/// them would only restate how many baskets a user has.
pub const BASKET_LOG_FEATURES: [&str; 2] = ["basket_size", "repeat_rate"];

/// Pearson correlation of finite pairs; `None` under 3 pairs or no spread.
fn pearson(xy: &[(f32, f32)]) -> Option<f64> {
    let v: Vec<(f64, f64)> = xy
        .iter()
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|&(a, b)| (f64::from(a), f64::from(b)))
        .collect();
    if v.len() < 3 {
        return None;
    }
    let n = v.len() as f64;
    let (mx, my) = (
        v.iter().map(|p| p.0).sum::<f64>() / n,
        v.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = v.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = v.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let syy: f64 = v.iter().map(|p| (p.1 - my).powi(2)).sum();
    let d = (sxx * syy).sqrt();
    (d > 0.0).then(|| sxy / d)
}

/// One stability protocol: which features count (the others are set to
/// NaN, i.e. the population mean) and how "now" is chosen.
struct Protocol {
    name: &'static str,
    features: Vec<usize>,
    /// true: each history as of the day after its own last basket; false:
    /// whole histories as of the log's end.
    own_end: bool,
    note: &'static str,
}

fn masked(f: [f32; B], keep: &[usize]) -> [f32; B] {
    std::array::from_fn(|j| if keep.contains(&j) { f[j] } else { f32::NAN })
}

fn as_of(h: &[(u32, u32)]) -> f64 {
    h.iter()
        .map(|x| x.0)
        .max()
        .map_or(0.0, |m| (m as f64 + 1.0) * DAY)
}

/// Fits segments on every user's whole history (features per `p`) and
/// measures stability on users with at least `min_baskets` baskets: their
/// baskets split at the median basket, each half's features through the
/// same function, both halves assigned to the fitted segments.
fn protocol(
    users: &[Vec<(u32, u32)>],
    p: &Protocol,
    k: Option<usize>,
    min_baskets: usize,
    seed: u64,
) -> Result<(serde_json::Value, BehaviourSegments), EvalError> {
    let cat = Catalogue::new(None, None);
    let end = users
        .iter()
        .flatten()
        .map(|x| x.0)
        .max()
        .map_or(0.0, |b| (b as f64 + 1.0) * DAY);
    let gap = DAY / 2.0;
    let feats = |h: &[(u32, u32)], now: f64| {
        behaviour(&events(h), &cat, now, gap)
            .ok()
            .map(|f| masked(f, &p.features))
    };
    let rows: Vec<_> = users
        .iter()
        .filter_map(|u| feats(u, if p.own_end { as_of(u) } else { end }))
        .collect();
    let seg = fit_behaviour(&rows, k, seed).ok_or_else(|| EvalError::Empty {
        what: "fewer than 2 users".into(),
    })?;
    let kk = seg.centroids.len();
    let (mut same, mut n) = (0usize, 0usize);
    // Where the halves land: a stability of 1 with every half in one
    // segment would say nothing.
    let mut landed = vec![0usize; kk];
    let mut pairs: Vec<([f32; B], [f32; B])> = Vec::new();
    for u in users {
        let mut baskets: Vec<u32> = u.iter().map(|x| x.0).collect();
        baskets.sort_unstable();
        baskets.dedup();
        if baskets.len() < min_baskets.max(2) {
            continue;
        }
        let cut = baskets[baskets.len() / 2];
        let a: Vec<(u32, u32)> = u.iter().copied().filter(|x| x.0 < cut).collect();
        let b: Vec<(u32, u32)> = u.iter().copied().filter(|x| x.0 >= cut).collect();
        let (fa, fb) = if p.own_end {
            (feats(&a, as_of(&a)), feats(&b, as_of(&b)))
        } else {
            // The first half as of the second half's start, the second as of the log's end.
            (feats(&a, (cut as f64) * DAY), feats(&b, end))
        };
        if let (Some(fa), Some(fb)) = (fa, fb) {
            pairs.push((fa, fb));
            if let (Some(x), Some(y)) = (seg.assign(&fa), seg.assign(&fb)) {
                n += 1;
                same += usize::from(x.id == y.id);
                landed[x.id] += 1;
                landed[y.id] += 1;
            }
        }
    }
    // How alike a user's two halves are, feature by feature (Pearson r):
    // the ceiling any hard segmentation of these features works under.
    let correlation: serde_json::Map<String, serde_json::Value> = p
        .features
        .iter()
        .map(|&j| {
            let r = pearson(&pairs.iter().map(|(a, b)| (a[j], b[j])).collect::<Vec<_>>());
            (
                BEHAVIOUR[j].to_string(),
                r.map_or(serde_json::Value::Null, |r| serde_json::json!(r)),
            )
        })
        .collect();
    let halves: usize = landed.iter().sum();
    // Share that the same assignment would reach by chance: Σ_c p_c², p_c
    // the share of halves in segment c.
    let chance: f64 = landed
        .iter()
        .map(|&c| (c as f64 / halves.max(1) as f64).powi(2))
        .sum();
    let table: Vec<serde_json::Value> = (0..kk)
        .map(|c| {
            let means: serde_json::Map<String, serde_json::Value> = BEHAVIOUR
                .iter()
                .zip(seg.feature_means[c])
                .map(|(name, v)| {
                    let v = if v.is_finite() {
                        serde_json::json!(v)
                    } else {
                        serde_json::Value::Null
                    };
                    (name.to_string(), v)
                })
                .collect();
            serde_json::json!({"id": c, "label": seg.labels[c], "users": seg.sizes[c], "feature_means": means})
        })
        .collect();
    let used: Vec<&str> = p.features.iter().map(|&j| BEHAVIOUR[j]).collect();
    let out = serde_json::json!({
        "protocol": p.name,
        "note": p.note,
        "features_used": used,
        "users": rows.len(),
        "k": kk,
        "k_chosen_by": if k.is_some() { "flag" } else { "mean silhouette over 2..=6" },
        "segments": table,
        "stability": {
            "users_with_enough_baskets": n,
            "min_baskets": min_baskets,
            "same_segment_share": if n > 0 { same as f64 / n as f64 } else { 0.0 },
            "same_segment_by_chance": chance,
            "halves_feature_correlation": correlation,
            "halves_per_segment": landed,
            "degenerate_all_halves_in_one_segment": landed.iter().filter(|&&c| c > 0).count() < 2,
        },
    });
    Ok((out, seg))
}

/// Behaviour segments of a basket log (Ta-Feng layout) and their stability
/// under two protocols. The headline one clusters the features the log
/// measures ([`BASKET_LOG_FEATURES`]); the second treats basket ordinals as
/// days, as the log's only clock, and is reported for comparison. Returns
/// the JSON report and the headline segments.
pub fn run(
    users: &[Vec<(u32, u32)>],
    k: Option<usize>,
    min_baskets: usize,
    seed: u64,
) -> Result<(serde_json::Value, BehaviourSegments), EvalError> {
    let idx = |n: &str| BEHAVIOUR.iter().position(|b| *b == n).unwrap_or(0);
    let habits = Protocol {
        name: "habits",
        features: BASKET_LOG_FEATURES.iter().map(|n| idx(n)).collect(),
        own_end: true,
        note: "the features this log measures (no dates, prices or categories): basket size and repeat rate; each half of a user's baskets through the same feature function",
    };
    let ordinal = Protocol {
        name: "ordinal_days",
        features: ["recency_days", "frequency", "basket_size", "repeat_rate"]
            .iter()
            .map(|n| idx(n))
            .collect(),
        own_end: false,
        note: "basket ordinals taken as days (the log's only clock); segments fitted as of the log's end; the first half scored as of the second half's start, the second as of the log's end",
    };
    let (main, seg) = protocol(users, &habits, k, min_baskets, seed)?;
    let (other, _) = protocol(users, &ordinal, k, min_baskets, seed)?;
    // Finer segments split a continuum at more boundaries: stability at
    // every k, so a merchant sees what a coarser choice would buy.
    let mut by_k = Vec::new();
    for kk in 2..=6 {
        let (j, _) = protocol(users, &habits, Some(kk), min_baskets, seed)?;
        by_k.push(serde_json::json!({
            "k": kk,
            "same_segment_share": j["stability"]["same_segment_share"],
            "same_segment_by_chance": j["stability"]["same_segment_by_chance"],
            "labels": j["segments"].as_array().map(|a| a.iter().map(|s| s["label"].clone()).collect::<Vec<_>>()),
        }));
    }
    let out = serde_json::json!({
        "users": main["users"],
        "k": main["k"],
        "k_chosen_by": main["k_chosen_by"],
        "features_used": main["features_used"],
        "features_note": "feature means are raw: recency_days, frequency and basket_size as ln(1+x); a feature is null where the protocol does not use it (the log has no dates, prices or categories)",
        "segments": main["segments"],
        "stability": main["stability"],
        "stability_by_k": by_k,
        "protocols": [main, other],
        "split": "each user's baskets split at the median basket (users with at least min_baskets baskets)",
    });
    Ok((out, seg))
}

/// A raw event log read for behaviour segments: per user, time-sorted
/// events over the bundle's item indices.
#[derive(Debug, Default)]
pub struct EventLog {
    pub histories: Vec<Vec<Event>>,
    /// The log's last event time (ms): "now" for the export's features.
    pub end_ms: f64,
    pub rows: usize,
    /// Rows whose item the bundle does not have (dropped: the device cannot
    /// track them either).
    pub unknown_items: usize,
    pub bad_rows: usize,
    /// How the timestamp column was read (ISO-8601, or the unit of its
    /// numbers and why), for the run's summary: a wrong guess shows.
    pub times: String,
}

/// Which columns of an event log hold what (`--user-col` and friends): a
/// header name or a 0-based index each; `None` takes the usual names.
/// `type_col` may be `none`: every row is a purchase (an order export).
#[derive(Debug, Clone, Default)]
pub struct EventLogColumns {
    pub user: Option<String>,
    pub item: Option<String>,
    pub time: Option<String>,
    pub kind: Option<String>,
    /// What the command's flags start with (`behaviour-` for `vitrine
    /// export`), for errors that name the flag to use.
    pub flag_prefix: &'static str,
}

/// Event type words of common logs, mapped to the device's kinds
/// (RetailRocket says `addtocart` / `transaction`).
fn event_kind(s: &str) -> Option<EventKind> {
    let t = s.trim().to_ascii_lowercase();
    EventKind::parse(&t).or(match t.as_str() {
        "addtocart" | "add_to_cart" => Some(EventKind::Cart),
        "transaction" | "buy" | "order" => Some(EventKind::Purchase),
        _ => None,
    })
}

/// Reads a CSV/TSV event log with a header naming `user_id`, `item_id`,
/// `timestamp` and optionally `type` (view / cart / purchase / search;
/// without it every row is a purchase), or the columns `cols` names (a
/// store's own export: `Email`, `Lineitem sku`, `Created at`). Timestamps are read as the
/// trainer reads its log's (`--time-unit`: ISO-8601, or numbers in one unit
/// for the whole column, by default decided from their magnitude), since the
/// device's 30-minute session gap and recency are durations: a millisecond
/// log read as seconds would make every visit 1000 times longer. `ids` are
/// the bundle's item ids: the features are computed over the same item
/// indices the device resolves.
pub fn read_event_log(
    path: &std::path::Path,
    ids: &[String],
    cols: &EventLogColumns,
    time_spec: crate::train::values::TimeSpec,
    max_bad_share: f64,
) -> Result<EventLog, EvalError> {
    use crate::table::BadRows;
    use crate::train::values::{decide_time_column, parse_raw_time};
    let shown = path.display().to_string();
    let bytes = crate::table::read_input(path).map_err(|e| EvalError::BadLayout {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    let layout = |detail: String| EvalError::BadLayout {
        path: shown.clone(),
        detail,
    };
    let t = open_log(&bytes, "event log", &shown)?;
    let flag = |name: &str| format!("{}{name}", cols.flag_prefix);
    let cu = t
        .require(
            cols.user.as_deref(),
            &flag("user-col"),
            &["user_id", "user", "visitorid", "customer_id"],
        )
        .map_err(layout)?;
    let ci = t
        .require(
            cols.item.as_deref(),
            &flag("item-col"),
            &["item_id", "item", "itemid", "product_id"],
        )
        .map_err(layout)?;
    let ct = t
        .require(
            cols.time.as_deref(),
            &flag("time-col"),
            &["timestamp", "ts", "time"],
        )
        .map_err(layout)?;
    let ck = match cols.kind.as_deref() {
        Some(n) if n.eq_ignore_ascii_case("none") => None,
        given => t
            .pick(given, &flag("type-col"), &["type", "event", "event_type"])
            .map_err(layout)?,
    };
    // One reading for the whole column (see the doc comment), decided in a
    // first pass over the timestamps alone.
    let mut times = decide_time_column(&t, ct, time_spec);
    let index: HashMap<&str, u32> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| Some((id.as_str(), u32::try_from(i).ok()?)))
        .collect();
    let mut users: HashMap<String, usize> = HashMap::new();
    let mut log = EventLog {
        end_ms: f64::NEG_INFINITY,
        ..Default::default()
    };
    let mut bad = BadRows::new(max_bad_share, false);
    for rec in t.records() {
        let rec = rec.map_err(|e| layout(e.to_string()))?;
        bad.rows += 1;
        log.rows += 1;
        let f = |c: usize| rec.field(c);
        let parsed = (|| {
            let needs = || "needs a user, an item, a timestamp and a known type".to_string();
            let user = f(cu).ok_or_else(needs)?;
            let item = f(ci).ok_or_else(needs)?;
            let text = f(ct).ok_or_else(needs)?;
            let secs = parse_raw_time(text).and_then(|raw| times.seconds(&raw, text))?;
            let kind = match ck {
                Some(c) => f(c).and_then(event_kind).ok_or_else(needs)?,
                None => EventKind::Purchase,
            };
            // |secs| ≤ 1e13 (values::MAX_ABS_SECONDS): exact in an f64 after × 1000.
            Ok::<_, String>((user, item, secs as f64 * 1000.0, kind))
        })();
        let (user, item, ts, kind) = match parsed {
            Ok(p) => p,
            Err(reason) => {
                bad.bad(rec.line, reason)
                    .map_err(|e| layout(e.to_string()))?;
                continue;
            }
        };
        let Some(&item) = index.get(item) else {
            log.unknown_items += 1;
            continue;
        };
        let u = *users.entry(user.to_string()).or_insert_with(|| {
            log.histories.push(Vec::new());
            log.histories.len() - 1
        });
        log.histories[u].push(Event { kind, item, ts });
        log.end_ms = log.end_ms.max(ts);
    }
    log.bad_rows = bad.bad;
    log.times = times.describe();
    too_many_bad(&bad, "event log", shown.as_str())?;
    for h in &mut log.histories {
        // Stable: same-time events keep file order, as on the device.
        h.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    }
    if log.histories.is_empty() {
        return Err(EvalError::Empty {
            what: format!(
                "{shown}: no event has an item of this bundle ({} rows with unknown items)",
                log.unknown_items
            ),
        });
    }
    Ok(log)
}

/// Behaviour segments for a bundle from an event log: the BEHAVIOUR
/// section's content and how many users it was fitted on. The catalogue is
/// the bundle's own prices (as the f32 the device reads) and categories.
/// Short histories are shrunk toward the average shopper by `shrink`
/// (visits), or by a prior strength estimated from the log itself when
/// `None` ([`estimate_shrink`]; 0 when the log has too few returning users
/// to measure it).
pub fn fit_log(
    log: &EventLog,
    prices: Option<&[f32]>,
    categories: Option<&[u32]>,
    gap_ms: f64,
    shrink: Option<f32>,
    k: Option<usize>,
    seed: u64,
) -> Result<(BehaviourSegments, usize), EvalError> {
    let cat = Catalogue::new(prices, categories);
    let shrink = shrink
        .filter(|m| m.is_finite() && *m >= 0.0)
        .unwrap_or_else(|| estimate_shrink(&log.histories, &cat, log.end_ms, gap_ms));
    // "Now" is the log's end: the export is the log's snapshot.
    crate::shopper::segments::fit_histories(
        &log.histories,
        &cat,
        log.end_ms,
        gap_ms,
        shrink,
        k,
        seed,
    )
    .ok_or_else(|| EvalError::Empty {
        what: "behaviour segments need at least 2 users with events".into(),
    })
}

// ---- the full Ta-Feng log --------------------------------------------------------

/// The original Ta-Feng log read as a device would see it: per customer,
/// one purchase event per line at the transaction date; per product, the
/// catalogue price (median unit price, SALES_PRICE / AMOUNT, over the log)
/// and category (PRODUCT_SUBCLASS).
#[derive(Debug, Default)]
pub struct FullLog {
    pub users: Vec<String>,
    pub histories: Vec<Vec<Event>>,
    pub prices: Vec<f32>,
    pub categories: Vec<u32>,
    pub end_ms: f64,
    pub rows: usize,
    pub bad_rows: usize,
}

/// `M/D/YYYY` (Ta-Feng's TRANSACTION_DT) or `YYYY-MM-DD` → ms since the epoch.
fn date_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let p: Vec<i64> = s
        .split(['/', '-'])
        .map(|x| x.trim().parse::<i64>().ok())
        .collect::<Option<_>>()?;
    let (y, m, d) = match (s.contains('/'), p.as_slice()) {
        (true, [m, d, y]) => (*y, *m, *d),
        (false, [y, m, d]) => (*y, *m, *d),
        _ => return None,
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1900..=2200).contains(&y) {
        return None;
    }
    Some(crate::train::values::days_from_civil(y, m, d) as f64 * DAY)
}

/// Whether a file's header is the original Ta-Feng log's.
pub fn is_full_tafeng(head: &[u8]) -> bool {
    // NULs dropped: a UTF-16 export's ASCII header reads the same.
    let line: Vec<u8> = (head.split(|&b| b == b'\n').next().unwrap_or(&[]).iter())
        .copied()
        .filter(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&line)
        .to_ascii_uppercase()
        .contains("TRANSACTION_DT")
}

/// Reads the original Ta-Feng CSV (TRANSACTION_DT, CUSTOMER_ID,
/// PRODUCT_SUBCLASS, PRODUCT_ID, AMOUNT, SALES_PRICE; other columns
/// ignored).
#[allow(
    clippy::cast_possible_truncation,
    reason = "prices narrowed to the f32 a bundle stores"
)]
pub fn read_full_tafeng(
    bytes: &[u8],
    path: &str,
    max_bad_share: f64,
) -> Result<FullLog, EvalError> {
    use crate::table::BadRows;
    let layout = |detail: String| EvalError::BadLayout {
        path: path.into(),
        detail,
    };
    let t = open_log(bytes, "Ta-Feng log", path)?;
    let cols: Option<Vec<usize>> = [
        "TRANSACTION_DT",
        "CUSTOMER_ID",
        "PRODUCT_SUBCLASS",
        "PRODUCT_ID",
        "AMOUNT",
        "SALES_PRICE",
    ]
    .iter()
    .map(|n| t.find(n))
    .collect();
    let Some(c) = cols else {
        return Err(layout(format!(
            "the header must name TRANSACTION_DT, CUSTOMER_ID, PRODUCT_SUBCLASS, PRODUCT_ID, AMOUNT and SALES_PRICE; found {:?}",
            t.header().unwrap_or(&[])
        )));
    };
    let mut log = FullLog {
        end_ms: f64::NEG_INFINITY,
        ..Default::default()
    };
    let mut uix: HashMap<String, usize> = HashMap::new();
    let mut iix: HashMap<String, u32> = HashMap::new();
    let mut cix: HashMap<String, u32> = HashMap::new();
    let mut unit: Vec<Vec<f32>> = Vec::new();
    let mut bad = BadRows::new(max_bad_share, false);
    for rec in t.records() {
        let rec = rec.map_err(|e| layout(e.to_string()))?;
        bad.rows += 1;
        log.rows += 1;
        let f = |i: usize| rec.field(c[i]);
        let parsed = (|| {
            let ts = date_ms(f(0)?)?;
            let user = f(1)?;
            let cat = f(2)?;
            let item = f(3)?;
            let amount = f(4)?.parse::<f64>().ok()?;
            let price = f(5)?.parse::<f64>().ok()?;
            (amount.is_finite() && price.is_finite())
                .then_some((ts, user, cat, item, amount, price))
        })();
        let Some((ts, user, cat, item, amount, price)) = parsed else {
            bad.bad(
                rec.line,
                "needs a M/D/YYYY date, a customer, a subclass, a product, a numeric amount and price".into(),
            )
            .map_err(|e| layout(e.to_string()))?;
            continue;
        };
        let ncat = u32::try_from(cix.len()).map_err(|_| layout("too many categories".into()))?;
        let cat = *cix.entry(cat.to_string()).or_insert(ncat);
        let nitem = u32::try_from(iix.len()).map_err(|_| layout("too many products".into()))?;
        let i = *iix.entry(item.to_string()).or_insert_with(|| {
            unit.push(Vec::new());
            log.categories.push(cat);
            nitem
        });
        if amount > 0.0 && price > 0.0 {
            unit[i as usize].push((price / amount) as f32);
        }
        let u = *uix.entry(user.to_string()).or_insert_with(|| {
            log.users.push(user.to_string());
            log.histories.push(Vec::new());
            log.histories.len() - 1
        });
        log.histories[u].push(Event {
            kind: EventKind::Purchase,
            item: i,
            ts,
        });
        log.end_ms = log.end_ms.max(ts);
    }
    log.bad_rows = bad.bad;
    too_many_bad(&bad, "Ta-Feng log", path)?;
    log.prices = unit
        .into_iter()
        .map(|mut v| {
            v.sort_by(f32::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f32::NAN)
        })
        .collect();
    for h in &mut log.histories {
        h.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    }
    if log.histories.is_empty() {
        return Err(EvalError::Empty {
            what: format!("{path}: no readable line"),
        });
    }
    Ok(log)
}

/// Whether a customer id tunes the method (else it only reports): FNV-1a
/// of the id through splitmix64's finaliser (FNV's own bits barely move
/// between ids that differ in their last digit), lowest bit.
fn tunes(s: &str) -> bool {
    let mut z = s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) & 1 == 0
}

/// One way of segmenting a full log: which features count and how strongly
/// short histories are shrunk.
#[derive(Clone, Debug)]
pub struct Variant {
    pub features: Vec<usize>,
    pub shrink: f32,
    pub k: Option<usize>,
}

/// Stability of one variant on one group of users.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stability {
    pub users: usize,
    pub same_segment_share: f64,
    pub same_segment_by_chance: f64,
    /// Cohen's kappa: agreement beyond chance, (p − p_e) / (1 − p_e).
    pub kappa: f64,
    pub halves_per_segment: Vec<usize>,
}

/// A user's history split at the median visit day: the days before it and
/// the days from it on. `None` under `min_visits` distinct days.
fn halves(h: &[Event], min_visits: usize) -> Option<(&[Event], &[Event])> {
    let mut days: Vec<f64> = h.iter().map(|e| (e.ts / DAY).floor()).collect();
    days.dedup();
    if days.len() < min_visits.max(2) {
        return None;
    }
    let cut = days[days.len() / 2] * DAY;
    let at = h.partition_point(|e| e.ts < cut);
    Some((&h[..at], &h[at..]))
}

/// A history's features and its number of visits.
type Seen = ([f32; B], f32);

struct Prepared {
    /// Whole-history features (as of the log's end) and visits, per user.
    whole: Vec<Option<Seen>>,
    /// Per user with enough visits: each half's features (each as of the
    /// day after its own last visit) and visits.
    split: Vec<Option<(Seen, Seen)>>,
    tune: Vec<bool>,
}

const GAP: f64 = DAY / 2.0;

fn prepare(log: &FullLog, min_visits: usize) -> Prepared {
    let cat = Catalogue::new(Some(&log.prices), Some(&log.categories));
    let tune = log.users.iter().map(|u| tunes(u)).collect();
    prepare_with(
        &log.histories,
        tune,
        &cat,
        log.end_ms + DAY,
        GAP,
        min_visits,
    )
}

/// Features of whole histories as of `end_ms` and of each half (as of the
/// day after its own last event), with visits cut at `gap_ms`.
fn prepare_with(
    histories: &[Vec<Event>],
    tune: Vec<bool>,
    cat: &Catalogue<'_>,
    end_ms: f64,
    gap_ms: f64,
    min_visits: usize,
) -> Prepared {
    let feats = |h: &[Event], now: f64| {
        let f = behaviour(h, cat, now, gap_ms).ok()?;
        Some((f, visits(h, gap_ms)))
    };
    let own_end = |h: &[Event]| h.last().map_or(0.0, |e| (e.ts / DAY).floor() * DAY + DAY);
    let whole = histories.iter().map(|h| feats(h, end_ms)).collect();
    let split = histories
        .iter()
        .map(|h| {
            let (a, b) = halves(h, min_visits)?;
            Some((feats(a, own_end(a))?, feats(b, own_end(b))?))
        })
        .collect();
    Prepared { whole, split, tune }
}

/// Users with at least this many visit days are needed, [`MIN_USERS_FOR_SHRINK`]
/// of them, before an export estimates a prior strength from its own log.
const MIN_VISITS_FOR_SHRINK: usize = 4;
const MIN_USERS_FOR_SHRINK: usize = 30;

/// The prior strength an export uses: [`prior_strength`] on the log's own
/// users (all of them), or 0 (no shrinkage) when fewer than
/// [`MIN_USERS_FOR_SHRINK`] users have [`MIN_VISITS_FOR_SHRINK`] visit days
/// to measure the noise of a visit on.
pub fn estimate_shrink(
    histories: &[Vec<Event>],
    cat: &Catalogue<'_>,
    end_ms: f64,
    gap_ms: f64,
) -> f32 {
    let p = prepare_with(
        histories,
        vec![true; histories.len()],
        cat,
        end_ms,
        gap_ms,
        MIN_VISITS_FOR_SHRINK,
    );
    if p.split.iter().flatten().count() < MIN_USERS_FOR_SHRINK {
        return 0.0;
    }
    let features: Vec<usize> = HABIT_FEATURES.iter().map(|n| feature_index(n)).collect();
    prior_strength(&p, &features).0
}

fn fit_variant(p: &Prepared, v: &Variant, seed: u64) -> Option<BehaviourSegments> {
    // Fitted on the tuning users' whole histories.
    let (rows, seen): (Vec<[f32; B]>, Vec<f32>) = p
        .whole
        .iter()
        .zip(&p.tune)
        .filter(|(_, &t)| t)
        .filter_map(|(w, _)| w.map(|(f, n)| (masked(f, &v.features), n)))
        .unzip();
    crate::shopper::segments::fit_behaviour_shrunk(&rows, &seen, v.shrink, v.k, seed)
}

fn stability(p: &Prepared, v: &Variant, seg: &BehaviourSegments, tune: bool) -> Stability {
    let kk = seg.centroids.len();
    let mut landed = vec![0usize; kk];
    let (mut same, mut n) = (0usize, 0usize);
    for (s, &t) in p.split.iter().zip(&p.tune) {
        let (Some(((fa, na), (fb, nb))), true) = (s, t == tune) else {
            continue;
        };
        let a = seg.assign_with(&masked(*fa, &v.features), *na);
        let b = seg.assign_with(&masked(*fb, &v.features), *nb);
        if let (Some(a), Some(b)) = (a, b) {
            n += 1;
            same += usize::from(a.id == b.id);
            landed[a.id] += 1;
            landed[b.id] += 1;
        }
    }
    let halves: usize = landed.iter().sum();
    let chance: f64 = landed
        .iter()
        .map(|&c| (c as f64 / halves.max(1) as f64).powi(2))
        .sum();
    let share = if n > 0 { same as f64 / n as f64 } else { 0.0 };
    Stability {
        users: n,
        same_segment_share: share,
        same_segment_by_chance: chance,
        kappa: if chance < 1.0 {
            (share - chance) / (1.0 - chance)
        } else {
            0.0
        },
        halves_per_segment: landed,
    }
}

/// Every feature but recency: recency is a state (days since the last
/// visit), not a habit, and two halves of one history differ in it by
/// construction (the first half ends where the second starts).
pub const HABIT_FEATURES: [&str; 6] = [
    "frequency",
    "monetary",
    "basket_size",
    "category_breadth",
    "cheaper_share",
    "repeat_rate",
];

fn feature_index(n: &str) -> usize {
    BEHAVIOUR.iter().position(|b| *b == n).unwrap_or(0)
}

/// Empirical-Bayes prior strength (in visits) from the tuning users, by the
/// method of moments on standardised features: a history of `n` visits is
/// taken as its user's habit plus noise of variance σ²/n. Two halves of
/// one user differ only by noise, so E[(z_a − z_b)²] = σ²(1/n_a + 1/n_b)
/// gives σ²; the spread of whole histories, 1 = τ² + σ²·mean(1/n), gives
/// the habits' own variance τ². The posterior mean shrinks a history by
/// n / (n + σ²/τ²): the prior strength is σ²/τ², here the median over the
/// features (one number in the bundle). Not chosen for the stability it
/// gives: it measures how noisy a visit is against how much users differ.
#[allow(clippy::cast_possible_truncation, reason = "a ratio stored as f32")]
fn prior_strength(p: &Prepared, features: &[usize]) -> (f32, Vec<(String, f64)>) {
    // The tuning users' standardisation (k = 1: only mean and scale used).
    let rows: Vec<[f32; B]> = p
        .whole
        .iter()
        .zip(&p.tune)
        .filter(|(_, &t)| t)
        .filter_map(|(w, _)| w.map(|(f, _)| masked(f, features)))
        .collect();
    let Some(seg) = fit_behaviour(&rows, Some(1), 1) else {
        return (0.0, Vec::new());
    };
    let inv_n: Vec<f64> = p
        .whole
        .iter()
        .zip(&p.tune)
        .filter(|(_, &t)| t)
        .filter_map(|(w, _)| w.map(|(_, n)| 1.0 / f64::from(n.max(1.0))))
        .collect();
    let mean_inv_n = inv_n.iter().sum::<f64>() / inv_n.len().max(1) as f64;
    let mut per = Vec::new();
    for &j in features {
        let z = |f: &[f32; B]| f64::from((f[j] - seg.mean[j]) / seg.scale[j]);
        let (mut d2, mut w) = (0.0f64, 0.0f64);
        for (s, &t) in p.split.iter().zip(&p.tune) {
            if let (Some(((fa, na), (fb, nb))), true) = (s, t) {
                if fa[j].is_finite() && fb[j].is_finite() {
                    d2 += (z(fa) - z(fb)).powi(2);
                    w += 1.0 / f64::from(na.max(1.0)) + 1.0 / f64::from(nb.max(1.0));
                }
            }
        }
        if w <= 0.0 {
            continue;
        }
        let sigma2 = d2 / w;
        let tau2 = 1.0 - sigma2 * mean_inv_n;
        // A feature whose noise explains all its spread would need an
        // infinite prior: capped at 100 visits.
        let m = if tau2 > 0.0 {
            (sigma2 / tau2).min(100.0)
        } else {
            100.0
        };
        per.push((BEHAVIOUR[j].to_string(), m));
    }
    let mut ms: Vec<f64> = per.iter().map(|x| x.1).collect();
    ms.sort_by(f64::total_cmp);
    let m = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
    (m as f32, per)
}

fn json_or_null(v: f32) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// Share of users whose two halves should land in one segment (the goal).
pub const STABILITY_GOAL: f64 = 0.8;

/// Segments of the full Ta-Feng log and their stability. Users are split
/// once by a hash of their id: the tuning half chooses the prior strength
/// (estimated, [`prior_strength`]) and k (best mean silhouette over 2..=6
/// among the k whose segments the tuning users keep, see [`STABILITY_GOAL`])
/// and fits the segments; the other half only reports. Each user's history is
/// split at the median visit day; each half goes through the device's
/// feature function as of the day after its own last visit, and is
/// assigned with its own number of visits. Returns the report and the
/// segments.
pub fn run_full(
    log: &FullLog,
    k: Option<usize>,
    min_visits: usize,
    seed: u64,
) -> Result<(serde_json::Value, BehaviourSegments), EvalError> {
    let features: Vec<usize> = HABIT_FEATURES.iter().map(|n| feature_index(n)).collect();
    let p = prepare(log, min_visits);
    let (shrink, per_feature) = prior_strength(&p, &features);
    let fit = |k: Option<usize>, shrink: f32| {
        fit_variant(
            &p,
            &Variant {
                features: features.clone(),
                shrink,
                k,
            },
            seed,
        )
        .ok_or_else(|| EvalError::Empty {
            what: "fewer than 2 tuning users".into(),
        })
    };
    let v = |shrink: f32| Variant {
        features: features.clone(),
        shrink,
        k: None,
    };
    // Silhouette of the fitted (shrunk, standardised) tuning users at k.
    let tune_z: Vec<([f32; B], f32)> = p
        .whole
        .iter()
        .zip(&p.tune)
        .filter(|(_, &t)| t)
        .filter_map(|(w, _)| w.map(|(f, n)| (masked(f, &features), n)))
        .collect();
    let silhouette_at = |seg: &BehaviourSegments| {
        let step = tune_z.len().div_ceil(1500).max(1);
        let sample: Vec<&([f32; B], f32)> = tune_z.iter().step_by(step).collect();
        let (z, a): (Vec<[f32; B]>, Vec<u32>) = sample
            .iter()
            .filter_map(|(f, n)| {
                let a = seg.assign_with(f, *n)?;
                let w = if seg.shrink > 0.0 {
                    n / (n + seg.shrink)
                } else {
                    1.0
                };
                let z: [f32; B] = std::array::from_fn(|j| {
                    if f[j].is_finite() {
                        (f[j] - seg.mean[j]) / seg.scale[j] * w
                    } else {
                        0.0
                    }
                });
                Some((z, crate::format::index_u32(a.id)))
            })
            .unzip();
        crate::shopper::segments::silhouette(&z, &a, seg.centroids.len())
    };
    let mut by_k = Vec::new();
    // k: the best mean silhouette among the k whose segments the tuning
    // users keep (both halves in one segment for at least GOAL of them);
    // the best silhouette overall if none does.
    let mut best_k = (f32::NEG_INFINITY, 2usize);
    let mut best_stable_k: Option<(f32, usize)> = None;
    for kk in 2..=6 {
        let seg = fit(Some(kk), shrink)?;
        let sil = silhouette_at(&seg);
        if sil > best_k.0 {
            best_k = (sil, kk);
        }
        let t = stability(&p, &v(shrink), &seg, true);
        if t.same_segment_share >= STABILITY_GOAL && best_stable_k.is_none_or(|b| sil > b.0) {
            best_stable_k = Some((sil, kk));
        }
        let r = stability(&p, &v(shrink), &seg, false);
        by_k.push(serde_json::json!({
            "k": kk,
            "silhouette_tuning": sil,
            "same_segment_share_tuning": t.same_segment_share,
            "same_segment_share": r.same_segment_share,
            "same_segment_by_chance": r.same_segment_by_chance,
            "kappa": r.kappa,
            "labels": seg.labels,
        }));
    }
    let (chosen_sil, chosen_k) = best_stable_k.unwrap_or(best_k);
    let chosen_k = k.unwrap_or(chosen_k);
    let seg = fit(Some(chosen_k), shrink)?;
    let report = stability(&p, &v(shrink), &seg, false);
    let tuning = stability(&p, &v(shrink), &seg, true);
    // The same k without shrinkage, and other prior strengths: what the
    // estimate buys (tuning and reporting users alike).
    let mut by_shrink = Vec::new();
    for m in [0.0f32, 1.0, 2.0, 4.0, 8.0, 16.0] {
        let s = fit(Some(chosen_k), m)?;
        let r = stability(&p, &v(m), &s, false);
        let t = stability(&p, &v(m), &s, true);
        by_shrink.push(serde_json::json!({
            "shrink": m,
            "same_segment_share_tuning": t.same_segment_share,
            "same_segment_share": r.same_segment_share,
            "same_segment_by_chance": r.same_segment_by_chance,
            "kappa": r.kappa,
            "halves_per_segment": r.halves_per_segment,
        }));
    }
    // Shorter histories: every user with at least 2 visits (one per half).
    let mut by_min = Vec::new();
    for mv in [2usize, 4, 8] {
        let q = prepare(log, mv);
        let r = stability(&q, &v(shrink), &seg, false);
        by_min.push(serde_json::json!({
            "min_visits": mv,
            "users": r.users,
            "same_segment_share": r.same_segment_share,
            "same_segment_by_chance": r.same_segment_by_chance,
            "kappa": r.kappa,
        }));
    }
    let correlation: serde_json::Map<String, serde_json::Value> = features
        .iter()
        .map(|&j| {
            let pairs: Vec<(f32, f32)> = p
                .split
                .iter()
                .zip(&p.tune)
                .filter(|(_, &t)| !t)
                .filter_map(|(s, _)| s.map(|((a, _), (b, _))| (a[j], b[j])))
                .collect();
            let r = pearson(&pairs);
            (
                BEHAVIOUR[j].to_string(),
                r.map_or(serde_json::Value::Null, |r| serde_json::json!(r)),
            )
        })
        .collect();
    let table: Vec<serde_json::Value> = (0..seg.centroids.len())
        .map(|c| {
            let means: serde_json::Map<String, serde_json::Value> = BEHAVIOUR
                .iter()
                .zip(seg.feature_means[c])
                .map(|(name, v)| (name.to_string(), json_or_null(v)))
                .collect();
            serde_json::json!({"id": c, "label": seg.labels[c], "users": seg.sizes[c], "feature_means": means})
        })
        .collect();
    let tuning_users = p.tune.iter().filter(|&&t| t).count();
    let out = serde_json::json!({
        "users": tuning_users,
        "users_reporting": p.tune.len() - tuning_users,
        "log": {"rows": log.rows, "unreadable_rows": log.bad_rows, "customers": log.histories.len(), "products": log.prices.len()},
        "k": seg.centroids.len(),
        "k_chosen_by": if k.is_some() {
            "flag".to_string()
        } else if best_stable_k.is_some() {
            format!("best mean silhouette over 2..=6 ({chosen_sil:.3}) among the k that tuning users keep ≥ {:.0}% of the time", STABILITY_GOAL * 100.0)
        } else {
            format!("best mean silhouette over 2..=6 ({chosen_sil:.3}); no k kept by ≥ {:.0}% of tuning users", STABILITY_GOAL * 100.0)
        },
        "features_used": HABIT_FEATURES,
        "features_note": "feature means are raw: recency_days, frequency, monetary and basket_size as ln(1+x); recency is left out of the clustering (a state, not a habit: two halves of one history differ in it by construction)",
        "shrink": shrink,
        "shrink_by_feature": per_feature.iter().map(|(n, m)| serde_json::json!({"feature": n, "prior_visits": m})).collect::<Vec<_>>(),
        "shrink_how": "empirical Bayes, method of moments on the tuning users: noise per visit (from the two halves) over the spread of habits; median over the features",
        "segments": table,
        "stability": {
            "users_with_enough_baskets": report.users,
            "min_baskets": min_visits,
            "same_segment_share": report.same_segment_share,
            "same_segment_by_chance": report.same_segment_by_chance,
            "kappa": report.kappa,
            "halves_per_segment": report.halves_per_segment,
            "halves_feature_correlation": correlation,
            "tuning_users": {"users": tuning.users, "same_segment_share": tuning.same_segment_share, "kappa": tuning.kappa},
        },
        "stability_by_k": by_k,
        "stability_by_shrink": by_shrink,
        "stability_by_min_visits": by_min,
        "split": "users split by a hash of their id: tuning users fit the segments and choose k and the prior strength, reporting users give the figures; each history split at its median visit day (a visit = a transaction date), both halves as of the day after their own last visit",
    });
    Ok((out, seg))
}

/// A synthetic shopper population for demos and tests (the demo store's
/// catalogue is synthetic too): four habits — frequent big spenders, deal
/// seekers who pick items below their category's usual price, lapsed
/// one-time visitors, and occasional typical shoppers. The clustering and
/// its labels know nothing of these habits; they are found in the features.
/// Returns per-user time-sorted histories and the log's end (ms).
pub fn synthetic_histories(
    prices: &[f32],
    categories: &[u32],
    users: usize,
    seed: u64,
) -> (Vec<Vec<Event>>, f64) {
    let mut rng = crate::rng::Rng::new(seed);
    let n = prices.len().min(categories.len()).max(1) as u64;
    let cat = Catalogue::new(Some(prices), Some(categories));
    // Items split by "cheaper than their category's median": deal seekers
    // pick from the cheap half, big spenders from the dear one.
    let cheap: Vec<u32> = (0..n as u32)
        .filter(|&i| cat.below_typical(i) == Some(true))
        .collect();
    let dear: Vec<u32> = (0..n as u32).filter(|i| !cheap.contains(i)).collect();
    let end = 180.0 * DAY;
    let pick = |rng: &mut crate::rng::Rng, from: &[u32]| -> u32 {
        if from.is_empty() {
            (rng.next_u64() % n) as u32
        } else {
            from[(rng.next_u64() % from.len() as u64) as usize]
        }
    };
    let mut out = Vec::with_capacity(users);
    for u in 0..users {
        // (visits, first day, last day, basket size, pool)
        let (visits, from, to, size, pool): (usize, f64, f64, usize, &[u32]) = match u % 4 {
            0 => (14 + (rng.next_u64() % 8) as usize, 90.0, 179.0, 4, &dear),
            1 => (6 + (rng.next_u64() % 4) as usize, 60.0, 175.0, 2, &cheap),
            2 => (1 + (rng.next_u64() % 2) as usize, 0.0, 40.0, 1, &[]),
            _ => (3 + (rng.next_u64() % 3) as usize, 60.0, 170.0, 2, &[]),
        };
        let mut h = Vec::new();
        for v in 0..visits {
            let day = from + (to - from) * (v as f64 + rng.uniform() as f64 * 0.8) / visits as f64;
            let basket = size + (rng.next_u64() % 2) as usize;
            for s in 0..basket {
                let item = pick(&mut rng, pool);
                let ts = day * DAY + s as f64 * 60_000.0;
                h.push(Event {
                    kind: EventKind::View,
                    item,
                    ts,
                });
                h.push(Event {
                    kind: EventKind::Purchase,
                    item,
                    ts: ts + 30_000.0,
                });
            }
        }
        h.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        out.push(h);
    }
    (out, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baskets_layout_is_checked_and_stability_measured() {
        assert_eq!(
            parse_baskets(b"session_id\titem_id\ttimestamp\n1\t2\t3\n", "x", 0.0)
                .unwrap_err()
                .code(),
            "BAD_LAYOUT"
        );
        let mut t = String::from("user_id\tbasket_id\titem_id\n");
        // Frequent small-basket users and rare big-basket users.
        for u in 0..40 {
            let (baskets, size) = if u % 2 == 0 { (12, 1) } else { (4, 9) };
            for b in 0..baskets {
                for s in 0..size {
                    t.push_str(&format!(
                        "u{u}\t{}\ti{}\n",
                        b * (48 / baskets),
                        (u * 7 + b * 3 + s) % 50
                    ));
                }
            }
        }
        let users = parse_baskets(t.as_bytes(), "t", 0.0).unwrap();
        assert_eq!(users.len(), 40);
        let (j, seg) = run(&users, Some(2), 4, 1).unwrap();
        assert_eq!(seg.centroids.len(), 2);
        assert!(
            j["stability"]["same_segment_share"].as_f64().unwrap() >= 0.8,
            "{j}"
        );
        assert_eq!(j["stability"]["users_with_enough_baskets"], 40);
    }

    /// A Ta-Feng-layout log: even users visit often with small baskets of
    /// cheap products, odd users rarely with large baskets of dear ones;
    /// which products and days vary by user.
    fn full_log(users: usize) -> String {
        let mut t = String::from(
            "\u{feff}\"TRANSACTION_DT\",\"CUSTOMER_ID\",\"AGE_GROUP\",\"PIN_CODE\",\"PRODUCT_SUBCLASS\",\"PRODUCT_ID\",\"AMOUNT\",\"ASSET\",\"SALES_PRICE\"\n",
        );
        let mut x = 7u64;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % m
        };
        for u in 0..users {
            let frequent = u % 2 == 0;
            let (visits, size) = if frequent { (16, 2) } else { (5, 7) };
            for v in 0..visits {
                let day = 1 + (v * 55 / visits) as u64 + next(3);
                let (month, d) = if day > 30 { (12, day - 30) } else { (11, day) };
                for _ in 0..size + next(2) as usize {
                    let (cat, item, price) = if frequent {
                        (100, next(20), 10 + next(3))
                    } else {
                        (200, 20 + next(20), 100 + next(30))
                    };
                    t.push_str(&format!(
                        "\"{month}/{d}/2000\",\"{u:08}\",\"30-34\",\"115\",\"{cat}\",\"47{item:011}\",\"1\",\"{}\",\"{price}\"\n",
                        price / 2
                    ));
                }
            }
        }
        t
    }

    #[test]
    fn full_tafeng_layout_dates_and_prices() {
        let t = full_log(4);
        assert!(is_full_tafeng(t.as_bytes()));
        assert!(!is_full_tafeng(b"user_id\tbasket_id\titem_id\n"));
        let log = read_full_tafeng(t.as_bytes(), "t", 0.0).unwrap();
        assert_eq!(log.histories.len(), 4);
        assert_eq!(log.users[1], "00000001");
        assert_eq!(log.prices.len(), log.categories.len());
        assert!(
            log.prices.iter().all(|p| (10.0..130.0).contains(p)),
            "{:?}",
            log.prices
        );
        // 11/1/2000 is day 11262 since the epoch.
        assert_eq!(date_ms("11/1/2000"), Some(11_262.0 * DAY));
        assert_eq!(date_ms("2000-11-01"), Some(11_262.0 * DAY));
        assert_eq!(date_ms("13/1/2000"), None);
        assert!(log
            .histories
            .iter()
            .all(|h| h.windows(2).all(|w| w[0].ts <= w[1].ts)));
        let e = read_full_tafeng(b"a,b,c\n1,2,3\n", "t", 0.0).unwrap_err();
        assert_eq!(e.code(), "BAD_LAYOUT");
        let mut bad = t.clone();
        bad.push_str("\"not a date\",\"1\",\"x\",\"1\",\"1\",\"1\",\"1\",\"1\",\"1\"\n");
        assert_eq!(
            read_full_tafeng(bad.as_bytes(), "t", 0.0)
                .unwrap_err()
                .code(),
            "TOO_MANY_BAD_LINES"
        );
        assert_eq!(
            read_full_tafeng(bad.as_bytes(), "t", 0.5).unwrap().bad_rows,
            1
        );
    }

    #[test]
    fn full_log_stability_is_measured_on_users_that_did_not_fit() {
        let t = full_log(240);
        let log = read_full_tafeng(t.as_bytes(), "t", 0.0).unwrap();
        let (j, seg) = run_full(&log, None, 4, 3).unwrap();
        assert_eq!(seg.centroids.len(), 2, "{}", j["stability_by_k"]);
        let st = &j["stability"];
        let tuning = j["users"].as_u64().unwrap();
        let reporting = j["users_reporting"].as_u64().unwrap();
        assert_eq!(tuning + reporting, 240);
        assert!(tuning > 60 && reporting > 60, "{tuning} / {reporting}");
        assert_eq!(st["users_with_enough_baskets"].as_u64(), Some(reporting));
        assert!(st["same_segment_share"].as_f64().unwrap() >= 0.9, "{st}");
        assert!(st["kappa"].as_f64().unwrap() > 0.5, "{st}");
        let shrink = j["shrink"].as_f64().unwrap();
        assert!(shrink.is_finite() && shrink >= 0.0, "{shrink}");
        assert_eq!(j["stability_by_k"].as_array().unwrap().len(), 5);
        assert_eq!(j["stability_by_shrink"].as_array().unwrap().len(), 6);
        // The frequent half of the users is told apart from the rare one.
        assert!(
            seg.labels.iter().any(|l| l.contains("frequent visitors")),
            "{:?}",
            seg.labels
        );
    }

    #[test]
    fn shrinkage_is_estimated_only_with_returning_users() {
        let log = read_full_tafeng(full_log(6).as_bytes(), "t", 0.0).unwrap();
        let cat = Catalogue::new(Some(&log.prices), Some(&log.categories));
        assert_eq!(estimate_shrink(&log.histories, &cat, log.end_ms, GAP), 0.0);
        let log = read_full_tafeng(full_log(120).as_bytes(), "t", 0.0).unwrap();
        let cat = Catalogue::new(Some(&log.prices), Some(&log.categories));
        let m = estimate_shrink(&log.histories, &cat, log.end_ms, GAP);
        assert!(m.is_finite() && m > 0.0, "{m}");
    }

    /// A blank or whitespace-only id is a malformed row (counted, shown),
    /// as in the basket and order readers; only a real id the bundle lacks
    /// is an unknown item.
    #[test]
    fn blank_ids_in_an_event_log_are_bad_rows_not_unknown_items() {
        let dir = std::env::temp_dir().join(format!("vitrine-blank-ids-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.csv");
        let text = "user_id,item_id,timestamp,type\n\
                    u1,a,100,view\n\
                    u1,  ,101,view\n\
                    u2,,102,view\n\
                    \u{20},b,103,view\n\
                    u2,zz,104,view\n\
                    u2, b ,105,cart\n";
        std::fs::write(&path, text).unwrap();
        let ids = vec!["a".to_string(), "b".to_string()];
        let cols = EventLogColumns::default();
        let spec = crate::train::values::TimeSpec::Auto;
        let log = read_event_log(&path, &ids, &cols, spec, 1.0).unwrap();
        assert_eq!((log.rows, log.bad_rows, log.unknown_items), (6, 3, 1));
        assert_eq!(log.histories.len(), 2, "u1 and u2");
        assert_eq!(log.histories.iter().map(Vec::len).sum::<usize>(), 2);
        let err = read_event_log(&path, &ids, &cols, spec, 0.1).unwrap_err();
        assert_eq!(err.code(), "TOO_MANY_BAD_LINES");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
