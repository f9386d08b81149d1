//! A customer only ever reaches its own organisation's data.
//!
//! Every operation that names something by id — in its path, in its query (`org_id`) or in its
//! body (`org_id` of a new API key) — is tried by a customer of organisation A, signed in and
//! through one of its API keys, with organisation B's ids: each answers 404 `not_found`, byte
//! for byte the answer for an id that never existed (so it does not even tell that B's ids
//! exist), and nothing in the table changes. The very same requests with A's own ids succeed.
//!
//! The operations come from the OpenAPI document, which is built from the routers' own route
//! registrations: a new operation taking an id fails
//! [`every_operation_that_takes_an_id_is_covered_here`] until it is added to [`org_probes`]
//! (data an organisation owns), [`catalog_probes`] (the catalog every customer shares) or
//! [`NOT_REFERENCES`] (an input named `…_id` that refers to nothing stored), or — when staff
//! only — [`staff_probes`].

use crate::support::invoices;

use axum::http::Method;
use kopek_domain::ids::{ApiKeyId, CreditNoteId, InvoiceId, OrderId, OrgId, SubscriptionId};
use kopek_domain::period::BillingPeriod;
use kopek_tests::{Customer, TestApp, TestResponse, unique};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What an id-taking operation is known by: method, documented path, and where the id goes
/// (`path org_id`, `query org_id`, `body org_id`).
type Input = (String, String, String);

fn input(method: &Method, path: &str, place: &str) -> Input {
    (method.to_string(), path.to_owned(), place.to_owned())
}

/// One request naming an id, and the operation input it exercises.
#[derive(Debug, Clone)]
struct Probe {
    input: Input,
    method: Method,
    uri: String,
    body: Option<Value>,
    /// The status when the caller may reach the id.
    allowed: u16,
}

impl Probe {
    fn new(method: Method, doc_path: &str, place: &str, uri: String, allowed: u16) -> Self {
        Self {
            input: input(&method, doc_path, place),
            method,
            uri,
            body: None,
            allowed,
        }
    }

    fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    async fn send(&self, app: &TestApp, token: &str) -> TestResponse {
        app.send(TestApp::request(
            self.method.clone(),
            &self.uri,
            Some(token),
            self.body.as_ref(),
        ))
        .await
    }
}

/// The ids of one organisation's things that the probes name.
struct Ids<'a> {
    org: &'a str,
    key: &'a str,
    /// An order of two lines.
    order: &'a str,
    sub: &'a str,
    /// An invoice of the current period, and a credit note of it.
    invoice: &'a str,
    credit_note: &'a str,
}

/// The period the organisations' invoices are of.
fn invoiced_period() -> BillingPeriod {
    kopek_tests::emulator::current_period()
}

/// Every operation on data an organisation owns, naming its ids. A caller that may reach
/// them gets `allowed`.
fn org_probes(ids: &Ids<'_>) -> Vec<Probe> {
    let Ids {
        org,
        key,
        order,
        sub,
        invoice,
        credit_note,
    } = *ids;
    let period = invoiced_period();
    let invite =
        json!({"name": "Пётр Сидоров", "email": format!("colleague{}@example.ru", unique())});
    vec![
        Probe::new(
            Method::GET,
            "/v1/orders/{order_id}",
            "path order_id",
            format!("/v1/orders/{order}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/orders/{order_id}/history",
            "path order_id",
            format!("/v1/orders/{order}/history"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/orders/{order_id}/lines/{line_no}/cancel",
            "path order_id",
            format!("/v1/orders/{order}/lines/1/cancel"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/orders/{order_id}/lines/{line_no}/cancel",
            "path line_no",
            format!("/v1/orders/{order}/lines/2/cancel"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/subscriptions/{subscription_id}",
            "path subscription_id",
            format!("/v1/subscriptions/{sub}"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/subscriptions/{subscription_id}/change",
            "path subscription_id",
            format!("/v1/subscriptions/{sub}/change"),
            200,
        )
        .with_body(json!({"quantity": "2"})),
        Probe::new(
            Method::POST,
            "/v1/subscriptions/{subscription_id}/cancel",
            "path subscription_id",
            format!("/v1/subscriptions/{sub}/cancel"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/charges",
            "query org_id",
            format!("/v1/charges?org_id={org}"),
            200,
        ),
        // Customers may not block anyone, themselves included; another's id is still 404.
        Probe::new(
            Method::POST,
            "/v1/organisations/{org_id}/block",
            "path org_id",
            format!("/v1/organisations/{org}/block"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/organisations/{org_id}/unblock",
            "path org_id",
            format!("/v1/organisations/{org}/unblock"),
            403,
        ),
        // Nor set their own payment terms.
        Probe::new(
            Method::PUT,
            "/v1/organisations/{org_id}/payment-terms",
            "path org_id",
            format!("/v1/organisations/{org}/payment-terms"),
            403,
        )
        .with_body(json!({"payment_terms_days": 90})),
        Probe::new(
            Method::GET,
            "/v1/organisations/{org_id}",
            "path org_id",
            format!("/v1/organisations/{org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/organisations/{org_id}/users",
            "path org_id",
            format!("/v1/organisations/{org}/users"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/organisations/{org_id}/users",
            "path org_id",
            format!("/v1/organisations/{org}/users"),
            201,
        )
        .with_body(invite),
        Probe::new(
            Method::GET,
            "/v1/api-keys",
            "query org_id",
            format!("/v1/api-keys?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/api-keys",
            "body org_id",
            "/v1/api-keys".to_owned(),
            201,
        )
        .with_body(json!({"name": "CRM", "scopes": ["accounts:read"], "org_id": org})),
        Probe::new(
            Method::DELETE,
            "/v1/api-keys/{key_id}",
            "path key_id",
            format!("/v1/api-keys/{key}"),
            204,
        ),
        Probe::new(
            Method::GET,
            "/v1/usage",
            "query org_id",
            format!("/v1/usage?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/usage/meters/{meter}",
            "query org_id",
            format!("/v1/usage/meters/{METER}?org_id={org}"),
            200,
        ),
        // A meter is the catalog's, its usage the organisation's: the same request.
        Probe::new(
            Method::GET,
            "/v1/usage/meters/{meter}",
            "path meter",
            format!("/v1/usage/meters/{METER}?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/invoices",
            "query org_id",
            format!("/v1/invoices?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/invoices/{invoice_id}",
            "path invoice_id",
            format!("/v1/invoices/{invoice}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/invoices/period/{period}",
            "query org_id",
            format!("/v1/invoices/period/{period}?org_id={org}"),
            200,
        ),
        // A period is everyone's, its invoice the organisation's: the same request.
        Probe::new(
            Method::GET,
            "/v1/invoices/period/{period}",
            "path period",
            format!("/v1/invoices/period/{period}?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/credit-notes/{credit_note_id}",
            "path credit_note_id",
            format!("/v1/credit-notes/{credit_note}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/balance",
            "query org_id",
            format!("/v1/billing/balance?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/ledger",
            "query org_id",
            format!("/v1/billing/ledger?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/payments",
            "query org_id",
            format!("/v1/billing/payments?org_id={org}"),
            200,
        ),
    ]
}

/// The metered service of the world, whose usage each organisation has its own of.
const METER: &str = "TRAFFIC";

/// Every operation naming a catalog service by its code. The catalog belongs to no
/// organisation: every customer reads the same, and no customer writes it (403).
fn catalog_probes(code: &str) -> Vec<Probe> {
    let price =
        json!({"price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1.00"}}});
    let at = "2100-01-01T00:00:00Z";
    vec![
        Probe::new(
            Method::GET,
            "/v1/catalog/services/{code}",
            "path code",
            format!("/v1/catalog/services/{code}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/catalog/services/{code}/prices",
            "path code",
            format!("/v1/catalog/services/{code}/prices"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/catalog/services/{code}/quote",
            "path code",
            format!("/v1/catalog/services/{code}/quote?quantity=3&at={at}"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/catalog/services/{code}/prices",
            "path code",
            format!("/v1/catalog/services/{code}/prices"),
            403,
        )
        .with_body(price),
        Probe::new(
            Method::POST,
            "/v1/catalog/services/{code}/retire",
            "path code",
            format!("/v1/catalog/services/{code}/retire"),
            403,
        ),
    ]
}

/// Every back-office operation naming a work type, a batch, a rejected usage event, a billing
/// period, an invoice (to credit it) or (to give it an external reference) an organisation:
/// staff only, so a customer gets 403 whatever the id, its own invoice's included.
fn staff_probes(batch: &str, invoice: &str) -> Vec<Probe> {
    let period = invoiced_period().previous();
    let rejected = format!("rej_{}", "0".repeat(32));
    let outcomes = json!({"outcomes": [{"work_order": "wo_01ARZ3NDEKTSV4RRFFQ69G5FAV", "outcome": "failed", "reason": "x"}]});
    let path = |tail: &str| format!("/v1/work/batches/{batch}{tail}");
    vec![
        Probe::new(
            Method::GET,
            "/v1/work/queues/{work_type}",
            "path work_type",
            "/v1/work/queues/install".to_owned(),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/work/batches/{batch_id}",
            "path batch_id",
            path(""),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/work/batches/{batch_id}/start",
            "path batch_id",
            path("/start"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/work/batches/{batch_id}/complete",
            "path batch_id",
            path("/complete"),
            403,
        )
        .with_body(outcomes),
        Probe::new(
            Method::POST,
            "/v1/work/batches/{batch_id}/release",
            "path batch_id",
            path("/release"),
            403,
        )
        .with_body(json!({})),
        Probe::new(
            Method::GET,
            "/v1/work/batches/{batch_id}/sheet.csv",
            "path batch_id",
            path("/sheet.csv"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/work/batches/{batch_id}/sheet.pdf",
            "path batch_id",
            path("/sheet.pdf"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/usage/rejected/{rejected_id}",
            "path rejected_id",
            format!("/v1/usage/rejected/{rejected}"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/usage/rejected/{rejected_id}/resubmit",
            "path rejected_id",
            format!("/v1/usage/rejected/{rejected}/resubmit"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/usage/external-refs",
            "body org_id",
            "/v1/usage/external-refs".to_owned(),
            403,
        )
        .with_body(json!({"org_id": OrgId::new().to_string(), "external_ref": "crm:probe"})),
        Probe::new(
            Method::POST,
            "/v1/billing/payments",
            "body org_id",
            "/v1/billing/payments".to_owned(),
            403,
        )
        .with_body(
            json!({"org_id": OrgId::new().to_string(), "amount": "10.00", "currency": "RUB",
            "received_on": "2026-11-01", "reference": "probe"}),
        ),
        Probe::new(
            Method::POST,
            "/v1/invoices/{invoice_id}/credit-notes",
            "path invoice_id",
            format!("/v1/invoices/{invoice}/credit-notes"),
            403,
        )
        .with_body(json!({"reason": "probe"})),
        Probe::new(
            Method::GET,
            "/v1/periods/{period}",
            "path period",
            format!("/v1/periods/{period}"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/periods/{period}/close",
            "path period",
            format!("/v1/periods/{period}/close"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/periods/{period}/jobs",
            "path period",
            format!("/v1/periods/{period}/jobs"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/periods/{period}/resume",
            "path period",
            format!("/v1/periods/{period}/resume"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/periods/{period}/preview",
            "path period",
            format!("/v1/periods/{period}/preview"),
            403,
        ),
    ]
}

/// Inputs named `…_id` that name no record of Kopek's, and why.
const NOT_REFERENCES: &[(&str, &str, &str, &str)] = &[(
    "POST",
    "/v1/auth/register",
    "body organisation.tax_id",
    "the taxpayer number a new organisation states about itself",
)];

/// The id inputs of every operation in the OpenAPI document: path parameters, query
/// parameters named `…_id`, and request-body properties named `…_id` (at any depth).
fn documented_id_inputs(doc: &Value) -> BTreeSet<Input> {
    let mut inputs = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("the document has paths");
    for (path, operations) in paths {
        let operations = operations.as_object().expect("a path item");
        for (method, operation) in operations {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("a parameter name");
                match parameter["in"].as_str() {
                    Some("path") => {
                        inputs.insert(input(&method, path, &format!("path {name}")));
                    }
                    Some("query") if name.ends_with("_id") => {
                        inputs.insert(input(&method, path, &format!("query {name}")));
                    }
                    _ => {}
                }
            }
            let body = &operation["requestBody"]["content"]["application/json"]["schema"];
            let mut found = BTreeSet::new();
            body_id_properties(doc, body, "", &mut found, 0);
            for property in found {
                inputs.insert(input(&method, path, &format!("body {property}")));
            }
        }
    }
    inputs
}

fn body_id_properties(
    doc: &Value,
    schema: &Value,
    prefix: &str,
    out: &mut BTreeSet<String>,
    depth: u8,
) {
    assert!(depth < 32, "the request body schemas nest too deep");
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("an unexpected $ref {reference}"));
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "{reference} is not in the document");
        return body_id_properties(doc, target, prefix, out, depth + 1);
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for part in schema[combinator].as_array().into_iter().flatten() {
            body_id_properties(doc, part, prefix, out, depth + 1);
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            if name.ends_with("_id") {
                out.insert(path.clone());
            }
            body_id_properties(doc, property, &path, out, depth + 1);
        }
    }
    if schema.get("items").is_some() {
        body_id_properties(
            doc,
            &schema["items"],
            &format!("{prefix}[]"),
            out,
            depth + 1,
        );
    }
}

/// Two organisations with data of their own, a staff key, and a key of A's to call with.
struct World {
    a: Customer,
    b: Customer,
    /// A's key holding the scopes of the operations tried (`accounts:read`, `accounts:write`).
    a_key_token: String,
    /// B's API key.
    b_key_id: String,
    /// An order of two lines each, of A's and of B's.
    a_order_id: String,
    b_order_id: String,
    /// A subscription each, of A's and of B's.
    a_sub_id: String,
    b_sub_id: String,
    /// An invoice of the current period each, and a credit note of it.
    a_invoice_id: String,
    b_invoice_id: String,
    a_credit_note_id: String,
    b_credit_note_id: String,
    /// A key of the provider's staff (no organisation).
    staff_key_id: String,
}

async fn create_key(app: &TestApp, token: &str, body: &Value) -> (String, String) {
    let created = app.post("/v1/api-keys", Some(token), body).await;
    created.assert_status(201);
    let id = created.body["api_key"]["id"].as_str().expect("key id");
    let secret = created.body["token"].as_str().expect("key token");
    (id.to_owned(), secret.to_owned())
}

async fn world(app: &TestApp) -> World {
    let a = app.register("Ромашка").await;
    let b = app.register("Лютик").await;
    let admin = app.admin().await;
    let (_, a_key_token) = create_key(
        app,
        &a.token,
        &json!({"name": "A's CRM", "scopes": ["accounts:read", "accounts:write", "orders:read", "orders:write", "invoices:read"]}),
    )
    .await;
    let (b_key_id, _) = create_key(
        app,
        &b.token,
        &json!({"name": "B's CRM", "scopes": ["accounts:read"]}),
    )
    .await;
    let (staff_key_id, _) = create_key(
        app,
        &admin,
        &json!({"name": "Ops", "role": "admin", "scopes": ["accounts:read"]}),
    )
    .await;
    app.post(
        &format!("/v1/organisations/{}/users", b.org_id),
        Some(&b.token),
        &json!({"name": "Анна", "email": format!("anna{}@example.ru", unique())}),
    )
    .await
    .assert_status(201);
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": "ROUTER-SETUP", "name": {"ru": "Настройка роутера", "en": "Router setup"},
            "unit": "piece", "kind": "one_off", "work_type": "install", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1500.00"}}
        }),
    )
    .await
    .assert_status(201);
    let order = |token: String| async move {
        let line = json!({"service": "ROUTER-SETUP", "quantity": "1", "site": {"address": "Москва, Тверская, 7"}});
        let placed = app
            .post(
                "/v1/orders",
                Some(&token),
                &json!({"lines": [line.clone(), line]}),
            )
            .await;
        placed.assert_status(201);
        placed.body["id"].as_str().expect("order id").to_owned()
    };
    let a_order_id = order(a.token.clone()).await;
    let b_order_id = order(b.token.clone()).await;
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": "VPS-S", "name": {"ru": "Сервер", "en": "Server"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    )
    .await
    .assert_status(201);
    let subscribe = |token: String| async move {
        let started = app
            .post(
                "/v1/subscriptions",
                Some(&token),
                &json!({"service": "VPS-S", "quantity": "1"}),
            )
            .await;
        started.assert_status(201);
        started.body["id"]
            .as_str()
            .expect("subscription id")
            .to_owned()
    };
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": METER, "name": {"ru": "Трафик", "en": "Traffic"},
            "unit": "gigabyte", "kind": "metered", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "2.00"}}
        }),
    )
    .await
    .assert_status(201);
    let a_sub_id = subscribe(a.token.clone()).await;
    let b_sub_id = subscribe(b.token.clone()).await;
    let invoice_ids = invoices::issue_invoices(
        app,
        invoiced_period(),
        &[a.org_id.as_str(), b.org_id.as_str()],
    )
    .await;
    let credit = |invoice: String| {
        let admin = admin.clone();
        async move {
            let note = app
                .post(
                    &format!("/v1/invoices/{invoice}/credit-notes"),
                    Some(&admin),
                    &json!({"reason": "Скидка", "lines": [{"line_no": 1, "amount": "1.00"}]}),
                )
                .await;
            note.assert_status(201);
            note.body["id"].as_str().expect("credit note id").to_owned()
        }
    };
    let a_credit_note_id = credit(invoice_ids[0].clone()).await;
    let b_credit_note_id = credit(invoice_ids[1].clone()).await;
    World {
        a,
        b,
        a_key_token,
        b_key_id,
        staff_key_id,
        a_order_id,
        b_order_id,
        a_sub_id,
        b_sub_id,
        a_invoice_id: invoice_ids[0].clone(),
        b_invoice_id: invoice_ids[1].clone(),
        a_credit_note_id,
        b_credit_note_id,
    }
}

/// Every probe with B's ids answers 404, exactly as for ids that never existed, and nothing
/// changes; then the same probes with A's ids succeed.
async fn only_its_own_ids_reach(app: &TestApp, world: &World, caller: &str) {
    let before = app.table_items().await;

    let foreign = org_probes(&Ids {
        org: &world.b.org_id,
        key: &world.b_key_id,
        order: &world.b_order_id,
        sub: &world.b_sub_id,
        invoice: &world.b_invoice_id,
        credit_note: &world.b_credit_note_id,
    });
    let never_ids = [
        OrgId::new().to_string(),
        ApiKeyId::new().to_string(),
        OrderId::new().to_string(),
        SubscriptionId::new().to_string(),
        InvoiceId::new().to_string(),
        CreditNoteId::new().to_string(),
    ];
    let never = org_probes(&Ids {
        org: &never_ids[0],
        key: &never_ids[1],
        order: &never_ids[2],
        sub: &never_ids[3],
        invoice: &never_ids[4],
        credit_note: &never_ids[5],
    });
    let malformed = org_probes(&Ids {
        org: "org_nonsense",
        key: "key_nonsense",
        order: "ord_nonsense",
        sub: "sub_nonsense",
        invoice: "inv_nonsense",
        credit_note: "crn_nonsense",
    });
    for ((probe, never), malformed) in foreign.iter().zip(&never).zip(&malformed) {
        let what = format!("{} {}", probe.method, probe.uri);
        let response = probe.send(app, caller).await;
        assert_eq!(response.status.as_u16(), 404, "{what}: {}", response.body);
        response.assert_problem(404, "not_found");
        let unknown = never.send(app, caller).await;
        assert_eq!(
            response.raw, unknown.raw,
            "{what}: B's id is told apart from one that never existed"
        );
        // A malformed id in the body is a validation error, not a lookup.
        if !probe.input.2.starts_with("body") {
            let garbled = malformed.send(app, caller).await;
            assert_eq!(response.raw, garbled.raw, "{what}: against a malformed id");
        }
    }
    // The back office answers a customer 403 whatever the id.
    for probe in staff_probes("bat_01ARZ3NDEKTSV4RRFFQ69G5FAV", &world.a_invoice_id)
        .into_iter()
        .chain(staff_probes(
            "bat_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            &world.b_invoice_id,
        ))
    {
        let response = probe.send(app, caller).await;
        assert_eq!(
            response.status.as_u16(),
            probe.allowed,
            "{}: {}",
            probe.uri,
            response.body
        );
    }
    // A key of the provider's staff is no more reachable than B's.
    let staff_key = format!("/v1/api-keys/{}", world.staff_key_id);
    app.delete(&staff_key, Some(caller))
        .await
        .assert_problem(404, "not_found");

    assert_eq!(
        app.table_items().await,
        before,
        "a refused request must not write anything"
    );

    // The same requests with A's own ids go through.
    let (own_key, _) = create_key(
        app,
        caller,
        &json!({"name": "To revoke", "scopes": ["accounts:read"]}),
    )
    .await;
    let before_own = app.table_items().await;
    for probe in org_probes(&Ids {
        org: &world.a.org_id,
        key: &own_key,
        order: &world.a_order_id,
        sub: &world.a_sub_id,
        invoice: &world.a_invoice_id,
        credit_note: &world.a_credit_note_id,
    }) {
        let what = format!("{} {}", probe.method, probe.uri);
        let response = probe.send(app, caller).await;
        assert_eq!(
            response.status.as_u16(),
            probe.allowed,
            "{what}: {}",
            response.body
        );
        match probe.input.2.as_str() {
            "path org_id" if probe.method == Method::GET && !probe.uri.ends_with("/users") => {
                assert_eq!(response.body["id"], world.a.org_id.as_str(), "{what}");
            }
            "body org_id" => {
                assert_eq!(
                    response.body["api_key"]["org_id"],
                    world.a.org_id.as_str(),
                    "{what}"
                );
            }
            _ => {}
        }
    }
    assert_ne!(
        app.table_items().await,
        before_own,
        "A's own writes show in the table (the snapshot can see a change)"
    );
}

#[tokio::test]
async fn every_operation_that_takes_an_id_is_covered_here() {
    let app = TestApp::start().await;
    let served = app.get("/v1/openapi.json", None).await;
    served.assert_status(200);
    let documented = documented_id_inputs(&served.body);

    let covered: BTreeSet<Input> = org_probes(&Ids {
        org: "org_x",
        key: "key_x",
        order: "ord_x",
        sub: "sub_x",
        invoice: "inv_x",
        credit_note: "crn_x",
    })
    .into_iter()
    .chain(catalog_probes("CODE"))
    .chain(staff_probes("bat_x", "inv_x"))
    .map(|p| p.input)
    .chain(
        NOT_REFERENCES
            .iter()
            .map(|(m, path, place, _why)| (m.to_string(), path.to_string(), place.to_string())),
    )
    .collect();
    assert!(
        documented.contains(&input(&Method::POST, "/v1/api-keys", "body org_id")),
        "ids in request bodies are found: {documented:#?}"
    );
    let missing: Vec<&Input> = documented.difference(&covered).collect();
    let stale: Vec<&Input> = covered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "operations taking an id that this file does not try: {missing:#?}"
    );
    assert!(
        stale.is_empty(),
        "inputs tried here that the API no longer has: {stale:#?}"
    );
}

#[tokio::test]
async fn a_signed_in_customer_reaches_only_its_own_organisations_ids() {
    let app = TestApp::start().await;
    let world = world(&app).await;
    only_its_own_ids_reach(&app, &world, &world.a.token).await;
}

#[tokio::test]
async fn a_customers_api_key_reaches_only_its_own_organisations_ids() {
    let app = TestApp::start().await;
    let world = world(&app).await;
    let me = app.get("/v1/me", Some(&world.a_key_token)).await;
    me.assert_status(200);
    assert_eq!(me.body["kind"], "api_key");
    only_its_own_ids_reach(&app, &world, &world.a_key_token).await;
}

#[tokio::test]
async fn a_cursor_from_another_organisations_listing_is_refused() {
    let app = TestApp::start().await;
    let world = world(&app).await;
    // B's users, one per page: the cursor points into B's partition.
    let page = app
        .get(
            &format!("/v1/organisations/{}/users?limit=1", world.b.org_id),
            Some(&world.b.token),
        )
        .await;
    page.assert_status(200);
    let cursor = page.body["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("B has two users, so a next page: {}", page.body))
        .to_owned();
    // The cursor is good for B.
    app.get(
        &format!(
            "/v1/organisations/{}/users?limit=1&cursor={cursor}",
            world.b.org_id
        ),
        Some(&world.b.token),
    )
    .await
    .assert_status(200);

    let before = app.table_items().await;
    for caller in [&world.a.token, &world.a_key_token] {
        for uri in [
            format!(
                "/v1/organisations/{}/users?limit=1&cursor={cursor}",
                world.a.org_id
            ),
            format!("/v1/api-keys?cursor={cursor}"),
            format!("/v1/api-keys?org_id={}&cursor={cursor}", world.a.org_id),
        ] {
            let response = app.get(&uri, Some(caller)).await;
            response.assert_problem(400, "invalid_cursor");
            assert_eq!(response.field(), "cursor", "{uri}");
            assert!(
                !String::from_utf8_lossy(&response.raw).contains(&world.b.email),
                "{uri}: {}",
                response.body
            );
        }
        // B's own listing is as closed to A with B's cursor as without one.
        app.get(
            &format!(
                "/v1/organisations/{}/users?limit=1&cursor={cursor}",
                world.b.org_id
            ),
            Some(caller),
        )
        .await
        .assert_problem(404, "not_found");
    }
    assert_eq!(app.table_items().await, before);
}

#[tokio::test]
async fn every_customer_reads_the_same_shared_catalog_and_none_changes_it() {
    let app = TestApp::start().await;
    let world = world(&app).await;
    let admin = app.admin().await;
    let code = format!("SHARED-{}", unique());
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": code,
            "name": {"ru": "Общая услуга", "en": "Shared service"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    )
    .await
    .assert_status(201);

    let before = app.table_items().await;
    for probe in catalog_probes(&code) {
        let what = format!("{} {}", probe.method, probe.uri);
        let from_a = probe.send(&app, &world.a.token).await;
        let from_a_key = probe.send(&app, &world.a_key_token).await;
        let from_b = probe.send(&app, &world.b.token).await;
        for response in [&from_a, &from_a_key, &from_b] {
            assert_eq!(
                response.status.as_u16(),
                probe.allowed,
                "{what}: {}",
                response.body
            );
        }
        if probe.allowed == 403 {
            from_a.assert_problem(403, "forbidden");
        } else {
            assert_eq!(from_a.body, from_b.body, "{what}: A and B see the same");
            assert_eq!(from_a.body, from_a_key.body, "{what}: so does A's key");
        }
    }
    assert_eq!(
        app.table_items().await,
        before,
        "no customer changes the catalog"
    );
}
