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
//! | A1 | Register an organisation with its first user, e-mail unique regardless of case | `TransactWriteItems`: 3 conditional puts and the `organisation.created` event (outbox) | `ORG#{org}`/`ORG`, `USER#{usr}`/`USER`, `EMAIL#{email lowercased}`/`EMAIL` |
//! | A2 | Get an organisation (several: their names in staff lists; with its revision, consistent, for an upsert); update its payment terms, KPP and contract; save it over its revision (a CRM's record); create it with its external reference (A45) | `GetItem` (several: `BatchGetItem` of ≤ 100) / `UpdateItem` if `attribute_exists(PK)` / `PutItem` if `rev = :rev` / `TransactWriteItems` of 2 | `ORG#{org}` / `ORG` |
//! | A3 | List organisations (staff) | `Query GSI1` | `GSI1PK = ORGS`, `GSI1SK = ORG#{org}` |
//! | A3b | Organisations by tax id (a bank payment's payer) | `Query GSI2` | `GSI2PK = TAXID#{tax id}`, `GSI2SK = ORG#{org}` |
//! | A3c | The organisations of one of the close's 32 job shards (planning) | `Query GSI3` (keys only) | `GSI3PK = ORGSHARD#{nn}` (`nn` = `job_shard(org)`), `GSI3SK = {org}` |
//! | A4 | Find a user by e-mail (sign-in) | `GetItem` ×2 | `EMAIL#{email}` / `EMAIL` → `USER#{usr}` / `USER` |
//! | A5 | Get a user by id | `GetItem` | `USER#{usr}` / `USER` |
//! | A6 | List an organisation's users / the staff | `Query GSI1` | `GSI1PK = ORG#{org}` or `STAFF`, `GSI1SK begins_with USER#` |
//! | A7 | Add a user (invitation), e-mail unique | `TransactWriteItems`: user + e-mail guard + invitation | `INVITE#{sha256(token)}` / `INVITE` (TTL 7 days) |
//! | A8 | Accept an invitation | `TransactWriteItems`: delete invitation (condition exists), update user | |
//! | A9 | Start / check / end a session | `PutItem` / `GetItem` (consistent) / `DeleteItem` | `USER#{usr}` / `SESSION#{ses}` (TTL = session lifetime) |
//! | A88 | Reset a forgotten password: a reset link given (the user, when it expires); used once with the new password | `PutItem` / `GetItem` (consistent) / `TransactWriteItems`: delete the reset (condition exists) + update the active user's password | `RESET#{sha256(token)}` / `RESET` (TTL 1 hour) |
//! | A10 | End every session of a user (password change or reset, sign-out everywhere) | `Query` + `BatchWriteItem` deletes (≤ 25 per batch) | `USER#{usr}`, `SK begins_with SESSION#` |
//! | A11 | API key by id (every machine request) | `GetItem` | `APIKEY#{key}` / `APIKEY` |
//! | A12 | List API keys of an owner | `Query GSI1` | `GSI1PK = ORG#{org}` or `STAFF`, `GSI1SK begins_with APIKEY#` |
//! | A13 | Take a sign-in attempt under a limit, per account and per address; give it back on success | `UpdateItem ADD` with `failures < :max` (the check and the count in one write) / `DeleteItem` | `THROTTLE#{ACCOUNT|ADDRESS}#{subject}` / `WINDOW#{start}` (TTL = window end) |
//! | A14 | Idempotent POST | conditional `PutItem`, `UpdateItem`, `GetItem` | `IDEM#{caller}#{key}` / `IDEM` (TTL 24 h) |
//! | A15 | Service by code with every price version (a price in force on any date) | `GetItem` | `SERVICE#{code}` / `SERVICE` |
//! | A16 | Create a service, code unique | conditional `PutItem` | `attribute_not_exists(PK)` |
//! | A17 | New price version / retire | `UpdateItem` with `rev = :expected` | |
//! | A18 | Browse the catalog by status | `Query GSI1` | `GSI1PK = CATALOG#{active|retired}`, `GSI1SK = SERVICE#{code}` |
//! | A19–A27 | Orders, their lines (the work orders), charges, history and the outbox | see [`orders`] | `ORG#{org}` / `ORDER#…`, `CHARGE#…`, `HISTORY#…`; GSI1 `QUEUE#{work type}`, `ORDERS#{month}`, `OUTBOX#{nn}` (16 shards by organisation; the relay merges them by event id) |
//! | A28–A34 | Work queues and batches: take (one transaction), complete (≤ 100 actions each), stale sweep | see [`work`] | `BATCH#{bat}`; GSI1 `ENGINEER#{usr}`; GSI2 `OPENBATCHES` |
//! | A35–A37 | Subscriptions | see [`subscriptions`] | `ORG#{org}` / `SUB#{sub}` |
//! | A38–A45 | Usage events (sharded), meters used, rejected events, ingestion health, closed periods, external references | see [`usage`] | `USAGE#…`, `USAGEREJ#…`, `USAGEHEALTH#…`, `EXTREF#…`; `ORG#{org}` / `USAGEMETER#…`, `BILLING` |
//! | A46–A64 | Billing settings and the provider's requisites, the period close (status, customer jobs), invoice numbering, invoices, credit notes, the ledger, credit and payments | see [`billing`] (one module per aggregate) | `PERIOD#{yyyy-mm}`, `SEQ#…`, `SETTINGS`; `ORG#{org}` / `INVOICE#…`, `CREDIT#…`, `LEDGER#…`, `CREDITBALANCE`, `PAYMENT#…`; GSI1 `PERIODS`, `INVOICE#{inv}`, `CREDIT#{crn}`; GSI2 `INVOICES#{yyyy-mm}` |
//! | A65–A74 | Closing documents: filed once, a customer's of a period, by id, a period's, signed; signing jobs; the signing certificate; packages; archives | see [`documents`] | `ORG#{org}` / `DOC#…`, `PACKAGE#…`, `SIGNING#{sgn}`, `SETTINGS` / `SIGNING_CERT`, `PERIOD#…` / `ARCHIVE#…`; GSI1 `DOC#{doc}`, `PACKAGE#{pkg}`, `ARCHIVE#{arc}`, `SIGNINGS#{yyyy-mm}`; GSI2 `DOCS#{yyyy-mm}`, `PACKAGES#{yyyy-mm}` |
//! | A89–A92 | Webhook endpoints; the events feed: positions taken in blocks, events at their positions (35 days); deliveries, their attempts, retries waiting by due time | see [`webhooks`] | `WEBHOOK#{whk}` / `WEBHOOK`, `DELIVERY#{dlv}`; `FEED` / `HEAD`; `FEED#{n / 10,000}` / `{n}`; GSI1 `WEBHOOKS`; GSI2 `WEBHOOKRETRY` |
//! | A93–A97 | The audit log: a record with the first change of every audited action (one more item in its transaction); a day's records, an organisation's, an object's, newest first; archiving days past the retention | see [`audit`] | `AUDIT#{yyyy-mm-dd}` / `{at}#{aud}`; GSI1 `AUDITORG#{org}`; GSI2 `AUDITOBJ#{kind}:{id}`; `AUDIT` / `ARCHIVED` |
//! | A83–A84 | Reports filed as PDFs (a customer's reconciliation statement, statement of account): filed once, by id, saved over their revision; a customer's, newest first | see [`reports`] | `ORG#{org}` / `REPORT#{rep}`; GSI1 `REPORT#{rep}` |
//!
//! Every key is built in [`keys`] (each asserted by a unit test); the write helpers —
//! conditions, the `UpdateItem` builder, conditional puts — are in `expr`. With the `faults`
//! feature (tests only), every write primitive here can be failed before or after it is sent
//! (`kopek_aws::faults`).
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
pub mod audit;
pub mod bank;
pub mod billing;
pub mod capacity;
pub mod catalog;
pub mod documents;
pub mod dunning;
pub(crate) mod expr;
pub mod idempotency;
pub mod keys;
pub mod orders;
pub mod reports;
pub mod subscriptions;
pub mod templates;
pub mod throttle;
pub mod usage;
pub mod webhooks;
pub mod work;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, ReturnConsumedCapacity, TransactWriteItem,
    WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use capacity::{CapacityMeter, CapacitySnapshot};

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

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }

    /// [`map`](Self::map) with a conversion that can fail (a stored item that does not
    /// parse): the first failure fails the page.
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            next: self.next,
        })
    }
}

/// The store: a DynamoDB client bound to the main table.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: Arc<str>,
    capacity: Arc<CapacityMeter>,
    /// Faults injected into writes by tests ([`crate::faults`]); none by default.
    #[cfg(feature = "faults")]
    faults: crate::faults::FaultHooks,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            capacity: Arc::default(),
            #[cfg(feature = "faults")]
            faults: crate::faults::FaultHooks::default(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The same store, on the same capacity meter, through a client with `interceptor` added
    /// (benchmarks watch every request this way).
    pub fn intercepted(
        &self,
        interceptor: impl aws_sdk_dynamodb::config::Intercept + 'static,
    ) -> Self {
        let config = self
            .client
            .config()
            .to_builder()
            .interceptor(interceptor)
            .build();
        Self {
            client: Client::from_conf(config),
            ..self.clone()
        }
    }

    /// Requests and DynamoDB capacity units spent so far through this store.
    pub fn capacity(&self) -> CapacitySnapshot {
        self.capacity.snapshot()
    }

    /// The same store, failing writes as `faults` says (tests).
    #[cfg(feature = "faults")]
    pub fn with_faults(mut self, faults: Arc<crate::faults::Faults>) -> Self {
        self.faults = crate::faults::FaultHooks::new(faults);
        self
    }

    /// Before a write is sent: its number for [`Store::after_write`], or an injected fault.
    /// Without the `faults` feature, nothing.
    #[inline]
    pub(crate) fn before_write(&self) -> Result<u64, StoreError> {
        #[cfg(feature = "faults")]
        return self.faults.before_write();
        #[cfg(not(feature = "faults"))]
        Ok(0)
    }

    /// After write `this` succeeded: an injected fault, if one is due. Without the `faults`
    /// feature, nothing.
    #[inline]
    pub(crate) fn after_write(&self, this: u64) -> Result<(), StoreError> {
        #[cfg(feature = "faults")]
        return self.faults.after_write(this);
        #[cfg(not(feature = "faults"))]
        {
            let _ = this;
            Ok(())
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn record(&self, consumed: Option<&ConsumedCapacity>) {
        self.record_computed(consumed, capacity::Units::default());
    }

    pub(crate) fn record_many(&self, consumed: &[ConsumedCapacity]) {
        self.capacity.record(consumed, capacity::Units::default());
    }

    /// Records one request with the units the store computed for it, used where the service
    /// reported none.
    pub(crate) fn record_computed(
        &self,
        consumed: Option<&ConsumedCapacity>,
        computed: capacity::Units,
    ) {
        self.capacity
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
        if let Some(item) = &out.item {
            crate::audit::note_read((pk.to_owned(), sk.to_owned()), || {
                serde_dynamo::from_item(item.clone()).ok()
            });
        }
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
        if self.write_one(expr::put_over_rev(self, item, rev)?).await? {
            Ok(rev + 1)
        } else {
            Err(StoreError::Conflict(format!(
                "the {what} changed meanwhile; retry"
            )))
        }
    }

    /// The items with `keys` (strongly consistent, duplicates read once), in `BatchGetItem`s
    /// of at most 100 keys (DynamoDB's limit, which moto does not enforce); keys left
    /// unprocessed are asked again with backoff. Missing items are left out.
    pub(crate) async fn batch_get(&self, mut keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        keys.sort_by_key(|k| format!("{:?}{:?}", k.get("PK"), k.get("SK")));
        keys.dedup();
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut request_keys = chunk.to_vec();
            let mut attempts = 0;
            while !request_keys.is_empty() {
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut request_keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Unexpected(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&*self.table, ka)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(StoreError::from_sdk)?;
                self.record_many(out.consumed_capacity());
                found.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&*self.table))
                        .unwrap_or_default(),
                );
                if let Some(left) = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&*self.table))
                {
                    attempts += 1;
                    if attempts > 8 {
                        return Err(StoreError::Transient("keys left unprocessed".into()));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempts.min(5)))
                        .await;
                    request_keys = left.keys;
                }
            }
        }
        Ok(found)
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
    pub(crate) fn query_page<'s, T: DeserializeOwned + 's>(
        &'s self,
        q: QuerySpec<'s>,
        start: Option<PageKey>,
    ) -> impl std::future::Future<Output = Result<Page<T>, StoreError>> + 's {
        // Not an `async fn` of its own: the query's future is returned as it is, so callers'
        // futures nest no deeper than before ranges existed.
        self.query_range(q, SkRange::default(), start)
    }

    /// Up to `want` items of a sharded listing from `start`, those `keep` keeps (all, without
    /// it: then each query asks only for what the page still lacks); `key_of` is where a page
    /// that ends on an item goes on. A cursor of another listing is [`StoreError::ForeignCursor`].
    pub(crate) async fn sharded_page<T: DeserializeOwned>(
        &self,
        shards: Shards<'_>,
        want: usize,
        keep: Option<&(dyn Fn(&T) -> bool + Sync)>,
        key_of: impl Fn(&T) -> PageKey,
        start: Option<PageKey>,
    ) -> Result<Page<T>, StoreError> {
        let (pk_name, _) = key_names(shards.index);
        let want = want.clamp(1, 1000);
        let (mut shard, mut from) = match start {
            None => (0, None),
            Some(start) => {
                let pk = start.0.get(pk_name).map(String::as_str).unwrap_or_default();
                (
                    (shards.shard_of)(pk).ok_or(StoreError::ForeignCursor)?,
                    Some(start),
                )
            }
        };
        let mut found = Vec::new();
        while shard < shards.count {
            let pk = (shards.pk)(shard);
            let q = QuerySpec {
                index: shards.index,
                pk: &pk,
                sk_prefix: shards.sk_prefix,
                limit: match keep {
                    Some(_) => 1000,
                    None => i32::try_from(want - found.len()).unwrap_or(1000),
                },
                forward: true,
            };
            let page = self.query_page::<T>(q, from.take()).await?;
            for item in page.items {
                if keep.is_some_and(|keep| !keep(&item)) {
                    continue;
                }
                found.push(item);
                if found.len() == want {
                    let next = found.last().map(&key_of);
                    return Ok(Page { items: found, next });
                }
            }
            match page.next {
                Some(next) => from = Some(next),
                None => shard += 1,
            }
        }
        Ok(Page {
            items: found,
            next: None,
        })
    }

    /// One page of a query whose sort keys also lie in `range`.
    pub(crate) async fn query_range<T: DeserializeOwned>(
        &self,
        q: QuerySpec<'_>,
        range: SkRange<'_>,
        start: Option<PageKey>,
    ) -> Result<Page<T>, StoreError> {
        let (pk_name, sk_name) = key_names(q.index);
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
        } else if let Some((op, bound)) = range.condition() {
            expr.push_str(&format!(" AND #sk {op} :sk"));
            request = request
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":sk", AttributeValue::S(bound.to_owned()));
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

impl Store {
    /// One page of a GSI1 partition, in sort-key order (`forward`) or backwards.
    pub(crate) async fn gsi1_page<T: DeserializeOwned>(
        &self,
        pk: &str,
        limit: i32,
        start: Option<PageKey>,
        forward: bool,
    ) -> Result<Page<T>, StoreError> {
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk,
            sk_prefix: None,
            limit,
            forward,
        };
        self.query_page(q, start).await
    }

    /// Deletes the item at `pk`/`sk` if `condition` holds (with at most one value): `false`
    /// when it does not (or the item is gone).
    pub(crate) async fn delete_if(
        &self,
        pk: &str,
        sk: &str,
        condition: &str,
        value: Option<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let values = value
            .map(|(name, value)| HashMap::from([(name.to_owned(), value)]))
            .unwrap_or_default();
        self.write_one(expr::delete(self, (pk, sk), Some(condition), values)?)
            .await
    }

    /// One page of a GSI2 partition, in sort-key order.
    pub(crate) async fn gsi2_page<T: DeserializeOwned>(
        &self,
        pk: &str,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<T>, StoreError> {
        let q = QuerySpec {
            index: Some(keys::GSI2),
            pk,
            sk_prefix: None,
            limit,
            forward: true,
        };
        self.query_page(q, start).await
    }

    /// The one item of a GSI1 partition, if any.
    pub(crate) async fn only_on_gsi1<T: DeserializeOwned>(
        &self,
        pk: &str,
    ) -> Result<Option<T>, StoreError> {
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

/// The most actions DynamoDB accepts in one `TransactWriteItems` (enforced here, since the
/// emulator does not).
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// The key attributes of the table (`None`) or of one of its indexes.
fn key_names(index: Option<&str>) -> (&'static str, &'static str) {
    match index {
        None => ("PK", "SK"),
        Some(keys::GSI2) => ("GSI2PK", "GSI2SK"),
        Some(keys::GSI3) => ("GSI3PK", "GSI3SK"),
        Some(_) => ("GSI1PK", "GSI1SK"),
    }
}
/// The most actions a caller puts in one transaction, leaving room for an audit record.
pub const MAX_ACTIONS_WITH_AUDIT: usize = MAX_TRANSACTION_ITEMS - 1;
/// Writes per `BatchWriteItem` (DynamoDB's limit).
pub const MAX_BATCH_WRITE: usize = 25;

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

impl Store {
    /// Runs a transaction of at most [`MAX_TRANSACTION_ITEMS`] actions; a cancellation keeps
    /// the reason of each action.
    ///
    /// While an audit scope waits for its record, the record is one more action of it (see
    /// [`crate::audit`]); callers that chunk keep to [`MAX_ACTIONS_WITH_AUDIT`].
    pub(crate) async fn transact_raw(
        &self,
        mut items: Vec<TransactWriteItem>,
    ) -> Result<(), TxError> {
        let audited = if items.len() < MAX_TRANSACTION_ITEMS {
            match self.audit_action(&items).map_err(TxError::Other)? {
                Some(record) => {
                    items.push(record);
                    true
                }
                None => false,
            }
        } else {
            false
        };
        let settle = |result: Result<(), TxError>| {
            if audited {
                crate::audit::settle(result.is_ok());
            }
            result
        };
        if items.len() > MAX_TRANSACTION_ITEMS {
            return settle(Err(TxError::Other(StoreError::Unexpected(format!(
                "a transaction of {} actions is over DynamoDB's limit of {MAX_TRANSACTION_ITEMS}",
                items.len()
            )))));
        }
        let units = capacity::sum(items.iter().map(|action| {
            let bytes = action
                .put()
                .map_or(0, |put| capacity::item_size(put.item()));
            capacity::write(bytes, true)
        }));
        let write = match self.before_write() {
            Ok(write) => write,
            Err(e) => return settle(Err(TxError::Other(e))),
        };
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.capacity.record(out.consumed_capacity(), units);
                settle(self.after_write(write).map_err(TxError::Other))
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
                settle(match reasons {
                    Some(reasons) => Err(TxError::Cancelled(reasons)),
                    None => Err(TxError::Other(StoreError::from_sdk(err))),
                })
            }
        }
    }

    /// Writes `requests` (puts and deletes, no conditions) in `BatchWriteItem`s of at most
    /// [`MAX_BATCH_WRITE`] — DynamoDB's limit, which moto does not enforce — sending what
    /// was left unprocessed again with backoff.
    ///
    /// While an audit scope waits for its record, the record goes with the first batch.
    pub(crate) async fn batch_write(
        &self,
        mut requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let audited = match self.audit_request(&requests)? {
            Some(record) => {
                requests.insert(0, record);
                true
            }
            None => false,
        };
        // One block, not an inner `async fn`: callers' futures nest no deeper for the audit.
        let result: Result<(), StoreError> = 'sent: {
            for chunk in requests.chunks(MAX_BATCH_WRITE) {
                let mut pending = chunk.to_vec();
                for attempt in 0..5u32 {
                    let write = match self.before_write() {
                        Ok(write) => write,
                        Err(e) => break 'sent Err(e),
                    };
                    let out = match self
                        .client
                        .batch_write_item()
                        .request_items(self.table(), pending)
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                        .await
                    {
                        Ok(out) => out,
                        Err(e) => break 'sent Err(StoreError::from_sdk(e)),
                    };
                    if let Err(e) = self.after_write(write) {
                        break 'sent Err(e);
                    }
                    self.record_many(out.consumed_capacity());
                    pending = out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(self.table()))
                        .unwrap_or_default();
                    if pending.is_empty() {
                        break;
                    }
                    if attempt == 4 {
                        break 'sent Err(StoreError::Transient(format!(
                            "{} writes left unprocessed",
                            pending.len()
                        )));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
            Ok(())
        };
        if audited {
            crate::audit::settle(result.is_ok());
        }
        result
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

impl Store {
    /// Sends one write alone — or, while an audit scope waits for its record, in a
    /// transaction with it (see [`crate::audit`]). `Ok(false)` when its own condition failed
    /// (charged as the write would have been); other failures as [`StoreError::from_sdk`]
    /// maps them.
    pub(crate) async fn write_one(&self, action: TransactWriteItem) -> Result<bool, StoreError> {
        if crate::audit::waiting() {
            // `transact_raw` adds the record and settles it.
            return match self.transact_raw(vec![action]).await {
                Ok(()) => Ok(true),
                Err(TxError::Cancelled(reasons))
                    if reasons.first().and_then(Option::as_deref)
                        == Some("ConditionalCheckFailed") =>
                {
                    Ok(false)
                }
                Err(e) => Err(e.into_store_error()),
            };
        }
        let write = self.before_write()?;
        let done = self.send_alone(action).await?;
        if done {
            self.after_write(write)?;
        }
        Ok(done)
    }

    async fn send_alone(&self, action: TransactWriteItem) -> Result<bool, StoreError> {
        let total = ReturnConsumedCapacity::Total;
        if let Some(put) = action.put {
            let units = capacity::write(capacity::item_size(&put.item), false);
            let result = self
                .client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .return_consumed_capacity(total)
                .send()
                .await;
            return expr::written(self, result.map(|out| out.consumed_capacity), units);
        }
        let units = capacity::write(0, false);
        if let Some(update) = action.update {
            let result = self
                .client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .return_consumed_capacity(total)
                .send()
                .await;
            return expr::written(self, result.map(|out| out.consumed_capacity), units);
        }
        if let Some(delete) = action.delete {
            let result = self
                .client
                .delete_item()
                .table_name(delete.table_name)
                .set_key(Some(delete.key))
                .set_condition_expression(delete.condition_expression)
                .set_expression_attribute_names(delete.expression_attribute_names)
                .set_expression_attribute_values(delete.expression_attribute_values)
                .return_consumed_capacity(total)
                .send()
                .await;
            return expr::written(self, result.map(|out| out.consumed_capacity), units);
        }
        Err(StoreError::Unexpected(
            "a single write is a put, an update or a delete".into(),
        ))
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

/// Where a query's sort keys lie, besides its prefix: after one key, or up to one (a
/// query takes a prefix or a range, not both).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SkRange<'a> {
    pub after: Option<&'a str>,
    pub up_to: Option<&'a str>,
}

impl SkRange<'_> {
    fn condition(&self) -> Option<(&'static str, &str)> {
        match (self.after, self.up_to) {
            (Some(after), _) => Some((">", after)),
            (None, Some(to)) => Some(("<=", to)),
            (None, None) => None,
        }
    }
}

/// A query on one partition.
/// A listing spread over numbered shards, one partition each (a period's jobs, its invoices),
/// read in shard order: a page may span shards, and its cursor names the shard it stopped in.
pub(crate) struct Shards<'a> {
    pub index: Option<&'a str>,
    /// How many shards (0 to `count` − 1).
    pub count: u8,
    /// The partition key of a shard.
    pub pk: &'a (dyn Fn(u8) -> String + Sync),
    /// The shard a partition key names, if it is one of this listing's.
    pub shard_of: &'a (dyn Fn(&str) -> Option<u8> + Sync),
    pub sk_prefix: Option<&'a str>,
}

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

/// A put of `item` without a condition, as one request of a `BatchWriteItem`.
pub(crate) fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    aws_sdk_dynamodb::types::PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map(|p| WriteRequest::builder().put_request(p).build())
        .map_err(|e| StoreError::Unexpected(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
