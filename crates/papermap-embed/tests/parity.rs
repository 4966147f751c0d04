//! Parity with Python sentence-transformers on the real all-MiniLM-L6-v2 (fetched by `papermap model fetch`).

use std::sync::OnceLock;

use papermap_embed::{
    Bf16Kernel, EmbedError, Embedder, Embeddings, Int8Kernel, MatmulKernel, Precision,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    text: String,
    embedding: Vec<f32>,
}

fn references() -> Vec<Reference> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/minilm_seed_reference.jsonl"
    );
    let text = std::fs::read_to_string(path)
        .expect("tests/data/minilm_seed_reference.jsonl is in the repo");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("fixture line"))
        .collect()
}

fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        Embedder::builder()
            .build()
            .unwrap_or_else(|e| panic!("the model must be cached for these tests: {e}"))
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn every_seed_vector_matches_sentence_transformers() {
    let refs = references();
    assert_eq!(refs.len(), 99);
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let got = embedder().embed(&texts).unwrap();
    assert_eq!(got.len(), refs.len());
    let mut worst_cos = 1.0f64;
    let mut worst_diff = 0.0f32;
    for (i, r) in refs.iter().enumerate() {
        assert_eq!(r.embedding.len(), 384);
        worst_cos = worst_cos.min(cosine(got.row(i), &r.embedding));
        worst_diff = worst_diff.max(max_abs_diff(got.row(i), &r.embedding));
    }
    assert!(worst_cos >= 0.99999, "worst cosine {worst_cos}");
    assert!(worst_diff <= 1e-4, "worst max abs diff {worst_diff}");
}

#[test]
fn vectors_do_not_depend_on_batch_composition() {
    let refs = references();
    let texts: Vec<&str> = refs.iter().take(24).map(|r| r.text.as_str()).collect();
    let together = embedder().embed(&texts).unwrap();
    for (i, text) in texts.iter().enumerate() {
        let alone = embedder().embed(&[*text]).unwrap();
        let diff = max_abs_diff(alone.row(0), together.row(i));
        assert!(
            diff <= 1e-5,
            "text {i}: batch vs single max abs diff {diff}"
        );
    }
    // Small token budgets force many small, differently padded batches.
    let small = Embedder::builder()
        .token_budget(600)
        .max_batch_size(3)
        .build()
        .unwrap();
    let regrouped = small.embed(&texts).unwrap();
    assert!(max_abs_diff(regrouped.as_slice(), together.as_slice()) <= 1e-5);
}

#[test]
fn long_texts_are_truncated_at_256_tokens_not_128() {
    let tok = embedder().tokenizer();
    let long = "word ".repeat(1000);
    assert_eq!(tok.encode(&long).unwrap().len(), 256);
    // A text between 128 and 256 tokens keeps all its tokens.
    let mid = "graph ".repeat(200);
    assert_eq!(tok.encode(&mid).unwrap().len(), 202);
}

#[test]
fn empty_and_whitespace_texts_embed_like_the_empty_string() {
    let out = embedder()
        .embed(&["", "   \n\t", "a real sentence"])
        .unwrap();
    let norm: f32 = out.row(0).iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    assert!(max_abs_diff(out.row(0), out.row(1)) <= 1e-6);
    assert!(cosine(out.row(0), out.row(2)) < 0.99);
}

#[test]
fn order_is_kept_and_chunks_match_one_call() {
    let refs = references();
    let texts: Vec<String> = refs.iter().take(10).map(|r| r.text.clone()).collect();
    let whole = embedder().embed(&texts).unwrap();
    let chunks: Vec<_> = embedder()
        .embed_chunks(texts.iter(), 4)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
        vec![4, 4, 2]
    );
    let joined: Vec<f32> = chunks.iter().flat_map(|c| c.as_slice().to_vec()).collect();
    assert!(max_abs_diff(&joined, whole.as_slice()) <= 1e-5);
}

#[test]
fn progress_reports_every_text() {
    let refs = references();
    let texts: Vec<&str> = refs.iter().take(20).map(|r| r.text.as_str()).collect();
    let mut seen = Vec::new();
    embedder()
        .embed_with_progress(&texts, |p| seen.push(p))
        .unwrap();
    assert!(seen.windows(2).all(|w| w[0].done < w[1].done));
    assert_eq!(seen.last().map(|p| (p.done, p.total)), Some((20, 20)));
}

#[test]
fn corrupt_model_file_is_refused_with_checksum_and_fix() {
    let source = embedder().files().dir.clone();
    let dir = tempfile::tempdir().unwrap();
    for entry in [
        "config.json",
        "tokenizer.json",
        "sentence_bert_config.json",
        "modules.json",
    ] {
        std::fs::copy(source.join(entry), dir.path().join(entry)).unwrap();
    }
    std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
    std::fs::copy(
        source.join("1_Pooling/config.json"),
        dir.path().join("1_Pooling/config.json"),
    )
    .unwrap();
    // Weights missing: named, with the fix.
    let err = Embedder::builder()
        .model_dir(dir.path())
        .build()
        .unwrap_err();
    assert!(matches!(err, EmbedError::MissingFile { .. }), "{err}");
    assert!(
        err.to_string().contains("model.safetensors")
            && err.to_string().contains("papermap model fetch")
    );
    // Weights truncated: refused by checksum, both hashes shown.
    let weights = std::fs::read(source.join("model.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        &weights[..weights.len() / 2],
    )
    .unwrap();
    let err = Embedder::builder()
        .model_dir(dir.path())
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, EmbedError::Checksum { .. }), "{msg}");
    assert!(
        msg.contains("53aa51172d142c89") && msg.contains("--force"),
        "{msg}"
    );
}

/// Min and mean cosine of `embedder`'s vectors for the seed texts to sentence-transformers' f32 vectors.
fn cosines_to_reference(embedder: &Embedder) -> (f64, f64, Embeddings) {
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let got = embedder.embed(&texts).unwrap();
    let cosines: Vec<f64> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| cosine(got.row(i), &r.embedding))
        .collect();
    let min = cosines.iter().copied().fold(1.0, f64::min);
    (min, cosines.iter().sum::<f64>() / cosines.len() as f64, got)
}

#[test]
fn int8_vectors_are_close_and_identical_on_every_kernel() {
    let int8 = |kernel| {
        Embedder::builder()
            .kernel(MatmulKernel::Int8(kernel))
            .build()
            .unwrap()
    };
    let best = int8(Int8Kernel::best());
    assert_eq!(best.fingerprint().precision, Precision::Int8);
    // The packed precisions default to their own (smaller) token budget; f32 keeps the larger one.
    assert_eq!(
        best.token_budget(),
        papermap_embed::DEFAULT_TOKEN_BUDGET_PACKED
    );
    assert_eq!(
        embedder().token_budget(),
        papermap_embed::DEFAULT_TOKEN_BUDGET
    );
    let (min, mean, want) = cosines_to_reference(&best);
    assert!(min >= 0.99 && mean >= 0.995, "min {min}, mean {mean}");
    // The kernels compute the same integers and everything around them is shared code, so every other
    // kernel gives the same vectors (checked on a few texts: the portable kernel is slow).
    let refs = references();
    let texts: Vec<&str> = refs.iter().take(6).map(|r| r.text.as_str()).collect();
    let kernels = Int8Kernel::available();
    eprintln!("int8 kernels this CPU runs: {kernels:?}");
    for kernel in kernels {
        let got = int8(kernel).embed(&texts).unwrap();
        for i in 0..texts.len() {
            assert_eq!(got.row(i), want.row(i), "{kernel:?}, text {i}");
        }
    }
}

#[test]
fn bf16_vectors_are_close_or_bf16_is_refused_naming_the_missing_feature() {
    let kernels = Bf16Kernel::available();
    eprintln!("bf16 kernels this CPU runs: {kernels:?}");
    match Bf16Kernel::best() {
        None => {
            let err = Embedder::builder()
                .precision(Precision::Bf16)
                .build()
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("AMX-BF16 or AVX512_BF16") && err.contains("--precision int8"),
                "{err}"
            );
        }
        Some(_) => {
            for kernel in kernels.into_iter().filter(|k| *k != Bf16Kernel::Portable) {
                let embedder = Embedder::builder()
                    .kernel(MatmulKernel::Bf16(kernel))
                    .build()
                    .unwrap();
                assert_eq!(embedder.fingerprint().precision, Precision::Bf16);
                let (min, mean, _) = cosines_to_reference(&embedder);
                assert!(min >= 0.9999, "{kernel:?}: min {min}, mean {mean}");
            }
        }
    }
}

#[test]
fn the_default_precision_is_f32_and_its_fingerprint_is_unmarked() {
    assert_eq!(embedder().kernel(), MatmulKernel::F32);
    assert_eq!(embedder().fingerprint().precision, Precision::F32);
    assert!(!serde_json::to_string(embedder().fingerprint())
        .unwrap()
        .contains("precision"));
}
