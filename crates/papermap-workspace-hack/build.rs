//! Empty: it exists so that `[build-dependencies]` (host features, see Cargo.toml) resolve.
fn main() {}
