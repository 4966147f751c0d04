//! `PaperMap::evaluate_topics` (`papermap eval topics`) on a small corpus of three well-separated
//! subjects: coherent keywords score positive NPMI, topics agree with the subject labels and
//! across seeds, and asking for the wrong thing is a clear error.

mod common;

use papermap::{Paper, PaperMap, PaperMapError, TopicConfig, TopicEvalOptions};

const SUBJECTS: [(&str, [&str; 6]); 3] = [
    (
        "astro",
        [
            "galaxy",
            "quasar",
            "redshift",
            "lensing",
            "telescope",
            "stellar",
        ],
    ),
    (
        "bio",
        ["protein", "enzyme", "genome", "cell", "folding", "receptor"],
    ),
    (
        "ml",
        [
            "transformer",
            "gradient",
            "training",
            "neural",
            "attention",
            "dataset",
        ],
    ),
];

/// 20 papers per subject, each abstract using the subject's words in a rotating order, and a
/// vector near the subject's axis (so k-means with k = 3 finds the subjects).
fn corpus() -> (Vec<Paper>, Vec<f32>) {
    let mut papers = Vec::new();
    let mut vectors = Vec::new();
    for (s, (label, words)) in SUBJECTS.iter().enumerate() {
        for i in 0..20 {
            let pick = |j: usize| words[(i + j) % words.len()];
            let title = format!("On {} and {} number {i}", pick(0), pick(1));
            let abstract_text = format!(
                "We study {} {} with {} and {}. The {} results improve {}.",
                pick(0),
                pick(2),
                pick(3),
                pick(4),
                pick(5),
                pick(1)
            );
            let mut paper = Paper::new(&title, &abstract_text);
            paper.metadata.insert("label".into(), (*label).into());
            papers.push(paper);
            let mut v = vec![0.0f32; 384];
            v[s * 7] = 1.0;
            v[100 + (i * 13) % 200] = 0.3;
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            vectors.extend(v.iter().map(|x| x / norm));
        }
    }
    (papers, vectors)
}

fn fitted() -> PaperMap {
    let (papers, vectors) = corpus();
    let mut map = common::map_of(&papers, &vectors);
    map.topics_with(&TopicConfig {
        k: Some(3),
        ..TopicConfig::default()
    })
    .unwrap();
    map
}

#[test]
fn separated_subjects_score_coherent_diverse_label_aligned_and_stable_topics() {
    let map = fitted();
    let scores = map
        .evaluate_topics(&TopicEvalOptions {
            label: Some("label".into()),
            seeds: 3,
        })
        .unwrap();
    assert_eq!((scores.papers, scores.topics), (60, 3));
    assert_eq!(scores.npmi_per_topic.len(), 3);
    // Each topic's keywords are one subject's words, which share windows: positive NPMI.
    assert!(scores.npmi > 0.0, "{scores:?}");
    assert!(scores.npmi_per_topic.iter().all(|v| *v > 0.0 && *v <= 1.0));
    // No word is shared across subjects beyond stopwords and the common template words.
    assert!(scores.diversity_top10 > 0.5, "{scores:?}");
    assert!((0.0..=1.0).contains(&scores.diversity_top25));
    let labels = scores.labels.as_ref().expect("label scores");
    assert_eq!((labels.labelled, labels.classes), (60, 3));
    assert!(labels.agreement.nmi > 0.99, "{labels:?}");
    assert!(labels.agreement.ari > 0.99, "{labels:?}");
    let stability = scores.stability.as_ref().expect("stability");
    assert_eq!(stability.seeds.len(), 3);
    assert_eq!(stability.topic_counts, vec![3, 3, 3]);
    assert!(stability.ari_min > 0.99, "{stability:?}");
    assert!(stability.ari_mean >= stability.ari_min);
}

#[test]
fn seeds_below_two_skip_stability_and_no_label_skips_agreement() {
    let scores = fitted()
        .evaluate_topics(&TopicEvalOptions {
            label: None,
            seeds: 1,
        })
        .unwrap();
    assert!(scores.stability.is_none() && scores.labels.is_none());
}

#[test]
fn an_unfitted_library_and_an_unknown_field_are_errors_that_say_so() {
    let (papers, vectors) = corpus();
    let unfitted = common::map_of(&papers, &vectors);
    let err = unfitted
        .evaluate_topics(&TopicEvalOptions::default())
        .unwrap_err();
    assert!(matches!(err, PaperMapError::NoTopics), "{err}");

    let err = fitted()
        .evaluate_topics(&TopicEvalOptions {
            label: Some("category".into()),
            seeds: 0,
        })
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, PaperMapError::NoSuchField { .. }));
    assert!(
        message.contains("\"category\"") && message.contains("label"),
        "{message}"
    );
}

#[test]
fn the_label_test_counts_labels_that_point_at_their_own_topic() {
    let map = fitted();
    let model = map.fitted_topics().unwrap().unwrap().clone();
    // Each topic's subject axis (0, 7 or 14): where its centroid is largest.
    let axis = |t: usize| {
        [0usize, 7, 14]
            .into_iter()
            .max_by(|&a, &b| model.topics[t].centroid[a].total_cmp(&model.topics[t].centroid[b]))
            .unwrap()
    };
    let labels_on = |pick: &dyn Fn(usize) -> usize| {
        let mut v = vec![0.0f32; 3 * 384];
        for t in 0..3 {
            v[t * 384 + axis(pick(t))] = 1.0;
        }
        v
    };
    let own = map.label_test(&labels_on(&|t| t), 5).unwrap();
    assert_eq!((own.hits, own.topics, own.neighbours), (3, 3, 2), "{own:?}");
    assert_eq!(own.accuracy, 1.0);
    assert!(own.misses.is_empty());
    assert!((own.chance - 1.0 / 3.0).abs() < 1e-12);

    // Every label pointing at the next topic's subject: every topic missed, naming that topic.
    let shifted = map.label_test(&labels_on(&|t| (t + 1) % 3), 5).unwrap();
    assert_eq!(shifted.hits, 0, "{shifted:?}");
    let picked: Vec<(usize, usize)> = shifted.misses.iter().map(|m| (m.topic, m.picked)).collect();
    assert_eq!(picked, vec![(0, 1), (1, 2), (2, 0)]);
    assert_eq!(shifted.misses[0].picked_label, model.topics[1].label);

    let short = map.label_test(&[0.0; 384], 5).unwrap_err();
    assert!(matches!(short, PaperMapError::InvalidSetting(_)), "{short}");
}
