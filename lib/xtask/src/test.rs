//! `cargo xtask test`: every check and test, as CI runs it (`.ci/run` calls exactly this).
//!
//! 1. installs the tools into `.venv` if they are missing (moto, cfn-lint, cargo-lambda,
//!    openapi-spec-validator, schemathesis), and the Debian packages the tests need
//!    (`poppler-utils`, with `apt-get`);
//! 2. `cargo fmt --check` and `cargo clippy -D warnings` on the whole workspace;
//! 3. builds every target, so the end-to-end tests find the function binaries;
//! 4. starts one moto server per core for the whole run (`KOPEK_TEST_EMULATORS` to choose:
//!    moto serves one request at a time, so the tests spread over several; each test takes
//!    fresh resource names in one of them, so they run in parallel) and runs
//!    `cargo test --workspace`; the servers stop when this ends;
//! 5. after a whole run, walks the OpenAPI document against the audit trace the suite left
//!    (`KOPEK_AUDIT_TRACE`): every state-changing operation wrote its audit record.
//!
//! Arguments after `--` go to `cargo test` (e.g. `cargo xtask test -- --test it catalog::`).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use kopek_local::emulator::Emulator;
use kopek_local::tools;

/// Where the audit middleware appends each state-changing request (`kopek_http::audit`).
const TRACE_VAR: &str = "KOPEK_AUDIT_TRACE";
/// The test that walks the OpenAPI document against that trace.
const WALK_TEST: &str = "audit::walk::every_state_changing_operation_writes_an_audit_record";

/// The variable the test harness reads to reuse this run's emulator (`tests/src/emulator.rs`).
const ENDPOINT_VAR: &str = "KOPEK_TEST_AWS_ENDPOINT";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let passthrough: Vec<String> = match args.split_first() {
        None => Vec::new(),
        Some((first, rest)) if first == "--" => rest.to_vec(),
        Some((first, _)) => bail!("unknown argument `{first}`; pass test arguments after `--`"),
    };
    let started = Instant::now();
    let root = tools::project_root();
    let tools = tools::ensure(&root)?;
    tools::ensure_system_packages()?;

    step("rustfmt", || {
        cargo(&root, &["fmt", "--all", "--check"], None)
    })?;
    step("clippy", || {
        cargo(
            &root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
            None,
        )
    })?;
    step("build", || {
        cargo(
            &root,
            &["build", "--workspace", "--all-targets", "--locked"],
            None,
        )
    })?;

    let emulators = (0..emulator_count())
        .map(|_| Emulator::start(&tools))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let endpoints: Vec<&str> = emulators.iter().map(Emulator::endpoint).collect();
    eprintln!("kopek: AWS emulators at {}", endpoints.join(", "));
    let endpoints = endpoints.join(",");
    let mut test_args = vec!["test", "--workspace", "--locked"];
    test_args.extend(passthrough.iter().map(String::as_str));
    // Every state-changing request of the suite is traced, then checked against the
    // OpenAPI document (`tests/tests/it/audit/walk.rs`) — after a whole run only.
    let trace = root.join("target").join("audit-trace.tsv");
    std::fs::create_dir_all(root.join("target"))?;
    std::fs::write(&trace, "")?;
    let tested = step("tests", || {
        cargo_with(&root, &test_args, Some(&endpoints), Some(&trace))
    });
    drop(emulators);
    tested?;
    if passthrough.is_empty() {
        step("audit walk", || {
            cargo_with(
                &root,
                // `--workspace` as the suite ran: the same features, so nothing is rebuilt.
                &[
                    "test",
                    "--workspace",
                    "--locked",
                    "--test",
                    "it",
                    "--",
                    "--ignored",
                    "--exact",
                    WALK_TEST,
                ],
                None,
                Some(&trace),
            )
        })?;
    }
    eprintln!("kopek: every check passed in {:.0?}", started.elapsed());
    Ok(())
}

/// How many emulators the tests spread over: one per core (moto serves one request at a
/// time, so with one the suite waits on it), or `KOPEK_TEST_EMULATORS`.
fn emulator_count() -> usize {
    std::env::var("KOPEK_TEST_EMULATORS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
}

fn step(name: &str, f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    let started = Instant::now();
    eprintln!("kopek: == {name}");
    f().with_context(|| format!("step `{name}` failed"))?;
    eprintln!("kopek: == {name} done in {:.1?}", started.elapsed());
    Ok(())
}

fn cargo(root: &Path, args: &[&str], endpoint: Option<&str>) -> anyhow::Result<()> {
    cargo_with(root, args, endpoint, None)
}

/// `cargo` with the audit trace file (`KOPEK_AUDIT_TRACE`) too, where given.
fn cargo_with(
    root: &Path,
    args: &[&str],
    endpoint: Option<&str>,
    trace: Option<&Path>,
) -> anyhow::Result<()> {
    let mut command = kopek_local::tools::cargo_command();
    command.args(args).current_dir(root);
    if let Some(trace) = trace {
        command.env(TRACE_VAR, trace);
    }
    if let Some(endpoint) = endpoint {
        command.env(ENDPOINT_VAR, endpoint);
        // Tests mostly wait on the emulators: two per core keep them busy (measured: 110 s
        // with one per core, 90 s with two).
        if std::env::var_os("RUST_TEST_THREADS").is_none() {
            command.env("RUST_TEST_THREADS", (2 * emulator_count()).to_string());
        }
    }
    let status = command
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
