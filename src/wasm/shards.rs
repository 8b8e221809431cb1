//! Bindings for sharded bundles (`format::shard`): the head's shard table
//! and the check that a loaded shard is the one the head lists. The JS side
//! (`www/lib/shards.js`) fetches, caches and merges; every byte is read here.

use super::model::Model;
use super::{js_error, to_js};
use crate::error::Error;
use crate::format::shard::{self, NO_CATEGORY};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryOut {
    index: u32,
    file: String,
    bytes: f64,
    start: u32,
    end: u32,
    /// The category's name, or null for id-range shards.
    category: Option<String>,
    first_id: String,
    last_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TableOut {
    model_id: String,
    by: &'static str,
    total_items: f64,
    shards: Vec<EntryOut>,
}

impl Model {
    fn table(&self) -> Result<Option<shard::ShardTable>, JsValue> {
        let m = &self.inner;
        shard::table_of(m.bytes(), m.layout()).map_err(js_error)
    }
}

#[wasm_bindgen]
impl Model {
    /// The SHARD_TABLE of a head bundle (`undefined` for any other bundle):
    /// model id, split, and per shard its file, byte length, rows, category
    /// and first/last id.
    #[wasm_bindgen(js_name = shardTable)]
    pub fn shard_table(&self) -> Result<JsValue, JsValue> {
        let Some(t) = self.table()? else {
            return Ok(JsValue::UNDEFINED);
        };
        let names = self.inner.view().category_names;
        let shards = t
            .shards
            .iter()
            .enumerate()
            .map(|(i, e)| EntryOut {
                index: crate::format::index_u32(i),
                file: e.file.clone(),
                #[allow(clippy::cast_precision_loss, reason = "file lengths < 2^53")]
                bytes: e.bytes as f64,
                start: e.start,
                end: e.end,
                category: (e.category != NO_CATEGORY)
                    .then(|| names.get(e.category as usize).unwrap_or("").to_string()),
                first_id: e.first_id.clone(),
                last_id: e.last_id.clone(),
            })
            .collect();
        #[allow(clippy::cast_precision_loss, reason = "item counts < 2^53")]
        let total_items = t.total_items as f64;
        to_js(&TableOut {
            model_id: t.model_id,
            by: t.by.name(),
            total_items,
            shards,
        })
    }

    /// Throws `SHARD_MISMATCH` unless `shard` is shard `index` of this head
    /// (same model id, place, length and table checksum).
    #[wasm_bindgen(js_name = checkShard)]
    pub fn check_shard(&self, shard: &Model, index: u32) -> Result<(), JsValue> {
        let t = self.table()?.ok_or_else(|| {
            js_error(Error::invalid(
                "this bundle is not a shard head (no SHARD_TABLE section)",
            ))
        })?;
        let s = &shard.inner;
        shard::check_shard(&t, index, s.bytes(), s.layout()).map_err(js_error)
    }
}
