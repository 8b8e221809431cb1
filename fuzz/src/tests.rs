//! The mutators and framing, tested without libFuzzer (`cargo test` here).

use super::mutate::{mutate_bundle, mutate_vti};
use super::reseal::{assemble, reseal, split};
use vitrine::error::Error;
use vitrine::format::Dtype;

/// A stand-in for libFuzzer's byte mutator: flips one byte, keeps the size.
fn flip(seed: u64) -> impl FnMut(&mut [u8], usize, usize) -> usize {
    let mut s = seed;
    move |d: &mut [u8], size: usize, _max: usize| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if size > 0 {
            d[(s >> 33) as usize % size] ^= 1 << ((s >> 29) % 8);
        }
        size
    }
}

#[test]
fn split_then_assemble_is_the_identity_on_writer_output() {
    for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
        let b = super::full_bundle(30, 12, dtype, dtype == Dtype::I8);
        let (h, s) = split(&b).unwrap();
        assert_eq!(assemble(&h, &s), b, "{dtype:?}");
    }
}

#[test]
fn structured_mutations_get_past_the_checksums() {
    let seed_bundle = super::full_bundle(30, 12, Dtype::I8, true);
    let max = seed_bundle.len() * 2;
    let (mut checksum, mut total) = (0, 0);
    for seed in 0..3000u32 {
        let mut data = seed_bundle.clone();
        data.resize(max, 0);
        let mut m = flip(u64::from(seed));
        let n = mutate_bundle(&mut data, seed_bundle.len(), max, seed, &mut m);
        data.truncate(n);
        super::exercise_bundle(&data);
        total += 1;
        if matches!(
            vitrine::engine::Model::from_bytes(&data),
            Err(Error::ChecksumMismatch { .. })
        ) {
            checksum += 1;
        }
    }
    // Raw steps (2 in 8) leave checksums wrong; the other 6 in 8 reseal.
    assert!(
        checksum < total / 2,
        "{checksum} of {total} stopped at a checksum"
    );
    assert!(
        checksum > total / 20,
        "raw mutations missing: {checksum} of {total}"
    );
}

#[test]
fn vti_mutations_are_resealed() {
    let blob = super::small_intent(true).to_bytes();
    let max = blob.len() + 64;
    let mut checksum = 0;
    for seed in 0..400u32 {
        let mut data = blob.clone();
        data.resize(max, 0);
        let n = mutate_vti(&mut data, blob.len(), max, seed, &mut flip(u64::from(seed)));
        data.truncate(n);
        super::exercise_vti(&data);
        if matches!(
            vitrine::intent::IntentModel::from_bytes(&data),
            Err(Error::ChecksumMismatch { .. })
        ) {
            checksum += 1;
        }
    }
    assert!(checksum < 200, "{checksum} of 400 stopped at the checksum");
}

#[test]
fn reseal_reproduces_the_writers_checksums() {
    let b = super::full_bundle(20, 8, Dtype::F16, false);
    let mut z = b.clone();
    let (_, s) = split(&b).unwrap();
    for i in 0..s.len() {
        let e = 64 + 32 * i + 24;
        z[e..e + 4].fill(0);
    }
    z[32..36].fill(0);
    reseal(&mut z);
    assert_eq!(z, b);
}

/// Every file under `fuzz/regressions/<target>/` (crashes found and fixed)
/// still runs clean through its target, and so does every bundle under
/// `tests/fixtures/fuzz/` (findings kept as fixtures of the main crate).
#[test]
fn regressions_replay() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    type Target = (&'static str, fn(&[u8]));
    let targets: [Target; 5] = [
        ("bundle", super::exercise_bundle),
        ("vti", super::exercise_vti),
        ("intent_text", super::exercise_intent_text),
        ("shopper", super::exercise_shopper),
        ("placements", super::placements::exercise_placements),
    ];
    for (name, f) in targets {
        let Ok(rd) = std::fs::read_dir(dir.join(name)) else {
            continue;
        };
        for e in rd.flatten() {
            f(&std::fs::read(e.path()).unwrap());
        }
    }
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/fuzz");
    for e in std::fs::read_dir(fixtures).into_iter().flatten().flatten() {
        super::exercise_bundle(&std::fs::read(e.path()).unwrap());
    }
}

/// The seed bundle has every section the placements and the ranker read,
/// and its ranker is used (not refused): otherwise the `placements` target
/// would only ever reach `NO_SECTION` and the blend.
#[test]
fn the_placements_bundle_has_every_section() {
    let m = super::placements::placements_bundle();
    let v = m.view();
    assert!(v.placements.co_purchase.is_some(), "CO_PURCHASE");
    assert!(v.placements.cadence.is_some(), "CADENCE");
    assert!(v.placements.trending.is_some(), "TRENDING");
    assert!(v.behaviour.is_some(), "BEHAVIOUR");
    assert!(matches!(
        vitrine::ranker::status(m),
        vitrine::ranker::Used::Ranker(_)
    ));
    // A V1 (15-feature) section is mapped, not refused.
    let b = super::full_bundle_ext(
        12,
        8,
        Dtype::F32,
        false,
        None,
        Some(super::synthetic_ranker(true)),
    );
    let m = vitrine::engine::Model::from_bytes(&b).unwrap();
    assert_eq!(
        vitrine::ranker::missing_features(&m).map(|f| f.len()),
        Some(2)
    );
}

/// The fixed inputs (one call of each kind, with and without business
/// options) run clean, and reach answers, not only refusals: each kind of
/// call on the seed inputs returns at least one item somewhere.
#[test]
fn placements_seeds_replay() {
    let seeds = super::placements::seeds();
    assert_eq!(seeds.len(), 24);
    let mut ok = [0u32; 8];
    for (_, s) in &seeds {
        for (t, x) in ok.iter_mut().zip(super::placements::run(s)) {
            *t += x;
        }
    }
    // Three seeds per opcode; the business options may refuse one.
    assert!(ok.iter().all(|&x| x >= 2), "answers per opcode: {ok:?}");
    // Edge inputs: empty, all zero, all 0xFF, a ramp.
    for s in [
        vec![],
        vec![0u8; 64],
        vec![0xFFu8; 64],
        (0..=255u8).collect::<Vec<u8>>(),
        (0..=255u8).rev().cycle().take(700).collect(),
    ] {
        super::placements::exercise_placements(&s);
    }
}

/// Every byte of a CO_PURCHASE, CADENCE, TRENDING, RANKER or BEHAVIOUR
/// body set to an edge value, the file resealed: the bundle loads with a
/// typed error or runs the placements and the ranker without a panic, and a
/// RANKER whose numbers are NaN is refused (the blend answers instead).
#[test]
fn corrupt_placement_and_ranker_sections_give_typed_errors() {
    use vitrine::format::Kind;
    let b = super::full_bundle(16, 8, Dtype::F32, false);
    let (h, sections) = split(&b).unwrap();
    let kinds = [
        Kind::CoPurchase,
        Kind::Cadence,
        Kind::Trending,
        Kind::Ranker,
        Kind::Behaviour,
    ];
    let (mut loaded, mut refused) = (0, 0);
    for kind in kinds {
        let at = sections
            .iter()
            .position(|s| s.kind == kind as u32)
            .unwrap_or_else(|| panic!("{kind:?} missing from the seed"));
        let len = sections[at].body.len();
        for pos in (0..len).step_by(len.div_ceil(48).max(1)) {
            for v in [0u8, 0xFF, 0x7F, 0xC0] {
                let mut s = sections.clone();
                s[at].body[pos] = v;
                let data = assemble(&h, &s);
                match vitrine::engine::Model::from_bytes(&data) {
                    Ok(_) => loaded += 1,
                    Err(e) => {
                        assert!(!matches!(e, Error::ChecksumMismatch { .. }), "{e:?}");
                        refused += 1;
                    }
                }
                super::exercise_bundle(&data);
            }
        }
    }
    assert!(
        loaded > 0 && refused > 0,
        "loaded {loaded}, refused {refused}"
    );
    // NaN weights behind a valid checksum: status says BlendFallback.
    let mut r = super::synthetic_ranker(false);
    r.weights[3] = f32::NAN;
    let b = super::full_bundle_ext(12, 8, Dtype::F32, false, None, Some(r));
    let m = vitrine::engine::Model::from_bytes(&b).unwrap();
    assert!(matches!(
        vitrine::ranker::status(&m),
        vitrine::ranker::Used::BlendFallback(_)
    ));
    super::exercise_bundle(&b);
}
