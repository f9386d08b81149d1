//! The period close's events: the `period-close` function's schedule and the
//! `period-close-worker` function's SQS batches, translated into calls of the [`Closer`]: a scheduler event starts a close, an
//! SQS batch of [`CloseMessage`]s is handled message by message with a partial batch response
//! (`ReportBatchItemFailures`) naming only the messages to retry.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use kopek_domain::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use kopek_services::close::{CloseError, CloseMessage, Closer, Trigger, scheduled_period};

pub mod poller;

/// The input the schedule in `infra/template.yaml` sends (or a hand-written event with an
/// explicit `period`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledClose {
    /// Close this period; when absent, the month before `scheduled_time`.
    #[serde(default)]
    pub period: Option<BillingPeriod>,
    /// EventBridge Scheduler's `<aws.scheduler.scheduled-time>`.
    #[serde(default)]
    pub scheduled_time: Option<DateTime<Utc>>,
    /// The schedule's time zone (the provider's calendar).
    pub time_zone: String,
}

/// What a scheduled start answers (logged by Lambda, read by `cargo lambda invoke`).
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleResponse {
    pub period: BillingPeriod,
    pub status: String,
    pub started: bool,
}

/// One scheduler invocation: starts (or, when a duplicated trigger finds it started,
/// resumes) the close of the period.
pub async fn handle_schedule(
    closer: &Closer,
    event: ScheduledClose,
) -> Result<ScheduleResponse, CloseError> {
    let period = match (event.period, event.scheduled_time) {
        (Some(period), _) => period,
        (None, Some(at)) => scheduled_period(at, &event.time_zone, closer.calendar())?,
        (None, None) => scheduled_period(closer.now(), &event.time_zone, closer.calendar())?,
    };
    let started = kopek_services::audit::system(
        "period-close",
        "close.start",
        closer.start(period, Trigger::Schedule),
    )
    .await?;
    Ok(ScheduleResponse {
        period,
        status: started.period.status.as_str().to_owned(),
        started: started.started,
    })
}

/// One message's body, handled; `Err` means "retry it" (SQS redelivers it, and after the
/// queue's `maxReceiveCount` moves it to the dead-letter queue).
pub async fn handle_body(closer: &Closer, body: &str) -> Result<(), CloseError> {
    let message = parse_body(body)?;
    kopek_services::audit::system("period-close", "close.job", closer.handle(&message)).await
}

/// One message's body, read; `Err` when it is no close message (retried, as a failed one).
pub fn parse_body(body: &str) -> Result<CloseMessage, CloseError> {
    serde_json::from_str(body).map_err(|e| CloseError::Invalid {
        field: "message".into(),
        reason: format!("not a close message: {e}"),
    })
}

/// One invocation of the worker: every message of the batch, one after another.
pub async fn handle_batch(closer: &Closer, event: SqsEvent) -> SqsBatchResponse {
    let mut failed = Vec::new();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        if let Err(e) = handle_body(closer, record.body.as_deref().unwrap_or_default()).await {
            tracing::warn!(message = %id, error = %e, transient = e.is_transient(), "close message failed");
            failed.push(id);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed);
    response
}
