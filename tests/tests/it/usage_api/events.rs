//! Events posted as JSON: queued, counted once and shown per meter and day with an estimate;
//! a bad event anywhere refuses the whole request, naming it, and nothing is queued.

use super::{assert_refused, depth, event, meter, post_events, world};
use chrono::Duration;
use kopek_domain::ids::OrgId;
use kopek_tests::unique;
use rust_decimal::Decimal;
use serde_json::{Value, json};

#[tokio::test]
async fn posted_events_are_queued_counted_once_and_shown_per_meter_and_day_with_an_estimate() {
    let w = world().await;
    let app = &w.app;
    let (a, b) = (w.a.org_id.as_str(), w.b.org_id.as_str());

    // A's CRM names A by its own reference.
    let reference = format!("crm:{}", unique());
    app.post(
        "/v1/usage/external-refs",
        Some(&w.admin),
        &json!({"org_id": a, "external_ref": reference}),
    )
    .await
    .assert_status(201);
    // Last period is invoiced for A: an event of it is billed in this one, marked late.
    let last_period = w.period.previous();
    let a_id: OrgId = a.parse().expect("an org id");
    app.store
        .close_through(a_id, last_period)
        .await
        .expect("close the last period");
    let late_at = kopek_tests::emulator::calendar().start_of(last_period.last_day())
        + chrono::Duration::hours(10);

    let events = vec![
        event("t-1", a, "TRAFFIC", json!("60.5"), w.on(3, 9)),
        event("t-2", &reference, "TRAFFIC", json!(39.5), w.on(3, 17)),
        event("t-3", a, "TRAFFIC", json!("150.255"), w.on(10, 8)),
        event("t-4", a, "TRAFFIC", json!("9.75"), late_at),
        event("s-1", a, "SMS", json!(1200), w.on(5, 8)),
        event("s-2", &reference, "sms", json!("34"), w.on(6, 8)),
        event("t-1", b, "TRAFFIC", json!("7"), w.on(3, 9)),
    ];
    // A meter priced in dollars cannot be billed to A (invoiced in roubles): the whole post is
    // refused, naming the event, and nothing is queued.
    let mut with_dollars = events.clone();
    with_dollars.push(event("u-1", a, "USD-M", json!("3"), w.on(4, 8)));
    let refused = post_events(app, &w.engineer, &with_dollars).await;
    refused.assert_problem(422, "currency_mismatch");
    assert_eq!(refused.body["field"], "events[7].meter");
    assert_eq!(depth(app).await, (0, 0), "nothing queued");

    let posted = post_events(app, &w.engineer, &events).await;
    posted.assert_status(202);
    assert_eq!(posted.body, json!({"queued": 7, "messages": 1}));
    assert_eq!(depth(app).await, (1, 0), "one message waits on the queue");
    // Nothing is counted before the ingestion runs.
    let before = app.get("/v1/usage", Some(&w.a.token)).await;
    before.assert_status(200);
    assert_eq!(before.body["meters"], json!([]));

    let report = app.drain_usage().await;
    assert_eq!((report.counted, report.late, report.rejected), (7, 1, 0));
    assert!(report.failed.is_empty());
    assert_eq!(depth(app).await, (0, 0));

    let view = app.get("/v1/usage", Some(&w.a.token)).await;
    view.assert_status(200);
    let body = &view.body;
    assert_eq!(body["org_id"], a);
    assert_eq!(body["period"], w.period.to_string());
    let codes: Vec<&str> = body["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["meter"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["SMS", "TRAFFIC"]);

    // TRAFFIC: 60.5 + 39.5 + 150.255 + 9.75 (late) = 260.005 GB; graduated:
    // 100 × 2.00 + 160.005 × 1.50 = 440.0075 → 440.01; VAT 20 % = 88.002 → 88.00.
    let traffic = meter(body, "TRAFFIC");
    assert_eq!(traffic["name"]["en"], "Meter TRAFFIC");
    assert_eq!(traffic["unit"], "gigabyte");
    assert_eq!(traffic["quantity"], "260.005");
    assert_eq!(traffic["events"], 4);
    assert_eq!(traffic["late_events"], 1);
    assert_eq!(
        traffic["by_day"],
        json!([
            {"day": last_period.last_day().to_string(), "quantity": "9.75"},
            {"day": w.day(3), "quantity": "100"},
            {"day": w.day(10), "quantity": "150.255"},
        ])
    );
    assert_eq!(
        traffic["estimate"],
        json!({"price_version": 1, "subtotal_net": "440.0075", "net": "440.01", "tax_rate": "20",
            "tax": "88.00", "gross": "528.01", "currency": "RUB"})
    );
    // SMS: 1,234 × 0.05 = 61.70, exempt from VAT.
    let sms = meter(body, "SMS");
    assert_eq!(
        (sms["quantity"].as_str(), sms["events"].as_u64()),
        (Some("1234"), Some(2))
    );
    assert_eq!(sms["estimate"]["net"], "61.70");
    assert_eq!(sms["estimate"]["tax_rate"], "exempt");
    assert_eq!(dec(&sms["estimate"]["tax"]), Decimal::ZERO);
    assert_eq!(sms["estimate"]["gross"], "61.70");
    assert_eq!(body["currency"], "RUB");
    assert_eq!(body["estimated_net"], "501.71");
    assert_eq!(body["estimated_gross"], "589.71");

    // One meter alone shows the same; the meter's code is read as codes are.
    let one = app.get("/v1/usage/meters/traffic", Some(&w.a.token)).await;
    one.assert_status(200);
    assert_eq!(one.body["org_id"], a);
    assert_eq!(one.body["by_day"], traffic["by_day"]);
    assert_eq!(one.body["estimate"], traffic["estimate"]);
    for missing in ["NO-SUCH-METER", "ROUTER", "bad-code!"] {
        app.get(&format!("/v1/usage/meters/{missing}"), Some(&w.a.token))
            .await
            .assert_problem(404, "not_found");
    }
    // A meter without usage in the period shows zero.
    let quiet = app
        .get(
            &format!("/v1/usage/meters/TRAFFIC?period={last_period}"),
            Some(&w.a.token),
        )
        .await;
    quiet.assert_status(200);
    assert_eq!(
        (
            quiet.body["quantity"].as_str(),
            quiet.body["events"].as_u64()
        ),
        (Some("0"), Some(0))
    );

    // B sees only its own 7 GB: 7 × 2.00 = 14.00.
    let b_view = app.get("/v1/usage", Some(&w.b.token)).await;
    assert_eq!(meter(&b_view.body, "TRAFFIC")["quantity"], "7");
    assert_eq!(meter(&b_view.body, "TRAFFIC")["estimate"]["net"], "14.00");

    // The same events again (a producer's retry) count nothing more.
    post_events(app, &w.engineer, &events)
        .await
        .assert_status(202);
    let again = app.drain_usage().await;
    assert_eq!((again.counted, again.duplicates), (0, 7));
    assert_eq!(app.get("/v1/usage", Some(&w.a.token)).await.body, view.body);

    // Health: per meter, what this period received.
    let health = app.get("/v1/usage/health", Some(&w.engineer)).await;
    health.assert_status(200);
    assert_eq!(health.body["period"], w.period.to_string());
    assert_eq!(
        health.body["meters"],
        json!([
            {"meter": "SMS", "accepted": 2, "duplicate": 2, "rejected": 0, "late": 0},
            {"meter": "TRAFFIC", "accepted": 5, "duplicate": 5, "rejected": 0, "late": 1},
        ])
    );
    let earlier = app
        .get(
            &format!("/v1/usage/health?period={last_period}"),
            Some(&w.admin),
        )
        .await;
    assert_eq!(earlier.body["meters"], json!([]));
}

fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
}

#[tokio::test]
async fn a_bad_event_anywhere_refuses_the_whole_request_naming_it_and_nothing_is_queued() {
    let w = world().await;
    let app = &w.app;
    let a = w.a.org_id.as_str();
    let good = |id: &str| event(id, a, "TRAFFIC", json!("1"), w.on(3, 9));
    let with = |key: &str, value: Value| {
        let mut e = good("x");
        e[key] = value;
        e
    };
    // (the bad event, its index among good ones, the reason, the field at fault)
    let mut cases: Vec<(Value, usize, &str, &str)> = [
        ("meter", json!("NO-SUCH"), 2, "unknown_meter"),
        ("meter", json!("ROUTER"), 1, "not_metered"),
        (
            "customer",
            json!(OrgId::new().to_string()),
            1,
            "unknown_customer",
        ),
        ("customer", json!("crm:nobody"), 0, "unknown_customer"),
        ("quantity", json!("-1"), 1, "bad_quantity"),
        // 10^13 is beyond any quantity, as a string or a number.
        ("quantity", json!("10000000000000"), 0, "bad_quantity"),
        ("quantity", json!(10_000_000_000_000_u64), 2, "bad_quantity"),
        ("quantity", json!("1,5"), 1, "bad_quantity"),
        (
            "timestamp",
            json!((w.now + Duration::hours(1)).to_rfc3339()),
            1,
            "future_timestamp",
        ),
        (
            "timestamp",
            // A day past the grace window (45 days for monthly periods).
            json!(
                (w.now
                    - Duration::from_std(app.state.services.settings().usage_grace)
                        .expect("a grace window")
                    - Duration::days(1))
                .to_rfc3339()
            ),
            1,
            "too_old",
        ),
        ("timestamp", json!("yesterday"), 1, "invalid_field"),
        ("id", json!("has space"), 1, "invalid_field"),
        ("quantity", json!(true), 1, "malformed"),
        ("id", json!(17), 1, "malformed"),
        ("colour", json!("red"), 2, "malformed"),
    ]
    .into_iter()
    .map(|(key, value, index, code)| (with(key, value), index, code, key))
    .collect();
    let mut whole_sms = with("meter", json!("SMS"));
    whole_sms["quantity"] = json!("1.5");
    let mut no_meter = good("x");
    no_meter.as_object_mut().expect("an object").remove("meter");
    cases.extend([
        (whole_sms, 1, "bad_quantity", "quantity"),
        (no_meter, 1, "malformed", "meter"),
        (json!("an event"), 1, "malformed", ""),
    ]);
    let before = app.table_items().await;
    for (bad, index, code, field) in cases {
        let mut events = vec![good("g-0"), good("g-1"), good("g-2")];
        events[index] = bad.clone();
        let response = post_events(app, &w.engineer, &events).await;
        let expected = if field.is_empty() {
            format!("events[{index}]")
        } else {
            format!("events[{index}].{field}")
        };
        assert_eq!(response.status.as_u16(), 422, "{bad}: {}", response.body);
        assert_refused(&response, code, &expected);
    }

    // The same id twice in one request: the second is named.
    let response = post_events(app, &w.engineer, &[good("d-1"), good("d-2"), good("d-1")]).await;
    assert_refused(&response, "duplicate_id", "events[2].id");
    // None, too many, not a list, an unknown field of the request.
    for (body, field) in [
        (json!({"events": []}), "events"),
        (
            json!({"events": (0..1001).map(|i| good(&format!("e-{i}"))).collect::<Vec<_>>()}),
            "events",
        ),
        (json!({"events": good("x")}), "events"),
        (json!({"events": [good("x")], "dry_run": true}), "dry_run"),
        (json!({}), "events"),
    ] {
        let response = app.post("/v1/usage", Some(&w.engineer), &body).await;
        assert_refused(&response, "validation_failed", field);
    }
    // Not JSON at all.
    let response = app
        .post_raw(
            "/v1/usage",
            Some(&w.engineer),
            "application/json",
            "{\"events\": [",
        )
        .await;
    response.assert_problem(400, "malformed_json");
    let response = app
        .post_raw("/v1/usage", Some(&w.engineer), "text/plain", "{}")
        .await;
    response.assert_problem(415, "unsupported_media_type");

    assert_eq!(depth(app).await, (0, 0), "nothing was queued");
    assert_eq!(app.table_items().await, before, "nothing was written");
    // The good events alone go through.
    post_events(app, &w.engineer, &[good("g-0"), good("g-1")])
        .await
        .assert_status(202);
    assert_eq!(depth(app).await, (1, 0));
}
