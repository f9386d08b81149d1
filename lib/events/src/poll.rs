//! When the local pollers ([`crate::close::poller`], [`crate::usage::poller`]) stop draining
//! their queue.

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
        queue: &Queue,
        sqs_requests: &mut u64,
    ) -> Result<(), StoreError> {
        self.empty_receives += 1;
        if let Until::QueueEmpty { max_pause, .. } = self.until {
            *sqs_requests += 1;
            if queue.depth().await? == (0, 0) {
                self.queue_empty = true;
                return Ok(());
            }
            tokio::time::sleep(self.pause).await;
            self.pause = (self.pause * 2).min(max_pause);
        }
        Ok(())
    }
}
