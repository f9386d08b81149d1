//! The one typeface of Kopek's documents, DejaVu Sans Condensed (regular and bold): it covers
//! Latin and Cyrillic, and is narrow enough for tables; cut to the scripts the documents print
//! (`fonts/subset.py`, from the `dejavu` crate's fonts). Text is measured here with the font's
//! own advance widths (no kerning or shaping: neither script needs it for legible output).

use ttf_parser::{Face, GlyphId};

use crate::Error;

/// The fonts cut to the scripts a work sheet prints (`fonts/subset.py`: Latin, Greek,
/// Cyrillic, punctuation, currency and common symbols; no hinting, no layout tables) — a
/// quarter of the full fonts' 1.3 MB in every binary that links the work sheet.
const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");

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
            Style::Regular => (REGULAR, "DejaVuSansCondensed"),
            Style::Bold => (BOLD, "DejaVuSansCondensed-Bold"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `fonts/subset.py`'s ranges, read from the script itself.
    fn ranges() -> Vec<(u32, u32)> {
        let script = include_str!("../fonts/subset.py");
        let list = script
            .split_once("RANGES = [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .expect("the script's RANGES")
            .0;
        let ranges: Vec<(u32, u32)> = list
            .lines()
            .filter_map(|line| {
                let line = line.trim().trim_end_matches(',');
                let (low, high) = line
                    .strip_prefix('(')?
                    .strip_suffix(')')?
                    .split_once(", ")?;
                let hex = |h: &str| u32::from_str_radix(h.trim_start_matches("0x"), 16).ok();
                Some((hex(low)?, hex(high)?))
            })
            .collect();
        assert!(ranges.len() > 10, "{ranges:?}");
        ranges
    }

    #[test]
    fn the_cut_fonts_keep_every_character_of_their_ranges() {
        let pairs = [
            (dejavu::sans_condensed::regular(), REGULAR),
            (dejavu::sans_condensed::bold(), BOLD),
        ];
        for (full, cut) in pairs {
            assert!(
                cut.len() * 4 < full.len(),
                "{} of {}",
                cut.len(),
                full.len()
            );
            let full = Face::parse(full, 0).unwrap();
            let cut = Face::parse(cut, 0).unwrap();
            assert_eq!(full.units_per_em(), cut.units_per_em());
            assert_eq!(full.ascender(), cut.ascender());
            assert_eq!(full.descender(), cut.descender());
            let mut kept = 0;
            for c in ranges()
                .into_iter()
                .flat_map(|(low, high)| low..=high)
                .filter_map(char::from_u32)
            {
                let (Some(f), c_glyph) = (full.glyph_index(c), cut.glyph_index(c)) else {
                    continue;
                };
                let g = c_glyph.unwrap_or_else(|| panic!("{c:?} (U+{:04X}) was cut", c as u32));
                assert_eq!(
                    full.glyph_hor_advance(f),
                    cut.glyph_hor_advance(g),
                    "{c:?}'s width"
                );
                kept += 1;
            }
            // Latin, Greek and Cyrillic with their extensions: well over a thousand.
            assert!(kept > 1000, "{kept}");
            // A script outside the ranges is gone: the question mark stands in for it.
            assert!(full.glyph_index('ა').is_some() && cut.glyph_index('ა').is_none());
        }
    }
}
