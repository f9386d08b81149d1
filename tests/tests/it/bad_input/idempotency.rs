//! The `Idempotency-Key` rules: a replay is the very same response, another request under the
//! same key is a conflict, keys belong to their caller, a key is well formed, a request still
//! running holds its key, and a kept response holds no secret in clear.

use super::{Fixture, idempotency_key, json_type, organisations, post_with, raw_request, service};
use axum::http::{HeaderValue, Method};
use chrono::Duration;
use kopek_domain::accounts::sha256_hex;
use kopek_domain::clock::{Clock, FixedClock};
use kopek_tests::{TestApp, TestResponse, future_hour, registration, unique};
use serde_json::json;
use std::sync::Arc;

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
