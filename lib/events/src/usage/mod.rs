//! The edge between Lambda's SQS event and the [`Ingestor`]: the records of an [`SqsEvent`]
//! become [`Message`]s, and a [`BatchReport`] becomes the partial batch response
//! ([`SqsBatchResponse`], with `ReportBatchItemFailures` on the event source mapping) naming
//! only the messages to retry.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};

use kopek_services::usage::ingest::{BatchReport, Ingestor, Message};

pub mod poller;

/// The messages of an SQS event. A record without a body is read as an empty body (rejected
/// as malformed, never retried).
pub fn messages(event: SqsEvent) -> Vec<Message> {
    event
        .records
        .into_iter()
        .map(|record| Message {
            id: record.message_id.unwrap_or_default(),
            body: record.body.unwrap_or_default(),
        })
        .collect()
}

/// The partial batch response: the failed messages, by id.
pub fn response(report: &BatchReport) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.set_failures(report.failed.iter().cloned());
    response
}

/// One invocation of the `usage-ingest` function: ingests the batch received at `now`.
pub async fn handle(ingestor: &Ingestor, event: SqsEvent, now: DateTime<Utc>) -> SqsBatchResponse {
    let report = ingestor.ingest(&messages(event), now).await;
    log(&report);
    response(&report)
}

/// Logs what a batch (or a drained queue) came to, in one line.
pub fn log(report: &BatchReport) {
    tracing::info!(
        counted = report.counted,
        duplicates = report.duplicates,
        rejected = report.rejected,
        late = report.late,
        failed = report.failed.len(),
        "usage batch ingested"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_become_messages_and_failures_the_partial_batch_response() {
        let event: SqsEvent = serde_json::from_value(json!({"Records": [
            {"messageId": "m-1", "receiptHandle": "r-1", "body": "[{\"id\":\"e1\"}]",
             "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
             "eventSource": "aws:sqs", "awsRegion": "eu-central-1"},
            {"messageId": "m-2", "receiptHandle": "r-2"}
        ]}))
        .unwrap();
        let read = messages(event);
        assert_eq!(
            read.iter()
                .map(|m| (m.id.as_str(), m.body.as_str()))
                .collect::<Vec<_>>(),
            [("m-1", "[{\"id\":\"e1\"}]"), ("m-2", "")]
        );

        let report = BatchReport {
            failed: vec!["m-2".into()],
            counted: 1,
            ..BatchReport::default()
        };
        assert_eq!(
            serde_json::to_value(response(&report)).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
        );
        assert_eq!(
            serde_json::to_value(response(&BatchReport::default())).unwrap(),
            json!({"batchItemFailures": []})
        );
    }
}
