//! Behaviour segments offline: fit on basket logs (Ta-Feng layout,
//! tab-separated `user_id basket_id item_id` with that header, basket ids in
//! each user's time order), then stability: each user's first and second
//! half of baskets should land in the same segment.

use super::EvalError;
use crate::shopper::segments::{behaviour, fit_behaviour, BehaviourSegments, Catalogue, BEHAVIOUR};
use crate::shopper::{Event, EventKind};
use std::collections::HashMap;

const DAY: f64 = 86_400_000.0;

/// Per user: (basket ordinal, item index), file order.
pub fn parse_baskets(
    text: &str,
    path: &str,
    max_bad_share: f64,
) -> Result<Vec<Vec<(u32, u32)>>, EvalError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|x| x.1).unwrap_or("");
    let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
    let col = |n: &str| cols.iter().position(|c| *c == n);
    let (Some(cu), Some(cb), Some(ci)) = (col("user_id"), col("basket_id"), col("item_id")) else {
        return Err(EvalError::BadLayout {
            path: path.into(),
            detail: format!("the first line must be a tab-separated header naming user_id, basket_id, item_id; found {:?}", header.chars().take(120).collect::<String>()),
        });
    };
    let mut users: Vec<Vec<(u32, u32)>> = Vec::new();
    let mut uix: HashMap<String, usize> = HashMap::new();
    let mut iix: HashMap<String, u32> = HashMap::new();
    let (mut total, mut bad) = (0usize, 0usize);
    let mut first = Vec::new();
    for (ln, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        total += 1;
        let f: Vec<&str> = line.split('\t').collect();
        let ok = (f.len() == cols.len())
            .then(|| {
                Some((
                    f.get(cu)?,
                    f.get(cb)?.trim().parse::<u32>().ok()?,
                    f.get(ci)?,
                ))
            })
            .flatten();
        let Some((u, b, i)) = ok else {
            bad += 1;
            if first.len() < 5 {
                first.push((ln + 1, line.chars().take(120).collect()));
            }
            continue;
        };
        let n = iix.len() as u32;
        let item = *iix.entry(i.to_string()).or_insert(n);
        let k = *uix.entry(u.to_string()).or_insert_with(|| {
            users.push(Vec::new());
            users.len() - 1
        });
        users[k].push((b, item));
    }
    if bad > 0 && bad as f64 > max_bad_share * total as f64 {
        return Err(EvalError::TooManyBadLines {
            path: path.into(),
            bad,
            total,
            max_share: max_bad_share,
            first,
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

/// Fits segments on every user's whole history and measures stability on
/// users with at least `min_baskets` baskets. Baskets are a day apart (the
/// log has no dates); "now" is the day after the last basket in the log.
pub fn run(
    users: &[Vec<(u32, u32)>],
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
    let rows: Vec<_> = users
        .iter()
        .filter_map(|u| behaviour(&events(u), &cat, end, gap).ok())
        .collect();
    let seg = fit_behaviour(&rows, k, seed).ok_or_else(|| EvalError::Empty {
        what: "fewer than 2 users".into(),
    })?;
    let (mut same, mut n) = (0usize, 0usize);
    // Where the halves land: a stability of 1 with every half in one
    // segment would say nothing.
    let mut landed = vec![0usize; seg.centroids.len()];
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
        // Each half as of the day after its own last basket: the same
        // moment relative to the habit, so only the habit can differ.
        let as_of = |h: &[(u32, u32)]| {
            h.iter()
                .map(|x| x.0)
                .max()
                .map_or(0.0, |m| (m as f64 + 1.0) * DAY)
        };
        let fa = behaviour(&events(&a), &cat, as_of(&a), gap);
        let fb = behaviour(&events(&b), &cat, as_of(&b), gap);
        if let (Ok(fa), Ok(fb)) = (fa, fb) {
            if let (Some(x), Some(y)) = (seg.assign(&fa), seg.assign(&fb)) {
                n += 1;
                same += usize::from(x.id == y.id);
                landed[x.id] += 1;
                landed[y.id] += 1;
            }
        }
    }
    let table: Vec<serde_json::Value> = (0..seg.centroids.len())
        .map(|c| {
            let means: serde_json::Map<String, serde_json::Value> = BEHAVIOUR
                .iter()
                .zip(seg.feature_means[c])
                .map(|(name, v)| (name.to_string(), if v.is_finite() { serde_json::json!(v) } else { serde_json::Value::Null }))
                .collect();
            serde_json::json!({"id": c, "label": seg.labels[c], "users": seg.sizes[c], "feature_means": means})
        })
        .collect();
    let out = serde_json::json!({
        "users": rows.len(),
        "k": seg.centroids.len(),
        "k_chosen_by": if k.is_some() { "flag" } else { "mean silhouette over 2..=6" },
        "features_note": "feature means are raw: recency_days, frequency and basket_size as ln(1+x); monetary, category_breadth and cheaper_share are null when the log has no prices or categories",
        "segments": table,
        "stability": {"users_with_enough_baskets": n, "min_baskets": min_baskets,
                      "same_segment_share": if n > 0 { same as f64 / n as f64 } else { 0.0 },
                      "halves_per_segment": landed,
                      "degenerate_all_halves_in_one_segment": landed.iter().filter(|&&c| c > 0).count() < 2,
                      "protocol": "each user's baskets split at the median basket; each half scored as of the day after its own last basket (the log has no dates: basket ordinals are days)"},
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
/// without it every row is a purchase). `ms_per_unit` converts the
/// timestamps (1000 for seconds). `ids` are the bundle's item ids: the
/// features are computed over the same item indices the device resolves.
pub fn read_event_log(
    path: &std::path::Path,
    ids: &[String],
    ms_per_unit: f64,
    max_bad_share: f64,
) -> Result<EventLog, EvalError> {
    use crate::table::{BadRows, Table, TableOptions};
    let shown = path.display().to_string();
    let bytes = crate::table::read_input(path).map_err(|e| EvalError::BadLayout {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    let layout = |detail: String| EvalError::BadLayout {
        path: shown.clone(),
        detail,
    };
    let t = Table::open(
        &bytes,
        &TableOptions {
            what: format!("event log {shown}"),
            ..Default::default()
        },
    )
    .map_err(|e| layout(e.to_string()))?;
    let any = |names: &[&str]| names.iter().find_map(|n| t.find(n));
    let header = format!("{:?}", t.header().unwrap_or(&[]));
    let (Some(cu), Some(ci), Some(ct)) = (
        any(&["user_id", "user", "visitorid", "customer_id"]),
        any(&["item_id", "item", "itemid", "product_id"]),
        any(&["timestamp", "ts", "time"]),
    ) else {
        return Err(layout(format!(
            "the header must name user_id, item_id and timestamp (optionally type); found {header}"
        )));
    };
    let ck = any(&["type", "event", "event_type"]);
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
        let f = |c: usize| rec.fields.get(c).map(|s| s.trim());
        let parsed = (|| {
            let user = f(cu).filter(|s| !s.is_empty())?;
            let item = f(ci)?;
            let ts = f(ct)?.parse::<f64>().ok().map(|x| x * ms_per_unit)?;
            let kind = match ck {
                Some(c) => event_kind(f(c)?)?,
                None => EventKind::Purchase,
            };
            ts.is_finite().then_some((user, item, ts, kind))
        })();
        let Some((user, item, ts, kind)) = parsed else {
            bad.bad(
                rec.line,
                "needs a user, an item, a finite timestamp and a known type".into(),
            )
            .map_err(|e| layout(e.to_string()))?;
            continue;
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
    if bad.check("event log").is_err() {
        return Err(EvalError::TooManyBadLines {
            path: shown,
            bad: bad.bad,
            total: bad.rows,
            max_share: max_bad_share,
            first: bad.first,
        });
    }
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
pub fn fit_log(
    log: &EventLog,
    prices: Option<&[f32]>,
    categories: Option<&[u32]>,
    gap_ms: f64,
    k: Option<usize>,
    seed: u64,
) -> Result<(BehaviourSegments, usize), EvalError> {
    let cat = Catalogue::new(prices, categories);
    // "Now" is the log's end: the export is the log's snapshot.
    crate::shopper::segments::fit_histories(&log.histories, &cat, log.end_ms, gap_ms, k, seed)
        .ok_or_else(|| EvalError::Empty {
            what: "behaviour segments need at least 2 users with events".into(),
        })
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
            parse_baskets("session_id\titem_id\ttimestamp\n1\t2\t3\n", "x", 0.0)
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
        let users = parse_baskets(&t, "t", 0.0).unwrap();
        assert_eq!(users.len(), 40);
        let (j, seg) = run(&users, Some(2), 4, 1).unwrap();
        assert_eq!(seg.centroids.len(), 2);
        assert!(
            j["stability"]["same_segment_share"].as_f64().unwrap() >= 0.8,
            "{j}"
        );
        assert_eq!(j["stability"]["users_with_enough_baskets"], 40);
    }
}
