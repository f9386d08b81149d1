//! The print models of the two reports made from a customer's [`AccountStatement`]: the
//! **statement of reconciliation of mutual settlements** («Акт сверки взаимных расчётов») and
//! the **statement of account** («Выписка по лицевому счёту»), every text ready in the
//! language asked for; the typesetting template (`report.typ` in `kopek-render`) only lays
//! them out.
//!
//! # The reconciliation act
//!
//! [`ReconciliationSheet::of`] writes the act in its usual two-sided form: the title with the
//! period (`за период с 01.10.2026 по 30.11.2026`), the parties (`между ООО «Копек» и ООО
//! «Ромашка»`) and the contract where the buyer has one, a preamble naming who draws it up,
//! then a table of two halves of the same columns (date, document, debit, credit): the
//! provider's books on the left, filled in; the customer's on the right, left empty for the
//! customer to fill in, as is the custom. The provider keeps the customer's receivable, so
//! its side reads the statement's sides as they are:
//!
//! - **opening balance** («Сальдо начальное»): in the debit column when the customer owed at
//!   the start, in the credit column (as a positive amount) when it was in credit, neither
//!   when nothing was owed;
//! - **one row per statement row**, dated its day: an invoice is a sale in the debit column
//!   («Реализация (акт, счёт № …)»), a payment a credit («Оплата (п/п …)»), a credit note a
//!   credit («Корректировка (документ № …)»), a payment taken back a debit («Сторно оплаты
//!   (п/п …)»), a refund a debit («Возврат (п/п …)»); each amount in the column of the
//!   statement's side it is on (an empty column where it is zero);
//! - **turnover** («Обороты за период»): the statement's totals, both printed even when zero;
//! - **closing balance** («Сальдо конечное»): on the side of its sign, as the opening.
//!
//! Under the table the provider's conclusion (`По данным ООО «Копек» на 30.11.2026
//! задолженность в пользу ООО «Копек» составляет 5 717,60 руб. (пять тысяч семьсот
//! семнадцать рублей 60 копеек).`, in favour of the customer when it is in credit, `взаимная
//! задолженность отсутствует` at zero), the customer's conclusion with blanks to fill in, and
//! the signature blocks of both parties: the provider's director from its requisites, the
//! customer's position and name left blank; each with a seal mark («М.П.»).
//!
//! # The statement of account
//!
//! [`AccountStatementSheet::of`] is the provider's one-sided report: the title with the
//! period, both parties' requisites, then one table of date, document, description, debit,
//! credit and running balance — the opening balance, each row with its invoice's or credit
//! note's lines indented under it (service, description, quantity, unit, amount), the
//! turnover, the closing balance and what of it is overdue — then the totals by service and
//! the same conclusion as the act, signed by the provider's director.
//!
//! Amounts are written as the invoice sheets write them (`5 717,60` in Russian, `5,717.60` in
//! English), rounded to minor units; days as `30.11.2026` in the tables and the period, the
//! day the report is made as `1 декабря 2026 г.` / `1 December 2026`.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{amount, currency_short, date, number};
use crate::account_statement::{
    AccountStatement, LineKind, Row, RowKind, RowLine, ServiceTotal, StatementText, Totals,
};
use crate::accounts::{BillingAddress, Contract, DocumentLanguage, Kpp, LegalName, TaxId};
use crate::catalog::{Lang, LocalizedText, ServiceCode, UnitOfMeasure};
use crate::ids::{EntryId, OrgId, SubscriptionId};
use crate::invoicing::{Buyer, ProviderRequisites};
use crate::money::{Currency, Money, in_words};

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// «Акт сверки взаимных расчётов».
    Reconciliation,
    /// «Выписка по лицевому счёту».
    AccountStatement,
}

impl ReportKind {
    pub const ALL: [ReportKind; 2] = [Self::Reconciliation, Self::AccountStatement];

    /// Its name in the API and the template's data (`d.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reconciliation => "reconciliation",
            Self::AccountStatement => "account_statement",
        }
    }
}

impl std::str::FromStr for ReportKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("`{s}` is no kind of report (reconciliation, account_statement)")
            })
    }
}

/// A report's pages, as printed: what [`Typesetter::report`](super::Typesetter::report)
/// typesets. The template reads it as JSON, the kind in `kind` beside the sheet's fields.
/// (Boxed: the sheets are large and of unequal sizes.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportSheet {
    Reconciliation(Box<ReconciliationSheet>),
    AccountStatement(Box<AccountStatementSheet>),
}

impl ReportSheet {
    /// The reconciliation act of `statement` ([`ReconciliationSheet::of`]).
    pub fn reconciliation(
        statement: &AccountStatement,
        seller: &ProviderRequisites,
        buyer: &Buyer,
        language: DocumentLanguage,
        made_on: NaiveDate,
    ) -> Self {
        Self::Reconciliation(Box::new(ReconciliationSheet::of(
            statement, seller, buyer, language, made_on,
        )))
    }

    /// The statement of account of `statement` ([`AccountStatementSheet::of`]).
    pub fn account_statement(
        statement: &AccountStatement,
        seller: &ProviderRequisites,
        buyer: &Buyer,
        language: DocumentLanguage,
        made_on: NaiveDate,
    ) -> Self {
        Self::AccountStatement(Box::new(AccountStatementSheet::of(
            statement, seller, buyer, language, made_on,
        )))
    }

    pub fn kind(&self) -> ReportKind {
        match self {
            Self::Reconciliation(_) => ReportKind::Reconciliation,
            Self::AccountStatement(_) => ReportKind::AccountStatement,
        }
    }

    /// The title, with the period: what the PDF's identifier is derived from.
    pub fn title(&self) -> String {
        match self {
            Self::Reconciliation(s) => format!("{} {}", s.title, s.period),
            Self::AccountStatement(s) => format!("{} {}", s.title, s.period),
        }
    }

    pub fn language(&self) -> DocumentLanguage {
        match self {
            Self::Reconciliation(s) => s.lang,
            Self::AccountStatement(s) => s.lang,
        }
    }

    /// The report of `kind` in `language` made from [`sample_statement`] between the sample
    /// provider and the sample customer ([`sample_parties`]), on 1 December 2026: what the
    /// renderer is tested with.
    pub fn sample(kind: ReportKind, language: DocumentLanguage) -> Self {
        let statement = sample_statement();
        let (seller, buyer) = sample_parties(language);
        let made_on = NaiveDate::from_ymd_opt(2026, 12, 1).expect("a day");
        match kind {
            ReportKind::Reconciliation => {
                Self::reconciliation(&statement, &seller, &buyer, language, made_on)
            }
            ReportKind::AccountStatement => {
                Self::account_statement(&statement, &seller, &buyer, language, made_on)
            }
        }
    }
}

/// A party as a report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportParty {
    pub name: String,
    /// `ИНН 7708123450, КПП 770801001` / `Tax ID 7708123450, KPP 770801001`.
    pub tax_line: String,
    pub address: String,
}

/// Who signs for a party; blank position and name where the party fills them in by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportSignature {
    /// `От ООО «Копек»` / `For Kopek LLC`.
    pub on_behalf: String,
    pub position: String,
    pub name: String,
    /// Under the signature line: `(подпись)` / `(signature)`.
    pub signature: String,
    /// `М.П.` / `Seal`; empty where no seal is put.
    pub stamp: String,
}

/// One row of one side of the reconciliation act; an empty text is an empty cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconciliationRow {
    /// `06.10.2026`; empty on the opening, turnover and closing rows.
    pub date: String,
    /// `Оплата (п/п 148)`, or the label of the opening, turnover and closing rows.
    pub document: String,
    pub debit: String,
    pub credit: String,
}

/// The statement of reconciliation of mutual settlements, as printed (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconciliationSheet {
    pub lang: DocumentLanguage,
    /// `Акт сверки взаимных расчётов`.
    pub title: String,
    /// `за период с 01.10.2026 по 30.11.2026`.
    pub period: String,
    /// `между ООО «Копек» и ООО «Ромашка»`.
    pub between: String,
    /// `по договору № 17/2026 от 12 января 2026 г.`; empty where no contract is recorded.
    pub contract: String,
    /// `1 декабря 2026 г.`: the day the act is drawn up.
    pub made_on: String,
    pub seller: ReportParty,
    pub buyer: ReportParty,
    /// `Мы, нижеподписавшиеся, …`: who draws the act up.
    pub preamble: String,
    /// The heads of the two halves: `По данным ООО «Копек», руб.`.
    pub seller_side: String,
    pub buyer_side: String,
    /// The columns of each half: date, document, debit, credit.
    pub columns: Vec<String>,
    /// The seller's side, filled in; the buyer's is empty but for these rows' labels.
    pub opening: ReconciliationRow,
    pub rows: Vec<ReconciliationRow>,
    pub turnover: ReconciliationRow,
    pub closing: ReconciliationRow,
    /// The seller's conclusion: who owes whom how much, in figures and in words.
    pub conclusion: String,
    /// The buyer's conclusion, blanks for it to fill in.
    pub buyer_conclusion: String,
    /// The seller's, then the buyer's.
    pub signatures: Vec<ReportSignature>,
}

/// One line of an invoice or credit note under its row in the statement of account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementSheetLine {
    pub service: String,
    /// The line's description and what it bills: `Виртуальный сервер VPS-S,
    /// 01.10.2026–31.10.2026`.
    pub description: String,
    pub quantity: String,
    pub unit: String,
    /// Its gross amount (negative on a credit note).
    pub amount: String,
}

/// One row of the statement of account; an empty text is an empty cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementSheetRow {
    pub date: String,
    /// `Счёт № KPK-2026-000057`, or the label of the opening, turnover, closing and overdue
    /// rows.
    pub document: String,
    pub description: String,
    pub debit: String,
    pub credit: String,
    pub balance: String,
    pub lines: Vec<StatementSheetLine>,
}

/// One service's totals at the end of the statement of account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementServiceTotal {
    pub service: String,
    pub net: String,
    pub tax: String,
    pub gross: String,
}

/// The statement of account, as printed (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountStatementSheet {
    pub lang: DocumentLanguage,
    /// `Выписка по лицевому счёту`.
    pub title: String,
    /// `за период с 01.10.2026 по 30.11.2026`.
    pub period: String,
    /// `Дата формирования: 1 декабря 2026 г.`.
    pub made_on: String,
    /// `Поставщик` / `Покупатель`.
    pub seller_label: String,
    pub buyer_label: String,
    pub seller: ReportParty,
    pub buyer: ReportParty,
    /// `Договор № 17/2026 от 12 января 2026 г.`; empty where no contract is recorded.
    pub contract: String,
    /// `Суммы в руб.` / `Amounts in RUB`.
    pub currency: String,
    /// Date, document, description, debit, credit, balance.
    pub columns: Vec<String>,
    /// The columns of the lines: service, description, quantity, unit, amount.
    pub line_columns: Vec<String>,
    pub opening: StatementSheetRow,
    pub rows: Vec<StatementSheetRow>,
    pub turnover: StatementSheetRow,
    pub closing: StatementSheetRow,
    pub overdue: StatementSheetRow,
    /// `Итоги по услугам` and its columns: service, net, VAT, gross.
    pub by_service_title: String,
    pub by_service_columns: Vec<String>,
    pub by_service: Vec<StatementServiceTotal>,
    /// The conclusion, as the act's: who owes whom how much, in figures and in words.
    pub conclusion: String,
    pub signatures: Vec<ReportSignature>,
}

/// The report's language as the catalog's texts are picked.
fn lang_of(language: DocumentLanguage) -> Lang {
    match language {
        DocumentLanguage::Ru => Lang::Ru,
        DocumentLanguage::En => Lang::En,
    }
}

/// A day as the tables write it: `06.10.2026`.
fn day(on: NaiveDate) -> String {
    on.format("%d.%m.%Y").to_string()
}

/// Everything a report writes of the parties, in its language.
struct Context<'a> {
    language: DocumentLanguage,
    lang: Lang,
    t: &'static Words,
    seller: &'a ProviderRequisites,
    seller_name: String,
    buyer_name: String,
    currency: Currency,
}

impl<'a> Context<'a> {
    fn new(
        statement: &AccountStatement,
        seller: &'a ProviderRequisites,
        buyer: &Buyer,
        language: DocumentLanguage,
    ) -> Self {
        let lang = lang_of(language);
        Self {
            language,
            lang,
            t: words(language),
            seller,
            seller_name: seller.legal_name().get(lang).to_owned(),
            buyer_name: buyer.legal_name.to_string(),
            currency: statement.currency,
        }
    }

    /// An amount as the sheets print it.
    fn money(&self, money: Money) -> String {
        amount(money.round_to_minor().amount(), self.lang)
    }

    /// An amount, or nothing where it is zero.
    fn money_or_empty(&self, money: Money) -> String {
        if money.round_to_minor().is_zero() {
            String::new()
        } else {
            self.money(money)
        }
    }

    /// `за период с 01.10.2026 по 30.11.2026`.
    fn period(&self, statement: &AccountStatement) -> String {
        format!(
            "{} {} {} {}",
            self.t.period_from,
            day(statement.from),
            self.t.period_to,
            day(statement.to)
        )
    }

    /// The currency as a column head or a sentence names it: `руб.` / `RUB`.
    fn currency_name(&self) -> &'static str {
        match self.language {
            DocumentLanguage::Ru => currency_short(self.currency.code(), Lang::Ru),
            DocumentLanguage::En => self.currency.code(),
        }
    }

    fn seller_party(&self) -> ReportParty {
        let s = self.seller;
        ReportParty {
            name: self.seller_name.clone(),
            tax_line: self.tax_line(s.tax_id(), s.kpp()),
            address: s.address().get(self.lang).to_owned(),
        }
    }

    fn buyer_party(&self, buyer: &Buyer) -> ReportParty {
        ReportParty {
            name: self.buyer_name.clone(),
            tax_line: self.tax_line(&buyer.tax_id, buyer.kpp.as_ref()),
            address: buyer.address.to_string(),
        }
    }

    fn tax_line(&self, tax_id: &TaxId, kpp: Option<&Kpp>) -> String {
        match kpp {
            Some(kpp) => format!("{} {tax_id}, {} {kpp}", self.t.tax_id, self.t.kpp),
            None => format!("{} {tax_id}", self.t.tax_id),
        }
    }

    /// `Договор № 17/2026 от 12 января 2026 г.` (capitalised) or `по договору № …`.
    fn contract(&self, contract: Option<&Contract>, lead: &str) -> String {
        contract
            .map(|c| {
                format!(
                    "{lead} {} {} {}",
                    c.number,
                    self.t.of,
                    date(c.signed_on, self.lang)
                )
            })
            .unwrap_or_default()
    }

    /// The conclusion: who owes whom `closing` on `on`, in figures and in words; no debt
    /// either way at zero.
    fn conclusion(&self, closing: Money, on: NaiveDate) -> String {
        let closing = closing.round_to_minor();
        let (seller, buyer) = (&self.seller_name, &self.buyer_name);
        let on = day(on);
        if closing.is_zero() {
            return match self.language {
                DocumentLanguage::Ru => {
                    format!("По данным {seller} на {on} взаимная задолженность отсутствует.")
                }
                DocumentLanguage::En => {
                    format!("According to {seller}, as of {on} there is no debt either way.")
                }
            };
        }
        let magnitude = Money::new(closing.amount().abs(), closing.currency());
        let figures = self.money(magnitude);
        let words = lowercase_first(&in_words(magnitude, self.lang));
        let currency = self.currency_name();
        let (creditor, debtor) = if closing.is_negative() {
            (buyer, seller)
        } else {
            (seller, buyer)
        };
        match self.language {
            DocumentLanguage::Ru => format!(
                "По данным {seller} на {on} задолженность в пользу {creditor} составляет \
                 {figures} {currency} ({words})."
            ),
            DocumentLanguage::En => format!(
                "According to {seller}, as of {on} {debtor} owes {creditor} {currency} {figures} \
                 ({words})."
            ),
        }
    }

    /// The provider's signature block: its director.
    fn seller_signature(&self, stamp: bool) -> ReportSignature {
        let director = self.seller.director();
        ReportSignature {
            on_behalf: format!("{} {}", self.t.on_behalf, self.seller_name),
            position: director.position.get(self.lang).to_owned(),
            name: director.name.get(self.lang).to_owned(),
            signature: self.t.signature.to_owned(),
            stamp: if stamp {
                self.t.stamp.to_owned()
            } else {
                String::new()
            },
        }
    }

    /// The customer's signature block: blank lines to fill in.
    fn buyer_signature(&self) -> ReportSignature {
        ReportSignature {
            on_behalf: format!("{} {}", self.t.on_behalf, self.buyer_name),
            position: String::new(),
            name: String::new(),
            signature: self.t.signature.to_owned(),
            stamp: self.t.stamp.to_owned(),
        }
    }
}

/// `text` with its first letter in lower case: an amount in words inside a sentence.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A position inside a Russian sentence: `генеральный директор`, but an abbreviation such as
/// `ИП` kept as it is.
fn position_in_sentence(position: &str, language: DocumentLanguage) -> String {
    let mut chars = position.chars();
    let second_is_lower = chars.nth(1).is_some_and(char::is_lowercase);
    match language {
        DocumentLanguage::Ru if second_is_lower => lowercase_first(position),
        _ => position.to_owned(),
    }
}

/// A balance on the side of its sign: what the customer owes in the debit, its credit in the
/// credit (positive); nothing at zero.
fn balance_sides(ctx: &Context<'_>, balance: Money) -> (String, String) {
    let balance = balance.round_to_minor();
    let magnitude = Money::new(balance.amount().abs(), balance.currency());
    if balance.is_zero() {
        (String::new(), String::new())
    } else if balance.is_negative() {
        (String::new(), ctx.money(magnitude))
    } else {
        (ctx.money(magnitude), String::new())
    }
}

impl ReconciliationSheet {
    /// The reconciliation act of `statement` between `seller` (the provider, whose books the
    /// statement is) and `buyer`, in `language`, drawn up on `made_on` (see the module docs).
    pub fn of(
        statement: &AccountStatement,
        seller: &ProviderRequisites,
        buyer: &Buyer,
        language: DocumentLanguage,
        made_on: NaiveDate,
    ) -> Self {
        let ctx = Context::new(statement, seller, buyer, language);
        let t = ctx.t;
        let (seller_name, buyer_name) = (&ctx.seller_name, &ctx.buyer_name);
        let director = seller.director();
        let preamble = match language {
            DocumentLanguage::Ru => format!(
                "Мы, нижеподписавшиеся, {} {seller_name} {}, с одной стороны, и {buyer_name}, \
                 с другой стороны, составили настоящий акт сверки в том, что состояние взаимных \
                 расчётов по данным учёта следующее:",
                position_in_sentence(director.position.get(ctx.lang), language),
                director.name.get(ctx.lang),
            ),
            DocumentLanguage::En => format!(
                "We, the undersigned, {} of {seller_name} {}, on the one part, and {buyer_name}, \
                 on the other part, have drawn up this statement to confirm that the mutual \
                 settlements stand in the books as follows:",
                director.position.get(ctx.lang),
                director.name.get(ctx.lang),
            ),
        };
        let side = |name: &str| format!("{} {name}, {}", t.according_to, ctx.currency_name());
        let labelled = |label: &str, (debit, credit): (String, String)| ReconciliationRow {
            date: String::new(),
            document: label.to_owned(),
            debit,
            credit,
        };
        Self {
            lang: language,
            title: t.reconciliation.to_owned(),
            period: ctx.period(statement),
            between: format!("{} {seller_name} {} {buyer_name}", t.between, t.and),
            contract: ctx.contract(buyer.contract.as_ref(), t.under_contract),
            made_on: date(made_on, ctx.lang),
            seller: ctx.seller_party(),
            buyer: ctx.buyer_party(buyer),
            preamble,
            seller_side: side(seller_name),
            buyer_side: side(buyer_name),
            columns: t.act_columns.iter().map(|c| (*c).to_owned()).collect(),
            opening: labelled(t.opening, balance_sides(&ctx, statement.opening)),
            rows: statement
                .rows
                .iter()
                .map(|row| ReconciliationRow {
                    date: day(row.on),
                    document: act_document(row, language),
                    debit: ctx.money_or_empty(row.debit),
                    credit: ctx.money_or_empty(row.credit),
                })
                .collect(),
            turnover: labelled(
                t.turnover,
                (
                    ctx.money(statement.totals.debit),
                    ctx.money(statement.totals.credit),
                ),
            ),
            closing: labelled(t.closing, balance_sides(&ctx, statement.closing)),
            conclusion: ctx.conclusion(statement.closing, statement.to),
            buyer_conclusion: match language {
                DocumentLanguage::Ru => format!(
                    "По данным {buyer_name} на {} задолженность в пользу {BLANK} составляет \
                     {BLANK}",
                    day(statement.to)
                ),
                DocumentLanguage::En => format!(
                    "According to {buyer_name}, as of {} the debt in favour of {BLANK} is {BLANK}",
                    day(statement.to)
                ),
            },
            signatures: vec![ctx.seller_signature(true), ctx.buyer_signature()],
        }
    }
}

/// A blank for the customer to fill in by hand.
const BLANK: &str = "____________________";

/// A row's document as the act names it: `Реализация (акт, счёт № KPK-2026-000057)`.
fn act_document(row: &Row, language: DocumentLanguage) -> String {
    let n = &row.number;
    match (row.kind, language) {
        (RowKind::Invoice, DocumentLanguage::Ru) => format!("Реализация (акт, счёт № {n})"),
        (RowKind::Invoice, DocumentLanguage::En) => format!("Services (act, invoice No. {n})"),
        (RowKind::CreditNote, DocumentLanguage::Ru) => format!("Корректировка (документ № {n})"),
        (RowKind::CreditNote, DocumentLanguage::En) => format!("Correction (credit note No. {n})"),
        (RowKind::Payment, DocumentLanguage::Ru) => format!("Оплата (п/п {n})"),
        (RowKind::Payment, DocumentLanguage::En) => format!("Payment (payment order {n})"),
        (RowKind::PaymentReversal, DocumentLanguage::Ru) => format!("Сторно оплаты (п/п {n})"),
        (RowKind::PaymentReversal, DocumentLanguage::En) => {
            format!("Payment reversed (payment order {n})")
        }
        (RowKind::Refund, DocumentLanguage::Ru) => format!("Возврат (п/п {n})"),
        (RowKind::Refund, DocumentLanguage::En) => format!("Refund (payment order {n})"),
    }
}

/// A row's document as the statement of account names it: `Счёт № KPK-2026-000057`,
/// `Оплата (п/п 148)`.
fn statement_document(row: &Row, language: DocumentLanguage) -> String {
    let (n, kind) = (&row.number, row.kind.name(language));
    match (row.kind, language) {
        (RowKind::Invoice | RowKind::CreditNote, DocumentLanguage::Ru) => format!("{kind} № {n}"),
        (RowKind::Invoice | RowKind::CreditNote, DocumentLanguage::En) => {
            format!("{kind} No. {n}")
        }
        (_, DocumentLanguage::Ru) => format!("{kind} (п/п {n})"),
        (_, DocumentLanguage::En) => format!("{kind} (payment order {n})"),
    }
}

/// A line's description with what it bills: the days of a subscription, the events of a
/// meter's usage (a charge's id is not for the customer's eyes).
fn line_description(line: &RowLine, language: DocumentLanguage) -> String {
    let text = line.description.get(lang_of(language));
    match (&line.what, language) {
        (
            LineKind::Subscription {
                from,
                until_exclusive,
                ..
            },
            _,
        ) => {
            let last = until_exclusive.pred_opt().unwrap_or(*until_exclusive);
            format!("{text}, {}–{}", day(*from), day(last))
        }
        (LineKind::Usage { events, .. }, DocumentLanguage::Ru) => {
            format!("{text}, событий: {events}")
        }
        (LineKind::Usage { events, .. }, DocumentLanguage::En) => {
            format!("{text}, {events} events")
        }
        (LineKind::Charge { .. }, _) => text.to_owned(),
    }
}

impl AccountStatementSheet {
    /// The statement of account of `statement`, kept by `seller` for `buyer`, in `language`,
    /// made on `made_on` (see the module docs).
    pub fn of(
        statement: &AccountStatement,
        seller: &ProviderRequisites,
        buyer: &Buyer,
        language: DocumentLanguage,
        made_on: NaiveDate,
    ) -> Self {
        let ctx = Context::new(statement, seller, buyer, language);
        let t = ctx.t;
        let summary = |date: String, label: &str, debit, credit, balance| StatementSheetRow {
            date,
            document: label.to_owned(),
            description: String::new(),
            debit,
            credit,
            balance,
            lines: Vec::new(),
        };
        let rows = statement
            .rows
            .iter()
            .map(|row| StatementSheetRow {
                date: day(row.on),
                document: statement_document(row, language),
                description: row.description.get(language).to_owned(),
                debit: ctx.money_or_empty(row.debit),
                credit: ctx.money_or_empty(row.credit),
                balance: ctx.money(row.balance),
                lines: row
                    .lines
                    .iter()
                    .map(|line| StatementSheetLine {
                        service: line.service.to_string(),
                        description: line_description(line, language),
                        quantity: number(line.quantity.normalize(), ctx.lang),
                        unit: line.unit.short_name(ctx.lang).to_owned(),
                        amount: ctx.money(line.gross),
                    })
                    .collect(),
            })
            .collect();
        Self {
            lang: language,
            title: t.account_statement.to_owned(),
            period: ctx.period(statement),
            made_on: format!("{} {}", t.made_on, date(made_on, ctx.lang)),
            seller_label: t.seller.to_owned(),
            buyer_label: t.buyer.to_owned(),
            seller: ctx.seller_party(),
            buyer: ctx.buyer_party(buyer),
            contract: ctx.contract(buyer.contract.as_ref(), t.contract),
            currency: format!("{} {}", t.amounts_in, ctx.currency_name()),
            columns: t
                .statement_columns
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            line_columns: t.line_columns.iter().map(|c| (*c).to_owned()).collect(),
            opening: summary(
                day(statement.from),
                t.opening,
                String::new(),
                String::new(),
                ctx.money(statement.opening),
            ),
            rows,
            turnover: summary(
                String::new(),
                t.turnover,
                ctx.money(statement.totals.debit),
                ctx.money(statement.totals.credit),
                String::new(),
            ),
            closing: summary(
                day(statement.to),
                t.closing,
                String::new(),
                String::new(),
                ctx.money(statement.closing),
            ),
            overdue: summary(
                day(statement.to),
                t.overdue,
                String::new(),
                String::new(),
                ctx.money(statement.overdue),
            ),
            by_service_title: t.by_service.to_owned(),
            by_service_columns: t
                .by_service_columns
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            by_service: statement
                .by_service
                .iter()
                .map(|s| StatementServiceTotal {
                    service: s.service.to_string(),
                    net: ctx.money(s.net),
                    tax: ctx.money(s.tax),
                    gross: ctx.money(s.gross),
                })
                .collect(),
            conclusion: ctx.conclusion(statement.closing, statement.to),
            signatures: vec![ctx.seller_signature(false)],
        }
    }
}

/// The fixed texts of both reports in one language.
struct Words {
    reconciliation: &'static str,
    account_statement: &'static str,
    period_from: &'static str,
    period_to: &'static str,
    between: &'static str,
    and: &'static str,
    under_contract: &'static str,
    contract: &'static str,
    of: &'static str,
    according_to: &'static str,
    act_columns: [&'static str; 4],
    statement_columns: [&'static str; 6],
    line_columns: [&'static str; 5],
    opening: &'static str,
    turnover: &'static str,
    closing: &'static str,
    overdue: &'static str,
    by_service: &'static str,
    by_service_columns: [&'static str; 4],
    made_on: &'static str,
    amounts_in: &'static str,
    seller: &'static str,
    buyer: &'static str,
    tax_id: &'static str,
    kpp: &'static str,
    on_behalf: &'static str,
    signature: &'static str,
    stamp: &'static str,
}

static RU: Words = Words {
    reconciliation: "Акт сверки взаимных расчётов",
    account_statement: "Выписка по лицевому счёту",
    period_from: "за период с",
    period_to: "по",
    between: "между",
    and: "и",
    under_contract: "по договору №",
    contract: "Договор №",
    of: "от",
    according_to: "По данным",
    act_columns: ["Дата", "Документ", "Дебет", "Кредит"],
    statement_columns: ["Дата", "Документ", "Описание", "Дебет", "Кредит", "Сальдо"],
    line_columns: ["Услуга", "Описание", "Кол-во", "Ед.", "Сумма"],
    opening: "Сальдо начальное",
    turnover: "Обороты за период",
    closing: "Сальдо конечное",
    overdue: "в т. ч. просрочено",
    by_service: "Итоги по услугам",
    by_service_columns: ["Услуга", "Сумма без НДС", "НДС", "Всего"],
    made_on: "Дата формирования:",
    amounts_in: "Суммы в",
    seller: "Поставщик",
    buyer: "Покупатель",
    tax_id: "ИНН",
    kpp: "КПП",
    on_behalf: "От",
    signature: "(подпись)",
    stamp: "М.П.",
};

static EN: Words = Words {
    reconciliation: "Statement of reconciliation of mutual settlements",
    account_statement: "Statement of account",
    period_from: "for the period from",
    period_to: "to",
    between: "between",
    and: "and",
    under_contract: "under contract No.",
    contract: "Contract No.",
    of: "of",
    according_to: "According to",
    act_columns: ["Date", "Document", "Debit", "Credit"],
    statement_columns: [
        "Date",
        "Document",
        "Description",
        "Debit",
        "Credit",
        "Balance",
    ],
    line_columns: ["Service", "Description", "Qty", "Unit", "Amount"],
    opening: "Opening balance",
    turnover: "Turnover for the period",
    closing: "Closing balance",
    overdue: "of which overdue",
    by_service: "Totals by service",
    by_service_columns: ["Service", "Net", "VAT", "Total"],
    made_on: "Made on",
    amounts_in: "Amounts in",
    seller: "Provider",
    buyer: "Customer",
    tax_id: "Tax ID",
    kpp: "KPP",
    on_behalf: "For",
    signature: "(signature)",
    stamp: "Seal",
};

fn words(language: DocumentLanguage) -> &'static Words {
    match language {
        DocumentLanguage::Ru => &RU,
        DocumentLanguage::En => &EN,
    }
}

/// The sample provider (its requisites: [`super::sample_requisites`]) and customer, the
/// customer's name in `language` as the invoice sheets' sample writes it, under contract
/// 17/2026.
pub fn sample_parties(language: DocumentLanguage) -> (ProviderRequisites, Buyer) {
    let seller =
        ProviderRequisites::new(super::sample_requisites()).expect("the sample requisites");
    let buyer = Buyer {
        legal_name: LegalName::parse(match language {
            DocumentLanguage::Ru => "ООО «Ромашка»",
            DocumentLanguage::En => "Romashka LLC",
        })
        .expect("a name"),
        tax_id: TaxId::inn_completing("770123456").expect("an INN"),
        kpp: Some(Kpp::parse("770101001").expect("a KPP")),
        address: BillingAddress::parse("101000, Москва, ул. Мясницкая, 2").expect("an address"),
        language,
        contract: Some(
            Contract::new(
                "17/2026",
                NaiveDate::from_ymd_opt(2026, 1, 12).expect("a day"),
            )
            .expect("a contract"),
        ),
    };
    (seller, buyer)
}

/// A hand-made statement of account of October and November 2026, in roubles, with a row of
/// every kind: the customer owed 2 376,00 at the start; September's invoice, a payment of
/// 5 000,00 that overpaid, the overpayment refunded; October's invoice with a subscription
/// and an exempt job, a credit note for an outage, a payment taken back by the payer's bank.
/// It closes at 5 717,60, all of it overdue.
pub fn sample_statement() -> AccountStatement {
    let rub = |cents: i64| Money::new(Decimal::new(cents, 2), Currency::RUB);
    let on = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).expect("a day");
    let text = |ru: &str, en: &str| StatementText {
        ru: ru.to_owned(),
        en: en.to_owned(),
    };
    let localized = |ru: &str, en: &str| LocalizedText::new(ru, en).expect("a sample text");
    let code = |c: &str| c.parse::<ServiceCode>().expect("a code");
    let id = |n: u128| ulid::Ulid(n);
    let vps = |no: u16, month: u32, cents: [i64; 3]| RowLine {
        no,
        service: code("VPS-S"),
        description: localized("Виртуальный сервер VPS-S", "Virtual server VPS-S"),
        what: LineKind::Subscription {
            subscription: SubscriptionId::from_ulid(id(1)),
            from: on(month, 1),
            until_exclusive: on(month + 1, 1),
        },
        quantity: Decimal::from(2),
        unit: UnitOfMeasure::Month,
        net: rub(cents[0]),
        tax: rub(cents[1]),
        gross: rub(cents[2]),
    };
    let router = RowLine {
        no: 2,
        service: code("ROUTER-SETUP"),
        description: localized("Настройка роутера", "Router setup"),
        what: LineKind::Charge {
            charge: crate::ids::ChargeId::from_ulid(id(2)),
        },
        quantity: Decimal::ONE,
        unit: UnitOfMeasure::Piece,
        net: rub(350_000),
        tax: rub(0),
        gross: rub(350_000),
    };
    let zero = rub(0);
    let mut entry = 0;
    let mut row = |on: NaiveDate, kind: RowKind, number: &str, description, debit, credit| {
        entry += 1;
        Row {
            on,
            kind,
            number: number.to_owned(),
            description,
            debit,
            credit,
            balance: zero,
            due_on: None,
            lines: Vec::new(),
            entry: EntryId::from_ulid(id(100 + entry)),
        }
    };
    let mut rows = vec![
        Row {
            due_on: Some(on(10, 15)),
            lines: vec![vps(1, 9, [198_000, 39_600, 237_600])],
            ..row(
                on(10, 1),
                RowKind::Invoice,
                "KPK-2026-000041",
                text(
                    "Услуги за период 2026-09, оплатить до 2026-10-15",
                    "Services of 2026-09, due on 2026-10-15",
                ),
                rub(237_600),
                zero,
            )
        },
        row(
            on(10, 6),
            RowKind::Payment,
            "148",
            text(
                "Плательщик: ООО «Ромашка», назначение: Оплата по счетам KPK-2026-000031, \
                 KPK-2026-000041",
                "Payer: ООО «Ромашка», purpose: Оплата по счетам KPK-2026-000031, \
                 KPK-2026-000041",
            ),
            zero,
            rub(500_000),
        ),
        row(
            on(10, 9),
            RowKind::Refund,
            "12",
            text(
                "Возврат аванса: переплата по п/п 148",
                "Credit refunded: overpayment of payment order 148",
            ),
            rub(24_800),
            zero,
        ),
        Row {
            due_on: Some(on(11, 15)),
            lines: vec![vps(1, 10, [198_000, 39_600, 237_600]), router],
            ..row(
                on(11, 1),
                RowKind::Invoice,
                "KPK-2026-000057",
                text(
                    "Услуги за период 2026-10, оплатить до 2026-11-15",
                    "Services of 2026-10, due on 2026-11-15",
                ),
                rub(587_600),
                zero,
            )
        },
        Row {
            lines: vec![vps(1, 10, [-13_200, -2_640, -15_840])],
            ..row(
                on(11, 10),
                RowKind::CreditNote,
                "KPK-CN-2026-000003",
                text(
                    "Корректировка счёта KPK-2026-000057: Перерыв в работе сервиса 2 дня",
                    "Corrects invoice KPK-2026-000057: Service outage of 2 days",
                ),
                zero,
                rub(15_840),
            )
        },
        row(
            on(11, 12),
            RowKind::Payment,
            "163",
            text(
                "Плательщик: ООО «Ромашка», назначение: Оплата по счёту KPK-2026-000057; \
                 сторнирована 2026-11-17: платёж отозван банком плательщика",
                "Payer: ООО «Ромашка», purpose: Оплата по счёту KPK-2026-000057; reversed on \
                 2026-11-17: recalled by the payer's bank",
            ),
            zero,
            rub(571_760),
        ),
        row(
            on(11, 17),
            RowKind::PaymentReversal,
            "163",
            text(
                "Сторно оплаты от 2026-11-12: платёж отозван банком плательщика",
                "Reverses the payment of 2026-11-12: recalled by the payer's bank",
            ),
            rub(571_760),
            zero,
        ),
    ];
    let opening = rub(237_600);
    let mut balance = opening;
    let mut totals = Totals {
        debit: zero,
        credit: zero,
    };
    for row in &mut rows {
        balance = balance
            .checked_add(row.debit)
            .and_then(|b| b.checked_sub(row.credit))
            .expect("roubles");
        row.balance = balance;
        totals.debit = totals.debit.checked_add(row.debit).expect("roubles");
        totals.credit = totals.credit.checked_add(row.credit).expect("roubles");
    }
    let mut by_service: Vec<ServiceTotal> = Vec::new();
    for line in rows.iter().flat_map(|r| &r.lines) {
        match by_service.iter_mut().find(|s| s.service == line.service) {
            Some(total) => {
                let add = |a: Money, b: Money| a.checked_add(b).expect("roubles");
                total.net = add(total.net, line.net);
                total.tax = add(total.tax, line.tax);
                total.gross = add(total.gross, line.gross);
            }
            None => by_service.push(ServiceTotal {
                service: line.service.clone(),
                net: line.net,
                tax: line.tax,
                gross: line.gross,
            }),
        }
    }
    by_service.sort_by(|a, b| a.service.as_str().cmp(b.service.as_str()));
    AccountStatement {
        org: OrgId::from_ulid(id(3)),
        currency: Currency::RUB,
        from: on(10, 1),
        to: on(11, 30),
        opening,
        rows,
        by_service,
        totals,
        closing: balance,
        overdue: balance,
    }
}

#[cfg(test)]
mod tests;
