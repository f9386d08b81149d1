//! Dunning's event: the `dunning` function's daily schedule (`DunningSchedule` in the
//! template, 09:00 in the provider's time zone) handed to [`Dunning::run_daily`]. A retried
//! or duplicated trigger on the same day changes nothing: each step happens once.

use serde::Deserialize;

use kopek_services::Error;
use kopek_services::dunning::{DailyRun, Dunning};

/// The input the schedule sends (nothing of it is needed: the run dates itself by the
/// functions' calendar).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduledDunning {
    /// EventBridge Scheduler's `<aws.scheduler.scheduled-time>`, logged.
    #[serde(default)]
    pub scheduled_time: Option<String>,
}

/// One scheduled invocation.
/// What it answers (logged by Lambda, read by `cargo lambda invoke`): the run's counts.
pub async fn handle_schedule(
    dunning: &Dunning,
    event: ScheduledDunning,
) -> Result<DailyRun, Error> {
    tracing::info!(
        scheduled_time = event.scheduled_time.as_deref().unwrap_or("-"),
        "dunning run"
    );
    dunning.run_daily().await
}
