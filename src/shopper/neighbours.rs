//! The NEIGHBOURS section builder: "viewed / bought together" from sessions
//! or baskets. Two items are linked when they occur in the same session within
//! `window` positions; a link counts 1/distance, so adjacent items (the next
//! click) weigh most, and `backward` times that when the target came *before*
//! the source (sequential-rules style: what follows an item predicts the next
//! click better than what preceded it). The summed weight of the link i → j is
//! divided by `count(i)^(1−damping) · count(j)^damping` (0.5: cosine, 0: the
//! rate at which j accompanies i, popular targets kept), which keeps weights
//! small (at most about twice the window's harmonic number) so they survive
//! f16 storage. Each item keeps its `top_n` strongest links.

use crate::format::index_u32;
use crate::format::Neighbours;

#[derive(Clone, Copy, Debug)]
pub struct NeighbourOptions {
    pub top_n: usize,
    /// Max distance between linked positions in a session (0 = whole session).
    pub window: usize,
    /// Links seen fewer times than this (in raw co-occurrences) are dropped.
    pub min_count: u32,
    /// Weight of a link to an item seen *before* the source, relative to one
    /// seen after it (1 = symmetric, 0 = "what comes next" only).
    pub backward: f32,
    /// A link's summed weight is divided by `count(source)^(1−damping) ·
    /// count(target)^damping`: 0.5 is cosine, 0 the conditional rate
    /// (popular targets kept), 1 favours rare targets.
    pub damping: f32,
}

impl Default for NeighbourOptions {
    fn default() -> Self {
        NeighbourOptions {
            top_n: 50,
            window: 0,
            min_count: 1,
            // Chosen on NowPlaying-1M's valid.csv (`vitrine session eval
            // --tune-only`, backward ∈ {0, 0.3, 0.5, 1} × damping ∈ {0, 0.25,
            // 0.35, 0.5}; first 2 500 sessions, ALS α = 4): HR@20 + MRR@20 of
            // the tuned blend 0.4506 with the former symmetric cosine (1, 0.5),
            // 0.4828 with these.
            backward: 0.5,
            damping: 0.25,
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
                postings[fill[i as usize]] = (index_u32(si), index_u32(p));
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
                let dir = if q > p { 1.0 } else { opts.backward };
                acc[ju] += dir / p.abs_diff(q) as f32;
            }
        }
        let src = (occ[i] as f32).powf(1.0 - opts.damping);
        let mut row: Vec<(u32, f32)> = touched
            .iter()
            .filter(|&&j| cnt[j as usize] >= opts.min_count && acc[j as usize] > 0.0)
            .map(|&j| {
                let norm = src * (occ[j as usize] as f32).powf(opts.damping);
                (j, acc[j as usize] / norm)
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
        offsets.push(index_u32(items.len()));
    }
    Neighbours {
        offsets,
        items,
        weights,
    }
}
