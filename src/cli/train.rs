//! `vitrine train`: interaction log → model state (and optionally a bundle).

use crate::train::als::{AlsParams, Solver};
use crate::train::data::{self, LoadOptions, MetaOptions, ValueMode};
use crate::train::{train_state, TrainError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;

/// How to read an interaction log. Shared with `vitrine eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Interaction log (CSV/TSV, header expected unless --no-header).
    pub input: PathBuf,
    /// Preset column layout. `recbole`: tab-separated `user_id:token item_id:token
    /// rating:float timestamp:float` (the defaults below already match it).
    #[arg(long, value_parser = ["generic", "recbole"], default_value = "generic")]
    pub format: String,
    /// Field delimiter: auto, tab, comma, semicolon, pipe, or a single character.
    #[arg(long, default_value = "auto")]
    pub delimiter: String,
    /// The first line is data, not a header; columns must then be 0-based indices.
    #[arg(long)]
    pub no_header: bool,
    /// User column (header name, `name` also matches `name:type`, or 0-based index).
    #[arg(long, default_value = "user_id")]
    pub user_col: String,
    #[arg(long, default_value = "item_id")]
    pub item_col: String,
    /// Rating or event-type column; `none` treats every row as a positive of weight 1.
    #[arg(long, default_value = "rating")]
    pub value_col: String,
    /// Timestamp column: unix time (integer or decimal) or ISO-8601
    /// (`2024-01-02`, `2024-01-02T10:00:00Z`, `2024-01-02 10:00:00+02:00`);
    /// `none` = file order.
    #[arg(long, default_value = "timestamp")]
    pub time_col: String,
    /// Unit of numeric timestamps: auto, s, ms, us, ns, or iso (text only).
    /// `auto` reads it from the magnitude (a 2020s date is ~1.7e9 s,
    /// ~1.7e12 ms, ~1.7e15 µs, ~1.7e18 ns) and the summary says what it
    /// chose; values of another magnitude are malformed rows. ISO-8601 text
    /// parses under any unit; dates alone are midnight UTC, times without
    /// an offset are UTC. Everything becomes seconds (the 30-minute session
    /// gap of --neighbours, the eval split).
    #[arg(long, default_value = "auto", value_name = "UNIT", value_parser = crate::train::values::parse_time_spec)]
    pub time_unit: crate::train::values::TimeSpec,
    /// Ratings below this are not positives.
    #[arg(long, default_value_t = 4.0)]
    pub min_rating: f32,
    /// Use the rating value itself as the weight r (default: every positive has r = 1).
    #[arg(long)]
    pub rating_weight: bool,
    /// Event-type weights, e.g. `view=1,cart=3,purchase=5`; replaces the rating threshold.
    #[arg(long)]
    pub event_weights: Option<String>,
    /// Fail on the first malformed row instead of counting and skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Largest share of malformed rows (`5%` or `0.05`) that are skipped
    /// with a warning; above it the run fails and names the first bad lines.
    /// Applies to the log and to `--items`.
    #[arg(long, value_name = "SHARE", default_value = "5%", value_parser = crate::table::parse_share)]
    pub max_bad_rows: f64,
}

impl InputArgs {
    pub fn load_options(&self) -> Result<LoadOptions, TrainError> {
        let delimiter = crate::table::parse_delimiter(&self.delimiter)
            .map_err(|e| TrainError::Config(format!("--delimiter {e}")))?;
        let delimiter = if self.format == "recbole" {
            delimiter.or(Some(b'\t'))
        } else {
            delimiter
        };
        let none = |s: &str| s.eq_ignore_ascii_case("none");
        let value = match (&self.event_weights, none(&self.value_col)) {
            (Some(_), true) => {
                return Err(TrainError::Config(
                    "--event-weights needs a --value-col".into(),
                ))
            }
            (Some(ev), false) => ValueMode::Events(data::parse_event_weights(ev)?),
            (None, true) => ValueMode::Ones,
            (None, false) => {
                if !self.min_rating.is_finite() {
                    return Err(TrainError::Config("--min-rating must be finite".into()));
                }
                ValueMode::Rating {
                    min: self.min_rating,
                    use_value: self.rating_weight,
                }
            }
        };
        Ok(LoadOptions {
            delimiter,
            has_header: !self.no_header,
            user_col: self.user_col.clone(),
            item_col: self.item_col.clone(),
            value_col: if none(&self.value_col) {
                None
            } else {
                Some(self.value_col.clone())
            },
            time_col: if none(&self.time_col) {
                None
            } else {
                Some(self.time_col.clone())
            },
            time_unit: self.time_unit,
            value,
            strict: self.strict,
            max_bad_share: self.max_bad_rows,
            max_ids: u32::MAX as usize,
        })
    }

    pub fn dataset_name(&self) -> String {
        self.input
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// ALS hyperparameters. Shared with `vitrine eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct AlsArgs {
    #[arg(long, default_value_t = 64)]
    pub factors: i64,
    #[arg(long, default_value_t = 15)]
    pub iterations: usize,
    /// Confidence scale: c = 1 + alpha * r.
    #[arg(long, default_value_t = 2.0)]
    pub alpha: f32,
    /// L2 regularisation (not scaled by counts).
    #[arg(long, default_value_t = 0.1)]
    pub lambda: f32,
    /// Conjugate-gradient steps per row solve.
    #[arg(long, default_value_t = 3)]
    pub cg_steps: usize,
    #[arg(long, value_parser = ["cg", "cholesky"], default_value = "cg")]
    pub solver: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Worker threads (0 = all cores; at most 4 per core, 256 in all).
    #[arg(long, default_value_t = 0, value_parser = super::parse_threads)]
    pub threads: usize,
    /// Scale of the random initial factors.
    #[arg(long, default_value_t = 0.01, hide = true)]
    pub init_scale: f32,
    /// Centre the initial factors on zero instead of drawing them in [0, scale).
    #[arg(long, hide = true)]
    pub init_centered: bool,
}

impl AlsArgs {
    pub fn params(&self) -> Result<AlsParams, TrainError> {
        if self.factors <= 0 {
            return Err(TrainError::Config(format!(
                "--factors must be > 0, got {}",
                self.factors
            )));
        }
        let p = AlsParams {
            factors: self.factors as usize,
            iterations: self.iterations,
            alpha: self.alpha,
            lambda: self.lambda,
            cg_steps: self.cg_steps,
            solver: if self.solver == "cholesky" {
                Solver::Cholesky
            } else {
                Solver::Cg
            },
            seed: self.seed,
            threads: self.threads,
            init_scale: self.init_scale,
            init_centered: self.init_centered,
        };
        p.validate()?;
        Ok(p)
    }
}

/// Catalogue metadata for titles, categories, prices and stock.
#[derive(clap::Args, Debug, Clone)]
pub struct MetaArgs {
    /// Item metadata file (CSV/TSV with a header).
    #[arg(long)]
    pub items: Option<PathBuf>,
    #[arg(long, default_value = "item_id")]
    pub item_id_col: String,
    #[arg(long)]
    pub title_col: Option<String>,
    #[arg(long)]
    pub category_col: Option<String>,
    /// Keep only the first whitespace-separated token of the category (e.g. first genre).
    #[arg(long)]
    pub category_first_token: bool,
    /// Keep the first N levels of a `Home > Kitchen > Mugs` category path
    /// (Google `product_type`).
    #[arg(long, value_name = "N")]
    pub category_level: Option<usize>,
    /// Price column: `12.99`, `$12.99`, `12.99 USD` (Google feeds), `12,99 €`,
    /// `1.299,00`, `1,299.00`. One currency per file: prices in another are
    /// malformed rows.
    #[arg(long)]
    pub price_col: Option<String>,
    /// Decimal separator of prices: auto, point or comma. `auto` takes the
    /// one the file's unambiguous prices use (`12,99`, `1,299.00`); a price
    /// like `1,299` or `1.299` then follows it, and is a malformed row when
    /// no price in the file shows the separator.
    #[arg(long, default_value = "auto", value_name = "SEP", value_parser = crate::train::values::parse_decimal_sep)]
    pub price_decimal: crate::train::values::DecimalSep,
    /// Stock column (bundle FLAGS, `inStockOnly`): `in stock`, `out of stock`,
    /// `preorder` / `backorder` (not in stock), true/false, yes/no, or a
    /// quantity (> 0 = in stock). Other values are malformed rows; items the
    /// file does not list stay in stock.
    #[arg(long)]
    pub stock_col: Option<String>,
}

impl MetaArgs {
    pub fn options(&self, max_bad_share: f64) -> MetaOptions {
        MetaOptions {
            delimiter: None,
            id_col: self.item_id_col.clone(),
            title_col: self.title_col.clone(),
            category_col: self.category_col.clone(),
            category_first_token: self.category_first_token,
            category_level: self.category_level,
            price_col: self.price_col.clone(),
            price_decimal: self.price_decimal,
            stock_col: self.stock_col.clone(),
            max_bad_share,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub als: AlsArgs,
    #[command(flatten)]
    pub meta: MetaArgs,
    /// Model state file to write (read by `vitrine export`).
    #[arg(short, long, default_value = "model.vstate")]
    pub output: PathBuf,
    /// Also export a bundle in the same run.
    #[arg(long)]
    pub export: Option<PathBuf>,
    #[command(flatten)]
    pub export_opts: super::export::ExportArgs,
    /// No progress bar or summaries (warnings about bad rows are still printed).
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let lopts = args.input.load_options()?;
    let params = args.als.params()?;
    // Every export option is checked (and `--intent` decoded) before the
    // log is read, so a bad one costs nothing and writes nothing.
    let prepared = match &args.export {
        Some(_) => Some(args.export_opts.prepare()?),
        None => None,
    };
    let ds = data::load_interactions(&args.input.input, &lopts)?;
    if ds.report.malformed > 0 {
        eprintln!("warning: skipped malformed rows: {}", ds.report.summary());
    } else if !args.quiet {
        eprintln!("{}", ds.report.summary());
    }
    let meta = match &args.meta.items {
        Some(p) => {
            let m = data::load_item_meta(p, &args.meta.options(args.input.max_bad_rows))?;
            if m.malformed > 0 {
                eprintln!("warning: skipped malformed rows: {}", m.summary());
            } else if !args.quiet {
                eprintln!("{}", m.summary());
            }
            Some(m)
        }
        None => None,
    };
    if !args.quiet {
        eprintln!(
            "training: {} users, {} items, {} interactions, {} factors, α {}, λ {}, {} iterations",
            ds.users.len(),
            ds.items.len(),
            ds.interactions.len(),
            params.factors,
            params.alpha,
            params.lambda,
            params.iterations
        );
    }
    let bar = if args.quiet {
        ProgressBar::with_draw_target(Some(params.iterations as u64), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(params.iterations as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "iter {pos}/{len} [{bar:30}] loss {msg} elapsed {elapsed_precise} ETA {eta}",
        )?
        .progress_chars("=> "),
    );
    let result = train_state(
        &ds,
        meta.as_ref(),
        &params,
        &args.input.dataset_name(),
        |p| {
            bar.set_message(format!("{:.6}", p.loss));
            bar.set_position(p.iteration as u64);
        },
    );
    bar.finish_and_clear();
    let (state, model) = result?;
    // The bundle is built in memory first: a failure there leaves neither
    // the state nor the bundle behind.
    let built = match (&args.export, &prepared) {
        (Some(_), Some(p)) => {
            let sessions = sessions_of(&ds, &state.header.items);
            Some(super::export::build_bundle(
                &state,
                &args.export_opts,
                p,
                Some(&sessions),
            )?)
        }
        _ => None,
    };
    state.save(&args.output)?;
    if !args.quiet {
        eprintln!(
            "trained in {:.2}s, final loss {:.6}; wrote {}",
            model.train_time.as_secs_f64(),
            model.loss.last().copied().unwrap_or(f64::NAN),
            args.output.display()
        );
        if let Some(kb) = crate::train::peak_rss_bytes() {
            eprintln!("peak memory (VmHWM): {:.1} MiB", kb as f64 / 1048576.0);
        }
    }
    if let (Some(out), Some(built)) = (&args.export, &built) {
        if let Err(e) =
            super::export::write_built(built, &state, out, &args.export_opts, args.quiet)
        {
            // Nothing partial: the state of a run whose bundle failed goes too.
            let _ = std::fs::remove_file(&args.output);
            return Err(e);
        }
    }
    Ok(())
}

/// A user's events in time order, split at 30 minutes of inactivity, as item
/// indices of the trained model: the "viewed / bought together" evidence for
/// the bundle's neighbour lists. `Interaction::time` is in seconds whatever
/// the log's unit (a millisecond log read as seconds made the gap 1.8 s).
fn sessions_of(ds: &crate::train::data::Dataset, model_items: &[String]) -> Vec<Vec<u32>> {
    const GAP_SECONDS: i64 = 30 * 60;
    let index: std::collections::HashMap<&str, u32> = model_items
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect();
    let mut by_user: Vec<&crate::train::data::Interaction> = ds.interactions.iter().collect();
    by_user.sort_by_key(|x| (x.user, x.time, x.line));
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut last: Option<(u32, i64)> = None;
    for x in by_user {
        let Some(&item) = ds
            .items
            .get(x.item as usize)
            .and_then(|id| index.get(id.as_str()))
        else {
            continue;
        };
        match last {
            Some((u, t)) if u == x.user && x.time - t <= GAP_SECONDS => {
                if let Some(s) = out.last_mut() {
                    s.push(item);
                }
            }
            _ => out.push(vec![item]),
        }
        last = Some((x.user, x.time));
    }
    out.retain(|s| s.len() > 1);
    out
}
