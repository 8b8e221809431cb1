//! The NEIGHBOURS section builder: "viewed / bought together" from sessions
//! or baskets. Two items are linked when they occur in the same session within
//! `window` positions; a link counts 1/distance, so adjacent items (the next
//! click) weigh most. Each item keeps its `top_n` strongest links, weights
//! normalized by the geometric mean of the two items' occurrence counts
//! (cosine-style, in [0, 1]) so they survive f16 storage.

use crate::format::Neighbours;

#[derive(Clone, Copy, Debug)]
pub struct NeighbourOptions {
    pub top_n: usize,
    /// Max distance between linked positions in a session (0 = whole session).
    pub window: usize,
    /// Links seen fewer times than this (in raw co-occurrences) are dropped.
    pub min_count: u32,
}

impl Default for NeighbourOptions {
    fn default() -> Self {
        NeighbourOptions {
            top_n: 50,
            window: 0,
            min_count: 1,
        }
    }
}

/// `sessions` hold item indices in time order; indices ≥ `n_items` are skipped.
pub fn build(n_items: usize, sessions: &[Vec<u32>], opts: &NeighbourOptions) -> Neighbours {
    // Item → (session, position) postings, so each item's row is built alone
    // with a dense accumulator (no n² map).
    let mut occ = vec![0u32; n_items];
    let mut post_off = vec![0usize; n_items + 1];
    for s in sessions {
        for &i in s {
            if (i as usize) < n_items {
                post_off[i as usize + 1] += 1;
            }
        }
    }
    for i in 0..n_items {
        post_off[i + 1] += post_off[i];
    }
    let mut fill = post_off.clone();
    let mut postings = vec![(0u32, 0u32); post_off[n_items]];
    for (si, s) in sessions.iter().enumerate() {
        for (p, &i) in s.iter().enumerate() {
            if (i as usize) < n_items {
                postings[fill[i as usize]] = (si as u32, p as u32);
                fill[i as usize] += 1;
                occ[i as usize] += 1;
            }
        }
    }
    let mut acc = vec![0f32; n_items];
    let mut cnt = vec![0u32; n_items];
    let mut touched: Vec<u32> = Vec::new();
    let mut offsets = Vec::with_capacity(n_items + 1);
    let mut items = Vec::new();
    let mut weights = Vec::new();
    offsets.push(0u32);
    for i in 0..n_items {
        for &(si, p) in &postings[post_off[i]..post_off[i + 1]] {
            let s = &sessions[si as usize];
            let p = p as usize;
            let (lo, hi) = if opts.window == 0 {
                (0, s.len())
            } else {
                (
                    p.saturating_sub(opts.window),
                    (p + opts.window + 1).min(s.len()),
                )
            };
            for (q, &j) in s.iter().enumerate().take(hi).skip(lo) {
                if q == p || j as usize == i || j as usize >= n_items {
                    continue;
                }
                let ju = j as usize;
                if cnt[ju] == 0 {
                    touched.push(j);
                }
                cnt[ju] += 1;
                acc[ju] += 1.0 / p.abs_diff(q) as f32;
            }
        }
        let mut row: Vec<(u32, f32)> = touched
            .iter()
            .filter(|&&j| cnt[j as usize] >= opts.min_count)
            .map(|&j| {
                let norm = ((occ[i] as f32) * (occ[j as usize] as f32)).sqrt().max(1.0);
                (j, (acc[j as usize] / norm).min(1.0))
            })
            .collect();
        for &j in &touched {
            acc[j as usize] = 0.0;
            cnt[j as usize] = 0;
        }
        touched.clear();
        row.sort_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.0.cmp(&b.0))
        });
        row.truncate(opts.top_n);
        for (j, w) in row {
            items.push(j);
            weights.push(w);
        }
        offsets.push(items.len() as u32);
    }
    Neighbours {
        offsets,
        items,
        weights,
    }
}
