//! The report PDF's map of Europe: the console map's own outlines (`europe.svg`, Natural Earth,
//! public domain), the countries holding data shaded, and a marker at each country with a
//! provider, labelled with the providers there (amber when one is exposed to a foreign law).

use std::collections::{BTreeMap, BTreeSet};

use printpdf::{Color, LinePoint, Mm, Op, PaintMode, Point, Polygon, PolygonRing, Rgb, WindingOrder};

use super::map::GEOMETRY;
use super::map_anchors::{ANCHORS, SIZE};
use super::pdf::{Layout, WIDTH};

/// What the map shows.
#[derive(Default)]
pub(super) struct MapView {
    /// Countries (alpha-2) where data is stored.
    pub held: BTreeSet<String>,
    /// Country → its providers' ids, and whether one is exposed to a foreign law.
    pub sites: BTreeMap<String, (Vec<String>, bool)>,
}

fn rgb(r: f32, g: f32, b: f32) -> Color {
    Color::Rgb(Rgb::new(r, g, b, None))
}

/// A shape's rings, each a list of points in the map's units.
type Rings = Vec<Vec<(f32, f32)>>;

/// Each path of the geometry: its country code (if it is a country) and its rings in the map's
/// units. The asset is ours and only uses absolute `M`, `L` and `Z`.
fn shapes() -> impl Iterator<Item = (Option<&'static str>, Rings)> {
    GEOMETRY.split("<path").skip(1).filter_map(|element| {
        let code = element.split_once("id=\"c-").and_then(|(_, rest)| rest.get(..2));
        let (_, d) = element.split_once(" d=\"")?;
        let d = d.split('"').next()?;
        let rings = d
            .split('M')
            .filter(|r| !r.trim().is_empty())
            .map(|ring| {
                ring.trim_end_matches('Z')
                    .split('L')
                    .filter_map(|xy| {
                        let (x, y) = xy.trim().split_once(' ')?;
                        Some((x.parse().ok()?, y.parse().ok()?))
                    })
                    .collect()
            })
            .collect();
        Some((code, rings))
    })
}

/// Millimetres per unit of the map drawn across the text width.
const SCALE: f32 = WIDTH / SIZE.0 as f32;
/// The height the map takes, margins included.
pub(super) const HEIGHT: f32 = SIZE.1 as f32 * SCALE + 4.0;

/// Draws the map across the text width, below the layout's cursor (on a new page if it does
/// not fit).
pub(super) fn draw(layout: &mut Layout, map: &MapView, left: f32) {
    let (scale, height) = (SCALE, HEIGHT - 4.0);
    let top = layout.reserve(HEIGHT) - 2.0;
    let at = |(x, y): (f32, f32)| Point::new(Mm(left + x * scale), Mm(top - y * scale));
    // The outlines run a little past the frame (the console's SVG clips them to its viewBox).
    layout.clip(super::pdf::rect(left, top - height, WIDTH, height));
    for (code, rings) in shapes() {
        let fill = match code {
            Some(c) if map.held.contains(c) => rgb(0.55, 0.70, 0.88),
            _ => rgb(0.88, 0.88, 0.86),
        };
        let rings = rings
            .into_iter()
            .map(|r| PolygonRing { points: r.into_iter().map(|p| LinePoint { p: at(p), bezier: false }).collect() })
            .collect();
        let polygon = Polygon { rings, mode: PaintMode::Fill, winding_order: WindingOrder::EvenOdd };
        layout.draw(fill, Op::DrawPolygon { polygon });
    }
    layout.unclip();
    for (code, (providers, exposed)) in &map.sites {
        let Some((_, x, y)) = ANCHORS.iter().find(|(c, _, _)| c == code) else { continue };
        let fill = if *exposed { rgb(0.90, 0.60, 0.10) } else { rgb(0.15, 0.55, 0.25) };
        let marker = (0..12u8)
            .map(|i| {
                let a = f32::from(i) * std::f32::consts::PI / 6.0;
                LinePoint { p: at((x + 9.0 * a.cos(), y + 9.0 * a.sin())), bezier: false }
            })
            .collect();
        let polygon = Polygon {
            rings: vec![PolygonRing { points: marker }],
            mode: PaintMode::Fill,
            winding_order: WindingOrder::NonZero,
        };
        layout.draw(fill, Op::DrawPolygon { polygon });
        let label = format!("{code}: {}", providers.join(", "));
        layout.text(left + (x + 13.0) * scale, top - (y + 3.0) * scale, 7.0, false, &label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Promise: the geometry parses into shapes, every country of the console's map among them,
    /// its rings within the ten units past the frame that the drawing clips.
    #[test]
    fn the_outlines_parse_inside_the_frame() {
        let all: Vec<_> = shapes().collect();
        for (code, _, _) in ANCHORS {
            assert!(all.iter().any(|(c, _)| *c == Some(code)), "{code}");
        }
        let points: Vec<(f32, f32)> = all.iter().flat_map(|(_, rings)| rings.iter().flatten().copied()).collect();
        assert!(points.len() > 5000, "{} points", points.len());
        let frame = (-10.0..=SIZE.0 as f32 + 10.0, -10.0..=SIZE.1 as f32 + 10.0);
        assert!(points.iter().all(|(x, y)| frame.0.contains(x) && frame.1.contains(y)));
    }
}
