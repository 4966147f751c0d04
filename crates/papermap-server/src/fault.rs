//! Test hook: with the `fault-injection` feature, `PAPERMAP_FAULT_HOLD_WRITES=PATH` makes each
//! write, once its request is read, create `PATH.held` and wait until `PATH.release` exists. The
//! shutdown test signals the server while a write is provably in flight, without timing. Builds
//! without the feature read no environment and never wait.

/// Called at the start of every write.
pub(crate) fn hold_write() {
    #[cfg(feature = "fault-injection")]
    if let Some(path) = std::env::var_os("PAPERMAP_FAULT_HOLD_WRITES") {
        let path = std::path::PathBuf::from(path);
        let with = |ext: &str| {
            let mut p = path.clone().into_os_string();
            p.push(ext);
            std::path::PathBuf::from(p)
        };
        std::fs::write(with(".held"), b"").expect("writing the hold marker");
        while !with(".release").exists() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
