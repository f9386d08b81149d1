//! The AWS emulators of a test run, and a fresh copy of the template's resources per test.
//!
//! [`endpoint`] is where a test's AWS SDK clients go:
//! - if `KOPEK_TEST_AWS_ENDPOINT` is set — `cargo xtask test` starts its moto servers for the
//!   whole run (one per core: moto serves one request at a time, so one server would be the
//!   suite's bottleneck) and sets their endpoints, comma-separated — the next of them, round
//!   robin; each test's resources and clients stay on the one it was given (its `SdkConfig`
//!   carries the endpoint);
//! - otherwise (a plain `cargo test`) one [`Emulator`] started on first use and kept in a
//!   `static` for the rest of the process.
//!
//! A `static` is never dropped, so [`Emulator`]'s `Drop` does not run at exit. The server still
//! dies with the test process: `Emulator::start` runs moto under a small `sh` watchdog that reads
//! its standard input from a pipe held only by this process (`moto_server … & pid=$!;
//! read _; kill $pid`, in spirit). When the process exits — normally, by panic or killed — the
//! kernel closes the pipe, `read` sees end-of-file and the watchdog stops moto. See
//! `kopek_local::emulator` for the exact script.
//!
//! [`provisioned`] creates the template's tables, queues, buckets and secrets under a fresh
//! random prefix, so every test has resources of its own and tests run in parallel.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::SdkConfig;
use chrono::{NaiveDate, Utc};
use kopek_domain::calendar::Calendar;
use kopek_domain::period::{BillingPeriod, PeriodLength};
use kopek_local::emulator::Emulator;
use kopek_local::provision::{Provisioned, provision, random_prefix};
use kopek_local::template::Template;
use kopek_local::tools;

/// Set by `cargo xtask test` to the endpoints of the emulators it runs for the whole test run,
/// separated by commas (each test's resources live in one of them).
pub const ENDPOINT_VAR: &str = "KOPEK_TEST_AWS_ENDPOINT";

/// Runs the tests in another provider time zone than the template's default, e.g.
/// `KOPEK_TEST_TIME_ZONE=Pacific/Kiritimati` (UTC+14), where the provider's date differs from
/// the UTC date for most of the day: a test that takes a UTC date for the provider's fails.
pub const ZONE_VAR: &str = "KOPEK_TEST_TIME_ZONE";

/// The template's parameter that names the provider's time zone.
pub const ZONE_PARAMETER: &str = "ProviderTimeZone";

/// Runs the tests with billing periods of another length than the template's default, e.g.
/// `KOPEK_TEST_PERIOD_MONTHS=3` (quarters).
pub const LENGTH_VAR: &str = "KOPEK_TEST_PERIOD_MONTHS";

/// The template's parameter that says how many months a billing period has.
pub const LENGTH_PARAMETER: &str = "BillingPeriodMonths";

/// The template's default of a parameter, or the environment variable `var` when set.
fn parameter(var: &str, name: &str) -> String {
    match std::env::var(var).ok().filter(|v| !v.is_empty()) {
        Some(value) => value,
        None => Template::load_project(&tools::project_root())
            .unwrap_or_else(|e| panic!("cannot load the template: {e:#}"))
            .parameters
            .get(name)
            .unwrap_or_else(|| panic!("the template has no {name} parameter"))
            .clone(),
    }
}

/// The provider's calendar the tests run in: the template's `ProviderTimeZone` and
/// `BillingPeriodMonths` (their defaults, as deployed), or [`ZONE_VAR`] and [`LENGTH_VAR`]
/// when set. Every provisioned environment carries them.
pub fn calendar() -> Calendar {
    static CALENDAR: OnceLock<Calendar> = OnceLock::new();
    *CALENDAR.get_or_init(|| {
        let zone: Calendar = parameter(ZONE_VAR, ZONE_PARAMETER)
            .parse()
            .unwrap_or_else(|e| panic!("the tests' time zone: {e}"));
        let length: PeriodLength = parameter(LENGTH_VAR, LENGTH_PARAMETER)
            .parse()
            .unwrap_or_else(|e| panic!("the tests' period length: {e}"));
        zone.with_period_length(length)
    })
}

/// The provider's date now.
pub fn today() -> NaiveDate {
    calendar().date_of(Utc::now())
}

/// The billing period it is now in the provider's calendar.
pub fn current_period() -> BillingPeriod {
    calendar().period_of(Utc::now())
}

/// This process's own emulator, when [`ENDPOINT_VAR`] is unset; the error is kept as text so
/// every test that asks reports it.
static SHARED: OnceLock<Result<Emulator, String>> = OnceLock::new();

/// The endpoint URL of an emulator for the next test's resources (see the module docs): with
/// several in [`ENDPOINT_VAR`], each call takes the next, so the tests spread over them.
///
/// # Panics
/// If the emulator cannot be started; the message says why.
pub async fn endpoint() -> String {
    if let Some(list) = std::env::var(ENDPOINT_VAR).ok().filter(|e| !e.is_empty()) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let endpoints: Vec<&str> = list.split(',').map(str::trim).collect();
        return endpoints[NEXT.fetch_add(1, Ordering::Relaxed) % endpoints.len()].to_owned();
    }
    // Starting moto blocks for a second or two: keep it off the test's runtime.
    let shared = tokio::task::spawn_blocking(|| {
        SHARED
            .get_or_init(|| start().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map(|emulator| emulator.endpoint().to_owned())
            .map_err(Clone::clone)
    })
    .await;
    match shared {
        Ok(Ok(endpoint)) => endpoint,
        Ok(Err(e)) => panic!("cannot start the AWS emulator: {e}"),
        Err(e) => panic!("the task starting the AWS emulator failed: {e}"),
    }
}

fn start() -> anyhow::Result<Emulator> {
    let tools = tools::ensure(&tools::project_root())?;
    Emulator::start(&tools)
}

/// An SDK config for the test emulator, the template's resources created in it under a fresh
/// random prefix (`t` and 8 hex digits), and the parsed `infra/template.yaml`.
///
/// Each call builds its own `SdkConfig`: SDK clients hold connections bound to the runtime that
/// opened them, and each `#[tokio::test]` has its own runtime.
///
/// # Panics
/// If the emulator cannot be started, or the template cannot be read or provisioned.
pub async fn provisioned() -> (SdkConfig, Provisioned, Template) {
    provisioned_on(&endpoint().await).await
}

/// [`provisioned`] in the emulator at `endpoint` (tests that need two provisions in one).
///
/// # Panics
/// If the template cannot be read or provisioned.
pub async fn provisioned_on(endpoint: &str) -> (SdkConfig, Provisioned, Template) {
    let sdk = kopek_local::sdk_config(endpoint).await;
    let template = Template::load_project(&tools::project_root())
        .unwrap_or_else(|e| panic!("cannot load the template: {e:#}"));
    let prefix = random_prefix("t");
    let mut provisioned = provision(&sdk, &template, &prefix)
        .await
        .unwrap_or_else(|e| panic!("cannot provision the template under {prefix}: {e:#}"));
    provisioned
        .parameters
        .insert(ZONE_PARAMETER.to_owned(), calendar().to_string());
    provisioned.parameters.insert(
        LENGTH_PARAMETER.to_owned(),
        calendar().period_length().months().to_string(),
    );
    (sdk, provisioned, template)
}
