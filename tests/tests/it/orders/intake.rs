//! Placing orders: the whole way to a charge, refusals that store nothing, a retried order,
//! another customer's order.

use super::{line, place, take, work_orders, world};
use axum::http::Method;
use chrono::{Duration, Utc};
use kopek_tests::TestApp;
use kopek_tests::str_at;
use serde_json::{Value, json};

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
        order["lines"][0]["expected_net"], "150.00",
        "volume: 25 × 6.00"
    );
    assert_eq!(order["lines"][1]["expected_net"], "2250.00");
    assert_eq!(order["expected_total_net"], "2400.00");
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
        router_line["charge"]["net"], "52.00",
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
    assert_eq!(charges.body["items"][0]["net"], "52.00");
    assert_eq!(charges.body["items"][0]["price_version"], 1);
    assert_eq!(charges.body["totals"][0]["net"], "52.00");
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
