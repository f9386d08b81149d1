//! The billing API against the emulator: who may start, read and resume closes; periods
//! refused (not ended, malformed, out of order, twice) with nothing changed; a dry run, and
//! the close it foresees issuing exactly its drafts; invoices and credit notes of one customer
//! out of another's reach; credit notes refused naming the field, and written whole when
//! granted; balances from the ledger; the billing settings.
//!
//! Apart from the dry run's close, invoices are issued through the store the way the close
//! issues them (`support/invoices.rs`); the close's fan-out has tests of its own.

use crate::support::invoices;

use std::str::FromStr;

use kopek_aws::clients::Clients;
use kopek_aws::queue::Queue;
use kopek_domain::period::BillingPeriod;
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_tests::{Customer, TestApp, TestResponse};
use rust_decimal::Decimal;
use serde_json::{Value, json};

mod account_statement;
mod close;
mod documents;
mod dunning;
mod reversals;
mod settings;
pub(crate) mod statements;

/// The application with the billing function's close queue (the harness builds the
/// `usage-api` environment, which has none).
async fn app() -> TestApp {
    let app = TestApp::start().await;
    let template = Template::load_project(&tools::project_root()).expect("the template");
    let env = app
        .provisioned
        .function_env(&template, "BillingApiFunction")
        .expect("the billing function's environment");
    let url = env
        .get("KOPEK_CLOSE_QUEUE_URL")
        .expect("the billing function names the close queue")
        .clone();
    let sqs = Clients::new(&app.sdk).sqs;
    app.with_state(|state| {
        state.services = state
            .services
            .clone()
            .with_close_queue(Queue::new(sqs, url));
    })
}

fn current() -> BillingPeriod {
    kopek_tests::emulator::current_period()
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(
        value
            .as_str()
            .unwrap_or_else(|| panic!("a decimal string: {value}")),
    )
    .expect("a decimal")
}

/// A recurring service customers subscribe to.
async fn service(app: &TestApp, admin: &str) {
    app.post(
        "/v1/catalog/services",
        Some(admin),
        &json!({
            "code": "VPS-S", "name": {"ru": "Сервер", "en": "Server"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    )
    .await
    .assert_status(201);
}

/// A customer subscribed to `VPS-S` from today.
async fn subscribed(app: &TestApp, name: &str) -> Customer {
    let customer = app.register(name).await;
    app.post(
        "/v1/subscriptions",
        Some(&customer.token),
        &json!({"service": "VPS-S", "quantity": "1"}),
    )
    .await
    .assert_status(201);
    customer
}

/// Two subscribed customers, each with an invoice of the current period; an admin.
struct World {
    app: TestApp,
    admin: String,
    a: Customer,
    b: Customer,
    a_invoice: String,
    b_invoice: String,
}

async fn world() -> World {
    let app = app().await;
    let admin = app.admin().await;
    service(&app, &admin).await;
    let a = subscribed(&app, "Ромашка").await;
    let b = subscribed(&app, "Лютик").await;
    let ids =
        invoices::issue_invoices(&app, current(), &[a.org_id.as_str(), b.org_id.as_str()]).await;
    World {
        a_invoice: ids[0].clone(),
        b_invoice: ids[1].clone(),
        app,
        admin,
        a,
        b,
    }
}

async fn credit(app: &TestApp, token: &str, invoice: &str, body: Value) -> TestResponse {
    app.post(
        &format!("/v1/invoices/{invoice}/credit-notes"),
        Some(token),
        &body,
    )
    .await
}

#[track_caller]
fn assert_field(response: &TestResponse, status: u16, code: &str, field: &str) {
    response.assert_problem(status, code);
    assert_eq!(response.field(), field, "{}", response.body);
}
