//! The test harness: every integration test gets its own copy of the template's resources in
//! the emulator, and the real HTTP application on top of them.
//!
//! [`TestApp::start`] provisions a fresh prefix from `infra/template.yaml`, derives the
//! function's environment from the same template, builds [`AppState`] exactly as a Lambda
//! cold start does (the token key is read from the emulator's Secrets Manager) and serves
//! [`kopek_api::local_app`] in-process through `tower::ServiceExt::oneshot`.
//!
//! The environment is `usage-api`'s (the template's globals and the usage queue) with
//! `billing-api`'s, `files-api`'s and `documents`' (the close's and the documents' queues,
//! the documents bucket, the signing key), so the
//! state posts usage to the provisioned `UsageQueue`; [`TestApp::drain_usage`] then does what
//! `usage-ingest` does in AWS, and [`TestApp::make_documents`] what `outbox-relay` and
//! `documents` do (with the Typst renderer as typesetter, built once per test binary).

pub mod emulator;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use kopek_aws::clients::Clients;
use kopek_aws::config::Config;
use kopek_aws::dynamo::Store;
use kopek_aws::hooks::HookClient;
use kopek_aws::queue::Queue;
use kopek_domain::clock::{Clock, SystemClock};
use kopek_events::usage::poller::Poller;
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_local::provision::Provisioned;
use kopek_services::Services;
use kopek_services::accounts::NewAdmin;
use kopek_services::usage::ingest::BatchReport;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceExt;

/// GETs `url` (a presigned link to the emulator's S3, say) as any HTTP client would:
/// the status and the body.
pub async fn fetch(url: &str) -> (StatusCode, Vec<u8>) {
    http(Method::GET, url, None).await
}

/// Sends `body` (JSON, if any) to `url` with `method`, outside the application: the status
/// and the body.
pub async fn http(method: Method, url: &str, body: Option<&Value>) -> (StatusCode, Vec<u8>) {
    let bytes = body
        .map(|b| serde_json::to_vec(b).expect("JSON"))
        .unwrap_or_default();
    http_bytes(method, url, "application/json", bytes).await
}

/// Sends `bytes` of `content_type` to `url` with `method`, outside the application (a file
/// put through a presigned upload link, say): the status and the body.
pub async fn http_bytes(
    method: Method,
    url: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<axum::body::Bytes>>();
    let request = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", content_type)
        .body(http_body_util::Full::new(axum::body::Bytes::from(bytes)))
        .expect("a request");
    let response = client
        .request(request)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body is read")
        .to_bytes()
        .to_vec();
    (status, body)
}

/// The text of a PDF, by poppler's `pdftotext` (the project's setup installs it).
pub fn pdf_text(pdf: &[u8]) -> String {
    let path =
        std::env::temp_dir().join(format!("kopek-pdf-{}-{}.pdf", std::process::id(), unique()));
    std::fs::write(&path, pdf).expect("the PDF is written");
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs (poppler-utils)");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

/// The Typst renderer, built once for the whole test binary.
pub fn typesetter() -> Arc<dyn kopek_domain::documents::Typesetter> {
    static RENDERER: std::sync::OnceLock<Arc<kopek_render::Renderer>> = std::sync::OnceLock::new();
    RENDERER
        .get_or_init(|| Arc::new(kopek_render::Renderer::new()))
        .clone()
}

/// The application under test, on resources of its own.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// The store under the application's services (the same handle, one capacity meter),
    /// for tests that read or arrange what the API does not show.
    pub store: Store,
    pub sdk: aws_config::SdkConfig,
    pub provisioned: Provisioned,
    pub env: std::collections::BTreeMap<String, String>,
}

/// A response, with its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl TestResponse {
    /// The problem document's `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn field(&self) -> &str {
        self.body["field"].as_str().unwrap_or_default()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem response with this status and code, and returns it.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(self.code(), code, "body: {}", self.body);
        self
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }
}

/// A signed-in customer user and its organisation.
#[derive(Debug, Clone)]
pub struct Customer {
    pub org_id: String,
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub token: String,
    pub refresh_token: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A unique number within this test process (for e-mails, names).
pub fn unique() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A valid 10-digit Russian INN (legal entity) derived from `seed`, checksum included.
pub fn inn(seed: u64) -> String {
    let body = format!("{:09}", 770_000_000 + seed % 100_000_000);
    kopek_domain::accounts::TaxId::inn_completing(&body)
        .expect("nine digits")
        .to_string()
}

/// A valid 12-digit INN (an individual, a sole trader), from `seed`.
pub fn inn_of_person(seed: u64) -> String {
    let body = format!("{:010}", 7_700_000_000 + seed % 100_000_000);
    kopek_domain::accounts::TaxId::inn_completing(&body)
        .expect("ten digits")
        .to_string()
}

/// Real provider requisites: Sberbank's BIC and correspondent account, a settlement account
/// whose control key matches them, and a legal entity's INN with its KPP.
pub fn provider_requisites() -> Value {
    json!({
        "legal_name": {"ru": "ООО «Копек»", "en": "Kopek LLC"},
        "tax_id": "7708123450",
        "kpp": "770801001",
        "address": {"ru": "101000, Москва, ул. Мясницкая, 1", "en": "1 Myasnitskaya St, Moscow 101000"},
        "bank": {"bank_name": {"ru": "ПАО Сбербанк", "en": "Sberbank"}, "bic": "044525225",
                 "account": "40702810938000000001", "correspondent_account": "30101810400000000225"},
        "director": {"name": {"ru": "Иванов И. И.", "en": "I. Ivanov"},
                     "position": {"ru": "Генеральный директор", "en": "General Director"}},
        "chief_accountant": null,
        "vat_payer": true
    })
}

/// A registration body with unique e-mails.
pub fn registration(name: &str) -> (Value, String, String) {
    let n = unique();
    let email = format!(
        "owner{n}@{}.example.ru",
        name.to_lowercase().replace(' ', "-")
    );
    let password = format!("Long-enough-password-{n}");
    let body = json!({
        "organisation": {
            "legal_name": format!("ООО «{name}»"),
            "tax_id": inn(n * 7919 + 13),
            "billing_email": format!("billing{n}@example.ru"),
            "billing_address": "101000, Москва, ул. Мясницкая, 1",
            "currency": "RUB",
            "language": "ru"
        },
        "user": { "name": "Мария Иванова", "email": email, "password": password }
    });
    (body, email, password)
}

/// How many planning segments the tests' closes use (see [`TestApp::with_clock`]).
pub const TEST_PLAN_SEGMENTS: u8 = 4;

impl TestApp {
    /// A fresh application on the wall clock.
    pub async fn start() -> Self {
        Self::with_clock(Arc::new(SystemClock)).await
    }

    /// A fresh application on the given clock.
    pub async fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let (sdk, provisioned, template) = emulator::provisioned().await;
        let mut env = provisioned
            .function_env(&template, "UsageApiFunction")
            .unwrap_or_else(|e| panic!("cannot derive the function's environment: {e:#}"));
        for function in [
            "BillingApiFunction",
            "FilesApiFunction",
            "DocumentsFunction",
            "BankImportFunction",
            "WebhookDeliveryFunction",
        ] {
            env.extend(
                provisioned
                    .function_env(&template, function)
                    .unwrap_or_else(|e| panic!("cannot derive the function's environment: {e:#}")),
            );
        }
        let config = Config::from_lookup(|name| env.get(name).cloned())
            .expect("the template's environment is complete");
        let clients = Clients::new(&sdk);
        let store = Store::new(clients.dynamodb.clone(), config.table_name.clone());
        let (services, key) = Services::load(&config, &clients)
            .await
            .expect("the services build from the emulator");
        let services = services
            .with_store(store.clone())
            .with_clock(clock)
            .with_public_url("http://127.0.0.1:3000")
            .with_typesetter(typesetter())
            // The tests' receivers listen on loopback: allowed here, as a deployment would
            // allow its own network (`WebhooksAllowPrivate`).
            .with_hook_client(HookClient::new(true).expect("a webhook client"))
            .with_settings(|s| {
                // A state-changing request that writes no audit record fails the test at once.
                s.audit_strict = true;
                // Closes plan in four segments, not the deployed 32: still several chains side
                // by side, at an eighth of the emulator's planning queries (each costs moto time
                // in proportion to the table). The functions' own default, 32, is what the
                // Lambda end-to-end tests and the store's segment tests run.
                s.close_plan_segments = kopek_domain::close::PlanSegments::new(TEST_PLAN_SEGMENTS)
                    .expect("a divisor of the shards");
            });
        let state = AppState::new(services, key.expose(), config.access_token_ttl);
        let router = kopek_api::local_app(state.clone());
        Self {
            router,
            state,
            store,
            sdk,
            provisioned,
            env,
        }
    }

    /// The same application with its state changed by `edit` (a shorter batch timeout, say).
    pub fn with_state(mut self, edit: impl FnOnce(&mut AppState)) -> Self {
        edit(&mut self.state);
        self.router = kopek_api::local_app(self.state.clone());
        self
    }

    /// The usage queue the application posts to.
    pub fn usage_queue(&self) -> Queue {
        self.state
            .services
            .usage_queue()
            .cloned()
            .expect("the usage-api environment names the usage queue")
    }

    /// Ingests everything on the usage queue, as `usage-ingest` does, at the app's clock.
    pub async fn drain_usage(&self) -> BatchReport {
        let mut poller = Poller::new(self.usage_queue(), self.state.services.ingestor());
        poller.wait_secs = 0;
        poller
            .drain(self.state.services.clock().as_ref(), 2)
            .await
            .expect("the usage queue drains")
    }

    /// What `outbox-relay` and then `documents` do in AWS: relays the outbox and makes every
    /// document job queued (a failing job is retried after a second, up to `failures`).
    pub async fn make_documents(&self) -> kopek_events::documents::Drained {
        self.state
            .services
            .outbox()
            .relay(100)
            .await
            .expect("the outbox relays");
        self.drain_documents(Some(3)).await
    }

    /// What `outbox-relay` does: relays the outbox (document jobs, the events feed, webhook
    /// deliveries queued).
    pub async fn relay(&self) -> kopek_services::outbox::Relayed {
        self.state
            .services
            .outbox()
            .relay(100)
            .await
            .expect("the outbox relays")
    }

    /// Makes every webhook attempt queued and visible (what `webhook-delivery` does); how
    /// many attempts were made. Retries SQS holds back are left.
    pub async fn drain_webhooks(&self) -> usize {
        let queue = self
            .state
            .services
            .webhook_queue()
            .cloned()
            .expect("the environment names the webhook queue");
        kopek_events::webhooks::drain(&self.state.services.webhooks(), &queue)
            .await
            .expect("the webhook queue drains")
    }

    /// Makes every document job queued (what `documents` does), giving up after `failures`.
    pub async fn drain_documents(
        &self,
        failures: Option<usize>,
    ) -> kopek_events::documents::Drained {
        let queue = self
            .state
            .services
            .documents_queue()
            .cloned()
            .expect("the environment names the documents queue");
        kopek_events::documents::drain(&self.state.services.documents(), &queue, 1, failures)
            .await
            .expect("the documents queue drains")
    }

    /// The messages the emulator's SES recorded for `to`: `(subject, body)`, from its model
    /// dump (`/moto-api/data.json`).
    ///
    /// The dump reads every tracked object's attributes, and reading the restore status of a
    /// multipart upload's part (its `s3::keyrestore` state, which advances on every read by
    /// default) looks up a bucket parts do not have and fails the whole dump. Kopek never
    /// restores from Glacier: the state is set to advance only by hand first, so the dump stays
    /// readable whatever other tests uploaded.
    pub async fn mails_to(&self, to: &str) -> Vec<(String, String)> {
        let endpoint = self.sdk.endpoint_url().expect("the emulator's endpoint");
        let (status, _) = http(
            axum::http::Method::POST,
            &format!("{endpoint}/moto-api/state-manager/set-transition"),
            Some(&json!({"model_name": "s3::keyrestore",
                         "transition": {"progression": "manual", "times": 1_000_000_000u64}})),
        )
        .await;
        assert!(status.is_success(), "{status}");
        let (status, body) = fetch(&format!("{endpoint}/moto-api/data.json")).await;
        assert_eq!(status, 200);
        let data: Value = serde_json::from_slice(&body).expect("JSON");
        data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|d| d == to))
            })
            .map(|m| {
                (
                    m["subject"].as_str().unwrap_or_default().to_owned(),
                    m["body"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Saves [`provider_requisites`] as `admin`.
    pub async fn save_requisites(&self, admin: &str) {
        self.send(Self::request(
            Method::PUT,
            "/v1/billing/requisites",
            Some(admin),
            Some(&json!({"requisites": provider_requisites()})),
        ))
        .await
        .assert_status(200);
    }

    /// Matches every statement chunk queued (what `bank-import` does); the payments recorded.
    pub async fn drain_bank(&self) -> usize {
        let queue = self
            .state
            .services
            .bank_queue()
            .cloned()
            .expect("the environment names the bank queue");
        kopek_events::bank::drain(&self.state.services.bank(), &queue, 1, Some(3))
            .await
            .expect("the bank queue drains")
            .counted
    }

    /// POSTs `body` as `content_type`.
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<Body>,
    ) -> TestResponse {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", content_type);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        self.send(builder.body(body.into()).expect("request")).await
    }

    /// Sends a request from 127.0.0.1.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        self.send_from(request, IpAddr::V4(Ipv4Addr::LOCALHOST))
            .await
    }

    /// Sends a request as if from `addr`.
    pub async fn send_from(&self, request: Request<Body>, addr: IpAddr) -> TestResponse {
        send_to_from(&self.router, request, addr).await
    }

    pub fn request(
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(body).expect("json")))
                .expect("request"),
            None => builder.body(Body::empty()).expect("request"),
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Self::request(Method::GET, path, token, None))
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.send(Self::request(Method::POST, path, token, Some(body)))
            .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.send(Self::request(Method::PUT, path, token, Some(body)))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Self::request(Method::DELETE, path, token, None))
            .await
    }

    /// Registers an organisation and returns its signed-in first user.
    pub async fn register(&self, name: &str) -> Customer {
        let (body, email, password) = registration(name);
        let response = self.post("/v1/auth/register", None, &body).await;
        response.assert_status(201);
        Customer {
            org_id: response.body["organisation"]["id"]
                .as_str()
                .expect("org id")
                .to_owned(),
            user_id: response.body["session"]["user"]["id"]
                .as_str()
                .expect("user id")
                .to_owned(),
            email,
            password,
            token: response.body["session"]["access_token"]
                .as_str()
                .expect("token")
                .to_owned(),
            refresh_token: response.body["session"]["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        }
    }

    /// Creates an admin (as the setup step does) and returns a signed-in access token.
    pub async fn admin(&self) -> String {
        self.staff_with_role("admin").await
    }

    /// Creates a staff user of `role` and returns its access token.
    pub async fn staff_with_role(&self, role: &str) -> String {
        let (email, password) = self.staff_login(role).await;
        self.sign_in(&email, &password).await
    }

    /// A new staff member of `role` with a password: its e-mail and password, for signing
    /// in through a form.
    pub async fn staff_login(&self, role: &str) -> (String, String) {
        let n = unique();
        let admin_email = format!("admin{n}@kopek.test");
        let password = format!("Admin-password-{n}");
        self.state
            .services
            .accounts()
            .bootstrap_admin(NewAdmin {
                email: admin_email.clone(),
                name: "Admin".to_owned(),
                password: password.clone(),
            })
            .await
            .expect("bootstrap admin");
        if role == "admin" {
            return (admin_email, password);
        }
        let token = self.sign_in(&admin_email, &password).await;
        let invited = self
            .post(
                "/v1/staff-users",
                Some(&token),
                &json!({"name": "Staff", "email": format!("{role}{n}@kopek.test"), "role": role}),
            )
            .await;
        invited.assert_status(201);
        let staff_password = format!("Staff-password-{n}");
        let accepted = self
            .post(
                "/v1/auth/accept-invitation",
                None,
                &json!({"token": invited.body["invitation_token"], "password": staff_password}),
            )
            .await;
        accepted.assert_status(200);
        (format!("{role}{n}@kopek.test"), staff_password)
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let response = self
            .post(
                "/v1/auth/sign-in",
                None,
                &json!({"email": email, "password": password}),
            )
            .await;
        response.assert_status(200);
        response.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Every item in the table, raw, across all pages of a scan.
    pub async fn scan_all(&self) -> Vec<HashMap<String, AttributeValue>> {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk);
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = client
                .scan()
                .table_name(self.store.table())
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return items,
            }
        }
    }

    /// Every item in the table in a canonical form (map attributes as JSON objects, sets
    /// sorted), sorted: two reads of the same items compare equal, so this serves
    /// "nothing changed" assertions.
    pub async fn table_items(&self) -> Vec<Value> {
        let mut items: Vec<Value> = self
            .scan_all()
            .await
            .iter()
            .map(|item| {
                Value::Object(
                    item.iter()
                        .map(|(k, v)| (k.clone(), canonical_attribute(v)))
                        .collect(),
                )
            })
            .collect();
        items.sort_by_cached_key(Value::to_string);
        items
    }
}

/// Sends `request` to `router` (one function's router, say) from 127.0.0.1.
pub async fn send_to(router: &Router, request: Request<Body>) -> TestResponse {
    send_to_from(router, request, IpAddr::V4(Ipv4Addr::LOCALHOST)).await
}

/// Sends `request` to `router` as if from `addr`.
pub async fn send_to_from(
    router: &Router,
    mut request: Request<Body>,
    addr: IpAddr,
) -> TestResponse {
    request.extensions_mut().insert(ClientAddr(addr));
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let raw = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    TestResponse {
        status,
        headers,
        body,
        raw,
    }
}

fn canonical_attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), canonical_attribute(v)))
                .collect(),
        ),
        AttributeValue::L(list) => Value::Array(list.iter().map(canonical_attribute).collect()),
        AttributeValue::Ss(set) | AttributeValue::Ns(set) => {
            let mut set = set.clone();
            set.sort();
            json!(set)
        }
        other => Value::String(format!("{other:?}")),
    }
}

/// The start of an hour at least an hour from now, for tests on a [`FixedClock`]: in the
/// future, so that no DynamoDB TTL considers a fresh item expired, and at the start of a
/// sign-in throttling window.
///
/// [`FixedClock`]: kopek_domain::clock::FixedClock
pub fn future_hour() -> chrono::DateTime<chrono::Utc> {
    let secs = chrono::Utc::now().timestamp();
    chrono::DateTime::from_timestamp(secs - secs.rem_euclid(3600) + 2 * 3600, 0)
        .expect("a valid instant")
}

/// `text` with the character at byte `index` replaced by another base64url character: a
/// tampered token, cursor or key.
pub fn flip_char(text: &str, index: usize) -> String {
    text.char_indices()
        .map(|(i, c)| {
            if i == index {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect()
}

/// The string at `pointer` in `value` (a JSON pointer: `/lines/0/id`); panics naming both
/// when there is none.
#[track_caller]
pub fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

/// Expected amounts worked out from the rules as `lib/domain/src/money.rs` and
/// `proration.rs` state them, in plain decimal arithmetic, so that a test compares what the
/// code computed with the rule rather than with the code itself.
pub mod expected {
    use chrono::NaiveDate;
    use kopek_domain::period::BillingPeriod;
    use rust_decimal::{Decimal, RoundingStrategy};

    /// `amount` rounded to kopecks, half away from zero (the rounding policy).
    pub fn kopecks(amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    }

    /// The tax at `rate_percent` on `net` (in kopecks already), rounded once to kopecks.
    pub fn tax(net: Decimal, rate_percent: Decimal) -> Decimal {
        kopecks(net * rate_percent / Decimal::ONE_HUNDRED)
    }

    /// The price of the days `[from, until_exclusive)` of `period` when the whole period
    /// costs `full` (not negative): the full price in kopecks split into one share per day,
    /// the kopecks left over one each to the earliest days, and the shares of those days
    /// added up.
    pub fn prorated(
        full: Decimal,
        period: BillingPeriod,
        from: NaiveDate,
        until_exclusive: NaiveDate,
    ) -> Decimal {
        assert!(full >= Decimal::ZERO, "a price, not a credit: {full}");
        let kopecks: i64 = (kopecks(full) * Decimal::ONE_HUNDRED)
            .try_into()
            .expect("a price in range");
        let days = i64::from(period.days());
        let (share, extra) = (kopecks / days, kopecks % days);
        let index = |date: NaiveDate| (date - period.first_day()).num_days().clamp(0, days);
        Decimal::new(
            (index(from)..index(until_exclusive))
                .map(|day| share + i64::from(day < extra))
                .sum(),
            2,
        )
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn dec(text: &str) -> Decimal {
            text.parse().unwrap()
        }

        fn period(text: &str) -> BillingPeriod {
            text.parse().unwrap()
        }

        fn day(text: &str) -> NaiveDate {
            text.parse().unwrap()
        }

        /// The worked examples of the proration rule's documentation.
        #[test]
        fn the_proration_model_gives_the_documented_examples() {
            for (full, period_, from, until, price) in [
                ("990.00", "2026-11", "2026-11-15", "2026-12-01", "528.00"),
                ("1000.00", "2026-12", "2026-12-01", "2026-12-11", "322.60"),
                ("1000.00", "2026-12", "2026-12-26", "2027-01-01", "193.50"),
                ("0.10", "2026-11", "2026-11-11", "2026-12-01", "0.00"),
                ("0.10", "2026-11", "2026-11-01", "2026-11-11", "0.10"),
            ] {
                assert_eq!(
                    prorated(dec(full), period(period_), day(from), day(until)),
                    dec(price),
                    "{full} over {period_}, {from} to {until}"
                );
            }
        }

        #[test]
        fn tax_rounds_half_away_from_zero() {
            assert_eq!(tax(dec("0.05"), dec("10")), dec("0.01"));
            assert_eq!(tax(dec("0.62"), dec("20")), dec("0.12"));
            assert_eq!(kopecks(dec("0.125")), dec("0.13"));
            assert_eq!(kopecks(dec("-0.125")), dec("-0.13"));
        }
    }
}
