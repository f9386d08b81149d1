//! When the local pollers ([`crate::close::poller`], [`crate::usage::poller`]) stop draining
//! their queue.

use std::future::Future;
use std::time::Duration;

use kopek_aws::dynamo::StoreError;
use kopek_aws::queue::Queue;

/// When a poller stops draining its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// After this many receives in a row found nothing (with long polling, each of them waited
    /// for a message first).
    EmptyReceives(usize),
    /// When the queue holds nothing, visible or in flight: after each empty receive the
    /// poller reads the queue's depth (one more SQS request). While messages are in flight —
    /// held by another poller, or failed and waiting to be visible again — it waits `pause`
    /// before receiving again, doubling the wait after each empty receive up to `max_pause`
    /// (back to `pause` once it receives something). For pollers without long polling, such
    /// as several sharing the emulator, which serves one request at a time.
    QueueEmpty {
        pause: Duration,
        max_pause: Duration,
    },
}

/// A poller's progress towards its [`Until`].
#[derive(Debug)]
pub(crate) struct Stopping {
    until: Until,
    empty_receives: usize,
    pause: Duration,
    queue_empty: bool,
}

impl Stopping {
    pub(crate) fn new(until: Until) -> Self {
        let pause = match until {
            Until::QueueEmpty { pause, .. } => pause,
            Until::EmptyReceives(_) => Duration::ZERO,
        };
        Self {
            until,
            empty_receives: 0,
            pause,
            queue_empty: false,
        }
    }

    /// Whether the poller is done (asked before every receive).
    pub(crate) fn done(&self) -> bool {
        match self.until {
            Until::EmptyReceives(n) => self.empty_receives >= n,
            Until::QueueEmpty { .. } => self.queue_empty,
        }
    }

    /// After a receive that got messages.
    pub(crate) fn received(&mut self) {
        self.empty_receives = 0;
        if let Until::QueueEmpty { pause, .. } = self.until {
            self.pause = pause;
        }
    }

    /// After a receive that got nothing: reads `queue`'s depth where the rule says so
    /// (counted in `sqs_requests`) and waits before the next receive where it is not done.
    pub(crate) async fn received_nothing(
        &mut self,
        queues: &[&Queue],
        sqs_requests: &mut u64,
    ) -> Result<(), StoreError> {
        self.empty_receives += 1;
        if let Until::QueueEmpty { max_pause, .. } = self.until {
            let mut empty = true;
            for queue in queues {
                *sqs_requests += 1;
                empty &= queue.depth().await? == (0, 0);
            }
            if empty {
                self.queue_empty = true;
                return Ok(());
            }
            tokio::time::sleep(self.pause).await;
            self.pause = (self.pause * 2).min(max_pause);
        }
        Ok(())
    }
}

/// What [`drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Messages handled and deleted.
    pub handled: usize,
    /// Messages that failed (left for SQS to redeliver).
    pub failed: usize,
    /// What the handler counted (documents filed, payments recorded).
    pub counted: usize,
}

/// The local stand-in for an SQS event source mapping without long polling: hands each
/// message's body to `handle` until the queue holds none (a failed message is received again
/// after `retry_after_secs`), or, with `give_up_after_failures`, stops once that many
/// failures were seen. Handled messages are deleted; `handle` answers what to count.
pub async fn drain<'a, F, Fut, E>(
    queue: &Queue,
    retry_after_secs: i32,
    give_up_after_failures: Option<usize>,
    handle: F,
) -> Result<Drained, StoreError>
where
    F: Fn(&str) -> Fut,
    Fut: Future<Output = Result<usize, E>> + 'a,
    E: std::fmt::Display,
{
    let mut stopping = Stopping::new(Until::QueueEmpty {
        pause: Duration::from_millis(50),
        max_pause: Duration::from_millis(500),
    });
    let mut drained = Drained::default();
    let mut requests = 0;
    while !stopping.done() {
        if give_up_after_failures.is_some_and(|n| drained.failed >= n) {
            break;
        }
        let received = queue.receive(10, 0, Some(retry_after_secs)).await?;
        if received.is_empty() {
            stopping.received_nothing(&[queue], &mut requests).await?;
            continue;
        }
        stopping.received();
        let mut done = Vec::new();
        for message in &received {
            match handle(&message.body).await {
                Ok(counted) => {
                    drained.handled += 1;
                    drained.counted += counted;
                    done.push(message.receipt_handle.as_str());
                }
                Err(e) => {
                    drained.failed += 1;
                    tracing::warn!(error = %e, "a message failed; SQS will redeliver it");
                }
            }
        }
        queue.delete(&done).await?;
    }
    Ok(drained)
}
