//! Composing one customer's invoice draft for a closed period: the lines, their taxes and
//! the totals, under the policies in the [module docs](super).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use super::{
    Amounts, BillingSettings, CloseInput, InvoiceDraft, InvoiceLine, InvoicingError, LineSource,
    ZeroInvoicePolicy, line_amounts, minor_scale, tax_summaries,
};
use crate::catalog::{LocalizedText, PriceVersion, Service, ServiceCode, TaxRate, UnitOfMeasure};
use crate::charges::Charge;
use crate::money::{Currency, Money, MoneyError};
use crate::pricing::{PricingError, Quantity, Quote, QuoteLine};
use crate::subscriptions::SubscriptionError;
use crate::usage::UsageError;

/// Decimal places a charge's derived unit price may have (as a catalog unit price).
const UNIT_PRICE_PLACES: u32 = 4;

type Catalog = BTreeMap<ServiceCode, (Service, Vec<PriceVersion>)>;

/// A line as priced, before it is numbered and taxed.
struct Priced {
    source: LineSource,
    service: ServiceCode,
    description: LocalizedText,
    quantity: Decimal,
    unit: UnitOfMeasure,
    unit_price: Option<Decimal>,
    tiers: Vec<QuoteLine>,
    price_version: u32,
    from: NaiveDate,
    until_exclusive: NaiveDate,
    tax_rate: TaxRate,
    amount: Money,
}

/// The draft invoice of `input.period` for `input.org`, or `None` when there is nothing to
/// invoice: no lines at all, or (under [`ZeroInvoicePolicy::Skip`]) lines that cost nothing
/// in total. Lines, taxes and totals follow the module docs; composing is deterministic (no
/// clock, no ids made here).
///
/// Refused ([`InvoicingError::Invalid`]) when a line is not in `input.currency`
/// (`currency`), a subscription segment or meter names a service missing from the catalog
/// (`service`) or a price version it does not have, or a meter has no price for the period
/// (`price_version`), a charge or subscription belongs to another organisation (`org`) or a
/// charge of a later period (`period`), or a charge's amount is not in whole minor units
/// (`amount`).
pub fn compose(
    input: &CloseInput<'_>,
    settings: &BillingSettings,
) -> Result<Option<InvoiceDraft>, InvoicingError> {
    let mut priced = subscription_lines(input)?;
    priced.extend(charge_lines(input)?);
    priced.extend(usage_lines(input)?);
    if priced.is_empty() {
        return Ok(None);
    }

    let mut lines = Vec::with_capacity(priced.len());
    for (index, p) in priced.into_iter().enumerate() {
        let no = u16::try_from(index + 1).map_err(|_| {
            InvoicingError::invalid(
                "lines",
                format!("an invoice has at most {} lines", u16::MAX),
            )
        })?;
        in_currency(p.amount, input.currency, || {
            format!("line {no} ({})", p.service)
        })?;
        if !p.amount.is_in_minor_units() {
            return Err(InvoicingError::invalid(
                "amount",
                format!(
                    "line {no} ({}): {} is not in whole minor units",
                    p.service, p.amount
                ),
            ));
        }
        let Amounts { net, tax, gross } = line_amounts(p.amount, p.tax_rate, settings.tax_mode)?;
        // A charge keeps the rate of its day; the basis of an exemption is the catalog's.
        let tax_exemption = p
            .tax_rate
            .is_exempt()
            .then(|| input.catalog.get(&p.service))
            .flatten()
            .and_then(|(service, _)| service.tax_exemption().cloned());
        lines.push(InvoiceLine {
            no,
            source: p.source,
            service: p.service,
            description: p.description,
            quantity: p.quantity,
            unit: p.unit,
            unit_price: p.unit_price,
            tiers: p.tiers,
            price_version: p.price_version,
            from: p.from,
            until_exclusive: p.until_exclusive,
            tax_rate: p.tax_rate,
            tax_exemption,
            amount: minor_scale(p.amount),
            net,
            tax,
            gross,
        });
    }

    let totals = Amounts::checked_sum(input.currency, lines.iter().map(InvoiceLine::amounts))?;
    let taxes = tax_summaries(input.currency, &lines)?;
    let draft = InvoiceDraft {
        org: input.org,
        period: input.period,
        currency: input.currency,
        tax_mode: settings.tax_mode,
        lines,
        taxes,
        net: totals.net,
        tax: totals.tax,
        gross: totals.gross,
    };
    if draft.is_zero() && settings.zero_invoices == ZeroInvoicePolicy::Skip {
        return Ok(None);
    }
    Ok(Some(draft))
}

/// One line per prorated segment, by subscription id and then segment.
fn subscription_lines(input: &CloseInput<'_>) -> Result<Vec<Priced>, InvoicingError> {
    let mut subscriptions: Vec<_> = input.subscriptions.iter().collect();
    subscriptions.sort_by_key(|s| s.id());
    let mut lines = Vec::new();
    for subscription in subscriptions {
        if subscription.org() != input.org {
            return Err(InvoicingError::invalid(
                "org",
                format!(
                    "subscription {} belongs to another organisation",
                    subscription.id()
                ),
            ));
        }
        let mut charges = subscription
            .charges_for_paused(
                input.period,
                |code, version| version_of(input.catalog, code, version).map(|v| v.price.clone()),
                input.paused,
            )
            .map_err(|e| from_subscription_error(e, input.catalog))?;
        charges.sort_by_key(|c| c.from);
        for charge in charges {
            let (service, _) = service_of(input.catalog, &charge.service)?;
            let version = version_of(input.catalog, &charge.service, charge.price_version)
                .ok_or_else(|| unknown_version(&charge.service, charge.price_version))?;
            in_currency(charge.amount, input.currency, || {
                format!("subscription {}", subscription.id())
            })?;
            let quote = version
                .price
                .quote(charge.quantity)
                .map_err(from_pricing_error)?;
            let unit_price = whole_unit_price(&quote);
            let tiers = if unit_price.is_none() {
                quote.lines().to_vec()
            } else {
                Vec::new()
            };
            lines.push(Priced {
                source: LineSource::Subscription {
                    subscription: subscription.id(),
                    from: charge.from,
                    until_exclusive: charge.until_exclusive,
                    days: charge.days,
                    period_days: charge.period_days,
                    full_period: charge.full_period,
                },
                service: charge.service,
                description: service.name().clone(),
                quantity: charge.quantity.value(),
                unit: charge.unit,
                unit_price,
                tiers,
                price_version: charge.price_version,
                from: charge.from,
                until_exclusive: charge.until_exclusive,
                tax_rate: service.tax_rate(),
                amount: charge.amount,
            });
        }
    }
    Ok(lines)
}

/// One line per charge, by the day rendered and then charge id.
fn charge_lines(input: &CloseInput<'_>) -> Result<Vec<Priced>, InvoicingError> {
    let mut charges: Vec<&Charge> = input.charges.iter().collect();
    charges.sort_by_key(|c| (c.rendered_on, c.id));
    charges
        .into_iter()
        .map(|charge| {
            if charge.org != input.org {
                return Err(InvoicingError::invalid(
                    "org",
                    format!("charge {} belongs to another organisation", charge.id),
                ));
            }
            // Earlier periods' charges come only at a customer's first close (nothing
            // before it was ever invoiced); a later period's never.
            if charge.period > input.period {
                return Err(InvoicingError::invalid(
                    "period",
                    format!(
                        "charge {} is billed in {}, after {}",
                        charge.id, charge.period, input.period
                    ),
                ));
            }
            let until_exclusive = charge
                .rendered_on
                .checked_add_days(Days::new(1))
                .ok_or_else(|| {
                    InvoicingError::invalid(
                        "rendered_on",
                        format!("charge {} is rendered past the last day", charge.id),
                    )
                })?;
            Ok(Priced {
                source: LineSource::Charge { charge: charge.id },
                service: charge.service.clone(),
                description: charge.description.clone(),
                quantity: charge.quantity.value(),
                unit: charge.unit,
                unit_price: exact_unit_price(charge.amount.amount(), charge.quantity.value()),
                tiers: Vec::new(),
                price_version: charge.price_version,
                from: charge.rendered_on,
                until_exclusive,
                tax_rate: charge.tax_rate,
                amount: charge.amount,
            })
        })
        .collect()
}

/// One line per meter with usage in the period, by meter code: the period's total quoted
/// once with the period's price version.
fn usage_lines(input: &CloseInput<'_>) -> Result<Vec<Priced>, InvoicingError> {
    let mut lines = Vec::new();
    for (meter, usage) in input.usage {
        if usage.total.is_zero() {
            continue;
        }
        let (service, versions) = service_of(input.catalog, meter)?;
        let version = crate::usage::period_price(versions, input.period, input.calendar)
            .map_err(|e| from_usage_error(e, meter))?;
        let quantity = Quantity::new(usage.total).map_err(|e| match e {
            PricingError::Invalid { reason, .. } => InvoicingError::invalid(
                "quantity",
                format!("the usage of {meter} in {}: {reason}", input.period),
            ),
            PricingError::Overflow => MoneyError::Overflow.into(),
        })?;
        let quote = version.price.quote(quantity).map_err(from_pricing_error)?;
        let amount = quote.total();
        in_currency(amount, input.currency, || format!("the usage of {meter}"))?;
        lines.push(Priced {
            source: LineSource::Usage {
                events: usage.events,
                late_events: usage.late_events,
            },
            service: meter.clone(),
            description: service.name().clone(),
            quantity: quantity.value(),
            unit: service.unit(),
            unit_price: whole_unit_price(&quote),
            tiers: quote.lines().to_vec(),
            price_version: version.version,
            from: input.period.first_day(),
            until_exclusive: input.period.end_exclusive(),
            tax_rate: service.tax_rate(),
            amount,
        });
    }
    Ok(lines)
}

/// The one price that applies to a quote's whole quantity, if there is one (see "Lines" in
/// the module docs): a single step covering the whole quantity, without a minimum
/// adjustment or flat fee — its unit price, or for a flat price of one unit, its amount.
fn whole_unit_price(quote: &Quote) -> Option<Decimal> {
    let plain = quote.minimum_adjustment().is_zero() && quote.flat_fee().is_zero();
    match quote.lines() {
        [line] if plain && line.quantity() == quote.quantity().value() => match line.unit_price() {
            Some(price) => Some(price),
            None if line.quantity() == Decimal::ONE => Some(line.amount()),
            None => None,
        },
        _ => None,
    }
}

/// `amount / quantity` when the quantity is more than zero and the division is exact in at
/// most [`UNIT_PRICE_PLACES`] decimal places.
fn exact_unit_price(amount: Decimal, quantity: Decimal) -> Option<Decimal> {
    if quantity <= Decimal::ZERO {
        return None;
    }
    let price = amount.checked_div(quantity)?.normalize();
    let exact = price.checked_mul(quantity) == Some(amount);
    (exact && price.scale() <= UNIT_PRICE_PLACES).then_some(price)
}

fn service_of<'a>(
    catalog: &'a Catalog,
    code: &ServiceCode,
) -> Result<&'a (Service, Vec<PriceVersion>), InvoicingError> {
    catalog.get(code).ok_or_else(|| unknown_service(code))
}

fn version_of<'a>(
    catalog: &'a Catalog,
    code: &ServiceCode,
    version: u32,
) -> Option<&'a PriceVersion> {
    catalog
        .get(code)
        .and_then(|(_, versions)| versions.iter().find(|v| v.version == version))
}

fn unknown_service(code: &ServiceCode) -> InvoicingError {
    InvoicingError::invalid("service", format!("service {code} is not in the catalog"))
}

fn unknown_version(code: &ServiceCode, version: u32) -> InvoicingError {
    InvoicingError::invalid(
        "price_version",
        format!("price version {version} of service {code} is not in the catalog"),
    )
}

fn in_currency(
    amount: Money,
    currency: Currency,
    what: impl FnOnce() -> String,
) -> Result<(), InvoicingError> {
    if amount.currency() == currency {
        Ok(())
    } else {
        Err(InvoicingError::invalid(
            "currency",
            format!(
                "{} is priced in {}, the customer is billed in {currency}",
                what(),
                amount.currency()
            ),
        ))
    }
}

fn from_pricing_error(error: PricingError) -> InvoicingError {
    match error {
        PricingError::Invalid { field, reason } => InvoicingError::Invalid { field, reason },
        PricingError::Overflow => MoneyError::Overflow.into(),
    }
}

fn from_subscription_error(error: SubscriptionError, catalog: &Catalog) -> InvoicingError {
    match error {
        SubscriptionError::UnknownPriceVersion {
            service,
            price_version,
        } => {
            if catalog.contains_key(&service) {
                unknown_version(&service, price_version)
            } else {
                unknown_service(&service)
            }
        }
        SubscriptionError::Money(MoneyError::CurrencyMismatch { left, right }) => {
            InvoicingError::invalid(
                "currency",
                format!("a subscription in {left} has a price in {right}"),
            )
        }
        SubscriptionError::Money(error) => error.into(),
        SubscriptionError::Pricing(error) => from_pricing_error(error),
        SubscriptionError::Invalid { field, reason } => InvoicingError::Invalid { field, reason },
        SubscriptionError::Conflict { field, reason } => InvoicingError::Conflict { field, reason },
    }
}

fn from_usage_error(error: UsageError, meter: &ServiceCode) -> InvoicingError {
    match error {
        UsageError::NoPrice(period) => InvoicingError::invalid(
            "price_version",
            format!("service {meter} has no price in force in {period}"),
        ),
        UsageError::Overflow => MoneyError::Overflow.into(),
        UsageError::Pricing(error) => from_pricing_error(error),
    }
}

#[cfg(test)]
mod tests;
