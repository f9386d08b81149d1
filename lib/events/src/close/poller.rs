//! The local stand-in for Lambda's SQS event source mapping on `CloseQueue`: receive, handle,
//! delete what succeeded. `cargo xtask up` and the tests drive closes with [`drain`]; the
//! benchmark runs several [`Poller`]s without long polling, counting what they did.

use std::ops::AddAssign;
use std::time::Duration;

use kopek_aws::dynamo::StoreError;

use kopek_services::close::{CloseMessage, Closer};

use super::parse_body;
use crate::poll::{Stopping, Until};

/// What draining the queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub handled: usize,
    pub failed: usize,
}

/// Handles messages until the queue holds none, visible or in flight; a failed message is
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

/// How one poller receives from `CloseQueue` (up to 10 messages at a time, each handled with
/// [`super::handle_body`]'s rules, those handled deleted) and when it stops.
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
    /// Messages that failed (each left for SQS to redeliver).
    pub failed: u64,
    /// SQS requests: receives, deletes (one `DeleteMessageBatch` per receive that handled
    /// something) and, under [`Until::QueueEmpty`], queue-depth reads.
    pub sqs_requests: u64,
}

impl Report {
    /// Messages handled, of either kind.
    pub fn handled(&self) -> u64 {
        self.plan_messages + self.customer_messages
    }
}

impl AddAssign for Report {
    fn add_assign(&mut self, other: Report) {
        self.plan_messages += other.plan_messages;
        self.customer_messages += other.customer_messages;
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
        self.drain_with(closer, |_, _| {}).await
    }

    /// As [`Poller::drain`], calling `handled` after each message handled, with the report so
    /// far (for a progress line).
    pub async fn drain_with(
        &self,
        closer: &Closer,
        mut handled: impl FnMut(&CloseMessage, &Report),
    ) -> Result<Report, StoreError> {
        let mut report = Report::default();
        let mut stopping = Stopping::new(self.until);
        while !stopping.done() {
            let received = closer
                .queue()
                .receive(10, self.wait_secs, self.visibility_secs)
                .await?;
            report.sqs_requests += 1;
            if received.is_empty() {
                stopping
                    .received_nothing(closer.queue(), &mut report.sqs_requests)
                    .await?;
                continue;
            }
            stopping.received();
            let mut done = Vec::new();
            for message in &received {
                let outcome = match parse_body(&message.body) {
                    Ok(parsed) => closer.handle(&parsed).await.map(|()| parsed),
                    Err(e) => Err(e),
                };
                let parsed = match outcome {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        report.failed += 1;
                        tracing::warn!(error = %e, "close message failed; SQS will redeliver it");
                        continue;
                    }
                };
                match parsed {
                    CloseMessage::Plan { .. } => report.plan_messages += 1,
                    CloseMessage::Customer { .. } => report.customer_messages += 1,
                }
                done.push(message.receipt_handle.as_str());
                handled(&parsed, &report);
            }
            if !done.is_empty() {
                closer.queue().delete(&done).await?;
                report.sqs_requests += 1;
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
            failed: 1,
            sqs_requests: 7,
        };
        total += Report {
            plan_messages: 0,
            customer_messages: 2,
            failed: 0,
            sqs_requests: 4,
        };
        assert_eq!(total.handled(), 6);
        assert_eq!(total.sqs_requests, 11);
        assert_eq!(
            Drained::from(total),
            Drained {
                handled: 6,
                failed: 1
            }
        );
    }
}
