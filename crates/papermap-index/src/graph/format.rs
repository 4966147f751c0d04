//! The graph file: a fixed header, six 64-byte-aligned sections, a footer. Little-endian.
//!
//! ```text
//! offset  size  header (192 bytes)
//!      0     8  magic "PMGRAPH\0"
//!      8     4  format version (1)
//!     12     4  header length (192)
//!     16     4  dim
//!     20     4  m (upper-layer links per node; layer 0 has 2m)
//!     24     8  rows (nodes)
//!     32     8  nodes with upper layers
//!     40     4  entry position (0xFFFF_FFFF when empty)
//!     44     4  entry level
//!     48    96  six (offset u64, length u64) pairs, in this order:
//!               id_at         u32 × rows          input row of each position
//!               layer0        u32 × rows·(1+2m)   per position: count, 2m neighbour positions
//!               upper_nodes   u32 × U             positions with upper layers, ascending
//!               upper_offsets u32 × (U+1)         word offsets into upper_lists
//!               upper_lists   u32 × W             per layer 1..=L of a node: count, m slots
//!               halves        u16 × rows·dim      f16 vectors by position
//!    144    48  zero
//! footer (16 bytes, at the very end)
//!      0     8  magic "PMGRAEND"
//!      8     8  bytes before the footer
//! ```
//!
//! Sections start on 64-byte boundaries, so a mapped (page-aligned) file is read in place as
//! `&[u32]` / `&[u16]` slices. Opening reads the header and the footer only: a truncated file
//! loses its footer, a foreign file its magic, a file of another shape fails the section
//! length checks. Link contents are not checked (that would read the whole file); the search
//! treats any out-of-range link as absent, so a damaged file gives poor answers, not a panic.

use std::io::{self, Write};
use std::ops::Range;

use super::GraphData;

/// The graph file format version this build writes and reads.
pub const GRAPH_FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"PMGRAPH\0";
const FOOTER_MAGIC: &[u8; 8] = b"PMGRAEND";
pub(crate) const HEADER_LEN: usize = 192;
const FOOTER_LEN: usize = 16;
const ALIGN: usize = 64;
const SECTIONS: usize = 6;
const NO_ENTRY: u32 = u32::MAX;

/// Why bytes are not a graph this build can open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Shorter than a header and a footer.
    #[error("graph file has {len} bytes, less than a header and footer; it was truncated")]
    TooShort {
        /// Length of the bytes.
        len: usize,
    },
    /// The header's magic is not papermap's.
    #[error("not a papermap graph file (bad magic); was another file put in its place?")]
    NotAGraph,
    /// Written by another format version.
    #[error("graph file format version {found}; this build reads version {supported}, rebuild the index or upgrade papermap-index")]
    UnsupportedVersion {
        /// Version in the header.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The footer is missing or records another length: the file was cut short or extended.
    #[error("graph file is {len} bytes but its footer is missing or records otherwise; it was truncated, rebuild the index")]
    Truncated {
        /// Length of the bytes.
        len: usize,
    },
    /// Header fields contradict each other or the section table.
    #[error("graph file is inconsistent: {detail}; rebuild the index")]
    Inconsistent {
        /// What is wrong.
        detail: String,
    },
    /// A valid graph of another shape than the caller's vectors or expectation.
    #[error("graph has {rows} rows of dimension {dim}, but {expected_rows} rows of dimension {expected_dim} were expected; the graph belongs to other vectors")]
    ShapeMismatch {
        /// Dimension the caller expects.
        expected_dim: usize,
        /// Rows the caller expects.
        expected_rows: usize,
        /// Dimension in the header.
        dim: usize,
        /// Rows in the header.
        rows: usize,
    },
    /// The bytes are not 4-byte aligned, so sections can not be read in place.
    #[error(
        "graph bytes start at a misaligned address; load them into AlignedBytes or map the file"
    )]
    Misaligned,
    /// The file is little-endian and this host is not.
    #[error("graph files are little-endian and this host is big-endian; it can not map them")]
    BigEndianHost,
}

/// Validated header fields and section byte ranges.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub dim: usize,
    pub m: usize,
    pub rows: usize,
    pub entry: Option<(u32, u8)>,
    /// id_at, layer0, upper_nodes, upper_offsets, upper_lists, halves.
    pub sections: [Range<usize>; SECTIONS],
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn inconsistent(detail: impl Into<String>) -> GraphError {
    GraphError::Inconsistent {
        detail: detail.into(),
    }
}

/// Byte lengths of the six sections of a graph of this shape.
fn section_lengths(
    rows: usize,
    dim: usize,
    m: usize,
    upper: usize,
    upper_words: usize,
) -> [usize; SECTIONS] {
    [
        rows * 4,
        rows * (1 + 2 * m) * 4,
        upper * 4,
        (upper + 1) * 4,
        upper_words * 4,
        rows * dim * 2,
    ]
}

/// Checks header and footer of `b` (O(1): the sections are not read).
pub(crate) fn parse(b: &[u8]) -> Result<Header, GraphError> {
    if cfg!(target_endian = "big") {
        return Err(GraphError::BigEndianHost);
    }
    if b.len() < HEADER_LEN + FOOTER_LEN {
        return Err(GraphError::TooShort { len: b.len() });
    }
    if &b[..8] != MAGIC {
        return Err(GraphError::NotAGraph);
    }
    let version = u32_at(b, 8);
    if version != GRAPH_FORMAT_VERSION {
        return Err(GraphError::UnsupportedVersion {
            found: version,
            supported: GRAPH_FORMAT_VERSION,
        });
    }
    let footer = &b[b.len() - FOOTER_LEN..];
    if &footer[..8] != FOOTER_MAGIC || u64_at(footer, 8) != (b.len() - FOOTER_LEN) as u64 {
        return Err(GraphError::Truncated { len: b.len() });
    }
    if !(b.as_ptr() as usize).is_multiple_of(4) {
        return Err(GraphError::Misaligned);
    }
    if u32_at(b, 12) as usize != HEADER_LEN {
        return Err(inconsistent(format!("header length {}", u32_at(b, 12))));
    }
    let (dim, m) = (u32_at(b, 16) as usize, u32_at(b, 20) as usize);
    let (rows, upper_count) = (u64_at(b, 24), u64_at(b, 32));
    if !(1..=65536).contains(&dim) || !(2..=128).contains(&m) {
        return Err(inconsistent(format!("dim {dim}, m {m}")));
    }
    if rows >= NO_ENTRY as u64 || upper_count > rows {
        return Err(inconsistent(format!(
            "{rows} rows, {upper_count} with upper layers"
        )));
    }
    let (rows, upper_count) = (rows as usize, upper_count as usize);
    let (entry, level) = (u32_at(b, 40), u32_at(b, 44));
    let entry = match (rows, entry) {
        (0, NO_ENTRY) => None,
        (_, e) if (e as usize) < rows && level <= super::build::MAX_LEVEL as u32 => {
            Some((e, level as u8))
        }
        _ => {
            return Err(inconsistent(format!(
                "entry {entry} at level {level} of {rows} rows"
            )))
        }
    };
    let payload = b.len() - FOOTER_LEN;
    let mut sections: [Range<usize>; SECTIONS] = Default::default();
    let mut end = HEADER_LEN;
    for (i, s) in sections.iter_mut().enumerate() {
        let (offset, len) = (u64_at(b, 48 + 16 * i), u64_at(b, 56 + 16 * i));
        let stop = offset.checked_add(len).filter(|&s| s <= payload as u64);
        if offset < end as u64 || !offset.is_multiple_of(ALIGN as u64) || stop.is_none() {
            return Err(inconsistent(format!(
                "section {i} at {offset}+{len} of {payload} bytes"
            )));
        }
        *s = offset as usize..(offset + len) as usize;
        end = s.end;
    }
    let upper_words = sections[4].len() / 4;
    let want = section_lengths(rows, dim, m, upper_count, upper_words);
    for (i, (s, want)) in sections.iter().zip(want).enumerate() {
        if s.len() != want {
            return Err(inconsistent(format!(
                "section {i} has {} bytes, a graph of {rows} rows × {dim} dims (m = {m}) needs {want}",
                s.len()
            )));
        }
    }
    // The last upper offset must close the lists: one word read, still O(1).
    if u32_at(b, sections[3].end - 4) as usize != upper_words {
        return Err(inconsistent("upper-layer offsets do not match their lists"));
    }
    Ok(Header {
        dim,
        m,
        rows,
        entry,
        sections,
    })
}

impl GraphData {
    fn layout(&self) -> (Vec<Range<usize>>, usize) {
        let lengths = section_lengths(
            self.rows(),
            self.dim,
            self.m,
            self.upper_nodes.len(),
            self.upper_lists.len(),
        );
        let mut at = HEADER_LEN;
        let ranges = lengths
            .iter()
            .map(|&len| {
                let start = at.next_multiple_of(ALIGN);
                at = start + len;
                start..at
            })
            .collect();
        (ranges, at + FOOTER_LEN)
    }

    /// Size of the file [`write`](Self::write) produces.
    pub fn byte_len(&self) -> usize {
        self.layout().1
    }

    /// Writes the graph file (see the module docs of `format` for the layout).
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let (ranges, total) = self.layout();
        let mut header = [0u8; HEADER_LEN];
        let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
        put(0, MAGIC);
        put(8, &GRAPH_FORMAT_VERSION.to_le_bytes());
        put(12, &(HEADER_LEN as u32).to_le_bytes());
        put(16, &(self.dim as u32).to_le_bytes());
        put(20, &(self.m as u32).to_le_bytes());
        put(24, &(self.rows() as u64).to_le_bytes());
        put(32, &(self.upper_nodes.len() as u64).to_le_bytes());
        let (entry, level) = self.entry.map_or((NO_ENTRY, 0), |(e, l)| (e, l as u32));
        put(40, &entry.to_le_bytes());
        put(44, &level.to_le_bytes());
        for (i, r) in ranges.iter().enumerate() {
            put(48 + 16 * i, &(r.start as u64).to_le_bytes());
            put(56 + 16 * i, &(r.len() as u64).to_le_bytes());
        }
        out.write_all(&header)?;
        let mut at = HEADER_LEN;
        let words: [&[u32]; 5] = [
            &self.id_at,
            &self.layer0,
            &self.upper_nodes,
            &self.upper_offsets,
            &self.upper_lists,
        ];
        let mut buf = Vec::with_capacity(1 << 16);
        for (i, r) in ranges.iter().enumerate() {
            out.write_all(&[0u8; ALIGN][..r.start - at])?;
            let mut emit = |chunk_bytes: &mut dyn Iterator<Item = u8>| -> io::Result<()> {
                buf.clear();
                buf.extend(chunk_bytes);
                out.write_all(&buf)
            };
            if i < 5 {
                for chunk in words[i].chunks(1 << 14) {
                    emit(&mut chunk.iter().flat_map(|w| w.to_le_bytes()))?;
                }
            } else {
                for chunk in self.halves.chunks(1 << 15) {
                    emit(&mut chunk.iter().flat_map(|h| h.to_le_bytes()))?;
                }
            }
            at = r.end;
        }
        out.write_all(FOOTER_MAGIC)?;
        out.write_all(&((total - FOOTER_LEN) as u64).to_le_bytes())
    }

    /// The file's bytes in an aligned buffer, ready for [`GraphView::new`](super::GraphView::new).
    pub fn into_bytes(self) -> super::AlignedBytes {
        let mut bytes = super::AlignedBytes::zeroed(self.byte_len());
        let mut cursor: &mut [u8] = bytes.as_mut();
        self.write(&mut cursor)
            .expect("the buffer is exactly as long as the file");
        bytes
    }
}
