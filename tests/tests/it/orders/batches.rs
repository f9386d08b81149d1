//! Batches: cancelled and started lines, completing twice or another's batch, releasing, stale
//! batches, the work sheet, narrowing by area and date.

use super::{line, place, take, today, work_orders, world, world_at};
use chrono::Duration;
use kopek_domain::clock::FixedClock;
use kopek_tests::str_at;
use kopek_tests::{TestApp, future_hour};
use serde_json::json;
use std::sync::Arc;

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
    // Each waiting job names its customer, as the engineer's sheet will.
    let org = app
        .get(
            &format!("/v1/organisations/{}", w.customer.org_id),
            Some(&w.admin),
        )
        .await;
    for item in queue.body["items"].as_array().unwrap() {
        assert_eq!(item["customer"], org.body["legal_name"], "{item}");
    }
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
