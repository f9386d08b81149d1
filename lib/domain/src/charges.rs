//! What is billed, and what happened: charges and the domain events of the outbox.
//!
//! A [`Charge`] is an amount owed for one billing period: a done work order at its order's
//! price version and the actual quantity, and later subscription fees and metered usage.
//! Charges are written once, in the same transaction as the change that causes them, so a
//! charge is never lost and never counted twice; invoices (period close) sum them.
//!
//! A [`DomainEvent`] records a change of state (an order placed, a work order done, a
//! subscription changed) in the outbox, in the same transaction as the change itself. The
//! history of an order is its events; a publisher later sends them on to a CRM.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{LocalizedText, ServiceCode, TaxRate, UnitOfMeasure};
use crate::ids::{
    BatchId, ChargeId, CreditNoteId, DocumentId, EventId, InvoiceId, OrderId, OrgId, PackageId,
    PaymentId, SubscriptionId, WorkOrderId,
};
use crate::money::Money;
use crate::orders::UserOrKey;
use crate::period::BillingPeriod;
use crate::pricing::Quantity;

/// What a charge is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChargeSource {
    WorkOrder {
        order: OrderId,
        line_no: u16,
        work_order: WorkOrderId,
    },
    /// A late fee dunning charged on overdue invoices ([`crate::dunning`]), the oldest due
    /// on `oldest_due`.
    LateFee { oldest_due: NaiveDate },
}

/// An amount owed for a billing period, before tax (tax is computed on the invoice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charge {
    pub id: ChargeId,
    pub org: OrgId,
    pub period: BillingPeriod,
    pub source: ChargeSource,
    pub service: ServiceCode,
    pub description: LocalizedText,
    pub quantity: Quantity,
    pub unit: UnitOfMeasure,
    pub price_version: u32,
    pub tax_rate: TaxRate,
    /// Rounded to minor units under the rounding policy.
    pub amount: Money,
    /// The day the service was rendered (the act's date).
    pub rendered_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// What happened, with what the history and a CRM need to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    OrderPlaced {
        order: OrderId,
        lines: u16,
        expected_total: Money,
    },
    OrderLineCancelled {
        order: OrderId,
        line_no: u16,
        work_order: WorkOrderId,
    },
    WorkOrderDone {
        order: OrderId,
        line_no: u16,
        work_order: WorkOrderId,
        batch: BatchId,
        actual_quantity: Quantity,
        charge: ChargeId,
        amount: Money,
    },
    WorkOrderFailed {
        order: OrderId,
        line_no: u16,
        work_order: WorkOrderId,
        batch: BatchId,
        reason: String,
    },
    SubscriptionStarted {
        subscription: SubscriptionId,
        service: ServiceCode,
        quantity: Quantity,
        from: NaiveDate,
    },
    SubscriptionChanged {
        subscription: SubscriptionId,
        service: ServiceCode,
        quantity: Quantity,
        from: NaiveDate,
    },
    SubscriptionCancelled {
        subscription: SubscriptionId,
        ends_on: NaiveDate,
    },
    /// An invoice was issued by the period close (documents are rendered from it).
    InvoiceIssued {
        invoice: InvoiceId,
        number: String,
        period: BillingPeriod,
        gross: Money,
        due_on: NaiveDate,
    },
    /// A credit note corrected an issued invoice.
    CreditNoteIssued {
        credit_note: CreditNoteId,
        number: String,
        invoice: InvoiceId,
        gross: Money,
    },
    /// A payment was recorded: what it settled and what it left as credit.
    PaymentReceived {
        payment: PaymentId,
        reference: String,
        amount: Money,
        settled: Vec<InvoiceId>,
        to_credit: Money,
    },
    /// A payment taken back: the invoices it settled reopened, the credit it left withdrawn.
    PaymentReversed {
        payment: PaymentId,
        reference: String,
        amount: Money,
        reason: String,
        reopened: Vec<InvoiceId>,
    },
    /// Money sent back to the customer from its credit.
    RefundSent {
        refund: crate::ids::RefundId,
        reference: String,
        amount: Money,
    },
    /// A usage event of the customer's was refused and kept for the back office (once per
    /// distinct event): why, and which field. Refusals that name no known customer (not JSON,
    /// an unknown customer) have no customer to tell; they are only listed.
    UsageRejected {
        rejected: String,
        reason: crate::usage::RejectReason,
        field: String,
        detail: String,
        meter: Option<String>,
        event_id: Option<String>,
    },
    /// An organisation registered itself, or a CRM created it by its reference.
    OrganisationCreated { state: OrganisationState },
    /// A user was invited into an organisation (a colleague, by its users or staff).
    UserAdded {
        user: crate::ids::UserId,
        name: String,
        email: String,
        role: crate::accounts::Role,
    },
    /// A CRM's record changed these fields of an organisation.
    OrganisationUpdated {
        changed: Vec<String>,
        state: OrganisationState,
    },
    /// An invoice is past its due date with something left to pay (told once per dunning
    /// episode).
    InvoiceOverdue {
        invoice: InvoiceId,
        number: String,
        open: Money,
        due_on: NaiveDate,
    },
    /// A payment left nothing open on an invoice: it is paid in full.
    InvoicePaid {
        invoice: InvoiceId,
        number: String,
        gross: Money,
        payment: PaymentId,
    },
    /// A payment read from a bank statement was matched to the customer and recorded: what
    /// it settled, and the line it was read from.
    PaymentMatched {
        payment: PaymentId,
        reference: String,
        amount: Money,
        settled: Vec<InvoiceId>,
    },
    /// The customer's period is closed: invoiced (`invoice`), or with nothing to bill.
    PeriodClosed {
        period: BillingPeriod,
        invoice: Option<InvoiceId>,
    },
    /// A closing document was signed with the provider's key (a manager's signing).
    DocumentSigned {
        document: DocumentId,
        doc_type: crate::documents::DocumentType,
        number: String,
        period: BillingPeriod,
    },
    /// The period's signed documents went to the customer as one package, by mail.
    DocumentSent {
        package: PackageId,
        period: BillingPeriod,
        documents: Vec<DocumentId>,
    },
    /// The customer downloaded its package for the first time.
    DocumentViewed {
        package: PackageId,
        period: BillingPeriod,
    },
    /// The customer accepted its package.
    DocumentAccepted {
        package: PackageId,
        period: BillingPeriod,
    },
    /// The customer disputed its package, saying why.
    DocumentDisputed {
        package: PackageId,
        period: BillingPeriod,
        reason: String,
    },
    /// Dunning reached a step of its policy for the customer (the last one it took today):
    /// a reminder, a notice, orders blocked, service suspended, handed to people.
    DunningStepReached {
        /// The step's index in the policy.
        step: usize,
        kind: crate::dunning::StepKind,
        /// What is overdue (zero before the due date).
        overdue: Money,
        on: NaiveDate,
    },
    /// Dunning suspended the customer's service: its subscriptions stop accruing and its
    /// work orders are held back.
    CustomerSuspended { overdue: Money, on: NaiveDate },
    /// The customer paid what was overdue: what dunning blocked and suspended is lifted.
    CustomerRestored { on: NaiveDate },
}

/// An organisation as its events tell a CRM of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationState {
    pub legal_name: String,
    pub tax_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpp: Option<String>,
    pub billing_email: String,
    pub billing_address: String,
    pub currency: crate::money::Currency,
    pub language: crate::accounts::DocumentLanguage,
    /// The customer's own payment terms; absent: the provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_terms_days: Option<u16>,
    pub status: crate::accounts::OrgStatus,
    /// The CRM's reference, where it created or updated the organisation by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
}

impl OrganisationState {
    pub fn of(org: &crate::accounts::Organisation, external_ref: Option<&str>) -> Self {
        Self {
            legal_name: org.legal_name.to_string(),
            tax_id: org.tax_id.as_str().to_owned(),
            kpp: org.kpp.as_ref().map(|k| k.as_str().to_owned()),
            billing_email: org.billing_email.as_str().to_owned(),
            billing_address: org.billing_address.as_str().to_owned(),
            currency: org.currency,
            language: org.language,
            payment_terms_days: org.payment_terms.map(|t| t.get()),
            status: org.status,
            external_ref: external_ref.map(str::to_owned),
        }
    }
}

impl EventKind {
    /// The id of the thing whose history this event belongs to (an order, a subscription).
    pub fn subject(&self) -> String {
        match self {
            EventKind::OrderPlaced { order, .. }
            | EventKind::OrderLineCancelled { order, .. }
            | EventKind::WorkOrderDone { order, .. }
            | EventKind::WorkOrderFailed { order, .. } => order.to_string(),
            EventKind::SubscriptionStarted { subscription, .. }
            | EventKind::SubscriptionChanged { subscription, .. }
            | EventKind::SubscriptionCancelled { subscription, .. } => subscription.to_string(),
            EventKind::InvoiceIssued { invoice, .. }
            | EventKind::CreditNoteIssued { invoice, .. } => invoice.to_string(),
            EventKind::PaymentReceived { payment, .. }
            | EventKind::PaymentReversed { payment, .. } => payment.to_string(),
            EventKind::RefundSent { refund, .. } => refund.to_string(),
            EventKind::InvoicePaid { invoice, .. } | EventKind::InvoiceOverdue { invoice, .. } => {
                invoice.to_string()
            }
            EventKind::DocumentSigned { document, .. } => document.to_string(),
            EventKind::PeriodClosed { period, .. } => format!("CLOSE#{period}"),
            EventKind::DocumentSent { package, .. }
            | EventKind::DocumentViewed { package, .. }
            | EventKind::DocumentAccepted { package, .. }
            | EventKind::DocumentDisputed { package, .. } => package.to_string(),
            EventKind::PaymentMatched { payment, .. } => payment.to_string(),
            EventKind::UsageRejected { rejected, .. } => rejected.clone(),
            // An organisation's events are its own history: their subject is the org item's
            // partition's owner, named by the event's `org`.
            EventKind::OrganisationCreated { .. } | EventKind::OrganisationUpdated { .. } => {
                "ORG".to_owned()
            }
            EventKind::UserAdded { user, .. } => user.to_string(),
            // A customer's dunning is one history of its own.
            EventKind::DunningStepReached { .. }
            | EventKind::CustomerSuspended { .. }
            | EventKind::CustomerRestored { .. } => "DUNNING".to_owned(),
        }
    }
}

/// One entry of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainEvent {
    pub id: EventId,
    pub org: OrgId,
    pub at: DateTime<Utc>,
    /// Who caused it: a customer's user or key, or an engineer.
    pub actor: UserOrKey,
    pub kind: EventKind,
}

impl DomainEvent {
    /// `organisation.created`: `org` registered itself (`by` its first user) or a CRM
    /// created it by `external_ref`.
    pub fn organisation_created(
        org: &crate::accounts::Organisation,
        by: UserOrKey,
        at: DateTime<Utc>,
        external_ref: Option<&str>,
    ) -> Self {
        Self::new(
            org.id,
            by,
            at,
            EventKind::OrganisationCreated {
                state: OrganisationState::of(org, external_ref),
            },
        )
    }

    pub fn new(org: OrgId, actor: UserOrKey, at: DateTime<Utc>, kind: EventKind) -> Self {
        Self {
            id: EventId::new(),
            org,
            at,
            actor,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::money::Currency;
    use rust_decimal_macros::dec;

    #[test]
    fn an_event_names_its_subject_and_round_trips() {
        let order = OrderId::new();
        let event = DomainEvent::new(
            OrgId::new(),
            UserOrKey::User(UserId::new()),
            Utc::now(),
            EventKind::OrderPlaced {
                order,
                lines: 2,
                expected_total: Money::new(dec!(157.50), Currency::RUB),
            },
        );
        assert_eq!(event.kind.subject(), order.to_string());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"]["type"], "order_placed");
        assert_eq!(json["kind"]["expected_total"]["amount"], "157.50");
        let back: DomainEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
