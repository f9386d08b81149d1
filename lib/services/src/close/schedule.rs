//! When the scheduler fires: the period that just ended in the provider's calendar.

use chrono::{DateTime, Utc};
use kopek_domain::calendar::{Calendar, ZoneError};
use kopek_domain::period::BillingPeriod;

use super::CloseError;

/// The period the scheduler closes when it fires at `at`: the period before the one `at`
/// falls in, in the provider's `calendar` (a month, or its longer period: the template's
/// schedule fires on the 1st after each period ends). The schedule's event names the zone it fires in
/// (`time_zone`, the template's `ProviderTimeZone` for both): a schedule in another zone than
/// the provider's periods would fire hours before or after the month ends, so it is refused.
pub fn scheduled_period(
    at: DateTime<Utc>,
    time_zone: &str,
    calendar: Calendar,
) -> Result<BillingPeriod, CloseError> {
    let schedule: Calendar = time_zone
        .parse()
        .map_err(|e: ZoneError| CloseError::Invalid {
            field: "time_zone".into(),
            reason: e.to_string(),
        })?;
    if schedule.zone() != calendar.zone() {
        return Err(CloseError::Invalid {
            field: "time_zone".into(),
            reason: format!(
                "the schedule runs in {schedule}, the provider's periods are {}s in {calendar}",
                calendar.period_length()
            ),
        });
    }
    BillingPeriod::try_of(calendar.date_of(at), calendar.period_length())
        .ok()
        .and_then(BillingPeriod::checked_previous)
        .ok_or_else(|| CloseError::Invalid {
            field: "scheduled_time".into(),
            reason: format!("{at} has no previous billing period"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn zone(name: &str) -> Calendar {
        name.parse().unwrap()
    }

    #[test]
    fn the_schedule_closes_the_month_that_just_ended_in_the_providers_zone() {
        // 00:05 on 1 December in Moscow is 21:05 UTC on 30 November.
        let moscow = zone("Europe/Moscow");
        let p = scheduled_period(at("2026-11-30T21:05:00Z"), "Europe/Moscow", moscow).unwrap();
        assert_eq!(p.to_string(), "2026-11");
        let p = scheduled_period(at("2026-12-01T00:05:00Z"), "UTC", Calendar::UTC).unwrap();
        assert_eq!(p.to_string(), "2026-11");
        let ny = zone("America/New_York");
        let p = scheduled_period(at("2027-01-01T05:05:00Z"), "America/New_York", ny).unwrap();
        assert_eq!(p.to_string(), "2026-12");
    }

    #[test]
    fn the_schedule_closes_the_quarter_that_just_ended_when_periods_are_quarters() {
        use kopek_domain::period::PeriodLength;
        let quarterly = zone("Europe/Moscow").with_period_length(PeriodLength::Quarter);
        // 00:05 on 1 January 2027 in Moscow.
        let p = scheduled_period(at("2026-12-31T21:05:00Z"), "Europe/Moscow", quarterly).unwrap();
        assert_eq!(p.to_string(), "2026-Q4");
        let yearly = Calendar::UTC.with_period_length(PeriodLength::Year);
        let p = scheduled_period(at("2027-01-01T00:05:00Z"), "UTC", yearly).unwrap();
        assert_eq!(p.to_string(), "2026");
    }

    #[test]
    fn a_schedule_in_another_zone_than_the_periods_is_refused() {
        let err = scheduled_period(at("2026-11-30T21:05:00Z"), "Europe/Moscow", Calendar::UTC)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("time_zone: the schedule runs in Europe/Moscow"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_zone_is_named() {
        let err = scheduled_period(at("2026-12-01T00:05:00Z"), "Mars/Olympus", Calendar::UTC)
            .unwrap_err();
        assert!(err.to_string().starts_with("time_zone:"));
    }
}
