//! Block numbering: the close's workers compose invoices in parallel without a number and
//! hand them on ([`ReadyInvoice`], a `number` message on the FIFO `NumberQueue`, one message
//! group per series); the numbering step takes up to [`MAX_BLOCK_INVOICES`] ready invoices of
//! one sequence and issues them in **one transaction** that moves the sequence once, from
//! `last` to `last + k` ([`Store::issue_block`], A55).
//!
//! SQS delivers one batch of a message group at a time, so in AWS one numbering step per
//! series runs at once and nobody races for a sequence. Correctness does not rest on that:
//! the transaction is conditional on the sequence as read, so two steps numbering the same
//! series (a step that outlived its visibility timeout, a hand-run resume) cannot both
//! succeed; the loser reads the sequence again and numbers the rest after it. No number is
//! skipped or used twice, and a step stopped half way leaves nothing half written.
//!
//! What a block's transaction may refuse, per invoice: already issued (a repeated message:
//! dropped), its job or its series placement changed since it was composed (the customer is
//! queued to be composed again), its credit changed (a payment: read again, drawn again).
//! An invoice that cannot be issued at all (a domain error) fails its job alone.
//!
//! [`Store::issue_block`]: kopek_aws::dynamo::Store::issue_block

use std::collections::{BTreeMap, HashMap};

use chrono::Datelike;
use kopek_aws::dynamo::StoreError;
use kopek_aws::dynamo::billing::{
    BlockOutcome, IssueInvoice, IssueOutcome, MAX_BLOCK_INVOICES, StoredCredit,
};
use kopek_aws::queue::{FifoMessage, MAX_MESSAGE_BYTES};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::close::{JobStatus, job_shard};
use kopek_domain::ids::{EntryId, InvoiceId, OrgId};
use kopek_domain::invoicing::{
    self, DocumentKind, Invoice, InvoiceDraft, InvoiceNumber, InvoiceSeries, InvoicingError,
    Parties,
};
use kopek_domain::ledger::{self, Entry};
use kopek_domain::orders::UserOrKey;
use kopek_domain::payments;
use kopek_domain::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use super::{CloseError, CloseMessage, Closer, CustomerOutcome, NUMBER_ATTEMPTS};

/// A customer's invoice composed by the close and waiting for its number: the body of a
/// `number` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyInvoice {
    /// The customer's job as read when the invoice was composed (pending or failed).
    pub job_was: JobStatus,
    /// How many times the job had failed then (part of the message's deduplication id).
    pub attempts: u32,
    pub draft: InvoiceDraft,
    /// The days it gives to pay.
    pub payment_terms_days: u16,
    pub parties: Parties,
    /// The series it is numbered in.
    pub series: InvoiceSeries,
    /// The subdivision this invoice places its customer in (its first invoice in one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<u8>,
}

impl ReadyInvoice {
    pub fn org(&self) -> OrgId {
        self.draft.org
    }

    pub fn period(&self) -> BillingPeriod {
        self.draft.period
    }

    /// Its message on `NumberQueue`: grouped by series, so one step at a time numbers a
    /// series; deduplicated by customer, period and the job's state, so a repeated customer
    /// message within SQS's five minutes queues nothing twice, while a job that failed and
    /// was resumed is queued again.
    fn message(&self, body: String) -> FifoMessage {
        FifoMessage {
            body,
            group: self.series.as_str().to_owned(),
            dedup: format!(
                "{}:{}:{}:{}",
                self.period(),
                self.org(),
                self.job_was.as_str(),
                self.attempts
            ),
        }
    }
}

/// An invoice built for a number, with everything its transaction writes.
struct Built {
    invoice: Invoice,
    entry: Option<Entry>,
    event: DomainEvent,
    closed: DomainEvent,
    credit: StoredCredit,
    credit_after: kopek_domain::money::Money,
}

impl Closer {
    /// Hands ready invoices on to be numbered: `number` messages on `NumberQueue` (ten to a
    /// request); where the function has no numbering queue, or an invoice does not fit a
    /// message, they are numbered here. Each customer's outcome.
    pub(super) async fn hand_on(
        &self,
        ready: Vec<ReadyInvoice>,
    ) -> Result<Vec<(OrgId, CustomerOutcome)>, CloseError> {
        let Some(queue) = self.ctx.number_queue.as_ref() else {
            return Box::pin(self.number_block(ready)).await;
        };
        let mut messages = Vec::new();
        let mut outcomes = Vec::new();
        let mut alone = Vec::new();
        for r in ready {
            let body = serde_json::to_string(&CloseMessage::Number(Box::new(r.clone())))
                .map_err(|e| StoreError::Unexpected(e.to_string()))?;
            if body.len() <= MAX_MESSAGE_BYTES {
                outcomes.push((r.org(), CustomerOutcome::Queued));
                messages.push(r.message(body));
            } else {
                tracing::info!(org = %r.org(), bytes = body.len(), "invoice over a message's size: numbered here");
                alone.push(r);
            }
        }
        queue.send_fifo(&messages).await?;
        if !alone.is_empty() {
            outcomes.extend(Box::pin(self.number_block(alone)).await?);
        }
        Ok(outcomes)
    }

    /// Numbers and issues ready invoices: by sequence (series and this year), in blocks of
    /// at most [`MAX_BLOCK_INVOICES`] in the order given, each block one transaction; then
    /// finishes each period whose shards the blocks emptied. Returns each customer's outcome.
    pub async fn number_block(
        &self,
        ready: Vec<ReadyInvoice>,
    ) -> Result<Vec<(OrgId, CustomerOutcome)>, CloseError> {
        let year = self.ctx.today().year();
        let mut outcomes = Vec::new();
        let mut sequences: Vec<(InvoiceSeries, Vec<ReadyInvoice>)> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in ready {
            // A message repeated after SQS's deduplication window: one transaction cannot
            // write a customer's invoice twice, and the first one issues it.
            if !seen.insert((r.period(), r.org())) {
                outcomes.push((r.org(), CustomerOutcome::AlreadyDone));
                continue;
            }
            match sequences.iter_mut().find(|(s, _)| *s == r.series) {
                Some((_, list)) => list.push(r),
                None => sequences.push((r.series.clone(), vec![r])),
            }
        }
        let mut shards: BTreeMap<(BillingPeriod, u8), OrgId> = BTreeMap::new();
        for (series, list) in sequences {
            for r in &list {
                shards.insert((r.period(), job_shard(r.org())), r.org());
            }
            for chunk in list.chunks(MAX_BLOCK_INVOICES) {
                outcomes.extend(self.number_chunk(&series, year, chunk.to_vec()).await?);
            }
        }
        // Whichever step ends the last jobs of a shard closes the period if it can (the
        // shards read side by side).
        let remaining = futures::future::try_join_all(
            shards
                .iter()
                .map(|((period, _), org)| self.store().shard_remaining(*period, *org)),
        )
        .await?;
        let emptied: std::collections::BTreeSet<BillingPeriod> = shards
            .keys()
            .zip(remaining)
            .filter(|(_, left)| *left == 0)
            .map(|((period, _), _)| *period)
            .collect();
        for period in emptied {
            self.finish_if_complete(period).await?;
        }
        Ok(outcomes)
    }

    /// One block: numbered from the sequence as read, issued in one transaction, and on a
    /// refusal the refused invoices dropped or corrected and the rest numbered again.
    async fn number_chunk(
        &self,
        series: &InvoiceSeries,
        year: i32,
        mut pending: Vec<ReadyInvoice>,
    ) -> Result<Vec<(OrgId, CustomerOutcome)>, CloseError> {
        let mut outcomes = Vec::new();
        let reads = pending
            .iter()
            .map(|r| self.store().credit(r.org(), r.draft.currency));
        // The customers' credits and the sequence, read side by side.
        let (read, first_last) = futures::future::try_join(
            futures::future::try_join_all(reads),
            self.store()
                .sequence_last(series, DocumentKind::Invoice, year),
        )
        .await?;
        let mut credits: HashMap<OrgId, StoredCredit> =
            pending.iter().map(ReadyInvoice::org).zip(read).collect();
        let mut first_last = Some(first_last);
        let issued_on = self.ctx.today();
        for _ in 0..NUMBER_ATTEMPTS {
            if pending.is_empty() {
                return Ok(outcomes);
            }
            let last = match first_last.take() {
                Some(last) => last,
                None => {
                    self.store()
                        .sequence_last(series, DocumentKind::Invoice, year)
                        .await?
                }
            };
            let mut built = Vec::with_capacity(pending.len());
            let mut unissuable = Vec::new();
            for (i, r) in pending.iter().enumerate() {
                let number = InvoiceNumber::new(
                    series.clone(),
                    DocumentKind::Invoice,
                    year,
                    last + 1 + built.len() as u64,
                )?;
                match self.build(r, number, issued_on, &credits[&r.org()]) {
                    Ok(b) => built.push(b),
                    Err(e) => unissuable.push((i, e)),
                }
            }
            if !unissuable.is_empty() {
                for (i, e) in unissuable.iter().rev() {
                    let r = pending.remove(*i);
                    let reason = e.to_string();
                    tracing::warn!(org = %r.org(), error = %reason, "invoice cannot be issued");
                    self.store()
                        .fail_job(r.period(), r.org(), &reason, r.job_was, self.ctx.now())
                        .await?;
                    outcomes.push((r.org(), CustomerOutcome::Failed(reason)));
                }
                continue;
            }
            let issues: Vec<IssueInvoice> = built
                .iter()
                .zip(&pending)
                .map(|(b, r)| IssueInvoice {
                    invoice: &b.invoice,
                    entry: b.entry.as_ref(),
                    event: &b.event,
                    closed: &b.closed,
                    job_was: r.job_was,
                    credit: &b.credit,
                    credit_after: b.credit_after,
                    place: r.place,
                })
                .collect();
            let refused = match self.store().issue_block(&issues).await? {
                BlockOutcome::Issued => {
                    for b in &built {
                        let (org, number) = (b.invoice.draft.org, b.invoice.number.to_string());
                        tracing::info!(%org, invoice = %b.invoice.id, %number, "invoice issued");
                        outcomes.push((
                            org,
                            CustomerOutcome::Issued {
                                invoice: b.invoice.id,
                                number,
                            },
                        ));
                    }
                    tracing::info!(
                        series = series.as_str(),
                        first = last + 1,
                        count = built.len(),
                        "block numbered"
                    );
                    return Ok(outcomes);
                }
                BlockOutcome::Refused {
                    number_taken,
                    invoices,
                } => {
                    if number_taken {
                        tracing::debug!(
                            series = series.as_str(),
                            "numbers taken by another step; numbering after them"
                        );
                        self.ctx.contention.number_lost();
                    }
                    invoices
                }
            };
            let mut dropped = Vec::new();
            for (i, why) in refused {
                let r = &pending[i];
                match why {
                    IssueOutcome::AlreadyIssued => {
                        outcomes.push((r.org(), CustomerOutcome::AlreadyDone));
                        dropped.push(i);
                    }
                    IssueOutcome::JobChanged | IssueOutcome::PlacedMeanwhile => {
                        self.compose_again(r.period(), r.org()).await?;
                        outcomes.push((r.org(), CustomerOutcome::Queued));
                        dropped.push(i);
                    }
                    IssueOutcome::CreditChanged => {
                        self.ctx.contention.changed_meanwhile();
                        let credit = self.store().credit(r.org(), r.draft.currency).await?;
                        credits.insert(r.org(), credit);
                    }
                    IssueOutcome::Issued | IssueOutcome::NumberTaken => {}
                }
            }
            for i in dropped.into_iter().rev() {
                pending.remove(i);
            }
        }
        Err(CloseError::Store(StoreError::Transient(
            "no block of invoice numbers could be taken: too many concurrent steps".into(),
        )))
    }

    /// The customer's close queued again: what its invoice was composed from changed.
    async fn compose_again(&self, period: BillingPeriod, org: OrgId) -> Result<(), CloseError> {
        if self.queue.is_none() {
            return Err(CloseError::Store(StoreError::Transient(format!(
                "the job of {org} changed meanwhile; close it again"
            ))));
        }
        tracing::info!(%period, %org, "job or placement changed meanwhile; composing again");
        self.send(&[CloseMessage::Customer { period, org }], 0)
            .await
    }

    /// `ready` issued under `number` today, its credit drawn down, with its ledger entry and
    /// events.
    fn build(
        &self,
        ready: &ReadyInvoice,
        number: InvoiceNumber,
        issued_on: chrono::NaiveDate,
        credit: &StoredCredit,
    ) -> Result<Built, CloseError> {
        let (org, period) = (ready.org(), ready.period());
        let mut invoice = invoicing::issue(
            ready.draft.clone(),
            InvoiceId::new(),
            number.clone(),
            issued_on,
            ready.payment_terms_days,
        )?;
        invoice.parties = Some(ready.parties.clone());
        let drawn =
            payments::draw_down(&mut invoice, credit.amount).map_err(InvoicingError::from)?;
        let credit_after = credit
            .amount
            .checked_sub(drawn)
            .map_err(InvoicingError::from)?;
        // An invoice of zero (issued by the settings) posts nothing.
        let entry = match ledger::for_invoice(&invoice, EntryId::new()) {
            Ok(entry) => Some(entry),
            Err(ledger::LedgerError::Empty) => None,
            Err(e) => return Err(e.into()),
        };
        let event = DomainEvent::new(
            org,
            UserOrKey::System,
            self.ctx.now(),
            EventKind::InvoiceIssued {
                invoice: invoice.id,
                number: number.to_string(),
                period,
                gross: invoice.draft.gross,
                due_on: invoice.due_on,
            },
        );
        let closed = self.period_closed(org, period, Some(invoice.id));
        Ok(Built {
            invoice,
            entry,
            event,
            closed,
            credit: *credit,
            credit_after,
        })
    }
}
