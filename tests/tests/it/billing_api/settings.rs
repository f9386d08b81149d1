//! The billing settings and a customer's own payment terms.

use super::{app, assert_field};
use kopek_domain::ids::OrgId;
use kopek_tests::{TestApp, provider_requisites as requisites};
use serde_json::{Value, json};

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
        json!({"series": "KPK", "series_count": 1, "tax_mode": "exclusive", "zero_invoices": "skip", "payment_terms_days": 14, "bank_accounts": [], "rev": 0,
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
    let wanted = json!({"series": "ROM2", "series_count": 16, "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30,
        "bank_accounts": ["DE89370400440532013000", "40702810500000000777"]});
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
            json!({"series": "KPK", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30, "bank_accounts": ["4070281"]}),
            "bank_accounts[0]",
        ),
        (
            json!({"series": "KPK", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30, "bank_accounts": ["DE89370400440532013000", "XX"]}),
            "bank_accounts[1]",
        ),
        (
            // A subdivision is the count's business, not the code's.
            json!({"series": "KPK-07", "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30}),
            "series",
        ),
        (
            json!({"series": "KPK", "series_count": 0, "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30}),
            "series_count",
        ),
        (
            json!({"series": "KPK", "series_count": 100, "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30}),
            "series_count",
        ),
        (
            json!({"series": "KPK", "series_count": 256, "tax_mode": "inclusive", "zero_invoices": "issue", "payment_terms_days": 30}),
            "series_count",
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
    // Spaces go, letters are upper case: accounts as statements compare them.
    assert_eq!(saved.body["bank_accounts"], wanted["bank_accounts"]);
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

#[tokio::test]
async fn the_providers_requisites_are_checked_as_an_accountant_would_and_kept_whole() {
    let app = app().await;
    let admin = app.admin().await;
    let accountant = app.staff_with_role("accountant").await;
    let manager = app.staff_with_role("manager").await;
    let customer = app.register("Ромашка").await;
    let put = |token: &str, body: Value| {
        let (app, token) = (&app, token.to_owned());
        async move {
            app.send(TestApp::request(
                axum::http::Method::PUT,
                "/v1/billing/requisites",
                Some(&token),
                Some(&body),
            ))
            .await
        }
    };

    let unset = app.get("/v1/billing/requisites", Some(&accountant)).await;
    unset.assert_status(200);
    assert_eq!(unset.body, json!({"requisites": null, "rev": 0}));
    app.get("/v1/billing/requisites", Some(&customer.token))
        .await
        .assert_problem(403, "forbidden");
    put(&manager, json!({"requisites": requisites()}))
        .await
        .assert_problem(403, "forbidden");

    let before = app.table_items().await;
    let with = |pointer: &str, value: Value| {
        let mut body = requisites();
        *body.pointer_mut(pointer).expect("a field") = value;
        json!({"requisites": body})
    };
    for (body, field) in [
        (with("/tax_id", json!("7708123451")), "requisites.tax_id"),
        (with("/kpp", Value::Null), "requisites.kpp"),
        (with("/kpp", json!("77080100")), "requisites.kpp"),
        (with("/bank/bic", json!("04452522")), "requisites.bank.bic"),
        (
            with("/bank/account", json!("40702810938000000002")),
            "requisites.bank.account",
        ),
        (
            with("/bank/correspondent_account", json!("30101810400000000226")),
            "requisites.bank.correspondent_account",
        ),
        (with("/vat_payer", json!("yes")), "requisites.vat_payer"),
        (
            with("/legal_name", json!({"ru": "ООО «Копек»"})),
            "requisites.legal_name.en",
        ),
    ] {
        let response = put(&admin, body.clone()).await;
        assert_field(&response, 422, "validation_failed", field);
    }
    assert_eq!(app.table_items().await, before, "nothing written");

    let saved = put(&admin, json!({"requisites": requisites()})).await;
    saved.assert_status(200);
    assert_eq!(saved.body, json!({"requisites": requisites(), "rev": 1}));
    let read = app.get("/v1/billing/requisites", Some(&accountant)).await;
    assert_eq!(read.body, saved.body);

    // Saved over the revision read; a stale one is refused naming `rev`.
    let mut changed = requisites();
    changed["chief_accountant"] = json!({"name": {"ru": "Петрова А. А.", "en": "A. Petrova"},
        "position": {"ru": "Главный бухгалтер", "en": "Chief Accountant"}});
    let second = put(&admin, json!({"requisites": changed, "rev": 1})).await;
    second.assert_status(200);
    assert_eq!(second.body["rev"], 2);
    let stale = put(&admin, json!({"requisites": requisites(), "rev": 1})).await;
    assert_field(&stale, 409, "conflict", "rev");
    assert_eq!(
        app.get("/v1/billing/requisites", Some(&admin)).await.body,
        second.body
    );
}

#[tokio::test]
async fn a_customers_kpp_and_contract_are_set_by_staff_and_bad_ones_change_nothing() {
    let app = app().await;
    let accountant = app.staff_with_role("accountant").await;
    let customer = app.register("Ромашка").await;
    let path = format!("/v1/organisations/{}/document-details", customer.org_id);
    let put = |token: &str, body: Value| {
        let (app, token, path) = (&app, token.to_owned(), path.clone());
        async move {
            app.send(TestApp::request(
                axum::http::Method::PUT,
                &path,
                Some(&token),
                Some(&body),
            ))
            .await
        }
    };
    let details =
        json!({"kpp": "770101001", "contract": {"number": "17/2026", "signed_on": "2026-01-12"}});
    put(&customer.token, details.clone())
        .await
        .assert_problem(403, "forbidden");

    let before = app.table_items().await;
    for (body, field) in [
        (json!({"kpp": "77010100", "contract": null}), "kpp"),
        (json!({"kpp": "77O101001", "contract": null}), "kpp"),
        (
            json!({"kpp": null, "contract": {"number": " ", "signed_on": "2026-01-12"}}),
            "contract.number",
        ),
        (
            json!({"kpp": null, "contract": {"number": "17", "signed_on": "2026-1-12"}}),
            "contract.signed_on",
        ),
        (
            json!({"kpp": null, "contract": {"number": "17", "signed_on": "2026-01-12", "by": "x"}}),
            "contract.by",
        ),
    ] {
        let response = put(&accountant, body.clone()).await;
        assert_field(&response, 422, "validation_failed", field);
    }
    assert_eq!(app.table_items().await, before, "nothing written");

    let set = put(&accountant, details.clone()).await;
    set.assert_status(200);
    assert_eq!(set.body["kpp"], "770101001");
    assert_eq!(set.body["contract"], details["contract"]);
    let read = app
        .get(
            &format!("/v1/organisations/{}", customer.org_id),
            Some(&customer.token),
        )
        .await;
    assert_eq!(
        (&read.body["kpp"], &read.body["contract"]),
        (&set.body["kpp"], &set.body["contract"])
    );
    let cleared = put(&accountant, json!({"kpp": null, "contract": null})).await;
    cleared.assert_status(200);
    assert_eq!(
        (&cleared.body["kpp"], &cleared.body["contract"]),
        (&Value::Null, &Value::Null)
    );
}

#[tokio::test]
async fn a_customer_states_its_kpp_when_it_registers_and_a_wrong_one_registers_nothing() {
    let app = app().await;
    let (mut body, _, _) = kopek_tests::registration("Ромашка");
    body["organisation"]["kpp"] = json!("770101001");
    let registered = app.post("/v1/auth/register", None, &body).await;
    registered.assert_status(201);
    let token = registered.body["session"]["access_token"]
        .as_str()
        .expect("a token");
    assert_eq!(registered.body["organisation"]["kpp"], "770101001");
    let me = app.get("/v1/me", Some(token)).await;
    assert_eq!(me.body["organisation"]["kpp"], "770101001");

    let before = app.table_items().await;
    for (kpp, tax_id) in [
        // Not a KPP's shape.
        ("77010100", None),
        // A sole trader (12-digit INN) has no KPP.
        (
            "770101001",
            Some(kopek_tests::inn_of_person(kopek_tests::unique())),
        ),
    ] {
        let (mut body, _, _) = kopek_tests::registration("Лютик");
        body["organisation"]["kpp"] = json!(kpp);
        if let Some(tax_id) = tax_id {
            body["organisation"]["tax_id"] = json!(tax_id);
        }
        let refused = app.post("/v1/auth/register", None, &body).await;
        assert_field(&refused, 422, "validation_failed", "organisation.kpp");
    }
    assert_eq!(app.table_items().await, before, "nothing registered");
}
