use super::*;

fn raw(quantity: RawQuantity) -> RawUsageEvent {
    RawUsageEvent {
        id: "evt-1".into(),
        customer: "crm:4412".into(),
        meter: "TRAFFIC".into(),
        quantity,
        timestamp: "2026-11-28T10:15:00Z".into(),
        properties: BTreeMap::new(),
    }
}

#[test]
fn quantities_are_read_exactly_from_strings_integers_and_short_numbers() {
    let from = |json: &str| -> RawQuantity {
        let text =
            format!(r#"{{"id":"e","customer":"c","meter":"M","quantity":{json},"timestamp":"t"}}"#);
        serde_json::from_str::<RawUsageEvent>(&text)
            .unwrap()
            .quantity
    };
    assert_eq!(from(r#""12.5""#).value(), Ok(Decimal::new(125, 1)));
    assert_eq!(from("12").value(), Ok(Decimal::from(12)));
    assert_eq!(from("0.1").value(), Ok(Decimal::new(1, 1)));
    assert_eq!(from("12.345678").value(), Ok(Decimal::new(12_345_678, 6)));
    // A double cannot hold this many digits; the producer must send a string.
    assert!(from("0.12345678901234567").value().is_err());
    assert!(from(r#""twelve""#).value().is_err());
}

#[test]
fn parse_names_the_field_at_fault() {
    let mut event = raw(RawQuantity::exact(Decimal::ONE));
    assert!(parse(&event).is_ok());
    event.id = String::new();
    assert_eq!(parse(&event).unwrap_err().field, "id");
    event.id = "a#b".into();
    assert_eq!(parse(&event).unwrap_err().field, "id");
    event.id = "ok".into();
    event.timestamp = "yesterday".into();
    let err = parse(&event).unwrap_err();
    assert_eq!(
        (err.reason, err.field.as_str()),
        (RejectReason::InvalidField, "timestamp")
    );
    event.timestamp = "2026-11-28T10:15:00+03:00".into();
    assert_eq!(
        parse(&event).unwrap().timestamp.to_rfc3339(),
        "2026-11-28T07:15:00+00:00"
    );
    event.quantity = RawQuantity(Err("1,5".into()));
    let err = parse(&event).unwrap_err();
    assert_eq!(
        (err.reason, err.field.as_str()),
        (RejectReason::BadQuantity, "quantity")
    );
    event.quantity = RawQuantity::exact(Decimal::ONE);
    event.properties = (0..=MAX_PROPERTIES)
        .map(|i| (i.to_string(), "v".into()))
        .collect();
    assert_eq!(parse(&event).unwrap_err().field, "properties");
    event.properties = [("k".to_string(), "x".repeat(MAX_PROPERTIES_BYTES))].into();
    assert_eq!(parse(&event).unwrap_err().field, "properties");
}

#[test]
fn customer_refs_are_org_ids_or_external_references() {
    let org = OrgId::new();
    assert_eq!(
        CustomerRef::parse(&org.to_string()),
        Ok(CustomerRef::Org(org))
    );
    assert!(matches!(
        CustomerRef::parse("crm:4412"),
        Ok(CustomerRef::External(_))
    ));
    assert!(CustomerRef::parse("org_nonsense").is_err());
    assert!(CustomerRef::parse("").is_err());
}

#[test]
fn reasons_round_trip_through_their_names() {
    for reason in RejectReason::ALL {
        assert_eq!(reason.as_str().parse::<RejectReason>(), Ok(reason));
    }
}

// --- judge ----------------------------------------------------------------------------

use crate::catalog::{NewService, TaxRate, UnitOfMeasure};
use crate::money::Currency;
use crate::pricing::{Price, PriceModel, Tier};
use chrono::TimeZone;
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

fn graduated() -> Price {
    Price::new(
        Currency::RUB,
        PriceModel::Graduated {
            tiers: vec![
                Tier::bounded(dec!(100), dec!(2.00)),
                Tier::unbounded(dec!(1.50)),
            ],
        },
        None,
        None,
    )
    .unwrap()
}

fn meter(unit: UnitOfMeasure, kind: ServiceKind) -> (Service, PriceVersion) {
    Service::create(
        NewService {
            code: "TRAFFIC".parse().unwrap(),
            name: crate::catalog::LocalizedText::new("Трафик", "Traffic").unwrap(),
            description: None,
            unit,
            kind,
            work_type: None,
            cancellation: Default::default(),
            tax_rate: TaxRate::from_percent(dec!(20)).unwrap(),
            tax_exemption: None,
            currency: Currency::RUB,
            price: graduated(),
        },
        at(1, 0) - TimeDelta::days(40),
    )
    .unwrap()
}

fn parsed(quantity: Decimal, timestamp: DateTime<Utc>) -> ParsedEvent {
    ParsedEvent {
        id: EventKey::try_from("evt-1".to_owned()).unwrap(),
        customer: CustomerRef::External(EventKey::try_from("crm:1".to_owned()).unwrap()),
        meter: "TRAFFIC".parse().unwrap(),
        quantity,
        timestamp,
        properties: BTreeMap::new(),
    }
}

fn judgement(service: Option<&Service>, org: Option<OrgId>) -> Judgement<'_> {
    Judgement {
        org,
        currency: org.map(|_| Currency::RUB),
        service,
        closed_through: None,
        received_at: at(28, 12),
        now: at(28, 12),
        grace: TimeDelta::days(DEFAULT_GRACE_DAYS),
        calendar: Calendar::UTC,
    }
}

fn reason(result: Result<MeteredEvent, Rejection>) -> RejectReason {
    result.unwrap_err().reason
}

#[test]
fn judge_refuses_what_cannot_count_and_says_why() {
    let org = Some(OrgId::new());
    let (traffic, _) = meter(UnitOfMeasure::Gigabyte, ServiceKind::Metered);
    let (sms, _) = meter(UnitOfMeasure::Request, ServiceKind::Metered);
    let (vps, _) = meter(UnitOfMeasure::Month, ServiceKind::Recurring);
    let ok = parsed(dec!(1.5), at(28, 10));
    assert!(judge(&ok, &judgement(Some(&traffic), org)).is_ok());
    assert_eq!(
        reason(judge(&ok, &judgement(Some(&traffic), None))),
        RejectReason::UnknownCustomer
    );
    assert_eq!(
        reason(judge(&ok, &judgement(None, org))),
        RejectReason::UnknownMeter
    );
    assert_eq!(
        reason(judge(&ok, &judgement(Some(&vps), org))),
        RejectReason::NotMetered
    );
    // A customer invoiced in euros cannot be billed for a meter priced in roubles.
    let in_euros = Judgement {
        currency: Some(Currency::EUR),
        ..judgement(Some(&traffic), org)
    };
    let refused = judge(&ok, &in_euros).expect_err("refused");
    assert_eq!(
        (refused.reason, refused.field.as_str()),
        (RejectReason::CurrencyMismatch, "meter")
    );
    assert_eq!(
        reason(judge(&ok, &judgement(Some(&sms), org))),
        RejectReason::BadQuantity
    );
    for bad in [dec!(-1), dec!(1000000000001), dec!(0.0000001)] {
        let event = parsed(bad, at(28, 10));
        assert_eq!(
            reason(judge(&event, &judgement(Some(&traffic), org))),
            RejectReason::BadQuantity
        );
    }
    // Five minutes ahead is clock drift; six is not.
    let soon = parsed(dec!(1), at(28, 12) + TimeDelta::minutes(5));
    assert!(judge(&soon, &judgement(Some(&traffic), org)).is_ok());
    let ahead = parsed(dec!(1), at(28, 12) + TimeDelta::minutes(6));
    assert_eq!(
        reason(judge(&ahead, &judgement(Some(&traffic), org))),
        RejectReason::FutureTimestamp
    );
    let old = parsed(
        dec!(1),
        at(28, 12) - TimeDelta::days(DEFAULT_GRACE_DAYS) - TimeDelta::seconds(1),
    );
    assert_eq!(
        reason(judge(&old, &judgement(Some(&traffic), org))),
        RejectReason::TooOld
    );
    let mut retired = traffic.clone();
    retired.retire(at(20, 0)).unwrap();
    let before = parsed(dec!(1), at(19, 23));
    assert!(judge(&before, &judgement(Some(&retired), org)).is_ok());
    assert_eq!(
        reason(judge(&ok, &judgement(Some(&retired), org))),
        RejectReason::MeterRetired
    );
}

#[test]
fn an_event_of_a_closed_period_is_billed_in_the_next_open_one_and_marked_late() {
    let org = Some(OrgId::new());
    let (traffic, _) = meter(UnitOfMeasure::Gigabyte, ServiceKind::Metered);
    let october = parsed(
        dec!(3),
        Utc.with_ymd_and_hms(2026, 10, 31, 23, 59, 0).unwrap(),
    );
    let open = judge(&october, &judgement(Some(&traffic), org)).unwrap();
    assert_eq!(open.period, BillingPeriod::new(2026, 10).unwrap());
    assert_eq!(open.billed_in, open.period);
    assert!(!open.is_late());
    let mut closed = judgement(Some(&traffic), org);
    closed.closed_through = Some(BillingPeriod::new(2026, 10).unwrap());
    let late = judge(&october, &closed).unwrap();
    assert_eq!(late.period, BillingPeriod::new(2026, 10).unwrap());
    assert_eq!(late.billed_in, BillingPeriod::new(2026, 11).unwrap());
    assert!(late.is_late());
    // Lateness is where it is billed, not what it is: the fingerprint is the same.
    assert_eq!(late.fingerprint(), open.fingerprint());
    let mut other = october.clone();
    other.quantity = dec!(4);
    assert_ne!(
        judge(&other, &closed).unwrap().fingerprint(),
        late.fingerprint()
    );
}

#[test]
fn a_period_is_priced_once_at_the_version_in_force_at_its_start() {
    let (_, first) = meter(UnitOfMeasure::Gigabyte, ServiceKind::Metered);
    let mut cheaper = first.clone();
    cheaper.version = 2;
    cheaper.effective_from = at(15, 0);
    cheaper.price = Price::new(
        Currency::RUB,
        PriceModel::PerUnit {
            unit_price: dec!(1.00),
        },
        None,
        None,
    )
    .unwrap();
    let versions = [first, cheaper];
    let november = BillingPeriod::new(2026, 11).unwrap();
    // 100 × 2.00 + 150 × 1.50 under the version in force on 1 November.
    let quote = estimate(&versions, november, Calendar::UTC, dec!(250)).unwrap();
    assert_eq!(quote.total().amount(), dec!(425.00));
    // December starts under version 2.
    let quote = estimate(&versions, november.next(), Calendar::UTC, dec!(250)).unwrap();
    assert_eq!(quote.total().amount(), dec!(250.00));
    // Before the meter had any price there is none to estimate with.
    let long_ago = BillingPeriod::new(2020, 1).unwrap();
    assert_eq!(
        estimate(&versions, long_ago, Calendar::UTC, dec!(1)).unwrap_err(),
        UsageError::NoPrice(long_ago)
    );
    // A price that changes at 01:00 on 1 December in Moscow (22:00 UTC on 30 November)
    // is in force when the UTC month starts, not when the Moscow month starts.
    let mut late_night = versions[1].clone();
    late_night.effective_from = at(30, 22);
    let versions = [versions[0].clone(), late_night];
    let moscow: Calendar = "Europe/Moscow".parse().unwrap();
    let utc = estimate(&versions, november.next(), Calendar::UTC, dec!(250)).unwrap();
    assert_eq!(utc.total().amount(), dec!(250.00));
    let local = estimate(&versions, november.next(), moscow, dec!(250)).unwrap();
    assert_eq!(local.total().amount(), dec!(425.00));
}

#[test]
fn an_event_counts_in_the_providers_day_and_month() {
    let org = Some(OrgId::new());
    let (traffic, _) = meter(UnitOfMeasure::Gigabyte, ServiceKind::Metered);
    // 22:30 UTC on 30 November is 01:30 on 1 December in Moscow.
    let event = parsed(dec!(1), at(30, 22) + TimeDelta::minutes(30));
    let late_evening = Judgement {
        received_at: at(30, 23),
        now: at(30, 23),
        ..judgement(Some(&traffic), org)
    };
    let utc = judge(&event, &late_evening).unwrap();
    assert_eq!(
        (utc.period.to_string(), utc.day.to_string()),
        ("2026-11".into(), "2026-11-30".into())
    );
    let moscow = Judgement {
        calendar: "Europe/Moscow".parse().unwrap(),
        ..late_evening
    };
    let local = judge(&event, &moscow).unwrap();
    assert_eq!(
        (local.period.to_string(), local.day.to_string()),
        ("2026-12".into(), "2026-12-01".into())
    );
    assert_eq!(local.billed_in, local.period);
}

proptest! {
    /// Duplicates and order never change a total: aggregating every event twice in any
    /// order, after removing repeats by id, gives the totals of one clean pass.
    #[test]
    fn totals_do_not_depend_on_order_or_repeats(
        quantities in proptest::collection::vec((0u32..1_000_000, 1u32..29, 0u8..3), 1..60),
        seed in any::<u64>(),
    ) {
        let org = OrgId::new();
        let events: Vec<MeteredEvent> = quantities
            .iter()
            .enumerate()
            .map(|(i, &(milli, day, meter))| MeteredEvent {
                id: EventKey::try_from(format!("e{i}")).unwrap(),
                org,
                meter: format!("M{meter}").parse().unwrap(),
                quantity: Quantity::new(Decimal::new(i64::from(milli), 3)).unwrap(),
                timestamp: at(day, 1),
                day: at(day, 1).date_naive(),
                period: BillingPeriod::new(2026, 11).unwrap(),
                billed_in: BillingPeriod::new(2026, 11).unwrap(),
                properties: BTreeMap::new(),
            })
            .collect();
        let clean = aggregate(&events).unwrap();
        let mut twice: Vec<&MeteredEvent> = events.iter().chain(events.iter()).collect();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..twice.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            twice.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut seen = std::collections::HashSet::new();
        let once: Vec<&MeteredEvent> = twice.into_iter().filter(|e| seen.insert(e.id.clone())).collect();
        prop_assert_eq!(aggregate(once).unwrap(), clean.clone());
        let sum: Decimal = clean.values().map(|u| u.total).sum();
        let expected: Decimal = events.iter().map(|e| e.quantity.value()).sum();
        prop_assert_eq!(sum, expected);
        for usage in clean.values() {
            prop_assert_eq!(usage.by_day.values().copied().sum::<Decimal>(), usage.total);
        }
    }
}
