//! Offline evaluation: a reproducible temporal split, ranking metrics, simple
//! baselines and the HTML report.
//!
//! The split holds out, for every user with at least `min_positives`
//! positives, their latest `holdout` fraction (at least one) by timestamp;
//! ties are broken by file line so the split is the same on every run. Items
//! that occur only in held-out data are not in the trained catalogue; they
//! stay in the denominators (no model can hit them), which is the honest way
//! to count them.

use super::als::Csr;
use super::data::{Dataset, Interaction, ParseReport};
use super::error::{Result, TrainError};
use rayon::prelude::*;
use std::collections::HashMap;

/// Largest cut-off evaluated (the Recall@K curve runs 1..=MAX_K).
pub const MAX_K: usize = 50;
/// Cut-off of the headline metrics.
pub const K: usize = 10;

#[derive(Clone, Debug)]
pub struct TestUser {
    /// Index into the training dataset's users.
    pub user: u32,
    /// Held-out items that exist in the training catalogue.
    pub items: Vec<u32>,
    /// Held-out items unknown to the catalogue (count only).
    pub unknown: usize,
}

impl TestUser {
    pub fn relevant(&self) -> usize {
        self.items.len() + self.unknown
    }
}

#[derive(Clone, Debug)]
pub struct Split {
    pub train: Dataset,
    pub test: Vec<TestUser>,
}

/// Temporal leave-latest-out split (see the module docs).
pub fn split(ds: &Dataset, min_positives: usize, holdout: f64) -> Result<Split> {
    if !(holdout > 0.0 && holdout < 1.0) {
        return Err(TrainError::Config("--holdout must be in (0, 1)".into()));
    }
    let mut by_user: Vec<Vec<&Interaction>> = vec![Vec::new(); ds.users.len()];
    for x in &ds.interactions {
        by_user[x.user as usize].push(x);
    }
    let mut train_rows: Vec<&Interaction> = Vec::with_capacity(ds.interactions.len());
    let mut held: Vec<(u32, Vec<u32>)> = Vec::new();
    for (u, rows) in by_user.iter_mut().enumerate() {
        if rows.len() >= min_positives.max(2) {
            rows.sort_by_key(|x| (x.time, x.line));
            let n_test = ((rows.len() as f64 * holdout).floor() as usize).max(1);
            let cut = rows.len() - n_test;
            train_rows.extend(&rows[..cut]);
            held.push((u as u32, rows[cut..].iter().map(|x| x.item).collect()));
        } else {
            train_rows.extend(rows.iter());
        }
    }
    // Keep file order in the training set so ids are interned as in a full run.
    train_rows.sort_by_key(|x| x.line);
    let mut umap: HashMap<u32, u32> = HashMap::new();
    let mut imap: HashMap<u32, u32> = HashMap::new();
    let (mut users, mut items) = (Vec::new(), Vec::new());
    let mut inter = Vec::with_capacity(train_rows.len());
    for x in train_rows {
        let u = *umap.entry(x.user).or_insert_with(|| {
            users.push(ds.users[x.user as usize].clone());
            users.len() as u32 - 1
        });
        let i = *imap.entry(x.item).or_insert_with(|| {
            items.push(ds.items[x.item as usize].clone());
            items.len() as u32 - 1
        });
        inter.push(Interaction {
            user: u,
            item: i,
            ..*x
        });
    }
    if inter.is_empty() {
        return Err(TrainError::Empty(
            "the split left no training interactions".into(),
        ));
    }
    let mut test = Vec::new();
    for (u, its) in held {
        let Some(&tu) = umap.get(&u) else { continue };
        let mut known = Vec::new();
        let mut unknown = 0;
        for i in its {
            match imap.get(&i) {
                Some(&ti) => known.push(ti),
                None => unknown += 1,
            }
        }
        test.push(TestUser {
            user: tu,
            items: known,
            unknown,
        });
    }
    if test.is_empty() {
        return Err(TrainError::Empty(format!(
            "no user has at least {min_positives} positives to hold out"
        )));
    }
    Ok(Split {
        train: Dataset {
            users,
            items,
            interactions: inter,
            report: ParseReport::default(),
        },
        test,
    })
}

/// Top `k` indices by score, best first; ties go to the lower index.
pub fn top_k(scores: &[f32], exclude: &[u32], k: usize) -> Vec<u32> {
    let mut excluded = vec![false; scores.len()];
    for &e in exclude {
        if let Some(x) = excluded.get_mut(e as usize) {
            *x = true;
        }
    }
    let mut cand: Vec<(f32, u32)> = scores
        .iter()
        .enumerate()
        .filter(|(i, _)| !excluded[*i])
        .map(|(i, &s)| (s, i as u32))
        .collect();
    let cmp = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let k = k.min(cand.len());
    if k == 0 {
        return Vec::new();
    }
    if k < cand.len() {
        cand.select_nth_unstable_by(k - 1, cmp);
        cand.truncate(k);
    }
    cand.sort_by(cmp);
    cand.into_iter().map(|m| m.1).collect()
}

/// Per-user training items (sorted), for exclusion.
pub fn seen_items(train: &Csr) -> Vec<Vec<u32>> {
    (0..train.n_rows).map(|u| train.row(u).0.to_vec()).collect()
}

pub fn popularity_recs(
    pop: &[f32],
    test: &[TestUser],
    seen: &[Vec<u32>],
    k: usize,
) -> Vec<Vec<u32>> {
    // Rank once; per user walk the global order skipping seen items.
    let order = top_k(pop, &[], pop.len());
    test.iter()
        .map(|t| {
            let s = &seen[t.user as usize];
            order
                .iter()
                .copied()
                .filter(|i| s.binary_search(i).is_err())
                .take(k)
                .collect()
        })
        .collect()
}

/// Item-kNN neighbour lists: cosine similarity on the binary training matrix,
/// `knn` strongest neighbours per item.
pub fn item_knn(train: &Csr, knn: usize) -> Vec<Vec<(u32, f32)>> {
    let iu = train.transpose();
    let n_items = train.n_cols;
    let norms: Vec<f32> = (0..n_items)
        .map(|i| (iu.row(i).0.len() as f32).sqrt())
        .collect();
    (0..n_items)
        .into_par_iter()
        .map_init(
            || (vec![0f32; n_items], Vec::<u32>::new()),
            |(acc, touched), i| {
                for &u in iu.row(i).0 {
                    for &j in train.row(u as usize).0 {
                        if acc[j as usize] == 0.0 {
                            touched.push(j);
                        }
                        acc[j as usize] += 1.0;
                    }
                }
                let mut nb: Vec<(u32, f32)> = touched
                    .iter()
                    .filter(|&&j| j as usize != i)
                    .map(|&j| (j, acc[j as usize] / (norms[i] * norms[j as usize])))
                    .collect();
                for &j in touched.iter() {
                    acc[j as usize] = 0.0;
                }
                touched.clear();
                nb.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                nb.truncate(knn);
                nb
            },
        )
        .collect()
}

pub fn knn_recs(
    nbrs: &[Vec<(u32, f32)>],
    test: &[TestUser],
    seen: &[Vec<u32>],
    k: usize,
) -> Vec<Vec<u32>> {
    let n = nbrs.len();
    test.par_iter()
        .map(|t| {
            let s = &seen[t.user as usize];
            let mut scores = vec![0f32; n];
            for &i in s {
                for &(j, w) in &nbrs[i as usize] {
                    scores[j as usize] += w;
                }
            }
            top_k(&scores, s, k)
        })
        .collect()
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Metrics {
    pub recall: f64,
    /// Precision@K and F1@K (means over users, `crate::eval::metrics`).
    pub precision: f64,
    pub f1: f64,
    pub ndcg: f64,
    pub map: f64,
    pub hit_rate: f64,
    pub coverage: f64,
    /// Recall@K for K = 1..=MAX_K.
    pub recall_curve: Vec<f64>,
    pub users: usize,
}

/// Recall@K = hits / |relevant|; NDCG with binary gains and the ideal DCG of
/// `min(K, |relevant|)` hits; MAP@K = mean of AP@K with denominator
/// `min(K, |relevant|)`; coverage = share of the catalogue in anyone's top K.
pub fn metrics(recs: &[Vec<u32>], test: &[TestUser], n_items: usize) -> Metrics {
    let mut m = Metrics {
        recall_curve: vec![0.0; MAX_K],
        users: test.len(),
        ..Default::default()
    };
    let mut covered = vec![false; n_items];
    for (r, t) in recs.iter().zip(test) {
        let rel = t.relevant();
        if rel == 0 {
            continue;
        }
        let mut hits_so_far = 0usize;
        let mut ap = 0.0f64;
        for (pos, &i) in r.iter().take(MAX_K).enumerate() {
            let hit = t.items.contains(&i);
            if hit {
                hits_so_far += 1;
                if pos < K {
                    ap += hits_so_far as f64 / (pos + 1) as f64;
                }
            }
            if pos < K {
                if let Some(c) = covered.get_mut(i as usize) {
                    *c = true;
                }
            }
            m.recall_curve[pos] += hits_so_far as f64 / rel as f64;
        }
        // Short lists keep their last value for the rest of the curve.
        let filled = r.len().min(MAX_K);
        let last = hits_so_far as f64 / rel as f64;
        for v in m.recall_curve.iter_mut().skip(filled) {
            *v += last;
        }
        let at = crate::eval::metrics::at_k(r, K, rel, |i| t.items.contains(&i));
        let hits_k = at.hits;
        m.recall += at.recall;
        m.precision += at.precision;
        m.f1 += at.f1;
        m.ndcg += at.ndcg;
        m.map += ap / rel.min(K) as f64;
        m.hit_rate += if hits_k > 0 { 1.0 } else { 0.0 };
    }
    let n = test.len().max(1) as f64;
    m.recall /= n;
    m.precision /= n;
    m.f1 /= n;
    m.ndcg /= n;
    m.map /= n;
    m.hit_rate /= n;
    m.recall_curve.iter_mut().for_each(|v| *v /= n);
    m.coverage = covered.iter().filter(|&&c| c).count() as f64 / n_items.max(1) as f64;
    m
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelResult {
    pub name: String,
    pub metrics: Metrics,
    pub train_seconds: Option<f64>,
    /// CPU seconds (all threads) spent training.
    pub train_cpu_seconds: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub note: String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLOURS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Recall@K curves as an inline SVG (no scripts, no external assets).
pub fn recall_svg(results: &[ModelResult]) -> String {
    let (w, h, l, r, t, b) = (740.0f64, 420.0f64, 60.0f64, 210.0f64, 20.0f64, 50.0f64);
    let ymax = results
        .iter()
        .flat_map(|m| m.metrics.recall_curve.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-6);
    let ymax = (ymax * 10.0).ceil() / 10.0;
    let px = |k: usize| l + (k as f64 - 1.0) / (MAX_K as f64 - 1.0) * (w - l - r);
    let py = |v: f64| t + (1.0 - v / ymax) * (h - t - b);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    );
    s.push_str(&format!(
        "<rect x=\"{l}\" y=\"{t}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n",
        w - l - r,
        h - t - b
    ));
    for g in 0..=5 {
        let v = ymax * g as f64 / 5.0;
        let y = py(v);
        s.push_str(&format!(
            "<line x1=\"{l}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.2}</text>\n",
            w - r,
            l - 6.0,
            y + 4.0
        ));
    }
    for k in [1usize, 10, 20, 30, 40, 50] {
        let x = px(k);
        s.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{k}</text>\n",
            h - b + 18.0
        ));
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">K</text><text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">Recall@K</text>\n",
        (l + w - r) / 2.0,
        h - 12.0,
        (t + h - b) / 2.0,
        (t + h - b) / 2.0
    ));
    for (n, m) in results.iter().enumerate() {
        let c = COLOURS[n % COLOURS.len()];
        let pts: Vec<String> = m
            .metrics
            .recall_curve
            .iter()
            .enumerate()
            .map(|(k, &v)| format!("{:.1},{:.1}", px(k + 1), py(v)))
            .collect();
        s.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.8\" points=\"{}\"/>\n",
            pts.join(" ")
        ));
        let ly = t + 10.0 + n as f64 * 18.0;
        s.push_str(&format!(
            "<line x1=\"{}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
            w - r + 10.0,
            w - r + 30.0,
            w - r + 36.0,
            ly + 4.0,
            esc(&m.name)
        ));
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "–".into())
}

pub fn report_html(title: &str, summary: &[(String, String)], results: &[ModelResult]) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}th:first-child,td:first-child{{text-align:left}}</style></head><body>\n<h1>{}</h1>\n<table>\n",
        esc(title),
        esc(title)
    ));
    for (k, v) in summary {
        s.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            esc(k),
            esc(v)
        ));
    }
    s.push_str("</table>\n<h2>Metrics (K = 10)</h2>\n<table>\n<tr><th>model</th><th>Recall@10</th><th>Precision@10</th><th>F1@10</th><th>NDCG@10</th><th>MAP@10</th><th>HitRate@10</th><th>coverage@10</th><th>train s</th><th>train CPU s</th><th>peak RSS MiB</th><th>note</th></tr>\n");
    for m in results {
        let x = &m.metrics;
        s.push_str(&format!(
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&m.name),
            x.recall,
            x.precision,
            x.f1,
            x.ndcg,
            x.map,
            x.hit_rate,
            x.coverage,
            fmt_opt(m.train_seconds, |v| format!("{v:.2}")),
            fmt_opt(m.train_cpu_seconds, |v| format!("{v:.2}")),
            fmt_opt(m.peak_rss_bytes, |v| format!("{:.0}", v as f64 / 1048576.0)),
            esc(&m.note)
        ));
    }
    s.push_str("</table>\n<h2>Recall@K, K = 1..50</h2>\n");
    s.push_str(&recall_svg(results));
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(rows: &[(u32, u32, i64)]) -> Dataset {
        let nu = rows.iter().map(|r| r.0).max().unwrap() as usize + 1;
        let ni = rows.iter().map(|r| r.1).max().unwrap() as usize + 1;
        Dataset {
            users: (0..nu).map(|u| format!("u{u}")).collect(),
            items: (0..ni).map(|i| format!("i{i}")).collect(),
            interactions: rows
                .iter()
                .enumerate()
                .map(|(k, &(user, item, time))| Interaction {
                    user,
                    item,
                    weight: 1.0,
                    time,
                    line: k as u32 + 2,
                })
                .collect(),
            report: Default::default(),
        }
    }

    #[test]
    fn split_holds_out_latest_fifth() {
        // u0 has 10 positives at decreasing times; u1 has 3 (kept whole).
        let mut rows: Vec<(u32, u32, i64)> = (0..10).map(|i| (0, i, 100 - i as i64)).collect();
        rows.extend([(1, 0, 5), (1, 1, 6), (1, 2, 7)]);
        let s = split(&ds(&rows), 5, 0.2).unwrap();
        assert_eq!(s.test.len(), 1);
        let held: Vec<&str> = s.test[0]
            .items
            .iter()
            .map(|&i| s.train.items[i as usize].as_str())
            .collect();
        // Latest two by time are items 0 and 1 (times 100, 99); item ids exist because u1 saw them.
        assert_eq!(held, vec!["i1", "i0"]);
        assert_eq!(s.test[0].unknown, 0);
        assert_eq!(s.train.interactions.len(), 11);
        let again = split(&ds(&rows), 5, 0.2).unwrap();
        assert_eq!(again.test[0].items, s.test[0].items);
    }

    #[test]
    fn metrics_by_hand() {
        let test = vec![TestUser {
            user: 0,
            items: vec![3, 7],
            unknown: 0,
        }];
        let m = metrics(&[vec![3, 1, 7]], &test, 10);
        // 2 hits in the top 10 of 2 relevant: P = 0.2, R = 1, F1 = 1/3.
        assert!((m.precision - 0.2).abs() < 1e-12);
        assert!((m.f1 - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 1.0).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg - dcg / idcg).abs() < 1e-12);
        assert!((m.map - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(m.hit_rate, 1.0);
        assert!((m.coverage - 0.3).abs() < 1e-12);
        assert!(
            (m.recall_curve[0] - 0.5).abs() < 1e-12 && (m.recall_curve[49] - 1.0).abs() < 1e-12
        );
        let unknown = vec![TestUser {
            user: 0,
            items: vec![3],
            unknown: 1,
        }];
        assert!((metrics(&[vec![3]], &unknown, 10).recall - 0.5).abs() < 1e-12);
    }

    #[test]
    fn top_k_excludes_and_breaks_ties() {
        assert_eq!(top_k(&[1.0, 3.0, 3.0, 2.0], &[1], 2), vec![2, 3]);
        assert_eq!(top_k(&[1.0, 2.0], &[0, 1], 5), Vec::<u32>::new());
        assert_eq!(top_k(&[1.0, 2.0, 0.5], &[1, 1, 9], 5), vec![0, 2]);
    }
}
