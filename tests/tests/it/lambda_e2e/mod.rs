//! End to end through cargo-lambda: the real function binaries run under cargo-lambda's
//! Lambda runtime emulator (`cargo lambda watch --only-lambda-apis`), against the AWS
//! emulator, and are invoked with the sample events in `events/` (`cargo lambda invoke
//! --data-file`), exactly as the README shows a developer doing by hand.
//!
//! The binaries must be built first (`cargo xtask test` builds them before running tests);
//! a missing binary fails with a message saying so.
//!
//! The `order-intake` samples need a signed-in caller and ids made by earlier requests, the
//! `usage-api` samples a signed-in caller, a customer and today's date, and the
//! `usage-ingest` samples (SQS batches) a customer and today's date, so they hold
//! `{{NAME}}` placeholders (listed in `events/README.md`); [`LambdaUnderTest::invoke_with`]
//! and [`LambdaUnderTest::invoke_filled`] fill them into a copy of the sample and invoke that,
//! as a developer would by hand.

use kopek_local::template::Template;
use kopek_local::tools;
use kopek_tests::TestApp;
use kopek_tests::str_at;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

mod accounts_catalog;
mod billing;
mod orders;
mod usage;
mod webhooks;

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

    /// `binary` with the environment the template gives the function `logical_id`, on the
    /// resources of `app` (so a test can set up through the in-process routers what the
    /// binary then works on).
    async fn start_on(app: &TestApp, logical_id: &str, binary: &str) -> Self {
        let template = Template::load_project(&tools::project_root()).expect("the template loads");
        let env = app
            .provisioned
            .function_env(&template, logical_id)
            .expect("env");
        let endpoint = app.sdk.endpoint_url().expect("the app's emulator endpoint");
        Self::start(binary, &env, endpoint).await
    }

    /// `cargo lambda invoke <function> --data-file events/<event>`; the API Gateway response.
    async fn invoke(&self, function: &str, event: &str) -> (u16, Value) {
        let response = self
            .invoke_file(function, &self.root.join("events").join(event))
            .await;
        (response.status, response.body)
    }

    /// `events/<event>` with each `{{NAME}}` replaced by its value, written to a temporary
    /// file and invoked like [`Self::invoke`]. A placeholder left unfilled fails the test.
    async fn invoke_with(&self, function: &str, event: &str, values: &[(&str, &str)]) -> Invoked {
        Invoked::from_response(self.invoke_filled(function, event, values).await)
    }

    /// Like [`Self::invoke_with`], for a function that is not behind API Gateway: what the
    /// function returned, as JSON.
    async fn invoke_filled(&self, function: &str, event: &str, values: &[(&str, &str)]) -> Value {
        let path = self.root.join("events").join(event);
        let mut text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for (name, value) in values {
            text = text.replace(&format!("{{{{{name}}}}}"), value);
        }
        if let Some(at) = text.find("{{") {
            let rest = &text[at..];
            let name = &rest[..rest.find("}}").map_or(rest.len(), |end| end + 2)];
            panic!("{event}: no value given for the placeholder {name}");
        }
        serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|e| panic!("{event} is not JSON once filled in: {e}"));
        let filled = std::env::temp_dir().join(format!(
            "kopek-e2e-{}-{}-{}",
            std::process::id(),
            kopek_tests::unique(),
            event.replace('/', "-")
        ));
        std::fs::write(&filled, text).expect("the filled-in event is written");
        let response = self.invoke_json(function, &filled).await;
        let _ = std::fs::remove_file(&filled);
        response
    }

    /// `cargo lambda invoke <function> --data-file <path>`; the API Gateway response.
    async fn invoke_file(&self, function: &str, path: &Path) -> Invoked {
        Invoked::from_response(self.invoke_json(function, path).await)
    }

    /// `cargo lambda invoke <function> --data-file <path>`; what the function returned.
    async fn invoke_json(&self, function: &str, path: &Path) -> Value {
        let output = Command::new(&self.cargo_lambda)
            .args(["lambda", "invoke", function, "--data-file"])
            .arg(path)
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
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "invoke printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

/// What an invocation answered: the API Gateway response's status, JSON body and headers.
struct Invoked {
    status: u16,
    body: Value,
    headers: Value,
}

impl Invoked {
    /// An API Gateway (payload v2) response: status, JSON body, headers.
    fn from_response(response: Value) -> Self {
        let status = response["statusCode"].as_u64().expect("statusCode") as u16;
        let body = response["body"]
            .as_str()
            .map(|b| serde_json::from_str(b).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        Invoked {
            status,
            body,
            headers: response["headers"].clone(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers[name].as_str().unwrap_or_default()
    }

    #[track_caller]
    fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        &self.body
    }

    /// Asserts an RFC 9457 problem of `status` about `field`; the problem document.
    #[track_caller]
    fn expect_problem(&self, status: u16, field: &str) -> &Value {
        self.expect(status);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.headers
        );
        assert_eq!(self.body["status"], status, "{}", self.body);
        assert_eq!(self.body["field"], field, "{}", self.body);
        &self.body
    }
}

/// Creates `services` as the admin, through the in-process routers.
async fn create_services(app: &TestApp, services: Vec<Value>) {
    let admin = app.admin().await;
    for service in services {
        app.post("/v1/catalog/services", Some(&admin), &service)
            .await
            .assert_status(201);
    }
}

/// The catalog the `order-intake` samples assume (see `events/README.md`).
fn order_intake_catalog() -> Vec<Value> {
    vec![
        json!({
            "code": "ROUTER-INSTALL", "name": {"ru": "Установка маршрутизатора", "en": "Router installation"},
            "unit": "visit", "kind": "one_off", "work_type": "installation", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "flat", "amount": "3500.00"}}
        }),
        json!({
            "code": "CABLING", "name": {"ru": "Прокладка кабеля", "en": "Cabling"},
            "unit": "hour", "kind": "one_off", "work_type": "installation", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1800.00"}}
        }),
        json!({
            "code": "VPS-S", "name": {"ru": "Виртуальный сервер S", "en": "Virtual server S"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    ]
}

/// The message ids a partial batch response asks SQS to redeliver; panics unless `response`
/// is an `SqsBatchResponse` and nothing else.
#[track_caller]
fn batch_item_failures(response: &Value) -> Vec<String> {
    let object = response
        .as_object()
        .unwrap_or_else(|| panic!("not an SqsBatchResponse: {response}"));
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["batchItemFailures"],
        "{response}"
    );
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("batchItemFailures is not an array: {response}"))
        .iter()
        .map(|f| str_at(f, "/itemIdentifier").to_owned())
        .collect()
}
