//! The period close, invoice numbering, invoices, credit notes and the ledger (access patterns
//! A46–A60).
//!
//! | # | Access pattern | Operation | Key | Write cost (WCU; a transaction's actions count twice) |
//! |---|----------------|-----------|-----|------------|
//! | A46 | The provider's billing settings | `GetItem` (consistent) / `PutItem` if `rev = :expected` (created: a transaction of one, `attribute_not_exists(PK)`) | `SETTINGS` / `BILLING` | 1 (created: 2) |
//! | A47 | Start a period's close, once | `PutItem` if `attribute_not_exists(PK)`; on refusal a consistent `GetItem` | `PERIOD#{yyyy-mm}` / `PERIOD`; GSI1 `PERIODS` / `{yyyy-mm}` | 1 + 1 (GSI1) |
//! | A48 | A period's close / the closes, newest first | `GetItem` (consistent) / `Query GSI1` backwards | as A47 | – |
//! | A49 | Plan a page of ≤ 49 customers: their jobs, their seal, the planning cursor | `TransactWriteItems` (≤ 99 actions): the period (`status = closing AND plan_complete = false AND plan_cursor = :in`), a job per customer (`attribute_not_exists(PK)`), a seal per customer (`closed_through < :p`) | `PERIOD#{p}` / `PERIOD`, `PERIOD#{p}` / `JOB#{org}`, `ORG#{org}` / `BILLING` | 2 + 1 (GSI1) + 4 per customer |
//! | A50 | A customer's job / a period's jobs, optionally of one status | `GetItem` (consistent) / `Query` `SK begins_with JOB#` (with a filter on `status`) | `PERIOD#{p}` / `JOB#{org}` | – |
//! | A51 | A job failed | `UpdateItem` if `status = :prev` (first failure: a transaction with the period's `failed` counter) | job, period | again: 1; first: 4 + 1 (GSI1) |
//! | A52 | A job skipped (nothing to bill) | `TransactWriteItems`: job if `status = :prev`, period counters | job, period | 4 + 1 (GSI1) |
//! | A53 | The period closed when its last job is | `UpdateItem` if `status = closing AND plan_complete AND remaining = 0` | `PERIOD#{p}` / `PERIOD` | 1 + 1 (GSI1); a refusal 1 |
//! | A54 | The last number of a sequence | `GetItem` (consistent) | `SEQ#{series}#{INV\|CN}#{year}` / `SEQ` | – (moved inside A55, A58) |
//! | A55 | Issue an invoice | `TransactWriteItems` of 6: sequence `n−1 → n`, invoice (`attribute_not_exists(PK)`: one per customer and period), ledger entry, event, job (`status = :prev`), period counters | sequence; `ORG#{org}` / `INVOICE#{yyyy-mm}` (GSI1 `INVOICE#{inv}` / `INVOICE`, GSI2 `INVOICES#{yyyy-mm}` / `{org}`); `ORG#{org}` / `LEDGER#{yyyy-mm-dd}#{entry}`; `ORG#{org}` / `HISTORY#{inv}#{evt}` (GSI1 `OUTBOX`) | 2 × (4 + I + L) + 2I (GSI1, GSI2) + 1 (outbox) + 1 (period GSI1): 16 for an invoice and entry of 1 KB each |
//! | A56 | An invoice: of a customer and period / by id | `GetItem` (consistent) / `Query GSI1` then `GetItem` (consistent) | as A55 | – |
//! | A57 | Invoices of a customer, newest period first / of a period, by customer | `Query` `SK begins_with INVOICE#` backwards / `Query GSI2` | as A55 | – |
//! | A58 | Issue a credit note | `TransactWriteItems` of 5: sequence `n−1 → n`, credit note (`attribute_not_exists(PK)`), invoice `credited` if `rev = :rev`, ledger entry, event | `ORG#{org}` / `CREDIT#{inv}#{crn}` (GSI1 `CREDIT#{crn}` / `CREDIT`), invoice as A55 | 2 × (2 + C + I + L) + C (GSI1) + 2I (GSI1, GSI2) + 1 (outbox) |
//! | A59 | Credit notes of an invoice / a credit note by id | `Query` `SK begins_with CREDIT#{inv}#` / `Query GSI1` | as A58 | – |
//! | A60 | A customer's ledger entries, by date | `Query` `SK begins_with LEDGER#` (every page) | `ORG#{org}` / `LEDGER#…` | – |
//! | A61 | A customer's credit (prepaid or overpaid, not yet drawn down) | `GetItem` (consistent); written only inside A55, A58, A62 — also when its amount stays, so its `rev` orders every invoice issued and payment recorded: `PutItem` if `attribute_not_exists(PK)` / `UpdateItem` if `rev = :rev` | `ORG#{org}` / `CREDITBALANCE` | 2 in a transaction |
//! | A62 | Record a payment once per reference, settling open invoices | `TransactWriteItems` of 4 + k (k ≤ 90): payment (`attribute_not_exists(PK)`), ledger entry, event, credit (A61), each settled invoice's `paid` if `rev = :rev` | `ORG#{org}` / `PAYMENT#{sha-256 of the reference, 32 hex}`; ledger, event as A55 | 2 × (3 + P + L + k·I) + k·2I (GSI1, GSI2) + 1 (outbox) |
//! | A63 | A customer's payments / one by reference | `Query` `SK begins_with PAYMENT#` (every page) / `GetItem` (consistent) | as A62 | – |
//!
//! I, L, C: the size of the invoice, the ledger entry and the credit note in KB, rounded up
//! (an invoice of many lines is several KB, and every index that projects it costs as much
//! again). An update is charged by the size of the whole item, not of what it changes.
//!
//! ## The close
//!
//! A period's close is one item, `PERIOD#{yyyy-mm}` / `PERIOD`, created once (A47) with its
//! counters: `planned` customer jobs, of which `remaining` are neither done nor skipped,
//! `done`, `skipped`, and `failed` (jobs failed at the moment; a failed job is still
//! remaining). Planning (A49) walks the organisations a page at a time; each page's jobs,
//! the customers' seal (`ORG#{org}` / `BILLING`, `closed_through`, the item usage ingestion
//! reads, A44) and the move of the period's `plan_cursor` are one transaction conditional on
//! the cursor it started from, so a repeated page writes nothing (`AlreadyPlanned`). The
//! cursor is the organisation listing's [`PageKey`] as plain JSON ([`PageKey::to_plain`]).
//!
//! Each job ends in one transaction with the period's counters: issued (A55, with the
//! invoice, its number, its ledger entry and its event) or skipped (A52); the period closes
//! (A53) when planning is complete and nothing remains.
//!
//! The period item is written by every job's end, so concurrent customer closes of one period
//! contend for it (and every invoice of a series and year for its sequence item, which
//! gapless numbering makes a serial point anyway): a transaction that collides with another
//! in flight is cancelled and reported as [`StoreError::Transient`], to be retried.
//! Outcomes (`NumberTaken`, `AlreadyIssued`, …) come only from failed conditions, never from
//! such collisions.
//!
//! ## Numbering
//!
//! `SEQ#{series}#{INV|CN}#{year}` / `SEQ` holds `last`, the last number used. Issuing number
//! `n` moves it from `n − 1` to `n` (from nothing when `n = 1`) in the same transaction that
//! writes the document, so a number is used exactly when its document exists, without gaps.
//! A worker that loses the number to another is told `NumberTaken`, reads the sequence again
//! (A54) and retries; nothing here retries.
//!
//! ## Fault injection
//!
//! A store [`with_faults`](Store::with_faults) fails the n-th billing write from now
//! ([`Faults::fail_write`]) before sending it, so tests can stop a close between any two
//! storage writes. Every write method of this module counts; reads do not.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::catalog::ServiceCode;
use kopek_domain::charges::DomainEvent;
use kopek_domain::ids::{CreditNoteId, InvoiceId, OrgId};
use kopek_domain::invoicing::{
    BillingSettings, CreditNote, DocumentKind, Invoice, InvoiceNumber, InvoiceSeries,
};
use kopek_domain::money::{Currency, Money};
use kopek_domain::payments::{Payment, PaymentReference};
use kopek_domain::period::BillingPeriod;
use kopek_domain::subscriptions::Subscription;
use kopek_domain::usage::MeterUsage;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::orders::put_event;
use super::{
    Item, Page, PageKey, QuerySpec, Store, StoreError, TxError, capacity, key, keys, put, to_item,
};

/// The most customers one planning transaction takes: a job and a seal each, and the period.
pub const MAX_ORGS_PER_PLAN: usize = 49;
/// The most characters of a job's error or skip reason that are kept.
pub const MAX_REASON_CHARS: usize = 1000;

const ABSENT: &str = "attribute_not_exists(PK)";
const EXISTS: &str = "attribute_exists(PK)";

/// Key builders of this module (pure, asserted in tests).
pub mod billing_keys {
    use super::*;

    /// The provider's billing settings: `SETTINGS` / [`SETTINGS_SK`].
    pub const SETTINGS: &str = "SETTINGS";
    pub const SETTINGS_SK: &str = "BILLING";
    /// A period's own item in its partition.
    pub const PERIOD_SK: &str = "PERIOD";
    /// GSI1: every period close, by period.
    pub const PERIODS: &str = "PERIODS";
    /// The prefix of a period's jobs.
    pub const JOBS: &str = "JOB#";
    pub const SEQUENCE_SK: &str = "SEQ";
    /// A customer's `closed_through` item (A44 in [`super::super::usage`]).
    pub const ORG_BILLING: &str = "BILLING";
    /// The prefix of a customer's invoices.
    pub const INVOICES: &str = "INVOICE#";
    /// The prefix of a customer's ledger entries.
    pub const LEDGER: &str = "LEDGER#";
    /// GSI1SK of an invoice and a credit note, each alone in its GSI1 partition.
    pub const INVOICE_SK: &str = "INVOICE";
    pub const CREDIT_SK: &str = "CREDIT";

    pub fn period(period: BillingPeriod) -> String {
        format!("PERIOD#{period}")
    }
    pub fn job(org: &OrgId) -> String {
        format!("JOB#{org}")
    }
    pub fn sequence(series: &InvoiceSeries, kind: DocumentKind, year: i32) -> String {
        let kind = match kind {
            DocumentKind::Invoice => "INV",
            DocumentKind::CreditNote => "CN",
        };
        format!("SEQ#{}#{kind}#{year}", series.as_str())
    }
    /// A customer's invoice of a period (SK in the customer's partition).
    pub fn invoice(period: BillingPeriod) -> String {
        format!("INVOICE#{period}")
    }
    /// GSI1: an invoice by id.
    pub fn invoice_id(id: &InvoiceId) -> String {
        format!("INVOICE#{id}")
    }
    /// GSI2: a period's invoices, by customer.
    pub fn invoices_of_period(period: BillingPeriod) -> String {
        format!("INVOICES#{period}")
    }
    /// A credit note, next to the other notes of its invoice.
    pub fn credit_note(invoice: &InvoiceId, id: &CreditNoteId) -> String {
        format!("CREDIT#{invoice}#{id}")
    }
    pub fn credit_notes_of(invoice: &InvoiceId) -> String {
        format!("CREDIT#{invoice}#")
    }
    /// GSI1: a credit note by id.
    pub fn credit_note_id(id: &CreditNoteId) -> String {
        format!("CREDIT#{id}")
    }
    pub fn ledger_entry(on: NaiveDate, id: &str) -> String {
        format!("LEDGER#{on}#{id}")
    }
    /// A customer's credit (A61).
    pub const CREDIT_BALANCE: &str = "CREDITBALANCE";
    /// The prefix of a customer's payments.
    pub const PAYMENTS: &str = "PAYMENT#";
    /// A customer's payment of a reference: the reference's SHA-256, 32 hex digits (a
    /// reference may hold any character, a key should not).
    pub fn payment(reference: &PaymentReference) -> String {
        let digest = Sha256::digest(reference.as_str().as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("PAYMENT#{hex}")
    }
}

// ---------------------------------------------------------------------------------------
// Fault injection

/// Injected write failures, shared by every clone of a store (see the module docs).
#[derive(Debug, Default)]
pub struct Faults {
    writes: AtomicU64,
    /// The write (counted from the first) that fails; 0 for none.
    fail_at: AtomicU64,
}

impl Faults {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The `n`-th billing write from now (1-based) fails with
    /// `StoreError::Transient("injected fault")` before it is sent; once. `0` fails none.
    pub fn fail_write(&self, n: u64) {
        let at = match n {
            0 => 0,
            n => self.writes.load(Ordering::SeqCst) + n,
        };
        self.fail_at.store(at, Ordering::SeqCst);
    }

    /// No write fails any more.
    pub fn clear(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
    }

    /// Billing writes attempted so far (the failed one included).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    fn before_write(&self) -> Result<(), StoreError> {
        let this = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        match self
            .fail_at
            .compare_exchange(this, 0, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => Err(StoreError::Transient("injected fault".into())),
            Err(_) => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stored shapes

/// The state of a period's close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStatus {
    Closing,
    Closed,
}

impl PeriodStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodStatus::Closing => "closing",
            PeriodStatus::Closed => "closed",
        }
    }
}

/// The state of one customer's job in a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Done,
    Skipped,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Done => "done",
            JobStatus::Skipped => "skipped",
            JobStatus::Failed => "failed",
        }
    }

    /// Whether the job still has to be done (pending, or failed and to be retried).
    pub fn is_open(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Failed)
    }
}

/// A period's close as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPeriod {
    pub period: BillingPeriod,
    pub status: PeriodStatus,
    /// What started it: `schedule`, `admin:usr_…`.
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Customer jobs created.
    pub planned: u64,
    /// Jobs neither done nor skipped.
    pub remaining: u64,
    pub done: u64,
    pub skipped: u64,
    /// Jobs failed at the moment (they are still remaining).
    pub failed: u64,
    /// Where planning goes on: the organisation listing's page key as plain JSON
    /// ([`PageKey::from_plain`]); `None` before the first page and once planning is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_cursor: Option<String>,
    pub plan_complete: bool,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PeriodItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    period: StoredPeriod,
}

/// One customer's job in a period's close, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredJob {
    pub org: OrgId,
    pub status: JobStatus,
    /// Failures so far.
    pub attempts: u32,
    /// The last failure (cleared when the job is done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceId>,
    /// The invoice's number, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// When it last changed; `None` while it is as planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JobItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    job: StoredJob,
    rev: u64,
}

impl JobItem {
    fn pending(period: BillingPeriod, org: OrgId) -> Self {
        Self {
            pk: billing_keys::period(period),
            sk: billing_keys::job(&org),
            kind: "close_job".into(),
            job: StoredJob {
                org,
                status: JobStatus::Pending,
                attempts: 0,
                error: None,
                reason: None,
                invoice: None,
                number: None,
                updated_at: None,
            },
            rev: 1,
        }
    }
}

/// The billing settings with their revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSettings {
    pub settings: BillingSettings,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SettingsItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    settings: BillingSettings,
    rev: u64,
}

#[derive(Debug, Deserialize)]
struct SequenceItem {
    last: u64,
}

/// An invoice as stored, with its revision (moved by each credit note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvoice {
    pub invoice: Invoice,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct InvoiceItem {
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
            sk: billing_keys::invoice(period),
            gsi1pk: billing_keys::invoice_id(&invoice.id),
            gsi1sk: billing_keys::INVOICE_SK.into(),
            gsi2pk: billing_keys::invoices_of_period(period),
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

#[derive(Debug, Serialize, Deserialize)]
struct CreditNoteItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "type")]
    kind: String,
    credit_note: CreditNote,
}

#[derive(Debug, Serialize, Deserialize)]
struct LedgerItem<E> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    entry: E,
}

/// What starting a close did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started(StoredPeriod),
    /// It had been started before: the close as it is now.
    AlreadyStarted(StoredPeriod),
}

/// What planning a page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanOutcome {
    /// Written; `complete` when it was the last page.
    Planned { complete: bool },
    /// The period's cursor is no longer the one the page started from (a repeated message
    /// planned it already), planning is complete, or the close is not `closing` (closed, or
    /// never started): nothing was written.
    AlreadyPlanned,
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

/// What recording a payment did. Nothing is written unless `Recorded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    Recorded,
    /// The customer has a payment of this reference already.
    AlreadyRecorded,
    /// An invoice or the credit changed since they were read: read them again.
    Changed,
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

/// A change of an issued invoice's totals (`#inv` is the invoice), if it is still at the
/// revision read; the caller sets what changes.
fn invoice_change(stored: &StoredInvoice) -> Result<Change, StoreError> {
    let invoice = &stored.invoice;
    let rev = i64::try_from(stored.rev)
        .map_err(|_| StoreError::Corrupt(format!("invoice {}: rev", invoice.id)))?;
    Ok(Change::new(
        keys::org(&invoice.draft.org),
        &billing_keys::invoice(invoice.draft.period),
    )
    .add("rev :one")
    .when("rev = :rev")
    .name("#inv", "invoice")
    .value(":rev", n(rev))
    .value(":one", n(1)))
}

/// The credit moves from what was read to `after` — created at revision 1, or updated if it
/// is still at the revision read. It is written even when the amount stays, so its revision
/// moves with every invoice issued and every payment recorded: of two that read the same
/// credit, the second is cancelled and reads again (an invoice issued meanwhile is then
/// settled by the payment, a payment recorded meanwhile drawn down by the invoice).
fn credit_action(
    store: &Store,
    org: &OrgId,
    read: &StoredCredit,
    after: Money,
) -> Result<TransactWriteItem, StoreError> {
    let (pk, sk) = (keys::org(org), billing_keys::CREDIT_BALANCE);
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
        .when("rev = :rev")
        .value(":c", attr(&after)?)
        .value(":rev", n(rev))
        .value(":one", n(1))
        .action(store)
}

/// What issuing a credit note did. Nothing is written unless `Issued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditOutcome {
    Issued,
    /// Another document took the number: read the sequence again and retry with the next.
    NumberTaken,
    /// The invoice changed since it was read (another credit note): read it again.
    InvoiceChanged,
}

// ---------------------------------------------------------------------------------------
// Writing

/// An `UpdateItem` of one item: sent alone, or as one action of a transaction.
#[derive(Debug)]
struct Change {
    pk: String,
    sk: String,
    set: Vec<String>,
    remove: Vec<String>,
    add: Vec<String>,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Change {
    fn new(pk: String, sk: &str) -> Self {
        Self {
            pk,
            sk: sk.to_owned(),
            set: Vec::new(),
            remove: Vec::new(),
            add: Vec::new(),
            condition: None,
            names: HashMap::new(),
            values: HashMap::new(),
        }
    }

    fn set(mut self, clause: &str) -> Self {
        self.set.push(clause.to_owned());
        self
    }

    fn remove(mut self, path: &str) -> Self {
        self.remove.push(path.to_owned());
        self
    }

    fn add(mut self, clause: &str) -> Self {
        self.add.push(clause.to_owned());
        self
    }

    fn when(mut self, condition: &str) -> Self {
        self.condition = Some(condition.to_owned());
        self
    }

    /// `#alias` stands for the attribute `name` (reserved words: `status`, `type`, `last`,
    /// `error`, `number`).
    fn name(mut self, alias: &str, name: &str) -> Self {
        self.names.insert(alias.to_owned(), name.to_owned());
        self
    }

    fn value(mut self, alias: &str, value: AttributeValue) -> Self {
        self.values.insert(alias.to_owned(), value);
        self
    }

    fn expression(&self) -> String {
        [
            ("SET", &self.set),
            ("REMOVE", &self.remove),
            ("ADD", &self.add),
        ]
        .iter()
        .filter(|(_, clauses)| !clauses.is_empty())
        .map(|(word, clauses)| format!("{word} {}", clauses.join(", ")))
        .collect::<Vec<_>>()
        .join(" ")
    }

    fn action(self, store: &Store) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(store.table())
            .set_key(Some(key(&self.pk, &self.sk)))
            .update_expression(self.expression())
            .set_condition_expression(self.condition)
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Sends it alone; `false` when its condition failed (nothing changed).
    async fn send(self, store: &Store) -> Result<bool, StoreError> {
        let units = capacity::write(0, false);
        let result = store
            .client()
            .update_item()
            .table_name(store.table())
            .set_key(Some(key(&self.pk, &self.sk)))
            .update_expression(self.expression())
            .set_condition_expression(self.condition)
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        written(store, result.map(|out| out.consumed_capacity), units)
    }
}

/// The result of one conditional write, its units recorded: `false` when its condition
/// failed (charged as the write would have been).
fn written<E, R>(
    store: &Store,
    result: Result<Option<ConsumedCapacity>, SdkError<E, R>>,
    units: capacity::Units,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(consumed) => {
            store.record_computed(consumed.as_ref(), units);
            Ok(true)
        }
        Err(err) => match StoreError::from_sdk(err) {
            StoreError::Conflict(_) => {
                store.record_computed(None, units);
                Ok(false)
            }
            other => Err(other),
        },
    }
}

fn attr<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|e| StoreError::Unexpected(format!("cannot encode value: {e}")))
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// The actions of a cancelled transaction whose own condition failed. A collision with
/// another transaction in flight is not one: it is transient (`into_store_error`).
fn failed_conditions(err: &TxError) -> Vec<usize> {
    match err {
        TxError::Cancelled(reasons) => reasons
            .iter()
            .enumerate()
            .filter(|(_, r)| r.as_deref() == Some("ConditionalCheckFailed"))
            .map(|(i, _)| i)
            .collect(),
        TxError::Other(_) => Vec::new(),
    }
}

/// At most [`MAX_REASON_CHARS`] characters of `text`.
fn clip(text: &str) -> String {
    text.chars().take(MAX_REASON_CHARS).collect()
}

fn expect_kind(number: &InvoiceNumber, kind: DocumentKind) -> Result<(), StoreError> {
    if number.kind != kind || number.seq == 0 {
        return Err(StoreError::Unexpected(format!(
            "{number} is not a {kind:?} number of a sequence"
        )));
    }
    Ok(())
}

fn expect_open(org: &OrgId, prev: JobStatus) -> Result<(), StoreError> {
    if prev.is_open() {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "the close of {org} is already {}",
            prev.as_str()
        )))
    }
}

/// The sequence moves from `n − 1` (nothing, for 1) to `n`.
fn take_number(store: &Store, number: &InvoiceNumber) -> Result<TransactWriteItem, StoreError> {
    let seq = i64::try_from(number.seq)
        .map_err(|_| StoreError::Unexpected(format!("{number}: sequence out of range")))?;
    let change = Change::new(
        billing_keys::sequence(&number.series, number.kind, number.year),
        billing_keys::SEQUENCE_SK,
    )
    .set("#last = :n")
    .set("#t = :t")
    .name("#last", "last")
    .name("#t", "type")
    .value(":n", n(seq))
    .value(":t", s("sequence"));
    let change = if seq == 1 {
        change.when(ABSENT)
    } else {
        change.when("#last = :prev").value(":prev", n(seq - 1))
    };
    change.action(store)
}

/// A job moves from `prev` to `to` at `at`, if it is still at `prev`.
fn job_change(
    period: BillingPeriod,
    org: &OrgId,
    prev: JobStatus,
    to: JobStatus,
    at: DateTime<Utc>,
) -> Result<Change, StoreError> {
    Ok(
        Change::new(billing_keys::period(period), &billing_keys::job(org))
            .set("#s = :to")
            .set("updated_at = :at")
            .add("rev :one")
            .when("#s = :prev")
            .name("#s", "status")
            .value(":to", attr(&to)?)
            .value(":prev", attr(&prev)?)
            .value(":at", attr(&at)?)
            .value(":one", n(1)),
    )
}

/// The period's counters after a job left `prev` for `counter` (`done`, `skipped`).
fn job_ended(period: BillingPeriod, counter: &str, prev: JobStatus) -> Change {
    let change = Change::new(billing_keys::period(period), billing_keys::PERIOD_SK)
        .add("remaining :minus")
        .add(&format!("{counter} :one"))
        .add("rev :one")
        .when(EXISTS)
        .value(":minus", n(-1))
        .value(":one", n(1));
    if prev == JobStatus::Failed {
        change.add("failed :minus")
    } else {
        change
    }
}

fn ledger_put(
    store: &Store,
    org: &OrgId,
    entry: &impl Serialize,
    entry_id: &str,
    on: NaiveDate,
) -> Result<TransactWriteItem, StoreError> {
    let item = to_item(&LedgerItem {
        pk: keys::org(org),
        sk: billing_keys::ledger_entry(on, entry_id),
        kind: "ledger_entry".into(),
        entry,
    })?;
    put(store, item, Some(ABSENT))
}

impl PageKey {
    /// The key as plain JSON, to keep in an item or a message (not signed: not for clients;
    /// the HTTP layer's cursors are).
    pub fn to_plain(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// A key from [`to_plain`](Self::to_plain)'s text.
    pub fn from_plain(text: &str) -> Result<Self, StoreError> {
        serde_json::from_str(text)
            .map(PageKey)
            .map_err(|e| StoreError::Corrupt(format!("page key `{text}`: {e}")))
    }
}

impl Store {
    /// The same store, failing billing writes as `faults` says (tests).
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Self {
        self.faults = faults;
        self
    }

    fn before_write(&self) -> Result<(), StoreError> {
        self.faults.before_write()
    }

    /// Puts `item` if its key is new; `false` if it exists (nothing written).
    async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        let units = capacity::write(capacity::item_size(&item), false);
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(ABSENT)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        written(self, result.map(|out| out.consumed_capacity), units)
    }

    // -- A46: settings ---------------------------------------------------------------------

    /// A46: the provider's billing settings, if saved.
    pub async fn billing_settings(&self) -> Result<Option<StoredSettings>, StoreError> {
        Ok(self
            .get::<SettingsItem>(billing_keys::SETTINGS, billing_keys::SETTINGS_SK, true)
            .await?
            .map(|i| StoredSettings {
                settings: i.settings,
                rev: i.rev,
            }))
    }

    /// A46: saves the billing settings: new (`expected_rev = None`) or over revision
    /// `expected_rev`. Returns the new revision.
    pub async fn put_billing_settings(
        &self,
        settings: &BillingSettings,
        expected_rev: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.before_write()?;
        let rev = expected_rev.unwrap_or(0);
        let item = to_item(&SettingsItem {
            pk: billing_keys::SETTINGS.into(),
            sk: billing_keys::SETTINGS_SK.into(),
            kind: "billing_settings".into(),
            settings: settings.clone(),
            rev: rev + 1,
        })?;
        match expected_rev {
            Some(rev) => self.put_at_rev(item, rev, "billing settings").await,
            None if self.put_new(item).await? => Ok(1),
            None => Err(StoreError::Conflict(
                "the billing settings were saved meanwhile; retry".into(),
            )),
        }
    }

    // -- A47–A53: the close -------------------------------------------------------------------

    /// A47: starts the close of `period`, once.
    pub async fn start_period_close(
        &self,
        period: BillingPeriod,
        trigger: &str,
        at: DateTime<Utc>,
    ) -> Result<StartOutcome, StoreError> {
        self.before_write()?;
        let stored = StoredPeriod {
            period,
            status: PeriodStatus::Closing,
            trigger: clip(trigger),
            started_at: at,
            closed_at: None,
            planned: 0,
            remaining: 0,
            done: 0,
            skipped: 0,
            failed: 0,
            plan_cursor: None,
            plan_complete: false,
            rev: 1,
        };
        let item = to_item(&PeriodItem {
            pk: billing_keys::period(period),
            sk: billing_keys::PERIOD_SK.into(),
            gsi1pk: billing_keys::PERIODS.into(),
            gsi1sk: period.to_string(),
            kind: "period_close".into(),
            period: stored.clone(),
        })?;
        if self.put_new(item).await? {
            return Ok(StartOutcome::Started(stored));
        }
        self.period(period)
            .await?
            .map(StartOutcome::AlreadyStarted)
            .ok_or_else(|| {
                StoreError::Transient("the period close vanished after its write".into())
            })
    }

    /// A48: a period's close (strongly consistent).
    pub async fn period(&self, period: BillingPeriod) -> Result<Option<StoredPeriod>, StoreError> {
        Ok(self
            .get::<PeriodItem>(&billing_keys::period(period), billing_keys::PERIOD_SK, true)
            .await?
            .map(|i| i.period))
    }

    /// A48: the closes, newest period first.
    pub async fn list_periods(
        &self,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredPeriod>, StoreError> {
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk: billing_keys::PERIODS,
            sk_prefix: None,
            limit,
            forward: false,
        };
        Ok(self
            .query_page::<PeriodItem>(q, start)
            .await?
            .map(|i| i.period))
    }

    /// A49: one page of planning, all or nothing: a pending job for each of `orgs` (at most
    /// [`MAX_ORGS_PER_PLAN`], each once), their seal (`closed_through` moves to `period`)
    /// when `seal`, and the period's cursor from `cursor_in` to `cursor_out` (`None`: the
    /// last page). A job that exists or a seal refused (a later period closed) is a conflict
    /// naming the customer.
    pub async fn plan_page(
        &self,
        period: BillingPeriod,
        cursor_in: Option<&str>,
        orgs: &[OrgId],
        cursor_out: Option<&str>,
        seal: bool,
    ) -> Result<PlanOutcome, StoreError> {
        if orgs.len() > MAX_ORGS_PER_PLAN {
            return Err(StoreError::Unexpected(format!(
                "a planning page of {} customers is over {MAX_ORGS_PER_PLAN}",
                orgs.len()
            )));
        }
        if orgs.iter().collect::<HashSet<_>>().len() != orgs.len() {
            return Err(StoreError::Unexpected(
                "a planning page names a customer twice".into(),
            ));
        }
        self.before_write()?;
        let complete = cursor_out.is_none();
        let count = i64::try_from(orgs.len()).unwrap_or(i64::MAX);
        let mut plan = Change::new(billing_keys::period(period), billing_keys::PERIOD_SK)
            .set("plan_complete = :complete")
            .add("planned :n")
            .add("remaining :n")
            .add("rev :one")
            .name("#s", "status")
            .value(":complete", AttributeValue::Bool(complete))
            .value(":false", AttributeValue::Bool(false))
            .value(":closing", attr(&PeriodStatus::Closing)?)
            .value(":n", n(count))
            .value(":one", n(1));
        plan = match cursor_out {
            Some(out) => plan.set("plan_cursor = :out").value(":out", s(out)),
            None => plan.remove("plan_cursor"),
        };
        plan = match cursor_in {
            Some(cursor) => plan
                .when("#s = :closing AND plan_complete = :false AND plan_cursor = :in")
                .value(":in", s(cursor)),
            None => plan.when(
                "#s = :closing AND plan_complete = :false AND attribute_not_exists(plan_cursor)",
            ),
        };
        let mut items = vec![plan.action(self)?];
        for org in orgs {
            items.push(put(
                self,
                to_item(&JobItem::pending(period, *org))?,
                Some(ABSENT),
            )?);
        }
        if seal {
            for org in orgs {
                let change = Change::new(keys::org(org), billing_keys::ORG_BILLING)
                    .set("closed_through = :p")
                    .set("#t = :billing")
                    .when("attribute_not_exists(closed_through) OR closed_through < :p")
                    .name("#t", "type")
                    .value(":p", attr(&period)?)
                    .value(":billing", s("billing"));
                items.push(change.action(self)?);
            }
        }
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(PlanOutcome::Planned { complete }),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        match failed.first() {
            Some(0) => Ok(PlanOutcome::AlreadyPlanned),
            Some(&i) if i <= orgs.len() => Err(StoreError::Conflict(format!(
                "{} already has a job in the close of {period}",
                orgs[i - 1]
            ))),
            Some(&i) => Err(StoreError::Conflict(format!(
                "{} is already closed through {period} or later",
                orgs[i - 1 - orgs.len()]
            ))),
            None => Err(err.into_store_error()),
        }
    }

    /// A50: one customer's job (strongly consistent).
    pub async fn job(
        &self,
        period: BillingPeriod,
        org: OrgId,
    ) -> Result<Option<StoredJob>, StoreError> {
        Ok(self
            .get::<JobItem>(
                &billing_keys::period(period),
                &billing_keys::job(&org),
                true,
            )
            .await?
            .map(|i| i.job))
    }

    /// A50: a period's jobs by customer id, all or those of one `status`.
    pub async fn list_jobs(
        &self,
        period: BillingPeriod,
        status: Option<JobStatus>,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredJob>, StoreError> {
        let pk = billing_keys::period(period);
        let Some(status) = status else {
            let q = QuerySpec {
                index: None,
                pk: &pk,
                sk_prefix: Some(billing_keys::JOBS),
                limit,
                forward: true,
            };
            return Ok(self.query_page::<JobItem>(q, start).await?.map(|i| i.job));
        };
        // Read whole pages and keep the jobs of `status`, cut after the `limit`-th: a filter
        // expression would be charged the same reads (DynamoDB filters after reading).
        let limit = usize::try_from(limit.clamp(1, 1000)).unwrap_or(1);
        let mut start = start;
        let mut found = Vec::new();
        loop {
            let q = QuerySpec {
                index: None,
                pk: &pk,
                sk_prefix: Some(billing_keys::JOBS),
                limit: 1000,
                forward: true,
            };
            let page = self.query_page::<JobItem>(q, start).await?;
            for item in page.items.into_iter().filter(|i| i.job.status == status) {
                found.push(item.job);
                if found.len() == limit {
                    let next =
                        PageKey([("PK".to_owned(), item.pk), ("SK".to_owned(), item.sk)].into());
                    return Ok(Page {
                        items: found,
                        next: Some(next),
                    });
                }
            }
            start = page.next;
            if start.is_none() {
                return Ok(Page {
                    items: found,
                    next: None,
                });
            }
        }
    }

    /// A51: a job failed with `error` (kept up to [`MAX_REASON_CHARS`] characters), if it is
    /// still `prev` (pending or failed); the period counts it failed once.
    pub async fn fail_job(
        &self,
        period: BillingPeriod,
        org: OrgId,
        error: &str,
        prev: JobStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        expect_open(&org, prev)?;
        self.before_write()?;
        let job = job_change(period, &org, prev, JobStatus::Failed, at)?
            .set("#err = :error")
            .add("attempts :one")
            .name("#err", "error")
            .value(":error", s(&clip(error)));
        let changed = || StoreError::Conflict(format!("the close of {org} changed meanwhile"));
        if prev == JobStatus::Failed {
            return match job.send(self).await? {
                true => Ok(()),
                false => Err(changed()),
            };
        }
        let counter = Change::new(billing_keys::period(period), billing_keys::PERIOD_SK)
            .add("failed :one")
            .add("rev :one")
            .when(EXISTS)
            .value(":one", n(1));
        self.transact(
            vec![job.action(self)?, counter.action(self)?],
            &[(0, changed())],
        )
        .await
    }

    /// A52: a job skipped for `reason` (nothing to bill), if it is still `prev` (pending or
    /// failed).
    pub async fn skip_job(
        &self,
        period: BillingPeriod,
        org: OrgId,
        reason: &str,
        prev: JobStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        expect_open(&org, prev)?;
        self.before_write()?;
        let job = job_change(period, &org, prev, JobStatus::Skipped, at)?
            .set("reason = :reason")
            .value(":reason", s(&clip(reason)));
        self.transact(
            vec![
                job.action(self)?,
                job_ended(period, "skipped", prev).action(self)?,
            ],
            &[(
                0,
                StoreError::Conflict(format!("the close of {org} changed meanwhile")),
            )],
        )
        .await
    }

    /// A53: closes the period if planning is complete and no job remains; whether it did.
    pub async fn finish_period_if_complete(
        &self,
        period: BillingPeriod,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.before_write()?;
        Change::new(billing_keys::period(period), billing_keys::PERIOD_SK)
            .set("#s = :closed")
            .set("closed_at = :at")
            .add("rev :one")
            .when("#s = :closing AND plan_complete = :true AND remaining = :zero")
            .name("#s", "status")
            .value(":closed", attr(&PeriodStatus::Closed)?)
            .value(":closing", attr(&PeriodStatus::Closing)?)
            .value(":at", attr(&at)?)
            .value(":true", AttributeValue::Bool(true))
            .value(":zero", n(0))
            .value(":one", n(1))
            .send(self)
            .await
    }

    // -- A54–A57: numbering and invoices --------------------------------------------------

    /// A54: the last number used in a sequence (0 before the first).
    pub async fn sequence_last(
        &self,
        series: &InvoiceSeries,
        kind: DocumentKind,
        year: i32,
    ) -> Result<u64, StoreError> {
        Ok(self
            .get::<SequenceItem>(
                &billing_keys::sequence(series, kind, year),
                billing_keys::SEQUENCE_SK,
                true,
            )
            .await?
            .map_or(0, |i| i.last))
    }

    /// A55: issues `invoice` under its number with its ledger `entry` and its id (dated
    /// `entry_on`; `None` for an invoice of zero, which posts nothing) and `event`, ends its customer's job (read at `job_prev_status`: pending or
    /// failed) and counts it done in the period — one transaction. Not retried here: on
    /// `NumberTaken` the caller reads the sequence again and calls again.
    ///
    /// The customer's credit (A61, as `credit` was read) moves to `credit_after` — what is
    /// left once the invoice drew it down — at its next revision: a payment recorded meanwhile
    /// makes it `CreditChanged`, so credit is never drawn twice nor missed.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_invoice<E: Serialize>(
        &self,
        invoice: &Invoice,
        entry: Option<(&E, &str)>,
        entry_on: NaiveDate,
        event: &DomainEvent,
        job_prev_status: JobStatus,
        credit: &StoredCredit,
        credit_after: Money,
    ) -> Result<IssueOutcome, StoreError> {
        let (org, period) = (invoice.draft.org, invoice.draft.period);
        expect_kind(&invoice.number, DocumentKind::Invoice)?;
        expect_open(&org, job_prev_status)?;
        self.before_write()?;
        let job = job_change(period, &org, job_prev_status, JobStatus::Done, event.at)?
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
            job_ended(period, "done", job_prev_status).action(self)?,
            credit_action(self, &org, credit, credit_after)?,
        ];
        if let Some((entry, entry_id)) = entry {
            items.push(ledger_put(self, &org, entry, entry_id, entry_on)?);
        }
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
            .get::<InvoiceItem>(&keys::org(&org), &billing_keys::invoice(period), true)
            .await?
            .map(StoredInvoice::from))
    }

    /// A56: an invoice by id (found on GSI1, then read strongly consistent).
    pub async fn invoice_by_id(&self, id: InvoiceId) -> Result<Option<StoredInvoice>, StoreError> {
        let pk = billing_keys::invoice_id(&id);
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
            sk_prefix: Some(billing_keys::INVOICES),
            limit,
            forward: false,
        };
        Ok(self
            .query_page::<InvoiceItem>(q, start)
            .await?
            .map(StoredInvoice::from))
    }

    /// A57: a period's invoices, by customer id.
    pub async fn list_invoices_of_period(
        &self,
        period: BillingPeriod,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredInvoice>, StoreError> {
        let pk = billing_keys::invoices_of_period(period);
        let q = QuerySpec {
            index: Some(keys::GSI2),
            pk: &pk,
            sk_prefix: None,
            limit,
            forward: true,
        };
        Ok(self
            .query_page::<InvoiceItem>(q, start)
            .await?
            .map(StoredInvoice::from))
    }

    // -- A58–A59: credit notes -------------------------------------------------------------

    /// A58: issues `note` against `invoice` (as read: its revision is the condition), whose
    /// credited total becomes `new_credited`, with its ledger `entry` (`entry_id`, dated the
    /// note's issue date) and `event` — one transaction. Not retried here.
    ///
    /// When the note releases what a paid invoice no longer owes (`released`: the invoice's
    /// new `paid`, and the customer's credit as read with what it becomes), both change in
    /// the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_credit_note(
        &self,
        note: &CreditNote,
        invoice: &StoredInvoice,
        new_credited: Money,
        entry: &impl Serialize,
        entry_id: &str,
        event: &DomainEvent,
        released: Option<(Money, &StoredCredit, Money)>,
    ) -> Result<CreditOutcome, StoreError> {
        let target = &invoice.invoice;
        expect_kind(&note.number, DocumentKind::CreditNote)?;
        if note.invoice != target.id || note.org != target.draft.org {
            return Err(StoreError::Unexpected(format!(
                "credit note {} is for {}, not {}",
                note.id, note.invoice, target.id
            )));
        }
        self.before_write()?;
        let item = to_item(&CreditNoteItem {
            pk: keys::org(&note.org),
            sk: billing_keys::credit_note(&note.invoice, &note.id),
            gsi1pk: billing_keys::credit_note_id(&note.id),
            gsi1sk: billing_keys::CREDIT_SK.into(),
            kind: "credit_note".into(),
            credit_note: note.clone(),
        })?;
        let credited = invoice_change(invoice)?
            .set("#inv.credited = :c")
            .value(":c", attr(&new_credited)?);
        let credited = match released {
            Some((paid, _, _)) => credited
                .set("#inv.paid = :paid")
                .value(":paid", attr(&paid)?),
            None => credited,
        };
        let mut items = vec![
            take_number(self, &note.number)?,
            put(self, item, Some(ABSENT))?,
            credited.action(self)?,
            ledger_put(self, &note.org, entry, entry_id, note.issued_on)?,
            put_event(self, event)?,
        ];
        if let Some((_, credit, after)) = released {
            items.push(credit_action(self, &note.org, credit, after)?);
        }
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(CreditOutcome::Issued),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        if failed.contains(&2) || failed.contains(&5) {
            Ok(CreditOutcome::InvoiceChanged)
        } else if failed.contains(&0) {
            Ok(CreditOutcome::NumberTaken)
        } else {
            Err(err.into_store_error().conflict_means(format!(
                "credit note {}, its ledger entry or its event was written before",
                note.id
            )))
        }
    }

    /// A59: the credit notes of an invoice, oldest first.
    pub async fn credit_notes_of_invoice(
        &self,
        org: OrgId,
        invoice: InvoiceId,
    ) -> Result<Vec<CreditNote>, StoreError> {
        Ok(self
            .query_all::<CreditNoteItem>(&keys::org(&org), &billing_keys::credit_notes_of(&invoice))
            .await?
            .into_iter()
            .map(|i| i.credit_note)
            .collect())
    }

    /// A59: a credit note by id (GSI1: a note is never changed, so the index's copy is it).
    pub async fn credit_note_by_id(
        &self,
        id: CreditNoteId,
    ) -> Result<Option<CreditNote>, StoreError> {
        Ok(self
            .only_on_gsi1::<CreditNoteItem>(&billing_keys::credit_note_id(&id))
            .await?
            .map(|i| i.credit_note))
    }

    // -- A60: the ledger -------------------------------------------------------------------

    /// A60: every ledger entry of a customer, by date then id.
    pub async fn ledger_entries<T: DeserializeOwned>(
        &self,
        org: OrgId,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self
            .query_all::<LedgerItem<T>>(&keys::org(&org), billing_keys::LEDGER)
            .await?
            .into_iter()
            .map(|i| i.entry)
            .collect())
    }

    // -- A61–A63: credit and payments ------------------------------------------------------

    /// A61: a customer's credit (strongly consistent): zero in `currency`, at `rev` 0, when
    /// it never had any.
    pub async fn credit(&self, org: OrgId, currency: Currency) -> Result<StoredCredit, StoreError> {
        Ok(self
            .get::<CreditItem>(&keys::org(&org), billing_keys::CREDIT_BALANCE, true)
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

    /// A62: records `payment` (once per customer and reference) with its ledger `entry`
    /// (`entry_id`, on the day received) and `event`; each `(invoice as read, its new paid)`
    /// of `settled` and the customer's credit (as read, and what it becomes) change in the
    /// same transaction, conditional on not having changed since they were read.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_payment(
        &self,
        payment: &Payment,
        settled: &[(&StoredInvoice, Money)],
        credit: &StoredCredit,
        credit_after: Money,
        entry: &impl Serialize,
        entry_id: &str,
        event: &DomainEvent,
    ) -> Result<PaymentOutcome, StoreError> {
        let org = payment.org;
        self.before_write()?;
        let item = to_item(&PaymentItem {
            pk: keys::org(&org),
            sk: billing_keys::payment(&payment.reference),
            kind: "payment".into(),
            payment: payment.clone(),
        })?;
        let mut items = vec![
            put(self, item, Some(ABSENT))?,
            ledger_put(self, &org, entry, entry_id, payment.received_on)?,
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
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(PaymentOutcome::Recorded),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        if failed.contains(&0) {
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
            .get::<PaymentItem>(&keys::org(&org), &billing_keys::payment(reference), true)
            .await?
            .map(|i| i.payment))
    }

    /// A63: every payment of a customer, oldest received first.
    pub async fn payments_of(&self, org: OrgId) -> Result<Vec<Payment>, StoreError> {
        let mut payments: Vec<Payment> = self
            .query_all::<PaymentItem>(&keys::org(&org), billing_keys::PAYMENTS)
            .await?
            .into_iter()
            .map(|i| i.payment)
            .collect();
        payments.sort_by_key(|p| (p.received_on, p.recorded_at, p.id));
        Ok(payments)
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

    // -- What a customer's close reads (existing patterns) --------------------------------

    /// A3, for planning: a page of organisation ids. The cursors are [`PageKey`]s as plain
    /// text ([`PageKey::to_plain`]), as the period keeps them.
    pub async fn list_org_ids(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Vec<OrgId>, Option<String>), StoreError> {
        let start = cursor.map(PageKey::from_plain).transpose()?;
        let page = self.list_organisations(limit, start).await?;
        Ok((
            page.items.into_iter().map(|o| o.id).collect(),
            page.next.as_ref().map(PageKey::to_plain),
        ))
    }

    /// A36, every page: all of a customer's subscriptions, oldest first.
    pub async fn subscriptions_all(&self, org: OrgId) -> Result<Vec<Subscription>, StoreError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let page = self.list_subscriptions(org, 1000, start).await?;
            all.extend(page.items.into_iter().map(|s| s.subscription));
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// A39 + A40: what a period's invoice rates, per meter: the customer's events of the
    /// period not moved to a later one as late, and late events of earlier periods billed in
    /// it. Meters with no event billed in the period are left out.
    pub async fn usage_billed_in(
        &self,
        org: OrgId,
        period: BillingPeriod,
    ) -> Result<BTreeMap<ServiceCode, MeterUsage>, StoreError> {
        let meters = self.meters_used(org, period).await?;
        let usages = futures::future::try_join_all(meters.iter().map(|meter| async move {
            Ok::<_, StoreError>((meter.clone(), self.usage_of(org, meter, period).await?))
        }))
        .await?;
        Ok(usages
            .into_iter()
            .filter(|(_, usage)| usage.events > 0)
            .collect())
    }

    /// The one item of a GSI1 partition, if any.
    async fn only_on_gsi1<T: DeserializeOwned>(&self, pk: &str) -> Result<Option<T>, StoreError> {
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk,
            sk_prefix: None,
            limit: 1,
            forward: true,
        };
        Ok(self
            .query_page::<T>(q, None)
            .await?
            .items
            .into_iter()
            .next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_strings_are_stable() {
        let org: OrgId = "org_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let inv: InvoiceId = "inv_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let crn: CreditNoteId = "crn_01ARZ3NDEKTSV4RRFFQ69G5FAW".parse().unwrap();
        let nov = BillingPeriod::new(2026, 11).unwrap();
        let series = InvoiceSeries::new("KPK").unwrap();
        assert_eq!(billing_keys::period(nov), "PERIOD#2026-11");
        assert_eq!(
            billing_keys::job(&org),
            "JOB#org_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert!(billing_keys::job(&org).starts_with(billing_keys::JOBS));
        assert_eq!(
            billing_keys::sequence(&series, DocumentKind::Invoice, 2026),
            "SEQ#KPK#INV#2026"
        );
        assert_eq!(
            billing_keys::sequence(&series, DocumentKind::CreditNote, 2027),
            "SEQ#KPK#CN#2027"
        );
        assert_eq!(billing_keys::invoice(nov), "INVOICE#2026-11");
        assert!(billing_keys::invoice(nov).starts_with(billing_keys::INVOICES));
        assert_eq!(
            billing_keys::invoice_id(&inv),
            "INVOICE#inv_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert_eq!(billing_keys::invoices_of_period(nov), "INVOICES#2026-11");
        assert_eq!(
            billing_keys::credit_note(&inv, &crn),
            "CREDIT#inv_01ARZ3NDEKTSV4RRFFQ69G5FAV#crn_01ARZ3NDEKTSV4RRFFQ69G5FAW"
        );
        assert!(
            billing_keys::credit_note(&inv, &crn).starts_with(&billing_keys::credit_notes_of(&inv))
        );
        assert_eq!(
            billing_keys::credit_note_id(&crn),
            "CREDIT#crn_01ARZ3NDEKTSV4RRFFQ69G5FAW"
        );
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            billing_keys::ledger_entry(day, "jrn_1"),
            "LEDGER#2026-12-01#jrn_1"
        );
        assert!(billing_keys::ledger_entry(day, "jrn_1").starts_with(billing_keys::LEDGER));
    }

    #[test]
    fn a_page_key_survives_plain_text() {
        let key = PageKey(BTreeMap::from([
            ("GSI1PK".to_owned(), "ORGS".to_owned()),
            ("GSI1SK".to_owned(), "ORG#org_1".to_owned()),
            ("PK".to_owned(), "ORG#org_1".to_owned()),
            ("SK".to_owned(), "ORG".to_owned()),
        ]));
        let text = key.to_plain();
        assert_eq!(PageKey::from_plain(&text).unwrap(), key);
        // The same key always gives the same text, so a stored cursor compares equal.
        assert_eq!(key.clone().to_plain(), text);
        assert!(matches!(
            PageKey::from_plain("not json"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn faults_fail_the_nth_write_once_and_count_every_write() {
        let faults = Faults::new();
        assert!(faults.before_write().is_ok());
        assert_eq!(faults.writes(), 1);
        faults.fail_write(2);
        assert!(faults.before_write().is_ok());
        match faults.before_write() {
            Err(StoreError::Transient(m)) => assert_eq!(m, "injected fault"),
            other => panic!("expected the injected fault, got {other:?}"),
        }
        assert!(faults.before_write().is_ok(), "a fault fails once");
        assert_eq!(faults.writes(), 4);
        faults.fail_write(1);
        faults.clear();
        assert!(faults.before_write().is_ok());
        faults.fail_write(0);
        assert!(faults.before_write().is_ok());
    }

    #[test]
    fn an_update_expression_groups_its_clauses() {
        let change = Change::new("P".into(), "S")
            .set("a = :a")
            .add("n :one")
            .set("b = :b")
            .remove("c");
        assert_eq!(
            change.expression(),
            "SET a = :a, b = :b REMOVE c ADD n :one"
        );
    }

    #[test]
    fn a_reason_is_kept_up_to_its_limit() {
        assert_eq!(clip("short"), "short");
        let long = "я".repeat(MAX_REASON_CHARS + 5);
        assert_eq!(clip(&long).chars().count(), MAX_REASON_CHARS);
    }
}
