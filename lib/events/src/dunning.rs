//! The `dunning` function's daily schedules: the dunning run (`DunningSchedule` in the
//! template, 09:00 in the provider's time zone) handed to [`Dunning::run_daily`], and the
//! audit log's archive (`AuditArchiveSchedule`, 03:00, `"task": "audit_archive"`) handed to
//! [`Audit::archive`]. Each runs as one audited action of the system. A retried or
//! duplicated trigger on the same day changes nothing: each dunning step happens once, and
//! an archived day is not archived again.

use serde::{Deserialize, Serialize};

use kopek_services::Error;
use kopek_services::audit::{Archived, Audit};
use kopek_services::dunning::{DailyRun, Dunning};

/// Which daily task a schedule asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DailyTask {
    #[default]
    Dunning,
    AuditArchive,
}

/// The input a schedule sends (the runs date themselves by the functions' calendar).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduledDunning {
    /// EventBridge Scheduler's `<aws.scheduler.scheduled-time>`, logged.
    #[serde(default)]
    pub scheduled_time: Option<String>,
    /// The task; the dunning run when absent.
    #[serde(default)]
    pub task: DailyTask,
}

/// What a run answers (logged by Lambda, read by `cargo lambda invoke`).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum DailyAnswer {
    Dunning(DailyRun),
    Archived(ArchivedView),
}

/// What the archive did.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivedView {
    pub days: u32,
    pub records: usize,
    pub files: Vec<String>,
    pub through: Option<chrono::NaiveDate>,
}

impl From<Archived> for ArchivedView {
    fn from(a: Archived) -> Self {
        Self {
            days: a.days,
            records: a.records,
            files: a.files,
            through: a.through,
        }
    }
}

/// One scheduled invocation.
pub async fn handle_schedule(
    dunning: &Dunning,
    audit: &Audit,
    event: ScheduledDunning,
) -> Result<DailyAnswer, Error> {
    tracing::info!(
        scheduled_time = event.scheduled_time.as_deref().unwrap_or("-"),
        task = ?event.task,
        "daily run"
    );
    match event.task {
        DailyTask::Dunning => {
            let run = kopek_services::audit::system("dunning", "dunning.run", dunning.run_daily());
            Ok(DailyAnswer::Dunning(run.await?))
        }
        DailyTask::AuditArchive => {
            let run =
                kopek_services::audit::system("audit-archive", "audit.archive", audit.archive());
            Ok(DailyAnswer::Archived(run.await?.into()))
        }
    }
}
