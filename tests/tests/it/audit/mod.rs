//! The audit log: a record with every change (same transaction), who and from where, what
//! changed with secrets and personal data masked; the admins' search and export, a
//! customer's own view; no route can touch a record; the archive; and the walk of the
//! OpenAPI document against what the whole suite's requests wrote (`walk`).

mod walk;

use axum::body::Body;
use axum::http::{Method, Request};
use kopek_tests::{TestApp, TestResponse, unique};
use serde_json::{Value, json};

fn service(code: &str) -> Value {
    json!({
        "code": code,
        "name": {"ru": format!("Услуга {code}"), "en": format!("Service {code}")},
        "description": {"ru": "Описание", "en": "Description"},
        "unit": "month",
        "kind": "recurring",
        "work_type": null,
        "tax_rate": "20",
        "currency": "RUB",
        "price": {"currency": "RUB", "model": {"type": "flat", "amount": "500.00"}, "minimum": null, "flat_fee": null}
    })
}

async fn records(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let found = app
        .get(&format!("/v1/audit-records?{query}"), Some(token))
        .await;
    found.assert_status(200);
    found.body["items"].as_array().expect("items").clone()
}

fn audit_id(response: &TestResponse) -> String {
    response
        .headers
        .get("kopek-audit-id")
        .unwrap_or_else(|| {
            panic!(
                "no kopek-audit-id on {:?}: {}",
                response.status, response.body
            )
        })
        .to_str()
        .expect("text")
        .to_owned()
}

/// Every audit record in the table, read past the API.
async fn stored(app: &TestApp) -> Vec<kopek_domain::audit::AuditRecord> {
    app.scan_all()
        .await
        .into_iter()
        .filter(|i| {
            i.get("PK")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.starts_with("AUDIT#"))
        })
        .map(|i| kopek_aws::dynamo::audit::record_of_item(i).expect("a record"))
        .collect()
}

fn change<'r>(record: &'r Value, field: &str) -> &'r Value {
    record["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("no change of {field} in {record:#}"))
}

#[tokio::test]
async fn a_staff_change_is_recorded_with_who_where_and_what_changed() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let code = format!("AUD{}", unique());
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/catalog/services")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .header("x-request-id", "crm-import-42")
        .body(Body::from(service(&code).to_string()))
        .unwrap();
    let created = app.send_from(request, "203.0.113.9".parse().unwrap()).await;
    created.assert_status(201);
    let id = audit_id(&created);

    let retired = app
        .post(
            &format!("/v1/catalog/services/{code}/retire"),
            Some(&admin),
            &json!({}),
        )
        .await;
    retired.assert_status(200);

    let about = records(&app, &admin, &format!("object=service:{code}")).await;
    assert_eq!(about.len(), 2, "{about:#?}");
    // Newest first: the retirement, then the creation.
    let (retire, create) = (&about[0], &about[1]);
    assert_eq!(create["id"], id);
    assert_eq!(create["action"], "POST /v1/catalog/services");
    assert_eq!(create["actor"]["kind"], "user");
    assert_eq!(create["actor"]["role"], "admin");
    assert!(create["actor"]["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(create["request_id"], "crm-import-42");
    assert_eq!(create["client"], "203.0.113.9");
    assert_eq!(create["object"], format!("service:{code}"));
    assert!(
        create.get("org_id").is_none(),
        "the catalog is no customer's: {create}"
    );
    let name = change(create, "service.name.ru");
    assert!(name.get("before").is_none());
    assert_eq!(name["after"], format!("Услуга {code}"));

    assert_eq!(retire["action"], "POST /v1/catalog/services/{code}/retire");
    let status = change(retire, "service.status");
    assert_eq!(status["before"], "active");
    assert_eq!(status["after"], "retired");
    assert!(
        retire["changes"].as_array().unwrap().len() < 5,
        "only what changed: {retire:#}"
    );

    // The record went into the table with the change: one item of type `audit` per action.
    let mine: Vec<_> = stored(&app)
        .await
        .into_iter()
        .filter(|r| r.object.as_ref().is_some_and(|o| o.id == code))
        .collect();
    assert_eq!(mine.len(), 2);
}

#[tokio::test]
async fn a_refused_change_writes_no_record() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let code = format!("DUP{}", unique());
    app.post("/v1/catalog/services", Some(&admin), &service(&code))
        .await
        .assert_status(201);
    let again = app
        .post("/v1/catalog/services", Some(&admin), &service(&code))
        .await;
    again.assert_status(409);
    assert!(again.headers.get("kopek-audit-id").is_none());
    let about = records(&app, &admin, &format!("object=service:{code}")).await;
    assert_eq!(about.len(), 1, "only the creation: {about:#?}");
}

#[tokio::test]
async fn secrets_never_show_and_personal_data_shows_masked() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let created = app
        .post(
            "/v1/api-keys",
            Some(&customer.token),
            &json!({"name": "CRM", "scopes": ["orders:read"]}),
        )
        .await;
    created.assert_status(201);
    let secret = created.body["token"].as_str().unwrap().to_owned();
    let key_id = created.body["api_key"]["id"].as_str().unwrap().to_owned();
    let email = format!("colleague{}@example.ru", unique());
    app.post(
        &format!("/v1/organisations/{}/users", customer.org_id),
        Some(&customer.token),
        &json!({"name": "Пётр Сидоров", "email": email}),
    )
    .await
    .assert_status(201);

    let all = records(&app, &customer.token, "").await;
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&secret), "the key's secret is never shown");
    assert!(!text.contains(&email), "an e-mail shows masked");
    assert!(
        !text.contains("Пётр Сидоров"),
        "a person's name shows masked"
    );
    assert!(!text.contains(&customer.password));
    let key = all
        .iter()
        .find(|r| r["object"] == format!("api_key:{key_id}"))
        .unwrap_or_else(|| panic!("the key's creation: {all:#?}"));
    assert_eq!(change(key, "secret_hash")["after"], "[secret]");
    assert!(
        !text.contains(&key_id[4..]) || !text.contains("kpk_"),
        "no token text at all"
    );
    let invited = all
        .iter()
        .find(|r| r["action"] == "POST /v1/organisations/{org_id}/users")
        .expect("the invitation");
    let shown = change(invited, "email")["after"].as_str().unwrap();
    assert_eq!(shown, "c***@example.ru");
    assert_eq!(change(invited, "name")["after"], "П***");
}

#[tokio::test]
async fn a_customer_sees_only_the_records_about_its_organisation() {
    let app = TestApp::start().await;
    let a = app.register("Ромашка").await;
    let b = app.register("Лютик").await;
    for customer in [&a, &b] {
        app.post(
            "/v1/api-keys",
            Some(&customer.token),
            &json!({"name": "CRM", "scopes": ["orders:read"]}),
        )
        .await
        .assert_status(201);
    }
    let mine = records(&app, &a.token, "").await;
    assert!(mine.len() >= 2, "registration and the key: {mine:#?}");
    assert!(
        mine.iter().all(|r| r["org_id"] == a.org_id.as_str()),
        "{mine:#?}"
    );
    // Another organisation's records are not found, as its ids are not.
    let other = app
        .get(
            &format!("/v1/audit-records?org_id={}", b.org_id),
            Some(&a.token),
        )
        .await;
    other.assert_problem(404, "not_found");
    // The registration is the customer's first record, done by its first user.
    let first = mine.last().unwrap();
    assert_eq!(first["action"], "POST /v1/auth/register");
    assert_eq!(first["actor"]["id"], a.user_id.as_str());

    // Staff other than admins do not search the log; admins see both customers.
    let manager = app.staff_with_role("manager").await;
    app.get("/v1/audit-records", Some(&manager))
        .await
        .assert_problem(403, "forbidden");
    let admin = app.admin().await;
    let of_b = records(&app, &admin, &format!("org_id={}", b.org_id)).await;
    assert!(!of_b.is_empty());
    assert!(of_b.iter().all(|r| r["org_id"] == b.org_id.as_str()));
}

#[tokio::test]
async fn the_search_filters_pages_and_exports_what_it_finds() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let prefix = format!("PG{}", unique());
    for i in 0..5 {
        app.post(
            "/v1/catalog/services",
            Some(&admin),
            &service(&format!("{prefix}X{i}")),
        )
        .await
        .assert_status(201);
    }
    let me = app.get("/v1/me", Some(&admin)).await;
    let actor = me.body["user"]["id"].as_str().expect("my id").to_owned();
    let query = format!("actor={actor}&action=POST%20/v1/catalog/services");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_query = match &cursor {
            Some(c) => format!("{query}&limit=2&cursor={c}"),
            None => format!("{query}&limit=2"),
        };
        let page = app
            .get(&format!("/v1/audit-records?{page_query}"), Some(&admin))
            .await;
        page.assert_status(200);
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["object"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..5)
        .rev()
        .map(|i| format!("service:{prefix}X{i}"))
        .collect();
    assert_eq!(seen, expected, "newest first, each once, across pages");

    let csv = app
        .get(&format!("/v1/audit-records.csv?{query}"), Some(&admin))
        .await;
    csv.assert_status(200);
    assert!(csv.content_type().starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(csv.raw.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "at");
    let object_column = headers.iter().position(|h| h == "object").unwrap();
    let rows: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[object_column].to_owned())
        .collect();
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn a_bad_query_is_refused_naming_its_field() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    for (query, status, field) in [
        ("from=yesterday", 400, "from"),
        ("to=2026-13-01", 400, "to"),
        ("from=2026-12-02&to=2026-12-01", 422, "from"),
        ("object=order", 400, "object"),
        ("org_id=nonsense", 404, ""),
        ("limit=0", 400, "limit"),
        ("colour=red", 400, "colour"),
    ] {
        let answer = app
            .get(&format!("/v1/audit-records?{query}"), Some(&admin))
            .await;
        assert_eq!(answer.status.as_u16(), status, "{query}: {}", answer.body);
        if !field.is_empty() {
            assert_eq!(answer.field(), field, "{query}: {}", answer.body);
        }
    }
    app.get("/v1/audit-records.csv?limit=5", Some(&admin))
        .await
        .assert_problem(400, "invalid_query");
    app.get("/v1/audit-records", None).await.assert_status(401);
}

#[tokio::test]
async fn no_route_changes_or_deletes_a_record() {
    let app = TestApp::start().await;
    let doc = kopek_api::openapi();
    let doc = serde_json::to_value(&doc).unwrap();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        if path.contains("audit") {
            let methods: Vec<&String> = operations.as_object().unwrap().keys().collect();
            assert!(
                methods.iter().all(|m| *m == "get" || *m == "parameters"),
                "{path} only reads: {methods:?}"
            );
        }
    }
    let admin = app.admin().await;
    let created = app
        .post(
            "/v1/catalog/services",
            Some(&admin),
            &service(&format!("RO{}", unique())),
        )
        .await;
    let id = audit_id(&created);
    for method in [Method::DELETE, Method::PUT, Method::PATCH, Method::POST] {
        for path in [
            "/v1/audit-records".to_owned(),
            format!("/v1/audit-records/{id}"),
        ] {
            let answer = app
                .send(TestApp::request(
                    method.clone(),
                    &path,
                    Some(&admin),
                    Some(&json!({})),
                ))
                .await;
            assert!(
                [404, 405].contains(&answer.status.as_u16()),
                "{method} {path}: {}",
                answer.status
            );
        }
    }
    assert!(
        stored(&app).await.iter().any(|r| r.id.to_string() == id),
        "the record is still there"
    );
}

#[tokio::test]
async fn records_past_the_retention_are_filed_in_the_bucket_and_then_leave_the_table() {
    use chrono::{Duration, Utc};
    use kopek_domain::clock::FixedClock;
    use kopek_services::audit::Retention;
    use std::sync::Arc;

    let now = Utc::now();
    let clock = Arc::new(FixedClock::at(now - Duration::days(40)));
    let app = TestApp::with_clock(clock.clone()).await;
    let admin = app.admin().await;
    let old = format!("OLD{}", unique());
    app.post("/v1/catalog/services", Some(&admin), &service(&old))
        .await
        .assert_status(201);
    clock.advance(Duration::days(40));
    let admin = app.admin().await;
    let new = format!("NEW{}", unique());
    app.post("/v1/catalog/services", Some(&admin), &service(&new))
        .await
        .assert_status(201);

    let services = app
        .state
        .services
        .clone()
        .with_settings(|s| s.audit_retention = Retention::days(30).unwrap());
    let archived = services.audit().archive().await.expect("archived");
    let old_day = (now - Duration::days(40)).date_naive();
    let key = format!("audit/{}.jsonl", old_day.format("%Y/%m/%d"));
    assert_eq!(archived.files, std::slice::from_ref(&key), "{archived:?}");
    assert!(
        archived.records >= 2,
        "the sign-in and the service: {archived:?}"
    );

    // Filed: one JSON record per line, the old service's among them.
    let object = kopek_local::s3_client(&app.sdk)
        .get_object()
        .bucket(&app.env["KOPEK_DOCUMENTS_BUCKET"])
        .key(&key)
        .send()
        .await
        .expect("the day's file");
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let lines: Vec<Value> = String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect();
    assert_eq!(lines.len(), archived.records);
    assert!(lines.iter().any(|r| r["object"]["id"] == old.as_str()));

    // Gone from the table; the recent one stays.
    // (The clock stands still: the newest record is at "now", so `to` is later.)
    let found = records(&app, &admin, "from=2000-01-01&to=2100-01-01").await;
    let objects: Vec<&str> = found.iter().filter_map(|r| r["object"].as_str()).collect();
    assert!(
        !objects.contains(&format!("service:{old}").as_str()),
        "{objects:?}"
    );
    assert!(
        objects.contains(&format!("service:{new}").as_str()),
        "{objects:?}"
    );

    // A second run finds nothing more to file and never rewrites what was filed.
    let again = services.audit().archive().await.expect("archived again");
    assert!(again.files.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_password_reset_and_signing_out_everywhere_are_recorded_as_the_users_own() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    app.post(
        "/v1/auth/password-reset",
        None,
        &json!({"email": customer.email}),
    )
    .await
    .assert_status(202);
    let mails = app.mails_to(&customer.email).await;
    let body = &mails.last().expect("the reset mail").1;
    let at = body.find("token=").expect("a link") + "token=".len();
    let token: String = body[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let reset = app
        .post(
            "/v1/auth/password-reset/confirm",
            None,
            &json!({"token": token, "password": "Another-long-password-2026"}),
        )
        .await;
    reset.assert_status(200);
    let reset_id = audit_id(&reset);
    let access = reset.body["access_token"]
        .as_str()
        .expect("signed in")
        .to_owned();
    let out = app
        .post("/v1/auth/sign-out-everywhere", Some(&access), &json!({}))
        .await;
    out.assert_status(204);
    let out_id = audit_id(&out);

    let admin = app.admin().await;
    let found = records(&app, &admin, &format!("org_id={}", customer.org_id)).await;
    let by_id = |id: &str| {
        found
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {found:#?}"))
            .clone()
    };
    let reset = by_id(&reset_id);
    assert_eq!(
        reset["actor"]["id"],
        customer.user_id.as_str(),
        "the user, not anonymous"
    );
    assert_eq!(reset["action"], "POST /v1/auth/password-reset/confirm");
    let text = reset.to_string();
    assert!(!text.contains(&token) && !text.contains("Another-long-password-2026"));
    let out = by_id(&out_id);
    assert_eq!(out["actor"]["id"], customer.user_id.as_str());
    assert_eq!(out["action"], "POST /v1/auth/sign-out-everywhere");
}
