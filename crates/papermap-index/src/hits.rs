//! Search results and the top-k selection shared by both indexes.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One search result: the caller's key and its cosine similarity to the query.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// The key the vector was added under.
    pub key: String,
    /// Cosine similarity (dot product of unit vectors), in [-1, 1].
    pub score: f32,
}

/// A candidate during selection: best = highest score, ties broken by the smaller key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranked<'a> {
    pub score: f32,
    pub key: &'a str,
}

impl Ord for Ranked<'_> {
    /// `Greater` means "ranks before".
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.key.cmp(self.key))
    }
}
impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked<'_> {}

/// Keeps the `k` best candidates seen; deterministic under ties because keys are unique.
pub(crate) struct TopK<'a> {
    k: usize,
    // Min-heap on rank: the worst kept candidate sits on top.
    heap: BinaryHeap<std::cmp::Reverse<Ranked<'a>>>,
}

impl<'a> TopK<'a> {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// Whether a candidate with this score could still enter (cheap pre-check before key lookup).
    #[inline]
    pub fn admits(&self, score: f32) -> bool {
        self.k > 0
            && (self.heap.len() < self.k
                || self
                    .heap
                    .peek()
                    .is_some_and(|w| score.total_cmp(&w.0.score) != Ordering::Less))
    }

    #[inline]
    pub fn push(&mut self, candidate: Ranked<'a>) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(candidate));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if candidate > worst.0 {
                worst.0 = candidate;
            }
        }
    }

    /// The kept candidates, unordered.
    pub fn into_ranked(self) -> impl Iterator<Item = Ranked<'a>> {
        self.heap.into_iter().map(|r| r.0)
    }

    /// Best first.
    pub fn into_hits(self) -> Vec<Hit> {
        let mut ranked: Vec<Ranked<'a>> = self.into_ranked().collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        ranked
            .into_iter()
            .map(|r| Hit {
                key: r.key.to_owned(),
                score: r.score.clamp(-1.0, 1.0),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_k_sorted_with_key_tiebreak() {
        let mut top = TopK::new(3);
        for (score, key) in [(0.5, "d"), (0.9, "b"), (0.5, "a"), (0.1, "z"), (0.9, "a")] {
            if top.admits(score) {
                top.push(Ranked { score, key });
            }
        }
        let hits = top.into_hits();
        let got: Vec<(&str, f32)> = hits.iter().map(|h| (h.key.as_str(), h.score)).collect();
        assert_eq!(got, vec![("a", 0.9), ("b", 0.9), ("a", 0.5)]);
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut top = TopK::new(0);
        assert!(!top.admits(1.0));
        top.push(Ranked {
            score: 1.0,
            key: "a",
        });
        assert!(top.into_hits().is_empty());
    }
}
