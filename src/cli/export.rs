//! `vitrine export`: model state → `.vtr` bundle (+ per-user rows).

use crate::format::write::write_atomic;
use crate::format::{write_bundle, Dtype};
use crate::train::export::{bundle_parts, model_id, write_user_rows, ExportOptions};
use crate::train::state::ModelState;
use crate::train::TrainError;
use std::path::{Path, PathBuf};

/// Bundle options. Shared with `vitrine train --export`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    /// Factor storage in the bundle.
    #[arg(long, value_parser = ["f32", "f16", "int8"], default_value = "f16")]
    pub dtype: String,
    /// With `--dtype int8`: add a RESIDUAL section (one more byte per value)
    /// so the browser re-scores its int8 candidates at ~15-bit precision: the
    /// top-k then matches the f32 model's almost always, at int8 scan speed,
    /// for a file as large as f16.
    #[arg(long)]
    pub residual: bool,
    /// Also write one `<user>.json` per user with their factor row into this
    /// directory (served per user; never part of the shared bundle).
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Embed an intent model produced by `vitrine intent train`.
    #[arg(long)]
    pub intent: Option<PathBuf>,
    /// Fill prices from a hash of the item id (demo data; marked synthetic in the meta).
    #[arg(long)]
    pub synthetic_prices: bool,
    /// Extra `key=value` metadata (repeatable; the key must not be empty).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
    /// Add K shopper segments: k-means centroids over the trained user factors.
    #[arg(long, default_value_t = 0)]
    pub segments: usize,
    /// Names for the segments, comma-separated (default "segment 1", ...).
    #[arg(long, value_delimiter = ',')]
    pub segment_names: Vec<String>,
    /// Add the top-N co-occurrence neighbours per item, from the training log's
    /// sessions (a user's events split at 30 minutes of inactivity). Needs the
    /// log, so only with `vitrine train ... --export`.
    #[arg(long, default_value_t = 0)]
    pub neighbours: usize,
    /// Add behaviour segments (BEHAVIOUR section) from this event log: CSV/TSV
    /// with a header naming user_id, item_id, timestamp and optionally type
    /// (view, cart, purchase, search; without it every row is a purchase),
    /// or the columns `--behaviour-user-col` and friends name.
    /// Features per user as the device computes them (`shopper.segment()`).
    #[arg(long, value_name = "LOG")]
    pub behaviour: Option<PathBuf>,
    /// Number of behaviour segments, or `auto` (best mean silhouette, k = 2..=6).
    #[arg(long, value_name = "K|auto", default_value = "auto", value_parser = parse_segments_k)]
    pub behaviour_segments: BehaviourK,
    /// What the event log's timestamps are: `auto` (ISO-8601, or numbers
    /// whose unit is read from their magnitude, as `train --time-unit`),
    /// `s`, `ms`, `us`, `ns`, `iso`.
    #[arg(long, default_value = "auto", value_name = "UNIT", value_parser = crate::train::values::parse_time_spec)]
    pub behaviour_time_unit: crate::train::values::TimeSpec,
    /// Prior strength (in visits) pulling short histories toward the average
    /// shopper, or `auto`: estimated from the log (empirical Bayes; 0 when
    /// too few users return to measure it). 0 turns shrinkage off.
    #[arg(long, value_name = "VISITS|auto", default_value = "auto", value_parser = parse_shrink)]
    pub behaviour_shrink: BehaviourShrink,
    /// The event log's user column (header name or 0-based index); default:
    /// `user_id`, `user`, `visitorid` or `customer_id`.
    #[arg(long, value_name = "COL", requires = "behaviour")]
    pub behaviour_user_col: Option<String>,
    /// Its item column; default: `item_id`, `item`, `itemid` or `product_id`.
    #[arg(long, value_name = "COL", requires = "behaviour")]
    pub behaviour_item_col: Option<String>,
    /// Its time column; default: `timestamp`, `ts` or `time`.
    #[arg(long, value_name = "COL", requires = "behaviour")]
    pub behaviour_time_col: Option<String>,
    /// Its event type column; default: `type`, `event` or `event_type` if
    /// present; `none`: every row is a purchase (an order export).
    #[arg(long, value_name = "COL", requires = "behaviour")]
    pub behaviour_type_col: Option<String>,
}

/// `--behaviour-shrink`: a prior strength, or `None` for `auto`.
#[derive(Clone, Copy, Debug)]
pub struct BehaviourShrink(pub Option<f32>);

/// `auto` or a finite prior strength ≥ 0 (in visits).
pub(crate) fn parse_shrink(s: &str) -> Result<BehaviourShrink, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(BehaviourShrink(None));
    }
    match s.trim().parse::<f32>() {
        Ok(m) if m.is_finite() && m >= 0.0 => Ok(BehaviourShrink(Some(m))),
        _ => Err(format!(
            "{s:?} is neither `auto` nor a prior strength ≥ 0 (visits)"
        )),
    }
}

/// `--behaviour-segments`: a count, or `None` for `auto`. A newtype because
/// clap reads a bare `Option` field as "flag may be absent".
#[derive(Clone, Copy, Debug)]
pub struct BehaviourK(pub Option<usize>);

/// `auto` or a segment count in 1..=64 (the BEHAVIOUR section's limit).
fn parse_segments_k(s: &str) -> Result<BehaviourK, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(BehaviourK(None));
    }
    match s.trim().parse::<usize>() {
        Ok(k) if (1..=64).contains(&k) => Ok(BehaviourK(Some(k))),
        _ => Err(format!(
            "{s:?} is neither `auto` nor a number of segments in 1..=64"
        )),
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model state written by `vitrine train`.
    pub state: PathBuf,
    /// Bundle to write.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub opts: ExportArgs,
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--meta key=value`, checked when parsed so that a bad pair fails before
/// any training or writing.
fn parse_meta(kv: &str) -> Result<(String, String), String> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| format!("{kv:?} is not key=value"))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("{kv:?} has an empty key"));
    }
    if k.chars().any(char::is_control) || v.chars().any(char::is_control) {
        return Err(format!("{kv:?} contains control characters"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// An intent model to embed, decoded and validated the way the browser will
/// decode it, so a wrong file fails here and not in a shopper's page.
pub fn read_intent(path: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let bytes = super::read_input(path)?;
    crate::intent::IntentModel::from_bytes(&bytes).map_err(|e| {
        format!(
            "--intent {}: not a valid intent model: {e} [{}]",
            path.display(),
            e.code()
        )
    })?;
    Ok(bytes)
}

/// What `ExportArgs` say, checked and loaded before any work is done.
pub struct Prepared {
    dtype: Dtype,
    intent: Option<Vec<u8>>,
}

impl ExportArgs {
    pub fn prepare(&self) -> Result<Prepared, Box<dyn std::error::Error>> {
        let dtype = Dtype::parse(&self.dtype)
            .ok_or_else(|| TrainError::Config(format!("--dtype {}", self.dtype)))?;
        let intent = self.intent.as_deref().map(read_intent).transpose()?;
        Ok(Prepared { dtype, intent })
    }
}

/// A bundle built in memory: nothing is written until every part of the
/// run has succeeded.
pub struct Built {
    bytes: Vec<u8>,
    /// What `--behaviour` found, for the summary line.
    behaviour: Option<String>,
    items: usize,
    dim: usize,
    dtype: Dtype,
}

/// `sessions` (item indices in the state's item order) feed `--neighbours`.
pub fn build_bundle(
    state: &ModelState,
    a: &ExportArgs,
    p: &Prepared,
    sessions: Option<&[Vec<u32>]>,
) -> Result<Built, Box<dyn std::error::Error>> {
    let mut parts = bundle_parts(
        state,
        &ExportOptions {
            synthetic_prices: a.synthetic_prices,
            intent: p.intent.clone(),
            extra_meta: a.meta.clone(),
        },
    )?;
    if a.segments > 0 {
        let users: Vec<f32> = state.user_factors.iter().copied().collect();
        let names = (!a.segment_names.is_empty()).then(|| a.segment_names.clone());
        parts.segments = Some(crate::shopper::segments::section(
            &users,
            state.header.dim,
            a.segments,
            names,
            state.header.seed,
        ));
    }
    if a.neighbours > 0 {
        let sessions = sessions.ok_or_else(|| {
            TrainError::Config(
                "--neighbours needs the interaction log: use `vitrine train ... --export`".into(),
            )
        })?;
        let opts = crate::shopper::neighbours::NeighbourOptions {
            top_n: a.neighbours,
            ..Default::default()
        };
        parts.neighbours = Some(crate::shopper::neighbours::build(
            state.header.n_items,
            sessions,
            &opts,
        ));
    }
    let behaviour = match &a.behaviour {
        Some(path) => Some(add_behaviour(&mut parts, path, a, state.header.seed)?),
        None => None,
    };
    parts.int8_residual = a.residual;
    let bytes = write_bundle(&parts, p.dtype)?;
    Ok(Built {
        bytes,
        behaviour,
        items: parts.ids.len(),
        dim: parts.dim,
        dtype: p.dtype,
    })
}

/// Fits behaviour segments on `path` over the bundle's own items, prices
/// and categories, with the device's default 30-minute session gap, and
/// sets them on `parts`. Returns a summary for the log.
fn add_behaviour(
    parts: &mut crate::format::BundleParts,
    path: &Path,
    a: &ExportArgs,
    seed: u64,
) -> Result<String, Box<dyn std::error::Error>> {
    use crate::eval::segments::{fit_log, read_event_log};
    let cols = crate::eval::segments::EventLogColumns {
        user: a.behaviour_user_col.clone(),
        item: a.behaviour_item_col.clone(),
        time: a.behaviour_time_col.clone(),
        kind: a.behaviour_type_col.clone(),
        flag_prefix: "behaviour-",
    };
    let log = read_event_log(path, &parts.ids, &cols, a.behaviour_time_unit, 0.01)
        .map_err(|e| format!("--behaviour {}: {e}", path.display()))?;
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the f32 PRICE the device reads, from the f64 display prices"
    )]
    let prices: Option<Vec<f32>> = parts
        .prices
        .as_ref()
        .map(|v| v.iter().map(|&x| x as f32).collect());
    let (seg, users) = fit_log(
        &log,
        prices.as_deref(),
        parts.categories.as_deref(),
        crate::shopper::ProfileOptions::default().session_gap_ms,
        a.behaviour_shrink.0,
        a.behaviour_segments.0,
        seed,
    )
    .map_err(|e| format!("--behaviour {}: {e}", path.display()))?;
    let summary = format!(
        "behaviour segments: {} users, k = {} ({}), shrinkage {:.2} visits: {}; {} rows, {} with items not in the bundle, {} unreadable; {}",
        users,
        seg.centroids.len(),
        if a.behaviour_segments.0.is_some() { "given" } else { "silhouette" },
        seg.shrink,
        seg.labels.join(" | "),
        log.rows,
        log.unknown_items,
        log.bad_rows,
        log.times
    );
    parts.behaviour = Some(seg);
    Ok(summary)
}

/// Writes the bundle (temp file + rename) and then the per-user rows.
pub fn write_built(
    built: &Built,
    state: &ModelState,
    out: &Path,
    a: &ExportArgs,
    quiet: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    write_atomic(out, &built.bytes).map_err(|e| TrainError::io(out, e))?;
    if !quiet {
        eprintln!(
            "wrote {} ({} items, dim {}, {}, {} bytes)",
            out.display(),
            built.items,
            built.dim,
            built.dtype.name(),
            built.bytes.len()
        );
        let bytes = std::fs::read(out).map_err(|e| TrainError::io(out, e))?;
        eprintln!(
            "integrity {} (load(url, {{integrity}}))",
            sri_sha256(&bytes)
        );
        if let Some(b) = &built.behaviour {
            eprintln!("{b}");
        }
    }
    if let Some(dir) = &a.users {
        let n = match write_user_rows(dir, state, &model_id(state)) {
            Ok(n) => n,
            Err(e) => {
                // The run failed: its bundle must not look like a result.
                let _ = std::fs::remove_file(out);
                return Err(e.into());
            }
        };
        if !quiet {
            eprintln!("wrote {n} user rows to {}", dir.display());
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let prepared = args.opts.prepare()?;
    let state = ModelState::from_bytes(&super::read_input(&args.state)?)?;
    let built = build_bundle(&state, &args.opts, &prepared, None)?;
    write_built(&built, &state, &args.output, &args.opts, args.quiet)
}

/// Subresource Integrity string (`sha256-<base64>`) of a written bundle, for
/// `load(url, {integrity})`: the page then refuses a bundle altered on the
/// way (CDN, cache, disk). SHA-256 is written out here (FIPS 180-4) rather
/// than pulled in as a crate for one hash per export.
pub fn sri_sha256(bytes: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = bytes.to_vec();
    let bit_len = (bytes.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for (&k, &wi) in K.iter().zip(w.iter()) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(k)
                .wrapping_add(wi);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let digest: Vec<u8> = h.iter().flat_map(|x| x.to_be_bytes()).collect();
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("sha256-");
    for chunk in digest.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod sri_tests {
    #[test]
    fn sri_matches_known_sha256_vectors() {
        // FIPS 180-4 examples, base64 as `openssl dgst -sha256 -binary | base64` prints them.
        assert_eq!(
            super::sri_sha256(b"abc"),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(
            super::sri_sha256(b""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            super::sri_sha256(&[b'a'; 1000]),
            "sha256-Qe3s5C1j6Nm/UVqbppMuHCDLyfWl0TRkWttdsblzfqM="
        );
    }
}
