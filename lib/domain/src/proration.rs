//! Proration: the price of part of a billing period. There is one rule, and it is this:
//!
//! > A period's full price is split into one share per day of the period with
//! > [`Money::allocate`] over equal weights (so the shares differ by at most one minor unit
//! > and the left-over minor units go to the earliest days); the price of any part of the
//! > period is the sum of the shares of its days. Hence the parts of any split of a period
//! > always add up to exactly the full-period price.
//!
//! In more detail:
//!
//! - The full price is first rounded to minor units ([`Money::allocate`] does that; a quote's
//!   total already is). "The full-period price" below means that rounded amount.
//! - A period of *n* days has *n* shares ([`day_shares`]). With the full price counted as *M*
//!   minor units, every day gets ⌊*M* / *n*⌋ minor units, and the first *M* mod *n* days of
//!   the month get one more. Worked example: 990.00 RUB over November 2026 (30 days) is
//!   33.00 every day; 1000.00 over 31 days is 32.26 for the first 25 days and 32.25 for the
//!   other 6; 0.10 over 30 days is 0.01 for the first 10 days and 0.00 for the rest.
//! - The price of a day range `[from, until_exclusive)` is the sum of the shares of the days
//!   of the range that lie in the period ([`prorate`]); days outside the period are ignored,
//!   and a range with no day in the period costs zero. No sum is rounded: the shares are
//!   whole minor units already, so every prorated amount is too.
//! - Because a range's price is a plain sum of day shares, prices of adjacent ranges add up:
//!   `prorate(a, b) + prorate(b, c) = prorate(a, c)`. Splitting a period at any days (a
//!   subscription changing on the 11th and on the 20th) therefore never loses or creates a
//!   minor unit, and a range that contains another never costs less (for a non-negative
//!   price).
//! - A negative full price (a credit) is split the same way with every share negative or zero
//!   (see [`Money::allocate`]).
//!
//! A prorated amount is a priced line's total in the sense of the rounding policy in
//! [`crate::money`]: it is in minor units, and tax is computed on it as on any other line.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};
use crate::period::BillingPeriod;

/// The full price of a period split into one share per day, in day order: see the module
/// docs for the rule. The shares are in minor units and sum to the full price rounded to
/// minor units, exactly.
pub fn day_shares(full: Money, period: BillingPeriod) -> Result<Vec<Money>, MoneyError> {
    let days = usize::try_from(period.days()).map_err(|_| MoneyError::Overflow)?;
    full.allocate(&vec![Decimal::ONE; days])
}

/// The days of a period that a range covers, and their price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProratedPart {
    /// The first day covered (within the period).
    pub from: NaiveDate,
    /// The day after the last day covered (at most the period's
    /// [`end_exclusive`](BillingPeriod::end_exclusive)).
    pub until_exclusive: NaiveDate,
    /// How many days are covered: 1 to the number of days of the period.
    pub days: u32,
    /// The sum of the day shares of the covered days, in minor units.
    pub amount: Money,
}

/// The part of `period` that `[from, until_exclusive)` covers and its price under the rule in
/// the module docs, or `None` if the range has no day in the period (it is empty, reversed,
/// or lies entirely outside the period).
pub fn prorate_part(
    full: Money,
    period: BillingPeriod,
    from: NaiveDate,
    until_exclusive: NaiveDate,
) -> Result<Option<ProratedPart>, MoneyError> {
    let Some((from, until)) = period.overlap(from, until_exclusive) else {
        return Ok(None);
    };
    let index = |date: NaiveDate| {
        usize::try_from((date - period.first_day()).num_days()).map_err(|_| MoneyError::Overflow)
    };
    let (first, end) = (index(from)?, index(until)?);
    let shares = day_shares(full, period)?;
    let amount = Money::checked_sum(full.currency(), shares[first..end].iter().copied())?;
    Ok(Some(ProratedPart {
        from,
        until_exclusive: until,
        days: u32::try_from(end - first).map_err(|_| MoneyError::Overflow)?,
        amount,
    }))
}

/// The price of the days of `[from, until_exclusive)` that lie in `period`, when the whole
/// period costs `full`: the sum of those days' shares (see the module docs). Days outside the
/// period are ignored; a range with no day in the period costs zero in `full`'s currency.
pub fn prorate(
    full: Money,
    period: BillingPeriod,
    from: NaiveDate,
    until_exclusive: NaiveDate,
) -> Result<Money, MoneyError> {
    Ok(prorate_part(full, period, from, until_exclusive)?
        .map_or(Money::zero(full.currency()), |part| part.amount))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use chrono::Days;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn rub(amount: Decimal) -> Money {
        Money::new(amount, Currency::RUB)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn period(text: &str) -> BillingPeriod {
        text.parse().unwrap()
    }

    fn amounts(shares: &[Money]) -> Vec<Decimal> {
        shares.iter().map(Money::amount).collect()
    }

    #[test]
    fn nine_hundred_ninety_roubles_over_november_is_thirty_three_a_day() {
        let shares = day_shares(rub(dec!(990.00)), period("2026-11")).unwrap();
        assert_eq!(amounts(&shares), vec![dec!(33.00); 30]);
    }

    #[test]
    fn the_left_over_kopeks_of_a_thirty_one_day_month_go_to_the_first_days() {
        // 100000 kopeks / 31 = 3225 rest 25: the first 25 days get a kopek more.
        let shares = day_shares(rub(dec!(1000.00)), period("2026-12")).unwrap();
        assert_eq!(shares.len(), 31);
        assert_eq!(amounts(&shares[..25]), vec![dec!(32.26); 25]);
        assert_eq!(amounts(&shares[25..]), vec![dec!(32.25); 6]);
        assert_eq!(
            Money::checked_sum(Currency::RUB, shares).unwrap(),
            rub(dec!(1000.00))
        );
    }

    #[test]
    fn ten_kopeks_over_thirty_days_is_a_kopek_on_each_of_the_first_ten_days() {
        let shares = day_shares(rub(dec!(0.10)), period("2026-11")).unwrap();
        assert_eq!(amounts(&shares[..10]), vec![dec!(0.01); 10]);
        assert_eq!(amounts(&shares[10..]), vec![dec!(0); 20]);
    }

    #[test]
    fn a_leap_february_has_twenty_nine_shares() {
        let shares = day_shares(rub(dec!(2900.00)), period("2028-02")).unwrap();
        assert_eq!(amounts(&shares), vec![dec!(100.00); 29]);
        let shares = day_shares(rub(dec!(2900.00)), period("2026-02")).unwrap();
        // 290000 / 28 = 10357 rest 4.
        assert_eq!(amounts(&shares[..4]), vec![dec!(103.58); 4]);
        assert_eq!(amounts(&shares[4..]), vec![dec!(103.57); 24]);
    }

    #[test]
    fn sixteen_days_of_november_at_nine_hundred_ninety_cost_five_hundred_twenty_eight() {
        let part = prorate_part(
            rub(dec!(990.00)),
            period("2026-11"),
            day(2026, 11, 15),
            day(2026, 12, 1),
        )
        .unwrap()
        .unwrap();
        assert_eq!(part.days, 16);
        assert_eq!(part.amount, rub(dec!(528.00)));
        assert_eq!(
            (part.from, part.until_exclusive),
            (day(2026, 11, 15), day(2026, 12, 1))
        );
    }

    #[test]
    fn the_early_days_of_a_month_carry_its_left_over_kopeks() {
        let dec_ = period("2026-12");
        let full = rub(dec!(1000.00));
        // Days 1–10: 10 × 32.26; days 26–31: 6 × 32.25.
        assert_eq!(
            prorate(full, dec_, day(2026, 12, 1), day(2026, 12, 11)).unwrap(),
            rub(dec!(322.60))
        );
        assert_eq!(
            prorate(full, dec_, day(2026, 12, 26), day(2027, 1, 1)).unwrap(),
            rub(dec!(193.50))
        );
    }

    #[test]
    fn the_whole_period_costs_exactly_the_full_price() {
        let nov = period("2026-11");
        let full = rub(dec!(1234.57));
        assert_eq!(
            prorate(full, nov, nov.first_day(), nov.end_exclusive()).unwrap(),
            full
        );
    }

    #[test]
    fn days_outside_the_period_are_ignored() {
        let nov = period("2026-11");
        let full = rub(dec!(990.00));
        assert_eq!(
            prorate(full, nov, day(2026, 1, 1), day(2027, 6, 1)).unwrap(),
            full
        );
        assert_eq!(
            prorate(full, nov, day(2026, 10, 20), day(2026, 11, 3)).unwrap(),
            rub(dec!(66.00))
        );
    }

    #[test]
    fn a_range_with_no_day_in_the_period_costs_zero_in_the_currency() {
        let nov = period("2026-11");
        let full = Money::new(dec!(990.00), Currency::EUR);
        let zero = Money::zero(Currency::EUR);
        for (from, until) in [
            (day(2026, 11, 10), day(2026, 11, 10)),
            (day(2026, 11, 20), day(2026, 11, 10)),
            (day(2026, 12, 1), day(2026, 12, 31)),
            (day(2026, 10, 1), day(2026, 11, 1)),
        ] {
            assert_eq!(prorate(full, nov, from, until).unwrap(), zero);
            assert_eq!(prorate_part(full, nov, from, until).unwrap(), None);
        }
    }

    #[test]
    fn an_unrounded_full_price_is_rounded_once_before_it_is_split() {
        // 990.005 → 990.01 (half away from zero): the first day gets the extra kopek.
        let shares = day_shares(rub(dec!(990.005)), period("2026-11")).unwrap();
        assert_eq!(shares[0].amount(), dec!(33.01));
        assert_eq!(amounts(&shares[1..]), vec![dec!(33.00); 29]);
    }

    #[test]
    fn a_credit_is_prorated_into_negative_shares() {
        let nov = period("2026-11");
        let part = prorate(rub(dec!(-990.00)), nov, day(2026, 11, 15), day(2026, 12, 1)).unwrap();
        assert_eq!(part, rub(dec!(-528.00)));
    }

    #[test]
    fn a_prorated_part_travels_with_its_amount_as_a_string() {
        let part = prorate_part(
            rub(dec!(990.00)),
            period("2026-11"),
            day(2026, 11, 15),
            day(2026, 12, 1),
        )
        .unwrap()
        .unwrap();
        let json = serde_json::to_value(part).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "from": "2026-11-15",
                "until_exclusive": "2026-12-01",
                "days": 16,
                "amount": {"amount": "528.00", "currency": "RUB"}
            })
        );
        assert_eq!(serde_json::from_value::<ProratedPart>(json).unwrap(), part);
    }

    // --- Properties --------------------------------------------------------------------------

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(Currency::ALL.to_vec())
    }

    /// A full price from 0 to 10⁹ with two decimal places.
    fn full_price() -> impl Strategy<Value = Money> {
        (0i64..=100_000_000_000, currency()).prop_map(|(m, c)| Money::new(Decimal::new(m, 2), c))
    }

    fn any_period() -> impl Strategy<Value = BillingPeriod> {
        (2000i32..=2100, 1u32..=12).prop_map(|(y, m)| BillingPeriod::new(y, m).unwrap())
    }

    /// A period and the days on which it is cut into consecutive segments, ascending and
    /// distinct, each strictly inside the period (the 2nd to the last day).
    fn period_and_cuts() -> impl Strategy<Value = (BillingPeriod, Vec<NaiveDate>)> {
        any_period().prop_flat_map(|p| {
            let inner: Vec<NaiveDate> = p.iter_days().skip(1).collect();
            (
                Just(p),
                prop::sample::subsequence(inner.clone(), 0..=inner.len()),
            )
        })
    }

    /// A period and two day offsets `a ≤ b` in 0..=days (offset `days` is the end).
    fn period_and_range() -> impl Strategy<Value = (BillingPeriod, u64, u64)> {
        any_period().prop_flat_map(|p| {
            let n = u64::from(p.days());
            (Just(p), 0..=n, 0..=n).prop_map(|(p, a, b)| (p, a.min(b), a.max(b)))
        })
    }

    fn at(p: BillingPeriod, offset: u64) -> NaiveDate {
        p.first_day() + Days::new(offset)
    }

    proptest! {
        #[test]
        fn the_parts_of_any_split_of_a_period_add_up_to_the_full_price(
            full in full_price(), (p, cuts) in period_and_cuts()
        ) {
            let mut bounds = vec![p.first_day()];
            bounds.extend(cuts);
            bounds.push(p.end_exclusive());
            let parts = bounds
                .windows(2)
                .map(|w| prorate(full, p, w[0], w[1]).unwrap())
                .collect::<Vec<_>>();
            prop_assert!(parts.iter().all(|m| m.is_in_minor_units() && m.currency() == full.currency()));
            prop_assert_eq!(
                Money::checked_sum(full.currency(), parts).unwrap(),
                full.round_to_minor()
            );
        }

        #[test]
        fn the_whole_period_costs_exactly_the_full_price_rounded(
            mantissa in 0i64..=100_000_000_000_000, c in currency(), p in any_period()
        ) {
            // Up to four decimal places: the full price is rounded once, then split.
            let full = Money::new(Decimal::new(mantissa, 4), c);
            prop_assert_eq!(
                prorate(full, p, p.first_day(), p.end_exclusive()).unwrap(),
                full.round_to_minor()
            );
        }

        #[test]
        fn day_shares_differ_by_at_most_one_minor_unit_and_never_increase(
            full in full_price(), p in any_period()
        ) {
            let shares = day_shares(full, p).unwrap();
            prop_assert_eq!(shares.len(), p.days() as usize);
            let first = shares[0].amount();
            let one = Decimal::new(1, full.currency().minor_units());
            for w in shares.windows(2) {
                prop_assert!(w[1].amount() <= w[0].amount());
            }
            prop_assert!(shares.iter().all(|s| first - s.amount() <= one));
        }

        #[test]
        fn a_longer_range_never_costs_less(
            full in full_price(), (p, a, b) in period_and_range(), widen in (0u64..40, 0u64..40)
        ) {
            let inner = prorate(full, p, at(p, a), at(p, b)).unwrap();
            let outer_from = p.first_day() + Days::new(a) - Days::new(widen.0);
            let outer = prorate(full, p, outer_from, at(p, b) + Days::new(widen.1)).unwrap();
            prop_assert!(outer.amount() >= inner.amount());
            prop_assert!(inner.is_in_minor_units());
            prop_assert!(inner.amount() <= full.amount());
        }

        #[test]
        fn adjacent_ranges_add_up(
            full in full_price(), (p, a, c) in period_and_range(), cut in 0u64..=31
        ) {
            let b = a + cut.min(c - a);
            let left = prorate(full, p, at(p, a), at(p, b)).unwrap();
            let right = prorate(full, p, at(p, b), at(p, c)).unwrap();
            let whole = prorate(full, p, at(p, a), at(p, c)).unwrap();
            prop_assert_eq!(left.checked_add(right).unwrap(), whole);
        }

        #[test]
        fn a_part_counts_the_days_it_covers(full in full_price(), (p, a, b) in period_and_range()) {
            let part = prorate_part(full, p, at(p, a), at(p, b)).unwrap();
            match part {
                None => prop_assert_eq!(a, b),
                Some(part) => {
                    prop_assert_eq!(u64::from(part.days), b - a);
                    prop_assert_eq!((part.from, part.until_exclusive), (at(p, a), at(p, b)));
                }
            }
        }
    }
}
