//! `cargo xtask bench documents [--customers N]` (default 100): a closed period's documents
//! made and signed as in AWS, against the emulator.
//!
//! N customers register and subscribe on the 10th of last month (through the API), the
//! provider's requisites are set, last month is closed (`Closer`, its queue drained). Then,
//! measured: the outbox relayed (`Outbox::relay`), every document job made
//! (`kopek_events::documents::drain`, an invoice for payment, an act and the UPD's XML and
//! printable PDF per invoice), and a
//! manager's signing of all of them (`Documents::start_signing`, its steps drained), the
//! packages sent (one per customer) and the period's archive built (`build_archive`, read
//! for how much it buffered). The
//! typesetter is the real Typst renderer wrapped in a stopwatch, so the render time of each
//! document is known apart from the emulator's; the store counts DynamoDB requests and units;
//! S3 and KMS requests follow from the code's pattern (documented beside each figure) and
//! the counts are checked against what was filed and signed. Peak resident memory of this
//! process is read from `/proc`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::Method;
use kopek_domain::documents::{InvoiceSheet, SheetKind, Typesetter};
use kopek_local::tools;
use kopek_render::Renderer;
use kopek_services::close::Trigger;
use serde_json::json;

use super::procfs::peak_rss_kib;
use super::{bench_inn, bench_request, measured, ms, percentiles, profile, signed_in_admin};
use crate::stack::Stack;

/// The Typst renderer, timing every document it typesets, by kind.
struct Stopwatch {
    renderer: Renderer,
    samples: Mutex<Vec<(SheetKind, Duration, usize)>>,
}

impl Typesetter for Stopwatch {
    fn sheet(&self, sheet: &InvoiceSheet) -> Result<Vec<u8>, String> {
        let started = Instant::now();
        let pdf = self.renderer.sheet(sheet).map_err(|e| e.to_string())?;
        let took = started.elapsed();
        if let Ok(mut samples) = self.samples.lock() {
            samples.push((sheet.kind, took, pdf.len()));
        }
        Ok(pdf)
    }

    fn sheet_with(
        &self,
        template: &str,
        sheet: &InvoiceSheet,
    ) -> Result<Vec<u8>, kopek_domain::documents::template::TemplateError> {
        self.renderer.sheet_with(template, sheet)
    }

    fn report(
        &self,
        report: &kopek_domain::documents::reconciliation::ReportSheet,
    ) -> Result<Vec<u8>, String> {
        self.renderer.report(report).map_err(|e| e.to_string())
    }
}

pub(super) async fn run(root: &Path, tools: &tools::Tools, customers: usize) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let stopwatch = Arc::new(Stopwatch {
        renderer: Renderer::new(),
        samples: Mutex::new(Vec::new()),
    });
    let mut state = stack.state.clone();
    state.services = state.services.clone().with_typesetter(stopwatch.clone());
    let router = kopek_api::local_app(state.clone());
    let admin = signed_in_admin(&state, &router, "admin@bench.test", "bench-password-1").await?;
    let put = bench_request(
        Method::PUT,
        "/v1/billing/requisites",
        Some(&admin),
        Some(&json!({"requisites": crate::demo::provider_requisites()})),
    )?;
    measured(&state, &router, put, 200).await?;

    // Last month: a catalog, N customers subscribed on its 10th.
    let now = chrono::Utc::now();
    let calendar = state.calendar();
    let period = calendar.period_of(now).previous();
    let mut history = state.clone();
    history.services = history
        .services
        .clone()
        .with_clock(Arc::new(crate::demo::history_clock(now, calendar)));
    let history_router = kopek_api::local_app(history.clone());
    let service = json!({
        "code": "BENCH-DOC", "name": {"ru": "Виртуальный сервер", "en": "Virtual server"},
        "unit": "month", "kind": "recurring", "tax_rate": "20", "currency": "RUB",
        "price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "990.00"}}
    });
    let create = bench_request(
        Method::POST,
        "/v1/catalog/services",
        Some(&admin),
        Some(&service),
    )?;
    measured(&history, &history_router, create, 201).await?;
    eprintln!("kopek: registering {customers} customers and their subscriptions …");
    for i in 0..customers {
        let body = json!({
            "organisation": {"legal_name": format!("ООО «Документ {i}»"), "tax_id": bench_inn(i as u64 + 500),
                "billing_email": format!("billing{i}@docs.bench"), "billing_address": "101000, Москва, ул. Мясницкая, 1",
                "currency": "RUB", "language": if i % 2 == 0 { "ru" } else { "en" }},
            "user": {"name": "Мария Иванова", "email": format!("owner{i}@docs.bench"), "password": "bench-password-1"}
        });
        let register = bench_request(Method::POST, "/v1/auth/register", None, Some(&body))?;
        let (_, registered) = measured(&history, &history_router, register, 201).await?;
        let token = super::string_at(&registered, "/session/access_token")?;
        let subscribe = bench_request(
            Method::POST,
            "/v1/subscriptions",
            Some(&token),
            Some(&json!({"service": "BENCH-DOC", "quantity": "2"})),
        )?;
        measured(&history, &history_router, subscribe, 201).await?;
    }
    eprintln!("kopek: closing {period} …");
    let closer = state
        .services
        .clone()
        .with_settings(|s| s.close_seal_wait = Duration::ZERO)
        .closer();
    closer.start(period, Trigger::Admin("bench".into())).await?;
    kopek_events::close::poller::drain(&closer, 1).await?;

    // Measured: relay, make, sign.
    // An invoice for payment, an act, and (the provider pays VAT) the UPD's XML and print.
    let docs = 4 * customers;
    let services = &state.services;
    let queue = services
        .documents_queue()
        .context("the stack has no documents queue")?
        .clone();
    let documents = services.documents();
    let before = services.capacity();
    let started = Instant::now();
    let relayed = services.outbox().relay(1000).await?;
    let relay_time = started.elapsed();
    let after_relay = services.capacity();
    let started = Instant::now();
    let made = kopek_events::documents::drain(&documents, &queue, 60, Some(1)).await?;
    let make_time = started.elapsed();
    let after_make = services.capacity();
    if made.filed != docs || made.failed != 0 {
        bail!("made {made:?}, expected {docs} documents");
    }
    // The admin signs (managers and admins may): one request, then the steps.
    let started = Instant::now();
    let start = bench_request(
        Method::POST,
        &format!("/v1/periods/{period}/signings"),
        Some(&admin),
        Some(&json!({})),
    )?;
    let (_, signing) = measured(&state, &router, start, 202).await?;
    let signed = kopek_events::documents::drain(&documents, &queue, 60, Some(1)).await?;
    let sign_time = started.elapsed();
    let after_sign = services.capacity();
    let id = super::string_at(&signing, "/id")?;
    let read = bench_request(
        Method::GET,
        &format!("/v1/signings/{id}"),
        Some(&admin),
        None,
    )?;
    let (_, done) = measured(&state, &router, read, 200).await?;
    if done["signed"] != json!(docs) || signed.failed != 0 {
        bail!("signed {} of {docs}", done["signed"]);
    }
    let steps = signed.handled;
    // Packages (one per customer, e-mailed) and the archive of them all.
    let started = Instant::now();
    let send = bench_request(
        Method::POST,
        &format!("/v1/periods/{period}/packages"),
        Some(&admin),
        Some(&json!({})),
    )?;
    measured(&state, &router, send, 202).await?;
    let packaged = kopek_events::documents::drain(&documents, &queue, 60, Some(1)).await?;
    let package_time = started.elapsed();
    let after_packages = services.capacity();
    if packaged.failed != 0 {
        bail!("a package step failed");
    }
    let peak_before_archive = peak_rss_kib(std::process::id());
    let started = Instant::now();
    let ask = bench_request(
        Method::POST,
        &format!("/v1/periods/{period}/archives"),
        Some(&admin),
        Some(&json!({})),
    )?;
    let (_, archive) = measured(&state, &router, ask, 202).await?;
    let archive_id: kopek_domain::ids::ArchiveId = super::string_at(&archive, "/id")?
        .parse()
        .map_err(super::err)?;
    // Built here directly (what the job does) to read how much it buffered.
    let built = documents.build_archive(archive_id).await?;
    let archive_time = started.elapsed();
    let streamed = built.streamed.context("the archive was built")?;
    let peak = peak_rss_kib(std::process::id());

    let per_doc = |d: Duration| ms(d / docs as u32);
    let samples = stopwatch
        .samples
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    println!(
        "Documents of {customers} customers ({docs} documents), {} build:",
        profile()
    );
    println!();
    println!(
        "| phase | wall | per document | DynamoDB requests / document | write units / document | S3 requests / document | KMS requests / document |"
    );
    println!("|---|---|---|---|---|---|---|");
    let requests = |a: &kopek_services::CapacitySnapshot, b: &kopek_services::CapacitySnapshot| {
        format!("{:.2}", (b.requests - a.requests) as f64 / docs as f64)
    };
    let writes = |a: &kopek_services::CapacitySnapshot, b: &kopek_services::CapacitySnapshot| {
        format!(
            "{:.2}",
            (b.write_milli_units - a.write_milli_units) as f64 / 1000.0 / docs as f64
        )
    };
    println!(
        "| relay ({} events, {} jobs) | {} ms | {} ms | {} | {} | 0 | 0 |",
        relayed.events,
        relayed.document_jobs,
        ms(relay_time),
        per_doc(relay_time),
        requests(&before, &after_relay),
        writes(&before, &after_relay)
    );
    println!(
        "| make (render or write the XML + file) | {} ms | {} ms | {} | {} | 2 (HEAD, PUT) | 0 |",
        ms(make_time),
        per_doc(make_time),
        requests(&after_relay, &after_make),
        writes(&after_relay, &after_make)
    );
    println!(
        "| sign (all, one action; {} steps) | {} ms | {} ms | {} | {} | 3 (GET, HEAD, PUT) | 1 Sign (+ GetPublicKey and Sign once for the certificate) |",
        steps,
        ms(sign_time),
        per_doc(sign_time),
        requests(&after_make, &after_sign),
        writes(&after_make, &after_sign)
    );
    println!(
        "| send packages ({customers}, ZIP + manifest signature + e-mail each) | {} ms | {} ms per customer | {:.2} per customer | {:.2} per customer | 2 GET per document, HEAD + PUT of the ZIP | 1 Sign per customer |",
        ms(package_time),
        ms(package_time / customers as u32),
        (after_packages.requests - after_sign.requests) as f64 / customers as f64,
        (after_packages.write_milli_units - after_sign.write_milli_units) as f64
            / 1000.0
            / customers as f64,
    );
    println!(
        "| archive ({} packages, {} register rows; {} parts) | {} ms | | | | 1 GET per package, multipart upload | 0 |",
        customers,
        docs,
        streamed.parts,
        ms(archive_time)
    );
    println!();
    println!(
        "Archive: {} bytes, SHA-256 {}; the most it held at once: {} KiB (the part being filled and the last entry written). Peak resident memory before building it: {} MiB, after: {} MiB.",
        streamed.size,
        &streamed.sha256[..16],
        streamed.peak_buffer / 1024,
        peak_before_archive / 1024,
        peak / 1024
    );
    println!();
    println!("| kind | renders | p50 | p95 | PDF size |");
    println!("|---|---|---|---|---|");
    for kind in [SheetKind::Invoice, SheetKind::Act, SheetKind::Upd] {
        let mut times: Vec<Duration> = samples
            .iter()
            .filter(|s| s.0 == kind)
            .map(|s| s.1)
            .collect();
        let sizes: Vec<usize> = samples
            .iter()
            .filter(|s| s.0 == kind)
            .map(|s| s.2)
            .collect();
        if times.is_empty() {
            continue;
        }
        let (p50, p95) = percentiles(&mut times);
        println!(
            "| {kind:?} | {} | {} ms | {} ms | {}–{} KB |",
            times.len(),
            ms(p50),
            ms(p95),
            sizes.iter().min().copied().unwrap_or(0) / 1024,
            sizes.iter().max().copied().unwrap_or(0) / 1024
        );
    }
    println!();
    println!(
        "Peak resident memory of this process (the stack, the renderer, {docs} documents made and signed): {} MiB",
        peak / 1024
    );
    Ok(())
}
