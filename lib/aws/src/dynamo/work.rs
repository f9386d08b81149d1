//! Work queues and batches (access patterns A28–A34).
//!
//! A batch is one item, `BATCH#{batch}`, listed for its engineer on `GSI1`
//! (`ENGINEER#{user}` / `BATCH#{batch}`) and, while it has open work, on `GSI2`
//! (`OPENBATCHES` / `{stale_at}#{batch}`) so stale batches are found by one query.
//!
//! **Taking a batch is one transaction**: the new batch item (`attribute_not_exists`) and every
//! chosen line, each on the condition that it is still at the revision read from the queue.
//! Two engineers racing for the same work order cannot both succeed: DynamoDB cancels one of
//! the transactions, names the refused lines, and the loser retries with other candidates.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, Select};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use kopek_domain::charges::DomainEvent;
use kopek_domain::ids::{BatchId, UserId};
use kopek_domain::work::{Batch, BatchStatus, Completion};
use serde::{Deserialize, Serialize};

use super::expr::put;
use super::orders::{LineItem, StoredLine, put_charge, put_event, put_line};
use super::{
    MAX_ACTIONS_WITH_AUDIT, Page, PageKey, QuerySpec, Store, StoreError, TxError, from_item, keys,
    to_item,
};

#[derive(Debug, Serialize, Deserialize)]
struct BatchItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    batch: Batch,
    rev: u64,
}

impl BatchItem {
    fn new(batch: &Batch, rev: u64) -> Self {
        let open = batch.status != BatchStatus::Closed;
        Self {
            pk: keys::batch(&batch.id),
            sk: "BATCH".into(),
            gsi1pk: keys::engineer(&batch.engineer),
            gsi1sk: keys::batch(&batch.id),
            gsi2pk: open.then(|| keys::OPEN_BATCHES.to_owned()),
            gsi2sk: open.then(|| {
                format!(
                    "{}#{}",
                    batch.stale_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    batch.id
                )
            }),
            kind: "batch".into(),
            batch: batch.clone(),
            rev,
        }
    }
}

/// A batch as stored, with its revision.
#[derive(Debug, Clone)]
pub struct StoredBatch {
    pub batch: Batch,
    pub rev: u64,
}

/// Which waiting work orders a taker wants.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// Only work requested on or before this date.
    pub requested_by: Option<NaiveDate>,
    /// Only work in this area.
    pub area: Option<String>,
}

/// The size of one queue and the age of its oldest work order.
#[derive(Debug, Clone)]
pub struct QueueStats {
    pub waiting: u64,
    pub oldest_placed_at: Option<DateTime<Utc>>,
}

/// How a take went.
#[derive(Debug)]
pub enum TakeOutcome {
    Taken,
    /// These candidates (indexes into the lines given) were taken or changed by someone else.
    Lost(Vec<usize>),
}

impl Store {
    /// A28: up to `limit` waiting work orders of a work type, oldest first, through `filter`.
    /// Eventually consistent (an index): a taker's transaction re-checks every line.
    pub async fn queue(
        &self,
        work_type: &str,
        filter: &QueueFilter,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<StoredLine>, StoreError> {
        let pk = keys::queue(work_type);
        let mut exclusive_start = match start {
            Some(k) if k.0.get("GSI1PK") != Some(&pk) => return Err(StoreError::ForeignCursor),
            Some(k) => Some(
                k.0.into_iter()
                    .map(|(k, v)| (k, AttributeValue::S(v)))
                    .collect::<HashMap<_, _>>(),
            ),
            None => None,
        };
        let mut found = Vec::new();
        loop {
            let mut request = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI1)
                .key_condition_expression("GSI1PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                .set_exclusive_start_key(exclusive_start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            let mut conditions = Vec::new();
            if let Some(date) = filter.requested_by {
                conditions.push("requested_date <= :date");
                request = request
                    .expression_attribute_values(":date", AttributeValue::S(date.to_string()));
            }
            if let Some(area) = &filter.area {
                conditions.push("area = :area");
                request =
                    request.expression_attribute_values(":area", AttributeValue::S(area.clone()));
            }
            if !conditions.is_empty() {
                request = request.filter_expression(conditions.join(" AND "));
            }
            let out = request.send().await.map_err(StoreError::from_sdk)?;
            self.record(out.consumed_capacity());
            for item in out.items.unwrap_or_default() {
                found.push(StoredLine::from(from_item::<LineItem>(item)?));
                if found.len() == limit {
                    let last = &found[found.len() - 1].line;
                    let next = PageKey(
                        [
                            ("GSI1PK".to_owned(), pk.clone()),
                            (
                                "GSI1SK".to_owned(),
                                keys::queue_position(&last.order, last.line_no),
                            ),
                            ("PK".to_owned(), keys::org(&last.org)),
                            ("SK".to_owned(), keys::order_line(&last.order, last.line_no)),
                        ]
                        .into(),
                    );
                    return Ok(Page {
                        items: found,
                        next: Some(next),
                    });
                }
            }
            match out.last_evaluated_key {
                Some(k) => exclusive_start = Some(k),
                None => {
                    return Ok(Page {
                        items: found,
                        next: None,
                    });
                }
            }
        }
    }

    /// A29: how many work orders wait for a work type, and since when the oldest.
    pub async fn queue_stats(&self, work_type: &str) -> Result<QueueStats, StoreError> {
        let pk = keys::queue(work_type);
        let oldest = self
            .query_page::<LineItem>(
                QuerySpec {
                    index: Some(keys::GSI1),
                    pk: &pk,
                    sk_prefix: None,
                    limit: 1,
                    forward: true,
                },
                None,
            )
            .await?
            .items
            .into_iter()
            .next()
            .map(|i| StoredLine::from(i).line.placed_at);
        let mut waiting = 0u64;
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI1)
                .key_condition_expression("GSI1PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            self.record(out.consumed_capacity());
            waiting += u64::try_from(out.count).unwrap_or(0);
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(QueueStats {
            waiting,
            oldest_placed_at: oldest,
        })
    }

    /// A30: a new batch and its lines (now accepted), all or nothing, each line only if it is
    /// still at the revision it was read at. `lines` carry the revision they were read at.
    pub async fn take_batch(
        &self,
        batch: &Batch,
        lines: &[StoredLine],
    ) -> Result<TakeOutcome, StoreError> {
        let mut items = Vec::with_capacity(lines.len() + 1);
        for line in lines {
            items.push(put_line(self, &line.line, line.rev)?);
        }
        items.push(put(
            self,
            to_item(&BatchItem::new(batch, 1))?,
            Some("attribute_not_exists(PK)"),
        )?);
        match self.transact_raw(items).await {
            Ok(()) => Ok(TakeOutcome::Taken),
            Err(err @ TxError::Cancelled(_)) => {
                let lost: Vec<usize> = err
                    .refused()
                    .into_iter()
                    .filter(|i| *i < lines.len())
                    .collect();
                if lost.is_empty() {
                    Err(err.into_store_error())
                } else {
                    Ok(TakeOutcome::Lost(lost))
                }
            }
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// A31: a batch by id (strongly consistent).
    pub async fn batch(&self, id: BatchId) -> Result<Option<StoredBatch>, StoreError> {
        Ok(self
            .get::<BatchItem>(&keys::batch(&id), "BATCH", true)
            .await?
            .map(|i| StoredBatch {
                batch: i.batch,
                rev: i.rev,
            }))
    }

    /// A32: an engineer's batches, newest first.
    pub async fn list_batches(
        &self,
        engineer: UserId,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredBatch>, StoreError> {
        let pk = keys::engineer(&engineer);
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk: &pk,
            sk_prefix: Some("BATCH#"),
            limit,
            forward: false,
        };
        Ok(self
            .query_page::<BatchItem>(q, start)
            .await?
            .map(|i| StoredBatch {
                batch: i.batch,
                rev: i.rev,
            }))
    }

    /// A33: batches gone stale by `now` (at most `limit`), for the sweep that returns their
    /// work to the queue.
    pub async fn stale_batches(
        &self,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<StoredBatch>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk AND GSI2SK < :now")
            .expression_attribute_values(":pk", AttributeValue::S(keys::OPEN_BATCHES.into()))
            .expression_attribute_values(
                ":now",
                // `~` sorts after every batch id: a batch stale at exactly `now` is included.
                AttributeValue::S(format!(
                    "{}#~",
                    now.to_rfc3339_opts(SecondsFormat::Secs, true)
                )),
            )
            .limit(limit)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record(out.consumed_capacity());
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                from_item::<BatchItem>(item).map(|i| StoredBatch {
                    batch: i.batch,
                    rev: i.rev,
                })
            })
            .collect()
    }

    /// A34: writes what a batch operation changed: the lines (each at its revision, with its
    /// charge and event for a completion) in transactions of at most 100 actions, then the
    /// batch at its revision.
    ///
    /// Every line write is conditional, so repeating a call after a crash writes nothing
    /// twice: a line already written refuses, and the batch is reconciled from its lines.
    /// Returns the batch's new revision.
    pub async fn save_batch_work(
        &self,
        batch: &StoredBatch,
        next: &Batch,
        lines: &[StoredLine],
        completions: &[(u64, Completion)],
        events: &[DomainEvent],
    ) -> Result<u64, StoreError> {
        let mut actions = Vec::new();
        for line in lines {
            actions.push(vec![put_line(self, &line.line, line.rev)?]);
        }
        for (rev, completion) in completions {
            let mut group = vec![put_line(self, &completion.line, *rev)?];
            if let Some(charge) = &completion.charge {
                group.push(put_charge(self, charge)?);
            }
            group.push(put_event(self, &completion.event)?);
            actions.push(group);
        }
        for event in events {
            actions.push(vec![put_event(self, event)?]);
        }
        // Groups stay whole: a line never lands in one transaction and its charge in another.
        let mut chunk = Vec::new();
        for group in actions {
            if chunk.len() + group.len() > MAX_ACTIONS_WITH_AUDIT {
                self.transact_with_retry(std::mem::take(&mut chunk)).await?;
            }
            chunk.extend(group);
        }
        if !chunk.is_empty() {
            self.transact_with_retry(chunk).await?;
        }
        self.save_batch(batch.rev, next).await
    }

    /// Writes a batch if it is still at `rev`; returns the new revision.
    pub async fn save_batch(&self, rev: u64, batch: &Batch) -> Result<u64, StoreError> {
        let item = to_item(&BatchItem::new(batch, rev + 1))?;
        self.put_at_rev(item, rev, "batch").await
    }

    /// A transaction retried a few times while it only collides with another in flight.
    async fn transact_with_retry(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<(), StoreError> {
        let mut attempt = 0u32;
        loop {
            match self.transact_raw(items.clone()).await {
                Ok(()) => return Ok(()),
                Err(TxError::Cancelled(reasons))
                    if attempt < 4
                        && reasons.iter().flatten().all(|r| r == "TransactionConflict") =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
                }
                Err(e) => {
                    return Err(e
                        .into_store_error()
                        .conflict_means("a work order changed meanwhile; retry"));
                }
            }
        }
    }
}
