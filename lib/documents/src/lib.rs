//! Kopek's printable documents, rendered in-process as PDF: no AWS, HTTP or I/O.
//!
//! - [`work_sheet`]: a batch's work sheet, one row per job.
//!
//! How: [`layout`](crate::layout) wraps text and places it on pages as a display list,
//! measured with the embedded font's own metrics ([`font`](crate::font): DejaVu Sans
//! Condensed, which covers Cyrillic); [`pdf`](crate::pdf) encodes the pages, embedding only
//! the glyphs drawn (a subset of the font), so a sheet of a full batch stays a few dozen
//! kilobytes. The output depends on the input alone (no clock), byte for byte.

mod font;
mod layout;
mod pdf;
pub mod work_sheet;

pub use work_sheet::{SheetRow, WorkSheet};

/// Rendering failed: only a font the crate ships could cause it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the embedded font cannot be used: {0}")]
    Font(String),
}
