//! Model state → bundle parts, and per-user factor rows.
//!
//! User factors never go into the shared bundle: a bundle is public (every
//! shopper downloads it), a user's row is personal. `write_user_rows` writes
//! one small JSON file per user that a storefront serves to that user only.

use super::als::gram;
use super::error::{Result, TrainError};
use super::state::ModelState;
use crate::format::{BundleParts, Gram};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Fill prices deterministically from a hash of the item id (demo data
    /// only; recorded in the bundle meta as synthetic).
    pub synthetic_prices: bool,
    /// Bytes of an intent model (`vitrine intent train` output), stored opaque.
    pub intent: Option<Vec<u8>>,
    pub extra_meta: Vec<(String, String)>,
}

/// Identifies the trained model (not the dtype it was exported at), so a
/// user's row can be checked against whichever bundle the page loaded.
pub fn model_id(state: &ModelState) -> String {
    let mut a = crate::format::crc32::Crc32::new();
    for id in &state.header.items {
        a.update(id.as_bytes());
        a.update(&[0]);
    }
    for v in state.item_factors.iter() {
        a.update(&v.to_le_bytes());
    }
    let mut b = crate::format::crc32::Crc32::new();
    b.update(&(state.header.dim as u64).to_le_bytes());
    for v in state.user_factors.iter() {
        b.update(&v.to_le_bytes());
    }
    format!("{:08x}{:08x}", a.finalize(), b.finalize())
}

/// FNV-1a; stable across Rust versions, unlike `DefaultHasher`.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A plausible shop price in [2.99, 99.99] derived only from the id.
pub fn synthetic_price(id: &str) -> f32 {
    let h = fnv1a(id);
    (3 + (h % 98) as u32) as f32 - 0.01
}

pub fn bundle_parts(state: &ModelState, opts: &ExportOptions) -> Result<BundleParts> {
    let h = &state.header;
    let n = h.n_items;
    let factors: Vec<f32> = state.item_factors.iter().copied().collect();
    if factors.iter().any(|v| !v.is_finite()) {
        return Err(TrainError::State(
            "item factors contain non-finite values".into(),
        ));
    }
    let yty = gram(&state.item_factors);

    let (categories, category_names) = match &h.categories {
        Some(cats) => {
            let mut names: Vec<String> = cats.iter().filter(|c| !c.is_empty()).cloned().collect();
            names.sort();
            names.dedup();
            let index: BTreeMap<&str, u32> = names
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i as u32))
                .collect();
            let per_item = cats
                .iter()
                .map(|c| index.get(c.as_str()).copied().unwrap_or(u32::MAX))
                .collect();
            (Some(per_item), names)
        }
        None => (None, Vec::new()),
    };

    let mut meta: Vec<(String, String)> = vec![
        ("model_id".into(), model_id(state)),
        (
            "trainer".into(),
            format!("vitrine-als {}", env!("CARGO_PKG_VERSION")),
        ),
        ("dataset".into(), h.dataset.clone()),
        ("factors".into(), h.dim.to_string()),
        ("alpha".into(), h.alpha.to_string()),
        ("lambda".into(), h.lambda.to_string()),
        ("iterations".into(), h.iterations.to_string()),
        ("solver".into(), h.solver.clone()),
        ("seed".into(), h.seed.to_string()),
        ("n_users".into(), h.n_users.to_string()),
        ("confidence".into(), "1 + alpha * r".into()),
    ];
    if let (Some(c), false) = (&h.currency, opts.synthetic_prices) {
        meta.push(("currency".into(), c.clone()));
    }
    // The state keeps f32 prices; the bundle carries the decimal each stood
    // for (24.99, not 24.989999771118164), exact up to 7 significant digits.
    let prices: Option<Vec<f32>> = if opts.synthetic_prices {
        meta.push((
            "prices".into(),
            "synthetic: derived from a hash of the item id, not real".into(),
        ));
        Some(h.items.iter().map(|id| synthetic_price(id)).collect())
    } else {
        h.prices.clone()
    };
    // Caller-supplied keys replace the defaults rather than duplicating them.
    for (k, v) in &opts.extra_meta {
        match meta.iter_mut().find(|(mk, _)| mk == k) {
            Some(slot) => slot.1 = v.clone(),
            None => meta.push((k.clone(), v.clone())),
        }
    }

    Ok(BundleParts {
        ids: h.items.clone(),
        dim: h.dim,
        factors,
        int8_residual: false,
        bias: None,
        popularity: Some(h.popularity.clone()),
        categories,
        category_names,
        prices: prices.map(|p| p.into_iter().map(crate::format::decimal_of_f32).collect()),
        // Items the metadata did not list, and every item of a state
        // without stock data, are in stock.
        in_stock: Some(h.in_stock.clone().unwrap_or_else(|| vec![true; n])),
        titles: h.titles.clone(),
        gram: Some(Gram {
            yty: yty.iter().copied().collect(),
            lambda: h.lambda,
            alpha: h.alpha,
        }),
        neighbours: None,
        segments: None,
        ranker: None,
        behaviour: None,
        intent: opts.intent.clone(),
        meta,
    })
}

/// File-name-safe, reversible encoding of an id: `[A-Za-z0-9_-]` kept, every
/// other byte as `%XX`. Very long ids are cut and suffixed with a hash so
/// names stay under common file-system limits.
pub fn safe_file_name(id: &str) -> String {
    let mut s = String::with_capacity(id.len() + 5);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    if s.len() > 200 {
        s.truncate(180);
        s.push_str(&format!("~{:016x}", fnv1a(id)));
    }
    s.push_str(".json");
    s
}

#[derive(serde::Serialize)]
struct UserRow<'a> {
    user: &'a str,
    model_id: &'a str,
    dim: usize,
    vector: &'a [f32],
}

/// Writes `DIR/<safe id>.json` per user; returns how many were written.
pub fn write_user_rows(dir: &Path, state: &ModelState, model_id: &str) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let d = state.header.dim;
    let mut seen = std::collections::HashSet::new();
    for (u, id) in state.header.users.iter().enumerate() {
        let name = safe_file_name(id);
        if !seen.insert(name.clone()) {
            return Err(TrainError::State(format!(
                "two user ids map to the file name {name}"
            )));
        }
        let row = state.user_factors.row(u);
        let vector: Vec<f32> = row.iter().copied().collect();
        let json = serde_json::to_vec(&UserRow {
            user: id,
            model_id,
            dim: d,
            vector: &vector,
        })
        .map_err(|e| TrainError::State(e.to_string()))?;
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, &json).map_err(|e| TrainError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))?;
    }
    Ok(state.header.users.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(safe_file_name("1m_1"), "1m_1.json");
        assert_eq!(
            safe_file_name("../etc/passwd"),
            "%2E%2E%2Fetc%2Fpasswd.json"
        );
        assert_ne!(safe_file_name("a b"), safe_file_name("a_b"));
        let long = "x".repeat(1000);
        assert!(safe_file_name(&long).len() < 255);
    }

    #[test]
    fn synthetic_prices_are_deterministic_and_bounded() {
        assert_eq!(
            synthetic_price("Toy Story (1995)"),
            synthetic_price("Toy Story (1995)")
        );
        for id in ["a", "b", "c", "Heat (1995)"] {
            let p = synthetic_price(id);
            assert!((2.98..=100.0).contains(&p), "{p}");
        }
    }
}
