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

use std::cell::RefCell;
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

/// (section address, section length, stored CRC bytes, parsed model).
type CacheEntry = (usize, usize, [u8; 4], Rc<IntentModel>);

thread_local! {
    /// The parsed INTENT section of the most recently used bundle, keyed by
    /// the section's address, length and stored CRC, so repeated
    /// `matchIntent` calls parse once. A freed bundle whose memory is reused
    /// for another one differs in CRC (or is re-parsed harmlessly).
    static CACHE: RefCell<Option<CacheEntry>> = const { RefCell::new(None) };
}

fn bundle_intent(model: &Model) -> Result<Rc<IntentModel>, Error> {
    let view = model.inner.view();
    let blob = view.intent.ok_or(Error::NoIntentModel)?;
    let mut crc = [0u8; 4];
    if let Some(c) = blob.get(16..20) {
        crc.copy_from_slice(c);
    }
    let key = (blob.as_ptr() as usize, blob.len(), crc);
    CACHE.with(|cache| {
        if let Some((p, l, c, m)) = cache.borrow().as_ref() {
            if (*p, *l, *c) == key {
                return Ok(m.clone());
            }
        }
        let m = Rc::new(IntentModel::from_bytes(blob)?);
        *cache.borrow_mut() = Some((key.0, key.1, key.2, m.clone()));
        Ok(m)
    })
}

#[wasm_bindgen]
impl Model {
    /// Classifies `text` with the bundle's intent model. Throws a
    /// `VitrineError` with code `NO_INTENT_MODEL` when the bundle has none.
    #[wasm_bindgen(js_name = matchIntent)]
    pub fn match_intent(&self, text: &str) -> Result<JsValue, JsValue> {
        let m = bundle_intent(self).map_err(js_error)?;
        to_js(&m.match_text(text))
    }

    /// The bundle's intent model as a standalone object (parsed once).
    #[wasm_bindgen(js_name = intentModel)]
    pub fn intent_model(&self) -> Result<IntentModelJs, JsValue> {
        bundle_intent(self)
            .map(IntentModelJs::new)
            .map_err(js_error)
    }
}
