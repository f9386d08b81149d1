//! The OpenAPI document against what is deployed: it is a valid OpenAPI 3.1 document (by the
//! project's pinned `openapi-spec-validator`), every operation it lists is served by exactly
//! one function's router, API Gateway (routes of `infra/template.yaml`) sends every such
//! request to that very function, and every route of the template reaches a router that
//! serves it.
//!
//! Whether a router serves a request is told by its answer: an unknown path gets the router's
//! fallback (404 `not_found`) and a known path with another method its 405
//! `method_not_allowed`. Requests carry no credentials and name ids that exist, so a handler
//! answers with something else (a 200, the 401 of a protected operation, the 415 of a missing
//! body, the 400 of a missing query parameter) — never the fallback's answer.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use kopek_local::provision::http_routes;
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_tests::{TestApp, TestResponse, send_to, unique};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

const ACCOUNTS: &str = "AccountsApiFunction";
const CATALOG: &str = "CatalogApiFunction";
const PORTAL_FUNCTION: &str = "PortalFunction";
const PORTAL_FILES: &str = "PortalFilesFunction";
const ORDER_INTAKE: &str = "OrderIntakeFunction";
const USAGE: &str = "UsageApiFunction";
const BILLING: &str = "BillingApiFunction";
const FILES: &str = "FilesApiFunction";
/// Served (by the catalog function) but not listed in the document: the document itself.
const DOCUMENT: &str = "/v1/openapi.json";

/// The web portal's pages (not in the API's document), as a browser requests them.
const PORTAL: &[(&str, &str)] = &[
    ("GET", "/portal"),
    ("GET", "/portal/sign-in"),
    ("POST", "/portal/sign-in"),
    ("POST", "/portal/sign-out"),
    ("GET", "/portal/invoices"),
    ("GET", "/portal/catalog"),
    ("GET", "/portal/forgot"),
    ("GET", "/portal/reset"),
    ("GET", "/portal/documents"),
    ("POST", "/portal/subscriptions"),
    ("GET", "/portal/periods"),
    ("POST", "/portal/bank/statements"),
    ("GET", "/portal/static/style-2.css"),
    // The pages that move files (`portal-files`).
    ("GET", "/portal/documents/doc_1/file"),
    ("GET", "/portal/packages/pkg_1/download"),
    ("POST", "/portal/packages/pkg_1/accept"),
    ("GET", "/portal/archives/arc_1"),
    ("GET", "/portal/statement"),
    ("POST", "/portal/reports"),
    ("GET", "/portal/reports/rep_1"),
    ("GET", "/portal/bank"),
    ("GET", "/portal/bank/imports/imp_1"),
    ("GET", "/portal/admin/templates"),
    ("POST", "/portal/admin/templates/invoice/remove"),
    ("GET", "/portal/work/batches/bat_1/sheet.pdf"),
    ("GET", "/portal/work/batches/bat_1"),
];

/// Every request the functions are there for: the documented operations, the document
/// itself, the portal's pages.
fn every_request(doc: &serde_json::Value) -> Vec<(Method, String)> {
    let mut requests = operations(doc);
    requests.push((Method::GET, DOCUMENT.to_owned()));
    for (method, path) in PORTAL {
        requests.push((method.parse().expect("a method"), (*path).to_owned()));
    }
    requests
}

/// Routes of the template through which no request reaches a handler, known and to be
/// resolved in `infra/template.yaml` (or by serving something there). An entry fails the
/// test as soon as its route is gone or serves something: then delete it here.
const KNOWN_DEAD_ROUTES: &[(&str, &str, &str)] = &[];

/// Each HTTP function of the template and its router.
struct Functions {
    local: Router,
    by_function: BTreeMap<&'static str, Router>,
}

impl Functions {
    fn of(app: &TestApp) -> Self {
        Self {
            local: app.router.clone(),
            by_function: BTreeMap::from([
                (ACCOUNTS, kopek_api::accounts_app(app.state.clone())),
                (PORTAL_FUNCTION, kopek_api::portal_app(app.state.clone())),
                (PORTAL_FILES, kopek_api::portal_files_app(app.state.clone())),
                (CATALOG, kopek_api::catalog_app(app.state.clone())),
                (ORDER_INTAKE, kopek_api::order_intake_app(app.state.clone())),
                (USAGE, kopek_api::usage_app(app.state.clone())),
                (BILLING, kopek_api::billing_app(app.state.clone())),
                (FILES, kopek_api::files_app(app.state.clone())),
            ]),
        }
    }

    fn router(&self, function: &str) -> &Router {
        self.by_function.get(function).unwrap_or_else(|| {
            panic!("the template routes HTTP requests to {function}; which router is it?")
        })
    }

    /// The functions whose router serves `method uri`.
    async fn serving(&self, method: &Method, uri: &str) -> Vec<&'static str> {
        let mut serving = Vec::new();
        for (function, router) in &self.by_function {
            if serves(router, method, uri).await {
                serving.push(*function);
            }
        }
        serving
    }
}

/// The router's own answers to a request it has no route for (the portal's fallback is its
/// HTML page "not found"; its pages answer an anonymous visitor otherwise: the page, or the
/// way to sign in).
fn is_fallback(response: &TestResponse) -> bool {
    matches!(
        (response.status.as_u16(), response.code()),
        (404, "not_found") | (405, "method_not_allowed")
    ) || (response.status == 404 && response.content_type().starts_with("text/html"))
}

async fn serves(router: &Router, method: &Method, uri: &str) -> bool {
    let request = Request::builder()
        .method(method.clone())
        .uri(uri)
        .body(Body::empty())
        .expect("a request");
    !is_fallback(&send_to(router, request).await)
}

/// Ids that exist, for the path parameters of the document's operations.
struct Samples(BTreeMap<&'static str, String>);

impl Samples {
    async fn create(app: &TestApp) -> Self {
        let customer = app.register("Ромашка").await;
        let admin = app.admin().await;
        let key = app
            .post(
                "/v1/api-keys",
                Some(&customer.token),
                &json!({"name": "CRM", "scopes": ["accounts:read"]}),
            )
            .await;
        key.assert_status(201);
        let code = format!("VPS-{}", unique());
        app.post(
            "/v1/catalog/services",
            Some(&admin),
            &json!({
                "code": code,
                "name": {"ru": "Сервер", "en": "Server"},
                "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
                "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
            }),
        )
        .await
        .assert_status(201);
        Self(BTreeMap::from([
            ("org_id", customer.org_id),
            (
                "key_id",
                key.body["api_key"]["id"]
                    .as_str()
                    .expect("key id")
                    .to_owned(),
            ),
            ("code", code),
            // Every order and work route needs a caller first: any well-formed id routes.
            ("order_id", kopek_domain::ids::OrderId::new().to_string()),
            ("line_no", "1".to_owned()),
            ("work_type", "install".to_owned()),
            ("batch_id", kopek_domain::ids::BatchId::new().to_string()),
            (
                "subscription_id",
                kopek_domain::ids::SubscriptionId::new().to_string(),
            ),
            // Usage routes need a caller first too.
            ("meter", "TRAFFIC".to_owned()),
            ("rejected_id", format!("rej_{}", "0".repeat(32))),
            // Billing routes need a caller first too.
            ("period", "2026-01".to_owned()),
            (
                "invoice_id",
                kopek_domain::ids::InvoiceId::new().to_string(),
            ),
            (
                "credit_note_id",
                kopek_domain::ids::CreditNoteId::new().to_string(),
            ),
            (
                "document_id",
                kopek_domain::ids::DocumentId::new().to_string(),
            ),
            (
                "signing_id",
                kopek_domain::ids::SigningId::new().to_string(),
            ),
            (
                "package_id",
                kopek_domain::ids::PackageId::new().to_string(),
            ),
            (
                "archive_id",
                kopek_domain::ids::ArchiveId::new().to_string(),
            ),
            ("report_id", kopek_domain::ids::ReportId::new().to_string()),
            ("kind", "act".to_owned()),
            ("sha256", "0".repeat(64)),
            ("import_id", kopek_domain::ids::ImportId::new().to_string()),
            ("upload_id", kopek_domain::ids::UploadId::new().to_string()),
            ("line", "1".to_owned()),
            ("reference", "crm-42".to_owned()),
            (
                "endpoint_id",
                kopek_domain::ids::WebhookId::new().to_string(),
            ),
            (
                "delivery_id",
                kopek_domain::ids::DeliveryId::new().to_string(),
            ),
            (
                "payment_id",
                kopek_domain::ids::PaymentId::new().to_string(),
            ),
        ]))
    }

    /// `path` with every `{parameter}` replaced by an existing id.
    fn concrete(&self, path: &str) -> String {
        path.split('/')
            .map(
                |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => self
                        .0
                        .get(name)
                        .unwrap_or_else(|| panic!("no sample id for `{{{name}}}` of {path}"))
                        .clone(),
                    None => segment.to_owned(),
                },
            )
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Every operation of the document, as (method, documented path).
fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if let Ok(method) = method.to_ascii_uppercase().parse::<Method>() {
                operations.push((method, path.clone()));
            }
        }
    }
    assert!(!operations.is_empty(), "the document lists no operation");
    operations
}

/// Runs the project's pinned `openapi-spec-validator` on `document`.
fn validate(document: &[u8]) -> Result<(), String> {
    let root = tools::project_root();
    let tools = tools::ensure(&root).expect("the local tools");
    let file: PathBuf = std::env::temp_dir().join(format!(
        "kopek-openapi-{}-{}.json",
        std::process::id(),
        unique()
    ));
    std::fs::write(&file, document).expect("the document is written");
    let output = Command::new(&tools.openapi_spec_validator)
        .arg(&file)
        .output()
        .expect("openapi-spec-validator runs");
    let _ = std::fs::remove_file(&file);
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

// ---------------------------------------------------------------------------------------
// API Gateway's route selection (HTTP APIs)

/// Whether the template route `pattern` matches the concrete `path`: `{name}` is one
/// segment, a final `{name+}` one or more.
fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, p) in pattern.iter().enumerate() {
        if p.starts_with('{') && p.ends_with("+}") {
            assert_eq!(i, pattern.len() - 1, "a greedy variable must come last");
            return path.len() > i && path[i..].iter().all(|s| !s.is_empty());
        }
        let Some(segment) = path.get(i) else {
            return false;
        };
        let variable = p.starts_with('{') && p.ends_with('}');
        if segment.is_empty() || (!variable && p != segment) {
            return false;
        }
    }
    pattern.len() == path.len()
}

/// The route API Gateway picks for `method path`: a full match before a greedy one, the
/// greedy route with the longer literal prefix first, a route's own method before `ANY`, and
/// `$default` last.
fn select<'r>(
    routes: &'r [(String, String, String)],
    method: &Method,
    path: &str,
) -> Option<&'r (String, String, String)> {
    routes
        .iter()
        .filter(|(_, m, p)| {
            (m == "ANY" || m == method.as_str()) && (p == "$default" || matches(p, path))
        })
        .max_by_key(|(_, m, p)| {
            let default = p == "$default";
            let greedy = p.contains("+}");
            let literal = p.split('/').filter(|s| !s.starts_with('{')).count();
            (!default, !greedy, literal, m != "ANY")
        })
}

#[test]
fn the_route_matcher_follows_api_gateways_rules() {
    assert!(matches("/v1/me", "/v1/me"));
    assert!(!matches("/v1/me", "/v1/me/x"));
    assert!(matches("/v1/auth/{proxy+}", "/v1/auth/sign-in"));
    assert!(matches("/v1/auth/{proxy+}", "/v1/auth/a/b"));
    assert!(!matches("/v1/auth/{proxy+}", "/v1/auth"));
    assert!(!matches("/v1/auth/{proxy+}", "/v1/authors/x"));
    assert!(matches("/v1/items/{id}", "/v1/items/7"));
    assert!(!matches("/v1/items/{id}", "/v1/items/7/parts"));

    let routes: Vec<(String, String, String)> = [
        ("Proxy", "ANY", "/v1/{proxy+}"),
        ("Orgs", "ANY", "/v1/organisations"),
        ("Org", "ANY", "/v1/organisations/{proxy+}"),
        ("Create", "POST", "/v1/organisations"),
        ("Default", "ANY", "$default"),
    ]
    .iter()
    .map(|(f, m, p)| ((*f).to_owned(), (*m).to_owned(), (*p).to_owned()))
    .collect();
    let pick =
        |method: Method, path: &str| select(&routes, &method, path).map(|(f, _, _)| f.as_str());
    assert_eq!(pick(Method::GET, "/v1/organisations"), Some("Orgs"));
    assert_eq!(pick(Method::POST, "/v1/organisations"), Some("Create"));
    assert_eq!(pick(Method::GET, "/v1/organisations/o/users"), Some("Org"));
    assert_eq!(pick(Method::GET, "/v1/catalog"), Some("Proxy"));
    assert_eq!(pick(Method::GET, "/health"), Some("Default"));
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_api_serves_a_valid_openapi_3_1_document() {
    let app = TestApp::start().await;
    let served = app.get(DOCUMENT, None).await;
    served.assert_status(200);
    assert_eq!(served.content_type(), "application/json");
    let version = served.body["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "OpenAPI {version:?}");
    assert_eq!(
        served.body,
        serde_json::to_value(kopek_api::openapi()).expect("the document serialises"),
        "the served document is the API's"
    );
    assert!(
        served.body["components"]["securitySchemes"]["bearer"].is_object(),
        "the bearer scheme the operations refer to is defined"
    );

    if let Err(e) = validate(&served.raw) {
        panic!("openapi-spec-validator refuses the document: {e}");
    }
    // The validator does refuse a broken document: an operation without responses, a
    // reference to nothing.
    let mut broken = served.body.clone();
    broken["paths"]["/v1/me"]["get"]["responses"] = json!(null);
    assert!(validate(&serde_json::to_vec(&broken).expect("json")).is_err());
    let mut dangling = served.body.clone();
    dangling["paths"]["/v1/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/NoSuchSchema"});
    assert!(validate(&serde_json::to_vec(&dangling).expect("json")).is_err());
}

#[tokio::test]
async fn every_documented_operation_is_served_by_exactly_one_functions_router() {
    let app = TestApp::start().await;
    let samples = Samples::create(&app).await;
    let functions = Functions::of(&app);
    let doc = serde_json::to_value(kopek_api::openapi()).expect("the document");

    // The check tells a route from none: an unknown path and an unknown method are the
    // fallback's, on every router.
    let unknown_path = format!("/v1/organisations/{}/nonsense", samples.0["org_id"]);
    assert!(
        functions
            .serving(&Method::GET, &unknown_path)
            .await
            .is_empty()
    );
    assert!(!serves(&functions.local, &Method::GET, &unknown_path).await);
    assert!(functions.serving(&Method::PATCH, "/v1/me").await.is_empty());
    assert!(!serves(&functions.local, &Method::PATCH, "/v1/me").await);

    let mut by_function: BTreeMap<&str, usize> = BTreeMap::new();
    for (method, path) in operations(&doc) {
        let uri = samples.concrete(&path);
        let serving = functions.serving(&method, &uri).await;
        assert_eq!(
            serving.len(),
            1,
            "{method} {path} is served by {serving:?}; exactly one function must serve it"
        );
        *by_function.entry(serving[0]).or_default() += 1;
        assert!(
            serves(&functions.local, &method, &uri).await,
            "{method} {path}: the local stack does not serve it"
        );
    }
    assert!(
        [ACCOUNTS, CATALOG, ORDER_INTAKE, USAGE, BILLING, FILES]
            .iter()
            .all(|f| by_function.contains_key(f)),
        "{by_function:?}"
    );
    // The document itself comes from the catalog function.
    assert_eq!(functions.serving(&Method::GET, DOCUMENT).await, [CATALOG]);
}

#[tokio::test]
async fn api_gateway_sends_every_documented_request_to_the_function_that_serves_it() {
    let app = TestApp::start().await;
    let samples = Samples::create(&app).await;
    let functions = Functions::of(&app);
    let template = Template::load_project(&tools::project_root()).expect("the template");
    let routes = http_routes(&template);
    assert!(!routes.is_empty(), "the template has HTTP API routes");
    let doc = serde_json::to_value(kopek_api::openapi()).expect("the document");

    for (method, path) in every_request(&doc) {
        let uri = samples.concrete(&path);
        let serving = functions.serving(&method, &uri).await;
        let Some((function, route_method, route_path)) = select(&routes, &method, &uri) else {
            panic!("{method} {path}: no route of the template matches it");
        };
        assert_eq!(
            serving,
            [function.as_str()],
            "{method} {path} goes to {function} by the route {route_method} {route_path}, but is served by {serving:?}"
        );
    }
}

#[tokio::test]
async fn every_route_of_the_template_reaches_a_router_that_serves_it() {
    let app = TestApp::start().await;
    let samples = Samples::create(&app).await;
    let functions = Functions::of(&app);
    let template = Template::load_project(&tools::project_root()).expect("the template");
    let routes = http_routes(&template);
    let doc = serde_json::to_value(kopek_api::openapi()).expect("the document");
    let requests = every_request(&doc);

    for dead in KNOWN_DEAD_ROUTES {
        let (function, method, path) = *dead;
        assert!(
            routes.contains(&(function.to_owned(), method.to_owned(), path.to_owned())),
            "{method} {path} of {function} is no longer in the template: remove it from KNOWN_DEAD_ROUTES"
        );
    }
    for (function, method, path) in &routes {
        assert_ne!(path, "$default", "{function}: a catch-all route");
        let router = functions.router(function);
        let methods: Vec<Method> = if method == "ANY" {
            vec![
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ]
        } else {
            vec![method.parse().expect("a method")]
        };
        if !path.contains('{') {
            let mut served = Vec::new();
            for m in &methods {
                if serves(router, m, path).await {
                    served.push(m.clone());
                }
            }
            assert!(
                !served.is_empty(),
                "the route {method} {path} of {function} reaches a router that serves none of it"
            );
            continue;
        }
        // A route with variables: the requests that API Gateway sends through it.
        let through: Vec<(Method, String)> = requests
            .iter()
            .map(|(m, p)| (m.clone(), samples.concrete(p)))
            .filter(|(m, uri)| {
                select(&routes, m, uri) == Some(&(function.clone(), method.clone(), path.clone()))
            })
            .collect();
        let known_dead =
            KNOWN_DEAD_ROUTES.contains(&(function.as_str(), method.as_str(), path.as_str()));
        if known_dead {
            assert!(
                through.is_empty(),
                "the route {method} {path} of {function} is served now: remove it from KNOWN_DEAD_ROUTES"
            );
            continue;
        }
        assert!(
            !through.is_empty(),
            "no documented request goes through the route {method} {path} of {function}"
        );
        for (m, uri) in through {
            assert!(
                serves(router, &m, &uri).await,
                "{m} {uri} goes through {method} {path} to {function}, whose router does not serve it"
            );
        }
    }
}

/// Every function that serves an upload (usage in bulk, bank statements) reads its body up to
/// the route's own limit, as the local stack does — not the 64 KiB of every other body. The
/// body goes through the `Idempotency-Key` middleware, which reads it whole before the
/// handler (here: refusing an anonymous caller) is reached.
#[tokio::test]
async fn every_function_that_serves_an_upload_reads_its_large_body() {
    let app = TestApp::start().await;
    let functions = Functions::of(&app);
    let routers = functions
        .by_function
        .iter()
        .map(|(function, router)| (*function, router))
        .chain([("the local stack", &functions.local)]);
    let mut served: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (function, router) in routers {
        for path in ["/v1/usage", "/v1/usage/csv", "/v1/billing/statements"] {
            // Told with an empty body: the middleware reads a body before the router's
            // fallback would answer.
            if !serves(router, &Method::POST, path).await {
                continue;
            }
            let request = Request::builder()
                .method(Method::POST)
                .uri(path)
                .header("content-type", "text/plain")
                .header("idempotency-key", format!("upload-{}", unique()))
                .body(Body::from(vec![b' '; 100 * 1024]))
                .expect("a request");
            let response = send_to(router, request).await;
            assert_ne!(
                response.status.as_u16(),
                413,
                "{function}: POST {path} refuses a 100 KiB body"
            );
            served.entry(path).or_default().push(function);
        }
    }
    assert_eq!(
        served,
        BTreeMap::from([
            ("/v1/usage", vec![USAGE, "the local stack"]),
            ("/v1/usage/csv", vec![USAGE, "the local stack"]),
            ("/v1/billing/statements", vec![FILES, "the local stack"]),
        ])
    );
}
