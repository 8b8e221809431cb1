//! Shared code of vitrine's libFuzzer targets (`fuzz_targets/*.rs`): the
//! framing and mutators ([`reseal`], [`mutate`]) and what each target does
//! with an input once decoded, so a crash file can be replayed from a plain
//! test as well (`cargo test` in this directory replays `fuzz/regressions/`).
//!
//! Invariant checked everywhere: no panic. With `VITRINE_FUZZ_STRICT=1` the
//! targets also check that every score and confidence they get back is finite
//! (issue #13, item 4: "a model that loads is safe"); off by default until the
//! validators guarantee it.

pub mod mutate;
pub mod placements;
pub mod reseal;

use std::sync::OnceLock;

use vitrine::engine::{Model, RecommendOptions, Scored};
use vitrine::intent::IntentModel;
use vitrine::shopper::rerank::{self, Profile};
use vitrine::shopper::{Event, EventKind, ProfileOptions, RerankOptions, Weights};

/// Whether the stricter, not yet guaranteed invariants are asserted.
pub fn strict() -> bool {
    static S: OnceLock<bool> = OnceLock::new();
    *S.get_or_init(|| std::env::var_os("VITRINE_FUZZ_STRICT").is_some_and(|v| v == "1"))
}

fn check_ranked(list: &[Scored], n: usize, k: usize, what: &str) {
    assert!(
        list.len() <= k.min(n),
        "{what}: {} results for k={k}, n={n}",
        list.len()
    );
    for w in list.windows(2) {
        assert!(
            w[0].score > w[1].score || (w[0].score == w[1].score && w[0].index < w[1].index),
            "{what}: not best first: {w:?}"
        );
    }
    for s in list {
        assert!((s.index as usize) < n, "{what}: index {} of {n}", s.index);
        if strict() {
            assert!(s.score.is_finite(), "{what}: score {}", s.score);
        }
    }
}

/// Loads a bundle from bytes; when it loads, runs every read path the wasm
/// bindings offer on it (queries, filters, similar, popular, intent, shopper).
pub fn exercise_bundle(data: &[u8]) {
    let Ok(m) = Model::from_bytes(data) else {
        return;
    };
    let n = m.n_items();
    let d = m.dim();
    let view = m.view();
    let _ = m.meta();
    if let Some(id) = m.item_id(0).map(str::to_owned) {
        assert_eq!(
            m.item_index(&id),
            Some(0),
            "id 0 does not resolve to itself"
        );
    }
    let user: Vec<f32> = (0..d).map(|i| ((i % 7) as f32 - 3.0) * 0.25).collect();
    let k = 5;
    let base = RecommendOptions {
        k,
        ..Default::default()
    };
    if let Ok(r) = m.recommend(&user, &base) {
        check_ranked(&r, n, k, "recommend");
        let idx: Vec<u32> = r.iter().map(|s| s.index).collect();
        let exact = m
            .score_indices(&user, &idx)
            .expect("score_indices of returned items");
        assert_eq!(exact.len(), idx.len());
    }
    let filtered = RecommendOptions {
        k,
        exclude: vec![0, 1],
        categories: view.category.map(|_| vec![0, 1, u32::MAX]),
        price_min: view.price.map(|_| 1.0),
        price_max: view.price.map(|_| 50.0),
        in_stock_only: view.flags.is_some(),
    };
    if let Ok(r) = m.recommend(&user, &filtered) {
        check_ranked(&r, n, k, "recommend filtered");
        assert!(r.iter().all(|s| s.index > 1), "excluded item returned");
    }
    for i in [0, n / 2, n.saturating_sub(1), n] {
        if let Ok(r) = m.similar(i, &base) {
            check_ranked(&r, n, k, "similar");
            assert!(
                r.iter().all(|s| s.index as usize != i),
                "similar returned itself"
            );
        }
    }
    if let Ok(r) = m.popular(&filtered) {
        check_ranked(&r, n, k, "popular");
    }
    let _ = m.item_row_f32(n.saturating_sub(1));
    if let Some(nv) = m.neighbours() {
        for i in [0, n.saturating_sub(1), n] {
            nv.of(i).for_each(drop);
        }
    }
    if let Ok(im) = IntentModel::from_bundle(&m) {
        exercise_intent_model(
            &im,
            &["where is my order 12345", "cheap red shoes under $20"],
        );
    }
    // The shopper on top of this bundle: fold-in, session and segments.
    let now = 1.0e12;
    let events: Vec<Event> = (0..n.min(4))
        .map(|i| Event {
            kind: [
                EventKind::View,
                EventKind::Cart,
                EventKind::Purchase,
                EventKind::Search,
            ][i % 4],
            item: i as u32,
            ts: now - 1000.0 * (4 - i) as f64,
        })
        .collect();
    let popts = ProfileOptions {
        now_ms: now,
        ..Default::default()
    };
    if let Ok(p) = Profile::build(&m, &events, &popts, rerank::SESSION_HALF_LIFE, Some(0)) {
        let ro = RerankOptions {
            k,
            ..Default::default()
        };
        let _ = rerank::recommend(&m, &p, &ro);
        let cands: Vec<u32> = (0..n.min(8) as u32).chain([n as u32]).collect();
        let _ = rerank::rerank(&m, &p, &cands, &ro);
        if let (Some(f), Some(row)) = (&p.fold, m.item_row_f32(0)) {
            let _ = f.top_reason(&row);
        }
    }
    placements::exercise_bundle_placements(&m);
}

/// Matches each text and checks the answer's shape.
pub fn exercise_intent_model(m: &IntentModel, texts: &[&str]) {
    for t in texts {
        let r = m.match_text(t);
        assert!(
            r.alternatives.len() <= 3,
            "{} alternatives",
            r.alternatives.len()
        );
        if let Some(name) = &r.intent {
            assert!(m.class_names().any(|c| c == name), "unknown intent {name}");
        }
        if strict() {
            assert!(
                (0.0..=1.0).contains(&r.confidence),
                "confidence {}",
                r.confidence
            );
            if let Some(p) = &r.slots.price {
                for v in [p.min, p.max, p.amount].into_iter().flatten() {
                    assert!(v.is_finite(), "price slot {v}");
                }
            }
        }
        let _ = m.predict(t);
    }
}

/// Decodes a `.vti` blob; when it decodes, matches a few texts and checks that
/// encoding gives the same model back.
pub fn exercise_vti(data: &[u8]) {
    let Ok(m) = IntentModel::from_bytes(data) else {
        return;
    };
    exercise_intent_model(
        &m,
        &[
            "",
            "hello",
            "where is my order 12345",
            "有没有便宜点的 鞋子 50元以下",
        ],
    );
    let again = IntentModel::from_bytes(&m.to_bytes()).expect("re-encoded model decodes");
    assert!(again == m, "decode(encode(m)) != m");
}

/// The intent model the text target matches against: the default set's
/// `.vti` (`make intent-demo`, copied to `fuzz/seeds/` by the seed step), or
/// `$VITRINE_FUZZ_VTI`; failing both, trained here from the shipped CSVs.
pub fn default_intent_model() -> &'static IntentModel {
    static M: OnceLock<IntentModel> = OnceLock::new();
    M.get_or_init(|| {
        let path = std::env::var_os("VITRINE_FUZZ_VTI")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/intent_default.vti")
            });
        let mut m = match std::fs::read(&path) {
            Ok(b) => IntentModel::from_bytes(&b).expect("default intent model decodes"),
            Err(_) => train_default_intent(),
        };
        if m.title_index().is_none() {
            let titles = vitrine::synth::catalogue(200, 4, 8, 1)
                .titles
                .unwrap_or_default();
            m.set_title_index(vitrine::intent::TitleIndex::build(&titles).ok());
        }
        m
    })
}

/// The default intent set trained as `make intent-demo` does (C = 30).
pub fn train_default_intent() -> IntentModel {
    use vitrine::intent::train::{read_examples, train, TrainConfig};
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/intent/data");
    let (rows, _) = read_examples(&data.join("default_train.csv")).expect("default_train.csv");
    let cfg = TrainConfig {
        c: 30.0,
        ..TrainConfig::default()
    };
    let (m, _) = train(&rows, &Default::default(), &cfg).expect("train the default set");
    m
}

/// A three-intent model trained on eight utterances (optionally with a
/// title index): a small `.vti` seed, and quick to decode in tests.
pub fn small_intent(titles: bool) -> IntentModel {
    use vitrine::intent::train::{train, Example, TrainConfig};
    let rows = [
        ("where is my order", "order_status"),
        ("track my package 12345", "order_status"),
        ("我的订单到哪了", "order_status"),
        ("i want a refund", "refund"),
        ("return these shoes", "refund"),
        ("退货退款", "refund"),
        ("cheap red shoes under $20", "search"),
        ("有没有便宜点的", "search"),
    ];
    let ex: Vec<Example> = rows
        .iter()
        .map(|(t, i)| Example {
            text: (*t).into(),
            intent: Some((*i).into()),
        })
        .collect();
    let (mut m, _) = train(&ex, &Default::default(), &TrainConfig::default()).unwrap();
    if titles {
        let t = vitrine::synth::catalogue(12, 4, 4, 1).titles.unwrap();
        m.set_title_index(Some(vitrine::intent::TitleIndex::build(&t).unwrap()));
    }
    m
}

/// One text through the whole matching path of the default model.
pub fn exercise_intent_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let m = default_intent_model();
    exercise_intent_model(m, &[&text]);
    let _ = vitrine::intent::train::featurize(&text, &m.feature_config());
    let _ = vitrine::intent::normalize::normalize(&text);
}

/// A synthetic bundle with every section the shopper reads: Gram, neighbours,
/// segments (with names), categories, prices, stock, popularity.
pub fn shopper_bundle() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let bytes = full_bundle(48, 8, vitrine::format::Dtype::F32, false);
        Model::from_bytes(&bytes).expect("synthetic bundle loads")
    })
}

/// `vitrine synth`'s catalogue plus the sections `synth` leaves out
/// (NEIGHBOURS, SEGMENTS, SEGMENT_NAMES, BEHAVIOUR, CO_PURCHASE, CADENCE,
/// TRENDING, RANKER when given, INTENT when given).
pub fn full_bundle_ext(
    n: usize,
    dim: usize,
    dtype: vitrine::format::Dtype,
    residual: bool,
    intent: Option<Vec<u8>>,
    ranker: Option<vitrine::ranker::Ranker>,
) -> Vec<u8> {
    let mut parts = vitrine::synth::catalogue(n, dim, 4, 7);
    let sessions: Vec<Vec<u32>> = (0..n as u32)
        .map(|i| vec![i, (i * 7 + 3) % n as u32, (i * 13 + 5) % n as u32])
        .collect();
    parts.neighbours = Some(vitrine::shopper::neighbours::build(
        n,
        &sessions,
        &vitrine::shopper::neighbours::NeighbourOptions {
            top_n: 4,
            ..Default::default()
        },
    ));
    let mut seg = vitrine::shopper::segments::section(&parts.factors, dim, 3, None, 3);
    seg.names = (0..seg.names.len())
        .map(|i| format!("segment-{i}"))
        .collect();
    parts.segments = Some(seg);
    // Behaviour segments fitted on three synthetic habits: the BEHAVIOUR
    // section in every seed bundle, and `segment_of` in the shopper target.
    let rows: Vec<[f32; vitrine::shopper::segments::B]> = (0..30)
        .map(|i| {
            let g = (i % 3) as f32;
            std::array::from_fn(|j| g * (j as f32 + 1.0) * 0.3 + i as f32 * 0.01)
        })
        .collect();
    parts.behaviour = vitrine::shopper::segments::fit_behaviour(&rows, Some(3), 3);
    parts.int8_residual = residual;
    parts.intent = intent;
    parts.ranker = ranker;
    let bytes = vitrine::format::write_bundle(&parts, dtype).expect("synthetic bundle writes");
    // CO_PURCHASE, CADENCE and TRENDING as `vitrine placements build` adds
    // them: every seed reaches the placements, and the bundle target's
    // section edits reach their decoders.
    vitrine::format::placements::add_sections(&bytes, &placement_parts(n))
        .expect("placement sections add")
}

/// [`full_bundle_ext`] with the learned ranker of [`synthetic_ranker`].
pub fn full_bundle_with(
    n: usize,
    dim: usize,
    dtype: vitrine::format::Dtype,
    residual: bool,
    intent: Option<Vec<u8>>,
) -> Vec<u8> {
    full_bundle_ext(
        n,
        dim,
        dtype,
        residual,
        intent,
        Some(synthetic_ranker(false)),
    )
}

/// A RANKER section's content: every feature with a weight of either sign,
/// so each one can be an item's top feature. `v1`: only the 15 features of
/// the first sections (`FEATURES_V1`), the path `Ranker::aligned` maps.
pub fn synthetic_ranker(v1: bool) -> vitrine::ranker::Ranker {
    let names: &[&str] = if v1 {
        vitrine::ranker::FEATURES_V1
    } else {
        &vitrine::ranker::FEATURES
    };
    let f = names.len();
    vitrine::ranker::Ranker {
        names: names.iter().map(|s| s.to_string()).collect(),
        mean: (0..f).map(|j| 0.05 * j as f32).collect(),
        scale: (0..f).map(|j| 0.5 + 0.1 * j as f32).collect(),
        weights: (0..f)
            .map(|j| {
                if j % 3 == 2 {
                    -0.4
                } else {
                    0.3 + 0.05 * j as f32
                }
            })
            .collect(),
        bias: -1.5,
    }
}

/// Orders of twelve synthetic buyers over ~80 days before the fuzz targets'
/// default "now" (1e12 ms, day 11 574): repeat purchases (a cadence),
/// pairs that recur (co-purchases) and a recent burst (a trend).
pub fn placement_parts(n: usize) -> vitrine::format::placements::PlacementParts {
    use vitrine::placements::build::{parts, Basket, BuildOptions};
    let n32 = n.max(1) as u32;
    let mut baskets = Vec::new();
    for user in 0..12u32 {
        for j in 0..6u32 {
            let a = (user * 5 + j % 2) % n32;
            let items = vec![a, (a * 3 + 1) % n32, (user + j * 11) % n32];
            baskets.push(Basket {
                user,
                time: 11_490.0 + f64::from(j * 14 + user % 3),
                items,
            });
        }
    }
    parts(n, &baskets, &BuildOptions::default())
}

pub fn full_bundle(n: usize, dim: usize, dtype: vitrine::format::Dtype, residual: bool) -> Vec<u8> {
    full_bundle_with(n, dim, dtype, residual, None)
}

/// Reads little-endian fields from the fuzzer's bytes, zero past the end.
pub struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Bytes(b)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        let (h, t) = self.0.split_first().map_or((0, &[][..]), |(h, t)| (*h, t));
        self.0 = t;
        h
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// A JS number: one tag byte picks an edge value, else eight raw bytes.
    pub fn f64(&mut self) -> f64 {
        match self.u8() % 16 {
            0 => 0.0,
            1 => -1.0,
            2 => f64::NAN,
            3 => f64::INFINITY,
            4 => 1e39,
            5 => f64::from(f32::MAX),
            6 => 1.0e12,
            7 => 2.0,
            8 => 0.5,
            9 => f64::from(self.u16()),
            _ => f64::from_le_bytes(std::array::from_fn(|_| self.u8())),
        }
    }
    pub fn opt_f64(&mut self) -> Option<f64> {
        (self.u8() & 1 == 1).then(|| self.f64())
    }
}

/// `whole()` of the wasm bindings: a whole number in [0, 1e7].
fn whole(v: Option<f64>, default: usize) -> Option<usize> {
    match v {
        None => Some(default),
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 1e7 => Some(x as usize),
        Some(_) => None,
    }
}

/// `positive()` of the wasm bindings.
fn positive(v: Option<f64>) -> Option<Option<f64>> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0) => None,
        _ => Some(v),
    }
}

/// A stored history plus shopper options, decoded from fuzzer bytes and
/// validated exactly as `src/wasm/shopper.rs` validates what JS passes
/// (`events_of`, `profile`, `rerank_options`), then the shopper core:
/// aggregation, sessions, fold-in, segments, rerank, recommend, reasons.
///
/// Why here and not a record decoder: the stored record (`{schema, version,
/// events}`) is parsed by `parseRecord` in `www/shopper.js`; the Rust side
/// sees the events it yields through these bindings.
pub fn exercise_shopper(data: &[u8]) {
    let m = shopper_bundle();
    let n = m.n_items();
    let mut b = Bytes::new(data);
    let now = match b.opt_f64() {
        Some(x) if x.is_finite() => x,
        Some(_) => return,
        None => 1.0e12,
    };
    let w = |x: Option<f64>, d: f32| x.map_or(d, |x| x as f32);
    let dw = Weights::default();
    let weights = Weights {
        view: w(b.opt_f64(), dw.view),
        cart: w(b.opt_f64(), dw.cart),
        purchase: w(b.opt_f64(), dw.purchase),
        search: w(b.opt_f64(), dw.search),
    };
    let Some(half_life_days) = positive(b.opt_f64()) else {
        return;
    };
    let Some(gap) = positive(b.opt_f64()) else {
        return;
    };
    let Some(session_hl) = positive(b.opt_f64()) else {
        return;
    };
    let segment = match b.opt_f64() {
        None => None,
        Some(x) => match whole(Some(x), 0) {
            Some(s) => Some(s as u32),
            None => return,
        },
    };
    let popts = ProfileOptions {
        weights,
        half_life_days,
        session_gap_ms: gap.unwrap_or(30.0) * 60_000.0,
        now_ms: now,
    };
    // Rerank options.
    let Some(k) = whole(b.opt_f64(), 0) else {
        return;
    };
    let mut ro = RerankOptions {
        k: k.min(n + 5),
        ..Default::default()
    };
    ro.blend.long = w(b.opt_f64(), ro.blend.long);
    ro.blend.session = w(b.opt_f64(), ro.blend.session);
    ro.blend.popularity = w(b.opt_f64(), ro.blend.popularity);
    ro.blend.neighbours = w(b.opt_f64(), ro.blend.neighbours);
    if let Some(l) = b.opt_f64() {
        if !(0.0..=1.0).contains(&l) {
            return;
        }
        ro.mmr_lambda = l as f32;
    }
    // Sizes stay small: a fuzz input must not ask for a 1e7-item pool.
    let small = |v: Option<usize>| v.map(|x| x % 64);
    let Some(depth) = small(whole(b.opt_f64(), ro.diversity_depth)) else {
        return;
    };
    let Some(pool) = small(whole(b.opt_f64(), ro.pool)) else {
        return;
    };
    let Some(reasons) = small(whole(b.opt_f64(), ro.reason_depth)) else {
        return;
    };
    ro.diversity_depth = depth;
    ro.pool = pool;
    ro.reason_depth = reasons;
    let item = |b: &mut Bytes<'_>| (b.u8() as usize % (n + 2)) as u32;
    for _ in 0..b.u8() % 4 {
        let i = item(&mut b);
        ro.rules.pins.push((i, b.u8() as usize % 16));
    }
    for _ in 0..b.u8() % 4 {
        let i = item(&mut b);
        let v = b.f64() as f32;
        ro.rules.boost.push((i, v));
    }
    for _ in 0..b.u8() % 4 {
        let i = item(&mut b);
        ro.rules.bury.push(i);
    }
    for _ in 0..b.u8() % 4 {
        let i = item(&mut b);
        ro.rules.exclude.push(i);
    }
    ro.rules.category_cap = match b.u8() % 4 {
        0 => Some(b.u8() as usize % 4),
        _ => None,
    };
    ro.rules.exclude_purchased = b.u8() & 1 == 1;
    let fin = |x: Option<f64>| match x {
        Some(v) if !v.is_finite() => None,
        _ => Some(x),
    };
    let Some(price_min) = fin(b.opt_f64()) else {
        return;
    };
    let Some(price_max) = fin(b.opt_f64()) else {
        return;
    };
    ro.filter = RecommendOptions {
        k: 0,
        exclude: Vec::new(),
        categories: (b.u8() & 1 == 1).then(|| vec![b.u8() as u32 % 6]),
        price_min,
        price_max,
        in_stock_only: b.u8() & 1 == 1,
    };
    let candidates: Vec<u32> = (0..b.u8() % 16).map(|_| item(&mut b)).collect();
    // The events: what parseRecord hands over, then `events_of`.
    let mut events: Vec<(usize, Event)> = Vec::new();
    while !b.is_empty() {
        let kind = match b.u8() % 5 {
            0 => EventKind::View,
            1 => EventKind::Cart,
            2 => EventKind::Purchase,
            3 => EventKind::Search,
            _ => return, // an unknown type: INVALID_EVENT
        };
        let i = item(&mut b);
        let mut ts = match b.u8() % 4 {
            0 => now,                               // ts omitted
            1 => now - f64::from(b.u16()) * 1000.0, // recent
            _ => b.f64(),
        };
        if !ts.is_finite() {
            return; // INVALID_EVENT
        }
        if ts > now + 5.0 * 60_000.0 {
            ts = now;
        }
        if (i as usize) < n {
            events.push((events.len(), Event { kind, item: i, ts }));
        }
        if events.len() > 256 {
            break;
        }
    }
    vitrine::shopper::sort_by(&mut events, |a, b| {
        a.1.ts < b.1.ts || (a.1.ts == b.1.ts && a.0 < b.0)
    });
    let events: Vec<Event> = events.into_iter().map(|e| e.1).collect();
    // The behaviour segment of the same history (`behaviourSegment` in the
    // bindings): none exactly when the history is empty, else a finite
    // distance to one of the bundle's segments.
    match vitrine::shopper::segments::segment_of(m, &events, now, popts.session_gap_ms) {
        Ok(a) => assert!(
            a.distance.is_finite() && a.id < 3,
            "behaviour segment {a:?}"
        ),
        Err(e) => assert!(
            events.is_empty() && e == vitrine::shopper::segments::NoSegment::EmptyHistory,
            "no behaviour segment for {} events: {e:?}",
            events.len()
        ),
    }
    let hl = session_hl.map_or(rerank::SESSION_HALF_LIFE, |x| x as f32);
    let Ok(p) = Profile::build(m, &events, &popts, hl, segment) else {
        return;
    };
    if let Ok(r) = rerank::rerank(m, &p, &candidates, &ro) {
        assert!(
            r.iter().all(|x| (x.index as usize) < n),
            "rerank returned an unknown item"
        );
        if ro.k > 0 {
            assert!(
                r.len() <= ro.k,
                "rerank: {} results for k={}",
                r.len(),
                ro.k
            );
        }
    }
    let mut rec = ro.clone();
    if rec.k == 0 {
        rec.k = 10;
    }
    if let Ok(r) = rerank::recommend(m, &p, &rec) {
        assert!(
            r.len() <= rec.k,
            "recommend: {} results for k={}",
            r.len(),
            rec.k
        );
        assert!(
            r.iter().all(|x| (x.index as usize) < n),
            "recommend returned an unknown item"
        );
        if strict() {
            assert!(
                r.iter().all(|x| x.score.is_finite()),
                "non-finite shopper score"
            );
        }
    }
    if let Some(f) = &p.fold {
        if let Some(row) = m.item_row_f32(0) {
            let c = f.contributions(&row);
            assert_eq!(c.len(), f.history().count());
        }
    }
}

#[cfg(test)]
mod tests;
