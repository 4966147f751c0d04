//! A segment's metadata column: for every `field = value` term its papers carry, the sorted rows
//! that carry it (`seg000007.facets`), so a filter reads a few posting lists instead of each
//! candidate's JSON, and a rare filter is answered by scoring only its rows.
//!
//! Payload (framed, kind `facets`): `terms: u64`, then `terms` entries `(hash, start, len)` of
//! three u64 sorted by hash, then `postings: u64`, then `postings` u32 rows (each term's rows
//! ascending, deduplicated), zero-padded to 8 bytes. A term's hash is xxh3-64 of the field's
//! length (u64), the field and the value; the terms of a paper are those [`MetadataFilter`] matches (a string, a
//! number or a boolean as text, each element of an array). Two terms sharing a 64-bit hash would
//! share a list (about one chance in 10^7 for a million distinct terms); the list stays a superset
//! of each term's rows, never loses one, and search checks its hits against the filter itself.

use std::path::Path;

use papermap_corpus::Paper;
use papermap_store::{u64_at, FileEntry, FileWriter, Mapped};
use rayon::prelude::*;

use crate::error::{PaperMapError, Result};
use crate::filter::{paper_terms, MetadataFilter};

const KIND: &[u8; 8] = b"facets\0\0";
const VERSION: u32 = 1;

/// The hash a term is looked up by: the field's length first, so that no two (field, value)
/// pairs spell the same bytes.
fn term_hash(field: &str, value: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(field.len() as u64).to_le_bytes());
    h.update(field.as_bytes());
    h.update(value.as_bytes());
    h.digest()
}

/// Writes the metadata column of `papers` as `name`.
pub(crate) fn write(dir: &Path, name: &str, papers: &[Paper]) -> Result<FileEntry> {
    // (term hash, row) of every term of every paper, sorted: each term's rows end up together
    // and ascending.
    let mut pairs: Vec<(u64, u32)> = papers
        .par_iter()
        .enumerate()
        .flat_map_iter(|(row, paper)| {
            let mut hashes: Vec<u64> = paper_terms(paper)
                .map(|(field, value)| term_hash(field, &value))
                .collect();
            hashes.sort_unstable();
            hashes.dedup();
            hashes.into_iter().map(move |h| (h, row as u32))
        })
        .collect();
    pairs.par_sort_unstable();
    let mut table: Vec<u8> = Vec::new();
    let mut terms = 0u64;
    let mut start = 0usize;
    while start < pairs.len() {
        let hash = pairs[start].0;
        let end = start + pairs[start..].partition_point(|p| p.0 == hash);
        for v in [hash, start as u64, (end - start) as u64] {
            table.extend(v.to_le_bytes());
        }
        terms += 1;
        start = end;
    }
    let rows: Vec<u8> = pairs.iter().flat_map(|p| p.1.to_le_bytes()).collect();
    let pad = rows.len().next_multiple_of(8) - rows.len();
    let payload = (8 + table.len() + 8 + rows.len() + pad) as u64;
    let mut w = FileWriter::framed(dir, name, "facets", KIND, VERSION, payload)?;
    w.write_all(&terms.to_le_bytes())?;
    w.write_all(&table)?;
    w.write_all(&(pairs.len() as u64).to_le_bytes())?;
    w.write_all(&rows)?;
    w.write_all(&[0u8; 8][..pad])?;
    Ok(w.finish_framed()?)
}

/// A segment's metadata column, mapped; nothing is read until a filter asks.
#[derive(Debug)]
pub(crate) struct Facets {
    file: Mapped,
    terms: usize,
    postings: usize,
    rows: usize,
}

impl Facets {
    /// Maps the file of a segment of `rows` rows, checking its frame and table sizes.
    pub fn open(dir: &Path, entry: &FileEntry, rows: usize) -> Result<Facets> {
        let file = Mapped::open(dir, entry)?;
        let p = file.payload(KIND, VERSION)?;
        let damaged = |detail: &str| PaperMapError::corrupt(&file.path, detail.to_string());
        let terms = if p.len() >= 8 { u64_at(p, 0) } else { u64::MAX };
        let table_end = usize::try_from(terms)
            .ok()
            .and_then(|t| t.checked_mul(24))
            .and_then(|b| b.checked_add(16))
            .filter(|&end| end <= p.len())
            .ok_or_else(|| damaged("its term table is larger than the file"))?;
        let postings = u64_at(p, table_end - 8);
        let fits = usize::try_from(postings)
            .ok()
            .and_then(|n| n.checked_mul(4))
            .is_some_and(|b| b.next_multiple_of(8) == p.len() - table_end);
        if !fits {
            return Err(damaged("its row lists do not fill the file"));
        }
        Ok(Facets {
            terms: terms as usize,
            postings: postings as usize,
            rows,
            file,
        })
    }

    /// Reads every byte against the manifest's checksum.
    pub fn verify(&self, entry: &FileEntry) -> Result<()> {
        Ok(self.file.verify(entry)?)
    }

    /// The rows of one term, ascending (empty for a term no paper has).
    fn term_rows(&self, field: &str, value: &str) -> Result<Vec<u32>> {
        let p = self.file.payload(KIND, VERSION)?;
        let hash = term_hash(field, value);
        let entry = |i: usize| 8 + i * 24;
        let (mut lo, mut hi) = (0, self.terms);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if u64_at(p, entry(mid)) < hash {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        if lo == self.terms || u64_at(p, entry(lo)) != hash {
            return Ok(Vec::new());
        }
        let (start, len) = (u64_at(p, entry(lo) + 8), u64_at(p, entry(lo) + 16));
        let at = 8 + self.terms * 24 + 8;
        let in_range = start
            .checked_add(len)
            .is_some_and(|end| end <= self.postings as u64);
        if !in_range {
            let detail = format!("term {field}={value} points past its row lists");
            return Err(PaperMapError::corrupt(&self.file.path, detail));
        }
        let bytes = &p[at + start as usize * 4..at + (start + len) as usize * 4];
        let rows: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let ascending = rows.windows(2).all(|w| w[0] < w[1]);
        if rows.iter().any(|&r| r as usize >= self.rows) || !ascending {
            let detail = format!("term {field}={value} lists rows out of order or range");
            return Err(PaperMapError::corrupt(&self.file.path, detail));
        }
        Ok(rows)
    }

    /// The rows that meet every condition of `filter`, ascending.
    pub fn rows(&self, filter: &MetadataFilter) -> Result<Vec<u32>> {
        let mut lists = filter
            .conditions()
            .iter()
            .map(|(field, value)| self.term_rows(field, value))
            .collect::<Result<Vec<_>>>()?;
        // Intersect from the shortest list: the work is bounded by the rarest condition.
        lists.sort_by_key(Vec::len);
        let mut lists = lists.into_iter();
        let mut rows = lists.next().unwrap_or_default();
        for other in lists {
            rows.retain(|r| other.binary_search(r).is_ok());
        }
        Ok(rows)
    }
}
