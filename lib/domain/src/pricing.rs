//! Price models and quotes: what a quantity of a service costs.
//!
//! A [`Price`] is a currency, a [`PriceModel`], an optional minimum charge and an optional
//! flat fee, built only through [`Price::new`] (or deserialized from a [`PriceSpec`], which
//! goes through the same validation). [`Price::quote`] prices a [`Quantity`] and explains
//! the result line by line in a [`Quote`].
//!
//! # Models
//!
//! Tiers are listed in increasing order of their *inclusive* upper bound `up_to`; the last
//! tier, and only it, is unbounded. Tier *i* covers the quantities above the previous tier's
//! bound up to and including its own: with bounds 5 and 10, tier 2 covers (5, 10], so 5.5
//! units fall in tier 2. A tier is *reached* when some of the quantity falls in it; at
//! quantity zero no tier is reached and nothing tiered is charged (use the price's minimum
//! or flat fee for a charge that applies regardless of use).
//!
//! - [`PriceModel::Flat`]: the amount, whatever the quantity, including zero.
//! - [`PriceModel::PerUnit`]: quantity × unit price.
//! - [`PriceModel::Graduated`]: each slice of the quantity is priced at the unit price of the
//!   tier it falls in; each reached tier adds its `flat_fee` once.
//! - [`PriceModel::Volume`]: the whole quantity is priced at the unit price of the tier the
//!   quantity falls in, plus that tier's `flat_fee`.
//! - [`PriceModel::Package`]: billable = max(0, quantity − free units); the charge is
//!   ⌈billable ÷ block size⌉ blocks at the block price.
//! - [`PriceModel::Percentage`]: the quantity is an amount of money (in the price's
//!   currency); like graduated, each slice of the amount within a tier is charged the tier's
//!   `percent` per cent, and each reached tier adds its `fixed_fee` once.
//!
//! # Quoting and rounding
//!
//! The model gives the *subtotal*, at full precision. If a minimum is set and the subtotal is
//! below it, an adjustment line brings it up to the minimum (the minimum applies even at
//! quantity zero: it is a commitment). The flat fee, if any, is then added. The *total* is
//! rounded once, to the currency's minor units, under the policy in [`crate::money`]; no line
//! is rounded on its own.
//!
//! # Limits
//!
//! Quantities and tier bounds are non-negative, with at most 6 decimal places, and at most
//! 10¹² ([`Quantity::MAX`]). Unit prices (including the block price) have at most 4 decimal
//! places, money amounts (flat amounts, fees, minimums, percentage tier bounds) at most 2,
//! percentages at most 4 and lie in 0..=100; all are non-negative and at most 10¹². A tiered
//! model has 1 to [`MAX_TIERS`] tiers. Within these limits a quote cannot overflow, but the
//! arithmetic is checked anyway ([`PricingError::Overflow`]).
//!
//! Every validation error names the offending field by its path in the price's wire form,
//! e.g. `model.tiers[2].up_to`. Decimals travel as strings (`"7.00"`), never as JSON numbers.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money};

/// The most tiers a tiered model may have.
pub const MAX_TIERS: usize = 100;

/// Decimal places allowed in a quantity or a tier bound.
const QUANTITY_PLACES: u32 = 6;
/// Decimal places allowed in a unit price.
const UNIT_PRICE_PLACES: u32 = 4;
/// Decimal places allowed in a money amount (flat amount, fee, minimum).
const AMOUNT_PLACES: u32 = 2;
/// Decimal places allowed in a percentage.
const PERCENT_PLACES: u32 = 4;

/// Why a price or a quantity was refused, or a quote could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// A field breaks a rule; `field` is its path, e.g. `model.tiers[2].up_to`.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// An amount went out of `Decimal`'s range.
    #[error("the charge is out of range")]
    Overflow,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> PricingError {
    PricingError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// An amount of something being priced: non-negative, at most 6 decimal places, at most
/// [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quantity(Decimal);

impl Quantity {
    /// The largest quantity: 10¹² (one trillion).
    pub const MAX: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0);
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);

    /// A quantity, if `value` keeps the rules; the error says which limit it breaks.
    pub fn new(value: Decimal) -> Result<Self, PricingError> {
        check_quantity("quantity", value)?;
        Ok(Self(value.normalize()))
    }

    pub const fn value(&self) -> Decimal {
        self.0
    }

    /// Whether the quantity is a whole number (no fractional part).
    pub fn is_whole(&self) -> bool {
        self.0.fract().is_zero()
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<Decimal> for Quantity {
    type Error = PricingError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::wire::decimal::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = crate::wire::decimal::deserialize(d)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

/// One tier of a graduated or volume price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Inclusive upper bound of the tier; `None` (JSON `null` or absent) for the last tier.
    #[serde(default, with = "crate::wire::decimal_option")]
    pub up_to: Option<Decimal>,
    /// Price of each unit in the tier.
    #[serde(with = "crate::wire::price")]
    pub unit_price: Decimal,
    /// Charged once when the tier is reached; zero if absent.
    #[serde(default, with = "crate::wire::price")]
    pub flat_fee: Decimal,
}

impl Tier {
    /// A tier up to and including `up_to`, without a flat fee.
    pub fn bounded(up_to: Decimal, unit_price: Decimal) -> Self {
        Self {
            up_to: Some(up_to),
            unit_price,
            flat_fee: Decimal::ZERO,
        }
    }

    /// The last, unbounded tier, without a flat fee.
    pub fn unbounded(unit_price: Decimal) -> Self {
        Self {
            up_to: None,
            unit_price,
            flat_fee: Decimal::ZERO,
        }
    }

    pub fn with_flat_fee(self, flat_fee: Decimal) -> Self {
        Self { flat_fee, ..self }
    }
}

/// One tier of a percentage price; bounds are amounts of money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentTier {
    /// Inclusive upper bound of the tier; `None` for the last tier.
    #[serde(default, with = "crate::wire::decimal_option")]
    pub up_to: Option<Decimal>,
    /// Per cent of the slice of the amount in this tier, 0..=100.
    #[serde(with = "crate::wire::decimal")]
    pub percent: Decimal,
    /// Charged once when the tier is reached; zero if absent.
    #[serde(default, with = "crate::wire::price")]
    pub fixed_fee: Decimal,
}

impl PercentTier {
    /// A tier up to and including `up_to`, without a fixed fee.
    pub fn bounded(up_to: Decimal, percent: Decimal) -> Self {
        Self {
            up_to: Some(up_to),
            percent,
            fixed_fee: Decimal::ZERO,
        }
    }

    /// The last, unbounded tier, without a fixed fee.
    pub fn unbounded(percent: Decimal) -> Self {
        Self {
            up_to: None,
            percent,
            fixed_fee: Decimal::ZERO,
        }
    }

    pub fn with_fixed_fee(self, fixed_fee: Decimal) -> Self {
        Self { fixed_fee, ..self }
    }
}

/// How a quantity turns into a charge; see the module docs for each model's rule.
///
/// On the wire the variant is the `type` field: `{"type": "per_unit", "unit_price": "1.50"}`.
/// It is read through [`RawModel`], field by field, so that an error deep inside names its
/// exact path (`model.tiers[2].up_to`) and not just `model`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    deny_unknown_fields,
    try_from = "RawModel"
)]
pub enum PriceModel {
    /// The amount, for any quantity including zero.
    Flat {
        #[serde(with = "crate::wire::price")]
        amount: Decimal,
    },
    /// Quantity × unit price.
    PerUnit {
        #[serde(with = "crate::wire::price")]
        unit_price: Decimal,
    },
    /// Each slice of the quantity at its tier's unit price.
    Graduated { tiers: Vec<Tier> },
    /// The whole quantity at the unit price of the tier it falls in.
    Volume { tiers: Vec<Tier> },
    /// Whole blocks of `block_size` units at `block_price`, after `free_units`.
    Package {
        #[serde(with = "crate::wire::decimal")]
        block_size: Decimal,
        #[serde(with = "crate::wire::price")]
        block_price: Decimal,
        #[serde(default, with = "crate::wire::decimal")]
        free_units: Decimal,
    },
    /// A graduated percentage of an amount of money.
    Percentage { tiers: Vec<PercentTier> },
}

/// The variant a [`RawModel`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ModelKind {
    Flat,
    PerUnit,
    Graduated,
    Volume,
    Package,
    Percentage,
}

/// A tier as written, before it is known to be a unit-price or a percentage tier.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    #[serde(default, with = "crate::wire::decimal_option")]
    up_to: Option<Decimal>,
    #[serde(default, with = "crate::wire::price_option")]
    unit_price: Option<Decimal>,
    #[serde(default, with = "crate::wire::price_option")]
    flat_fee: Option<Decimal>,
    #[serde(default, with = "crate::wire::decimal_option")]
    percent: Option<Decimal>,
    #[serde(default, with = "crate::wire::price_option")]
    fixed_fee: Option<Decimal>,
}

/// Every field any model may have, read as a plain struct: serde reads a struct's fields one
/// by one where they stand (keeping the path to an error), whereas a tagged enum must buffer
/// the whole object to find its tag first. [`PriceModel::try_from`] then keeps only the fields
/// of the named model and refuses the others, naming them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    #[serde(rename = "type")]
    kind: ModelKind,
    #[serde(default, with = "crate::wire::price_option")]
    amount: Option<Decimal>,
    #[serde(default, with = "crate::wire::price_option")]
    unit_price: Option<Decimal>,
    tiers: Option<Vec<RawTier>>,
    #[serde(default, with = "crate::wire::decimal_option")]
    block_size: Option<Decimal>,
    #[serde(default, with = "crate::wire::price_option")]
    block_price: Option<Decimal>,
    #[serde(default, with = "crate::wire::decimal_option")]
    free_units: Option<Decimal>,
}

/// Why a [`RawModel`] is not a model; the message starts as serde's own do (`unknown field`,
/// `missing field`), so the HTTP layer names the field the same way.
#[derive(Debug)]
pub struct ModelShapeError(String);

impl fmt::Display for ModelShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<RawModel> for PriceModel {
    type Error = ModelShapeError;

    fn try_from(raw: RawModel) -> Result<Self, Self::Error> {
        use ModelKind::*;
        let kind = raw.kind;
        let name = match kind {
            Flat => "flat",
            PerUnit => "per_unit",
            Graduated => "graduated",
            Volume => "volume",
            Package => "package",
            Percentage => "percentage",
        };
        let present = [
            ("amount", raw.amount.is_some(), kind == Flat),
            ("unit_price", raw.unit_price.is_some(), kind == PerUnit),
            (
                "tiers",
                raw.tiers.is_some(),
                matches!(kind, Graduated | Volume | Percentage),
            ),
            ("block_size", raw.block_size.is_some(), kind == Package),
            ("block_price", raw.block_price.is_some(), kind == Package),
            ("free_units", raw.free_units.is_some(), kind == Package),
        ];
        if let Some((field, _, _)) = present.iter().find(|(_, is, allowed)| *is && !allowed) {
            return Err(ModelShapeError(format!(
                "unknown field `{field}`: a {name} price has no such field"
            )));
        }
        let required = |field: &str, value: Option<Decimal>| {
            value.ok_or_else(|| ModelShapeError(format!("missing field `{field}`")))
        };
        let tiers = |tiers: Option<Vec<RawTier>>| {
            tiers.ok_or_else(|| ModelShapeError("missing field `tiers`".into()))
        };
        Ok(match kind {
            Flat => PriceModel::Flat {
                amount: required("amount", raw.amount)?,
            },
            PerUnit => PriceModel::PerUnit {
                unit_price: required("unit_price", raw.unit_price)?,
            },
            Graduated | Volume => {
                let tiers = tiers(raw.tiers)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let stray = [("percent", t.percent.is_some()), ("fixed_fee", t.fixed_fee.is_some())];
                        if let Some((field, _)) = stray.iter().find(|(_, is)| *is) {
                            return Err(ModelShapeError(format!(
                                "unknown field `tiers[{i}].{field}`: a {name} tier has `unit_price` and `flat_fee`"
                            )));
                        }
                        Ok(Tier {
                            up_to: t.up_to,
                            unit_price: required(&format!("tiers[{i}].unit_price"), t.unit_price)?,
                            flat_fee: t.flat_fee.unwrap_or_default(),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if kind == Graduated {
                    PriceModel::Graduated { tiers }
                } else {
                    PriceModel::Volume { tiers }
                }
            }
            Percentage => PriceModel::Percentage {
                tiers: tiers(raw.tiers)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let stray = [("unit_price", t.unit_price.is_some()), ("flat_fee", t.flat_fee.is_some())];
                        if let Some((field, _)) = stray.iter().find(|(_, is)| *is) {
                            return Err(ModelShapeError(format!(
                                "unknown field `tiers[{i}].{field}`: a percentage tier has `percent` and `fixed_fee`"
                            )));
                        }
                        Ok(PercentTier {
                            up_to: t.up_to,
                            percent: required(&format!("tiers[{i}].percent"), t.percent)?,
                            fixed_fee: t.fixed_fee.unwrap_or_default(),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            },
            Package => PriceModel::Package {
                block_size: required("block_size", raw.block_size)?,
                block_price: required("block_price", raw.block_price)?,
                free_units: raw.free_units.unwrap_or_default(),
            },
        })
    }
}

/// The plain, unvalidated form of a [`Price`]: what adapters read from the wire or storage
/// and hand to `Price::try_from` (and what a price serializes as).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    pub currency: Currency,
    pub model: PriceModel,
    #[serde(default, with = "crate::wire::price_option")]
    pub minimum: Option<Decimal>,
    #[serde(default, with = "crate::wire::price_option")]
    pub flat_fee: Option<Decimal>,
}

/// A validated price: see the module docs for the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PriceSpec", into = "PriceSpec")]
pub struct Price {
    currency: Currency,
    model: PriceModel,
    minimum: Option<Decimal>,
    flat_fee: Option<Decimal>,
}

impl Price {
    /// A price, if every field keeps the rules; the error names the first field that does not.
    pub fn new(
        currency: Currency,
        model: PriceModel,
        minimum: Option<Decimal>,
        flat_fee: Option<Decimal>,
    ) -> Result<Self, PricingError> {
        validate_model(&model)?;
        if let Some(minimum) = minimum {
            check_amount("minimum", minimum, AMOUNT_PLACES)?;
        }
        if let Some(flat_fee) = flat_fee {
            check_amount("flat_fee", flat_fee, AMOUNT_PLACES)?;
        }
        Ok(Self {
            currency,
            model,
            minimum,
            flat_fee,
        })
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn model(&self) -> &PriceModel {
        &self.model
    }

    pub fn minimum(&self) -> Option<Decimal> {
        self.minimum
    }

    pub fn flat_fee(&self) -> Option<Decimal> {
        self.flat_fee
    }

    /// What `quantity` costs under this price, line by line; the total is rounded once.
    pub fn quote(&self, quantity: Quantity) -> Result<Quote, PricingError> {
        let q = quantity.value();
        let mut lines = Vec::new();
        match &self.model {
            PriceModel::Flat { amount } => {
                lines.push(QuoteLine::new("Flat price", q, None, *amount));
            }
            PriceModel::PerUnit { unit_price } => {
                let amount = mul(q, *unit_price)?;
                lines.push(QuoteLine::new("Per unit", q, Some(*unit_price), amount));
            }
            PriceModel::Graduated { tiers } => {
                for slice in slices(tiers.iter().map(|t| t.up_to), q) {
                    let tier = &tiers[slice.index];
                    let amount = mul(slice.quantity, tier.unit_price)?;
                    let label = slice.label();
                    lines.push(QuoteLine::new(
                        &label,
                        slice.quantity,
                        Some(tier.unit_price),
                        amount,
                    ));
                    push_fee(&mut lines, &label, "flat fee", tier.flat_fee);
                }
            }
            PriceModel::Volume { tiers } => {
                let reached = slices(tiers.iter().map(|t| t.up_to), q).pop();
                if let Some(slice) = reached {
                    let tier = &tiers[slice.index];
                    let amount = mul(q, tier.unit_price)?;
                    let label = slice.label();
                    lines.push(QuoteLine::new(&label, q, Some(tier.unit_price), amount));
                    push_fee(&mut lines, &label, "flat fee", tier.flat_fee);
                }
            }
            PriceModel::Package {
                block_size,
                block_price,
                free_units,
            } => {
                if !free_units.is_zero() && !q.is_zero() {
                    let free = q.min(*free_units);
                    lines.push(QuoteLine::new(
                        "Free units",
                        free,
                        Some(Decimal::ZERO),
                        Decimal::ZERO,
                    ));
                }
                let billable = (q - *free_units).max(Decimal::ZERO);
                let blocks = blocks(billable, *block_size)?;
                let amount = mul(blocks, *block_price)?;
                let label = format!("Packages of {}", block_size.normalize());
                lines.push(QuoteLine::new(&label, blocks, Some(*block_price), amount));
            }
            PriceModel::Percentage { tiers } => {
                for slice in slices(tiers.iter().map(|t| t.up_to), q) {
                    let tier = &tiers[slice.index];
                    let rate = tier
                        .percent
                        .checked_div(Decimal::ONE_HUNDRED)
                        .ok_or(PricingError::Overflow)?;
                    let amount = mul(slice.quantity, rate)?;
                    let label = format!("{}: {}%", slice.label(), tier.percent.normalize());
                    lines.push(QuoteLine::new(&label, slice.quantity, Some(rate), amount));
                    push_fee(&mut lines, &slice.label(), "fixed fee", tier.fixed_fee);
                }
            }
        }

        let subtotal = sum(lines.iter().map(|l| l.amount))?;
        let minimum_adjustment = match self.minimum {
            Some(minimum) if subtotal < minimum => minimum - subtotal,
            _ => Decimal::ZERO,
        };
        if !minimum_adjustment.is_zero() {
            lines.push(QuoteLine::new(
                "Minimum charge adjustment",
                Decimal::ONE,
                None,
                minimum_adjustment,
            ));
        }
        let flat_fee = self.flat_fee.unwrap_or(Decimal::ZERO);
        if !flat_fee.is_zero() {
            lines.push(QuoteLine::new("Flat fee", Decimal::ONE, None, flat_fee));
        }
        let total = sum([subtotal, minimum_adjustment, flat_fee])?;

        Ok(Quote {
            currency: self.currency,
            quantity,
            lines,
            subtotal,
            minimum_adjustment,
            flat_fee,
            total: Money::new(total, self.currency).round_to_minor(),
        })
    }
}

impl TryFrom<PriceSpec> for Price {
    type Error = PricingError;
    fn try_from(spec: PriceSpec) -> Result<Self, Self::Error> {
        Price::new(spec.currency, spec.model, spec.minimum, spec.flat_fee)
    }
}

impl From<Price> for PriceSpec {
    fn from(price: Price) -> Self {
        PriceSpec {
            currency: price.currency,
            model: price.model,
            minimum: price.minimum,
            flat_fee: price.flat_fee,
        }
    }
}

/// The price of a quantity, explained.
///
/// Invariant: the line amounts add up to `subtotal + minimum_adjustment + flat_fee`, and
/// `total` is that sum rounded to minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    currency: Currency,
    quantity: Quantity,
    lines: Vec<QuoteLine>,
    #[serde(with = "crate::wire::decimal")]
    subtotal: Decimal,
    #[serde(with = "crate::wire::decimal")]
    minimum_adjustment: Decimal,
    #[serde(with = "crate::wire::decimal")]
    flat_fee: Decimal,
    total: Money,
}

impl Quote {
    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The model's lines, then the minimum adjustment and the flat fee, if any.
    pub fn lines(&self) -> &[QuoteLine] {
        &self.lines
    }

    /// What the model charges, at full precision.
    pub fn subtotal(&self) -> Decimal {
        self.subtotal
    }

    /// What brings the subtotal up to the minimum; zero if none is needed.
    pub fn minimum_adjustment(&self) -> Decimal {
        self.minimum_adjustment
    }

    /// The price's flat fee; zero if none.
    pub fn flat_fee(&self) -> Decimal {
        self.flat_fee
    }

    /// The amount due, rounded to minor units.
    pub fn total(&self) -> Money {
        self.total
    }
}

/// One line of a quote, at full precision (`amount` = `quantity` × `unit_price` when there
/// is a unit price; for a percentage line the unit price is the rate, e.g. 0.029 for 2.9%).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteLine {
    description: String,
    #[serde(with = "crate::wire::decimal")]
    quantity: Decimal,
    #[serde(with = "crate::wire::decimal_option")]
    unit_price: Option<Decimal>,
    #[serde(with = "crate::wire::decimal")]
    amount: Decimal,
}

impl QuoteLine {
    fn new(
        description: &str,
        quantity: Decimal,
        unit_price: Option<Decimal>,
        amount: Decimal,
    ) -> Self {
        Self {
            description: description.to_owned(),
            quantity,
            unit_price,
            amount,
        }
    }

    /// What the line is for, in English, e.g. `Tier 2 (over 5 up to 10)`.
    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn quantity(&self) -> Decimal {
        self.quantity
    }

    pub fn unit_price(&self) -> Option<Decimal> {
        self.unit_price
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }
}

/// The part of a quantity that falls in one tier.
struct Slice {
    index: usize,
    from: Decimal,
    up_to: Option<Decimal>,
    quantity: Decimal,
}

impl Slice {
    fn label(&self) -> String {
        let n = self.index + 1;
        match (self.index, self.up_to) {
            (0, Some(to)) => format!("Tier {n} (up to {})", to.normalize()),
            (0, None) => format!("Tier {n}"),
            (_, Some(to)) => format!(
                "Tier {n} (over {} up to {})",
                self.from.normalize(),
                to.normalize()
            ),
            (_, None) => format!("Tier {n} (over {})", self.from.normalize()),
        }
    }
}

/// The slices of `quantity` in the tiers with these (validated, increasing) bounds, one per
/// reached tier, in order; the last one is the tier the quantity falls in.
fn slices(bounds: impl Iterator<Item = Option<Decimal>>, quantity: Decimal) -> Vec<Slice> {
    let mut slices = Vec::new();
    let mut from = Decimal::ZERO;
    for (index, up_to) in bounds.enumerate() {
        if quantity <= from {
            break;
        }
        let top = up_to.map_or(quantity, |to| to.min(quantity));
        slices.push(Slice {
            index,
            from,
            up_to,
            quantity: top - from,
        });
        match up_to {
            Some(to) => from = to,
            None => break,
        }
    }
    slices
}

/// ⌈billable ÷ block size⌉, exactly: the remainder decides the last, partial block.
fn blocks(billable: Decimal, block_size: Decimal) -> Result<Decimal, PricingError> {
    let remainder = billable
        .checked_rem(block_size)
        .ok_or(PricingError::Overflow)?;
    let whole = (billable - remainder)
        .checked_div(block_size)
        .ok_or(PricingError::Overflow)?
        .round();
    Ok(if remainder.is_zero() {
        whole
    } else {
        whole + Decimal::ONE
    })
}

fn push_fee(lines: &mut Vec<QuoteLine>, tier_label: &str, what: &str, fee: Decimal) {
    if !fee.is_zero() {
        let label = format!("{tier_label} {what}");
        lines.push(QuoteLine::new(&label, Decimal::ONE, None, fee));
    }
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_mul(b).ok_or(PricingError::Overflow)
}

fn sum(values: impl IntoIterator<Item = Decimal>) -> Result<Decimal, PricingError> {
    values
        .into_iter()
        .try_fold(Decimal::ZERO, Decimal::checked_add)
        .ok_or(PricingError::Overflow)
}

mod validate;
use validate::{check_amount, check_quantity, validate_model};

#[cfg(test)]
mod tests;
