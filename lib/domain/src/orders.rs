//! Orders: what a customer asks for, line by line, and where each line stands.
//!
//! An order is one or more lines, each a one-off service of the catalog with a quantity, the
//! date the customer wants the job done, the site where it happens and a free-text note.
//! Placing an order ([`plan_order`]) checks every line against the catalog, the customer and
//! the date, pins the price version in force at that moment (the line keeps a copy of the
//! price, so it can always be shown and billed as agreed) and quotes the expected amount.
//!
//! Every line needs work: it *is* a work order in the queue of its service's work type (see
//! [`crate::work`]). A line moves through
//!
//! ```text
//! placed ──take──▶ accepted ──start──▶ in_progress ──complete──▶ done | failed
//!   ▲                 │                      │
//!   └────release──────┴──────────────────────┘          placed | accepted ──cancel──▶ cancelled
//! ```
//!
//! and the order's status is derived from its lines ([`order_status`]): nothing is stored
//! twice, so the two cannot disagree.
//!
//! Recurring services are not ordered here but subscribed to ([`crate::subscriptions`]);
//! metered services are used, not ordered.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::catalog::PriceVersion;
use crate::catalog::{
    LocalizedText, Service, ServiceCode, ServiceKind, TaxRate, UnitOfMeasure, WorkType,
    price_in_force,
};
use crate::ids::{BatchId, ChargeId, OrderId, OrgId, UserId, WorkOrderId};
use crate::money::{Currency, Money};
use crate::period::BillingPeriod;
use crate::pricing::{Price, Quantity};

/// The most lines one order may have: a placement is one transaction of the lines, the order
/// and its event, well within DynamoDB's 100 actions.
pub const MAX_LINES: usize = 50;
/// The most characters of a note or a failure reason.
pub const MAX_NOTE_CHARS: usize = 1000;
/// The most characters of a site address.
pub const MAX_ADDRESS_CHARS: usize = 300;
/// The longest site contact (a name and a phone or two), in characters.
pub const MAX_CONTACT_CHARS: usize = 200;
/// How far ahead a job may be requested.
pub const MAX_DAYS_AHEAD: i64 = 366;

/// Why an order, or a change to one, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// A field breaks a rule; `field` is its path, e.g. `lines[1].quantity`.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The request contradicts the current state (a line that is already in progress).
    #[error("{field}: {reason}")]
    Conflict { field: String, reason: String },
    /// The customer is blocked and may not order.
    #[error("the customer is blocked")]
    CustomerBlocked,
}

impl OrderError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        OrderError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        OrderError::Conflict {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The path of the field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            OrderError::Invalid { field, .. } | OrderError::Conflict { field, .. } => Some(field),
            OrderError::CustomerBlocked => None,
        }
    }
}

/// Free text: trimmed, not empty, at most `max` characters, no control characters but line
/// breaks.
pub fn clean_text(field: &str, text: &str, max: usize) -> Result<String, OrderError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(OrderError::invalid(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(OrderError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(OrderError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

/// Where a job happens: an address, and optionally an area (a district slug such as
/// `moscow-north`) that engineers narrow their batches by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Who lets the engineer in, and how to reach them (`Пётр, +7 916 000-00-00`): printed
    /// on the work sheet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

impl Site {
    /// A site, checked: the address is clean text, the area a slug of 1–64 of `a-z`, `0-9`,
    /// `-`, the contact clean text of at most [`MAX_CONTACT_CHARS`].
    pub fn new(
        address: &str,
        area: Option<&str>,
        contact: Option<&str>,
        field: &str,
    ) -> Result<Self, OrderError> {
        let address = clean_text(&format!("{field}.address"), address, MAX_ADDRESS_CHARS)?;
        let area = area
            .map(|a| {
                parse_area(a).map_err(|reason| OrderError::invalid(format!("{field}.area"), reason))
            })
            .transpose()?;
        let contact = contact
            .map(|c| clean_text(&format!("{field}.contact"), c, MAX_CONTACT_CHARS))
            .transpose()?;
        Ok(Self {
            address,
            area,
            contact,
        })
    }
}

/// An area slug, or why not.
pub fn parse_area(area: &str) -> Result<String, &'static str> {
    let ok = !area.is_empty()
        && area.len() <= 64
        && area
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(area.to_owned())
    } else {
        Err("must be 1–64 of a-z, 0-9 and '-'")
    }
}

/// One line as the customer asks for it, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    pub service: ServiceCode,
    pub quantity: Decimal,
    /// `None`: as soon as possible (today).
    pub requested_date: Option<NaiveDate>,
    pub note: Option<String>,
    pub address: String,
    pub area: Option<String>,
    pub contact: Option<String>,
}

/// The customer as the order sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orderer {
    pub org: OrgId,
    pub currency: Currency,
    pub active: bool,
}

/// Where a line stands; see the module docs for the moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum LineState {
    /// Waiting in the queue of its work type.
    Placed,
    /// Taken into an engineer's batch.
    Accepted {
        batch: BatchId,
        engineer: UserId,
        at: DateTime<Utc>,
    },
    /// The engineer has started the batch.
    InProgress {
        batch: BatchId,
        engineer: UserId,
        at: DateTime<Utc>,
    },
    /// Done: billed at the actual quantity.
    Done {
        batch: BatchId,
        engineer: UserId,
        at: DateTime<Utc>,
        actual_quantity: Quantity,
        charge: ChargeId,
        amount: Money,
        period: BillingPeriod,
    },
    /// Not done, for the reason given; not billed.
    Failed {
        batch: BatchId,
        engineer: UserId,
        at: DateTime<Utc>,
        reason: String,
    },
    /// Cancelled by the customer before work started.
    Cancelled { at: DateTime<Utc>, by: UserOrKey },
}

/// The status of a line or an order, as customers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Placed,
    Accepted,
    InProgress,
    Done,
    PartlyDone,
    Failed,
    Cancelled,
}

impl LineState {
    pub fn status(&self) -> Status {
        match self {
            LineState::Placed => Status::Placed,
            LineState::Accepted { .. } => Status::Accepted,
            LineState::InProgress { .. } => Status::InProgress,
            LineState::Done { .. } => Status::Done,
            LineState::Failed { .. } => Status::Failed,
            LineState::Cancelled { .. } => Status::Cancelled,
        }
    }

    /// Done, failed or cancelled: nothing more happens to the line.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            LineState::Done { .. } | LineState::Failed { .. } | LineState::Cancelled { .. }
        )
    }

    /// The batch the line is in, while it is in one.
    pub fn open_batch(&self) -> Option<BatchId> {
        match self {
            LineState::Accepted { batch, .. } | LineState::InProgress { batch, .. } => Some(*batch),
            _ => None,
        }
    }
}

/// One line of an order, which is also one work order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    pub org: OrgId,
    pub order: OrderId,
    /// 1-based position in the order.
    pub line_no: u16,
    pub work_order: WorkOrderId,
    pub service: ServiceCode,
    pub service_name: LocalizedText,
    pub unit: UnitOfMeasure,
    pub work_type: WorkType,
    pub quantity: Quantity,
    pub requested_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub site: Site,
    /// The price version in force when the order was placed, and a copy of its price.
    pub price_version: u32,
    pub price: Price,
    pub tax_rate: TaxRate,
    /// What the line is expected to cost at the ordered quantity (before tax).
    pub expected: Money,
    pub placed_at: DateTime<Utc>,
    pub state: LineState,
}

impl OrderLine {
    /// Cancels the line for the customer: only before work starts.
    pub fn cancel(&mut self, by: UserOrKey, now: DateTime<Utc>) -> Result<(), OrderError> {
        match self.state {
            LineState::Placed | LineState::Accepted { .. } => {
                self.state = LineState::Cancelled { at: now, by };
                Ok(())
            }
            LineState::InProgress { .. } => Err(OrderError::conflict(
                "line",
                "work on this line has started; it can no longer be cancelled",
            )),
            _ => Err(OrderError::conflict(
                "line",
                format!("the line is already {}", status_name(self.state.status())),
            )),
        }
    }
}

/// The words of a status, for messages.
pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Placed => "placed",
        Status::Accepted => "accepted",
        Status::InProgress => "in progress",
        Status::Done => "done",
        Status::PartlyDone => "partly done",
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
    }
}

/// An order's own data; its lines are stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub id: OrderId,
    pub org: OrgId,
    pub placed_by: UserOrKey,
    pub placed_at: DateTime<Utc>,
    pub currency: Currency,
    /// The customer's own reference (a CRM deal number), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub line_count: u16,
    /// The sum of the lines' expected amounts at placement.
    pub expected_total: Money,
}

/// Who did something: a signed-in user, a machine client's API key, or Kopek itself (the
/// scheduled period close).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum UserOrKey {
    User(UserId),
    ApiKey(crate::ids::ApiKeyId),
    System,
}

/// The status of an order from its lines' states:
///
/// - every line cancelled → `cancelled`;
/// - some line still open: `in_progress` if any line is in progress or already finished
///   (done or failed), else `accepted` if any is in a batch, else `placed`;
/// - every line final: of the lines not cancelled, all done → `done`, all failed → `failed`,
///   a mix → `partly_done`.
pub fn order_status<'a>(lines: impl IntoIterator<Item = &'a LineState>) -> Status {
    let (mut open, mut accepted, mut in_progress, mut done, mut failed, mut cancelled) =
        (0, 0, 0, 0, 0, 0);
    for state in lines {
        match state {
            LineState::Placed => open += 1,
            LineState::Accepted { .. } => {
                open += 1;
                accepted += 1;
            }
            LineState::InProgress { .. } => {
                open += 1;
                in_progress += 1;
            }
            LineState::Done { .. } => done += 1,
            LineState::Failed { .. } => failed += 1,
            LineState::Cancelled { .. } => cancelled += 1,
        }
    }
    if open > 0 {
        if in_progress > 0 || done > 0 || failed > 0 {
            Status::InProgress
        } else if accepted > 0 {
            Status::Accepted
        } else {
            Status::Placed
        }
    } else if done == 0 && failed == 0 {
        // No lines at all counts as cancelled too: there is nothing to do.
        let _ = cancelled;
        Status::Cancelled
    } else if failed == 0 {
        Status::Done
    } else if done == 0 {
        Status::Failed
    } else {
        Status::PartlyDone
    }
}

/// A placed order: the order and its lines, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    pub order: Order,
    pub lines: Vec<OrderLine>,
}

/// Checks an order against the catalog and the customer and prices every line.
///
/// `services` finds a service with every price version by code (`None`: unknown). Every
/// refusal names the field at fault: `lines`, `lines[i].service`, `lines[i].quantity`,
/// `lines[i].requested_date`, `lines[i].note`, `lines[i].site.address`, `lines[i].site.area`, `lines[i].site.contact`,
/// `reference`.
pub fn plan_order<'s>(
    orderer: Orderer,
    placed_by: UserOrKey,
    reference: Option<&str>,
    requests: &[LineRequest],
    services: impl Fn(&ServiceCode) -> Option<(&'s Service, &'s [PriceVersion])>,
    now: DateTime<Utc>,
    calendar: Calendar,
) -> Result<PlacedOrder, OrderError> {
    if !orderer.active {
        return Err(OrderError::CustomerBlocked);
    }
    if requests.is_empty() {
        return Err(OrderError::invalid(
            "lines",
            "an order needs at least one line",
        ));
    }
    if requests.len() > MAX_LINES {
        return Err(OrderError::invalid(
            "lines",
            format!("an order has at most {MAX_LINES} lines"),
        ));
    }
    let reference = reference
        .map(|r| clean_text("reference", r, 100))
        .transpose()?;
    let id = OrderId::new();
    let today = calendar.date_of(now);
    let mut lines = Vec::with_capacity(requests.len());
    let mut expected_total = Money::zero(orderer.currency);
    for (i, request) in requests.iter().enumerate() {
        let field = |name: &str| format!("lines[{i}].{name}");
        let Some((service, versions)) = services(&request.service) else {
            return Err(OrderError::invalid(
                field("service"),
                format!("there is no service `{}` in the catalog", request.service),
            ));
        };
        if !service.is_active() {
            return Err(OrderError::invalid(
                field("service"),
                format!(
                    "the service `{}` is retired and can no longer be ordered",
                    service.code()
                ),
            ));
        }
        let work_type = match (service.kind(), service.work_type()) {
            (ServiceKind::OneOff, Some(work_type)) => work_type.clone(),
            (ServiceKind::Recurring, _) => {
                return Err(OrderError::invalid(
                    field("service"),
                    format!(
                        "`{}` is a recurring service: subscribe to it (POST /v1/subscriptions)",
                        service.code()
                    ),
                ));
            }
            _ => {
                return Err(OrderError::invalid(
                    field("service"),
                    format!(
                        "`{}` is billed by metered use and is not ordered",
                        service.code()
                    ),
                ));
            }
        };
        if service.currency() != orderer.currency {
            return Err(OrderError::invalid(
                field("service"),
                format!(
                    "`{}` is priced in {} but your account is billed in {}",
                    service.code(),
                    service.currency(),
                    orderer.currency
                ),
            ));
        }
        let quantity = check_quantity(&field("quantity"), request.quantity, service.unit())?;
        let requested_date = request.requested_date.unwrap_or(today);
        if requested_date < today {
            return Err(OrderError::invalid(
                field("requested_date"),
                format!("must not be in the past (today is {today})"),
            ));
        }
        if requested_date > today + TimeDelta::days(MAX_DAYS_AHEAD) {
            return Err(OrderError::invalid(
                field("requested_date"),
                format!("must be within {MAX_DAYS_AHEAD} days from today"),
            ));
        }
        let note = request
            .note
            .as_deref()
            .map(|n| clean_text(&field("note"), n, MAX_NOTE_CHARS))
            .transpose()?;
        let site = Site::new(
            &request.address,
            request.area.as_deref(),
            request.contact.as_deref(),
            &field("site"),
        )?;
        let Some(version) = price_in_force(versions, now) else {
            return Err(OrderError::invalid(
                field("service"),
                format!("`{}` has no price in force yet", service.code()),
            ));
        };
        let expected = version
            .price
            .quote(quantity)
            .map_err(|e| OrderError::invalid(field("quantity"), e.to_string()))?
            .total();
        expected_total = expected_total
            .checked_add(expected)
            .map_err(|e| OrderError::invalid(field("quantity"), e.to_string()))?;
        lines.push(OrderLine {
            org: orderer.org,
            order: id,
            line_no: u16::try_from(i + 1).expect("at most MAX_LINES lines"),
            work_order: WorkOrderId::new(),
            service: service.code().clone(),
            service_name: service.name().clone(),
            unit: service.unit(),
            work_type,
            quantity,
            requested_date,
            note,
            site,
            price_version: version.version,
            price: version.price.clone(),
            tax_rate: service.tax_rate(),
            expected,
            placed_at: now,
            state: LineState::Placed,
        });
    }
    Ok(PlacedOrder {
        order: Order {
            id,
            org: orderer.org,
            placed_by,
            placed_at: now,
            currency: orderer.currency,
            reference,
            line_count: u16::try_from(lines.len()).expect("at most MAX_LINES lines"),
            expected_total,
        },
        lines,
    })
}

/// The most of a service one order line, one work order's outcome or one subscription can
/// carry: a million units. More is a typing error, not an order (metered usage has its own,
/// far larger bound, [`Quantity::MAX`]).
pub const MAX_ORDERED_QUANTITY: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// A quantity for `unit`: positive, at most [`MAX_ORDERED_QUANTITY`], and whole where the unit
/// counts whole things.
pub fn check_quantity(
    field: &str,
    value: Decimal,
    unit: UnitOfMeasure,
) -> Result<Quantity, OrderError> {
    if value <= Decimal::ZERO {
        return Err(OrderError::invalid(field, "must be greater than zero"));
    }
    if value > MAX_ORDERED_QUANTITY {
        return Err(OrderError::invalid(
            field,
            format!("must be at most {MAX_ORDERED_QUANTITY}"),
        ));
    }
    let quantity = Quantity::new(value).map_err(|e| OrderError::invalid(field, e.to_string()))?;
    if unit.is_whole() && !quantity.is_whole() {
        return Err(OrderError::invalid(
            field,
            format!(
                "must be a whole number for this unit ({})",
                unit.short_name(crate::catalog::Lang::En)
            ),
        ));
    }
    Ok(quantity)
}

#[cfg(test)]
mod tests;
