use super::*;
use crate::catalog::{LocalizedText, NewService, TaxRate};
use crate::pricing::PriceModel;

const MONTHLY: crate::period::PeriodLength = crate::period::PeriodLength::Month;
use chrono::TimeZone;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

// --- Fixtures ----------------------------------------------------------------------------

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn nov(d: u32) -> NaiveDate {
    day(2026, 11, d)
}

fn period(text: &str) -> BillingPeriod {
    text.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
}

fn qty(value: Decimal) -> Quantity {
    Quantity::new(value).unwrap()
}

fn rub(amount: Decimal) -> Money {
    Money::new(amount, Currency::RUB)
}

fn per_unit(currency: Currency, unit_price: Decimal) -> Price {
    Price::new(currency, PriceModel::PerUnit { unit_price }, None, None).unwrap()
}

/// A service as the catalog makes it: recurring, per month, 990.00 RUB a unit, ending at
/// the end of the period, without a work type, unless changed by `adjust`.
fn service_with(code: &str, adjust: impl FnOnce(&mut NewService)) -> Service {
    let mut cmd = NewService {
        code: code.parse().unwrap(),
        name: LocalizedText::new("Сервер", "Server").unwrap(),
        description: None,
        unit: UnitOfMeasure::Month,
        kind: ServiceKind::Recurring,
        work_type: None,
        cancellation: CancellationPolicy::EndOfPeriod,
        tax_rate: TaxRate::from_percent(dec!(20)).unwrap(),
        tax_exemption: None,
        currency: Currency::RUB,
        price: per_unit(Currency::RUB, dec!(990)),
    };
    adjust(&mut cmd);
    Service::create(cmd, now() - chrono::TimeDelta::days(30))
        .unwrap()
        .0
}

fn vps() -> Service {
    service_with("VPS-S", |_| {})
}

/// Prices by service: VPS-S v1 990.00 a unit, v2 1090.00; VPS-M v1 1500.00; BW v1
/// 10.00 per Mbps.
fn prices(code: &ServiceCode, version: u32) -> Option<Price> {
    let unit_price = match (code.as_str(), version) {
        ("VPS-S", 1) => dec!(990),
        ("VPS-S", 2) => dec!(1090),
        ("VPS-M", 1) => dec!(1500),
        ("BW", 1) => dec!(10),
        _ => return None,
    };
    Some(per_unit(Currency::RUB, unit_price))
}

/// `quantity` of `service` at price version 1 from `from`, started on `today`.
fn start(
    service: &Service,
    quantity: Quantity,
    from: NaiveDate,
    today: NaiveDate,
) -> Result<Subscription, SubscriptionError> {
    let new = NewSubscription {
        org: OrgId::new(),
        service,
        price_version: 1,
        quantity,
        from,
    };
    Subscription::start(SubscriptionId::new(), new, today, now())
}

/// One VPS-S at version 1 from `from`, started on `today`.
fn subscription(from: NaiveDate, today: NaiveDate) -> Subscription {
    start(&vps(), qty(dec!(1)), from, today).unwrap()
}

fn start_err(service: &Service, quantity: Decimal, from: NaiveDate) -> SubscriptionError {
    start(service, qty(quantity), from, nov(1)).unwrap_err()
}

fn amounts(charges: &[ProratedCharge]) -> Vec<Decimal> {
    charges.iter().map(|c| c.amount.amount()).collect()
}

fn is_conflict(err: &SubscriptionError, on: &str) -> bool {
    matches!(err, SubscriptionError::Conflict { field, .. } if field == on)
}

fn is_invalid(err: &SubscriptionError, on: &str) -> bool {
    matches!(err, SubscriptionError::Invalid { field, .. } if field == on)
}

// --- Starting ----------------------------------------------------------------------------

#[test]
fn starting_a_subscription_records_its_first_segment_and_the_service_terms() {
    let service = service_with("VPS-S", |c| {
        c.work_type = Some("hosting".parse().unwrap());
        c.cancellation = CancellationPolicy::Immediately;
    });
    let (id, org) = (SubscriptionId::new(), OrgId::new());
    let sub = Subscription::start(
        id,
        NewSubscription {
            org,
            service: &service,
            price_version: 3,
            quantity: qty(dec!(2)),
            from: nov(15),
        },
        nov(1),
        now(),
    )
    .unwrap();
    assert_eq!(sub.id(), id);
    assert_eq!(sub.org(), org);
    assert_eq!(sub.work_type().map(WorkType::as_str), Some("hosting"));
    assert_eq!(sub.currency(), Currency::RUB);
    assert_eq!(sub.cancellation(), CancellationPolicy::Immediately);
    assert_eq!(sub.created_at(), now());
    assert_eq!(sub.starts_on(), nov(15));
    assert_eq!(sub.ends_on(), None);
    assert_eq!(
        sub.segments(),
        [Segment {
            from: nov(15),
            service: "VPS-S".parse().unwrap(),
            unit: UnitOfMeasure::Month,
            quantity: qty(dec!(2)),
            price_version: 3,
        }]
    );
}

#[test]
fn a_subscription_may_start_today_but_not_in_the_past() {
    assert_eq!(subscription(nov(1), nov(1)).starts_on(), nov(1));
    let err = start_err(&vps(), dec!(1), day(2026, 10, 31));
    assert_eq!(
        err,
        SubscriptionError::invalid("from", "must not be in the past")
    );
    assert_eq!(err.to_string(), "from: must not be in the past");
    assert_eq!(err.field(), Some("from"));
}

#[test]
fn a_start_beyond_the_supported_days_is_refused() {
    let err = start_err(&vps(), dec!(1), day(10000, 1, 1));
    assert!(is_invalid(&err, "from"), "{err}");
}

#[test]
fn only_a_recurring_service_can_be_subscribed_to() {
    for kind in [ServiceKind::OneOff, ServiceKind::Metered] {
        let service = service_with("JOB", |c| {
            c.kind = kind;
            c.work_type = Some("installation".parse().unwrap());
        });
        let err = start_err(&service, dec!(1), nov(2));
        assert_eq!(
            err,
            SubscriptionError::invalid("service", "JOB is not a recurring service")
        );
    }
}

#[test]
fn a_retired_service_cannot_be_subscribed_to() {
    let mut service = vps();
    service.retire(now()).unwrap();
    let err = start_err(&service, dec!(1), nov(2));
    assert!(is_conflict(&err, "service"), "{err}");
    assert_eq!(err.to_string(), "service: service VPS-S is retired");
}

#[test]
fn a_quantity_must_be_more_than_zero() {
    let err = start_err(&vps(), dec!(0), nov(2));
    assert_eq!(
        err,
        SubscriptionError::invalid("quantity", "must be more than zero")
    );
}

#[test]
fn a_quantity_must_be_whole_when_the_unit_is_counted_whole() {
    let err = start_err(&vps(), dec!(1.5), nov(2));
    assert!(is_invalid(&err, "quantity"), "{err}");
    let bandwidth = service_with("BW", |c| c.unit = UnitOfMeasure::Mbps);
    let sub = Subscription::start(
        SubscriptionId::new(),
        NewSubscription {
            org: OrgId::new(),
            service: &bandwidth,
            price_version: 1,
            quantity: qty(dec!(2.5)),
            from: nov(2),
        },
        nov(1),
        now(),
    )
    .unwrap();
    assert_eq!(sub.last_segment().quantity, qty(dec!(2.5)));
}

#[test]
fn a_price_version_is_one_or_more() {
    let err = Subscription::start(
        SubscriptionId::new(),
        NewSubscription {
            org: OrgId::new(),
            service: &vps(),
            price_version: 0,
            quantity: qty(dec!(1)),
            from: nov(2),
        },
        nov(1),
        now(),
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("price_version"));
}

// --- Changing the quantity ---------------------------------------------------------------

#[test]
fn a_quantity_change_adds_a_segment_with_the_same_service_and_price_version() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(3)), nov(11), nov(5)).unwrap();
    let [first, second] = sub.segments() else {
        panic!("two segments expected: {:?}", sub.segments());
    };
    assert_eq!((first.from, first.quantity), (nov(1), qty(dec!(1))));
    assert_eq!((second.from, second.quantity), (nov(11), qty(dec!(3))));
    assert_eq!(second.service, first.service);
    assert_eq!(second.price_version, first.price_version);
}

#[test]
fn a_change_on_the_day_of_the_last_segment_replaces_it() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(3)), nov(11), nov(5)).unwrap();
    sub.change_quantity(qty(dec!(5)), nov(11), nov(6)).unwrap();
    assert_eq!(sub.segments().len(), 2);
    assert_eq!(sub.last_segment().quantity, qty(dec!(5)));
    // Before it starts, a change on the start day replaces the first segment.
    let mut future = subscription(nov(20), nov(1));
    future
        .change_quantity(qty(dec!(2)), nov(20), nov(2))
        .unwrap();
    assert_eq!(future.segments().len(), 1);
    assert_eq!(future.last_segment().quantity, qty(dec!(2)));
}

#[test]
fn a_change_in_the_past_is_refused() {
    let mut sub = subscription(nov(1), nov(1));
    let err = sub
        .change_quantity(qty(dec!(2)), nov(4), nov(5))
        .unwrap_err();
    assert_eq!(
        err,
        SubscriptionError::invalid("effective_from", "must not be in the past")
    );
}

#[test]
fn a_change_before_the_last_change_is_a_conflict() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(2)), nov(20), nov(5)).unwrap();
    let err = sub
        .change_quantity(qty(dec!(3)), nov(10), nov(5))
        .unwrap_err();
    assert!(is_conflict(&err, "effective_from"), "{err}");
    assert_eq!(
        err.to_string(),
        "effective_from: must not be before 2026-11-20, when the last change takes effect"
    );
}

#[test]
fn a_changed_quantity_keeps_the_quantity_rules() {
    let mut sub = subscription(nov(1), nov(1));
    for bad in [dec!(0), dec!(1.5)] {
        let err = sub.change_quantity(qty(bad), nov(10), nov(5)).unwrap_err();
        assert!(is_invalid(&err, "quantity"), "{bad}: {err}");
    }
    assert_eq!(sub.segments().len(), 1);
}

#[test]
fn a_cancelled_subscription_changes_only_before_it_ends() {
    let mut sub = subscription(nov(1), nov(1));
    assert_eq!(sub.cancel(nov(10), MONTHLY).unwrap(), day(2026, 12, 1));
    sub.change_quantity(qty(dec!(2)), nov(20), nov(10)).unwrap();
    let err = sub
        .change_quantity(qty(dec!(3)), day(2026, 12, 1), nov(10))
        .unwrap_err();
    assert!(is_conflict(&err, "effective_from"), "{err}");
    assert_eq!(
        err.to_string(),
        "effective_from: must be before 2026-12-01, the first day the subscription is not billed"
    );
}

#[test]
fn an_ended_subscription_cannot_change() {
    let mut sub = subscription(nov(1), nov(1));
    sub.cancel(nov(10), MONTHLY).unwrap();
    let today = day(2026, 12, 2);
    let err = sub.change_quantity(qty(dec!(2)), today, today).unwrap_err();
    assert!(is_conflict(&err, "ends_on"), "{err}");
    let err = sub
        .switch_service(&service_with("VPS-M", |_| {}), 1, today, today)
        .unwrap_err();
    assert!(is_conflict(&err, "ends_on"), "{err}");
}

// --- Switching service -------------------------------------------------------------------

#[test]
fn a_switch_adds_a_segment_with_the_new_service_and_the_same_quantity() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(2)), nov(5), nov(1)).unwrap();
    sub.switch_service(&service_with("VPS-M", |_| {}), 1, nov(16), nov(10))
        .unwrap();
    let last = sub.last_segment();
    assert_eq!(last.service.as_str(), "VPS-M");
    assert_eq!(last.from, nov(16));
    assert_eq!(last.quantity, qty(dec!(2)));
    assert_eq!(last.price_version, 1);
    assert_eq!(sub.segments().len(), 3);
}

#[test]
fn a_switch_on_the_day_of_the_last_segment_replaces_it() {
    let mut sub = subscription(nov(20), nov(1));
    sub.switch_service(&service_with("VPS-M", |_| {}), 1, nov(20), nov(2))
        .unwrap();
    assert_eq!(sub.segments().len(), 1);
    assert_eq!(sub.last_segment().service.as_str(), "VPS-M");
}

#[test]
fn a_switch_to_the_same_service_is_a_conflict() {
    let mut sub = subscription(nov(1), nov(1));
    let err = sub.switch_service(&vps(), 2, nov(10), nov(5)).unwrap_err();
    assert!(is_conflict(&err, "service"), "{err}");
    assert_eq!(
        err.to_string(),
        "service: VPS-S is already the subscribed service"
    );
}

#[test]
fn a_switch_to_another_work_type_is_refused_and_none_matches_only_none() {
    let mut plain = subscription(nov(1), nov(1));
    let typed = service_with("VPS-M", |c| c.work_type = Some("hosting".parse().unwrap()));
    let err = plain
        .switch_service(&typed, 1, nov(10), nov(5))
        .unwrap_err();
    assert_eq!(
        err,
        SubscriptionError::invalid(
            "service",
            "must have the subscription's work type (none), not hosting"
        )
    );

    let mut hosting = Subscription::start(
        SubscriptionId::new(),
        NewSubscription {
            org: OrgId::new(),
            service: &service_with("VPS-S", |c| c.work_type = Some("hosting".parse().unwrap())),
            price_version: 1,
            quantity: qty(dec!(1)),
            from: nov(1),
        },
        nov(1),
        now(),
    )
    .unwrap();
    let colo = service_with("COLO", |c| {
        c.work_type = Some("colocation".parse().unwrap())
    });
    assert!(is_invalid(
        &hosting
            .switch_service(&colo, 1, nov(10), nov(5))
            .unwrap_err(),
        "service"
    ));
    assert!(is_invalid(
        &hosting
            .switch_service(&service_with("VPS-M", |_| {}), 1, nov(10), nov(5))
            .unwrap_err(),
        "service"
    ));
    hosting.switch_service(&typed, 1, nov(10), nov(5)).unwrap();
}

#[test]
fn a_switch_to_a_service_in_another_currency_is_refused() {
    let mut sub = subscription(nov(1), nov(1));
    let euro = service_with("VPS-EU", |c| {
        c.currency = Currency::EUR;
        c.price = per_unit(Currency::EUR, dec!(10));
    });
    let err = sub.switch_service(&euro, 1, nov(10), nov(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service: must be priced in RUB, the subscription's currency (VPS-EU is priced in EUR)"
    );
}

#[test]
fn a_switch_to_a_one_off_or_retired_service_is_refused() {
    let mut sub = subscription(nov(1), nov(1));
    let job = service_with("SETUP", |c| {
        c.kind = ServiceKind::OneOff;
        c.work_type = Some("installation".parse().unwrap());
    });
    assert!(is_invalid(
        &sub.switch_service(&job, 1, nov(10), nov(5)).unwrap_err(),
        "service"
    ));
    let mut retired = service_with("VPS-M", |_| {});
    retired.retire(now()).unwrap();
    assert!(is_conflict(
        &sub.switch_service(&retired, 1, nov(10), nov(5))
            .unwrap_err(),
        "service"
    ));
}

#[test]
fn a_switch_to_a_whole_unit_with_a_fractional_quantity_is_refused() {
    let bandwidth = service_with("BW", |c| c.unit = UnitOfMeasure::Mbps);
    let mut sub = Subscription::start(
        SubscriptionId::new(),
        NewSubscription {
            org: OrgId::new(),
            service: &bandwidth,
            price_version: 1,
            quantity: qty(dec!(2.5)),
            from: nov(1),
        },
        nov(1),
        now(),
    )
    .unwrap();
    let err = sub.switch_service(&vps(), 1, nov(10), nov(5)).unwrap_err();
    assert!(is_invalid(&err, "service"), "{err}");
    // After a switch to a whole unit, the quantity rule of that unit applies.
    sub.change_quantity(qty(dec!(3)), nov(8), nov(5)).unwrap();
    sub.switch_service(&vps(), 1, nov(10), nov(5)).unwrap();
    let err = sub
        .change_quantity(qty(dec!(3.5)), nov(12), nov(5))
        .unwrap_err();
    assert!(is_invalid(&err, "quantity"), "{err}");
}

#[test]
fn a_switch_needs_a_price_version_and_a_day_that_is_not_past() {
    let mut sub = subscription(nov(1), nov(1));
    let medium = service_with("VPS-M", |_| {});
    assert_eq!(
        sub.switch_service(&medium, 0, nov(10), nov(5))
            .unwrap_err()
            .field(),
        Some("price_version")
    );
    assert_eq!(
        sub.switch_service(&medium, 1, nov(4), nov(5))
            .unwrap_err()
            .field(),
        Some("effective_from")
    );
}

// --- Cancelling --------------------------------------------------------------------------

#[test]
fn cancelling_at_the_end_of_the_period_bills_to_the_end_of_the_month() {
    let mut sub = subscription(nov(1), nov(1));
    assert_eq!(sub.cancel(nov(10), MONTHLY).unwrap(), day(2026, 12, 1));
    assert_eq!(sub.ends_on(), Some(day(2026, 12, 1)));
    let mut december = subscription(nov(1), nov(1));
    assert_eq!(
        december.cancel(day(2026, 12, 31), MONTHLY).unwrap(),
        day(2027, 1, 1)
    );
}

#[test]
fn cancelling_immediately_bills_the_day_of_cancellation() {
    let service = service_with("VPS-S", |c| {
        c.cancellation = CancellationPolicy::Immediately
    });
    let mut sub = Subscription::start(
        SubscriptionId::new(),
        NewSubscription {
            org: OrgId::new(),
            service: &service,
            price_version: 1,
            quantity: qty(dec!(1)),
            from: nov(1),
        },
        nov(1),
        now(),
    )
    .unwrap();
    assert_eq!(sub.cancel(nov(10), MONTHLY).unwrap(), nov(11));
    let charges = sub.charges_for(period("2026-11"), prices).unwrap();
    assert_eq!(charges[0].days, 10);
    assert_eq!(charges[0].amount, rub(dec!(330.00)));
}

#[test]
fn cancelling_before_the_start_ends_at_the_start_and_bills_nothing() {
    let mut sub = subscription(nov(20), nov(1));
    assert_eq!(sub.cancel(nov(5), MONTHLY).unwrap(), nov(20));
    assert_eq!(sub.status_on(nov(5)), SubscriptionStatus::Ended);
    assert_eq!(sub.status_on(nov(25)), SubscriptionStatus::Ended);
    assert!(
        sub.charges_for(period("2026-11"), prices)
            .unwrap()
            .is_empty()
    );
    assert_eq!(sub.segment_on(nov(20)), None);
}

#[test]
fn cancelling_on_the_start_day_bills_under_the_policy() {
    let mut sub = subscription(nov(20), nov(1));
    assert_eq!(sub.cancel(nov(20), MONTHLY).unwrap(), day(2026, 12, 1));
}

#[test]
fn cancelling_twice_is_a_conflict() {
    let mut sub = subscription(nov(1), nov(1));
    sub.cancel(nov(10), MONTHLY).unwrap();
    let err = sub.cancel(nov(11), MONTHLY).unwrap_err();
    assert!(is_conflict(&err, "ends_on"), "{err}");
    assert_eq!(
        err.to_string(),
        "ends_on: the subscription is already cancelled: it is not billed from 2026-12-01"
    );
    assert_eq!(sub.ends_on(), Some(day(2026, 12, 1)));
}

#[test]
fn cancelling_drops_changes_scheduled_from_the_end_on() {
    let mut sub = subscription(nov(1), nov(1));
    sub.change_quantity(qty(dec!(2)), nov(20), nov(1)).unwrap();
    sub.change_quantity(qty(dec!(3)), day(2026, 12, 5), nov(1))
        .unwrap();
    sub.cancel(nov(10), MONTHLY).unwrap();
    let froms: Vec<_> = sub.segments().iter().map(|s| s.from).collect();
    assert_eq!(froms, [nov(1), nov(20)]);

    let mut future = subscription(nov(20), nov(1));
    future
        .change_quantity(qty(dec!(2)), nov(25), nov(1))
        .unwrap();
    future.cancel(nov(2), MONTHLY).unwrap();
    assert_eq!(future.segments().len(), 1);
}

// --- Status ------------------------------------------------------------------------------

#[test]
fn the_status_follows_the_start_and_the_end() {
    let mut sub = subscription(nov(10), nov(1));
    assert_eq!(sub.status_on(nov(9)), SubscriptionStatus::Scheduled);
    assert_eq!(sub.status_on(nov(10)), SubscriptionStatus::Active);
    assert_eq!(sub.status_on(day(2027, 5, 1)), SubscriptionStatus::Active);
    sub.cancel(nov(12), MONTHLY).unwrap();
    assert_eq!(sub.status_on(nov(9)), SubscriptionStatus::Scheduled);
    assert_eq!(sub.status_on(nov(12)), SubscriptionStatus::Cancelling);
    assert_eq!(sub.status_on(nov(30)), SubscriptionStatus::Cancelling);
    assert_eq!(sub.status_on(day(2026, 12, 1)), SubscriptionStatus::Ended);
    assert_eq!(
        serde_json::to_string(&SubscriptionStatus::Cancelling).unwrap(),
        r#""cancelling""#
    );
}

#[test]
fn the_segment_in_force_is_the_latest_started_before_the_end() {
    let mut sub = subscription(nov(5), nov(1));
    sub.change_quantity(qty(dec!(2)), nov(15), nov(1)).unwrap();
    assert_eq!(sub.segment_on(nov(4)), None);
    assert_eq!(sub.segment_on(nov(5)).unwrap().quantity, qty(dec!(1)));
    assert_eq!(sub.segment_on(nov(14)).unwrap().quantity, qty(dec!(1)));
    assert_eq!(sub.segment_on(nov(15)).unwrap().quantity, qty(dec!(2)));
    sub.cancel(nov(20), MONTHLY).unwrap();
    assert_eq!(sub.segment_on(nov(30)).unwrap().quantity, qty(dec!(2)));
    assert_eq!(sub.segment_on(day(2026, 12, 1)), None);
}

// Charges, the wire and storage form, and the properties of charges.
mod charges;
