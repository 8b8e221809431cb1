//! Session-aware ranking: one scoring path for a caller's candidate list
//! ([`rerank`]) and for the whole catalogue ([`recommend`], which retrieves a
//! candidate pool with the engine's top-k scan and then reranks it).
//!
//! The blended score of item i is
//! `long·⟨u, yᵢ⟩ + session·cos(s, yᵢ) + popularity·prior(i) + neighbours·link(i) + boost(i)`
//! where u is the folded-in user, s the recency-weighted session vector,
//! `prior` a log-popularity in [0, 1] and `link` the recency-weighted share of
//! co-occurrence links from session items to i. Then MMR diversity, category
//! caps, buries and pins, in that order.

use super::foldin::{fold_in, FoldIn};
use super::{aggregate, current_session, segments, sort_by, Event, EventKind, ProfileOptions};
use crate::engine::{Model, RecommendOptions};
use crate::error::{Error, Result};
use crate::format::index_u32;
use crate::format::limits::MAX_USER_ABS;

/// Weights of the four score components.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blend {
    pub long: f32,
    pub session: f32,
    pub popularity: f32,
    pub neighbours: f32,
}

impl Default for Blend {
    /// session and neighbours as tuned on all of NowPlaying-1M's valid.csv
    /// by `make eval-session` (`vitrine session eval --tune`, bundle with ALS
    /// α = 64 and the default neighbour options): {long 0.03, session 0.225,
    /// popularity 0.15, neighbours 1}. Two weights differ on purpose:
    /// `long` is not identifiable there (each history is the session itself,
    /// so it carries the session's evidence twice and tuning drives it to
    /// ~0); it keeps 0.25 so a returning shopper's taste still counts. And
    /// `popularity` stays 0.05: at 0.15 a cold-start shopper's segment
    /// centroid hardly moved the list (6–8 of the top 8 were the plain
    /// popular items), since next-click prediction in a music log rewards a
    /// popularity prior that a storefront's segments should not drown in.
    /// With long at 0.25 it is the better of the two on valid.csv anyway
    /// (HR@20 0.3223 / MRR@20 0.1157 against 0.3181 / 0.1145).
    fn default() -> Self {
        Blend {
            long: 0.25,
            session: 0.225,
            popularity: 0.05,
            neighbours: 1.0,
        }
    }
}

/// Merchandising rules, applied after scoring. Indices, not ids.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// (item, 0-based position): placed there whatever its score.
    pub pins: Vec<(u32, usize)>,
    /// Added to the blended score.
    pub boost: Vec<(u32, f32)>,
    /// Kept, but ranked after everything else.
    pub bury: Vec<u32>,
    /// At most this many items per category ahead of the overflow.
    pub category_cap: Option<usize>,
    pub exclude: Vec<u32>,
    pub exclude_purchased: bool,
}

#[derive(Clone, Debug)]
pub struct RerankOptions {
    /// Results returned; 0 = all candidates.
    pub k: usize,
    pub blend: Blend,
    /// MMR trade-off: 1 = pure relevance, 0 = pure novelty.
    pub mmr_lambda: f32,
    /// MMR picks this many leading positions; the rest follow by score
    /// (MMR is quadratic in the list length).
    pub diversity_depth: usize,
    pub rules: Rules,
    /// Candidate pool size for [`recommend`].
    pub pool: usize,
    /// Leading results whose history reason names the item (exact ALS
    /// decomposition costs m·d per result; the rest get the reason kind).
    pub reason_depth: usize,
    /// Catalogue filters for [`recommend`] (k is ignored).
    pub filter: RecommendOptions,
    /// The learned ranker: when set, it scores the candidates in place of
    /// the blend (whose weights still steer the candidate pool); boosts,
    /// MMR, caps, buries and pins apply to its scores the same way.
    pub ranker: Option<crate::ranker::Ranker>,
}

impl Default for RerankOptions {
    fn default() -> Self {
        RerankOptions {
            k: 0,
            blend: Blend::default(),
            mmr_lambda: 1.0,
            diversity_depth: 50,
            rules: Rules {
                exclude_purchased: true,
                ..Default::default()
            },
            pool: 200,
            reason_depth: 20,
            filter: RecommendOptions::default(),
            ranker: None,
        }
    }
}

/// Why an item is where it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reason {
    /// The history item contributing most (exact ALS decomposition, or the
    /// most similar item of the current session).
    History {
        item: u32,
        weight: f32,
    },
    /// Mostly the long-term taste, past `reason_depth` (not attributed to an item).
    Taste,
    /// A co-occurrence link from a session item.
    Neighbour {
        item: u32,
        weight: f32,
    },
    Popular,
    Segment {
        segment: u32,
    },
    Pinned,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub index: u32,
    pub score: f32,
    pub reason: Reason,
    /// long, session, popularity, neighbours (unweighted).
    pub parts: [f32; 4],
    /// On the learned ranker's path, the feature (index into
    /// `ranker::FEATURES`) contributing most to `score`: the reason's source.
    pub feature: Option<u8>,
}

/// Everything derived from a history once, reused for every ranking call.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub fold: Option<FoldIn>,
    /// Current-session items with recency weights (newest = 1).
    pub session: Vec<(u32, f32)>,
    /// Unit-length recency-weighted mean of the session's item rows (empty if none).
    pub session_vec: Vec<f32>,
    /// Sorted.
    pub purchased: Vec<u32>,
    /// Nearest segment of the folded-in user, or the one given for cold start.
    pub segment: Option<(u32, f32)>,
    /// Used as the long-term vector when there is no history (segment centroid).
    pub cold_user: Option<Vec<f32>>,
    /// Current-session items oldest → newest, repeats kept (the learned
    /// ranker's recency and position features read the order).
    pub items: Vec<u32>,
}

/// Most candidate values (rows × dim) one rerank copies out (64 MiB of f32):
/// the candidate list comes from the caller, and MMR needs the rows at hand.
pub const MAX_RERANK_VALUES: usize = 1 << 24;

/// Session recency half-life in events: the newest item weighs 1, the one
/// `half_life` steps back weighs 1/2.
pub const SESSION_HALF_LIFE: f32 = 2.0;

impl Profile {
    /// `events` must be sorted by time. `cold_segment` picks a segment whose
    /// centroid stands in for the user when the history is empty.
    pub fn build(
        model: &Model,
        events: &[Event],
        opts: &ProfileOptions,
        session_half_life: f32,
        cold_segment: Option<u32>,
    ) -> Result<Profile> {
        let history = aggregate(events, opts);
        let fold = if !history.is_empty() && model.gram().is_some() {
            Some(fold_in(model, &history)?)
        } else {
            None
        };
        let cur = current_session(events, opts);
        let hl = if session_half_life > 0.0 {
            session_half_life
        } else {
            SESSION_HALF_LIFE
        };
        let mut session: Vec<(u32, f32)> = Vec::with_capacity(cur.len());
        let n = cur.len();
        for (p, e) in cur.iter().enumerate() {
            let w = 0.5f32.powf((n - 1 - p) as f32 / hl);
            match session.iter_mut().find(|(i, _)| *i == e.item) {
                Some(s) => s.1 += w,
                None => session.push((e.item, w)),
            }
        }
        let d = model.dim();
        let mut session_vec = Vec::new();
        if !session.is_empty() {
            session_vec = vec![0f32; d];
            for &(i, w) in &session {
                if let Some(row) = model.item_row_f32(i as usize) {
                    let inv = inv_norm(&row);
                    for (s, v) in session_vec.iter_mut().zip(&row) {
                        *s += w * v * inv;
                    }
                }
            }
            let inv = inv_norm(&session_vec);
            session_vec.iter_mut().for_each(|v| *v *= inv);
        }
        let mut purchased: Vec<u32> = events
            .iter()
            .filter(|e| e.kind == EventKind::Purchase)
            .map(|e| e.item)
            .collect();
        sort_by(&mut purchased, |a, b| a < b);
        purchased.dedup();
        let mut segment = None;
        let mut cold_user = None;
        if let Some(sv) = model.segments() {
            if let Some(f) = &fold {
                segment = segments::assign(&sv, &f.user).map(|(s, dist)| (index_u32(s), dist));
            } else if let Some(s) = cold_segment {
                // Checked: `s * dim` wraps on wasm32 for a large `s`, which
                // would silently pick centroid 0.
                let start = usize::try_from(s).ok().and_then(|s| s.checked_mul(sv.dim));
                let c = start
                    .and_then(|a| sv.centroids.get(a..a.checked_add(sv.dim)?))
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "segment {s} does not exist (the bundle has {})",
                            sv.k
                        ))
                    })?;
                segment = Some((s, 0.0));
                cold_user = Some(c.to_vec());
            }
        }
        Ok(Profile {
            fold,
            session,
            session_vec,
            purchased,
            segment,
            cold_user,
            items: cur.iter().map(|e| e.item).collect(),
        })
    }

    fn long_user(&self) -> Option<&[f32]> {
        match (&self.fold, &self.cold_user) {
            (Some(f), _) => Some(&f.user),
            (None, Some(c)) => Some(c),
            _ => None,
        }
    }
}

/// Higher score first, then lower slot (the caller's candidate order).
#[cfg(test)]
fn better(scored: &[Ranked], x: usize, y: usize) -> bool {
    let (a, b) = (scored[x].score, scored[y].score);
    a > b || (a == b && x < y) || (b.is_nan() && !a.is_nan())
}

/// Sorts slots of `scored` into [`better`]'s order: higher score first, then
/// lower slot, NaN last. Each slot becomes one `u64` (score as an ordered
/// integer, then the slot), radix-sorted ([`super::sort_by_key_u64`]).
/// Every key is distinct, so the order is the unique one `better` defines
/// (among NaN scores, which `better` leaves unordered, lower slot first).
fn sort_by_score(order: &mut [usize], scored: &[Ranked]) {
    let mut keys: Vec<(u64, u32)> = order
        .iter()
        .map(|&s| (score_key(scored.get(s).map_or(f32::NAN, |r| r.score), s), 0))
        .collect();
    super::sort_by_key_u64(&mut keys);
    for (o, (k, _)) in order.iter_mut().zip(keys) {
        *o = (k & 0xffff_ffff) as usize;
    }
}

/// A key that sorts ascending as `score` descending, then `slot` ascending;
/// NaN after every number. `-0.0` is made `+0.0` first: they tie in
/// `better`, as equal floats.
fn score_key(score: f32, slot: usize) -> u64 {
    let s = score + 0.0;
    let high = if s.is_nan() {
        u32::MAX
    } else {
        let b = s.to_bits();
        // Ascending floats as ascending integers, then reversed. No number
        // reaches u32::MAX (that would be the bits 0xffff_ffff, a NaN).
        !(if b >> 31 == 1 { !b } else { b | 0x8000_0000 })
    };
    (u64::from(high) << 32) | (slot as u64 & 0xffff_ffff)
}

fn inv_norm(v: &[f32]) -> f32 {
    let s = dot(v, v);
    if s > 0.0 {
        1.0 / s.sqrt()
    } else {
        0.0
    }
}

/// Sixteen independent sums folded in a fixed tree. A serial sum is one
/// dependent add per element, and a rerank takes three dots per candidate
/// (~0.1 ms of a 500-candidate list at d = 64); independent lanes let LLVM
/// vectorize where SIMD is on and give the same bits in every build (lanes
/// are never reassociated).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0f32; L];
    for (x, y) in ca.zip(cb) {
        for j in 0..L {
            acc[j] += x[j] * y[j];
        }
    }
    let mut w = L;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            acc[j] += acc[j + w];
        }
    }
    acc[0] + tail
}

/// Neighbour evidence per target item, sorted by item: (item, recency-weighted
/// share, strongest source, its weight). A sorted Vec, not a HashMap: the
/// hasher alone would add kilobytes to the wasm.
struct Links(Vec<(u32, f32, u32, f32)>);

impl Links {
    fn get(&self, i: u32) -> Option<&(u32, f32, u32, f32)> {
        self.0
            .binary_search_by_key(&i, |l| l.0)
            .ok()
            .and_then(|k| self.0.get(k))
    }
}

fn neighbour_links(model: &Model, profile: &Profile) -> Links {
    let mut raw: Vec<(u32, f32, u32)> = Vec::new();
    let total: f32 = profile.session.iter().map(|s| s.1).sum();
    if let (Some(nv), true) = (model.neighbours(), total > 0.0) {
        for &(src, w) in &profile.session {
            raw.extend(
                nv.of(src as usize)
                    .map(|(dst, lw)| (dst, w * lw / total, src)),
            );
        }
    }
    // (target, source) pairs are unique: the keys define one order.
    let mut keys: Vec<(u64, u32)> = raw
        .iter()
        .enumerate()
        .map(|(i, r)| ((u64::from(r.0) << 32) | u64::from(r.2), index_u32(i)))
        .collect();
    super::sort_by_key_u64(&mut keys);
    let mut out: Vec<(u32, f32, u32, f32)> = Vec::with_capacity(raw.len());
    for (dst, c, src) in keys.iter().filter_map(|k| raw.get(k.1 as usize).copied()) {
        match out.last_mut() {
            Some(l) if l.0 == dst => {
                l.1 += c;
                if c > l.3 {
                    l.2 = src;
                    l.3 = c;
                }
            }
            _ => out.push((dst, c, src, c)),
        }
    }
    Links(out)
}

/// log(1 + p) / log(1 + max p), or 0 without a popularity section.
fn popularity_prior(model: &Model) -> impl Fn(u32) -> f32 + '_ {
    let pop = model.view().popularity;
    let max = pop.map_or(0.0, |p| p.iter().fold(0f32, |m, &v| m.max(v)));
    let denom = if max > 0.0 { (1.0 + max).ln() } else { 0.0 };
    move |i| match pop.and_then(|p| p.get(i as usize)) {
        Some(&p) if denom > 0.0 && p > 0.0 => (1.0 + p).ln() / denom,
        _ => 0.0,
    }
}

/// Reranks a candidate list (item indices, duplicates and excluded items dropped).
pub fn rerank(
    model: &Model,
    profile: &Profile,
    candidates: &[u32],
    opts: &RerankOptions,
) -> Result<Vec<Ranked>> {
    let n_items = model.n_items();
    let d = model.dim();
    let mut excluded: Vec<u32> = opts.rules.exclude.clone();
    if opts.rules.exclude_purchased {
        excluded.extend_from_slice(&profile.purchased);
    }
    sort_by(&mut excluded, |a, b| a < b);
    let mut seen = vec![0u64; n_items.div_ceil(64)];
    let mut cands: Vec<u32> = Vec::with_capacity(candidates.len());
    for &c in candidates {
        let ci = c as usize;
        if ci >= n_items {
            return Err(Error::UnknownItem {
                id: format!("#{c}"),
            });
        }
        let (w, b) = (ci / 64, 1u64 << (ci % 64));
        if seen[w] & b != 0 || excluded.binary_search(&c).is_ok() {
            continue;
        }
        seen[w] |= b;
        cands.push(c);
    }
    let m = cands.len();
    let values = m.checked_mul(d).filter(|&v| v <= MAX_RERANK_VALUES);
    let Some(values) = values else {
        return Err(Error::invalid(format!(
            "{m} candidates of dim {d} are too many to rerank at once (at most {} rows); pass fewer",
            MAX_RERANK_VALUES / d.max(1)
        )));
    };
    let mut rows = vec![0f32; values];
    let mut invs = vec![0f32; m];
    for ((&c, row), inv) in cands
        .iter()
        .zip(rows.chunks_exact_mut(d.max(1)))
        .zip(&mut invs)
    {
        model
            .item_row_into(c as usize, row)
            .ok_or_else(|| Error::UnknownItem {
                id: format!("#{c}"),
            })?;
        *inv = inv_norm(row);
    }
    let links = neighbour_links(model, profile);
    let prior = popularity_prior(model);
    let user = profile.long_user();
    let b = opts.blend;
    let mut scored: Vec<Ranked> = Vec::with_capacity(m);
    for (k, &c) in cands.iter().enumerate() {
        let row = &rows[k * d..(k + 1) * d];
        let long = user.map_or(0.0, |u| dot(u, row));
        let sess = if profile.session_vec.is_empty() {
            0.0
        } else {
            dot(&profile.session_vec, row) * invs[k]
        };
        let pop = prior(c);
        let nb = links.get(c).map_or(0.0, |l| l.1);
        let boost: f32 = opts
            .rules
            .boost
            .iter()
            .filter(|(i, _)| *i == c)
            .map(|(_, v)| v)
            .sum();
        let score =
            b.long * long + b.session * sess + b.popularity * pop + b.neighbours * nb + boost;
        scored.push(Ranked {
            index: c,
            score,
            reason: Reason::Popular,
            parts: [long, sess, pop, nb],
            feature: None,
        });
    }
    if let Some(r) = &opts.ranker {
        // The same feature function the ranker was trained on (ranker::features).
        // `rows` holds the candidates' rows in `scored` order: passed on so
        // the segment feature does not copy each row again.
        let x = crate::ranker::features_with_rows(model, profile, &scored, Some(&rows));
        for (s, f) in scored.iter_mut().zip(&x) {
            let boost: f32 = if opts.rules.boost.is_empty() {
                0.0
            } else {
                opts.rules
                    .boost
                    .iter()
                    .filter(|(i, _)| *i == s.index)
                    .map(|(_, v)| v)
                    .sum()
            };
            let (z, top) = r.score_and_top(f);
            s.score = z + boost;
            s.feature = u8::try_from(top).ok();
        }
    }
    // Position in `cands` for each scored entry survives the sorts via `slot`.
    let mut order: Vec<usize> = (0..m).collect();
    sort_by_score(&mut order, &scored);
    let (mut main, buried): (Vec<usize>, Vec<usize>) = order
        .into_iter()
        .partition(|&s| !opts.rules.bury.contains(&scored[s].index));
    if opts.mmr_lambda < 1.0 && main.len() > 1 {
        mmr(
            &mut main,
            &scored,
            &rows,
            &invs,
            d,
            opts.mmr_lambda,
            opts.diversity_depth,
        );
    }
    if let (Some(cap), Some(cats)) = (opts.rules.category_cap, model.view().category) {
        let mut counts = vec![0usize; model.view().category_names.len()];
        let (mut keep, mut over) = (Vec::with_capacity(main.len()), Vec::new());
        for s in main {
            let cat = cats
                .get(scored[s].index as usize)
                .copied()
                .unwrap_or(u32::MAX);
            // Items without a (valid) category are never capped.
            let n = counts.get_mut(cat as usize).map_or(0, |n| {
                *n += 1;
                *n
            });
            if n <= cap {
                keep.push(s);
            } else {
                over.push(s);
            }
        }
        keep.extend(over);
        main = keep;
    }
    main.extend(buried);
    let mut out: Vec<Ranked> = main.into_iter().map(|s| scored[s]).collect();
    // Pins: pull each pinned candidate out, then insert at its position.
    let mut pins: Vec<(u32, usize)> = opts.rules.pins.clone();
    sort_by(&mut pins, |a, b| (a.1, a.0) < (b.1, b.0));
    let mut pinned = Vec::new();
    for &(item, pos) in &pins {
        if let Some(at) = out.iter().position(|r| r.index == item) {
            let mut r = out.remove(at);
            r.reason = Reason::Pinned;
            pinned.push((r, pos));
        }
    }
    for (r, pos) in pinned {
        let at = pos.min(out.len());
        out.insert(at, r);
    }
    if opts.k > 0 {
        out.truncate(opts.k);
    }
    // Session rows, unit length and recency-weighted, for "similar to what you just viewed".
    let sess_rows: Vec<(u32, Vec<f32>)> = profile
        .session
        .iter()
        .filter_map(|&(i, w)| {
            let mut row = model.item_row_f32(i as usize)?;
            let s = w * inv_norm(&row);
            row.iter_mut().for_each(|v| *v *= s);
            Some((i, row))
        })
        .collect();
    for (pos, r) in out.iter_mut().enumerate() {
        if r.reason != Reason::Pinned {
            let full = pos < opts.reason_depth;
            r.reason = reason_for(model, profile, r, &links, &b, &sess_rows, full);
        }
    }
    Ok(out)
}

/// The dominant weighted component decides the kind of reason; on the
/// learned ranker's path, the feature contributing most
/// (`ranker::Source` says which evidence each feature stands for).
fn reason_for(
    model: &Model,
    profile: &Profile,
    r: &Ranked,
    links: &Links,
    b: &Blend,
    sess_rows: &[(u32, Vec<f32>)],
    full: bool,
) -> Reason {
    use crate::ranker::Source;
    let [long, sess, pop, nb] = r.parts;
    let parts = [
        b.long * long,
        b.session * sess,
        b.popularity * pop,
        b.neighbours * nb,
    ];
    let source = match r.feature {
        Some(k) => crate::ranker::source(usize::from(k)),
        None => {
            let best = (0..4)
                .max_by(|&x, &y| {
                    parts[x]
                        .partial_cmp(&parts[y])
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .unwrap_or(2);
            match best {
                0 if parts[0] > 0.0 => Source::Long,
                1 if parts[1] > 0.0 => Source::Session,
                3 if parts[3] > 0.0 => Source::Neighbours,
                _ => Source::Popularity,
            }
        }
    };
    let row = || model.item_row_f32(r.index as usize);
    match source {
        Source::Long => {
            if profile.fold.is_some() && !full {
                return Reason::Taste;
            }
            if let (Some(f), Some(row)) = (&profile.fold, row()) {
                if let Some((item, w)) = f.top_reason(&row) {
                    return Reason::History { item, weight: w };
                }
            }
            if let Some((s, _)) = profile.segment {
                return Reason::Segment { segment: s };
            }
            Reason::Popular
        }
        Source::Neighbours => links
            .get(r.index)
            .map_or(Reason::Popular, |l| Reason::Neighbour {
                item: l.2,
                weight: l.3,
            }),
        Source::LastItem => {
            let last = profile.items.last().copied();
            let link = last.and_then(|l| {
                model
                    .neighbours()?
                    .of(l as usize)
                    .find(|x| x.0 == r.index)
                    .map(|x| (l, x.1))
            });
            link.map_or(Reason::Popular, |(item, weight)| Reason::Neighbour {
                item,
                weight,
            })
        }
        Source::Seen => Reason::History {
            item: r.index,
            weight: profile
                .session
                .iter()
                .find(|s| s.0 == r.index)
                .map_or(0.0, |s| s.1),
        },
        Source::Category => {
            let cats = model.view().category;
            let cat = |i: u32| cats.and_then(|c| c.get(i as usize)).copied();
            let mine = cat(r.index);
            profile
                .items
                .iter()
                .rev()
                .find(|&&i| mine.is_some() && cat(i) == mine)
                .map_or(Reason::Taste, |&item| Reason::History { item, weight: 1.0 })
        }
        Source::Taste => Reason::Taste,
        Source::Segment => profile
            .segment
            .map_or(Reason::Taste, |(segment, _)| Reason::Segment { segment }),
        Source::Session => {
            if !full {
                return Reason::Taste;
            }
            let Some(row) = row() else {
                return Reason::Popular;
            };
            sess_rows
                .iter()
                .map(|(i, s)| (*i, dot(s, &row) * inv_norm(&row)))
                .max_by(|x, y| x.1.partial_cmp(&y.1).unwrap_or(std::cmp::Ordering::Equal))
                .map_or(Reason::Popular, |(item, weight)| Reason::History {
                    item,
                    weight,
                })
        }
        Source::Popularity => Reason::Popular,
    }
}

/// Greedy maximal marginal relevance over the first `depth` slots of `order`.
fn mmr(
    order: &mut [usize],
    scored: &[Ranked],
    rows: &[f32],
    invs: &[f32],
    d: usize,
    lambda: f32,
    depth: usize,
) {
    let n = order.len();
    let depth = depth.min(n);
    let (lo, hi) = order
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &s| {
            (lo.min(scored[s].score), hi.max(scored[s].score))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let rel = |s: usize| (scored[s].score - lo) / span;
    let mut max_sim = vec![f32::NEG_INFINITY; n];
    for pos in 0..depth {
        let mut best = pos;
        let mut best_v = f32::NEG_INFINITY;
        for (q, &s) in order.iter().enumerate().skip(pos) {
            let ms = if pos == 0 { 0.0 } else { max_sim[q] };
            let v = lambda * rel(s) - (1.0 - lambda) * ms;
            if v > best_v {
                best_v = v;
                best = q;
            }
        }
        order.swap(pos, best);
        max_sim.swap(pos, best);
        let p = order[pos];
        let prow = &rows[p * d..(p + 1) * d];
        for q in pos + 1..n {
            let s = order[q];
            let sim = dot(prow, &rows[s * d..(s + 1) * d]) * invs[p] * invs[s];
            if sim > max_sim[q] {
                max_sim[q] = sim;
            }
        }
    }
    // Past the MMR depth, keep score order.
    sort_by_score(&mut order[depth..], scored);
}

/// Whether an item passes the catalogue filters (categories, price, stock).
/// The sections are found once per list, not once per item tested (a whole
/// view costs ~0.2 µs in wasm, and a session can offer hundreds of links).
fn allows<'a>(model: &'a Model, f: &'a RecommendOptions) -> impl Fn(u32) -> bool + 'a {
    let v = model.view();
    let (category, flags) = (v.category, v.flags);
    let priced = f.price_min.is_some() || f.price_max.is_some();
    let price = model.price_test(f.price_min, f.price_max);
    move |i| {
        let i = i as usize;
        if let Some(cs) = &f.categories {
            match category.and_then(|c| c.get(i)) {
                Some(c) if cs.contains(c) => {}
                _ => return false,
            }
        }
        if priced && !price(i) {
            return false;
        }
        !(f.in_stock_only && flags.and_then(|fl| fl.get(i)).is_none_or(|x| x & 1 == 0))
    }
}

/// The same blend over the whole catalogue: a retrieval pool from the engine's
/// scan (long-term + session direction), the session's neighbours and the
/// popular items, reranked exactly.
pub fn recommend(model: &Model, profile: &Profile, opts: &RerankOptions) -> Result<Vec<Ranked>> {
    let cands = candidates(model, profile, opts)?;
    let mut o = opts.clone();
    o.k = if opts.k == 0 { 10 } else { opts.k };
    rerank(model, profile, &cands, &o)
}

/// The candidate pool [`recommend`] reranks (may hold duplicates and
/// excluded items: [`rerank`] drops them).
pub fn candidates(model: &Model, profile: &Profile, opts: &RerankOptions) -> Result<Vec<u32>> {
    let k = if opts.k == 0 { 10 } else { opts.k };
    // Never more than the catalogue: `pool` comes from the caller.
    let pool = opts
        .pool
        .max(k.saturating_mul(2))
        .min(model.n_items())
        .min(MAX_RERANK_VALUES / model.dim().max(1) / 3);
    let d = model.dim();
    let mut filter = opts.filter.clone();
    filter.k = pool;
    filter.exclude.extend_from_slice(&opts.rules.exclude);
    if opts.rules.exclude_purchased {
        filter.exclude.extend_from_slice(&profile.purchased);
    }
    // Grown as filled: the scan and the lists below are bounded by the
    // catalogue and by what the bundle holds, not by a reservation.
    let mut cands: Vec<u32> = Vec::new();
    let b = opts.blend;
    let mut q = vec![0f32; d];
    let mut any = false;
    if let Some(u) = profile.long_user() {
        for (x, &v) in q.iter_mut().zip(u) {
            *x += b.long * v;
        }
        any = true;
    }
    if !profile.session_vec.is_empty() {
        // cos(s, y) ≈ ⟨s, y⟩ / rms‖y‖ for retrieval; the rerank is exact.
        let scale = match model.gram() {
            Some(g) if model.n_items() > 0 => {
                let tr: f32 = (0..d)
                    .map(|a| g.yty.get(a * d + a).copied().unwrap_or(0.0))
                    .sum();
                let rms = (tr / model.n_items() as f32).sqrt();
                if rms > 0.0 {
                    1.0 / rms
                } else {
                    1.0
                }
            }
            _ => 1.0,
        };
        for (x, &v) in q.iter_mut().zip(&profile.session_vec) {
            *x += b.session * scale * v;
        }
        any = true;
    }
    if any {
        // Retrieval only needs a direction: a query outside the user range
        // (a tiny Gram trace makes the session scale huge) is scaled into it
        // instead of failing the call.
        let max = q.iter().fold(0f32, |m, v| m.max(v.abs()));
        if max > MAX_USER_ABS {
            let s = MAX_USER_ABS / max;
            q.iter_mut().for_each(|v| *v *= s);
        }
        cands.extend(model.recommend(&q, &filter)?.iter().map(|s| s.index));
    }
    if b.neighbours > 0.0 {
        // Strongest share first, then lower item (items are unique here).
        let mut links: Vec<(u64, u32)> = neighbour_links(model, profile)
            .0
            .into_iter()
            .map(|l| (score_key(l.1, l.0 as usize), l.0))
            .collect();
        super::sort_by_key_u64(&mut links);
        let allowed = allows(model, &filter);
        cands.extend(
            links
                .into_iter()
                .map(|l| l.1)
                .filter(|&i| allowed(i))
                .take(pool),
        );
    }
    if model.view().popularity.is_some() || model.view().bias.is_some() {
        let pk = if any { pool / 4 } else { pool };
        let mut pf = filter.clone();
        pf.k = pk.max(k);
        cands.extend(model.popular(&pf)?.iter().map(|s| s.index));
    }
    cands.extend(
        opts.rules
            .pins
            .iter()
            .map(|p| p.0)
            .filter(|&i| (i as usize) < model.n_items()),
    );
    Ok(cands)
}

#[cfg(test)]
mod order_tests {
    use super::{better, sort_by_score, Ranked, Reason};
    use crate::shopper::sort_by;

    fn ranked(score: f32) -> Ranked {
        Ranked {
            index: 0,
            score,
            reason: Reason::Popular,
            parts: [0.0; 4],
            feature: None,
        }
    }

    /// The keyed sort gives the order of a sort by `better` on scores with
    /// ties, both zeros, infinities, subnormals and NaN, in every slice of
    /// the list (the MMR tail sorts a suffix), for lengths up to 300.
    #[test]
    fn keyed_order_is_betters_order() {
        let pool = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            1e-40,
            -1e-40,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            3.25,
            f32::NAN,
        ];
        let mut seed = 0x2545_f491_u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in (0..40).chain([100, 300]) {
            for round in 0..8 {
                let scored: Vec<Ranked> = (0..n)
                    .map(|_| {
                        let r = rand();
                        // Round 0 draws ties only; later rounds mix in
                        // arbitrary floats.
                        if round > 0 && r % 3 == 0 {
                            ranked(f32::from_bits(u32::try_from(r >> 32).unwrap()))
                        } else {
                            ranked(pool[usize::try_from(r).unwrap() % pool.len()])
                        }
                    })
                    .collect();
                let from = if n == 0 {
                    0
                } else {
                    usize::try_from(rand()).unwrap() % n
                };
                let mut got: Vec<usize> = (0..n).collect();
                sort_by_score(&mut got[from..], &scored);
                let mut want: Vec<usize> = (0..n).collect();
                sort_by(&mut want[from..], |&x, &y| better(&scored, x, y));
                // `better` leaves NaN scores unordered among themselves: the
                // keyed sort puts them last by slot; compare the rest as is.
                let nan = |s: &usize| scored[*s].score.is_nan();
                let split = from + want[from..].iter().position(nan).unwrap_or(n - from);
                assert_eq!(got[..split], want[..split], "n = {n}, from {from}");
                assert!(want[split..].iter().all(nan));
                assert!(got[split..].iter().all(nan));
                assert!(got[split..].windows(2).all(|w| w[0] < w[1]));
                assert!(got[..from].iter().copied().eq(0..from));
            }
        }
    }
}
