//! The period close, invoice numbering, invoices, credit notes, the ledger, credit and payments
//! (access patterns A46–A64).
//!
//! | # | Access pattern | Operation | Key | Write cost (WCU; a transaction's actions count twice) |
//! |---|----------------|-----------|-----|------------|
//! | A46 | The provider's billing settings | `GetItem` (consistent) / `PutItem` if `rev = :expected` (created: a transaction of one, `attribute_not_exists(PK)`) | `SETTINGS` / `BILLING` | 1 (created: 2) |
//! | A64 | The provider's requisites (documents print them) | as A46 | `SETTINGS` / `REQUISITES` | 1 (created: 2) |
//! | A47 | Start a period's close, once | `PutItem` if `attribute_not_exists(PK)`; on refusal a consistent `GetItem` | `PERIOD#{yyyy-mm}` / `PERIOD`; GSI1 `PERIODS` / `{yyyy-mm}` | 1 + 1 (GSI1) |
//! | A48 | A period's close / the closes, newest first — with its counts | `GetItem` (consistent) / `Query GSI1` backwards; while closing, the sum of its 32 tallies (`BatchGetItem`, consistent) | as A47; tallies `PERIOD#{p}#J{nn}` / `TALLY` | – |
//! | A49 | Plan a page of ≤ 33 customers of one planning segment: their jobs, their shards' tallies, their seal, the segment's cursor | listing: A3c over the segment's shards in turn; `TransactWriteItems` (≤ 99 actions): the segment's own tally (shard `segment`: `plan_done = false AND plan_cursor = :in`, or neither yet for its first page; `SET plan_cursor`, `plan_done`), the tally of each other shard the page's customers fall in (`ADD planned, remaining`), a job per customer (`attribute_not_exists(PK)`), a seal per customer (`closed_through < :p`) | `PERIOD#{p}#J{nn}` / `TALLY`, `PERIOD#{p}#J{nn}` / `JOB#{org}` (`nn` = `job_shard(org)`, 32 shards), `ORG#{org}` / `BILLING` | 2 per shard + 4 per customer: 2 + 4 × 33 = 134 for a full page of one shard |
//! | A50 | A customer's job / a period's jobs, optionally of one status | `GetItem` (consistent) / `Query` `SK begins_with JOB#` shard after shard (keeping those of the status) | `PERIOD#{p}#J{nn}` / `JOB#{org}` | – |
//! | A51 | A job failed | `UpdateItem` if `status = :prev` (first failure: a transaction with its shard's `failed`) | job, tally | again: 1; first: 4 |
//! | A52 | A job skipped (nothing to bill) | `TransactWriteItems`: job if `status = :prev`, its shard's tally, `period.closed` | job, tally, event | 6 + 1 (outbox) |
//! | A53 | The period closed when its last job is | a consistent `GetItem` of the ending job's tally; at 0 the period (`GetItem`) and every tally (`BatchGetItem`); every segment planned and none remaining: `UpdateItem` if `status = closing`, with the final counts and `plan_complete` | tally, `PERIOD#{p}` / `PERIOD` | 1 + 1 (GSI1), once per close |
//! | A54 | The last number of a sequence | `GetItem` (consistent) | `SEQ#{series}#{INV\|CN}#{year}` / `SEQ` | – (moved inside A55, A58) |
//! | A55 | Issue a block of invoices (1–10, numbered one after another in one sequence; `issue_invoice` is a block of one) | `TransactWriteItems` of at most 91: the sequence `first−1 → last` once; per invoice: the invoice (`attribute_not_exists(PK)`: one per customer and period), its job (`status = :prev`), its credit (A61), ledger entry, `invoice_issued`, `period.closed`, and at a customer's first invoice in a series subdivision its placement (`ORG#{org}` / `ORG`, `SET series_index` if `attribute_not_exists`); per shard the block touches, its tally once (`ADD done :k, remaining −k`) | sequence; `ORG#{org}` / `INVOICE#{yyyy-mm}` (GSI1 `INVOICE#{inv}` / `INVOICE`, GSI2 `INVOICES#{yyyy-mm}#{nn}` / `{org}`, `nn` its job's shard); `ORG#{org}` / `LEDGER#{yyyy-mm-dd}#{entry}`; `ORG#{org}` / `HISTORY#{inv}#{evt}` (GSI1 `OUTBOX#{nn}`) | per invoice 2 × (4 + I + L) + 2I (GSI1, GSI2) + 2 (outbox), per block 2 (sequence) + 2 per shard touched: 20 for a block of one with an invoice and entry of 1 KB each, 16.6 per invoice in a block of ten over two shards |
//! | A56 | An invoice: of a customer and period / by id | `GetItem` (consistent) / `Query GSI1` then `GetItem` (consistent) | as A55 | – |
//! | A57 | Invoices of a customer, newest period first / of a period, shard by shard and by customer within one | `Query` `SK begins_with INVOICE#` backwards / `Query GSI2` of each of the 32 shards in turn | as A55 | – |
//! | A58 | Issue a credit note | `TransactWriteItems` of 5: sequence `n−1 → n`, credit note (`attribute_not_exists(PK)`), invoice `credited` if `rev = :rev`, ledger entry, event | `ORG#{org}` / `CREDIT#{inv}#{crn}` (GSI1 `CREDIT#{crn}` / `CREDIT`), invoice as A55 | 2 × (2 + C + I + L) + C (GSI1) + 2I (GSI1, GSI2) + 1 (outbox) |
//! | A59 | Credit notes of an invoice / of a customer / a credit note by id | `Query` `SK begins_with CREDIT#{inv}#` / `SK begins_with CREDIT#` / `Query GSI1` | as A58 | – |
//! | A60 | A customer's ledger entries, by date | `Query` `SK begins_with LEDGER#` (every page) | `ORG#{org}` / `LEDGER#…` | – |
//! | A61 | A customer's credit (prepaid or overpaid, not yet drawn down) | `GetItem` (consistent); written only inside A55, A58, A62 — also when its amount stays, so its `rev` orders every invoice issued and payment recorded: `PutItem` if `attribute_not_exists(PK)` / `UpdateItem` if `rev = :rev` | `ORG#{org}` / `CREDITBALANCE` | 2 in a transaction |
//! | A62 | Record a payment once per reference, settling open invoices | `TransactWriteItems` of 4 + k (k ≤ 90): payment (`attribute_not_exists(PK)`), ledger entry, event, credit (A61), each settled invoice's `paid` if `rev = :rev` | `ORG#{org}` / `PAYMENT#{sha-256 of the reference, 32 hex}`; ledger, event as A55 | 2 × (3 + P + L + k·I) + k·2I (GSI1, GSI2) + 1 (outbox) |
//! | A63 | A customer's payments / one by reference / one by id / those recorded by hand on a day (a statement line's duplicate) | `Query` `SK begins_with PAYMENT#` (every page) / `GetItem` (consistent) / `Query GSI1` / `Query GSI2` | as A62; GSI1 `PAYMENT#{pay}` / `PAYMENT`; GSI2 (by hand only) `HANDPAID#{org}#{received on}` / `{pay}` | – |
//! | A81 | Reverse a payment once: reopen what it settled, withdraw its credit | `TransactWriteItems` of 4 + k: the payment (`attribute_not_exists(payment.reversed)`), the reversing ledger entry, event, credit (A61), each reopened invoice's `paid` if `rev = :rev` (and, for a statement's payment, its line back to review: A78) | as A62 | as A62 |
//! | A82 | Record a refund once per reference, from the credit; a customer's refunds | `TransactWriteItems` of 4: refund (`attribute_not_exists(PK)`), ledger entry, event, credit (A61) / `Query` `SK begins_with REFUND#` | `ORG#{org}` / `REFUND#{sha-256 of the reference, 32 hex}` | 2 × 4 + 1 (outbox) |
//!
//! I, L, C: the size of the invoice, the ledger entry and the credit note in KB, rounded up
//! (an invoice of many lines is several KB, and every index that projects it costs as much
//! again). An update is charged by the size of the whole item, not of what it changes.
//!
//! ## The close
//!
//! A period's close is one item, `PERIOD#{yyyy-mm}` / `PERIOD`, created once (A47), and 32
//! **shards** `PERIOD#{yyyy-mm}#J{nn}`: a customer's job lives in the shard
//! `kopek_domain::close::job_shard` gives it, beside that shard's **tally** of its jobs —
//! `planned`, of which `remaining` are neither done nor skipped, `done`, `skipped`, and
//! `failed` (jobs failed at the moment; a failed job is still remaining). The period's counts
//! are the tallies' sums (A48), kept on the period's item once it is closed. So no item and no
//! partition is written by every customer: a tally by one in 32 and by each planning page
//! that has one of its customers, the period's item by its start and its close.
//!
//! Planning (A49) runs in **segments** side by side (`plan_segments`, a divisor of 32 set at
//! the start; 32 by default): segment `k` plans the job shards `k`, `k + n`, … — their
//! organisations listed on GSI3 (A3c), shard after shard — a page at a time; each page's
//! jobs, their tallies, the customers' seal (`ORG#{org}` / `BILLING`, `closed_through`, the
//! item usage ingestion reads, A44) and the move of the segment's cursor (kept on the tally of
//! shard `k`) are one transaction conditional on the cursor it started from, so a repeated
//! page writes nothing (`AlreadyPlanned`). A cursor is `{shard}` or `{shard}:{page key}` (the
//! GSI3 listing's [`PageKey`] as plain JSON, [`PageKey::to_plain`]). Planning is complete when
//! every segment's tally says `plan_done`.
//!
//! Each job ends in a transaction with its shard's tally: issued (A55, in a block of up to
//! ten invoices of one series, each with its number, ledger entry and events, each shard's
//! tally moved once for the block) or skipped (A52); the period closes (A53) when planning is
//! complete and nothing remains in any shard — looked at by the step that finds its own shard
//! at 0.
//!
//! Blocks of one series are numbered one at a time (the FIFO `NumberQueue` delivers a
//! series' messages to one step at a time), so they do not race for their sequence; blocks
//! of different series may share a tally, and a skip (A52) may too. A transaction that
//! collides with another in flight is cancelled and reported as [`StoreError::Transient`], to
//! be retried. Outcomes (`NumberTaken`, `AlreadyIssued`, …) come only from failed conditions,
//! never from such collisions. With a series count that divides 32 (1, 2, 4, 8, 16, 32) a
//! shard's customers are all in one series (both are the same hash of the id, modulo 32 and
//! modulo the count), so blocks of different series never share a tally.
//!
//! ## Numbering
//!
//! `SEQ#{series}#{INV|CN}#{year}` / `SEQ` holds `last`, the last number used; `{series}` is the
//! provider's code (`KPK`) or, where invoices are numbered in several series, a subdivision of
//! it (`KPK-07`), each a sequence of its own. Issuing number
//! `n` moves it from `n − 1` to `n` (from nothing when `n = 1`) in the same transaction that
//! writes the document — a block of k invoices moves it from `n − 1` to `n + k − 1` in the
//! transaction that writes all k — so a number is used exactly when its document exists,
//! without gaps. A step that loses the numbers to another is told `NumberTaken`, reads the
//! sequence again (A54) and retries; nothing here retries.
//!
//! ## Modules
//!
//! [`settings`] (A46, A64), [`close`] (A47–A53), [`numbering`] (A54 and the sequence move inside
//! A55, A58), [`invoices`] (A55–A57), [`credit_notes`] (A58–A59), [`ledger`] (A60),
//! [`payments`] (A61–A63: the credit and payments). The writes of A55, A58 and A62 take a
//! command ([`IssueInvoice`], [`IssueCreditNote`], [`RecordPayment`]) naming each item as
//! read, so the transaction's conditions are the revisions the caller composed from.
//!
//! With the `faults` feature (tests only), a store `with_faults` fails the n-th write from
//! now before or after sending it (`kopek_aws::faults`).

pub mod close;
pub mod credit_notes;
pub mod invoices;
pub mod ledger;
pub mod numbering;
pub mod payments;
pub mod settings;

pub use close::{
    MAX_ORGS_PER_PLAN, MAX_REASON_CHARS, PendingSegment, PlanOutcome, StartOutcome, StoredJob,
    StoredPeriod,
};
pub use credit_notes::{CreditOutcome, IssueCreditNote, Released};
pub use invoices::{BlockOutcome, IssueInvoice, IssueOutcome, MAX_BLOCK_INVOICES, StoredInvoice};
pub use payments::{
    PaymentOutcome, RecordPayment, RecordRefund, RefundOutcome, ReversePayment, StoredCredit,
};
pub use settings::StoredSettings;

#[cfg(doc)]
use crate::dynamo::{PageKey, StoreError};
