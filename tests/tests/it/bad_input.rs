//! Bad input over the real router: every refusal is a 4xx `application/problem+json` with a
//! stable `code`, names the field (or parameter, or header) it is about, and changes nothing
//! in the table. Covers the accounts endpoints (register, sign-in, API keys, invitations), the
//! catalog endpoints (create a service, add a price, quote, browse) and the usage endpoints
//! (external references, the usage views, health, the rejected events; the refusal of usage
//! events themselves is in `usage_api.rs`), the credentials a request carries, query strings
//! and cursors, and the `Idempotency-Key` rules.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request};
use chrono::Duration;
use kopek_domain::accounts::{Role, sha256_hex};
use kopek_domain::clock::{Clock, FixedClock};
use kopek_http::auth::TokenSigner;
use kopek_http::json::MAX_BODY_BYTES;
use kopek_tests::{Customer, TestApp, TestResponse, flip_char, future_hour, registration, unique};
use serde_json::{Value, json};
use std::sync::Arc;

/// A request with exactly these headers and body bytes.
fn raw_request(
    method: Method,
    uri: &str,
    headers: &[(&str, HeaderValue)],
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, value.clone());
    }
    builder.body(body.into()).expect("a request")
}

fn bearer(token: &str) -> (&'static str, HeaderValue) {
    (
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value"),
    )
}

fn json_type() -> (&'static str, HeaderValue) {
    ("content-type", HeaderValue::from_static("application/json"))
}

fn idempotency_key(key: &str) -> (&'static str, HeaderValue) {
    (
        "idempotency-key",
        HeaderValue::from_str(key).expect("a header value"),
    )
}

/// POSTs `body` as JSON with `headers` added.
async fn post_with(
    app: &TestApp,
    uri: &str,
    token: Option<&str>,
    body: &Value,
    headers: &[(&str, HeaderValue)],
) -> TestResponse {
    let mut all = vec![json_type()];
    all.extend(token.map(bearer));
    all.extend_from_slice(headers);
    let bytes = serde_json::to_vec(body).expect("json");
    app.send(raw_request(Method::POST, uri, &all, bytes)).await
}

fn service(code: &str) -> Value {
    json!({
        "code": code,
        "name": {"ru": "Виртуальный сервер", "en": "Virtual server"},
        "unit": "month",
        "kind": "recurring",
        "tax_rate": "20",
        "currency": "RUB",
        "price": {"currency": "RUB", "model": {"type": "graduated", "tiers": [
            {"up_to": "5", "unit_price": "7.00"},
            {"up_to": null, "unit_price": "6.00"}
        ]}}
    })
}

fn new_price() -> Value {
    json!({"price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}})
}

/// A customer, an admin and one service in the catalog.
struct Fixture {
    app: TestApp,
    customer: Customer,
    admin: String,
    code: String,
}

impl Fixture {
    async fn start() -> Self {
        Self::on(TestApp::start().await).await
    }

    async fn on(app: TestApp) -> Self {
        let customer = app.register("Ромашка").await;
        let admin = app.admin().await;
        let code = format!("VPS-{}", unique());
        app.post("/v1/catalog/services", Some(&admin), &service(&code))
            .await
            .assert_status(201);
        Self {
            app,
            customer,
            admin,
            code,
        }
    }

    fn prices(&self) -> String {
        format!("/v1/catalog/services/{}/prices", self.code)
    }

    /// The JSON endpoints tried here, with who calls them and a body each accepts.
    fn endpoints(&self) -> Vec<(String, Option<String>, Value)> {
        let (register, _, _) = registration("Лютик");
        vec![
            ("/v1/auth/register".into(), None, register),
            (
                "/v1/auth/sign-in".into(),
                None,
                json!({"email": self.customer.email, "password": self.customer.password}),
            ),
            (
                "/v1/api-keys".into(),
                Some(self.customer.token.clone()),
                json!({"name": "CRM", "scopes": ["accounts:read"]}),
            ),
            (
                "/v1/catalog/services".into(),
                Some(self.admin.clone()),
                service(&format!("NEW-{}", unique())),
            ),
            (self.prices(), Some(self.admin.clone()), new_price()),
            (
                "/v1/usage/external-refs".into(),
                Some(self.admin.clone()),
                json!({"org_id": self.customer.org_id, "external_ref": format!("crm:{}", unique())}),
            ),
        ]
    }
}

/// Asserts a 422 naming `field`.
#[track_caller]
fn assert_invalid_field(response: &TestResponse, field: &str, what: &str) {
    assert_eq!(
        response.status.as_u16(),
        422,
        "{what}: expected 422; {}",
        response.body
    );
    response.assert_problem(422, "validation_failed");
    assert_eq!(response.field(), field, "{what}: {}", response.body);
}

#[tokio::test]
async fn malformed_json_is_a_400_on_every_endpoint_and_changes_nothing() {
    let f = Fixture::start().await;
    let before = f.app.table_items().await;
    for (uri, token, _) in f.endpoints() {
        for body in [
            "{\"name\": ",
            "{\"name\": \"a\",}",
            "{} trailing",
            "",
            "nul",
            "{'single': 'quotes'}",
        ] {
            let mut headers = vec![json_type()];
            headers.extend(token.as_deref().map(bearer));
            let response = f
                .app
                .send(raw_request(Method::POST, &uri, &headers, body))
                .await;
            assert_eq!(
                response.status.as_u16(),
                400,
                "{uri} with {body:?}: {}",
                response.body
            );
            response.assert_problem(400, "malformed_json");
        }
    }
    assert_eq!(f.app.table_items().await, before);
}

#[tokio::test]
async fn an_unknown_field_is_refused_naming_it_even_when_nested() {
    let f = Fixture::start().await;
    let (register, _, _) = registration("Лютик");
    let with = |mut body: Value, pointer: &str, value: Value| {
        let (parent, leaf) = pointer.rsplit_once('/').expect("a pointer");
        body.pointer_mut(parent).expect("the parent exists")[leaf] = value;
        body
    };
    let sign_in = json!({"email": f.customer.email, "password": f.customer.password});
    let cases = [
        (
            "/v1/auth/register",
            None,
            with(register.clone(), "/referrer", json!("ad")),
            "referrer",
        ),
        (
            "/v1/auth/register",
            None,
            with(register.clone(), "/organisation/foo", json!(1)),
            "organisation.foo",
        ),
        (
            "/v1/auth/register",
            None,
            with(register.clone(), "/user/role", json!("admin")),
            "user.role",
        ),
        (
            "/v1/auth/sign-in",
            None,
            with(sign_in, "/remember_me", json!(true)),
            "remember_me",
        ),
        (
            "/v1/api-keys",
            Some(&f.customer.token),
            json!({"name": "CRM", "scopes": [], "owner": "me"}),
            "owner",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            with(service("NEW-1"), "/status", json!("retired")),
            "status",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            with(service("NEW-2"), "/name/de", json!("Server")),
            "name.de",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            with(service("NEW-3"), "/price/discount", json!("5")),
            "price.discount",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            with(service("NEW-4"), "/price/model/currency", json!("RUB")),
            "price.model.currency",
        ),
        (
            &f.prices(),
            Some(&f.admin),
            with(new_price(), "/version", json!(7)),
            "version",
        ),
    ];
    let before = f.app.table_items().await;
    for (uri, token, body, field) in cases {
        let response = f.app.post(uri, token.map(String::as_str), &body).await;
        assert_invalid_field(&response, field, uri);
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("unknown field"), "{uri}: {detail}");
    }
    assert_eq!(f.app.table_items().await, before);
}

#[tokio::test]
async fn a_wrong_type_is_refused_naming_the_field() {
    let f = Fixture::start().await;
    let (register, _, _) = registration("Лютик");
    let with = |mut body: Value, pointer: &str, value: Value| {
        let (parent, leaf) = pointer.rsplit_once('/').expect("a pointer");
        body.pointer_mut(parent).expect("the parent exists")[leaf] = value;
        body
    };
    let cases = [
        (
            "/v1/auth/register",
            None,
            with(register.clone(), "/organisation/currency", json!(643)),
            "organisation.currency",
        ),
        (
            "/v1/auth/register",
            None,
            with(register.clone(), "/organisation/currency", json!("RUR")),
            "organisation.currency",
        ),
        (
            "/v1/auth/register",
            None,
            with(register.clone(), "/organisation", json!("ООО «Лютик»")),
            "organisation",
        ),
        (
            "/v1/auth/register",
            None,
            with(register.clone(), "/user/password", json!(1234567890)),
            "user.password",
        ),
        (
            "/v1/auth/sign-in",
            None,
            json!({"email": true, "password": "x"}),
            "email",
        ),
        (
            "/v1/api-keys",
            Some(&f.customer.token),
            json!({"name": "CRM", "scopes": "accounts:read"}),
            "scopes",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            with(service("NEW-1"), "/price/currency", json!(643)),
            "price.currency",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            with(service("NEW-2"), "/kind", json!("sometimes")),
            "kind",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            with(service("NEW-3"), "/price/model/type", json!("auction")),
            "price.model.type",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            with(service("NEW-4"), "/name", json!(["Server"])),
            "name",
        ),
        (
            &f.prices(),
            Some(&f.admin),
            with(new_price(), "/price/minimum", json!(100)),
            "price.minimum",
        ),
        (
            &f.prices(),
            Some(&f.admin),
            json!({"price": new_price()["price"], "effective_from": "tomorrow"}),
            "effective_from",
        ),
    ];
    let before = f.app.table_items().await;
    for (uri, token, body, field) in cases {
        let response = f.app.post(uri, token.map(String::as_str), &body).await;
        assert_invalid_field(&response, field, &format!("{uri} {field}"));
    }
    assert_eq!(f.app.table_items().await, before);
}

/// The price model is an internally tagged enum (`{"type": "graduated", …}`): serde buffers
/// it before choosing the variant, and the path to the error is lost below `price.model`
/// (the problem names `price.model`, and an unknown key inside a tier comes out as
/// `price.model.foo`). The fix belongs in the domain's `PriceModel` deserialisation.
#[tokio::test]
async fn a_wrong_type_deep_inside_a_price_model_names_its_exact_path() {
    let f = Fixture::start().await;
    let before = f.app.table_items().await;
    let mut wrong_type = service("NEW-1");
    wrong_type["price"]["model"]["tiers"][0]["up_to"] = json!(5);
    let response = f
        .app
        .post("/v1/catalog/services", Some(&f.admin), &wrong_type)
        .await;
    assert_invalid_field(
        &response,
        "price.model.tiers[0].up_to",
        "a number, not a string",
    );
    let mut unknown = service("NEW-2");
    unknown["price"]["model"]["tiers"][1]["foo"] = json!("x");
    let response = f
        .app
        .post("/v1/catalog/services", Some(&f.admin), &unknown)
        .await;
    assert_invalid_field(
        &response,
        "price.model.tiers[1].foo",
        "an unknown key in a tier",
    );
    assert_eq!(f.app.table_items().await, before);
}

#[tokio::test]
async fn a_missing_field_is_refused_naming_it() {
    let f = Fixture::start().await;
    let (register, _, _) = registration("Лютик");
    let without = |mut body: Value, pointer: &str| {
        let (parent, leaf) = pointer.rsplit_once('/').expect("a pointer");
        let parent = body.pointer_mut(parent).expect("the parent exists");
        parent
            .as_object_mut()
            .expect("an object")
            .remove(leaf)
            .expect("the field was there");
        body
    };
    let cases = [
        (
            "/v1/auth/register",
            None,
            without(register.clone(), "/organisation/tax_id"),
            "organisation.tax_id",
        ),
        (
            "/v1/auth/register",
            None,
            without(register.clone(), "/user/email"),
            "user.email",
        ),
        (
            "/v1/auth/register",
            None,
            without(register.clone(), "/user"),
            "user",
        ),
        (
            "/v1/auth/sign-in",
            None,
            json!({"email": f.customer.email}),
            "password",
        ),
        (
            "/v1/api-keys",
            Some(&f.customer.token),
            json!({"name": "CRM"}),
            "scopes",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            without(service("NEW-1"), "/price"),
            "price",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            without(service("NEW-2"), "/price/model"),
            "price.model",
        ),
        (
            "/v1/catalog/services",
            Some(&f.admin),
            without(service("NEW-3"), "/code"),
            "code",
        ),
        (&f.prices(), Some(&f.admin), json!({}), "price"),
    ];
    let before = f.app.table_items().await;
    for (uri, token, body, field) in cases {
        let response = f.app.post(uri, token.map(String::as_str), &body).await;
        assert_invalid_field(&response, field, &format!("{uri} without {field}"));
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("missing field"), "{uri}: {detail}");
    }
    assert_eq!(f.app.table_items().await, before);
}

/// `body` serialised and padded with trailing spaces (still valid JSON) to exactly `len` bytes.
fn padded(body: &Value, len: usize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(body).expect("json");
    assert!(
        bytes.len() <= len,
        "the body is already {} bytes",
        bytes.len()
    );
    bytes.resize(len, b' ');
    bytes
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_with_413_and_one_at_the_limit_is_read() {
    let f = Fixture::start().await;
    let before = f.app.table_items().await;
    for (uri, token, body) in f.endpoints() {
        let mut headers = vec![json_type()];
        headers.extend(token.as_deref().map(bearer));
        let too_big = padded(&body, MAX_BODY_BYTES + 1);
        let response = f
            .app
            .send(raw_request(Method::POST, &uri, &headers, too_big.clone()))
            .await;
        response.assert_problem(413, "payload_too_large");
        // The Idempotency-Key middleware reads the body first: the same limit, the same answer.
        headers.push(idempotency_key(&format!("big-{}", unique())));
        let with_key = f
            .app
            .send(raw_request(Method::POST, &uri, &headers, too_big))
            .await;
        with_key.assert_problem(413, "payload_too_large");
        assert_eq!(response.raw, with_key.raw, "{uri}");
    }
    assert_eq!(f.app.table_items().await, before);

    // A body of exactly the limit is read and judged on its content.
    let (mut register, _, _) = registration("Лютик");
    register["user"]["email"] = json!("not-an-email");
    let at_limit = padded(&register, MAX_BODY_BYTES);
    let response = f
        .app
        .send(raw_request(
            Method::POST,
            "/v1/auth/register",
            &[json_type()],
            at_limit,
        ))
        .await;
    assert_invalid_field(&response, "user.email", "a body of exactly the limit");
    assert_eq!(f.app.table_items().await, before);
}

#[tokio::test]
async fn a_body_that_is_not_declared_as_json_is_refused_with_415() {
    let f = Fixture::start().await;
    let before = f.app.table_items().await;
    for (uri, token, body) in f.endpoints() {
        let bytes = serde_json::to_vec(&body).expect("json");
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonp"),
            Some("text/json"),
        ] {
            let mut headers: Vec<(&str, HeaderValue)> =
                token.as_deref().map(bearer).into_iter().collect();
            if let Some(content_type) = content_type {
                headers.push(("content-type", HeaderValue::from_static(content_type)));
            }
            let response = f
                .app
                .send(raw_request(Method::POST, &uri, &headers, bytes.clone()))
                .await;
            assert_eq!(
                response.status.as_u16(),
                415,
                "{uri} as {content_type:?}: {}",
                response.body
            );
            response.assert_problem(415, "unsupported_media_type");
        }
    }
    assert_eq!(f.app.table_items().await, before);

    // The same body as JSON with a charset parameter is accepted.
    let sign_in = json!({"email": f.customer.email, "password": f.customer.password});
    let response = f
        .app
        .send(raw_request(
            Method::POST,
            "/v1/auth/sign-in",
            &[(
                "content-type",
                HeaderValue::from_static("application/json; charset=utf-8"),
            )],
            serde_json::to_vec(&sign_in).expect("json"),
        ))
        .await;
    response.assert_status(200);
}

/// Protected requests tried with bad credentials: accounts and catalog, reads and writes.
fn protected(f: &Fixture) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/v1/me".into(), None),
        (
            Method::POST,
            "/v1/api-keys".into(),
            Some(json!({"name": "CRM", "scopes": ["accounts:read"]})),
        ),
        (
            Method::POST,
            format!("/v1/organisations/{}/users", f.customer.org_id),
            Some(json!({"name": "Анна", "email": format!("anna{}@example.ru", unique())})),
        ),
        (
            Method::POST,
            "/v1/catalog/services".into(),
            Some(service(&format!("NEW-{}", unique()))),
        ),
        (Method::POST, f.prices(), Some(new_price())),
        (Method::GET, "/v1/usage".into(), None),
        (
            Method::POST,
            "/v1/usage".into(),
            Some(
                json!({"events": [{"id": "e-1", "customer": f.customer.org_id, "meter": "TRAFFIC",
                "quantity": "1", "timestamp": "2026-11-28T10:15:00Z"}]}),
            ),
        ),
        (Method::GET, "/v1/usage/rejected".into(), None),
    ]
}

/// Every protected request with `token` is a 401 `unauthenticated` with `WWW-Authenticate`.
async fn all_refused(f: &Fixture, token: &str, what: &str) -> Vec<TestResponse> {
    let mut responses = Vec::new();
    for (method, uri, body) in protected(f) {
        let response = f
            .app
            .send(TestApp::request(method, &uri, Some(token), body.as_ref()))
            .await;
        assert_eq!(
            response.status.as_u16(),
            401,
            "{what} on {uri}: {}",
            response.body
        );
        response.assert_problem(401, "unauthenticated");
        assert_eq!(
            response
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{what} on {uri}"
        );
        responses.push(response);
    }
    responses
}

#[tokio::test]
async fn bad_credentials_are_refused_with_401_and_change_nothing() {
    let f = Fixture::start().await;
    let created = f
        .app
        .post(
            "/v1/api-keys",
            Some(&f.customer.token),
            &json!({"name": "CRM", "scopes": ["accounts:read"]}),
        )
        .await;
    created.assert_status(201);
    let key = created.body["token"].as_str().expect("token").to_owned();
    let key_id = created.body["api_key"]["id"].as_str().expect("id");
    let revoked = f
        .app
        .post(
            "/v1/api-keys",
            Some(&f.customer.token),
            &json!({"name": "Old CRM", "scopes": ["accounts:read"]}),
        )
        .await;
    let revoked_key = revoked.body["token"].as_str().expect("token").to_owned();
    f.app
        .delete(
            &format!(
                "/v1/api-keys/{}",
                revoked.body["api_key"]["id"].as_str().expect("id")
            ),
            Some(&f.customer.token),
        )
        .await
        .assert_status(204);
    // The genuine key works (so a refusal below is about the credential, not the request).
    f.app.get("/v1/me", Some(&key)).await.assert_status(200);
    let secret = key
        .strip_prefix(&format!("kpk_{}_", &key_id["key_".len()..]))
        .unwrap_or_else(|| panic!("the token {key} names the key {key_id}"));

    let before = f.app.table_items().await;
    for (what, credential) in [
        ("garbage", "garbage".to_owned()),
        (
            "an API key with a wrong secret",
            flip_char(&key, key.len() - 5),
        ),
        ("a revoked API key", revoked_key),
        ("a malformed API key", "kpk_nonsense".to_owned()),
        (
            "an API key of an id that never existed",
            format!("kpk_{}_{secret}", ulid_of_new_key()),
        ),
    ] {
        all_refused(&f, &credential, what).await;
    }
    // No credentials at all: the protected handlers refuse too.
    for (method, uri, body) in protected(&f) {
        let response = f
            .app
            .send(TestApp::request(method, &uri, None, body.as_ref()))
            .await;
        response.assert_problem(401, "unauthenticated");
    }
    assert_eq!(f.app.table_items().await, before);

    // A wrong password is refused alike for a known and an unknown e-mail; all it writes is
    // the failed attempt, counted for throttling.
    for email in [
        f.customer.email.clone(),
        format!("nobody{}@example.ru", unique()),
    ] {
        let response = f
            .app
            .post(
                "/v1/auth/sign-in",
                None,
                &json!({"email": email, "password": "Not-the-password-at-all"}),
            )
            .await;
        response.assert_problem(401, "invalid_credentials");
    }
    let after = f.app.table_items().await;
    let written: Vec<&Value> = after.iter().filter(|i| !before.contains(i)).collect();
    let gone: Vec<&Value> = before.iter().filter(|i| !after.contains(i)).collect();
    assert!(gone.is_empty(), "items changed or removed: {gone:#?}");
    assert!(!written.is_empty(), "the failed attempts are counted");
    for item in written {
        assert_eq!(item["type"], "S(\"throttle\")", "{item}");
    }
}

/// The ULID part of a fresh, never-stored API key id.
fn ulid_of_new_key() -> String {
    let id = kopek_domain::ids::ApiKeyId::new().to_string();
    id["key_".len()..].to_owned()
}

#[tokio::test]
async fn an_expired_access_token_is_refused_with_401_and_changes_nothing() {
    let clock = Arc::new(FixedClock::at(future_hour()));
    let f = Fixture::on(TestApp::with_clock(clock.clone()).await).await;
    // Both tokens were issued at the clock's start and live 15 minutes.
    clock.advance(Duration::minutes(15) - Duration::seconds(1));
    f.app
        .get("/v1/me", Some(&f.customer.token))
        .await
        .assert_status(200);
    f.app.get("/v1/me", Some(&f.admin)).await.assert_status(200);
    clock.advance(Duration::seconds(1));

    let before = f.app.table_items().await;
    for (who, token) in [("customer", &f.customer.token), ("admin", &f.admin)] {
        for response in all_refused(&f, token, &format!("the {who}'s expired token")).await {
            let detail = response.body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("expired"), "{}", response.body);
        }
    }
    assert_eq!(f.app.table_items().await, before);
}

#[tokio::test]
async fn a_tampered_or_foreign_access_token_is_refused_with_401_and_changes_nothing() {
    let f = Fixture::start().await;
    let parts: Vec<&str> = f.admin.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {}", f.admin);
    let (header, payload, signature) = (parts[0], parts[1], parts[2]);
    let now = chrono::Utc::now();
    let claims = f
        .app
        .state
        .tokens
        .verify(&f.admin, now)
        .expect("the genuine token verifies");
    let other_key = TokenSigner::new(
        b"not-the-key-of-this-deployment!!",
        std::time::Duration::from_secs(900),
    );
    // The admin's very claims (user, session), signed with another key.
    let foreign = other_key
        .issue(claims.user, Role::Admin, None, claims.session, now)
        .token;
    // The customer's token with its payload raised to admin, signature kept.
    let customer = f.customer.token.split('.').collect::<Vec<_>>();
    let raised = format!("{}.{payload}.{}", customer[0], customer[2]);

    let before = f.app.table_items().await;
    for (what, token) in [
        (
            "signature flipped",
            format!(
                "{header}.{payload}.{}",
                flip_char(signature, signature.len() / 2)
            ),
        ),
        (
            "payload flipped",
            format!(
                "{header}.{}.{signature}",
                flip_char(payload, payload.len() / 2)
            ),
        ),
        ("signature removed", format!("{header}.{payload}.")),
        ("signed with another key", foreign),
        ("another token's payload", raised),
    ] {
        all_refused(&f, &token, what).await;
    }
    assert_eq!(f.app.table_items().await, before);

    // The genuine token still writes.
    f.app
        .post(
            "/v1/catalog/services",
            Some(&f.admin),
            &service(&format!("NEW-{}", unique())),
        )
        .await
        .assert_status(201);
}

#[tokio::test]
async fn an_authorization_header_that_is_not_bearer_is_refused() {
    let f = Fixture::start().await;
    let token = f.admin.clone();
    let before = f.app.table_items().await;
    for value in [
        format!("Basic {token}"),
        format!("Token {token}"),
        format!("Bearer{token}"),
        token.clone(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
    ] {
        for (method, uri, body) in protected(&f) {
            let mut headers = vec![(
                "authorization",
                HeaderValue::from_str(&value).expect("a header value"),
            )];
            let bytes = match &body {
                Some(body) => {
                    headers.push(json_type());
                    serde_json::to_vec(body).expect("json")
                }
                None => Vec::new(),
            };
            let response = f.app.send(raw_request(method, &uri, &headers, bytes)).await;
            assert_eq!(
                response.status.as_u16(),
                401,
                "{value:.12}… on {uri}: {}",
                response.body
            );
            response.assert_problem(401, "unauthenticated");
        }
    }
    assert_eq!(f.app.table_items().await, before);
    let response = f
        .app
        .send(raw_request(
            Method::GET,
            "/v1/me",
            &[(
                "authorization",
                HeaderValue::from_static("Basic dXNlcjpwYXNz"),
            )],
            Body::empty(),
        ))
        .await;
    assert_eq!(response.field(), "Authorization", "{}", response.body);

    // The scheme's name is case-insensitive (RFC 9110 §11.1).
    let response = f
        .app
        .send(raw_request(
            Method::GET,
            "/v1/me",
            &[(
                "authorization",
                HeaderValue::from_str(&format!("bearer {token}")).expect("a header value"),
            )],
            Body::empty(),
        ))
        .await;
    response.assert_status(200);
}

#[tokio::test]
async fn garbage_query_parameters_are_refused_naming_them() {
    let f = Fixture::start().await;
    let users = format!("/v1/organisations/{}/users", f.customer.org_id);
    let quote = format!("/v1/catalog/services/{}/quote?quantity=3", f.code);
    let listings: Vec<(String, Option<&str>)> = vec![
        ("/v1/catalog/services?".into(), None),
        (format!("{users}?"), Some(&f.customer.token)),
        ("/v1/api-keys?".into(), Some(&f.customer.token)),
        ("/v1/organisations?".into(), Some(&f.admin)),
        ("/v1/staff-users?".into(), Some(&f.admin)),
        ("/v1/usage/rejected?".into(), Some(&f.admin)),
    ];
    let before = f.app.table_items().await;

    let mut cases: Vec<(String, Option<&str>, &str, &str)> = Vec::new();
    for (listing, token) in &listings {
        for (query, field) in [
            ("sort=desc", "sort"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=65536", "limit"),
            ("limit=99999999999999999999999", "limit"),
            ("limit=-1", "limit"),
            ("limit=ten", "limit"),
            ("limit=1&limit=2", "limit"),
        ] {
            cases.push((format!("{listing}{query}"), *token, field, "invalid_query"));
        }
    }
    cases.extend([
        (
            format!("{quote}&currency=USD"),
            None,
            "currency",
            "invalid_query",
        ),
        (
            format!("/v1/catalog/services/{}/quote", f.code),
            None,
            "quantity",
            "invalid_query",
        ),
        (
            format!("/v1/catalog/services/{}/quote?quantity=many", f.code),
            None,
            "quantity",
            "invalid_query",
        ),
        (format!("{quote}&at=yesterday"), None, "at", "invalid_query"),
        (
            format!("{}?at=2026-13-01", f.prices()),
            None,
            "at",
            "invalid_query",
        ),
        (
            format!("{}?version=1", f.prices()),
            None,
            "version",
            "invalid_query",
        ),
        (
            "/v1/catalog/services?status=deleted".into(),
            None,
            "status",
            "invalid_query",
        ),
        (
            "/v1/usage?period=2026-13".into(),
            Some(f.customer.token.as_str()),
            "period",
            "invalid_query",
        ),
        (
            "/v1/usage?org=me".into(),
            Some(f.customer.token.as_str()),
            "org",
            "invalid_query",
        ),
        (
            "/v1/usage/meters/TRAFFIC?period=november".into(),
            Some(f.customer.token.as_str()),
            "period",
            "invalid_query",
        ),
        (
            "/v1/usage/health?period=2026-1".into(),
            Some(f.admin.as_str()),
            "period",
            "invalid_query",
        ),
        (
            "/v1/usage/rejected?period=".into(),
            Some(f.admin.as_str()),
            "period",
            "invalid_query",
        ),
    ]);
    for (uri, token, field, code) in cases {
        let response = f.app.get(&uri, token).await;
        assert_eq!(response.status.as_u16(), 400, "{uri}: {}", response.body);
        response.assert_problem(400, code);
        assert_eq!(response.field(), field, "{uri}: {}", response.body);
    }
    // A quantity the calculator cannot price is well-formed but breaks a rule: 422.
    let negative = f
        .app
        .get(
            &format!("/v1/catalog/services/{}/quote?quantity=-1", f.code),
            None,
        )
        .await;
    assert_invalid_field(&negative, "quantity", "a negative quantity");
    assert_eq!(f.app.table_items().await, before);

    // The bounds themselves are fine.
    for (listing, token) in &listings {
        for limit in [1, 100] {
            let uri = format!("{listing}limit={limit}");
            let response = f.app.get(&uri, *token).await;
            assert_eq!(response.status.as_u16(), 200, "{uri}: {}", response.body);
        }
    }
    f.app.get(&quote, None).await.assert_status(200);
}

#[tokio::test]
async fn an_invalid_cursor_is_refused_naming_it() {
    let f = Fixture::start().await;
    // Second items, so that a one-item page has a next cursor.
    f.app
        .post(
            "/v1/catalog/services",
            Some(&f.admin),
            &service(&format!("NEW-{}", unique())),
        )
        .await
        .assert_status(201);
    let users = format!("/v1/organisations/{}/users", f.customer.org_id);
    f.app
        .post(
            &users,
            Some(&f.customer.token),
            &json!({"name": "Анна", "email": format!("anna{}@example.ru", unique())}),
        )
        .await
        .assert_status(201);
    let next_cursor = |response: TestResponse| -> String {
        response.assert_status(200);
        response.body["next_cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("a next page: {}", response.body))
            .to_owned()
    };
    let catalog_cursor = next_cursor(f.app.get("/v1/catalog/services?limit=1", None).await);
    let users_cursor = next_cursor(
        f.app
            .get(&format!("{users}?limit=1"), Some(&f.customer.token))
            .await,
    );
    // Both are good where they came from.
    f.app
        .get(
            &format!("/v1/catalog/services?cursor={catalog_cursor}"),
            None,
        )
        .await
        .assert_status(200);
    f.app
        .get(
            &format!("{users}?cursor={users_cursor}"),
            Some(&f.customer.token),
        )
        .await
        .assert_status(200);

    let (payload, tag) = catalog_cursor.split_once('.').expect("payload.tag");
    let tampered_payload = format!("{}.{tag}", flip_char(payload, payload.len() / 2));
    let tampered_tag = format!("{payload}.{}", flip_char(tag, tag.len() / 2));
    let listings: [(String, Option<&str>); 6] = [
        ("/v1/catalog/services".into(), None),
        (users.clone(), Some(&f.customer.token)),
        ("/v1/api-keys".into(), Some(&f.customer.token)),
        ("/v1/organisations".into(), Some(&f.admin)),
        ("/v1/staff-users".into(), Some(&f.admin)),
        ("/v1/usage/rejected".into(), Some(&f.admin)),
    ];
    let before = f.app.table_items().await;
    for (listing, token) in &listings {
        let mut cursors = vec![
            "garbage".to_owned(),
            String::new(),
            "e30.AAAA".to_owned(),
            tampered_payload.clone(),
            tampered_tag.clone(),
        ];
        // A genuine cursor of another listing.
        if listing.starts_with("/v1/catalog") {
            cursors.push(users_cursor.clone());
        } else {
            cursors.push(catalog_cursor.clone());
        }
        for cursor in cursors {
            let uri = format!("{listing}?cursor={cursor}");
            let response = f.app.get(&uri, *token).await;
            assert_eq!(response.status.as_u16(), 400, "{uri}: {}", response.body);
            response.assert_problem(400, "invalid_cursor");
            assert_eq!(response.field(), "cursor", "{uri}");
        }
    }
    assert_eq!(f.app.table_items().await, before);
}

fn organisations(items: &[Value]) -> usize {
    items
        .iter()
        .filter(|i| i["type"] == "S(\"organisation\")")
        .count()
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_get_the_very_same_response_and_one_record() {
    let f = Fixture::start().await;
    let (register, _, _) = registration("Лютик");
    let key = format!("register-{}", unique());
    let orgs_before = organisations(&f.app.table_items().await);

    let first = post_with(
        &f.app,
        "/v1/auth/register",
        None,
        &register,
        &[idempotency_key(&key)],
    )
    .await;
    first.assert_status(201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let after_first = f.app.table_items().await;
    assert_eq!(organisations(&after_first), orgs_before + 1);

    let again = post_with(
        &f.app,
        "/v1/auth/register",
        None,
        &register,
        &[idempotency_key(&key)],
    )
    .await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.raw, first.raw, "the very same body");
    assert_eq!(again.content_type(), first.content_type());
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(
        f.app.table_items().await,
        after_first,
        "the replay writes nothing: one organisation"
    );

    // The catalog too.
    let body = service(&format!("NEW-{}", unique()));
    let key = format!("service-{}", unique());
    let first = post_with(
        &f.app,
        "/v1/catalog/services",
        Some(&f.admin),
        &body,
        &[idempotency_key(&key)],
    )
    .await;
    first.assert_status(201);
    let after_first = f.app.table_items().await;
    let again = post_with(
        &f.app,
        "/v1/catalog/services",
        Some(&f.admin),
        &body,
        &[idempotency_key(&key)],
    )
    .await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.raw, first.raw);
    assert_eq!(f.app.table_items().await, after_first);

    // Without the key the same body is a new request: its code is taken now.
    f.app
        .post("/v1/catalog/services", Some(&f.admin), &body)
        .await
        .assert_problem(409, "code_taken");
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_request_is_a_409_that_changes_nothing() {
    let f = Fixture::start().await;
    let key = format!("key-{}", unique());
    let body = json!({"name": "CRM", "scopes": ["accounts:read"]});
    let first = post_with(
        &f.app,
        "/v1/api-keys",
        Some(&f.customer.token),
        &body,
        &[idempotency_key(&key)],
    )
    .await;
    first.assert_status(201);

    let before = f.app.table_items().await;
    let other_body = json!({"name": "CRM 2", "scopes": ["accounts:read"]});
    let other_path = format!("/v1/organisations/{}/users", f.customer.org_id);
    let invite = json!({"name": "Анна", "email": format!("anna{}@example.ru", unique())});
    for (uri, body) in [
        ("/v1/api-keys", &other_body),
        (other_path.as_str(), &invite),
    ] {
        let response = post_with(
            &f.app,
            uri,
            Some(&f.customer.token),
            body,
            &[idempotency_key(&key)],
        )
        .await;
        response.assert_problem(409, "idempotency_key_reused");
        assert_eq!(response.field(), "Idempotency-Key");
    }
    assert_eq!(f.app.table_items().await, before);

    // The original request still replays.
    let again = post_with(
        &f.app,
        "/v1/api-keys",
        Some(&f.customer.token),
        &body,
        &[idempotency_key(&key)],
    )
    .await;
    assert_eq!(again.raw, first.raw);
}

#[tokio::test]
async fn idempotency_keys_belong_to_the_caller_that_sent_them() {
    let f = Fixture::start().await;
    let other = f.app.register("Лютик").await;
    let key = format!("shared-{}", unique());
    let body = json!({"name": "CRM", "scopes": ["accounts:read"]});
    let mine = post_with(
        &f.app,
        "/v1/api-keys",
        Some(&f.customer.token),
        &body,
        &[idempotency_key(&key)],
    )
    .await;
    let theirs = post_with(
        &f.app,
        "/v1/api-keys",
        Some(&other.token),
        &body,
        &[idempotency_key(&key)],
    )
    .await;
    mine.assert_status(201);
    theirs.assert_status(201);
    assert!(theirs.headers.get("idempotent-replayed").is_none());
    assert_ne!(mine.body["api_key"]["id"], theirs.body["api_key"]["id"]);
    assert_eq!(theirs.body["api_key"]["org_id"], other.org_id.as_str());
}

#[tokio::test]
async fn anonymous_callers_from_different_addresses_do_not_share_idempotency_keys() {
    let app = TestApp::start().await;
    let key = format!("register-{}", unique());
    let register_from = |name: &str, last: u8| {
        let (body, _, _) = registration(name);
        let mut request = TestApp::request(Method::POST, "/v1/auth/register", None, Some(&body));
        request
            .headers_mut()
            .insert("idempotency-key", key.parse().unwrap());
        app.send_from(
            request,
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, last)),
        )
    };
    let first = register_from("Первая", 1).await;
    let second = register_from("Вторая", 2).await;
    first.assert_status(201);
    second.assert_status(201);
    assert_ne!(
        first.body["organisation"]["id"],
        second.body["organisation"]["id"]
    );
    // From the first address, another body under the same key is still a conflict.
    register_from("Третья", 1)
        .await
        .assert_problem(409, "idempotency_key_reused");
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_refused_and_changes_nothing() {
    let f = Fixture::start().await;
    let body = json!({"name": "CRM", "scopes": ["accounts:read"]});
    let before = f.app.table_items().await;
    for key in [
        HeaderValue::from_static(""),
        HeaderValue::from_static("has space"),
        HeaderValue::from_str(&"k".repeat(256)).expect("a header value"),
        HeaderValue::from_bytes("ключ".as_bytes()).expect("a header value"),
    ] {
        let response = post_with(
            &f.app,
            "/v1/api-keys",
            Some(&f.customer.token),
            &body,
            &[("idempotency-key", key.clone())],
        )
        .await;
        response.assert_problem(400, "invalid_idempotency_key");
        assert_eq!(response.field(), "Idempotency-Key", "{key:?}");
    }
    assert_eq!(f.app.table_items().await, before);
    // 255 visible characters are fine.
    post_with(
        &f.app,
        "/v1/api-keys",
        Some(&f.customer.token),
        &body,
        &[idempotency_key(&"k".repeat(255))],
    )
    .await
    .assert_status(201);
}

#[tokio::test]
async fn a_retry_while_the_first_request_runs_is_a_409_until_its_claim_goes_stale() {
    let clock = Arc::new(FixedClock::at(future_hour()));
    let app = TestApp::with_clock(clock.clone()).await;
    let (register, _, _) = registration("Лютик");
    let bytes = serde_json::to_vec(&register).expect("json");
    let key = format!("slow-{}", unique());
    // A first request that claimed the key and has not finished (its function died, say):
    // the claim carries the request's fingerprint, a hash of method, path and body.
    let mut request = b"POST\0/v1/auth/register\0".to_vec();
    request.extend_from_slice(&bytes);
    let claim = app
        .store
        // An anonymous caller's keys are scoped by its address; `send` comes from 127.0.0.1.
        .claim_idempotency_key(
            "anonymous@127.0.0.1",
            &key,
            &sha256_hex(&request),
            clock.now(),
        )
        .await
        .expect("claim");
    assert_eq!(claim, kopek_aws::dynamo::idempotency::Claim::Fresh);

    let send = || {
        app.send(raw_request(
            Method::POST,
            "/v1/auth/register",
            &[json_type(), idempotency_key(&key)],
            bytes.clone(),
        ))
    };
    let before = app.table_items().await;
    let busy = send().await;
    busy.assert_problem(409, "idempotency_key_in_progress");
    assert_eq!(busy.field(), "Idempotency-Key");
    clock.advance(kopek_aws::dynamo::idempotency::STALE_CLAIM);
    send()
        .await
        .assert_problem(409, "idempotency_key_in_progress");
    assert_eq!(app.table_items().await, before);

    // Past the stale limit the retry takes the claim over and is answered.
    clock.advance(Duration::seconds(1));
    let answered = send().await;
    answered.assert_status(201);
    let replayed = send().await;
    assert_eq!(replayed.raw, answered.raw);
}

/// Kopek keeps only a hash of an API key's secret, and the tokens of a session only hashed
/// too; a response kept for an `Idempotency-Key` replay is sealed (AES-256-GCM) before it is
/// stored, so no issued secret sits in the table in clear — and the replay still gives the
/// client the very response it missed.
#[tokio::test]
async fn a_response_kept_for_replay_holds_no_secret_in_clear() {
    let f = Fixture::start().await;
    let secret_of = |created: &TestResponse| -> String {
        created.assert_status(201);
        let id = created.body["api_key"]["id"].as_str().expect("id");
        let token = created.body["token"].as_str().expect("token");
        token
            .strip_prefix(&format!("kpk_{}_", &id["key_".len()..]))
            .unwrap_or_else(|| panic!("the token {token} names the key {id}"))
            .to_owned()
    };
    let body = json!({"name": "CRM", "scopes": ["accounts:read"]});
    // Without an Idempotency-Key only the hash is kept: the check below can tell.
    let plain = secret_of(
        &f.app
            .post("/v1/api-keys", Some(&f.customer.token), &body)
            .await,
    );
    assert!(!everything_stored(&f.app).await.contains(&plain));

    let created_key = format!("key-{}", unique());
    let created = post_with(
        &f.app,
        "/v1/api-keys",
        Some(&f.customer.token),
        &body,
        &[idempotency_key(created_key.as_str())],
    )
    .await;
    let secret = secret_of(&created);
    let replayed = post_with(
        &f.app,
        "/v1/api-keys",
        Some(&f.customer.token),
        &body,
        &[idempotency_key(created_key.as_str())],
    )
    .await;
    assert_eq!(
        replayed.raw, created.raw,
        "the replay is the response the client missed"
    );
    assert_eq!(
        replayed
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let (register, _, _) = registration("Лютик");
    let registered = post_with(
        &f.app,
        "/v1/auth/register",
        None,
        &register,
        &[idempotency_key(&format!("register-{}", unique()))],
    )
    .await;
    registered.assert_status(201);
    let refresh = registered.body["session"]["refresh_token"]
        .as_str()
        .expect("refresh token");

    let stored = everything_stored(&f.app).await;
    for (what, value) in [
        ("API key secret", secret.as_str()),
        ("refresh token", refresh),
    ] {
        assert!(!stored.contains(value), "the {what} is stored in clear");
    }
}

/// Every string and binary attribute in the table, as text.
async fn everything_stored(app: &TestApp) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    fn text(value: &AttributeValue, out: &mut String) {
        match value {
            AttributeValue::S(s) => out.push_str(s),
            AttributeValue::B(b) => out.push_str(&String::from_utf8_lossy(b.as_ref())),
            AttributeValue::M(m) => m.values().for_each(|v| text(v, out)),
            AttributeValue::L(l) => l.iter().for_each(|v| text(v, out)),
            AttributeValue::Ss(set) => set.iter().for_each(|s| out.push_str(s)),
            _ => {}
        }
        out.push('\n');
    }
    let mut out = String::new();
    for item in app.scan_all().await {
        item.values().for_each(|v| text(v, &mut out));
    }
    out
}
