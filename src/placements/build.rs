//! Export-time builders: order baskets in, the CO_PURCHASE, CADENCE and
//! TRENDING sections out (`vitrine placements build`).

use crate::format::placements::{Cadence, CoPurchase, PlacementParts, TimeUnit, Trending};
use std::collections::HashMap;

/// One order: who, when (in `unit`: days, or the buyer's basket ordinal), what.
#[derive(Debug, Clone, PartialEq)]
pub struct Basket {
    pub user: u32,
    pub time: f64,
    pub items: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Pairs bought together in fewer baskets are not stored.
    pub min_support: u32,
    /// Partners kept per item (most co-purchased first).
    pub max_partners: usize,
    /// Baskets larger than this add no pairs (a bulk order says little about
    /// what goes together, and costs size²).
    pub max_basket_pairs: usize,
    pub trending_half_life: f32,
    pub unit: TimeUnit,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            min_support: 1,
            max_partners: 100,
            max_basket_pairs: 100,
            trending_half_life: 14.0,
            unit: TimeUnit::Days,
        }
    }
}

fn distinct(items: &[u32]) -> Vec<u32> {
    let mut v = items.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Basket counts and the strongest co-purchase partners of every item.
/// Baskets with one item count toward the item's basket count only.
pub fn co_purchase(n: usize, baskets: &[Basket], o: &BuildOptions) -> CoPurchase {
    let mut basket_count = vec![0u32; n];
    let mut pairs: HashMap<(u32, u32), u32> = HashMap::new();
    for b in baskets {
        let items: Vec<u32> = distinct(&b.items)
            .into_iter()
            .filter(|&i| (i as usize) < n)
            .collect();
        for &i in &items {
            basket_count[i as usize] = basket_count[i as usize].saturating_add(1);
        }
        if items.len() < 2 || items.len() > o.max_basket_pairs {
            continue;
        }
        for (a, &x) in items.iter().enumerate() {
            for &y in &items[a + 1..] {
                let c = pairs.entry((x, y)).or_insert(0);
                *c = c.saturating_add(1);
            }
        }
    }
    let mut rows: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
    for (&(x, y), &c) in &pairs {
        if c >= o.min_support.max(1) {
            rows[x as usize].push((y, c));
            rows[y as usize].push((x, c));
        }
    }
    let mut offsets = Vec::with_capacity(n + 1);
    let (mut partners, mut co_count) = (Vec::new(), Vec::new());
    offsets.push(0u32);
    for row in &mut rows {
        row.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        row.truncate(o.max_partners);
        for &(x, c) in row.iter() {
            partners.push(x);
            co_count.push(c);
        }
        offsets.push(partners.len() as u32);
    }
    CoPurchase {
        n_baskets: baskets.len().min(u32::MAX as usize) as u32,
        min_support: o.min_support.max(1),
        basket_count,
        offsets,
        partners,
        co_count,
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Each buyer's purchase times per item, distinct and in order.
fn purchase_times(n: usize, baskets: &[Basket]) -> HashMap<(u32, u32), Vec<f64>> {
    let mut t: HashMap<(u32, u32), Vec<f64>> = HashMap::new();
    for b in baskets {
        for i in distinct(&b.items) {
            if (i as usize) < n {
                t.entry((b.user, i)).or_default().push(b.time);
            }
        }
    }
    for v in t.values_mut() {
        v.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v.dedup();
    }
    t
}

/// Median repurchase gap and repeat rate per item.
pub fn cadence(n: usize, baskets: &[Basket], unit: TimeUnit) -> Cadence {
    let mut gaps: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut buyers = vec![0u32; n];
    let mut repeaters = vec![0u32; n];
    let mut keys: Vec<((u32, u32), Vec<f64>)> = purchase_times(n, baskets).into_iter().collect();
    keys.sort_unstable_by_key(|(k, _)| *k);
    for ((_, i), times) in keys {
        let i = i as usize;
        buyers[i] += 1;
        if times.len() >= 2 {
            repeaters[i] += 1;
        }
        gaps[i].extend(times.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 0.0));
    }
    let mut all: Vec<f64> = gaps.iter().flatten().copied().collect();
    let global = median(&mut all).unwrap_or(match unit {
        TimeUnit::Days => 30.0,
        TimeUnit::Baskets => 1.0,
    });
    Cadence {
        unit,
        global_interval: global as f32,
        interval: gaps
            .iter_mut()
            .map(|g| median(g).map_or(f32::NAN, |m| m as f32))
            .collect(),
        repeat_rate: buyers
            .iter()
            .zip(&repeaters)
            .map(|(&b, &r)| if b == 0 { 0.0 } else { r as f32 / b as f32 })
            .collect(),
    }
}

/// Time-decayed purchase counts. With dates, ages count from the newest
/// basket in the log; with basket ordinals (no dates), from each buyer's own
/// latest basket: "what shoppers bought most recently".
pub fn trending(n: usize, baskets: &[Basket], half_life: f32, unit: TimeUnit) -> Trending {
    let mut recent = vec![0f64; n];
    let mut total = vec![0f32; n];
    let reference = baskets
        .iter()
        .map(|b| b.time)
        .fold(f64::NEG_INFINITY, f64::max);
    let reference = if reference.is_finite() {
        reference
    } else {
        0.0
    };
    let mut latest: HashMap<u32, f64> = HashMap::new();
    if unit == TimeUnit::Baskets {
        for b in baskets {
            let e = latest.entry(b.user).or_insert(b.time);
            *e = e.max(b.time);
        }
    }
    let h = half_life.max(f32::MIN_POSITIVE) as f64;
    for b in baskets {
        let now = match unit {
            TimeUnit::Days => reference,
            TimeUnit::Baskets => latest.get(&b.user).copied().unwrap_or(b.time),
        };
        let w = 0.5f64.powf((now - b.time).max(0.0) / h);
        for i in distinct(&b.items) {
            if let (Some(r), Some(t)) = (recent.get_mut(i as usize), total.get_mut(i as usize)) {
                *r += w;
                *t += 1.0;
            }
        }
    }
    Trending {
        unit,
        half_life,
        reference,
        recent: recent.into_iter().map(|v| v as f32).collect(),
        total,
    }
}

/// All three sections.
pub fn parts(n: usize, baskets: &[Basket], o: &BuildOptions) -> PlacementParts {
    PlacementParts {
        co_purchase: Some(co_purchase(n, baskets, o)),
        cadence: Some(cadence(n, baskets, o.unit)),
        trending: Some(trending(n, baskets, o.trending_half_life, o.unit)),
    }
}
