//! The billing store (A46–A63) against the emulator: a period's close planned page by page
//! and sealed, invoices numbered without gaps in one transaction each, credit notes on the
//! invoice's revision, the ledger, failed and skipped jobs, settings, injected faults, and the
//! customer's credit shared by invoices and payments.

use chrono::{NaiveDate, TimeZone, Utc};
use kopek_aws::dynamo::billing::{
    CreditOutcome, IssueCreditNote, IssueInvoice, IssueOutcome, MAX_ORGS_PER_PLAN, PaymentOutcome,
    PendingSegment, PlanOutcome, RecordPayment, StartOutcome, StoredCredit,
};
use kopek_aws::dynamo::{Store, StoreError};
use kopek_aws::faults::Faults;
use kopek_domain::catalog::{LocalizedText, TaxRate, UnitOfMeasure};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::close::{JobStatus, PeriodStatus, PlanSegments};
use kopek_domain::ids::{ChargeId, CreditNoteId, EntryId, InvoiceId, OrgId, PaymentId};
use kopek_domain::invoicing::{
    BillingSettings, CreditNote, DocumentKind, Invoice, InvoiceDraft, InvoiceLine, InvoiceNumber,
    InvoiceSeries, LineSource, TaxMode, TaxSummary, ZeroInvoicePolicy,
};
use kopek_domain::ledger::{self, DocumentRef, Entry};
use kopek_domain::money::{Currency, Money};
use kopek_domain::orders::UserOrKey;
use kopek_domain::payments::{self, NewPayment, Payment, PaymentReference};
use kopek_domain::period::BillingPeriod;
use kopek_tests::{TestApp, unique};
use rust_decimal::Decimal;
use serde_json::Value;

fn rub(amount: &str) -> Money {
    Money::new(amount.parse().unwrap(), Currency::RUB)
}

fn number(kind: DocumentKind, seq: u64) -> InvoiceNumber {
    InvoiceNumber {
        series: InvoiceSeries::new("KPK").unwrap(),
        kind,
        year: 2026,
        seq,
    }
}

fn line() -> InvoiceLine {
    let day = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
    InvoiceLine {
        no: 1,
        source: LineSource::Charge {
            charge: ChargeId::new(),
        },
        service: "INSTALL".parse().unwrap(),
        description: LocalizedText::new("Монтаж", "Installation").unwrap(),
        quantity: Decimal::new(15, 1),
        unit: UnitOfMeasure::Hour,
        unit_price: Some(Decimal::new(100_000, 2)),
        tiers: Vec::new(),
        price_version: 1,
        from: day,
        until_exclusive: day.succ_opt().unwrap(),
        tax_rate: TaxRate::from_percent(Decimal::from(20)).unwrap(),
        tax_exemption: None,
        amount: rub("1500.00"),
        net: rub("1500.00"),
        tax: rub("300.00"),
        gross: rub("1800.00"),
    }
}

fn invoice(org: OrgId, period: BillingPeriod, seq: u64) -> Invoice {
    let issued_on = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    Invoice {
        id: InvoiceId::new(),
        number: number(DocumentKind::Invoice, seq),
        issued_on,
        due_on: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
        draft: InvoiceDraft {
            org,
            period,
            currency: Currency::RUB,
            tax_mode: TaxMode::Exclusive,
            lines: vec![line()],
            taxes: vec![TaxSummary {
                rate: TaxRate::from_percent(Decimal::from(20)).unwrap(),
                net: rub("1500.00"),
                tax: rub("300.00"),
                gross: rub("1800.00"),
            }],
            net: rub("1500.00"),
            tax: rub("300.00"),
            gross: rub("1800.00"),
        },
        credited: rub("0.00"),
        paid: rub("0.00"),
        parties: None,
    }
}

fn issued_event(invoice: &Invoice) -> DomainEvent {
    DomainEvent::new(
        invoice.draft.org,
        UserOrKey::System,
        Utc::now(),
        EventKind::InvoiceIssued {
            invoice: invoice.id,
            number: invoice.number.to_string(),
            period: invoice.draft.period,
            gross: invoice.draft.gross,
            due_on: invoice.due_on,
        },
    )
}

/// The customer's `period.closed` event of `period`, with its invoice if it has one.
fn closed_event(org: OrgId, period: BillingPeriod, invoice: Option<&Invoice>) -> DomainEvent {
    DomainEvent::new(
        org,
        UserOrKey::System,
        Utc::now(),
        EventKind::PeriodClosed {
            period,
            invoice: invoice.map(|i| i.id),
        },
    )
}

async fn issue(
    store: &Store,
    invoice: &Invoice,
    prev: JobStatus,
) -> Result<IssueOutcome, StoreError> {
    let credit = store
        .credit(invoice.draft.org, invoice.draft.currency)
        .await?;
    issue_over(store, invoice, prev, &credit, credit.amount).await
}

/// Issues `invoice` (its job at `prev`) over the customer's credit as `read`, leaving `after`.
async fn issue_over(
    store: &Store,
    invoice: &Invoice,
    prev: JobStatus,
    read: &StoredCredit,
    after: Money,
) -> Result<IssueOutcome, StoreError> {
    let entry = ledger::for_invoice(invoice, EntryId::new()).unwrap();
    store
        .issue_invoice(IssueInvoice {
            invoice,
            entry: Some(&entry),
            event: &issued_event(invoice),
            closed: &closed_event(invoice.draft.org, invoice.draft.period, Some(invoice)),
            job_was: prev,
            credit: read,
            credit_after: after,
            place: None,
        })
        .await
}

async fn org(app: &TestApp) -> OrgId {
    app.register(&format!("Ромашка {}", unique()))
        .await
        .org_id
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_outbox_spread_over_shards_gives_the_oldest_events_first_and_each_once() {
    let app = TestApp::start().await;
    let store = app.store.clone();
    let at = Utc.with_ymd_and_hms(2027, 2, 1, 0, 5, 0).unwrap();
    let jan = BillingPeriod::new(2027, 1).unwrap();
    // 60 customers' events: spread over the shards, several in most.
    let events: Vec<DomainEvent> = (0..60)
        .map(|_| {
            DomainEvent::new(
                OrgId::new(),
                UserOrKey::System,
                at,
                EventKind::PeriodClosed {
                    period: jan,
                    invoice: None,
                },
            )
        })
        .collect();
    store.put_events_in_bulk(&events).await.unwrap();
    let mut expected: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    expected.sort();
    // Read 7 at a time, each batch relayed before the next: the ids come out in order.
    let mut seen = Vec::new();
    loop {
        let batch = store.outbox(7).await.unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 7);
        for event in &batch {
            assert!(store.relayed(event).await.unwrap());
            seen.push(event.id.to_string());
        }
        assert!(seen.len() <= expected.len(), "an event came twice");
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_periods_jobs_spread_over_shards_list_once_each_and_their_tallies_sum_up() {
    let app = TestApp::start().await;
    let store = app.store.clone();
    let jan = BillingPeriod::new(2027, 1).unwrap();
    let at = Utc.with_ymd_and_hms(2027, 2, 1, 0, 5, 0).unwrap();
    store
        .start_period_close(jan, "schedule", at, PlanSegments::ONE)
        .await
        .unwrap();
    // 40 customers (no organisation items needed: jobs and tallies only), in a full page of
    // 33 — every shard's tally in its transaction — and a page of 7.
    let orgs: Vec<OrgId> = (0..40).map(|_| OrgId::new()).collect();
    let (first, second) = orgs.split_at(MAX_ORGS_PER_PLAN);
    assert_eq!(
        store
            .plan_page(jan, 0, None, first, Some("7"), false)
            .await
            .unwrap(),
        PlanOutcome::Planned { complete: false }
    );
    assert_eq!(
        store
            .plan_page(jan, 0, Some("7"), second, None, false)
            .await
            .unwrap(),
        PlanOutcome::Planned { complete: true }
    );
    let too_many: Vec<OrgId> = (0..=MAX_ORGS_PER_PLAN).map(|_| OrgId::new()).collect();
    assert!(
        store
            .plan_page(jan, 0, None, &too_many, None, false)
            .await
            .is_err()
    );
    let period = store.period(jan).await.unwrap().unwrap();
    assert_eq!((period.planned, period.remaining, period.done), (40, 40, 0));

    // Pages of 3 walk every shard: each job once, in shard order.
    for status in [None, Some(JobStatus::Pending)] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.list_jobs(jan, status, 3, cursor).await.unwrap();
            assert!(page.items.len() <= 3);
            seen.extend(page.items.iter().map(|j| j.org));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        let shards: Vec<u8> = seen
            .iter()
            .map(|o| kopek_domain::close::job_shard(*o))
            .collect();
        assert!(shards.windows(2).all(|w| w[0] <= w[1]), "{shards:?}");
        seen.sort();
        let mut all = orgs.clone();
        all.sort();
        assert_eq!(seen, all, "{status:?}");
    }
    assert!(
        store
            .list_jobs(jan, Some(JobStatus::Done), 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Another period's cursor is refused.
    let feb = BillingPeriod::new(2027, 2).unwrap();
    let page = store.list_jobs(jan, None, 1, None).await.unwrap();
    assert!(matches!(
        store.list_jobs(feb, None, 1, page.next).await,
        Err(StoreError::ForeignCursor)
    ));

    // A customer's shard counts it: remaining until its job ends.
    let one = orgs[0];
    let shard_size = orgs
        .iter()
        .filter(|o| kopek_domain::close::job_shard(**o) == kopek_domain::close::job_shard(one))
        .count() as u64;
    assert_eq!(store.shard_remaining(jan, one).await.unwrap(), shard_size);
    let closed = DomainEvent::new(
        one,
        UserOrKey::System,
        at,
        EventKind::PeriodClosed {
            period: jan,
            invoice: None,
        },
    );
    store
        .skip_job(jan, one, "nothing to bill", JobStatus::Pending, &closed)
        .await
        .unwrap();
    assert_eq!(
        store.shard_remaining(jan, one).await.unwrap(),
        shard_size - 1
    );
    let period = store.period(jan).await.unwrap().unwrap();
    assert_eq!((period.remaining, period.skipped), (39, 1));
    assert!(!store.finish_period_if_complete(jan, at).await.unwrap());
}

#[tokio::test]
async fn a_close_is_planned_sealed_issued_and_closed() {
    let app = TestApp::start().await;
    let store = app.store.clone();
    let (a, b) = (org(&app).await, org(&app).await);
    let nov = BillingPeriod::new(2026, 11).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 5, 0).unwrap();

    let started = store
        .start_period_close(nov, "schedule", at, PlanSegments::ONE)
        .await
        .unwrap();
    assert!(matches!(started, StartOutcome::Started(ref p) if p.status == PeriodStatus::Closing));
    match store
        .start_period_close(nov, "admin:usr_x", at, PlanSegments::ALL)
        .await
        .unwrap()
    {
        StartOutcome::AlreadyStarted(p) => {
            assert_eq!(p.trigger, "schedule");
            assert_eq!(p.plan_segments, PlanSegments::ONE, "as it started");
        }
        other => panic!("started twice: {other:?}"),
    }

    // Planning, one customer a page, through the segment's cursor.
    let (first, cursor) = store
        .list_segment_org_ids(0, PlanSegments::ONE, 1, None)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let cursor = cursor.expect("a second page");
    let planned = store
        .plan_page(nov, 0, None, &first, Some(&cursor), true)
        .await
        .unwrap();
    assert_eq!(planned, PlanOutcome::Planned { complete: false });
    assert_eq!(
        store
            .plan_page(nov, 0, None, &first, Some(&cursor), true)
            .await
            .unwrap(),
        PlanOutcome::AlreadyPlanned,
        "a repeated page writes nothing"
    );
    let period = store.period(nov).await.unwrap().unwrap();
    assert_eq!(
        period.plan_pending,
        [PendingSegment {
            segment: 0,
            cursor: Some(cursor.clone())
        }]
    );
    assert!(!period.plan_complete);
    assert_eq!((period.planned, period.remaining), (1, 1));

    let (second, next) = store
        .list_segment_org_ids(0, PlanSegments::ONE, 1, Some(&cursor))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    let (rest, end) = match next {
        Some(next) => store
            .list_segment_org_ids(0, PlanSegments::ONE, 10, Some(&next))
            .await
            .unwrap(),
        None => (Vec::new(), None),
    };
    assert!(
        rest.is_empty() && end.is_none(),
        "two organisations: {rest:?}"
    );
    let planned = store
        .plan_page(nov, 0, Some(&cursor), &second, None, true)
        .await
        .unwrap();
    assert_eq!(planned, PlanOutcome::Planned { complete: true });
    let period = store.period(nov).await.unwrap().unwrap();
    assert!(period.plan_complete && period.plan_pending.is_empty());
    assert_eq!((period.planned, period.remaining), (2, 2));
    let mut planned_orgs = [first[0], second[0]];
    planned_orgs.sort();
    let mut both = [a, b];
    both.sort();
    assert_eq!(planned_orgs, both);

    // The seal is the item usage ingestion reads.
    assert_eq!(store.closed_through(a).await.unwrap(), Some(nov));
    assert_eq!(store.closed_through(b).await.unwrap(), Some(nov));
    // An earlier period cannot seal over it; the customer is named.
    let oct = BillingPeriod::new(2026, 10).unwrap();
    store
        .start_period_close(oct, "schedule", at, PlanSegments::ONE)
        .await
        .unwrap();
    match store.plan_page(oct, 0, None, &[a], None, true).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains(&a.to_string()), "{m}"),
        other => panic!("sealed backwards: {other:?}"),
    }

    let jobs = store
        .list_jobs(nov, Some(JobStatus::Pending), 1, None)
        .await
        .unwrap();
    assert_eq!(jobs.items.len(), 1);
    let more = store
        .list_jobs(nov, Some(JobStatus::Pending), 1, jobs.next)
        .await
        .unwrap();
    assert_eq!(more.items.len(), 1);
    assert_ne!(jobs.items[0].org, more.items[0].org);
    assert_eq!(
        store
            .list_jobs(nov, None, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    // Issue a's invoice as number 1.
    let kpk = InvoiceSeries::new("KPK").unwrap();
    assert_eq!(
        store
            .sequence_last(&kpk, DocumentKind::Invoice, 2026)
            .await
            .unwrap(),
        0
    );
    let inv_a = invoice(a, nov, 1);
    assert_eq!(
        issue(&store, &inv_a, JobStatus::Pending).await.unwrap(),
        IssueOutcome::Issued
    );
    let job = store.job(nov, a).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Done);
    assert_eq!(job.invoice, Some(inv_a.id));
    assert_eq!(job.number.as_deref(), Some("KPK-2026-000001"));
    let stored = store.invoice_of(a, nov).await.unwrap().unwrap();
    assert_eq!(
        stored.invoice, inv_a,
        "an invoice survives storage unchanged"
    );
    assert_eq!(stored.rev, 1);
    assert_eq!(
        store
            .invoice_by_id(inv_a.id)
            .await
            .unwrap()
            .unwrap()
            .invoice,
        inv_a
    );
    assert_eq!(
        store
            .sequence_last(&kpk, DocumentKind::Invoice, 2026)
            .await
            .unwrap(),
        1
    );
    let ledger: Vec<Entry> = store.ledger_entries(a).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].total().unwrap(), rub("1800.00"));
    assert!(
        matches!(ledger[0].document(), DocumentRef::Invoice { invoice, .. } if *invoice == inv_a.id)
    );
    let history = store.history(a, &inv_a.id.to_string()).await.unwrap();
    assert_eq!(history.len(), 1);

    // A second issue for a: the invoice exists (the job is done, too).
    let again = invoice(a, nov, 2);
    assert_eq!(
        issue(&store, &again, JobStatus::Pending).await.unwrap(),
        IssueOutcome::AlreadyIssued
    );
    // b with the number a took: refused, nothing written; then the next.
    let inv_b = invoice(b, nov, 1);
    assert_eq!(
        issue(&store, &inv_b, JobStatus::Pending).await.unwrap(),
        IssueOutcome::NumberTaken
    );
    assert!(store.invoice_of(b, nov).await.unwrap().is_none());
    assert_eq!(store.ledger_entries::<Value>(b).await.unwrap().len(), 0);
    // A job read in the wrong status.
    assert_eq!(
        issue(&store, &invoice(b, nov, 2), JobStatus::Failed)
            .await
            .unwrap(),
        IssueOutcome::JobChanged
    );
    let inv_b = invoice(b, nov, 2);
    assert_eq!(
        issue(&store, &inv_b, JobStatus::Pending).await.unwrap(),
        IssueOutcome::Issued
    );

    let period = store.period(nov).await.unwrap().unwrap();
    assert_eq!(
        (period.remaining, period.done, period.failed, period.skipped),
        (0, 2, 0, 0)
    );
    assert!(store.finish_period_if_complete(nov, at).await.unwrap());
    assert!(!store.finish_period_if_complete(nov, at).await.unwrap());
    let period = store.period(nov).await.unwrap().unwrap();
    assert_eq!(period.status, PeriodStatus::Closed);
    assert_eq!(period.closed_at, Some(at));
    // Newest first: November before October.
    let periods = store.list_periods(10, None).await.unwrap();
    let listed: Vec<_> = periods.items.iter().map(|p| p.period).collect();
    assert_eq!(listed, vec![nov, oct]);

    // Listings: a's invoices, the period's invoices (GSI2).
    let of_a = store.list_invoices_of_org(a, 10, None).await.unwrap();
    assert_eq!(of_a.items.len(), 1);
    let of_nov = store.list_invoices_of_period(nov, 1, None).await.unwrap();
    assert_eq!(of_nov.items.len(), 1);
    let rest = store
        .list_invoices_of_period(nov, 10, of_nov.next)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    let mut ids = vec![of_nov.items[0].invoice.id, rest.items[0].invoice.id];
    ids.sort();
    let mut expected = vec![inv_a.id, inv_b.id];
    expected.sort();
    assert_eq!(ids, expected);

    // A credit note on a's invoice, at its revision.
    let note = CreditNote {
        id: CreditNoteId::new(),
        number: number(DocumentKind::CreditNote, 1),
        invoice: inv_a.id,
        invoice_number: inv_a.number.clone(),
        org: a,
        issued_on: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
        reason: "Работа не выполнена".into(),
        lines: vec![line()],
        net: rub("-1500.00"),
        tax: rub("-300.00"),
        gross: rub("-1800.00"),
    };
    let entry = ledger::for_credit_note(&note, EntryId::new()).unwrap();
    let credited = store
        .issue_credit_note(IssueCreditNote {
            note: &note,
            invoice: &stored,
            new_credited: rub("1800.00"),
            entry: &entry,
            event: &issued_event(&inv_a),
            released: None,
        })
        .await
        .unwrap();
    assert_eq!(credited, CreditOutcome::Issued);
    let after = store.invoice_of(a, nov).await.unwrap().unwrap();
    assert_eq!(after.rev, 2);
    assert_eq!(after.invoice.credited, rub("1800.00"));
    assert_eq!(
        store.credit_notes_of_invoice(a, inv_a.id).await.unwrap(),
        vec![note.clone()]
    );
    assert_eq!(
        store.credit_note_by_id(note.id).await.unwrap(),
        Some(note.clone())
    );
    assert_eq!(store.ledger_entries::<Value>(a).await.unwrap().len(), 2);
    // The stale revision: refused, nothing written.
    let second = CreditNote {
        id: CreditNoteId::new(),
        number: number(DocumentKind::CreditNote, 2),
        ..note.clone()
    };
    let entry = ledger::for_credit_note(&second, EntryId::new()).unwrap();
    let outcome = store
        .issue_credit_note(IssueCreditNote {
            note: &second,
            invoice: &stored,
            new_credited: rub("1800.00"),
            entry: &entry,
            event: &issued_event(&inv_a),
            released: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, CreditOutcome::InvoiceChanged);
    assert_eq!(
        store
            .sequence_last(&kpk, DocumentKind::CreditNote, 2026)
            .await
            .unwrap(),
        1
    );
    // Nothing to read for customers without usage or subscriptions.
    assert!(store.usage_billed_in(a, nov).await.unwrap().is_empty());
    assert!(store.subscriptions_all(a).await.unwrap().is_empty());
}

#[tokio::test]
async fn failed_and_skipped_jobs_are_counted_once() {
    let app = TestApp::start().await;
    let store = app.store.clone();
    let c = OrgId::new();
    let dec = BillingPeriod::new(2026, 12).unwrap();
    let at = Utc::now();
    store
        .start_period_close(dec, "schedule", at, PlanSegments::ONE)
        .await
        .unwrap();
    store
        .plan_page(dec, 0, None, &[c], None, false)
        .await
        .unwrap();
    assert_eq!(store.closed_through(c).await.unwrap(), None, "not sealed");

    store
        .fail_job(dec, c, "no price for INSTALL", JobStatus::Pending, at)
        .await
        .unwrap();
    store
        .fail_job(dec, c, "still no price", JobStatus::Failed, at)
        .await
        .unwrap();
    let job = store.job(dec, c).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 2);
    assert_eq!(job.error.as_deref(), Some("still no price"));
    let period = store.period(dec).await.unwrap().unwrap();
    assert_eq!((period.failed, period.remaining), (1, 1));
    let failed = store
        .list_jobs(dec, Some(JobStatus::Failed), 10, None)
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    assert!(failed.next.is_none());
    // Read as pending, but it is failed: refused.
    assert!(matches!(
        store
            .skip_job(
                dec,
                c,
                "nothing to bill",
                JobStatus::Pending,
                &closed_event(c, dec, None)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(!store.finish_period_if_complete(dec, at).await.unwrap());
    store
        .skip_job(
            dec,
            c,
            "nothing to bill",
            JobStatus::Failed,
            &closed_event(c, dec, None),
        )
        .await
        .unwrap();
    let period = store.period(dec).await.unwrap().unwrap();
    assert_eq!((period.failed, period.remaining, period.skipped), (0, 0, 1));
    assert!(matches!(
        store.fail_job(dec, c, "late", JobStatus::Skipped, at).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.finish_period_if_complete(dec, at).await.unwrap());
}

#[tokio::test]
async fn settings_move_by_revision_and_faults_stop_a_write() {
    let app = TestApp::start().await;
    let faults = Faults::new();
    let store = app.store.clone().with_faults(faults.clone());
    let settings = BillingSettings {
        series: InvoiceSeries::new("KPK").unwrap(),
        series_count: kopek_domain::invoicing::SeriesCount::ONE,
        tax_mode: TaxMode::Exclusive,
        zero_invoices: ZeroInvoicePolicy::Skip,
        payment_terms_days: 14,
        bank_accounts: vec!["DE89370400440532013000".into()],
    };
    assert!(store.billing_settings().await.unwrap().is_none());
    assert_eq!(
        store.put_billing_settings(&settings, None).await.unwrap(),
        1
    );
    assert!(matches!(
        store.put_billing_settings(&settings, None).await,
        Err(StoreError::Conflict(_))
    ));
    let changed = BillingSettings {
        payment_terms_days: 30,
        ..settings.clone()
    };
    assert_eq!(
        store.put_billing_settings(&changed, Some(1)).await.unwrap(),
        2
    );
    let stored = store.billing_settings().await.unwrap().unwrap();
    assert_eq!((stored.settings, stored.rev), (changed, 2));
    assert_eq!(faults.writes(), 3);

    let jan = BillingPeriod::new(2027, 1).unwrap();
    faults.fail_write(1);
    match store
        .start_period_close(jan, "schedule", Utc::now(), PlanSegments::ONE)
        .await
    {
        Err(StoreError::Transient(m)) => assert_eq!(m, "injected fault"),
        other => panic!("no fault: {other:?}"),
    }
    assert!(store.period(jan).await.unwrap().is_none(), "nothing sent");
    assert!(matches!(
        store
            .start_period_close(jan, "schedule", Utc::now(), PlanSegments::ONE)
            .await,
        Ok(StartOutcome::Started(_))
    ));
    assert_eq!(faults.writes(), 5);
}

/// A payment of `amount` received by `org` with nothing open: all of it credit.
fn prepayment(org: OrgId, amount: &str, reference: &str) -> Payment {
    Payment::record(
        NewPayment {
            amount: rub(amount),
            received_on: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            reference: PaymentReference::try_from(reference.to_owned()).unwrap(),
            allocation: Default::default(),
            source: None,
        },
        PaymentId::new(),
        org,
        Currency::RUB,
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        Utc::now(),
        Vec::new(),
    )
    .unwrap()
}

/// Records `payment` (settling nothing) over the credit as `read`.
async fn record(store: &Store, payment: &Payment, read: &StoredCredit) -> PaymentOutcome {
    let entry = ledger::for_payment(payment, EntryId::new()).unwrap();
    let event = DomainEvent::new(
        payment.org,
        UserOrKey::System,
        Utc::now(),
        EventKind::PaymentReceived {
            payment: payment.id,
            reference: payment.reference.to_string(),
            amount: payment.amount,
            settled: Vec::new(),
            to_credit: payment.to_credit,
        },
    );
    store
        .record_payment(RecordPayment {
            payment,
            settled: &[],
            credit: read,
            credit_after: read.amount.checked_add(payment.to_credit).unwrap(),
            entry: &entry,
            event: &event,
            also: &[],
            statement: None,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn an_invoice_and_a_payment_that_read_the_same_credit_never_both_write() {
    let app = TestApp::start().await;
    let store = app.store.clone();
    let a = org(&app).await;
    let nov = BillingPeriod::new(2026, 11).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 5, 0).unwrap();
    store
        .start_period_close(nov, "schedule", at, PlanSegments::ONE)
        .await
        .unwrap();
    assert_eq!(
        store
            .plan_page(nov, 0, None, &[a], None, true)
            .await
            .unwrap(),
        PlanOutcome::Planned { complete: true }
    );

    // The close reads the customer's credit: none yet.
    let stale = store.credit(a, Currency::RUB).await.unwrap();
    assert_eq!((stale.amount, stale.rev), (rub("0"), 0));
    // Meanwhile a payment of 500.00 is recorded: all of it credit.
    let paid = prepayment(a, "500.00", "п/п 1");
    assert_eq!(
        record(&store, &paid, &stale).await,
        PaymentOutcome::Recorded
    );
    let credit = store.credit(a, Currency::RUB).await.unwrap();
    assert_eq!((credit.amount, credit.rev), (rub("500.00"), 1));

    // The issue over the stale read is cancelled and writes nothing ...
    let mut inv = invoice(a, nov, 1);
    let before = app.table_items().await;
    assert_eq!(
        issue_over(&store, &inv, JobStatus::Pending, &stale, stale.amount)
            .await
            .unwrap(),
        IssueOutcome::CreditChanged
    );
    assert_eq!(app.table_items().await, before, "nothing written");
    // ... and read again, the invoice draws the payment's credit down as it is issued.
    let drawn = payments::draw_down(&mut inv, credit.amount).unwrap();
    assert_eq!(drawn, rub("500.00"));
    let after = credit.amount.checked_sub(drawn).unwrap();
    assert_eq!(
        issue_over(&store, &inv, JobStatus::Pending, &credit, after)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let issued = store.invoice_of(a, nov).await.unwrap().unwrap().invoice;
    assert_eq!(
        (issued.paid, issued.open_amount()),
        (rub("500.00"), rub("1300.00"))
    );
    let credit_now = store.credit(a, Currency::RUB).await.unwrap();
    assert_eq!((credit_now.amount, credit_now.rev), (rub("0.00"), 2));

    // A payment that read the credit before that issue is cancelled in turn (it would have
    // left credit beside an open invoice): nothing written.
    let late = prepayment(a, "100.00", "п/п 2");
    let before = app.table_items().await;
    assert_eq!(
        record(&store, &late, &credit).await,
        PaymentOutcome::Changed
    );
    assert_eq!(app.table_items().await, before, "nothing written");
    // A reference already recorded is recorded once.
    let again = prepayment(a, "500.00", "п/п 1");
    assert_eq!(
        record(&store, &again, &credit_now).await,
        PaymentOutcome::AlreadyRecorded
    );
    assert_eq!(app.table_items().await, before, "nothing written");
    let recorded = store.payments_of(a).await.unwrap();
    assert_eq!(recorded, vec![paid.clone()]);
    assert_eq!(
        store
            .payment_by_reference(a, &paid.reference)
            .await
            .unwrap(),
        Some(paid)
    );
}

#[tokio::test]
async fn planning_segments_list_every_organisation_once_whatever_their_count() {
    let app = TestApp::start().await;
    for _ in 0..12 {
        org(&app).await;
    }
    let (mut all, rest) = app.store.list_org_ids(100, None).await.unwrap();
    assert!(rest.is_none());
    all.sort();
    for n in [1u8, 4, 32] {
        let segments = PlanSegments::new(n).unwrap();
        let mut seen = Vec::new();
        for segment in segments.segments() {
            // Pages of 2: a page may end one shard and begin the next.
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let (page, next) = app
                    .store
                    .list_segment_org_ids(segment, segments, 2, cursor.as_deref())
                    .await
                    .unwrap();
                assert!(page.len() <= 2);
                for org in &page {
                    assert_eq!(
                        segments.segment_of(kopek_domain::close::job_shard(*org)),
                        segment,
                        "{org} listed in the segment of its shard"
                    );
                }
                seen.extend(page);
                pages += 1;
                assert!(pages < 50, "the segment's listing ends");
                match next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        seen.sort();
        assert_eq!(seen, all, "{n} segments: every organisation once");
    }
    // A cursor of another segment's shard is refused.
    assert!(matches!(
        app.store
            .list_segment_org_ids(0, PlanSegments::new(2).unwrap(), 2, Some("1"))
            .await,
        Err(StoreError::Corrupt(_))
    ));
}
