//! Command-line front end. Each subcommand lives in its own file and owns its
//! arguments; this module only dispatches and turns errors into exit codes.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod bench;
mod eval;
mod export;
mod inspect;
mod intent;
mod ranker;
mod session;
mod synth;
mod train;

#[derive(Parser, Debug)]
#[command(
    name = "vitrine",
    version,
    about = "Train, export, inspect and evaluate vitrine model bundles"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Train implicit-feedback ALS from interaction logs.
    Train(train::Args),
    /// Write a `.vtr` bundle from a trained model.
    Export(export::Args),
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
    /// Learned ranker: train on sessions, evaluate against the tuned blend.
    #[command(subcommand)]
    Ranker(ranker::Cmd),
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
    let result = match cli.cmd {
        Cmd::Train(a) => train::run(a),
        Cmd::Export(a) => export::run(a),
        Cmd::Eval(a) => eval::run(a),
        Cmd::Inspect(a) => inspect::run(a),
        Cmd::Synth(a) => synth::run(a),
        Cmd::Intent(c) => intent::run(c),
        Cmd::BenchNative(a) => bench::run(a),
        Cmd::Session(c) => session::run(c),
        Cmd::Ranker(c) => ranker::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
