//! Stored shopper events and options, validated as the wasm bindings validate
//! them, through the shopper core (fold-in, sessions, segments, rerank,
//! recommend, reasons) on a bundle with Gram, neighbours and segments.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vitrine_fuzz::exercise_shopper(data);
});
