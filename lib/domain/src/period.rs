//! Billing periods: months, quarters, half-years or years of the provider's calendar dates.
//!
//! Every charge belongs to one [`BillingPeriod`]; a period closes into one invoice and one set
//! of closing documents per customer. How long a period is, is a deployment setting
//! ([`PeriodLength`]: the template's `BillingPeriodMonths`, 1, 3, 6 or 12, read by every
//! function as `KOPEK_PERIOD_MONTHS`; a month unless set), and every period of a deployment
//! has that length. A period starts on the 1st of a month that its length divides the year
//! at (any month; January, April, July or October; January or July; January) and ends before
//! the 1st of the month its length later ([`BillingPeriod::end_exclusive`]): a month has 28 to
//! 31 days, a quarter 90 to 92, a half-year 181 to 184, a year 365 or 366. Day ranges in
//! billing are half-open, `[from, until_exclusive)`, which lets consecutive ranges share their
//! boundary.
//!
//! # Rules
//!
//! - A period lies in 2000-01-01 ..= 9999-12-31 ([`BillingPeriod::first`],
//!   [`BillingPeriod::last`]), so its text form always has a four-digit year.
//!   [`BillingPeriod::new`], [`BillingPeriod::starting`] and parsing refuse anything else
//!   ([`PeriodError`]); [`BillingPeriod::try_of`] refuses a date outside that range, while
//!   [`BillingPeriod::of`] (for dates that come from the clock) clamps it.
//! - Dates are the provider's calendar dates: an instant belongs to the period of its date in
//!   the provider's time zone, which only [`crate::calendar::Calendar::period_of`] tells; the
//!   calendar also says which length the deployment's periods have
//!   ([`crate::calendar::Calendar::check`] refuses a period of another length given as input).
//! - Prices of recurring services are prices of one billing period, and usage tiers apply to
//!   a period's total (see [`crate::proration`] and [`crate::usage`]): a provider that bills
//!   quarterly prices quarterly.
//!
//! # Text and wire form
//!
//! The length shows in the form, so a period reads back as exactly the period it was:
//!
//! | length | form | example |
//! |---|---|---|
//! | month | `YYYY-MM`, month `01`–`12` | `"2026-11"` |
//! | quarter | `YYYY-Qn`, n `1`–`4` | `"2026-Q4"` (October to December) |
//! | half-year | `YYYY-Hn`, n `1`–`2` | `"2026-H2"` (July to December) |
//! | year | `YYYY` | `"2026"` |
//!
//! Years 2000–9999. Nothing else is read (no sign, no spaces, no one-digit month, no lower
//! case `q`). Serde reads and writes that string. Within one length the text forms sort as
//! the periods do, which the stored keys rely on.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// A text that is not a billing period: not one of the forms of the module docs, a month
/// outside 01–12, a quarter outside 1–4, a half outside 1–2, or a year outside 2000–9999.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a billing period: expected a month as YYYY-MM, a quarter as YYYY-Qn, a half-year as \
     YYYY-Hn or a year as YYYY (years 2000 to 9999)"
)]
pub struct PeriodError;

/// How long a deployment's billing periods are: a setting, fixed before the first period is
/// billed (changing it would move the boundaries of billed periods).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PeriodLength {
    #[default]
    Month,
    Quarter,
    HalfYear,
    Year,
}

/// A number of months that is not a period length (1, 3, 6 or 12).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a billing period length: expected 1, 3, 6 or 12 months")]
pub struct PeriodLengthError(pub String);

impl PeriodLength {
    /// Every length, shortest first.
    pub const ALL: [PeriodLength; 4] = [Self::Month, Self::Quarter, Self::HalfYear, Self::Year];

    /// How many months a period of this length has: 1, 3, 6 or 12.
    pub fn months(self) -> u32 {
        match self {
            Self::Month => 1,
            Self::Quarter => 3,
            Self::HalfYear => 6,
            Self::Year => 12,
        }
    }

    /// The most days a period of this length has: 31, 92, 184 or 366.
    pub fn max_days(self) -> u32 {
        match self {
            Self::Month => 31,
            Self::Quarter => 92,
            Self::HalfYear => 184,
            Self::Year => 366,
        }
    }

    /// The length of `months` months, if it is one.
    pub fn from_months(months: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.months() == months)
    }

    /// The text form of its periods, for error messages: `YYYY-MM`, `YYYY-Qn`, `YYYY-Hn` or
    /// `YYYY`.
    pub fn text_form(self) -> &'static str {
        match self {
            Self::Month => "YYYY-MM",
            Self::Quarter => "YYYY-Qn",
            Self::HalfYear => "YYYY-Hn",
            Self::Year => "YYYY",
        }
    }

    /// Its name in English: month, quarter, half-year or year.
    pub fn name(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::HalfYear => "half-year",
            Self::Year => "year",
        }
    }
}

impl FromStr for PeriodLength {
    type Err = PeriodLengthError;

    /// Reads a number of months: `1`, `3`, `6` or `12` (the template's `BillingPeriodMonths`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<u32>()
            .ok()
            .and_then(Self::from_months)
            .ok_or_else(|| PeriodLengthError(s.to_string()))
    }
}

impl fmt::Display for PeriodLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A billing period: a month, quarter, half-year or year in 2000 ..= 9999. Ordered by time
/// within one length: `2026-12` < `2027-01`, `2026-Q4` < `2027-Q1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillingPeriod {
    // Field order matters: the derived `Ord` compares the year first, then the first month.
    year: i32,
    /// The first month, 1–12, one its length divides the year at.
    month: u32,
    length: PeriodLength,
}

impl BillingPeriod {
    /// The first month there is: January 2000.
    pub const MIN: BillingPeriod = BillingPeriod {
        year: 2000,
        month: 1,
        length: PeriodLength::Month,
    };
    /// The last month there is: December 9999.
    pub const MAX: BillingPeriod = BillingPeriod {
        year: 9999,
        month: 12,
        length: PeriodLength::Month,
    };

    /// The month `month` (1–12) of `year` (2000–9999) as a period.
    pub fn new(year: i32, month: u32) -> Result<Self, PeriodError> {
        Self::starting(year, month, PeriodLength::Month)
    }

    /// The period of `length` that starts with `month` (1–12) of `year` (2000–9999): the
    /// month must be one the length divides the year at (a quarter starts in January, April,
    /// July or October).
    pub fn starting(year: i32, month: u32, length: PeriodLength) -> Result<Self, PeriodError> {
        let in_range =
            (Self::MIN.year..=Self::MAX.year).contains(&year) && (1..=12).contains(&month);
        if in_range && (month - 1).is_multiple_of(length.months()) {
            Ok(Self {
                year,
                month,
                length,
            })
        } else {
            Err(PeriodError)
        }
    }

    /// The first period of a length: the one that starts on 2000-01-01.
    pub fn first(length: PeriodLength) -> Self {
        Self {
            year: Self::MIN.year,
            month: 1,
            length,
        }
    }

    /// The last period of a length: the one that ends on 9999-12-31.
    pub fn last(length: PeriodLength) -> Self {
        Self {
            year: Self::MAX.year,
            month: 13 - length.months(),
            length,
        }
    }

    /// The period of `length` a day falls in, if the day is in 2000-01-01 ..= 9999-12-31.
    pub fn try_of(date: NaiveDate, length: PeriodLength) -> Result<Self, PeriodError> {
        let months = length.months();
        Self::starting(
            date.year(),
            (date.month() - 1) / months * months + 1,
            length,
        )
    }

    /// The period of `length` a day falls in. A day before 2000 falls in the
    /// [`first`](Self::first) period and a day after 9999 in the [`last`](Self::last); use
    /// [`try_of`](Self::try_of) for a date that comes from input rather than from the clock.
    pub fn of(date: NaiveDate, length: PeriodLength) -> Self {
        Self::try_of(date, length).unwrap_or(if date.year() < Self::MIN.year {
            Self::first(length)
        } else {
            Self::last(length)
        })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// The first month, 1–12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// How long the period is.
    pub fn length(self) -> PeriodLength {
        self.length
    }

    /// The 1st of its first month.
    pub fn first_day(self) -> NaiveDate {
        first_of(self.year, self.month)
    }

    /// The last day of its last month.
    pub fn last_day(self) -> NaiveDate {
        self.end_exclusive()
            .pred_opt()
            .expect("the 1st of a month after 2000-01 has a day before it")
    }

    /// The 1st of the month after its last: the first day that is no longer in this period.
    /// For the [`last`](Self::last) period it is 10000-01-01, a valid date though not in any
    /// period.
    pub fn end_exclusive(self) -> NaiveDate {
        let after = self.month + self.length.months();
        if after > 12 {
            first_of(self.year + 1, after - 12)
        } else {
            first_of(self.year, after)
        }
    }

    /// How many days the period has: 28 to 31 for a month, up to 366 for a year.
    pub fn days(self) -> u32 {
        u32::try_from((self.end_exclusive() - self.first_day()).num_days())
            .expect("a period has at most 366 days")
    }

    /// The next period of the same length, or `None` after the [`last`](Self::last).
    pub fn checked_next(self) -> Option<Self> {
        let after = self.month + self.length.months();
        if after > 12 {
            Self::starting(self.year + 1, after - 12, self.length).ok()
        } else {
            Self::starting(self.year, after, self.length).ok()
        }
    }

    /// The previous period of the same length, or `None` before the [`first`](Self::first).
    pub fn checked_previous(self) -> Option<Self> {
        let months = self.length.months();
        if self.month > months {
            Self::starting(self.year, self.month - months, self.length).ok()
        } else {
            Self::starting(self.year - 1, self.month + 12 - months, self.length).ok()
        }
    }

    /// The next period; the [`last`](Self::last) is its own next (see
    /// [`checked_next`](Self::checked_next)).
    pub fn next(self) -> Self {
        self.checked_next().unwrap_or(self)
    }

    /// The previous period; the [`first`](Self::first) is its own previous (see
    /// [`checked_previous`](Self::checked_previous)).
    pub fn previous(self) -> Self {
        self.checked_previous().unwrap_or(self)
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

    /// Every day of the period, from the first to the last, in order.
    pub fn iter_days(
        self,
    ) -> impl DoubleEndedIterator<Item = NaiveDate> + ExactSizeIterator + Clone {
        // Counted from the 1st rather than taken from chrono's day iterator, whose far end is
        // the last date chrono knows, not the end of the period.
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
        let (year, month) = (self.year, self.month);
        match self.length {
            PeriodLength::Month => write!(f, "{year:04}-{month:02}"),
            PeriodLength::Quarter => write!(f, "{year:04}-Q{}", (month - 1) / 3 + 1),
            PeriodLength::HalfYear => write!(f, "{year:04}-H{}", (month - 1) / 6 + 1),
            PeriodLength::Year => write!(f, "{year:04}"),
        }
    }
}

impl FromStr for BillingPeriod {
    type Err = PeriodError;

    /// Reads exactly one of the forms of the module docs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let digits = |r: &[u8]| !r.is_empty() && r.iter().all(u8::is_ascii_digit);
        if b.len() < 4 || !digits(&b[..4]) {
            return Err(PeriodError);
        }
        // The first four bytes are ASCII digits, so they parse and `s[4..]` is a char boundary.
        let year: i32 = s[..4].parse().map_err(|_| PeriodError)?;
        let (length, month) = match &b[4..] {
            [] => (PeriodLength::Year, 1),
            [b'-', m1, m2] if digits(&[*m1, *m2]) => (
                PeriodLength::Month,
                u32::from((m1 - b'0') * 10 + (m2 - b'0')),
            ),
            [b'-', b'Q', n @ b'1'..=b'4'] => (PeriodLength::Quarter, u32::from(n - b'1') * 3 + 1),
            [b'-', b'H', n @ b'1'..=b'2'] => (PeriodLength::HalfYear, u32::from(n - b'1') * 6 + 1),
            _ => return Err(PeriodError),
        };
        Self::starting(year, month, length)
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

    const MONTH: PeriodLength = PeriodLength::Month;

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
        assert_eq!(
            BillingPeriod::of(day(2026, 11, 30), MONTH),
            period("2026-11")
        );
        assert_eq!(
            BillingPeriod::of(day(2026, 12, 1), MONTH),
            period("2026-12")
        );
        assert_eq!(
            BillingPeriod::try_of(day(2026, 11, 1), MONTH),
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
        assert_eq!(
            BillingPeriod::try_of(day(1999, 12, 31), MONTH),
            Err(PeriodError)
        );
        assert_eq!(
            BillingPeriod::try_of(day(10000, 1, 1), MONTH),
            Err(PeriodError)
        );
        assert_eq!(
            BillingPeriod::of(day(1999, 12, 31), MONTH),
            BillingPeriod::MIN
        );
        assert_eq!(
            BillingPeriod::of(day(12000, 6, 1), MONTH),
            BillingPeriod::MAX
        );
    }

    #[test]
    fn a_period_is_built_only_from_a_real_month_in_range() {
        assert_eq!(BillingPeriod::new(2026, 11), Ok(period("2026-11")));
        for (y, m) in [(2026, 0), (2026, 13), (1999, 12), (10000, 1), (-2026, 1)] {
            assert_eq!(BillingPeriod::new(y, m), Err(PeriodError), "{y}-{m}");
        }
    }

    #[test]
    fn quarters_half_years_and_years_start_where_their_length_divides_the_year() {
        let q4 = period("2026-Q4");
        assert_eq!(
            (q4.year(), q4.month(), q4.length()),
            (2026, 10, PeriodLength::Quarter)
        );
        assert_eq!(q4.first_day(), day(2026, 10, 1));
        assert_eq!(q4.last_day(), day(2026, 12, 31));
        assert_eq!(q4.days(), 92);
        assert_eq!(q4.next(), period("2027-Q1"));
        assert_eq!(period("2027-Q1").previous(), q4);
        assert_eq!(period("2027-Q1").days(), 90);
        assert_eq!(period("2028-Q1").days(), 91, "a leap year's first quarter");
        assert_eq!(period("2026-H1").days(), 181);
        assert_eq!(period("2026-H2").first_day(), day(2026, 7, 1));
        assert_eq!(period("2026-H2").next(), period("2027-H1"));
        assert_eq!(period("2026").days(), 365);
        assert_eq!(period("2028").days(), 366);
        assert_eq!(period("2026").next(), period("2027"));
        assert_eq!(period("2026").end_exclusive(), day(2027, 1, 1));
        assert_eq!(
            BillingPeriod::of(day(2026, 8, 15), PeriodLength::Quarter),
            period("2026-Q3")
        );
        assert_eq!(
            BillingPeriod::of(day(2026, 8, 15), PeriodLength::HalfYear),
            period("2026-H2")
        );
        assert_eq!(
            BillingPeriod::of(day(2026, 8, 15), PeriodLength::Year),
            period("2026")
        );
        // A quarter starts in January, April, July or October, and nowhere else.
        assert_eq!(
            BillingPeriod::starting(2026, 10, PeriodLength::Quarter),
            Ok(q4)
        );
        assert_eq!(
            BillingPeriod::starting(2026, 11, PeriodLength::Quarter),
            Err(PeriodError)
        );
        assert_eq!(
            BillingPeriod::starting(2026, 2, PeriodLength::Year),
            Err(PeriodError)
        );
        // The ends of time per length.
        assert_eq!(
            BillingPeriod::last(PeriodLength::Quarter).to_string(),
            "9999-Q4"
        );
        assert_eq!(
            BillingPeriod::last(PeriodLength::Quarter).checked_next(),
            None
        );
        assert_eq!(
            BillingPeriod::first(PeriodLength::Year).checked_previous(),
            None
        );
        assert_eq!(
            BillingPeriod::of(day(12000, 1, 1), PeriodLength::HalfYear).to_string(),
            "9999-H2"
        );
    }

    #[test]
    fn a_period_length_is_read_as_its_number_of_months() {
        for length in PeriodLength::ALL {
            assert_eq!(length.months().to_string().parse(), Ok(length));
        }
        assert_eq!(" 3 ".parse(), Ok(PeriodLength::Quarter));
        for bad in ["0", "2", "4", "24", "month", "", "-1"] {
            assert!(bad.parse::<PeriodLength>().is_err(), "{bad:?}");
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
            "2026-Q0",
            "2026-Q5",
            "2026-q4",
            "2026-H3",
            "2026-H0",
            "2026-Y",
            "2026-",
            "1999",
            "10000",
            "202",
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

    fn any_month() -> impl Strategy<Value = BillingPeriod> {
        (2000i32..=9999, 1u32..=12).prop_map(|(y, m)| BillingPeriod::new(y, m).unwrap())
    }

    fn any_length() -> impl Strategy<Value = PeriodLength> {
        prop::sample::select(PeriodLength::ALL.to_vec())
    }

    /// A period of any length.
    fn any_period() -> impl Strategy<Value = BillingPeriod> {
        (any_month(), any_length()).prop_map(|(m, length)| BillingPeriod::of(m.first_day(), length))
    }

    fn any_day() -> impl Strategy<Value = NaiveDate> {
        (any_month(), 0u32..31)
            .prop_map(|(p, d)| p.first_day() + chrono::Days::new(u64::from(d % p.days())))
    }

    proptest! {
        #[test]
        fn the_text_form_round_trips(p in any_period()) {
            prop_assert_eq!(p.to_string().parse::<BillingPeriod>(), Ok(p));
            let len = if p.length() == PeriodLength::Year { 4 } else { 7 };
            prop_assert_eq!(p.to_string().len(), len);
        }

        #[test]
        fn a_day_is_in_one_period_of_each_length_and_in_no_neighbour(
            d in any_day(),
            length in any_length(),
        ) {
            let p = BillingPeriod::of(d, length);
            prop_assert_eq!(p.length(), length);
            prop_assert!(p.contains(d));
            prop_assert!(p.first_day() <= d && d <= p.last_day());
            prop_assert!(!p.next().contains(d) || p == BillingPeriod::last(length));
            prop_assert!(!p.previous().contains(d) || p == BillingPeriod::first(length));
            // A longer period contains the shorter ones the day is in.
            let month = BillingPeriod::of(d, MONTH);
            prop_assert!(p.first_day() <= month.first_day() && month.end_exclusive() <= p.end_exclusive());
        }

        #[test]
        fn consecutive_periods_tile_the_calendar(p in any_period()) {
            prop_assert_eq!(p.iter_days().count(), p.days() as usize);
            let days = match p.length() {
                PeriodLength::Month => 28..=31,
                PeriodLength::Quarter => 89..=92,
                PeriodLength::HalfYear => 181..=184,
                PeriodLength::Year => 365..=366,
            };
            prop_assert!(days.contains(&p.days()), "{p}: {} days", p.days());
            prop_assert_eq!(p.first_day() + chrono::Days::new(u64::from(p.days())), p.end_exclusive());
            if let Some(next) = p.checked_next() {
                prop_assert_eq!(next.first_day(), p.end_exclusive());
                prop_assert_eq!(next.checked_previous(), Some(p));
                prop_assert!(p < next);
                prop_assert!(p.to_string() < next.to_string(), "the text forms sort as the periods");
            }
        }
    }
}
