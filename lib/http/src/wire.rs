//! Money on the wire: one form for every amount the API answers, and one for unit prices.
//!
//! - An [`Amount`] is a decimal *string* with exactly its currency's minor units: `"1090.00"`,
//!   `"0.00"`, `"-150.00"` (2 places for RUB, USD and EUR: kopeks and cents). It is never a
//!   JSON number (no reader turns it into a float) and never an object; the currency is the
//!   `currency` field of the object that holds the amount, or of its document. Amounts that
//!   are booked (invoices, payments, the ledger) are whole minor units already; an estimate or
//!   a quote is rounded to them here, half away from zero ([`kopek_domain::money`]'s policy).
//! - A [`UnitPrice`] (a price per unit, a rate, or a priced step before a total is rounded)
//!   keeps the places it has, at least the minor units and at most ten (a quantity has up to
//!   6, a unit price up to 4): `"990.00"`, `"2.0005"`, `"0.029"`.
//!
//! Field names say whether an amount includes VAT: `net` (without), `tax`, `gross` (with).
//! The OpenAPI document names both forms as components (`Amount`, `UnitPrice`) and every
//! amount in an answer refers to one of them (a test walks the document to hold it so).

use kopek_domain::money::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

/// An amount of money in an answer: exactly the currency's minor units, as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(Money);

impl Amount {
    /// `money` at its currency's minor units (rounded by the policy if it has more places).
    pub fn of(money: Money) -> Self {
        Self(money.round_to_minor())
    }

    /// The text sent: `"1090.00"`.
    pub fn text(&self) -> String {
        let mut value = self.0.amount();
        value.rescale(self.0.currency().minor_units());
        value.to_string()
    }
}

impl From<Money> for Amount {
    fn from(money: Money) -> Self {
        Self::of(money)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// The pattern of every [`Amount`]: the currencies billed in all have two minor units.
pub const AMOUNT_PATTERN: &str = r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$";

impl PartialSchema for Amount {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("decimal".into())))
            .pattern(Some(AMOUNT_PATTERN))
            .description(Some(
                "An amount of money: a decimal string with exactly the currency's minor units \
                 (2 for RUB, USD and EUR). The currency is the `currency` of the object that \
                 holds it, or of its document. `net` amounts exclude VAT, `gross` include it.",
            ))
            .examples([serde_json::json!("1090.00")])
            .into()
    }
}

impl ToSchema for Amount {}

/// A price per unit, a rate or a priced step in an answer: at least the currency's minor
/// units, at most ten places, trailing zeros past the minor units dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitPrice {
    value: Decimal,
    currency: Currency,
}

impl UnitPrice {
    pub fn new(value: Decimal, currency: Currency) -> Self {
        Self { value, currency }
    }

    /// The text sent: `"990.00"`, `"2.0005"`.
    pub fn text(&self) -> String {
        let minor = self.currency.minor_units();
        let mut value = self.value.round_dp(10).normalize();
        if value.scale() < minor {
            value.rescale(minor);
        }
        value.to_string()
    }
}

impl Serialize for UnitPrice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// The pattern of every [`UnitPrice`].
pub const UNIT_PRICE_PATTERN: &str = r"^-?(0|[1-9][0-9]*)\.[0-9]{2,10}$";

impl PartialSchema for UnitPrice {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("decimal".into())))
            .pattern(Some(UNIT_PRICE_PATTERN))
            .description(Some(
                "A price per unit, a rate, or a priced step before its total is rounded; net of \
                 VAT: a decimal string with at least the currency's minor units and at most ten \
                 places.",
            ))
            .examples([serde_json::json!("2.0005")])
            .into()
    }
}

impl ToSchema for UnitPrice {}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn rub(amount: Decimal) -> Money {
        Money::new(amount, Currency::RUB)
    }

    #[test]
    fn an_amount_always_has_two_places() {
        for (value, text) in [
            (dec!(990), "990.00"),
            (dec!(0), "0.00"),
            (dec!(2900.00000), "2900.00"),
            (dec!(-150.5), "-150.50"),
            (dec!(8242.03688), "8242.04"),
            (dec!(0.005), "0.01"),
            (dec!(-0.005), "-0.01"),
        ] {
            assert_eq!(Amount::of(rub(value)).text(), text, "{value}");
            let json = serde_json::to_string(&Amount::of(rub(value))).unwrap();
            assert_eq!(json, format!("\"{text}\""));
        }
    }

    #[test]
    fn a_unit_price_keeps_its_places_from_two_to_six() {
        for (value, text) in [
            (dec!(990), "990.00"),
            (dec!(2.5), "2.50"),
            (dec!(2.0005), "2.0005"),
            (dec!(2900.00000), "2900.00"),
            (dec!(0.1234567), "0.1234567"),
            (dec!(0.029), "0.029"),
        ] {
            assert_eq!(UnitPrice::new(value, Currency::RUB).text(), text, "{value}");
        }
    }

    #[test]
    fn the_texts_match_the_documented_patterns() {
        let amount = regex_lite::Regex::new(AMOUNT_PATTERN).unwrap();
        let unit = regex_lite::Regex::new(UNIT_PRICE_PATTERN).unwrap();
        for value in [
            dec!(0),
            dec!(1),
            dec!(-1.1),
            dec!(123456789.125),
            dec!(0.0001),
        ] {
            assert!(amount.is_match(&Amount::of(rub(value)).text()), "{value}");
            assert!(
                unit.is_match(&UnitPrice::new(value, Currency::RUB).text()),
                "{value}"
            );
        }
    }
}
