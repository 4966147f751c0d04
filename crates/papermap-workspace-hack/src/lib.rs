//! No code: this crate only asks for dependency features (see its Cargo.toml), so that the
//! root package's own test build resolves the same features as the workspace's and reuses its
//! artifacts.
