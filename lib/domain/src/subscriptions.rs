//! Subscriptions to recurring services, their changes, cancellation and prorated charges.
//!
//! A [`Subscription`] is an organisation's standing order for a recurring service, billed by
//! billing period ([`BillingPeriod`]: a calendar month unless the provider's periods are
//! longer). Its history is a list of [`Segment`]s: from a day on, a service, a quantity and
//! the price version agreed for it. A segment is in force from its
//! `from` until the next segment's `from`, or until the subscription's `ends_on` (the first
//! day no longer billed), whichever comes first. Nothing is ever rewritten in the past: every
//! change takes effect today or later.
//!
//! # Rules
//!
//! - **Start** ([`Subscription::start`]): the service is recurring and active; the quantity is
//!   more than zero, and whole when the service's unit is counted whole
//!   ([`UnitOfMeasure::is_whole`]); the start day `from` is today or later. The subscription
//!   takes the service's currency, work type and [`CancellationPolicy`]; switching services
//!   later does not change the policy agreed at the start.
//! - **Change** ([`Subscription::change_quantity`], [`Subscription::switch_service`]): takes
//!   effect on a day that is today or later, not before the last segment's `from`, and
//!   before `ends_on` if the subscription is cancelled. A change on the same day as the last
//!   segment replaces that segment (the last word for a day wins). A switch goes to another
//!   recurring, active service of the same currency and the same work type (no work type
//!   matches only no work type) and keeps the quantity, which must suit the new unit. A
//!   subscription that has ended cannot change.
//! - **Cancel** ([`Subscription::cancel`]), once: under [`CancellationPolicy::EndOfPeriod`] it
//!   is billed to the end of the billing period in which it is cancelled (`ends_on` is the
//!   first day of the next period: the 1st of the next month for monthly periods); under
//!   [`CancellationPolicy::Immediately`] it is billed up to and including the day it is
//!   cancelled (`ends_on` is the day after). A subscription cancelled before it
//!   starts ends at its start and is never billed. Changes scheduled on or after `ends_on` are
//!   dropped: they would never take effect.
//! - **Charges** ([`Subscription::charges_for`]): for a period, one [`ProratedCharge`] per
//!   segment in force on at least one day of the period. Its `full_period` price is the
//!   segment's price version quoted for its quantity ([`Price::quote`], rounded once); its
//!   `amount` is that price prorated to the segment's days in the period under the one rule
//!   of [`crate::proration`]. So a segment covering the whole month costs exactly the
//!   full-period price, and a quantity that changes during the month is billed day by day at
//!   the price of each day's quantity.
//! - **Paused days** ([`Subscription::charges_for_paused`]): the days of a [`Pause`] (the
//!   customer's service suspended by dunning, [`crate::dunning`]) are not charged. A segment
//!   split by a pause is charged as one [`ProratedCharge`] per stretch of days around it,
//!   each the sum of its own days' shares — so the paused days' shares are exactly what is
//!   left out, and a pause of no day in the period changes nothing.
//! - Dates are the provider's calendar dates (see [`crate::calendar`]) in 2000-01-01 ..=
//!   9999-12-31 (the days billing periods cover).
//!
//! Every refusal names the field at fault by its path in the wire form: `service`,
//! `price_version`, `quantity`, `from` (of a start), `effective_from` (of a change),
//! `ends_on` (a subscription already cancelled or ended), or, when a stored record is
//! inconsistent, e.g. `segments[2].from`.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{
    CancellationPolicy, Service, ServiceCode, ServiceKind, UnitOfMeasure, WorkType,
};
use crate::ids::{OrgId, SubscriptionId};
use crate::money::{Currency, Money, MoneyError};
use crate::period::{BillingPeriod, PeriodLength};
use crate::pricing::{Price, PricingError, Quantity};
use crate::proration;

/// Why a subscription, a change to one, or its charges were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// A field breaks a rule; `field` is its path, e.g. `quantity`.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The request contradicts the subscription's state (a change before the last one, a
    /// second cancellation) or the catalog's (a retired service).
    #[error("{field}: {reason}")]
    Conflict { field: String, reason: String },
    /// A segment's price version could not be found to price it.
    #[error("price version {price_version} of service {service} is not known")]
    UnknownPriceVersion {
        service: ServiceCode,
        price_version: u32,
    },
    /// A price could not be quoted.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// An amount could not be computed (out of range, or a price in another currency).
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl SubscriptionError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SubscriptionError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SubscriptionError::Conflict {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The path of the field at fault, if one is: `service`, `price_version`, `quantity`,
    /// `from`, `effective_from`, `ends_on`, or a path inside a stored record.
    pub fn field(&self) -> Option<&str> {
        match self {
            SubscriptionError::Invalid { field, .. }
            | SubscriptionError::Conflict { field, .. } => Some(field),
            SubscriptionError::UnknownPriceVersion { .. }
            | SubscriptionError::Pricing(_)
            | SubscriptionError::Money(_) => None,
        }
    }
}

/// From `from` on, `quantity` of `service` at its price version `price_version`: in force
/// until the next segment's `from` or the subscription's `ends_on`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// The first day this segment is in force.
    pub from: NaiveDate,
    pub service: ServiceCode,
    /// The service's unit, kept so that a later quantity change can be checked against it.
    pub unit: UnitOfMeasure,
    pub quantity: Quantity,
    /// The version of the service's price agreed for this segment (1 or more).
    pub price_version: u32,
}

/// Days on which a customer's subscriptions are not charged: from `from` up to `until`
/// (exclusive; `None` while it lasts). Dunning's suspension of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// The first day not charged.
    pub from: NaiveDate,
    /// The first day charged again; `None` while the pause lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

impl Pause {
    /// Whether `day` is paused.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && self.until.is_none_or(|until| day < until)
    }
}

/// The stretches of `[from, until)` that no pause covers, in day order.
fn unpaused(from: NaiveDate, until: NaiveDate, pauses: &[Pause]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut parts = vec![(from, until)];
    for pause in pauses {
        let pause_until = pause.until.unwrap_or(NaiveDate::MAX);
        if pause_until <= pause.from {
            continue;
        }
        // What is left of each stretch before the pause and after it.
        parts = parts
            .into_iter()
            .flat_map(|(a, b)| [(a, b.min(pause.from)), (a.max(pause_until), b)])
            .filter(|(a, b)| a < b)
            .collect();
    }
    parts
}

/// Where a subscription stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Not in force yet: the day is before its start.
    Scheduled,
    /// In force, not cancelled.
    Active,
    /// In force, cancelled: it ends on `ends_on`.
    Cancelling,
    /// No longer in force (or cancelled before it started): nothing more is billed.
    Ended,
}

/// The price of one segment's days in one billing period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProratedCharge {
    pub service: ServiceCode,
    pub unit: UnitOfMeasure,
    pub quantity: Quantity,
    pub price_version: u32,
    /// The first day charged (within the period).
    pub from: NaiveDate,
    /// The day after the last day charged.
    pub until_exclusive: NaiveDate,
    /// How many days are charged.
    pub days: u32,
    /// How many days the period has.
    pub period_days: u32,
    /// What the whole period would cost: the price quoted for the quantity, rounded.
    pub full_period: Money,
    /// What these days cost: `full_period` prorated under [`crate::proration`].
    pub amount: Money,
}

/// The plain form of a [`Subscription`], for adapters that load one from storage: build it
/// and call `Subscription::try_from`, which checks the rules again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRecord {
    pub id: SubscriptionId,
    pub org: OrgId,
    #[serde(default)]
    pub work_type: Option<WorkType>,
    pub currency: Currency,
    pub cancellation: CancellationPolicy,
    pub segments: Vec<Segment>,
    /// The first day no longer billed; `None` while not cancelled.
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// A subscription to a recurring service; see the module docs for its rules.
///
/// Invariants: at least one segment; segments start on strictly increasing days; every
/// quantity is more than zero and whole when its unit is counted whole; every price version
/// is 1 or more; if `ends_on` is set, it is not before the first segment's `from` and every
/// later segment starts before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SubscriptionRecord", into = "SubscriptionRecord")]
pub struct Subscription {
    id: SubscriptionId,
    org: OrgId,
    work_type: Option<WorkType>,
    currency: Currency,
    cancellation: CancellationPolicy,
    segments: Vec<Segment>,
    ends_on: Option<NaiveDate>,
    created_at: DateTime<Utc>,
}

/// What a new subscription is: `org` subscribes to `quantity` of `service` at its price
/// version `price_version`, from the day `from`.
#[derive(Debug, Clone, Copy)]
pub struct NewSubscription<'a> {
    pub org: OrgId,
    pub service: &'a Service,
    pub price_version: u32,
    pub quantity: Quantity,
    pub from: NaiveDate,
}

impl Subscription {
    /// The subscription `id` as `new` describes it, started on `today` at `now`; `from` must
    /// be today or later.
    ///
    /// Refused if the service is not recurring (`service`) or is retired (`service`, a
    /// conflict), the price version is 0 (`price_version`), the quantity is zero or not whole
    /// for a unit counted whole (`quantity`), or `from` is in the past or out of range
    /// (`from`). Which price version is in force is the caller's to find
    /// ([`crate::catalog::price_in_force`]).
    pub fn start(
        id: SubscriptionId,
        new: NewSubscription<'_>,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Self, SubscriptionError> {
        let NewSubscription {
            org,
            service,
            price_version,
            quantity,
            from,
        } = new;
        check_subscribable(service)?;
        check_price_version("price_version", price_version)?;
        check_quantity("quantity", quantity, service.unit())?;
        check_day("from", from, today)?;
        Ok(Self {
            id,
            org,
            work_type: service.work_type().cloned(),
            currency: service.currency(),
            cancellation: service.cancellation(),
            segments: vec![Segment {
                from,
                service: service.code().clone(),
                unit: service.unit(),
                quantity,
                price_version,
            }],
            ends_on: None,
            created_at: now,
        })
    }

    /// From `effective` on (today or later), `quantity` of the same service at the same price
    /// version as the last segment. Refused as the module docs say; errors name `quantity`,
    /// `effective_from` or, for an ended subscription, `ends_on`.
    pub fn change_quantity(
        &mut self,
        quantity: Quantity,
        effective: NaiveDate,
        today: NaiveDate,
    ) -> Result<(), SubscriptionError> {
        self.check_change(effective, today)?;
        let last = self.last_segment();
        check_quantity("quantity", quantity, last.unit)?;
        let segment = Segment {
            from: effective,
            quantity,
            ..last.clone()
        };
        self.push(segment);
        Ok(())
    }

    /// From `effective` on (today or later), the service `to` at its price version
    /// `price_version`, keeping the quantity. Refused as the module docs say; errors name
    /// `service`, `price_version`, `effective_from` or, for an ended subscription, `ends_on`.
    pub fn switch_service(
        &mut self,
        to: &Service,
        price_version: u32,
        effective: NaiveDate,
        today: NaiveDate,
    ) -> Result<(), SubscriptionError> {
        self.check_change(effective, today)?;
        check_subscribable(to)?;
        if to.currency() != self.currency {
            return Err(SubscriptionError::invalid(
                "service",
                format!(
                    "must be priced in {}, the subscription's currency ({} is priced in {})",
                    self.currency,
                    to.code(),
                    to.currency()
                ),
            ));
        }
        if to.work_type() != self.work_type.as_ref() {
            let name = |w: Option<&WorkType>| w.map_or("none".to_owned(), WorkType::to_string);
            return Err(SubscriptionError::invalid(
                "service",
                format!(
                    "must have the subscription's work type ({}), not {}",
                    name(self.work_type.as_ref()),
                    name(to.work_type())
                ),
            ));
        }
        let last = self.last_segment();
        if to.code() == &last.service {
            return Err(SubscriptionError::conflict(
                "service",
                format!("{} is already the subscribed service", to.code()),
            ));
        }
        check_price_version("price_version", price_version)?;
        if to.unit().is_whole() && !last.quantity.is_whole() {
            return Err(SubscriptionError::invalid(
                "service",
                format!(
                    "counts whole units, and the subscribed quantity {} is not whole",
                    last.quantity
                ),
            ));
        }
        let segment = Segment {
            from: effective,
            service: to.code().clone(),
            unit: to.unit(),
            quantity: last.quantity,
            price_version,
        };
        self.push(segment);
        Ok(())
    }

    /// Cancels the subscription on `today` under its cancellation policy (see the module
    /// docs; the provider's periods have `length`) and returns `ends_on`, the first day no
    /// longer billed. Refused (`ends_on`, a conflict) if it is already cancelled.
    pub fn cancel(
        &mut self,
        today: NaiveDate,
        length: PeriodLength,
    ) -> Result<NaiveDate, SubscriptionError> {
        if let Some(ends_on) = self.ends_on {
            return Err(SubscriptionError::conflict(
                "ends_on",
                format!("the subscription is already cancelled: it is not billed from {ends_on}"),
            ));
        }
        let start = self.starts_on();
        let ends_on = if today < start {
            start
        } else {
            match self.cancellation {
                CancellationPolicy::EndOfPeriod => BillingPeriod::of(today, length).end_exclusive(),
                CancellationPolicy::Immediately => {
                    today.checked_add_days(Days::new(1)).ok_or_else(|| {
                        SubscriptionError::invalid("today", "is past the last supported day")
                    })?
                }
            }
        };
        // The first segment always stays (it starts on or before `ends_on`); later ones that
        // would start on or after `ends_on` never take effect.
        let keep = 1 + self.segments[1..]
            .iter()
            .take_while(|s| s.from < ends_on)
            .count();
        self.segments.truncate(keep);
        self.ends_on = Some(ends_on);
        Ok(ends_on)
    }

    /// Where the subscription stands on `date`.
    pub fn status_on(&self, date: NaiveDate) -> SubscriptionStatus {
        let start = self.starts_on();
        match self.ends_on {
            Some(end) if end <= start || date >= end => SubscriptionStatus::Ended,
            _ if date < start => SubscriptionStatus::Scheduled,
            Some(_) => SubscriptionStatus::Cancelling,
            None => SubscriptionStatus::Active,
        }
    }

    /// The segment in force on `date`, if the subscription is.
    pub fn segment_on(&self, date: NaiveDate) -> Option<&Segment> {
        if self.ends_on.is_some_and(|end| date >= end) {
            return None;
        }
        self.segments.iter().rev().find(|s| s.from <= date)
    }

    /// The charges of `period`: one per segment in force on at least one day of it, in
    /// order, priced with `price_of(service, price_version)` and prorated under
    /// [`crate::proration`] (see the module docs). Empty if the subscription is not in force
    /// on any day of the period.
    ///
    /// Fails if a price version is not known ([`SubscriptionError::UnknownPriceVersion`]), is
    /// in another currency than the subscription ([`MoneyError::CurrencyMismatch`]) or cannot
    /// be quoted.
    pub fn charges_for(
        &self,
        period: BillingPeriod,
        price_of: impl Fn(&ServiceCode, u32) -> Option<Price>,
    ) -> Result<Vec<ProratedCharge>, SubscriptionError> {
        self.charges_for_paused(period, price_of, &[])
    }

    /// [`Self::charges_for`] without the days of `pauses` (see "Paused days" in the module
    /// docs): a segment's days around a pause are charged as separate stretches.
    pub fn charges_for_paused(
        &self,
        period: BillingPeriod,
        price_of: impl Fn(&ServiceCode, u32) -> Option<Price>,
        pauses: &[Pause],
    ) -> Result<Vec<ProratedCharge>, SubscriptionError> {
        let mut charges = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            let next = self.segments.get(i + 1).map(|s| s.from);
            let until = [next, self.ends_on]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(period.end_exclusive());
            let Some((from, until)) = period.overlap(segment.from, until) else {
                continue;
            };
            let price = price_of(&segment.service, segment.price_version).ok_or_else(|| {
                SubscriptionError::UnknownPriceVersion {
                    service: segment.service.clone(),
                    price_version: segment.price_version,
                }
            })?;
            if price.currency() != self.currency {
                return Err(MoneyError::CurrencyMismatch {
                    left: self.currency,
                    right: price.currency(),
                }
                .into());
            }
            let full_period = price.quote(segment.quantity)?.total();
            for (from, until) in unpaused(from, until, pauses) {
                let Some(part) = proration::prorate_part(full_period, period, from, until)? else {
                    continue;
                };
                charges.push(ProratedCharge {
                    service: segment.service.clone(),
                    unit: segment.unit,
                    quantity: segment.quantity,
                    price_version: segment.price_version,
                    from: part.from,
                    until_exclusive: part.until_exclusive,
                    days: part.days,
                    period_days: period.days(),
                    full_period,
                    amount: part.amount,
                });
            }
        }
        Ok(charges)
    }

    pub fn id(&self) -> SubscriptionId {
        self.id
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    pub fn work_type(&self) -> Option<&WorkType> {
        self.work_type.as_ref()
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn cancellation(&self) -> CancellationPolicy {
        self.cancellation
    }

    /// Every segment, in the order they take effect (never empty).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The last segment: the service and quantity the subscription ends up with.
    pub fn last_segment(&self) -> &Segment {
        self.segments
            .last()
            .expect("a subscription has at least one segment")
    }

    /// The first day in force (the first segment's `from`).
    pub fn starts_on(&self) -> NaiveDate {
        self.segments[0].from
    }

    /// The first day no longer billed, once cancelled.
    pub fn ends_on(&self) -> Option<NaiveDate> {
        self.ends_on
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Refuses a change taking effect on `effective` as the module docs say.
    fn check_change(
        &self,
        effective: NaiveDate,
        today: NaiveDate,
    ) -> Result<(), SubscriptionError> {
        if self.status_on(today) == SubscriptionStatus::Ended {
            return Err(SubscriptionError::conflict(
                "ends_on",
                "the subscription has ended and can no longer change",
            ));
        }
        check_day("effective_from", effective, today)?;
        let last = self.last_segment().from;
        if effective < last {
            return Err(SubscriptionError::conflict(
                "effective_from",
                format!("must not be before {last}, when the last change takes effect"),
            ));
        }
        if let Some(ends_on) = self.ends_on.filter(|end| effective >= *end) {
            return Err(SubscriptionError::conflict(
                "effective_from",
                format!("must be before {ends_on}, the first day the subscription is not billed"),
            ));
        }
        Ok(())
    }

    /// Appends a checked segment, replacing the last one if it starts on the same day.
    fn push(&mut self, segment: Segment) {
        if self.last_segment().from == segment.from {
            self.segments.pop();
        }
        self.segments.push(segment);
    }
}

fn check_subscribable(service: &Service) -> Result<(), SubscriptionError> {
    if service.kind() != ServiceKind::Recurring {
        return Err(SubscriptionError::invalid(
            "service",
            format!("{} is not a recurring service", service.code()),
        ));
    }
    if !service.is_active() {
        return Err(SubscriptionError::conflict(
            "service",
            format!("service {} is retired", service.code()),
        ));
    }
    Ok(())
}

fn check_price_version(field: &str, version: u32) -> Result<(), SubscriptionError> {
    if version == 0 {
        return Err(SubscriptionError::invalid(field, "must be 1 or more"));
    }
    Ok(())
}

fn check_quantity(
    field: &str,
    quantity: Quantity,
    unit: UnitOfMeasure,
) -> Result<(), SubscriptionError> {
    if quantity == Quantity::ZERO {
        return Err(SubscriptionError::invalid(field, "must be more than zero"));
    }
    if unit.is_whole() && !quantity.is_whole() {
        return Err(SubscriptionError::invalid(
            field,
            "must be a whole number: the service's unit is counted in whole units",
        ));
    }
    Ok(())
}

/// A day a start or change takes effect: today or later, and in the supported range.
fn check_day(field: &str, day: NaiveDate, today: NaiveDate) -> Result<(), SubscriptionError> {
    if day < today {
        return Err(SubscriptionError::invalid(field, "must not be in the past"));
    }
    check_in_range(field, day)
}

fn check_in_range(field: &str, day: NaiveDate) -> Result<(), SubscriptionError> {
    BillingPeriod::try_of(day, PeriodLength::Month)
        .map(|_| ())
        .map_err(|_| {
            SubscriptionError::invalid(field, "must be a day from 2000-01-01 to 9999-12-31")
        })
}

impl TryFrom<SubscriptionRecord> for Subscription {
    type Error = SubscriptionError;

    fn try_from(r: SubscriptionRecord) -> Result<Self, Self::Error> {
        if r.segments.is_empty() {
            return Err(SubscriptionError::invalid(
                "segments",
                "must have at least one segment",
            ));
        }
        if let Some(end) = r.ends_on {
            if end < r.segments[0].from {
                return Err(SubscriptionError::invalid(
                    "ends_on",
                    "must not be before segments[0].from",
                ));
            }
            if end > BillingPeriod::MAX.end_exclusive() {
                return Err(SubscriptionError::invalid(
                    "ends_on",
                    "must be no later than 10000-01-01",
                ));
            }
        }
        for (i, s) in r.segments.iter().enumerate() {
            let field = |name: &str| format!("segments[{i}].{name}");
            check_in_range(&field("from"), s.from)?;
            check_quantity(&field("quantity"), s.quantity, s.unit)?;
            check_price_version(&field("price_version"), s.price_version)?;
            if i > 0 && s.from <= r.segments[i - 1].from {
                return Err(SubscriptionError::invalid(
                    field("from"),
                    format!("must be after segments[{}].from", i - 1),
                ));
            }
            if i > 0 && r.ends_on.is_some_and(|end| s.from >= end) {
                return Err(SubscriptionError::invalid(
                    field("from"),
                    "must be before ends_on",
                ));
            }
        }
        Ok(Subscription {
            id: r.id,
            org: r.org,
            work_type: r.work_type,
            currency: r.currency,
            cancellation: r.cancellation,
            segments: r.segments,
            ends_on: r.ends_on,
            created_at: r.created_at,
        })
    }
}

impl From<Subscription> for SubscriptionRecord {
    fn from(s: Subscription) -> Self {
        SubscriptionRecord {
            id: s.id,
            org: s.org,
            work_type: s.work_type,
            currency: s.currency,
            cancellation: s.cancellation,
            segments: s.segments,
            ends_on: s.ends_on,
            created_at: s.created_at,
        }
    }
}

#[cfg(test)]
mod tests;
