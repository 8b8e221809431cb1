//! Engine behaviour against brute force, through one `check` helper that runs
//! a query both ways.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "test code: small, known values"
)]

use super::*;
use crate::format::{write_bundle, Dtype};
use crate::synth::{self, Rng};

fn model(n: usize, dim: usize, dtype: Dtype) -> Model {
    Model::from_bytes(&write_bundle(&synth::catalogue(n, dim, 6, 1), dtype).unwrap()).unwrap()
}

/// Brute force over dequantized rows with the same filters.
fn brute(m: &Model, user: &[f32], opts: &RecommendOptions) -> Vec<Scored> {
    let v = m.view();
    let mut all: Vec<Scored> = (0..m.n_items())
        .filter(|&i| !opts.exclude.contains(&(i as u32)))
        .filter(|&i| {
            opts.categories
                .as_ref()
                .is_none_or(|cs| cs.contains(&v.category.unwrap()[i]))
        })
        .filter(|&i| {
            let p = v.price_f64.map_or(f64::NAN, |p| p[i]);
            (opts.price_min.is_none() && opts.price_max.is_none())
                || (p >= opts.price_min.unwrap_or(f64::MIN)
                    && p <= opts.price_max.unwrap_or(f64::MAX))
        })
        .filter(|&i| !opts.in_stock_only || v.flags.unwrap()[i] & 1 == 1)
        .map(|i| {
            let row = m.item_row_f32(i).unwrap();
            let dot: f64 = row
                .iter()
                .zip(user)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            Scored {
                index: i as u32,
                score: (dot + v.bias.map_or(0.0, |b| b[i] as f64)) as f32,
            }
        })
        .collect();
    all.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap()
            .then(a.index.cmp(&b.index))
    });
    all.truncate(opts.k);
    all
}

fn check(m: &Model, user: &[f32], opts: &RecommendOptions) {
    let got = m.recommend(user, opts).unwrap();
    let want = brute(m, user, opts);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g.score - w.score).abs() <= 1e-4 * (1.0 + w.score.abs()),
            "score {g:?} vs {w:?}"
        );
    }
    // Ids equal except where two scores tie within float noise.
    for (g, w) in got.iter().zip(&want) {
        if g.index != w.index {
            assert!((g.score - w.score).abs() < 1e-5, "{got:?}\n{want:?}");
        }
    }
}

#[test]
fn recommend_matches_brute_force_for_every_dtype_and_filter() {
    let mut rng = Rng::new(5);
    for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
        for (n, dim) in [(1, 8), (300, 20), (1000, 64)] {
            let m = model(n, dim, dtype);
            for q in 0..5 {
                let u = synth::user(dim, &mut rng);
                let opts = [
                    RecommendOptions {
                        k: 10,
                        ..Default::default()
                    },
                    RecommendOptions {
                        k: 3,
                        exclude: vec![0, 5, 9],
                        ..Default::default()
                    },
                    RecommendOptions {
                        k: 7,
                        categories: Some(vec![1, 3]),
                        ..Default::default()
                    },
                    RecommendOptions {
                        k: 5,
                        price_min: Some(5.0),
                        price_max: Some(20.0),
                        ..Default::default()
                    },
                    RecommendOptions {
                        k: 12,
                        in_stock_only: true,
                        ..Default::default()
                    },
                    RecommendOptions {
                        k: n + 5,
                        ..Default::default()
                    },
                ];
                check(&m, &u, &opts[q % opts.len()]);
                check(&m, &u, &opts[(q + 3) % opts.len()]);
            }
        }
    }
}

#[test]
fn int8_scores_track_f32_scores() {
    let (f, q) = (model(2000, 64, Dtype::F32), model(2000, 64, Dtype::I8));
    let mut rng = Rng::new(8);
    let mut same = 0;
    let queries = 200;
    for _ in 0..queries {
        let u = synth::user(64, &mut rng);
        let opts = RecommendOptions {
            k: 10,
            ..Default::default()
        };
        let a: Vec<u32> = f
            .recommend(&u, &opts)
            .unwrap()
            .iter()
            .map(|s| s.index)
            .collect();
        let mut b: Vec<u32> = q
            .recommend(&u, &opts)
            .unwrap()
            .iter()
            .map(|s| s.index)
            .collect();
        let mut a2 = a.clone();
        a2.sort();
        b.sort();
        same += usize::from(a2 == b);
    }
    // A behaviour floor, not the benchmark figure (that is in `make bench`).
    assert!(
        same * 100 >= queries * 90,
        "int8 top-10 equal on {same}/{queries}"
    );
}

#[test]
fn similar_is_cosine_and_excludes_the_item() {
    let m = model(500, 16, Dtype::F32);
    let r = m
        .similar(
            7,
            &RecommendOptions {
                k: 5,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r.len(), 5);
    assert!(r.iter().all(|s| s.index != 7 && s.score <= 1.0 + 1e-5));
    let q = m.item_row_f32(7).unwrap();
    let cos = |i: usize| {
        let y = m.item_row_f32(i).unwrap();
        let d: f32 = q.iter().zip(&y).map(|(a, b)| a * b).sum();
        d / (q.iter().map(|v| v * v).sum::<f32>().sqrt()
            * y.iter().map(|v| v * v).sum::<f32>().sqrt())
    };
    let best = (0..500)
        .filter(|&i| i != 7)
        .max_by(|&a, &b| cos(a).partial_cmp(&cos(b)).unwrap())
        .unwrap();
    assert_eq!(r[0].index as usize, best);
    assert!((r[0].score - cos(best)).abs() < 1e-5);
}

#[test]
fn popular_uses_popularity_and_filters() {
    let m = model(400, 8, Dtype::I8);
    let pop = m.view().popularity.unwrap();
    let r = m
        .popular(&RecommendOptions {
            k: 4,
            in_stock_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.len(), 4);
    assert!(r.windows(2).all(|w| w[0].score >= w[1].score));
    let flags = m.view().flags.unwrap();
    let mut want: Vec<usize> = (0..400).filter(|&i| flags[i] & 1 == 1).collect();
    want.sort_by(|&a, &b| pop[b].partial_cmp(&pop[a]).unwrap().then(a.cmp(&b)));
    assert_eq!(
        r.iter().map(|s| s.index as usize).collect::<Vec<_>>(),
        want[..4]
    );
}

/// `popular` answers from the order kept by its first call (the most popular
/// items) exactly as a full scan would: ties by lower index, every filter, k
/// past the kept prefix, filters that reach past it, and catalogues shorter
/// than it. Each case runs on a fresh model and again on a warm one.
#[test]
fn popular_from_its_kept_order_matches_a_full_scan() {
    for n in [300, 3000] {
        let mut p = synth::catalogue(n, 8, 6, 5);
        // Few distinct values: long runs of ties.
        p.popularity = Some((0..n).map(|i| ((i * 7919) % 97) as f32).collect());
        let bytes = write_bundle(&p, Dtype::F32).unwrap();
        let warm = Model::from_bytes(&bytes).unwrap();
        let pop = p.popularity.as_ref().unwrap();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| pop[b].total_cmp(&pop[a]).then(a.cmp(&b)));
        let cats = p.categories.as_ref().unwrap();
        let stock = p.in_stock.as_ref().unwrap();
        let first_600: Vec<u32> = order.iter().take(600).map(|&i| i as u32).collect();
        // The unfiltered case last: the warm model's order is first built
        // by a filtered call and must not keep its filter.
        let filters = [
            RecommendOptions {
                categories: Some(vec![cats[order[0]]]),
                ..Default::default()
            },
            RecommendOptions {
                in_stock_only: true,
                ..Default::default()
            },
            // Excludes more than the kept prefix: the answer lies past it.
            RecommendOptions {
                exclude: first_600,
                ..Default::default()
            },
            RecommendOptions::default(),
        ];
        for f in &filters {
            for k in [1, 10, 511, 512, 513, n] {
                let o = RecommendOptions { k, ..f.clone() };
                let want: Vec<(u32, f32)> = order
                    .iter()
                    .filter(|&&i| !o.exclude.contains(&(i as u32)))
                    .filter(|&&i| o.categories.as_ref().is_none_or(|c| c.contains(&cats[i])))
                    .filter(|&&i| !o.in_stock_only || stock[i])
                    .take(k)
                    .map(|&i| (i as u32, pop[i]))
                    .collect();
                let fresh = Model::from_bytes(&bytes).unwrap();
                for m in [&fresh, &warm, &fresh] {
                    let got: Vec<(u32, f32)> = m
                        .popular(&o)
                        .unwrap()
                        .iter()
                        .map(|s| (s.index, s.score))
                        .collect();
                    assert_eq!(got, want, "n {n} k {k} {o:?}");
                }
            }
        }
    }
}

/// Only columns of the bundle's own bytes keep an order (a caller's buffer
/// can change under the same address), each column keeps its own, and
/// columns past the kept slots are still answered exactly, by a scan.
#[test]
fn top_of_column_keeps_only_the_bundles_own_columns() {
    let m = model(300, 8, Dtype::F32);
    let top = |c: &[f32], k: usize| -> Vec<u32> {
        m.top_of_column(c, k, &|i| i % 5 != 0)
            .iter()
            .map(|s| s.index)
            .collect()
    };
    let brute = |c: &[f32], k: usize| -> Vec<u32> {
        let mut o: Vec<usize> = (0..c.len()).filter(|i| i % 5 != 0).collect();
        o.sort_by(|&a, &b| c[b].total_cmp(&c[a]).then(a.cmp(&b)));
        o.into_iter().take(k).map(|i| i as u32).collect()
    };
    let mut mine: Vec<f32> = (0..300).map(|i| i as f32).collect();
    assert_eq!(top(&mine, 3), [299, 298, 297]);
    mine.reverse();
    assert_eq!(top(&mine, 3), [1, 2, 3]);
    let v = m.view();
    let (pop, bias, price) = (v.popularity.unwrap(), v.bias.unwrap(), v.price.unwrap());
    // Five columns of the bundle for three slots, each asked twice.
    let columns = [pop, bias, price, &pop[..150], &bias[150..]];
    for _ in 0..2 {
        for c in columns {
            for k in [1, 7, 40] {
                assert_eq!(top(c, k), brute(c, k));
            }
        }
    }
}

#[test]
fn ids_resolve_and_unknown_ids_are_counted() {
    let m = model(50, 8, Dtype::F32);
    assert_eq!(m.item_index("item-42"), Some(42));
    assert_eq!(m.item_index("item-420"), None);
    assert_eq!(m.item_id(3), Some("item-3"));
    let (idx, unknown) = m.resolve_ids(&["item-1", "nope", "item-2", ""]);
    assert_eq!((idx, unknown), (vec![1, 2], 2));
}

#[test]
fn ids_resolve_the_same_before_and_after_the_hash_table_takes_over() {
    // Ids of every length around the hash's 8-byte words, sharing prefixes,
    // outside ASCII, and prefixes of each other.
    let n = 3000;
    let mut p = synth::catalogue(n, 4, 3, 9);
    p.ids = (0..n)
        .map(|i| match i % 5 {
            0 => format!("{i}"),
            1 => format!("sku-{i:07}"),
            2 => format!("商品-{i}-ü"),
            3 => format!("{}{i}", "x".repeat(i % 19)),
            _ => format!("item-{i}/variant-{}", i % 7),
        })
        .collect();
    let bytes = write_bundle(&p, Dtype::F32).unwrap();
    let m = Model::from_bytes(&bytes).unwrap();
    let mut unknown: Vec<String> = ["", "sku-", "商品", "item-", "x"]
        .map(String::from)
        .to_vec();
    for id in p.ids.iter().step_by(37) {
        let mut shorter = id.chars();
        shorter.next_back();
        unknown.extend([
            format!("{id} "),
            format!("{id}\0"),
            shorter.as_str().to_string(),
        ]);
    }
    unknown.retain(|u| !p.ids.contains(u));
    let check = |m: &Model| {
        for (i, id) in p.ids.iter().enumerate() {
            assert_eq!(m.item_index(id), Some(i), "{id:?}");
        }
        for u in &unknown {
            assert_eq!(m.item_index(u), None, "{u:?}");
        }
    };
    // The first pass runs on binary search, and its lookups build the table.
    assert!(!m.has_id_table());
    check(&m);
    assert!(m.has_id_table(), "the lookups paid for a table");
    check(&m);
    // Few lookups never build one.
    let fresh = Model::from_bytes(&bytes).unwrap();
    for id in p.ids.iter().take(100) {
        assert!(fresh.item_index(id).is_some());
    }
    assert!(!fresh.has_id_table());
}

#[test]
fn bad_user_vectors_are_typed_errors() {
    let m = model(50, 8, Dtype::F32);
    let opts = RecommendOptions {
        k: 3,
        ..Default::default()
    };
    assert_eq!(
        m.recommend(&[0.0; 7], &opts).unwrap_err().code(),
        "DIM_MISMATCH"
    );
    let mut u = vec![0.1; 8];
    u[2] = f32::NAN;
    assert_eq!(
        m.recommend(&u, &opts).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
    u[2] = f32::INFINITY;
    assert_eq!(
        m.recommend(&u, &opts).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
    let bad_range = RecommendOptions {
        k: 3,
        price_min: Some(9.0),
        price_max: Some(1.0),
        ..Default::default()
    };
    assert_eq!(
        m.recommend(&[0.1; 8], &bad_range).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
}

#[test]
fn filters_need_their_sections() {
    let mut p = synth::catalogue(20, 8, 2, 3);
    p.prices = None;
    p.categories = None;
    p.category_names.clear();
    let m = Model::from_bytes(&write_bundle(&p, Dtype::F32).unwrap()).unwrap();
    let e = m
        .recommend(
            &[0.1; 8],
            &RecommendOptions {
                k: 3,
                price_max: Some(5.0),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code(), "MISSING_CAPABILITY");
}

#[test]
fn score_indices_matches_recommend() {
    let m = model(300, 32, Dtype::I8);
    let u = synth::user(32, &mut Rng::new(2));
    let top = m
        .recommend(
            &u,
            &RecommendOptions {
                k: 5,
                ..Default::default()
            },
        )
        .unwrap();
    let idx: Vec<u32> = top.iter().map(|s| s.index).collect();
    let s = m.score_indices(&u, &idx).unwrap();
    for (a, b) in s.iter().zip(&top) {
        assert!((a - b.score).abs() < 1e-6);
    }
    assert_eq!(
        m.score_indices(&u, &[300]).unwrap_err().code(),
        "UNKNOWN_ITEM"
    );
}

fn refined_model(n: usize, dim: usize) -> (Model, crate::format::BundleParts) {
    let mut p = synth::catalogue(n, dim, 6, 1);
    p.int8_residual = true;
    let m = Model::from_bytes(&write_bundle(&p, Dtype::I8).unwrap()).unwrap();
    (m, p)
}

fn top_set(m: &Model, u: &[f32], k: usize) -> Vec<u32> {
    let opts = RecommendOptions {
        k,
        ..Default::default()
    };
    let mut v: Vec<u32> = m
        .recommend(u, &opts)
        .unwrap()
        .iter()
        .map(|s| s.index)
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn residual_rows_are_within_half_a_residual_step() {
    let (m, p) = refined_model(300, 20);
    assert!(m.refined());
    let scales = match m.view().factors {
        crate::format::FactorsView::I8 { scales, .. } => scales,
        _ => unreachable!("int8 bundle"),
    };
    assert_eq!(scales.len(), 300);
    for (i, &s) in scales.iter().enumerate() {
        let row = m.item_row_f32(i).unwrap();
        let step = s / crate::format::RESIDUAL_STEPS;
        for (j, (&got, &want)) in row.iter().zip(&p.factors[i * 20..]).enumerate() {
            let err = (got - want).abs();
            assert!(
                err <= 0.5 * step + 1e-6 * want.abs(),
                "row {i} col {j}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn residual_recommend_matches_brute_force_on_refined_rows() {
    let mut rng = Rng::new(11);
    for (n, dim) in [(1, 8), (300, 20), (1000, 64)] {
        let (m, _) = refined_model(n, dim);
        for k in [1, 10, n + 5] {
            let u = synth::user(dim, &mut rng);
            check(
                &m,
                &u,
                &RecommendOptions {
                    k,
                    ..Default::default()
                },
            );
        }
    }
}

#[test]
fn residual_top10_equals_f32_top10() {
    // Dense enough that 8-bit rows alone swap items at the k-th place often.
    let (n, dim) = (20_000, 64);
    let f = model(n, dim, Dtype::F32);
    let q = model(n, dim, Dtype::I8);
    let (r, _) = refined_model(n, dim);
    let mut rng = Rng::new(21);
    let (mut same_q, mut same_r, queries) = (0, 0, 200);
    for _ in 0..queries {
        let u: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
        let want = top_set(&f, &u, 10);
        same_q += usize::from(top_set(&q, &u, 10) == want);
        same_r += usize::from(top_set(&r, &u, 10) == want);
    }
    assert!(
        same_r * 100 >= queries * 99,
        "int8+residual equal on {same_r}/{queries} (int8 alone {same_q})"
    );
    assert!(same_r >= same_q, "{same_r} < {same_q}");
}

#[test]
fn residual_similar_matches_f32_similar() {
    let f = model(2000, 32, Dtype::F32);
    let (r, _) = refined_model(2000, 32);
    let opts = RecommendOptions {
        k: 5,
        ..Default::default()
    };
    for i in [0, 17, 999, 1999] {
        let a = f.similar(i, &opts).unwrap();
        let b = r.similar(i, &opts).unwrap();
        let ids = |v: &[Scored]| v.iter().map(|s| s.index).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b), "item {i}");
        for (x, y) in a.iter().zip(&b) {
            assert!((x.score - y.score).abs() < 1e-4, "{x:?} vs {y:?}");
        }
    }
}

/// Ties go to the lower index even when blocks are scored out of order (the
/// f32 scan pairs block i with block h + i): rows of block 1 and block 3 of
/// six are the same hot row, so every top score is tied and the top-k must be
/// block 1's first rows, although block 3 reaches the heap first.
#[test]
fn ties_go_to_the_lower_index_across_paired_blocks() {
    const BLOCK: usize = super::model::BLOCK;
    for (dim, dtype) in [
        (64, Dtype::F32),
        (32, Dtype::F32),
        (24, Dtype::F32),
        (64, Dtype::F16),
        (64, Dtype::I8),
    ] {
        let n = 6 * BLOCK;
        let mut parts = synth::catalogue(n, dim, 3, 5);
        let hot: Vec<f32> = (0..dim)
            .map(|c| if c % 3 == 0 { 0.5 } else { -0.25 })
            .collect();
        for (i, row) in parts.factors.chunks_exact_mut(dim).enumerate() {
            let b = i / BLOCK;
            if b == 1 || b == 3 {
                row.copy_from_slice(&hot);
            } else {
                row.iter_mut().for_each(|v| *v *= 0.01);
            }
        }
        parts.bias = None;
        let m = Model::from_bytes(&write_bundle(&parts, dtype).unwrap()).unwrap();
        let opts = RecommendOptions {
            k: 12,
            ..Default::default()
        };
        let got: Vec<u32> = m
            .recommend(&hot, &opts)
            .unwrap()
            .iter()
            .map(|s| s.index)
            .collect();
        let want: Vec<u32> = (BLOCK as u32..BLOCK as u32 + 12).collect();
        assert_eq!(got, want, "dim {dim} {dtype:?}");
        check(&m, &hot, &opts);
    }
}

// ---- the safety envelope (format::limits) -----------------------------------

use crate::format::limits::{MAX_FACTOR_ABS, MAX_SCORE_TERM, MAX_USER_ABS};

#[test]
fn user_vectors_outside_the_range_are_out_of_range_not_infinity() {
    for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
        let m = model(300, 20, dtype);
        for big in [f32::MAX, 3e38, 1e20, -2e12] {
            let mut u = vec![0.5f32; 20];
            u[3] = big;
            let e = m
                .recommend(
                    &u,
                    &RecommendOptions {
                        k: 10,
                        ..Default::default()
                    },
                )
                .unwrap_err();
            assert_eq!(e.code(), "OUT_OF_RANGE", "{dtype:?} {big}: {e}");
            assert_eq!(
                m.score_indices(&u, &[1, 2]).unwrap_err().code(),
                "OUT_OF_RANGE"
            );
        }
        // f32::MAX everywhere: refused, never Infinity or a silent [].
        let e = m
            .recommend(
                &[f32::MAX; 20],
                &RecommendOptions {
                    k: 5,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.code(), "OUT_OF_RANGE");
    }
}

/// A bundle at the corners of the envelope, scored with users at the corners
/// of the user range: every score is finite, for every dtype and query.
#[test]
fn scores_are_finite_at_the_corners_of_the_envelope() {
    let dim = crate::format::MAX_DIM;
    let n = 6;
    let mut p = synth::catalogue(n, dim, 2, 3);
    for (i, v) in p.factors.iter_mut().enumerate() {
        // Int8 rows must keep scale ≤ MAX_SCALE: 127/128 of the factor limit.
        *v = if (i / dim) % 2 == 0 {
            0.99 * MAX_FACTOR_ABS
        } else {
            -0.99 * MAX_FACTOR_ABS
        };
    }
    p.factors[dim + 7] = 1e-30; // a tiny value next to huge ones
    p.bias = Some(vec![MAX_SCORE_TERM; n]);
    p.popularity = Some(vec![MAX_SCORE_TERM; n]);
    p.gram = None;
    p.segments = None;
    p.neighbours = None;
    for (dtype, residual) in [(Dtype::F32, false), (Dtype::I8, false), (Dtype::I8, true)] {
        p.int8_residual = residual;
        let m = Model::from_bytes(&write_bundle(&p, dtype).unwrap()).unwrap();
        for u in [
            vec![MAX_USER_ABS; dim],
            vec![-MAX_USER_ABS; dim],
            (0..dim)
                .map(|i| if i % 2 == 0 { MAX_USER_ABS } else { 1e-30 })
                .collect(),
        ] {
            let r = m
                .recommend(
                    &u,
                    &RecommendOptions {
                        k: n,
                        ..Default::default()
                    },
                )
                .unwrap();
            assert_eq!(r.len(), n, "{dtype:?}: nothing silently dropped");
            assert!(r.iter().all(|s| s.score.is_finite()), "{dtype:?} {r:?}");
            let s = m.score_indices(&u, &[0, 1, 2]).unwrap();
            assert!(s.iter().all(|x| x.is_finite()), "{s:?}");
        }
        let sim = m
            .similar(
                0,
                &RecommendOptions {
                    k: n,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(sim.len(), n - 1);
        assert!(sim.iter().all(|s| s.score.is_finite()), "{sim:?}");
        let pop = m
            .popular(&RecommendOptions {
                k: n,
                ..Default::default()
            })
            .unwrap();
        assert!(pop.iter().all(|s| s.score.is_finite()));
    }
}

/// Whatever a mutated (and resealed) bundle holds, if it loads, scoring it
/// with users inside the range gives finite scores.
#[test]
fn any_bundle_that_loads_scores_finitely() {
    use crate::format::write::{encode_sections, reseal_all};
    let mut rng = Rng::new(77);
    let mut p = synth::catalogue(40, 16, 3, 9);
    p.gram = None;
    let base: Vec<Vec<u8>> = [Dtype::F32, Dtype::F16, Dtype::I8]
        .into_iter()
        .map(|d| crate::format::write::assemble(&encode_sections(&p, d).unwrap()))
        .collect();
    let mut loaded = 0;
    for round in 0..3000 {
        let mut c = base[round % 3].clone();
        for _ in 0..1 + rng.next_u64() % 3 {
            let i = 64 + (rng.next_u64() as usize) % (c.len() - 68);
            let v: [u8; 4] = match rng.next_u64() % 4 {
                0 => f32::MAX.to_le_bytes(),
                1 => 1e37f32.to_le_bytes(),
                2 => (-3e20f32).to_le_bytes(),
                _ => (rng.next_u64() as u32).to_le_bytes(),
            };
            c[i..i + 4].copy_from_slice(&v);
        }
        reseal_all(&mut c);
        let Ok(m) = Model::from_bytes(&c) else {
            continue;
        };
        loaded += 1;
        let u: Vec<f32> = (0..m.dim())
            .map(|i| {
                if i % 3 == 0 {
                    MAX_USER_ABS
                } else {
                    -MAX_USER_ABS
                }
            })
            .collect();
        let opts = RecommendOptions {
            k: 5,
            ..Default::default()
        };
        let r = m.recommend(&u, &opts).unwrap();
        assert!(
            r.iter().all(|s| s.score.is_finite()),
            "round {round}: {r:?}"
        );
        assert_eq!(r.len(), 5.min(m.n_items()), "round {round}: silently short");
        if m.n_items() > 1 {
            let s = m.similar(0, &opts).unwrap();
            assert!(
                s.iter().all(|s| s.score.is_finite()),
                "round {round}: {s:?}"
            );
        }
    }
    assert!(loaded > 100, "{loaded}");
}

#[test]
fn price_filters_compare_exact_prices() {
    let mut p = synth::catalogue(50, 8, 3, 4);
    let mut prices = vec![10.0f64; 50];
    prices[7] = 24.99;
    prices[8] = 25.0;
    p.prices = Some(prices);
    let m = Model::from_bytes(&write_bundle(&p, Dtype::F32).unwrap()).unwrap();
    let only = |lo: Option<f64>, hi: Option<f64>| {
        let r = m
            .recommend(
                &[0.1; 8],
                &RecommendOptions {
                    k: 50,
                    price_min: lo,
                    price_max: hi,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut v: Vec<u32> = r.iter().map(|s| s.index).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(only(Some(24.99), Some(24.99)), vec![7]);
    assert_eq!(only(Some(24.99), None), vec![7, 8]);
    assert_eq!(only(Some(24.995), Some(1e300)), vec![8]);
    assert_eq!(m.view().price_at(7), Some(24.99));
}

// ---- scans split into parts (two threads) -----------------------------------

/// Four queries' options over `n` items with sizes `k`: no filter; every
/// third item excluded and three categories; a price range and in stock
/// only; no filter again.
fn option_mix(n: usize, k: [usize; 4]) -> [RecommendOptions; 4] {
    [
        RecommendOptions {
            k: k[0],
            ..Default::default()
        },
        RecommendOptions {
            k: k[1],
            exclude: (0..n as u32).step_by(3).collect(),
            categories: Some(vec![1, 2, 4]),
            ..Default::default()
        },
        RecommendOptions {
            k: k[2],
            price_min: Some(5.0),
            price_max: Some(30.0),
            in_stock_only: true,
            ..Default::default()
        },
        RecommendOptions {
            k: k[3],
            ..Default::default()
        },
    ]
}

/// Splits at `cuts` (row boundaries, any alignment), scans each part, joins.
fn split(m: &Model, u: &[f32], opts: &RecommendOptions, cuts: &[usize]) -> Vec<Scored> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(m.n_items());
    let parts: Vec<Part> = bounds
        .windows(2)
        .map(|w| m.recommend_part(u, opts, w[0]..w[1]).unwrap())
        .collect();
    merge_parts(&parts, opts.k)
}

#[test]
fn split_scans_equal_the_one_thread_scan_bit_for_bit() {
    const BLOCK: usize = super::model::BLOCK;
    let mut rng = Rng::new(19);
    for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
        for (n, dim) in [(1, 8), (700, 24), (5 * BLOCK + 17, 64), (3000, 32)] {
            let m = model(n, dim, dtype);
            let half = n.div_ceil(2 * BLOCK) * BLOCK;
            let cuts: Vec<Vec<usize>> = vec![
                vec![half.min(n)],
                vec![n / 2],
                vec![0],
                vec![n],
                vec![n / 3, 2 * n / 3],
            ];
            for q in 0..6 {
                let u = synth::user(dim, &mut rng);
                let opts = option_mix(n, [10, 7, 5, n + 3])[q % 4].clone();
                let one = m.recommend(&u, &opts).unwrap();
                for c in &cuts {
                    assert_eq!(
                        split(&m, &u, &opts, c),
                        one,
                        "{dtype:?} {n}x{dim} cuts {c:?}"
                    );
                }
                // similar: the cosine epilogue through the same join
                let i = q * 7 % n;
                let one = m.similar(i, &opts).unwrap();
                let parts: Vec<Part> = [0..n / 2, n / 2..n]
                    .into_iter()
                    .map(|r| m.similar_part(i, &opts, r).unwrap())
                    .collect();
                assert_eq!(
                    merge_parts(&parts, opts.k),
                    one,
                    "similar {dtype:?} {n}x{dim}"
                );
            }
        }
    }
}

#[test]
fn split_int8_scans_join_the_pool_before_rescoring() {
    // With a residual the re-scored order differs from the scan's; a join
    // that re-scored each part's own pool would see more candidates than the
    // one-thread scan and could answer differently. It must not.
    let (m, _) = refined_model(4000, 32);
    let mut rng = Rng::new(23);
    for _ in 0..40 {
        let u = synth::user(32, &mut rng);
        for k in [1, 3, 10] {
            let opts = RecommendOptions {
                k,
                ..Default::default()
            };
            let one = m.recommend(&u, &opts).unwrap();
            assert_eq!(split(&m, &u, &opts, &[1000]), one);
            assert_eq!(split(&m, &u, &opts, &[2048]), one);
        }
    }
}

#[test]
fn ties_across_parts_go_to_the_lower_index() {
    const BLOCK: usize = super::model::BLOCK;
    for dtype in [Dtype::F32, Dtype::I8] {
        let n = 4 * BLOCK;
        let mut parts = synth::catalogue(n, 32, 3, 5);
        let hot: Vec<f32> = (0..32)
            .map(|c| if c % 2 == 0 { 0.5 } else { -0.25 })
            .collect();
        for (i, row) in parts.factors.chunks_exact_mut(32).enumerate() {
            if i % 97 == 5 {
                row.copy_from_slice(&hot);
            } else {
                row.iter_mut().for_each(|v| *v *= 0.01);
            }
        }
        parts.bias = None;
        let m = Model::from_bytes(&write_bundle(&parts, dtype).unwrap()).unwrap();
        let opts = RecommendOptions {
            k: 6,
            ..Default::default()
        };
        let want: Vec<u32> = (0..n as u32).filter(|i| i % 97 == 5).take(6).collect();
        let got: Vec<u32> = split(&m, &hot, &opts, &[2 * BLOCK])
            .iter()
            .map(|s| s.index)
            .collect();
        assert_eq!(got, want, "{dtype:?}");
    }
}

#[test]
fn parts_outside_the_catalogue_are_invalid_arguments() {
    let m = model(100, 8, Dtype::F32);
    let u = vec![0.1; 8];
    let opts = RecommendOptions {
        k: 3,
        ..Default::default()
    };
    #[allow(
        clippy::reversed_empty_ranges,
        reason = "a reversed part is the case under test"
    )]
    for r in [0..101, 50..40, 101..101] {
        let e = m.recommend_part(&u, &opts, r.clone()).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT", "{r:?}");
        assert_eq!(
            m.similar_part(0, &opts, r).unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
    }
    // An empty part is fine: it holds no candidates.
    assert!(m
        .recommend_part(&u, &opts, 40..40)
        .unwrap()
        .candidates
        .is_empty());
}

// ---- the int8 screen of f32 / f16 rows ---------------------------------------

/// Scans a model with and without its screen and asserts the same answers,
/// bit for bit: recommend and similar, every filter, one thread and parts.
fn check_screen(p: &crate::format::BundleParts, dtype: Dtype, queries: &[Vec<f32>]) {
    let bytes = write_bundle(p, dtype).unwrap();
    let plain = Model::from_bytes(&bytes).unwrap();
    let mut screened = Model::from_bytes(&bytes).unwrap();
    assert!(screened.set_screen(true), "{dtype:?}: no screen built");
    assert!(screened.screen_bytes() >= p.ids.len() * p.dim);
    let n = plain.n_items();
    let opts = option_mix(n, [10, 50, 5, 1]);
    for (q, u) in queries.iter().enumerate() {
        let o = &opts[q % opts.len()];
        let want = plain.recommend(u, o).unwrap();
        assert_eq!(
            screened.recommend(u, o).unwrap(),
            want,
            "{dtype:?} query {q}"
        );
        assert_eq!(split(&screened, u, o, &[n / 3, n / 2 + 5]), want);
        let i = q * 131 % n;
        let want = plain.similar(i, o).unwrap();
        assert_eq!(
            screened.similar(i, o).unwrap(),
            want,
            "similar {dtype:?} {i}"
        );
    }
    assert!(!screened.set_screen(false));
    assert_eq!(screened.screen_bytes(), 0);
}

#[test]
fn the_screen_gives_the_plain_scans_answers_bit_for_bit() {
    let mut rng = Rng::new(23);
    for (n, dim) in [(5000, 64), (4500, 10), (4100, 32), (4200, 100)] {
        let p = synth::catalogue(n, dim, 6, 3);
        let queries: Vec<Vec<f32>> = (0..12).map(|_| synth::user(dim, &mut rng)).collect();
        for dtype in [Dtype::F32, Dtype::F16] {
            check_screen(&p, dtype, &queries);
        }
    }
}

#[test]
fn the_screen_keeps_exact_ties_and_near_ties() {
    // Blocks of identical rows (exact ties: the lower index must win) and
    // rows a rounding error apart, where only the bound's allowance for f32
    // rounding keeps the screen from dropping a row that belongs in the top-k.
    let (n, dim) = (6000, 64);
    let mut p = synth::catalogue(n, dim, 6, 5);
    let mut rng = Rng::new(29);
    for i in 0..n {
        let src = (i % 40) * dim;
        for d in 0..dim {
            let v = p.factors[src + d];
            p.factors[i * dim + d] = if i % 3 == 0 {
                v
            } else {
                v * (1.0 + 1e-6 * (rng.uniform() - 0.5))
            };
        }
    }
    // Equal biases too, so ties survive the epilogue.
    p.bias = Some(vec![0.25; n]);
    let mut queries: Vec<Vec<f32>> = (0..8).map(|_| synth::user(dim, &mut rng)).collect();
    // A row's own direction: its copies tie at the top.
    queries.push(p.factors[..dim].to_vec());
    queries.push(vec![0.0; dim]);
    for dtype in [Dtype::F32, Dtype::F16] {
        check_screen(&p, dtype, &queries);
    }
}

#[test]
fn small_and_int8_catalogues_get_no_screen() {
    let mut m = model(1000, 16, Dtype::F32);
    assert!(!m.set_screen(true));
    let mut m = model(5000, 16, Dtype::I8);
    assert!(!m.set_screen(true));
    assert_eq!(m.screen_bytes(), 0);
}
