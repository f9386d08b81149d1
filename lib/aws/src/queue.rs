//! The SQS queues of the template (`UsageQueue`, `CloseQueue`): sending in batches,
//! receiving and deleting (the local stand-in for Lambda's event source mapping).
//!
//! SQS limits enforced here, not left to the service (the emulator enforces fewer): at most
//! [`MAX_BATCH_ENTRIES`] messages per `SendMessageBatch`, at most [`MAX_MESSAGE_BYTES`] per
//! message and per batch. Events are packed as JSON arrays into as few messages as fit.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::dynamo::StoreError;

/// Messages per `SendMessageBatch`.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Bytes per message, and per batch in total (SQS's 256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// How often entries SQS failed are sent again before giving up.
const ATTEMPTS: usize = 3;

/// A queue and a client for it.
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    url: String,
    /// Faults injected into sends by tests ([`crate::faults`]); none by default.
    #[cfg(feature = "faults")]
    faults: crate::faults::FaultHooks,
}

/// A message of a FIFO queue: its body, its group (delivered in order within it, one batch
/// of a group at a time) and its deduplication id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoMessage {
    pub body: String,
    pub group: String,
    pub dedup: String,
}

/// A message on its way: its body, and its group and deduplication id on a FIFO queue.
struct Outgoing<'a> {
    body: &'a str,
    fifo: Option<&'a FifoMessage>,
}

/// What [`Queue::send_events`] sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub messages: usize,
    pub requests: usize,
}

impl Queue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
            #[cfg(feature = "faults")]
            faults: crate::faults::FaultHooks::default(),
        }
    }

    /// The same queue, failing sends as `faults` says (tests; shared with the store's).
    #[cfg(feature = "faults")]
    pub fn with_faults(mut self, faults: std::sync::Arc<crate::faults::Faults>) -> Self {
        self.faults = crate::faults::FaultHooks::new(faults);
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `events` (each one event's JSON) packed into messages of JSON arrays.
    pub async fn send_events(&self, events: &[String]) -> Result<Sent, StoreError> {
        self.send_messages(&pack(events)?, 0).await
    }

    /// Sends each of `bodies` as one message (each at most [`MAX_MESSAGE_BYTES`]), in batches,
    /// invisible for `delay_secs` (0–900) after it is sent.
    pub async fn send_messages(
        &self,
        bodies: &[String],
        delay_secs: i32,
    ) -> Result<Sent, StoreError> {
        let outgoing: Vec<Outgoing> = bodies
            .iter()
            .map(|body| Outgoing { body, fifo: None })
            .collect();
        self.send_outgoing(&outgoing, Some(delay_secs.clamp(0, 900)))
            .await
    }

    /// Sends `messages` to a FIFO queue: in order within each group, each dropped by SQS if
    /// its deduplication id was sent in the last five minutes.
    pub async fn send_fifo(&self, messages: &[FifoMessage]) -> Result<Sent, StoreError> {
        let outgoing: Vec<Outgoing> = messages
            .iter()
            .map(|m| Outgoing {
                body: &m.body,
                fifo: Some(m),
            })
            .collect();
        self.send_outgoing(&outgoing, None).await
    }

    async fn send_outgoing(
        &self,
        outgoing: &[Outgoing<'_>],
        delay_secs: Option<i32>,
    ) -> Result<Sent, StoreError> {
        if let Some(big) = outgoing.iter().find(|o| o.body.len() > MAX_MESSAGE_BYTES) {
            return Err(StoreError::Unexpected(format!(
                "a message of {} bytes is over the SQS limit",
                big.body.len()
            )));
        }
        let mut sent = Sent::default();
        for batch in batches_by(outgoing, |o| o.body.len()) {
            self.send_batch(batch, delay_secs).await?;
            sent.requests += 1;
            sent.messages += batch.len();
        }
        Ok(sent)
    }

    async fn send_batch(
        &self,
        batch: &[Outgoing<'_>],
        delay_secs: Option<i32>,
    ) -> Result<(), StoreError> {
        let mut pending: Vec<(String, &Outgoing)> = batch
            .iter()
            .enumerate()
            .map(|(i, o)| (i.to_string(), o))
            .collect();
        for _ in 0..ATTEMPTS {
            let entries = pending
                .iter()
                .map(|(id, o)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(o.body)
                        .set_delay_seconds(delay_secs)
                        .set_message_group_id(o.fifo.map(|f| f.group.clone()))
                        .set_message_deduplication_id(o.fifo.map(|f| f.dedup.clone()))
                        .build()
                        .map_err(|e| StoreError::Unexpected(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            #[cfg(feature = "faults")]
            let write = self.faults.before_write()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs_error)?;
            #[cfg(feature = "faults")]
            self.faults.after_write(write)?;
            let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
            if let Some(f) = out.failed().iter().find(|f| f.sender_fault()) {
                return Err(StoreError::Unexpected(format!(
                    "the queue refused a message: {}",
                    f.message().unwrap_or(f.code())
                )));
            }
            pending.retain(|(id, _)| failed.contains(&id.as_str()));
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Transient(format!(
            "{} messages could not be queued",
            pending.len()
        )))
    }
}

/// A message received from a queue.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// How many times SQS has delivered it (1 the first time).
    pub receive_count: u32,
}

impl Queue {
    /// Receives up to `max` (1–10) messages, waiting up to `wait_secs` for the first (long
    /// polling); `visibility_secs` overrides the queue's visibility timeout.
    pub async fn receive(
        &self,
        max: i32,
        wait_secs: i32,
        visibility_secs: Option<i32>,
    ) -> Result<Vec<Received>, StoreError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH_ENTRIES as i32))
            .wait_time_seconds(wait_secs.clamp(0, 20))
            .set_visibility_timeout(visibility_secs)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await
            .map_err(sqs_error)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| Received {
                receive_count: m
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect())
    }

    /// Deletes received messages (at most 10) by their receipt handles.
    pub async fn delete(&self, receipts: &[&str]) -> Result<(), StoreError> {
        if receipts.is_empty() {
            return Ok(());
        }
        let entries = receipts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*r)
                    .build()
                    .map_err(|e| StoreError::Unexpected(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(sqs_error)?;
        if !out.failed().is_empty() {
            return Err(StoreError::Transient(format!(
                "{} messages could not be deleted",
                out.failed().len()
            )));
        }
        Ok(())
    }

    /// The approximate number of messages waiting and in flight.
    pub async fn depth(&self) -> Result<(u64, u64), StoreError> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(sqs_error)?;
        let get = |name: A| -> u64 {
            out.attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            get(A::ApproximateNumberOfMessages),
            get(A::ApproximateNumberOfMessagesNotVisible),
        ))
    }
}

/// Packs event JSONs into JSON-array messages of at most [`MAX_MESSAGE_BYTES`].
pub fn pack(events: &[String]) -> Result<Vec<String>, StoreError> {
    let mut messages = Vec::new();
    let mut current = String::from("[");
    for event in events {
        if event.len() + 2 > MAX_MESSAGE_BYTES {
            return Err(StoreError::Unexpected(format!(
                "an event of {} bytes does not fit a message",
                event.len()
            )));
        }
        if current.len() + event.len() + 2 > MAX_MESSAGE_BYTES {
            current.push(']');
            messages.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(event);
    }
    if current.len() > 1 {
        current.push(']');
        messages.push(current);
    }
    Ok(messages)
}

/// Groups messages into batches of at most 10 entries and 256 KiB in total.
pub fn batches(messages: &[String]) -> Vec<&[String]> {
    batches_by(messages, String::len)
}

/// Groups `messages` (each `len(m)` bytes) into batches of at most 10 entries and 256 KiB.
fn batches_by<T>(messages: &[T], len: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, message) in messages.iter().enumerate() {
        if i > start && (i - start == MAX_BATCH_ENTRIES || bytes + len(message) > MAX_MESSAGE_BYTES)
        {
            out.push(&messages[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += len(message);
    }
    if start < messages.len() {
        out.push(&messages[start..]);
    }
    out
}

/// Every SQS call failure: transient, as the caller can only retry it (a refused message is
/// reported per entry, not here).
fn sqs_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Transient(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_packed_into_arrays_that_fit_a_message() {
        let event = format!("{{\"id\":\"{}\"}}", "x".repeat(1000));
        let events = vec![event.clone(); 1000];
        let messages = pack(&events).unwrap();
        assert!(messages.iter().all(|m| m.len() <= MAX_MESSAGE_BYTES));
        let parsed: usize = messages
            .iter()
            .map(|m| {
                serde_json::from_str::<Vec<serde_json::Value>>(m)
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(parsed, 1000);
        assert!(messages.len() >= 4, "{} messages", messages.len());
        assert!(pack(&["x".repeat(MAX_MESSAGE_BYTES)]).is_err());
        assert!(pack(&[]).unwrap().is_empty());
    }

    #[test]
    fn batches_keep_both_limits() {
        let small = vec!["[1]".to_owned(); 25];
        let groups = batches(&small);
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        let big = vec!["y".repeat(100 * 1024); 5];
        let groups = batches(&big);
        assert!(
            groups
                .iter()
                .all(|g| g.iter().map(String::len).sum::<usize>() <= MAX_MESSAGE_BYTES)
        );
        assert_eq!(groups.iter().map(|g| g.len()).sum::<usize>(), 5);
    }
}
