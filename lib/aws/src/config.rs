//! Typed configuration, read once at cold start.
//!
//! Every variable is named in the error when it is missing or malformed, so a function that
//! is misconfigured fails fast at start with a message that says what to fix. The values come
//! from the function's environment in `infra/template.yaml` (the local stack derives the same
//! environment from the same template).

use std::time::Duration;

use kopek_domain::audit::Retention;
use kopek_domain::calendar::Calendar;
use kopek_domain::period::{PeriodLength, PeriodLengthError};

/// A variable that is missing or cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
}

/// What every Kopek function needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The single-table design's table (`MainTable` in the template).
    pub table_name: String,
    /// The Secrets Manager secret holding the key that signs access tokens.
    pub token_key_secret_arn: String,
    /// How long an access token lives (default 15 minutes).
    pub access_token_ttl: Duration,
    /// How long a session (its refresh token) lives (default 30 days).
    pub session_ttl: Duration,
    /// How long a batch of work orders may stay untouched before its open work goes back to
    /// the queue (default 8 hours).
    pub batch_timeout: Duration,
    /// The queue usage events go through (`UsageQueue`), for functions that enqueue them.
    pub usage_queue_url: Option<String>,
    /// Usage events older than this are refused as `too_old` (default 45 days).
    /// How old a usage event may be and still count (`KOPEK_USAGE_GRACE_SECS`; by default
    /// the longest period of the calendar's length plus [`USAGE_GRACE_EXTRA_DAYS`]: 45 days
    /// for months, 106 for quarters, so an event of any day of an open period counts).
    pub usage_grace: Duration,
    /// The queue of the period close (`CloseQueue`): planning pages and customer jobs.
    pub close_queue_url: Option<String>,
    /// `KOPEK_NUMBER_QUEUE_URL`: the close's numbering queue (`NumberQueue`, FIFO): invoices
    /// composed and waiting for their numbers, one message group per series.
    pub number_queue_url: Option<String>,
    /// `KOPEK_DOCUMENTS_QUEUE_URL`: where document jobs go (the outbox relay, the documents
    /// function).
    pub documents_queue_url: Option<String>,
    /// `KOPEK_BANK_QUEUE_URL`: where chunks of an uploaded bank statement go (the
    /// `bank-import` function).
    pub bank_queue_url: Option<String>,
    /// `KOPEK_WEBHOOK_QUEUE_URL`: where webhook deliveries wait for their attempt (the
    /// dispatcher sends, the `webhook-delivery` function receives).
    pub webhook_queue_url: Option<String>,
    /// `KOPEK_WEBHOOKS_ALLOW_PRIVATE` (`true`/`false`, default `false`): whether webhook
    /// deliveries may reach private, loopback and link-local addresses — only for a
    /// deployment whose CRM is inside its own network, and for local receivers.
    pub webhooks_allow_private: bool,
    /// `KOPEK_AUDIT_RETENTION_DAYS` (the template's `AuditRetentionDays`; default 1826, five
    /// years): how long audit records stay in the table before the archive takes them.
    pub audit_retention: Retention,
    /// `KOPEK_AUDIT_STRICT` (`true`/`false`, default `false`): a state-changing request that
    /// succeeded without an audit record fails (500) instead of only being logged — on in
    /// tests and the local stack, so a gap shows at once.
    pub audit_strict: bool,
    /// `KOPEK_DOCUMENTS_BUCKET`: where closing documents are filed.
    pub documents_bucket: Option<String>,
    /// `KOPEK_SIGNING_KEY_ID`: the KMS key documents are signed with.
    pub signing_key_id: Option<String>,
    /// `KOPEK_MAIL_FROM`: the sender of notifications (a verified SES identity).
    pub mail_from: Option<String>,
    /// `KOPEK_PUBLIC_URL`: where people reach Kopek, the base of links sent by mail
    /// (password resets); unset or empty: no such mail is sent.
    pub public_url: Option<String>,
    /// How long a customer's job waits after its usage and charges are sealed before the
    /// close reads them (default 60 s, more than the ingest function's timeout; 0–900).
    pub close_seal_wait: Duration,
    /// `KOPEK_CLOSE_PLAN_SEGMENTS`: how many planning chains a close runs at once (a divisor
    /// of the 32 job shards; default 32).
    pub close_plan_segments: kopek_domain::close::PlanSegments,
    /// The provider's legal entity code that prefixes invoice numbers, until billing
    /// settings are saved (default `KPK`).
    pub invoice_series: String,
    /// The provider's calendar: the IANA time zone its days and billing periods are counted
    /// in (`KOPEK_TIME_ZONE`, the template's `ProviderTimeZone`; default `UTC`) and the length
    /// of its periods in months (`KOPEK_PERIOD_MONTHS`, the template's `BillingPeriodMonths`:
    /// 1, 3, 6 or 12; default 1).
    pub calendar: Calendar,
}

/// Days beyond the longest period that a usage event may still arrive by default.
pub const USAGE_GRACE_EXTRA_DAYS: u64 = 14;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, for tests and the local stack.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match lookup(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .map(Duration::from_secs)
                    .ok_or_else(|| ConfigError::Malformed {
                        name,
                        reason: format!("expected a positive number of seconds, got {v:?}"),
                    }),
            }
        };
        let flag = |name: &'static str| match lookup(name).as_deref().map(str::trim) {
            None | Some("") | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ConfigError::Malformed {
                name,
                reason: format!("expected true or false, got {other:?}"),
            }),
        };
        let calendar = match lookup("KOPEK_TIME_ZONE").filter(|v| !v.trim().is_empty()) {
            None => Calendar::UTC,
            Some(v) => v.parse().map_err(|e: kopek_domain::calendar::ZoneError| {
                ConfigError::Malformed {
                    name: "KOPEK_TIME_ZONE",
                    reason: e.to_string(),
                }
            })?,
        }
        .with_period_length(
            match lookup("KOPEK_PERIOD_MONTHS").filter(|v| !v.trim().is_empty()) {
                None => PeriodLength::Month,
                Some(v) => v
                    .parse()
                    .map_err(|e: PeriodLengthError| ConfigError::Malformed {
                        name: "KOPEK_PERIOD_MONTHS",
                        reason: e.to_string(),
                    })?,
            },
        );
        Ok(Self {
            table_name: required("KOPEK_TABLE_NAME")?,
            token_key_secret_arn: required("KOPEK_TOKEN_KEY_SECRET_ARN")?,
            access_token_ttl: seconds("KOPEK_ACCESS_TOKEN_TTL_SECS", 15 * 60)?,
            session_ttl: seconds("KOPEK_SESSION_TTL_SECS", 30 * 24 * 3600)?,
            batch_timeout: seconds("KOPEK_BATCH_TIMEOUT_SECS", 8 * 3600)?,
            usage_queue_url: lookup("KOPEK_USAGE_QUEUE_URL").filter(|v| !v.trim().is_empty()),
            usage_grace: seconds(
                "KOPEK_USAGE_GRACE_SECS",
                (u64::from(calendar.period_length().max_days()) + USAGE_GRACE_EXTRA_DAYS)
                    * 24
                    * 3600,
            )?,
            close_queue_url: lookup("KOPEK_CLOSE_QUEUE_URL").filter(|v| !v.trim().is_empty()),
            number_queue_url: lookup("KOPEK_NUMBER_QUEUE_URL").filter(|v| !v.trim().is_empty()),
            documents_queue_url: lookup("KOPEK_DOCUMENTS_QUEUE_URL")
                .filter(|v| !v.trim().is_empty()),
            bank_queue_url: lookup("KOPEK_BANK_QUEUE_URL").filter(|v| !v.trim().is_empty()),
            webhook_queue_url: lookup("KOPEK_WEBHOOK_QUEUE_URL").filter(|v| !v.trim().is_empty()),
            webhooks_allow_private: flag("KOPEK_WEBHOOKS_ALLOW_PRIVATE")?,
            audit_retention: match lookup("KOPEK_AUDIT_RETENTION_DAYS")
                .filter(|v| !v.trim().is_empty())
            {
                None => Retention::default(),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .map_err(|e| e.to_string())
                    .and_then(Retention::days)
                    .map_err(|reason| ConfigError::Malformed {
                        name: "KOPEK_AUDIT_RETENTION_DAYS",
                        reason,
                    })?,
            },
            audit_strict: flag("KOPEK_AUDIT_STRICT")?,
            documents_bucket: lookup("KOPEK_DOCUMENTS_BUCKET").filter(|v| !v.trim().is_empty()),
            signing_key_id: lookup("KOPEK_SIGNING_KEY_ID").filter(|v| !v.trim().is_empty()),
            mail_from: lookup("KOPEK_MAIL_FROM").filter(|v| !v.trim().is_empty()),
            public_url: lookup("KOPEK_PUBLIC_URL").filter(|v| !v.trim().is_empty()),
            close_plan_segments: match lookup("KOPEK_CLOSE_PLAN_SEGMENTS") {
                None => kopek_domain::close::PlanSegments::ALL,
                Some(v) => v
                    .trim()
                    .parse::<u8>()
                    .map_err(|e| e.to_string())
                    .and_then(kopek_domain::close::PlanSegments::new)
                    .map_err(|reason| ConfigError::Malformed {
                        name: "KOPEK_CLOSE_PLAN_SEGMENTS",
                        reason,
                    })?,
            },
            close_seal_wait: match lookup("KOPEK_CLOSE_SEAL_WAIT_SECS") {
                None => Duration::from_secs(60),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= 900)
                    .map(Duration::from_secs)
                    .ok_or_else(|| ConfigError::Malformed {
                        name: "KOPEK_CLOSE_SEAL_WAIT_SECS",
                        reason: format!("expected 0 to 900 seconds, got {v:?}"),
                    })?,
            },
            invoice_series: lookup("KOPEK_INVOICE_SERIES")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "KPK".into()),
            calendar,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Config::from_lookup(lookup(&[("KOPEK_TABLE_NAME", "t")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable KOPEK_TOKEN_KEY_SECRET_ARN is not set"
        );
    }

    #[test]
    fn durations_default_and_parse() {
        let base = [
            ("KOPEK_TABLE_NAME", "t"),
            ("KOPEK_TOKEN_KEY_SECRET_ARN", "arn"),
        ];
        let config = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        let mut with_ttl = base.to_vec();
        with_ttl.push(("KOPEK_ACCESS_TOKEN_TTL_SECS", "60"));
        let config = Config::from_lookup(lookup(&with_ttl)).unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(60));
    }

    #[test]
    fn the_time_zone_defaults_to_utc_and_must_be_an_iana_name() {
        let base = [
            ("KOPEK_TABLE_NAME", "t"),
            ("KOPEK_TOKEN_KEY_SECRET_ARN", "arn"),
        ];
        assert_eq!(
            Config::from_lookup(lookup(&base)).unwrap().calendar,
            Calendar::UTC
        );
        let mut moscow = base.to_vec();
        moscow.push(("KOPEK_TIME_ZONE", "Europe/Moscow"));
        let config = Config::from_lookup(lookup(&moscow)).unwrap();
        assert_eq!(config.calendar.to_string(), "Europe/Moscow");
        let mut bad = base.to_vec();
        bad.push(("KOPEK_TIME_ZONE", "MSK+3"));
        let err = Config::from_lookup(lookup(&bad)).unwrap_err();
        assert!(err.to_string().contains("KOPEK_TIME_ZONE"), "{err}");
    }

    #[test]
    fn periods_are_months_unless_the_length_says_otherwise() {
        let base = [
            ("KOPEK_TABLE_NAME", "t"),
            ("KOPEK_TOKEN_KEY_SECRET_ARN", "arn"),
        ];
        let config = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(config.calendar.period_length(), PeriodLength::Month);
        let mut quarterly = base.to_vec();
        quarterly.push(("KOPEK_TIME_ZONE", "Europe/Moscow"));
        quarterly.push(("KOPEK_PERIOD_MONTHS", "3"));
        let config = Config::from_lookup(lookup(&quarterly)).unwrap();
        assert_eq!(config.calendar.period_length(), PeriodLength::Quarter);
        assert_eq!(config.calendar.to_string(), "Europe/Moscow");
        // The grace window covers every day of an open period, and two weeks more.
        assert_eq!(config.usage_grace, Duration::from_secs(106 * 24 * 3600));
        let monthly = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(monthly.usage_grace, Duration::from_secs(45 * 24 * 3600));
        quarterly.push(("KOPEK_USAGE_GRACE_SECS", "60"));
        let config = Config::from_lookup(lookup(&quarterly)).unwrap();
        assert_eq!(config.usage_grace, Duration::from_secs(60));
        let mut bad = base.to_vec();
        bad.push(("KOPEK_PERIOD_MONTHS", "2"));
        let err = Config::from_lookup(lookup(&bad)).unwrap_err();
        assert!(err.to_string().contains("KOPEK_PERIOD_MONTHS"), "{err}");
    }

    #[test]
    fn a_malformed_duration_is_refused_with_its_name() {
        let err = Config::from_lookup(lookup(&[
            ("KOPEK_TABLE_NAME", "t"),
            ("KOPEK_TOKEN_KEY_SECRET_ARN", "arn"),
            ("KOPEK_SESSION_TTL_SECS", "soon"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("KOPEK_SESSION_TTL_SECS"));
    }
}
