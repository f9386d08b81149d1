//! A batch completion too large for one DynamoDB transaction.
//!
//! A completion writes each work order's line, charge and event together (three actions),
//! in transactions of at most 100 actions: 33 work orders each (`Store::save_batch_work`),
//! then the batch. So 45 work orders take two transactions and the batch's own write
//! ([`CLEAN_WRITES`], counted by the store's fault hooks). Done cleanly, every work order is
//! done with one charge and one event. With a crash between the transactions (an injected
//! fault: the first is written, the second never sent), the client repeats the request: the
//! repeat is refused whole, naming the first work order already done, and writes nothing, so
//! the client reads the batch and sends the outcomes of the work orders still open; the batch
//! ends complete, every charge and event in the table once. A crash after the last
//! transaction but before the batch's write leaves the batch finished by its lines: the
//! repeat is refused as closed, and the batch reads closed and complete.

use kopek_tests::str_at;
use std::collections::BTreeMap;
use std::sync::Arc;

use kopek_aws::faults::Faults;
use kopek_tests::{TestApp, TestResponse};
use serde_json::{Value, json};

use super::{World, line, place, take, work_orders, world_at};

/// Work orders in the batch: more than the 33 one transaction holds, fewer than 66.
const WORK_ORDERS: usize = 45;

/// The writes a clean completion of [`WORK_ORDERS`] makes: two transactions (33 work orders,
/// then 12), then the batch.
const CLEAN_WRITES: u64 = 3;

/// An application whose store counts its writes and fails the one `faults` is armed for.
async fn faulty_world() -> (World, Arc<Faults>) {
    let faults = Faults::new();
    let app = TestApp::start().await;
    let store = app.store.clone().with_faults(faults.clone());
    let app = app.with_state(|s| s.services = s.services.clone().with_store(store));
    (world_at(app).await, faults)
}

/// [`WORK_ORDERS`] install work orders placed by the customer (orders of 15 lines), taken by
/// the engineer as one batch: its id and its work orders.
async fn large_batch(w: &World) -> (String, Vec<String>) {
    for _ in 0..WORK_ORDERS / 15 {
        place(
            &w.app,
            &w.customer.token,
            (0..15).map(|_| line("ROUTER-SETUP", "1")).collect(),
        )
        .await
        .assert_status(201);
    }
    let batch = take(&w.app, &w.engineer, "install", 99).await;
    batch.assert_status(201);
    let wos = work_orders(&batch.body);
    assert_eq!(wos.len(), WORK_ORDERS);
    (str_at(&batch.body, "/id").to_owned(), wos)
}

/// Every work order done, with an actual quantity of 1 to 5 (a charge of 7.00 each unit,
/// the volume tier up to 5).
fn all_done(wos: &[String]) -> Value {
    json!({"outcomes": wos.iter().enumerate().map(|(i, wo)| json!({
        "work_order": wo, "outcome": "done", "actual_quantity": (i % 5 + 1).to_string()
    })).collect::<Vec<_>>()})
}

async fn complete(w: &World, batch: &str, outcomes: &Value) -> TestResponse {
    w.app
        .post(
            &format!("/v1/work/batches/{batch}/complete"),
            Some(&w.engineer),
            outcomes,
        )
        .await
}

/// The charges and `work_order_done` events in the table, counted per work order, and the
/// amount of each charge: read from the items themselves, not through the services.
async fn written(
    app: &TestApp,
) -> (
    BTreeMap<String, usize>,
    BTreeMap<String, usize>,
    Vec<String>,
) {
    let (mut charges, mut events, mut amounts) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
    for item in app.table_items().await {
        let kind = item["type"].as_str().unwrap_or_default();
        if kind.contains("\"charge\"") {
            let charge = &item["charge"];
            let wo = charge["source"]["work_order"]
                .as_str()
                .expect("a work order charge");
            *charges.entry(unquoted(wo)).or_default() += 1;
            amounts.push(unquoted(
                charge["amount"]["amount"].as_str().expect("an amount"),
            ));
        } else if kind.contains("\"event\"")
            && item["event"]["kind"]["type"]
                .as_str()
                .is_some_and(|t| t.contains("\"work_order_done\""))
        {
            let wo = item["event"]["kind"]["work_order"]
                .as_str()
                .expect("a work order");
            *events.entry(unquoted(wo)).or_default() += 1;
        }
    }
    (charges, events, amounts)
}

/// The text of a string attribute in [`TestApp::table_items`]' form (`S("…")`).
fn unquoted(attribute: &str) -> String {
    attribute
        .strip_prefix("S(\"")
        .and_then(|s| s.strip_suffix("\")"))
        .unwrap_or_else(|| panic!("not a string attribute: {attribute}"))
        .to_owned()
}

/// Asserts the batch is closed with every work order done, and that the table holds exactly
/// one charge (of the actual quantity × 7.00) and one `work_order_done` event per work order.
async fn assert_completed_once(w: &World, batch: &str, wos: &[String]) {
    let shown = w
        .app
        .get(&format!("/v1/work/batches/{batch}"), Some(&w.engineer))
        .await;
    shown.assert_status(200);
    assert_eq!(shown.body["status"], "closed", "{}", shown.body);
    let states: Vec<&Value> = shown.body["work_orders"]
        .as_array()
        .expect("work orders")
        .iter()
        .map(|wo| &wo["status"])
        .collect();
    assert_eq!(states, vec![&json!("done"); wos.len()], "{}", shown.body);

    let (charges, events, mut amounts) = written(&w.app).await;
    let once: BTreeMap<String, usize> = wos.iter().map(|wo| (wo.clone(), 1)).collect();
    assert_eq!(charges, once, "one charge per work order");
    assert_eq!(events, once, "one work_order_done event per work order");
    let mut expected: Vec<String> = (0..wos.len())
        .map(|i| format!("{}.00", 7 * (i % 5 + 1)))
        .collect();
    amounts.sort();
    expected.sort();
    assert_eq!(amounts, expected, "each charge is its quantity at 7.00");
}

#[tokio::test]
async fn a_batch_too_large_for_one_transaction_is_completed_whole_in_one_request() {
    let (w, faults) = faulty_world().await;
    let (batch, wos) = large_batch(&w).await;

    let before = faults.writes();
    let done = complete(&w, &batch, &all_done(&wos)).await;
    done.assert_status(200);
    assert_eq!(done.body["status"], "closed", "{}", done.body);
    assert_eq!(
        faults.writes() - before,
        CLEAN_WRITES,
        "two transactions of work orders, then the batch"
    );
    assert_completed_once(&w, &batch, &wos).await;

    // Completing it again is refused and writes nothing.
    let after = w.app.table_items().await;
    complete(&w, &batch, &all_done(&wos))
        .await
        .assert_problem(409, "batch_closed");
    assert_eq!(w.app.table_items().await, after);
}

#[tokio::test]
async fn a_completion_that_crashes_between_its_transactions_ends_complete_and_writes_nothing_twice()
{
    let (w, faults) = faulty_world().await;
    let (batch, wos) = large_batch(&w).await;
    let outcomes = all_done(&wos);

    // The first transaction (33 work orders) is written, then the function dies before the
    // second: the client is told to retry.
    faults.fail_after_write(1);
    let crashed = complete(&w, &batch, &outcomes).await;
    crashed.assert_status(503);
    let (charges, events, _) = written(&w.app).await;
    assert_eq!(
        (charges.len(), events.len()),
        (33, 33),
        "the first transaction was written whole, the second not at all"
    );

    // The client repeats the very same request. Today that repeat is refused whole, naming
    // the first work order the crashed attempt already completed, and writes nothing.
    let after_crash = w.app.table_items().await;
    let repeated = complete(&w, &batch, &outcomes).await;
    repeated.assert_problem(409, "work_order_not_open");
    assert_eq!(repeated.field(), "outcomes[0].work_order");
    assert_eq!(w.app.table_items().await, after_crash);

    // So the client reads the batch again and sends the outcomes of the work orders still
    // open: the batch closes, every work order done once.
    let shown = w
        .app
        .get(&format!("/v1/work/batches/{batch}"), Some(&w.engineer))
        .await;
    shown.assert_status(200);
    let open: Vec<&str> = shown.body["work_orders"]
        .as_array()
        .expect("work orders")
        .iter()
        .filter(|wo| wo["status"] != "done")
        .map(|wo| wo["work_order"].as_str().expect("an id"))
        .collect();
    assert_eq!(open.len(), WORK_ORDERS - 33, "{}", shown.body);
    let rest: Vec<Value> = outcomes["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .filter(|o| open.contains(&o["work_order"].as_str().expect("an id")))
        .cloned()
        .collect();
    let finished = complete(&w, &batch, &json!({ "outcomes": rest })).await;
    finished.assert_status(200);
    assert_eq!(finished.body["status"], "closed", "{}", finished.body);
    assert_completed_once(&w, &batch, &wos).await;
}

#[tokio::test]
async fn a_completion_that_crashes_before_saving_its_batch_reads_complete_when_repeated() {
    let (w, faults) = faulty_world().await;
    let (batch, wos) = large_batch(&w).await;
    let outcomes = all_done(&wos);

    // Both transactions are written (every work order done), then the function dies before
    // it writes the batch.
    faults.fail_after_write(2);
    complete(&w, &batch, &outcomes).await.assert_status(503);

    // The repeat finds the batch finished from its lines: refused as closed, writing nothing;
    // reading it shows it closed with every work order done once.
    let after_crash = w.app.table_items().await;
    complete(&w, &batch, &outcomes)
        .await
        .assert_problem(409, "batch_closed");
    assert_eq!(w.app.table_items().await, after_crash);
    assert_completed_once(&w, &batch, &wos).await;
}
