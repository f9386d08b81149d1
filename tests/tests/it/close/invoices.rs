//! What a close issues: one invoice per customer with fees, work and usage; late usage billed
//! in the next period; prepaid credit drawn down.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, TimeDelta};
use kopek_domain::charges::EventKind;
use kopek_domain::close::JobStatus;
use kopek_domain::ids::OrgId;
use kopek_domain::invoicing::LineSource;
use kopek_domain::ledger::{self, Account, Entry};
use kopek_domain::money::{Currency, Money};
use kopek_events::close::poller;
use kopek_services::close::Trigger;
use kopek_tests::TestApp;
use rust_decimal::Decimal;
use serde_json::json;

use super::month::*;
use super::world::*;

// --- 1. the close -------------------------------------------------------------------------

#[tokio::test]
async fn a_close_issues_one_invoice_per_customer_with_fees_work_and_usage() {
    let s = standard().await;
    let w = &s.world;
    let period = w.period;
    assert!(s.usage_a.len() + s.usage_b.len() >= 40);
    // b's contract gives it 30 days to pay; a has the provider's 14.
    let accountant = w.app.staff_with_role("accountant").await;
    let terms = w
        .app
        .send(TestApp::request(
            axum::http::Method::PUT,
            &format!("/v1/organisations/{}/payment-terms", s.b.org),
            Some(&accountant),
            Some(&json!({"payment_terms_days": 30})),
        ))
        .await;
    terms.assert_status(200);
    assert_eq!(terms.body["payment_terms_days"], 30);

    // Started as the scheduler starts it, then worked off as the worker function is fed.
    let started = w
        .close
        .start(period, Trigger::Schedule)
        .await
        .expect("the close starts");
    assert!(started.started);
    assert_eq!(started.period.status.as_str(), "closing");
    let drained = poller::drain(&w.close, 0).await.expect("drained");
    assert_eq!(
        drained,
        poller::Drained {
            handled: usize::from(kopek_tests::TEST_PLAN_SEGMENTS) + 3 + 2,
            failed: 0
        },
        "a plan message per segment, 3 customers, 2 invoices numbered"
    );
    let status = w.status(period).await.expect("the close");
    assert_counters(&status, "closed", 3, 2, 1);
    assert_eq!(w.queue_depth().await, (0, 0), "every message was handled");

    let invoice_a = w.invoice(s.a.org, period).await.expect("a is invoiced");
    let invoice_b = w.invoice(s.b.org, period).await.expect("b is invoiced");
    assert_invoice(&invoice_a, &s.lines_a(), "a");
    assert_invoice(&invoice_b, &s.lines_b(), "b");
    assert_eq!(
        w.invoice(s.c.org, period).await,
        None,
        "c had nothing to bill"
    );
    // A price for the whole quantity where one applies (the fee's full month for one unit,
    // the job's piece); the usage shows the slices of each tier it reached instead.
    let lines = &invoice_a.draft.lines;
    assert_eq!(
        lines.iter().map(|l| l.unit_price).collect::<Vec<_>>(),
        [Some(dec(FEE_PRICE)), Some(dec(JOB_PRICE)), None]
    );
    let steps: Vec<(Decimal, Option<Decimal>)> = lines[2]
        .tiers
        .iter()
        .map(|t| (t.quantity(), t.unit_price()))
        .collect();
    let want: Vec<(Decimal, Option<Decimal>)> = slices(total(&s.usage_a))
        .into_iter()
        .map(|(q, price)| (q, Some(price)))
        .collect();
    assert_eq!(steps, want);
    assert_eq!(want.len(), TIERS.len(), "a's usage reaches every tier");
    let job_c = w.store().job(period, s.c.org).await.expect("read");
    assert_eq!(job_c.map(|j| j.status), Some(JobStatus::Skipped));

    // Issued today, due after the default 14 days (b: its own 30), numbered 1 and 2 of this
    // year.
    let today = kopek_tests::emulator::calendar().date_of(w.now());
    let mut numbers = BTreeSet::new();
    for (invoice, terms) in [(&invoice_a, 14), (&invoice_b, 30)] {
        assert_eq!(invoice.issued_on, today);
        assert_eq!(invoice.due_on, today + TimeDelta::days(terms));
        assert_eq!(invoice.draft.period, period);
        numbers.insert(invoice.number.to_string());
    }
    let year = today.year();
    assert_eq!(
        numbers,
        BTreeSet::from([
            format!("{SERIES}-{year}-000001"),
            format!("{SERIES}-{year}-000002")
        ])
    );
    assert_eq!(w.sequence_last().await, 2);

    // One balanced entry per invoice: the receivable debited the gross, revenue and VAT
    // credited; what each customer owes is its invoice's gross.
    for (org, invoice) in [(s.a.org, &invoice_a), (s.b.org, &invoice_b)] {
        let entries = w.entries(org).await;
        assert_eq!(entries.len(), 1, "one entry for {}", invoice.number);
        let draft = &invoice.draft;
        let postings: BTreeMap<Account, (Money, Money)> = entries[0]
            .postings()
            .iter()
            .map(|p| (p.account, (p.debit, p.credit)))
            .collect();
        let zero = rub(Decimal::ZERO);
        assert_eq!(
            postings,
            BTreeMap::from([
                (Account::Receivable, (draft.gross, zero)),
                (Account::Revenue, (zero, draft.net)),
                (Account::TaxPayable, (zero, draft.tax)),
            ])
        );
        assert!(ledger::is_balanced(&entries));
        assert_eq!(
            ledger::customer_balance(&entries, org, today, Currency::RUB).expect("a balance"),
            draft.gross
        );
        let events = w
            .store()
            .history(org, &invoice.id.to_string())
            .await
            .expect("the invoice's history");
        assert!(
            events.iter().any(|e| e.kind
                == EventKind::InvoiceIssued {
                    invoice: invoice.id,
                    number: invoice.number.to_string(),
                    period,
                    gross: draft.gross,
                    due_on: invoice.due_on,
                }),
            "{events:?}"
        );
    }
    assert!(w.entries(s.c.org).await.is_empty());
    let outbox = w.store().outbox(100).await.expect("the outbox");
    let issued = outbox
        .iter()
        .filter(|e| matches!(e.kind, EventKind::InvoiceIssued { .. }))
        .count();
    assert_eq!(
        issued, 2,
        "one invoice_issued event per invoice in the outbox"
    );

    // From now on the customers' usage is billed in October.
    for org in s.orgs() {
        assert_eq!(
            w.store().closed_through(org).await.expect("read"),
            Some(period)
        );
    }
}

// --- 4. late usage and work ------------------------------------------------------------------

#[tokio::test]
async fn late_usage_after_the_close_goes_to_the_next_period_and_never_changes_the_invoice() {
    let s = standard().await;
    let w = &s.world;
    let (period, next) = (w.period, w.period.next());
    w.close(period).await;
    assert_counters(&w.status(period).await.expect("closed"), "closed", 3, 2, 1);
    let billed_before = [w.billed_items(s.a.org).await, w.billed_items(s.b.org).await];
    let usage_before = w
        .store()
        .usage_billed_in(s.b.org, period)
        .await
        .expect("usage");

    // On 2 October: an event of 20 September arrives, and the job waiting since the 15th is
    // done.
    w.set_clock(at(day(next, 2), 10));
    let late = Usage {
        id: "b-late".into(),
        meter: METER,
        quantity: dec("120.5"),
        // Ten days before the period's end: 20 September.
        at: at(period.last_day() - chrono::Days::new(10), 12),
    };
    let report = w.send_usage(&s.b, std::slice::from_ref(&late)).await;
    assert_eq!((report.counted, report.late), (1, 1), "{report:?}");
    w.complete_waiting_jobs(1).await;

    // September's invoices and postings are exactly as issued.
    assert_eq!(w.billed_items(s.a.org).await, billed_before[0]);
    assert_eq!(w.billed_items(s.b.org).await, billed_before[1]);
    assert_eq!(
        w.store()
            .usage_billed_in(s.b.org, period)
            .await
            .expect("usage"),
        usage_before
    );

    // The late event is billed in October, marked late.
    let october = w
        .store()
        .usage_billed_in(s.b.org, next)
        .await
        .expect("usage");
    let meter = october
        .get(&METER.parse().expect("a code"))
        .expect("TRAFFIC");
    assert_eq!(
        (meter.total, meter.events, meter.late_events),
        (late.quantity, 1, 1)
    );
    assert_eq!(
        meter.by_day,
        BTreeMap::from([(
            kopek_tests::emulator::calendar().date_of(late.at),
            late.quantity
        )])
    );
    let draft = w
        .close
        .compose_for(
            next,
            s.b.org,
            &w.close.catalog().await.expect("catalog"),
            &w.close.settings().await.expect("settings"),
        )
        .await
        .expect("composed")
        .expect("something to bill")
        .draft;
    assert_eq!(
        draft.lines.iter().map(|l| &l.source).collect::<Vec<_>>(),
        [&LineSource::Usage {
            events: 1,
            late_events: 1
        }]
    );

    // The late job is an October charge; September keeps only the job done in September.
    let october = w.store().charges(s.a.org, next).await.expect("charges");
    assert_eq!(october.len(), 1, "{october:?}");
    assert_eq!(october[0].period, next);
    assert_eq!(october[0].amount, rub(dec(JOB_PRICE)));
    let september = w.store().charges(s.a.org, period).await.expect("charges");
    assert_eq!(september.len(), 1, "{september:?}");
    assert_eq!(september[0].quantity.value(), Decimal::from(DONE));
}

// --- 8. prepaid customers --------------------------------------------------------------------

/// `amount` with two decimals, as the API writes money.
fn money_text(amount: Decimal) -> String {
    let mut amount = amount;
    amount.rescale(2);
    amount.to_string()
}

/// Records a payment received today through the API as `accountant`; the response.
async fn pay_as(
    w: &World,
    accountant: &str,
    party: &Party,
    amount: &str,
    reference: &str,
) -> kopek_tests::TestResponse {
    let today = kopek_tests::emulator::calendar().date_of(w.now());
    w.app
        .post(
            "/v1/billing/payments",
            Some(accountant),
            &json!({"org_id": party.org.to_string(), "amount": amount, "currency": "RUB",
                "received_on": today.to_string(), "reference": reference}),
        )
        .await
}

/// Records a payment received today through the API, as a new accountant; the response.
async fn pay(w: &World, party: &Party, amount: &str, reference: &str) -> kopek_tests::TestResponse {
    let accountant = w.app.staff_with_role("accountant").await;
    pay_as(w, &accountant, party, amount, reference).await
}

#[tokio::test]
async fn a_prepaid_customers_credit_pays_its_invoices_as_they_are_issued_until_it_runs_out() {
    use kopek_domain::invoicing::InvoiceStatus;
    let w = World::new().await;
    let (period, next) = (w.period, w.period.next());
    let a = w.party("Ромашка").await;
    let b = w.party("Василёк").await;
    w.subscribe(&a, 1).await;
    w.subscribe(&b, 1).await;

    // Ромашка pays 1,500.00 in advance, before it has any invoice: all of it is credit.
    let prepaid = dec("1500.00");
    let paid = pay(&w, &a, &money_text(prepaid), "п/п 1").await;
    paid.assert_status(201);
    assert_eq!(paid.body["settled"], json!([]));
    assert_eq!(paid.body["to_credit"], money_text(prepaid));

    // The close: Ромашка's invoice is paid from the credit as it is issued; Василёк's is not.
    w.month_ended();
    w.close(period).await;
    let today = kopek_tests::emulator::calendar().date_of(w.now());
    let first = w.invoice(a.org, period).await.expect("invoiced");
    let drawn = first.draft.gross.amount().min(prepaid);
    assert_eq!(first.paid.amount(), drawn);
    let expected = if drawn == first.draft.gross.amount() {
        InvoiceStatus::Paid
    } else {
        InvoiceStatus::PartlyPaid
    };
    assert_eq!(first.status_on(today), expected);
    let control = w.invoice(b.org, period).await.expect("invoiced");
    assert!(control.paid.is_zero());
    assert_eq!(control.status_on(today), InvoiceStatus::Issued);
    // The ledger says the same: the balance is what is open less the credit.
    let credit_left = prepaid - drawn;
    let admin = w.app.admin().await;
    let balance = w
        .app
        .get(
            &format!("/v1/billing/balance?org_id={}", a.org),
            Some(&admin),
        )
        .await;
    balance.assert_status(200);
    assert_eq!(balance.body["credit"], money_text(credit_left));
    assert_eq!(
        balance.body["balance"],
        money_text(first.open_amount().amount() - credit_left)
    );

    // The next period draws down what is left, then the credit is gone.
    w.set_clock(at(next.end_exclusive(), 6));
    w.close(next).await;
    let second = w.invoice(a.org, next).await.expect("invoiced");
    assert_eq!(
        second.paid.amount(),
        second.draft.gross.amount().min(credit_left)
    );
    let credit = w
        .store()
        .credit(a.org, Currency::RUB)
        .await
        .expect("the credit");
    assert_eq!(
        credit.amount.amount(),
        credit_left - second.paid.amount(),
        "drawn once, not twice"
    );

    // A payment now settles the open invoices oldest first; what is left is credit.
    let open = second.open_amount().amount() + first.open_amount().amount();
    assert!(
        open > Decimal::ZERO,
        "a full period costs more than the credit left"
    );
    let paid = pay(&w, &a, &money_text(open + dec("100.00")), "п/п 2").await;
    paid.assert_status(201);
    let settled: Vec<&str> = paid.body["settled"]
        .as_array()
        .expect("settled")
        .iter()
        .map(|s| s["number"].as_str().expect("a number"))
        .collect();
    assert_eq!(settled.last(), Some(&second.number.to_string().as_str()));
    assert_eq!(paid.body["to_credit"], "100.00");
    let now_paid = w.invoice(a.org, next).await.expect("invoiced");
    assert_eq!(
        now_paid.status_on(kopek_tests::emulator::calendar().date_of(w.now())),
        InvoiceStatus::Paid
    );

    // The same payment again is the one recorded (a retried request counts nothing twice);
    // the same reference with another amount is refused, and nothing changes.
    let accountant = w.app.staff_with_role("accountant").await;
    let table = w.app.table_items().await;
    let again = pay_as(
        &w,
        &accountant,
        &a,
        &money_text(open + dec("100.00")),
        "п/п 2",
    )
    .await;
    again.assert_status(200);
    assert_eq!(again.body["id"], paid.body["id"]);
    let other = pay_as(&w, &accountant, &a, "1.00", " п/п 2 ").await;
    other.assert_problem(409, "conflict");
    assert_eq!(other.field(), "reference");
    assert_eq!(w.app.table_items().await, table, "nothing recorded twice");

    // Every entry balances, and the customer's balance is what is open less the credit.
    let entries = w
        .store()
        .ledger_entries::<Entry>(a.org)
        .await
        .expect("entries");
    assert!(ledger::is_balanced(&entries));
    let credit = w
        .store()
        .credit(a.org, Currency::RUB)
        .await
        .expect("credit");
    assert_eq!(credit.amount.amount(), dec("100.00"));
    let on = kopek_tests::emulator::calendar().date_of(w.now());
    let balance = ledger::customer_balance(&entries, a.org, on, Currency::RUB).expect("balance");
    assert_eq!(balance.amount(), -dec("100.00"));

    // A credit note on the paid first invoice gives what it was paid back as credit: the
    // invoice is void, nothing of it is paid any more, and the balance moves by as much.
    let first = w.invoice(a.org, period).await.expect("invoiced");
    let note = w
        .app
        .post(
            &format!("/v1/invoices/{}/credit-notes", first.id),
            Some(&accountant),
            &json!({"reason": "Услуга не оказана"}),
        )
        .await;
    note.assert_status(201);
    let voided = w.invoice(a.org, period).await.expect("invoiced");
    assert!(voided.paid.is_zero(), "{voided:?}");
    assert_eq!(voided.status_on(on), InvoiceStatus::Void);
    let credit = w
        .store()
        .credit(a.org, Currency::RUB)
        .await
        .expect("credit");
    assert_eq!(credit.amount.amount(), dec("100.00") + first.paid.amount());
    let entries = w
        .store()
        .ledger_entries::<Entry>(a.org)
        .await
        .expect("entries");
    let balance = ledger::customer_balance(&entries, a.org, on, Currency::RUB).expect("balance");
    assert_eq!(balance.amount(), -credit.amount.amount());

    // The customer sees its own payments and credit, not another's.
    let token = w.token(&a).await;
    let own = w.app.get("/v1/billing/payments", Some(&token)).await;
    own.assert_status(200);
    assert_eq!(own.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(own.body["credit"], money_text(credit.amount.amount()));
    let org = w.app.get("/v1/me", Some(&token)).await;
    assert_eq!(own.body["customer"], org.body["organisation"]["legal_name"]);
    let theirs = w
        .app
        .get(
            &format!("/v1/billing/payments?org_id={}", b.org),
            Some(&token),
        )
        .await;
    theirs.assert_status(404);
}

#[tokio::test]
async fn a_bad_payment_is_refused_naming_the_field_and_changes_nothing() {
    let w = World::new().await;
    let a = w.party("Ромашка").await;
    let accountant = w.app.staff_with_role("accountant").await;
    let manager = w.app.staff_with_role("manager").await;
    let today = kopek_tests::emulator::calendar().date_of(w.now());
    let tomorrow = today.succ_opt().expect("a day");
    let org = a.org.to_string();
    let body = |amount: &str, currency: &str, on: NaiveDate, reference: &str| {
        json!({"org_id": org, "amount": amount, "currency": currency,
            "received_on": on.to_string(), "reference": reference})
    };
    let table = w.app.table_items().await;
    for (request, field) in [
        (body("0.00", "RUB", today, "1"), "amount"),
        (body("-5.00", "RUB", today, "1"), "amount"),
        (body("10.005", "RUB", today, "1"), "amount"),
        (body("10.00", "USD", today, "1"), "currency"),
        (body("10.00", "RUB", tomorrow, "1"), "received_on"),
        (body("10.00", "RUB", today, "   "), "reference"),
        (body("10.00", "RUB", today, &"x".repeat(65)), "reference"),
        (
            json!({"org_id": OrgId::new().to_string(), "amount": "10.00", "currency": "RUB",
                "received_on": today.to_string(), "reference": "1"}),
            "org_id",
        ),
        (
            json!({"org_id": org, "amount": "10.00", "currency": "RUB", "reference": "1"}),
            "received_on",
        ),
        (
            json!({"org_id": org, "amount": 10, "currency": "RUB",
                "received_on": today.to_string(), "reference": "1"}),
            "amount",
        ),
        (
            json!({"org_id": org, "amount": "10.00", "currency": "RUB",
                "received_on": today.to_string(), "reference": "1", "invoice": "x"}),
            "invoice",
        ),
    ] {
        let response = w
            .app
            .post("/v1/billing/payments", Some(&accountant), &request)
            .await;
        assert!(
            matches!(response.status.as_u16(), 400 | 422),
            "{request}: {} {}",
            response.status,
            response.body
        );
        assert_eq!(response.field(), field, "{request}: {}", response.body);
    }
    // Only accountants and admins record payments; customers never.
    let good = body("10.00", "RUB", today, "1");
    for token in [manager, a.customer.token.clone()] {
        w.app
            .post("/v1/billing/payments", Some(&token), &good)
            .await
            .assert_problem(403, "forbidden");
    }
    assert_eq!(w.app.table_items().await, table, "nothing recorded");
}
