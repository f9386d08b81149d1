//! The bank statements' events: the `bank-import` function's SQS batches of `BankQueue`
//! (each message one [`BankJob`]: a chunk of an uploaded statement's payments) handed to
//! [`Bank::handle`]. A failed message is named in the partial batch response; SQS redelivers
//! it (its finished lines are found done) and, after `maxReceiveCount`, moves it to the
//! dead-letter queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::dynamo::StoreError;
use kopek_aws::queue::Queue;
use kopek_services::Error;
use kopek_services::bank::{Bank, BankJob, ChunkDone};

use crate::poll::Drained;

/// One message's job.
pub fn parse_body(body: &str) -> Result<BankJob, Error> {
    serde_json::from_str(body)
        .map_err(|e| Error::invalid("message", format!("not a bank statement job: {e}")))
}

/// One message, handled; `Err` means "retry it".
pub async fn handle_body(bank: &Bank, body: &str) -> Result<ChunkDone, Error> {
    let job = parse_body(body)?;
    kopek_services::audit::system("bank-import", "statement.import", bank.handle(&job)).await
}

/// One invocation of `bank-import`: every message of the batch.
pub async fn handle_batch(bank: &Bank, event: SqsEvent) -> SqsBatchResponse {
    let mut failed = Vec::new();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        if let Err(e) = handle_body(bank, record.body.as_deref().unwrap_or_default()).await {
            tracing::warn!(message = %id, error = %e, transient = e.is_transient(), "bank statement chunk failed");
            failed.push(id);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed);
    response
}

/// The local stand-in for `BankQueue`'s event source mapping: handles chunks until the
/// queue holds none; counts the payments recorded.
pub async fn drain(
    bank: &Bank,
    queue: &Queue,
    retry_after_secs: i32,
    give_up_after_failures: Option<usize>,
) -> Result<Drained, StoreError> {
    crate::poll::drain(queue, retry_after_secs, give_up_after_failures, |body| {
        let body = body.to_owned();
        async move { handle_body(bank, &body).await.map(|done| done.recorded) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_one_chunk_of_an_import() {
        let job =
            parse_body(r#"{"import":"imp_01ARZ3NDEKTSV4RRFFQ69G5FAV","chunk":3}"#).expect("a job");
        assert_eq!(job.chunk, 3);
        for bad in [
            "",
            "{}",
            r#"{"import":"org_01ARZ3NDEKTSV4RRFFQ69G5FAV","chunk":0}"#,
            "[]",
        ] {
            let err = parse_body(bad).expect_err(bad);
            assert!(err.to_string().starts_with("message:"), "{bad}: {err}");
        }
    }
}
