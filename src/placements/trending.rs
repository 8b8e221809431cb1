//! Trending facets: which categories are rising. A category rises when its
//! share of recent (time-decayed) purchases exceeds its share of all
//! purchases; both shares come from TRENDING, the categories from CATEGORY.

use crate::engine::Model;
use crate::error::{Error, Result};

/// One rising category.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    pub category: u32,
    /// Recent share ÷ overall share, shrunk toward 1 for thin categories.
    pub rise: f32,
    /// Σ decayed purchases in the category.
    pub recent: f32,
}

/// Purchases a category needs before its rise counts fully: the shrinkage
/// that keeps a category with two recent sales from topping the list.
pub const FACET_PRIOR: f64 = 20.0;

/// The `k` categories rising fastest, best first. Needs TRENDING and CATEGORY.
pub fn trending_facets(model: &Model, k: usize) -> Result<Vec<Facet>> {
    let v = model.view();
    let t = v.placements.trending.ok_or(Error::NoSection {
        section: "TRENDING",
        placement: "trendingFacets",
        flag: "--baskets FILE --trending-half-life DAYS",
    })?;
    let cats = v.category.ok_or(Error::MissingCapability {
        section: "CATEGORY",
        needed_for: "trending facets",
    })?;
    let nc = v.category_names.len();
    let mut recent = vec![0f64; nc];
    let mut total = vec![0f64; nc];
    for (i, &c) in cats.iter().enumerate() {
        if let (Some(r), Some(tt)) = (recent.get_mut(c as usize), total.get_mut(c as usize)) {
            *r += t.recent.get(i).copied().unwrap_or(0.0) as f64;
            *tt += t.total.get(i).copied().unwrap_or(0.0) as f64;
        }
    }
    let (rs, ts): (f64, f64) = (recent.iter().sum(), total.iter().sum());
    if rs <= 0.0 || ts <= 0.0 {
        return Ok(Vec::new());
    }
    let mut out: Vec<Facet> = (0..nc)
        .filter(|&c| total[c] > 0.0)
        .map(|c| {
            let ratio = (recent[c] / rs) / (total[c] / ts);
            // Thin categories are pulled toward "not rising" (ratio 1).
            let w = total[c] / (total[c] + FACET_PRIOR);
            Facet {
                category: c as u32,
                rise: (w * ratio + (1.0 - w)) as f32,
                recent: recent[c] as f32,
            }
        })
        .collect();
    crate::shopper::sort_by(&mut out, |a, b| {
        a.rise > b.rise || (a.rise == b.rise && a.category < b.category)
    });
    out.truncate(k);
    Ok(out)
}
