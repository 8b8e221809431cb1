//! Shopper bindings: events in, user vector / ranked lists / reasons out.
//! The model stays stateless: every call gets the history it needs from JS
//! (www/shopper.js keeps it on-device), so nothing outlives the call here.

use super::model::Model;
use super::types::js::{boolean, num, set, strings};
use super::{invalid, js_error, types};
use crate::engine::RecommendOptions;
use crate::error::{Error, Quoted};
use crate::format::index_u32;
use crate::shopper::rerank::{self, Profile, Ranked, Reason, RerankOptions};
use crate::shopper::{Event, EventKind, ProfileOptions, Weights};
use js_sys::{Array, Float32Array, Float64Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

/// Events later than now + this are clamped to now (clock skew, bad input).
const FUTURE_SLACK_MS: f64 = 5.0 * 60_000.0;

const TS_NOT_FINITE: &str = "ts must be a finite number (ms since the epoch)";

fn bad_event(index: usize, reason: &str) -> JsValue {
    js_error(Error::InvalidEvent {
        index,
        reason: reason.to_string(),
    })
}

/// Events being resolved to item indices, in either input form: the same
/// clamping of future times, the same count of unknown ids, the same order.
struct Resolving<'a> {
    model: &'a Model,
    now: f64,
    out: Vec<Event>,
    unknown: u32,
    clamped: u32,
}

impl<'a> Resolving<'a> {
    fn new(model: &'a Model, now: f64, n: usize) -> Self {
        Resolving {
            model,
            now,
            out: Vec::with_capacity(n),
            unknown: 0,
            clamped: 0,
        }
    }

    fn push(&mut self, kind: EventKind, item: &str, mut ts: f64) {
        if ts > self.now + FUTURE_SLACK_MS {
            ts = self.now;
            self.clamped += 1;
        }
        match self.model.inner.item_index(item) {
            Some(i) => self.out.push(Event {
                kind,
                item: index_u32(i),
                ts,
            }),
            None => self.unknown += 1,
        }
    }

    fn finish(self) -> History {
        // By time, ties in arrival order (the heapsort is not stable).
        let mut keyed: Vec<(usize, Event)> = self.out.into_iter().enumerate().collect();
        crate::shopper::sort_by(&mut keyed, |a, b| {
            a.1.ts < b.1.ts || (a.1.ts == b.1.ts && a.0 < b.0)
        });
        History {
            events: keyed.into_iter().map(|k| k.1).collect(),
            unknown: self.unknown,
            clamped: self.clamped,
        }
    }
}

/// Every option of foldIn / rerank / recommendFor / explain. Read by hand
/// with `Reflect` rather than serde: the generic deserializer costs more wasm
/// bytes than the whole shopper core.
#[derive(Default)]
struct ShopperOptionsJs {
    k: Option<f64>,
    now: Option<f64>,
    half_life_days: Option<f64>,
    session_gap_minutes: Option<f64>,
    session_half_life: Option<f64>,
    weights: [Option<f32>; 4],
    blend: [Option<f32>; 4],
    mmr_lambda: Option<f64>,
    diversity_depth: Option<f64>,
    pin: Vec<(String, f64)>,
    boost: Vec<(String, f64)>,
    bury: Vec<String>,
    exclude: Vec<String>,
    category_cap: Option<f64>,
    exclude_purchased: Option<bool>,
    segment: Option<f64>,
    pool: Option<f64>,
    reason_depth: Option<f64>,
    categories: Option<Vec<String>>,
    price_min: Option<f64>,
    price_max: Option<f64>,
    in_stock_only: Option<bool>,
    ranker: Option<bool>,
}

const FIELDS: [&str; 24] = [
    "k",
    "now",
    "halfLifeDays",
    "sessionGapMinutes",
    "sessionHalfLife",
    "weights",
    "blend",
    "mmrLambda",
    "diversityDepth",
    "pin",
    "boost",
    "bury",
    "exclude",
    "categoryCap",
    "excludePurchased",
    "segment",
    "pool",
    "reasonDepth",
    "categories",
    "priceMin",
    "priceMax",
    "inStockOnly",
    "events",
    "ranker",
];

/// Largest |boost|: added to a blended score, which stays finite (≤ ~4e33).
const MAX_BOOST: f64 = 1e30;
/// Largest event weight, blend weight and session half-life.
const MAX_WEIGHT: f64 = 1e6;

/// `{id: number}` objects (pin, boost): own keys only, values finite and
/// within ±`max` (so the f32 they become is finite too).
fn numbers_by_id(o: &JsValue, key: &'static str, max: f64) -> Result<Vec<(String, f64)>, JsValue> {
    let Some(v) = types::prop(o, key).map_err(invalid)? else {
        return Ok(Vec::new());
    };
    if !v.is_object() || Array::is_array(&v) {
        return Err(invalid(format!(
            "{key} must be an object like {{\"item-1\": 2}}"
        )));
    }
    let keys = Reflect::own_keys(&v).map_err(|_| invalid(format!("reading {key} threw")))?;
    if keys.length() > types::MAX_ARRAY {
        return Err(invalid(format!("{key} has too many entries")));
    }
    let mut out = Vec::new();
    for k in keys.iter() {
        let Some(id) = k.as_string() else {
            continue;
        };
        let x = types::prop_named(&v, &id)
            .map_err(invalid)?
            .and_then(|x| x.as_f64())
            .filter(|x| x.is_finite() && x.abs() <= max)
            .ok_or_else(|| {
                invalid(format!(
                    "{key}[{}] must be a finite number within ±{}",
                    Quoted(&id),
                    if max >= MAX_BOOST { "1e30" } else { "1e7" }
                ))
            })?;
        out.push((id, x));
    }
    Ok(out)
}

/// `{view, cart, ...}`-style objects of non-negative weights ≤ 1e6, read as
/// f32 (1e39 would be Infinity): `INVALID_ARGUMENT` naming `key.name`.
fn four(
    o: &JsValue,
    key: &'static str,
    names: [&'static str; 4],
) -> Result<[Option<f32>; 4], JsValue> {
    let mut out = [None; 4];
    let Some(v) = types::prop(o, key).map_err(invalid)? else {
        return Ok(out);
    };
    if !v.is_object() {
        return Err(invalid(format!("{key} must be an object")));
    }
    types::check_keys(&v, &names, &format!("{key} field")).map_err(invalid)?;
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = types::weight(num(&v, name)?, &format!("{key}.{name}"), MAX_WEIGHT, "1e6")
            .map_err(invalid)?;
    }
    Ok(out)
}

fn parse_options(o: &JsValue) -> Result<ShopperOptionsJs, JsValue> {
    if o.is_undefined() || o.is_null() {
        return Ok(ShopperOptionsJs::default());
    }
    if !o.is_object() {
        return Err(invalid("options must be an object like {k: 10}"));
    }
    let allowed: Vec<&str> = FIELDS
        .iter()
        .chain(&super::placements::BUSINESS_KEYS)
        .copied()
        .collect();
    types::check_keys(o, &allowed, "option").map_err(invalid)?;
    Ok(ShopperOptionsJs {
        k: num(o, "k")?,
        now: num(o, "now")?,
        half_life_days: num(o, "halfLifeDays")?,
        session_gap_minutes: num(o, "sessionGapMinutes")?,
        session_half_life: num(o, "sessionHalfLife")?,
        weights: four(o, "weights", ["view", "cart", "purchase", "search"])?,
        blend: four(o, "blend", ["long", "session", "popularity", "neighbours"])?,
        mmr_lambda: num(o, "mmrLambda")?,
        diversity_depth: num(o, "diversityDepth")?,
        pin: numbers_by_id(o, "pin", 1e7)?,
        boost: numbers_by_id(o, "boost", MAX_BOOST)?,
        bury: strings(o, "bury")?.unwrap_or_default(),
        exclude: strings(o, "exclude")?.unwrap_or_default(),
        category_cap: num(o, "categoryCap")?,
        exclude_purchased: boolean(o, "excludePurchased")?,
        segment: num(o, "segment")?,
        pool: num(o, "pool")?,
        reason_depth: num(o, "reasonDepth")?,
        categories: strings(o, "categories")?,
        price_min: num(o, "priceMin")?,
        price_max: num(o, "priceMax")?,
        in_stock_only: boolean(o, "inStockOnly")?,
        ranker: boolean(o, "ranker")?,
    })
}

fn whole(name: &str, v: Option<f64>, default: usize) -> Result<usize, JsValue> {
    match v {
        None => Ok(default),
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 1e7 =>
        {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "whole, 0 ≤ x ≤ 1e7"
            )]
            Ok(x as usize)
        }
        // No float in the message: float formatting costs ~10 KB of wasm.
        Some(_) => Err(invalid(format!("{name} must be a whole number ≥ 0"))),
    }
}

fn positive(name: &str, v: Option<f64>) -> Result<Option<f64>, JsValue> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0) => {
            Err(invalid(format!("{name} must be a positive number")))
        }
        _ => Ok(v),
    }
}

/// Parsed history: resolved events (time-sorted) plus what was set aside.
pub(super) struct History {
    pub(super) events: Vec<Event>,
    pub(super) unknown: u32,
    clamped: u32,
}

impl Model {
    /// Validates and resolves `[{type, item, ts}]`, or the same events in
    /// the glue's packed form ([`Model::packed_events`]). Bad shape →
    /// `INVALID_EVENT`; unknown ids are kept out of scoring and counted.
    pub(super) fn events_of(&self, events: &JsValue, now: f64) -> Result<History, JsValue> {
        if events.is_undefined() || events.is_null() {
            return Ok(History {
                events: Vec::new(),
                unknown: 0,
                clamped: 0,
            });
        }
        let Some(arr) = events.dyn_ref::<Array>() else {
            return self.packed_events(events, now);
        };
        // Own properties only (a polluted `Object.prototype.ts` must not
        // date every event), and a bounded length: `new Array(2**27)` is a
        // typed error, not a reservation that traps.
        let elems = types::elements(arr, "events", types::MAX_ARRAY).map_err(invalid)?;
        let field = |e: &JsValue, index: usize, key: &'static str| {
            types::prop(e, key).map_err(|m| bad_event(index, &m))
        };
        let mut h = Resolving::new(self, now, elems.len());
        for (index, e) in elems.iter().enumerate() {
            if !e.is_object() {
                return Err(bad_event(index, "not an object"));
            }
            let t = field(e, index, "type")?
                .and_then(|v| v.as_string())
                .ok_or_else(|| bad_event(index, "type must be a string"))?;
            let kind = EventKind::parse(&t).ok_or_else(|| {
                bad_event(
                    index,
                    &format!(
                        "unknown type {} (expected view, cart, purchase or search)",
                        Quoted(&t)
                    ),
                )
            })?;
            let item = field(e, index, "item")?
                .and_then(|v| v.as_string())
                .ok_or_else(|| bad_event(index, "item must be a string id"))?;
            let ts = match field(e, index, "ts")? {
                None => now,
                Some(tsv) => tsv
                    .as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad_event(index, TS_NOT_FINITE))?,
            };
            h.push(kind, &item, ts);
        }
        Ok(h.finish())
    }

    /// Candidate ids to item indices, unknown ones counted: an array of
    /// strings, or (from the shopper's glue) a `Uint8Array` holding the
    /// UTF-8 of every id, each followed by a 0 byte. The array costs an
    /// element read and a string (an import call, a malloc and a copy) per
    /// id, about a sixth of a `rerank` of 500 at 10k items; the bytes cross
    /// in one copy.
    fn candidates_of(&self, ids: &JsValue) -> Result<(Vec<u32>, u32), JsValue> {
        let mut cands = Vec::new();
        let mut unknown = 0;
        let mut resolve = |id: &str| match self.inner.item_index(id) {
            Some(i) => cands.push(index_u32(i)),
            None => unknown += 1,
        };
        if let Some(bytes) = ids.dyn_ref::<Uint8Array>() {
            let bytes = bytes.to_vec();
            let body =
                match bytes.split_last() {
                    None => &[][..],
                    Some((0, body)) => body,
                    Some(_) => return Err(invalid(
                        "candidateIds as bytes must be the UTF-8 of each id followed by a 0 byte",
                    )),
                };
            if !bytes.is_empty() {
                for (k, id) in body.split(|&b| b == 0).enumerate() {
                    if k >= types::MAX_ARRAY as usize {
                        return Err(invalid(format!(
                            "candidateIds has more than {} entries",
                            types::MAX_ARRAY
                        )));
                    }
                    let id = std::str::from_utf8(id)
                        .map_err(|_| invalid(format!("candidateIds[{k}] is not valid UTF-8")))?;
                    resolve(id);
                }
            }
            return Ok((cands, unknown));
        }
        let arr = ids
            .dyn_ref::<Array>()
            .ok_or_else(|| invalid("candidateIds must be an array of item ids"))?;
        let elems = types::elements(arr, "candidateIds", types::MAX_ARRAY).map_err(invalid)?;
        for (k, v) in elems.iter().enumerate() {
            let id = v
                .as_string()
                .ok_or_else(|| invalid(format!("candidateIds[{k}] is not a string")))?;
            resolve(&id);
        }
        Ok((cands, unknown))
    }

    /// The events as the shopper's glue sends them, three typed arrays
    /// instead of an object per event: `{types: Uint8Array, ts:
    /// Float64Array, items: Uint8Array}`, where `types[i]` is the event's
    /// kind (0 view, 1 cart, 2 purchase, 3 search), `ts[i]` its time and
    /// `items` the UTF-8 of every item id, each followed by a 0 byte. The
    /// object form reads three properties and two strings per event, each
    /// an import call and the strings a malloc each: at 100 events, about a
    /// tenth of a `recommendFor` at 10k items. The result is the object
    /// form's for the same events.
    fn packed_events(&self, events: &JsValue, now: f64) -> Result<History, JsValue> {
        let not_events = || {
            invalid(
                "events must be an array of {type, item, ts} \
                 (or the packed form {types: Uint8Array, ts: Float64Array, items: Uint8Array})",
            )
        };
        if !events.is_object() {
            return Err(not_events());
        }
        let part = |key: &'static str| types::prop(events, key).map_err(invalid);
        let (kinds, ts, items) = (part("types")?, part("ts")?, part("items")?);
        let (Some(kinds), Some(ts), Some(items)) = (
            kinds.and_then(|v| v.dyn_into::<Uint8Array>().ok()),
            ts.and_then(|v| v.dyn_into::<Float64Array>().ok()),
            items.and_then(|v| v.dyn_into::<Uint8Array>().ok()),
        ) else {
            return Err(not_events());
        };
        let n = kinds.length();
        if n > types::MAX_ARRAY {
            return Err(invalid(format!(
                "events has {n} entries; at most {} are accepted",
                types::MAX_ARRAY
            )));
        }
        if ts.length() != n {
            return Err(invalid(format!(
                "packed events: {n} types but {} times",
                ts.length()
            )));
        }
        let (kinds, ts, items) = (kinds.to_vec(), ts.to_vec(), items.to_vec());
        let mut ids = items.split(|&b| b == 0);
        // Lengths that disagree are one error, whichever part is short.
        let count_error = || {
            invalid(format!(
                "packed events: items must hold exactly {n} ids, each followed by a 0 byte"
            ))
        };
        let mut h = Resolving::new(self, now, kinds.len());
        for (index, (&code, &t)) in kinds.iter().zip(&ts).enumerate() {
            let kind = EventKind::from_code(code).ok_or_else(|| {
                bad_event(
                    index,
                    "type code must be 0 (view), 1 (cart), 2 (purchase) or 3 (search)",
                )
            })?;
            let item = ids.next().ok_or_else(count_error)?;
            let item = std::str::from_utf8(item)
                .map_err(|_| bad_event(index, "item must be a string id (valid UTF-8)"))?;
            if !t.is_finite() {
                return Err(bad_event(index, TS_NOT_FINITE));
            }
            h.push(kind, item, t);
        }
        // After the last id's 0 byte, nothing: an empty tail, then the end.
        if ids.next() != Some(&[][..]) || ids.next().is_some() {
            return Err(count_error());
        }
        Ok(h.finish())
    }

    fn resolve(&self, ids: &[String]) -> Vec<u32> {
        self.inner.resolve_ids(ids).0
    }

    fn profile(
        &self,
        events: &JsValue,
        o: &ShopperOptionsJs,
    ) -> Result<(Profile, History), JsValue> {
        let now = match o.now {
            Some(x) if x.is_finite() => x,
            Some(_) => return Err(invalid("now must be a finite number")),
            None => js_sys::Date::now(),
        };
        let d = Weights::default();
        let w = |k: usize, def: f32| o.weights[k].unwrap_or(def);
        let popts = ProfileOptions {
            weights: Weights {
                view: w(0, d.view),
                cart: w(1, d.cart),
                purchase: w(2, d.purchase),
                search: w(3, d.search),
            },
            half_life_days: positive("halfLifeDays", o.half_life_days)?,
            session_gap_ms: positive("sessionGapMinutes", o.session_gap_minutes)?.unwrap_or(30.0)
                * 60_000.0,
            now_ms: now,
        };
        let hist = self.events_of(events, now)?;
        let hl = match positive("sessionHalfLife", o.session_half_life)? {
            None => rerank::SESSION_HALF_LIFE,
            Some(x) => types::weight(Some(x), "sessionHalfLife", MAX_WEIGHT, "1e6")
                .map_err(invalid)?
                .unwrap_or(rerank::SESSION_HALF_LIFE),
        };
        let segment = match o.segment {
            None => None,
            Some(x) => Some(index_u32(whole("segment", Some(x), 0)?)),
        };
        let p = Profile::build(&self.inner, &hist.events, &popts, hl, segment).map_err(js_error)?;
        Ok((p, hist))
    }

    fn rerank_options(&self, o: &ShopperOptionsJs) -> Result<RerankOptions, JsValue> {
        let mut r = RerankOptions {
            k: whole("k", o.k, 0)?,
            ..Default::default()
        };
        let def = r.blend;
        let b = |k: usize, d: f32| o.blend[k].unwrap_or(d);
        r.blend.long = b(0, def.long);
        r.blend.session = b(1, def.session);
        r.blend.popularity = b(2, def.popularity);
        r.blend.neighbours = b(3, def.neighbours);
        if let Some(l) = o.mmr_lambda {
            if !(0.0..=1.0).contains(&l) {
                return Err(invalid("mmrLambda must be in [0, 1]"));
            }
            #[allow(clippy::cast_possible_truncation, reason = "l ∈ [0, 1]")]
            let l = l as f32;
            r.mmr_lambda = l;
        }
        r.diversity_depth = whole("diversityDepth", o.diversity_depth, r.diversity_depth)?;
        r.pool = whole("pool", o.pool, r.pool)?;
        r.reason_depth = whole("reasonDepth", o.reason_depth, r.reason_depth)?;
        for (id, pos) in &o.pin {
            let pos = whole("pin position", Some(*pos), 0)?;
            if let Some(i) = self.inner.item_index(id) {
                r.rules.pins.push((index_u32(i), pos));
            }
        }
        for (id, v) in &o.boost {
            if let Some(i) = self.inner.item_index(id) {
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "|v| ≤ MAX_BOOST, checked at parse"
                )]
                let v = *v as f32;
                r.rules.boost.push((index_u32(i), v));
            }
        }
        r.rules.bury = self.resolve(&o.bury);
        r.rules.exclude = self.resolve(&o.exclude);
        r.rules.category_cap = match o.category_cap {
            None => None,
            Some(c) => Some(whole("categoryCap", Some(c), 0)?),
        };
        r.rules.exclude_purchased = o.exclude_purchased.unwrap_or(true);
        let finite = |name: &str, v: Option<f64>| match v {
            Some(x) if !x.is_finite() => Err(invalid(format!("{name} must be a finite number"))),
            _ => Ok(v),
        };
        r.filter = RecommendOptions {
            k: 0,
            exclude: Vec::new(),
            categories: o.categories.as_ref().map(|cs| {
                cs.iter()
                    .filter_map(|c| self.inner.category_index(c))
                    .collect()
            }),
            price_min: finite("priceMin", o.price_min)?,
            price_max: finite("priceMax", o.price_max)?,
            in_stock_only: o.in_stock_only.unwrap_or(false),
        };
        // The bundle's learned ranker unless the caller asks for the blend
        // (`ranker: false`); a refused one falls back to the blend, and
        // `info().ranker` says so.
        if o.ranker != Some(false) {
            if let crate::ranker::Used::Ranker(k) = crate::ranker::status(&self.inner) {
                r.ranker = Some(k);
            }
        }
        Ok(r)
    }

    fn id(&self, i: u32) -> String {
        self.inner.item_id(i as usize).unwrap_or("").to_string()
    }

    /// Packed result, unpacked by www/shopper.js (`unpackRanked`): a few typed
    /// arrays and two concatenated strings instead of ~8 JS objects per item,
    /// because each property set crosses the wasm boundary.
    /// `{ids, idLens, scores, kinds, reasonItems, reasonLens, weights, segments,
    ///   unknownItems, clampedEvents, unknownCandidates, coldStart}`; string
    /// lengths are in UTF-16 units; kinds: 0 history, 1 neighbour, 2 popular,
    /// 3 segment, 4 pinned, 5 taste (history, not attributed). With the
    /// learned ranker also `features` (per item, the index of the feature
    /// contributing most) and `featureNames` (comma-separated).
    fn ranked_list(
        &self,
        r: Vec<Ranked>,
        hist: &History,
        unknown_candidates: u32,
        cold: bool,
    ) -> JsValue {
        let n = r.len();
        let (mut ids, mut id_lens) = (String::new(), Vec::with_capacity(n));
        let (mut ritems, mut rlens) = (String::new(), Vec::with_capacity(n));
        let mut scores = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(n);
        let mut segs = Vec::with_capacity(n);
        let mut feats = Vec::with_capacity(n);
        let push = |buf: &mut String, lens: &mut Vec<u32>, i: Option<u32>| {
            let id = i.and_then(|i| self.inner.item_id(i as usize)).unwrap_or("");
            buf.push_str(id);
            lens.push(index_u32(id.encode_utf16().count()));
        };
        for x in r {
            feats.push(x.feature);
            push(&mut ids, &mut id_lens, Some(x.index));
            scores.push(x.score);
            let (kind, item, weight, segment) = match x.reason {
                Reason::History { item, weight } => (0u8, Some(item), weight, 0),
                Reason::Neighbour { item, weight } => (1, Some(item), weight, 0),
                Reason::Popular => (2, None, f32::NAN, 0),
                Reason::Segment { segment } => (3, None, f32::NAN, segment),
                Reason::Pinned => (4, None, f32::NAN, 0),
                Reason::Taste => (5, None, f32::NAN, 0),
            };
            kinds.push(kind);
            push(&mut ritems, &mut rlens, item);
            weights.push(weight);
            segs.push(segment);
        }
        let out = Object::new();
        set(&out, "ids", ids);
        set(&out, "idLens", js_sys::Uint32Array::from(&id_lens[..]));
        set(&out, "scores", Float32Array::from(&scores[..]));
        set(&out, "kinds", js_sys::Uint8Array::from(&kinds[..]));
        set(&out, "reasonItems", ritems);
        set(&out, "reasonLens", js_sys::Uint32Array::from(&rlens[..]));
        set(&out, "weights", Float32Array::from(&weights[..]));
        set(&out, "segments", js_sys::Uint32Array::from(&segs[..]));
        set(&out, "unknownItems", hist.unknown);
        set(&out, "clampedEvents", hist.clamped);
        set(&out, "unknownCandidates", unknown_candidates);
        set(&out, "coldStart", cold);
        if feats.iter().any(Option::is_some) {
            let f: Vec<u8> = feats.iter().map(|f| f.unwrap_or(u8::MAX)).collect();
            set(&out, "features", js_sys::Uint8Array::from(&f[..]));
            set(&out, "featureNames", crate::ranker::FEATURES.join(","));
        }
        out.into()
    }
}

#[wasm_bindgen]
impl Model {
    /// The shopper's user vector by exact ALS fold-in over their history.
    /// `{vector, unknownItems, clampedEvents, regularized}`; an empty history
    /// gives a zero vector (use `recommendFor` for the cold-start answer).
    /// Events, here and in every call that takes them: `[{type, item, ts}]`,
    /// or packed as `{types: Uint8Array, ts: Float64Array, items:
    /// Uint8Array}` (kind codes 0 view, 1 cart, 2 purchase, 3 search; each
    /// id's UTF-8 followed by a 0 byte), the form the shopper sends.
    #[wasm_bindgen(js_name = foldIn)]
    pub fn fold_in(&self, events: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let o = parse_options(&options)?;
        let (p, hist) = self.profile(&events, &o)?;
        if self.inner.gram().is_none() {
            return Err(js_error(Error::MissingCapability {
                section: "GRAM",
                needed_for: "fold-in",
            }));
        }
        let (vector, regularized) = match &p.fold {
            Some(f) => (f.user.clone(), f.regularized),
            None => (vec![0.0; self.inner.dim()], false),
        };
        let out = Object::new();
        set(&out, "vector", Float32Array::from(&vector[..]));
        set(&out, "unknownItems", hist.unknown);
        set(&out, "clampedEvents", hist.clamped);
        set(&out, "regularized", regularized);
        Ok(out.into())
    }

    /// Reranks any candidate list by the shopper's history (`options.events`)
    /// and session. Unknown candidate ids are dropped and counted.
    /// `candidateIds`: an array of ids, or a `Uint8Array` holding each id's
    /// UTF-8 followed by a 0 byte (the shopper's form).
    pub fn rerank(&self, candidate_ids: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let o = parse_options(&options)?;
        let (cands, unknown) = self.candidates_of(&candidate_ids)?;
        let events = types::prop(&options, "events")
            .map_err(invalid)?
            .unwrap_or(JsValue::UNDEFINED);
        let (mut p, hist) = self.profile(&events, &o)?;
        let ro = self.rerank_options(&o)?;
        let cold = p.fold.is_none() && p.session.is_empty();
        // Business options (price, rotation, promotion): src/placements/business.rs.
        let ev = &hist.events;
        if let Some((r, pr)) = self.business_rank(&options, o.now, &mut p, ev, Some(&cands), &ro)? {
            let out = self.ranked_list(r, &hist, unknown, cold);
            super::placements::mark_promoted(&out, &pr);
            return Ok(out);
        }
        let r = rerank::rerank(&self.inner, &p, &cands, &ro).map_err(js_error)?;
        Ok(self.ranked_list(r, &hist, unknown, cold))
    }

    /// The same machinery over the whole catalogue. Empty history → the
    /// segment given in `options.segment`, else popularity.
    #[wasm_bindgen(js_name = recommendFor)]
    pub fn recommend_for(&self, events: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let o = parse_options(&options)?;
        let (mut p, hist) = self.profile(&events, &o)?;
        let mut ro = self.rerank_options(&o)?;
        if ro.k == 0 {
            ro.k = 10;
        }
        let cold = p.fold.is_none() && p.session.is_empty();
        // Business options (price, rotation, promotion): src/placements/business.rs.
        if let Some((r, pr)) =
            self.business_rank(&options, o.now, &mut p, &hist.events, None, &ro)?
        {
            let out = self.ranked_list(r, &hist, 0, cold);
            super::placements::mark_promoted(&out, &pr);
            return Ok(out);
        }
        let r = rerank::recommend(&self.inner, &p, &ro).map_err(js_error)?;
        Ok(self.ranked_list(r, &hist, 0, cold))
    }

    /// Nearest segment `{index, name, distance}` for a user vector, or `null`
    /// when the bundle has no segments.
    pub fn segment(&self, user: &JsValue) -> Result<JsValue, JsValue> {
        let Some(sv) = self.inner.segments() else {
            return Ok(JsValue::NULL);
        };
        let user = super::model::user_vector(user, sv.dim)?;
        // Finite and in range: the same check as every scoring call.
        self.inner.prepare_user(&user).map_err(js_error)?;
        let user = &user[..];
        match crate::shopper::segments::assign(&sv, user) {
            None => Ok(JsValue::NULL),
            Some((i, distance)) => {
                let o = Object::new();
                set(&o, "index", index_u32(i));
                let name = sv
                    .names
                    .and_then(|n| n.get(i).map(str::to_string))
                    .unwrap_or_else(|| format!("segment {}", i + 1));
                set(&o, "name", name);
                set(&o, "distance", distance);
                Ok(o.into())
            }
        }
    }

    /// Behaviour segment of a history (BEHAVIOUR section):
    /// `{id, label, features, distance, missing}`, or
    /// `{segment: null, reason: 'NO_HISTORY'}` when no event names an item
    /// of this bundle. Only `now` and `sessionGapMinutes` are read from the
    /// options. A bundle without the section → `NO_SECTION` naming the
    /// export flag. The features are computed here, from `events` only.
    #[wasm_bindgen(js_name = behaviourSegment)]
    pub fn behaviour_segment(&self, events: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        use crate::shopper::segments::{segment_of, NoSegment, BEHAVIOUR};
        let o = parse_options(&options)?;
        if self.inner.view().behaviour.is_none() {
            return Err(js_error(Error::NoSection {
                section: "BEHAVIOUR",
                placement: "shopper.segment()",
                flag: "vitrine export --behaviour LOG",
            }));
        }
        let now = match o.now {
            Some(x) if x.is_finite() => x,
            Some(_) => return Err(invalid("now must be a finite number")),
            None => js_sys::Date::now(),
        };
        let gap = positive("sessionGapMinutes", o.session_gap_minutes)?.unwrap_or(30.0) * 60_000.0;
        let hist = self.events_of(&events, now)?;
        match segment_of(&self.inner, &hist.events, now, gap) {
            Ok(a) => {
                let out = Object::new();
                set(&out, "id", index_u32(a.id));
                set(&out, "label", a.label);
                let f = Object::new();
                let missing = Array::new();
                for (name, v) in BEHAVIOUR.iter().zip(a.features) {
                    if v.is_finite() {
                        set(&f, name, v);
                    } else {
                        set(&f, name, JsValue::NULL);
                        missing.push(&JsValue::from_str(name));
                    }
                }
                set(&out, "features", f);
                set(&out, "missing", missing);
                set(&out, "distance", a.distance);
                set(&out, "unknownItems", hist.unknown);
                Ok(out.into())
            }
            Err(NoSegment::EmptyHistory) => {
                let out = Object::new();
                set(&out, "segment", JsValue::NULL);
                set(&out, "reason", "NO_HISTORY");
                set(&out, "unknownItems", hist.unknown);
                Ok(out.into())
            }
            // The section is there (checked above) and loaded (validated at
            // load), so only features no centroid is a finite distance from.
            Err(NoSegment::NoSegments) => Err(js_error(Error::OutOfRange {
                what: "behaviour features too far from every segment".into(),
            })),
        }
    }

    /// Exact decomposition of ⟨u, y⟩ for one item over the history items
    /// (largest first). Sums to `score` up to rounding.
    pub fn explain(
        &self,
        events: JsValue,
        item_id: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let o = parse_options(&options)?;
        let id = item_id
            .as_string()
            .ok_or_else(|| invalid("item id must be a string"))?;
        let i = self
            .inner
            .item_index(&id)
            .ok_or_else(|| js_error(Error::UnknownItem { id: id.clone() }))?;
        let (p, hist) = self.profile(&events, &o)?;
        let y = self
            .inner
            .item_row_f32(i)
            .ok_or_else(|| js_error(Error::UnknownItem { id: id.clone() }))?;
        let (score, mut parts, regularized) = match &p.fold {
            Some(f) => (
                f.user.iter().zip(&y).map(|(a, b)| a * b).sum(),
                f.contributions(&y),
                f.regularized,
            ),
            None => (0.0, Vec::new(), false),
        };
        crate::shopper::sort_by(&mut parts, |a, b| a.1 > b.1 || (a.1 == b.1 && a.0 < b.0));
        let contributions = Array::new();
        for (it, w) in parts {
            let c = Object::new();
            set(&c, "item", self.id(it));
            set(&c, "weight", w);
            contributions.push(&c);
        }
        let out = Object::new();
        set(&out, "id", id);
        set(&out, "score", score);
        set(&out, "contributions", contributions);
        set(&out, "unknownItems", hist.unknown);
        set(&out, "regularized", regularized);
        Ok(out.into())
    }
}
