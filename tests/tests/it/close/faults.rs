//! The close under failure and contention, recovered only the way AWS recovers it.
//!
//! **Stopped at any write, before or after it.** Every write the close sends — each store
//! write (a put, an update, a transaction) and each `SendMessageBatch` to `CloseQueue` — is
//! counted by one [`Faults`] shared by the close's store and queue. A clean close is run
//! first; then, in a world of its own each, the close is run with the n-th of those writes
//! failing, for every n, once *before* it is sent (nothing written, as a throttled request
//! or a crash) and once *after* it succeeded (written, but the caller told it failed, as a
//! Lambda that timed out before it heard the answer). The only recovery is production's:
//! EventBridge Scheduler invokes `period-close` again when an invocation fails, and SQS
//! delivers a message again when its handler failed (`kopek_events::close::poller::drain`,
//! the stand-in for the worker's event source mapping). Nobody resumes the close or sends
//! anything by hand. Every run must end `closed`, with the clean run's invoices, numbers,
//! ledger and counters, and an empty queue.
//!
//! **Many steps number at once.** After planning, every customer's invoice is composed by a
//! task of its own, all started together, and four numbering steps number all of them in
//! blocks at once: the steps read the same last number and race for it.
//! The numbers come out 1..N in each series without a gap or a repeat, each invoice is
//! issued once (the overlaps are found issued), and the losers are counted
//! (`Services::contention`), which shows that the retry path ran.
//!
//! Both worlds number their invoices in several series (`series_count`), so a customer's
//! placement in its series is among the writes stopped and repeated.

use std::sync::Arc;

use chrono::Datelike;
use kopek_aws::faults::Faults;
use kopek_domain::clock::FixedClock;
use kopek_domain::close::{JobStatus, PlanSegments};
use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_events::close::{ScheduledClose, handle_schedule, poller};
use kopek_services::Services;
use kopek_services::close::{Closer, CustomerOutcome, ReadyInvoice, Trigger};
use rust_decimal::Decimal;
use serde_json::json;

use super::month::*;
use super::world::*;

/// The customers of a fault world: the [`FEE`] quantity each subscribes to on the 10th
/// (0: none, nothing to bill — its job is skipped).
const QUANTITIES: [u32; 5] = [1, 0, 3, 2, 1];

/// Series the fault world numbers in.
const SERIES_COUNT: u8 = 2;

/// A month of [`QUANTITIES`], ended, numbered in [`SERIES_COUNT`] series; the worker's
/// services on the world's clock.
async fn fault_world() -> (World, Vec<OrgId>) {
    let w = World::new().await;
    w.numbered_in(SERIES_COUNT).await;
    let mut orgs = Vec::new();
    for (i, quantity) in QUANTITIES.iter().enumerate() {
        let party = w.party(&format!("Клиент {i}")).await;
        if *quantity > 0 {
            w.subscribe(&party, *quantity).await;
        }
        orgs.push(party.org);
    }
    w.month_ended();
    (w, orgs)
}

/// Planning segments of the fault world: two chains side by side, few enough writes to stop
/// each of them.
const SEGMENTS: u8 = 2;

/// The worker's close with every store write and every send to `CloseQueue` and
/// `NumberQueue` counted (and failed as armed) by `faults`, planned in [`SEGMENTS`].
fn faulty_closer(w: &World, clock: Arc<FixedClock>, faults: &Arc<Faults>) -> Closer {
    let services = worker(&w.app, clock)
        .with_settings(|s| s.close_plan_segments = PlanSegments::new(SEGMENTS).expect("segments"));
    let queue = services
        .close_queue()
        .cloned()
        .expect("the worker's close queue");
    let numbering = services
        .number_queue()
        .cloned()
        .expect("the worker's numbering queue");
    services
        .with_store(w.store().clone().with_faults(faults.clone()))
        .with_close_queue(queue.with_faults(faults.clone()))
        .with_number_queue(numbering.with_faults(faults.clone()))
        .closer()
}

/// The close as AWS runs it: the schedule's invocation of `period-close`, invoked again while
/// it fails (EventBridge Scheduler's retries), then `CloseQueue` drained as the worker's event
/// source mapping feeds it, a failed message delivered again (here at once).
async fn run_as_aws(close: &Closer, period: BillingPeriod) {
    let event = ScheduledClose {
        period: Some(period),
        scheduled_time: None,
        time_zone: close.calendar().to_string(),
    };
    for attempt in 0.. {
        assert!(attempt < 10, "the scheduled start kept failing");
        match handle_schedule(close, event.clone()).await {
            Ok(_) => break,
            Err(e) if e.is_transient() => continue,
            Err(e) => panic!("the scheduled start failed for good: {e}"),
        }
    }
    poller::drain(close, 0).await.expect("CloseQueue drains");
}

/// Runs the fault world's close with write `n` failing (`after`: once it succeeded), and
/// returns what it left and how many writes it made; `n = 0` is the clean run.
async fn close_with_fault(n: u64, after: bool) -> (Outcome, u64, Vec<OrgId>, bool) {
    let (w, orgs) = fault_world().await;
    let faults = Faults::new();
    let close = faulty_closer(&w, w.clock.clone(), &faults);
    if after {
        faults.fail_after_write(n);
    } else {
        faults.fail_write(n);
    }
    run_as_aws(&close, w.period).await;
    let how = if after { "after" } else { "before" };
    let status = w.status(w.period).await.expect("the close started");
    assert_eq!(
        status.status.as_str(),
        "closed",
        "stopped {how} write {n}: recovered by redelivery alone, the close must end closed: {status:?}"
    );
    assert_eq!(w.queue_depth().await, (0, 0), "write {n} ({how})");
    assert_eq!(
        faults.fired(),
        n > 0 && n <= faults.writes(),
        "write {n} ({how})"
    );
    let fired = faults.fired();
    (
        outcome(&w, &orgs, w.period).await,
        faults.writes(),
        orgs,
        fired,
    )
}

/// The writes of a clean close of a fault world of `orgs` numbered in `series` series: the
/// start (the period, the segments' planning messages), one planning page per segment (the
/// page, and its customers' messages if it has any), the skip of each customer with nothing
/// to bill and one send of the composed invoices (the customers' messages come in one batch,
/// composed together), one block per series (their invoices come in one batch too), and the
/// period's close — the completion checks read (their shard's tally, then every tally once
/// theirs is at 0) and only the one that finds nothing remaining anywhere writes.
fn clean_writes(orgs: &[OrgId], series: usize) -> u64 {
    let segments = PlanSegments::new(SEGMENTS).expect("segments");
    let segments_with_customers = orgs
        .iter()
        .map(|org| segments.segment_of(kopek_domain::close::job_shard(*org)))
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    let skipped = QUANTITIES.iter().filter(|q| **q == 0).count() as u64;
    2 + u64::from(SEGMENTS) + segments_with_customers + skipped + 1 + series as u64 + 1
}

#[tokio::test]
async fn a_close_stopped_before_or_after_any_write_ends_closed_by_redelivery_alone() {
    let (clean, writes, orgs, _) = close_with_fault(0, false).await;
    let invoiced = QUANTITIES.iter().filter(|q| **q > 0).count() as u64;
    let series = assert_gapless(&clean.numbers, invoiced as usize);
    assert_eq!(
        writes,
        clean_writes(&orgs, series.len()),
        "the clean run's writes"
    );
    assert!(
        series.values().any(|count| *count > 1),
        "a block of several invoices (four invoices, two series): {series:?}"
    );
    assert!(
        series.keys().all(|s| s.starts_with(&format!("{SERIES}-0"))),
        "numbered in subdivisions: {series:?}"
    );
    assert_eq!(
        clean.counters,
        json!({"status": "closed", "planned": QUANTITIES.len(), "remaining": 0,
               "done": invoiced, "skipped": QUANTITIES.len() as u64 - invoiced,
               "failed": 0, "plan_complete": true})
    );

    // Each write failed once before and once after it, each in a world of its own, side by
    // side; and one past the last write, where nothing fails.
    let runs = futures::future::join_all(
        (1..=writes + 1).flat_map(|n| [close_with_fault(n, false), close_with_fault(n, true)]),
    )
    .await;
    for (i, (faulty, made, orgs, fired)) in runs.iter().enumerate() {
        let (n, how) = (i as u64 / 2 + 1, ["before", "after"][i % 2]);
        if n <= writes {
            // The fault fired where the world had a write n (checked in `close_with_fault`:
            // worlds of their own place their customers in series and segments of their own,
            // so their counts differ by a write or two); a write stopped before it was sent
            // was made again.
            if how == "before" && *fired {
                assert!(*made > n, "write {n} ({how}) was never made again");
            }
        } else {
            // Its own customers, placed in series and segments of their own.
            let series = assert_gapless(&faulty.numbers, invoiced as usize).len();
            assert_eq!(
                *made,
                clean_writes(orgs, series),
                "past the last write, the close runs clean"
            );
        }
        assert_eq!(
            faulty.numbered_gapless(invoiced as usize),
            clean.numbered_gapless(invoiced as usize),
            "stopped {how} write {n}, then redelivered"
        );
    }
}

#[tokio::test]
async fn a_clean_close_of_the_fault_world_bills_the_fees_it_was_given() {
    let (w, orgs) = fault_world().await;
    let faults = Faults::new();
    run_as_aws(&faulty_closer(&w, w.clock.clone(), &faults), w.period).await;
    for (org, quantity) in orgs.iter().zip(QUANTITIES) {
        let invoice = w.invoice(*org, w.period).await;
        if quantity == 0 {
            assert!(invoice.is_none(), "nothing to bill, no invoice");
            continue;
        }
        let quantity = Decimal::from(quantity);
        let fee = prorated(dec(FEE_PRICE) * quantity, w.period, day(w.period, 10));
        assert_invoice(
            &invoice.expect("invoiced"),
            &[Line::new("subscription", FEE, quantity, fee)],
            &org.to_string(),
        );
    }
    // Each customer's period.closed went into the outbox with its close: with the invoice,
    // or without one when there was nothing to bill.
    let events: Vec<(String, bool)> = w
        .app
        .scan_all()
        .await
        .into_iter()
        .filter_map(|item| {
            let record = kopek_aws::dynamo::orders::event_of_item(item)?;
            match record.kind {
                kopek_domain::charges::EventKind::PeriodClosed { invoice, .. } => {
                    Some((record.org.to_string(), invoice.is_some()))
                }
                _ => None,
            }
        })
        .collect();
    for (org, quantity) in orgs.iter().zip(QUANTITIES) {
        let told: Vec<bool> = events
            .iter()
            .filter(|(o, _)| *o == org.to_string())
            .map(|(_, invoiced)| *invoiced)
            .collect();
        assert_eq!(told, [quantity > 0], "{org}: one period.closed");
    }
}

#[tokio::test]
async fn workers_closing_at_once_race_for_numbers_and_leave_no_gap_or_repeat() {
    const CUSTOMERS: usize = 12;
    let w = World::new().await;
    w.numbered_in(3).await;
    let period = w.period;
    let mut parties = Vec::new();
    for i in 0..CUSTOMERS {
        let party = w.party(&format!("Клиент {i}")).await;
        if i % 2 == 0 {
            w.subscribe(&party, 1).await;
        }
        parties.push(party);
    }
    w.set_clock(at(day(period, 20), 12));
    for (i, party) in parties.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        // Over the free tier, so that every customer has something to pay.
        let event = Usage {
            id: format!("c{i}"),
            meter: METER,
            quantity: Decimal::from(150 + i),
            at: at(day(period, 18), 8),
        };
        assert_eq!(w.send_usage(party, &[event]).await.counted, 1);
    }
    w.month_ended();

    // Started and planned; then every customer's invoice composed by a task of its own, all
    // at once, and numbered by four numbering steps at once in blocks — racing for the same
    // sequences, as steps would that SQS did not keep apart (one outlived its visibility
    // timeout, say).
    let services: Services = worker(&w.app, w.clock.clone());
    let close = services.closer();
    assert!(
        close
            .start(period, Trigger::Schedule)
            .await
            .expect("started")
            .started
    );
    plan_every_segment(&close, w.store(), period).await;
    let ready: Vec<ReadyInvoice> = futures::future::join_all(parties.iter().map(|party| {
        let (close, store, org) = (close.clone(), w.store().clone(), party.org);
        async move {
            let job = store
                .job(period, org)
                .await
                .expect("read")
                .expect("planned");
            close
                .compose_ready(period, org, &job)
                .await
                .expect("composed")
                .expect("something to bill")
        }
    }))
    .await;
    let before = services.contention();
    // Every step is given every invoice, in the same order: they all read the same last
    // number of the first series at once, so all but one lose it.
    let steps = (0..4).map(|_| {
        let (close, mine) = (close.clone(), ready.clone());
        async move {
            for _ in 0..20 {
                match close.number_block(mine.clone()).await {
                    Ok(outcomes) => return outcomes,
                    Err(e) if e.is_transient() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
            panic!("numbering kept failing")
        }
    });
    let outcomes: Vec<CustomerOutcome> = futures::future::join_all(steps)
        .await
        .into_iter()
        .flatten()
        .map(|(_, outcome)| outcome)
        .collect();
    let lost = services.contention().numbers_lost - before.numbers_lost;
    let issued = outcomes
        .iter()
        .filter(|o| matches!(o, CustomerOutcome::Issued { .. }))
        .count();
    assert_eq!(issued, CUSTOMERS, "each invoice issued once: {outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            CustomerOutcome::Issued { .. } | CustomerOutcome::AlreadyDone
        )),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, CustomerOutcome::AlreadyDone)),
        "the steps' overlaps were found issued"
    );
    assert!(
        lost >= 1,
        "steps that read the same last number raced for it: at least one lost and numbered after"
    );
    // The start's planning message and the customer messages find everything done, and the
    // period closes.
    poller::drain(&close, 0).await.expect("drained");

    let mut numbers = std::collections::BTreeSet::new();
    for party in &parties {
        let invoice = w.invoice(party.org, period).await.expect("invoiced");
        assert_eq!(
            invoice.number.year,
            kopek_tests::emulator::calendar().date_of(w.now()).year()
        );
        numbers.insert(invoice.number.to_string());
        assert_eq!(w.entries(party.org).await.len(), 1);
        let job = w.store().job(period, party.org).await.expect("read");
        assert_eq!(job.map(|j| j.status), Some(JobStatus::Done));
        // The customer is placed in the series its invoice is numbered in, for good.
        let placed = w
            .store()
            .organisation(party.org)
            .await
            .expect("read")
            .expect("the organisation")
            .series_index;
        assert_eq!(placed, invoice.number.series.index(), "{}", invoice.number);
        assert!(placed.is_some_and(|i| (1..=3).contains(&i)));
    }
    // Gapless in each series, and the series' sequences say as much.
    let series = assert_gapless(&numbers, CUSTOMERS);
    let mut last = 0;
    for (name, count) in &series {
        let series = kopek_domain::invoicing::InvoiceSeries::parse(name).expect("a series");
        assert_eq!(w.sequence_last_of(&series).await, *count, "{name}");
        last += count;
    }
    assert_eq!(last, CUSTOMERS as u64);
    let listed = w
        .store()
        .list_invoices_of_period(period, 100, None)
        .await
        .expect("the period's invoices");
    assert_eq!(listed.items.len(), CUSTOMERS, "one invoice per customer");
    // Nothing was numbered in the code's own series.
    assert_eq!(w.sequence_last().await, 0);
    let status = w.status(period).await.expect("the close");
    assert_counters(&status, "closed", CUSTOMERS as u64, CUSTOMERS as u64, 0);
}
