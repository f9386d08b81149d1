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
//! One file per property: [`exactly_once`], [`storage`] (partial batch failure and the
//! dead-letter queue), [`rejected`] (rejected events and conflicts), [`late`], [`health`];
//! the rig and the events they share are here.
//!
//! Storage failures are real ones: a store on a table the emulator does not have, a store whose
//! endpoint is a closed loopback port, and a client that sends the one request naming a given
//! event to that closed port (an SDK interceptor), so that only that event's write fails.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::{DateTime, FixedOffset, SecondsFormat, TimeDelta, Utc};
use kopek_aws::dynamo::Store;
use kopek_aws::dynamo::usage::RejectedEvent;
use kopek_aws::queue::Queue;
use kopek_domain::catalog::ServiceCode;
use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_domain::usage::MeterUsage;
use kopek_events::usage::poller::Poller;
use kopek_services::usage::ingest::{BatchReport, Ingestor, Message};
use kopek_tests::{TestApp, unique};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

mod exactly_once;
mod health;
mod late;
mod rejected;
mod storage;

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

/// Noon on the last day of the previous period: within the grace window, and never ahead.
fn last_period_noon() -> DateTime<Utc> {
    kopek_tests::emulator::calendar().start_of(current().previous().last_day())
        + TimeDelta::hours(12)
}
