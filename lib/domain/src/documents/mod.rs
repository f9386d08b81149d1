//! What a closing document prints, every text ready in the customer's document language: the
//! print model a typesetting template lays out, and nothing else decides.
//!
//! [`InvoiceSheet::of`] turns an issued invoice into the sheet of an **invoice for payment**
//! («Счёт на оплату») or an **act of services rendered** («Акт оказанных услуг»): title and
//! number, the seller's and the buyer's requisites as they were when the invoice was issued,
//! numbered lines (service, the days billed, quantity with its unit and OKEI code, unit price,
//! amount, VAT rate and VAT), totals, the total in words ([`in_words`]) and who signs. An
//! invoice issued without the provider's requisites is refused naming `requisites`: a document
//! is never printed with blanks.
//!
//! Numbers are written as each language writes them: `26 962,16` (a no-break space between
//! thousands, a decimal comma) in Russian, `26,962.16` in English; dates as `1 декабря 2026 г.`
//! and `1 December 2026`.

pub mod archive;
pub mod filed;
pub mod package;
pub mod reconciliation;
pub mod report;
pub mod signing;
pub mod template;
pub mod upd;

pub use filed::{
    Document, DocumentStatus, DocumentType, FiledObject, SignatureRecord, SigningRefused, Source,
};

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::accounts::{BillingAddress, Contract, DocumentLanguage, Kpp, LegalName, TaxId};
use crate::catalog::{Lang, LocalizedText, ServiceCode, TaxRate, UnitOfMeasure};
use crate::ids::{ChargeId, InvoiceId, OrgId, SubscriptionId};
use crate::invoicing::{
    BankAccount, Buyer, CreditNote, DocumentKind, Invoice, InvoiceDraft, InvoiceLine,
    InvoiceNumber, InvoiceSeries, InvoicingError, LineSource, Parties, ProviderRequisites,
    RequisitesForm, Signatory, TaxMode, issue, tax_summaries,
};
use crate::money::{Currency, Money, in_words};

/// The port through which documents are typeset: a sheet in, PDF bytes out, the same bytes
/// for the same sheet. The documents function plugs in the Typst renderer (`kopek-render`);
/// no other crate links a typesetting engine.
pub trait Typesetter: Send + Sync {
    /// The PDF of `sheet` with the built-in template; `Err` with the engine's message when
    /// the template fails.
    fn sheet(&self, sheet: &InvoiceSheet) -> Result<Vec<u8>, String>;

    /// The PDF of `sheet` laid out by a provider's template (Typst source); `Err` with the
    /// compiler's message and the template's line when it does not compile.
    fn sheet_with(
        &self,
        template: &str,
        sheet: &InvoiceSheet,
    ) -> Result<Vec<u8>, template::TemplateError>;

    /// The PDF of `report` (a reconciliation act or a statement of account) with the
    /// built-in template; `Err` with the engine's message when the template fails.
    fn report(&self, report: &reconciliation::ReportSheet) -> Result<Vec<u8>, String>;
}

/// Which document of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SheetKind {
    /// «Счёт на оплату»: what to pay, where to.
    Invoice,
    /// «Акт оказанных услуг»: the services were rendered (402-ФЗ art. 9 requisites).
    Act,
    /// «Корректировочный документ»: a credit note — what an issued invoice no longer
    /// charges, referring to it.
    CreditNote,
    /// The printable form of the UPD («Универсальный передаточный документ», status 1: VAT
    /// invoice and act in one), always in Russian, with the form's numbered fields.
    Upd,
}

impl SheetKind {
    pub const ALL: [SheetKind; 4] = [Self::Invoice, Self::Act, Self::CreditNote, Self::Upd];

    /// Its name in the API and the template's data (`d.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::Act => "act",
            Self::CreditNote => "credit_note",
            Self::Upd => "upd",
        }
    }
}

impl std::str::FromStr for SheetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("`{s}` is no kind of sheet (invoice, act, credit_note, upd)"))
    }
}

/// A party's block of requisites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartyBlock {
    pub name: String,
    /// `ИНН 7708123450, КПП 770801001` / `Tax ID 7708123450, KPP 770801001`.
    pub tax_line: String,
    pub address: String,
    /// The seller's bank account, one line each; none for the buyer.
    pub bank: Vec<String>,
}

/// One numbered line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SheetLine {
    pub no: u16,
    pub service: String,
    /// The days billed: `01.11.2026–30.11.2026`.
    pub period: String,
    pub quantity: String,
    pub unit: String,
    /// The unit's OKEI code.
    pub okei: u16,
    /// The price of one unit, where one applies to the whole quantity.
    pub unit_price: String,
    pub net: String,
    pub vat_rate: String,
    pub vat: String,
    pub gross: String,
}

/// Someone who signs, and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignLine {
    /// `Исполнитель` / `Provider`, or the position.
    pub role: String,
    pub position: String,
    pub name: String,
}

/// A document's page, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceSheet {
    pub kind: SheetKind,
    #[serde(serialize_with = "lang_code")]
    pub lang: Lang,
    pub title: String,
    /// Where it stands against the invoice: `Основание: …` / the due date line.
    pub subtitle: String,
    pub seller: PartyBlock,
    pub buyer: PartyBlock,
    /// `Договор № 17/2026 от 12 января 2026 г.`; empty where no contract is recorded.
    pub contract: String,
    pub columns: Vec<String>,
    pub lines: Vec<SheetLine>,
    /// `Итого без НДС`, `НДС`, `Всего к оплате` with their amounts.
    pub totals: Vec<(String, String)>,
    /// `Всего оказано услуг 3, на сумму 26 962,16 руб.` and the amount in words.
    pub summary: Vec<String>,
    /// Why exempt lines carry no VAT: `Без НДС (стр. 2): <the legal basis>`, one per basis.
    pub notes: Vec<String>,
    /// The UPD's numbered header fields (`Продавец (2)`, …) with their values; empty on
    /// other kinds, which print the parties' blocks instead.
    pub requisites: Vec<(String, String)>,
    /// The UPD's transfer fields under the table (basis, date of transfer); empty on others.
    pub transfer: Vec<(String, String)>,
    /// The act's statement that the services were rendered; empty on an invoice.
    pub statement: String,
    pub signatures: Vec<SignLine>,
    /// Labels: `Поставщик`, `Покупатель`, …
    pub labels: Labels,
}

/// The fixed texts of a sheet in its language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Labels {
    pub seller: String,
    pub buyer: String,
}

fn lang_code<S: serde::Serializer>(lang: &Lang, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match lang {
        Lang::Ru => "ru",
        Lang::En => "en",
    })
}

impl InvoiceSheet {
    /// The sheet of `kind` for `invoice`, in its buyer's document language. Refused naming
    /// `requisites` when the invoice was issued without the provider's requisites.
    pub fn of(invoice: &Invoice, kind: SheetKind) -> Result<Self, InvoicingError> {
        Self::build(invoice, kind, None)
    }

    /// The sheet of credit note `note` of `invoice`: its own number and date, the invoice it
    /// corrects and why, the lines it takes back (negative), in the buyer's language.
    pub fn of_credit_note(invoice: &Invoice, note: &CreditNote) -> Result<Self, InvoicingError> {
        Self::build(invoice, SheetKind::CreditNote, Some(note))
    }

    fn build(
        invoice: &Invoice,
        kind: SheetKind,
        note: Option<&CreditNote>,
    ) -> Result<Self, InvoicingError> {
        let parties = invoice.parties.as_ref();
        let seller = ProviderRequisites::for_documents(parties.and_then(|p| p.seller.as_ref()))?;
        let buyer = parties
            .map(|p| &p.buyer)
            .ok_or_else(|| InvoicingError::invalid("buyer", "the invoice names no buyer"))?;
        let lang = match (kind, buyer.language) {
            (SheetKind::Upd, _) | (_, DocumentLanguage::Ru) => Lang::Ru,
            (_, DocumentLanguage::En) => Lang::En,
        };
        let t = Texts::of(lang);
        let number = invoice.number.to_string();
        let issued = date(invoice.issued_on, lang);
        let title = match (kind, note) {
            (SheetKind::Invoice, _) => format!("{} {number} {} {issued}", t.invoice, t.of),
            (SheetKind::Act, _) => format!("{} {number} {} {issued}", t.act, t.of),
            (SheetKind::Upd, _) => format!("{UPD_TITLE} {number} {} {issued}", t.of),
            (SheetKind::CreditNote, Some(n)) => format!(
                "{} {} {} {}",
                t.credit_note,
                n.number,
                t.of,
                date(n.issued_on, lang)
            ),
            (SheetKind::CreditNote, None) => {
                return Err(InvoicingError::invalid(
                    "credit_note",
                    "no credit note given",
                ));
            }
        };
        let subtitle = match (kind, note) {
            (SheetKind::Invoice, _) => format!("{} {}", t.due, date(invoice.due_on, lang)),
            (SheetKind::Act, _) => format!("{} {number} {} {issued}", t.basis, t.of),
            (SheetKind::Upd, _) => UPD_STATUS.to_owned(),
            (SheetKind::CreditNote, Some(n)) => format!(
                "{} {number} {} {issued}; {} {}",
                t.corrects, t.of, t.reason, n.reason
            ),
            (SheetKind::CreditNote, None) => String::new(),
        };
        let currency = invoice.draft.currency;
        let money = |m: Money| amount(m.round_to_minor().amount(), lang);
        let (source_lines, net, tax, gross) = match note {
            Some(n) => (&n.lines, n.net, n.tax, n.gross),
            None => {
                let d = &invoice.draft;
                (&d.lines, d.net, d.tax, d.gross)
            }
        };
        let lines: Vec<SheetLine> = source_lines
            .iter()
            .map(|l| {
                let mut line = sheet_line(l, lang, &t);
                if kind == SheetKind::Upd {
                    // The UPD's price is the one its XML carries.
                    line.unit_price = upd::price_of(l, invoice.draft.tax_mode)
                        .map(|p| amount_at_least_minor(p.round_dp(4), lang))
                        .unwrap_or_default();
                }
                line
            })
            .collect();
        let notes = exemption_notes(source_lines, lang, &t);
        let totals = vec![
            (t.total_net.to_owned(), money(net)),
            (t.total_vat.to_owned(), money(tax)),
            (
                match kind {
                    SheetKind::CreditNote => t.total_decrease,
                    _ => t.total_gross,
                }
                .to_owned(),
                money(gross),
            ),
        ];
        let magnitude = Money::new(gross.amount().abs(), gross.currency());
        let summary = vec![
            format!(
                "{} {}, {} {} {}",
                t.rendered_count,
                lines.len(),
                t.to_the_sum,
                money(magnitude),
                currency_short(currency.code(), lang)
            ),
            match kind {
                SheetKind::CreditNote => format!("{} {}", t.decrease_by, in_words(magnitude, lang)),
                _ => in_words(gross, lang),
            },
        ];
        let director = seller.director();
        let (requisites, transfer) = match kind {
            SheetKind::Upd => upd_fields(invoice, seller, buyer, &t),
            _ => (Vec::new(), Vec::new()),
        };
        // The head, and the chief accountant where there is one: who sign an invoice.
        let mut heads = vec![SignLine {
            role: t.head.to_owned(),
            position: director.position.get(lang).to_owned(),
            name: director.name.get(lang).to_owned(),
        }];
        if let Some(accountant) = seller.chief_accountant() {
            heads.push(SignLine {
                role: t.accountant.to_owned(),
                position: accountant.position.get(lang).to_owned(),
                name: accountant.name.get(lang).to_owned(),
            });
        }
        let (statement, signatures) = match kind {
            SheetKind::Invoice | SheetKind::CreditNote => (String::new(), heads),
            SheetKind::Upd => {
                let mut signatures = heads;
                signatures.extend([
                    SignLine {
                        role: UPD_HANDED_OVER.to_owned(),
                        position: director.position.get(lang).to_owned(),
                        name: director.name.get(lang).to_owned(),
                    },
                    SignLine {
                        role: UPD_RECEIVED.to_owned(),
                        position: String::new(),
                        name: String::new(),
                    },
                ]);
                (String::new(), signatures)
            }
            SheetKind::Act => (
                t.statement.to_owned(),
                vec![
                    SignLine {
                        role: t.provider.to_owned(),
                        position: director.position.get(lang).to_owned(),
                        name: director.name.get(lang).to_owned(),
                    },
                    SignLine {
                        role: t.customer.to_owned(),
                        position: String::new(),
                        name: String::new(),
                    },
                ],
            ),
        };
        Ok(Self {
            kind,
            lang,
            title,
            subtitle,
            seller: PartyBlock {
                name: seller.legal_name().get(lang).to_owned(),
                tax_line: match seller.kpp() {
                    Some(kpp) => format!(
                        "{} {}, {} {}",
                        t.tax_id,
                        seller.tax_id(),
                        t.kpp,
                        kpp.as_str()
                    ),
                    None => format!("{} {}", t.tax_id, seller.tax_id()),
                },
                address: seller.address().get(lang).to_owned(),
                bank: {
                    let b = seller.bank();
                    vec![
                        format!("{} {}", t.account, b.account),
                        format!("{} {}", t.bank, b.bank_name.get(lang)),
                        format!(
                            "{} {}, {} {}",
                            t.bic, b.bic, t.correspondent, b.correspondent_account
                        ),
                    ]
                },
            },
            buyer: PartyBlock {
                name: buyer.legal_name.to_string(),
                tax_line: match &buyer.kpp {
                    Some(kpp) => format!("{} {}, {} {kpp}", t.tax_id, buyer.tax_id, t.kpp),
                    None => format!("{} {}", t.tax_id, buyer.tax_id),
                },
                address: buyer.address.to_string(),
                bank: Vec::new(),
            },
            contract: buyer
                .contract
                .as_ref()
                .filter(|_| kind != SheetKind::Upd)
                .map(|c| {
                    format!(
                        "{} {} {} {}",
                        t.contract,
                        c.number,
                        t.of,
                        date(c.signed_on, lang)
                    )
                })
                .unwrap_or_default(),
            columns: match kind {
                SheetKind::Upd => UPD_COLUMNS.iter(),
                _ => t.columns.iter(),
            }
            .map(|c| (*c).to_owned())
            .collect(),
            lines,
            totals,
            summary,
            notes,
            requisites,
            transfer,
            statement,
            signatures,
            labels: Labels {
                seller: match kind {
                    SheetKind::Invoice | SheetKind::CreditNote | SheetKind::Upd => {
                        t.seller.to_owned()
                    }
                    SheetKind::Act => t.provider.to_owned(),
                },
                buyer: match kind {
                    SheetKind::Invoice | SheetKind::CreditNote | SheetKind::Upd => {
                        t.buyer.to_owned()
                    }
                    SheetKind::Act => t.customer.to_owned(),
                },
            },
        })
    }
}

impl InvoiceSheet {
    /// A sheet of `kind` in `lang` laid out from sample data (a prorated subscription with
    /// VAT and an exempt job): what a template is compiled against before it is accepted,
    /// and what the renderer is tested with.
    pub fn sample(kind: SheetKind, lang: Lang) -> Self {
        let invoice = sample_invoice(lang);
        match kind {
            SheetKind::CreditNote => {
                let number = InvoiceNumber {
                    series: invoice.number.series.clone(),
                    kind: DocumentKind::CreditNote,
                    year: invoice.number.year,
                    seq: 1,
                };
                let note = crate::invoicing::credit_note(
                    &invoice,
                    &[],
                    &[crate::invoicing::CreditRequestLine {
                        line_no: 1,
                        amount: None,
                    }],
                    match lang {
                        Lang::Ru => "Перерыв в работе сервиса 2 дня",
                        Lang::En => "Service outage of 2 days",
                    },
                    crate::ids::CreditNoteId::from_ulid(invoice.id.ulid()),
                    number,
                    invoice.issued_on,
                )
                .expect("the sample credit note");
                Self::of_credit_note(&invoice, &note).expect("the sample has every requisite")
            }
            _ => Self::of(&invoice, kind).expect("the sample invoice has every requisite"),
        }
    }
}

/// The sample provider's requisites: Sberbank's BIC and correspondent account with a
/// settlement account whose control key matches them, a legal entity's INN and KPP.
pub fn sample_requisites() -> RequisitesForm {
    let text = |ru: &str, en: &str| LocalizedText::new(ru, en).expect("a sample text");
    RequisitesForm {
        legal_name: text("ООО «Копек»", "Kopek LLC"),
        tax_id: "7708123450".into(),
        kpp: Some("770801001".into()),
        address: text(
            "101000, Москва, ул. Мясницкая, 1",
            "1 Myasnitskaya St, Moscow 101000",
        ),
        bank: BankAccount {
            bank_name: text("ПАО Сбербанк", "Sberbank"),
            bic: "044525225".into(),
            account: "40702810938000000001".into(),
            correspondent_account: "30101810400000000225".into(),
        },
        director: Signatory {
            name: text("Иванов И. И.", "I. Ivanov"),
            position: text("Генеральный директор", "General Director"),
        },
        chief_accountant: Some(Signatory {
            name: text("Петрова А. А.", "A. Petrova"),
            position: text("Главный бухгалтер", "Chief Accountant"),
        }),
        vat_payer: true,
    }
}

fn sample_invoice(lang: Lang) -> Invoice {
    let rub = |amount: i64| Money::new(Decimal::new(amount, 2), Currency::RUB);
    let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).expect("a day");
    let text = |ru: &str, en: &str| LocalizedText::new(ru, en).expect("a sample text");
    let code = |c: &str| c.parse::<ServiceCode>().expect("a code");
    let lines = vec![
        InvoiceLine {
            no: 1,
            source: LineSource::Subscription {
                subscription: SubscriptionId::new(),
                from: day(11, 10),
                until_exclusive: day(12, 1),
                days: 21,
                period_days: 30,
                full_period: rub(198_000),
            },
            service: code("VPS-S"),
            description: text("Виртуальный сервер VPS-S", "Virtual server VPS-S"),
            quantity: Decimal::from(2),
            unit: UnitOfMeasure::Month,
            unit_price: Some(Decimal::new(99_000, 2)),
            tiers: Vec::new(),
            price_version: 1,
            from: day(11, 10),
            until_exclusive: day(12, 1),
            tax_rate: TaxRate::Percent(Decimal::from(20)),
            tax_exemption: None,
            amount: rub(138_600),
            net: rub(138_600),
            tax: rub(27_720),
            gross: rub(166_320),
        },
        InvoiceLine {
            no: 2,
            source: LineSource::Charge {
                charge: ChargeId::new(),
            },
            service: code("ROUTER-SETUP"),
            description: text("Настройка роутера", "Router setup"),
            quantity: Decimal::ONE,
            unit: UnitOfMeasure::Piece,
            unit_price: Some(Decimal::new(350_000, 2)),
            tiers: Vec::new(),
            price_version: 1,
            from: day(11, 12),
            until_exclusive: day(11, 13),
            tax_rate: TaxRate::Exempt,
            tax_exemption: Some(text(
                "НДС не облагается на основании подп. 26 п. 2 ст. 149 НК РФ",
                "Not subject to VAT under Tax Code of Russia art. 149(2)(26)",
            )),
            amount: rub(350_000),
            net: rub(350_000),
            tax: rub(0),
            gross: rub(350_000),
        },
    ];
    let taxes = tax_summaries(Currency::RUB, &lines).expect("sample taxes");
    let draft = InvoiceDraft {
        org: OrgId::new(),
        period: "2026-11".parse().expect("a period"),
        currency: Currency::RUB,
        tax_mode: TaxMode::Exclusive,
        lines,
        taxes,
        net: rub(488_600),
        tax: rub(27_720),
        gross: rub(516_320),
    };
    let series = InvoiceSeries::new("KPK").expect("a series");
    let mut invoice = issue(
        draft,
        InvoiceId::new(),
        InvoiceNumber::first(series, DocumentKind::Invoice, 2026),
        day(12, 1),
        14,
    )
    .expect("the sample issues");
    let buyer = Buyer {
        legal_name: LegalName::parse(match lang {
            Lang::Ru => "ООО «Ромашка»",
            Lang::En => "Romashka LLC",
        })
        .expect("a name"),
        tax_id: TaxId::inn_completing("770123456").expect("an INN"),
        kpp: Some(Kpp::parse("770101001").expect("a KPP")),
        address: BillingAddress::parse("101000, Москва, ул. Мясницкая, 2").expect("an address"),
        language: match lang {
            Lang::Ru => DocumentLanguage::Ru,
            Lang::En => DocumentLanguage::En,
        },
        contract: Some(Contract::new("17/2026", day(1, 12)).expect("a contract")),
    };
    invoice.parties = Some(Parties {
        seller: Some(ProviderRequisites::new(sample_requisites()).expect("sample requisites")),
        buyer,
    });
    invoice
}

/// The printable UPD's fixed texts: the form is Russian whatever the buyer's language.
const UPD_TITLE: &str = "Универсальный передаточный документ. Счёт-фактура №";
const UPD_STATUS: &str = "Статус: 1 — счёт-фактура и передаточный документ (акт)";
const UPD_COLUMNS: [&str; 13] = [
    "№ п/п",
    "Наименование товара (описание выполненных работ, оказанных услуг) (1а)",
    "Код ед. изм. (2)",
    "Ед. изм. (2а)",
    "Кол-во (3)",
    "Цена за ед. (4)",
    "Стоимость без налога (5)",
    "Акциз (6)",
    "Налоговая ставка (7)",
    "Сумма налога (8)",
    "Стоимость с налогом (9)",
    "Страна происхождения (10)",
    "Рег. номер декларации (11)",
];
const UPD_HANDED_OVER: &str = "Товар (груз) передал / услуги, результаты работ сдал [10]";
const UPD_RECEIVED: &str = "Товар (груз) получил / услуги, результаты работ принял [15]";

/// The UPD's numbered header fields and the transfer fields under its table.
type Fields = Vec<(String, String)>;
fn upd_fields(
    invoice: &Invoice,
    seller: &ProviderRequisites,
    buyer: &crate::invoicing::Buyer,
    t: &Texts,
) -> (Fields, Fields) {
    let lang = Lang::Ru;
    let number = invoice.number.to_string();
    let issued = date(invoice.issued_on, lang);
    let field = |label: &str, value: String| (label.to_owned(), value);
    let tax_ids = |inn: &str, kpp: Option<&str>| match kpp {
        Some(kpp) => format!("{inn}/{kpp}"),
        None => inn.to_owned(),
    };
    let none = || "—".to_owned();
    let (code, name) = upd::currency(invoice.draft.currency);
    let lines = invoice.draft.lines.len();
    let requisites = vec![
        field("Продавец (2)", seller.legal_name().get(lang).to_owned()),
        field("Адрес (2а)", seller.address().get(lang).to_owned()),
        field(
            "ИНН/КПП продавца (2б)",
            tax_ids(seller.tax_id().as_str(), seller.kpp().map(|k| k.as_str())),
        ),
        field("Грузоотправитель и его адрес (3)", none()),
        field("Грузополучатель и его адрес (4)", none()),
        field("К платёжно-расчётному документу (5)", none()),
        field(
            "Документ об отгрузке (5а)",
            format!("№ п/п 1–{lines} № {number} {} {issued}", t.of),
        ),
        field("Покупатель (6)", buyer.legal_name.to_string()),
        field("Адрес (6а)", buyer.address.to_string()),
        field(
            "ИНН/КПП покупателя (6б)",
            tax_ids(
                buyer.tax_id.as_str(),
                buyer.kpp.as_ref().map(|k| k.as_str()),
            ),
        ),
        field("Валюта: наименование, код (7)", format!("{name}, {code}")),
        field("Идентификатор государственного контракта (8)", none()),
    ];
    let period = invoice.draft.period;
    let last_day = period
        .end_exclusive()
        .pred_opt()
        .unwrap_or(period.end_exclusive());
    let transfer = vec![
        field(
            "Основание передачи (сдачи) / получения (приёмки) [8]",
            buyer
                .contract
                .as_ref()
                .map(|c| {
                    format!(
                        "Договор № {} {} {}",
                        c.number,
                        t.of,
                        date(c.signed_on, lang)
                    )
                })
                .unwrap_or_else(|| "Без документа-основания".to_owned()),
        ),
        field("Данные о транспортировке и грузе [9]", none()),
        field(
            "Период оказания услуг",
            format!(
                "{}–{}",
                period.first_day().format("%d.%m.%Y"),
                last_day.format("%d.%m.%Y")
            ),
        ),
        field("Дата отгрузки, передачи (сдачи) [11]", issued),
        field("Содержание операции [13]", upd::OPERATION.to_owned()),
    ];
    (requisites, transfer)
}

/// One note per legal basis of the exempt lines, naming the lines it covers.
fn exemption_notes(lines: &[InvoiceLine], lang: Lang, t: &Texts) -> Vec<String> {
    let mut by_basis: Vec<(&str, Vec<String>)> = Vec::new();
    for line in lines.iter().filter(|l| l.tax_rate.is_exempt()) {
        let Some(basis) = &line.tax_exemption else {
            continue;
        };
        let basis = basis.get(lang);
        match by_basis.iter_mut().find(|(b, _)| *b == basis) {
            Some((_, nos)) => nos.push(line.no.to_string()),
            None => by_basis.push((basis, vec![line.no.to_string()])),
        }
    }
    by_basis
        .into_iter()
        .map(|(basis, nos)| format!("{} ({} {}): {basis}", t.exempt, t.line_no, nos.join(", ")))
        .collect()
}

fn sheet_line(l: &InvoiceLine, lang: Lang, t: &Texts) -> SheetLine {
    let last_day = l.until_exclusive.pred_opt().unwrap_or(l.until_exclusive);
    let days = match l.source {
        LineSource::Subscription {
            days, period_days, ..
        } if days < period_days => format!(" ({days} {} {period_days} {})", t.of_days, t.days),
        _ => String::new(),
    };
    SheetLine {
        no: l.no,
        service: l.description.get(lang).to_owned(),
        period: format!(
            "{}–{}{days}",
            l.from.format("%d.%m.%Y"),
            last_day.format("%d.%m.%Y")
        ),
        quantity: number(l.quantity.normalize(), lang),
        unit: l.unit.short_name(lang).to_owned(),
        okei: l.unit.okei_code(),
        unit_price: l
            .unit_price
            .map(|p| amount_at_least_minor(p, lang))
            .unwrap_or_default(),
        net: amount(l.net.round_to_minor().amount(), lang),
        vat_rate: match l.tax_rate {
            TaxRate::Exempt => t.exempt.to_owned(),
            TaxRate::Percent(p) => format!("{}%", number(p.normalize(), lang)),
        },
        vat: match l.tax_rate {
            TaxRate::Exempt => "—".to_owned(),
            TaxRate::Percent(_) => amount(l.tax.round_to_minor().amount(), lang),
        },
        gross: amount(l.gross.round_to_minor().amount(), lang),
    }
}

/// A decimal as the language writes it: digits grouped by three, the language's separators.
fn number(value: Decimal, lang: Lang) -> String {
    let text = value.abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let (group, point) = match lang {
        Lang::Ru => ('\u{a0}', ','),
        Lang::En => (',', '.'),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let sign = if value.is_sign_negative() && !value.is_zero() {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}{point}{fraction}")
    }
}

/// An amount with exactly two places.
fn amount(value: Decimal, lang: Lang) -> String {
    let mut v = value;
    v.rescale(2);
    number(v, lang)
}

/// A unit price with at least two places.
fn amount_at_least_minor(value: Decimal, lang: Lang) -> String {
    let mut v = value.normalize();
    if v.scale() < 2 {
        v.rescale(2);
    }
    number(v, lang)
}

fn date(day: NaiveDate, lang: Lang) -> String {
    const RU: [&str; 12] = [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month = day.month0() as usize;
    match lang {
        Lang::Ru => format!("{} {} {} г.", day.day(), RU[month], day.year()),
        Lang::En => format!("{} {} {}", day.day(), EN[month], day.year()),
    }
}

fn currency_short(code: &str, lang: Lang) -> &str {
    match (code, lang) {
        ("RUB", Lang::Ru) => "руб.",
        ("USD", Lang::Ru) => "долл. США",
        ("EUR", Lang::Ru) => "евро",
        (code, _) => code,
    }
}

/// The fixed texts of both documents in one language.
struct Texts {
    invoice: &'static str,
    act: &'static str,
    credit_note: &'static str,
    corrects: &'static str,
    reason: &'static str,
    total_decrease: &'static str,
    decrease_by: &'static str,
    of: &'static str,
    due: &'static str,
    basis: &'static str,
    seller: &'static str,
    buyer: &'static str,
    provider: &'static str,
    customer: &'static str,
    tax_id: &'static str,
    kpp: &'static str,
    account: &'static str,
    bank: &'static str,
    bic: &'static str,
    correspondent: &'static str,
    columns: [&'static str; 10],
    exempt: &'static str,
    line_no: &'static str,
    total_net: &'static str,
    total_vat: &'static str,
    total_gross: &'static str,
    rendered_count: &'static str,
    to_the_sum: &'static str,
    statement: &'static str,
    head: &'static str,
    accountant: &'static str,
    contract: &'static str,
    of_days: &'static str,
    days: &'static str,
}

impl Texts {
    fn of(lang: Lang) -> Self {
        match lang {
            Lang::Ru => Self {
                invoice: "Счёт на оплату №",
                act: "Акт оказанных услуг №",
                credit_note: "Корректировочный документ №",
                corrects: "К счёту №",
                reason: "Основание корректировки:",
                total_decrease: "Всего уменьшение:",
                decrease_by: "Сумма уменьшения:",
                of: "от",
                due: "Оплатить до",
                basis: "Основание: счёт №",
                seller: "Поставщик",
                buyer: "Покупатель",
                provider: "Исполнитель",
                customer: "Заказчик",
                tax_id: "ИНН",
                kpp: "КПП",
                account: "Р/с",
                bank: "Банк",
                bic: "БИК",
                correspondent: "к/с",
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
                ],
                exempt: "Без НДС",
                line_no: "стр.",
                total_net: "Итого без НДС:",
                total_vat: "НДС:",
                total_gross: "Всего к оплате:",
                rendered_count: "Всего наименований",
                to_the_sum: "на сумму",
                statement: "Вышеперечисленные услуги оказаны полностью и в срок. Заказчик претензий по объёму, качеству и срокам оказания услуг не имеет.",
                head: "Руководитель",
                accountant: "Главный бухгалтер",
                contract: "Договор №",
                of_days: "из",
                days: "дн.",
            },
            Lang::En => Self {
                invoice: "Invoice No.",
                act: "Statement of services rendered No.",
                credit_note: "Credit note No.",
                corrects: "Correcting invoice No.",
                reason: "Reason:",
                total_decrease: "Total decrease:",
                decrease_by: "Decrease:",
                of: "of",
                due: "Payable by",
                basis: "Under invoice No.",
                seller: "Seller",
                buyer: "Buyer",
                provider: "Provider",
                customer: "Customer",
                tax_id: "Tax ID",
                kpp: "KPP",
                account: "Account",
                bank: "Bank",
                bic: "BIC",
                correspondent: "corr. account",
                columns: [
                    "No.",
                    "Service",
                    "Period",
                    "Qty",
                    "Unit",
                    "OKEI",
                    "Unit price",
                    "Net",
                    "VAT rate",
                    "VAT",
                ],
                exempt: "VAT exempt",
                line_no: "line",
                total_net: "Total net:",
                total_vat: "VAT:",
                total_gross: "Total due:",
                rendered_count: "Items",
                to_the_sum: "amounting to",
                statement: "The services above were rendered in full and on time. The customer has no claims as to their scope, quality or timing.",
                head: "Head",
                accountant: "Chief accountant",
                contract: "Contract No.",
                of_days: "of",
                days: "days",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn numbers_are_written_as_each_language_writes_them() {
        assert_eq!(amount(dec!(26962.16), Lang::Ru), "26\u{a0}962,16");
        assert_eq!(amount(dec!(26962.16), Lang::En), "26,962.16");
        assert_eq!(amount(dec!(1234567), Lang::En), "1,234,567.00");
        assert_eq!(amount(dec!(0), Lang::Ru), "0,00");
        assert_eq!(amount(dec!(-150.5), Lang::Ru), "-150,50");
        assert_eq!(amount(dec!(999), Lang::Ru), "999,00");
        assert_eq!(amount_at_least_minor(dec!(2.0005), Lang::Ru), "2,0005");
        assert_eq!(number(dec!(1.5), Lang::Ru), "1,5");
    }

    fn invoice(language: &str, with_seller: bool) -> Invoice {
        use crate::invoicing::fixtures;
        let charges = [
            (dec!(26962.16), TaxRate::Exempt),
            (dec!(1000.00), fixtures::rate(dec!(20))),
        ];
        let draft =
            fixtures::close_with_charges(&charges).draft(crate::invoicing::TaxMode::Exclusive);
        let mut invoice = fixtures::issued(draft);
        let buyer: crate::invoicing::Buyer = serde_json::from_value(serde_json::json!({
            "legal_name": "ООО «Ромашка»", "tax_id": "7708123450",
            "address": "101000, Москва, ул. Мясницкая, 2", "language": language
        }))
        .unwrap();
        invoice.parties = Some(crate::invoicing::Parties {
            seller: with_seller
                .then(|| ProviderRequisites::new(fixtures::requisites_form()).unwrap()),
            buyer,
        });
        invoice
    }

    #[test]
    fn a_credit_note_sheet_refers_to_its_invoice_and_takes_back_its_lines() {
        use crate::ids::CreditNoteId;
        use crate::invoicing::{CreditRequestLine, credit_note};
        for (lang, title, words) in [
            (
                "ru",
                "Корректировочный документ № KPK-CN-2026-000001 от 2 декабря 2026 г.",
                "Сумма уменьшения: ",
            ),
            (
                "en",
                "Credit note No. KPK-CN-2026-000001 of 2 December 2026",
                "Decrease: ",
            ),
        ] {
            let invoice = invoice(lang, true);
            let number = InvoiceNumber {
                series: invoice.number.series.clone(),
                kind: DocumentKind::CreditNote,
                year: 2026,
                seq: 1,
            };
            let note = credit_note(
                &invoice,
                &[],
                &[CreditRequestLine {
                    line_no: 1,
                    amount: None,
                }],
                "Простой сервиса",
                CreditNoteId::new(),
                number,
                NaiveDate::from_ymd_opt(2026, 12, 2).expect("a day"),
            )
            .expect("a credit note");
            let sheet = InvoiceSheet::of_credit_note(&invoice, &note).expect("a sheet");
            assert_eq!(sheet.kind, SheetKind::CreditNote);
            assert_eq!(sheet.title, title);
            assert!(
                sheet.subtitle.contains(&invoice.number.to_string()),
                "{}",
                sheet.subtitle
            );
            assert!(
                sheet.subtitle.ends_with("Простой сервиса"),
                "{}",
                sheet.subtitle
            );
            assert_eq!(sheet.lines.len(), note.lines.len());
            assert!(
                sheet.lines[0].gross.starts_with('-'),
                "{:?}",
                sheet.lines[0]
            );
            assert!(sheet.totals[2].1.starts_with('-'), "{:?}", sheet.totals);
            assert!(sheet.summary[1].starts_with(words), "{:?}", sheet.summary);
            assert_eq!(
                sheet.seller,
                InvoiceSheet::of(&invoice, SheetKind::Invoice)
                    .unwrap()
                    .seller
            );
        }
    }

    #[test]
    fn an_invoice_sheet_carries_every_requisite_in_the_buyers_language() {
        let sheet = InvoiceSheet::of(&invoice("ru", true), SheetKind::Invoice).unwrap();
        assert_eq!(
            sheet.title,
            "Счёт на оплату № KPK-2026-000001 от 1 декабря 2026 г."
        );
        assert_eq!(sheet.seller.name, "ООО «Копек»");
        assert!(
            sheet.seller.tax_line.contains("КПП 770801001"),
            "{}",
            sheet.seller.tax_line
        );
        assert_eq!(sheet.seller.bank.len(), 3);
        assert!(sheet.seller.bank[0].ends_with("40702810938000000001"));
        assert_eq!(sheet.buyer.name, "ООО «Ромашка»");
        assert_eq!(sheet.lines.len(), 2);
        assert_eq!(sheet.lines[0].vat_rate, "Без НДС");
        assert_eq!(sheet.lines[1].vat_rate, "20%");
        assert_eq!(sheet.totals[2].1, "28\u{a0}162,16");
        assert_eq!(
            sheet.summary[1],
            "Двадцать восемь тысяч сто шестьдесят два рубля 16 копеек"
        );
        assert_eq!(sheet.signatures[0].name, "Иванов И. И.");

        let act = InvoiceSheet::of(&invoice("en", true), SheetKind::Act).unwrap();
        assert_eq!(
            act.title,
            "Statement of services rendered No. KPK-2026-000001 of 1 December 2026"
        );
        assert_eq!(act.labels.seller, "Provider");
        assert!(act.statement.contains("rendered in full"));
        assert_eq!(
            act.summary[1],
            "Twenty-eight thousand one hundred sixty-two roubles and 16 kopecks"
        );
        assert_eq!(
            act.signatures.len(),
            2,
            "the provider and the customer sign"
        );
    }

    #[test]
    fn the_sample_adds_up_and_shows_a_prorated_line_with_its_days() {
        let sheet = InvoiceSheet::sample(SheetKind::Invoice, Lang::Ru);
        assert_eq!(
            sheet.lines[0].period,
            "10.11.2026–30.11.2026 (21 из 30 дн.)"
        );
        assert_eq!(sheet.lines[1].vat_rate, "Без НДС");
        assert_eq!(sheet.totals[2].1, "5\u{a0}163,20");
        assert_eq!(
            sheet.summary[1],
            "Пять тысяч сто шестьдесят три рубля 20 копеек"
        );
        assert_eq!(
            sheet.signatures.len(),
            2,
            "the head and the chief accountant"
        );
        let en = InvoiceSheet::sample(SheetKind::Act, Lang::En);
        assert_eq!(en.lines[0].period, "10.11.2026–30.11.2026 (21 of 30 days)");
        assert_eq!(en.buyer.name, "Romashka LLC");
        assert_eq!(sheet.contract, "Договор № 17/2026 от 12 января 2026 г.");
        assert!(
            sheet.buyer.tax_line.ends_with("КПП 770101001"),
            "{}",
            sheet.buyer.tax_line
        );
    }

    #[test]
    fn exempt_lines_name_the_legal_basis_their_service_gives() {
        use crate::catalog::{CancellationPolicy, ServiceKind, UnitOfMeasure};
        use crate::invoicing::{TaxMode, fixtures};
        let basis = LocalizedText::new("подп. 3 п. 3 ст. 149 НК РФ", "art. 149(3)(3)").unwrap();
        let (mut service, versions) = fixtures::service(
            "AGENT",
            ServiceKind::OneOff,
            UnitOfMeasure::Piece,
            TaxRate::Exempt,
            fixtures::flat(crate::money::Currency::RUB, dec!(10)),
            CancellationPolicy::EndOfPeriod,
        );
        let mut record = crate::catalog::ServiceRecord::from(service);
        record.tax_exemption = Some(basis.clone());
        service = record.try_into().unwrap();
        let mut close =
            fixtures::Close::new("2026-11", crate::money::Currency::RUB).with((service, versions));
        close.charge("AGENT", dec!(5), TaxRate::Exempt, fixtures::nov(1));
        close.charge(
            "INSTALL",
            dec!(7),
            fixtures::rate(dec!(20)),
            fixtures::nov(2),
        );
        close.charge("AGENT", dec!(6), TaxRate::Exempt, fixtures::nov(3));
        close.charge("OTHER", dec!(8), TaxRate::Exempt, fixtures::nov(4));
        let draft = close.draft(TaxMode::Exclusive);
        assert_eq!(draft.lines[0].tax_exemption.as_ref(), Some(&basis));
        assert_eq!(draft.lines[1].tax_exemption, None, "a taxed line has none");
        assert_eq!(
            draft.lines[3].tax_exemption, None,
            "no basis in the catalog"
        );

        let mut invoice = invoice("ru", true);
        invoice.draft = draft;
        let sheet = InvoiceSheet::of(&invoice, SheetKind::Act).unwrap();
        assert_eq!(
            sheet.notes,
            ["Без НДС (стр. 1, 3): подп. 3 п. 3 ст. 149 НК РФ"]
        );
        invoice.parties.as_mut().unwrap().buyer.language = DocumentLanguage::En;
        let sheet = InvoiceSheet::of(&invoice, SheetKind::Invoice).unwrap();
        assert_eq!(sheet.notes, ["VAT exempt (line 1, 3): art. 149(3)(3)"]);
    }

    #[test]
    fn a_sheet_without_the_providers_requisites_is_refused_naming_them() {
        match InvoiceSheet::of(&invoice("ru", false), SheetKind::Invoice) {
            Err(InvoicingError::Invalid { field, .. }) => assert_eq!(field, "requisites"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates_are_written_out_in_the_language() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(date(day, Lang::Ru), "1 декабря 2026 г.");
        assert_eq!(date(day, Lang::En), "1 December 2026");
    }
}
