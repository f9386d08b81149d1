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

use super::close::{expect_open, job_change, job_ended};
use super::ledger::ledger_put;
use super::numbering::{expect_kind, take_number};
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
    /// A55: issues the invoice under its number with its ledger entry and its event, ends its
    /// customer's job (as read: pending or failed) and counts it done in the period — one
    /// transaction. Not retried here: on `NumberTaken` the caller reads the sequence again and
    /// issues again.
    ///
    /// The customer's credit (A61, as read) moves to `credit_after` — what is left once the
    /// invoice drew it down — at its next revision: a payment recorded meanwhile makes it
    /// `CreditChanged`, so credit is never drawn twice nor missed.
    pub async fn issue_invoice(&self, issue: IssueInvoice<'_>) -> Result<IssueOutcome, StoreError> {
        let IssueInvoice {
            invoice,
            entry,
            event,
            closed,
            job_was,
            credit,
            credit_after,
            place,
        } = issue;
        let (org, period) = (invoice.draft.org, invoice.draft.period);
        expect_kind(&invoice.number, DocumentKind::Invoice)?;
        expect_open(&org, job_was)?;
        let job = job_change(period, &org, job_was, JobStatus::Done, event.at)?
            .set("invoice = :inv")
            .set("#num = :num")
            .remove("#err")
            .name("#num", "number")
            .name("#err", "error")
            .value(":inv", attr(&invoice.id)?)
            .value(":num", s(&invoice.number.to_string()));
        // The ledger entry goes last: an invoice of zero posts none, and the indexes of the
        // conditional actions below stay the same either way.
        let mut items = vec![
            take_number(self, &invoice.number)?,
            put(self, to_item(&InvoiceItem::new(invoice, 1))?, Some(ABSENT))?,
            put_event(self, event)?,
            job.action(self)?,
            job_ended(period, &org, "done", job_was).action(self)?,
            credit_action(self, &org, credit, credit_after)?,
        ];
        if let Some(entry) = entry {
            items.push(ledger_put(self, entry)?);
        }
        items.push(put_event(self, closed)?);
        let placing = match place {
            Some(index) => {
                items.push(
                    Change::new(keys::org(&org), keys::ORG_SK)
                        .set("series_index = :si")
                        .when("attribute_exists(PK) AND attribute_not_exists(series_index)")
                        .value(":si", n(i64::from(index)))
                        .action(self)?,
                );
                Some(items.len() - 1)
            }
            None => None,
        };
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(IssueOutcome::Issued),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        if failed.contains(&1) {
            Ok(IssueOutcome::AlreadyIssued)
        } else if failed.contains(&3) {
            Ok(IssueOutcome::JobChanged)
        } else if failed.contains(&5) {
            Ok(IssueOutcome::CreditChanged)
        } else if failed.contains(&0) {
            Ok(IssueOutcome::NumberTaken)
        } else if placing.is_some_and(|i| failed.contains(&i)) {
            Err(StoreError::Transient(
                "the customer was placed in a series meanwhile; compose again".into(),
            ))
        } else {
            Err(err
                .into_store_error()
                .conflict_means("the ledger entry or the event was written before"))
        }
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
