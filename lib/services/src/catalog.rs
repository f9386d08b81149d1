//! The catalog: services, price versions, retirement and the price calculator.

use chrono::{DateTime, Utc};
use kopek_aws::dynamo::catalog::StoredService;
use kopek_domain::accounts::{Principal, Scope};
use kopek_domain::catalog::{
    NewService, PriceVersion, Service, ServiceCode, ServiceStatus, price_in_force,
};
use kopek_domain::money::{Money, MoneyError};
use kopek_domain::pricing::{Price, PricingError, Quantity, Quote};
use rust_decimal::Decimal;

use crate::{Context, Error, Page, Paging, Result};

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

/// A service with the price in force at the moment it was read and the next one scheduled
/// after it.
#[derive(Debug, Clone)]
pub struct Offer {
    pub service: Service,
    pub current: Option<PriceVersion>,
    pub next: Option<PriceVersion>,
}

impl Offer {
    fn of(service: Service, versions: &[PriceVersion], at: DateTime<Utc>) -> Self {
        let next = versions
            .iter()
            .filter(|v| v.effective_from > at)
            .min_by_key(|v| v.effective_from)
            .cloned();
        Self {
            current: price_in_force(versions, at).cloned(),
            next,
            service,
        }
    }
}

/// A price version to add to a service.
#[derive(Debug, Clone)]
pub struct AddPrice {
    pub price: Price,
    /// When it takes effect (default: now); never in the past.
    pub effective_from: Option<DateTime<Utc>>,
}

/// What a quantity of a service costs.
#[derive(Debug, Clone)]
pub struct Quoted {
    pub service: ServiceCode,
    /// The version that priced it, in force at `at`.
    pub price_version: u32,
    pub at: DateTime<Utc>,
    /// Net of tax.
    pub quote: Quote,
    pub taxed: Taxed,
}

/// Each distinct service `codes` name that the catalog has, once, with every price version
/// (for pricing what names them: order lines, subscription segments).
pub(crate) async fn services_named(
    ctx: &Context,
    codes: &[&ServiceCode],
) -> Result<Vec<StoredService>> {
    let mut services: Vec<StoredService> = Vec::new();
    for &code in codes {
        if services.iter().any(|s| s.service.code() == code) {
            continue;
        }
        if let Some(found) = ctx.store.service(code).await? {
            services.push(found);
        }
    }
    Ok(services)
}

/// Whether the caller is one of the provider's staff (who also see retired services).
fn is_staff(caller: Option<&Principal>) -> bool {
    caller.is_some_and(|c| c.role().is_staff())
}

/// The status a catalog listing names (`?status=`): `active` (the default) or, for staff,
/// `retired`; anything else is refused as a bad query naming `status`. Entrypoints read it
/// before the page parameters, so a listing wrong in both is refused for its status;
/// [`Catalog::list`] applies the same rule.
pub fn listed_status(caller: Option<&Principal>, status: Option<&str>) -> Result<ServiceStatus> {
    match status {
        None | Some("active") => Ok(ServiceStatus::Active),
        Some("retired") if is_staff(caller) => Ok(ServiceStatus::Retired),
        Some(other) => Err(Error::bad_input(
            "invalid_query",
            "status",
            format!("status `{other}` is not one you can list"),
        )),
    }
}

/// Refused unless the caller may change the catalog (`catalog:write`: admins, managers).
fn require_writer(caller: &Principal) -> Result<()> {
    Ok(caller.require_scope(Scope::CatalogWrite)?)
}

/// The service catalog: anyone browses the active services and asks the calculator; holders
/// of `catalog:write` create services, add price versions and retire services; staff also
/// see retired services (to everyone else they are not found). A price version never changes
/// once written, so an invoice can always show the price in force on its date.
#[derive(Clone)]
pub struct Catalog {
    ctx: Context,
}

impl Catalog {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// One page of the services of `status`, by code, each with its price now (retired ones
    /// only for staff).
    pub async fn list(
        &self,
        caller: Option<&Principal>,
        status: ServiceStatus,
        paging: Paging,
    ) -> Result<Page<Offer>> {
        if status == ServiceStatus::Retired {
            // Not for customers nor anonymous callers: the refusal `listed_status` gives.
            listed_status(caller, Some("retired"))?;
        }
        let page = self
            .ctx
            .store
            .list_services(status, paging.limit, paging.start)
            .await?;
        let now = self.ctx.now();
        Ok(page.map(|s| Offer::of(s.service, &s.versions, now)))
    }

    /// Creates a service with its first price, in force from now.
    pub async fn create(&self, caller: &Principal, new: NewService) -> Result<Offer> {
        require_writer(caller)?;
        let now = self.ctx.now();
        let (service, first) = Service::create(new, now)?;
        self.ctx.store.create_service(&service, &first).await?;
        tracing::info!(service = %service.code().as_str(), "service created");
        Ok(Offer::of(service, &[first], now))
    }

    /// A service with its current and next price.
    pub async fn get(&self, caller: Option<&Principal>, code: &ServiceCode) -> Result<Offer> {
        let stored = self.visible(caller, code).await?;
        Ok(Offer::of(stored.service, &stored.versions, self.ctx.now()))
    }

    /// Every price version of a service, oldest first, or only the one in force `at`.
    pub async fn prices(
        &self,
        caller: Option<&Principal>,
        code: &ServiceCode,
        at: Option<DateTime<Utc>>,
    ) -> Result<Vec<PriceVersion>> {
        let stored = self.visible(caller, code).await?;
        let mut versions: Vec<PriceVersion> = match at {
            Some(at) => price_in_force(&stored.versions, at)
                .into_iter()
                .cloned()
                .collect(),
            None => stored.versions,
        };
        versions.sort_by_key(|v| v.effective_from);
        Ok(versions)
    }

    /// Adds a price version; earlier versions stay as they were, so past invoices keep their
    /// prices.
    pub async fn add_price(
        &self,
        caller: &Principal,
        code: &ServiceCode,
        command: AddPrice,
    ) -> Result<PriceVersion> {
        require_writer(caller)?;
        let stored = self.visible(Some(caller), code).await?;
        let now = self.ctx.now();
        let effective_from = command.effective_from.unwrap_or(now);
        // The domain names fields by their place in the request (`price.currency`,
        // `effective_from`); the price's own rules were checked when it was read.
        let version = stored.service.plan_new_version(
            &stored.versions,
            command.price,
            effective_from,
            now,
        )?;
        let mut versions = stored.versions;
        versions.push(version.clone());
        self.ctx
            .store
            .save_service(&stored.service, &versions, stored.rev)
            .await?;
        tracing::info!(service = %stored.service.code().as_str(), version = version.version, "price version added");
        Ok(version)
    }

    /// Retires a service: it leaves the catalog; its history stays.
    pub async fn retire(&self, caller: &Principal, code: &ServiceCode) -> Result<Offer> {
        require_writer(caller)?;
        let mut stored = self.visible(Some(caller), code).await?;
        let now = self.ctx.now();
        stored.service.retire(now)?;
        self.ctx
            .store
            .save_service(&stored.service, &stored.versions, stored.rev)
            .await?;
        tracing::info!(service = %stored.service.code().as_str(), "service retired");
        Ok(Offer::of(stored.service, &stored.versions, now))
    }

    /// The price calculator: what `quantity` of a service costs at `at` (default: now), with
    /// its tax. A quantity the price cannot take is refused naming `quantity`.
    pub async fn quote(
        &self,
        caller: Option<&Principal>,
        code: &ServiceCode,
        quantity: Decimal,
        at: Option<DateTime<Utc>>,
    ) -> Result<Quoted> {
        let stored = self.visible(caller, code).await?;
        let quantity = Quantity::new(quantity).map_err(|e| match e {
            PricingError::Invalid { reason, .. } => Error::invalid("quantity", reason),
            PricingError::Overflow => Error::Invalid {
                field: "quantity".into(),
                reason: "the charge is out of range".into(),
                code: Some("amount_out_of_range"),
            },
        })?;
        if stored.service.unit().is_whole() && !quantity.is_whole() {
            return Err(Error::invalid(
                "quantity",
                "this service is sold in whole units",
            ));
        }
        let at = at.unwrap_or_else(|| self.ctx.now());
        let version = price_in_force(&stored.versions, at)
            .ok_or_else(|| Error::invalid("at", "no price was in force at that time"))?;
        let quote = version.price.quote(quantity)?;
        let taxed = Taxed::of(&stored.service, quote.total())?;
        Ok(Quoted {
            service: stored.service.code().clone(),
            price_version: version.version,
            at,
            quote,
            taxed,
        })
    }

    /// A service the caller may see: retired ones only for staff.
    async fn visible(
        &self,
        caller: Option<&Principal>,
        code: &ServiceCode,
    ) -> Result<StoredService> {
        let stored = self.ctx.store.service(code).await?.ok_or(Error::NotFound)?;
        if stored.service.status() == ServiceStatus::Retired && !is_staff(caller) {
            return Err(Error::NotFound);
        }
        Ok(stored)
    }
}
