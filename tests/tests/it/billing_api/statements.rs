//! Bank statements through the API: a 1CClientBankExchange file in windows-1251 uploaded by
//! an accountant, matched in the background (by invoice number, by INN only, a duplicate of
//! a payment recorded by hand, an unknown payer, a debit skipped), the report line by line,
//! the same file again all duplicates, the review list resolved, and bad input refused with
//! nothing recorded.

use kopek_tests::TestApp;
use serde_json::{Value, json};

use super::{World, decimal, world};

/// The provider's settlement account in `provider_requisites()`.
pub(crate) const OWN: &str = "40702810938000000001";

/// One payment document of a statement.
pub(crate) struct Doc<'a> {
    pub number: &'a str,
    pub amount: &'a str,
    pub payer_inn: &'a str,
    pub payer_account: &'a str,
    pub payee_account: &'a str,
    pub purpose: &'a str,
}

/// A 1CClientBankExchange file of `docs` on `day` (ДД.ММ.ГГГГ), in windows-1251, whose
/// balances add up when `adds_up`.
pub(crate) fn statement(
    day: &str,
    docs: &[Doc<'_>],
    opening: &str,
    credited: &str,
    debited: &str,
    closing: &str,
) -> Vec<u8> {
    let mut text = format!(
        "1CClientBankExchange\r\nВерсияФормата=1.03\r\nКодировка=Windows\r\nОтправитель=Бухгалтерия\r\n\
         ДатаНачала={day}\r\nДатаКонца={day}\r\nРасчСчет={OWN}\r\n\
         СекцияРасчСчет\r\nДатаНачала={day}\r\nДатаКонца={day}\r\nРасчСчет={OWN}\r\n\
         НачальныйОстаток={opening}\r\nВсегоПоступило={credited}\r\nВсегоСписано={debited}\r\n\
         КонечныйОстаток={closing}\r\nКонецРасчСчет\r\n"
    );
    for d in docs {
        text.push_str(&format!(
            "СекцияДокумент=Платежное поручение\r\nНомер={}\r\nДата={day}\r\nСумма={}\r\n\
             ПлательщикСчет={}\r\nПлательщик=Плательщик\r\nПлательщикИНН={}\r\n\
             ПолучательСчет={}\r\nПолучатель=ООО «Копек»\r\nПолучательИНН=7708123450\r\n\
             ДатаПоступило={day}\r\nНазначениеПлатежа={}\r\nКонецДокумента\r\n",
            d.number, d.amount, d.payer_account, d.payer_inn, d.payee_account, d.purpose
        ));
    }
    text.push_str("КонецФайла\r\n");
    encoding_rs::WINDOWS_1251.encode(&text).0.into_owned()
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> kopek_tests::TestResponse {
    app.post_raw(
        "/v1/billing/statements?file_name=%D0%B2%D1%8B%D0%BF%D0%B8%D1%81%D0%BA%D0%B0.txt",
        Some(token),
        "application/octet-stream",
        bytes,
    )
    .await
}

async fn report(app: &TestApp, token: &str, id: &str) -> Value {
    let got = app
        .get(&format!("/v1/billing/statements/{id}"), Some(token))
        .await;
    got.assert_status(200);
    got.body
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["number"].as_str().unwrap().to_owned(),
                l["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn tax_id(app: &TestApp, token: &str) -> String {
    let me = app.get("/v1/me", Some(token)).await;
    me.body["organisation"]["tax_id"]
        .as_str()
        .expect("tax id")
        .to_owned()
}

async fn invoice(w: &World, id: &str) -> Value {
    let got = w
        .app
        .get(&format!("/v1/invoices/{id}"), Some(&w.admin))
        .await;
    got.assert_status(200);
    got.body
}

async fn payments(w: &World, org: &str) -> Vec<Value> {
    let got = w
        .app
        .get(
            &format!("/v1/billing/payments?org_id={org}"),
            Some(&w.admin),
        )
        .await;
    got.assert_status(200);
    got.body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_statement_is_matched_reported_deduplicated_and_reviewed() {
    let w = world().await;
    let app = &w.app;
    let accountant = app.staff_with_role("accountant").await;
    let today = kopek_tests::emulator::calendar().date_of(app.state.services.now());
    let day = today.format("%d.%m.%Y").to_string();

    // Without requisites the provider has no account of its own: nothing is imported.
    let early = upload(
        app,
        &accountant,
        statement(&day, &[], "0.00", "0.00", "0.00", "0.00"),
    )
    .await;
    early.assert_problem(409, "no_own_accounts");
    app.save_requisites(&w.admin).await;

    let a_invoice = invoice(&w, &w.a_invoice).await;
    let a_gross = a_invoice["gross"].as_str().unwrap().to_owned();
    let a_number = a_invoice["number"].as_str().unwrap().to_owned();
    let (a_inn, b_inn) = (tax_id(app, &w.a.token).await, tax_id(app, &w.b.token).await);

    // Лютик's 100.00 recorded by hand before the statement arrives.
    app.post(
        "/v1/billing/payments",
        Some(&accountant),
        &json!({"org_id": w.b.org_id, "amount": "100.00", "currency": "RUB",
                "received_on": today.to_string(), "reference": "п/п 77"}),
    )
    .await
    .assert_status(201);

    let docs = [
        Doc {
            number: "501",
            amount: &a_gross,
            payer_inn: &a_inn,
            payer_account: "40702810500000000501",
            payee_account: OWN,
            purpose: &format!("Оплата по счёту № {a_number}, НДС включён"),
        },
        Doc {
            number: "64",
            amount: "50.00",
            payer_inn: &b_inn,
            payer_account: "40702810500000000064",
            payee_account: OWN,
            purpose: "За услуги хостинга",
        },
        Doc {
            number: "77",
            amount: "100.00",
            payer_inn: &b_inn,
            payer_account: "40702810500000000064",
            payee_account: OWN,
            purpose: "За услуги",
        },
        Doc {
            number: "9",
            amount: "15.00",
            payer_inn: "7707083893",
            payer_account: "40702810500000000009",
            payee_account: OWN,
            purpose: "Аванс",
        },
        Doc {
            number: "3",
            amount: "12.00",
            payer_inn: "7708123450",
            payer_account: OWN,
            payee_account: "40702810500000000333",
            purpose: "Комиссия банка",
        },
    ];
    let credited = decimal(&json!(a_gross)) + rust_decimal::Decimal::new(16500, 2);
    let file = statement(
        &day,
        &docs,
        "1000.00",
        &credited.to_string(),
        "12.00",
        &(rust_decimal::Decimal::new(98800, 2) + credited).to_string(),
    );
    let uploaded = upload(app, &accountant, file.clone()).await;
    uploaded.assert_status(202);
    let id = uploaded.body["id"]
        .as_str()
        .expect("an import id")
        .to_owned();
    assert_eq!(uploaded.body["file_name"], "выписка.txt");
    assert_eq!(uploaded.body["lines_read"], 5);
    assert_eq!(uploaded.body["payments"][0]["count"], 4);
    assert_eq!(uploaded.body["debits"][0]["total"], "12.00");
    assert_eq!(
        uploaded.body["balances"][0]["adds_up"], true,
        "{}",
        uploaded.body
    );
    assert_eq!(uploaded.body["balances"][0]["own"], true);

    app.drain_bank().await;
    let first = report(app, &accountant, &id).await;
    assert_eq!(first["status"], "done", "{first}");
    assert_eq!(
        statuses(&first),
        [
            ("501", "recorded"),
            ("64", "recorded"),
            ("77", "duplicate"),
            ("9", "review")
        ]
        .map(|(n, s)| (n.to_owned(), s.to_owned()))
    );
    let lines = first["lines"].as_array().unwrap();
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("pays exactly invoice"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["org_id"], w.a.org_id.as_str());
    assert!(
        lines[2]["reason"]
            .as_str()
            .unwrap()
            .contains("recorded by hand"),
        "{}",
        lines[2]
    );
    assert_eq!(first["outcomes"]["recorded"][0]["count"], 2);
    // Ромашка's invoice is paid by the line that named it; Лютик's has 150.00 paid.
    assert_eq!(invoice(&w, &w.a_invoice).await["status"], "paid");
    assert_eq!(invoice(&w, &w.b_invoice).await["paid"], "150.00");
    let a_payments = payments(&w, &w.a.org_id).await;
    assert_eq!(a_payments.len(), 1);
    assert_eq!(a_payments[0]["reference"], format!("п/п 501 от {day}"));
    // A CRM heard both matches, and that Ромашка's invoice is paid (Лютик's is not yet).
    app.relay().await;
    let told = app
        .get(
            "/v1/events?types=payment.matched,invoice.paid",
            Some(&w.admin),
        )
        .await;
    told.assert_status(200);
    let heard: Vec<(String, String)> = told.body["items"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["org_id"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let of = |org: &str, kind: &str| heard.iter().filter(|(o, k)| o == org && k == kind).count();
    assert_eq!(of(&w.a.org_id, "payment.matched"), 1, "{heard:?}");
    assert_eq!(of(&w.a.org_id, "invoice.paid"), 1, "{heard:?}");
    assert_eq!(of(&w.b.org_id, "payment.matched"), 1, "{heard:?}");
    assert_eq!(of(&w.b.org_id, "invoice.paid"), 0, "{heard:?}");
    let paid = told.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "invoice.paid")
        .unwrap();
    assert_eq!(paid["data"]["invoice_id"], w.a_invoice.as_str());

    // The same file again: every payment is a duplicate, and nothing more is recorded.
    let again = upload(app, &accountant, file).await;
    again.assert_status(202);
    let again_id = again.body["id"].as_str().unwrap().to_owned();
    assert_ne!(again_id, id);
    assert_eq!(again.body["sha256"], uploaded.body["sha256"]);
    app.drain_bank().await;
    let second = report(app, &accountant, &again_id).await;
    assert!(
        statuses(&second).iter().all(|(_, s)| s == "duplicate"),
        "{second}"
    );
    assert_eq!(payments(&w, &w.a.org_id).await.len(), 1);
    assert_eq!(payments(&w, &w.b.org_id).await.len(), 2);

    // The review list holds the unknown payer; the accountant assigns it to Лютик.
    let review = app
        .get("/v1/billing/statement-review", Some(&accountant))
        .await;
    review.assert_status(200);
    let items = review.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", review.body);
    assert_eq!(items[0]["number"], "9");
    assert!(items[0]["reason"].as_str().unwrap().contains("no customer"));
    let line = items[0]["line"].as_u64().unwrap();
    let resolve = format!("/v1/billing/statements/{id}/lines/{line}/resolve");
    // A customer may not; an unknown action and a bad split change nothing.
    app.post(
        &resolve,
        Some(&w.a.token),
        &json!({"action": "dismiss", "reason": "x"}),
    )
    .await
    .assert_status(403);
    let bad = app
        .post(&resolve, Some(&accountant), &json!({"action": "keep"}))
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.field(), "action");
    let bad = app
        .post(
            &resolve,
            Some(&accountant),
            &json!({"action": "assign", "org_id": w.b.org_id,
              "split": [{"invoice_id": w.b_invoice, "amount": "16.00"}]}),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.field(), "split[0].amount");
    let assigned = app
        .post(
            &resolve,
            Some(&accountant),
            &json!({"action": "assign", "org_id": w.b.org_id,
              "split": [{"invoice_id": w.b_invoice, "amount": "10.00"}]}),
        )
        .await;
    assigned.assert_status(200);
    assert_eq!(assigned.body["status"], "recorded", "{}", assigned.body);
    assert_eq!(invoice(&w, &w.b_invoice).await["paid"], "160.00");
    let resolved_again = app
        .post(
            &resolve,
            Some(&accountant),
            &json!({"action": "dismiss", "reason": "x"}),
        )
        .await;
    resolved_again.assert_problem(409, "not_in_review");
    let empty = app
        .get("/v1/billing/statement-review", Some(&accountant))
        .await;
    assert_eq!(empty.body["items"].as_array().map(Vec::len), Some(0));

    // The payer's account is remembered: its next payment, without an INN, is Лютик's.
    let next = [Doc {
        number: "10",
        amount: "5.00",
        payer_inn: "",
        payer_account: "40702810500000000009",
        payee_account: OWN,
        purpose: "Аванс",
    }];
    let later = upload(
        app,
        &accountant,
        statement(&day, &next, "0.00", "5.00", "0.00", "5.00"),
    )
    .await;
    later.assert_status(202);
    app.drain_bank().await;
    let third = report(app, &accountant, later.body["id"].as_str().unwrap()).await;
    assert_eq!(third["lines"][0]["status"], "recorded", "{third}");
    assert_eq!(third["lines"][0]["org_id"], w.b.org_id.as_str());
    assert!(
        third["lines"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("before")
    );

    let listed = app.get("/v1/billing/statements", Some(&accountant)).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(listed.body["items"][0]["id"], later.body["id"]);
}

#[tokio::test]
async fn a_broken_statement_names_its_line_and_key_and_records_nothing() {
    let w = world().await;
    let app = &w.app;
    app.save_requisites(&w.admin).await;
    let accountant = app.staff_with_role("accountant").await;
    let good = statement(
        "20.11.2026",
        &[Doc {
            number: "1",
            amount: "10.00",
            payer_inn: "7707083893",
            payer_account: "40702810500000000009",
            payee_account: OWN,
            purpose: "x",
        }],
        "0.00",
        "10.00",
        "0.00",
        "10.00",
    );
    let text = encoding_rs::WINDOWS_1251.decode(&good).0.into_owned();
    for (broken, line, key) in [
        (text.replace("Сумма=10.00", "Сумма=10,001"), 20, "Сумма"),
        (
            text.replace("Дата=20.11.2026\r\nСумма", "Дата=31.11.2026\r\nСумма"),
            19,
            "Дата",
        ),
        (text.replace("КонецДокумента\r\n", ""), 17, "КонецФайла"),
        (text.replace("КонецФайла\r\n", ""), 0, "КонецФайла"),
    ] {
        let bytes = encoding_rs::WINDOWS_1251.encode(&broken).0.into_owned();
        let refused = upload(app, &accountant, bytes).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.field(), "file");
        let detail = refused.body["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if line > 0 {
            assert!(detail.contains(&format!("line {line}")), "{detail}");
        }
        assert!(detail.contains(key), "{detail}");
    }
    for (token, status) in [(&w.a.token, 403), (&w.admin, 202)] {
        let got = upload(app, token, good.clone()).await;
        assert_eq!(got.status, status, "{}", got.body);
    }
    let listed = app.get("/v1/billing/statements", Some(&accountant)).await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "only the good file"
    );
    let empty = upload(app, &accountant, Vec::new()).await;
    empty.assert_problem(422, "validation_failed");
    assert_eq!(empty.field(), "file");
}

/// An account staff confirm for a customer — an IBAN abroad, a branch's account with another
/// INN — matches that customer's payments from the first statement, without review; bad
/// accounts are refused naming the item and change nothing; customers read their own.
#[tokio::test]
async fn payments_from_an_account_confirmed_for_a_customer_are_matched_to_it() {
    let w = world().await;
    let app = &w.app;
    let accountant = app.staff_with_role("accountant").await;
    app.save_requisites(&w.admin).await;
    let today = kopek_tests::emulator::calendar().date_of(app.state.services.now());
    let day = today.format("%d.%m.%Y").to_string();
    let from = |number: &'static str| Doc {
        number,
        amount: "100.00",
        payer_inn: "7707083893",
        payer_account: "40702810500000000042",
        payee_account: OWN,
        purpose: "Оплата услуг",
    };
    let file = |number| statement(&day, &[from(number)], "0.00", "100.00", "0.00", "100.00");
    let imported = |number| {
        let accountant = accountant.clone();
        async move {
            let uploaded = upload(app, &accountant, file(number)).await;
            uploaded.assert_status(202);
            app.drain_bank().await;
            report(app, &accountant, uploaded.body["id"].as_str().unwrap()).await
        }
    };
    // Unknown: the payer's INN is no customer's.
    assert_eq!(statuses(&imported("41").await)[0].1, "review");

    let path = |org: &str| format!("/v1/billing/payer-accounts?org_id={org}");
    let put = |token: String, body: Value| async move {
        app.send(TestApp::request(
            axum::http::Method::PUT,
            "/v1/billing/payer-accounts",
            Some(&token),
            Some(&body),
        ))
        .await
    };
    let set = put(
        accountant.clone(),
        json!({"org_id": w.a.org_id, "accounts": ["4070 2810 5000 0000 0042", "de89 3704 0044 0532 0130 00"]}),
    )
    .await;
    set.assert_status(200);
    assert_eq!(
        set.body["accounts"],
        json!(["40702810500000000042", "DE89370400440532013000"])
    );
    let own = app.get(&path(&w.a.org_id), Some(&w.a.token)).await;
    assert_eq!(own.body["accounts"], set.body["accounts"], "{}", own.body);
    assert_ne!(
        app.get(&path(&w.a.org_id), Some(&w.b.token)).await.status,
        200
    );
    put(
        w.a.token.clone(),
        json!({"org_id": w.a.org_id, "accounts": []}),
    )
    .await
    .assert_problem(403, "forbidden");
    for (accounts, field) in [
        (json!(["4070281050000000004"]), "accounts[0]"),
        (json!(["40702810500000000042", "XX00"]), "accounts[1]"),
    ] {
        let refused = put(
            accountant.clone(),
            json!({"org_id": w.a.org_id, "accounts": accounts}),
        )
        .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.field(), field);
    }
    let still = app.get(&path(&w.a.org_id), Some(&accountant)).await;
    assert_eq!(still.body["accounts"], set.body["accounts"]);

    // The next payment from the account is Ромашка's at once.
    let second = imported("42").await;
    assert_eq!(statuses(&second)[0].1, "recorded", "{second}");
    assert_eq!(
        second["lines"][0]["org_id"],
        w.a.org_id.as_str(),
        "{second}"
    );

    // Forgotten, the account matches nobody again.
    let cleared = put(
        accountant.clone(),
        json!({"org_id": w.a.org_id, "accounts": []}),
    )
    .await;
    assert_eq!(cleared.body["accounts"], json!([]));
    assert_eq!(statuses(&imported("43").await)[0].1, "review");
}

/// A statement too large for a request body goes through a presigned upload link: asked
/// for by an accountant, the file put straight into S3, then imported like any other —
/// once; an import before the file is there, or long after the link expired, is refused.
#[tokio::test]
async fn a_statement_too_large_for_a_request_goes_through_an_upload_link() {
    let w = world().await;
    let app = &w.app;
    let accountant = app.staff_with_role("accountant").await;
    app.save_requisites(&w.admin).await;
    let today = kopek_tests::emulator::calendar().date_of(app.state.services.now());
    let a_inn = tax_id(app, &w.a.token).await;
    let file = statement(
        &today.format("%d.%m.%Y").to_string(),
        &[Doc {
            number: "700",
            amount: "250.00",
            payer_inn: &a_inn,
            payer_account: "40702810500000000700",
            payee_account: OWN,
            purpose: "Оплата услуг по договору",
        }],
        "0.00",
        "250.00",
        "0.00",
        "250.00",
    );
    let ask = |token: String| async move {
        app.post(
            "/v1/billing/statement-uploads",
            Some(&token),
            &json!({"file_name": "выписка за год.txt"}),
        )
        .await
    };
    ask(app.staff_with_role("manager").await)
        .await
        .assert_problem(403, "forbidden");
    let link = ask(accountant.clone()).await;
    link.assert_status(201);
    let id = link.body["upload_id"].as_str().unwrap().to_owned();
    let url = link.body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1"), "{url}");
    let import = |id: String| {
        let accountant = accountant.clone();
        async move {
            app.post(
                &format!("/v1/billing/statement-uploads/{id}/import"),
                Some(&accountant),
                &json!({}),
            )
            .await
        }
    };
    import(id.clone()).await.assert_problem(409, "not_uploaded");

    let (status, _) = kopek_tests::http_bytes(
        axum::http::Method::PUT,
        &url,
        "application/octet-stream",
        file,
    )
    .await;
    assert!(status.is_success(), "{status}");
    let imported = import(id.clone()).await;
    imported.assert_status(202);
    assert_eq!(imported.body["file_name"], "выписка за год.txt");
    assert_eq!(imported.body["lines_read"], 1);
    app.drain_bank().await;
    let done = report(app, &accountant, imported.body["id"].as_str().unwrap()).await;
    assert_eq!(statuses(&done), [("700".to_owned(), "recorded".to_owned())]);
    // Once only; an id never given is not found either.
    import(id).await.assert_status(404);
    import(format!("upl_{}", "0".repeat(26)))
        .await
        .assert_status(404);
    import("nonsense".into()).await.assert_status(404);
}

/// An upload link lives 15 minutes, and its upload an hour after that.
#[tokio::test]
async fn an_upload_asked_for_too_late_is_refused() {
    let clock = std::sync::Arc::new(kopek_domain::clock::FixedClock::at(chrono::Utc::now()));
    let app = TestApp::with_clock(clock.clone()).await;
    let admin = app.admin().await;
    app.save_requisites(&admin).await;
    let link = app
        .post("/v1/billing/statement-uploads", Some(&admin), &json!({}))
        .await;
    link.assert_status(201);
    let expires: chrono::DateTime<chrono::Utc> =
        link.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expires - app.state.services.now(),
        chrono::TimeDelta::minutes(15)
    );
    let (status, _) = kopek_tests::http_bytes(
        axum::http::Method::PUT,
        link.body["url"].as_str().unwrap(),
        "application/octet-stream",
        statement("01.12.2026", &[], "0.00", "0.00", "0.00", "0.00"),
    )
    .await;
    assert!(status.is_success(), "{status}");
    clock.advance(chrono::TimeDelta::minutes(80));
    let admin = app.admin().await;
    let late = app
        .post(
            &format!(
                "/v1/billing/statement-uploads/{}/import",
                link.body["upload_id"].as_str().unwrap()
            ),
            Some(&admin),
            &json!({}),
        )
        .await;
    late.assert_problem(409, "upload_expired");
    assert_eq!(late.field(), "upload_id");
}
