//! `cargo xtask bench portal [--runs N]`: what the portal's pages cost on the demo's data.
//!
//! The demo is loaded as `cargo xtask up` loads it (a closed month with signed documents, a
//! bank statement, usage); then each demo person signs in through the portal's form and every
//! page of theirs is requested N times through the real router on one thread: the process's
//! CPU time per page (the handlers, the templates and the SDK's side of each request — the
//! emulator is another process, so its time never counts), the wall time with the emulator's
//! round trips, the DynamoDB requests per page (the store's counters), and the page's size
//! as sent and gzipped. Then the static files' sizes, plain and gzipped.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use kopek_http::layers::ClientAddr;
use kopek_local::tools;
use tower::ServiceExt;

use super::procfs::process_cpu_ns;
use super::{ms, percentiles};
use crate::stack::Stack;

/// A browser's cookie jar, just enough for the portal.
struct Jar {
    cookies: Vec<(String, String)>,
}

impl Jar {
    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, headers: &axum::http::HeaderMap) {
        for set in headers.get_all(header::SET_COOKIE) {
            let Ok(text) = set.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != name);
                if !text.contains("Max-Age=0") {
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }
}

/// One answer: status, headers, body, wall and CPU time.
struct Answer {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
    wall: Duration,
    cpu: Option<Duration>,
}

async fn send(
    router: &Router,
    jar: &mut Jar,
    method: &str,
    path: &str,
    form: Option<String>,
    gzip: bool,
) -> anyhow::Result<Answer> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, jar.header())
        .header(header::ACCEPT_LANGUAGE, "ru-RU,ru;q=0.9");
    if gzip {
        builder = builder.header(header::ACCEPT_ENCODING, "gzip");
    }
    let mut request = match form {
        Some(form) => builder
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))?,
        None => builder.body(Body::empty())?,
    };
    request
        .extensions_mut()
        .insert(ClientAddr(std::net::Ipv4Addr::LOCALHOST.into()));
    let cpu_before = process_cpu_ns();
    let started = Instant::now();
    let response = router.clone().oneshot(request).await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    let wall = started.elapsed();
    let cpu = process_cpu_ns()
        .zip(cpu_before)
        .map(|(a, b)| Duration::from_nanos(a.saturating_sub(b)));
    jar.keep(&headers);
    Ok(Answer {
        status,
        headers,
        body,
        wall,
        cpu,
    })
}

fn form_token(page: &[u8]) -> anyhow::Result<String> {
    let text = String::from_utf8_lossy(page);
    let marker = "name=\"_csrf\" value=\"";
    let at = text.find(marker).context("a form with a CSRF token")? + marker.len();
    Ok(text[at..at + text[at..].find('"').unwrap_or(0)].to_owned())
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn signed_in(router: &Router, email: &str, password: &str) -> anyhow::Result<Jar> {
    let mut jar = Jar {
        cookies: Vec::new(),
    };
    let form = send(router, &mut jar, "GET", "/portal/sign-in", None, false).await?;
    let token = form_token(&form.body)?;
    let body = format!(
        "_csrf={}&email={}&password={}",
        urlencode(&token),
        urlencode(email),
        urlencode(password)
    );
    let done = send(
        router,
        &mut jar,
        "POST",
        "/portal/sign-in",
        Some(body),
        false,
    )
    .await?;
    if done.status != 303 {
        bail!("{email} could not sign in: {}", done.status);
    }
    Ok(jar)
}

fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().map(|v| v.len()).unwrap_or(0)
}

pub(super) async fn run(root: &Path, tools: &tools::Tools, runs: usize) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let router = kopek_api::local_app(stack.state.clone());
    let dir = std::env::temp_dir().join(format!("kopek-bench-portal-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (demo, _) = crate::up::load_demo(&stack, &router, &dir).await?;
    let _ = std::fs::remove_dir_all(&dir);
    let period = demo
        .closed
        .as_ref()
        .map(|c| c.period.clone())
        .context("the demo closed a period")?;
    let login = |role: &str| {
        demo.logins
            .iter()
            .find(|l| l.role == role)
            .with_context(|| format!("a demo {role}"))
    };
    let customer = login("customer")?;
    let org = demo
        .organisations
        .iter()
        .find(|(_, name)| Some(name) == customer.organisation.as_ref())
        .or(demo.organisations.first())
        .map(|(id, _)| id.clone())
        .context("a demo organisation")?;
    let pages: Vec<(&str, Vec<String>)> = vec![
        (
            "customer",
            vec![
                "/portal".into(),
                "/portal/invoices".into(),
                "/portal/orders".into(),
                "/portal/subscriptions".into(),
                "/portal/usage".into(),
                format!("/portal/documents?period={period}"),
                "/portal/payments".into(),
                "/portal/statement".into(),
                "/portal/account".into(),
                "/portal/catalog".into(),
            ],
        ),
        ("engineer", vec!["/portal/work".into()]),
        (
            "manager",
            vec![
                "/portal/periods".into(),
                format!("/portal/periods/{period}"),
                "/portal/customers".into(),
                format!("/portal/customers/{org}"),
                "/portal/admin/catalog".into(),
            ],
        ),
        ("accountant", vec!["/portal/bank".into()]),
    ];
    println!(
        "Demo data: {} organisations, period {period} closed and signed; {runs} runs a page, one thread.",
        demo.organisations.len()
    );
    println!();
    println!(
        "| who | page | CPU p50 (ms) | CPU p95 (ms) | wall p50 (ms) | DynamoDB requests | HTML (bytes) | gzipped (bytes) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (role, paths) in &pages {
        let person = login(role)?;
        let mut jar = signed_in(&router, &person.email, &person.password).await?;
        for path in paths {
            let (mut cpu, mut wall) = (Vec::new(), Vec::new());
            let mut requests = 0;
            let mut size = (0, 0);
            for _ in 0..runs {
                let before = stack.state.services.capacity();
                let answer = send(&router, &mut jar, "GET", path, None, true).await?;
                let after = stack.state.services.capacity();
                if answer.status != 200 {
                    bail!("{role} {path} answered {}", answer.status);
                }
                if answer.headers.get(header::CONTENT_ENCODING).is_none() {
                    bail!("{path} was not gzipped");
                }
                requests = after.requests - before.requests;
                wall.push(answer.wall);
                cpu.extend(answer.cpu);
                size.1 = answer.body.len();
            }
            let plain = send(&router, &mut jar, "GET", path, None, false).await?;
            size.0 = plain.body.len();
            let (cpu50, cpu95) = percentiles(&mut cpu);
            let (wall50, _) = percentiles(&mut wall);
            println!(
                "| {role} | `{path}` | {} | {} | {} | {requests} | {} | {} |",
                ms(cpu50),
                ms(cpu95),
                ms(wall50),
                size.0,
                size.1
            );
        }
    }
    println!();
    println!("| static file | bytes | gzipped (bytes) |");
    println!("|---|---|---|");
    let mut jar = Jar {
        cookies: Vec::new(),
    };
    for file in ["style-2.css", "htmx-2.0.11.min.js", "favicon.svg"] {
        let path = format!("/portal/static/{file}");
        let plain = send(&router, &mut jar, "GET", &path, None, false).await?;
        println!(
            "| `{file}` | {} | {} |",
            plain.body.len(),
            gzip_len(&plain.body)
        );
    }
    Ok(())
}
