//! A CRM keeps customers in sync by its own reference: `PUT /v1/customers/by-ref/{reference}`
//! creates, updates, or leaves alone; the currency is fixed by the first invoice; every
//! change is an `organisation.*` event in the feed; refusals change nothing.

use axum::http::Method;
use kopek_tests::{TestApp, inn, unique};
use serde_json::{Value, json};

fn record(tax_id: &str) -> Value {
    json!({
        "legal_name": "ООО «Ромашка»",
        "tax_id": tax_id,
        "kpp": null,
        "billing_email": "billing@romashka.example.ru",
        "billing_address": "101000, Москва, ул. Мясницкая, 1",
        "currency": "RUB",
        "language": "ru",
        "payment_terms_days": 14
    })
}

async fn put(
    app: &TestApp,
    token: &str,
    reference: &str,
    body: &Value,
) -> kopek_tests::TestResponse {
    app.send(TestApp::request(
        Method::PUT,
        &format!("/v1/customers/by-ref/{reference}"),
        Some(token),
        Some(body),
    ))
    .await
}

#[tokio::test]
async fn a_crm_creates_updates_and_repeats_a_customer_by_its_reference() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let reference = format!("crm-{}", unique());
    let tax_id = inn(unique());
    let created = put(&app, &admin, &reference, &record(&tax_id)).await;
    created.assert_status(201);
    assert_eq!(created.body["outcome"], "created");
    let org = created.body["organisation"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(created.body["organisation"]["payment_terms_days"], 14);

    // The same record again: nothing changes, nothing is written.
    let before = app.table_items().await;
    let again = put(&app, &admin, &reference, &record(&tax_id)).await;
    again.assert_status(200);
    assert_eq!(again.body["outcome"], "unchanged");
    assert_eq!(again.body["organisation"]["id"], org.as_str());
    assert_eq!(app.table_items().await, before, "a repeat wrote something");

    // A changed record: only what differs, named.
    let mut changed = record(&tax_id);
    changed["billing_email"] = json!("accounts@romashka.example.ru");
    changed["language"] = json!("en");
    let updated = put(&app, &admin, &reference, &changed).await;
    updated.assert_status(200);
    assert_eq!(updated.body["outcome"], "updated");
    assert_eq!(
        updated.body["changed"],
        json!(["billing_email", "language"])
    );
    assert_eq!(updated.body["organisation"]["id"], org.as_str());

    // Found by the reference, and the id works everywhere.
    let found = app
        .get(&format!("/v1/customers/by-ref/{reference}"), Some(&admin))
        .await;
    found.assert_status(200);
    assert_eq!(found.body["id"], org.as_str());
    assert_eq!(found.body["language"], "en");
    app.get(&format!("/v1/organisations/{org}"), Some(&admin))
        .await
        .assert_status(200);

    // Both changes are events of the feed, with the organisation's state.
    app.relay().await;
    let feed = app
        .get(
            "/v1/events?types=organisation.created,organisation.updated",
            Some(&admin),
        )
        .await;
    let ours: Vec<&Value> = feed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["org_id"] == org.as_str())
        .collect();
    assert_eq!(ours.len(), 2, "{}", feed.body);
    assert_eq!(ours[0]["type"], "organisation.created");
    assert_eq!(ours[0]["data"]["external_ref"], reference.as_str());
    assert_eq!(ours[1]["type"], "organisation.updated");
    assert_eq!(
        ours[1]["data"]["changed"],
        json!(["billing_email", "language"])
    );
    assert_eq!(
        ours[1]["data"]["billing_email"],
        "accounts@romashka.example.ru"
    );
}

#[tokio::test]
async fn the_currency_is_fixed_once_the_customer_is_invoiced() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let reference = format!("crm-{}", unique());
    let tax_id = inn(unique());
    let created = put(&app, &admin, &reference, &record(&tax_id)).await;
    let org = created.body["organisation"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    // Not invoiced yet: the currency may still change.
    let mut euros = record(&tax_id);
    euros["currency"] = json!("EUR");
    let changed = put(&app, &admin, &reference, &euros).await;
    changed.assert_status(200);
    assert_eq!(changed.body["changed"], json!(["currency"]));
    put(&app, &admin, &reference, &record(&tax_id))
        .await
        .assert_status(200);
    // Invoiced (a subscription started through a key the admin made for the customer, and
    // the period closed for it): refused, naming the field, and nothing of the record taken.
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": "CRM-FEE", "name": {"ru": "Абонентская плата", "en": "Fee"},
            "unit": "month", "kind": "recurring", "work_type": "fee", "cancellation": "immediately",
            "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "100.00"}}
        }),
    )
    .await
    .assert_status(201);
    let key = app
        .post(
            "/v1/api-keys",
            Some(&admin),
            &json!({"name": "CRM", "role": "customer", "scopes": ["orders:write"], "org_id": org}),
        )
        .await;
    key.assert_status(201);
    let key = key.body["token"].as_str().expect("a token").to_owned();
    let today = app.state.services.today();
    app.post(
        "/v1/subscriptions",
        Some(&key),
        &json!({"service": "CRM-FEE", "quantity": "1", "start_date": today.to_string()}),
    )
    .await
    .assert_status(201);
    let period = app
        .state
        .services
        .calendar()
        .period_of(app.state.services.now());
    crate::support::invoices::issue_invoices(&app, period, &[org.as_str()]).await;
    let mut refused = record(&tax_id);
    refused["currency"] = json!("EUR");
    refused["billing_email"] = json!("other@romashka.example.ru");
    let before = app.table_items().await;
    let answer = put(&app, &admin, &reference, &refused).await;
    answer.assert_problem(409, "currency_fixed");
    assert_eq!(answer.field(), "currency");
    assert_eq!(app.table_items().await, before);
}

#[tokio::test]
async fn bad_records_and_callers_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let customer = app.register("Чужой").await;
    let engineer = app.staff_with_role("engineer").await;
    let before = app.table_items().await;
    let tax_id = inn(unique());
    for (edit, status, field) in [
        (
            (|r: &mut Value| r["tax_id"] = json!("7707083890")) as fn(&mut Value),
            422,
            "tax_id",
        ),
        (
            |r| r["billing_email"] = json!("not-an-email"),
            422,
            "billing_email",
        ),
        (
            |r| r["payment_terms_days"] = json!(1000),
            422,
            "payment_terms_days",
        ),
        (|r| r["currency"] = json!("rub"), 422, "currency"),
        (|r| r["owner"] = json!("me"), 422, "owner"),
    ] {
        let mut body = record(&tax_id);
        edit(&mut body);
        let answer = put(&app, &admin, "crm-bad", &body).await;
        answer.assert_status(status);
        assert_eq!(answer.field(), field, "{}", answer.body);
    }
    // An organisation id is not a reference; nor is a reference too long.
    let org_ref = put(&app, &admin, &customer.org_id, &record(&tax_id)).await;
    org_ref.assert_status(400);
    assert_eq!(org_ref.field(), "reference");
    let long = put(&app, &admin, &"x".repeat(300), &record(&tax_id)).await;
    long.assert_status(400);
    assert_eq!(long.field(), "reference");
    // Customers and engineers may not; an unknown reference is not found.
    put(&app, &customer.token, "crm-1", &record(&tax_id))
        .await
        .assert_status(403);
    put(&app, &engineer, "crm-1", &record(&tax_id))
        .await
        .assert_status(403);
    app.get("/v1/customers/by-ref/crm-nobody", Some(&admin))
        .await
        .assert_status(404);
    assert_eq!(app.table_items().await, before, "a refusal wrote something");
}

#[tokio::test]
async fn a_customers_new_user_is_a_user_added_event_and_staff_are_not() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let customer = app.register("Коллеги").await;
    let invited = app
        .post(
            &format!("/v1/organisations/{}/users", customer.org_id),
            Some(&customer.token),
            &json!({"name": "Пётр Сидоров", "email": format!("petr{}@kollegi.example.ru", unique())}),
        )
        .await;
    invited.assert_status(201);
    app.post(
        "/v1/staff-users",
        Some(&admin),
        &json!({"name": "Инженер", "email": format!("eng{}@kopek.test", unique()), "role": "engineer"}),
    )
    .await
    .assert_status(201);
    app.relay().await;
    let feed = app.get("/v1/events?types=user.added", Some(&admin)).await;
    feed.assert_status(200);
    let added = feed.body["items"].as_array().expect("items");
    assert_eq!(added.len(), 1, "only the customer's user: {}", feed.body);
    assert_eq!(added[0]["org_id"], customer.org_id.as_str());
    assert_eq!(added[0]["data"]["name"], "Пётр Сидоров");
    assert_eq!(added[0]["data"]["role"], "customer");
    assert_eq!(added[0]["data"]["status"], "invited");
    assert_eq!(added[0]["data"]["actor"]["user"], customer.user_id.as_str());
}

#[tokio::test]
async fn every_route_that_takes_a_customer_in_its_query_takes_its_reference_too() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let reference = format!("crm-{}", unique());
    let created = put(&app, &admin, &reference, &record(&inn(unique()))).await;
    created.assert_status(201);
    let org = created.body["organisation"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    for path in [
        "/v1/charges",
        "/v1/invoices",
        "/v1/billing/balance",
        "/v1/billing/ledger",
        "/v1/audit-records",
    ] {
        let by_id = app.get(&format!("{path}?org_id={org}"), Some(&admin)).await;
        by_id.assert_status(200);
        let by_ref = app
            .get(&format!("{path}?org_id=ref:{reference}"), Some(&admin))
            .await;
        by_ref.assert_status(200);
        if path != "/v1/audit-records" {
            assert_eq!(by_ref.body, by_id.body, "{path}");
        }
        // An unknown reference is not found, as an unknown id is.
        app.get(&format!("{path}?org_id=ref:crm-nobody"), Some(&admin))
            .await
            .assert_problem(404, "not_found");
    }
    // In a body too: a payment recorded for the customer named by its reference.
    let accountant = app.staff_with_role("accountant").await;
    let paid = app
        .post(
            "/v1/billing/payments",
            Some(&accountant),
            &json!({"org_id": format!("ref:{reference}"), "amount": "100.00", "currency": "RUB",
                    "received_on": "2026-12-01", "reference": "п/п 5"}),
        )
        .await;
    paid.assert_status(201);
    let listed = app
        .get(
            &format!("/v1/billing/payments?org_id={org}"),
            Some(&accountant),
        )
        .await;
    listed.assert_status(200);
    assert!(listed.body.to_string().contains("п/п 5"), "{}", listed.body);
    app.post(
        "/v1/billing/payments",
        Some(&accountant),
        &json!({"org_id": "ref:crm-nobody", "amount": "1.00", "currency": "RUB",
                "received_on": "2026-12-01", "reference": "п/п 6"}),
    )
    .await
    .assert_problem(404, "not_found");

    // A customer's own user has no references to name (they are the CRM's, for staff).
    let customer = app.register("Лютик").await;
    app.get(
        &format!("/v1/invoices?org_id=ref:{reference}"),
        Some(&customer.token),
    )
    .await
    .assert_status(403);
}
