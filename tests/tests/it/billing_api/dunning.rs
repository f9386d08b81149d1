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
