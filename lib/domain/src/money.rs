//! Amounts of money with their currency, checked arithmetic and the rounding policy.
//!
//! A [`Money`] is a [`Decimal`] amount with its [`Currency`]. Arithmetic is checked: adding or
//! subtracting amounts in different currencies is refused ([`MoneyError::CurrencyMismatch`]),
//! and an amount out of `Decimal`'s range is an error ([`MoneyError::Overflow`]), never a
//! panic. Binary floating point is never used for money, not even for a percentage.
//!
//! # The rounding policy
//!
//! Amounts are computed at full precision and rounded to the currency's minor units (kopeks,
//! cents: [`Currency::minor_units`]) with *half away from zero*
//! ([`RoundingStrategy::MidpointAwayFromZero`]: 0.125 → 0.13, −0.125 → −0.13), and only at
//! these named places:
//!
//! 1. **The total of a priced line** ([`Money::round_to_minor`]): a quote adds its parts up at
//!    full precision and rounds once, at the end (see [`crate::pricing`]). Parts are never
//!    rounded one by one.
//! 2. **Tax on a net amount** ([`tax_on`]): the net amount is rounded first (a no-op for a
//!    line total, which already is), the tax is computed on it at full precision and rounded.
//!
//! Splitting a rounded amount into parts ([`Money::allocate`]) works in whole minor units and
//! hands out the remainder so that the parts add up to the whole exactly; no part is rounded on
//! its own.
//!
//! # In words
//!
//! A document's total is also written out in words, in the document's language: [`in_words`]
//! («Двадцать шесть тысяч девятьсот шестьдесят два рубля 16 копеек»).
//!
//! # Wire form
//!
//! A currency is its ISO 4217 code (`"RUB"`); a [`Money`] is
//! `{"amount": "150.00", "currency": "RUB"}`, the amount a decimal *string* (numbers are
//! refused, so that no JSON reader ever turns an amount into a float).

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

mod words;
pub use words::in_words;

/// Why an operation on money failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Two amounts in different currencies were combined.
    #[error("cannot combine an amount in {left} with an amount in {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    /// The result does not fit in a `Decimal` (about ±7.9 × 10²⁸).
    #[error("amount out of range")]
    Overflow,
    /// Allocation weights that cannot split anything.
    #[error("allocation weights must be non-empty, non-negative and not all zero")]
    InvalidWeights,
    /// A currency code this system does not know.
    #[error("unknown currency `{code}`: expected one of RUB, USD, EUR")]
    UnknownCurrency { code: String },
}

/// A currency this system bills in, named by its ISO 4217 code.
#[allow(clippy::upper_case_acronyms)] // ISO 4217 codes are upper case by definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    /// Russian rouble; the minor unit is the kopek.
    RUB,
    /// US dollar; the minor unit is the cent.
    USD,
    /// Euro; the minor unit is the cent.
    EUR,
}

impl Currency {
    /// Every currency, in a stable order.
    pub const ALL: [Currency; 3] = [Currency::RUB, Currency::USD, Currency::EUR];

    /// The ISO 4217 alphabetic code, e.g. `"RUB"`.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::RUB => "RUB",
            Currency::USD => "USD",
            Currency::EUR => "EUR",
        }
    }

    /// How many decimal places the minor unit has (2 for kopeks and cents).
    pub const fn minor_units(self) -> u32 {
        match self {
            Currency::RUB | Currency::USD | Currency::EUR => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    /// Parses an ISO 4217 code exactly as the standard writes it (`"RUB"`; `"rub"` is refused,
    /// as every other code the standard does not have).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == s)
            .ok_or_else(|| MoneyError::UnknownCurrency { code: s.to_owned() })
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

/// An amount of money in a currency.
///
/// The amount may carry more decimal places than the currency's minor units while a price is
/// being computed; [`Money::round_to_minor`] applies the rounding policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[serde(with = "crate::wire::decimal")]
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// An amount in a currency, as given (not rounded).
    pub const fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Nothing, in a currency.
    pub const fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    pub const fn amount(&self) -> Decimal {
        self.amount
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// Whether the amount is below zero (a credit). Zero is not negative.
    pub fn is_negative(&self) -> bool {
        self.amount < Decimal::ZERO
    }

    /// The amount as a decimal string with at least the currency's minor units and no code:
    /// `"1500.00"`, `"-12.50"`; an unrounded amount keeps its digits (`"0.125"`). The wire
    /// form of money in views and messages.
    pub fn amount_text(&self) -> String {
        let mut value = self.amount;
        value.rescale(self.currency.minor_units().max(value.scale()));
        value.to_string()
    }

    /// Whether the amount is already a whole number of minor units (kopeks, cents).
    pub fn is_in_minor_units(&self) -> bool {
        self.amount.normalize().scale() <= self.currency.minor_units()
    }

    /// The sum of two amounts in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// The difference of two amounts in the same currency.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// The amount multiplied by a factor (a quantity, a rate), at full precision: not rounded.
    pub fn checked_mul(self, factor: Decimal) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// The sum of amounts, all in `currency`; zero for none.
    pub fn checked_sum(
        currency: Currency,
        amounts: impl IntoIterator<Item = Money>,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }

    /// The amount rounded to the currency's minor units, half away from zero: the one rounding
    /// step of the policy in the module docs.
    pub fn round_to_minor(&self) -> Money {
        let amount = self.amount.round_dp_with_strategy(
            self.currency.minor_units(),
            RoundingStrategy::MidpointAwayFromZero,
        );
        Money::new(amount, self.currency)
    }

    /// Splits the amount into parts proportional to `weights`, one part per weight, in whole
    /// minor units, so that the parts add up to the whole *exactly*.
    ///
    /// The amount is first rounded to minor units (a no-op for an amount that already is).
    /// Each part gets the whole minor units of its exact share; the minor units left over are
    /// handed out one each to the parts with the largest remainders (largest-remainder
    /// method), ties going to the earlier part. So every part differs from its exact share by
    /// less than one minor unit, and a zero weight always gets zero. A negative amount is
    /// split as its magnitude, and every part is negative (or zero).
    ///
    /// Weights must be non-empty, non-negative and not all zero ([`MoneyError::InvalidWeights`]);
    /// weights or amounts too large to multiply exactly give [`MoneyError::Overflow`].
    pub fn allocate(&self, weights: &[Decimal]) -> Result<Vec<Money>, MoneyError> {
        let weights: Vec<Decimal> = weights.iter().map(Decimal::normalize).collect();
        if weights.is_empty() || weights.iter().any(|w| *w < Decimal::ZERO) {
            return Err(MoneyError::InvalidWeights);
        }
        // Exact integer arithmetic: every weight scaled to the same number of decimal places,
        // the amount counted in minor units.
        let scale = weights.iter().map(Decimal::scale).max().unwrap_or(0);
        let weights = weights
            .iter()
            .map(|w| to_scaled_integer(*w, scale))
            .collect::<Result<Vec<i128>, _>>()?;
        let weight_sum = weights
            .iter()
            .try_fold(0i128, |sum, w| sum.checked_add(*w))
            .ok_or(MoneyError::Overflow)?;
        if weight_sum == 0 {
            return Err(MoneyError::InvalidWeights);
        }

        let minor = self.currency.minor_units();
        let whole = to_scaled_integer(self.round_to_minor().amount, minor)?;
        let magnitude = whole.checked_abs().ok_or(MoneyError::Overflow)?;

        // part_i = floor(magnitude × w_i / Σw), remainder_i = (magnitude × w_i) mod Σw.
        let mut parts = Vec::with_capacity(weights.len());
        let mut remainders = Vec::with_capacity(weights.len());
        for w in &weights {
            let product = magnitude.checked_mul(*w).ok_or(MoneyError::Overflow)?;
            parts.push(product / weight_sum);
            remainders.push(product % weight_sum);
        }
        // Σ floor ≤ magnitude, and what is left is fewer than the number of parts with a
        // non-zero remainder: Σ remainder_i = left_over × Σw with each remainder_i < Σw.
        let left_over = magnitude - parts.iter().sum::<i128>();
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by(|&a, &b| remainders[b].cmp(&remainders[a]).then(a.cmp(&b)));
        for &i in order
            .iter()
            .take(usize::try_from(left_over).unwrap_or(usize::MAX))
        {
            parts[i] += 1;
        }

        let sign = if whole < 0 { -1 } else { 1 };
        parts
            .into_iter()
            .map(|part| {
                Decimal::try_from_i128_with_scale(sign * part, minor)
                    .map(|amount| Money::new(amount, self.currency))
                    .map_err(|_| MoneyError::Overflow)
            })
            .collect()
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

/// Shows the amount with at least the currency's minor units, then the code: `150.00 RUB`,
/// `0.125 RUB` (an unrounded amount keeps its digits).
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_text(), self.currency)
    }
}

/// The tax at `rate_percent` per cent on a net amount, rounded to minor units under the
/// policy: the net amount is rounded first, the tax is computed on it at full precision and
/// then rounded once (half away from zero). The tax has the net amount's currency.
///
/// The rate is not checked here (a tax rate is validated where it is defined, see
/// [`crate::catalog::TaxRate`]); an out-of-range product is [`MoneyError::Overflow`].
pub fn tax_on(net: &Money, rate_percent: Decimal) -> Result<Money, MoneyError> {
    let net = net.round_to_minor();
    let tax = net
        .amount
        .checked_mul(rate_percent)
        .and_then(|a| a.checked_div(Decimal::ONE_HUNDRED))
        .ok_or(MoneyError::Overflow)?;
    Ok(Money::new(tax, net.currency).round_to_minor())
}

/// `value` × 10^`scale` as an integer, for a value with at most `scale` decimal places.
fn to_scaled_integer(value: Decimal, scale: u32) -> Result<i128, MoneyError> {
    let shift = scale
        .checked_sub(value.scale())
        .and_then(|s| 10i128.checked_pow(s))
        .ok_or(MoneyError::Overflow)?;
    value
        .mantissa()
        .checked_mul(shift)
        .ok_or(MoneyError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn rub(amount: Decimal) -> Money {
        Money::new(amount, Currency::RUB)
    }

    fn amounts(parts: &[Money]) -> Vec<Decimal> {
        parts.iter().map(Money::amount).collect()
    }

    #[test]
    fn a_currency_parses_from_its_exact_code_and_prints_its_code() {
        assert_eq!("RUB".parse::<Currency>(), Ok(Currency::RUB));
        assert_eq!("USD".parse::<Currency>(), Ok(Currency::USD));
        for loose in ["rub", "Rub", " RUB", "RUB "] {
            assert!(loose.parse::<Currency>().is_err(), "{loose}");
        }
        assert_eq!(Currency::EUR.to_string(), "EUR");
        assert_eq!(Currency::RUB.minor_units(), 2);
    }

    #[test]
    fn an_unknown_currency_code_is_refused_with_the_accepted_codes() {
        let err = "RUR".parse::<Currency>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown currency `RUR`: expected one of RUB, USD, EUR"
        );
    }

    #[test]
    fn a_currency_travels_as_its_iso_code() {
        assert_eq!(serde_json::to_string(&Currency::RUB).unwrap(), r#""RUB""#);
        assert_eq!(
            serde_json::from_str::<Currency>(r#""EUR""#).unwrap(),
            Currency::EUR
        );
        assert!(serde_json::from_str::<Currency>(r#""XXX""#).is_err());
    }

    #[test]
    fn money_travels_with_its_amount_as_a_string() {
        let money = rub(dec!(150.00));
        let json = serde_json::to_string(&money).unwrap();
        assert_eq!(json, r#"{"amount":"150.00","currency":"RUB"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
        assert!(serde_json::from_str::<Money>(r#"{"amount":150.0,"currency":"RUB"}"#).is_err());
    }

    #[test]
    fn money_displays_at_least_the_minor_units_and_the_code() {
        assert_eq!(rub(dec!(150)).to_string(), "150.00 RUB");
        assert_eq!(rub(dec!(0.5)).to_string(), "0.50 RUB");
        assert_eq!(rub(dec!(-3.25)).to_string(), "-3.25 RUB");
        assert_eq!(rub(dec!(0.125)).to_string(), "0.125 RUB");
        // The amount alone, as views show it.
        assert_eq!(rub(dec!(1500)).amount_text(), "1500.00");
        assert_eq!(rub(dec!(-12.5)).amount_text(), "-12.50");
        assert_eq!(rub(dec!(0.125)).amount_text(), "0.125");
        assert_eq!(Money::new(dec!(7), Currency::EUR).amount_text(), "7.00");
    }

    #[test]
    fn adding_amounts_in_different_currencies_is_refused() {
        let err = rub(dec!(1)).checked_add(Money::new(dec!(1), Currency::USD));
        assert_eq!(
            err,
            Err(MoneyError::CurrencyMismatch {
                left: Currency::RUB,
                right: Currency::USD
            })
        );
        assert!(
            rub(dec!(1))
                .checked_sub(Money::zero(Currency::EUR))
                .is_err()
        );
    }

    #[test]
    fn arithmetic_past_the_decimal_range_is_an_error_not_a_panic() {
        assert_eq!(
            rub(Decimal::MAX).checked_add(rub(dec!(1))),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            rub(Decimal::MIN).checked_sub(rub(dec!(1))),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            rub(Decimal::MAX).checked_mul(dec!(2)),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn multiplying_keeps_full_precision() {
        assert_eq!(
            rub(dec!(0.10)).checked_mul(dec!(1.5)).unwrap().amount(),
            dec!(0.15)
        );
        assert_eq!(
            rub(dec!(7.00)).checked_mul(dec!(0.333)).unwrap().amount(),
            dec!(2.331)
        );
    }

    #[test]
    fn summing_amounts_adds_them_in_their_currency() {
        let sum = Money::checked_sum(Currency::RUB, [rub(dec!(1.10)), rub(dec!(2.20))]).unwrap();
        assert_eq!(sum, rub(dec!(3.30)));
        assert_eq!(
            Money::checked_sum(Currency::USD, []).unwrap(),
            Money::zero(Currency::USD)
        );
        assert!(Money::checked_sum(Currency::USD, [rub(dec!(1))]).is_err());
    }

    #[test]
    fn rounding_goes_half_away_from_zero() {
        assert_eq!(rub(dec!(0.125)).round_to_minor().amount(), dec!(0.13));
        assert_eq!(rub(dec!(-0.125)).round_to_minor().amount(), dec!(-0.13));
        assert_eq!(rub(dec!(0.124999)).round_to_minor().amount(), dec!(0.12));
        assert_eq!(rub(dec!(2.675)).round_to_minor().amount(), dec!(2.68));
        assert_eq!(rub(dec!(10)).round_to_minor().amount(), dec!(10));
    }

    #[test]
    fn zero_is_neither_negative_nor_unrounded() {
        assert!(!Money::zero(Currency::RUB).is_negative());
        assert!(rub(dec!(-0.01)).is_negative());
        assert!(rub(dec!(1.500)).is_in_minor_units());
        assert!(!rub(dec!(1.005)).is_in_minor_units());
    }

    #[test]
    fn one_hundred_split_three_ways_gives_the_extra_kopek_to_the_first_part() {
        let parts = rub(dec!(100))
            .allocate(&[dec!(1), dec!(1), dec!(1)])
            .unwrap();
        assert_eq!(amounts(&parts), [dec!(33.34), dec!(33.33), dec!(33.33)]);
    }

    #[test]
    fn the_extra_minor_units_go_to_the_largest_remainders() {
        // 0.05 split 3:7 → exact 0.015 and 0.035: both remainders are half a kopek, the tie
        // goes to the earlier part.
        let parts = rub(dec!(0.05)).allocate(&[dec!(3), dec!(7)]).unwrap();
        assert_eq!(amounts(&parts), [dec!(0.02), dec!(0.03)]);
        // 10.00 split 1:2:2 → exact 2.00, 4.00, 4.00.
        let parts = rub(dec!(10))
            .allocate(&[dec!(1), dec!(2), dec!(2)])
            .unwrap();
        assert_eq!(amounts(&parts), [dec!(2), dec!(4), dec!(4)]);
        // 1.00 split 0.2:0.3:0.5 → exact; 1.00 split 1:1:1:1:1:1:1 → 0.15 ×2, 0.14 ×5.
        let parts = rub(dec!(1))
            .allocate(&[dec!(0.2), dec!(0.3), dec!(0.5)])
            .unwrap();
        assert_eq!(amounts(&parts), [dec!(0.2), dec!(0.3), dec!(0.5)]);
        let parts = rub(dec!(1)).allocate(&[dec!(1); 7]).unwrap();
        assert_eq!(amounts(&parts)[..3], [dec!(0.15), dec!(0.15), dec!(0.14)]);
    }

    #[test]
    fn a_negative_amount_splits_into_negative_parts() {
        let parts = rub(dec!(-100))
            .allocate(&[dec!(1), dec!(1), dec!(1)])
            .unwrap();
        assert_eq!(amounts(&parts), [dec!(-33.34), dec!(-33.33), dec!(-33.33)]);
    }

    #[test]
    fn a_zero_weight_gets_nothing() {
        let parts = rub(dec!(0.03))
            .allocate(&[dec!(0), dec!(1), dec!(1)])
            .unwrap();
        assert_eq!(amounts(&parts), [dec!(0), dec!(0.02), dec!(0.01)]);
    }

    #[test]
    fn an_unrounded_amount_is_rounded_before_it_is_split() {
        let parts = rub(dec!(0.105)).allocate(&[dec!(1), dec!(1)]).unwrap();
        assert_eq!(amounts(&parts), [dec!(0.06), dec!(0.05)]);
    }

    #[test]
    fn weights_that_split_nothing_are_refused() {
        let hundred = rub(dec!(100));
        assert_eq!(hundred.allocate(&[]), Err(MoneyError::InvalidWeights));
        assert_eq!(
            hundred.allocate(&[dec!(0), dec!(0)]),
            Err(MoneyError::InvalidWeights)
        );
        assert_eq!(
            hundred.allocate(&[dec!(1), dec!(-1)]),
            Err(MoneyError::InvalidWeights)
        );
    }

    #[test]
    fn weights_too_large_to_split_exactly_are_an_overflow_not_a_panic() {
        let huge = rub(Decimal::MAX);
        assert_eq!(
            huge.allocate(&[Decimal::MAX, dec!(1)]),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn tax_is_computed_on_the_rounded_net_and_rounded_half_away_from_zero() {
        // 20% of 10.005 → net 10.01 → 2.002 → 2.00.
        assert_eq!(
            tax_on(&rub(dec!(10.005)), dec!(20)).unwrap().amount(),
            dec!(2.00)
        );
        // 20% of 0.125 → net 0.13 → 0.026 → 0.03.
        assert_eq!(
            tax_on(&rub(dec!(0.125)), dec!(20)).unwrap().amount(),
            dec!(0.03)
        );
        // 22% of 1000.00 → 220.00; 10% of 0.05 → 0.005 → 0.01; of −0.05 → −0.01.
        assert_eq!(
            tax_on(&rub(dec!(1000)), dec!(22)).unwrap().amount(),
            dec!(220)
        );
        assert_eq!(
            tax_on(&rub(dec!(0.05)), dec!(10)).unwrap().amount(),
            dec!(0.01)
        );
        assert_eq!(
            tax_on(&rub(dec!(-0.05)), dec!(10)).unwrap().amount(),
            dec!(-0.01)
        );
        assert_eq!(
            tax_on(&rub(dec!(123.45)), dec!(0)).unwrap().amount(),
            dec!(0)
        );
    }

    #[test]
    fn tax_past_the_decimal_range_is_an_overflow() {
        assert_eq!(
            tax_on(&rub(Decimal::MAX), dec!(200)),
            Err(MoneyError::Overflow)
        );
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(Currency::ALL.to_vec())
    }

    /// An amount with up to 4 decimal places, within ±10¹².
    fn decimal() -> impl Strategy<Value = Decimal> {
        (
            -10_000_000_000_000_000i64..=10_000_000_000_000_000,
            0u32..=4,
        )
            .prop_map(|(m, s)| Decimal::new(m, s))
    }

    /// A rounded amount in kopeks within ±10¹⁰ roubles.
    fn rounded() -> impl Strategy<Value = Decimal> {
        (-1_000_000_000_000i64..=1_000_000_000_000).prop_map(|m| Decimal::new(m, 2))
    }

    fn weights() -> impl Strategy<Value = Vec<Decimal>> {
        prop::collection::vec((0i64..=100_000, 0u32..=3), 1..10)
            .prop_map(|ws| {
                ws.into_iter()
                    .map(|(m, s)| Decimal::new(m, s))
                    .collect::<Vec<_>>()
            })
            .prop_filter("not all zero", |ws| ws.iter().any(|w| !w.is_zero()))
    }

    proptest! {
        #[test]
        fn allocated_parts_always_sum_to_the_whole(
            amount in rounded(), cur in currency(), ws in weights()
        ) {
            let whole = Money::new(amount, cur);
            let parts = whole.allocate(&ws).unwrap();
            prop_assert_eq!(parts.len(), ws.len());
            prop_assert!(parts.iter().all(|p| p.currency() == cur && p.is_in_minor_units()));
            prop_assert_eq!(Money::checked_sum(cur, parts).unwrap(), whole);
        }

        #[test]
        fn each_allocated_part_is_within_one_minor_unit_of_its_exact_share(
            amount in rounded(), ws in weights()
        ) {
            let parts = rub(amount).allocate(&ws).unwrap();
            let sum: Decimal = ws.iter().sum();
            let one_kopek = dec!(0.01);
            for (part, w) in parts.iter().zip(&ws) {
                // |part − amount × w / Σw| < 0.01  ⇔  |part × Σw − amount × w| < 0.01 × Σw,
                // which is exact in Decimal for these magnitudes.
                let gap = (part.amount() * sum - amount * *w).abs();
                prop_assert!(gap < one_kopek * sum, "part {} weight {}", part, w);
            }
        }

        #[test]
        fn rounding_is_idempotent_and_moves_less_than_half_a_minor_unit(
            amount in decimal(), cur in currency()
        ) {
            let once = Money::new(amount, cur).round_to_minor();
            prop_assert_eq!(once.round_to_minor(), once);
            prop_assert!(once.is_in_minor_units());
            prop_assert!((once.amount() - amount).abs() <= dec!(0.005));
        }

        #[test]
        fn rounding_is_symmetric_around_zero(amount in decimal()) {
            prop_assert_eq!(rub(-amount).round_to_minor().amount(), -rub(amount).round_to_minor().amount());
        }

        #[test]
        fn adding_is_commutative_and_subtracting_undoes_it(a in decimal(), b in decimal()) {
            let (a, b) = (rub(a), rub(b));
            prop_assert_eq!(a.checked_add(b), b.checked_add(a));
            prop_assert_eq!(a.checked_add(b).unwrap().checked_sub(b).unwrap(), a);
            prop_assert_eq!(a.checked_sub(a).unwrap(), Money::zero(Currency::RUB));
        }

        #[test]
        fn adding_is_associative(a in decimal(), b in decimal(), c in decimal()) {
            let (a, b, c) = (rub(a), rub(b), rub(c));
            let left = a.checked_add(b).and_then(|ab| ab.checked_add(c));
            let right = b.checked_add(c).and_then(|bc| a.checked_add(bc));
            prop_assert_eq!(left, right);
        }

        #[test]
        fn tax_is_rounded_and_never_exceeds_the_net_at_rates_up_to_one_hundred(
            net in rounded(), rate in (0i64..=10_000).prop_map(|r| Decimal::new(r, 2))
        ) {
            let tax = tax_on(&rub(net), rate).unwrap();
            prop_assert!(tax.is_in_minor_units());
            prop_assert!(tax.amount().abs() <= net.abs());
        }
    }
}
