//! Usage over HTTP against the emulator: events posted as JSON and CSV are judged whole and
//! enqueued on the real `UsageQueue`, counted by the ingestion (the harness drains the queue
//! as `usage-ingest` does), and shown to the customer per meter and day with an estimate from
//! the price model; refusals name the event and its field and enqueue nothing; who may post
//! and read; rejected events and their re-submission; ingestion health; external references.

use std::sync::Arc;

use axum::http::Method;
use chrono::{DateTime, Datelike, Duration, SecondsFormat, TimeZone, Utc};
use kopek_domain::clock::FixedClock;
use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_tests::{Customer, TestApp, TestResponse, unique};
use rust_decimal::Decimal;
use serde_json::{Value, json};

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

fn str_of<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
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
    assert_eq!(traffic["total"], "260.005");
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
        json!({"price_version": 1, "subtotal": "440.0075", "total": "440.01", "tax_rate": "20",
            "tax": "88.00", "total_with_tax": "528.01", "currency": "RUB"})
    );
    // SMS: 1,234 × 0.05 = 61.70, exempt from VAT.
    let sms = meter(body, "SMS");
    assert_eq!(
        (sms["total"].as_str(), sms["events"].as_u64()),
        (Some("1234"), Some(2))
    );
    assert_eq!(sms["estimate"]["total"], "61.70");
    assert_eq!(sms["estimate"]["tax_rate"], "exempt");
    assert_eq!(dec(&sms["estimate"]["tax"]), Decimal::ZERO);
    assert_eq!(sms["estimate"]["total_with_tax"], "61.70");
    assert_eq!(
        body["estimated_total"],
        json!({"amount": "501.71", "currency": "RUB"})
    );
    assert_eq!(
        body["estimated_total_with_tax"],
        json!({"amount": "589.71", "currency": "RUB"})
    );

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
        (quiet.body["total"].as_str(), quiet.body["events"].as_u64()),
        (Some("0"), Some(0))
    );

    // B sees only its own 7 GB: 7 × 2.00 = 14.00.
    let b_view = app.get("/v1/usage", Some(&w.b.token)).await;
    assert_eq!(meter(&b_view.body, "TRAFFIC")["total"], "7");
    assert_eq!(meter(&b_view.body, "TRAFFIC")["estimate"]["total"], "14.00");

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

#[tokio::test]
async fn only_usage_writers_post_usage_and_customers_read_only_their_own() {
    let w = world().await;
    let app = &w.app;
    let (a, b) = (w.a.org_id.as_str(), w.b.org_id.as_str());
    let events = [event("e-1", a, "TRAFFIC", json!("5"), w.on(3, 9))];

    // Customers (users and keys) and staff without `usage:write` may not post.
    let customer_key = app
        .post(
            "/v1/api-keys",
            Some(&w.a.token),
            &json!({"name": "CRM", "scopes": ["orders:read"]}),
        )
        .await;
    customer_key.assert_status(201);
    let customer_key = str_of(&customer_key.body, "/token").to_owned();
    let manager = app.staff_with_role("manager").await;
    for token in [&w.a.token, &customer_key, &manager] {
        post_events(app, token, &events)
            .await
            .assert_problem(403, "forbidden");
        post_csv(app, token, "id,customer,meter,quantity,timestamp\n")
            .await
            .assert_problem(403, "forbidden");
        for uri in ["/v1/usage/health", "/v1/usage/rejected"] {
            app.get(uri, Some(token))
                .await
                .assert_problem(403, "forbidden");
        }
    }
    app.post("/v1/usage", None, &json!({"events": events}))
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(depth(app).await, (0, 0));

    // A staff key of the engineer role holding `usage:write` posts, as a producer would.
    let key = app
        .post(
            "/v1/api-keys",
            Some(&w.admin),
            &json!({"name": "Routers", "role": "engineer", "scopes": ["usage:write"]}),
        )
        .await;
    key.assert_status(201);
    let producer = str_of(&key.body, "/token").to_owned();
    post_events(app, &producer, &events)
        .await
        .assert_status(202);
    app.drain_usage().await;

    // A customer reads its own usage, by default or by naming itself; another's is 404,
    // exactly as an organisation that does not exist.
    let own = app.get("/v1/usage", Some(&w.a.token)).await;
    own.assert_status(200);
    assert_eq!(meter(&own.body, "TRAFFIC")["total"], "5");
    let named = app
        .get(&format!("/v1/usage?org_id={a}"), Some(&customer_key))
        .await;
    assert_eq!(named.body, own.body);
    let foreign = app
        .get(&format!("/v1/usage?org_id={a}"), Some(&w.b.token))
        .await;
    foreign.assert_problem(404, "not_found");
    let never = app
        .get(
            &format!("/v1/usage?org_id={}", OrgId::new()),
            Some(&w.b.token),
        )
        .await;
    assert_eq!(foreign.raw, never.raw);
    app.get(
        &format!("/v1/usage/meters/TRAFFIC?org_id={a}"),
        Some(&w.b.token),
    )
    .await
    .assert_problem(404, "not_found");

    // Staff read any organisation's, and must say which.
    let staff = app
        .get(&format!("/v1/usage?org_id={a}"), Some(&w.engineer))
        .await;
    assert_eq!(staff.body, own.body);
    let b_by_staff = app
        .get(&format!("/v1/usage?org_id={b}"), Some(&manager))
        .await;
    assert_eq!(b_by_staff.body["meters"], json!([]));
    let unnamed = app.get("/v1/usage", Some(&w.admin)).await;
    unnamed.assert_problem(400, "invalid_query");
    assert_eq!(unnamed.field(), "org_id");
    app.get(
        &format!("/v1/usage?org_id={}", OrgId::new()),
        Some(&w.admin),
    )
    .await
    .assert_problem(404, "not_found");
    for (query, field) in [
        ("period=2026-13", "period"),
        ("period=soon", "period"),
        ("org=x", "org"),
    ] {
        let response = app
            .get(&format!("/v1/usage?{query}"), Some(&w.a.token))
            .await;
        response.assert_problem(400, "invalid_query");
        assert_eq!(response.field(), field, "{query}");
    }
}

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
    assert_eq!(meter(&view.body, "TRAFFIC")["estimate"]["total"], "40.00");
    assert_eq!(meter(&view.body, "SMS")["estimate"]["total"], "2.00");
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
    assert_eq!(meter(&view.body, "TRAFFIC")["total"], "250");
    assert_eq!(meter(&view.body, "TRAFFIC")["estimate"]["total"], "425.00");
}

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
    let cursor = str_of(&page.body, "/next_cursor").to_owned();
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
    let raw: Value = serde_json::from_str(str_of(unknown, "/raw")).expect("the event as sent");
    assert_eq!(raw["quantity"], "4");
    assert_eq!(items[1]["reason"], "bad_quantity");
    let id = str_of(unknown, "/id").to_owned();
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
        (counted["total"].as_str(), counted["events"].as_u64()),
        (Some("4"), Some(1))
    );
    assert_eq!(counted["estimate"]["total"], "12.00");
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
            &format!("/v1/usage/rejected/{}/resubmit", str_of(&items[1], "/id")),
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
}

#[tokio::test]
async fn an_external_reference_is_unique_and_given_by_admins_and_managers_only() {
    let w = world().await;
    let app = &w.app;
    let (a, b) = (w.a.org_id.as_str(), w.b.org_id.as_str());
    let reference = format!("crm:{}", unique());
    let body = |org: &str, reference: &str| json!({"org_id": org, "external_ref": reference});

    let set = app
        .post(
            "/v1/usage/external-refs",
            Some(&w.admin),
            &body(a, &reference),
        )
        .await;
    set.assert_status(201);
    assert_eq!(set.body, body(a, &reference));
    // Again for the same customer: harmless. A manager may too.
    let manager = app.staff_with_role("manager").await;
    app.post(
        "/v1/usage/external-refs",
        Some(&manager),
        &body(a, &reference),
    )
    .await
    .assert_status(201);
    // Another customer cannot take it.
    let taken = app
        .post(
            "/v1/usage/external-refs",
            Some(&w.admin),
            &body(b, &reference),
        )
        .await;
    taken.assert_problem(409, "external_ref_taken");
    assert_eq!(taken.field(), "external_ref");
    // Customers and engineers may not give references, not even their own organisation's.
    for token in [&w.a.token, &w.engineer] {
        app.post(
            "/v1/usage/external-refs",
            Some(token),
            &body(a, &format!("crm:{}", unique())),
        )
        .await
        .assert_problem(403, "forbidden");
    }
    app.post(
        "/v1/usage/external-refs",
        Some(&w.admin),
        &body(&OrgId::new().to_string(), "crm:ghost"),
    )
    .await
    .assert_problem(404, "not_found");
    for (org, reference, field) in [
        ("org_nonsense", "crm:1", "org_id"),
        (a, "", "external_ref"),
        (a, "has space", "external_ref"),
        (a, b, "external_ref"),
    ] {
        let response = app
            .post(
                "/v1/usage/external-refs",
                Some(&w.admin),
                &body(org, reference),
            )
            .await;
        assert_refused(&response, "validation_failed", field);
    }

    // Producers name A by it.
    post_events(
        app,
        &w.engineer,
        &[event("r-1", &reference, "TRAFFIC", json!("2"), w.on(3, 9))],
    )
    .await
    .assert_status(202);
    app.drain_usage().await;
    let view = app.get("/v1/usage", Some(&w.a.token)).await;
    assert_eq!(meter(&view.body, "TRAFFIC")["total"], "2");
    let b_view = app.get("/v1/usage", Some(&w.b.token)).await;
    assert_eq!(b_view.body["meters"], json!([]));
}
