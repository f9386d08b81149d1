//! A61–A63, A81–A82: a customer's credit (prepaid or overpaid, not yet drawn down), the
//! payments it receives, their reversals and the refunds sent back from its credit.

use aws_sdk_dynamodb::types::TransactWriteItem;
use kopek_domain::charges::DomainEvent;
use kopek_domain::ids::{OrgId, PaymentId};
use kopek_domain::ledger::Entry;
use kopek_domain::money::{Currency, Money};
use kopek_domain::payments::{Payment, PaymentReference, Refund};
use serde::{Deserialize, Serialize};

use super::invoices::{StoredInvoice, invoice_change};
use super::ledger::ledger_put;
use crate::dynamo::bank::LineWrite;
use crate::dynamo::expr::{ABSENT, Change, SAME_REV, attr, failed_conditions, n, put};
use crate::dynamo::orders::put_event;
use crate::dynamo::{Store, StoreError, keys, to_item};

/// What recording a payment did. Nothing is written unless `Recorded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    Recorded,
    /// The customer has a payment of this reference already.
    AlreadyRecorded,
    /// An invoice or the credit changed since they were read: read them again.
    Changed,
    /// The statement line has its outcome already, or another line claimed its bank
    /// payment ([`LineWrite`]).
    LineTaken,
}

/// A customer's credit (A61) as read: `rev` 0 when it never had any (no item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCredit {
    pub amount: Money,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CreditItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    credit: Money,
    rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PaymentItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    /// `PAYMENT#{pay}`: a payment found by id (A63).
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    /// A payment recorded by hand: `HANDPAID#{org}#{received on}` / `{pay}`, so that a
    /// statement line finds it by its day (A63).
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    payment: Payment,
}

impl PaymentItem {
    fn new(payment: &Payment) -> Self {
        Self {
            pk: keys::org(&payment.org),
            sk: keys::payment(&payment.reference),
            gsi1pk: Some(keys::payment_id(&payment.id)),
            gsi1sk: Some("PAYMENT".into()),
            gsi2pk: payment
                .source
                .is_none()
                .then(|| keys::hand_paid(&payment.org, payment.received_on)),
            gsi2sk: payment.source.is_none().then(|| payment.id.to_string()),
            kind: "payment".into(),
            payment: payment.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RefundItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    refund: Refund,
}

/// What A62 writes in one transaction: a payment, settled against what was read.
#[derive(Debug, Clone, Copy)]
pub struct RecordPayment<'a> {
    pub payment: &'a Payment,
    /// Each invoice it settles, as read, with its new `paid`.
    pub settled: &'a [(&'a StoredInvoice, Money)],
    /// The customer's credit as read, and what it becomes.
    pub credit: &'a StoredCredit,
    pub credit_after: Money,
    pub entry: &'a Entry,
    /// Its `payment_received` event (the outbox).
    pub event: &'a DomainEvent,
    /// Its other events: `invoice.paid` for each invoice it paid off, `payment.matched` for
    /// a statement's payment.
    pub also: &'a [DomainEvent],
    /// The statement line it is read from, written with it (A78, A79).
    pub statement: Option<LineWrite<'a>>,
}

/// The credit moves from what was read to `after` — created at revision 1, or updated if it
/// is still at the revision read. It is written even when the amount stays, so its revision
/// moves with every invoice issued and every payment recorded: of two that read the same
/// credit, the second is cancelled and reads again (an invoice issued meanwhile is then
/// settled by the payment, a payment recorded meanwhile drawn down by the invoice).
pub(super) fn credit_action(
    store: &Store,
    org: &OrgId,
    read: &StoredCredit,
    after: Money,
) -> Result<TransactWriteItem, StoreError> {
    let (pk, sk) = (keys::org(org), keys::CREDIT_BALANCE);
    let rev = i64::try_from(read.rev)
        .map_err(|_| StoreError::Corrupt(format!("credit of {org}: rev")))?;
    if read.rev == 0 {
        let item = to_item(&CreditItem {
            pk,
            sk: sk.to_owned(),
            kind: "credit".into(),
            credit: after,
            rev: 1,
        })?;
        return put(store, item, Some(ABSENT));
    }
    Change::new(pk, sk)
        .set("credit = :c")
        .add("rev :one")
        .when(SAME_REV)
        .value(":c", attr(&after)?)
        .value(":rev", n(rev))
        .value(":one", n(1))
        .action(store)
}

/// Each invoice's `paid` set to what it becomes, if the invoice is still at the revision read;
/// only the payment's own customer's invoices.
fn paid_changes(
    store: &Store,
    payment: &Payment,
    invoices: &[(&StoredInvoice, Money)],
) -> Result<Vec<TransactWriteItem>, StoreError> {
    invoices
        .iter()
        .map(|(stored, paid)| {
            let target = &stored.invoice;
            if target.draft.org != payment.org {
                return Err(StoreError::Unexpected(format!(
                    "payment {} of {} cannot change {} of {}",
                    payment.id, payment.org, target.id, target.draft.org
                )));
            }
            invoice_change(stored)?
                .set("#inv.paid = :paid")
                .value(":paid", attr(paid)?)
                .action(store)
        })
        .collect()
}

/// What A81 writes in one transaction: a payment taken back.
#[derive(Debug, Clone, Copy)]
pub struct ReversePayment<'a> {
    /// The payment with its `reversed` set.
    pub payment: &'a Payment,
    /// Each invoice it reopens, as read, with its new `paid`.
    pub reopened: &'a [(&'a StoredInvoice, Money)],
    pub credit: &'a StoredCredit,
    pub credit_after: Money,
    pub entry: &'a Entry,
    /// Its `payment_reversed` event.
    pub event: &'a DomainEvent,
    /// A statement's payment: its line, back to review.
    pub statement: Option<LineWrite<'a>>,
}

/// What A82 writes in one transaction: a refund from the customer's credit.
#[derive(Debug, Clone, Copy)]
pub struct RecordRefund<'a> {
    pub refund: &'a Refund,
    pub credit: &'a StoredCredit,
    pub credit_after: Money,
    pub entry: &'a Entry,
    pub event: &'a DomainEvent,
}

/// What recording a refund did. Nothing is written unless `Recorded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    Recorded,
    /// The customer has a refund of this reference already.
    AlreadyRecorded,
    /// The credit changed since it was read.
    Changed,
}

impl Store {
    /// A61: a customer's credit (strongly consistent): zero in `currency`, at `rev` 0, when
    /// it never had any.
    pub async fn credit(&self, org: OrgId, currency: Currency) -> Result<StoredCredit, StoreError> {
        Ok(self
            .get::<CreditItem>(&keys::org(&org), keys::CREDIT_BALANCE, true)
            .await?
            .map_or(
                StoredCredit {
                    amount: Money::zero(currency),
                    rev: 0,
                },
                |i| StoredCredit {
                    amount: i.credit,
                    rev: i.rev,
                },
            ))
    }

    /// A62: records the payment (once per customer and reference) with its ledger entry (on
    /// the day received) and its event; each settled invoice's `paid` and the customer's
    /// credit change in the same transaction, conditional on not having changed since they
    /// were read.
    pub async fn record_payment(
        &self,
        record: RecordPayment<'_>,
    ) -> Result<PaymentOutcome, StoreError> {
        let RecordPayment {
            payment,
            settled,
            credit,
            credit_after,
            entry,
            event,
            also,
            statement,
        } = record;
        let org = payment.org;
        let item = to_item(&PaymentItem::new(payment))?;
        let mut items = vec![
            put(self, item, Some(ABSENT))?,
            ledger_put(self, entry)?,
            put_event(self, event)?,
            credit_action(self, &org, credit, credit_after)?,
        ];
        items.extend(paid_changes(self, payment, settled)?);
        for event in also {
            items.push(put_event(self, event)?);
        }
        let line_actions = match statement {
            Some(write) => write.actions(self)?,
            None => Vec::new(),
        };
        let lines_from = items.len();
        items.extend(line_actions);
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(PaymentOutcome::Recorded),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        if failed.iter().any(|i| *i >= lines_from) {
            Ok(PaymentOutcome::LineTaken)
        } else if failed.contains(&0) {
            Ok(PaymentOutcome::AlreadyRecorded)
        } else if failed.iter().any(|i| *i >= 3) {
            Ok(PaymentOutcome::Changed)
        } else {
            Err(err.into_store_error().conflict_means(format!(
                "payment {}'s ledger entry or event was written before",
                payment.id
            )))
        }
    }

    /// A63: a customer's payment of a reference (strongly consistent).
    pub async fn payment_by_reference(
        &self,
        org: OrgId,
        reference: &PaymentReference,
    ) -> Result<Option<Payment>, StoreError> {
        Ok(self
            .get::<PaymentItem>(&keys::org(&org), &keys::payment(reference), true)
            .await?
            .map(|i| i.payment))
    }

    /// A63: every payment of a customer, oldest received first.
    pub async fn payments_of(&self, org: OrgId) -> Result<Vec<Payment>, StoreError> {
        let mut payments: Vec<Payment> = self
            .query_all::<PaymentItem>(&keys::org(&org), keys::PAYMENTS)
            .await?
            .into_iter()
            .map(|i| i.payment)
            .collect();
        payments.sort_by_key(|p| (p.received_on, p.recorded_at, p.id));
        Ok(payments)
    }
}

impl Store {
    /// A63: a customer's payments recorded by hand that were received on `day` (GSI2).
    pub async fn hand_payments_on(
        &self,
        org: OrgId,
        day: chrono::NaiveDate,
    ) -> Result<Vec<Payment>, StoreError> {
        Ok(self
            .query_all_at::<PaymentItem>(Some(keys::GSI2), &keys::hand_paid(&org, day), None)
            .await?
            .into_iter()
            .map(|i| i.payment)
            .collect())
    }

    /// A63: a payment by id (GSI1).
    pub async fn payment(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        Ok(self
            .only_on_gsi1::<PaymentItem>(&keys::payment_id(&id))
            .await?
            .map(|i| i.payment))
    }

    /// A81: takes a payment back once, with its reversing entry and event; the invoices it
    /// reopens and the credit change if they did not change since they were read. `Recorded`
    /// when written, `AlreadyRecorded` if it was reversed meanwhile, `Changed` if an invoice
    /// or the credit moved, `LineTaken` if its statement line moved.
    pub async fn reverse_payment(
        &self,
        reverse: ReversePayment<'_>,
    ) -> Result<PaymentOutcome, StoreError> {
        let ReversePayment {
            payment,
            reopened,
            credit,
            credit_after,
            entry,
            event,
            statement,
        } = reverse;
        let mut items = vec![
            put(
                self,
                to_item(&PaymentItem::new(payment))?,
                Some("attribute_exists(PK) AND attribute_not_exists(payment.reversed)"),
            )?,
            ledger_put(self, entry)?,
            put_event(self, event)?,
            credit_action(self, &payment.org, credit, credit_after)?,
        ];
        items.extend(paid_changes(self, payment, reopened)?);
        let lines_from = items.len();
        if let Some(write) = statement {
            items.extend(write.actions(self)?);
        }
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(PaymentOutcome::Recorded),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        if failed.contains(&0) {
            Ok(PaymentOutcome::AlreadyRecorded)
        } else if failed.iter().any(|i| *i >= lines_from) {
            Ok(PaymentOutcome::LineTaken)
        } else if failed.iter().any(|i| *i >= 3) {
            Ok(PaymentOutcome::Changed)
        } else {
            Err(err.into_store_error().conflict_means(format!(
                "the reversal of {}: its ledger entry or event was written before",
                payment.id
            )))
        }
    }

    /// A82: records a refund once per customer and reference, from the credit as read.
    pub async fn record_refund(
        &self,
        record: RecordRefund<'_>,
    ) -> Result<RefundOutcome, StoreError> {
        let RecordRefund {
            refund,
            credit,
            credit_after,
            entry,
            event,
        } = record;
        let item = to_item(&RefundItem {
            pk: keys::org(&refund.org),
            sk: keys::refund(&refund.reference),
            kind: "refund".into(),
            refund: refund.clone(),
        })?;
        let items = vec![
            put(self, item, Some(ABSENT))?,
            ledger_put(self, entry)?,
            put_event(self, event)?,
            credit_action(self, &refund.org, credit, credit_after)?,
        ];
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(RefundOutcome::Recorded),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        if failed.contains(&0) {
            Ok(RefundOutcome::AlreadyRecorded)
        } else if failed.contains(&3) {
            Ok(RefundOutcome::Changed)
        } else {
            Err(err.into_store_error().conflict_means(format!(
                "refund {}'s ledger entry or event was written before",
                refund.id
            )))
        }
    }

    /// A82: a customer's refund of a reference (strongly consistent).
    pub async fn refund_by_reference(
        &self,
        org: OrgId,
        reference: &PaymentReference,
    ) -> Result<Option<Refund>, StoreError> {
        Ok(self
            .get::<RefundItem>(&keys::org(&org), &keys::refund(reference), true)
            .await?
            .map(|i| i.refund))
    }

    /// A82: every refund of a customer, oldest paid first.
    pub async fn refunds_of(&self, org: OrgId) -> Result<Vec<Refund>, StoreError> {
        let mut refunds: Vec<Refund> = self
            .query_all::<RefundItem>(&keys::org(&org), keys::REFUNDS)
            .await?
            .into_iter()
            .map(|i| i.refund)
            .collect();
        refunds.sort_by_key(|r| (r.paid_on, r.recorded_at, r.id));
        Ok(refunds)
    }
}
