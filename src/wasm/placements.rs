//! Placement bindings: ids and options in, `{items: [{id, score, reason,
//! because?}], unknownItems}` out. The work is in `crate::placements`; this
//! file resolves ids, reads options (by hand with `Reflect`, like the
//! shopper's, so no serde deserializer lands in the wasm) and converts errors.

use super::model::Model;
use super::types::js::{num, set, strings};
use super::{invalid, js_error, types};
use crate::error::{Error, Quoted};
use crate::placements::{
    self, business, Business, CadenceParams, CoParams, Mode, Placed, PlacementOptions, PriceLevel,
    Promotion, ReasonCode, Rotation,
};
use crate::shopper::rerank::{Profile, Ranked, RerankOptions};
use crate::shopper::Event;
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

const COMMON: [&str; 12] = [
    "k",
    "exclude",
    "categories",
    "priceMin",
    "priceMax",
    "inStockOnly",
    "price",
    "preferPrice",
    "rotation",
    "promotion",
    "fill",
    "now",
];

/// The business options `recommend` (model and shopper) and the shopper's
/// `rerank` take besides their own: the same names and rules as on placements.
pub(super) const BUSINESS_KEYS: [&str; 4] = ["price", "preferPrice", "rotation", "promotion"];

/// The model's `recommend`: the business keys and `now` (the rotation's clock).
pub(super) const RECOMMEND_KEYS: [&str; 5] =
    ["price", "preferPrice", "rotation", "promotion", "now"];

/// Own property only (prototype pollution never reaches the engine); a
/// throwing getter or Proxy trap is INVALID_ARGUMENT.
fn prop(o: &JsValue, key: &'static str) -> Result<Option<JsValue>, JsValue> {
    types::prop(o, key).map_err(invalid)
}

/// Own elements of a JS array, bounded before anything is read.
fn elements(arr: &Array, what: &str) -> Result<Vec<JsValue>, JsValue> {
    types::elements(arr, what, types::MAX_ARRAY).map_err(invalid)
}

fn text(o: &JsValue, key: &'static str) -> Result<Option<String>, JsValue> {
    match prop(o, key)? {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be a string"))),
    }
}

/// A number option that must be finite (as the model's own filters require).
fn finite(o: &JsValue, key: &'static str) -> Result<Option<f64>, JsValue> {
    match num(o, key)? {
        Some(x) if !x.is_finite() => Err(invalid(format!("{key} must be a finite number"))),
        v => Ok(v),
    }
}

/// Each item once, in first-seen order: a cart of a million copies of one id
/// is one item (it took 40 s before, each copy scored on its own). A bit per
/// catalogue item, not a hash set or a sort: those cost the wasm 3-5 KB.
fn unique(items: Vec<u32>, n_items: usize) -> Vec<u32> {
    let mut seen = vec![0u64; n_items.div_ceil(64)];
    items
        .into_iter()
        .filter(|&i| {
            let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
            match seen.get_mut(word) {
                Some(w) if *w & bit == 0 => {
                    *w |= bit;
                    true
                }
                _ => false,
            }
        })
        .collect()
}

fn check_object(o: &JsValue, extra: &[&str]) -> Result<bool, JsValue> {
    if o.is_undefined() || o.is_null() {
        return Ok(false);
    }
    if !o.is_object() || Array::is_array(o) {
        return Err(invalid("options must be an object like {k: 10}"));
    }
    let allowed: Vec<&str> = COMMON.iter().chain(extra).copied().collect();
    types::check_keys(o, &allowed, "option").map_err(invalid)?;
    Ok(true)
}

fn non_negative(name: &str, v: Option<f64>) -> Result<Option<f32>, JsValue> {
    match v {
        Some(x) if !(x.is_finite() && x >= 0.0 && x <= f64::from(f32::MAX)) => Err(invalid(
            format!("{name} must be a finite number ≥ 0 (and fit a 32-bit float)"),
        )),
        _ => Ok(v.map(|x| x as f32)),
    }
}

impl Model {
    fn category_indices(&self, names: &[String]) -> Vec<u32> {
        names
            .iter()
            .filter_map(|c| self.inner.category_index(c))
            .collect()
    }

    fn placement_options(&self, o: &JsValue, extra: &[&str]) -> Result<PlacementOptions, JsValue> {
        // A wrong type is an error, not the wall clock in its place.
        let now = match num(o, "now")? {
            Some(x) if x.is_finite() => x,
            Some(_) => return Err(invalid("now must be a finite number")),
            None => js_sys::Date::now(),
        };
        let mut p = PlacementOptions {
            now_ms: now,
            ..Default::default()
        };
        if !check_object(o, extra)? {
            return Ok(p);
        }
        if let Some(k) = num(o, "k")? {
            if !(k.is_finite() && k >= 0.0 && k.fract() == 0.0) {
                return Err(invalid("k must be a whole number ≥ 0"));
            }
            p.k = k.min(1e7) as usize;
        }
        p.exclude = self
            .inner
            .resolve_ids(&strings(o, "exclude")?.unwrap_or_default())
            .0;
        p.categories = strings(o, "categories")?.map(|c| self.category_indices(&c));
        p.price_min = finite(o, "priceMin")?;
        p.price_max = finite(o, "priceMax")?;
        p.in_stock_only = types::boolean(o, "inStockOnly")
            .map_err(invalid)?
            .unwrap_or(false);
        p.fill = types::boolean(o, "fill").map_err(invalid)?.unwrap_or(true);
        let b = self.business(o, now)?;
        p.price_level = b.price_level;
        p.prefer_higher_price = b.prefer_higher_price;
        p.rotation = b.rotation;
        p.promotion = b.promotion;
        Ok(p)
    }

    /// `price`, `preferPrice`, `rotation`, `promotion` of any options object
    /// (absent: all off). Bad values are `INVALID_ARGUMENT` naming the option.
    pub(super) fn business(&self, o: &JsValue, now: f64) -> Result<Business, JsValue> {
        let mut b = Business {
            now_ms: now,
            ..Default::default()
        };
        if !o.is_object() {
            return Ok(b);
        }
        if let Some(l) = text(o, "price")? {
            b.price_level = PriceLevel::parse(&l).ok_or_else(|| {
                invalid(format!(
                    "price must be none, low, medium or high, not {}",
                    Quoted(&l)
                ))
            })?;
        }
        if let Some(d) = text(o, "preferPrice")? {
            b.prefer_higher_price = match d.as_str() {
                "higher" => true,
                "lower" => false,
                _ => return Err(invalid("preferPrice must be higher or lower")),
            };
        }
        if let Some(r) = prop(o, "rotation")? {
            b.rotation = Some(self.rotation(&r)?);
        }
        if let Some(pr) = prop(o, "promotion")? {
            if !pr.is_object() || Array::is_array(&pr) {
                return Err(invalid(
                    "promotion must be an object like {categories: ['sale'], share: 0.2}",
                ));
            }
            types::check_keys(&pr, &["items", "categories", "share"], "promotion field")
                .map_err(invalid)?;
            let share = non_negative("promotion.share", num(&pr, "share")?)?.unwrap_or(0.2);
            if share > 1.0 {
                return Err(invalid("promotion.share must be in [0, 1]"));
            }
            b.promotion = Some(Promotion {
                items: self
                    .inner
                    .resolve_ids(&strings(&pr, "items")?.unwrap_or_default())
                    .0,
                categories: self.category_indices(&strings(&pr, "categories")?.unwrap_or_default()),
                share,
            });
        }
        Ok(b)
    }

    /// The model's `recommend` with business options, or `None` when the
    /// options set none (the plain scan answers then).
    pub(super) fn business_recommend(
        &self,
        user: &[f32],
        opts: &crate::engine::RecommendOptions,
        options: &JsValue,
    ) -> Result<Option<Vec<Placed>>, JsValue> {
        let now = match num(options, "now")? {
            Some(x) if x.is_finite() => x,
            Some(_) => return Err(invalid("now must be a finite number")),
            None => js_sys::Date::now(),
        };
        let b = self.business(options, now)?;
        if !b.is_active() {
            return Ok(None);
        }
        business::recommend(&self.inner, user, opts, &b)
            .map(Some)
            .map_err(js_error)
    }

    /// The shopper's ranking with business options, or `None` when the
    /// options set none. With a rotation, impressions without a click are
    /// first a negative signal for the session (`business::ignore_impressions`).
    /// Returns the ranking and which of its items are promoted.
    pub(super) fn business_rank(
        &self,
        options: &JsValue,
        now: Option<f64>,
        profile: &mut Profile,
        events: &[Event],
        candidates: Option<&[u32]>,
        ro: &RerankOptions,
    ) -> Result<Option<RankedPromoted>, JsValue> {
        let now = now
            .filter(|x| x.is_finite())
            .unwrap_or_else(js_sys::Date::now);
        let mut b = self.business(options, now)?;
        if !b.is_active() {
            return Ok(None);
        }
        if let Some(rot) = b.rotation.as_mut() {
            business::ignore_impressions(&self.inner, profile, events, rot, now);
        }
        let r =
            business::shopper_rank(&self.inner, profile, candidates, ro, &b).map_err(js_error)?;
        Ok(Some(r.into_iter().unzip()))
    }

    /// `{impressions: [{item, shown, lastShown}], rate, time}`.
    fn rotation(&self, r: &JsValue) -> Result<Rotation, JsValue> {
        if !r.is_object() {
            return Err(invalid(
                "rotation must be an object like {impressions, rate, time}",
            ));
        }
        types::check_keys(r, &["impressions", "rate", "time"], "rotation field")
            .map_err(invalid)?;
        let rate = non_negative("rotation.rate", num(r, "rate")?)?.unwrap_or(0.2);
        if rate > 1.0 {
            return Err(invalid("rotation.rate must be in [0, 1]"));
        }
        let time = non_negative("rotation.time", num(r, "time")?)?.map_or(86_400_000.0, f64::from);
        let mut impressions = Vec::new();
        if let Some(list) = prop(r, "impressions")? {
            let arr = list
                .dyn_ref::<Array>()
                .ok_or_else(|| invalid("rotation.impressions must be an array"))?;
            for (i, e) in elements(arr, "rotation.impressions")?
                .into_iter()
                .enumerate()
            {
                let item = text(&e, "item")?.ok_or_else(|| {
                    invalid(format!("rotation.impressions[{i}].item must be an id"))
                })?;
                let shown = num(&e, "shown")?.unwrap_or(0.0);
                if !(shown.is_finite() && shown >= 0.0) {
                    return Err(invalid(format!(
                        "rotation.impressions[{i}].shown must be ≥ 0"
                    )));
                }
                let last = num(&e, "lastShown")?.unwrap_or(0.0);
                if let Some(ix) = self.inner.item_index(&item) {
                    impressions.push((ix as u32, shown.min(1e6) as u32, last));
                }
            }
        }
        Ok(Rotation {
            impressions,
            rate,
            time_ms: time,
        })
    }

    /// `[{type, item, ts}]` → events on known items (unknown ones counted),
    /// read as the shopper's bindings read them (`events_of`: same checks,
    /// same `INVALID_EVENT`s), then clamped to now (cadence counts elapsed
    /// time, which must not be negative).
    fn placement_events(&self, events: &JsValue, now: f64) -> Result<(Vec<Event>, u32), JsValue> {
        let h = self.events_of(events, now)?;
        let ev = h
            .events
            .into_iter()
            .map(|e| Event {
                ts: e.ts.min(now),
                ..e
            })
            .collect();
        Ok((ev, h.unknown))
    }

    fn placed_out(&self, items: &[Placed], unknown: u32) -> JsValue {
        let arr = Array::new();
        for p in items {
            let o = Object::new();
            set(
                &o,
                "id",
                self.inner.item_id(p.index as usize).unwrap_or_default(),
            );
            set(&o, "score", p.score);
            set(&o, "reason", p.reason.name());
            if let Some(b) = p.because.and_then(|b| self.inner.item_id(b as usize)) {
                set(&o, "because", b);
            }
            arr.push(&o);
        }
        let out = Object::new();
        set(&out, "items", arr);
        set(&out, "unknownItems", unknown);
        out.into()
    }
}

/// A shopper ranking and, per item, whether it is promoted.
pub(super) type RankedPromoted = (Vec<Ranked>, Vec<bool>);

/// Adds `promoted` (a Uint8Array, 1 = holds a promotion's slot) to a packed
/// shopper result; www/shopper.js's `unpackRanked` sets `promoted: true` on
/// those items, which keep their own reason.
pub(super) fn mark_promoted(packed: &JsValue, promoted: &[bool]) {
    let flags: Vec<u8> = promoted.iter().map(|&p| u8::from(p)).collect();
    let _ = js_sys::Reflect::set(
        packed,
        &JsValue::from_str("promoted"),
        &js_sys::Uint8Array::from(&flags[..]),
    );
}

/// Sets `promoted: true` on the promoted items of a `{items: [...]}` listing
/// (the model's `recommend`); set here rather than serialized, so the common
/// listing shape (and its serializer) stays as `similar` / `popular` use it.
pub(super) fn mark_promoted_items(listing: &JsValue, promoted: &[bool]) {
    let Ok(items) = js_sys::Reflect::get(listing, &types::name("items")) else {
        return;
    };
    for (i, &p) in promoted.iter().enumerate() {
        if p {
            let item = js_sys::Reflect::get_u32(&items, i as u32).unwrap_or(JsValue::UNDEFINED);
            if item.is_object() {
                let _ = js_sys::Reflect::set(&item, &types::name("promoted"), &JsValue::TRUE);
            }
        }
    }
}

/// Whether a model `recommend` item is a promotion's.
pub(super) fn is_promoted(p: &Placed) -> bool {
    p.reason == ReasonCode::Promoted
}

fn id_list(ids: &JsValue) -> Result<Vec<String>, JsValue> {
    let arr = ids
        .dyn_ref::<Array>()
        .ok_or_else(|| invalid("ids must be an array of item ids"))?;
    types::string_elements(arr, "ids", types::MAX_ARRAY).map_err(invalid)
}

fn co_params(o: &JsValue) -> Result<CoParams, JsValue> {
    let d = CoParams::default();
    if o.is_undefined() || o.is_null() {
        return Ok(d);
    }
    let min_support = match num(o, "minSupport")? {
        None => d.min_support,
        Some(x) if x.is_finite() && x >= 1.0 && x.fract() == 0.0 => x.min(1e9) as u32,
        Some(_) => return Err(invalid("minSupport must be a whole number ≥ 1")),
    };
    Ok(CoParams {
        min_support,
        shrinkage: non_negative("shrinkage", num(o, "shrinkage")?)?.unwrap_or(d.shrinkage),
        lift: non_negative("lift", num(o, "lift")?)?.unwrap_or(d.lift),
    })
}

#[wasm_bindgen]
impl Model {
    /// Frequently bought together for one item or a cart (`ids`). Options:
    /// the common ones plus `mode` ('relaxed' | 'strict'), `minSupport`,
    /// `shrinkage`, `lift`. `NO_SECTION` without CO_PURCHASE.
    #[wasm_bindgen(js_name = boughtTogether)]
    pub fn bought_together(&self, ids: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let ids = id_list(&ids)?;
        let opts =
            self.placement_options(&options, &["mode", "minSupport", "shrinkage", "lift"])?;
        let mode = match text(&options, "mode")? {
            None => Mode::Relaxed,
            Some(m) => Mode::parse(&m).ok_or_else(|| invalid("mode must be strict or relaxed"))?,
        };
        let (cart, unknown) = self.inner.resolve_ids(&ids);
        let cart = unique(cart, self.inner.n_items());
        if cart.is_empty() && !ids.is_empty() {
            return Err(js_error(Error::UnknownItem {
                id: ids.first().cloned().unwrap_or_default(),
            }));
        }
        let r = placements::bought_together(&self.inner, &cart, mode, &co_params(&options)?, &opts)
            .map_err(js_error)?;
        Ok(self.placed_out(&r, unknown as u32))
    }

    /// Viewed together (NEIGHBOURS, then similar items) for a product page.
    #[wasm_bindgen(js_name = viewedTogether)]
    pub fn viewed_together(&self, ids: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let ids = id_list(&ids)?;
        let opts = self.placement_options(&options, &[])?;
        let (items, unknown) = self.inner.resolve_ids(&ids);
        let items = unique(items, self.inner.n_items());
        if items.is_empty() {
            return Err(js_error(Error::UnknownItem {
                id: ids.first().cloned().unwrap_or_default(),
            }));
        }
        let r = placements::viewed_together(&self.inner, &items, &opts).map_err(js_error)?;
        Ok(self.placed_out(&r, unknown as u32))
    }

    /// Buy it again from the shopper's purchases (`events`, as www/shopper.js
    /// keeps them). Extra options: `halfLife`, `cadenceWeight`, `sigma`,
    /// `repeatPower`, `basketGapMinutes`. `NO_SECTION` without CADENCE.
    #[wasm_bindgen(js_name = buyAgain)]
    pub fn buy_again(&self, events: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let extra = [
            "halfLife",
            "cadenceWeight",
            "sigma",
            "repeatPower",
            "basketGapMinutes",
            "minSupport",
            "shrinkage",
            "lift",
        ];
        let opts = self.placement_options(&options, &extra)?;
        let (ev, unknown) = self.placement_events(&events, opts.now_ms)?;
        let d = CadenceParams::default();
        let mut p = CadenceParams {
            co: co_params(&options)?,
            ..d
        };
        if !(options.is_undefined() || options.is_null()) {
            p.half_life =
                non_negative("halfLife", num(&options, "halfLife")?)?.unwrap_or(d.half_life);
            p.cadence_weight = non_negative("cadenceWeight", num(&options, "cadenceWeight")?)?
                .unwrap_or(d.cadence_weight);
            p.sigma = non_negative("sigma", num(&options, "sigma")?)?.unwrap_or(d.sigma);
            p.repeat_power = non_negative("repeatPower", num(&options, "repeatPower")?)?
                .unwrap_or(d.repeat_power);
            if let Some(g) = non_negative("basketGapMinutes", num(&options, "basketGapMinutes")?)? {
                p.basket_gap_ms = f64::from(g) * 60_000.0;
            }
        }
        let r = placements::buy_again(&self.inner, &ev, &p, &opts).map_err(js_error)?;
        Ok(self.placed_out(&r, unknown))
    }

    /// Recently viewed, newest first, deduplicated, without purchased items.
    #[wasm_bindgen(js_name = recentlyViewed)]
    pub fn recently_viewed(&self, events: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let opts = self.placement_options(&options, &[])?;
        let (ev, unknown) = self.placement_events(&events, opts.now_ms)?;
        let r = placements::recently_viewed(&self.inner, &ev, &opts).map_err(js_error)?;
        Ok(self.placed_out(&r, unknown))
    }

    /// Trending items, optionally in one `category`. `NO_SECTION` without TRENDING.
    pub fn trending(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let opts = self.placement_options(&options, &["category"])?;
        let category = match text(&options, "category")? {
            None => None,
            Some(c) => Some(
                self.inner
                    .category_index(&c)
                    .ok_or_else(|| invalid(format!("unknown category {}", Quoted(&c))))?,
            ),
        };
        let r = placements::trending(&self.inner, category, &opts).map_err(js_error)?;
        Ok(self.placed_out(&r, 0))
    }

    /// Rising categories: `[{category, rise, recent}]`, best first.
    #[wasm_bindgen(js_name = trendingFacets)]
    pub fn trending_facets(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let k = if options.is_undefined() || options.is_null() {
            5.0
        } else {
            types::check_keys(&options, &["k"], "option").map_err(invalid)?;
            num(&options, "k")?.unwrap_or(5.0)
        };
        if !(k.is_finite() && k >= 0.0 && k.fract() == 0.0) {
            return Err(invalid("k must be a whole number ≥ 0"));
        }
        let f = placements::trending_facets(&self.inner, k.min(1e6) as usize).map_err(js_error)?;
        let names = self.inner.view().category_names;
        let arr = Array::new();
        for x in f {
            let o = Object::new();
            set(
                &o,
                "category",
                names.get(x.category as usize).unwrap_or_default(),
            );
            set(&o, "rise", x.rise);
            set(&o, "recent", x.recent);
            arr.push(&o);
        }
        Ok(arr.into())
    }
}
