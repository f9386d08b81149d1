//! The charges of a subscription for a period, its wire and storage form, and the
//! properties that hold for any start, change and cancellation.

use super::*;

// --- Charges -----------------------------------------------------------------------------

#[test]
fn a_full_month_with_one_segment_costs_exactly_the_full_price() {
    let sub = subscription(nov(1), nov(1));
    let charges = sub.charges_for(period("2026-11"), prices).unwrap();
    assert_eq!(
        charges,
        [ProratedCharge {
            service: "VPS-S".parse().unwrap(),
            unit: UnitOfMeasure::Month,
            quantity: qty(dec!(1)),
            price_version: 1,
            from: nov(1),
            until_exclusive: day(2026, 12, 1),
            days: 30,
            period_days: 30,
            full_period: rub(dec!(990.00)),
            amount: rub(dec!(990.00)),
        }]
    );
    // And every later month, until cancelled.
    let charges = sub.charges_for(period("2027-02"), prices).unwrap();
    assert_eq!(amounts(&charges), [dec!(990.00)]);
    assert_eq!(charges[0].period_days, 28);
}

#[test]
fn a_start_on_the_fifteenth_of_november_bills_sixteen_days() {
    let sub = subscription(nov(15), nov(1));
    let charges = sub.charges_for(period("2026-11"), prices).unwrap();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].days, 16);
    assert_eq!(charges[0].amount, rub(dec!(528.00)));
    assert_eq!(charges[0].full_period, rub(dec!(990.00)));
}

#[test]
fn a_quantity_change_splits_the_month_into_prorated_charges() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(2)), nov(11), nov(5)).unwrap();
    let charges = sub.charges_for(period("2026-11"), prices).unwrap();
    // 10 days at 33.00 a day, then 20 days at 66.00 a day.
    assert_eq!(amounts(&charges), [dec!(330.00), dec!(1320.00)]);
    assert_eq!(charges[0].until_exclusive, nov(11));
    assert_eq!(charges[1].from, nov(11));
    assert_eq!(charges[1].full_period, rub(dec!(1980.00)));
    assert_eq!((charges[0].days, charges[1].days), (10, 20));
    // December is all at the new quantity.
    let december = sub.charges_for(period("2026-12"), prices).unwrap();
    assert_eq!(amounts(&december), [dec!(1980.00)]);
}

#[test]
fn paused_days_are_not_charged_and_the_days_around_them_are() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(2)), nov(16), nov(5)).unwrap();
    let pauses = [
        Pause {
            from: nov(11),
            until: Some(nov(21)),
        },
        Pause {
            from: nov(28),
            until: None,
        },
    ];
    let charges = sub
        .charges_for_paused(period("2026-11"), prices, &pauses)
        .unwrap();
    // 1–10 at 33.00 a day; 11–20 paused; 21–27 at 66.00 a day; 28 onwards paused.
    assert_eq!(amounts(&charges), [dec!(330.00), dec!(462.00)]);
    assert_eq!(
        charges
            .iter()
            .map(|c| (c.from, c.until_exclusive, c.days))
            .collect::<Vec<_>>(),
        [(nov(1), nov(11), 10), (nov(21), nov(28), 7)]
    );
    assert!(charges.iter().all(|c| c.period_days == 30));
    // A pause still lasting keeps December free; one that ended before it changes nothing.
    assert_eq!(
        sub.charges_for_paused(period("2026-12"), prices, &pauses)
            .unwrap(),
        []
    );
    assert_eq!(
        sub.charges_for_paused(period("2026-12"), prices, &pauses[..1])
            .unwrap(),
        sub.charges_for(period("2026-12"), prices).unwrap()
    );
    assert!(pauses[0].covers(nov(20)) && !pauses[0].covers(nov(21)));
    assert!(pauses[1].covers(day(2030, 1, 1)));
}

#[test]
fn a_switch_bills_each_service_for_its_own_days_at_its_own_price() {
    let mut sub = subscription(nov(1), nov(1));
    sub.switch_service(&service_with("VPS-M", |_| {}), 1, nov(16), nov(10))
        .unwrap();
    let charges = sub.charges_for(period("2026-11"), prices).unwrap();
    // 15 days of 990.00 (33.00 a day), then 15 days of 1500.00 (50.00 a day).
    assert_eq!(amounts(&charges), [dec!(495.00), dec!(750.00)]);
    assert_eq!(charges[1].service.as_str(), "VPS-M");
}

#[test]
fn the_left_over_kopeks_of_each_segment_go_to_the_first_days_of_the_month() {
    // 1000.00 over December's 31 days: days 1–25 cost 32.26, days 26–31 cost 32.25.
    let thousand = |_: &ServiceCode, _: u32| Some(per_unit(Currency::RUB, dec!(1000)));
    let mut sub = subscription(day(2026, 12, 1), nov(1));
    sub.change_quantity(qty(dec!(1)), day(2026, 12, 26), nov(1))
        .unwrap();
    let charges = sub.charges_for(period("2026-12"), thousand).unwrap();
    assert_eq!(amounts(&charges), [dec!(806.50), dec!(193.50)]);
}

#[test]
fn charges_stop_at_the_end_and_are_empty_outside_the_subscription() {
    let mut sub = subscription(nov(15), nov(1));
    assert!(
        sub.charges_for(period("2026-10"), prices)
            .unwrap()
            .is_empty()
    );
    sub.cancel(nov(20), MONTHLY).unwrap();
    assert_eq!(
        amounts(&sub.charges_for(period("2026-11"), prices).unwrap()),
        [dec!(528.00)]
    );
    assert!(
        sub.charges_for(period("2026-12"), prices)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_unknown_price_version_or_one_in_another_currency_fails_the_charges() {
    let mut sub = subscription(nov(1), nov(1));
    sub.switch_service(&service_with("VPS-M", |_| {}), 7, nov(10), nov(5))
        .unwrap();
    let err = sub.charges_for(period("2026-11"), prices).unwrap_err();
    assert_eq!(
        err.to_string(),
        "price version 7 of service VPS-M is not known"
    );
    assert_eq!(err.field(), None);
    // A version that is not in force in the period is never looked up.
    assert_eq!(sub.charges_for(period("2026-10"), prices).unwrap(), []);
    let euros = |_: &ServiceCode, _: u32| Some(per_unit(Currency::EUR, dec!(1)));
    let err = sub.charges_for(period("2026-11"), euros).unwrap_err();
    assert!(matches!(
        err,
        SubscriptionError::Money(MoneyError::CurrencyMismatch { .. })
    ));
}

// --- Wire and storage form ---------------------------------------------------------------

#[test]
fn a_subscription_round_trips_through_its_record_and_json() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(2)), nov(11), nov(5)).unwrap();
    sub.cancel(nov(12), MONTHLY).unwrap();
    let json = serde_json::to_value(&sub).unwrap();
    assert_eq!(json["segments"][1]["quantity"], "2");
    assert_eq!(json["segments"][1]["from"], "2026-11-11");
    assert_eq!(json["segments"][0]["unit"], "month");
    assert_eq!(json["ends_on"], "2026-12-01");
    assert_eq!(json["cancellation"], "end_of_period");
    assert_eq!(serde_json::from_value::<Subscription>(json).unwrap(), sub);
    let record = SubscriptionRecord::from(sub.clone());
    assert_eq!(Subscription::try_from(record).unwrap(), sub);
}

#[test]
fn an_unknown_field_is_refused() {
    let mut json = serde_json::to_value(subscription(nov(1), nov(1))).unwrap();
    json["status"] = "active".into();
    assert!(serde_json::from_value::<Subscription>(json.clone()).is_err());
    json.as_object_mut().unwrap().remove("status");
    json["segments"][0]["note"] = "x".into();
    assert!(serde_json::from_value::<Subscription>(json).is_err());
}

#[test]
fn an_inconsistent_record_is_refused_naming_the_field() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(2)), nov(11), nov(5)).unwrap();
    let record = SubscriptionRecord::from(sub);
    let refused = |edit: &dyn Fn(&mut SubscriptionRecord)| {
        let mut r = record.clone();
        edit(&mut r);
        Subscription::try_from(r)
            .unwrap_err()
            .field()
            .unwrap()
            .to_owned()
    };
    assert_eq!(refused(&|r| r.segments.clear()), "segments");
    assert_eq!(
        refused(&|r| r.segments[1].from = nov(1)),
        "segments[1].from"
    );
    assert_eq!(
        refused(&|r| r.segments[1].quantity = Quantity::ZERO),
        "segments[1].quantity"
    );
    assert_eq!(
        refused(&|r| r.segments[0].quantity = qty(dec!(0.5))),
        "segments[0].quantity"
    );
    assert_eq!(
        refused(&|r| r.segments[0].price_version = 0),
        "segments[0].price_version"
    );
    assert_eq!(
        refused(&|r| r.segments[0].from = day(1999, 12, 31)),
        "segments[0].from"
    );
    assert_eq!(refused(&|r| r.ends_on = Some(day(2026, 10, 31))), "ends_on");
    assert_eq!(refused(&|r| r.ends_on = Some(nov(11))), "segments[1].from");
    // Ending at the start (cancelled before it started) is consistent.
    let mut r = record.clone();
    r.segments.truncate(1);
    r.ends_on = Some(nov(1));
    assert!(Subscription::try_from(r).is_ok());
}

#[test]
fn every_refusal_names_its_field() {
    assert_eq!(
        SubscriptionError::invalid("quantity", "x").field(),
        Some("quantity")
    );
    assert_eq!(
        SubscriptionError::conflict("effective_from", "x").field(),
        Some("effective_from")
    );
    assert_eq!(SubscriptionError::Money(MoneyError::Overflow).field(), None);
    assert_eq!(
        SubscriptionError::from(PricingError::Overflow).to_string(),
        "the charge is out of range"
    );
}

// --- Properties --------------------------------------------------------------------------

/// A period from 2001 on, so that a subscription may start up to 60 days before it.
fn any_period() -> impl Strategy<Value = BillingPeriod> {
    (2001i32..=2100, 1u32..=12).prop_map(|(y, m)| BillingPeriod::new(y, m).unwrap())
}

/// A unit price from 0 to 10⁶ with up to two decimal places.
fn unit_price() -> impl Strategy<Value = Decimal> {
    (0i64..=100_000_000).prop_map(|m| Decimal::new(m, 2))
}

fn policy() -> impl Strategy<Value = CancellationPolicy> {
    prop::sample::select(vec![
        CancellationPolicy::EndOfPeriod,
        CancellationPolicy::Immediately,
    ])
}

fn start_in(
    service: &Service,
    quantity: Quantity,
    from: NaiveDate,
    today: NaiveDate,
) -> Subscription {
    start(service, quantity, from, today).unwrap()
}

fn total(charges: &[ProratedCharge]) -> Money {
    Money::checked_sum(Currency::RUB, charges.iter().map(|c| c.amount)).unwrap()
}

proptest! {
    /// The rule is applied per day: whatever the changes, a month costs the sum over its
    /// days of that day's share of the full price of that day's quantity.
    #[test]
    fn quantity_changes_are_billed_day_by_day(
        p in any_period(),
        price in unit_price(),
        policy in policy(),
        start in 0u64..31,
        first_quantity in 1i64..=50,
        changes in prop::collection::vec((0u64..31, 1i64..=50), 0..8),
        cancel_on in prop::option::of(0u64..31),
    ) {
        let days = u64::from(p.days());
        let at = |offset: u64| p.first_day() + Days::new(offset % days);
        let service = service_with("VPS-S", |c| {
            c.cancellation = policy;
            c.price = per_unit(Currency::RUB, price);
        });
        let price = per_unit(Currency::RUB, price);
        let today = p.first_day();
        let start = at(start);
        let mut sub = start_in(&service, qty(Decimal::from(first_quantity)), start, today);

        // Changes in the order of their days, none before the start.
        let mut changes: Vec<(NaiveDate, i64)> =
            changes.into_iter().map(|(d, q)| (at(d).max(start), q)).collect();
        changes.sort_by_key(|(d, _)| *d);
        for (effective, q) in &changes {
            sub.change_quantity(qty(Decimal::from(*q)), *effective, today).unwrap();
        }
        let ends_on = cancel_on.map(|c| sub.cancel(at(c), MONTHLY).unwrap());

        // The model: each day's quantity is the one of the last change on or before it.
        let mut expected = Money::zero(Currency::RUB);
        for (i, d) in p.iter_days().enumerate() {
            if d < start || ends_on.is_some_and(|end| d >= end) {
                continue;
            }
            let q = changes
                .iter()
                .rfind(|(from, _)| *from <= d)
                .map_or(first_quantity, |(_, q)| *q);
            let full = price.quote(qty(Decimal::from(q))).unwrap().total();
            let share = proration::day_shares(full, p).unwrap()[i];
            expected = expected.checked_add(share).unwrap();
        }

        let charges = sub.charges_for(p, |_, _| Some(price.clone())).unwrap();
        prop_assert_eq!(total(&charges), expected);
        prop_assert!(charges.iter().all(|c| c.amount.is_in_minor_units()));
        prop_assert!(charges.iter().all(|c| c.period_days == p.days()));
        prop_assert!(charges.windows(2).all(|w| w[0].until_exclusive == w[1].from));
    }

    /// Splitting a subscription into segments of the same quantity changes nothing: the
    /// month still costs exactly its full price.
    #[test]
    fn same_quantity_segments_cost_exactly_the_full_period_price(
        p in any_period(),
        price in unit_price(),
        quantity in 1i64..=1000,
        started_before in 0u64..60,
        cuts in prop::collection::vec(0u64..31, 0..10),
    ) {
        let days = u64::from(p.days());
        let service = service_with("VPS-S", |c| c.price = per_unit(Currency::RUB, price));
        let price = per_unit(Currency::RUB, price);
        let quantity = qty(Decimal::from(quantity));
        let start = p.first_day() - Days::new(started_before);
        let mut sub = start_in(&service, quantity, start, start);
        let mut cuts: Vec<NaiveDate> =
            cuts.into_iter().map(|c| p.first_day() + Days::new(c % days)).collect();
        cuts.sort();
        for cut in cuts {
            sub.change_quantity(quantity, cut, start).unwrap();
        }
        let charges = sub.charges_for(p, |_, _| Some(price.clone())).unwrap();
        let full = price.quote(quantity).unwrap().total();
        prop_assert_eq!(total(&charges), full);
        prop_assert_eq!(charges.iter().map(|c| c.days).sum::<u32>(), p.days());
        prop_assert!(charges.iter().all(|c| c.full_period == full));
    }

    /// Pausing leaves out exactly the paused days' shares: what is charged plus the shares of
    /// the paused days of the subscription's stretch is the unpaused charge.
    #[test]
    fn pauses_leave_out_exactly_the_paused_days(
        p in any_period(),
        price in unit_price(),
        start in 0u64..31,
        pauses in prop::collection::vec((0u64..40, prop::option::of(0u64..15)), 0..4),
    ) {
        let days = u64::from(p.days());
        let service = service_with("VPS-S", |c| c.price = per_unit(Currency::RUB, price));
        let price = per_unit(Currency::RUB, price);
        let start = p.first_day() + Days::new(start % days);
        let sub = start_in(&service, qty(dec!(1)), start, start);
        let pauses: Vec<Pause> = pauses
            .into_iter()
            .map(|(from, len)| {
                let from = p.first_day() + Days::new(from) - Days::new(5);
                Pause { from, until: len.map(|len| from + Days::new(len)) }
            })
            .collect();
        let full = price.quote(qty(dec!(1))).unwrap().total();
        let shares = crate::proration::day_shares(full, p).unwrap();
        let expected = Money::checked_sum(
            Currency::RUB,
            p.first_day()
                .iter_days()
                .zip(shares)
                .filter(|(d, _)| *d >= start && !pauses.iter().any(|pause| pause.covers(*d)))
                .map(|(_, share)| share),
        )
        .unwrap();
        let charges = sub.charges_for_paused(p, |_, _| Some(price.clone()), &pauses).unwrap();
        prop_assert_eq!(total(&charges), expected);
        prop_assert!(charges.windows(2).all(|w| w[0].until_exclusive < w[1].from));
        for c in &charges {
            let mut day = c.from;
            while day < c.until_exclusive {
                prop_assert!(!pauses.iter().any(|pause| pause.covers(day)));
                day = day + Days::new(1);
            }
        }
    }

    /// Every state a subscription reaches survives storage.
    #[test]
    fn any_subscription_round_trips_through_json(
        start in 0u64..60,
        changes in prop::collection::vec((0u64..60, 1i64..=9), 0..6),
        cancel_on in prop::option::of(0u64..90),
    ) {
        let today = nov(1);
        let start = today + Days::new(start);
        let mut sub = start_in(&vps(), qty(dec!(1)), start, today);
        let mut changes: Vec<_> =
            changes.into_iter().map(|(d, q)| ((today + Days::new(d)).max(start), q)).collect();
        changes.sort_by_key(|(d, _)| *d);
        for (d, q) in changes {
            sub.change_quantity(qty(Decimal::from(q)), d, today).unwrap();
        }
        if let Some(c) = cancel_on {
            sub.cancel(today + Days::new(c), MONTHLY).unwrap();
        }
        let json = serde_json::to_string(&sub).unwrap();
        prop_assert_eq!(serde_json::from_str::<Subscription>(&json).unwrap(), sub);
    }
}
