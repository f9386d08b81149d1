//! `cargo xtask bench close`: the period close of N customers set up with a month of
//! subscriptions, work and usage ([`setup`]), drained by the library's close pollers, then a
//! payment per customer through the API.

mod setup;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::Method;
use kopek_aws::dynamo::{Store, capacity, keys};
use kopek_domain::catalog::UnitOfMeasure;
use kopek_domain::clock::SystemClock;
use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_events::close::poller::{Poller, Report};
use kopek_events::poll::Until;
use kopek_http::state::AppState;
use kopek_local::tools;
use kopek_services::close::Closer;
use serde_json::Value;

use super::procfs::{clock_ticks_per_sec, load_average, moto_pid};
use super::{
    Bottleneck, Mark, Sample, Sizes, Spent, add_sizes, bench_inn, bench_request, cores, measured,
    ms, percentiles, print_sizes, profile, registration, share, signed_in_admin,
};
use crate::stack::Stack;
use setup::{CloseDates, close_catalog, close_customer_setup, close_usage};

/// The services of the close measurement: a recurring fee, a one-off work (and its work
/// type), and two meters.
const CLOSE_LINK: &str = "BENCH-LINK";
const CLOSE_INSTALL: &str = "BENCH-INSTALL";
const CLOSE_WORK_TYPE: &str = "bench-close";
const CLOSE_METERS: [(&str, UnitOfMeasure); 2] = [
    ("BENCH-GB", UnitOfMeasure::Gigabyte),
    ("BENCH-SMS", UnitOfMeasure::Request),
];
/// Per customer: work orders (one order, one batch, all done) and usage events per meter.
const CLOSE_WORK_ORDERS: usize = 3;
const CLOSE_EVENTS_PER_METER: usize = 5;
/// Lines every customer's invoice has: the subscription's two segments (its quantity changes
/// on the 16th), one per work order, one per meter.
const CLOSE_LINES: usize = 2 + CLOSE_WORK_ORDERS + CLOSE_METERS.len();
/// Customers set up concurrently (the emulator serves one request at a time; this only keeps
/// it busy while this process builds the next request).
const CLOSE_SETUP_TASKS: usize = 4;
/// How long a received close message stays invisible: `CloseQueue`'s `VisibilityTimeout` in
/// the template (longer than a poller takes for 10 messages, even against the emulator).
const CLOSE_VISIBILITY_SECS: i32 = 360;

/// One of the close's pollers: the library's, as `kopek_events::close::poller::drain` runs it
/// (receive up to 10, handle each, delete what succeeded), but without long polling — the
/// emulator serves one request at a time, and a long poll would hold it for its whole wait,
/// stalling the other pollers — and until the queue holds nothing, visible or in flight
/// (while another poller holds the rest, planning say, it backs off up to half a second).
const CLOSE_POLLER: Poller = Poller {
    wait_secs: 0,
    visibility_secs: Some(CLOSE_VISIBILITY_SECS),
    until: Until::QueueEmpty {
        pause: Duration::from_millis(25),
        max_pause: Duration::from_millis(500),
    },
};

/// Drains `CloseQueue` with [`CLOSE_POLLER`], with a progress line every 50 customers.
async fn close_poller(closer: Closer) -> anyhow::Result<Report> {
    let mut shown = 0;
    let report = CLOSE_POLLER
        .drain_with(&closer, |report| {
            if report.number_messages / 50 > shown {
                shown = report.number_messages / 50;
                eprintln!(
                    "kopek:   {} invoices numbered by this poller",
                    report.number_messages
                );
            }
        })
        .await?;
    Ok(report)
}

/// `SendMessageBatch` requests the close made, from its messages: one for the first `plan`,
/// one per ten customers of each planning page (pages of `ORGS_PER_PAGE`), one per `plan`
/// message handed on, one per composed invoice queued for numbering. Derived from the
/// close's send pattern (the SDK client is not instrumented), not counted.
fn close_sends(customers: usize, plan_messages: u64, numbered: u64) -> u64 {
    let per_page = kopek_services::close::ORGS_PER_PAGE;
    let full = customers / per_page;
    let rest = customers % per_page;
    (1 + full * per_page.div_ceil(10) + rest.div_ceil(10)) as u64
        + plan_messages.saturating_sub(1)
        + numbered
}

pub(super) async fn run(
    root: &Path,
    tools: &tools::Tools,
    customers: usize,
    pollers: usize,
    series: usize,
) -> anyhow::Result<()> {
    use kopek_domain::close::PeriodStatus;
    use kopek_domain::invoicing::DocumentKind;
    use kopek_services::close::Trigger;

    let load_before = load_average();
    let stack = Stack::start(root, tools, "bench").await?;
    let state = stack.state.clone();
    let store = stack.store.clone();
    let now = chrono::Utc::now();
    let calendar = state.calendar();
    let period = calendar.period_of(now).previous();
    let history = crate::demo::history_clock(now, calendar);
    let dates = CloseDates {
        opened: calendar.start_of(period.first_day()) + chrono::TimeDelta::hours(8),
        history: kopek_domain::clock::Clock::now(&history),
        calendar,
    };
    let catalog_at = calendar.period_start(period.previous());

    // Setup: the catalog, the customers (registered, subscribed, their work done), usage.
    eprintln!(
        "kopek: setting up {customers} customers with their month of {period} (subscription, {CLOSE_WORK_ORDERS} work orders, {} usage events) …",
        CLOSE_METERS.len() * CLOSE_EVENTS_PER_METER
    );
    let setup_started = Instant::now();
    let setup_before = store.capacity();
    let catalog = std::sync::Arc::new(close_catalog(&store, catalog_at).await?);
    let registration = registration(
        "ООО «Абонент»".into(),
        bench_inn(6_100),
        "billing@close.example.ru".into(),
        "owner@close.example.ru".into(),
        "Every-month-closes-on-the-first-26",
    )?;
    let template = std::sync::Arc::new(
        tokio::task::spawn_blocking(move || registration.open(dates.opened)).await?,
    );
    let mut tasks = Vec::new();
    for t in 0..CLOSE_SETUP_TASKS {
        let (store, template, catalog) = (store.clone(), template.clone(), catalog.clone());
        tasks.push(tokio::spawn(async move {
            let mut orgs = Vec::new();
            for i in (t..customers).step_by(CLOSE_SETUP_TASKS) {
                orgs.push(close_customer_setup(&store, &template, &catalog, dates, i).await?);
                if i % 200 == 0 {
                    eprintln!("kopek:   customer {i} of {customers} set up");
                }
            }
            anyhow::Ok(orgs)
        }));
    }
    let mut orgs = Vec::with_capacity(customers);
    for task in tasks {
        orgs.extend(task.await??);
    }
    let events = close_usage(&stack.usage_poller.ingestor, &orgs, &catalog.meters, dates).await?;
    let setup_after = store.capacity();
    eprintln!(
        "kopek: set up in {:.1} s ({} DynamoDB requests, {events} usage events); closing {period} with {pollers} poller(s) …",
        setup_started.elapsed().as_secs_f64(),
        setup_after.requests - setup_before.requests
    );

    // Invoices numbered in `series` series, as an admin sets it.
    let series_count = kopek_domain::invoicing::SeriesCount::new(
        u8::try_from(series).context("--series: 1 to 99")?,
    )?;
    let router = kopek_api::local_app(state.clone());
    let token = signed_in_admin(
        &state,
        &router,
        "bench-settings@kopek.test",
        "Every-series-numbered-without-a-gap-7",
    )
    .await?;
    let request = bench_request(Method::GET, "/v1/billing/settings", Some(&token), None)?;
    let (_, mut settings) = measured(&state, &router, request, 200).await?;
    if let Some(fields) = settings.as_object_mut() {
        for read_only in ["time_zone", "period_months"] {
            fields.remove(read_only);
        }
        fields.insert("series_count".into(), series_count.get().into());
    }
    let request = bench_request(
        Method::PUT,
        "/v1/billing/settings",
        Some(&token),
        Some(&settings),
    )?;
    measured(&state, &router, request, 200).await?;

    // The close: started as an admin would, drained by the pollers, through a store whose
    // client counts the key of every item each write touches (`hot`).
    // Locally the usage is ingested before the close starts: nothing is in flight.
    let hot = super::hot::HotKeys::default();
    let closer = state
        .services
        .clone()
        .with_store(store.intercepted(hot.clone()))
        .with_clock(std::sync::Arc::new(SystemClock))
        .with_settings(|s| s.close_seal_wait = Duration::ZERO)
        .closer();
    let moto = moto_pid(stack.emulator.endpoint());
    let started_at = chrono::Utc::now();
    let before = Mark::now(&store, moto.as_deref());
    let started = closer.start(period, Trigger::Admin("bench".into())).await?;
    if !started.started {
        bail!("the close of {period} had already started");
    }
    let tasks: Vec<_> = (0..pollers)
        .map(|_| tokio::spawn(close_poller(closer.clone())))
        .collect();
    let mut polled = Report::default();
    for task in tasks {
        polled += task.await??;
    }
    let after = Mark::now(&store, moto.as_deref());
    let load_after = load_average();

    // What the close came to (read after the measurement).
    let closed = store
        .period(period)
        .await?
        .context("the period close vanished")?;
    if closed.status != PeriodStatus::Closed || closed.done != customers as u64 {
        bail!(
            "the close did not finish: {} with {} done, {} skipped, {} failed of {} planned",
            closed.status.as_str(),
            closed.done,
            closed.skipped,
            closed.failed,
            closed.planned
        );
    }
    let closed_at = closed.closed_at.context("a closed period has its time")?;
    let close_wall = (closed_at - started_at)
        .to_std()
        .context("the close ended before it started")?
        .as_secs_f64();
    let drain_wall = (after.at - before.at).as_secs_f64();
    let mut numbers: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    let mut start = None;
    loop {
        let page = store.list_invoices_of_period(period, 100, start).await?;
        for stored in page.items {
            let invoice = stored.invoice;
            if invoice.draft.lines.len() != CLOSE_LINES {
                bail!(
                    "invoice {} has {} lines, not {CLOSE_LINES}",
                    invoice.number,
                    invoice.draft.lines.len()
                );
            }
            if invoice.number.kind != DocumentKind::Invoice {
                bail!("{} is not an invoice number", invoice.number);
            }
            numbers
                .entry(invoice.number.series.as_str().to_owned())
                .or_default()
                .push(invoice.number.seq);
        }
        start = page.next;
        if start.is_none() {
            break;
        }
    }
    let mut invoices = 0;
    for (name, seqs) in &mut numbers {
        seqs.sort_unstable();
        invoices += seqs.len();
        if !seqs.iter().copied().eq(1..=seqs.len() as u64) {
            bail!(
                "invoice check: failed: series {name} is not numbered 1..={}",
                seqs.len()
            );
        }
    }
    if invoices != customers || numbers.len() > series {
        bail!(
            "invoice check: failed: {invoices} invoices in {} series, for {customers} customers in {series}",
            numbers.len()
        );
    }

    // Figures.
    let spent = before.until(&after, clock_ticks_per_sec() as f64);
    let n = customers as f64;
    let requests = after.usage.requests - before.usage.requests;
    let reads = (after.usage.read_milli_units - before.usage.read_milli_units) as f64 / 1000.0;
    let writes = (after.usage.write_milli_units - before.usage.write_milli_units) as f64 / 1000.0;
    let computed = after.usage.computed_requests - before.usage.computed_requests;
    let sends = close_sends(customers, polled.plan_messages, polled.number_messages);
    let sqs = polled.sqs_requests + sends;
    let Spent {
        moto: moto_cpu,
        bench: bench_cpu,
        machine,
        ..
    } = spent;
    let share = |cpu: Option<f64>| share(cpu, drain_wall);
    let per = |cpu: Option<f64>, count: f64| {
        cpu.map_or("n/a".to_owned(), |c| format!("{:.1}", c * 1000.0 / count))
    };

    println!(
        "| customers | pollers | wall time, start → period closed (s) | customers/s | DynamoDB requests | per customer | read units per customer | write units per customer | SQS requests | moto CPU ÷ wall | this process's CPU ÷ wall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {customers} | {pollers} | {close_wall:.1} | {:.1} | {requests} | {:.1} | {:.2} | {:.2} | {sqs} | {} | {} |",
        n / close_wall,
        requests as f64 / n,
        reads / n,
        writes / n,
        share(moto_cpu),
        share(bench_cpu),
    );
    println!();
    println!(
        "{} build. {customers} customers of {period}, each with a subscription whose \
         quantity changed on the 16th, {CLOSE_WORK_ORDERS} completed work orders and {} usage \
         events ({} meters); every invoice checked: {CLOSE_LINES} lines, numbered without a gap \
         in each of its series (`invoice check: ok`). Messages handled: {} `plan`, {} `customer`, {} \
         `number` (in blocks), {} failed and redelivered. The pollers returned {:.1} s after the start (the last empty \
         receive and queue-depth read included). Units: {:.1} read and {:.1} write in all; \
         {computed} of the {requests} requests had their units computed by the store (moto \
         reports none); base table only, without index writes. SQS requests: {} by the \
         pollers (receives, deletes, queue-depth reads, counted) + {sends} `SendMessageBatch` \
         by the close (derived from its messages). Load average before: {load_before}; after: \
         {load_after} (2 cores, shared).",
        profile(),
        CLOSE_METERS.len() * CLOSE_EVENTS_PER_METER,
        CLOSE_METERS.len(),
        polled.plan_messages,
        polled.customer_messages,
        polled.number_messages,
        polled.failed,
        drain_wall,
        reads,
        writes,
        polled.sqs_requests,
    );
    let predicted_per_customer = 10 + CLOSE_METERS.len() * 9;
    println!();
    println!(
        "Requests the code predicts per customer: {predicted_per_customer} (job 1, catalog 2, \
         settings 1, organisation 1, previous period 1, charges 1, meters used 1, usage \
         {} × 9 (8 shards and the late index), subscriptions 1, the customer's credit 1), plus \
         per block of up to ten invoices of a series the sequence 1, the issuing transaction 1 \
         and the tally of each shard it touched 1, per planning page of {} customers a listing \
         and a transaction, and for each shard whose tally reaches 0 the period and every tally \
         (2, the last one's close 1 more); measured: {:.2}.",
        CLOSE_METERS.len(),
        kopek_services::close::ORGS_PER_PAGE,
        requests as f64 / n,
    );
    let cores = cores();
    let finding = match spent.bottleneck() {
        Bottleneck::Emulator => {
            "**the emulator was the bottleneck**: moto serves one request at a time, so one core \
             is its ceiling, and it was busy for nearly all of the close"
        }
        Bottleneck::Machine => {
            "**the machine's cores were saturated** (moto, this process and other work together): \
             the figures are a floor"
        }
        Bottleneck::ThisProcess => {
            "**this process was the busier one**: the client side (a debug build's SDK work, \
             composing) bounded the rate more than the emulator"
        }
        Bottleneck::Neither => {
            "**neither process was saturated**: the rate was bounded by requests waiting on one \
             another (each customer's reads and its transaction in sequence)"
        }
        Bottleneck::Unknown => "no verdict: moto's CPU time could not be read",
    };
    println!();
    println!(
        "Bottleneck: {finding}. moto: {} of the wall time on a CPU, {} ms per DynamoDB or SQS \
         request; this process: {} of one core, {} ms per request, {} ms per customer \
         ({:.0} requests to the emulator per second). The whole machine: {} of its {cores} \
         cores busy.",
        share(moto_cpu),
        per(moto_cpu, (requests + sqs) as f64),
        share(bench_cpu),
        per(bench_cpu, (requests + sqs) as f64),
        per(bench_cpu, n),
        (requests + sqs) as f64 / drain_wall,
        machine.map_or("n/a".to_owned(), |m| format!(
            "{:.0} %",
            m / drain_wall / cores * 100.0
        )),
    );

    print_hottest(&hot.counts(), customers);

    let sizes = close_item_sizes(stack.emulator.endpoint(), store.table(), period, &orgs).await?;
    println!();
    println!(
        "| item written per customer (first {} customers) | items | size by DynamoDB's rules (bytes, min–max) | write units each in DynamoDB (a transaction's twice) |",
        orgs.len().min(CLOSE_SIZE_SAMPLE)
    );
    print_sizes(&sizes);
    println!();
    println!(
        "invoice check: ok ({customers} invoices in {} series, each numbered from 1 without a gap, {CLOSE_LINES} lines each)",
        numbers.len()
    );
    pay_after_close(&state, &store, &orgs, period).await
}

/// Rows of the hottest-items tables.
const HOTTEST_ROWS: usize = 12;

/// The items and partitions the close wrote most, with their writes per 1,000 customers.
fn print_hottest(counts: &super::hot::Counts, customers: usize) {
    for (what, table) in [
        ("item (`PK / SK`)", &counts.items),
        ("partition (`PK`, or an index's)", &counts.partitions),
    ] {
        println!();
        println!(
            "| hottest {what}, ids by kind | such keys written | writes of the hottest one | per 1,000 customers | writes of all of them |"
        );
        println!("|---|---|---|---|---|");
        for hot in super::hot::hottest(table, HOTTEST_ROWS, customers) {
            println!(
                "| `{}` | {} | {} | {:.0} | {} |",
                hot.kind, hot.keys, hot.max, hot.max_per_1000, hot.total
            );
        }
    }
    println!();
    println!(
        "{} write requests seen by the interceptor; an item or partition is counted once per \
         request (or transaction action) that writes it, refused conditions and cancelled \
         transactions included (DynamoDB charges the partition for them); index partitions \
         for items put whole only.",
        counts.requests
    );
}

/// After the close, each customer pays its invoice and 100.00 more, recorded one by one
/// through the API (`POST /v1/billing/payments`) as an accountant enters a bank statement:
/// each settles one invoice and leaves 100.00 of credit. Prints the requests, units and time
/// per payment, and checks every answer.
async fn pay_after_close(
    state: &AppState,
    store: &Store,
    orgs: &[OrgId],
    period: kopek_domain::period::BillingPeriod,
) -> anyhow::Result<()> {
    let router = kopek_api::local_app(state.clone());
    let (email, password) = (
        "bench-payments@kopek.test",
        "Every-kopek-counted-twice-never-9",
    );
    let token = signed_in_admin(state, &router, email, password).await?;
    let today = state.today().to_string();
    let mut samples = Vec::with_capacity(orgs.len());
    for (i, org) in orgs.iter().enumerate() {
        let invoice = store
            .invoice_of(*org, period)
            .await?
            .with_context(|| format!("{org} has no invoice of {period}"))?
            .invoice;
        let mut amount = invoice.open_amount().amount() + rust_decimal::Decimal::new(10_000, 2);
        amount.rescale(2);
        let body = serde_json::json!({"org_id": org.to_string(), "amount": amount.to_string(),
            "currency": "RUB", "received_on": today, "reference": format!("bench-{i}")});
        let request = bench_request(
            Method::POST,
            "/v1/billing/payments",
            Some(&token),
            Some(&body),
        )?;
        let (sample, answer) = measured(state, &router, request, 201).await?;
        if answer
            .pointer("/settled/0/invoice_id")
            .and_then(Value::as_str)
            != Some(invoice.id.to_string().as_str())
            || answer.pointer("/to_credit").and_then(Value::as_str) != Some("100.00")
        {
            bail!("payment check: failed for {org}: {answer}");
        }
        samples.push(sample);
    }
    let n = samples.len().max(1) as f64;
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    let (median, p95) = percentiles(&mut walls);
    let sum = |f: fn(&Sample) -> u64| samples.iter().map(f).sum::<u64>() as f64;
    println!();
    println!(
        "| payments recorded | requests per payment | read units per payment | write units per payment | wall time per payment, median / p95 (ms) |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {} | {:.2} | {:.2} | {:.2} | {} / {} |",
        samples.len(),
        sum(|s| s.requests) / n,
        sum(|s| s.read_milli_units) / n / 1000.0,
        sum(|s| s.write_milli_units) / n / 1000.0,
        ms(median),
        ms(p95),
    );
    println!(
        "payment check: ok ({} payments, each settled its customer's invoice and left 100.00 of credit)",
        samples.len()
    );
    Ok(())
}

/// Customers whose items are sized after the close.
const CLOSE_SIZE_SAMPLE: usize = 5;

/// The sizes of what the close wrote for the first customers — the invoice, its ledger
/// entry and event, the seal, the job — read back with the SDK (outside the store, so its
/// counters are untouched).
async fn close_item_sizes(
    endpoint: &str,
    table: &str,
    period: BillingPeriod,
    orgs: &[OrgId],
) -> anyhow::Result<Sizes> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let client = aws_sdk_dynamodb::Client::new(&kopek_local::sdk_config(endpoint).await);
    let mut sizes = Sizes::new();
    for org in orgs.iter().take(CLOSE_SIZE_SAMPLE) {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("ORG#{org}")))
            .send()
            .await
            .context("cannot query a customer's partition")?;
        add_sizes(&mut sizes, page.items(), |_, sk| {
            if sk.starts_with("INVOICE#") {
                Some("invoice (`ORG#…` / `INVOICE#{period}`, also in GSI1 and GSI2)")
            } else if sk.starts_with("LEDGER#") {
                Some("ledger entry (`ORG#…` / `LEDGER#…`)")
            } else if sk.starts_with("HISTORY#inv_") {
                Some("`invoice_issued` event (`ORG#…` / `HISTORY#inv_…`, also in GSI1 `OUTBOX`)")
            } else if sk == "BILLING" {
                Some("seal (`ORG#…` / `BILLING`), updated by planning")
            } else {
                None
            }
        });
        let shard = keys::period_shard(period, kopek_domain::close::job_shard(*org));
        let job = item_size(&client, table, &shard, &keys::job(org)).await?;
        if let Some(size) = job {
            sizes
                .entry("job (`PERIOD#…#J{nn}` / `JOB#…`), put by planning, updated when issued")
                .or_default()
                .push(size);
        }
        if let Some(size) = item_size(&client, table, &shard, keys::TALLY_SK).await? {
            sizes
                .entry("its shard's tally (`PERIOD#…#J{nn}` / `TALLY`), updated by planning pages and each job's end")
                .or_default()
                .push(size);
        }
    }
    if let Some(size) = item_size(&client, table, &keys::period(period), keys::PERIOD_SK).await? {
        sizes
            .entry(
                "the period (`PERIOD#…` / `PERIOD`), updated by every planning page and its close",
            )
            .or_default()
            .push(size);
    }
    Ok(sizes)
}

/// The size of the item `pk` / `sk`, where there is one.
async fn item_size(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> anyhow::Result<Option<usize>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let found = client
        .get_item()
        .table_name(table)
        .key("PK", AttributeValue::S(pk.to_owned()))
        .key("SK", AttributeValue::S(sk.to_owned()))
        .send()
        .await
        .with_context(|| format!("cannot read {pk} / {sk}"))?;
    Ok(found.item().map(capacity::item_size))
}
