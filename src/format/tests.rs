//! One test per error variant, all through one `check` helper: build a small
//! valid bundle, break it one way, and assert the typed error (code + section).

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "test code: small, known values"
)]

use super::write::{assemble, assemble_raw, encode_sections, reseal, reseal_all};
use super::*;
use crate::synth;

fn parts(n: usize, dim: usize) -> BundleParts {
    let mut p = synth::catalogue(n, dim, 4, 42);
    // Two neighbours per item (the next two), valid CSR.
    let mut offsets = vec![0u32];
    let mut items = vec![];
    let mut weights = vec![];
    for i in 0..n {
        for j in 1..=2 {
            items.push(((i + j) % n) as u32);
            weights.push(1.0 / j as f32);
        }
        offsets.push(items.len() as u32);
    }
    p.neighbours = Some(Neighbours {
        offsets,
        items,
        weights,
    });
    p.segments = Some(Segments {
        dim,
        centroids: p.factors[..3 * dim].to_vec(),
        names: vec!["a".into(), "b".into(), "c".into()],
    });
    p.intent = Some(b"opaque".to_vec());
    p
}

fn valid(dtype: Dtype) -> Vec<u8> {
    write_bundle(&parts(20, 20), dtype).expect("valid bundle")
}

/// Parses `bytes` and asserts the error code (and section name when given).
fn check(bytes: &[u8], code: &str, section: Option<&str>) {
    match parse(bytes) {
        Ok(_) => panic!("expected {code}, parsed fine"),
        Err(e) => {
            assert_eq!(e.code(), code, "got {e}");
            if let Some(s) = section {
                assert_eq!(e.location().map(|a| a.section), Some(s), "{e}");
            }
            assert!(!e.to_string().is_empty());
        }
    }
}

fn table_entry(bytes: &[u8], kind: Kind) -> usize {
    let count = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| HEADER_LEN + i * ENTRY_LEN)
        .find(|&e| u32::from_le_bytes(bytes[e..e + 4].try_into().unwrap()) == kind as u32)
        .expect("section present")
}

fn section_offset(bytes: &[u8], kind: Kind) -> usize {
    let e = table_entry(bytes, kind);
    u64::from_le_bytes(bytes[e + 8..e + 16].try_into().unwrap()) as usize
}

/// Re-encodes with one section replaced, keeping every checksum valid, so the
/// error under test is the content error, not a checksum error.
fn with_section(dtype: Dtype, kind: Kind, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut s = encode_sections(&parts(20, 20), dtype).unwrap();
    let entry = s.iter_mut().find(|(k, _, _)| *k == kind).expect("section");
    f(&mut entry.2);
    assemble(&s)
}

#[test]
fn round_trip_every_dtype() {
    for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
        let p = parts(20, 20);
        let b = write_bundle(&p, dtype).unwrap();
        let buf = AlignedBuf::from_slice(&b).unwrap();
        let layout = parse(buf.as_slice()).unwrap();
        assert_eq!((layout.n_items, layout.dim, layout.stride), (20, 20, 32));
        assert_eq!(layout.dtype, dtype);
        let v = layout.view(buf.as_slice());
        assert_eq!(v.ids.get(7), Some("item-7"));
        assert_eq!(
            v.titles.unwrap().get(3),
            p.titles.as_ref().map(|t| t[3].as_str())
        );
        assert_eq!(v.bias.unwrap(), p.bias.as_deref().unwrap());
        assert_eq!(v.gram.unwrap().yty.len(), 400);
        assert_eq!(v.neighbours.unwrap().of(5).count(), 2);
        assert_eq!(v.segments.unwrap().k, 3);
        assert_eq!(v.intent, Some(&b"opaque"[..]));
        for s in &layout.sections {
            assert_eq!(s.offset % ALIGN as u64, 0, "{} aligned", s.name);
        }
    }
}

#[test]
fn writer_output_is_deterministic() {
    assert_eq!(valid(Dtype::I8), valid(Dtype::I8));
}

#[test]
fn truncated_anywhere() {
    let b = valid(Dtype::F32);
    for cut in [0, 7, 63, 64, 100, b.len() / 2, b.len() - 1] {
        let r = parse(&b[..cut]);
        let code = r.err().map(|e| e.code()).unwrap_or("OK");
        assert!(
            matches!(code, "TRUNCATED" | "BAD_MAGIC"),
            "cut at {cut}: {code}"
        );
    }
}

#[test]
fn wrong_magic() {
    let mut b = valid(Dtype::F32);
    b[0] = b'X';
    check(&b, "BAD_MAGIC", None);
}

#[test]
fn future_major_version() {
    let mut b = valid(Dtype::F32);
    b[8..10].copy_from_slice(&2u16.to_le_bytes());
    check(&b, "UNSUPPORTED_VERSION", None);
}

#[test]
fn newer_minor_version_is_accepted() {
    let mut b = valid(Dtype::F32);
    b[10..12].copy_from_slice(&7u16.to_le_bytes());
    reseal(&mut b);
    assert_eq!(parse(&b).unwrap().version, (1, 7));
}

#[test]
fn flipped_byte_in_any_section_is_a_checksum_error() {
    let b = valid(Dtype::I8);
    let layout = parse(&b).unwrap();
    for s in &layout.sections {
        let mut c = b.clone();
        c[(s.offset + s.length / 2) as usize] ^= 0x40;
        check(&c, "CHECKSUM_MISMATCH", Some(s.name));
    }
    let mut c = b.clone();
    c[HEADER_LEN + 3] ^= 1; // table
    check(&c, "CHECKSUM_MISMATCH", Some("TABLE"));
}

#[test]
fn section_out_of_bounds() {
    let mut b = valid(Dtype::F32);
    let e = table_entry(&b, Kind::Intent);
    b[e + 16..e + 24].copy_from_slice(&1_000_000u64.to_le_bytes());
    reseal(&mut b);
    check(&b, "SECTION_OUT_OF_BOUNDS", Some("INTENT"));
}

#[test]
fn misaligned_section() {
    let mut b = valid(Dtype::F32);
    let e = table_entry(&b, Kind::Factors);
    let off = u64::from_le_bytes(b[e + 8..e + 16].try_into().unwrap());
    b[e + 8..e + 16].copy_from_slice(&(off + 4).to_le_bytes());
    reseal(&mut b);
    check(&b, "MISALIGNED_SECTION", Some("FACTORS"));
}

#[test]
fn overlapping_sections() {
    let mut b = valid(Dtype::F32);
    let e = table_entry(&b, Kind::Factors);
    let off = u64::from_le_bytes(b[e + 8..e + 16].try_into().unwrap());
    b[e + 8..e + 16].copy_from_slice(&(off - 64).to_le_bytes());
    reseal(&mut b);
    check(&b, "OVERLAPPING_SECTIONS", Some("FACTORS"));
}

#[test]
fn hole_between_sections() {
    // A well-framed file with one extra 64-byte hole before the last section.
    let b = valid(Dtype::F32);
    let last = section_offset(&b, Kind::Intent);
    let mut c = b[..last].to_vec();
    c.extend_from_slice(&[0u8; 64]);
    c.extend_from_slice(&b[last..]);
    let e = table_entry(&c, Kind::Intent);
    c[e + 8..e + 16].copy_from_slice(&((last + 64) as u64).to_le_bytes());
    let len = c.len() as u64;
    c[24..32].copy_from_slice(&len.to_le_bytes());
    reseal(&mut c);
    check(&c, "SECTION_GAP", Some("INTENT"));
}

#[test]
fn trailing_bytes_after_last_section() {
    let mut b = valid(Dtype::F32);
    b.extend_from_slice(&[0u8; 8]);
    check(&b, "SECTION_GAP", Some("END"));
    let len = b.len() as u64;
    b[24..32].copy_from_slice(&len.to_le_bytes());
    reseal(&mut b);
    check(&b, "SECTION_GAP", Some("END"));
}

#[test]
fn n_times_d_overflow() {
    let b = with_section(Dtype::F32, Kind::Model, |m| {
        m[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        m[4..8].copy_from_slice(&4096u32.to_le_bytes());
        m[8..12].copy_from_slice(&4096u32.to_le_bytes());
    });
    // On 64-bit hosts the product fits and the id count disagrees instead;
    // either way it is a typed refusal, never an allocation of 2^44 bytes.
    let code = parse(&b).unwrap_err().code();
    assert!(matches!(code, "SIZE_OVERFLOW" | "BAD_SECTION"), "{code}");
}

#[test]
fn nan_in_factors() {
    let b = with_section(Dtype::F32, Kind::Factors, |f| {
        f[4 * 5..4 * 6].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    check(&b, "NON_FINITE", Some("FACTORS"));
    let b = with_section(Dtype::F16, Kind::Factors, |f| {
        f[2..4].copy_from_slice(&0x7c00u16.to_le_bytes());
    });
    check(&b, "NON_FINITE", Some("FACTORS"));
    let b = with_section(Dtype::I8, Kind::Scales, |f| {
        f[0..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    });
    check(&b, "NON_FINITE", Some("SCALES"));
}

#[test]
fn duplicate_ids() {
    let mut p = parts(20, 20);
    p.ids[3] = "item-9".into();
    assert_eq!(
        write_bundle(&p, Dtype::F32).unwrap_err().code(),
        "DUPLICATE_ID"
    );
    // A hostile writer: same id twice, index sorted anyway.
    let mut s = encode_sections(&parts(20, 20), Dtype::F32).unwrap();
    let ids: Vec<String> = (0..20).map(|i| format!("id{:02}", i.min(18))).collect();
    for (k, _, b) in s.iter_mut() {
        if *k == Kind::ItemIds {
            *b = strings::encode(&ids).unwrap();
        }
        if *k == Kind::IdIndex {
            *b = (0..20u32).flat_map(|i| i.to_le_bytes()).collect();
        }
    }
    check(&assemble(&s), "DUPLICATE_ID", None);
}

#[test]
fn unsorted_id_index() {
    let b = with_section(Dtype::F32, Kind::IdIndex, |b| b.swap(0, 4));
    check(&b, "BAD_SECTION", Some("ID_INDEX"));
}

#[test]
fn unknown_optional_section_is_skipped_required_is_refused() {
    let s = encode_sections(&parts(20, 20), Dtype::F32).unwrap();
    let mut raw: Vec<(u32, u32, &[u8])> = s
        .iter()
        .map(|(k, r, b)| (*k as u32, u32::from(*r), b.as_slice()))
        .collect();
    raw.push((999, 0, b"future stuff"));
    assert!(parse(&assemble_raw(&raw)).is_ok());
    raw.last_mut().unwrap().1 = FLAG_REQUIRED;
    check(&assemble_raw(&raw), "UNKNOWN_REQUIRED_SECTION", None);
}

#[test]
fn missing_required_section() {
    let s: Vec<_> = encode_sections(&parts(20, 20), Dtype::I8)
        .unwrap()
        .into_iter()
        .filter(|(k, _, _)| *k != Kind::Scales)
        .collect();
    let e = parse(&assemble(&s)).unwrap_err();
    assert_eq!(e, crate::error::Error::MissingSection { section: "SCALES" });
}

#[test]
fn duplicate_section() {
    let mut s = encode_sections(&parts(20, 20), Dtype::F32).unwrap();
    let bias = s.iter().find(|(k, _, _)| *k == Kind::Bias).unwrap().clone();
    s.push(bias);
    check(&assemble(&s), "DUPLICATE_SECTION", Some("BIAS"));
}

#[test]
fn wrong_section_shapes() {
    check(
        &with_section(Dtype::F32, Kind::Bias, |b| b.truncate(8)),
        "BAD_SECTION",
        Some("BIAS"),
    );
    check(
        &with_section(Dtype::F32, Kind::Category, |b| {
            b[0..4].copy_from_slice(&77u32.to_le_bytes())
        }),
        "BAD_SECTION",
        Some("CATEGORY"),
    );
    check(
        &with_section(Dtype::F32, Kind::Neighbours, |b| {
            let last = b.len() - 2 * 40 - 4;
            b[last..last + 4].copy_from_slice(&500u32.to_le_bytes());
        }),
        "BAD_SECTION",
        Some("NEIGHBOURS"),
    );
    check(
        &with_section(Dtype::F32, Kind::ItemIds, |b| {
            let l = b.len();
            b[l - 1] = 0xff;
        }),
        "BAD_SECTION",
        Some("ITEM_IDS"),
    );
    check(
        &with_section(Dtype::F32, Kind::Factors, |b| {
            // Padding element of row 0 (dim 20, stride 32).
            b[4 * 25..4 * 26].copy_from_slice(&1f32.to_le_bytes());
        }),
        "BAD_SECTION",
        Some("FACTORS"),
    );
}

#[test]
fn never_panics_on_mutations() {
    // Cheap deterministic fuzz: flip, truncate and splice every region, and
    // reseal the checksums (sections and table) for most mutations, so
    // section contents are mutated behind valid checksums too.
    let mut rng = synth::Rng::new(9);
    let mut codes: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut resealed = 0;
    for b in [
        valid(Dtype::I8),
        assemble(&residual_sections()),
        valid(Dtype::F32),
        valid(Dtype::F16),
    ]
    .into_iter()
    .flat_map(|b| std::iter::repeat_n(b, 2000))
    {
        let mut c = b.clone();
        let region = rng.next_u64() % 4;
        let n = 1 + rng.next_u64() % 4;
        for _ in 0..n {
            match region {
                0 => {
                    let i = (rng.next_u64() as usize) % c.len();
                    c[i] = rng.next_u64() as u8;
                }
                1 => {
                    let i = (rng.next_u64() as usize) % (HEADER_LEN + 20 * ENTRY_LEN).min(c.len());
                    c[i] = rng.next_u64() as u8;
                }
                _ => {
                    // Inside the sections: a byte, or a whole little-endian
                    // word set to an extreme value.
                    let i = HEADER_LEN
                        + 20 * ENTRY_LEN
                        + (rng.next_u64() as usize) % (c.len() - HEADER_LEN - 20 * ENTRY_LEN - 4);
                    let v: [u8; 4] = match rng.next_u64() % 6 {
                        0 => f32::MAX.to_le_bytes(),
                        1 => 1e38f32.to_le_bytes(),
                        2 => (-1e30f32).to_le_bytes(),
                        3 => u32::MAX.to_le_bytes(),
                        4 => f32::NAN.to_le_bytes(),
                        _ => (rng.next_u64() as u32).to_le_bytes(),
                    };
                    c[i..i + 4].copy_from_slice(&v);
                }
            }
        }
        if rng.next_u64() % 8 == 0 {
            c.truncate((rng.next_u64() as usize) % c.len());
        } else if rng.next_u64() % 8 != 0 {
            reseal_all(&mut c);
            resealed += 1;
        }
        let buf = AlignedBuf::from_slice(&c).unwrap();
        let code = match parse(buf.as_slice()) {
            Ok(layout) => {
                // What loads must be safe to score: every view is usable.
                let _ = layout.view(buf.as_slice());
                "OK"
            }
            Err(e) => e.code(),
        };
        *codes.entry(code).or_default() += 1;
    }
    eprintln!("mutation outcomes: {codes:?}");
    // The content checks were reached: most inputs did not stop at the door.
    let door = codes.get("CHECKSUM_MISMATCH").copied().unwrap_or(0)
        + codes.get("TRUNCATED").copied().unwrap_or(0);
    assert!(resealed > 5000, "{resealed}");
    assert!(door < 3000, "{codes:?}");
    for code in ["BAD_SECTION", "UNSAFE_VALUE", "NON_FINITE", "OK"] {
        assert!(
            codes.get(code).copied().unwrap_or(0) > 0,
            "{code}: {codes:?}"
        );
    }
}

#[test]
fn writer_rejects_bad_parts() {
    let mut p = parts(5, 4);
    p.factors[2] = f32::NAN;
    assert_eq!(
        write_bundle(&p, Dtype::F32).unwrap_err().code(),
        "NON_FINITE"
    );
    let mut p = parts(5, 4);
    p.factors.pop();
    assert_eq!(
        write_bundle(&p, Dtype::F32).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
    let mut p = parts(5, 4);
    p.dim = 0;
    assert_eq!(
        write_bundle(&p, Dtype::F32).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
    let mut p = parts(5, 4);
    p.factors[0] = 1e6;
    assert_eq!(
        write_bundle(&p, Dtype::F16).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
}

#[test]
fn fixture_v1_still_parses() {
    // Kept forever: a bundle written by the first release of the writer.
    let b = include_bytes!("../../tests/fixtures/v1-small.vtr");
    let layout = parse(b).expect("v1 fixture");
    assert_eq!(
        (layout.n_items, layout.dim, layout.dtype),
        (20, 20, Dtype::I8)
    );
}

#[test]
#[ignore = "run once to create a new fixture; fixtures are never regenerated"]
fn write_fixture() {
    std::fs::write("tests/fixtures/v1-small.vtr", valid(Dtype::I8)).unwrap();
}

fn residual_sections() -> super::write::Sections {
    let mut p = parts(20, 20);
    p.int8_residual = true;
    encode_sections(&p, Dtype::I8).unwrap()
}

#[test]
fn residual_round_trip_and_old_readers_skip_it() {
    let b = assemble(&residual_sections());
    let buf = AlignedBuf::from_slice(&b).unwrap();
    let layout = parse(buf.as_slice()).unwrap();
    assert_eq!(layout.version, (FORMAT_MAJOR, FORMAT_MINOR));
    let FactorsView::I8 { q, residual, .. } = layout.view(buf.as_slice()).factors else {
        panic!("int8 view");
    };
    assert_eq!(residual.map(|r| r.len()), Some(q.len()));
    // Optional: a 1.0 reader skips the kind it does not know.
    let e = layout
        .sections
        .iter()
        .find(|s| s.name == "RESIDUAL")
        .unwrap();
    assert!(!e.required());
    // Written only when asked, and only for int8.
    let plain = valid(Dtype::I8);
    assert!(!parse(&plain).unwrap().has(Kind::Residual));
    let mut p = parts(5, 4);
    p.int8_residual = true;
    for dtype in [Dtype::F32, Dtype::F16] {
        assert_eq!(
            write_bundle(&p, dtype).unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
    }
}

#[test]
fn residual_shape_and_padding_errors() {
    let mut s = residual_sections();
    s.iter_mut()
        .find(|(k, _, _)| *k == Kind::Residual)
        .unwrap()
        .2
        .truncate(20 * 32 - 1);
    check(&assemble(&s), "BAD_SECTION", Some("RESIDUAL"));

    let mut s = residual_sections();
    // Padding byte of row 3 (dim 20, stride 32).
    s.iter_mut()
        .find(|(k, _, _)| *k == Kind::Residual)
        .unwrap()
        .2[3 * 32 + 25] = 1;
    check(&assemble(&s), "BAD_SECTION", Some("RESIDUAL"));

    // A residual next to f32 factors refines nothing: refused, not ignored.
    let mut s = encode_sections(&parts(20, 20), Dtype::F32).unwrap();
    s.push((Kind::Residual, false, vec![0u8; 20 * 32]));
    check(&assemble(&s), "BAD_SECTION", Some("RESIDUAL"));

    // Any flipped byte inside it is a checksum error naming it.
    let mut b = assemble(&residual_sections());
    let at = section_offset(&b, Kind::Residual) + 5;
    b[at] ^= 1;
    check(&b, "CHECKSUM_MISMATCH", Some("RESIDUAL"));
}

#[test]
fn fixture_v1_1_residual_still_parses() {
    // Kept forever: the first bundle with a RESIDUAL section (format 1.1).
    let b = include_bytes!("../../tests/fixtures/v1.1-residual.vtr");
    let buf = AlignedBuf::from_slice(b).unwrap();
    let layout = parse(buf.as_slice()).expect("v1.1 fixture");
    assert_eq!(layout.version, (1, 1));
    assert!(layout.has(Kind::Residual));
    assert_eq!(
        (layout.n_items, layout.dim, layout.dtype),
        (20, 20, Dtype::I8)
    );
}

#[test]
#[ignore = "run once to create a new fixture; fixtures are never regenerated"]
fn write_fixture_v1_1_residual() {
    std::fs::write(
        "tests/fixtures/v1.1-residual.vtr",
        assemble(&residual_sections()),
    )
    .unwrap();
}

// ---- reserved bytes (format 1.2 readers check them) -------------------------

#[test]
fn header_reserved_bytes_must_be_zero() {
    let b = valid(Dtype::I8);
    // Outside the table checksum: each byte is checked on its own.
    for i in 36..HEADER_LEN {
        let mut c = b.clone();
        c[i] = 1;
        check(&c, "RESERVED_NOT_ZERO", Some("HEADER"));
        assert_eq!(parse(&c).unwrap_err().location().unwrap().offset, i as u64);
    }
    // Header flags: covered by the table checksum, and must be zero.
    let mut c = b.clone();
    c[20] = 1;
    check(&c, "CHECKSUM_MISMATCH", None);
    reseal(&mut c);
    check(&c, "RESERVED_NOT_ZERO", Some("HEADER"));
}

#[test]
fn table_reserved_flags_and_word_must_be_zero() {
    let b = valid(Dtype::I8);
    let e = table_entry(&b, Kind::Bias);
    let mut c = b.clone();
    c[e + 4] |= 2; // an undefined section flag
    reseal(&mut c);
    check(&c, "RESERVED_NOT_ZERO", Some("BIAS"));
    let mut c = b.clone();
    c[e + 28] = 1; // the entry's trailing reserved word
    reseal(&mut c);
    check(&c, "RESERVED_NOT_ZERO", Some("BIAS"));
}

#[test]
fn section_reserved_bytes_must_be_zero() {
    for (kind, at) in [
        (Kind::Model, 20),
        (Kind::Gram, 5),
        (Kind::Neighbours, 12),
        (Kind::Segments, 9),
    ] {
        let b = with_section(Dtype::I8, kind, |b| b[at] = 7);
        check(&b, "RESERVED_NOT_ZERO", Some(kind.name()));
        let off = section_offset(&b, kind);
        assert_eq!(
            parse(&b).unwrap_err().location().unwrap().offset,
            (off + at) as u64
        );
    }
}

// ---- the safety envelope ----------------------------------------------------

fn set_f32(b: &mut [u8], i: usize, v: f32) {
    b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn values_that_could_overflow_a_score_are_refused() {
    // A finite int8 scale of 1e38: scores would be Infinity.
    check(
        &with_section(Dtype::I8, Kind::Scales, |b| set_f32(b, 3, 1e38)),
        "UNSAFE_VALUE",
        Some("SCALES"),
    );
    check(
        &with_section(Dtype::F32, Kind::Factors, |b| set_f32(b, 5, -1e13)),
        "UNSAFE_VALUE",
        Some("FACTORS"),
    );
    for k in [Kind::Bias, Kind::Popularity] {
        check(
            &with_section(Dtype::F32, k, |b| set_f32(b, 2, 3e38)),
            "UNSAFE_VALUE",
            Some(k.name()),
        );
    }
    // Gram: bounded entries, λ and α ≥ 0, a non-negative diagonal.
    check(
        &with_section(Dtype::F32, Kind::Gram, |b| set_f32(b, 4 + 3, 1e36)),
        "UNSAFE_VALUE",
        Some("GRAM"),
    );
    check(
        &with_section(Dtype::F32, Kind::Gram, |b| set_f32(b, 4 + 21, -1e30)),
        "BAD_SECTION",
        Some("GRAM"),
    );
    check(
        &with_section(Dtype::F32, Kind::Gram, |b| set_f32(b, 3, -1.0)),
        "BAD_SECTION",
        Some("GRAM"),
    );
    // Centroids stand in for a user: the user range applies.
    check(
        &with_section(Dtype::F32, Kind::Segments, |b| set_f32(b, 4 + 7, 2e12)),
        "UNSAFE_VALUE",
        Some("SEGMENTS"),
    );
    // At the limits themselves, the bundle loads.
    let b = with_section(Dtype::F32, Kind::Factors, |b| {
        set_f32(b, 0, limits::MAX_FACTOR_ABS)
    });
    parse(AlignedBuf::from_slice(&b).unwrap().as_slice()).unwrap();
}

#[test]
fn writer_refuses_values_outside_the_envelope() {
    let mut p = parts(5, 4);
    p.factors[3] = 2e12;
    assert_eq!(
        write_bundle(&p, Dtype::F32).unwrap_err().code(),
        "UNSAFE_VALUE"
    );
    assert_eq!(
        write_bundle(&p, Dtype::I8).unwrap_err().code(),
        "UNSAFE_VALUE"
    );
    let mut p = parts(5, 4);
    p.bias.as_mut().unwrap()[1] = 1e31;
    assert_eq!(
        write_bundle(&p, Dtype::F32).unwrap_err().code(),
        "UNSAFE_VALUE"
    );
    let mut p = parts(5, 4);
    p.gram.as_mut().unwrap().yty[0] = -1.0;
    assert_eq!(
        write_bundle(&p, Dtype::F32).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
}

// ---- exact prices (format 1.2) -----------------------------------------------

#[test]
fn prices_come_back_exactly_as_exported() {
    let mut p = parts(20, 20);
    let prices: Vec<f64> = (0..20)
        .map(|i| if i == 4 { f64::NAN } else { 24.99 + i as f64 })
        .collect();
    p.prices = Some(prices.clone());
    let b = write_bundle(&p, Dtype::I8).unwrap();
    let buf = AlignedBuf::from_slice(&b).unwrap();
    let layout = parse(buf.as_slice()).unwrap();
    assert_eq!(layout.version, (1, 2));
    let v = layout.view(buf.as_slice());
    assert_eq!(v.price_at(0), Some(24.99));
    assert_eq!(v.price_at(7), Some(31.99));
    assert!(v.price_at(4).unwrap().is_nan());
    // PRICE (f32) is still there, for 1.0/1.1 readers.
    #[allow(clippy::cast_possible_truncation)]
    let want = 24.99f64 as f32;
    assert_eq!(v.price.unwrap()[0], want);
    // An older bundle (f32 PRICE only) gives the decimal the f32 stood for.
    let old = include_bytes!("../../tests/fixtures/v1.1-residual.vtr");
    let buf = AlignedBuf::from_slice(old).unwrap();
    let layout = parse(buf.as_slice()).unwrap();
    let v = layout.view(buf.as_slice());
    assert!(v.price_f64.is_none());
    for i in 0..20 {
        let p32 = v.price.unwrap()[i];
        let p = v.price_at(i).unwrap();
        // At most two decimals, as synth wrote them, and the same f32.
        #[allow(clippy::cast_possible_truncation)]
        let same = p as f32 == p32;
        assert!(same && ((p * 100.0).round() / 100.0 == p), "{p32} -> {p}");
    }
}

#[test]
fn decimal_of_f32_recovers_short_decimals() {
    for (x, want) in [
        (24.99f32, 24.99f64),
        (0.1, 0.1),
        (1234.56, 1234.56),
        (5.0, 5.0),
        (-3.5, -3.5),
    ] {
        assert_eq!(decimal_of_f32(x), want);
    }
    assert!(decimal_of_f32(f32::NAN).is_nan());
}

#[test]
fn price_sections_must_agree_and_be_finite() {
    check(
        &with_section(Dtype::F32, Kind::PriceF64, |b| {
            b[8..16].copy_from_slice(&99.5f64.to_le_bytes())
        }),
        "BAD_SECTION",
        Some("PRICE_F64"),
    );
    let mut s = encode_sections(&parts(20, 20), Dtype::F32).unwrap();
    for (k, _, b) in s.iter_mut() {
        if *k == Kind::PriceF64 {
            b[0..8].copy_from_slice(&f64::INFINITY.to_le_bytes());
        }
    }
    check(&assemble(&s), "NON_FINITE", Some("PRICE_F64"));
    check(
        &with_section(Dtype::F32, Kind::PriceF64, |b| b.truncate(8 * 19)),
        "BAD_SECTION",
        Some("PRICE_F64"),
    );
}

#[test]
#[ignore = "run once to create a new fixture; fixtures are never regenerated"]
fn write_fixture_v1_2_price_f64() {
    std::fs::write("tests/fixtures/v1.2-price-f64.vtr", valid(Dtype::I8)).unwrap();
}

#[test]
fn fixture_v1_2_price_f64_still_parses() {
    // Kept forever: the first bundle with PRICE_F64 and checked reserved bytes.
    let b = include_bytes!("../../tests/fixtures/v1.2-price-f64.vtr");
    let buf = AlignedBuf::from_slice(b).unwrap();
    let layout = parse(buf.as_slice()).expect("v1.2 fixture");
    assert_eq!(layout.version, (1, 2));
    assert!(layout.has(Kind::PriceF64));
    let v = layout.view(buf.as_slice());
    for i in 0..20 {
        let p = v.price_at(i).unwrap();
        assert_eq!((p * 100.0).round() / 100.0, p);
    }
}

/// Pushes `bytes` into an Intake in `chunk`-byte pieces.
fn intake_of(bytes: &[u8], chunk: usize) -> Intake {
    let mut i = Intake::new(Some(bytes.len() as u64), 1 << 30).unwrap();
    let mut seen = 0;
    for c in bytes.chunks(chunk) {
        i.push(c).unwrap();
        assert!(i.sections_checksummed() >= seen, "never goes back");
        seen = i.sections_checksummed();
    }
    i
}

#[test]
fn intake_checksums_each_section_as_its_last_byte_arrives() {
    for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
        let b = valid(dtype);
        let layout = parse(&b).unwrap();
        for chunk in [1, 63, 1000, b.len()] {
            let i = intake_of(&b, chunk);
            assert_eq!(i.sections_checksummed(), layout.sections.len());
            let (buf, crcs) = i.finish_known().unwrap();
            let want: Vec<_> = layout
                .sections
                .iter()
                .map(|s| (s.offset, s.length, s.crc32))
                .collect();
            assert_eq!(crcs, want, "{dtype:?} in {chunk}-byte chunks");
            let known = Known {
                crcs,
                skip_value_checks: false,
            };
            let again = parse_with(buf.as_slice(), &known).unwrap();
            assert_eq!(again.sections.len(), layout.sections.len());
        }
        // Half the bundle: only the sections that ended are done.
        let half = b.len() / 2;
        let mut i = Intake::new(None, 1 << 30).unwrap();
        i.push(&b[..half]).unwrap();
        let ended = layout
            .sections
            .iter()
            .filter(|s| (s.offset + s.length) as usize <= half)
            .count();
        assert_eq!(i.sections_checksummed(), ended);
    }
}

#[test]
fn checksums_computed_while_arriving_still_catch_a_flipped_byte() {
    let good = valid(Dtype::I8);
    let at = section_offset(&good, Kind::Factors) + 7;
    let mut bad = good.clone();
    bad[at] ^= 0x40;
    let (buf, crcs) = intake_of(&bad, 100).finish_known().unwrap();
    let known = Known {
        crcs,
        skip_value_checks: true,
    };
    let e = parse_with(buf.as_slice(), &known).unwrap_err();
    assert_eq!(e.code(), "CHECKSUM_MISMATCH");
    assert_eq!(e.location().map(|a| a.section), Some("FACTORS"));
}

#[test]
fn overwriting_received_bytes_drops_the_checksums_computed_so_far() {
    let b = valid(Dtype::F32);
    let mut i = intake_of(&b, 512);
    assert!(i.sections_checksummed() > 0);
    let at = section_offset(&b, Kind::Bias);
    i.received_mut()[at] ^= 1;
    assert_eq!(i.sections_checksummed(), 0);
    let (buf, crcs) = i.finish_known().unwrap();
    assert!(crcs.is_empty());
    // parse computes them itself and sees the change.
    let known = Known {
        crcs,
        skip_value_checks: false,
    };
    let e = parse_with(buf.as_slice(), &known).unwrap_err();
    assert_eq!(e.code(), "CHECKSUM_MISMATCH");
}

#[test]
fn a_table_of_absurd_length_is_not_read_ahead() {
    let mut b = valid(Dtype::F32);
    b[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let i = intake_of(&b, 4096);
    assert_eq!(i.sections_checksummed(), 0);
    let (buf, crcs) = i.finish_known().unwrap();
    let known = Known {
        crcs,
        skip_value_checks: false,
    };
    assert!(parse_with(buf.as_slice(), &known).is_err());
}

#[test]
fn skipped_value_checks_skip_values_only() {
    let skip = Known {
        crcs: vec![],
        skip_value_checks: true,
    };
    // Values (resealed, so every checksum is valid): caught by a full parse,
    // passed over by the cached-copy parse.
    for (dtype, kind, f) in [
        (
            Dtype::F32,
            Kind::Factors,
            (|f: &mut Vec<u8>| f[20..24].copy_from_slice(&f32::NAN.to_le_bytes()))
                as fn(&mut Vec<u8>),
        ),
        (Dtype::I8, Kind::Scales, |f: &mut Vec<u8>| {
            f[0..4].copy_from_slice(&f32::INFINITY.to_le_bytes())
        }),
        (Dtype::F32, Kind::IdIndex, |b: &mut Vec<u8>| b.swap(0, 4)),
        (Dtype::F32, Kind::Bias, |f: &mut Vec<u8>| {
            f[0..4].copy_from_slice(&f32::NAN.to_le_bytes())
        }),
    ] {
        let b = with_section(dtype, kind, f);
        assert!(parse(&b).is_err(), "{kind:?}");
        assert!(parse_with(&b, &skip).is_ok(), "{kind:?}");
    }
    // Shapes, layout and checksums are still checked.
    let short = with_section(Dtype::I8, Kind::Scales, |f| f.truncate(f.len() - 4));
    assert_eq!(parse_with(&short, &skip).unwrap_err().code(), "BAD_SECTION");
    let mut flipped = valid(Dtype::I8);
    let at = section_offset(&flipped, Kind::Scales);
    flipped[at] ^= 1;
    assert_eq!(
        parse_with(&flipped, &skip).unwrap_err().code(),
        "CHECKSUM_MISMATCH"
    );
}
