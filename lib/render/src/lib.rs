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

use std::sync::{Arc, Mutex};

use kopek_domain::documents::InvoiceSheet;
use kopek_domain::documents::template::TemplateError;
use sha2::{Digest, Sha256};
use typst::diag::Severity;
use typst::foundations::{Dict, IntoValue, Smart};
use typst::syntax::{DiagSpan, DiagSpanKind, Source};
use typst_as_lib::conversions::IntoSource;
use typst_as_lib::{TypstAsLibError, TypstEngine, TypstTemplateMainFile};
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
    /// The last provider template compiled, by the SHA-256 of its source: a period's
    /// documents of one kind reuse one engine.
    custom: Mutex<Option<Custom>>,
}

/// A provider's template, ready to compile.
struct Custom {
    sha256: String,
    source: Source,
    engine: Arc<TypstEngine<TypstTemplateMainFile>>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

/// The embedded fonts every template may use.
fn fonts() -> [&'static [u8]; 2] {
    [dejavu::sans::regular(), dejavu::sans::bold()]
}

impl Renderer {
    pub fn new() -> Self {
        Self {
            sheet: TypstEngine::builder()
                .main_file(SHEET)
                .fonts(fonts())
                .build(),
            custom: Mutex::new(None),
        }
    }

    /// The PDF of `sheet`.
    pub fn sheet(&self, sheet: &InvoiceSheet) -> Result<Vec<u8>, RenderError> {
        let document =
            compile(&self.sheet, sheet)?.map_err(|e| RenderError::Template(e.to_string()))?;
        pdf(&document, sheet)
    }

    /// The PDF of `sheet` laid out by `template` (a provider's Typst source): refused with
    /// the compiler's first error and the template's line it points at.
    pub fn sheet_with(
        &self,
        template: &str,
        sheet: &InvoiceSheet,
    ) -> Result<Vec<u8>, TemplateError> {
        let (engine, source) = self.custom(template);
        let document = compile(&engine, sheet)
            .map_err(|e| TemplateError {
                message: e.to_string(),
                line: None,
            })?
            .map_err(|e| template_error(e, &source))?;
        pdf(&document, sheet).map_err(|e| TemplateError {
            message: e.to_string(),
            line: None,
        })
    }

    /// The engine of `template`, built unless it is the last one used.
    fn custom(&self, template: &str) -> (Arc<TypstEngine<TypstTemplateMainFile>>, Source) {
        let sha256 = format!("{:x}", Sha256::digest(template.as_bytes()));
        let mut last = self
            .custom
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(custom) = last.as_ref().filter(|c| c.sha256 == sha256) {
            return (custom.engine.clone(), custom.source.clone());
        }
        let source = ("/template.typ", template).into_source();
        let engine = Arc::new(
            TypstEngine::builder()
                .main_file(source.clone())
                .fonts(fonts())
                .build(),
        );
        *last = Some(Custom {
            sha256,
            source: source.clone(),
            engine: engine.clone(),
        });
        (engine, source)
    }
}

/// `engine`'s template compiled with `sheet` as its input: the outer error is the data's,
/// the inner the template's.
fn compile(
    engine: &TypstEngine<TypstTemplateMainFile>,
    sheet: &InvoiceSheet,
) -> Result<Result<PagedDocument, TypstAsLibError>, RenderError> {
    let json = serde_json::to_string(sheet)?;
    let mut inputs = Dict::new();
    inputs.insert("sheet".into(), json.into_value());
    Ok(engine.compile_with_input(inputs).output)
}

fn pdf(document: &PagedDocument, sheet: &InvoiceSheet) -> Result<Vec<u8>, RenderError> {
    let options = typst_pdf::PdfOptions {
        ident: Smart::Custom(format!("kopek:{}", sheet.title)),
        ..typst_pdf::PdfOptions::default()
    };
    typst_pdf::pdf(document, &options).map_err(|errors| {
        RenderError::Pdf(
            errors
                .iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// The first error of a failed compile, with the line of `source` it points at.
fn template_error(error: TypstAsLibError, source: &Source) -> TemplateError {
    match error {
        TypstAsLibError::TypstSource(diagnostics) => {
            let first = diagnostics
                .iter()
                .find(|d| d.severity == Severity::Error)
                .or(diagnostics.first());
            match first {
                Some(d) => TemplateError {
                    message: d.message.to_string(),
                    line: line_of(d.span, source),
                },
                None => TemplateError {
                    message: "the template does not compile".into(),
                    line: None,
                },
            }
        }
        other => TemplateError {
            message: other.to_string(),
            line: None,
        },
    }
}

/// The 1-based line of `source` a diagnostic points at, if it points into it.
fn line_of(span: DiagSpan, source: &Source) -> Option<u32> {
    let range = match span.get() {
        DiagSpanKind::Number { id, num, sub_range } if id == source.id() => {
            source.range(num, sub_range)?
        }
        DiagSpanKind::Range { id, range } if id == source.id() => range,
        _ => return None,
    };
    let line = source.lines().byte_to_line(range.start)?;
    u32::try_from(line + 1).ok()
}

impl kopek_domain::documents::Typesetter for Renderer {
    fn sheet(&self, sheet: &InvoiceSheet) -> Result<Vec<u8>, String> {
        Renderer::sheet(self, sheet).map_err(|e| e.to_string())
    }

    fn sheet_with(&self, template: &str, sheet: &InvoiceSheet) -> Result<Vec<u8>, TemplateError> {
        Renderer::sheet_with(self, template, sheet)
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
    fn a_providers_template_lays_out_the_same_data_and_a_broken_one_names_its_line() {
        let renderer = Renderer::new();
        let sheet = InvoiceSheet::sample(SheetKind::Act, Lang::Ru);
        let own = "#let d = json(bytes(sys.inputs.sheet))\n\
                   #set text(font: \"DejaVu Sans\")\n\
                   = Наш акт: #d.title\n\
                   #for l in d.lines [ #l.service — #l.net \\ ]\n";
        let pdf = renderer.sheet_with(own, &sheet).expect("compiles");
        let text = text_of(&pdf, "custom-act");
        assert!(text.contains("Наш акт"), "{text}");
        assert!(text.contains(&sheet.lines[0].service), "{text}");
        // The same template again: the same bytes (its engine is reused).
        assert_eq!(renderer.sheet_with(own, &sheet).expect("again"), pdf);

        let missing_key = "#let d = json(bytes(sys.inputs.sheet))\n\n#d.no_such_field\n";
        let error = renderer.sheet_with(missing_key, &sheet).unwrap_err();
        assert_eq!(error.line, Some(3), "{error}");
        assert!(error.message.contains("no_such_field"), "{error}");
        let unclosed = "= Title\n#let x = (1, 2\n";
        let error = renderer.sheet_with(unclosed, &sheet).unwrap_err();
        assert!(error.line.is_some(), "{error}");
        // The built-in template is untouched.
        assert_eq!(
            renderer.sheet(&sheet).expect("built-in"),
            Renderer::new().sheet(&sheet).unwrap()
        );
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
