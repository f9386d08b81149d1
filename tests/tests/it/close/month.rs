//! The month every close test bills: the catalog, the expected figures worked out from the
//! inputs (prices, tiers, quantities, days — never read back from what the close wrote), the
//! standard month of three customers, and what a close leaves behind, comparable across runs.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use kopek_aws::dynamo::billing::StoredPeriod;
use kopek_domain::ids::OrgId;
use kopek_domain::invoicing::{Invoice, LineSource};
use kopek_domain::money::{Currency, Money};
use kopek_domain::period::BillingPeriod;
use kopek_tests::expected;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::world::*;

// --- the catalog ----------------------------------------------------------------------------

/// A recurring fee, per unit and month.
pub(super) const FEE: &str = "HOSTING";
pub(super) const FEE_PRICE: &str = "1000.00";
/// A one-off job done by an engineer, per piece.
pub(super) const JOB: &str = "SETUP";
pub(super) const JOB_PRICE: &str = "2500.00";
pub(super) const WORK_TYPE: &str = "install";
/// A metered service on graduated tiers: (inclusive upper bound, unit price).
pub(super) const METER: &str = "TRAFFIC";
pub(super) const TIERS: [(Option<&str>, &str); 3] = [
    (Some("100"), "0.00"),
    (Some("1000"), "1.50"),
    (None, "1.20"),
];
/// A meter priced in another currency than the customers' (roubles).
pub(super) const FOREIGN_METER: &str = "ROAMING";
/// Every service's VAT rate, in per cent; prices exclude it (the default settings).
pub(super) const VAT: &str = "20";
/// The invoice series of the template's environment.
pub(super) const SERIES: &str = "KPK";

pub(super) fn dec(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

pub(super) fn rub(amount: Decimal) -> Money {
    Money::new(amount, Currency::RUB)
}

pub(super) fn catalog() -> Vec<Value> {
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

/// `quantity` cut into the slices of [`TIERS`] it reaches: (gigabytes, unit price) each.
pub(super) fn slices(quantity: Decimal) -> Vec<(Decimal, Decimal)> {
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
pub(super) fn graduated(quantity: Decimal) -> Decimal {
    expected::kopecks(slices(quantity).iter().map(|(q, price)| q * price).sum())
}

/// The fee of `full` a period for the days from `from` to the period's end
/// ([`expected::prorated`]: one share a day, the left-over kopecks to the earliest days).
pub(super) fn prorated(full: Decimal, period: BillingPeriod, from: NaiveDate) -> Decimal {
    expected::prorated(full, period, from, period.end_exclusive())
}

pub(super) fn vat(net: Decimal) -> Decimal {
    expected::tax(net, dec(VAT))
}

/// One line an invoice must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub(super) kind: &'static str,
    pub(super) service: String,
    pub(super) quantity: Decimal,
    pub(super) amount: Decimal,
}

impl Line {
    pub(super) fn new(
        kind: &'static str,
        service: &str,
        quantity: Decimal,
        amount: Decimal,
    ) -> Self {
        Line {
            kind,
            service: service.to_owned(),
            quantity,
            amount,
        }
    }

    pub(super) fn of(invoice: &Invoice) -> Vec<Line> {
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

pub(super) fn kind(source: &LineSource) -> &'static str {
    match source {
        LineSource::Subscription { .. } => "subscription",
        LineSource::Charge { .. } => "charge",
        LineSource::Usage { .. } => "usage",
    }
}

/// Asserts `invoice` has exactly `lines`, each taxed at [`VAT`] on its own, and totals that
/// are the sums of its lines.
#[track_caller]
pub(super) fn assert_invoice(invoice: &Invoice, lines: &[Line], who: &str) {
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
pub(super) fn month() -> BillingPeriod {
    kopek_tests::emulator::calendar()
        .period_of_date(NaiveDate::from_ymd_opt(2026, 9, 1).expect("a day"))
}

pub(super) fn day(period: BillingPeriod, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(period.year(), period.month(), d).expect("a day")
}

/// `hour` hours after the provider's midnight of `date`.
pub(super) fn at(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    kopek_tests::emulator::calendar().start_of(date) + chrono::TimeDelta::hours(hour.into())
}

/// The month of [`World::new`]: on the 10th at 09:00 `a` subscribes to two [`FEE`] and orders
/// two pieces of [`JOB`]; on the 15th an engineer does that job with three pieces, and `a`
/// orders one more piece, still waiting at the close; by the 29th `a` has sent 24 events of
/// [`METER`] (40–70 GB each) and `b` 20 (5–25 GB each); `c` does nothing. The clock then
/// stands at 06:00 on 1 October.
pub(super) struct Standard {
    pub(super) world: World,
    pub(super) a: Party,
    pub(super) b: Party,
    pub(super) c: Party,
    pub(super) usage_a: Vec<Usage>,
    pub(super) usage_b: Vec<Usage>,
}

pub(super) const FEE_QUANTITY: u32 = 2;
pub(super) const ORDERED: u32 = 2;
pub(super) const DONE: u32 = 3;

pub(super) async fn standard() -> Standard {
    standard_with(24, 20).await
}

/// The standard month with `events_a` and `events_b` usage events (`b` needs 8 or more to
/// pass the free tier).
pub(super) async fn standard_with(events_a: u64, events_b: u64) -> Standard {
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
    pub(super) fn orgs(&self) -> [OrgId; 3] {
        [self.a.org, self.b.org, self.c.org]
    }

    /// `a`'s lines: the fee from the 10th, the done job, the month's usage on the tiers.
    pub(super) fn lines_a(&self) -> Vec<Line> {
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

    pub(super) fn lines_b(&self) -> Vec<Line> {
        let used = total(&self.usage_b);
        vec![Line::new("usage", METER, used, graduated(used))]
    }
}

// --- what a close left, comparable across applications -------------------------------------

/// What a close left behind, per customer in the order given: its invoice without ids
/// (which differ between applications), its job and its ledger postings; the numbers used
/// (by invoice) and the period's counters.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Outcome {
    pub(super) customers: Vec<Value>,
    /// The invoices' numbers, as printed.
    pub(super) numbers: BTreeSet<String>,
    pub(super) counters: Value,
}

impl Outcome {
    /// The same outcome with its numbers checked — `total`, gapless in each series — and
    /// left out: worlds of their own place their (random) customers in other series.
    #[track_caller]
    pub(super) fn numbered_gapless(&self, total: usize) -> Outcome {
        assert_gapless(&self.numbers, total);
        Outcome {
            numbers: BTreeSet::new(),
            ..self.clone()
        }
    }
}

pub(super) async fn outcome(world: &World, orgs: &[OrgId], period: BillingPeriod) -> Outcome {
    let mut customers = Vec::new();
    let mut numbers = BTreeSet::new();
    for org in orgs {
        let invoice = world.invoice(*org, period).await;
        if let Some(invoice) = &invoice {
            assert!(
                numbers.insert(invoice.number.to_string()),
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

/// Asserts that `numbers` are `total` invoice numbers without a gap or a repeat in each of
/// their series (each series numbered 1, 2, … ); returns how many each series has.
#[track_caller]
pub(super) fn assert_gapless(numbers: &BTreeSet<String>, total: usize) -> BTreeMap<String, u64> {
    let mut seqs: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for text in numbers {
        let number: kopek_domain::invoicing::InvoiceNumber = text.parse().expect("a number");
        seqs.entry(number.series.as_str().to_owned())
            .or_default()
            .push(number.seq);
    }
    let mut counts = BTreeMap::new();
    for (series, mut list) in seqs {
        list.sort_unstable();
        let k = list.len() as u64;
        assert_eq!(
            list,
            (1..=k).collect::<Vec<_>>(),
            "series {series}: {numbers:?}"
        );
        counts.insert(series, k);
    }
    assert_eq!(numbers.len(), total, "{numbers:?}");
    counts
}

#[track_caller]
pub(super) fn assert_counters(
    status: &StoredPeriod,
    state: &str,
    planned: u64,
    done: u64,
    skipped: u64,
) {
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
