//! Vectors as a `.npy` file (format 1.0, `<f4`, C order), so that
//! `numpy.load(path, mmap_mode="r")` reads a library's embeddings without papermap.

use std::path::Path;

use crate::error::{Result, StoreError};
use crate::files::{FileEntry, FileWriter, Mapped};

const MAGIC: &[u8] = b"\x93NUMPY\x01\x00";

/// The header numpy writes for an `rows × dim` float32 array, padded so data starts at a
/// multiple of 64 bytes.
pub fn header(rows: usize, dim: usize) -> Vec<u8> {
    let mut dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    while !(MAGIC.len() + 2 + dict.len() + 1).is_multiple_of(64) {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out
}

/// Writes `rows × dim` vectors as a new `.npy` data file of role `vectors`.
pub fn write(
    dir: &Path,
    name: &str,
    vectors: &[f32],
    rows: usize,
    dim: usize,
) -> Result<FileEntry> {
    let mut w = FileWriter::create(dir, name, "vectors")?;
    w.write_all(&header(rows, dim))?;
    for chunk in vectors.chunks(1 << 16) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        w.write_all(&bytes)?;
    }
    w.finish()
}

/// Checks that `file` is the `.npy` of `rows × dim` float32 values; returns where the data
/// starts.
pub fn check(file: &Mapped, rows: usize, dim: usize) -> Result<usize> {
    let expected = header(rows, dim);
    let b = file.bytes();
    if !b.starts_with(MAGIC) {
        return Err(StoreError::corrupt(&file.path, "not a .npy file"));
    }
    if !b.starts_with(&expected) {
        let len = b.len().min(expected.len());
        let found = String::from_utf8_lossy(b.get(MAGIC.len() + 2..len).unwrap_or_default());
        let detail = format!(
            "header {:?} is not that of {rows} × {dim} float32 vectors",
            found.trim()
        );
        return Err(StoreError::corrupt(&file.path, detail));
    }
    let data = rows.checked_mul(dim).and_then(|v| v.checked_mul(4));
    if data.and_then(|d| d.checked_add(expected.len())) != Some(b.len()) {
        return Err(StoreError::corrupt(
            &file.path,
            format!("{} bytes for {rows} × {dim} float32 vectors", b.len()),
        ));
    }
    if cfg!(target_endian = "big") {
        return Err(StoreError::corrupt(
            &file.path,
            "little-endian vectors cannot be mapped on this big-endian machine",
        ));
    }
    Ok(expected.len())
}

/// The `len` floats after the header (checked by [`check`]).
pub fn rows(file: &Mapped, at: usize, len: usize) -> &[f32] {
    // The map is page-aligned and the header a multiple of 64 bytes, so the cast is aligned.
    bytemuck::cast_slice(&file.bytes()[at..at + len * 4])
}
