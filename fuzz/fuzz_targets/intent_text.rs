//! Any text (bytes read as UTF-8, invalid sequences as U+FFFD, as JS strings
//! with lone surrogates arrive) through the default intent model: normalize,
//! featurize, classify, slots (with a title index attached).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vitrine_fuzz::exercise_intent_text(data);
});
