//! Closing documents typeset with Typst, in process.
//!
//! A [`Renderer`] holds the Typst engine with the templates (`src/templates/*.typ`) and the
//! DejaVu fonts embedded in the binary; [`Renderer::sheet`] lays out an
//! [`InvoiceSheet`](kopek_domain::documents::InvoiceSheet) — an invoice for payment or an act
//! of services rendered, every text already written by the domain — as a PDF. The template
//! reads the sheet as JSON from `sys.inputs.sheet`.
//!
//! **Deterministic**: the document carries no creation date and a fixed identifier derived
//! from its title, so the same sheet gives the same bytes, and the SHA-256 stored beside a
//! document can be reproduced by rendering it again.
//!
//! Typst is heavy to build (minutes) and to link (tens of megabytes), so only the documents
//! function and the tests depend on this crate; the services see rendering through a port.

use kopek_domain::documents::InvoiceSheet;
use typst::foundations::{Dict, IntoValue, Smart};
use typst_as_lib::TypstEngine;
use typst_as_lib::TypstTemplateMainFile;
use typst_layout::PagedDocument;

/// The template of invoices and acts.
const SHEET: &str = include_str!("templates/sheet.typ");

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template did not compile with this data: a bug in the template or the data.
    #[error("the template does not compile: {0}")]
    Template(String),
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
    #[error("the data could not be written as JSON: {0}")]
    Data(#[from] serde_json::Error),
}

/// The typesetting engine with its templates and fonts; build once, render many.
pub struct Renderer {
    sheet: TypstEngine<TypstTemplateMainFile>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let fonts: [&'static [u8]; 2] = [dejavu::sans::regular(), dejavu::sans::bold()];
        Self {
            sheet: TypstEngine::builder().main_file(SHEET).fonts(fonts).build(),
        }
    }

    /// The PDF of `sheet`.
    pub fn sheet(&self, sheet: &InvoiceSheet) -> Result<Vec<u8>, RenderError> {
        let json = serde_json::to_string(sheet)?;
        let mut inputs = Dict::new();
        inputs.insert("sheet".into(), json.into_value());
        let document: PagedDocument = self
            .sheet
            .compile_with_input(inputs)
            .output
            .map_err(|e| RenderError::Template(e.to_string()))?;
        let options = typst_pdf::PdfOptions {
            ident: Smart::Custom(format!("kopek:{}", sheet.title)),
            ..typst_pdf::PdfOptions::default()
        };
        typst_pdf::pdf(&document, &options).map_err(|errors| {
            RenderError::Pdf(
                errors
                    .iter()
                    .map(|e| e.message.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

impl kopek_domain::documents::Typesetter for Renderer {
    fn sheet(&self, sheet: &InvoiceSheet) -> Result<Vec<u8>, String> {
        Renderer::sheet(self, sheet).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kopek_domain::catalog::Lang;
    use kopek_domain::documents::SheetKind;
    use std::process::Command;

    /// The text of a PDF, by poppler's `pdftotext` (the project's setup installs it).
    fn text_of(pdf: &[u8], name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("kopek-render-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join(format!("{name}.pdf"));
        std::fs::write(&path, pdf).expect("the PDF is written");
        if let Some(out) = std::env::var_os("KOPEK_RENDER_OUT") {
            // To look at them as a person would: KOPEK_RENDER_OUT=dir, then pdftoppm -png.
            std::fs::write(std::path::Path::new(&out).join(format!("{name}.pdf")), pdf)
                .expect("written");
        }
        let out = Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .expect("pdftotext runs (poppler-utils)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 text")
    }

    #[test]
    fn every_requisite_and_line_of_the_sheet_is_printed_in_both_languages() {
        let renderer = Renderer::new();
        for kind in [
            SheetKind::Invoice,
            SheetKind::Act,
            SheetKind::CreditNote,
            SheetKind::Upd,
        ] {
            for lang in [Lang::Ru, Lang::En] {
                let sheet = InvoiceSheet::sample(kind, lang);
                let pdf = renderer.sheet(&sheet).expect("rendered");
                assert!(pdf.starts_with(b"%PDF-"));
                let text = text_of(&pdf, &format!("{kind:?}-{lang:?}"));
                // pdftotext breaks lines where the layout does: compare words in order.
                let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
                let printed = words(&text);
                let mut wanted = vec![
                    sheet.title.clone(),
                    sheet.subtitle.clone(),
                    sheet.seller.name.clone(),
                    sheet.buyer.name.clone(),
                    sheet.contract.clone(),
                ];
                // The UPD prints the parties as its numbered fields (checked below).
                if kind != SheetKind::Upd {
                    wanted.extend([sheet.seller.tax_line.clone(), sheet.buyer.tax_line.clone()]);
                    wanted.extend(sheet.seller.bank.iter().cloned());
                }
                for line in &sheet.lines {
                    wanted.extend([
                        line.service.clone(),
                        line.okei.to_string(),
                        line.unit_price.clone(),
                        line.net.clone(),
                        line.vat_rate.clone(),
                    ]);
                }
                wanted.extend(sheet.totals.iter().map(|(_, amount)| amount.clone()));
                wanted.extend(sheet.summary.iter().cloned());
                wanted.extend(sheet.signatures.iter().map(|s| s.role.clone()));
                if !sheet.statement.is_empty() {
                    wanted.push(sheet.statement.clone());
                }
                // The sample's exempt job names its legal basis.
                if kind != SheetKind::CreditNote {
                    assert_eq!(sheet.notes.len(), 1, "{kind:?} {lang:?}");
                }
                wanted.extend(sheet.notes.iter().cloned());
                for (label, value) in sheet.requisites.iter().chain(&sheet.transfer) {
                    wanted.extend([label.clone(), value.clone()]);
                }
                if kind == SheetKind::Upd {
                    assert_eq!(sheet.requisites.len(), 12, "fields 2 to 8");
                    assert!(
                        sheet
                            .title
                            .starts_with("Универсальный передаточный документ")
                    );
                }
                for want in wanted {
                    assert!(
                        printed.contains(&words(&want)),
                        "{kind:?} {lang:?}: {want:?} missing from:\n{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_same_sheet_always_gives_the_same_bytes() {
        let act = InvoiceSheet::sample(SheetKind::Act, Lang::Ru);
        let first = Renderer::new().sheet(&act).expect("rendered");
        let again = Renderer::new().sheet(&act).expect("rendered again");
        assert_eq!(first, again, "byte-identical");
        let invoice = Renderer::new()
            .sheet(&InvoiceSheet::sample(SheetKind::Invoice, Lang::Ru))
            .expect("rendered");
        assert_ne!(first, invoice);
    }
}
