//! Segments: k-means centroids over user factors (trained natively, shipped in
//! the bundle) and the on-device nearest-centroid assignment.

use crate::format::index_u32;
use crate::format::read::SegmentsView;
use crate::synth::Rng;

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Nearest centroid to `user` and its Euclidean distance; `None` if the
/// bundle's segments have another dimension or there are none.
pub fn assign(view: &SegmentsView<'_>, user: &[f32]) -> Option<(usize, f32)> {
    if view.dim != user.len() || view.dim == 0 {
        return None;
    }
    nearest(view.centroids, view.dim, user)
}

fn nearest(centroids: &[f32], d: usize, x: &[f32]) -> Option<(usize, f32)> {
    centroids
        .chunks_exact(d)
        .map(|c| sq_dist(c, x))
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
        .map(|(i, v)| (i, v.sqrt()))
}

/// k-means++ seeding then Lloyd iterations over `n` rows of `d` floats.
/// Returns `k' ≤ k` centroids (fewer if there are fewer distinct rows) and
/// each row's assignment. Deterministic for a seed.
pub fn kmeans(
    data: &[f32],
    d: usize,
    k: usize,
    iterations: usize,
    seed: u64,
) -> (Vec<f32>, Vec<u32>) {
    let n = data.len().checked_div(d).unwrap_or(0);
    if n == 0 || k == 0 {
        return (Vec::new(), Vec::new());
    }
    let mut rng = Rng::new(seed);
    let row = |i: usize| &data[i * d..(i + 1) * d];
    let mut centroids: Vec<f32> = Vec::with_capacity(k * d);
    let first = usize::try_from(rng.next_u64() % n as u64).unwrap_or(0);
    centroids.extend_from_slice(row(first));
    let mut best: Vec<f32> = (0..n).map(|i| sq_dist(row(i), row(first))).collect();
    while centroids.len() / d < k {
        let total: f64 = best.iter().map(|&v| v as f64).sum();
        if total <= 0.0 {
            break; // every row coincides with a centroid
        }
        let mut target = rng.uniform() as f64 * total;
        let mut pick = n - 1;
        for (i, &v) in best.iter().enumerate() {
            target -= v as f64;
            if target <= 0.0 && v > 0.0 {
                pick = i;
                break;
            }
        }
        let c = row(pick).to_vec();
        for (i, b) in best.iter_mut().enumerate() {
            *b = b.min(sq_dist(row(i), &c));
        }
        centroids.extend_from_slice(&c);
    }
    let kk = centroids.len() / d;
    let mut assign = vec![0u32; n];
    for _ in 0..iterations.max(1) {
        let mut changed = false;
        for (i, a) in assign.iter_mut().enumerate() {
            let c = nearest(&centroids, d, row(i)).map_or(0, |(c, _)| index_u32(c));
            if c != *a {
                *a = c;
                changed = true;
            }
        }
        let mut sums = vec![0f64; kk * d];
        let mut counts = vec![0usize; kk];
        for (i, &a) in assign.iter().enumerate() {
            counts[a as usize] += 1;
            for (s, &v) in sums[a as usize * d..(a as usize + 1) * d]
                .iter_mut()
                .zip(row(i))
            {
                *s += v as f64;
            }
        }
        for c in 0..kk {
            if counts[c] > 0 {
                for j in 0..d {
                    #[allow(clippy::cast_possible_truncation, reason = "a mean of f32 values")]
                    let mean = (sums[c * d + j] / counts[c] as f64) as f32;
                    centroids[c * d + j] = mean;
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (i, a) in assign.iter_mut().enumerate() {
        *a = nearest(&centroids, d, row(i)).map_or(0, |(c, _)| index_u32(c));
    }
    (centroids, assign)
}

/// The SEGMENTS section for a bundle: k-means over the trained user factors
/// (`n × d`, row-major). `names` (e.g. from a config) are used when there is
/// one per centroid; otherwise segments are called "segment N" (1-based).
pub fn section(
    users: &[f32],
    d: usize,
    k: usize,
    names: Option<Vec<String>>,
    seed: u64,
) -> crate::format::Segments {
    let (centroids, _) = kmeans(users, d, k, 100, seed);
    let got = centroids.len().checked_div(d).unwrap_or(0);
    let names = match names {
        Some(n) if n.len() == got => n,
        _ => (1..=got).map(|i| format!("segment {i}")).collect(),
    };
    crate::format::Segments {
        dim: d,
        centroids,
        names,
    }
}
