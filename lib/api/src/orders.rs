//! The `order-intake` function, customer side: placing orders, following them line by line,
//! cancelling a line before work starts, an order's history, and the charges of a period.
//!
//! Customers (and their API keys, e.g. a CRM acting for the customer) reach only their own
//! organisation's orders: another organisation's order id is 404. Staff open any order.
//! The use cases are `kopek_services::orders::Orders`; these handlers only translate.

use crate::paging::{ListQuery, Paged};
use crate::params::{id_path, org_query, period_query};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::catalog::{LocalizedText, ServiceCode, UnitOfMeasure};
use kopek_domain::charges::{Charge, ChargeSource, DomainEvent, EventKind};
use kopek_domain::money::Currency;
use kopek_domain::orders::{LineRequest, LineState, Site, Status, UserOrKey, order_status};
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::Quantity;
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use kopek_services::orders::{ChargesRequest, PlaceOrder, StoredLine, StoredOrder};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders, place_order))
        .routes(routes!(get_order))
        .routes(routes!(cancel_line))
        .routes(routes!(order_history))
        .routes(routes!(list_charges))
}

/// Where the job happens.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteRequest {
    #[schema(example = "Москва, ул. Тверская, 7, офис 12")]
    address: String,
    /// A district slug engineers narrow their batches by, e.g. `moscow-centre`.
    area: Option<String>,
    /// Who lets the engineer in and how to reach them; printed on the work sheet.
    #[schema(example = "Пётр Иванов, +7 916 000-00-00")]
    contact: Option<String>,
}

/// One line of a new order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequestBody {
    /// A one-off service's code.
    #[schema(value_type = String, example = "ROUTER-SETUP")]
    service: ServiceCode,
    /// A decimal string; whole where the unit counts whole things.
    #[serde(with = "kopek_domain::wire::decimal")]
    #[schema(value_type = String, example = "2")]
    quantity: Decimal,
    /// The day the job should be done (default: today). Never in the past.
    #[serde(default, with = "kopek_domain::wire::date_option")]
    requested_date: Option<NaiveDate>,
    note: Option<String>,
    site: SiteRequest,
}

/// A new order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// The customer's own reference, e.g. a CRM deal number.
    reference: Option<String>,
    lines: Vec<LineRequestBody>,
}

/// What a line's charge came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineChargeView {
    id: String,
    /// Without VAT, in the order's `currency`.
    net: Amount,
    /// The billing period it is billed in, `YYYY-MM` (or `YYYY-Qn`, `YYYY-Hn`, `YYYY`).
    #[schema(value_type = String)]
    period: BillingPeriod,
}

/// One line of an order, with where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineView {
    line_no: u16,
    /// The work order the line became.
    work_order: String,
    #[schema(value_type = String)]
    service: ServiceCode,
    #[schema(value_type = Object)]
    service_name: LocalizedText,
    #[schema(value_type = String)]
    unit: UnitOfMeasure,
    #[schema(value_type = String)]
    quantity: Quantity,
    requested_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[schema(value_type = Object)]
    site: Site,
    /// The price version in force when the order was placed; the line is billed at it.
    price_version: u32,
    /// Expected at the ordered quantity, without VAT, in the order's `currency`.
    expected_net: Amount,
    /// `placed`, `accepted`, `in_progress`, `done`, `failed` or `cancelled`.
    #[schema(value_type = String)]
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_changed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    actual_quantity: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    charge: Option<LineChargeView>,
    /// Why the job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
}

impl From<&StoredLine> for OrderLineView {
    fn from(stored: &StoredLine) -> Self {
        let l = &stored.line;
        let (changed, actual, charge, reason) = match &l.state {
            LineState::Placed => (None, None, None, None),
            LineState::Accepted { at, .. } | LineState::InProgress { at, .. } => {
                (Some(*at), None, None, None)
            }
            LineState::Done {
                at,
                actual_quantity,
                charge,
                amount,
                period,
                ..
            } => (
                Some(*at),
                Some(*actual_quantity),
                Some(LineChargeView {
                    id: charge.to_string(),
                    net: Amount::of(*amount),
                    period: *period,
                }),
                None,
            ),
            LineState::Failed { at, reason, .. } => (Some(*at), None, None, Some(reason.clone())),
            LineState::Cancelled { at, .. } => (Some(*at), None, None, None),
        };
        Self {
            line_no: l.line_no,
            work_order: l.work_order.to_string(),
            service: l.service.clone(),
            service_name: l.service_name.clone(),
            unit: l.unit,
            quantity: l.quantity,
            requested_date: l.requested_date,
            note: l.note.clone(),
            site: l.site.clone(),
            price_version: l.price_version,
            expected_net: Amount::of(l.expected),
            status: l.state.status(),
            status_changed_at: changed,
            actual_quantity: actual,
            charge,
            failure_reason: reason,
        }
    }
}

/// An order with its live status.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    id: String,
    org_id: String,
    /// Derived from the lines: `placed`, `accepted`, `in_progress`, `done`, `partly_done`,
    /// `failed` or `cancelled`.
    #[schema(value_type = String)]
    status: Status,
    placed_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    /// Every amount of the order is in this currency.
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// The lines' expected amounts, without VAT.
    expected_total_net: Amount,
    lines: Vec<OrderLineView>,
}

fn order_view(stored: &StoredOrder) -> OrderView {
    OrderView {
        id: stored.order.id.to_string(),
        org_id: stored.order.org.to_string(),
        status: order_status(stored.lines.iter().map(|l| &l.line.state)),
        placed_at: stored.order.placed_at,
        reference: stored.order.reference.clone(),
        currency: stored.order.expected_total.currency(),
        expected_total_net: Amount::of(stored.order.expected_total),
        lines: stored.lines.iter().map(OrderLineView::from).collect(),
    }
}

/// Place an order of one or more one-off services. Each line keeps the price version in
/// force now and shows its expected price; each becomes a work order in the queue of its
/// work type.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", security(("bearer" = [])), request_body = PlaceOrderRequest,
    responses((status = 201, body = OrderView), (status = 403, description = "`customer_blocked`, `customer_only`", body = kopek_http::problem::Problem),
        (status = 422, body = kopek_http::problem::Problem)))]
async fn place_order(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<PlaceOrderRequest>,
) -> ApiResult<impl IntoResponse> {
    let command = PlaceOrder {
        reference: body.reference,
        lines: body
            .lines
            .into_iter()
            .map(|l| LineRequest {
                service: l.service,
                quantity: l.quantity,
                requested_date: l.requested_date,
                note: l.note,
                address: l.site.address,
                area: l.site.area,
                contact: l.site.contact,
            })
            .collect(),
    };
    let stored = state.services.orders().place(&caller, command).await?;
    Ok((StatusCode::CREATED, Json(order_view(&stored))))
}

/// The caller's organisation's orders, newest first, with live status.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = inline(Paged<OrderView>)), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_orders(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<OrderView>>> {
    let paging = query.paging(&state)?;
    let page = state.services.orders().list(&caller, paging).await?;
    Ok(Json(Paged::from_page(&state, page, |o| order_view(&o))))
}

/// An order with every line and its live status.
#[utoipa::path(get, path = "/v1/orders/{order_id}", tag = "orders", security(("bearer" = [])), params(("order_id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = kopek_http::problem::Problem)))]
async fn get_order(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(order_id): Path<String>,
) -> ApiResult<Json<OrderView>> {
    let stored = state
        .services
        .orders()
        .get(&caller, id_path(&order_id)?)
        .await?;
    Ok(Json(order_view(&stored)))
}

/// Cancel one line before work on it starts (while `placed` or `accepted`).
#[utoipa::path(post, path = "/v1/orders/{order_id}/lines/{line_no}/cancel", tag = "orders", security(("bearer" = [])),
    params(("order_id" = String, Path), ("line_no" = u16, Path)),
    responses((status = 200, body = OrderView),
        (status = 403, description = "`customer_only`: staff do not act for a customer", body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`invalid_state`: work has started or the line is finished", body = kopek_http::problem::Problem)))]
async fn cancel_line(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((order_id, line_no)): Path<(String, String)>,
) -> ApiResult<Json<OrderView>> {
    let stored = state
        .services
        .orders()
        .cancel_line(&caller, id_path(&order_id)?, id_path(&line_no)?)
        .await?;
    Ok(Json(order_view(&stored)))
}

/// One entry of an order's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    id: String,
    at: DateTime<Utc>,
    /// `{"user": "usr_…"}` or `{"api_key": "key_…"}`.
    #[schema(value_type = Object)]
    actor: UserOrKey,
    /// What happened: `{"type": "order_placed", …}`, `work_order_done`, `work_order_failed`,
    /// `order_line_cancelled`, …
    #[schema(value_type = Object)]
    event: EventKind,
}

impl From<DomainEvent> for EventView {
    fn from(e: DomainEvent) -> Self {
        Self {
            id: e.id.to_string(),
            at: e.at,
            actor: e.actor,
            event: e.kind,
        }
    }
}

/// Everything that happened to an order, oldest first (for managers, and for the customer).
#[utoipa::path(get, path = "/v1/orders/{order_id}/history", tag = "orders", security(("bearer" = [])), params(("order_id" = String, Path)),
    responses((status = 200, body = Vec<EventView>), (status = 404, body = kopek_http::problem::Problem)))]
async fn order_history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(order_id): Path<String>,
) -> ApiResult<Json<Vec<EventView>>> {
    let events = state
        .services
        .orders()
        .history(&caller, id_path(&order_id)?)
        .await?;
    Ok(Json(events.into_iter().map(EventView::from).collect()))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ChargesQuery {
    /// A period, `YYYY-MM` (or `YYYY-Qn`, `YYYY-Hn`, `YYYY` for longer periods; default: the current one).
    period: Option<String>,
    /// Whose charges (staff name any organisation, by id or `ref:` and the CRM's reference;
    /// customers may name only their own).
    org_id: Option<String>,
}

/// A charge of a billing period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChargeView {
    id: String,
    #[schema(value_type = String)]
    period: BillingPeriod,
    /// What the charge is for: `{"type": "work_order", "order": …, "line_no": …, "work_order": …}`.
    #[schema(value_type = Object)]
    source: ChargeSource,
    #[schema(value_type = String)]
    service: ServiceCode,
    #[schema(value_type = Object)]
    description: LocalizedText,
    #[schema(value_type = String)]
    quantity: Quantity,
    #[schema(value_type = String)]
    unit: UnitOfMeasure,
    price_version: u32,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// Without VAT.
    net: Amount,
    /// The tax rate the invoice will apply.
    tax_rate: String,
    rendered_on: NaiveDate,
}

impl From<Charge> for ChargeView {
    fn from(c: Charge) -> Self {
        Self {
            id: c.id.to_string(),
            period: c.period,
            source: c.source,
            service: c.service,
            description: c.description,
            quantity: c.quantity,
            unit: c.unit,
            price_version: c.price_version,
            currency: c.amount.currency(),
            net: Amount::of(c.amount),
            tax_rate: c.tax_rate.to_string(),
            rendered_on: c.rendered_on,
        }
    }
}

/// The charges of a period with their total.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChargesView {
    #[schema(value_type = String)]
    period: BillingPeriod,
    items: Vec<ChargeView>,
    /// The sum of the charges per currency, without VAT.
    totals: Vec<CurrencyTotalView>,
}

/// A sum in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrencyTotalView {
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// Without VAT.
    net: Amount,
}

/// The charges of a billing period so far (the caller's organisation; staff name one).
#[utoipa::path(get, path = "/v1/charges", tag = "orders", security(("bearer" = [])), params(ChargesQuery),
    responses((status = 200, body = ChargesView), (status = 400, body = kopek_http::problem::Problem)))]
async fn list_charges(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ChargesQuery>,
) -> ApiResult<Json<ChargesView>> {
    let request = ChargesRequest {
        period: period_query(&state, query.period.as_deref())?,
        org: org_query(query.org_id.as_deref())?,
    };
    let of = state.services.orders().charges(&caller, request).await?;
    Ok(Json(ChargesView {
        period: of.period,
        items: of.charges.into_iter().map(ChargeView::from).collect(),
        totals: of
            .totals
            .into_iter()
            .map(|t| CurrencyTotalView {
                currency: t.currency(),
                net: Amount::of(t),
            })
            .collect(),
    }))
}
