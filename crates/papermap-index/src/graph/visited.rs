//! Visited marks for graph walks, one array per thread, reused across walks.
//!
//! A walk touches a few thousand nodes of a graph of any size; clearing an n-sized array per
//! walk would make every query O(n). Each walk instead bumps an epoch and counts a node as
//! visited when its mark equals the epoch, so the array is cleared only when the epoch wraps
//! (once per 65,535 walks). The array is allocated zeroed (`calloc`: untouched pages cost
//! nothing until a walk reaches them) and only grows.

use std::cell::RefCell;

pub(crate) struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

thread_local! {
    static VISITED: RefCell<Visited> = const { RefCell::new(Visited { marks: Vec::new(), epoch: 0 }) };
}

impl Visited {
    /// Starts a walk over nodes `0..n`: nothing counts as visited afterwards.
    fn start(&mut self, n: usize) {
        if self.marks.len() < n {
            // A fresh zeroed allocation instead of `resize`, which would write every page.
            self.marks = vec![0; n];
            self.epoch = 0;
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Asks memory for `node`'s mark ahead of [`insert`](Self::insert) (a hint; any node).
    #[inline]
    pub fn prefetch(&self, node: u32) {
        super::half::prefetch(self.marks.as_ptr().wrapping_add(node as usize), 1);
    }

    /// Marks `node`; returns whether it was unvisited. Nodes past `n` count as visited, so a
    /// damaged link is skipped rather than followed.
    #[inline]
    pub fn insert(&mut self, node: u32) -> bool {
        match self.marks.get_mut(node as usize) {
            Some(mark) if *mark != self.epoch => {
                *mark = self.epoch;
                true
            }
            _ => false,
        }
    }
}

/// Runs `walk` with this thread's visited marks, reset for a graph of `n` nodes.
///
/// Walks must not nest on one thread (they never call back into rayon or into each other).
pub(crate) fn with_visited<R>(n: usize, walk: impl FnOnce(&mut Visited) -> R) -> R {
    VISITED.with_borrow_mut(|visited| {
        visited.start(n);
        walk(visited)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_reset_marks_and_out_of_range_counts_as_visited() {
        with_visited(4, |v| {
            assert!(v.insert(1));
            assert!(!v.insert(1));
            assert!(!v.insert(9));
        });
        with_visited(4, |v| assert!(v.insert(1)));
        // Past a wrap of the epoch, old marks are cleared rather than mistaken for new ones.
        for _ in 0..70_000 {
            with_visited(4, |_| ());
        }
        with_visited(4, |v| {
            assert!(v.insert(2));
            assert!(v.insert(3));
        });
    }
}
