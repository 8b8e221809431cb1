//! Command-line front end. Each subcommand lives in its own file and owns its
//! arguments; this module only dispatches and turns errors into exit codes.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod bench;
mod eval;
mod export;
mod import;
mod inspect;
mod intent;
mod placements;
mod ranker;
mod session;
mod shard;
mod synth;
mod train;

#[derive(Parser, Debug)]
#[command(
    name = "vitrine",
    version,
    about = "Train, export, inspect and evaluate vitrine model bundles"
)]
struct Cli {
    /// Largest input file any command reads (`2G`, `512M`, bytes): a wrong
    /// path (`/dev/zero`, a disk image) fails with this limit in the message
    /// instead of reading until memory runs out.
    #[arg(long, global = true, value_name = "SIZE", default_value = "2G",
          value_parser = crate::table::parse_size)]
    max_input_bytes: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Train implicit-feedback ALS from interaction logs.
    Train(Box<train::Args>),
    /// Write a `.vtr` bundle from a trained model.
    Export(export::Args),
    /// Write a `.vtr` bundle from factors trained by Spark ALS or `implicit`.
    Import(import::Args),
    /// Offline evaluation against baselines and `implicit`.
    Eval(eval::Args),
    /// Print a bundle's header, sections, checksums and metadata.
    Inspect(inspect::Args),
    /// Write a bundle from random (or given) factors, for tests and benchmarks.
    Synth(synth::Args),
    /// Intent model: train, evaluate, match.
    #[command(subcommand)]
    Intent(intent::Cmd),
    /// Native scoring benchmark and memory-bandwidth bound (rows for `make bench`).
    BenchNative(bench::Args),
    /// Shopper side: synthetic bundles with neighbours/segments, session evaluation.
    #[command(subcommand)]
    Session(session::Cmd),
    /// Placements: add co-purchase / cadence / trending sections, evaluate, bench.
    #[command(subcommand)]
    Placements(placements::Cmd),
    /// Learned ranker: train on sessions, evaluate against the tuned blend.
    #[command(subcommand)]
    Ranker(ranker::Cmd),
    /// Split a bundle into a head and factor shards fetched on demand (catalogues past one page load).
    Shard(shard::Args),
}

/// Reads a whole input file within the `--max-input-bytes` limit; the one
/// way the CLI reads a bundle, state file, model or list.
pub(crate) fn read_input(path: &std::path::Path) -> Result<Vec<u8>, crate::table::TableError> {
    crate::table::read_input(path)
}

/// UTF-8 text of a bounded input file.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, Box<dyn std::error::Error>> {
    String::from_utf8(read_input(path)?)
        .map_err(|_| format!("{} is not UTF-8 text", path.display()).into())
}

/// The largest `--threads`: a typo such as `--threads 100000` must not spawn
/// threads until the OS refuses. Four per core leaves room to oversubscribe
/// on purpose; 256 is the ceiling whatever the machine.
pub(crate) fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_mul(4).clamp(1, 256)
}

/// clap value parser for `--threads`: 0 (= all cores) up to [`max_threads`].
pub(crate) fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a thread count"))?;
    let max = max_threads();
    if n > max {
        return Err(format!(
            "{n} threads is more than {max} (4 per core on this machine, at most 256); \
             0 means all cores"
        ));
    }
    Ok(n)
}

/// When and where a measurement ran, for every JSON the CLI writes into
/// `target/bench` and `target/eval`: the README's tables name both, since a
/// figure means little without its host (memory bandwidth differed 2× between
/// two hosts of this project).
pub(crate) fn run_info() -> serde_json::Value {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    serde_json::json!({
        "date": utc_timestamp(secs),
        "host": host,
        "cpu": cpu,
        "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "vitrine": env!("CARGO_PKG_VERSION"),
    })
}

/// `YYYY-MM-DDThh:mm:ssZ` from Unix seconds (civil-from-days, Hinnant).
fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = crate::train::values::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Adds `"run": run_info()` to a JSON object written by another module.
pub(crate) fn stamp_json_file(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut v: serde_json::Value = serde_json::from_slice(&read_input(path)?)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("run".into(), run_info());
    }
    crate::format::write::write_atomic(path, serde_json::to_string_pretty(&v)?.as_bytes())?;
    Ok(())
}

pub fn main() -> ExitCode {
    // `vitrine inspect model.vtr | head` closes stdout early and `println!`
    // panics on the broken pipe; like other command-line tools, stop quietly.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info)
    }));
    let cli = Cli::parse();
    crate::table::set_max_input_bytes(cli.max_input_bytes);
    let result = match cli.cmd {
        Cmd::Train(a) => train::run(*a),
        Cmd::Export(a) => export::run(a),
        Cmd::Import(a) => import::run(a),
        Cmd::Eval(a) => eval::run(a),
        Cmd::Inspect(a) => inspect::run(a),
        Cmd::Synth(a) => synth::run(a),
        Cmd::Intent(c) => intent::run(c),
        Cmd::BenchNative(a) => bench::run(a),
        Cmd::Session(c) => session::run(c),
        Cmd::Placements(c) => placements::run(c),
        Cmd::Ranker(c) => ranker::run(c),
        Cmd::Shard(a) => shard::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_timestamps_are_civil_dates() {
        assert_eq!(super::utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::utc_timestamp(1_796_083_199), "2026-11-30T23:59:59Z");
    }
}
