//! Deterministic synthetic catalogues for tests, benchmarks and the first demo.
//! Factors have cluster structure (items of a category share a direction) and
//! popularity is Zipf-like, so scores look like a trained model's rather than
//! pure noise. The same seed gives the same f32 factors whatever the dtype.

use crate::format::{BundleParts, Gram};

/// The crate's one generator; re-exported here because tests, benchmarks and
/// the shopper's k-means have always named it `synth::Rng`.
pub use crate::rng::Rng;

const ADJ: [&str; 12] = [
    "Classic", "Organic", "Compact", "Deluxe", "Vintage", "Sport", "Soft", "Bold", "Urban",
    "Nordic", "Travel", "Everyday",
];
const CATS: [(&str, &[&str]); 8] = [
    ("shoes", &["Sneaker", "Boot", "Loafer", "Sandal"]),
    ("jackets", &["Parka", "Blazer", "Raincoat", "Bomber"]),
    ("kitchen", &["Kettle", "Pan", "Knife Set", "Teapot"]),
    ("books", &["Novel", "Cookbook", "Atlas", "Notebook"]),
    ("toys", &["Puzzle", "Robot", "Kite", "Plush Bear"]),
    ("beauty", &["Serum", "Lip Balm", "Shampoo", "Face Mask"]),
    ("garden", &["Planter", "Hose", "Shears", "Lantern"]),
    ("audio", &["Headphones", "Speaker", "Turntable", "Earbuds"]),
];

/// A catalogue of `n` items with `dim` factors.
pub fn catalogue(n: usize, dim: usize, categories: usize, seed: u64) -> BundleParts {
    let mut rng = Rng::new(seed);
    let c = categories.clamp(1, 64);
    let centers: Vec<f32> = (0..c * dim).map(|_| rng.normal()).collect();
    let mut factors = Vec::with_capacity(n * dim);
    let mut cats = Vec::with_capacity(n);
    let mut titles = Vec::with_capacity(n);
    let mut prices = Vec::with_capacity(n);
    let mut stock = Vec::with_capacity(n);
    let mut pop = Vec::with_capacity(n);
    let mut bias = Vec::with_capacity(n);
    let norm = 1.0 / (dim as f32).sqrt();
    for i in 0..n {
        let cat = (rng.next_u64() % c as u64) as usize;
        for d in 0..dim {
            factors.push((0.6 * centers[cat * dim + d] + 0.8 * rng.normal()) * norm);
        }
        cats.push(cat as u32);
        let (_, nouns) = CATS[cat % CATS.len()];
        titles.push(format!(
            "{} {} {}",
            ADJ[(rng.next_u64() % ADJ.len() as u64) as usize],
            nouns[(rng.next_u64() % nouns.len() as u64) as usize],
            i
        ));
        let base = 8.0 * (1.0 + (cat % 5) as f32);
        prices.push(((base * (0.5 * rng.normal()).exp()) * 100.0).round() / 100.0);
        stock.push(rng.uniform() < 0.9);
        // Zipf-like popularity over a random permutation of items.
        let rank = 1.0 + rng.uniform() * n as f32;
        let p = 1000.0 / rank;
        pop.push(p);
        bias.push(0.05 * p.ln());
    }
    let category_names = (0..c)
        .map(|k| {
            let base = CATS[k % CATS.len()].0;
            if k < CATS.len() {
                base.to_string()
            } else {
                format!("{base}-{}", k / CATS.len())
            }
        })
        .collect();
    // The Gram matrix costs n·d² flops: worth it for demo-sized catalogues only.
    let gram = (n <= 200_000).then(|| {
        let mut yty = vec![0f32; dim * dim];
        for row in factors.chunks_exact(dim) {
            for a in 0..dim {
                for b in 0..dim {
                    yty[a * dim + b] += row[a] * row[b];
                }
            }
        }
        Gram {
            yty,
            lambda: 0.1,
            alpha: 10.0,
        }
    });
    BundleParts {
        ids: (0..n).map(|i| format!("item-{i}")).collect(),
        dim,
        factors,
        bias: Some(bias),
        popularity: Some(pop),
        categories: Some(cats),
        category_names,
        prices: Some(
            prices
                .into_iter()
                .map(crate::format::decimal_of_f32)
                .collect(),
        ),
        in_stock: Some(stock),
        titles: Some(titles),
        gram,
        meta: vec![
            ("trainer".into(), "vitrine synth".into()),
            (
                "dataset".into(),
                format!("synthetic n={n} dim={dim} seed={seed}"),
            ),
            ("factors".into(), dim.to_string()),
        ],
        ..Default::default()
    }
}

/// A Gaussian user vector of the same scale as the item factors.
pub fn user(dim: usize, rng: &mut Rng) -> Vec<f32> {
    let norm = 1.0 / (dim as f32).sqrt();
    (0..dim).map(|_| rng.normal() * norm).collect()
}
