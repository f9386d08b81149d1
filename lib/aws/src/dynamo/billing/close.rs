//! A47–A53: a period's close and its customers' jobs (see the module docs of
//! [`billing`](super)).

use std::collections::{BTreeMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use kopek_domain::charges::DomainEvent;
use kopek_domain::close::{JOB_SHARDS, JobStatus, PeriodStatus, PlanSegments, job_shard};
use kopek_domain::ids::{InvoiceId, OrgId};
use kopek_domain::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use crate::dynamo::expr::{ABSENT, Change, attr, failed_conditions, n, put, s};
use crate::dynamo::{Page, PageKey, Shards, Store, StoreError, from_item, key, keys, to_item};

/// The most customers one planning transaction takes: a job and a seal each, the tally of
/// each shard they fall in (at most one per customer) and the segment's own tally, which
/// keeps its cursor: 1 + 32 + 2 × 33 = 99 actions.
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
    /// How many planning segments plan the close side by side (set when it starts).
    #[serde(default = "one_segment")]
    pub plan_segments: PlanSegments,
    /// Every segment planned every customer of its shards.
    pub plan_complete: bool,
    /// While closing, the segments still planning and where each goes on (read from their
    /// tallies, not stored on the period).
    #[serde(skip)]
    pub plan_pending: Vec<PendingSegment>,
    pub rev: u64,
}

/// A planning segment not yet complete, and its cursor (`None` before its first page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSegment {
    pub segment: u8,
    pub cursor: Option<String>,
}

fn one_segment() -> PlanSegments {
    PlanSegments::ONE
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
/// and how each job ended. The period's counts are their sums. The tally of shard `k` also
/// keeps planning segment `k`'s progress (`plan_cursor`, `plan_done`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
struct Tally {
    #[serde(rename = "PK", default)]
    pk: String,
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
    #[serde(default)]
    plan_done: bool,
    #[serde(default)]
    plan_cursor: Option<String>,
}

/// A period's tallies, read together: their sums and each segment's planning.
#[derive(Debug, Default)]
struct Tallies(BTreeMap<u8, Tally>);

impl Tallies {
    fn remaining(&self) -> u64 {
        self.0.values().map(|t| t.remaining).sum()
    }

    /// The segments of `segments` that have not planned all their shards.
    fn pending(&self, segments: PlanSegments) -> Vec<PendingSegment> {
        segments
            .segments()
            .filter_map(|segment| match self.0.get(&segment) {
                Some(t) if t.plan_done => None,
                found => Some(PendingSegment {
                    segment,
                    cursor: found.and_then(|t| t.plan_cursor.clone()),
                }),
            })
            .collect()
    }

    fn counted_in(&self, period: &mut StoredPeriod) {
        let sum = |f: fn(&Tally) -> u64| self.0.values().map(f).sum();
        period.planned = sum(|t| t.planned);
        period.remaining = sum(|t| t.remaining);
        period.done = sum(|t| t.done);
        period.skipped = sum(|t| t.skipped);
        period.failed = sum(|t| t.failed);
        period.plan_pending = self.pending(period.plan_segments);
        period.plan_complete = period.plan_pending.is_empty();
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
        segments: PlanSegments,
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
            plan_segments: segments,
            plan_complete: false,
            plan_pending: Vec::new(),
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
            let mut stored = stored;
            stored.plan_pending = Tallies::default().pending(segments);
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
            self.tallies(period).await?.counted_in(&mut stored);
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

    /// A period's tallies, read together (strongly consistent).
    async fn tallies(&self, period: BillingPeriod) -> Result<Tallies, StoreError> {
        let keys = (0..JOB_SHARDS)
            .map(|shard| key(&keys::period_shard(period, shard), keys::TALLY_SK))
            .collect();
        let mut tallies = Tallies::default();
        for item in self.batch_get(keys).await? {
            let tally = from_item::<Tally>(item)?;
            let shard = keys::shard_of(period, &tally.pk)
                .ok_or_else(|| StoreError::Corrupt(format!("a tally at {}", tally.pk)))?;
            tallies.0.insert(shard, tally);
        }
        Ok(tallies)
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
                self.tallies(stored.period).await?.counted_in(stored);
            }
        }
        Ok(page)
    }

    /// A49: one page of planning segment `segment`, all or nothing: a pending job for each
    /// of `orgs` (at most [`MAX_ORGS_PER_PLAN`], each once, all in the segment's shards), the
    /// tallies of their shards, their seal (`closed_through` moves to `period`) when `seal`,
    /// and the segment's cursor from `cursor_in` to `cursor_out` (`None`: its last page) on
    /// the tally of shard `segment`. A job that exists or a seal refused (a later period
    /// closed) is a conflict naming the customer.
    pub async fn plan_page(
        &self,
        period: BillingPeriod,
        segment: u8,
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
        if segment >= JOB_SHARDS {
            return Err(StoreError::Unexpected(format!(
                "no planning segment {segment}"
            )));
        }
        // Each shard's tally counts the page's customers that fall in it (created by the
        // first page that has one); the segment's own tally also moves its cursor.
        let mut shards: BTreeMap<u8, i64> = BTreeMap::new();
        for org in orgs {
            *shards.entry(job_shard(*org)).or_default() += 1;
        }
        let own = shards.remove(&segment).unwrap_or(0);
        let complete = cursor_out.is_none();
        let tally = |shard: u8, count: i64| {
            Change::new(keys::period_shard(period, shard), keys::TALLY_SK)
                .add("planned :n")
                .add("remaining :n")
                .set("#t = :tally")
                .name("#t", "type")
                .value(":n", n(count))
                .value(":tally", s("close_tally"))
        };
        let mut plan = tally(segment, own)
            .set("plan_done = :complete")
            .value(":complete", AttributeValue::Bool(complete))
            .value(":false", AttributeValue::Bool(false));
        plan = match cursor_out {
            Some(out) => plan.set("plan_cursor = :out").value(":out", s(out)),
            None => plan.remove("plan_cursor"),
        };
        plan = match cursor_in {
            Some(cursor) => plan
                .when("plan_done = :false AND plan_cursor = :in")
                .value(":in", s(cursor)),
            None => plan.when(
                "attribute_not_exists(plan_done) OR (plan_done = :false AND attribute_not_exists(plan_cursor))",
            ),
        };
        let mut items = vec![plan.action(self)?];
        let tallies = shards.len();
        for (shard, count) in shards {
            items.push(tally(shard, count).action(self)?);
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

    /// A49's listing: a page of up to `limit` organisation ids of planning segment `segment`
    /// of `segments` from `cursor`, and the cursor after it (`None`: the segment is done).
    /// The segment's shards are read in turn (A3c); a page may end one shard and begin the
    /// next, so empty shards cost a read, not a page. A cursor is `{shard}` or
    /// `{shard}:{page key as plain JSON}`.
    pub async fn list_segment_org_ids(
        &self,
        segment: u8,
        segments: PlanSegments,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<OrgId>, Option<String>), StoreError> {
        let corrupt = |c: &str| StoreError::Corrupt(format!("planning cursor {c:?}"));
        let (mut shard, mut start) = match cursor {
            None => (segment, None),
            Some(c) => {
                let (shard, key) = c.split_once(':').map_or((c, None), |(s, k)| (s, Some(k)));
                let shard: u8 = shard.parse().map_err(|_| corrupt(c))?;
                if shard >= JOB_SHARDS || segments.segment_of(shard) != segment {
                    return Err(corrupt(c));
                }
                (shard, key.map(PageKey::from_plain).transpose()?)
            }
        };
        let mut orgs = Vec::new();
        loop {
            let want = limit.saturating_sub(orgs.len()).max(1);
            let (ids, next) = self
                .list_org_ids_of_shard(shard, i32::try_from(want).unwrap_or(i32::MAX), start)
                .await?;
            orgs.extend(ids);
            start = next;
            if start.is_none() {
                match segments.next_shard(shard) {
                    Some(following) => shard = following,
                    None => return Ok((orgs, None)),
                }
            }
            if orgs.len() >= limit {
                let cursor = match &start {
                    Some(key) => format!("{shard}:{}", key.to_plain()),
                    None => shard.to_string(),
                };
                return Ok((orgs, Some(cursor)));
            }
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
        if header.status != PeriodStatus::Closing {
            return Ok(false);
        }
        // Once planning is complete no job is added, so a shard at 0 stays there.
        let tallies = self.tallies(period).await?;
        if !tallies.pending(header.plan_segments).is_empty() || tallies.remaining() != 0 {
            return Ok(false);
        }
        let mut tally = header.clone();
        tallies.counted_in(&mut tally);
        let count = |v: u64| n(i64::try_from(v).unwrap_or(i64::MAX));
        Change::new(keys::period(period), keys::PERIOD_SK)
            .set("#s = :closed")
            .set("closed_at = :at")
            .set("planned = :planned")
            .set("remaining = :zero")
            .set("done = :done")
            .set("skipped = :skipped")
            .set("failed = :zero")
            .set("plan_complete = :true")
            .add("rev :one")
            .when("#s = :closing")
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
