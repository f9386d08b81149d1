//! The DynamoDB store: one table (`MainTable` in `infra/template.yaml`), single-table design.
//!
//! Every item carries `PK`, `SK`, its entity type `type`, and (where it is ever updated) a
//! revision `rev` for optimistic locking. Items that should disappear by themselves carry
//! `expires_at` (epoch seconds), the table's TTL attribute. The sparse index `GSI1`
//! (`GSI1PK`/`GSI1SK`, projection ALL) serves the listings.
//!
//! ## Access patterns
//!
//! | # | Access pattern | Operation | Key |
//! |---|----------------|-----------|-----|
//! | A1 | Register an organisation with its first user, e-mail unique regardless of case | `TransactWriteItems`: 3 conditional puts | `ORG#{org}`/`ORG`, `USER#{usr}`/`USER`, `EMAIL#{email lowercased}`/`EMAIL` |
//! | A2 | Get an organisation | `GetItem` | `ORG#{org}` / `ORG` |
//! | A3 | List organisations (staff) | `Query GSI1` | `GSI1PK = ORGS`, `GSI1SK = ORG#{org}` |
//! | A4 | Find a user by e-mail (sign-in) | `GetItem` ×2 | `EMAIL#{email}` / `EMAIL` → `USER#{usr}` / `USER` |
//! | A5 | Get a user by id | `GetItem` | `USER#{usr}` / `USER` |
//! | A6 | List an organisation's users / the staff | `Query GSI1` | `GSI1PK = ORG#{org}` or `STAFF`, `GSI1SK begins_with USER#` |
//! | A7 | Add a user (invitation), e-mail unique | `TransactWriteItems`: user + e-mail guard + invitation | `INVITE#{sha256(token)}` / `INVITE` (TTL 7 days) |
//! | A8 | Accept an invitation | `TransactWriteItems`: delete invitation (condition exists), update user | |
//! | A9 | Start / check / end a session | `PutItem` / `GetItem` (consistent) / `DeleteItem` | `USER#{usr}` / `SESSION#{ses}` (TTL = session lifetime) |
//! | A10 | End every session of a user (password change) | `Query` + `BatchWriteItem` deletes (≤ 25 per batch) | `USER#{usr}`, `SK begins_with SESSION#` |
//! | A11 | API key by id (every machine request) | `GetItem` | `APIKEY#{key}` / `APIKEY` |
//! | A12 | List API keys of an owner | `Query GSI1` | `GSI1PK = ORG#{org}` or `STAFF`, `GSI1SK begins_with APIKEY#` |
//! | A13 | Count failed sign-ins per account and per address | `UpdateItem ADD` / `BatchGetItem` | `THROTTLE#{ACCOUNT|ADDRESS}#{subject}` / `WINDOW#{start}` (TTL = window end) |
//! | A14 | Idempotent POST | conditional `PutItem`, `UpdateItem`, `GetItem` | `IDEM#{caller}#{key}` / `IDEM` (TTL 24 h) |
//! | A15 | Service by code with every price version (a price in force on any date) | `GetItem` | `SERVICE#{code}` / `SERVICE` |
//! | A16 | Create a service, code unique | conditional `PutItem` | `attribute_not_exists(PK)` |
//! | A17 | New price version / retire | `UpdateItem` with `rev = :expected` | |
//! | A18 | Browse the catalog by status | `Query GSI1` | `GSI1PK = CATALOG#{active|retired}`, `GSI1SK = SERVICE#{code}` |
//!
//! | A19–A27 | Orders, their lines (the work orders), charges, history and the outbox | see [`orders`] | `ORG#{org}` / `ORDER#…`, `CHARGE#…`, `HISTORY#…`; GSI1 `QUEUE#{work type}`, `ORDERS#{month}`, `OUTBOX` |
//! | A28–A34 | Work queues and batches: take (one transaction), complete (≤ 100 actions each), stale sweep | see [`work`] | `BATCH#{bat}`; GSI1 `ENGINEER#{usr}`; GSI2 `OPENBATCHES` |
//! | A35–A37 | Subscriptions | see [`subscriptions`] | `ORG#{org}` / `SUB#{sub}` |
//! | A46–A60 | Period close (status, customer jobs), invoice numbering, invoices, credit notes, the ledger | see [`billing`] | `PERIOD#{yyyy-mm}`, `SEQ#…`, `SETTINGS`; `ORG#{org}` / `INVOICE#…`, `CREDIT#…`, `LEDGER#…`; GSI1 `PERIODS`, `INVOICE#{inv}`, `CREDIT#{crn}`; GSI2 `INVOICES#{yyyy-mm}` |
//!
//! The outbox is one GSI1 partition (`OUTBOX`): one index write per event, far below a
//! partition's 1,000 writes per second at the order rates Kopek serves; shard it
//! (`OUTBOX#{n}`) if ever needed.
//!
//! Price versions live inside the service item (at most [`catalog::MAX_PRICE_VERSIONS`]), so
//! the price in force on any date is one read and a version is added atomically with the
//! service's revision check.
//!
//! Listings return a [`PageKey`] (the last evaluated key); the HTTP layer turns it into a
//! signed, opaque cursor, so clients never see or forge keys.

pub mod accounts;
pub mod billing;
pub mod catalog;
pub mod idempotency;
pub mod orders;
pub mod subscriptions;
pub mod throttle;
pub mod usage;
pub mod work;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, Put, ReturnConsumedCapacity, TransactWriteItem,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub type Item = HashMap<String, AttributeValue>;

/// What can go wrong in the store, without any SDK type.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A condition failed: the thing exists already, changed meanwhile, or is in another state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A page cursor from another listing.
    #[error("the cursor belongs to another listing")]
    ForeignCursor,
    /// A uniqueness guard refused: the named value (`email`, `code`) is taken.
    #[error("{0} is already taken")]
    Duplicate(&'static str),
    /// Throttling, a timeout, an unavailable service: the same call may succeed later.
    #[error("storage temporarily unavailable: {0}")]
    Transient(String),
    /// A stored item that no longer parses: a bug or a manual edit, never the caller's fault.
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
    #[error("storage error: {0}")]
    Unexpected(String),
}

impl StoreError {
    /// The same error, with a failed condition explained as `meaning` (what the condition
    /// guarded), so callers see why and not just "condition failed".
    pub(crate) fn conflict_means(self, meaning: impl Into<String>) -> Self {
        match self {
            StoreError::Conflict(_) => StoreError::Conflict(meaning.into()),
            other => other,
        }
    }

    pub(crate) fn from_sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().unwrap_or_default().to_owned();
        let text = DisplayErrorContext(&err).to_string();
        match code.as_str() {
            "ConditionalCheckFailedException" => StoreError::Conflict("condition failed".into()),
            "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "ThrottlingException"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "TransactionInProgressException" => StoreError::Transient(text),
            _ => match err {
                SdkError::TimeoutError(_)
                | SdkError::DispatchFailure(_)
                | SdkError::ResponseError(_) => StoreError::Transient(text),
                _ => StoreError::Unexpected(text),
            },
        }
    }
}

/// Where a listing stopped: the last evaluated key's string attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PageKey(pub BTreeMap<String, String>);

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageKey>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// Requests and capacity units spent through one [`Store`], for benchmarks and logs.
///
/// Units are what DynamoDB reports (`ReturnConsumedCapacity`). Where the service reports none
/// (the local emulator never does), the store computes them itself from the items it wrote or
/// read, by DynamoDB's published rules ([`capacity`]), and counts that request in
/// `computed_requests`, so a figure never silently reads 0.
#[derive(Debug, Default)]
pub struct Usage {
    requests: AtomicU64,
    read_milli_units: AtomicU64,
    write_milli_units: AtomicU64,
    computed_requests: AtomicU64,
}

/// A copy of [`Usage`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageSnapshot {
    pub requests: u64,
    pub read_milli_units: u64,
    pub write_milli_units: u64,
    /// Requests whose units the store computed because the service reported none.
    pub computed_requests: u64,
}

impl Usage {
    fn record(&self, consumed: &[ConsumedCapacity], computed: capacity::Units) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let to_milli = |v: Option<f64>| (v.unwrap_or(0.0) * 1000.0).round() as u64;
        let reported = consumed
            .iter()
            .fold(capacity::Units::default(), |sum, c| capacity::Units {
                read_milli: sum.read_milli + to_milli(c.read_capacity_units()),
                write_milli: sum.write_milli + to_milli(c.write_capacity_units()),
            });
        let units = if reported == capacity::Units::default() && computed != reported {
            self.computed_requests.fetch_add(1, Ordering::Relaxed);
            computed
        } else {
            reported
        };
        self.read_milli_units
            .fetch_add(units.read_milli, Ordering::Relaxed);
        self.write_milli_units
            .fetch_add(units.write_milli, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> UsageSnapshot {
        UsageSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            read_milli_units: self.read_milli_units.load(Ordering::Relaxed),
            write_milli_units: self.write_milli_units.load(Ordering::Relaxed),
            computed_requests: self.computed_requests.load(Ordering::Relaxed),
        }
    }
}

/// DynamoDB's capacity rules, to compute units where the service reports none.
///
/// Item size: the UTF-8 bytes of every attribute name plus its value — a string its UTF-8
/// bytes, a number 1 byte per two significant digits plus 1, binary its bytes, a boolean or
/// null 1 byte, a map or list 3 bytes plus its elements (a map's names count) plus 1 byte each.
/// A standard write costs 1 unit per KB (rounded up, at least 1), inside a transaction 2; a
/// strongly consistent read 1 unit per 4 KB (a query sums its items before rounding),
/// eventually consistent half that.
pub mod capacity {
    use super::Item;
    use aws_sdk_dynamodb::types::AttributeValue;

    /// Units in thousandths.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Units {
        pub read_milli: u64,
        pub write_milli: u64,
    }

    pub fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => {
                let digits = n
                    .trim_start_matches(['-', '+'])
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>();
                let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
                significant.max(1).div_ceil(2) + 1
            }
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::M(m) => {
                3 + m
                    .iter()
                    .map(|(k, v)| k.len() + value_size(v) + 1)
                    .sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
            AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
            AttributeValue::Ns(v) => v
                .iter()
                .map(|n| value_size(&AttributeValue::N(n.clone())))
                .sum(),
            AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
            _ => 0,
        }
    }

    pub fn item_size(item: &Item) -> usize {
        item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
    }

    /// A write of an item of `bytes` (0 for an update whose size is unknown: 1 unit).
    pub fn write(bytes: usize, transactional: bool) -> Units {
        let units = bytes.div_ceil(1024).max(1) as u64;
        Units {
            read_milli: 0,
            write_milli: units * 1000 * if transactional { 2 } else { 1 },
        }
    }

    /// A read of `bytes` in one request (a get, or a query page).
    pub fn read(bytes: usize, consistent: bool) -> Units {
        let units = bytes.div_ceil(4096).max(1) as u64 * 1000;
        Units {
            read_milli: if consistent { units } else { units / 2 },
            write_milli: 0,
        }
    }

    pub fn sum(units: impl IntoIterator<Item = Units>) -> Units {
        units.into_iter().fold(Units::default(), |a, b| Units {
            read_milli: a.read_milli + b.read_milli,
            write_milli: a.write_milli + b.write_milli,
        })
    }
}

/// The store: a DynamoDB client bound to the main table.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: Arc<str>,
    usage: Arc<Usage>,
    /// Faults injected into billing writes by tests ([`billing::Faults`]); none by default.
    faults: Arc<billing::Faults>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            usage: Arc::default(),
            faults: Arc::default(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Requests and capacity units spent so far through this store.
    pub fn usage(&self) -> UsageSnapshot {
        self.usage.snapshot()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn record(&self, consumed: Option<&ConsumedCapacity>) {
        self.record_computed(consumed, capacity::Units::default());
    }

    pub(crate) fn record_many(&self, consumed: &[ConsumedCapacity]) {
        self.usage.record(consumed, capacity::Units::default());
    }

    /// Records one request with the units the store computed for it, used where the service
    /// reported none.
    pub(crate) fn record_computed(
        &self,
        consumed: Option<&ConsumedCapacity>,
        computed: capacity::Units,
    ) {
        self.usage
            .record(consumed.map(std::slice::from_ref).unwrap_or(&[]), computed);
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        consistent: bool,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let bytes = out.item.as_ref().map_or(0, capacity::item_size);
        self.record_computed(out.consumed_capacity(), capacity::read(bytes, consistent));
        out.item.map(from_item).transpose()
    }

    /// Writes `item` (already carrying revision `rev + 1`) if the stored one is still at
    /// `rev`; otherwise a conflict saying that `what` changed meanwhile.
    pub(crate) async fn put_at_rev(
        &self,
        item: Item,
        rev: u64,
        what: &str,
    ) -> Result<u64, StoreError> {
        let units = capacity::write(capacity::item_size(&item), false);
        let out = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression("rev = :rev")
            .expression_attribute_values(":rev", AttributeValue::N(rev.to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| {
                StoreError::from_sdk(e)
                    .conflict_means(format!("the {what} changed meanwhile; retry"))
            })?;
        self.record_computed(out.consumed_capacity(), units);
        Ok(rev + 1)
    }

    /// Every item of one partition whose sort key starts with `prefix`, in key order.
    pub(crate) async fn query_all<T: DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.query_all_at(None, pk, Some(prefix)).await
    }

    /// Every item of one partition of the table (`index = None`) or of `GSI1`, in key order.
    pub(crate) async fn query_all_at<T: DeserializeOwned>(
        &self,
        index: Option<&str>,
        pk: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<T>, StoreError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let q = QuerySpec {
                index,
                pk,
                sk_prefix: prefix,
                limit: 1000,
                forward: true,
            };
            let page = self.query_page::<T>(q, start).await?;
            all.extend(page.items);
            match page.next {
                Some(k) => start = Some(k),
                None => return Ok(all),
            }
        }
    }

    /// One page of a query on the table (`index = None`), on `GSI1` or on `GSI2`.
    pub(crate) async fn query_page<T: DeserializeOwned>(
        &self,
        q: QuerySpec<'_>,
        start: Option<PageKey>,
    ) -> Result<Page<T>, StoreError> {
        let (pk_name, sk_name) = match q.index {
            Some(keys::GSI2) => ("GSI2PK", "GSI2SK"),
            Some(_) => ("GSI1PK", "GSI1SK"),
            None => ("PK", "SK"),
        };
        let mut expr = "#pk = :pk".to_owned();
        let mut request = self
            .client
            .query()
            .table_name(&*self.table)
            .set_index_name(q.index.map(str::to_owned))
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", AttributeValue::S(q.pk.to_owned()))
            .scan_index_forward(q.forward)
            .limit(q.limit.clamp(1, 1000))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if let Some(prefix) = q.sk_prefix {
            expr.push_str(" AND begins_with(#sk, :sk)");
            request = request
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":sk", AttributeValue::S(prefix.to_owned()));
        }
        if let Some(start) = start {
            // Only keys of this very partition are accepted as a start: a cursor cannot hop.
            if start.0.get(pk_name).map(String::as_str) != Some(q.pk) {
                return Err(StoreError::ForeignCursor);
            }
            let key = start
                .0
                .into_iter()
                .map(|(k, v)| (k, AttributeValue::S(v)))
                .collect();
            request = request.set_exclusive_start_key(Some(key));
        }
        let out = request
            .key_condition_expression(expr)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let bytes = out.items().iter().map(capacity::item_size).sum();
        // Queries of the table are strongly consistent where the caller needs it; a GSI never is.
        self.record_computed(out.consumed_capacity(), capacity::read(bytes, false));
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        let next = out.last_evaluated_key.map(|k| {
            PageKey(
                k.into_iter()
                    .filter_map(|(k, v)| v.as_s().ok().map(|s| (k, s.clone())))
                    .collect(),
            )
        });
        Ok(Page { items, next })
    }
}

/// The most actions DynamoDB accepts in one `TransactWriteItems` (enforced here, since the
/// emulator does not).
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// A transaction DynamoDB cancelled, with the reason code of each action (`None` where the
/// action was fine), or another failure.
#[derive(Debug)]
pub(crate) enum TxError {
    Cancelled(Vec<Option<String>>),
    Other(StoreError),
}

impl TxError {
    /// Indexes of the actions whose condition failed or that conflicted with another
    /// transaction in flight.
    pub(crate) fn refused(&self) -> Vec<usize> {
        match self {
            TxError::Cancelled(reasons) => reasons
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    matches!(
                        r.as_deref(),
                        Some("ConditionalCheckFailed") | Some("TransactionConflict")
                    )
                })
                .map(|(i, _)| i)
                .collect(),
            TxError::Other(_) => Vec::new(),
        }
    }

    /// As a store error: a refused condition is a conflict.
    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            TxError::Other(e) => e,
            TxError::Cancelled(reasons) => {
                if reasons
                    .iter()
                    .any(|r| r.as_deref() == Some("TransactionConflict"))
                {
                    StoreError::Transient("a concurrent transaction touched the same items".into())
                } else {
                    StoreError::Conflict("a condition failed".into())
                }
            }
        }
    }
}

/// A conditional put, as one action of a transaction.
pub(crate) fn put(
    store: &Store,
    item: Item,
    condition: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    conditional_put(store, item, condition, HashMap::new())
}

/// A put with a condition that uses values (`:name`), as one action of a transaction.
pub(crate) fn conditional_put(
    store: &Store,
    item: Item,
    condition: Option<&str>,
    values: HashMap<String, AttributeValue>,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(store.table())
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
        .build()
        .map_err(|e| StoreError::Unexpected(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl Store {
    /// Runs a transaction of at most [`MAX_TRANSACTION_ITEMS`] actions; a cancellation keeps
    /// the reason of each action.
    pub(crate) async fn transact_raw(&self, items: Vec<TransactWriteItem>) -> Result<(), TxError> {
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(TxError::Other(StoreError::Unexpected(format!(
                "a transaction of {} actions is over DynamoDB's limit of {MAX_TRANSACTION_ITEMS}",
                items.len()
            ))));
        }
        let units = capacity::sum(items.iter().map(|action| {
            let bytes = action
                .put()
                .map_or(0, |put| capacity::item_size(put.item()));
            capacity::write(bytes, true)
        }));
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.usage.record(out.consumed_capacity(), units);
                Ok(())
            }
            Err(err) => {
                // A cancelled transaction is charged too (its reads of the conditions).
                self.record_computed(None, units);
                let reasons: Option<Vec<Option<String>>> =
                    err.as_service_error().and_then(|e| match e {
                        TransactWriteItemsError::TransactionCanceledException(c) => Some(
                            c.cancellation_reasons()
                                .iter()
                                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                                .collect(),
                        ),
                        _ => None,
                    });
                match reasons {
                    Some(reasons) => Err(TxError::Cancelled(reasons)),
                    None => Err(TxError::Other(StoreError::from_sdk(err))),
                }
            }
        }
    }

    /// Runs a transaction; `guards` names, per action index, what a failed condition means.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        guards: &[(usize, StoreError)],
    ) -> Result<(), StoreError> {
        match self.transact_raw(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(reasons)) => {
                for (i, reason) in reasons.iter().enumerate() {
                    if reason.as_deref() == Some("ConditionalCheckFailed")
                        && let Some((_, mapped)) = guards.iter().find(|(at, _)| *at == i)
                    {
                        return Err(clone_error(mapped));
                    }
                }
                Err(TxError::Cancelled(reasons).into_store_error())
            }
            Err(TxError::Other(e)) => Err(e),
        }
    }
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Conflict(s) => StoreError::Conflict(s.clone()),
        StoreError::Duplicate(s) => StoreError::Duplicate(s),
        StoreError::ForeignCursor => StoreError::ForeignCursor,
        StoreError::Transient(s) => StoreError::Transient(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        StoreError::Unexpected(s) => StoreError::Unexpected(s.clone()),
    }
}

/// A query on one partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuerySpec<'a> {
    pub index: Option<&'a str>,
    pub pk: &'a str,
    pub sk_prefix: Option<&'a str>,
    pub limit: i32,
    pub forward: bool,
}

pub(crate) fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([
        ("PK".to_owned(), AttributeValue::S(pk.to_owned())),
        ("SK".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value)
        .map_err(|e| StoreError::Unexpected(format!("cannot encode item: {e}")))
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let pk = item
        .get("PK")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(format!("{pk}: {e}")))
}

/// Epoch seconds for the TTL attribute `expires_at`.
pub(crate) fn epoch(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp()
}

/// Key builders: pure functions, so the key strings are asserted in unit tests.
pub mod keys {
    use kopek_domain::ids::{
        ApiKeyId, BatchId, ChargeId, EventId, OrderId, OrgId, SessionId, SubscriptionId, UserId,
    };
    use kopek_domain::period::BillingPeriod;

    pub const ORGS: &str = "ORGS";
    pub const STAFF: &str = "STAFF";
    pub const GSI1: &str = "GSI1";

    pub fn org(id: &OrgId) -> String {
        format!("ORG#{id}")
    }
    pub fn user(id: &UserId) -> String {
        format!("USER#{id}")
    }
    pub fn email(normalized: &str) -> String {
        format!("EMAIL#{normalized}")
    }
    pub fn session(id: &SessionId) -> String {
        format!("SESSION#{id}")
    }
    pub fn invitation(token_hash: &str) -> String {
        format!("INVITE#{token_hash}")
    }
    pub fn api_key(id: &ApiKeyId) -> String {
        format!("APIKEY#{id}")
    }
    /// The GSI1 partition that lists an owner's users and keys: an organisation or the staff.
    pub fn owner(org: Option<&OrgId>) -> String {
        org.map(self::org).unwrap_or_else(|| STAFF.to_owned())
    }
    pub fn service(code: &str) -> String {
        format!("SERVICE#{code}")
    }
    pub fn catalog(status: &str) -> String {
        format!("CATALOG#{status}")
    }
    pub fn throttle(kind: &str, subject: &str) -> String {
        format!("THROTTLE#{kind}#{subject}")
    }
    pub fn window(start: i64) -> String {
        format!("WINDOW#{start}")
    }
    pub fn idempotency(caller: &str, key: &str) -> String {
        format!("IDEM#{caller}#{key}")
    }
    /// An order's own item; its lines' keys start with it.
    pub fn order(id: &OrderId) -> String {
        format!("ORDER#{id}")
    }
    pub fn order_line(id: &OrderId, line_no: u16) -> String {
        format!("ORDER#{id}#L{line_no:03}")
    }
    /// The GSI1 partition of every order placed in the month of the order id's timestamp.
    pub fn orders_of_month(id: &OrderId) -> String {
        format!("ORDERS#{}", id.created_at().format("%Y-%m"))
    }
    /// The GSI1 partition of the work orders waiting for a work type.
    pub fn queue(work_type: &str) -> String {
        format!("QUEUE#{work_type}")
    }
    /// A waiting line's place in its queue (GSI1SK): by order (ULIDs sort by time), then by
    /// line, so the oldest comes first and an order's lines stay together.
    pub fn queue_position(order: &OrderId, line_no: u16) -> String {
        format!("{order}#L{line_no:03}")
    }
    pub fn batch(id: &BatchId) -> String {
        format!("BATCH#{id}")
    }
    pub fn engineer(id: &UserId) -> String {
        format!("ENGINEER#{id}")
    }
    pub fn charge(period: &BillingPeriod, id: &ChargeId) -> String {
        format!("CHARGE#{period}#{id}")
    }
    pub fn charges_of(period: &BillingPeriod) -> String {
        format!("CHARGE#{period}#")
    }
    pub fn history(subject: &str, id: &EventId) -> String {
        format!("HISTORY#{subject}#{id}")
    }
    pub fn history_of(subject: &str) -> String {
        format!("HISTORY#{subject}#")
    }
    pub fn subscription(id: &SubscriptionId) -> String {
        format!("SUB#{id}")
    }
    /// GSI1: the events not yet published.
    pub const OUTBOX: &str = "OUTBOX";
    /// GSI2: batches still open, by the time they go stale.
    pub const OPEN_BATCHES: &str = "OPENBATCHES";
    pub const GSI2: &str = "GSI2";
}

#[cfg(test)]
mod tests {
    use super::capacity;
    use super::keys;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn capacity_follows_dynamodbs_published_rules() {
        // Attribute names count; a string is its UTF-8 bytes ("é" is 2).
        let item = std::collections::HashMap::from([
            ("PK".to_owned(), AttributeValue::S("USAGE#é".into())),
            ("n".to_owned(), AttributeValue::N("12345.600".into())),
            ("ok".to_owned(), AttributeValue::Bool(true)),
        ]);
        // 2 + 8; 1 + (6 significant digits → 3) + 1; 2 + 1.
        assert_eq!(capacity::item_size(&item), 10 + 5 + 3);
        assert_eq!(capacity::write(1024, false).write_milli, 1000);
        assert_eq!(capacity::write(1025, false).write_milli, 2000);
        assert_eq!(capacity::write(0, false).write_milli, 1000);
        assert_eq!(capacity::write(100, true).write_milli, 2000);
        assert_eq!(capacity::read(4096, true).read_milli, 1000);
        assert_eq!(capacity::read(4097, false).read_milli, 1000);
        assert_eq!(capacity::read(10, false).read_milli, 500);
    }

    use kopek_domain::ids::{OrgId, UserId};

    #[test]
    fn key_strings_are_stable() {
        let org: OrgId = "org_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let user: UserId = "usr_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        assert_eq!(keys::org(&org), "ORG#org_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(keys::user(&user), "USER#usr_01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(keys::email("a@b.ru"), "EMAIL#a@b.ru");
        assert_eq!(
            keys::owner(Some(&org)),
            "ORG#org_01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert_eq!(keys::owner(None), "STAFF");
        assert_eq!(keys::service("VPS-S"), "SERVICE#VPS-S");
        assert_eq!(keys::catalog("active"), "CATALOG#active");
        assert_eq!(
            keys::throttle("ACCOUNT", "a@b.ru"),
            "THROTTLE#ACCOUNT#a@b.ru"
        );
        assert_eq!(keys::window(1_700_000_000), "WINDOW#1700000000");
        assert_eq!(keys::idempotency("usr_x", "k1"), "IDEM#usr_x#k1");
    }
}
