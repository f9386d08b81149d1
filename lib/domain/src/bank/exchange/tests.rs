use super::*;
use proptest::prelude::*;
use rust_decimal_macros::dec;

/// A statement with one account and two documents: a credit and a debit.
fn sample(encoding: &str) -> String {
    format!(
        "1CClientBankExchange\r\n\
         ВерсияФормата=1.03\r\n\
         Кодировка={encoding}\r\n\
         Отправитель=Бухгалтерия\r\n\
         ДатаНачала=01.12.2026\r\n\
         ДатаКонца=06.12.2026\r\n\
         РасчСчет=40702810938000000001\r\n\
         СекцияРасчСчет\r\n\
         ДатаНачала=01.12.2026\r\n\
         ДатаКонца=06.12.2026\r\n\
         РасчСчет=40702810938000000001\r\n\
         НачальныйОстаток=1000.00\r\n\
         ВсегоПоступило=26962.16\r\n\
         ВсегоСписано=500.00\r\n\
         КонечныйОстаток=27462.16\r\n\
         КонецРасчСчет\r\n\
         СекцияДокумент=Платежное поручение\r\n\
         Номер=101\r\n\
         Дата=05.12.2026\r\n\
         Сумма=26962.16\r\n\
         ПлательщикСчет=40702810100000000002\r\n\
         Плательщик=ИНН 7704123450 ООО \"Ромашка\"\r\n\
         ПлательщикИНН=7704123450\r\n\
         ПлательщикКПП=770401001\r\n\
         Плательщик1=ООО \"Ромашка\"\r\n\
         ПолучательСчет=40702810938000000001\r\n\
         ПолучательИНН=7708123450\r\n\
         ДатаПоступило=05.12.2026\r\n\
         НазначениеПлатежа=Оплата по счету № KPK-2026-000001 от 01.12.2026, в т.ч. НДС 20%\r\n\
         КонецДокумента\r\n\
         СекцияДокумент=Платежное поручение\r\n\
         Номер=7\r\n\
         Дата=06.12.2026\r\n\
         Сумма=500,00\r\n\
         ПлательщикСчет=40702810938000000001\r\n\
         Плательщик=ООО \"Копек\"\r\n\
         ПолучательСчет=40702810200000000003\r\n\
         ДатаСписано=06.12.2026\r\n\
         НазначениеПлатежа=Аренда\r\n\
         КонецДокумента\r\n\
         КонецФайла\r\n"
    )
}

fn bytes(text: &str, encoding: &'static Encoding) -> Vec<u8> {
    encoding.encode(text).0.into_owned()
}

#[test]
fn a_statement_is_read_in_either_encoding() {
    for (name, encoding, expected) in [
        ("Windows", WINDOWS_1251, FileEncoding::Windows),
        ("DOS", IBM866, FileEncoding::Dos),
    ] {
        let read = parse(&bytes(&sample(name), encoding)).expect("a statement");
        assert_eq!(read.encoding, expected);
        assert_eq!(read.version, "1.03");
        assert_eq!(read.header["Отправитель"], "Бухгалтерия");
        assert_eq!(read.accounts.len(), 1);
        assert!(read.accounts[0].add_up());
        let [credit, debit] = read.documents.as_slice() else {
            panic!("two documents: {:?}", read.documents);
        };
        assert_eq!(credit.kind, "Платежное поручение");
        assert_eq!(credit.number, "101");
        assert_eq!(credit.amount, dec!(26962.16));
        assert_eq!(credit.payer_inn.as_deref(), Some("7704123450"));
        assert_eq!(credit.payer_kpp.as_deref(), Some("770401001"));
        assert_eq!(credit.payer_name, "ООО \"Ромашка\"");
        assert_eq!(credit.payee_account, "40702810938000000001");
        assert_eq!(credit.received_on, NaiveDate::from_ymd_opt(2026, 12, 5));
        assert!(credit.purpose.contains("KPK-2026-000001"));
        assert_eq!(debit.amount, dec!(500.00), "a decimal comma is read too");
        assert_eq!(debit.written_off_on, NaiveDate::from_ymd_opt(2026, 12, 6));
        assert_eq!(debit.payer_inn, None);
    }
}

#[test]
fn a_balance_that_does_not_add_up_is_reported() {
    let text = sample("Windows").replace("КонечныйОстаток=27462.16", "КонечныйОстаток=27462.17");
    let read = parse(&bytes(&text, WINDOWS_1251)).expect("read");
    assert!(!read.accounts[0].add_up());
}

#[test]
fn every_broken_file_names_its_line_and_key() {
    let good = sample("Windows");
    let amount = |v: &str| good.replace("Сумма=26962.16", &format!("Сумма={v}"));
    let cases: Vec<(String, usize, Option<&str>)> = vec![
        ("Hello".into(), 1, None),
        (
            good.replace("ВерсияФормата=1.03", "ВерсияФормата=2.00"),
            2,
            Some("ВерсияФормата"),
        ),
        (amount("26 962.16"), 20, Some("Сумма")),
        (amount("-5"), 20, Some("Сумма")),
        (amount("0"), 20, Some("Сумма")),
        (amount("1.005"), 20, Some("Сумма")),
        (amount("100000000000000000000"), 20, Some("Сумма")),
        (
            good.replace("Дата=05.12.2026", "Дата=2026-12-05"),
            19,
            Some("Дата"),
        ),
        (good.replace("Номер=101\r\n", ""), 17, Some("Номер")),
        (
            good.replace("НачальныйОстаток=1000.00\r\n", ""),
            8,
            Some("НачальныйОстаток"),
        ),
        (
            good.replace("КонецДокумента\r\nСекцияДокумент", "СекцияДокумент"),
            30,
            Some("СекцияДокумент"),
        ),
        (good.replace("КонецФайла\r\n", ""), 41, None),
        (format!("{good}Номер=1\r\n"), 42, None),
        (
            good.replace(
                "СекцияДокумент=Платежное поручение\r\nНомер=7",
                "СекцияДокумент=\r\nНомер=7",
            ),
            31,
            Some("СекцияДокумент"),
        ),
        (
            good.replace("Аренда", "Аренда\r\nстрока без ключа"),
            40,
            Some("строка без ключа"),
        ),
    ];
    for (text, line, key) in cases {
        let refused = parse(&bytes(&text, WINDOWS_1251)).unwrap_err();
        assert_eq!(
            (refused.line, refused.key.as_deref()),
            (line, key),
            "{refused}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the bytes, the parser answers and never panics.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&data);
    }

    /// A valid file with one byte changed is read or refused, never a panic.
    #[test]
    fn a_mangled_statement_never_panics(at in 0usize..4096, byte in any::<u8>()) {
        let mut data = bytes(&sample("Windows"), WINDOWS_1251);
        let i = at % data.len();
        data[i] = byte;
        let _ = parse(&data);
    }
}
