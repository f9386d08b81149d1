//! A47–A53: a period's close and its customers' jobs (see the module docs of
//! [`billing`](super)).

use std::collections::{BTreeMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use kopek_domain::charges::DomainEvent;
use kopek_domain::close::{JOB_SHARDS, JobStatus, PeriodStatus, job_shard};
use kopek_domain::ids::{InvoiceId, OrgId};
use kopek_domain::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use crate::dynamo::expr::{ABSENT, Change, attr, failed_conditions, n, put, s};
use crate::dynamo::{Page, PageKey, Shards, Store, StoreError, from_item, key, keys, to_item};

/// The most customers one planning transaction takes: a job and a seal each, the tally of
/// each shard they fall in (at most one per customer, at most [`JOB_SHARDS`]) and the period:
/// 1 + 32 + 2 × 33 = 99 actions.
pub const MAX_ORGS_PER_PLAN: usize = 33;

/// The most characters of a job's error or skip reason that are kept.
pub const MAX_REASON_CHARS: usize = 1000;

/// A period's close: its own item, with the counts summed from its shards' tallies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPeriod {
    pub period: BillingPeriod,
    pub status: PeriodStatus,
    /// What started it: `schedule`, `admin:usr_…`.
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Customer jobs created.
    #[serde(default)]
    pub planned: u64,
    /// Jobs neither done nor skipped.
    #[serde(default)]
    pub remaining: u64,
    #[serde(default)]
    pub done: u64,
    #[serde(default)]
    pub skipped: u64,
    /// Jobs failed at the moment (they are still remaining).
    #[serde(default)]
    pub failed: u64,
    /// Where planning goes on: the organisation listing's page key as plain JSON
    /// ([`PageKey::from_plain`]); `None` before the first page and once planning is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_cursor: Option<String>,
    pub plan_complete: bool,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PeriodItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    period: StoredPeriod,
}

/// One shard's counts of its jobs (`PERIOD#{p}#J{nn}` / `TALLY`): what planning put there,
/// and how each job ended. The period's counts are their sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
struct Tally {
    #[serde(default)]
    planned: u64,
    #[serde(default)]
    remaining: u64,
    #[serde(default)]
    done: u64,
    #[serde(default)]
    skipped: u64,
    #[serde(default)]
    failed: u64,
}

impl Tally {
    fn add(self, other: Tally) -> Tally {
        Tally {
            planned: self.planned + other.planned,
            remaining: self.remaining + other.remaining,
            done: self.done + other.done,
            skipped: self.skipped + other.skipped,
            failed: self.failed + other.failed,
        }
    }

    fn counted_in(self, period: &mut StoredPeriod) {
        period.planned = self.planned;
        period.remaining = self.remaining;
        period.done = self.done;
        period.skipped = self.skipped;
        period.failed = self.failed;
    }
}

/// One customer's job in a period's close, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredJob {
    pub org: OrgId,
    pub status: JobStatus,
    /// Failures so far.
    pub attempts: u32,
    /// The last failure (cleared when the job is done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceId>,
    /// The invoice's number, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// When it last changed; `None` while it is as planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JobItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    job: StoredJob,
    rev: u64,
}

impl JobItem {
    fn pending(period: BillingPeriod, org: OrgId) -> Self {
        Self {
            pk: keys::period_shard(period, job_shard(org)),
            sk: keys::job(&org),
            kind: "close_job".into(),
            job: StoredJob {
                org,
                status: JobStatus::Pending,
                attempts: 0,
                error: None,
                reason: None,
                invoice: None,
                number: None,
                updated_at: None,
            },
            rev: 1,
        }
    }
}

/// What starting a close did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started(StoredPeriod),
    /// It had been started before: the close as it is now.
    AlreadyStarted(StoredPeriod),
}

/// What planning a page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanOutcome {
    /// Written; `complete` when it was the last page.
    Planned { complete: bool },
    /// The period's cursor is no longer the one the page started from (a repeated message
    /// planned it already), planning is complete, or the close is not `closing` (closed, or
    /// never started): nothing was written.
    AlreadyPlanned,
}

/// At most [`MAX_REASON_CHARS`] characters of `text`.
pub(super) fn clip(text: &str) -> String {
    text.chars().take(MAX_REASON_CHARS).collect()
}

pub(super) fn expect_open(org: &OrgId, prev: JobStatus) -> Result<(), StoreError> {
    if prev.is_open() {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "the close of {org} is already {}",
            prev.as_str()
        )))
    }
}

/// A job moves from `prev` to `to` at `at`, if it is still at `prev`.
pub(super) fn job_change(
    period: BillingPeriod,
    org: &OrgId,
    prev: JobStatus,
    to: JobStatus,
    at: DateTime<Utc>,
) -> Result<Change, StoreError> {
    Ok(
        Change::new(keys::period_shard(period, job_shard(*org)), &keys::job(org))
            .set("#s = :to")
            .set("updated_at = :at")
            .add("rev :one")
            .when("#s = :prev")
            .name("#s", "status")
            .value(":to", attr(&to)?)
            .value(":prev", attr(&prev)?)
            .value(":at", attr(&at)?)
            .value(":one", n(1)),
    )
}

/// `org`'s shard's tally after its job left `prev` for `counter` (`done`, `skipped`).
pub(super) fn job_ended(
    period: BillingPeriod,
    org: &OrgId,
    counter: &str,
    prev: JobStatus,
) -> Change {
    jobs_ended(
        period,
        job_shard(*org),
        counter,
        Ended {
            jobs: 1,
            were_failed: u64::from(prev == JobStatus::Failed),
        },
    )
}

/// How many jobs of one shard a transaction ends, and how many of them had failed before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Ended {
    pub(super) jobs: u64,
    pub(super) were_failed: u64,
}

/// `shard`'s tally after `ended` of its jobs left pending or failed for `counter`: one
/// update however many jobs a block of invoices ends in the shard.
pub(super) fn jobs_ended(period: BillingPeriod, shard: u8, counter: &str, ended: Ended) -> Change {
    let k = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let change = Change::new(keys::period_shard(period, shard), keys::TALLY_SK)
        .when("attribute_exists(planned)")
        .add("remaining :minus")
        .add(&format!("{counter} :plus"))
        .value(":minus", n(-k(ended.jobs)))
        .value(":plus", n(k(ended.jobs)));
    if ended.were_failed > 0 {
        change
            .add("failed :unfailed")
            .value(":unfailed", n(-k(ended.were_failed)))
    } else {
        change
    }
}

/// A change of the tally of `org`'s shard, which planning created.
fn tally_change(period: BillingPeriod, org: OrgId) -> Change {
    Change::new(keys::period_shard(period, job_shard(org)), keys::TALLY_SK)
        .when("attribute_exists(planned)")
}

impl Store {
    /// A47: starts the close of `period`, once.
    pub async fn start_period_close(
        &self,
        period: BillingPeriod,
        trigger: &str,
        at: DateTime<Utc>,
    ) -> Result<StartOutcome, StoreError> {
        let stored = StoredPeriod {
            period,
            status: PeriodStatus::Closing,
            trigger: clip(trigger),
            started_at: at,
            closed_at: None,
            planned: 0,
            remaining: 0,
            done: 0,
            skipped: 0,
            failed: 0,
            plan_cursor: None,
            plan_complete: false,
            rev: 1,
        };
        let item = to_item(&PeriodItem {
            pk: keys::period(period),
            sk: keys::PERIOD_SK.into(),
            gsi1pk: keys::PERIODS.into(),
            gsi1sk: period.to_string(),
            kind: "period_close".into(),
            period: stored.clone(),
        })?;
        if self.put_new(item).await? {
            return Ok(StartOutcome::Started(stored));
        }
        self.period(period)
            .await?
            .map(StartOutcome::AlreadyStarted)
            .ok_or_else(|| {
                StoreError::Transient("the period close vanished after its write".into())
            })
    }

    /// A48: a period's close with its counts (strongly consistent): its item and, while it
    /// is closing, the tallies of its shards (a closed period keeps its final counts).
    pub async fn period(&self, period: BillingPeriod) -> Result<Option<StoredPeriod>, StoreError> {
        let Some(mut stored) = self.period_header(period).await? else {
            return Ok(None);
        };
        if stored.status == PeriodStatus::Closing {
            self.tally(period).await?.counted_in(&mut stored);
        }
        Ok(Some(stored))
    }

    /// A48: a period's own item (strongly consistent), without its shards' counts.
    pub async fn period_header(
        &self,
        period: BillingPeriod,
    ) -> Result<Option<StoredPeriod>, StoreError> {
        Ok(self
            .get::<PeriodItem>(&keys::period(period), keys::PERIOD_SK, true)
            .await?
            .map(|i| i.period))
    }

    /// The sum of a period's tallies, read together (strongly consistent).
    async fn tally(&self, period: BillingPeriod) -> Result<Tally, StoreError> {
        let keys = (0..JOB_SHARDS)
            .map(|shard| key(&keys::period_shard(period, shard), keys::TALLY_SK))
            .collect();
        self.batch_get(keys)
            .await?
            .into_iter()
            .map(from_item::<Tally>)
            .try_fold(Tally::default(), |sum, tally| Ok(sum.add(tally?)))
    }

    /// A53: the jobs of `org`'s shard not yet done or skipped (strongly consistent): 0 is
    /// when the period may be complete.
    pub async fn shard_remaining(
        &self,
        period: BillingPeriod,
        org: OrgId,
    ) -> Result<u64, StoreError> {
        Ok(self
            .get::<Tally>(
                &keys::period_shard(period, job_shard(org)),
                keys::TALLY_SK,
                true,
            )
            .await?
            .map_or(0, |t| t.remaining))
    }

    /// A48: the closes, newest period first, each with its counts.
    pub async fn list_periods(
        &self,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredPeriod>, StoreError> {
        let mut page = self
            .gsi1_page::<PeriodItem>(keys::PERIODS, limit, start, false)
            .await?
            .map(|i| i.period);
        for stored in &mut page.items {
            if stored.status == PeriodStatus::Closing {
                self.tally(stored.period).await?.counted_in(stored);
            }
        }
        Ok(page)
    }

    /// A49: one page of planning, all or nothing: a pending job for each of `orgs` (at most
    /// [`MAX_ORGS_PER_PLAN`], each once), their seal (`closed_through` moves to `period`)
    /// when `seal`, and the period's cursor from `cursor_in` to `cursor_out` (`None`: the
    /// last page). A job that exists or a seal refused (a later period closed) is a conflict
    /// naming the customer.
    pub async fn plan_page(
        &self,
        period: BillingPeriod,
        cursor_in: Option<&str>,
        orgs: &[OrgId],
        cursor_out: Option<&str>,
        seal: bool,
    ) -> Result<PlanOutcome, StoreError> {
        if orgs.len() > MAX_ORGS_PER_PLAN {
            return Err(StoreError::Unexpected(format!(
                "a planning page of {} customers is over {MAX_ORGS_PER_PLAN}",
                orgs.len()
            )));
        }
        if orgs.iter().collect::<HashSet<_>>().len() != orgs.len() {
            return Err(StoreError::Unexpected(
                "a planning page names a customer twice".into(),
            ));
        }

        let complete = cursor_out.is_none();
        let mut plan = Change::new(keys::period(period), keys::PERIOD_SK)
            .set("plan_complete = :complete")
            .add("rev :one")
            .name("#s", "status")
            .value(":complete", AttributeValue::Bool(complete))
            .value(":false", AttributeValue::Bool(false))
            .value(":closing", attr(&PeriodStatus::Closing)?)
            .value(":one", n(1));
        plan = match cursor_out {
            Some(out) => plan.set("plan_cursor = :out").value(":out", s(out)),
            None => plan.remove("plan_cursor"),
        };
        plan = match cursor_in {
            Some(cursor) => plan
                .when("#s = :closing AND plan_complete = :false AND plan_cursor = :in")
                .value(":in", s(cursor)),
            None => plan.when(
                "#s = :closing AND plan_complete = :false AND attribute_not_exists(plan_cursor)",
            ),
        };
        let mut items = vec![plan.action(self)?];
        // Each shard's tally counts the page's customers that fall in it (created by the
        // first page that has one).
        let mut shards: BTreeMap<u8, i64> = BTreeMap::new();
        for org in orgs {
            *shards.entry(job_shard(*org)).or_default() += 1;
        }
        let tallies = shards.len();
        for (shard, count) in shards {
            let tally = Change::new(keys::period_shard(period, shard), keys::TALLY_SK)
                .add("planned :n")
                .add("remaining :n")
                .set("#t = :tally")
                .name("#t", "type")
                .value(":n", n(count))
                .value(":tally", s("close_tally"));
            items.push(tally.action(self)?);
        }
        for org in orgs {
            items.push(put(
                self,
                to_item(&JobItem::pending(period, *org))?,
                Some(ABSENT),
            )?);
        }
        if seal {
            for org in orgs {
                let change = Change::new(keys::org(org), keys::ORG_BILLING)
                    .set("closed_through = :p")
                    .set("#t = :billing")
                    .when("attribute_not_exists(closed_through) OR closed_through < :p")
                    .name("#t", "type")
                    .value(":p", attr(&period)?)
                    .value(":billing", s("billing"));
                items.push(change.action(self)?);
            }
        }
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(PlanOutcome::Planned { complete }),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        let first_job = 1 + tallies;
        match failed.first() {
            Some(0) => Ok(PlanOutcome::AlreadyPlanned),
            Some(&i) if (first_job..first_job + orgs.len()).contains(&i) => {
                Err(StoreError::Conflict(format!(
                    "{} already has a job in the close of {period}",
                    orgs[i - first_job]
                )))
            }
            Some(&i) if i >= first_job + orgs.len() => Err(StoreError::Conflict(format!(
                "{} is already closed through {period} or later",
                orgs[i - first_job - orgs.len()]
            ))),
            _ => Err(err.into_store_error()),
        }
    }

    /// A50: one customer's job (strongly consistent).
    pub async fn job(
        &self,
        period: BillingPeriod,
        org: OrgId,
    ) -> Result<Option<StoredJob>, StoreError> {
        Ok(self
            .get::<JobItem>(
                &keys::period_shard(period, job_shard(org)),
                &keys::job(&org),
                true,
            )
            .await?
            .map(|i| i.job))
    }

    /// A50: a period's jobs, shard by shard and by customer id within one, all or those of
    /// one `status`. Pages of a status read whole pages and keep its jobs (a filter
    /// expression would be charged the same reads: DynamoDB filters after reading).
    pub async fn list_jobs(
        &self,
        period: BillingPeriod,
        status: Option<JobStatus>,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredJob>, StoreError> {
        let pk = |shard| keys::period_shard(period, shard);
        let shard_of = |pk: &str| keys::shard_of(period, pk);
        let of_status = |item: &JobItem| status.is_none_or(|s| s == item.job.status);
        let page = self
            .sharded_page(
                Shards {
                    index: None,
                    count: JOB_SHARDS,
                    pk: &pk,
                    shard_of: &shard_of,
                    sk_prefix: Some(keys::JOBS),
                },
                usize::try_from(limit).unwrap_or(1),
                status.map(|_| &of_status as &(dyn Fn(&JobItem) -> bool + Sync)),
                |item: &JobItem| {
                    PageKey(
                        [
                            ("PK".to_owned(), item.pk.clone()),
                            ("SK".to_owned(), item.sk.clone()),
                        ]
                        .into(),
                    )
                },
                start,
            )
            .await?;
        Ok(page.map(|i| i.job))
    }

    /// A51: a job failed with `error` (kept up to [`MAX_REASON_CHARS`] characters), if it is
    /// still `prev` (pending or failed); the period counts it failed once.
    pub async fn fail_job(
        &self,
        period: BillingPeriod,
        org: OrgId,
        error: &str,
        prev: JobStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        expect_open(&org, prev)?;
        let job = job_change(period, &org, prev, JobStatus::Failed, at)?
            .set("#err = :error")
            .add("attempts :one")
            .name("#err", "error")
            .value(":error", s(&clip(error)));
        let changed = || StoreError::Conflict(format!("the close of {org} changed meanwhile"));
        if prev == JobStatus::Failed {
            return match job.send(self).await? {
                true => Ok(()),
                false => Err(changed()),
            };
        }
        let counter = tally_change(period, org)
            .add("failed :one")
            .value(":one", n(1));
        self.transact(
            vec![job.action(self)?, counter.action(self)?],
            &[(0, changed())],
        )
        .await
    }

    /// A52: a job skipped for `reason` (nothing to bill), if it is still `prev` (pending or
    /// failed), with the customer's `period.closed` event.
    pub async fn skip_job(
        &self,
        period: BillingPeriod,
        org: OrgId,
        reason: &str,
        prev: JobStatus,
        closed: &DomainEvent,
    ) -> Result<(), StoreError> {
        let at = closed.at;
        expect_open(&org, prev)?;
        let job = job_change(period, &org, prev, JobStatus::Skipped, at)?
            .set("reason = :reason")
            .value(":reason", s(&clip(reason)));
        self.transact(
            vec![
                job.action(self)?,
                job_ended(period, &org, "skipped", prev).action(self)?,
                crate::dynamo::orders::put_event(self, closed)?,
            ],
            &[(
                0,
                StoreError::Conflict(format!("the close of {org} changed meanwhile")),
            )],
        )
        .await
    }

    /// A53: closes the period if planning is complete and no job remains in any shard;
    /// whether it did. The period's item keeps the final counts.
    pub async fn finish_period_if_complete(
        &self,
        period: BillingPeriod,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(header) = self.period_header(period).await? else {
            return Ok(false);
        };
        if header.status != PeriodStatus::Closing || !header.plan_complete {
            return Ok(false);
        }
        // Once planning is complete no job is added, so a shard at 0 stays there.
        let tally = self.tally(period).await?;
        if tally.remaining != 0 {
            return Ok(false);
        }
        let count = |v: u64| n(i64::try_from(v).unwrap_or(i64::MAX));
        Change::new(keys::period(period), keys::PERIOD_SK)
            .set("#s = :closed")
            .set("closed_at = :at")
            .set("planned = :planned")
            .set("remaining = :zero")
            .set("done = :done")
            .set("skipped = :skipped")
            .set("failed = :zero")
            .add("rev :one")
            .when("#s = :closing AND plan_complete = :true")
            .name("#s", "status")
            .value(":closed", attr(&PeriodStatus::Closed)?)
            .value(":closing", attr(&PeriodStatus::Closing)?)
            .value(":at", attr(&at)?)
            .value(":true", AttributeValue::Bool(true))
            .value(":planned", count(tally.planned))
            .value(":done", count(tally.done))
            .value(":skipped", count(tally.skipped))
            .value(":zero", n(0))
            .value(":one", n(1))
            .send(self)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_kept_up_to_its_limit() {
        assert_eq!(clip("short"), "short");
        let long = "я".repeat(MAX_REASON_CHARS + 5);
        assert_eq!(clip(&long).chars().count(), MAX_REASON_CHARS);
    }
}
