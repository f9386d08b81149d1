//! The `usage-api` function: metered usage over HTTPS, the customer's view of it, and the
//! back office of ingestion.
//!
//! | route | who | what |
//! |-------|-----|------|
//! | `POST /v1/usage` | `usage:write` (engineers, admins, their keys) | 1 to [`MAX_EVENTS`] events as JSON → the usage queue |
//! | `POST /v1/usage/csv` | `usage:write` | 1 to [`MAX_CSV_ROWS`] rows of `text/csv` → the usage queue |
//! | `GET /v1/usage` | `orders:read`: a customer its own organisation, staff any (`org_id`) | a period's usage per meter and day, each meter's estimated price |
//! | `GET /v1/usage/meters/{meter}` | the same | one meter |
//! | `GET /v1/usage/health` | `usage:write` | accepted, duplicate, rejected and late events per meter, by period of reception |
//! | `GET /v1/usage/rejected`, `GET …/{rejected_id}`, `POST …/{rejected_id}/resubmit` | `usage:write` | rejected events, and their re-submission once the cause is fixed |
//! | `POST /v1/usage/external-refs` | admins and managers | gives a customer a reference producers may name it by |
//!
//! Each handler reads its request, calls one method of [`kopek_services::usage::Usage`] (which
//! authorises the caller and does the work) and renders the existing view.
//!
//! **Posting is all or nothing** ([`kopek_services::usage::Usage::post`]). Every event is read and judged exactly as
//! `usage-ingest` will (the customers, meters and closed periods looked up once per
//! request); the first event at fault refuses the whole request
//! with a 422 whose `code` is the reason (`unknown_meter`, `bad_quantity`, …) and whose
//! `field` names the event and its field — `events[3].quantity` (the index in `events`, from
//! 0) or `rows[12].quantity` (the data row of the CSV, from 1: the first row after the
//! header is `rows[1]`) — and nothing is enqueued. The same event twice in one request (the
//! same id for the same customer, meter and period) is refused too, naming the second. Otherwise the events are enqueued (packed
//! into as few SQS messages as fit) and counted by `usage-ingest`, exactly once by their ids:
//! a post retried after a failure never counts an event twice.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::catalog::{LocalizedText, ServiceCode, UnitOfMeasure};
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_domain::usage::MeteredEvent;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams, has_media_type, read_body, unsupported_media_type};
use kopek_http::state::AppState;
use kopek_http::wire::{Amount, UnitPrice};
use kopek_http::{ApiError, ApiResult};
use kopek_services::usage::{
    AddExternalRefCommand, MeterUsed, RejectedEvent, UsageQuery as UsageOf,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::paging::{ListQuery, Paged};
use crate::params::{org_query, period_query};

/// The most events one `POST /v1/usage` carries.
pub const MAX_EVENTS: usize = 1_000;
/// The body limit of `POST /v1/usage`: 1,000 events of the largest size (about 1 KB each).
pub const MAX_EVENTS_BODY_BYTES: usize = 1024 * 1024;
/// The body limit of `POST /v1/usage/csv`.
pub const MAX_CSV_BYTES: usize = 5 * 1024 * 1024;
/// The most data rows one CSV carries.
pub const MAX_CSV_ROWS: usize = 100_000;
/// The header a usage CSV must have, exactly.
pub const CSV_COLUMNS: [&str; 5] = ["id", "customer", "meter", "quantity", "timestamp"];

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(usage_view, post_events))
        .routes(routes!(post_csv))
        .routes(routes!(meter_view))
        .routes(routes!(health))
        .routes(routes!(list_rejected))
        .routes(routes!(get_rejected))
        .routes(routes!(resubmit))
        .routes(routes!(add_external_ref))
}

/// The body limit of the routes that take more than the usual 64 KiB (the uploads), by
/// method and path; `None` for every other request.
pub(crate) fn body_limit(method: &Method, path: &str) -> Option<usize> {
    match (method, path) {
        (&Method::POST, "/v1/usage") => Some(MAX_EVENTS_BODY_BYTES),
        (&Method::POST, "/v1/usage/csv") => Some(MAX_CSV_BYTES),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Posting usage

/// A usage event (documentation: events are read by the ingestion's own reader, so that the
/// endpoint and the queue judge alike).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UsageEventDoc {
    /// The producer's unique id of the event: 1–128 of letters, digits and `. _ : / -`.
    #[schema(example = "router-17:2026-11-28T10:15")]
    id: String,
    /// A Kopek organisation id (`org_…`) or the customer's external reference.
    #[schema(example = "crm:4412")]
    customer: String,
    /// The metered service's code.
    #[schema(example = "TRAFFIC")]
    meter: String,
    /// A decimal, as a string (`"12.5"`) or a JSON number with at most 15 digits.
    #[schema(example = "12.5")]
    quantity: String,
    /// RFC 3339; at most 5 minutes ahead, and within the grace window (45 days).
    #[schema(example = "2026-11-28T10:15:00Z")]
    timestamp: String,
    /// Up to 16 string properties, 512 bytes in all.
    properties: Option<HashMap<String, String>>,
}

/// Usage events to enqueue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostUsageRequest {
    /// 1 to 1,000 events.
    #[schema(value_type = Vec<UsageEventDoc>)]
    events: Vec<Value>,
}

/// What was enqueued.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedView {
    /// Events enqueued.
    queued: usize,
    /// SQS messages they were packed into.
    messages: usize,
}

impl From<kopek_services::usage::Queued> for QueuedView {
    fn from(q: kopek_services::usage::Queued) -> Self {
        Self {
            queued: q.events,
            messages: q.messages,
        }
    }
}

/// Report usage: 1 to 1,000 events, judged first and enqueued only if every one of them
/// would count. Counting happens asynchronously, exactly once per event id.
#[utoipa::path(post, path = "/v1/usage", tag = "usage", security(("bearer" = [])), request_body = PostUsageRequest,
    responses((status = 202, body = QueuedView), (status = 403, body = kopek_http::problem::Problem),
        (status = 413, description = "over 1 MiB", body = kopek_http::problem::Problem),
        (status = 422, description = "the reason as `code` (`malformed`, `invalid_field`, `unknown_customer`, `unknown_meter`, `not_metered`, `meter_retired`, `currency_mismatch`, `bad_quantity`, `future_timestamp`, `too_old`, `duplicate_id`), `field` as `events[i].field`", body = kopek_http::problem::Problem)))]
async fn post_events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<PostUsageRequest>,
) -> ApiResult<impl IntoResponse> {
    let events = async {
        if body.events.is_empty() || body.events.len() > MAX_EVENTS {
            return Err(ApiError::validation(
                "events",
                format!("send 1 to {MAX_EVENTS} events"),
            ));
        }
        Ok(body
            .events
            .into_iter()
            .enumerate()
            .map(|(i, value)| (format!("events[{i}]"), value))
            .collect())
    };
    let queued = state.services.usage().post(&caller, events).await?;
    Ok((StatusCode::ACCEPTED, Json(QueuedView::from(queued))))
}

/// The events of a usage CSV, each as the JSON object `usage-ingest` reads, with its place
/// (`rows[n]`, from 1 for the first row after the header).
fn csv_events(bytes: &[u8]) -> ApiResult<Vec<(String, Value)>> {
    let header_error = || {
        ApiError::validation(
            "header",
            format!("the first row must be exactly `{}`", CSV_COLUMNS.join(",")),
        )
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let header = reader.headers().map_err(|_| header_error())?;
    if !header.iter().eq(CSV_COLUMNS) {
        return Err(header_error());
    }
    let mut events = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let place = format!("rows[{}]", index + 1);
        if index == MAX_CSV_ROWS {
            return Err(ApiError::validation(
                "rows",
                format!("at most {MAX_CSV_ROWS} rows in one file"),
            ));
        }
        let record = record.map_err(|e| {
            let field = match e.kind() {
                csv::ErrorKind::Utf8 { err, .. } => CSV_COLUMNS
                    .get(err.field())
                    .map_or(place.clone(), |column| format!("{place}.{column}")),
                _ => place.clone(),
            };
            let line = e.position().map(|p| p.line()).unwrap_or_default();
            ApiError::validation(field, format!("line {line}: {e}")).with_code("malformed")
        })?;
        let event: serde_json::Map<String, Value> = CSV_COLUMNS
            .iter()
            .zip(record.iter())
            .map(|(column, cell)| ((*column).to_owned(), Value::String(cell.to_owned())))
            .collect();
        events.push((place, Value::Object(event)));
    }
    if events.is_empty() {
        return Err(ApiError::validation(
            "rows",
            "the file has no rows after its header",
        ));
    }
    Ok(events)
}

/// Report usage as CSV (`text/csv`, up to 5 MiB and 100,000 rows): the header exactly
/// `id,customer,meter,quantity,timestamp`, then one event per row. Validated whole before
/// anything is enqueued; an error names the data row (`rows[1]` is the first after the
/// header) and its column, e.g. `rows[12].quantity`.
#[utoipa::path(post, path = "/v1/usage/csv", tag = "usage", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "id,customer,meter,quantity,timestamp\nrouter-17-0001,crm:4412,TRAFFIC,12.5,2026-11-28T10:15:00Z"),
    responses((status = 202, body = QueuedView), (status = 403, body = kopek_http::problem::Problem),
        (status = 413, description = "over 5 MiB", body = kopek_http::problem::Problem),
        (status = 415, description = "not `text/csv`", body = kopek_http::problem::Problem),
        (status = 422, description = "the reason as `code`, `field` as `rows[n].column` (or `header`, `rows`)", body = kopek_http::problem::Problem)))]
async fn post_csv(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    let events = async {
        if !has_media_type(request.headers(), "text/csv") {
            return Err(unsupported_media_type("text/csv"));
        }
        let bytes = read_body(request).await?;
        csv_events(&bytes)
    };
    let queued = state.services.usage().post(&caller, events).await?;
    Ok((StatusCode::ACCEPTED, Json(QueuedView::from(queued))))
}

// ---------------------------------------------------------------------------------------
// The customer's view

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UsageQuery {
    /// A period (`YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` for longer periods): the period the usage is billed in (default: the current one).
    period: Option<String>,
    /// Whose usage: staff name the organisation (its id, or `ref:` and the CRM's reference); a
    /// customer may name only its own.
    org_id: Option<String>,
}

/// One day's usage of a meter.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayUsageView {
    day: NaiveDate,
    /// A decimal string.
    quantity: String,
}

/// What a period's usage of a meter would cost, priced once for the whole period with the
/// version in force at the period's start, in `currency`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EstimateView {
    price_version: u32,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// What the price model charges, at full precision, without VAT.
    subtotal_net: UnitPrice,
    /// Rounded once to minor units, without VAT.
    net: Amount,
    /// `"exempt"` or the percentage.
    tax_rate: String,
    tax: Amount,
    /// With VAT.
    gross: Amount,
}

/// A meter's usage of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterUsageView {
    #[schema(value_type = String)]
    meter: ServiceCode,
    #[schema(value_type = Object)]
    name: LocalizedText,
    #[schema(value_type = String)]
    unit: UnitOfMeasure,
    /// The period's total quantity, a decimal string in `unit`s.
    quantity: String,
    /// Events counted.
    events: u64,
    /// Of them, events of an earlier, already invoiced period, billed in this one.
    late_events: u64,
    /// By the provider's day the usage happened on; a late event's day is in its own period.
    by_day: Vec<DayUsageView>,
    /// `null` when the usage cannot be priced (see `no_estimate_reason`).
    estimate: Option<EstimateView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_estimate_reason: Option<String>,
}

/// An organisation's usage of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    org_id: String,
    #[schema(value_type = String)]
    period: BillingPeriod,
    meters: Vec<MeterUsageView>,
    /// The organisation's currency: the estimates' sums are in it.
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// The meters' estimates summed, without VAT.
    estimated_net: Amount,
    /// The same with VAT.
    estimated_gross: Amount,
}

/// One meter's usage of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct OneMeterView {
    org_id: String,
    #[schema(value_type = String)]
    period: BillingPeriod,
    #[serde(flatten)]
    usage: MeterUsageView,
}

/// A meter's usage with its estimate, or why it has none.
impl From<MeterUsed> for MeterUsageView {
    fn from(m: MeterUsed) -> Self {
        let currency = m.service.currency();
        let (estimate, no_estimate_reason) = match m.estimate {
            Ok(e) => (
                Some(EstimateView {
                    price_version: e.price_version,
                    currency,
                    subtotal_net: UnitPrice::new(e.quote.subtotal(), currency),
                    net: Amount::of(e.quote.total()),
                    tax_rate: e.taxed.tax_rate,
                    tax: Amount::of(e.taxed.tax),
                    gross: Amount::of(e.taxed.total_with_tax),
                }),
                None,
            ),
            Err(reason) => (None, Some(reason)),
        };
        Self {
            meter: m.service.code().clone(),
            name: m.service.name().clone(),
            unit: m.service.unit(),
            quantity: m.usage.total.normalize().to_string(),
            events: m.usage.events,
            late_events: m.usage.late_events,
            by_day: m
                .usage
                .by_day
                .into_iter()
                .map(|(day, quantity)| DayUsageView {
                    day,
                    quantity: quantity.normalize().to_string(),
                })
                .collect(),
            estimate,
            no_estimate_reason,
        }
    }
}

impl UsageQuery {
    /// Whose usage of which period, as the service reads it.
    fn read(&self, state: &AppState) -> ApiResult<UsageOf> {
        Ok(UsageOf {
            org: org_query(self.org_id.as_deref())?,
            period: period_query(state, self.period.as_deref())?,
        })
    }
}

/// A period's usage of every meter, by day, with each meter's estimated price (the
/// caller's organisation; staff name one).
#[utoipa::path(get, path = "/v1/usage", tag = "usage", security(("bearer" = [])), params(UsageQuery),
    responses((status = 200, body = UsageView), (status = 400, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
async fn usage_view(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<UsageQuery>,
) -> ApiResult<Json<UsageView>> {
    let usage = state
        .services
        .usage()
        .of_period(&caller, query.read(&state)?)
        .await?;
    Ok(Json(UsageView {
        org_id: usage.org.to_string(),
        period: usage.period,
        meters: usage.meters.into_iter().map(MeterUsageView::from).collect(),
        currency: usage.estimated_total.currency(),
        estimated_net: Amount::of(usage.estimated_total),
        estimated_gross: Amount::of(usage.estimated_total_with_tax),
    }))
}

/// A period's usage of one meter, by day, with its estimated price.
#[utoipa::path(get, path = "/v1/usage/meters/{meter}", tag = "usage", security(("bearer" = [])),
    params(("meter" = String, Path, description = "A metered service's code"), UsageQuery),
    responses((status = 200, body = OneMeterView), (status = 400, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
async fn meter_view(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(meter): Path<String>,
    QueryParams(query): QueryParams<UsageQuery>,
) -> ApiResult<Json<OneMeterView>> {
    let usage = state
        .services
        .usage()
        .of_meter(&caller, query.read(&state)?, &meter)
        .await?;
    Ok(Json(OneMeterView {
        org_id: usage.org.to_string(),
        period: usage.period,
        usage: usage.meter.into(),
    }))
}

// ---------------------------------------------------------------------------------------
// The back office

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// A period (`YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` for longer periods): the period events were received in (default: the current one).
    period: Option<String>,
}

/// One meter's ingestion counters (`-` for events whose meter could not be read).
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterHealthView {
    meter: String,
    accepted: u64,
    duplicate: u64,
    rejected: u64,
    /// Of the accepted, those billed in a later period than they happened in.
    late: u64,
}

/// Ingestion counters of a period of reception.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    #[schema(value_type = String)]
    period: BillingPeriod,
    meters: Vec<MeterHealthView>,
}

/// Ingestion health: per meter, the events accepted, repeated (duplicates), rejected and
/// late among those received in a period. Operational counters, not money.
#[utoipa::path(get, path = "/v1/usage/health", tag = "usage", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = HealthView), (status = 403, body = kopek_http::problem::Problem)))]
async fn health(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<PeriodQuery>,
) -> ApiResult<Json<HealthView>> {
    let period = period_query(&state, query.period.as_deref())?;
    let health = state.services.usage().health(&caller, period).await?;
    let meters = health
        .meters
        .into_iter()
        .map(|(meter, c)| MeterHealthView {
            meter,
            accepted: c.accepted,
            duplicate: c.duplicate,
            rejected: c.rejected,
            late: c.late,
        })
        .collect();
    Ok(Json(HealthView {
        period: health.period,
        meters,
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RejectedQuery {
    /// A period (`YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` for longer periods): the period events were received in (default: the current one).
    period: Option<String>,
    /// How many items at most (1 to 100, default 50).
    limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A rejected usage event, as kept for the back office.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedView {
    /// `rej_…`: one record per distinct event sent.
    id: String,
    /// `unknown_meter`, `bad_quantity`, `conflict`, …
    reason: String,
    /// The event's field at fault (empty for the whole event).
    field: String,
    detail: String,
    /// What the producer sent.
    raw: String,
    /// Whether `raw` was cut at 16 KiB (such an event cannot be re-submitted).
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    meter: Option<String>,
    /// The producer's id of the event, where it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    /// The customer the event named, where it names one (it was told: `usage.rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<String>,
    received_at: DateTime<Utc>,
    /// `open`, `resolved` (counted on re-submission) or `duplicate` (found counted).
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_at: Option<DateTime<Utc>>,
}

impl From<RejectedEvent> for RejectedView {
    fn from(e: RejectedEvent) -> Self {
        Self {
            id: e.id,
            reason: e.reason.to_string(),
            field: e.field,
            detail: e.detail,
            raw: e.raw,
            truncated: e.truncated,
            meter: e.meter,
            event_id: e.event_id,
            org_id: e.org.map(|o| o.to_string()),
            received_at: e.received_at,
            status: e.status,
            resolved_at: e.resolved_at,
        }
    }
}

/// The rejected usage events received in a period, newest first.
#[utoipa::path(get, path = "/v1/usage/rejected", tag = "usage", security(("bearer" = [])), params(RejectedQuery),
    responses((status = 200, body = inline(Paged<RejectedView>)), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem)))]
async fn list_rejected(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<RejectedQuery>,
) -> ApiResult<Json<Paged<RejectedView>>> {
    let period = period_query(&state, query.period.as_deref())?;
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .paging(&state)?;
    let page = state
        .services
        .usage()
        .rejected_events(&caller, period, paging)
        .await?;
    Ok(Json(Paged::from_page(&state, page, RejectedView::from)))
}

/// One rejected usage event.
#[utoipa::path(get, path = "/v1/usage/rejected/{rejected_id}", tag = "usage", security(("bearer" = [])),
    params(("rejected_id" = String, Path)),
    responses((status = 200, body = RejectedView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
async fn get_rejected(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(rejected_id): Path<String>,
) -> ApiResult<Json<RejectedView>> {
    let rejected = state
        .services
        .usage()
        .rejected(&caller, &rejected_id)
        .await?;
    Ok(Json(rejected.into()))
}

/// A counted usage event.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeteredEventView {
    id: String,
    org_id: String,
    #[schema(value_type = String)]
    meter: ServiceCode,
    quantity: String,
    timestamp: DateTime<Utc>,
    /// The period it happened in.
    #[schema(value_type = String)]
    period: BillingPeriod,
    /// The period it is billed in (a later one when it came after its period was invoiced).
    #[schema(value_type = String)]
    billed_in: BillingPeriod,
    late: bool,
}

impl From<MeteredEvent> for MeteredEventView {
    fn from(e: MeteredEvent) -> Self {
        Self {
            id: e.id.to_string(),
            org_id: e.org.to_string(),
            late: e.is_late(),
            quantity: e.quantity.value().normalize().to_string(),
            meter: e.meter,
            timestamp: e.timestamp,
            period: e.period,
            billed_in: e.billed_in,
        }
    }
}

/// What a re-submission did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResubmittedView {
    /// `resolved` (counted now) or `duplicate` (it had been counted meanwhile).
    status: String,
    event: MeteredEventView,
}

/// Re-submit a rejected event once its cause is fixed (a meter created, a customer's
/// reference set): judged again and counted if it now counts.
#[utoipa::path(post, path = "/v1/usage/rejected/{rejected_id}/resubmit", tag = "usage", security(("bearer" = [])),
    params(("rejected_id" = String, Path)),
    responses((status = 200, body = ResubmittedView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`not_open` (re-submitted before), `truncated`", body = kopek_http::problem::Problem),
        (status = 422, description = "still rejected: the reason as `code`, the field named", body = kopek_http::problem::Problem)))]
async fn resubmit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(rejected_id): Path<String>,
) -> ApiResult<Json<ResubmittedView>> {
    let outcome = state
        .services
        .usage()
        .resubmit(&caller, &rejected_id)
        .await?;
    Ok(Json(ResubmittedView {
        status: outcome.status().to_owned(),
        event: outcome.event().clone().into(),
    }))
}

/// A customer's external reference.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalRefRequest {
    org_id: String,
    /// 1–128 of letters, digits and `. _ : / -`, not starting with `org_`; unique across
    /// customers.
    #[schema(example = "crm:4412")]
    external_ref: String,
}

/// A customer's external reference, usable as `customer` in usage events.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExternalRefView {
    org_id: String,
    external_ref: String,
}

/// Give a customer an external reference (its id in a CRM or a producer's system), so that
/// producers may name it by that in usage events. Setting the same again is harmless.
#[utoipa::path(post, path = "/v1/usage/external-refs", tag = "usage", security(("bearer" = [])), request_body = ExternalRefRequest,
    responses((status = 201, body = ExternalRefView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`external_ref_taken`: another customer has it", body = kopek_http::problem::Problem),
        (status = 422, body = kopek_http::problem::Problem)))]
async fn add_external_ref(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<ExternalRefRequest>,
) -> ApiResult<impl IntoResponse> {
    let command = AddExternalRefCommand {
        org_id: body.org_id,
        external_ref: body.external_ref,
    };
    let added = state
        .services
        .usage()
        .add_external_ref(&caller, command)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ExternalRefView {
            org_id: added.org.to_string(),
            external_ref: added.reference.to_string(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_is_read_whole_with_rows_numbered_from_the_first_after_the_header() {
        let csv = "id,customer,meter,quantity,timestamp\n\
                   e1,crm:1,TRAFFIC,1.5,2026-11-28T10:00:00Z\n\
                   e2,crm:1,TRAFFIC,\"2,5\",2026-11-28T11:00:00Z\n";
        let events = csv_events(csv.as_bytes()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].0, "rows[1]");
        assert_eq!(events[1].1["quantity"], "2,5");
        assert_eq!(events[0].1["meter"], "TRAFFIC");
        let err = csv_events(b"id,customer,meter,timestamp,quantity\ne1,c,M,t,1\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("header"));
        let err = csv_events(b"id,customer,meter,quantity,timestamp\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("rows"));
        let err = csv_events(b"id,customer,meter,quantity,timestamp\ne1,c,M,1,t\ne2,c,M,1\n")
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("rows[2]"));
        let mut bad_utf8 = b"id,customer,meter,quantity,timestamp\ne1,c,M,".to_vec();
        bad_utf8.extend([0xff, b',', b't', b'\n']);
        let err = csv_events(&bad_utf8).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("rows[1].quantity"));
    }

    #[test]
    fn only_the_uploads_read_more_than_the_usual_body() {
        assert_eq!(
            body_limit(&Method::POST, "/v1/usage"),
            Some(MAX_EVENTS_BODY_BYTES)
        );
        assert_eq!(
            body_limit(&Method::POST, "/v1/usage/csv"),
            Some(MAX_CSV_BYTES)
        );
        assert_eq!(body_limit(&Method::POST, "/v1/usage/external-refs"), None);
        assert_eq!(body_limit(&Method::GET, "/v1/usage"), None);
    }
}
