//! The statement of account through the API: the customer's own or any for staff, its
//! closing balance the ledger's, adjacent ranges chaining, CSV and XLSX files, bad input
//! refused naming the field.

use serde_json::json;

use super::{decimal, world};

#[tokio::test]
async fn the_statement_of_account_explains_the_balance_for_any_dates() {
    let w = world().await;
    let app = &w.app;
    let accountant = app.staff_with_role("accountant").await;
    let today = kopek_tests::emulator::calendar().date_of(app.state.services.now());
    let paid = app
        .post(
            "/v1/billing/payments",
            Some(&accountant),
            &json!({"org_id": w.a.org_id, "amount": "100.00", "currency": "RUB",
                    "received_on": today.to_string(), "reference": "п/п 5"}),
        )
        .await;
    paid.assert_status(201);
    let url = |query: &str| format!("/v1/billing/account-statement?{query}");
    let year = format!("from={}-01-01&to={today}", today.format("%Y"));

    // The customer reads its own without naming itself.
    let own = app.get(&url(&year), Some(&w.a.token)).await;
    own.assert_status(200);
    let rows = own.body["rows"].as_array().expect("rows").clone();
    let kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["invoice", "payment"], "{}", own.body);
    assert!(!rows[0]["lines"].as_array().unwrap().is_empty());
    assert_eq!(rows[1]["credit"], "100.00");
    let balance = app
        .get(
            &format!("/v1/billing/balance?org_id={}&on={today}", w.a.org_id),
            Some(&accountant),
        )
        .await;
    assert_eq!(
        own.body["closing"], balance.body["balance"],
        "the closing balance is the ledger's"
    );
    assert_eq!(own.body["by_service"][0]["service"], "VPS-S");

    // Staff name the customer; another customer cannot.
    let staff = app
        .get(
            &url(&format!("{year}&org_id={}", w.a.org_id)),
            Some(&accountant),
        )
        .await;
    assert_eq!(staff.body["closing"], own.body["closing"]);
    app.get(
        &url(&format!("{year}&org_id={}", w.a.org_id)),
        Some(&w.b.token),
    )
    .await
    .assert_status(404);

    // Two adjacent ranges chain: the first's closing is the second's opening.
    let yesterday = today.pred_opt().unwrap();
    let first = app
        .get(
            &url(&format!("from=2026-01-01&to={yesterday}")),
            Some(&w.a.token),
        )
        .await;
    let second = app
        .get(&url(&format!("from={today}&to={today}")), Some(&w.a.token))
        .await;
    assert_eq!(first.body["closing"], second.body["opening"]);
    let moved = decimal(&second.body["debit"]) - decimal(&second.body["credit"]);
    assert_eq!(
        decimal(&second.body["closing"]) - decimal(&second.body["opening"]),
        moved
    );

    // Files.
    let csv = app
        .get(
            &url(&format!("{year}&format=csv&language=en")),
            Some(&w.a.token),
        )
        .await;
    csv.assert_status(200);
    let text = String::from_utf8(csv.raw.clone()).expect("UTF-8");
    assert!(
        text.starts_with(
            "\u{feff}Date,Document,Number,Description,Debit,Credit,Balance,Line amount"
        ),
        "{text}"
    );
    assert!(text.contains("п/п 5"), "{text}");
    let ru = app
        .get(&url(&format!("{year}&format=csv")), Some(&w.a.token))
        .await;
    assert!(
        String::from_utf8(ru.raw.clone())
            .unwrap()
            .contains("Дата,Документ")
    );
    let xlsx = app
        .get(&url(&format!("{year}&format=xlsx")), Some(&w.a.token))
        .await;
    xlsx.assert_status(200);
    assert!(xlsx.raw.starts_with(b"PK"), "a ZIP, as XLSX files are");

    // Bad input names the field.
    for (query, field) in [
        (format!("{year}&format=pdf"), "format"),
        (format!("{year}&language=de"), "language"),
        (format!("from={today}&to=2026-01-01"), "from"),
        ("from=2000-01-01&to=2026-01-01".to_owned(), "to"),
    ] {
        let refused: kopek_tests::TestResponse = app.get(&url(&query), Some(&w.a.token)).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.field(), field, "{query}: {}", refused.body);
    }
}
