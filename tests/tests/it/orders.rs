//! Order intake and batch fulfilment through the HTTP API against the emulator: placing
//! orders, work queues, taking/starting/completing/releasing batches, charges, history,
//! cancellation, stale batches, and the race between engineers taking batches at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::http::Method;
use chrono::{Duration, Utc};
use kopek_domain::clock::FixedClock;
use kopek_tests::{Customer, TestApp, TestResponse, future_hour, send_to, unique};
use serde_json::{Value, json};

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

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

fn work_orders(batch: &Value) -> Vec<String> {
    batch["work_orders"]
        .as_array()
        .expect("work orders")
        .iter()
        .map(|w| w["work_order"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_customer_orders_an_engineer_completes_a_batch_and_the_customer_sees_status_and_charge() {
    let w = world().await;
    let app = &w.app;

    // The customer orders two lines; the response shows each line's expected price.
    let placed = place(
        app,
        &w.customer.token,
        vec![line("ROUTER-SETUP", "25"), line("CLEANING", "1.5")],
    )
    .await;
    placed.assert_status(201);
    let order = &placed.body;
    assert_eq!(order["status"], "placed");
    assert_eq!(
        order["lines"][0]["expected"]["amount"], "150.00",
        "volume: 25 × 6.00"
    );
    assert_eq!(order["lines"][1]["expected"]["amount"], "2250.00");
    assert_eq!(order["expected_total"]["amount"], "2400.00");
    assert_eq!(order["lines"][0]["price_version"], 1);
    let order_id = str_at(order, "/id").to_owned();

    // A price change after the order does not touch the order's price.
    let later = (Utc::now() + Duration::seconds(2)).to_rfc3339();
    app.post(
        "/v1/catalog/services/ROUTER-SETUP/prices",
        Some(&w.admin),
        &json!({"effective_from": later, "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "100.00"}}}),
    )
    .await
    .assert_status(201);

    // The engineer sees the queues and takes the install queue as a batch.
    let queues = app.get("/v1/work/queues", Some(&w.engineer)).await;
    queues.assert_status(200);
    let install = queues
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["work_type"] == "install")
        .unwrap();
    assert_eq!(install["waiting"], 1);
    assert!(install["oldest_age_secs"].as_i64().unwrap() >= 0);
    let batch = take(app, &w.engineer, "install", 10).await;
    batch.assert_status(201);
    let batch_id = str_at(&batch.body, "/id").to_owned();
    let wos = work_orders(&batch.body);
    assert_eq!(wos.len(), 1);
    assert!(
        batch.body["work_orders"][0]["customer"]
            .as_str()
            .unwrap()
            .contains("Ромашка")
    );
    let status = app
        .get(&format!("/v1/orders/{order_id}"), Some(&w.customer.token))
        .await;
    assert_eq!(status.body["status"], "accepted");

    app.post(
        &format!("/v1/work/batches/{batch_id}/start"),
        Some(&w.engineer),
        &json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        app.get(&format!("/v1/orders/{order_id}"), Some(&w.customer.token))
            .await
            .body["status"],
        "in_progress"
    );

    // Done with a different actual quantity: billed at the order's price version.
    let done = app
        .post(
            &format!("/v1/work/batches/{batch_id}/complete"),
            Some(&w.engineer),
            &json!({"outcomes": [{"work_order": wos[0], "outcome": "done", "actual_quantity": "8"}]}),
        )
        .await;
    done.assert_status(200);
    assert_eq!(done.body["status"], "closed");

    // The cleaning line fails in its own batch.
    let cleaning = take(app, &w.engineer, "cleaning", 5).await;
    cleaning.assert_status(201);
    let cleaning_id = str_at(&cleaning.body, "/id").to_owned();
    let cwo = work_orders(&cleaning.body);
    app.post(
        &format!("/v1/work/batches/{cleaning_id}/complete"),
        Some(&w.engineer),
        &json!({"outcomes": [{"work_order": cwo[0], "outcome": "failed", "reason": "No access: the office was closed"}]}),
    )
    .await
    .assert_status(200);

    let seen = app
        .get(&format!("/v1/orders/{order_id}"), Some(&w.customer.token))
        .await;
    seen.assert_status(200);
    assert_eq!(seen.body["status"], "partly_done");
    let router_line = &seen.body["lines"][0];
    assert_eq!(router_line["status"], "done");
    assert_eq!(router_line["actual_quantity"], "8");
    assert_eq!(
        router_line["charge"]["amount"]["amount"], "52.00",
        "8 × 6.50 (volume tier 6–10)"
    );
    assert_eq!(seen.body["lines"][1]["status"], "failed");
    assert_eq!(
        seen.body["lines"][1]["failure_reason"],
        "No access: the office was closed"
    );

    // The charge is there for the current period, once; the failed line is not billed.
    let charges = app.get("/v1/charges", Some(&w.customer.token)).await;
    charges.assert_status(200);
    assert_eq!(charges.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(charges.body["items"][0]["amount"]["amount"], "52.00");
    assert_eq!(charges.body["items"][0]["price_version"], 1);
    assert_eq!(charges.body["totals"][0]["amount"], "52.00");
    let theirs = app.get("/v1/charges", Some(&w.other.token)).await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);

    // The history records placement, done and failed; a manager reads it too.
    let manager = app.staff_with_role("manager").await;
    let history = app
        .get(&format!("/v1/orders/{order_id}/history"), Some(&manager))
        .await;
    history.assert_status(200);
    let kinds: Vec<&str> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["order_placed", "work_order_done", "work_order_failed"]
    );

    // The customer's list shows the order with its live status.
    let list = app.get("/v1/orders", Some(&w.customer.token)).await;
    assert_eq!(list.body["items"][0]["id"], order_id.as_str());
    assert_eq!(list.body["items"][0]["status"], "partly_done");
}

#[tokio::test]
async fn bad_orders_are_refused_naming_the_field_and_nothing_is_stored() {
    let w = world().await;
    let app = &w.app;
    let past = (kopek_tests::emulator::today() - Duration::days(2)).to_string();
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"lines": []}), 422, "lines"),
        (
            json!({"lines": [line("NO-SUCH", "1")]}),
            422,
            "lines[0].service",
        ),
        (
            json!({"lines": [line("ROUTER-SETUP", "1"), line("VPS-S", "1")]}),
            422,
            "lines[1].service",
        ),
        (
            json!({"lines": [line("TRAFFIC", "1")]}),
            422,
            "lines[0].service",
        ),
        (
            json!({"lines": [line("ABROAD", "1")]}),
            422,
            "lines[0].service",
        ),
        (
            json!({"lines": [line("ROUTER-SETUP", "0")]}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [line("ROUTER-SETUP", "-3")]}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [line("ROUTER-SETUP", "1.5")]}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [line("ROUTER-SETUP", "lots")]}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"service": "ROUTER-SETUP", "quantity": 2, "site": {"address": "x"}}]}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"service": "ROUTER-SETUP", "quantity": "1", "requested_date": past, "site": {"address": "x"}}]}),
            422,
            "lines[0].requested_date",
        ),
        (
            json!({"lines": [{"service": "ROUTER-SETUP", "quantity": "1", "site": {"address": "  "}}]}),
            422,
            "lines[0].site.address",
        ),
        (
            json!({"lines": [{"service": "ROUTER-SETUP", "quantity": "1", "site": {"address": "x", "area": "Центр"}}]}),
            422,
            "lines[0].site.area",
        ),
        (
            json!({"lines": [{"service": "ROUTER-SETUP", "quantity": "1", "site": {"address": "x"}, "price": "0.01"}]}),
            422,
            "lines[0].price",
        ),
        (
            json!({"lines": [line("ROUTER-SETUP", "1")], "discount": "100"}),
            422,
            "discount",
        ),
    ];
    let before = app.table_items().await;
    for (body, status, field) in cases {
        let response = app.post("/v1/orders", Some(&w.customer.token), &body).await;
        assert_eq!(
            response.status.as_u16(),
            status,
            "{body}: {}",
            response.body
        );
        assert_eq!(response.content_type(), "application/problem+json");
        assert_eq!(response.field(), field, "{body}: {}", response.body);
    }
    // Staff do not order for themselves.
    place(app, &w.engineer, vec![line("ROUTER-SETUP", "1")])
        .await
        .assert_problem(403, "customer_only");
    assert_eq!(
        app.table_items().await,
        before,
        "a refused order stored something"
    );

    // A blocked customer cannot order until unblocked.
    let block = format!("/v1/organisations/{}/block", w.customer.org_id);
    app.post(&block, Some(&w.customer.token), &json!({}))
        .await
        .assert_status(403);
    app.post(&block, Some(&w.admin), &json!({}))
        .await
        .assert_status(200);
    let before = app.table_items().await;
    place(app, &w.customer.token, vec![line("ROUTER-SETUP", "1")])
        .await
        .assert_problem(403, "customer_blocked");
    assert_eq!(app.table_items().await, before);
    app.post(
        &format!("/v1/organisations/{}/unblock", w.customer.org_id),
        Some(&w.admin),
        &json!({}),
    )
    .await
    .assert_status(200);
    place(app, &w.customer.token, vec![line("ROUTER-SETUP", "1")])
        .await
        .assert_status(201);
}

#[tokio::test]
async fn a_retried_order_with_the_same_idempotency_key_is_placed_once() {
    let w = world().await;
    let app = &w.app;
    let body = json!({"lines": [line("ROUTER-SETUP", "2")]});
    let send = || {
        let mut request = TestApp::request(
            Method::POST,
            "/v1/orders",
            Some(&w.customer.token),
            Some(&body),
        );
        request
            .headers_mut()
            .insert("idempotency-key", "order-retry-1".parse().unwrap());
        app.send(request)
    };
    let first = send().await;
    first.assert_status(201);
    let second = send().await;
    second.assert_status(201);
    assert_eq!(first.body["id"], second.body["id"]);
    let list = app.get("/v1/orders", Some(&w.customer.token)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn another_customers_order_is_not_found_anywhere() {
    let w = world().await;
    let app = &w.app;
    let placed = place(app, &w.customer.token, vec![line("ROUTER-SETUP", "1")]).await;
    let id = str_at(&placed.body, "/id").to_owned();
    let before = app.table_items().await;
    for path in [
        format!("/v1/orders/{id}"),
        format!("/v1/orders/{id}/history"),
    ] {
        app.get(&path, Some(&w.other.token))
            .await
            .assert_problem(404, "not_found");
    }
    app.post(
        &format!("/v1/orders/{id}/lines/1/cancel"),
        Some(&w.other.token),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/v1/charges?org_id={}", w.customer.org_id),
        Some(&w.other.token),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.table_items().await, before);
    // The owner sees it; so does staff.
    app.get(&format!("/v1/orders/{id}"), Some(&w.customer.token))
        .await
        .assert_status(200);
    app.get(&format!("/v1/orders/{id}"), Some(&w.admin))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_line_cancelled_in_a_batch_cannot_be_completed_and_started_work_cannot_be_cancelled() {
    let w = world().await;
    let app = &w.app;
    let placed = place(
        app,
        &w.customer.token,
        vec![line("ROUTER-SETUP", "1"), line("ROUTER-SETUP", "2")],
    )
    .await;
    let order_id = str_at(&placed.body, "/id").to_owned();
    let batch = take(app, &w.engineer, "install", 10).await;
    let batch_id = str_at(&batch.body, "/id").to_owned();
    let first_wo = str_at(&placed.body, "/lines/0/work_order").to_owned();

    // Accepted but not started: the customer may still cancel.
    let cancelled = app
        .post(
            &format!("/v1/orders/{order_id}/lines/1/cancel"),
            Some(&w.customer.token),
            &json!({}),
        )
        .await;
    cancelled.assert_status(200);
    assert_eq!(cancelled.body["lines"][0]["status"], "cancelled");

    let before = app.table_items().await;
    app.post(
        &format!("/v1/work/batches/{batch_id}/complete"),
        Some(&w.engineer),
        &json!({"outcomes": [{"work_order": first_wo, "outcome": "done", "actual_quantity": "1"}]}),
    )
    .await
    .assert_problem(409, "work_order_cancelled");
    assert_eq!(
        app.table_items().await,
        before,
        "a refused completion changed something"
    );

    // Once started, the other line can no longer be cancelled.
    app.post(
        &format!("/v1/work/batches/{batch_id}/start"),
        Some(&w.engineer),
        &json!({}),
    )
    .await
    .assert_status(200);
    app.post(
        &format!("/v1/orders/{order_id}/lines/2/cancel"),
        Some(&w.customer.token),
        &json!({}),
    )
    .await
    .assert_problem(409, "invalid_state");
    app.post(
        &format!("/v1/orders/{order_id}/lines/9/cancel"),
        Some(&w.customer.token),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn completing_twice_or_another_engineers_batch_is_refused_and_changes_nothing() {
    let w = world().await;
    let app = &w.app;
    place(
        app,
        &w.customer.token,
        vec![line("ROUTER-SETUP", "3"), line("ROUTER-SETUP", "4")],
    )
    .await;
    let batch = take(app, &w.engineer, "install", 10).await;
    let batch_id = str_at(&batch.body, "/id").to_owned();
    let wos = work_orders(&batch.body);
    let outcomes = json!({"outcomes": wos.iter().map(|wo| json!({"work_order": wo, "outcome": "done", "actual_quantity": "1"})).collect::<Vec<_>>()});
    let path = format!("/v1/work/batches/{batch_id}/complete");

    let intruder = app.staff_with_role("engineer").await;
    let before = app.table_items().await;
    app.post(&path, Some(&intruder), &outcomes)
        .await
        .assert_problem(403, "not_your_batch");
    app.post(&path, Some(&w.customer.token), &outcomes)
        .await
        .assert_status(403);
    // Bad outcomes: refused whole, naming the item.
    let bad = json!({"outcomes": [
        {"work_order": wos[0], "outcome": "done", "actual_quantity": "1"},
        {"work_order": wos[1], "outcome": "done", "actual_quantity": "0.5"}]});
    let refused = app.post(&path, Some(&w.engineer), &bad).await;
    refused.assert_status(422);
    assert_eq!(refused.field(), "outcomes[1].actual_quantity");
    let dup = json!({"outcomes": [
        {"work_order": wos[0], "outcome": "done", "actual_quantity": "1"},
        {"work_order": wos[0], "outcome": "failed", "reason": "x"}]});
    assert_eq!(
        app.post(&path, Some(&w.engineer), &dup).await.field(),
        "outcomes[1].work_order"
    );
    let unknown = json!({"outcomes": [{"work_order": "wo_01ARZ3NDEKTSV4RRFFQ69G5FAV", "outcome": "done", "actual_quantity": "1"}]});
    assert_eq!(
        app.post(&path, Some(&w.engineer), &unknown).await.field(),
        "outcomes[0].work_order"
    );
    app.post(
        "/v1/work/batches/bat_01ARZ3NDEKTSV4RRFFQ69G5FAV/complete",
        Some(&w.engineer),
        &outcomes,
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.table_items().await, before);

    app.post(&path, Some(&w.engineer), &outcomes)
        .await
        .assert_status(200);
    let after = app.table_items().await;
    app.post(&path, Some(&w.engineer), &outcomes)
        .await
        .assert_problem(409, "batch_closed");
    assert_eq!(
        app.table_items().await,
        after,
        "a second completion changed something"
    );
    let charges = app.get("/v1/charges", Some(&w.customer.token)).await;
    assert_eq!(
        charges.body["items"].as_array().unwrap().len(),
        2,
        "each work order billed once"
    );
}

#[tokio::test]
async fn released_work_goes_back_in_its_place_and_a_partial_batch_stays_open() {
    let w = world().await;
    let app = &w.app;
    place(
        app,
        &w.customer.token,
        (0..4).map(|_| line("ROUTER-SETUP", "1")).collect(),
    )
    .await;
    let batch = take(app, &w.engineer, "install", 3).await;
    let batch_id = str_at(&batch.body, "/id").to_owned();
    let wos = work_orders(&batch.body);
    let done = app
        .post(
            &format!("/v1/work/batches/{batch_id}/complete"),
            Some(&w.engineer),
            &json!({"outcomes": [{"work_order": wos[0], "outcome": "done", "actual_quantity": "1"}]}),
        )
        .await;
    done.assert_status(200);
    assert_eq!(done.body["status"], "open");
    assert_eq!(done.body["open"], 2);
    let released = app
        .post(
            &format!("/v1/work/batches/{batch_id}/release"),
            Some(&w.engineer),
            &json!({}),
        )
        .await;
    released.assert_status(200);
    assert_eq!(released.body["status"], "closed");
    // Oldest first again: the released ones come before the one never taken.
    let queue = app.get("/v1/work/queues/install", Some(&w.engineer)).await;
    let waiting: Vec<&str> = queue.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["work_order"].as_str().unwrap())
        .collect();
    assert_eq!(waiting.len(), 3);
    assert_eq!(&waiting[..2], &[wos[1].as_str(), wos[2].as_str()]);
}

#[tokio::test]
async fn a_batch_left_untouched_returns_to_the_queue_by_itself() {
    let clock = Arc::new(FixedClock::at(future_hour()));
    // A short timeout, so the access tokens (15 minutes) outlive it.
    let app = TestApp::with_clock(clock.clone()).await.with_state(|s| {
        s.services = s
            .services
            .clone()
            .with_settings(|settings| settings.batch_timeout = std::time::Duration::from_secs(600));
    });
    let w = world_at(app).await;
    let app = &w.app;
    place(app, &w.customer.token, vec![line("ROUTER-SETUP", "1")]).await;
    let batch = take(app, &w.engineer, "install", 5).await;
    let batch_id = str_at(&batch.body, "/id").to_owned();
    let wo = work_orders(&batch.body).remove(0);
    take(app, &w.engineer, "install", 5)
        .await
        .assert_problem(409, "nothing_waiting");

    clock.advance(Duration::minutes(9));
    app.get(&format!("/v1/work/batches/{batch_id}"), Some(&w.engineer))
        .await
        .assert_status(200);
    take(app, &w.engineer, "install", 5)
        .await
        .assert_problem(409, "nothing_waiting");
    clock.advance(Duration::minutes(1));
    let queues = app.get("/v1/work/queues", Some(&w.engineer)).await;
    let install = queues
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["work_type"] == "install")
        .unwrap()
        .clone();
    assert_eq!(install["waiting"], 1, "the stale batch's work is back");
    let stale = app
        .post(
            &format!("/v1/work/batches/{batch_id}/complete"),
            Some(&w.engineer),
            &json!({"outcomes": [{"work_order": wo, "outcome": "done", "actual_quantity": "1"}]}),
        )
        .await;
    stale.assert_problem(409, "batch_closed");
    let again = take(app, &w.engineer, "install", 5).await;
    again.assert_status(201);
    assert_eq!(work_orders(&again.body), vec![wo]);
}

#[tokio::test]
async fn the_work_sheet_lists_every_job_with_customer_address_and_note() {
    let w = world().await;
    let app = &w.app;
    place(
        app,
        &w.customer.token,
        vec![line("ROUTER-SETUP", "2"), line("ROUTER-SETUP", "3")],
    )
    .await;
    let batch = take(app, &w.engineer, "install", 5).await;
    let id = str_at(&batch.body, "/id");
    let sheet = app
        .get(
            &format!("/v1/work/batches/{id}/sheet.csv"),
            Some(&w.engineer),
        )
        .await;
    sheet.assert_status(200);
    assert!(sheet.content_type().starts_with("text/csv"));
    let text = String::from_utf8(sheet.raw[3..].to_vec()).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[0][2].contains("Ромашка"));
    assert_eq!(&rows[0][3], "Москва, ул. Тверская, 7, офис 12");
    assert_eq!(&rows[1][7], "3");
    assert_eq!(&rows[0][10], "Домофон 12, звонить заранее");
    app.get(
        &format!("/v1/work/batches/{id}/sheet.csv"),
        Some(&w.customer.token),
    )
    .await
    .assert_status(403);
}

/// Many engineers take batches of the same queue at the same moment: every work order ends
/// in exactly one batch, and the line agrees with the batch that holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_engineers_never_receive_the_same_work_order() {
    let w = world().await;
    let app = &w.app;
    let total = 60;
    for _ in 0..(total / 20) {
        place(
            app,
            &w.customer.token,
            (0..20).map(|_| line("ROUTER-SETUP", "1")).collect(),
        )
        .await
        .assert_status(201);
    }
    let mut engineers = vec![w.engineer.clone()];
    for _ in 0..5 {
        engineers.push(app.staff_with_role("engineer").await);
    }
    let mut tasks = Vec::new();
    for token in engineers {
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine: Vec<(String, Vec<String>)> = Vec::new();
            loop {
                let request = TestApp::request(
                    Method::POST,
                    "/v1/work/batches",
                    Some(&token),
                    Some(&json!({"work_type": "install", "size": 4})),
                );
                let response = send_to(&router, request).await;
                match response.status.as_u16() {
                    201 => mine.push((
                        response.body["id"].as_str().unwrap().to_owned(),
                        work_orders(&response.body),
                    )),
                    409 => return mine,
                    503 => continue,
                    other => panic!("unexpected {other}: {}", response.body),
                }
            }
        }));
    }
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut batches = 0;
    for task in tasks {
        for (batch, wos) in task.await.unwrap() {
            batches += 1;
            for wo in wos {
                if let Some(previous) = owner.insert(wo.clone(), batch.clone()) {
                    panic!("{wo} is in both {previous} and {batch}");
                }
            }
        }
    }
    assert_eq!(
        owner.len(),
        total,
        "every work order was taken exactly once"
    );
    assert!(batches >= total / 4);
    // Every line says it is in the batch that claims it.
    let lines: Vec<Value> = app
        .table_items()
        .await
        .into_iter()
        .filter(|i| {
            i["type"] == "\"order_line\""
                || i["type"].as_str().is_some_and(|t| t.contains("order_line"))
        })
        .collect();
    assert_eq!(lines.len(), total);
    let in_batches: BTreeSet<String> = lines
        .iter()
        .map(|l| l["GSI1PK"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        in_batches.iter().all(|k| k.contains("BATCH#")),
        "{in_batches:?}"
    );
    for (wo, batch) in &owner {
        let line = lines
            .iter()
            .find(|l| l.to_string().contains(wo.as_str()))
            .unwrap();
        assert!(
            line["GSI1PK"].as_str().unwrap().contains(batch.as_str()),
            "{wo} not in {batch}"
        );
    }
}

#[tokio::test]
async fn a_batch_can_be_narrowed_by_area_and_date() {
    let w = world().await;
    let app = &w.app;
    let later = (kopek_tests::emulator::today() + Duration::days(5)).to_string();
    let at = |area: &str, date: &str| {
        json!({"service": "ROUTER-SETUP", "quantity": "1", "requested_date": date,
               "site": {"address": "Адрес", "area": area}})
    };
    place(
        app,
        &w.customer.token,
        vec![
            at("north", &today()),
            at("south", &today()),
            at("north", &later),
            at("south", &later),
        ],
    )
    .await
    .assert_status(201);
    let narrowed = app
        .post(
            "/v1/work/batches",
            Some(&w.engineer),
            &json!({"work_type": "install", "size": 10, "area": "north", "requested_by": today()}),
        )
        .await;
    narrowed.assert_status(201);
    let rows = narrowed.body["work_orders"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["site"]["area"], "north");
    assert_eq!(rows[0]["requested_date"], today().as_str());
    let north = app
        .post(
            "/v1/work/batches",
            Some(&w.engineer),
            &json!({"work_type": "install", "size": 10, "area": "north"}),
        )
        .await;
    assert_eq!(north.body["work_orders"].as_array().unwrap().len(), 1);
    app.post(
        "/v1/work/batches",
        Some(&w.engineer),
        &json!({"work_type": "install", "size": 10, "area": "North Side"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let rest = take(app, &w.engineer, "install", 10).await;
    assert_eq!(
        work_orders(&rest.body).len(),
        2,
        "the south jobs are still waiting"
    );
}
