use super::*;
use crate::ids::ImportId;
use crate::invoicing::fixtures::*;
use crate::invoicing::{
    CreditRequestLine, InvoiceDraft, InvoiceNumber, TaxMode, credit_note, issue,
};
use crate::orders::UserOrKey;
use crate::payments::{
    Allocation, BankSource, NewPayment, NewRefund, OpenInvoice, PaymentReference, draw_down,
    release_by_credit,
};
use chrono::Utc;
use proptest::prelude::*;
use rust_decimal_macros::dec;

/// A customer's books as the services keep them: documents, ledger entries and credit.
struct Books {
    org: OrgId,
    invoices: Vec<Invoice>,
    notes: Vec<CreditNote>,
    payments: Vec<Payment>,
    refunds: Vec<Refund>,
    entries: Vec<Entry>,
    credit: Money,
    invoice_seq: u64,
    note_seq: u64,
}

/// The provider's today for every payment and refund of the tests.
fn today() -> NaiveDate {
    day(2027, 1, 31)
}

fn reference(text: &str) -> PaymentReference {
    PaymentReference::try_from(text.to_owned()).unwrap()
}

impl Books {
    fn new() -> Self {
        Self {
            org: OrgId::new(),
            invoices: Vec::new(),
            notes: Vec::new(),
            payments: Vec::new(),
            refunds: Vec::new(),
            entries: Vec::new(),
            credit: rub(dec!(0)),
            invoice_seq: 0,
            note_seq: 0,
        }
    }

    /// Issues `draft` on `on`, due in `terms` days, drawing the credit down, and books it.
    fn invoice(&mut self, mut draft: InvoiceDraft, on: NaiveDate, terms: u16) -> usize {
        self.invoice_seq += 1;
        draft.org = self.org;
        let number: InvoiceNumber = format!("KPK-2026-{:06}", self.invoice_seq).parse().unwrap();
        let mut invoice = issue(draft, InvoiceId::new(), number, on, terms).unwrap();
        let drawn = draw_down(&mut invoice, self.credit).unwrap();
        self.credit = self.credit.checked_sub(drawn).unwrap();
        if let Ok(entry) = ledger::for_invoice(&invoice, EntryId::new()) {
            self.entries.push(entry);
        }
        self.invoices.push(invoice);
        self.invoices.len() - 1
    }

    /// Records a payment settling the oldest open invoices, and books it.
    fn pay(
        &mut self,
        amount: Decimal,
        text: &str,
        on: NaiveDate,
        source: Option<BankSource>,
    ) -> usize {
        let open = self.invoices.iter().map(OpenInvoice::of).collect();
        let payment = Payment::record(
            NewPayment {
                amount: rub(amount),
                received_on: on,
                reference: reference(text),
                allocation: Allocation::Oldest,
                source,
            },
            PaymentId::new(),
            self.org,
            Currency::RUB,
            today(),
            Utc::now(),
            open,
        )
        .unwrap();
        for s in &payment.settled {
            let invoice = self
                .invoices
                .iter_mut()
                .find(|i| i.id == s.invoice)
                .unwrap();
            invoice.paid = invoice.paid.checked_add(s.amount).unwrap();
        }
        self.credit = self.credit.checked_add(payment.to_credit).unwrap();
        self.entries
            .push(ledger::for_payment(&payment, EntryId::new()).unwrap());
        self.payments.push(payment);
        self.payments.len() - 1
    }

    /// Takes payment `index` back on `on`; false when refused.
    fn reverse(&mut self, index: usize, reason: &str, on: NaiveDate) -> bool {
        let invoices = &self.invoices;
        let paid_now = |id| invoices.iter().find(|i| i.id == id).map(|i| i.paid);
        let Ok(reversal) = self.payments[index].reverse(
            reason,
            on,
            Utc::now(),
            UserOrKey::System,
            paid_now,
            self.credit,
        ) else {
            return false;
        };
        for r in &reversal.reopened {
            let invoice = self
                .invoices
                .iter_mut()
                .find(|i| i.id == r.invoice)
                .unwrap();
            invoice.paid = invoice.paid.checked_sub(r.amount).unwrap();
        }
        self.credit = self.credit.checked_sub(reversal.from_credit).unwrap();
        self.entries
            .push(ledger::for_reversal(&self.payments[index], &reversal, EntryId::new()).unwrap());
        self.payments[index].reversed = Some(reversal);
        true
    }

    /// Sends `amount` of the credit back on `on`.
    fn refund(&mut self, amount: Decimal, text: &str, reason: &str, on: NaiveDate) {
        let refund = Refund::record(
            NewRefund {
                amount: rub(amount),
                paid_on: on,
                reference: reference(text),
                reason: reason.into(),
            },
            RefundId::new(),
            self.org,
            Currency::RUB,
            today(),
            Utc::now(),
            self.credit,
        )
        .unwrap();
        self.credit = self.credit.checked_sub(refund.amount).unwrap();
        self.entries
            .push(ledger::for_refund(&refund, EntryId::new()).unwrap());
        self.refunds.push(refund);
    }

    /// Issues a credit note of invoice `index` on `on` for `request`, as the service does.
    fn credit_note(
        &mut self,
        index: usize,
        request: &[CreditRequestLine],
        reason: &str,
        on: NaiveDate,
    ) {
        self.note_seq += 1;
        let invoice = &mut self.invoices[index];
        let earlier: Vec<CreditNote> = self
            .notes
            .iter()
            .filter(|n| n.invoice == invoice.id)
            .cloned()
            .collect();
        let note = credit_note(
            invoice,
            &earlier,
            request,
            reason,
            CreditNoteId::new(),
            format!("KPK-CN-2026-{:06}", self.note_seq).parse().unwrap(),
            on,
        )
        .unwrap();
        invoice.record_credit_note(&note).unwrap();
        let released = release_by_credit(invoice).unwrap();
        self.credit = self.credit.checked_add(released).unwrap();
        self.entries
            .push(ledger::for_credit_note(&note, EntryId::new()).unwrap());
        self.notes.push(note);
    }

    fn input(&self, from: NaiveDate, to: NaiveDate) -> StatementInput<'_> {
        StatementInput {
            org: self.org,
            currency: Currency::RUB,
            from,
            to,
            entries: &self.entries,
            invoices: &self.invoices,
            credit_notes: &self.notes,
            payments: &self.payments,
            refunds: &self.refunds,
        }
    }

    fn statement(&self, from: NaiveDate, to: NaiveDate) -> AccountStatement {
        compose(&self.input(from, to)).unwrap()
    }
}

/// A draft of one charge of `service` for `net` at `percent` tax (none when `None`).
fn charge_draft(service: &str, net: Decimal, percent: Option<Decimal>) -> InvoiceDraft {
    let mut close = Close::new("2026-09", Currency::RUB);
    let tax = percent.map_or(crate::catalog::TaxRate::Exempt, rate);
    close.charge(service, net, tax, day(2026, 9, 20));
    close.draft(TaxMode::Exclusive)
}

/// October's services: a VPS subscription (300.00 a month), an installation (500.00) and
/// 100 API requests at 0.50, all taxed at 20 %: net 850.00, tax 170.00, gross 1020.00.
fn october_draft() -> InvoiceDraft {
    let mut close = Close::new("2026-10", Currency::RUB)
        .with(recurring(
            "VPS",
            flat(Currency::RUB, dec!(300)),
            rate(dec!(20)),
        ))
        .with(metered(
            "API",
            per_unit(Currency::RUB, dec!(0.50)),
            rate(dec!(20)),
        ));
    close.subscribe("VPS", dec!(1), day(2026, 10, 1));
    close.charge("INSTALL", dec!(500), rate(dec!(20)), day(2026, 10, 20));
    close.use_meter("API", &[(day(2026, 10, 5), dec!(100))]);
    close.draft(TaxMode::Exclusive)
}

fn bank_source() -> BankSource {
    BankSource {
        import: ImportId::new(),
        line: 12,
        number: "200".into(),
        date: nov(5),
        payer_name: "ООО Ромашка".into(),
        payer_account: "40702810900000000001".into(),
        purpose: "Оплата по счёту KPK-2026-000002".into(),
    }
}

/// The worked example of the module's tests:
///
/// | day | document | debit | credit | balance |
/// |-----|----------|-------|--------|---------|
/// | 10-01 | invoice 1 (due 10-15) | 1000.00 | | 1000.00 |
/// | 10-10 | payment п/п 100 | | 400.00 | 600.00 |
/// | 11-01 | invoice 2 (due 11-15) | 1020.00 | | 1620.00 |
/// | 11-05 | payment п/п 200 (bank) | | 900.00 | 720.00 |
/// | 11-10 | credit note 1 of invoice 2, its installation | | 600.00 | 120.00 |
/// | 11-12 | payment п/п 300 (380.00 to credit) | | 500.00 | −380.00 |
/// | 11-16 | payment п/п 400 | | 300.00 | −680.00 |
/// | 11-16 | its reversal | 300.00 | | −380.00 |
/// | 11-16 | refund возврат 1 | 80.00 | | −300.00 |
/// | 11-18 | invoice 3 (due 11-25; 300.00 drawn from credit) | 700.00 | | 400.00 |
/// | 11-28 | invoice 4 (due 12-12) | 250.00 | | 650.00 |
fn worked_example() -> Books {
    let mut books = Books::new();
    books.invoice(
        charge_draft("INSTALL", dec!(1000.00), None),
        day(2026, 10, 1),
        14,
    );
    books.pay(dec!(400.00), "п/п 100", day(2026, 10, 10), None);
    let second = books.invoice(october_draft(), nov(1), 14);
    books.pay(dec!(900.00), "п/п 200", nov(5), Some(bank_source()));
    books.credit_note(second, &[take(2, None)], "монтаж не выполнялся", nov(10));
    books.pay(dec!(500.00), "п/п 300", nov(12), None);
    let mistaken = books.pay(dec!(300.00), "п/п 400", nov(16), None);
    assert!(books.reverse(mistaken, "ошибочный платёж", nov(16)));
    books.refund(dec!(80.00), "возврат 1", "по заявлению клиента", nov(16));
    books.invoice(charge_draft("REPAIR", dec!(700.00), None), nov(18), 7);
    books.invoice(charge_draft("INSTALL", dec!(250.00), None), nov(28), 14);
    assert_eq!(books.credit, rub(dec!(0)));
    // The order the entries are stored in is not the statement's.
    books.entries.reverse();
    // Another customer's entry and one in dollars are left out.
    let mut other = Books::new();
    other.invoice(charge_draft("INSTALL", dec!(5.00), None), nov(3), 14);
    books.entries.extend(other.entries);
    let mut dollars = Close::new("2026-09", Currency::USD);
    dollars.charge(
        "INSTALL",
        dec!(7),
        crate::catalog::TaxRate::Exempt,
        day(2026, 9, 1),
    );
    let mut draft = dollars.draft(TaxMode::Exclusive);
    draft.org = books.org;
    let usd = issue(
        draft,
        InvoiceId::new(),
        "KPK-2026-000099".parse().unwrap(),
        nov(3),
        14,
    )
    .unwrap();
    books
        .entries
        .push(ledger::for_invoice(&usd, EntryId::new()).unwrap());
    books.invoices.push(usd);
    books
}

fn amounts(rows: &[Row]) -> Vec<(NaiveDate, RowKind, &str, Decimal, Decimal, Decimal)> {
    rows.iter()
        .map(|r| {
            (
                r.on,
                r.kind,
                r.number.as_str(),
                r.debit.amount(),
                r.credit.amount(),
                r.balance.amount(),
            )
        })
        .collect()
}

#[test]
fn a_statement_lists_what_moved_the_balance_in_order_with_running_balances() {
    let books = worked_example();
    let s = books.statement(nov(1), nov(30));
    assert_eq!(s.opening, rub(dec!(600.00)));
    use RowKind as K;
    assert_eq!(
        amounts(&s.rows),
        [
            (
                nov(1),
                K::Invoice,
                "KPK-2026-000002",
                dec!(1020.00),
                dec!(0),
                dec!(1620.00)
            ),
            (
                nov(5),
                K::Payment,
                "п/п 200",
                dec!(0),
                dec!(900.00),
                dec!(720.00)
            ),
            (
                nov(10),
                K::CreditNote,
                "KPK-CN-2026-000001",
                dec!(0),
                dec!(600.00),
                dec!(120.00)
            ),
            (
                nov(12),
                K::Payment,
                "п/п 300",
                dec!(0),
                dec!(500.00),
                dec!(-380.00)
            ),
            (
                nov(16),
                K::Payment,
                "п/п 400",
                dec!(0),
                dec!(300.00),
                dec!(-680.00)
            ),
            (
                nov(16),
                K::PaymentReversal,
                "п/п 400",
                dec!(300.00),
                dec!(0),
                dec!(-380.00)
            ),
            (
                nov(16),
                K::Refund,
                "возврат 1",
                dec!(80.00),
                dec!(0),
                dec!(-300.00)
            ),
            (
                nov(18),
                K::Invoice,
                "KPK-2026-000003",
                dec!(700.00),
                dec!(0),
                dec!(400.00)
            ),
            (
                nov(28),
                K::Invoice,
                "KPK-2026-000004",
                dec!(250.00),
                dec!(0),
                dec!(650.00)
            ),
        ]
    );
    assert_eq!(s.totals.debit, rub(dec!(2350.00)));
    assert_eq!(s.totals.credit, rub(dec!(2300.00)));
    assert_eq!(s.closing, rub(dec!(650.00)));
    assert_eq!(
        s.closing,
        ledger::customer_balance(&books.entries, books.org, nov(30), Currency::RUB).unwrap()
    );
    // Invoice 4 (250.00, due 12-12) is not yet due; the rest of the 650.00 is invoice 3's
    // 400.00 left open after its due date, 11-25.
    assert_eq!(s.overdue, rub(dec!(400.00)));

    // Descriptions and due dates.
    let row = |i: usize| &s.rows[i];
    assert_eq!(row(0).due_on, Some(nov(15)));
    assert_eq!(
        row(0).description.en,
        "Services of 2026-10, due on 2026-11-15"
    );
    assert_eq!(
        row(1).description.ru,
        "Плательщик: ООО Ромашка, назначение: Оплата по счёту KPK-2026-000002"
    );
    assert_eq!(
        row(2).description.en,
        "Corrects invoice KPK-2026-000002: монтаж не выполнялся"
    );
    assert_eq!(row(3).description.en, "");
    assert_eq!(
        row(4).description.get(DocumentLanguage::En),
        "reversed on 2026-11-16: ошибочный платёж"
    );
    assert_eq!(
        row(4).description.get(DocumentLanguage::Ru),
        "сторнирована 2026-11-16: ошибочный платёж"
    );
    assert_eq!(
        row(5).description.en,
        "Reverses the payment of 2026-11-16: ошибочный платёж"
    );
    assert_eq!(
        row(6).description.ru,
        "Возврат аванса: по заявлению клиента"
    );
    assert!(s.rows[1..7].iter().all(|r| r.due_on.is_none()));

    // Lines: the invoice's three, what each bills; the credit note's one, negative.
    let lines = &row(0).lines;
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.service.as_str(), l.gross.amount()))
            .collect::<Vec<_>>(),
        [
            ("VPS", dec!(360.00)),
            ("INSTALL", dec!(600.00)),
            ("API", dec!(60.00))
        ]
    );
    assert!(matches!(
        lines[0].what,
        LineKind::Subscription { from, until_exclusive, .. }
            if from == day(2026, 10, 1) && until_exclusive == nov(1)
    ));
    assert!(matches!(lines[1].what, LineKind::Charge { .. }));
    assert_eq!(
        lines[2].what,
        LineKind::Usage {
            events: 1,
            late_events: 0
        }
    );
    assert_eq!(
        (lines[2].quantity, lines[2].unit),
        (dec!(100), UnitOfMeasure::Request)
    );
    assert_eq!(lines[1].description.get(Lang::Ru), "Монтаж");
    let credited = &row(2).lines;
    assert_eq!(credited.len(), 1);
    assert_eq!(
        (
            credited[0].no,
            credited[0].net.amount(),
            credited[0].tax.amount(),
            credited[0].gross.amount()
        ),
        (2, dec!(-500.00), dec!(-100.00), dec!(-600.00))
    );

    // Totals by service: the credit note takes the first installation back.
    let totals: Vec<_> = s
        .by_service
        .iter()
        .map(|t| {
            (
                t.service.as_str(),
                t.net.amount(),
                t.tax.amount(),
                t.gross.amount(),
            )
        })
        .collect();
    assert_eq!(
        totals,
        [
            ("API", dec!(50.00), dec!(10.00), dec!(60.00)),
            ("INSTALL", dec!(250.00), dec!(0.00), dec!(250.00)),
            ("REPAIR", dec!(700.00), dec!(0.00), dec!(700.00)),
            ("VPS", dec!(300.00), dec!(60.00), dec!(360.00)),
        ]
    );
}

#[test]
fn overdue_is_what_of_the_closing_balance_is_older_than_the_invoices_not_yet_due() {
    let books = worked_example();
    // October: invoice 1's 600.00 is left after its due date, 10-15.
    let october = books.statement(day(2026, 10, 1), day(2026, 10, 31));
    assert_eq!(
        (october.opening, october.closing),
        (rub(dec!(0)), rub(dec!(600.00)))
    );
    assert_eq!(october.overdue, rub(dec!(600.00)));
    // On its due date an invoice is not overdue yet; the day after, it is.
    let on_due = books.statement(day(2026, 10, 1), day(2026, 10, 15));
    assert_eq!(
        (on_due.closing, on_due.overdue),
        (rub(dec!(600.00)), rub(dec!(0)))
    );
    let after = books.statement(day(2026, 10, 1), day(2026, 10, 16));
    assert_eq!(after.overdue, rub(dec!(600.00)));
    // 11-10: 120.00 owed, invoice 2 (1020.00 less the 600.00 credited) not yet due.
    let s = books.statement(nov(1), nov(10));
    assert_eq!((s.closing, s.overdue), (rub(dec!(120.00)), rub(dec!(0))));
    // In credit: nothing is overdue.
    let s = books.statement(nov(1), nov(16));
    assert_eq!((s.closing, s.overdue), (rub(dec!(-300.00)), rub(dec!(0))));
    // A range with no rows: the closing balance is the opening one.
    let s = books.statement(nov(29), day(2026, 12, 12));
    assert!(s.rows.is_empty());
    assert_eq!(
        (s.opening, s.closing),
        (rub(dec!(650.00)), rub(dec!(650.00)))
    );
    assert_eq!(s.overdue, rub(dec!(400.00)));
    assert!(s.by_service.is_empty());
    let s = books.statement(nov(29), day(2026, 12, 13));
    assert_eq!(s.overdue, rub(dec!(650.00)));
}

#[test]
fn a_customer_without_entries_owes_nothing() {
    let books = Books::new();
    let s = books.statement(nov(1), nov(30));
    assert!(s.rows.is_empty());
    assert!(s.opening.is_zero() && s.closing.is_zero() && s.overdue.is_zero());
    assert!(s.totals.debit.is_zero() && s.totals.credit.is_zero());
}

#[test]
fn a_missing_document_leaves_its_row_undescribed_and_its_invoice_due() {
    let mut books = worked_example();
    books.invoices.retain(|i| i.number.seq != 4);
    books.payments.clear();
    let s = books.statement(nov(1), nov(30));
    let last = s.rows.last().unwrap();
    assert_eq!(
        (last.number.as_str(), last.debit),
        ("KPK-2026-000004", rub(dec!(250.00)))
    );
    assert!(last.lines.is_empty() && last.due_on.is_none() && last.description.en.is_empty());
    assert_eq!(s.rows[1].description, StatementText::default());
    assert_eq!(
        s.rows[5].description.en,
        "Payment reversed: ошибочный платёж"
    );
    assert_eq!(s.closing, rub(dec!(650.00)));
    assert_eq!(s.overdue, rub(dec!(650.00)));
}

#[test]
fn a_range_runs_forwards_and_covers_at_most_ten_years() {
    let books = Books::new();
    let field = |from, to| match compose(&books.input(from, to)) {
        Err(StatementError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(nov(2), nov(1)), "from");
    assert_eq!(field(day(2016, 1, 1), day(2026, 1, 1)), "to");
    assert!(compose(&books.input(day(2016, 1, 1), day(2025, 12, 31))).is_ok());
    assert!(compose(&books.input(nov(1), nov(1))).is_ok());
    assert!(compose(&books.input(NaiveDate::MIN, NaiveDate::MIN)).is_ok());
}

fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "a byte order mark first"
    );
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn the_csv_has_the_opening_balance_the_rows_with_their_lines_and_the_closing_balance() {
    let s = worked_example().statement(nov(1), nov(30));
    let ru = read_csv(&s.to_csv(DocumentLanguage::Ru));
    assert_eq!(
        ru[0],
        [
            "Дата",
            "Документ",
            "Номер",
            "Описание",
            "Дебет",
            "Кредит",
            "Сальдо",
            "Сумма строки"
        ]
    );
    assert_eq!(
        ru[1],
        [
            "2026-11-01",
            "Входящее сальдо",
            "",
            "",
            "",
            "",
            "600.00",
            ""
        ]
    );
    assert_eq!(
        ru[2],
        [
            "2026-11-01",
            "Счёт",
            "KPK-2026-000002",
            "Услуги за период 2026-10, оплатить до 2026-11-15",
            "1020.00",
            "",
            "1620.00",
            ""
        ]
    );
    assert_eq!(ru[3][1], "Строка");
    assert_eq!(ru[3][2], "1");
    assert_eq!(
        ru[3][3],
        "VPS — Услуга VPS (подписка 2026-10-01 – 2026-10-31), 1 мес"
    );
    assert_eq!(ru[3][4..], ["", "", "", "360.00"]);
    assert!(
        ru[4][3].starts_with("INSTALL — Монтаж (начисление chg_"),
        "{}",
        ru[4][3]
    );
    assert_eq!(
        ru[5][3],
        "API — Услуга API (потребление, событий: 1), 100 ед"
    );
    assert_eq!(ru[6][..2], ["2026-11-05", "Оплата"]);
    assert_eq!(ru[6][5..7], ["900.00", "720.00"]);
    // The credit note and its one line, negative.
    assert_eq!(ru[7][1], "Корректировка");
    assert_eq!(ru[8][1..3], ["Строка", "2"]);
    assert_eq!(ru[8][7], "-600.00");
    let kinds: Vec<&str> = ru.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        kinds[9..],
        [
            "Оплата",
            "Оплата",
            "Сторно оплаты",
            "Возврат",
            "Счёт",
            "Строка",
            "Счёт",
            "Строка",
            "Исходящее сальдо",
            "Просроченная задолженность"
        ]
    );
    let n = ru.len();
    assert_eq!(
        ru[n - 2],
        [
            "2026-11-30",
            "Исходящее сальдо",
            "",
            "",
            "2350.00",
            "2300.00",
            "650.00",
            ""
        ]
    );
    assert_eq!(
        ru[n - 1],
        [
            "2026-11-30",
            "Просроченная задолженность",
            "",
            "",
            "",
            "",
            "400.00",
            ""
        ]
    );
    // A description with a comma is quoted, and reads back whole.
    assert_eq!(
        ru[6][3],
        "Плательщик: ООО Ромашка, назначение: Оплата по счёту KPK-2026-000002"
    );

    let en = read_csv(&s.to_csv(DocumentLanguage::En));
    assert_eq!(
        en[0],
        [
            "Date",
            "Document",
            "Number",
            "Description",
            "Debit",
            "Credit",
            "Balance",
            "Line amount"
        ]
    );
    assert_eq!(en[1][1], "Opening balance");
    assert_eq!(
        en[3][3],
        "VPS — Service VPS (subscription 2026-10-01 – 2026-10-31), 1 mo"
    );
    assert_eq!(en[7][1], "Credit note");
    assert_eq!(en[n - 2][1], "Closing balance");
    assert_eq!(en[n - 1][1..], ["Overdue", "", "", "", "", "400.00", ""]);
    assert_eq!(en.len(), n);
}

// --- Properties ------------------------------------------------------------------------

/// One step of a customer's history.
#[derive(Debug, Clone)]
enum Step {
    /// An invoice of this many kopeks, taxed or not, due in so many days.
    Invoice(u32, bool, u16),
    Pay(u32),
    /// Credit this share (in percent) of what an invoice (by index) has not been credited.
    Credit(usize, u32),
    /// Take back a payment (by index), unless it was or its credit is drawn.
    Reverse(usize),
    /// Send back this share (in percent) of the credit.
    Refund(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u32..500_000, any::<bool>(), 0u16..60).prop_map(|(k, t, d)| Step::Invoice(k, t, d)),
        3 => (1u32..500_000).prop_map(Step::Pay),
        1 => (0usize..8, 1u32..=100).prop_map(|(i, p)| Step::Credit(i, p)),
        1 => (0usize..8).prop_map(Step::Reverse),
        1 => (1u32..=100).prop_map(Step::Refund),
    ]
}

/// The first day of the 90 days the histories happen on.
fn window() -> NaiveDate {
    day(2026, 10, 1)
}

fn plus(on: NaiveDate, days: u32) -> NaiveDate {
    on.checked_add_days(chrono::Days::new(u64::from(days)))
        .unwrap()
}

/// Plays `steps`, each on its day of the window (in the order of the days).
fn play(mut steps: Vec<(u32, Step)>) -> Books {
    steps.sort_by_key(|(offset, _)| *offset);
    let mut books = Books::new();
    let mut seq = 0u32;
    for (offset, step) in steps {
        let on = plus(window(), offset);
        seq += 1;
        match step {
            Step::Invoice(kopeks, taxed, terms) => {
                let percent = taxed.then_some(dec!(20));
                let draft = charge_draft("INSTALL", Decimal::new(i64::from(kopeks), 2), percent);
                books.invoice(draft, on, terms);
            }
            Step::Pay(kopeks) => {
                let source = seq.is_multiple_of(3).then(bank_source);
                books.pay(
                    Decimal::new(i64::from(kopeks), 2),
                    &format!("п/п {seq}"),
                    on,
                    source,
                );
            }
            Step::Reverse(index) => {
                if !books.payments.is_empty() {
                    let i = index % books.payments.len();
                    books.reverse(i, "property", on);
                }
            }
            Step::Refund(percent) => {
                let amount =
                    (books.credit.amount() * Decimal::from(percent) / dec!(100)).round_dp(2);
                if amount > Decimal::ZERO {
                    books.refund(amount, &format!("r{seq}"), "property", on);
                }
            }
            Step::Credit(index, percent) => {
                if books.invoices.is_empty() {
                    continue;
                }
                let i = index % books.invoices.len();
                let invoice = &books.invoices[i];
                let creditable = invoice.draft.gross.checked_sub(invoice.credited).unwrap();
                let share = (creditable.amount() * Decimal::from(percent) / dec!(100)).round_dp(2);
                if share > Decimal::ZERO {
                    books.credit_note(i, &[take(1, Some(share))], "property", on);
                }
            }
        }
    }
    // Another customer's entry is left out.
    let mut other = Books::new();
    other.invoice(
        charge_draft("INSTALL", dec!(5.00), None),
        plus(window(), 10),
        14,
    );
    books.entries.extend(other.entries);
    books
}

fn sum(rows: &[Row], side: impl Fn(&Row) -> Money) -> Money {
    Money::checked_sum(Currency::RUB, rows.iter().map(side)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Over any history of invoices (issued on any day of a 90-day window, due in 0–59 days,
    /// drawing credit down), payments, credit notes, reversals and refunds, and any ranges
    /// `a..=m` and `m+1..=b` around it: the closing balance is the ledger's; statements of
    /// adjacent ranges chain (the first's closing is the second's opening, and the rows of
    /// `a..=b` are theirs one after the other); overdue is between zero and the closing
    /// balance; and the rows' turnover is the closing less the opening balance.
    #[test]
    fn statements_agree_with_the_ledger_and_chain(
        steps in prop::collection::vec((0u32..90, step()), 1..40),
        (start, first, second) in (0u32..110, 0u32..70, 0u32..70),
    ) {
        let books = play(steps);
        let a = plus(day(2026, 9, 20), start);
        let m = plus(a, first);
        let b = plus(m, second + 1);
        let whole = books.statement(a, b);
        let early = books.statement(a, m);
        let late = books.statement(plus(m, 1), b);
        for s in [&whole, &early, &late] {
            let ledger_closing = ledger::customer_balance(&books.entries, books.org, s.to, Currency::RUB).unwrap();
            prop_assert_eq!(s.closing, ledger_closing);
            prop_assert!(s.overdue.amount() >= Decimal::ZERO);
            prop_assert!(s.overdue.amount() <= s.closing.amount().max(Decimal::ZERO));
            let debit = sum(&s.rows, |r| r.debit);
            let credit = sum(&s.rows, |r| r.credit);
            prop_assert_eq!((debit, credit), (s.totals.debit, s.totals.credit));
            prop_assert_eq!(debit.amount() - credit.amount(), s.closing.amount() - s.opening.amount());
            if let Some(last) = s.rows.last() {
                prop_assert_eq!(last.balance, s.closing);
            }
        }
        prop_assert_eq!(early.closing, late.opening);
        prop_assert_eq!(whole.opening, early.opening);
        prop_assert_eq!(whole.closing, late.closing);
        prop_assert_eq!(whole.overdue, late.overdue);
        let chained: Vec<Row> = early.rows.iter().chain(&late.rows).cloned().collect();
        prop_assert_eq!(&whole.rows, &chained);
        let all = books.statement(day(2026, 9, 1), day(2027, 1, 31));
        prop_assert_eq!(all.rows.len(), books.entries.len() - 1);
    }
}
