//! wasm-bindgen bindings: argument checking and conversion only. Every call
//! returns `Result<_, JsValue>` whose error is a JS `Error` with `name =
//! "VitrineError"` and a stable `code`; nothing here unwraps or panics.
//!
//! The crate builds two wasm modules from these bindings:
//! - the engine (default features): `Model` (recommendations, `model.rs`),
//!   the on-device shopper (`shopper.rs`) and `BundleBuffer`;
//! - the intent matcher (feature `intent-module`, `intent.rs`): a separate,
//!   smaller module the JS glue fetches on the first `matchIntent`, so pages
//!   that never ask a question never download it. It gets the INTENT section
//!   bytes from the engine's `Model.intentSection()`;
//! - the lean engine (feature `lean`): the engine without `shopper.rs`,
//!   `placements.rs` and `shards.rs`, for pages that only recommend.
//!   Its imports are a subset of the full engine's (same names), so the full
//!   build's JS glue runs it: a page selects it with the `wasmUrl` option.

#[cfg(feature = "intent-module")]
mod intent;
// Casts on JS-controlled sizes must be checked (`try_from`); `make lint`
// denies these (the intent module has its own owner and attributes).
#[cfg(not(feature = "intent-module"))]
#[warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
mod model;
#[cfg(not(feature = "intent-module"))]
#[warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
mod parallel;
#[cfg(not(any(feature = "intent-module", feature = "lean")))]
mod placements;
#[cfg(not(any(feature = "intent-module", feature = "lean")))]
#[warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
mod shards;
#[cfg(not(any(feature = "intent-module", feature = "lean")))]
#[warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
mod shopper;
#[cfg(not(feature = "intent-module"))]
#[warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
// The lean engine leaves out the shopper's and placements' option readers.
#[cfg_attr(feature = "lean", allow(dead_code))]
mod types;

use crate::error::Error;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;

/// Converts a core error into a JS `Error` carrying `code` (and `section` /
/// `offset` for bundle errors) so callers can branch on it.
pub(crate) fn js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("VitrineError");
    let obj: &JsValue = err.as_ref();
    let _ = Reflect::set(obj, &"code".into(), &e.code().into());
    if let Some(at) = e.location() {
        let _ = Reflect::set(obj, &"section".into(), &at.section.into());
        let _ = Reflect::set(obj, &"offset".into(), &(at.offset as f64).into());
    }
    err.into()
}

fn invalid(what: impl Into<String>) -> JsValue {
    js_error(Error::InvalidArgument { what: what.into() })
}

fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsValue> {
    let ser = serde_wasm_bindgen::Serializer::new()
        .serialize_maps_as_objects(true)
        .serialize_missing_as_null(true);
    v.serialize(&ser)
        .map_err(|e| invalid(format!("cannot convert result: {e}")))
}
