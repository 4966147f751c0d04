//! SHA-256 of a file: the one helper for every checksum papermap compares with a recorded
//! SHA-256 (format-1 libraries, format 1-2 indexes, pinned model files). New files record xxh3-64
//! ([`crate::FileEntry`]), which is faster and enough against damage.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The lowercase hex SHA-256 of the file at `path`, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(StoreError::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(StoreError::io(path))?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_published_digest_of_abc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(super::sha256_file(&path).unwrap(), abc);
        assert_eq!(super::sha256_hex(b"abc"), abc);
    }
}
