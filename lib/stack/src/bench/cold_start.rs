//! `cargo xtask bench cold-start`: each function binary's time from process start to its
//! first request for an event (and its median's ratio to the bare binary's, the binaries
//! started in turns), the time to its first response, and its peak resident memory.

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
    // The functions behind the HTTP API: their first request is measured too.
    let template = kopek_local::template::Template::load_project(root)?;
    let http_ids: std::collections::BTreeSet<String> =
        kopek_local::provision::http_routes(&template)
            .into_iter()
            .map(|(id, _, _)| id)
            .collect();
    let http: std::collections::BTreeSet<String> = kopek_local::provision::functions(&template)
        .into_iter()
        .filter(|(id, _)| http_ids.contains(id))
        .map(|(_, binary)| binary)
        .collect();
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

    // Each round starts every binary once, in turn, so that a change in the machine's pace
    // (other work, the CPU's clock) falls on every binary alike and the ratios to the floor
    // hold; the floor is the first of each round.
    struct Measured {
        inits: Vec<Duration>,
        firsts: Vec<Duration>,
        peak_rss: u64,
    }
    let mut measured: Vec<Measured> = binaries
        .iter()
        .map(|_| Measured {
            inits: Vec::with_capacity(runs),
            firsts: Vec::with_capacity(runs),
            peak_rss: 0,
        })
        .collect();
    for _ in 0..runs {
        for ((binary, exe, env), m) in binaries.iter().zip(measured.iter_mut()) {
            let request = http.contains(binary) || binary.starts_with("hello");
            let started = one_cold_start(exe, env, request).await?;
            m.inits.push(started.init);
            m.firsts.extend(started.first_response);
            m.peak_rss = m.peak_rss.max(started.rss_kib);
        }
    }
    println!(
        "| binary | size (bytes) | zip (bytes) | runs | median to first `next` (ms) | p95 (ms) | × the floor's median | median to the first response (ms) | p95 (ms) | peak RSS by then (KiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut floor = None;
    for ((binary, exe, _), mut m) in binaries.into_iter().zip(measured) {
        let bytes = std::fs::read(&exe).with_context(|| format!("{} is missing", exe.display()))?;
        // The deployment package: the binary as `bootstrap`, deflated.
        let zipped = kopek_aws::archive::zip_in_memory(&[("bootstrap".to_owned(), bytes.clone())])?;
        let (median, p95) = percentiles(&mut m.inits);
        let floor = *floor.get_or_insert(median);
        let (first_median, first_p95) = if m.firsts.is_empty() {
            (String::new(), String::new())
        } else {
            let (median, p95) = percentiles(&mut m.firsts);
            (ms(median), ms(p95))
        };
        println!(
            "| `{binary}` | {} | {} | {runs} | {} | {} | {:.2} | {first_median} | {first_p95} | {} |",
            bytes.len(),
            zipped.len(),
            ms(median),
            ms(p95),
            median.as_secs_f64() / floor.as_secs_f64(),
            m.peak_rss
        );
    }
    Ok(())
}

/// One cold start: the time to the first `next`, the time to the first response (when a
/// request was given), and the peak resident set by then.
struct ColdStart {
    init: Duration,
    first_response: Option<Duration>,
    rss_kib: u64,
}

/// The first invocation an HTTP function gets: `GET /v1/me` through API Gateway (payload v2)
/// with a bearer token that does not verify — routed, authenticated with the token key, and
/// answered 401, the path every signed-in request takes before its handler.
const FIRST_REQUEST: &str = r#"{"version":"2.0","routeKey":"$default","rawPath":"/v1/me","rawQueryString":"","headers":{"host":"bench.local","authorization":"Bearer e30.e30.c2ln","accept":"application/json"},"requestContext":{"accountId":"000000000000","apiId":"bench","domainName":"bench.local","domainPrefix":"bench","http":{"method":"GET","path":"/v1/me","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"bench"},"requestId":"bench-1","routeKey":"$default","stage":"$default","time":"07/Dec/2026:10:00:00 +0000","timeEpoch":1796637600000},"isBase64Encoded":false}"#;

/// Starts `exe` against a runtime API of our own; returns the time until its first `next`
/// request and its peak resident set size (KiB) at that moment — and, with `request`, answers
/// that `next` with [`FIRST_REQUEST`] and times the function's response too.
async fn one_cold_start(
    exe: &Path,
    env: &BTreeMap<String, String>,
    request: bool,
) -> anyhow::Result<ColdStart> {
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
                return anyhow::Ok((started.elapsed(), socket));
            }
            socket
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                .await?;
        }
    };
    let (init, mut socket) = tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .with_context(|| format!("{} never asked for an event", exe.display()))??;
    let rss_kib = child.id().map(peak_rss_kib).unwrap_or(0);
    let mut first_response = None;
    if request {
        let invocation = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
             lambda-runtime-aws-request-id: bench-1\r\n\
             lambda-runtime-deadline-ms: {}\r\n\
             lambda-runtime-invoked-function-arn: arn:aws:lambda:eu-central-1:000000000000:function:bench\r\n\
             lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n{FIRST_REQUEST}",
            chrono::Utc::now().timestamp_millis() + 30_000,
            FIRST_REQUEST.len()
        );
        socket.write_all(invocation.as_bytes()).await?;
        socket.shutdown().await.ok();
        let answered = async {
            loop {
                let (mut socket, _) = listener.accept().await?;
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await?;
                let head = String::from_utf8_lossy(&buf[..n]);
                if head.starts_with("POST /2018-06-01/runtime/invocation/bench-1/") {
                    let elapsed = started.elapsed();
                    anyhow::ensure!(
                        head.starts_with("POST /2018-06-01/runtime/invocation/bench-1/response"),
                        "{} failed its first request: {head}",
                        exe.display()
                    );
                    return anyhow::Ok(elapsed);
                }
                socket
                    .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                    .await?;
            }
        };
        first_response = Some(
            tokio::time::timeout(Duration::from_secs(30), answered)
                .await
                .with_context(|| format!("{} never answered", exe.display()))??,
        );
    } else {
        socket.shutdown().await.ok();
    }
    child.kill().await.ok();
    Ok(ColdStart {
        init,
        first_response,
        rss_kib,
    })
}
