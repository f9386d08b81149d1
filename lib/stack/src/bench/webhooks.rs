//! `cargo xtask bench webhooks [--events N] [--pollers P]` (default 10,000 events, 4
//! pollers): what the outbox and webhooks cost, and how long a burst waits.
//!
//! 1. One real business operation through the router — a payment recorded — with its
//!    requests and write units, and the size of the event item its transaction adds.
//! 2. A burst: N `payment.received` events put into the outbox at once (bulk writes, as if N
//!    operations had just committed), one endpoint registered through the API for every
//!    type, its receiver an axum server on loopback in this process that answers 204 and
//!    records when each event id arrived.
//! 3. The dispatcher (`Outbox::relay`, as `outbox-relay` runs it) and P delivery pollers
//!    (`kopek_events::webhooks::drain`, standing in for `webhook-delivery`'s event source
//!    mapping) run concurrently from the burst's instant until every event arrived.
//!
//! Printed: the dispatch's and the deliveries' DynamoDB requests and write units per event
//! (the store's counters), deliveries per second through the emulator, and the age of the
//! oldest undelivered event over the run — its largest value is the burst's last delivery —
//! with the delivery latency's p50 and p95; moto's CPU time beside this process's.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use chrono::Utc;
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::ids::{OrgId, PaymentId};
use kopek_domain::money::{Currency, Money};
use kopek_domain::orders::UserOrKey;
use kopek_local::tools;
use rust_decimal::Decimal;
use serde_json::json;

use super::procfs::{cpu_ticks_of, moto_pid, process_cpu_ticks};
use super::{bench_request, measured, setup_call, signed_in_admin, string_at};
use crate::stack::Stack;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(
    axum::extract::State(arrivals): axum::extract::State<Arrivals>,
    headers: HeaderMap,
) -> StatusCode {
    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
        arrivals
            .lock()
            .expect("arrivals")
            .entry(id.to_owned())
            .or_insert_with(Instant::now);
    }
    StatusCode::NO_CONTENT
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted
        .get((sorted.len().saturating_sub(1)) * p / 100)
        .copied()
        .unwrap_or_default()
}

pub(super) async fn run(
    root: &Path,
    tools: &tools::Tools,
    events: usize,
    pollers: usize,
) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let state = stack.state.clone();
    let router = kopek_api::local_app(state.clone());
    let admin = signed_in_admin(&state, &router, "admin@hooks.bench", "bench-password-1").await?;

    // 1. One business operation and its event.
    let body = json!({
        "organisation": {"legal_name": "ООО «Плательщик»", "tax_id": super::bench_inn(4242),
            "billing_email": "billing@hooks.bench", "billing_address": "101000, Москва, ул. Мясницкая, 1",
            "currency": "RUB", "language": "ru"},
        "user": {"name": "Мария Иванова", "email": "owner@hooks.bench", "password": "bench-password-1"}
    });
    let registered = setup_call(&state, &router, "/v1/auth/register", None, &body, 201).await?;
    let org = string_at(&registered, "/organisation/id")?;
    let pay = bench_request(
        Method::POST,
        "/v1/billing/payments",
        Some(&admin),
        Some(
            &json!({"org_id": org, "amount": "100.00", "currency": "RUB",
                     "received_on": state.today().to_string(), "reference": "п/п 1"}),
        ),
    )?;
    let (payment, _) = measured(&state, &router, pay, 201).await?;
    let event_bytes = stack
        .store
        .outbox(10)
        .await?
        .iter()
        .map(|e| serde_json::to_vec(e).map(|v| v.len()).unwrap_or(0))
        .max()
        .unwrap_or(0);
    // The relay of these first events, before the endpoint exists (not measured).
    state.services.outbox().relay(10).await?;

    // 2. The receiver and its endpoint.
    let arrivals: Arrivals = Arc::default();
    let app = Router::new()
        .route("/hooks", post(receive))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    setup_call(
        &state,
        &router,
        "/v1/webhook-endpoints",
        Some(&admin),
        &json!({"url": url, "types": []}),
        201,
    )
    .await?;

    // The burst.
    eprintln!("kopek: putting {events} events into the outbox at once …");
    let now = Utc::now();
    let burst: Vec<DomainEvent> = (0..events)
        .map(|i| {
            DomainEvent::new(
                OrgId::new(),
                UserOrKey::System,
                now,
                EventKind::PaymentReceived {
                    payment: PaymentId::new(),
                    reference: format!("п/п {i}"),
                    amount: Money::new(Decimal::new(10_000 + i as i64, 2), Currency::RUB),
                    settled: Vec::new(),
                    to_credit: Money::new(Decimal::new(10_000 + i as i64, 2), Currency::RUB),
                },
            )
        })
        .collect();
    stack.store.put_events_in_bulk(&burst).await?;
    let started = Instant::now();
    let moto = moto_pid(stack.emulator.endpoint());
    let moto_before = moto.as_deref().and_then(cpu_ticks_of);
    let own_before = process_cpu_ticks();

    // 3. The dispatcher and the delivery pollers, side by side.
    let before = state.services.capacity();
    let queue = state
        .services
        .webhook_queue()
        .cloned()
        .context("the stack has the webhook queue")?;
    let outbox = state.services.outbox();
    let dispatching = tokio::spawn(async move {
        let mut dispatched_at = None;
        loop {
            let run = outbox.relay(1).await?;
            if run.events == 0 {
                dispatched_at.get_or_insert_with(Instant::now);
                break;
            }
        }
        anyhow::Ok(dispatched_at)
    });
    let mut delivering = Vec::new();
    for _ in 0..pollers {
        let (webhooks, queue, arrivals) =
            (state.services.webhooks(), queue.clone(), arrivals.clone());
        delivering.push(tokio::spawn(async move {
            while arrivals.lock().expect("arrivals").len() < events {
                kopek_events::webhooks::drain(&webhooks, &queue).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::Ok(())
        }));
    }
    // The oldest undelivered event's age, sampled every second.
    let mut ages = Vec::new();
    while arrivals.lock().expect("arrivals").len() < events {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let arrived = arrivals.lock().expect("arrivals").len();
        ages.push((started.elapsed(), arrived));
        eprintln!(
            "kopek: {:>5.0} s: {arrived} of {events} delivered",
            started.elapsed().as_secs_f64()
        );
    }
    let dispatched = dispatching.await??.map(|at| at - started);
    for poller in delivering {
        poller.await??;
    }
    let all = started.elapsed();
    let after = state.services.capacity();
    let own = process_cpu_ticks()
        .zip(own_before)
        .map(|(a, b)| a.saturating_sub(b));
    let moto_cpu = moto
        .as_deref()
        .and_then(cpu_ticks_of)
        .zip(moto_before)
        .map(|(a, b)| a.saturating_sub(b));
    let mut latencies: Vec<Duration> = arrivals
        .lock()
        .expect("arrivals")
        .values()
        .map(|at| *at - started)
        .collect();
    latencies.sort();

    let per_event = |milli: u64| milli as f64 / 1000.0 / events as f64;
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| one payment recorded through the router (with its event) | {} requests, {:.1} WCU |",
        payment.requests,
        payment.write_milli_units as f64 / 1000.0
    );
    println!("| its event item (JSON of the event) | {event_bytes} bytes |");
    println!(
        "| dispatch + delivery, per event | {:.2} requests, {:.2} WCU, {:.2} RCU |",
        (after.requests - before.requests) as f64 / events as f64,
        per_event(after.write_milli_units - before.write_milli_units),
        per_event(after.read_milli_units - before.read_milli_units),
    );
    println!(
        "| burst of {events}: all dispatched after | {} |",
        dispatched.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()))
    );
    println!(
        "| … all delivered after (the oldest undelivered event's largest age) | {:.1} s |",
        all.as_secs_f64()
    );
    println!(
        "| deliveries per second ({pollers} pollers, through the emulator) | {:.0} |",
        events as f64 / all.as_secs_f64()
    );
    println!(
        "| delivery latency p50 / p95 | {:.1} s / {:.1} s |",
        percentile(&latencies, 50).as_secs_f64(),
        percentile(&latencies, 95).as_secs_f64()
    );
    println!(
        "| CPU: this process / moto | {} / {} ticks |",
        own.map_or("-".into(), |t| t.to_string()),
        moto_cpu.map_or("-".into(), |t| t.to_string())
    );
    let undelivered: Vec<String> = ages
        .iter()
        .step_by((ages.len() / 10).max(1))
        .map(|(at, arrived)| format!("{:.0} s: {}", at.as_secs_f64(), events - arrived))
        .collect();
    println!("| undelivered over time | {} |", undelivered.join(", "));
    Ok(())
}
