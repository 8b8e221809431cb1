//! `vitrine ranker train`: fits the learned ranker on a session log
//! (computation in `crate::eval::ranker`), writes the evaluation JSON and a
//! bundle carrying the RANKER section.

use crate::engine::Model;
use crate::eval::ranker::RankerConfig;
use crate::format::Dtype;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Train on train/valid, choose L2 on valid, score test once → JSON + bundle.
    Train(Box<TrainArgs>),
    /// A rating log replayed as sessions (per user, time-ordered; the last
    /// shares held out) → train.csv / valid.csv / test.csv for `ranker train`.
    Replay(ReplayArgs),
    /// Several `ranker train` reports → one JSON `{"datasets": [...]}`.
    Merge(MergeArgs),
}

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Rating log with user, item and timestamp columns (RecBole `.inter` or CSV with a header).
    #[arg(long)]
    pub input: PathBuf,
    /// Share of each user's latest events in test.csv.
    #[arg(long, default_value_t = 0.2)]
    pub test_share: f64,
    /// Share of each user's events just before the test ones in valid.csv.
    #[arg(long, default_value_t = 0.1)]
    pub valid_share: f64,
    /// Directory written.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Reports written by `ranker train --out`.
    pub reports: Vec<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub session: super::session::EvalArgs,
    /// L2 strengths tried (comma-separated); the best on held-out valid wins.
    #[arg(long, default_value = "0.001,0.01,0.1", value_delimiter = ',')]
    pub l2: Vec<f32>,
    /// Negatives sampled per prefix from the candidate pool.
    #[arg(long, default_value_t = 20)]
    pub negatives: usize,
    /// The blend's top candidates per prefix always kept as negatives in the
    /// second sample (0 = only the uniform sample is tried).
    #[arg(long, default_value_t = 20)]
    pub hard: usize,
    /// Adam steps of the logistic regression.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Do not add CO_PURCHASE / TRENDING built from the training sessions
    /// (the `co_purchase` and `trend` features are then 0).
    #[arg(long)]
    pub no_placements: bool,
    /// TRENDING's half-life in days.
    #[arg(long, default_value_t = 14.0)]
    pub trending_half_life: f32,
    /// Bundle written with the trained ALS, neighbours, CO_PURCHASE,
    /// TRENDING and the RANKER section.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
}

pub fn run(cmd: Cmd) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Cmd::Train(a) => train(*a),
        Cmd::Replay(a) => {
            let s = crate::eval::replay::replay(
                &a.input,
                &Default::default(),
                crate::eval::replay::ReplaySplit {
                    valid_share: a.valid_share,
                    test_share: a.test_share,
                },
                &a.out,
            )?;
            eprintln!(
                "replayed {} users, {} items: {} train, {} valid, {} test events → {}",
                s.users,
                s.items,
                s.events[0],
                s.events[1],
                s.events[2],
                a.out.display()
            );
            Ok(())
        }
        Cmd::Merge(a) => {
            let mut all = Vec::new();
            for p in &a.reports {
                all.push(serde_json::from_slice::<serde_json::Value>(
                    &super::read_input(p)?,
                )?);
            }
            super::session::write_json(&a.out, &serde_json::json!({ "datasets": all }))?;
            super::stamp_json_file(&a.out)
        }
    }
}

fn train(a: TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    if a.l2.iter().any(|v| !v.is_finite() || *v < 0.0) || a.l2.is_empty() {
        return Err("--l2 must be finite, non-negative values".into());
    }
    if a.steps == 0 || a.negatives == 0 {
        return Err("--steps and --negatives must be at least 1".into());
    }
    let cfg = RankerConfig {
        session: a.session.config(),
        l2_grid: a.l2.clone(),
        negatives: a.negatives,
        hard: a.hard,
        steps: a.steps,
        seed: 42,
        placements: !a.no_placements,
        trending_half_life: a.trending_half_life,
    };
    let (out, r, prep, _, placements) = crate::eval::ranker::run(&cfg, &|m| eprintln!("{m}"))?;
    super::session::write_json(&a.session.out, &out)?;
    super::stamp_json_file(&a.session.out)?;
    if let Some(path) = &a.bundle {
        let mut parts = prep.parts;
        parts.ranker = Some(r);
        let bytes = crate::format::write_bundle(&parts, Dtype::F32)?;
        let bytes = crate::format::placements::add_sections(&bytes, &placements)?;
        std::fs::write(path, bytes)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `vitrine inspect`: the ranker's weights by feature name (or why the
/// bundle's ranker is refused).
pub fn print_weights(m: &Model) {
    match crate::ranker::from_model(m) {
        None => {}
        Some(Err(e)) => println!("  ranker     refused ({e}); the blend is used"),
        Some(Ok(r)) => {
            println!(
                "  ranker     logistic regression, bias {:.4} (standardised features)",
                r.bias
            );
            if let Some(f) = crate::ranker::missing_features(m) {
                println!(
                    "    (older feature spec: {} computed but weighted 0)",
                    f.join(", ")
                );
            }
            for (k, n) in r.names.iter().enumerate() {
                println!(
                    "    {n:<20} weight {:+.4}  (mean {:.4}, sd {:.4})",
                    r.weights[k], r.mean[k], r.scale[k]
                );
            }
        }
    }
}

pub fn weights_json(m: &Model) -> serde_json::Value {
    match crate::ranker::from_model(m) {
        None => serde_json::Value::Null,
        Some(Err(e)) => serde_json::json!({"refused": e.to_string()}),
        Some(Ok(r)) => serde_json::json!({
            "bias": r.bias,
            "missing_features": crate::ranker::missing_features(m).unwrap_or_default(),
            "features": r.names.iter().enumerate().map(|(k, n)| serde_json::json!({
                "name": n, "weight": r.weights[k], "mean": r.mean[k], "scale": r.scale[k]})).collect::<Vec<_>>(),
        }),
    }
}
