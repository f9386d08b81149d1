//! The `accounts-api`, `catalog-api` and `portal` functions with their sample events.

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

#[tokio::test]
async fn the_portal_function_serves_pages_gzipped_and_keeps_a_stage_in_its_links() {
    use base64::Engine;
    use std::io::Read;
    let (sdk, provisioned, template) = kopek_tests::emulator::provisioned().await;
    let env = provisioned
        .function_env(&template, "PortalFunction")
        .expect("env");
    let endpoint = sdk
        .endpoint_url()
        .expect("the emulator's endpoint")
        .to_owned();
    let lambda = LambdaUnderTest::start("portal", &env, &endpoint).await;

    // The sign-in page, gzipped as asked: base64 for API Gateway.
    let page = lambda
        .invoke_json(
            "portal",
            &lambda.root.join("events/portal/sign-in-page.json"),
        )
        .await;
    assert_eq!(page["statusCode"], 200, "{page}");
    assert_eq!(page["headers"]["content-encoding"], "gzip", "{page}");
    assert_eq!(page["isBase64Encoded"], true);
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(page["body"].as_str().expect("a body"))
        .expect("base64");
    let mut html = String::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_string(&mut html)
        .expect("gzip");
    assert!(html.contains("<form") && html.contains("Вход"), "{html}");
    assert!(
        page["headers"]["content-security-policy"]
            .as_str()
            .is_some_and(|c| c.contains("script-src 'self'"))
    );

    // Under the stage `prod`: routed without it, redirected with it.
    let redirect = lambda
        .invoke_json(
            "portal",
            &lambda
                .root
                .join("events/portal/dashboard-under-a-stage.json"),
        )
        .await;
    assert_eq!(redirect["statusCode"], 303, "{redirect}");
    assert_eq!(redirect["headers"]["location"], "/prod/portal/sign-in");
}

#[tokio::test]
async fn the_portal_files_function_sends_a_visitor_without_a_session_to_sign_in() {
    let app = kopek_tests::TestApp::start().await;
    let lambda = LambdaUnderTest::start_on(&app, "PortalFilesFunction", "portal-files").await;
    let page = lambda
        .invoke_json(
            "portal-files",
            &lambda
                .root
                .join("events/portal-files/statement-signed-out.json"),
        )
        .await;
    assert_eq!(page["statusCode"], 303, "{page}");
    assert_eq!(page["headers"]["location"], "/portal/sign-in");
    assert!(
        page["headers"]["content-security-policy"]
            .as_str()
            .is_some_and(|c| c.contains("script-src 'self'")),
        "{page}"
    );
}
