//! Webhooks and the events feed, end to end through the router, the outbox relay (the
//! dispatcher), the webhook queue and the delivery service, against loopback receivers
//! (allowed here as `WebhooksAllowPrivate` allows them) — and signatures checked by the
//! Standard Webhooks reference library, not by Kopek's code.

pub(crate) mod receiver;

use std::sync::Arc;

use chrono::Utc;
use kopek_aws::hooks::HookClient;
use kopek_domain::clock::FixedClock;
use kopek_local::tools;
use kopek_services::webhooks::DeliveryMessage;
use kopek_tests::{Customer, TestApp};
use receiver::Receiver;
use serde_json::{Value, json};

/// Registers an endpoint at `url` for `types` as `admin`: its id and secret.
async fn endpoint(app: &TestApp, admin: &str, url: &str, types: &[&str]) -> (String, String) {
    let created = app
        .post(
            "/v1/webhook-endpoints",
            Some(admin),
            &json!({"url": url, "description": "CRM", "types": types}),
        )
        .await;
    created.assert_status(201);
    (
        created.body["endpoint"]["id"]
            .as_str()
            .expect("an id")
            .to_owned(),
        created.body["secret"]
            .as_str()
            .expect("a secret")
            .to_owned(),
    )
}

/// Records a payment from `customer` (a `payment.received` event).
async fn pay(app: &TestApp, admin: &str, customer: &Customer, reference: &str) {
    let today = app.state.services.today();
    app.post(
        "/v1/billing/payments",
        Some(admin),
        &json!({"org_id": customer.org_id, "amount": "100.00", "currency": "RUB",
                "received_on": today.to_string(), "reference": reference}),
    )
    .await
    .assert_status(201);
}

/// What the Standard Webhooks reference library (Python, `standardwebhooks`) says of each
/// request under `secret`: `true` where it verified.
fn verified_by_reference_library(secret: &str, requests: &[receiver::Received]) -> Vec<bool> {
    let cases: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({"body": r.body, "headers": {"webhook-id": r.id,
                    "webhook-timestamp": r.timestamp, "webhook-signature": r.signature}})
        })
        .collect();
    let input = json!({"secret": secret, "cases": cases}).to_string();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
given = json.load(sys.stdin)
hook = Webhook(given["secret"])
out = []
for case in given["cases"]:
    try:
        hook.verify(case["body"].encode(), case["headers"])
        out.append(True)
    except WebhookVerificationError:
        out.append(False)
print(json.dumps(out))
"#;
    let python = tools::ensure(&tools::project_root())
        .expect("the tools")
        .python;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("written");
    let out = child.wait_with_output().expect("python ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list")
}

#[tokio::test]
async fn signatures_verify_with_the_standard_webhooks_reference_library_during_a_rotation_too() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let customer = app.register("Вебхук").await;
    let receiver = Receiver::start(0).await;
    let (id, secret) = endpoint(&app, &admin, &receiver.url(), &["payment.received"]).await;
    assert!(secret.starts_with("whsec_"), "{secret}");

    pay(&app, &admin, &customer, "п/п 1").await;
    let relayed = app.relay().await;
    assert_eq!(relayed.webhooks.deliveries, 1, "{relayed:?}");
    assert_eq!(app.drain_webhooks().await, 1);
    let first = receiver.requests();
    assert_eq!(first.len(), 1);
    let envelope: Value = serde_json::from_str(&first[0].body).expect("JSON");
    assert_eq!(envelope["type"], "payment.received");
    assert_eq!(envelope["id"], first[0].id.as_str());
    assert_eq!(envelope["org_id"], customer.org_id.as_str());
    assert_eq!(envelope["data"]["reference"], "п/п 1");
    assert_eq!(verified_by_reference_library(&secret, &first), [true]);
    // A secret that is not the endpoint's does not verify it: the check can fail.
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_eq!(verified_by_reference_library(other, &first), [false]);

    // Rotated with an hour's overlap: both secrets sign, so either side verifies.
    let rotated = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            Some(&admin),
            &json!({"overlap_seconds": 3600}),
        )
        .await;
    rotated.assert_status(200);
    let new_secret = rotated.body["secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    assert_ne!(new_secret, secret);
    assert!(rotated.body["endpoint"]["previous_secret_until"].is_string());
    pay(&app, &admin, &customer, "п/п 2").await;
    app.relay().await;
    app.drain_webhooks().await;
    let second = receiver.requests()[1..].to_vec();
    assert_eq!(
        second[0].signature.split(' ').count(),
        2,
        "{}",
        second[0].signature
    );
    assert_eq!(verified_by_reference_library(&secret, &second), [true]);
    assert_eq!(verified_by_reference_library(&new_secret, &second), [true]);

    // Rotated without overlap: the old secret no longer signs.
    let at_once = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            Some(&admin),
            &json!({"overlap_seconds": 0}),
        )
        .await;
    let newest = at_once.body["secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    pay(&app, &admin, &customer, "п/п 3").await;
    app.relay().await;
    app.drain_webhooks().await;
    let third = receiver.requests()[2..].to_vec();
    assert_eq!(verified_by_reference_library(&newest, &third), [true]);
    assert_eq!(verified_by_reference_library(&new_secret, &third), [false]);
}

#[tokio::test]
async fn a_receiver_that_fails_first_gets_every_event_exactly_once_per_id() {
    let clock = Arc::new(FixedClock::at(Utc::now()));
    let app = TestApp::with_clock(clock.clone()).await;
    let (admin_email, admin_password) = app.staff_login("admin").await;
    let admin = app.sign_in(&admin_email, &admin_password).await;
    let customer = app.register("Повтор").await;
    let receiver = Receiver::start(4).await;
    let (id, _) = endpoint(&app, &admin, &receiver.url(), &["payment.received"]).await;
    for n in 0..3 {
        pay(&app, &admin, &customer, &format!("п/п {n}")).await;
    }
    let relayed = app.relay().await;
    // The customer's registration is an event too (the endpoint does not want it).
    assert_eq!(relayed.webhooks.events, 4);
    assert_eq!(relayed.webhooks.deliveries, 3);
    // Three attempts, all refused (500): each waits for its retry.
    assert_eq!(app.drain_webhooks().await, 3);
    let deliveries = app
        .get(
            &format!("/v1/webhook-endpoints/{id}/deliveries"),
            Some(&admin),
        )
        .await;
    deliveries.assert_status(200);
    for d in deliveries.body["items"].as_array().expect("items") {
        assert_eq!(d["status"], "retrying", "{d}");
        assert_eq!(d["attempts"][0]["status_code"], 500, "{d}");
        assert_eq!(d["attempts"][0]["response"], "receiver says hello", "{d}");
    }
    // The schedule's waits pass; the sweeper hands the retries back; one more is refused.
    let mut rounds = 0;
    while receiver.accepted().len() < 3 {
        rounds += 1;
        assert!(rounds <= 4, "not delivered after {rounds} rounds");
        clock.advance(chrono::Duration::hours(3));
        app.state.services.webhooks().sweep().await.expect("swept");
        app.drain_webhooks().await;
    }
    // Access tokens expired while the clock ran on: sign in again.
    let admin = app.sign_in(&admin_email, &admin_password).await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 3, "{accepted:?}");
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
    // Every delivery of an event carried the same id, and no other id was sent.
    let ids: std::collections::BTreeSet<String> =
        receiver.requests().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(
        receiver.requests().len(),
        7,
        "3 refused, 1 refused again, 3 accepted"
    );
    // A stale message (an attempt already made) is dropped, not sent again.
    let one = app
        .get(
            &format!("/v1/webhook-endpoints/{id}/deliveries"),
            Some(&admin),
        )
        .await;
    let first = &one.body["items"][0];
    let stale = DeliveryMessage {
        endpoint: id.parse().expect("an id"),
        delivery: first["id"].as_str().expect("an id").parse().expect("an id"),
        attempt: 1,
    };
    let outcome = app
        .state
        .services
        .webhooks()
        .deliver(&stale)
        .await
        .expect("handled");
    assert_eq!(outcome, kopek_services::webhooks::Delivered::Stale);
    assert_eq!(receiver.requests().len(), 7);
    // The endpoint's failing streak ended with the first success.
    let endpoint = app
        .get(&format!("/v1/webhook-endpoints/{id}"), Some(&admin))
        .await;
    assert!(
        endpoint.body["failing_since"].is_null(),
        "{}",
        endpoint.body
    );
    assert!(endpoint.body["last_success_at"].is_string());
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_its_admins_mailed_and_replays_catch_up() {
    let started = Utc::now();
    let clock = Arc::new(FixedClock::at(started));
    let app = TestApp::with_clock(clock.clone()).await;
    let (admin_email, admin_password) = app.staff_login("admin").await;
    let admin = app.sign_in(&admin_email, &admin_password).await;
    let customer = app.register("Отказ").await;
    let receiver = Receiver::start(0).await;
    receiver.answer_always(Some(503));
    let (id, _) = endpoint(&app, &admin, &receiver.url(), &["payment.received"]).await;
    pay(&app, &admin, &customer, "п/п 1").await;
    app.relay().await;
    app.drain_webhooks().await;
    let failing = app
        .get(&format!("/v1/webhook-endpoints/{id}"), Some(&admin))
        .await;
    assert!(
        failing.body["failing_since"].is_string(),
        "{}",
        failing.body
    );
    assert_eq!(failing.body["enabled"], true);
    // Every retry fails; after five days of it the endpoint is disabled.
    for _ in 0..6 {
        clock.advance(chrono::Duration::hours(21));
        app.state.services.webhooks().sweep().await.expect("swept");
        app.drain_webhooks().await;
    }
    let admin = app.sign_in(&admin_email, &admin_password).await;
    let disabled = app
        .get(&format!("/v1/webhook-endpoints/{id}"), Some(&admin))
        .await;
    assert_eq!(disabled.body["enabled"], false, "{}", disabled.body);
    assert!(
        disabled.body["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("5 days"))
    );
    let mails = app.mails_to(&admin_email).await;
    assert!(
        mails
            .iter()
            .any(|(subject, body)| subject.contains("webhook") && body.contains(&id)),
        "{mails:?}"
    );
    // Nothing more is delivered to it, and replays wait until it is enabled again.
    let sent = receiver.requests().len();
    pay(&app, &admin, &customer, "п/п 2").await;
    assert_eq!(app.relay().await.webhooks.deliveries, 0);
    let deliveries = app
        .get(
            &format!("/v1/webhook-endpoints/{id}/deliveries"),
            Some(&admin),
        )
        .await;
    let delivery = deliveries.body["items"][0]["id"]
        .as_str()
        .expect("one")
        .to_owned();
    assert_eq!(deliveries.body["items"][0]["status"], "failed");
    let refused = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/deliveries/{delivery}/replay"),
            Some(&admin),
            &json!({}),
        )
        .await;
    refused.assert_problem(409, "endpoint_disabled");
    // The receiver is fixed; the admin enables the endpoint and replays.
    receiver.answer_always(None);
    let enabled = app
        .send(TestApp::request(
            axum::http::Method::PATCH,
            &format!("/v1/webhook-endpoints/{id}"),
            Some(&admin),
            Some(&json!({"enabled": true})),
        ))
        .await;
    enabled.assert_status(200);
    assert!(enabled.body["failing_since"].is_null());
    assert!(enabled.body["disabled_reason"].is_null());
    let replayed = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/deliveries/{delivery}/replay"),
            Some(&admin),
            &json!({}),
        )
        .await;
    replayed.assert_status(202);
    app.drain_webhooks().await;
    let first_event = receiver.requests()[0].id.clone();
    assert_eq!(receiver.accepted().get(&first_event), Some(&1));
    assert_eq!(receiver.requests().len(), sent + 1);
    // Everything since the start: both payments, the second never sent before.
    let since = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/replay"),
            Some(&admin),
            &json!({"since": started.to_rfc3339()}),
        )
        .await;
    since.assert_status(202);
    assert_eq!(since.body["queued"], 2, "{}", since.body);
    app.drain_webhooks().await;
    assert_eq!(receiver.accepted().len(), 2, "{:?}", receiver.accepted());
}

#[tokio::test]
async fn deliveries_never_reach_private_addresses_nor_follow_redirects() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let customer = app.register("Сеть").await;
    // The delivery function of a deployment that does not allow private addresses.
    let guarded = app
        .state
        .services
        .clone()
        .with_hook_client(HookClient::new(false).expect("a client"))
        .webhooks();
    let receiver = Receiver::start(0).await;
    let port = receiver.addr.port();
    let urls = [
        format!("http://127.0.0.1:{port}/hooks"),
        format!("http://localhost:{port}/hooks"),
        format!("http://[::1]:{port}/hooks"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/hooks".to_owned(),
        "http://[::ffff:127.0.0.1]/hooks".to_owned(),
    ];
    let mut ids = Vec::new();
    for url in &urls {
        ids.push(endpoint(&app, &admin, url, &["payment.received"]).await.0);
    }
    pay(&app, &admin, &customer, "п/п 1").await;
    app.relay().await;
    let queue = app
        .state
        .services
        .webhook_queue()
        .cloned()
        .expect("the queue");
    kopek_events::webhooks::drain(&guarded, &queue)
        .await
        .expect("drained");
    assert!(
        receiver.requests().is_empty(),
        "a private address was reached"
    );
    for (id, url) in ids.iter().zip(&urls) {
        let log = app
            .get(
                &format!("/v1/webhook-endpoints/{id}/deliveries"),
                Some(&admin),
            )
            .await;
        let attempt = &log.body["items"][0]["attempts"][0];
        let error = attempt["error"].as_str().unwrap_or_default();
        assert!(error.contains("not a public address"), "{url}: {attempt}");
        assert!(attempt["status_code"].is_null(), "{url}: {attempt}");
    }

    // A redirect is an answer, not a hop: recorded as a failed attempt, never followed.
    let elsewhere = Receiver::start(0).await;
    let redirecting = Receiver::start(0).await;
    redirecting.redirect_to(&elsewhere.url());
    let (id, _) = endpoint(&app, &admin, &redirecting.url(), &["payment.received"]).await;
    pay(&app, &admin, &customer, "п/п 2").await;
    app.relay().await;
    app.drain_webhooks().await;
    assert_eq!(redirecting.requests().len(), 1);
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{id}/deliveries"),
            Some(&admin),
        )
        .await;
    assert_eq!(log.body["items"][0]["status"], "retrying");
    assert_eq!(log.body["items"][0]["attempts"][0]["status_code"], 302);
}

#[tokio::test]
async fn the_events_feed_pages_in_order_resumes_and_filters_by_type() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let customer = app.register("Лента").await;
    for n in 0..5 {
        pay(&app, &admin, &customer, &format!("п/п {n}")).await;
    }
    app.relay().await;
    let first = app.get("/v1/events?limit=2", Some(&admin)).await;
    first.assert_status(200);
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(first.body["has_more"], true);
    let mut seen: Vec<Value> = first.body["items"].as_array().expect("items").clone();
    let mut cursor = first.body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    loop {
        let page = app
            .get(&format!("/v1/events?limit=2&after={cursor}"), Some(&admin))
            .await;
        page.assert_status(200);
        let items = page.body["items"].as_array().expect("items").clone();
        cursor = page.body["next_cursor"]
            .as_str()
            .expect("a cursor")
            .to_owned();
        if items.is_empty() {
            assert_eq!(page.body["has_more"], false);
            break;
        }
        seen.extend(items);
    }
    let payments: Vec<&Value> = seen
        .iter()
        .filter(|e| e["type"] == "payment.received")
        .collect();
    assert_eq!(payments.len(), 5);
    let references: Vec<&str> = payments
        .iter()
        .map(|e| e["data"]["reference"].as_str().expect("a reference"))
        .collect();
    assert_eq!(references, ["п/п 0", "п/п 1", "п/п 2", "п/п 3", "п/п 4"]);
    let sequences: Vec<u64> = seen
        .iter()
        .map(|e| e["sequence"].as_u64().expect("n"))
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    // Resuming from the end waits for what comes next, from the same cursor.
    pay(&app, &admin, &customer, "п/п 5").await;
    app.relay().await;
    let next = app
        .get(&format!("/v1/events?after={cursor}"), Some(&admin))
        .await;
    assert_eq!(next.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(next.body["items"][0]["data"]["reference"], "п/п 5");
    // Filtered by type.
    let none = app
        .get("/v1/events?types=invoice.issued,order.placed", Some(&admin))
        .await;
    none.assert_status(200);
    assert_eq!(none.body["items"].as_array().map(Vec::len), Some(0));
    let only = app
        .get("/v1/events?types=payment.received&limit=500", Some(&admin))
        .await;
    assert_eq!(only.body["items"].as_array().map(Vec::len), Some(6));
    // Bad input names its parameter.
    for (query, field) in [
        ("after=abc", "after"),
        ("types=order.eaten", "types"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
    ] {
        let bad = app.get(&format!("/v1/events?{query}"), Some(&admin)).await;
        bad.assert_status(400);
        assert_eq!(bad.field(), field, "{query}: {}", bad.body);
    }
    // Customers poll nothing here: the feed is the provider's.
    app.get("/v1/events", Some(&customer.token))
        .await
        .assert_status(403);
}

#[tokio::test]
async fn endpoints_refuse_bad_input_naming_the_field_and_change_nothing() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let customer = app.register("Ввод").await;
    for (body, field) in [
        (json!({"url": "ftp://crm.example.ru/"}), "url"),
        (json!({"url": "https://user:pw@crm.example.ru/"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (
            json!({"url": "https://crm.example.ru/", "types": ["order.placed", "order.eaten"]}),
            "types[1]",
        ),
        (
            json!({"url": "https://crm.example.ru/", "description": "x".repeat(501)}),
            "description",
        ),
    ] {
        let refused = app.post("/v1/webhook-endpoints", Some(&admin), &body).await;
        refused.assert_status(422);
        assert_eq!(refused.field(), field, "{body}: {}", refused.body);
    }
    let unknown = app
        .post(
            "/v1/webhook-endpoints",
            Some(&admin),
            &json!({"url": "https://crm.example.ru/", "secret": "mine"}),
        )
        .await;
    unknown.assert_status(422);
    assert_eq!(unknown.field(), "secret");
    app.post(
        "/v1/webhook-endpoints",
        Some(&customer.token),
        &json!({"url": "https://crm.example.ru/"}),
    )
    .await
    .assert_status(403);
    let manager = app.staff_with_role("manager").await;
    app.post(
        "/v1/webhook-endpoints",
        Some(&manager),
        &json!({"url": "https://crm.example.ru/"}),
    )
    .await
    .assert_status(403);
    let list = app.get("/v1/webhook-endpoints", Some(&admin)).await;
    assert_eq!(list.body, json!([]), "a refusal created an endpoint");

    // A good one; bad changes leave it as it was.
    let (id, _) = endpoint(&app, &admin, "https://crm.example.ru/in", &["order.placed"]).await;
    let patch = |body: Value| {
        TestApp::request(
            axum::http::Method::PATCH,
            &format!("/v1/webhook-endpoints/{id}"),
            Some(&admin),
            Some(&body),
        )
    };
    let bad = app.send(patch(json!({"url": "https://a@b/"}))).await;
    bad.assert_status(422);
    assert_eq!(bad.field(), "url");
    let bad = app.send(patch(json!({"types": ["nope"]}))).await;
    assert_eq!(bad.field(), "types[0]");
    let rotate = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            Some(&admin),
            &json!({"overlap_seconds": 604_801}),
        )
        .await;
    rotate.assert_status(422);
    assert_eq!(rotate.field(), "overlap_seconds");
    let kept = app
        .get(&format!("/v1/webhook-endpoints/{id}"), Some(&admin))
        .await;
    assert_eq!(kept.body["url"], "https://crm.example.ru/in");
    assert_eq!(kept.body["types"], json!(["order.placed"]));
    assert!(kept.body["previous_secret_until"].is_null());
    // No secret is ever shown again.
    assert!(kept.body.get("secret").is_none());
    let text = String::from_utf8_lossy(&kept.raw).into_owned();
    assert!(!text.contains("whsec_"), "{text}");
    let changed = app
        .send(patch(json!({"description": "Новое", "types": []})))
        .await;
    changed.assert_status(200);
    assert_eq!(changed.body["types"], json!([]));
    app.delete(&format!("/v1/webhook-endpoints/{id}"), Some(&admin))
        .await
        .assert_status(204);
    app.get(&format!("/v1/webhook-endpoints/{id}"), Some(&admin))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn a_ping_checks_an_endpoint_end_to_end() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let receiver = Receiver::start(0).await;
    let (id, secret) = endpoint(&app, &admin, &receiver.url(), &["invoice.issued"]).await;
    let ping = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/test"),
            Some(&admin),
            &json!({}),
        )
        .await;
    ping.assert_status(202);
    assert_eq!(ping.body["event_type"], "webhook.ping");
    app.drain_webhooks().await;
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(verified_by_reference_library(&secret, &got), [true]);
    let delivery = ping.body["id"].as_str().expect("an id");
    let done = app
        .get(
            &format!("/v1/webhook-endpoints/{id}/deliveries/{delivery}"),
            Some(&admin),
        )
        .await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    assert_eq!(done.body["attempts"][0]["status_code"], 204);
}
