//! Order intake and batch fulfilment through the HTTP API against the emulator: placing
//! orders, work queues, taking/starting/completing/releasing batches, charges, history,
//! cancellation, stale batches, the race between engineers taking batches at once, and
//! completions too large for one transaction, crashed between their transactions.

use kopek_tests::{Customer, TestApp, TestResponse, future_hour, unique};
use serde_json::{Value, json};

mod batches;
mod intake;
mod large_batch;
mod race;

/// A world with a catalog, two customers and an engineer.
struct World {
    app: TestApp,
    admin: String,
    engineer: String,
    customer: Customer,
    other: Customer,
}

async fn service(app: &TestApp, admin: &str, body: Value) {
    app.post("/v1/catalog/services", Some(admin), &body)
        .await
        .assert_status(201);
}

async fn catalog(app: &TestApp, admin: &str) {
    // Volume tiers: 1–5 at 7.00, 6–10 at 6.50, 11+ at 6.00 (the whole quantity at one tier).
    service(app, admin, json!({
        "code": "ROUTER-SETUP", "name": {"ru": "Настройка роутера", "en": "Router setup"},
        "unit": "piece", "kind": "one_off", "work_type": "install", "tax_rate": "20", "currency": "RUB",
        "price": {"currency": "RUB", "model": {"type": "volume", "tiers": [
            {"up_to": "5", "unit_price": "7.00"}, {"up_to": "10", "unit_price": "6.50"}, {"up_to": null, "unit_price": "6.00"}]}}
    })).await;
    service(app, admin, json!({
        "code": "CLEANING", "name": {"ru": "Уборка", "en": "Cleaning"},
        "unit": "hour", "kind": "one_off", "work_type": "cleaning", "tax_rate": "20", "currency": "RUB",
        "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1500.00"}}
    })).await;
    service(
        app,
        admin,
        json!({
            "code": "VPS-S", "name": {"ru": "Сервер S", "en": "Server S"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    )
    .await;
    service(
        app,
        admin,
        json!({
            "code": "TRAFFIC", "name": {"ru": "Трафик", "en": "Traffic"},
            "unit": "gigabyte", "kind": "metered", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "2.00"}}
        }),
    )
    .await;
    service(app, admin, json!({
        "code": "ABROAD", "name": {"ru": "Выезд", "en": "Visit abroad"},
        "unit": "visit", "kind": "one_off", "work_type": "install", "tax_rate": "exempt", "currency": "USD",
        "price": {"currency": "USD", "model": {"type": "flat", "amount": "100.00"}}
    })).await;
}

async fn world_at(app: TestApp) -> World {
    let admin = app.admin().await;
    catalog(&app, &admin).await;
    let customer = app.register(&format!("Ромашка {}", unique())).await;
    let other = app.register(&format!("Василёк {}", unique())).await;
    let engineer = app.staff_with_role("engineer").await;
    World {
        app,
        admin,
        engineer,
        customer,
        other,
    }
}

async fn world() -> World {
    world_at(TestApp::start().await).await
}

/// The requested date of the test's order lines: the date of [`future_hour`], so it is never
/// in the past for the real clock nor for a test clock set to `future_hour()` earlier (which,
/// after 22:00 UTC, is already tomorrow).
fn today() -> String {
    kopek_tests::emulator::calendar()
        .date_of(future_hour())
        .to_string()
}

fn line(service: &str, quantity: &str) -> Value {
    json!({
        "service": service, "quantity": quantity, "requested_date": today(),
        "note": "Домофон 12, звонить заранее",
        "site": {"address": "Москва, ул. Тверская, 7, офис 12", "area": "moscow-centre"}
    })
}

async fn place(app: &TestApp, token: &str, lines: Vec<Value>) -> TestResponse {
    app.post("/v1/orders", Some(token), &json!({"lines": lines}))
        .await
}

async fn take(app: &TestApp, engineer: &str, work_type: &str, size: u16) -> TestResponse {
    app.post(
        "/v1/work/batches",
        Some(engineer),
        &json!({"work_type": work_type, "size": size}),
    )
    .await
}

fn work_orders(batch: &Value) -> Vec<String> {
    batch["work_orders"]
        .as_array()
        .expect("work orders")
        .iter()
        .map(|w| w["work_order"].as_str().expect("id").to_owned())
        .collect()
}
