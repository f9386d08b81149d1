//! The `order-intake` function: subscriptions to recurring services. A customer subscribes
//! (from a date, with a quantity), changes the quantity or switches to another service of the
//! same work type, and cancels (at the period's end or at once, as the service's policy
//! says). Every change mid-period is prorated by day under the one rule of
//! [`kopek_domain::proration`]; the view shows the current period's prorated charges. The use
//! cases are `kopek_services::subscriptions::Subscriptions`; these handlers only translate.

use crate::paging::{ListQuery, Paged};
use crate::params::{id_path, parse_period};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use kopek_domain::catalog::{CancellationPolicy, ServiceCode};
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::Quantity;
use kopek_domain::subscriptions::{Segment, SubscriptionStatus};
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use kopek_services::subscriptions::{ChangeSubscription, StartSubscription, SubscriptionFees};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscriptions, start_subscription))
        .routes(routes!(preview_start))
        .routes(routes!(get_subscription))
        .routes(routes!(change_subscription))
        .routes(routes!(preview_change))
        .routes(routes!(cancel_subscription))
        .routes(routes!(preview_cancel))
}

/// A new subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// A recurring service's code.
    #[schema(value_type = String, example = "VPS-S")]
    service: ServiceCode,
    #[serde(with = "kopek_domain::wire::decimal")]
    #[schema(value_type = String, example = "1")]
    quantity: Decimal,
    /// The first day billed (default: today). Never in the past.
    #[serde(default, with = "kopek_domain::wire::date_option")]
    start_date: Option<NaiveDate>,
}

/// A change from a date: a new quantity, another service of the same work type, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    #[serde(default, with = "kopek_domain::wire::decimal_option")]
    #[schema(value_type = Option<String>, example = "3")]
    quantity: Option<Decimal>,
    #[schema(value_type = Option<String>, example = "VPS-M")]
    service: Option<ServiceCode>,
    /// The first day the change applies (default: today). Never in the past.
    #[serde(default, with = "kopek_domain::wire::date_option")]
    effective_date: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentView {
    from: NaiveDate,
    #[schema(value_type = String)]
    service: ServiceCode,
    #[schema(value_type = String)]
    quantity: Quantity,
    price_version: u32,
}

impl From<&Segment> for SegmentView {
    fn from(s: &Segment) -> Self {
        Self {
            from: s.from,
            service: s.service.clone(),
            quantity: s.quantity,
            price_version: s.price_version,
        }
    }
}

/// One prorated part of a period's fee.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProratedView {
    #[schema(value_type = String)]
    service: ServiceCode,
    #[schema(value_type = String)]
    quantity: Quantity,
    price_version: u32,
    from: NaiveDate,
    /// The first day not in this part.
    until: NaiveDate,
    days: u32,
    period_days: u32,
    /// The price of the whole period at this quantity, without VAT.
    full_period_net: Amount,
    /// This part's share, without VAT: the sum of its days' shares of `full_period_net`.
    net: Amount,
}

/// The fees of one period so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodFeesView {
    #[schema(value_type = String)]
    period: BillingPeriod,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    parts: Vec<ProratedView>,
    /// The parts summed, without VAT.
    total_net: Amount,
}

/// A subscription with its segments and the current period's prorated fees.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    id: String,
    org_id: String,
    /// Today: `scheduled`, `active`, `cancelling` (ends on `ends_on`) or `ended`.
    #[schema(value_type = String)]
    status: SubscriptionStatus,
    starts_on: NaiveDate,
    /// The first day no longer billed, once cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_on: Option<NaiveDate>,
    /// `end_of_period` or `immediately`.
    #[schema(value_type = String)]
    cancellation: CancellationPolicy,
    segments: Vec<SegmentView>,
    /// The fees of the current period so far (or of `?period=`).
    current_period: PeriodFeesView,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// The period whose fees to show, `YYYY-MM`, or the longer period's form (default: the current one).
    period: Option<String>,
}

impl From<SubscriptionFees> for SubscriptionView {
    fn from(of: SubscriptionFees) -> Self {
        let sub = &of.subscription;
        Self {
            id: sub.id().to_string(),
            org_id: sub.org().to_string(),
            status: of.status,
            starts_on: sub.starts_on(),
            ends_on: sub.ends_on(),
            cancellation: sub.cancellation(),
            segments: sub.segments().iter().map(SegmentView::from).collect(),
            current_period: PeriodFeesView {
                period: of.fees.period,
                currency: of.fees.total.currency(),
                parts: of
                    .fees
                    .parts
                    .into_iter()
                    .map(|p| ProratedView {
                        service: p.service,
                        quantity: p.quantity,
                        price_version: p.price_version,
                        from: p.from,
                        until: p.until_exclusive,
                        days: p.days,
                        period_days: p.period_days,
                        full_period_net: Amount::of(p.full_period),
                        net: Amount::of(p.amount),
                    })
                    .collect(),
                total_net: Amount::of(of.fees.total),
            },
        }
    }
}

/// Subscribe to a recurring service from a date.
#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions", security(("bearer" = [])), request_body = StartRequest,
    responses((status = 201, body = SubscriptionView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn start_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<StartRequest>,
) -> ApiResult<impl IntoResponse> {
    let command = StartSubscription {
        service: body.service,
        quantity: body.quantity,
        start_date: body.start_date,
    };
    let started = state
        .services
        .subscriptions()
        .start(&caller, command)
        .await?;
    Ok((StatusCode::CREATED, Json(SubscriptionView::from(started))))
}

/// The caller's organisation's subscriptions.
#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = inline(Paged<SubscriptionView>)), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_subscriptions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<SubscriptionView>>> {
    let paging = query.paging(&state)?;
    let page = state.services.subscriptions().list(&caller, paging).await?;
    Ok(Json(Paged::from_page(&state, page, SubscriptionView::from)))
}

/// A subscription with its segments and the current period's prorated fees.
#[utoipa::path(get, path = "/v1/subscriptions/{subscription_id}", tag = "subscriptions", security(("bearer" = [])),
    params(("subscription_id" = String, Path), PeriodQuery),
    responses((status = 200, body = SubscriptionView), (status = 400, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
async fn get_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(subscription_id): Path<String>,
    QueryParams(query): QueryParams<PeriodQuery>,
) -> ApiResult<Json<SubscriptionView>> {
    let period = query
        .period
        .as_deref()
        .map(|p| parse_period(&state, p, "invalid_query"))
        .transpose()?;
    let found = state
        .services
        .subscriptions()
        .get(&caller, id_path(&subscription_id)?, period)
        .await?;
    Ok(Json(SubscriptionView::from(found)))
}

/// Change the quantity, or switch to another service of the same work type, from a date.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/change", tag = "subscriptions", security(("bearer" = [])),
    params(("subscription_id" = String, Path)), request_body = ChangeRequest,
    responses((status = 200, body = SubscriptionView),
        (status = 403, description = "`customer_only`: staff do not act for a customer", body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn change_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(subscription_id): Path<String>,
    JsonBody(body): JsonBody<ChangeRequest>,
) -> ApiResult<Json<SubscriptionView>> {
    let command = ChangeSubscription {
        quantity: body.quantity,
        service: body.service,
        effective_date: body.effective_date,
    };
    let changed = state
        .services
        .subscriptions()
        .change(&caller, id_path(&subscription_id)?, command)
        .await?;
    Ok(Json(SubscriptionView::from(changed)))
}

/// Cancel: billed to the period's end, or up to and including today, as the service says.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/cancel", tag = "subscriptions", security(("bearer" = [])),
    params(("subscription_id" = String, Path)),
    responses((status = 200, body = SubscriptionView),
        (status = 403, description = "`customer_only`: staff do not act for a customer", body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem)))]
async fn cancel_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(subscription_id): Path<String>,
) -> ApiResult<Json<SubscriptionView>> {
    let cancelled = state
        .services
        .subscriptions()
        .cancel(&caller, id_path(&subscription_id)?)
        .await?;
    Ok(Json(SubscriptionView::from(cancelled)))
}

/// What a change would do: the subscription and its current period's fees as they are, and
/// as they would be.
#[derive(Debug, Serialize, ToSchema)]
pub struct EffectView {
    before: SubscriptionView,
    after: SubscriptionView,
}

impl From<kopek_services::subscriptions::Effect> for EffectView {
    fn from(e: kopek_services::subscriptions::Effect) -> Self {
        Self {
            before: e.before.into(),
            after: e.after.into(),
        }
    }
}

/// What subscribing would do, without doing it: the subscription it would start and its fees
/// of the current period, prorated — the same checks and refusals as `POST /v1/subscriptions`.
#[utoipa::path(post, path = "/v1/subscriptions/preview", tag = "subscriptions", security(("bearer" = [])), request_body = StartRequest,
    responses((status = 200, body = SubscriptionView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn preview_start(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<StartRequest>,
) -> ApiResult<Json<SubscriptionView>> {
    let command = StartSubscription {
        service: body.service,
        quantity: body.quantity,
        start_date: body.start_date,
    };
    let would = state
        .services
        .subscriptions()
        .preview_start(&caller, command)
        .await?;
    Ok(Json(SubscriptionView::from(would)))
}

/// What a change would do, without doing it: the current period's fees before and after.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/change/preview", tag = "subscriptions", security(("bearer" = [])),
    params(("subscription_id" = String, Path)), request_body = ChangeRequest,
    responses((status = 200, body = EffectView),
        (status = 403, description = "`customer_only`: staff do not act for a customer", body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn preview_change(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(subscription_id): Path<String>,
    JsonBody(body): JsonBody<ChangeRequest>,
) -> ApiResult<Json<EffectView>> {
    let command = ChangeSubscription {
        quantity: body.quantity,
        service: body.service,
        effective_date: body.effective_date,
    };
    let effect = state
        .services
        .subscriptions()
        .preview_change(&caller, id_path(&subscription_id)?, command)
        .await?;
    Ok(Json(effect.into()))
}

/// What cancelling would do, without doing it: the current period's fees before and after.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/cancel/preview", tag = "subscriptions", security(("bearer" = [])),
    params(("subscription_id" = String, Path)),
    responses((status = 200, body = EffectView),
        (status = 403, description = "`customer_only`: staff do not act for a customer", body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem)))]
async fn preview_cancel(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(subscription_id): Path<String>,
) -> ApiResult<Json<EffectView>> {
    let effect = state
        .services
        .subscriptions()
        .preview_cancel(&caller, id_path(&subscription_id)?)
        .await?;
    Ok(Json(effect.into()))
}
