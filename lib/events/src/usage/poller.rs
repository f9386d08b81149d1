//! The local stand-in for Lambda's SQS event source mapping: receive a batch, ingest it,
//! delete what succeeded, leave what failed for SQS to redeliver (and, after the queue's
//! `maxReceiveCount`, to move to the dead-letter queue). `cargo xtask up` runs one in the
//! background; tests and benchmarks call [`Poller::poll_once`], [`Poller::drain`] or
//! [`Poller::drain_until`].

use std::future::Future;
use std::ops::AddAssign;
use std::time::Duration;

use kopek_aws::dynamo::StoreError;
use kopek_aws::queue::Queue;
use kopek_domain::clock::Clock;

use kopek_services::usage::ingest::{BatchReport, Ingestor, Message};

use crate::poll::{Stopping, Until};

/// Polls one queue into one ingestor.
#[derive(Debug, Clone)]
pub struct Poller {
    pub queue: Queue,
    pub ingestor: Ingestor,
    /// Long-poll wait for the first message, in seconds (0–20).
    pub wait_secs: i32,
    /// Overrides the queue's visibility timeout for received messages (tests use 0 or 1 to
    /// see redeliveries at once).
    pub visibility_secs: Option<i32>,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    pub received: usize,
    pub deleted: usize,
    pub batch: BatchReport,
}

/// What draining did: [`Poller::drain_until`] of one poller, or of several summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drained {
    /// Messages received (a redelivered one each time it is).
    pub messages: u64,
    /// SQS requests: receives, deletes (one `DeleteMessageBatch` per receive that ingested
    /// something) and, under [`Until::QueueEmpty`], queue-depth reads.
    pub sqs_requests: u64,
    /// The batches' reports, summed.
    pub batch: BatchReport,
}

impl AddAssign for Drained {
    fn add_assign(&mut self, other: Drained) {
        self.messages += other.messages;
        self.sqs_requests += other.sqs_requests;
        add_batch(&mut self.batch, other.batch);
    }
}

/// Adds `batch` to `total`.
fn add_batch(total: &mut BatchReport, batch: BatchReport) {
    total.counted += batch.counted;
    total.duplicates += batch.duplicates;
    total.rejected += batch.rejected;
    total.late += batch.late;
    total.failed.extend(batch.failed);
}

impl Poller {
    pub fn new(queue: Queue, ingestor: Ingestor) -> Self {
        Self {
            queue,
            ingestor,
            wait_secs: 1,
            visibility_secs: None,
        }
    }

    /// Receives up to 10 messages, ingests them as one batch and deletes those not failed.
    pub async fn poll_once(&self, clock: &dyn Clock) -> Result<PollReport, StoreError> {
        let received = self
            .queue
            .receive(10, self.wait_secs, self.visibility_secs)
            .await?;
        if received.is_empty() {
            return Ok(PollReport::default());
        }
        let messages: Vec<Message> = received
            .iter()
            .map(|r| Message {
                id: r.message_id.clone(),
                body: r.body.clone(),
            })
            .collect();
        let batch = self.ingestor.ingest(&messages, clock.now()).await;
        let done: Vec<&str> = received
            .iter()
            .filter(|r| !batch.failed.contains(&r.message_id))
            .map(|r| r.receipt_handle.as_str())
            .collect();
        self.queue.delete(&done).await?;
        Ok(PollReport {
            received: received.len(),
            deleted: done.len(),
            batch,
        })
    }

    /// Polls until the queue is empty: no message received `empty_polls` times in a row.
    pub async fn drain(
        &self,
        clock: &dyn Clock,
        empty_polls: usize,
    ) -> Result<BatchReport, StoreError> {
        let drained = self
            .drain_until(clock, Until::EmptyReceives(empty_polls))
            .await?;
        Ok(drained.batch)
    }

    /// Polls until `until` says the queue is drained; returns what the polls came to, with
    /// the SQS requests they took.
    pub async fn drain_until(
        &self,
        clock: &dyn Clock,
        until: Until,
    ) -> Result<Drained, StoreError> {
        let mut drained = Drained::default();
        let mut stopping = Stopping::new(until);
        while !stopping.done() {
            let report = self.poll_once(clock).await?;
            drained.sqs_requests += 1;
            if report.received == 0 {
                stopping
                    .received_nothing(&[&self.queue], &mut drained.sqs_requests)
                    .await?;
                continue;
            }
            stopping.received();
            drained.sqs_requests += u64::from(report.deleted > 0);
            drained.messages += report.received as u64;
            add_batch(&mut drained.batch, report.batch);
        }
        Ok(drained)
    }

    /// Polls until `shutdown` completes; errors are logged and polling goes on after a pause.
    pub async fn run(self, clock: std::sync::Arc<dyn Clock>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                result = self.poll_once(clock.as_ref()) => match result {
                    Ok(report) if report.received > 0 => tracing::info!(
                        received = report.received,
                        counted = report.batch.counted,
                        duplicates = report.batch.duplicates,
                        rejected = report.batch.rejected,
                        failed = report.batch.failed.len(),
                        "usage batch ingested"
                    ),
                    // Without long polling an empty queue would be asked again at once.
                    Ok(_) if self.wait_secs == 0 => tokio::time::sleep(Duration::from_secs(1)).await,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "usage poll failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
            }
        }
    }
}
