//! Orders of one-off services: placing them, reading them with their live status, cancelling
//! a line before work on it starts, an order's history, and the charges of a period.
//!
//! Only a customer's users and keys (a CRM acting for the customer, say) place orders and
//! cancel lines, and a blocked customer places none. Customers reach only their own
//! organisation's orders: another organisation's order is not found. Staff open any order.

use kopek_domain::accounts::{Principal, Scope};
use kopek_domain::charges::{Charge, DomainEvent, EventKind};
use kopek_domain::ids::{OrderId, OrgId};
use kopek_domain::money::Money;
use kopek_domain::orders::{LineRequest, Orderer, plan_order};
use kopek_domain::period::BillingPeriod;

use crate::access::{actor, customer_org, org_of};
use crate::catalog::services_named;
use crate::{Context, Error, Page, Paging, Result};

/// An order as stored: the order with every line (and its revision).
pub use kopek_aws::dynamo::orders::{StoredLine, StoredOrder};

/// An order to place.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    /// The customer's own reference, e.g. a CRM deal number.
    pub reference: Option<String>,
    /// Checked by the domain: each a one-off service in the customer's currency.
    pub lines: Vec<LineRequest>,
}

/// Whose charges of which period.
#[derive(Debug, Clone)]
pub struct ChargesRequest {
    /// Staff name any organisation; customers default to (and may name only) their own.
    pub org: Option<OrgId>,
    pub period: BillingPeriod,
}

/// The charges of a period so far, with their totals.
#[derive(Debug, Clone)]
pub struct ChargesOf {
    pub period: BillingPeriod,
    pub charges: Vec<Charge>,
    /// The sum of the charges per currency, before tax, in the order each first appears.
    pub totals: Vec<Money>,
}

/// Orders and their charges.
#[derive(Clone)]
pub struct Orders {
    ctx: Context,
}

impl Orders {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Places an order for the caller's organisation (`orders:write`, customers only; a
    /// blocked customer is refused). Each line keeps the price version in force now and
    /// becomes a work order in the queue of its work type; the order and its
    /// `order_placed` event are written in one transaction.
    pub async fn place(&self, caller: &Principal, command: PlaceOrder) -> Result<StoredOrder> {
        caller.require_scope(Scope::OrdersWrite)?;
        let org_id = customer_org(caller)?;
        let store = &self.ctx.store;
        let org = store.organisation(org_id).await?.ok_or(Error::NotFound)?;
        crate::dunning::orders_allowed(&self.ctx, org_id, org.language).await?;
        let codes: Vec<_> = command.lines.iter().map(|l| &l.service).collect();
        let services = services_named(&self.ctx, &codes).await?;
        let now = self.ctx.now();
        let placed = plan_order(
            Orderer {
                org: org_id,
                currency: org.currency,
                active: org.is_active(),
            },
            actor(caller),
            command.reference.as_deref(),
            &command.lines,
            |code| {
                services
                    .iter()
                    .find(|s| s.service.code() == code)
                    .map(|s| (&s.service, s.versions.as_slice()))
            },
            now,
            self.ctx.calendar,
        )?;
        let event = DomainEvent::new(
            org_id,
            actor(caller),
            now,
            EventKind::OrderPlaced {
                order: placed.order.id,
                lines: placed.order.line_count,
                expected_total: placed.order.expected_total,
            },
        );
        store.place_order(&placed, &event).await?;
        tracing::info!(order = %placed.order.id, lines = placed.lines.len(), "order placed");
        Ok(StoredOrder {
            order: placed.order,
            lines: placed
                .lines
                .into_iter()
                .map(|line| StoredLine { line, rev: 1 })
                .collect(),
        })
    }

    /// The caller's organisation's orders, newest first (`orders:read`, customers only).
    pub async fn list(&self, caller: &Principal, paging: Paging) -> Result<Page<StoredOrder>> {
        caller.require_scope(Scope::OrdersRead)?;
        let org = customer_org(caller)?;
        Ok(self
            .ctx
            .store
            .list_orders(
                org,
                usize::try_from(paging.limit).unwrap_or(1),
                paging.start,
            )
            .await?)
    }

    /// An order with every line: a customer's own, or any for staff (`orders:read`).
    pub async fn get(&self, caller: &Principal, id: OrderId) -> Result<StoredOrder> {
        caller.require_scope(Scope::OrdersRead)?;
        let store = &self.ctx.store;
        let org = match caller.org() {
            Some(own) => own,
            None => store.order_owner(id).await?.ok_or(Error::NotFound)?,
        };
        caller.can_access_org(org)?;
        store.order(org, id).await?.ok_or(Error::NotFound)
    }

    /// Cancels one line of the caller's organisation's order before work on it starts
    /// (`orders:write`, customers only), with its `order_line_cancelled` event; answers the
    /// order as it is now.
    pub async fn cancel_line(
        &self,
        caller: &Principal,
        id: OrderId,
        line_no: u16,
    ) -> Result<StoredOrder> {
        caller.require_scope(Scope::OrdersWrite)?;
        customer_org(caller)?;
        let mut stored = self.get(caller, id).await?;
        let line = stored
            .lines
            .iter_mut()
            .find(|l| l.line.line_no == line_no)
            .ok_or(Error::NotFound)?;
        let now = self.ctx.now();
        let mut changed = line.clone();
        changed.line.cancel(actor(caller), now)?;
        let event = DomainEvent::new(
            changed.line.org,
            actor(caller),
            now,
            EventKind::OrderLineCancelled {
                order: changed.line.order,
                line_no: changed.line.line_no,
                work_order: changed.line.work_order,
            },
        );
        self.ctx
            .store
            .save_line_with_event(&changed, &event)
            .await?;
        *line = StoredLine {
            rev: changed.rev + 1,
            line: changed.line,
        };
        Ok(stored)
    }

    /// Everything that happened to an order, oldest first (whoever may read the order).
    pub async fn history(&self, caller: &Principal, id: OrderId) -> Result<Vec<DomainEvent>> {
        let stored = self.get(caller, id).await?;
        Ok(self
            .ctx
            .store
            .history(stored.order.org, &stored.order.id.to_string())
            .await?)
    }

    /// The charges of a billing period so far, with their totals per currency
    /// (`orders:read`; customers their own, staff name one).
    pub async fn charges(&self, caller: &Principal, request: ChargesRequest) -> Result<ChargesOf> {
        caller.require_scope(Scope::OrdersRead)?;
        let org = org_of(caller, request.org)?;
        let charges = self.ctx.store.charges(org, request.period).await?;
        let mut totals: Vec<Money> = Vec::new();
        for c in &charges {
            match totals
                .iter_mut()
                .find(|t| t.currency() == c.amount.currency())
            {
                Some(t) => *t = t.checked_add(c.amount)?,
                None => totals.push(c.amount),
            }
        }
        Ok(ChargesOf {
            period: request.period,
            charges,
            totals,
        })
    }
}
