//! Placement latency on a synthetic catalogue (`make bench`): each placement
//! with a 100-event history over 100k items, natively. The browser figures
//! come from `tests/bench/placements.mjs` on the same kind of bundle.

use super::build::{self, Basket, BuildOptions};
use super::*;
use crate::format::placements::add_sections;
use crate::format::{write_bundle, Dtype};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct Row {
    pub placement: String,
    pub median_us: f64,
    pub p90_us: f64,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub items: usize,
    pub history: usize,
    pub baskets: usize,
    pub bundle_bytes: usize,
    pub rows: Vec<Row>,
}

/// Baskets of 2–6 items drawn mostly from one category, Zipf-ish within it,
/// so co-purchase rows look like a store's rather than uniform noise.
pub fn synthetic_baskets(cats: &[u32], n_baskets: usize, seed: u64) -> Vec<Basket> {
    let mut rng = crate::synth::Rng::new(seed);
    let n = cats.len();
    let nc = cats.iter().copied().max().map_or(1, |c| c as usize + 1);
    let mut by_cat: Vec<Vec<u32>> = vec![Vec::new(); nc];
    for (i, &c) in cats.iter().enumerate() {
        if let Some(v) = by_cat.get_mut(c as usize) {
            v.push(i as u32);
        }
    }
    (0..n_baskets)
        .map(|b| {
            // The last fifth of the log leans toward the first two
            // categories, so trending and its facets have something to find.
            let c = if b * 5 >= n_baskets * 4 && rng.uniform() < 0.4 {
                b % 2.min(nc)
            } else {
                (rng.next_u64() % nc as u64) as usize
            };
            let size = 2 + (rng.next_u64() % 5) as usize;
            let pool = &by_cat[c];
            let items = (0..size)
                .map(|_| {
                    if pool.is_empty() || rng.uniform() < 0.2 {
                        (rng.next_u64() % n as u64) as u32
                    } else {
                        // Squared uniform: a few items sell far more than the rest.
                        let u = rng.uniform();
                        pool[((u * u * pool.len() as f32) as usize).min(pool.len() - 1)]
                    }
                })
                .collect();
            Basket {
                user: (b % 5000) as u32,
                time: (b / 1000) as f64,
                items,
            }
        })
        .collect()
}

fn time(repeats: usize, mut f: impl FnMut() -> Result<usize>) -> Result<(f64, f64)> {
    let mut t = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let s = Instant::now();
        std::hint::black_box(f()?);
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    t.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Ok((t[t.len() / 2], t[t.len() * 9 / 10]))
}

/// `bundle_out`: also write the bundle, for the browser benchmark.
pub fn run(
    items: usize,
    history: usize,
    repeats: usize,
    bundle_out: Option<&std::path::Path>,
) -> Result<BenchReport> {
    let p = crate::synth::catalogue(items, 64, 16, 3);
    let cats = p.categories.clone().unwrap_or_default();
    let baskets = synthetic_baskets(&cats, items * 2, 5);
    let sections = build::parts(items, &baskets, &BuildOptions::default());
    let bytes = add_sections(&write_bundle(&p, Dtype::I8)?, &sections)?;
    if let Some(path) = bundle_out {
        crate::format::write::write_atomic(path, &bytes).map_err(|e| Error::InvalidArgument {
            what: format!("cannot write {}: {e}", path.display()),
        })?;
    }
    let m = Model::from_bytes(&bytes)?;
    let mut rng = crate::synth::Rng::new(9);
    let events: Vec<Event> = (0..history)
        .map(|i| Event {
            kind: match i % 5 {
                0 => EventKind::Purchase,
                1 => EventKind::Cart,
                _ => EventKind::View,
            },
            item: (rng.next_u64() % items as u64) as u32,
            ts: 1.7e12 + i as f64 * 600_000.0,
        })
        .collect();
    let o = PlacementOptions {
        k: 10,
        now_ms: 1.8e12,
        ..Default::default()
    };
    let cart: Vec<u32> = events.iter().take(5).map(|e| e.item).collect();
    let co = CoParams::default();
    let cad = CadenceParams::default();
    let mut rows = Vec::new();
    let mut add = |name: &str, r: (f64, f64)| {
        rows.push(Row {
            placement: name.into(),
            median_us: r.0,
            p90_us: r.1,
        })
    };
    add(
        "boughtTogether (1 item, relaxed)",
        time(repeats, || {
            Ok(bought_together(&m, &cart[..1], Mode::Relaxed, &co, &o)?.len())
        })?,
    );
    add(
        "boughtTogether (cart of 5)",
        time(repeats, || {
            Ok(bought_together(&m, &cart, Mode::Relaxed, &co, &o)?.len())
        })?,
    );
    add(
        "buyAgain",
        time(repeats, || Ok(buy_again(&m, &events, &cad, &o)?.len()))?,
    );
    add(
        "recentlyViewed",
        time(repeats, || Ok(recently_viewed(&m, &events, &o)?.len()))?,
    );
    add(
        "trending",
        time(repeats, || Ok(trending(&m, None, &o)?.len()))?,
    );
    add(
        "trending (category)",
        time(repeats, || Ok(trending(&m, Some(1), &o)?.len()))?,
    );
    add(
        "trendingFacets",
        time(repeats, || Ok(trending_facets(&m, 5)?.len()))?,
    );
    let promo = PlacementOptions {
        promotion: Some(Promotion {
            categories: vec![2],
            share: 0.2,
            ..Default::default()
        }),
        price_level: PriceLevel::Medium,
        ..o.clone()
    };
    add(
        "boughtTogether + promotion + price",
        time(repeats, || {
            Ok(bought_together(&m, &cart, Mode::Relaxed, &co, &promo)?.len())
        })?,
    );
    Ok(BenchReport {
        items,
        history,
        baskets: baskets.len(),
        bundle_bytes: bytes.len(),
        rows,
    })
}
