//! The API keeps the word of its OpenAPI document: schemathesis (pinned in
//! `infra/local-tools.txt`) generates requests for every operation of the served document —
//! valid ones and invalid ones — as an anonymous caller, as a customer and as staff (an admin),
//! and fails on any server error, any status code, content type or response body the document
//! does not describe.
//!
//! The server is the local stack's router over real HTTP on a loopback port, on a fresh table
//! holding a closed month (the close tests' world: a subscription, done work and usage,
//! invoiced), a payment and a credit note, so that lists and documents answer with real items
//! whose shapes the document must describe. Callers authenticate with API keys holding every scope of their role, so that an operation
//! schemathesis happens to call (signing out, changing a password) cannot end the session the
//! rest of the run depends on. The run is bounded (`--max-examples` per operation) and
//! reproducible: the seed is fixed, or taken from `KOPEK_SCHEMATHESIS_SEED` to explore; a
//! failure prints schemathesis' report, which holds a `curl` line per failing case.

use crate::close::world::{World, usage_events};
use kopek_domain::accounts::{Role, Scope};
use kopek_http::layers::serve_local;
use kopek_local::tools;
use kopek_tests::{TestApp, str_at, unique};
use serde_json::json;
use std::time::Instant;

/// Test cases per operation and phase: enough to try every documented status and shape,
/// few enough that the three runs take about a minute.
const MAX_EXAMPLES: &str = "8";
const SEED: &str = "20261206";

/// An API key of `token`'s owner with every scope of `role`.
async fn api_key(app: &TestApp, token: &str, role: Role) -> String {
    let scopes: Vec<&str> = Scope::all_for(role).iter().map(|s| s.as_str()).collect();
    let created = app
        .post(
            "/v1/api-keys",
            Some(token),
            &json!({"name": "schemathesis", "role": role, "scopes": scopes}),
        )
        .await;
    created.assert_status(201);
    str_at(&created.body, "/token").to_owned()
}

/// A month closed into an invoice, then a payment and a credit note on it; the customer's
/// access token.
async fn closed_month() -> (World, String) {
    let w = World::new().await;
    let party = w.party("Ромашка").await;
    w.subscribe(&party, 2).await;
    w.order(&party, 3).await;
    w.complete_waiting_jobs(3).await;
    w.send_usage(&party, &usage_events("st", w.period, 20, 1, 9))
        .await;
    w.month_ended();
    w.close(w.period).await;
    let token = w.token(&party).await;
    let invoices = w.app.get("/v1/invoices", Some(&token)).await;
    invoices.assert_status(200);
    let invoice = str_at(&invoices.body, "/items/0/id").to_owned();
    let accountant = w.app.staff_with_role("accountant").await;
    let payment = json!({
        "org_id": party.org.to_string(), "amount": "1000.00", "currency": "RUB",
        "received_on": w.now().date_naive().to_string(), "reference": format!("п/п {}", unique())
    });
    w.app
        .post("/v1/billing/payments", Some(&accountant), &payment)
        .await
        .assert_status(201);
    let credit = json!({"reason": "Простой", "lines": [{"line_no": 1, "gross": "10.00"}]});
    w.app
        .post(
            &format!("/v1/invoices/{invoice}/credit-notes"),
            Some(&accountant),
            &credit,
        )
        .await
        .assert_status(201);
    (w, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_the_server_true_to_its_document() {
    let world = closed_month().await;
    let app = &world.0.app;
    let customer_key = api_key(app, &world.1, Role::Customer).await;
    let admin = app.admin().await;
    let staff_key = api_key(app, &admin, Role::Admin).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_local(listener, app.router.clone(), async move {
        let _ = stopped.await;
    }));

    let root = tools::project_root();
    let schemathesis = tools::ensure(&root).expect("the tools").schemathesis;
    let seed = std::env::var("KOPEK_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_owned());
    let document = format!("http://127.0.0.1:{port}/v1/openapi.json");
    // The three callers at once, one schemathesis process each: one worker per process (its
    // threads share CPython 3.11's compiler, which fails now and then under concurrency).
    let runs = [
        ("anonymous", None),
        ("customer", Some(&customer_key)),
        ("staff", Some(&staff_key)),
    ]
    .map(|(caller, key)| {
        let mut command = tokio::process::Command::new(&schemathesis);
        command
            .current_dir(root.join(".local"))
            .args(["--no-color", "run", &document])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed])
            .args(["--workers", "1", "--request-timeout", "30"])
            .args(["--output-truncate", "false"])
            .kill_on_drop(true);
        if let Some(key) = key {
            command.args(["--header", &format!("Authorization: Bearer {key}")]);
        }
        let started = Instant::now();
        async move {
            let output = command.output().await.expect("schemathesis runs");
            (caller, output, started.elapsed())
        }
    });
    let mut failures = Vec::new();
    for (caller, output, took) in futures::future::join_all(runs).await {
        let report = String::from_utf8_lossy(&output.stdout);
        eprintln!(
            "schemathesis as {caller}: {} in {took:.0?} (seed {seed})",
            report.lines().last().unwrap_or_default(),
        );
        if !output.status.success() {
            failures.push(format!(
                "== as {caller} ==\n{report}\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    let _ = stop.send(());
    server
        .await
        .expect("the server task")
        .expect("the server stops cleanly");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
