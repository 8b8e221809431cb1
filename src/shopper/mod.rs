//! The on-device shopper: what the browser knows about the person in front of
//! it, computed from their own event history and never sent anywhere.
//!
//! - [`foldin`]: the exact ALS user solve against the bundle's Gram matrix, and
//!   the per-history-item score decomposition behind "because you viewed X".
//! - [`rerank`]: the blend (long-term, session, popularity, neighbours), MMR
//!   diversity and business rules, for a given candidate list or the catalogue.
//! - [`segments`]: nearest-centroid assignment on-device; k-means++ for the trainer.
//! - [`neighbours`]: the co-occurrence builder behind the NEIGHBOURS section.
//!
//! Events arrive here already resolved to item indices: the bindings resolve
//! ids, so unknown ids are counted there and never reach the solve.
// Casts on sizes from untrusted input must be checked (`try_from`); `make lint` denies these.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod foldin;
pub mod neighbours;
pub mod rerank;
pub mod segments;

pub use foldin::{fold_in, FoldIn};
pub use rerank::{Blend, Ranked, Reason, RerankOptions, Rules};

/// What the shopper did. The kind sets how much the event says about taste.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    View,
    Cart,
    Purchase,
    Search,
}

impl EventKind {
    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "view" => Some(EventKind::View),
            "cart" => Some(EventKind::Cart),
            "purchase" => Some(EventKind::Purchase),
            "search" => Some(EventKind::Search),
            _ => None,
        }
    }

    /// The kind of a code in the glue's packed events (`EVENT_TYPES`' order
    /// in `www/shopper.js`: view, cart, purchase, search).
    pub fn from_code(c: u8) -> Option<EventKind> {
        match c {
            0 => Some(EventKind::View),
            1 => Some(EventKind::Cart),
            2 => Some(EventKind::Purchase),
            3 => Some(EventKind::Search),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EventKind::View => "view",
            EventKind::Cart => "cart",
            EventKind::Purchase => "purchase",
            EventKind::Search => "search",
        }
    }
}

/// One tracked event on a known item. `ts` is milliseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub item: u32,
    pub ts: f64,
}

/// Interaction weight `r` per event kind; the confidence is `1 + α·r`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    pub view: f32,
    pub cart: f32,
    pub purchase: f32,
    pub search: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            view: 1.0,
            cart: 3.0,
            purchase: 5.0,
            search: 0.5,
        }
    }
}

impl Weights {
    pub fn of(&self, k: EventKind) -> f32 {
        match k {
            EventKind::View => self.view,
            EventKind::Cart => self.cart,
            EventKind::Purchase => self.purchase,
            EventKind::Search => self.search,
        }
    }
}

/// How a history becomes fold-in weights and a session.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProfileOptions {
    pub weights: Weights,
    /// Older events count less: weight × 0.5^(age / half-life). `None` = no decay.
    pub half_life_days: Option<f64>,
    /// Inactivity that ends a session.
    pub session_gap_ms: f64,
    /// "Now" in ms since the epoch (passed in: the core has no clock).
    pub now_ms: f64,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            weights: Weights::default(),
            half_life_days: None,
            session_gap_ms: 30.0 * 60_000.0,
            now_ms: 0.0,
        }
    }
}

const DAY_MS: f64 = 86_400_000.0;

/// [`sort_by`] for orders without ties (every pair of elements compares
/// one way): natively the standard library's unstable sort, several times
/// faster on the evaluation's long sessions (thousands of links per
/// prediction); in wasm the heap sort, which keeps the module small. Without
/// ties the sorted order is unique, so both give the same result.
pub fn sort_unique_by<T>(v: &mut [T], before: impl Fn(&T, &T) -> bool) {
    #[cfg(target_arch = "wasm32")]
    sort_by(v, before);
    #[cfg(not(target_arch = "wasm32"))]
    v.sort_unstable_by(|a, b| {
        if before(a, b) {
            std::cmp::Ordering::Less
        } else if before(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
}

/// Heapsort by a strict "comes before" predicate. Every `slice::sort*` call
/// site instantiates its own multi-kilobyte sort in the wasm; this one is a
/// few hundred bytes. Not stable: callers that care break ties themselves.
pub fn sort_by<T>(v: &mut [T], before: impl Fn(&T, &T) -> bool) {
    // Max-heap under "comes after", so the heap top is the last element.
    let sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && before(&v[child], &v[child + 1]) {
            child += 1;
        }
        if before(&v[root], &v[child]) {
            v.swap(root, child);
            root = child;
        } else {
            break;
        }
    };
    let n = v.len();
    for i in (0..n / 2).rev() {
        sift(v, i, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

/// Sorts `(key, payload)` pairs by key, ascending and stable: a least
/// significant digit radix sort over the key's bytes, skipping every byte
/// that all keys share (item indices use three of a `u32`'s four). The
/// orders a shopper's call sorts hold hundreds to thousands of entries
/// (neighbour links, candidates by score), where [`sort_by`]'s heap sort
/// spends ~2 n log₂ n unpredictable branches: a tenth of a `recommend` at
/// 10k items. Callers whose keys are distinct get the one order those keys
/// define, as from any sort.
pub fn sort_by_key_u64(v: &mut [(u64, u32)]) {
    if v.len() < 32 {
        // Insertion sort: stable too, and fewer steps than the passes.
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && v[j - 1].0 > v[j].0 {
                v.swap(j - 1, j);
                j -= 1;
            }
        }
        return;
    }
    let mut counts = [[0u32; 256]; 8];
    for &(k, _) in v.iter() {
        for (b, c) in counts.iter_mut().enumerate() {
            c[((k >> (8 * b)) & 0xff) as usize] += 1;
        }
    }
    let n = v.len();
    let mut tmp: Vec<(u64, u32)> = vec![(0, 0); n];
    let mut src: &mut [(u64, u32)] = v;
    let mut dst: &mut [(u64, u32)] = &mut tmp;
    let mut in_tmp = false;
    for (b, c) in counts.iter().enumerate() {
        // A byte every key shares leaves the order as it is.
        if c.iter().any(|&x| x as usize == n) {
            continue;
        }
        let mut at = [0u32; 256];
        let mut sum = 0;
        for (a, &x) in at.iter_mut().zip(c.iter()) {
            *a = sum;
            sum += x;
        }
        for &e in src.iter() {
            // A byte indexes a 256-entry table; the slots count up to n.
            let slot = &mut at[((e.0 >> (8 * b)) & 0xff) as usize];
            if let Some(d) = dst.get_mut(*slot as usize) {
                *d = e;
            }
            *slot += 1;
        }
        std::mem::swap(&mut src, &mut dst);
        in_tmp = !in_tmp;
    }
    if in_tmp {
        dst.copy_from_slice(src);
    }
}

/// Sums decayed event weights per item: the `r` of the ALS objective.
/// Output is sorted by item index, zero-weight items dropped.
#[allow(clippy::cast_possible_truncation, reason = "a decay factor in [0, 1]")]
pub fn aggregate(events: &[Event], opts: &ProfileOptions) -> Vec<(u32, f32)> {
    let mut v: Vec<(u32, f32)> = events
        .iter()
        .map(|e| {
            let decay = match opts.half_life_days {
                Some(h) if h > 0.0 => {
                    let age = ((opts.now_ms - e.ts) / DAY_MS).max(0.0);
                    0.5f64.powf(age / h) as f32
                }
                _ => 1.0,
            };
            (e.item, opts.weights.of(e.kind) * decay)
        })
        .collect();
    sort_by(&mut v, |a, b| a.0 < b.0);
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(v.len());
    for (i, w) in v {
        match out.last_mut() {
            Some(last) if last.0 == i => last.1 += w,
            _ => out.push((i, w)),
        }
    }
    out.retain(|&(_, w)| w > 0.0 && w.is_finite());
    out
}

/// Splits events (sorted by time) into sessions at gaps longer than `gap_ms`.
/// Returns index ranges into `events`.
pub fn sessions(events: &[Event], gap_ms: f64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..events.len() {
        if events[i].ts - events[i - 1].ts > gap_ms {
            out.push(start..i);
            start = i;
        }
    }
    if !events.is_empty() {
        out.push(start..events.len());
    }
    out
}

/// The ongoing session: the last one, if its last event is within the gap of now.
pub fn current_session<'a>(events: &'a [Event], opts: &ProfileOptions) -> &'a [Event] {
    match sessions(events, opts.session_gap_ms).pop() {
        Some(r)
            if events
                .get(r.end - 1)
                .is_some_and(|e| opts.now_ms - e.ts <= opts.session_gap_ms) =>
        {
            &events[r]
        }
        _ => &[],
    }
}

#[cfg(test)]
mod tests;
