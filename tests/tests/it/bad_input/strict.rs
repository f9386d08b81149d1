//! Input taken strictly: an object only as an object, one grammar for dates and decimals, a
//! currency only as its ISO code, and sane bounds on what is ordered and paid. Each refusal
//! names the field and changes nothing; the same request written properly is then accepted,
//! so the refusal is about the field and nothing else.

use super::{Fixture, assert_invalid_field};
use chrono::{Days, Utc};
use kopek_tests::{TestResponse, unique};
use serde_json::{Value, json};

/// A one-off service ordered by the tests here; its code.
async fn one_off(f: &Fixture) -> String {
    let code = format!("CARTRIDGE-{}", unique());
    let body = json!({
        "code": code, "name": {"ru": "Доставка картриджа", "en": "Cartridge delivery"},
        "unit": "piece", "kind": "one_off", "work_type": "delivery", "tax_rate": "20",
        "currency": "RUB",
        "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "450.00"}}
    });
    f.app
        .post("/v1/catalog/services", Some(&f.admin), &body)
        .await
        .assert_status(201);
    code
}

fn order(code: &str, quantity: &str, requested_date: Value) -> Value {
    json!({
        "reference": "ref",
        "lines": [{
            "service": code, "quantity": quantity, "requested_date": requested_date,
            "note": null, "site": {"address": "addr", "area": null}
        }]
    })
}

async fn place(f: &Fixture, body: &Value) -> TestResponse {
    f.app
        .post("/v1/orders", Some(&f.customer.token), body)
        .await
}

#[tokio::test]
async fn an_order_written_as_arrays_is_refused_and_one_written_as_objects_is_placed() {
    let f = Fixture::start().await;
    let code = one_off(&f).await;
    let before = f.app.table_items().await;

    // The order a fuzzer placed: every object written as the array of its field values.
    let arrays = json!(["ref", [[code, "1", null, null, ["addr", null]]]]);
    assert_invalid_field(&place(&f, &arrays).await, "body", "an order as arrays");
    let nested = json!({"reference": "ref", "lines": [[code, "1", null, null, ["addr", null]]]});
    assert_invalid_field(&place(&f, &nested).await, "lines[0]", "a line as an array");
    let site = json!({"reference": "ref", "lines": [{"service": code, "quantity": "1", "site": ["addr", null]}]});
    assert_invalid_field(
        &place(&f, &site).await,
        "lines[0].site",
        "a site as an array",
    );
    // Every other JSON endpoint alike.
    for (uri, token, body) in f.endpoints() {
        let values: Vec<Value> = body
            .as_object()
            .expect("an object")
            .values()
            .cloned()
            .collect();
        let response = f
            .app
            .post(&uri, token.as_deref(), &Value::Array(values))
            .await;
        assert_invalid_field(&response, "body", &uri);
    }
    assert_eq!(f.app.table_items().await, before, "nothing written");

    place(&f, &order(&code, "1", Value::Null))
        .await
        .assert_status(201);
}

#[tokio::test]
async fn loose_dates_decimals_and_bounds_on_an_order_are_refused_naming_the_field() {
    let f = Fixture::start().await;
    let code = one_off(&f).await;
    let before = f.app.table_items().await;
    let soon = Utc::now().date_naive() + Days::new(3);
    let date = soon.format("%Y-%m-%d").to_string();

    for loose in [
        format!("+00{date}"),
        format!("{date} "),
        format!(" {date}"),
        format!("{date}T00:00:00Z"),
    ] {
        let response = place(&f, &order(&code, "1", json!(loose))).await;
        assert_invalid_field(&response, "lines[0].requested_date", &loose);
    }
    for loose in ["1E3", "1e3", "+1", " 1", "1 ", ".5", "01", "1,5"] {
        let response = place(&f, &order(&code, loose, Value::Null)).await;
        assert_invalid_field(&response, "lines[0].quantity", loose);
    }
    // A number is not a decimal string either.
    let number =
        json!({"lines": [{"service": code, "quantity": 1000, "site": {"address": "addr"}}]});
    assert_invalid_field(&place(&f, &number).await, "lines[0].quantity", "a number");
    // Over the bound of what one line orders: a million.
    let response = place(&f, &order(&code, "1000001", Value::Null)).await;
    assert_invalid_field(&response, "lines[0].quantity", "a million and one");
    assert!(
        response.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 1000000"),
        "{}",
        response.body
    );
    assert_eq!(f.app.table_items().await, before, "nothing written");

    place(&f, &order(&code, "2", json!(date)))
        .await
        .assert_status(201);
}

#[tokio::test]
async fn a_loose_or_unbounded_payment_is_refused_naming_the_field() {
    let f = Fixture::start().await;
    let accountant = f.app.staff_with_role("accountant").await;
    let payment = |amount: &str, currency: &str, received_on: &str| {
        json!({
            "org_id": f.customer.org_id, "amount": amount, "currency": currency,
            "received_on": received_on, "reference": format!("п/п {}", unique())
        })
    };
    let pay = |body: Value| {
        let (app, token) = (&f.app, accountant.clone());
        async move { app.post("/v1/billing/payments", Some(&token), &body).await }
    };
    let before = f.app.table_items().await;

    for (body, field) in [
        (payment("100.00", "rub", "2026-01-05"), "currency"),
        (payment("100.00", "Rub", "2026-01-05"), "currency"),
        (payment("100.00", "RUB", "2026-1-5"), "received_on"),
        (payment("100.00", "RUB", "+002026-01-05"), "received_on"),
        (payment("100.00", "RUB", "2026-01-05 "), "received_on"),
        (payment("1E3", "RUB", "2026-01-05"), "amount"),
        (
            payment("99999999999999999999.99", "RUB", "2026-01-05"),
            "amount",
        ),
        (payment("1000000000.01", "RUB", "2026-01-05"), "amount"),
    ] {
        let what = body.to_string();
        assert_invalid_field(&pay(body).await, field, &what);
    }
    assert_eq!(f.app.table_items().await, before, "nothing written");

    pay(payment("1000000000.00", "RUB", "2026-01-05"))
        .await
        .assert_status(201);
}

#[tokio::test]
async fn loose_dates_and_decimals_in_a_query_are_refused_naming_the_parameter() {
    let f = Fixture::start().await;
    let token = f.customer.token.clone();
    for on in ["2026-1-5", "%2B002026-01-05", "2026-01-05%20"] {
        let response = f
            .app
            .get(&format!("/v1/billing/balance?on={on}"), Some(&token))
            .await;
        response.assert_problem(400, "invalid_query");
        assert_eq!(response.field(), "on", "{on}: {}", response.body);
    }
    f.app
        .get("/v1/billing/balance?on=2026-01-05", Some(&token))
        .await
        .assert_status(200);

    let quote = format!("/v1/catalog/services/{}/quote", f.code);
    for quantity in ["1E3", "%2B5", "5%20"] {
        let response = f
            .app
            .get(&format!("{quote}?quantity={quantity}"), None)
            .await;
        response.assert_problem(400, "invalid_query");
        assert_eq!(
            response.field(),
            "quantity",
            "{quantity}: {}",
            response.body
        );
    }
    f.app
        .get(&format!("{quote}?quantity=1000"), None)
        .await
        .assert_status(200);
}
