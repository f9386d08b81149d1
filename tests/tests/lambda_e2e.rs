//! End to end through cargo-lambda: the real function binaries run under cargo-lambda's
//! Lambda runtime emulator (`cargo lambda watch --only-lambda-apis`), against the AWS
//! emulator, and are invoked with the sample events in `events/` (`cargo lambda invoke
//! --data-file`), exactly as the README shows a developer doing by hand.
//!
//! The binaries must be built first (`cargo xtask test` builds them before running tests);
//! a missing binary fails with a message saying so.
//!
//! The `order-intake` samples need a signed-in caller and ids made by earlier requests, so
//! they hold `{{NAME}}` placeholders (listed in `events/README.md`);
//! [`LambdaUnderTest::invoke_with`] fills them into a copy of the sample and invokes that, as
//! a developer would by hand.

use kopek_local::template::Template;
use kopek_local::tools;
use kopek_tests::TestApp;
use serde_json::{Value, json};
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
        let response = self
            .invoke_file(function, &self.root.join("events").join(event))
            .await;
        (response.status, response.body)
    }

    /// `events/<event>` with each `{{NAME}}` replaced by its value, written to a temporary
    /// file and invoked like [`Self::invoke`]. A placeholder left unfilled fails the test.
    async fn invoke_with(&self, function: &str, event: &str, values: &[(&str, &str)]) -> Invoked {
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
        let response = self.invoke_file(function, &filled).await;
        let _ = std::fs::remove_file(&filled);
        response
    }

    /// `cargo lambda invoke <function> --data-file <path>`; the API Gateway response.
    async fn invoke_file(&self, function: &str, path: &Path) -> Invoked {
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
        Invoked {
            status,
            body,
            headers: response["headers"].clone(),
        }
    }
}

/// What an invocation answered: the API Gateway response's status, JSON body and headers.
struct Invoked {
    status: u16,
    body: Value,
    headers: Value,
}

impl Invoked {
    fn header(&self, name: &str) -> &str {
        self.headers[name].as_str().unwrap_or_default()
    }

    #[track_caller]
    fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        &self.body
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

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

#[tokio::test]
async fn the_order_intake_function_takes_an_order_to_done_and_a_charge_from_the_sample_events() {
    // The catalog and the users are made in-process through the same routers, on the same
    // resources the function binary uses; everything about orders goes through the binary.
    let app = TestApp::start().await;
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let env = app
        .provisioned
        .function_env(&template, "OrderIntakeFunction")
        .expect("env");
    let endpoint = kopek_tests::emulator::endpoint().await;
    let lambda = LambdaUnderTest::start("order-intake", &env, &endpoint).await;

    let admin = app.admin().await;
    for service in order_intake_catalog() {
        app.post("/v1/catalog/services", Some(&admin), &service)
            .await
            .assert_status(201);
    }
    let customer = app.register("Ромашка").await;
    let engineer = app.staff_with_role("engineer").await;
    let as_customer = [("ACCESS_TOKEN", customer.token.as_str())];
    let as_engineer = [("ACCESS_TOKEN", engineer.as_str())];
    const FUNCTION: &str = "order-intake";

    // The customer places the two-line order; each line shows its expected price.
    let placed = lambda
        .invoke_with(FUNCTION, "order-intake/place-order.json", &as_customer)
        .await;
    let order = placed.expect(201).clone();
    assert_eq!(order["status"], "placed");
    assert_eq!(order["org_id"], customer.org_id.as_str());
    assert_eq!(order["reference"], "CRM-2026-0412");
    assert_eq!(order["lines"][0]["service"], "ROUTER-INSTALL");
    assert_eq!(order["lines"][0]["expected"]["amount"], "3500.00", "flat");
    assert_eq!(order["lines"][1]["service"], "CABLING");
    assert_eq!(
        order["lines"][1]["expected"]["amount"], "2700.00",
        "1.5 h × 1800.00"
    );
    assert_eq!(order["expected_total"]["amount"], "6200.00");
    let order_id = text(&order, "/id").to_owned();
    let wo1 = text(&order, "/lines/0/work_order").to_owned();
    let wo2 = text(&order, "/lines/1/work_order").to_owned();

    // The sample's Idempotency-Key: the same request again is the same order, replayed.
    let again = lambda
        .invoke_with(FUNCTION, "order-intake/place-order.json", &as_customer)
        .await;
    assert_eq!(again.expect(201)["id"], order_id.as_str());
    assert_eq!(
        again.header("idempotent-replayed"),
        "true",
        "{}",
        again.headers
    );
    let listed = app.get("/v1/orders", Some(&customer.token)).await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );

    // Read back.
    let with_order = [
        ("ACCESS_TOKEN", customer.token.as_str()),
        ("ORDER_ID", order_id.as_str()),
    ];
    let read = lambda
        .invoke_with(FUNCTION, "order-intake/get-order.json", &with_order)
        .await;
    assert_eq!(read.expect(200)["id"], order_id.as_str());
    assert_eq!(read.body["status"], "placed");
    assert_eq!(read.body["lines"].as_array().map(Vec::len), Some(2));

    // The engineer sees both work orders waiting in the installation queue…
    let queues = lambda
        .invoke_with(FUNCTION, "order-intake/list-queues.json", &as_engineer)
        .await;
    let installation = queues
        .expect(200)
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["work_type"] == "installation"))
        .unwrap_or_else(|| panic!("no installation queue: {}", queues.body))
        .clone();
    assert_eq!(installation["waiting"], 2, "{installation}");

    // …takes them as a batch…
    let taken = lambda
        .invoke_with(FUNCTION, "order-intake/take-batch.json", &as_engineer)
        .await;
    let batch = taken.expect(201).clone();
    assert_eq!(batch["status"], "open");
    let mut in_batch: Vec<&str> = batch["work_orders"]
        .as_array()
        .expect("work orders")
        .iter()
        .map(|w| w["work_order"].as_str().expect("id"))
        .collect();
    in_batch.sort_unstable();
    let mut ordered = vec![wo1.as_str(), wo2.as_str()];
    ordered.sort_unstable();
    assert_eq!(in_batch, ordered);
    let batch_id = text(&batch, "/id").to_owned();
    let read = lambda
        .invoke_with(FUNCTION, "order-intake/get-order.json", &with_order)
        .await;
    assert_eq!(read.expect(200)["status"], "accepted");

    // …and completes them: 1 visit and 2 hours (not the 1.5 ordered).
    let completed = lambda
        .invoke_with(
            FUNCTION,
            "order-intake/complete-batch.json",
            &[
                ("ACCESS_TOKEN", engineer.as_str()),
                ("BATCH_ID", batch_id.as_str()),
                ("WORK_ORDER_1", wo1.as_str()),
                ("WORK_ORDER_2", wo2.as_str()),
            ],
        )
        .await;
    assert_eq!(completed.expect(200)["status"], "closed");
    assert_eq!(completed.body["open"], 0);

    // The customer sees the order done, each line with its charge at the actual quantity.
    let read = lambda
        .invoke_with(FUNCTION, "order-intake/get-order.json", &with_order)
        .await;
    let done = read.expect(200);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["lines"][0]["status"], "done");
    assert_eq!(done["lines"][0]["charge"]["amount"]["amount"], "3500.00");
    assert_eq!(done["lines"][1]["status"], "done");
    assert_eq!(done["lines"][1]["actual_quantity"], "2");
    assert_eq!(
        done["lines"][1]["charge"]["amount"]["amount"], "3600.00",
        "2 h × 1800.00"
    );
    let charges = lambda
        .invoke_with(FUNCTION, "order-intake/list-charges.json", &as_customer)
        .await;
    let charges = charges.expect(200);
    assert_eq!(
        charges["items"].as_array().map(Vec::len),
        Some(2),
        "{charges}"
    );
    assert_eq!(charges["totals"][0]["amount"], "7100.00", "{charges}");

    // A subscription from today, with this month's prorated fee.
    let subscribed = lambda
        .invoke_with(
            FUNCTION,
            "order-intake/start-subscription.json",
            &as_customer,
        )
        .await;
    let subscription = subscribed.expect(201);
    assert_eq!(subscription["status"], "active", "{subscription}");
    assert_eq!(subscription["segments"][0]["service"], "VPS-S");
    assert_eq!(
        subscription["current_period"]["parts"][0]["full_period"]["amount"], "990.00",
        "{subscription}"
    );

    // Half a visit: refused naming the field, and nothing is stored.
    let before = app.table_items().await;
    let refused = lambda
        .invoke_with(
            FUNCTION,
            "order-intake/place-order-fractional-quantity.json",
            &as_customer,
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.header("content-type"), "application/problem+json");
    assert_eq!(refused.body["status"], 422);
    assert_eq!(
        refused.body["field"], "lines[0].quantity",
        "{}",
        refused.body
    );
    assert_eq!(
        app.table_items().await,
        before,
        "a refused order stored something"
    );
    let listed = app.get("/v1/orders", Some(&customer.token)).await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );
}
