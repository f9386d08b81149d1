//! `cargo xtask bench <what>`: the scripted measurements behind BENCHMARKS.md.
//!
//! - `cold-start [--runs N]`: for each function binary (release build) and a hello-world
//!   `lambda_runtime` binary built the same way, the time from process start until it first
//!   asks the Lambda runtime API for an event, and its peak resident memory by then. The
//!   runtime API is a loopback listener here that records the first
//!   `GET /2018-06-01/runtime/invocation/next`; the functions' cold start includes reading the
//!   token key from Secrets Manager (the emulator, on loopback).
//! - `sign-in [--runs N]`: sign-in latency through the real router against the emulator,
//!   Argon2id included, next to the Argon2id verification alone, and the DynamoDB requests one
//!   sign-in makes.
//! - `order-intake [--runs N]` (default 10 runs): what placing an order (1 line, 10 lines),
//!   taking a batch of 50 work orders, starting it and completing it (45 done, 5 failed) cost
//!   in DynamoDB requests and capacity units (the store's own counters), their wall time through
//!   the real router against the emulator, and the handler's own time without the emulator:
//!   the process's CPU time per request (a single-threaded runtime; the emulator is another
//!   process, so its work never counts), next to the estimate wall time − requests × the mean
//!   `GetItem` round trip to the same emulator.
//!
//! - `usage [--events N] [--pollers P]` (default 100,000 events, 1 poller): what ingesting
//!   usage costs. First 1,000 fresh events of 4 customers and 3 meters, ingested directly with
//!   `Ingestor::ingest` as one SQS-shaped batch (10 messages × 100 events), then the same
//!   1,000 again (all duplicates): DynamoDB requests and capacity units per 1,000 events (the
//!   store's counters) and the stored events' item size. Then end to end: N events for 4 other
//!   customers sent through the real `UsageQueue` (`Queue::send_events`, 100 events per
//!   message, as producers' requests arrive), drained by P concurrent pollers
//!   (`Poller::poll_once`), timed, with the emulator's CPU time (moto's process, from
//!   `/proc`) beside this process's, to tell which one was the bottleneck; finally every
//!   customer's summed usage (`Store::usage_of`) is checked against what was sent.
//! - `close [--customers N] [--pollers P]` (default 1,000 customers, 1 poller): the period
//!   close. N customers are set up straight through the store and the domain (one Argon2id
//!   hash for all), dated last month: a subscription whose quantity changes mid-month, an
//!   order of 3 work orders taken, started and completed, 10 usage events of 2 meters
//!   ingested by `Ingestor::ingest`. Then last month is closed with `kopek_services::close::Closer`
//!   (`start`, then P concurrent pollers doing what `kopek_events::close::poller::drain` does,
//!   without long polling), timed from the start until the period is `closed`: customers per
//!   second, DynamoDB requests and read and write units per customer (the store's counters),
//!   SQS requests, moto's CPU time beside this process's, and the sizes of the items written.
//!   Every invoice is checked afterwards (its lines, numbers without gaps).
//!
//! Figures are printed as a Markdown table, ready for BENCHMARKS.md. Nothing here asserts
//! on time (the usage benchmark fails only when the totals do not match what was sent).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use chrono::SubsecRound;
use http_body_util::BodyExt;
use kopek_aws::dynamo::orders::StoredLine;
use kopek_aws::dynamo::work::{StoredBatch, TakeOutcome};
use kopek_aws::dynamo::{CapacitySnapshot, Store, capacity};
use kopek_aws::queue::Sent;
use kopek_domain::accounts::{DocumentLanguage, Registration, RegistrationForm};
use kopek_domain::calendar::Calendar;
use kopek_domain::catalog::{
    LocalizedText, NewService, Service, ServiceCode, ServiceKind, TaxRate, UnitOfMeasure,
};
use kopek_domain::clock::SystemClock;
use kopek_domain::ids::OrgId;
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::{Price, PriceModel};
use kopek_domain::usage::{RawQuantity, RawUsageEvent};
use kopek_events::usage::poller::Poller;
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_local::emulator::SERIAL_MOTO;
use kopek_local::tools;
use kopek_services::close::Closer;
use kopek_services::usage::ingest::Message;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::stack::Stack;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let (what, rest) = args
        .split_first()
        .context("which benchmark? `cold-start`, `sign-in`, `order-intake`, `usage` or `close`")?;
    let (mut runs, mut events, mut pollers, mut customers) = (None, None, None, None);
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        let slot = match arg.as_str() {
            "--runs" => &mut runs,
            "--events" => &mut events,
            "--pollers" => &mut pollers,
            "--customers" => &mut customers,
            other => bail!("unknown argument `{other}`"),
        };
        let n: usize = rest
            .next()
            .with_context(|| format!("{arg} needs a number"))?
            .parse()
            .with_context(|| format!("{arg} needs a number"))?;
        if n == 0 {
            bail!("{arg} needs a number above 0");
        }
        *slot = Some(n);
    }
    let root = tools::project_root();
    let tools = tools::ensure(&root)?;
    match what.as_str() {
        "cold-start" => {
            tokio::runtime::Runtime::new()?.block_on(cold_start(&root, &tools, runs.unwrap_or(20)))
        }
        "sign-in" => {
            tokio::runtime::Runtime::new()?.block_on(sign_in(&root, &tools, runs.unwrap_or(20)))
        }
        // One thread runs every request, so the process's CPU time is the handlers' (and the
        // SDK's) alone; the blocking pool still exists for Argon2id during the setup.
        "order-intake" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(order_intake(&root, &tools, runs.unwrap_or(10))),
        // Several threads: the pollers' SDK work runs beside the emulator on the other core.
        "usage" => tokio::runtime::Runtime::new()?.block_on(usage(
            &root,
            &tools,
            events.unwrap_or(100_000),
            // More pollers measured no faster: the emulator serves one request at a time.
            pollers.unwrap_or(1),
        )),
        // Several threads, as for usage: the pollers' SDK work beside the emulator.
        "close" => tokio::runtime::Runtime::new()?.block_on(close(
            &root,
            &tools,
            customers.unwrap_or(1_000),
            pollers.unwrap_or(1),
        )),
        other => {
            bail!(
                "unknown benchmark `{other}`: `cold-start`, `sign-in`, `order-intake`, `usage` or `close`"
            )
        }
    }
}

/// The benchmarks' admin, created as the setup step creates the first one.
async fn bootstrap_admin(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<kopek_domain::accounts::User, kopek_services::Error> {
    state
        .services
        .accounts()
        .bootstrap_admin(kopek_services::accounts::NewAdmin {
            email: email.to_owned(),
            name: "Bench".to_owned(),
            password: password.to_owned(),
        })
        .await
}

/// Median and 95th percentile of `samples` (sorted in place).
fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i]
    };
    (at(0.5), at(0.95))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------
// Cold start

async fn cold_start(root: &Path, tools: &tools::Tools, runs: usize) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    eprintln!("kopek: building the release binaries …");
    // Every function the template defines, so the table cannot miss a new one.
    let mut build = crate::cargo_command();
    build.args([
        "build",
        "--release",
        "--locked",
        "-p",
        "xtask",
        "--bin",
        "hello-lambda",
    ]);
    for binary in stack.function_env.keys() {
        build.args(["-p", binary, "--bin", binary]);
    }
    if !build.current_dir(root).status()?.success() {
        bail!("the release build failed");
    }
    let release = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("release");
    let mut binaries: Vec<(String, BTreeMap<String, String>)> =
        vec![("hello-lambda".into(), BTreeMap::new())];
    for (binary, env) in &stack.function_env {
        let mut env = env.clone();
        env.insert("AWS_ENDPOINT_URL".into(), stack.emulator.endpoint().into());
        env.insert("AWS_ACCESS_KEY_ID".into(), "kopek-local".into());
        env.insert("AWS_SECRET_ACCESS_KEY".into(), "kopek-local".into());
        binaries.push((binary.clone(), env));
    }

    println!(
        "| binary | size (bytes) | runs | median to first `next` (ms) | p95 (ms) | peak RSS by then (KiB) |"
    );
    println!("|---|---|---|---|---|---|");
    for (binary, env) in binaries {
        let exe = release.join(&binary);
        let size = std::fs::metadata(&exe)
            .with_context(|| format!("{} is missing", exe.display()))?
            .len();
        let mut samples = Vec::with_capacity(runs);
        let mut peak_rss = 0u64;
        for _ in 0..runs {
            let (elapsed, rss) = one_cold_start(&exe, &env).await?;
            samples.push(elapsed);
            peak_rss = peak_rss.max(rss);
        }
        let (median, p95) = percentiles(&mut samples);
        println!(
            "| `{binary}` | {size} | {runs} | {} | {} | {peak_rss} |",
            ms(median),
            ms(p95)
        );
    }
    Ok(())
}

/// Starts `exe` against a runtime API of our own; returns the time until its first `next`
/// request and its peak resident set size (KiB) at that moment.
async fn one_cold_start(
    exe: &Path,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<(Duration, u64)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .envs(env)
        .env("AWS_REGION", kopek_local::REGION)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let wait = async {
        loop {
            let (mut socket, _) = listener.accept().await?;
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await?;
            let head = String::from_utf8_lossy(&buf[..n]);
            if head.starts_with("GET /2018-06-01/runtime/invocation/next") {
                let elapsed = started.elapsed();
                let _ = socket.shutdown().await;
                return anyhow::Ok(elapsed);
            }
            socket
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                .await?;
        }
    };
    let elapsed = tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .with_context(|| format!("{} never asked for an event", exe.display()))??;
    let rss = child.id().map(peak_rss_kib).unwrap_or(0);
    child.kill().await.ok();
    Ok((elapsed, rss))
}

/// `VmHWM` of a process, in KiB (0 when unknown).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Sign-in

async fn sign_in(root: &Path, tools: &tools::Tools, runs: usize) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let router = kopek_api::local_app(stack.state.clone());
    let email = "bench@kopek.test";
    let password = "Signal-lamp-over-the-river-77";
    bootstrap_admin(&stack.state, email, password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = serde_json::to_vec(&serde_json::json!({"email": email, "password": password}))?;

    let mut through_api = Vec::with_capacity(runs);
    let before = stack.state.services.capacity();
    for _ in 0..runs {
        let mut request = Request::post("/v1/auth/sign-in")
            .header("content-type", "application/json")
            .body(Body::from(body.clone()))?;
        request
            .extensions_mut()
            .insert(ClientAddr(std::net::Ipv4Addr::LOCALHOST.into()));
        let started = Instant::now();
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        let _ = response.into_body().collect().await?;
        through_api.push(started.elapsed());
        if !status.is_success() {
            bail!("sign-in answered {status}");
        }
    }
    let after = stack.state.services.capacity();

    let hash = kopek_domain::accounts::Password::new(
        password,
        &kopek_domain::accounts::Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .hash();
    let mut argon_only = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let ok = hash.verify(password);
        argon_only.push(started.elapsed());
        if !ok {
            bail!("the hash does not verify");
        }
    }

    let requests = (after.requests - before.requests) as f64 / runs as f64;
    let (api_median, api_p95) = percentiles(&mut through_api);
    let (argon_median, argon_p95) = percentiles(&mut argon_only);
    println!("| measurement | runs | median (ms) | p95 (ms) |");
    println!("|---|---|---|---|");
    println!(
        "| `POST /v1/auth/sign-in` through the router, moto on loopback ({requests:.1} DynamoDB requests each) | {runs} | {} | {} |",
        ms(api_median),
        ms(api_p95)
    );
    println!(
        "| Argon2id verification alone (m=19 MiB, t=2, p=1) | {runs} | {} | {} |",
        ms(argon_median),
        ms(argon_p95)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Order intake

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

/// What one request cost.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    /// The process's CPU time (every thread), from the scheduler's nanosecond counters in
    /// `/proc/self/task/*/schedstat`; `None` where the kernel keeps none.
    cpu: Option<Duration>,
    /// The process's user + system CPU time from `/proc/self/stat`, in clock ticks.
    ticks: Option<u64>,
    requests: u64,
    read_milli_units: u64,
    write_milli_units: u64,
}

/// The process's CPU time so far: the sum of every thread's time on a CPU (nanoseconds, the
/// first field of each `schedstat`). Threads that exit take their time with them, so this
/// serves for deltas while no thread starts or stops — true of one request on a
/// single-threaded runtime.
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may end between listing and reading it; it then counts for nothing.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The process's user + system CPU time in clock ticks: fields 14 and 15 of
/// `/proc/self/stat` (counted after the parenthesised command name, which may hold spaces).
fn process_cpu_ticks() -> Option<u64> {
    cpu_ticks_of("self")
}

/// User + system CPU time in clock ticks of the process `/proc/{pid}` (every thread of it).
fn cpu_ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `after_name` starts at field 3 (state).
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100)
}

/// A request from 127.0.0.1, with a bearer token and a JSON body where given.
fn bench_request(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<Request<Body>> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let mut request = match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(body)?))?,
        None => builder.body(Body::empty())?,
    };
    request
        .extensions_mut()
        .insert(ClientAddr(std::net::Ipv4Addr::LOCALHOST.into()));
    Ok(request)
}

/// Sends `request` and measures it: wall time, the process's CPU time and the store's
/// requests and capacity units. Fails unless the answer is `expect`; returns the JSON body.
async fn measured(
    state: &AppState,
    router: &Router,
    request: Request<Body>,
    expect: u16,
) -> anyhow::Result<(Sample, Value)> {
    let what = format!("{} {}", request.method(), request.uri());
    let usage_before = state.services.capacity();
    let ticks_before = process_cpu_ticks();
    let cpu_before = process_cpu_ns();
    let started = Instant::now();
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let raw = response.into_body().collect().await?.to_bytes();
    let wall = started.elapsed();
    let cpu_after = process_cpu_ns();
    let ticks_after = process_cpu_ticks();
    let usage_after = state.services.capacity();
    if status.as_u16() != expect {
        bail!(
            "{what} answered {status}, not {expect}: {}",
            String::from_utf8_lossy(&raw)
        );
    }
    let sample = Sample {
        wall,
        cpu: cpu_before
            .zip(cpu_after)
            .map(|(b, a)| Duration::from_nanos(a.saturating_sub(b))),
        ticks: ticks_before
            .zip(ticks_after)
            .map(|(b, a)| a.saturating_sub(b)),
        requests: usage_after.requests - usage_before.requests,
        read_milli_units: usage_after.read_milli_units - usage_before.read_milli_units,
        write_milli_units: usage_after.write_milli_units - usage_before.write_milli_units,
    };
    Ok((sample, serde_json::from_slice(&raw).unwrap_or(Value::Null)))
}

/// Sends a request that is part of the setup (not measured); returns the JSON body.
async fn setup_call(
    state: &AppState,
    router: &Router,
    path: &str,
    token: Option<&str>,
    body: &Value,
    expect: u16,
) -> anyhow::Result<Value> {
    let request = bench_request(Method::POST, path, token, Some(body))?;
    Ok(measured(state, router, request, expect).await?.1)
}

fn string_at(value: &Value, pointer: &str) -> anyhow::Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no string at {pointer} in {value}"))
}

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

/// A valid 10-digit Russian INN (legal entity), checksum included.
fn bench_inn(seed: u64) -> String {
    let body = format!("{:09}", 770_000_000 + seed % 100_000_000);
    let weights = [2u32, 4, 10, 3, 5, 9, 4, 6, 8];
    let sum: u32 = body
        .bytes()
        .zip(weights)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{body}{}", sum % 11 % 10)
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
    bootstrap_admin(state, admin_email, admin_password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let signed_in = setup_call(
        state,
        router,
        "/v1/auth/sign-in",
        None,
        &serde_json::json!({"email": admin_email, "password": admin_password}),
        200,
    )
    .await?;
    let admin = string_at(&signed_in, "/access_token")?;

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

async fn order_intake(root: &Path, tools: &tools::Tools, runs: usize) -> anyhow::Result<()> {
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
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
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

// ---------------------------------------------------------------------------------------
// Usage ingestion

/// The metered services the usage measurements report, and their units.
const USAGE_METERS: [(&str, UnitOfMeasure); 3] = [
    ("BENCH-TRAFFIC", UnitOfMeasure::Gigabyte),
    ("BENCH-SMS", UnitOfMeasure::Request),
    ("BENCH-CPU", UnitOfMeasure::Hour),
];
/// Customers of each phase (the cost phase and the end-to-end phase have their own).
const USAGE_CUSTOMERS: usize = 4;
/// Events per message, and messages per batch as Lambda's SQS mapping delivers them
/// (`BatchSize: 10` in the template).
const EVENTS_PER_MESSAGE: usize = 100;
const MESSAGES_PER_BATCH: usize = 10;

/// What was sent, summed as the store sums it: by customer, meter and period, the total
/// quantity and the number of events.
type Expected = BTreeMap<(OrgId, ServiceCode, BillingPeriod), (Decimal, u64)>;

/// The metered services, straight into the store (the catalog API is measured elsewhere).
async fn usage_meters(store: &Store) -> anyhow::Result<Vec<ServiceCode>> {
    let now = chrono::Utc::now();
    let mut codes = Vec::new();
    for (code, unit) in USAGE_METERS {
        let price = Price::new(
            Currency::RUB,
            PriceModel::PerUnit {
                unit_price: Decimal::new(150, 2),
            },
            None,
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let command = NewService {
            code: code.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
            name: LocalizedText::new("Измеряемая услуга", "Metered service")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            description: None,
            unit,
            kind: ServiceKind::Metered,
            work_type: None,
            cancellation: Default::default(),
            tax_rate: TaxRate::from_percent(Decimal::from(20))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            currency: Currency::RUB,
            price,
        };
        let (service, first) = Service::create(command, now).map_err(|e| anyhow::anyhow!("{e}"))?;
        store.create_service(&service, &first).await?;
        codes.push(service.code().clone());
    }
    Ok(codes)
}

/// `USAGE_CUSTOMERS` organisations registered straight into the store; `tag` keeps their
/// e-mail addresses apart, `seed` their tax ids.
async fn usage_customers(store: &Store, tag: &str, seed: u64) -> anyhow::Result<Vec<OrgId>> {
    let mut orgs = Vec::with_capacity(USAGE_CUSTOMERS);
    for i in 0..USAGE_CUSTOMERS {
        let form = RegistrationForm {
            legal_name: format!("ООО «Узел связи {tag}-{i}»"),
            tax_id: bench_inn(seed + i as u64),
            billing_email: format!("billing-{tag}-{i}@usage.example.ru"),
            billing_address: "101000, Москва, ул. Мясницкая, 1".into(),
            currency: Currency::RUB,
            language: DocumentLanguage::Ru,
            user_name: "Мария Иванова".into(),
            user_email: format!("owner-{tag}-{i}@usage.example.ru"),
            password: "Routers-count-every-gigabyte-26".into(),
        };
        let registration = Registration::try_from(form).map_err(|e| anyhow::anyhow!("{e}"))?;
        // Argon2id: tens of milliseconds of CPU, kept off the runtime's threads.
        let account =
            tokio::task::spawn_blocking(move || registration.open(chrono::Utc::now())).await?;
        store.register(&account).await?;
        orgs.push(account.organisation.id);
    }
    Ok(orgs)
}

/// `n` events as producers send them (one JSON text each), spread over `customers` and the
/// meters, timestamped over the last day, with what they add up to. Quantities are decimals
/// built from integers: whole counts for whole units, thousandths otherwise.
fn usage_events(
    customers: &[OrgId],
    meters: &[ServiceCode],
    tag: &str,
    n: usize,
    calendar: Calendar,
) -> anyhow::Result<(Vec<String>, Expected)> {
    let now = chrono::Utc::now().trunc_subsecs(0);
    let mut texts = Vec::with_capacity(n);
    let mut expected = Expected::new();
    for i in 0..n {
        let org = customers[i % customers.len()];
        let m = (i / customers.len()) % meters.len();
        let quantity = if USAGE_METERS[m].1.is_whole() {
            Decimal::from(i % 7 + 1)
        } else {
            Decimal::new((i % 5_000) as i64 + 1, 3)
        };
        let timestamp = now - chrono::TimeDelta::seconds((i % 86_400) as i64);
        let event = RawUsageEvent {
            id: format!("{tag}-{i:07}"),
            customer: org.to_string(),
            meter: meters[m].to_string(),
            quantity: RawQuantity::exact(quantity),
            timestamp: timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            properties: [("region".to_owned(), "msk-1".to_owned())].into(),
        };
        texts.push(serde_json::to_string(&event)?);
        let sum = expected
            .entry((org, meters[m].clone(), calendar.period_of(timestamp)))
            .or_default();
        sum.0 += quantity;
        sum.1 += 1;
    }
    Ok((texts, expected))
}

/// The events as SQS messages of `EVENTS_PER_MESSAGE` events each (JSON arrays, packed as
/// `Queue::send_events` packs them).
fn usage_messages(texts: &[String]) -> anyhow::Result<Vec<Message>> {
    texts
        .chunks(EVENTS_PER_MESSAGE)
        .enumerate()
        .map(|(i, chunk)| {
            let mut bodies = kopek_aws::queue::pack(chunk)?;
            anyhow::ensure!(
                bodies.len() == 1,
                "{EVENTS_PER_MESSAGE} events do not fit one message"
            );
            Ok(Message {
                id: format!("bench-{i}"),
                body: bodies.remove(0),
            })
        })
        .collect()
}

/// Checks every customer's stored usage against what was sent; returns the events and the
/// quantity checked.
async fn check_totals(store: &Store, expected: &Expected) -> anyhow::Result<(u64, Decimal)> {
    let (mut events, mut quantity) = (0, Decimal::ZERO);
    for ((org, meter, period), (total, count)) in expected {
        let stored = store.usage_of(*org, meter, *period).await?;
        if stored.total != *total || stored.events != *count {
            bail!(
                "totals check: failed: {org} {meter} {period}: stored {} in {} events, sent {total} in {count}",
                stored.total,
                stored.events
            );
        }
        events += count;
        quantity += total;
    }
    Ok((events, quantity))
}

/// The sizes of the items ingestion writes (events, meter markers, health counters), read
/// back with a plain `Scan` (outside the store, so its counters are untouched).
async fn usage_item_sizes(
    endpoint: &str,
    table: &str,
) -> anyhow::Result<BTreeMap<&'static str, Vec<usize>>> {
    let client = aws_sdk_dynamodb::Client::new(&kopek_local::sdk_config(endpoint).await);
    let mut sizes: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("cannot scan the table")?;
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let (pk, sk) = (
                text("PK").unwrap_or_default(),
                text("SK").unwrap_or_default(),
            );
            let kind = if pk.starts_with("USAGE#") {
                "usage event (`USAGE#…` / `E#…`)"
            } else if sk.starts_with("USAGEMETER#") {
                "meter marker (`ORG#…` / `USAGEMETER#…`)"
            } else if pk.starts_with("USAGEHEALTH#") {
                "health counters (`USAGEHEALTH#…` / `METER#…`)"
            } else {
                continue;
            };
            sizes
                .entry(kind)
                .or_default()
                .push(capacity::item_size(item));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(sizes);
        }
    }
}

/// The emulator's own process — moto under Python, not its `sh` watchdog — found by its
/// command line `python -c SERIAL_MOTO -H 127.0.0.1 -p PORT`.
fn moto_pid(endpoint: &str) -> Option<String> {
    let port = endpoint.rsplit(':').next()?.as_bytes();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let moto = args.get(1).is_some_and(|a| *a == b"-c")
                && args.get(2).is_some_and(|a| *a == SERIAL_MOTO.as_bytes())
                && args.windows(2).any(|w| w[0] == b"-p" && w[1] == port);
            moto.then(|| entry.file_name().to_string_lossy().into_owned())
        })
}

/// The whole machine's busy CPU time in clock ticks, every core: the first line of
/// `/proc/stat` less idle and I/O wait.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = fields.iter().take(8).sum();
    Some(total - fields.get(3)? - fields.get(4)?)
}

/// The moment a phase starts or ends: the wall clock, CPU time (ticks) of both processes and
/// of the whole machine, and the store's counters.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    bench_ticks: Option<u64>,
    moto_ticks: Option<u64>,
    machine_ticks: Option<u64>,
    usage: CapacitySnapshot,
}

impl Mark {
    fn now(store: &Store, moto: Option<&str>) -> Mark {
        Mark {
            at: Instant::now(),
            bench_ticks: process_cpu_ticks(),
            moto_ticks: moto.and_then(cpu_ticks_of),
            machine_ticks: machine_busy_ticks(),
            usage: store.capacity(),
        }
    }
}

/// What the pollers did between them.
#[derive(Debug, Default)]
struct Drained {
    messages: u64,
    counted: u64,
    duplicates: u64,
    rejected: u64,
    failed: u64,
    /// SQS requests: receives, deletes and queue-depth reads.
    sqs_requests: u64,
}

/// Polls until the queue holds nothing, visible or in flight (no long polling: the emulator
/// serves one request at a time, and a long poll would hold it for its whole wait).
async fn drain_queue(mut poller: Poller) -> anyhow::Result<Drained> {
    poller.wait_secs = 0;
    let mut drained = Drained::default();
    loop {
        let report = poller.poll_once(&SystemClock).await?;
        drained.sqs_requests += 1;
        if report.received == 0 {
            drained.sqs_requests += 1;
            if poller.queue.depth().await? == (0, 0) {
                return Ok(drained);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        drained.sqs_requests += u64::from(report.deleted > 0);
        drained.messages += report.received as u64;
        drained.counted += report.batch.counted;
        drained.duplicates += report.batch.duplicates;
        drained.rejected += report.batch.rejected;
        drained.failed += report.batch.failed.len() as u64;
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".to_owned())
}

async fn usage(
    root: &Path,
    tools: &tools::Tools,
    events: usize,
    pollers: usize,
) -> anyhow::Result<()> {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let load_before = load_average();
    let stack = Stack::start(root, tools, "bench").await?;
    let state = stack.state.clone();
    let store = &stack.store;
    let ingestor = stack.usage_poller.ingestor.clone();
    let meters = usage_meters(store).await?;

    // (a) One SQS-shaped batch of 1,000 fresh events, then the same batch again.
    eprintln!("kopek: ingesting 1,000 events twice …");
    let batch_events = EVENTS_PER_MESSAGE * MESSAGES_PER_BATCH;
    let customers = usage_customers(store, "cost", 5_100).await?;
    let (texts, expected) =
        usage_events(&customers, &meters, "cost", batch_events, state.calendar())?;
    let messages = usage_messages(&texts)?;
    println!(
        "| batch of {batch_events} events ({MESSAGES_PER_BATCH} messages × {EVENTS_PER_MESSAGE}) | counted | duplicates | DynamoDB requests | read units | write units | requests whose units the store computed | wall time (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut requests = Vec::new();
    for label in ["fresh", "the same again (all duplicates)"] {
        let before = Mark::now(store, None);
        let report = ingestor.ingest(&messages, chrono::Utc::now()).await;
        let after = Mark::now(store, None);
        if !report.failed.is_empty() || report.rejected > 0 {
            bail!("the batch was not ingested cleanly: {report:?}");
        }
        let units = |milli: u64| format!("{:.1}", milli as f64 / 1000.0);
        let spent = after.usage.requests - before.usage.requests;
        requests.push(spent);
        println!(
            "| {label} | {} | {} | {spent} | {} | {} | {} | {} |",
            report.counted,
            report.duplicates,
            units(after.usage.read_milli_units - before.usage.read_milli_units),
            units(after.usage.write_milli_units - before.usage.write_milli_units),
            after.usage.computed_requests - before.usage.computed_requests,
            ms(after.at - before.at),
        );
    }
    let (checked, _) = check_totals(store, &expected).await?;
    if checked != batch_events as u64 {
        bail!("totals check: failed: {checked} events stored, {batch_events} sent");
    }
    let groups = expected.len();
    let lookups = 2 * USAGE_CUSTOMERS + meters.len();
    let predicted = batch_events + groups + meters.len() + lookups;
    println!();
    println!(
        "Requests the write budget predicts per batch: {batch_events} conditional `PutItem`s + \
         {groups} meter markers (one per customer × meter × period) + {} health-counter \
         updates (one per meter) + {lookups} lookups (organisation and closed period per \
         customer, service per meter) = {predicted}; measured: {}. The 1,000 events' totals \
         (`Store::usage_of`) match what was sent once, the duplicates counted nothing.",
        meters.len(),
        requests
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
    );
    let sizes = usage_item_sizes(stack.emulator.endpoint(), store.table()).await?;
    println!();
    println!(
        "| item written | items | size by DynamoDB's rules (bytes, min–max) | write units each in DynamoDB |"
    );
    println!("|---|---|---|---|");
    for (kind, sizes) in &sizes {
        let (min, max) = (
            sizes.iter().min().copied().unwrap_or(0),
            sizes.iter().max().copied().unwrap_or(0),
        );
        println!(
            "| {kind} | {} | {min}–{max} | {} |",
            sizes.len(),
            max.div_ceil(1024).max(1)
        );
    }

    // (b) End to end through the queue.
    let queue = stack.usage_poller.queue.clone();
    let customers = usage_customers(store, "e2e", 5_200).await?;
    let (texts, expected) = usage_events(&customers, &meters, "e2e", events, state.calendar())?;
    let moto = moto_pid(stack.emulator.endpoint());
    eprintln!(
        "kopek: sending {events} events through the queue, then draining it with {pollers} poller(s) (moto: pid {}) …",
        moto.as_deref().unwrap_or("not found")
    );
    let start = Mark::now(store, moto.as_deref());
    let mut sent = Sent::default();
    for chunk in texts.chunks(EVENTS_PER_MESSAGE) {
        let one = queue.send_events(chunk).await?;
        sent.messages += one.messages;
        sent.requests += one.requests;
    }
    let enqueued = Mark::now(store, moto.as_deref());
    let tasks: Vec<_> = (0..pollers)
        .map(|_| tokio::spawn(drain_queue(stack.usage_poller.clone())))
        .collect();
    let mut drained = Drained::default();
    for task in tasks {
        let one = task.await??;
        drained.messages += one.messages;
        drained.counted += one.counted;
        drained.duplicates += one.duplicates;
        drained.rejected += one.rejected;
        drained.failed += one.failed;
        drained.sqs_requests += one.sqs_requests;
    }
    let done = Mark::now(store, moto.as_deref());
    let load_after = load_average();

    let tick_rate = clock_ticks_per_sec() as f64;
    let seconds = |from: Option<u64>, to: Option<u64>| {
        from.zip(to)
            .map(|(a, b)| b.saturating_sub(a) as f64 / tick_rate)
    };
    let share = |cpu: Option<f64>, wall: f64| {
        cpu.map_or("n/a".to_owned(), |c| format!("{:.0} %", c / wall * 100.0))
    };
    let secs = |cpu: Option<f64>| cpu.map_or("n/a".to_owned(), |c| format!("{c:.1}"));
    println!();
    println!(
        "| phase | events | SQS messages | wall time (s) | events/s | DynamoDB requests | SQS requests | moto CPU (s) | moto CPU ÷ wall | this process's CPU (s) | its CPU ÷ wall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let phases = [
        (
            "enqueue: `Queue::send_events`, 100 events per message".to_owned(),
            start,
            enqueued,
            sent.messages as u64,
            sent.requests as u64,
        ),
        (
            format!(
                "drain: {pollers} concurrent poller(s), `Poller::poll_once`, ≤ 10 messages per batch"
            ),
            enqueued,
            done,
            drained.messages,
            drained.sqs_requests,
        ),
        (
            "end to end (enqueue, then drain)".to_owned(),
            start,
            done,
            sent.messages as u64,
            sent.requests as u64 + drained.sqs_requests,
        ),
    ];
    let mut verdict = None;
    for (i, (name, from, to, messages, sqs)) in phases.iter().enumerate() {
        let wall = (to.at - from.at).as_secs_f64();
        let moto_cpu = seconds(from.moto_ticks, to.moto_ticks);
        let bench_cpu = seconds(from.bench_ticks, to.bench_ticks);
        let dynamo = to.usage.requests - from.usage.requests;
        println!(
            "| {name} | {events} | {messages} | {wall:.1} | {:.0} | {dynamo} | {sqs} | {} | {} | {} | {} |",
            events as f64 / wall,
            secs(moto_cpu),
            share(moto_cpu, wall),
            secs(bench_cpu),
            share(bench_cpu, wall),
        );
        if i == 1 {
            let requests = (dynamo + sqs) as f64;
            let machine = seconds(from.machine_ticks, to.machine_ticks);
            verdict = Some((wall, moto_cpu, bench_cpu, machine, requests));
        }
    }
    println!();
    println!(
        "{} build; {pollers} poller(s), each ingesting what one receive gives ({MESSAGES_PER_BATCH} \
         messages of {EVENTS_PER_MESSAGE} events at most), {} conditional puts in flight per \
         batch; no long polling. Drained: {} counted, {} duplicates, {} rejected, {} messages \
         failed and redelivered. CPU times are utime + stime from `/proc/<pid>/stat` (ticks of \
         1/{tick_rate} s): moto's process (pid {}) and this one, every thread. Load average \
         before: {load_before}; after: {load_after} (2 cores, shared).",
        profile,
        kopek_services::usage::ingest::CONCURRENCY,
        drained.counted,
        drained.duplicates,
        drained.rejected,
        drained.failed,
        moto.as_deref().unwrap_or("not found"),
    );
    if let Some((wall, moto_cpu, bench_cpu, machine, requests)) = verdict {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        let per_request = |cpu: Option<f64>| {
            cpu.map_or("n/a".to_owned(), |c| {
                format!("{:.2}", c * 1000.0 / requests)
            })
        };
        let moto_share = moto_cpu.map(|c| c / wall);
        let bench_share = bench_cpu.map(|c| c / wall);
        let machine_share = machine.map(|c| c / wall / cores);
        let finding = match (moto_share, bench_share) {
            (Some(m), _) if m >= 0.85 => {
                "**the emulator was the bottleneck**: moto serves one request at a time (one \
                 lock, and Python's interpreter lock), so one core is its ceiling, and it was \
                 busy for nearly all of the drain"
            }
            (Some(_), Some(_)) if machine_share.is_some_and(|m| m >= 0.9) => {
                "**the machine's cores were saturated**: moto, this process and other work on \
                 the shared machine together kept every core busy, so neither process got a \
                 core of its own; the figures are a floor, not the emulator's ceiling"
            }
            (Some(m), Some(b)) if b > m => {
                "**this process was the busier one**: the client side (the SDK's signing and \
                 (de)serialisation, judging) bounded the rate more than the emulator did"
            }
            (Some(_), Some(_)) => {
                "**neither process was saturated**: the rate was bounded by requests waiting on \
                 one another (round trips, the sequential per-batch steps) or by the other \
                 work on this shared machine"
            }
            _ => "no verdict: moto's CPU time could not be read",
        };
        println!();
        println!(
            "Bottleneck (drain): {finding}. moto: {} of the wall time on a CPU, {} ms per \
             request; this process: {} of one core, {} ms per request ({} requests to the \
             emulator in {wall:.1} s, {:.0} per second). The whole machine: {} of its {cores} \
             cores busy ({} of one core by other processes).",
            share(moto_cpu, wall),
            per_request(moto_cpu),
            share(bench_cpu, wall),
            per_request(bench_cpu),
            requests,
            requests / wall,
            machine_share.map_or("n/a".to_owned(), |m| format!("{:.0} %", m * 100.0)),
            share(
                machine
                    .zip(moto_cpu)
                    .zip(bench_cpu)
                    .map(|((all, m), b)| (all - m - b).max(0.0)),
                wall
            ),
        );
    }

    let (checked, quantity) = check_totals(store, &expected).await?;
    if checked != events as u64 {
        bail!("totals check: failed: {checked} events stored, {events} sent");
    }
    println!();
    println!(
        "totals check: ok ({} customer × meter × period sums from `Store::usage_of`, {checked} events, Σ quantity {quantity}, equal to what was sent)",
        expected.len()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Period close

/// The services of the close measurement: a recurring fee, a one-off work (and its work
/// type), and two meters.
const CLOSE_LINK: &str = "BENCH-LINK";
const CLOSE_INSTALL: &str = "BENCH-INSTALL";
const CLOSE_WORK_TYPE: &str = "bench-close";
const CLOSE_METERS: [(&str, UnitOfMeasure); 2] = [
    ("BENCH-GB", UnitOfMeasure::Gigabyte),
    ("BENCH-SMS", UnitOfMeasure::Request),
];
/// Per customer: work orders (one order, one batch, all done) and usage events per meter.
const CLOSE_WORK_ORDERS: usize = 3;
const CLOSE_EVENTS_PER_METER: usize = 5;
/// Lines every customer's invoice has: the subscription's two segments (its quantity changes
/// on the 16th), one per work order, one per meter.
const CLOSE_LINES: usize = 2 + CLOSE_WORK_ORDERS + CLOSE_METERS.len();
/// Customers set up concurrently (the emulator serves one request at a time; this only keeps
/// it busy while this process builds the next request).
const CLOSE_SETUP_TASKS: usize = 4;
/// How long a received close message stays invisible: `CloseQueue`'s `VisibilityTimeout` in
/// the template (longer than a poller takes for 10 messages, even against the emulator).
const CLOSE_VISIBILITY_SECS: i32 = 360;

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// The close's catalog, created straight into the store and dated `at` (before the period).
struct CloseCatalog {
    link: Service,
    install: (Service, Vec<kopek_domain::catalog::PriceVersion>),
    meters: Vec<ServiceCode>,
}

async fn close_catalog(
    store: &Store,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<CloseCatalog> {
    let d = Decimal::new;
    let rub = |model| Price::new(Currency::RUB, model, None, None).map_err(err);
    let services = [
        (
            CLOSE_LINK,
            ServiceKind::Recurring,
            UnitOfMeasure::Month,
            rub(PriceModel::PerUnit {
                unit_price: d(150_000, 2),
            })?,
        ),
        (
            CLOSE_INSTALL,
            ServiceKind::OneOff,
            UnitOfMeasure::Piece,
            rub(PriceModel::PerUnit {
                unit_price: d(350_000, 2),
            })?,
        ),
        (
            CLOSE_METERS[0].0,
            ServiceKind::Metered,
            CLOSE_METERS[0].1,
            rub(PriceModel::Graduated {
                tiers: vec![
                    kopek_domain::pricing::Tier::bounded(d(100, 0), d(150, 2)),
                    kopek_domain::pricing::Tier::bounded(d(1_000, 0), d(100, 2)),
                    kopek_domain::pricing::Tier::unbounded(d(50, 2)),
                ],
            })?,
        ),
        (
            CLOSE_METERS[1].0,
            ServiceKind::Metered,
            CLOSE_METERS[1].1,
            rub(PriceModel::Volume {
                tiers: vec![
                    kopek_domain::pricing::Tier::bounded(d(1_000, 0), d(250, 2)),
                    kopek_domain::pricing::Tier::unbounded(d(200, 2)),
                ],
            })?,
        ),
    ];
    let mut created = Vec::new();
    for (code, kind, unit, price) in services {
        let command = NewService {
            code: code.parse().map_err(err)?,
            name: LocalizedText::new("Услуга для закрытия", "Close benchmark service")
                .map_err(err)?,
            description: None,
            unit,
            kind,
            work_type: (kind == ServiceKind::OneOff)
                .then(|| CLOSE_WORK_TYPE.parse())
                .transpose()
                .map_err(err)?,
            cancellation: Default::default(),
            tax_rate: TaxRate::from_percent(Decimal::from(20)).map_err(err)?,
            currency: Currency::RUB,
            price,
        };
        let (service, first) = Service::create(command, at).map_err(err)?;
        store.create_service(&service, &first).await?;
        created.push((service, first));
    }
    let mut created = created.into_iter();
    let (link, _) = created.next().context("the recurring service")?;
    let (install, version) = created.next().context("the one-off service")?;
    Ok(CloseCatalog {
        link,
        install: (install, vec![version]),
        meters: created.map(|(s, _)| s.code().clone()).collect(),
    })
}

/// When each part of the customers' month happens (all in the period closed).
#[derive(Clone, Copy)]
struct CloseDates {
    /// The customers register and subscribe: the period's first day, 08:00.
    opened: chrono::DateTime<chrono::Utc>,
    /// Orders are placed, worked and completed, and usage ingested: the demo's history
    /// instant (the 10th, 09:00).
    history: chrono::DateTime<chrono::Utc>,
    /// The provider's calendar those times are in.
    calendar: Calendar,
}

/// One customer registered straight into the store (the owner's password hash computed
/// once for all: Argon2id is not what is measured), subscribed to `CLOSE_LINK` from the
/// period's first day with its quantity going from 2 to 3 on the 16th, and with one order of
/// `CLOSE_WORK_ORDERS` work orders taken, started and completed (all done) through the same
/// domain functions and store calls as `/v1/work/batches/…`.
async fn close_customer_setup(
    store: &Store,
    template: &kopek_domain::accounts::NewAccount,
    catalog: &CloseCatalog,
    dates: CloseDates,
    i: usize,
) -> anyhow::Result<OrgId> {
    use kopek_domain::accounts::{Email, LegalName, Role, User, UserStatus};
    use kopek_domain::charges::{DomainEvent, EventKind};
    use kopek_domain::orders::{LineRequest, Orderer, UserOrKey, plan_order};
    use kopek_domain::pricing::Quantity;
    use kopek_domain::subscriptions::Subscription;
    use kopek_domain::work::{Batch, Outcome, plan_completion};

    // The customer and its owner.
    let org = OrgId::new();
    let mut organisation = template.organisation.clone();
    organisation.id = org;
    organisation.created_at = dates.opened;
    organisation.legal_name = LegalName::parse(&format!("ООО «Абонент {i:06}»")).map_err(err)?;
    let account = kopek_domain::accounts::NewAccount {
        organisation,
        owner: User::new(
            kopek_domain::ids::UserId::new(),
            Some(org),
            Email::parse(&format!("owner-{i:06}@close.example.ru")).map_err(err)?,
            template.owner.name().clone(),
            Role::Customer,
            UserStatus::Active,
            dates.opened,
        )
        .map_err(err)?,
        password_hash: template.password_hash.clone(),
    };
    store.register(&account).await?;
    let owner_id = account.owner.id();
    let owner = || UserOrKey::User(owner_id);

    // The subscription, with its change of quantity (one write: setup, not measured).
    let first_day = dates.calendar.period_of(dates.opened).first_day();
    let quantity = |n: i64| Quantity::new(Decimal::from(n)).map_err(err);
    let mut subscription = Subscription::start(
        kopek_domain::ids::SubscriptionId::new(),
        org,
        &catalog.link,
        1,
        quantity(2)?,
        first_day,
        first_day,
        dates.opened,
    )
    .map_err(err)?;
    subscription
        .change_quantity(quantity(3)?, first_day + chrono::Days::new(15), first_day)
        .map_err(err)?;
    let started = DomainEvent::new(
        org,
        owner(),
        dates.opened,
        EventKind::SubscriptionStarted {
            subscription: subscription.id(),
            service: catalog.link.code().clone(),
            quantity: quantity(2)?,
            from: first_day,
        },
    );
    store.create_subscription(&subscription, &started).await?;

    // One order, taken as one batch, started and completed: the charges.
    let (install, versions) = &catalog.install;
    let requests: Vec<LineRequest> = (0..CLOSE_WORK_ORDERS)
        .map(|n| LineRequest {
            service: install.code().clone(),
            quantity: Decimal::from(n % 2 + 1),
            requested_date: None,
            note: None,
            address: format!("Москва, ул. Тверская, {}, офис {n}", i % 200 + 1),
            area: Some("moscow-centre".into()),
        })
        .collect();
    let placed = plan_order(
        Orderer {
            org,
            currency: Currency::RUB,
            active: true,
        },
        owner(),
        None,
        &requests,
        |code| (code == install.code()).then_some((install, versions.as_slice())),
        dates.history,
        dates.calendar,
    )
    .map_err(err)?;
    let event = DomainEvent::new(
        org,
        owner(),
        dates.history,
        EventKind::OrderPlaced {
            order: placed.order.id,
            lines: placed.order.line_count,
            expected_total: placed.order.expected_total,
        },
    );
    store.place_order(&placed, &event).await?;

    let engineer = kopek_domain::ids::UserId::new();
    let timeout = chrono::TimeDelta::hours(8);
    let work_type: kopek_domain::catalog::WorkType = CLOSE_WORK_TYPE.parse().map_err(err)?;
    let mut lines = placed.lines;
    let taken_at = dates.history + chrono::TimeDelta::minutes(5);
    let batch = Batch::take(engineer, work_type, &mut lines, taken_at, timeout);
    let stored: Vec<StoredLine> = lines
        .iter()
        .map(|line| StoredLine {
            line: line.clone(),
            rev: 1,
        })
        .collect();
    match store.take_batch(&batch, &stored).await? {
        TakeOutcome::Taken => {}
        TakeOutcome::Lost(_) => bail!("customer {i}: its work orders were taken meanwhile"),
    }
    let stored_batch = StoredBatch { batch, rev: 1 };

    let started_at = dates.history + chrono::TimeDelta::hours(1);
    let mut next = stored_batch.batch.clone();
    next.start(engineer, &mut lines, started_at, timeout)
        .map_err(err)?;
    let writes: Vec<StoredLine> = lines
        .iter()
        .map(|line| StoredLine {
            line: line.clone(),
            rev: 2,
        })
        .collect();
    let rev = store
        .save_batch_work(&stored_batch, &next, &writes, &[], &[])
        .await?;
    let stored_batch = StoredBatch { batch: next, rev };

    let completed_at = dates.history + chrono::TimeDelta::hours(3);
    let outcomes: Vec<Outcome> = lines
        .iter()
        .map(|line| Outcome::Done {
            work_order: line.work_order,
            actual_quantity: line.quantity.value(),
        })
        .collect();
    let (next, completions) = plan_completion(
        &stored_batch.batch,
        engineer,
        &outcomes,
        &lines,
        completed_at,
        dates.calendar,
        timeout,
    )
    .map_err(err)?;
    let completions: Vec<(u64, _)> = completions.into_iter().map(|c| (3, c)).collect();
    store
        .save_batch_work(&stored_batch, &next, &[], &completions, &[])
        .await?;
    Ok(org)
}

/// Every customer's usage events of the period, `CLOSE_EVENTS_PER_METER` per meter on the
/// days before `dates.history`, ingested as SQS-shaped batches (10 messages × 100 events)
/// by the same `Ingestor::ingest` the `usage-ingest` function runs, received at
/// `dates.history`.
async fn close_usage(
    ingestor: &kopek_services::usage::ingest::Ingestor,
    customers: &[OrgId],
    meters: &[ServiceCode],
    dates: CloseDates,
) -> anyhow::Result<u64> {
    let first_day = dates.calendar.period_of(dates.history).first_day();
    let mut texts = Vec::with_capacity(customers.len() * meters.len() * CLOSE_EVENTS_PER_METER);
    for (c, org) in customers.iter().enumerate() {
        for (m, meter) in meters.iter().enumerate() {
            for e in 0..CLOSE_EVENTS_PER_METER {
                let quantity = if CLOSE_METERS[m].1.is_whole() {
                    Decimal::from((c + e) % 40 + 1)
                } else {
                    Decimal::new(((c * 7 + e * 13) % 10_000) as i64 + 1, 2)
                };
                let at = (first_day + chrono::Days::new((e % 9) as u64))
                    .and_hms_opt(12, (c % 60) as u32, 0)
                    .context("a valid time")?
                    .and_utc();
                let event = RawUsageEvent {
                    id: format!("close-{c:06}-{m}-{e}"),
                    customer: org.to_string(),
                    meter: meter.to_string(),
                    quantity: RawQuantity::exact(quantity),
                    timestamp: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    properties: [("region".to_owned(), "msk-1".to_owned())].into(),
                };
                texts.push(serde_json::to_string(&event)?);
            }
        }
    }
    let messages = usage_messages(&texts)?;
    let mut counted = 0;
    for batch in messages.chunks(MESSAGES_PER_BATCH) {
        let report = ingestor.ingest(batch, dates.history).await;
        if !report.failed.is_empty() || report.rejected > 0 {
            bail!("the usage was not ingested cleanly: {report:?}");
        }
        counted += report.counted;
    }
    Ok(counted)
}

/// What one close poller did.
#[derive(Debug, Default, Clone, Copy)]
struct ClosePolled {
    plan_messages: u64,
    customer_messages: u64,
    failed: u64,
    /// SQS requests: receives, deletes (one `DeleteMessageBatch` per receive that handled
    /// something) and queue-depth reads.
    sqs_requests: u64,
}

/// The local stand-in for the worker's event source mapping, as
/// `kopek_events::close::poller::drain` is (receive up to 10, handle each with
/// `kopek_events::close::handle_body`, delete what succeeded), but without long polling —
/// the emulator serves one request at a time, and a long poll would hold it for its whole
/// wait, stalling the other pollers — and counting its SQS requests. Stops when the queue
/// holds nothing, visible or in flight.
async fn close_poller(closer: Closer) -> anyhow::Result<ClosePolled> {
    let mut polled = ClosePolled::default();
    let mut idle = Duration::from_millis(25);
    loop {
        let received = closer
            .queue()
            .receive(10, 0, Some(CLOSE_VISIBILITY_SECS))
            .await?;
        polled.sqs_requests += 1;
        if received.is_empty() {
            polled.sqs_requests += 1;
            if closer.queue().depth().await? == (0, 0) {
                return Ok(polled);
            }
            // Another poller holds the rest (planning, say): back off, up to half a second.
            tokio::time::sleep(idle).await;
            idle = (idle * 2).min(Duration::from_millis(500));
            continue;
        }
        idle = Duration::from_millis(25);
        let mut done = Vec::new();
        for message in &received {
            match kopek_events::close::handle_body(&closer, &message.body).await {
                Ok(()) => {
                    let kind = serde_json::from_str::<Value>(&message.body)
                        .ok()
                        .and_then(|v| v["type"].as_str().map(str::to_owned));
                    match kind.as_deref() {
                        Some("plan") => polled.plan_messages += 1,
                        _ => {
                            polled.customer_messages += 1;
                            if polled.customer_messages % 50 == 0 {
                                eprintln!(
                                    "kopek:   {} customers closed by this poller",
                                    polled.customer_messages
                                );
                            }
                        }
                    }
                    done.push(message.receipt_handle.as_str());
                }
                Err(e) => {
                    polled.failed += 1;
                    tracing::warn!(error = %e, "close message failed; it will be redelivered");
                }
            }
        }
        if !done.is_empty() {
            closer.queue().delete(&done).await?;
            polled.sqs_requests += 1;
        }
    }
}

/// `SendMessageBatch` requests the close made, from its messages: one for the first `plan`,
/// one per ten customers of each planning page (pages of `ORGS_PER_PAGE`), one per `plan`
/// message handed on. Derived from the close's send pattern (the SDK client is not
/// instrumented), not counted.
fn close_sends(customers: usize, plan_messages: u64) -> u64 {
    let per_page = kopek_services::close::ORGS_PER_PAGE;
    let full = customers / per_page;
    let rest = customers % per_page;
    (1 + full * per_page.div_ceil(10) + rest.div_ceil(10)) as u64 + plan_messages.saturating_sub(1)
}

async fn close(
    root: &Path,
    tools: &tools::Tools,
    customers: usize,
    pollers: usize,
) -> anyhow::Result<()> {
    use kopek_domain::close::PeriodStatus;
    use kopek_domain::invoicing::DocumentKind;
    use kopek_services::close::Trigger;

    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let load_before = load_average();
    let stack = Stack::start(root, tools, "bench").await?;
    let state = stack.state.clone();
    let store = stack.store.clone();
    let now = chrono::Utc::now();
    let calendar = state.calendar();
    let period = calendar.period_of(now).previous();
    let history = crate::demo::history_clock(now, calendar);
    let dates = CloseDates {
        opened: calendar.start_of(period.first_day()) + chrono::TimeDelta::hours(8),
        history: kopek_domain::clock::Clock::now(&history),
        calendar,
    };
    let catalog_at = calendar.period_start(period.previous());

    // Setup: the catalog, the customers (registered, subscribed, their work done), usage.
    eprintln!(
        "kopek: setting up {customers} customers with their month of {period} (subscription, {CLOSE_WORK_ORDERS} work orders, {} usage events) …",
        CLOSE_METERS.len() * CLOSE_EVENTS_PER_METER
    );
    let setup_started = Instant::now();
    let setup_before = store.capacity();
    let catalog = std::sync::Arc::new(close_catalog(&store, catalog_at).await?);
    let form = RegistrationForm {
        legal_name: "ООО «Абонент»".into(),
        tax_id: bench_inn(6_100),
        billing_email: "billing@close.example.ru".into(),
        billing_address: "101000, Москва, ул. Мясницкая, 1".into(),
        currency: Currency::RUB,
        language: DocumentLanguage::Ru,
        user_name: "Мария Иванова".into(),
        user_email: "owner@close.example.ru".into(),
        password: "Every-month-closes-on-the-first-26".into(),
    };
    let registration = Registration::try_from(form).map_err(err)?;
    let template = std::sync::Arc::new(
        tokio::task::spawn_blocking(move || registration.open(dates.opened)).await?,
    );
    let mut tasks = Vec::new();
    for t in 0..CLOSE_SETUP_TASKS {
        let (store, template, catalog) = (store.clone(), template.clone(), catalog.clone());
        tasks.push(tokio::spawn(async move {
            let mut orgs = Vec::new();
            for i in (t..customers).step_by(CLOSE_SETUP_TASKS) {
                orgs.push(close_customer_setup(&store, &template, &catalog, dates, i).await?);
                if i % 200 == 0 {
                    eprintln!("kopek:   customer {i} of {customers} set up");
                }
            }
            anyhow::Ok(orgs)
        }));
    }
    let mut orgs = Vec::with_capacity(customers);
    for task in tasks {
        orgs.extend(task.await??);
    }
    let events = close_usage(&stack.usage_poller.ingestor, &orgs, &catalog.meters, dates).await?;
    let setup_after = store.capacity();
    eprintln!(
        "kopek: set up in {:.1} s ({} DynamoDB requests, {events} usage events); closing {period} with {pollers} poller(s) …",
        setup_started.elapsed().as_secs_f64(),
        setup_after.requests - setup_before.requests
    );

    // The close: started as an admin would, drained by the pollers.
    // Locally the usage is ingested before the close starts: nothing is in flight.
    let closer = state
        .services
        .clone()
        .with_store(store.clone())
        .with_clock(std::sync::Arc::new(SystemClock))
        .with_settings(|s| s.close_seal_wait = Duration::ZERO)
        .closer();
    let moto = moto_pid(stack.emulator.endpoint());
    let started_at = chrono::Utc::now();
    let before = Mark::now(&store, moto.as_deref());
    let started = closer.start(period, Trigger::Admin("bench".into())).await?;
    if !started.started {
        bail!("the close of {period} had already started");
    }
    let tasks: Vec<_> = (0..pollers)
        .map(|_| tokio::spawn(close_poller(closer.clone())))
        .collect();
    let mut polled = ClosePolled::default();
    for task in tasks {
        let one = task.await??;
        polled.plan_messages += one.plan_messages;
        polled.customer_messages += one.customer_messages;
        polled.failed += one.failed;
        polled.sqs_requests += one.sqs_requests;
    }
    let after = Mark::now(&store, moto.as_deref());
    let load_after = load_average();

    // What the close came to (read after the measurement).
    let closed = store
        .period(period)
        .await?
        .context("the period close vanished")?;
    if closed.status != PeriodStatus::Closed || closed.done != customers as u64 {
        bail!(
            "the close did not finish: {} with {} done, {} skipped, {} failed of {} planned",
            closed.status.as_str(),
            closed.done,
            closed.skipped,
            closed.failed,
            closed.planned
        );
    }
    let closed_at = closed.closed_at.context("a closed period has its time")?;
    let close_wall = (closed_at - started_at)
        .to_std()
        .context("the close ended before it started")?
        .as_secs_f64();
    let drain_wall = (after.at - before.at).as_secs_f64();
    let mut numbers = Vec::with_capacity(customers);
    let mut start = None;
    loop {
        let page = store.list_invoices_of_period(period, 100, start).await?;
        for stored in page.items {
            let invoice = stored.invoice;
            if invoice.draft.lines.len() != CLOSE_LINES {
                bail!(
                    "invoice {} has {} lines, not {CLOSE_LINES}",
                    invoice.number,
                    invoice.draft.lines.len()
                );
            }
            if invoice.number.kind != DocumentKind::Invoice {
                bail!("{} is not an invoice number", invoice.number);
            }
            numbers.push(invoice.number.seq);
        }
        start = page.next;
        if start.is_none() {
            break;
        }
    }
    numbers.sort_unstable();
    let gapless = numbers.iter().copied().eq(1..=customers as u64);
    if !gapless {
        bail!(
            "invoice check: failed: {} invoices, numbers not 1..={customers}",
            numbers.len()
        );
    }

    // Figures.
    let tick_rate = clock_ticks_per_sec() as f64;
    let seconds = |from: Option<u64>, to: Option<u64>| {
        from.zip(to)
            .map(|(a, b)| b.saturating_sub(a) as f64 / tick_rate)
    };
    let n = customers as f64;
    let requests = after.usage.requests - before.usage.requests;
    let reads = (after.usage.read_milli_units - before.usage.read_milli_units) as f64 / 1000.0;
    let writes = (after.usage.write_milli_units - before.usage.write_milli_units) as f64 / 1000.0;
    let computed = after.usage.computed_requests - before.usage.computed_requests;
    let sends = close_sends(customers, polled.plan_messages);
    let sqs = polled.sqs_requests + sends;
    let moto_cpu = seconds(before.moto_ticks, after.moto_ticks);
    let bench_cpu = seconds(before.bench_ticks, after.bench_ticks);
    let machine = seconds(before.machine_ticks, after.machine_ticks);
    let share = |cpu: Option<f64>| {
        cpu.map_or("n/a".to_owned(), |c| {
            format!("{:.0} %", c / drain_wall * 100.0)
        })
    };
    let per = |cpu: Option<f64>, count: f64| {
        cpu.map_or("n/a".to_owned(), |c| format!("{:.1}", c * 1000.0 / count))
    };

    println!(
        "| customers | pollers | wall time, start → period closed (s) | customers/s | DynamoDB requests | per customer | read units per customer | write units per customer | SQS requests | moto CPU ÷ wall | this process's CPU ÷ wall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {customers} | {pollers} | {close_wall:.1} | {:.1} | {requests} | {:.1} | {:.2} | {:.2} | {sqs} | {} | {} |",
        n / close_wall,
        requests as f64 / n,
        reads / n,
        writes / n,
        share(moto_cpu),
        share(bench_cpu),
    );
    println!();
    println!(
        "{profile} build. {customers} customers of {period}, each with a subscription whose \
         quantity changed on the 16th, {CLOSE_WORK_ORDERS} completed work orders and {} usage \
         events ({} meters); every invoice checked: {CLOSE_LINES} lines, numbers 1–{customers} \
         without gaps (`invoice check: ok`). Messages handled: {} `plan`, {} `customer`, {} \
         failed and redelivered. The pollers returned {:.1} s after the start (the last empty \
         receive and queue-depth read included). Units: {:.1} read and {:.1} write in all; \
         {computed} of the {requests} requests had their units computed by the store (moto \
         reports none); base table only, without index writes. SQS requests: {} by the \
         pollers (receives, deletes, queue-depth reads, counted) + {sends} `SendMessageBatch` \
         by the close (derived from its messages). Load average before: {load_before}; after: \
         {load_after} (2 cores, shared).",
        CLOSE_METERS.len() * CLOSE_EVENTS_PER_METER,
        CLOSE_METERS.len(),
        polled.plan_messages,
        polled.customer_messages,
        polled.failed,
        drain_wall,
        reads,
        writes,
        polled.sqs_requests,
    );
    let predicted_per_customer = 13 + CLOSE_METERS.len() * 9;
    println!();
    println!(
        "Requests the code predicts per customer: {predicted_per_customer} (job 1, catalog 2, \
         settings 1, organisation 1, previous period 1, charges 1, meters used 1, usage \
         {} × 9 (8 shards and the late index), subscriptions 1, sequence 1, the customer's \
         credit 1, the issuing transaction 1, the period's completion check 1), plus per planning page of \
         {} customers a listing and a transaction; measured: {:.2}.",
        CLOSE_METERS.len(),
        kopek_services::close::ORGS_PER_PAGE,
        requests as f64 / n,
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let finding = match (
        moto_cpu.map(|c| c / drain_wall),
        bench_cpu.map(|c| c / drain_wall),
    ) {
        (Some(m), _) if m >= 0.85 => {
            "**the emulator was the bottleneck**: moto serves one request at a time, so one core \
             is its ceiling, and it was busy for nearly all of the close"
        }
        (Some(_), Some(_)) if machine.is_some_and(|m| m / drain_wall / cores >= 0.9) => {
            "**the machine's cores were saturated** (moto, this process and other work together): \
             the figures are a floor"
        }
        (Some(m), Some(b)) if b > m => {
            "**this process was the busier one**: the client side (a debug build's SDK work, \
             composing) bounded the rate more than the emulator"
        }
        (Some(_), Some(_)) => {
            "**neither process was saturated**: the rate was bounded by requests waiting on one \
             another (each customer's reads and its transaction in sequence)"
        }
        _ => "no verdict: moto's CPU time could not be read",
    };
    println!();
    println!(
        "Bottleneck: {finding}. moto: {} of the wall time on a CPU, {} ms per DynamoDB or SQS \
         request; this process: {} of one core, {} ms per request, {} ms per customer \
         ({:.0} requests to the emulator per second). The whole machine: {} of its {cores} \
         cores busy.",
        share(moto_cpu),
        per(moto_cpu, (requests + sqs) as f64),
        share(bench_cpu),
        per(bench_cpu, (requests + sqs) as f64),
        per(bench_cpu, n),
        (requests + sqs) as f64 / drain_wall,
        machine.map_or("n/a".to_owned(), |m| format!(
            "{:.0} %",
            m / drain_wall / cores * 100.0
        )),
    );

    let sizes = close_item_sizes(stack.emulator.endpoint(), store.table(), period, &orgs).await?;
    println!();
    println!(
        "| item written per customer (first {} customers) | items | size by DynamoDB's rules (bytes, min–max) | write units each in DynamoDB (a transaction's twice) |",
        orgs.len().min(CLOSE_SIZE_SAMPLE)
    );
    println!("|---|---|---|---|");
    for (kind, sizes) in &sizes {
        let (min, max) = (
            sizes.iter().min().copied().unwrap_or(0),
            sizes.iter().max().copied().unwrap_or(0),
        );
        println!(
            "| {kind} | {} | {min}–{max} | {} |",
            sizes.len(),
            max.div_ceil(1024).max(1)
        );
    }
    println!();
    println!(
        "invoice check: ok ({customers} invoices, numbers 1–{customers}, {CLOSE_LINES} lines each)"
    );
    pay_after_close(&state, &store, &orgs, period).await
}

/// After the close, each customer pays its invoice and 100.00 more, recorded one by one
/// through the API (`POST /v1/billing/payments`) as an accountant enters a bank statement:
/// each settles one invoice and leaves 100.00 of credit. Prints the requests, units and time
/// per payment, and checks every answer.
async fn pay_after_close(
    state: &AppState,
    store: &Store,
    orgs: &[OrgId],
    period: kopek_domain::period::BillingPeriod,
) -> anyhow::Result<()> {
    let router = kopek_api::local_app(state.clone());
    let (email, password) = (
        "bench-payments@kopek.test",
        "Every-kopek-counted-twice-never-9",
    );
    bootstrap_admin(state, email, password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let signed_in = setup_call(
        state,
        &router,
        "/v1/auth/sign-in",
        None,
        &serde_json::json!({"email": email, "password": password}),
        200,
    )
    .await?;
    let token = string_at(&signed_in, "/access_token")?;
    let today = state.today().to_string();
    let mut samples = Vec::with_capacity(orgs.len());
    for (i, org) in orgs.iter().enumerate() {
        let invoice = store
            .invoice_of(*org, period)
            .await?
            .with_context(|| format!("{org} has no invoice of {period}"))?
            .invoice;
        let mut amount = invoice.open_amount().amount() + rust_decimal::Decimal::new(10_000, 2);
        amount.rescale(2);
        let body = serde_json::json!({"org_id": org.to_string(), "amount": amount.to_string(),
            "currency": "RUB", "received_on": today, "reference": format!("bench-{i}")});
        let request = bench_request(
            Method::POST,
            "/v1/billing/payments",
            Some(&token),
            Some(&body),
        )?;
        let (sample, answer) = measured(state, &router, request, 201).await?;
        if answer
            .pointer("/settled/0/invoice_id")
            .and_then(Value::as_str)
            != Some(invoice.id.to_string().as_str())
            || answer.pointer("/to_credit").and_then(Value::as_str) != Some("100.00")
        {
            bail!("payment check: failed for {org}: {answer}");
        }
        samples.push(sample);
    }
    let n = samples.len().max(1) as f64;
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    let (median, p95) = percentiles(&mut walls);
    let sum = |f: fn(&Sample) -> u64| samples.iter().map(f).sum::<u64>() as f64;
    println!();
    println!(
        "| payments recorded | requests per payment | read units per payment | write units per payment | wall time per payment, median / p95 (ms) |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {} | {:.2} | {:.2} | {:.2} | {} / {} |",
        samples.len(),
        sum(|s| s.requests) / n,
        sum(|s| s.read_milli_units) / n / 1000.0,
        sum(|s| s.write_milli_units) / n / 1000.0,
        ms(median),
        ms(p95),
    );
    println!(
        "payment check: ok ({} payments, each settled its customer's invoice and left 100.00 of credit)",
        samples.len()
    );
    Ok(())
}

/// Customers whose items are sized after the close.
const CLOSE_SIZE_SAMPLE: usize = 5;

/// The sizes of what the close wrote for the first customers — the invoice, its ledger
/// entry and event, the seal, the job — read back with the SDK (outside the store, so its
/// counters are untouched).
async fn close_item_sizes(
    endpoint: &str,
    table: &str,
    period: BillingPeriod,
    orgs: &[OrgId],
) -> anyhow::Result<BTreeMap<&'static str, Vec<usize>>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let client = aws_sdk_dynamodb::Client::new(&kopek_local::sdk_config(endpoint).await);
    let mut sizes: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
    for org in orgs.iter().take(CLOSE_SIZE_SAMPLE) {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("ORG#{org}")))
            .send()
            .await
            .context("cannot query a customer's partition")?;
        for item in page.items() {
            let sk = item
                .get("SK")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let kind = if sk.starts_with("INVOICE#") {
                "invoice (`ORG#…` / `INVOICE#{period}`, also in GSI1 and GSI2)"
            } else if sk.starts_with("LEDGER#") {
                "ledger entry (`ORG#…` / `LEDGER#…`)"
            } else if sk.starts_with("HISTORY#inv_") {
                "`invoice_issued` event (`ORG#…` / `HISTORY#inv_…`, also in GSI1 `OUTBOX`)"
            } else if sk == "BILLING" {
                "seal (`ORG#…` / `BILLING`), updated by planning"
            } else {
                continue;
            };
            sizes
                .entry(kind)
                .or_default()
                .push(capacity::item_size(item));
        }
        let job = client
            .get_item()
            .table_name(table)
            .key("PK", AttributeValue::S(format!("PERIOD#{period}")))
            .key("SK", AttributeValue::S(format!("JOB#{org}")))
            .send()
            .await
            .context("cannot read a job")?;
        if let Some(item) = job.item() {
            sizes
                .entry("job (`PERIOD#…` / `JOB#…`), put by planning, updated when issued")
                .or_default()
                .push(capacity::item_size(item));
        }
    }
    let period_item = client
        .get_item()
        .table_name(table)
        .key("PK", AttributeValue::S(format!("PERIOD#{period}")))
        .key("SK", AttributeValue::S("PERIOD".into()))
        .send()
        .await
        .context("cannot read the period")?;
    if let Some(item) = period_item.item() {
        sizes
            .entry("the period (`PERIOD#…` / `PERIOD`), updated by every job and page")
            .or_default()
            .push(capacity::item_size(item));
    }
    Ok(sizes)
}
