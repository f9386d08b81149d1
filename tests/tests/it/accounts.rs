//! Accounts through the HTTP API: registration, sign-in and its throttling, sessions
//! (refresh, sign-out, password change, expiry, tampering), invitations and API keys.
//!
//! Time-dependent behaviour runs on a [`FixedClock`] set in the future (so no DynamoDB TTL
//! can consider a fresh item expired) and aligned to the 15-minute throttling windows.

use axum::http::Method;
use chrono::{DateTime, Duration, Utc};
use kopek_domain::accounts::{Role, sha256_hex};
use kopek_domain::clock::FixedClock;
use kopek_domain::ids::{SessionId, UserId};
use kopek_http::auth::TokenSigner;
use kopek_tests::{Customer, TestApp, TestResponse, flip_char, future_hour, registration, unique};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Every item of the test's table in a canonical form, sorted: for "nothing changed".
async fn table(app: &TestApp) -> Vec<Value> {
    app.table_items().await
}

async fn app_at(start: DateTime<Utc>) -> (TestApp, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::at(start));
    let app = TestApp::with_clock(clock.clone()).await;
    (app, clock)
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

async fn sign_in_from(app: &TestApp, email: &str, password: &str, from: IpAddr) -> TestResponse {
    let body = json!({"email": email, "password": password});
    app.send_from(
        TestApp::request(Method::POST, "/v1/auth/sign-in", None, Some(&body)),
        from,
    )
    .await
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.post(
        "/v1/auth/sign-in",
        None,
        &json!({"email": email, "password": password}),
    )
    .await
}

fn token_of(response: &TestResponse) -> String {
    response.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {}", response.body))
        .to_owned()
}

fn refresh_of(response: &TestResponse) -> String {
    response.body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {}", response.body))
        .to_owned()
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

/// Invites a colleague into `customer`'s organisation; returns the invitation response.
async fn invite(app: &TestApp, customer: &Customer, email: &str) -> TestResponse {
    app.post(
        &format!("/v1/organisations/{}/users", customer.org_id),
        Some(&customer.token),
        &json!({"name": "Пётр Сидоров", "email": email}),
    )
    .await
}

#[tokio::test]
async fn registering_opens_an_organisation_and_signs_its_first_user_in() {
    let app = TestApp::start().await;
    let (body, email, _) = registration("Ромашка");
    let response = app.post("/v1/auth/register", None, &body).await;
    response.assert_status(201);
    let org = &response.body["organisation"];
    let session = &response.body["session"];
    assert!(
        str_of(&org["id"], "organisation.id").starts_with("org_"),
        "{org}"
    );
    assert_eq!(org["legal_name"], "ООО «Ромашка»");
    assert_eq!(org["tax_id"], body["organisation"]["tax_id"]);
    assert_eq!(org["currency"], "RUB");
    assert_eq!(org["language"], "ru");
    assert_eq!(org["status"], "active");
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["expires_in"], 900);
    assert_eq!(session["user"]["email"], email.as_str());
    assert_eq!(session["user"]["role"], "customer");
    assert_eq!(session["user"]["status"], "active");
    assert_eq!(session["user"]["org_id"], org["id"]);
    assert!(
        !response
            .body
            .to_string()
            .contains(str_of(&body["user"]["password"], "password")),
        "the password is echoed"
    );

    let me = app
        .get(
            "/v1/me",
            Some(str_of(&session["access_token"], "access_token")),
        )
        .await;
    me.assert_status(200);
    assert_eq!(me.body["kind"], "user");
    assert_eq!(me.body["role"], "customer");
    assert_eq!(me.body["organisation"]["id"], org["id"]);
    assert_eq!(me.body["user"]["id"], session["user"]["id"]);

    let kinds: Vec<String> = table(&app)
        .await
        .iter()
        .filter_map(|item| item["type"].as_str().map(str::to_owned))
        .collect();
    for kind in ["organisation", "user", "session"] {
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == format!("S({kind:?})"))
                .count(),
            1,
            "one {kind} item; items: {kinds:?}"
        );
    }
}

#[tokio::test]
async fn an_email_taken_in_another_case_is_a_conflict_and_changes_nothing() {
    let app = TestApp::start().await;
    let first = app.register("Ромашка").await;
    let before = table(&app).await;

    let (mut body, _, _) = registration("Лютик");
    body["user"]["email"] = json!(first.email.to_uppercase());
    let response = app.post("/v1/auth/register", None, &body).await;
    response.assert_problem(409, "email_taken");
    assert_eq!(response.field(), "user.email");

    assert_eq!(
        table(&app).await,
        before,
        "a refused registration must not write anything"
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_refusal() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;

    let ok = sign_in(&app, &customer.email, &customer.password).await;
    ok.assert_status(200);
    assert_eq!(ok.body["user"]["id"], customer.user_id.as_str());
    app.get("/v1/me", Some(&token_of(&ok)))
        .await
        .assert_status(200);
    // The e-mail is matched regardless of case.
    sign_in(&app, &customer.email.to_uppercase(), &customer.password)
        .await
        .assert_status(200);

    let wrong = sign_in(&app, &customer.email, "Not-the-password-at-all").await;
    wrong.assert_problem(401, "invalid_credentials");
    let unknown = sign_in(
        &app,
        &format!("nobody{}@example.ru", unique()),
        "Not-the-password-at-all",
    )
    .await;
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(
        wrong.raw, unknown.raw,
        "the two refusals must not tell an attacker which e-mails exist"
    );
    assert_eq!(
        wrong.headers.get("www-authenticate"),
        unknown.headers.get("www-authenticate")
    );
}

#[tokio::test]
async fn the_sixth_sign_in_after_five_failures_is_throttled_even_with_the_right_password() {
    // 7.5 minutes into a 15-minute window: the window ends in 450 seconds.
    let start = future_hour() + Duration::seconds(450);
    let (app, clock) = app_at(start).await;
    let customer = app.register("Ромашка").await;
    let bystander = app.register("Лютик").await;

    for attempt in 1..=5 {
        let response = sign_in(&app, &customer.email, &format!("Wrong-password-{attempt}")).await;
        response.assert_problem(401, "invalid_credentials");
    }
    let throttled = sign_in(&app, &customer.email, &customer.password).await;
    throttled.assert_problem(429, "too_many_attempts");
    let retry_after = throttled
        .headers
        .get("retry-after")
        .expect("a Retry-After header");
    assert_eq!(retry_after.to_str().expect("ASCII"), "450");
    // The e-mail in another case is the same account.
    sign_in(&app, &customer.email.to_uppercase(), &customer.password)
        .await
        .assert_problem(429, "too_many_attempts");

    // Another account from the same address is not affected.
    sign_in(&app, &bystander.email, &bystander.password)
        .await
        .assert_status(200);

    clock.advance(Duration::seconds(449));
    sign_in(&app, &customer.email, &customer.password)
        .await
        .assert_problem(429, "too_many_attempts");
    clock.advance(Duration::seconds(1));
    sign_in(&app, &customer.email, &customer.password)
        .await
        .assert_status(200);
}

/// Ten wrong passwords sent at once: each attempt takes its place under the limit in the same
/// write that checks it, so at most five are verified (answered 401) and the rest are refused
/// unverified (429), and the account stays locked for the right password too.
#[tokio::test]
async fn ten_wrong_passwords_at_once_are_verified_at_most_five_times() {
    let (app, _clock) = app_at(future_hour() + Duration::minutes(2)).await;
    let customer = app.register("Ромашка").await;

    let attempts = (0..10).map(|n| {
        let (app, email) = (&app, customer.email.clone());
        async move { sign_in(app, &email, &format!("Wrong-password-{n}")).await }
    });
    let responses = futures::future::join_all(attempts).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    let verified = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(verified + refused, 10, "only 401 or 429: {statuses:?}");
    assert!(verified <= 5, "{verified} passwords verified: {statuses:?}");
    assert_eq!(
        verified, 5,
        "the limit's five places are all used: {statuses:?}"
    );

    sign_in(&app, &customer.email, &customer.password)
        .await
        .assert_problem(429, "too_many_attempts");
    let counted: Vec<Value> = table(&app)
        .await
        .into_iter()
        .filter(|i| i["PK"].to_string().contains("THROTTLE#ACCOUNT#"))
        .collect();
    assert_eq!(counted.len(), 1, "{counted:#?}");
    assert_eq!(counted[0]["failures"], "N(\"5\")", "{counted:#?}");
}

#[tokio::test]
async fn twenty_failures_from_one_address_throttle_that_address_but_not_another() {
    let (app, _clock) = app_at(future_hour() + Duration::minutes(1)).await;
    let customer = app.register("Ромашка").await;
    let attacker = ip(203, 0, 113, 7);

    for _ in 0..20 {
        let email = format!("guess{}@example.ru", unique());
        sign_in_from(&app, &email, "Some-guessed-password", attacker)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let throttled = sign_in_from(&app, &customer.email, &customer.password, attacker).await;
    throttled.assert_problem(429, "too_many_attempts");
    assert_eq!(
        throttled
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("840")
    );

    sign_in_from(
        &app,
        &customer.email,
        &customer.password,
        ip(198, 51, 100, 1),
    )
    .await
    .assert_status(200);
}

#[tokio::test]
async fn a_refresh_token_gives_new_tokens_once_and_its_reuse_ends_the_session() {
    let (app, clock) = app_at(future_hour()).await;
    let customer = app.register("Ромашка").await;
    clock.advance(Duration::minutes(1));

    let refreshed = app
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": customer.refresh_token}),
        )
        .await;
    refreshed.assert_status(200);
    let (access, refresh) = (token_of(&refreshed), refresh_of(&refreshed));
    assert_ne!(access, customer.token, "a new access token");
    assert_ne!(refresh, customer.refresh_token, "a new refresh token");
    assert_eq!(refreshed.body["user"]["id"], customer.user_id.as_str());
    app.get("/v1/me", Some(&access)).await.assert_status(200);

    // The old refresh token again: someone copied it. The session ends for everyone.
    let reused = app
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": customer.refresh_token}),
        )
        .await;
    reused.assert_problem(401, "invalid_credentials");
    app.get("/v1/me", Some(&access))
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/v1/me", Some(&customer.token))
        .await
        .assert_problem(401, "unauthenticated");
    app.post("/v1/auth/refresh", None, &json!({"refresh_token": refresh}))
        .await
        .assert_problem(401, "invalid_credentials");

    // A new sign-in is unaffected.
    let again = sign_in(&app, &customer.email, &customer.password).await;
    again.assert_status(200);
    app.get("/v1/me", Some(&token_of(&again)))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn signing_out_refuses_the_access_and_refresh_tokens_at_once() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let other = sign_in(&app, &customer.email, &customer.password).await;
    other.assert_status(200);

    app.post("/v1/auth/sign-out", Some(&customer.token), &json!({}))
        .await
        .assert_status(204);
    app.get("/v1/me", Some(&customer.token))
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/v1/auth/refresh",
        None,
        &json!({"refresh_token": customer.refresh_token}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    // Only that session ended.
    app.get("/v1/me", Some(&token_of(&other)))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_keeps_the_current_one() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let second = sign_in(&app, &customer.email, &customer.password).await;
    second.assert_status(200);
    let new_password = format!("Brand-new-secret-{}", unique());

    let before = table(&app).await;
    let wrong = app
        .post(
            "/v1/auth/password",
            Some(&customer.token),
            &json!({"current_password": "Not-my-password-1", "new_password": new_password}),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.field(), "current_password");
    assert_eq!(
        table(&app).await,
        before,
        "a refused change must not write anything"
    );

    app.post(
        "/v1/auth/password",
        Some(&customer.token),
        &json!({"current_password": customer.password, "new_password": new_password}),
    )
    .await
    .assert_status(204);

    app.get("/v1/me", Some(&customer.token))
        .await
        .assert_status(200);
    app.get("/v1/me", Some(&token_of(&second)))
        .await
        .assert_problem(401, "unauthenticated");
    app.post(
        "/v1/auth/refresh",
        None,
        &json!({"refresh_token": refresh_of(&second)}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    sign_in(&app, &customer.email, &customer.password)
        .await
        .assert_problem(401, "invalid_credentials");
    sign_in(&app, &customer.email, &new_password)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn an_invited_colleague_accepts_the_invitation_once_and_signs_in() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let email = format!("colleague{}@romashka.example.ru", unique());
    let password = format!("Colleague-password-{}", unique());

    let invited = invite(&app, &customer, &email).await;
    invited.assert_status(201);
    assert_eq!(invited.body["user"]["status"], "invited");
    assert_eq!(invited.body["user"]["role"], "customer");
    assert_eq!(invited.body["user"]["org_id"], customer.org_id.as_str());
    let token = str_of(&invited.body["invitation_token"], "invitation_token").to_owned();

    // Until the invitation is accepted there is no password to sign in with.
    sign_in(&app, &email, &password)
        .await
        .assert_problem(401, "invalid_credentials");

    let accepted = app
        .post(
            "/v1/auth/accept-invitation",
            None,
            &json!({"token": token, "password": password}),
        )
        .await;
    accepted.assert_status(200);
    assert_eq!(accepted.body["user"]["status"], "active");
    let me = app.get("/v1/me", Some(&token_of(&accepted))).await;
    me.assert_status(200);
    assert_eq!(me.body["organisation"]["id"], customer.org_id.as_str());
    assert_eq!(me.body["user"]["email"], email.as_str());

    let signed_in = sign_in(&app, &email, &password).await;
    signed_in.assert_status(200);
    assert_eq!(signed_in.body["user"]["org_id"], customer.org_id.as_str());

    // The token is single use.
    let again = app
        .post(
            "/v1/auth/accept-invitation",
            None,
            &json!({"token": token, "password": "Another-password-42"}),
        )
        .await;
    again.assert_problem(401, "invalid_credentials");
    sign_in(&app, &email, &password).await.assert_status(200);

    // The organisation now lists both users.
    let users = app
        .get(
            &format!("/v1/organisations/{}/users", customer.org_id),
            Some(&customer.token),
        )
        .await;
    users.assert_status(200);
    let mut emails: Vec<&str> = users.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| str_of(&u["email"], "email"))
        .collect();
    emails.sort_unstable();
    let mut expected = vec![customer.email.as_str(), email.as_str()];
    expected.sort_unstable();
    assert_eq!(emails, expected);
}

#[tokio::test]
async fn an_invitation_is_good_for_seven_days_and_then_expires() {
    let (app, clock) = app_at(future_hour()).await;
    let customer = app.register("Ромашка").await;
    let early = invite(&app, &customer, &format!("early{}@example.ru", unique())).await;
    early.assert_status(201);
    let late = invite(&app, &customer, &format!("late{}@example.ru", unique())).await;
    late.assert_status(201);

    clock.advance(Duration::days(7) - Duration::seconds(1));
    app.post(
        "/v1/auth/accept-invitation",
        None,
        &json!({"token": early.body["invitation_token"], "password": "Early-password-123"}),
    )
    .await
    .assert_status(200);

    clock.advance(Duration::days(1) + Duration::seconds(1));
    let before = table(&app).await;
    let expired = app
        .post(
            "/v1/auth/accept-invitation",
            None,
            &json!({"token": late.body["invitation_token"], "password": "Late-password-1234"}),
        )
        .await;
    expired.assert_problem(410, "invitation_expired");
    assert_eq!(table(&app).await, before);
}

#[tokio::test]
async fn an_api_key_is_shown_once_stored_hashed_and_revoked_at_once() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;

    let created = app
        .post(
            "/v1/api-keys",
            Some(&customer.token),
            &json!({"name": "CRM integration", "scopes": ["orders:write", "accounts:read"]}),
        )
        .await;
    created.assert_status(201);
    let key = &created.body["api_key"];
    let key_id = str_of(&key["id"], "api_key.id").to_owned();
    let token = str_of(&created.body["token"], "token").to_owned();
    assert!(key_id.starts_with("key_"), "{key}");
    assert_eq!(key["role"], "customer");
    assert_eq!(key["org_id"], customer.org_id.as_str());
    assert_eq!(key["scopes"], json!(["accounts:read", "orders:write"]));
    assert!(key.get("revoked_at").is_none(), "{key}");
    let ulid = &key_id["key_".len()..];
    let secret = token
        .strip_prefix(&format!("kpk_{ulid}_"))
        .unwrap_or_else(|| panic!("token {token} does not name key {key_id}"));

    // Stored hashed: neither the token nor its secret is anywhere in the table, its hash is.
    let snapshot = table(&app).await;
    let everything = format!("{snapshot:?}");
    assert!(
        !everything.contains(secret),
        "the key's secret is stored in clear"
    );
    assert!(!everything.contains(&token));
    assert!(
        everything.contains(&sha256_hex(secret.as_bytes())),
        "the key's hash is not stored"
    );

    // Shown once: the listing does not carry it.
    let listed = app.get("/v1/api-keys", Some(&customer.token)).await;
    listed.assert_status(200);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed.body["items"][0]["id"], key_id.as_str());
    assert!(
        !listed
            .raw
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
    );
    assert!(listed.body["items"][0].get("token").is_none());

    let me = app.get("/v1/me", Some(&token)).await;
    me.assert_status(200);
    assert_eq!(me.body["kind"], "api_key");
    assert_eq!(me.body["api_key"]["id"], key_id.as_str());
    assert_eq!(me.body["organisation"]["id"], customer.org_id.as_str());
    assert_eq!(me.body["scopes"], json!(["accounts:read", "orders:write"]));

    // A token with the right id but another secret is refused.
    let forged = flip_char(&token, token.len() - 10);
    app.get("/v1/me", Some(&forged))
        .await
        .assert_problem(401, "unauthenticated");

    app.delete(&format!("/v1/api-keys/{key_id}"), Some(&customer.token))
        .await
        .assert_status(204);
    app.get("/v1/me", Some(&token))
        .await
        .assert_problem(401, "unauthenticated");
    app.delete(&format!("/v1/api-keys/{key_id}"), Some(&customer.token))
        .await
        .assert_problem(409, "invalid_state");
    let listed = app.get("/v1/api-keys", Some(&customer.token)).await;
    assert!(
        listed.body["items"][0]["revoked_at"].is_string(),
        "{}",
        listed.body
    );
}

#[tokio::test]
async fn a_customer_cannot_create_a_staff_key_nor_one_with_catalog_write() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let before = table(&app).await;

    let staff_key = app
        .post(
            "/v1/api-keys",
            Some(&customer.token),
            &json!({"name": "Usage feed", "role": "engineer", "scopes": ["usage:write"]}),
        )
        .await;
    staff_key.assert_problem(403, "forbidden");
    let admin_key = app
        .post(
            "/v1/api-keys",
            Some(&customer.token),
            &json!({"name": "Root", "role": "admin", "scopes": []}),
        )
        .await;
    admin_key.assert_problem(403, "forbidden");

    let beyond = app
        .post(
            "/v1/api-keys",
            Some(&customer.token),
            &json!({"name": "Catalog sync", "scopes": ["orders:read", "catalog:write"]}),
        )
        .await;
    beyond.assert_problem(422, "validation_failed");
    assert_eq!(beyond.field(), "scopes");
    assert!(
        beyond.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("catalog:write"),
        "{}",
        beyond.body
    );

    let unknown = app
        .post(
            "/v1/api-keys",
            Some(&customer.token),
            &json!({"name": "Typo", "scopes": ["orders:read", "orders:wrtie"]}),
        )
        .await;
    unknown.assert_problem(422, "validation_failed");
    assert_eq!(unknown.field(), "scopes[1]");

    assert_eq!(table(&app).await, before);
}

#[tokio::test]
async fn an_access_token_expires_after_fifteen_minutes_but_the_session_can_be_refreshed() {
    let (app, clock) = app_at(future_hour()).await;
    let customer = app.register("Ромашка").await;

    clock.advance(Duration::minutes(15) - Duration::seconds(1));
    app.get("/v1/me", Some(&customer.token))
        .await
        .assert_status(200);
    clock.advance(Duration::minutes(1) + Duration::seconds(1));
    let expired = app.get("/v1/me", Some(&customer.token)).await;
    expired.assert_problem(401, "unauthenticated");
    assert!(
        expired.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{}",
        expired.body
    );
    assert_eq!(
        expired
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );

    let refreshed = app
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": customer.refresh_token}),
        )
        .await;
    refreshed.assert_status(200);
    app.get("/v1/me", Some(&token_of(&refreshed)))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_tampered_or_foreign_access_token_is_refused() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let parts: Vec<&str> = customer.token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {}", customer.token);
    let (header, payload, signature) = (parts[0], parts[1], parts[2]);

    let signature_flipped = format!(
        "{header}.{payload}.{}",
        flip_char(signature, signature.len() / 2)
    );
    let payload_flipped = format!(
        "{header}.{}.{signature}",
        flip_char(payload, payload.len() / 2)
    );
    let unsigned = format!("{header}.{payload}.");
    // Claims of another user and role, under the real token's signature.
    let now = Utc::now();
    let staff_session = SessionId::new();
    let other_key = TokenSigner::new(
        b"not-the-key-of-this-deployment!!",
        std::time::Duration::from_secs(900),
    );
    let forged_admin = other_key
        .issue(UserId::new(), Role::Admin, None, staff_session, now)
        .token;
    let forged_payload = forged_admin.split('.').nth(1).expect("payload");
    let swapped = format!("{header}.{forged_payload}.{signature}");
    // The customer's own user and session, signed with another key.
    let user: UserId = customer.user_id.parse().expect("a user id");
    let claims_of_self = app
        .state
        .tokens
        .verify(&customer.token, now)
        .expect("the real token verifies");
    let foreign = other_key
        .issue(
            user,
            Role::Customer,
            claims_of_self.org,
            claims_of_self.session,
            now,
        )
        .token;

    for (what, token) in [
        ("signature flipped", signature_flipped),
        ("payload flipped", payload_flipped),
        ("signature removed", unsigned),
        ("payload swapped", swapped),
        ("signed with another key", foreign),
        ("not a token", "garbage".to_owned()),
    ] {
        let response = app.get("/v1/me", Some(&token)).await;
        assert_eq!(response.status.as_u16(), 401, "{what}: {}", response.body);
        assert_eq!(
            response.code(),
            "unauthenticated",
            "{what}: {}",
            response.body
        );
    }
    // A scheme other than Bearer.
    let basic = axum::http::Request::builder()
        .uri("/v1/me")
        .header("authorization", format!("Basic {}", customer.token))
        .body(axum::body::Body::empty())
        .expect("request");
    app.send(basic).await.assert_problem(401, "unauthenticated");
    // The genuine token still works.
    app.get("/v1/me", Some(&customer.token))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn only_an_admin_invites_staff() {
    let app = TestApp::start().await;
    let customer = app.register("Ромашка").await;
    let manager = app.staff_with_role("manager").await;
    let admin = app.admin().await;
    let before = table(&app).await;

    let body = json!({"name": "Новый инженер", "email": format!("engineer{}@kopek.test", unique()), "role": "engineer"});
    app.post("/v1/staff-users", Some(&customer.token), &body)
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/staff-users", Some(&manager), &body)
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(table(&app).await, before);

    let invited = app.post("/v1/staff-users", Some(&admin), &body).await;
    invited.assert_status(201);
    assert_eq!(invited.body["user"]["role"], "engineer");
    assert!(
        invited.body["user"].get("org_id").is_none(),
        "{}",
        invited.body
    );

    // Staff roles only: a customer cannot be invited as staff.
    let customer_role =
        json!({"name": "Клиент", "email": format!("c{}@kopek.test", unique()), "role": "customer"});
    let refused = app
        .post("/v1/staff-users", Some(&admin), &customer_role)
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.field(), "role");
}
