//! The period close: every customer's billing period becomes one invoice, numbered without
//! gaps and posted to the ledger, in a fan-out that scales to any number of customers and is
//! safe to re-run at any point.
//!
//! # Flow
//!
//! 1. **Start** ([`Closer::start`]): the scheduler (the 1st of the month, for the previous
//!    month) or an admin starts the close of an ended period. The period item is created
//!    (`closing`) with a conditional put, so a duplicated trigger starts nothing twice, and a
//!    [`CloseMessage::Plan`] goes to `CloseQueue`.
//! 2. **Plan** (a `Plan` message): the customers are listed a page at a time; each page of at
//!    most [`ORGS_PER_PAGE`] is one transaction that creates the customers' jobs (spread
//!    over [`kopek_domain::close::JOB_SHARDS`] shards, each with a tally of its jobs, so no
//!    item or partition is written by every customer), **seals** each customer (its `closed_through` moves to the period, so usage and work that arrive
//!    from now on are billed in the next period) and advances the period's planning cursor
//!    — all or nothing, conditional on the cursor it started from. Then one
//!    [`CloseMessage::Customer`] per customer is queued, delayed by the seal wait (longer
//!    than any ingestion or completion that read the old `closed_through` can still run), and
//!    after [`PAGES_PER_MESSAGE`] pages the planner hands the rest to the next `Plan`
//!    message, so no invocation runs long.
//! 3. **Compose a customer's invoice** (a `Customer` message, [`Closer::close_customer`]):
//!    reads the customer's charges, subscriptions (without the days dunning suspended its
//!    service) and usage of the period and the catalog, and composes the invoice
//!    ([`kopek_domain::invoicing::compose`]) — without a number: workers compose in
//!    parallel. The ready invoice ([`ReadyInvoice`]) goes to the FIFO `NumberQueue` in its
//!    series' message group. A period with nothing to bill skips the customer (or issues a
//!    zero invoice, per settings).
//! 4. **Number a block** (`Number` messages, [`Closer::number_block`], `close/block.rs`): up to
//!    ten ready invoices of one series are numbered `last + 1 … last + k` and issued in **one
//!    transaction** with their ledger entries, events, jobs `done`, credits and their shards'
//!    tallies; the sequence moves once. SQS gives a series' messages to one step at a time,
//!    and the transaction is conditional on the sequence anyway; a repeated message finds its
//!    invoice issued. When no job remains in its shard, the step reads every shard's tally;
//!    when none remains anywhere, the period becomes `closed` with its final counts.
//!
//! Failures: a storage failure leaves the message for SQS to redeliver (partial batch
//! response); anything that cannot succeed by retrying (a missing price, a corrupt item) marks
//! the job `failed` with the reason, listed for admins, and the others go on.
//! [`Closer::resume`] re-queues what is pending or failed.

//! **Every step finishes the period when it can.** The period turns `closed` in the step that
//! ends its last job, and also in any later step that finds nothing left to do — a
//! redelivered customer message whose job is already done, a redelivered last planning page —
//! so a close whose completion check failed after its last invoice was written still closes
//! on SQS's redelivery alone, with no one resuming it.
//!
//! Staff reach the close through the `*_as` methods, which take the caller and check its
//! role: admins start and resume a close; billing staff read its status, jobs and preview.
//! The scheduler (`kopek_events::close`) calls [`Closer::start`] directly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kopek_aws::config::ConfigError;
use kopek_aws::dynamo::billing::{MAX_ORGS_PER_PLAN, PlanOutcome, StartOutcome};
/// A period's close and a customer's job in it, as stored.
pub use kopek_aws::dynamo::billing::{StoredJob, StoredPeriod};
use kopek_aws::dynamo::{Store, StoreError};
use kopek_aws::queue::Queue;
use kopek_domain::calendar::Calendar;
use kopek_domain::catalog::{PriceVersion, Service, ServiceCode, ServiceStatus};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::close::JobStatus;
use kopek_domain::ids::{InvoiceId, OrgId};
use kopek_domain::invoicing::{
    self, BillingSettings, Buyer, CloseInput, InvoiceDraft, InvoicingError, Parties,
};
use kopek_domain::ledger;
use kopek_domain::orders::UserOrKey;
use kopek_domain::period::BillingPeriod;
use kopek_domain::usage::MeterUsage;
use serde::{Deserialize, Serialize};

mod block;
mod schedule;
mod staff;

use crate::{Context, Result};
pub use block::ReadyInvoice;
pub use schedule::scheduled_period;

/// Customers per planning transaction: two actions each (job, seal) and the period's update
/// stay within DynamoDB's 100 actions per transaction (the store's own limit).
pub const ORGS_PER_PAGE: usize = MAX_ORGS_PER_PLAN;
/// Planning pages per `Plan` message before the rest is handed on.
pub const PAGES_PER_MESSAGE: usize = 20;
/// How often a customer's close takes the next number after losing one to another worker.
const NUMBER_ATTEMPTS: usize = 100;

/// A message of `CloseQueue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CloseMessage {
    /// Plan planning segment `segment`'s customers after `cursor` (from its start when
    /// `None`).
    Plan {
        period: BillingPeriod,
        #[serde(default)]
        cursor: Option<String>,
        #[serde(default)]
        segment: u8,
    },
    /// Close one customer's period.
    Customer { period: BillingPeriod, org: OrgId },
    /// Number and issue an invoice composed by a `customer` step (on `NumberQueue`).
    Number(Box<ReadyInvoice>),
}

/// Who started a close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Admin(String),
}

impl Trigger {
    fn as_text(&self) -> String {
        match self {
            Trigger::Schedule => "schedule".into(),
            Trigger::Admin(who) => format!("admin:{who}"),
        }
    }
}

/// Why a close step failed.
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    /// The request is wrong (e.g. the period has not ended): nothing was changed.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The request conflicts with the state (e.g. the close already started).
    #[error("{0}")]
    Conflict(String),
    /// The customer's data cannot be invoiced (a permanent failure of its job).
    #[error(transparent)]
    Invoicing(#[from] InvoicingError),
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Usage(#[from] kopek_domain::usage::UsageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CloseError {
    /// Whether trying again later may succeed (storage throttling, an unavailable service).
    pub fn is_transient(&self) -> bool {
        matches!(self, CloseError::Store(StoreError::Transient(_)))
    }
}

/// What [`Closer::start`] did.
#[derive(Debug, Clone)]
pub struct Started {
    pub period: StoredPeriod,
    /// `false` when the close had already been started (nothing new was started).
    pub started: bool,
}

/// What closing one customer came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerOutcome {
    Issued {
        invoice: InvoiceId,
        number: String,
    },
    /// Nothing to bill (or zero, with zero invoices skipped).
    Skipped,
    /// Already done or skipped earlier (a repeated message).
    AlreadyDone,
    /// Handed on: composed and queued to be numbered, or queued to be composed again (what
    /// it was composed from changed before it was numbered).
    Queued,
    /// Failed for good: the job is marked failed with the reason.
    Failed(String),
}

/// A customer of a batch, read and composed: its job ended here or before, or its invoice
/// ready to hand on.
enum Prepared {
    Ended(CustomerOutcome),
    Ready(Box<ReadyInvoice>),
}

/// The catalog as the close reads it: every service, active or retired, with its versions.
pub type Catalog = BTreeMap<ServiceCode, (Service, Vec<PriceVersion>)>;

/// The period close over the function's store and close queue. Reading a close needs no
/// queue; starting, resuming and handling one does.
#[derive(Clone)]
pub struct Closer {
    ctx: Context,
    queue: Option<Queue>,
}

impl std::fmt::Debug for Closer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Closer")
            .field("queue", &self.queue.as_ref().map(Queue::url))
            .field("seal_wait", &self.ctx.settings.close_seal_wait)
            .finish_non_exhaustive()
    }
}

impl Closer {
    /// The close over `ctx`'s store and close queue (`KOPEK_CLOSE_QUEUE_URL`), if any.
    pub(crate) fn new(ctx: Context) -> Self {
        let queue = ctx.close_queue.clone();
        Self { ctx, queue }
    }

    /// The same close, refused unless it has its queue: what the close's own functions check
    /// at cold start, so a misconfigured one fails at once naming the variable.
    pub fn with_queue_required(self) -> Result<Self, ConfigError> {
        match self.queue {
            Some(_) => Ok(self),
            None => Err(ConfigError::Missing("KOPEK_CLOSE_QUEUE_URL")),
        }
    }

    fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// The queue the close's messages go through.
    ///
    /// # Panics
    /// Where the function has no close queue (see [`Closer::with_queue_required`]).
    pub fn queue(&self) -> &Queue {
        self.queue
            .as_ref()
            .expect("the close queue (KOPEK_CLOSE_QUEUE_URL)")
    }

    /// The queue composed invoices wait on for their numbers (FIFO), if the function has it.
    pub fn number_queue(&self) -> Option<&Queue> {
        self.ctx.number_queue.as_ref()
    }

    /// The provider's calendar: when periods end, what day it is.
    pub fn calendar(&self) -> Calendar {
        self.ctx.calendar
    }

    /// Now, by the services' clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.ctx.now()
    }

    /// The billing settings in force (see [`crate::billing::Billing::settings`]).
    pub async fn settings(&self) -> Result<BillingSettings, StoreError> {
        crate::billing::settings_in_force(&self.ctx).await
    }

    // -- The close itself --------------------------------------------------------------------

    /// Starts the close of `period`; see the module docs. Refused, with nothing changed, for a
    /// period that has not ended (in the provider's calendar), one before the last
    /// period closed, one that would leave an unclosed period behind it, or the next period
    /// while the previous one's planning is incomplete. A close already started is `started:
    /// false`; a scheduled trigger then resumes it (a duplicated trigger is harmless, and a
    /// retried trigger sends the planning message a failed first one could not).
    pub async fn start(
        &self,
        period: BillingPeriod,
        trigger: Trigger,
    ) -> Result<Started, CloseError> {
        let period = self.provider_period(period)?;
        if period.end_exclusive() > self.ctx.today() {
            return Err(CloseError::Invalid {
                field: "period".into(),
                reason: format!("{period} has not ended yet: a period closes after its last day"),
            });
        }
        if let Some(latest) = self
            .store()
            .list_periods(1, None)
            .await?
            .items
            .into_iter()
            .next()
        {
            if latest.period > period {
                return Err(CloseError::Conflict(format!(
                    "{} is already {}; an earlier period cannot be closed after it",
                    latest.period,
                    latest.status.as_str()
                )));
            }
            if latest.period < period && latest.period.next() != period {
                return Err(CloseError::Conflict(format!(
                    "close {} first: periods close in order",
                    latest.period.next()
                )));
            }
            // Planning seals each customer at its period; a later period's seal would make
            // the rest of this one's planning conflict and leave its customers unbilled.
            if latest.period < period && !latest.plan_complete {
                return Err(CloseError::Conflict(format!(
                    "{} is still being planned; {period} can start once every customer of {} \
                     has its job (resume {} if its planning stopped)",
                    latest.period, latest.period, latest.period
                )));
            }
        }
        match self
            .store()
            .start_period_close(
                period,
                &trigger.as_text(),
                self.ctx.now(),
                self.ctx.settings.close_plan_segments,
            )
            .await?
        {
            StartOutcome::Started(stored) => {
                // One planning chain per segment, side by side.
                let plans: Vec<CloseMessage> = stored
                    .plan_segments
                    .segments()
                    .map(|segment| CloseMessage::Plan {
                        period,
                        cursor: None,
                        segment,
                    })
                    .collect();
                self.send(&plans, 0).await?;
                tracing::info!(%period, trigger = %trigger.as_text(), "period close started");
                Ok(Started {
                    period: stored,
                    started: true,
                })
            }
            StartOutcome::AlreadyStarted(stored) => {
                if trigger == Trigger::Schedule {
                    self.resume(period).await?;
                }
                Ok(Started {
                    period: stored,
                    started: false,
                })
            }
        }
    }

    /// Re-queues what a close still has to do: the rest of its planning and every pending or
    /// failed customer. Returns how many customers were queued.
    pub async fn resume(&self, period: BillingPeriod) -> Result<usize, CloseError> {
        let Some(stored) = self.store().period(period).await? else {
            return Err(CloseError::Invalid {
                field: "period".into(),
                reason: format!("the close of {period} has not been started"),
            });
        };
        let plans: Vec<CloseMessage> = stored
            .plan_pending
            .iter()
            .map(|pending| CloseMessage::Plan {
                period,
                cursor: pending.cursor.clone(),
                segment: pending.segment,
            })
            .collect();
        self.send(&plans, 0).await?;
        let mut queued = 0;
        for status in [JobStatus::Pending, JobStatus::Failed] {
            let mut cursor = None;
            loop {
                let page = self
                    .store()
                    .list_jobs(period, Some(status), 100, cursor)
                    .await?;
                let messages: Vec<CloseMessage> = page
                    .items
                    .iter()
                    .map(|job| CloseMessage::Customer {
                        period,
                        org: job.org,
                    })
                    .collect();
                self.send(&messages, 0).await?;
                queued += messages.len();
                cursor = page.next;
                if cursor.is_none() {
                    break;
                }
            }
        }
        self.finish_if_complete(period).await?;
        // The work goes back to the queue, not into the table: the record says how much.
        crate::audit::note("queued", queued.into());
        self.store().audit_now().await?;
        Ok(queued)
    }

    /// Handles one message of `CloseQueue`.
    pub async fn handle(&self, message: &CloseMessage) -> Result<(), CloseError> {
        // Boxed: the futures are deep, and a Lambda main that awaits them inline would
        // otherwise hit the compiler's layout depth limit.
        match message {
            CloseMessage::Plan {
                period,
                cursor,
                segment,
            } => Box::pin(self.plan(*period, *segment, cursor.clone())).await,
            CloseMessage::Customer { period, org } => Box::pin(self.close_customer(*period, *org))
                .await
                .map(|_| ()),
            CloseMessage::Number(ready) => Box::pin(self.number_block(vec![(**ready).clone()]))
                .await
                .map(|_| ()),
        }
    }

    async fn send(&self, messages: &[CloseMessage], delay: u64) -> Result<(), CloseError> {
        if messages.is_empty() {
            return Ok(());
        }
        let bodies = messages
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        let queue = self.queue.as_ref().ok_or_else(|| {
            StoreError::Unexpected(
                "this function has no close queue (KOPEK_CLOSE_QUEUE_URL)".into(),
            )
        })?;
        queue
            .send_messages(&bodies, i32::try_from(delay).unwrap_or(900))
            .await?;
        Ok(())
    }

    /// The period turns `closed` if planning is complete and no job remains (A53; a no-op
    /// otherwise). Every step calls it: whichever ends the last job of its shard, or finds
    /// it ended.
    async fn finish_if_complete(&self, period: BillingPeriod) -> Result<(), CloseError> {
        if self
            .store()
            .finish_period_if_complete(period, self.ctx.now())
            .await?
        {
            tracing::info!(%period, "period closed");
        }
        Ok(())
    }

    /// Plans up to [`PAGES_PER_MESSAGE`] pages of `segment`'s customers from `cursor`, then
    /// hands the rest of the segment on.
    async fn plan(
        &self,
        period: BillingPeriod,
        segment: u8,
        mut cursor: Option<String>,
    ) -> Result<(), CloseError> {
        let Some(header) = self.store().period_header(period).await? else {
            return Err(CloseError::Invalid {
                field: "period".into(),
                reason: format!("the close of {period} has not been started"),
            });
        };
        let segments = header.plan_segments;
        if !segments.segments().contains(&segment) {
            return Err(CloseError::Invalid {
                field: "segment".into(),
                reason: format!("{period} is planned in {} segments", segments.get()),
            });
        }
        for _ in 0..PAGES_PER_MESSAGE {
            let (orgs, next) = self
                .store()
                .list_segment_org_ids(segment, segments, ORGS_PER_PAGE, cursor.as_deref())
                .await?;
            match self
                .store()
                .plan_page(
                    period,
                    segment,
                    cursor.as_deref(),
                    &orgs,
                    next.as_deref(),
                    true,
                )
                .await?
            {
                PlanOutcome::Planned { .. } => {}
                // Someone (a redelivered or duplicated message) planned this page already: its
                // customer messages may not have been sent, so they are sent again (a repeated
                // customer message finds its job done).
                PlanOutcome::AlreadyPlanned => {
                    tracing::info!(%period, segment, "planning page already written; re-queueing its customers");
                }
            }
            let messages: Vec<CloseMessage> = orgs
                .iter()
                .map(|org| CloseMessage::Customer { period, org: *org })
                .collect();
            self.send(&messages, self.ctx.settings.close_seal_wait.as_secs())
                .await?;
            cursor = next;
            if cursor.is_none() {
                return self.finish_if_complete(period).await;
            }
        }
        self.send(
            &[CloseMessage::Plan {
                period,
                cursor,
                segment,
            }],
            0,
        )
        .await
    }

    /// Everything the catalog holds, active and retired (a retired service may still be billed
    /// for the days it was in use).
    pub async fn catalog(&self) -> Result<Catalog, StoreError> {
        let mut catalog = Catalog::new();
        for status in [ServiceStatus::Active, ServiceStatus::Retired] {
            let mut start = None;
            loop {
                let page = self.store().list_services(status, 100, start).await?;
                for s in page.items {
                    catalog.insert(s.service.code().clone(), (s.service, s.versions));
                }
                start = page.next;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(catalog)
    }

    /// The invoice `org` would get for `period`: reads only.
    pub async fn compose_for(
        &self,
        period: BillingPeriod,
        org: OrgId,
        catalog: &Catalog,
        settings: &BillingSettings,
    ) -> Result<Option<Composed>, CloseError> {
        let Some(organisation) = self.store().organisation(org).await? else {
            return Err(CloseError::Invalid {
                field: "org".into(),
                reason: format!("{org} does not exist"),
            });
        };
        // Normally only the period itself; at the first close ever, every earlier period
        // since the customer registered too, so nothing recorded before Kopek's first
        // close is left unbilled (later periods are sealed and closed in order).
        let first_close = match period.checked_previous() {
            Some(previous) => self.store().period(previous).await?.is_none(),
            None => true,
        };
        let calendar = self.ctx.calendar;
        let from = if first_close {
            calendar.period_of(organisation.created_at).min(period)
        } else {
            period
        };
        let mut charges = Vec::new();
        let mut usage: BTreeMap<ServiceCode, MeterUsage> = BTreeMap::new();
        let mut billed = from;
        loop {
            charges.extend(self.store().charges(org, billed).await?);
            for (meter, part) in self.store().usage_billed_in(org, billed).await? {
                usage.entry(meter).or_default().merge(part)?;
            }
            if billed >= period {
                break;
            }
            billed = billed.next();
        }
        let subscriptions = self.store().subscriptions_all(org).await?;
        // The days dunning suspended the customer's service are not billed.
        let paused = self.store().dunning(org).await?.state.suspensions;
        let payment_terms_days = settings.payment_terms_for(&organisation);
        let draft = invoicing::compose(
            &CloseInput {
                org,
                period,
                calendar,
                currency: organisation.currency,
                charges: &charges,
                subscriptions: &subscriptions,
                paused: &paused,
                usage: &usage,
                catalog,
            },
            settings,
        )?;
        Ok(draft.map(|draft| Composed {
            draft,
            payment_terms_days,
            buyer: Buyer::of(&organisation),
            series_index: organisation.series_index,
        }))
    }

    /// `period`, if it is one of the provider's (of its calendar's length), else refused
    /// naming `period`: every way into a close (the API, a hand-written event) passes here.
    fn provider_period(&self, period: BillingPeriod) -> Result<BillingPeriod, CloseError> {
        self.ctx
            .calendar
            .check(period)
            .map_err(|e| CloseError::Invalid {
                field: "period".into(),
                reason: e.to_string(),
            })
    }

    /// A dry run over a page of customers: the invoices the close would issue, none written.
    pub async fn preview(
        &self,
        period: BillingPeriod,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Preview, CloseError> {
        let period = self.provider_period(period)?;
        let catalog = self.catalog().await?;
        let settings = self.settings().await?;
        let (orgs, next) = self
            .store()
            .list_org_ids(limit.clamp(1, ORGS_PER_PAGE) as i32, cursor)
            .await?;
        let mut preview = Preview {
            drafts: Vec::new(),
            failures: Vec::new(),
            next,
        };
        for org in orgs {
            match self.compose_for(period, org, &catalog, &settings).await {
                Ok(Some(composed)) => preview.drafts.push(composed.draft),
                Ok(None) => {}
                // What would fail this customer's close is shown, as the close would list it;
                // a storage failure fails the whole preview (try again).
                Err(e) if !e.is_transient() => preview.failures.push((org, e.to_string())),
                Err(e) => return Err(e),
            }
        }
        Ok(preview)
    }

    /// Closes one customer's period; see the module docs. Safe to repeat at any point: a
    /// repeated message finds the job done and only finishes the period if it can.
    pub async fn close_customer(
        &self,
        period: BillingPeriod,
        org: OrgId,
    ) -> Result<CustomerOutcome, CloseError> {
        self.close_customers(&[(period, org)])
            .await
            .pop()
            .unwrap_or(Ok(CustomerOutcome::AlreadyDone))
    }

    /// Closes the customers of one batch of `customer` messages: each composed side by side,
    /// their ready invoices handed on together (to `NumberQueue`, ten to a request), then
    /// each customer whose job ended here or before finishes its period if it can. Each
    /// customer's outcome, in the order given.
    pub async fn close_customers(
        &self,
        customers: &[(BillingPeriod, OrgId)],
    ) -> Vec<Result<CustomerOutcome, CloseError>> {
        let prepared = futures::future::join_all(
            customers
                .iter()
                .map(|(period, org)| Box::pin(self.prepare(*period, *org))),
        )
        .await;
        let ready: Vec<ReadyInvoice> = prepared
            .iter()
            .filter_map(|p| match p {
                Ok(Prepared::Ready(ready)) => Some((**ready).clone()),
                _ => None,
            })
            .collect();
        let handed = if ready.is_empty() {
            Ok(Vec::new())
        } else {
            Box::pin(self.hand_on(ready)).await
        };
        let mut outcomes = Vec::with_capacity(customers.len());
        for ((period, org), prepared) in customers.iter().zip(prepared) {
            let outcome = match (prepared, &handed) {
                (Err(e), _) => Err(e),
                (Ok(Prepared::Ended(outcome)), _) => Ok(outcome),
                (Ok(Prepared::Ready(_)), Ok(handed)) => Ok(handed
                    .iter()
                    .find(|(o, _)| o == org)
                    .map_or(CustomerOutcome::AlreadyDone, |(_, outcome)| outcome.clone())),
                // Nothing of it was written: its message is tried again.
                (Ok(Prepared::Ready(_)), Err(e)) => Err(CloseError::Store(StoreError::Transient(
                    format!("the invoice could not be handed on: {e}"),
                ))),
            };
            // Also when the job was done before: the step that ended it may have stopped
            // before it could close the period, and no other message of the period may come.
            // Only the customer's shard is read first: the whole period only once it is at 0.
            let outcome = match outcome {
                Ok(CustomerOutcome::Queued) | Err(_) => outcome,
                Ok(ended) => match self.store().shard_remaining(*period, *org).await {
                    Ok(0) => self.finish_if_complete(*period).await.map(|()| ended),
                    Ok(_) => Ok(ended),
                    Err(e) => Err(e.into()),
                },
            };
            outcomes.push(outcome);
        }
        outcomes
    }

    /// A customer's job read and, while it is open, its invoice composed (or the job
    /// skipped, or failed for good with the reason).
    async fn prepare(&self, period: BillingPeriod, org: OrgId) -> Result<Prepared, CloseError> {
        let Some(job) = self.store().job(period, org).await? else {
            tracing::warn!(%period, %org, "a customer message without a job: ignored");
            return Ok(Prepared::Ended(CustomerOutcome::AlreadyDone));
        };
        if matches!(job.status, JobStatus::Done | JobStatus::Skipped) {
            return Ok(Prepared::Ended(CustomerOutcome::AlreadyDone));
        }
        match self.try_close(period, org, &job).await {
            Err(e)
                if !e.is_transient()
                    && !matches!(e, CloseError::Store(StoreError::Conflict(_))) =>
            {
                let reason = e.to_string();
                tracing::warn!(%period, %org, error = %reason, "customer close failed");
                self.store()
                    .fail_job(period, org, &reason, job.status, self.ctx.now())
                    .await?;
                Ok(Prepared::Ended(CustomerOutcome::Failed(reason)))
            }
            other => other,
        }
    }

    /// The customer's `period.closed` event, with its invoice if it has one.
    fn period_closed(
        &self,
        org: OrgId,
        period: BillingPeriod,
        invoice: Option<InvoiceId>,
    ) -> DomainEvent {
        DomainEvent::new(
            org,
            UserOrKey::System,
            self.ctx.now(),
            EventKind::PeriodClosed { period, invoice },
        )
    }

    async fn try_close(
        &self,
        period: BillingPeriod,
        org: OrgId,
        job: &StoredJob,
    ) -> Result<Prepared, CloseError> {
        match self.compose_ready(period, org, job).await? {
            Some(ready) => Ok(Prepared::Ready(Box::new(ready))),
            None => {
                let closed = self.period_closed(org, period, None);
                self.store()
                    .skip_job(period, org, "nothing to bill", job.status, &closed)
                    .await?;
                Ok(Prepared::Ended(CustomerOutcome::Skipped))
            }
        }
    }

    /// The invoice `org` gets for `period`, composed and ready for its number (`None`:
    /// nothing to bill); `job` is its job as read. Reads only.
    pub async fn compose_ready(
        &self,
        period: BillingPeriod,
        org: OrgId,
        job: &StoredJob,
    ) -> Result<Option<ReadyInvoice>, CloseError> {
        let catalog = self.catalog().await?;
        let settings = self.settings().await?;
        let Some(Composed {
            draft,
            payment_terms_days,
            buyer,
            series_index,
        }) = self.compose_for(period, org, &catalog, &settings).await?
        else {
            return Ok(None);
        };
        let parties = Parties {
            seller: self
                .store()
                .provider_requisites()
                .await?
                .map(|saved| saved.requisites),
            buyer,
        };
        let series = settings.series_for(org, series_index);
        Ok(Some(ReadyInvoice {
            job_was: job.status,
            attempts: job.attempts,
            draft,
            payment_terms_days,
            parties,
            series: series.series,
            place: series.place,
        }))
    }
}

/// A customer's invoice as the close would issue it: the draft, and the days it gives to pay
/// (the customer's own payment terms, or the provider's).
#[derive(Debug, Clone)]
pub struct Composed {
    pub draft: InvoiceDraft,
    pub payment_terms_days: u16,
    /// The customer as its invoice names it.
    pub buyer: Buyer,
    /// The series subdivision the customer is placed in, if it is.
    pub series_index: Option<u8>,
}

/// A page of a dry run: the invoices the close would issue, the customers it could not
/// invoice (with the reason its job would fail with), and the cursor of the next page.
#[derive(Debug, Clone)]
pub struct Preview {
    pub drafts: Vec<InvoiceDraft>,
    pub failures: Vec<(OrgId, String)>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_a_stable_wire_form() {
        let period: BillingPeriod = "2026-10".parse().unwrap();
        let plan = CloseMessage::Plan {
            period,
            cursor: None,
            segment: 7,
        };
        assert_eq!(
            serde_json::to_string(&plan).unwrap(),
            r#"{"type":"plan","period":"2026-10","cursor":null,"segment":7}"#
        );
        // Before planning in segments: the one chain is segment 0.
        assert_eq!(
            serde_json::from_str::<CloseMessage>(r#"{"type":"plan","period":"2026-10"}"#).unwrap(),
            CloseMessage::Plan {
                period,
                cursor: None,
                segment: 0
            }
        );
        let org = OrgId::new();
        let customer: CloseMessage = serde_json::from_str(&format!(
            r#"{{"type":"customer","period":"2026-10","org":"{org}"}}"#
        ))
        .unwrap();
        assert_eq!(customer, CloseMessage::Customer { period, org });
        assert!(
            serde_json::from_str::<CloseMessage>(r#"{"type":"plan","period":"2026-13"}"#).is_err()
        );
    }
}
