//! Events uploaded as CSV, judged whole, and the larger bodies the upload routes take.

use super::{assert_refused, depth, event, meter, post_csv, world};
use axum::http::Method;
use chrono::SecondsFormat;
use kopek_tests::unique;
use serde_json::{Value, json};

#[tokio::test]
async fn a_csv_is_judged_whole_then_queued_and_its_errors_name_row_and_column() {
    let w = world().await;
    let app = &w.app;
    let a = w.a.org_id.as_str();
    let ts = |day: u32| w.on(day, 9).to_rfc3339_opts(SecondsFormat::Secs, true);
    let header = "id,customer,meter,quantity,timestamp\n";
    let good = format!(
        "{header}c-1,{a},TRAFFIC,12.5,{}\nc-2,{a},TRAFFIC,7.5,{}\nc-3,{a},SMS,40,{}\n",
        ts(2),
        ts(2),
        ts(4)
    );

    // Errors name the data row (the first after the header is rows[1]) and the column.
    let rows = |bad: &str| format!("{header}c-1,{a},TRAFFIC,1,{}\n{bad}\n", ts(2));
    let cases = [
        (
            rows(&format!("c-2,{a},TRAFFIC,-3,{}", ts(2))),
            "bad_quantity",
            "rows[2].quantity",
        ),
        (
            rows(&format!("c-2,{a},NOPE,3,{}", ts(2))),
            "unknown_meter",
            "rows[2].meter",
        ),
        (
            rows(&format!("c-2,crm:none,TRAFFIC,3,{}", ts(2))),
            "unknown_customer",
            "rows[2].customer",
        ),
        (
            rows(&format!("c-2,{a},SMS,2.5,{}", ts(2))),
            "bad_quantity",
            "rows[2].quantity",
        ),
        (
            rows(&format!("c-2,{a},TRAFFIC,3,28.11.2026")),
            "invalid_field",
            "rows[2].timestamp",
        ),
        (
            rows(&format!("c-1,{a},TRAFFIC,3,{}", ts(2))),
            "duplicate_id",
            "rows[2].id",
        ),
        (rows(&format!("c-2,{a},TRAFFIC,3")), "malformed", "rows[2]"),
        (
            format!(
                "id,customer,meter,timestamp,quantity\nc-1,{a},TRAFFIC,{},1\n",
                ts(2)
            ),
            "validation_failed",
            "header",
        ),
        (header.to_owned(), "validation_failed", "rows"),
    ];
    let before = app.table_items().await;
    for (csv, code, field) in cases {
        let response = post_csv(app, &w.engineer, csv.clone()).await;
        assert_eq!(response.status.as_u16(), 422, "{csv}: {}", response.body);
        assert_refused(&response, code, field);
    }
    // Only text/csv.
    for content_type in ["application/json", "text/plain"] {
        app.post_raw(
            "/v1/usage/csv",
            Some(&w.engineer),
            content_type,
            good.clone(),
        )
        .await
        .assert_problem(415, "unsupported_media_type");
    }
    assert_eq!(depth(app).await, (0, 0), "nothing was queued");
    assert_eq!(app.table_items().await, before);

    // A good file is queued as the events it holds.
    let posted = app
        .post_raw(
            "/v1/usage/csv",
            Some(&w.engineer),
            "text/csv; charset=utf-8",
            good,
        )
        .await;
    posted.assert_status(202);
    assert_eq!(posted.body, json!({"queued": 3, "messages": 1}));
    let queue = app.usage_queue();
    let received = queue.receive(10, 0, Some(0)).await.expect("receive");
    assert_eq!(received.len(), 1);
    let message: Vec<Value> = serde_json::from_str(&received[0].body).expect("a JSON array");
    assert_eq!(message.len(), 3);
    assert_eq!(message[0]["id"], "c-1");
    assert_eq!(message[0]["quantity"], "12.5");
    assert_eq!(message[2]["meter"], "SMS");
    let report = app.drain_usage().await;
    assert_eq!(report.counted, 3);
    let view = app.get("/v1/usage", Some(&w.a.token)).await;
    assert_eq!(
        meter(&view.body, "TRAFFIC")["by_day"],
        json!([{"day": w.day(2), "quantity": "20"}])
    );
    assert_eq!(meter(&view.body, "TRAFFIC")["estimate"]["net"], "40.00");
    assert_eq!(meter(&view.body, "SMS")["estimate"]["net"], "2.00");
}

#[tokio::test]
async fn the_uploads_take_larger_bodies_than_other_routes_with_or_without_an_idempotency_key() {
    let w = world().await;
    let app = &w.app;
    let a = w.a.org_id.as_str();
    let at = w.on(3, 9).to_rfc3339_opts(SecondsFormat::Secs, true);

    // 200 events with properties are well over 64 KiB.
    let properties: serde_json::Map<String, Value> = (0..8)
        .map(|i| (format!("site-{i}"), json!("x".repeat(48))))
        .collect();
    let events: Vec<Value> = (0..200)
        .map(|i| {
            let mut e = event(
                &format!("bulk-event-{i:05}"),
                a,
                "TRAFFIC",
                json!("0.125"),
                w.on(3, 9),
            );
            e["properties"] = Value::Object(properties.clone());
            e
        })
        .collect();
    let body = serde_json::to_vec(&json!({"events": events})).expect("json");
    assert!(body.len() > kopek_http::json::MAX_BODY_BYTES);
    let request = |key: Option<&str>, content_type: &str, body: Vec<u8>, uri: &str| {
        let mut builder = axum::http::Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {}", w.engineer));
        if let Some(key) = key {
            builder = builder.header("idempotency-key", key);
        }
        builder
            .body(axum::body::Body::from(body))
            .expect("a request")
    };
    let key = format!("bulk-{}", unique());
    let first = app
        .send(request(
            Some(&key),
            "application/json",
            body.clone(),
            "/v1/usage",
        ))
        .await;
    first.assert_status(202);
    assert_eq!(first.body["queued"], 200);
    // The retry with the same key gets the same answer and queues nothing more.
    let replay = app
        .send(request(Some(&key), "application/json", body, "/v1/usage"))
        .await;
    assert_eq!((replay.status, &replay.body), (first.status, &first.body));
    assert_eq!(
        replay
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );

    // A CSV over 64 KiB is read whole; one over 5 MiB is not.
    let mut csv = String::from("id,customer,meter,quantity,timestamp\n");
    for i in 0..450 {
        csv.push_str(&format!(
            "csv-{i:06}-{},{a},TRAFFIC,0.5,{at}\n",
            "r".repeat(100)
        ));
    }
    assert!(csv.len() > kopek_http::json::MAX_BODY_BYTES);
    let csv_key = format!("csv-{}", unique());
    let posted = app
        .send(request(
            Some(&csv_key),
            "text/csv",
            csv.into_bytes(),
            "/v1/usage/csv",
        ))
        .await;
    posted.assert_status(202);
    assert_eq!(posted.body["queued"], 450);
    let too_big = vec![b'x'; kopek_api::usage::MAX_CSV_BYTES + 1];
    for key in [None, Some(format!("big-{}", unique()))] {
        app.send(request(
            key.as_deref(),
            "text/csv",
            too_big.clone(),
            "/v1/usage/csv",
        ))
        .await
        .assert_problem(413, "payload_too_large");
    }
    let too_many = vec![b' '; kopek_api::usage::MAX_EVENTS_BODY_BYTES + 1];
    app.send(request(None, "application/json", too_many, "/v1/usage"))
        .await
        .assert_problem(413, "payload_too_large");

    // Every other route keeps its 64 KiB, with a key or without.
    let mut big = serde_json::to_vec(&json!({"org_id": a, "external_ref": "crm:1"})).expect("json");
    big.resize(kopek_http::json::MAX_BODY_BYTES + 1, b' ');
    for key in [None, Some(format!("ref-{}", unique()))] {
        let mut req = request(
            key.as_deref(),
            "application/json",
            big.clone(),
            "/v1/usage/external-refs",
        );
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", w.admin).parse().expect("a header"),
        );
        app.send(req).await.assert_problem(413, "payload_too_large");
    }

    let report = app.drain_usage().await;
    assert_eq!(report.counted, 650);
    let view = app.get("/v1/usage", Some(&w.a.token)).await;
    // 200 × 0.125 + 450 × 0.5 = 250 GB: 100 × 2.00 + 150 × 1.50 = 425.00.
    assert_eq!(meter(&view.body, "TRAFFIC")["quantity"], "250");
    assert_eq!(meter(&view.body, "TRAFFIC")["estimate"]["net"], "425.00");
}
