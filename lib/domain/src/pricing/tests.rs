use super::*;
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn qty(value: Decimal) -> Quantity {
    Quantity::new(value).unwrap()
}

fn price(model: PriceModel) -> Price {
    Price::new(Currency::RUB, model, None, None).unwrap()
}

fn total(price: &Price, quantity: Decimal) -> Decimal {
    price.quote(qty(quantity)).unwrap().total().amount()
}

fn field_of(err: PricingError) -> String {
    match err {
        PricingError::Invalid { field, .. } => field,
        PricingError::Overflow => "overflow".to_owned(),
    }
}

/// Stripe's tiered-pricing example: 1–5 at 7.00, 6–10 at 6.50, 11+ at 6.00.
fn stripe_tiers() -> Vec<Tier> {
    vec![
        Tier::bounded(dec!(5), dec!(7.00)),
        Tier::bounded(dec!(10), dec!(6.50)),
        Tier::unbounded(dec!(6.00)),
    ]
}

// --- Quantity ---------------------------------------------------------------------------

#[test]
fn a_quantity_keeps_up_to_six_decimal_places_and_up_to_a_trillion() {
    assert_eq!(qty(dec!(1.500000)).value(), dec!(1.5));
    assert!(Quantity::new(dec!(0.000001)).is_ok());
    assert_eq!(Quantity::MAX, dec!(1_000_000_000_000));
    assert!(Quantity::new(Quantity::MAX).is_ok());
}

#[test]
fn a_quantity_error_says_which_limit_is_broken() {
    let reason = |v| match Quantity::new(v).unwrap_err() {
        PricingError::Invalid { field, reason } => format!("{field}: {reason}"),
        other => panic!("{other:?}"),
    };
    assert_eq!(reason(dec!(-1)), "quantity: must not be negative");
    assert_eq!(
        reason(dec!(0.0000001)),
        "quantity: must have at most 6 decimal places"
    );
    assert_eq!(
        reason(dec!(1_000_000_000_001)),
        "quantity: must be at most 1000000000000"
    );
}

#[test]
fn a_quantity_knows_whether_it_is_whole() {
    assert!(qty(dec!(3)).is_whole());
    assert!(qty(dec!(3.000)).is_whole());
    assert!(!qty(dec!(3.5)).is_whole());
    assert!(Quantity::ZERO.is_whole());
}

#[test]
fn a_quantity_travels_as_a_string_and_is_checked_on_the_way_in() {
    assert_eq!(serde_json::to_string(&qty(dec!(2.5))).unwrap(), r#""2.5""#);
    assert_eq!(
        serde_json::from_str::<Quantity>(r#""2.50""#).unwrap(),
        qty(dec!(2.5))
    );
    assert!(serde_json::from_str::<Quantity>(r#""-1""#).is_err());
    assert!(serde_json::from_str::<Quantity>("2.5").is_err());
}

// --- Validation -------------------------------------------------------------------------

#[test]
fn tiers_must_be_present_and_end_unbounded() {
    let err = Price::new(
        Currency::RUB,
        PriceModel::Graduated { tiers: vec![] },
        None,
        None,
    );
    assert_eq!(field_of(err.unwrap_err()), "model.tiers");

    let tiers = vec![
        Tier::bounded(dec!(5), dec!(1)),
        Tier::bounded(dec!(10), dec!(1)),
    ];
    let err = Price::new(Currency::RUB, PriceModel::Volume { tiers }, None, None).unwrap_err();
    assert_eq!(
        err,
        invalid(
            "model.tiers[1].up_to",
            "the last tier must be unbounded (null)"
        )
    );

    let tiers = vec![Tier::unbounded(dec!(1)), Tier::unbounded(dec!(1))];
    let err = Price::new(Currency::RUB, PriceModel::Graduated { tiers }, None, None);
    assert_eq!(
        err.unwrap_err(),
        invalid(
            "model.tiers[0].up_to",
            "only the last tier may be unbounded"
        )
    );
}

#[test]
fn tier_bounds_must_increase_strictly_from_above_zero() {
    let mut tiers = stripe_tiers();
    tiers[1].up_to = Some(dec!(5));
    let err = Price::new(Currency::RUB, PriceModel::Graduated { tiers }, None, None);
    assert_eq!(
        err.unwrap_err(),
        invalid(
            "model.tiers[1].up_to",
            "must be greater than the previous tier's up_to (5)"
        )
    );

    let mut tiers = stripe_tiers();
    tiers[0].up_to = Some(dec!(0));
    let err = Price::new(Currency::RUB, PriceModel::Graduated { tiers }, None, None);
    assert_eq!(
        err.unwrap_err(),
        invalid("model.tiers[0].up_to", "must be greater than zero")
    );
}

#[test]
fn every_error_names_the_offending_field() {
    let cases: Vec<(PriceModel, Option<Decimal>, Option<Decimal>, &str)> = vec![
        (
            PriceModel::Flat { amount: dec!(-1) },
            None,
            None,
            "model.amount",
        ),
        (
            PriceModel::Flat {
                amount: dec!(1.001),
            },
            None,
            None,
            "model.amount",
        ),
        (
            PriceModel::PerUnit {
                unit_price: dec!(0.00001),
            },
            None,
            None,
            "model.unit_price",
        ),
        (
            PriceModel::PerUnit {
                unit_price: dec!(0.0001),
            },
            Some(dec!(0.001)),
            None,
            "minimum",
        ),
        (
            PriceModel::PerUnit {
                unit_price: dec!(1),
            },
            None,
            Some(dec!(-5)),
            "flat_fee",
        ),
        (
            PriceModel::Graduated {
                tiers: vec![
                    Tier::bounded(dec!(1.0000001), dec!(1)),
                    Tier::unbounded(dec!(1)),
                ],
            },
            None,
            None,
            "model.tiers[0].up_to",
        ),
        (
            PriceModel::Volume {
                tiers: vec![Tier::bounded(dec!(1), dec!(1)), Tier::unbounded(dec!(-1))],
            },
            None,
            None,
            "model.tiers[1].unit_price",
        ),
        (
            PriceModel::Graduated {
                tiers: vec![Tier::unbounded(dec!(1)).with_flat_fee(dec!(0.005))],
            },
            None,
            None,
            "model.tiers[0].flat_fee",
        ),
        (
            PriceModel::Package {
                block_size: dec!(0),
                block_price: dec!(10),
                free_units: dec!(0),
            },
            None,
            None,
            "model.block_size",
        ),
        (
            PriceModel::Package {
                block_size: dec!(100),
                block_price: dec!(10),
                free_units: dec!(-1),
            },
            None,
            None,
            "model.free_units",
        ),
        (
            PriceModel::Percentage {
                tiers: vec![PercentTier::unbounded(dec!(100.01))],
            },
            None,
            None,
            "model.tiers[0].percent",
        ),
        (
            PriceModel::Percentage {
                tiers: vec![
                    PercentTier::bounded(dec!(10.005), dec!(1)),
                    PercentTier::unbounded(dec!(1)),
                ],
            },
            None,
            None,
            "model.tiers[0].up_to",
        ),
        (
            PriceModel::Percentage {
                tiers: vec![PercentTier::unbounded(dec!(1)).with_fixed_fee(dec!(-0.3))],
            },
            None,
            None,
            "model.tiers[0].fixed_fee",
        ),
    ];
    for (model, minimum, flat_fee, field) in cases {
        let err = Price::new(Currency::RUB, model.clone(), minimum, flat_fee)
            .expect_err(&format!("{model:?} should be refused"));
        assert_eq!(field_of(err), field, "{model:?}");
    }
}

#[test]
fn a_block_size_may_be_fractional_but_too_many_tiers_are_refused() {
    let package = PriceModel::Package {
        block_size: dec!(0.5),
        block_price: dec!(1),
        free_units: dec!(0),
    };
    assert_eq!(total(&price(package), dec!(1.2)), dec!(3));

    let mut tiers: Vec<Tier> = (1..=MAX_TIERS as i64)
        .map(|i| Tier::bounded(Decimal::from(i), dec!(1)))
        .collect();
    tiers.push(Tier::unbounded(dec!(1)));
    let err = Price::new(Currency::RUB, PriceModel::Graduated { tiers }, None, None);
    assert_eq!(field_of(err.unwrap_err()), "model.tiers");
}

// --- Published worked examples ---------------------------------------------------------

#[test]
fn twenty_five_units_cost_150_under_volume_and_157_50_under_graduated() {
    // Stripe's docs: 25 units × 6.00 (volume); 5 × 7.00 + 5 × 6.50 + 15 × 6.00 (graduated).
    let volume = price(PriceModel::Volume {
        tiers: stripe_tiers(),
    });
    let graduated = price(PriceModel::Graduated {
        tiers: stripe_tiers(),
    });
    assert_eq!(total(&volume, dec!(25)), dec!(150.00));
    assert_eq!(total(&graduated, dec!(25)), dec!(157.50));

    let quote = graduated.quote(qty(dec!(25))).unwrap();
    let lines: Vec<_> = quote
        .lines()
        .iter()
        .map(|l| (l.description(), l.quantity(), l.unit_price(), l.amount()))
        .collect();
    assert_eq!(
        lines,
        [
            ("Tier 1 (up to 5)", dec!(5), Some(dec!(7.00)), dec!(35.00)),
            (
                "Tier 2 (over 5 up to 10)",
                dec!(5),
                Some(dec!(6.50)),
                dec!(32.50)
            ),
            ("Tier 3 (over 10)", dec!(15), Some(dec!(6.00)), dec!(90.00)),
        ]
    );
}

#[test]
fn eight_units_at_five_for_the_first_five_and_four_for_the_next_cost_37() {
    // Stripe's graduated example: the first 5 units at 5.00 each, the next 5 at 4.00.
    let tiers = vec![
        Tier::bounded(dec!(5), dec!(5.00)),
        Tier::bounded(dec!(10), dec!(4.00)),
        Tier::unbounded(dec!(3.00)),
    ];
    let graduated = price(PriceModel::Graduated {
        tiers: tiers.clone(),
    });
    assert_eq!(total(&graduated, dec!(8)), dec!(37.00));
    assert_eq!(
        total(&price(PriceModel::Volume { tiers }), dec!(8)),
        dec!(32.00)
    );
}

#[test]
fn fifteen_thousand_requests_cost_107_under_graduated_api_pricing() {
    // Autumn's docs: 1,000 × 0.01 + 9,000 × 0.008 + 5,000 × 0.005.
    let tiers = vec![
        Tier::bounded(dec!(1000), dec!(0.01)),
        Tier::bounded(dec!(10000), dec!(0.008)),
        Tier::unbounded(dec!(0.005)),
    ];
    assert_eq!(
        total(&price(PriceModel::Graduated { tiers }), dec!(15000)),
        dec!(107.00)
    );
}

#[test]
fn fifteen_thousand_units_cost_600_graduated_and_150_volume() {
    // Zuplo's docs: 1,000 × 0.10 + 9,000 × 0.05 + 5,000 × 0.01; volume 15,000 × 0.01.
    let tiers = vec![
        Tier::bounded(dec!(1000), dec!(0.10)),
        Tier::bounded(dec!(10000), dec!(0.05)),
        Tier::unbounded(dec!(0.01)),
    ];
    let graduated = price(PriceModel::Graduated {
        tiers: tiers.clone(),
    });
    assert_eq!(total(&graduated, dec!(15000)), dec!(600.00));
    assert_eq!(
        total(&price(PriceModel::Volume { tiers }), dec!(15000)),
        dec!(150.00)
    );
}

#[test]
fn packages_of_100_at_10_cost_30_for_250_units_and_20_with_50_free() {
    let package = |free_units| {
        price(PriceModel::Package {
            block_size: dec!(100),
            block_price: dec!(10.00),
            free_units,
        })
    };
    assert_eq!(total(&package(dec!(0)), dec!(250)), dec!(30.00));
    assert_eq!(total(&package(dec!(50)), dec!(250)), dec!(20.00));
    assert_eq!(total(&package(dec!(0)), dec!(200)), dec!(20.00));
    assert_eq!(total(&package(dec!(0)), dec!(200.000001)), dec!(30.00));
    assert_eq!(total(&package(dec!(50)), dec!(50)), dec!(0));
    assert_eq!(total(&package(dec!(0)), dec!(0)), dec!(0));

    let quote = package(dec!(50)).quote(qty(dec!(250))).unwrap();
    let lines: Vec<_> = quote
        .lines()
        .iter()
        .map(|l| (l.description(), l.quantity(), l.amount()))
        .collect();
    assert_eq!(
        lines,
        [
            ("Free units", dec!(50), dec!(0)),
            ("Packages of 100", dec!(2), dec!(20.00))
        ]
    );
}

#[test]
fn graduated_percentages_with_fixed_fees_match_lagos_worked_example() {
    // Lago's docs: 0–1,000 at 1% + 200, 1,001–10,000 at 2% + 300, above at 3% + 400.
    // Transactions of 500, 550 and 4,000 cost 205, 306 and 80: cumulatively 205, 511, 591.
    let percentage = price(PriceModel::Percentage {
        tiers: vec![
            PercentTier::bounded(dec!(1000), dec!(1)).with_fixed_fee(dec!(200)),
            PercentTier::bounded(dec!(10000), dec!(2)).with_fixed_fee(dec!(300)),
            PercentTier::unbounded(dec!(3)).with_fixed_fee(dec!(400)),
        ],
    });
    assert_eq!(total(&percentage, dec!(500)), dec!(205.00));
    assert_eq!(total(&percentage, dec!(1050)), dec!(511.00));
    assert_eq!(total(&percentage, dec!(5050)), dec!(591.00));
    assert_eq!(total(&percentage, dec!(0)), dec!(0));

    let quote = percentage.quote(qty(dec!(1050))).unwrap();
    let descriptions: Vec<_> = quote.lines().iter().map(QuoteLine::description).collect();
    assert_eq!(
        descriptions,
        [
            "Tier 1 (up to 1000): 1%",
            "Tier 1 (up to 1000) fixed fee",
            "Tier 2 (over 1000 up to 10000): 2%",
            "Tier 2 (over 1000 up to 10000) fixed fee",
        ]
    );
    assert_eq!(quote.lines()[2].unit_price(), Some(dec!(0.02)));
}

#[test]
fn a_card_fee_of_2_9_percent_plus_30_is_rounded_once_at_the_end() {
    // 2.9% of 10.55 = 0.30595, + 0.30 = 0.60595 → 0.61.
    let card = price(PriceModel::Percentage {
        tiers: vec![PercentTier::unbounded(dec!(2.9)).with_fixed_fee(dec!(0.30))],
    });
    let quote = card.quote(qty(dec!(10.55))).unwrap();
    assert_eq!(quote.subtotal(), dec!(0.60595));
    assert_eq!(quote.total().amount(), dec!(0.61));
}

// --- Minimum, flat fee, fractional quantities -----------------------------------------

#[test]
fn a_minimum_lifts_a_small_subtotal_and_the_flat_fee_comes_on_top() {
    let per_unit = PriceModel::PerUnit {
        unit_price: dec!(2.50),
    };
    let price = Price::new(Currency::RUB, per_unit, Some(dec!(100)), Some(dec!(15))).unwrap();

    let quote = price.quote(qty(dec!(10))).unwrap();
    assert_eq!(quote.subtotal(), dec!(25.00));
    assert_eq!(quote.minimum_adjustment(), dec!(75.00));
    assert_eq!(quote.flat_fee(), dec!(15));
    assert_eq!(quote.total().amount(), dec!(115.00));
    let last_two: Vec<_> = quote.lines()[1..]
        .iter()
        .map(|l| (l.description(), l.amount()))
        .collect();
    assert_eq!(
        last_two,
        [
            ("Minimum charge adjustment", dec!(75.00)),
            ("Flat fee", dec!(15))
        ]
    );

    // Above the minimum there is no adjustment; at zero the minimum still applies.
    assert_eq!(
        price.quote(qty(dec!(50))).unwrap().minimum_adjustment(),
        dec!(0)
    );
    assert_eq!(
        price.quote(qty(dec!(50))).unwrap().total().amount(),
        dec!(140.00)
    );
    assert_eq!(
        price.quote(Quantity::ZERO).unwrap().total().amount(),
        dec!(115.00)
    );
}

#[test]
fn a_flat_price_charges_its_amount_for_any_quantity_including_zero() {
    let flat = price(PriceModel::Flat {
        amount: dec!(990.00),
    });
    assert_eq!(total(&flat, dec!(0)), dec!(990.00));
    assert_eq!(total(&flat, dec!(3.5)), dec!(990.00));
}

#[test]
fn a_fractional_quantity_past_a_tier_boundary_falls_in_the_next_tier() {
    let volume = price(PriceModel::Volume {
        tiers: stripe_tiers(),
    });
    let graduated = price(PriceModel::Graduated {
        tiers: stripe_tiers(),
    });
    // 5.5 units: volume 5.5 × 6.50 = 35.75; graduated 5 × 7.00 + 0.5 × 6.50 = 38.25.
    assert_eq!(total(&volume, dec!(5.5)), dec!(35.75));
    assert_eq!(total(&graduated, dec!(5.5)), dec!(38.25));
    // Exactly on the boundary, 5 units stay in tier 1.
    assert_eq!(total(&volume, dec!(5)), dec!(35.00));
    assert_eq!(total(&graduated, dec!(5)), dec!(35.00));
    assert_eq!(graduated.quote(qty(dec!(5))).unwrap().lines().len(), 1);
    // Just past it, tier 2 starts.
    assert_eq!(total(&graduated, dec!(5.000001)), dec!(35.00));
    assert_eq!(
        graduated.quote(qty(dec!(5.000001))).unwrap().lines().len(),
        2
    );
}

#[test]
fn tier_flat_fees_are_charged_once_per_reached_tier() {
    let tiers = vec![
        Tier::bounded(dec!(10), dec!(1)).with_flat_fee(dec!(5)),
        Tier::unbounded(dec!(0.5)).with_flat_fee(dec!(20)),
    ];
    let graduated = price(PriceModel::Graduated {
        tiers: tiers.clone(),
    });
    let volume = price(PriceModel::Volume { tiers });
    assert_eq!(total(&graduated, dec!(0)), dec!(0));
    assert_eq!(total(&graduated, dec!(4)), dec!(9)); // 4 + 5
    assert_eq!(total(&graduated, dec!(12)), dec!(36)); // 10 + 5 + 1 + 20
    assert_eq!(total(&volume, dec!(0)), dec!(0));
    assert_eq!(total(&volume, dec!(12)), dec!(26)); // 12 × 0.5 + 20
}

#[test]
fn a_per_unit_total_is_rounded_half_away_from_zero() {
    let per_unit = price(PriceModel::PerUnit {
        unit_price: dec!(0.0125),
    });
    // 1 × 0.0125 → 0.01; 10 × 0.0125 = 0.125 → 0.13; 0.4 × 0.0125 = 0.005 → 0.01.
    assert_eq!(total(&per_unit, dec!(1)), dec!(0.01));
    assert_eq!(total(&per_unit, dec!(10)), dec!(0.13));
    assert_eq!(total(&per_unit, dec!(0.4)), dec!(0.01));
}

#[test]
fn a_single_unbounded_tier_is_the_same_as_per_unit() {
    let graduated = price(PriceModel::Graduated {
        tiers: vec![Tier::unbounded(dec!(3.3333))],
    });
    let per_unit = price(PriceModel::PerUnit {
        unit_price: dec!(3.3333),
    });
    assert_eq!(total(&graduated, dec!(7)), total(&per_unit, dec!(7)));
    assert_eq!(
        graduated.quote(qty(dec!(7))).unwrap().lines()[0].description(),
        "Tier 1"
    );
}

// --- Wire form ---------------------------------------------------------------------------

#[test]
fn a_price_round_trips_through_its_wire_form() {
    let price = Price::new(
        Currency::RUB,
        PriceModel::Graduated {
            tiers: vec![
                Tier::bounded(dec!(5), dec!(7.00)).with_flat_fee(dec!(1.50)),
                Tier::unbounded(dec!(6.00)),
            ],
        },
        Some(dec!(100)),
        None,
    )
    .unwrap();
    let json = serde_json::to_value(&price).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "currency": "RUB",
            "model": {
                "type": "graduated",
                "tiers": [
                    {"up_to": "5", "unit_price": "7.00", "flat_fee": "1.50"},
                    {"up_to": null, "unit_price": "6.00", "flat_fee": "0.00"}
                ]
            },
            "minimum": "100.00",
            "flat_fee": null
        })
    );
    assert_eq!(serde_json::from_value::<Price>(json).unwrap(), price);
}

#[test]
fn deserializing_a_price_goes_through_validation() {
    let bad =
        r#"{"currency":"RUB","model":{"type":"volume","tiers":[{"up_to":"5","unit_price":"1"}]}}"#;
    let err = serde_json::from_str::<Price>(bad).unwrap_err().to_string();
    assert!(err.contains("model.tiers[0].up_to"), "{err}");

    let ok =
        r#"{"currency":"USD","model":{"type":"package","block_size":"100","block_price":"10"}}"#;
    let price = serde_json::from_str::<Price>(ok).unwrap();
    assert_eq!(price.currency(), Currency::USD);
    assert_eq!(price.minimum(), None);
}

#[test]
fn unknown_fields_and_numeric_amounts_are_refused() {
    let typo = r#"{"currency":"RUB","model":{"type":"flat","amount":"1"},"minimun":"5"}"#;
    assert!(serde_json::from_str::<Price>(typo).is_err());
    let number = r#"{"currency":"RUB","model":{"type":"flat","amount":1.5}}"#;
    assert!(serde_json::from_str::<Price>(number).is_err());
    let tier_typo = r#"{"currency":"RUB","model":{"type":"graduated","tiers":[{"unit_price":"1","flatfee":"2"}]}}"#;
    assert!(serde_json::from_str::<Price>(tier_typo).is_err());
}

#[test]
fn a_quote_serializes_with_its_lines_and_total() {
    let per_unit = price(PriceModel::PerUnit {
        unit_price: dec!(1.25),
    });
    let json = serde_json::to_value(per_unit.quote(qty(dec!(3))).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "currency": "RUB",
            "quantity": "3",
            "lines": [{"description": "Per unit", "quantity": "3", "unit_price": "1.25", "amount": "3.75"}],
            "subtotal": "3.75",
            "minimum_adjustment": "0",
            "flat_fee": "0",
            "total": {"amount": "3.75", "currency": "RUB"}
        })
    );
}

// --- Properties ----------------------------------------------------------------------------

fn decimal(max_mantissa: i64, max_places: u32) -> impl Strategy<Value = Decimal> {
    (0..=max_mantissa, 0..=max_places).prop_map(|(m, s)| Decimal::new(m, s))
}

fn quantity() -> impl Strategy<Value = Decimal> {
    decimal(100_000_000, 6)
}

fn unit_price() -> impl Strategy<Value = Decimal> {
    decimal(10_000_000, 4)
}

fn fee() -> impl Strategy<Value = Decimal> {
    decimal(1_000_000, 2)
}

/// Increasing bounds for `n` − 1 bounded tiers, with `places` decimal places.
fn bounds(places: u32) -> impl Strategy<Value = Vec<Decimal>> {
    prop::collection::vec((1i64..=1_000_000, 0..=places), 0..5).prop_map(|steps| {
        steps
            .into_iter()
            .scan(Decimal::ZERO, |bound, (m, s)| {
                *bound += Decimal::new(m, s);
                Some(*bound)
            })
            .collect()
    })
}

fn tiers() -> impl Strategy<Value = Vec<Tier>> {
    bounds(QUANTITY_PLACES).prop_flat_map(|bounds| {
        let n = bounds.len() + 1;
        (
            Just(bounds),
            prop::collection::vec((unit_price(), fee()), n),
        )
            .prop_map(|(bounds, prices)| {
                prices
                    .into_iter()
                    .enumerate()
                    .map(|(i, (unit_price, flat_fee))| Tier {
                        up_to: bounds.get(i).copied(),
                        unit_price,
                        flat_fee,
                    })
                    .collect()
            })
    })
}

/// Tiers with non-increasing unit prices and no flat fees.
fn discount_tiers() -> impl Strategy<Value = Vec<Tier>> {
    tiers().prop_map(|mut tiers| {
        let mut prices: Vec<Decimal> = tiers.iter().map(|t| t.unit_price).collect();
        prices.sort_by(|a, b| b.cmp(a));
        for (tier, price) in tiers.iter_mut().zip(prices) {
            tier.unit_price = price;
            tier.flat_fee = Decimal::ZERO;
        }
        tiers
    })
}

fn percent_tiers() -> impl Strategy<Value = Vec<PercentTier>> {
    bounds(AMOUNT_PLACES).prop_flat_map(|bounds| {
        let n = bounds.len() + 1;
        let percent = (0i64..=1_000_000).prop_map(|m| Decimal::new(m, 4));
        (Just(bounds), prop::collection::vec((percent, fee()), n)).prop_map(|(bounds, rates)| {
            rates
                .into_iter()
                .enumerate()
                .map(|(i, (percent, fixed_fee))| PercentTier {
                    up_to: bounds.get(i).copied(),
                    percent,
                    fixed_fee,
                })
                .collect()
        })
    })
}

fn model() -> impl Strategy<Value = PriceModel> {
    prop_oneof![
        fee().prop_map(|amount| PriceModel::Flat { amount }),
        unit_price().prop_map(|unit_price| PriceModel::PerUnit { unit_price }),
        tiers().prop_map(|tiers| PriceModel::Graduated { tiers }),
        tiers().prop_map(|tiers| PriceModel::Volume { tiers }),
        (
            decimal(1_000_000, 3).prop_filter("positive", |d| !d.is_zero()),
            unit_price(),
            quantity()
        )
            .prop_map(|(block_size, block_price, free_units)| {
                PriceModel::Package {
                    block_size,
                    block_price,
                    free_units,
                }
            }),
        percent_tiers().prop_map(|tiers| PriceModel::Percentage { tiers }),
    ]
}

fn any_price() -> impl Strategy<Value = Price> {
    (
        prop::sample::select(Currency::ALL.to_vec()),
        model(),
        prop::option::of(fee()),
        prop::option::of(fee()),
    )
        .prop_map(|(currency, model, minimum, flat_fee)| {
            Price::new(currency, model, minimum, flat_fee).unwrap()
        })
}

proptest! {
    #[test]
    fn with_falling_tier_prices_graduated_never_costs_less_than_volume(
        tiers in discount_tiers(), q in quantity()
    ) {
        let graduated = price(PriceModel::Graduated { tiers: tiers.clone() });
        let volume = price(PriceModel::Volume { tiers });
        prop_assert!(total(&graduated, q) >= total(&volume, q));
    }

    #[test]
    fn a_graduated_total_never_decreases_as_the_quantity_grows(
        tiers in tiers(), a in quantity(), b in quantity()
    ) {
        let graduated = price(PriceModel::Graduated { tiers });
        let (low, high) = (a.min(b), a.max(b));
        prop_assert!(total(&graduated, low) <= total(&graduated, high));
    }

    #[test]
    fn a_package_total_never_decreases_as_the_quantity_grows(
        block_size in decimal(1_000_000, 6).prop_filter("positive", |d| !d.is_zero()),
        block_price in unit_price(),
        free_units in quantity(),
        a in quantity(),
        b in quantity(),
    ) {
        let package = price(PriceModel::Package { block_size, block_price, free_units });
        let (low, high) = (a.min(b), a.max(b));
        prop_assert!(total(&package, low) <= total(&package, high));
    }

    #[test]
    fn a_total_is_non_negative_in_the_price_currency_and_in_minor_units(
        price in any_price(), q in quantity()
    ) {
        let quote = price.quote(qty(q)).unwrap();
        let total = quote.total();
        prop_assert_eq!(total.currency(), price.currency());
        prop_assert_eq!(quote.currency(), price.currency());
        prop_assert!(!total.is_negative());
        prop_assert!(total.amount().normalize().scale() <= 2);
    }

    #[test]
    fn a_quote_adds_up_and_rounds_once(price in any_price(), q in quantity()) {
        let quote = price.quote(qty(q)).unwrap();
        let lines: Decimal = quote.lines().iter().map(QuoteLine::amount).sum();
        let unrounded = quote.subtotal() + quote.minimum_adjustment() + quote.flat_fee();
        prop_assert_eq!(lines, unrounded);
        prop_assert_eq!(quote.total(), Money::new(unrounded, price.currency()).round_to_minor());
    }

    #[test]
    fn a_total_is_at_least_the_minimum_plus_the_flat_fee(
        price in any_price(), q in quantity()
    ) {
        let total = price.quote(qty(q)).unwrap().total().amount();
        if let Some(minimum) = price.minimum() {
            prop_assert!(total >= minimum + price.flat_fee().unwrap_or_default());
        }
    }

    #[test]
    fn a_per_unit_total_is_quantity_times_price_rounded(p in unit_price(), q in quantity()) {
        let per_unit = price(PriceModel::PerUnit { unit_price: p });
        let expected = Money::new(q * p, Currency::RUB).round_to_minor().amount();
        prop_assert_eq!(total(&per_unit, q), expected);
    }

    #[test]
    fn a_price_survives_its_wire_form(price in any_price()) {
        let json = serde_json::to_string(&price).unwrap();
        prop_assert_eq!(serde_json::from_str::<Price>(&json).unwrap(), price);
    }
}
