// Generates the console's map of Europe (src/admin/console/europe.svg) and the country
// anchors the providers' markers sit on (src/admin/console/map_anchors.rs) from Natural
// Earth's 1:50m countries (public domain) as the npm package world-atlas@2.0.2 ships them
// (ISC licence), projected with the EU's own map projection, Lambert azimuthal equal-area
// centred at 52°N 10°E (ETRS89-LAEA, EPSG:3035). Run once when the map should change:
//   mkdir -p /tmp/mapgen && (cd /tmp/mapgen && npm install world-atlas@2.0.2 topojson-client@3.1.0)
//   node scripts/europe-map.mjs /tmp/mapgen/node_modules
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const modules = process.argv[2];
const require = createRequire(path.join(modules, "x.js"));
const topojson = require("topojson-client");
const world = JSON.parse(fs.readFileSync(path.join(modules, "world-atlas/countries-50m.json"), "utf8"));
const countries = topojson.feature(world, world.objects.countries).features;

// ISO 3166-1 numeric → alpha-2, for the countries a provider may be in (the EEA, Switzerland,
// the United Kingdom and the other European states); the rest is drawn as plain land.
const ALPHA2 = {
  "008": "AL", "020": "AD", "040": "AT", "112": "BY", "056": "BE", "070": "BA", "100": "BG", "191": "HR",
  "196": "CY", "203": "CZ", "208": "DK", "233": "EE", "246": "FI", "250": "FR", "276": "DE", "300": "GR",
  "348": "HU", "352": "IS", "372": "IE", "380": "IT", "428": "LV", "438": "LI", "440": "LT", "442": "LU",
  "470": "MT", "498": "MD", "492": "MC", "499": "ME", "528": "NL", "807": "MK", "578": "NO", "616": "PL",
  "620": "PT", "642": "RO", "643": "RU", "674": "SM", "688": "RS", "703": "SK", "705": "SI", "724": "ES",
  "752": "SE", "756": "CH", "804": "UA", "826": "GB", "336": "VA", "792": "TR",
};

const RAD = Math.PI / 180;
const [LON0, LAT0] = [10 * RAD, 52 * RAD];
function laea([lon, lat]) {
  const [l, p] = [lon * RAD - LON0, lat * RAD];
  const k = Math.sqrt(2 / (1 + Math.sin(LAT0) * Math.sin(p) + Math.cos(LAT0) * Math.cos(p) * Math.cos(l)));
  return [k * Math.cos(p) * Math.sin(l), -k * (Math.cos(LAT0) * Math.sin(p) - Math.sin(LAT0) * Math.cos(p) * Math.cos(l))];
}

// The frame: from Iceland and Portugal to the Black Sea, from Crete to the North Cape.
const corners = [[-24, 34], [45, 34], [-24, 71.5], [45, 71.5], [10, 34], [10, 71.5], [-10, 36], [35, 70]].map(laea);
const xs = corners.map((c) => c[0]);
const ys = corners.map((c) => c[1]);
const [X0, X1, Y0, Y1] = [Math.min(...xs) * 0.72, Math.max(...xs) * 0.78, Math.min(...ys) * 0.92, Math.max(...ys)];
const WIDTH = 1000;
const SCALE = WIDTH / (X1 - X0);
const HEIGHT = Math.round((Y1 - Y0) * SCALE);
const px = ([x, y]) => [(x - X0) * SCALE, (y - Y0) * SCALE];
const r1 = (v) => Math.round(v * 10) / 10;

function ring(coords) {
  const pts = coords.map((c) => px(laea(c)));
  const inside = pts.some(([x, y]) => x > -50 && x < WIDTH + 50 && y > -50 && y < HEIGHT + 50);
  if (!inside) return "";
  // Vertices outside the frame are pulled onto a margin around it (what lies beyond is never
  // seen), then thinned: a vertex closer than 1.5 units to the last one kept adds nothing at
  // this scale.
  const clamp = (v, max) => Math.min(Math.max(v, -10), max + 10);
  let d = "";
  let last = null;
  for (const [x, y] of pts) {
    const p = [Math.round(clamp(x, WIDTH)), Math.round(clamp(y, HEIGHT))];
    if (last && Math.hypot(p[0] - last[0], p[1] - last[1]) < 1.5) continue;
    d += (last ? "L" : "M") + p[0] + " " + p[1];
    last = p;
  }
  return d.length > 20 ? d + "Z" : "";
}

function polygons(geometry) {
  if (!geometry) return [];
  return geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
}

// The anchor of a country: the centre of its largest polygon's outer ring in the frame
// (mainland France, not French Guiana; mainland Norway, not Svalbard).
function anchor(geometry) {
  let best = null;
  for (const poly of polygons(geometry)) {
    const pts = poly[0].map((c) => px(laea(c)));
    let area = 0, cx = 0, cy = 0;
    for (let i = 0; i < pts.length - 1; i++) {
      const f = pts[i][0] * pts[i + 1][1] - pts[i + 1][0] * pts[i][1];
      area += f; cx += (pts[i][0] + pts[i + 1][0]) * f; cy += (pts[i][1] + pts[i + 1][1]) * f;
    }
    if (area === 0) continue;
    const c = [cx / (3 * area), cy / (3 * area)];
    const visible = c[0] > 0 && c[0] < WIDTH && c[1] > 0 && c[1] < HEIGHT;
    if (visible && (!best || Math.abs(area) > best.area)) best = { area: Math.abs(area), c };
  }
  return best && best.c;
}

const paths = [];
const anchors = [];
for (const f of countries) {
  const d = polygons(f.geometry).map((poly) => poly.map(ring).join("")).join("");
  if (!d) continue;
  const code = ALPHA2[f.id];
  if (code) {
    paths.push(`<path id="c-${code}" class="country" d="${d}"/>`);
    const a = anchor(f.geometry);
    if (a) anchors.push([code, r1(a[0]), r1(a[1])]);
  } else {
    paths.push(`<path class="land" d="${d}"/>`);
  }
}
anchors.sort();
const here = path.dirname(new URL(import.meta.url).pathname);
const out = path.join(here, "..", "src", "admin", "console");
fs.writeFileSync(
  path.join(out, "europe.svg"),
  `<!-- Natural Earth 1:50m countries (public domain), from world-atlas@2.0.2 (ISC), ETRS89-LAEA; generated by scripts/europe-map.mjs -->\n` +
    `<g class="map-countries">\n${paths.join("\n")}\n</g>\n`,
);
fs.writeFileSync(
  path.join(out, "map_anchors.rs"),
  "//! Generated by scripts/europe-map.mjs (do not edit): the map's size, and where in it each\n" +
    "//! country's marker goes (the centre of its largest polygon, ETRS89-LAEA).\n\n" +
    `/// The map's width and height in its own units (the SVG's viewBox).\npub(super) const SIZE: (u32, u32) = (${WIDTH}, ${HEIGHT});\n\n` +
    "/// Alpha-2 country code → marker position.\n" +
    `pub(super) const ANCHORS: [(&str, f32, f32); ${anchors.length}] = [\n` +
    anchors.map(([c, x, y]) => `    ("${c}", ${x.toFixed(1)}, ${y.toFixed(1)}),`).join("\n") +
    "\n];\n",
);
console.log(`${paths.length} paths, ${anchors.length} anchors, ${WIDTH}x${HEIGHT}`);
