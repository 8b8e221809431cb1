//! The recommendation core, shared by the wasm bindings and the native CLI.
//! Pure Rust: it never sees `JsValue`, and it never knows a byte offset
//! (that is `format`'s job); it works on typed views.

pub mod kernels;
mod model;
#[cfg_attr(feature = "lean", allow(dead_code))]
mod screen;
mod topk;

pub use model::{merge_parts, Candidate, Model, Part, RecommendOptions};
pub use topk::{Scored, TopK};

#[cfg(test)]
mod tests;
