//! The map as one self-contained, interactive HTML page (inline CSS, JS and data; no network).

use serde::Serialize;

use crate::map::TopicMap;
use crate::svg::{escape, place_labels, topic_colour, Frame, PLOT_H, PLOT_W};

const SCRIPT: &str = include_str!("../assets/map.js");
const STYLE: &str = include_str!("../assets/map.css");

/// What the page's script draws: positions already in SVG pixels, as in [`TopicMap::to_svg`].
#[derive(Serialize)]
struct PageData<'a> {
    width: f32,
    height: f32,
    points: Vec<PagePoint<'a>>,
    topics: Vec<PageTopic<'a>>,
}

#[derive(Serialize)]
struct PagePoint<'a> {
    id: &'a str,
    title: &'a str,
    topic: usize,
    x: f32,
    y: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<&'a str>,
}

#[derive(Serialize)]
struct PageTopic<'a> {
    id: usize,
    label: &'a str,
    size: usize,
    colour: String,
    keywords: Vec<&'a str>,
    label_at: Option<[f32; 2]>,
    anchor: Option<[f32; 2]>,
}

impl TopicMap {
    /// The map as a self-contained HTML page: hovering a point shows its title, clicking opens
    /// its link, a search box highlights the papers whose titles contain the text, and each topic
    /// can be toggled. Opened with `#selfcheck=<query>` the page exercises those features and
    /// writes the results into `#papermap-selfcheck` (used by the headless-browser test).
    pub fn to_html(&self) -> String {
        let frame = Frame::of(self);
        let labels = place_labels(self, &frame);
        let round = |v: f32| (v * 10.0).round() / 10.0;
        let data = PageData {
            width: PLOT_W,
            height: PLOT_H,
            points: self
                .points
                .iter()
                .map(|p| {
                    let [x, y] = frame.px(p.x, p.y);
                    PagePoint {
                        id: &p.id,
                        title: &p.title,
                        topic: p.topic,
                        x: round(x),
                        y: round(y),
                        link: p.link.as_deref(),
                    }
                })
                .collect(),
            topics: self
                .topics
                .iter()
                .map(|t| {
                    let placed = labels.iter().find(|b| b.topic == t.id);
                    PageTopic {
                        id: t.id,
                        label: &t.label,
                        size: t.size,
                        colour: topic_colour(t.id),
                        keywords: t.keywords.iter().map(|k| k.term.as_str()).collect(),
                        label_at: placed.map(|b| [round(b.at[0]), round(b.at[1])]),
                        anchor: placed.map(|b| [round(b.anchor[0]), round(b.anchor[1])]),
                    }
                })
                .collect(),
        };
        // `<` only occurs inside JSON strings, so escaping it everywhere keeps a title such as
        // "</script>" from ending the data block early.
        let json = serde_json::to_string(&data)
            .expect("page data always serialises")
            .replace('<', "\\u003c");
        let title = escape(&self.title);
        format!(
            r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{STYLE}</style>
</head>
<body>
<header><h1>{title}</h1><input id="search" type="search" placeholder="Search titles" aria-label="Search titles"><span id="count"></span></header>
<main><svg id="map" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{title}"></svg><aside id="topics"></aside></main>
<footer>{n} papers, {k} topics; neighbourhood preservation {score:.3} (share of 10 nearest neighbours kept in 2-D)</footer>
<div id="tooltip" hidden></div>
<pre id="papermap-selfcheck" hidden></pre>
<script type="application/json" id="papermap-data">{json}</script>
<script>
{SCRIPT}</script>
</body>
</html>
"#,
            n = self.points.len(),
            k = self.topics.len(),
            score = self.neighbourhood_preservation,
        )
    }
}
