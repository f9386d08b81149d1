//! The credentials a request carries: missing, wrong, expired, tampered, foreign or not a
//! bearer token.

use super::{Fixture, json_type, new_price, raw_request, service};
use axum::body::Body;
use axum::http::{HeaderValue, Method};
use chrono::Duration;
use kopek_domain::accounts::Role;
use kopek_domain::clock::FixedClock;
use kopek_http::auth::TokenSigner;
use kopek_tests::{TestApp, TestResponse, flip_char, future_hour, unique};
use serde_json::{Value, json};
use std::sync::Arc;

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
    assert!(!written.is_empty(), "the failed attempts are counted");
    // Only throttle counters were written or moved on (a counter that the earlier successful
    // sign-ins left at zero counts again); nothing else changed.
    for item in written.iter().chain(&gone) {
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
