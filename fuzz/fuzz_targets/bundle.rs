//! The bundle parser and everything that reads a loaded bundle. The custom
//! mutator mixes raw byte mutations (checksums left wrong) with section-level
//! edits laid out and resealed (content behind valid checksums): see
//! `src/mutate.rs`.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

fuzz_target!(|data: &[u8]| {
    vitrine_fuzz::exercise_bundle(data);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    vitrine_fuzz::mutate::mutate_bundle(data, size, max_size, seed, &mut fuzzer_mutate)
});
