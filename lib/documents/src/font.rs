//! The one typeface of Kopek's documents, DejaVu Sans Condensed (regular and bold): it covers
//! Latin and Cyrillic, and is narrow enough for tables. Text is measured here with the font's
//! own advance widths (no kerning or shaping: neither script needs it for legible output).

use ttf_parser::{Face, GlyphId};

use crate::Error;

/// The two weights a document uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Regular,
    Bold,
}

impl Style {
    pub(crate) const ALL: [Style; 2] = [Style::Regular, Style::Bold];

    pub(crate) fn index(self) -> usize {
        match self {
            Style::Regular => 0,
            Style::Bold => 1,
        }
    }
}

/// A parsed font face with the measurements layout and embedding need.
pub(crate) struct Font {
    pub(crate) data: &'static [u8],
    pub(crate) face: Face<'static>,
    /// The PostScript name, without a subset tag.
    pub(crate) name: &'static str,
    pub(crate) bold: bool,
    units_per_em: f32,
    /// Drawn for characters the font lacks.
    fallback: GlyphId,
}

impl Font {
    pub(crate) fn load(style: Style) -> Result<Self, Error> {
        let (data, name) = match style {
            Style::Regular => (dejavu::sans_condensed::regular(), "DejaVuSansCondensed"),
            Style::Bold => (dejavu::sans_condensed::bold(), "DejaVuSansCondensed-Bold"),
        };
        let face = Face::parse(data, 0).map_err(|e| Error::Font(e.to_string()))?;
        let fallback = face.glyph_index('?').unwrap_or(GlyphId(0));
        Ok(Self {
            data,
            units_per_em: f32::from(face.units_per_em()),
            face,
            name,
            bold: style == Style::Bold,
            fallback,
        })
    }

    /// Both weights, indexed by [`Style::index`].
    pub(crate) fn load_all() -> Result<[Font; 2], Error> {
        Ok([Font::load(Style::Regular)?, Font::load(Style::Bold)?])
    }

    /// The glyph drawn for `c` (a question mark where the font has none).
    pub(crate) fn glyph(&self, c: char) -> u16 {
        self.face.glyph_index(c).unwrap_or(self.fallback).0
    }

    /// A glyph's advance in thousandths of the font size (PDF glyph space).
    pub(crate) fn advance_of(&self, glyph: u16) -> f32 {
        self.to_pdf_units(self.face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0))
    }

    /// Font units scaled to thousandths of the font size.
    pub(crate) fn to_pdf_units(&self, units: impl Into<f32>) -> f32 {
        units.into() * 1000.0 / self.units_per_em
    }

    /// The width of `text` set at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.advance_of(self.glyph(c)))
            .sum::<f32>()
            * size
            / 1000.0
    }

    /// How far the font rises above and falls below the baseline, as fractions of its size.
    pub(crate) fn extent(&self) -> (f32, f32) {
        (
            self.to_pdf_units(self.face.ascender()) / 1000.0,
            -self.to_pdf_units(self.face.descender()) / 1000.0,
        )
    }
}
