//! The period close, stopped between any two of its storage writes and run again, ends exactly
//! where a clean run ends: the same invoices customer by customer, numbers 1..N without a gap
//! or a repeat, one ledger entry per invoice, the same counters. And many workers closing at
//! once never share or skip a number.
//!
//! Faults are injected by the store itself (`Faults::fail_write(n)`: the n-th billing write
//! fails before it is sent, as a crash or a throttled request would), and the close is then
//! driven the way AWS drives it: SQS redelivers the failed message, a duplicated schedule
//! trigger resumes the close.

use std::sync::Arc;
use std::time::Duration;

use kopek_aws::dynamo::Store;
use kopek_aws::faults::Faults;
use kopek_aws::queue::Queue;
use kopek_domain::clock::{FixedClock, SystemClock};
use kopek_domain::close::JobStatus;
use kopek_domain::ids::OrgId;
use kopek_domain::invoicing::InvoiceSeries;
use kopek_domain::ledger::Entry;
use kopek_domain::period::BillingPeriod;
use kopek_events::close::poller;
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_services::close::{Closer, Trigger};
use kopek_tests::TestApp;
use serde_json::json;

/// Customers of a world: the quantity of `VPS-S` each subscribes to (0: none, nothing to bill).
const QUANTITIES: [u32; 3] = [1, 0, 3];

/// Last month, and an app whose customers subscribed on its 10th (in `QUANTITIES` order).
async fn world(quantities: &[u32]) -> (TestApp, Vec<OrgId>, BillingPeriod) {
    let period = kopek_tests::emulator::current_period().previous();
    let tenth = period.first_day() + chrono::TimeDelta::days(9);
    let clock = Arc::new(FixedClock::at(
        kopek_tests::emulator::calendar().start_of(tenth) + chrono::TimeDelta::hours(9),
    ));
    let app = TestApp::with_clock(clock).await;
    let admin = app.admin().await;
    app.post(
        "/v1/catalog/services",
        Some(&admin),
        &json!({
            "code": "VPS-S", "name": {"ru": "Виртуальный сервер S", "en": "Virtual server S"},
            "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
        }),
    )
    .await
    .assert_status(201);
    let mut orgs = Vec::new();
    for (i, quantity) in quantities.iter().enumerate() {
        let customer = app.register(&format!("Клиент {i}")).await;
        if *quantity > 0 {
            app.post(
                "/v1/subscriptions",
                Some(&customer.token),
                &json!({"service": "VPS-S", "quantity": quantity.to_string()}),
            )
            .await
            .assert_status(201);
        }
        orgs.push(customer.org_id.parse().expect("an organisation id"));
    }
    (app, orgs, period)
}

/// The close as the worker function runs it, on the app's table and `CloseQueue`.
fn closer(app: &TestApp, faults: Option<Arc<Faults>>) -> Closer {
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let env = app
        .provisioned
        .function_env(&template, "PeriodCloseWorkerFunction")
        .expect("env");
    let store = app.store.clone();
    app.state
        .services
        .clone()
        .with_store(match faults {
            Some(faults) => store.with_faults(faults),
            None => store,
        })
        .with_close_queue(Queue::new(
            aws_sdk_sqs::Client::new(&app.sdk),
            env["KOPEK_CLOSE_QUEUE_URL"].clone(),
        ))
        .with_clock(Arc::new(SystemClock))
        .with_settings(|s| s.close_seal_wait = Duration::ZERO)
        .closer()
}

/// Drives a close to its end as AWS would: the trigger is retried until it answers (a
/// duplicated trigger resumes a close already started), SQS redelivers failed messages, and
/// a close that still has work is resumed.
async fn run_to_the_end(closer: &Closer, store: &Store, period: BillingPeriod) {
    for attempt in 0.. {
        assert!(attempt < 10, "the close never started");
        match closer.start(period, Trigger::Schedule).await {
            Ok(_) => break,
            Err(e) if e.is_transient() => continue,
            Err(e) => panic!("the close cannot start: {e}"),
        }
    }
    for attempt in 0.. {
        assert!(attempt < 10, "the close never ended");
        poller::drain(closer, 2, 0)
            .await
            .expect("the close queue drains");
        let status = store.period(period).await.expect("status");
        if status.is_some_and(|s| s.status.as_str() == "closed") {
            return;
        }
        if let Err(e) = closer.resume(period).await {
            assert!(e.is_transient(), "resume failed for good: {e}");
        }
    }
}

/// What a close leaves behind, per customer in `orgs` order: the invoice without its ids,
/// number and dates (which legitimately differ between apps), the job's status and the
/// customer's ledger entries; plus the numbers used and the period's counters.
async fn outcome(
    app: &TestApp,
    orgs: &[OrgId],
    period: BillingPeriod,
) -> (Vec<serde_json::Value>, Vec<u64>, serde_json::Value) {
    let store = &app.store;
    let mut customers = Vec::new();
    let mut numbers = Vec::new();
    for org in orgs {
        let invoice = store.invoice_of(*org, period).await.expect("an invoice");
        let entries: Vec<Entry> = store.ledger_entries(*org).await.expect("entries");
        let job = store
            .job(period, *org)
            .await
            .expect("a job")
            .expect("planned");
        let content = invoice.map(|stored| {
            numbers.push(stored.invoice.number.seq);
            let draft = &stored.invoice.draft;
            json!({
                "lines": draft.lines.iter().map(|l| json!({
                    "service": l.service.to_string(), "quantity": l.quantity.to_string(),
                    "amount": l.amount.to_string(), "tax": l.tax.to_string(), "gross": l.gross.to_string(),
                })).collect::<Vec<_>>(),
                "net": draft.net.to_string(), "tax": draft.tax.to_string(), "gross": draft.gross.to_string(),
            })
        });
        customers.push(json!({
            "invoice": content,
            "job": job.status.as_str(),
            "ledger_entries": entries.len(),
            "ledger_total": entries.iter().map(|e| e.total().expect("a total").to_string()).collect::<Vec<_>>(),
        }));
    }
    numbers.sort_unstable();
    let status = store
        .period(period)
        .await
        .expect("status")
        .expect("started");
    let counters = json!({
        "status": status.status.as_str(), "planned": status.planned, "remaining": status.remaining,
        "done": status.done, "skipped": status.skipped, "failed": status.failed,
    });
    (customers, numbers, counters)
}

#[tokio::test]
async fn a_close_stopped_between_any_two_writes_and_run_again_equals_a_clean_run() {
    let (clean_app, clean_orgs, period) = world(&QUANTITIES).await;
    let faults = Faults::new();
    let clean = closer(&clean_app, Some(faults.clone()));
    run_to_the_end(&clean, &clean_app.store, period).await;
    let writes = faults.writes();
    let expected = outcome(&clean_app, &clean_orgs, period).await;
    let invoiced = QUANTITIES.iter().filter(|q| **q > 0).count() as u64;
    assert_eq!(expected.1, (1..=invoiced).collect::<Vec<_>>());
    assert!(writes >= 2 + QUANTITIES.len() as u64, "{writes} writes");

    // Stop the close at its 1st write, then at its 2nd, … up to the last a clean run makes
    // (each in a world of its own, run side by side).
    let runs = (1..=writes).map(|n| {
        let expected = &expected;
        async move {
            let (app, orgs, period) = world(&QUANTITIES).await;
            let faults = Faults::new();
            let faulty = closer(&app, Some(faults.clone()));
            faults.fail_write(n);
            run_to_the_end(&faulty, &app.store, period).await;
            assert!(
                faults.writes() > n,
                "write {n} was never reached: the fault did not fire"
            );
            assert_eq!(
                &outcome(&app, &orgs, period).await,
                expected,
                "the close stopped at write {n} and run again differs from a clean run"
            );
        }
    });
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn many_workers_at_once_number_invoices_without_a_gap_or_a_repeat() {
    let quantities: Vec<u32> = (1..=8).collect();
    let (app, orgs, period) = world(&quantities).await;
    let close = closer(&app, None);
    close
        .start(period, Trigger::Admin("test".into()))
        .await
        .expect("started");
    // Plan, then close every customer from eight concurrent tasks, each customer twice.
    poller::drain(&close, 1, 0).await.expect("planned");
    let tasks: Vec<_> = orgs
        .iter()
        .chain(orgs.iter())
        .map(|org| {
            let (close, org) = (close.clone(), *org);
            tokio::spawn(async move {
                loop {
                    match close.close_customer(period, org).await {
                        Ok(outcome) => return outcome,
                        Err(e) if e.is_transient() => continue,
                        Err(e) => panic!("{org}: {e}"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task");
    }
    // The messages the planner queued find every job done.
    poller::drain(&close, 2, 0).await.expect("drained");

    let (customers, numbers, counters) = outcome(&app, &orgs, period).await;
    assert_eq!(numbers, (1..=orgs.len() as u64).collect::<Vec<_>>());
    for (i, customer) in customers.iter().enumerate() {
        assert_eq!(customer["job"], JobStatus::Done.as_str(), "customer {i}");
        assert_eq!(customer["ledger_entries"], 1, "customer {i}");
    }
    assert_eq!(
        counters,
        json!({"status": "closed", "planned": orgs.len(), "remaining": 0,
               "done": orgs.len(), "skipped": 0, "failed": 0})
    );
    let year = chrono::Datelike::year(&kopek_tests::emulator::today());
    let series = InvoiceSeries::new("KPK").expect("a series");
    assert_eq!(
        app.store
            .sequence_last(
                &series,
                kopek_domain::invoicing::DocumentKind::Invoice,
                year
            )
            .await
            .expect("the sequence"),
        orgs.len() as u64
    );
}
