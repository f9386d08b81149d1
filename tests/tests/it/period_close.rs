//! The period close against the emulator, driven as AWS drives it: the scheduler's trigger
//! (`Closer::start`), then `CloseQueue` drained as the worker function is fed
//! (`kopek_events::close::poller::drain`; elsewhere the same loop without long polls, or one message at
//! a time where a test must stop in between).
//!
//! Each test builds its month in-process on a [`FixedClock`] shared by the application and the
//! close: the catalog, customers, subscriptions, orders and their completion through the HTTP
//! API, usage through `UsageQueue` and the ingestion poller; then the clock moves past the
//! month's end and the month is closed. What is proved: one invoice per customer with its
//! fees prorated by day, its done work and its usage rated on graduated tiers, taxed per line,
//! numbered without a gap or a repeat however many workers close at once; a close stopped
//! between any two storage writes and run again ends as a clean run does; late usage and late
//! work go to the next month and never touch an issued invoice; repeated triggers and messages
//! create nothing twice; refused requests change nothing; a customer that cannot be invoiced
//! fails alone, is listed, and is invoiced once fixed.
//!
//! Every expectation is computed here from the inputs (prices, tiers, quantities, days),
//! never read back from what the close wrote.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeDelta, Utc};
use kopek_aws::clients::Clients;
use kopek_aws::config::Config;
use kopek_aws::dynamo::billing::StoredPeriod;
use kopek_aws::dynamo::keys;
use kopek_aws::faults::Faults;
use kopek_domain::charges::EventKind;
use kopek_domain::clock::{Clock, FixedClock};
use kopek_domain::close::JobStatus;
use kopek_domain::ids::OrgId;
use kopek_domain::invoicing::{DocumentKind, Invoice, InvoiceSeries, LineSource};
use kopek_domain::ledger::{self, Account, Entry};
use kopek_domain::money::{Currency, Money};
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::Quantity;
use kopek_domain::usage::{EventKey, MeteredEvent, RejectReason};
use kopek_events::close::poller;
use kopek_local::provision::Provisioned;
use kopek_local::template::Template;
use kopek_local::tools;
use kopek_services::Services;
use kopek_services::close::{CloseError, CloseMessage, Closer, CustomerOutcome, Started, Trigger};
use kopek_services::usage::ingest::BatchReport;
use kopek_tests::{Customer, TestApp};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

// --- the catalog ----------------------------------------------------------------------------

/// A recurring fee, per unit and month.
const FEE: &str = "HOSTING";
const FEE_PRICE: &str = "1000.00";
/// A one-off job done by an engineer, per piece.
const JOB: &str = "SETUP";
const JOB_PRICE: &str = "2500.00";
const WORK_TYPE: &str = "install";
/// A metered service on graduated tiers: (inclusive upper bound, unit price).
const METER: &str = "TRAFFIC";
const TIERS: [(Option<&str>, &str); 3] = [
    (Some("100"), "0.00"),
    (Some("1000"), "1.50"),
    (None, "1.20"),
];
/// A meter priced in another currency than the customers' (roubles).
const FOREIGN_METER: &str = "ROAMING";
/// Every service's VAT rate, in per cent; prices exclude it (the default settings).
const VAT: &str = "20";
/// The invoice series of the template's environment.
const SERIES: &str = "KPK";

fn dec(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

fn rub(amount: Decimal) -> Money {
    Money::new(amount, Currency::RUB)
}

fn catalog() -> Vec<Value> {
    let tiers: Vec<Value> = TIERS
        .iter()
        .map(|(up_to, price)| json!({"up_to": up_to, "unit_price": price}))
        .collect();
    let service = |code: &str, unit: &str, kind: &str, currency: &str, model: Value| {
        json!({
            "code": code, "name": {"ru": format!("Услуга {code}"), "en": format!("Service {code}")},
            "unit": unit, "kind": kind, "tax_rate": VAT, "currency": currency,
            "price": {"currency": currency, "model": model}
        })
    };
    let mut job = service(
        JOB,
        "piece",
        "one_off",
        "RUB",
        json!({"type": "per_unit", "unit_price": JOB_PRICE}),
    );
    job["work_type"] = json!(WORK_TYPE);
    vec![
        service(
            FEE,
            "month",
            "recurring",
            "RUB",
            json!({"type": "per_unit", "unit_price": FEE_PRICE}),
        ),
        job,
        service(
            METER,
            "gigabyte",
            "metered",
            "RUB",
            json!({"type": "graduated", "tiers": tiers}),
        ),
        service(
            FOREIGN_METER,
            "gigabyte",
            "metered",
            "USD",
            json!({"type": "per_unit", "unit_price": "0.10"}),
        ),
    ]
}

// --- expectations, from the inputs ---------------------------------------------------------

/// Rounded to kopecks, half away from zero (the rounding policy).
fn kopecks(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// `quantity` cut into the slices of [`TIERS`] it reaches: (gigabytes, unit price) each.
fn slices(quantity: Decimal) -> Vec<(Decimal, Decimal)> {
    let mut lower = Decimal::ZERO;
    let mut slices = Vec::new();
    for (up_to, price) in TIERS {
        let upper = up_to.map(dec).unwrap_or(quantity).min(quantity);
        if upper > lower {
            slices.push((upper - lower, dec(price)));
        }
        if let Some(bound) = up_to {
            lower = dec(bound);
        }
    }
    slices
}

/// `quantity` priced on [`TIERS`]: each slice at its tier's unit price, the total rounded once.
fn graduated(quantity: Decimal) -> Decimal {
    kopecks(slices(quantity).iter().map(|(q, price)| q * price).sum())
}

/// The fee of `full` a month for the days from `from` to the period's end: the full price in
/// kopecks split into one share per day, the remainder one kopeck each to the earliest days.
fn prorated(full: Decimal, period: BillingPeriod, from: NaiveDate) -> Decimal {
    let kopecks: i64 = (full * Decimal::ONE_HUNDRED)
        .try_into()
        .expect("whole kopecks");
    let days = i64::from(period.days());
    let (share, extra) = (kopecks / days, kopecks % days);
    let first = (from - period.first_day()).num_days();
    Decimal::new(
        (first..days)
            .map(|day| share + i64::from(day < extra))
            .sum(),
        2,
    )
}

fn vat(net: Decimal) -> Decimal {
    kopecks(net * dec(VAT) / Decimal::ONE_HUNDRED)
}

/// One line an invoice must have.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    kind: &'static str,
    service: String,
    quantity: Decimal,
    amount: Decimal,
}

impl Line {
    fn new(kind: &'static str, service: &str, quantity: Decimal, amount: Decimal) -> Self {
        Line {
            kind,
            service: service.to_owned(),
            quantity,
            amount,
        }
    }

    fn of(invoice: &Invoice) -> Vec<Line> {
        invoice
            .draft
            .lines
            .iter()
            .map(|l| Line {
                kind: kind(&l.source),
                service: l.service.as_str().to_owned(),
                quantity: l.quantity,
                amount: l.amount.amount(),
            })
            .collect()
    }
}

fn kind(source: &LineSource) -> &'static str {
    match source {
        LineSource::Subscription { .. } => "subscription",
        LineSource::Charge { .. } => "charge",
        LineSource::Usage { .. } => "usage",
    }
}

/// Asserts `invoice` has exactly `lines`, each taxed at [`VAT`] on its own, and totals that
/// are the sums of its lines.
#[track_caller]
fn assert_invoice(invoice: &Invoice, lines: &[Line], who: &str) {
    assert_eq!(Line::of(invoice), lines, "{who}: lines");
    let (mut net, mut tax) = (Decimal::ZERO, Decimal::ZERO);
    for (line, want) in invoice.draft.lines.iter().zip(lines) {
        let want_tax = vat(want.amount);
        assert_eq!(line.net.amount(), want.amount, "{who}: net of {line:?}");
        assert_eq!(line.tax.amount(), want_tax, "{who}: tax of {line:?}");
        assert_eq!(line.gross.amount(), want.amount + want_tax, "{who}: gross");
        net += want.amount;
        tax += want_tax;
    }
    let draft = &invoice.draft;
    assert_eq!(draft.currency, Currency::RUB, "{who}");
    assert_eq!(
        (draft.net.amount(), draft.tax.amount(), draft.gross.amount()),
        (net, tax, net + tax),
        "{who}: totals"
    );
}

// --- time -----------------------------------------------------------------------------------

/// The period every test closes: September 2026 (30 days), or the provider's longer period
/// that contains it (the third quarter, the second half, the year).
fn month() -> BillingPeriod {
    kopek_tests::emulator::calendar()
        .period_of_date(NaiveDate::from_ymd_opt(2026, 9, 1).expect("a day"))
}

fn day(period: BillingPeriod, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(period.year(), period.month(), d).expect("a day")
}

/// `hour` hours after the provider's midnight of `date`.
fn at(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    kopek_tests::emulator::calendar().start_of(date) + chrono::TimeDelta::hours(hour.into())
}

// --- the world ------------------------------------------------------------------------------

/// An application with the catalog, and the close on the same table, queue and clock.
struct World {
    app: TestApp,
    clock: Arc<FixedClock>,
    close: Closer,
    period: BillingPeriod,
}

/// A customer: its signed-in user and its organisation.
#[derive(Debug, Clone)]
struct Party {
    customer: Customer,
    org: OrgId,
    /// When its user's access token was issued.
    signed_in_at: DateTime<Utc>,
}

/// One usage event as a producer sends it.
#[derive(Debug, Clone)]
struct Usage {
    id: String,
    meter: &'static str,
    quantity: Decimal,
    at: DateTime<Utc>,
}

/// `n` events of [`METER`] from the 10th to the 28th of `period`, `low..high` gigabytes each
/// (to the megabyte), spread over days and hours.
fn usage_events(tag: &str, period: BillingPeriod, n: u64, low: u64, high: u64) -> Vec<Usage> {
    (0..n)
        .map(|k| Usage {
            id: format!("{tag}-{k:03}"),
            meter: METER,
            quantity: Decimal::new((low * 1000 + k * 7_919 % ((high - low) * 1000)) as i64, 3),
            at: at(day(period, 10 + (k % 19) as u32), 10 + (k % 12) as u32),
        })
        .collect()
}

fn total(events: &[Usage]) -> Decimal {
    events.iter().map(|e| e.quantity).sum()
}

/// The services the worker function builds from its environment in the template, on the
/// test's clock and without the seal wait (nothing ingests while a test closes).
fn worker(app: &TestApp, clock: Arc<FixedClock>) -> Services {
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let env = app
        .provisioned
        .function_env(&template, "PeriodCloseWorkerFunction")
        .expect("the worker's environment");
    let config = Config::from_lookup(|name| env.get(name).cloned()).expect("a configuration");
    Services::from_config(&config, &Clients::new(&app.sdk))
        .expect("the worker's services")
        .with_clock(clock)
        .with_settings(|s| s.close_seal_wait = Duration::ZERO)
}

fn closer(app: &TestApp, clock: Arc<FixedClock>) -> Closer {
    worker(app, clock).closer()
}

impl World {
    /// The catalog, created on the 10th of [`month`] at 09:00, where the clock stays.
    async fn new() -> Self {
        let period = month();
        let clock = Arc::new(FixedClock::at(at(day(period, 10), 9)));
        let app = TestApp::with_clock(clock.clone()).await;
        let admin = app.admin().await;
        for service in catalog() {
            app.post("/v1/catalog/services", Some(&admin), &service)
                .await
                .assert_status(201);
        }
        let close = closer(&app, clock.clone());
        World {
            app,
            clock,
            close,
            period,
        }
    }

    fn store(&self) -> &kopek_aws::dynamo::Store {
        &self.app.store
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn set_clock(&self, to: DateTime<Utc>) {
        self.clock.advance(to - self.clock.now());
    }

    async fn party(&self, name: &str) -> Party {
        let customer = self.app.register(name).await;
        let org = customer.org_id.parse().expect("an organisation id");
        Party {
            customer,
            org,
            signed_in_at: self.now(),
        }
    }

    /// An access token of `party`'s user valid now: the one from its registration while it
    /// lives (15 minutes of the clock), else a fresh sign-in.
    async fn token(&self, party: &Party) -> String {
        if self.now() - party.signed_in_at < TimeDelta::minutes(10) {
            return party.customer.token.clone();
        }
        self.app
            .sign_in(&party.customer.email, &party.customer.password)
            .await
    }

    /// `party` subscribes to `quantity` of [`FEE`] from today.
    async fn subscribe(&self, party: &Party, quantity: u32) {
        let token = self.token(party).await;
        self.app
            .post(
                "/v1/subscriptions",
                Some(&token),
                &json!({"service": FEE, "quantity": quantity.to_string()}),
            )
            .await
            .assert_status(201);
    }

    /// `party` orders `quantity` pieces of [`JOB`] for today.
    async fn order(&self, party: &Party, quantity: u32) {
        let token = self.token(party).await;
        self.app
            .post(
                "/v1/orders",
                Some(&token),
                &json!({"lines": [{
                    "service": JOB, "quantity": quantity.to_string(),
                    "site": {"address": "Москва, ул. Тверская, 7", "area": "moscow-centre"}
                }]}),
            )
            .await
            .assert_status(201);
    }

    /// An engineer takes every waiting [`JOB`], starts the batch and completes each work
    /// order done with `actual` pieces.
    async fn complete_waiting_jobs(&self, actual: u32) {
        let engineer = self.app.staff_with_role("engineer").await;
        let batch = self
            .app
            .post(
                "/v1/work/batches",
                Some(&engineer),
                &json!({"work_type": WORK_TYPE, "size": 10}),
            )
            .await;
        batch.assert_status(201);
        let id = batch.body["id"].as_str().expect("a batch id");
        let outcomes: Vec<Value> = batch.body["work_orders"]
            .as_array()
            .expect("work orders")
            .iter()
            .map(|w| {
                json!({"work_order": w["work_order"], "outcome": "done",
                       "actual_quantity": actual.to_string()})
            })
            .collect();
        self.app
            .post(
                &format!("/v1/work/batches/{id}/start"),
                Some(&engineer),
                &json!({}),
            )
            .await
            .assert_status(200);
        self.app
            .post(
                &format!("/v1/work/batches/{id}/complete"),
                Some(&engineer),
                &json!({ "outcomes": outcomes }),
            )
            .await
            .assert_status(200);
    }

    /// Sends `party`'s events to `UsageQueue` and ingests them at the clock's time.
    async fn send_usage(&self, party: &Party, events: &[Usage]) -> BatchReport {
        let bodies: Vec<String> = events
            .iter()
            .map(|e| {
                json!({
                    "id": e.id, "customer": party.org.to_string(), "meter": e.meter,
                    "quantity": e.quantity.to_string(),
                    "timestamp": e.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                })
                .to_string()
            })
            .collect();
        self.app
            .usage_queue()
            .send_events(&bodies)
            .await
            .expect("the events are queued");
        self.app.drain_usage().await
    }

    /// The month ended: the clock at 06:00 on the 1st of the next.
    fn month_ended(&self) {
        self.set_clock(at(self.period.end_exclusive(), 6));
    }

    /// Handles the first planning message of `period`'s close (as a worker would).
    async fn plan(&self, period: BillingPeriod) {
        self.close
            .handle(&CloseMessage::Plan {
                period,
                cursor: None,
            })
            .await
            .expect("planned");
    }

    /// Starts the close of `period` as the scheduler does, then drains `CloseQueue`.
    async fn close(&self, period: BillingPeriod) -> Started {
        let started = self
            .close
            .start(period, Trigger::Schedule)
            .await
            .expect("the close starts");
        self.drain().await;
        started
    }

    /// Handles `CloseQueue` as [`poller::drain`] does (batches of up to 10, each message
    /// deleted once handled, a failed one visible again at once) until it is empty — without
    /// its long polls: a long poll of an empty queue holds the serialised emulator, and so
    /// every other test, for its whole wait.
    async fn drain(&self) -> poller::Drained {
        let mut drained = poller::Drained::default();
        for _ in 0..100 {
            let received = self
                .close
                .queue()
                .receive(10, 0, Some(0))
                .await
                .expect("CloseQueue answers");
            if received.is_empty() {
                return drained;
            }
            let mut done = Vec::new();
            for message in &received {
                match kopek_events::close::handle_body(&self.close, &message.body).await {
                    Ok(()) => {
                        drained.handled += 1;
                        done.push(message.receipt_handle.as_str());
                    }
                    Err(_) => drained.failed += 1,
                }
            }
            self.close.queue().delete(&done).await.expect("deleted");
        }
        panic!("CloseQueue never ran empty: {drained:?}")
    }

    async fn status(&self, period: BillingPeriod) -> Option<StoredPeriod> {
        self.store().period(period).await.expect("the period")
    }

    async fn invoice(&self, org: OrgId, period: BillingPeriod) -> Option<Invoice> {
        self.store()
            .invoice_of(org, period)
            .await
            .expect("an invoice read")
            .map(|stored| stored.invoice)
    }

    async fn entries(&self, org: OrgId) -> Vec<Entry> {
        self.store()
            .ledger_entries(org)
            .await
            .expect("ledger entries")
    }

    async fn sequence_last(&self) -> u64 {
        self.store()
            .sequence_last(
                &InvoiceSeries::new(SERIES).expect("a series"),
                DocumentKind::Invoice,
                // The provider's year: numbers restart on its 1 January, not UTC's.
                kopek_tests::emulator::calendar().date_of(self.now()).year(),
            )
            .await
            .expect("the sequence")
    }

    async fn queue_depth(&self) -> (u64, u64) {
        self.close.queue().depth().await.expect("the queue's depth")
    }

    /// The raw items of `org`'s invoices and ledger entries, in key order: a byte-for-byte
    /// image of what it was billed.
    async fn billed_items(&self, org: OrgId) -> Vec<HashMap<String, AttributeValue>> {
        let pk = format!("ORG#{org}");
        let text = |item: &HashMap<String, AttributeValue>, name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let mut items: Vec<_> = self
            .app
            .scan_all()
            .await
            .into_iter()
            .filter(|i| {
                let sk = text(i, "SK");
                text(i, "PK") == pk
                    && (sk.starts_with(keys::INVOICES) || sk.starts_with(keys::LEDGER))
            })
            .collect();
        items.sort_by_key(|i| text(i, "SK"));
        items
    }
}

/// The month of [`World::new`]: on the 10th at 09:00 `a` subscribes to two [`FEE`] and orders
/// two pieces of [`JOB`]; on the 15th an engineer does that job with three pieces, and `a`
/// orders one more piece, still waiting at the close; by the 29th `a` has sent 24 events of
/// [`METER`] (40–70 GB each) and `b` 20 (5–25 GB each); `c` does nothing. The clock then
/// stands at 06:00 on 1 October.
struct Standard {
    world: World,
    a: Party,
    b: Party,
    c: Party,
    usage_a: Vec<Usage>,
    usage_b: Vec<Usage>,
}

const FEE_QUANTITY: u32 = 2;
const ORDERED: u32 = 2;
const DONE: u32 = 3;

async fn standard() -> Standard {
    standard_with(24, 20).await
}

/// The standard month with `events_a` and `events_b` usage events (`b` needs 8 or more to
/// pass the free tier).
async fn standard_with(events_a: u64, events_b: u64) -> Standard {
    let world = World::new().await;
    let period = world.period;
    let a = world.party("Ромашка").await;
    let b = world.party("Василёк").await;
    let c = world.party("Лютик").await;
    world.subscribe(&a, FEE_QUANTITY).await;
    world.order(&a, ORDERED).await;

    world.set_clock(at(day(period, 15), 14));
    world.complete_waiting_jobs(DONE).await;
    world.order(&a, 1).await;

    world.set_clock(at(day(period, 29), 12));
    let usage_a = usage_events("a", period, events_a, 40, 70);
    let usage_b = usage_events("b", period, events_b, 5, 25);
    for (party, events) in [(&a, &usage_a), (&b, &usage_b)] {
        let report = world.send_usage(party, events).await;
        assert_eq!(report.counted, events.len() as u64, "{report:?}");
        assert_eq!((report.rejected, report.late), (0, 0), "{report:?}");
    }
    world.month_ended();
    Standard {
        world,
        a,
        b,
        c,
        usage_a,
        usage_b,
    }
}

impl Standard {
    fn orgs(&self) -> [OrgId; 3] {
        [self.a.org, self.b.org, self.c.org]
    }

    /// `a`'s lines: the fee from the 10th, the done job, the month's usage on the tiers.
    fn lines_a(&self) -> Vec<Line> {
        let quantity = Decimal::from(FEE_QUANTITY);
        let fee = prorated(
            dec(FEE_PRICE) * quantity,
            self.world.period,
            day(self.world.period, 10),
        );
        let used = total(&self.usage_a);
        vec![
            Line::new("subscription", FEE, quantity, fee),
            Line::new(
                "charge",
                JOB,
                Decimal::from(DONE),
                dec(JOB_PRICE) * Decimal::from(DONE),
            ),
            Line::new("usage", METER, used, graduated(used)),
        ]
    }

    fn lines_b(&self) -> Vec<Line> {
        let used = total(&self.usage_b);
        vec![Line::new("usage", METER, used, graduated(used))]
    }
}

// --- what a close left, comparable across applications -------------------------------------

/// What a close left behind, per customer in the order given: its invoice without ids
/// (which differ between applications), its job and its ledger postings; the numbers used
/// (by invoice) and the period's counters.
#[derive(Debug, PartialEq)]
struct Outcome {
    customers: Vec<Value>,
    numbers: BTreeSet<u64>,
    counters: Value,
}

async fn outcome(world: &World, orgs: &[OrgId], period: BillingPeriod) -> Outcome {
    let mut customers = Vec::new();
    let mut numbers = BTreeSet::new();
    for org in orgs {
        let invoice = world.invoice(*org, period).await;
        if let Some(invoice) = &invoice {
            assert!(
                numbers.insert(invoice.number.seq),
                "{} used twice",
                invoice.number
            );
        }
        let job = world
            .store()
            .job(period, *org)
            .await
            .expect("a job read")
            .expect("a planned job");
        let entries: Vec<Value> = world
            .entries(*org)
            .await
            .iter()
            .map(|e| {
                json!({
                    "on": e.on(),
                    "postings": e.postings().iter().map(|p| json!([format!("{:?}", p.account),
                        p.debit.to_string(), p.credit.to_string()])).collect::<Vec<_>>(),
                })
            })
            .collect();
        customers.push(json!({
            "invoice": invoice.map(|i| json!({
                "issued_on": i.issued_on, "due_on": i.due_on, "tax_mode": format!("{:?}", i.draft.tax_mode),
                "lines": i.draft.lines.iter().map(|l| json!({
                    "no": l.no, "kind": kind(&l.source), "service": l.service.as_str(),
                    "quantity": l.quantity.to_string(), "unit_price": l.unit_price.map(|p| p.to_string()),
                    "tiers": l.tiers.len(), "from": l.from, "until": l.until_exclusive,
                    "amount": l.amount.to_string(), "net": l.net.to_string(),
                    "tax": l.tax.to_string(), "gross": l.gross.to_string(),
                })).collect::<Vec<_>>(),
                "net": i.draft.net.to_string(), "tax": i.draft.tax.to_string(),
                "gross": i.draft.gross.to_string(), "credited": i.credited.to_string(),
            })),
            "job": job.status.as_str(),
            "ledger": entries,
        }));
    }
    let status = world.status(period).await.expect("the close started");
    Outcome {
        customers,
        numbers,
        counters: json!({
            "status": status.status.as_str(), "planned": status.planned,
            "remaining": status.remaining, "done": status.done, "skipped": status.skipped,
            "failed": status.failed, "plan_complete": status.plan_complete,
        }),
    }
}

#[track_caller]
fn assert_counters(status: &StoredPeriod, state: &str, planned: u64, done: u64, skipped: u64) {
    assert_eq!(
        (
            status.status.as_str(),
            status.planned,
            status.done,
            status.skipped,
            status.failed,
            status.remaining,
            status.plan_complete
        ),
        (
            state,
            planned,
            done,
            skipped,
            0,
            planned - done - skipped,
            true
        ),
        "{status:?}"
    );
}

// --- 1. the close -------------------------------------------------------------------------

#[tokio::test]
async fn a_close_issues_one_invoice_per_customer_with_fees_work_and_usage() {
    let s = standard().await;
    let w = &s.world;
    let period = w.period;
    assert!(s.usage_a.len() + s.usage_b.len() >= 40);
    // b's contract gives it 30 days to pay; a has the provider's 14.
    let accountant = w.app.staff_with_role("accountant").await;
    let terms = w
        .app
        .send(TestApp::request(
            axum::http::Method::PUT,
            &format!("/v1/organisations/{}/payment-terms", s.b.org),
            Some(&accountant),
            Some(&json!({"payment_terms_days": 30})),
        ))
        .await;
    terms.assert_status(200);
    assert_eq!(terms.body["payment_terms_days"], 30);

    // Started as the scheduler starts it, then worked off as the worker function is fed.
    let started = w
        .close
        .start(period, Trigger::Schedule)
        .await
        .expect("the close starts");
    assert!(started.started);
    assert_eq!(started.period.status.as_str(), "closing");
    let drained = poller::drain(&w.close, 1, 0).await.expect("drained");
    assert_eq!(
        drained,
        poller::Drained {
            handled: 4,
            failed: 0
        },
        "a plan, 3 customers"
    );
    let status = w.status(period).await.expect("the close");
    assert_counters(&status, "closed", 3, 2, 1);
    assert_eq!(w.queue_depth().await, (0, 0), "every message was handled");

    let invoice_a = w.invoice(s.a.org, period).await.expect("a is invoiced");
    let invoice_b = w.invoice(s.b.org, period).await.expect("b is invoiced");
    assert_invoice(&invoice_a, &s.lines_a(), "a");
    assert_invoice(&invoice_b, &s.lines_b(), "b");
    assert_eq!(
        w.invoice(s.c.org, period).await,
        None,
        "c had nothing to bill"
    );
    // A price for the whole quantity where one applies (the fee's full month for one unit,
    // the job's piece); the usage shows the slices of each tier it reached instead.
    let lines = &invoice_a.draft.lines;
    assert_eq!(
        lines.iter().map(|l| l.unit_price).collect::<Vec<_>>(),
        [Some(dec(FEE_PRICE)), Some(dec(JOB_PRICE)), None]
    );
    let steps: Vec<(Decimal, Option<Decimal>)> = lines[2]
        .tiers
        .iter()
        .map(|t| (t.quantity(), t.unit_price()))
        .collect();
    let want: Vec<(Decimal, Option<Decimal>)> = slices(total(&s.usage_a))
        .into_iter()
        .map(|(q, price)| (q, Some(price)))
        .collect();
    assert_eq!(steps, want);
    assert_eq!(want.len(), TIERS.len(), "a's usage reaches every tier");
    let job_c = w.store().job(period, s.c.org).await.expect("read");
    assert_eq!(job_c.map(|j| j.status), Some(JobStatus::Skipped));

    // Issued today, due after the default 14 days (b: its own 30), numbered 1 and 2 of this
    // year.
    let today = kopek_tests::emulator::calendar().date_of(w.now());
    let mut numbers = BTreeSet::new();
    for (invoice, terms) in [(&invoice_a, 14), (&invoice_b, 30)] {
        assert_eq!(invoice.issued_on, today);
        assert_eq!(invoice.due_on, today + TimeDelta::days(terms));
        assert_eq!(invoice.draft.period, period);
        numbers.insert(invoice.number.to_string());
    }
    let year = today.year();
    assert_eq!(
        numbers,
        BTreeSet::from([
            format!("{SERIES}-{year}-000001"),
            format!("{SERIES}-{year}-000002")
        ])
    );
    assert_eq!(w.sequence_last().await, 2);

    // One balanced entry per invoice: the receivable debited the gross, revenue and VAT
    // credited; what each customer owes is its invoice's gross.
    for (org, invoice) in [(s.a.org, &invoice_a), (s.b.org, &invoice_b)] {
        let entries = w.entries(org).await;
        assert_eq!(entries.len(), 1, "one entry for {}", invoice.number);
        let draft = &invoice.draft;
        let postings: BTreeMap<Account, (Money, Money)> = entries[0]
            .postings()
            .iter()
            .map(|p| (p.account, (p.debit, p.credit)))
            .collect();
        let zero = rub(Decimal::ZERO);
        assert_eq!(
            postings,
            BTreeMap::from([
                (Account::Receivable, (draft.gross, zero)),
                (Account::Revenue, (zero, draft.net)),
                (Account::TaxPayable, (zero, draft.tax)),
            ])
        );
        assert!(ledger::is_balanced(&entries));
        assert_eq!(
            ledger::customer_balance(&entries, org, today, Currency::RUB).expect("a balance"),
            draft.gross
        );
        let events = w
            .store()
            .history(org, &invoice.id.to_string())
            .await
            .expect("the invoice's history");
        assert!(
            events.iter().any(|e| e.kind
                == EventKind::InvoiceIssued {
                    invoice: invoice.id,
                    number: invoice.number.to_string(),
                    period,
                    gross: draft.gross,
                    due_on: invoice.due_on,
                }),
            "{events:?}"
        );
    }
    assert!(w.entries(s.c.org).await.is_empty());
    let outbox = w.store().outbox(100).await.expect("the outbox");
    let issued = outbox
        .iter()
        .filter(|e| matches!(e.kind, EventKind::InvoiceIssued { .. }))
        .count();
    assert_eq!(
        issued, 2,
        "one invoice_issued event per invoice in the outbox"
    );

    // From now on the customers' usage is billed in October.
    for org in s.orgs() {
        assert_eq!(
            w.store().closed_through(org).await.expect("read"),
            Some(period)
        );
    }
}

// --- 2. numbering under concurrency --------------------------------------------------------

#[tokio::test]
async fn concurrent_workers_number_invoices_without_gaps_or_repeats() {
    const CUSTOMERS: usize = 12;
    let w = World::new().await;
    let period = w.period;
    let mut parties = Vec::new();
    for i in 0..CUSTOMERS {
        let party = w.party(&format!("Клиент {i}")).await;
        if i % 2 == 0 {
            w.subscribe(&party, 1).await;
        }
        parties.push(party);
    }
    w.set_clock(at(day(period, 20), 12));
    for (i, party) in parties.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        // Over the free tier, so that every customer has something to pay.
        let event = Usage {
            id: format!("c{i}"),
            meter: METER,
            quantity: Decimal::from(150 + i),
            at: at(day(period, 18), 8),
        };
        assert_eq!(w.send_usage(party, &[event]).await.counted, 1);
    }
    w.month_ended();

    // Planned, then closed by four drains and a task per customer, all at once; the plan
    // message `start` queued is handled by a drain too and queues every customer again.
    assert!(
        w.close
            .start(period, Trigger::Schedule)
            .await
            .expect("started")
            .started
    );
    w.plan(period).await;
    // A message a drain received is hidden from the others for 2 s (its visibility timeout),
    // then delivered again if it is still there.
    let drains = futures::future::join_all((0..4).map(|_| {
        let close = w.close.clone();
        async move { poller::drain(&close, 1, 2).await.expect("drained") }
    }));
    let tasks = futures::future::join_all(parties.iter().map(|party| {
        let (close, org) = (w.close.clone(), party.org);
        async move {
            for _ in 0..20 {
                match close.close_customer(period, org).await {
                    Ok(outcome) => return outcome,
                    Err(e) if e.is_transient() => continue,
                    Err(e) => panic!("{org}: {e}"),
                }
            }
            panic!("{org}: the close kept failing")
        }
    }));
    let (drained, outcomes) = tokio::join!(drains, tasks);
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            CustomerOutcome::Issued { .. } | CustomerOutcome::AlreadyDone
        )),
        "{outcomes:?}"
    );
    // Every message was received: the plan message and each customer's twice (from both
    // plans); one that failed comes back later, to find its job done.
    let received: usize = drained.iter().map(|d| d.handled + d.failed).sum();
    assert!(received > 2 * CUSTOMERS, "{drained:?}");

    let mut numbers = Vec::new();
    for party in &parties {
        let invoice = w.invoice(party.org, period).await.expect("invoiced");
        assert_eq!(
            invoice.number.year,
            kopek_tests::emulator::calendar().date_of(w.now()).year()
        );
        numbers.push(invoice.number.seq);
        assert_eq!(w.entries(party.org).await.len(), 1);
        let job = w.store().job(period, party.org).await.expect("read");
        assert_eq!(job.map(|j| j.status), Some(JobStatus::Done));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=CUSTOMERS as u64).collect::<Vec<_>>());
    let listed = w
        .store()
        .list_invoices_of_period(period, 100, None)
        .await
        .expect("the period's invoices");
    assert_eq!(listed.items.len(), CUSTOMERS, "one invoice per customer");
    assert_eq!(w.sequence_last().await, CUSTOMERS as u64);
    let status = w.status(period).await.expect("the close");
    assert_counters(&status, "closed", CUSTOMERS as u64, CUSTOMERS as u64, 0);
}

// --- 3. stopped anywhere, run again ----------------------------------------------------------

/// Where a run of the close stopped: the error, and the message it was handling, left in
/// flight as by a worker that crashed.
#[derive(Debug)]
struct Stopped {
    error: CloseError,
    in_flight: Option<String>,
}

/// Runs the close as far as it goes: the scheduler's trigger (a repeated one resumes the
/// close), then `CloseQueue`'s messages one at a time, each deleted once handled. Stops at
/// the first failure, leaving the message being handled invisible for an hour.
async fn run_until_failure(close: &Closer, period: BillingPeriod) -> Result<(), Stopped> {
    close
        .start(period, Trigger::Schedule)
        .await
        .map_err(|error| Stopped {
            error,
            in_flight: None,
        })?;
    loop {
        let received = close
            .queue()
            .receive(1, 0, Some(3600))
            .await
            .expect("receive");
        let Some(message) = received.into_iter().next() else {
            return Ok(());
        };
        if let Err(error) = kopek_events::close::handle_body(close, &message.body).await {
            return Err(Stopped {
                error,
                in_flight: Some(message.receipt_handle),
            });
        }
        close
            .queue()
            .delete(&[message.receipt_handle.as_str()])
            .await
            .expect("delete");
    }
}

/// The standard month closed with a write fault armed at `fail_at` (0: none): run until it
/// fails, run again to the end, then let the message in flight at the failure come back.
/// Returns the outcome and how many billing writes the close attempted.
async fn close_with_fault(fail_at: u64) -> (Outcome, u64) {
    // Fewer events than the standard month: every transaction costs the emulator a copy of
    // the table, and this test closes eleven of them.
    let mut s = standard_with(8, 8).await;
    let faults = Faults::new();
    s.world.close = worker(&s.world.app, s.world.clock.clone())
        .with_store(s.world.app.store.clone().with_faults(faults.clone()))
        .closer();
    let (w, period) = (&s.world, s.world.period);
    faults.fail_write(fail_at);
    match run_until_failure(&w.close, period).await {
        Ok(()) => assert!(
            fail_at == 0 || faults.writes() < fail_at,
            "write {fail_at} failed silently"
        ),
        Err(stopped) => {
            assert!(
                faults.writes() >= fail_at && fail_at > 0,
                "write {fail_at}: the close failed by itself: {stopped:?}"
            );
            assert!(
                stopped.error.is_transient()
                    && stopped.error.to_string().contains("injected fault"),
                "write {fail_at}: {stopped:?}"
            );
            run_until_failure(&w.close, period)
                .await
                .unwrap_or_else(|e| panic!("write {fail_at}: the re-run failed: {e:?}"));
            let done = outcome(w, &s.orgs(), period).await;
            // The crashed worker's message comes back (its visibility timeout is over).
            if let Some(receipt) = stopped.in_flight {
                aws_sdk_sqs::Client::new(&w.app.sdk)
                    .change_message_visibility()
                    .queue_url(w.close.queue().url())
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .expect("the message is visible again");
                run_until_failure(&w.close, period)
                    .await
                    .unwrap_or_else(|e| panic!("write {fail_at}: the redelivery failed: {e:?}"));
                assert_eq!(
                    outcome(w, &s.orgs(), period).await,
                    done,
                    "write {fail_at}: the redelivered message changed the close"
                );
            }
        }
    }
    assert_eq!(w.queue_depth().await, (0, 0), "write {fail_at}");
    for (party, lines) in [(&s.a, s.lines_a()), (&s.b, s.lines_b())] {
        let invoice = w.invoice(party.org, period).await.expect("invoiced");
        assert_invoice(&invoice, &lines, &format!("write {fail_at}"));
    }
    (outcome(w, &s.orgs(), period).await, faults.writes())
}

#[tokio::test]
async fn a_close_stopped_between_any_two_writes_and_rerun_equals_a_clean_run() {
    // The close's billing writes: its start, one planning page, the end of planning, and per
    // customer its issue (or skip) and the check whether the period is done.
    const WRITES: u64 = 3 + 2 * 3;
    // A clean run; each write stopped once; and one more past the last write, where no fault
    // fires — each in a world of its own, all side by side.
    let mut runs = futures::future::join_all((0..=WRITES + 1).map(close_with_fault)).await;
    let (clean, writes) = runs.remove(0);
    assert_eq!(writes, WRITES, "the clean run's billing writes");
    assert_eq!(clean.numbers, BTreeSet::from([1, 2]));
    assert_eq!(
        clean.counters,
        json!({"status": "closed", "planned": 3, "remaining": 0, "done": 2, "skipped": 1,
               "failed": 0, "plan_complete": true})
    );
    for customer in &clean.customers {
        let invoiced = !customer["invoice"].is_null();
        assert_eq!(
            customer["ledger"].as_array().map(Vec::len),
            Some(usize::from(invoiced))
        );
    }
    for (n, (faulty, _)) in (1..).zip(&runs) {
        assert_eq!(faulty, &clean, "stopped at write {n}, then run again");
    }
    assert_eq!(
        runs[WRITES as usize].1, WRITES,
        "past the last write, the close runs clean"
    );
}

// --- 4. late usage and work ------------------------------------------------------------------

#[tokio::test]
async fn late_usage_after_the_close_goes_to_the_next_period_and_never_changes_the_invoice() {
    let s = standard().await;
    let w = &s.world;
    let (period, next) = (w.period, w.period.next());
    w.close(period).await;
    assert_counters(&w.status(period).await.expect("closed"), "closed", 3, 2, 1);
    let billed_before = [w.billed_items(s.a.org).await, w.billed_items(s.b.org).await];
    let usage_before = w
        .store()
        .usage_billed_in(s.b.org, period)
        .await
        .expect("usage");

    // On 2 October: an event of 20 September arrives, and the job waiting since the 15th is
    // done.
    w.set_clock(at(day(next, 2), 10));
    let late = Usage {
        id: "b-late".into(),
        meter: METER,
        quantity: dec("120.5"),
        // Ten days before the period's end: 20 September.
        at: at(period.last_day() - chrono::Days::new(10), 12),
    };
    let report = w.send_usage(&s.b, std::slice::from_ref(&late)).await;
    assert_eq!((report.counted, report.late), (1, 1), "{report:?}");
    w.complete_waiting_jobs(1).await;

    // September's invoices and postings are exactly as issued.
    assert_eq!(w.billed_items(s.a.org).await, billed_before[0]);
    assert_eq!(w.billed_items(s.b.org).await, billed_before[1]);
    assert_eq!(
        w.store()
            .usage_billed_in(s.b.org, period)
            .await
            .expect("usage"),
        usage_before
    );

    // The late event is billed in October, marked late.
    let october = w
        .store()
        .usage_billed_in(s.b.org, next)
        .await
        .expect("usage");
    let meter = october
        .get(&METER.parse().expect("a code"))
        .expect("TRAFFIC");
    assert_eq!(
        (meter.total, meter.events, meter.late_events),
        (late.quantity, 1, 1)
    );
    assert_eq!(
        meter.by_day,
        BTreeMap::from([(
            kopek_tests::emulator::calendar().date_of(late.at),
            late.quantity
        )])
    );
    let draft = w
        .close
        .compose_for(
            next,
            s.b.org,
            &w.close.catalog().await.expect("catalog"),
            &w.close.settings().await.expect("settings"),
        )
        .await
        .expect("composed")
        .expect("something to bill")
        .draft;
    assert_eq!(
        draft.lines.iter().map(|l| &l.source).collect::<Vec<_>>(),
        [&LineSource::Usage {
            events: 1,
            late_events: 1
        }]
    );

    // The late job is an October charge; September keeps only the job done in September.
    let october = w.store().charges(s.a.org, next).await.expect("charges");
    assert_eq!(october.len(), 1, "{october:?}");
    assert_eq!(october[0].period, next);
    assert_eq!(october[0].amount, rub(dec(JOB_PRICE)));
    let september = w.store().charges(s.a.org, period).await.expect("charges");
    assert_eq!(september.len(), 1, "{september:?}");
    assert_eq!(september[0].quantity.value(), Decimal::from(DONE));
}

// --- 5. repeated triggers and messages -------------------------------------------------------

#[tokio::test]
async fn a_duplicated_trigger_or_message_creates_nothing_twice() {
    let s = standard().await;
    let w = &s.world;
    let period = w.period;
    let customer_messages: Vec<String> = s
        .orgs()
        .iter()
        .map(|org| {
            serde_json::to_string(&CloseMessage::Customer { period, org: *org }).expect("json")
        })
        .collect();

    // The trigger twice: the second resumes (a second plan message) and starts nothing.
    let first = w
        .close
        .start(period, Trigger::Schedule)
        .await
        .expect("started");
    let second = w
        .close
        .start(period, Trigger::Schedule)
        .await
        .expect("resumed");
    assert!(first.started);
    assert!(!second.started);
    assert_eq!(second.period.started_at, first.period.started_at);
    // Planned; then every customer's message twice more, handled by two workers at once.
    w.plan(period).await;
    for _ in 0..2 {
        w.close
            .queue()
            .send_messages(&customer_messages, 0)
            .await
            .expect("sent");
    }
    let (one, two) = tokio::join!(w.drain(), w.drain());
    let handled = one.handled + two.handled + w.drain().await.handled;
    // At least once each: the plan message of each trigger (each finds the page planned and
    // queues the customers again), and each customer's from the plan, the test (twice) and
    // the two plan messages.
    assert!(handled >= 2 + 3 * 5, "{handled} messages handled");

    let closed = outcome(w, &s.orgs(), period).await;
    assert_eq!(closed.numbers, BTreeSet::from([1, 2]));
    assert_eq!(
        closed.counters,
        json!({"status": "closed", "planned": 3, "remaining": 0, "done": 2, "skipped": 1,
               "failed": 0, "plan_complete": true})
    );
    let invoice_a = w.invoice(s.a.org, period).await.expect("a is invoiced");
    assert_invoice(&invoice_a, &s.lines_a(), "a");
    for org in s.orgs() {
        let entries = w.entries(org).await.len();
        assert_eq!(entries, usize::from(org != s.c.org), "{org}");
    }

    // After the close: the trigger again, every message again — nothing is written.
    let table = w.app.table_items().await;
    let again = w
        .close
        .start(period, Trigger::Schedule)
        .await
        .expect("resumed");
    assert!(!again.started);
    let plan = serde_json::to_string(&CloseMessage::Plan {
        period,
        cursor: None,
    })
    .expect("json");
    let mut bodies = customer_messages.clone();
    bodies.extend(customer_messages);
    bodies.push(plan);
    let bodies_sent = bodies.len();
    w.close
        .queue()
        .send_messages(&bodies, 0)
        .await
        .expect("sent");
    let drained = w.drain().await;
    assert_eq!(drained.failed, 0);
    assert!(drained.handled >= bodies_sent + 3, "{drained:?}");
    assert_eq!(w.app.table_items().await, table, "nothing changed");
    assert_eq!(outcome(w, &s.orgs(), period).await, closed);
    assert_eq!(w.sequence_last().await, 2);
}

// --- 6. refusals ---------------------------------------------------------------------------

#[tokio::test]
async fn bad_requests_change_nothing() {
    let w = World::new().await;
    let period = w.period;
    let a = w.party("Ромашка").await;
    w.subscribe(&a, 1).await;

    // The month has not ended: on its last evening it cannot close.
    w.set_clock(at(period.last_day(), 23));
    let table = w.app.table_items().await;
    match w.close.start(period, Trigger::Schedule).await {
        Err(CloseError::Invalid { field, .. }) => assert_eq!(field, "period"),
        other => panic!("a month that has not ended was closed: {other:?}"),
    }
    assert_eq!(w.status(period).await, None);
    assert_eq!(w.queue_depth().await, (0, 0));
    assert_eq!(w.app.table_items().await, table);

    // Closed once it ended.
    w.month_ended();
    w.close(period).await;
    assert_counters(&w.status(period).await.expect("closed"), "closed", 1, 1, 0);

    // On 1 December: November before October, or August after September, are out of order.
    let (october, november) = (period.next(), period.next().next());
    w.set_clock(at(november.end_exclusive(), 6));
    let table = w.app.table_items().await;
    for refused in [november, period.previous()] {
        match w.close.start(refused, Trigger::Admin("test".into())).await {
            Err(CloseError::Conflict(reason)) => assert!(!reason.is_empty()),
            other => panic!("{refused} closed out of order: {other:?}"),
        }
        assert_eq!(w.status(refused).await, None, "{refused}");
    }
    // Closing September again starts nothing.
    let again = w
        .close
        .start(period, Trigger::Admin("test".into()))
        .await
        .expect("answered");
    assert!(!again.started);
    assert_eq!(w.queue_depth().await, (0, 0));
    assert_eq!(w.app.table_items().await, table);

    // October twice at once: one close starts, the other finds it started.
    let (one, two) = tokio::join!(
        w.close.start(october, Trigger::Admin("one".into())),
        w.close.start(october, Trigger::Admin("two".into()))
    );
    let (one, two) = (one.expect("answered"), two.expect("answered"));
    assert!(one.started != two.started, "{one:?} / {two:?}");
    let winner = if one.started {
        "admin:one"
    } else {
        "admin:two"
    };
    let status = w.status(october).await.expect("started");
    assert_eq!(status.trigger, winner);
    assert_eq!(w.queue_depth().await, (1, 0), "one plan message");
    // November waits for October's planning: its seals would make the rest of October's
    // planning conflict and leave October's customers unbilled.
    let table = w.app.table_items().await;
    match w.close.start(november, Trigger::Schedule).await {
        Err(CloseError::Conflict(reason)) => {
            assert!(reason.contains("still being planned"), "{reason}");
        }
        other => panic!("November started before October was planned: {other:?}"),
    }
    assert_eq!(w.status(november).await, None);
    assert_eq!(w.queue_depth().await, (1, 0), "still the one plan message");
    assert_eq!(w.app.table_items().await, table);
    let periods = w.store().list_periods(10, None).await.expect("periods");
    assert_eq!(
        periods.items.iter().map(|p| p.period).collect::<Vec<_>>(),
        [october, period]
    );
    w.drain().await;
    assert_counters(&w.status(october).await.expect("closed"), "closed", 1, 1, 0);
    // October is a whole month of the one server, and the second number (numbers restart
    // each year: with longer periods it may be the first of the next year).
    let invoice = w.invoice(a.org, october).await.expect("invoiced");
    assert_invoice(
        &invoice,
        &[Line::new("subscription", FEE, Decimal::ONE, dec(FEE_PRICE))],
        "october",
    );
    let first = w.invoice(a.org, period).await.expect("invoiced");
    let second_seq = if invoice.number.year == first.number.year {
        first.number.seq + 1
    } else {
        1
    };
    assert_eq!(invoice.number.seq, second_seq);
    // October planned (and closed): November may start, and is the third number.
    assert!(
        w.close
            .start(november, Trigger::Schedule)
            .await
            .expect("started")
            .started
    );
    w.drain().await;
    assert_counters(
        &w.status(november).await.expect("closed"),
        "closed",
        1,
        1,
        0,
    );
    let invoice = w.invoice(a.org, november).await.expect("invoiced");
    assert_eq!(invoice.number.seq, second_seq + 1);
}

/// `CloseSchedule` of the template, fired as EventBridge Scheduler fires it: its cron's minute
/// and hour on the 1st of the month after `period` (the cron's month field `1/N` names every
/// N-th month from January, so the 1st after each period of N months), in its zone; its input with the
/// scheduled time filled in. The template's parameters are resolved as deployed
/// (`provisioned`).
fn scheduled_event(
    provisioned: &Provisioned,
    period: BillingPeriod,
) -> (DateTime<Utc>, kopek_events::close::ScheduledClose) {
    let template = Template::load_project(&tools::project_root()).expect("the template loads");
    let schedule = template
        .resource("PeriodCloseFunction")
        .expect("the function")
        .property("Events")
        .and_then(|e| e.get("CloseSchedule"))
        .and_then(|e| e.get("Properties"))
        .expect("CloseSchedule's properties");
    let text = |key: &str| {
        let value = schedule
            .get(key)
            .unwrap_or_else(|| panic!("CloseSchedule has no {key}"));
        provisioned
            .resolve_string(value)
            .unwrap_or_else(|e| panic!("CloseSchedule's {key}: {e:#}"))
    };
    let cron = text("ScheduleExpression");
    let fields: Vec<&str> = cron
        .strip_prefix("cron(")
        .and_then(|c| c.strip_suffix(')'))
        .expect("a cron expression")
        .split(' ')
        .collect();
    let months = kopek_tests::emulator::calendar().period_length().months();
    let every = format!("1/{months}");
    assert_eq!(
        fields[2..],
        ["1", every.as_str(), "?", "*"],
        "on the 1st of every {months}-th month from January: {cron}"
    );
    assert_eq!(
        (period.end_exclusive().month() - 1) % months,
        0,
        "{cron} does not fire in the month after {period}"
    );
    let (minute, hour): (u32, u32) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
    let zone: chrono_tz::Tz = text("ScheduleExpressionTimezone").parse().expect("a zone");
    let fired = period
        .end_exclusive()
        .and_hms_opt(hour, minute, 0)
        .expect("a time")
        .and_local_timezone(zone)
        .single()
        .expect("one instant")
        .with_timezone(&Utc);
    let input = text("Input").replace(
        "<aws.scheduler.scheduled-time>",
        &fired.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    (
        fired,
        serde_json::from_str(&input).expect("the input is a ScheduledClose"),
    )
}

#[tokio::test]
async fn the_templates_schedule_closes_the_month_that_just_ended() {
    let w = World::new().await;
    let a = w.party("Ромашка").await;
    w.subscribe(&a, 1).await;
    // Every period of twelve fires after it ended and closes exactly that period.
    for months in 0..12 {
        let mut period = w.period;
        for _ in 0..months {
            period = period.next();
        }
        let (fired, event) = scheduled_event(&w.app.provisioned, period);
        assert!(
            kopek_tests::emulator::calendar().date_of(fired) >= period.end_exclusive(),
            "the schedule for {period} fires at {fired}, before the month ended in UTC"
        );
        let named = match (event.period, event.scheduled_time) {
            (None, Some(at)) => {
                kopek_services::close::scheduled_period(at, &event.time_zone, w.close.calendar())
                    .expect("a period")
            }
            other => panic!("the schedule's input names {other:?}"),
        };
        assert_eq!(named, period, "fired at {fired}");
    }
    // And the function's handler, at that instant, starts the close and issues the invoice.
    let (fired, event) = scheduled_event(&w.app.provisioned, w.period);
    w.set_clock(fired);
    let answer = kopek_events::close::handle_schedule(&w.close, event)
        .await
        .expect("the scheduled close starts");
    assert_eq!((answer.period, answer.started), (w.period, true));
    w.drain().await;
    assert_counters(
        &w.status(w.period).await.expect("closed"),
        "closed",
        1,
        1,
        0,
    );
    assert!(w.invoice(a.org, w.period).await.is_some());
}

// --- 7. one customer fails ------------------------------------------------------------------

#[tokio::test]
async fn a_customer_that_cannot_be_invoiced_fails_alone_and_is_listed() {
    let w = World::new().await;
    let period = w.period;
    let a = w.party("Ромашка").await;
    let b = w.party("Василёк").await;
    let c = w.party("Лютик").await;
    w.subscribe(&a, 1).await;
    w.subscribe(&b, 1).await;
    // `b` also uses a meter priced in dollars, which an invoice in roubles cannot bill.
    // Ingestion refuses such events (and keeps them as rejected) ...
    w.set_clock(at(day(period, 20), 12));
    let foreign: Vec<Usage> = (0..3)
        .map(|k| Usage {
            id: format!("roaming-{k}"),
            meter: FOREIGN_METER,
            quantity: Decimal::from(10 + k),
            at: at(day(period, 12 + k as u32), 9),
        })
        .collect();
    let refused = w.send_usage(&b, &foreign).await;
    assert_eq!((refused.counted, refused.rejected), (0, 3), "{refused:?}");
    let rejected = w
        .store()
        .list_rejected(period, 10, None)
        .await
        .expect("rejected events")
        .items;
    let reasons: Vec<(RejectReason, &str)> = rejected
        .iter()
        .map(|r| (r.reason, r.field.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [(RejectReason::CurrencyMismatch, "meter"); 3],
        "{rejected:?}"
    );
    // ... so here they are counted as another writer of the table would (or as ingestion did
    // before that rule): the close must still isolate the customer it cannot invoice.
    let foreign_code: kopek_domain::catalog::ServiceCode = FOREIGN_METER.parse().expect("a code");
    for event in &foreign {
        let metered = MeteredEvent {
            id: EventKey::try_from(event.id.clone()).expect("an id"),
            org: b.org,
            meter: foreign_code.clone(),
            quantity: Quantity::new(event.quantity).expect("a quantity"),
            timestamp: event.at,
            day: w.app.state.calendar().date_of(event.at),
            period,
            billed_in: period,
            properties: BTreeMap::new(),
        };
        w.store()
            .put_usage_event(&metered, w.now())
            .await
            .expect("counted");
    }
    w.store()
        .mark_meter_used(b.org, &foreign_code, period)
        .await
        .expect("marked");
    let used = usage_events("c", period, 3, 60, 90);
    assert_eq!(w.send_usage(&c, &used).await.counted, used.len() as u64);
    w.month_ended();

    // A dry run shows it beforehand: the others' drafts, and `b` with the reason its close
    // will fail with.
    let preview = w.close.preview(period, 10, None).await.expect("a preview");
    let drafted: BTreeSet<OrgId> = preview.drafts.iter().map(|d| d.org).collect();
    assert_eq!(drafted, BTreeSet::from([a.org, c.org]));
    let [(failing, foreseen)] = preview.failures.as_slice() else {
        panic!("one customer cannot be invoiced: {:?}", preview.failures);
    };
    assert_eq!(*failing, b.org);

    w.close(period).await;
    let status = w.status(period).await.expect("started");
    assert_eq!(
        (
            status.status.as_str(),
            status.planned,
            status.done,
            status.failed,
            status.remaining
        ),
        ("closing", 3, 2, 1, 1),
        "{status:?}"
    );
    let failed = w
        .store()
        .list_jobs(period, Some(JobStatus::Failed), 100, None)
        .await
        .expect("failed jobs")
        .items;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].org, b.org);
    assert_eq!(failed[0].attempts, 1);
    let reason = failed[0].error.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("currency:") && reason.contains(FOREIGN_METER),
        "{reason}"
    );
    assert_eq!(reason, foreseen, "the dry run foresaw it");
    assert_eq!(w.invoice(b.org, period).await, None);
    assert!(w.entries(b.org).await.is_empty());
    // The others are invoiced, numbered 1 and 2.
    let fee = Line::new(
        "subscription",
        FEE,
        Decimal::ONE,
        prorated(dec(FEE_PRICE), period, day(period, 10)),
    );
    let invoice_a = w.invoice(a.org, period).await.expect("a is invoiced");
    assert_invoice(&invoice_a, std::slice::from_ref(&fee), "a");
    let used_total = total(&used);
    let invoice_c = w.invoice(c.org, period).await.expect("c is invoiced");
    assert_invoice(
        &invoice_c,
        &[Line::new("usage", METER, used_total, graduated(used_total))],
        "c",
    );
    let numbers = BTreeSet::from([invoice_a.number.seq, invoice_c.number.seq]);
    assert_eq!(numbers, BTreeSet::from([1, 2]));

    // The fix: the dollar usage is taken out of `b`'s month (its events and its meter mark).
    let client = aws_sdk_dynamodb::Client::new(&w.app.sdk);
    let partitions: BTreeSet<String> = (0..kopek_aws::dynamo::usage::SHARDS)
        .map(|shard| keys::usage_partition(&b.org, &foreign_code, period, shard))
        .collect();
    let mut keys: Vec<(String, String)> = w
        .app
        .scan_all()
        .await
        .iter()
        .filter_map(|item| {
            let pk = item.get("PK")?.as_s().ok()?;
            let sk = item.get("SK")?.as_s().ok()?;
            partitions.contains(pk).then(|| (pk.clone(), sk.clone()))
        })
        .collect();
    assert_eq!(keys.len(), foreign.len(), "the dollar events");
    keys.push((
        format!("ORG#{}", b.org),
        keys::meter_used(period, &foreign_code),
    ));
    for (pk, sk) in keys {
        client
            .delete_item()
            .table_name(w.store().table())
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S(sk))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await
            .expect("deleted");
    }

    // Resumed: `b` alone is queued again, invoiced with the next number, and the close ends.
    assert_eq!(w.close.resume(period).await.expect("resumed"), 1);
    w.drain().await;
    assert_counters(&w.status(period).await.expect("closed"), "closed", 3, 3, 0);
    let invoice_b = w.invoice(b.org, period).await.expect("b is invoiced");
    assert_invoice(&invoice_b, &[fee], "b");
    assert_eq!(invoice_b.number.seq, 3);
    let job = w
        .store()
        .job(period, b.org)
        .await
        .expect("read")
        .expect("a job");
    assert_eq!((job.status, job.error.as_deref()), (JobStatus::Done, None));
    assert_eq!(w.entries(b.org).await.len(), 1);
    assert_eq!(w.sequence_last().await, 3);
}

// --- 8. prepaid customers --------------------------------------------------------------------

/// `amount` with two decimals, as the API writes money.
fn money_text(amount: Decimal) -> String {
    let mut amount = amount;
    amount.rescale(2);
    amount.to_string()
}

/// Records a payment received today through the API as `accountant`; the response.
async fn pay_as(
    w: &World,
    accountant: &str,
    party: &Party,
    amount: &str,
    reference: &str,
) -> kopek_tests::TestResponse {
    let today = kopek_tests::emulator::calendar().date_of(w.now());
    w.app
        .post(
            "/v1/billing/payments",
            Some(accountant),
            &json!({"org_id": party.org.to_string(), "amount": amount, "currency": "RUB",
                "received_on": today.to_string(), "reference": reference}),
        )
        .await
}

/// Records a payment received today through the API, as a new accountant; the response.
async fn pay(w: &World, party: &Party, amount: &str, reference: &str) -> kopek_tests::TestResponse {
    let accountant = w.app.staff_with_role("accountant").await;
    pay_as(w, &accountant, party, amount, reference).await
}

#[tokio::test]
async fn a_prepaid_customers_credit_pays_its_invoices_as_they_are_issued_until_it_runs_out() {
    use kopek_domain::invoicing::InvoiceStatus;
    let w = World::new().await;
    let (period, next) = (w.period, w.period.next());
    let a = w.party("Ромашка").await;
    let b = w.party("Василёк").await;
    w.subscribe(&a, 1).await;
    w.subscribe(&b, 1).await;

    // Ромашка pays 1,500.00 in advance, before it has any invoice: all of it is credit.
    let prepaid = dec("1500.00");
    let paid = pay(&w, &a, &money_text(prepaid), "п/п 1").await;
    paid.assert_status(201);
    assert_eq!(paid.body["settled"], json!([]));
    assert_eq!(paid.body["to_credit"], money_text(prepaid));

    // The close: Ромашка's invoice is paid from the credit as it is issued; Василёк's is not.
    w.month_ended();
    w.close(period).await;
    let today = kopek_tests::emulator::calendar().date_of(w.now());
    let first = w.invoice(a.org, period).await.expect("invoiced");
    let drawn = first.draft.gross.amount().min(prepaid);
    assert_eq!(first.paid.amount(), drawn);
    let expected = if drawn == first.draft.gross.amount() {
        InvoiceStatus::Paid
    } else {
        InvoiceStatus::PartlyPaid
    };
    assert_eq!(first.status_on(today), expected);
    let control = w.invoice(b.org, period).await.expect("invoiced");
    assert!(control.paid.is_zero());
    assert_eq!(control.status_on(today), InvoiceStatus::Issued);
    // The ledger says the same: the balance is what is open less the credit.
    let credit_left = prepaid - drawn;
    let admin = w.app.admin().await;
    let balance = w
        .app
        .get(
            &format!("/v1/billing/balance?org_id={}", a.org),
            Some(&admin),
        )
        .await;
    balance.assert_status(200);
    assert_eq!(balance.body["credit"], money_text(credit_left));
    assert_eq!(
        balance.body["balance"],
        money_text(first.open_amount().amount() - credit_left)
    );

    // The next period draws down what is left, then the credit is gone.
    w.set_clock(at(next.end_exclusive(), 6));
    w.close(next).await;
    let second = w.invoice(a.org, next).await.expect("invoiced");
    assert_eq!(
        second.paid.amount(),
        second.draft.gross.amount().min(credit_left)
    );
    let credit = w
        .store()
        .credit(a.org, Currency::RUB)
        .await
        .expect("the credit");
    assert_eq!(
        credit.amount.amount(),
        credit_left - second.paid.amount(),
        "drawn once, not twice"
    );

    // A payment now settles the open invoices oldest first; what is left is credit.
    let open = second.open_amount().amount() + first.open_amount().amount();
    assert!(
        open > Decimal::ZERO,
        "a full period costs more than the credit left"
    );
    let paid = pay(&w, &a, &money_text(open + dec("100.00")), "п/п 2").await;
    paid.assert_status(201);
    let settled: Vec<&str> = paid.body["settled"]
        .as_array()
        .expect("settled")
        .iter()
        .map(|s| s["number"].as_str().expect("a number"))
        .collect();
    assert_eq!(settled.last(), Some(&second.number.to_string().as_str()));
    assert_eq!(paid.body["to_credit"], "100.00");
    let now_paid = w.invoice(a.org, next).await.expect("invoiced");
    assert_eq!(
        now_paid.status_on(kopek_tests::emulator::calendar().date_of(w.now())),
        InvoiceStatus::Paid
    );

    // The same payment again is the one recorded (a retried request counts nothing twice);
    // the same reference with another amount is refused, and nothing changes.
    let accountant = w.app.staff_with_role("accountant").await;
    let table = w.app.table_items().await;
    let again = pay_as(
        &w,
        &accountant,
        &a,
        &money_text(open + dec("100.00")),
        "п/п 2",
    )
    .await;
    again.assert_status(200);
    assert_eq!(again.body["id"], paid.body["id"]);
    let other = pay_as(&w, &accountant, &a, "1.00", " п/п 2 ").await;
    other.assert_problem(409, "conflict");
    assert_eq!(other.field(), "reference");
    assert_eq!(w.app.table_items().await, table, "nothing recorded twice");

    // Every entry balances, and the customer's balance is what is open less the credit.
    let entries = w
        .store()
        .ledger_entries::<Entry>(a.org)
        .await
        .expect("entries");
    assert!(ledger::is_balanced(&entries));
    let credit = w
        .store()
        .credit(a.org, Currency::RUB)
        .await
        .expect("credit");
    assert_eq!(credit.amount.amount(), dec("100.00"));
    let on = kopek_tests::emulator::calendar().date_of(w.now());
    let balance = ledger::customer_balance(&entries, a.org, on, Currency::RUB).expect("balance");
    assert_eq!(balance.amount(), -dec("100.00"));

    // A credit note on the paid first invoice gives what it was paid back as credit: the
    // invoice is void, nothing of it is paid any more, and the balance moves by as much.
    let first = w.invoice(a.org, period).await.expect("invoiced");
    let note = w
        .app
        .post(
            &format!("/v1/invoices/{}/credit-notes", first.id),
            Some(&accountant),
            &json!({"reason": "Услуга не оказана"}),
        )
        .await;
    note.assert_status(201);
    let voided = w.invoice(a.org, period).await.expect("invoiced");
    assert!(voided.paid.is_zero(), "{voided:?}");
    assert_eq!(voided.status_on(on), InvoiceStatus::Void);
    let credit = w
        .store()
        .credit(a.org, Currency::RUB)
        .await
        .expect("credit");
    assert_eq!(credit.amount.amount(), dec("100.00") + first.paid.amount());
    let entries = w
        .store()
        .ledger_entries::<Entry>(a.org)
        .await
        .expect("entries");
    let balance = ledger::customer_balance(&entries, a.org, on, Currency::RUB).expect("balance");
    assert_eq!(balance.amount(), -credit.amount.amount());

    // The customer sees its own payments and credit, not another's.
    let token = w.token(&a).await;
    let own = w.app.get("/v1/billing/payments", Some(&token)).await;
    own.assert_status(200);
    assert_eq!(own.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(own.body["credit"], money_text(credit.amount.amount()));
    let theirs = w
        .app
        .get(
            &format!("/v1/billing/payments?org_id={}", b.org),
            Some(&token),
        )
        .await;
    theirs.assert_status(404);
}

#[tokio::test]
async fn a_bad_payment_is_refused_naming_the_field_and_changes_nothing() {
    let w = World::new().await;
    let a = w.party("Ромашка").await;
    let accountant = w.app.staff_with_role("accountant").await;
    let manager = w.app.staff_with_role("manager").await;
    let today = kopek_tests::emulator::calendar().date_of(w.now());
    let tomorrow = today.succ_opt().expect("a day");
    let org = a.org.to_string();
    let body = |amount: &str, currency: &str, on: NaiveDate, reference: &str| {
        json!({"org_id": org, "amount": amount, "currency": currency,
            "received_on": on.to_string(), "reference": reference})
    };
    let table = w.app.table_items().await;
    for (request, field) in [
        (body("0.00", "RUB", today, "1"), "amount"),
        (body("-5.00", "RUB", today, "1"), "amount"),
        (body("10.005", "RUB", today, "1"), "amount"),
        (body("10.00", "USD", today, "1"), "currency"),
        (body("10.00", "RUB", tomorrow, "1"), "received_on"),
        (body("10.00", "RUB", today, "   "), "reference"),
        (body("10.00", "RUB", today, &"x".repeat(65)), "reference"),
        (
            json!({"org_id": OrgId::new().to_string(), "amount": "10.00", "currency": "RUB",
                "received_on": today.to_string(), "reference": "1"}),
            "org_id",
        ),
        (
            json!({"org_id": org, "amount": "10.00", "currency": "RUB", "reference": "1"}),
            "received_on",
        ),
        (
            json!({"org_id": org, "amount": 10, "currency": "RUB",
                "received_on": today.to_string(), "reference": "1"}),
            "amount",
        ),
        (
            json!({"org_id": org, "amount": "10.00", "currency": "RUB",
                "received_on": today.to_string(), "reference": "1", "invoice": "x"}),
            "invoice",
        ),
    ] {
        let response = w
            .app
            .post("/v1/billing/payments", Some(&accountant), &request)
            .await;
        assert!(
            matches!(response.status.as_u16(), 400 | 422),
            "{request}: {} {}",
            response.status,
            response.body
        );
        assert_eq!(response.field(), field, "{request}: {}", response.body);
    }
    // Only accountants and admins record payments; customers never.
    let good = body("10.00", "RUB", today, "1");
    for token in [manager, a.customer.token.clone()] {
        w.app
            .post("/v1/billing/payments", Some(&token), &good)
            .await
            .assert_problem(403, "forbidden");
    }
    assert_eq!(w.app.table_items().await, table, "nothing recorded");
}
