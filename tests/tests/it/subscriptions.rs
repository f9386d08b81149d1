//! Subscriptions through the HTTP API against the emulator: start, change quantity, switch
//! service, cancel under each policy, prorated fees, refusals that store nothing, and another
//! customer's subscription.

use chrono::{Datelike, NaiveDate};
use kopek_domain::period::BillingPeriod;
use kopek_tests::expected::prorated;
use kopek_tests::{Customer, TestApp, unique};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

struct World {
    app: TestApp,
    admin: String,
    customer: Customer,
    other: Customer,
}

async fn service(
    app: &TestApp,
    admin: &str,
    code: &str,
    price: &str,
    work_type: &str,
    cancellation: &str,
) {
    app.post(
        "/v1/catalog/services",
        Some(admin),
        &json!({
            "code": code, "name": {"ru": format!("Сервер {code}"), "en": format!("Server {code}")},
            "unit": "month", "kind": "recurring", "work_type": work_type, "cancellation": cancellation,
            "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": price}}
        }),
    )
    .await
    .assert_status(201);
}

async fn world() -> World {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    service(&app, &admin, "VPS-S", "990.00", "vps", "end_of_period").await;
    service(&app, &admin, "VPS-M", "1990.00", "vps", "end_of_period").await;
    service(&app, &admin, "BACKUP", "300.00", "backup", "immediately").await;
    let customer = app.register(&format!("Ромашка {}", unique())).await;
    let other = app.register(&format!("Лютик {}", unique())).await;
    World {
        app,
        admin,
        customer,
        other,
    }
}

/// An amount in the one wire form: a string with exactly two places.
fn money(v: &Value) -> Decimal {
    let text = v.as_str().expect("an amount");
    assert!(
        text.split_once('.')
            .is_some_and(|(_, places)| places.len() == 2),
        "{text:?} is not in minor units"
    );
    Decimal::from_str(text).expect("a decimal")
}

fn next_period() -> BillingPeriod {
    kopek_tests::emulator::current_period().next()
}

fn day(period: BillingPeriod, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(period.year(), period.month(), d).unwrap()
}

#[tokio::test]
async fn a_mid_period_change_is_prorated_by_day_and_the_parts_follow_the_rule() {
    let w = world().await;
    let app = &w.app;
    let period = next_period();
    let started = app
        .post(
            "/v1/subscriptions",
            Some(&w.customer.token),
            &json!({"service": "VPS-S", "quantity": "1", "start_date": day(period, 1)}),
        )
        .await;
    started.assert_status(201);
    assert_eq!(started.body["status"], "scheduled");
    let id = started.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/subscriptions/{id}");

    // The whole of next month at one quantity costs exactly the full price.
    let whole = app
        .get(&format!("{path}?period={period}"), Some(&w.customer.token))
        .await;
    whole.assert_status(200);
    assert_eq!(
        money(&whole.body["current_period"]["total_net"]),
        Decimal::from_str("990.00").unwrap()
    );

    // Two servers from the 11th: the 10 days at 1 and the rest at 2, each by its days' shares.
    app.post(
        &format!("{path}/change"),
        Some(&w.customer.token),
        &json!({"quantity": "2", "effective_date": day(period, 11)}),
    )
    .await
    .assert_status(200);
    let changed = app
        .get(&format!("{path}?period={period}"), Some(&w.customer.token))
        .await;
    let parts = changed.body["current_period"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    // Worked out by the rule, not by the code: the month's price in kopecks split into one
    // share per day, the left-over kopecks to the earliest days.
    let price = |s: &str| Decimal::from_str(s).unwrap();
    let first = prorated(price("990.00"), period, day(period, 1), day(period, 11));
    let rest = prorated(
        price("1980.00"),
        period,
        day(period, 11),
        period.end_exclusive(),
    );
    assert_eq!(money(&parts[0]["net"]), first);
    assert_eq!(parts[0]["days"], 10);
    assert_eq!(money(&parts[1]["net"]), rest);
    assert_eq!(parts[1]["days"], period.days() - 10);
    assert_eq!(
        money(&changed.body["current_period"]["total_net"]),
        first + rest
    );
    // The same split of one price adds up to the whole month the API priced above.
    let other_part = prorated(
        price("990.00"),
        period,
        day(period, 11),
        period.end_exclusive(),
    );
    assert_eq!(
        first + other_part,
        money(&whole.body["current_period"]["total_net"])
    );

    // Switch to the bigger server of the same work type from the 21st.
    let switched = app
        .post(
            &format!("{path}/change"),
            Some(&w.customer.token),
            &json!({"service": "VPS-M", "effective_date": day(period, 21)}),
        )
        .await;
    switched.assert_status(200);
    let segments = switched.body["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[2]["service"], "VPS-M");
    assert_eq!(segments[2]["quantity"], "2", "a switch keeps the quantity");

    // Another work type cannot be switched to.
    app.post(
        &format!("{path}/change"),
        Some(&w.customer.token),
        &json!({"service": "BACKUP", "effective_date": day(period, 25)}),
    )
    .await
    .assert_problem(422, "validation_failed");

    // Cancelled at the end of the period in which it is cancelled (today's): it never bills.
    let cancelled = app
        .post(
            &format!("{path}/cancel"),
            Some(&w.customer.token),
            &json!({}),
        )
        .await;
    cancelled.assert_status(200);
    app.post(
        &format!("{path}/cancel"),
        Some(&w.customer.token),
        &json!({}),
    )
    .await
    .assert_problem(409, "invalid_state");

    // The history records every step.
    let list = app.get("/v1/subscriptions", Some(&w.customer.token)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn cancellation_follows_the_services_policy() {
    let w = world().await;
    let app = &w.app;
    let today = kopek_tests::emulator::today();
    let token = w.customer.token.clone();
    let start = |code: &'static str| {
        let token = token.clone();
        async move {
            app.post(
                "/v1/subscriptions",
                Some(&token),
                &json!({"service": code, "quantity": "1"}),
            )
            .await
        }
    };
    let vps = start("VPS-S").await;
    vps.assert_status(201);
    assert_eq!(vps.body["status"], "active");
    let backup = start("BACKUP").await;
    backup.assert_status(201);

    let end_of_period = app
        .post(
            &format!(
                "/v1/subscriptions/{}/cancel",
                vps.body["id"].as_str().unwrap()
            ),
            Some(&w.customer.token),
            &json!({}),
        )
        .await;
    end_of_period.assert_status(200);
    assert_eq!(end_of_period.body["status"], "cancelling");
    assert_eq!(
        end_of_period.body["ends_on"],
        kopek_tests::emulator::calendar()
            .period_of_date(today)
            .end_exclusive()
            .to_string()
    );

    let immediately = app
        .post(
            &format!(
                "/v1/subscriptions/{}/cancel",
                backup.body["id"].as_str().unwrap()
            ),
            Some(&w.customer.token),
            &json!({}),
        )
        .await;
    immediately.assert_status(200);
    assert_eq!(
        immediately.body["ends_on"],
        today.succ_opt().unwrap().to_string()
    );
    // Billed for the days from its start up to and including today.
    let parts = immediately.body["current_period"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["days"], 1);
    let _ = today.day();
}

#[tokio::test]
async fn bad_subscriptions_are_refused_naming_the_field_and_nothing_is_stored() {
    let w = world().await;
    let app = &w.app;
    let admin = &w.admin;
    app.post(
        "/v1/catalog/services",
        Some(admin),
        &json!({
            "code": "INSTALL", "name": {"ru": "Монтаж", "en": "Installation"},
            "unit": "piece", "kind": "one_off", "work_type": "install", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "flat", "amount": "500.00"}}
        }),
    )
    .await
    .assert_status(201);
    let yesterday = kopek_tests::emulator::today()
        .pred_opt()
        .unwrap()
        .to_string();
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"service": "NOPE", "quantity": "1"}), 422, "service"),
        (
            json!({"service": "INSTALL", "quantity": "1"}),
            422,
            "service",
        ),
        (
            json!({"service": "VPS-S", "quantity": "0"}),
            422,
            "quantity",
        ),
        (
            json!({"service": "VPS-S", "quantity": "1.5"}),
            422,
            "quantity",
        ),
        (json!({"service": "VPS-S", "quantity": 1}), 422, "quantity"),
        (
            json!({"service": "VPS-S", "quantity": "1", "start_date": yesterday}),
            422,
            "from",
        ),
        (
            json!({"service": "VPS-S", "quantity": "1", "discount": "5"}),
            422,
            "discount",
        ),
    ];
    let before = app.table_items().await;
    for (body, status, field) in cases {
        let response = app
            .post("/v1/subscriptions", Some(&w.customer.token), &body)
            .await;
        assert_eq!(
            response.status.as_u16(),
            status,
            "{body}: {}",
            response.body
        );
        assert_eq!(response.content_type(), "application/problem+json");
        assert!(
            response.field().starts_with(field),
            "{body}: {}",
            response.body
        );
    }
    assert_eq!(app.table_items().await, before);
}

#[tokio::test]
async fn another_customers_subscription_is_not_found() {
    let w = world().await;
    let app = &w.app;
    let started = app
        .post(
            "/v1/subscriptions",
            Some(&w.customer.token),
            &json!({"service": "VPS-S", "quantity": "1"}),
        )
        .await;
    let id = started.body["id"].as_str().unwrap().to_owned();
    let before = app.table_items().await;
    app.get(&format!("/v1/subscriptions/{id}"), Some(&w.other.token))
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("/v1/subscriptions/{id}/change"),
        Some(&w.other.token),
        &json!({"quantity": "5"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/v1/subscriptions/{id}/cancel"),
        Some(&w.other.token),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.table_items().await, before);
    assert_eq!(
        app.get("/v1/subscriptions", Some(&w.other.token))
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn a_start_a_change_and_a_cancellation_are_previewed_without_changing_anything() {
    let w = world().await;
    let (app, token) = (&w.app, &w.customer.token);
    let listed = || async { app.get("/v1/subscriptions", Some(token)).await.body["items"].clone() };

    // A start previewed: its fees shown, nothing started; refused like the start itself.
    let would = app
        .post(
            "/v1/subscriptions/preview",
            Some(token),
            &json!({"service": "VPS-S", "quantity": "2"}),
        )
        .await;
    would.assert_status(200);
    assert!(
        money(&would.body["current_period"]["total_net"]) > Decimal::ZERO,
        "{}",
        would.body
    );
    assert_eq!(listed().await, json!([]));
    app.post(
        "/v1/subscriptions/preview",
        Some(token),
        &json!({"service": "VPS-S", "quantity": "0"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    let started = app
        .post(
            "/v1/subscriptions",
            Some(token),
            &json!({"service": "VPS-S", "quantity": "1"}),
        )
        .await;
    started.assert_status(201);
    let id = started.body["id"].as_str().unwrap().to_owned();
    let before = listed().await;

    // A change previewed: before and after, the stored subscription untouched.
    let effect = app
        .post(
            &format!("/v1/subscriptions/{id}/change/preview"),
            Some(token),
            &json!({"quantity": "3"}),
        )
        .await;
    effect.assert_status(200);
    let segments = |v: &Value| v["segments"].as_array().unwrap().len();
    assert_eq!(segments(&effect.body["before"]), 1);
    assert!(
        money(&effect.body["after"]["current_period"]["total_net"])
            >= money(&effect.body["before"]["current_period"]["total_net"]),
        "{}",
        effect.body
    );
    let cancel = app
        .post(
            &format!("/v1/subscriptions/{id}/cancel/preview"),
            Some(token),
            &json!({}),
        )
        .await;
    cancel.assert_status(200);
    assert!(
        cancel.body["after"]["ends_on"].is_string(),
        "{}",
        cancel.body
    );
    assert_eq!(listed().await, before, "previews change nothing");

    // Another organisation's subscription: not found.
    app.post(
        &format!("/v1/subscriptions/{id}/cancel/preview"),
        Some(&w.other.token),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    let _ = &w.admin;
}
