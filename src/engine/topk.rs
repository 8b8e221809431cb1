//! Bounded top-k selection: a size-k min-heap, O(n log k), never a full sort.
//! Ties resolve to the lower item index, which is what a caller scanning
//! items in ascending order gets for free by inserting only on `score > worst`.
// Casts on sizes from untrusted input must be checked (`try_from`); `make lint` denies these.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

/// An item index with its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub index: u32,
    pub score: f32,
}

pub struct TopK {
    k: usize,
    heap: Vec<Scored>,
}

/// `a` ranks below `b`: lower score, or equal score and higher index.
#[inline]
fn worse(a: &Scored, b: &Scored) -> bool {
    a.score < b.score || (a.score == b.score && a.index > b.index)
}

impl TopK {
    /// Always inlined: the lean wasm builds lower LLVM's inline threshold
    /// (scripts/build-wasm.sh), which left this call out of line in
    /// `Model::scan_part` and reshuffled that function's locals around it
    /// (an A/B put the f32 scan at 1M ~5% slower, within the noise of that
    /// host). Inlined, `scan_part` comes out the same as at LLVM's default
    /// threshold, so the scan's speed needs no new measurement.
    #[inline(always)]
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: Vec::with_capacity(k.min(1 << 16)),
        }
    }

    /// Scores at or below this cannot enter (when scanning in index order).
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.first().map_or(f32::INFINITY, |s| s.score)
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Offers a candidate; NaN scores never enter.
    pub fn push(&mut self, index: u32, score: f32) {
        if self.k == 0 || score.is_nan() {
            return;
        }
        let s = Scored { index, score };
        if self.heap.len() < self.k {
            self.heap.push(s);
            let mut i = self.heap.len() - 1;
            while i > 0 {
                let p = (i - 1) / 2;
                if worse(&self.heap[i], &self.heap[p]) {
                    self.heap.swap(i, p);
                    i = p;
                } else {
                    break;
                }
            }
        } else if worse(&self.heap[0], &s) {
            self.heap[0] = s;
            let n = self.heap.len();
            self.sift_down(0, n);
        }
    }

    /// Best first. Heapsort in place: the heap is already half the work, and
    /// it keeps a general-purpose sort out of the wasm binary.
    pub fn into_sorted(mut self) -> Vec<Scored> {
        let mut end = self.heap.len();
        while end > 1 {
            end -= 1;
            self.heap.swap(0, end);
            self.sift_down(0, end);
        }
        self.heap
    }

    fn sift_down(&mut self, mut i: usize, n: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut m = i;
            if l < n && worse(&self.heap[l], &self.heap[m]) {
                m = l;
            }
            if r < n && worse(&self.heap[r], &self.heap[m]) {
                m = r;
            }
            if m == i {
                break;
            }
            self.heap.swap(i, m);
            i = m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_full_sort_with_ties() {
        let scores: Vec<f32> = (0..500).map(|i| ((i * 7919) % 97) as f32).collect();
        for k in [0, 1, 5, 10, 96, 500, 600] {
            let mut t = TopK::new(k);
            for (i, &s) in scores.iter().enumerate() {
                if s > t.threshold() {
                    t.push(u32::try_from(i).unwrap(), s);
                }
            }
            let got: Vec<u32> = t.into_sorted().iter().map(|s| s.index).collect();
            let mut all: Vec<u32> = (0..500).collect();
            all.sort_by(|&a, &b| {
                scores[b as usize]
                    .partial_cmp(&scores[a as usize])
                    .unwrap()
                    .then(a.cmp(&b))
            });
            all.truncate(k);
            assert_eq!(got, all, "k={k}");
        }
    }

    /// The same `k` items, in the same order, as a full sort by score then
    /// index, for offers in any order (index order as the scans make them,
    /// reversed, shuffled, with and without the threshold test), many ties,
    /// and every `k` from none to more than the offers; `len` follows.
    #[test]
    fn any_offer_order_gives_the_full_sorts_head() {
        let mut seed = 12_345u64;
        let mut rand = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        for n in [0usize, 1, 7, 33, 64, 65, 200, 1000, 5000] {
            // Few distinct scores (ties everywhere), and a run of increasing
            // scores (every offer enters) and decreasing ones.
            for shape in 0..4 {
                let scores: Vec<f32> = (0..n)
                    .map(|i| match shape {
                        0 => (rand() % 13) as f32,
                        1 => i as f32,
                        2 => -(i as f32),
                        _ => (rand() % 100_000) as f32 / 7.0,
                    })
                    .collect();
                let mut order: Vec<usize> = (0..n).collect();
                let mut want: Vec<u32> = (0..n).map(|i| u32::try_from(i).unwrap()).collect();
                want.sort_by(|&a, &b| {
                    scores[b as usize]
                        .total_cmp(&scores[a as usize])
                        .then(a.cmp(&b))
                });
                for k in [0usize, 1, 2, 10, 31, 32, 33, 64, 100, 400, n, n + 1] {
                    for offer in 0..3 {
                        match offer {
                            0 => order = (0..n).collect(),
                            1 => order.reverse(),
                            _ => {
                                for i in (1..n).rev() {
                                    order.swap(i, usize::try_from(rand()).unwrap() % (i + 1));
                                }
                            }
                        }
                        let mut t = TopK::new(k);
                        for &i in &order {
                            // The scans' test, in index order only.
                            if offer == 0 && scores[i] <= t.threshold() {
                                continue;
                            }
                            t.push(u32::try_from(i).unwrap(), scores[i]);
                            assert!(t.len() <= k);
                        }
                        assert_eq!(t.len(), n.min(k), "n {n} shape {shape} k {k}");
                        let got: Vec<u32> = t.into_sorted().iter().map(|s| s.index).collect();
                        let head = &want[..k.min(n)];
                        assert_eq!(got, head, "n {n} shape {shape} k {k} offer {offer}");
                    }
                }
            }
        }
    }

    #[test]
    fn nan_never_enters() {
        let mut t = TopK::new(2);
        t.push(0, f32::NAN);
        t.push(1, 1.0);
        assert_eq!(
            t.into_sorted(),
            vec![Scored {
                index: 1,
                score: 1.0
            }]
        );
    }
}
