//! `vitrine bench-native`: the `native` and `bound` rows of
//! `target/bench/scoring.json`. `bound` is matrix bytes divided by this
//! machine's single-thread sequential read bandwidth, measured in the same run:
//! the floor any scan over the matrix must pay.

use crate::engine::{Model, RecommendOptions};
use crate::format::{write_bundle, Dtype};
use crate::synth::{self, Rng};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value = "target/bench/native.json")]
    pub out: PathBuf,
    /// Only the small shapes (for a quick check).
    #[arg(long)]
    pub quick: bool,
    /// Only measure the read bandwidth and print `{"read_gbps": …}` to
    /// stdout: the browser bench calls this next to each paired browser
    /// run, so a ratio compares two measurements taken seconds apart.
    #[arg(long, conflicts_with = "quick")]
    pub bandwidth: bool,
}

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let q = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    (q(0.5), q(0.95))
}

/// Best-of-5 sequential read bandwidth in bytes/s over a buffer larger than LLC.
fn read_bandwidth() -> f64 {
    let words = 64 << 20; // 512 MiB of u64
    let buf: Vec<u64> = (0..words as u64).collect();
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut acc = [0u64; 8];
        for c in buf.chunks_exact(8) {
            for l in 0..8 {
                acc[l] = acc[l].wrapping_add(c[l]);
            }
        }
        black_box(acc);
        best = best.max((words * 8) as f64 / t.elapsed().as_secs_f64());
    }
    best
}

/// Fraction of random queries whose top-k from `q` equals the top-k from `f`
/// as a set (same catalogue and seed; the int8 path includes its rescoring).
fn agreement(
    metric: &str,
    f: &Model,
    q: &Model,
    n: usize,
    d: usize,
    k: usize,
    queries: usize,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut rng = Rng::new(77);
    let opts = RecommendOptions {
        k,
        ..Default::default()
    };
    let mut same = 0;
    for _ in 0..queries {
        let u = synth::user(d, &mut rng);
        let mut a: Vec<u32> = f.recommend(&u, &opts)?.iter().map(|s| s.index).collect();
        let mut b: Vec<u32> = q.recommend(&u, &opts)?.iter().map(|s| s.index).collect();
        a.sort_unstable();
        b.sort_unstable();
        same += usize::from(a == b);
    }
    let value = same as f64 / queries as f64;
    eprintln!(
        "{metric}: same top-{k} set on {same}/{queries} queries at n={n}: {:.1}%",
        value * 100.0
    );
    Ok(
        serde_json::json!({"metric": metric, "engine": "native", "n": n, "d": d, "k": k, "queries": queries, "value": value}),
    )
}

pub fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let bw = read_bandwidth();
    if a.bandwidth {
        println!("{}", serde_json::json!({ "read_gbps": bw / 1e9 }));
        return Ok(());
    }
    eprintln!("sequential read bandwidth: {:.1} GB/s", bw / 1e9);
    let mut shapes = vec![(10_000, 64), (100_000, 32), (100_000, 64), (100_000, 128)];
    if !a.quick {
        shapes.push((1_000_000, 64));
    }
    let mut rows = Vec::new();
    let k = 10;
    for &(n, d) in &shapes {
        let mut parts = synth::catalogue(n, d, 8, 1);
        let mut models = Vec::new();
        for (dtype, residual, screen) in [
            (Dtype::F32, false, false),
            (Dtype::F32, false, true),
            (Dtype::I8, false, false),
            (Dtype::I8, true, false),
        ] {
            // A flag, not a copy: at 1M × 64 the factors are 256 MB.
            parts.int8_residual = residual;
            let mut m = Model::from_bytes(&write_bundle(&parts, dtype)?)?;
            let built = Instant::now();
            // The plain rows scan without it (the first scan would build it).
            if !m.set_screen(screen) && screen {
                continue;
            }
            let screen_ms = built.elapsed().as_secs_f64() * 1e3;
            let mut rng = Rng::new(3);
            let users: Vec<Vec<f32>> = (0..64).map(|_| synth::user(d, &mut rng)).collect();
            let opts = RecommendOptions {
                k,
                ..Default::default()
            };
            for u in users.iter().take(3) {
                black_box(m.recommend(u, &opts)?);
            }
            let mut ms = Vec::new();
            let budget = Instant::now();
            while ms.len() < 20 || (ms.len() < 200 && budget.elapsed().as_secs_f64() < 2.0) {
                let u = &users[ms.len() % users.len()];
                let t = Instant::now();
                black_box(m.recommend(u, &opts)?);
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let (median, p95) = stats(ms);
            let matrix_bytes = (n * crate::format::stride_for(d) * dtype.elem_bytes()) as f64
                + if dtype == Dtype::I8 {
                    n as f64 * 4.0
                } else {
                    0.0
                };
            let bound = matrix_bytes / bw * 1e3;
            // The residual is read for the few re-scored candidates only:
            // the scan (and its bound) is the int8 one.
            let dt = match (dtype, residual, screen) {
                (Dtype::I8, true, _) => "int8+residual",
                (Dtype::I8, false, _) => "int8",
                (_, _, true) => "f32+screen",
                _ => "f32",
            };
            eprintln!("native {dt:>13} n={n:>8} d={d:>3}: median {median:.3} ms, p95 {p95:.3} ms, bound {bound:.3} ms");
            let mut row = serde_json::json!({"engine": "native", "dtype": dt, "n": n, "d": d, "k": k,
                "median_ms": median, "p95_ms": p95});
            if screen {
                // Same answers as the f32 row (engine tests); what building
                // the screen costs (the first scan's, or `set_screen`'s).
                row["screen_build_ms"] = screen_ms.into();
            }
            rows.push(row);
            if screen {
                // The f32 row already has its bound and its model.
                continue;
            }
            if !residual {
                rows.push(
                    serde_json::json!({"engine": "bound", "dtype": dt, "n": n, "d": d, "k": k,
                    "median_ms": bound, "p95_ms": bound, "read_gbps": bw / 1e9}),
                );
            }
            models.push(m);
        }
        if d == 64 && n >= 100_000 {
            let queries = if n > 100_000 { 500 } else { 1000 };
            // The int8 bundle against the f32 one: what 8-bit items cost.
            rows.push(agreement(
                "int8_top10_agreement",
                &models[0],
                &models[1],
                n,
                d,
                k,
                queries,
            )?);
            // With the RESIDUAL section: int8 scan, candidates re-scored at
            // ~15 bits.
            rows.push(agreement(
                "int8_residual_top10_agreement",
                &models[0],
                &models[2],
                n,
                d,
                k,
                queries,
            )?);
            // The int8 scan (int8 user, candidates rescored) against exact
            // f32-user scoring of the very same int8 items: what the fast
            // path costs on top of the quantized catalogue.
            let q = &models[1];
            let mut deq = parts.clone();
            deq.int8_residual = false;
            deq.factors = (0..n)
                .flat_map(|i| q.item_row_f32(i).unwrap_or_default())
                .collect();
            let exact = Model::from_bytes(&write_bundle(&deq, Dtype::F32)?)?;
            rows.push(agreement(
                "int8_scan_vs_exact_same_items",
                &exact,
                q,
                n,
                d,
                k,
                queries,
            )?);
        }
    }
    let mut run = super::run_info();
    if let Some(o) = run.as_object_mut() {
        o.insert("metric".into(), "run".into());
        o.insert("engine".into(), "native".into());
    }
    rows.push(run);
    crate::format::write::write_atomic(&a.out, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
