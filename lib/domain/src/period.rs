//! Billing periods: calendar months of the provider's calendar dates.
//!
//! Every charge belongs to one [`BillingPeriod`]; a period closes into one invoice and one set
//! of closing documents per customer. A period is a calendar month: it starts on the 1st
//! ([`BillingPeriod::first_day`]) and ends before the 1st of the next month
//! ([`BillingPeriod::end_exclusive`]), so it has 28 to 31 days. Day ranges in billing are
//! half-open, `[from, until_exclusive)`, which lets consecutive ranges share their boundary.
//!
//! # Rules
//!
//! - A period lies in 2000-01 ..= 9999-12 ([`BillingPeriod::MIN`], [`BillingPeriod::MAX`]),
//!   so its text form always has a four-digit year. [`BillingPeriod::new`] and parsing refuse
//!   anything else ([`PeriodError`]); [`BillingPeriod::try_of`] refuses a date outside that
//!   range, while [`BillingPeriod::of`] (for dates that come from the clock) clamps it.
//! - Dates are the provider's calendar dates: an instant belongs to the period of its date in
//!   the provider's time zone, which only [`crate::calendar::Calendar::period_of`] tells.
//!
//! # Text and wire form
//!
//! Exactly `YYYY-MM`: four digits, a hyphen, two digits, month `01`–`12`, year 2000–9999,
//! e.g. `"2026-11"`. Nothing else is read (no sign, no spaces, no one-digit month). Serde
//! reads and writes that string.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// A month that is not a billing period: a text that is not `YYYY-MM`, a month outside
/// 01–12, or a year outside 2000–9999.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a billing period: expected a month as YYYY-MM (2000-01 to 9999-12)")]
pub struct PeriodError;

/// A calendar month, 2000-01 ..= 9999-12. Ordered by time: `2026-12` < `2027-01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillingPeriod {
    // Field order matters: the derived `Ord` compares the year first.
    year: i32,
    month: u32,
}

impl BillingPeriod {
    /// The first period there is: January 2000.
    pub const MIN: BillingPeriod = BillingPeriod {
        year: 2000,
        month: 1,
    };
    /// The last period there is: December 9999.
    pub const MAX: BillingPeriod = BillingPeriod {
        year: 9999,
        month: 12,
    };

    /// The period of `month` (1–12) of `year` (2000–9999).
    pub fn new(year: i32, month: u32) -> Result<Self, PeriodError> {
        if (Self::MIN.year..=Self::MAX.year).contains(&year) && (1..=12).contains(&month) {
            Ok(Self { year, month })
        } else {
            Err(PeriodError)
        }
    }

    /// The period a day falls in, if the day is in 2000-01-01 ..= 9999-12-31.
    pub fn try_of(date: NaiveDate) -> Result<Self, PeriodError> {
        Self::new(date.year(), date.month())
    }

    /// The period a day falls in. A day before 2000 falls in [`MIN`](Self::MIN) and a day
    /// after 9999 in [`MAX`](Self::MAX); use [`try_of`](Self::try_of) for a date that comes
    /// from input rather than from the clock.
    pub fn of(date: NaiveDate) -> Self {
        Self::try_of(date).unwrap_or(if date.year() < Self::MIN.year {
            Self::MIN
        } else {
            Self::MAX
        })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The 1st of the month.
    pub fn first_day(self) -> NaiveDate {
        first_of(self.year, self.month)
    }

    /// The last day of the month (the 28th to the 31st).
    pub fn last_day(self) -> NaiveDate {
        self.end_exclusive()
            .pred_opt()
            .expect("the 1st of a month after 2000-01 has a day before it")
    }

    /// The 1st of the next month: the first day that is no longer in this period. For
    /// [`MAX`](Self::MAX) it is 10000-01-01, a valid date though not in any period.
    pub fn end_exclusive(self) -> NaiveDate {
        if self.month == 12 {
            first_of(self.year + 1, 1)
        } else {
            first_of(self.year, self.month + 1)
        }
    }

    /// How many days the period has: 28 to 31.
    pub fn days(self) -> u32 {
        self.last_day().day()
    }

    /// The next period, or `None` after [`MAX`](Self::MAX).
    pub fn checked_next(self) -> Option<Self> {
        match self.month {
            12 => Self::new(self.year + 1, 1).ok(),
            m => Some(Self {
                month: m + 1,
                ..self
            }),
        }
    }

    /// The previous period, or `None` before [`MIN`](Self::MIN).
    pub fn checked_previous(self) -> Option<Self> {
        match self.month {
            1 => Self::new(self.year - 1, 12).ok(),
            m => Some(Self {
                month: m - 1,
                ..self
            }),
        }
    }

    /// The next period; [`MAX`](Self::MAX) is its own next (see
    /// [`checked_next`](Self::checked_next)).
    pub fn next(self) -> Self {
        self.checked_next().unwrap_or(Self::MAX)
    }

    /// The previous period; [`MIN`](Self::MIN) is its own previous (see
    /// [`checked_previous`](Self::checked_previous)).
    pub fn previous(self) -> Self {
        self.checked_previous().unwrap_or(Self::MIN)
    }

    /// Whether the day falls in this period.
    pub fn contains(self, date: NaiveDate) -> bool {
        self.first_day() <= date && date < self.end_exclusive()
    }

    /// The part of the half-open day range `[from, until_exclusive)` that lies in this
    /// period, as a half-open range, or `None` if they share no day (including when the range
    /// is empty or reversed).
    pub fn overlap(
        self,
        from: NaiveDate,
        until_exclusive: NaiveDate,
    ) -> Option<(NaiveDate, NaiveDate)> {
        let from = from.max(self.first_day());
        let until = until_exclusive.min(self.end_exclusive());
        (from < until).then_some((from, until))
    }

    /// Every day of the period, from the 1st to the last, in order.
    pub fn iter_days(
        self,
    ) -> impl DoubleEndedIterator<Item = NaiveDate> + ExactSizeIterator + Clone {
        // Counted from the 1st rather than taken from chrono's day iterator, whose far end is
        // the last date chrono knows, not the end of the month.
        let first = self.first_day();
        (0..self.days()).map(move |i| first + Days::new(u64::from(i)))
    }
}

/// The 1st of a month that is known to exist (year 2000–10000, month 1–12).
fn first_of(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).expect("the 1st of a month in 2000..=10000 exists")
}

impl fmt::Display for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for BillingPeriod {
    type Err = PeriodError;

    /// Reads exactly `YYYY-MM`; see the module docs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let well_formed =
            b.len() == 7 && b[4] == b'-' && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit);
        if !well_formed {
            return Err(PeriodError);
        }
        // Both parts are ASCII digits only, so they parse.
        let year = s[..4].parse().map_err(|_| PeriodError)?;
        let month = s[5..].parse().map_err(|_| PeriodError)?;
        Self::new(year, month)
    }
}

impl Serialize for BillingPeriod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BillingPeriod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn period(text: &str) -> BillingPeriod {
        text.parse().unwrap()
    }

    #[test]
    fn a_thirty_day_month_runs_from_the_first_to_the_thirtieth() {
        let nov = period("2026-11");
        assert_eq!((nov.year(), nov.month()), (2026, 11));
        assert_eq!(nov.days(), 30);
        assert_eq!(nov.first_day(), day(2026, 11, 1));
        assert_eq!(nov.last_day(), day(2026, 11, 30));
        assert_eq!(nov.end_exclusive(), day(2026, 12, 1));
    }

    #[test]
    fn february_has_twenty_nine_days_in_leap_years_only() {
        assert_eq!(period("2028-02").days(), 29);
        assert_eq!(period("2028-02").last_day(), day(2028, 2, 29));
        assert_eq!(period("2026-02").days(), 28);
        // Divisible by 100 but not by 400: not a leap year. By 400: a leap year.
        assert_eq!(period("2100-02").days(), 28);
        assert_eq!(period("2000-02").days(), 29);
        assert_eq!(period("2028-02").end_exclusive(), day(2028, 3, 1));
    }

    #[test]
    fn december_is_followed_by_january_of_the_next_year() {
        let dec = period("2026-12");
        assert_eq!(dec.days(), 31);
        assert_eq!(dec.last_day(), day(2026, 12, 31));
        assert_eq!(dec.end_exclusive(), day(2027, 1, 1));
        assert_eq!(dec.next(), period("2027-01"));
        assert_eq!(period("2027-01").previous(), dec);
        assert_eq!(period("2026-11").next(), dec);
        assert_eq!(dec.previous(), period("2026-11"));
    }

    #[test]
    fn the_first_and_last_periods_have_no_neighbours_beyond_them() {
        assert_eq!(BillingPeriod::MIN.checked_previous(), None);
        assert_eq!(BillingPeriod::MIN.previous(), BillingPeriod::MIN);
        assert_eq!(BillingPeriod::MAX.checked_next(), None);
        assert_eq!(BillingPeriod::MAX.next(), BillingPeriod::MAX);
        assert_eq!(BillingPeriod::MAX.end_exclusive(), day(10000, 1, 1));
        assert_eq!(BillingPeriod::MAX.last_day(), day(9999, 12, 31));
        assert_eq!(BillingPeriod::MIN.to_string(), "2000-01");
        assert_eq!(BillingPeriod::MAX.to_string(), "9999-12");
    }

    #[test]
    fn a_day_falls_in_the_period_of_its_month() {
        assert_eq!(BillingPeriod::of(day(2026, 11, 30)), period("2026-11"));
        assert_eq!(BillingPeriod::of(day(2026, 12, 1)), period("2026-12"));
        assert_eq!(
            BillingPeriod::try_of(day(2026, 11, 1)),
            Ok(period("2026-11"))
        );
        let nov = period("2026-11");
        assert!(nov.contains(day(2026, 11, 1)));
        assert!(nov.contains(day(2026, 11, 30)));
        assert!(!nov.contains(day(2026, 10, 31)));
        assert!(!nov.contains(day(2026, 12, 1)));
        assert!(!nov.contains(day(2025, 11, 15)));
    }

    #[test]
    fn a_day_outside_the_supported_years_is_refused_or_clamped() {
        assert_eq!(BillingPeriod::try_of(day(1999, 12, 31)), Err(PeriodError));
        assert_eq!(BillingPeriod::try_of(day(10000, 1, 1)), Err(PeriodError));
        assert_eq!(BillingPeriod::of(day(1999, 12, 31)), BillingPeriod::MIN);
        assert_eq!(BillingPeriod::of(day(12000, 6, 1)), BillingPeriod::MAX);
    }

    #[test]
    fn a_period_is_built_only_from_a_real_month_in_range() {
        assert_eq!(BillingPeriod::new(2026, 11), Ok(period("2026-11")));
        for (y, m) in [(2026, 0), (2026, 13), (1999, 12), (10000, 1), (-2026, 1)] {
            assert_eq!(BillingPeriod::new(y, m), Err(PeriodError), "{y}-{m}");
        }
    }

    #[test]
    fn the_days_of_a_period_are_listed_in_order() {
        let days: Vec<_> = period("2028-02").iter_days().collect();
        assert_eq!(days.len(), 29);
        assert_eq!(days[0], day(2028, 2, 1));
        assert_eq!(days[28], day(2028, 2, 29));
        assert!(days.windows(2).all(|w| w[0].succ_opt() == Some(w[1])));
        assert_eq!(
            period("2026-12").iter_days().next_back(),
            Some(day(2026, 12, 31))
        );
        assert_eq!(BillingPeriod::MAX.iter_days().count(), 31);
    }

    #[test]
    fn the_overlap_of_a_range_with_a_period_is_clipped_to_the_period() {
        let nov = period("2026-11");
        assert_eq!(
            nov.overlap(day(2026, 10, 20), day(2026, 11, 11)),
            Some((day(2026, 11, 1), day(2026, 11, 11)))
        );
        assert_eq!(
            nov.overlap(day(2026, 11, 15), day(2027, 1, 1)),
            Some((day(2026, 11, 15), day(2026, 12, 1)))
        );
        assert_eq!(nov.overlap(day(2026, 12, 1), day(2026, 12, 5)), None);
        assert_eq!(nov.overlap(day(2026, 10, 1), day(2026, 11, 1)), None);
        assert_eq!(nov.overlap(day(2026, 11, 5), day(2026, 11, 5)), None);
        assert_eq!(nov.overlap(day(2026, 11, 9), day(2026, 11, 5)), None);
    }

    #[test]
    fn periods_sort_by_time() {
        let mut periods = vec![period("2027-01"), period("2026-12"), period("2026-02")];
        periods.sort();
        assert_eq!(
            periods,
            [period("2026-02"), period("2026-12"), period("2027-01")]
        );
        assert!(period("2026-12") < period("2027-01"));
    }

    #[test]
    fn the_text_form_is_exactly_four_digits_a_hyphen_and_two_digits() {
        assert_eq!(period("2026-11").to_string(), "2026-11");
        assert_eq!(period("2000-01").to_string(), "2000-01");
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "1999-12",
            "2026-11 ",
            " 2026-11",
            "+026-11",
            "2026-+1",
            "2026--1",
            "2026-11-01",
            "",
            "２０２６-11",
            "10000-01",
        ] {
            assert_eq!(bad.parse::<BillingPeriod>(), Err(PeriodError), "{bad:?}");
        }
    }

    #[test]
    fn a_period_travels_as_its_text_form() {
        let p: BillingPeriod = serde_json::from_str(r#""2026-11""#).unwrap();
        assert_eq!(p, period("2026-11"));
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""2026-11""#);
        for bad in [r#""2026-13""#, r#""2026-1""#, "202611", r#"{"year":2026}"#] {
            assert!(serde_json::from_str::<BillingPeriod>(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<BillingPeriod>(r#""2026-13""#).unwrap_err();
        assert!(err.to_string().contains("YYYY-MM"), "{err}");
    }

    fn any_period() -> impl Strategy<Value = BillingPeriod> {
        (2000i32..=9999, 1u32..=12).prop_map(|(y, m)| BillingPeriod::new(y, m).unwrap())
    }

    fn any_day() -> impl Strategy<Value = NaiveDate> {
        (any_period(), 0u32..31)
            .prop_map(|(p, d)| p.first_day() + chrono::Days::new(u64::from(d % p.days())))
    }

    proptest! {
        #[test]
        fn the_text_form_round_trips(p in any_period()) {
            prop_assert_eq!(p.to_string().parse::<BillingPeriod>(), Ok(p));
            prop_assert_eq!(p.to_string().len(), 7);
        }

        #[test]
        fn a_day_is_in_the_period_of_its_month_and_in_no_neighbour(d in any_day()) {
            let p = BillingPeriod::of(d);
            prop_assert!(p.contains(d));
            prop_assert!(p.first_day() <= d && d <= p.last_day());
            prop_assert!(!p.next().contains(d) || p == BillingPeriod::MAX);
            prop_assert!(!p.previous().contains(d) || p == BillingPeriod::MIN);
        }

        #[test]
        fn consecutive_periods_tile_the_calendar(p in any_period()) {
            prop_assert_eq!(p.iter_days().count(), p.days() as usize);
            prop_assert!((28..=31).contains(&p.days()));
            prop_assert_eq!(p.first_day() + chrono::Days::new(u64::from(p.days())), p.end_exclusive());
            if let Some(next) = p.checked_next() {
                prop_assert_eq!(next.first_day(), p.end_exclusive());
                prop_assert_eq!(next.checked_previous(), Some(p));
                prop_assert!(p < next);
            }
        }
    }
}
