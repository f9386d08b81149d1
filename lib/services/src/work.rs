//! The back office's work: queues of waiting work orders by work type, taking a batch
//! (race-safe: two engineers never get the same work order), starting, completing and
//! releasing it, and the data of its work sheet.
//!
//! Engineers, managers and admins work here (the role, `orders:write`, and a signed-in person,
//! not a key); an engineer acts only on their own batches (the domain refuses the others').
//! Batches left untouched past [`Settings::batch_timeout`](crate::Settings) go back to the
//! queue: every queue view and every take sweeps the stale ones first, so nobody ever sees or
//! takes around them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use kopek_aws::dynamo::work::{QueueFilter, StoredBatch, TakeOutcome};
use kopek_documents::{SheetRow, WorkSheet};
use kopek_domain::accounts::{Principal, Role, Scope, Subject};
use kopek_domain::catalog::{Lang, ServiceStatus, WorkType};
use kopek_domain::ids::{BatchId, OrderId, OrgId, UserId, WorkOrderId};
use kopek_domain::orders::{LineState, OrderLine, parse_area};
use kopek_domain::work::{Batch, EntryState, MAX_BATCH, Outcome, plan_completion};
use serde::Serialize;

use crate::orders::StoredLine;
use crate::{Context, Error, OfCustomer, Page, Paging, Result};

/// How many stale batches one request returns to the queue at most.
const SWEEP_LIMIT: i32 = 10;
/// How many times a take retries after losing work orders to another taker.
pub const TAKE_ATTEMPTS: usize = 12;

/// One work queue.
#[derive(Debug, Clone)]
pub struct WorkQueue {
    pub work_type: WorkType,
    /// Work orders waiting.
    pub waiting: u64,
    pub oldest_placed_at: Option<DateTime<Utc>>,
    /// How long the oldest has waited, in seconds.
    pub oldest_age_secs: Option<i64>,
}

/// Which waiting work orders of a queue to look at.
#[derive(Debug, Clone)]
pub struct PeekQueue {
    pub work_type: WorkType,
    /// Only work requested on or before this date.
    pub requested_by: Option<NaiveDate>,
    /// Only work in this area (checked here: refused as a bad query naming `area`).
    pub area: Option<String>,
    pub paging: Paging,
}

/// Which work to take as a batch.
#[derive(Debug, Clone)]
pub struct TakeBatch {
    pub work_type: WorkType,
    /// How many work orders at most (1 to [`MAX_BATCH`], default 10; checked here).
    pub size: Option<u16>,
    /// Only work requested on or before this date.
    pub requested_by: Option<NaiveDate>,
    /// Only work in this area (checked here, naming `area`).
    pub area: Option<String>,
}

/// A batch with its work orders as they are now, in the batch's order.
#[derive(Debug, Clone)]
pub struct BatchDetail {
    pub batch: Batch,
    pub work_orders: Vec<BatchWorkOrder>,
}

/// One work order of a batch.
#[derive(Debug, Clone)]
pub struct BatchWorkOrder {
    /// Where it stands within the batch.
    pub entry: EntryState,
    pub line: OrderLine,
    /// The customer's legal name.
    pub customer: Option<String>,
}

/// How a unit-like enum is named on the wire (`piece`, `released`, …).
pub fn wire_name(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The person who works: engineers, managers and admins with `orders:write`, signed in.
fn require_worker(caller: &Principal) -> Result<UserId> {
    caller.require_role(&[Role::Engineer, Role::Manager, Role::Admin])?;
    caller.require_scope(Scope::OrdersWrite)?;
    match caller.subject() {
        Subject::User(id) => Ok(id),
        Subject::ApiKey(_) => Err(Error::forbidden(
            "forbidden",
            "work is taken by a person, not a key",
        )),
    }
}

/// The area a queue is narrowed to, checked (the reason why not, otherwise).
fn queue_filter(
    requested_by: Option<NaiveDate>,
    area: Option<String>,
) -> std::result::Result<QueueFilter, String> {
    let area = area.map(|a| parse_area(&a)).transpose()?;
    Ok(QueueFilter { requested_by, area })
}

/// Work queues and batches.
#[derive(Clone)]
pub struct Work {
    ctx: Context,
}

impl Work {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// The work queues, one per work type in the catalog (retired services' included), with
    /// how many wait and the oldest's age.
    pub async fn queues(&self, caller: &Principal) -> Result<Vec<WorkQueue>> {
        require_worker(caller)?;
        self.sweep_stale().await?;
        let store = &self.ctx.store;
        let mut work_types = BTreeSet::new();
        for status in [ServiceStatus::Active, ServiceStatus::Retired] {
            let mut start = None;
            loop {
                let page = store.list_services(status, 100, start).await?;
                work_types.extend(
                    page.items
                        .iter()
                        .filter_map(|s| s.service.work_type().cloned()),
                );
                match page.next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
        }
        let now = self.ctx.now();
        let mut queues = Vec::with_capacity(work_types.len());
        for work_type in work_types {
            let stats = store.queue_stats(work_type.as_str()).await?;
            queues.push(WorkQueue {
                work_type,
                waiting: stats.waiting,
                oldest_placed_at: stats.oldest_placed_at,
                oldest_age_secs: stats
                    .oldest_placed_at
                    .map(|at| (now - at).num_seconds().max(0)),
            });
        }
        Ok(queues)
    }

    /// The waiting work orders of one work type, oldest first, with their customers' names.
    pub async fn peek(
        &self,
        caller: &Principal,
        query: PeekQueue,
    ) -> Result<Page<OfCustomer<OrderLine>>> {
        require_worker(caller)?;
        self.sweep_stale().await?;
        let filter = queue_filter(query.requested_by, query.area)
            .map_err(|reason| Error::bad_input("invalid_query", "area", reason))?;
        let page = self
            .ctx
            .store
            .queue(
                query.work_type.as_str(),
                &filter,
                usize::try_from(query.paging.limit).unwrap_or(1),
                query.paging.start,
            )
            .await?;
        let lines: Vec<OrderLine> = page.items.into_iter().map(|l| l.line).collect();
        let names = self.ctx.customer_names(lines.iter().map(|l| l.org)).await?;
        Ok(Page {
            items: OfCustomer::name_all(lines, |l| l.org, &names),
            next: page.next,
        })
    }

    /// Takes the next work orders of one work type (oldest first, optionally narrowed) as the
    /// caller's batch, atomically. A take that loses work orders to another taker tries again
    /// without them, at most [`TAKE_ATTEMPTS`] times, each loss counted
    /// ([`crate::ContentionSnapshot::batch_lines_lost`]).
    pub async fn take_batch(&self, caller: &Principal, command: TakeBatch) -> Result<BatchDetail> {
        let engineer = require_worker(caller)?;
        let size = usize::from(command.size.unwrap_or(10));
        if !(1..=MAX_BATCH).contains(&size) {
            return Err(Error::invalid(
                "size",
                format!("must be between 1 and {MAX_BATCH}"),
            ));
        }
        let filter = queue_filter(command.requested_by, command.area)
            .map_err(|_| Error::invalid("area", "must be 1–64 of a-z, 0-9 and '-'"))?;
        self.sweep_stale().await?;
        let store = &self.ctx.store;
        let work_type = command.work_type;
        let mut lost: HashSet<WorkOrderId> = HashSet::new();
        // Customers dunning suspended: their work orders wait in the queue until restored.
        let mut suspended: HashMap<OrgId, bool> = HashMap::new();
        for attempt in 0..TAKE_ATTEMPTS {
            let held = suspended.values().filter(|s| **s).count();
            let page = store
                .queue(
                    work_type.as_str(),
                    &filter,
                    size + lost.len() + held * size,
                    None,
                )
                .await?;
            for line in &page.items {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    suspended.entry(line.line.org)
                {
                    slot.insert(crate::dunning::suspended(&self.ctx, line.line.org).await?);
                }
            }
            let candidates: Vec<StoredLine> = page
                .items
                .into_iter()
                .filter(|l| {
                    l.line.state == LineState::Placed
                        && !lost.contains(&l.line.work_order)
                        && !suspended.get(&l.line.org).copied().unwrap_or(false)
                })
                .take(size)
                .collect();
            if candidates.is_empty() {
                return Err(Error::conflict(
                    "nothing_waiting",
                    format!("no work orders of type `{work_type}` are waiting"),
                ));
            }
            let now = self.ctx.now();
            let mut lines: Vec<_> = candidates.iter().map(|c| c.line.clone()).collect();
            let batch = Batch::take(engineer, work_type.clone(), &mut lines, now, self.timeout());
            let taken: Vec<StoredLine> = lines
                .into_iter()
                .zip(&candidates)
                .map(|(line, c)| StoredLine { line, rev: c.rev })
                .collect();
            match store.take_batch(&batch, &taken).await? {
                TakeOutcome::Taken => {
                    tracing::info!(batch = %batch.id, size = taken.len(), attempt, "batch taken");
                    let lines: Vec<OrderLine> = taken.into_iter().map(|l| l.line).collect();
                    return self.detail(batch, &lines).await;
                }
                TakeOutcome::Lost(indexes) => {
                    self.ctx.contention.batch_lines_lost(indexes.len());
                    tracing::info!(
                        attempt,
                        lost = indexes.len(),
                        "work orders taken by another batch; taking again"
                    );
                    lost.extend(indexes.into_iter().map(|i| candidates[i].line.work_order));
                    // Spread the retries of racing takers apart.
                    let jitter = rand::random::<u64>() % (10 * (attempt as u64 + 1));
                    tokio::time::sleep(Duration::from_millis(5 + jitter)).await;
                }
            }
        }
        tracing::warn!(%work_type, "a batch could not be taken: other takers kept winning");
        Err(Error::Busy(format!(
            "work orders of type `{work_type}` kept being taken by others; retry"
        )))
    }

    /// The caller's batches, newest first.
    pub async fn batches(&self, caller: &Principal, paging: Paging) -> Result<Page<BatchDetail>> {
        let engineer = require_worker(caller)?;
        let page = self
            .ctx
            .store
            .list_batches(engineer, paging.limit, paging.start)
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for stored in page.items {
            let lines = self.lines_of(&stored.batch).await?;
            items.push(self.detail(stored.batch, &lines).await?);
        }
        Ok(Page {
            items,
            next: page.next,
        })
    }

    /// A batch with its work orders as they are now (staff see every batch; only its
    /// engineer acts on it).
    pub async fn batch(&self, caller: &Principal, id: BatchId) -> Result<BatchDetail> {
        require_worker(caller)?;
        let stored = self.find(id).await?;
        let lines = self.lines_of(&stored.batch).await?;
        let mut batch = stored.batch;
        batch.reconcile(&lines);
        self.detail(batch, &lines).await
    }

    /// Starts the caller's batch: its open work orders go `in_progress` (customers can no
    /// longer cancel them).
    pub async fn start(&self, caller: &Principal, id: BatchId) -> Result<BatchDetail> {
        let engineer = require_worker(caller)?;
        let stored = self.find(id).await?;
        self.sweep_if_stale(&stored).await?;
        let lines = self.stored_lines_of(&stored.batch).await?;
        let mut next = stored.batch.clone();
        let mut changed: Vec<_> = lines.iter().map(|l| l.line.clone()).collect();
        next.reconcile(&changed);
        next.start(engineer, &mut changed, self.ctx.now(), self.timeout())?;
        let writes = changed_lines(&lines, changed);
        self.ctx
            .store
            .save_batch_work(&stored, &next, &writes, &[], &[])
            .await?;
        self.current(next).await
    }

    /// Completes work orders of the caller's batch in one action, each done (with the
    /// actual quantity: a charge for the current billing period) or failed (with a reason).
    /// The whole request is checked first ([`plan_completion`]): a refused one changes
    /// nothing.
    pub async fn complete(
        &self,
        caller: &Principal,
        id: BatchId,
        outcomes: Vec<Outcome>,
    ) -> Result<BatchDetail> {
        let engineer = require_worker(caller)?;
        if outcomes.len() > MAX_BATCH {
            return Err(Error::invalid(
                "outcomes",
                format!("at most {MAX_BATCH} outcomes"),
            ));
        }
        let stored = self.find(id).await?;
        self.sweep_if_stale(&stored).await?;
        let lines = self.stored_lines_of(&stored.batch).await?;
        let plain: Vec<_> = lines.iter().map(|l| l.line.clone()).collect();
        let mut batch = stored.batch.clone();
        batch.reconcile(&plain);
        let (next, completions) = plan_completion(
            &batch,
            engineer,
            &outcomes,
            &plain,
            self.ctx.now(),
            self.ctx.calendar,
            self.timeout(),
        )?;
        let with_revs: Vec<(u64, _)> = completions
            .into_iter()
            .map(|c| {
                let rev = lines
                    .iter()
                    .find(|l| l.line.work_order == c.line.work_order)
                    .map_or(0, |l| l.rev);
                (rev, c)
            })
            .collect();
        self.ctx
            .store
            .save_batch_work(&stored, &next, &[], &with_revs, &[])
            .await?;
        tracing::info!(batch = %next.id, completed = with_revs.len(), "batch work completed");
        self.current(next).await
    }

    /// Gives unfinished work orders of the caller's batch back to the queue (`None`: every
    /// one still open); they keep their place, oldest first.
    pub async fn release(
        &self,
        caller: &Principal,
        id: BatchId,
        work_orders: Option<Vec<WorkOrderId>>,
    ) -> Result<BatchDetail> {
        let engineer = require_worker(caller)?;
        let stored = self.find(id).await?;
        self.sweep_if_stale(&stored).await?;
        let next = self
            .release_work(
                &stored,
                Some(engineer),
                work_orders.as_deref(),
                self.ctx.now(),
            )
            .await?;
        self.current(next).await
    }

    /// The batch's work sheet as a PDF file to print: its file name and bytes (tens of
    /// milliseconds of CPU for a full batch, spent off the async workers).
    pub async fn work_sheet_pdf(
        &self,
        caller: &Principal,
        id: BatchId,
    ) -> Result<(String, Vec<u8>)> {
        let sheet = self.work_sheet(caller, id).await?;
        let file_name = format!("work-sheet-{}.pdf", sheet.batch_id);
        let bytes = tokio::task::spawn_blocking(move || sheet.to_pdf())
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        Ok((file_name, bytes))
    }

    /// What a batch's work sheet shows, the same for every format: the batch, its work type,
    /// its engineer's name and one row per job with customer, address, service, quantity and
    /// note. Staff see every batch's sheet (as they see every batch); customers and keys none.
    pub async fn work_sheet(&self, caller: &Principal, id: BatchId) -> Result<WorkSheet> {
        require_worker(caller)?;
        let batch = self.find(id).await?.batch;
        let lines = self.lines_of(&batch).await?;
        let names = self.ctx.customer_names(lines.iter().map(|l| l.org)).await?;
        let engineer = match self.ctx.store.user(batch.engineer).await? {
            Some(stored) => stored.user.name().as_str().to_owned(),
            None => batch.engineer.to_string(),
        };
        let rows = entry_lines(&batch, &lines)
            .map(|(entry, l)| SheetRow {
                work_order: l.work_order.to_string(),
                customer: names.get(&l.org).cloned().unwrap_or_default(),
                address: l.site.address.clone(),
                area: l.site.area.clone(),
                contact: l.site.contact.clone(),
                service: l.service.to_string(),
                service_name: l.service_name.ru().to_owned(),
                quantity: l.quantity.to_string(),
                unit: wire_name(&l.unit),
                unit_label: l.unit.short_name(Lang::Ru).to_owned(),
                requested_date: l.requested_date,
                note: l.note.clone(),
                status: wire_name(&entry),
            })
            .collect();
        Ok(WorkSheet {
            batch_id: batch.id.to_string(),
            work_type: batch.work_type.to_string(),
            engineer,
            taken_at: batch
                .taken_at
                .with_timezone(&self.ctx.calendar.zone())
                .naive_local(),
            time_zone: self.ctx.calendar.zone().name().to_owned(),
            rows,
        })
    }

    fn timeout(&self) -> TimeDelta {
        TimeDelta::from_std(self.ctx.settings.batch_timeout).unwrap_or(TimeDelta::hours(8))
    }

    async fn find(&self, id: BatchId) -> Result<StoredBatch> {
        self.ctx.store.batch(id).await?.ok_or(Error::NotFound)
    }

    /// Returns the work of stale batches to the queue. Conflicts (someone else sweeping or
    /// the engineer acting at the same moment) are left for the next sweep.
    async fn sweep_stale(&self) -> Result<()> {
        let now = self.ctx.now();
        for stored in self.ctx.store.stale_batches(now, SWEEP_LIMIT).await? {
            if let Err(e) = self.release_work(&stored, None, None, now).await {
                tracing::warn!(batch = %stored.batch.id, error = %e, "stale batch not released yet");
            } else {
                tracing::info!(batch = %stored.batch.id, "stale batch returned to the queue");
            }
        }
        Ok(())
    }

    /// A stale batch is swept before the refusal, so its work is back in the queue at once.
    async fn sweep_if_stale(&self, stored: &StoredBatch) -> Result<()> {
        if stored.batch.is_stale(self.ctx.now()) {
            self.sweep_stale().await?;
        }
        Ok(())
    }

    /// Releases `which` (or every open) work order of a batch; `by` is `None` for a stale
    /// batch.
    async fn release_work(
        &self,
        stored: &StoredBatch,
        by: Option<UserId>,
        which: Option<&[WorkOrderId]>,
        now: DateTime<Utc>,
    ) -> Result<Batch> {
        let lines = self.stored_lines_of(&stored.batch).await?;
        let mut next = stored.batch.clone();
        next.reconcile(&lines.iter().map(|l| l.line.clone()).collect::<Vec<_>>());
        let mut changed: Vec<_> = lines.iter().map(|l| l.line.clone()).collect();
        next.release(by, which, &mut changed, now)?;
        let writes = changed_lines(&lines, changed);
        self.ctx
            .store
            .save_batch_work(stored, &next, &writes, &[], &[])
            .await?;
        Ok(next)
    }

    /// The current lines of a batch's entries, with their revisions.
    async fn stored_lines_of(&self, batch: &Batch) -> Result<Vec<StoredLine>> {
        let refs: Vec<(OrgId, OrderId, u16)> = batch
            .entries
            .iter()
            .map(|e| (e.org, e.order, e.line_no))
            .collect();
        Ok(self.ctx.store.lines(&refs).await?)
    }

    /// The current lines of a batch's entries.
    async fn lines_of(&self, batch: &Batch) -> Result<Vec<OrderLine>> {
        Ok(self
            .stored_lines_of(batch)
            .await?
            .into_iter()
            .map(|l| l.line)
            .collect())
    }

    /// `batch` with its current lines, read again.
    async fn current(&self, batch: Batch) -> Result<BatchDetail> {
        let lines = self.lines_of(&batch).await?;
        self.detail(batch, &lines).await
    }

    /// `batch` with `lines` in its order and the customers' names.
    async fn detail(&self, batch: Batch, lines: &[OrderLine]) -> Result<BatchDetail> {
        let names = self.ctx.customer_names(lines.iter().map(|l| l.org)).await?;
        let work_orders = entry_lines(&batch, lines)
            .map(|(entry, l)| BatchWorkOrder {
                entry,
                customer: names.get(&l.org).cloned(),
                line: l.clone(),
            })
            .collect();
        Ok(BatchDetail { batch, work_orders })
    }
}

/// The lines of `after` that differ from what was read, each at the revision read.
fn changed_lines(before: &[StoredLine], after: Vec<OrderLine>) -> Vec<StoredLine> {
    before
        .iter()
        .zip(after)
        .filter(|(before, after)| before.line != *after)
        .map(|(before, after)| StoredLine {
            line: after,
            rev: before.rev,
        })
        .collect()
}

/// A batch's entries with their current lines, in the batch's order.
fn entry_lines<'a>(
    batch: &'a Batch,
    lines: &'a [OrderLine],
) -> impl Iterator<Item = (EntryState, &'a OrderLine)> + 'a {
    batch.entries.iter().filter_map(|e| {
        lines
            .iter()
            .find(|l| l.work_order == e.work_order)
            .map(|l| (e.state, l))
    })
}
