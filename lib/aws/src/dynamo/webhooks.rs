//! A89–A92: webhook endpoints, their deliveries, and the events feed.
//!
//! | # | Access pattern | Operation | Key | Cost |
//! |---|----------------|-----------|-----|------|
//! | A89 | An endpoint: created, read (consistent), saved over its revision, deleted at its revision; every endpoint (the admin's list, once per dispatch run) | `PutItem` if `attribute_not_exists(PK)` / `GetItem` / `PutItem` if `rev = :rev` / `DeleteItem` if `rev = :rev`; `Query GSI1` | `WEBHOOK#{whk}` / `WEBHOOK`; GSI1 `WEBHOOKS` / `WEBHOOK#{whk}` | 1 WCU + 1 GSI; 0.5 RCU |
//! | A90 | The feed's positions: a block of `n` taken in one write (the dispatcher, one per run); the head read | `UpdateItem ADD seq :n`, `ReturnValues = UPDATED_NEW` / `GetItem` | `FEED` / `HEAD` | 1 WCU per run, whatever `n` |
//! | A91 | The events feed: each event appended once at its position (35 days, TTL); read in order after a position; read backwards to a time (replays since a time) | `BatchWriteItem` puts (≤ 25); `Query SK > :after`, then the next partitions up to the head / `Query` backwards | `FEED#{seq / 10,000}` / `{seq:020}` | 1 WCU per event of ≤ 1 KB; 0.5 RCU per 4 KB read |
//! | A92 | Deliveries: one per event and endpoint (`BatchWriteItem`), read (consistent) and saved over its revision per attempt; an endpoint's, newest first; those waiting for a retry, by due time (the sweeper) | `BatchWriteItem` puts / `GetItem` / `PutItem` if `rev = :rev`; `Query` backwards; `Query GSI2 SK <= :now` | `WEBHOOK#{whk}` / `DELIVERY#{dlv}` (TTL 35 days after its last change); GSI2 `WEBHOOKRETRY` / `{due}#{dlv}` while retrying | 1–2 WCU per attempt (+1 GSI2 while waiting); 0.5 RCU |
//!
//! The feed's positions are taken by one dispatcher at a time (`outbox-relay` runs with a
//! reserved concurrency of 1), so a reader that has seen position `n` has seen every
//! position before it. Its partitions take ≤ 10,000 events each, so a partition is written
//! at the dispatch rate, and a reader hops to the next partition when one is exhausted.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, ReturnValue};
use chrono::{DateTime, Utc};
use kopek_domain::ids::{DeliveryId, WebhookId};
use kopek_domain::webhooks::{Delivery, DeliveryStatus, Endpoint, EventType};
use serde::{Deserialize, Serialize};

use super::expr::{self, SAME_REV};
use super::{Page, PageKey, QuerySpec, SkRange, Store, StoreError, epoch, keys, to_item};

/// How long the feed and the delivery log keep an event (the feed promises 30 days).
pub const KEPT_DAYS: i64 = 35;

/// An endpoint as stored, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEndpoint {
    pub endpoint: Endpoint,
    pub rev: u64,
}

/// A delivery as stored, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDelivery {
    pub delivery: Delivery,
    pub rev: u64,
}

/// One position of the feed: the envelope's bytes as every delivery of it sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub sequence: u64,
    pub kind: EventType,
    pub at: DateTime<Utc>,
    pub body: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct EndpointItem {
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
    endpoint: Endpoint,
    rev: u64,
}

impl EndpointItem {
    fn new(endpoint: &Endpoint, rev: u64) -> Self {
        Self {
            pk: keys::webhook(&endpoint.id),
            sk: keys::WEBHOOK_SK.into(),
            gsi1pk: keys::WEBHOOKS.into(),
            gsi1sk: keys::webhook(&endpoint.id),
            kind: "webhook_endpoint".into(),
            endpoint: endpoint.clone(),
            rev,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct DeliveryItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    delivery: Delivery,
    rev: u64,
    expires_at: i64,
}

impl DeliveryItem {
    fn new(delivery: &Delivery, rev: u64, now: DateTime<Utc>) -> Self {
        // Waiting deliveries stay on the sweeper's index, so one whose queue message was
        // lost is still tried.
        let due = match (delivery.status, delivery.next_attempt_at) {
            (DeliveryStatus::Retrying | DeliveryStatus::Pending, Some(due)) => Some(due),
            _ => None,
        };
        Self {
            pk: keys::webhook(&delivery.endpoint),
            sk: keys::delivery(&delivery.id),
            gsi2pk: due.map(|_| keys::WEBHOOK_RETRIES.to_owned()),
            gsi2sk: due.map(|due| keys::retry_due(due, &delivery.id)),
            kind: "webhook_delivery".into(),
            delivery: delivery.clone(),
            rev,
            expires_at: epoch(now + chrono::Duration::days(KEPT_DAYS)),
        }
    }
}

impl From<EndpointItem> for StoredEndpoint {
    fn from(i: EndpointItem) -> Self {
        Self {
            endpoint: i.endpoint,
            rev: i.rev,
        }
    }
}

impl From<DeliveryItem> for StoredDelivery {
    fn from(i: DeliveryItem) -> Self {
        Self {
            delivery: i.delivery,
            rev: i.rev,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct FeedItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    sequence: u64,
    event_type: EventType,
    at: DateTime<Utc>,
    /// When the dispatcher placed it (positions grow with it).
    fed_at: DateTime<Utc>,
    body: String,
    expires_at: i64,
}

impl From<FeedItem> for FeedEntry {
    fn from(i: FeedItem) -> Self {
        Self {
            sequence: i.sequence,
            kind: i.event_type,
            at: i.at,
            body: i.body,
        }
    }
}

impl Store {
    /// A89: registers `endpoint` (revision 1).
    pub async fn create_webhook(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.put_first(to_item(&EndpointItem::new(endpoint, 1))?, || {
            format!("endpoint {} exists", endpoint.id)
        })
        .await
    }

    /// A89: an endpoint, strongly consistent.
    pub async fn webhook(&self, id: WebhookId) -> Result<Option<StoredEndpoint>, StoreError> {
        Ok(self
            .get::<EndpointItem>(&keys::webhook(&id), keys::WEBHOOK_SK, true)
            .await?
            .map(StoredEndpoint::from))
    }

    /// A89: saves `endpoint` over revision `rev`; a conflict when it changed meanwhile.
    pub async fn save_webhook(&self, endpoint: &Endpoint, rev: u64) -> Result<u64, StoreError> {
        self.put_at_rev(
            to_item(&EndpointItem::new(endpoint, rev + 1))?,
            rev,
            "endpoint",
        )
        .await
    }

    /// A89: deletes an endpoint at revision `rev` (its deliveries expire with their TTL);
    /// `false` when it changed meanwhile or is gone.
    pub async fn delete_webhook(&self, id: WebhookId, rev: u64) -> Result<bool, StoreError> {
        self.delete_if(
            &keys::webhook(&id),
            keys::WEBHOOK_SK,
            SAME_REV,
            Some((":rev", AttributeValue::N(rev.to_string()))),
        )
        .await
    }

    /// A89: every endpoint, in id order.
    pub async fn webhooks(&self) -> Result<Vec<StoredEndpoint>, StoreError> {
        Ok(self
            .query_all_at::<EndpointItem>(Some(keys::GSI1), keys::WEBHOOKS, None)
            .await?
            .into_iter()
            .map(StoredEndpoint::from)
            .collect())
    }

    /// A90: takes `n` positions of the feed; the first of them.
    pub async fn take_feed_positions(&self, n: u64) -> Result<u64, StoreError> {
        let units = super::capacity::write(0, false);
        let write = self.before_write()?;
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(super::key(keys::FEED_HEAD, keys::FEED_HEAD_SK)))
            .update_expression("ADD seq :n")
            .expression_attribute_values(":n", expr::n(n as i64))
            .return_values(ReturnValue::UpdatedNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record_computed(out.consumed_capacity(), units);
        self.after_write(write)?;
        let head = out
            .attributes()
            .and_then(|a| a.get("seq"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Corrupt("the feed's head has no position".into()))?;
        Ok(head + 1 - n)
    }

    /// A90: the last position taken (0 when none).
    pub async fn feed_head(&self) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        struct Head {
            seq: u64,
        }
        Ok(self
            .get::<Head>(keys::FEED_HEAD, keys::FEED_HEAD_SK, true)
            .await?
            .map_or(0, |h| h.seq))
    }

    /// A91 and A92: the events at their positions and their deliveries, written in batches.
    pub async fn append_feed(
        &self,
        entries: &[FeedEntry],
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let expires_at = epoch(now + chrono::Duration::days(KEPT_DAYS));
        let mut requests = Vec::with_capacity(entries.len() + deliveries.len());
        for e in entries {
            requests.push(super::put_request(to_item(&FeedItem {
                pk: keys::feed(e.sequence),
                sk: keys::feed_position(e.sequence),
                kind: "feed_event".into(),
                sequence: e.sequence,
                event_type: e.kind,
                at: e.at,
                fed_at: now,
                body: e.body.clone(),
                expires_at,
            })?)?);
        }
        for d in deliveries {
            requests.push(super::put_request(to_item(&DeliveryItem::new(d, 1, now))?)?);
        }
        self.batch_write(requests).await
    }

    /// A91: up to `limit` events after position `after`, in order, reading partitions up to
    /// the head.
    pub async fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        let head = self.feed_head().await?;
        let mut out = Vec::new();
        let mut from = after;
        while out.len() < limit && from < head {
            let pk = keys::feed(from + 1);
            let sk = keys::feed_position(from);
            let q = QuerySpec {
                index: None,
                pk: &pk,
                sk_prefix: None,
                limit: (limit - out.len()).min(1000) as i32,
                forward: true,
            };
            let range = SkRange {
                after: Some(&sk),
                up_to: None,
            };
            let page = self.query_range::<FeedItem>(q, range, None).await?;
            let read = page.items.len();
            out.extend(page.items.into_iter().map(FeedEntry::from));
            if read == 0 || page.next.is_none() {
                // This partition is exhausted (or expired): on to the next one.
                from = ((from + 1) / keys::FEED_BUCKET + 1) * keys::FEED_BUCKET - 1;
            } else if let Some(last) = out.last() {
                from = last.sequence;
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// A91: every event placed at or after `since`, newest first (replays).
    pub async fn feed_since(&self, since: DateTime<Utc>) -> Result<Vec<FeedEntry>, StoreError> {
        let head = self.feed_head().await?;
        let mut out = Vec::new();
        if head == 0 {
            return Ok(out);
        }
        let mut bucket = head / keys::FEED_BUCKET;
        loop {
            let pk = keys::feed(bucket * keys::FEED_BUCKET);
            let mut start = None;
            loop {
                let q = QuerySpec {
                    index: None,
                    pk: &pk,
                    sk_prefix: None,
                    limit: 1000,
                    forward: false,
                };
                let page = self.query_page::<FeedItem>(q, start).await?;
                for item in page.items {
                    if item.fed_at < since {
                        return Ok(out);
                    }
                    if item.at >= since {
                        out.push(FeedEntry::from(item));
                    }
                }
                match page.next {
                    Some(k) => start = Some(k),
                    None => break,
                }
            }
            if bucket == 0 {
                return Ok(out);
            }
            bucket -= 1;
        }
    }

    /// A92: a delivery, strongly consistent.
    pub async fn delivery(
        &self,
        endpoint: WebhookId,
        id: DeliveryId,
    ) -> Result<Option<StoredDelivery>, StoreError> {
        Ok(self
            .get::<DeliveryItem>(&keys::webhook(&endpoint), &keys::delivery(&id), true)
            .await?
            .map(StoredDelivery::from))
    }

    /// A92: puts new deliveries (replays since a time).
    pub async fn put_deliveries(
        &self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.append_feed(&[], deliveries, now).await
    }

    /// A92: saves `delivery` over revision `rev`; a conflict when it changed meanwhile.
    pub async fn save_delivery(
        &self,
        delivery: &Delivery,
        rev: u64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.put_at_rev(
            to_item(&DeliveryItem::new(delivery, rev + 1, now))?,
            rev,
            "delivery",
        )
        .await
    }

    /// A92: one page of an endpoint's deliveries, newest first.
    pub async fn deliveries(
        &self,
        endpoint: WebhookId,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredDelivery>, StoreError> {
        let pk = keys::webhook(&endpoint);
        let q = QuerySpec {
            index: None,
            pk: &pk,
            sk_prefix: Some(keys::DELIVERIES),
            limit,
            forward: false,
        };
        Ok(self
            .query_page::<DeliveryItem>(q, start)
            .await?
            .map(StoredDelivery::from))
    }

    /// A92: up to `limit` deliveries whose retry was due by `now`, oldest due first.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        let to = keys::retry_due_by(now);
        let q = QuerySpec {
            index: Some(keys::GSI2),
            pk: keys::WEBHOOK_RETRIES,
            sk_prefix: None,
            limit,
            forward: true,
        };
        let range = SkRange {
            after: None,
            up_to: Some(&to),
        };
        Ok(self
            .query_range::<DeliveryItem>(q, range, None)
            .await?
            .items
            .into_iter()
            .map(StoredDelivery::from)
            .collect())
    }
}
