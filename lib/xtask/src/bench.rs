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
//!
//! Figures are printed as a Markdown table, ready for BENCHMARKS.md. Nothing here asserts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use kopek_http::layers::ClientAddr;
use kopek_local::tools;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::stack::Stack;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let (what, rest) = args
        .split_first()
        .context("which benchmark? `cold-start` or `sign-in`")?;
    let mut runs = 20usize;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--runs" => {
                runs = rest
                    .next()
                    .context("--runs needs a number")?
                    .parse()
                    .context("--runs needs a number")?;
            }
            other => bail!("unknown argument `{other}`"),
        }
    }
    let root = tools::project_root();
    let tools = tools::ensure(&root)?;
    let runtime = tokio::runtime::Runtime::new()?;
    match what.as_str() {
        "cold-start" => runtime.block_on(cold_start(&root, &tools, runs)),
        "sign-in" => runtime.block_on(sign_in(&root, &tools, runs)),
        other => bail!("unknown benchmark `{other}`: `cold-start` or `sign-in`"),
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
