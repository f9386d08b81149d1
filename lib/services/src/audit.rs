//! The audit log: who changed what, searched by admins (every record) and by a customer's
//! users (the records about their organisation), exported as CSV, archived to S3 past the
//! retention.
//!
//! Records are written by the store with the first change of every audited action
//! ([`kopek_aws::audit`]): an entrypoint runs its work in [`scope`] — the HTTP layer does for
//! every POST, PUT, PATCH and DELETE, the scheduled functions for their tasks — and the use
//! cases never write a record themselves, except for a change outside the table
//! (`Store::audit_now`). No route changes or deletes a record; only the archive removes
//! them, after filing them in the documents bucket.

use std::future::Future;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use kopek_aws::dynamo::audit::AuditIndex;
use kopek_domain::accounts::{Principal, Role, Scope};
use kopek_domain::audit::{AuditRecord, Filter};

pub use kopek_aws::audit::{Outcome, active, actor, describe, note, set_actor, unchanged, waiting};
pub use kopek_domain::audit::{Actor, ActorKind, Context as Action, ObjectRef, Retention};

use crate::{Context, Error, Page, PageKey, Paging, Result, access};

/// The most records one CSV export holds; a wider search is refused, naming the range.
pub const MAX_EXPORT_ROWS: usize = 20_000;
/// The most partitions (days, or pages of an index) one page of a search reads before it
/// answers with what it found and a cursor.
pub const MAX_READS_PER_PAGE: usize = 40;
/// How many days with records one run of the archive files at most.
pub const ARCHIVE_DAYS_PER_RUN: u32 = 31;
/// How many days one run looks at at most (an empty day costs one query).
pub const ARCHIVE_LOOKS_PER_RUN: u32 = 400;
/// Where the archive looks first when it has never run: this far before the retention's
/// first kept day.
pub const ARCHIVE_FIRST_LOOK_BACK_DAYS: i64 = 366;

/// Runs `work` as one audited action (`action`), dated by the services' clock.
pub async fn scope<F: Future>(
    services: &crate::Services,
    action: Action,
    work: F,
) -> (F::Output, Outcome) {
    kopek_aws::audit::scope(action, services.clock().clone(), work).await
}

/// Runs `work` as one audited action of Kopek's own task `task` (`period-close`,
/// `dunning`, `bank-import`), named `action`, dated by the wall clock.
pub async fn system<F: Future>(task: &str, action: &str, work: F) -> F::Output {
    let context = Action {
        actor: Actor::system(task),
        action: action.to_owned(),
        request_id: None,
        client: None,
    };
    let clock: std::sync::Arc<dyn kopek_domain::clock::Clock> =
        std::sync::Arc::new(kopek_domain::clock::SystemClock);
    kopek_aws::audit::scope(context, clock, work).await.0
}

/// A search of the log: records at or after `from` and before `to`, newest first, matching
/// every part of `filter`.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub filter: Filter,
}

/// What one run of the archive did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Archived {
    /// Days looked at (each archived, or empty).
    pub days: u32,
    /// Days that had records, now filed.
    pub filed_days: u32,
    pub records: usize,
    /// The S3 keys written.
    pub files: Vec<String>,
    /// The last day now archived, if any.
    pub through: Option<NaiveDate>,
}

/// The audit log's use cases.
pub struct Audit {
    ctx: Context,
}

fn sort_key_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn day_of(below: &str) -> Result<NaiveDate> {
    below
        .get(..10)
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| Error::bad_input("invalid_cursor", "cursor", "not a cursor of this search"))
}

impl Audit {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Who may search what: admins everything, a customer's users and keys their own
    /// organisation (another's is not found); `accounts:read` either way.
    fn authorise(&self, caller: &Principal, mut filter: Filter) -> Result<Filter> {
        caller.require_scope(Scope::AccountsRead)?;
        match caller.role() {
            Role::Admin => {}
            Role::Customer => filter.org = Some(access::org_of(caller, filter.org)?),
            _ => {
                return Err(Error::forbidden(
                    "forbidden",
                    "the audit log is for admins and for a customer's own users",
                ));
            }
        }
        Ok(filter)
    }

    fn check_range(query: &AuditQuery) -> Result<()> {
        if query.from >= query.to {
            return Err(Error::invalid("from", "must be before `to`"));
        }
        Ok(())
    }

    /// A page of records, newest first.
    pub async fn search(
        &self,
        caller: &Principal,
        query: AuditQuery,
        paging: Paging,
    ) -> Result<Page<AuditRecord>> {
        Self::check_range(&query)?;
        let filter = self.authorise(caller, query.filter.clone())?;
        let below = match &paging.start {
            Some(key) => Some(key.0.get("below").cloned().ok_or_else(|| {
                Error::bad_input("invalid_cursor", "cursor", "not a cursor of this search")
            })?),
            None => None,
        };
        let limit = usize::try_from(paging.limit.clamp(1, 200)).unwrap_or(50);
        let (records, next) = self
            .collect(&filter, &query, limit, below, MAX_READS_PER_PAGE)
            .await?;
        Ok(Page {
            items: records,
            next: next.map(|below| PageKey([("below".to_owned(), below)].into())),
        })
    }

    /// Every record of a search as CSV (at most [`MAX_EXPORT_ROWS`]).
    pub async fn export(&self, caller: &Principal, query: AuditQuery) -> Result<String> {
        Self::check_range(&query)?;
        let filter = self.authorise(caller, query.filter.clone())?;
        let (records, _) = self
            .collect(&filter, &query, MAX_EXPORT_ROWS + 1, None, usize::MAX)
            .await?;
        if records.len() > MAX_EXPORT_ROWS {
            return Err(Error::invalid(
                "from",
                format!(
                    "more than {MAX_EXPORT_ROWS} records match; narrow the range or the filter"
                ),
            ));
        }
        kopek_domain::audit::to_csv(&records).map_err(Error::internal)
    }

    /// Reads partitions newest first from below `start` (or `to`) down to `from`, keeping
    /// what `filter` matches, until `limit` records or `max_reads` reads.
    async fn collect(
        &self,
        filter: &Filter,
        query: &AuditQuery,
        limit: usize,
        start: Option<String>,
        max_reads: usize,
    ) -> Result<(Vec<AuditRecord>, Option<String>)> {
        let from = sort_key_time(query.from);
        // No record is dated after now: a search "until 2100" starts at today's partition.
        let to = sort_key_time(query.to.min(self.ctx.now() + Duration::days(1)));
        let mut below = match start {
            Some(start) if start < to => start,
            _ => to,
        };
        let first_day = query.from.date_naive();
        let mut found = Vec::new();
        let mut reads = 0usize;
        loop {
            let index = match (&filter.object, filter.org) {
                (Some(object), _) => AuditIndex::Object(object),
                (None, Some(org)) => AuditIndex::Org(org),
                (None, None) => AuditIndex::Day(day_of(&below)?),
            };
            let want = i32::try_from((limit - found.len()).clamp(25, 500)).unwrap_or(500);
            let page = self
                .ctx
                .store
                .audit_page(index, &below, &from, want)
                .await?;
            reads += 1;
            for (sk, record) in page.records {
                below = sk;
                if filter.matches(&record) {
                    found.push(record);
                    if found.len() == limit {
                        return Ok((found, Some(below)));
                    }
                }
            }
            match (page.more_below, index) {
                (Some(next), _) => below = next,
                (None, AuditIndex::Day(day)) if day > first_day => {
                    let before = day - Duration::days(1);
                    below = format!("{before}~");
                }
                (None, _) => return Ok((found, None)),
            }
            if reads >= max_reads {
                return Ok((found, Some(below)));
            }
        }
    }

    /// Writes the current action's record on its own if it is still waiting for one: the
    /// action succeeded without a change in the table (it queued work, or set what was
    /// already so). Nothing outside an audit scope.
    pub async fn record_alone(&self) -> Result<()> {
        Ok(self.ctx.store.audit_now().await?)
    }

    /// Files the records of days past the retention in the documents bucket
    /// (`audit/{yyyy}/{mm}/{dd}.jsonl`, one JSON record per line, merged with any file of
    /// that day already there) and only then removes them from the table; at most
    /// [`ARCHIVE_DAYS_PER_RUN`] days with records (and [`ARCHIVE_LOOKS_PER_RUN`] days in
    /// all) a run, resuming where the last stopped.
    pub async fn archive(&self) -> Result<Archived> {
        let objects = self.ctx.objects.as_ref().ok_or_else(|| {
            Error::internal("this function has no documents bucket (KOPEK_DOCUMENTS_BUCKET)")
        })?;
        let first_kept = self
            .ctx
            .settings
            .audit_retention
            .first_kept_day(self.ctx.now());
        describe(
            ObjectRef::new("audit_archive", first_kept.to_string()),
            None,
        );
        let mut day = match self.ctx.store.audit_archived_through().await? {
            Some(through) => through + Duration::days(1),
            None => first_kept - Duration::days(ARCHIVE_FIRST_LOOK_BACK_DAYS),
        };
        let mut done = Archived::default();
        while day < first_kept
            && done.filed_days < ARCHIVE_DAYS_PER_RUN
            && done.days < ARCHIVE_LOOKS_PER_RUN
        {
            let records = self.ctx.store.audit_day(day).await?;
            if !records.is_empty() {
                let key = format!("audit/{}.jsonl", day.format("%Y/%m/%d"));
                let mut lines: Vec<AuditRecord> = match objects.head(&key).await? {
                    Some(_) => String::from_utf8_lossy(&objects.read(&key).await?)
                        .lines()
                        .filter_map(|l| serde_json::from_str(l).ok())
                        .collect(),
                    None => Vec::new(),
                };
                for record in &records {
                    if !lines.iter().any(|l| l.id == record.id) {
                        lines.push(record.clone());
                    }
                }
                lines.sort_by_key(|l| (l.at, l.id));
                let mut text = String::new();
                for line in &lines {
                    text.push_str(&serde_json::to_string(line).map_err(Error::internal)?);
                    text.push('\n');
                }
                objects
                    .file(&key, text.into_bytes(), "application/x-ndjson")
                    .await?;
                done.files.push(key);
                done.records += records.len();
                done.filed_days += 1;
            }
            if !records.is_empty() {
                self.ctx.store.audit_remove_day(day, &records).await?;
                self.ctx.store.audit_mark_archived(day).await?;
            }
            done.days += 1;
            done.through = Some(day);
            day += Duration::days(1);
        }
        if let Some(through) = done.through {
            self.ctx.store.audit_mark_archived(through).await?;
        }
        tracing::info!(
            days = done.days,
            records = done.records,
            first_kept = %first_kept,
            "audit records archived"
        );
        Ok(done)
    }
}

/// A record's time as the CSV and the pages show it.
pub fn shown_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
