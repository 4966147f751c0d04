//! papermap's file protocol, in one place: how a library and a standalone vector index put
//! their data on disk.
//!
//! - [`FileWriter`]: every data file is created once under a fresh name (never rewritten),
//!   hashed with xxh3-64 while it is written, fsynced, and described by a [`FileEntry`] (role,
//!   name, size, checksum) that goes into the directory's manifest.
//! - Framed files (`[header 64 B][payload][footer 16 B]`, see [`FileWriter::framed`]) carry a
//!   kind and a version at both ends, so a truncated, swapped or foreign file is refused by
//!   looking at its ends only ([`Mapped::payload`]); vectors are plain `.npy` ([`npy`]) so that
//!   numpy can map them.
//! - [`Mapped`]: files are mapped read-only and their size checked against the manifest;
//!   [`Mapped::verify`] reads every byte against the checksum.
//! - [`commit_manifest`]: the manifest is the commit point, replaced atomically
//!   ([`atomic::replace`]); [`remove_unreferenced`] then deletes data files no manifest names.
//! - [`Layout::begin`] / [`Transaction`]: the write policy of every directory (lock, generation,
//!   refusal of foreign, damaged or newer directories and of stale writers, commit, cleanup).
//! - [`sha256_file`]: the one SHA-256 helper, for formats that recorded SHA-256.
//! - [`FaultPoint`]: with the `fault-injection` feature, `PAPERMAP_FAULT_AFTER_FILES=N` aborts a
//!   save after its N-th durable step, so tests kill a save at every point without timing.
//!
//! Every data file is framed except two, for a reason: `.npy` vectors stay plain so numpy maps
//! them, and the graph file keeps papermap-index's own header and footer, because the index
//! crate writes and reads graphs without this crate's directories (in memory for unsaved papers,
//! in standalone indexes) and its header is the section table the mapped view needs; a second
//! frame around it would say nothing the graph header does not. Both are still written once,
//! sized and xxh3-checksummed here like every file.
//!
//! The library (`papermap::store`) lays segments out with this; the index crate's
//! `save`/`open` lays out keys, vectors and graph with it. Formats above this layer (which
//! files a manifest names, what their payloads hold) belong to their owners.

pub mod atomic;
mod error;
mod files;
mod hash;
pub mod npy;
mod transaction;

pub use error::{Result, StoreError};
pub use files::{
    commit_manifest, is_generation_file, is_plain_name, is_temp_manifest, remove_unreferenced,
    u64_at, FaultPoint, FileEntry, FileWriter, Mapped, FOOTER, HEADER,
};
pub use hash::{sha256_file, sha256_hex};
pub use transaction::{Found, Head, Layout, Transaction, LOCK_FILE};
