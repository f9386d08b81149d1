//! The catalog: services, price versions, retirement and the price calculator.

use kopek_domain::catalog::Service;
use kopek_domain::money::{Money, MoneyError};

use crate::Context;

/// A net amount of a service with the tax of the service's rate, as quotes and estimates
/// show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taxed {
    /// `"exempt"` or the percentage.
    pub tax_rate: String,
    /// Tax on the net amount, rounded half away from zero to minor units.
    pub tax: Money,
    pub total_with_tax: Money,
}

impl Taxed {
    pub fn of(service: &Service, net: Money) -> Result<Self, MoneyError> {
        let rate = service.tax_rate();
        let tax = rate.tax_on(&net)?;
        Ok(Self {
            tax_rate: rate
                .percent()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "exempt".into()),
            tax,
            total_with_tax: net.checked_add(tax)?,
        })
    }
}

#[derive(Clone)]
pub struct Catalog {
    #[allow(dead_code)]
    ctx: Context,
}

impl Catalog {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
