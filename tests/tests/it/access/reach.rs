//! The probes tried with another organisation's ids, signed in and through an API key; cursors
//! of another organisation's listing; the shared catalog.

use super::probes::{catalog_probes, org_probes, staff_probes};
use super::{Ids, METER, invoiced_period};
use crate::support::invoices;
use axum::http::Method;
use kopek_domain::documents::signing::Signing;
use kopek_domain::documents::{DocumentType, Source};
use kopek_domain::ids::{
    ApiKeyId, CreditNoteId, DocumentId, InvoiceId, OrderId, OrgId, PackageId, ReportId, SigningId,
    SubscriptionId, UserId,
};
use kopek_tests::{Customer, TestApp, unique};
use serde_json::{Value, json};

/// Two organisations with data of their own, a staff key, and a key of A's to call with.
struct World {
    a: Customer,
    b: Customer,
    /// A's key holding the scopes of the operations tried (`accounts:read`, `accounts:write`).
    a_key_token: String,
    /// B's API key.
    b_key_id: String,
    /// An order of two lines each, of A's and of B's.
    a_order_id: String,
    b_order_id: String,
    /// A subscription each, of A's and of B's.
    a_sub_id: String,
    b_sub_id: String,
    /// An invoice of the current period each, and a credit note of it.
    a_invoice_id: String,
    b_invoice_id: String,
    a_credit_note_id: String,
    b_credit_note_id: String,
    /// The act of each invoice, and each customer's package of the period.
    a_document_id: String,
    b_document_id: String,
    a_package_id: String,
    b_package_id: String,
    /// A reconciliation statement of each, made as a PDF.
    a_report_id: String,
    b_report_id: String,
    /// A key of the provider's staff (no organisation).
    staff_key_id: String,
}

async fn create_key(app: &TestApp, token: &str, body: &Value) -> (String, String) {
    let created = app.post("/v1/api-keys", Some(token), body).await;
    created.assert_status(201);
    let id = created.body["api_key"]["id"].as_str().expect("key id");
    let secret = created.body["token"].as_str().expect("key token");
    (id.to_owned(), secret.to_owned())
}

async fn world(app: &TestApp) -> World {
    let a = app.register("Ромашка").await;
    let b = app.register("Лютик").await;
    let admin = app.admin().await;
    let (_, a_key_token) = create_key(
        app,
        &a.token,
        &json!({"name": "A's CRM", "scopes": ["accounts:read", "accounts:write", "orders:read", "orders:write", "invoices:read"]}),
    )
    .await;
    let (b_key_id, _) = create_key(
        app,
        &b.token,
        &json!({"name": "B's CRM", "scopes": ["accounts:read"]}),
    )
    .await;
    let (staff_key_id, _) = create_key(
        app,
        &admin,
        &json!({"name": "Ops", "role": "admin", "scopes": ["accounts:read"]}),
    )
    .await;
    app.post(
        &format!("/v1/organisations/{}/users", b.org_id),
        Some(&b.token),
        &json!({"name": "Анна", "email": format!("anna{}@example.ru", unique())}),
    )
    .await
    .assert_status(201);
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": "ROUTER-SETUP", "name": {"ru": "Настройка роутера", "en": "Router setup"},
            "unit": "piece", "kind": "one_off", "work_type": "install", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1500.00"}}
        }),
    )
    .await
    .assert_status(201);
    let order = |token: String| async move {
        let line = json!({"service": "ROUTER-SETUP", "quantity": "1", "site": {"address": "Москва, Тверская, 7"}});
        let placed = app
            .post(
                "/v1/orders",
                Some(&token),
                &json!({"lines": [line.clone(), line]}),
            )
            .await;
        placed.assert_status(201);
        placed.body["id"].as_str().expect("order id").to_owned()
    };
    let a_order_id = order(a.token.clone()).await;
    let b_order_id = order(b.token.clone()).await;
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": "VPS-S", "name": {"ru": "Сервер", "en": "Server"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    )
    .await
    .assert_status(201);
    let subscribe = |token: String| async move {
        let started = app
            .post(
                "/v1/subscriptions",
                Some(&token),
                &json!({"service": "VPS-S", "quantity": "1"}),
            )
            .await;
        started.assert_status(201);
        started.body["id"]
            .as_str()
            .expect("subscription id")
            .to_owned()
    };
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": METER, "name": {"ru": "Трафик", "en": "Traffic"},
            "unit": "gigabyte", "kind": "metered", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "2.00"}}
        }),
    )
    .await
    .assert_status(201);
    let a_sub_id = subscribe(a.token.clone()).await;
    let b_sub_id = subscribe(b.token.clone()).await;
    app.send(TestApp::request(
        Method::PUT,
        "/v1/billing/requisites",
        Some(&admin),
        Some(&json!({"requisites": kopek_tests::provider_requisites()})),
    ))
    .await
    .assert_status(200);
    let invoice_ids = invoices::issue_invoices(
        app,
        invoiced_period(),
        &[a.org_id.as_str(), b.org_id.as_str()],
    )
    .await;
    let credit = |invoice: String| {
        let admin = admin.clone();
        async move {
            let note = app
                .post(
                    &format!("/v1/invoices/{invoice}/credit-notes"),
                    Some(&admin),
                    &json!({"reason": "Скидка", "lines": [{"line_no": 1, "gross": "1.00"}]}),
                )
                .await;
            note.assert_status(201);
            note.body["id"].as_str().expect("credit note id").to_owned()
        }
    };
    let a_credit_note_id = credit(invoice_ids[0].clone()).await;
    let b_credit_note_id = credit(invoice_ids[1].clone()).await;
    assert_eq!(
        app.make_documents().await.filed,
        10,
        "an invoice, an act, the UPD's XML and print, and the credit note's document each"
    );
    let act = |invoice: &str| {
        let invoice: InvoiceId = invoice.parse().expect("an invoice id");
        DocumentId::of(Source::Invoice(invoice), DocumentType::Act).to_string()
    };
    // Signed and packaged as the documents function does it (the world's period is still
    // open, so through the function's steps rather than a manager's request).
    let signing = Signing::start(
        SigningId::new(),
        invoiced_period(),
        UserId::new(),
        app.state.services.now(),
        None,
        6,
    )
    .expect("a signing");
    app.store.start_signing(&signing).await.expect("filed");
    let documents = app.state.services.documents();
    documents.sign_step(signing.id).await.expect("signed");
    documents
        .packages_step(invoiced_period(), None)
        .await
        .expect("packaged and sent");
    let package = |invoice: &str| {
        let invoice: InvoiceId = invoice.parse().expect("an invoice id");
        PackageId::of(invoice).to_string()
    };
    let report = |token: String| async move {
        let period = invoiced_period();
        let asked = app
            .post(
                "/v1/billing/reports",
                Some(&token),
                &json!({"kind": "reconciliation", "from": period.first_day().to_string(),
                        "to": period.last_day().to_string()}),
            )
            .await;
        asked.assert_status(202);
        asked.body["id"].as_str().expect("report id").to_owned()
    };
    let a_report_id = report(a.token.clone()).await;
    let b_report_id = report(b.token.clone()).await;
    assert_eq!(app.drain_documents(Some(3)).await.failed, 0, "both made");
    World {
        a,
        b,
        a_key_token,
        b_key_id,
        staff_key_id,
        a_order_id,
        b_order_id,
        a_sub_id,
        b_sub_id,
        a_invoice_id: invoice_ids[0].clone(),
        b_invoice_id: invoice_ids[1].clone(),
        a_document_id: act(&invoice_ids[0]),
        b_document_id: act(&invoice_ids[1]),
        a_package_id: package(&invoice_ids[0]),
        b_package_id: package(&invoice_ids[1]),
        a_report_id,
        b_report_id,
        a_credit_note_id,
        b_credit_note_id,
    }
}

/// Every probe with B's ids answers 404, exactly as for ids that never existed, and nothing
/// changes; then the same probes with A's ids succeed.
async fn only_its_own_ids_reach(app: &TestApp, world: &World, caller: &str) {
    let before = app.table_items().await;

    let foreign = org_probes(&Ids {
        org: &world.b.org_id,
        key: &world.b_key_id,
        order: &world.b_order_id,
        sub: &world.b_sub_id,
        invoice: &world.b_invoice_id,
        credit_note: &world.b_credit_note_id,
        document: &world.b_document_id,
        package: &world.b_package_id,
        report: &world.b_report_id,
    });
    let never_ids = [
        OrgId::new().to_string(),
        ApiKeyId::new().to_string(),
        OrderId::new().to_string(),
        SubscriptionId::new().to_string(),
        InvoiceId::new().to_string(),
        CreditNoteId::new().to_string(),
        DocumentId::new().to_string(),
        PackageId::new().to_string(),
        ReportId::new().to_string(),
    ];
    let never = org_probes(&Ids {
        org: &never_ids[0],
        key: &never_ids[1],
        order: &never_ids[2],
        sub: &never_ids[3],
        invoice: &never_ids[4],
        credit_note: &never_ids[5],
        document: &never_ids[6],
        package: &never_ids[7],
        report: &never_ids[8],
    });
    let malformed = org_probes(&Ids {
        org: "org_nonsense",
        key: "key_nonsense",
        order: "ord_nonsense",
        sub: "sub_nonsense",
        invoice: "inv_nonsense",
        credit_note: "crn_nonsense",
        document: "doc_nonsense",
        package: "pkg_nonsense",
        report: "rep_nonsense",
    });
    for ((probe, never), malformed) in foreign.iter().zip(&never).zip(&malformed) {
        let what = format!("{} {}", probe.method, probe.uri);
        let response = probe.send(app, caller).await;
        assert_eq!(response.status.as_u16(), 404, "{what}: {}", response.body);
        response.assert_problem(404, "not_found");
        let unknown = never.send(app, caller).await;
        assert_eq!(
            response.raw, unknown.raw,
            "{what}: B's id is told apart from one that never existed"
        );
        // A malformed id in the body is a validation error, not a lookup.
        if !probe.input.2.starts_with("body") {
            let garbled = malformed.send(app, caller).await;
            assert_eq!(response.raw, garbled.raw, "{what}: against a malformed id");
        }
    }
    // The back office answers a customer 403 whatever the id.
    for probe in staff_probes("bat_01ARZ3NDEKTSV4RRFFQ69G5FAV", &world.a_invoice_id)
        .into_iter()
        .chain(staff_probes(
            "bat_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            &world.b_invoice_id,
        ))
    {
        let response = probe.send(app, caller).await;
        assert_eq!(
            response.status.as_u16(),
            probe.allowed,
            "{}: {}",
            probe.uri,
            response.body
        );
    }
    // A key of the provider's staff is no more reachable than B's.
    let staff_key = format!("/v1/api-keys/{}", world.staff_key_id);
    app.delete(&staff_key, Some(caller))
        .await
        .assert_problem(404, "not_found");

    assert_eq!(
        app.table_items().await,
        before,
        "a refused request must not write anything"
    );

    // The same requests with A's own ids go through.
    let (own_key, _) = create_key(
        app,
        caller,
        &json!({"name": "To revoke", "scopes": ["accounts:read"]}),
    )
    .await;
    let before_own = app.table_items().await;
    for probe in org_probes(&Ids {
        org: &world.a.org_id,
        key: &own_key,
        order: &world.a_order_id,
        sub: &world.a_sub_id,
        invoice: &world.a_invoice_id,
        credit_note: &world.a_credit_note_id,
        document: &world.a_document_id,
        package: &world.a_package_id,
        report: &world.a_report_id,
    }) {
        let what = format!("{} {}", probe.method, probe.uri);
        let response = probe.send(app, caller).await;
        assert_eq!(
            response.status.as_u16(),
            probe.allowed,
            "{what}: {}",
            response.body
        );
        match probe.input.2.as_str() {
            "path org_id" if probe.method == Method::GET && !probe.uri.ends_with("/users") => {
                assert_eq!(response.body["id"], world.a.org_id.as_str(), "{what}");
            }
            "body org_id" if probe.uri == "/v1/billing/reports" => {
                assert_eq!(response.body["org_id"], world.a.org_id.as_str(), "{what}");
            }
            "body org_id" => {
                assert_eq!(
                    response.body["api_key"]["org_id"],
                    world.a.org_id.as_str(),
                    "{what}"
                );
            }
            _ => {}
        }
    }
    assert_ne!(
        app.table_items().await,
        before_own,
        "A's own writes show in the table (the snapshot can see a change)"
    );
}

#[tokio::test]
async fn a_signed_in_customer_reaches_only_its_own_organisations_ids() {
    let app = TestApp::start().await;
    let world = world(&app).await;
    only_its_own_ids_reach(&app, &world, &world.a.token).await;
}

#[tokio::test]
async fn a_customers_api_key_reaches_only_its_own_organisations_ids() {
    let app = TestApp::start().await;
    let world = world(&app).await;
    let me = app.get("/v1/me", Some(&world.a_key_token)).await;
    me.assert_status(200);
    assert_eq!(me.body["kind"], "api_key");
    only_its_own_ids_reach(&app, &world, &world.a_key_token).await;
}

#[tokio::test]
async fn a_cursor_from_another_organisations_listing_is_refused() {
    let app = TestApp::start().await;
    let world = world(&app).await;
    // B's users, one per page: the cursor points into B's partition.
    let page = app
        .get(
            &format!("/v1/organisations/{}/users?limit=1", world.b.org_id),
            Some(&world.b.token),
        )
        .await;
    page.assert_status(200);
    let cursor = page.body["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("B has two users, so a next page: {}", page.body))
        .to_owned();
    // The cursor is good for B.
    app.get(
        &format!(
            "/v1/organisations/{}/users?limit=1&cursor={cursor}",
            world.b.org_id
        ),
        Some(&world.b.token),
    )
    .await
    .assert_status(200);

    let before = app.table_items().await;
    for caller in [&world.a.token, &world.a_key_token] {
        for uri in [
            format!(
                "/v1/organisations/{}/users?limit=1&cursor={cursor}",
                world.a.org_id
            ),
            format!("/v1/api-keys?cursor={cursor}"),
            format!("/v1/api-keys?org_id={}&cursor={cursor}", world.a.org_id),
        ] {
            let response = app.get(&uri, Some(caller)).await;
            response.assert_problem(400, "invalid_cursor");
            assert_eq!(response.field(), "cursor", "{uri}");
            assert!(
                !String::from_utf8_lossy(&response.raw).contains(&world.b.email),
                "{uri}: {}",
                response.body
            );
        }
        // B's own listing is as closed to A with B's cursor as without one.
        app.get(
            &format!(
                "/v1/organisations/{}/users?limit=1&cursor={cursor}",
                world.b.org_id
            ),
            Some(caller),
        )
        .await
        .assert_problem(404, "not_found");
    }
    assert_eq!(app.table_items().await, before);
}

#[tokio::test]
async fn every_customer_reads_the_same_shared_catalog_and_none_changes_it() {
    let app = TestApp::start().await;
    let world = world(&app).await;
    let admin = app.admin().await;
    let code = format!("SHARED-{}", unique());
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": code,
            "name": {"ru": "Общая услуга", "en": "Shared service"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    )
    .await
    .assert_status(201);

    let before = app.table_items().await;
    for probe in catalog_probes(&code) {
        let what = format!("{} {}", probe.method, probe.uri);
        let from_a = probe.send(&app, &world.a.token).await;
        let from_a_key = probe.send(&app, &world.a_key_token).await;
        let from_b = probe.send(&app, &world.b.token).await;
        for response in [&from_a, &from_a_key, &from_b] {
            assert_eq!(
                response.status.as_u16(),
                probe.allowed,
                "{what}: {}",
                response.body
            );
        }
        if probe.allowed == 403 {
            from_a.assert_problem(403, "forbidden");
        } else {
            assert_eq!(from_a.body, from_b.body, "{what}: A and B see the same");
            assert_eq!(from_a.body, from_a_key.body, "{what}: so does A's key");
        }
    }
    assert_eq!(
        app.table_items().await,
        before,
        "no customer changes the catalog"
    );
}
