//! Criterion benchmark of embedding: one short query, and a batch of seed abstracts.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use papermap::embed::Embedder;

fn seed_texts() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/minilm_seed_reference.jsonl"
    );
    std::fs::read_to_string(path)
        .expect("seed fixture")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["text"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let embedder = Embedder::builder()
        .build()
        .expect("model cached: run `papermap model fetch`");
    let texts = seed_texts();
    let batch: Vec<&str> = texts.iter().take(32).map(String::as_str).collect();
    let mut group = c.benchmark_group("embed");
    group.sample_size(10);
    group.bench_function("query", |b| {
        b.iter(|| {
            embedder
                .embed(&["summarizing recorded scientific talks into text"])
                .unwrap()
        })
    });
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("abstracts_32", |b| {
        b.iter(|| embedder.embed(&batch).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
