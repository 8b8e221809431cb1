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
