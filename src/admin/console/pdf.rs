//! A small page layout for the compliance report's PDF (printpdf, the built-in Helvetica, A4,
//! no external program): a title, headings, wrapped paragraphs, ruled tables whose header row
//! repeats on each page they run onto, and the map of Europe ([`super::pdf_map`]). Text keeps
//! to what the built-in fonts encode (WinAnsi: ASCII and Latin-1, so "Telefónica" stays itself;
//! anything else prints as `?`) and wraps by Helvetica's own glyph widths.

use printpdf::{
    BuiltinFont, Color, DictItem, Greyscale, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect,
};

/// A4 in millimetres.
const PAGE: (f32, f32) = (210.0, 297.0);
const MARGIN: f32 = 18.0;
/// The width text and tables may use.
pub(super) const WIDTH: f32 = PAGE.0 - 2.0 * MARGIN;
const MM_PER_PT: f32 = 25.4 / 72.0;
/// What must fit under a heading on its page (a table's header and first rows, a few lines).
const KEEP_WITH_HEADING: f32 = 25.0;
/// Table cells: font size, line height (points) and padding (millimetres).
const CELL_SIZE: f32 = 8.0;
const CELL_LINE: f32 = 10.0;
const CELL_PAD: f32 = 1.4;

/// What the document is made of, top to bottom.
pub(super) enum Block {
    Title(String),
    Heading(String),
    Text(String),
    Table(Table),
    Map(super::pdf_map::MapView),
}

/// A table: its columns (header and share of the width; the shares add up to 1) and rows.
pub(super) struct Table {
    pub columns: Vec<(&'static str, f32)>,
    pub rows: Vec<Vec<String>>,
}

/// Helvetica's advance widths (thousandths of the font size) of ASCII 32–126, from its AFM.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556,
    556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334,
    260, 334, 584,
];

/// What a built-in font encodes: the character, or `?`.
fn encodable(c: char) -> char {
    if (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c) { c } else { '?' }
}

/// `text` in the built-in fonts' encoding (WinAnsi: ASCII and Latin-1 are their own code).
/// printpdf 0.9 writes a `ShowText` in a built-in font as UTF-8 bytes, which a reader takes
/// for WinAnsi ("Telefónica" would print "TelefÃ³nica"), so the report writes its `Tj` itself.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(u32::from(encodable(c))).unwrap_or(b'?')).collect()
}

/// The width of `text` in millimetres at `size` points (bold is at most a tenth wider; Latin-1
/// letters are taken as wide as the widest lowercase ones).
fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| u32::from((c as usize).checked_sub(32).and_then(|i| HELVETICA.get(i).copied()).unwrap_or(611)))
        .sum();
    let bold = if bold { 1.1 } else { 1.0 };
    units as f32 / 1000.0 * size * MM_PER_PT * bold
}

/// `text` in lines no wider than `width` mm, broken at spaces (a word wider than a line is cut);
/// no character is lost, only what the font cannot encode becomes `?`.
pub(super) fn wrap(text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
    let fits = |s: &str| text_width(s, size, bold) <= width;
    let mut out = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let mut word: String = word.chars().map(encodable).collect();
        let joined = if current.is_empty() { word.clone() } else { format!("{current} {word}") };
        if fits(&joined) {
            current = joined;
            continue;
        }
        if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        while !fits(&word) {
            let mut cut = word.chars().count().saturating_sub(1).max(1);
            while cut > 1 && !fits(&word.chars().take(cut).collect::<String>()) {
                cut -= 1;
            }
            let rest: String = word.chars().skip(cut).collect();
            word.truncate(word.char_indices().nth(cut).map_or(word.len(), |(i, _)| i));
            out.push(std::mem::replace(&mut word, rest));
        }
        current = word;
    }
    out.push(current);
    out
}

/// The rectangle of lower left corner (`x`, `y`) mm and this size.
pub(super) fn rect(x: f32, y: f32, width: f32, height: f32) -> Rect {
    Rect {
        x: Mm(x).into(),
        y: Mm(y).into(),
        width: Mm(width).into(),
        height: Mm(height).into(),
        mode: Some(PaintMode::Fill),
        winding_order: None,
    }
}

fn grey(level: f32) -> Color {
    Color::Greyscale(Greyscale { percent: level, icc_profile: None })
}

/// The pages done and the one being filled, with the cursor's height from the page's foot.
pub(super) struct Layout {
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Self { pages: Vec::new(), ops: Vec::new(), y: PAGE.1 - MARGIN }
    }

    fn new_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.ops));
        self.y = PAGE.1 - MARGIN;
    }

    /// Starts a new page unless `height` mm still fit on this one.
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN && self.y < PAGE.1 - MARGIN {
            self.new_page();
        }
    }

    /// Writes `text` with its baseline at (`x`, `y`) mm.
    pub(super) fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let font = if bold { BuiltinFont::HelveticaBold } else { BuiltinFont::Helvetica };
        self.ops.extend([
            Op::StartTextSection,
            Op::SetTextCursor { pos: Point::new(Mm(x), Mm(y)) },
            Op::SetFont { font: PdfFontHandle::Builtin(font), size: Pt(size) },
            Op::Unknown {
                key: "Tj".to_owned(),
                value: vec![DictItem::String { data: win_ansi(text), literal: false }],
            },
            Op::EndTextSection,
        ]);
    }

    /// Draws with `fill` (and back to black text after).
    pub(super) fn draw(&mut self, fill: Color, op: Op) {
        self.ops.extend([Op::SetFillColor { col: fill }, op, Op::SetFillColor { col: grey(0.0) }]);
    }

    /// What `draw` calls draw from here on shows only inside `area`, until [`Self::unclip`].
    pub(super) fn clip(&mut self, mut area: Rect) {
        // printpdf writes a rectangle with a winding order as `re W n`: a clipping path.
        area.winding_order = Some(printpdf::WindingOrder::NonZero);
        self.ops.extend([Op::SaveGraphicsState, Op::DrawRectangle { rectangle: area }]);
    }

    pub(super) fn unclip(&mut self) {
        self.ops.push(Op::RestoreGraphicsState);
    }

    fn rule(&mut self, y: f32, level: f32) {
        let point = |x: f32| LinePoint { p: Point::new(Mm(x), Mm(y)), bezier: false };
        self.ops.extend([
            Op::SetOutlineColor { col: grey(level) },
            Op::SetOutlineThickness { pt: Pt(0.4) },
            Op::DrawLine { line: Line { points: vec![point(MARGIN), point(MARGIN + WIDTH)], is_closed: false } },
        ]);
    }

    /// Wrapped lines of `size` points, each on the page that has room for it.
    fn lines(&mut self, text: &str, size: f32, bold: bool, before: f32) {
        let height = size * 1.3 * MM_PER_PT;
        self.room(before + height);
        self.y -= before;
        for line in wrap(text, WIDTH, size, bold) {
            self.room(height);
            self.y -= height;
            self.text(MARGIN, self.y + 0.25 * height, size, bold, &line);
        }
    }

    fn table(&mut self, t: &Table) {
        let row_height = |lines: usize| lines as f32 * CELL_LINE * MM_PER_PT + 2.0 * CELL_PAD;
        self.room(row_height(2) * 2.0);
        self.header(&t.columns);
        for row in &t.rows {
            self.row(&t.columns, row, false);
        }
    }

    /// The header row: the columns' names, bold on grey.
    fn header(&mut self, columns: &[(&'static str, f32)]) {
        let names: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        self.row(columns, &names, true);
    }

    /// One row, its cells wrapped to their columns; a row longer than the page's rest goes on
    /// on the next page, under the header again.
    fn row(&mut self, columns: &[(&'static str, f32)], cells: &[String], header: bool) {
        let line_mm = CELL_LINE * MM_PER_PT;
        let wrapped: Vec<Vec<String>> = columns
            .iter()
            .zip(cells)
            .map(|((_, share), cell)| wrap(cell, share * WIDTH - 2.0 * CELL_PAD, CELL_SIZE, header))
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        let mut done = 0;
        while done < lines {
            let room = self.y - MARGIN - 2.0 * CELL_PAD;
            let take = (1..=lines - done).take_while(|n| *n as f32 * line_mm <= room).count();
            if take == 0 {
                self.new_page();
                if !header {
                    self.header(columns);
                }
                continue;
            }
            let height = take as f32 * line_mm + 2.0 * CELL_PAD;
            if header {
                let band = rect(MARGIN, self.y - height, WIDTH, height);
                // printpdf writes a `DrawRectangle` as a path it never paints: fill its polygon.
                self.draw(grey(0.9), Op::DrawPolygon { polygon: band.to_polygon() });
            }
            let mut x = MARGIN;
            for ((_, share), cell) in columns.iter().zip(&wrapped) {
                for (i, line) in cell.iter().skip(done).take(take).enumerate() {
                    let baseline = self.y - CELL_PAD - (i as f32 + 0.78) * line_mm;
                    self.text(x + CELL_PAD, baseline, CELL_SIZE, header, line);
                }
                x += share * WIDTH;
            }
            self.y -= height;
            self.rule(self.y, if header { 0.4 } else { 0.75 });
            done += take;
        }
    }

    /// Reserves `height` mm (on a new page if they do not fit here); the top of the space.
    pub(super) fn reserve(&mut self, height: f32) -> f32 {
        self.room(height);
        let top = self.y;
        self.y -= height;
        top
    }
}

/// The document of `blocks`, titled `title`.
pub(super) fn render(title: &str, blocks: &[Block]) -> Vec<u8> {
    let mut layout = Layout::new();
    for (i, block) in blocks.iter().enumerate() {
        match block {
            Block::Title(t) => layout.lines(t, 16.0, true, 0.0),
            Block::Heading(h) => {
                // A heading stays with what follows: the whole map, or the first lines of the rest.
                let next = match blocks.get(i + 1) {
                    Some(Block::Map(_)) => super::pdf_map::HEIGHT,
                    _ => KEEP_WITH_HEADING,
                };
                layout.room(5.0 + 12.0 * 1.3 * MM_PER_PT + next);
                layout.lines(h, 12.0, true, 5.0);
            }
            Block::Text(t) => layout.lines(t, 9.0, false, 1.5),
            Block::Table(t) => {
                layout.y -= 2.0;
                layout.table(t);
            }
            Block::Map(m) => super::pdf_map::draw(&mut layout, m, MARGIN),
        }
    }
    layout.new_page();
    let total = layout.pages.len();
    let pages = std::mem::take(&mut layout.pages)
        .into_iter()
        .enumerate()
        .map(|(i, ops)| {
            layout.ops = ops;
            layout.text(MARGIN, MARGIN / 2.0, 7.0, false, &format!("{title} \u{b7} page {} of {total}", i + 1));
            PdfPage::new(Mm(PAGE.0), Mm(PAGE.1), std::mem::take(&mut layout.ops))
        })
        .collect();
    let mut doc = PdfDocument::new(title);
    // Not `secure`: that drops every `Op::Unknown`, and the text is written as such (every
    // operation here is the layout's own, none comes from input).
    let options = PdfSaveOptions { secure: false, ..PdfSaveOptions::default() };
    doc.with_pages(pages).save(&options, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Promise: lines keep Latin-1 letters (operator names), replace what the PDF's built-in
    /// font cannot encode, wrap at spaces within the width, and cut a word longer than a line,
    /// losing no character.
    #[test]
    fn lines_wrap_within_the_width_and_keep_what_the_font_encodes() {
        assert_eq!(wrap("Telefónica Deutschland → DE", WIDTH, 9.0, false), ["Telefónica Deutschland ? DE"]);
        assert_eq!(win_ansi("Telefónica · → DE"), b"Telef\xf3nica \xb7 ? DE");
        // "word" is 2 167 thousandths wide and a space 278: eleven words to a line of 100 mm
        // at 10 pt, so thirty take three lines.
        let words = "word ".repeat(30);
        let wrapped = wrap(words.trim_end(), 100.0, 10.0, false);
        assert_eq!(wrapped.len(), 3, "{wrapped:?}");
        assert!(wrapped.iter().all(|l| text_width(l, 10.0, false) <= 100.0), "{wrapped:?}");
        assert_eq!(wrapped.join(" "), words.trim_end());
        let long = "x".repeat(120);
        let cut = wrap(&format!("hash {long}"), 40.0, 9.0, false);
        assert!(cut.len() > 2 && cut.iter().all(|l| text_width(l, 9.0, false) <= 40.0), "{cut:?}");
        assert_eq!(cut.concat().chars().filter(|c| *c == 'x').count(), long.len());
    }

    /// Promise: widths follow Helvetica's metrics (an `i` is narrower than an `m`; 1000 units
    /// of 10 pt are 10 pt wide).
    #[test]
    fn widths_follow_the_fonts_metrics() {
        assert!(text_width("iiii", 10.0, false) < text_width("mmmm", 10.0, false) / 3.0);
        let w = text_width("MMMMMM", 10.0, false); // 6 × 833
        assert!((w - 4.998 * 10.0 * MM_PER_PT).abs() < 1e-3, "{w}");
    }
}
