//! `cargo xtask bench order-intake`: placing orders and taking, starting and completing work
//! batches through the router, in DynamoDB requests, capacity units, wall and CPU time.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::http::Method;
use kopek_aws::dynamo::Store;
use kopek_http::state::AppState;
use kopek_local::tools;
use serde_json::Value;

use super::procfs::{clock_ticks_per_sec, process_cpu_ns};
use super::{
    bench_inn, bench_request, measured, ms, percentiles, profile, setup_call, signed_in_admin,
    string_at,
};
use crate::stack::Stack;

/// The one-off service the order measurements order, and its work type.
const ORDER_SERVICE: &str = "BENCH-ORDER";
/// The one-off service whose queue feeds the batch measurements, and its work type.
const BATCH_SERVICE: &str = "BENCH-BATCH";
const BATCH_WORK_TYPE: &str = "bench-batches";
/// Work orders per batch, and how many of them are completed as done (the rest fail).
const BATCH_SIZE: usize = 50;
const BATCH_DONE: usize = 45;
/// Access tokens live 15 minutes; sign in again after this long.
const TOKEN_AGE: Duration = Duration::from_secs(10 * 60);

/// A signed-in user whose access token is renewed (by signing in again) before it expires.
struct Account {
    email: String,
    password: String,
    token: String,
    since: Instant,
}

impl Account {
    async fn token(&mut self, state: &AppState, router: &Router) -> anyhow::Result<String> {
        if self.since.elapsed() > TOKEN_AGE {
            let body = serde_json::json!({"email": self.email, "password": self.password});
            let signed_in = setup_call(state, router, "/v1/auth/sign-in", None, &body, 200).await?;
            self.token = string_at(&signed_in, "/access_token")?;
            self.since = Instant::now();
        }
        Ok(self.token.clone())
    }
}

/// An order body of `lines` lines of `service`, quantity 1 each, for today.
fn order_body(state: &AppState, service: &str, lines: usize) -> Value {
    let today = state.today().to_string();
    let line = serde_json::json!({
        "service": service, "quantity": "1", "requested_date": today,
        "note": "Домофон 12, звонить заранее",
        "site": {"address": "Москва, ул. Тверская, 7, офис 12", "area": "moscow-centre"}
    });
    serde_json::json!({ "lines": vec![line; lines] })
}

/// The admin, the catalog, a customer and an engineer.
async fn order_intake_setup(
    state: &AppState,
    router: &Router,
) -> anyhow::Result<(Account, Account)> {
    let admin_email = "bench-admin@kopek.test";
    let admin_password = "Correct-horse-battery-staple-41";
    let admin = signed_in_admin(state, router, admin_email, admin_password).await?;

    for (code, work_type) in [
        (ORDER_SERVICE, "bench-orders"),
        (BATCH_SERVICE, BATCH_WORK_TYPE),
    ] {
        let service = serde_json::json!({
            "code": code, "name": {"ru": "Настройка роутера", "en": "Router setup"},
            "unit": "piece", "kind": "one_off", "work_type": work_type, "tax_rate": "20",
            "currency": "RUB",
            "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1500.00"}}
        });
        setup_call(
            state,
            router,
            "/v1/catalog/services",
            Some(&admin),
            &service,
            201,
        )
        .await?;
    }

    let customer_email = "owner@bench.example.ru".to_owned();
    let customer_password = "Tverskaya-7-office-12-keys-2026".to_owned();
    let registration = serde_json::json!({
        "organisation": {
            "legal_name": "ООО «Ромашка»",
            "tax_id": bench_inn(4242),
            "billing_email": "billing@bench.example.ru",
            "billing_address": "101000, Москва, ул. Мясницкая, 1",
            "currency": "RUB",
            "language": "ru"
        },
        "user": { "name": "Мария Иванова", "email": customer_email, "password": customer_password }
    });
    let registered =
        setup_call(state, router, "/v1/auth/register", None, &registration, 201).await?;
    let customer = Account {
        email: customer_email,
        password: customer_password,
        token: string_at(&registered, "/session/access_token")?,
        since: Instant::now(),
    };

    let engineer_email = "engineer@kopek.test".to_owned();
    let engineer_password = "Ladder-and-crimper-in-the-van-9".to_owned();
    let invited = setup_call(
        state,
        router,
        "/v1/staff-users",
        Some(&admin),
        &serde_json::json!({"name": "Staff", "email": engineer_email, "role": "engineer"}),
        201,
    )
    .await?;
    let accepted = setup_call(
        state,
        router,
        "/v1/auth/accept-invitation",
        None,
        &serde_json::json!({
            "token": string_at(&invited, "/invitation_token")?,
            "password": engineer_password
        }),
        200,
    )
    .await?;
    let engineer = Account {
        email: engineer_email,
        password: engineer_password,
        token: string_at(&accepted, "/access_token")?,
        since: Instant::now(),
    };
    Ok((customer, engineer))
}

/// The emulator's round trip: `n` strongly consistent `GetItem`s of one service item through
/// the store, each timed; also the process's CPU time per call (the SDK's own work).
async fn round_trips(
    state: &AppState,
    store: &Store,
    n: usize,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let code: kopek_domain::catalog::ServiceCode =
        ORDER_SERVICE.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut samples = Vec::with_capacity(n);
    let usage_before = state.services.capacity();
    let cpu_before = process_cpu_ns();
    for _ in 0..n {
        let started = Instant::now();
        let found = store.service(&code).await?;
        samples.push(started.elapsed());
        if found.is_none() {
            bail!("the service {ORDER_SERVICE} is missing");
        }
    }
    let cpu_after = process_cpu_ns();
    let requests = state.services.capacity().requests - usage_before.requests;
    if requests != n as u64 {
        bail!("{n} service reads made {requests} DynamoDB requests, not one each");
    }
    let cpu = cpu_before
        .zip(cpu_after)
        .map(|(b, a)| Duration::from_nanos(a.saturating_sub(b) / n as u64))
        .unwrap_or_default();
    Ok((samples, cpu))
}

pub(super) async fn run(root: &Path, tools: &tools::Tools, runs: usize) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let state = stack.state.clone();
    let router = kopek_api::local_app(state.clone());
    let (mut customer, mut engineer) = order_intake_setup(&state, &router).await?;

    eprintln!("kopek: placing orders …");
    let mut one_line = Vec::with_capacity(runs);
    let mut ten_lines = Vec::with_capacity(runs);
    for _ in 0..runs {
        for (lines, samples) in [(1, &mut one_line), (10, &mut ten_lines)] {
            let token = customer.token(&state, &router).await?;
            let body = order_body(&state, ORDER_SERVICE, lines);
            let request = bench_request(Method::POST, "/v1/orders", Some(&token), Some(&body))?;
            let (sample, _) = measured(&state, &router, request, 201).await?;
            samples.push(sample);
        }
    }

    eprintln!("kopek: taking, starting and completing batches …");
    // More waiting than one batch takes: the queue always holds 10 work orders beyond it.
    let token = customer.token(&state, &router).await?;
    let body = order_body(&state, BATCH_SERVICE, 10);
    setup_call(&state, &router, "/v1/orders", Some(&token), &body, 201).await?;
    let mut takes = Vec::with_capacity(runs);
    let mut starts = Vec::with_capacity(runs);
    let mut completions = Vec::with_capacity(runs);
    for _ in 0..runs {
        let token = customer.token(&state, &router).await?;
        let body = order_body(&state, BATCH_SERVICE, 10);
        for _ in 0..BATCH_SIZE / 10 {
            setup_call(&state, &router, "/v1/orders", Some(&token), &body, 201).await?;
        }

        let token = engineer.token(&state, &router).await?;
        let take = serde_json::json!({"work_type": BATCH_WORK_TYPE, "size": BATCH_SIZE});
        let request = bench_request(Method::POST, "/v1/work/batches", Some(&token), Some(&take))?;
        let (sample, batch) = measured(&state, &router, request, 201).await?;
        takes.push(sample);
        let batch_id = string_at(&batch, "/id")?;
        let work_orders: Vec<String> = batch["work_orders"]
            .as_array()
            .context("the batch has no work orders")?
            .iter()
            .map(|w| string_at(w, "/work_order"))
            .collect::<anyhow::Result<_>>()?;
        if work_orders.len() != BATCH_SIZE {
            bail!(
                "the batch took {} work orders, not {BATCH_SIZE}",
                work_orders.len()
            );
        }

        let path = format!("/v1/work/batches/{batch_id}/start");
        let request = bench_request(
            Method::POST,
            &path,
            Some(&token),
            Some(&serde_json::json!({})),
        )?;
        starts.push(measured(&state, &router, request, 200).await?.0);

        let outcomes: Vec<Value> = work_orders
            .iter()
            .enumerate()
            .map(|(i, wo)| {
                if i < BATCH_DONE {
                    serde_json::json!({"work_order": wo, "outcome": "done", "actual_quantity": "1"})
                } else {
                    serde_json::json!({"work_order": wo, "outcome": "failed", "reason": "No access: the office was closed"})
                }
            })
            .collect();
        let path = format!("/v1/work/batches/{batch_id}/complete");
        let body = serde_json::json!({ "outcomes": outcomes });
        let request = bench_request(Method::POST, &path, Some(&token), Some(&body))?;
        completions.push(measured(&state, &router, request, 200).await?.0);
    }

    eprintln!("kopek: timing the emulator's round trip …");
    let (mut trips, trip_cpu) = round_trips(&state, &stack.store, (runs * 10).max(50)).await?;
    let trip_mean = trips.iter().sum::<Duration>() / trips.len() as u32;
    let trip_count = trips.len();
    let (trip_median, trip_p95) = percentiles(&mut trips);
    let tick_rate = clock_ticks_per_sec();

    let rows = [
        ("`POST /v1/orders`, 1 line".to_owned(), one_line),
        ("`POST /v1/orders`, 10 lines".to_owned(), ten_lines),
        (
            format!(
                "`POST /v1/work/batches`, take {BATCH_SIZE} of {} waiting",
                BATCH_SIZE + 10
            ),
            takes,
        ),
        (
            format!("`POST /v1/work/batches/{{id}}/start`, {BATCH_SIZE} work orders"),
            starts,
        ),
        (
            format!(
                "`POST /v1/work/batches/{{id}}/complete`, {BATCH_DONE} done + {} failed",
                BATCH_SIZE - BATCH_DONE
            ),
            completions,
        ),
    ];
    println!(
        "| operation | runs | DynamoDB requests | read units | write units | wall time (ms) | process CPU, schedstat (ms) | process CPU, `/proc/self/stat` (ms, mean) | wall − requests × mean round trip (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut zero_reads = Vec::new();
    let mut zero_writes = Vec::new();
    for (name, samples) in &rows {
        let requests = spread(samples.iter().map(|s| s.requests), |v| v.to_string());
        let units = |v: u64| format!("{:.1}", v as f64 / 1000.0);
        let reads = spread(samples.iter().map(|s| s.read_milli_units), units);
        let writes = spread(samples.iter().map(|s| s.write_milli_units), units);
        if samples.iter().all(|s| s.read_milli_units == 0) {
            zero_reads.push(name.as_str());
        }
        if samples.iter().all(|s| s.write_milli_units == 0) {
            zero_writes.push(name.as_str());
        }
        let mut wall: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        let (wall_median, _) = percentiles(&mut wall);
        let mut cpu: Vec<Duration> = samples.iter().filter_map(|s| s.cpu).collect();
        let cpu = if cpu.len() == samples.len() {
            ms(percentiles(&mut cpu).0)
        } else {
            "n/a".to_owned()
        };
        let ticks: Option<u64> = samples.iter().map(|s| s.ticks).sum();
        let ticks = ticks.map_or("n/a".to_owned(), |t| {
            format!(
                "{:.1}",
                t as f64 * 1000.0 / tick_rate as f64 / samples.len() as f64
            )
        });
        let mut estimates: Vec<f64> = samples
            .iter()
            .map(|s| (s.wall.as_secs_f64() - s.requests as f64 * trip_mean.as_secs_f64()) * 1000.0)
            .collect();
        estimates.sort_by(f64::total_cmp);
        let estimate = estimates[estimates.len() / 2];
        println!(
            "| {name} | {} | {requests} | {reads} | {writes} | {} | {cpu} | {ticks} | {estimate:.1} |",
            samples.len(),
            ms(wall_median),
        );
    }
    println!();
    println!(
        "Medians over {runs} runs ({} build); a range (min–max) is shown where runs differed. \
         Emulator round trip (strongly consistent `GetItem` of one service item through the \
         store, moto on loopback, {trip_count} calls): mean {} ms, median {} ms, p95 {} ms, \
         of which {:.3} ms CPU in this process (the SDK's work) per call. \
         Process CPU is every thread of this process on a single-threaded runtime (schedstat: \
         nanoseconds; `/proc/self/stat`: utime + stime in ticks of 1/{tick_rate} s, summed over \
         the runs and divided by them); moto runs in another process and is not in it. \
         It includes the SDK's request signing and (de)serialisation. \
         No `Idempotency-Key` was sent (with one, a POST also claims and completes its key).",
        profile(),
        ms(trip_mean),
        ms(trip_median),
        ms(trip_p95),
        trip_cpu.as_secs_f64() * 1000.0,
    );
    if !zero_reads.is_empty() {
        println!();
        println!(
            "⚠ The emulator reported 0 read units for: {}. DynamoDB would charge reads there; \
             the counters only repeat what the emulator returns.",
            zero_reads.join("; ")
        );
    }
    if !zero_writes.is_empty() {
        println!();
        println!(
            "⚠ The emulator reported 0 write units for: {}. DynamoDB would charge writes there \
             (1 WCU per KB, twice inside a transaction); the counters only repeat what the \
             emulator returns.",
            zero_writes.join("; ")
        );
    }
    Ok(())
}

/// The median of `values` as `show` renders it, with the range when they differ.
fn spread(values: impl Iterator<Item = u64>, show: impl Fn(u64) -> String) -> String {
    let mut values: Vec<u64> = values.collect();
    values.sort_unstable();
    let (Some(&min), Some(&max)) = (values.first(), values.last()) else {
        return "n/a".to_owned();
    };
    let median = values[values.len() / 2];
    if min == max {
        show(median)
    } else {
        format!("{} ({}–{})", show(median), show(min), show(max))
    }
}
