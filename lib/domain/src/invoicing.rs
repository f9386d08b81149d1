//! Invoices: what a customer owes for a closed billing period, with taxes, under legal
//! numbering; and credit notes, the only way to correct an issued invoice.
//!
//! A period closes per customer ([`compose`]): the customer's charges of the period (done work
//! orders, one-off charges, credits), its subscriptions' fees for the period (prorated by day,
//! [`crate::subscriptions`]) and its metered usage billed in the period (the period's total per
//! meter, rated once with the price version in force at the period's start,
//! [`crate::usage::period_price`], so tiers apply to the period's total) become one
//! [`InvoiceDraft`]. Issuing gives it a number ([`InvoiceNumber`]) and a due date; an issued
//! invoice is never edited again.
//!
//! # Policies (written once, applied everywhere)
//!
//! - **Recurring fees are billed in arrears**: the invoice of a period carries the fees of
//!   the days of that period on which each subscription was in force — except the days the
//!   customer's service was suspended by dunning ([`CloseInput::paused`]): no service, no fee.
//! - **Late fees** (when a provider's dunning policy charges them, [`crate::dunning`]) are
//!   charges like any other, recorded on the day of the dunning step, not subject to VAT.
//! - **A charge belongs to the period in which it was recorded**: work done on the 30th and
//!   completed in the system on the 2nd is billed in the later period (its `rendered_on` date
//!   is shown on the line). Late usage is billed in the first open period and marked late
//!   (see [`crate::usage`]). So an issued invoice never changes.
//! - **The first close** of a customer also bills the charges and usage of the periods before
//!   it (since the customer registered) that no close has covered: nothing accepted is left
//!   unbilled because Kopek's first close came later. Usage of those periods is added to the
//!   closed period's meter totals and rated once with them.
//! - **Tax is computed per line**, under the provider's [`TaxMode`]:
//!   - [`TaxMode::Exclusive`]: prices are net; a line's tax is [`crate::money::tax_on`] its
//!     net amount; its gross amount is net + tax.
//!   - [`TaxMode::Inclusive`]: prices include tax; a line's tax is
//!     `gross × rate / (100 + rate)` rounded once under the rounding policy; its net is
//!     gross − tax.
//!
//!   An invoice's net, tax and gross totals are the sums of its lines' — never recomputed
//!   from a total — so the totals always equal the sum of the lines to the minor unit; the
//!   per-rate breakdown ([`TaxSummary`]) sums the lines of each rate the same way.
//! - **Rounding**: every line amount is already in minor units (a priced line is rounded once
//!   when it is quoted or prorated); tax per line is rounded once. Nothing else is rounded.
//! - **Zero-amount periods** follow [`ZeroInvoicePolicy`]: no invoice, or an invoice of zero.
//!   A period with no lines at all never makes an invoice.
//! - **Due date**: the issue date plus the customer's payment terms in days: its own
//!   ([`crate::accounts::PaymentTerms`], set by staff) or else the provider's
//!   ([`BillingSettings::payment_terms_for`]).
//! - **Negative lines and invoices**: a credit recorded as a charge is a line with a negative
//!   amount, taxed by the same rule (its tax is negative too). An invoice whose gross total is
//!   negative is still composed and issued: it states what the customer is owed, and the
//!   ledger then shows a credit balance on the customer's receivable ([`crate::ledger`]).
//!
//! # Lines
//!
//! [`compose`] lists the lines in one stable order, numbered from 1:
//!
//! 1. **Subscriptions**, by subscription id, then by the first day of each segment: one line
//!    per [`crate::subscriptions::ProratedCharge`], described by the service's name, covering
//!    the segment's days of the period, at the price version the segment agreed (a segment
//!    split by a suspension is one line per stretch of days it was charged).
//! 2. **Charges**, by the day rendered, then by charge id: one line per charge, covering the
//!    day it was rendered (`from` = `rendered_on`, `until_exclusive` the day after), at the
//!    charge's own tax rate.
//! 3. **Usage**, by meter code: one line per meter whose period total is more than zero,
//!    covering the whole period, with the quote's steps in `tiers`.
//!
//! A line's `unit_price` is shown only when one price applies to the whole quantity: the quote
//! of the quantity is a single step whose quantity is the whole quantity, with no minimum
//! adjustment and no flat fee — per unit, a volume tier, or a flat price for a quantity of
//! one. For a subscription it is the *full-period* price of one unit (the line's amount is
//! that, times the quantity, prorated to its days); for a charge it is the amount divided by
//! the quantity, when that division is exact in at most 4 decimal places. Otherwise it is
//! `None`, and a subscription or usage line lists the steps of its quote in `tiers` (for a
//! subscription, the steps of the full-period price).
//!
//! Every line is in the customer's currency, and every subscription segment and meter must
//! find its service and price version in the catalog; otherwise composing is refused
//! ([`InvoicingError::Invalid`] naming `currency`, `service` or `price_version`). A charge
//! carries its own description, unit and tax rate and needs no catalog entry.
//!
//! The per-rate breakdown lists exempt lines first, then rates by increasing percentage.
//! A period "costs nothing" when its net, tax and gross totals are all zero (lines may still
//! be there, e.g. a charge and an equal credit).
//!
//! # Numbering
//!
//! Numbers are gapless and sequential per series ([`InvoiceSeries`]), kind (invoice or
//! credit note) and calendar year of issue: `KPK-2026-000001`, and credit notes
//! `KPK-CN-2026-000001`. A provider that bills many customers may number its invoices in
//! several series ([`BillingSettings::series_count`], as EU VAT rules and Russian practice
//! allow): the provider's code with a two-digit subdivision index, `KPK-07-2026-000123`, each
//! subdivision a sequence of its own. A customer is placed in one subdivision by a stable rule
//! ([`BillingSettings::series_for`]) and stays there; credit notes keep the provider's code. The number is allocated in the same storage transaction that writes
//! the invoice, so a number is used exactly when an invoice exists. A number's year is the
//! year of the document's issue date ([`issue`], [`credit_note`] refuse any other).
//!
//! # Status
//!
//! An issued invoice's status on a day ([`Invoice::status_on`]) is, first match wins:
//! `Void` when credit notes have credited its whole (positive) gross amount; `Paid` when
//! nothing is left open ([`Invoice::open_amount`], which includes invoices of zero and
//! negative ones); `Overdue` when something is open after the due date; `PartlyPaid` when
//! something has been paid; `Issued` otherwise.
//!
//! # Credit notes
//!
//! A credit note ([`credit_note`]) takes back all or part of some lines of one invoice:
//!
//! - What is *left* of a line is its net, tax and gross less what earlier credit notes took
//!   from it ([`credited_per_line`]). An empty request credits what is left of every line.
//! - A line is credited by a gross amount: more than zero, in whole minor units, at most what
//!   is left of the line's gross (so a line of zero or negative gross can only be reversed
//!   whole, by leaving the amount out). Over that is a conflict.
//! - **Crediting what is left of a line** takes exactly what is left of its net, tax and
//!   gross, so an invoice credited in full nets to zero in every column, line by line.
//! - **Crediting part of a line** splits the gross amount as prices including tax are split:
//!   tax = gross × rate / (100 + rate), rounded once; net = gross − tax — whatever the
//!   invoice's tax mode. Should rounding make that tax more than what is left of the line's
//!   tax, or the net more than what is left of its net, the tax is moved by the minor units
//!   needed to keep both within it: no column of a line is ever credited beyond the line.
//! - A credit note never raises what is owed (its gross total is zero or less), and all the
//!   credit notes of an invoice together never credit more than the invoice's gross total.
//! - Its lines are copies of the invoice lines they correct (same number, service,
//!   description, quantity, unit price and dates, for reference) with the credited net, tax
//!   and gross as negative amounts; its totals are the sums of its lines.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::{LocalizedText, ServiceCode, TaxRate, UnitOfMeasure};
use crate::ids::{ChargeId, CreditNoteId, InvoiceId, OrgId, SubscriptionId};
use crate::money::{Currency, Money, MoneyError};
use crate::period::{BillingPeriod, PeriodLength};
use crate::pricing::QuoteLine;

mod compose;
mod credit;
mod requisites;
pub use requisites::{BankAccount, Buyer, Parties, ProviderRequisites, RequisitesForm, Signatory};
#[cfg(test)]
pub(crate) mod fixtures;

pub use compose::compose;
pub use credit::{credit_note, credited_per_line};

/// Whether catalog prices include tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// Prices are net; tax is added on top (the default).
    #[default]
    Exclusive,
    /// Prices include tax; tax is extracted from them.
    Inclusive,
}

/// What a period that costs nothing produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroInvoicePolicy {
    /// No invoice (the default).
    #[default]
    Skip,
    /// An invoice of zero, numbered like any other.
    Issue,
}

/// The series a number is in: the provider's legal entity code, 2–8 ASCII capital letters or
/// digits starting with a letter (e.g. `KPK`), and where invoices are numbered in several
/// series, a subdivision index from 01 to 99 (`KPK-07`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InvoiceSeries(String);

/// How many series a provider numbers its invoices in: 1 (the provider's code alone, the
/// default) to 99 (`KPK-01` … `KPK-99`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct SeriesCount(u8);

impl SeriesCount {
    pub const ONE: SeriesCount = SeriesCount(1);
    pub const MAX: u8 = 99;

    pub fn new(count: u8) -> Result<Self, InvoicingError> {
        if (1..=Self::MAX).contains(&count) {
            Ok(Self(count))
        } else {
            Err(InvoicingError::invalid(
                "series_count",
                format!("from 1 to {} series", Self::MAX),
            ))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for SeriesCount {
    fn default() -> Self {
        Self::ONE
    }
}

impl TryFrom<u8> for SeriesCount {
    type Error = InvoicingError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<SeriesCount> for u8 {
    fn from(value: SeriesCount) -> Self {
        value.0
    }
}

/// Which series a customer's invoices are numbered in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSeries {
    pub series: InvoiceSeries,
    /// The subdivision to record as the customer's own, where it was placed just now (its
    /// first invoice since the provider numbers in several series): from then on it stays.
    pub place: Option<u8>,
}

/// The provider's billing settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    pub series: InvoiceSeries,
    /// How many series invoices are numbered in (credit notes always in `series`).
    #[serde(default)]
    pub series_count: SeriesCount,
    #[serde(default)]
    pub tax_mode: TaxMode,
    #[serde(default)]
    pub zero_invoices: ZeroInvoicePolicy,
    /// Days from the issue date to the due date, unless the customer has its own terms.
    pub payment_terms_days: u16,
    /// The provider's further accounts that bank statements may show (20 digits, or an IBAN
    /// for camt.053), besides the requisites' settlement account: money received on any of
    /// them is a payment.
    #[serde(default)]
    pub bank_accounts: Vec<String>,
}

impl BillingSettings {
    /// The series `org`'s invoices are numbered in. A customer placed in a subdivision
    /// (`placed`, recorded on it) stays there whatever the count is now. Otherwise, with one
    /// series, the provider's code; with several, subdivision `1 +` [`OrgId::spread`]`(count)`
    /// — spread evenly, and the same on every try — to be recorded with the invoice ([`CustomerSeries::place`]). So changing the
    /// count moves no customer already placed; customers invoiced while there was one
    /// series are placed at their next invoice.
    pub fn series_for(&self, org: crate::ids::OrgId, placed: Option<u8>) -> CustomerSeries {
        if let Some(index) = placed.filter(|i| (1..=SeriesCount::MAX).contains(i)) {
            return CustomerSeries {
                series: self.series.subdivision(index),
                place: None,
            };
        }
        let count = self.series_count.get();
        if count == 1 {
            return CustomerSeries {
                series: self.series.clone(),
                place: None,
            };
        }
        let index = 1 + org.spread(u64::from(count)) as u8;
        CustomerSeries {
            series: self.series.subdivision(index),
            place: Some(index),
        }
    }

    /// The days `customer`'s invoices give to pay: its own terms, or these settings'.
    pub fn payment_terms_for(&self, customer: &crate::accounts::Organisation) -> u16 {
        customer
            .payment_terms
            .map_or(self.payment_terms_days, crate::accounts::PaymentTerms::get)
    }
}

/// Which sequence a number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    CreditNote,
}

/// A legal document number: series, kind, year and the 1-based position in that sequence.
/// Text form `KPK-2026-000042` (invoice) or `KPK-CN-2026-000042` (credit note); at least six
/// digits, more when the sequence outgrows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InvoiceNumber {
    pub series: InvoiceSeries,
    pub kind: DocumentKind,
    pub year: i32,
    pub seq: u64,
}

/// Where a line comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LineSource {
    /// A subscription's fee for some days of the period.
    Subscription {
        subscription: SubscriptionId,
        from: NaiveDate,
        until_exclusive: NaiveDate,
        days: u32,
        period_days: u32,
        full_period: Money,
    },
    /// A recorded charge (done work order, one-off charge or credit).
    Charge { charge: ChargeId },
    /// A meter's usage billed in the period (`late_events` of them happened in earlier,
    /// already invoiced periods).
    Usage { events: u64, late_events: u64 },
}

/// One line of an invoice. `net + tax = gross`, each in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLine {
    /// 1-based, in the order of the invoice.
    pub no: u16,
    pub source: LineSource,
    pub service: ServiceCode,
    pub description: LocalizedText,
    pub quantity: Decimal,
    pub unit: UnitOfMeasure,
    /// The price per unit when one applies to the whole quantity; `None` for tiered and
    /// package prices, whose steps are in `tiers`.
    pub unit_price: Option<Decimal>,
    /// The priced steps of a usage or tiered line (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<QuoteLine>,
    pub price_version: u32,
    /// The days the line covers (the rendered day for work).
    pub from: NaiveDate,
    pub until_exclusive: NaiveDate,
    pub tax_rate: TaxRate,
    /// For an exempt line: the legal basis of the exemption, as the service gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_exemption: Option<LocalizedText>,
    /// The line's amount as priced (net under `Exclusive`, gross under `Inclusive`).
    pub amount: Money,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// The totals of one tax rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxSummary {
    pub rate: TaxRate,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// An invoice before it is numbered: what a dry run shows and what issuing writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceDraft {
    pub org: OrgId,
    pub period: BillingPeriod,
    pub currency: Currency,
    pub tax_mode: TaxMode,
    pub lines: Vec<InvoiceLine>,
    pub taxes: Vec<TaxSummary>,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// An invoice's state. `Overdue` is derived (issued or partly paid, past the due date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Issued,
    PartlyPaid,
    Paid,
    Overdue,
    /// Fully credited by credit notes.
    Void,
}

/// An issued invoice: a numbered draft with its dates. Never edited; corrected by credit
/// notes, whose total is tracked in `credited`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invoice {
    pub id: InvoiceId,
    pub number: InvoiceNumber,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    #[serde(flatten)]
    pub draft: InvoiceDraft,
    /// Gross amount credited by credit notes so far.
    pub credited: Money,
    /// Gross amount paid so far.
    pub paid: Money,
    /// The seller and the buyer as they were when it was issued; `None` on invoices issued
    /// before invoices carried them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parties: Option<Parties>,
}

/// What a credit note takes back from one invoice line: its whole gross amount, or part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditRequestLine {
    pub line_no: u16,
    /// The gross amount to credit; `None` credits what is left of the line.
    #[serde(default)]
    pub amount: Option<Decimal>,
}

/// A credit note: a correction of an issued invoice, with its own number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditNote {
    pub id: CreditNoteId,
    pub number: InvoiceNumber,
    pub invoice: InvoiceId,
    pub invoice_number: InvoiceNumber,
    pub org: OrgId,
    pub issued_on: NaiveDate,
    pub reason: String,
    /// Negative of the invoice lines they correct: net, tax and gross per credited line.
    pub lines: Vec<InvoiceLine>,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// Why an invoice could not be composed, or a credit note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoicingError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{field}: {reason}")]
    Conflict { field: String, reason: String },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Everything one customer's close reads, already loaded: the input of [`compose`].
#[derive(Debug, Clone, Copy)]
pub struct CloseInput<'a> {
    pub org: OrgId,
    pub period: BillingPeriod,
    /// The provider's calendar: where the period starts (the usage price in force then).
    pub calendar: crate::calendar::Calendar,
    /// The customer's currency: every line must be in it.
    pub currency: Currency,
    /// The charges recorded for the period — and, at a customer's first close, for the
    /// periods before it (never a later one).
    pub charges: &'a [crate::charges::Charge],
    /// The customer's subscriptions (those not in force in the period add nothing).
    pub subscriptions: &'a [crate::subscriptions::Subscription],
    /// The days the customer's service was suspended (dunning): its subscriptions are not
    /// charged for them.
    pub paused: &'a [crate::subscriptions::Pause],
    /// Usage billed in the period, per meter (late events included).
    pub usage: &'a std::collections::BTreeMap<ServiceCode, crate::usage::MeterUsage>,
    /// The catalog: each service with all its price versions.
    pub catalog: &'a std::collections::BTreeMap<
        ServiceCode,
        (crate::catalog::Service, Vec<crate::catalog::PriceVersion>),
    >,
}

impl InvoiceSeries {
    /// The provider's code, if it keeps the rule (2–8 ASCII capital letters or digits,
    /// starting with a letter).
    pub fn new(code: &str) -> Result<Self, InvoicingError> {
        let ok = (2..=8).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_uppercase())
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok {
            Ok(Self(code.to_owned()))
        } else {
            Err(InvoicingError::Invalid {
                field: "series".into(),
                reason: "2 to 8 capital letters or digits, starting with a letter".into(),
            })
        }
    }

    /// The code or a subdivision's text form (`KPK`, `KPK-07`), as numbers and the store
    /// carry it.
    pub fn parse(text: &str) -> Result<Self, InvoicingError> {
        match text.split_once('-') {
            None => Self::new(text),
            Some((code, index)) => {
                let index = (index.len() == 2 && index.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| index.parse::<u8>().ok())
                    .flatten()
                    .filter(|i| (1..=SeriesCount::MAX).contains(i))
                    .ok_or_else(|| {
                        InvoicingError::invalid("series", "a subdivision is 01 to 99")
                    })?;
                Ok(Self::new(code)?.subdivision(index))
            }
        }
    }

    /// Subdivision `index` (1 to 99) of this series' code: `KPK-07`.
    pub fn subdivision(&self, index: u8) -> Self {
        Self(format!("{}-{index:02}", self.code()))
    }

    /// The provider's code, without a subdivision.
    pub fn code(&self) -> &str {
        self.0.split_once('-').map_or(&self.0, |(code, _)| code)
    }

    /// The subdivision index, if this is one.
    pub fn index(&self) -> Option<u8> {
        self.0.split_once('-').and_then(|(_, i)| i.parse().ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InvoiceSeries {
    type Error = InvoicingError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<InvoiceSeries> for String {
    fn from(value: InvoiceSeries) -> Self {
        value.0
    }
}

impl std::fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            DocumentKind::Invoice => "",
            DocumentKind::CreditNote => "CN-",
        };
        write!(f, "{}-{kind}{}-{:06}", self.series.0, self.year, self.seq)
    }
}

impl std::str::FromStr for InvoiceNumber {
    type Err = InvoicingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvoicingError::Invalid {
            field: "number".into(),
            reason: "expected SERIES-YYYY-NNNNNN or SERIES-CN-YYYY-NNNNNN (SERIES: a code, \
                     or a code and a subdivision, KPK-07)"
                .into(),
        };
        let parts: Vec<&str> = s.split('-').collect();
        let (code, index, kind, year, seq) = match parts.as_slice() {
            [code, year, seq] => (*code, None, DocumentKind::Invoice, *year, *seq),
            [code, "CN", year, seq] => (*code, None, DocumentKind::CreditNote, *year, *seq),
            [code, index, year, seq] => (*code, Some(*index), DocumentKind::Invoice, *year, *seq),
            [code, index, "CN", year, seq] => {
                (*code, Some(*index), DocumentKind::CreditNote, *year, *seq)
            }
            _ => return Err(bad()),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if year.len() != 4 || !digits(year) || seq.len() < 6 || !digits(seq) {
            return Err(bad());
        }
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        let series = match index {
            None => InvoiceSeries::new(code)?,
            Some(index) => InvoiceSeries::parse(&format!("{code}-{index}")).map_err(|_| bad())?,
        };
        Self::new(series, kind, year, seq)
    }
}

impl TryFrom<String> for InvoiceNumber {
    type Error = InvoicingError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<InvoiceNumber> for String {
    fn from(value: InvoiceNumber) -> Self {
        value.to_string()
    }
}

/// The most characters a credit note's reason may have, after trimming.
pub const MAX_REASON_CHARS: usize = 500;

impl InvoicingError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        InvoicingError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        InvoicingError::Conflict {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The path of the field at fault, if one is (e.g. `currency`, `lines[2].amount`).
    pub fn field(&self) -> Option<&str> {
        match self {
            InvoicingError::Invalid { field, .. } | InvoicingError::Conflict { field, .. } => {
                Some(field)
            }
            InvoicingError::Money(_) => None,
        }
    }
}

impl InvoiceNumber {
    /// The years a number may carry: the years of the days billing covers
    /// (see [`crate::period`]), so the text form always has four digits.
    pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=9999;

    /// A number, if `year` is in [`InvoiceNumber::YEARS`] and `seq` is 1 or more.
    pub fn new(
        series: InvoiceSeries,
        kind: DocumentKind,
        year: i32,
        seq: u64,
    ) -> Result<Self, InvoicingError> {
        if !Self::YEARS.contains(&year) {
            return Err(InvoicingError::invalid(
                "number",
                "the year must be from 2000 to 9999",
            ));
        }
        if seq == 0 {
            return Err(InvoicingError::invalid(
                "number",
                "the sequence number must be 1 or more",
            ));
        }
        Ok(Self {
            series,
            kind,
            year,
            seq,
        })
    }

    /// The first number of a sequence: `SERIES-YEAR-000001` (or `SERIES-CN-YEAR-000001`).
    /// The year is checked when the number is used ([`issue`], [`credit_note`] take only the
    /// year of the issue date).
    pub fn first(series: InvoiceSeries, kind: DocumentKind, year: i32) -> Self {
        Self {
            series,
            kind,
            year,
            seq: 1,
        }
    }

    /// The number after this one in the same sequence. (At `u64::MAX`, which no sequence
    /// reaches, it stays there, and the store's uniqueness guard refuses the repeat.)
    pub fn next(&self) -> Self {
        Self {
            seq: self.seq.saturating_add(1),
            ..self.clone()
        }
    }
}

/// Net, tax and gross amounts together: of a line, a document, or what was credited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Amounts {
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

impl Amounts {
    /// Zero in every column, written with the currency's minor units (`0.00`).
    pub fn zero(currency: Currency) -> Self {
        let zero = minor_scale(Money::zero(currency));
        Self {
            net: zero,
            tax: zero,
            gross: zero,
        }
    }

    /// Whether every column is zero.
    pub fn is_zero(&self) -> bool {
        self.net.is_zero() && self.tax.is_zero() && self.gross.is_zero()
    }

    /// Column by column.
    pub fn checked_add(self, other: Amounts) -> Result<Amounts, MoneyError> {
        Ok(Amounts {
            net: self.net.checked_add(other.net)?,
            tax: self.tax.checked_add(other.tax)?,
            gross: self.gross.checked_add(other.gross)?,
        })
    }

    /// Column by column.
    pub fn checked_sub(self, other: Amounts) -> Result<Amounts, MoneyError> {
        Ok(Amounts {
            net: self.net.checked_sub(other.net)?,
            tax: self.tax.checked_sub(other.tax)?,
            gross: self.gross.checked_sub(other.gross)?,
        })
    }

    /// Every column with its sign turned.
    pub fn negated(self) -> Amounts {
        Amounts {
            net: negated(self.net),
            tax: negated(self.tax),
            gross: negated(self.gross),
        }
    }

    /// The column sums of `items`, all in `currency`; zero for none.
    pub fn checked_sum(
        currency: Currency,
        items: impl IntoIterator<Item = Amounts>,
    ) -> Result<Amounts, MoneyError> {
        items
            .into_iter()
            .try_fold(Amounts::zero(currency), Amounts::checked_add)
    }
}

/// The amount written with exactly the currency's minor units (`60` → `60.00`), so documents
/// show amounts alike; the value is unchanged. An amount with more places is left as it is.
pub(crate) fn minor_scale(money: Money) -> Money {
    let minor = money.currency().minor_units();
    let mut amount = money.amount();
    if amount.scale() < minor {
        amount.rescale(minor);
    }
    Money::new(amount, money.currency())
}

/// The amount with its sign turned (exact: a `Decimal` only flips its sign bit).
pub(crate) fn negated(money: Money) -> Money {
    Money::new(-money.amount(), money.currency())
}

impl InvoiceLine {
    pub fn amounts(&self) -> Amounts {
        Amounts {
            net: self.net,
            tax: self.tax,
            gross: self.gross,
        }
    }
}

impl InvoiceDraft {
    /// The draft's totals.
    pub fn amounts(&self) -> Amounts {
        Amounts {
            net: self.net,
            tax: self.tax,
            gross: self.gross,
        }
    }

    /// Whether the draft costs nothing: its net, tax and gross totals are all zero.
    pub fn is_zero(&self) -> bool {
        self.amounts().is_zero()
    }
}

impl CreditNote {
    /// The credit note's totals (negative, or zero).
    pub fn amounts(&self) -> Amounts {
        Amounts {
            net: self.net,
            tax: self.tax,
            gross: self.gross,
        }
    }
}

/// The tax contained in an amount that includes tax at `rate`: `gross × rate / (100 + rate)`,
/// rounded once to minor units, half away from zero (the [`TaxMode::Inclusive`] rule); zero
/// when exempt. The gross amount is rounded to minor units first (a no-op for a line total).
pub fn tax_included(gross: &Money, rate: TaxRate) -> Result<Money, MoneyError> {
    let gross = gross.round_to_minor();
    let Some(percent) = rate.percent() else {
        return Ok(Money::zero(gross.currency()));
    };
    // The exact value is G·p / (100 + p) with G and p of at most 2 decimal places: when it is
    // not exactly half a minor unit from a rounding boundary, it is at least 1 / (200 ·
    // (10000 + 100p)) away from it, far more than `Decimal`'s 28 digits can lose, so dividing
    // and then rounding is exact.
    let tax = gross
        .amount()
        .checked_mul(percent)
        .and_then(|product| {
            Decimal::ONE_HUNDRED
                .checked_add(percent)
                .and_then(|base| product.checked_div(base))
        })
        .ok_or(MoneyError::Overflow)?;
    Ok(Money::new(tax, gross.currency()).round_to_minor())
}

/// A line's net, tax and gross from its priced amount under `mode` (see the module docs):
/// `Exclusive` — the amount is net and the tax is [`TaxRate::tax_on`] it; `Inclusive` — the
/// amount is gross and the tax is [`tax_included`] in it. Either way `net + tax = gross`.
///
/// The amounts are rounded to minor units and written with them (`100` → `100.00`).
pub fn line_amounts(amount: Money, rate: TaxRate, mode: TaxMode) -> Result<Amounts, MoneyError> {
    let amount = minor_scale(amount.round_to_minor());
    let (net, tax, gross) = match mode {
        TaxMode::Exclusive => {
            let tax = minor_scale(rate.tax_on(&amount)?);
            (amount, tax, amount.checked_add(tax)?)
        }
        TaxMode::Inclusive => {
            let tax = minor_scale(tax_included(&amount, rate)?);
            (amount.checked_sub(tax)?, tax, amount)
        }
    };
    Ok(Amounts { net, tax, gross })
}

/// The totals of `lines` per tax rate: exempt first, then by increasing percentage; each the
/// sum of its lines (rates equal in value, `20` and `20.00`, are one rate).
pub fn tax_summaries(
    currency: Currency,
    lines: &[InvoiceLine],
) -> Result<Vec<TaxSummary>, MoneyError> {
    let mut by_rate: std::collections::BTreeMap<Option<Decimal>, TaxSummary> =
        std::collections::BTreeMap::new();
    for line in lines {
        let summary = by_rate.entry(line.tax_rate.percent()).or_insert_with(|| {
            let zero = Amounts::zero(currency);
            TaxSummary {
                rate: line.tax_rate,
                net: zero.net,
                tax: zero.tax,
                gross: zero.gross,
            }
        });
        summary.net = summary.net.checked_add(line.net)?;
        summary.tax = summary.tax.checked_add(line.tax)?;
        summary.gross = summary.gross.checked_add(line.gross)?;
    }
    Ok(by_rate.into_values().collect())
}

/// Checks that `number` is of `kind` and of the year of `issued_on`, a day billing covers.
fn check_number(
    number: &InvoiceNumber,
    kind: DocumentKind,
    issued_on: NaiveDate,
) -> Result<(), InvoicingError> {
    if BillingPeriod::try_of(issued_on, PeriodLength::Month).is_err() {
        return Err(InvoicingError::invalid(
            "issued_on",
            "must be a day from 2000-01-01 to 9999-12-31",
        ));
    }
    if number.kind != kind {
        let expected = match kind {
            DocumentKind::Invoice => "an invoice number (SERIES-YYYY-NNNNNN)",
            DocumentKind::CreditNote => "a credit note number (SERIES-CN-YYYY-NNNNNN)",
        };
        return Err(InvoicingError::invalid(
            "number",
            format!("{number} is not {expected}"),
        ));
    }
    if number.year != chrono::Datelike::year(&issued_on) {
        return Err(InvoicingError::invalid(
            "number",
            format!(
                "{number} is not of {}, the year of issue",
                issued_on.format("%Y")
            ),
        ));
    }
    Ok(())
}

/// Issues a draft: gives it its number, issue date and due date (`issued_on` plus
/// `payment_terms_days`), with nothing credited or paid yet.
///
/// Refused (`number`) unless the number is an invoice number of the year of `issued_on`;
/// `issued_on` must be a day billing covers, and the due date too (`payment_terms_days`).
pub fn issue(
    draft: InvoiceDraft,
    id: InvoiceId,
    number: InvoiceNumber,
    issued_on: NaiveDate,
    payment_terms_days: u16,
) -> Result<Invoice, InvoicingError> {
    check_number(&number, DocumentKind::Invoice, issued_on)?;
    let due_on = issued_on
        .checked_add_days(chrono::Days::new(u64::from(payment_terms_days)))
        .filter(|due| BillingPeriod::try_of(*due, PeriodLength::Month).is_ok())
        .ok_or_else(|| {
            InvoicingError::invalid("payment_terms_days", "the due date is past 9999-12-31")
        })?;
    let zero = minor_scale(Money::zero(draft.currency));
    Ok(Invoice {
        id,
        number,
        issued_on,
        due_on,
        draft,
        credited: zero,
        paid: zero,
        parties: None,
    })
}

impl Invoice {
    /// What is left to pay: gross − credited − paid, never below zero (in the invoice's
    /// currency).
    pub fn open_amount(&self) -> Money {
        let open = self
            .draft
            .gross
            .amount()
            .checked_sub(self.credited.amount())
            .and_then(|rest| rest.checked_sub(self.paid.amount()))
            // Out of range only for amounts no invoice carries; nothing is then called open.
            .unwrap_or(Decimal::ZERO);
        Money::new(open.max(Decimal::ZERO), self.draft.currency)
    }

    /// The invoice's status on `today`: see "Status" in the module docs.
    pub fn status_on(&self, today: NaiveDate) -> InvoiceStatus {
        let gross = self.draft.gross.amount();
        if gross > Decimal::ZERO && self.credited.amount() == gross {
            InvoiceStatus::Void
        } else if self.open_amount().is_zero() {
            InvoiceStatus::Paid
        } else if today > self.due_on {
            InvoiceStatus::Overdue
        } else if self.paid.amount() > Decimal::ZERO {
            InvoiceStatus::PartlyPaid
        } else {
            InvoiceStatus::Issued
        }
    }

    /// The line numbered `no`, if there is one.
    pub fn line(&self, no: u16) -> Option<&InvoiceLine> {
        self.draft.lines.iter().find(|line| line.no == no)
    }

    /// Counts a credit note of this invoice into `credited` (what a store does when it
    /// writes the note). Refused (`invoice`) if the note corrects another invoice.
    pub fn record_credit_note(&mut self, note: &CreditNote) -> Result<(), InvoicingError> {
        if note.invoice != self.id {
            return Err(InvoicingError::invalid(
                "invoice",
                format!("credit note {} corrects another invoice", note.number),
            ));
        }
        self.credited = self.credited.checked_add(negated(note.gross))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
