//! Usage events per second through the pure steps of ingestion, in batches of 1,000: reading
//! an event's JSON text (`serde_json` into a `RawUsageEvent`, then `usage::parse`), judging it
//! against the catalog, the customer and the clock (`usage::judge`), and summing a batch by
//! customer, meter and period (`usage::aggregate`) — each alone and all three in a row.
//!
//! Run with `cargo bench -p kopek-domain --bench usage`; figures go into BENCHMARKS.md.
//! Throughput is in events (`Throughput::Elements`). Quantities are decimal strings built from
//! integers: no binary floating point anywhere near usage totals.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kopek_domain::catalog::{
    LocalizedText, NewService, Service, ServiceCode, ServiceKind, TaxRate, UnitOfMeasure,
};
use kopek_domain::ids::OrgId;
use kopek_domain::money::Currency;
use kopek_domain::pricing::{Price, PriceModel};
use kopek_domain::usage::{
    self, CustomerRef, DEFAULT_GRACE_DAYS, Judgement, MeteredEvent, ParsedEvent, RawUsageEvent,
};
use rust_decimal::Decimal;

/// Events per measured batch.
const BATCH: usize = 1_000;
/// Customers and meters the batch spreads over.
const CUSTOMERS: usize = 4;
const METERS: [(&str, UnitOfMeasure); 3] = [
    ("TRAFFIC", UnitOfMeasure::Gigabyte),
    ("SMS", UnitOfMeasure::Request),
    ("CPU-HOURS", UnitOfMeasure::Hour),
];

/// The moment the batch is received: 28 November 2026, noon UTC.
fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .expect("a valid moment")
}

fn metered_service(code: &str, unit: UnitOfMeasure) -> Service {
    let price = Price::new(
        Currency::RUB,
        PriceModel::PerUnit {
            unit_price: Decimal::new(250, 2),
        },
        None,
        None,
    )
    .expect("a valid price");
    let command = NewService {
        code: code.parse().expect("a valid code"),
        name: LocalizedText::new("Счётчик", "Meter").expect("a valid name"),
        description: None,
        unit,
        kind: ServiceKind::Metered,
        work_type: None,
        cancellation: Default::default(),
        tax_rate: TaxRate::from_percent(Decimal::from(20)).expect("a valid rate"),
        tax_exemption: None,
        currency: Currency::RUB,
        price,
    };
    Service::create(command, received_at() - TimeDelta::days(90))
        .expect("a valid service")
        .0
}

/// What the ingestor looks up once per batch, here in memory.
struct Catalog {
    orgs: HashMap<CustomerRef, OrgId>,
    services: HashMap<ServiceCode, Service>,
}

impl Catalog {
    fn new() -> Self {
        let orgs = (0..CUSTOMERS)
            .map(|i| {
                let customer = CustomerRef::parse(&format!("crm:{}", 4400 + i));
                (customer.expect("a valid reference"), OrgId::new())
            })
            .collect();
        let services = METERS
            .iter()
            .map(|&(code, unit)| {
                let service = metered_service(code, unit);
                (service.code().clone(), service)
            })
            .collect();
        Catalog { orgs, services }
    }

    fn judge(&self, event: &ParsedEvent) -> MeteredEvent {
        let judgement = Judgement {
            org: self.orgs.get(&event.customer).copied(),
            currency: None,
            service: self.services.get(&event.meter),
            closed_through: None,
            received_at: received_at(),
            now: received_at(),
            grace: TimeDelta::days(DEFAULT_GRACE_DAYS),
            calendar: kopek_domain::calendar::Calendar::UTC,
        };
        usage::judge(event, &judgement).expect("the event counts")
    }
}

/// The JSON text of `BATCH` events as a producer sends them, one string each: spread over the
/// customers, meters and the days of November before the 28th, each with two properties.
fn batch_texts() -> Vec<String> {
    (0..BATCH)
        .map(|i| {
            let (meter, unit) = METERS[i % METERS.len()];
            // A whole count for whole units, three decimals otherwise.
            let milli = (i as i64 * 7_919) % 100_000;
            let quantity = if unit.is_whole() {
                Decimal::from(milli / 1_000 + 1)
            } else {
                Decimal::new(milli, 3)
            };
            let timestamp = received_at() - TimeDelta::minutes((i as i64 * 37) % (27 * 24 * 60));
            let event = RawUsageEvent {
                id: format!("evt-{i:06}-{meter}"),
                customer: format!("crm:{}", 4400 + i % CUSTOMERS),
                meter: meter.to_owned(),
                quantity: usage::RawQuantity::exact(quantity),
                timestamp: timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                properties: [
                    ("region".to_owned(), "msk-1".to_owned()),
                    ("device".to_owned(), format!("rt-{:04}", i % 250)),
                ]
                .into(),
            };
            serde_json::to_string(&event).expect("an event serialises")
        })
        .collect()
}

fn read(text: &str) -> ParsedEvent {
    let raw: RawUsageEvent = serde_json::from_str(text).expect("an event's JSON");
    usage::parse(&raw).expect("a well-formed event")
}

fn ingestion(c: &mut Criterion) {
    let catalog = Catalog::new();
    let texts = batch_texts();
    let parsed: Vec<ParsedEvent> = texts.iter().map(|t| read(t)).collect();
    let metered: Vec<MeteredEvent> = parsed.iter().map(|e| catalog.judge(e)).collect();

    let mut group = c.benchmark_group("usage");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("parse_1000", |b| {
        b.iter(|| {
            black_box(&texts)
                .iter()
                .map(|t| read(t))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("judge_1000", |b| {
        b.iter(|| {
            black_box(&parsed)
                .iter()
                .map(|e| catalog.judge(e))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("aggregate_1000", |b| {
        b.iter(|| usage::aggregate(black_box(&metered)).expect("totals"))
    });
    group.bench_function("parse_judge_aggregate_1000", |b| {
        b.iter(|| {
            let judged: Vec<MeteredEvent> = black_box(&texts)
                .iter()
                .map(|t| catalog.judge(&read(t)))
                .collect();
            usage::aggregate(&judged).expect("totals")
        })
    });
    group.finish();
}

criterion_group!(benches, ingestion);
criterion_main!(benches);
