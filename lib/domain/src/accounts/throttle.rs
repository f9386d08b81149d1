//! Sign-in throttling as a pure policy: the limits, the windows and the refusal. The adapter
//! checks a limit in the same conditional write that counts an attempt, so attempts made in
//! parallel cannot all pass a count read before any of them was recorded.
//!
//! Failures are counted per account (normalized e-mail) and per client address in fixed
//! windows aligned to the Unix epoch, so every Lambda instance computes the same window (and
//! the same counter key) from the timestamp alone. **A lock ends with its window**, not a fixed
//! time after the last failure. Chosen because it bounds what matters, the guessing rate (at
//! most twice the limit per window, across a window boundary), with one counter per key and
//! no read; and because a colleague who mistyped five times is never locked out for longer
//! than one window, and is told exactly when it ends (`Retry-After`). A lock counted from the
//! last failure would let every further attempt, including an attacker's, extend a real user's
//! lock indefinitely.

use chrono::{DateTime, TimeDelta, Utc};

use super::AccountsError;

/// How many failed sign-ins a window allows, per account and per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    max_failures_per_account: u32,
    max_failures_per_address: u32,
    window: TimeDelta,
}

impl Default for ThrottlePolicy {
    /// 5 failures per account and 20 per address in 15 minutes.
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl ThrottlePolicy {
    pub const DEFAULT: Self = Self {
        max_failures_per_account: 5,
        max_failures_per_address: 20,
        window: TimeDelta::minutes(15),
    };

    /// A policy with other limits; the window must be a whole number of seconds, from one
    /// second to one day.
    pub fn new(
        max_failures_per_account: u32,
        max_failures_per_address: u32,
        window: TimeDelta,
    ) -> Result<Self, AccountsError> {
        let whole_seconds = window.subsec_nanos() == 0;
        if !whole_seconds || window < TimeDelta::seconds(1) || window > TimeDelta::days(1) {
            return Err(AccountsError::invalid(
                "window",
                "must be a whole number of seconds from 1 second to 1 day",
            ));
        }
        Ok(Self {
            max_failures_per_account,
            max_failures_per_address,
            window,
        })
    }

    pub fn max_failures_per_account(&self) -> u32 {
        self.max_failures_per_account
    }

    pub fn max_failures_per_address(&self) -> u32 {
        self.max_failures_per_address
    }

    pub fn window(&self) -> TimeDelta {
        self.window
    }

    /// The refusal of an attempt over a limit at `now`: retry when the window ends.
    pub fn refusal(&self, now: DateTime<Utc>) -> AccountsError {
        AccountsError::Throttled {
            retry_after_secs: self.retry_after(now),
        }
    }

    /// The start of the window holding `now`; windows are aligned to the Unix epoch.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let secs = now.timestamp();
        let start = secs - secs.rem_euclid(self.window_secs());
        DateTime::from_timestamp(start, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Whole seconds from `now` until the next window starts, rounded up: 1 to the window's
    /// length.
    pub fn retry_after(&self, now: DateTime<Utc>) -> u64 {
        let secs = now.timestamp();
        let remaining = self.window_secs() - secs.rem_euclid(self.window_secs());
        u64::try_from(remaining).unwrap_or(1)
    }

    /// Never zero: `new` refuses windows under a second.
    fn window_secs(&self) -> i64 {
        self.window.num_seconds().max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, h, m, s).unwrap()
    }

    #[test]
    fn the_default_policy_allows_five_account_and_twenty_address_failures_per_quarter_hour() {
        let policy = ThrottlePolicy::default();
        assert_eq!(policy.max_failures_per_account(), 5);
        assert_eq!(policy.max_failures_per_address(), 20);
        assert_eq!(policy.window(), TimeDelta::minutes(15));
    }

    #[test]
    fn an_attempt_over_a_limit_is_refused_until_the_window_ends() {
        let policy = ThrottlePolicy::default();
        assert_eq!(
            policy.refusal(at(9, 7, 30)),
            AccountsError::Throttled {
                retry_after_secs: 450
            }
        );
    }

    #[test]
    fn windows_are_aligned_to_the_epoch() {
        let policy = ThrottlePolicy::default();
        assert_eq!(policy.window_start(at(9, 0, 0)), at(9, 0, 0));
        assert_eq!(policy.window_start(at(9, 14, 59)), at(9, 0, 0));
        assert_eq!(policy.window_start(at(9, 15, 0)), at(9, 15, 0));
        let with_nanos = at(9, 29, 59) + TimeDelta::milliseconds(999);
        assert_eq!(policy.window_start(with_nanos), at(9, 15, 0));
        let before_epoch = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 0).unwrap();
        assert_eq!(
            policy.window_start(before_epoch),
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 45, 0).unwrap()
        );
    }

    #[test]
    fn retry_after_counts_whole_seconds_to_the_next_window_rounded_up() {
        let policy = ThrottlePolicy::default();
        assert_eq!(policy.retry_after(at(9, 0, 0)), 900);
        assert_eq!(policy.retry_after(at(9, 14, 59)), 1);
        assert_eq!(
            policy.retry_after(at(9, 14, 59) + TimeDelta::milliseconds(500)),
            1
        );
        assert_eq!(
            policy.retry_after(at(9, 0, 0) + TimeDelta::milliseconds(1)),
            900
        );
    }

    #[test]
    fn a_policy_refuses_a_window_that_is_not_whole_seconds_or_out_of_range() {
        assert!(ThrottlePolicy::new(3, 10, TimeDelta::minutes(5)).is_ok());
        for bad in [
            TimeDelta::zero(),
            TimeDelta::milliseconds(1500),
            TimeDelta::days(2),
        ] {
            let err = ThrottlePolicy::new(3, 10, bad).unwrap_err();
            assert_eq!(err.field(), Some("window"));
        }
    }
}
