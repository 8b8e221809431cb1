//! The three optional sections behind the storefront placements (format 1.x,
//! kinds 20–22; readers that predate them skip them): CO_PURCHASE (basket
//! co-occurrence counts for "bought together"), CADENCE (per-item repurchase
//! interval for "buy it again") and TRENDING (time-decayed popularity).
//!
//! Counts rather than finished scores are stored so the browser can apply the
//! Bayes rule with its own support threshold and shrinkage (docs/placements.md);
//! the byte layout of each is in docs/format.md.
//!
//! Like the rest of `format`, nothing here panics on untrusted bytes: every
//! read is `.get(..)`, every size is checked arithmetic.

use super::{read::parse, write::assemble_raw, Kind};
use crate::error::{At, Error};

/// Time axis of CADENCE and TRENDING: calendar days, or the ordinal of the
/// shopper's baskets when the order log has no dates (Ta-Feng's processed files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Days = 0,
    Baskets = 1,
}

impl TimeUnit {
    pub fn from_code(c: u32) -> Option<TimeUnit> {
        match c {
            0 => Some(TimeUnit::Days),
            1 => Some(TimeUnit::Baskets),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Days => "days",
            TimeUnit::Baskets => "baskets",
        }
    }
}

/// Co-purchase counts in CSR form: row `y` lists the items bought with `y`,
/// most co-purchases first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CoPurchase {
    pub n_baskets: u32,
    /// Pairs seen fewer times were dropped at export.
    pub min_support: u32,
    /// Baskets that contain each item.
    pub basket_count: Vec<u32>,
    pub offsets: Vec<u32>,
    pub partners: Vec<u32>,
    pub co_count: Vec<u32>,
}

/// Per-item repurchase cadence.
#[derive(Debug, Clone, PartialEq)]
pub struct Cadence {
    pub unit: TimeUnit,
    /// Median gap over every repeat purchase: the fallback for items without their own.
    pub global_interval: f32,
    /// Median gap between two purchases of the item by the same buyer; NaN = never repurchased.
    pub interval: Vec<f32>,
    /// Share of the item's buyers who bought it again, in [0, 1].
    pub repeat_rate: Vec<f32>,
}

/// Time-decayed popularity at export.
#[derive(Debug, Clone, PartialEq)]
pub struct Trending {
    pub unit: TimeUnit,
    pub half_life: f32,
    /// "Now" of the export, in `unit` (days since the epoch, or basket ordinal).
    pub reference: f64,
    /// Σ 0.5^(age / half_life) over the item's purchases.
    pub recent: Vec<f32>,
    /// Plain purchase count over the whole log (the baseline a trend rises from).
    pub total: Vec<f32>,
}

/// What `vitrine placements build` adds to a bundle.
#[derive(Debug, Clone, Default)]
pub struct PlacementParts {
    pub co_purchase: Option<CoPurchase>,
    pub cadence: Option<Cadence>,
    pub trending: Option<Trending>,
}

/// Zero-copy views, validated at load.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlacementsView<'a> {
    pub co_purchase: Option<CoPurchaseView<'a>>,
    pub cadence: Option<CadenceView<'a>>,
    pub trending: Option<TrendingView<'a>>,
}

#[derive(Debug, Clone, Copy)]
pub struct CoPurchaseView<'a> {
    pub n_baskets: u32,
    pub min_support: u32,
    pub basket_count: &'a [u32],
    pub offsets: &'a [u32],
    pub partners: &'a [u32],
    pub co_count: &'a [u32],
}

impl<'a> CoPurchaseView<'a> {
    /// Items bought with `y` as (item, baskets with both), most first.
    pub fn row(&self, y: usize) -> impl Iterator<Item = (u32, u32)> + 'a {
        let a = self.offsets.get(y).copied().unwrap_or(0) as usize;
        let b = self.offsets.get(y + 1).copied().unwrap_or(0) as usize;
        let p = self.partners.get(a..b).unwrap_or(&[]);
        let c = self.co_count.get(a..b).unwrap_or(&[]);
        p.iter().copied().zip(c.iter().copied())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CadenceView<'a> {
    pub unit: TimeUnit,
    pub global_interval: f32,
    pub interval: &'a [f32],
    pub repeat_rate: &'a [f32],
}

#[derive(Debug, Clone, Copy)]
pub struct TrendingView<'a> {
    pub unit: TimeUnit,
    pub half_life: f32,
    pub reference: f64,
    pub recent: &'a [f32],
    pub total: &'a [f32],
}

const CO_HEADER: usize = 32;
const CADENCE_HEADER: usize = 16;
const TRENDING_HEADER: usize = 32;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn f64_at(b: &[u8], at: usize) -> Option<f64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(f64::from_le_bytes(a))
}

fn bad(section: &'static str, reason: String) -> Error {
    Error::BadSection {
        at: At { section, offset: 0 },
        reason,
    }
}

fn bad_at(at: &At, reason: String) -> Error {
    Error::BadSection {
        at: at.clone(),
        reason,
    }
}

/// `count` values of 4 bytes starting at `start`, as a typed slice.
fn slice4<T: bytemuck::Pod>(b: &[u8], start: usize, count: usize) -> Option<&[T]> {
    let end = count.checked_mul(4)?.checked_add(start)?;
    bytemuck::try_cast_slice(b.get(start..end)?).ok()
}

fn size(parts: &[usize], what: &'static str) -> Result<usize, Error> {
    parts
        .iter()
        .try_fold(0usize, |acc, &p| acc.checked_add(p))
        .ok_or(Error::SizeOverflow { what })
}

fn words(n: usize, what: &'static str) -> Result<usize, Error> {
    n.checked_mul(4).ok_or(Error::SizeOverflow { what })
}

fn co_parts<'a>(b: &'a [u8], here: &At) -> Result<CoPurchaseView<'a>, Error> {
    let short = || Error::Truncated {
        at: here.clone(),
        need: CO_HEADER as u64,
        have: b.len() as u64,
    };
    let n = u32_at(b, 0).ok_or_else(short)? as usize;
    let n_baskets = u32_at(b, 4).ok_or_else(short)?;
    let total = u32_at(b, 8).ok_or_else(short)? as usize;
    let min_support = u32_at(b, 12).ok_or_else(short)?;
    let rows = n.checked_add(1).ok_or(Error::SizeOverflow {
        what: "co-purchase offsets",
    })?;
    let need = size(
        &[
            CO_HEADER,
            words(n, "co-purchase counts")?,
            words(rows, "co-purchase offsets")?,
            words(total, "co-purchase partners")?,
            words(total, "co-purchase counts")?,
        ],
        "co-purchase section",
    )?;
    if b.len() != need {
        return Err(bad_at(
            here,
            format!(
                "{n} items with {total} pairs need {need} bytes, section has {}",
                b.len()
            ),
        ));
    }
    let mut at = CO_HEADER;
    let basket_count = slice4(b, at, n).ok_or_else(short)?;
    at += n * 4;
    let offsets = slice4(b, at, rows).ok_or_else(short)?;
    at += rows * 4;
    let partners = slice4(b, at, total).ok_or_else(short)?;
    at += total * 4;
    let co_count = slice4(b, at, total).ok_or_else(short)?;
    Ok(CoPurchaseView {
        n_baskets,
        min_support,
        basket_count,
        offsets,
        partners,
        co_count,
    })
}

fn cadence_parts<'a>(b: &'a [u8], here: &At) -> Result<CadenceView<'a>, Error> {
    let short = || Error::Truncated {
        at: here.clone(),
        need: CADENCE_HEADER as u64,
        have: b.len() as u64,
    };
    let n = u32_at(b, 0).ok_or_else(short)? as usize;
    let unit_code = u32_at(b, 4).ok_or_else(short)?;
    let unit = TimeUnit::from_code(unit_code)
        .ok_or_else(|| bad_at(here, format!("unknown time unit {unit_code}")))?;
    let global_interval = f32::from_bits(u32_at(b, 8).ok_or_else(short)?);
    let need = size(
        &[CADENCE_HEADER, words(n, "cadence")?, words(n, "cadence")?],
        "cadence section",
    )?;
    if b.len() != need {
        return Err(bad_at(
            here,
            format!("{n} items need {need} bytes, section has {}", b.len()),
        ));
    }
    Ok(CadenceView {
        unit,
        global_interval,
        interval: slice4(b, CADENCE_HEADER, n).ok_or_else(short)?,
        repeat_rate: slice4(b, CADENCE_HEADER + n * 4, n).ok_or_else(short)?,
    })
}

fn trending_parts<'a>(b: &'a [u8], here: &At) -> Result<TrendingView<'a>, Error> {
    let short = || Error::Truncated {
        at: here.clone(),
        need: TRENDING_HEADER as u64,
        have: b.len() as u64,
    };
    let n = u32_at(b, 0).ok_or_else(short)? as usize;
    let unit_code = u32_at(b, 4).ok_or_else(short)?;
    let unit = TimeUnit::from_code(unit_code)
        .ok_or_else(|| bad_at(here, format!("unknown time unit {unit_code}")))?;
    let half_life = f32::from_bits(u32_at(b, 8).ok_or_else(short)?);
    let reference = f64_at(b, 16).ok_or_else(short)?;
    let need = size(
        &[
            TRENDING_HEADER,
            words(n, "trending")?,
            words(n, "trending")?,
        ],
        "trending section",
    )?;
    if b.len() != need {
        return Err(bad_at(
            here,
            format!("{n} items need {need} bytes, section has {}", b.len()),
        ));
    }
    Ok(TrendingView {
        unit,
        half_life,
        reference,
        recent: slice4(b, TRENDING_HEADER, n).ok_or_else(short)?,
        total: slice4(b, TRENDING_HEADER + n * 4, n).ok_or_else(short)?,
    })
}

/// Load-time checks (called from `read::validate_content`): shapes match the
/// model's item count, references are in range, counts are consistent, floats
/// are finite where they must be. `section(k)` gives a present section's bytes
/// and its location.
pub(crate) fn validate<'a>(
    n: usize,
    section: impl Fn(Kind) -> Option<(&'a [u8], At)>,
) -> Result<(), Error> {
    if let Some((b, here)) = section(Kind::CoPurchase) {
        let v = co_parts(b, &here)?;
        if v.basket_count.len() != n {
            return Err(bad_at(
                &here,
                format!("counts for {} items, model has {n}", v.basket_count.len()),
            ));
        }
        if v.min_support == 0 {
            return Err(bad_at(&here, "minimum support must be at least 1".into()));
        }
        if let Some(i) = v.basket_count.iter().position(|&c| c > v.n_baskets) {
            return Err(bad_at(
                &here,
                format!("item {i} is in more baskets than there are"),
            ));
        }
        if v.offsets.first() != Some(&0)
            || v.offsets.last().map(|&o| o as usize) != Some(v.partners.len())
        {
            return Err(bad_at(&here, "offsets do not cover the pairs".into()));
        }
        for y in 0..n {
            let (a, b) = match (v.offsets.get(y), v.offsets.get(y + 1)) {
                (Some(&a), Some(&b)) if a <= b => (a as usize, b as usize),
                _ => return Err(bad_at(&here, "offsets go backwards".into())),
            };
            let cy = v.basket_count.get(y).copied().unwrap_or(0);
            let mut prev = u32::MAX;
            for j in a..b {
                let (x, c) = match (v.partners.get(j), v.co_count.get(j)) {
                    (Some(&x), Some(&c)) => (x, c),
                    _ => return Err(bad_at(&here, "pair out of range".into())),
                };
                let cx = v.basket_count.get(x as usize).copied();
                match cx {
                    Some(cx) if x as usize != y && c >= v.min_support && c <= cy && c <= cx => {}
                    _ => {
                        return Err(bad_at(
                            &here,
                            format!("pair {j} (item {y} with {x}, {c} baskets) is inconsistent"),
                        ))
                    }
                }
                if c > prev {
                    return Err(bad_at(&here, format!("row {y} is not sorted by count")));
                }
                prev = c;
            }
        }
    }
    if let Some((b, here)) = section(Kind::Cadence) {
        let v = cadence_parts(b, &here)?;
        if v.interval.len() != n {
            return Err(bad_at(
                &here,
                format!("cadence for {} items, model has {n}", v.interval.len()),
            ));
        }
        if !(v.global_interval.is_finite() && v.global_interval > 0.0) {
            return Err(bad_at(&here, "global interval must be positive".into()));
        }
        // NaN = "never repurchased"; otherwise a positive finite gap.
        if let Some(i) = v
            .interval
            .iter()
            .position(|&x| !(x.is_nan() || (x.is_finite() && x > 0.0)))
        {
            return Err(bad_at(&here, format!("item {i} has a bad interval")));
        }
        if let Some(i) = v
            .repeat_rate
            .iter()
            .position(|&x| !(0.0..=1.0).contains(&x))
        {
            return Err(bad_at(
                &here,
                format!("item {i} has a repeat rate outside [0, 1]"),
            ));
        }
    }
    if let Some((b, here)) = section(Kind::Trending) {
        let v = trending_parts(b, &here)?;
        if v.recent.len() != n {
            return Err(bad_at(
                &here,
                format!("trending for {} items, model has {n}", v.recent.len()),
            ));
        }
        if !(v.half_life.is_finite() && v.half_life > 0.0 && v.reference.is_finite()) {
            return Err(bad_at(
                &here,
                "half-life and reference time must be finite, half-life > 0".into(),
            ));
        }
        for (name, vals) in [("recent", v.recent), ("total", v.total)] {
            if let Some(i) = vals.iter().position(|&x| !(x.is_finite() && x >= 0.0)) {
                return Err(bad_at(
                    &here,
                    format!("item {i}: {name} must be finite and ≥ 0"),
                ));
            }
        }
    }
    Ok(())
}

/// O(1) views; a section that failed to parse (impossible after `validate`) is absent.
pub(crate) fn view<'a>(section: impl Fn(Kind) -> Option<&'a [u8]>) -> PlacementsView<'a> {
    let here = |k: Kind| At {
        section: k.name(),
        offset: 0,
    };
    PlacementsView {
        co_purchase: section(Kind::CoPurchase)
            .and_then(|b| co_parts(b, &here(Kind::CoPurchase)).ok()),
        cadence: section(Kind::Cadence).and_then(|b| cadence_parts(b, &here(Kind::Cadence)).ok()),
        trending: section(Kind::Trending)
            .and_then(|b| trending_parts(b, &here(Kind::Trending)).ok()),
    }
}

fn push_u32s(out: &mut Vec<u8>, v: &[u32]) {
    out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
}

fn push_f32s(out: &mut Vec<u8>, v: &[f32]) {
    out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
}

fn item_count(n: usize, what: &'static str) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::SizeOverflow { what })
}

/// Encodes the sections present in `parts` for a model of `n` items. The
/// bytes are checked with the same [`validate`] the reader runs, so a bad
/// builder fails here instead of producing a bundle every browser refuses.
pub fn encode(parts: &PlacementParts, n: usize) -> Result<Vec<(Kind, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    if let Some(c) = &parts.co_purchase {
        let total = item_count(c.partners.len(), "co-purchase pairs")?;
        let mut b = Vec::new();
        for v in [
            item_count(n, "item count")?,
            c.n_baskets,
            total,
            c.min_support,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.resize(CO_HEADER, 0);
        push_u32s(&mut b, &c.basket_count);
        push_u32s(&mut b, &c.offsets);
        push_u32s(&mut b, &c.partners);
        push_u32s(&mut b, &c.co_count);
        out.push((Kind::CoPurchase, b));
    }
    if let Some(c) = &parts.cadence {
        let mut b = Vec::new();
        b.extend_from_slice(&item_count(n, "item count")?.to_le_bytes());
        b.extend_from_slice(&(c.unit as u32).to_le_bytes());
        b.extend_from_slice(&c.global_interval.to_le_bytes());
        b.resize(CADENCE_HEADER, 0);
        push_f32s(&mut b, &c.interval);
        push_f32s(&mut b, &c.repeat_rate);
        out.push((Kind::Cadence, b));
    }
    if let Some(t) = &parts.trending {
        let mut b = Vec::new();
        b.extend_from_slice(&item_count(n, "item count")?.to_le_bytes());
        b.extend_from_slice(&(t.unit as u32).to_le_bytes());
        b.extend_from_slice(&t.half_life.to_le_bytes());
        b.resize(16, 0);
        b.extend_from_slice(&t.reference.to_le_bytes());
        b.resize(TRENDING_HEADER, 0);
        push_f32s(&mut b, &t.recent);
        push_f32s(&mut b, &t.total);
        out.push((Kind::Trending, b));
    }
    let lookup = |k: Kind| {
        out.iter().find(|(kk, _)| *kk == k).map(|(_, b)| {
            (
                b.as_slice(),
                At {
                    section: k.name(),
                    offset: 0,
                },
            )
        })
    };
    validate(n, lookup).map_err(|e| match e {
        Error::BadSection { at, reason } => bad(at.section, format!("cannot write: {reason}")),
        other => other,
    })?;
    Ok(out)
}

/// Adds (or replaces) the placement sections of an existing bundle: every
/// other section is copied byte for byte, so a model need not be retrained to
/// gain "bought together". The result is parsed again before it is returned.
pub fn add_sections(bundle: &[u8], parts: &PlacementParts) -> Result<Vec<u8>, Error> {
    let layout = parse(bundle)?;
    let new = encode(parts, layout.n_items)?;
    let mut raw: Vec<(u32, u32, &[u8])> = Vec::with_capacity(layout.sections.len() + new.len());
    for s in &layout.sections {
        if new.iter().any(|(k, _)| *k as u32 == s.kind) {
            continue;
        }
        let start =
            usize::try_from(s.offset).map_err(|_| Error::SizeOverflow { what: "offset" })?;
        let end = start
            .checked_add(
                usize::try_from(s.length).map_err(|_| Error::SizeOverflow { what: "length" })?,
            )
            .ok_or(Error::SizeOverflow {
                what: "section end",
            })?;
        let body = bundle.get(start..end).ok_or(Error::SectionOutOfBounds {
            at: At {
                section: s.name,
                offset: s.offset,
            },
            end: end as u64,
            file_len: bundle.len() as u64,
        })?;
        raw.push((s.kind, s.flags, body));
    }
    for (k, b) in &new {
        raw.push((*k as u32, 0, b.as_slice()));
    }
    let out = assemble_raw(&raw);
    parse(&out)?;
    Ok(out)
}
