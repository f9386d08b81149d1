//! Invoices issued straight through the store, the way the period close issues them (a
//! close started, one planning page, then per customer: compose, number, issue with its
//! ledger entry and event), for the tests of what reads and corrects invoices without running
//! a close's fan-out.

use std::collections::BTreeMap;

use chrono::Datelike;
use kopek_aws::dynamo::billing::{IssueInvoice, IssueOutcome};
use kopek_domain::catalog::ServiceStatus;
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::close::JobStatus;
use kopek_domain::ids::{EntryId, InvoiceId, OrgId};
use kopek_domain::invoicing::{
    self, BillingSettings, CloseInput, DocumentKind, InvoiceNumber, InvoiceSeries, TaxMode,
    ZeroInvoicePolicy,
};
use kopek_domain::ledger;
use kopek_domain::orders::UserOrKey;
use kopek_domain::period::BillingPeriod;
use kopek_tests::TestApp;

/// Issues today an invoice of `period` to each of `orgs` (which must have something to bill
/// in it: a subscription, say), numbered in the series `KPK`; returns their ids.
pub async fn issue_invoices(app: &TestApp, period: BillingPeriod, orgs: &[&str]) -> Vec<String> {
    let store = &app.store;
    let now = app.state.services.now();
    let today = app.state.calendar().date_of(now);
    let orgs: Vec<OrgId> = orgs.iter().map(|o| o.parse().expect("an org id")).collect();
    store
        .start_period_close(period, "test", now)
        .await
        .expect("the close starts");
    store
        .plan_page(period, None, &orgs, None, false)
        .await
        .expect("the customers are planned");
    let catalog: BTreeMap<_, _> = store
        .list_services(ServiceStatus::Active, 100, None)
        .await
        .expect("the catalog")
        .items
        .into_iter()
        .map(|s| (s.service.code().clone(), (s.service, s.versions)))
        .collect();
    let settings = BillingSettings {
        series: InvoiceSeries::new("KPK").expect("a series"),
        tax_mode: TaxMode::Exclusive,
        zero_invoices: ZeroInvoicePolicy::Skip,
        payment_terms_days: 14,
    };
    let mut ids = Vec::new();
    for org in orgs {
        let organisation = store
            .organisation(org)
            .await
            .expect("read")
            .expect("exists");
        let charges = store.charges(org, period).await.expect("charges");
        let subscriptions = store.subscriptions_all(org).await.expect("subscriptions");
        let input = CloseInput {
            org,
            period,
            calendar: app.state.calendar(),
            currency: organisation.currency,
            charges: &charges,
            subscriptions: &subscriptions,
            usage: &BTreeMap::new(),
            catalog: &catalog,
        };
        let draft = invoicing::compose(&input, &settings)
            .expect("composed")
            .expect("something to bill");
        let last = store
            .sequence_last(&settings.series, DocumentKind::Invoice, today.year())
            .await
            .expect("the sequence");
        let number = InvoiceNumber::new(
            settings.series.clone(),
            DocumentKind::Invoice,
            today.year(),
            last + 1,
        )
        .expect("a number");
        let invoice = invoicing::issue(draft, InvoiceId::new(), number, today, 14).expect("issued");
        let entry_id = EntryId::new();
        let entry = ledger::for_invoice(&invoice, entry_id).expect("an entry");
        let event = DomainEvent::new(
            org,
            UserOrKey::System,
            now,
            EventKind::InvoiceIssued {
                invoice: invoice.id,
                number: invoice.number.to_string(),
                period,
                gross: invoice.draft.gross,
                due_on: invoice.due_on,
            },
        );
        let credit = store
            .credit(org, invoice.draft.currency)
            .await
            .expect("the credit");
        let outcome = store
            .issue_invoice(IssueInvoice {
                invoice: &invoice,
                entry: Some(&entry),
                event: &event,
                job_was: JobStatus::Pending,
                credit: &credit,
                credit_after: credit.amount,
            })
            .await
            .expect("written");
        assert_eq!(outcome, IssueOutcome::Issued);
        ids.push(invoice.id.to_string());
    }
    ids
}
