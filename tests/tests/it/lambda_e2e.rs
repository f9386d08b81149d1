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

    /// `binary` with the environment the template gives the function `logical_id`, on the
    /// resources of `app` (so a test can set up through the in-process routers what the
    /// binary then works on).
    async fn start_on(app: &TestApp, logical_id: &str, binary: &str) -> Self {
        let template = Template::load_project(&tools::project_root()).expect("the template loads");
        let env = app
            .provisioned
            .function_env(&template, logical_id)
            .expect("env");
        let endpoint = kopek_tests::emulator::endpoint().await;
        Self::start(binary, &env, &endpoint).await
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
    let lambda = LambdaUnderTest::start_on(&app, "OrderIntakeFunction", "order-intake").await;

    create_services(&app, order_intake_catalog()).await;
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
    refused.expect_problem(422, "lines[0].quantity");
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

/// The metered services the `usage-ingest` samples assume (see `events/README.md`).
fn usage_catalog() -> Vec<Value> {
    vec![
        json!({
            "code": "TRAFFIC", "name": {"ru": "Трафик", "en": "Traffic"},
            "unit": "gigabyte", "kind": "metered", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1.50"}}
        }),
        json!({
            "code": "SMS", "name": {"ru": "SMS-рассылка", "en": "SMS"},
            "unit": "request", "kind": "metered", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "2.10"}}
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
        .map(|f| text(f, "/itemIdentifier").to_owned())
        .collect()
}

#[tokio::test]
async fn the_usage_ingest_function_counts_the_sample_batches_once_and_keeps_what_it_rejects() {
    use kopek_domain::catalog::ServiceCode;
    use kopek_domain::ids::OrgId;
    use rust_decimal::Decimal;

    let app = TestApp::start().await;
    let lambda = LambdaUnderTest::start_on(&app, "UsageIngestFunction", "usage-ingest").await;
    const FUNCTION: &str = "usage-ingest";

    create_services(&app, usage_catalog()).await;
    let customer = app.register("Ромашка").await;
    let org: OrgId = customer.org_id.parse().expect("an organisation id");
    let store = &app.store;
    store
        .set_external_ref(org, "crm:romashka")
        .await
        .expect("the external reference is set");

    // The samples' events happen early today (UTC: their timestamps are `{{TODAY}}T00:0…Z`),
    // so none is ahead of the clock; they count in the provider's period of that instant.
    let today = chrono::Utc::now().date_naive();
    let period = kopek_tests::emulator::calendar()
        .period_of(today.and_time(chrono::NaiveTime::MIN).and_utc());
    let (today_text, tomorrow_text) = (
        today.to_string(),
        today.succ_opt().expect("a date").to_string(),
    );
    let values = [
        ("ORG_ID", customer.org_id.as_str()),
        ("TODAY", today_text.as_str()),
        ("TOMORROW", tomorrow_text.as_str()),
    ];
    let traffic: &ServiceCode = &"TRAFFIC".parse().expect("a code");
    let sms: &ServiceCode = &"SMS".parse().expect("a code");
    let usage = || async move {
        let traffic = store.usage_of(org, traffic, period).await.expect("usage");
        let sms = store.usage_of(org, sms, period).await.expect("usage");
        (traffic.total, traffic.events, sms.total, sms.events)
    };
    let rejected = || async move {
        let received = kopek_tests::emulator::current_period();
        let mut reasons: Vec<(String, String)> = store
            .list_rejected(received, 100, None)
            .await
            .expect("rejected events")
            .items
            .into_iter()
            .map(|r| (r.reason.as_str().to_owned(), r.field))
            .collect();
        reasons.sort();
        reasons
    };
    let dec = |text: &str| -> Decimal { text.parse().expect("a decimal") };

    // Three messages: one event, an array of two (one by the external reference), an array of one.
    let response = lambda
        .invoke_filled(FUNCTION, "usage-ingest/valid.json", &values)
        .await;
    assert_eq!(batch_item_failures(&response), Vec::<String>::new());
    assert_eq!(usage().await, (dec("19.75"), 2, dec("150"), 2));
    assert_eq!(
        store.meters_used(org, period).await.expect("meters"),
        [sms.clone(), traffic.clone()]
    );

    // The same events again, split and ordered otherwise: nothing counts twice.
    let response = lambda
        .invoke_filled(FUNCTION, "usage-ingest/duplicate.json", &values)
        .await;
    assert_eq!(batch_item_failures(&response), Vec::<String>::new());
    assert_eq!(usage().await, (dec("19.75"), 2, dec("150"), 2));

    // Events that can never count are kept as rejected, not retried.
    let response = lambda
        .invoke_filled(FUNCTION, "usage-ingest/invalid.json", &values)
        .await;
    assert_eq!(batch_item_failures(&response), Vec::<String>::new());
    assert_eq!(usage().await, (dec("19.75"), 2, dec("150"), 2));
    let pair = |reason: &str, field: &str| (reason.to_owned(), field.to_owned());
    let invalid = vec![
        pair("bad_quantity", "quantity"),
        pair("bad_quantity", "quantity"),
        pair("future_timestamp", "timestamp"),
        pair("malformed", ""),
        pair("unknown_meter", "meter"),
    ];
    assert_eq!(rejected().await, invalid);

    // Mixed: two new events count; a duplicate does not; an unknown customer and an id reused
    // for other content are rejected.
    let response = lambda
        .invoke_filled(FUNCTION, "usage-ingest/mixed.json", &values)
        .await;
    assert_eq!(batch_item_failures(&response), Vec::<String>::new());
    assert_eq!(usage().await, (dec("23.25"), 3, dec("155"), 3));
    let mut expected = invalid;
    expected.extend([pair("conflict", "id"), pair("unknown_customer", "customer")]);
    expected.sort();
    assert_eq!(rejected().await, expected);
}

/// The usage events in the body of the `usage-api` sample `event` (a JSON `{"events": [...]}`
/// or, sent as `text/csv`, rows under the `id,customer,meter,quantity,timestamp` header):
/// per meter, the quantities summed and the events counted.
fn sample_usage(event: &str) -> BTreeMap<String, (rust_decimal::Decimal, u64)> {
    let path = tools::project_root().join("events").join(event);
    let sample: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| panic!("{} is not a JSON event", path.display()));
    let body = text(&sample, "/body");
    let events: Vec<(String, String)> = if sample["headers"]["content-type"] == "text/csv" {
        let mut rows = body.lines().map(|row| row.split(',').collect::<Vec<_>>());
        let header = rows.next().expect("a header row");
        let column = |name: &str| {
            header
                .iter()
                .position(|c| *c == name)
                .unwrap_or_else(|| panic!("{event}: no column {name}"))
        };
        let (meter, quantity) = (column("meter"), column("quantity"));
        rows.map(|row| (row[meter].to_owned(), row[quantity].to_owned()))
            .collect()
    } else {
        let body: Value = serde_json::from_str(body).expect("a JSON body");
        body["events"]
            .as_array()
            .unwrap_or_else(|| panic!("{event}: no events"))
            .iter()
            .map(|e| {
                (
                    text(e, "/meter").to_owned(),
                    text(e, "/quantity").to_owned(),
                )
            })
            .collect()
    };
    let mut usage = BTreeMap::new();
    for (meter, quantity) in events {
        let (total, count) = usage
            .entry(meter)
            .or_insert((rust_decimal::Decimal::ZERO, 0));
        *total += quantity
            .parse::<rust_decimal::Decimal>()
            .expect("a decimal quantity");
        *count += 1;
    }
    usage
}

#[tokio::test]
async fn the_usage_api_function_queues_the_sample_usage_and_shows_it_once_counted() {
    use rust_decimal::Decimal;

    let app = TestApp::start().await;
    let lambda = LambdaUnderTest::start_on(&app, "UsageApiFunction", "usage-api").await;
    const FUNCTION: &str = "usage-api";

    let catalog = usage_catalog();
    create_services(&app, catalog.clone()).await;
    let customer = app.register("Ромашка").await;
    // An engineer holds `usage:write`, as a producer's staff key would.
    let engineer = app.staff_with_role("engineer").await;
    // UTC, as the samples' timestamps are (`{{TODAY}}T00:0…Z`); they happened on the
    // provider's `day`.
    let utc_today = chrono::Utc::now().date_naive();
    let today = utc_today.to_string();
    let day = kopek_tests::emulator::calendar()
        .date_of(utc_today.and_time(chrono::NaiveTime::MIN).and_utc())
        .to_string();
    let as_engineer = [
        ("ACCESS_TOKEN", engineer.as_str()),
        ("ORG_ID", customer.org_id.as_str()),
        ("TODAY", today.as_str()),
    ];
    let as_customer = [("ACCESS_TOKEN", customer.token.as_str())];
    let depth = || async { app.usage_queue().depth().await.expect("queue depth") };
    let unit_price = |meter: &str| -> Decimal {
        let service = catalog
            .iter()
            .find(|s| s["code"] == meter)
            .unwrap_or_else(|| panic!("no service {meter}"));
        text(service, "/price/model/unit_price")
            .parse()
            .expect("a price")
    };
    // The customer's view, as the sample asks for it, against the usage expected per meter.
    let assert_shown = |expected: BTreeMap<String, (Decimal, u64)>| {
        let (lambda, as_customer, day, unit_price) = (&lambda, &as_customer, &day, &unit_price);
        let org_id = customer.org_id.as_str();
        async move {
            let read = lambda
                .invoke_with(FUNCTION, "usage-api/usage-view.json", as_customer)
                .await;
            let view = read.expect(200);
            assert_eq!(view["org_id"], org_id, "{view}");
            let meters = view["meters"].as_array().expect("meters");
            let shown: BTreeMap<String, (Decimal, u64)> = meters
                .iter()
                .map(|m| {
                    let total: Decimal = text(m, "/total").parse().expect("a decimal total");
                    let events = m["events"].as_u64().expect("an event count");
                    (text(m, "/meter").to_owned(), (total, events))
                })
                .collect();
            assert_eq!(shown, expected, "{view}");
            for m in meters {
                let total: Decimal = text(m, "/total").parse().expect("a decimal");
                // All of it happened early today.
                assert_eq!(
                    m["by_day"],
                    json!([{"day": day, "quantity": total.normalize().to_string()}]),
                    "{m}"
                );
                let subtotal: Decimal = text(m, "/estimate/subtotal").parse().expect("a decimal");
                assert_eq!(subtotal, total * unit_price(text(m, "/meter")), "{m}");
            }
        }
    };

    // Posts the sample `event` as the engineer: `queued` events in one message.
    let post = |event: &'static str, queued: usize| {
        let (lambda, as_engineer) = (&lambda, &as_engineer);
        async move {
            let posted = lambda.invoke_with(FUNCTION, event, as_engineer).await;
            assert_eq!(
                posted.expect(202),
                &json!({"queued": queued, "messages": 1}),
                "{event}"
            );
            posted
        }
    };
    // Drains the queue with the real poller, as `usage-ingest` does: `counted` new events.
    let count = |counted: u64| {
        let (app, depth) = (&app, &depth);
        async move {
            let report = app.drain_usage().await;
            assert_eq!(
                (report.counted, report.duplicates, report.rejected),
                (counted, 0, 0)
            );
            assert!(report.failed.is_empty(), "{:?}", report.failed);
            assert_eq!(depth().await, (0, 0), "the queue drained");
        }
    };

    // Three events, judged and queued as one message; nothing is counted before ingestion.
    let posted = post("usage-api/post-events.json", 3).await;
    assert_eq!(depth().await, (1, 0));
    // The sample's Idempotency-Key: the same post again is answered as before, queued once.
    let again = lambda
        .invoke_with(FUNCTION, "usage-api/post-events.json", &as_engineer)
        .await;
    assert_eq!(again.expect(202), &posted.body);
    assert_eq!(
        again.header("idempotent-replayed"),
        "true",
        "{}",
        again.headers
    );
    assert_eq!(depth().await, (1, 0), "the replay queued the events again");
    assert_shown(BTreeMap::new()).await;

    // Once counted, the customer sees each meter's total.
    count(3).await;
    let mut expected = sample_usage("usage-api/post-events.json");
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        ["SMS", "TRAFFIC"],
        "the sample posts both meters"
    );
    assert_shown(expected.clone()).await;

    // 1.5 SMS: the whole request is refused, naming the event and field; nothing is queued.
    let before = app.table_items().await;
    let refused = lambda
        .invoke_with(
            FUNCTION,
            "usage-api/post-events-bad-quantity.json",
            &as_engineer,
        )
        .await;
    let problem = refused.expect_problem(422, "events[0].quantity");
    assert_eq!(problem["code"], "bad_quantity", "{problem}");
    assert_eq!(depth().await, (0, 0), "a refused post queued something");
    assert_eq!(
        app.table_items().await,
        before,
        "a refused post stored something"
    );

    // Two CSV rows, queued and then counted on top of the events above.
    post("usage-api/post-csv.json", 2).await;
    count(2).await;
    for (meter, (quantity, events)) in sample_usage("usage-api/post-csv.json") {
        let (total, count) = expected.entry(meter).or_insert((Decimal::ZERO, 0));
        *total += quantity;
        *count += events;
    }
    assert_shown(expected).await;
}

/// Last month's history, made in-process on a clock set to its 10th: a customer subscribes
/// to two `VPS-S` (990.00 a month each) that day. The app (on the wall clock from then on, as
/// the function binaries are), the customer, the month, and the gross amount its invoice must
/// have: 1,980.00 prorated by day from the 10th, 20% VAT on top.
async fn last_month_subscriber() -> (
    TestApp,
    kopek_tests::Customer,
    kopek_domain::period::BillingPeriod,
    kopek_domain::money::Money,
) {
    use kopek_domain::clock::{FixedClock, SystemClock};
    use kopek_domain::money::{Currency, Money, tax_on};
    use kopek_domain::proration::prorate_part;
    use rust_decimal::Decimal;
    use std::sync::Arc;

    let period = kopek_tests::emulator::current_period().previous();
    let tenth = period.first_day() + chrono::TimeDelta::days(9);
    let clock = Arc::new(FixedClock::at(
        kopek_tests::emulator::calendar().start_of(tenth) + chrono::TimeDelta::hours(9),
    ));
    let app = TestApp::with_clock(clock).await;
    create_services(&app, order_intake_catalog()).await;
    let customer = app.register("Ромашка").await;
    app.post(
        "/v1/subscriptions",
        Some(&customer.token),
        &json!({"service": "VPS-S", "quantity": "2"}),
    )
    .await
    .assert_status(201);
    let full = Money::new(Decimal::new(198_000, 2), Currency::RUB);
    let net = prorate_part(full, period, tenth, period.end_exclusive())
        .expect("prorated")
        .expect("days in the period")
        .amount;
    let tax = tax_on(&net, Decimal::from(20)).expect("tax");
    let gross = net.checked_add(tax).expect("a sum");
    let app = app.with_state(|s| {
        s.services = s.services.clone().with_clock(Arc::new(SystemClock));
    });
    (app, customer, period, gross)
}

#[tokio::test]
async fn the_period_close_functions_close_last_month_from_the_sample_events() {
    let now = chrono::Utc::now();
    let (app, customer, period, expected_gross) = last_month_subscriber().await;
    let org: kopek_domain::ids::OrgId = customer.org_id.parse().expect("an organisation id");
    let period_text = period.to_string();

    // The scheduler's function starts the close of that month; the worker plans it and then
    // closes the customer (its message delivered twice).
    let starter = LambdaUnderTest::start_on(&app, "PeriodCloseFunction", "period-close").await;
    let started = starter
        .invoke_filled(
            "period-close",
            "period-close/explicit-period.json",
            &[
                ("PERIOD", &period_text),
                ("TIME_ZONE", &kopek_tests::emulator::calendar().to_string()),
            ],
        )
        .await;
    assert_eq!(
        started,
        json!({"period": period_text, "status": "closing", "started": true})
    );
    let worker =
        LambdaUnderTest::start_on(&app, "PeriodCloseWorkerFunction", "period-close-worker").await;
    let planned = worker
        .invoke_filled(
            "period-close-worker",
            "period-close-worker/plan.json",
            &[("PERIOD", &period_text)],
        )
        .await;
    assert_eq!(batch_item_failures(&planned), Vec::<String>::new());
    let store = &app.store;
    let job = store
        .job(period, org)
        .await
        .expect("a job")
        .expect("planned");
    assert_eq!(job.status.as_str(), "pending");

    let closed = worker
        .invoke_filled(
            "period-close-worker",
            "period-close-worker/customer-twice.json",
            &[("PERIOD", &period_text), ("ORG_ID", &customer.org_id)],
        )
        .await;
    assert_eq!(batch_item_failures(&closed), Vec::<String>::new());
    let invoice = store
        .invoice_of(org, period)
        .await
        .expect("an invoice")
        .expect("issued")
        .invoice;
    let year = chrono::Datelike::year(&kopek_tests::emulator::calendar().date_of(now));
    assert_eq!(invoice.number.to_string(), format!("KPK-{year}-000001"));
    assert_eq!(invoice.draft.gross, expected_gross);
    let status = store
        .period(period)
        .await
        .expect("status")
        .expect("started");
    assert_eq!(
        (status.status.as_str(), status.done, status.remaining),
        ("closed", 1, 0)
    );

    // A message that is no close message is reported for retry (and, after five receives,
    // the dead-letter queue), never taken for done.
    let malformed = worker
        .invoke_json(
            "period-close-worker",
            &tools::project_root().join("events/period-close-worker/malformed.json"),
        )
        .await;
    assert_eq!(
        batch_item_failures(&malformed),
        ["c10e0000-0000-4000-8000-000000000004"]
    );

    // The schedule firing again for the same month (00:05 on the 1st in the provider's zone)
    // starts nothing new and issues nothing twice.
    let calendar = kopek_tests::emulator::calendar();
    let fired = (calendar.start_of(period.end_exclusive()) + chrono::TimeDelta::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let again = starter
        .invoke_filled(
            "period-close",
            "period-close/scheduled.json",
            &[
                ("SCHEDULED_TIME", &fired),
                ("TIME_ZONE", &calendar.to_string()),
            ],
        )
        .await;
    assert_eq!(
        again,
        json!({"period": period_text, "status": "closed", "started": false})
    );
    let invoices = store
        .list_invoices_of_org(org, 10, None)
        .await
        .expect("invoices")
        .items;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].invoice, invoice);
}

#[tokio::test]
async fn the_billing_api_function_closes_a_period_and_shows_the_invoice_from_the_sample_events() {
    use kopek_events::close::poller;
    use std::sync::Arc;

    let (app, customer, period, expected_gross) = last_month_subscriber().await;
    let lambda = LambdaUnderTest::start_on(&app, "BillingApiFunction", "billing-api").await;
    const FUNCTION: &str = "billing-api";
    let admin = app.admin().await;
    let token = app.sign_in(&customer.email, &customer.password).await;
    let period_text = period.to_string();
    let as_admin = [("ACCESS_TOKEN", admin.as_str()), ("PERIOD", &period_text)];
    let as_customer = [("ACCESS_TOKEN", token.as_str()), ("PERIOD", &period_text)];

    // The admin starts the close; the same request again (same Idempotency-Key) is replayed,
    // not started twice.
    let started = lambda
        .invoke_with(FUNCTION, "billing-api/close-period.json", &as_admin)
        .await;
    assert_eq!(started.expect(202)["status"], "closing");
    let replayed = lambda
        .invoke_with(FUNCTION, "billing-api/close-period.json", &as_admin)
        .await;
    assert_eq!(replayed.expect(202), &started.body);

    // What the worker function does in AWS, here in-process on the same queue and table.
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let env = app
        .provisioned
        .function_env(&template, "PeriodCloseWorkerFunction")
        .expect("env");
    let closer = app
        .state
        .services
        .clone()
        .with_close_queue(kopek_aws::queue::Queue::new(
            aws_sdk_sqs::Client::new(&app.sdk),
            env["KOPEK_CLOSE_QUEUE_URL"].clone(),
        ))
        .with_clock(Arc::new(kopek_domain::clock::SystemClock))
        .with_settings(|s| s.close_seal_wait = Duration::ZERO)
        .closer();
    poller::drain(&closer, 2, 1)
        .await
        .expect("the close queue drains");

    let status = lambda
        .invoke_with(FUNCTION, "billing-api/period-status.json", &as_admin)
        .await;
    let status = status.expect(200);
    assert_eq!(
        (&status["status"], &status["done"], &status["remaining"]),
        (&json!("closed"), &json!(1), &json!(0)),
        "{status}"
    );
    let invoice = lambda
        .invoke_with(
            FUNCTION,
            "billing-api/invoice-for-period.json",
            &as_customer,
        )
        .await;
    let invoice = invoice.expect(200);
    let year = chrono::Datelike::year(&kopek_tests::emulator::today());
    assert_eq!(invoice["number"], format!("KPK-{year}-000001"));
    assert_eq!(
        invoice["gross"],
        expected_gross.amount().to_string(),
        "{invoice}"
    );
    let list = lambda
        .invoke_with(FUNCTION, "billing-api/list-invoices.json", &as_customer)
        .await;
    let list = list.expect(200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["id"], invoice["id"]);

    // The customer pays 100.00 more than the invoice: it is settled, the rest is credit; the
    // same event again answers the same payment and records nothing twice.
    let mut paid = expected_gross.amount() + rust_decimal::Decimal::new(10_000, 2);
    paid.rescale(2);
    let (org_id, amount) = (customer.org_id.clone(), paid.to_string());
    let today = kopek_tests::emulator::today().to_string();
    let payment = [
        ("ACCESS_TOKEN", admin.as_str()),
        ("ORG_ID", org_id.as_str()),
        ("AMOUNT", amount.as_str()),
        ("TODAY", today.as_str()),
    ];
    let recorded = lambda
        .invoke_with(FUNCTION, "billing-api/record-payment.json", &payment)
        .await;
    let recorded = recorded.expect(201).clone();
    assert_eq!(
        recorded["settled"][0]["invoice_id"], invoice["id"],
        "{recorded}"
    );
    assert_eq!(recorded["settled"][0]["amount"], invoice["gross"]);
    assert_eq!(recorded["to_credit"], "100.00");
    let again = lambda
        .invoke_with(FUNCTION, "billing-api/record-payment.json", &payment)
        .await;
    assert_eq!(again.expect(200)["id"], recorded["id"]);
    let payments = lambda
        .invoke_with(FUNCTION, "billing-api/list-payments.json", &as_customer)
        .await;
    let payments = payments.expect(200);
    assert_eq!(
        payments["items"].as_array().map(Vec::len),
        Some(1),
        "{payments}"
    );
    assert_eq!(payments["credit"], "100.00");
    let list = lambda
        .invoke_with(FUNCTION, "billing-api/list-invoices.json", &as_customer)
        .await;
    assert_eq!(list.expect(200)["items"][0]["status"], "paid");
}
