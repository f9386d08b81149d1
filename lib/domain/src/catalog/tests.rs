use super::*;
use crate::pricing::{PriceModel, Tier};
use chrono::TimeZone;
use rust_decimal_macros::dec;

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0)
        .single()
        .unwrap()
}

fn code(s: &str) -> ServiceCode {
    s.parse().unwrap()
}

fn text(ru: &str, en: &str) -> LocalizedText {
    LocalizedText::new(ru, en).unwrap()
}

fn per_unit(currency: Currency, unit_price: Decimal) -> Price {
    Price::new(currency, PriceModel::PerUnit { unit_price }, None, None).unwrap()
}

fn new_service() -> NewService {
    NewService {
        code: code("vps-small"),
        name: text("Виртуальный сервер S", "Virtual server S"),
        description: None,
        unit: UnitOfMeasure::Month,
        kind: ServiceKind::Recurring,
        work_type: None,
        cancellation: CancellationPolicy::EndOfPeriod,
        tax_rate: TaxRate::from_percent(dec!(20)).unwrap(),
        tax_exemption: None,
        currency: Currency::RUB,
        price: per_unit(Currency::RUB, dec!(990)),
    }
}

fn field_of(err: CatalogError) -> String {
    match err {
        CatalogError::Invalid { field, .. } | CatalogError::Conflict { field, .. } => field,
        CatalogError::Retired { code } => format!("retired {code}"),
    }
}

// --- ServiceCode, WorkType, LocalizedText ---------------------------------------------------

#[test]
fn a_service_code_is_normalised_to_upper_case() {
    assert_eq!(code("vps-small").as_str(), "VPS-SMALL");
    assert_eq!(code(" Backup_1TB ").to_string(), "BACKUP_1TB");
    assert_eq!(code("AB").as_str(), "AB");
    assert_eq!(code(&"A".repeat(32)).as_str().len(), 32);
}

#[test]
fn a_service_code_breaking_the_rule_is_refused_with_the_rule() {
    for bad in [
        "A",
        "",
        "1VPS",
        "-VPS",
        "VPS SMALL",
        "VPS.SMALL",
        "ВПС",
        &"A".repeat(33),
    ] {
        let err = bad.parse::<ServiceCode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "code: must be 2 to 32 characters from A-Z, 0-9, '-' and '_', starting with a letter",
            "{bad:?}"
        );
    }
}

#[test]
fn a_service_code_travels_as_a_string_and_is_checked_on_the_way_in() {
    assert_eq!(serde_json::to_string(&code("vps")).unwrap(), r#""VPS""#);
    assert_eq!(
        serde_json::from_str::<ServiceCode>(r#""vps""#).unwrap(),
        code("VPS")
    );
    assert!(serde_json::from_str::<ServiceCode>(r#""v""#).is_err());
}

#[test]
fn a_work_type_is_a_lower_case_slug() {
    assert_eq!(
        "Installation".parse::<WorkType>().unwrap().as_str(),
        "installation"
    );
    assert_eq!("3d-scan".parse::<WorkType>().unwrap().as_str(), "3d-scan");
    for bad in [
        "a",
        "-setup",
        "setup-",
        "on site",
        "setup_1",
        &"a".repeat(33),
    ] {
        assert_eq!(
            field_of(bad.parse::<WorkType>().unwrap_err()),
            "work_type",
            "{bad:?}"
        );
    }
}

#[test]
fn localized_text_is_trimmed_and_must_not_be_empty_or_too_long() {
    let name = text("  Хостинг ", "Hosting\n");
    assert_eq!(name.ru(), "Хостинг");
    assert_eq!(name.get(Lang::En), "Hosting");
    assert_eq!(field_of(LocalizedText::new("  ", "x").unwrap_err()), "ru");
    assert_eq!(field_of(LocalizedText::new("x", "").unwrap_err()), "en");
    // 200 Cyrillic characters are fine (characters, not bytes, are counted); 201 are not.
    assert!(LocalizedText::new(&"я".repeat(200), "x").is_ok());
    let err = LocalizedText::new(&"я".repeat(201), "x").unwrap_err();
    assert_eq!(err.to_string(), "ru: must be at most 200 characters");
    assert_eq!(
        field_of(
            LocalizedText::new("", "x")
                .map_err(|e| e.under("name"))
                .unwrap_err()
        ),
        "name.ru"
    );
}

#[test]
fn localized_text_is_checked_when_deserialized() {
    let ok: LocalizedText = serde_json::from_str(r#"{"ru":" Да ","en":"Yes"}"#).unwrap();
    assert_eq!(ok, text("Да", "Yes"));
    assert!(serde_json::from_str::<LocalizedText>(r#"{"ru":"","en":"Yes"}"#).is_err());
    assert!(serde_json::from_str::<LocalizedText>(r#"{"ru":"Да","en":"Yes","de":"Ja"}"#).is_err());
}

// --- Units, kinds, statuses, tax rates ------------------------------------------------------

#[test]
fn units_carry_their_okei_codes_and_symbols() {
    let expected = [
        (UnitOfMeasure::Piece, 796, "шт"),
        (UnitOfMeasure::Hour, 356, "ч"),
        (UnitOfMeasure::Day, 359, "сут"),
        (UnitOfMeasure::Month, 362, "мес"),
        (UnitOfMeasure::Gigabyte, 2553, "Гбайт"),
        (UnitOfMeasure::Megabyte, 257, "Мбайт"),
        (UnitOfMeasure::Terabyte, 2554, "Тбайт"),
        (UnitOfMeasure::Mbps, 2545, "Мбит/с"),
        (UnitOfMeasure::Request, 642, "ед"),
        (UnitOfMeasure::KilowattHour, 245, "кВт·ч"),
        (UnitOfMeasure::Kilogram, 166, "кг"),
        (UnitOfMeasure::Delivery, 642, "ед"),
        (UnitOfMeasure::Visit, 5451, "посещ"),
        (UnitOfMeasure::Amount, 383, "руб"),
    ];
    for (unit, okei, ru) in expected {
        assert_eq!(unit.okei_code(), okei, "{unit:?}");
        assert_eq!(unit.short_name(Lang::Ru), ru, "{unit:?}");
        assert!(!unit.short_name(Lang::En).is_empty());
    }
    assert_eq!(UnitOfMeasure::Gigabyte.short_name(Lang::En), "GB");
}

#[test]
fn countable_units_are_whole_and_measured_ones_are_not() {
    use UnitOfMeasure::*;
    for unit in [Piece, Month, Request, Delivery, Visit] {
        assert!(unit.is_whole(), "{unit:?}");
    }
    for unit in [
        Hour,
        Day,
        Gigabyte,
        Megabyte,
        Terabyte,
        Mbps,
        KilowattHour,
        Kilogram,
        Amount,
    ] {
        assert!(!unit.is_whole(), "{unit:?}");
    }
}

#[test]
fn units_kinds_and_statuses_travel_in_snake_case() {
    assert_eq!(
        serde_json::to_string(&UnitOfMeasure::KilowattHour).unwrap(),
        r#""kilowatt_hour""#
    );
    assert_eq!(
        serde_json::from_str::<UnitOfMeasure>(r#""mbps""#).unwrap(),
        UnitOfMeasure::Mbps
    );
    assert_eq!(
        serde_json::to_string(&ServiceKind::OneOff).unwrap(),
        r#""one_off""#
    );
    assert_eq!(
        serde_json::to_string(&ServiceStatus::Retired).unwrap(),
        r#""retired""#
    );
    assert_eq!(serde_json::to_string(&Lang::Ru).unwrap(), r#""ru""#);
    assert!(serde_json::from_str::<ServiceKind>(r#""OneOff""#).is_err());
}

#[test]
fn a_tax_rate_is_exempt_or_a_percentage_and_travels_as_a_string() {
    assert_eq!("exempt".parse::<TaxRate>().unwrap(), TaxRate::Exempt);
    assert_eq!("22".parse::<TaxRate>().unwrap().percent(), Some(dec!(22)));
    assert_eq!("20.00".parse::<TaxRate>().unwrap().to_string(), "20");
    assert_eq!(TaxRate::Exempt.percent(), None);
    assert_eq!(
        serde_json::to_string(&TaxRate::Exempt).unwrap(),
        r#""exempt""#
    );
    assert_eq!(
        serde_json::to_string(&TaxRate::from_percent(dec!(20)).unwrap()).unwrap(),
        r#""20""#
    );
    assert_eq!(
        serde_json::from_str::<TaxRate>(r#""10""#).unwrap(),
        TaxRate::Percent(dec!(10))
    );
    assert_eq!(
        serde_json::from_str::<TaxRate>(r#""0""#).unwrap(),
        TaxRate::Percent(dec!(0))
    );
    assert!(serde_json::from_str::<TaxRate>("20").is_err());
}

#[test]
fn a_tax_rate_out_of_range_or_too_precise_is_refused() {
    for bad in ["-1", "100.01", "12.345", "twenty", "20%", ""] {
        assert_eq!(
            field_of(bad.parse::<TaxRate>().unwrap_err()),
            "tax_rate",
            "{bad:?}"
        );
    }
    assert!("100".parse::<TaxRate>().is_ok());
    assert!("7.25".parse::<TaxRate>().is_ok());
}

#[test]
fn tax_is_zero_when_exempt_and_rounded_otherwise() {
    let net = Money::new(dec!(990.00), Currency::RUB);
    assert_eq!(
        TaxRate::Exempt.tax_on(&net).unwrap(),
        Money::zero(Currency::RUB)
    );
    let vat = TaxRate::from_percent(dec!(22))
        .unwrap()
        .tax_on(&net)
        .unwrap();
    assert_eq!(vat.amount(), dec!(217.80));
    let small = Money::new(dec!(0.25), Currency::RUB);
    assert_eq!(
        TaxRate::from_percent(dec!(10))
            .unwrap()
            .tax_on(&small)
            .unwrap()
            .amount(),
        dec!(0.03)
    );
}

// --- Services ------------------------------------------------------------------------------

#[test]
fn creating_a_service_gives_it_its_first_price_in_force_from_now() {
    let now = t(1, 12);
    let (service, first) = Service::create(new_service(), now).unwrap();
    assert_eq!(service.code().as_str(), "VPS-SMALL");
    assert_eq!(service.status(), ServiceStatus::Active);
    assert_eq!(service.created_at(), now);
    assert_eq!(service.retired_at(), None);
    assert_eq!(first.version, 1);
    assert_eq!(first.effective_from, now);
    assert_eq!(first.created_at, now);
    assert_eq!(
        price_in_force(std::slice::from_ref(&first), now),
        Some(&first)
    );
}

#[test]
fn a_one_off_service_needs_a_work_type() {
    let mut cmd = new_service();
    cmd.kind = ServiceKind::OneOff;
    let err = Service::create(cmd.clone(), t(1, 12)).unwrap_err();
    assert_eq!(
        err,
        invalid("work_type", "is required for one_off services")
    );

    cmd.work_type = Some("installation".parse().unwrap());
    let (service, _) = Service::create(cmd, t(1, 12)).unwrap();
    assert_eq!(
        service.work_type().map(WorkType::as_str),
        Some("installation")
    );
}

#[test]
fn a_recurring_or_metered_service_may_have_a_work_type() {
    let mut cmd = new_service();
    cmd.work_type = Some("setup".parse().unwrap());
    assert!(Service::create(cmd.clone(), t(1, 12)).is_ok());
    cmd.kind = ServiceKind::Metered;
    cmd.work_type = None;
    assert!(Service::create(cmd, t(1, 12)).is_ok());
}

#[test]
fn a_price_in_another_currency_than_the_service_is_refused() {
    let mut cmd = new_service();
    cmd.price = per_unit(Currency::USD, dec!(10));
    let err = Service::create(cmd, t(1, 12)).unwrap_err();
    assert_eq!(
        err,
        invalid("price.currency", "must be the service currency (RUB)")
    );
}

#[test]
fn a_tax_rate_built_out_of_range_is_refused_when_the_service_is_created() {
    let mut cmd = new_service();
    cmd.tax_rate = TaxRate::Percent(dec!(120));
    assert_eq!(
        field_of(Service::create(cmd, t(1, 12)).unwrap_err()),
        "tax_rate"
    );
}

#[test]
fn a_new_service_is_read_from_its_wire_form() {
    let json = r#"{
        "code": "install-router",
        "name": {"ru": "Установка роутера", "en": "Router installation"},
        "unit": "visit",
        "kind": "one_off",
        "work_type": "installation",
        "tax_rate": "20",
        "currency": "RUB",
        "price": {"currency": "RUB", "model": {"type": "flat", "amount": "2500.00"}}
    }"#;
    let cmd: NewService = serde_json::from_str(json).unwrap();
    assert_eq!(cmd.code.as_str(), "INSTALL-ROUTER");
    assert_eq!(cmd.description, None);
    let (service, first) = Service::create(cmd, t(1, 12)).unwrap();
    assert_eq!(service.unit(), UnitOfMeasure::Visit);
    assert_eq!(first.price.currency(), Currency::RUB);
}

#[test]
fn retiring_a_service_stamps_it_once() {
    let (mut service, _) = Service::create(new_service(), t(1, 12)).unwrap();
    service.retire(t(2, 12)).unwrap();
    assert_eq!(service.status(), ServiceStatus::Retired);
    assert_eq!(service.retired_at(), Some(t(2, 12)));
    assert!(!service.is_active());
    let err = service.retire(t(3, 12)).unwrap_err();
    assert_eq!(
        err,
        CatalogError::Retired {
            code: code("VPS-SMALL")
        }
    );
    assert_eq!(err.to_string(), "service VPS-SMALL is retired");
}

#[test]
fn a_service_round_trips_through_its_record() {
    let (mut service, _) = Service::create(new_service(), t(1, 12)).unwrap();
    service.retire(t(2, 12)).unwrap();
    let json = serde_json::to_string(&service).unwrap();
    assert_eq!(serde_json::from_str::<Service>(&json).unwrap(), service);
    let record = ServiceRecord::from(service.clone());
    assert_eq!(Service::try_from(record).unwrap(), service);
}

#[test]
fn an_inconsistent_record_is_refused() {
    let (service, _) = Service::create(new_service(), t(1, 12)).unwrap();
    let record = ServiceRecord::from(service);

    let mut active_but_retired = record.clone();
    active_but_retired.retired_at = Some(t(2, 12));
    assert_eq!(
        field_of(Service::try_from(active_but_retired).unwrap_err()),
        "retired_at"
    );

    let mut retired_without_date = record.clone();
    retired_without_date.status = ServiceStatus::Retired;
    assert_eq!(
        field_of(Service::try_from(retired_without_date).unwrap_err()),
        "retired_at"
    );

    let mut retired_before_created = record.clone();
    retired_before_created.status = ServiceStatus::Retired;
    retired_before_created.retired_at = Some(t(1, 11));
    assert_eq!(
        field_of(Service::try_from(retired_before_created).unwrap_err()),
        "retired_at"
    );

    let mut one_off = record;
    one_off.kind = ServiceKind::OneOff;
    assert_eq!(
        field_of(Service::try_from(one_off).unwrap_err()),
        "work_type"
    );
}

// --- Price versions ------------------------------------------------------------------------

fn service_with_history() -> (Service, Vec<PriceVersion>) {
    let (service, first) = Service::create(new_service(), t(1, 0)).unwrap();
    let second = service
        .plan_new_version(
            std::slice::from_ref(&first),
            per_unit(Currency::RUB, dec!(1090)),
            t(10, 0),
            t(2, 0),
        )
        .unwrap();
    (service, vec![first, second])
}

#[test]
fn a_new_version_is_numbered_one_more_than_the_highest() {
    let (service, versions) = service_with_history();
    assert_eq!(versions[1].version, 2);
    assert_eq!(versions[1].created_at, t(2, 0));
    // A version planned later may take effect earlier; it still gets the next number.
    let third = service
        .plan_new_version(
            &versions,
            per_unit(Currency::RUB, dec!(1000)),
            t(5, 0),
            t(3, 0),
        )
        .unwrap();
    assert_eq!(third.version, 3);
}

#[test]
fn a_version_taking_effect_in_the_past_is_refused_beyond_a_minute_of_clock_skew() {
    let (service, versions) = service_with_history();
    let now = t(3, 12);
    let price = per_unit(Currency::RUB, dec!(1));
    let a_minute_ago = now - TimeDelta::minutes(1);
    assert!(
        service
            .plan_new_version(&versions, price.clone(), a_minute_ago, now)
            .is_ok()
    );
    let too_early = a_minute_ago - TimeDelta::seconds(1);
    let err = service
        .plan_new_version(&versions, price, too_early, now)
        .unwrap_err();
    assert_eq!(err, invalid("effective_from", "must not be in the past"));
}

#[test]
fn a_version_taking_effect_with_another_is_a_conflict() {
    let (service, versions) = service_with_history();
    let err = service
        .plan_new_version(
            &versions,
            per_unit(Currency::RUB, dec!(1)),
            t(10, 0),
            t(3, 0),
        )
        .unwrap_err();
    assert!(matches!(err, CatalogError::Conflict { ref field, .. } if field == "effective_from"));
    assert_eq!(
        err.to_string(),
        "effective_from: version 2 already takes effect at 2025-03-10T00:00:00+00:00"
    );
}

#[test]
fn a_version_in_another_currency_or_for_a_retired_service_is_refused() {
    let (mut service, versions) = service_with_history();
    let err = service
        .plan_new_version(
            &versions,
            per_unit(Currency::EUR, dec!(1)),
            t(20, 0),
            t(3, 0),
        )
        .unwrap_err();
    assert_eq!(field_of(err), "price.currency");

    service.retire(t(3, 0)).unwrap();
    let err = service
        .plan_new_version(
            &versions,
            per_unit(Currency::RUB, dec!(1)),
            t(20, 0),
            t(3, 0),
        )
        .unwrap_err();
    assert_eq!(
        err,
        CatalogError::Retired {
            code: code("VPS-SMALL")
        }
    );
}

#[test]
fn the_price_in_force_is_the_latest_that_has_taken_effect() {
    let (_, versions) = service_with_history();
    assert_eq!(
        price_in_force(&versions, t(1, 0) - TimeDelta::seconds(1)),
        None
    );
    assert_eq!(
        price_in_force(&versions, t(1, 0)).map(|v| v.version),
        Some(1)
    );
    assert_eq!(
        price_in_force(&versions, t(9, 23)).map(|v| v.version),
        Some(1)
    );
    assert_eq!(
        price_in_force(&versions, t(10, 0)).map(|v| v.version),
        Some(2)
    );
    assert_eq!(
        price_in_force(&versions, t(31, 0)).map(|v| v.version),
        Some(2)
    );
    assert_eq!(price_in_force(&[], t(1, 0)), None);
}

#[test]
fn the_price_in_force_does_not_depend_on_the_order_of_versions() {
    let (service, mut versions) = service_with_history();
    // Version 3 takes effect between 1 and 2.
    let third = service
        .plan_new_version(
            &versions,
            per_unit(Currency::RUB, dec!(1000)),
            t(5, 0),
            t(3, 0),
        )
        .unwrap();
    versions.push(third);
    let at =
        |versions: &[PriceVersion], day| price_in_force(versions, t(day, 0)).map(|v| v.version);
    assert_eq!(at(&versions, 4), Some(1));
    assert_eq!(at(&versions, 6), Some(3));
    assert_eq!(at(&versions, 11), Some(2));
    versions.reverse();
    assert_eq!(at(&versions, 6), Some(3));
    assert_eq!(at(&versions, 11), Some(2));
}

#[test]
fn a_price_version_round_trips_through_its_wire_form() {
    let (_, versions) = service_with_history();
    let tiered = Price::new(
        Currency::RUB,
        PriceModel::Graduated {
            tiers: vec![Tier::bounded(dec!(10), dec!(5)), Tier::unbounded(dec!(4))],
        },
        None,
        None,
    )
    .unwrap();
    let version = PriceVersion {
        price: tiered,
        ..versions[1].clone()
    };
    let json = serde_json::to_string(&version).unwrap();
    assert_eq!(
        serde_json::from_str::<PriceVersion>(&json).unwrap(),
        version
    );
}
