//! The map as a static SVG: points coloured by topic, non-overlapping topic labels, a legend.

use std::fmt::Write;

use crate::map::TopicMap;

/// Plot area (points and labels) in SVG pixels; the legend sits to its right.
pub(crate) const PLOT_W: f32 = 860.0;
pub(crate) const PLOT_H: f32 = 760.0;
const MARGIN: f32 = 20.0;
const LEGEND_W: f32 = 320.0;
const LEGEND_ROW: f32 = 20.0;
const FONT_PX: f32 = 12.0;

/// Above this many papers the SVG shades density cells instead of drawing one mark per paper,
/// which keeps the file under a few megabytes at any size.
pub(crate) const SVG_POINT_LIMIT: usize = 20_000;
/// Side of a density cell, in SVG pixels.
const CELL_PX: f32 = 3.0;

/// Colour of topic `id` on `map` (grey for a map saved before topics had colours).
fn colour(map: &TopicMap, id: usize) -> &str {
    match map.topics.get(id).map(|t| t.colour.as_str()) {
        Some(c) if !c.is_empty() => c,
        _ => "#777777",
    }
}

/// Maps layout coordinates into the plot area, keeping the aspect ratio.
pub(crate) struct Frame {
    min: [f32; 2],
    scale: f32,
    offset: [f32; 2],
}

impl Frame {
    pub fn of(map: &TopicMap) -> Frame {
        let (min, max) = map.bounds();
        let span = [(max[0] - min[0]).max(1e-6), (max[1] - min[1]).max(1e-6)];
        let scale = ((PLOT_W - 2.0 * MARGIN) / span[0]).min((PLOT_H - 2.0 * MARGIN) / span[1]);
        let offset = [
            MARGIN + ((PLOT_W - 2.0 * MARGIN) - span[0] * scale) / 2.0,
            MARGIN + ((PLOT_H - 2.0 * MARGIN) - span[1] * scale) / 2.0,
        ];
        Frame { min, scale, offset }
    }

    /// SVG pixel position of a layout point (y grows downwards in SVG).
    pub fn px(&self, x: f32, y: f32) -> [f32; 2] {
        [
            self.offset[0] + (x - self.min[0]) * self.scale,
            PLOT_H - (self.offset[1] + (y - self.min[1]) * self.scale),
        ]
    }
}

/// A placed topic label: text anchor point and its box.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LabelBox {
    pub topic: usize,
    /// Centre of the label text.
    pub at: [f32; 2],
    pub w: f32,
    pub h: f32,
    /// Where the topic's centre is (a leader line joins them when the label moved).
    pub anchor: [f32; 2],
}

impl LabelBox {
    fn overlaps(&self, other: &LabelBox) -> bool {
        (self.at[0] - other.at[0]).abs() * 2.0 < self.w + other.w
            && (self.at[1] - other.at[1]).abs() * 2.0 < self.h + other.h
    }
}

/// Places topic labels at their centres, largest topic first; a label that would overlap one
/// already placed moves outwards along a spiral to the first free spot inside the plot.
pub(crate) fn place_labels(map: &TopicMap, frame: &Frame) -> Vec<LabelBox> {
    let mut order: Vec<usize> = (0..map.topics.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(map.topics[i].size), i));
    let mut placed: Vec<LabelBox> = Vec::new();
    for i in order {
        let topic = &map.topics[i];
        if topic.size == 0 {
            continue;
        }
        let anchor = frame.px(topic.centre[0], topic.centre[1]);
        let w = text_width(&topic.label) + 8.0;
        let h = FONT_PX + 6.0;
        let fits = |b: &LabelBox| {
            b.at[0] - b.w / 2.0 >= 0.0
                && b.at[0] + b.w / 2.0 <= PLOT_W
                && b.at[1] - b.h / 2.0 >= 0.0
                && b.at[1] + b.h / 2.0 <= PLOT_H
                && placed.iter().all(|p| !p.overlaps(b))
        };
        let candidate = |step: usize| {
            // Step 0 is the centre; then rings of 16 positions, 12 px further out each ring.
            let (ring, slot) = (step.div_ceil(16), (step + 15) % 16);
            let angle = slot as f32 * std::f32::consts::TAU / 16.0;
            let r = ring as f32 * 12.0;
            let mut at = [anchor[0] + r * angle.cos(), anchor[1] + r * angle.sin()];
            at[0] = at[0].clamp(w / 2.0, PLOT_W - w / 2.0);
            at[1] = at[1].clamp(h / 2.0, PLOT_H - h / 2.0);
            LabelBox {
                topic: topic.id,
                at,
                w,
                h,
                anchor,
            }
        };
        let spot = (0..16 * 60).map(candidate).find(|b| fits(b));
        // A crowded map can run out of room; the label then goes to its centre regardless.
        placed.push(spot.unwrap_or_else(|| candidate(0)));
    }
    placed
}

/// Width of `text` at the label font: a per-character estimate, wide enough for most Latin text.
fn text_width(text: &str) -> f32 {
    text.chars().count() as f32 * FONT_PX * 0.62
}

/// Escapes text for XML/HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl TopicMap {
    /// Shades the plot in cells of [`CELL_PX`]: each cell holding papers takes the colour of its
    /// most common topic (Boyer–Moore majority vote: two numbers per cell, whatever k is) and an
    /// opacity growing with the log of its count.
    fn density_cells(&self, frame: &Frame, s: &mut String) {
        let cols = (PLOT_W / CELL_PX).ceil() as usize;
        let rows = (PLOT_H / CELL_PX).ceil() as usize;
        // (count, majority candidate, its vote)
        let mut cells = vec![(0u32, 0usize, 0u32); cols * rows];
        for p in &self.points {
            let [x, y] = frame.px(p.x, p.y);
            let cx = ((x / CELL_PX) as usize).min(cols - 1);
            let cy = ((y / CELL_PX) as usize).min(rows - 1);
            let cell = &mut cells[cy * cols + cx];
            cell.0 += 1;
            if cell.2 == 0 {
                (cell.1, cell.2) = (p.topic, 1);
            } else if cell.1 == p.topic {
                cell.2 += 1;
            } else {
                cell.2 -= 1;
            }
        }
        let most = cells.iter().map(|c| c.0).max().unwrap_or(1).max(1) as f32;
        for (i, &(count, topic, _)) in cells.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let opacity = 0.25 + 0.75 * (count as f32).ln_1p() / most.ln_1p();
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="{CELL_PX}" height="{CELL_PX}" fill="{}" fill-opacity="{opacity:.2}"/>"#,
                (i % cols) as f32 * CELL_PX,
                (i / cols) as f32 * CELL_PX,
                colour(self, topic),
            );
        }
    }

    /// The map as a standalone SVG document: one `circle` per point (with the title as tooltip)
    /// up to 20,000 papers, density cells beyond, topic labels at their centres
    /// without overlaps (white halo), and a legend of labels and sizes.
    pub fn to_svg(&self) -> String {
        let frame = Frame::of(self);
        let labels = place_labels(self, &frame);
        let height = PLOT_H.max(2.0 * MARGIN + LEGEND_ROW * (self.topics.len() + 2) as f32);
        let width = PLOT_W + LEGEND_W;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
        );
        let _ = writeln!(s, "<title>{}</title>", escape(&self.title));
        let _ = writeln!(
            s,
            r#"<rect width="{width}" height="{height}" fill="white"/>"#
        );
        let _ = writeln!(s, r#"<g class="points">"#);
        if self.points.len() <= SVG_POINT_LIMIT {
            for p in &self.points {
                let [x, y] = frame.px(p.x, p.y);
                let _ = writeln!(
                    s,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}" fill-opacity="0.75" data-topic="{}"><title>{}</title></circle>"#,
                    colour(self, p.topic),
                    p.topic,
                    escape(&p.title)
                );
            }
        } else {
            self.density_cells(&frame, &mut s);
        }
        let _ = writeln!(
            s,
            "</g>\n<g class=\"labels\" font-size=\"{FONT_PX}\" font-weight=\"bold\">"
        );
        for b in &labels {
            if (b.at[0] - b.anchor[0]).hypot(b.at[1] - b.anchor[1]) > 1.0 {
                let _ = writeln!(
                    s,
                    r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#555" stroke-width="0.7"/>"##,
                    b.anchor[0], b.anchor[1], b.at[0], b.at[1]
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" dominant-baseline="central" fill="{}" stroke="white" stroke-width="3" paint-order="stroke">{}</text>"#,
                b.at[0],
                b.at[1],
                colour(self, b.topic),
                escape(&self.topics[b.topic].label)
            );
        }
        let _ = writeln!(s, "</g>\n<g class=\"legend\" font-size=\"12\">");
        let lx = PLOT_W + 10.0;
        let _ = writeln!(
            s,
            r#"<text x="{lx}" y="{}" font-weight="bold">Topics ({} papers)</text>"#,
            MARGIN + 4.0,
            self.points.len()
        );
        for (row, t) in self.topics.iter().enumerate() {
            let y = MARGIN + LEGEND_ROW * (row + 1) as f32;
            let _ = writeln!(
                s,
                r#"<rect x="{lx}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{}" y="{:.1}">{} ({})</text>"#,
                y - 2.0,
                colour(self, t.id),
                lx + 18.0,
                y + 8.0,
                escape(&t.label),
                t.size
            );
        }
        s.push_str("</g>\n</svg>\n");
        s
    }
}
