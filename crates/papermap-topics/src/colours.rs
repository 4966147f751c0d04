//! Colours that carry meaning: a topic's hue is the direction of its centre from the middle of
//! the map, so neighbouring topics get related hues and a group reads as one family of colours
//! (datamapplot colours clusters the same way). Lightness stays in a band that reads on white.

/// Colour of a place on the map: `centre` relative to the map's `middle`, `extent` its radius.
pub(crate) fn colour_at(centre: [f32; 2], middle: [f32; 2], extent: f32) -> String {
    let (dx, dy) = (centre[0] - middle[0], centre[1] - middle[1]);
    let hue = (dy.atan2(dx).to_degrees() + 360.0) % 360.0;
    let r = ((dx * dx + dy * dy).sqrt() / extent.max(1e-6)).clamp(0.0, 1.0);
    // Near the middle: greyer and darker; outwards: more saturated.
    let saturation = 0.35 + 0.4 * r;
    let mut lightness = 0.36 + 0.1 * r;
    // Yellows and greens are bright at any lightness: darken until they read on white.
    loop {
        let colour = hsl_hex(hue, saturation, lightness);
        if contrast_on_white(&colour) >= MIN_CONTRAST || lightness <= 0.1 {
            return colour;
        }
        lightness -= 0.02;
    }
}

/// WCAG's contrast for large text and graphics against the white page.
const MIN_CONTRAST: f32 = 3.0;

/// `#rrggbb` of an HSL colour (hue in degrees, saturation and lightness in 0..=1).
pub(crate) fn hsl_hex(hue: f32, saturation: f32, lightness: f32) -> String {
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    let byte = |v: f32| ((v + m).clamp(0.0, 1.0) * 255.0).round() as u8;
    format!("#{:02x}{:02x}{:02x}", byte(r), byte(g), byte(b))
}

/// Relative luminance contrast of `#rrggbb` against white (WCAG), for tests and checks.
pub(crate) fn contrast_on_white(hex: &str) -> f32 {
    let channel = |i: usize| {
        let v = u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap_or(0) as f32 / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
    1.05 / (l + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl_hex(0.0, 1.0, 0.5), "#ff0000");
        assert_eq!(hsl_hex(120.0, 1.0, 0.5), "#00ff00");
        assert_eq!(hsl_hex(240.0, 1.0, 0.5), "#0000ff");
        assert_eq!(hsl_hex(0.0, 0.0, 1.0), "#ffffff");
    }

    #[test]
    fn nearby_places_get_near_hues_and_every_colour_reads_on_white() {
        let a = colour_at([5.0, 0.1], [0.0, 0.0], 10.0);
        let b = colour_at([5.0, 0.4], [0.0, 0.0], 10.0);
        let far = colour_at([-5.0, 0.0], [0.0, 0.0], 10.0);
        let rgb = |h: &str| u32::from_str_radix(&h[1..], 16).unwrap();
        let diff = |x: u32, y: u32| {
            (0..3)
                .map(|i| ((x >> (8 * i)) & 255).abs_diff((y >> (8 * i)) & 255))
                .sum::<u32>()
        };
        assert!(diff(rgb(&a), rgb(&b)) < diff(rgb(&a), rgb(&far)));
        for deg in (0..360).step_by(15) {
            let t = (deg as f32).to_radians();
            for r in [0.0, 5.0, 10.0] {
                let c = colour_at([r * t.cos(), r * t.sin()], [0.0, 0.0], 10.0);
                assert!(contrast_on_white(&c) >= 3.0, "{c} at {deg}° r {r}");
            }
        }
    }
}
