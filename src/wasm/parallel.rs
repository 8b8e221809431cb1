//! One part of a scan split across threads: each worker holds the model and
//! scans a range of rows; the page joins the parts (`www/lib/parallel.js`,
//! by the rules of `engine::merge_parts`) into the one-thread answer.

use super::model::Model;
use super::{invalid, js_error, types};
use crate::engine::{Part, RecommendOptions};
use crate::format;
use js_sys::{Array, Float32Array, Object, Reflect, Uint32Array};
use wasm_bindgen::prelude::*;

/// A row bound from JS: a whole number; the engine checks it against the
/// catalogue (`INVALID_ARGUMENT` past its end).
fn row(x: f64, name: &str) -> Result<usize, JsValue> {
    if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX)) {
        return Err(invalid(format!(
            "{name} must be a whole row number, got {}",
            super::types::describe(x)
        )));
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "whole, 0 ≤ x ≤ u32::MAX"
    )]
    Ok(x as u32 as usize)
}

impl Model {
    /// `{pool, indices, scan, scores, ids, unknownExcludes}`: typed arrays
    /// for the join, ids so the page needs no second call for the winners.
    fn part_out(&self, p: &Part, unknown: u32) -> Result<JsValue, JsValue> {
        let ids: Array = p
            .candidates
            .iter()
            .map(|c| JsValue::from(self.inner.item_id(c.index as usize).unwrap_or("")))
            .collect();
        let out = part_arrays(p)?;
        Reflect::set(&out, &types::name("ids"), &ids)?;
        Reflect::set(&out, &types::name("unknownExcludes"), &unknown.into())?;
        Ok(out.into())
    }
}

/// `{pool, indices, scan, scores}`: what the join needs, nothing more.
fn part_arrays(p: &Part) -> Result<Object, JsValue> {
    let c = &p.candidates;
    let idx: Vec<u32> = c.iter().map(|c| c.index).collect();
    let scan: Vec<f32> = c.iter().map(|c| c.scan).collect();
    let score: Vec<f32> = c.iter().map(|c| c.score).collect();
    let out = Object::new();
    Reflect::set(
        &out,
        &types::name("pool"),
        &(format::index_u32(p.pool)).into(),
    )?;
    Reflect::set(&out, &types::name("indices"), &Uint32Array::from(&idx[..]))?;
    Reflect::set(&out, &types::name("scan"), &Float32Array::from(&scan[..]))?;
    Reflect::set(
        &out,
        &types::name("scores"),
        &Float32Array::from(&score[..]),
    )?;
    Ok(out)
}

/// `"lean"` for the engine built without the shopper and placements
/// (feature `lean`), else `"full"`. Both builds export it, so the full
/// build's glue, which also runs the lean wasm, can tell which one it runs.
#[wasm_bindgen(js_name = engineParts)]
pub fn engine_parts() -> String {
    if cfg!(feature = "lean") {
        "lean"
    } else {
        "full"
    }
    .to_string()
}

#[wasm_bindgen]
impl Model {
    /// `recommend` over rows `[from, to)` only: one thread's part of a split scan.
    #[wasm_bindgen(js_name = recommendPart)]
    pub fn recommend_part(
        &self,
        user: JsValue,
        options: JsValue,
        from: f64,
        to: f64,
    ) -> Result<JsValue, JsValue> {
        let u = super::model::user_vector(&user, self.inner.dim())?;
        let (opts, unknown) = self.options(&options)?;
        let rows = row(from, "from")?..row(to, "to")?;
        let p = self
            .inner
            .recommend_part(&u, &opts, rows)
            .map_err(js_error)?;
        self.part_out(&p, unknown)
    }

    /// `recommendFast` over rows `[from, to)` only: `recommendIndices` split
    /// across two workers. No options object to parse and no ids to build
    /// (the page keeps indices): per part this fixed cost is paid on every
    /// query by both workers, and at 100k rows it is a tenth of a half scan.
    #[wasm_bindgen(js_name = recommendFastPart)]
    pub fn recommend_fast_part(
        &self,
        user: &JsValue,
        k: f64,
        from: f64,
        to: f64,
    ) -> Result<JsValue, JsValue> {
        let u = super::model::user_vector(user, self.inner.dim())?;
        let opts = RecommendOptions {
            k: super::model::parse_k(Some(k))?,
            ..Default::default()
        };
        let rows = row(from, "from")?..row(to, "to")?;
        let p = self
            .inner
            .recommend_part(&u, &opts, rows)
            .map_err(js_error)?;
        Ok(part_arrays(&p)?.into())
    }

    /// `similar` over rows `[from, to)` only.
    #[wasm_bindgen(js_name = similarPart)]
    pub fn similar_part(
        &self,
        id: JsValue,
        options: JsValue,
        from: f64,
        to: f64,
    ) -> Result<JsValue, JsValue> {
        let i = self.index_of(&id)?;
        let (opts, unknown) = self.options(&options)?;
        let rows = row(from, "from")?..row(to, "to")?;
        let p = self.inner.similar_part(i, &opts, rows).map_err(js_error)?;
        self.part_out(&p, unknown)
    }
}
