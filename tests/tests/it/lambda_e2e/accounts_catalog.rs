//! The `accounts-api` and `catalog-api` functions with their sample events.

use super::LambdaUnderTest;
use serde_json::Value;

#[tokio::test]
async fn the_accounts_function_registers_and_signs_in_from_the_sample_events() {
    let (sdk, provisioned, template) = kopek_tests::emulator::provisioned().await;
    let env = provisioned
        .function_env(&template, "AccountsApiFunction")
        .expect("env");
    let endpoint = sdk
        .endpoint_url()
        .expect("the emulator's endpoint")
        .to_owned();
    let lambda = LambdaUnderTest::start("accounts-api", &env, &endpoint).await;

    let (status, body) = lambda
        .invoke("accounts-api", "accounts-api/register.json")
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["organisation"]["tax_id"], "7707083893");

    let (status, body) = lambda
        .invoke("accounts-api", "accounts-api/register.json")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("email_taken")),
        "{body}"
    );

    let (status, body) = lambda
        .invoke("accounts-api", "accounts-api/sign-in.json")
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );

    let (status, body) = lambda
        .invoke("accounts-api", "accounts-api/sign-in-wrong-password.json")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_credentials")),
        "{body}"
    );

    let (status, body) = lambda
        .invoke("accounts-api", "accounts-api/register-unknown-field.json")
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("admin")),
        "{body}"
    );

    let (status, body) = lambda
        .invoke("accounts-api", "accounts-api/me-anonymous.json")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );
}

#[tokio::test]
async fn the_catalog_function_answers_the_sample_events() {
    let (sdk, provisioned, template) = kopek_tests::emulator::provisioned().await;
    let env = provisioned
        .function_env(&template, "CatalogApiFunction")
        .expect("env");
    let endpoint = sdk
        .endpoint_url()
        .expect("the emulator's endpoint")
        .to_owned();
    let lambda = LambdaUnderTest::start("catalog-api", &env, &endpoint).await;

    let (status, body) = lambda
        .invoke("catalog-api", "catalog-api/list-services.json")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], Value::Array(vec![]));

    let (status, body) = lambda
        .invoke("catalog-api", "catalog-api/quote-unknown-service.json")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );

    let (status, body) = lambda
        .invoke("catalog-api", "catalog-api/openapi.json")
        .await;
    assert_eq!(status, 200);
    assert!(
        body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{body}"
    );
}
