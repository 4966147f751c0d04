//! The map as one self-contained, interactive HTML page (inline CSS, JS and data; no network).
//!
//! Points travel as a packed binary blob (u16 coordinates, u16 topics, flags, titles and ids
//! behind offset tables), gzip-compressed and base64-inlined; the page decodes it with the
//! browser's own `DecompressionStream` and draws it with WebGL. The layout of the blob and of
//! the metadata is `assets/PAGE_FORMAT.md`; this module is its only writer.

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;

use crate::map::{MapList, TopicMap};
use crate::svg::escape;

const TEMPLATE: &str = include_str!("../assets/map.html");
const SCRIPT: &str = include_str!("../assets/map.js");
/// Only pages with an [`api`](TopicMap::api) carry it: search and related papers by server.
const LIVE_SCRIPT: &str = include_str!("../assets/live.js");
const STYLE: &str = include_str!("../assets/map.css");
/// Version of the page data (`meta.version`), bumped with any change to PAGE_FORMAT.md.
const PAGE_FORMAT: u32 = 3;

#[derive(Serialize)]
struct Meta<'a> {
    version: u32,
    title: &'a str,
    n: usize,
    bounds: [f32; 4],
    link_template: Option<&'a str>,
    preservation: f64,
    added: usize,
    sections: BTreeMap<&'static str, [usize; 2]>,
    topics: Vec<MetaTopic<'a>>,
    groups: Vec<MetaGroup<'a>>,
    today: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<&'a MapList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<&'a str>,
}

#[derive(Serialize)]
struct MetaTopic<'a> {
    id: usize,
    label: &'a str,
    keywords: Vec<&'a str>,
    size: usize,
    colour: &'a str,
    group: Option<usize>,
    centre: [f32; 2],
}

#[derive(Serialize)]
struct MetaGroup<'a> {
    id: usize,
    label: &'a str,
    topics: &'a [usize],
    size: usize,
    colour: &'a str,
    centre: [f32; 2],
}

/// The blob under construction: sections appended at 4-byte boundaries.
#[derive(Default)]
struct Blob {
    bytes: Vec<u8>,
    sections: Vec<(&'static str, [usize; 2])>,
}

impl Blob {
    fn section(&mut self, name: &'static str, bytes: impl IntoIterator<Item = u8>) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
        let start = self.bytes.len();
        self.bytes.extend(bytes);
        self.sections
            .push((name, [start, self.bytes.len() - start]));
    }

    /// Strings concatenated as UTF-8, with `(n+1)` u32 offsets in UTF-16 code units (what the
    /// page's `String.substring` counts once it has decoded the whole section).
    fn strings<'a>(
        &mut self,
        offsets: &'static str,
        text: &'static str,
        all: impl Iterator<Item = &'a str>,
    ) {
        let mut utf8 = Vec::new();
        let mut ends = vec![0u32];
        let mut units = 0u32;
        for s in all {
            utf8.extend_from_slice(s.as_bytes());
            units += s.encode_utf16().count() as u32;
            ends.push(units);
        }
        self.section(offsets, ends.into_iter().flat_map(u32::to_le_bytes));
        self.section(text, utf8);
    }
}

impl TopicMap {
    /// The map as a self-contained HTML page that draws every point with WebGL (canvas when
    /// WebGL is missing): pan and zoom, hover shows a title (found through a spatial index),
    /// click opens the paper, the search box highlights matching titles and counts them, topics
    /// toggle, labels never overlap (groups when zoomed out, topics when zoomed in), and papers
    /// added since the map was made can be highlighted. A [`MapList`] is listed beside the map in
    /// its order (hovering an item rings its point, clicking it zooms there) and its papers
    /// (`today`) are highlighted. Opened with `#selfcheck=<query>` the page
    /// exercises those features and writes what it saw into `#papermap-selfcheck` (the
    /// headless-browser test reads it).
    pub fn to_html(&self) -> String {
        let (min, max) = self.bounds();
        let quantise = |v: f32, lo: f32, hi: f32| -> u16 {
            let span = (hi - lo).max(1e-12);
            (((v - lo) / span).clamp(0.0, 1.0) * 65535.0).round() as u16
        };
        let mut blob = Blob::default();
        let pts = &self.points;
        blob.section(
            "x",
            pts.iter()
                .flat_map(|p| quantise(p.x, min[0], max[0]).to_le_bytes()),
        );
        blob.section(
            "y",
            pts.iter()
                .flat_map(|p| quantise(p.y, min[1], max[1]).to_le_bytes()),
        );
        blob.section(
            "topic",
            pts.iter().flat_map(|p| (p.topic as u16).to_le_bytes()),
        );
        blob.section(
            "flags",
            pts.iter().map(|p| p.added as u8 | (p.today as u8) << 1),
        );
        blob.strings(
            "title_offsets",
            "titles",
            pts.iter().map(|p| p.title.as_str()),
        );
        blob.strings("id_offsets", "ids", pts.iter().map(|p| p.id.as_str()));
        let meta = Meta {
            version: PAGE_FORMAT,
            title: &self.title,
            n: pts.len(),
            bounds: [min[0], min[1], max[0], max[1]],
            link_template: self.link_template.as_deref(),
            preservation: self.neighbourhood_preservation,
            added: pts.iter().filter(|p| p.added).count(),
            today: pts.iter().filter(|p| p.today).count(),
            list: self.list.as_ref(),
            api: self.api.as_deref(),
            sections: blob.sections.iter().copied().collect(),
            topics: self
                .topics
                .iter()
                .map(|t| MetaTopic {
                    id: t.id,
                    label: &t.label,
                    keywords: t.keywords.iter().map(|k| k.term.as_str()).collect(),
                    size: t.size,
                    colour: &t.colour,
                    group: t.group,
                    centre: t.centre,
                })
                .collect(),
            groups: self
                .groups
                .iter()
                .map(|g| MetaGroup {
                    id: g.id,
                    label: &g.label,
                    topics: &g.topics,
                    size: g.size,
                    colour: &g.colour,
                    centre: g.centre,
                })
                .collect(),
        };
        // `<` only occurs inside JSON strings, so escaping it everywhere keeps a label such as
        // "</script>" from ending the data block early.
        let meta = serde_json::to_string(&meta)
            .expect("page metadata always serialises")
            .replace('<', "\\u003c");
        let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
        gz.write_all(&blob.bytes).expect("writing to memory");
        let packed = gz.finish().expect("writing to memory");
        drop(blob);
        let points = base64::engine::general_purpose::STANDARD.encode(packed);
        let footer = format!(
            "{} papers, {} topics; neighbourhood preservation {:.3} (share of 10 nearest neighbours kept in 2-D)",
            self.points.len(),
            self.topics.len(),
            self.neighbourhood_preservation
        );
        fill(
            TEMPLATE,
            &[
                ("{{TITLE}}", &escape(&self.title)),
                ("{{STYLE}}", STYLE),
                ("{{FOOTER}}", &escape(&footer)),
                ("{{SCRIPT}}", SCRIPT),
                (
                    "{{LIVE}}",
                    if self.api.is_some() { LIVE_SCRIPT } else { "" },
                ),
                ("{{META}}", &meta),
                ("{{POINTS}}", &points),
            ],
        )
    }
}

/// Replaces each placeholder of `template` once, in one pass over the template, so text that
/// was filled in (a title, the data) is never searched for placeholders again.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let extra: usize = values.iter().map(|(_, v)| v.len()).sum();
    let mut out = String::with_capacity(template.len() + extra);
    let mut rest = template;
    while let Some((at, (key, value))) = values
        .iter()
        .filter_map(|kv| rest.find(kv.0).map(|i| (i, kv)))
        .min_by_key(|(i, _)| *i)
    {
        out.push_str(&rest[..at]);
        out.push_str(value);
        rest = &rest[at + key.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_placeholders_once_and_never_inside_values() {
        let out = fill("<{{A}}|{{B}}>", &[("{{A}}", "{{B}}"), ("{{B}}", "b")]);
        assert_eq!(out, "<{{B}}|b>");
    }

    #[test]
    fn string_offsets_count_utf16_units() {
        let mut blob = Blob::default();
        blob.strings("o", "t", ["ab", "é", "𝛼"].into_iter());
        let (_, [start, len]) = blob.sections[0];
        let offs: Vec<u32> = blob.bytes[start..start + len]
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(offs, [0, 2, 3, 5]);
        assert_eq!(blob.sections[1].1[0] % 4, 0);
    }
}
