//! Usage over HTTP against the emulator: events posted as JSON and CSV are judged whole and
//! enqueued on the real `UsageQueue`, counted by the ingestion (the harness drains the queue
//! as `usage-ingest` does), and shown to the customer per meter and day with an estimate from
//! the price model; refusals name the event and its field and enqueue nothing; who may post
//! and read; rejected events and their re-submission; ingestion health; external references.

use std::sync::Arc;

use chrono::{DateTime, Datelike, SecondsFormat, TimeZone, Utc};
use kopek_domain::clock::FixedClock;
use kopek_domain::period::BillingPeriod;
use kopek_tests::{Customer, TestApp, TestResponse, unique};
use serde_json::{Value, json};

mod csv;
mod events;
mod rejected;
mod roles;

/// Noon on the 15th of next month: always in the future (no TTL expires what the test
/// writes), with days of the same period on both sides.
fn mid_next_month() -> DateTime<Utc> {
    let today = kopek_tests::emulator::today();
    let next = kopek_tests::emulator::calendar()
        .period_of_date(today)
        .next();
    Utc.with_ymd_and_hms(next.year(), next.month(), 15, 12, 0, 0)
        .single()
        .expect("a valid instant")
}

struct World {
    app: TestApp,
    now: DateTime<Utc>,
    period: BillingPeriod,
    admin: String,
    /// An engineer: holds `usage:write`.
    engineer: String,
    a: Customer,
    b: Customer,
}

impl World {
    /// An instant of day `day` of the current period, `hour` hours after the provider's
    /// midnight.
    fn on(&self, day: u32, hour: u32) -> DateTime<Utc> {
        let date = self
            .period
            .first_day()
            .with_day(day)
            .expect("a day of the period");
        kopek_tests::emulator::calendar().start_of(date) + chrono::Duration::hours(hour.into())
    }

    fn day(&self, day: u32) -> String {
        kopek_tests::emulator::calendar()
            .date_of(self.on(day, 0))
            .to_string()
    }
}

fn metered(code: &str, unit: &str, tax_rate: &str, currency: &str, model: Value) -> Value {
    json!({
        "code": code, "name": {"ru": format!("Счётчик {code}"), "en": format!("Meter {code}")},
        "unit": unit, "kind": "metered", "tax_rate": tax_rate, "currency": currency,
        "price": {"currency": currency, "model": model}
    })
}

async fn create_service(app: &TestApp, admin: &str, body: Value) {
    app.post("/v1/catalog/services", Some(admin), &body)
        .await
        .assert_status(201);
}

/// TRAFFIC: gigabytes, graduated (the first 100 at 2.00, the rest at 1.50), VAT 20 %.
/// SMS: whole requests at 0.05, exempt. USD-M: priced in dollars. ROUTER: a one-off job.
async fn world() -> World {
    let now = mid_next_month();
    let app = TestApp::with_clock(Arc::new(FixedClock::at(now))).await;
    let admin = app.admin().await;
    create_service(
        &app,
        &admin,
        metered(
            "TRAFFIC",
            "gigabyte",
            "20",
            "RUB",
            json!({"type": "graduated", "tiers": [
                {"up_to": "100", "unit_price": "2.00"}, {"up_to": null, "unit_price": "1.50"}]}),
        ),
    )
    .await;
    create_service(
        &app,
        &admin,
        metered(
            "SMS",
            "request",
            "exempt",
            "RUB",
            json!({"type": "per_unit", "unit_price": "0.05"}),
        ),
    )
    .await;
    create_service(
        &app,
        &admin,
        metered(
            "USD-M",
            "request",
            "exempt",
            "USD",
            json!({"type": "per_unit", "unit_price": "1.00"}),
        ),
    )
    .await;
    create_service(&app, &admin, json!({
        "code": "ROUTER", "name": {"ru": "Настройка роутера", "en": "Router setup"},
        "unit": "piece", "kind": "one_off", "work_type": "install", "tax_rate": "20", "currency": "RUB",
        "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1500.00"}}
    }))
    .await;
    let engineer = app.staff_with_role("engineer").await;
    let a = app.register(&format!("Ромашка {}", unique())).await;
    let b = app.register(&format!("Лютик {}", unique())).await;
    World {
        app,
        now,
        period: kopek_tests::emulator::calendar().period_of(now),
        admin,
        engineer,
        a,
        b,
    }
}

fn event(id: &str, customer: &str, meter: &str, quantity: Value, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "customer": customer, "meter": meter, "quantity": quantity,
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Secs, true)
    })
}

async fn post_events(app: &TestApp, token: &str, events: &[Value]) -> TestResponse {
    app.post("/v1/usage", Some(token), &json!({"events": events}))
        .await
}

async fn post_csv(app: &TestApp, token: &str, csv: impl Into<String>) -> TestResponse {
    app.post_raw("/v1/usage/csv", Some(token), "text/csv", csv.into())
        .await
}

/// Messages waiting on the usage queue, and in flight.
async fn depth(app: &TestApp) -> (u64, u64) {
    app.usage_queue().depth().await.expect("queue depth")
}

fn meter<'a>(view: &'a Value, code: &str) -> &'a Value {
    view["meters"]
        .as_array()
        .expect("meters")
        .iter()
        .find(|m| m["meter"] == code)
        .unwrap_or_else(|| panic!("no meter {code} in {view}"))
}

/// Asserts a 422 with the reason `code` naming `field`.
#[track_caller]
fn assert_refused(response: &TestResponse, code: &str, field: &str) {
    response.assert_problem(422, code);
    assert_eq!(response.field(), field, "{}", response.body);
}
