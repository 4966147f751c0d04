//! Criterion benchmark of embedding in every precision: one short query, and a batch of seed abstracts.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use papermap::embed::{Embedder, Precision};

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
    let texts = seed_texts();
    let batch: Vec<&str> = texts.iter().take(32).map(String::as_str).collect();
    for precision in Precision::ALL {
        let embedder = match Embedder::builder().precision(precision).build() {
            Ok(embedder) => embedder,
            // bf16 on a CPU without AMX-BF16 / AVX512_BF16: refused by design, nothing to measure.
            Err(e) if precision == Precision::Bf16 => {
                eprintln!("embed/bf16 not measured: {e}");
                continue;
            }
            Err(e) => panic!("model cached: run `papermap model fetch` ({e})"),
        };
        let mut group = c.benchmark_group(format!("embed/{precision}"));
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
