//! The views of billing documents: invoices, their lines and taxes, drafts of the close's
//! preview, credit notes. Amounts are decimal strings in the document's currency's minor
//! units (negative on a credit note).

use chrono::NaiveDate;
use kopek_domain::catalog::{LocalizedText, ServiceCode, UnitOfMeasure};
use kopek_domain::invoicing::{
    CreditNote, Invoice, InvoiceDraft, InvoiceLine, InvoiceStatus, LineSource, TaxMode, TaxSummary,
};
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::QuoteLine;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

/// A quantity or a unit price as a plain decimal string.
fn decimal(value: Decimal) -> String {
    value.normalize().to_string()
}

/// One line of an invoice or a credit note. Amounts are decimal strings in the document's
/// currency (negative on a credit note).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLineView {
    /// 1-based; a credit note's line has the number of the invoice line it corrects.
    no: u16,
    /// What the line bills: `{"type": "subscription", …}`, `{"type": "charge", "charge": …}`
    /// or `{"type": "usage", "events": …, "late_events": …}`.
    #[schema(value_type = Object)]
    source: LineSource,
    #[schema(value_type = String)]
    service: ServiceCode,
    #[schema(value_type = Object)]
    description: LocalizedText,
    quantity: String,
    #[schema(value_type = String)]
    unit: UnitOfMeasure,
    /// The price of one unit, when one price applies to the whole quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_price: Option<String>,
    /// The priced steps of a tiered or usage line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    tiers: Vec<QuoteLine>,
    price_version: u32,
    /// The days the line covers.
    from: NaiveDate,
    until_exclusive: NaiveDate,
    /// `"exempt"` or the percentage.
    tax_rate: String,
    /// As priced (net when prices exclude tax, gross when they include it).
    amount: String,
    net: String,
    tax: String,
    gross: String,
}

impl From<&InvoiceLine> for InvoiceLineView {
    fn from(l: &InvoiceLine) -> Self {
        Self {
            no: l.no,
            source: l.source.clone(),
            service: l.service.clone(),
            description: l.description.clone(),
            quantity: decimal(l.quantity),
            unit: l.unit,
            unit_price: l.unit_price.map(decimal),
            tiers: l.tiers.clone(),
            price_version: l.price_version,
            from: l.from,
            until_exclusive: l.until_exclusive,
            tax_rate: l.tax_rate.to_string(),
            amount: l.amount.amount_text(),
            net: l.net.amount_text(),
            tax: l.tax.amount_text(),
            gross: l.gross.amount_text(),
        }
    }
}

/// The totals of one tax rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxSummaryView {
    /// `"exempt"` or the percentage.
    rate: String,
    net: String,
    tax: String,
    gross: String,
}

impl From<&TaxSummary> for TaxSummaryView {
    fn from(t: &TaxSummary) -> Self {
        Self {
            rate: t.rate.to_string(),
            net: t.net.amount_text(),
            tax: t.tax.amount_text(),
            gross: t.gross.amount_text(),
        }
    }
}

/// An invoice the close would issue: not numbered, not written.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    org_id: String,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// Always `draft`.
    #[schema(value_type = String)]
    status: InvoiceStatus,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// `exclusive` (prices are net) or `inclusive` (prices include tax).
    #[schema(value_type = String)]
    tax_mode: TaxMode,
    lines: Vec<InvoiceLineView>,
    /// Per tax rate: exempt first, then by increasing rate.
    taxes: Vec<TaxSummaryView>,
    net: String,
    tax: String,
    gross: String,
}

impl From<&InvoiceDraft> for DraftView {
    fn from(d: &InvoiceDraft) -> Self {
        Self {
            org_id: d.org.to_string(),
            period: d.period,
            status: InvoiceStatus::Draft,
            currency: d.currency,
            tax_mode: d.tax_mode,
            lines: d.lines.iter().map(InvoiceLineView::from).collect(),
            taxes: d.taxes.iter().map(TaxSummaryView::from).collect(),
            net: d.net.amount_text(),
            tax: d.tax.amount_text(),
            gross: d.gross.amount_text(),
        }
    }
}

/// An issued invoice, without its lines (as listed).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceSummaryView {
    id: String,
    #[schema(example = "KPK-2026-000042")]
    number: String,
    org_id: String,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// Today: `issued`, `partly_paid`, `paid`, `overdue` or `void` (credited in full).
    #[schema(value_type = String)]
    status: InvoiceStatus,
    issued_on: NaiveDate,
    due_on: NaiveDate,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    net: String,
    tax: String,
    gross: String,
    /// Credited by credit notes so far (gross).
    credited: String,
    paid: String,
    /// Left to pay: gross − credited − paid, never below zero.
    open: String,
}

impl InvoiceSummaryView {
    pub(crate) fn of(invoice: &Invoice, today: NaiveDate) -> Self {
        let d = &invoice.draft;
        Self {
            id: invoice.id.to_string(),
            number: invoice.number.to_string(),
            org_id: d.org.to_string(),
            period: d.period,
            status: invoice.status_on(today),
            issued_on: invoice.issued_on,
            due_on: invoice.due_on,
            currency: d.currency,
            net: d.net.amount_text(),
            tax: d.tax.amount_text(),
            gross: d.gross.amount_text(),
            credited: invoice.credited.amount_text(),
            paid: invoice.paid.amount_text(),
            open: invoice.open_amount().amount_text(),
        }
    }
}

/// A credit note of an invoice, in short.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditNoteRefView {
    id: String,
    #[schema(example = "KPK-CN-2026-000007")]
    number: String,
    issued_on: NaiveDate,
    /// Negative: what it took back.
    gross: String,
}

/// An issued invoice with its lines, taxes and credit notes.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    #[serde(flatten)]
    summary: InvoiceSummaryView,
    #[schema(value_type = String)]
    tax_mode: TaxMode,
    lines: Vec<InvoiceLineView>,
    taxes: Vec<TaxSummaryView>,
    /// Oldest first.
    credit_notes: Vec<CreditNoteRefView>,
}

impl InvoiceView {
    pub(crate) fn of(invoice: &Invoice, notes: &[CreditNote], today: NaiveDate) -> Self {
        Self {
            summary: InvoiceSummaryView::of(invoice, today),
            tax_mode: invoice.draft.tax_mode,
            lines: invoice
                .draft
                .lines
                .iter()
                .map(InvoiceLineView::from)
                .collect(),
            taxes: invoice
                .draft
                .taxes
                .iter()
                .map(TaxSummaryView::from)
                .collect(),
            credit_notes: notes
                .iter()
                .map(|n| CreditNoteRefView {
                    id: n.id.to_string(),
                    number: n.number.to_string(),
                    issued_on: n.issued_on,
                    gross: n.gross.amount_text(),
                })
                .collect(),
        }
    }
}

/// A credit note: what it takes back from which lines of one invoice (negative amounts).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditNoteView {
    id: String,
    #[schema(example = "KPK-CN-2026-000007")]
    number: String,
    invoice_id: String,
    invoice_number: String,
    org_id: String,
    issued_on: NaiveDate,
    reason: String,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    lines: Vec<InvoiceLineView>,
    net: String,
    tax: String,
    gross: String,
}

impl From<&CreditNote> for CreditNoteView {
    fn from(n: &CreditNote) -> Self {
        Self {
            id: n.id.to_string(),
            number: n.number.to_string(),
            invoice_id: n.invoice.to_string(),
            invoice_number: n.invoice_number.to_string(),
            org_id: n.org.to_string(),
            issued_on: n.issued_on,
            reason: n.reason.clone(),
            currency: n.gross.currency(),
            lines: n.lines.iter().map(InvoiceLineView::from).collect(),
            net: n.net.amount_text(),
            tax: n.tax.amount_text(),
            gross: n.gross.amount_text(),
        }
    }
}
