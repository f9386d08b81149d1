//! Invoices issued the way the period close issues them, without its fan-out: a close
//! started, its customers given their jobs (one planning page, not sealed, so tests can still
//! add usage), then each customer closed by the close service itself
//! (`Closer::close_customer`: compose, number, issue with its ledger entry and event) — for
//! the tests of what reads and corrects invoices.

use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_services::close::CustomerOutcome;
use kopek_tests::TestApp;

/// Issues today an invoice of `period` to each of `orgs` (which must have something to bill
/// in it: a subscription, say); returns their ids.
pub async fn issue_invoices(app: &TestApp, period: BillingPeriod, orgs: &[&str]) -> Vec<String> {
    let orgs: Vec<OrgId> = orgs.iter().map(|o| o.parse().expect("an org id")).collect();
    // One planning segment: every shard is in it, so one page plans them all.
    app.store
        .start_period_close(
            period,
            "test",
            app.state.services.now(),
            kopek_domain::close::PlanSegments::ONE,
        )
        .await
        .expect("the close starts");
    app.store
        .plan_page(period, 0, None, &orgs, None, false)
        .await
        .expect("the customers are planned");
    let close = app.state.services.closer();
    let mut ids = Vec::new();
    for org in orgs {
        match close.close_customer(period, org).await.expect("closed") {
            CustomerOutcome::Issued { invoice, .. } => ids.push(invoice.to_string()),
            other => panic!("{org} was not invoiced: {other:?}"),
        }
    }
    ids
}
