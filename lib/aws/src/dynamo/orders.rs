//! Orders, their lines (which are the work orders), charges and the outbox (access patterns
//! A19–A27).
//!
//! An order and its lines share the customer's partition and one key prefix, so one query
//! reads an order with every line, and a descending query lists orders newest first with
//! their lines (a line sorts before its order's own item there, so a page is cut only after
//! an order's item). A line waiting for work carries `GSI1PK = QUEUE#{work type}`,
//! `GSI1SK = {order id}#L{line}` (order ids sort by age: oldest first); in a batch it carries
//! `BATCH#{batch}`; finished or cancelled, no queue key at all.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::NaiveDate;
use kopek_domain::charges::{Charge, DomainEvent};
use kopek_domain::ids::{OrderId, OrgId};
use kopek_domain::orders::{LineState, Order, OrderLine, PlacedOrder};
use kopek_domain::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use super::expr::{ABSENT, put, put_over_rev};
use super::{Item, Page, PageKey, QuerySpec, Store, StoreError, from_item, key, keys, to_item};

#[derive(Debug, Serialize, Deserialize)]
struct OrderItem {
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
    order: Order,
}

impl OrderItem {
    fn new(order: &Order) -> Self {
        Self {
            pk: keys::org(&order.org),
            sk: keys::order(&order.id),
            gsi1pk: keys::orders_of_month(&order.id),
            gsi1sk: keys::order(&order.id),
            kind: "order".into(),
            order: order.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LineItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    /// Copies for the queue's filters (`requested_date`, `area`).
    requested_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    area: Option<String>,
    line: OrderLine,
    rev: u64,
}

impl LineItem {
    pub(crate) fn new(line: &OrderLine, rev: u64) -> Self {
        let (gsi1pk, gsi1sk) = match &line.state {
            LineState::Placed => (
                Some(keys::queue(line.work_type.as_str())),
                Some(keys::queue_position(&line.order, line.line_no)),
            ),
            LineState::Accepted { batch, .. } | LineState::InProgress { batch, .. } => {
                (Some(keys::batch(batch)), Some(line.work_order.to_string()))
            }
            _ => (None, None),
        };
        Self {
            pk: keys::org(&line.org),
            sk: keys::order_line(&line.order, line.line_no),
            gsi1pk,
            gsi1sk,
            kind: "order_line".into(),
            requested_date: line.requested_date,
            area: line.site.area.clone(),
            line: line.clone(),
            rev,
        }
    }
}

/// A line as stored, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLine {
    pub line: OrderLine,
    pub rev: u64,
}

impl From<LineItem> for StoredLine {
    fn from(i: LineItem) -> Self {
        Self {
            line: i.line,
            rev: i.rev,
        }
    }
}

/// An order with all its lines, in line order.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub order: Order,
    pub lines: Vec<StoredLine>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ChargeItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    charge: Charge,
}

#[derive(Debug, Serialize, Deserialize)]
struct EventItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    /// In the outbox until relayed (`None` after).
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    event: DomainEvent,
}

/// The action that writes `line` at `rev + 1` if it is still at `rev` (or creates it).
pub(crate) fn put_line(
    store: &Store,
    line: &OrderLine,
    rev: u64,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    put_over_rev(store, to_item(&LineItem::new(line, rev + 1))?, rev)
}

/// The action that records a charge, once.
pub(crate) fn put_charge(
    store: &Store,
    charge: &Charge,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let item = to_item(&ChargeItem {
        pk: keys::org(&charge.org),
        sk: keys::charge(&charge.period, &charge.id),
        kind: "charge".into(),
        charge: charge.clone(),
    })?;
    put(store, item, Some(ABSENT))
}

/// The action that appends an event to the outbox and its subject's history.
pub(crate) fn put_event(
    store: &Store,
    event: &DomainEvent,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    put(store, event_item(event)?, Some(ABSENT))
}

/// An event as its history item, in the outbox.
/// The outbox event an item holds, if it holds one (tests that read the table directly).
pub fn event_of_item(item: super::Item) -> Option<DomainEvent> {
    super::from_item::<EventItem>(item)
        .ok()
        .filter(|i| i.kind == "event")
        .map(|i| i.event)
}

fn event_item(event: &DomainEvent) -> Result<super::Item, StoreError> {
    to_item(&EventItem {
        pk: keys::org(&event.org),
        sk: keys::history(&event.kind.subject(), &event.id),
        gsi1pk: Some(keys::outbox(&event.org)),
        gsi1sk: Some(event.id.to_string()),
        kind: "event".into(),
        event: event.clone(),
    })
}

impl Store {
    /// Puts `item` (carrying `rev + 1`) over revision `rev` with `event` in the same
    /// transaction (the outbox); a conflict saying that `what` changed meanwhile.
    pub(crate) async fn put_at_rev_telling(
        &self,
        item: super::Item,
        rev: u64,
        what: &str,
        event: &DomainEvent,
    ) -> Result<u64, StoreError> {
        self.transact(
            vec![
                super::expr::put_over_rev(self, item, rev)?,
                put_event(self, event)?,
            ],
            &[(
                0,
                StoreError::Conflict(format!("the {what} changed meanwhile; retry")),
            )],
        )
        .await?;
        Ok(rev + 1)
    }

    /// A19: an order, its lines (queued for work) and its event, all or nothing.
    pub async fn place_order(
        &self,
        placed: &PlacedOrder,
        event: &DomainEvent,
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(placed.lines.len() + 2);
        items.push(put(
            self,
            to_item(&OrderItem::new(&placed.order))?,
            Some(ABSENT),
        )?);
        for line in &placed.lines {
            items.push(put_line(self, line, 0)?);
        }
        items.push(put_event(self, event)?);
        self.transact(items, &[]).await
    }

    /// A20: an order with every line (strongly consistent).
    pub async fn order(&self, org: OrgId, id: OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let prefix = keys::order(&id);
        let mut order = None;
        let mut lines = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("PK = :pk AND begins_with(SK, :sk)")
                .expression_attribute_values(":pk", AttributeValue::S(keys::org(&org)))
                .expression_attribute_values(":sk", AttributeValue::S(prefix.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            self.record(out.consumed_capacity());
            for item in out.items.unwrap_or_default() {
                absorb(item, &mut order, &mut lines)?;
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(order.map(|order| {
            lines.sort_by_key(|l: &StoredLine| l.line.line_no);
            StoredOrder { order, lines }
        }))
    }

    /// A21: the organisation an order belongs to, for staff who know only the order's id.
    pub async fn order_owner(&self, id: OrderId) -> Result<Option<OrgId>, StoreError> {
        let pk = keys::orders_of_month(&id);
        let sk = keys::order(&id);
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk: &pk,
            sk_prefix: Some(&sk),
            limit: 1,
            forward: true,
        };
        let page = self.query_page::<OrderItem>(q, None).await?;
        Ok(page
            .items
            .into_iter()
            .find(|i| i.order.id == id)
            .map(|i| i.order.org))
    }

    /// A22: an organisation's orders with their lines, newest first.
    ///
    /// Reads the partition backwards in pages of items and cuts the page after the last
    /// complete order, so a page never splits an order's lines.
    pub async fn list_orders(
        &self,
        org: OrgId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<StoredOrder>, StoreError> {
        let pk = keys::org(&org);
        let mut start_key = match start {
            Some(k) if k.0.get("PK") != Some(&pk) => return Err(StoreError::ForeignCursor),
            Some(k) => Some(
                k.0.into_iter()
                    .map(|(k, v)| (k, AttributeValue::S(v)))
                    .collect::<Item>(),
            ),
            None => None,
        };
        let mut orders = Vec::new();
        // Lines seen since the last complete order (they come before their order's item).
        let mut pending: Vec<StoredLine> = Vec::new();
        let mut next = None;
        'pages: loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("PK = :pk AND begins_with(SK, :sk)")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":sk", AttributeValue::S("ORDER#".into()))
                .scan_index_forward(false)
                .limit(200)
                .set_exclusive_start_key(start_key.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            self.record(out.consumed_capacity());
            for item in out.items.unwrap_or_default() {
                let sk = item
                    .get("SK")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let mut order = None;
                absorb(item, &mut order, &mut pending)?;
                if let Some(order) = order {
                    let mut lines: Vec<StoredLine> = std::mem::take(&mut pending)
                        .into_iter()
                        .filter(|l| l.line.order == order.id)
                        .collect();
                    lines.sort_by_key(|l| l.line.line_no);
                    orders.push(StoredOrder { order, lines });
                    if orders.len() >= limit {
                        next = Some(PageKey(
                            [("PK".to_owned(), pk.clone()), ("SK".to_owned(), sk)].into(),
                        ));
                        break 'pages;
                    }
                }
            }
            match out.last_evaluated_key {
                Some(k) => start_key = Some(k),
                None => break,
            }
        }
        Ok(Page {
            items: orders,
            next,
        })
    }

    /// A23: lines by key (strongly consistent); missing ones are left out.
    pub async fn lines(
        &self,
        refs: &[(OrgId, OrderId, u16)],
    ) -> Result<Vec<StoredLine>, StoreError> {
        let keys = refs
            .iter()
            .map(|(org, order, n)| key(&keys::org(org), &keys::order_line(order, *n)))
            .collect();
        self.batch_get(keys)
            .await?
            .into_iter()
            .map(|item| Ok(StoredLine::from(from_item::<LineItem>(item)?)))
            .collect()
    }

    /// A24: a changed line and its event (a cancellation), if the line is still at its
    /// revision.
    pub async fn save_line_with_event(
        &self,
        line: &StoredLine,
        event: &DomainEvent,
    ) -> Result<(), StoreError> {
        let items = vec![
            put_line(self, &line.line, line.rev)?,
            put_event(self, event)?,
        ];
        self.transact(
            items,
            &[(
                0,
                StoreError::Conflict("the line changed meanwhile; retry".into()),
            )],
        )
        .await
    }

    /// A25: an organisation's charges of one period.
    pub async fn charges(
        &self,
        org: OrgId,
        period: BillingPeriod,
    ) -> Result<Vec<Charge>, StoreError> {
        Ok(self
            .query_all::<ChargeItem>(&keys::org(&org), &keys::charges_of(&period))
            .await?
            .into_iter()
            .map(|i| i.charge)
            .collect())
    }

    /// A26: the history of an order or a subscription, oldest first.
    pub async fn history(&self, org: OrgId, subject: &str) -> Result<Vec<DomainEvent>, StoreError> {
        Ok(self
            .query_all::<EventItem>(&keys::org(&org), &keys::history_of(subject))
            .await?
            .into_iter()
            .map(|i| i.event)
            .collect())
    }

    /// A27: many events put into the outbox at once, in `BatchWriteItem`s of 25, each with no
    /// change of its own — a burst as the webhooks benchmark makes it; every use case writes
    /// its event in its own transaction instead.
    pub async fn put_events_in_bulk(&self, events: &[DomainEvent]) -> Result<(), StoreError> {
        let requests = events
            .iter()
            .map(|event| super::put_request(event_item(event)?))
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await
    }

    /// A27: events waiting in the outbox, oldest first (for the relay): up to `limit` of
    /// each shard, merged by event id (ids grow with time), and only as far as every shard
    /// that had more was read — so no older event of a shard is passed over.
    pub async fn outbox(&self, limit: i32) -> Result<Vec<DomainEvent>, StoreError> {
        let mut merged = Vec::new();
        let mut bound: Option<String> = None;
        // The shards side by side: one round trip's wait, not sixteen.
        let pks: Vec<String> = (0..keys::OUTBOX_SHARDS).map(keys::outbox_shard).collect();
        let pages = futures::future::try_join_all(pks.iter().map(|pk| {
            let q = QuerySpec {
                index: Some(keys::GSI1),
                pk,
                sk_prefix: None,
                limit,
                forward: true,
            };
            self.query_page::<EventItem>(q, None)
        }))
        .await?;
        for page in pages {
            if page.next.is_some()
                && let Some(last) = page.items.last()
            {
                let last = last.event.id.to_string();
                if bound.as_ref().is_none_or(|b| last < *b) {
                    bound = Some(last);
                }
            }
            merged.extend(page.items.into_iter().map(|i| i.event));
        }
        merged.sort_by_key(|e| e.id.to_string());
        if let Some(bound) = bound {
            merged.retain(|e| e.id.to_string() <= bound);
        }
        merged.truncate(usize::try_from(limit.max(1)).unwrap_or(1));
        Ok(merged)
    }

    /// A27: takes `event` out of the outbox once it was relayed (its history item stays);
    /// `false` when another relay took it out first.
    pub async fn relayed(&self, event: &DomainEvent) -> Result<bool, StoreError> {
        super::expr::Change::new(
            keys::org(&event.org),
            &keys::history(&event.kind.subject(), &event.id),
        )
        .remove("GSI1PK")
        .remove("GSI1SK")
        .when("attribute_exists(GSI1PK)")
        .send(self)
        .await
    }
}

/// Sorts one item of an order's key range into the order or its lines.
fn absorb(
    item: Item,
    order: &mut Option<Order>,
    lines: &mut Vec<StoredLine>,
) -> Result<(), StoreError> {
    match item
        .get("type")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
    {
        Some("order") => *order = Some(from_item::<OrderItem>(item)?.order),
        Some("order_line") => lines.push(from_item::<LineItem>(item)?.into()),
        _ => {}
    }
    Ok(())
}
