//! `cargo xtask bench <what>`: the scripted measurements behind BENCHMARKS.md.
//!
//! - `cold-start [--runs N]`: for each function binary (release build) and a hello-world
//!   `lambda_runtime` binary built the same way, the time from process start until it first
//!   asks the Lambda runtime API for an event, and its peak resident memory by then. The
//!   runtime API is a loopback listener here that records the first
//!   `GET /2018-06-01/runtime/invocation/next`; the functions' cold start includes reading the
//!   token key from Secrets Manager (the emulator, on loopback).
//!   `KOPEK_BENCH_FUNCTIONS=documents,outbox-relay` builds and measures only those;
//!   `KOPEK_BENCH_EXTRA=accounts-api@/path/to/binary` also measures a binary built elsewhere
//!   (another commit) with that function's environment.
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
//!   (`Poller::drain_until`: `Poller::poll_once` until the queue holds nothing, visible or in
//!   flight), timed, with the emulator's CPU time (moto's process, from
//!   `/proc`) beside this process's, to tell which one was the bottleneck; finally every
//!   customer's summed usage (`Store::usage_of`) is checked against what was sent.
//! - `close [--customers N] [--pollers P] [--series S]` (default 1,000 customers, 1 poller,
//!   invoices numbered in 1 series; `--series 16` numbers them in 16): the period
//!   close. N customers are set up straight through the store and the domain (one Argon2id
//!   hash for all), dated last month: a subscription whose quantity changes mid-month, an
//!   order of 3 work orders taken, started and completed, 10 usage events of 2 meters
//!   ingested by `Ingestor::ingest`. Then last month is closed with `kopek_services::close::Closer`
//!   (`start`, then P concurrent `kopek_events::close::poller::Poller`s — what
//!   `kopek_events::close::poller::drain` runs, but without long polling and until the queue
//!   holds nothing, visible or in flight), timed from the start until the period is `closed`: customers per
//!   second, DynamoDB requests and read and write units per customer (the store's counters),
//!   SQS requests, moto's CPU time beside this process's, and the sizes of the items written.
//!   Every invoice is checked afterwards (its lines, numbers without gaps).
//!
//! - `documents [--customers N]` (default 100): a closed period's closing documents made and
//!   signed as in AWS (the outbox relayed, every job made, one signing of all): time,
//!   DynamoDB requests and write units per document, the render time of each kind (p50, p95)
//!   apart from the emulator's, S3 and KMS requests per document, and peak memory
//!   ([`documents`]).
//! - `archive [--customers N]` (default 1,000): the period archive's writer streaming N
//!   packages into a multipart upload: the most it held at once and the process's peak
//!   memory before and after ([`archive`]).
//!
//! - `bank [--events N] [--customers K]` (default 10,000 lines, 100 customers): a bank
//!   statement uploaded and matched through `BankQueue`, then the same file again: requests
//!   and capacity units per line ([`bank`]).
//! - `report [--runs N] [--customers K]` (default 5 runs, 20 customers): a customer's
//!   statement of account and reconciliation statement over five years of monthly invoices
//!   and payments (time, requests), and the daily dunning run's requests per customer with K
//!   customers overdue ([`report`]).
//!
//! - `portal [--runs N]` (default 20): every page of each demo person, on the demo's data:
//!   CPU time (p50, p95) and wall time per page, DynamoDB requests, and bytes as sent and
//!   gzipped; the static files' sizes ([`portal`]).
//!
//! - `webhooks [--events N] [--pollers P]` (default 10,000 events, 4 pollers): one payment's
//!   event and its cost; a burst of N events in the outbox dispatched and delivered to a
//!   loopback receiver: requests and write units per event, deliveries per second, the oldest
//!   undelivered event's age ([`webhooks`]).
//!
//! - `audit [--runs N]` (default 20): what the audit record adds to five business
//!   operations (single writes and transactions): each run bare and inside an audit scope,
//!   requests, write units and CPU time per operation, and the records' sizes ([`audit`]).
//!
//! Figures are printed as a Markdown table, ready for BENCHMARKS.md. Nothing here asserts
//! on time (the usage benchmark fails only when the totals do not match what was sent).

mod archive;
mod audit;
mod bank;
mod close;
mod cold_start;
mod documents;
mod hot;
mod order_intake;
mod portal;
mod procfs;
mod report;
mod sign_in;
mod usage;
mod webhooks;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use kopek_aws::dynamo::{CapacitySnapshot, Item, Store, capacity};
use kopek_domain::accounts::{DocumentLanguage, Registration, RegistrationForm};
use kopek_domain::catalog::{
    LocalizedText, NewService, ServiceKind, TaxRate, UnitOfMeasure, WorkType,
};
use kopek_domain::money::Currency;
use kopek_domain::pricing::Price;
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_local::tools;
use rust_decimal::Decimal;
use serde_json::Value;
use tower::ServiceExt;

use procfs::{cpu_ticks_of, machine_busy_ticks, process_cpu_ns, process_cpu_ticks};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let (what, rest) = args.split_first().context(
        "which benchmark? `cold-start`, `sign-in`, `order-intake`, `usage`, `close`, `documents`, `archive`, `bank`, `portal`, `webhooks`, `audit` or `report`",
    )?;
    let (mut runs, mut events, mut pollers, mut customers, mut series) =
        (None, None, None, None, None);
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        let slot = match arg.as_str() {
            "--runs" => &mut runs,
            "--events" => &mut events,
            "--pollers" => &mut pollers,
            "--customers" => &mut customers,
            "--series" => &mut series,
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
        "cold-start" => tokio::runtime::Runtime::new()?.block_on(cold_start::run(
            &root,
            &tools,
            runs.unwrap_or(20),
        )),
        "sign-in" => tokio::runtime::Runtime::new()?.block_on(sign_in::run(
            &root,
            &tools,
            runs.unwrap_or(20),
        )),
        // One thread runs every request, so the process's CPU time is the handlers' (and the
        // SDK's) alone; the blocking pool still exists for Argon2id during the setup.
        "order-intake" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(order_intake::run(&root, &tools, runs.unwrap_or(10))),
        // Several threads: the pollers' SDK work runs beside the emulator on the other core.
        "usage" => tokio::runtime::Runtime::new()?.block_on(usage::run(
            &root,
            &tools,
            events.unwrap_or(100_000),
            // More pollers measured no faster: the emulator serves one request at a time.
            pollers.unwrap_or(1),
        )),
        // Several threads, as for usage: the pollers' SDK work beside the emulator.
        "close" => tokio::runtime::Runtime::new()?.block_on(close::run(
            &root,
            &tools,
            customers.unwrap_or(1_000),
            pollers.unwrap_or(1),
            series.unwrap_or(1),
        )),
        "documents" => tokio::runtime::Runtime::new()?.block_on(documents::run(
            &root,
            &tools,
            customers.unwrap_or(100),
        )),
        "archive" => tokio::runtime::Runtime::new()?.block_on(archive::run(
            &root,
            &tools,
            customers.unwrap_or(1000),
        )),
        "bank" => tokio::runtime::Runtime::new()?.block_on(bank::run(
            &root,
            &tools,
            events.unwrap_or(10_000),
            customers.unwrap_or(100),
        )),
        // One thread, as for order intake: the process's CPU time is the pages' alone.
        "portal" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(portal::run(&root, &tools, runs.unwrap_or(20))),
        // Several threads: the delivery pollers and the receiver beside the dispatcher.
        "webhooks" => tokio::runtime::Runtime::new()?.block_on(webhooks::run(
            &root,
            &tools,
            events.unwrap_or(10_000),
            pollers.unwrap_or(4),
        )),
        // One thread, as for order intake: the process's CPU time is the operations' alone.
        "audit" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(audit::run(&root, &tools, runs.unwrap_or(20))),
        "report" => tokio::runtime::Runtime::new()?.block_on(report::run(
            &root,
            &tools,
            runs.unwrap_or(5),
            customers.unwrap_or(20),
        )),
        other => {
            bail!(
                "unknown benchmark `{other}`: `cold-start`, `sign-in`, `order-intake`, `usage`, `close`, `documents`, `archive`, `bank`, `portal`, `webhooks`, `audit` or `report`"
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

/// Creates the admin `email` as [`bootstrap_admin`] does and signs it in through `router`;
/// returns its access token.
async fn signed_in_admin(
    state: &AppState,
    router: &Router,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    bootstrap_admin(state, email, password).await.map_err(err)?;
    let body = serde_json::json!({"email": email, "password": password});
    let signed_in = setup_call(state, router, "/v1/auth/sign-in", None, &body, 200).await?;
    string_at(&signed_in, "/access_token")
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

/// A valid 10-digit Russian INN (legal entity), checksum included.
fn bench_inn(seed: u64) -> String {
    let body = format!("{:09}", 770_000_000 + seed % 100_000_000);
    kopek_domain::accounts::TaxId::inn_completing(&body)
        .expect("nine digits")
        .to_string()
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

    /// What was spent from `self` to `to`; `tick_rate` is clock ticks per second.
    fn until(&self, to: &Mark, tick_rate: f64) -> Spent {
        let seconds = |from: Option<u64>, to: Option<u64>| {
            from.zip(to)
                .map(|(a, b)| b.saturating_sub(a) as f64 / tick_rate)
        };
        Spent {
            wall: (to.at - self.at).as_secs_f64(),
            moto: seconds(self.moto_ticks, to.moto_ticks),
            bench: seconds(self.bench_ticks, to.bench_ticks),
            machine: seconds(self.machine_ticks, to.machine_ticks),
        }
    }
}

/// The wall time between two [`Mark`]s and the CPU time spent in it, in seconds: moto's, this
/// process's and the whole machine's (`None` where it could not be read).
#[derive(Clone, Copy)]
struct Spent {
    wall: f64,
    moto: Option<f64>,
    bench: Option<f64>,
    machine: Option<f64>,
}

/// What bounded a phase against the emulator, judging by who was on a CPU.
enum Bottleneck {
    /// moto was on a CPU for at least 85 % of the wall time: one core is its ceiling.
    Emulator,
    /// Every core of the machine was at least 90 % busy.
    Machine,
    /// This process was on a CPU longer than moto.
    ThisProcess,
    /// None of those: requests waited on one another, or on other work.
    Neither,
    /// moto's CPU time could not be read.
    Unknown,
}

impl Spent {
    /// What bounded the phase, by the shares of the wall time moto and this process spent on
    /// a CPU and how busy the machine's cores were.
    fn bottleneck(&self) -> Bottleneck {
        let cores = cores();
        let share = |cpu: Option<f64>| cpu.map(|c| c / self.wall);
        match (share(self.moto), share(self.bench)) {
            (Some(m), _) if m >= 0.85 => Bottleneck::Emulator,
            (Some(_), Some(_)) if self.machine.is_some_and(|m| m / self.wall / cores >= 0.9) => {
                Bottleneck::Machine
            }
            (Some(m), Some(b)) if b > m => Bottleneck::ThisProcess,
            (Some(_), Some(_)) => Bottleneck::Neither,
            _ => Bottleneck::Unknown,
        }
    }
}

/// The machine's cores.
fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, usize::from) as f64
}

/// `cpu` seconds as a share of `wall` seconds.
fn share(cpu: Option<f64>, wall: f64) -> String {
    cpu.map_or("n/a".to_owned(), |c| format!("{:.0} %", c / wall * 100.0))
}

/// The build the figures come from.
fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Item sizes by kind of item, as the benchmarks' size tables show them.
type Sizes = BTreeMap<&'static str, Vec<usize>>;

/// Adds the sizes of `items` (by DynamoDB's rules) to `sizes`, under the kind `kind_of` gives
/// their keys (`PK`, `SK`); items of no kind are passed over.
fn add_sizes(
    sizes: &mut Sizes,
    items: &[Item],
    kind_of: impl Fn(&str, &str) -> Option<&'static str>,
) {
    for item in items {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let (pk, sk) = (
            text("PK").unwrap_or_default(),
            text("SK").unwrap_or_default(),
        );
        if let Some(kind) = kind_of(&pk, &sk) {
            sizes
                .entry(kind)
                .or_default()
                .push(capacity::item_size(item));
        }
    }
}

/// The rows of an item-size table (its header printed before): per kind of item, how many,
/// their sizes and the write units the largest takes.
fn print_sizes(sizes: &Sizes) {
    println!("|---|---|---|---|");
    for (kind, sizes) in sizes {
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
}

/// A customer's registration as the usage and close benchmarks write them: in roubles and
/// Russian, at one address, its owner Мария Иванова.
fn registration(
    legal_name: String,
    tax_id: String,
    billing_email: String,
    user_email: String,
    password: &str,
) -> anyhow::Result<Registration> {
    let form = RegistrationForm {
        legal_name,
        tax_id,
        billing_email,
        billing_address: "101000, Москва, ул. Мясницкая, 1".into(),
        currency: Currency::RUB,
        language: DocumentLanguage::Ru,
        kpp: None,
        user_name: "Мария Иванова".into(),
        user_email,
        password: password.into(),
    };
    Registration::try_from(form).map_err(err)
}

/// A service in roubles at 20 % VAT, as the usage and close benchmarks create them.
fn rouble_service(
    code: &str,
    name: LocalizedText,
    kind: ServiceKind,
    unit: UnitOfMeasure,
    work_type: Option<WorkType>,
    price: Price,
) -> anyhow::Result<NewService> {
    Ok(NewService {
        code: code.parse().map_err(err)?,
        name,
        description: None,
        unit,
        kind,
        work_type,
        cancellation: Default::default(),
        tax_rate: TaxRate::from_percent(Decimal::from(20)).map_err(err)?,
        tax_exemption: None,
        currency: Currency::RUB,
        price,
    })
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Stores a registration as `Accounts::register` does, with its `organisation.created`
/// event (the benchmarks register thousands without hashing a password each).
pub(crate) async fn store_registration(
    store: &Store,
    account: &kopek_domain::accounts::NewAccount,
) -> anyhow::Result<()> {
    let created = kopek_domain::charges::DomainEvent::organisation_created(
        &account.organisation,
        kopek_domain::orders::UserOrKey::User(account.owner.id()),
        account.organisation.created_at,
        None,
    );
    store.register(account, &created).await?;
    Ok(())
}
