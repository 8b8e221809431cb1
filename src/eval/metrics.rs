//! Top-K metrics shared by every offline table (recommendations, sessions,
//! the ranker): one definition each, so "Precision@20" means the same thing
//! in every JSON and README table.
//!
//! For one query with `relevant` relevant items and `hits` of them in the
//! top K: Precision@K = hits / K, Recall@K = hits / relevant (= HR@K when a
//! single item is relevant, as in next-item prediction), F1@K = their
//! harmonic mean, NDCG@K with binary gains against the ideal DCG of
//! `min(K, relevant)` hits, MRR@K = 1 / rank of the first hit. Tables
//! average each over queries (F1 too: the mean of per-query F1, not the F1
//! of the means; with one relevant item per query the two coincide).

/// Hits / K (0 for K = 0).
pub fn precision(hits: usize, k: usize) -> f64 {
    if k == 0 {
        0.0
    } else {
        hits as f64 / k as f64
    }
}

/// Hits / relevant (0 when nothing is relevant).
pub fn recall(hits: usize, relevant: usize) -> f64 {
    if relevant == 0 {
        0.0
    } else {
        hits as f64 / relevant as f64
    }
}

/// Harmonic mean of precision and recall (0 when both are 0).
pub fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// Every metric of one query's top K.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AtK {
    pub hits: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub ndcg: f64,
    pub rr: f64,
}

/// Scores the first `k` of `recs` against `is_relevant` (`relevant` items
/// in all; duplicates in `recs` are the caller's business).
pub fn at_k(recs: &[u32], k: usize, relevant: usize, is_relevant: impl Fn(u32) -> bool) -> AtK {
    let (mut hits, mut dcg, mut rr) = (0usize, 0.0f64, 0.0f64);
    for (pos, &i) in recs.iter().take(k).enumerate() {
        if is_relevant(i) {
            hits += 1;
            dcg += 1.0 / ((pos + 2) as f64).log2();
            if rr == 0.0 {
                rr = 1.0 / (pos + 1) as f64;
            }
        }
    }
    let idcg: f64 = (0..relevant.min(k))
        .map(|p| 1.0 / ((p + 2) as f64).log2())
        .sum();
    let (p, r) = (precision(hits, k), recall(hits, relevant));
    AtK {
        hits,
        precision: p,
        recall: r,
        f1: f1(p, r),
        ndcg: if idcg > 0.0 { dcg / idcg } else { 0.0 },
        rr,
    }
}
