//! Subscriptions to recurring services: a customer subscribes (from a date, with a
//! quantity), changes the quantity or switches to another service of the same work type,
//! and cancels (at the period's end or at once, as the service's policy says). Every change
//! mid-period is prorated by day under the one rule of [`kopek_domain::proration`]; each
//! subscription is answered with the prorated fees of a period.
//!
//! Only a customer's users and keys reach subscriptions, and only their own organisation's:
//! another organisation's subscription is not found. A blocked customer starts and changes
//! none.

use chrono::NaiveDate;
use kopek_aws::dynamo::catalog::StoredService;
use kopek_aws::dynamo::subscriptions::StoredSubscription;
use kopek_domain::accounts::{Principal, Scope};
use kopek_domain::catalog::{ServiceCode, price_in_force};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::ids::{OrgId, SubscriptionId};
use kopek_domain::money::{Currency, Money};
use kopek_domain::orders::OrderError;
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::Quantity;
use kopek_domain::subscriptions::{
    NewSubscription, ProratedCharge, Subscription, SubscriptionStatus,
};
use rust_decimal::Decimal;

use crate::access::{actor, customer_org};
use crate::catalog::services_named;
use crate::{Context, Error, Page, Paging, Result};

/// A subscription to start.
#[derive(Debug, Clone)]
pub struct StartSubscription {
    /// A recurring service in the customer's currency, with a price in force now.
    pub service: ServiceCode,
    /// More than zero (checked here, after the caller).
    pub quantity: Decimal,
    /// The first day billed (default: today); never in the past.
    pub start_date: Option<NaiveDate>,
}

/// A change from a date: a new quantity, another service of the same work type, or both.
#[derive(Debug, Clone)]
pub struct ChangeSubscription {
    pub quantity: Option<Decimal>,
    pub service: Option<ServiceCode>,
    /// The first day the change applies (default: today); never in the past.
    pub effective_date: Option<NaiveDate>,
}

/// The fees of one period so far.
#[derive(Debug, Clone)]
pub struct PeriodFees {
    pub period: BillingPeriod,
    /// Each segment's prorated part, in order.
    pub parts: Vec<ProratedCharge>,
    pub total: Money,
}

/// A subscription, where it stands today, and the fees of a period.
#[derive(Debug, Clone)]
pub struct SubscriptionFees {
    pub subscription: Subscription,
    /// Today: scheduled, active, cancelling or ended.
    pub status: SubscriptionStatus,
    pub fees: PeriodFees,
}

/// A change previewed: the subscription and its fees of the current period as they are,
/// and as they would be.
#[derive(Debug, Clone)]
pub struct Effect {
    pub before: SubscriptionFees,
    pub after: SubscriptionFees,
}

/// Subscriptions and their prorated fees.
#[derive(Clone)]
pub struct Subscriptions {
    ctx: Context,
}

impl Subscriptions {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Subscribes the caller's organisation to a recurring service from a date
    /// (`orders:write`, customers only, not blocked), with its `subscription_started` event;
    /// answers it with the current period's fees.
    pub async fn start(
        &self,
        caller: &Principal,
        command: StartSubscription,
    ) -> Result<SubscriptionFees> {
        let (sub, event) = self.started(caller, &command).await?;
        self.ctx.store.create_subscription(&sub, &event).await?;
        tracing::info!(subscription = %sub.id(), "subscription started");
        self.with_fees(sub, None).await
    }

    /// What [`Self::start`] would do, without doing it: the subscription it would start
    /// and its fees of the current period (the same checks, the same refusals).
    pub async fn preview_start(
        &self,
        caller: &Principal,
        command: StartSubscription,
    ) -> Result<SubscriptionFees> {
        // A preview changes nothing.
        crate::audit::unchanged();
        let (sub, _) = self.started(caller, &command).await?;
        self.with_fees(sub, None).await
    }

    async fn started(
        &self,
        caller: &Principal,
        command: &StartSubscription,
    ) -> Result<(Subscription, DomainEvent)> {
        let (org, currency) = self.active_customer(caller).await?;
        let quantity = quantity(command.quantity)?;
        let (stored, version) = self.subscribable(&command.service, currency).await?;
        let now = self.ctx.now();
        let today = self.ctx.calendar.date_of(now);
        let sub = Subscription::start(
            SubscriptionId::new(),
            NewSubscription {
                org,
                service: &stored.service,
                price_version: version,
                quantity,
                from: command.start_date.unwrap_or(today),
            },
            today,
            now,
        )?;
        let event = DomainEvent::new(
            org,
            actor(caller),
            now,
            EventKind::SubscriptionStarted {
                subscription: sub.id(),
                service: stored.service.code().clone(),
                quantity,
                from: sub.starts_on(),
            },
        );
        Ok((sub, event))
    }

    /// The caller's organisation's subscriptions, oldest first, each with the current
    /// period's fees (`orders:read`, customers only).
    pub async fn list(&self, caller: &Principal, paging: Paging) -> Result<Page<SubscriptionFees>> {
        caller.require_scope(Scope::OrdersRead)?;
        let org = customer_org(caller)?;
        let page = self
            .ctx
            .store
            .list_subscriptions(org, paging.limit, paging.start)
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for stored in page.items {
            items.push(self.with_fees(stored.subscription, None).await?);
        }
        Ok(Page {
            items,
            next: page.next,
        })
    }

    /// One of the caller's organisation's subscriptions with the fees of `period` (default:
    /// the current one).
    pub async fn get(
        &self,
        caller: &Principal,
        id: SubscriptionId,
        period: Option<BillingPeriod>,
    ) -> Result<SubscriptionFees> {
        let stored = self.own(caller, id).await?;
        self.with_fees(stored.subscription, period).await
    }

    /// Changes the quantity, or switches to another service of the same work type, from a
    /// date (`orders:write`, not blocked), with its `subscription_changed` event.
    pub async fn change(
        &self,
        caller: &Principal,
        id: SubscriptionId,
        command: ChangeSubscription,
    ) -> Result<SubscriptionFees> {
        let (sub, rev, event) = self.changed(caller, id, &command).await?;
        self.ctx.store.save_subscription(&sub, rev, &event).await?;
        self.with_fees(sub, None).await
    }

    /// What [`Self::change`] would do, without doing it: the fees of the current period
    /// before and after (the same checks, the same refusals).
    pub async fn preview_change(
        &self,
        caller: &Principal,
        id: SubscriptionId,
        command: ChangeSubscription,
    ) -> Result<Effect> {
        // A preview changes nothing.
        crate::audit::unchanged();
        let before = self.get(caller, id, None).await?;
        let (sub, _, _) = self.changed(caller, id, &command).await?;
        let after = self.with_fees(sub, None).await?;
        Ok(Effect { before, after })
    }

    async fn changed(
        &self,
        caller: &Principal,
        id: SubscriptionId,
        command: &ChangeSubscription,
    ) -> Result<(Subscription, u64, DomainEvent)> {
        let stored = self.own(caller, id).await?;
        let (_, currency) = self.active_customer(caller).await?;
        if command.quantity.is_none() && command.service.is_none() {
            return Err(Error::invalid(
                "quantity",
                "name a new quantity, a new service or both",
            ));
        }
        let now = self.ctx.now();
        let today = self.ctx.calendar.date_of(now);
        let effective = command.effective_date.unwrap_or(today);
        let mut sub = stored.subscription;
        if let Some(code) = &command.service {
            let (target, version) = self.subscribable(code, currency).await?;
            sub.switch_service(&target.service, version, effective, today)?;
        }
        if let Some(q) = command.quantity {
            sub.change_quantity(quantity(q)?, effective, today)?;
        }
        let last = sub.last_segment().clone();
        let event = DomainEvent::new(
            sub.org(),
            actor(caller),
            now,
            EventKind::SubscriptionChanged {
                subscription: sub.id(),
                service: last.service,
                quantity: last.quantity,
                from: last.from,
            },
        );
        Ok((sub, stored.rev, event))
    }

    /// Cancels: billed to the period's end, or up to and including today, as the service
    /// says (`orders:write`), with its `subscription_cancelled` event.
    pub async fn cancel(&self, caller: &Principal, id: SubscriptionId) -> Result<SubscriptionFees> {
        let (sub, rev, event) = self.cancelled(caller, id).await?;
        self.ctx.store.save_subscription(&sub, rev, &event).await?;
        self.with_fees(sub, None).await
    }

    /// What [`Self::cancel`] would do, without doing it: the fees before and after.
    pub async fn preview_cancel(&self, caller: &Principal, id: SubscriptionId) -> Result<Effect> {
        // A preview changes nothing.
        crate::audit::unchanged();
        let before = self.get(caller, id, None).await?;
        let (sub, _, _) = self.cancelled(caller, id).await?;
        let after = self.with_fees(sub, None).await?;
        Ok(Effect { before, after })
    }

    async fn cancelled(
        &self,
        caller: &Principal,
        id: SubscriptionId,
    ) -> Result<(Subscription, u64, DomainEvent)> {
        caller.require_scope(Scope::OrdersWrite)?;
        let stored = self.own(caller, id).await?;
        let now = self.ctx.now();
        let mut sub = stored.subscription;
        let ends_on = sub.cancel(
            self.ctx.calendar.date_of(now),
            self.ctx.calendar.period_length(),
        )?;
        let event = DomainEvent::new(
            sub.org(),
            actor(caller),
            now,
            EventKind::SubscriptionCancelled {
                subscription: sub.id(),
                ends_on,
            },
        );
        Ok((sub, stored.rev, event))
    }

    /// One of the caller's organisation's subscriptions (`orders:read`, customers only).
    async fn own(&self, caller: &Principal, id: SubscriptionId) -> Result<StoredSubscription> {
        caller.require_scope(Scope::OrdersRead)?;
        let org = customer_org(caller)?;
        self.ctx
            .store
            .subscription(org, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// The ordering customer and its currency (`orders:write`), refused if blocked.
    async fn active_customer(&self, caller: &Principal) -> Result<(OrgId, Currency)> {
        caller.require_scope(Scope::OrdersWrite)?;
        let org_id = customer_org(caller)?;
        let org = self
            .ctx
            .store
            .organisation(org_id)
            .await?
            .ok_or(Error::NotFound)?;
        if !org.is_active() {
            return Err(OrderError::CustomerBlocked.into());
        }
        Ok((org_id, org.currency))
    }

    /// A recurring service to subscribe to, in the customer's currency, with the version of
    /// its price in force now.
    async fn subscribable(
        &self,
        code: &ServiceCode,
        currency: Currency,
    ) -> Result<(StoredService, u32)> {
        let Some(stored) = self.ctx.store.service(code).await? else {
            return Err(Error::invalid(
                "service",
                format!("there is no service `{code}` in the catalog"),
            ));
        };
        if stored.service.currency() != currency {
            return Err(Error::invalid(
                "service",
                format!(
                    "`{code}` is priced in {} but your account is billed in {currency}",
                    stored.service.currency()
                ),
            ));
        }
        let version = price_in_force(&stored.versions, self.ctx.now())
            .map(|v| v.version)
            .ok_or_else(|| {
                Error::invalid("service", format!("`{code}` has no price in force yet"))
            })?;
        Ok((stored, version))
    }

    /// `sub` with where it stands today and its prorated fees of `period` (default: the
    /// current one), priced at the versions its segments keep.
    async fn with_fees(
        &self,
        sub: Subscription,
        period: Option<BillingPeriod>,
    ) -> Result<SubscriptionFees> {
        let period = period.unwrap_or_else(|| self.ctx.current_period());
        let codes: Vec<_> = sub.segments().iter().map(|s| &s.service).collect();
        let services = services_named(&self.ctx, &codes).await?;
        // As the close will bill them: without the days dunning suspended service.
        let paused = self.ctx.store.dunning(sub.org()).await?.state.suspensions;
        let parts = sub.charges_for_paused(
            period,
            |code, version| {
                services
                    .iter()
                    .find(|s| s.service.code() == code)
                    .and_then(|s| s.versions.iter().find(|v| v.version == version))
                    .map(|v| v.price.clone())
            },
            &paused,
        )?;
        let mut total = Money::zero(sub.currency());
        for part in &parts {
            total = total.checked_add(part.amount)?;
        }
        Ok(SubscriptionFees {
            status: sub.status_on(self.ctx.today()),
            subscription: sub,
            fees: PeriodFees {
                period,
                parts,
                total,
            },
        })
    }
}

/// A quantity to subscribe to: more than zero, within the domain's limits; refused naming
/// `quantity`.
fn quantity(value: Decimal) -> Result<Quantity> {
    if value <= Decimal::ZERO {
        return Err(Error::invalid("quantity", "must be greater than zero"));
    }
    Quantity::new(value).map_err(|e| Error::invalid("quantity", e.to_string()))
}
