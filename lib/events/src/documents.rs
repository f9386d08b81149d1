//! The documents' events: the `documents` function's SQS batches of `DocumentsQueue` (each
//! message one [`DocumentJob`] or an array of them, as the outbox relay packs them) handed to
//! [`Documents::generate`], and the `outbox-relay` function's schedule handed to
//! [`Outbox::relay`]. A message whose jobs did not all succeed is named in the partial batch
//! response; SQS redelivers it (its finished jobs find their documents filed) and, after the
//! queue's `maxReceiveCount`, moves it to the dead-letter queue, from where it is redriven
//! once its cause (missing requisites, say) is fixed.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::dynamo::StoreError;
use kopek_aws::queue::Queue;
use kopek_services::Error;
use kopek_services::documents::{DocumentJob, Documents, Generated};
use kopek_services::outbox::{Outbox, Relayed};
use std::time::{Duration, Instant};

use kopek_services::webhooks::Webhooks;
use serde::{Deserialize, Serialize};

/// Relay runs per scheduled invocation (each reads up to 100 events).
pub const RELAY_RUNS: usize = 20;

/// The jobs of one message body: one job or an array of them.
pub fn parse_body(body: &str) -> Result<Vec<DocumentJob>, Error> {
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| Error::invalid("message", format!("not JSON: {e}")))?;
    let jobs = match value {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    jobs.into_iter()
        .map(|job| {
            serde_json::from_value(job)
                .map_err(|e| Error::invalid("message", format!("not a document job: {e}")))
        })
        .collect()
}

/// One message: every job of it; `Err` (retry the message) when any failed.
pub async fn handle_body(documents: &Documents, body: &str) -> Result<Generated, Error> {
    let mut done = Generated::default();
    for job in parse_body(body)? {
        let one = documents.generate(&job).await?;
        done.filed.extend(one.filed);
        done.already.extend(one.already);
    }
    Ok(done)
}

/// One invocation of the documents function: every message of the batch.
pub async fn handle_batch(documents: &Documents, event: SqsEvent) -> SqsBatchResponse {
    let mut failed = Vec::new();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        match handle_body(documents, record.body.as_deref().unwrap_or_default()).await {
            Ok(done) => tracing::info!(
                message = %id,
                filed = done.filed.len(),
                already = done.already.len(),
                "documents filed"
            ),
            Err(e) => {
                tracing::warn!(message = %id, error = %e, transient = e.is_transient(), "document job failed");
                failed.push(id);
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed);
    response
}

/// What a scheduled relay answers (logged by Lambda, read by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RelayResponse {
    pub events: usize,
    pub document_jobs: usize,
    /// Events placed in the events feed, and webhook deliveries queued.
    pub feed_events: usize,
    pub deliveries: usize,
    /// Deliveries whose wait the sweeper ended.
    pub swept: usize,
}

/// The schedule's input: how long to keep relaying (`{"window_seconds": 50}` in the
/// template, so events wait about a second instead of up to a minute); 0 or absent — one
/// pass.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct RelayEvent {
    #[serde(default)]
    pub window_seconds: u64,
}

/// The longest window taken (the function's timeout is 60 s).
pub const MAX_RELAY_WINDOW: Duration = Duration::from_secs(55);

/// One scheduled invocation of `outbox-relay`: relays the outbox until it is empty and
/// sweeps waiting webhook deliveries; within a window, again every second.
pub async fn handle_relay(
    outbox: &Outbox,
    webhooks: &Webhooks,
    event: RelayEvent,
) -> Result<RelayResponse, Error> {
    let until = Instant::now() + Duration::from_secs(event.window_seconds).min(MAX_RELAY_WINDOW);
    let mut total = RelayResponse::default();
    loop {
        let Relayed {
            events,
            document_jobs,
            webhooks: dispatched,
        } = outbox.relay(RELAY_RUNS).await?;
        let swept = webhooks.sweep().await?;
        total.events += events;
        total.document_jobs += document_jobs;
        total.feed_events += dispatched.events;
        total.deliveries += dispatched.deliveries;
        total.swept += swept;
        if Instant::now() >= until {
            return Ok(total);
        }
        if events == 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// What draining the documents queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Messages handled and deleted.
    pub handled: usize,
    /// Messages that failed (left for SQS to redeliver).
    pub failed: usize,
    /// Documents filed now.
    pub filed: usize,
}

/// The local stand-in for the event source mapping of `DocumentsQueue`: handles messages
/// until the queue holds none (a failed one is received again after `retry_after_secs`), or,
/// with `give_up_after_failures`, stops once that many failures were seen.
pub async fn drain(
    documents: &Documents,
    queue: &Queue,
    retry_after_secs: i32,
    give_up_after_failures: Option<usize>,
) -> Result<Drained, StoreError> {
    let drained = crate::poll::drain(queue, retry_after_secs, give_up_after_failures, |body| {
        let body = body.to_owned();
        async move {
            handle_body(documents, &body)
                .await
                .map(|generated| generated.filed.len())
        }
    })
    .await?;
    Ok(Drained {
        handled: drained.handled,
        failed: drained.failed,
        filed: drained.counted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_one_job_or_an_array_of_them() {
        let job = r#"{"job":"invoice","org":"org_01ARZ3NDEKTSV4RRFFQ69G5FAV","invoice":"inv_01ARZ3NDEKTSV4RRFFQ69G5FAV"}"#;
        assert_eq!(parse_body(job).expect("one").len(), 1);
        assert_eq!(parse_body(&format!("[{job},{job}]")).expect("two").len(), 2);
        for bad in [
            "",
            "{}",
            r#"{"job":"invoice"}"#,
            r#"[{"job":"receipt"}]"#,
            "3",
        ] {
            let err = parse_body(bad).expect_err(bad);
            assert!(err.to_string().starts_with("message:"), "{bad}: {err}");
        }
    }
}
