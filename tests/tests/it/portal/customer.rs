//! A customer's pages beyond ordering, as a browser without JavaScript uses them:
//! subscriptions previewed before they change anything and confirmed once; payments and the
//! statement of account on the page and as CSV and XLSX; the reconciliation statement as a
//! PDF made in the background; usage; another organisation's ids and staff pages refused.

use kopek_tests::{TestResponse, fetch};

use super::{Browser, csrf, html, location, shop};

/// The value of the hidden field `name` of the form posting to `action`.
pub(crate) fn field_of(response: &TestResponse, action: &str, name: &str) -> String {
    let page = html(response);
    let form = page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action}: {page}"));
    let rest = &page[form..];
    let marker = format!("name=\"{name}\" value=\"");
    let at = rest.find(&marker).expect("the field") + marker.len();
    rest[at..at + rest[at..].find('"').unwrap()].to_owned()
}

pub(crate) async fn send(
    browser: &mut Browser<'_>,
    path: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    browser.post(path, fields).await
}

async fn subscriptions(app: &kopek_tests::TestApp, token: &str) -> Vec<serde_json::Value> {
    let listed = app.get("/v1/subscriptions", Some(token)).await;
    listed.assert_status(200);
    listed.body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_customer_subscribes_changes_and_cancels_seeing_each_effect_before_it_is_done() {
    let shop = shop().await;
    let app = &shop.app;
    let token = &shop.customer.token;
    let mut browser = Browser::new(app);
    browser
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    let today = kopek_tests::emulator::calendar()
        .date_of(app.state.services.now())
        .to_string();

    let page = browser.get("/portal/subscriptions").await;
    page.assert_status(200);
    assert!(html(&page).contains("VPS-S"), "{}", html(&page));
    let form_csrf = csrf(&page);
    let key = field_of(&page, "/portal/subscriptions", "_key");
    let start = |intent: &'static str, quantity: &'static str| {
        vec![
            ("_csrf", form_csrf.clone()),
            ("_key", key.clone()),
            ("service", "VPS-S".to_owned()),
            ("quantity", quantity.to_owned()),
            ("start_date", today.clone()),
            ("intent", intent.to_owned()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| fields;

    // Previewed: the prorated fee of this period shown, nothing started.
    let fields = post(start("preview", "2"));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let preview = send(&mut browser, "/portal/subscriptions", &pairs).await;
    preview.assert_status(200);
    let shown = html(&preview);
    assert!(
        shown.contains("После изменения") && shown.contains("VPS-S × 2"),
        "{shown}"
    );
    assert_eq!(
        subscriptions(app, token).await.len(),
        1,
        "a preview starts nothing"
    );
    // A bad quantity: refused naming it, nothing started.
    let fields = post(start("preview", "два"));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bad = send(&mut browser, "/portal/subscriptions", &pairs).await;
    assert_eq!(bad.status, 422);
    assert!(html(&bad).contains("quantity"), "{}", html(&bad));

    // Confirmed twice (a double click): started once.
    let fields = post(start("confirm", "2"));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for _ in 0..2 {
        let done = send(&mut browser, "/portal/subscriptions", &pairs).await;
        assert_eq!(done.status, 303);
        assert_eq!(location(&done), "/portal/subscriptions");
    }
    let all = subscriptions(app, token).await;
    assert_eq!(all.len(), 2, "started once");
    let new = all
        .iter()
        .find(|s| s["segments"][0]["quantity"] == "2")
        .expect("the new subscription");
    let id = new["id"].as_str().unwrap().to_owned();

    // A change: before and after shown, then done once confirmed.
    let page = browser.get("/portal/subscriptions").await;
    let action = format!("/portal/subscriptions/{id}");
    let change_key = field_of(&page, &action, "_key");
    let change = |intent: &'static str| {
        vec![
            ("_csrf", csrf(&page)),
            ("_key", change_key.clone()),
            ("quantity", "3".to_owned()),
            ("effective_date", today.clone()),
            ("do", "change".to_owned()),
            ("intent", intent.to_owned()),
        ]
    };
    let fields = change("preview");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let preview = send(&mut browser, &action, &pairs).await;
    preview.assert_status(200);
    let shown = html(&preview);
    assert!(
        shown.contains("Сейчас") && shown.contains("VPS-S × 3"),
        "{shown}"
    );
    let quantity_of = |subs: &[serde_json::Value]| {
        let s = subs.iter().find(|s| s["id"] == id.as_str()).unwrap();
        let segments = s["segments"].as_array().unwrap();
        segments.last().unwrap()["quantity"].clone()
    };
    assert_eq!(quantity_of(&subscriptions(app, token).await), "2");
    let fields = change("confirm");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(send(&mut browser, &action, &pairs).await.status, 303);
    assert_eq!(quantity_of(&subscriptions(app, token).await), "3");

    // Cancelled the same way.
    let page = browser.get("/portal/subscriptions").await;
    let cancel_key = field_of(&page, &action, "_key");
    for intent in ["preview", "confirm"] {
        let response = send(
            &mut browser,
            &action,
            &[
                ("_csrf", &csrf(&page)),
                ("_key", &cancel_key),
                ("do", "cancel"),
                ("intent", intent),
            ],
        )
        .await;
        assert_eq!(response.status, if intent == "preview" { 200 } else { 303 });
    }
    let subs = subscriptions(app, token).await;
    let cancelled = subs.iter().find(|s| s["id"] == id.as_str()).unwrap();
    assert_ne!(cancelled["status"], "active", "{cancelled}");

    // Another organisation's subscription: not found.
    let other = shop.other_subscription().await;
    let response = send(
        &mut browser,
        &format!("/portal/subscriptions/{other}"),
        &[("_csrf", &csrf(&page)), ("do", "cancel")],
    )
    .await;
    assert_eq!(response.status, 404);
}

#[tokio::test]
async fn an_accountant_records_a_payment_the_customer_then_reads_in_its_statement_and_files() {
    let shop = shop().await;
    let app = &shop.app;
    let admin = app.admin().await;
    app.save_requisites(&admin).await;
    let (email, password) = app.staff_login("accountant").await;
    let mut accountant = Browser::new(app);
    accountant.sign_in(&email, &password).await;

    let customers = accountant.get("/portal/customers").await;
    customers.assert_status(200);
    assert!(html(&customers).contains("Ромашка"));
    let page_path = format!("/portal/customers/{}", shop.customer.org_id);
    let page = accountant.get(&page_path).await;
    page.assert_status(200);
    assert!(
        html(&page).contains("Сальдо (долг клиента)"),
        "{}",
        html(&page)
    );
    let today = kopek_tests::emulator::calendar()
        .date_of(app.state.services.now())
        .to_string();
    let payments_path = format!("{page_path}/payments");
    // A bad amount: refused naming it, nothing recorded.
    let bad = send(
        &mut accountant,
        &payments_path,
        &[
            ("_csrf", &csrf(&page)),
            ("amount", "много"),
            ("currency", "RUB"),
            ("received_on", &today),
            ("reference", "п/п 12"),
        ],
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(html(&bad).contains("amount"));
    let recorded = send(
        &mut accountant,
        &payments_path,
        &[
            ("_csrf", &csrf(&page)),
            ("amount", "1 188,00"),
            ("currency", "RUB"),
            ("received_on", &today),
            ("reference", "п/п 12"),
        ],
    )
    .await;
    assert_eq!(recorded.status, 303);
    let listed = app
        .get(
            &format!("/v1/billing/payments?org_id={}", shop.customer.org_id),
            Some(&admin),
        )
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // The customer: its payment, then the statement of account with both rows.
    let mut browser = Browser::new(app);
    browser
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    let payments = browser.get("/portal/payments").await;
    payments.assert_status(200);
    assert!(html(&payments).contains("п/п 12"), "{}", html(&payments));
    let statement = browser.get("/portal/statement").await;
    statement.assert_status(200);
    let text = html(&statement);
    assert!(
        text.contains("п/п 12") && text.contains("Входящее сальдо"),
        "{text}"
    );
    let csv = browser
        .get(&format!(
            "/portal/statement?from={today}&to={today}&format=csv"
        ))
        .await;
    csv.assert_status(200);
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    assert!(csv.raw.starts_with(&[0xEF, 0xBB, 0xBF]), "a BOM for Excel");
    assert!(String::from_utf8_lossy(&csv.raw).contains("п/п 12"));
    let xlsx = browser
        .get(&format!(
            "/portal/statement?from={today}&to={today}&format=xlsx"
        ))
        .await;
    xlsx.assert_status(200);
    assert!(xlsx.raw.starts_with(b"PK"), "a ZIP (XLSX)");
    let wrong = browser.get("/portal/statement?from=вчера").await;
    assert_eq!(wrong.status, 422);

    // The reconciliation statement: made in the background, then its PDF.
    let asked = send(
        &mut browser,
        "/portal/reports",
        &[
            ("_csrf", &csrf(&statement)),
            ("from", &today),
            ("to", &today),
        ],
    )
    .await;
    assert_eq!(asked.status, 303);
    let report_path = location(&asked).to_owned();
    let making = browser.get(&report_path).await;
    making.assert_status(200);
    assert!(html(&making).contains("http-equiv=\"refresh\""));
    app.drain_documents(Some(3)).await;
    let ready = browser.get(&report_path).await;
    let text = html(&ready);
    assert!(!text.contains("http-equiv=\"refresh\""), "{text}");
    let at = text
        .find("class=\"button\" href=\"")
        .expect("the PDF's link")
        + 21;
    let link = text[at..at + text[at..].find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let (status, pdf) = fetch(&link).await;
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"));
    assert!(kopek_tests::pdf_text(&pdf).contains("Акт сверки"));
    // The statement of account as a PDF the same way.
    let asked = send(
        &mut browser,
        "/portal/reports",
        &[
            ("_csrf", &csrf(&statement)),
            ("from", &today),
            ("to", &today),
            ("kind", "account_statement"),
        ],
    )
    .await;
    assert_eq!(asked.status, 303);
    let page = browser.get(location(&asked)).await;
    assert!(
        html(&page).contains("Выписка по лицевому счёту"),
        "{}",
        html(&page)
    );

    // Staff pages and another organisation's things are not the customer's.
    // (Its own customer page shows only what its own pages do, and no staff form.)
    assert_eq!(browser.get("/portal/customers").await.status, 403);
    let own = browser.get(&page_path).await;
    assert!(
        !html(&own).contains(&format!("action=\"{payments_path}\""))
            && !html(&own).contains("/dunning\""),
        "{}",
        html(&own)
    );
    let other_org = shop.other_org().await;
    for theirs in [
        format!("/portal/statement?org={other_org}"),
        format!("/portal/customers/{other_org}"),
    ] {
        assert_eq!(browser.get(&theirs).await.status, 404, "{theirs}");
    }
    let forged = send(
        &mut browser,
        &format!("/portal/customers/{other_org}/payments"),
        &[
            ("_csrf", &csrf(&statement)),
            ("amount", "1"),
            ("currency", "RUB"),
            ("received_on", &today),
            ("reference", "x"),
        ],
    )
    .await;
    assert_eq!(forged.status, 403);
    let mut other = Browser::new(app);
    let (other_email, other_password) = shop.other_login();
    other.sign_in(&other_email, &other_password).await;
    assert_eq!(other.get(&report_path).await.status, 404);
}

#[tokio::test]
async fn a_customer_sees_its_usage_by_day_and_orders_in_progress_on_the_dashboard() {
    let shop = shop().await;
    let app = &shop.app;
    let mut browser = Browser::new(app);
    browser
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    let usage = browser.get("/portal/usage").await;
    usage.assert_status(200);
    let text = html(&usage);
    assert!(
        text.contains("Оценка с НДС") && text.contains("В этом периоде потребления нет"),
        "{text}"
    );

    // Two events of a metered service today: the meter, its total, a bar, the estimate.
    let admin = app.admin().await;
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &serde_json::json!({
            "code": "TRAFFIC", "name": {"ru": "Трафик", "en": "Traffic"},
            "unit": "gigabyte", "kind": "metered", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1.50"}}
        }),
    )
    .await
    .assert_status(201);
    let engineer = app.staff_with_role("engineer").await;
    let at = app
        .state
        .services
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let events: Vec<_> = [("u-1", "2.5"), ("u-2", "1.5")]
        .iter()
        .map(|(id, q)| {
            serde_json::json!({"id": id, "customer": shop.customer.org_id, "meter": "TRAFFIC",
                               "quantity": q, "timestamp": at})
        })
        .collect();
    app.post(
        "/v1/usage",
        Some(&engineer),
        &serde_json::json!({"events": events}),
    )
    .await
    .assert_status(202);
    app.drain_usage().await;
    let usage = browser.get("/portal/usage").await;
    let text = html(&usage);
    assert!(
        text.contains("Трафик") && text.contains("<strong>4 "),
        "{text}"
    );
    assert_eq!(
        text.matches("<rect class=\"bar\"").count(),
        1,
        "one day, one bar"
    );
    // 4 GB × 1.50 = 6.00 before tax, 7.20 with it.
    assert!(text.contains("7,20\u{a0}₽"), "{text}");
    assert_eq!(
        browser.get("/portal/usage?period=2026-13").await.status,
        422
    );
    let home = browser.get("/portal").await;
    assert!(html(&home).contains("Заказы в работе"));
}
