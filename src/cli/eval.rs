//! `vitrine eval`: offline comparison of vitrine ALS (through exported
//! bundles) with popularity, item-kNN and `implicit`.

use super::train::{AlsArgs, InputArgs};
use crate::format::Dtype;
use crate::train::compare::{self, CompareOptions};
use crate::train::{data, TrainError};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub als: AlsArgs,
    /// Users need at least this many positives to be evaluated.
    #[arg(long, default_value_t = 5)]
    pub min_positives: usize,
    /// Fraction of each evaluated user's latest positives held out.
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    /// Evaluate on a second split inside the training part (for tuning
    /// hyperparameters without touching the test data).
    #[arg(long)]
    pub validation: bool,
    /// Neighbours kept per item for the item-kNN baseline.
    #[arg(long, default_value_t = 100)]
    pub knn: usize,
    /// Bundle dtypes to score through.
    #[arg(long, value_delimiter = ',', default_value = "f32,f16,int8")]
    pub dtypes: Vec<String>,
    /// Python with `implicit` installed (e.g. .venv/bin/python); omit to skip that baseline.
    #[arg(long)]
    pub implicit_python: Option<PathBuf>,
    #[arg(long, default_value = "tests/eval/implicit_als.py")]
    pub implicit_script: PathBuf,
    /// Name shown in the report (default: the input file name).
    #[arg(long)]
    pub dataset_name: Option<String>,
    /// Output directory for recs.json, metrics.json and report.html.
    #[arg(long, default_value = "target/eval")]
    pub out_dir: PathBuf,
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let lopts = args.input.load_options()?;
    let mut params = args.als.params()?;
    if params.threads == 0 {
        // implicit gets the same count, so make "all cores" explicit.
        params.threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
    }
    let dtypes = args
        .dtypes
        .iter()
        .map(|s| {
            Dtype::parse(s)
                .ok_or_else(|| TrainError::Config(format!("--dtypes: unknown dtype {s:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ds = data::load_interactions(&args.input.input, &lopts)?;
    if ds.report.malformed > 0 {
        eprintln!("warning: skipped malformed rows: {}", ds.report.summary());
    } else {
        // The time column's reading decides the split's order: shown.
        eprintln!("{}", ds.report.summary());
    }
    let opts = CompareOptions {
        dataset_name: args
            .dataset_name
            .clone()
            .unwrap_or_else(|| args.input.dataset_name()),
        params,
        min_positives: args.min_positives,
        holdout: args.holdout,
        validation: args.validation,
        knn: args.knn,
        out_dir: args.out_dir.clone(),
        implicit_python: args.implicit_python.clone(),
        implicit_script: args.implicit_script.clone(),
        dtypes,
        quiet: args.quiet,
    };
    let results = compare::run(&ds, &opts)?;
    super::stamp_json_file(&args.out_dir.join("metrics.json"))?;
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "model",
        "Recall@10",
        "NDCG@10",
        "MAP@10",
        "Hit@10",
        "cov@10",
        "train s",
        "CPU s",
        "RSS MiB"
    );
    for r in &results {
        let m = &r.metrics;
        println!(
            "{:<34} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>8} {:>8} {:>8}",
            r.name,
            m.recall,
            m.ndcg,
            m.map,
            m.hit_rate,
            m.coverage,
            r.train_seconds
                .map(|s| format!("{s:.3}"))
                .unwrap_or_else(|| "-".into()),
            r.train_cpu_seconds
                .map(|s| format!("{s:.2}"))
                .unwrap_or_else(|| "-".into()),
            r.peak_rss_bytes
                .map(|b| format!("{:.0}", b as f64 / 1048576.0))
                .unwrap_or_else(|| "-".into()),
        );
    }
    println!(
        "wrote {}/{{recs.json,metrics.json,report.html}}",
        args.out_dir.display()
    );
    Ok(())
}
