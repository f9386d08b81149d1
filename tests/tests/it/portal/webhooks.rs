//! Webhook endpoints in the portal: an admin registers one (its secret shown on that page
//! only; a bad URL refused naming `url`, nothing created), pings it and reads the delivery
//! log, rotates the secret, switches it off and on, replays, deletes it. Customers and
//! managers reach none of it.

use super::customer::send;
use super::{Browser, csrf, html, shop};
use crate::webhooks::receiver::Receiver;

#[tokio::test]
async fn an_admin_manages_a_webhook_endpoint_and_reads_its_deliveries() {
    let shop = shop().await;
    let app = &shop.app;
    let (email, password) = app.staff_login("admin").await;
    let mut admin = Browser::new(app);
    admin.sign_in(&email, &password).await;
    let receiver = Receiver::start(0).await;

    let page = admin.get("/portal/admin/webhooks").await;
    page.assert_status(200);
    assert!(
        html(&page).contains("payment.received"),
        "the types to choose"
    );
    // A bad URL: refused naming it, nothing created.
    let bad = send(
        &mut admin,
        "/portal/admin/webhooks",
        &[("_csrf", &csrf(&page)), ("url", "ftp://crm.example.ru/")],
    )
    .await;
    assert_eq!(bad.status, 422, "{}", html(&bad));
    assert!(html(&bad).contains("url"), "{}", html(&bad));
    let admin_token = app.sign_in(&email, &password).await;
    let none = app.get("/v1/webhook-endpoints", Some(&admin_token)).await;
    assert_eq!(none.body, serde_json::json!([]));

    // Registered: the secret is on this page, and on no other.
    let url = receiver.url();
    let created = send(
        &mut admin,
        "/portal/admin/webhooks",
        &[
            ("_csrf", &csrf(&page)),
            ("url", &url),
            ("description", "CRM"),
            ("types", "payment.received"),
            ("types", "invoice.issued"),
        ],
    )
    .await;
    assert_eq!(created.status, 200, "{}", html(&created));
    let text = html(&created);
    assert!(text.contains("whsec_"), "the secret is shown once");
    let listed = app.get("/v1/webhook-endpoints", Some(&admin_token)).await;
    let id = listed.body[0]["id"]
        .as_str()
        .expect("an endpoint")
        .to_owned();
    assert_eq!(
        listed.body[0]["types"],
        serde_json::json!(["invoice.issued", "payment.received"])
    );
    let again = admin.get("/portal/admin/webhooks").await;
    assert!(!html(&again).contains("whsec_"), "shown only once");
    assert!(html(&again).contains(&url));

    // A ping, delivered; the log shows it with the receiver's answer.
    let page = admin.get(&format!("/portal/admin/webhooks/{id}")).await;
    page.assert_status(200);
    let pinged = send(
        &mut admin,
        &format!("/portal/admin/webhooks/{id}/ping"),
        &[("_csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(pinged.status, 303, "{}", html(&pinged));
    app.drain_webhooks().await;
    assert_eq!(receiver.requests().len(), 1);
    let log = admin.get(&format!("/portal/admin/webhooks/{id}")).await;
    let text = html(&log);
    assert!(text.contains("webhook.ping"), "{text}");
    assert!(text.contains("204"), "{text}");

    // A new secret with a day's overlap: shown on that page only.
    let rotated = send(
        &mut admin,
        &format!("/portal/admin/webhooks/{id}/rotate"),
        &[("_csrf", &csrf(&log)), ("overlap_hours", "24")],
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", html(&rotated));
    assert!(html(&rotated).contains("whsec_"));
    let bad = send(
        &mut admin,
        &format!("/portal/admin/webhooks/{id}/rotate"),
        &[("_csrf", &csrf(&log)), ("overlap_hours", "200")],
    )
    .await;
    assert_eq!(bad.status, 422, "{}", html(&bad));

    // Switched off, then on; a replay of the ping; then deleted.
    for action in ["disable", "enable"] {
        let done = send(
            &mut admin,
            &format!("/portal/admin/webhooks/{id}/{action}"),
            &[("_csrf", &csrf(&log))],
        )
        .await;
        assert_eq!(done.status, 303, "{action}: {}", html(&done));
    }
    let endpoint = app
        .get(&format!("/v1/webhook-endpoints/{id}"), Some(&admin_token))
        .await;
    assert_eq!(endpoint.body["enabled"], true);
    let deliveries = app
        .get(
            &format!("/v1/webhook-endpoints/{id}/deliveries"),
            Some(&admin_token),
        )
        .await;
    let delivery = deliveries.body["items"][0]["id"]
        .as_str()
        .expect("the ping");
    let replayed = send(
        &mut admin,
        &format!("/portal/admin/webhooks/{id}/deliveries/{delivery}/replay"),
        &[("_csrf", &csrf(&log))],
    )
    .await;
    assert_eq!(replayed.status, 303, "{}", html(&replayed));
    app.drain_webhooks().await;
    assert_eq!(receiver.requests().len(), 2);
    assert_eq!(receiver.requests()[0].id, receiver.requests()[1].id);
    let gone = send(
        &mut admin,
        &format!("/portal/admin/webhooks/{id}/delete"),
        &[("_csrf", &csrf(&log))],
    )
    .await;
    assert_eq!(gone.status, 303);
    admin
        .get(&format!("/portal/admin/webhooks/{id}"))
        .await
        .assert_status(404);

    // Nobody else: a manager and a customer are refused.
    let (m_email, m_password) = app.staff_login("manager").await;
    let mut manager = Browser::new(app);
    manager.sign_in(&m_email, &m_password).await;
    manager
        .get("/portal/admin/webhooks")
        .await
        .assert_status(403);
    let mut customer = Browser::new(app);
    customer
        .sign_in(&shop.customer.email, &shop.customer.password)
        .await;
    customer
        .get("/portal/admin/webhooks")
        .await
        .assert_status(403);
}
