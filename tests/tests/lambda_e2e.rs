//! End to end through cargo-lambda: the real function binaries run under cargo-lambda's
//! Lambda runtime emulator (`cargo lambda watch --only-lambda-apis`), against the AWS
//! emulator, and are invoked with the sample events in `events/` (`cargo lambda invoke
//! --data-file`), exactly as the README shows a developer doing by hand.
//!
//! The binaries must be built first (`cargo xtask test` builds them before running tests);
//! a missing binary fails with a message saying so.

use kopek_local::tools;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// cargo-lambda's runtime API emulator plus one function binary attached to it.
struct LambdaUnderTest {
    port: u16,
    root: PathBuf,
    cargo_lambda: PathBuf,
    _emulator: Child,
    _function: Child,
}

impl LambdaUnderTest {
    async fn start(
        binary: &str,
        function_env: &BTreeMap<String, String>,
        aws_endpoint: &str,
    ) -> Self {
        let root = tools::project_root();
        let tools = tools::ensure(&root).expect("tools");
        let exe = target_dir(&root).join("debug").join(binary);
        assert!(
            exe.exists(),
            "{} is missing: build the functions first (`cargo build --bins`; `cargo xtask test` does)",
            exe.display()
        );
        let port = free_port();
        let emulator = Command::new(&tools.cargo_lambda)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("cargo lambda watch starts");
        wait_for_port(port).await;
        let function = Command::new(&exe)
            .envs(function_env)
            .env("AWS_ENDPOINT_URL", aws_endpoint)
            .env("AWS_REGION", kopek_local::REGION)
            .env("AWS_ACCESS_KEY_ID", "kopek-local")
            .env("AWS_SECRET_ACCESS_KEY", "kopek-local")
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{binary}"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", binary)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the function starts");
        Self {
            port,
            root,
            cargo_lambda: tools.cargo_lambda,
            _emulator: emulator,
            _function: function,
        }
    }

    /// `cargo lambda invoke <function> --data-file events/<event>`; the API Gateway response.
    async fn invoke(&self, function: &str, event: &str) -> (u16, Value) {
        let output = Command::new(&self.cargo_lambda)
            .args(["lambda", "invoke", function, "--data-file"])
            .arg(self.root.join("events").join(event))
            .args([
                "-A",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
                "--output-format",
                "json",
            ])
            .current_dir(&self.root)
            .output()
            .await
            .expect("cargo lambda invoke runs");
        assert!(
            output.status.success(),
            "invoke failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let response: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "invoke printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        let status = response["statusCode"].as_u64().expect("statusCode") as u16;
        let body = response["body"]
            .as_str()
            .map(|b| serde_json::from_str(b).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        (status, body)
    }
}

#[tokio::test]
async fn the_accounts_function_registers_and_signs_in_from_the_sample_events() {
    let (_sdk, provisioned, template) = kopek_tests::emulator::provisioned().await;
    let env = provisioned
        .function_env(&template, "AccountsApiFunction")
        .expect("env");
    let endpoint = kopek_tests::emulator::endpoint().await;
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
    let (_sdk, provisioned, template) = kopek_tests::emulator::provisioned().await;
    let env = provisioned
        .function_env(&template, "CatalogApiFunction")
        .expect("env");
    let endpoint = kopek_tests::emulator::endpoint().await;
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
