//! Rewriting a library manifest in tests (also included by the fuzz targets, `fuzz/`).

/// The manifest with `name`'s entry rewritten to the size and xxh3 of `bytes`, so that damage
/// reaches the file's own parser instead of stopping at the checksum.
pub fn vouch_for(manifest: &[u8], name: &str, bytes: &[u8]) -> Vec<u8> {
    fn walk(v: &mut serde_json::Value, name: &str, size: u64, sum: &str) {
        match v {
            serde_json::Value::Object(o) => {
                if o.get("name").and_then(|n| n.as_str()) == Some(name) {
                    o.insert("bytes".into(), size.into());
                    o.insert("xxh3".into(), sum.into());
                }
                o.values_mut().for_each(|x| walk(x, name, size, sum));
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, name, size, sum)),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let sum = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes));
    walk(&mut v, name, bytes.len() as u64, &sum);
    serde_json::to_vec_pretty(&v).unwrap()
}
