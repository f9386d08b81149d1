//! Usage ingestion: what the `usage-ingest` function does with an SQS batch (through
//! `kopek_events::usage`), what posting usage checks before it enqueues ([`super::Usage`]),
//! and re-submission of rejected events.
//!
//! One batch ([`Ingestor::ingest`]):
//!
//! 1. every message body is read as one event or an array of events; what is not an event at
//!    all is rejected as `malformed` (the field named, from the JSON path);
//! 2. each event is parsed ([`usage::parse`]); the customers, meters and closed periods the
//!    batch names are looked up **once per batch**;
//! 3. each event is judged ([`usage::judge`]) and counted with one conditional put
//!    ([`Store::put_usage_event`]), many in flight at once;
//! 4. rejections (including an id reused for other content) are kept, once per distinct event
//!    ([`Store::put_rejected`]), for the back office to list and re-submit;
//! 5. the (customer, meter, period) groups that got usage are marked, and the ingestion
//!    counters are added to, once per group and meter.
//!
//! A message is reported failed (SQS then redelivers it alone, and after `maxReceiveCount`
//! receives moves it to the dead-letter queue) only when storage failed — throttled,
//! unavailable, or misconfigured: a judgement never fails a message. An event that can never
//! count is never retried, and never dropped: it is kept as rejected. Because counting is a conditional put keyed by the event, a redelivered
//! message counts nothing twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use kopek_aws::dynamo::usage::{HealthCounts, PutOutcome, RejectedEvent};
use kopek_aws::dynamo::{Store, StoreError};
use kopek_domain::calendar::Calendar;
use kopek_domain::catalog::{Service, ServiceCode};
use kopek_domain::ids::OrgId;
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_domain::usage::{
    self, CustomerRef, Judgement, MeteredEvent, ParsedEvent, RawUsageEvent, RejectReason, Rejection,
};
use serde_json::Value;

use crate::Context;

/// Conditional puts in flight at once within one batch.
pub const CONCURRENCY: usize = 32;
/// The most events one message may carry (a 256 KiB message holds about 1,500 small ones).
pub const MAX_EVENTS_PER_MESSAGE: usize = 5_000;

/// One SQS message: its id (for the partial batch response) and body.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub body: String,
}

/// What a batch came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Ids of the messages to retry (transient failures only).
    pub failed: Vec<String>,
    pub counted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub late: u64,
}

/// How one event ended.
#[derive(Debug, Clone)]
enum Verdict {
    /// Stored now, or (`duplicate`) found stored with the same content.
    Stored {
        event: MeteredEvent,
        duplicate: bool,
    },
    Rejected(RejectedEvent),
}

/// Judges and counts usage against one store.
#[derive(Debug, Clone)]
pub struct Ingestor {
    store: Store,
    grace: TimeDelta,
    calendar: Calendar,
}

/// The catalog, customers and closed periods a batch names, each looked up once.
#[derive(Debug, Default)]
pub struct Lookups {
    /// Each customer reference's organisation and currency.
    orgs: HashMap<CustomerRef, Option<(OrgId, Currency)>>,
    services: HashMap<ServiceCode, Option<Service>>,
    closed: HashMap<OrgId, Option<BillingPeriod>>,
}

impl Lookups {
    /// The organisation a customer reference names, if it names one.
    pub fn org_of(&self, customer: &CustomerRef) -> Option<OrgId> {
        self.orgs
            .get(customer)
            .copied()
            .flatten()
            .map(|(org, _)| org)
    }
}

impl Ingestor {
    /// Counts events into `store`, refusing those older than `grace`, in the periods of the
    /// provider's `calendar`.
    pub fn new(store: Store, grace: Duration, calendar: Calendar) -> Self {
        let grace =
            TimeDelta::from_std(grace).unwrap_or(TimeDelta::days(usage::DEFAULT_GRACE_DAYS));
        Self {
            store,
            grace,
            calendar,
        }
    }

    /// The ingestor of the services' store, grace window and calendar.
    pub(crate) fn of(ctx: &Context) -> Self {
        Self::new(ctx.store.clone(), ctx.settings.usage_grace, ctx.calendar)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Looks up what `events` name and the store does not change within a batch.
    pub async fn lookups<'a>(
        &self,
        events: impl IntoIterator<Item = &'a ParsedEvent>,
    ) -> Result<Lookups, StoreError> {
        let mut lookups = Lookups::default();
        let mut customers = BTreeSet::new();
        let mut meters = BTreeSet::new();
        for event in events {
            customers.insert(event.customer.clone());
            meters.insert(event.meter.clone());
        }
        for customer in customers {
            let id = match &customer {
                CustomerRef::Org(org) => Some(*org),
                CustomerRef::External(reference) => {
                    self.store.org_by_external_ref(reference.as_str()).await?
                }
            };
            let org = match id {
                Some(id) => self
                    .store
                    .organisation(id)
                    .await?
                    .map(|o| (o.id, o.currency)),
                None => None,
            };
            if let Some((org, _)) = org
                && !lookups.closed.contains_key(&org)
            {
                lookups
                    .closed
                    .insert(org, self.store.closed_through(org).await?);
            }
            lookups.orgs.insert(customer, org);
        }
        for meter in meters {
            let service = self.store.service(&meter).await?.map(|s| s.service);
            lookups.services.insert(meter, service);
        }
        Ok(lookups)
    }

    /// Judges one parsed event with `lookups` (no I/O).
    pub fn judge(
        &self,
        event: &ParsedEvent,
        lookups: &Lookups,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<MeteredEvent, Rejection> {
        let customer = lookups.orgs.get(&event.customer).copied().flatten();
        let org = customer.map(|(org, _)| org);
        let judgement = Judgement {
            org,
            currency: customer.map(|(_, currency)| currency),
            service: lookups.services.get(&event.meter).and_then(Option::as_ref),
            closed_through: org.and_then(|o| lookups.closed.get(&o).copied().flatten()),
            received_at,
            now,
            grace: self.grace,
            calendar: self.calendar,
        };
        usage::judge(event, &judgement)
    }

    /// Ingests one SQS batch received at `now`. Never fails as a whole: storage errors mark
    /// the messages they touched as failed.
    pub async fn ingest(&self, messages: &[Message], now: DateTime<Utc>) -> BatchReport {
        // 1–2: read and parse every event of every message.
        let mut pending: Vec<(usize, Read)> = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            for event in read_message(&message.body, now) {
                pending.push((index, event));
            }
        }
        let mut failed: BTreeSet<usize> = BTreeSet::new();
        let lookups = match self
            .lookups(pending.iter().filter_map(|(_, read)| match read {
                Read::Event(event) => Some(event),
                Read::Rejected(_) => None,
            }))
            .await
        {
            Ok(lookups) => lookups,
            Err(e) => {
                tracing::warn!(error = %e, "usage batch: lookups failed; every message is retried");
                return BatchReport {
                    failed: messages.iter().map(|m| m.id.clone()).collect(),
                    ..BatchReport::default()
                };
            }
        };

        // 3–4: judge, count, keep rejections.
        let verdicts: Vec<(usize, Result<Verdict, StoreError>)> = futures::stream::iter(pending)
            .map(|(index, parsed)| {
                let lookups = &lookups;
                async move {
                    let verdict = match parsed {
                        Read::Rejected(rejected) => self.keep_rejected(*rejected).await,
                        Read::Event(event) => match self.judge(&event, lookups, now, now) {
                            Err(rejection) => {
                                let org = lookups.org_of(&event.customer);
                                self.keep_rejected(rejected_from(&event, &rejection, now).of(org))
                                    .await
                            }
                            Ok(metered) => self.count(metered, &event, now).await,
                        },
                    };
                    (index, verdict)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;

        // 5: markers and counters.
        let mut report = BatchReport::default();
        let mut groups: BTreeMap<(OrgId, ServiceCode, BillingPeriod), BTreeSet<usize>> =
            BTreeMap::new();
        let mut health: BTreeMap<(BillingPeriod, String), HealthCounts> = BTreeMap::new();
        let period = self.calendar.period_of(now);
        for (index, verdict) in verdicts {
            match verdict {
                Err(e) => {
                    tracing::warn!(error = %e, message = %messages[index].id, "usage event not stored; the message is retried");
                    failed.insert(index);
                }
                Ok(Verdict::Stored { event, duplicate }) => {
                    let counts = health.entry((period, event.meter.to_string())).or_default();
                    if duplicate {
                        report.duplicates += 1;
                        counts.duplicate += 1;
                    } else {
                        report.counted += 1;
                        counts.accepted += 1;
                        if event.is_late() {
                            report.late += 1;
                            counts.late += 1;
                        }
                    }
                    // A duplicate is marked again: its first delivery may have failed before
                    // its marker was written.
                    groups
                        .entry((event.org, event.meter, event.billed_in))
                        .or_default()
                        .insert(index);
                }
                Ok(Verdict::Rejected(rejected)) => {
                    report.rejected += 1;
                    let meter = rejected.meter.clone().unwrap_or_else(|| "-".to_owned());
                    health.entry((period, meter)).or_default().rejected += 1;
                }
            }
        }
        for ((org, meter, billed_in), indexes) in groups {
            if let Err(e) = self.store.mark_meter_used(org, &meter, billed_in).await {
                tracing::warn!(error = %e, "usage marker not stored; its messages are retried");
                failed.extend(indexes);
            }
        }
        // Operational counters: added once per batch and meter. They are not money: a retried
        // message may count its events' outcomes again (as duplicates).
        for ((period, meter), counts) in health {
            if let Err(e) = self.store.add_health(period, &meter, &counts).await {
                tracing::warn!(error = %e, %meter, "usage health counters not updated");
            }
        }
        report.failed = failed.into_iter().map(|i| messages[i].id.clone()).collect();
        report
    }

    async fn count(
        &self,
        metered: MeteredEvent,
        event: &ParsedEvent,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        match self.store.put_usage_event(&metered, now).await? {
            PutOutcome::Counted => Ok(Verdict::Stored {
                event: metered,
                duplicate: false,
            }),
            // Where the first copy was billed, not where this one would have been.
            PutOutcome::Duplicate { billed_in } => Ok(Verdict::Stored {
                event: MeteredEvent {
                    billed_in,
                    ..metered
                },
                duplicate: true,
            }),
            PutOutcome::Conflict => {
                let rejection = Rejection::new(
                    RejectReason::Conflict,
                    "id",
                    format!(
                        "the id `{}` was already counted with other content",
                        event.id
                    ),
                );
                self.keep_rejected(rejected_from(event, &rejection, now).of(Some(metered.org)))
                    .await
            }
        }
    }

    async fn keep_rejected(&self, rejected: RejectedEvent) -> Result<Verdict, StoreError> {
        self.store
            .put_rejected(&rejected, self.calendar.period_of(rejected.received_at))
            .await?;
        Ok(Verdict::Rejected(rejected))
    }

    /// Re-submits a kept rejected event: parsed and judged again (the future check against
    /// when it was first received, the grace window against now) and counted if it now
    /// counts. The record is marked `resolved`, or `duplicate` when the event had been counted
    /// meanwhile (a producer's redelivery after the fix).
    pub async fn resubmit(
        &self,
        rejected: &RejectedEvent,
        now: DateTime<Utc>,
    ) -> Result<Resubmitted, ResubmitError> {
        if rejected.status != "open" {
            return Err(ResubmitError::NotOpen);
        }
        if rejected.truncated {
            return Err(ResubmitError::Truncated);
        }
        let parsed = match read_event(&rejected.raw) {
            Ok(event) => event,
            Err(rejection) => return Err(ResubmitError::StillRejected(rejection)),
        };
        let lookups = self.lookups([&parsed]).await?;
        let metered = self
            .judge(&parsed, &lookups, rejected.received_at, now)
            .map_err(ResubmitError::StillRejected)?;
        let outcome = match self.store.put_usage_event(&metered, now).await? {
            PutOutcome::Counted => Resubmitted::Counted(metered),
            PutOutcome::Duplicate { billed_in } => Resubmitted::AlreadyCounted(MeteredEvent {
                billed_in,
                ..metered
            }),
            PutOutcome::Conflict => {
                return Err(ResubmitError::StillRejected(Rejection::new(
                    RejectReason::Conflict,
                    "id",
                    format!(
                        "the id `{}` was already counted with other content",
                        parsed.id
                    ),
                )));
            }
        };
        let (org, meter, billed_in) = {
            let e = outcome.event();
            (e.org, e.meter.clone(), e.billed_in)
        };
        self.store.mark_meter_used(org, &meter, billed_in).await?;
        self.store
            .resolve_rejected(&rejected.id, outcome.status(), now)
            .await?;
        let mut counts = HealthCounts::default();
        match &outcome {
            Resubmitted::Counted(e) => {
                counts.accepted = 1;
                counts.late = u64::from(e.is_late());
            }
            Resubmitted::AlreadyCounted(_) => counts.duplicate = 1,
        }
        if let Err(e) = self
            .store
            .add_health(self.calendar.period_of(now), meter.as_str(), &counts)
            .await
        {
            tracing::warn!(error = %e, "usage health counters not updated");
        }
        Ok(outcome)
    }
}

/// What a re-submission did.
#[derive(Debug, Clone)]
pub enum Resubmitted {
    Counted(MeteredEvent),
    AlreadyCounted(MeteredEvent),
}

impl Resubmitted {
    /// The rejected record's status after it: `resolved` (counted now) or `duplicate` (it
    /// had been counted meanwhile).
    pub fn status(&self) -> &'static str {
        match self {
            Resubmitted::Counted(_) => "resolved",
            Resubmitted::AlreadyCounted(_) => "duplicate",
        }
    }

    /// The event as counted.
    pub fn event(&self) -> &MeteredEvent {
        match self {
            Resubmitted::Counted(event) | Resubmitted::AlreadyCounted(event) => event,
        }
    }
}

/// Why a re-submission did not count.
#[derive(Debug, thiserror::Error)]
pub enum ResubmitError {
    #[error("the event was already re-submitted")]
    NotOpen,
    #[error("only the first 16 KiB of the event were kept; it cannot be re-submitted")]
    Truncated,
    #[error("still rejected: {0}")]
    StillRejected(Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The events of one message body: one event object or an array of them. Anything else is
/// one `malformed` rejection holding the whole body.
pub fn read_message(body: &str, received_at: DateTime<Utc>) -> Vec<Read> {
    let rejected = |raw: &str, rejection: Rejection| {
        Read::Rejected(Box::new(RejectedEvent::new(
            raw,
            rejection.reason,
            &rejection.field,
            &rejection.detail,
            None,
            None,
            received_at,
        )))
    };
    let malformed = |detail: String| {
        vec![rejected(
            body,
            Rejection::new(RejectReason::Malformed, "", detail),
        )]
    };
    let value: Value = match serde_json::from_str(body) {
        Ok(value) => value,
        Err(e) => return malformed(format!("not JSON: {e}")),
    };
    let events = match value {
        Value::Array(events) if events.is_empty() => {
            return malformed("an empty array of events".into());
        }
        Value::Array(events) if events.len() > MAX_EVENTS_PER_MESSAGE => {
            return malformed(format!(
                "more than {MAX_EVENTS_PER_MESSAGE} events in one message"
            ));
        }
        Value::Array(events) => events,
        event @ Value::Object(_) => vec![event],
        _ => return malformed("expected an event object or an array of them".into()),
    };
    events
        .into_iter()
        .map(|value| {
            let raw = value.to_string();
            match read_value(value) {
                Ok(event) => Read::Event(event),
                Err(rejection) => rejected(&raw, rejection),
            }
        })
        .collect()
}

/// One event of a message, as read: parsed, or kept as rejected.
#[derive(Debug, Clone)]
pub enum Read {
    Event(ParsedEvent),
    Rejected(Box<RejectedEvent>),
}

/// One event's JSON text, parsed.
pub fn read_event(raw: &str) -> Result<ParsedEvent, Rejection> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| Rejection::new(RejectReason::Malformed, "", format!("not JSON: {e}")))?;
    read_value(value)
}

/// One event's JSON value, parsed; a shape error names the field (`quantity`, `properties.site`).
pub fn read_value(value: Value) -> Result<ParsedEvent, Rejection> {
    let raw: RawUsageEvent = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        Rejection::new(RejectReason::Malformed, &field, e.into_inner().to_string())
    })?;
    usage::parse(&raw)
}

/// A rejection of a parsed event, keeping what it said for the back office.
fn rejected_from(
    event: &ParsedEvent,
    rejection: &Rejection,
    received_at: DateTime<Utc>,
) -> RejectedEvent {
    let raw = RawUsageEvent {
        id: event.id.to_string(),
        customer: event.customer.to_string(),
        meter: event.meter.to_string(),
        quantity: usage::RawQuantity::exact(event.quantity),
        timestamp: event
            .timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        properties: event.properties.clone(),
    };
    let text = serde_json::to_string(&raw).unwrap_or_default();
    RejectedEvent::new(
        &text,
        rejection.reason,
        &rejection.field,
        &rejection.detail,
        Some(event.meter.to_string()),
        Some(event.id.to_string()),
        received_at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_message_is_one_event_or_an_array_of_them() {
        let one = r#"{"id":"e1","customer":"crm:1","meter":"TRAFFIC","quantity":"1.5","timestamp":"2026-11-28T10:00:00Z"}"#;
        assert!(matches!(
            read_message(one, now()).as_slice(),
            [Read::Event(_)]
        ));
        let two = format!("[{one},{one}]");
        assert_eq!(read_message(&two, now()).len(), 2);
        for bad in ["not json", "42", "[]", "\"text\""] {
            let read = read_message(bad, now());
            let [Read::Rejected(rejected)] = read.as_slice() else {
                panic!("{bad}: {read:?}")
            };
            assert_eq!(rejected.reason, RejectReason::Malformed);
            assert_eq!(rejected.raw, bad);
        }
    }

    #[test]
    fn a_shape_error_names_the_field() {
        let wrong_type = r#"{"id":"e1","customer":"crm:1","meter":"TRAFFIC","quantity":true,"timestamp":"2026-11-28T10:00:00Z"}"#;
        let err = read_event(wrong_type).unwrap_err();
        assert_eq!(
            (err.reason, err.field.as_str()),
            (RejectReason::Malformed, "quantity")
        );
        let unknown = r#"{"id":"e1","customer":"crm:1","meter":"TRAFFIC","quantity":"1","timestamp":"2026-11-28T10:00:00Z","colour":"red"}"#;
        let err = read_event(unknown).unwrap_err();
        assert_eq!(err.reason, RejectReason::Malformed);
        assert!(err.detail.contains("colour"), "{err}");
        let missing =
            r#"{"id":"e1","customer":"crm:1","quantity":"1","timestamp":"2026-11-28T10:00:00Z"}"#;
        assert!(read_event(missing).unwrap_err().detail.contains("meter"));
        let bad_quantity = r#"{"id":"e1","customer":"crm:1","meter":"TRAFFIC","quantity":"1e999","timestamp":"2026-11-28T10:00:00Z"}"#;
        let err = read_event(bad_quantity).unwrap_err();
        assert_eq!(
            (err.reason, err.field.as_str()),
            (RejectReason::BadQuantity, "quantity")
        );
    }
}
