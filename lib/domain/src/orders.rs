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
}

impl Site {
    /// A site, checked: the address is clean text, the area a slug of 1–64 of `a-z`, `0-9`,
    /// `-`.
    pub fn new(address: &str, area: Option<&str>, field: &str) -> Result<Self, OrderError> {
        let address = clean_text(&format!("{field}.address"), address, MAX_ADDRESS_CHARS)?;
        let area = area
            .map(|a| {
                parse_area(a).map_err(|reason| OrderError::invalid(format!("{field}.area"), reason))
            })
            .transpose()?;
        Ok(Self { address, area })
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
/// `lines[i].requested_date`, `lines[i].note`, `lines[i].site.address`, `lines[i].site.area`,
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
        let site = Site::new(&request.address, request.area.as_deref(), &field("site"))?;
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

/// A quantity for `unit`: positive, and whole where the unit counts whole things.
pub fn check_quantity(
    field: &str,
    value: Decimal,
    unit: UnitOfMeasure,
) -> Result<Quantity, OrderError> {
    if value <= Decimal::ZERO {
        return Err(OrderError::invalid(field, "must be greater than zero"));
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
mod tests {
    use super::*;
    use crate::catalog::{CancellationPolicy, NewService};
    use crate::pricing::{PriceModel, Tier};
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    fn service(
        code: &str,
        kind: ServiceKind,
        unit: UnitOfMeasure,
        currency: Currency,
    ) -> (Service, PriceVersion) {
        let price = Price::new(
            currency,
            PriceModel::Graduated {
                tiers: vec![
                    Tier::bounded(dec!(5), dec!(7.00)),
                    Tier::bounded(dec!(10), dec!(6.50)),
                    Tier::unbounded(dec!(6.00)),
                ],
            },
            None,
            None,
        )
        .unwrap();
        Service::create(
            NewService {
                code: code.parse().unwrap(),
                name: LocalizedText::new("Услуга", "Service").unwrap(),
                description: None,
                unit,
                kind,
                work_type: match kind {
                    ServiceKind::OneOff => Some("install".parse().unwrap()),
                    _ => None,
                },
                cancellation: CancellationPolicy::EndOfPeriod,
                tax_rate: TaxRate::from_percent(dec!(20)).unwrap(),
                currency,
                price,
            },
            now() - TimeDelta::days(30),
        )
        .unwrap()
    }

    fn orderer() -> Orderer {
        Orderer {
            org: OrgId::new(),
            currency: Currency::RUB,
            active: true,
        }
    }

    fn line(code: &str, quantity: Decimal) -> LineRequest {
        LineRequest {
            service: code.parse().unwrap(),
            quantity,
            requested_date: Some(NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()),
            note: Some("  ring twice  ".into()),
            address: "Тверская, 1".into(),
            area: Some("moscow-centre".into()),
        }
    }

    struct Catalog(Vec<(Service, Vec<PriceVersion>)>);

    impl Catalog {
        fn new() -> Self {
            let mut all = Vec::new();
            for (code, kind, unit, currency) in [
                (
                    "INSTALL",
                    ServiceKind::OneOff,
                    UnitOfMeasure::Piece,
                    Currency::RUB,
                ),
                (
                    "CLEAN",
                    ServiceKind::OneOff,
                    UnitOfMeasure::Hour,
                    Currency::RUB,
                ),
                (
                    "VPS",
                    ServiceKind::Recurring,
                    UnitOfMeasure::Month,
                    Currency::RUB,
                ),
                (
                    "TRAFFIC",
                    ServiceKind::Metered,
                    UnitOfMeasure::Gigabyte,
                    Currency::RUB,
                ),
                (
                    "ABROAD",
                    ServiceKind::OneOff,
                    UnitOfMeasure::Piece,
                    Currency::USD,
                ),
            ] {
                let (s, v) = service(code, kind, unit, currency);
                all.push((s, vec![v]));
            }
            let (mut old, v) = service(
                "OLD",
                ServiceKind::OneOff,
                UnitOfMeasure::Piece,
                Currency::RUB,
            );
            old.retire(now() - TimeDelta::days(1)).unwrap();
            all.push((old, vec![v]));
            Self(all)
        }

        fn find(&self, code: &ServiceCode) -> Option<(&Service, &[PriceVersion])> {
            self.0
                .iter()
                .find(|(s, _)| s.code() == code)
                .map(|(s, v)| (s, v.as_slice()))
        }
    }

    fn plan(requests: &[LineRequest]) -> Result<PlacedOrder, OrderError> {
        let catalog = Catalog::new();
        plan_order(
            orderer(),
            UserOrKey::User(UserId::new()),
            None,
            requests,
            |c| catalog.find(c),
            now(),
            Calendar::UTC,
        )
    }

    fn field(err: OrderError) -> String {
        err.field().unwrap_or("-").to_owned()
    }

    #[test]
    fn a_placed_order_pins_the_price_and_quotes_every_line() {
        let placed = plan(&[line("INSTALL", dec!(25)), line("CLEAN", dec!(1.5))]).unwrap();
        assert_eq!(placed.lines.len(), 2);
        // Graduated 1–5 at 7.00, 6–10 at 6.50, 11+ at 6.00: 25 units cost 157.50.
        assert_eq!(placed.lines[0].expected.amount(), dec!(157.50));
        assert_eq!(placed.lines[1].expected.amount(), dec!(10.50));
        assert_eq!(placed.order.expected_total.amount(), dec!(168.00));
        assert_eq!(placed.lines[0].price_version, 1);
        assert_eq!(placed.lines[0].line_no, 1);
        assert_eq!(placed.lines[1].line_no, 2);
        assert_eq!(placed.lines[0].note.as_deref(), Some("ring twice"));
        assert_eq!(placed.lines[0].work_type.as_str(), "install");
        assert_ne!(placed.lines[0].work_order, placed.lines[1].work_order);
        assert_eq!(
            order_status(placed.lines.iter().map(|l| &l.state)),
            Status::Placed
        );
    }

    #[test]
    fn refusals_name_the_line_and_field() {
        let cases: Vec<(Vec<LineRequest>, &str)> = vec![
            (vec![], "lines"),
            (vec![line("INSTALL", dec!(1)); MAX_LINES + 1], "lines"),
            (
                vec![line("INSTALL", dec!(1)), line("NOPE", dec!(1))],
                "lines[1].service",
            ),
            (vec![line("OLD", dec!(1))], "lines[0].service"),
            (vec![line("VPS", dec!(1))], "lines[0].service"),
            (vec![line("TRAFFIC", dec!(1))], "lines[0].service"),
            (vec![line("ABROAD", dec!(1))], "lines[0].service"),
            (vec![line("INSTALL", dec!(0))], "lines[0].quantity"),
            (vec![line("INSTALL", dec!(-2))], "lines[0].quantity"),
            (vec![line("INSTALL", dec!(1.5))], "lines[0].quantity"),
            (vec![line("CLEAN", dec!(0.0000001))], "lines[0].quantity"),
            (
                vec![LineRequest {
                    requested_date: NaiveDate::from_ymd_opt(2026, 11, 24),
                    ..line("INSTALL", dec!(1))
                }],
                "lines[0].requested_date",
            ),
            (
                vec![LineRequest {
                    requested_date: NaiveDate::from_ymd_opt(2028, 1, 1),
                    ..line("INSTALL", dec!(1))
                }],
                "lines[0].requested_date",
            ),
            (
                vec![LineRequest {
                    note: Some("x".repeat(MAX_NOTE_CHARS + 1)),
                    ..line("INSTALL", dec!(1))
                }],
                "lines[0].note",
            ),
            (
                vec![LineRequest {
                    address: "  ".into(),
                    ..line("INSTALL", dec!(1))
                }],
                "lines[0].site.address",
            ),
            (
                vec![LineRequest {
                    area: Some("Moscow North".into()),
                    ..line("INSTALL", dec!(1))
                }],
                "lines[0].site.area",
            ),
        ];
        for (requests, expected) in cases {
            let err = plan(&requests).unwrap_err();
            assert_eq!(field(err.clone()), expected, "{err}");
        }
    }

    #[test]
    fn a_blocked_customer_cannot_order() {
        let catalog = Catalog::new();
        let err = plan_order(
            Orderer {
                active: false,
                ..orderer()
            },
            UserOrKey::User(UserId::new()),
            None,
            &[line("INSTALL", dec!(1))],
            |c| catalog.find(c),
            now(),
            Calendar::UTC,
        )
        .unwrap_err();
        assert_eq!(err, OrderError::CustomerBlocked);
    }

    #[test]
    fn today_is_the_default_date_and_allowed() {
        let mut request = line("INSTALL", dec!(1));
        request.requested_date = None;
        let placed = plan(&[request]).unwrap();
        assert_eq!(placed.lines[0].requested_date, Calendar::UTC.date_of(now()));
    }

    fn done() -> LineState {
        LineState::Done {
            batch: BatchId::new(),
            engineer: UserId::new(),
            at: now(),
            actual_quantity: Quantity::new(dec!(1)).unwrap(),
            charge: ChargeId::new(),
            amount: Money::new(dec!(7), Currency::RUB),
            period: Calendar::UTC.period_of(now()),
        }
    }

    fn failed() -> LineState {
        LineState::Failed {
            batch: BatchId::new(),
            engineer: UserId::new(),
            at: now(),
            reason: "no access".into(),
        }
    }

    fn accepted() -> LineState {
        LineState::Accepted {
            batch: BatchId::new(),
            engineer: UserId::new(),
            at: now(),
        }
    }

    fn cancelled() -> LineState {
        LineState::Cancelled {
            at: now(),
            by: UserOrKey::User(UserId::new()),
        }
    }

    #[test]
    fn the_order_status_follows_its_lines() {
        use LineState::Placed;
        let status = |lines: &[LineState]| order_status(lines.iter());
        assert_eq!(status(&[Placed, Placed]), Status::Placed);
        assert_eq!(status(&[Placed, accepted()]), Status::Accepted);
        assert_eq!(status(&[Placed, done()]), Status::InProgress);
        assert_eq!(status(&[accepted(), failed()]), Status::InProgress);
        assert_eq!(status(&[done(), done()]), Status::Done);
        assert_eq!(status(&[done(), cancelled()]), Status::Done);
        assert_eq!(status(&[failed(), cancelled()]), Status::Failed);
        assert_eq!(status(&[done(), failed()]), Status::PartlyDone);
        assert_eq!(status(&[cancelled(), cancelled()]), Status::Cancelled);
    }

    #[test]
    fn a_line_is_cancelled_only_before_work_starts() {
        let mut line = plan(&[line("INSTALL", dec!(1))]).unwrap().lines.remove(0);
        let mut in_batch = line.clone();
        in_batch.state = accepted();
        assert!(
            in_batch
                .cancel(UserOrKey::User(UserId::new()), now())
                .is_ok()
        );
        let mut started = line.clone();
        started.state = LineState::InProgress {
            batch: BatchId::new(),
            engineer: UserId::new(),
            at: now(),
        };
        assert!(matches!(
            started.cancel(UserOrKey::User(UserId::new()), now()),
            Err(OrderError::Conflict { .. })
        ));
        line.cancel(UserOrKey::User(UserId::new()), now()).unwrap();
        assert_eq!(line.state.status(), Status::Cancelled);
        assert!(matches!(
            line.cancel(UserOrKey::User(UserId::new()), now()),
            Err(OrderError::Conflict { .. })
        ));
    }
}
