//! Encodes laid-out pages as a PDF 1.7 file.
//!
//! Each font is embedded as a CID-keyed TrueType font (Type0, `Identity-H`) holding only the
//! glyphs the document draws: glyph ids are renumbered densely as text is encoded, the font
//! is subsetted to them, and a `ToUnicode` map lets readers copy and search the text
//! (Cyrillic included). Streams are deflated. Nothing depends on the clock, so the same
//! input gives the same bytes.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use subsetter::GlyphRemapper;

use crate::Error;
use crate::font::{Font, Style};
use crate::layout::{Op, Page};

/// Page size in points (width, height).
pub(crate) type Size = (f32, f32);

/// The glyphs of one font that the document draws, renumbered from 0 (`.notdef`) up.
struct UsedGlyphs {
    remapper: GlyphRemapper,
    /// New glyph id → the character it was drawn for (for `ToUnicode`).
    chars: BTreeMap<u16, char>,
}

impl UsedGlyphs {
    fn new() -> Self {
        Self {
            remapper: GlyphRemapper::new(),
            chars: BTreeMap::new(),
        }
    }

    /// `text` as 2-byte new glyph ids.
    fn encode(&mut self, font: &Font, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let glyph = self.remapper.remap(font.glyph(c));
            self.chars.entry(glyph).or_insert(c);
            out.extend_from_slice(&glyph.to_be_bytes());
        }
        out
    }
}

fn font_resource(style: Style) -> Name<'static> {
    match style {
        Style::Regular => Name(b"F0"),
        Style::Bold => Name(b"F1"),
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// Draws one page's operations, recording the glyphs used.
fn content(page: &Page, fonts: &[Font; 2], used: &mut [UsedGlyphs; 2]) -> Vec<u8> {
    let mut content = Content::new();
    let mut fill_gray = 0.0;
    let mut set_fill = |content: &mut Content, gray: f32| {
        if gray != fill_gray {
            content.set_fill_gray(gray);
            fill_gray = gray;
        }
    };
    for op in &page.ops {
        match op {
            Op::Text {
                style,
                size,
                x,
                y,
                gray,
                text,
            } => {
                set_fill(&mut content, *gray);
                let i = style.index();
                let glyphs = used[i].encode(&fonts[i], text);
                content
                    .begin_text()
                    .set_font(font_resource(*style), *size)
                    .next_line(*x, *y)
                    .show(Str(&glyphs))
                    .end_text();
            }
            Op::Line { from, to, width } => {
                content
                    .set_line_width(*width)
                    .move_to(from.0, from.1)
                    .line_to(to.0, to.1)
                    .stroke();
            }
            Op::Fill { x, y, w, h, gray } => {
                set_fill(&mut content, *gray);
                content.rect(*x, *y, *w, *h).fill_nonzero();
            }
        }
    }
    content.finish().into_vec()
}

/// A subset tag (six capital letters) derived from the glyphs kept, so different subsets of
/// the same font get different names, as the PDF specification asks.
fn subset_tag(glyphs: &GlyphRemapper) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for glyph in glyphs.remapped_gids() {
        for byte in glyph.to_be_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (0..6)
        .map(|i| char::from(b'A' + ((hash >> (i * 8)) % 26) as u8))
        .collect()
}

/// Writes the objects of one subsetted font; `type0` is the id pages refer to.
fn write_font(
    pdf: &mut Pdf,
    next: &mut Ref,
    type0: Ref,
    font: &Font,
    used: &UsedGlyphs,
) -> Result<(), Error> {
    let cid = next.bump();
    let descriptor = next.bump();
    let to_unicode = next.bump();
    let file = next.bump();
    let base = format!("{}+{}", subset_tag(&used.remapper), font.name);
    let base = Name(base.as_bytes());
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };

    pdf.type0_font(type0)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(to_unicode);

    let mut cid_font = pdf.cid_font(cid);
    cid_font
        .subtype(CidFontType::Type2)
        .base_font(base)
        .system_info(system_info)
        .font_descriptor(descriptor)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    let widths: Vec<f32> = used
        .remapper
        .remapped_gids()
        .map(|old| font.advance_of(old))
        .collect();
    cid_font.widths().consecutive(0, widths);
    cid_font.finish();

    let face = &font.face;
    let bbox = face.global_bounding_box();
    let mut flags = FontFlags::SYMBOLIC;
    flags.set(FontFlags::FORCE_BOLD, font.bold);
    pdf.font_descriptor(descriptor)
        .name(base)
        .flags(flags)
        .bbox(Rect::new(
            font.to_pdf_units(bbox.x_min),
            font.to_pdf_units(bbox.y_min),
            font.to_pdf_units(bbox.x_max),
            font.to_pdf_units(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(font.to_pdf_units(face.ascender()))
        .descent(font.to_pdf_units(face.descender()))
        .cap_height(font.to_pdf_units(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(if font.bold { 120.0 } else { 80.0 })
        .font_file2(file);

    let mut cmap = UnicodeCmap::new(Name(b"Kopek-UTF16"), system_info);
    for (&glyph, &c) in &used.chars {
        cmap.pair(glyph, c);
    }
    let cmap = cmap.finish();
    pdf.cmap(to_unicode, &cmap);

    let subset =
        subsetter::subset(font.data, 0, &used.remapper).map_err(|e| Error::Font(e.to_string()))?;
    let compressed = deflate(&subset);
    let mut stream = pdf.stream(file, &compressed);
    stream.filter(Filter::FlateDecode);
    stream.pair(
        Name(b"Length1"),
        i32::try_from(subset.len()).unwrap_or(i32::MAX),
    );
    Ok(())
}

/// The PDF file of `pages`, each of `size`, titled `title`.
pub(crate) fn write(
    pages: &[Page],
    size: Size,
    title: &str,
    fonts: &[Font; 2],
) -> Result<Vec<u8>, Error> {
    let mut pdf = Pdf::new();
    let mut next = Ref::new(1);
    let catalog = next.bump();
    let tree = next.bump();
    let info = next.bump();
    let font_refs = Style::ALL.map(|_| next.bump());
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (next.bump(), next.bump())).collect();

    pdf.catalog(catalog).pages(tree);
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("Kopek"));
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(page, _)| *page))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));

    let mut used = [UsedGlyphs::new(), UsedGlyphs::new()];
    for (page, (page_ref, content_ref)) in pages.iter().zip(&page_refs) {
        let mut p = pdf.page(*page_ref);
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, size.0, size.1))
            .contents(*content_ref);
        let mut resources = p.resources();
        let mut fonts_dict = resources.fonts();
        for style in Style::ALL {
            fonts_dict.pair(font_resource(style), font_refs[style.index()]);
        }
        fonts_dict.finish();
        resources.finish();
        p.finish();
        let stream = deflate(&content(page, fonts, &mut used));
        pdf.stream(*content_ref, &stream)
            .filter(Filter::FlateDecode);
    }
    for style in Style::ALL {
        let i = style.index();
        write_font(&mut pdf, &mut next, font_refs[i], &fonts[i], &used[i])?;
    }
    Ok(pdf.finish())
}
