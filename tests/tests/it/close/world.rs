//! An application with the catalog, and the close on the same table, queue and clock, driven
//! as the worker function drives it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Datelike, SecondsFormat, TimeDelta, Utc};
use kopek_aws::clients::Clients;
use kopek_aws::config::Config;
use kopek_aws::dynamo::billing::StoredPeriod;
use kopek_aws::dynamo::keys;
use kopek_domain::clock::{Clock, FixedClock};
use kopek_domain::ids::OrgId;
use kopek_domain::invoicing::{DocumentKind, Invoice, InvoiceSeries};
use kopek_domain::ledger::Entry;
use kopek_domain::period::BillingPeriod;
use kopek_events::close::poller;
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_services::Services;
use kopek_services::close::{CloseMessage, Closer, Started, Trigger};
use kopek_services::usage::ingest::BatchReport;
use kopek_tests::{Customer, TestApp};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::month::*;

// --- the world ------------------------------------------------------------------------------

/// An application with the catalog, and the close on the same table, queue and clock.
pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) clock: Arc<FixedClock>,
    pub(crate) close: Closer,
    pub(crate) period: BillingPeriod,
}

/// A customer: its signed-in user and its organisation.
#[derive(Debug, Clone)]
pub(crate) struct Party {
    pub(crate) customer: Customer,
    pub(crate) org: OrgId,
    /// When its user's access token was issued.
    pub(crate) signed_in_at: DateTime<Utc>,
}

/// One usage event as a producer sends it.
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    pub(crate) id: String,
    pub(crate) meter: &'static str,
    pub(crate) quantity: Decimal,
    pub(crate) at: DateTime<Utc>,
}

/// `n` events of [`METER`] from the 10th to the 28th of `period`, `low..high` gigabytes each
/// (to the megabyte), spread over days and hours.
pub(crate) fn usage_events(
    tag: &str,
    period: BillingPeriod,
    n: u64,
    low: u64,
    high: u64,
) -> Vec<Usage> {
    (0..n)
        .map(|k| Usage {
            id: format!("{tag}-{k:03}"),
            meter: METER,
            quantity: Decimal::new((low * 1000 + k * 7_919 % ((high - low) * 1000)) as i64, 3),
            at: at(day(period, 10 + (k % 19) as u32), 10 + (k % 12) as u32),
        })
        .collect()
}

pub(super) fn total(events: &[Usage]) -> Decimal {
    events.iter().map(|e| e.quantity).sum()
}

/// The services the worker function builds from its environment in the template, on the
/// test's clock and without the seal wait (nothing ingests while a test closes).
pub(super) fn worker(app: &TestApp, clock: Arc<FixedClock>) -> Services {
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let env = app
        .provisioned
        .function_env(&template, "PeriodCloseWorkerFunction")
        .expect("the worker's environment");
    let config = Config::from_lookup(|name| env.get(name).cloned()).expect("a configuration");
    Services::from_config(&config, &Clients::new(&app.sdk))
        .expect("the worker's services")
        .with_clock(clock)
        .with_settings(|s| {
            s.close_seal_wait = Duration::ZERO;
            // As the test application plans (see `kopek_tests::TEST_PLAN_SEGMENTS`).
            s.close_plan_segments = app.state.services.settings().close_plan_segments;
        })
}

/// Handles the first planning message of each of `period`'s planning segments.
pub(crate) async fn plan_every_segment(
    close: &Closer,
    store: &kopek_aws::dynamo::Store,
    period: BillingPeriod,
) {
    let header = store
        .period_header(period)
        .await
        .expect("read")
        .expect("started");
    for segment in header.plan_segments.segments() {
        close
            .handle(&CloseMessage::Plan {
                period,
                cursor: None,
                segment,
            })
            .await
            .expect("planned");
    }
}

pub(super) fn closer(app: &TestApp, clock: Arc<FixedClock>) -> Closer {
    worker(app, clock).closer()
}

impl World {
    /// The catalog, created on the 10th of [`month`] at 09:00, where the clock stays.
    pub(crate) async fn new() -> Self {
        let period = month();
        let clock = Arc::new(FixedClock::at(at(day(period, 10), 9)));
        let app = TestApp::with_clock(clock.clone()).await;
        let admin = app.admin().await;
        for service in catalog() {
            app.post("/v1/catalog/services", Some(&admin), &service)
                .await
                .assert_status(201);
        }
        let close = closer(&app, clock.clone());
        World {
            app,
            clock,
            close,
            period,
        }
    }

    /// Invoices numbered in `count` series from now on (an admin's change of the settings).
    pub(crate) async fn numbered_in(&self, count: u8) {
        let admin = self.app.admin().await;
        let read = self.app.get("/v1/billing/settings", Some(&admin)).await;
        read.assert_status(200);
        let mut body = read.body.clone();
        let fields = body.as_object_mut().expect("the settings");
        for read_only in ["time_zone", "period_months"] {
            fields.remove(read_only);
        }
        fields.insert("series_count".into(), json!(count));
        let saved = self
            .app
            .put("/v1/billing/settings", Some(&admin), &body)
            .await;
        saved.assert_status(200);
        assert_eq!(saved.body["series_count"], count);
    }

    pub(crate) fn store(&self) -> &kopek_aws::dynamo::Store {
        &self.app.store
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn set_clock(&self, to: DateTime<Utc>) {
        self.clock.advance(to - self.clock.now());
    }

    pub(crate) async fn party(&self, name: &str) -> Party {
        let customer = self.app.register(name).await;
        let org = customer.org_id.parse().expect("an organisation id");
        Party {
            customer,
            org,
            signed_in_at: self.now(),
        }
    }

    /// An access token of `party`'s user valid now: the one from its registration while it
    /// lives (15 minutes of the clock), else a fresh sign-in.
    pub(crate) async fn token(&self, party: &Party) -> String {
        if self.now() - party.signed_in_at < TimeDelta::minutes(10) {
            return party.customer.token.clone();
        }
        self.app
            .sign_in(&party.customer.email, &party.customer.password)
            .await
    }

    /// `party` subscribes to `quantity` of [`FEE`] from today.
    pub(crate) async fn subscribe(&self, party: &Party, quantity: u32) {
        let token = self.token(party).await;
        self.app
            .post(
                "/v1/subscriptions",
                Some(&token),
                &json!({"service": FEE, "quantity": quantity.to_string()}),
            )
            .await
            .assert_status(201);
    }

    /// `party` orders `quantity` pieces of [`JOB`] for today.
    pub(crate) async fn order(&self, party: &Party, quantity: u32) {
        let token = self.token(party).await;
        self.app
            .post(
                "/v1/orders",
                Some(&token),
                &json!({"lines": [{
                    "service": JOB, "quantity": quantity.to_string(),
                    "site": {"address": "Москва, ул. Тверская, 7", "area": "moscow-centre"}
                }]}),
            )
            .await
            .assert_status(201);
    }

    /// An engineer takes every waiting [`JOB`], starts the batch and completes each work
    /// order done with `actual` pieces.
    pub(crate) async fn complete_waiting_jobs(&self, actual: u32) {
        let engineer = self.app.staff_with_role("engineer").await;
        let batch = self
            .app
            .post(
                "/v1/work/batches",
                Some(&engineer),
                &json!({"work_type": WORK_TYPE, "size": 10}),
            )
            .await;
        batch.assert_status(201);
        let id = batch.body["id"].as_str().expect("a batch id");
        let outcomes: Vec<Value> = batch.body["work_orders"]
            .as_array()
            .expect("work orders")
            .iter()
            .map(|w| {
                json!({"work_order": w["work_order"], "outcome": "done",
                       "actual_quantity": actual.to_string()})
            })
            .collect();
        self.app
            .post(
                &format!("/v1/work/batches/{id}/start"),
                Some(&engineer),
                &json!({}),
            )
            .await
            .assert_status(200);
        self.app
            .post(
                &format!("/v1/work/batches/{id}/complete"),
                Some(&engineer),
                &json!({ "outcomes": outcomes }),
            )
            .await
            .assert_status(200);
    }

    /// Sends `party`'s events to `UsageQueue` and ingests them at the clock's time.
    pub(crate) async fn send_usage(&self, party: &Party, events: &[Usage]) -> BatchReport {
        let bodies: Vec<String> = events
            .iter()
            .map(|e| {
                json!({
                    "id": e.id, "customer": party.org.to_string(), "meter": e.meter,
                    "quantity": e.quantity.to_string(),
                    "timestamp": e.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                })
                .to_string()
            })
            .collect();
        self.app
            .usage_queue()
            .send_events(&bodies)
            .await
            .expect("the events are queued");
        self.app.drain_usage().await
    }

    /// The month ended: the clock at 06:00 on the 1st of the next.
    pub(crate) fn month_ended(&self) {
        self.set_clock(at(self.period.end_exclusive(), 6));
    }

    /// Handles the first planning message of each of `period`'s planning segments (as the
    /// workers would).
    pub(crate) async fn plan(&self, period: BillingPeriod) {
        plan_every_segment(&self.close, self.store(), period).await;
    }

    /// Starts the close of `period` as the scheduler does, then drains `CloseQueue`.
    pub(crate) async fn close(&self, period: BillingPeriod) -> Started {
        let started = self
            .close
            .start(period, Trigger::Schedule)
            .await
            .expect("the close starts");
        self.drain().await;
        started
    }

    /// Handles `CloseQueue` as the worker's event source mapping does (batches of up to 10,
    /// each message deleted once handled, a failed one visible again at once) until a
    /// receive finds it empty — without long polls: a long poll of an empty queue holds the
    /// serialised emulator, and so every other test, for its whole wait.
    pub(crate) async fn drain(&self) -> poller::Report {
        poller::Poller {
            wait_secs: 0,
            visibility_secs: Some(0),
            until: kopek_events::poll::Until::EmptyReceives(1),
        }
        .drain(&self.close)
        .await
        .expect("CloseQueue drains")
    }

    pub(crate) async fn status(&self, period: BillingPeriod) -> Option<StoredPeriod> {
        self.store().period(period).await.expect("the period")
    }

    pub(crate) async fn invoice(&self, org: OrgId, period: BillingPeriod) -> Option<Invoice> {
        self.store()
            .invoice_of(org, period)
            .await
            .expect("an invoice read")
            .map(|stored| stored.invoice)
    }

    pub(crate) async fn entries(&self, org: OrgId) -> Vec<Entry> {
        self.store()
            .ledger_entries(org)
            .await
            .expect("ledger entries")
    }

    pub(crate) async fn sequence_last(&self) -> u64 {
        self.sequence_last_of(&InvoiceSeries::new(SERIES).expect("a series"))
            .await
    }

    /// The last invoice number of `series` this year.
    pub(crate) async fn sequence_last_of(&self, series: &InvoiceSeries) -> u64 {
        self.store()
            .sequence_last(
                series,
                DocumentKind::Invoice,
                // The provider's year: numbers restart on its 1 January, not UTC's.
                kopek_tests::emulator::calendar().date_of(self.now()).year(),
            )
            .await
            .expect("the sequence")
    }

    /// Messages waiting and in flight on `CloseQueue` and `NumberQueue` together.
    pub(crate) async fn queue_depth(&self) -> (u64, u64) {
        let (waiting, in_flight) = self.close.queue().depth().await.expect("the queue's depth");
        let (numbering, numbered) = match self.close.number_queue() {
            Some(queue) => queue.depth().await.expect("the queue's depth"),
            None => (0, 0),
        };
        (waiting + numbering, in_flight + numbered)
    }

    /// The raw items of `org`'s invoices and ledger entries, in key order: a byte-for-byte
    /// image of what it was billed.
    pub(crate) async fn billed_items(&self, org: OrgId) -> Vec<HashMap<String, AttributeValue>> {
        let pk = format!("ORG#{org}");
        let text = |item: &HashMap<String, AttributeValue>, name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let mut items: Vec<_> = self
            .app
            .scan_all()
            .await
            .into_iter()
            .filter(|i| {
                let sk = text(i, "SK");
                text(i, "PK") == pk
                    && (sk.starts_with(keys::INVOICES) || sk.starts_with(keys::LEDGER))
            })
            .collect();
        items.sort_by_key(|i| text(i, "SK"));
        items
    }
}
