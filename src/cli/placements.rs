//! `vitrine placements`: add the placement sections to a bundle from an
//! order log, evaluate the placements on order logs, and time them. Flags
//! are parsed here; the work is in `crate::placements`.

use crate::engine::Model;
use crate::format::placements::add_sections;
use crate::format::write::write_atomic;
use crate::placements::build::{self, BuildOptions};
use crate::placements::eval::{self, EvalOptions};
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Add CO_PURCHASE, CADENCE and TRENDING to a bundle from baskets/orders.
    Build(BuildArgs),
    /// Bought together (hold-one-out) and next basket on an order log, vs baselines.
    Eval(EvalArgs),
    /// Time each placement natively on a synthetic catalogue.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// The bundle to extend (any `.vtr`; its other sections are kept byte for byte).
    #[arg(long)]
    pub bundle: PathBuf,
    /// Orders: `user_id, basket_id, item_id[, date|ts]` with a header (tab,
    /// comma, semicolon or pipe separated; times ISO-8601 or unix numbers).
    #[arg(long, required_unless_present = "synthetic_baskets")]
    pub baskets: Option<PathBuf>,
    #[command(flatten)]
    pub input: BasketInput,
    /// Instead of `--baskets`: this many synthetic baskets over the bundle's
    /// categories, dated over the last weeks (demo and tests).
    #[arg(long, conflicts_with = "baskets")]
    pub synthetic_baskets: Option<usize>,
    /// Half-life of TRENDING's decay, in days (in baskets when the log has no dates).
    #[arg(long, default_value_t = 14.0)]
    pub trending_half_life: f32,
    /// Pairs bought together in fewer baskets are not stored.
    #[arg(long, default_value_t = 1)]
    pub min_support: u32,
    /// Co-purchase partners kept per item.
    #[arg(long, default_value_t = 100)]
    pub max_partners: usize,
    #[arg(long, short)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Training orders (Ta-Feng: data/tafeng/processed/train.csv).
    #[arg(long)]
    pub train: PathBuf,
    /// Later orders scored once (Ta-Feng: valid.csv).
    #[arg(long)]
    pub test: PathBuf,
    #[arg(long, default_value = "Ta-Feng")]
    pub dataset_name: String,
    #[command(flatten)]
    pub input: BasketInput,
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 64)]
    pub factors: usize,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// One value per parameter instead of the grid (tests).
    #[arg(long)]
    pub quick: bool,
    /// Bought together: also score this many other held-out items per basket.
    #[arg(long, default_value_t = 4)]
    pub extra_holdouts: usize,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// How an order log is read (`vitrine train`'s flags of the same names).
#[derive(clap::Args, Debug)]
pub struct BasketInput {
    /// What the time column's values are: `auto` (ISO-8601, or numbers
    /// whose unit is read from their magnitude), `s`, `ms`, `us`, `ns`, `iso`
    /// (as `vitrine train --time-unit`).
    #[arg(long, default_value = "auto", value_name = "UNIT", value_parser = crate::train::values::parse_time_spec)]
    pub time_unit: crate::train::values::TimeSpec,
    /// Largest share of malformed rows (`5%` or `0.05`) that are skipped
    /// with a count; above it the run fails and names the first bad lines.
    #[arg(long, value_name = "SHARE", default_value = "5%", value_parser = crate::table::parse_share)]
    pub max_bad_rows: f64,
    /// User column (header name or 0-based index); default: `user_id`,
    /// `user` or `customer_id`.
    #[arg(long, value_name = "COL")]
    pub user_col: Option<String>,
    /// Basket column; default: `basket_id`, `basket`, `order_id` or `order`.
    #[arg(long, value_name = "COL")]
    pub basket_col: Option<String>,
    /// Item column; default: `item_id`, `item` or `product_id`.
    #[arg(long, value_name = "COL")]
    pub item_col: Option<String>,
    /// Time column; default: `date`, `ts`, `timestamp` or `time` if present;
    /// `none`: baskets are ordered by id.
    #[arg(long, value_name = "COL")]
    pub time_col: Option<String>,
}

impl BasketInput {
    fn options(&self) -> eval::BasketReadOptions {
        eval::BasketReadOptions {
            time_spec: self.time_unit,
            max_bad_share: self.max_bad_rows,
            user_col: self.user_col.clone(),
            basket_col: self.basket_col.clone(),
            item_col: self.item_col.clone(),
            time_col: self.time_col.clone(),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 100_000)]
    pub items: usize,
    #[arg(long, default_value_t = 100)]
    pub history: usize,
    #[arg(long, default_value_t = 200)]
    pub repeats: usize,
    /// Also write the benchmark's bundle here (the Chromium benchmark loads it).
    #[arg(long)]
    pub bundle_out: Option<PathBuf>,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(c: Cmd) -> Result<(), Box<dyn std::error::Error>> {
    match c {
        Cmd::Build(a) => build_cmd(a),
        Cmd::Eval(a) => eval_cmd(a),
        Cmd::Bench(a) => bench_cmd(a),
    }
}

fn build_cmd(a: BuildArgs) -> Result<(), Box<dyn std::error::Error>> {
    if !(a.trending_half_life.is_finite() && a.trending_half_life > 0.0) {
        return Err("--trending-half-life must be a positive number of days".into());
    }
    let bytes =
        std::fs::read(&a.bundle).map_err(|e| format!("cannot read {}: {e}", a.bundle.display()))?;
    let model = Model::from_bytes(&bytes)?;
    let ids: Vec<String> = (0..model.n_items())
        .map(|i| model.item_id(i).unwrap_or_default().to_string())
        .collect();
    let (log, unknown) = match (&a.baskets, a.synthetic_baskets) {
        (Some(path), _) => {
            let (log, unknown) = eval::read_baskets(path, Some(&ids), &a.input.options())?;
            if log.baskets.is_empty() {
                return Err(format!(
                    "{}: no basket has an item of this bundle ({unknown} rows with unknown items)",
                    path.display()
                )
                .into());
            }
            (log, unknown)
        }
        (None, Some(count)) => {
            let cats: Vec<u32> = match model.view().category {
                Some(c) => c.to_vec(),
                None => vec![0; ids.len()],
            };
            let baskets = crate::placements::bench::synthetic_baskets(&cats, count, 11);
            let log = eval::BasketLog {
                baskets,
                unit: Some(crate::format::placements::TimeUnit::Days),
                ..Default::default()
            };
            (log, 0)
        }
        (None, None) => return Err("give --baskets FILE or --synthetic-baskets N".into()),
    };
    let multi = log.baskets.iter().filter(|b| b.items.len() >= 2).count();
    let o = BuildOptions {
        min_support: a.min_support.max(1),
        max_partners: a.max_partners,
        trending_half_life: a.trending_half_life,
        unit: log
            .unit
            .unwrap_or(crate::format::placements::TimeUnit::Days),
        ..Default::default()
    };
    let parts = build::parts(ids.len(), &log.baskets, &o);
    let out = add_sections(&bytes, &parts)?;
    write_atomic(&a.out, &out).map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    let pairs = parts.co_purchase.as_ref().map_or(0, |c| c.partners.len());
    println!(
        "{}: {} baskets ({} with 2+ items), {} pairs, time in {}{}; skipped {} rows with items not in the bundle, {} unreadable rows",
        a.out.display(),
        log.baskets.len(),
        multi,
        pairs,
        o.unit.name(),
        log.times.as_ref().map_or(String::new(), |t| format!(" ({t})")),
        unknown,
        log.bad_rows
    );
    Ok(())
}

fn eval_cmd(a: EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    let read = a.input.options();
    let (train, _) = eval::read_baskets(&a.train, None, &read)?;
    let (test, _) = eval::read_baskets(&a.test, None, &read)?;
    let o = EvalOptions {
        k: a.k,
        seed: a.seed,
        factors: a.factors,
        threads: a.threads,
        quick: a.quick,
        extra_holdouts: a.extra_holdouts,
        ..Default::default()
    };
    let r = eval::run(&train, &test, &a.dataset_name, &o)?;
    println!(
        "{} (k = {}), {}:",
        r.bought_together.task, r.bought_together.k, r.dataset
    );
    for s in &r.bought_together.test {
        println!(
            "  {:<42} HR {:.4}  MRR {:.4}  P {:.4}  F1 {:.4}  (n = {})",
            s.method, s.hr, s.mrr, s.precision, s.f1, s.n
        );
    }
    for (i, run) in r.bought_together.test_other_holdouts.iter().enumerate() {
        let row: Vec<String> = run
            .iter()
            .map(|s| format!("{:.4}/{:.4}", s.hr, s.mrr))
            .collect();
        println!(
            "  other held-out items #{} (HR/MRR, same order): {}",
            i + 1,
            row.join("  ")
        );
    }
    println!(
        "{} (k = {}), {}:",
        r.next_basket.task, r.next_basket.k, r.dataset
    );
    for s in &r.next_basket.test {
        println!(
            "  {:<42} Recall {:.4}  NDCG {:.4}  P {:.4}  F1 {:.4}  (n = {})",
            s.method, s.recall, s.ndcg, s.precision, s.f1, s.n
        );
    }
    println!("chosen on validation: {:?}", r.chosen);
    if let Some(out) = &a.out {
        let json = serde_json::to_vec_pretty(&r)?;
        write_atomic(out, &json).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    Ok(())
}

fn bench_cmd(a: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    let r = crate::placements::bench::run(a.items, a.history, a.repeats, a.bundle_out.as_deref())?;
    let json = serde_json::to_string_pretty(&r)?;
    println!("{json}");
    if let Some(out) = &a.out {
        write_atomic(out, json.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    Ok(())
}
