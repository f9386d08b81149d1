//! A61–A63: a customer's credit (prepaid or overpaid, not yet drawn down) and the payments
//! it receives.

use aws_sdk_dynamodb::types::TransactWriteItem;
use kopek_domain::charges::DomainEvent;
use kopek_domain::ids::OrgId;
use kopek_domain::ledger::Entry;
use kopek_domain::money::{Currency, Money};
use kopek_domain::payments::{Payment, PaymentReference};
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
    #[serde(rename = "type")]
    kind: String,
    payment: Payment,
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
            statement,
        } = record;
        let org = payment.org;
        let item = to_item(&PaymentItem {
            pk: keys::org(&org),
            sk: keys::payment(&payment.reference),
            kind: "payment".into(),
            payment: payment.clone(),
        })?;
        let mut items = vec![
            put(self, item, Some(ABSENT))?,
            ledger_put(self, entry)?,
            put_event(self, event)?,
            credit_action(self, &org, credit, credit_after)?,
        ];
        for (stored, paid) in settled {
            let target = &stored.invoice;
            if target.draft.org != org {
                return Err(StoreError::Unexpected(format!(
                    "payment {} of {org} cannot settle {} of {}",
                    payment.id, target.id, target.draft.org
                )));
            }
            items.push(
                invoice_change(stored)?
                    .set("#inv.paid = :paid")
                    .value(":paid", attr(paid)?)
                    .action(self)?,
            );
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
