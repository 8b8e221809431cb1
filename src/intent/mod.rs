//! On-device intent matching: a hashed n-gram linear classifier with an
//! out-of-scope threshold, rule-based slots and a catalogue title index.
//!
//! Everything a storefront needs to answer "where is my order 12345" or
//! "有没有便宜点的" runs here, in the browser, so the shopper's text never
//! leaves the device. Training lives in [`train`] (native only); this module
//! and its submodules other than `train`/`csv` compile into the wasm and stay
//! free of dependencies beyond `std`, `serde` and `format::crc32`.
//!
//! See `docs/intent.md` for the feature set, the normalization subset, the
//! `.vti` byte layout and the evaluation protocol.

// The decoder and the matcher read untrusted bytes and text in the browser:
// casts there must be checked (`try_from`) or carry their reason; `make lint`
// denies unchecked ones. The native trainer (`train`, `csv`) is exempt.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod codec;
pub mod escalate;
pub mod features;
pub mod normalize;
pub mod redact;
pub mod slots;
pub mod titles;

#[cfg(not(target_arch = "wasm32"))]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "native trainer: sizes come from the trainer's own data, not from the wire"
)]
pub mod csv;
#[cfg(not(target_arch = "wasm32"))]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "native trainer: sizes come from the trainer's own data, not from the wire"
)]
pub mod train;

use std::cell::RefCell;

use serde::Serialize;

pub use features::FeatureConfig;
pub use normalize::MAX_INPUT_CHARS;
pub use redact::redact;
pub use slots::{PriceSlot, ProductMention, Quantity, Slots};
pub use titles::TitleIndex;

use crate::error::Error;

/// The mood labels, in the head's class order.
pub const MOODS: [&str; 3] = ["negative", "neutral", "positive"];

/// Borrowed view of one sparse int8 linear layer (intent or mood head).
struct Sparse<'a> {
    bias: &'a [f32],
    scales: &'a [f32],
    hashes: &'a [u32],
    offsets: &'a [u32],
    entry_class: &'a [u8],
    entry_weight: &'a [i8],
}

impl Sparse<'_> {
    /// Softmax over the classes for sorted, deduplicated feature hashes;
    /// logits normalized by 1/sqrt(all features), as in training.
    fn probabilities(&self, feats: &[u32], probs: &mut [f32]) {
        let c = self.bias.len();
        let mut acc = [0i32; MAX_CLASSES];
        for h in feats {
            if let Ok(i) = self.hashes.binary_search(h) {
                let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
                for (&k, &w) in self.entry_class[a..b].iter().zip(&self.entry_weight[a..b]) {
                    acc[k as usize] += w as i32;
                }
            }
        }
        let norm = if feats.is_empty() {
            0.0
        } else {
            1.0 / (feats.len() as f32).sqrt()
        };
        let mut max = f32::NEG_INFINITY;
        for k in 0..c {
            let z = self.bias[k] + self.scales[k] * acc[k] as f32 * norm;
            probs[k] = z;
            max = max.max(z);
        }
        let mut sum = 0.0;
        for p in probs[..c].iter_mut() {
            *p = (*p - max).exp();
            sum += *p;
        }
        for p in probs[..c].iter_mut() {
            *p /= sum;
        }
    }
}

/// A three-class (negative / neutral / positive) sparse int8 linear head over
/// the intent model's own features, so mood costs one more pass over the
/// features the text already has.
#[derive(Clone, Debug, PartialEq)]
pub struct MoodHead {
    pub(crate) bias: Vec<f32>,
    pub(crate) scales: Vec<f32>,
    pub(crate) hashes: Vec<u32>,
    pub(crate) offsets: Vec<u32>,
    pub(crate) entry_class: Vec<u8>,
    pub(crate) entry_weight: Vec<i8>,
}

impl MoodHead {
    fn sparse(&self) -> Sparse<'_> {
        Sparse {
            bias: &self.bias,
            scales: &self.scales,
            hashes: &self.hashes,
            offsets: &self.offsets,
            entry_class: &self.entry_class,
            entry_weight: &self.entry_weight,
        }
    }

    /// Best mood and its probability for already-extracted features.
    pub(crate) fn classify(&self, feats: &[u32]) -> Mood {
        let mut probs = [0f32; 3];
        self.sparse().probabilities(feats, &mut probs);
        let (k, p) = top_k::<1>(&probs)[0].unwrap_or((1, 1.0));
        Mood {
            label: MOODS[k],
            confidence: p,
        }
    }

    pub fn n_features(&self) -> usize {
        self.hashes.len()
    }
}

/// The shopper's mood in one message.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Mood {
    /// `negative`, `neutral` or `positive`.
    pub label: &'static str,
    pub confidence: f32,
}

/// Classes are stored as `u8` indices next to each weight; more intents than
/// this do not fit a help box anyway.
pub const MAX_CLASSES: usize = 256;

/// Per-intent configuration carried in the model so the storefront can act on
/// a match without a second lookup table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntentClass {
    pub name: String,
    pub action: String,
    pub response: String,
}

/// A trained, int8-quantized intent model (plus an optional title index).
///
/// Weights are stored feature-major and sparse: for each kept feature hash,
/// the (class, weight) pairs whose quantized weight is non-zero. Scoring a
/// query therefore touches only the rows of the features it contains.
#[derive(Clone, Debug, PartialEq)]
pub struct IntentModel {
    pub(crate) features: FeatureConfig,
    pub(crate) threshold: f32,
    pub(crate) classes: Vec<IntentClass>,
    pub(crate) bias: Vec<f32>,
    /// Per-class dequantization scale: weight = scale[class] * q.
    pub(crate) scales: Vec<f32>,
    pub(crate) hashes: Vec<u32>,
    /// `hashes.len() + 1` offsets into `entry_class` / `entry_weight`.
    pub(crate) offsets: Vec<u32>,
    pub(crate) entry_class: Vec<u8>,
    pub(crate) entry_weight: Vec<i8>,
    pub(crate) titles: Option<TitleIndex>,
    pub(crate) mood: Option<MoodHead>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alternative {
    pub intent: String,
    pub confidence: f32,
}

/// The result of [`IntentModel::match_text`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentMatch {
    /// `None` when the best confidence is below the calibrated threshold
    /// (out of scope) or the text has nothing to match.
    pub intent: Option<String>,
    /// Softmax probability of the best class (also when `intent` is `None`).
    pub confidence: f32,
    /// Up to three next-best guesses, best first; when `intent` is `None`
    /// they start with the rejected best guess.
    pub alternatives: Vec<Alternative>,
    pub slots: Slots,
    /// The input was longer than [`MAX_INPUT_CHARS`] and only its start was used.
    pub truncated: bool,
    /// The matched intent's configured action / response (`None` when unset).
    pub action: Option<String>,
    pub response: Option<String>,
    /// The message's mood; `None` when the model has no mood head.
    pub mood: Option<Mood>,
    /// Hand the conversation to a person: an explicit ask for one, or an
    /// angry or repeated complaint (see [`escalate::should_escalate`]).
    pub escalate: bool,
}

thread_local! {
    /// Reused buffers so a match allocates little beyond its result.
    static SCRATCH: RefCell<(Vec<char>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl IntentModel {
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    pub fn classes(&self) -> &[IntentClass] {
        &self.classes
    }

    pub fn class_names(&self) -> impl Iterator<Item = &str> {
        self.classes.iter().map(|c| c.name.as_str())
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Overrides the calibrated out-of-scope threshold (0 disables rejection).
    pub fn set_threshold(&mut self, t: f32) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&t) {
            return Err(Error::invalid(format!("threshold {t} is not in [0, 1]")));
        }
        self.threshold = t;
        Ok(())
    }

    pub fn feature_config(&self) -> FeatureConfig {
        self.features
    }

    pub fn n_features(&self) -> usize {
        self.hashes.len()
    }

    pub fn n_weights(&self) -> usize {
        self.entry_weight.len()
    }

    pub fn title_index(&self) -> Option<&TitleIndex> {
        self.titles.as_ref()
    }

    /// Attaches (or replaces) the catalogue title index used for product slots.
    pub fn set_title_index(&mut self, idx: Option<TitleIndex>) {
        self.titles = idx;
    }

    /// Class probabilities for already-extracted features, into `probs`
    /// (at least `n_classes` long).
    pub(crate) fn probabilities(&self, feats: &[u32], probs: &mut [f32]) {
        let w = Sparse {
            bias: &self.bias,
            scales: &self.scales,
            hashes: &self.hashes,
            offsets: &self.offsets,
            entry_class: &self.entry_class,
            entry_weight: &self.entry_weight,
        };
        w.probabilities(feats, probs);
    }

    /// Drops every stored weight with |q| <= `max_abs_q` (the int8 value;
    /// per-class scales keep each class's largest weight at 127) from the
    /// intent and mood heads; features left without weights vanish.
    /// The size knob of [`train::prune_to_budget`].
    pub fn prune(&mut self, max_abs_q: u8) {
        let mut parts = (
            std::mem::take(&mut self.hashes),
            std::mem::take(&mut self.offsets),
            std::mem::take(&mut self.entry_class),
            std::mem::take(&mut self.entry_weight),
        );
        prune_sparse(&mut parts, max_abs_q);
        (
            self.hashes,
            self.offsets,
            self.entry_class,
            self.entry_weight,
        ) = parts;
        if let Some(h) = &mut self.mood {
            let mut parts = (
                std::mem::take(&mut h.hashes),
                std::mem::take(&mut h.offsets),
                std::mem::take(&mut h.entry_class),
                std::mem::take(&mut h.entry_weight),
            );
            prune_sparse(&mut parts, max_abs_q);
            (h.hashes, h.offsets, h.entry_class, h.entry_weight) = parts;
        }
    }

    /// The mood head, when the model carries one.
    pub fn mood_head(&self) -> Option<&MoodHead> {
        self.mood.as_ref()
    }

    /// Attaches (or removes) the mood head.
    pub fn set_mood_head(&mut self, m: Option<MoodHead>) {
        self.mood = m;
    }

    /// Classifies `text` and extracts slots. Never fails: any string (empty,
    /// huge, mixed scripts, U+FFFD from lone surrogates) has a defined result.
    pub fn match_text(&self, text: &str) -> IntentMatch {
        self.match_text_at(text, self.threshold)
    }

    /// [`match_text`](Self::match_text) with a caller-chosen threshold, so a
    /// shared model can serve callers with different rejection policies.
    pub fn match_text_at(&self, text: &str, threshold: f32) -> IntentMatch {
        self.match_in_conversation(text, threshold, 0)
    }

    /// [`match_text_at`](Self::match_text_at) for one message of a
    /// conversation in which `prior_negative` earlier messages were
    /// negative: a further negative one is a repeated complaint and sets
    /// `escalate`.
    pub fn match_in_conversation(
        &self,
        text: &str,
        threshold: f32,
        prior_negative: u32,
    ) -> IntentMatch {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut guard) => {
                let (chars, feats) = &mut *guard;
                self.match_with(text, threshold, prior_negative, chars, feats)
            }
            // Re-entrancy cannot happen today; fall back to fresh buffers anyway.
            Err(_) => self.match_with(
                text,
                threshold,
                prior_negative,
                &mut Vec::new(),
                &mut Vec::new(),
            ),
        })
    }

    fn match_with(
        &self,
        text: &str,
        threshold: f32,
        prior_negative: u32,
        chars: &mut Vec<char>,
        feats: &mut Vec<u32>,
    ) -> IntentMatch {
        let truncated = normalize::normalize_into(text, chars);
        features::extract(chars, &self.features, feats);
        let slots = slots::extract(chars, self.titles.as_ref());
        let c = self.classes.len();
        let mood = self.mood.as_ref().map(|h| {
            if feats.is_empty() {
                Mood {
                    label: MOODS[1],
                    confidence: 1.0,
                }
            } else {
                h.classify(feats)
            }
        });
        if feats.is_empty() || c == 0 {
            return IntentMatch {
                intent: None,
                confidence: 0.0,
                alternatives: Vec::new(),
                slots,
                truncated,
                action: None,
                response: None,
                mood,
                escalate: escalate::should_escalate(chars, None, mood, prior_negative),
            };
        }
        let mut probs = [0f32; MAX_CLASSES];
        self.probabilities(feats, &mut probs);
        let top = top_k::<4>(&probs[..c]);
        let best = top[0].unwrap_or((0, 0.0));
        let accepted = best.1 >= threshold;
        let alternatives = top
            .iter()
            .flatten()
            .skip(usize::from(accepted))
            .take(3)
            .map(|&(i, p)| Alternative {
                intent: self.classes[i].name.clone(),
                confidence: p,
            })
            .collect();
        let class = accepted.then(|| &self.classes[best.0]);
        let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
        let escalate =
            escalate::should_escalate(chars, class.map(|k| k.name.as_str()), mood, prior_negative);
        IntentMatch {
            intent: class.map(|k| k.name.clone()),
            confidence: best.1,
            alternatives,
            slots,
            truncated,
            action: class.and_then(|k| non_empty(&k.action)),
            response: class.and_then(|k| non_empty(&k.response)),
            mood,
            escalate,
        }
    }

    /// Index and probability of the best class, ignoring the threshold and
    /// skipping slots (evaluation and benchmarking helper).
    pub fn predict(&self, text: &str) -> Option<(usize, f32)> {
        let run = |chars: &mut Vec<char>, feats: &mut Vec<u32>| {
            normalize::normalize_into(text, chars);
            features::extract(chars, &self.features, feats);
            if feats.is_empty() || self.classes.is_empty() {
                return None;
            }
            let mut probs = [0f32; MAX_CLASSES];
            self.probabilities(feats, &mut probs);
            top_k::<1>(&probs[..self.classes.len()])[0]
        };
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut guard) => {
                let (chars, feats) = &mut *guard;
                run(chars, feats)
            }
            Err(_) => run(&mut Vec::new(), &mut Vec::new()),
        })
    }

    /// Serializes to the self-contained `.vti` layout (also the bundle's INTENT section).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Parses and fully validates a `.vti` blob. Never panics on any input.
    pub fn from_bytes(bytes: &[u8]) -> Result<IntentModel, Error> {
        codec::decode(bytes)
    }

    /// [`from_bytes`](Self::from_bytes) for a model that will serve a
    /// bundle of `n_items` items: a title index built for another catalogue
    /// would report mentions the bundle cannot resolve (`UNKNOWN_ITEM` from
    /// `matchIntent`, blaming the shopper's text), so it is refused here.
    pub fn from_bytes_for(bytes: &[u8], n_items: usize) -> Result<IntentModel, Error> {
        let m = codec::decode(bytes)?;
        m.check_items(n_items)?;
        Ok(m)
    }

    /// `Ok` when the title index (if any) indexes exactly `n_items` items.
    pub fn check_items(&self, n_items: usize) -> Result<(), Error> {
        match &self.titles {
            Some(t) if usize::try_from(t.n_items()).ok() != Some(n_items) => {
                Err(Error::BadSection {
                    at: crate::error::At {
                        section: codec::SECTION,
                        offset: 0,
                    },
                    reason: format!(
                        "the title index covers {} items but the bundle has {n_items}",
                        t.n_items()
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// The intent model stored in a bundle's INTENT section; `NoIntentModel`
    /// when the bundle was exported without one.
    pub fn from_bundle(bundle: &crate::engine::Model) -> Result<IntentModel, Error> {
        let view = bundle.view();
        let blob = view.intent.ok_or(Error::NoIntentModel)?;
        Self::from_bytes_for(blob, bundle.n_items())
    }
}

type SparseParts = (Vec<u32>, Vec<u32>, Vec<u8>, Vec<i8>);

fn prune_sparse(p: &mut SparseParts, max_abs_q: u8) {
    let (hashes, offsets, class, weight) = p;
    let (mut h2, mut o2, mut c2, mut w2) = (Vec::new(), vec![0u32], Vec::new(), Vec::new());
    for (f, &h) in hashes.iter().enumerate() {
        let (a, b) = (offsets[f] as usize, offsets[f + 1] as usize);
        let before = c2.len();
        for (&k, &w) in class[a..b].iter().zip(&weight[a..b]) {
            if w.unsigned_abs() > max_abs_q {
                c2.push(k);
                w2.push(w);
            }
        }
        if c2.len() > before {
            h2.push(h);
            #[allow(
                clippy::cast_possible_truncation,
                reason = "c2 keeps a subset of the entries, whose count is the u32 offsets[last]"
            )]
            let end = c2.len() as u32;
            o2.push(end);
        }
    }
    *p = (h2, o2, c2, w2);
}

/// Shell sort (gaps shrinking by 5/11, ending at 1): a few hundred bytes of wasm instead of the
/// standard library's sort machinery (~10 KB per instantiation). Inputs on
/// the matching path are short (features of one text, title hits).
#[inline(never)]
pub(crate) fn small_sort<T: Copy + PartialOrd>(v: &mut [T]) {
    let mut gap = v.len();
    while gap > 1 {
        gap = if gap == 2 { 1 } else { gap * 5 / 11 }.max(1);
        for i in gap..v.len() {
            let x = v[i];
            let mut j = i;
            while j >= gap && v[j - gap] > x {
                v[j] = v[j - gap];
                j -= gap;
            }
            v[j] = x;
        }
    }
}

/// The `K` largest values with their indices, best first (ties: lower index).
fn top_k<const K: usize>(v: &[f32]) -> [Option<(usize, f32)>; K] {
    let mut top: [Option<(usize, f32)>; K] = [None; K];
    for (i, &p) in v.iter().enumerate() {
        let mut cand = (i, p);
        for slot in top.iter_mut() {
            match slot {
                None => {
                    *slot = Some(cand);
                    break;
                }
                Some(cur) if cand.1 > cur.1 => std::mem::swap(cur, &mut cand),
                _ => {}
            }
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sort_sorts() {
        let mut v: Vec<u32> = (0..5000u32)
            .map(|i| i.wrapping_mul(2_654_435_761) % 977)
            .collect();
        let mut w = v.clone();
        small_sort(&mut v);
        w.sort_unstable();
        assert_eq!(v, w);
    }

    #[test]
    fn top_k_orders_and_breaks_ties_by_index() {
        let t = top_k::<3>(&[0.1, 0.5, 0.2, 0.5]);
        assert_eq!(t, [Some((1, 0.5)), Some((3, 0.5)), Some((2, 0.2))]);
        let t = top_k::<4>(&[0.3]);
        assert_eq!(t, [Some((0, 0.3)), None, None, None]);
    }
}
