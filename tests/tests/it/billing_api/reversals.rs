//! Payments taken back and refunds: a payment reversed reopens what it paid and withdraws its
//! credit, with a reversing ledger entry, and stays listed as reversed; a payment whose credit
//! paid a later invoice is refused until that invoice is credited; refunds are at most the
//! credit and recorded once per reference; customers may do neither.

use serde_json::{Value, json};

use super::{app, current, service, subscribed, world};
use crate::support::invoices;

async fn pay(
    app: &kopek_tests::TestApp,
    token: &str,
    org: &str,
    amount: &str,
    reference: &str,
) -> Value {
    let today = kopek_tests::emulator::calendar().date_of(app.state.services.now());
    let paid = app
        .post(
            "/v1/billing/payments",
            Some(token),
            &json!({"org_id": org, "amount": amount, "currency": "RUB",
                    "received_on": today.to_string(), "reference": reference}),
        )
        .await;
    paid.assert_status(201);
    paid.body
}

async fn balance(app: &kopek_tests::TestApp, token: &str, org: &str) -> Value {
    let got = app
        .get(&format!("/v1/billing/balance?org_id={org}"), Some(token))
        .await;
    got.assert_status(200);
    got.body
}

#[tokio::test]
async fn a_payment_taken_back_reopens_its_invoice_and_withdraws_its_credit() {
    let w = world().await;
    let app = &w.app;
    let accountant = app.staff_with_role("accountant").await;
    let invoice = app
        .get(&format!("/v1/invoices/{}", w.a_invoice), Some(&w.admin))
        .await;
    let gross = super::decimal(&invoice.body["gross"]);
    let before = balance(app, &accountant, &w.a.org_id).await;
    let paid = pay(
        app,
        &accountant,
        &w.a.org_id,
        &(gross + rust_decimal::Decimal::ONE_HUNDRED).to_string(),
        "п/п 1",
    )
    .await;
    let id = paid["id"].as_str().unwrap().to_owned();
    assert_eq!(paid["to_credit"], "100.00");

    let reverse = format!("/v1/billing/payments/{id}/reverse");
    // A customer may not; a reason is needed; nothing changes.
    app.post(&reverse, Some(&w.a.token), &json!({"reason": "x"}))
        .await
        .assert_status(403);
    let bad = app
        .post(&reverse, Some(&accountant), &json!({"reason": "  "}))
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.field(), "reason");
    app.post(
        &format!("/v1/billing/payments/pay_{}/reverse", "0".repeat(26)),
        Some(&accountant),
        &json!({"reason": "x"}),
    )
    .await
    .assert_status(404);

    let reversed = app
        .post(
            &reverse,
            Some(&accountant),
            &json!({"reason": "Зачислен не тому клиенту"}),
        )
        .await;
    reversed.assert_status(200);
    assert_eq!(
        reversed.body["reversed"]["reason"],
        "Зачислен не тому клиенту"
    );
    assert_eq!(reversed.body["reversed"]["from_credit"], "100.00");
    assert_eq!(
        reversed.body["reversed"]["reopened"][0]["invoice_id"],
        w.a_invoice.as_str()
    );
    let reopened = app
        .get(&format!("/v1/invoices/{}", w.a_invoice), Some(&w.admin))
        .await;
    assert_eq!(reopened.body["paid"], "0.00");
    assert_eq!(reopened.body["open"], invoice.body["open"]);
    let after = balance(app, &accountant, &w.a.org_id).await;
    assert_eq!(
        after["balance"], before["balance"],
        "the ledger is back where it was"
    );
    assert_eq!(after["credit"], "0.00");
    let listed = app
        .get(
            &format!("/v1/billing/payments?org_id={}", w.a.org_id),
            Some(&accountant),
        )
        .await;
    assert_eq!(
        listed.body["items"][0]["reversed"]["reason"],
        "Зачислен не тому клиенту"
    );

    let again = app
        .post(&reverse, Some(&accountant), &json!({"reason": "again"}))
        .await;
    again.assert_problem(422, "validation_failed");
    assert_eq!(again.field(), "payment");
}

#[tokio::test]
async fn credit_drawn_into_a_later_invoice_cannot_be_taken_back_and_refunds_stay_within_the_credit()
{
    let app = app().await;
    let admin = app.admin().await;
    let accountant = app.staff_with_role("accountant").await;
    service(&app, &admin).await;
    let c = subscribed(&app, "Василёк").await;
    let prepaid = pay(&app, &accountant, &c.org_id, "100000.00", "п/п 7").await;
    let invoice = invoices::issue_invoices(&app, current(), &[c.org_id.as_str()]).await;
    let issued = app
        .get(&format!("/v1/invoices/{}", invoice[0]), Some(&admin))
        .await;
    assert_eq!(
        issued.body["status"], "paid",
        "the credit paid it: {}",
        issued.body
    );

    let reverse = format!(
        "/v1/billing/payments/{}/reverse",
        prepaid["id"].as_str().unwrap()
    );
    let refused = app
        .post(&reverse, Some(&accountant), &json!({"reason": "ошибка"}))
        .await;
    refused.assert_problem(409, "credit_drawn");
    assert_eq!(refused.field(), "payment");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("credit those invoices first")
    );

    // Refunds: at most the credit, once per reference.
    let credit = super::decimal(&balance(&app, &accountant, &c.org_id).await["credit"]);
    let today = kopek_tests::emulator::calendar().date_of(app.state.services.now());
    let refund = |amount: String, reference: &str| {
        json!({"org_id": c.org_id, "amount": amount, "currency": "RUB", "paid_on": today.to_string(),
               "reference": reference, "reason": "Возврат переплаты"})
    };
    let too_much = app
        .post(
            "/v1/billing/refunds",
            Some(&accountant),
            &refund((credit + rust_decimal::Decimal::ONE).to_string(), "п/п 900"),
        )
        .await;
    too_much.assert_problem(422, "validation_failed");
    assert_eq!(too_much.field(), "amount");
    app.post(
        "/v1/billing/refunds",
        Some(&c.token),
        &refund("1.00".into(), "п/п 900"),
    )
    .await
    .assert_status(403);
    let sent = app
        .post(
            "/v1/billing/refunds",
            Some(&accountant),
            &refund("1000.00".into(), "п/п 900"),
        )
        .await;
    sent.assert_status(201);
    let replay = app
        .post(
            "/v1/billing/refunds",
            Some(&accountant),
            &refund("1000.00".into(), "п/п 900"),
        )
        .await;
    replay.assert_status(200);
    assert_eq!(replay.body["id"], sent.body["id"]);
    let other = app
        .post(
            "/v1/billing/refunds",
            Some(&accountant),
            &refund("999.00".into(), "п/п 900"),
        )
        .await;
    other.assert_problem(409, "conflict");
    let after = balance(&app, &accountant, &c.org_id).await;
    assert_eq!(
        super::decimal(&after["credit"]),
        credit - rust_decimal::Decimal::new(100000, 2)
    );
    let listed = app
        .get(
            &format!("/v1/billing/payments?org_id={}", c.org_id),
            Some(&c.token),
        )
        .await;
    assert_eq!(listed.body["refunds"].as_array().map(Vec::len), Some(1));

    // Once the invoice is credited in full, its draw goes back to the credit; but the refund
    // took 1,000.00 of it, so the payment still cannot be taken back whole — until another
    // payment makes the credit whole again.
    app.post(
        &format!("/v1/invoices/{}/credit-notes", invoice[0]),
        Some(&accountant),
        &json!({"reason": "Услуга не оказана"}),
    )
    .await
    .assert_status(201);
    let still = app
        .post(&reverse, Some(&accountant), &json!({"reason": "ошибка"}))
        .await;
    still.assert_problem(409, "credit_drawn");
    pay(&app, &accountant, &c.org_id, "1000.00", "п/п 8").await;
    let reversed = app
        .post(&reverse, Some(&accountant), &json!({"reason": "ошибка"}))
        .await;
    reversed.assert_status(200);
    let last = balance(&app, &accountant, &c.org_id).await;
    assert_eq!(last["credit"], "0.00", "{last}");
    assert_eq!(last["balance"], "0.00", "{last}");
}
