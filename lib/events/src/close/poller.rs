//! The local stand-in for Lambda's SQS event source mapping on `CloseQueue`: receive, handle,
//! delete what succeeded. `cargo xtask up` and the tests drive closes with it.

use kopek_aws::dynamo::StoreError;

use kopek_services::close::Closer;

use super::handle_body;

/// What draining the queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub handled: usize,
    pub failed: usize,
}

/// Handles messages until the queue has been empty `empty_polls` times in a row; failed
/// messages become visible again after `retry_after_secs`.
pub async fn drain(
    closer: &Closer,
    empty_polls: usize,
    retry_after_secs: i32,
) -> Result<Drained, StoreError> {
    let mut drained = Drained::default();
    let mut empty = 0;
    while empty < empty_polls {
        let received = closer
            .queue()
            .receive(10, 1, Some(retry_after_secs))
            .await?;
        if received.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        let mut done = Vec::new();
        for message in &received {
            match handle_body(closer, &message.body).await {
                Ok(()) => {
                    drained.handled += 1;
                    done.push(message.receipt_handle.as_str());
                }
                Err(e) => {
                    drained.failed += 1;
                    tracing::warn!(error = %e, "close message failed; SQS will redeliver it");
                }
            }
        }
        closer.queue().delete(&done).await?;
    }
    Ok(drained)
}
