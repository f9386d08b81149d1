//! Views shared by every answer that shows how an amount was priced. The wire forms of money
//! themselves are [`kopek_http::wire`]'s: [`Amount`] for every amount, [`UnitPrice`] for unit
//! prices, rates and the priced steps before a total is rounded.

use kopek_domain::money::Currency;
use kopek_domain::pricing::QuoteLine;
use kopek_http::wire::UnitPrice;
use serde::Serialize;
use utoipa::ToSchema;

/// One priced step of a quote or an invoice line: a tier, a package, a percentage, the minimum
/// adjustment or the flat fee. Net of VAT and at full precision: the steps add up exactly, and
/// the total they make is rounded once, to minor units.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteLineView {
    /// What the step is for, in English, e.g. `Tier 2 (over 5 up to 10)`.
    description: String,
    /// A decimal string.
    quantity: String,
    /// The price of one unit; for a percentage step, the rate (`0.029` for 2.9%).
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_price: Option<UnitPrice>,
    /// `quantity` × `unit_price`, at full precision.
    net: UnitPrice,
}

impl QuoteLineView {
    pub(crate) fn of(line: &QuoteLine, currency: Currency) -> Self {
        Self {
            description: line.description().to_owned(),
            quantity: line.quantity().normalize().to_string(),
            unit_price: line.unit_price().map(|p| UnitPrice::new(p, currency)),
            net: UnitPrice::new(line.amount(), currency),
        }
    }
}
