//! The close as staff reach it: each method checks the caller's role, then calls the close
//! itself. Admins start and resume a close; billing staff read its status, jobs and preview.

use kopek_domain::accounts::{Principal, Role, Scope};
use kopek_domain::close::JobStatus;
use kopek_domain::period::BillingPeriod;

use super::{Closer, ORGS_PER_PAGE, Preview, StoredJob, StoredPeriod, Trigger};
use crate::access::{BILLING_STAFF, subject_text};
use crate::{Error, Page, Paging, Result};

/// Billing staff: `invoices:read` and a billing role.
fn require_billing_staff(caller: &Principal) -> Result<()> {
    caller.require_role(BILLING_STAFF)?;
    caller.require_scope(Scope::InvoicesRead)?;
    Ok(())
}

/// Admins with `invoices:read`.
fn require_admin(caller: &Principal) -> Result<()> {
    caller.require_role(&[Role::Admin])?;
    caller.require_scope(Scope::InvoicesRead)?;
    Ok(())
}

impl Closer {
    /// The closes started so far, newest period first (billing staff).
    pub async fn list_as(&self, caller: &Principal, paging: Paging) -> Result<Page<StoredPeriod>> {
        require_billing_staff(caller)?;
        Ok(self
            .store()
            .list_periods(paging.limit, paging.start)
            .await?)
    }

    /// A period's close, `None` while none was started (billing staff).
    pub async fn status_as(
        &self,
        caller: &Principal,
        period: BillingPeriod,
    ) -> Result<Option<StoredPeriod>> {
        require_billing_staff(caller)?;
        Ok(self.store().period(period).await?)
    }

    /// Starts the close of `period` for an admin; a close already started is refused
    /// (`close_already_started`) and changes nothing.
    pub async fn start_as(
        &self,
        caller: &Principal,
        period: BillingPeriod,
    ) -> Result<StoredPeriod> {
        require_admin(caller)?;
        let started = self
            .start(period, Trigger::Admin(subject_text(caller)))
            .await?;
        if !started.started {
            return Err(Error::conflict_on(
                "close_already_started",
                "period",
                format!(
                    "the close of {period} was started at {} and is {}",
                    started.period.started_at,
                    started.period.status.as_str()
                ),
            ));
        }
        Ok(started.period)
    }

    /// Re-queues what a close still has to do, for an admin: how many customers were queued,
    /// and the close as it is now.
    pub async fn resume_as(
        &self,
        caller: &Principal,
        period: BillingPeriod,
    ) -> Result<(usize, Option<StoredPeriod>)> {
        require_admin(caller)?;
        let queued = self.resume(period).await?;
        tracing::info!(%period, queued, "period close resumed");
        Ok((queued, self.store().period(period).await?))
    }

    /// A period's jobs by customer id, all or those of one `status` (billing staff).
    pub async fn jobs_as(
        &self,
        caller: &Principal,
        period: BillingPeriod,
        status: Option<JobStatus>,
        paging: Paging,
    ) -> Result<Page<StoredJob>> {
        require_billing_staff(caller)?;
        Ok(self
            .store()
            .list_jobs(period, status, paging.limit, paging.start)
            .await?)
    }

    /// A dry run over a page of customers, for billing staff (see [`Closer::preview`]).
    pub async fn preview_as(
        &self,
        caller: &Principal,
        period: BillingPeriod,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Preview> {
        require_billing_staff(caller)?;
        if !(1..=ORGS_PER_PAGE).contains(&limit) {
            return Err(Error::bad_input(
                "invalid_query",
                "limit",
                format!("limit must be between 1 and {ORGS_PER_PAGE}"),
            ));
        }
        Ok(self.preview(period, limit, cursor).await?)
    }
}
