//! The statement of account: the full report of the services rendered to one customer and the
//! payments it made, in one currency, over a range of days — what it owed at the start, every
//! document that moved its balance, what it owes at the end, and how much of that is overdue.
//!
//! # Rules
//!
//! - **One customer, one currency, one range**: [`compose`] reports the organisation `org` in
//!   `currency` over the days `from..=to`. `from` must not be after `to` (refused naming
//!   `from`), and the range is at most ten years: `to` must be before `from` plus ten years
//!   (refused naming `to`). Entries and documents of another organisation or in another
//!   currency are simply left out: currencies are never added up.
//! - **Amounts come from the ledger**, never from the documents: the documents (invoices,
//!   credit notes, payments, refunds) only describe the rows. A document that is not given
//!   leaves its row with an empty description, no lines and no due date, and its amounts still
//!   count.
//! - **Opening balance**: what the customer owed at the end of the day before `from`
//!   ([`ledger::customer_balance`]); negative, it had a credit (nothing before the first day
//!   chrono knows: zero).
//! - **Rows**: one per ledger entry of the customer in the currency booked on a day of the
//!   range, ordered by day, then by kind (invoice, credit note, payment, payment reversal,
//!   refund: [`RowKind`]'s order), then by document number or payment reference (as text),
//!   then by entry id. A row's `debit` is what the entry debited the customer's receivable
//!   (what raised the debt: an invoice, a reversal, a refund), its `credit` what it credited
//!   (what lowered it: a payment, a credit note, a negative invoice). Its `balance` is the
//!   running balance: opening + Σ debits − Σ credits of the rows so far.
//! - **Lines**: an invoice's or credit note's rows list the document's lines (a credit
//!   note's negative, as stored), each with its service, its description in both languages,
//!   what it bills ([`LineKind`]), quantity, unit, net, tax and gross.
//! - **Totals by service**: per service code, the sums of the net, tax and gross of the lines
//!   of the invoices and credit notes among the rows (so credit notes subtract), sorted by
//!   service code.
//! - **Closing balance**: opening + Σ debits − Σ credits of the rows. It must equal the
//!   ledger's balance at the end of `to`; otherwise the statement is refused
//!   ([`StatementError::Inconsistent`]), which never happens for entries the ledger built.
//! - **Overdue, as of `to`**, by first-in-first-out ageing, from the ledger and the invoices'
//!   due dates alone (it does not depend on which invoice a payment was allocated to):
//!   payments and credit pay the oldest debts first, so what is still owed is the newest
//!   debt. *Not yet due* is the sum, over the invoices booked on or before `to` whose due date
//!   is on or after `to` (not overdue on `to`), of what each still owes by the ledger: its
//!   entry's receivable amount less what credit notes booked on or before `to` credited of
//!   it, counted only when above zero. Then **overdue = max(0, closing − not yet due)**, so
//!   overdue is always between zero and the closing balance (zero when the customer is in
//!   credit). An invoice whose document is not given counts as due.
//! - **Descriptions** are given in Russian and English ([`StatementText`]): a payment read
//!   from a bank statement names its payer and purpose; a payment taken back says so, with
//!   the day and the reason (also on statements of days before the reversal: the amounts of
//!   those days do not change, the reversal is a row of its own day); a credit note names the
//!   invoice it corrects and its reason; a reversal its reason; a refund its reason.
//! - **CSV** ([`AccountStatement::to_csv`]): UTF-8 with a byte order mark, comma-separated,
//!   a header row in the chosen language; the opening balance first, then each row followed by
//!   its lines, then the closing balance (with the turnover in the debit and credit columns)
//!   and the overdue amount. Amounts are plain decimals with the currency's minor units
//!   (`1020.00`, `-600.00`); a zero debit or credit is left empty; days are `YYYY-MM-DD`.

use std::collections::{BTreeMap, HashMap};

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::accounts::DocumentLanguage;
use crate::catalog::{Lang, LocalizedText, ServiceCode, UnitOfMeasure};
use crate::ids::{
    ChargeId, CreditNoteId, EntryId, InvoiceId, OrgId, PaymentId, RefundId, SubscriptionId,
};
use crate::invoicing::{CreditNote, Invoice, InvoiceLine, LineSource};
use crate::ledger::{self, Account, DocumentRef, Entry, LedgerError};
use crate::money::{Currency, Money, MoneyError};
use crate::payments::{Payment, Refund};

/// The longest range a statement covers, in months (ten years).
pub const MAX_RANGE_MONTHS: u32 = 120;

/// Why a statement could not be composed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// A field of the input breaks a rule; `field` is its name: `from` or `to`.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The rows do not add up to the ledger's closing balance (never, for entries the ledger
    /// built).
    #[error("the statement's closing balance {statement} is not the ledger's balance {ledger}")]
    Inconsistent { statement: Money, ledger: Money },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl StatementError {
    fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Everything a statement reads, already loaded: the input of [`compose`].
#[derive(Debug, Clone, Copy)]
pub struct StatementInput<'a> {
    /// The customer.
    pub org: OrgId,
    /// The one currency reported.
    pub currency: Currency,
    /// The first day reported.
    pub from: NaiveDate,
    /// The last day reported (inclusive).
    pub to: NaiveDate,
    /// The customer's ledger entries, of any days (others' are left out).
    pub entries: &'a [Entry],
    /// The customer's invoices: at least those booked in the range and those not yet due on
    /// `to` (for their lines and due dates).
    pub invoices: &'a [Invoice],
    /// The customer's credit notes (to describe their rows).
    pub credit_notes: &'a [CreditNote],
    /// The customer's payments (to describe their rows and reversals).
    pub payments: &'a [Payment],
    /// The customer's refunds (to describe their rows).
    pub refunds: &'a [Refund],
}

/// A text of the statement in both languages it speaks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StatementText {
    pub ru: String,
    pub en: String,
}

impl StatementText {
    fn new(ru: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            ru: ru.into(),
            en: en.into(),
        }
    }

    /// The text in `language`.
    pub fn get(&self, language: DocumentLanguage) -> &str {
        match language {
            DocumentLanguage::Ru => &self.ru,
            DocumentLanguage::En => &self.en,
        }
    }

    /// Both texts, each joined with "; " to the other's counterpart; an empty side is skipped.
    fn and(mut self, other: StatementText) -> Self {
        for (mine, theirs) in [(&mut self.ru, other.ru), (&mut self.en, other.en)] {
            if theirs.is_empty() {
                continue;
            }
            if !mine.is_empty() {
                mine.push_str("; ");
            }
            mine.push_str(&theirs);
        }
        self
    }
}

/// What kind of document a row records. The order of the variants is the order of rows of
/// one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    Invoice,
    CreditNote,
    Payment,
    PaymentReversal,
    Refund,
}

impl RowKind {
    /// The kind in words, in `language`.
    pub fn name(self, language: DocumentLanguage) -> &'static str {
        match (self, language) {
            (RowKind::Invoice, DocumentLanguage::Ru) => "Счёт",
            (RowKind::Invoice, DocumentLanguage::En) => "Invoice",
            (RowKind::CreditNote, DocumentLanguage::Ru) => "Корректировка",
            (RowKind::CreditNote, DocumentLanguage::En) => "Credit note",
            (RowKind::Payment, DocumentLanguage::Ru) => "Оплата",
            (RowKind::Payment, DocumentLanguage::En) => "Payment",
            (RowKind::PaymentReversal, DocumentLanguage::Ru) => "Сторно оплаты",
            (RowKind::PaymentReversal, DocumentLanguage::En) => "Payment reversal",
            (RowKind::Refund, DocumentLanguage::Ru) => "Возврат",
            (RowKind::Refund, DocumentLanguage::En) => "Refund",
        }
    }
}

/// What an invoice line bills (from its [`LineSource`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LineKind {
    /// A subscription's fee for the days `from..until_exclusive`.
    Subscription {
        subscription: SubscriptionId,
        from: NaiveDate,
        until_exclusive: NaiveDate,
    },
    /// A recorded charge: a done work order, a one-off charge or a credit.
    Charge { charge: ChargeId },
    /// A meter's usage (the meter is the line's service); `late_events` of the `events`
    /// happened in earlier periods.
    Usage { events: u64, late_events: u64 },
}

impl LineKind {
    fn of(source: &LineSource) -> Self {
        match source {
            LineSource::Subscription {
                subscription,
                from,
                until_exclusive,
                ..
            } => LineKind::Subscription {
                subscription: *subscription,
                from: *from,
                until_exclusive: *until_exclusive,
            },
            LineSource::Charge { charge } => LineKind::Charge { charge: *charge },
            LineSource::Usage {
                events,
                late_events,
            } => LineKind::Usage {
                events: *events,
                late_events: *late_events,
            },
        }
    }

    /// What the line bills, in words, in `language`.
    pub fn text(&self, language: DocumentLanguage) -> String {
        match (self, language) {
            (
                LineKind::Subscription {
                    from,
                    until_exclusive,
                    ..
                },
                _,
            ) => {
                let last = until_exclusive.pred_opt().unwrap_or(*until_exclusive);
                match language {
                    DocumentLanguage::Ru => format!("подписка {from} – {last}"),
                    DocumentLanguage::En => format!("subscription {from} – {last}"),
                }
            }
            (LineKind::Charge { charge }, DocumentLanguage::Ru) => format!("начисление {charge}"),
            (LineKind::Charge { charge }, DocumentLanguage::En) => format!("charge {charge}"),
            (LineKind::Usage { events, .. }, DocumentLanguage::Ru) => {
                format!("потребление, событий: {events}")
            }
            (LineKind::Usage { events, .. }, DocumentLanguage::En) => {
                format!("usage, {events} events")
            }
        }
    }
}

/// One line of an invoice or credit note, as the statement shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowLine {
    /// The line's number in its document.
    pub no: u16,
    pub service: ServiceCode,
    /// In both languages: the caller picks one.
    pub description: LocalizedText,
    /// What the line bills.
    pub what: LineKind,
    pub quantity: Decimal,
    pub unit: UnitOfMeasure,
    /// Negative on a credit note's line, as stored.
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

impl RowLine {
    fn of(line: &InvoiceLine) -> Self {
        Self {
            no: line.no,
            service: line.service.clone(),
            description: line.description.clone(),
            what: LineKind::of(&line.source),
            quantity: line.quantity,
            unit: line.unit,
            net: line.net,
            tax: line.tax,
            gross: line.gross,
        }
    }
}

/// One ledger entry of the customer, described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The day it is booked on.
    pub on: NaiveDate,
    pub kind: RowKind,
    /// The invoice or credit note number, or the payment's or refund's reference.
    pub number: String,
    /// What the document was (see the module docs).
    pub description: StatementText,
    /// What it raised the customer's debt by (its receivable debit).
    pub debit: Money,
    /// What it lowered the customer's debt by (its receivable credit).
    pub credit: Money,
    /// The running balance after this row.
    pub balance: Money,
    /// An invoice's due date.
    pub due_on: Option<NaiveDate>,
    /// An invoice's or credit note's lines.
    pub lines: Vec<RowLine>,
    /// The ledger entry.
    pub entry: EntryId,
}

/// The totals of one service over the statement's invoices and credit notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceTotal {
    pub service: ServiceCode,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// The turnover of the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Σ debits of the rows.
    pub debit: Money,
    /// Σ credits of the rows.
    pub credit: Money,
}

/// A customer's statement of account (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountStatement {
    pub org: OrgId,
    pub currency: Currency,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// What the customer owed at the end of the day before `from` (negative: its credit).
    pub opening: Money,
    pub rows: Vec<Row>,
    /// Sorted by service code.
    pub by_service: Vec<ServiceTotal>,
    pub totals: Totals,
    /// What the customer owes at the end of `to`: opening + Σ debits − Σ credits.
    pub closing: Money,
    /// What of the closing balance is overdue on `to` (first in, first out).
    pub overdue: Money,
}

/// The documents of the input, by id: those of the customer in the currency.
struct Documents<'a> {
    invoices: HashMap<InvoiceId, &'a Invoice>,
    credit_notes: HashMap<CreditNoteId, &'a CreditNote>,
    payments: HashMap<PaymentId, &'a Payment>,
    refunds: HashMap<RefundId, &'a Refund>,
}

impl<'a> Documents<'a> {
    fn of(input: &StatementInput<'a>) -> Self {
        let (org, currency) = (input.org, input.currency);
        Self {
            invoices: input
                .invoices
                .iter()
                .filter(|i| i.draft.org == org && i.draft.currency == currency)
                .map(|i| (i.id, i))
                .collect(),
            credit_notes: input
                .credit_notes
                .iter()
                .filter(|n| n.org == org && n.gross.currency() == currency)
                .map(|n| (n.id, n))
                .collect(),
            payments: input
                .payments
                .iter()
                .filter(|p| p.org == org && p.amount.currency() == currency)
                .map(|p| (p.id, p))
                .collect(),
            refunds: input
                .refunds
                .iter()
                .filter(|r| r.org == org && r.amount.currency() == currency)
                .map(|r| (r.id, r))
                .collect(),
        }
    }
}

/// The kind and the number (or reference) of an entry's document.
fn kind_and_number(document: &DocumentRef) -> (RowKind, String) {
    match document {
        DocumentRef::Invoice { number, .. } => (RowKind::Invoice, number.to_string()),
        DocumentRef::CreditNote { number, .. } => (RowKind::CreditNote, number.to_string()),
        DocumentRef::Payment { reference, .. } => (RowKind::Payment, reference.clone()),
        DocumentRef::PaymentReversal { reference, .. } => {
            (RowKind::PaymentReversal, reference.clone())
        }
        DocumentRef::Refund { reference, .. } => (RowKind::Refund, reference.clone()),
    }
}

/// The sums of the debits and of the credits an entry posts to the receivable.
fn receivable_sides(entry: &Entry) -> Result<(Money, Money), MoneyError> {
    let currency = entry.currency();
    let mut debit = Money::zero(currency);
    let mut credit = Money::zero(currency);
    for posting in entry
        .postings()
        .iter()
        .filter(|p| p.account == Account::Receivable)
    {
        debit = debit.checked_add(posting.debit)?;
        credit = credit.checked_add(posting.credit)?;
    }
    Ok((debit, credit))
}

/// An entry's row, but for its running balance; with its document's lines and due date.
fn describe(
    entry: &Entry,
    documents: &Documents<'_>,
) -> (StatementText, Option<NaiveDate>, Vec<RowLine>) {
    let lines = |lines: &[InvoiceLine]| lines.iter().map(RowLine::of).collect();
    match entry.document() {
        DocumentRef::Invoice { invoice, .. } => match documents.invoices.get(invoice) {
            Some(invoice) => {
                let (period, due) = (invoice.draft.period, invoice.due_on);
                (
                    StatementText::new(
                        format!("Услуги за период {period}, оплатить до {due}"),
                        format!("Services of {period}, due on {due}"),
                    ),
                    Some(due),
                    lines(&invoice.draft.lines),
                )
            }
            None => (StatementText::default(), None, Vec::new()),
        },
        DocumentRef::CreditNote {
            credit_note,
            invoice,
            ..
        } => match documents.credit_notes.get(credit_note) {
            Some(note) => (
                StatementText::new(
                    format!(
                        "Корректировка счёта {}: {}",
                        note.invoice_number, note.reason
                    ),
                    format!("Corrects invoice {}: {}", note.invoice_number, note.reason),
                ),
                None,
                lines(&note.lines),
            ),
            None => {
                let text = documents.invoices.get(invoice).map_or_else(
                    StatementText::default,
                    |invoice| {
                        StatementText::new(
                            format!("Корректировка счёта {}", invoice.number),
                            format!("Corrects invoice {}", invoice.number),
                        )
                    },
                );
                (text, None, Vec::new())
            }
        },
        DocumentRef::Payment { payment, .. } => {
            let text = documents
                .payments
                .get(payment)
                .map_or_else(StatementText::default, |p| payment_text(p));
            (text, None, Vec::new())
        }
        DocumentRef::PaymentReversal {
            payment, reason, ..
        } => {
            let text = match documents.payments.get(payment) {
                Some(p) => StatementText::new(
                    format!("Сторно оплаты от {}: {reason}", p.received_on),
                    format!("Reverses the payment of {}: {reason}", p.received_on),
                ),
                None => StatementText::new(
                    format!("Сторно оплаты: {reason}"),
                    format!("Payment reversed: {reason}"),
                ),
            };
            (text, None, Vec::new())
        }
        DocumentRef::Refund { refund, .. } => {
            let text = documents
                .refunds
                .get(refund)
                .map_or_else(StatementText::default, |r| {
                    StatementText::new(
                        format!("Возврат аванса: {}", r.reason),
                        format!("Credit refunded: {}", r.reason),
                    )
                });
            (text, None, Vec::new())
        }
    }
}

/// A payment's description: its payer and purpose when read from a bank statement, and its
/// reversal when it was taken back.
fn payment_text(payment: &Payment) -> StatementText {
    let source = payment
        .source
        .as_ref()
        .map_or_else(StatementText::default, |s| {
            StatementText::new(
                format!("Плательщик: {}, назначение: {}", s.payer_name, s.purpose),
                format!("Payer: {}, purpose: {}", s.payer_name, s.purpose),
            )
        });
    let reversed = payment
        .reversed
        .as_ref()
        .map_or_else(StatementText::default, |r| {
            StatementText::new(
                format!("сторнирована {}: {}", r.on, r.reason),
                format!("reversed on {}: {}", r.on, r.reason),
            )
        });
    source.and(reversed)
}

/// Checks the range: `from` not after `to`, at most [`MAX_RANGE_MONTHS`] long.
fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), StatementError> {
    if from > to {
        return Err(StatementError::invalid(
            "from",
            format!("must not be after the last day ({to})"),
        ));
    }
    if let Some(limit) = from.checked_add_months(Months::new(MAX_RANGE_MONTHS))
        && to >= limit
    {
        return Err(StatementError::invalid(
            "to",
            format!("a statement covers at most ten years: must be before {limit}"),
        ));
    }
    Ok(())
}

/// The customer's statement of account (see the module docs).
pub fn compose(input: &StatementInput<'_>) -> Result<AccountStatement, StatementError> {
    let StatementInput {
        org,
        currency,
        from,
        to,
        entries,
        ..
    } = *input;
    check_range(from, to)?;
    let zero = Money::zero(currency);
    let mine: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.org() == org && e.currency() == currency)
        .collect();
    let opening = match from.pred_opt() {
        Some(eve) => ledger::customer_balance(entries, org, eve, currency)?,
        None => zero,
    };

    let mut in_range: Vec<(RowKind, String, &Entry)> = mine
        .iter()
        .filter(|e| (from..=to).contains(&e.on()))
        .map(|e| {
            let (kind, number) = kind_and_number(e.document());
            (kind, number, *e)
        })
        .collect();
    in_range.sort_by(|(ka, na, a), (kb, nb, b)| {
        (a.on(), ka, na, a.id()).cmp(&(b.on(), kb, nb, b.id()))
    });

    let documents = Documents::of(input);
    let mut rows = Vec::with_capacity(in_range.len());
    let mut balance = opening;
    let mut totals = Totals {
        debit: zero,
        credit: zero,
    };
    for (kind, number, entry) in in_range {
        let (debit, credit) = receivable_sides(entry)?;
        balance = balance.checked_add(debit)?.checked_sub(credit)?;
        totals.debit = totals.debit.checked_add(debit)?;
        totals.credit = totals.credit.checked_add(credit)?;
        let (description, due_on, lines) = describe(entry, &documents);
        rows.push(Row {
            on: entry.on(),
            kind,
            number,
            description,
            debit,
            credit,
            balance,
            due_on,
            lines,
            entry: entry.id(),
        });
    }

    let closing = opening
        .checked_add(totals.debit)?
        .checked_sub(totals.credit)?;
    let ledger_closing = ledger::customer_balance(entries, org, to, currency)?;
    if closing != ledger_closing {
        return Err(StatementError::Inconsistent {
            statement: closing,
            ledger: ledger_closing,
        });
    }

    Ok(AccountStatement {
        org,
        currency,
        from,
        to,
        opening,
        by_service: by_service(&rows)?,
        rows,
        totals,
        closing,
        overdue: overdue(&mine, &documents, to, closing)?,
    })
}

/// The totals per service of the rows' lines, sorted by service code.
fn by_service(rows: &[Row]) -> Result<Vec<ServiceTotal>, MoneyError> {
    let mut totals: BTreeMap<&ServiceCode, ServiceTotal> = BTreeMap::new();
    for line in rows.iter().flat_map(|r| &r.lines) {
        let currency = line.gross.currency();
        let total = totals.entry(&line.service).or_insert_with(|| ServiceTotal {
            service: line.service.clone(),
            net: Money::zero(currency),
            tax: Money::zero(currency),
            gross: Money::zero(currency),
        });
        total.net = total.net.checked_add(line.net)?;
        total.tax = total.tax.checked_add(line.tax)?;
        total.gross = total.gross.checked_add(line.gross)?;
    }
    Ok(totals.into_values().collect())
}

/// What of `closing` is overdue on `to` (see the module docs): `mine` are the customer's
/// entries in the currency.
fn overdue(
    mine: &[&Entry],
    documents: &Documents<'_>,
    to: NaiveDate,
    closing: Money,
) -> Result<Money, MoneyError> {
    let currency = closing.currency();
    let booked = || mine.iter().filter(|e| e.on() <= to);
    // What each invoice still owes by the ledger: its entry less its credit notes' entries.
    let mut owed: HashMap<InvoiceId, Money> = HashMap::new();
    for entry in booked() {
        let (debit, credit) = receivable_sides(entry)?;
        let invoice = match entry.document() {
            DocumentRef::Invoice { invoice, .. } | DocumentRef::CreditNote { invoice, .. } => {
                *invoice
            }
            _ => continue,
        };
        let slot = owed.entry(invoice).or_insert(Money::zero(currency));
        *slot = slot.checked_add(debit)?.checked_sub(credit)?;
    }
    let mut not_yet_due = Money::zero(currency);
    for entry in booked() {
        let DocumentRef::Invoice { invoice, .. } = entry.document() else {
            continue;
        };
        let not_due = documents
            .invoices
            .get(invoice)
            .is_some_and(|i| i.due_on >= to);
        match owed.remove(invoice) {
            Some(left) if not_due && left.amount() > Decimal::ZERO => {
                not_yet_due = not_yet_due.checked_add(left)?;
            }
            _ => {}
        }
    }
    let overdue = closing.checked_sub(not_yet_due)?;
    Ok(if overdue.amount() > Decimal::ZERO {
        overdue
    } else {
        Money::zero(currency)
    })
}

/// The words of the CSV's fixed texts, in one language.
struct Words {
    header: [&'static str; 8],
    opening: &'static str,
    closing: &'static str,
    overdue: &'static str,
    line: &'static str,
}

fn words(language: DocumentLanguage) -> Words {
    match language {
        DocumentLanguage::Ru => Words {
            header: [
                "Дата",
                "Документ",
                "Номер",
                "Описание",
                "Дебет",
                "Кредит",
                "Сальдо",
                "Сумма строки",
            ],
            opening: "Входящее сальдо",
            closing: "Исходящее сальдо",
            overdue: "Просроченная задолженность",
            line: "Строка",
        },
        DocumentLanguage::En => Words {
            header: [
                "Date",
                "Document",
                "Number",
                "Description",
                "Debit",
                "Credit",
                "Balance",
                "Line amount",
            ],
            opening: "Opening balance",
            closing: "Closing balance",
            overdue: "Overdue",
            line: "Line",
        },
    }
}

/// An amount as the CSV writes it; zero left empty.
/// A line's description in the CSV: service, description, what it bills, quantity and unit.
fn line_text(line: &RowLine, language: DocumentLanguage) -> String {
    let lang = match language {
        DocumentLanguage::Ru => Lang::Ru,
        DocumentLanguage::En => Lang::En,
    };
    format!(
        "{} — {} ({}), {} {}",
        line.service,
        line.description.get(lang),
        line.what.text(language),
        line.quantity.normalize(),
        line.unit.short_name(lang),
    )
}

/// One cell of the statement's table: text, or an amount (which a spreadsheet keeps as a
/// number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Amount(Money),
    Empty,
}

impl Cell {
    /// The cell as the CSV writes it.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Amount(m) => m.amount_text(),
            Cell::Empty => String::new(),
        }
    }
}

/// The columns of the statement's table.
pub const COLUMNS: usize = 8;

impl AccountStatement {
    /// The statement as a table in `language` (see the module docs): a header, the opening
    /// balance, each row with its lines under it, the closing balance and what is overdue;
    /// columns date, document, number, description, debit, credit, balance, line amount.
    /// The CSV and the spreadsheet are this table.
    pub fn table(&self, language: DocumentLanguage) -> Vec<[Cell; COLUMNS]> {
        use Cell::{Amount, Empty, Text};
        let words = words(language);
        let text = |t: &str| Text(t.to_owned());
        let money = |m: Money| if m.is_zero() { Empty } else { Amount(m) };
        let mut table = vec![words.header.map(text)];
        table.push([
            Text(self.from.to_string()),
            text(words.opening),
            Empty,
            Empty,
            Empty,
            Empty,
            Amount(self.opening),
            Empty,
        ]);
        for row in &self.rows {
            table.push([
                Text(row.on.to_string()),
                text(row.kind.name(language)),
                Text(row.number.clone()),
                text(row.description.get(language)),
                money(row.debit),
                money(row.credit),
                Amount(row.balance),
                Empty,
            ]);
            for line in &row.lines {
                table.push([
                    Empty,
                    text(words.line),
                    Text(line.no.to_string()),
                    Text(line_text(line, language)),
                    Empty,
                    Empty,
                    Empty,
                    Amount(line.gross),
                ]);
            }
        }
        let to = self.to.to_string();
        table.push([
            Text(to.clone()),
            text(words.closing),
            Empty,
            Empty,
            Amount(self.totals.debit),
            Amount(self.totals.credit),
            Amount(self.closing),
            Empty,
        ]);
        table.push([
            Text(to),
            text(words.overdue),
            Empty,
            Empty,
            Empty,
            Empty,
            Amount(self.overdue),
            Empty,
        ]);
        table
    }

    /// The statement as CSV in `language`: [`AccountStatement::table`], UTF-8 with a byte
    /// order mark.
    pub fn to_csv(&self, language: DocumentLanguage) -> Vec<u8> {
        let mut out = "\u{feff}".as_bytes().to_vec();
        {
            let mut csv = csv::Writer::from_writer(&mut out);
            for row in self.table(language) {
                csv.write_record(row.iter().map(Cell::text))
                    .expect("writing to memory cannot fail");
            }
            csv.flush().expect("flushing to memory cannot fail");
        }
        out
    }
}

#[cfg(test)]
mod tests;
