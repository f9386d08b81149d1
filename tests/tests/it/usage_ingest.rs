//! Usage ingestion against the emulator: `kopek_services::usage::ingest::Ingestor` on the provisioned table,
//! fed through the provisioned `UsageQueue` (and its dead-letter queue) by
//! `kopek_events::usage::poller::Poller`, the local stand-in for Lambda's SQS event source mapping.
//!
//! What is proved here: every event counts exactly once however often and in whatever order and
//! packing it arrives; a message fails (and is redelivered, then dead-lettered) only when storage
//! fails, alone in its batch; invalid events are kept once, never retried, and count once
//! re-submitted after the fix; late events never change a closed period; an id reused for other
//! content is refused; the ingestion counters add up.
//!
//! Every expectation is computed in the test from the events it generates.
//!
//! Storage failures are real ones: a store on a table the emulator does not have, a store whose
//! endpoint is a closed loopback port, and a client that sends the one request naming a given
//! event to that closed port (an SDK interceptor), so that only that event's write fails.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, TcpListener};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, TimeDelta, Utc};
use kopek_aws::dynamo::Store;
use kopek_aws::dynamo::usage::{HealthCounts, RejectedEvent};
use kopek_aws::queue::Queue;
use kopek_domain::catalog::ServiceCode;
use kopek_domain::clock::SystemClock;
use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_domain::usage::{MeterUsage, RejectReason};
use kopek_events::usage::poller::Poller;
use kopek_services::usage::ingest::{BatchReport, Ingestor, Message, ResubmitError, Resubmitted};
use kopek_tests::{TestApp, unique};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

// --- the world ------------------------------------------------------------------------------

/// A fractional meter (gigabytes) and a whole one (requests).
const TRAFFIC: &str = "TRAFFIC";
const SMS: &str = "SMS";

/// An application with the two meters in its catalog, and an ingestor on its table.
struct Rig {
    app: TestApp,
    admin: String,
    store: Store,
    ingestor: Ingestor,
}

/// A customer: its organisation and the external reference producers may name it by.
#[derive(Debug, Clone)]
struct Party {
    org: OrgId,
    reference: String,
}

fn metered_service(code: &str, unit: &str, model: Value) -> Value {
    json!({
        "code": code, "name": {"ru": code, "en": code},
        "unit": unit, "kind": "metered", "tax_rate": "20", "currency": "RUB",
        "price": {"currency": "RUB", "model": model}
    })
}

async fn rig() -> Rig {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let graduated = json!({"type": "graduated", "tiers": [
        {"up_to": "100", "unit_price": "0.00"}, {"up_to": null, "unit_price": "1.50"}]});
    let per_unit = json!({"type": "per_unit", "unit_price": "2.50"});
    let rig_store = app.store.clone();
    let ingestor = Ingestor::new(
        rig_store.clone(),
        app.state.services.settings().usage_grace,
        app.state.calendar(),
    );
    let rig = Rig {
        app,
        admin,
        store: rig_store,
        ingestor,
    };
    rig.create_meter(TRAFFIC, "gigabyte", graduated).await;
    rig.create_meter(SMS, "request", per_unit).await;
    rig
}

impl Rig {
    async fn create_meter(&self, code: &str, unit: &str, model: Value) {
        self.app
            .post(
                "/v1/catalog/services",
                Some(&self.admin),
                &metered_service(code, unit, model),
            )
            .await
            .assert_status(201);
    }

    /// A registered customer with an external reference of its own.
    async fn party(&self, name: &str) -> Party {
        let customer = self.app.register(&format!("{name} {}", unique())).await;
        let org: OrgId = customer.org_id.parse().expect("org id");
        let reference = format!("crm:{}", unique());
        self.store
            .set_external_ref(org, &reference)
            .await
            .expect("external reference");
        Party { org, reference }
    }

    async fn usage(&self, org: OrgId, meter: &str, period: BillingPeriod) -> MeterUsage {
        self.store
            .usage_of(org, &code(meter), period)
            .await
            .expect("usage of a meter")
    }

    async fn meters_used(&self, org: OrgId, period: BillingPeriod) -> BTreeSet<String> {
        self.store
            .meters_used(org, period)
            .await
            .expect("meters used")
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect()
    }

    /// Every rejected event kept for the period received in.
    async fn rejected(&self, period: BillingPeriod) -> Vec<RejectedEvent> {
        self.store
            .list_rejected(period, 100, None)
            .await
            .expect("rejected events")
            .items
    }

    async fn ingest(&self, messages: &[Message]) -> BatchReport {
        self.ingestor.ingest(messages, Utc::now()).await
    }

    fn grace(&self) -> TimeDelta {
        TimeDelta::from_std(self.app.state.services.settings().usage_grace).expect("a grace window")
    }

    fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.app.sdk)
    }

    /// The physical queue `logical_id` of the template.
    fn queue(&self, logical_id: &str) -> Queue {
        let url = self
            .app
            .provisioned
            .reference(logical_id)
            .unwrap_or_else(|e| panic!("{logical_id} is provisioned: {e:#}"));
        Queue::new(self.sqs(), url)
    }

    /// A poller of `UsageQueue` into `ingestor`.
    fn poller(&self, ingestor: Ingestor) -> Poller {
        let mut poller = Poller::new(self.queue("UsageQueue"), ingestor);
        poller.wait_secs = 1;
        poller
    }

    /// A DynamoDB client on the emulator that never retries, optionally at another endpoint
    /// and with a fault interceptor.
    fn dynamo(&self, endpoint: Option<String>, fault: Option<FailOne>) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::config::Builder::from(&self.app.sdk)
            .retry_config(RetryConfig::disabled());
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        if let Some(fault) = fault {
            config = config.interceptor(fault);
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    fn ingestor_on(&self, store: Store) -> Ingestor {
        Ingestor::new(
            store,
            self.app.state.services.settings().usage_grace,
            self.app.state.calendar(),
        )
    }

    /// Stores that fail every call: the table does not exist; the store is unreachable.
    fn broken_stores(&self) -> [(&'static str, Store); 2] {
        let missing = format!("{}-missing", self.store.table());
        [
            (
                "missing table",
                Store::new(self.dynamo(None, None), missing),
            ),
            (
                "unreachable store",
                Store::new(self.dynamo(Some(closed_port()), None), self.store.table()),
            ),
        ]
    }
}

fn code(meter: &str) -> ServiceCode {
    meter.parse().expect("a service code")
}

fn current() -> BillingPeriod {
    kopek_tests::emulator::current_period()
}

/// A loopback address nothing listens on: connections to it are refused at once.
fn closed_port() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Sends the one DynamoDB request whose body contains `marker` to a closed port, as if the
/// store were unreachable for that request only.
#[derive(Debug)]
struct FailOne {
    marker: String,
    closed: String,
}

impl Intercept for FailOne {
    fn name(&self) -> &'static str {
        "FailOne"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let hit = context
            .request()
            .body()
            .bytes()
            .is_some_and(|body| String::from_utf8_lossy(body).contains(&self.marker));
        if hit {
            context.request_mut().set_uri(self.closed.as_str())?;
        }
        Ok(())
    }
}

// --- events ---------------------------------------------------------------------------------

/// A deterministic generator (SplitMix64): the same seed, the same events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n ≥ 1).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// One event, for a customer given by its index in a list of parties.
#[derive(Debug, Clone)]
struct Sample {
    id: String,
    party: usize,
    meter: &'static str,
    quantity: Decimal,
    at: DateTime<Utc>,
    site: Option<String>,
}

impl Sample {
    fn new(id: &str, meter: &'static str, quantity: &str, at: DateTime<Utc>) -> Self {
        Sample {
            id: id.to_owned(),
            party: 0,
            meter,
            quantity: quantity.parse().expect("a decimal"),
            at,
            site: None,
        }
    }

    /// The event as a producer sends it. `retold` is the same event as a producer's retry
    /// might write it: the customer by its other name, the quantity with other digits
    /// (`1.2500`, or a JSON number), the time in Moscow's offset — the same content.
    fn render(&self, parties: &[Party], retold: bool) -> Value {
        let party = &parties[self.party];
        let by_reference = (self.party % 2 == 1) != retold;
        let customer = if by_reference {
            party.reference.clone()
        } else {
            party.org.to_string()
        };
        let quantity = match (retold, self.quantity.fract().is_zero()) {
            (false, _) => json!(self.quantity.normalize().to_string()),
            (true, true) => json!(self.quantity.to_u64().expect("a whole quantity")),
            (true, false) => json!(format!("{:.4}", self.quantity)),
        };
        let timestamp = if retold {
            let moscow = FixedOffset::east_opt(3 * 3600).expect("an offset");
            self.at
                .with_timezone(&moscow)
                .to_rfc3339_opts(SecondsFormat::Millis, false)
        } else {
            self.at.to_rfc3339_opts(SecondsFormat::Millis, true)
        };
        let mut event = json!({
            "id": self.id, "customer": customer, "meter": self.meter,
            "quantity": quantity, "timestamp": timestamp,
        });
        if let Some(site) = &self.site {
            event["properties"] = json!({ "site": site });
        }
        event
    }

    fn body(&self, parties: &[Party]) -> String {
        self.render(parties, false).to_string()
    }
}

/// `n` valid events of this period up to now, for `parties` customers, on both meters.
fn generate(rng: &mut Rng, n: usize, parties: usize) -> Vec<Sample> {
    let now = Utc::now();
    let start = kopek_tests::emulator::calendar().period_start(current());
    let span = (now - start).num_milliseconds().max(0) as u64;
    (0..n)
        .map(|i| {
            let meter = if rng.below(2) == 0 { TRAFFIC } else { SMS };
            let quantity = if meter == TRAFFIC {
                // Up to 3 decimal places: 0.001 – 999.999 GB.
                Decimal::new(rng.between(1, 999_999) as i64, 3)
            } else {
                Decimal::from(rng.between(1, 50))
            };
            let at = start + TimeDelta::milliseconds(rng.between(0, span) as i64);
            Sample {
                id: format!("evt-{i:04}-{}", rng.below(1 << 20)),
                party: rng.below(parties as u64) as usize,
                meter,
                quantity,
                at,
                site: (rng.below(3) == 0).then(|| format!("msk-{}", rng.below(4))),
            }
        })
        .collect()
}

/// Each meter's usage of each party, summed here from the events.
fn expected_usage(samples: &[Sample]) -> BTreeMap<(usize, &'static str), MeterUsage> {
    let mut totals: BTreeMap<(usize, &'static str), MeterUsage> = BTreeMap::new();
    for s in samples {
        let usage = totals.entry((s.party, s.meter)).or_default();
        usage.total += s.quantity;
        *usage
            .by_day
            .entry(kopek_tests::emulator::calendar().date_of(s.at))
            .or_default() += s.quantity;
        usage.events += 1;
    }
    totals
}

fn messages(bodies: impl IntoIterator<Item = String>) -> Vec<Message> {
    bodies
        .into_iter()
        .map(|body| Message {
            id: format!("msg-{}", unique()),
            body,
        })
        .collect()
}

fn message(body: impl Into<String>) -> Message {
    messages([body.into()]).remove(0)
}

/// A report of a batch in which nothing failed.
fn report(counted: u64, duplicates: u64, rejected: u64, late: u64) -> BatchReport {
    BatchReport {
        failed: Vec::new(),
        counted,
        duplicates,
        rejected,
        late,
    }
}

// --- 1. exactly once ------------------------------------------------------------------------

/// The events, each twice (once as sent, once retold), shuffled, in messages of 1 to 20 events
/// (single objects and arrays), in `SendMessageBatch` calls of 1 to 10 messages.
async fn send_twice_shuffled(rig: &Rig, rng: &mut Rng, samples: &[Sample], parties: &[Party]) {
    let mut events: Vec<Value> = samples
        .iter()
        .flat_map(|s| [s.render(parties, false), s.render(parties, true)])
        .collect();
    rng.shuffle(&mut events);
    let mut bodies = Vec::new();
    let mut rest = events.as_slice();
    while !rest.is_empty() {
        let size = (rng.between(1, 20) as usize).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        bodies.push(if size == 1 && rng.below(2) == 0 {
            chunk[0].to_string()
        } else {
            Value::Array(chunk.to_vec()).to_string()
        });
    }
    let queue = rig.queue("UsageQueue");
    let mut rest = bodies.as_slice();
    while !rest.is_empty() {
        let size = (rng.between(1, 10) as usize).min(rest.len());
        let (batch, tail) = rest.split_at(size);
        rest = tail;
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .expect("an entry")
            })
            .collect();
        let sent = rig
            .sqs()
            .send_message_batch()
            .queue_url(queue.url())
            .set_entries(Some(entries))
            .send()
            .await
            .expect("the batch is sent");
        assert!(sent.failed().is_empty(), "{:?}", sent.failed());
    }
}

#[tokio::test]
async fn every_event_counts_exactly_once_however_often_and_in_whatever_order_it_arrives() {
    let rig = rig().await;
    let clean = [rig.party("Ромашка").await, rig.party("Василёк").await];
    let twice = [rig.party("Лютик").await, rig.party("Мак").await];
    let mut rng = Rng(0x6B6F_7065_6B00_0001);
    let n = 300;
    let samples = generate(&mut rng, n, 2);
    let period = current();
    let expected = expected_usage(&samples);
    assert_eq!(expected.len(), 4, "both customers use both meters");

    // The clean run: every event once, packed by the producer's queue client.
    let bodies: Vec<String> = samples.iter().map(|s| s.body(&clean)).collect();
    let sent = rig
        .queue("UsageQueue")
        .send_events(&bodies)
        .await
        .expect("events are queued");
    assert!(sent.messages >= 1);
    let poller = rig.poller(rig.ingestor.clone());
    let clean_report = poller
        .drain(&SystemClock, 2)
        .await
        .expect("the queue drains");
    assert_eq!(clean_report, report(n as u64, 0, 0, 0));

    // The same events for two other customers: each twice, shuffled, in messages and batches
    // of every size.
    send_twice_shuffled(&rig, &mut rng, &samples, &twice).await;
    let twice_report = poller
        .drain(&SystemClock, 2)
        .await
        .expect("the queue drains");
    assert_eq!(twice_report, report(n as u64, n as u64, 0, 0));
    assert_eq!(
        rig.queue("UsageQueue").depth().await.expect("depth"),
        (0, 0),
        "every message was deleted"
    );

    for ((party, meter), want) in &expected {
        let from_clean = rig.usage(clean[*party].org, meter, period).await;
        let from_twice = rig.usage(twice[*party].org, meter, period).await;
        assert_eq!(&from_clean, want, "clean run: customer {party}, {meter}");
        assert_eq!(
            from_twice, from_clean,
            "twice, shuffled: customer {party}, {meter}"
        );
    }
    let used: BTreeSet<String> = [TRAFFIC, SMS].map(str::to_owned).into();
    for party in clean.iter().chain(&twice) {
        assert_eq!(rig.meters_used(party.org, period).await, used);
    }
    assert!(rig.rejected(period).await.is_empty());
}

// --- 2. partial batch failure ---------------------------------------------------------------

/// Three messages of valid events (one an array of two) for `party`; their TRAFFIC total.
fn valid_messages(party: &[Party], tag: &str) -> (Vec<Message>, Decimal) {
    let at = Utc::now() - TimeDelta::minutes(10);
    let samples = [
        Sample::new(&format!("{tag}-1"), TRAFFIC, "1.125", at),
        Sample::new(&format!("{tag}-2"), TRAFFIC, "2.5", at),
        Sample::new(&format!("{tag}-3"), TRAFFIC, "40", at),
        Sample::new(&format!("{tag}-4"), TRAFFIC, "0.375", at),
    ];
    let total = samples.iter().map(|s| s.quantity).sum();
    let [a, b, c, d] = samples.map(|s| s.render(party, false));
    let bodies = [a.to_string(), json!([b, c]).to_string(), d.to_string()];
    (messages(bodies), total)
}

#[tokio::test]
async fn when_storage_fails_the_messages_are_retried_and_then_count_once() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let period = current();
    for (what, broken) in rig.broken_stores() {
        let tag = format!("evt-{}", unique());
        let (batch, total) = valid_messages(&party, &tag);
        let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
        let before = rig.usage(party[0].org, TRAFFIC, period).await;

        let failed = rig.ingestor_on(broken).ingest(&batch, Utc::now()).await;
        assert_eq!(failed.failed, ids, "{what}: every message is retried");
        assert_eq!((failed.counted, failed.rejected), (0, 0), "{what}");
        assert_eq!(
            rig.usage(party[0].org, TRAFFIC, period).await,
            before,
            "{what}"
        );

        // SQS redelivers them; now the store answers.
        assert_eq!(rig.ingest(&batch).await, report(4, 0, 0, 0), "{what}");
        // A second redelivery (the delete was lost, say) counts nothing.
        assert_eq!(rig.ingest(&batch).await, report(0, 4, 0, 0), "{what}");
        let after = rig.usage(party[0].org, TRAFFIC, period).await;
        assert_eq!(after.total, before.total + total, "{what}");
        assert_eq!(after.events, before.events + 4, "{what}");
    }
    assert!(rig.rejected(period).await.is_empty());
}

#[tokio::test]
async fn a_message_whose_write_fails_is_the_only_one_retried_from_its_batch() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let period = current();
    let at = Utc::now() - TimeDelta::minutes(5);
    let unlucky = Sample::new("evt-unlucky", TRAFFIC, "7.5", at);
    let fine = [
        Sample::new("evt-fine-1", TRAFFIC, "1.25", at),
        Sample::new("evt-fine-2", TRAFFIC, "2", at),
        Sample::new("evt-fine-3", TRAFFIC, "0.5", at),
    ];
    let [f1, f2, f3] = fine.clone().map(|s| s.render(&party, false));
    let batch = messages([
        json!([f1, f2]).to_string(),
        unlucky.body(&party),
        f3.to_string(),
        "{not json".to_owned(),
    ]);
    // Only the write naming the unlucky event goes to a closed port.
    let fault = FailOne {
        marker: format!("E#{}", unlucky.id),
        closed: closed_port(),
    };
    let flaky = Store::new(rig.dynamo(None, Some(fault)), rig.store.table());
    let first = rig.ingestor_on(flaky).ingest(&batch, Utc::now()).await;
    assert_eq!(first.failed, [batch[1].id.clone()]);
    assert_eq!((first.counted, first.duplicates, first.rejected), (3, 0, 1));
    let fine_total: Decimal = fine.iter().map(|s| s.quantity).sum();
    let usage = rig.usage(party[0].org, TRAFFIC, period).await;
    assert_eq!((usage.total, usage.events), (fine_total, 3));

    // SQS redelivers the failed message alone.
    assert_eq!(rig.ingest(&batch[1..2]).await, report(1, 0, 0, 0));
    let usage = rig.usage(party[0].org, TRAFFIC, period).await;
    assert_eq!(
        (usage.total, usage.events),
        (fine_total + unlucky.quantity, 4)
    );
}

// --- 3. the dead-letter queue ---------------------------------------------------------------

async fn max_receive_count(rig: &Rig) -> u32 {
    let source = rig.queue("UsageQueue");
    let attributes = rig
        .sqs()
        .get_queue_attributes()
        .queue_url(source.url())
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .expect("queue attributes");
    let policy: Value = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        .map(|p| serde_json::from_str(p).expect("the redrive policy is JSON"))
        .expect("UsageQueue has a redrive policy");
    let dlq_arn = rig
        .app
        .provisioned
        .attribute("UsageDeadLetterQueue", "Arn")
        .expect("the DLQ's ARN");
    assert_eq!(policy["deadLetterTargetArn"], json!(dlq_arn));
    match &policy["maxReceiveCount"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())
    .unwrap_or_else(|| panic!("no maxReceiveCount in {policy}"))
}

#[tokio::test]
async fn a_message_that_keeps_failing_lands_in_the_dead_letter_queue_after_max_receives() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let max_receives = max_receive_count(&rig).await;
    assert!(
        max_receives >= 2,
        "a redrive after {max_receives} receives retries nothing"
    );
    let event = Sample::new(
        "evt-doomed",
        TRAFFIC,
        "3.5",
        Utc::now() - TimeDelta::minutes(1),
    );
    let body = event.body(&party);
    rig.queue("UsageQueue")
        .send_events(std::slice::from_ref(&body))
        .await
        .expect("queued");
    let sent_body = format!("[{body}]");

    // The store is down: every receive fails the message, which is visible again at once.
    let [_, (_, down)] = rig.broken_stores();
    let mut poller = rig.poller(rig.ingestor_on(down));
    poller.visibility_secs = Some(0);
    let mut receives = 0;
    for _ in 0..max_receives + 3 {
        let poll = poller.poll_once(&SystemClock).await.expect("a poll");
        if poll.received == 0 {
            break;
        }
        receives += 1;
        assert_eq!((poll.received, poll.deleted), (1, 0), "receive {receives}");
        assert_eq!(poll.batch.failed.len(), 1, "receive {receives}");
    }
    assert_eq!(
        receives, max_receives,
        "received once per allowed receive, then moved"
    );

    let dead = rig
        .queue("UsageDeadLetterQueue")
        .receive(10, 1, None)
        .await
        .expect("the DLQ answers");
    let bodies: Vec<&str> = dead.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, [sent_body.as_str()]);
    assert_eq!(
        rig.queue("UsageQueue").depth().await.expect("depth"),
        (0, 0)
    );
    assert_eq!(
        rig.usage(party[0].org, TRAFFIC, current()).await,
        MeterUsage::default(),
        "nothing was counted"
    );
}

// --- 4. rejected events ---------------------------------------------------------------------

#[tokio::test]
async fn invalid_events_are_kept_once_never_retried_and_count_once_resubmitted_after_the_fix() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let org = party[0].org;
    let now = Utc::now();
    let period = kopek_tests::emulator::calendar().period_of(now);
    let at = now - TimeDelta::minutes(3);
    let later_reference = format!("crm:later-{}", unique());

    let unknown_meter = Sample::new("evt-roaming", "ROAMING", "2.5", at);
    let mut unknown_customer = Sample::new("evt-stranger", TRAFFIC, "4.25", at);
    unknown_customer.party = 1;
    let stranger = [
        party[0].clone(),
        Party {
            org: OrgId::new(),
            reference: later_reference.clone(),
        },
    ];
    let fractional = Sample::new("evt-half-sms", SMS, "1.5", at);
    let future = Sample::new("evt-future", TRAFFIC, "1", now + TimeDelta::hours(1));
    let too_old = Sample::new(
        "evt-old",
        TRAFFIC,
        "1",
        now - rig.grace() - TimeDelta::days(1),
    );
    let mut wrong_type = Sample::new("evt-wrong", TRAFFIC, "1", at).render(&party, false);
    wrong_type["quantity"] = json!(true);
    let cases: Vec<(String, RejectReason, &str)> = vec![
        (
            unknown_meter.body(&party),
            RejectReason::UnknownMeter,
            "meter",
        ),
        (
            unknown_customer.body(&stranger),
            RejectReason::UnknownCustomer,
            "customer",
        ),
        (
            fractional.body(&party),
            RejectReason::BadQuantity,
            "quantity",
        ),
        (
            future.body(&party),
            RejectReason::FutureTimestamp,
            "timestamp",
        ),
        (too_old.body(&party), RejectReason::TooOld, "timestamp"),
        ("{not json".to_owned(), RejectReason::Malformed, ""),
        (wrong_type.to_string(), RejectReason::Malformed, "quantity"),
    ];
    let n = cases.len() as u64;
    let batch = messages(cases.iter().map(|(body, _, _)| body.clone()));

    // Delivered twice: rejected both times, never failed (never retried), kept once.
    for delivery in 1..=2 {
        assert_eq!(
            rig.ingest(&batch).await,
            report(0, 0, n, 0),
            "delivery {delivery}"
        );
    }
    let kept = rig.rejected(period).await;
    let mut got: Vec<(RejectReason, String)> =
        kept.iter().map(|r| (r.reason, r.field.clone())).collect();
    let mut want: Vec<(RejectReason, String)> = cases
        .iter()
        .map(|(_, r, f)| (*r, (*f).to_owned()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "each rejection kept once, with its reason and field"
    );
    assert!(kept.iter().all(|r| r.status == "open" && !r.truncated));
    let find = |reason: RejectReason, event_id: &str| -> RejectedEvent {
        kept.iter()
            .find(|r| r.reason == reason && r.event_id.as_deref() == Some(event_id))
            .unwrap_or_else(|| panic!("no {reason} for {event_id} in {kept:#?}"))
            .clone()
    };
    assert!(
        rig.meters_used(org, period).await.is_empty(),
        "nothing counted"
    );

    // Still wrong: re-submitting changes nothing and leaves it open.
    let half = find(RejectReason::BadQuantity, &fractional.id);
    match rig.ingestor.resubmit(&half, Utc::now()).await {
        Err(ResubmitError::StillRejected(r)) => assert_eq!(r.reason, RejectReason::BadQuantity),
        other => panic!("a fractional SMS is still refused: {other:?}"),
    }
    let half_now = rig.store.rejected_event(&half.id).await.expect("read");
    assert_eq!(half_now.expect("kept").status, "open");

    // The catalog is fixed: the meter is created; the event counts once.
    let roaming = find(RejectReason::UnknownMeter, &unknown_meter.id);
    let per_unit = json!({"type": "per_unit", "unit_price": "3.00"});
    rig.create_meter("ROAMING", "gigabyte", per_unit).await;
    resubmit_counts_once(&rig, &roaming, org, "ROAMING", unknown_meter.quantity).await;

    // The customer is fixed: the reference is given to the organisation; the event counts once.
    rig.store
        .set_external_ref(org, &later_reference)
        .await
        .expect("reference");
    let stranger = find(RejectReason::UnknownCustomer, &unknown_customer.id);
    resubmit_counts_once(&rig, &stranger, org, TRAFFIC, unknown_customer.quantity).await;
}

/// Re-submits `rejected` (now fixed): `meter`'s usage grows by exactly `quantity`, the record is
/// resolved, and neither it nor a stale copy of it counts again.
async fn resubmit_counts_once(
    rig: &Rig,
    rejected: &RejectedEvent,
    org: OrgId,
    meter: &str,
    quantity: Decimal,
) {
    let period = current();
    let before = rig.usage(org, meter, period).await;
    match rig.ingestor.resubmit(rejected, Utc::now()).await {
        Ok(Resubmitted::Counted(event)) => {
            assert_eq!((event.org, event.quantity.value()), (org, quantity));
        }
        other => panic!("{} counts after the fix: {other:?}", rejected.id),
    }
    let after = rig.usage(org, meter, period).await;
    assert_eq!(after.total, before.total + quantity);
    assert_eq!(after.events, before.events + 1);
    assert!(rig.meters_used(org, period).await.contains(meter));

    let resolved = rig
        .store
        .rejected_event(&rejected.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(resolved.status, "resolved");
    assert!(resolved.resolved_at.is_some());
    assert!(matches!(
        rig.ingestor.resubmit(&resolved, Utc::now()).await,
        Err(ResubmitError::NotOpen)
    ));
    // A stale copy still saying `open` (a second back-office tab) counts nothing either.
    let again = rig.ingestor.resubmit(rejected, Utc::now()).await;
    assert!(!matches!(again, Ok(Resubmitted::Counted(_))), "{again:?}");
    assert_eq!(rig.usage(org, meter, period).await, after);
}

// --- 5. late events -------------------------------------------------------------------------

/// Noon on the last day of the previous period: within the grace window, and never ahead.
fn last_period_noon() -> DateTime<Utc> {
    kopek_tests::emulator::calendar().start_of(current().previous().last_day())
        + TimeDelta::hours(12)
}

#[tokio::test]
async fn a_late_event_is_billed_in_the_open_period_and_a_closed_period_never_changes() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let org = party[0].org;
    let (this, last) = (current(), current().previous());
    let last_day: NaiveDate = last.last_day();
    let on_time = Sample::new("evt-on-time", TRAFFIC, "7.125", last_period_noon());
    let this_month = Sample::new(
        "evt-now",
        TRAFFIC,
        "1.5",
        Utc::now() - TimeDelta::minutes(1),
    );
    let late = Sample::new("evt-late", TRAFFIC, "3.3", last_period_noon());

    let first = messages([on_time.body(&party), this_month.body(&party)]);
    assert_eq!(rig.ingest(&first).await, report(2, 0, 0, 0));
    let last_before = rig.usage(org, TRAFFIC, last).await;
    assert_eq!(
        (last_before.total, last_before.events),
        (on_time.quantity, 1)
    );

    // Period close invoices the previous period.
    rig.store.close_through(org, last).await.expect("closed");
    assert_eq!(
        rig.store.closed_through(org).await.expect("read"),
        Some(last)
    );

    // An event of the closed period arrives: counted, late, into this period.
    assert_eq!(
        rig.ingest(&[message(late.body(&party))]).await,
        report(1, 0, 0, 1)
    );
    let this_after = rig.usage(org, TRAFFIC, this).await;
    let mut want = MeterUsage::default();
    for s in [&this_month, &late] {
        want.total += s.quantity;
        *want
            .by_day
            .entry(kopek_tests::emulator::calendar().date_of(s.at))
            .or_default() += s.quantity;
        want.events += 1;
    }
    want.late_events = 1;
    assert_eq!(this_after, want);
    assert_eq!(
        this_after.by_day.get(&last_day),
        Some(&late.quantity),
        "by the day it happened"
    );
    assert_eq!(
        rig.usage(org, TRAFFIC, last).await,
        last_before,
        "the closed period"
    );

    // Redeliveries after the close — of an event counted before it, and of the late one —
    // count nothing anywhere.
    let again = messages([on_time.body(&party), late.render(&party, true).to_string()]);
    assert_eq!(rig.ingest(&again).await, report(0, 2, 0, 0));
    assert_eq!(rig.usage(org, TRAFFIC, last).await, last_before);
    assert_eq!(rig.usage(org, TRAFFIC, this).await, this_after);
}

#[tokio::test]
async fn a_redelivery_after_the_close_marks_no_meter_used_in_the_open_period() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let org = party[0].org;
    let (this, last) = (current(), current().previous());
    let sms = Sample::new("evt-sms-last", SMS, "4", last_period_noon());
    let batch = [message(sms.body(&party))];
    assert_eq!(rig.ingest(&batch).await, report(1, 0, 0, 0));
    rig.store.close_through(org, last).await.expect("closed");

    assert_eq!(rig.ingest(&batch).await, report(0, 1, 0, 0));
    assert_eq!(rig.usage(org, SMS, this).await, MeterUsage::default());
    assert_eq!(
        rig.meters_used(org, this).await,
        BTreeSet::new(),
        "no SMS usage is billed in {this}, so period close must not find SMS among its meters"
    );
    let used_last: BTreeSet<String> = [SMS.to_owned()].into();
    assert_eq!(rig.meters_used(org, last).await, used_last);
}

// --- 6. conflicts ---------------------------------------------------------------------------

#[tokio::test]
async fn an_id_reused_for_other_content_is_rejected_as_a_conflict_and_counts_nothing() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let org = party[0].org;
    let period = current();
    let original = Sample::new(
        "evt-reused",
        TRAFFIC,
        "1.5",
        Utc::now() - TimeDelta::minutes(2),
    );
    assert_eq!(
        rig.ingest(&[message(original.body(&party))]).await,
        report(1, 0, 0, 0)
    );
    let counted = rig.usage(org, TRAFFIC, period).await;

    let mut more = original.clone();
    more.quantity = "2.5".parse().expect("decimal");
    let mut earlier = original.clone();
    earlier.at -= TimeDelta::seconds(1);
    let mut elsewhere = original.clone();
    elsewhere.site = Some("spb-1".to_owned());
    let reused = messages([
        more.body(&party),
        earlier.body(&party),
        elsewhere.body(&party),
    ]);
    assert_eq!(rig.ingest(&reused).await, report(0, 0, 3, 0));
    // The original itself is still a duplicate, not a conflict.
    assert_eq!(
        rig.ingest(&[message(original.render(&party, true).to_string())])
            .await,
        report(0, 1, 0, 0)
    );

    assert_eq!(rig.usage(org, TRAFFIC, period).await, counted);
    let kept = rig.rejected(period).await;
    assert_eq!(kept.len(), 3, "{kept:#?}");
    for r in &kept {
        assert_eq!((r.reason, r.field.as_str()), (RejectReason::Conflict, "id"));
        assert_eq!(r.event_id.as_deref(), Some(original.id.as_str()));
        assert_eq!(r.meter.as_deref(), Some(TRAFFIC));
    }
}

// --- 7. health ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Accepted,
    Late,
    Duplicate,
    Rejected,
}

/// What a batch of `(health key, outcome)` should add to the counters and report.
fn tally(cases: &[(&str, Outcome)], health: &mut BTreeMap<String, HealthCounts>) -> BatchReport {
    let mut report = BatchReport::default();
    for (meter, outcome) in cases {
        let counts = health.entry((*meter).to_owned()).or_default();
        match outcome {
            Outcome::Accepted => {
                counts.accepted += 1;
                report.counted += 1;
            }
            Outcome::Late => {
                counts.accepted += 1;
                counts.late += 1;
                report.counted += 1;
                report.late += 1;
            }
            Outcome::Duplicate => {
                counts.duplicate += 1;
                report.duplicates += 1;
            }
            Outcome::Rejected => {
                counts.rejected += 1;
                report.rejected += 1;
            }
        }
    }
    report
}

#[tokio::test]
async fn the_health_counters_add_up_each_outcome_per_meter() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let now = Utc::now();
    let at = now - TimeDelta::minutes(4);
    rig.store
        .close_through(party[0].org, current().previous())
        .await
        .expect("closed");
    let event = |id: &str, meter: &'static str, quantity: &str, at: DateTime<Utc>| {
        Sample::new(id, meter, quantity, at).body(&party)
    };
    let a1 = event("evt-a1", TRAFFIC, "1.1", at);
    let late = event("evt-late", TRAFFIC, "2", last_period_noon());
    let s1 = event("evt-s1", SMS, "3", at);
    let malformed = "42".to_owned();
    use Outcome::*;
    let first: Vec<(String, &str, Outcome)> = vec![
        (a1.clone(), TRAFFIC, Accepted),
        (event("evt-a2", TRAFFIC, "2.2", at), TRAFFIC, Accepted),
        (event("evt-a3", TRAFFIC, "3.3", at), TRAFFIC, Accepted),
        (late.clone(), TRAFFIC, Late),
        (
            event(
                "evt-old",
                TRAFFIC,
                "1",
                now - rig.grace() - TimeDelta::days(2),
            ),
            TRAFFIC,
            Rejected,
        ),
        (s1.clone(), SMS, Accepted),
        (event("evt-s2", SMS, "5", at), SMS, Accepted),
        (event("evt-s3", SMS, "0.5", at), SMS, Rejected),
        (event("evt-nope", "NOPE", "1", at), "NOPE", Rejected),
    ];
    let second: Vec<(String, &str, Outcome)> = vec![
        (a1, TRAFFIC, Duplicate),
        (late, TRAFFIC, Duplicate),
        (s1, SMS, Duplicate),
    ];
    let mut want = BTreeMap::new();
    for batch in [first, second] {
        let outcomes: Vec<(&str, Outcome)> = batch.iter().map(|(_, m, o)| (*m, *o)).collect();
        let mut expected = tally(&outcomes, &mut want);
        let mut bodies: Vec<String> = batch.into_iter().map(|(body, _, _)| body).collect();
        // A message holding two events, and one that is no event (counted under `-`, each time).
        let tail = bodies.split_off(bodies.len() - 2);
        bodies.push(format!("[{}]", tail.join(",")));
        bodies.push(malformed.clone());
        expected.rejected += tally(&[("-", Rejected)], &mut want).rejected;
        assert_eq!(rig.ingest(&messages(bodies)).await, expected);
    }
    let health = rig
        .store
        .health(kopek_tests::emulator::calendar().period_of(now))
        .await
        .expect("health");
    assert_eq!(health, want);
}
