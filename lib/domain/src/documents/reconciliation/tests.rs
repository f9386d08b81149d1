use super::*;
use rust_decimal_macros::dec;

fn rub(amount: Decimal) -> Money {
    Money::new(amount, Currency::RUB)
}

fn made_on() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn act(statement: &AccountStatement, language: DocumentLanguage) -> ReconciliationSheet {
    let (seller, buyer) = sample_parties(language);
    ReconciliationSheet::of(statement, &seller, &buyer, language, made_on())
}

fn account(statement: &AccountStatement, language: DocumentLanguage) -> AccountStatementSheet {
    let (seller, buyer) = sample_parties(language);
    AccountStatementSheet::of(statement, &seller, &buyer, language, made_on())
}

/// The sample statement, closing at `closing` instead.
fn closing_at(closing: Decimal) -> AccountStatement {
    AccountStatement {
        closing: rub(closing),
        ..sample_statement()
    }
}

/// A printed amount read back: `2,376.00` (English) or `2 376,00` (Russian).
fn parse(printed: &str) -> Decimal {
    if printed.is_empty() {
        return Decimal::ZERO;
    }
    let plain = if printed.contains('.') {
        printed.replace(',', "")
    } else {
        printed.replace('\u{a0}', "").replace(',', ".")
    };
    plain.parse().unwrap_or_else(|_| panic!("{printed:?}"))
}

#[test]
fn the_conclusion_says_who_owes_whom_in_russian() {
    let ru = DocumentLanguage::Ru;
    assert_eq!(
        act(&closing_at(dec!(12345.67)), ru).conclusion,
        "По данным ООО «Копек» на 30.11.2026 задолженность в пользу ООО «Копек» составляет \
         12\u{a0}345,67 руб. (двенадцать тысяч триста сорок пять рублей 67 копеек)."
    );
    assert_eq!(
        act(&closing_at(dec!(-282.40)), ru).conclusion,
        "По данным ООО «Копек» на 30.11.2026 задолженность в пользу ООО «Ромашка» составляет \
         282,40 руб. (двести восемьдесят два рубля 40 копеек)."
    );
    assert_eq!(
        act(&closing_at(dec!(0)), ru).conclusion,
        "По данным ООО «Копек» на 30.11.2026 взаимная задолженность отсутствует."
    );
    // Less than a kopek is nothing.
    assert_eq!(
        act(&closing_at(dec!(0.004)), ru).conclusion,
        "По данным ООО «Копек» на 30.11.2026 взаимная задолженность отсутствует."
    );
}

#[test]
fn the_conclusion_says_who_owes_whom_in_english() {
    let en = DocumentLanguage::En;
    assert_eq!(
        act(&closing_at(dec!(12345.67)), en).conclusion,
        "According to Kopek LLC, as of 30.11.2026 Romashka LLC owes Kopek LLC RUB 12,345.67 \
         (twelve thousand three hundred forty-five roubles and 67 kopecks)."
    );
    assert_eq!(
        act(&closing_at(dec!(-282.40)), en).conclusion,
        "According to Kopek LLC, as of 30.11.2026 Kopek LLC owes Romashka LLC RUB 282.40 \
         (two hundred eighty-two roubles and 40 kopecks)."
    );
    assert_eq!(
        act(&closing_at(dec!(0)), en).conclusion,
        "According to Kopek LLC, as of 30.11.2026 there is no debt either way."
    );
}

#[test]
fn the_statement_of_account_concludes_as_the_act_does() {
    for language in [DocumentLanguage::Ru, DocumentLanguage::En] {
        for closing in [dec!(5717.60), dec!(-1), dec!(0)] {
            let statement = closing_at(closing);
            assert_eq!(
                account(&statement, language).conclusion,
                act(&statement, language).conclusion
            );
        }
    }
}

#[test]
fn the_amount_is_written_in_words_in_the_currency() {
    let sheet = act(&sample_statement(), DocumentLanguage::Ru);
    assert!(
        sheet
            .conclusion
            .ends_with("5\u{a0}717,60 руб. (пять тысяч семьсот семнадцать рублей 60 копеек)."),
        "{}",
        sheet.conclusion
    );
    let dollars = AccountStatement {
        currency: Currency::USD,
        closing: Money::new(dec!(1001.05), Currency::USD),
        ..sample_statement()
    };
    let ru = act(&dollars, DocumentLanguage::Ru);
    assert!(
        ru.conclusion
            .ends_with("1\u{a0}001,05 долл. США (одна тысяча один доллар США 05 центов)."),
        "{}",
        ru.conclusion
    );
    assert_eq!(ru.seller_side, "По данным ООО «Копек», долл. США");
    let en = act(&dollars, DocumentLanguage::En);
    assert!(
        en.conclusion
            .ends_with("USD 1,001.05 (one thousand one US dollars and 05 cents)."),
        "{}",
        en.conclusion
    );
}

#[test]
fn the_opening_and_closing_balances_stand_on_the_side_of_their_sign() {
    let ru = DocumentLanguage::Ru;
    let sample = sample_statement();
    let sheet = act(&sample, ru);
    assert_eq!(sheet.opening.document, "Сальдо начальное");
    assert_eq!(
        (sheet.opening.debit.as_str(), sheet.opening.credit.as_str()),
        ("2\u{a0}376,00", ""),
        "the customer owed: the provider's debit"
    );
    assert_eq!(sheet.closing.document, "Сальдо конечное");
    assert_eq!(
        (sheet.closing.debit.as_str(), sheet.closing.credit.as_str()),
        ("5\u{a0}717,60", "")
    );

    let in_credit = AccountStatement {
        opening: rub(dec!(-150.5)),
        closing: rub(dec!(-282.4)),
        ..sample_statement()
    };
    let sheet = act(&in_credit, ru);
    assert_eq!(
        (sheet.opening.debit.as_str(), sheet.opening.credit.as_str()),
        ("", "150,50"),
        "the provider owed: its credit, without a sign"
    );
    assert_eq!(
        (sheet.closing.debit.as_str(), sheet.closing.credit.as_str()),
        ("", "282,40")
    );

    let settled = AccountStatement {
        opening: rub(dec!(0)),
        closing: rub(dec!(0)),
        ..sample_statement()
    };
    let sheet = act(&settled, DocumentLanguage::En);
    assert_eq!(sheet.opening.document, "Opening balance");
    assert_eq!(
        (sheet.opening.debit.as_str(), sheet.opening.credit.as_str()),
        ("", "")
    );
    assert_eq!(
        (sheet.closing.debit.as_str(), sheet.closing.credit.as_str()),
        ("", "")
    );
}

#[test]
fn the_turnover_is_the_statements_totals_and_the_rows_add_up_to_it() {
    for language in [DocumentLanguage::Ru, DocumentLanguage::En] {
        let statement = sample_statement();
        let sheet = act(&statement, language);
        assert_eq!(
            parse(&sheet.turnover.debit),
            statement.totals.debit.amount()
        );
        assert_eq!(
            parse(&sheet.turnover.credit),
            statement.totals.credit.amount()
        );
        assert_eq!(parse(&sheet.turnover.debit), dec!(14217.60));
        assert_eq!(parse(&sheet.turnover.credit), dec!(10876.00));
        let debits: Decimal = sheet.rows.iter().map(|r| parse(&r.debit)).sum();
        let credits: Decimal = sheet.rows.iter().map(|r| parse(&r.credit)).sum();
        assert_eq!(debits, statement.totals.debit.amount());
        assert_eq!(credits, statement.totals.credit.amount());
        // Opening + turnover = closing, as printed.
        let signed = |r: &ReconciliationRow| parse(&r.debit) - parse(&r.credit);
        assert_eq!(
            signed(&sheet.opening) + debits - credits,
            signed(&sheet.closing)
        );

        let account = account(&statement, language);
        assert_eq!(account.turnover.debit, sheet.turnover.debit);
        assert_eq!(account.turnover.credit, sheet.turnover.credit);
    }
    // Turnover is printed even when nothing moved.
    let quiet = AccountStatement {
        rows: Vec::new(),
        totals: Totals {
            debit: rub(dec!(0)),
            credit: rub(dec!(0)),
        },
        closing: rub(dec!(2376)),
        ..sample_statement()
    };
    let sheet = act(&quiet, DocumentLanguage::Ru);
    assert!(sheet.rows.is_empty());
    assert_eq!(
        (
            sheet.turnover.debit.as_str(),
            sheet.turnover.credit.as_str()
        ),
        ("0,00", "0,00")
    );
}

#[test]
fn every_kind_of_row_is_named_and_put_on_its_side_of_the_providers_books() {
    let sheet = act(&sample_statement(), DocumentLanguage::Ru);
    let rows: Vec<(&str, &str, &str, &str)> = sheet
        .rows
        .iter()
        .map(|r| {
            (
                r.date.as_str(),
                r.document.as_str(),
                r.debit.as_str(),
                r.credit.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "01.10.2026",
                "Реализация (акт, счёт № KPK-2026-000041)",
                "2\u{a0}376,00",
                ""
            ),
            ("06.10.2026", "Оплата (п/п 148)", "", "5\u{a0}000,00"),
            ("09.10.2026", "Возврат (п/п 12)", "248,00", ""),
            (
                "01.11.2026",
                "Реализация (акт, счёт № KPK-2026-000057)",
                "5\u{a0}876,00",
                ""
            ),
            (
                "10.11.2026",
                "Корректировка (документ № KPK-CN-2026-000003)",
                "",
                "158,40"
            ),
            ("12.11.2026", "Оплата (п/п 163)", "", "5\u{a0}717,60"),
            ("17.11.2026", "Сторно оплаты (п/п 163)", "5\u{a0}717,60", ""),
        ]
    );
    let en = act(&sample_statement(), DocumentLanguage::En);
    assert_eq!(
        en.rows[0].document,
        "Services (act, invoice No. KPK-2026-000041)"
    );
    assert_eq!(en.rows[0].debit, "2,376.00");
    assert_eq!(en.rows[1].document, "Payment (payment order 148)");
    assert_eq!(
        en.rows[4].document,
        "Correction (credit note No. KPK-CN-2026-000003)"
    );
    assert_eq!(en.rows[6].document, "Payment reversed (payment order 163)");
}

#[test]
fn the_act_names_the_period_the_parties_the_contract_and_who_signs() {
    let ru = act(&sample_statement(), DocumentLanguage::Ru);
    assert_eq!(ru.title, "Акт сверки взаимных расчётов");
    assert_eq!(ru.period, "за период с 01.10.2026 по 30.11.2026");
    assert_eq!(ru.between, "между ООО «Копек» и ООО «Ромашка»");
    assert_eq!(ru.contract, "по договору № 17/2026 от 12 января 2026 г.");
    assert_eq!(ru.made_on, "1 декабря 2026 г.");
    assert!(
        ru.preamble
            .starts_with("Мы, нижеподписавшиеся, генеральный директор ООО «Копек» Иванов И. И.,"),
        "{}",
        ru.preamble
    );
    assert_eq!(ru.seller_side, "По данным ООО «Копек», руб.");
    assert_eq!(ru.buyer_side, "По данным ООО «Ромашка», руб.");
    assert_eq!(ru.columns, ["Дата", "Документ", "Дебет", "Кредит"]);
    assert_eq!(ru.seller.tax_line, "ИНН 7708123450, КПП 770801001");
    assert!(
        ru.buyer_conclusion
            .starts_with("По данным ООО «Ромашка» на 30.11.2026")
    );
    assert_eq!(ru.signatures.len(), 2);
    let (seller, buyer) = (&ru.signatures[0], &ru.signatures[1]);
    assert_eq!(seller.on_behalf, "От ООО «Копек»");
    assert_eq!(seller.position, "Генеральный директор");
    assert_eq!(seller.name, "Иванов И. И.");
    assert_eq!(seller.stamp, "М.П.");
    assert_eq!(buyer.on_behalf, "От ООО «Ромашка»");
    assert_eq!((buyer.position.as_str(), buyer.name.as_str()), ("", ""));
    assert_eq!(buyer.stamp, "М.П.");

    let en = act(&sample_statement(), DocumentLanguage::En);
    assert_eq!(
        en.title,
        "Statement of reconciliation of mutual settlements"
    );
    assert_eq!(en.period, "for the period from 01.10.2026 to 30.11.2026");
    assert_eq!(en.between, "between Kopek LLC and Romashka LLC");
    assert_eq!(en.contract, "under contract No. 17/2026 of 12 January 2026");
    assert_eq!(en.seller_side, "According to Kopek LLC, RUB");
    assert_eq!(en.signatures[0].on_behalf, "For Kopek LLC");
    assert_eq!(en.signatures[0].position, "General Director");
    assert_eq!(en.signatures[1].stamp, "Seal");

    let (seller, mut buyer) = sample_parties(DocumentLanguage::Ru);
    buyer.contract = None;
    let sheet = ReconciliationSheet::of(
        &sample_statement(),
        &seller,
        &buyer,
        DocumentLanguage::Ru,
        made_on(),
    );
    assert_eq!(sheet.contract, "", "no contract recorded: none printed");
}

#[test]
fn the_statement_of_account_lists_each_documents_lines_under_it_and_the_totals_by_service() {
    let statement = sample_statement();
    let sheet = account(&statement, DocumentLanguage::Ru);
    assert_eq!(sheet.title, "Выписка по лицевому счёту");
    assert_eq!(sheet.period, "за период с 01.10.2026 по 30.11.2026");
    assert_eq!(sheet.made_on, "Дата формирования: 1 декабря 2026 г.");
    assert_eq!(sheet.contract, "Договор № 17/2026 от 12 января 2026 г.");
    assert_eq!(sheet.currency, "Суммы в руб.");
    assert_eq!(sheet.seller.name, "ООО «Копек»");
    assert_eq!(sheet.buyer.name, "ООО «Ромашка»");
    assert_eq!(sheet.columns.len(), 6);
    assert_eq!(
        (
            sheet.opening.date.as_str(),
            sheet.opening.document.as_str(),
            sheet.opening.balance.as_str()
        ),
        ("01.10.2026", "Сальдо начальное", "2\u{a0}376,00")
    );
    assert_eq!(sheet.rows.len(), statement.rows.len());
    let invoice = &sheet.rows[3];
    assert_eq!(invoice.document, "Счёт № KPK-2026-000057");
    assert_eq!(
        invoice.description,
        "Услуги за период 2026-10, оплатить до 2026-11-15"
    );
    assert_eq!(invoice.balance, "5\u{a0}876,00");
    assert_eq!(invoice.lines.len(), 2);
    let vps = &invoice.lines[0];
    assert_eq!(vps.service, "VPS-S");
    assert_eq!(
        vps.description,
        "Виртуальный сервер VPS-S, 01.10.2026–31.10.2026"
    );
    assert_eq!((vps.quantity.as_str(), vps.unit.as_str()), ("2", "мес"));
    assert_eq!(vps.amount, "2\u{a0}376,00");
    assert_eq!(
        invoice.lines[1].description, "Настройка роутера",
        "a charge's id is not printed"
    );
    let note = &sheet.rows[4];
    assert_eq!(note.document, "Корректировка № KPK-CN-2026-000003");
    assert_eq!(note.lines[0].amount, "-158,40");
    assert_eq!(sheet.rows[1].document, "Оплата (п/п 148)");
    assert!(sheet.rows[1].lines.is_empty());
    assert_eq!(sheet.closing.balance, "5\u{a0}717,60");
    assert_eq!(sheet.closing.document, "Сальдо конечное");
    assert_eq!(sheet.overdue.document, "в т. ч. просрочено");
    assert_eq!(sheet.overdue.balance, "5\u{a0}717,60");
    let by_service: Vec<(&str, &str, &str, &str)> = sheet
        .by_service
        .iter()
        .map(|s| {
            (
                s.service.as_str(),
                s.net.as_str(),
                s.tax.as_str(),
                s.gross.as_str(),
            )
        })
        .collect();
    assert_eq!(
        by_service,
        [
            ("ROUTER-SETUP", "3\u{a0}500,00", "0,00", "3\u{a0}500,00"),
            ("VPS-S", "3\u{a0}828,00", "765,60", "4\u{a0}593,60"),
        ]
    );
    assert_eq!(
        sheet.signatures.len(),
        1,
        "the provider signs its statement"
    );
    assert_eq!(sheet.signatures[0].name, "Иванов И. И.");

    let en = account(&statement, DocumentLanguage::En);
    assert_eq!(en.title, "Statement of account");
    assert_eq!(en.rows[3].document, "Invoice No. KPK-2026-000057");
    assert_eq!(en.rows[1].document, "Payment (payment order 148)");
    assert_eq!(
        en.rows[3].lines[0].description,
        "Virtual server VPS-S, 01.10.2026–31.10.2026"
    );
    assert_eq!(en.rows[3].lines[0].unit, "mo");
    assert_eq!(en.overdue.document, "of which overdue");
    assert_eq!(en.currency, "Amounts in RUB");
}

#[test]
fn the_sample_statement_adds_up() {
    let s = sample_statement();
    let mut balance = s.opening;
    for row in &s.rows {
        balance = balance
            .checked_add(row.debit)
            .unwrap()
            .checked_sub(row.credit)
            .unwrap();
        assert_eq!(row.balance, balance);
    }
    assert_eq!(s.closing, balance);
    assert_eq!(s.closing, rub(dec!(5717.60)));
    let gross: Decimal = s.by_service.iter().map(|t| t.gross.amount()).sum();
    let lines: Decimal = s
        .rows
        .iter()
        .flat_map(|r| &r.lines)
        .map(|l| l.gross.amount())
        .sum();
    assert_eq!(gross, lines);
    let kinds: std::collections::BTreeSet<RowKind> = s.rows.iter().map(|r| r.kind).collect();
    assert_eq!(kinds.len(), 5, "a row of every kind");
}

#[test]
fn a_report_is_tagged_with_its_kind_and_samples_follow_the_language() {
    for kind in ReportKind::ALL {
        assert_eq!(kind.as_str().parse::<ReportKind>(), Ok(kind));
        for language in [DocumentLanguage::Ru, DocumentLanguage::En] {
            let report = ReportSheet::sample(kind, language);
            assert_eq!(report.kind(), kind);
            assert_eq!(report.language(), language);
            let json = serde_json::to_value(&report).unwrap();
            assert_eq!(json["kind"], kind.as_str());
            assert_eq!(json["lang"], language.as_str());
            assert_eq!(report, ReportSheet::sample(kind, language), "deterministic");
        }
    }
    assert!("upd".parse::<ReportKind>().is_err());
    assert_eq!(
        ReportSheet::sample(ReportKind::Reconciliation, DocumentLanguage::Ru).title(),
        "Акт сверки взаимных расчётов за период с 01.10.2026 по 30.11.2026"
    );
}
