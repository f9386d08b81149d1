//! `cargo xtask bench report [--runs N] [--customers K]` (default 5 runs, 20 customers): what a
//! customer's full report and the daily dunning run cost.
//!
//! One customer is given five years of history through the real services on a controlled
//! clock: a subscription from the first month, then every month the period closed (the close's
//! own queue, as in AWS) and its invoice paid on the 10th — 60 invoices, 60 payments, their
//! ledger entries. Then, N times each, the statement of account over the five years through
//! the router (JSON, CSV, XLSX) and the reconciliation statement as a PDF (asked for through
//! the router, made by `Documents::make_report` as the `documents` function does): wall time,
//! this process's CPU time and the DynamoDB requests and read units (the store's counters).
//!
//! Then K more customers subscribe in the last month, and nobody pays that month's invoice;
//! the daily dunning run (`Dunning::run_daily`) is run on every day from the invoices' issue
//! to 46 days past their due date: requests per run and per customer on the days the state
//! changed (a step, or the overdue amount on the day after the due date) and on the others.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::http::Method;
use chrono::{NaiveDate, TimeDelta};
use kopek_domain::accounts::Principal;
use kopek_domain::clock::FixedClock;
use kopek_domain::ids::{OrgId, ReportId};
use kopek_domain::period::BillingPeriod;
use kopek_http::state::AppState;
use kopek_local::tools;
use kopek_services::close::Trigger;
use serde_json::json;

use super::procfs::process_cpu_ns;
use super::{bench_inn, bench_request, measured, percentiles, profile, setup_call, string_at};
use crate::stack::Stack;

const MONTHS: u32 = 60;
const PASSWORD: &str = "bench-password-1";

pub(super) async fn run(
    root: &Path,
    tools: &tools::Tools,
    runs: usize,
    customers: usize,
) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let calendar = stack.state.calendar();
    let now_period = calendar.period_of(chrono::Utc::now());
    let mut first = now_period;
    for _ in 0..MONTHS {
        first = first.previous();
    }
    let clock = Arc::new(FixedClock::at(
        calendar.start_of(first.first_day()) + TimeDelta::hours(9),
    ));
    let mut state = stack.state.clone();
    state.services = state
        .services
        .clone()
        .with_clock(clock.clone())
        .with_settings(|s| s.close_seal_wait = Duration::ZERO);
    let router = kopek_api::local_app(state.clone());
    let admin_user = super::bootstrap_admin(&state, "admin@bench.test", PASSWORD)
        .await
        .map_err(super::err)?;
    let admin = Principal::from_user(&admin_user, None).map_err(super::err)?;
    let token = |state: AppState, router: axum::Router| async move {
        let body = json!({"email": "admin@bench.test", "password": PASSWORD});
        let session = setup_call(&state, &router, "/v1/auth/sign-in", None, &body, 200).await?;
        string_at(&session, "/access_token")
    };
    let t = token(state.clone(), router.clone()).await?;
    let put = bench_request(
        Method::PUT,
        "/v1/billing/requisites",
        Some(&t),
        Some(&json!({"requisites": crate::demo::provider_requisites()})),
    )?;
    measured(&state, &router, put, 200).await?;
    setup_call(
        &state,
        &router,
        "/v1/catalog/services",
        Some(&t),
        &json!({"code": "VPS-S", "name": {"ru": "Виртуальный сервер", "en": "Virtual server"},
                "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
                "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}}),
        201,
    )
    .await?;
    let org = subscribed(&state, &router, 0).await?;

    eprintln!("kopek: five years of monthly invoices and payments …");
    let started = Instant::now();
    let mut period = first;
    let mut invoices = 0;
    for _ in 0..MONTHS {
        let next = period.next();
        move_to(
            &clock,
            &state,
            calendar.start_of(next.first_day()) + TimeDelta::hours(2),
        );
        close(&state, period).await?;
        move_to(
            &clock,
            &state,
            calendar.start_of(next.first_day() + TimeDelta::days(9)),
        );
        let invoice = state
            .services
            .invoices()
            .of_period(&admin, Some(org), period)
            .await?
            .invoice;
        invoices += 1;
        let t = token(state.clone(), router.clone()).await?;
        setup_call(
            &state,
            &router,
            "/v1/billing/payments",
            Some(&t),
            &json!({"org_id": org.to_string(), "amount": invoice.draft.gross.amount().to_string(),
                    "currency": "RUB", "received_on": state.today().to_string(),
                    "reference": format!("п/п {}", invoice.number)}),
            201,
        )
        .await?;
        period = next;
    }
    eprintln!(
        "kopek: {invoices} invoices and payments in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let from = first.first_day();
    let to = state.today();
    let mut rows = Vec::new();
    let mut statement_rows = 0;
    for format in ["json", "csv", "xlsx"] {
        let mut samples = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let t = token(state.clone(), router.clone()).await?;
            let path = format!(
                "/v1/billing/account-statement?org_id={org}&from={from}&to={to}&format={format}"
            );
            let request = bench_request(Method::GET, &path, Some(&t), None)?;
            let (sample, body) = measured(&state, &router, request, 200).await?;
            if format == "json" {
                statement_rows = body["rows"].as_array().map_or(0, Vec::len);
                size = serde_json::to_vec(&body)?.len();
            }
            samples.push(sample);
        }
        rows.push(row(
            &format!("statement of account, {format}"),
            &mut samples,
            size,
        ));
    }
    let mut samples = Vec::new();
    for _ in 0..runs {
        let t = token(state.clone(), router.clone()).await?;
        let (asked, body) = measured(
            &state,
            &router,
            bench_request(
                Method::POST,
                "/v1/billing/reports",
                Some(&t),
                Some(&json!({"kind": "reconciliation", "org_id": org.to_string(),
                             "from": from.to_string(), "to": to.to_string()})),
            )?,
            202,
        )
        .await?;
        let id: ReportId = string_at(&body, "/id")?.parse().map_err(super::err)?;
        let before = state.services.capacity();
        let cpu = process_cpu_ns();
        let started = Instant::now();
        state.services.documents().make_report(org, id).await?;
        let wall = started.elapsed();
        let after = state.services.capacity();
        samples.push(super::Sample {
            wall: asked.wall + wall,
            cpu: cpu
                .zip(process_cpu_ns())
                .map(|(b, a)| asked.cpu.unwrap_or_default() + Duration::from_nanos(a - b)),
            ticks: None,
            requests: asked.requests + after.requests - before.requests,
            read_milli_units: asked.read_milli_units + after.read_milli_units
                - before.read_milli_units,
            write_milli_units: asked.write_milli_units + after.write_milli_units
                - before.write_milli_units,
        });
    }
    rows.push(row(
        "reconciliation statement, PDF (asked + made)",
        &mut samples,
        0,
    ));

    println!(
        "One customer, {MONTHS} monthly invoices and {invoices} payments from {from} to {to} ({statement_rows} rows in the statement), {} build, {runs} runs each:",
        profile()
    );
    println!();
    println!(
        "| report | wall p50 | wall p95 | our CPU p50 | DynamoDB requests | RCU | WCU | JSON bytes |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }

    // Dunning: K customers with one unpaid invoice, every day through the policy.
    eprintln!("kopek: {customers} customers for the dunning run …");
    for i in 0..customers {
        subscribed(&state, &router, i as u64 + 1).await?;
    }
    let last = period;
    let next = last.next();
    move_to(
        &clock,
        &state,
        calendar.start_of(next.first_day()) + TimeDelta::hours(2),
    );
    close(&state, last).await?;
    let due: Vec<NaiveDate> = state
        .services
        .invoices()
        .of_period(&admin, Some(org), last)
        .await
        .map(|i| vec![i.invoice.due_on])?;
    // Nobody pays: every customer's last invoice goes overdue.
    let dunning = state.services.dunning();
    let mut step_days = Vec::new();
    let mut quiet_days = Vec::new();
    let mut day = state.today();
    while day <= due[0] + TimeDelta::days(46) {
        move_to(&clock, &state, calendar.start_of(day) + TimeDelta::hours(9));
        let before = state.services.capacity();
        let ran = dunning.run_daily().await?;
        let after = state.services.capacity();
        let requests = after.requests - before.requests;
        let writes = after.write_milli_units - before.write_milli_units;
        if ran.changed > 0 {
            step_days.push((day, requests, writes, ran.changed, ran.notices));
        } else {
            quiet_days.push(requests);
        }
        day += TimeDelta::days(1);
    }
    let all = customers + 1;
    println!();
    println!(
        "The daily dunning run over {all} customers, each with an unpaid invoice due {}, every day from the invoices' issue to 46 days after the due date:",
        due[0]
    );
    println!();
    println!("| day | DynamoDB requests | per customer | WCU | customers moved | notices |");
    println!("|---|---|---|---|---|---|");
    for (day, requests, writes, changed, notices) in &step_days {
        println!(
            "| {day} | {requests} | {:.2} | {:.1} | {changed} | {notices} |",
            *requests as f64 / all as f64,
            *writes as f64 / 1000.0
        );
    }
    let quiet = quiet_days.iter().sum::<u64>() as f64 / quiet_days.len().max(1) as f64;
    println!(
        "| the other {} days (mean) | {quiet:.1} | {:.2} | 0 | 0 | 0 |",
        quiet_days.len(),
        quiet / all as f64
    );
    Ok(())
}

/// Registers customer `n` and subscribes it to `VPS-S` from today.
async fn subscribed(state: &AppState, router: &axum::Router, n: u64) -> anyhow::Result<OrgId> {
    let body = json!({
        "organisation": {"legal_name": format!("ООО «Абонент {n}»"), "tax_id": bench_inn(n + 5_000),
            "billing_email": format!("billing{n}@report.bench"), "billing_address": "101000, Москва, ул. Мясницкая, 1",
            "currency": "RUB", "language": "ru"},
        "user": {"name": "Мария Иванова", "email": format!("owner{n}@report.bench"), "password": PASSWORD}
    });
    let registered = setup_call(state, router, "/v1/auth/register", None, &body, 201).await?;
    let token = string_at(&registered, "/session/access_token")?;
    setup_call(
        state,
        router,
        "/v1/subscriptions",
        Some(&token),
        &json!({"service": "VPS-S", "quantity": "1"}),
        201,
    )
    .await?;
    string_at(&registered, "/organisation/id")?
        .parse()
        .map_err(super::err)
}

/// Moves the benchmark's clock forward to `at`.
fn move_to(clock: &FixedClock, state: &AppState, at: chrono::DateTime<chrono::Utc>) {
    let by = at - state.services.now();
    if by > TimeDelta::zero() {
        clock.advance(by);
    }
}

/// Closes `period` through the close's own queue, as the schedule and the worker would.
async fn close(state: &AppState, period: BillingPeriod) -> anyhow::Result<()> {
    let closer = state.services.closer();
    closer
        .start(period, Trigger::Admin("bench".into()))
        .await
        .with_context(|| format!("closing {period}"))?;
    kopek_events::close::poller::drain(&closer, 1).await?;
    Ok(())
}

fn row(what: &str, samples: &mut [super::Sample], size: usize) -> String {
    let requests = samples.first().map_or(0, |s| s.requests);
    let rcu = samples.first().map_or(0, |s| s.read_milli_units) as f64 / 1000.0;
    let wcu = samples.first().map_or(0, |s| s.write_milli_units) as f64 / 1000.0;
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    let (p50, p95) = percentiles(&mut walls);
    let mut cpus: Vec<Duration> = samples.iter().filter_map(|s| s.cpu).collect();
    let cpu = if cpus.is_empty() {
        "-".to_owned()
    } else {
        super::ms(percentiles(&mut cpus).0)
    };
    let size = if size == 0 {
        "-".to_owned()
    } else {
        size.to_string()
    };
    format!(
        "| {what} | {} | {} | {cpu} | {requests} | {rcu:.1} | {wcu:.1} | {size} |",
        super::ms(p50),
        super::ms(p95)
    )
}
