//! Rejected events: listed, and counted once when re-submitted after the catalog is fixed.

use super::{assert_refused, create_service, event, meter, metered, post_events, world};
use kopek_tests::str_at;
use serde_json::{Value, json};

#[tokio::test]
async fn a_rejected_event_is_listed_and_counts_once_resubmitted_after_the_catalog_is_fixed() {
    let w = world().await;
    let app = &w.app;
    let a = w.a.org_id.as_str();
    // The endpoint refuses an unknown meter; a producer writing to the queue directly gets
    // it rejected by the ingestion, and kept.
    let stray = event("n-1", a, "NEW-METER", json!("4"), w.on(3, 9));
    post_events(app, &w.engineer, std::slice::from_ref(&stray))
        .await
        .assert_problem(422, "unknown_meter");
    let other = event("n-2", a, "TRAFFIC", json!("-2"), w.on(3, 9));
    app.usage_queue()
        .send_events(&[stray.to_string(), other.to_string()])
        .await
        .expect("send");
    let report = app.drain_usage().await;
    assert_eq!((report.counted, report.rejected), (0, 2));

    // Listed newest first, one per page with a signed cursor.
    let page = app
        .get("/v1/usage/rejected?limit=1", Some(&w.engineer))
        .await;
    page.assert_status(200);
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
    let cursor = str_at(&page.body, "/next_cursor").to_owned();
    let next = app
        .get(
            &format!("/v1/usage/rejected?limit=1&cursor={cursor}"),
            Some(&w.engineer),
        )
        .await;
    next.assert_status(200);
    let mut items: Vec<Value> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(next.body["items"].as_array().unwrap())
        .cloned()
        .collect();
    items.sort_by_key(|i| i["event_id"].to_string());
    assert_eq!(items.len(), 2);
    let unknown = &items[0];
    assert_eq!(unknown["event_id"], "n-1");
    assert_eq!(unknown["reason"], "unknown_meter");
    assert_eq!(unknown["field"], "meter");
    assert_eq!(unknown["status"], "open");
    assert_eq!(unknown["meter"], "NEW-METER");
    let raw: Value = serde_json::from_str(str_at(unknown, "/raw")).expect("the event as sent");
    assert_eq!(raw["quantity"], "4");
    assert_eq!(items[1]["reason"], "bad_quantity");
    let id = str_at(unknown, "/id").to_owned();
    let one = app
        .get(&format!("/v1/usage/rejected/{id}"), Some(&w.engineer))
        .await;
    assert_eq!(&one.body, unknown);
    let resubmit = format!("/v1/usage/rejected/{id}/resubmit");

    // Before the fix it is still rejected, for the same reason, and stays open.
    let still = app.post(&resubmit, Some(&w.engineer), &json!({})).await;
    assert_refused(&still, "unknown_meter", "meter");
    // The meter is created; the re-submission counts the event.
    create_service(
        app,
        &w.admin,
        metered(
            "NEW-METER",
            "gigabyte",
            "20",
            "RUB",
            json!({"type": "per_unit", "unit_price": "3.00"}),
        ),
    )
    .await;
    let resolved = app.post(&resubmit, Some(&w.engineer), &json!({})).await;
    resolved.assert_status(200);
    assert_eq!(resolved.body["status"], "resolved");
    assert_eq!(resolved.body["event"]["id"], "n-1");
    assert_eq!(resolved.body["event"]["org_id"], a);
    assert_eq!(resolved.body["event"]["quantity"], "4");
    assert_eq!(resolved.body["event"]["late"], false);
    // Once only.
    app.post(&resubmit, Some(&w.engineer), &json!({}))
        .await
        .assert_problem(409, "not_open");
    let after = app
        .get(&format!("/v1/usage/rejected/{id}"), Some(&w.engineer))
        .await;
    assert_eq!(after.body["status"], "resolved");
    let view = app.get("/v1/usage", Some(&w.a.token)).await;
    let counted = meter(&view.body, "NEW-METER");
    assert_eq!(
        (counted["quantity"].as_str(), counted["events"].as_u64()),
        (Some("4"), Some(1))
    );
    assert_eq!(counted["estimate"]["net"], "12.00");
    // Health counts the rejection and the re-submission.
    let health = app.get("/v1/usage/health", Some(&w.admin)).await;
    let new_meter = health.body["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["meter"] == "NEW-METER")
        .cloned();
    assert_eq!(
        new_meter,
        Some(
            json!({"meter": "NEW-METER", "accepted": 1, "duplicate": 0, "rejected": 1, "late": 0})
        )
    );

    // Unknown and malformed ids are not found; the other still fails its own way.
    for missing in [
        format!("rej_{}", "0".repeat(32)),
        "rej_x".to_owned(),
        "nonsense".to_owned(),
    ] {
        app.get(&format!("/v1/usage/rejected/{missing}"), Some(&w.engineer))
            .await
            .assert_problem(404, "not_found");
        app.post(
            &format!("/v1/usage/rejected/{missing}/resubmit"),
            Some(&w.engineer),
            &json!({}),
        )
        .await
        .assert_problem(404, "not_found");
    }
    let negative = app
        .post(
            &format!("/v1/usage/rejected/{}/resubmit", str_at(&items[1], "/id")),
            Some(&w.admin),
            &json!({}),
        )
        .await;
    assert_refused(&negative, "bad_quantity", "quantity");
    // Another period's list is empty.
    let earlier = app
        .get(
            &format!("/v1/usage/rejected?period={}", w.period.previous()),
            Some(&w.engineer),
        )
        .await;
    assert_eq!(earlier.body["items"], json!([]));

    // Its CRM was told of each of the customer's rejections once: a redelivery of one and a
    // rejection that names no customer tell nothing.
    assert_eq!(unknown["org_id"], a);
    let nobody = event("n-3", "org_nobody", "TRAFFIC", json!("1"), w.on(3, 9));
    app.usage_queue()
        .send_events(&[other.to_string(), nobody.to_string()])
        .await
        .expect("send");
    assert_eq!(app.drain_usage().await.rejected, 2);
    app.relay().await;
    let told = app
        .get("/v1/events?types=usage.rejected", Some(&w.admin))
        .await;
    told.assert_status(200);
    let mut told: Vec<&Value> = told.body["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["org_id"] == a || e["data"]["event_id"] == "n-3")
        .collect();
    told.sort_by_key(|e| e["data"]["event_id"].to_string());
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(told[0]["data"]["rejected_id"], id.as_str());
    assert_eq!(told[0]["data"]["reason"], "unknown_meter");
    assert_eq!(told[0]["data"]["field"], "meter");
    assert_eq!(told[0]["data"]["meter"], "NEW-METER");
    assert_eq!(told[0]["data"]["actor"], "system");
    assert_eq!(told[1]["data"]["rejected_id"], items[1]["id"]);
    assert_eq!(told[1]["data"]["reason"], "bad_quantity");
    assert_eq!(told[1]["data"]["field"], "quantity");
}
