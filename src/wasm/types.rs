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

    /// `Err` carries a message for `INVALID_ARGUMENT`. `extra`: keys allowed
    /// besides [`Self::FIELDS`], read by the caller.
    pub fn from_js_with(options: &JsValue, extra: &[&str]) -> Result<Self, String> {
        if options.is_undefined() || options.is_null() {
            return Ok(Self::default());
        }
        if !options.is_object() || Array::is_array(options) {
            return Err("options must be an object like {k: 10}".into());
        }
        let allowed: Vec<&str> = Self::FIELDS.iter().chain(extra).copied().collect();
        check_keys(options, &allowed, "option")?;
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

/// Longest array the bindings read from JS (events, candidate ids, exclude,
/// ...): past it a typed error, not a multi-gigabyte reservation that traps.
pub const MAX_ARRAY: u32 = 1 << 20;

fn threw(what: &str, e: &JsValue) -> String {
    let why = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "an exception".into());
    format!("reading {what} threw: {why}")
}

/// Refuses own keys outside `allowed`, so a typo is an error, not a silently
/// ignored setting. `what` names the keys in the message ("option", ...).
/// `Reflect.ownKeys` (a catching import): a Proxy whose trap throws gives an
/// error instead of an exception unwinding through the wasm.
pub fn check_keys(obj: &JsValue, allowed: &[&str], what: &str) -> Result<(), String> {
    let keys = Reflect::own_keys(obj).map_err(|e| threw(&format!("the {what}s"), &e))?;
    for key in keys.iter() {
        // Symbols cannot be typos of an option name.
        let Some(key) = key.as_string() else {
            continue;
        };
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

/// Own property `key` of `obj`, or `None` when it is absent, undefined or
/// null. Own only: a key set on `Object.prototype` (prototype pollution)
/// never reaches the engine. Both steps are catching `Reflect` calls, so a
/// throwing getter or Proxy trap is an error message, not an unwind.
pub fn prop(obj: &JsValue, key: &'static str) -> Result<Option<JsValue>, String> {
    own(obj, &name(key), key)
}

/// [`prop`] for a key made at run time (an item id): no cached name.
pub fn prop_named(obj: &JsValue, key: &str) -> Result<Option<JsValue>, String> {
    own(obj, &JsValue::from_str(key), key)
}

std::thread_local! {
    /// JS strings of the property names the bindings read, made on first
    /// use and kept: each new JS string decodes its UTF-8 (a `TextDecoder`
    /// call, ~0.3 µs), and one `recommend` reads eleven option names, one
    /// shopper call four per event. Keyed by address: only `&'static str`
    /// names come here, so the list is bounded by the literals in the binary.
    static NAMES: std::cell::RefCell<Vec<(usize, usize, JsValue)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `key` as a JS string, made once per name (see `NAMES`).
pub fn name(key: &'static str) -> JsValue {
    let at = (key.as_ptr() as usize, key.len());
    NAMES.with(|names| {
        if let Some((.., v)) = names.borrow().iter().find(|(p, n, _)| (*p, *n) == at) {
            return v.clone();
        }
        let v = JsValue::from_str(key);
        names.borrow_mut().push((at.0, at.1, v.clone()));
        v
    })
}

fn own(obj: &JsValue, k: &JsValue, key: &str) -> Result<Option<JsValue>, String> {
    // `is_object`, not `dyn_ref::<Object>` (an `instanceof Object` test):
    // option objects built with `Object.create(null)` — as the glue copies
    // them to keep prototype pollution out — are objects too.
    if !obj.is_object() {
        return Ok(None);
    }
    let o: &js_sys::Object = obj.unchecked_ref();
    let desc = Reflect::get_own_property_descriptor(o, k).map_err(|e| threw(key, &e))?;
    if desc.is_undefined() {
        return Ok(None);
    }
    let v = Reflect::get(obj, k).map_err(|e| threw(key, &e))?;
    Ok(Some(v).filter(|v| !v.is_undefined() && !v.is_null()))
}

/// The elements of a JS array, own elements only: a hole reads as
/// `undefined`, never as a value inherited from `Array.prototype`. Refuses
/// arrays longer than `max` before reading anything.
pub fn elements(arr: &Array, what: &str, max: u32) -> Result<Vec<JsValue>, String> {
    let len = length(arr, what)?;
    if len > max {
        return Err(format!(
            "{what} has {len} entries; at most {max} are accepted"
        ));
    }
    // A dense array (own keys = its indices + "length") has no holes, so
    // plain indexed reads cannot reach the prototype: one call, not 2 × len.
    let dense = Reflect::own_keys(arr)
        .map_err(|e| threw(what, &e))?
        .length()
        == len.saturating_add(1);
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        if !dense {
            let d = Reflect::get_own_property_descriptor(arr, &JsValue::from(i))
                .map_err(|e| threw(what, &e))?;
            if d.is_undefined() {
                out.push(JsValue::UNDEFINED);
                continue;
            }
        }
        out.push(Reflect::get_u32(arr, i).map_err(|e| threw(what, &e))?);
    }
    Ok(out)
}

/// `arr.length` through a catching `Reflect.get`: `Array.isArray` is true
/// for a Proxy over an array, and its `get` trap may throw. The plain
/// `Array::length` import does not catch, so that exception would unwind
/// through the wasm and leave the model borrowed (it could never be freed).
pub fn length(arr: &Array, what: &str) -> Result<u32, String> {
    let v = Reflect::get(arr, &name("length")).map_err(|e| threw(what, &e))?;
    match v.as_f64() {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a whole number in 0..=u32::MAX, checked in the guard"
        )]
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => Ok(n as u32),
        _ => Err(format!("{what} has no valid length")),
    }
}

pub fn number(obj: &JsValue, key: &'static str) -> Result<Option<f64>, String> {
    match prop(obj, key)? {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a number")),
    }
}

/// A number that must fit f32 in `0..=max` (weights, blend): a JS number
/// like 1e39 would otherwise become Infinity on the way to f32.
pub fn weight(v: Option<f64>, name: &str, max: f64, max_text: &str) -> Result<Option<f32>, String> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && (0.0..=max).contains(&x) => {
            #[allow(clippy::cast_possible_truncation, reason = "x ≤ max, which fits f32")]
            let f = x as f32;
            Ok(Some(f))
        }
        Some(_) => Err(format!("{name} must be a finite number in 0..={max_text}")),
    }
}

pub fn boolean(obj: &JsValue, key: &'static str) -> Result<Option<bool>, String> {
    match prop(obj, key)? {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| format!("{key} must be true or false")),
    }
}

/// An array of strings (ids or category names).
pub fn strings(obj: &JsValue, key: &'static str) -> Result<Option<Vec<String>>, String> {
    let Some(v) = prop(obj, key)? else {
        return Ok(None);
    };
    let arr = v
        .dyn_ref::<Array>()
        .ok_or_else(|| format!("{key} must be an array of strings"))?;
    string_elements(arr, key, MAX_ARRAY).map(Some)
}

/// The elements of a JS array that must all be strings, read one by one so
/// that the first bad one ends the read (a million numbers cost one read,
/// not a million). Holes need no own-key check when they can only read as
/// `undefined` ([`plain_holes`]), which is refused like any non-string.
pub fn string_elements(arr: &Array, what: &str, max: u32) -> Result<Vec<String>, String> {
    let must = |i: usize, x: JsValue| {
        x.as_string()
            .ok_or_else(|| format!("{what}[{i}] must be a string"))
    };
    // Not in the lean build: its 2 KB would take it past its size budget, and
    // it has no placements (the lists a page may fill with a cart's worth of ids).
    #[cfg(not(feature = "lean"))]
    if plain_holes(arr, what)? {
        let len = length(arr, what)?;
        if len > max {
            return Err(format!(
                "{what} has {len} entries; at most {max} are accepted"
            ));
        }
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            let x = Reflect::get_u32(arr, i).map_err(|e| threw(what, &e))?;
            out.push(must(i as usize, x)?);
        }
        return Ok(out);
    }
    elements(arr, what, max)?
        .into_iter()
        .enumerate()
        .map(|(i, x)| must(i, x))
        .collect()
}

/// Whether a hole in `arr` can only read as `undefined`: its prototype is
/// this realm's `Array.prototype`, and neither that nor `Object.prototype`
/// has an own index key (prototype pollution like `Array.prototype[3] = 'x'`).
#[cfg(not(feature = "lean"))]
fn plain_holes(arr: &Array, what: &str) -> Result<bool, String> {
    let proto = Reflect::get_prototype_of(arr).map_err(|e| threw(what, &e))?;
    let array_proto = Reflect::get_prototype_of(&Array::new()).map_err(|e| threw(what, &e))?;
    if !js_sys::Object::is(&proto, &array_proto) {
        return Ok(false);
    }
    let object_proto = Reflect::get_prototype_of(&array_proto).map_err(|e| threw(what, &e))?;
    for p in [&array_proto, &object_proto] {
        let keys = Reflect::own_keys(p).map_err(|e| threw(what, &e))?;
        let index = keys.iter().any(|k| {
            k.as_string()
                .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        });
        if index {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Describes a number for a message without pulling float formatting into
/// the wasm (whole numbers print exactly, others to three decimals).
#[allow(
    clippy::cast_possible_truncation,
    reason = "|x| < 9e15 in the integer branches: exact in i64"
)]
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
    /// Bytes of the int8 screen of f32 / f16 rows (0: none; engine `screen`).
    pub screen_bytes: usize,
    pub simd: bool,
    /// What the shopper's recommend / rerank rank with (`ranker_info`).
    pub ranker: RankerInfo,
}

/// `{active: 'learned' | 'blend' | 'fallback', reason}`: the bundle's
/// learned ranker, no RANKER section, or a refused one (reason says why).
#[derive(Serialize)]
pub struct RankerInfo {
    pub active: &'static str,
    pub reason: Option<String>,
}

pub fn ranker_info(m: &crate::engine::Model) -> RankerInfo {
    use crate::ranker::Used;
    match crate::ranker::status(m) {
        // A section trained on an older feature spec is used by name, the
        // features it lacks weighted 0: say so, it may be worth retraining.
        Used::Ranker(_) => RankerInfo {
            active: "learned",
            reason: crate::ranker::missing_features(m).map(|f| {
                format!(
                    "trained on an older feature spec: {} computed but weighted 0 (retrain to use them)",
                    f.join(", ")
                )
            }),
        },
        Used::Blend => RankerInfo {
            active: "blend",
            reason: None,
        },
        Used::BlendFallback(why) => RankerInfo {
            active: "fallback",
            reason: Some(why),
        },
    }
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
    /// Exactly as exported (PRICE_F64; for older bundles the decimal the f32 stood for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_stock: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub popularity: Option<f32>,
}

/// The readers above for the bindings: their message becomes an
/// `INVALID_ARGUMENT` error, and results are set on plain JS objects.
pub mod js {
    use super::super::invalid;
    use js_sys::{Object, Reflect};
    use wasm_bindgen::JsValue;

    pub fn num(o: &JsValue, key: &'static str) -> Result<Option<f64>, JsValue> {
        super::number(o, key).map_err(invalid)
    }

    pub fn boolean(o: &JsValue, key: &'static str) -> Result<Option<bool>, JsValue> {
        super::boolean(o, key).map_err(invalid)
    }

    pub fn strings(o: &JsValue, key: &'static str) -> Result<Option<Vec<String>>, JsValue> {
        super::strings(o, key).map_err(invalid)
    }

    pub fn set(o: &Object, key: &str, v: impl Into<JsValue>) {
        let _ = Reflect::set(o, &JsValue::from_str(key), &v.into());
    }
}
