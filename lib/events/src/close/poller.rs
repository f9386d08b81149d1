//! The local stand-in for Lambda's SQS event source mappings on `CloseQueue` and the FIFO
//! `NumberQueue`: receive, handle ([`super::handle_messages`]), delete what succeeded. `cargo xtask up` and the tests drive closes with [`drain`]; the
//! benchmark runs several [`Poller`]s without long polling, counting what they did.

use std::ops::AddAssign;
use std::time::Duration;

use kopek_aws::dynamo::StoreError;

use kopek_aws::queue::Queue;
use kopek_services::close::Closer;

use super::handle_messages;
use crate::poll::{Stopping, Until};

/// What draining the queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub handled: usize,
    pub failed: usize,
}

/// Handles messages until both queues hold none, visible or in flight; a failed message is
/// received again once `retry_after_secs` have passed (its visibility timeout), as SQS
/// redelivers it to the worker in AWS.
///
/// No long polls: the local emulator serves one request at a time, and a long poll of an
/// empty queue would hold it — and every other caller of it — for the poll's whole wait.
pub async fn drain(closer: &Closer, retry_after_secs: i32) -> Result<Drained, StoreError> {
    let poller = Poller {
        wait_secs: 0,
        visibility_secs: Some(retry_after_secs),
        until: Until::QueueEmpty {
            pause: Duration::from_millis(50),
            max_pause: Duration::from_millis(500),
        },
    };
    Ok(poller.drain(closer).await?.into())
}

/// How one poller receives from `CloseQueue` and `NumberQueue` in turn (up to 10 messages at
/// a time, handled with [`super::handle_messages`]'s rules, those handled deleted) and when
/// it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poller {
    /// Long-poll wait for the first message, in seconds (0–20).
    pub wait_secs: i32,
    /// Overrides the queue's visibility timeout for received messages: how long until a
    /// failed one is received again.
    pub visibility_secs: Option<i32>,
    /// When it stops.
    pub until: Until,
}

/// What one poller (or, summed, several) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// `plan` messages handled.
    pub plan_messages: u64,
    /// `customer` messages handled.
    pub customer_messages: u64,
    /// `number` messages handled (invoices numbered in blocks).
    pub number_messages: u64,
    /// Messages that failed (each left for SQS to redeliver).
    pub failed: u64,
    /// SQS requests: receives, deletes (one `DeleteMessageBatch` per receive that handled
    /// something) and, under [`Until::QueueEmpty`], queue-depth reads.
    pub sqs_requests: u64,
}

impl Report {
    /// Messages handled, of either kind.
    pub fn handled(&self) -> u64 {
        self.plan_messages + self.customer_messages + self.number_messages
    }
}

impl AddAssign for Report {
    fn add_assign(&mut self, other: Report) {
        self.plan_messages += other.plan_messages;
        self.customer_messages += other.customer_messages;
        self.number_messages += other.number_messages;
        self.failed += other.failed;
        self.sqs_requests += other.sqs_requests;
    }
}

impl From<Report> for Drained {
    fn from(report: Report) -> Drained {
        Drained {
            handled: report.handled() as usize,
            failed: report.failed as usize,
        }
    }
}

impl Poller {
    /// Handles messages until [`Poller::until`] says the queue is drained.
    pub async fn drain(&self, closer: &Closer) -> Result<Report, StoreError> {
        self.drain_with(closer, |_| {}).await
    }

    /// As [`Poller::drain`], calling `handled` after each batch handled, with the report so
    /// far (for a progress line).
    pub async fn drain_with(
        &self,
        closer: &Closer,
        mut handled: impl FnMut(&Report),
    ) -> Result<Report, StoreError> {
        let mut report = Report::default();
        let mut stopping = Stopping::new(self.until);
        let queues: Vec<&Queue> = std::iter::once(closer.queue())
            .chain(closer.number_queue())
            .collect();
        while !stopping.done() {
            let mut received_any = false;
            for queue in &queues {
                let received = queue
                    .receive(10, self.wait_secs, self.visibility_secs)
                    .await?;
                report.sqs_requests += 1;
                if received.is_empty() {
                    continue;
                }
                received_any = true;
                let messages: Vec<(&str, &str)> = received
                    .iter()
                    .map(|m| (m.receipt_handle.as_str(), m.body.as_str()))
                    .collect();
                let outcome = handle_messages(closer, messages).await;
                report.plan_messages += outcome.plan;
                report.customer_messages += outcome.customer;
                report.number_messages += outcome.number;
                report.failed += outcome.failed.len() as u64;
                let done: Vec<&str> = received
                    .iter()
                    .map(|m| m.receipt_handle.as_str())
                    .filter(|r| !outcome.failed.contains(r))
                    .collect();
                if !done.is_empty() {
                    queue.delete(&done).await?;
                    report.sqs_requests += 1;
                }
                handled(&report);
            }
            if received_any {
                stopping.received();
            } else {
                stopping
                    .received_nothing(&queues, &mut report.sqs_requests)
                    .await?;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_add_up_and_become_what_drain_returns() {
        let mut total = Report {
            plan_messages: 1,
            customer_messages: 3,
            number_messages: 0,
            failed: 1,
            sqs_requests: 7,
        };
        total += Report {
            plan_messages: 0,
            customer_messages: 2,
            number_messages: 2,
            failed: 0,
            sqs_requests: 4,
        };
        assert_eq!(total.handled(), 8);
        assert_eq!(total.sqs_requests, 11);
        assert_eq!(
            Drained::from(total),
            Drained {
                handled: 8,
                failed: 1
            }
        );
    }
}
