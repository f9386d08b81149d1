//! Metered usage: the events producers report, how each one is judged, and how a period's
//! usage becomes an estimated charge.
//!
//! A producer (a router, a storage node, a CRM) reports consumption of a metered service as
//! a [`RawUsageEvent`]: its own unique `id`, the customer (a Kopek organisation id or the
//! customer's external reference), the meter (the metered service's code), a `quantity` and
//! the `timestamp` it happened at. Ingestion is two steps, both pure:
//!
//! 1. [`parse`] checks the shape (lengths, characters, a decimal quantity, an RFC 3339
//!    timestamp) and gives a [`ParsedEvent`];
//! 2. [`judge`] checks it against the catalog, the customer and the clock and gives a
//!    [`MeteredEvent`] — the customer's organisation, the period it happened in and the period
//!    it is billed in — or a [`Rejection`] with its [`RejectReason`] and the field at fault.
//!
//! # Identity and duplicates
//!
//! An event is identified by its producer-assigned `id` *within its customer, meter and the
//! period of its timestamp*: that is the key it is stored under, so the store detects a repeat
//! with a conditional write and no read. A repeat with the same [`fingerprint`](MeteredEvent::fingerprint)
//! (customer, meter, quantity, timestamp, properties) is a duplicate and counts nothing; a
//! repeat with other content is a conflict and is rejected, never merged.
//!
//! # Time policy
//!
//! - An event more than [`FUTURE_TOLERANCE`] ahead of the moment it was received is refused
//!   (`future_timestamp`): clocks drift a little, never by hours.
//! - An event older than the grace window (configuration, [`DEFAULT_GRACE_DAYS`] by default)
//!   is refused (`too_old`): past the window, usage is settled.
//! - **Late events.** An event whose period has already been closed (invoiced) for the customer
//!   never changes that invoice: it is counted into the first open period after it and marked
//!   `late`, with its own period kept, so the customer sees what it was and where it went.
//!
//! # Prices
//!
//! A period's usage of a meter is priced as one quantity ([`estimate`]) with the version of
//! the meter's price in force at the start of the period — or, for a meter first priced
//! within the period, its first version. A price version that takes effect mid-period applies
//! from the next period, so a period's usage always has exactly one price.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calendar::Calendar;
use crate::catalog::{PriceVersion, Service, ServiceCode, ServiceKind, price_in_force};
use crate::ids::OrgId;
use crate::money::Currency;
use crate::period::BillingPeriod;
use crate::pricing::{PricingError, Quantity, Quote};

/// The most characters of a producer's event id or an external customer reference.
pub const MAX_ID_CHARS: usize = 128;
/// The most properties an event may carry, and their total size in bytes (keys and values):
/// a stored event stays well under 1 KB, so it costs one write unit.
pub const MAX_PROPERTIES: usize = 16;
pub const MAX_PROPERTIES_BYTES: usize = 512;
/// How far ahead of its reception an event's timestamp may be.
pub const FUTURE_TOLERANCE: TimeDelta = TimeDelta::minutes(5);
/// The default grace window: events older than this are refused as `too_old`.
pub const DEFAULT_GRACE_DAYS: i64 = 45;

/// An event as producers send it (an SQS message body holds one or an array of them; the
/// HTTP endpoint takes them in `events`). Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsageEvent {
    /// The producer's unique id of the event.
    pub id: String,
    /// A Kopek organisation id (`org_…`) or the customer's external reference.
    pub customer: String,
    /// The metered service's code.
    pub meter: String,
    /// A decimal, as a string (`"12.5"`) or a JSON number.
    pub quantity: RawQuantity,
    /// RFC 3339, e.g. `2026-11-28T10:15:00Z`.
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// A quantity as sent: a string or an integer is exact; a fractional JSON number is taken at
/// its shortest decimal representation when that has at most 15 significant digits (what a
/// double holds exactly), and refused otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawQuantity(Result<Decimal, String>);

impl RawQuantity {
    pub fn exact(value: Decimal) -> Self {
        RawQuantity(Ok(value))
    }

    pub fn value(&self) -> Result<Decimal, &str> {
        self.0.as_ref().copied().map_err(String::as_str)
    }
}

impl Serialize for RawQuantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Ok(value) => s.serialize_str(&value.to_string()),
            Err(text) => s.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for RawQuantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawQuantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal quantity, as a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawQuantity, E> {
                // Kept as text when it does not parse: `parse` refuses it naming the field,
                // and a rejected event keeps what the producer sent.
                Ok(RawQuantity(
                    Decimal::from_str_exact(v.trim()).map_err(|_| v.to_owned()),
                ))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawQuantity, E> {
                Ok(RawQuantity(Ok(Decimal::from(v))))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawQuantity, E> {
                Ok(RawQuantity(Ok(Decimal::from(v))))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawQuantity, E> {
                let text = format!("{v}");
                let digits = text.chars().filter(char::is_ascii_digit).count();
                let exact = if v.is_finite() && digits <= 15 && !text.contains('e') {
                    Decimal::from_str_exact(&text).map_err(|_| text.clone())
                } else {
                    Err(text)
                };
                Ok(RawQuantity(exact))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Why an event was refused. Every reason is permanent: sending the same event again gives
/// the same answer until the catalog or the customer changes (then it can be re-submitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not an event at all: not JSON, a wrong type, a missing or unknown field.
    Malformed,
    /// A field breaks a rule of shape (an empty id, control characters, too many properties).
    InvalidField,
    UnknownCustomer,
    UnknownMeter,
    /// The service exists but is not metered (a one-off job or a recurring fee).
    NotMetered,
    /// The meter was retired before the event happened.
    MeterRetired,
    /// The meter is priced in another currency than the customer is invoiced in.
    CurrencyMismatch,
    /// Not a valid quantity for the meter: negative, too large, too precise, or fractional
    /// for a unit counted whole.
    BadQuantity,
    FutureTimestamp,
    TooOld,
    /// The same id was already counted with other content.
    Conflict,
}

impl RejectReason {
    pub const ALL: [RejectReason; 11] = [
        RejectReason::Malformed,
        RejectReason::InvalidField,
        RejectReason::UnknownCustomer,
        RejectReason::UnknownMeter,
        RejectReason::NotMetered,
        RejectReason::MeterRetired,
        RejectReason::CurrencyMismatch,
        RejectReason::BadQuantity,
        RejectReason::FutureTimestamp,
        RejectReason::TooOld,
        RejectReason::Conflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::InvalidField => "invalid_field",
            RejectReason::UnknownCustomer => "unknown_customer",
            RejectReason::UnknownMeter => "unknown_meter",
            RejectReason::NotMetered => "not_metered",
            RejectReason::MeterRetired => "meter_retired",
            RejectReason::CurrencyMismatch => "currency_mismatch",
            RejectReason::BadQuantity => "bad_quantity",
            RejectReason::FutureTimestamp => "future_timestamp",
            RejectReason::TooOld => "too_old",
            RejectReason::Conflict => "conflict",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RejectReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RejectReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown reason `{s}`"))
    }
}

/// An event refused, with the field at fault (`quantity`, `meter`, … or empty for the whole
/// event) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {field}: {detail}")]
pub struct Rejection {
    pub reason: RejectReason,
    pub field: String,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, field: &str, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            field: field.to_owned(),
            detail: detail.into(),
        }
    }
}

/// A producer's event id or an external reference: 1–128 characters of letters, digits and
/// `. _ : / -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventKey(String);

impl EventKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventKey {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.is_empty() || value.chars().count() > MAX_ID_CHARS {
            return Err(format!("must be 1 to {MAX_ID_CHARS} characters"));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-'))
        {
            return Err("may hold only letters, digits and . _ : / -".to_owned());
        }
        Ok(EventKey(value))
    }
}

impl From<EventKey> for String {
    fn from(key: EventKey) -> String {
        key.0
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who an event is for, as the producer names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CustomerRef {
    Org(OrgId),
    /// The customer's reference in the producer's or a CRM's system.
    External(EventKey),
}

impl CustomerRef {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with(OrgId::PREFIX) {
            return text
                .parse()
                .map(CustomerRef::Org)
                .map_err(|e: crate::ids::InvalidId| e.to_string());
        }
        EventKey::try_from(text.to_owned()).map(CustomerRef::External)
    }
}

impl fmt::Display for CustomerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomerRef::Org(org) => write!(f, "{org}"),
            CustomerRef::External(reference) => write!(f, "{reference}"),
        }
    }
}

/// An event whose shape is right; whether it can be counted is for [`judge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    pub id: EventKey,
    pub customer: CustomerRef,
    pub meter: ServiceCode,
    pub quantity: Decimal,
    pub timestamp: DateTime<Utc>,
    pub properties: BTreeMap<String, String>,
}

/// Step 1: the shape of an event. The error names the field.
pub fn parse(raw: &RawUsageEvent) -> Result<ParsedEvent, Rejection> {
    let invalid =
        |field: &str, detail: String| Rejection::new(RejectReason::InvalidField, field, detail);
    let id = EventKey::try_from(raw.id.clone()).map_err(|e| invalid("id", e))?;
    let customer = CustomerRef::parse(&raw.customer).map_err(|e| invalid("customer", e))?;
    let meter: ServiceCode = raw
        .meter
        .parse()
        .map_err(|e: crate::catalog::CatalogError| invalid("meter", e.to_string()))?;
    let quantity = raw.quantity.value().map_err(|text| {
        Rejection::new(
            RejectReason::BadQuantity,
            "quantity",
            format!("`{text}` is not a decimal number (send fractions as strings: \"12.5\")"),
        )
    })?;
    let timestamp = DateTime::parse_from_rfc3339(raw.timestamp.trim())
        .map_err(|_| {
            invalid(
                "timestamp",
                format!(
                    "`{}` is not an RFC 3339 date-time such as 2026-11-28T10:15:00Z",
                    raw.timestamp
                ),
            )
        })?
        .with_timezone(&Utc);
    if raw.properties.len() > MAX_PROPERTIES {
        return Err(invalid(
            "properties",
            format!("at most {MAX_PROPERTIES} properties"),
        ));
    }
    let bytes: usize = raw.properties.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_PROPERTIES_BYTES {
        return Err(invalid(
            "properties",
            format!("at most {MAX_PROPERTIES_BYTES} bytes of keys and values"),
        ));
    }
    for (key, value) in &raw.properties {
        let field = format!("properties.{key}");
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err(invalid(
                "properties",
                "keys must be non-empty text".to_owned(),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid(
                &field,
                "must not contain control characters".to_owned(),
            ));
        }
    }
    Ok(ParsedEvent {
        id,
        customer,
        meter,
        quantity,
        timestamp,
        properties: raw.properties.clone(),
    })
}

/// What [`judge`] needs to know besides the event.
#[derive(Debug, Clone, Copy)]
pub struct Judgement<'a> {
    /// The organisation the event's customer reference resolves to, if it does.
    pub org: Option<OrgId>,
    /// That organisation's currency: a meter priced in another is refused (its invoice could
    /// not hold the line).
    pub currency: Option<Currency>,
    /// The service named by the event's meter, if there is one.
    pub service: Option<&'a Service>,
    /// The last period already closed (invoiced) for that organisation, if any.
    pub closed_through: Option<BillingPeriod>,
    /// When the event was received (the future check is against this).
    pub received_at: DateTime<Utc>,
    /// Now (the grace window is counted back from this).
    pub now: DateTime<Utc>,
    /// Events older than this are refused.
    pub grace: TimeDelta,
    /// The provider's calendar: the event counts in the period of its local date.
    pub calendar: Calendar,
}

/// An event that counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeteredEvent {
    pub id: EventKey,
    pub org: OrgId,
    pub meter: ServiceCode,
    pub quantity: Quantity,
    pub timestamp: DateTime<Utc>,
    /// The provider's day it happened on (the date of `timestamp` in the provider's
    /// calendar).
    pub day: NaiveDate,
    /// The period the event happened in (part of its identity).
    pub period: BillingPeriod,
    /// The period it is billed in: `period`, or for a late event the first open one.
    pub billed_in: BillingPeriod,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

impl MeteredEvent {
    /// Whether the event arrived after its period was closed.
    pub fn is_late(&self) -> bool {
        self.billed_in != self.period
    }

    /// A hash of what the event says (not of when it was received or where it is billed): two
    /// deliveries of one event have the same fingerprint; an id reused for other content has
    /// another.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        for part in [
            self.id.as_str(),
            &self.org.to_string(),
            self.meter.as_str(),
            &self.quantity.value().normalize().to_string(),
            &self.timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        ] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        for (key, value) in &self.properties {
            hash.update(key.as_bytes());
            hash.update([1u8]);
            hash.update(value.as_bytes());
            hash.update([0u8]);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Step 2: whether a well-formed event counts, and in which period.
pub fn judge(event: &ParsedEvent, at: &Judgement<'_>) -> Result<MeteredEvent, Rejection> {
    let org = at.org.ok_or_else(|| {
        Rejection::new(
            RejectReason::UnknownCustomer,
            "customer",
            format!("no customer `{}`", event.customer),
        )
    })?;
    let service = at.service.ok_or_else(|| {
        Rejection::new(
            RejectReason::UnknownMeter,
            "meter",
            format!("no service `{}` in the catalog", event.meter),
        )
    })?;
    if service.kind() != ServiceKind::Metered {
        return Err(Rejection::new(
            RejectReason::NotMetered,
            "meter",
            format!("`{}` is not a metered service", event.meter),
        ));
    }
    if let Some(currency) = at.currency
        && service.currency() != currency
    {
        return Err(Rejection::new(
            RejectReason::CurrencyMismatch,
            "meter",
            format!(
                "`{}` is priced in {}, the customer is invoiced in {currency}",
                event.meter,
                service.currency()
            ),
        ));
    }
    if let Some(retired) = service.retired_at()
        && event.timestamp >= retired
    {
        return Err(Rejection::new(
            RejectReason::MeterRetired,
            "meter",
            format!("`{}` was retired at {retired}", event.meter),
        ));
    }
    let quantity = Quantity::new(event.quantity)
        .map_err(|e| Rejection::new(RejectReason::BadQuantity, "quantity", quantity_reason(&e)))?;
    if service.unit().is_whole() && !quantity.is_whole() {
        return Err(Rejection::new(
            RejectReason::BadQuantity,
            "quantity",
            format!("`{}` is counted in whole units", event.meter),
        ));
    }
    if event.timestamp > at.received_at + FUTURE_TOLERANCE {
        return Err(Rejection::new(
            RejectReason::FutureTimestamp,
            "timestamp",
            format!(
                "{} is more than {} minutes ahead of its reception",
                event.timestamp,
                FUTURE_TOLERANCE.num_minutes()
            ),
        ));
    }
    if event.timestamp < at.now - at.grace {
        return Err(Rejection::new(
            RejectReason::TooOld,
            "timestamp",
            format!(
                "{} is older than the grace window of {} days",
                event.timestamp,
                at.grace.num_days()
            ),
        ));
    }
    let period = at.calendar.period_of(event.timestamp);
    let billed_in = match at.closed_through {
        Some(closed) if closed >= period => closed.next(),
        _ => period,
    };
    Ok(MeteredEvent {
        id: event.id.clone(),
        org,
        meter: event.meter.clone(),
        quantity,
        timestamp: event.timestamp,
        day: at.calendar.date_of(event.timestamp),
        period,
        billed_in,
        properties: event.properties.clone(),
    })
}

fn quantity_reason(error: &PricingError) -> String {
    match error {
        PricingError::Invalid { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// One meter's usage of one period, summed: the total, by day, and how many events (and of
/// them late ones) it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MeterUsage {
    pub total: Decimal,
    pub by_day: BTreeMap<NaiveDate, Decimal>,
    pub events: u64,
    pub late_events: u64,
}

impl MeterUsage {
    /// Counts one event (by the day it happened on).
    pub fn add(&mut self, day: NaiveDate, quantity: Decimal, late: bool) -> Result<(), UsageError> {
        self.total = self
            .total
            .checked_add(quantity)
            .ok_or(UsageError::Overflow)?;
        let slot = self.by_day.entry(day).or_default();
        *slot = slot.checked_add(quantity).ok_or(UsageError::Overflow)?;
        self.events += 1;
        if late {
            self.late_events += 1;
        }
        Ok(())
    }

    /// Adds `other`'s counts to these (usage of several periods billed together).
    pub fn merge(&mut self, other: MeterUsage) -> Result<(), UsageError> {
        self.total = self
            .total
            .checked_add(other.total)
            .ok_or(UsageError::Overflow)?;
        for (day, quantity) in other.by_day {
            let slot = self.by_day.entry(day).or_default();
            *slot = slot.checked_add(quantity).ok_or(UsageError::Overflow)?;
        }
        self.events += other.events;
        self.late_events += other.late_events;
        Ok(())
    }
}

/// Usage summed by customer, meter and billing period.
pub type UsageKey = (OrgId, ServiceCode, BillingPeriod);

/// Sums events in memory the way the store's figures are summed: by customer, meter and the
/// period each is billed in.
pub fn aggregate<'a>(
    events: impl IntoIterator<Item = &'a MeteredEvent>,
) -> Result<BTreeMap<UsageKey, MeterUsage>, UsageError> {
    let mut totals: BTreeMap<UsageKey, MeterUsage> = BTreeMap::new();
    for event in events {
        totals
            .entry((event.org, event.meter.clone(), event.billed_in))
            .or_default()
            .add(event.day, event.quantity.value(), event.is_late())?;
    }
    Ok(totals)
}

/// Why usage could not be summed or priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("the usage total is beyond what can be counted")]
    Overflow,
    #[error("the service has no price in force in {0}")]
    NoPrice(BillingPeriod),
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// The price of a period's usage of a meter: the whole period's quantity quoted at once with
/// the version in force at the period's start (or the meter's first version, if it was first
/// priced within the period). See the module docs.
pub fn estimate(
    versions: &[PriceVersion],
    period: BillingPeriod,
    calendar: Calendar,
    total: Decimal,
) -> Result<Quote, UsageError> {
    let version = period_price(versions, period, calendar)?;
    let quantity = Quantity::new(total)?;
    Ok(version.price.quote(quantity)?)
}

/// The price version a period's usage is priced with (see [`estimate`]).
pub fn period_price(
    versions: &[PriceVersion],
    period: BillingPeriod,
    calendar: Calendar,
) -> Result<&PriceVersion, UsageError> {
    price_in_force(versions, calendar.period_start(period))
        .or_else(|| {
            versions
                .iter()
                .filter(|v| calendar.period_of(v.effective_from) == period)
                .min_by_key(|v| v.effective_from)
        })
        .ok_or(UsageError::NoPrice(period))
}

#[cfg(test)]
mod tests;
