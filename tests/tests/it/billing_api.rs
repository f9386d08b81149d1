//! The billing API against the emulator, where no full close is needed: who may start, read
//! and resume closes; periods refused (not ended, malformed, out of order, twice) with
//! nothing changed; a dry run; invoices and credit notes of one customer out of another's
//! reach; credit notes refused naming the field, and written whole when granted; balances
//! from the ledger; the billing settings.
//!
//! Invoices are issued through the store the way the close issues them
//! (`support/invoices.rs`); the close's fan-out has tests of its own.

use crate::support::invoices;

use std::str::FromStr;

use kopek_aws::clients::Clients;
use kopek_aws::queue::Queue;
use kopek_domain::ids::{CreditNoteId, InvoiceId, OrgId};
use kopek_domain::period::{BillingPeriod, PeriodLength};
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_tests::{Customer, TestApp, TestResponse, flip_char};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The application with the billing function's close queue (the harness builds the
/// `usage-api` environment, which has none).
async fn app() -> TestApp {
    let app = TestApp::start().await;
    let template = Template::load_project(&tools::project_root()).expect("the template");
    let env = app
        .provisioned
        .function_env(&template, "BillingApiFunction")
        .expect("the billing function's environment");
    let url = env
        .get("KOPEK_CLOSE_QUEUE_URL")
        .expect("the billing function names the close queue")
        .clone();
    let sqs = Clients::new(&app.sdk).sqs;
    app.with_state(|state| {
        state.services = state
            .services
            .clone()
            .with_close_queue(Queue::new(sqs, url));
    })
}

fn current() -> BillingPeriod {
    kopek_tests::emulator::current_period()
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(
        value
            .as_str()
            .unwrap_or_else(|| panic!("a decimal string: {value}")),
    )
    .expect("a decimal")
}

/// A recurring service customers subscribe to.
async fn service(app: &TestApp, admin: &str) {
    app.post(
        "/v1/catalog/services",
        Some(admin),
        &json!({
            "code": "VPS-S", "name": {"ru": "Сервер", "en": "Server"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    )
    .await
    .assert_status(201);
}

/// A customer subscribed to `VPS-S` from today.
async fn subscribed(app: &TestApp, name: &str) -> Customer {
    let customer = app.register(name).await;
    app.post(
        "/v1/subscriptions",
        Some(&customer.token),
        &json!({"service": "VPS-S", "quantity": "1"}),
    )
    .await
    .assert_status(201);
    customer
}

/// Two subscribed customers, each with an invoice of the current period; an admin.
struct World {
    app: TestApp,
    admin: String,
    a: Customer,
    b: Customer,
    a_invoice: String,
    b_invoice: String,
}

async fn world() -> World {
    let app = app().await;
    let admin = app.admin().await;
    service(&app, &admin).await;
    let a = subscribed(&app, "Ромашка").await;
    let b = subscribed(&app, "Лютик").await;
    let ids =
        invoices::issue_invoices(&app, current(), &[a.org_id.as_str(), b.org_id.as_str()]).await;
    World {
        a_invoice: ids[0].clone(),
        b_invoice: ids[1].clone(),
        app,
        admin,
        a,
        b,
    }
}

async fn credit(app: &TestApp, token: &str, invoice: &str, body: Value) -> TestResponse {
    app.post(
        &format!("/v1/invoices/{invoice}/credit-notes"),
        Some(token),
        &body,
    )
    .await
}

#[track_caller]
fn assert_field(response: &TestResponse, status: u16, code: &str, field: &str) {
    response.assert_problem(status, code);
    assert_eq!(response.field(), field, "{}", response.body);
}

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
                json!({"reason": "Скидка", "lines": [{"line_no": 1, "amount": "1.00"}]}),
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
async fn only_admins_start_and_resume_closes_and_only_billing_staff_read_them() {
    let app = app().await;
    let customer = app.register("Ромашка").await;
    let engineer = app.staff_with_role("engineer").await;
    let manager = app.staff_with_role("manager").await;
    let accountant = app.staff_with_role("accountant").await;
    let previous = current().previous();
    let before = app.table_items().await;

    for token in [customer.token.as_str(), &engineer, &manager, &accountant] {
        for action in ["close", "resume"] {
            app.post(
                &format!("/v1/periods/{previous}/{action}"),
                Some(token),
                &json!({}),
            )
            .await
            .assert_problem(403, "forbidden");
        }
    }
    for token in [customer.token.as_str(), &engineer] {
        for path in [
            "/v1/periods".to_owned(),
            format!("/v1/periods/{previous}"),
            format!("/v1/periods/{previous}/jobs"),
            format!("/v1/periods/{previous}/preview"),
            "/v1/billing/settings".to_owned(),
        ] {
            app.get(&path, Some(token))
                .await
                .assert_problem(403, "forbidden");
        }
    }
    // Engineers hold no `invoices:read`: no invoice or balance either.
    app.get("/v1/invoices?period=2026-01", Some(&engineer))
        .await
        .assert_problem(403, "forbidden");
    app.get(
        &format!("/v1/billing/balance?org_id={}", customer.org_id),
        Some(&engineer),
    )
    .await
    .assert_problem(403, "forbidden");
    for token in [manager.as_str(), &accountant] {
        let period = app
            .get(&format!("/v1/periods/{previous}"), Some(token))
            .await;
        period.assert_status(200);
        assert_eq!(period.body["status"], "open");
        assert_eq!(period.body["planned"], 0);
    }
    assert_eq!(
        app.table_items().await,
        before,
        "a refused request writes nothing"
    );
}

#[tokio::test]
async fn a_period_not_ended_or_malformed_is_refused_naming_it_and_nothing_changes() {
    let app = app().await;
    let admin = app.admin().await;
    let before = app.table_items().await;
    for period in [current(), current().next()] {
        let response = app
            .post(
                &format!("/v1/periods/{period}/close"),
                Some(&admin),
                &json!({}),
            )
            .await;
        assert_field(&response, 422, "validation_failed", "period");
    }
    // A well-formed period of another length than the provider's, long ended: a monthly
    // provider has no quarter to close, a quarterly one no month.
    let length = kopek_tests::emulator::calendar().period_length();
    let other = if length == PeriodLength::Month {
        PeriodLength::Quarter
    } else {
        PeriodLength::Month
    };
    let other = BillingPeriod::of(current().first_day() - chrono::Days::new(400), other);
    for period in [
        "2026-13",
        "2026-1",
        "November",
        "2026-00",
        "2026-Q5",
        &other.to_string(),
    ] {
        let response = app
            .post(
                &format!("/v1/periods/{period}/close"),
                Some(&admin),
                &json!({}),
            )
            .await;
        assert_field(&response, 400, "invalid_path", "period");
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(length.text_form()), "{detail}");
        let response = app
            .get(&format!("/v1/periods/{period}"), Some(&admin))
            .await;
        assert_field(&response, 400, "invalid_path", "period");
    }
    // Nothing to resume in a period never started.
    let response = app
        .post(
            &format!("/v1/periods/{}/resume", current().previous()),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_field(&response, 422, "validation_failed", "period");
    assert_eq!(app.table_items().await, before);
}

#[tokio::test]
async fn closing_a_period_twice_or_out_of_order_is_a_409_that_changes_nothing() {
    let app = app().await;
    let admin = app.admin().await;
    let previous = current().previous();

    let started = app
        .post(
            &format!("/v1/periods/{previous}/close"),
            Some(&admin),
            &json!({}),
        )
        .await;
    started.assert_status(202);
    assert_eq!(started.body["period"], previous.to_string());
    assert_eq!(started.body["status"], "closing");
    assert!(
        started.body["trigger"]
            .as_str()
            .unwrap()
            .starts_with("admin:usr_"),
        "{}",
        started.body
    );
    // The planning is queued.
    let queue = app
        .state
        .services
        .close_queue()
        .cloned()
        .expect("the close queue");
    let messages = queue.receive(10, 1, None).await.expect("received");
    assert_eq!(messages.len(), 1);
    let message: Value = serde_json::from_str(&messages[0].body).expect("json");
    assert_eq!(
        message,
        json!({"type": "plan", "period": previous.to_string(), "cursor": null})
    );
    queue
        .delete(&[messages[0].receipt_handle.as_str()])
        .await
        .expect("deleted");

    let status = app
        .get(&format!("/v1/periods/{previous}"), Some(&admin))
        .await;
    status.assert_status(200);
    assert_eq!(status.body["status"], "closing");
    let list = app.get("/v1/periods", Some(&admin)).await;
    list.assert_status(200);
    assert_eq!(list.body["items"][0]["period"], previous.to_string());
    let jobs = app
        .get(
            &format!("/v1/periods/{previous}/jobs?status=failed"),
            Some(&admin),
        )
        .await;
    jobs.assert_status(200);
    assert_eq!(jobs.body["items"], json!([]));
    let bad_status = app
        .get(
            &format!("/v1/periods/{previous}/jobs?status=lost"),
            Some(&admin),
        )
        .await;
    assert_field(&bad_status, 400, "invalid_query", "status");

    let before = app.table_items().await;
    let again = app
        .post(
            &format!("/v1/periods/{previous}/close"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_field(&again, 409, "close_already_started", "period");
    let earlier = previous.previous();
    let out_of_order = app
        .post(
            &format!("/v1/periods/{earlier}/close"),
            Some(&admin),
            &json!({}),
        )
        .await;
    out_of_order.assert_problem(409, "invalid_state");
    assert_eq!(app.table_items().await, before);
    assert_eq!(
        queue.depth().await.expect("depth"),
        (0, 0),
        "nothing more was queued"
    );

    // Resuming re-sends the planning that has not run.
    let resumed = app
        .post(
            &format!("/v1/periods/{previous}/resume"),
            Some(&admin),
            &json!({}),
        )
        .await;
    resumed.assert_status(200);
    assert_eq!(resumed.body["queued"], 0);
    assert_eq!(resumed.body["close"]["status"], "closing");
    assert_eq!(
        queue.depth().await.expect("depth").0,
        1,
        "the planning again"
    );
}

#[tokio::test]
async fn a_preview_shows_what_the_close_would_issue_and_writes_nothing() {
    let app = app().await;
    let admin = app.admin().await;
    service(&app, &admin).await;
    app.register("Пустая").await;
    let subscribed = subscribed(&app, "Ромашка").await;
    let accountant = app.staff_with_role("accountant").await;
    let before = app.table_items().await;

    // Nobody had anything in the month before.
    let empty = app
        .get(
            &format!("/v1/periods/{}/preview", current().previous()),
            Some(&admin),
        )
        .await;
    empty.assert_status(200);
    assert_eq!(empty.body["items"], json!([]), "{}", empty.body);

    // This month so far: the subscriber's fee, a page of one customer at a time.
    let mut drafts = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let uri = match &cursor {
            Some(c) => format!("/v1/periods/{}/preview?limit=1&cursor={c}", current()),
            None => format!("/v1/periods/{}/preview?limit=1", current()),
        };
        let page = app.get(&uri, Some(&accountant)).await;
        page.assert_status(200);
        drafts.extend(page.body["items"].as_array().unwrap().iter().cloned());
        assert_eq!(
            page.body["failures"],
            json!([]),
            "every customer can be invoiced"
        );
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "the preview pages end");
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    let draft = &drafts[0];
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["org_id"], subscribed.org_id.as_str());
    assert_eq!(draft["lines"][0]["source"]["type"], "subscription");
    assert_eq!(draft["lines"][0]["tax_rate"], "20");
    assert!(decimal(&draft["gross"]) > Decimal::ZERO);
    assert_eq!(
        decimal(&draft["net"]) + decimal(&draft["tax"]),
        decimal(&draft["gross"])
    );

    let limit = app
        .get(
            &format!("/v1/periods/{}/preview?limit=0", current()),
            Some(&admin),
        )
        .await;
    assert_field(&limit, 400, "invalid_query", "limit");
    let first = app
        .get(
            &format!("/v1/periods/{}/preview?limit=1", current()),
            Some(&admin),
        )
        .await;
    let next = first.body["next_cursor"].as_str().expect("a next page");
    let tampered = app
        .get(
            &format!(
                "/v1/periods/{}/preview?limit=1&cursor={}",
                current(),
                flip_char(next, 3)
            ),
            Some(&admin),
        )
        .await;
    assert_field(&tampered, 400, "invalid_cursor", "cursor");
    assert_eq!(app.table_items().await, before, "a preview writes nothing");
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
            json!({"reason": "x", "lines": [{"line_no": 1, "amount": over}]}),
            409,
            "conflict",
            "lines[0].amount",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 7}]}),
            422,
            "validation_failed",
            "lines[0].line_no",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "amount": "1.00"}, {"line_no": 1}]}),
            422,
            "validation_failed",
            "lines[1].line_no",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "amount": "0"}]}),
            422,
            "validation_failed",
            "lines[0].amount",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "amount": "1.001"}]}),
            422,
            "validation_failed",
            "lines[0].amount",
        ),
        (
            json!({"reason": "x", "lines": [{"line_no": 1, "amount": "много"}]}),
            422,
            "validation_failed",
            "lines[0].amount",
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
        json!({"reason": "Простой сервера", "lines": [{"line_no": 1, "amount": "10.00"}]}),
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

#[tokio::test]
async fn billing_settings_round_trip_and_bad_ones_are_refused_naming_the_field() {
    let app = app().await;
    let admin = app.admin().await;
    let manager = app.staff_with_role("manager").await;
    let customer = app.register("Ромашка").await;

    let defaults = app.get("/v1/billing/settings", Some(&manager)).await;
    defaults.assert_status(200);
    assert_eq!(
        defaults.body,
        json!({"series": "KPK", "tax_mode": "exclusive", "zero_invoices": "skip", "payment_terms_days": 14, "rev": 0,
            "time_zone": kopek_tests::emulator::calendar().to_string(),
            "period_months": kopek_tests::emulator::calendar().period_length().months()})
    );
    app.get("/v1/billing/settings", Some(&customer.token))
        .await
        .assert_problem(403, "forbidden");

    let put = |token: String, body: Value| {
        let app = &app;
        async move {
            app.send(TestApp::request(
                axum::http::Method::PUT,
                "/v1/billing/settings",
                Some(&token),
                Some(&body),
            ))
            .await
        }
    };
    let wanted = json!({"series": "ROM2", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30});
    put(manager.clone(), wanted.clone())
        .await
        .assert_problem(403, "forbidden");

    let before = app.table_items().await;
    for (body, field) in [
        (
            json!({"series": "kpk", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30}),
            "series",
        ),
        (
            json!({"series": "K", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30}),
            "series",
        ),
        (
            json!({"series": "KPK", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 366}),
            "payment_terms_days",
        ),
        (
            json!({"series": "KPK", "tax_mode": "included", "zero_invoices": "issue", "payment_terms_days": 30}),
            "tax_mode",
        ),
        (
            json!({"series": "KPK", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": -1}),
            "payment_terms_days",
        ),
        (
            json!({"series": "KPK", "tax_mode": "inclusive", "zero_invoices": "issue"}),
            "payment_terms_days",
        ),
        (
            json!({"series": "KPK", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30, "currency": "RUB"}),
            "currency",
        ),
        (
            // The zone is the deployment's, not a setting of the API.
            json!({"series": "KPK", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30, "time_zone": "UTC"}),
            "time_zone",
        ),
        (
            // So is the length of a period.
            json!({"series": "KPK", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30, "period_months": 3}),
            "period_months",
        ),
    ] {
        let response = put(admin.clone(), body.clone()).await;
        assert_eq!(response.field(), field, "{body}: {}", response.body);
        response.assert_problem(422, "validation_failed");
    }
    assert_eq!(app.table_items().await, before, "nothing saved");

    let saved = put(admin.clone(), wanted.clone()).await;
    saved.assert_status(200);
    assert_eq!(saved.body["rev"], 1);
    let read = app.get("/v1/billing/settings", Some(&admin)).await;
    let mut expected = wanted.clone();
    expected["rev"] = json!(1);
    expected["time_zone"] = json!(kopek_tests::emulator::calendar().to_string());
    expected["period_months"] = json!(kopek_tests::emulator::calendar().period_length().months());
    assert_eq!(read.body, expected);

    // A change over a stale revision (or as if never saved) is refused.
    for rev in [json!(null), json!(0), json!(7)] {
        let mut body = wanted.clone();
        body["payment_terms_days"] = json!(10);
        body["rev"] = rev;
        let stale = put(admin.clone(), body).await;
        assert_field(&stale, 409, "conflict", "rev");
    }
    let mut body = wanted.clone();
    body["payment_terms_days"] = json!(0);
    body["rev"] = json!(1);
    let changed = put(admin.clone(), body).await;
    changed.assert_status(200);
    assert_eq!(changed.body["rev"], 2);
    assert_eq!(
        app.get("/v1/billing/settings", Some(&manager)).await.body["payment_terms_days"],
        0
    );
}

#[tokio::test]
async fn a_customers_own_payment_terms_are_set_by_staff_and_bad_ones_change_nothing() {
    let app = app().await;
    let accountant = app.staff_with_role("accountant").await;
    let engineer = app.staff_with_role("engineer").await;
    let customer = app.register("Ромашка").await;
    let path = format!("/v1/organisations/{}/payment-terms", customer.org_id);
    let put = |token: String, body: Value| {
        let (app, path) = (&app, &path);
        async move {
            app.send(TestApp::request(
                axum::http::Method::PUT,
                path,
                Some(&token),
                Some(&body),
            ))
            .await
        }
    };
    let terms_of = || async {
        app.get(
            &format!("/v1/organisations/{}", customer.org_id),
            Some(&accountant),
        )
        .await
        .body["payment_terms_days"]
            .clone()
    };
    assert_eq!(
        terms_of().await,
        Value::Null,
        "the provider's terms until set"
    );

    let before = app.table_items().await;
    for (body, field) in [
        (json!({"payment_terms_days": 366}), "payment_terms_days"),
        (json!({"payment_terms_days": -1}), "payment_terms_days"),
        (json!({"payment_terms_days": "30"}), "payment_terms_days"),
        (
            json!({"payment_terms_days": 30, "currency": "EUR"}),
            "currency",
        ),
    ] {
        let response = put(accountant.clone(), body.clone()).await;
        assert_eq!(response.field(), field, "{body}: {}", response.body);
        assert_eq!(response.status.as_u16(), 422, "{body}: {}", response.body);
    }
    // Neither the customer itself nor an engineer may change them.
    put(customer.token.clone(), json!({"payment_terms_days": 90}))
        .await
        .assert_problem(403, "forbidden");
    put(engineer.clone(), json!({"payment_terms_days": 90}))
        .await
        .assert_problem(403, "forbidden");
    // An organisation that does not exist is 404.
    app.send(TestApp::request(
        axum::http::Method::PUT,
        &format!("/v1/organisations/{}/payment-terms", OrgId::new()),
        Some(&accountant),
        Some(&json!({"payment_terms_days": 30})),
    ))
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.table_items().await, before, "nothing changed");

    let set = put(accountant.clone(), json!({"payment_terms_days": 45})).await;
    set.assert_status(200);
    assert_eq!(set.body["payment_terms_days"], 45);
    assert_eq!(terms_of().await, json!(45));
    let cleared = put(accountant.clone(), json!({"payment_terms_days": null})).await;
    cleared.assert_status(200);
    assert_eq!(
        terms_of().await,
        Value::Null,
        "back to the provider's terms"
    );
}
