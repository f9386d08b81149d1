//! Metered usage: posting it, the customer's view of it, and the back office of ingestion.
//!
//! | use case | method | who |
//! |----------|--------|-----|
//! | post events (the JSON of `POST /v1/usage`, the rows of a CSV) | [`Usage::post`] | `usage:write` |
//! | a period's usage of every meter, with each meter's estimate | [`Usage::of_period`] | `orders:read`: a customer its own organisation, staff any |
//! | one meter's usage of a period | [`Usage::of_meter`] | the same |
//! | ingestion health of a period of reception | [`Usage::health`] | `usage:write` |
//! | rejected events: list, one, re-submit | [`Usage::rejected_events`], [`Usage::rejected`], [`Usage::resubmit`] | `usage:write` |
//! | give a customer an external reference | [`Usage::add_external_ref`] | admins and managers with `accounts:write` |
//!
//! **Posting is all or nothing.** Every event is read and judged exactly as ingestion will
//! ([`ingest::read_value`], [`Ingestor::judge`], the customers, meters and closed periods
//! looked up once per request); the first event at fault refuses the whole post as
//! [`Error::Rejected`], its `field` naming the event's place in the request and its field
//! (`events[3].quantity`, `rows[12].meter`), and nothing is enqueued. The same event twice in
//! one post (the same id for the same customer, meter and period) is refused too, naming the
//! second (`duplicate_id`). Otherwise every event is enqueued on the usage queue, to be
//! counted by [`Ingestor::ingest`] exactly once by its id.

pub mod ingest;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use kopek_aws::dynamo::catalog::StoredService;
use kopek_domain::accounts::{Organisation, Principal, Role, Scope};
use kopek_domain::catalog::{Service, ServiceCode, ServiceKind};
use kopek_domain::ids::{InvalidId, OrgId};
use kopek_domain::money::{Currency, Money};
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::Quote;
use kopek_domain::usage::{self, CustomerRef, EventKey, MeterUsage, ParsedEvent, Rejection};
use serde_json::Value;

use crate::access::org_of;
use crate::catalog::Taxed;
use crate::{Context, Error, Page, Paging, Result};
use ingest::{Ingestor, Resubmitted, read_value};

/// The ingestion counters and rejected events, as the store keeps them.
pub use kopek_aws::dynamo::usage::{HealthCounts, RejectedEvent};

/// What a post enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// Events enqueued.
    pub events: usize,
    /// The queue messages they were packed into.
    pub messages: usize,
}

/// What a period's usage of a meter would cost, priced once for the whole period with the
/// version in force at the period's start.
#[derive(Debug, Clone)]
pub struct Estimate {
    pub price_version: u32,
    pub quote: Quote,
    /// The quote's total with the service's tax.
    pub taxed: Taxed,
}

/// A meter's usage of a period with its estimate.
#[derive(Debug, Clone)]
pub struct MeterUsed {
    pub service: Service,
    pub usage: MeterUsage,
    /// Or why the usage cannot be priced.
    pub estimate: std::result::Result<Estimate, String>,
}

/// An organisation's usage of a period.
#[derive(Debug, Clone)]
pub struct PeriodUsage {
    pub org: OrgId,
    pub period: BillingPeriod,
    pub meters: Vec<MeterUsed>,
    /// The meters' estimates summed, before tax, in the organisation's currency.
    pub estimated_total: Money,
    /// The same with tax.
    pub estimated_total_with_tax: Money,
}

/// One meter's usage of a period.
#[derive(Debug, Clone)]
pub struct OneMeterUsage {
    pub org: OrgId,
    pub period: BillingPeriod,
    pub meter: MeterUsed,
}

/// Whose usage of which period: staff name the organisation; a customer may name only its
/// own (the default).
#[derive(Debug, Clone, Copy)]
pub struct UsageQuery {
    pub org: Option<OrgId>,
    pub period: BillingPeriod,
}

/// The ingestion counters of a period of reception, by meter (`-` for events whose meter
/// could not be read).
#[derive(Debug, Clone)]
pub struct Health {
    pub period: BillingPeriod,
    pub meters: BTreeMap<String, HealthCounts>,
}

/// An external reference to give a customer, as sent (both checked here, in this order).
#[derive(Debug, Clone)]
pub struct AddExternalRefCommand {
    /// The customer's organisation id.
    pub org_id: String,
    /// 1–128 of letters, digits and `. _ : / -`, not an organisation id.
    pub external_ref: String,
}

/// A customer's external reference, usable as `customer` in usage events.
#[derive(Debug, Clone)]
pub struct ExternalRef {
    pub org: OrgId,
    pub reference: EventKey,
}

/// Usage: posting it, reading it, and the back office of its ingestion.
#[derive(Clone)]
pub struct Usage {
    ctx: Context,
}

impl Usage {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Posts usage (`usage:write`): `events` — each event's place in the request
    /// (`events[3]`, `rows[12]`) with its JSON — is read only once the caller may post, so
    /// that a caller who may not is refused before its request is read; an error reading it
    /// is the caller's own. Every event is then read and judged as ingestion will, the first
    /// at fault refusing the whole post (see the module), and all are enqueued (refused as
    /// internal when the function has no usage queue).
    pub async fn post<E>(
        &self,
        caller: &Principal,
        events: impl Future<Output = std::result::Result<Vec<(String, Value)>, E>>,
    ) -> std::result::Result<Queued, E>
    where
        E: From<Error>,
    {
        caller
            .require_scope(Scope::UsageWrite)
            .map_err(|e| E::from(e.into()))?;
        let events = events.await?;
        Ok(self.judge_and_enqueue(events).await?)
    }

    /// Reads and judges every event, refusing at the first at fault, then enqueues them all.
    async fn judge_and_enqueue(&self, events: Vec<(String, Value)>) -> Result<Queued> {
        let queue = self.ctx.usage_queue.as_ref().ok_or_else(|| {
            Error::internal("this function has no usage queue (KOPEK_USAGE_QUEUE_URL)")
        })?;
        let mut texts = Vec::with_capacity(events.len());
        let mut read: Vec<(String, ParsedEvent)> = Vec::with_capacity(events.len());
        for (place, value) in events {
            texts.push(value.to_string());
            let parsed = read_value(value).map_err(|r| at(&place, r))?;
            read.push((place, parsed));
        }
        let ingestor = Ingestor::of(&self.ctx);
        let lookups = ingestor.lookups(read.iter().map(|(_, e)| e)).await?;
        let now = self.ctx.now();
        // An event is identified by its id within its customer, meter and period.
        let mut seen: HashMap<(OrgId, ServiceCode, BillingPeriod, EventKey), &str> = HashMap::new();
        for (place, event) in &read {
            let metered = ingestor
                .judge(event, &lookups, now, now)
                .map_err(|r| at(place, r))?;
            let identity = (metered.org, metered.meter, metered.period, metered.id);
            if let Some(first) = seen.insert(identity, place) {
                return Err(Error::Invalid {
                    field: format!("{place}.id"),
                    reason: format!(
                        "{first} has the same id `{}` for the same customer, meter and period",
                        event.id
                    ),
                    code: Some("duplicate_id"),
                });
            }
        }
        let sent = queue.send_events(&texts).await?;
        // Handed to the queue, not written here: the record says how much was accepted.
        crate::audit::note("events", texts.len().into());
        crate::audit::note("messages", sent.messages.into());
        self.ctx.store.audit_now().await?;
        tracing::info!(
            events = texts.len(),
            messages = sent.messages,
            "usage enqueued"
        );
        Ok(Queued {
            events: texts.len(),
            messages: sent.messages,
        })
    }

    /// A period's usage of every meter the organisation used, by day, with each meter's
    /// estimate and their totals (`orders:read`; customers their own, staff name one).
    pub async fn of_period(&self, caller: &Principal, query: UsageQuery) -> Result<PeriodUsage> {
        let org = self.usage_org(caller, query.org).await?;
        let period = query.period;
        let store = &self.ctx.store;
        let mut meters = Vec::new();
        let mut net = Money::zero(org.currency);
        let mut gross = Money::zero(org.currency);
        for code in store.meters_used(org.id, period).await? {
            let stored = store.service(&code).await?.ok_or_else(|| {
                Error::internal(format!("usage of {} names no service", code.as_str()))
            })?;
            let meter = self.meter_used(stored, &code, &org, period).await?;
            if let Ok(estimate) = &meter.estimate {
                net = net.checked_add(estimate.quote.total())?;
                gross = gross.checked_add(estimate.taxed.total_with_tax)?;
            }
            meters.push(meter);
        }
        Ok(PeriodUsage {
            org: org.id,
            period,
            meters,
            estimated_total: net,
            estimated_total_with_tax: gross,
        })
    }

    /// A period's usage of one meter, by day, with its estimate. `meter` is the code as
    /// named: one that does not parse, or names no metered service, is not found.
    pub async fn of_meter(
        &self,
        caller: &Principal,
        query: UsageQuery,
        meter: &str,
    ) -> Result<OneMeterUsage> {
        let org = self.usage_org(caller, query.org).await?;
        let code: ServiceCode = meter.parse().map_err(|_| Error::NotFound)?;
        let stored = self
            .ctx
            .store
            .service(&code)
            .await?
            .filter(|s| s.service.kind() == ServiceKind::Metered)
            .ok_or(Error::NotFound)?;
        let meter = self.meter_used(stored, &code, &org, query.period).await?;
        Ok(OneMeterUsage {
            org: org.id,
            period: query.period,
            meter,
        })
    }

    /// The organisation a usage read is about, after the caller's checks.
    async fn usage_org(&self, caller: &Principal, named: Option<OrgId>) -> Result<Organisation> {
        caller.require_scope(Scope::OrdersRead)?;
        let org = org_of(caller, named)?;
        self.ctx
            .store
            .organisation(org)
            .await?
            .ok_or(Error::NotFound)
    }

    /// The usage of meter `code` (its service `stored`) with its estimate.
    async fn meter_used(
        &self,
        stored: StoredService,
        code: &ServiceCode,
        org: &Organisation,
        period: BillingPeriod,
    ) -> Result<MeterUsed> {
        let usage = self.ctx.store.usage_of(org.id, code, period).await?;
        let estimate = estimate(&stored, org.currency, period, self.ctx.calendar, &usage);
        Ok(MeterUsed {
            service: stored.service,
            usage,
            estimate,
        })
    }

    /// Ingestion health (`usage:write`): per meter, the events accepted, repeated, rejected
    /// and late among those received in `period`. Operational counters, not money.
    pub async fn health(&self, caller: &Principal, period: BillingPeriod) -> Result<Health> {
        caller.require_scope(Scope::UsageWrite)?;
        let meters = self.ctx.store.health(period).await?;
        Ok(Health { period, meters })
    }

    /// The rejected events received in `period`, newest first (`usage:write`).
    pub async fn rejected_events(
        &self,
        caller: &Principal,
        period: BillingPeriod,
        paging: Paging,
    ) -> Result<Page<RejectedEvent>> {
        caller.require_scope(Scope::UsageWrite)?;
        Ok(self
            .ctx
            .store
            .list_rejected(period, paging.limit, paging.start)
            .await?)
    }

    /// A kept rejected event by id (`usage:write`): `rej_` and 32 hex digits; anything else
    /// is not found.
    pub async fn rejected(&self, caller: &Principal, id: &str) -> Result<RejectedEvent> {
        caller.require_scope(Scope::UsageWrite)?;
        self.rejected_event(id).await
    }

    async fn rejected_event(&self, id: &str) -> Result<RejectedEvent> {
        let well_formed = id
            .strip_prefix("rej_")
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if !well_formed {
            return Err(Error::NotFound);
        }
        self.ctx
            .store
            .rejected_event(id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Re-submits a rejected event once its cause is fixed (`usage:write`): judged again and
    /// counted if it now counts ([`Ingestor::resubmit`]).
    pub async fn resubmit(&self, caller: &Principal, id: &str) -> Result<Resubmitted> {
        caller.require_scope(Scope::UsageWrite)?;
        let rejected = self.rejected_event(id).await?;
        let outcome = Ingestor::of(&self.ctx)
            .resubmit(&rejected, self.ctx.now())
            .await?;
        tracing::info!(rejected = %rejected.id, status = outcome.status(), "rejected usage event re-submitted");
        Ok(outcome)
    }

    /// Gives a customer an external reference producers may name it by (admins and managers
    /// with `accounts:write`). Setting the same again is harmless; another customer's is
    /// refused (`external_ref_taken`).
    pub async fn add_external_ref(
        &self,
        caller: &Principal,
        command: AddExternalRefCommand,
    ) -> Result<ExternalRef> {
        caller.require_scope(Scope::AccountsWrite)?;
        caller.require_role(&[Role::Admin, Role::Manager])?;
        let org: OrgId = command
            .org_id
            .parse()
            .map_err(|e: InvalidId| Error::invalid("org_id", e.to_string()))?;
        let reference = match CustomerRef::parse(&command.external_ref) {
            Ok(CustomerRef::External(reference)) => reference,
            Ok(CustomerRef::Org(_)) => {
                return Err(Error::invalid(
                    "external_ref",
                    "an organisation id is not an external reference",
                ));
            }
            Err(reason) => return Err(Error::invalid("external_ref", reason)),
        };
        let store = &self.ctx.store;
        store.organisation(org).await?.ok_or(Error::NotFound)?;
        store.set_external_ref(org, reference.as_str()).await?;
        tracing::info!(%org, "external reference set");
        Ok(ExternalRef { org, reference })
    }
}

/// The estimate of a meter's usage, or why there is none.
fn estimate(
    stored: &StoredService,
    billed_in: Currency,
    period: BillingPeriod,
    calendar: kopek_domain::calendar::Calendar,
    usage: &MeterUsage,
) -> std::result::Result<Estimate, String> {
    let currency = stored.service.currency();
    if currency != billed_in {
        return Err(format!(
            "the meter is priced in {currency}; the organisation is billed in {billed_in}"
        ));
    }
    let version =
        usage::period_price(&stored.versions, period, calendar).map_err(|e| e.to_string())?;
    let quote = usage::estimate(&stored.versions, period, calendar, usage.total)
        .map_err(|e| e.to_string())?;
    let taxed = Taxed::of(&stored.service, quote.total()).map_err(|e| e.to_string())?;
    Ok(Estimate {
        price_version: version.version,
        quote,
        taxed,
    })
}

/// An event's place in the request (`events[3]`, `rows[12]`) with the rejection's field.
fn at(place: &str, mut rejection: Rejection) -> Error {
    // A missing field is reported on the event itself; its name is in the message.
    let field = match rejection.field.as_str() {
        "" => rejection
            .detail
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .unwrap_or_default(),
        field => field,
    };
    rejection.field = if field.is_empty() {
        place.to_owned()
    } else {
        format!("{place}.{field}")
    };
    Error::Rejected(rejection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_is_named_by_the_events_place_and_field() {
        let rejection = |field: &str, detail: &str| {
            Rejection::new(usage::RejectReason::BadQuantity, field, detail)
        };
        // A rejection: `kopek_http` answers it 422 with the reason as `code`.
        let rejected = |err: Error| match err {
            Error::Rejected(rejection) => rejection,
            other => panic!("not a rejection: {other:?}"),
        };
        let err = rejected(at("events[3]", rejection("quantity", "negative")));
        assert_eq!(
            (err.reason.as_str(), err.field.as_str()),
            ("bad_quantity", "events[3].quantity")
        );
        let err = rejected(at("rows[1]", rejection("", "missing field `meter`")));
        assert_eq!(err.field, "rows[1].meter");
        let err = rejected(at(
            "events[0]",
            rejection("", "invalid type: string, expected a map"),
        ));
        assert_eq!(err.field, "events[0]");
    }
}
