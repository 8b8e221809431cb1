//! The engine's bindings: `Model` (load, recommend, similar, popular, item
//! lookups) and `BundleBuffer` (streamed, zero-copy loading).

use super::types::{
    self, describe, ItemOut, Listing, ModelInfo, Pairs, RecOptionsJs, ScoredJs, SectionOut,
};
use super::{invalid, js_error, to_js};
use crate::engine::{self, RecommendOptions, Scored};
use crate::error::Error;
use crate::format::{self, AlignedBuf};
use js_sys::{Float32Array, Reflect, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;

/// Whether this build was compiled with wasm SIMD128 kernels.
#[wasm_bindgen(js_name = simdEnabled)]
pub fn simd_enabled() -> bool {
    engine::kernels::SIMD
}

/// The maximum bundle size from JS: `undefined` → the default
/// ([`format::DEFAULT_MAX_BUNDLE_BYTES`], 512 MiB), else a whole number of bytes.
fn parse_max(max: Option<f64>) -> Result<u64, JsValue> {
    match max {
        None => Ok(format::DEFAULT_MAX_BUNDLE_BYTES),
        Some(m) => whole_bytes(m, "maxBytes"),
    }
}

/// A length within a JS array (≤ its u32 length).
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn whole_bytes(x: f64, name: &str) -> Result<u64, JsValue> {
    // 2^53: every whole f64 below it is exact.
    if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_992.0) {
        return Err(invalid(format!(
            "{name} must be a whole number of bytes, got {}",
            describe(x)
        )));
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "whole, 0 ≤ x ≤ 2^53"
    )]
    Ok(x as u64)
}

/// Destination for a bundle being downloaded: chunks are written straight
/// into aligned wasm memory, then [`Model::from_buffer`] takes it without a
/// copy. Memory follows the bytes that arrive, not the declared length
/// (`format::Intake`): `new BundleBuffer(contentLength, maxBytes)` reserves
/// at most 32 MiB up front, refuses a declared length past `maxBytes`
/// (`TOO_LARGE`, default 512 MiB) and frees everything on the first error.
#[wasm_bindgen]
pub struct BundleBuffer {
    intake: Option<format::Intake>,
}

impl BundleBuffer {
    fn intake(&mut self) -> Result<&mut format::Intake, JsValue> {
        self.intake
            .as_mut()
            .ok_or_else(|| invalid("this buffer was already handed to Model.fromBuffer, or failed"))
    }

    /// Any error frees the bytes received so far: a failed load keeps nothing.
    fn fail(&mut self, e: Error) -> JsValue {
        self.intake = None;
        js_error(e)
    }
}

#[wasm_bindgen]
impl BundleBuffer {
    /// `length`: the declared length (Content-Length), or `undefined` when
    /// unknown; `maxBytes`: the maximum bundle size (default 512 MiB).
    #[wasm_bindgen(constructor)]
    pub fn new(length: Option<f64>, max_bytes: Option<f64>) -> Result<BundleBuffer, JsValue> {
        let max = parse_max(max_bytes)?;
        let expected = length
            .map(|l| whole_bytes(l, "buffer length"))
            .transpose()?;
        let intake = format::Intake::new(expected, max).map_err(js_error)?;
        Ok(BundleBuffer {
            intake: Some(intake),
        })
    }

    /// Appends a chunk, copied once from the JS array into place.
    pub fn push(&mut self, chunk: &Uint8Array) -> Result<(), JsValue> {
        let n = chunk.length() as usize;
        let r = self.intake()?.push_with(n, |dst| chunk.copy_to_uninit(dst));
        r.map_err(|e| self.fail(e))
    }

    /// Copies `chunk` to `offset` (the API before `push`; offsets past the
    /// bytes received are zero-filled). Out-of-range writes are refused.
    pub fn write(&mut self, offset: f64, chunk: &Uint8Array) -> Result<(), JsValue> {
        let offset = whole_bytes(offset, "offset")?;
        let intake = self.intake()?;
        let n = chunk.length() as usize;
        let received = intake.received();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let fits = start
            .checked_add(n)
            .is_some_and(|end| intake.expected().is_none_or(|e| end <= e));
        if !fits {
            return Err(invalid(format!(
                "chunk of {n} bytes at offset {start} does not fit a {}-byte buffer",
                intake.expected().unwrap_or(received)
            )));
        }
        let r = (|| {
            if start > received {
                intake.push_zeros(start - received)?;
            }
            // The part over bytes already received is overwritten in place.
            let overlap = intake.received().saturating_sub(start).min(n);
            if overlap > 0 {
                if let Some(dst) = intake.received_mut().get_mut(start..start + overlap) {
                    chunk.subarray(0, to_u32(overlap)).copy_to(dst);
                }
            }
            if overlap < n {
                let rest = chunk.subarray(to_u32(overlap), chunk.length());
                intake.push_with(n - overlap, |dst| rest.copy_to_uninit(dst))?;
            }
            Ok(())
        })();
        r.map_err(|e| self.fail(e))
    }

    /// The declared length (or, when none was declared, the bytes received).
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.intake
            .as_ref()
            .map_or(0, |i| i.expected().unwrap_or(i.received()))
    }

    /// Bytes received so far.
    #[wasm_bindgen(getter)]
    pub fn received(&self) -> usize {
        self.intake.as_ref().map_or(0, format::Intake::received)
    }
}

/// A loaded, validated model bundle.
#[wasm_bindgen]
pub struct Model {
    pub(super) inner: engine::Model,
}

impl Model {
    fn new(inner: engine::Model) -> Model {
        Model { inner }
    }
}

/// A user vector from JS, checked against the model's `dim` before any copy
/// (a huge array is a `DIM_MISMATCH`, not a huge allocation). Values that
/// overflow f32 (|x| > f32::MAX, e.g. 1e39) are `OUT_OF_RANGE` here, not
/// Infinity; the engine checks the documented range (±1e12) itself.
pub(super) fn user_vector(v: &JsValue, dim: usize) -> Result<Vec<f32>, JsValue> {
    let mismatch = |got: u32| {
        js_error(Error::DimMismatch {
            expected: dim,
            got: got as usize,
        })
    };
    if let Some(a) = v.dyn_ref::<Float32Array>() {
        if a.length() as usize != dim {
            return Err(mismatch(a.length()));
        }
        return Ok(a.to_vec());
    }
    let narrow = |i: usize, x: f64| -> Result<f32, JsValue> {
        #[allow(clippy::cast_possible_truncation, reason = "range checked just below")]
        let f = x as f32;
        if x.is_finite() && !f.is_finite() {
            return Err(js_error(Error::OutOfRange {
                what: format!("user vector value {i} does not fit a 32-bit float"),
            }));
        }
        Ok(f)
    };
    if let Some(a) = v.dyn_ref::<js_sys::Float64Array>() {
        if a.length() as usize != dim {
            return Err(mismatch(a.length()));
        }
        return a
            .to_vec()
            .into_iter()
            .enumerate()
            .map(|(i, x)| narrow(i, x))
            .collect();
    }
    if let Some(a) = v.dyn_ref::<js_sys::Array>() {
        let len = types::length(a, "user vector").map_err(invalid)?;
        if len as usize != dim {
            return Err(mismatch(len));
        }
        return types::elements(a, "user vector", types::MAX_ARRAY)
            .map_err(invalid)?
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let f = x
                    .as_f64()
                    .ok_or_else(|| invalid(format!("user vector element {i} is not a number")))?;
                narrow(i, f)
            })
            .collect();
    }
    Err(invalid(
        "user vector must be a Float32Array or an array of numbers",
    ))
}

pub(super) fn parse_k(k: Option<f64>) -> Result<usize, JsValue> {
    match k {
        None => Ok(10),
        Some(k) if k.is_finite() && k >= 1.0 && k.fract() == 0.0 && k <= 1e7 =>
        {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "whole, 1 ≤ k ≤ 1e7"
            )]
            Ok(k as usize)
        }
        Some(k) => Err(invalid(format!(
            "k must be a whole number ≥ 1, got {}",
            describe(k)
        ))),
    }
}

impl Model {
    pub(super) fn options(&self, options: &JsValue) -> Result<(RecommendOptions, u32), JsValue> {
        self.options_with(options, &[])
    }

    /// [`Self::options`] also allowing `extra` keys (read by the caller).
    fn options_with(
        &self,
        options: &JsValue,
        extra: &[&str],
    ) -> Result<(RecommendOptions, u32), JsValue> {
        let o = RecOptionsJs::from_js_with(options, extra).map_err(invalid)?;
        let finite = |name: &str, v: Option<f64>| match v {
            Some(x) if !x.is_finite() => Err(invalid(format!("{name} must be a finite number"))),
            _ => Ok(v),
        };
        let (exclude, unknown) = self.inner.resolve_ids(&o.exclude.unwrap_or_default());
        let categories = o.categories.map(|names| {
            names
                .iter()
                .filter_map(|c| self.inner.category_index(c))
                .collect::<Vec<_>>()
        });
        Ok((
            RecommendOptions {
                k: parse_k(o.k)?,
                exclude,
                categories,
                price_min: finite("priceMin", o.price_min)?,
                price_max: finite("priceMax", o.price_max)?,
                in_stock_only: o.in_stock_only.unwrap_or(false),
            },
            format::index_u32(unknown),
        ))
    }

    fn listing(&self, items: Vec<Scored>, unknown_excludes: u32) -> Result<JsValue, JsValue> {
        let items = items
            .iter()
            .map(|s| ScoredJs {
                id: self
                    .inner
                    .item_id(s.index as usize)
                    .unwrap_or("")
                    .to_string(),
                score: s.score,
            })
            .collect();
        to_js(&Listing {
            items,
            unknown_excludes,
        })
    }

    pub(super) fn index_of(&self, id: &JsValue) -> Result<usize, JsValue> {
        let id = id
            .as_string()
            .ok_or_else(|| invalid("item id must be a string"))?;
        self.inner
            .item_index(&id)
            .ok_or_else(|| js_error(Error::UnknownItem { id }))
    }
}

#[wasm_bindgen]
impl Model {
    /// Copies the bytes once into aligned wasm memory and validates them.
    /// `maxBytes`: the maximum bundle size (default 512 MiB; `TOO_LARGE`).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &JsValue, max_bytes: Option<f64>) -> Result<Model, JsValue> {
        let bytes = bytes
            .dyn_ref::<Uint8Array>()
            .ok_or_else(|| invalid("bundle bytes must be a Uint8Array"))?;
        let max = parse_max(max_bytes)?;
        let len = bytes.length();
        if u64::from(len) > max {
            return Err(js_error(Error::TooLarge {
                size: u64::from(len),
                max,
            }));
        }
        // Straight from the JS array into aligned memory: one copy, not two,
        // and no zeroing before it.
        let buf = AlignedBuf::filled_by(len as usize, |dst| bytes.copy_to_uninit(dst)).ok_or_else(
            || {
                js_error(Error::SizeOverflow {
                    what: "bundle allocation",
                })
            },
        )?;
        engine::Model::from_aligned(buf)
            .map(Model::new)
            .map_err(js_error)
    }

    /// Zero-copy: takes the buffer's memory. The buffer is empty afterwards,
    /// and its memory is freed if validation fails.
    #[wasm_bindgen(js_name = fromBuffer)]
    pub fn from_buffer(buf: &mut BundleBuffer) -> Result<Model, JsValue> {
        Model::finish_buffer(buf, false)
    }

    /// A bundle from the device's model cache (www/lib/cache.js): the bytes
    /// of a bundle that passed full validation when it was stored. Header,
    /// table, layout and every section CRC are checked as in `fromBuffer`
    /// (a corrupt or foreign copy fails here); the O(n) value checks are
    /// not repeated (docs/web.md, "Warm visits").
    #[wasm_bindgen(js_name = fromBufferCached)]
    pub fn from_buffer_cached(buf: &mut BundleBuffer) -> Result<Model, JsValue> {
        Model::finish_buffer(buf, true)
    }

    /// Builds now (`true`) or drops for good (`false`) the int8 screen of an
    /// f32 or f16 catalogue of 4,096 rows or more, which the first scan
    /// builds otherwise (the full builds; the lean ones have none); returns
    /// whether one is held. Answers are the same either way, bit for bit.
    #[wasm_bindgen(js_name = setScreen)]
    pub fn set_screen(&mut self, on: bool) -> bool {
        self.inner.set_screen(on)
    }

    #[wasm_bindgen(getter, js_name = nItems)]
    pub fn n_items(&self) -> usize {
        self.inner.n_items()
    }

    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.inner.dim()
    }

    #[wasm_bindgen(getter)]
    pub fn dtype(&self) -> String {
        self.inner.dtype().name().to_string()
    }

    /// Format version, shape, metadata, section table and capabilities.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let l = self.inner.layout();
        let v = self.inner.view();
        to_js(&ModelInfo {
            format_version: format!("{}.{}", l.version.0, l.version.1),
            n_items: l.n_items,
            dim: l.dim,
            dtype: l.dtype.name(),
            bytes: self.inner.bytes().len(),
            meta: Pairs(self.inner.meta()),
            sections: l
                .sections
                .iter()
                .map(|s| SectionOut {
                    kind: s.kind,
                    name: s.name,
                    offset: s.offset as f64,
                    length: s.length as f64,
                    crc32: s.crc32,
                    required: s.required(),
                })
                .collect(),
            categories: v.category_names.iter().map(str::to_string).collect(),
            has_gram: v.gram.is_some(),
            has_neighbours: v.neighbours.is_some(),
            has_segments: v.segments.is_some(),
            has_intent: v.intent.is_some(),
            has_residual: self.inner.refined(),
            screen_bytes: self.inner.screen_bytes(),
            simd: engine::kernels::SIMD,
            ranker: types::ranker_info(&self.inner),
        })
    }

    /// Top-k for a user vector (a user's own row or one folded in on-device).
    /// With `price` / `preferPrice` / `rotation` / `promotion` (and `now`),
    /// the placements' business stage re-ranks a deeper pool
    /// (`placements::business::recommend`); promoted items carry `promoted: true`.
    pub fn recommend(&self, user: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let u = user_vector(&user, self.inner.dim())?;
        // The lean engine has no business stage (src/wasm/placements.rs):
        // its options are refused as unknown keys there.
        #[cfg(feature = "lean")]
        let (opts, unknown) = self.options(&options)?;
        #[cfg(not(feature = "lean"))]
        let (opts, unknown) = self.options_with(&options, &super::placements::RECOMMEND_KEYS)?;
        #[cfg(not(feature = "lean"))]
        if let Some(r) = self.business_recommend(&u, &opts, &options)? {
            let promoted: Vec<bool> = r.iter().map(super::placements::is_promoted).collect();
            let scored = r
                .into_iter()
                .map(|p| Scored {
                    index: p.index,
                    score: p.score,
                })
                .collect();
            let out = self.listing(scored, unknown)?;
            super::placements::mark_promoted_items(&out, &promoted);
            return Ok(out);
        }
        let r = self.inner.recommend(&u, &opts).map_err(js_error)?;
        self.listing(r, unknown)
    }

    /// The hot path: no strings, typed arrays out. Takes the JS array itself
    /// (not a copied `&[f32]`), so its length is checked before any copy.
    #[wasm_bindgen(js_name = recommendFast)]
    pub fn recommend_fast(&self, user: &JsValue, k: f64) -> Result<JsValue, JsValue> {
        let user = user_vector(user, self.inner.dim())?;
        let opts = RecommendOptions {
            k: parse_k(Some(k))?,
            ..Default::default()
        };
        let r = self.inner.recommend(&user, &opts).map_err(js_error)?;
        let idx: Vec<u32> = r.iter().map(|s| s.index).collect();
        let sc: Vec<f32> = r.iter().map(|s| s.score).collect();
        let out = js_sys::Object::new();
        Reflect::set(&out, &types::name("indices"), &Uint32Array::from(&idx[..]))?;
        Reflect::set(&out, &types::name("scores"), &Float32Array::from(&sc[..]))?;
        Ok(out.into())
    }

    /// Items most similar to `id` (cosine over item factors).
    pub fn similar(&self, id: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let i = self.index_of(&id)?;
        let (opts, unknown) = self.options(&options)?;
        let r = self.inner.similar(i, &opts).map_err(js_error)?;
        self.listing(r, unknown)
    }

    /// Most popular items: the cold-start answer.
    pub fn popular(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let (opts, unknown) = self.options(&options)?;
        let r = self.inner.popular(&opts).map_err(js_error)?;
        self.listing(r, unknown)
    }

    #[wasm_bindgen(js_name = itemIndex)]
    pub fn item_index(&self, id: &str) -> Option<u32> {
        self.inner.item_index(id).map(format::index_u32)
    }

    #[wasm_bindgen(js_name = itemId)]
    pub fn item_id(&self, index: f64) -> Result<String, JsValue> {
        if !(index.is_finite() && index >= 0.0 && index.fract() == 0.0) {
            return Err(invalid(format!(
                "index must be a whole number ≥ 0, got {}",
                describe(index)
            )));
        }
        self.inner
            .item_id(usize::try_from(whole_bytes(index, "index")?).unwrap_or(usize::MAX))
            .map(str::to_string)
            .ok_or_else(|| {
                js_error(Error::UnknownItem {
                    id: format!("#{}", describe(index)),
                })
            })
    }

    /// Catalogue metadata for one item.
    pub fn item(&self, id: JsValue) -> Result<JsValue, JsValue> {
        let i = self.index_of(&id)?;
        let v = self.inner.view();
        to_js(&ItemOut {
            id: self.inner.item_id(i).unwrap_or("").to_string(),
            index: i,
            title: v.titles.and_then(|t| t.get(i)).map(str::to_string),
            category: v
                .category
                .and_then(|c| c.get(i))
                .and_then(|&c| v.category_names.get(c as usize))
                .map(str::to_string),
            price: v.price_at(i).filter(|p| !p.is_nan()),
            in_stock: v.flags.and_then(|f| f.get(i)).map(|f| f & 1 == 1),
            popularity: v.popularity.and_then(|p| p.get(i)).copied(),
        })
    }

    /// A copy of the bundle's INTENT section (CRC-checked at load), for the
    /// intent module's `IntentModel.fromBytes`; `undefined` when the bundle
    /// has none.
    #[wasm_bindgen(js_name = intentSection)]
    pub fn intent_section(&self) -> Option<Uint8Array> {
        self.inner.view().intent.map(Uint8Array::from)
    }

    /// The item's factor row, dequantized.
    #[wasm_bindgen(js_name = itemVector)]
    pub fn item_vector(&self, id: JsValue) -> Result<Float32Array, JsValue> {
        let i = self.index_of(&id)?;
        let row = self.inner.item_row_f32(i).ok_or_else(|| {
            js_error(Error::UnknownItem {
                id: format!("#{i}"),
            })
        })?;
        Ok(Float32Array::from(&row[..]))
    }
}

impl Model {
    /// The section CRCs were computed as the bytes arrived (`push`/`write`),
    /// so validation here is what is left after the download.
    fn finish_buffer(buf: &mut BundleBuffer, skip_value_checks: bool) -> Result<Model, JsValue> {
        let intake = buf
            .intake
            .take()
            .ok_or_else(|| invalid("this buffer was already used, or failed"))?;
        intake
            .finish_known()
            .and_then(|(b, crcs)| {
                let known = format::Known {
                    crcs,
                    skip_value_checks,
                };
                engine::Model::from_aligned_with(b, &known)
            })
            .map(Model::new)
            .map_err(js_error)
    }
}
