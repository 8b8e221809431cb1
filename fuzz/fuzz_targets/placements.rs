//! Sequences of placement calls (bought together, viewed together, buy it
//! again, recently viewed, trending, trending facets), recommend with the
//! business options, and the shopper's ranking with rules and the learned
//! ranker, on a bundle holding every section they read: see
//! `src/placements.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vitrine_fuzz::placements::exercise_placements(data);
});
