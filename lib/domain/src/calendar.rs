//! The provider's calendar: the time zone its days and billing periods are counted in, and
//! how long its billing periods are.
//!
//! A provider in Moscow bills Moscow months: an order placed at 01:30 on 1 December Moscow
//! time (22:30 UTC on 30 November) belongs to December, a usage event at that instant counts
//! into December, and November's close may start once 1 December has begun in Moscow. Every
//! place that turns an instant into a day or a [`BillingPeriod`] asks the one [`Calendar`] of
//! the deployment; nothing reads the UTC date of an instant on its own.
//!
//! # Rules
//!
//! - The zone is a deployment setting (`ProviderTimeZone` in `infra/template.yaml`, read by
//!   every function as `KOPEK_TIME_ZONE` and used by the close's schedule), not a value that
//!   changes at run time: moving it would move the boundaries of periods already billed.
//! - A day starts at its local midnight ([`Calendar::start_of`]); where a daylight-saving
//!   change skips midnight, at the first local instant of that day. A period runs from the
//!   start of its first day to the start of the next period's first day.
//! - Instants are stored in UTC everywhere; only days and periods are local.
//! - The length of a period ([`PeriodLength`]: a month unless the template's
//!   `BillingPeriodMonths`, read as `KOPEK_PERIOD_MONTHS`, says 3, 6 or 12) is a deployment
//!   setting too, for the same reason. Every period the calendar makes has it, and a period
//!   that comes as input (a path, a query, an event) goes through [`Calendar::check`], which
//!   refuses one of another length: a quarterly provider has no period `2026-11`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::period::{BillingPeriod, PeriodLength};

/// A name that is not an IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IANA time zone (such as Europe/Moscow or UTC)")]
pub struct ZoneError(pub String);

/// A period given as input that is not of the deployment's length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{period} is not a billing period here: periods are {}s, written {}", .length.name(), .length.text_form())]
pub struct LengthMismatch {
    pub period: BillingPeriod,
    pub length: PeriodLength,
}

/// The provider's calendar: its time zone and the length of its periods. Cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    zone: Tz,
    length: PeriodLength,
}

impl Default for Calendar {
    fn default() -> Self {
        Self::UTC
    }
}

impl Calendar {
    /// Days and monthly periods of UTC dates.
    pub const UTC: Calendar = Calendar {
        zone: Tz::UTC,
        length: PeriodLength::Month,
    };

    /// Monthly periods in `zone`.
    pub fn new(zone: Tz) -> Self {
        Self {
            zone,
            length: PeriodLength::Month,
        }
    }

    /// The same zone with periods of `length`.
    pub fn with_period_length(self, length: PeriodLength) -> Self {
        Self { length, ..self }
    }

    pub fn zone(self) -> Tz {
        self.zone
    }

    /// How long its billing periods are.
    pub fn period_length(self) -> PeriodLength {
        self.length
    }

    /// A period given as input, if it has this calendar's length.
    pub fn check(self, period: BillingPeriod) -> Result<BillingPeriod, LengthMismatch> {
        if period.length() == self.length {
            Ok(period)
        } else {
            Err(LengthMismatch {
                period,
                length: self.length,
            })
        }
    }

    /// The period of this calendar's length a provider's date falls in (clamped as in
    /// [`BillingPeriod::of`]).
    pub fn period_of_date(self, date: NaiveDate) -> BillingPeriod {
        BillingPeriod::of(date, self.length)
    }

    /// The provider's date at an instant.
    pub fn date_of(self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    /// The billing period an instant falls in: the period of its local date (clamped as in
    /// [`BillingPeriod::of`]).
    pub fn period_of(self, at: DateTime<Utc>) -> BillingPeriod {
        self.period_of_date(self.date_of(at))
    }

    /// The first instant of a local day: its midnight, or, where a daylight-saving change
    /// skips midnight, the first local time that exists that day. Where midnight happens twice
    /// the earlier one.
    pub fn start_of(self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_time(NaiveTime::MIN);
        // Gaps are at most a few hours long; a quarter-hour step finds the end of any gap a
        // zone has ever had (the longest ones are whole days skipped by date-line moves, which
        // have no start at all and fall back to the UTC midnight below).
        for quarter in 0..=4 * 24 {
            let local = midnight + Duration::minutes(15 * quarter);
            if local.date() != date {
                break;
            }
            match self.zone.from_local_datetime(&local) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    return t.with_timezone(&Utc);
                }
                LocalResult::None => {}
            }
        }
        midnight.and_utc()
    }

    /// The first instant of a period.
    pub fn period_start(self, period: BillingPeriod) -> DateTime<Utc> {
        self.start_of(period.first_day())
    }

    /// The first instant after a period: the start of the next period's first day.
    pub fn period_end(self, period: BillingPeriod) -> DateTime<Utc> {
        self.start_of(period.end_exclusive())
    }
}

impl FromStr for Calendar {
    type Err = ZoneError;

    /// Reads an IANA zone name, e.g. `Europe/Moscow` or `UTC`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<Tz>()
            .map(Self::new)
            .map_err(|_| ZoneError(s.to_string()))
    }
}

/// Its time zone's IANA name (what [`FromStr`] reads; the length is set apart).
impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.zone.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn moscow() -> Calendar {
        "Europe/Moscow".parse().unwrap()
    }

    #[test]
    fn an_instant_belongs_to_the_providers_month() {
        // 22:30 UTC on 30 November is 01:30 on 1 December in Moscow (UTC+3).
        let instant = at("2026-11-30T22:30:00Z");
        assert_eq!(Calendar::UTC.period_of(instant).to_string(), "2026-11");
        assert_eq!(moscow().period_of(instant).to_string(), "2026-12");
        assert_eq!(
            moscow().date_of(instant),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        // And west of UTC the other way round: 02:00 UTC on 1 December is still 30 November
        // in New York.
        let ny: Calendar = "America/New_York".parse().unwrap();
        assert_eq!(
            ny.period_of(at("2026-12-01T02:00:00Z")).to_string(),
            "2026-11"
        );
    }

    #[test]
    fn a_period_runs_from_local_midnight_to_local_midnight() {
        let november: BillingPeriod = "2026-11".parse().unwrap();
        assert_eq!(moscow().period_start(november), at("2026-10-31T21:00:00Z"));
        assert_eq!(moscow().period_end(november), at("2026-11-30T21:00:00Z"));
        assert_eq!(
            Calendar::UTC.period_end(november),
            at("2026-12-01T00:00:00Z")
        );
        // Berlin changes to winter time on the last Sunday of October: November starts at
        // UTC+1, October at UTC+2.
        let berlin: Calendar = "Europe/Berlin".parse().unwrap();
        assert_eq!(berlin.period_start(november), at("2026-10-31T23:00:00Z"));
        let october: BillingPeriod = "2026-10".parse().unwrap();
        assert_eq!(berlin.period_start(october), at("2026-09-30T22:00:00Z"));
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_at_its_first_hour() {
        // Santiago de Chile moved its clocks from 00:00 to 01:00 on 2026-09-06.
        let santiago: Calendar = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let start = santiago.start_of(day);
        assert_eq!(santiago.date_of(start), day);
        assert_eq!(
            santiago.date_of(start - Duration::seconds(1)),
            day.pred_opt().unwrap()
        );
    }

    #[test]
    fn zones_are_read_by_their_iana_names() {
        assert_eq!(moscow().to_string(), "Europe/Moscow");
        assert_eq!(" UTC ".parse::<Calendar>().unwrap(), Calendar::UTC);
        assert_eq!(
            "Mars/Olympus".parse::<Calendar>().unwrap_err().to_string(),
            "\"Mars/Olympus\" is not an IANA time zone (such as Europe/Moscow or UTC)"
        );
    }

    #[test]
    fn a_quarterly_calendar_makes_quarters_and_refuses_months() {
        let quarterly = moscow().with_period_length(PeriodLength::Quarter);
        // 22:30 UTC on 30 September is 01:30 on 1 October in Moscow: the fourth quarter.
        assert_eq!(
            quarterly.period_of(at("2026-09-30T22:30:00Z")).to_string(),
            "2026-Q4"
        );
        let q4: BillingPeriod = "2026-Q4".parse().unwrap();
        assert_eq!(quarterly.period_start(q4), at("2026-09-30T21:00:00Z"));
        assert_eq!(quarterly.period_end(q4), at("2026-12-31T21:00:00Z"));
        assert_eq!(quarterly.check(q4), Ok(q4));
        let november: BillingPeriod = "2026-11".parse().unwrap();
        let refused = quarterly.check(november).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "2026-11 is not a billing period here: periods are quarters, written YYYY-Qn"
        );
        assert!(moscow().check(q4).is_err());
        assert_eq!(moscow().check(november), Ok(november));
    }

    proptest! {
        /// Every instant of a period lies in [start, end), and the instant before the start
        /// belongs to the previous period: periods tile time without gaps or overlaps, in
        /// every length.
        #[test]
        fn periods_tile_time(
            seconds in 946_771_200i64..4_102_444_800i64,
            zone in 0usize..6,
            length in prop::sample::select(PeriodLength::ALL.to_vec()),
        ) {
            let calendar: Calendar = ["UTC", "Europe/Moscow", "America/New_York",
                "Europe/Berlin", "Asia/Kathmandu", "America/Santiago"][zone].parse().unwrap();
            let calendar = calendar.with_period_length(length);
            let instant = DateTime::from_timestamp(seconds, 0).unwrap();
            let period = calendar.period_of(instant);
            let start = calendar.period_start(period);
            let end = calendar.period_end(period);
            prop_assert!(start <= instant && instant < end);
            prop_assert_eq!(calendar.period_of(start), period);
            prop_assert_eq!(calendar.period_of(end), period.next());
            if period > BillingPeriod::first(length) {
                prop_assert_eq!(calendar.period_of(start - Duration::seconds(1)), period.previous());
            }
        }
    }
}
