//! Sign-in throttling as a pure policy: the adapter counts failures, this decides.
//!
//! Failures are counted per account (normalized e-mail) and per client address in fixed
//! windows aligned to the Unix epoch, so every Lambda instance computes the same window (and
//! the same counter key) from the timestamp alone. A fixed window lets an attacker make up to
//! twice the limit across a window boundary; that is the price of one atomic counter per key.

use chrono::{DateTime, TimeDelta, Utc};

use super::AccountsError;

/// Whether a sign-in attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleDecision {
    Allow,
    /// Refused without checking the password; try again after this many seconds.
    Deny {
        retry_after_secs: u64,
    },
}

impl ThrottleDecision {
    /// `Allow` as `Ok`, `Deny` as [`AccountsError::Throttled`].
    pub fn into_result(self) -> Result<(), AccountsError> {
        match self {
            Self::Allow => Ok(()),
            Self::Deny { retry_after_secs } => Err(AccountsError::Throttled { retry_after_secs }),
        }
    }
}

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

    /// Decides on an attempt given the failures already counted in the current window: once
    /// either limit is reached, attempts are denied until the window ends.
    pub fn decide(
        &self,
        failures_account: u32,
        failures_address: u32,
        now: DateTime<Utc>,
    ) -> ThrottleDecision {
        if failures_account >= self.max_failures_per_account
            || failures_address >= self.max_failures_per_address
        {
            ThrottleDecision::Deny {
                retry_after_secs: self.retry_after(now),
            }
        } else {
            ThrottleDecision::Allow
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
    fn attempts_are_allowed_below_both_limits() {
        let policy = ThrottlePolicy::default();
        assert_eq!(policy.decide(0, 0, at(9, 0, 0)), ThrottleDecision::Allow);
        assert_eq!(policy.decide(4, 19, at(9, 0, 0)), ThrottleDecision::Allow);
        assert_eq!(policy.decide(4, 19, at(9, 0, 0)).into_result(), Ok(()));
    }

    #[test]
    fn the_sixth_attempt_on_an_account_is_denied_until_the_window_ends() {
        let policy = ThrottlePolicy::default();
        let decision = policy.decide(5, 0, at(9, 7, 30));
        assert_eq!(
            decision,
            ThrottleDecision::Deny {
                retry_after_secs: 450
            }
        );
        assert_eq!(
            decision.into_result(),
            Err(AccountsError::Throttled {
                retry_after_secs: 450
            })
        );
    }

    #[test]
    fn an_address_over_its_limit_is_denied_whatever_the_account() {
        let policy = ThrottlePolicy::default();
        assert!(matches!(
            policy.decide(0, 20, at(9, 0, 0)),
            ThrottleDecision::Deny { .. }
        ));
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
