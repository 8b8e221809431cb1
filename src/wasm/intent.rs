//! Intent matching for JavaScript: `model.matchIntent(text)` on a bundle with
//! an INTENT section, and a standalone `IntentModel.fromBytes(vtiBytes)`.
//!
//! Results are plain JS objects (serde-wasm-bindgen), shaped like the Rust
//! `IntentMatch`: `{intent, confidence, alternatives: [{intent, confidence}],
//! slots: {order_numbers, quantities: [{value, unit}], price: {min, max,
//! amount, currency, cheaper, more_expensive} | null, products: [{item,
//! score}]}, truncated, action, response}`. JS strings are UTF-16; a lone
//! surrogate reaches Rust as U+FFFD (wasm-bindgen encodes with TextEncoder),
//! which the matcher treats as a separator.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::{js_error, to_js, Model};
use crate::error::Error;
use crate::intent::IntentModel;

/// A standalone intent model (`.vti` bytes), usable without a bundle.
#[wasm_bindgen(js_name = IntentModel)]
pub struct IntentModelJs {
    inner: Rc<IntentModel>,
    threshold: f32,
}

impl IntentModelJs {
    fn new(inner: Rc<IntentModel>) -> Self {
        let threshold = inner.threshold();
        IntentModelJs { inner, threshold }
    }
}

#[wasm_bindgen(js_class = IntentModel)]
impl IntentModelJs {
    /// Parses and validates a `.vti` file (or a bundle's INTENT section).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<IntentModelJs, JsValue> {
        IntentModel::from_bytes(bytes)
            .map(|m| IntentModelJs::new(Rc::new(m)))
            .map_err(js_error)
    }

    /// Classifies `text`; see the module docs for the result shape.
    #[wasm_bindgen(js_name = matchIntent)]
    pub fn match_intent(&self, text: &str) -> Result<JsValue, JsValue> {
        to_js(&self.inner.match_text_at(text, self.threshold))
    }

    /// Intent names, in model order.
    #[wasm_bindgen(getter)]
    pub fn intents(&self) -> Vec<String> {
        self.inner.class_names().map(str::to_owned).collect()
    }

    /// Calibrated out-of-scope threshold on `confidence`.
    #[wasm_bindgen(getter)]
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Overrides the threshold (0 = never answer `intent: null`).
    #[wasm_bindgen(js_name = setThreshold)]
    pub fn set_threshold(&mut self, t: f32) -> Result<(), JsValue> {
        if !(0.0..=1.0).contains(&t) {
            return Err(js_error(Error::InvalidArgument {
                what: "threshold must be in [0, 1]".into(),
            }));
        }
        self.threshold = t;
        Ok(())
    }
}

/// The bundle's INTENT section, parsed on first use and kept with the model.
fn bundle_intent(model: &Model) -> Result<Rc<IntentModel>, Error> {
    if let Some(m) = model.intent.get() {
        return Ok(m.clone());
    }
    let blob = model.inner.view().intent.ok_or(Error::NoIntentModel)?;
    let m = Rc::new(IntentModel::from_bytes(blob)?);
    let _ = model.intent.set(m.clone());
    Ok(m)
}

#[wasm_bindgen]
impl Model {
    /// Classifies `text` with the bundle's intent model. Throws a
    /// `VitrineError` with code `NO_INTENT_MODEL` when the bundle has none.
    #[wasm_bindgen(js_name = matchIntent)]
    pub fn match_intent(&self, text: &str) -> Result<JsValue, JsValue> {
        let m = bundle_intent(self).map_err(js_error)?;
        let r = m.match_text(text);
        let out = to_js(&r)?;
        // Product mentions carry item indices; the bundle knows their ids, which
        // is what a storefront passes on to `similar(id, {priceMax})`.
        if !r.slots.products.is_empty() {
            let slots = js_sys::Reflect::get(&out, &"slots".into())?;
            let products = js_sys::Reflect::get(&slots, &"products".into())?;
            for (i, p) in r.slots.products.iter().enumerate() {
                let o = js_sys::Reflect::get(&products, &(i as u32).into())?;
                let id = self.inner.item_id(p.item as usize).unwrap_or_default();
                js_sys::Reflect::set(&o, &"id".into(), &id.into())?;
            }
        }
        Ok(out)
    }

    /// The bundle's intent model as a standalone object (parsed once).
    #[wasm_bindgen(js_name = intentModel)]
    pub fn intent_model(&self) -> Result<IntentModelJs, JsValue> {
        bundle_intent(self)
            .map(IntentModelJs::new)
            .map_err(js_error)
    }
}
