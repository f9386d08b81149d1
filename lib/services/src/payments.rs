//! Payments received: recorded once per customer and bank reference, settling the customer's
//! open invoices oldest first, the rest credit that its next invoices draw down as they are
//! issued (the rules are `kopek_domain::payments`). The API's `POST /v1/billing/payments`
//! records a payment through [`Payments::record`]; a matched bank statement line (`crate::bank`)
//! through the same recording step, [`Payments::record_as`].

use chrono::NaiveDate;
use kopek_aws::dynamo::bank::LineWrite;
use kopek_aws::dynamo::billing::{PaymentOutcome, RecordPayment, StoredInvoice};
use kopek_domain::accounts::{Principal, Role, Scope};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::ids::{EntryId, OrgId, PaymentId};
use kopek_domain::ledger;
use kopek_domain::money::{Currency, Money};
use kopek_domain::orders::UserOrKey;
use kopek_domain::payments::{Allocation, NewPayment, OpenInvoice, Payment, PaymentReference};
use rust_decimal::Decimal;

use crate::access::{actor, org_of};
use crate::{Context, Error, Result};

/// How many times recording retries when an invoice or the credit changed meanwhile (a
/// close issuing an invoice, another payment).
pub const ATTEMPTS: usize = 5;

/// A payment to record, as received.
#[derive(Debug, Clone)]
pub struct RecordPaymentCommand {
    /// The paying organisation.
    pub org: OrgId,
    pub amount: Decimal,
    pub currency: Currency,
    /// The day the money arrived (not after today).
    pub received_on: NaiveDate,
    /// The bank document or receipt number (checked here: 1–64 characters).
    pub reference: String,
}

/// What recording came to.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// Recorded now.
    New(Payment),
    /// The same payment was recorded before under this reference (same amount and day).
    Before(Payment),
}

/// What recording a payment read from a statement line came to.
#[derive(Debug, Clone)]
pub(crate) enum FromLine {
    Recorded(Box<Recorded>),
    /// The line has its outcome already, or another line claimed its bank payment: nothing
    /// was written.
    LineTaken,
}

/// A customer's payments and its credit.
#[derive(Debug, Clone)]
pub struct PaymentsOf {
    pub org: OrgId,
    /// The customer's legal name.
    pub customer: String,
    pub currency: Currency,
    /// Oldest received first.
    pub payments: Vec<Payment>,
    /// Credit not yet drawn down by an invoice.
    pub credit: Money,
}

/// Payments received.
#[derive(Clone)]
pub struct Payments {
    ctx: Context,
}

impl Payments {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Records a payment (admins and accountants with `payments:write`): it settles the
    /// customer's open invoices oldest first and the rest is credit; one transaction with
    /// its ledger entry (Dr Cash, Cr Receivable) and its `payment_received` event. The same
    /// reference again answers the payment recorded before when it is the same payment, and
    /// is refused naming `reference` when it is not.
    pub async fn record(
        &self,
        caller: &Principal,
        command: RecordPaymentCommand,
    ) -> Result<Recorded> {
        caller.require_role(&[Role::Admin, Role::Accountant])?;
        caller.require_scope(Scope::PaymentsWrite)?;
        let new = NewPayment {
            amount: Money::new(command.amount, command.currency),
            received_on: command.received_on,
            reference: PaymentReference::try_from(command.reference)?,
            allocation: Allocation::Oldest,
            source: None,
        };
        match self
            .record_as(actor(caller), command.org, new, PaymentId::new(), None)
            .await?
        {
            FromLine::Recorded(recorded) => Ok(*recorded),
            FromLine::LineTaken => Err(Error::internal(
                "a payment without a line found its line taken",
            )),
        }
    }

    /// Records `new` for `org` on behalf of `by` (whose right to was checked by the caller),
    /// writing the statement `line` it was read from in the same transaction. The one place
    /// a payment is recorded: by hand through [`Payments::record`], from a statement by
    /// `crate::bank`.
    pub(crate) async fn record_as(
        &self,
        by: UserOrKey,
        org: OrgId,
        new: NewPayment,
        id: PaymentId,
        line: Option<LineWrite<'_>>,
    ) -> Result<FromLine> {
        let store = &self.ctx.store;
        let organisation = store
            .organisation(org)
            .await?
            .ok_or_else(|| Error::invalid("org_id", "no such organisation"))?;
        let entry_id = EntryId::new();
        for _ in 0..ATTEMPTS {
            if let Some(earlier) = store.payment_by_reference(org, &new.reference).await? {
                return same_payment(earlier, &new)
                    .map(|p| FromLine::Recorded(Box::new(Recorded::Before(p))));
            }
            let invoices = store.invoices_of_org_all(org).await?;
            let credit = store.credit(org, organisation.currency).await?;
            let now = self.ctx.now();
            let payment = Payment::record(
                new.clone(),
                id,
                org,
                organisation.currency,
                self.ctx.today(),
                now,
                invoices
                    .iter()
                    .map(|i| OpenInvoice::of(&i.invoice))
                    .collect(),
            )?;
            let settled = settled_invoices(&payment, &invoices)?;
            let credit_after = credit.amount.checked_add(payment.to_credit)?;
            let entry = ledger::for_payment(&payment, entry_id).map_err(Error::internal)?;
            let event = DomainEvent::new(
                org,
                by.clone(),
                now,
                EventKind::PaymentReceived {
                    payment: payment.id,
                    reference: payment.reference.to_string(),
                    amount: payment.amount,
                    settled: payment.settled.iter().map(|s| s.invoice).collect(),
                    to_credit: payment.to_credit,
                },
            );
            let outcome = store
                .record_payment(RecordPayment {
                    payment: &payment,
                    settled: &settled,
                    credit: &credit,
                    credit_after,
                    entry: &entry,
                    event: &event,
                    statement: line,
                })
                .await?;
            match outcome {
                PaymentOutcome::Recorded => {
                    tracing::info!(%org, payment = %payment.id, settled = payment.settled.len(), "payment recorded");
                    return Ok(FromLine::Recorded(Box::new(Recorded::New(payment))));
                }
                PaymentOutcome::LineTaken => return Ok(FromLine::LineTaken),
                // Found by reference at the top of the next attempt.
                PaymentOutcome::AlreadyRecorded => {}
                PaymentOutcome::Changed => self.ctx.contention.changed_meanwhile(),
            }
        }
        tracing::warn!(%org, "a payment could not be recorded: the invoices kept changing");
        Err(Error::Busy(
            "the customer's invoices kept changing; retry".into(),
        ))
    }

    /// A customer's payments, oldest first, and the credit its next invoices will draw down
    /// (`invoices:read`; customers their own, staff name one).
    pub async fn of(&self, caller: &Principal, org: Option<OrgId>) -> Result<PaymentsOf> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = org_of(caller, org)?;
        let store = &self.ctx.store;
        let organisation = store.organisation(org).await?.ok_or(Error::NotFound)?;
        let payments = store.payments_of(org).await?;
        let credit = store.credit(org, organisation.currency).await?;
        Ok(PaymentsOf {
            org,
            customer: organisation.legal_name.to_string(),
            currency: organisation.currency,
            payments,
            credit: credit.amount,
        })
    }
}

/// Each invoice `payment` settles, as read, with its new `paid`.
fn settled_invoices<'a>(
    payment: &Payment,
    invoices: &'a [StoredInvoice],
) -> Result<Vec<(&'a StoredInvoice, Money)>> {
    payment
        .settled
        .iter()
        .map(|s| {
            let stored = invoices
                .iter()
                .find(|i| i.invoice.id == s.invoice)
                .ok_or_else(|| Error::internal("a payment settled an invoice it was not given"))?;
            let paid = stored.invoice.paid.checked_add(s.amount)?;
            Ok((stored, paid))
        })
        .collect::<Result<_>>()
}

/// The payment recorded before under the same reference, if it is the same payment.
fn same_payment(earlier: Payment, new: &NewPayment) -> Result<Payment> {
    if earlier.amount == new.amount && earlier.received_on == new.received_on {
        Ok(earlier)
    } else {
        Err(Error::conflict_on(
            "conflict",
            "reference",
            format!(
                "reference {} was recorded as a payment of {} on {}",
                earlier.reference,
                earlier.amount.amount_text(),
                earlier.received_on
            ),
        ))
    }
}
