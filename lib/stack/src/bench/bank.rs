//! `cargo xtask bench bank [--events N] [--customers K]` (default 10,000 lines, 100
//! customers): what importing a bank statement costs. K customers register through the API
//! (their INNs known); a 1CClientBankExchange file of N payments is built — 95 % from those
//! customers by INN (every tenth naming an invoice number that does not exist, so it goes to
//! review), 5 % from unknown payers — uploaded through the API and matched through the real
//! `BankQueue` by the `bank-import` code (`kopek_events::bank::drain`). Printed: the upload's
//! time and requests, then per line the DynamoDB requests, read and write units (the store's
//! counters) and SQS requests (the chunks), the wall time, and moto's CPU beside this
//! process's; then the same file again (every line a duplicate).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use kopek_http::layers::ClientAddr;
use kopek_local::tools;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::procfs::{cpu_ticks_of, moto_pid, process_cpu_ticks};
use super::{bench_inn, profile, setup_call, signed_in_admin, string_at};
use crate::demo::{OWN_ACCOUNT, StatementDoc, statement_file};
use crate::stack::Stack;

pub(super) async fn run(
    root: &Path,
    tools: &tools::Tools,
    lines: usize,
    customers: usize,
) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let state = stack.state.clone();
    let router = kopek_api::local_app(state.clone());
    let admin = signed_in_admin(&state, &router, "admin@bench.test", "bench-password-1").await?;
    let put = super::bench_request(
        Method::PUT,
        "/v1/billing/requisites",
        Some(&admin),
        Some(&json!({"requisites": crate::demo::provider_requisites()})),
    )?;
    super::measured(&state, &router, put, 200).await?;
    eprintln!("kopek: registering {customers} customers …");
    let mut payers = Vec::new();
    for i in 0..customers {
        let inn = bench_inn(i as u64 + 900);
        let body = json!({
            "organisation": {"legal_name": format!("ООО «Плательщик {i}»"), "tax_id": inn,
                "billing_email": format!("billing{i}@bank.bench"), "billing_address": "101000, Москва, ул. Мясницкая, 1",
                "currency": "RUB", "language": "ru"},
            "user": {"name": "Мария Иванова", "email": format!("owner{i}@bank.bench"), "password": "bench-password-1"}
        });
        setup_call(&state, &router, "/v1/auth/register", None, &body, 201).await?;
        payers.push(inn);
    }
    let today = state.today();
    let docs: Vec<StatementDoc> = (0..lines)
        .map(|i| {
            let known = i % 20 != 19;
            let inn = if known {
                payers[i % payers.len()].clone()
            } else {
                format!("77{:010}", 3_000_000_000u64 + i as u64)
            };
            StatementDoc {
                number: format!("{}", 10_000 + i),
                amount: Decimal::new(10_000 + (i as i64 % 900) * 100, 2),
                payer: format!("ООО «Плательщик {}»", i % payers.len()),
                payer_inn: inn,
                payer_kpp: "770101001".into(),
                payer_account: format!("40702810{:012}", i % payers.len()),
                payee: "ООО «Копек Сервис»".into(),
                payee_inn: "7708123450".into(),
                payee_account: OWN_ACCOUNT.into(),
                purpose: if i % 10 == 3 {
                    format!(
                        "Оплата по счёту № KPK-2026-{:06}, НДС не облагается",
                        900_000 + i
                    )
                } else {
                    "Оплата за услуги связи по договору, НДС не облагается".into()
                },
            }
        })
        .collect();
    let file = statement_file(today, Decimal::new(100_000_000, 2), &docs);
    let bytes = file.len();
    let queue = state
        .services
        .bank_queue()
        .context("the template gives no function the bank queue")?
        .clone();
    let bank = state.services.bank();
    let moto = moto_pid(stack.emulator.endpoint());

    let mut table = Vec::new();
    for pass in ["first import", "the same file again"] {
        let before = state.services.capacity();
        let moto_before = moto.as_deref().and_then(cpu_ticks_of);
        let ours_before = process_cpu_ticks();
        let started = Instant::now();
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/v1/billing/statements?file_name=bench.txt")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/octet-stream")
            .body(Body::from(file.clone()))?;
        request
            .extensions_mut()
            .insert(ClientAddr(std::net::Ipv4Addr::LOCALHOST.into()));
        let response = router.clone().oneshot(request).await?;
        anyhow::ensure!(
            response.status().as_u16() == 202,
            "the upload answered {}",
            response.status()
        );
        let uploaded: Value =
            serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
        let upload_took = started.elapsed();
        let after_upload = state.services.capacity();
        let drained = kopek_events::bank::drain(&bank, &queue, 1, Some(3)).await?;
        anyhow::ensure!(drained.failed == 0, "a chunk failed");
        let took = started.elapsed();
        let after = state.services.capacity();
        let moto_ticks = moto
            .as_deref()
            .and_then(cpu_ticks_of)
            .zip(moto_before)
            .map(|(a, b)| a - b);
        let ours = process_cpu_ticks().zip(ours_before).map(|(a, b)| a - b);
        let id = string_at(&uploaded, "/id")?;
        let report = setup_get(
            &state,
            &router,
            &format!("/v1/billing/statements/{id}"),
            &admin,
        )
        .await?;
        let per = |x: u64| x as f64 / lines as f64;
        table.push(format!(
            "| {pass} | {:.0} ms, {} requests | {} chunks | {:.2} | {:.2} | {:.2} | {:.1} ms | {} / {} CPU ticks | {} |",
            upload_took.as_secs_f64() * 1000.0,
            after_upload.requests - before.requests,
            drained.handled,
            per(after.requests - after_upload.requests),
            per(after.read_milli_units - after_upload.read_milli_units) / 1000.0,
            per(after.write_milli_units - after_upload.write_milli_units) / 1000.0,
            took.as_secs_f64() * 1000.0 / lines as f64,
            ours.map_or("-".into(), |t| t.to_string()),
            moto_ticks.map_or("-".into(), |t| t.to_string()),
            report["outcomes"],
        ));
    }
    println!(
        "A {lines}-line statement ({bytes} bytes, 1CClientBankExchange, windows-1251) from {customers} customers, {} build:",
        profile()
    );
    println!();
    println!(
        "| pass | upload (store, S3, queue) | chunks | DynamoDB requests / line | RCU / line | WCU / line | wall / line | our / moto CPU | outcomes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in table {
        println!("{row}");
    }
    Ok(())
}

async fn setup_get(
    state: &kopek_http::state::AppState,
    router: &axum::Router,
    path: &str,
    token: &str,
) -> anyhow::Result<Value> {
    let request = super::bench_request(Method::GET, path, Some(token), None)?;
    Ok(super::measured(state, router, request, 200).await?.1)
}
