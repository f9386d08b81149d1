//! Closing documents typeset with Typst, in process.
//!
//! A [`Renderer`] holds the Typst engine with the templates (`src/templates/*.typ`) and the
//! DejaVu fonts embedded in the binary; [`Renderer::sheet`] lays out an
//! [`InvoiceSheet`](kopek_domain::documents::InvoiceSheet) — an invoice for payment or an act
//! of services rendered, every text already written by the domain — as a PDF. The template
//! reads the sheet as JSON from `sys.inputs.sheet`. [`Renderer::report`] lays out a
//! [`ReportSheet`] — a reconciliation act or a statement of account — with its own template
//! (`report.typ`), which reads it from `sys.inputs.report`.
//!
//! **Deterministic**: the document carries no creation date and a fixed identifier derived
//! from its title, so the same sheet gives the same bytes, and the SHA-256 stored beside a
//! document can be reproduced by rendering it again.
//!
//! Typst is heavy to build (minutes) and to link (tens of megabytes), so only the documents
//! function and the tests depend on this crate; the services see rendering through a port.

use std::sync::{Arc, Mutex};

use kopek_domain::documents::InvoiceSheet;
use kopek_domain::documents::reconciliation::ReportSheet;
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

/// The template of reconciliation acts and statements of account.
const REPORT: &str = include_str!("templates/report.typ");

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
    report: TypstEngine<TypstTemplateMainFile>,
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
            report: TypstEngine::builder()
                .main_file(REPORT)
                .fonts(fonts())
                .build(),
            custom: Mutex::new(None),
        }
    }

    /// The PDF of `sheet`.
    pub fn sheet(&self, sheet: &InvoiceSheet) -> Result<Vec<u8>, RenderError> {
        let document = compile(&self.sheet, "sheet", serde_json::to_string(sheet)?)
            .map_err(|e| RenderError::Template(e.to_string()))?;
        pdf(&document, &sheet.title)
    }

    /// The PDF of `report`: a reconciliation act or a statement of account.
    pub fn report(&self, report: &ReportSheet) -> Result<Vec<u8>, RenderError> {
        let document = compile(&self.report, "report", serde_json::to_string(report)?)
            .map_err(|e| RenderError::Template(e.to_string()))?;
        pdf(&document, &report.title())
    }

    /// The PDF of `sheet` laid out by `template` (a provider's Typst source): refused with
    /// the compiler's first error and the template's line it points at.
    pub fn sheet_with(
        &self,
        template: &str,
        sheet: &InvoiceSheet,
    ) -> Result<Vec<u8>, TemplateError> {
        let (engine, source) = self.custom(template);
        let json = serde_json::to_string(sheet).map_err(|e| TemplateError {
            message: e.to_string(),
            line: None,
        })?;
        let document = compile(&engine, "sheet", json).map_err(|e| template_error(e, &source))?;
        pdf(&document, &sheet.title).map_err(|e| TemplateError {
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

/// `engine`'s template compiled with `json` as its input `sys.inputs.<key>`.
fn compile(
    engine: &TypstEngine<TypstTemplateMainFile>,
    key: &str,
    json: String,
) -> Result<PagedDocument, TypstAsLibError> {
    let mut inputs = Dict::new();
    inputs.insert(key.into(), json.into_value());
    engine.compile_with_input(inputs).output
}

/// The PDF of `document`, identified by `title` (no creation date: the same bytes again).
fn pdf(document: &PagedDocument, title: &str) -> Result<Vec<u8>, RenderError> {
    let options = typst_pdf::PdfOptions {
        ident: Smart::Custom(format!("kopek:{title}")),
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

    fn report(&self, report: &ReportSheet) -> Result<Vec<u8>, String> {
        Renderer::report(self, report).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kopek_domain::accounts::DocumentLanguage;
    use kopek_domain::catalog::Lang;
    use kopek_domain::documents::SheetKind;
    use kopek_domain::documents::reconciliation::ReportKind;
    use std::process::Command;

    /// The text of a PDF, by poppler's `pdftotext` (the project's setup installs it).
    fn text_of(pdf: &[u8], name: &str) -> String {
        pdftotext(pdf, name, &[])
    }

    /// The text of a PDF in the order it was laid out (`pdftotext -raw`): a table cell's
    /// lines together, whatever stands beside them.
    fn raw_text_of(pdf: &[u8], name: &str) -> String {
        pdftotext(pdf, name, &["-raw"])
    }

    fn pdftotext(pdf: &[u8], name: &str, options: &[&str]) -> String {
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
            .args(options)
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

    /// The words of `text` in order, however the layout broke its lines (a word broken after
    /// its hyphen joined again).
    fn words(text: &str) -> String {
        text.replace("-\n", "-")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn both_reports_print_the_parties_balances_conclusion_and_signatures_in_both_languages() {
        let renderer = Renderer::new();
        for kind in ReportKind::ALL {
            for language in [DocumentLanguage::Ru, DocumentLanguage::En] {
                let report = ReportSheet::sample(kind, language);
                let pdf = renderer.report(&report).expect("rendered");
                assert!(pdf.starts_with(b"%PDF-"));
                let text = raw_text_of(
                    &pdf,
                    &format!("report-{}-{}", kind.as_str(), language.as_str()),
                );
                let printed = words(&text);
                let mut wanted: Vec<String> = Vec::new();
                match &report {
                    ReportSheet::Reconciliation(act) => {
                        wanted.extend([
                            act.title.clone(),
                            act.period.clone(),
                            act.between.clone(),
                            act.contract.clone(),
                            act.made_on.clone(),
                            act.preamble.clone(),
                            act.seller_side.clone(),
                            act.buyer_side.clone(),
                            act.conclusion.clone(),
                            act.buyer_conclusion.clone(),
                        ]);
                        for row in [&act.opening, &act.turnover, &act.closing] {
                            wanted.extend([row.document.clone(), row.debit.clone()]);
                        }
                        wanted.push(act.turnover.credit.clone());
                        for row in &act.rows {
                            wanted.extend([
                                row.date.clone(),
                                row.document.clone(),
                                format!("{}{}", row.debit, row.credit),
                            ]);
                        }
                        // The labels of the balances are printed on the customer's half too.
                        for label in [&act.opening.document, &act.closing.document] {
                            assert_eq!(
                                printed.matches(label.as_str()).count(),
                                2,
                                "{kind:?} {language:?}: {label} on both halves:\n{text}"
                            );
                        }
                        for signature in &act.signatures {
                            wanted.extend([signature.on_behalf.clone(), signature.stamp.clone()]);
                        }
                        wanted.extend([
                            act.signatures[0].position.clone(),
                            act.signatures[0].name.clone(),
                        ]);
                    }
                    ReportSheet::AccountStatement(sheet) => {
                        wanted.extend([
                            sheet.title.clone(),
                            sheet.period.clone(),
                            sheet.made_on.clone(),
                            sheet.seller.name.clone(),
                            sheet.seller.tax_line.clone(),
                            sheet.buyer.name.clone(),
                            sheet.buyer.tax_line.clone(),
                            sheet.contract.clone(),
                            sheet.currency.clone(),
                            sheet.conclusion.clone(),
                            sheet.by_service_title.clone(),
                        ]);
                        for row in [&sheet.opening, &sheet.closing, &sheet.overdue] {
                            wanted.extend([row.document.clone(), row.balance.clone()]);
                        }
                        wanted.extend([
                            sheet.turnover.document.clone(),
                            sheet.turnover.debit.clone(),
                            sheet.turnover.credit.clone(),
                        ]);
                        for row in &sheet.rows {
                            wanted.extend([
                                row.document.clone(),
                                row.description.clone(),
                                row.balance.clone(),
                            ]);
                            for line in &row.lines {
                                wanted.extend([
                                    line.service.clone(),
                                    line.description.clone(),
                                    line.amount.clone(),
                                ]);
                            }
                        }
                        for total in &sheet.by_service {
                            wanted.extend([total.service.clone(), total.gross.clone()]);
                        }
                        for signature in &sheet.signatures {
                            wanted.extend([
                                signature.on_behalf.clone(),
                                signature.position.clone(),
                                signature.name.clone(),
                            ]);
                        }
                    }
                }
                for want in wanted {
                    assert!(
                        printed.contains(&words(&want)),
                        "{kind:?} {language:?}: {want:?} missing from:\n{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_conclusion_is_printed_with_the_amount_in_words() {
        let renderer = Renderer::new();
        let ru = ReportSheet::sample(ReportKind::Reconciliation, DocumentLanguage::Ru);
        let text = words(&raw_text_of(
            &renderer.report(&ru).expect("rendered"),
            "act-words-ru",
        ));
        assert!(
            text.contains(&words(
                "задолженность в пользу ООО «Копек» составляет 5 717,60 руб. \
                 (пять тысяч семьсот семнадцать рублей 60 копеек)."
            )),
            "{text}"
        );
        assert!(text.contains("М.П."), "{text}");
        let en = ReportSheet::sample(ReportKind::AccountStatement, DocumentLanguage::En);
        let text = words(&raw_text_of(
            &renderer.report(&en).expect("rendered"),
            "statement-words-en",
        ));
        assert!(
            text.contains(
                "Romashka LLC owes Kopek LLC RUB 5,717.60 (five thousand seven hundred \
                 seventeen roubles and 60 kopecks)."
            ),
            "{text}"
        );
    }

    #[test]
    fn a_long_report_runs_over_pages_repeating_its_table_header() {
        use kopek_domain::documents::reconciliation::{sample_parties, sample_statement};
        let mut statement = sample_statement();
        let rows = statement.rows.clone();
        for _ in 0..12 {
            statement.rows.extend(rows.iter().cloned());
        }
        let (seller, buyer) = sample_parties(DocumentLanguage::Ru);
        let day = statement.to.succ_opt().expect("the next day");
        let renderer = Renderer::new();
        let ru = DocumentLanguage::Ru;
        for (name, report) in [
            (
                "long-act",
                ReportSheet::reconciliation(&statement, &seller, &buyer, ru, day),
            ),
            (
                "long-statement",
                ReportSheet::account_statement(&statement, &seller, &buyer, ru, day),
            ),
        ] {
            let text = raw_text_of(&renderer.report(&report).expect("rendered"), name);
            let pages = text.split('\u{c}').filter(|p| !p.trim().is_empty()).count();
            assert!(pages > 1, "{name}: {pages} page(s)");
            let header = match &report {
                ReportSheet::Reconciliation(_) => "По данным ООО «Копек», руб.",
                ReportSheet::AccountStatement(_) => "Дата Документ Описание Дебет Кредит Сальдо",
            };
            // On every page the table runs over (the conclusion may take one of its own).
            let headers = words(&text).matches(header).count();
            assert!(
                headers > 1 && headers <= pages,
                "{name}: {headers} of {pages}"
            );
            assert!(text.contains(&format!("{pages} / {pages}")), "{name}");
        }
    }

    #[test]
    fn the_same_report_always_gives_the_same_bytes() {
        let act = ReportSheet::sample(ReportKind::Reconciliation, DocumentLanguage::Ru);
        let first = Renderer::new().report(&act).expect("rendered");
        let again = Renderer::new().report(&act).expect("rendered again");
        assert_eq!(first, again, "byte-identical");
        let statement = Renderer::new()
            .report(&ReportSheet::sample(
                ReportKind::AccountStatement,
                DocumentLanguage::Ru,
            ))
            .expect("rendered");
        assert_ne!(first, statement);
        // Through the port, as the documents function calls it.
        let port: &dyn kopek_domain::documents::Typesetter = &Renderer::new();
        assert_eq!(port.report(&act).expect("rendered"), first);
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
