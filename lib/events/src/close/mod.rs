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

/// One message's body, read; `Err` when it is no close message (retried, as a failed one).
pub fn parse_body(body: &str) -> Result<CloseMessage, CloseError> {
    serde_json::from_str(body).map_err(|e| CloseError::Invalid {
        field: "message".into(),
        reason: format!("not a close message: {e}"),
    })
}

/// What one batch of close messages came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome<'a> {
    /// The ids (or receipts) of the messages to retry.
    pub failed: Vec<&'a str>,
    pub plan: u64,
    pub customer: u64,
    /// `number` messages handled: invoices numbered (or found issued).
    pub number: u64,
}

/// One batch, as the worker gets it from either of its queues (`CloseQueue`, or the FIFO
/// `NumberQueue`): `plan` and `customer` messages one after another, every `number` message
/// of the batch together as one block (`Closer::number_block`, transactions of up to ten
/// invoices each). `messages` are (id, body) pairs.
pub async fn handle_messages<'a>(
    closer: &Closer,
    messages: Vec<(&'a str, &'a str)>,
) -> BatchOutcome<'a> {
    let mut outcome = BatchOutcome::default();
    let mut block = Vec::new();
    let mut block_ids = Vec::new();
    let mut customers = Vec::new();
    let mut customer_ids = Vec::new();
    for (id, body) in messages {
        match parse_body(body) {
            Ok(CloseMessage::Number(ready)) => {
                block.push(*ready);
                block_ids.push(id);
            }
            Ok(CloseMessage::Customer { period, org }) => {
                customers.push((period, org));
                customer_ids.push(id);
            }
            Ok(plan) => {
                let handled = kopek_services::audit::system(
                    "period-close",
                    "close.job",
                    closer.handle(&plan),
                )
                .await;
                match handled {
                    Ok(()) => outcome.plan += 1,
                    Err(e) => {
                        tracing::warn!(message = %id, error = %e, transient = e.is_transient(), "planning message failed");
                        outcome.failed.push(id);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(message = %id, error = %e, "not a close message");
                outcome.failed.push(id);
            }
        }
    }
    if !customers.is_empty() {
        // One audited action for the batch's customers: composed side by side, their
        // invoices queued together.
        let closed = kopek_services::audit::system(
            "period-close",
            "close.job",
            Box::pin(closer.close_customers(&customers)),
        )
        .await;
        for (id, result) in customer_ids.into_iter().zip(closed) {
            match result {
                Ok(_) => outcome.customer += 1,
                Err(e) => {
                    tracing::warn!(message = %id, error = %e, transient = e.is_transient(), "close message failed");
                    outcome.failed.push(id);
                }
            }
        }
    }
    if !block.is_empty() {
        let count = block.len() as u64;
        match kopek_services::audit::system(
            "period-close",
            "close.number",
            Box::pin(closer.number_block(block)),
        )
        .await
        {
            Ok(_) => outcome.number += count,
            Err(e) => {
                // The whole block again: in a FIFO group nothing after a failed message may
                // be taken out, and the block's invoices are issued together or not at all.
                tracing::warn!(messages = count, error = %e, transient = e.is_transient(), "numbering block failed");
                outcome.failed.extend(block_ids);
            }
        }
    }
    outcome
}

/// One invocation of the worker: [`handle_messages`] over the batch's records.
pub async fn handle_batch(closer: &Closer, event: SqsEvent) -> SqsBatchResponse {
    let records: Vec<(String, String)> = event
        .records
        .into_iter()
        .map(|r| (r.message_id.unwrap_or_default(), r.body.unwrap_or_default()))
        .collect();
    let messages = records
        .iter()
        .map(|(id, body)| (id.as_str(), body.as_str()))
        .collect();
    let outcome = handle_messages(closer, messages).await;
    let mut response = SqsBatchResponse::default();
    response.set_failures(outcome.failed);
    response
}
