//! Bad input over the real router: every refusal is a 4xx `application/problem+json` with a
//! stable `code`, names the field (or parameter, or header) it is about, and changes nothing
//! in the table. Covers the accounts endpoints (register, sign-in, API keys, invitations), the
//! catalog endpoints (create a service, add a price, quote, browse) and the usage endpoints
//! (external references, the usage views, health, the rejected events; the refusal of usage
//! events themselves is in `usage_api/`), the credentials a request carries, query strings
//! and cursors, and the `Idempotency-Key` rules: one file each ([`json`], [`credentials`],
//! [`queries`], [`idempotency`]; strictness and bounds in [`strict`]), on the fixture and request helpers here.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request};
use kopek_tests::{Customer, TestApp, TestResponse, registration, unique};
use serde_json::{Value, json};

mod credentials;
mod idempotency;
mod json;
mod queries;
mod strict;

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

fn organisations(items: &[Value]) -> usize {
    items
        .iter()
        .filter(|i| i["type"] == "S(\"organisation\")")
        .count()
}
