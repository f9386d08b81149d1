//! Webhook deliveries: the `webhook-delivery` function's SQS batches of `WebhookQueue` (each
//! message one attempt of one delivery) handed to [`Webhooks::deliver`], concurrently within
//! a batch so that slow receivers do not add up; and the local drain that stands in for the
//! event source mapping. A message whose attempt could not be recorded is named in the
//! partial batch response and tried again by SQS (after `maxReceiveCount`, the dead-letter
//! queue); a failed *attempt* is not a failed message — its retry is queued by the service.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::dynamo::StoreError;
use kopek_aws::queue::Queue;
use kopek_services::Error;
use kopek_services::webhooks::{Delivered, DeliveryMessage, Webhooks};

/// A message's delivery and attempt.
pub fn parse_body(body: &str) -> Result<DeliveryMessage, Error> {
    serde_json::from_str(body)
        .map_err(|e| Error::invalid("message", format!("not a delivery message: {e}")))
}

/// One message: its attempt made and recorded.
pub async fn handle_body(webhooks: &Webhooks, body: &str) -> Result<Delivered, Error> {
    webhooks.deliver(&parse_body(body)?).await
}

/// One invocation of `webhook-delivery`: every message of the batch, at once.
pub async fn handle_batch(webhooks: &Webhooks, event: SqsEvent) -> SqsBatchResponse {
    let outcomes = futures::future::join_all(event.records.into_iter().map(|record| async move {
        let id = record.message_id.unwrap_or_default();
        let outcome = handle_body(webhooks, record.body.as_deref().unwrap_or_default()).await;
        (id, outcome)
    }))
    .await;
    let mut failed = Vec::new();
    for (id, outcome) in outcomes {
        match outcome {
            Ok(done) => tracing::debug!(message = %id, ?done, "delivery handled"),
            Err(e) => {
                tracing::warn!(message = %id, error = %e, "delivery not recorded; SQS retries it");
                failed.push(id);
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed);
    response
}

/// The local stand-in for the event source mapping of `WebhookQueue`: handles messages until
/// the queue holds none visible or in flight (delayed retries stay for a later drain); how
/// many attempts were made.
pub async fn drain(webhooks: &Webhooks, queue: &Queue) -> Result<usize, StoreError> {
    let drained = crate::poll::drain(queue, 5, None, |body| {
        let body = body.to_owned();
        async move {
            handle_body(webhooks, &body)
                .await
                .map(|d| usize::from(matches!(d, Delivered::Attempted { .. })))
        }
    })
    .await?;
    Ok(drained.counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_a_delivery_and_its_attempt() {
        let body = r#"{"endpoint":"whk_01ARZ3NDEKTSV4RRFFQ69G5FAV","delivery":"dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV","attempt":2}"#;
        assert_eq!(parse_body(body).expect("a message").attempt, 2);
        for bad in [
            "",
            "{}",
            r#"{"endpoint":"org_1","delivery":"dlv_1","attempt":1}"#,
        ] {
            let err = parse_body(bad).expect_err(bad);
            assert!(err.to_string().starts_with("message:"), "{bad}: {err}");
        }
    }
}
