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
    let targets: [Target; 4] = [
        ("bundle", super::exercise_bundle),
        ("vti", super::exercise_vti),
        ("intent_text", super::exercise_intent_text),
        ("shopper", super::exercise_shopper),
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
