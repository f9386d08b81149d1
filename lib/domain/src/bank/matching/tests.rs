use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::bank::Party;
use crate::invoicing::InvoiceNumber;

const OWN: &str = "40702810900000000001";

fn line(payer_inn: Option<&str>, payer_kpp: Option<&str>, purpose: &str) -> StatementLine {
    StatementLine {
        line: 10,
        number: "512".into(),
        date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        amount: dec!(1000.00),
        currency: None,
        payer: Party {
            name: "ООО Ромашка".into(),
            account: "40702810500000000777".into(),
            inn: payer_inn.map(Into::into),
            kpp: payer_kpp.map(Into::into),
            tax_id: None,
        },
        payee: Party {
            name: "ООО Копек".into(),
            account: OWN.into(),
            ..Party::default()
        },
        received_on: NaiveDate::from_ymd_opt(2026, 11, 20),
        written_off_on: None,
        purpose: purpose.into(),
    }
}

fn customer(tax_id: &str, kpp: Option<&str>) -> Customer {
    Customer {
        org: OrgId::new(),
        name: format!("customer {tax_id} {kpp:?}"),
        tax_id: tax_id.into(),
        kpp: kpp.map(Into::into),
        currency: Currency::RUB,
    }
}

fn rub(amount: Decimal) -> Money {
    Money::new(amount, Currency::RUB)
}

fn open(number: &str, open_amount: Decimal, day: u32) -> OpenInvoice {
    OpenInvoice {
        id: InvoiceId::new(),
        number: number.parse::<InvoiceNumber>().unwrap(),
        issued_on: NaiveDate::from_ymd_opt(2026, 10, day).unwrap(),
        open: rub(open_amount),
    }
}

#[test]
fn only_money_received_on_an_own_account_is_a_payment() {
    let own = vec!["4070 2810 9000 0000 0001".to_owned()];
    let mut l = line(None, None, "");
    assert_eq!(direction(&l, &own), Direction::Credit);
    std::mem::swap(&mut l.payer, &mut l.payee);
    assert_eq!(direction(&l, &own), Direction::Debit);
    l.payer.account = "40702810500000000778".into();
    assert_eq!(direction(&l, &own), Direction::Other);
    l.payer.account = OWN.into();
    l.payee.account = OWN.into();
    assert_eq!(
        direction(&l, &own),
        Direction::Other,
        "between own accounts"
    );
    let iban = vec!["de89 3704 0044 0532 0130 00".to_owned()];
    l.payee.account = "DE89370400440532013000".into();
    l.payer.account = "GB33BUKB20201555555555".into();
    assert_eq!(direction(&l, &iban), Direction::Credit);
}

#[test]
fn the_payer_is_found_by_inn_then_kpp_then_a_known_account() {
    let head = customer("7701234567", Some("770101001"));
    let branch = customer("7701234567", Some("771001001"));
    let other = customer("5001234567", Some("500101001"));
    let all = vec![head.clone(), branch.clone(), other.clone()];
    let none = |_: &str| None;

    let one = who_paid(&line(Some("5001234567"), None, ""), &all, none);
    assert!(
        matches!(one, Payer::Confident(c) if c.org == other.org && c.reason == "tax id 5001234567")
    );

    let by_kpp = who_paid(&line(Some("7701234567"), Some("771001001"), ""), &all, none);
    assert!(
        matches!(by_kpp, Payer::Confident(c) if c.org == branch.org && c.reason.contains("KPP 771001001"))
    );

    let Payer::Ambiguous(candidates) = who_paid(&line(Some("7701234567"), None, ""), &all, none)
    else {
        panic!("two customers share the INN");
    };
    assert_eq!(candidates.len(), 2);
    assert!(
        candidates
            .iter()
            .all(|c| c.reason.contains("shared by 2 customers"))
    );

    let known = |account: &str| (account == "40702810500000000777").then_some(head.org);
    let remembered = who_paid(&line(Some("7701234567"), None, ""), &all, known);
    assert!(matches!(remembered, Payer::Confident(c) if c.org == head.org));

    // No INN at all (a person paying): only an account confirmed before tells.
    let by_account = who_paid(&line(None, None, ""), &all, known);
    assert!(
        matches!(by_account, Payer::Confident(c) if c.org == head.org && c.reason.contains("before"))
    );
    assert_eq!(who_paid(&line(None, None, ""), &all, none), Payer::Unknown);
    assert_eq!(
        who_paid(&line(Some("0000000000"), None, ""), &all, none),
        Payer::Unknown
    );
    assert_eq!(
        who_paid(&line(Some("9909999999"), None, ""), &all, none),
        Payer::Unknown
    );
}

fn paying(amount: Decimal, purpose: &str) -> (StatementLine, Money) {
    let mut l = line(Some("5001234567"), None, purpose);
    l.amount = amount;
    (l, rub(amount))
}

fn first(allocated: &Allocated) -> Vec<InvoiceId> {
    match allocated {
        Allocated::Record {
            allocation: Allocation::First(ids),
            ..
        } => ids.clone(),
        other => panic!("expected invoices named first, got {other:?}"),
    }
}

#[test]
fn named_invoices_are_paid_first_exactly_partly_or_with_more() {
    let a = open("KPK-2026-000007", dec!(400.00), 1);
    let b = open("KPK-2026-000012", dec!(600.00), 2);
    let c = open("KPK-2026-000013", dec!(100.00), 3);
    let all = vec![a.clone(), b.clone(), c.clone()];

    let (l, amount) = paying(
        dec!(1000.00),
        "Оплата сч. № 7 и сч. № 12 от 01.10.2026, НДС не облагается",
    );
    let exact = allocate(&l, amount, Currency::RUB, &all);
    assert_eq!(first(&exact), vec![a.id, b.id]);
    assert!(
        matches!(&exact, Allocated::Record { reason, .. } if reason.starts_with("pays exactly"))
    );

    let (l, amount) = paying(dec!(250.00), "Оплата сч. KPK-2026-000012");
    let partial = allocate(&l, amount, Currency::RUB, &all);
    assert_eq!(first(&partial), vec![b.id]);
    assert!(
        matches!(&partial, Allocated::Record { reason, .. } if reason.starts_with("pays part of"))
    );

    let (l, amount) = paying(dec!(2000.00), "invoice KPK 2026 13");
    let more = allocate(&l, amount, Currency::RUB, &all);
    assert_eq!(first(&more), vec![c.id]);
    assert!(matches!(&more, Allocated::Record { reason, .. } if reason.contains("more than")));
}

#[test]
fn a_purpose_naming_what_is_paid_or_unknown_goes_to_review() {
    let paid = open("KPK-2026-000007", dec!(0.00), 1);
    let other = open("KPK-2026-000008", dec!(500.00), 2);
    let all = vec![paid, other];
    let (l, amount) = paying(dec!(500.00), "по счету 7");
    assert!(matches!(allocate(&l, amount, Currency::RUB, &all),
        Allocated::Review { reason } if reason.contains("KPK-2026-000007 which is paid already")));
    let (l, amount) = paying(dec!(500.00), "Оплата по счёту № 99 от 01.10.2026");
    assert!(matches!(allocate(&l, amount, Currency::RUB, &all),
        Allocated::Review { reason } if reason.contains("does not have")));
    // Another year than the invoice's is another invoice.
    let (l, amount) = paying(dec!(500.00), "KPK-2025-000008");
    assert!(matches!(
        allocate(&l, amount, Currency::RUB, &all),
        Allocated::Review { .. }
    ));
}

#[test]
fn without_a_number_the_amount_or_the_age_decides() {
    let a = open("KPK-2026-000001", dec!(300.00), 1);
    let b = open("KPK-2026-000002", dec!(700.00), 2);
    let all = vec![a.clone(), b.clone()];
    let (l, amount) = paying(dec!(700.00), "За услуги связи");
    assert_eq!(
        first(&allocate(&l, amount, Currency::RUB, &all)),
        vec![b.id]
    );
    let (l, amount) = paying(dec!(1500.00), "За услуги связи");
    assert!(matches!(
        allocate(&l, amount, Currency::RUB, &all),
        Allocated::Record {
            allocation: Allocation::Oldest,
            ..
        }
    ));
    let (l, amount) = paying(dec!(100.00), "Аванс");
    assert!(matches!(allocate(&l, amount, Currency::RUB, &[]),
        Allocated::Record { allocation: Allocation::Oldest, reason } if reason.contains("credit")));
    // Two invoices open for exactly the amount: the oldest first.
    let twin = open("KPK-2026-000003", dec!(700.00), 3);
    let (l, amount) = paying(dec!(700.00), "");
    assert!(matches!(
        allocate(&l, amount, Currency::RUB, &[b, twin]),
        Allocated::Record {
            allocation: Allocation::Oldest,
            ..
        }
    ));
}

#[test]
fn another_currency_than_the_customers_goes_to_review() {
    let (l, _) = paying(dec!(100.00), "");
    let eur = Money::new(dec!(100.00), Currency::EUR);
    assert!(matches!(allocate(&l, eur, Currency::RUB, &[]),
        Allocated::Review { reason } if reason == "paid in EUR, the customer pays in RUB"));
}

#[test]
fn an_account_is_twenty_digits_or_an_iban_keyed_without_spaces() {
    assert_eq!(
        checked_account("4070 2810 9000 0000 1234").as_deref(),
        Some("40702810900000001234")
    );
    assert_eq!(
        checked_account("de89 3704 0044 0532 0130 00").as_deref(),
        Some("DE89370400440532013000")
    );
    for bad in [
        "",
        "4070281090000000123",
        "407028109000000012345",
        "D89370400440532013000",
        "DE8937040044053201300!",
        "DEXX370400440532013000",
    ] {
        assert_eq!(checked_account(bad), None, "{bad}");
    }
}
