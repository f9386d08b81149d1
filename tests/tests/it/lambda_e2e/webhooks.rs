//! The `webhook-delivery` function from its sample events: an attempt made through the
//! binary, refused a loopback address as the template's default (`WebhooksAllowPrivate` =
//! false) wants, then — with private addresses allowed — delivered; a malformed message
//! named in the partial batch response.

use super::{LambdaUnderTest, batch_item_failures};
use crate::webhooks::receiver::Receiver;
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn the_webhook_delivery_function_makes_attempts_from_the_sample_events() {
    let app = TestApp::start().await;
    let admin = app.admin().await;
    let customer = app.register("Лямбда").await;
    let receiver = Receiver::start(0).await;
    let created = app
        .post(
            "/v1/webhook-endpoints",
            Some(&admin),
            &json!({"url": receiver.url(), "types": ["payment.received"]}),
        )
        .await;
    created.assert_status(201);
    let endpoint = created.body["endpoint"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    app.post(
        "/v1/billing/payments",
        Some(&admin),
        &json!({"org_id": customer.org_id, "amount": "10.00", "currency": "RUB",
                "received_on": app.state.services.today().to_string(), "reference": "п/п 1"}),
    )
    .await
    .assert_status(201);
    app.relay().await;
    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            Some(&admin),
        )
        .await;
    let delivery = log.body["items"][0]["id"]
        .as_str()
        .expect("a delivery")
        .to_owned();

    // As deployed by default: a loopback receiver is refused, and the attempt logged.
    let guarded =
        LambdaUnderTest::start_on(&app, "WebhookDeliveryFunction", "webhook-delivery").await;
    let values = [
        ("ENDPOINT_ID", endpoint.as_str()),
        ("DELIVERY_ID", delivery.as_str()),
        ("ATTEMPT", "1"),
    ];
    let handled = guarded
        .invoke_filled("webhook-delivery", "webhook-delivery/attempt.json", &values)
        .await;
    assert_eq!(
        batch_item_failures(&handled),
        Vec::<String>::new(),
        "{handled}"
    );
    assert!(receiver.requests().is_empty());
    let refused = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}"),
            Some(&admin),
        )
        .await;
    let error = refused.body["attempts"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("not a public address"), "{}", refused.body);
    drop(guarded);

    // A deployment that allows its own network: the second attempt arrives.
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let mut env = app
        .provisioned
        .function_env(&template, "WebhookDeliveryFunction")
        .expect("env");
    assert_eq!(env["KOPEK_WEBHOOKS_ALLOW_PRIVATE"], "false");
    env.insert("KOPEK_WEBHOOKS_ALLOW_PRIVATE".into(), "true".into());
    let endpoint_url = app.sdk.endpoint_url().expect("the emulator").to_owned();
    let allowing = LambdaUnderTest::start("webhook-delivery", &env, &endpoint_url).await;
    let values = [
        ("ENDPOINT_ID", endpoint.as_str()),
        ("DELIVERY_ID", delivery.as_str()),
        ("ATTEMPT", "2"),
    ];
    let handled = allowing
        .invoke_filled("webhook-delivery", "webhook-delivery/attempt.json", &values)
        .await;
    assert_eq!(
        batch_item_failures(&handled),
        Vec::<String>::new(),
        "{handled}"
    );
    assert_eq!(receiver.requests().len(), 1);
    // The same message again is stale: nothing more is sent.
    allowing
        .invoke_filled("webhook-delivery", "webhook-delivery/attempt.json", &values)
        .await;
    assert_eq!(receiver.requests().len(), 1);
    let delivered = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}"),
            Some(&admin),
        )
        .await;
    assert_eq!(delivered.body["status"], "succeeded", "{}", delivered.body);

    let malformed = allowing
        .invoke_json(
            "webhook-delivery",
            &tools::project_root().join("events/webhook-delivery/malformed.json"),
        )
        .await;
    assert_eq!(
        batch_item_failures(&malformed),
        ["b00c0000-0000-4000-8000-000000000002"]
    );
}
