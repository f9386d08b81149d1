//! Dunning on a controlled clock: a customer walked through the default policy — reminder,
//! due notice, overdue notice, orders blocked — each step once and e-mailed, the daily run
//! re-run on the same day changing nothing; a manager's hold lifting the block; paying
//! restoring the customer at once; bad input refused naming the field.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use kopek_domain::clock::FixedClock;
use kopek_tests::TestApp;
use serde_json::{Value, json};

use super::{current, service};
use crate::support::invoices;

async fn run(app: &TestApp, admin: &str) -> Value {
    let ran = app
        .post("/v1/billing/dunning/run", Some(admin), &json!({}))
        .await;
    ran.assert_status(200);
    ran.body
}

async fn order(app: &TestApp, token: &str) -> kopek_tests::TestResponse {
    let today = kopek_tests::emulator::calendar().date_of(app.state.services.now());
    app.post(
        "/v1/orders",
        Some(token),
        &json!({"lines": [{"service": "ROUTER-SETUP", "quantity": "1", "requested_date": today.to_string(),
                           "site": {"address": "Москва, ул. Тверская, 7", "area": "moscow-centre"}}]}),
    )
    .await
}

#[tokio::test]
async fn a_customer_is_reminded_chased_blocked_and_restored_by_paying() {
    let clock = Arc::new(FixedClock::at(Utc::now()));
    let app = TestApp::with_clock(clock.clone()).await;
    let admin = app.admin().await;
    service(&app, &admin).await;
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({"code": "ROUTER-SETUP", "name": {"ru": "Настройка роутера", "en": "Router setup"},
                "unit": "visit", "kind": "one_off", "work_type": "installation", "tax_rate": "20", "currency": "RUB",
                "price": {"currency": "RUB", "model": {"type": "flat", "amount": "3500.00"}}}),
    )
    .await
    .assert_status(201);
    let c = super::subscribed(&app, "Одуванчик").await;
    let me = app.get("/v1/me", Some(&c.token)).await;
    let email = me.body["organisation"]["billing_email"]
        .as_str()
        .unwrap()
        .to_owned();
    let invoice = invoices::issue_invoices(&app, current(), &[c.org_id.as_str()]).await;
    let issued = app
        .get(&format!("/v1/invoices/{}", invoice[0]), Some(&admin))
        .await;
    let due: chrono::NaiveDate = issued.body["due_on"].as_str().unwrap().parse().unwrap();
    let today = || kopek_tests::emulator::calendar().date_of(app.state.services.now());
    // Access tokens live 15 minutes on this clock too: everyone signs in again after a jump.
    let advance_to = |day: chrono::NaiveDate| {
        let by = day - today();
        clock.advance(by);
    };
    let staff = |role: &'static str| {
        let app = &app;
        async move { app.staff_with_role(role).await }
    };
    let dunning = |token: String| {
        let app = &app;
        let org = c.org_id.clone();
        async move {
            app.get(&format!("/v1/billing/dunning?org_id={org}"), Some(&token))
                .await
                .body
        }
    };
    let customer = || {
        let app = &app;
        let (email, password) = (c.email.clone(), c.password.clone());
        async move { app.sign_in(&email, &password).await }
    };

    // Nothing before the reminder horizon.
    assert_eq!(run(&app, &admin).await["notices"], 0);
    // Three days before the due date: the reminder, once.
    advance_to(due - TimeDelta::days(3));
    let admin = staff("admin").await;
    assert_eq!(run(&app, &admin).await["notices"], 1);
    assert_eq!(
        run(&app, &admin).await["changed"],
        0,
        "the same day again changes nothing"
    );
    let mails = app.mails_to(&email).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].0.contains("Напоминание"), "{mails:?}");
    // The due date, then a week late: a notice each.
    advance_to(due);
    run(&app, &staff("admin").await).await;
    advance_to(due + TimeDelta::days(7));
    run(&app, &staff("admin").await).await;
    assert_eq!(app.mails_to(&email).await.len(), 3);
    order(&app, &customer().await).await.assert_status(201);
    // Two weeks late: new orders are refused, saying why.
    advance_to(due + TimeDelta::days(14));
    let (admin, manager) = (staff("admin").await, staff("manager").await);
    let token = customer().await;
    let ran = run(&app, &admin).await;
    assert_eq!(ran["blocked"], 1, "{ran}");
    let refused = order(&app, &token).await;
    refused.assert_problem(409, "orders_blocked");
    let own = dunning(token.clone()).await;
    assert_eq!(own["episode"]["blocked"], true, "{own}");
    assert!(!own["explanation"].as_str().unwrap().is_empty());
    let steps: Vec<&str> = own["episode"]["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["reminder", "due_notice", "overdue_notice", "block_orders"]
    );

    // A manager's hold lifts the block; back under the policy, it holds again.
    let rev = own["rev"].as_u64().unwrap();
    let bad = app
        .send(TestApp::request(
            axum::http::Method::PUT,
            "/v1/billing/dunning",
            Some(&manager),
            Some(&json!({"org_id": c.org_id, "mode": "hold", "rev": rev})),
        ))
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.field(), "reason");
    app.send(TestApp::request(
        axum::http::Method::PUT,
        "/v1/billing/dunning",
        Some(&token),
        Some(&json!({"org_id": c.org_id, "mode": "off", "rev": rev})),
    ))
    .await
    .assert_status(403);
    let held = app
        .send(TestApp::request(axum::http::Method::PUT, "/v1/billing/dunning", Some(&manager),
            Some(&json!({"org_id": c.org_id, "mode": "hold", "reason": "Обещали оплатить до пятницы", "rev": rev}))))
        .await;
    held.assert_status(200);
    order(&app, &token).await.assert_status(201);
    let rev = held.body["rev"].as_u64().unwrap();
    app.send(TestApp::request(
        axum::http::Method::PUT,
        "/v1/billing/dunning",
        Some(&manager),
        Some(&json!({"org_id": c.org_id, "mode": "policy", "rev": rev})),
    ))
    .await
    .assert_status(200);
    order(&app, &token)
        .await
        .assert_problem(409, "orders_blocked");

    // A month late: service is suspended, and its work orders (two were placed before the
    // block and during the hold) wait in the queue: no engineer gets them.
    advance_to(due + TimeDelta::days(30));
    let ran = run(&app, &staff("admin").await).await;
    assert_eq!(ran["suspended"], 1, "{ran}");
    let take = |engineer: String| {
        let app = &app;
        async move {
            app.post(
                "/v1/work/batches",
                Some(&engineer),
                &json!({"work_type": "installation", "size": 10}),
            )
            .await
        }
    };
    take(staff("engineer").await)
        .await
        .assert_problem(409, "nothing_waiting");
    let (token, admin, manager, accountant) = (
        customer().await,
        staff("admin").await,
        staff("manager").await,
        staff("accountant").await,
    );

    // Paying what is overdue restores the customer at once, and tells it.
    let open = issued.body["open"].as_str().unwrap().to_owned();
    app.post(
        "/v1/billing/payments",
        Some(&accountant),
        &json!({"org_id": c.org_id, "amount": open, "currency": "RUB",
                "received_on": today().to_string(), "reference": "п/п 77"}),
    )
    .await
    .assert_status(201);
    let after = dunning(token.clone()).await;
    assert!(after["episode"].is_null(), "{after}");
    let taken = take(staff("engineer").await).await;
    taken.assert_status(201);
    assert_eq!(
        taken.body["work_orders"].as_array().map(Vec::len),
        Some(2),
        "{}",
        taken.body
    );
    order(&app, &token).await.assert_status(201);
    let last = app.mails_to(&email).await;
    assert!(
        last.iter()
            .any(|(subject, _)| subject.contains("возобновлен") || subject.contains("Приём")),
        "{last:?}"
    );
    assert_eq!(run(&app, &admin).await["changed"], 0);

    // A CRM heard each step, the suspension and the restore, in order.
    app.relay().await;
    let told = app
        .get(
            "/v1/events?types=dunning.step_reached,customer.suspended,customer.restored,invoice.overdue,invoice.paid",
            Some(&admin),
        )
        .await;
    told.assert_status(200);
    let types: Vec<&str> = told.body["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["org_id"] == c.org_id.as_str())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"dunning.step_reached"), "{types:?}");
    let suspended = types.iter().position(|t| *t == "customer.suspended");
    let restored = types.iter().position(|t| *t == "customer.restored");
    assert!(
        suspended.is_some() && suspended < restored,
        "suspended, then restored: {types:?}"
    );
    // The invoice was told overdue once, over all the runs, and then paid.
    let overdue = types.iter().filter(|t| **t == "invoice.overdue").count();
    assert_eq!(overdue, 1, "{types:?}");
    let (told, paid) = (
        types.iter().position(|t| *t == "invoice.overdue"),
        types.iter().position(|t| *t == "invoice.paid"),
    );
    assert!(
        paid.is_some() && told < paid,
        "overdue, then paid: {types:?}"
    );

    // The policy: staff read it, admins change it, errors name the field.
    let policy = app
        .get("/v1/billing/dunning-policy", Some(&accountant))
        .await;
    policy.assert_status(200);
    assert_eq!(policy.body["rev"], 0);
    let mut changed = policy.body["policy"].clone();
    changed["steps"][0]["offset_days"] = json!(5);
    let refused = app
        .send(TestApp::request(
            axum::http::Method::PUT,
            "/v1/billing/dunning-policy",
            Some(&admin),
            Some(&json!({"policy": changed, "rev": 0})),
        ))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field().starts_with("steps["), "{}", refused.body);
    app.send(TestApp::request(
        axum::http::Method::PUT,
        "/v1/billing/dunning-policy",
        Some(&manager),
        Some(&json!({"policy": policy.body["policy"], "rev": 0})),
    ))
    .await
    .assert_status(403);
    let saved = app
        .send(TestApp::request(
            axum::http::Method::PUT,
            "/v1/billing/dunning-policy",
            Some(&admin),
            Some(&json!({"policy": policy.body["policy"], "rev": 0})),
        ))
        .await;
    saved.assert_status(200);
    assert_eq!(saved.body["rev"], 1);
}

/// Suspension and late fees reach the invoices: a customer a month late under a policy that
/// charges late fees is suspended and charged the fee at once; paying restores it; the next
/// invoice bills the late fee and leaves the suspended days of its subscription out.
#[tokio::test]
async fn suspended_days_are_not_billed_and_a_late_fee_is_billed_next() {
    let clock = Arc::new(FixedClock::at(Utc::now()));
    let app = TestApp::with_clock(clock.clone()).await;
    let admin = app.admin().await;
    service(&app, &admin).await;
    let policy = app.get("/v1/billing/dunning-policy", Some(&admin)).await;
    let mut with_fee = policy.body["policy"].clone();
    with_fee["late_fee"] = json!({"enabled": true, "percent_per_day": "0.1", "cap_percent": "10"});
    app.send(TestApp::request(
        axum::http::Method::PUT,
        "/v1/billing/dunning-policy",
        Some(&admin),
        Some(&json!({"policy": with_fee, "rev": 0})),
    ))
    .await
    .assert_status(200);
    let c = super::subscribed(&app, "Колокольчик").await;
    let invoice = invoices::issue_invoices(&app, current(), &[c.org_id.as_str()]).await;
    let issued = app
        .get(&format!("/v1/invoices/{}", invoice[0]), Some(&admin))
        .await;
    let due: chrono::NaiveDate = issued.body["due_on"].as_str().unwrap().parse().unwrap();
    let open = super::decimal(&issued.body["open"]);
    let calendar = kopek_tests::emulator::calendar();
    let today = || calendar.date_of(app.state.services.now());

    // The run was down for a month: every step at once, the suspension and a late fee of
    // 0.1 % a day for 30 days among them.
    let suspended_on = due + TimeDelta::days(30);
    clock.advance(suspended_on - today());
    let admin = app.admin().await;
    let ran = run(&app, &admin).await;
    assert_eq!(
        (ran["suspended"].as_u64(), ran["late_fees"].as_u64()),
        (Some(1), Some(1)),
        "{ran}"
    );
    let fee = kopek_domain::money::Money::new(
        open * rust_decimal::Decimal::new(3, 2),
        kopek_domain::money::Currency::RUB,
    )
    .round_to_minor()
    .amount();
    let period = calendar.period_of_date(suspended_on);
    let charges = app
        .get(
            &format!("/v1/charges?org_id={}&period={period}", c.org_id),
            Some(&admin),
        )
        .await;
    charges.assert_status(200);
    let fees: Vec<&Value> = charges.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|ch| ch["service"] == "LATE-FEE")
        .collect();
    assert_eq!(fees.len(), 1, "{}", charges.body);
    assert_eq!(super::decimal(&fees[0]["net"]), fee);
    assert_eq!(fees[0]["source"]["type"], "late_fee");
    assert_eq!(run(&app, &admin).await["late_fees"], 0, "charged once");

    // Five days later the customer pays: restored at once, the five days kept.
    clock.advance(TimeDelta::days(5));
    let accountant = app.staff_with_role("accountant").await;
    app.post(
        "/v1/billing/payments",
        Some(&accountant),
        &json!({"org_id": c.org_id, "amount": open.to_string(), "currency": "RUB",
                "received_on": today().to_string(), "reference": "п/п 78"}),
    )
    .await
    .assert_status(201);
    let restored_on = today();
    let state = app
        .get(
            &format!("/v1/billing/dunning?org_id={}", c.org_id),
            Some(&accountant),
        )
        .await;
    assert_eq!(
        state.body["suspensions"],
        json!([{"from": suspended_on.to_string(), "until": restored_on.to_string()}]),
        "{}",
        state.body
    );

    // The invoice of that period: the subscription without the suspended days, the fee.
    let next = invoices::issue_invoices(&app, period, &[c.org_id.as_str()]).await;
    let next = app
        .get(&format!("/v1/invoices/{}", next[0]), Some(&accountant))
        .await;
    let lines = next.body["lines"].as_array().unwrap();
    let full = kopek_domain::money::Money::new(
        rust_decimal::Decimal::new(99000, 2),
        kopek_domain::money::Currency::RUB,
    );
    let prorate = |from, until| {
        kopek_domain::proration::prorate(full, period, from, until)
            .unwrap()
            .amount()
    };
    let expected =
        prorate(period.first_day(), suspended_on) + prorate(restored_on, period.end_exclusive());
    let subscription: Vec<&Value> = lines.iter().filter(|l| l["service"] == "VPS-S").collect();
    let billed: rust_decimal::Decimal =
        subscription.iter().map(|l| super::decimal(&l["net"])).sum();
    assert_eq!(billed, expected, "{}", next.body);
    for line in &subscription {
        let from: chrono::NaiveDate = line["from"].as_str().unwrap().parse().unwrap();
        let until: chrono::NaiveDate = line["until_exclusive"].as_str().unwrap().parse().unwrap();
        assert!(until <= suspended_on || from >= restored_on, "{line}");
    }
    let late: Vec<&Value> = lines
        .iter()
        .filter(|l| l["service"] == "LATE-FEE")
        .collect();
    assert_eq!(late.len(), 1, "{}", next.body);
    assert_eq!(
        super::decimal(&late[0]["gross"]),
        fee,
        "no VAT on a late fee"
    );
}
