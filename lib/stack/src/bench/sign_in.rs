//! `cargo xtask bench sign-in`: sign-in through the router next to Argon2id alone.

use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use kopek_http::layers::ClientAddr;
use kopek_local::tools;
use tower::ServiceExt;

use super::{bootstrap_admin, ms, percentiles};
use crate::stack::Stack;

pub(super) async fn run(root: &Path, tools: &tools::Tools, runs: usize) -> anyhow::Result<()> {
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
