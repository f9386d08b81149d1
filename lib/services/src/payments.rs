//! Payments received: recorded once per customer and bank reference, settling the customer's
//! open invoices oldest first, the rest credit that its next invoices draw down as they are
//! issued (the rules are `kopek_domain::payments`). The API's `POST /v1/billing/payments`
//! records a payment through [`Payments::record`]; a matched bank statement line (`crate::bank`)
//! through the same recording step, [`Payments::record_as`].

use chrono::NaiveDate;
use kopek_aws::dynamo::bank::LineWrite;
use kopek_aws::dynamo::billing::{
    PaymentOutcome, RecordPayment, RecordRefund, RefundOutcome, ReversePayment, StoredInvoice,
};
use kopek_domain::accounts::{Principal, Role, Scope};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::ids::{EntryId, OrgId, PaymentId, RefundId};
use kopek_domain::ledger;
use kopek_domain::money::{Currency, Money};
use kopek_domain::orders::UserOrKey;
use kopek_domain::payments::{
    Allocation, NewPayment, NewRefund, OpenInvoice, Payment, PaymentReference, Refund,
};
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

/// A refund to record, as sent.
#[derive(Debug, Clone)]
pub struct RefundCommand {
    pub org: OrgId,
    pub amount: Decimal,
    pub currency: Currency,
    /// The day the money left (not after today).
    pub paid_on: NaiveDate,
    /// The bank document's number (1–64 characters).
    pub reference: String,
    /// Why (1–500 characters).
    pub reason: String,
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
    /// Oldest received first (reversed ones too, marked).
    pub payments: Vec<Payment>,
    /// Money sent back from the credit, oldest first.
    pub refunds: Vec<Refund>,
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
                // The same payment again: recorded before, nothing changes now.
                crate::audit::unchanged();
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
            // Each invoice it pays off, and where it came from a statement, that it matched.
            let mut also: Vec<DomainEvent> = Vec::new();
            for (stored, paid) in &settled {
                let mut after = stored.invoice.clone();
                after.paid = *paid;
                if after.open_amount().is_zero() {
                    let kind = EventKind::InvoicePaid {
                        invoice: after.id,
                        number: after.number.to_string(),
                        gross: after.draft.gross,
                        payment: payment.id,
                    };
                    also.push(DomainEvent::new(org, by.clone(), now, kind));
                }
            }
            if line.is_some() {
                let kind = EventKind::PaymentMatched {
                    payment: payment.id,
                    reference: payment.reference.to_string(),
                    amount: payment.amount,
                    settled: payment.settled.iter().map(|s| s.invoice).collect(),
                };
                also.push(DomainEvent::new(org, by.clone(), now, kind));
            }
            let outcome = store
                .record_payment(RecordPayment {
                    payment: &payment,
                    settled: &settled,
                    credit: &credit,
                    credit_after,
                    entry: &entry,
                    event: &event,
                    also: &also,
                    statement: line,
                })
                .await?;
            match outcome {
                PaymentOutcome::Recorded => {
                    tracing::info!(%org, payment = %payment.id, settled = payment.settled.len(), "payment recorded");
                    self.restore_if_paid(org).await;
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

    /// Takes a payment back (admins and accountants with `payments:write`) with a reason, on
    /// today's date: the invoices it settled reopened, the credit it left withdrawn (refused
    /// naming `payment` when that credit was drawn into later invoices), a reversing ledger
    /// entry and a `payment_reversed` event in one transaction. A payment read from a bank
    /// statement goes back to the review list, to be assigned again. The payment stays,
    /// marked reversed.
    pub async fn reverse(
        &self,
        caller: &Principal,
        id: PaymentId,
        reason: &str,
    ) -> Result<Payment> {
        caller.require_role(&[Role::Admin, Role::Accountant])?;
        caller.require_scope(Scope::PaymentsWrite)?;
        let store = &self.ctx.store;
        let entry_id = EntryId::new();
        for _ in 0..ATTEMPTS {
            let payment = store.payment(id).await?.ok_or(Error::NotFound)?;
            let org = payment.org;
            let currency = payment.amount.currency();
            let invoices = store.invoices_of_org_all(org).await?;
            let credit = store.credit(org, currency).await?;
            let now = self.ctx.now();
            let reversal = payment.reverse(
                reason,
                self.ctx.today(),
                now,
                actor(caller),
                |invoice| {
                    invoices
                        .iter()
                        .find(|i| i.invoice.id == invoice)
                        .map(|i| i.invoice.paid)
                },
                credit.amount,
            )?;
            let reopened = reversal
                .reopened
                .iter()
                .map(|r| {
                    let stored = invoices
                        .iter()
                        .find(|i| i.invoice.id == r.invoice)
                        .ok_or_else(|| {
                            Error::internal("a reversal reopened an invoice it was not given")
                        })?;
                    Ok((stored, stored.invoice.paid.checked_sub(r.amount)?))
                })
                .collect::<Result<Vec<_>>>()?;
            let credit_after = credit.amount.checked_sub(reversal.from_credit)?;
            let mut reversed = payment.clone();
            reversed.reversed = Some(reversal.clone());
            let entry =
                ledger::for_reversal(&payment, &reversal, entry_id).map_err(Error::internal)?;
            let event = DomainEvent::new(
                org,
                actor(caller),
                now,
                EventKind::PaymentReversed {
                    payment: payment.id,
                    reference: payment.reference.to_string(),
                    amount: payment.amount,
                    reason: reversal.reason.clone(),
                    reopened: reversal.reopened.iter().map(|r| r.invoice).collect(),
                },
            );
            let back = match &payment.source {
                Some(source) => match store.import_line(source.import, source.line).await? {
                    Some(stored) => Some((
                        kopek_domain::bank::imports::ImportLine {
                            outcome: kopek_domain::bank::imports::Outcome::Review {
                                reason: format!("the payment was reversed: {}", reversal.reason),
                                candidates: Vec::new(),
                            },
                            ..stored.line
                        },
                        stored.rev,
                    )),
                    None => None,
                },
                None => None,
            };
            let outcome = store
                .reverse_payment(ReversePayment {
                    payment: &reversed,
                    reopened: &reopened,
                    credit: &credit,
                    credit_after,
                    entry: &entry,
                    event: &event,
                    statement: back
                        .as_ref()
                        .map(|(line, rev)| LineWrite::Resolve { line, rev: *rev }),
                })
                .await?;
            match outcome {
                PaymentOutcome::Recorded => {
                    tracing::info!(%org, payment = %payment.id, "payment reversed");
                    return Ok(reversed);
                }
                // Reversed meanwhile: refused at the top of the next attempt.
                PaymentOutcome::AlreadyRecorded
                | PaymentOutcome::Changed
                | PaymentOutcome::LineTaken => self.ctx.contention.changed_meanwhile(),
            }
        }
        Err(Error::Busy(
            "the customer's invoices kept changing; retry".into(),
        ))
    }

    /// Records a refund (admins and accountants with `payments:write`): money sent back to
    /// the customer from its credit — at most what the credit is — with its ledger entry
    /// (Dr Receivable, Cr Cash) and a `refund_sent` event. The same reference again answers
    /// the refund recorded before when it is the same, and is refused naming `reference`
    /// when it is not.
    pub async fn refund(
        &self,
        caller: &Principal,
        command: RefundCommand,
    ) -> Result<(Refund, bool)> {
        caller.require_role(&[Role::Admin, Role::Accountant])?;
        caller.require_scope(Scope::PaymentsWrite)?;
        let store = &self.ctx.store;
        let org = command.org;
        let organisation = store
            .organisation(org)
            .await?
            .ok_or_else(|| Error::invalid("org_id", "no such organisation"))?;
        let new = NewRefund {
            amount: Money::new(command.amount, command.currency),
            paid_on: command.paid_on,
            reference: PaymentReference::try_from(command.reference)?,
            reason: command.reason,
        };
        let (id, entry_id) = (RefundId::new(), EntryId::new());
        for _ in 0..ATTEMPTS {
            if let Some(earlier) = store.refund_by_reference(org, &new.reference).await? {
                if earlier.amount == new.amount && earlier.paid_on == new.paid_on {
                    // The same refund again: sent before, nothing changes now.
                    crate::audit::unchanged();
                    return Ok((earlier, false));
                }
                return Err(Error::conflict_on(
                    "conflict",
                    "reference",
                    format!(
                        "reference {} was recorded as a refund of {} on {}",
                        earlier.reference,
                        earlier.amount.amount_text(),
                        earlier.paid_on
                    ),
                ));
            }
            let credit = store.credit(org, organisation.currency).await?;
            let now = self.ctx.now();
            let refund = Refund::record(
                new.clone(),
                id,
                org,
                organisation.currency,
                self.ctx.today(),
                now,
                credit.amount,
            )?;
            let entry = ledger::for_refund(&refund, entry_id).map_err(Error::internal)?;
            let event = DomainEvent::new(
                org,
                actor(caller),
                now,
                EventKind::RefundSent {
                    refund: refund.id,
                    reference: refund.reference.to_string(),
                    amount: refund.amount,
                },
            );
            let outcome = store
                .record_refund(RecordRefund {
                    refund: &refund,
                    credit: &credit,
                    credit_after: credit.amount.checked_sub(refund.amount)?,
                    entry: &entry,
                    event: &event,
                })
                .await?;
            match outcome {
                RefundOutcome::Recorded => {
                    tracing::info!(%org, refund = %refund.id, "refund recorded");
                    return Ok((refund, true));
                }
                RefundOutcome::AlreadyRecorded => {}
                RefundOutcome::Changed => self.ctx.contention.changed_meanwhile(),
            }
        }
        Err(Error::Busy(
            "the customer's credit kept changing; retry".into(),
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
        let refunds = store.refunds_of(org).await?;
        let credit = store.credit(org, organisation.currency).await?;
        Ok(PaymentsOf {
            org,
            customer: organisation.legal_name.to_string(),
            currency: organisation.currency,
            payments,
            refunds,
            credit: credit.amount,
        })
    }
}

impl Payments {
    /// After a payment: the customer's dunning run at once, so that paying what is overdue
    /// restores it without waiting for the next morning. A customer not being chased costs
    /// one read; a failure is logged and left to the daily run.
    async fn restore_if_paid(&self, org: OrgId) {
        match self.ctx.store.dunning(org).await {
            Ok(stored) if stored.state.episode.is_none() => {}
            Ok(_) => {
                if let Err(e) = crate::dunning::Dunning::new(self.ctx.clone())
                    .run_customer(org)
                    .await
                {
                    tracing::warn!(%org, error = %e, "dunning after a payment failed; the daily run will");
                }
            }
            Err(e) => {
                tracing::warn!(%org, error = %e, "dunning after a payment failed; the daily run will")
            }
        }
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
