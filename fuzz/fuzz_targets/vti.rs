//! The `.vti` intent-model decoder (also the bundle's INTENT section). The
//! mutator fixes the payload length and CRC after most payload mutations.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

fuzz_target!(|data: &[u8]| {
    vitrine_fuzz::exercise_vti(data);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    vitrine_fuzz::mutate::mutate_vti(data, size, max_size, seed, &mut fuzzer_mutate)
});
