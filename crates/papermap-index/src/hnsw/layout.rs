//! Memory order of the search copy: graph neighbours stored next to each other.
//!
//! A query touches a few thousand vectors of 1.5 kB each, scattered over the whole set when
//! vectors sit in insertion order. Laying nodes out in breadth-first order of the layer-0
//! graph puts a node's neighbours, and so most of one query's path, on nearby cache lines and
//! pages, which cuts cache and TLB misses on sets larger than the cache.

use std::collections::VecDeque;

/// Breadth-first order of `lists` (adjacency by id), starting at `start`, then from each
/// node not yet reached in id order. Returns the ids in their new order.
pub(crate) fn breadth_first(lists: &[Vec<u32>], start: Option<u32>) -> Vec<u32> {
    let n = lists.len();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut queue = VecDeque::new();
    let roots = start.into_iter().chain(0..n as u32);
    for root in roots {
        if seen[root as usize] {
            continue;
        }
        seen[root as usize] = true;
        queue.push_back(root);
        while let Some(id) = queue.pop_front() {
            order.push(id);
            for &next in &lists[id as usize] {
                if !seen[next as usize] {
                    seen[next as usize] = true;
                    queue.push_back(next);
                }
            }
        }
    }
    order
}

/// Reorders `rows` (`dim` values each) in place so that row `p` holds what row `order[p]`
/// held; `order` is a permutation of the row indices. Follows cycles with one row of scratch,
/// so a large set is not held twice.
pub(crate) fn permute_rows(rows: &mut [f32], dim: usize, order: &[u32]) {
    debug_assert_eq!(rows.len(), order.len() * dim);
    let mut placed = vec![false; order.len()];
    let mut scratch = vec![0.0f32; dim];
    for start in 0..order.len() {
        if placed[start] || order[start] as usize == start {
            continue;
        }
        scratch.copy_from_slice(&rows[start * dim..(start + 1) * dim]);
        let mut hole = start;
        loop {
            placed[hole] = true;
            let from = order[hole] as usize;
            if from == start {
                rows[hole * dim..(hole + 1) * dim].copy_from_slice(&scratch);
                break;
            }
            rows.copy_within(from * dim..(from + 1) * dim, hole * dim);
            hole = from;
        }
    }
}

/// A zeroed buffer for vectors, backed by transparent huge pages where Linux offers them:
/// random reads over hundreds of megabytes miss the TLB on nearly every vector with 4 kB pages.
pub(crate) fn huge_page_buffer<T: Copy + Default>(len: usize) -> Vec<T> {
    // A zero-filled `vec!` of this size comes from a fresh, untouched mmap (calloc), so the
    // advice below applies before any page is faulted in.
    let buffer = vec![T::default(); len];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&buffer);
    buffer
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(buffer: &[T]) {
    const HUGE: usize = 2 << 20;
    let start = buffer.as_ptr() as usize;
    let end = start + std::mem::size_of_val(buffer);
    let aligned = start.next_multiple_of(HUGE);
    if end > aligned + HUGE {
        let len = (end - aligned) / HUGE * HUGE;
        // SAFETY: the range lies inside `buffer`'s allocation; MADV_HUGEPAGE is only advice
        // and changes no contents. Failure (e.g. THP disabled) leaves ordinary pages.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breadth_first_is_a_permutation_from_the_start_node() {
        // Two components, 0-1-2 and 3-4, plus an isolated 5.
        let lists = vec![vec![1], vec![0, 2], vec![1], vec![4], vec![3], vec![]];
        let order = breadth_first(&lists, Some(2));
        assert_eq!(order, vec![2, 1, 0, 3, 4, 5]);
        assert_eq!(breadth_first(&lists, None), vec![0, 1, 2, 3, 4, 5]);
        assert!(breadth_first(&[], None).is_empty());
    }

    #[test]
    fn permute_rows_places_row_order_p_at_p() {
        let dim = 3;
        let order: Vec<u32> = vec![4, 2, 0, 3, 1, 6, 5];
        let mut rows: Vec<f32> = (0..order.len() * dim).map(|x| x as f32).collect();
        let original = rows.clone();
        permute_rows(&mut rows, dim, &order);
        for (p, &from) in order.iter().enumerate() {
            let from = from as usize;
            assert_eq!(
                rows[p * dim..(p + 1) * dim],
                original[from * dim..(from + 1) * dim]
            );
        }
    }

    #[test]
    fn huge_page_buffer_is_zeroed() {
        let buffer = huge_page_buffer::<f32>(3 << 20);
        assert_eq!(buffer.len(), 3 << 20);
        assert!(buffer.iter().all(|&x| x == 0.0));
    }
}
