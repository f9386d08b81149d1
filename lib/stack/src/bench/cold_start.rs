//! `cargo xtask bench cold-start`: each function binary's time from process start to its
//! first request for an event, and its peak resident memory by then.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kopek_local::tools;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::procfs::peak_rss_kib;
use super::{ms, percentiles};
use crate::stack::Stack;

pub(super) async fn run(root: &Path, tools: &tools::Tools, runs: usize) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    eprintln!("kopek: building the release binaries …");
    // Every function the template defines, so the table cannot miss a new one.
    let mut build = kopek_local::tools::cargo_command();
    build.args([
        "build",
        "--release",
        "--locked",
        "-p",
        "kopek-stack",
        "--bin",
        "hello-lambda",
    ]);
    // `KOPEK_BENCH_FUNCTIONS=documents,outbox-relay` measures only those (and the floor).
    let only: Option<Vec<String>> = std::env::var("KOPEK_BENCH_FUNCTIONS")
        .ok()
        .map(|list| list.split(',').map(|f| f.trim().to_owned()).collect());
    let wanted = |binary: &str| only.as_ref().is_none_or(|o| o.iter().any(|f| f == binary));
    for binary in stack.function_env.keys().filter(|b| wanted(b)) {
        build.args(["-p", binary, "--bin", binary]);
    }
    if !build.current_dir(root).status()?.success() {
        bail!("the release build failed");
    }
    let release = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("release");
    let mut binaries: Vec<(String, PathBuf, BTreeMap<String, String>)> = vec![(
        "hello-lambda".into(),
        release.join("hello-lambda"),
        BTreeMap::new(),
    )];
    let local_env = |env: &BTreeMap<String, String>| {
        let mut env = env.clone();
        env.insert("AWS_ENDPOINT_URL".into(), stack.emulator.endpoint().into());
        env.insert("AWS_ACCESS_KEY_ID".into(), "kopek-local".into());
        env.insert("AWS_SECRET_ACCESS_KEY".into(), "kopek-local".into());
        env
    };
    for (binary, env) in stack.function_env.iter().filter(|(b, _)| wanted(b)) {
        binaries.push((binary.clone(), release.join(binary), local_env(env)));
    }
    // `KOPEK_BENCH_EXTRA=accounts-api@/tmp/accounts-api-before,…` measures binaries built
    // elsewhere (another commit, another build) with that function's environment.
    for extra in std::env::var("KOPEK_BENCH_EXTRA")
        .unwrap_or_default()
        .split(',')
    {
        let Some((function, path)) = extra.split_once('@') else {
            continue;
        };
        let env = stack
            .function_env
            .get(function.trim())
            .with_context(|| format!("no function `{function}` in the template"))?;
        let path = PathBuf::from(path.trim());
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        binaries.push((label, path, local_env(env)));
    }

    println!(
        "| binary | size (bytes) | runs | median to first `next` (ms) | p95 (ms) | peak RSS by then (KiB) |"
    );
    println!("|---|---|---|---|---|---|");
    for (binary, exe, env) in binaries {
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
