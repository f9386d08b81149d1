use super::super::fixtures::*;
use super::super::{InvoicingError, TaxMode, ZeroInvoicePolicy};
use super::*;

const MONTHLY: crate::period::PeriodLength = crate::period::PeriodLength::Month;
use crate::catalog::{CancellationPolicy, ServiceKind};
use crate::ids::{ChargeId, SubscriptionId};
use crate::period::BillingPeriod;
use crate::pricing::Price;
use crate::subscriptions::Subscription;
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn usd(amount: Decimal) -> Money {
    Money::new(amount, Currency::USD)
}

fn amounts_of(lines: &[InvoiceLine]) -> Vec<Decimal> {
    lines.iter().map(|l| l.amount.amount()).collect()
}

fn invalid_on(err: InvoicingError, on: &str) -> String {
    match err {
        InvoicingError::Invalid { field, reason } if field == on => reason,
        other => panic!("expected an invalid {on}, got {other:?}"),
    }
}

/// A deterministic id: `n` orders them.
fn ulid(n: u128) -> ulid::Ulid {
    ulid::Ulid::from(n)
}

// --- Worked examples -------------------------------------------------------------------

#[test]
fn a_3000_rouble_monthly_subscription_started_on_november_10_bills_21_of_30_days_2100_00() {
    let mut close = Close::new("2026-11", Currency::RUB).with(recurring(
        "HOSTING",
        per_unit(Currency::RUB, dec!(3000.00)),
        rate(dec!(20)),
    ));
    let id = close.subscribe("HOSTING", dec!(1), nov(10)).id();
    let draft = close.draft(TaxMode::Exclusive);

    assert_eq!(draft.lines.len(), 1);
    let line = &draft.lines[0];
    assert_eq!(line.no, 1);
    assert_eq!(
        line.source,
        LineSource::Subscription {
            subscription: id,
            from: nov(10),
            until_exclusive: day(2026, 12, 1),
            days: 21,
            period_days: 30,
            full_period: rub(dec!(3000.00)),
        }
    );
    assert_eq!(
        (line.from, line.until_exclusive),
        (nov(10), day(2026, 12, 1))
    );
    assert_eq!(line.description.en(), "Service HOSTING");
    assert_eq!(line.quantity, dec!(1));
    assert_eq!(line.unit, UnitOfMeasure::Month);
    assert_eq!(line.unit_price, Some(dec!(3000.00)));
    assert!(line.tiers.is_empty());
    assert_eq!(line.price_version, 1);
    assert_eq!(line.amount, rub(dec!(2100.00)));
    assert_eq!(line.net, rub(dec!(2100.00)));
    assert_eq!(line.tax, rub(dec!(420.00)));
    assert_eq!(line.gross, rub(dec!(2520.00)));
    assert_eq!(draft.gross, rub(dec!(2520.00)));
}

#[test]
fn days_of_suspended_service_are_not_billed_and_each_stretch_around_them_is_a_line() {
    let mut close = Close::new("2026-11", Currency::RUB).with(recurring(
        "HOSTING",
        per_unit(Currency::RUB, dec!(3000.00)),
        rate(dec!(20)),
    ));
    close.subscribe("HOSTING", dec!(1), nov(1));
    // Suspended by dunning from the 11th, restored on the 21st: 20 of 30 days billed.
    close.paused.push(crate::subscriptions::Pause {
        from: nov(11),
        until: Some(nov(21)),
    });
    let draft = close.draft(TaxMode::Exclusive);
    assert_eq!(amounts_of(&draft.lines), [dec!(1000.00), dec!(1000.00)]);
    assert_eq!(
        draft
            .lines
            .iter()
            .map(|l| (l.from, l.until_exclusive))
            .collect::<Vec<_>>(),
        [(nov(1), nov(11)), (nov(21), day(2026, 12, 1))]
    );
    assert_eq!(draft.gross, rub(dec!(2400.00)));
}

#[test]
fn a_30_dollar_plan_raised_to_60_dollars_on_the_16th_of_a_30_day_month_bills_15_plus_30() {
    // As a quantity change: one seat at $30 a month, two from the 16th.
    let mut close = Close::new("2026-11", Currency::USD).with(recurring(
        "SEAT",
        per_unit(Currency::USD, dec!(30)),
        TaxRate::Exempt,
    ));
    close
        .subscribe("SEAT", dec!(1), nov(1))
        .change_quantity(Quantity::new(dec!(2)).unwrap(), nov(16), nov(1))
        .unwrap();
    let draft = close.draft(TaxMode::Exclusive);
    assert_eq!(amounts_of(&draft.lines), [dec!(15.00), dec!(30.00)]);
    assert_eq!(
        draft.lines.iter().map(|l| l.quantity).collect::<Vec<_>>(),
        [dec!(1), dec!(2)]
    );
    assert_eq!(draft.lines[1].from, nov(16));
    assert_eq!(draft.lines[1].unit_price, Some(dec!(30)));
    assert_eq!(draft.gross, usd(dec!(45.00)));

    // As a switch of plans: Basic at $30 flat, Pro at $60 flat from the 16th.
    let mut close = Close::new("2026-11", Currency::USD)
        .with(recurring(
            "BASIC",
            flat(Currency::USD, dec!(30)),
            TaxRate::Exempt,
        ))
        .with(recurring(
            "PRO",
            flat(Currency::USD, dec!(60)),
            TaxRate::Exempt,
        ));
    let pro = close.catalog[&code("PRO")].0.clone();
    close
        .subscribe("BASIC", dec!(1), nov(1))
        .switch_service(&pro, 1, nov(16), nov(1))
        .unwrap();
    let draft = close.draft(TaxMode::Exclusive);
    assert_eq!(amounts_of(&draft.lines), [dec!(15.00), dec!(30.00)]);
    assert_eq!(
        draft.lines.iter().map(|l| l.unit_price).collect::<Vec<_>>(),
        [Some(dec!(30)), Some(dec!(60))]
    );
    assert_eq!(draft.lines[1].description.en(), "Service PRO");
    assert_eq!(draft.net, usd(dec!(45.00)));
    assert_eq!(draft.gross, usd(dec!(45.00)));
}

#[test]
fn twenty_five_units_bill_157_50_graduated_and_150_00_by_volume() {
    let mut close = Close::new("2026-11", Currency::RUB)
        .with(metered("API-G", graduated(Currency::RUB), rate(dec!(20))))
        .with(metered("API-V", volume(Currency::RUB), rate(dec!(20))));
    let events = [(nov(3), dec!(4)), (nov(10), dec!(9)), (nov(28), dec!(12))];
    close.use_meter("API-V", &events);
    close.use_meter("API-G", &events);
    let draft = close.draft(TaxMode::Exclusive);

    let [graduated, volume] = &draft.lines[..] else {
        panic!("two lines expected: {:?}", draft.lines);
    };
    assert_eq!(graduated.service, code("API-G"));
    assert_eq!(graduated.amount, rub(dec!(157.50)));
    assert_eq!(graduated.quantity, dec!(25));
    assert_eq!(graduated.unit_price, None);
    let steps: Vec<_> = graduated
        .tiers
        .iter()
        .map(|t| (t.quantity(), t.unit_price(), t.amount()))
        .collect();
    assert_eq!(
        steps,
        [
            (dec!(5), Some(dec!(7.00)), dec!(35.00)),
            (dec!(5), Some(dec!(6.50)), dec!(32.50)),
            (dec!(15), Some(dec!(6.00)), dec!(90.00)),
        ]
    );
    assert_eq!(
        graduated.source,
        LineSource::Usage {
            events: 3,
            late_events: 0
        }
    );
    assert_eq!(
        (graduated.from, graduated.until_exclusive),
        (nov(1), day(2026, 12, 1))
    );

    assert_eq!(volume.service, code("API-V"));
    assert_eq!(volume.amount, rub(dec!(150.00)));
    assert_eq!(volume.unit_price, Some(dec!(6.00)));
    assert_eq!(volume.tiers.len(), 1);

    // Exclusive 20%: 157.50 → 31.50 tax, 189.00 gross; 150.00 → 30.00, 180.00.
    assert_eq!(graduated.tax, rub(dec!(31.50)));
    assert_eq!(graduated.gross, rub(dec!(189.00)));
    assert_eq!(volume.tax, rub(dec!(30.00)));
    assert_eq!(draft.net, rub(dec!(307.50)));
    assert_eq!(draft.tax, rub(dec!(61.50)));
    assert_eq!(draft.gross, rub(dec!(369.00)));
}

#[test]
fn under_inclusive_tax_a_line_of_189_00_at_twenty_percent_holds_31_50_of_tax() {
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(189.00), rate(dec!(20)), nov(5));
    let draft = close.draft(TaxMode::Inclusive);
    let line = &draft.lines[0];
    assert_eq!(line.amount, rub(dec!(189.00)));
    assert_eq!(line.gross, rub(dec!(189.00)));
    assert_eq!(line.tax, rub(dec!(31.50)));
    assert_eq!(line.net, rub(dec!(157.50)));
    assert_eq!(draft.tax_mode, TaxMode::Inclusive);
}

#[test]
fn three_lines_of_0_33_at_twenty_percent_carry_0_07_tax_each_0_21_in_all() {
    let mut close = Close::new("2026-11", Currency::RUB);
    for d in [2, 3, 4] {
        close.charge("INSTALL", dec!(0.33), rate(dec!(20)), nov(d));
    }
    let draft = close.draft(TaxMode::Exclusive);
    assert!(draft.lines.iter().all(|l| l.tax == rub(dec!(0.07))));
    assert_eq!(draft.net, rub(dec!(0.99)));
    // Per line, never recomputed from the total (which would give 0.198 → 0.20).
    assert_eq!(draft.tax, rub(dec!(0.21)));
    assert_eq!(draft.gross, rub(dec!(1.20)));
    assert_eq!(draft.taxes.len(), 1);
    assert_eq!(draft.taxes[0].tax, rub(dec!(0.21)));
}

// --- Order and shape -------------------------------------------------------------------

#[test]
fn lines_come_as_subscriptions_by_id_and_segment_then_charges_by_day_and_id_then_meters() {
    let mut close = Close::new("2026-11", Currency::RUB)
        .with(recurring(
            "VPS",
            per_unit(Currency::RUB, dec!(900)),
            rate(dec!(20)),
        ))
        .with(metered(
            "B-METER",
            per_unit(Currency::RUB, dec!(1)),
            rate(dec!(20)),
        ))
        .with(metered(
            "A-METER",
            per_unit(Currency::RUB, dec!(2)),
            rate(dec!(20)),
        ));
    let (early, late) = (
        SubscriptionId::from_ulid(ulid(1)),
        SubscriptionId::from_ulid(ulid(2)),
    );
    close.subscribe_as(late, "VPS", dec!(1), nov(1));
    close
        .subscribe_as(early, "VPS", dec!(1), nov(5))
        .change_quantity(Quantity::new(dec!(3)).unwrap(), nov(20), nov(1))
        .unwrap();
    let charge = |n| ChargeId::from_ulid(ulid(n));
    let one = dec!(1);
    close.charge_with(
        charge(9),
        "WORK",
        one,
        rub(dec!(10)),
        rate(dec!(20)),
        nov(7),
    );
    close.charge_with(
        charge(3),
        "WORK",
        one,
        rub(dec!(20)),
        rate(dec!(20)),
        nov(9),
    );
    close.charge_with(
        charge(5),
        "WORK",
        one,
        rub(dec!(30)),
        rate(dec!(20)),
        nov(7),
    );
    close.use_meter("B-METER", &[(nov(2), dec!(5))]);
    close.use_meter("A-METER", &[(nov(2), dec!(5))]);
    let draft = close.draft(TaxMode::Exclusive);

    let order: Vec<String> = draft
        .lines
        .iter()
        .map(|l| match &l.source {
            LineSource::Subscription {
                subscription, from, ..
            } => format!("sub {} {from}", if *subscription == early { 1 } else { 2 }),
            LineSource::Charge { charge } => format!("charge {charge}"),
            LineSource::Usage { .. } => format!("usage {}", l.service),
        })
        .collect();
    assert_eq!(
        order,
        [
            "sub 1 2026-11-05".to_owned(),
            "sub 1 2026-11-20".to_owned(),
            "sub 2 2026-11-01".to_owned(),
            format!("charge {}", charge(5)),
            format!("charge {}", charge(9)),
            format!("charge {}", charge(3)),
            "usage A-METER".to_owned(),
            "usage B-METER".to_owned(),
        ]
    );
    let numbers: Vec<u16> = draft.lines.iter().map(|l| l.no).collect();
    assert_eq!(numbers, (1..=8).collect::<Vec<u16>>());
    // The same input composes the same draft.
    assert_eq!(close.draft(TaxMode::Exclusive), draft);
}

#[test]
fn a_charge_line_covers_the_day_it_was_rendered_at_the_charges_own_tax_rate() {
    let mut close = Close::new("2026-11", Currency::RUB);
    let id = close.charge("INSTALL", dec!(500), rate(dec!(10)), nov(30));
    let line = &close.draft(TaxMode::Exclusive).lines[0];
    assert_eq!(line.source, LineSource::Charge { charge: id });
    assert_eq!(
        (line.from, line.until_exclusive),
        (nov(30), day(2026, 12, 1))
    );
    assert_eq!(line.tax_rate, rate(dec!(10)));
    assert_eq!(line.description.en(), "Installation");
    assert_eq!(line.tax, rub(dec!(50)));
}

#[test]
fn a_charge_shows_a_unit_price_only_when_amount_over_quantity_is_exact_in_four_places() {
    let unit_price = |quantity: Decimal, amount: Decimal| {
        let mut close = Close::new("2026-11", Currency::RUB);
        close.charge_with(
            ChargeId::new(),
            "WORK",
            quantity,
            rub(amount),
            rate(dec!(20)),
            nov(2),
        );
        close.draft(TaxMode::Exclusive).lines[0].unit_price
    };
    assert_eq!(unit_price(dec!(4), dec!(10.00)), Some(dec!(2.5)));
    assert_eq!(unit_price(dec!(1.5), dec!(10.50)), Some(dec!(7)));
    assert_eq!(unit_price(dec!(4), dec!(0.01)), Some(dec!(0.0025)));
    assert_eq!(unit_price(dec!(8), dec!(0.01)), None); // 0.00125: five places
    assert_eq!(unit_price(dec!(3), dec!(10.00)), None);
    assert_eq!(unit_price(dec!(0), dec!(10.00)), None);
    assert_eq!(unit_price(dec!(2), dec!(-3.00)), Some(dec!(-1.5)));
}

#[test]
fn a_subscription_at_a_price_with_a_flat_fee_lists_the_steps_of_its_full_period_price() {
    let price = Price::new(
        Currency::RUB,
        crate::pricing::PriceModel::PerUnit {
            unit_price: dec!(100),
        },
        None,
        Some(dec!(50)),
    )
    .unwrap();
    let mut close =
        Close::new("2026-11", Currency::RUB).with(recurring("RACK", price, rate(dec!(20))));
    close.subscribe("RACK", dec!(2), nov(1));
    let line = &close.draft(TaxMode::Exclusive).lines[0];
    assert_eq!(line.amount, rub(dec!(250)));
    assert_eq!(line.unit_price, None);
    assert_eq!(line.tiers.len(), 2);
}

#[test]
fn tax_totals_list_exempt_first_then_each_rate_in_increasing_order() {
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(100), rate(dec!(20)), nov(1));
    close.charge("INSTALL", dec!(100), TaxRate::Exempt, nov(2));
    close.charge("INSTALL", dec!(100), rate(dec!(10)), nov(3));
    close.charge("INSTALL", dec!(100), rate(dec!(0)), nov(4));
    close.charge("INSTALL", dec!(50), rate(dec!(20.00)), nov(5));
    let draft = close.draft(TaxMode::Exclusive);
    let taxes: Vec<_> = draft
        .taxes
        .iter()
        .map(|t| {
            (
                t.rate.to_string(),
                t.net.amount(),
                t.tax.amount(),
                t.gross.amount(),
            )
        })
        .collect();
    assert_eq!(
        taxes,
        [
            ("exempt".to_owned(), dec!(100), dec!(0), dec!(100)),
            ("0".to_owned(), dec!(100), dec!(0), dec!(100)),
            ("10".to_owned(), dec!(100), dec!(10), dec!(110)),
            ("20".to_owned(), dec!(150), dec!(30), dec!(180)),
        ]
    );
    assert_eq!(draft.gross, rub(dec!(490)));
}

// --- Nothing to invoice ----------------------------------------------------------------

#[test]
fn a_period_with_no_lines_makes_no_invoice_whatever_the_policy() {
    let close = Close::new("2026-11", Currency::RUB);
    let mut settings = settings(TaxMode::Exclusive);
    assert_eq!(close.compose(&settings), Ok(None));
    settings.zero_invoices = ZeroInvoicePolicy::Issue;
    assert_eq!(close.compose(&settings), Ok(None));
}

#[test]
fn a_meter_with_no_usage_in_the_period_makes_no_line() {
    let mut close = Close::new("2026-11", Currency::RUB).with(metered(
        "API-G",
        graduated(Currency::RUB),
        rate(dec!(20)),
    ));
    close.usage.insert(code("API-G"), Default::default());
    assert_eq!(close.compose(&settings(TaxMode::Exclusive)), Ok(None));
}

#[test]
fn a_subscription_not_in_force_in_the_period_adds_nothing() {
    let mut close = Close::new("2026-11", Currency::RUB).with(recurring(
        "VPS",
        per_unit(Currency::RUB, dec!(900)),
        rate(dec!(20)),
    ));
    close.subscribe("VPS", dec!(1), day(2026, 12, 1));
    assert_eq!(close.compose(&settings(TaxMode::Exclusive)), Ok(None));
}

#[test]
fn a_period_that_costs_nothing_is_skipped_or_issued_as_zero_by_the_policy() {
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(100), rate(dec!(20)), nov(2));
    close.charge("INSTALL", dec!(-100), rate(dec!(20)), nov(3));
    let mut settings = settings(TaxMode::Exclusive);
    assert_eq!(close.compose(&settings), Ok(None));
    settings.zero_invoices = ZeroInvoicePolicy::Issue;
    let draft = close.compose(&settings).unwrap().unwrap();
    assert_eq!(draft.lines.len(), 2);
    assert!(draft.is_zero());
}

#[test]
fn a_period_whose_credits_outweigh_its_charges_makes_a_negative_invoice() {
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(40), rate(dec!(20)), nov(2));
    close.charge("INSTALL", dec!(-90), rate(dec!(20)), nov(3));
    let draft = close.draft(TaxMode::Exclusive);
    assert_eq!(draft.lines[1].tax, rub(dec!(-18)));
    assert_eq!(draft.net, rub(dec!(-50)));
    assert_eq!(draft.tax, rub(dec!(-10)));
    assert_eq!(draft.gross, rub(dec!(-60)));
}

// --- Refusals --------------------------------------------------------------------------

#[test]
fn a_charge_in_another_currency_is_refused() {
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge_with(
        ChargeId::new(),
        "WORK",
        dec!(1),
        usd(dec!(5)),
        rate(dec!(20)),
        nov(2),
    );
    let reason = invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "currency",
    );
    assert!(reason.contains("USD") && reason.contains("RUB"), "{reason}");
}

#[test]
fn a_subscription_or_meter_priced_in_another_currency_is_refused() {
    let mut close = Close::new("2026-11", Currency::RUB).with(recurring(
        "SEAT",
        per_unit(Currency::USD, dec!(30)),
        TaxRate::Exempt,
    ));
    close.subscribe("SEAT", dec!(1), nov(1));
    invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "currency",
    );

    let mut close = Close::new("2026-11", Currency::RUB).with(metered(
        "API",
        per_unit(Currency::EUR, dec!(1)),
        TaxRate::Exempt,
    ));
    close.use_meter("API", &[(nov(1), dec!(1))]);
    invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "currency",
    );
}

#[test]
fn a_service_missing_from_the_catalog_is_refused_by_its_code() {
    let mut close = Close::new("2026-11", Currency::RUB).with(recurring(
        "VPS",
        per_unit(Currency::RUB, dec!(900)),
        rate(dec!(20)),
    ));
    close.subscribe("VPS", dec!(1), nov(1));
    close.catalog.clear();
    let reason = invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "service",
    );
    assert!(reason.contains("VPS"), "{reason}");

    let mut close = Close::new("2026-11", Currency::RUB);
    close.use_meter("API-CALLS", &[(nov(1), dec!(1))]);
    let reason = invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "service",
    );
    assert!(reason.contains("API-CALLS"), "{reason}");
}

#[test]
fn a_missing_price_version_or_a_meter_without_a_price_in_force_is_refused() {
    let mut close = Close::new("2026-11", Currency::RUB).with(recurring(
        "VPS",
        per_unit(Currency::RUB, dec!(900)),
        rate(dec!(20)),
    ));
    close.subscribe("VPS", dec!(1), nov(1));
    close.catalog.get_mut(&code("VPS")).unwrap().1[0].version = 2;
    invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "price_version",
    );

    // Priced from 2025-12: nothing in force in 2025-10.
    let mut close = Close::new("2025-10", Currency::RUB).with(metered(
        "API",
        per_unit(Currency::RUB, dec!(1)),
        TaxRate::Exempt,
    ));
    close.use_meter("API", &[(day(2025, 10, 3), dec!(1))]);
    invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "price_version",
    );
}

#[test]
fn a_charge_of_another_customer_or_a_later_period_or_not_in_minor_units_is_refused() {
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(10), rate(dec!(20)), nov(2));
    close.charges[0].org = crate::ids::OrgId::new();
    invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "org",
    );

    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(10), rate(dec!(20)), nov(2));
    close.charges[0].period = period("2026-12");
    invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "period",
    );

    // An earlier period's charge is billed (a customer's first close takes them all).
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(10), rate(dec!(20)), nov(2));
    close.charges[0].period = period("2026-10");
    let draft = close
        .compose(&settings(TaxMode::Exclusive))
        .unwrap()
        .unwrap();
    assert_eq!(draft.net.amount(), dec!(10));

    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(10.005), rate(dec!(20)), nov(2));
    invalid_on(
        close.compose(&settings(TaxMode::Exclusive)).unwrap_err(),
        "amount",
    );
}

// --- Properties ------------------------------------------------------------------------

fn any_period() -> impl Strategy<Value = BillingPeriod> {
    (2026i32..=2035, 1u32..=12).prop_map(|(y, m)| BillingPeriod::new(y, m).unwrap())
}

proptest! {
    #[test]
    fn every_line_nets_and_the_totals_are_the_sums_of_the_lines_and_of_the_tax_summaries(
        charges in any_charges(24), mode in any_tax_mode()
    ) {
        let close = close_with_charges(&charges);
        let mut settings = settings(mode);
        settings.zero_invoices = ZeroInvoicePolicy::Issue;
        let draft = close.compose(&settings).unwrap().unwrap();
        prop_assert_eq!(draft.lines.len(), charges.len());
        for line in &draft.lines {
            prop_assert_eq!(line.net.checked_add(line.tax).unwrap(), line.gross);
            prop_assert!(line.net.is_in_minor_units() && line.tax.is_in_minor_units());
            match mode {
                TaxMode::Exclusive => prop_assert_eq!(line.net, line.amount),
                TaxMode::Inclusive => prop_assert_eq!(line.gross, line.amount),
            }
            if line.tax_rate.percent().unwrap_or_default().is_zero() {
                prop_assert!(line.tax.is_zero());
            }
        }
        let sum = |f: fn(&InvoiceLine) -> Money| {
            Money::checked_sum(Currency::RUB, draft.lines.iter().map(f)).unwrap()
        };
        prop_assert_eq!(draft.net, sum(|l| l.net));
        prop_assert_eq!(draft.tax, sum(|l| l.tax));
        prop_assert_eq!(draft.gross, sum(|l| l.gross));
        let by_rate = |f: fn(&super::super::TaxSummary) -> Money| {
            Money::checked_sum(Currency::RUB, draft.taxes.iter().map(f)).unwrap()
        };
        prop_assert_eq!(draft.net, by_rate(|t| t.net));
        prop_assert_eq!(draft.tax, by_rate(|t| t.tax));
        prop_assert_eq!(draft.gross, by_rate(|t| t.gross));
        let keys: Vec<_> = draft.taxes.iter().map(|t| t.rate.percent()).collect();
        prop_assert!(keys.windows(2).all(|w| w[0] < w[1]), "{:?}", keys);
    }

    #[test]
    fn the_prorated_parts_of_a_period_add_up_to_its_full_price(
        period in any_period(),
        unit_price in minor_units(1, 10_000_000),
        quantity in 1u32..=5,
        cuts in prop::collection::btree_set(1u32..31, 0..5),
        start in 0u32..31,
    ) {
        let days = period.days();
        let on = |offset: u32| period.first_day() + chrono::Days::new(u64::from(offset % days));
        let first = period.first_day();
        let quantity = Decimal::from(quantity);
        let mut close = Close::new(&period.to_string(), Currency::RUB)
            .with(recurring("PLAN", per_unit(Currency::RUB, unit_price), rate(dec!(20))))
            .with(service(
                "PLAN-NOW",
                ServiceKind::Recurring,
                UnitOfMeasure::Month,
                rate(dec!(20)),
                per_unit(Currency::RUB, unit_price),
                CancellationPolicy::Immediately,
            ));
        let full = rub(unit_price * quantity);

        // One subscription changed (to the same quantity) on random days.
        let split = SubscriptionId::from_ulid(ulid(1));
        let subscription = close.subscribe_as(split, "PLAN", quantity, first);
        let cut_days: std::collections::BTreeSet<NaiveDate> =
            cuts.iter().map(|cut| on(*cut)).filter(|d| *d > first).collect();
        for cut in cut_days {
            subscription
                .change_quantity(Quantity::new(quantity).unwrap(), cut, first)
                .unwrap();
        }
        // One started on a random day, and one that stops the day before it starts.
        let start_day = on(start);
        let later = SubscriptionId::from_ulid(ulid(2));
        close.subscribe_as(later, "PLAN", quantity, start_day);
        let earlier = SubscriptionId::from_ulid(ulid(3));
        let before: &mut Subscription = close.subscribe_as(earlier, "PLAN-NOW", quantity, first);
        if start_day > first {
            before.cancel(start_day.pred_opt().unwrap(), MONTHLY).unwrap();
        } else {
            before.cancel(first - chrono::Days::new(1), MONTHLY).unwrap();
        }

        let draft = close.draft(TaxMode::Exclusive);
        let total_of = |ids: &[SubscriptionId]| {
            Money::checked_sum(
                Currency::RUB,
                draft.lines.iter().filter_map(|l| match l.source {
                    LineSource::Subscription { subscription, .. } if ids.contains(&subscription) => {
                        Some(l.amount)
                    }
                    _ => None,
                }),
            )
            .unwrap()
        };
        prop_assert_eq!(total_of(&[split]), full);
        prop_assert_eq!(total_of(&[later, earlier]), full);
        for line in &draft.lines {
            if let LineSource::Subscription { days: d, period_days, full_period, .. } = &line.source {
                prop_assert_eq!(*period_days, days);
                prop_assert_eq!(*full_period, full);
                prop_assert!(*d >= 1 && *d <= days);
            }
        }
    }
}
