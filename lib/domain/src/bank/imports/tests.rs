use chrono::NaiveDate;
use rust_decimal_macros::dec;

use super::*;
use crate::bank::Balances;
use crate::payments::{Allocation, NewPayment, PaymentReference};

const OWN: &str = "40702810900000000001";

fn line(no: usize, number: &str, payer: &str, payee: &str, amount: Decimal) -> StatementLine {
    StatementLine {
        line: no,
        number: number.into(),
        date: NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
        amount,
        currency: None,
        payer: Party {
            account: payer.into(),
            ..Party::default()
        },
        payee: Party {
            account: payee.into(),
            ..Party::default()
        },
        received_on: NaiveDate::from_ymd_opt(2026, 11, 20),
        written_off_on: None,
        purpose: String::new(),
    }
}

fn statement() -> Statement {
    let other = "40702810500000000777";
    let mut lines: Vec<StatementLine> = (0..CHUNK + 3)
        .map(|i| line(10 + i, &format!("{}", 100 + i), other, OWN, dec!(10.00)))
        .collect();
    lines.push(line(900, "1", OWN, other, dec!(55.50)));
    lines.push(line(901, "2", other, "40702810000000000999", dec!(7.00)));
    Statement {
        format: StatementFormat::OneC,
        balances: vec![Balances {
            line: 5,
            account: OWN.into(),
            currency: None,
            from: None,
            to: None,
            opening: dec!(100.00),
            credited: dec!(530.00),
            debited: dec!(55.50),
            closing: dec!(574.50),
        }],
        lines,
    }
}

#[test]
fn an_import_counts_payments_debits_and_the_rest_and_checks_balances() {
    let s = statement();
    let import = StatementImport::of(
        ImportId::new(),
        "выписка.txt".into(),
        "ab".into(),
        10,
        &s,
        &[OWN.to_owned()],
        Currency::RUB,
        UserOrKey::System,
        Utc::now(),
    );
    assert_eq!(import.lines_read, CHUNK + 5);
    assert_eq!(
        import.payments,
        vec![Tally {
            currency: Currency::RUB,
            count: CHUNK + 3,
            total: dec!(530.00)
        }]
    );
    assert_eq!(import.debits[0].total, dec!(55.50));
    assert_eq!(import.other[0].count, 1);
    assert_eq!(import.chunks, 2);
    assert!(import.balances[0].adds_up && import.balances[0].own);
    let second: Vec<usize> = StatementImport::chunk(&s, &[OWN.to_owned()], 1)
        .map(|l| l.line)
        .collect();
    assert_eq!(second, vec![10 + CHUNK, 11 + CHUNK, 12 + CHUNK]);

    let mut wrong = s.clone();
    wrong.balances[0].closing = dec!(574.51);
    let import = StatementImport::of(
        ImportId::new(),
        "x".into(),
        "ab".into(),
        1,
        &wrong,
        &[],
        Currency::RUB,
        UserOrKey::System,
        Utc::now(),
    );
    assert!(!import.balances[0].adds_up && !import.balances[0].own);
}

#[test]
fn a_payment_is_known_by_number_date_payer_account_and_amount() {
    let a = line(10, "512", "40702810500000000777", OWN, dec!(1000.00));
    let mut same = a.clone();
    same.line = 99;
    same.purpose = "другой текст".into();
    same.payer.account = " 4070 2810 5000 0000 0777".into();
    same.amount = dec!(1000.0);
    assert_eq!(fingerprint(&a), fingerprint(&same));
    for change in [
        |l: &mut StatementLine| l.number = "513".into(),
        |l: &mut StatementLine| l.date = l.date.succ_opt().unwrap(),
        |l: &mut StatementLine| l.payer.account = "40702810500000000778".into(),
        |l: &mut StatementLine| l.amount = dec!(1000.01),
    ] {
        let mut other = a.clone();
        change(&mut other);
        assert_ne!(fingerprint(&a), fingerprint(&other));
    }
    assert_eq!(reference_of(&a), "п/п 512 от 19.11.2026");
}

#[test]
fn a_payment_recorded_by_hand_is_recognised() {
    let l = line(10, "512", "40702810500000000777", OWN, dec!(1000.00));
    let by_hand = |reference: &str, amount, day| {
        Payment::record(
            NewPayment {
                amount: Money::new(amount, Currency::RUB),
                received_on: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
                reference: PaymentReference::try_from(reference.to_owned()).unwrap(),
                allocation: Allocation::Oldest,
                source: None,
            },
            PaymentId::new(),
            OrgId::new(),
            Currency::RUB,
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            Utc::now(),
            Vec::new(),
        )
        .unwrap()
    };
    let found = [by_hand("п/п 512", dec!(1000.00), 20)];
    assert!(recorded_by_hand(&l, &found).is_some());
    let found = [by_hand("512", dec!(1000.00), 19)];
    assert!(recorded_by_hand(&l, &found).is_some());
    for other in [
        by_hand("п/п 5120", dec!(1000.00), 20),
        by_hand("п/п 512", dec!(999.00), 20),
        by_hand("п/п 512", dec!(1000.00), 25),
    ] {
        assert!(recorded_by_hand(&l, &[other]).is_none());
    }
}
