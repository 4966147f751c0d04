//! Changing a [`PaperMap`]: adding papers (with vectors given or embedded), removing them, and
//! saving only what changed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use papermap_corpus::Paper;
use papermap_index::l2_normalize;
use rayon::prelude::*;

use crate::error::{PaperMapError, Result};
use crate::library::{is_set, Loc};
use crate::library_topics::TopicsSlot;
use crate::store::segment::count_set;
use crate::store::{
    self, segment::text_hash, NewSegment, Snapshot, TextHash, Topics, MERGE_FACTOR,
};
use crate::{AddReport, PaperMap};

/// One incoming paper: its text hash and where the library holds its id now, if it does.
pub(crate) struct Pending {
    /// Position in the caller's batch.
    pub at: usize,
    pub paper: Paper,
    pub hash: TextHash,
    pub existing: Option<Loc>,
}

impl Pending {
    /// Whether the library already holds this text for this id.
    pub fn unchanged(&self, map: &PaperMap) -> bool {
        self.existing
            .is_some_and(|loc| map.text_hash_at(loc) == self.hash)
    }
}

/// Saves [`PaperMap::save_rebasing`] retries after another writer saved the same library first.
pub const SAVE_RETRIES: usize = 3;

impl PaperMap {
    /// Appends a paper (whose text hashes to `hash`) with its vector to the fresh papers.
    pub(crate) fn push_fresh(&mut self, paper: Paper, hash: TextHash, row: &[f32]) {
        let fresh = &mut self.fresh;
        fresh.positions.insert(paper.id.clone(), fresh.papers.len());
        fresh.hashes.push(hash);
        fresh.papers.push(paper);
        fresh.vectors.extend_from_slice(row);
        fresh.live.push(true);
        fresh.index = OnceLock::new();
    }

    /// Marks the paper at `loc` removed.
    fn kill(&mut self, loc: Loc) {
        match loc {
            Loc::Segment(s, row) => self.deleted[s][row / 64] |= 1 << (row % 64),
            Loc::Fresh(row) => {
                self.fresh.live[row] = false;
                let id = &self.fresh.papers[row].id;
                if self.fresh.positions.get(id) == Some(&row) {
                    self.fresh.positions.remove(id);
                }
                self.fresh.index = OnceLock::new();
            }
        }
    }

    /// Adds papers with vectors you computed with this library's model (`vectors` row-major,
    /// one row per paper; normalised here). Papers already present with the same text are
    /// left as they are apart from their other fields; a changed text replaces the vector.
    pub fn add_embedded(&mut self, papers: Vec<Paper>, vectors: &[f32]) -> Result<AddReport> {
        let dim = self.dim();
        if vectors.len() != papers.len() * dim {
            return Err(PaperMapError::VectorShape {
                papers: papers.len(),
                values: vectors.len(),
                dim,
                model: self.fingerprint.name.clone(),
            });
        }
        let pending = self.plan(papers)?;
        let mut rows = Vec::with_capacity(pending.len() * dim);
        for p in &pending {
            rows.extend_from_slice(&vectors[p.at * dim..(p.at + 1) * dim]);
        }
        self.apply(pending, rows)
    }

    /// Incoming papers with where their ids are now. A repeated id: the last copy wins.
    pub(crate) fn plan(&self, papers: Vec<Paper>) -> Result<Vec<Pending>> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, p) in papers.iter().enumerate() {
            last.insert(p.id.as_str(), i);
        }
        let keep: Vec<bool> = (0..papers.len())
            .map(|i| last[papers[i].id.as_str()] == i)
            .collect();
        drop(last);
        // sha256 of every text: the one heavy step of planning, on all cores.
        let hashes: Vec<TextHash> = papers.par_iter().map(text_hash).collect();
        papers
            .into_iter()
            .zip(hashes)
            .enumerate()
            .filter(|(at, _)| keep[*at])
            .map(|(at, (paper, hash))| {
                Ok(Pending {
                    at,
                    hash,
                    existing: self.locate(&paper.id)?,
                    paper,
                })
            })
            .collect()
    }

    /// Stores `pending[i]` with row `i` of `rows`. Checks every row before changing anything.
    pub(crate) fn apply(&mut self, pending: Vec<Pending>, mut rows: Vec<f32>) -> Result<AddReport> {
        let dim = self.dim();
        for (p, row) in pending.iter().zip(rows.chunks_exact_mut(dim)) {
            if p.unchanged(self) {
                continue;
            }
            l2_normalize(row).map_err(|e| PaperMapError::BadVector {
                id: p.paper.id.clone(),
                reason: e.to_string(),
            })?;
        }
        let mut report = AddReport::default();
        for (p, row) in pending.into_iter().zip(rows.chunks_exact(dim)) {
            match p.existing {
                Some(loc) if self.text_hash_at(loc) == p.hash => {
                    report.unchanged += 1;
                    // Other fields may differ: the paper is stored again with its vector.
                    if self.paper_at(loc)? != p.paper {
                        let vector = self.vector_at(loc).to_vec();
                        self.kill(loc);
                        self.push_fresh(p.paper, p.hash, &vector);
                    }
                }
                Some(loc) => {
                    self.kill(loc);
                    self.push_fresh(p.paper, p.hash, row);
                    report.updated += 1;
                }
                None => {
                    self.push_fresh(p.paper, p.hash, row);
                    report.added += 1;
                }
            }
        }
        // Topics stay: new and changed papers take their nearest topic (`topic_of`), as the
        // fitted ones did; a refit is explicit (`refit_topics`).
        Ok(report)
    }

    /// Removes the papers with these ids; returns how many the library held. Unknown ids are
    /// ignored. Removed papers are never returned again; [`save`](Self::save) records them.
    pub fn remove<S: AsRef<str>>(&mut self, ids: impl IntoIterator<Item = S>) -> Result<usize> {
        let mut removed = 0;
        for id in ids {
            if let Some(loc) = self.locate(id.as_ref())? {
                self.kill(loc);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Checks, without writing anything, that [`PaperMap::save`] would accept `dir`: new, empty,
    /// or a library of the same model. Lets a caller refuse a foreign directory before long work.
    ///
    /// Also remembers what `dir` holds now, so that a later [`save`](Self::save) there fails
    /// with [`PaperMapError::Conflict`] if another writer saved a library in between.
    pub fn check_save_target(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let generation = store::check_save_target(dir, &self.fingerprint)?;
        self.origins.record(dir, generation);
        Ok(())
    }

    /// Writes the library to `dir`: into the directory it was opened from, only what changed
    /// (a segment of the papers added, the removals, the topics); elsewhere, all of it. Killed
    /// at any moment, `dir` still opens as its previous state. `dir` must be new, empty, or a
    /// library of the same model.
    ///
    /// Where this map was opened from or saved to `dir` before, `dir` must still hold what it
    /// saw then: if another writer saved in between, this is [`PaperMapError::Conflict`] and
    /// nothing is written; [`rebase`](Self::rebase) then carries this map's changes over.
    pub fn save(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_with_progress(dir, |_, _| {})
    }

    /// [`save`](Self::save), calling `progress(done, total)` while an HNSW graph is built for
    /// the papers added (minutes for a million of them).
    pub fn save_with_progress(
        &mut self,
        dir: impl AsRef<Path>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<()> {
        let dir = dir.as_ref();
        // The save is planned into the snapshot it commits; `self` changes only after the commit,
        // so a refused save (a conflict, a full disk) leaves the map exactly as it was and
        // `rebase` still sees every segment it opened.
        let merged = self.crowded_tier()?;
        let outgoing = self.outgoing(&merged)?;
        let dim = self.dim();
        // Once the library uses HNSW, a segment of at least segment_graph_rows (or of the HNSW
        // threshold, where a builder set that lower) gets a graph: else every query would scan
        // it whole (DEFAULT_SEGMENT_GRAPH_ROWS says why). The outgoing papers are live papers of
        // this map, so a segment at the threshold implies a library at it.
        let graph = self.len() >= self.hnsw_threshold
            && outgoing.papers.len() >= self.segment_graph_rows.min(self.hnsw_threshold);
        let topics = match &self.topics {
            TopicsSlot::None => None,
            TopicsSlot::Stored(file, ..) => Some(Topics::Stored(file)),
            TopicsSlot::Model(model) => Some(Topics::Model(model)),
        };
        let snapshot = Snapshot {
            fingerprint: &self.fingerprint,
            segments: self
                .segments
                .iter()
                .zip(&self.deleted)
                .enumerate()
                .filter(|(s, _)| !merged.contains(s))
                .map(|(_, (s, d))| (s, d.as_slice()))
                .collect(),
            fresh: NewSegment {
                papers: &outgoing.papers,
                vectors: &outgoing.vectors,
                hashes: &outgoing.hashes,
                dim,
                graph: graph.then_some(self.hnsw_params),
            },
            topics,
        };
        let generation = store::save(dir, &snapshot, self.origins.expected(dir), &mut progress)?;
        drop(outgoing);
        // The map now reads what it wrote: fresh papers became a mapped segment.
        let opened = store::open(dir)?;
        self.load(opened);
        self.origins.record(dir, generation);
        Ok(())
    }

    /// [`save_with_progress`](Self::save_with_progress) that, when another writer saved `dir`
    /// first, [rebases](Self::rebase) onto its library (this map's changes kept, vectors reused)
    /// and saves again, up to [`SAVE_RETRIES`] times; returns how many times it rebased. What
    /// `papermap index` and the server's writes do: never overwrite, never give up on one race.
    pub fn save_rebasing(
        &mut self,
        dir: impl AsRef<Path>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<usize> {
        let dir = dir.as_ref();
        let mut rebased = 0;
        loop {
            match self.save_with_progress(dir, &mut progress) {
                Ok(()) => return Ok(rebased),
                Err(PaperMapError::Conflict { .. }) if rebased < SAVE_RETRIES => {
                    rebased += 1;
                    self.rebase(dir)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a [`PaperMapError::Conflict`]: opens `dir` as the other writer left it and applies
    /// this map's unsaved changes on top (papers added or replaced, with their vectors, and
    /// removals). Nothing is embedded again. Then [`save`](Self::save) again.
    pub fn rebase(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let mut removed = Vec::new();
        for (s, segment) in self.segments.iter().enumerate() {
            // Rows this map removed that the segment's own bitset does not hold yet.
            for (w, (mine, saved)) in self.deleted[s].iter().zip(&segment.deleted).enumerate() {
                let mut fresh_bits = mine & !saved;
                while fresh_bits != 0 {
                    let row = w * 64 + fresh_bits.trailing_zeros() as usize;
                    removed.push(segment.paper(row)?.id);
                    fresh_bits &= fresh_bits - 1;
                }
            }
        }
        let fresh = std::mem::take(&mut self.fresh);
        let rows: Vec<usize> = (0..fresh.papers.len()).filter(|&r| fresh.live[r]).collect();
        let dim = self.dim();
        let vectors: Vec<f32> = rows
            .iter()
            .flat_map(|&r| fresh.vectors[r * dim..(r + 1) * dim].iter().copied())
            .collect();
        let papers: Vec<Paper> = rows.iter().map(|&r| fresh.papers[r].clone()).collect();
        let opened = store::open(dir)?;
        let generation = opened.generation;
        self.load(opened);
        self.origins.record(dir, generation);
        self.remove(removed)?;
        self.add_embedded(papers, &vectors)?;
        Ok(())
    }

    /// The papers a save writes as its new segment: the live fresh papers, then the live rows
    /// of the segments `merged` (whose ids the fresh papers do not replace). Borrowed when
    /// nothing is merged and no fresh row is dead (the common case: no copy of the vectors).
    fn outgoing(&self, merged: &[usize]) -> Result<Outgoing<'_>> {
        let fresh = &self.fresh;
        if merged.is_empty() && fresh.live.iter().all(|&l| l) {
            return Ok(Outgoing {
                papers: Cow::Borrowed(&fresh.papers),
                hashes: Cow::Borrowed(&fresh.hashes),
                vectors: Cow::Borrowed(&fresh.vectors),
            });
        }
        let dim = self.dim();
        let (mut papers, mut hashes, mut vectors) = (Vec::new(), Vec::new(), Vec::new());
        for row in (0..fresh.papers.len()).filter(|&r| fresh.live[r]) {
            papers.push(fresh.papers[row].clone());
            hashes.push(fresh.hashes[row]);
            vectors.extend_from_slice(&fresh.vectors[row * dim..(row + 1) * dim]);
        }
        for &s in merged {
            let segment = &self.segments[s];
            for row in (0..segment.rows()).filter(|&r| !is_set(&self.deleted[s], r)) {
                let paper = segment.paper(row)?;
                // An id the fresh papers replaced stays replaced.
                if !fresh.positions.contains_key(&paper.id) {
                    papers.push(paper);
                    hashes.push(segment.text_hash(row));
                    vectors.extend_from_slice(segment.vector(row));
                }
            }
        }
        Ok(Outgoing {
            papers: Cow::Owned(papers),
            hashes: Cow::Owned(hashes),
            vectors: Cow::Owned(vectors),
        })
    }

    /// Size-tiered merging: when [`MERGE_FACTOR`] segments (the fresh papers counting as one)
    /// hold a number of live papers of the same order (powers of the factor), the save writes
    /// their papers again as one segment, without their removed rows. Keeps the segment count,
    /// and so the cost of a query, logarithmic in the library's size. Returns the segments to
    /// merge (ascending; empty: none), each read against its checksums.
    fn crowded_tier(&self) -> Result<Vec<usize>> {
        let tier = |n: usize| (n.max(1) as f64).log(MERGE_FACTOR as f64).floor() as u32;
        let live = |s: usize| self.segments[s].rows() - count_set(&self.deleted[s]);
        let fresh_tier = tier(self.fresh.live.iter().filter(|&&l| l).count());
        let mut by_tier: HashMap<u32, Vec<usize>> = HashMap::new();
        for s in 0..self.segments.len() {
            by_tier.entry(tier(live(s))).or_default().push(s);
        }
        let counts_fresh = !self.fresh.papers.is_empty();
        let Some(mut group) = by_tier
            .into_iter()
            .filter(|(t, g)| {
                g.len() + usize::from(counts_fresh && *t == fresh_tier) >= MERGE_FACTOR
            })
            .map(|(_, g)| g)
            .min_by_key(|g| g[0])
        else {
            return Ok(Vec::new());
        };
        group.sort_unstable();
        // A merge rewrites what it reads: it reads every byte against its checksum first, so a
        // damaged file is reported rather than copied into a new, validly checksummed segment.
        for &s in &group {
            let segment = &self.segments[s];
            segment.verify(segment.dir())?;
        }
        Ok(group)
    }
}

/// See [`PaperMap::outgoing`].
struct Outgoing<'a> {
    papers: Cow<'a, [Paper]>,
    hashes: Cow<'a, [TextHash]>,
    vectors: Cow<'a, [f32]>,
}
