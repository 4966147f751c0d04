//! Filtered search: a segment's metadata column names the rows a filter accepts, so a filter
//! costs a few posting lists instead of one JSON parse per visited candidate, and a rare filter
//! (fewer rows than the HNSW threshold) is answered exactly by scoring only those rows: the time
//! is bounded by the matches, not by the library. Segments without a column (written before it
//! existed) and the unsaved papers are filtered paper by paper, as before.

use rayon::prelude::*;

use crate::error::Result;
use crate::filter::MetadataFilter;
use crate::index::dot;
use crate::library::{is_set, Loc};
use crate::PaperMap;

impl PaperMap {
    /// The best `k` papers for a normalised `query` among those meeting `filter`:
    /// (score, place), best first.
    pub(crate) fn filtered_nearest(
        &self,
        query: &[f32],
        k: usize,
        filter: &MetadataFilter,
    ) -> Result<Vec<(f32, Loc)>> {
        let ef = self.hnsw_params.ef_search;
        let mut hits = Vec::new();
        for (s, segment) in self.segments.iter().enumerate() {
            let deleted = &self.deleted[s];
            let found = match segment.filter_rows(filter)? {
                Some(rows) => {
                    let live: Vec<u32> = rows
                        .into_iter()
                        .filter(|&r| !is_set(deleted, r as usize))
                        .collect();
                    // A column's list may hold a row of a colliding term (one chance in ~2^64 per
                    // pair): hits are checked against the filter itself, best first, until k hold.
                    let holds = |row: usize| segment.paper(row).is_ok_and(|p| filter.matches(&p));
                    if live.len() < self.hnsw_threshold || !segment.has_graph() {
                        let ranked = by_score(&live, |row| dot(query, segment.vector(row)));
                        ranked
                            .into_iter()
                            .filter(|&(_, row)| holds(row))
                            .take(k)
                            .collect()
                    } else {
                        let mut accepted = vec![0u64; segment.rows().div_ceil(64)];
                        for &r in &live {
                            accepted[r as usize / 64] |= 1 << (r % 64);
                        }
                        let found = segment.search(query, k, ef, &|row| is_set(&accepted, row))?;
                        found.into_iter().filter(|&(_, row)| holds(row)).collect()
                    }
                }
                None => segment.search(query, k, ef, &|row| {
                    !is_set(deleted, row) && segment.paper(row).is_ok_and(|p| filter.matches(&p))
                })?,
            };
            hits.extend(
                found
                    .into_iter()
                    .map(|(score, row)| (score, Loc::Segment(s, row))),
            );
        }
        let fresh = self.fresh_nearest(query, k, ef, &|loc| {
            self.paper_at(loc).is_ok_and(|p| filter.matches(&p))
        })?;
        hits.extend(fresh);
        hits.sort_by(|a, b| b.0.total_cmp(&a.0));
        hits.truncate(k);
        Ok(hits)
    }
}

/// `rows` by `score`, best first (ties by row), scored on all cores.
fn by_score(rows: &[u32], score: impl Fn(usize) -> f32 + Sync) -> Vec<(f32, usize)> {
    let mut scored: Vec<(f32, usize)> = rows
        .par_iter()
        .map(|&r| (score(r as usize), r as usize))
        .collect();
    scored.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
}
