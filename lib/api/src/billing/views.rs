//! The views of billing documents: invoices, their lines and taxes, drafts of the close's
//! preview, credit notes. Every amount is an [`Amount`] in the document's `currency`
//! (negative on a credit note); unit prices and priced steps are [`UnitPrice`]s.

use chrono::NaiveDate;
use kopek_domain::catalog::{LocalizedText, ServiceCode, UnitOfMeasure};
use kopek_domain::invoicing::{
    CreditNote, Invoice, InvoiceDraft, InvoiceLine, InvoiceStatus, LineSource, TaxMode, TaxSummary,
};
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_http::wire::{Amount, UnitPrice};
use kopek_services::invoices::InvoiceWithNotes;

use super::settings::RequisitesDoc;
use kopek_domain::accounts::DocumentLanguage;
use kopek_domain::invoicing::RequisitesForm;
use serde::Serialize;
use utoipa::ToSchema;

use crate::money::QuoteLineView;

/// One line of an invoice or a credit note, in the document's currency (negative on a credit
/// note).
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
    /// A decimal string.
    quantity: String,
    #[schema(value_type = String)]
    unit: UnitOfMeasure,
    /// The unit's code in the All-Russian Classifier of Units of Measure (ОКЕИ), as Russian
    /// documents print it.
    unit_okei_code: u16,
    /// The price of one unit, when one price applies to the whole quantity: net under
    /// `tax_mode` `exclusive`, with VAT under `inclusive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_price: Option<UnitPrice>,
    /// The priced steps of a tiered or usage line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tiers: Vec<QuoteLineView>,
    price_version: u32,
    /// The days the line covers.
    from: NaiveDate,
    until_exclusive: NaiveDate,
    /// `"exempt"` or the percentage.
    tax_rate: String,
    /// For an exempt line: the legal basis of the exemption (`{"ru": "…", "en": "…"}`), as
    /// the documents print it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    tax_exemption: Option<LocalizedText>,
    /// The line as priced: equal to `net` under `tax_mode` `exclusive` (prices without VAT),
    /// to `gross` under `inclusive`.
    priced: Amount,
    /// Without VAT.
    net: Amount,
    tax: Amount,
    /// With VAT.
    gross: Amount,
}

impl From<&InvoiceLine> for InvoiceLineView {
    fn from(l: &InvoiceLine) -> Self {
        let currency = l.net.currency();
        Self {
            no: l.no,
            source: l.source.clone(),
            service: l.service.clone(),
            description: l.description.clone(),
            quantity: l.quantity.normalize().to_string(),
            unit: l.unit,
            unit_okei_code: l.unit.okei_code(),
            unit_price: l.unit_price.map(|p| UnitPrice::new(p, currency)),
            tiers: l
                .tiers
                .iter()
                .map(|t| QuoteLineView::of(t, currency))
                .collect(),
            price_version: l.price_version,
            from: l.from,
            until_exclusive: l.until_exclusive,
            tax_rate: l.tax_rate.to_string(),
            tax_exemption: l.tax_exemption.clone(),
            priced: l.amount.into(),
            net: l.net.into(),
            tax: l.tax.into(),
            gross: l.gross.into(),
        }
    }
}

/// The totals of one tax rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxSummaryView {
    /// `"exempt"` or the percentage.
    rate: String,
    net: Amount,
    tax: Amount,
    gross: Amount,
}

impl From<&TaxSummary> for TaxSummaryView {
    fn from(t: &TaxSummary) -> Self {
        Self {
            rate: t.rate.to_string(),
            net: t.net.into(),
            tax: t.tax.into(),
            gross: t.gross.into(),
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
    net: Amount,
    tax: Amount,
    gross: Amount,
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
            net: d.net.into(),
            tax: d.tax.into(),
            gross: d.gross.into(),
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
    /// The customer's legal name.
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<String>,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// Today: `issued`, `partly_paid`, `paid`, `overdue` or `void` (credited in full).
    #[schema(value_type = String)]
    status: InvoiceStatus,
    issued_on: NaiveDate,
    due_on: NaiveDate,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    net: Amount,
    tax: Amount,
    gross: Amount,
    /// Credited by credit notes so far (gross).
    credited: Amount,
    paid: Amount,
    /// Left to pay: gross − credited − paid, never below zero.
    open: Amount,
}

impl InvoiceSummaryView {
    pub(crate) fn of(invoice: &Invoice, customer: Option<String>, today: NaiveDate) -> Self {
        let d = &invoice.draft;
        Self {
            id: invoice.id.to_string(),
            number: invoice.number.to_string(),
            org_id: d.org.to_string(),
            customer,
            period: d.period,
            status: invoice.status_on(today),
            issued_on: invoice.issued_on,
            due_on: invoice.due_on,
            currency: d.currency,
            net: d.net.into(),
            tax: d.tax.into(),
            gross: d.gross.into(),
            credited: invoice.credited.into(),
            paid: invoice.paid.into(),
            open: invoice.open_amount().into(),
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
    gross: Amount,
}

/// The customer as an invoice names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BuyerView {
    legal_name: String,
    /// INN or VAT number.
    tax_id: String,
    /// A Russian legal entity's KPP.
    kpp: Option<String>,
    address: String,
    /// The contract the invoice is issued under.
    contract: Option<crate::accounts::ContractView>,
    /// `ru` or `en`: the language of its documents.
    #[schema(value_type = String, example = "ru")]
    language: DocumentLanguage,
}

/// An issued invoice with its lines, taxes and credit notes.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    #[serde(flatten)]
    summary: InvoiceSummaryView,
    /// The provider as it was when the invoice was issued: legal name, tax ids, address,
    /// bank account and signatories. `null` if its requisites were not set then (or on an
    /// invoice issued before invoices carried them).
    #[schema(value_type = Option<RequisitesDoc>)]
    seller: Option<RequisitesForm>,
    /// The customer as it was when the invoice was issued (`null` on invoices issued before
    /// invoices carried it).
    buyer: Option<BuyerView>,
    #[schema(value_type = String)]
    tax_mode: TaxMode,
    lines: Vec<InvoiceLineView>,
    taxes: Vec<TaxSummaryView>,
    /// Oldest first.
    credit_notes: Vec<CreditNoteRefView>,
}

impl InvoiceView {
    pub(crate) fn of(found: &InvoiceWithNotes, today: NaiveDate) -> Self {
        let (invoice, notes) = (&found.invoice, &found.credit_notes);
        Self {
            summary: InvoiceSummaryView::of(invoice, found.customer.clone(), today),
            seller: invoice
                .parties
                .as_ref()
                .and_then(|p| p.seller.as_ref())
                .map(|s| s.form().clone()),
            buyer: invoice.parties.as_ref().map(|p| BuyerView {
                legal_name: p.buyer.legal_name.to_string(),
                tax_id: p.buyer.tax_id.to_string(),
                kpp: p.buyer.kpp.as_ref().map(ToString::to_string),
                address: p.buyer.address.to_string(),
                contract: p
                    .buyer
                    .contract
                    .as_ref()
                    .map(|c| crate::accounts::ContractView {
                        number: c.number.clone(),
                        signed_on: c.signed_on,
                    }),
                language: p.buyer.language,
            }),
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
                    gross: n.gross.into(),
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
    net: Amount,
    tax: Amount,
    gross: Amount,
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
            net: n.net.into(),
            tax: n.tax.into(),
            gross: n.gross.into(),
        }
    }
}
