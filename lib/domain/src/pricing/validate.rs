//! The bounds a price model and its figures keep: amounts and quantities non-negative, within
//! their decimal places and at most [`Quantity::MAX`]; tier bounds ascending.

use super::*;

/// Every figure of `model` within its bounds, named by its field (`model.tiers[1].up_to`).
pub(super) fn validate_model(model: &PriceModel) -> Result<(), PricingError> {
    match model {
        PriceModel::Flat { amount } => check_amount("model.amount", *amount, AMOUNT_PLACES),
        PriceModel::PerUnit { unit_price } => {
            check_amount("model.unit_price", *unit_price, UNIT_PRICE_PLACES)
        }
        PriceModel::Graduated { tiers } | PriceModel::Volume { tiers } => {
            check_bounds(tiers.iter().map(|t| t.up_to), check_quantity)?;
            for (i, tier) in tiers.iter().enumerate() {
                check_amount(
                    format!("model.tiers[{i}].unit_price"),
                    tier.unit_price,
                    UNIT_PRICE_PLACES,
                )?;
                check_amount(
                    format!("model.tiers[{i}].flat_fee"),
                    tier.flat_fee,
                    AMOUNT_PLACES,
                )?;
            }
            Ok(())
        }
        PriceModel::Package {
            block_size,
            block_price,
            free_units,
        } => {
            check_quantity("model.block_size", *block_size)?;
            if block_size.is_zero() {
                return Err(invalid("model.block_size", "must be greater than zero"));
            }
            check_amount("model.block_price", *block_price, UNIT_PRICE_PLACES)?;
            check_quantity("model.free_units", *free_units)
        }
        PriceModel::Percentage { tiers } => {
            check_bounds(tiers.iter().map(|t| t.up_to), |field, value| {
                check_amount(field, value, AMOUNT_PLACES)
            })?;
            for (i, tier) in tiers.iter().enumerate() {
                let field = format!("model.tiers[{i}].percent");
                check_amount(field.as_str(), tier.percent, PERCENT_PLACES)?;
                if tier.percent > Decimal::ONE_HUNDRED {
                    return Err(invalid(field, "must be at most 100"));
                }
                check_amount(
                    format!("model.tiers[{i}].fixed_fee"),
                    tier.fixed_fee,
                    AMOUNT_PLACES,
                )?;
            }
            Ok(())
        }
    }
}

/// Tier bounds: 1 to [`MAX_TIERS`] tiers, each bound positive and keeping `check`, strictly
/// increasing, only the last unbounded and the last unbounded.
fn check_bounds(
    bounds: impl ExactSizeIterator<Item = Option<Decimal>>,
    check: impl Fn(&str, Decimal) -> Result<(), PricingError>,
) -> Result<(), PricingError> {
    let count = bounds.len();
    if count == 0 {
        return Err(invalid("model.tiers", "must have at least one tier"));
    }
    if count > MAX_TIERS {
        return Err(invalid(
            "model.tiers",
            format!("must have at most {MAX_TIERS} tiers"),
        ));
    }
    let mut previous = Decimal::ZERO;
    for (i, up_to) in bounds.enumerate() {
        let field = format!("model.tiers[{i}].up_to");
        let last = i + 1 == count;
        match up_to {
            None if !last => return Err(invalid(field, "only the last tier may be unbounded")),
            None => {}
            Some(_) if last => {
                return Err(invalid(field, "the last tier must be unbounded (null)"));
            }
            Some(bound) => {
                check(&field, bound)?;
                if bound <= previous {
                    let reason = if i == 0 {
                        "must be greater than zero".to_owned()
                    } else {
                        format!(
                            "must be greater than the previous tier's up_to ({})",
                            previous.normalize()
                        )
                    };
                    return Err(invalid(field, reason));
                }
                previous = bound;
            }
        }
    }
    Ok(())
}

/// A quantity-like value: non-negative, at most 6 decimal places, at most [`Quantity::MAX`].
pub(super) fn check_quantity(field: &str, value: Decimal) -> Result<(), PricingError> {
    check_amount(field, value, QUANTITY_PLACES)
}

/// Non-negative, at most `places` decimal places, at most 10¹².
pub(super) fn check_amount(
    field: impl AsRef<str>,
    value: Decimal,
    places: u32,
) -> Result<(), PricingError> {
    let field = field.as_ref();
    if value < Decimal::ZERO {
        return Err(invalid(field, "must not be negative"));
    }
    if value.normalize().scale() > places {
        return Err(invalid(
            field,
            format!("must have at most {places} decimal places"),
        ));
    }
    if value > Quantity::MAX {
        return Err(invalid(field, format!("must be at most {}", Quantity::MAX)));
    }
    Ok(())
}
