//! The service catalog: what the provider sells, in what unit, at what tax rate and price.
//!
//! A [`Service`] is created from a [`NewService`] command by [`Service::create`], which also
//! gives the service its first [`PriceVersion`]. Prices change by adding versions, never by
//! editing one: [`Service::plan_new_version`] checks a new version against the existing ones
//! and [`price_in_force`] picks the version that applies at an instant.
//!
//! # Rules
//!
//! - A [`ServiceCode`] is 2–32 characters from `A–Z`, `0–9`, `-` and `_`, starting with a
//!   letter; it is stored upper case (`vps-small` is `VPS-SMALL`).
//! - Names and descriptions are [`LocalizedText`]: Russian and English, each 1–200
//!   characters after trimming.
//! - A [`WorkType`] is a lower-case slug of 2–32 characters from `a–z`, `0–9` and `-`,
//!   starting and ending with a letter or digit. It is required for a one-off service (one-off
//!   services become work orders) and optional otherwise.
//! - A [`TaxRate`] is `exempt` or a percentage in 0..=100 with at most 2 decimal places.
//! - The price of a service is in the service's currency.
//! - A price version takes effect at `effective_from`. A new version may not take effect in
//!   the past (more than [`CLOCK_SKEW`] before now), and no two versions of a service take
//!   effect at the same instant: a version with the `effective_from` of an existing one is
//!   refused ([`CatalogError::Conflict`]). So at any instant at most one version is in
//!   force: the one with the latest `effective_from` not after that instant. Versions are
//!   numbered 1, 2, 3… in the order they were planned, which need not be the order in which
//!   they take effect.
//! - A retired service keeps its versions but takes no new ones.
//!
//! Every validation error names the offending field by its path in the wire form, e.g.
//! `name.ru` or `price.currency`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{self, Currency, Money, MoneyError};
use crate::pricing::Price;

/// How far in the past a new price version's `effective_from` may lie, to forgive clocks
/// that disagree a little.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(1);

/// The most characters a localized text may have, after trimming.
const MAX_TEXT_CHARS: usize = 200;

/// Why a catalog operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A field breaks a rule; `field` is its path, e.g. `name.ru`.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The request contradicts what already exists (e.g. a second version taking effect at
    /// the same instant as another).
    #[error("{field}: {reason}")]
    Conflict { field: String, reason: String },
    /// The service is retired and cannot change.
    #[error("service {code} is retired")]
    Retired { code: ServiceCode },
}

impl CatalogError {
    /// The same error with its field path placed under `prefix`, for a caller that checks a
    /// part of something larger: `LocalizedText::new(ru, en).map_err(|e| e.under("name"))`
    /// reports `name.ru`.
    pub fn under(self, prefix: &str) -> Self {
        match self {
            CatalogError::Invalid { field, reason } => CatalogError::Invalid {
                field: format!("{prefix}.{field}"),
                reason,
            },
            other => other,
        }
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> CatalogError {
    CatalogError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Serde through `FromStr`/`Display`, for types whose wire form is their text form.
macro_rules! serde_as_string {
    ($name:ty) => {
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The code a service is known by, e.g. `VPS-SMALL`: see the module docs for the rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceCode(String);

impl ServiceCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ServiceCode {
    type Err = CatalogError;

    /// Parses a code, trimming surrounding spaces and turning letters upper case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_uppercase();
        let allowed =
            |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_';
        let keeps_rule = (2..=32).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_uppercase())
            && code.chars().all(allowed);
        if keeps_rule {
            Ok(Self(code))
        } else {
            Err(invalid(
                "code",
                "must be 2 to 32 characters from A-Z, 0-9, '-' and '_', starting with a letter",
            ))
        }
    }
}

impl fmt::Display for ServiceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_string!(ServiceCode);

/// The kind of work a one-off service turns into, e.g. `installation`: see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkType(String);

impl WorkType {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for WorkType {
    type Err = CatalogError;

    /// Parses a slug, trimming surrounding spaces and turning letters lower case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let slug = s.trim().to_ascii_lowercase();
        let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        let keeps_rule = (2..=32).contains(&slug.len())
            && slug.chars().all(|c| alphanumeric(c) || c == '-')
            && slug.starts_with(alphanumeric)
            && slug.ends_with(alphanumeric);
        if keeps_rule {
            Ok(Self(slug))
        } else {
            Err(invalid(
                "work_type",
                "must be 2 to 32 characters from a-z, 0-9 and '-', starting and ending with a letter or digit",
            ))
        }
    }
}

impl fmt::Display for WorkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_string!(WorkType);

/// A language the catalog speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ru,
    En,
}

/// A text in Russian and English, each 1–200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LocalizedText {
    ru: String,
    en: String,
}

impl LocalizedText {
    /// Both texts, trimmed, if each keeps the rule; errors name the field `ru` or `en`.
    pub fn new(ru: &str, en: &str) -> Result<Self, CatalogError> {
        Ok(Self {
            ru: checked_text("ru", ru)?,
            en: checked_text("en", en)?,
        })
    }

    pub fn ru(&self) -> &str {
        &self.ru
    }

    pub fn en(&self) -> &str {
        &self.en
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ru => &self.ru,
            Lang::En => &self.en,
        }
    }
}

impl<'de> Deserialize<'de> for LocalizedText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            ru: String,
            en: String,
        }
        let raw = Raw::deserialize(d)?;
        Self::new(&raw.ru, &raw.en).map_err(serde::de::Error::custom)
    }
}

fn checked_text(field: &str, text: &str) -> Result<String, CatalogError> {
    let text = text.trim();
    match text.chars().count() {
        0 => Err(invalid(field, "must not be empty")),
        n if n > MAX_TEXT_CHARS => Err(invalid(
            field,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        )),
        _ => Ok(text.to_owned()),
    }
}

/// What a quantity of a service is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitOfMeasure {
    Piece,
    Hour,
    Day,
    Month,
    Gigabyte,
    Megabyte,
    Terabyte,
    /// Megabits per second (a bandwidth commitment).
    Mbps,
    Request,
    KilowattHour,
    Kilogram,
    Delivery,
    Visit,
    /// An amount of money in the service's currency: what a percentage price is taken of
    /// (payments collected, goods bought on the customer's behalf).
    Amount,
}

impl UnitOfMeasure {
    /// Whether quantities in this unit are whole numbers (no half a piece or half a visit).
    pub fn is_whole(self) -> bool {
        matches!(
            self,
            UnitOfMeasure::Piece
                | UnitOfMeasure::Month
                | UnitOfMeasure::Request
                | UnitOfMeasure::Delivery
                | UnitOfMeasure::Visit
        )
    }

    /// The unit's code in the Russian classifier of units of measurement (ОКЕИ, OK 015-94),
    /// as printed on invoices and acts. Units without an entry of their own (a request, a
    /// delivery) are counted as 642 "единица".
    pub fn okei_code(self) -> u16 {
        match self {
            UnitOfMeasure::Piece => 796,
            UnitOfMeasure::Hour => 356,
            UnitOfMeasure::Day => 359,
            UnitOfMeasure::Month => 362,
            UnitOfMeasure::Gigabyte => 2553,
            UnitOfMeasure::Megabyte => 257,
            UnitOfMeasure::Terabyte => 2554,
            UnitOfMeasure::Mbps => 2545,
            UnitOfMeasure::Request | UnitOfMeasure::Delivery => 642,
            UnitOfMeasure::KilowattHour => 245,
            UnitOfMeasure::Kilogram => 166,
            UnitOfMeasure::Visit => 5451,
            UnitOfMeasure::Amount => 383,
        }
    }

    /// The short name to print after a quantity. In Russian it is the ОКЕИ national symbol
    /// that goes with [`okei_code`](Self::okei_code).
    pub fn short_name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (UnitOfMeasure::Piece, Lang::Ru) => "шт",
            (UnitOfMeasure::Piece, Lang::En) => "pcs",
            (UnitOfMeasure::Hour, Lang::Ru) => "ч",
            (UnitOfMeasure::Hour, Lang::En) => "h",
            (UnitOfMeasure::Day, Lang::Ru) => "сут",
            (UnitOfMeasure::Day, Lang::En) => "d",
            (UnitOfMeasure::Month, Lang::Ru) => "мес",
            (UnitOfMeasure::Month, Lang::En) => "mo",
            (UnitOfMeasure::Gigabyte, Lang::Ru) => "Гбайт",
            (UnitOfMeasure::Gigabyte, Lang::En) => "GB",
            (UnitOfMeasure::Megabyte, Lang::Ru) => "Мбайт",
            (UnitOfMeasure::Megabyte, Lang::En) => "MB",
            (UnitOfMeasure::Terabyte, Lang::Ru) => "Тбайт",
            (UnitOfMeasure::Terabyte, Lang::En) => "TB",
            (UnitOfMeasure::Mbps, Lang::Ru) => "Мбит/с",
            (UnitOfMeasure::Mbps, Lang::En) => "Mbit/s",
            (UnitOfMeasure::Request | UnitOfMeasure::Delivery, Lang::Ru) => "ед",
            (UnitOfMeasure::Request, Lang::En) => "req",
            (UnitOfMeasure::Delivery, Lang::En) => "delivery",
            (UnitOfMeasure::KilowattHour, Lang::Ru) => "кВт·ч",
            (UnitOfMeasure::KilowattHour, Lang::En) => "kWh",
            (UnitOfMeasure::Kilogram, Lang::Ru) => "кг",
            (UnitOfMeasure::Kilogram, Lang::En) => "kg",
            (UnitOfMeasure::Visit, Lang::Ru) => "посещ",
            (UnitOfMeasure::Visit, Lang::En) => "visit",
            (UnitOfMeasure::Amount, Lang::Ru) => "руб",
            (UnitOfMeasure::Amount, Lang::En) => "amount",
        }
    }
}

/// How a service is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// Done once, on order (it becomes a work order).
    OneOff,
    /// Billed per billing period (a calendar month, or the provider's longer period) while
    /// subscribed: its price is the price of one period.
    Recurring,
    /// Billed by measured use.
    Metered,
}

/// When a cancelled subscription to a recurring service stops being billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancellationPolicy {
    /// Billed to the end of the billing period in which it is cancelled (the default).
    #[default]
    EndOfPeriod,
    /// Billed up to and including the day it is cancelled.
    Immediately,
}

/// Whether a service can still be sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Active,
    Retired,
}

/// The VAT rate of a service: exempt, or a percentage in 0..=100 with at most 2 decimal
/// places. On the wire: the string `"exempt"` or the percentage as a string (`"20"`).
///
/// Build a percentage with [`TaxRate::from_percent`] or by parsing; a `Percent` built
/// directly is checked when it becomes part of a [`Service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxRate {
    /// Not subject to VAT ("без НДС"); no tax is charged.
    Exempt,
    /// VAT at this many per cent.
    Percent(Decimal),
}

impl TaxRate {
    /// A percentage rate, if it is in 0..=100 with at most 2 decimal places.
    pub fn from_percent(percent: Decimal) -> Result<Self, CatalogError> {
        let rate = TaxRate::Percent(percent.normalize());
        rate.check()?;
        Ok(rate)
    }

    /// The percentage, or `None` if exempt.
    pub fn percent(&self) -> Option<Decimal> {
        match self {
            TaxRate::Exempt => None,
            TaxRate::Percent(p) => Some(*p),
        }
    }

    pub fn is_exempt(&self) -> bool {
        matches!(self, TaxRate::Exempt)
    }

    /// The tax on a net amount under the money rounding policy; zero if exempt.
    pub fn tax_on(&self, net: &Money) -> Result<Money, MoneyError> {
        match self {
            TaxRate::Exempt => Ok(Money::zero(net.currency())),
            TaxRate::Percent(p) => money::tax_on(net, *p),
        }
    }

    fn check(&self) -> Result<(), CatalogError> {
        let TaxRate::Percent(p) = self else {
            return Ok(());
        };
        if *p < Decimal::ZERO || *p > Decimal::ONE_HUNDRED {
            Err(invalid(
                "tax_rate",
                "must be \"exempt\" or a percentage from 0 to 100",
            ))
        } else if p.normalize().scale() > 2 {
            Err(invalid("tax_rate", "must have at most 2 decimal places"))
        } else {
            Ok(())
        }
    }
}

impl FromStr for TaxRate {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("exempt") {
            return Ok(TaxRate::Exempt);
        }
        let percent = Decimal::from_str(s).map_err(|_| {
            invalid(
                "tax_rate",
                "must be \"exempt\" or a percentage such as \"20\"",
            )
        })?;
        TaxRate::from_percent(percent)
    }
}

impl fmt::Display for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaxRate::Exempt => f.write_str("exempt"),
            TaxRate::Percent(p) => write!(f, "{}", p.normalize()),
        }
    }
}

serde_as_string!(TaxRate);

/// One price of a service, in force from `effective_from` until the next version's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceVersion {
    /// 1 for the first price, then one more than the highest so far.
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    pub price: Price,
    pub created_at: DateTime<Utc>,
}

/// The version in force at `at`: the one with the latest `effective_from` not after `at`, or
/// `None` before the first takes effect. (Versions never share an `effective_from`; see the
/// module docs.)
pub fn price_in_force(versions: &[PriceVersion], at: DateTime<Utc>) -> Option<&PriceVersion> {
    versions
        .iter()
        .filter(|v| v.effective_from <= at)
        .max_by_key(|v| v.effective_from)
}

/// The command to add a service to the catalog, with its first price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewService {
    pub code: ServiceCode,
    pub name: LocalizedText,
    #[serde(default)]
    pub description: Option<LocalizedText>,
    pub unit: UnitOfMeasure,
    pub kind: ServiceKind,
    #[serde(default)]
    pub work_type: Option<WorkType>,
    /// For recurring services: when a cancelled subscription stops being billed.
    #[serde(default)]
    pub cancellation: CancellationPolicy,
    pub tax_rate: TaxRate,
    /// For an exempt service: the legal basis documents print beside «Без НДС» (e.g. the
    /// article of the Tax Code). Refused for a taxed service.
    #[serde(default)]
    pub tax_exemption: Option<LocalizedText>,
    pub currency: Currency,
    /// The first price, in force from the moment the service is created.
    pub price: Price,
}

/// The plain form of a [`Service`], for adapters that load one from storage: build it and
/// call `Service::try_from`, which checks the service's rules again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRecord {
    pub code: ServiceCode,
    pub name: LocalizedText,
    #[serde(default)]
    pub description: Option<LocalizedText>,
    pub unit: UnitOfMeasure,
    pub kind: ServiceKind,
    #[serde(default)]
    pub work_type: Option<WorkType>,
    /// For recurring services: when a cancelled subscription stops being billed.
    #[serde(default)]
    pub cancellation: CancellationPolicy,
    pub tax_rate: TaxRate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_exemption: Option<LocalizedText>,
    pub currency: Currency,
    pub status: ServiceStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub retired_at: Option<DateTime<Utc>>,
}

/// A service in the catalog. Its prices are kept as [`PriceVersion`]s beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ServiceRecord", into = "ServiceRecord")]
pub struct Service {
    code: ServiceCode,
    name: LocalizedText,
    description: Option<LocalizedText>,
    unit: UnitOfMeasure,
    kind: ServiceKind,
    work_type: Option<WorkType>,
    cancellation: CancellationPolicy,
    tax_rate: TaxRate,
    tax_exemption: Option<LocalizedText>,
    currency: Currency,
    status: ServiceStatus,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

impl Service {
    /// A new, active service and its first price version (version 1, in force from `now`).
    ///
    /// Refused if the tax rate is out of range, a one-off service has no work type, or the
    /// price is not in the service's currency.
    pub fn create(
        command: NewService,
        now: DateTime<Utc>,
    ) -> Result<(Service, PriceVersion), CatalogError> {
        let service = Service::try_from(ServiceRecord {
            code: command.code,
            name: command.name,
            description: command.description,
            unit: command.unit,
            kind: command.kind,
            work_type: command.work_type,
            cancellation: command.cancellation,
            tax_rate: command.tax_rate,
            tax_exemption: command.tax_exemption,
            currency: command.currency,
            status: ServiceStatus::Active,
            created_at: now,
            retired_at: None,
        })?;
        let first = service.plan_new_version(&[], command.price, now, now)?;
        Ok((service, first))
    }

    /// The next price version of this service, checked against the `existing` ones.
    ///
    /// Refused if the service is retired, the price is in another currency, `effective_from`
    /// is more than [`CLOCK_SKEW`] before `now`, or an existing version takes effect at the
    /// same instant. The new version is numbered one more than the highest existing one.
    pub fn plan_new_version(
        &self,
        existing: &[PriceVersion],
        price: Price,
        effective_from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PriceVersion, CatalogError> {
        self.ensure_active()?;
        if price.currency() != self.currency {
            return Err(invalid(
                "price.currency",
                format!("must be the service currency ({})", self.currency),
            ));
        }
        let earliest = now
            .checked_sub_signed(CLOCK_SKEW)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        if effective_from < earliest {
            return Err(invalid("effective_from", "must not be in the past"));
        }
        if let Some(clash) = existing.iter().find(|v| v.effective_from == effective_from) {
            return Err(CatalogError::Conflict {
                field: "effective_from".to_owned(),
                reason: format!(
                    "version {} already takes effect at {}",
                    clash.version,
                    effective_from.to_rfc3339()
                ),
            });
        }
        let version = existing
            .iter()
            .map(|v| v.version)
            .max()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| CatalogError::Conflict {
                field: "version".to_owned(),
                reason: "the service has run out of version numbers".to_owned(),
            })?;
        Ok(PriceVersion {
            version,
            effective_from,
            price,
            created_at: now,
        })
    }

    /// Takes the service off sale at `now`; refused if it already is.
    pub fn retire(&mut self, now: DateTime<Utc>) -> Result<(), CatalogError> {
        self.ensure_active()?;
        self.status = ServiceStatus::Retired;
        // A clock running behind the one that created the service must not make a record
        // that retires it before it existed.
        self.retired_at = Some(now.max(self.created_at));
        Ok(())
    }

    pub fn code(&self) -> &ServiceCode {
        &self.code
    }

    pub fn name(&self) -> &LocalizedText {
        &self.name
    }

    pub fn description(&self) -> Option<&LocalizedText> {
        self.description.as_ref()
    }

    pub fn unit(&self) -> UnitOfMeasure {
        self.unit
    }

    pub fn kind(&self) -> ServiceKind {
        self.kind
    }

    pub fn work_type(&self) -> Option<&WorkType> {
        self.work_type.as_ref()
    }

    pub fn cancellation(&self) -> CancellationPolicy {
        self.cancellation
    }

    pub fn tax_rate(&self) -> TaxRate {
        self.tax_rate
    }

    /// The legal basis of an exempt rate, if the provider gave one.
    pub fn tax_exemption(&self) -> Option<&LocalizedText> {
        self.tax_exemption.as_ref()
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn status(&self) -> ServiceStatus {
        self.status
    }

    pub fn is_active(&self) -> bool {
        self.status == ServiceStatus::Active
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn retired_at(&self) -> Option<DateTime<Utc>> {
        self.retired_at
    }

    fn ensure_active(&self) -> Result<(), CatalogError> {
        if self.is_active() {
            Ok(())
        } else {
            Err(CatalogError::Retired {
                code: self.code.clone(),
            })
        }
    }
}

impl TryFrom<ServiceRecord> for Service {
    type Error = CatalogError;

    fn try_from(r: ServiceRecord) -> Result<Self, Self::Error> {
        r.tax_rate.check()?;
        if r.tax_exemption.is_some() && !r.tax_rate.is_exempt() {
            return Err(invalid(
                "tax_exemption",
                "is only for a service whose tax_rate is \"exempt\"",
            ));
        }
        if r.kind == ServiceKind::OneOff && r.work_type.is_none() {
            return Err(invalid("work_type", "is required for one_off services"));
        }
        match (r.status, r.retired_at) {
            (ServiceStatus::Active, Some(_)) => {
                return Err(invalid("retired_at", "must be empty for an active service"));
            }
            (ServiceStatus::Retired, None) => {
                return Err(invalid("retired_at", "is required for a retired service"));
            }
            (_, Some(at)) if at < r.created_at => {
                return Err(invalid("retired_at", "must not be before created_at"));
            }
            _ => {}
        }
        Ok(Service {
            code: r.code,
            name: r.name,
            description: r.description,
            unit: r.unit,
            kind: r.kind,
            work_type: r.work_type,
            cancellation: r.cancellation,
            tax_rate: r.tax_rate,
            tax_exemption: r.tax_exemption,
            currency: r.currency,
            status: r.status,
            created_at: r.created_at,
            retired_at: r.retired_at,
        })
    }
}

impl From<Service> for ServiceRecord {
    fn from(s: Service) -> Self {
        ServiceRecord {
            code: s.code,
            name: s.name,
            description: s.description,
            unit: s.unit,
            kind: s.kind,
            work_type: s.work_type,
            cancellation: s.cancellation,
            tax_rate: s.tax_rate,
            tax_exemption: s.tax_exemption,
            currency: s.currency,
            status: s.status,
            created_at: s.created_at,
            retired_at: s.retired_at,
        }
    }
}

#[cfg(test)]
mod tests;
