//! Topic model: keywords, labels, representatives, automatic k, assignment and persistence.

mod common;

use common::{ari, blobs, VOCAB};
use ndarray::{array, Array2};
use papermap_topics::{TopicConfig, TopicError, TopicModel, Variant, MODEL_FORMAT_VERSION};

fn config(k: Option<usize>) -> TopicConfig {
    TopicConfig {
        k,
        n_runs: 3,
        ..TopicConfig::default()
    }
}

#[test]
fn topics_carry_their_blobs_vocabulary_sizes_and_representatives() {
    let c = blobs(4, 40, 24, 0.1, 11);
    let model = TopicModel::fit(c.x.view(), &c.docs, &config(Some(4))).unwrap();
    assert_eq!(ari(&model.assignments, &c.truth), 1.0);
    assert_eq!(model.topics.iter().map(|t| t.size).sum::<usize>(), 160);
    for topic in &model.topics {
        assert_eq!(topic.size, 40);
        let member = model
            .assignments
            .iter()
            .position(|&a| a == topic.id)
            .unwrap();
        let vocab = VOCAB[c.truth[member]];
        // Words of the top three keywords (a word may come inside a bigram, "qubit setting").
        let top3: Vec<&str> = topic
            .keywords
            .iter()
            .take(3)
            .flat_map(|k| k.term.split(' '))
            .collect();
        for word in vocab {
            assert!(
                top3.contains(&word),
                "topic {} keywords {top3:?} miss {word}",
                topic.id
            );
        }
        // Filler shared by every document ("measure", "setting") must rank below blob words.
        assert!(!topic
            .keywords
            .iter()
            .take(3)
            .any(|k| k.term == "measure" || k.term == "setting"));
        assert!(
            vocab.iter().any(|w| topic.label.contains(w)),
            "label {}",
            topic.label
        );
        // Keywords come in MMR order: the most relevant first, then diverse ones.
        let top = topic.keywords.iter().map(|k| k.weight).fold(0.0, f32::max);
        assert_eq!(topic.keywords[0].weight, top);
        // Representatives are members, closest to the centroid first.
        assert_eq!(topic.representatives.len(), 3);
        let dist = |id: &str| {
            let i = c.docs.iter().position(|d| d.id == id).unwrap();
            assert_eq!(model.assignments[i], topic.id);
            c.x.row(i)
                .iter()
                .zip(&topic.centroid)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
        };
        let d: Vec<f32> = topic.representatives.iter().map(|r| dist(r)).collect();
        assert!(d.windows(2).all(|w| w[0] <= w[1]));
        let all_members_min = (0..160)
            .filter(|&i| model.assignments[i] == topic.id)
            .map(|i| dist(&c.docs[i].id))
            .fold(f32::INFINITY, f32::min);
        assert_eq!(d[0], all_members_min);
    }
}

#[test]
fn automatic_k_finds_the_number_of_blobs_and_reports_every_candidate() {
    // Noise 0.10: at 0.15 two of these blobs touch, and k = 4 scores within 1.5 standard errors
    // of k = 5, a near tie that the choice now gives to the smaller k (as it should).
    let c = blobs(5, 30, 16, 0.10, 12);
    let cfg = TopicConfig {
        k_min: 2,
        k_max: 9,
        ..config(None)
    };
    let mut stages = 0;
    let model = TopicModel::fit_with_progress(c.x.view(), &c.docs, &cfg, &mut |p| {
        if p.stage == papermap_topics::Stage::ChoosingK {
            stages += 1;
        }
    })
    .unwrap();
    let scores = model.k_scores.as_ref().unwrap();
    assert_eq!(model.topics.len(), 5, "{scores:?}");
    assert_eq!(
        scores.iter().map(|s| s.k).collect::<Vec<_>>(),
        (2..=9).collect::<Vec<_>>()
    );
    let best = scores
        .iter()
        .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette))
        .unwrap();
    assert_eq!(best.k, 5);
    assert_eq!(stages, 8);
}

#[test]
fn assign_puts_new_papers_in_the_topic_of_their_blob_without_refitting() {
    let train = blobs(3, 30, 16, 0.1, 13);
    let model = TopicModel::fit(train.x.view(), &train.docs, &config(Some(3))).unwrap();
    assert_eq!(model.assign(train.x.view()).unwrap(), model.assignments);
    // Same generator seed, so the same blob centres; fresh noise gives new papers.
    let more = blobs(3, 60, 16, 0.1, 13);
    let new_rows = more.x.slice(ndarray::s![90.., ..]);
    let got = model.assign(new_rows).unwrap();
    let topic_of_blob: Vec<usize> = (0..3).map(|b| model.assignments[b]).collect();
    for (i, &t) in got.iter().enumerate() {
        assert_eq!(t, topic_of_blob[more.truth[90 + i]]);
    }
    let wrong = Array2::<f32>::zeros((2, 5));
    assert!(matches!(
        model.assign(wrong.view()),
        Err(TopicError::DimensionMismatch {
            expected: 16,
            found: 5
        })
    ));
}

#[test]
fn spherical_and_euclidean_both_fit() {
    let c = blobs(3, 20, 8, 0.1, 14);
    for variant in [Variant::Spherical, Variant::Euclidean] {
        let cfg = TopicConfig {
            variant,
            ..config(Some(3))
        };
        let model = TopicModel::fit(c.x.view(), &c.docs, &cfg).unwrap();
        assert_eq!(model.variant, variant);
        assert_eq!(ari(&model.assignments, &c.truth), 1.0);
    }
}

#[test]
fn same_seed_same_model_and_json_round_trip() {
    let c = blobs(4, 25, 12, 0.4, 15);
    let a = TopicModel::fit(c.x.view(), &c.docs, &config(Some(4))).unwrap();
    let b = TopicModel::fit(c.x.view(), &c.docs, &config(Some(4))).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    let back = TopicModel::from_json(&a.to_json()).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.format_version, MODEL_FORMAT_VERSION);
}

#[test]
fn from_json_refuses_other_versions_and_inconsistent_files() {
    let c = blobs(2, 10, 6, 0.2, 16);
    let model = TopicModel::fit(c.x.view(), &c.docs, &config(Some(2))).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&model.to_json()).unwrap();
    v["format_version"] = serde_json::json!(MODEL_FORMAT_VERSION + 1);
    let err = TopicModel::from_json(&v.to_string()).unwrap_err();
    assert!(err.to_string().contains("format version"), "{err}");
    let mut v: serde_json::Value = serde_json::from_str(&model.to_json()).unwrap();
    v["assignments"][0] = serde_json::json!(7);
    assert!(matches!(
        TopicModel::from_json(&v.to_string()),
        Err(TopicError::CorruptModel(_))
    ));
    let mut v: serde_json::Value = serde_json::from_str(&model.to_json()).unwrap();
    v["topics"][1]["centroid"] = serde_json::json!([1.0]);
    assert!(matches!(
        TopicModel::from_json(&v.to_string()),
        Err(TopicError::CorruptModel(_))
    ));
    assert!(matches!(
        TopicModel::from_json("{\"truncated\":"),
        Err(TopicError::CorruptModel(_))
    ));
}

#[test]
fn bad_input_and_config_give_clear_errors() {
    let c = blobs(2, 5, 4, 0.1, 17);
    let fit = |x: ndarray::ArrayView2<f32>, cfg: &TopicConfig| TopicModel::fit(x, &c.docs, cfg);
    let err = TopicModel::fit(c.x.view(), &c.docs[..9], &config(Some(2))).unwrap_err();
    assert!(matches!(
        err,
        TopicError::DocCountMismatch { docs: 9, rows: 10 }
    ));
    assert!(matches!(
        fit(c.x.view(), &config(Some(0))),
        Err(TopicError::ZeroK)
    ));
    assert!(matches!(
        fit(c.x.view(), &config(Some(11))),
        Err(TopicError::KTooLarge { .. })
    ));
    let cfg = TopicConfig {
        k_min: 20,
        ..config(None)
    };
    let err = fit(c.x.view(), &cfg).unwrap_err();
    assert!(matches!(err, TopicError::EmptyKRange { .. }), "{err}");
    let cfg = TopicConfig {
        n_runs: 0,
        ..config(Some(2))
    };
    assert!(matches!(
        fit(c.x.view(), &cfg),
        Err(TopicError::InvalidConfig {
            field: "n_runs",
            ..
        })
    ));
    let mut cfg = config(Some(2));
    cfg.keywords.mmr_diversity = 1.5;
    assert!(matches!(
        fit(c.x.view(), &cfg),
        Err(TopicError::InvalidConfig {
            field: "keywords.mmr_diversity",
            ..
        })
    ));
    // k chosen on a sample smaller than k_min: refused, not a k below the range.
    let cfg = TopicConfig {
        k_min: 3,
        k_max: 5,
        choose_sample: 3,
        ..config(None)
    };
    let err = fit(c.x.view(), &cfg).unwrap_err();
    assert!(matches!(err, TopicError::EmptyKRange { .. }), "{err}");
    let mut x = c.x.clone();
    x[[3, 2]] = f32::INFINITY;
    assert!(matches!(
        fit(x.view(), &config(Some(2))),
        Err(TopicError::NonFinite { row: 3, col: 2, .. })
    ));
    let empty = Array2::<f32>::zeros((0, 4));
    assert!(matches!(
        TopicModel::fit(empty.view(), &[], &config(Some(1))),
        Err(TopicError::NoDocuments)
    ));
    // One document, one topic is fine.
    let one = array![[1.0f32, 0.0]];
    let model = TopicModel::fit(one.view(), &c.docs[..1], &config(Some(1))).unwrap();
    assert_eq!(model.topics[0].size, 1);
}

#[test]
fn automatic_k_stays_below_the_square_root_of_a_small_corpus() {
    let c = blobs(4, 10, 16, 0.15, 3);
    let cfg = TopicConfig {
        k_min: 2,
        k_max: 39,
        ..config(None)
    };
    let model = TopicModel::fit(c.x.view(), &c.docs, &cfg).unwrap();
    let tried: Vec<usize> = model.k_scores.unwrap().iter().map(|s| s.k).collect();
    // 40 documents: ⌈√40⌉ = 7 topics at most, not 39 topics of one or two documents.
    assert_eq!(tried, (2..=7).collect::<Vec<_>>());
}

#[test]
fn the_nearest_topic_of_one_embedding_is_what_assign_gives_it() {
    let c = blobs(4, 20, 16, 0.15, 5);
    let model = TopicModel::fit(c.x.view(), &c.docs, &config(Some(4))).unwrap();
    let assigned = model.assign(c.x.view()).unwrap();
    for (row, &topic) in c.x.rows().into_iter().zip(&assigned) {
        assert_eq!(model.nearest_topic(row.as_slice().unwrap()).unwrap(), topic);
    }
    assert!(
        model.nearest_topic(&[0.0; 3]).is_err(),
        "a vector of another width"
    );
    let mut bad = c.x.row(0).to_vec();
    bad[2] = f32::NAN;
    assert!(model.nearest_topic(&bad).is_err(), "a NaN");
}
