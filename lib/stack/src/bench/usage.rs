//! `cargo xtask bench usage`: what ingesting usage costs, one batch directly and then end to
//! end through `UsageQueue`, drained by the library's pollers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::SubsecRound;
use kopek_aws::dynamo::Store;
use kopek_aws::queue::Sent;
use kopek_domain::calendar::Calendar;
use kopek_domain::catalog::{LocalizedText, Service, ServiceCode, ServiceKind, UnitOfMeasure};
use kopek_domain::clock::SystemClock;
use kopek_domain::ids::OrgId;
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::{Price, PriceModel};
use kopek_domain::usage::{RawQuantity, RawUsageEvent};
use kopek_events::poll::Until;
use kopek_events::usage::poller::{Drained, Poller};
use kopek_local::tools;
use kopek_services::usage::ingest::Message;
use rust_decimal::Decimal;

use super::procfs::{clock_ticks_per_sec, load_average, moto_pid};
use super::{
    Bottleneck, Mark, Sizes, Spent, add_sizes, bench_inn, cores, ms, print_sizes, profile,
    registration, rouble_service, share,
};
use crate::stack::Stack;

/// The metered services the usage measurements report, and their units.
const USAGE_METERS: [(&str, UnitOfMeasure); 3] = [
    ("BENCH-TRAFFIC", UnitOfMeasure::Gigabyte),
    ("BENCH-SMS", UnitOfMeasure::Request),
    ("BENCH-CPU", UnitOfMeasure::Hour),
];
/// Customers of each phase (the cost phase and the end-to-end phase have their own).
const USAGE_CUSTOMERS: usize = 4;
/// Events per message, and messages per batch as Lambda's SQS mapping delivers them
/// (`BatchSize: 10` in the template).
const EVENTS_PER_MESSAGE: usize = 100;
pub(super) const MESSAGES_PER_BATCH: usize = 10;

/// What was sent, summed as the store sums it: by customer, meter and period, the total
/// quantity and the number of events.
type Expected = BTreeMap<(OrgId, ServiceCode, BillingPeriod), (Decimal, u64)>;

/// The metered services, straight into the store (the catalog API is measured elsewhere).
async fn usage_meters(store: &Store) -> anyhow::Result<Vec<ServiceCode>> {
    let now = chrono::Utc::now();
    let mut codes = Vec::new();
    for (code, unit) in USAGE_METERS {
        let price = Price::new(
            Currency::RUB,
            PriceModel::PerUnit {
                unit_price: Decimal::new(150, 2),
            },
            None,
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = LocalizedText::new("Измеряемая услуга", "Metered service")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let command = rouble_service(code, name, ServiceKind::Metered, unit, None, price)?;
        let (service, first) = Service::create(command, now).map_err(|e| anyhow::anyhow!("{e}"))?;
        store.create_service(&service, &first).await?;
        codes.push(service.code().clone());
    }
    Ok(codes)
}

/// `USAGE_CUSTOMERS` organisations registered straight into the store; `tag` keeps their
/// e-mail addresses apart, `seed` their tax ids.
async fn usage_customers(store: &Store, tag: &str, seed: u64) -> anyhow::Result<Vec<OrgId>> {
    let mut orgs = Vec::with_capacity(USAGE_CUSTOMERS);
    for i in 0..USAGE_CUSTOMERS {
        let registration = registration(
            format!("ООО «Узел связи {tag}-{i}»"),
            bench_inn(seed + i as u64),
            format!("billing-{tag}-{i}@usage.example.ru"),
            format!("owner-{tag}-{i}@usage.example.ru"),
            "Routers-count-every-gigabyte-26",
        )?;
        // Argon2id: tens of milliseconds of CPU, kept off the runtime's threads.
        let account =
            tokio::task::spawn_blocking(move || registration.open(chrono::Utc::now())).await?;
        crate::bench::store_registration(store, &account).await?;
        orgs.push(account.organisation.id);
    }
    Ok(orgs)
}

/// `n` events as producers send them (one JSON text each), spread over `customers` and the
/// meters, timestamped over the last day, with what they add up to. Quantities are decimals
/// built from integers: whole counts for whole units, thousandths otherwise.
fn usage_events(
    customers: &[OrgId],
    meters: &[ServiceCode],
    tag: &str,
    n: usize,
    calendar: Calendar,
) -> anyhow::Result<(Vec<String>, Expected)> {
    let now = chrono::Utc::now().trunc_subsecs(0);
    let mut texts = Vec::with_capacity(n);
    let mut expected = Expected::new();
    for i in 0..n {
        let org = customers[i % customers.len()];
        let m = (i / customers.len()) % meters.len();
        let quantity = if USAGE_METERS[m].1.is_whole() {
            Decimal::from(i % 7 + 1)
        } else {
            Decimal::new((i % 5_000) as i64 + 1, 3)
        };
        let timestamp = now - chrono::TimeDelta::seconds((i % 86_400) as i64);
        let event = RawUsageEvent {
            id: format!("{tag}-{i:07}"),
            customer: org.to_string(),
            meter: meters[m].to_string(),
            quantity: RawQuantity::exact(quantity),
            timestamp: timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            properties: [("region".to_owned(), "msk-1".to_owned())].into(),
        };
        texts.push(serde_json::to_string(&event)?);
        let sum = expected
            .entry((org, meters[m].clone(), calendar.period_of(timestamp)))
            .or_default();
        sum.0 += quantity;
        sum.1 += 1;
    }
    Ok((texts, expected))
}

/// The events as SQS messages of `EVENTS_PER_MESSAGE` events each (JSON arrays, packed as
/// `Queue::send_events` packs them).
pub(super) fn usage_messages(texts: &[String]) -> anyhow::Result<Vec<Message>> {
    texts
        .chunks(EVENTS_PER_MESSAGE)
        .enumerate()
        .map(|(i, chunk)| {
            let mut bodies = kopek_aws::queue::pack(chunk)?;
            anyhow::ensure!(
                bodies.len() == 1,
                "{EVENTS_PER_MESSAGE} events do not fit one message"
            );
            Ok(Message {
                id: format!("bench-{i}"),
                body: bodies.remove(0),
            })
        })
        .collect()
}

/// Checks every customer's stored usage against what was sent; returns the events and the
/// quantity checked.
async fn check_totals(store: &Store, expected: &Expected) -> anyhow::Result<(u64, Decimal)> {
    let (mut events, mut quantity) = (0, Decimal::ZERO);
    for ((org, meter, period), (total, count)) in expected {
        let stored = store.usage_of(*org, meter, *period).await?;
        if stored.total != *total || stored.events != *count {
            bail!(
                "totals check: failed: {org} {meter} {period}: stored {} in {} events, sent {total} in {count}",
                stored.total,
                stored.events
            );
        }
        events += count;
        quantity += total;
    }
    Ok((events, quantity))
}

/// Polls until the queue holds nothing, visible or in flight, pausing 50 ms after an empty
/// receive while another poller holds the rest (no long polling: the emulator serves one
/// request at a time, and a long poll would hold it for its whole wait).
async fn drain_queue(mut poller: Poller) -> anyhow::Result<Drained> {
    poller.wait_secs = 0;
    let pause = Duration::from_millis(50);
    let until = Until::QueueEmpty {
        pause,
        max_pause: pause,
    };
    Ok(poller.drain_until(&SystemClock, until).await?)
}

/// The sizes of the items ingestion writes (events, meter markers, health counters), read
/// back with a plain `Scan` (outside the store, so its counters are untouched).
async fn usage_item_sizes(endpoint: &str, table: &str) -> anyhow::Result<Sizes> {
    let client = aws_sdk_dynamodb::Client::new(&kopek_local::sdk_config(endpoint).await);
    let mut sizes = Sizes::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("cannot scan the table")?;
        add_sizes(&mut sizes, page.items(), |pk, sk| {
            if pk.starts_with("USAGE#") {
                Some("usage event (`USAGE#…` / `E#…`)")
            } else if sk.starts_with("USAGEMETER#") {
                Some("meter marker (`ORG#…` / `USAGEMETER#…`)")
            } else if pk.starts_with("USAGEHEALTH#") {
                Some("health counters (`USAGEHEALTH#…` / `METER#…`)")
            } else {
                None
            }
        });
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(sizes);
        }
    }
}

pub(super) async fn run(
    root: &Path,
    tools: &tools::Tools,
    events: usize,
    pollers: usize,
) -> anyhow::Result<()> {
    let load_before = load_average();
    let stack = Stack::start(root, tools, "bench").await?;
    let state = stack.state.clone();
    let store = &stack.store;
    let ingestor = stack.usage_poller.ingestor.clone();
    let meters = usage_meters(store).await?;

    // (a) One SQS-shaped batch of 1,000 fresh events, then the same batch again.
    eprintln!("kopek: ingesting 1,000 events twice …");
    let batch_events = EVENTS_PER_MESSAGE * MESSAGES_PER_BATCH;
    let customers = usage_customers(store, "cost", 5_100).await?;
    let (texts, expected) =
        usage_events(&customers, &meters, "cost", batch_events, state.calendar())?;
    let messages = usage_messages(&texts)?;
    println!(
        "| batch of {batch_events} events ({MESSAGES_PER_BATCH} messages × {EVENTS_PER_MESSAGE}) | counted | duplicates | DynamoDB requests | read units | write units | requests whose units the store computed | wall time (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut requests = Vec::new();
    for label in ["fresh", "the same again (all duplicates)"] {
        let before = Mark::now(store, None);
        let report = ingestor.ingest(&messages, chrono::Utc::now()).await;
        let after = Mark::now(store, None);
        if !report.failed.is_empty() || report.rejected > 0 {
            bail!("the batch was not ingested cleanly: {report:?}");
        }
        let units = |milli: u64| format!("{:.1}", milli as f64 / 1000.0);
        let spent = after.usage.requests - before.usage.requests;
        requests.push(spent);
        println!(
            "| {label} | {} | {} | {spent} | {} | {} | {} | {} |",
            report.counted,
            report.duplicates,
            units(after.usage.read_milli_units - before.usage.read_milli_units),
            units(after.usage.write_milli_units - before.usage.write_milli_units),
            after.usage.computed_requests - before.usage.computed_requests,
            ms(after.at - before.at),
        );
    }
    let (checked, _) = check_totals(store, &expected).await?;
    if checked != batch_events as u64 {
        bail!("totals check: failed: {checked} events stored, {batch_events} sent");
    }
    let groups = expected.len();
    let lookups = 2 * USAGE_CUSTOMERS + meters.len();
    let predicted = batch_events + groups + meters.len() + lookups;
    println!();
    println!(
        "Requests the write budget predicts per batch: {batch_events} conditional `PutItem`s + \
         {groups} meter markers (one per customer × meter × period) + {} health-counter \
         updates (one per meter) + {lookups} lookups (organisation and closed period per \
         customer, service per meter) = {predicted}; measured: {}. The 1,000 events' totals \
         (`Store::usage_of`) match what was sent once, the duplicates counted nothing.",
        meters.len(),
        requests
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
    );
    let sizes = usage_item_sizes(stack.emulator.endpoint(), store.table()).await?;
    println!();
    println!(
        "| item written | items | size by DynamoDB's rules (bytes, min–max) | write units each in DynamoDB |"
    );
    print_sizes(&sizes);

    // (b) End to end through the queue.
    let queue = stack.usage_poller.queue.clone();
    let customers = usage_customers(store, "e2e", 5_200).await?;
    let (texts, expected) = usage_events(&customers, &meters, "e2e", events, state.calendar())?;
    let moto = moto_pid(stack.emulator.endpoint());
    eprintln!(
        "kopek: sending {events} events through the queue, then draining it with {pollers} poller(s) (moto: pid {}) …",
        moto.as_deref().unwrap_or("not found")
    );
    let start = Mark::now(store, moto.as_deref());
    let mut sent = Sent::default();
    for chunk in texts.chunks(EVENTS_PER_MESSAGE) {
        let one = queue.send_events(chunk).await?;
        sent.messages += one.messages;
        sent.requests += one.requests;
    }
    let enqueued = Mark::now(store, moto.as_deref());
    let tasks: Vec<_> = (0..pollers)
        .map(|_| tokio::spawn(drain_queue(stack.usage_poller.clone())))
        .collect();
    let mut drained = Drained::default();
    for task in tasks {
        drained += task.await??;
    }
    let done = Mark::now(store, moto.as_deref());
    let load_after = load_average();

    let tick_rate = clock_ticks_per_sec() as f64;
    let secs = |cpu: Option<f64>| cpu.map_or("n/a".to_owned(), |c| format!("{c:.1}"));
    println!();
    println!(
        "| phase | events | SQS messages | wall time (s) | events/s | DynamoDB requests | SQS requests | moto CPU (s) | moto CPU ÷ wall | this process's CPU (s) | its CPU ÷ wall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let phases = [
        (
            "enqueue: `Queue::send_events`, 100 events per message".to_owned(),
            start,
            enqueued,
            sent.messages as u64,
            sent.requests as u64,
        ),
        (
            format!(
                "drain: {pollers} concurrent poller(s), `Poller::poll_once`, ≤ 10 messages per batch"
            ),
            enqueued,
            done,
            drained.messages,
            drained.sqs_requests,
        ),
        (
            "end to end (enqueue, then drain)".to_owned(),
            start,
            done,
            sent.messages as u64,
            sent.requests as u64 + drained.sqs_requests,
        ),
    ];
    let mut verdict = None;
    for (i, (name, from, to, messages, sqs)) in phases.iter().enumerate() {
        let spent = from.until(to, tick_rate);
        let wall = spent.wall;
        let dynamo = to.usage.requests - from.usage.requests;
        println!(
            "| {name} | {events} | {messages} | {wall:.1} | {:.0} | {dynamo} | {sqs} | {} | {} | {} | {} |",
            events as f64 / wall,
            secs(spent.moto),
            share(spent.moto, wall),
            secs(spent.bench),
            share(spent.bench, wall),
        );
        if i == 1 {
            verdict = Some((spent, (dynamo + sqs) as f64));
        }
    }
    println!();
    println!(
        "{} build; {pollers} poller(s), each ingesting what one receive gives ({MESSAGES_PER_BATCH} \
         messages of {EVENTS_PER_MESSAGE} events at most), {} conditional puts in flight per \
         batch; no long polling. Drained: {} counted, {} duplicates, {} rejected, {} messages \
         failed and redelivered. CPU times are utime + stime from `/proc/<pid>/stat` (ticks of \
         1/{tick_rate} s): moto's process (pid {}) and this one, every thread. Load average \
         before: {load_before}; after: {load_after} (2 cores, shared).",
        profile(),
        kopek_services::usage::ingest::CONCURRENCY,
        drained.batch.counted,
        drained.batch.duplicates,
        drained.batch.rejected,
        drained.batch.failed.len(),
        moto.as_deref().unwrap_or("not found"),
    );
    if let Some((spent, requests)) = verdict {
        let Spent {
            wall,
            moto: moto_cpu,
            bench: bench_cpu,
            machine,
        } = spent;
        let cores = cores();
        let per_request = |cpu: Option<f64>| {
            cpu.map_or("n/a".to_owned(), |c| {
                format!("{:.2}", c * 1000.0 / requests)
            })
        };
        let machine_share = machine.map(|c| c / wall / cores);
        let finding = match spent.bottleneck() {
            Bottleneck::Emulator => {
                "**the emulator was the bottleneck**: moto serves one request at a time (one \
                 lock, and Python's interpreter lock), so one core is its ceiling, and it was \
                 busy for nearly all of the drain"
            }
            Bottleneck::Machine => {
                "**the machine's cores were saturated**: moto, this process and other work on \
                 the shared machine together kept every core busy, so neither process got a \
                 core of its own; the figures are a floor, not the emulator's ceiling"
            }
            Bottleneck::ThisProcess => {
                "**this process was the busier one**: the client side (the SDK's signing and \
                 (de)serialisation, judging) bounded the rate more than the emulator did"
            }
            Bottleneck::Neither => {
                "**neither process was saturated**: the rate was bounded by requests waiting on \
                 one another (round trips, the sequential per-batch steps) or by the other \
                 work on this shared machine"
            }
            Bottleneck::Unknown => "no verdict: moto's CPU time could not be read",
        };
        println!();
        println!(
            "Bottleneck (drain): {finding}. moto: {} of the wall time on a CPU, {} ms per \
             request; this process: {} of one core, {} ms per request ({} requests to the \
             emulator in {wall:.1} s, {:.0} per second). The whole machine: {} of its {cores} \
             cores busy ({} of one core by other processes).",
            share(moto_cpu, wall),
            per_request(moto_cpu),
            share(bench_cpu, wall),
            per_request(bench_cpu),
            requests,
            requests / wall,
            machine_share.map_or("n/a".to_owned(), |m| format!("{:.0} %", m * 100.0)),
            share(
                machine
                    .zip(moto_cpu)
                    .zip(bench_cpu)
                    .map(|((all, m), b)| (all - m - b).max(0.0)),
                wall
            ),
        );
    }

    let (checked, quantity) = check_totals(store, &expected).await?;
    if checked != events as u64 {
        bail!("totals check: failed: {checked} events stored, {events} sent");
    }
    println!();
    println!(
        "totals check: ok ({} customer × meter × period sums from `Store::usage_of`, {checked} events, Σ quantity {quantity}, equal to what was sent)",
        expected.len()
    );
    Ok(())
}
