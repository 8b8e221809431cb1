//! Every JS-facing shape in one place. The wasm-bindgen `.d.ts` types these as
//! `any`; `pkg/vitrine.d.ts` spells them out for TypeScript users and must
//! follow this file.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `{k, exclude, categories, priceMin, priceMax, inStockOnly}`; unknown keys are
/// refused so a typo (`instock`) is an error rather than a silently ignored filter.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RecOptionsJs {
    pub k: Option<f64>,
    pub exclude: Option<Vec<String>>,
    pub categories: Option<Vec<String>>,
    pub price_min: Option<f64>,
    pub price_max: Option<f64>,
    pub in_stock_only: Option<bool>,
}

impl RecOptionsJs {
    pub const FIELDS: [&'static str; 6] =
        ["k", "exclude", "categories", "priceMin", "priceMax", "inStockOnly"];
}

#[derive(Serialize)]
pub struct ScoredJs {
    pub id: String,
    pub score: f32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub items: Vec<ScoredJs>,
    pub unknown_excludes: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionOut {
    pub kind: u32,
    pub name: &'static str,
    pub offset: f64,
    pub length: f64,
    pub crc32: u32,
    pub required: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub format_version: String,
    pub n_items: usize,
    pub dim: usize,
    pub dtype: &'static str,
    pub bytes: usize,
    pub meta: BTreeMap<String, String>,
    pub sections: Vec<SectionOut>,
    pub categories: Vec<String>,
    pub has_gram: bool,
    pub has_neighbours: bool,
    pub has_segments: bool,
    pub has_intent: bool,
    pub simd: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemOut {
    pub id: String,
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_stock: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub popularity: Option<f32>,
}
