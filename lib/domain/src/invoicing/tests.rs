use super::fixtures::*;
use super::*;
use crate::money::tax_on;
use rust_decimal_macros::dec;

fn number(text: &str) -> InvoiceNumber {
    text.parse().unwrap()
}

fn a_draft() -> InvoiceDraft {
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(1000.00), rate(dec!(20)), nov(20));
    close.draft(TaxMode::Exclusive)
}

fn is_invalid(err: &InvoicingError, on: &str) -> bool {
    matches!(err, InvoicingError::Invalid { field, .. } if field == on)
}

// --- Numbering -------------------------------------------------------------------------

#[test]
fn a_number_prints_and_parses_back_in_its_text_form() {
    for text in ["KPK-2026-000042", "KPK-CN-2026-000001", "AB12-2031-1234567"] {
        let parsed = number(text);
        assert_eq!(parsed.to_string(), text);
        let json = serde_json::to_string(&parsed).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<InvoiceNumber>(&json).unwrap(),
            parsed
        );
    }
    let credit = number("KPK-CN-2026-000007");
    assert_eq!(credit.kind, DocumentKind::CreditNote);
    assert_eq!((credit.year, credit.seq), (2026, 7));
    assert_eq!(credit.series.as_str(), "KPK");
}

#[test]
fn the_first_number_of_a_sequence_is_one_and_the_next_counts_up() {
    let first = InvoiceNumber::first(series(), DocumentKind::Invoice, 2026);
    assert_eq!(first.to_string(), "KPK-2026-000001");
    assert_eq!(first.next().to_string(), "KPK-2026-000002");
    let credit = InvoiceNumber::first(series(), DocumentKind::CreditNote, 2027);
    assert_eq!(credit.next().next().to_string(), "KPK-CN-2027-000003");
    let big = InvoiceNumber::new(series(), DocumentKind::Invoice, 2026, 999_999).unwrap();
    assert_eq!(big.next().to_string(), "KPK-2026-1000000");
    assert_eq!(number("KPK-2026-1000000"), big.next());
}

#[test]
fn a_number_is_checked_when_built() {
    assert!(is_invalid(
        &InvoiceNumber::new(series(), DocumentKind::Invoice, 2026, 0).unwrap_err(),
        "number"
    ));
    assert!(is_invalid(
        &InvoiceNumber::new(series(), DocumentKind::Invoice, 1999, 1).unwrap_err(),
        "number"
    ));
    assert!(InvoiceNumber::new(series(), DocumentKind::Invoice, 9999, u64::MAX).is_ok());
}

#[test]
fn malformed_numbers_are_refused() {
    for bad in [
        "",
        "KPK",
        "KPK-2026",
        "KPK-2026-00001",
        "KPK-2026-000000",
        "KPK-26-000001",
        "KPK-1999-000001",
        "KPK-X-2026-000001",
        "KPK-cn-2026-000001",
        "kpk-2026-000001",
        "K-2026-000001",
        "1KP-2026-000001",
        "KPK-2026-00000a",
        "KPK-2026-+00001",
        "KPK-2026-000001-1",
        "KPK--2026-000001",
        "KPK-2026-99999999999999999999999",
        "KPK-7-2026-000001",
        "KPK-00-2026-000001",
        "KPK-100-2026-000001",
        "KPK-07-CN-26-000001",
        "KPK-07-07-2026-000001",
    ] {
        assert!(
            bad.parse::<InvoiceNumber>().is_err(),
            "{bad:?} was accepted"
        );
    }
    assert!(serde_json::from_str::<InvoiceNumber>("\"KPK-2026-000000\"").is_err());
}

#[test]
fn a_series_is_two_to_eight_capitals_or_digits_starting_with_a_letter() {
    for good in ["KP", "KPK", "A1234567"] {
        assert!(InvoiceSeries::new(good).is_ok(), "{good}");
    }
    for bad in ["K", "ABCDEFGHI", "1AB", "Kpk", "K-P", ""] {
        assert!(InvoiceSeries::new(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_subdivided_series_numbers_as_kpk_07_and_reads_back() {
    let seven = series().subdivision(7);
    assert_eq!(seven.as_str(), "KPK-07");
    assert_eq!((seven.code(), seven.index()), ("KPK", Some(7)));
    assert_eq!((series().code(), series().index()), ("KPK", None));
    for (text, kind) in [
        ("KPK-07-2026-000123", DocumentKind::Invoice),
        ("KPK-07-CN-2026-000001", DocumentKind::CreditNote),
        ("KPK-99-2026-1234567", DocumentKind::Invoice),
    ] {
        let number: InvoiceNumber = text.parse().unwrap();
        assert_eq!(number.kind, kind);
        assert_eq!(number.to_string(), text);
        assert_eq!(number.series.code(), "KPK");
        let json = serde_json::to_string(&number).unwrap();
        assert_eq!(
            serde_json::from_str::<InvoiceNumber>(&json).unwrap(),
            number
        );
    }
    // The settings take the code alone; a subdivision is the count's business.
    assert!(InvoiceSeries::new("KPK-07").is_err());
    assert!(InvoiceSeries::parse("KPK-07").is_ok());
    for bad in ["KPK-7", "KPK-00", "KPK-100", "KPK-", "-07"] {
        assert!(InvoiceSeries::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_series_count_is_one_to_ninety_nine() {
    for bad in [0, 100, 255] {
        let e = SeriesCount::new(bad).unwrap_err();
        assert_eq!(e.field(), Some("series_count"), "{bad}");
        assert!(serde_json::from_str::<SeriesCount>(&bad.to_string()).is_err());
    }
    assert_eq!(SeriesCount::new(16).unwrap().get(), 16);
    // Settings saved before there was a count number in one series.
    let old = serde_json::json!({"series": "KPK", "payment_terms_days": 14});
    let read: BillingSettings = serde_json::from_value(old).unwrap();
    assert_eq!(read.series_count, SeriesCount::ONE);
}

#[test]
fn customers_are_spread_over_the_series_and_stay_where_they_were_placed() {
    let mut settings = settings(TaxMode::Exclusive);
    let org = crate::ids::OrgId::new();
    // One series: the code alone, nothing to record.
    let one = settings.series_for(org, None);
    assert_eq!((one.series.as_str(), one.place), ("KPK", None));
    // Sixteen: a subdivision from the id, the same every time, to be recorded.
    settings.series_count = SeriesCount::new(16).unwrap();
    let placed = settings.series_for(org, None);
    let index = placed.place.expect("placed now");
    assert!((1..=16).contains(&index));
    assert_eq!(placed.series, series().subdivision(index));
    assert_eq!(settings.series_for(org, None), placed);
    // Once recorded it stays, whatever the count becomes.
    for count in [1, 4, 16, 99] {
        settings.series_count = SeriesCount::new(count).unwrap();
        let kept = settings.series_for(org, Some(index));
        assert_eq!(
            (kept.series, kept.place),
            (series().subdivision(index), None)
        );
    }
    // Spread evenly: 3,200 customers over 16 series, each within 35 % of 200 (five standard
    // deviations of a fair draw: this fails only if the rule is skewed).
    settings.series_count = SeriesCount::new(16).unwrap();
    let mut counts = [0u32; 17];
    for _ in 0..3200 {
        let index = settings
            .series_for(crate::ids::OrgId::new(), None)
            .place
            .unwrap();
        counts[usize::from(index)] += 1;
    }
    assert_eq!(counts[0], 0);
    for (index, n) in counts.iter().enumerate().skip(1) {
        assert!((130..=270).contains(n), "series {index}: {n} of 3200");
    }
}

// --- Issuing ---------------------------------------------------------------------------

#[test]
fn issuing_numbers_a_draft_and_sets_its_due_date() {
    let draft = a_draft();
    let id = InvoiceId::new();
    let invoice = issue(
        draft.clone(),
        id,
        number("KPK-2026-000001"),
        day(2026, 12, 1),
        14,
    )
    .unwrap();
    assert_eq!(invoice.id, id);
    assert_eq!(invoice.issued_on, day(2026, 12, 1));
    assert_eq!(invoice.due_on, day(2026, 12, 15));
    assert_eq!(invoice.draft, draft);
    assert_eq!(invoice.credited, rub(dec!(0)));
    assert_eq!(invoice.paid, rub(dec!(0)));
    let same_day = issue(draft, id, number("KPK-2026-000001"), day(2026, 12, 1), 0).unwrap();
    assert_eq!(same_day.due_on, same_day.issued_on);
}

#[test]
fn an_invoice_travels_as_json_with_its_draft_flattened() {
    let invoice = issued(a_draft());
    let json = serde_json::to_value(&invoice).unwrap();
    assert_eq!(json["number"], "KPK-2026-000001");
    assert_eq!(json["period"], "2026-11");
    assert_eq!(json["gross"]["amount"], "1200.00");
    assert_eq!(json["lines"][0]["tax_rate"], "20");
    assert_eq!(json["lines"][0]["source"]["type"], "charge");
    let back: Invoice = serde_json::from_value(json).unwrap();
    assert_eq!(back, invoice);
}

#[test]
fn an_invoice_takes_only_an_invoice_number_of_its_year_of_issue() {
    let refuse = |text: &str, on: NaiveDate| {
        issue(a_draft(), InvoiceId::new(), number(text), on, 14).unwrap_err()
    };
    assert!(is_invalid(
        &refuse("KPK-CN-2026-000001", day(2026, 12, 1)),
        "number"
    ));
    assert!(is_invalid(
        &refuse("KPK-2026-000001", day(2027, 1, 2)),
        "number"
    ));
    let err = issue(
        a_draft(),
        InvoiceId::new(),
        number("KPK-9999-000001"),
        day(9999, 12, 30),
        14,
    )
    .unwrap_err();
    assert!(is_invalid(&err, "payment_terms_days"));
}

// --- Status ----------------------------------------------------------------------------

#[test]
fn an_invoice_is_issued_then_overdue_after_its_due_date() {
    let invoice = issued(a_draft());
    assert_eq!(invoice.status_on(day(2026, 12, 1)), InvoiceStatus::Issued);
    assert_eq!(invoice.status_on(day(2026, 12, 15)), InvoiceStatus::Issued);
    assert_eq!(invoice.status_on(day(2026, 12, 16)), InvoiceStatus::Overdue);
    assert_eq!(invoice.open_amount(), rub(dec!(1200.00)));
}

#[test]
fn a_partly_paid_invoice_is_partly_paid_until_it_falls_overdue() {
    let mut invoice = issued(a_draft());
    invoice.paid = rub(dec!(200.00));
    assert_eq!(
        invoice.status_on(day(2026, 12, 2)),
        InvoiceStatus::PartlyPaid
    );
    assert_eq!(invoice.open_amount(), rub(dec!(1000.00)));
    assert_eq!(invoice.status_on(day(2026, 12, 16)), InvoiceStatus::Overdue);
}

#[test]
fn an_invoice_with_nothing_open_is_paid() {
    let mut invoice = issued(a_draft());
    invoice.paid = rub(dec!(1200.00));
    assert_eq!(invoice.status_on(day(2027, 3, 1)), InvoiceStatus::Paid);
    // Partly credited, the rest paid (and overpaid: never below zero).
    invoice.credited = rub(dec!(300.00));
    invoice.paid = rub(dec!(1000.00));
    assert_eq!(invoice.open_amount(), rub(dec!(0)));
    assert_eq!(invoice.status_on(day(2027, 3, 1)), InvoiceStatus::Paid);
}

#[test]
fn an_invoice_of_zero_is_paid_from_the_start() {
    let mut close = Close::new("2026-11", Currency::RUB);
    close.charge("INSTALL", dec!(100), rate(dec!(20)), nov(2));
    close.charge("INSTALL", dec!(-100), rate(dec!(20)), nov(3));
    let mut settings = settings(TaxMode::Exclusive);
    settings.zero_invoices = ZeroInvoicePolicy::Issue;
    let invoice = issued(close.compose(&settings).unwrap().unwrap());
    assert_eq!(invoice.status_on(day(2027, 3, 1)), InvoiceStatus::Paid);
}

#[test]
fn a_fully_credited_invoice_is_void() {
    let mut invoice = issued(a_draft());
    let note = credit(&invoice, &[], &[]).unwrap();
    invoice.record_credit_note(&note).unwrap();
    assert_eq!(invoice.credited, rub(dec!(1200.00)));
    assert_eq!(invoice.status_on(day(2027, 3, 1)), InvoiceStatus::Void);
    assert_eq!(invoice.open_amount(), rub(dec!(0)));
}

#[test]
fn a_credit_note_of_another_invoice_is_not_recorded() {
    let other = issued(a_draft());
    let note = credit(&other, &[], &[]).unwrap();
    let mut invoice = issued(a_draft());
    assert!(is_invalid(
        &invoice.record_credit_note(&note).unwrap_err(),
        "invoice"
    ));
    assert_eq!(invoice.credited, rub(dec!(0)));
}

#[test]
fn a_line_is_found_by_its_number() {
    let invoice = issued(a_draft());
    assert_eq!(invoice.line(1).map(|l| l.no), Some(1));
    assert!(invoice.line(0).is_none());
    assert!(invoice.line(2).is_none());
}

// --- Tax -------------------------------------------------------------------------------

#[test]
fn exclusive_tax_of_twenty_percent_on_157_50_is_31_50() {
    let amounts = line_amounts(rub(dec!(157.50)), rate(dec!(20)), TaxMode::Exclusive).unwrap();
    assert_eq!(amounts.net, rub(dec!(157.50)));
    assert_eq!(amounts.tax, rub(dec!(31.50)));
    assert_eq!(amounts.gross, rub(dec!(189.00)));
}

#[test]
fn inclusive_tax_of_twenty_percent_in_189_00_is_31_50() {
    let amounts = line_amounts(rub(dec!(189.00)), rate(dec!(20)), TaxMode::Inclusive).unwrap();
    assert_eq!(amounts.gross, rub(dec!(189.00)));
    assert_eq!(amounts.tax, rub(dec!(31.50)));
    assert_eq!(amounts.net, rub(dec!(157.50)));
}

#[test]
fn included_tax_is_rounded_once_half_away_from_zero() {
    // 100.00 × 20 / 120 = 16.666… → 16.67; 0.03 × 10 / 110 = 0.00272… → 0.00;
    // 0.33 × 10 / 110 = 0.03 exactly; 0.11 × 100 / 200 = 0.055 → 0.06, and −0.06.
    let included = |gross: Decimal, percent: Decimal| {
        tax_included(&rub(gross), rate(percent)).unwrap().amount()
    };
    assert_eq!(included(dec!(100.00), dec!(20)), dec!(16.67));
    assert_eq!(included(dec!(0.03), dec!(10)), dec!(0.00));
    assert_eq!(included(dec!(0.33), dec!(10)), dec!(0.03));
    assert_eq!(included(dec!(0.11), dec!(100)), dec!(0.06));
    assert_eq!(included(dec!(-0.11), dec!(100)), dec!(-0.06));
    assert_eq!(included(dec!(120.00), dec!(0)), dec!(0));
    assert_eq!(
        tax_included(&rub(dec!(120)), TaxRate::Exempt).unwrap(),
        rub(dec!(0))
    );
}

#[test]
fn an_exempt_line_has_no_tax_in_either_mode() {
    for mode in [TaxMode::Exclusive, TaxMode::Inclusive] {
        let amounts = line_amounts(rub(dec!(99.99)), TaxRate::Exempt, mode).unwrap();
        assert_eq!(amounts.tax, rub(dec!(0)));
        assert_eq!(amounts.net, amounts.gross);
    }
}

#[test]
fn tax_per_line_of_three_lines_of_0_33_is_0_21_where_tax_on_the_total_would_be_0_20() {
    let per_line = line_amounts(rub(dec!(0.33)), rate(dec!(20)), TaxMode::Exclusive).unwrap();
    assert_eq!(per_line.tax, rub(dec!(0.07))); // 0.066 → 0.07
    assert_eq!(tax_on(&rub(dec!(0.99)), dec!(20)).unwrap(), rub(dec!(0.20)));
}
