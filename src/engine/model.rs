//! A loaded model: the bundle bytes (kept as-is, zero-copy) plus the few
//! derived arrays worth computing once at load (row norms for cosine, row
//! sums for the relaxed int8 kernel, per-block score bounds).
// Casts on sizes from untrusted input must be checked (`try_from`); `make lint` denies these.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use super::kernels;
use super::screen::{BlockOrder, Bound, Screen};
use super::topk::{Scored, TopK};
use crate::error::{Error, Result};
use crate::format::limits::MAX_USER_ABS;
use crate::format::{
    self, read::GramView, read::SegmentsView, AlignedBuf, BundleLayout, BundleView, Dtype,
    FactorsView, NeighboursView,
};

/// Where the lazily built screen lives: a `OnceLock` natively (the CLI's
/// evaluations share one model across threads), a `OnceCell` in wasm, where
/// a model never leaves its thread and the lock's code would cost the
/// engine builds kilobytes.
#[cfg(target_arch = "wasm32")]
type Lazy<T> = std::cell::OnceCell<T>;
#[cfg(not(target_arch = "wasm32"))]
type Lazy<T> = std::sync::OnceLock<T>;

/// Rows scored per kernel call: small enough to stay in L1 with the scores.
pub(super) const BLOCK: usize = 256;

/// Filters and size for a top-k query. Indices, not ids: the bindings resolve ids.
#[derive(Debug, Clone, Default)]
pub struct RecommendOptions {
    pub k: usize,
    pub exclude: Vec<u32>,
    /// Category indices; `None` = all categories.
    pub categories: Option<Vec<u32>>,
    /// f64: compared with PRICE_F64 exactly (priceMax 24.99 keeps a 24.99 item).
    pub price_min: Option<f64>,
    pub price_max: Option<f64>,
    pub in_stock_only: bool,
}

/// The price column a filter compares with, in its own precision: an older
/// bundle's f32 prices against the bounds rounded to f32 (as before 1.2), so
/// a bound equal to a price always keeps it.
#[derive(Clone, Copy)]
enum PriceRange<'a> {
    F32(f32, f32, &'a [f32]),
    F64(f64, f64, &'a [f64]),
}

impl PriceRange<'_> {
    #[inline]
    fn allows(&self, i: usize) -> bool {
        // NaN (unknown price) fails every range.
        match *self {
            PriceRange::F32(lo, hi, p) => p.get(i).is_some_and(|&p| p >= lo && p <= hi),
            PriceRange::F64(lo, hi, p) => p.get(i).is_some_and(|&p| p >= lo && p <= hi),
        }
    }
}

/// Per-query filter, compiled once so the scan tests a candidate in O(1).
/// Only candidates that beat the current k-th score are tested at all.
struct Filter<'a> {
    excluded: Vec<u64>,
    categories: Option<(Vec<u64>, &'a [u32])>,
    price: Option<PriceRangeFilter<'a>>,
    stock: Option<&'a [u8]>,
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

impl Filter<'_> {
    #[inline]
    fn allows(&self, i: usize) -> bool {
        if !self.excluded.is_empty() && bit(&self.excluded, i) {
            return false;
        }
        if let Some((bits, cats)) = &self.categories {
            match cats.get(i) {
                Some(&c) if c != u32::MAX && bit(bits, c as usize) => {}
                _ => return false,
            }
        }
        if let Some(r) = self.price {
            if !r.allows(i) {
                return false;
            }
        }
        if let Some(flags) = self.stock {
            if flags
                .get(i)
                .is_none_or(|f| f & format::read::ITEM_IN_STOCK == 0)
            {
                return false;
            }
        }
        true
    }
}

pub struct Model {
    buf: AlignedBuf,
    layout: BundleLayout,
    /// 1 / ‖yᵢ‖ (0 for zero rows), for cosine similarity.
    inv_norms: Vec<f32>,
    /// Σ of each int8 row's bytes, when the int8 kernel needs them
    /// ([`kernels::NEEDS_ROW_SUMS`]); empty otherwise.
    row_sums: Vec<i32>,
    /// The int8 screen of f32 / f16 rows ([`Model::set_screen`]): built by
    /// the first scan that wants it, so a load pays nothing for it and a
    /// page that turns it off right after loading never builds it.
    screen: Lazy<Option<Screen>>,
    screen_wanted: bool,
    /// The first [`KEPT`] items of a score column of the bundle
    /// (popularity, trending), keyed by the column's place in `buf`, each
    /// built by the first [`Model::top_of_column`] call on its column: the
    /// bundle's bytes never change after load, so later calls walk this
    /// list instead of the whole catalogue.
    kept: [Lazy<KeptOrder>; 3],
    /// Ids by hash for [`Model::item_index`], built once the lookups have
    /// paid for it (see [`IdTable`]); until then each lookup is a binary
    /// search over the bundle's id index, and so it stays when the table's
    /// memory could not be had (`None`).
    id_table: Lazy<Option<IdTable>>,
    /// Lookups made before `id_table` was built.
    lookups: std::sync::atomic::AtomicUsize,
}

/// A column's place in the bundle (address, length) and its best items.
type KeptOrder = ((usize, usize), Vec<Scored>);

/// How many of a column's best items [`Model::top_of_column`] keeps in
/// order: enough for a filtered shelf and the shopper's popular pool (a
/// quarter of its 200 candidates) without a scan; 4 KB per column.
const KEPT: usize = 512;

/// Lookups made by binary search before [`Model::item_index`] considers a
/// hash table, beyond the n / 8 it scales with: a small catalogue is not
/// worth a table for a handful of ids.
const ID_TABLE_MIN_LOOKUPS: usize = 256;

/// Open addressing over the item indices (+1; 0 is an empty slot), at most
/// half full: 8 bytes per item, built in one pass over the ids.
#[derive(Debug)]
struct IdTable {
    slots: Vec<u32>,
    /// 64 − log₂(slots): the hash's top bits pick the first slot.
    shift: u32,
}

impl IdTable {
    /// `None` when the allocation fails (a page near its memory limit):
    /// lookups then keep to binary search rather than trap.
    #[cold]
    #[inline(never)]
    fn build(ids: &format::StringTable<'_>) -> Option<IdTable> {
        let n = ids.len();
        let bits = n
            .max(1)
            .checked_mul(2)?
            .checked_next_power_of_two()?
            .trailing_zeros();
        let mask = (1usize << bits) - 1;
        let mut slots = Vec::new();
        slots.try_reserve_exact(mask + 1).ok()?;
        slots.resize(mask + 1, 0);
        let mut t = IdTable {
            slots,
            shift: 64 - bits,
        };
        for i in 0..n {
            let Some(b) = ids.get_bytes(i) else { continue };
            let mut at = t.first_slot(b);
            // Ids are unique (the bundle's validation), so no id is met twice.
            while t.slots.get(at).is_some_and(|&s| s != 0) {
                at = (at + 1) & mask;
            }
            if let Some(s) = t.slots.get_mut(at) {
                *s = format::index_u32(i) + 1;
            }
        }
        Some(t)
    }

    fn first_slot(&self, id: &[u8]) -> usize {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "shift ≥ 64 − usize::BITS + 1: the result fits the slot count"
        )]
        let at = (id_hash(id) >> self.shift) as usize;
        at
    }

    fn find(&self, ids: &format::StringTable<'_>, id: &[u8]) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut at = self.first_slot(id);
        loop {
            let i = (*self.slots.get(at)?).checked_sub(1)? as usize;
            if ids.get_bytes(i)? == id {
                return Some(i);
            }
            at = (at + 1) & mask;
        }
    }
}

/// FNV-1a over the id's bytes, with a final multiply so that the top bits,
/// which pick the slot, depend on every byte: ids are short. Not inlined:
/// its unrolled loop is one copy for the table's build and its lookups.
#[inline(never)]
fn id_hash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
    }
    h.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("n_items", &self.layout.n_items)
            .field("dim", &self.layout.dim)
            .field("dtype", &self.layout.dtype)
            .finish()
    }
}

impl Model {
    /// Copies `bytes` once into aligned memory, then validates.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        let buf = AlignedBuf::from_slice(bytes).ok_or(Error::SizeOverflow {
            what: "bundle allocation",
        })?;
        Model::from_aligned(buf)
    }

    /// Zero-copy: takes ownership of an already aligned buffer.
    pub fn from_aligned(buf: AlignedBuf) -> Result<Model> {
        Model::from_aligned_with(buf, &format::Known::default())
    }

    /// [`Model::from_aligned`] with what is already known of the bytes
    /// (section CRCs computed while they arrived; a cached copy's skipped
    /// value checks): see [`format::parse_with`].
    pub fn from_aligned_with(buf: AlignedBuf, known: &format::Known) -> Result<Model> {
        let layout = format::parse_with(buf.as_slice(), known)?;
        let mut m = Model {
            buf,
            layout,
            inv_norms: Vec::new(),
            row_sums: Vec::new(),
            screen: Lazy::new(),
            screen_wanted: true,
            kept: [Lazy::new(), Lazy::new(), Lazy::new()],
            id_table: Lazy::new(),
            lookups: std::sync::atomic::AtomicUsize::new(0),
        };
        m.inv_norms = m.compute_inv_norms();
        if let (true, FactorsView::I8 { q, .. }) = (kernels::NEEDS_ROW_SUMS, m.factors()) {
            let mut sums = vec![0; m.n_items()];
            kernels::sum_i8(q, m.layout.stride, &mut sums);
            m.row_sums = sums;
        }
        Ok(m)
    }

    fn compute_inv_norms(&self) -> Vec<f32> {
        let n = self.n_items();
        let stride = self.layout.stride;
        let mut sq = vec![0f32; n];
        match self.factors() {
            FactorsView::F32(rows) => kernels::sumsq_f32(rows, stride, &mut sq),
            FactorsView::F16(rows) => {
                let mut tmp = vec![0f32; stride];
                for (o, row) in sq.iter_mut().zip(rows.chunks_exact(stride)) {
                    for (t, &h) in tmp.iter_mut().zip(row) {
                        *t = format::f16_to_f32(h);
                    }
                    *o = kernels::scalar::dot_row_f32(&tmp, &tmp);
                }
            }
            // Without the residual: scan-time cosine only needs rank-preserving
            // norms; candidates are re-scored with `refined_inv_norm`.
            FactorsView::I8 { q, scales, .. } => {
                kernels::sumsq_i8(q, stride, &mut sq);
                for (o, &s) in sq.iter_mut().zip(scales) {
                    *o *= s * s;
                }
            }
        }
        for v in sq.iter_mut() {
            *v = if *v > 0.0 { 1.0 / v.sqrt() } else { 0.0 };
        }
        sq
    }

    pub fn view(&self) -> BundleView<'_> {
        self.layout.view(self.buf.as_slice())
    }

    /// The factor rows (what [`Model::view`] holds, without deriving the
    /// rest: see `BundleLayout::factors`).
    pub fn factors(&self) -> FactorsView<'_> {
        self.layout.factors(self.buf.as_slice())
    }

    /// The item bias, if the bundle has one (as [`Model::factors`]).
    pub fn bias(&self) -> Option<&[f32]> {
        self.layout.bias(self.buf.as_slice())
    }

    pub fn layout(&self) -> &BundleLayout {
        &self.layout
    }

    pub fn bytes(&self) -> &[u8] {
        self.buf.as_slice()
    }

    pub fn n_items(&self) -> usize {
        self.layout.n_items
    }

    pub fn dim(&self) -> usize {
        self.layout.dim
    }

    /// Builds now (`true`) or drops (`false`) the int8 screen of an f32 or
    /// f16 catalogue (`engine/screen.rs`): the same answers, scanned from a
    /// quarter (f32) or half (f16) of the bytes, for `n · stride` more bytes
    /// of memory. Without a call the first scan builds it. Returns whether
    /// a screen is held afterwards: never for int8 bundles (they are the
    /// screen), below 4,096 rows (`screen::MIN_ITEMS`: the rows sit in
    /// cache) or in the lean wasm builds (their 200 KB budget, pkg/README.md
    /// "What a page downloads").
    pub fn set_screen(&mut self, on: bool) -> bool {
        self.screen_wanted = on;
        self.screen = Lazy::new();
        if on {
            let built = self.build_screen();
            // Just emptied, so this `set` cannot find a value.
            let _ = self.screen.set(built);
        }
        self.screen_bytes() > 0
    }

    /// The screen for a scan: built on first use unless turned off.
    fn screen(&self) -> Option<&Screen> {
        if !self.screen_wanted {
            return None;
        }
        self.screen.get_or_init(|| self.build_screen()).as_ref()
    }

    #[inline(never)]
    fn build_screen(&self) -> Option<Screen> {
        if cfg!(feature = "lean") || self.n_items() < super::screen::MIN_ITEMS {
            return None;
        }
        let stride = self.layout.stride;
        let (bias, factors) = (self.bias(), self.factors());
        if matches!(factors, FactorsView::I8 { .. }) {
            return None;
        }
        let mut row = |i: usize, out: &mut [f32]| {
            let at = i.checked_mul(stride).map(|s| s..s + stride);
            match (factors, at) {
                (FactorsView::F32(r), Some(at)) => r.get(at).map(|r| out.copy_from_slice(r)),
                (FactorsView::F16(r), Some(at)) => r.get(at).map(|r| {
                    for (o, &h) in out.iter_mut().zip(r) {
                        *o = format::f16_to_f32(h);
                    }
                }),
                _ => None,
            }
            .is_some()
        };
        Screen::build(self.n_items(), stride, &mut row, &self.inv_norms, bias)
    }

    /// Bytes held by the int8 screen (0 without one).
    pub fn screen_bytes(&self) -> usize {
        self.screen
            .get()
            .and_then(Option::as_ref)
            .map_or(0, Screen::bytes)
    }

    pub fn dtype(&self) -> Dtype {
        self.layout.dtype
    }

    /// The item with this id. The first lookups binary-search the id index
    /// stored in the bundle, so a load builds nothing; once a model has
    /// made about n / 8 of them (a shopper resolves every event and every
    /// candidate: ~600 ids per re-ranking), a hash table of the ids takes
    /// over, which costs one hash and one comparison where the search
    /// costs log₂ n comparisons, each a walk through three arrays.
    pub fn item_index(&self, id: &str) -> Option<usize> {
        if let Some(table) = self.id_table() {
            return table.find(&self.layout.ids(self.buf.as_slice()), id.as_bytes());
        }
        self.search_id(id)
    }

    /// The hash table of ids, built here once enough lookups have been
    /// made to pay for it.
    fn id_table(&self) -> Option<&IdTable> {
        use std::sync::atomic::Ordering::Relaxed;
        // The lean builds (no shopper, no placements) look up a few ids per
        // call and keep their 200 KB: binary search alone.
        if cfg!(feature = "lean") {
            return None;
        }
        if let Some(t) = self.id_table.get() {
            return t.as_ref();
        }
        if self.lookups.fetch_add(1, Relaxed) < self.n_items() / 8 + ID_TABLE_MIN_LOOKUPS {
            return None;
        }
        // `set`, not `get_or_init`: nothing else sets it in between, and
        // `get_or_init`'s reentrancy check costs the builds its panic code.
        let _ = self
            .id_table
            .set(IdTable::build(&self.layout.ids(self.buf.as_slice())));
        self.id_table.get()?.as_ref()
    }

    #[cfg(test)]
    pub(super) fn has_id_table(&self) -> bool {
        self.id_table.get().is_some_and(Option::is_some)
    }

    /// Binary search over the bundle's id index.
    fn search_id(&self, id: &str) -> Option<usize> {
        let (buf, key) = (self.buf.as_slice(), id.as_bytes());
        let (ids, idx) = (self.layout.ids(buf), self.layout.id_index(buf));
        let (mut lo, mut hi) = (0usize, idx.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let i = *idx.get(mid)? as usize;
            match format::cmp_bytes(ids.get_bytes(i)?, key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(i),
            }
        }
        None
    }

    pub fn item_id(&self, i: usize) -> Option<&str> {
        self.layout.ids(self.buf.as_slice()).get(i)
    }

    /// Resolves ids to indices; unknown ids are skipped and counted.
    pub fn resolve_ids<S: AsRef<str>>(&self, ids: &[S]) -> (Vec<u32>, usize) {
        let mut out = Vec::with_capacity(ids.len());
        let mut unknown = 0;
        for id in ids {
            match self.item_index(id.as_ref()) {
                Some(i) => out.push(format::index_u32(i)),
                None => unknown += 1,
            }
        }
        (out, unknown)
    }

    pub fn category_index(&self, name: &str) -> Option<u32> {
        self.view()
            .category_names
            .iter()
            .position(|c| c == name)
            .map(format::index_u32)
    }

    /// Dequantized factor row `i` (length `dim`), or `None` past the end.
    pub fn item_row_f32(&self, i: usize) -> Option<Vec<f32>> {
        let mut row = vec![0f32; self.layout.dim];
        self.item_row_into(i, &mut row)?;
        Some(row)
    }

    /// [`Model::item_row_f32`] written into `out` (its first `dim` values),
    /// for callers that gather many rows into one buffer: no allocation per
    /// row. `None` past the end or when `out` is shorter than `dim`.
    pub fn item_row_into(&self, i: usize, out: &mut [f32]) -> Option<()> {
        let (dim, stride) = (self.layout.dim, self.layout.stride);
        let start = i.checked_mul(stride)?;
        let out = out.get_mut(..dim)?;
        match self.factors() {
            FactorsView::F32(r) => out.copy_from_slice(r.get(start..start + dim)?),
            FactorsView::F16(r) => {
                for (o, &h) in out.iter_mut().zip(r.get(start..start + dim)?) {
                    *o = format::f16_to_f32(h);
                }
            }
            FactorsView::I8 {
                q,
                scales,
                residual,
            } => {
                let s = *scales.get(i)?;
                let q = q.get(start..start + dim)?;
                match residual {
                    Some(r) => {
                        let r = r.get(start..start + dim)?;
                        for ((o, &q), &r) in out.iter_mut().zip(q).zip(r) {
                            *o = s * (q as f32 + r as f32 / format::RESIDUAL_STEPS);
                        }
                    }
                    None => {
                        for (o, &q) in out.iter_mut().zip(q) {
                            *o = q as f32 * s;
                        }
                    }
                }
            }
        }
        Some(())
    }

    /// Whether int8 rows carry a RESIDUAL section (re-scoring at ~15 bits).
    pub fn refined(&self) -> bool {
        matches!(
            self.factors(),
            FactorsView::I8 {
                residual: Some(_),
                ..
            }
        )
    }

    /// 1 / ‖yᵢ‖ of the refined row: the scan's `inv_norms` come from the
    /// 8-bit rows, good enough to pick candidates but not to score them.
    fn refined_inv_norm(&self, i: usize) -> f32 {
        let row = self.item_row_f32(i).unwrap_or_default();
        let sq = kernels::scalar::dot_row_f32(&row, &row);
        if sq > 0.0 {
            1.0 / sq.sqrt()
        } else {
            0.0
        }
    }

    pub fn gram(&self) -> Option<GramView<'_>> {
        self.view().gram
    }

    pub fn neighbours(&self) -> Option<NeighboursView<'_>> {
        self.view().neighbours
    }

    pub fn segments(&self) -> Option<SegmentsView<'_>> {
        self.view().segments
    }

    pub fn meta(&self) -> Vec<(String, String)> {
        let m = self.view().meta;
        (0..m.len() / 2)
            .map(|i| {
                (
                    m.get(2 * i).unwrap_or("").to_string(),
                    m.get(2 * i + 1).unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Checks length and finiteness, pads to the row stride.
    pub fn prepare_user(&self, user: &[f32]) -> Result<Vec<f32>> {
        if user.len() != self.dim() {
            return Err(Error::DimMismatch {
                expected: self.dim(),
                got: user.len(),
            });
        }
        if let Some(i) = user.iter().position(|v| !v.is_finite()) {
            let what = if user[i].is_nan() { "NaN" } else { "infinite" };
            return Err(Error::invalid(format!(
                "user vector value {i} is {what} (must be a finite number)"
            )));
        }
        // The safety envelope (`format::limits`): inside it no score can
        // overflow, whatever a bundle that loaded holds.
        if let Some(i) = user.iter().position(|v| v.abs() > MAX_USER_ABS) {
            return Err(Error::OutOfRange {
                what: format!(
                    "user vector value {i} is outside {}; scores would overflow",
                    format::limits::MAX_USER_ABS_TEXT
                ),
            });
        }
        let mut u = user.to_vec();
        u.resize(self.layout.stride, 0.0);
        Ok(u)
    }

    fn filter(&self, opts: &RecommendOptions) -> Result<Filter<'_>> {
        let v = self.view();
        let n = self.n_items();
        let mut excluded = Vec::new();
        if !opts.exclude.is_empty() {
            excluded = vec![0u64; n.div_ceil(64)];
            for &i in &opts.exclude {
                if let Some(w) = excluded.get_mut(i as usize / 64) {
                    *w |= 1 << (i % 64);
                }
            }
        }
        let categories = match &opts.categories {
            None => None,
            Some(cs) => {
                let cats = v.category.ok_or(Error::MissingCapability {
                    section: "CATEGORY",
                    needed_for: "a category filter",
                })?;
                let mut bits = vec![0u64; v.category_names.len().div_ceil(64)];
                for &c in cs {
                    if let Some(w) = bits.get_mut(c as usize / 64) {
                        *w |= 1 << (c % 64);
                    }
                }
                Some((bits, cats))
            }
        };
        let price = match (opts.price_min, opts.price_max) {
            (None, None) => None,
            (lo, hi) => Some(price_range(&v, lo, hi)?),
        };
        let stock = if opts.in_stock_only {
            Some(v.flags.ok_or(Error::MissingCapability {
                section: "FLAGS",
                needed_for: "an in-stock filter",
            })?)
        } else {
            None
        };
        Ok(Filter {
            excluded,
            categories,
            price,
            stock,
        })
    }

    /// Whether an item's price is in `[lo, hi]` the way the scan's filter
    /// decides it (false without prices, for unknown prices and empty ranges).
    /// Built once per list: the range is checked and the price section found
    /// here, not for every item tested.
    pub fn price_test(&self, lo: Option<f64>, hi: Option<f64>) -> impl Fn(usize) -> bool + '_ {
        let range = price_range(&self.view(), lo, hi).ok();
        move |i| range.is_some_and(|r| r.allows(i))
    }

    /// Top-k by ⟨u, yᵢ⟩ + bᵢ over the whole catalogue, best first.
    pub fn recommend(&self, user: &[f32], opts: &RecommendOptions) -> Result<Vec<Scored>> {
        let q = self.recommend_query(user, opts)?;
        Ok(self.scan(&q))
    }

    /// [`Model::recommend`] over rows `rows` only: one part of a scan split
    /// across threads (each holding the model), to be joined by [`merge_parts`].
    pub fn recommend_part(
        &self,
        user: &[f32],
        opts: &RecommendOptions,
        rows: std::ops::Range<usize>,
    ) -> Result<Part> {
        let q = self.recommend_query(user, opts)?;
        Ok(self.scan_part(&q, self.part_rows(rows)?))
    }

    fn recommend_query(&self, user: &[f32], opts: &RecommendOptions) -> Result<Query<'_>> {
        Ok(Query {
            u: self.prepare_user(user)?,
            k: opts.k,
            filter: self.filter(opts)?,
            ep: Epilogue {
                mul: None,
                add: self.bias(),
                cosine: false,
            },
        })
    }

    /// Items most similar to item `i` by cosine of factor rows (`i` itself excluded).
    pub fn similar(&self, i: usize, opts: &RecommendOptions) -> Result<Vec<Scored>> {
        let q = self.similar_query(i, opts)?;
        Ok(self.scan(&q))
    }

    /// [`Model::similar`] over rows `rows` only (see [`Model::recommend_part`]).
    pub fn similar_part(
        &self,
        i: usize,
        opts: &RecommendOptions,
        rows: std::ops::Range<usize>,
    ) -> Result<Part> {
        let q = self.similar_query(i, opts)?;
        Ok(self.scan_part(&q, self.part_rows(rows)?))
    }

    fn similar_query(&self, i: usize, opts: &RecommendOptions) -> Result<Query<'_>> {
        let row = self.item_row_f32(i).ok_or_else(|| Error::UnknownItem {
            id: format!("#{i}"),
        })?;
        let mut u = self.prepare_user(&row)?;
        let q = if self.refined() {
            self.refined_inv_norm(i)
        } else {
            self.inv_norms.get(i).copied().unwrap_or(0.0)
        };
        u.iter_mut().for_each(|x| *x *= q);
        let mut opts = opts.clone();
        opts.exclude.push(format::index_u32(i));
        Ok(Query {
            u,
            k: opts.k,
            filter: self.filter(&opts)?,
            ep: Epilogue {
                mul: Some(&self.inv_norms),
                add: None,
                cosine: true,
            },
        })
    }

    /// A part's rows, checked against the catalogue (a caller's bad split is
    /// an `INVALID_ARGUMENT`, never a short scan that looks like a result).
    fn part_rows(&self, rows: std::ops::Range<usize>) -> Result<std::ops::Range<usize>> {
        if rows.start > rows.end || rows.end > self.n_items() {
            return Err(Error::invalid(format!(
                "scan part rows {}..{} are not within 0..{}",
                rows.start,
                rows.end,
                self.n_items()
            )));
        }
        Ok(rows)
    }

    /// How many candidates a scan keeps before its final scores: `k`, or for
    /// int8 the wider pool that is re-scored with the f32 user.
    fn pool(&self, k: usize) -> usize {
        match self.factors() {
            FactorsView::I8 { .. } => k.saturating_add(k.max(16)).min(self.n_items()),
            _ => k,
        }
    }

    /// Popularity top-k (cold start). Falls back to item bias when the bundle
    /// has no popularity section.
    pub fn popular(&self, opts: &RecommendOptions) -> Result<Vec<Scored>> {
        let v = self.view();
        let pop = v.popularity.or(v.bias).ok_or(Error::MissingCapability {
            section: "POPULARITY",
            needed_for: "popular items",
        })?;
        let filter = self.filter(opts)?;
        Ok(self.top_of_column(pop, opts.k, &|i| filter.allows(i)))
    }

    /// The `k` best items of a score column that `allows` lets through, best
    /// first, ties to the lower index (NaN and −∞ never enter): `TopK` over
    /// the column in index order. A column of this bundle's own bytes
    /// (popularity, trending) keeps its first [`KEPT`] items in that order
    /// from its first call, and later calls take the first `k` allowed items
    /// of that list; they scan the column again only when fewer than `k`
    /// pass there, or for `k` > [`KEPT`]. At 1M items a scan takes ~2.4 ms
    /// in wasm, a walk of the kept list microseconds. Not inlined: its
    /// callers' closures are cheap to call through, and each inlined copy
    /// cost the engine builds a kilobyte.
    #[inline(never)]
    pub fn top_of_column(
        &self,
        scores: &[f32],
        k: usize,
        allows: &dyn Fn(usize) -> bool,
    ) -> Vec<Scored> {
        let scan = |k: usize, allows: &dyn Fn(usize) -> bool| {
            let mut top = TopK::new(k);
            for (i, &p) in scores.iter().enumerate() {
                if p > top.threshold() && allows(i) {
                    top.push(format::index_u32(i), p);
                }
            }
            top.into_sorted()
        };
        if k <= KEPT {
            if let Some(kept) = self.kept_order(scores, || scan(KEPT, &|_| true)) {
                let mut out = Vec::with_capacity(k);
                for s in kept {
                    if out.len() == k {
                        break;
                    }
                    if allows(s.index as usize) {
                        out.push(*s);
                    }
                }
                // The list is the head of the whole order, or all of it when
                // it came out short.
                if out.len() == k || kept.len() < KEPT {
                    return out;
                }
            }
        }
        scan(k, allows)
    }

    /// The kept order of `scores`, built by `build` on first use; `None` for
    /// a slice outside this bundle's bytes (its contents could change under
    /// the same address) and when every slot holds another column.
    fn kept_order(&self, scores: &[f32], build: impl Fn() -> Vec<Scored>) -> Option<&[Scored]> {
        let bytes = self.buf.as_slice().as_ptr_range();
        let at = scores.as_ptr_range();
        let inside =
            bytes.start as usize <= at.start as usize && at.end as usize <= bytes.end as usize;
        if !inside {
            return None;
        }
        let key = (at.start as usize, scores.len());
        for slot in &self.kept {
            let (k, order) = slot.get_or_init(|| (key, build()));
            if *k == key {
                return Some(order);
            }
        }
        None
    }

    /// Exact scores ⟨u, yᵢ⟩ + bᵢ for chosen items (re-ranking a candidate list).
    pub fn score_indices(&self, user: &[f32], items: &[u32]) -> Result<Vec<f32>> {
        let u = self.prepare_user(user)?;
        let bias = self.bias();
        items
            .iter()
            .map(|&i| {
                let i = i as usize;
                let d = self.exact_dot(&u, i).ok_or_else(|| Error::UnknownItem {
                    id: format!("#{i}"),
                })?;
                Ok(d + bias.and_then(|b| b.get(i)).copied().unwrap_or(0.0))
            })
            .collect()
    }

    /// ⟨u, yᵢ⟩ with the stored row dequantized exactly (f32 user).
    fn exact_dot(&self, u: &[f32], i: usize) -> Option<f32> {
        let stride = self.layout.stride;
        let start = i.checked_mul(stride)?;
        Some(match self.factors() {
            FactorsView::F32(r) => kernels::scalar::dot_row_f32(r.get(start..start + stride)?, u),
            FactorsView::F16(r) => {
                let row: Vec<f32> = r
                    .get(start..start + stride)?
                    .iter()
                    .map(|&h| format::f16_to_f32(h))
                    .collect();
                kernels::scalar::dot_row_f32(&row, u)
            }
            FactorsView::I8 {
                q,
                scales,
                residual,
            } => {
                let row = q.get(start..start + stride)?;
                let d: f32 = row.iter().zip(u).map(|(&a, &b)| a as f32 * b).sum();
                let fine: f32 = match residual {
                    Some(r) => {
                        let r = r.get(start..start + stride)?;
                        let d: f32 = r.iter().zip(u).map(|(&a, &b)| a as f32 * b).sum();
                        d / format::RESIDUAL_STEPS
                    }
                    None => 0.0,
                };
                (d + fine) * scales.get(i)?
            }
        })
    }

    /// The whole catalogue as one part: the one-thread scan is literally the
    /// split scan with a single part, so the two cannot drift apart.
    fn scan(&self, q: &Query<'_>) -> Vec<Scored> {
        let part = self.scan_part(q, 0..self.n_items());
        merge_parts(&[part], q.k)
    }

    /// The one scan loop, over rows `rows`: per block of rows, the kernel
    /// computes final scores (epilogue `dot · scale · mul + add` fused in)
    /// and their maximum; only a block whose maximum beats the current k-th
    /// is filtered into the heap. Once the heap is warm almost every block
    /// ends at the kernel, so the scan reads each row once and nothing else.
    /// For int8 the user is quantized too (the fast path), and the pool's
    /// candidates carry their re-scored value with the f32 user (and the
    /// RESIDUAL when present) so rounding cannot reorder the top-k. A row's
    /// score never depends on where its block starts or which block it is
    /// paired with, so parts over any split give the one-thread scores.
    fn scan_part(&self, q: &Query<'_>, rows_in: std::ops::Range<usize>) -> Part {
        let (u, filter, ep) = (&q.u[..], &q.filter, q.ep);
        let stride = self.layout.stride;
        let pool = self.pool(q.k);
        let first = rows_in.start.min(self.n_items());
        let end = rows_in.end.min(self.n_items()).max(first);
        let mut out = [0f32; BLOCK];
        let mut top = TopK::new(pool);
        let part_of = |b: usize| (first + b * BLOCK, (first + (b + 1) * BLOCK).min(end));
        let blocks = (end - first).div_ceil(BLOCK);
        let candidates = match (self.factors(), self.screen()) {
            #[cfg(not(feature = "lean"))]
            (FactorsView::F32(rows), Some(sc)) => {
                let mut exact = |s: usize, out: &mut [f32], aff: kernels::Affine<'_>| {
                    let r = rows
                        .get(s * stride..(s + out.len()) * stride)
                        .unwrap_or(&[]);
                    kernels::dot_f32(r, stride, u, aff, out)
                };
                self.scan_screened(q, sc, first, end, &mut top, &mut exact);
                final_scores(top)
            }
            #[cfg(not(feature = "lean"))]
            (FactorsView::F16(rows), Some(sc)) => {
                let mut scratch = Vec::with_capacity(BLOCK * stride);
                let mut exact = |s: usize, out: &mut [f32], aff: kernels::Affine<'_>| {
                    let r = rows
                        .get(s * stride..(s + out.len()) * stride)
                        .unwrap_or(&[]);
                    kernels::dot_f16(r, stride, u, aff, out, &mut scratch)
                };
                self.scan_screened(q, sc, first, end, &mut top, &mut exact);
                final_scores(top)
            }
            (FactorsView::F32(rows), _) => {
                // Blocks i and h + i together (`kernels::dot_f32_pair`: two
                // read streams), then the odd one out; `push_scored` keeps
                // the ties right in any block order.
                let mut out2 = [0f32; BLOCK];
                let h = blocks / 2;
                let block = |b: usize| {
                    let (s, e) = part_of(b);
                    let r = rows.get(s * stride..e * stride).unwrap_or(&[]);
                    (s, r, r.len() / stride.max(1))
                };
                for i in 0..h {
                    let ((sa, ra, ma), (sb, rb, mb)) = (block(i), block(h + i));
                    let aff = [(sa, ma), (sb, mb)].map(|(s, m)| ep.affine(s..s + m));
                    let [xa, xb] = kernels::dot_f32_pair(
                        [ra, rb],
                        stride,
                        u,
                        aff,
                        [&mut out[..ma], &mut out2[..mb]],
                    );
                    push_scored(&mut top, sa, &out[..ma], xa, filter);
                    push_scored(&mut top, sb, &out2[..mb], xb, filter);
                }
                for b in 2 * h..blocks {
                    let (s, r, m) = block(b);
                    let aff = ep.affine(s..s + m);
                    let max = kernels::dot_f32(r, stride, u, aff, &mut out[..m]);
                    push_scored(&mut top, s, &out[..m], max, filter);
                }
                final_scores(top)
            }
            (FactorsView::F16(rows), _) => {
                let mut scratch = Vec::with_capacity(BLOCK * stride);
                for b in 0..blocks {
                    let (s, e) = part_of(b);
                    let block = rows.get(s * stride..e * stride).unwrap_or(&[]);
                    let m = block.len() / stride.max(1);
                    let aff = ep.affine(s..s + m);
                    let max = kernels::dot_f16(block, stride, u, aff, &mut out[..m], &mut scratch);
                    push_scored(&mut top, s, &out[..m], max, filter);
                }
                final_scores(top)
            }
            (
                FactorsView::I8 {
                    q: qrows, scales, ..
                },
                _,
            ) => {
                let (uq, su) = quantize_user(u);
                for b in 0..blocks {
                    let (s, e) = part_of(b);
                    let block = qrows.get(s * stride..e * stride).unwrap_or(&[]);
                    let m = block.len() / stride.max(1);
                    let rows = s..s + m;
                    let sums = self.row_sums.get(rows.clone()).unwrap_or(&[]);
                    let mut aff = ep.affine(rows.clone());
                    aff.scale = Some((scales.get(rows).unwrap_or(&[]), su));
                    let max = kernels::dot_i8(block, stride, &uq, sums, aff, &mut out[..m]);
                    push_scored(&mut top, s, &out[..m], max, filter);
                }
                let refined_cosine = ep.cosine && self.refined();
                top.into_sorted()
                    .into_iter()
                    .map(|c| {
                        let i = c.index as usize;
                        // NaN (a row past the end, which a loaded model
                        // cannot have) keeps its pool slot but never enters
                        // the top-k, as in any split.
                        let score = self.exact_dot(u, i).map_or(f32::NAN, |d| {
                            if refined_cosine {
                                d * self.refined_inv_norm(i)
                            } else {
                                ep.one(i, d)
                            }
                        });
                        Candidate {
                            index: c.index,
                            scan: c.score,
                            score,
                        }
                    })
                    .collect()
            }
        };
        Part { pool, candidates }
    }
}

/// The user as the int8 kernels take it: `uq · su ≈ u`, |uq| ≤
/// [`kernels::USER_I8_MAX`].
pub(super) fn quantize_user(u: &[f32]) -> (Vec<i8>, f32) {
    let max = u.iter().fold(0f32, |m, v| m.max(v.abs()));
    let lim = kernels::USER_I8_MAX;
    let su = if max > 0.0 { max / lim } else { 1.0 };
    #[allow(
        clippy::cast_possible_truncation,
        reason = "rounded and clamped to ±USER_I8_MAX"
    )]
    let uq = u
        .iter()
        .map(|&v| (v / su).round().clamp(-lim, lim) as i8)
        .collect();
    (uq, su)
}

impl Model {
    /// Rows `first..end` through the int8 screen, in two passes. The first
    /// runs the int8 kernel over every block and keeps, per block, its best
    /// screen score plus the bound: no exact score in the block can exceed
    /// that. The second visits blocks best bound first and stops at the
    /// first whose bound is below the k-th exact score, so the heap holds
    /// high scores from its first blocks on; scanned in index order, the
    /// blocks before the heap warms up all passed (half of them at 10k
    /// rows). In a visited block only the rows whose screen score plus
    /// their bound can reach the k-th are scored by `exact` (the plain
    /// scan's kernel, so the same bits) and pushed by the plain scan's
    /// rule; the order of visits does not change the answer, since
    /// [`TopK`] breaks ties by index, not by arrival. While the heap is not
    /// full, or when many rows of a block can still enter, the whole block
    /// is scored exactly, as the plain scan does. One instance for both
    /// dtypes (`dyn`): each kernel instance costs the wasm kilobytes.
    #[inline(never)]
    #[cfg_attr(feature = "lean", allow(dead_code))]
    fn scan_screened(
        &self,
        q: &Query<'_>,
        sc: &Screen,
        first: usize,
        end: usize,
        top: &mut TopK,
        exact: &mut dyn FnMut(usize, &mut [f32], kernels::Affine<'_>) -> f32,
    ) {
        /// Past this many rows that may enter, one kernel call over the
        /// block beats row-by-row calls.
        const WHOLE_BLOCK: usize = 24;
        /// Parts of up to this many blocks keep their screen scores.
        const KEEP_BLOCKS: usize = 64;
        let (u, filter, ep) = (&q.u[..], &q.filter, q.ep);
        let stride = self.layout.stride;
        let (uq, su) = quantize_user(u);
        let bound = Bound::new(u, &uq, su);
        let cosine = ep.mul.is_some();
        let mut out = [0f32; BLOCK];
        let mut one = [0f32; 1];
        let mut maybe = [0u16; BLOCK];
        let rows = |b: usize| (first + b * BLOCK, (first + (b + 1) * BLOCK).min(end));
        let screen = |b: usize, out: &mut [f32; BLOCK]| {
            let (s, e) = rows(b);
            let block = sc.q.get(s * stride..e * stride).unwrap_or(&[]);
            let sums = sc.sums.get(s..e).unwrap_or(&[]);
            let mut aff = ep.affine(s..e);
            aff.scale = Some((sc.scales.get(s..e).unwrap_or(&[]), su));
            kernels::dot_i8(block, stride, &uq, sums, aff, &mut out[..e - s])
        };
        let mut order = BlockOrder::new((end - first).div_ceil(BLOCK));
        // A small part keeps its screen scores for the visits (64 KB at
        // most): there a third of the blocks may be visited, and each would
        // be screened again; a large part visits few and screens those again
        // rather than writing a score per row.
        let mut kept = Vec::new();
        if order.capacity() <= KEEP_BLOCKS {
            kept.reserve_exact(end - first);
        }
        for b in 0..order.capacity() {
            let (s, e) = rows(b);
            let best = screen(b, &mut out) + sc.block_slack(s, e, &bound, cosine);
            if kept.capacity() > 0 {
                kept.extend_from_slice(out.get(..e - s).unwrap_or(&[]));
            }
            order.add(best, b);
        }
        order.arrange();
        while let Some((best, b)) = order.pop() {
            let thr = top.threshold();
            if best < thr {
                // Every block left has a bound at or below this one's.
                break;
            }
            let (s, e) = rows(b);
            let m = e - s;
            if thr == f32::NEG_INFINITY {
                let max = exact(s, &mut out[..m], ep.affine(s..e));
                push_scored(top, s, &out[..m], max, filter);
                continue;
            }
            let scores = match kept.get(s - first..e - first) {
                Some(k) => k,
                None => {
                    screen(b, &mut out);
                    &out[..m]
                }
            };
            let n = sc.may_enter(
                s..e,
                scores,
                &bound,
                (
                    ep.mul.and_then(|x| x.get(s..e)),
                    ep.add.and_then(|x| x.get(s..e)),
                ),
                thr,
                &mut maybe,
            );
            if n > WHOLE_BLOCK {
                let max = exact(s, &mut out[..m], ep.affine(s..e));
                push_scored(top, s, &out[..m], max, filter);
                continue;
            }
            let mut thr = thr;
            for &j in maybe.get(..n).unwrap_or(&[]) {
                let i = s + usize::from(j);
                if !filter.allows(i) {
                    continue;
                }
                let v = exact(i, &mut one, ep.affine(i..i + 1));
                if v >= thr {
                    top.push(format::index_u32(i), v);
                    thr = top.threshold();
                }
            }
        }
    }
}

/// A query compiled once: padded user, filter and epilogue.
struct Query<'a> {
    u: Vec<f32>,
    k: usize,
    filter: Filter<'a>,
    ep: Epilogue<'a>,
}

/// A candidate of one part of a split scan: `scan` is the value the scan
/// ranked it by (the int8 kernel's, for int8 bundles), `score` its final
/// score (the same value for f32 and f16).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub index: u32,
    pub scan: f32,
    pub score: f32,
}

/// What one part of a scan hands to [`merge_parts`]: its best `pool`
/// candidates by `scan` (fewer when the part has fewer rows that pass).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub pool: usize,
    pub candidates: Vec<Candidate>,
}

fn final_scores(top: TopK) -> Vec<Candidate> {
    top.into_sorted()
        .into_iter()
        .map(|c| Candidate {
            index: c.index,
            scan: c.score,
            score: c.score,
        })
        .collect()
}

/// Joins the parts of a split scan into the one-thread answer: the best
/// `pool` of all candidates by `scan` (ties to the lower index, as
/// [`TopK`] orders), then the best `k` of those by final score. Each part
/// holds the best `pool` of its own rows, so the union holds the whole
/// catalogue's best `pool`, and the same two selections as the one-thread
/// scan's give the same items in the same order. Parts come as
/// [`Model::recommend_part`] returns them (best `scan` first), so the first
/// selection is a merge of sorted lists. `www/lib/parallel.js` joins the
/// workers' parts by the same rules.
pub fn merge_parts(parts: &[Part], k: usize) -> Vec<Scored> {
    let pool = parts.iter().map(|p| p.pool).max().unwrap_or(0);
    let mut at = vec![0usize; parts.len()];
    let mut top = TopK::new(k);
    for _ in 0..pool {
        let mut best: Option<(usize, &Candidate)> = None;
        for (p, part) in parts.iter().enumerate() {
            let Some(c) = at.get(p).and_then(|&j| part.candidates.get(j)) else {
                continue;
            };
            let better = best
                .is_none_or(|(_, b)| c.scan > b.scan || (c.scan == b.scan && c.index < b.index));
            if better {
                best = Some((p, c));
            }
        }
        // No NaN `scan` reaches a part: the scan's TopK never admits one.
        let Some((p, c)) = best else { break };
        top.push(c.index, c.score);
        if let Some(j) = at.get_mut(p) {
            *j += 1;
        }
    }
    top.into_sorted()
}

/// Compiles a price filter; shared with the shopper's candidate filter.
fn price_range<'a>(
    v: &BundleView<'a>,
    lo: Option<f64>,
    hi: Option<f64>,
) -> Result<PriceRangeFilter<'a>> {
    let lo = lo.unwrap_or(f64::NEG_INFINITY);
    let hi = hi.unwrap_or(f64::INFINITY);
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(Error::invalid(
            "price range is empty (priceMin > priceMax) or not a number",
        ));
    }
    let missing = Error::MissingCapability {
        section: "PRICE",
        needed_for: "a price filter",
    };
    Ok(PriceRangeFilter(match (v.price_f64, v.price) {
        (Some(p), _) => PriceRange::F64(lo, hi, p),
        // Rounded to f32 as the pre-1.2 filter did (±Infinity past f32's range).
        #[allow(clippy::cast_possible_truncation, reason = "f32 prices compare in f32")]
        (None, Some(p)) => PriceRange::F32(lo as f32, hi as f32, p),
        (None, None) => return Err(missing),
    }))
}

/// A compiled price range (see [`price_range`]).
#[derive(Clone, Copy)]
struct PriceRangeFilter<'a>(PriceRange<'a>);

impl PriceRangeFilter<'_> {
    fn allows(&self, i: usize) -> bool {
        self.0.allows(i)
    }
}

/// How a raw dot product becomes a score: `dot · mul[i] + add[i]` (bias for
/// recommendations, inverse norms for cosine).
#[derive(Clone, Copy, Default)]
struct Epilogue<'a> {
    mul: Option<&'a [f32]>,
    add: Option<&'a [f32]>,
    /// `mul` is the 8-bit rows' inverse norms (cosine), which re-scoring
    /// replaces by the refined row's when there is a RESIDUAL section.
    cosine: bool,
}

impl<'a> Epilogue<'a> {
    /// The epilogue over rows `r`, for a kernel to apply (the int8 scan adds
    /// its row scales).
    fn affine(&self, r: std::ops::Range<usize>) -> kernels::Affine<'a> {
        kernels::Affine {
            scale: None,
            mul: self.mul.and_then(|v| v.get(r.clone())),
            add: self.add.and_then(|v| v.get(r)),
        }
    }

    fn one(&self, i: usize, d: f32) -> f32 {
        let m = self.mul.and_then(|m| m.get(i)).copied().unwrap_or(1.0);
        d * m + self.add.and_then(|a| a.get(i)).copied().unwrap_or(0.0)
    }
}

/// Final scores of one block (`max` = their maximum): the heap sees the
/// block only when it holds a score at or above the current k-th. At, not
/// only above: blocks need not come in index order, and an equal score from
/// a lower index must still win its tie (`TopK::push` decides).
///
/// Rows go sixteen at a time: a group with no score at or above the k-th is
/// passed over with one vector compare. Up to ~100k rows a block's maximum
/// often reaches the k-th (about `pool · ln(blocks)` blocks of a scan do),
/// and the row-by-row loop over those blocks cost ~20% of an int8 scan at
/// 10k rows (docs/web.md, "What a call costs besides its scan"); the heap
/// sees the same rows in the same order, since the k-th only rises within
/// a block.
#[inline]
fn push_scored(top: &mut TopK, base: usize, out: &[f32], max: f32, filter: &Filter<'_>) {
    const GROUP: usize = 16;
    let mut thr = top.threshold();
    if max < thr {
        return;
    }
    for (g, group) in out.chunks(GROUP).enumerate() {
        // `|`, not `any`: no early exit, so the compares vectorize.
        if !group.iter().fold(false, |hit, &s| hit | (s >= thr)) {
            continue;
        }
        let at = base + g * GROUP;
        for (j, &s) in group.iter().enumerate() {
            if s >= thr && filter.allows(at + j) {
                top.push(format::index_u32(at + j), s);
                thr = top.threshold();
            }
        }
    }
}
