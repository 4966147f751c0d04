//! The topics files of a library, format 4: the topic table and the topic rows.
//!
//! `topics.gN.pmt` (kind `topics`, version 2) is the topic model as JSON without its per-paper
//! arrays: topics, keywords, labels, centroids, groups, configuration. It is O(k) bytes, so
//! `papermap topics` and every topic lookup read it without touching the papers.
//! `topics.gN.pmr` (kind `toprows`, version 1) holds the per-paper arrays of the fit as binary
//! arrays, mapped: each fitted paper's topic (u32), id and kept map position (two f32). Only what
//! needs every paper (`map`, `check`, the full model) reads it, as arrays, never as JSON.
//!
//! Rows payload, little-endian: `n: u64, id_bytes: u64, flags: u32 (bit 0: positions), 0: u32`,
//! `n × u32` topics, padding to 8, `(n + 1) × u64` id offsets (0 first, `id_bytes` last),
//! the ids' UTF-8, padding to 4, and with positions `n × 2 × f32`. Every length is checked
//! before it is used: any byte sequence decodes or is refused, never panics.
//!
//! Libraries of format 3 have one `topics.gN.pmt` of version 1, the whole model as JSON (2 and
//! older: `topics.gN.json`, unframed): read as they are, rewritten in this form by the next save.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use papermap_store::{FaultPoint, FileEntry, FileWriter, Mapped};
use papermap_topics::{StoredLayout, TopicModel};

use crate::error::{PaperMapError, Result};

const TABLE_KIND: &[u8; 8] = b"topics\0\0";
/// 2: without the per-paper arrays (they are in the rows file); 1: the whole model.
const TABLE_VERSION: u32 = 2;
const ROWS_KIND: &[u8; 8] = b"toprows\0";
const ROWS_VERSION: u32 = 1;
const HAS_POSITIONS: u32 = 1;
const ROWS_HEAD: usize = 24;

/// The per-paper arrays of a fit, aligned: the rows file's content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TopicRows {
    pub doc_ids: Vec<String>,
    pub topics: Vec<u32>,
    pub positions: Option<Vec<[f32; 2]>>,
}

const fn pad(len: usize, to: usize) -> usize {
    (to - len % to) % to
}

/// The rows file's payload. Panics unless topics (and positions) are one per id.
pub(crate) fn encode_rows(rows: &TopicRows) -> Vec<u8> {
    let n = rows.doc_ids.len();
    assert_eq!(rows.topics.len(), n, "one topic per row");
    assert!(
        rows.positions.as_ref().is_none_or(|p| p.len() == n),
        "one position per row"
    );
    let id_bytes: usize = rows.doc_ids.iter().map(String::len).sum();
    let mut out = Vec::with_capacity(ROWS_HEAD + n * 20 + id_bytes + 16);
    out.extend_from_slice(&(n as u64).to_le_bytes());
    out.extend_from_slice(&(id_bytes as u64).to_le_bytes());
    let flags = if rows.positions.is_some() {
        HAS_POSITIONS
    } else {
        0
    };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    rows.topics
        .iter()
        .for_each(|t| out.extend_from_slice(&t.to_le_bytes()));
    out.resize(out.len() + pad(out.len(), 8), 0);
    let mut offset = 0u64;
    out.extend_from_slice(&offset.to_le_bytes());
    for id in &rows.doc_ids {
        offset += id.len() as u64;
        out.extend_from_slice(&offset.to_le_bytes());
    }
    rows.doc_ids
        .iter()
        .for_each(|id| out.extend_from_slice(id.as_bytes()));
    out.resize(out.len() + pad(out.len(), 4), 0);
    for p in rows.positions.iter().flatten() {
        out.extend_from_slice(&p[0].to_le_bytes());
        out.extend_from_slice(&p[1].to_le_bytes());
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Decodes a rows payload of a model with `k` topics; the error says what is wrong.
pub(crate) fn decode_rows(b: &[u8], k: usize) -> std::result::Result<TopicRows, String> {
    if b.len() < ROWS_HEAD {
        return Err(format!("{} bytes, shorter than the rows header", b.len()));
    }
    let (n, id_bytes) = (u64_at(b, 0), u64_at(b, 8));
    let (flags, reserved) = (u32_at(b, 16), u32_at(b, 20));
    if flags & !HAS_POSITIONS != 0 || reserved != 0 {
        return Err(format!("unknown flags {flags:#x}/{reserved:#x}"));
    }
    // Every size in u64 with overflow checks, so a huge `n` is refused, not allocated.
    let size = |n: u64, id_bytes: u64| -> Option<(usize, usize, usize, usize)> {
        let topics_end = (ROWS_HEAD as u64).checked_add(n.checked_mul(4)?)?;
        let offsets = topics_end.checked_add(topics_end % 8)?; // ROWS_HEAD is 8-aligned
        let ids = offsets.checked_add(n.checked_add(1)?.checked_mul(8)?)?;
        let ids_end = ids.checked_add(id_bytes)?;
        let positions = ids_end.checked_add((4 - ids_end % 4) % 4)?;
        let end = match flags & HAS_POSITIONS {
            0 => positions,
            _ => positions.checked_add(n.checked_mul(8)?)?,
        };
        (end == b.len() as u64).then_some((
            offsets as usize,
            ids as usize,
            ids_end as usize,
            positions as usize,
        ))
    };
    let Some((offsets, ids, ids_end, positions)) = size(n, id_bytes) else {
        return Err(format!(
            "{} bytes do not hold {n} rows with {id_bytes} bytes of ids",
            b.len()
        ));
    };
    let n = n as usize;
    let mut topics = Vec::with_capacity(n);
    for row in 0..n {
        let topic = u32_at(b, ROWS_HEAD + row * 4);
        if topic as usize >= k {
            return Err(format!("row {row} has topic {topic} of {k}"));
        }
        topics.push(topic);
    }
    let text = &b[ids..ids_end];
    let mut doc_ids = Vec::with_capacity(n);
    let mut start = u64_at(b, offsets);
    if start != 0 {
        return Err("id offsets do not start at 0".into());
    }
    for row in 0..n {
        let end = u64_at(b, offsets + (row + 1) * 8);
        if end < start || end > text.len() as u64 {
            return Err(format!("id offsets damaged at row {row}"));
        }
        let id = std::str::from_utf8(&text[start as usize..end as usize])
            .map_err(|_| format!("id of row {row} is not UTF-8"))?;
        doc_ids.push(id.to_string());
        start = end;
    }
    if start != text.len() as u64 {
        return Err("id offsets do not end at the ids' length".into());
    }
    let positions = (flags & HAS_POSITIONS != 0)
        .then(|| {
            (0..n)
                .map(|row| {
                    let at = positions + row * 8;
                    let p = [
                        f32::from_bits(u32_at(b, at)),
                        f32::from_bits(u32_at(b, at + 4)),
                    ];
                    match p.iter().all(|v| v.is_finite()) {
                        true => Ok(p),
                        false => Err(format!("position of row {row} is not finite")),
                    }
                })
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(TopicRows {
        doc_ids,
        topics,
        positions,
    })
}

/// The model without its per-paper arrays: what the table file holds.
fn table_of(m: &TopicModel) -> TopicModel {
    TopicModel {
        format_version: m.format_version,
        dimensions: m.dimensions,
        variant: m.variant,
        topics: m.topics.clone(),
        assignments: Vec::new(),
        doc_ids: Vec::new(),
        inertia: m.inertia,
        k_scores: m.k_scores.clone(),
        config: m.config.clone(),
        groups: m.groups.clone(),
        layout: m.layout.as_ref().map(|l| StoredLayout {
            positions: Vec::new(),
            neighbourhood_preservation: l.neighbourhood_preservation,
        }),
    }
}

/// Writes `model` as the table and rows files of `generation`; returns their entries.
pub(crate) fn write(
    dir: &Path,
    generation: u64,
    model: &TopicModel,
    fault: &mut FaultPoint,
) -> Result<(FileEntry, FileEntry)> {
    // The fields are public: a model put together by hand is checked before it is written.
    let n = model.doc_ids.len();
    if model.assignments.len() != n
        || model.assignments.iter().any(|&t| t >= model.topics.len())
        || model
            .layout
            .as_ref()
            .is_some_and(|l| l.positions.len() != n)
    {
        let detail = "assignments or positions do not match the documents or the topics";
        return Err(papermap_topics::TopicError::CorruptModel(detail.into()).into());
    }
    let table = table_of(model).to_json();
    let name = format!("topics.g{generation:06}.pmt");
    let len = table.len() as u64;
    let mut w = FileWriter::framed(dir, &name, "topics", TABLE_KIND, TABLE_VERSION, len)?;
    w.write_all(table.as_bytes())?;
    let table = w.finish_framed()?;
    fault.step();
    let rows = encode_rows(&TopicRows {
        doc_ids: model.doc_ids.clone(),
        topics: model.assignments.iter().map(|&t| t as u32).collect(),
        positions: model.layout.as_ref().map(|l| l.positions.clone()),
    });
    let name = format!("topics.g{generation:06}.pmr");
    let len = rows.len() as u64;
    let mut w = FileWriter::framed(dir, &name, "topic_rows", ROWS_KIND, ROWS_VERSION, len)?;
    w.write_all(&rows)?;
    let rows = w.finish_framed()?;
    fault.step();
    Ok((table, rows))
}

/// A library's topics files, mapped at open (so a later save that deletes them cannot take them
/// away), parsed when first needed.
#[derive(Debug, Clone)]
pub(crate) struct TopicsFile {
    dir: PathBuf,
    table: FileEntry,
    rows: Option<FileEntry>,
    table_file: Arc<Mapped>,
    rows_file: Option<Arc<Mapped>>,
}

impl TopicsFile {
    /// Maps the files a manifest names.
    pub fn open(dir: &Path, table: FileEntry, rows: Option<FileEntry>) -> Result<TopicsFile> {
        let rows_file = match &rows {
            Some(entry) => Some(Arc::new(Mapped::open(dir, entry)?)),
            None => None,
        };
        Ok(TopicsFile {
            table_file: Arc::new(Mapped::open(dir, &table)?),
            dir: dir.into(),
            table,
            rows,
            rows_file,
        })
    }

    /// The table file's path (what errors name).
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.table.name)
    }

    /// The manifest entries: table, rows.
    pub fn entries(&self) -> (FileEntry, Option<FileEntry>) {
        (self.table.clone(), self.rows.clone())
    }

    /// Whether a save into `here` (canonical) keeps these files as they are: they are there,
    /// and in this format (older ones are rewritten).
    pub fn current_in(&self, here: Option<&Path>) -> bool {
        self.rows.is_some() && self.dir.canonicalize().ok().as_deref() == here
    }

    /// The table: the model, its per-paper arrays empty where they are in the rows file.
    pub fn load_table(&self) -> Result<TopicModel> {
        let file = &self.table_file;
        file.verify(&self.table)?;
        let bytes = if self.table.name.ends_with(".json") {
            file.bytes() // format 2 and older: unframed
        } else if self.rows.is_some() {
            file.payload(TABLE_KIND, TABLE_VERSION)?
        } else {
            // Format 3: version 1, the whole model. A newer table needs its rows file.
            let version = file
                .bytes()
                .get(16..20)
                .map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]));
            if version == Some(TABLE_VERSION) {
                let detail = "a topic table whose rows file the manifest does not name";
                return Err(PaperMapError::corrupt(&file.path, detail));
            }
            file.payload(TABLE_KIND, 1)?
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|_| PaperMapError::corrupt(&file.path, "not UTF-8"))?;
        TopicModel::from_json(text).map_err(|e| PaperMapError::corrupt(&file.path, e.to_string()))
    }

    /// The whole model: the table with the rows merged in.
    pub fn load(&self) -> Result<TopicModel> {
        let mut model = self.load_table()?;
        let (Some(entry), Some(file)) = (&self.rows, &self.rows_file) else {
            return Ok(model); // an older library: the table held everything
        };
        file.verify(entry)?;
        let corrupt = |detail: String| PaperMapError::corrupt(&file.path, detail);
        let payload = file.payload(ROWS_KIND, ROWS_VERSION)?;
        let rows = decode_rows(payload, model.topics.len()).map_err(corrupt)?;
        match (&mut model.layout, rows.positions) {
            (Some(layout), Some(positions)) => layout.positions = positions,
            (None, None) => {}
            (Some(_), None) => return Err(corrupt("the kept map's positions are missing".into())),
            (None, Some(_)) => return Err(corrupt("positions without a kept map".into())),
        }
        model.assignments = rows.topics.into_iter().map(|t| t as usize).collect();
        model.doc_ids = rows.doc_ids;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows() -> impl Strategy<Value = TopicRows> {
        (0usize..40, any::<bool>()).prop_flat_map(|(n, with_positions)| {
            (
                proptest::collection::vec(".{0,12}", n),
                proptest::collection::vec(0u32..7, n),
                proptest::collection::vec((-1e6f32..1e6, -1e6f32..1e6), n),
            )
                .prop_map(move |(doc_ids, topics, positions)| TopicRows {
                    doc_ids,
                    topics,
                    positions: with_positions
                        .then(|| positions.into_iter().map(|(x, y)| [x, y]).collect()),
                })
        })
    }

    proptest! {
        #[test]
        fn rows_round_trip(rows in rows()) {
            prop_assert_eq!(decode_rows(&encode_rows(&rows), 7), Ok(rows));
        }

        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_rows(&bytes, 5);
        }

        #[test]
        fn a_changed_byte_decodes_or_is_refused(rows in rows(), at in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = encode_rows(&rows);
            let at = at % bytes.len();
            bytes[at] = byte;
            if let Ok(decoded) = decode_rows(&bytes, 7) {
                prop_assert_eq!(decoded.doc_ids.len(), decoded.topics.len());
                prop_assert!(decoded.topics.iter().all(|&t| t < 7));
            }
        }

        #[test]
        fn a_truncated_payload_is_refused(rows in rows(), cut in 1usize..64) {
            let bytes = encode_rows(&rows);
            let cut = cut.min(bytes.len());
            prop_assert!(decode_rows(&bytes[..bytes.len() - cut], 7).is_err());
        }
    }

    #[test]
    fn topics_beyond_k_are_refused() {
        let rows = TopicRows {
            doc_ids: vec!["a".into(), "b".into()],
            topics: vec![0, 3],
            positions: None,
        };
        let err = decode_rows(&encode_rows(&rows), 3).unwrap_err();
        assert!(err.contains("row 1 has topic 3"), "{err}");
    }

    #[test]
    fn a_huge_row_count_is_refused_without_allocating() {
        let mut bytes = encode_rows(&TopicRows {
            doc_ids: vec![],
            topics: vec![],
            positions: None,
        });
        bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_rows(&bytes, 3).unwrap_err().contains("do not hold"));
    }
}
