//! Who an invoice is between: the provider's requisites and the customer's details as they
//! were on the day it was issued, in the API as the documents will print them.

use kopek_tests::{TestApp, provider_requisites};
use serde_json::{Value, json};

use super::month::FEE;
use super::world::World;

async fn put_requisites(w: &World, body: Value) {
    let admin = w.app.admin().await;
    w.app
        .send(TestApp::request(
            axum::http::Method::PUT,
            "/v1/billing/requisites",
            Some(&admin),
            Some(&body),
        ))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn an_invoice_carries_its_seller_and_buyer_as_they_were_when_it_was_issued() {
    let w = World::new().await;
    let a = w.party("Ромашка").await;
    w.subscribe(&a, 1).await;
    put_requisites(&w, json!({"requisites": provider_requisites()})).await;
    let accountant = w.app.staff_with_role("accountant").await;
    let contract = json!({"number": "17/2026", "signed_on": "2026-01-12"});
    w.app
        .send(TestApp::request(
            axum::http::Method::PUT,
            &format!("/v1/organisations/{}/document-details", a.org),
            Some(&accountant),
            Some(&json!({"kpp": "770101001", "contract": contract})),
        ))
        .await
        .assert_status(200);
    w.month_ended();
    w.close(w.period).await;

    let token = w.token(&a).await;
    let path = format!("/v1/invoices/period/{}", w.period);
    let invoice = w.app.get(&path, Some(&token)).await;
    invoice.assert_status(200);
    assert_eq!(invoice.body["seller"], provider_requisites());
    let me = w.app.get("/v1/me", Some(&token)).await;
    let org = &me.body["organisation"];
    assert_eq!(
        invoice.body["buyer"],
        json!({"legal_name": org["legal_name"], "tax_id": org["tax_id"], "kpp": "770101001",
               "address": org["billing_address"], "language": org["language"],
               "contract": contract}),
        "{}",
        invoice.body
    );
    let fee = w
        .app
        .get(&format!("/v1/catalog/services/{FEE}"), None)
        .await;
    assert_eq!(
        invoice.body["lines"][0]["unit_okei_code"],
        fee.body["unit_okei_code"]
    );

    // The provider moves office after the invoice was issued: the invoice keeps the address
    // it was issued with.
    let mut moved = provider_requisites();
    moved["address"] = json!({"ru": "190000, Санкт-Петербург, Невский пр., 1", "en": "1 Nevsky Ave, Saint Petersburg 190000"});
    put_requisites(&w, json!({"requisites": moved, "rev": 1})).await;
    let again = w.app.get(&path, Some(&token)).await;
    assert_eq!(again.body["seller"], provider_requisites());
}

#[tokio::test]
async fn without_requisites_an_invoice_is_still_issued_and_says_it_has_no_seller() {
    let w = World::new().await;
    let a = w.party("Ромашка").await;
    w.subscribe(&a, 1).await;
    w.month_ended();
    w.close(w.period).await;
    let token = w.token(&a).await;
    let invoice = w
        .app
        .get(&format!("/v1/invoices/period/{}", w.period), Some(&token))
        .await;
    invoice.assert_status(200);
    assert_eq!(invoice.body["seller"], Value::Null);
    assert!(
        invoice.body["buyer"]["legal_name"].is_string(),
        "{}",
        invoice.body
    );
}
