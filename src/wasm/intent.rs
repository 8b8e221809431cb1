//! The intent module's bindings (feature `intent-module`, its own wasm file):
//! `IntentModel.fromBytes(bytes)` takes a `.vti` file or a bundle's INTENT
//! section (`Model.intentSection()` in the engine module); the JS glue turns
//! product mentions' item indices into ids with the engine's `itemId`.
//!
//! Results are plain JS objects (serde-wasm-bindgen), shaped like the Rust
//! `IntentMatch`: `{intent, confidence, alternatives: [{intent, confidence}],
//! slots: {order_numbers, quantities: [{value, unit}], price: {min, max,
//! amount, currency, cheaper, more_expensive} | null, products: [{item,
//! score}]}, truncated, action, response, mood: {label, confidence} | null,
//! escalate}`. JS strings are UTF-16; a lone
//! surrogate reaches Rust as U+FFFD (wasm-bindgen encodes with TextEncoder),
//! which the matcher treats as a separator.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::{js_error, to_js};
use crate::error::Error;
use crate::intent::IntentModel;

/// `text` with phone numbers, e-mail addresses, card numbers (Luhn) and
/// security codes after a cue, Chinese resident ID numbers (check digit)
/// and passport numbers after a cue, and street addresses (zh, en, European
/// with postcodes) masked as `[phone]`, `[email]`, `[card]`, `[id_number]`,
/// `[address]`; order numbers stay. For storefronts that forward a question
/// to a human agent. Needs no model.
#[wasm_bindgen]
pub fn redact(text: &str) -> String {
    crate::intent::redact(text)
}

/// A standalone intent model (`.vti` bytes), usable without a bundle.
#[wasm_bindgen(js_name = IntentModel)]
pub struct IntentModelJs {
    inner: Rc<IntentModel>,
    threshold: f32,
    /// Negative messages so far in this conversation: one more is a
    /// repeated complaint (`escalate`). Reset by `resetConversation()`.
    negatives: u32,
}

impl IntentModelJs {
    fn new(inner: Rc<IntentModel>) -> Self {
        let threshold = inner.threshold();
        IntentModelJs {
            inner,
            threshold,
            negatives: 0,
        }
    }
}

#[wasm_bindgen(js_class = IntentModel)]
impl IntentModelJs {
    /// Parses and validates a `.vti` file (or a bundle's INTENT section).
    /// With `nItems` (the bundle's item count), a title index built for
    /// another catalogue is refused with `BAD_SECTION` here, instead of
    /// failing later as `UNKNOWN_ITEM` on a shopper's question.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8], n_items: Option<u32>) -> Result<IntentModelJs, JsValue> {
        let m = match n_items {
            Some(n) => IntentModel::from_bytes_for(bytes, n as usize),
            None => IntentModel::from_bytes(bytes),
        };
        m.map(|m| IntentModelJs::new(Rc::new(m))).map_err(js_error)
    }

    /// Classifies `text`; see the module docs for the result shape. Each
    /// call is one message of the current conversation: a negative message
    /// after an earlier negative one sets `escalate` (repeated complaint).
    #[wasm_bindgen(js_name = matchIntent)]
    pub fn match_intent(&mut self, text: &str) -> Result<JsValue, JsValue> {
        let m = self
            .inner
            .match_in_conversation(text, self.threshold, self.negatives);
        if m.mood.is_some_and(|x| x.label == "negative") {
            self.negatives = self.negatives.saturating_add(1);
        }
        to_js(&m)
    }

    /// Starts a new conversation: earlier negative messages no longer count
    /// towards a repeated complaint.
    #[wasm_bindgen(js_name = resetConversation)]
    pub fn reset_conversation(&mut self) {
        self.negatives = 0;
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
