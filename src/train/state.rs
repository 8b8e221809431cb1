//! Model state file written by `vitrine train` and read by `vitrine export`.
//!
//! Layout (little-endian): magic `VTRSTATE`, u32 version, u64 header length,
//! a JSON header (ids, hyperparameters, catalogue metadata), then the user and
//! item factor matrices as raw f32 rows. JSON keeps the header debuggable; the
//! factors are raw because they are the bulk of the file.

use super::error::{Result, TrainError};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 8] = b"VTRSTATE";
const VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct StateHeader {
    pub n_users: usize,
    pub n_items: usize,
    pub dim: usize,
    pub users: Vec<String>,
    pub items: Vec<String>,
    pub alpha: f32,
    pub lambda: f32,
    pub iterations: usize,
    pub cg_steps: usize,
    pub solver: String,
    pub seed: u64,
    pub loss: Vec<f64>,
    pub train_seconds: f64,
    /// Summed interaction weight per item in the training data.
    pub popularity: Vec<f32>,
    pub titles: Option<Vec<String>>,
    /// Per-item category name ("" when unknown).
    pub categories: Option<Vec<String>>,
    /// NaN = unknown (an item the metadata file does not price), written as
    /// JSON `null`: serde_json writes NaN as `null` and would not read it back.
    #[serde(default, with = "nan_as_null")]
    pub prices: Option<Vec<f32>>,
    pub dataset: String,
    /// Per-item stock (`--stock-col`). Absent in states written before it
    /// existed (and without a stock column): every item in stock. Same
    /// VERSION: serde reads a missing `Option` as `None`, and older readers
    /// ignore the unknown key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_stock: Option<Vec<bool>>,
    /// The currency the item file's prices name (bundle meta `currency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `Option<Vec<f32>>` with NaN as `null` both ways.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<f32>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|v| {
                v.iter()
                    .map(|x| (!x.is_nan()).then_some(*x))
                    .collect::<Vec<Option<f32>>>()
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f32>>, D::Error> {
        let v = Option::<Vec<Option<f32>>>::deserialize(d)?;
        Ok(v.map(|v| v.into_iter().map(|x| x.unwrap_or(f32::NAN)).collect()))
    }
}

#[derive(Clone, Debug)]
pub struct ModelState {
    pub header: StateHeader,
    pub user_factors: Array2<f32>,
    pub item_factors: Array2<f32>,
}

/// Writes next to the destination and renames, so a failed run never leaves a
/// truncated file where a good one is expected.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::format::write::write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
}

impl ModelState {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let h = &self.header;
        if self.user_factors.dim() != (h.n_users, h.dim)
            || self.item_factors.dim() != (h.n_items, h.dim)
        {
            return Err(TrainError::State(
                "factor shapes disagree with the header".into(),
            ));
        }
        let json = serde_json::to_vec(h).map_err(|e| TrainError::State(e.to_string()))?;
        let mut out = Vec::with_capacity(20 + json.len() + 4 * (h.n_users + h.n_items) * h.dim);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        for v in self.user_factors.iter().chain(self.item_factors.iter()) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        Ok(out)
    }

    pub fn from_bytes(b: &[u8]) -> Result<ModelState> {
        let bad = |m: &str| TrainError::State(m.to_string());
        if b.get(..8) != Some(&MAGIC[..]) {
            return Err(bad("not a vitrine model state (bad magic)"));
        }
        let ver = u32::from_le_bytes(
            b.get(8..12)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| bad("truncated"))?,
        );
        if ver != VERSION {
            return Err(TrainError::State(format!("unsupported version {ver}")));
        }
        let hl = u64::from_le_bytes(
            b.get(12..20)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| bad("truncated"))?,
        );
        let hl = usize::try_from(hl).map_err(|_| bad("header too large"))?;
        let hend = 20usize
            .checked_add(hl)
            .ok_or_else(|| bad("header too large"))?;
        let json = b.get(20..hend).ok_or_else(|| bad("truncated header"))?;
        let h: StateHeader =
            serde_json::from_slice(json).map_err(|e| TrainError::State(format!("header: {e}")))?;
        if h.users.len() != h.n_users
            || h.items.len() != h.n_items
            || h.popularity.len() != h.n_items
        {
            return Err(bad("id lists disagree with counts"));
        }
        for (name, len) in [
            ("titles", h.titles.as_ref().map(|v| v.len())),
            ("categories", h.categories.as_ref().map(|v| v.len())),
            ("prices", h.prices.as_ref().map(|v| v.len())),
            ("in_stock", h.in_stock.as_ref().map(|v| v.len())),
        ] {
            if len.is_some_and(|l| l != h.n_items) {
                return Err(TrainError::State(format!(
                    "{name} length disagrees with item count"
                )));
            }
        }
        let nu = h
            .n_users
            .checked_mul(h.dim)
            .ok_or_else(|| bad("size overflow"))?;
        let ni = h
            .n_items
            .checked_mul(h.dim)
            .ok_or_else(|| bad("size overflow"))?;
        let need = nu
            .checked_add(ni)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| bad("size overflow"))?;
        let body = b.get(hend..).ok_or_else(|| bad("truncated"))?;
        if body.len() != need {
            return Err(TrainError::State(format!(
                "factor block is {} bytes, expected {need}",
                body.len()
            )));
        }
        let floats: Vec<f32> = body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let (uf, itf) = floats.split_at(nu);
        let user_factors = Array2::from_shape_vec((h.n_users, h.dim), uf.to_vec())
            .map_err(|e| TrainError::State(e.to_string()))?;
        let item_factors = Array2::from_shape_vec((h.n_items, h.dim), itf.to_vec())
            .map_err(|e| TrainError::State(e.to_string()))?;
        Ok(ModelState {
            header: h,
            user_factors,
            item_factors,
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        atomic_write(path, &self.to_bytes()?)
    }

    pub fn load(path: &Path) -> Result<ModelState> {
        let b = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        ModelState::from_bytes(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let st = ModelState {
            header: StateHeader {
                n_users: 2,
                n_items: 1,
                dim: 2,
                users: vec!["a".into(), "b".into()],
                items: vec!["x".into()],
                popularity: vec![2.0],
                ..Default::default()
            },
            user_factors: Array2::from_shape_vec((2, 2), vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
            item_factors: Array2::from_shape_vec((1, 2), vec![5.0, 6.0]).unwrap(),
        };
        let b = st.to_bytes().unwrap();
        let back = ModelState::from_bytes(&b).unwrap();
        assert_eq!(back.item_factors, st.item_factors);
        assert_eq!(back.header.users, st.header.users);
        for cut in [0, 7, 19, b.len() - 1] {
            assert!(ModelState::from_bytes(&b[..cut]).is_err(), "cut {cut}");
        }
    }

    /// A state written before stock and currency existed (the fixture was
    /// made by `vitrine train` at commit 045c91f) still reads, with every
    /// item in stock; a state with stock round-trips it.
    #[test]
    fn states_without_stock_still_read() {
        let old = include_bytes!("../../tests/fixtures/state-v1-before-stock.vstate");
        let st = ModelState::from_bytes(old).unwrap();
        assert_eq!(st.header.items, ["a", "b", "c"]);
        assert_eq!(st.header.prices.as_deref(), Some(&[1.5f32, 2.0, 3.25][..]));
        assert!(st.header.in_stock.is_none() && st.header.currency.is_none());
        let parts = crate::train::export::bundle_parts(&st, &Default::default()).unwrap();
        assert_eq!(parts.in_stock.as_deref(), Some(&[true, true, true][..]));

        let mut new = st.clone();
        // An unpriced item (NaN) survives the JSON header.
        new.header.prices = Some(vec![1.5, f32::NAN, 3.25]);
        new.header.in_stock = Some(vec![true, false, true]);
        new.header.currency = Some("EUR".into());
        let back = ModelState::from_bytes(&new.to_bytes().unwrap()).unwrap();
        assert_eq!(back.header.in_stock, new.header.in_stock);
        let p = back.header.prices.as_deref().unwrap();
        assert!(p[0] == 1.5 && p[1].is_nan() && p[2] == 3.25);
        let parts = crate::train::export::bundle_parts(&back, &Default::default()).unwrap();
        assert_eq!(parts.in_stock.as_deref(), Some(&[true, false, true][..]));
        assert!(parts.meta.contains(&("currency".into(), "EUR".into())));
        // A stock list of the wrong length is a corrupt state.
        new.header.in_stock = Some(vec![true]);
        assert!(ModelState::from_bytes(&new.to_bytes().unwrap()).is_err());
    }
}
