//! The `order-intake` function: subscriptions to recurring services. A customer subscribes
//! (from a date, with a quantity), changes the quantity or switches to another service of the
//! same work type, and cancels (at the period's end or at once, as the service's policy
//! says). Every change mid-period is prorated by day under the one rule of
//! [`kopek_domain::proration`]; the view shows the current period's prorated charges.

use crate::orders::{actor, customer_org};
use crate::paging::{ListQuery, Paged};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use kopek_aws::dynamo::catalog::StoredService;
use kopek_aws::dynamo::subscriptions::StoredSubscription;
use kopek_domain::accounts::{Principal, Scope};
use kopek_domain::catalog::{CancellationPolicy, ServiceCode, price_in_force};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::ids::{OrgId, SubscriptionId};
use kopek_domain::money::Money;
use kopek_domain::orders::OrderError;
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::Quantity;
use kopek_domain::subscriptions::{Segment, Subscription, SubscriptionStatus};
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscriptions, start_subscription))
        .routes(routes!(get_subscription))
        .routes(routes!(change_subscription))
        .routes(routes!(cancel_subscription))
}

/// A new subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// A recurring service's code.
    #[schema(value_type = String, example = "VPS-S")]
    service: ServiceCode,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "1")]
    quantity: Decimal,
    /// The first day billed (default: today). Never in the past.
    start_date: Option<NaiveDate>,
}

/// A change from a date: a new quantity, another service of the same work type, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>, example = "3")]
    quantity: Option<Decimal>,
    #[schema(value_type = Option<String>, example = "VPS-M")]
    service: Option<ServiceCode>,
    /// The first day the change applies (default: today). Never in the past.
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
    /// The price of the whole period at this quantity.
    #[schema(value_type = Object)]
    full_period: Money,
    /// This part's share: the sum of its days' shares of `full_period`.
    #[schema(value_type = Object)]
    amount: Money,
}

/// The fees of one period so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodFeesView {
    #[schema(value_type = String)]
    period: BillingPeriod,
    parts: Vec<ProratedView>,
    #[schema(value_type = Object)]
    total: Money,
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

/// The services a subscription's segments name, with every price version.
async fn services_of(state: &AppState, sub: &Subscription) -> ApiResult<Vec<StoredService>> {
    let mut services: Vec<StoredService> = Vec::new();
    for segment in sub.segments() {
        if services
            .iter()
            .any(|s| s.service.code() == &segment.service)
        {
            continue;
        }
        if let Some(found) = state.store.service(&segment.service).await? {
            services.push(found);
        }
    }
    Ok(services)
}

async fn view(state: &AppState, sub: &Subscription) -> ApiResult<SubscriptionView> {
    view_for(state, sub, None).await
}

async fn view_for(
    state: &AppState,
    sub: &Subscription,
    period: Option<BillingPeriod>,
) -> ApiResult<SubscriptionView> {
    let period = period.unwrap_or_else(|| state.current_period());
    let services = services_of(state, sub).await?;
    let parts = sub.charges_for(period, |code, version| {
        services
            .iter()
            .find(|s| s.service.code() == code)
            .and_then(|s| s.versions.iter().find(|v| v.version == version))
            .map(|v| v.price.clone())
    })?;
    let mut total = Money::zero(sub.currency());
    for part in &parts {
        total = total.checked_add(part.amount)?;
    }
    Ok(SubscriptionView {
        id: sub.id().to_string(),
        org_id: sub.org().to_string(),
        status: sub.status_on(state.today()),
        starts_on: sub.starts_on(),
        ends_on: sub.ends_on(),
        cancellation: sub.cancellation(),
        segments: sub.segments().iter().map(SegmentView::from).collect(),
        current_period: PeriodFeesView {
            period,
            parts: parts
                .into_iter()
                .map(|p| ProratedView {
                    service: p.service,
                    quantity: p.quantity,
                    price_version: p.price_version,
                    from: p.from,
                    until: p.until_exclusive,
                    days: p.days,
                    period_days: p.period_days,
                    full_period: p.full_period,
                    amount: p.amount,
                })
                .collect(),
            total,
        },
    })
}

/// The ordering customer, refused if blocked.
async fn active_customer(
    state: &AppState,
    caller: &Principal,
) -> ApiResult<(OrgId, kopek_domain::money::Currency)> {
    caller.require_scope(Scope::OrdersWrite)?;
    let org_id = customer_org(caller)?;
    let org = state
        .store
        .organisation(org_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !org.is_active() {
        return Err(OrderError::CustomerBlocked.into());
    }
    Ok((org_id, org.currency))
}

/// A recurring service to subscribe to, in the customer's currency, with its price now.
async fn subscribable(
    state: &AppState,
    code: &ServiceCode,
    currency: kopek_domain::money::Currency,
) -> ApiResult<(StoredService, u32)> {
    let Some(stored) = state.store.service(code).await? else {
        return Err(ApiError::validation(
            "service",
            format!("there is no service `{code}` in the catalog"),
        ));
    };
    if stored.service.currency() != currency {
        return Err(ApiError::validation(
            "service",
            format!(
                "`{code}` is priced in {} but your account is billed in {currency}",
                stored.service.currency()
            ),
        ));
    }
    let version = price_in_force(&stored.versions, state.clock.now())
        .map(|v| v.version)
        .ok_or_else(|| {
            ApiError::validation("service", format!("`{code}` has no price in force yet"))
        })?;
    Ok((stored, version))
}

fn quantity(value: Decimal) -> ApiResult<Quantity> {
    if value <= Decimal::ZERO {
        return Err(ApiError::validation(
            "quantity",
            "must be greater than zero",
        ));
    }
    Quantity::new(value).map_err(|e| ApiError::validation("quantity", e.to_string()))
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
    let (org, currency) = active_customer(&state, &caller).await?;
    let quantity = quantity(body.quantity)?;
    let (stored, version) = subscribable(&state, &body.service, currency).await?;
    let now = state.clock.now();
    let today = state.calendar.date_of(now);
    let sub = Subscription::start(
        SubscriptionId::new(),
        org,
        &stored.service,
        version,
        quantity,
        body.start_date.unwrap_or(today),
        today,
        now,
    )?;
    let event = DomainEvent::new(
        org,
        actor(&caller),
        now,
        EventKind::SubscriptionStarted {
            subscription: sub.id(),
            service: stored.service.code().clone(),
            quantity,
            from: sub.starts_on(),
        },
    );
    state.store.create_subscription(&sub, &event).await?;
    tracing::info!(subscription = %sub.id(), "subscription started");
    Ok((StatusCode::CREATED, Json(view(&state, &sub).await?)))
}

/// The caller's organisation's subscriptions.
#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = inline(Paged<SubscriptionView>)), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_subscriptions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<SubscriptionView>>> {
    caller.require_scope(Scope::OrdersRead)?;
    let org = customer_org(&caller)?;
    let (limit, start) = query.parse(&state)?;
    let page = state.store.list_subscriptions(org, limit, start).await?;
    let mut views = Vec::with_capacity(page.items.len());
    for stored in &page.items {
        views.push(view(&state, &stored.subscription).await?);
    }
    let next = page.next.clone();
    Ok(Json(Paged::from_page(
        &state,
        kopek_aws::dynamo::Page { items: views, next },
        |v| v,
    )))
}

async fn own_subscription(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> ApiResult<StoredSubscription> {
    caller.require_scope(Scope::OrdersRead)?;
    let org = customer_org(caller)?;
    let id: SubscriptionId = id.parse().map_err(|_| ApiError::not_found())?;
    state
        .store
        .subscription(org, id)
        .await?
        .ok_or_else(ApiError::not_found)
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
        .map(|p| crate::orders::parse_period(&state, p, "invalid_query"))
        .transpose()?;
    let stored = own_subscription(&state, &caller, &subscription_id).await?;
    Ok(Json(view_for(&state, &stored.subscription, period).await?))
}

/// Change the quantity, or switch to another service of the same work type, from a date.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/change", tag = "subscriptions", security(("bearer" = [])),
    params(("subscription_id" = String, Path)), request_body = ChangeRequest,
    responses((status = 200, body = SubscriptionView), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn change_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(subscription_id): Path<String>,
    JsonBody(body): JsonBody<ChangeRequest>,
) -> ApiResult<Json<SubscriptionView>> {
    let stored = own_subscription(&state, &caller, &subscription_id).await?;
    let (_, currency) = active_customer(&state, &caller).await?;
    if body.quantity.is_none() && body.service.is_none() {
        return Err(ApiError::validation(
            "quantity",
            "name a new quantity, a new service or both",
        ));
    }
    let now = state.clock.now();
    let today = state.calendar.date_of(now);
    let effective = body.effective_date.unwrap_or(today);
    let mut sub = stored.subscription.clone();
    if let Some(code) = &body.service {
        let (target, version) = subscribable(&state, code, currency).await?;
        sub.switch_service(&target.service, version, effective, today)?;
    }
    if let Some(q) = body.quantity {
        sub.change_quantity(quantity(q)?, effective, today)?;
    }
    let last = sub.last_segment().clone();
    let event = DomainEvent::new(
        sub.org(),
        actor(&caller),
        now,
        EventKind::SubscriptionChanged {
            subscription: sub.id(),
            service: last.service.clone(),
            quantity: last.quantity,
            from: last.from,
        },
    );
    state
        .store
        .save_subscription(&sub, stored.rev, &event)
        .await?;
    Ok(Json(view(&state, &sub).await?))
}

/// Cancel: billed to the period's end, or up to and including today, as the service says.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/cancel", tag = "subscriptions", security(("bearer" = [])),
    params(("subscription_id" = String, Path)),
    responses((status = 200, body = SubscriptionView), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem)))]
async fn cancel_subscription(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(subscription_id): Path<String>,
) -> ApiResult<Json<SubscriptionView>> {
    caller.require_scope(Scope::OrdersWrite)?;
    let stored = own_subscription(&state, &caller, &subscription_id).await?;
    let now = state.clock.now();
    let mut sub = stored.subscription.clone();
    let ends_on = sub.cancel(state.calendar.date_of(now), state.calendar.period_length())?;
    let event = DomainEvent::new(
        sub.org(),
        actor(&caller),
        now,
        EventKind::SubscriptionCancelled {
            subscription: sub.id(),
            ends_on,
        },
    );
    state
        .store
        .save_subscription(&sub, stored.rev, &event)
        .await?;
    Ok(Json(view(&state, &sub).await?))
}
