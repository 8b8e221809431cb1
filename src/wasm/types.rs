//! Every JS-facing shape in one place. The wasm-bindgen `.d.ts` types these as
//! `any`; `pkg/vitrine.d.ts` spells them out for TypeScript users and must
//! follow this file.

use crate::error::Quoted;
use js_sys::{Array, Reflect};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

/// `{k, exclude, categories, priceMin, priceMax, inStockOnly}`; unknown keys are
/// refused so a typo (`instock`) is an error rather than a silently ignored filter.
/// Read by hand with `Reflect` rather than serde: the messages name the exact
/// key and element, and no float-formatting deserializer lands in the wasm.
#[derive(Default)]
pub struct RecOptionsJs {
    pub k: Option<f64>,
    pub exclude: Option<Vec<String>>,
    pub categories: Option<Vec<String>>,
    pub price_min: Option<f64>,
    pub price_max: Option<f64>,
    pub in_stock_only: Option<bool>,
}

impl RecOptionsJs {
    pub const FIELDS: [&'static str; 6] = [
        "k",
        "exclude",
        "categories",
        "priceMin",
        "priceMax",
        "inStockOnly",
    ];

    /// `Err` carries a message for `INVALID_ARGUMENT`.
    pub fn from_js(options: &JsValue) -> Result<Self, String> {
        if options.is_undefined() || options.is_null() {
            return Ok(Self::default());
        }
        if !options.is_object() || Array::is_array(options) {
            return Err("options must be an object like {k: 10}".into());
        }
        check_keys(options, &Self::FIELDS, "option")?;
        Ok(RecOptionsJs {
            k: number(options, "k")?,
            exclude: strings(options, "exclude")?,
            categories: strings(options, "categories")?,
            price_min: number(options, "priceMin")?,
            price_max: number(options, "priceMax")?,
            in_stock_only: boolean(options, "inStockOnly")?,
        })
    }
}

// Readers for plain JS option objects, shared by every binding. `Err` is the
// message for an `INVALID_ARGUMENT` error.

/// Refuses keys outside `allowed`, so a typo is an error, not a silently
/// ignored setting. `what` names the keys in the message ("option", ...).
pub fn check_keys(obj: &JsValue, allowed: &[&str], what: &str) -> Result<(), String> {
    for key in js_sys::Object::keys(obj.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            return Err(format!(
                "unknown {what} {}; expected one of {}",
                Quoted(&key),
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

/// The property, or `None` when it is undefined or null.
pub fn prop(obj: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

pub fn number(obj: &JsValue, key: &str) -> Result<Option<f64>, String> {
    match prop(obj, key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a number")),
    }
}

pub fn boolean(obj: &JsValue, key: &str) -> Result<Option<bool>, String> {
    match prop(obj, key) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| format!("{key} must be true or false")),
    }
}

/// An array of strings (ids or category names).
pub fn strings(obj: &JsValue, key: &str) -> Result<Option<Vec<String>>, String> {
    let Some(v) = prop(obj, key) else {
        return Ok(None);
    };
    let arr = v
        .dyn_ref::<Array>()
        .ok_or_else(|| format!("{key} must be an array of strings"))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_string()
                .ok_or_else(|| format!("{key}[{i}] must be a string"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Describes a number for a message without pulling float formatting into
/// the wasm (whole numbers print exactly, others to three decimals).
pub fn describe(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if x.fract() == 0.0 && x.abs() < 9e15 {
        (x as i64).to_string()
    } else if x.abs() < 9e15 {
        let sign = if x < 0.0 { "-" } else { "" };
        let a = x.abs();
        let milli = (a.fract() * 1000.0).round() as i64;
        format!("{sign}{}.{milli:03}", a.trunc() as i64)
    } else {
        "a very large number".into()
    }
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
    pub meta: Pairs,
    pub sections: Vec<SectionOut>,
    pub categories: Vec<String>,
    pub has_gram: bool,
    pub has_neighbours: bool,
    pub has_segments: bool,
    pub has_intent: bool,
    pub has_residual: bool,
    pub simd: bool,
}

/// Key/value pairs in bundle order, serialized as one JS object (a later
/// duplicate key wins, as in the bundle reader). Not a `BTreeMap`: its code
/// costs a few KB of wasm for a call made once per page.
pub struct Pairs(pub Vec<(String, String)>);

impl Serialize for Pairs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
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
