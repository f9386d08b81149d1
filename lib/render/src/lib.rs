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

#[cfg(test)]
mod tests {
    use super::*;
    use kopek_domain::catalog::Lang;
    use kopek_domain::documents::{Labels, PartyBlock, SheetKind, SheetLine, SignLine};
    use std::process::Command;

    fn sheet(kind: SheetKind) -> InvoiceSheet {
        InvoiceSheet {
            kind,
            lang: Lang::Ru,
            title: "Счёт на оплату № KPK-2026-000001 от 1 декабря 2026 г.".into(),
            subtitle: "Оплатить до 15 декабря 2026 г.".into(),
            seller: PartyBlock {
                name: "ООО «Копек»".into(),
                tax_line: "ИНН 7708123450, КПП 770801001".into(),
                address: "101000, Москва, ул. Мясницкая, 1".into(),
                bank: vec![
                    "Р/с 40702810938000000001".into(),
                    "Банк ПАО Сбербанк".into(),
                    "БИК 044525225, к/с 30101810400000000225".into(),
                ],
            },
            buyer: PartyBlock {
                name: "ООО «Ромашка»".into(),
                tax_line: "ИНН 7701234560".into(),
                address: "101000, Москва, ул. Мясницкая, 2".into(),
                bank: Vec::new(),
            },
            columns: [
                "№",
                "Услуга",
                "Период",
                "Кол-во",
                "Ед.",
                "Код ОКЕИ",
                "Цена",
                "Сумма без НДС",
                "Ставка НДС",
                "Сумма НДС",
            ]
            .map(str::to_owned)
            .to_vec(),
            lines: vec![SheetLine {
                no: 1,
                service: "Виртуальный сервер VPS-S".into(),
                period: "01.11.2026–30.11.2026".into(),
                quantity: "2".into(),
                unit: "мес.".into(),
                okei: 362,
                unit_price: "990,00".into(),
                net: "1\u{a0}980,00".into(),
                vat_rate: "20%".into(),
                vat: "396,00".into(),
                gross: "2\u{a0}376,00".into(),
            }],
            totals: vec![
                ("Итого без НДС:".into(), "1\u{a0}980,00".into()),
                ("НДС:".into(), "396,00".into()),
                ("Всего к оплате:".into(), "2\u{a0}376,00".into()),
            ],
            summary: vec![
                "Всего наименований 1, на сумму 2\u{a0}376,00 руб.".into(),
                "Две тысячи триста семьдесят шесть рублей 00 копеек".into(),
            ],
            statement: match kind {
                SheetKind::Act => "Вышеперечисленные услуги оказаны полностью и в срок.".into(),
                SheetKind::Invoice => String::new(),
            },
            signatures: vec![SignLine {
                role: "Руководитель".into(),
                position: "Генеральный директор".into(),
                name: "Иванов И. И.".into(),
            }],
            labels: Labels {
                seller: "Поставщик".into(),
                buyer: "Покупатель".into(),
            },
        }
    }

    /// The text of a PDF, by poppler's `pdftotext` (the project's setup installs it).
    fn text_of(pdf: &[u8]) -> String {
        let dir = std::env::temp_dir().join(format!("kopek-render-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join(format!("{:x}.pdf", pdf.len()));
        std::fs::write(&path, pdf).expect("the PDF is written");
        let out = Command::new("pdftotext")
            .args(["-layout", path.to_str().expect("a path"), "-"])
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
    fn an_invoice_prints_every_requisite_and_line() {
        let pdf = Renderer::new()
            .sheet(&sheet(SheetKind::Invoice))
            .expect("rendered");
        assert!(pdf.starts_with(b"%PDF-"));
        let text = text_of(&pdf);
        for wanted in [
            "Счёт на оплату № KPK-2026-000001 от 1 декабря 2026 г.",
            "ООО «Копек»",
            "ИНН 7708123450, КПП 770801001",
            "40702810938000000001",
            "БИК 044525225",
            "ООО «Ромашка»",
            "Виртуальный сервер VPS-S",
            "362",
            "Две тысячи триста семьдесят шесть рублей 00 копеек",
            "Иванов И. И.",
        ] {
            assert!(text.contains(wanted), "{wanted:?} missing from:\n{text}");
        }
    }

    #[test]
    fn the_same_sheet_always_gives_the_same_bytes() {
        let renderer = Renderer::new();
        let act = sheet(SheetKind::Act);
        let first = renderer.sheet(&act).expect("rendered");
        let again = Renderer::new().sheet(&act).expect("rendered again");
        assert_eq!(first, again, "byte-identical");
        assert!(text_of(&first).contains("оказаны полностью"));
        let other = renderer
            .sheet(&sheet(SheetKind::Invoice))
            .expect("rendered");
        assert_ne!(first, other);
        // To look at them as a person would: KOPEK_RENDER_OUT=dir, then pdftoppm -png.
        if let Some(dir) = std::env::var_os("KOPEK_RENDER_OUT") {
            std::fs::write(std::path::Path::new(&dir).join("act.pdf"), &first).expect("written");
            std::fs::write(std::path::Path::new(&dir).join("invoice.pdf"), &other)
                .expect("written");
        }
    }
}
