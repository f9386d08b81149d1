//! Fault injection for tests (cargo feature `faults`, which no function enables: production
//! builds do not contain this module).
//!
//! One [`Faults`] is shared by a [`Store`](crate::dynamo::Store) and the
//! [`Queue`](crate::queue::Queue)s of a test (`with_faults`): every write either sends — each
//! conditional write or transaction of the store, each `SendMessageBatch` of a queue — is
//! counted, and the n-th from now fails once, as a crash or a timeout would:
//! - [`Faults::fail_write`]: **before** it is sent (nothing was written);
//! - [`Faults::fail_after_write`]: **after** it was sent and succeeded (it was written, but
//!   the caller is told it failed, as when a Lambda times out before it hears the answer).
//!
//! Both fail with [`StoreError::Transient`], which callers treat as "try again later": an SQS
//! message is then redelivered, as in AWS.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::dynamo::StoreError;

/// Injected write failures (see the module docs).
#[derive(Debug, Default)]
pub struct Faults {
    writes: AtomicU64,
    /// The write (counted from the first) that fails; 0 for none.
    fail_at: AtomicU64,
    /// Whether it fails after it was sent rather than before.
    after: AtomicBool,
    /// Whether an armed failure fired.
    fired: AtomicBool,
}

impl Faults {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The `n`-th write from now (1-based) fails before it is sent; once. `0` fails none.
    pub fn fail_write(&self, n: u64) {
        self.arm(n, false);
    }

    /// The `n`-th write from now (1-based) is sent, then fails as if its answer was lost;
    /// once. `0` fails none.
    pub fn fail_after_write(&self, n: u64) {
        self.arm(n, true);
    }

    fn arm(&self, n: u64, after: bool) {
        let at = match n {
            0 => 0,
            n => self.writes.load(Ordering::SeqCst) + n,
        };
        self.after.store(after, Ordering::SeqCst);
        self.fired.store(false, Ordering::SeqCst);
        self.fail_at.store(at, Ordering::SeqCst);
    }

    /// No write fails any more.
    pub fn clear(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
    }

    /// Whether the failure armed last has fired (its write was reached).
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Writes attempted so far (the failed one included).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Counts a write about to be sent; its number, or the injected failure.
    pub(crate) fn before_write(&self) -> Result<u64, StoreError> {
        let this = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.after.load(Ordering::SeqCst) && self.fires(this) {
            return Err(StoreError::Transient("injected fault".into()));
        }
        Ok(this)
    }

    /// After write `this` was sent and succeeded: the injected failure, if it is the one.
    pub(crate) fn after_write(&self, this: u64) -> Result<(), StoreError> {
        if self.after.load(Ordering::SeqCst) && self.fires(this) {
            return Err(StoreError::Transient(
                "injected fault after the write".into(),
            ));
        }
        Ok(())
    }

    fn fires(&self, this: u64) -> bool {
        let fires = self
            .fail_at
            .compare_exchange(this, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if fires {
            self.fired.store(true, Ordering::SeqCst);
        }
        fires
    }
}

/// A store's or queue's handle on the faults of its test, or none: the write hooks.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultHooks(Option<Arc<Faults>>);

impl FaultHooks {
    pub(crate) fn new(faults: Arc<Faults>) -> Self {
        Self(Some(faults))
    }

    pub(crate) fn before_write(&self) -> Result<u64, StoreError> {
        self.0.as_ref().map_or(Ok(0), |f| f.before_write())
    }

    pub(crate) fn after_write(&self, this: u64) -> Result<(), StoreError> {
        self.0.as_ref().map_or(Ok(()), |f| f.after_write(this))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fail_the_nth_write_once_and_count_every_write() {
        let faults = Faults::new();
        assert!(faults.before_write().is_ok());
        assert_eq!(faults.writes(), 1);
        faults.fail_write(2);
        assert!(faults.before_write().is_ok());
        assert!(!faults.fired());
        match faults.before_write() {
            Err(StoreError::Transient(m)) => assert_eq!(m, "injected fault"),
            other => panic!("expected the injected fault, got {other:?}"),
        }
        assert!(faults.fired());
        assert!(faults.before_write().is_ok(), "a fault fails once");
        assert_eq!(faults.writes(), 4);
        faults.fail_write(1);
        faults.clear();
        assert!(faults.before_write().is_ok());
        faults.fail_write(0);
        assert!(faults.before_write().is_ok());
    }

    #[test]
    fn a_fault_after_the_write_lets_it_through_and_then_fails_it() {
        let faults = Faults::new();
        faults.fail_after_write(2);
        let first = faults.before_write().expect("the first write is sent");
        assert!(faults.after_write(first).is_ok());
        let second = faults.before_write().expect("the second write is sent too");
        assert_eq!(second, 2);
        match faults.after_write(second) {
            Err(StoreError::Transient(m)) => assert_eq!(m, "injected fault after the write"),
            other => panic!("expected the injected fault, got {other:?}"),
        }
        let third = faults.before_write().expect("once only");
        assert!(faults.after_write(third).is_ok());
        assert_eq!(faults.writes(), 3);
    }
}
