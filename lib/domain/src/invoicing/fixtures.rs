//! Fixtures shared by the invoicing and ledger tests: a catalog, a customer's close, issued
//! invoices and credit notes, and proptest strategies for them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::{
    BillingSettings, CloseInput, CreditNote, CreditRequestLine, DocumentKind, Invoice,
    InvoiceDraft, InvoiceNumber, InvoiceSeries, InvoicingError, TaxMode, ZeroInvoicePolicy,
    compose, credit_note, issue,
};
use crate::catalog::{
    CancellationPolicy, LocalizedText, NewService, PriceVersion, Service, ServiceCode, ServiceKind,
    TaxRate, UnitOfMeasure,
};
use crate::charges::{Charge, ChargeSource};
use crate::ids::{ChargeId, CreditNoteId, InvoiceId, OrderId, OrgId, SubscriptionId, WorkOrderId};
use crate::money::{Currency, Money};
use crate::period::BillingPeriod;
use crate::pricing::{Price, PriceModel, Quantity, Tier};
use crate::subscriptions::{NewSubscription, Pause, Subscription};
use crate::usage::MeterUsage;

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn nov(d: u32) -> NaiveDate {
    day(2026, 11, d)
}

pub fn period(text: &str) -> BillingPeriod {
    text.parse().unwrap()
}

pub fn code(text: &str) -> ServiceCode {
    text.parse().unwrap()
}

pub fn rub(amount: Decimal) -> Money {
    Money::new(amount, Currency::RUB)
}

pub fn rate(percent: Decimal) -> TaxRate {
    TaxRate::from_percent(percent).unwrap()
}

/// When the catalog's prices were set: before every period the tests close.
pub fn catalog_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap()
}

pub fn per_unit(currency: Currency, unit_price: Decimal) -> Price {
    Price::new(currency, PriceModel::PerUnit { unit_price }, None, None).unwrap()
}

pub fn flat(currency: Currency, amount: Decimal) -> Price {
    Price::new(currency, PriceModel::Flat { amount }, None, None).unwrap()
}

/// Tiers 1–5 at 7.00, 6–10 at 6.50, 11 and more at 6.00.
pub fn tiers() -> Vec<Tier> {
    vec![
        Tier::bounded(Decimal::new(5, 0), Decimal::new(700, 2)),
        Tier::bounded(Decimal::new(10, 0), Decimal::new(650, 2)),
        Tier::unbounded(Decimal::new(600, 2)),
    ]
}

pub fn graduated(currency: Currency) -> Price {
    Price::new(
        currency,
        PriceModel::Graduated { tiers: tiers() },
        None,
        None,
    )
    .unwrap()
}

pub fn volume(currency: Currency) -> Price {
    Price::new(currency, PriceModel::Volume { tiers: tiers() }, None, None).unwrap()
}

/// A service of the catalog with its one price version.
pub fn service(
    code_text: &str,
    kind: ServiceKind,
    unit: UnitOfMeasure,
    tax_rate: TaxRate,
    price: Price,
    cancellation: CancellationPolicy,
) -> (Service, Vec<PriceVersion>) {
    let (service, version) = Service::create(
        NewService {
            code: code(code_text),
            name: LocalizedText::new(
                &format!("Услуга {code_text}"),
                &format!("Service {code_text}"),
            )
            .unwrap(),
            description: None,
            unit,
            kind,
            work_type: (kind == ServiceKind::OneOff).then(|| "installation".parse().unwrap()),
            cancellation,
            tax_rate,
            tax_exemption: None,
            currency: price.currency(),
            price,
        },
        catalog_time(),
    )
    .unwrap();
    (service, vec![version])
}

/// A recurring service billed per month, cancelled at the end of the period.
pub fn recurring(code_text: &str, price: Price, tax_rate: TaxRate) -> (Service, Vec<PriceVersion>) {
    service(
        code_text,
        ServiceKind::Recurring,
        UnitOfMeasure::Month,
        tax_rate,
        price,
        CancellationPolicy::EndOfPeriod,
    )
}

/// A metered service counted in requests.
pub fn metered(code_text: &str, price: Price, tax_rate: TaxRate) -> (Service, Vec<PriceVersion>) {
    service(
        code_text,
        ServiceKind::Metered,
        UnitOfMeasure::Request,
        tax_rate,
        price,
        CancellationPolicy::EndOfPeriod,
    )
}

pub fn settings(tax_mode: TaxMode) -> BillingSettings {
    BillingSettings {
        series: series(),
        series_count: crate::invoicing::SeriesCount::ONE,
        tax_mode,
        zero_invoices: ZeroInvoicePolicy::Skip,
        payment_terms_days: 14,
        bank_accounts: Vec::new(),
    }
}

pub fn series() -> InvoiceSeries {
    InvoiceSeries::new("KPK").unwrap()
}

/// Everything one customer's close reads, owned.
pub struct Close {
    pub org: OrgId,
    pub period: BillingPeriod,
    pub currency: Currency,
    pub charges: Vec<Charge>,
    pub subscriptions: Vec<Subscription>,
    pub paused: Vec<Pause>,
    pub usage: BTreeMap<ServiceCode, MeterUsage>,
    pub catalog: BTreeMap<ServiceCode, (Service, Vec<PriceVersion>)>,
}

impl Close {
    pub fn new(period_text: &str, currency: Currency) -> Self {
        Self {
            org: OrgId::new(),
            period: period(period_text),
            currency,
            charges: Vec::new(),
            subscriptions: Vec::new(),
            paused: Vec::new(),
            usage: BTreeMap::new(),
            catalog: BTreeMap::new(),
        }
    }

    pub fn with(mut self, entry: (Service, Vec<PriceVersion>)) -> Self {
        self.catalog.insert(entry.0.code().clone(), entry);
        self
    }

    pub fn input(&self) -> CloseInput<'_> {
        CloseInput {
            org: self.org,
            period: self.period,
            calendar: crate::calendar::Calendar::UTC,
            currency: self.currency,
            charges: &self.charges,
            subscriptions: &self.subscriptions,
            paused: &self.paused,
            usage: &self.usage,
            catalog: &self.catalog,
        }
    }

    pub fn compose(
        &self,
        settings: &BillingSettings,
    ) -> Result<Option<InvoiceDraft>, InvoicingError> {
        compose(&self.input(), settings)
    }

    /// Composes a draft that must exist.
    pub fn draft(&self, tax_mode: TaxMode) -> InvoiceDraft {
        self.compose(&settings(tax_mode)).unwrap().unwrap()
    }

    /// A charge of one piece of `service` (need not be in the catalog) for `amount` in the
    /// close's currency, at `tax_rate`, rendered on `rendered_on`.
    pub fn charge(
        &mut self,
        service: &str,
        amount: Decimal,
        tax_rate: TaxRate,
        rendered_on: NaiveDate,
    ) -> ChargeId {
        let id = ChargeId::new();
        self.charge_with(
            id,
            service,
            Decimal::ONE,
            Money::new(amount, self.currency),
            tax_rate,
            rendered_on,
        );
        id
    }

    pub fn charge_with(
        &mut self,
        id: ChargeId,
        service: &str,
        quantity: Decimal,
        amount: Money,
        tax_rate: TaxRate,
        rendered_on: NaiveDate,
    ) {
        self.charges.push(Charge {
            id,
            org: self.org,
            period: self.period,
            source: ChargeSource::WorkOrder {
                order: OrderId::new(),
                line_no: 1,
                work_order: WorkOrderId::new(),
            },
            service: code(service),
            description: LocalizedText::new("Монтаж", "Installation").unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
            unit: UnitOfMeasure::Piece,
            price_version: 1,
            tax_rate,
            amount,
            rendered_on,
            created_at: catalog_time(),
        });
    }

    /// Subscribes the customer to `quantity` of a service of the catalog from `from`.
    pub fn subscribe(
        &mut self,
        service: &str,
        quantity: Decimal,
        from: NaiveDate,
    ) -> &mut Subscription {
        self.subscribe_as(SubscriptionId::new(), service, quantity, from)
    }

    pub fn subscribe_as(
        &mut self,
        id: SubscriptionId,
        service: &str,
        quantity: Decimal,
        from: NaiveDate,
    ) -> &mut Subscription {
        let today = from.min(self.period.first_day());
        let subscription = Subscription::start(
            id,
            NewSubscription {
                org: self.org,
                service: &self.catalog[&code(service)].0,
                price_version: 1,
                quantity: Quantity::new(quantity).unwrap(),
                from,
            },
            today,
            catalog_time(),
        )
        .unwrap();
        self.subscriptions.push(subscription);
        self.subscriptions.last_mut().unwrap()
    }

    /// Counts usage events of `meter`: (day, quantity) each.
    pub fn use_meter(&mut self, meter: &str, events: &[(NaiveDate, Decimal)]) {
        let usage = self.usage.entry(code(meter)).or_default();
        for (day, quantity) in events {
            usage.add(*day, *quantity, false).unwrap();
        }
    }
}

/// Issues a draft on 2026-12-01 as `KPK-2026-000001`, due in 14 days.
pub fn issued(draft: InvoiceDraft) -> Invoice {
    issue(
        draft,
        InvoiceId::new(),
        InvoiceNumber::first(series(), DocumentKind::Invoice, 2026),
        day(2026, 12, 1),
        14,
    )
    .unwrap()
}

/// A credit note of `invoice` on 2026-12-05, numbered after the `earlier` ones.
pub fn credit(
    invoice: &Invoice,
    earlier: &[CreditNote],
    request: &[CreditRequestLine],
) -> Result<CreditNote, InvoicingError> {
    let number = InvoiceNumber::new(
        series(),
        DocumentKind::CreditNote,
        2026,
        earlier.len() as u64 + 1,
    )
    .unwrap();
    credit_note(
        invoice,
        earlier,
        request,
        "Correction agreed with the customer",
        CreditNoteId::new(),
        number,
        day(2026, 12, 5),
    )
}

/// A request for `amount` (or all that is left) of line `no`.
pub fn take(no: u16, amount: Option<Decimal>) -> CreditRequestLine {
    CreditRequestLine {
        line_no: no,
        amount,
    }
}

// --- Strategies ------------------------------------------------------------------------------

pub fn any_tax_rate() -> impl Strategy<Value = TaxRate> {
    prop::sample::select(vec![
        TaxRate::Exempt,
        TaxRate::Percent(Decimal::ZERO),
        TaxRate::Percent(Decimal::TEN),
        TaxRate::Percent(Decimal::new(20, 0)),
    ])
}

pub fn any_tax_mode() -> impl Strategy<Value = TaxMode> {
    prop::sample::select(vec![TaxMode::Exclusive, TaxMode::Inclusive])
}

/// An amount in kopeks from `low` to `high` roubles' worth of minor units.
pub fn minor_units(low: i64, high: i64) -> impl Strategy<Value = Decimal> {
    (low..=high).prop_map(|m| Decimal::new(m, 2))
}

/// Charges (amount, rate): mostly positive, some credits (negative).
pub fn any_charges(max: usize) -> impl Strategy<Value = Vec<(Decimal, TaxRate)>> {
    prop::collection::vec(
        (
            prop_oneof![
                4 => minor_units(1, 100_000_000),
                1 => minor_units(-10_000_000, 0),
            ],
            any_tax_rate(),
        ),
        1..=max,
    )
}

/// A close of November 2026 in roubles with one charge per `(amount, rate)`.
pub fn close_with_charges(charges: &[(Decimal, TaxRate)]) -> Close {
    let mut close = Close::new("2026-11", Currency::RUB);
    for (i, (amount, tax_rate)) in charges.iter().enumerate() {
        let rendered_on = nov(1 + (i as u32 % 30));
        close.charge("INSTALL", *amount, *tax_rate, rendered_on);
    }
    close
}

/// The sample provider's requisites.
pub fn requisites_form() -> super::RequisitesForm {
    crate::documents::sample_requisites()
}
