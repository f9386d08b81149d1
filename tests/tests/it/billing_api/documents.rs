//! Invoices and credit notes: one customer's out of another's reach, credit notes refused
//! naming the field and written whole when granted, staff listings.

use super::{assert_field, credit, current, decimal, world};
use kopek_domain::ids::{CreditNoteId, InvoiceId, OrgId};
use rust_decimal::Decimal;
use serde_json::{Value, json};

#[tokio::test]
async fn a_customer_reaches_its_own_invoices_credit_notes_and_balance_and_no_one_elses() {
    let w = world().await;
    let app = &w.app;
    let note = |invoice: String| {
        let admin = w.admin.clone();
        async move {
            let issued = credit(
                app,
                &admin,
                &invoice,
                json!({"reason": "Скидка", "lines": [{"line_no": 1, "gross": "1.00"}]}),
            )
            .await;
            issued.assert_status(201);
            issued.body["id"].as_str().expect("an id").to_owned()
        }
    };
    let a_note = note(w.a_invoice.clone()).await;
    let b_note = note(w.b_invoice.clone()).await;
    let period = current();

    // Its own.
    let own = app
        .get(&format!("/v1/invoices/{}", w.a_invoice), Some(&w.a.token))
        .await;
    own.assert_status(200);
    assert_eq!(own.body["org_id"], w.a.org_id.as_str());
    assert_eq!(own.body["status"], "issued");
    assert!(own.body["number"].as_str().unwrap().starts_with("KPK-"));
    assert_eq!(own.body["lines"][0]["source"]["type"], "subscription");
    assert_eq!(own.body["credit_notes"][0]["id"], a_note.as_str());
    assert_eq!(own.body["credited"], "1.00");
    let gross = decimal(&own.body["gross"]);
    assert_eq!(decimal(&own.body["open"]), gross - Decimal::ONE);
    app.get(&format!("/v1/credit-notes/{a_note}"), Some(&w.a.token))
        .await
        .assert_status(200);
    let by_period = app
        .get(&format!("/v1/invoices/period/{period}"), Some(&w.a.token))
        .await;
    by_period.assert_status(200);
    assert_eq!(by_period.body["id"], w.a_invoice.as_str());
    let listed = app.get("/v1/invoices", Some(&w.a.token)).await;
    listed.assert_status(200);
    let ids: Vec<&Value> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, [w.a_invoice.as_str()]);
    let balance = app.get("/v1/billing/balance", Some(&w.a.token)).await;
    balance.assert_status(200);
    assert_eq!(decimal(&balance.body["balance"]), gross - Decimal::ONE);
    assert_eq!(balance.body["entries"], 2);
    let ledger = app.get("/v1/billing/ledger", Some(&w.a.token)).await;
    ledger.assert_status(200);
    assert_eq!(ledger.body["items"].as_array().unwrap().len(), 2);

    // Another's: 404, byte for byte as for what never existed, and nothing written.
    let before = app.table_items().await;
    let never_org = OrgId::new().to_string();
    let pairs = [
        (
            format!("/v1/invoices/{}", w.b_invoice),
            format!("/v1/invoices/{}", InvoiceId::new()),
        ),
        (
            format!("/v1/credit-notes/{b_note}"),
            format!("/v1/credit-notes/{}", CreditNoteId::new()),
        ),
        (
            format!("/v1/billing/balance?org_id={}", w.b.org_id),
            format!("/v1/billing/balance?org_id={never_org}"),
        ),
        (
            format!("/v1/billing/ledger?org_id={}", w.b.org_id),
            format!("/v1/billing/ledger?org_id={never_org}"),
        ),
        (
            format!("/v1/invoices/period/{period}?org_id={}", w.b.org_id),
            format!("/v1/invoices/period/{period}?org_id={never_org}"),
        ),
        (
            format!("/v1/invoices?org_id={}", w.b.org_id),
            format!("/v1/invoices?org_id={never_org}"),
        ),
    ];
    for (foreign, never) in pairs {
        let response = app.get(&foreign, Some(&w.a.token)).await;
        response.assert_problem(404, "not_found");
        let unknown = app.get(&never, Some(&w.a.token)).await;
        assert_eq!(response.raw, unknown.raw, "{foreign}");
    }
    assert!(
        !String::from_utf8_lossy(
            &app.get(&format!("/v1/invoices/{}", w.b_invoice), Some(&w.a.token))
                .await
                .raw
        )
        .contains(&w.b.org_id)
    );
    assert_eq!(app.table_items().await, before);

    // Staff read both.
    let accountant = app.staff_with_role("accountant").await;
    app.get(&format!("/v1/invoices/{}", w.b_invoice), Some(&accountant))
        .await
        .assert_status(200);
    app.get(
        &format!("/v1/billing/balance?org_id={}", w.b.org_id),
        Some(&accountant),
    )
    .await
    .assert_status(200);
}

#[tokio::test]
async fn a_credit_note_takes_back_only_what_is_left_and_a_refusal_writes_nothing() {
    let w = world().await;
    let app = &w.app;
    let accountant = app.staff_with_role("accountant").await;
    let engineer = app.staff_with_role("engineer").await;
    let invoice = app
        .get(&format!("/v1/invoices/{}", w.a_invoice), Some(&w.admin))
        .await;
    invoice.assert_status(200);
    let gross = decimal(&invoice.body["gross"]);
    let line = decimal(&invoice.body["lines"][0]["gross"]);
    assert_eq!(invoice.body["lines"].as_array().unwrap().len(), 1);
    let over = (line + Decimal::new(1, 2)).to_string();

    let before = app.table_items().await;
    let refused = [
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "gross": over}]}),
            409,
            "conflict",
            "lines[0].gross",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 7}]}),
            422,
            "validation_failed",
            "lines[0].line_no",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "gross": "1.00"}, {"line_no": 1}]}),
            422,
            "validation_failed",
            "lines[1].line_no",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "gross": "0"}]}),
            422,
            "validation_failed",
            "lines[0].gross",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "gross": "1.001"}]}),
            422,
            "validation_failed",
            "lines[0].gross",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "gross": "много"}]}),
            422,
            "validation_failed",
            "lines[0].gross",
        ),
        (json!({"reason": "  "}), 422, "validation_failed", "reason"),
        (json!({"lines": []}), 422, "validation_failed", "reason"),
        (
            json!({"reason": "x", "note": "?"}),
            422,
            "validation_failed",
            "note",
        ),
    ];
    for (body, status, code, field) in refused {
        let response = credit(app, &accountant, &w.a_invoice, body.clone()).await;
        assert_eq!(response.field(), field, "{body}: {}", response.body);
        response.assert_problem(status, code);
    }
    for token in [w.a.token.as_str(), &engineer] {
        credit(app, token, &w.a_invoice, json!({"reason": "x"}))
            .await
            .assert_problem(403, "forbidden");
    }
    credit(
        app,
        &accountant,
        &InvoiceId::new().to_string(),
        json!({"reason": "x"}),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.table_items().await, before, "a refusal writes nothing");

    // Part of the line, then everything left.
    let year = chrono::Utc::now().format("%Y");
    let part = credit(
        app,
        &accountant,
        &w.a_invoice,
        json!({"reason": "Простой сервера", "lines": [{"line_no": 1, "gross": "10.00"}]}),
    )
    .await;
    part.assert_status(201);
    assert_eq!(part.body["number"], format!("KPK-CN-{year}-000001"));
    assert_eq!(part.body["gross"], "-10.00");
    assert_eq!(part.body["invoice_id"], w.a_invoice.as_str());
    assert_eq!(
        decimal(&part.body["net"]) + decimal(&part.body["tax"]),
        decimal(&part.body["gross"])
    );
    let read = app
        .get(&format!("/v1/invoices/{}", w.a_invoice), Some(&w.a.token))
        .await;
    assert_eq!(read.body["credited"], "10.00");
    assert_eq!(read.body["status"], "issued");

    let rest = credit(
        app,
        &w.admin,
        &w.a_invoice,
        json!({"reason": "Расторжение"}),
    )
    .await;
    rest.assert_status(201);
    assert_eq!(rest.body["number"], format!("KPK-CN-{year}-000002"));
    assert_eq!(decimal(&rest.body["gross"]), Decimal::TEN - gross);
    let read = app
        .get(&format!("/v1/invoices/{}", w.a_invoice), Some(&w.a.token))
        .await;
    assert_eq!(read.body["status"], "void");
    assert_eq!(read.body["open"], "0.00");
    assert_eq!(read.body["credit_notes"].as_array().unwrap().len(), 2);

    let before = app.table_items().await;
    let nothing_left = credit(app, &accountant, &w.a_invoice, json!({"reason": "x"})).await;
    assert_field(&nothing_left, 409, "conflict", "invoice");
    assert_eq!(app.table_items().await, before);

    // The ledger: the invoice and its two credit notes net to nothing.
    let balance = app
        .get(
            &format!("/v1/billing/balance?org_id={}", w.a.org_id),
            Some(&accountant),
        )
        .await;
    balance.assert_status(200);
    assert_eq!(balance.body["balance"], "0.00");
    assert_eq!(balance.body["entries"], 3);
    assert_eq!(balance.body["currency"], "RUB");
    let yesterday = kopek_tests::emulator::today()
        .pred_opt()
        .expect("a day before");
    let earlier = app
        .get(
            &format!("/v1/billing/balance?org_id={}&on={yesterday}", w.a.org_id),
            Some(&accountant),
        )
        .await;
    assert_eq!(earlier.body["balance"], "0.00");
    assert_eq!(earlier.body["entries"], 0);
    let bad_day = app
        .get(
            &format!("/v1/billing/balance?org_id={}&on=2026-02-30", w.a.org_id),
            Some(&accountant),
        )
        .await;
    assert_field(&bad_day, 400, "invalid_query", "on");
    let ledger = app
        .get(
            &format!("/v1/billing/ledger?org_id={}", w.a.org_id),
            Some(&accountant),
        )
        .await;
    let documents: Vec<&Value> = ledger.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["document"]["type"])
        .collect();
    assert_eq!(documents.len(), 3);
    assert_eq!(documents.iter().filter(|t| **t == "credit_note").count(), 2);
}

#[tokio::test]
async fn staff_list_invoices_by_period_or_organisation_and_by_status() {
    let w = world().await;
    let app = &w.app;
    let manager = app.staff_with_role("manager").await;
    let period = current();

    let unnamed = app.get("/v1/invoices", Some(&manager)).await;
    assert_field(&unnamed, 400, "invalid_query", "period");
    let of_period = app
        .get(&format!("/v1/invoices?period={period}"), Some(&manager))
        .await;
    of_period.assert_status(200);
    assert_eq!(of_period.body["items"].as_array().unwrap().len(), 2);
    let of_org = app
        .get(
            &format!("/v1/invoices?org_id={}", w.b.org_id),
            Some(&manager),
        )
        .await;
    assert_eq!(of_org.body["items"][0]["id"], w.b_invoice.as_str());
    assert_eq!(of_org.body["items"].as_array().unwrap().len(), 1);
    // Staff see whose each invoice is, by the customer's legal name.
    let b_org = app
        .get(&format!("/v1/organisations/{}", w.b.org_id), Some(&manager))
        .await;
    assert_eq!(
        of_org.body["items"][0]["customer"],
        b_org.body["legal_name"]
    );
    for item in of_period.body["items"].as_array().unwrap() {
        assert!(
            item["customer"]
                .as_str()
                .is_some_and(|n| n.starts_with("ООО «")),
            "{item}"
        );
    }

    // One page at a time.
    let first = app
        .get(
            &format!("/v1/invoices?period={period}&limit=1"),
            Some(&manager),
        )
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = app
        .get(
            &format!("/v1/invoices?period={period}&limit=1&cursor={cursor}"),
            Some(&manager),
        )
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_ne!(second.body["items"][0]["id"], first.body["items"][0]["id"]);

    // By status today, after B's invoice is credited in full.
    credit(app, &w.admin, &w.b_invoice, json!({"reason": "Ошибка"}))
        .await
        .assert_status(201);
    let ids_with = |status: &'static str| {
        let (app, manager) = (&app, &manager);
        async move {
            let page = app
                .get(
                    &format!("/v1/invoices?period={period}&status={status}"),
                    Some(manager),
                )
                .await;
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(ids_with("void").await, [w.b_invoice.as_str()]);
    assert_eq!(ids_with("issued").await, [w.a_invoice.as_str()]);
    for (query, field) in [
        ("status=draft", "status"),
        ("period=2026-13", "period"),
        ("period=2026-01&colour=red", "colour"),
    ] {
        let response = app
            .get(&format!("/v1/invoices?{query}"), Some(&manager))
            .await;
        assert_field(&response, 400, "invalid_query", field);
    }

    let of_a = app
        .get(
            &format!("/v1/invoices/period/{period}?org_id={}", w.a.org_id),
            Some(&manager),
        )
        .await;
    of_a.assert_status(200);
    assert_eq!(of_a.body["id"], w.a_invoice.as_str());
    app.get(
        &format!(
            "/v1/invoices/period/{}?org_id={}",
            period.previous(),
            w.a.org_id
        ),
        Some(&manager),
    )
    .await
    .assert_problem(404, "not_found");
    let unnamed = app
        .get(&format!("/v1/invoices/period/{period}"), Some(&manager))
        .await;
    assert_field(&unnamed, 400, "invalid_query", "org_id");
}
