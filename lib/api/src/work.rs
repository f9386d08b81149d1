//! The `order-intake` function, back-office side: work queues by work type, taking a batch,
//! starting, completing and releasing it, and its work sheet (CSV, and PDF to print).
//!
//! Engineers, managers and admins work here (role check plus `orders:write`); an engineer
//! acts only on their own batches. Batches left untouched past the configured time go back to
//! the queue: every queue view and every take sweeps the stale ones first, so nobody ever sees
//! or takes around them. The use cases, the work sheet's rows included, are
//! `kopek_services::work::Work`; these handlers only translate and render (CSV, PDF).

use crate::paging::{ListQuery, Paged};
use crate::params::id_path;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::catalog::WorkType;
use kopek_domain::ids::WorkOrderId;
use kopek_domain::orders::{LineState, OrderLine, Site, Status};
use kopek_domain::pricing::Quantity;
use kopek_domain::work::{BatchStatus, EntryState, Outcome};
use kopek_http::auth::Caller;
use kopek_http::download::attachment;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use kopek_services::work::{BatchDetail, PeekQueue, TakeBatch, WorkQueue, wire_name};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_queues))
        .routes(routes!(peek_queue))
        .routes(routes!(list_batches, take_batch))
        .routes(routes!(get_batch))
        .routes(routes!(start_batch))
        .routes(routes!(complete_batch))
        .routes(routes!(release_batch))
        .routes(routes!(work_sheet))
        .routes(routes!(work_sheet_pdf))
}

/// One queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    #[schema(value_type = String)]
    work_type: WorkType,
    /// Work orders waiting.
    waiting: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    oldest_placed_at: Option<DateTime<Utc>>,
    /// How long the oldest has waited, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    oldest_age_secs: Option<i64>,
}

impl From<WorkQueue> for QueueView {
    fn from(q: WorkQueue) -> Self {
        Self {
            work_type: q.work_type,
            waiting: q.waiting,
            oldest_placed_at: q.oldest_placed_at,
            oldest_age_secs: q.oldest_age_secs,
        }
    }
}

/// The work queues, one per work type in the catalog, with counts and the oldest's age.
#[utoipa::path(get, path = "/v1/work/queues", tag = "work", security(("bearer" = [])),
    responses((status = 200, body = Vec<QueueView>), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_queues(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<QueueView>>> {
    let queues = state.services.work().queues(&caller).await?;
    Ok(Json(queues.into_iter().map(QueueView::from).collect()))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct QueueQuery {
    /// Only work requested on or before this date.
    #[serde(default, with = "kopek_domain::wire::date_option")]
    requested_by: Option<NaiveDate>,
    /// Only work in this area.
    area: Option<String>,
    /// 1 to 100, default 50.
    limit: Option<u16>,
    cursor: Option<String>,
}

/// A work order as engineers see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderView {
    work_order: String,
    order_id: String,
    line_no: u16,
    org_id: String,
    /// The customer's legal name.
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<String>,
    service: String,
    service_name: String,
    #[schema(value_type = String)]
    quantity: Quantity,
    unit: String,
    requested_date: NaiveDate,
    #[schema(value_type = Object)]
    site: Site,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    placed_at: DateTime<Utc>,
    #[schema(value_type = String)]
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    actual_quantity: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
}

fn work_order_view(l: &OrderLine, customer: Option<String>) -> WorkOrderView {
    let (actual, reason) = match &l.state {
        LineState::Done {
            actual_quantity, ..
        } => (Some(*actual_quantity), None),
        LineState::Failed { reason, .. } => (None, Some(reason.clone())),
        _ => (None, None),
    };
    WorkOrderView {
        work_order: l.work_order.to_string(),
        order_id: l.order.to_string(),
        line_no: l.line_no,
        org_id: l.org.to_string(),
        customer,
        service: l.service.to_string(),
        service_name: l.service_name.ru().to_owned(),
        quantity: l.quantity,
        unit: wire_name(&l.unit),
        requested_date: l.requested_date,
        site: l.site.clone(),
        note: l.note.clone(),
        placed_at: l.placed_at,
        status: l.state.status(),
        actual_quantity: actual,
        failure_reason: reason,
    }
}

/// The waiting work orders of one work type, oldest first.
#[utoipa::path(get, path = "/v1/work/queues/{work_type}", tag = "work", security(("bearer" = [])),
    params(("work_type" = String, Path), QueueQuery),
    responses((status = 200, body = inline(Paged<WorkOrderView>)), (status = 403, body = kopek_http::problem::Problem)))]
async fn peek_queue(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(work_type): Path<String>,
    QueryParams(query): QueryParams<QueueQuery>,
) -> ApiResult<Json<Paged<WorkOrderView>>> {
    let query = PeekQueue {
        work_type: id_path(&work_type)?,
        paging: ListQuery {
            limit: query.limit,
            cursor: query.cursor,
        }
        .paging(&state)?,
        requested_by: query.requested_by,
        area: query.area,
    };
    let page = state.services.work().peek(&caller, query).await?;
    Ok(Json(Paged::from_page(&state, page, |queued| {
        work_order_view(&queued.item, queued.customer)
    })))
}

/// Which work to take.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeRequest {
    #[schema(value_type = String, example = "install")]
    work_type: WorkType,
    /// How many work orders at most (1 to 99, default 10).
    size: Option<u16>,
    /// Only work requested on or before this date.
    #[serde(default, with = "kopek_domain::wire::date_option")]
    requested_by: Option<NaiveDate>,
    /// Only work in this area.
    area: Option<String>,
}

/// A batch with its work orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    id: String,
    engineer: String,
    #[schema(value_type = String)]
    work_type: WorkType,
    /// `open`, `in_progress` or `closed`.
    #[schema(value_type = String)]
    status: BatchStatus,
    taken_at: DateTime<Utc>,
    /// When the batch, left untouched, goes back to the queue.
    stale_at: DateTime<Utc>,
    /// Work orders still open.
    open: usize,
    work_orders: Vec<BatchEntryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchEntryView {
    /// Within the batch: `open`, `done`, `failed` or `released`.
    #[schema(value_type = String)]
    entry: EntryState,
    #[serde(flatten)]
    work_order: WorkOrderView,
}

impl From<BatchDetail> for BatchView {
    fn from(detail: BatchDetail) -> Self {
        let batch = detail.batch;
        Self {
            id: batch.id.to_string(),
            engineer: batch.engineer.to_string(),
            open: batch.open_entries().count(),
            work_type: batch.work_type,
            status: batch.status,
            taken_at: batch.taken_at,
            stale_at: batch.stale_at,
            work_orders: detail
                .work_orders
                .into_iter()
                .map(|w| BatchEntryView {
                    entry: w.entry,
                    work_order: work_order_view(&w.line, w.customer),
                })
                .collect(),
        }
    }
}

/// Take the next work orders of one work type (oldest first, optionally narrowed) as your
/// batch, atomically: two engineers never get the same work order.
#[utoipa::path(post, path = "/v1/work/batches", tag = "work", security(("bearer" = [])), request_body = TakeRequest,
    responses((status = 201, body = BatchView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`nothing_waiting`", body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn take_batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<TakeRequest>,
) -> ApiResult<impl IntoResponse> {
    let command = TakeBatch {
        work_type: body.work_type,
        size: body.size,
        requested_by: body.requested_by,
        area: body.area,
    };
    let taken = state.services.work().take_batch(&caller, command).await?;
    Ok((StatusCode::CREATED, Json(BatchView::from(taken))))
}

/// Your batches, newest first.
#[utoipa::path(get, path = "/v1/work/batches", tag = "work", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = inline(Paged<BatchView>)), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_batches(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<BatchView>>> {
    let paging = query.paging(&state)?;
    let page = state.services.work().batches(&caller, paging).await?;
    Ok(Json(Paged::from_page(&state, page, BatchView::from)))
}

/// A batch with its work orders (staff see every batch; only its engineer acts on it).
#[utoipa::path(get, path = "/v1/work/batches/{batch_id}", tag = "work", security(("bearer" = [])), params(("batch_id" = String, Path)),
    responses((status = 200, body = BatchView), (status = 404, body = kopek_http::problem::Problem)))]
async fn get_batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(batch_id): Path<String>,
) -> ApiResult<Json<BatchView>> {
    let detail = state
        .services
        .work()
        .batch(&caller, id_path(&batch_id)?)
        .await?;
    Ok(Json(BatchView::from(detail)))
}

/// Start a batch: its open work orders go `in_progress` (customers can no longer cancel them).
#[utoipa::path(post, path = "/v1/work/batches/{batch_id}/start", tag = "work", security(("bearer" = [])), params(("batch_id" = String, Path)),
    responses((status = 200, body = BatchView), (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`batch_closed`, `batch_stale`, `batch_started`", body = kopek_http::problem::Problem)))]
async fn start_batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(batch_id): Path<String>,
) -> ApiResult<Json<BatchView>> {
    let detail = state
        .services
        .work()
        .start(&caller, id_path(&batch_id)?)
        .await?;
    Ok(Json(BatchView::from(detail)))
}

/// What happened to one work order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutcomeRequest {
    /// Done, with the quantity actually delivered (billed at the order's price version).
    Done {
        #[schema(value_type = String)]
        work_order: WorkOrderId,
        #[serde(with = "kopek_domain::wire::decimal")]
        #[schema(value_type = String, example = "2")]
        actual_quantity: Decimal,
    },
    /// Not done, with the reason the customer will see.
    Failed {
        #[schema(value_type = String)]
        work_order: WorkOrderId,
        reason: String,
    },
}

/// The outcomes of some or all work orders of a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    outcomes: Vec<OutcomeRequest>,
}

/// Complete work orders of your batch in one action, each done (with the actual quantity)
/// or failed (with a reason). Done work becomes a charge for the current billing period.
/// The whole request is checked first: a refused request changes nothing.
#[utoipa::path(post, path = "/v1/work/batches/{batch_id}/complete", tag = "work", security(("bearer" = [])),
    params(("batch_id" = String, Path)), request_body = CompleteRequest,
    responses((status = 200, body = BatchView), (status = 403, description = "`not_your_batch`", body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`batch_closed`, `batch_stale`, `work_order_cancelled`, `work_order_not_open`", body = kopek_http::problem::Problem),
        (status = 422, body = kopek_http::problem::Problem)))]
async fn complete_batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(batch_id): Path<String>,
    JsonBody(body): JsonBody<CompleteRequest>,
) -> ApiResult<Json<BatchView>> {
    let outcomes = body
        .outcomes
        .into_iter()
        .map(|o| match o {
            OutcomeRequest::Done {
                work_order,
                actual_quantity,
            } => Outcome::Done {
                work_order,
                actual_quantity,
            },
            OutcomeRequest::Failed { work_order, reason } => Outcome::Failed { work_order, reason },
        })
        .collect();
    let detail = state
        .services
        .work()
        .complete(&caller, id_path(&batch_id)?, outcomes)
        .await?;
    Ok(Json(BatchView::from(detail)))
}

/// Which work orders to give back.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Default: every work order still open.
    #[schema(value_type = Option<Vec<String>>)]
    work_orders: Option<Vec<WorkOrderId>>,
}

/// Give unfinished work orders of your batch back to the queue (they keep their place: oldest
/// first).
#[utoipa::path(post, path = "/v1/work/batches/{batch_id}/release", tag = "work", security(("bearer" = [])),
    params(("batch_id" = String, Path)), request_body = ReleaseRequest,
    responses((status = 200, body = BatchView), (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem)))]
async fn release_batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(batch_id): Path<String>,
    JsonBody(body): JsonBody<ReleaseRequest>,
) -> ApiResult<Json<BatchView>> {
    let detail = state
        .services
        .work()
        .release(&caller, id_path(&batch_id)?, body.work_orders)
        .await?;
    Ok(Json(BatchView::from(detail)))
}

/// The batch's work sheet as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read
/// Cyrillic right): one row per job with customer, address, service, quantity and note.
#[utoipa::path(get, path = "/v1/work/batches/{batch_id}/sheet.csv", tag = "work", security(("bearer" = [])), params(("batch_id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
async fn work_sheet(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(batch_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let sheet = state
        .services
        .work()
        .work_sheet(&caller, id_path(&batch_id)?)
        .await?;
    let mut out = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let header_row = [
        "#",
        "work order",
        "customer",
        "address",
        "area",
        "service",
        "service name",
        "quantity",
        "unit",
        "requested date",
        "note",
        "status",
        // Last, so sheets read by column number before it was added read the same.
        "contact",
    ];
    out.write_record(header_row)
        .map_err(|e| ApiError::internal(&e))?;
    for (i, row) in sheet.rows.into_iter().enumerate() {
        out.write_record([
            (i + 1).to_string(),
            row.work_order,
            row.customer,
            row.address,
            row.area.unwrap_or_default(),
            row.service,
            row.service_name,
            row.quantity,
            row.unit,
            row.requested_date.to_string(),
            row.note.unwrap_or_default(),
            row.status,
            row.contact.unwrap_or_default(),
        ])
        .map_err(|e| ApiError::internal(&e))?;
    }
    let bytes = out.into_inner().map_err(|e| ApiError::internal(&e))?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        format!("work-sheet-{}.csv", sheet.batch_id),
        bytes,
    ))
}

/// A PDF file: the response body itself.
pub struct PdfFile;

impl utoipa::PartialSchema for PdfFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .content_media_type("application/pdf")
            .into()
    }
}

impl ToSchema for PdfFile {}

/// The batch's work sheet as PDF, to print (A4 landscape, in Russian): the batch, its work
/// type, engineer and when it was taken, then one row per job with customer, address and
/// area, service, quantity with unit, requested date and note; the header row repeats on
/// every page, and the sheet ends with a line for the engineer's signature.
#[utoipa::path(get, path = "/v1/work/batches/{batch_id}/sheet.pdf", tag = "work", security(("bearer" = [])), params(("batch_id" = String, Path)),
    responses((status = 200, content_type = "application/pdf", body = PdfFile), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
async fn work_sheet_pdf(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(batch_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let (file_name, bytes) = state
        .services
        .work()
        .work_sheet_pdf(&caller, id_path(&batch_id)?)
        .await?;
    Ok(attachment("application/pdf", file_name, bytes))
}
