//! Sharded bundles: what the sharder writes loads, covers every item exactly
//! once with its bytes unchanged, scores like the whole bundle, and every
//! way a shard can disagree with its head is a typed error.

#![allow(
    clippy::cast_possible_truncation,
    reason = "test code: small, known values"
)]

use super::*;
use crate::engine::{Model, RecommendOptions};
use crate::format::write::reseal_all;
use crate::format::{parse, write_bundle, BundleParts, Gram};

fn catalogue(n: usize, dim: usize, residual: bool) -> BundleParts {
    let mut p = crate::synth::catalogue(n, dim, 5, 7);
    p.int8_residual = residual;
    p.gram = Some(Gram {
        yty: vec![0.0; dim * dim],
        lambda: 0.1,
        alpha: 2.0,
    });
    p.meta = vec![("model_id".into(), "m-test".into())];
    p
}

type Files = Vec<(String, Vec<u8>)>;

fn shard(bytes: &[u8], by: ShardBy, max: u64, head: usize) -> Result<(ShardSummary, Files)> {
    let layout = parse(bytes).expect("source parses");
    let src = BundleSource::new(bytes, &layout)?;
    let mut files = Vec::new();
    let s = write_sharded(
        &src,
        &ShardOptions {
            by,
            max_shard_bytes: max,
            head_items: head,
            model_id: None,
        },
        &mut |name, b| {
            files.push((name.to_string(), b.to_vec()));
            Ok(())
        },
    )?;
    Ok((s, files))
}

fn file<'a>(files: &'a Files, name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n == name).expect(name).1
}

fn head_table(files: &Files) -> ShardTable {
    let h = file(files, "head.vtr");
    let l = parse(h).unwrap();
    table_of(h, &l).unwrap().expect("head has a SHARD_TABLE")
}

/// Every item lands in exactly one shard with the same factor row, scale,
/// residual, category, price, title; each shard passes its head's check and
/// stays under the maximum.
#[test]
fn shards_partition_the_catalogue_byte_for_byte() {
    for (dtype, residual) in [(Dtype::F32, false), (Dtype::I8, true), (Dtype::F16, false)] {
        let src = write_bundle(&catalogue(700, 24, residual), dtype).unwrap();
        let whole = Model::from_bytes(&src).unwrap();
        for by in [ShardBy::Range, ShardBy::Category] {
            let max = 20_000;
            let (sum, files) = shard(&src, by, max, 50).unwrap();
            let t = head_table(&files);
            assert_eq!(t, sum.table);
            assert_eq!(t.model_id, "m-test");
            assert_eq!(t.total_items, 700);
            assert!(
                t.shards.len() >= 5,
                "{by:?} {dtype:?}: {} shards",
                t.shards.len()
            );
            let mut seen = vec![false; 700];
            for (k, e) in t.shards.iter().enumerate() {
                let b = file(&files, &e.file);
                assert!(b.len() as u64 <= max, "shard {k} is {} bytes", b.len());
                let l = parse(b).unwrap();
                check_shard(&t, k as u32, b, &l).unwrap();
                let m = Model::from_bytes(b).unwrap();
                let ids: Vec<&str> = (0..m.n_items()).map(|i| m.item_id(i).unwrap()).collect();
                let mut sorted = ids.clone();
                sorted.sort_unstable();
                assert_eq!(sorted.first().copied(), Some(e.first_id.as_str()));
                assert_eq!(sorted.last().copied(), Some(e.last_id.as_str()));
                for (i, id) in ids.iter().enumerate() {
                    let g = whole.item_index(id).expect("id of the catalogue");
                    assert!(!seen[g], "{id} in two shards");
                    seen[g] = true;
                    assert_eq!(m.item_row_f32(i), whole.item_row_f32(g), "{id}");
                    let (a, w) = (m.view(), whole.view());
                    assert_eq!(a.category.unwrap()[i], w.category.unwrap()[g]);
                    if by == ShardBy::Category {
                        assert_eq!(a.category.unwrap()[i], e.category, "{id} in shard {k}");
                    }
                    assert_eq!(a.price_at(i), w.price_at(g));
                    assert_eq!(a.titles.unwrap().get(i), w.titles.unwrap().get(g));
                    assert_eq!(a.flags.unwrap()[i], w.flags.unwrap()[g]);
                    assert_eq!(a.bias.unwrap()[i], w.bias.unwrap()[g]);
                    assert_eq!(m.refined(), whole.refined());
                }
            }
            assert!(seen.iter().all(|&s| s), "{by:?}: an item is in no shard");
            // The head: a valid bundle of the most popular items, with the Gram matrix.
            let head = Model::from_bytes(file(&files, "head.vtr")).unwrap();
            assert!(head.gram().is_some());
            assert!(head.n_items() >= 50 && head.n_items() <= 50 + 5 * 5);
            let top = whole
                .popular(&RecommendOptions {
                    k: 50,
                    ..Default::default()
                })
                .unwrap();
            for s in top {
                let id = whole.item_id(s.index as usize).unwrap();
                let h = head.item_index(id).expect("a top-50 item is in the head");
                assert_eq!(head.item_row_f32(h), whole.item_row_f32(s.index as usize));
            }
        }
    }
}

/// Top-k over all shards, merged by score, is the whole bundle's top-k, with
/// and without filters (the claim `recommend({shards: 'all'})` rests on).
#[test]
fn merged_shard_top_k_equals_the_whole_bundle() {
    for dtype in [Dtype::F32, Dtype::I8] {
        let src = write_bundle(&catalogue(900, 32, dtype == Dtype::I8), dtype).unwrap();
        let whole = Model::from_bytes(&src).unwrap();
        let (sum, files) = shard(&src, ShardBy::Range, 30_000, 20).unwrap();
        let shards: Vec<Model> = sum
            .table
            .shards
            .iter()
            .map(|e| Model::from_bytes(file(&files, &e.file)).unwrap())
            .collect();
        let mut rng = crate::rng::Rng::new(3);
        for q in 0..40 {
            let user: Vec<f32> = (0..32).map(|_| rng.normal()).collect();
            let opts = |m: &Model| RecommendOptions {
                k: 10,
                categories: (q % 2 == 1).then(|| vec![m.category_index("shoes").unwrap_or(0)]),
                in_stock_only: q % 3 == 0,
                price_max: (q % 4 == 0).then_some(30.0),
                ..Default::default()
            };
            let want: Vec<(String, f32)> = whole
                .recommend(&user, &opts(&whole))
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        whole.item_id(s.index as usize).unwrap().to_string(),
                        s.score,
                    )
                })
                .collect();
            let mut got: Vec<(String, f32)> = shards
                .iter()
                .flat_map(|m| {
                    m.recommend(&user, &opts(m))
                        .unwrap()
                        .into_iter()
                        .map(|s| (m.item_id(s.index as usize).unwrap().to_string(), s.score))
                        .collect::<Vec<_>>()
                })
                .collect();
            got.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            got.truncate(10);
            assert_eq!(got, want, "{dtype:?} query {q}");
        }
    }
}

#[test]
fn no_shard_passes_the_maximum_and_items_too_large_are_refused() {
    let src = write_bundle(&catalogue(300, 64, false), Dtype::F32).unwrap();
    for max in [8_000u64, 13_000, 40_000, 1 << 30] {
        let (sum, files) = shard(&src, ShardBy::Range, max, 10).unwrap();
        for e in &sum.table.shards {
            assert!(file(&files, &e.file).len() as u64 <= max);
        }
        if max == 1 << 30 {
            assert_eq!(sum.table.shards.len(), 1);
        }
    }
    let e = shard(&src, ShardBy::Range, 2_200, 10)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT", "{e}");
    assert!(e.to_string().contains("needs"), "{e}");
    let e = shard(&src, ShardBy::Range, 1_000, 10)
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("leaves no room"), "{e}");
    // A head or a shard is not sharded again.
    let (_, files) = shard(&src, ShardBy::Range, 40_000, 10).unwrap();
    let e = shard(file(&files, "head.vtr"), ShardBy::Range, 40_000, 10)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT", "{e}");
}

/// A bundle without a model_id gets a stable one from its bytes; the
/// synthetic source writes valid shards too.
#[test]
fn model_ids_and_the_synthetic_source() {
    let mut p = catalogue(100, 16, false);
    p.meta.clear();
    let src = write_bundle(&p, Dtype::F32).unwrap();
    let (a, _) = shard(&src, ShardBy::Range, 1 << 20, 10).unwrap();
    let (b, _) = shard(&src, ShardBy::Category, 1 << 20, 10).unwrap();
    assert!(a.model_id.starts_with("vtr-"), "{}", a.model_id);
    assert_eq!(a.model_id, b.model_id);

    let synth = SynthSource {
        n: 5000,
        dim: 64,
        dtype: Dtype::I8,
        categories: 6,
        seed: 1,
    };
    let mut files = Vec::new();
    let s = write_sharded(
        &synth,
        &ShardOptions {
            by: ShardBy::Category,
            max_shard_bytes: 100_000,
            head_items: 100,
            model_id: Some("synthetic-1".into()),
        },
        &mut |n, b| {
            files.push((n.to_string(), b.to_vec()));
            Ok(())
        },
    )
    .unwrap();
    let mut n = 0;
    for (k, e) in s.table.shards.iter().enumerate() {
        let b = file(&files, &e.file);
        check_shard(&s.table, k as u32, b, &parse(b).unwrap()).unwrap();
        n += Model::from_bytes(b).unwrap().n_items();
    }
    assert_eq!(n, 5000);
    assert_eq!(s.model_id, "synthetic-1");
    assert!(s.table.shards.iter().all(|e| e.category < 6));
}

// ---- one test per way a shard can disagree with its head ----------------------

fn two_exports() -> (Files, Files) {
    let src = write_bundle(&catalogue(400, 16, false), Dtype::F32).unwrap();
    let (_, a) = shard(&src, ShardBy::Range, 12_000, 10).unwrap();
    let mut p = catalogue(400, 16, false);
    p.meta = vec![("model_id".into(), "m-other".into())];
    let other = write_bundle(&p, Dtype::F32).unwrap();
    let (_, b) = shard(&other, ShardBy::Range, 12_000, 10).unwrap();
    (a, b)
}

fn mismatch(t: &ShardTable, k: u32, b: &[u8], want: &str) {
    let e = check_shard(t, k, b, &parse(b).unwrap()).unwrap_err();
    assert_eq!(e.code(), "SHARD_MISMATCH", "{e}");
    assert!(e.to_string().contains(want), "{e}");
}

#[test]
fn shard_of_another_model_is_a_shard_mismatch() {
    let (a, b) = two_exports();
    let t = head_table(&a);
    let other = head_table(&b);
    mismatch(&t, 0, file(&b, &other.shards[0].file), "m-other");
}

#[test]
fn shard_in_the_wrong_place_is_a_shard_mismatch() {
    let (a, _) = two_exports();
    let t = head_table(&a);
    mismatch(&t, 0, file(&a, &t.shards[1].file), "expected 0");
    mismatch(&t, 99, file(&a, &t.shards[1].file), "no shard 99");
}

#[test]
fn another_export_of_the_same_model_is_a_shard_mismatch() {
    let (a, _) = two_exports();
    let t = head_table(&a);
    // Same model id, same place, but a re-export changed a byte: the table
    // checksum (or the length) tells.
    let mut b = file(&a, &t.shards[0].file).to_vec();
    let l = parse(&b).unwrap();
    let (_, off) = l.section_at(&b, Kind::Flags).unwrap();
    b[off as usize] ^= 1;
    reseal_all(&mut b);
    mismatch(&t, 0, &b, "table checksum");
    let mut t2 = t.clone();
    t2.shards[0].bytes += 64;
    mismatch(&t2, 0, file(&a, &t.shards[0].file), "bytes, the head says");
}

#[test]
fn a_plain_bundle_is_not_a_shard() {
    let (a, _) = two_exports();
    let t = head_table(&a);
    let plain = write_bundle(&catalogue(10, 16, false), Dtype::F32).unwrap();
    mismatch(&t, 0, &plain, "no SHARD_INFO");
}

// ---- malformed sections ---------------------------------------------------------

/// Rewrites the section `kind` of `bundle` with `edit` and reseals every checksum.
fn edited(bundle: &[u8], kind: Kind, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let l = parse(bundle).unwrap();
    let mut sections: Vec<(u32, u32, Vec<u8>)> = l
        .sections
        .iter()
        .map(|s| {
            let b = bundle[s.offset as usize..(s.offset + s.length) as usize].to_vec();
            (s.kind, s.flags, b)
        })
        .collect();
    for s in &mut sections {
        if s.0 == kind as u32 {
            edit(&mut s.2);
        }
    }
    let raw: Vec<(u32, u32, &[u8])> = sections
        .iter()
        .map(|(k, f, b)| (*k, *f, b.as_slice()))
        .collect();
    super::super::write::assemble_raw(&raw)
}

fn refused(b: &[u8], code: &str, section: &str) {
    let e = parse(b).unwrap_err();
    assert_eq!(e.code(), code, "{e}");
    assert_eq!(e.location().map(|a| a.section), Some(section), "{e}");
}

#[test]
fn malformed_shard_tables_are_refused_at_load() {
    let (a, _) = two_exports();
    let head = file(&a, "head.vtr");
    let st = "SHARD_TABLE";
    refused(
        &edited(head, Kind::ShardTable, |b| {
            b[4..8].copy_from_slice(&0u32.to_le_bytes())
        }),
        "BAD_SECTION",
        st,
    );
    refused(
        &edited(head, Kind::ShardTable, |b| b[0] = 7),
        "BAD_SECTION",
        st,
    );
    refused(
        &edited(head, Kind::ShardTable, |b| b[20] = 1),
        "RESERVED_NOT_ZERO",
        st,
    );
    refused(
        &edited(head, Kind::ShardTable, |b| b[32 + 24] = 1),
        "RESERVED_NOT_ZERO",
        st,
    );
    // Rows that do not follow on, or a total that disagrees.
    refused(
        &edited(head, Kind::ShardTable, |b| b[32 + 32] ^= 1),
        "BAD_SECTION",
        st,
    );
    refused(
        &edited(head, Kind::ShardTable, |b| b[8] ^= 1),
        "BAD_SECTION",
        st,
    );
    // A category the head does not name.
    refused(
        &edited(head, Kind::ShardTable, |b| {
            b[32 + 8..32 + 12].copy_from_slice(&99u32.to_le_bytes())
        }),
        "BAD_SECTION",
        st,
    );
    // Truncated entries, a file name that climbs out of the directory.
    refused(
        &edited(head, Kind::ShardTable, |b| b.truncate(40)),
        "BAD_SECTION",
        st,
    );
    let t = head_table(&a);
    let mut t2 = t.clone();
    t2.shards[0].file = "../secret.vtr".into();
    let bytes = encode_table(&t2).unwrap();
    refused(
        &edited(head, Kind::ShardTable, |b| *b = bytes.clone()),
        "BAD_SECTION",
        st,
    );
    let mut t3 = t.clone();
    t3.model_id.clear();
    let bytes = encode_table(&t3).unwrap();
    refused(
        &edited(head, Kind::ShardTable, |b| *b = bytes.clone()),
        "BAD_SECTION",
        st,
    );
}

#[test]
fn malformed_shard_infos_are_refused_at_load() {
    let (a, _) = two_exports();
    let t = head_table(&a);
    let s = file(&a, &t.shards[0].file);
    let si = "SHARD_INFO";
    // index ≥ count
    refused(
        &edited(s, Kind::ShardInfo, |b| {
            b[0..4].copy_from_slice(&999u32.to_le_bytes())
        }),
        "BAD_SECTION",
        si,
    );
    // rows that disagree with the item count
    refused(
        &edited(s, Kind::ShardInfo, |b| b[12] ^= 1),
        "BAD_SECTION",
        si,
    );
    refused(
        &edited(s, Kind::ShardInfo, |b| b[20] = 9),
        "BAD_SECTION",
        si,
    );
    refused(
        &edited(s, Kind::ShardInfo, |b| b[25] = 1),
        "RESERVED_NOT_ZERO",
        si,
    );
    refused(
        &edited(s, Kind::ShardInfo, |b| b.truncate(20)),
        "BAD_SECTION",
        si,
    );
    refused(
        &edited(s, Kind::ShardInfo, |b| b.truncate(32)),
        "BAD_SECTION",
        si,
    );
}

/// Mutated, resealed shard sections never panic the decoders.
#[test]
fn shard_sections_never_panic() {
    let (a, _) = two_exports();
    let t = head_table(&a);
    let mut rng = crate::rng::Rng::new(11);
    for (kind, base) in [
        (Kind::ShardTable, file(&a, "head.vtr")),
        (Kind::ShardInfo, file(&a, &t.shards[0].file)),
    ] {
        let l = parse(base).unwrap();
        let (sec, off) = l.section_at(base, kind).unwrap();
        for _ in 0..2000 {
            let mut b = sec.to_vec();
            for _ in 0..1 + rng.next_u64() % 4 {
                let i = (rng.next_u64() % b.len() as u64) as usize;
                b[i] = rng.next_u64() as u8;
            }
            if rng.next_u64() % 5 == 0 {
                b.truncate((rng.next_u64() % b.len() as u64) as usize);
            }
            let _ = decode_table(&b, off, 5);
            let _ = decode_info(&b, off, 40);
        }
    }
}
