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
//! [`coverage::every_operation_that_takes_an_id_is_covered_here`] until it is added to
//! [`probes::org_probes`] (data an organisation owns), [`probes::catalog_probes`] (the catalog
//! every customer shares) or [`coverage::NOT_REFERENCES`] (an input named `…_id` that refers to
//! nothing stored), or — when staff only — [`probes::staff_probes`]. The probes are tried with
//! either organisation's ids in [`reach`].

use axum::http::Method;
use kopek_domain::period::BillingPeriod;
use kopek_tests::{TestApp, TestResponse};
use serde_json::Value;

mod coverage;
mod probes;
mod reach;

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
    /// The act of that invoice.
    document: &'a str,
    /// The customer's package of that period.
    package: &'a str,
    /// A report of the customer's account, made as a PDF.
    report: &'a str,
}

/// The period the organisations' invoices are of.
fn invoiced_period() -> BillingPeriod {
    kopek_tests::emulator::current_period()
}

/// The metered service of the world, whose usage each organisation has its own of.
const METER: &str = "TRAFFIC";
