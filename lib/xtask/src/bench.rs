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
//! Figures are printed as a Markdown table, ready for BENCHMARKS.md. Nothing here asserts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_local::tools;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::stack::Stack;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let (what, rest) = args
        .split_first()
        .context("which benchmark? `cold-start`, `sign-in` or `order-intake`")?;
    let mut runs = None;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--runs" => {
                let n: usize = rest
                    .next()
                    .context("--runs needs a number")?
                    .parse()
                    .context("--runs needs a number")?;
                if n == 0 {
                    bail!("--runs needs a number above 0");
                }
                runs = Some(n);
            }
            other => bail!("unknown argument `{other}`"),
        }
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
        other => bail!("unknown benchmark `{other}`: `cold-start`, `sign-in` or `order-intake`"),
    }
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
    eprintln!("kopek: building the release binaries …");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "accounts-api",
            "-p",
            "catalog-api",
        ])
        .args([
            "-p",
            "xtask",
            "--bin",
            "hello-lambda",
            "--bin",
            "accounts-api",
            "--bin",
            "catalog-api",
        ])
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("the release build failed");
    }
    let release = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("release");
    let stack = Stack::start(root, tools, "bench").await?;
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
    let password = "Bench-password-0123456789";
    kopek_api::accounts::bootstrap_admin(&stack.state, email, "Bench", password)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let body = serde_json::to_vec(&serde_json::json!({"email": email, "password": password}))?;

    let mut through_api = Vec::with_capacity(runs);
    let before = stack.state.store.usage();
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
    let after = stack.state.store.usage();

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
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
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
    let usage_before = state.store.usage();
    let ticks_before = process_cpu_ticks();
    let cpu_before = process_cpu_ns();
    let started = Instant::now();
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let raw = response.into_body().collect().await?.to_bytes();
    let wall = started.elapsed();
    let cpu_after = process_cpu_ns();
    let ticks_after = process_cpu_ticks();
    let usage_after = state.store.usage();
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
fn order_body(service: &str, lines: usize) -> Value {
    let today = chrono::Utc::now().date_naive().to_string();
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
    kopek_api::accounts::bootstrap_admin(state, admin_email, "Bench", admin_password)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
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
async fn round_trips(state: &AppState, n: usize) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let code: kopek_domain::catalog::ServiceCode =
        ORDER_SERVICE.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut samples = Vec::with_capacity(n);
    let usage_before = state.store.usage();
    let cpu_before = process_cpu_ns();
    for _ in 0..n {
        let started = Instant::now();
        let found = state.store.service(&code).await?;
        samples.push(started.elapsed());
        if found.is_none() {
            bail!("the service {ORDER_SERVICE} is missing");
        }
    }
    let cpu_after = process_cpu_ns();
    let requests = state.store.usage().requests - usage_before.requests;
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
            let body = order_body(ORDER_SERVICE, lines);
            let request = bench_request(Method::POST, "/v1/orders", Some(&token), Some(&body))?;
            let (sample, _) = measured(&state, &router, request, 201).await?;
            samples.push(sample);
        }
    }

    eprintln!("kopek: taking, starting and completing batches …");
    // More waiting than one batch takes: the queue always holds 10 work orders beyond it.
    let token = customer.token(&state, &router).await?;
    let body = order_body(BATCH_SERVICE, 10);
    setup_call(&state, &router, "/v1/orders", Some(&token), &body, 201).await?;
    let mut takes = Vec::with_capacity(runs);
    let mut starts = Vec::with_capacity(runs);
    let mut completions = Vec::with_capacity(runs);
    for _ in 0..runs {
        let token = customer.token(&state, &router).await?;
        let body = order_body(BATCH_SERVICE, 10);
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
    let (mut trips, trip_cpu) = round_trips(&state, (runs * 10).max(50)).await?;
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
