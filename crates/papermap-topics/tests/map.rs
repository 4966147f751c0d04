//! The topic map: layout quality, determinism and the JSON, SVG and HTML outputs.

mod common;

use common::blobs;
use papermap_topics::{MapConfig, NeighbourGraph, TopicConfig, TopicError, TopicMap, TopicModel};

/// A graph from fixed lists (similarity 1 - rank / 100, so nearer first).
fn graph_of(lists: &[Vec<usize>]) -> NeighbourGraph {
    NeighbourGraph::from_queries::<()>(
        lists.len(),
        lists.iter().map(Vec::len).max().unwrap_or(1),
        |i| {
            Ok(lists[i]
                .iter()
                .enumerate()
                .map(|(r, &j)| (j, 1.0 - r as f32 / 100.0))
                .collect())
        },
        &mut |_| {},
    )
    .unwrap()
}

fn fitted(seed: u64) -> (common::Corpus, TopicModel) {
    let c = blobs(5, 40, 24, 0.15, seed);
    let cfg = TopicConfig {
        k: Some(5),
        n_runs: 2,
        ..TopicConfig::default()
    };
    let model = TopicModel::fit(c.x.view(), &c.docs, &cfg).unwrap();
    (c, model)
}

fn map_config() -> MapConfig {
    MapConfig {
        epochs: 200,
        link_template: Some("https://arxiv.org/abs/{id}".into()),
        deterministic: true,
        ..MapConfig::default()
    }
}

/// Points whose nearest other point on the map comes from the same blob.
fn same_blob_nearest(map: &TopicMap, truth: &[usize]) -> usize {
    let n = map.points.len();
    (0..n)
        .filter(|&i| {
            let p = &map.points[i];
            let d = |j: usize| (map.points[j].x - p.x).powi(2) + (map.points[j].y - p.y).powi(2);
            let nearest = (0..n)
                .filter(|&j| j != i)
                .min_by(|&a, &b| d(a).total_cmp(&d(b)))
                .unwrap();
            truth[nearest] == truth[i]
        })
        .count()
}

#[test]
fn layout_keeps_blobs_together_and_scores_far_above_chance() {
    let (c, model) = fitted(21);
    let map = TopicMap::build(c.x.view(), &model, &c.docs, &map_config()).unwrap();
    assert_eq!(map.points.len(), 200);
    // Chance level for 10 of 199 neighbours is about 0.05.
    assert!(
        map.neighbourhood_preservation > 0.3,
        "score {}",
        map.neighbourhood_preservation
    );
    let same_blob_nearest = same_blob_nearest(&map, &c.truth);
    assert!(same_blob_nearest >= 195, "{same_blob_nearest} of 200");
    for (i, p) in map.points.iter().enumerate() {
        assert_eq!(p.topic, model.assignments[i]);
        assert_eq!(p.id, c.docs[i].id);
        assert_eq!(
            p.link.as_deref(),
            Some(format!("https://arxiv.org/abs/{}", p.id).as_str())
        );
    }
    for t in &map.topics {
        let members: Vec<_> = map.points.iter().filter(|p| p.topic == t.id).collect();
        assert_eq!(t.size, members.len());
        let mean_x = members.iter().map(|p| p.x).sum::<f32>() / members.len() as f32;
        assert!((t.centre[0] - mean_x).abs() < 1e-4);
    }
}

#[test]
fn same_seed_gives_the_same_map() {
    let (c, model) = fitted(22);
    let a = TopicMap::build(c.x.view(), &model, &c.docs, &map_config()).unwrap();
    let b = TopicMap::build(c.x.view(), &model, &c.docs, &map_config()).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a.to_svg(), b.to_svg());
    assert_eq!(a.to_html(), b.to_html());
}

#[test]
fn the_parallel_layout_keeps_blobs_apart_too() {
    let (c, model) = fitted(29);
    let config = MapConfig {
        deterministic: false,
        ..map_config()
    };
    let map = TopicMap::build(c.x.view(), &model, &c.docs, &config).unwrap();
    assert!(
        map.neighbourhood_preservation > 0.3,
        "score {}",
        map.neighbourhood_preservation
    );
    let same_blob_nearest = same_blob_nearest(&map, &c.truth);
    assert!(same_blob_nearest >= 195, "{same_blob_nearest} of 200");
}

#[test]
fn json_has_points_and_topics() {
    let (c, model) = fitted(23);
    let map = TopicMap::build(c.x.view(), &model, &c.docs, &map_config()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&map.to_json()).unwrap();
    let p = &v["points"][0];
    for field in ["id", "title", "topic", "x", "y", "link"] {
        assert!(!p[field].is_null(), "point lacks {field}");
    }
    let t = &v["topics"][0];
    for field in ["id", "label", "keywords", "size", "centre"] {
        assert!(!t[field].is_null(), "topic lacks {field}");
    }
    assert_eq!(v["points"].as_array().unwrap().len(), 200);
    assert_eq!(v["topics"].as_array().unwrap().len(), 5);
    let back: TopicMap = serde_json::from_str(&map.to_json()).unwrap();
    assert_eq!(back, map);
}

#[test]
fn svg_has_every_point_every_label_and_a_legend_and_escapes_text() {
    let (mut c, mut model) = fitted(24);
    c.docs[0].title = "Spin <glass> & \"friends\"".into();
    model.topics[0].label = "a<b & c".into();
    let map = TopicMap::build(c.x.view(), &model, &c.docs, &map_config()).unwrap();
    let svg = map.to_svg();
    assert_eq!(svg.matches("<circle ").count(), 200);
    assert!(svg.contains("Spin &lt;glass&gt; &amp; &quot;friends&quot;"));
    assert!(!svg.contains("a<b"));
    // Each label once on the map and once in the legend ("label (size)").
    for t in &map.topics {
        let label = t.label.replace('&', "&amp;").replace('<', "&lt;");
        assert!(
            svg.contains(&format!(">{label}</text>")),
            "no map label {label}"
        );
        assert!(
            svg.contains(&format!(">{label} ({})</text>", t.size)),
            "no legend {label}"
        );
    }
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
}

/// The text between `<script ... id="{id}">` and its `</script>`.
fn script_block<'a>(html: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\">");
    let start = html.find(&open).unwrap_or_else(|| panic!("no {id}")) + open.len();
    &html[start..start + html[start..].find("</script>").unwrap()]
}

#[test]
fn html_is_self_contained_and_its_point_blob_decodes_to_the_map() {
    use base64::Engine;
    use std::io::Read;

    let (mut c, mut model) = fitted(25);
    c.docs[3].title = "Evil </script><script>alert(1)</script> title é 𝛼".into();
    model.topics[1].label = "x </script> y".into();
    let map = TopicMap::build(c.x.view(), &model, &c.docs, &map_config()).unwrap();
    let html = map.to_html();
    // Only the page's own three script elements close.
    assert_eq!(html.matches("</script>").count(), 4);
    assert!(!html.contains("<script src") && !html.contains("<link"));
    let external: Vec<&str> = html
        .match_indices("http")
        .map(|(i, _)| &html[i..(i + 40).min(html.len())])
        .filter(|s| !s.starts_with("https://arxiv.org/abs/{id}"))
        .collect();
    assert!(external.is_empty(), "external references: {external:?}");

    let meta: serde_json::Value =
        serde_json::from_str(script_block(&html, "papermap-meta")).unwrap();
    assert_eq!(meta["n"], 200);
    assert_eq!(meta["topics"][1]["label"], "x </script> y");
    let packed = base64::engine::general_purpose::STANDARD
        .decode(script_block(&html, "papermap-points"))
        .unwrap();
    let mut blob = Vec::new();
    flate2::read::GzDecoder::new(&packed[..])
        .read_to_end(&mut blob)
        .unwrap();
    let section = |name: &str| {
        let range = &meta["sections"][name];
        let (at, len) = (
            range[0].as_u64().unwrap() as usize,
            range[1].as_u64().unwrap() as usize,
        );
        assert_eq!(at % 4, 0, "{name} aligned");
        &blob[at..at + len]
    };
    let u16s = |b: &[u8]| -> Vec<u16> {
        b.chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect()
    };
    let bounds: Vec<f32> = meta["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    for (i, (&qx, &qy)) in u16s(section("x"))
        .iter()
        .zip(&u16s(section("y")))
        .enumerate()
    {
        let x = bounds[0] + qx as f32 / 65535.0 * (bounds[2] - bounds[0]);
        let y = bounds[1] + qy as f32 / 65535.0 * (bounds[3] - bounds[1]);
        assert!((x - map.points[i].x).abs() <= (bounds[2] - bounds[0]) / 60000.0);
        assert!((y - map.points[i].y).abs() <= (bounds[3] - bounds[1]) / 60000.0);
    }
    let topics: Vec<usize> = u16s(section("topic"))
        .into_iter()
        .map(usize::from)
        .collect();
    assert_eq!(topics, model.assignments);
    // Titles: offsets in UTF-16 units into the decoded text.
    let text: Vec<u16> = String::from_utf8(section("titles").to_vec())
        .unwrap()
        .encode_utf16()
        .collect();
    let offs: Vec<usize> = section("title_offsets")
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()) as usize)
        .collect();
    for (i, p) in map.points.iter().enumerate() {
        assert_eq!(
            String::from_utf16(&text[offs[i]..offs[i + 1]]).unwrap(),
            p.title
        );
    }
    assert!(section("flags").iter().all(|&f| f == 0));
}

#[test]
fn map_refuses_mismatched_inputs() {
    let (c, model) = fitted(26);
    let err = TopicMap::build(c.x.view(), &model, &c.docs[..10], &map_config()).unwrap_err();
    assert!(matches!(err, TopicError::DocCountMismatch { .. }));
    let small = c.x.slice(ndarray::s![..10, ..]);
    let err = TopicMap::build(small, &model, &c.docs[..10], &map_config()).unwrap_err();
    assert!(matches!(
        err,
        TopicError::ModelMismatch {
            model: 200,
            docs: 10
        }
    ));
    let short = graph_of(&vec![vec![1usize]; 100]);
    let err = TopicMap::build_with_neighbours(
        c.x.view(),
        &model,
        &c.docs,
        &short,
        &map_config(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("100 points for 200"), "{err}");
    let bad: Vec<Vec<usize>> = (0..200).map(|i| vec![(i + 1) % 200, 900]).collect();
    let err = TopicMap::build_with_neighbours(
        c.x.view(),
        &model,
        &c.docs,
        &graph_of(&bad),
        &map_config(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("row 0 lists 900"), "{err}");
}

#[test]
fn a_given_neighbour_graph_is_used() {
    let (c, model) = fitted(27);
    // Each point's "neighbours" are the next ten indices: a graph unrelated to the data.
    let fake: Vec<Vec<usize>> = (0..200)
        .map(|i| (1..=10).map(|d| (i + d) % 200).collect())
        .collect();
    let map = TopicMap::build_with_neighbours(
        c.x.view(),
        &model,
        &c.docs,
        &graph_of(&fake),
        &map_config(),
        &mut |_| {},
    )
    .unwrap();
    let real = TopicMap::build(c.x.view(), &model, &c.docs, &map_config()).unwrap();
    assert_ne!(map.to_json(), real.to_json());
    // Consecutive indices were laid out as neighbours, so the score against that graph is high.
    assert!(
        map.neighbourhood_preservation > 0.3,
        "{}",
        map.neighbourhood_preservation
    );
}

#[test]
fn tiny_corpora_do_not_panic() {
    for n in 1..=3 {
        let c = blobs(1, n, 4, 0.1, 28);
        let cfg = TopicConfig {
            k: Some(1),
            ..TopicConfig::default()
        };
        let model = TopicModel::fit(c.x.view(), &c.docs, &cfg).unwrap();
        let map = TopicMap::build(c.x.view(), &model, &c.docs, &map_config()).unwrap();
        assert_eq!(map.points.len(), n);
        assert!(map
            .points
            .iter()
            .all(|p| p.x.is_finite() && p.y.is_finite()));
        assert_eq!(map.to_svg().matches("<circle ").count(), n);
    }
}
