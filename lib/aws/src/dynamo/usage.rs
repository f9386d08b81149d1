//! Metered usage (access patterns A38–A45).
//!
//! | # | Access pattern | Operation | Key |
//! |---|----------------|-----------|-----|
//! | A38 | Count an event once | `PutItem` if `attribute_not_exists(PK)`, `ReturnValuesOnConditionCheckFailure = ALL_OLD` | `USAGE#{org}#{meter}#{yyyy-mm}#{shard}` / `E#{event id}`; late: GSI1 `USAGELATE#{org}#{meter}#{billed in}` / `{yyyy-mm}#{id}` |
//! | A39 | One customer's usage of one meter and period | `Query` × 8 shards + `Query GSI1` (late events billed in it) | as above |
//! | A40 | The meters a customer used in a period | `PutItem` (idempotent marker, once per batch and group) / `Query` | `ORG#{org}` / `USAGEMETER#{yyyy-mm}#{meter}` |
//! | A41 | Keep a rejected event (once per distinct event), telling its customer where it names one (`usage.rejected`, in the outbox) | conditional `PutItem` in a `TransactWriteItems` with the event | `USAGEREJ#{rej}` / `USAGEREJ`; GSI1 `USAGEREJ#{yyyy-mm received}` / `{received at}#{rej}` |
//! | A42 | List rejected events of a period / get one / mark it resolved | `Query GSI1` / `GetItem` / `UpdateItem` | as above |
//! | A43 | Ingestion health counters | `UpdateItem ADD` (once per batch and meter) / `Query` | `USAGEHEALTH#{yyyy-mm received}` / `METER#{meter}` |
//! | A44 | The last period closed (invoiced) for a customer | `GetItem` / conditional `PutItem` (only forward) | `ORG#{org}` / `BILLING` |
//! | A45 | A customer by its external reference (consistent where an upsert reads it); a reference given, unique — alone, or with the organisation it creates (an upsert) | `GetItem` / `TransactWriteItems` (guard unique) | `EXTREF#{reference}` / `EXTREF` |
//!
//! ## The write budget: one write unit per event
//!
//! An accepted event is **one `PutItem` of an item under 1 KB: one write unit**, and nothing
//! else per event. The put is conditional on the key being new, so a redelivery or a retry is
//! refused by DynamoDB without a read first; `ALL_OLD` on the failed condition returns the stored
//! event, whose fingerprint tells a duplicate (same content: counts nothing) from a conflict
//! (the id reused for other content: rejected). A failed conditional put still costs one write
//! unit, so a duplicate costs what an event does. There is no transaction per event (that would
//! be 2 units per item and a second item for a counter).
//!
//! Per batch (not per event) the handler adds one marker put per (customer, meter, period)
//! group (A40) and one counter update per meter (A43): with SQS batches of 10 messages of many
//! events, a fraction of a unit per event. Late events (rare) cost one more unit for their GSI1
//! entry; a rejected event (rarer) is a transaction of the kept item (and its GSI1 entry) with,
//! where it names a customer, that customer's `usage.rejected` in the outbox: 4–6 units.
//!
//! ## Sums without scanning others, and hot customers
//!
//! A customer's usage of a meter in a period lives in its own partitions, so summing it is a
//! `Query` of exactly those items. They are spread over [`SHARDS`] partitions by a hash of the
//! event id: one very large customer writes at up to 8 × 1,000 units per second before
//! DynamoDB throttles it, and its traffic never shares a partition key with anyone else's, so it
//! cannot throttle the rest. The shard is a function of the id alone, so a redelivery meets its
//! first copy on the same key. Summing reads the 8 partitions (in parallel).
//!
//! ## Late events
//!
//! An event keeps its key in the period it happened in (so a late redelivery still meets its
//! first copy); a late one carries `billed_in` (the first open period) and a GSI1 entry under
//! that period. A period's sum is its own items not billed elsewhere, plus the late items
//! billed in it.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
};
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::catalog::ServiceCode;
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::ids::OrgId;
use kopek_domain::orders::UserOrKey;
use kopek_domain::period::BillingPeriod;
use kopek_domain::usage::{EventKey, MeterUsage, MeteredEvent, RejectReason};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::expr::{self, put};
use super::{Page, PageKey, QuerySpec, Store, StoreError, capacity, key, keys, to_item};

/// Partitions one customer's usage of one meter and period is spread over.
pub const SHARDS: u8 = 8;
/// The most bytes of a rejected event's original text that are kept.
pub const MAX_KEPT_RAW_BYTES: usize = 16 * 1024;

/// The shard of an event id: the first byte of its SHA-256, modulo [`SHARDS`].
pub fn shard_of(id: &EventKey) -> u8 {
    Sha256::digest(id.as_str().as_bytes())[0] % SHARDS
}

#[derive(Debug, Serialize, Deserialize)]
struct EventItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    /// The quantity, a decimal string.
    q: String,
    ts: DateTime<Utc>,
    /// The day it happened on (UTC).
    d: NaiveDate,
    /// The period it is billed in.
    billed_in: String,
    fp: String,
    received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    props: BTreeMap<String, String>,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
}

/// What counting an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Counted now.
    Counted,
    /// Counted before, with the same content: nothing changed. `billed_in` is the period the
    /// first copy was billed in (a redelivery after a close is judged late, its first copy
    /// was not).
    Duplicate { billed_in: BillingPeriod },
    /// The id was counted before with other content: nothing changed.
    Conflict,
}

/// A rejected event as kept for the back office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEvent {
    /// `rej_` and 32 hex digits of the SHA-256 of what was sent: one record per distinct event.
    pub id: String,
    /// What the producer sent (the event's JSON), cut at [`MAX_KEPT_RAW_BYTES`].
    pub raw: String,
    #[serde(default)]
    pub truncated: bool,
    pub reason: RejectReason,
    pub field: String,
    pub detail: String,
    /// The meter and producer id, where they could be read.
    #[serde(default)]
    pub meter: Option<String>,
    #[serde(default)]
    pub event_id: Option<String>,
    /// The customer the event named, where it is one: it is told (`usage.rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgId>,
    pub received_at: DateTime<Utc>,
    /// `open` until a re-submission counts it (`resolved`) or finds it counted (`duplicate`).
    pub status: String,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
}

impl RejectedEvent {
    pub fn new(
        raw: &str,
        reason: RejectReason,
        field: &str,
        detail: &str,
        meter: Option<String>,
        event_id: Option<String>,
        received_at: DateTime<Utc>,
    ) -> Self {
        let digest = Sha256::digest(raw.as_bytes());
        let id: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let mut cut = raw.len().min(MAX_KEPT_RAW_BYTES);
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        RejectedEvent {
            id: format!("rej_{id}"),
            raw: raw[..cut].to_owned(),
            truncated: cut < raw.len(),
            reason,
            field: field.to_owned(),
            detail: detail.to_owned(),
            meter,
            event_id,
            org: None,
            received_at,
            status: "open".to_owned(),
            resolved_at: None,
        }
    }

    /// The same, naming the customer the event was for.
    pub fn of(self, org: Option<OrgId>) -> Self {
        Self { org, ..self }
    }

    /// What the customer's CRM is told of it: `usage.rejected`, if a customer is named.
    pub fn told(&self) -> Option<DomainEvent> {
        let org = self.org?;
        Some(DomainEvent::new(
            org,
            UserOrKey::System,
            self.received_at,
            EventKind::UsageRejected {
                rejected: self.id.clone(),
                reason: self.reason,
                field: self.field.clone(),
                detail: self.detail.clone(),
                meter: self.meter.clone(),
                event_id: self.event_id.clone(),
            },
        ))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RejectedItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(flatten)]
    event: RejectedEvent,
}

/// One meter's ingestion counters for a period of reception.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCounts {
    #[serde(default)]
    pub accepted: u64,
    #[serde(default)]
    pub duplicate: u64,
    #[serde(default)]
    pub rejected: u64,
    #[serde(default)]
    pub late: u64,
}

impl HealthCounts {
    pub fn is_empty(&self) -> bool {
        *self == HealthCounts::default()
    }
}

#[derive(Debug, Deserialize)]
struct HealthItem {
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    counts: HealthCounts,
}

#[derive(Debug, Serialize, Deserialize)]
struct BillingItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    closed_through: BillingPeriod,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExternalRefItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    org: OrgId,
}

#[derive(Debug, Serialize, Deserialize)]
struct MarkerItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    meter: ServiceCode,
}

impl Store {
    /// A38: counts `event` once. See the module docs for the cost.
    pub async fn put_usage_event(
        &self,
        event: &MeteredEvent,
        received_at: DateTime<Utc>,
    ) -> Result<PutOutcome, StoreError> {
        let fingerprint = event.fingerprint();
        let late = event.is_late();
        let item = to_item(&EventItem {
            pk: keys::usage_partition(&event.org, &event.meter, event.period, shard_of(&event.id)),
            sk: keys::usage_event(&event.id),
            kind: "usage_event".into(),
            q: event.quantity.value().normalize().to_string(),
            ts: event.timestamp,
            d: event.day,
            billed_in: event.billed_in.to_string(),
            fp: fingerprint.clone(),
            received_at,
            props: event.properties.clone(),
            gsi1pk: late.then(|| keys::late_usage(&event.org, &event.meter, event.billed_in)),
            gsi1sk: late.then(|| format!("{}#{}", event.period, event.id)),
        })?;
        // A late event's GSI1 entry is a second write of the same size.
        let bytes = capacity::item_size(&item);
        let units = capacity::sum(std::iter::repeat_n(
            capacity::write(bytes, false),
            1 + usize::from(late),
        ));
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.record_computed(out.consumed_capacity(), units);
                Ok(PutOutcome::Counted)
            }
            Err(err) => {
                // A failed condition is charged as the write would have been.
                self.record_computed(None, capacity::write(bytes, false));
                let returned = match err.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(e)) => {
                        Some(e.item().cloned())
                    }
                    _ => None,
                };
                let stored: EventItem = match returned {
                    None => return Err(StoreError::from_sdk(err)),
                    Some(Some(item)) => super::from_item(item)?,
                    // The condition failed but the old item did not come back: read it.
                    Some(None) => {
                        let pk = keys::usage_partition(
                            &event.org,
                            &event.meter,
                            event.period,
                            shard_of(&event.id),
                        );
                        self.get::<EventItem>(&pk, &keys::usage_event(&event.id), true)
                            .await?
                            .ok_or_else(|| {
                                StoreError::Transient("the event vanished after its write".into())
                            })?
                    }
                };
                if stored.fp != fingerprint {
                    return Ok(PutOutcome::Conflict);
                }
                let billed_in = stored.billed_in.parse().map_err(|_| {
                    StoreError::Corrupt(format!("{}: billed_in `{}`", stored.pk, stored.billed_in))
                })?;
                Ok(PutOutcome::Duplicate { billed_in })
            }
        }
    }

    /// A39: a customer's usage of `meter` billed in `period`: its own events not billed later,
    /// and late events of earlier periods billed in it.
    pub async fn usage_of(
        &self,
        org: OrgId,
        meter: &ServiceCode,
        period: BillingPeriod,
    ) -> Result<MeterUsage, StoreError> {
        let shards = (0..SHARDS).map(|shard| {
            let pk = keys::usage_partition(&org, meter, period, shard);
            async move { self.query_all::<EventItem>(&pk, "E#").await }
        });
        let late_pk = keys::late_usage(&org, meter, period);
        let (shards, late) = tokio::join!(
            futures::future::try_join_all(shards),
            self.query_all_at::<EventItem>(Some(keys::GSI1), &late_pk, None)
        );
        let own = period.to_string();
        let mut usage = MeterUsage::default();
        let items = shards?.into_iter().flatten().filter(|i| i.billed_in == own);
        for item in items.chain(late?) {
            let quantity: Decimal = item
                .q
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("{}: quantity `{}`", item.pk, item.q)))?;
            usage
                .add(item.d, quantity, item.billed_in != period_of_pk(&item.pk))
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", item.pk)))?;
        }
        Ok(usage)
    }

    /// A40: notes that `org` has usage of `meter` billed in `period` (idempotent).
    pub async fn mark_meter_used(
        &self,
        org: OrgId,
        meter: &ServiceCode,
        period: BillingPeriod,
    ) -> Result<(), StoreError> {
        let item = to_item(&MarkerItem {
            pk: keys::org(&org),
            sk: keys::meter_used(period, meter),
            kind: "usage_meter".into(),
            meter: meter.clone(),
        })?;
        let units = capacity::write(capacity::item_size(&item), false);
        let out = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record_computed(out.consumed_capacity(), units);
        Ok(())
    }

    /// A40: the meters `org` has usage of billed in `period`, by code.
    pub async fn meters_used(
        &self,
        org: OrgId,
        period: BillingPeriod,
    ) -> Result<Vec<ServiceCode>, StoreError> {
        Ok(self
            .query_all::<MarkerItem>(&keys::org(&org), &keys::meters_used(period))
            .await?
            .into_iter()
            .map(|m| m.meter)
            .collect())
    }

    /// A41: keeps a rejected event, listed under `period` (the one it was received in), and
    /// tells its customer in the same transaction; `false` if the same event was kept before
    /// (nothing is told twice).
    pub async fn put_rejected(
        &self,
        event: &RejectedEvent,
        period: BillingPeriod,
    ) -> Result<bool, StoreError> {
        let item = to_item(&RejectedItem {
            pk: keys::rejected_usage(&event.id),
            sk: keys::REJECTED_USAGE_SK.into(),
            kind: "usage_rejected".into(),
            gsi1pk: keys::rejected_usage_of(period),
            gsi1sk: format!("{}#{}", event.received_at.to_rfc3339(), event.id),
            event: event.clone(),
        })?;
        let mut actions = vec![put(self, item, Some("attribute_not_exists(PK)"))?];
        if let Some(told) = event.told() {
            actions.push(super::orders::put_event(self, &told)?);
        }
        match self.transact(actions, &[]).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A42: one rejected event.
    pub async fn rejected_event(&self, id: &str) -> Result<Option<RejectedEvent>, StoreError> {
        Ok(self
            .get::<RejectedItem>(&keys::rejected_usage(id), keys::REJECTED_USAGE_SK, true)
            .await?
            .map(|i| i.event))
    }

    /// A42: rejected events received in `period`, newest first.
    pub async fn list_rejected(
        &self,
        period: BillingPeriod,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<RejectedEvent>, StoreError> {
        let pk = keys::rejected_usage_of(period);
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk: &pk,
            sk_prefix: None,
            limit,
            forward: false,
        };
        Ok(self
            .query_page::<RejectedItem>(q, start)
            .await?
            .map(|i| i.event))
    }

    /// A42: marks a rejected event `status` (`resolved`, `duplicate`) if it is still open.
    pub async fn resolve_rejected(
        &self,
        id: &str,
        status: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let changed = expr::Change::new(keys::rejected_usage(id), keys::REJECTED_USAGE_SK)
            .set("#s = :s")
            .set("resolved_at = :at")
            .when("#s = :open")
            .name("#s", "status")
            .value(":s", AttributeValue::S(status.to_owned()))
            .value(":open", AttributeValue::S("open".into()))
            .value(":at", AttributeValue::S(at.to_rfc3339()))
            .send(self)
            .await?;
        expr::held(changed, "the rejected event is no longer open")
    }

    /// A43: adds to a meter's counters for the period of reception.
    pub async fn add_health(
        &self,
        period: BillingPeriod,
        meter: &str,
        counts: &HealthCounts,
    ) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let n = |v: u64| AttributeValue::N(v.to_string());
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(
                &keys::usage_health(period),
                &keys::health_meter(meter),
            )))
            .update_expression("SET #t = :t ADD accepted :a, duplicate :d, rejected :r, late :l")
            .expression_attribute_names("#t", "type")
            .expression_attribute_values(":t", AttributeValue::S("usage_health".into()))
            .expression_attribute_values(":a", n(counts.accepted))
            .expression_attribute_values(":d", n(counts.duplicate))
            .expression_attribute_values(":r", n(counts.rejected))
            .expression_attribute_values(":l", n(counts.late))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record_computed(out.consumed_capacity(), capacity::write(0, false));
        Ok(())
    }

    /// A43: every meter's counters for a period of reception, by meter code (`-` for events
    /// whose meter could not be read).
    pub async fn health(
        &self,
        period: BillingPeriod,
    ) -> Result<BTreeMap<String, HealthCounts>, StoreError> {
        Ok(self
            .query_all::<HealthItem>(&keys::usage_health(period), keys::HEALTH_METERS)
            .await?
            .into_iter()
            .map(|i| {
                (
                    i.sk.trim_start_matches(keys::HEALTH_METERS).to_owned(),
                    i.counts,
                )
            })
            .collect())
    }

    /// A44: the last period closed for `org`, if any.
    pub async fn closed_through(&self, org: OrgId) -> Result<Option<BillingPeriod>, StoreError> {
        Ok(self
            .get::<BillingItem>(&keys::org(&org), keys::ORG_BILLING, true)
            .await?
            .map(|i| i.closed_through))
    }

    /// A44: records that every period up to `period` is closed for `org`. Only ever forward:
    /// an earlier period than the one recorded is a conflict.
    pub async fn close_through(&self, org: OrgId, period: BillingPeriod) -> Result<(), StoreError> {
        let item = to_item(&BillingItem {
            pk: keys::org(&org),
            sk: keys::ORG_BILLING.into(),
            kind: "billing".into(),
            closed_through: period,
        })?;
        let action = expr::conditional_put(
            self,
            item,
            Some("attribute_not_exists(PK) OR closed_through <= :p"),
            HashMap::from([(":p".to_owned(), AttributeValue::S(period.to_string()))]),
        )?;
        expr::held(
            self.write_one(action).await?,
            "a later period is already closed",
        )
    }

    /// A45: the organisation an external reference belongs to.
    pub async fn org_by_external_ref(&self, reference: &str) -> Result<Option<OrgId>, StoreError> {
        Ok(self
            .get::<ExternalRefItem>(&keys::external_ref(reference), keys::EXTERNAL_REF_SK, false)
            .await?
            .map(|i| i.org))
    }

    /// A45: gives `org` the external reference `reference`, unique across customers.
    pub async fn set_external_ref(&self, org: OrgId, reference: &str) -> Result<(), StoreError> {
        let action = external_ref_put(self, org, reference)?;
        self.transact(vec![action], &[(0, StoreError::Duplicate("external_ref"))])
            .await
    }

    /// A45: the organisation an external reference belongs to, strongly consistent (an
    /// upsert by reference reads it before it writes).
    pub async fn org_by_external_ref_now(
        &self,
        reference: &str,
    ) -> Result<Option<OrgId>, StoreError> {
        Ok(self
            .get::<ExternalRefItem>(&keys::external_ref(reference), keys::EXTERNAL_REF_SK, true)
            .await?
            .map(|i| i.org))
    }
}

/// The action that gives `org` the external reference `reference`, unless another customer
/// has it.
pub(crate) fn external_ref_put(
    store: &Store,
    org: OrgId,
    reference: &str,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let item = to_item(&ExternalRefItem {
        pk: keys::external_ref(reference),
        sk: keys::EXTERNAL_REF_SK.into(),
        kind: "external_ref".into(),
        org,
    })?;
    let mut values = HashMap::new();
    values.insert(":org".to_owned(), AttributeValue::S(org.to_string()));
    super::expr::conditional_put(
        store,
        item,
        Some("attribute_not_exists(PK) OR org = :org"),
        values,
    )
}

/// The period in an event partition key `USAGE#{org}#{meter}#{yyyy-mm}#{shard}`.
fn period_of_pk(pk: &str) -> String {
    pk.rsplit('#').nth(1).unwrap_or_default().to_owned()
}

impl Store {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_read_back_from_an_event_partition_key() {
        let org: OrgId = "org_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
        let meter: ServiceCode = "TRAFFIC".parse().unwrap();
        let nov = BillingPeriod::new(2026, 11).unwrap();
        assert_eq!(
            period_of_pk(&keys::usage_partition(&org, &meter, nov, 3)),
            "2026-11"
        );
        let q3 = BillingPeriod::try_of(
            chrono::NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
            kopek_domain::period::PeriodLength::Quarter,
        )
        .unwrap();
        assert_eq!(
            period_of_pk(&keys::usage_partition(&org, &meter, q3, 0)),
            "2026-Q3"
        );
    }

    #[test]
    fn shards_spread_ids_and_never_move_one() {
        let mut seen = [0u32; SHARDS as usize];
        for i in 0..8000 {
            let id = EventKey::try_from(format!("evt-{i}")).unwrap();
            let shard = shard_of(&id);
            assert_eq!(shard, shard_of(&id));
            seen[usize::from(shard)] += 1;
        }
        // Roughly even: every shard within ±20 % of 1,000.
        assert!(seen.iter().all(|&n| (800..=1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn a_rejected_event_is_identified_by_what_was_sent() {
        let at = Utc::now();
        let a = RejectedEvent::new(
            "{\"id\":1}",
            RejectReason::Malformed,
            "",
            "x",
            None,
            None,
            at,
        );
        let b = RejectedEvent::new(
            "{\"id\":1}",
            RejectReason::Malformed,
            "",
            "x",
            None,
            None,
            at,
        );
        let c = RejectedEvent::new(
            "{\"id\":2}",
            RejectReason::Malformed,
            "",
            "x",
            None,
            None,
            at,
        );
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert!(a.id.starts_with("rej_") && a.id.len() == 36);
        let big = "я".repeat(MAX_KEPT_RAW_BYTES);
        let kept = RejectedEvent::new(&big, RejectReason::Malformed, "", "x", None, None, at);
        assert!(kept.truncated && kept.raw.len() <= MAX_KEPT_RAW_BYTES);
    }
}
