//! Quotes per second for each price model, at a few quantities.
//!
//! Run with `cargo bench -p kopek-domain --bench pricing`; figures go into BENCHMARKS.md.
//! Every price and quantity is built from integers and decimal strings: no binary floating
//! point anywhere near money.

use std::hint::black_box;
use std::str::FromStr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kopek_domain::money::Currency;
use kopek_domain::pricing::{PercentTier, Price, PriceModel, Quantity, Tier};
use rust_decimal::Decimal;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal literal")
}

fn price(model: PriceModel) -> Price {
    Price::new(Currency::RUB, model, Some(d("100.00")), Some(d("15.00"))).expect("a valid price")
}

fn three_tiers() -> Vec<Tier> {
    vec![
        Tier::bounded(d("1000"), d("0.10")),
        Tier::bounded(d("10000"), d("0.05")).with_flat_fee(d("10.00")),
        Tier::unbounded(d("0.01")),
    ]
}

fn models() -> Vec<(&'static str, Price)> {
    vec![
        (
            "per_unit",
            price(PriceModel::PerUnit {
                unit_price: d("2.4990"),
            }),
        ),
        (
            "graduated_3_tiers",
            price(PriceModel::Graduated {
                tiers: three_tiers(),
            }),
        ),
        (
            "volume_3_tiers",
            price(PriceModel::Volume {
                tiers: three_tiers(),
            }),
        ),
        (
            "package",
            price(PriceModel::Package {
                block_size: d("100"),
                block_price: d("10.00"),
                free_units: d("50"),
            }),
        ),
        (
            "percentage",
            price(PriceModel::Percentage {
                tiers: vec![
                    PercentTier::bounded(d("1000"), d("2.9")).with_fixed_fee(d("0.30")),
                    PercentTier::bounded(d("10000"), d("2.5")),
                    PercentTier::unbounded(d("1.75")),
                ],
            }),
        ),
    ]
}

fn quotes(c: &mut Criterion) {
    let quantities = ["0", "7", "5000.5", "250000"];
    for (name, price) in models() {
        let mut group = c.benchmark_group(format!("quote/{name}"));
        group.throughput(Throughput::Elements(1));
        for text in quantities {
            let quantity = Quantity::new(d(text)).expect("a valid quantity");
            group.bench_with_input(BenchmarkId::from_parameter(text), &quantity, |b, q| {
                b.iter(|| price.quote(black_box(*q)).expect("a quote"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, quotes);
criterion_main!(benches);
