//! Opens the HTML map in headless Chromium and checks, through the page's self-check, that every
//! point is drawn, search highlights exactly the matching titles, hover shows the title, click
//! opens the link and topic toggles hide and show points.
//!
//! Needs Chromium (Debian: `apt-get install -y chromium`) or `PAPERMAP_CHROMIUM=/path/to/chrome`.
//! Without it the test fails, on purpose: a skipped browser test would hide a broken page.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{dump_dom, self_check};
use common::blobs;
use papermap_topics::{MapConfig, MapGroup, MapPoint, MapTopic, TopicConfig, TopicMap, TopicModel};

/// Ids of the points whose titles contain `query` (the page's rule: lowercase substring).
fn expected_hits<'a>(map: &'a TopicMap, query: &str) -> Vec<&'a str> {
    let mut ids: Vec<&str> = map
        .points
        .iter()
        .filter(|p| p.title.to_lowercase().contains(query))
        .map(|p| p.id.as_str())
        .collect();
    ids.sort_unstable();
    ids
}

fn ids(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn html_map_works_in_headless_chromium_with_webgl_and_canvas() {
    let mut c = blobs(4, 30, 16, 0.15, 31);
    c.docs[5].title = "A QUASAR </script><b>bold</b> & \"quoted\" title é 𝛼".into();
    let model = TopicModel::fit(
        c.x.view(),
        &c.docs,
        &TopicConfig {
            k: Some(4),
            n_runs: 2,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    let config = MapConfig {
        epochs: 100,
        link_template: Some("https://arxiv.org/abs/{id}".into()),
        ..MapConfig::default()
    };
    let mut map = TopicMap::build(c.x.view(), &model, &c.docs, &config).unwrap();
    for p in map.points.iter_mut().step_by(10) {
        p.added = true;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("map.html");
    std::fs::write(&page, map.to_html()).unwrap();
    let want = expected_hits(&map, "quasar");
    assert!(
        want.len() > 5 && want.contains(&"doc0005"),
        "test data must have matches"
    );
    let n = map.points.len() as u64;

    for (query, renderer) in [("", "webgl"), ("?renderer=canvas", "canvas")] {
        let dom = dump_dom(&page, query, "selfcheck=quasar", &dir.path().join(renderer));
        let got = self_check(&dom);
        assert_eq!(got["renderer"], renderer, "{got}");
        assert_eq!(got["points"], n, "{got}");
        assert_eq!(got["drawn"], n, "every point drawn: {got}");
        assert_eq!(ids(&got["hit_ids"]), want, "{got}");
        assert_eq!(got["hit_count"], want.len() as u64);
        assert_eq!(got["count_text"], format!("{} matches", want.len()));
        let hovered = got["hover"]["index"].as_u64().expect("hover found a point") as usize;
        assert!(
            got["hover"]["distance_px"].as_f64().unwrap() <= 1.5,
            "{got}"
        );
        assert_eq!(got["hover"]["tooltip"], map.points[hovered].title.as_str());
        assert_eq!(got["opened"], map.points[hovered].link.as_deref().unwrap());
        let first_topic = map.topics[0].size as u64;
        assert_eq!(got["visible_after_toggle"], n - first_topic, "{got}");
        assert_eq!(got["visible_after_untoggle"], n, "{got}");
        assert_eq!(got["labels_initial"]["overlaps"], 0, "{got}");
        assert_eq!(got["labels_zoomed"]["overlaps"], 0, "{got}");
        assert!(
            got["labels_zoomed"]["shown"].as_u64().unwrap() >= 1,
            "{got}"
        );
        assert_eq!(got["added_highlighted"], 12, "{got}");
    }
}

/// A page of 1,000,000 points (positions on a spiral of clusters, no layout: the page is what
/// is tested) draws all of them and a search highlights exactly the titles holding the word.
#[test]
fn a_page_of_a_million_points_draws_them_all_and_searches_exactly() {
    let n = 1_000_000;
    let k = 60;
    let mut points = Vec::with_capacity(n);
    for i in 0..n {
        let topic = i % k;
        let angle = topic as f32 * 0.7 + (i / k) as f32 * 1e-5;
        let r = 2.0 + topic as f32 * 0.15 + ((i * 7919) % 1000) as f32 / 1000.0;
        let rare = if i % 9973 == 0 { " zeolite" } else { "" };
        points.push(MapPoint {
            id: format!("2401.{i:06}"),
            title: format!("Paper {i} on topic {topic}{rare} and more words"),
            topic,
            x: r * angle.cos(),
            y: r * angle.sin(),
            link: None,
            added: false,
            today: false,
        });
    }
    let topics = (0..k)
        .map(|t| MapTopic {
            id: t,
            label: format!("topic {t} label"),
            keywords: vec![],
            size: n / k,
            centre: [0.0, 0.0],
            colour: "#3366aa".into(),
            group: Some(t % 6),
        })
        .collect();
    let groups = (0..6)
        .map(|g| MapGroup {
            id: g,
            label: format!("group {g}"),
            topics: (g..k).step_by(6).collect(),
            size: n / 6,
            centre: [g as f32, 0.0],
            colour: "#aa6633".into(),
        })
        .collect();
    let map = TopicMap {
        title: "million".into(),
        neighbourhood_preservation: 0.5,
        points,
        topics,
        groups,
        link_template: Some("https://arxiv.org/abs/{id}".into()),
        list: None,
        api: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("map.html");
    std::fs::write(&page, map.to_html()).unwrap();
    let want = expected_hits(&map, "zeolite");
    assert_eq!(want.len(), n.div_ceil(9973));

    let dom = dump_dom(&page, "", "selfcheck=zeolite", &dir.path().join("profile"));
    let got = self_check(&dom);
    assert_eq!(got["points"], n as u64, "{got}");
    assert_eq!(got["drawn"], n as u64, "every point drawn: {got}");
    assert_eq!(ids(&got["hit_ids"]), want);
    assert_eq!(got["labels_initial"]["overlaps"], 0, "{got}");
    assert_eq!(got["labels_zoomed"]["overlaps"], 0, "{got}");
}
