//! A55–A57: invoices issued by the close, one per customer and period, and read by customer,
//! by period and by id.

use kopek_domain::charges::DomainEvent;
use kopek_domain::close::{JOB_SHARDS, JobStatus, job_shard};
use kopek_domain::ids::{InvoiceId, OrgId};
use kopek_domain::invoicing::{DocumentKind, Invoice};
use kopek_domain::ledger::Entry;
use kopek_domain::money::Money;
use kopek_domain::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::close::{Ended, expect_open, job_change, jobs_ended};
use super::ledger::ledger_put;
use super::numbering::{expect_kind, take_numbers};
use super::payments::{StoredCredit, credit_action};
use crate::dynamo::expr::{ABSENT, Change, SAME_REV, attr, failed_conditions, n, put, s};
use crate::dynamo::orders::put_event;
use crate::dynamo::{Page, PageKey, QuerySpec, Shards, Store, StoreError, keys, to_item};

/// An invoice as stored, with its revision (moved by each credit note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvoice {
    pub invoice: Invoice,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct InvoiceItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    gsi2sk: String,
    #[serde(rename = "type")]
    kind: String,
    invoice: Invoice,
    rev: u64,
}

impl InvoiceItem {
    fn new(invoice: &Invoice, rev: u64) -> Self {
        let (org, period) = (invoice.draft.org, invoice.draft.period);
        Self {
            pk: keys::org(&org),
            sk: keys::invoice(period),
            gsi1pk: keys::invoice_id(&invoice.id),
            gsi1sk: keys::INVOICE_SK.into(),
            gsi2pk: keys::invoices_of_period(period, job_shard(org)),
            gsi2sk: org.to_string(),
            kind: "invoice".into(),
            invoice: invoice.clone(),
            rev,
        }
    }
}

impl From<InvoiceItem> for StoredInvoice {
    fn from(i: InvoiceItem) -> Self {
        Self {
            invoice: i.invoice,
            rev: i.rev,
        }
    }
}

/// Invoices per block (A55): the sequence, at most 8 actions per invoice (invoice, job,
/// credit, ledger entry, two events, placement) and at most one tally each — 91 — stay within
/// DynamoDB's 100 actions per transaction with the audit record.
pub const MAX_BLOCK_INVOICES: usize = 10;

/// What A55 writes in one transaction: an invoice, as the close composed it from what it read.
#[derive(Debug, Clone, Copy)]
pub struct IssueInvoice<'a> {
    /// The invoice, with its number (the sequence moves to it).
    pub invoice: &'a Invoice,
    /// Its ledger entry; `None` for an invoice of zero, which posts nothing.
    pub entry: Option<&'a Entry>,
    /// Its `invoice_issued` event (the outbox).
    pub event: &'a DomainEvent,
    /// The customer's `period.closed` event.
    pub closed: &'a DomainEvent,
    /// The customer's job as read: pending or failed.
    pub job_was: JobStatus,
    /// The customer's credit as read, and what is left of it once the invoice drew it down.
    pub credit: &'a StoredCredit,
    pub credit_after: Money,
    /// The series subdivision the customer is placed in by this, its first invoice numbered
    /// in one: recorded on the organisation (if not recorded meanwhile).
    pub place: Option<u8>,
}

/// What issuing an invoice did. Nothing is written unless `Issued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueOutcome {
    Issued,
    /// Another document took the number: read the sequence again and retry with the next.
    NumberTaken,
    /// The customer has an invoice for the period already.
    AlreadyIssued,
    /// The job is no longer in the status read.
    JobChanged,
    /// The customer's credit changed since it was read (a payment): read it again.
    CreditChanged,
    /// The customer was placed in a series meanwhile: compose its invoice again.
    PlacedMeanwhile,
}

/// What issuing a block of invoices did (A55). Nothing is written unless `Issued`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockOutcome {
    Issued,
    /// Refused as a whole: whether another document took the block's numbers (read the
    /// sequence again), and the invoices refused on their own account, by their place in the
    /// block (the most telling reason of each: already issued, job changed, credit changed,
    /// placed meanwhile).
    Refused {
        number_taken: bool,
        invoices: Vec<(usize, IssueOutcome)>,
    },
}

/// What each action of a block's transaction is, to read its cancellation reasons.
#[derive(Debug, Clone, Copy)]
enum Role {
    Sequence,
    Invoice(usize),
    Job(usize),
    Credit(usize),
    Place(usize),
    /// A new item (event, ledger entry) or a tally: its condition never fails but by a bug.
    Other,
}

impl Role {
    /// What the failed condition says of the invoice it belongs to, and how telling that
    /// is (an invoice already issued explains its job's change too).
    fn refusal(self) -> Option<(usize, IssueOutcome, u8)> {
        match self {
            Role::Invoice(i) => Some((i, IssueOutcome::AlreadyIssued, 4)),
            Role::Job(i) => Some((i, IssueOutcome::JobChanged, 3)),
            Role::Credit(i) => Some((i, IssueOutcome::CreditChanged, 2)),
            Role::Place(i) => Some((i, IssueOutcome::PlacedMeanwhile, 1)),
            Role::Sequence | Role::Other => None,
        }
    }
}

/// A change of an issued invoice's totals (`#inv` is the invoice), if it is still at the
/// revision read; the caller sets what changes.
pub(super) fn invoice_change(stored: &StoredInvoice) -> Result<Change, StoreError> {
    let invoice = &stored.invoice;
    let rev = i64::try_from(stored.rev)
        .map_err(|_| StoreError::Corrupt(format!("invoice {}: rev", invoice.id)))?;
    Ok(Change::new(
        keys::org(&invoice.draft.org),
        &keys::invoice(invoice.draft.period),
    )
    .add("rev :one")
    .when(SAME_REV)
    .name("#inv", "invoice")
    .value(":rev", n(rev))
    .value(":one", n(1)))
}

impl Store {
    /// A55: issues one invoice (a block of one, see [`Store::issue_block`]). Not retried
    /// here: on `NumberTaken` the caller reads the sequence again and issues again.
    pub async fn issue_invoice(&self, issue: IssueInvoice<'_>) -> Result<IssueOutcome, StoreError> {
        match self.issue_block(&[issue]).await? {
            BlockOutcome::Issued => Ok(IssueOutcome::Issued),
            BlockOutcome::Refused { invoices, .. } if !invoices.is_empty() => Ok(invoices[0].1),
            BlockOutcome::Refused { .. } => Ok(IssueOutcome::NumberTaken),
        }
    }

    /// A55: issues a block of invoices numbered one after another in one sequence — the
    /// sequence moves once, from the first number − 1 to the last — each with its ledger entry
    /// and its events, its customer's job ended (as read: pending or failed) and its credit
    /// drawn down, and each shard's tally moved once for all its jobs: one transaction, at
    /// most [`MAX_BLOCK_INVOICES`] invoices.
    ///
    /// Each customer's credit (A61, as read) moves to `credit_after` at its next revision: a
    /// payment recorded meanwhile refuses the block (`CreditChanged` for that invoice), so
    /// credit is never drawn twice nor missed. Refusals name each invoice refused on its own
    /// account, so the caller drops what was issued before and numbers the rest again.
    pub async fn issue_block(
        &self,
        block: &[IssueInvoice<'_>],
    ) -> Result<BlockOutcome, StoreError> {
        let Some(first) = block.first().map(|issue| &issue.invoice.number) else {
            return Ok(BlockOutcome::Issued);
        };
        if block.len() > MAX_BLOCK_INVOICES {
            return Err(StoreError::Unexpected(format!(
                "a block of {} invoices is over {MAX_BLOCK_INVOICES}",
                block.len()
            )));
        }
        expect_kind(first, DocumentKind::Invoice)?;
        let mut items = vec![take_numbers(self, first, block.len() as u64)?];
        let mut roles = vec![Role::Sequence];
        let mut tallies: BTreeMap<(BillingPeriod, u8), Ended> = BTreeMap::new();
        for (i, issue) in block.iter().enumerate() {
            let IssueInvoice {
                invoice,
                entry,
                event,
                closed,
                job_was,
                credit,
                credit_after,
                place,
            } = *issue;
            let number = &invoice.number;
            if number.series != first.series
                || number.kind != first.kind
                || number.year != first.year
                || number.seq != first.seq + i as u64
            {
                return Err(StoreError::Unexpected(format!(
                    "{number} does not follow {first}: a block is numbered one after another"
                )));
            }
            let (org, period) = (invoice.draft.org, invoice.draft.period);
            expect_open(&org, job_was)?;
            let job = job_change(period, &org, job_was, JobStatus::Done, event.at)?
                .set("invoice = :inv")
                .set("#num = :num")
                .remove("#err")
                .name("#num", "number")
                .name("#err", "error")
                .value(":inv", attr(&invoice.id)?)
                .value(":num", s(&number.to_string()));
            items.push(put(
                self,
                to_item(&InvoiceItem::new(invoice, 1))?,
                Some(ABSENT),
            )?);
            roles.push(Role::Invoice(i));
            items.push(job.action(self)?);
            roles.push(Role::Job(i));
            items.push(credit_action(self, &org, credit, credit_after)?);
            roles.push(Role::Credit(i));
            // An invoice of zero posts no ledger entry.
            if let Some(entry) = entry {
                items.push(ledger_put(self, entry)?);
                roles.push(Role::Other);
            }
            items.push(put_event(self, event)?);
            roles.push(Role::Other);
            items.push(put_event(self, closed)?);
            roles.push(Role::Other);
            if let Some(index) = place {
                items.push(
                    Change::new(keys::org(&org), keys::ORG_SK)
                        .set("series_index = :si")
                        .when("attribute_exists(PK) AND attribute_not_exists(series_index)")
                        .value(":si", n(i64::from(index)))
                        .action(self)?,
                );
                roles.push(Role::Place(i));
            }
            let ended = tallies.entry((period, job_shard(org))).or_default();
            ended.jobs += 1;
            ended.were_failed += u64::from(job_was == JobStatus::Failed);
        }
        for ((period, shard), ended) in tallies {
            items.push(jobs_ended(period, shard, "done", ended).action(self)?);
            roles.push(Role::Other);
        }
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(BlockOutcome::Issued),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        let mut number_taken = false;
        let mut refused: BTreeMap<usize, (IssueOutcome, u8)> = BTreeMap::new();
        for index in &failed {
            let role = roles[*index];
            if matches!(role, Role::Sequence) {
                number_taken = true;
            } else if let Some((i, why, weight)) = role.refusal() {
                let kept = refused.entry(i).or_insert((why, weight));
                if weight > kept.1 {
                    *kept = (why, weight);
                }
            }
        }
        if failed.is_empty() || (!number_taken && refused.is_empty()) {
            return Err(err
                .into_store_error()
                .conflict_means("the ledger entry or the event was written before"));
        }
        Ok(BlockOutcome::Refused {
            number_taken,
            invoices: refused.into_iter().map(|(i, (why, _))| (i, why)).collect(),
        })
    }

    /// A56: a customer's invoice of a period (strongly consistent).
    pub async fn invoice_of(
        &self,
        org: OrgId,
        period: BillingPeriod,
    ) -> Result<Option<StoredInvoice>, StoreError> {
        Ok(self
            .get::<InvoiceItem>(&keys::org(&org), &keys::invoice(period), true)
            .await?
            .map(StoredInvoice::from))
    }

    /// A56: an invoice by id (found on GSI1, then read strongly consistent).
    pub async fn invoice_by_id(&self, id: InvoiceId) -> Result<Option<StoredInvoice>, StoreError> {
        let pk = keys::invoice_id(&id);
        let Some(found) = self.only_on_gsi1::<InvoiceItem>(&pk).await? else {
            return Ok(None);
        };
        Ok(self
            .get::<InvoiceItem>(&found.pk, &found.sk, true)
            .await?
            .map(StoredInvoice::from))
    }

    /// A57: a customer's invoices, newest period first.
    pub async fn list_invoices_of_org(
        &self,
        org: OrgId,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredInvoice>, StoreError> {
        let pk = keys::org(&org);
        let q = QuerySpec {
            index: None,
            pk: &pk,
            sk_prefix: Some(keys::INVOICES),
            limit,
            forward: false,
        };
        Ok(self
            .query_page::<InvoiceItem>(q, start)
            .await?
            .map(StoredInvoice::from))
    }

    /// A57: a period's invoices: shard by shard (each customer's invoice in the shard of its
    /// job, `kopek_domain::close::job_shard`) and by customer id within one.
    pub async fn list_invoices_of_period(
        &self,
        period: BillingPeriod,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredInvoice>, StoreError> {
        let pk = |shard| keys::invoices_of_period(period, shard);
        let shard_of = |pk: &str| keys::invoice_shard_of(period, pk);
        let page = self
            .sharded_page(
                Shards {
                    index: Some(keys::GSI2),
                    count: JOB_SHARDS,
                    pk: &pk,
                    shard_of: &shard_of,
                    sk_prefix: None,
                },
                usize::try_from(limit).unwrap_or(1),
                None,
                |item: &InvoiceItem| {
                    PageKey(
                        [
                            ("PK".to_owned(), item.pk.clone()),
                            ("SK".to_owned(), item.sk.clone()),
                            ("GSI2PK".to_owned(), item.gsi2pk.clone()),
                            ("GSI2SK".to_owned(), item.gsi2sk.clone()),
                        ]
                        .into(),
                    )
                },
                start,
            )
            .await?;
        Ok(page.map(StoredInvoice::from))
    }

    /// A57, every page: all of a customer's invoices, newest period first.
    pub async fn invoices_of_org_all(&self, org: OrgId) -> Result<Vec<StoredInvoice>, StoreError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let page = self.list_invoices_of_org(org, 100, start).await?;
            all.extend(page.items);
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(all),
            }
        }
    }
}
