//! vitrine: on-device personalization for online stores.
//!
//! See `ARCHITECTURE.md` for the bird's-eye view. In short:
//! - [`format`] owns every byte of the `.vtr` model bundle (reader and writer).
//! - [`engine`] is the pure-Rust recommendation core (never sees `JsValue`).
//! - [`intent`] is the on-device intent matcher and its trainer.
//! - `wasm` (wasm32 only) is the thin wasm-bindgen layer.
//! - [`train`] (native only) is the ALS trainer and offline evaluation.

#[cfg(target_endian = "big")]
compile_error!(
    "vitrine bundles are little-endian and read zero-copy; big-endian hosts are not supported"
);

pub mod engine;
pub mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod eval;
pub mod format;
pub mod intent;
pub mod placements;
pub mod ranker;
pub mod rng;
pub mod shopper;
pub mod synth;

#[cfg(not(target_arch = "wasm32"))]
pub mod table;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;

#[cfg(not(target_arch = "wasm32"))]
pub mod train;

#[cfg(target_arch = "wasm32")]
mod wasm;
