//! One customer's period close without I/O: the CPU time of composing its invoice
//! (`invoicing::compose`), of summing its usage events into the meters' period totals first
//! (`MeterUsage::add` over every event), and of issuing the draft and posting it
//! (`invoicing::issue` + `ledger::for_invoice`).
//!
//! The customer, billed for October 2026 in roubles with prices net of a 20 % tax:
//! - 3 subscriptions (fees in arrears, prorated by day): an internet channel whose quantity
//!   changes from 2 to 5 on the 16th (two lines), a static IP address block and a backup
//!   volume priced by graduated tiers;
//! - 20 work-order charges (installation, cabling, visits), rendered over the month;
//! - 5 meters whose period totals come from 10,000 usage events (2,000 each): traffic in
//!   gigabytes (graduated, 3 tiers), SMS (volume, 3 tiers), CPU hours (per unit, with a
//!   minimum), API calls (packages of 1,000 after 5,000 free) and payments collected
//!   (percentage, 3 tiers with a fixed fee).
//!
//! Run with `cargo bench -p kopek-domain --bench invoicing`; figures go into BENCHMARKS.md.
//! Every amount and quantity is a decimal built from integers: no binary floating point
//! anywhere near money.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kopek_domain::catalog::{
    CancellationPolicy, LocalizedText, NewService, PriceVersion, Service, ServiceCode, ServiceKind,
    TaxRate, UnitOfMeasure,
};
use kopek_domain::charges::{Charge, ChargeSource};
use kopek_domain::ids::{
    ChargeId, EntryId, InvoiceId, OrderId, OrgId, SubscriptionId, WorkOrderId,
};
use kopek_domain::invoicing::{
    self, BillingSettings, CloseInput, DocumentKind, InvoiceDraft, InvoiceNumber, InvoiceSeries,
    TaxMode, ZeroInvoicePolicy,
};
use kopek_domain::ledger;
use kopek_domain::money::{Currency, Money};
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::{PercentTier, Price, PriceModel, Quantity, Tier};
use kopek_domain::subscriptions::{NewSubscription, Subscription};
use kopek_domain::usage::MeterUsage;
use rust_decimal::Decimal;

/// Usage events of the period, spread evenly over the meters.
const EVENTS: usize = 10_000;
/// Work-order charges of the period.
const CHARGES: usize = 20;

type Catalog = BTreeMap<ServiceCode, (Service, Vec<PriceVersion>)>;

fn d(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).expect("a valid day")
}

fn code(text: &str) -> ServiceCode {
    text.parse().expect("a valid service code")
}

fn period() -> BillingPeriod {
    "2026-10".parse().expect("a valid period")
}

/// When the catalog's prices were set: well before the period.
fn catalog_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0)
        .single()
        .expect("a valid moment")
}

fn rate() -> TaxRate {
    TaxRate::from_percent(Decimal::from(20)).expect("a valid rate")
}

fn price(model: PriceModel, minimum: Option<Decimal>) -> Price {
    Price::new(Currency::RUB, model, minimum, None).expect("a valid price")
}

/// The services the customer's subscriptions and meters name, each with its one version.
fn catalog() -> Catalog {
    let recurring = [
        (
            "INTERNET-100",
            UnitOfMeasure::Month,
            price(
                PriceModel::PerUnit {
                    unit_price: d(150_000, 2),
                },
                None,
            ),
        ),
        (
            "IP-BLOCK",
            UnitOfMeasure::Month,
            price(
                PriceModel::PerUnit {
                    unit_price: d(45_000, 2),
                },
                None,
            ),
        ),
        (
            "BACKUP-TB",
            UnitOfMeasure::Month,
            price(
                PriceModel::Graduated {
                    tiers: vec![
                        Tier::bounded(d(2, 0), d(90_000, 2)),
                        Tier::bounded(d(10, 0), d(70_000, 2)),
                        Tier::unbounded(d(50_000, 2)),
                    ],
                },
                None,
            ),
        ),
    ];
    let metered = [
        (
            "TRAFFIC",
            UnitOfMeasure::Gigabyte,
            price(
                PriceModel::Graduated {
                    tiers: vec![
                        Tier::bounded(d(1_000, 0), d(150, 2)),
                        Tier::bounded(d(10_000, 0), d(100, 2)).with_flat_fee(d(50_000, 2)),
                        Tier::unbounded(d(50, 2)),
                    ],
                },
                None,
            ),
        ),
        (
            "SMS",
            UnitOfMeasure::Request,
            price(
                PriceModel::Volume {
                    tiers: vec![
                        Tier::bounded(d(1_000, 0), d(250, 2)),
                        Tier::bounded(d(10_000, 0), d(200, 2)),
                        Tier::unbounded(d(150, 2)),
                    ],
                },
                None,
            ),
        ),
        (
            "CPU-HOURS",
            UnitOfMeasure::Hour,
            price(
                PriceModel::PerUnit {
                    unit_price: d(2_499, 3),
                },
                Some(d(50_000, 2)),
            ),
        ),
        (
            "API-CALLS",
            UnitOfMeasure::Request,
            price(
                PriceModel::Package {
                    block_size: d(1_000, 0),
                    block_price: d(1_000, 2),
                    free_units: d(5_000, 0),
                },
                None,
            ),
        ),
        (
            "PAYMENTS",
            UnitOfMeasure::Amount,
            price(
                PriceModel::Percentage {
                    tiers: vec![
                        PercentTier::bounded(d(100_000, 0), d(29, 1)).with_fixed_fee(d(30, 2)),
                        PercentTier::bounded(d(1_000_000, 0), d(25, 1)),
                        PercentTier::unbounded(d(175, 2)),
                    ],
                },
                None,
            ),
        ),
    ];
    let mut catalog = Catalog::new();
    let entries = recurring
        .into_iter()
        .map(|(c, u, p)| (c, ServiceKind::Recurring, u, p))
        .chain(
            metered
                .into_iter()
                .map(|(c, u, p)| (c, ServiceKind::Metered, u, p)),
        );
    for (code_text, kind, unit, price) in entries {
        let (service, version) = Service::create(
            NewService {
                code: code(code_text),
                name: LocalizedText::new(
                    &format!("Услуга {code_text}"),
                    &format!("Service {code_text}"),
                )
                .expect("a valid name"),
                description: None,
                unit,
                kind,
                work_type: None,
                cancellation: CancellationPolicy::EndOfPeriod,
                tax_rate: rate(),
                tax_exemption: None,
                currency: Currency::RUB,
                price,
            },
            catalog_time(),
        )
        .expect("a valid service");
        catalog.insert(service.code().clone(), (service, vec![version]));
    }
    catalog
}

/// The meters, in the order the events cycle through them.
const METERS: [&str; 5] = ["TRAFFIC", "SMS", "CPU-HOURS", "API-CALLS", "PAYMENTS"];

/// One usage event as the close reads it back: meter, day, quantity.
type Event = (usize, NaiveDate, Decimal);

/// `EVENTS` events over the meters and the 31 days of October. Whole counts for SMS and API
/// calls; gigabytes, hours and roubles with decimals.
fn events() -> Vec<Event> {
    (0..EVENTS)
        .map(|i| {
            let meter = i % METERS.len();
            let n = (i as i64 * 7_919) % 10_000;
            let quantity = match METERS[meter] {
                "TRAFFIC" => d(n + 1, 2),           // 0.01–100.00 GB
                "SMS" => d(n % 9 + 1, 0),           // 1–9 messages
                "CPU-HOURS" => d(n % 500 + 1, 2),   // 0.01–5.00 h
                "API-CALLS" => d(n % 40 + 1, 0),    // 1–40 calls
                _ => d(n * 137 % 5_000_000 + 1, 2), // 0.01–50,000.00 ₽
            };
            (meter, day(10, 1 + (i as u32 / 7) % 31), quantity)
        })
        .collect()
}

/// Sums the events per meter, as the store's figures are summed.
fn meter_usage(events: &[Event]) -> BTreeMap<ServiceCode, MeterUsage> {
    let codes: Vec<ServiceCode> = METERS.iter().map(|m| code(m)).collect();
    let mut usage: BTreeMap<ServiceCode, MeterUsage> = BTreeMap::new();
    for (meter, on, quantity) in events {
        usage
            .entry(codes[*meter].clone())
            .or_default()
            .add(*on, *quantity, false)
            .expect("a countable total");
    }
    usage
}

fn subscriptions(org: OrgId, catalog: &Catalog) -> Vec<Subscription> {
    let start = |service: &str, quantity: i64| {
        Subscription::start(
            SubscriptionId::new(),
            NewSubscription {
                org,
                service: &catalog[&code(service)].0,
                price_version: 1,
                quantity: Quantity::new(d(quantity, 0)).expect("a valid quantity"),
                from: day(9, 15),
            },
            day(9, 15),
            catalog_time(),
        )
        .expect("a valid subscription")
    };
    let mut internet = start("INTERNET-100", 2);
    internet
        .change_quantity(
            Quantity::new(d(5, 0)).expect("a valid quantity"),
            day(10, 16),
            day(10, 1),
        )
        .expect("a valid change");
    vec![internet, start("IP-BLOCK", 1), start("BACKUP-TB", 4)]
}

fn charges(org: OrgId) -> Vec<Charge> {
    let kinds = [
        ("INSTALL", "Монтаж", "Installation", d(350_000, 2)),
        ("CABLING", "Прокладка кабеля", "Cabling", d(12_050, 2)),
        ("VISIT", "Выезд инженера", "Engineer's visit", d(150_000, 2)),
        (
            "ROUTER-SETUP",
            "Настройка роутера",
            "Router setup",
            d(99_900, 2),
        ),
    ];
    (0..CHARGES)
        .map(|i| {
            let (service, ru, en, unit_price) = kinds[i % kinds.len()];
            let quantity = d(i as i64 % 3 + 1, 0);
            Charge {
                id: ChargeId::new(),
                org,
                period: period(),
                source: ChargeSource::WorkOrder {
                    order: OrderId::new(),
                    line_no: 1 + (i % 3) as u16,
                    work_order: WorkOrderId::new(),
                },
                service: code(service),
                description: LocalizedText::new(ru, en).expect("a valid description"),
                quantity: Quantity::new(quantity).expect("a valid quantity"),
                unit: UnitOfMeasure::Piece,
                price_version: 1,
                tax_rate: rate(),
                amount: Money::new(unit_price * quantity, Currency::RUB),
                rendered_on: day(10, 1 + (i as u32 * 3) % 31),
                created_at: catalog_time(),
            }
        })
        .collect()
}

fn settings() -> BillingSettings {
    BillingSettings {
        series: InvoiceSeries::new("KPK").expect("a valid series"),
        series_count: kopek_domain::invoicing::SeriesCount::ONE,
        tax_mode: TaxMode::Exclusive,
        zero_invoices: ZeroInvoicePolicy::Skip,
        payment_terms_days: 14,
        bank_accounts: Vec::new(),
    }
}

/// Everything one customer's close reads, loaded.
struct Customer {
    org: OrgId,
    catalog: Catalog,
    charges: Vec<Charge>,
    subscriptions: Vec<Subscription>,
    events: Vec<Event>,
    usage: BTreeMap<ServiceCode, MeterUsage>,
}

impl Customer {
    fn new() -> Self {
        let org = OrgId::new();
        let catalog = catalog();
        let events = events();
        Customer {
            org,
            subscriptions: subscriptions(org, &catalog),
            charges: charges(org),
            usage: meter_usage(&events),
            events,
            catalog,
        }
    }

    fn compose(&self, usage: &BTreeMap<ServiceCode, MeterUsage>) -> InvoiceDraft {
        let input = CloseInput {
            org: self.org,
            period: period(),
            calendar: kopek_domain::calendar::Calendar::UTC,
            currency: Currency::RUB,
            charges: &self.charges,
            subscriptions: &self.subscriptions,
            paused: &[],
            usage,
            catalog: &self.catalog,
        };
        invoicing::compose(&input, &settings())
            .expect("the invoice composes")
            .expect("something to bill")
    }
}

/// Issues a draft as number 42 of 2026 on 1 November and posts it.
fn issue_and_post(draft: InvoiceDraft) -> (invoicing::Invoice, ledger::Entry) {
    let number = InvoiceNumber::new(
        InvoiceSeries::new("KPK").expect("a valid series"),
        DocumentKind::Invoice,
        2026,
        42,
    )
    .expect("a valid number");
    let invoice = invoicing::issue(draft, InvoiceId::new(), number, day(11, 1), 14)
        .expect("the draft issues");
    let entry = ledger::for_invoice(&invoice, EntryId::new()).expect("the invoice posts");
    (invoice, entry)
}

fn close(c: &mut Criterion) {
    let customer = Customer::new();
    let draft = customer.compose(&customer.usage);
    // The invoice the figures are about: 4 subscription lines (the internet channel's two
    // segments, the IP block, the backup volume), one per charge, one per meter.
    assert_eq!(draft.lines.len(), 4 + CHARGES + METERS.len());
    let events_per_meter: Vec<u64> = customer.usage.values().map(|u| u.events).collect();
    assert_eq!(events_per_meter.iter().sum::<u64>(), EVENTS as u64);
    eprintln!(
        "the invoice: {} lines, net {}, tax {}, gross {}",
        draft.lines.len(),
        draft.net,
        draft.tax,
        draft.gross
    );

    let mut group = c.benchmark_group("close_one_customer");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("aggregate_10000_events_and_compose", |b| {
        b.iter(|| customer.compose(&meter_usage(black_box(&customer.events))))
    });
    group.bench_function("aggregate_10000_events", |b| {
        b.iter(|| meter_usage(black_box(&customer.events)))
    });
    group.bench_function("compose", |b| {
        b.iter(|| customer.compose(black_box(&customer.usage)))
    });
    group.bench_function("issue_and_ledger_entry", |b| {
        b.iter_batched(|| draft.clone(), issue_and_post, BatchSize::SmallInput)
    });
    group.bench_function("all_in_a_row", |b| {
        b.iter(|| issue_and_post(customer.compose(&meter_usage(black_box(&customer.events)))))
    });
    group.finish();
}

criterion_group!(benches, close);
criterion_main!(benches);
