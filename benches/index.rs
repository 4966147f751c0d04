//! papermap-index: HNSW build, HNSW search and exact search on seeded clustered vectors.
//!
//! `cargo bench --no-default-features --bench index`. Sizes are kept small enough for a
//! criterion run; examples/ann_bench.rs measures recall and QPS at 100,000 vectors.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use papermap_index::{l2_normalize, BuildMode, ExactIndex, HnswIndex, HnswParams};
use rand::prelude::*;
use rand_distr::StandardNormal;

const DIM: usize = 384;

fn clustered(n: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let unit = |rng: &mut StdRng, around: Option<&[f32]>| {
        let mut v: Vec<f32> = (0..DIM)
            .map(|i| {
                let x: f32 = rng.sample(StandardNormal);
                around.map_or(x, |c| c[i] + 0.05 * x)
            })
            .collect();
        l2_normalize(&mut v).unwrap();
        v
    };
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| unit(&mut rng, None)).collect();
    (0..n)
        .flat_map(|i| unit(&mut rng, Some(&centres[i % clusters])))
        .collect()
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

fn bench(c: &mut Criterion) {
    let n = 10_000;
    let rows = clustered(n, 20, 1);
    let queries = clustered(200, 20, 2);
    let keys = keys(n);

    let mut group = c.benchmark_group("hnsw_build");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    for (name, build) in [
        ("parallel", BuildMode::Parallel),
        ("deterministic", BuildMode::Deterministic),
    ] {
        group.bench_function(format!("{name}_10k"), |b| {
            b.iter_batched(
                || {
                    HnswIndex::new(
                        DIM,
                        HnswParams {
                            build,
                            ..HnswParams::default()
                        },
                    )
                    .unwrap()
                },
                |mut index| {
                    index.add_batch(&keys, &rows).unwrap();
                    index.search(&queries[..DIM], 1).unwrap();
                    index
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();

    let mut hnsw = HnswIndex::new(DIM, HnswParams::default()).unwrap();
    hnsw.add_batch(&keys, &rows).unwrap();
    let mut exact = ExactIndex::new(DIM).unwrap();
    exact.add_batch(&keys, &rows).unwrap();

    let mut group = c.benchmark_group("search_10k");
    group.throughput(Throughput::Elements(200));
    for ef in [32, 64, 128] {
        group.bench_function(format!("hnsw_ef{ef}_200q"), |b| {
            b.iter(|| {
                for q in queries.chunks_exact(DIM) {
                    std::hint::black_box(hnsw.search_with_ef(q, 10, ef).unwrap());
                }
            })
        });
    }
    group.bench_function("hnsw_filtered_10pct_200q", |b| {
        b.iter(|| {
            for q in queries.chunks_exact(DIM) {
                std::hint::black_box(hnsw.search_filtered(q, 10, |k| k.ends_with('3')).unwrap());
            }
        })
    });
    group.bench_function("exact_200q", |b| {
        b.iter(|| {
            for q in queries.chunks_exact(DIM) {
                std::hint::black_box(exact.search(q, 10).unwrap());
            }
        })
    });
    group.bench_function("exact_batch_200q", |b| {
        b.iter(|| std::hint::black_box(exact.search_batch(&queries, 10).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
