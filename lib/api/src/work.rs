//! The `order-intake` function, back-office side: work queues by work type, taking a batch,
//! starting, completing and releasing it, and its work sheet (CSV, and PDF to print).
//!
//! Engineers, managers and admins work here (role check plus `orders:write`); an engineer
//! acts only on their own batches. Batches left untouched past the configured time go back to
//! the queue: every queue view and every take sweeps the stale ones first, so nobody ever sees
//! or takes around them.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::paging::{ListQuery, Paged};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use kopek_aws::dynamo::orders::StoredLine;
use kopek_aws::dynamo::work::{QueueFilter, StoredBatch, TakeOutcome};
use kopek_documents::{SheetRow, WorkSheet};
use kopek_domain::accounts::{Principal, Role, Scope, Subject};
use kopek_domain::catalog::{Lang, ServiceStatus, WorkType};
use kopek_domain::ids::{BatchId, OrgId, UserId, WorkOrderId};
use kopek_domain::orders::{LineState, Site, Status, parse_area};
use kopek_domain::pricing::Quantity;
use kopek_domain::work::{Batch, BatchStatus, EntryState, MAX_BATCH, Outcome, plan_completion};
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

/// How many stale batches one request returns to the queue at most.
const SWEEP_LIMIT: i32 = 10;
/// How many times a take retries after losing work orders to another taker.
const TAKE_ATTEMPTS: usize = 12;

fn require_worker(caller: &Principal) -> ApiResult<UserId> {
    caller.require_role(&[Role::Engineer, Role::Manager, Role::Admin])?;
    caller.require_scope(Scope::OrdersWrite)?;
    match caller.subject() {
        Subject::User(id) => Ok(id),
        Subject::ApiKey(_) => Err(ApiError::forbidden("work is taken by a person, not a key")),
    }
}

fn timeout(state: &AppState) -> TimeDelta {
    TimeDelta::from_std(state.batch_timeout).unwrap_or(TimeDelta::hours(8))
}

/// Returns the work of stale batches to the queue. Conflicts (someone else sweeping or the
/// engineer acting at the same moment) are left for the next sweep.
pub(crate) async fn sweep_stale(state: &AppState) -> ApiResult<()> {
    let now = state.clock.now();
    for stored in state.store.stale_batches(now, SWEEP_LIMIT).await? {
        if let Err(e) = release(state, &stored, None, None, now).await {
            tracing::warn!(batch = %stored.batch.id, error = ?e.code, "stale batch not released yet");
        } else {
            tracing::info!(batch = %stored.batch.id, "stale batch returned to the queue");
        }
    }
    Ok(())
}

/// The current lines of a batch's entries.
async fn batch_lines(state: &AppState, batch: &Batch) -> ApiResult<Vec<StoredLine>> {
    let refs: Vec<(OrgId, kopek_domain::ids::OrderId, u16)> = batch
        .entries
        .iter()
        .map(|e| (e.org, e.order, e.line_no))
        .collect();
    Ok(state.store.lines(&refs).await?)
}

/// Releases `which` (or every open) work order of a batch; `by` is `None` for a stale batch.
async fn release(
    state: &AppState,
    stored: &StoredBatch,
    by: Option<UserId>,
    which: Option<&[WorkOrderId]>,
    now: DateTime<Utc>,
) -> ApiResult<Batch> {
    let lines = batch_lines(state, &stored.batch).await?;
    let mut next = stored.batch.clone();
    next.reconcile(&lines.iter().map(|l| l.line.clone()).collect::<Vec<_>>());
    let mut changed: Vec<_> = lines.iter().map(|l| l.line.clone()).collect();
    next.release(by, which, &mut changed, now)?;
    let writes: Vec<StoredLine> = lines
        .iter()
        .zip(changed)
        .filter(|(before, after)| before.line != *after)
        .map(|(before, after)| StoredLine {
            line: after,
            rev: before.rev,
        })
        .collect();
    state
        .store
        .save_batch_work(stored, &next, &writes, &[], &[])
        .await?;
    Ok(next)
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

/// The work queues, one per work type in the catalog, with counts and the oldest's age.
#[utoipa::path(get, path = "/v1/work/queues", tag = "work", security(("bearer" = [])),
    responses((status = 200, body = Vec<QueueView>), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_queues(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<QueueView>>> {
    require_worker(&caller)?;
    sweep_stale(&state).await?;
    let mut work_types = std::collections::BTreeSet::new();
    for status in [ServiceStatus::Active, ServiceStatus::Retired] {
        let mut start = None;
        loop {
            let page = state.store.list_services(status, 100, start).await?;
            work_types.extend(
                page.items
                    .iter()
                    .filter_map(|s| s.service.work_type().cloned()),
            );
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
    }
    let now = state.clock.now();
    let mut queues = Vec::with_capacity(work_types.len());
    for work_type in work_types {
        let stats = state.store.queue_stats(work_type.as_str()).await?;
        queues.push(QueueView {
            work_type,
            waiting: stats.waiting,
            oldest_placed_at: stats.oldest_placed_at,
            oldest_age_secs: stats
                .oldest_placed_at
                .map(|at| (now - at).num_seconds().max(0)),
        });
    }
    Ok(Json(queues))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct QueueQuery {
    /// Only work requested on or before this date.
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
    /// The customer's legal name (in batch views and sheets).
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

/// How a unit-like enum is named on the wire (`piece`, `released`, …).
fn wire_name(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn work_order_view(stored: &StoredLine, customer: Option<String>) -> WorkOrderView {
    let l = &stored.line;
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

fn work_type_of(path: &str) -> ApiResult<WorkType> {
    path.parse().map_err(|_| ApiError::not_found())
}

fn queue_filter(
    requested_by: Option<NaiveDate>,
    area: Option<String>,
    field: &str,
) -> ApiResult<QueueFilter> {
    let area = area
        .map(|a| {
            parse_area(&a).map_err(|reason| {
                ApiError::bad_request("invalid_query", reason).with_field(field.to_owned())
            })
        })
        .transpose()?;
    Ok(QueueFilter { requested_by, area })
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
    require_worker(&caller)?;
    sweep_stale(&state).await?;
    let work_type = work_type_of(&work_type)?;
    let (limit, start) = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse(&state)?;
    let filter = queue_filter(query.requested_by, query.area, "area")?;
    let page = state
        .store
        .queue(
            work_type.as_str(),
            &filter,
            usize::try_from(limit).unwrap_or(1),
            start,
        )
        .await?;
    Ok(Json(Paged::from_page(&state, page, |l| {
        work_order_view(&l, None)
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

async fn customer_names(
    state: &AppState,
    lines: &[StoredLine],
) -> ApiResult<BTreeMap<OrgId, String>> {
    let mut names = BTreeMap::new();
    for line in lines {
        if names.contains_key(&line.line.org) {
            continue;
        }
        if let Some(org) = state.store.organisation(line.line.org).await? {
            names.insert(line.line.org, org.legal_name.to_string());
        }
    }
    Ok(names)
}

/// A batch's entries with their current lines, in the batch's order.
fn entry_lines<'a>(
    batch: &'a Batch,
    lines: &'a [StoredLine],
) -> impl Iterator<Item = (EntryState, &'a StoredLine)> + 'a {
    batch.entries.iter().filter_map(|e| {
        lines
            .iter()
            .find(|l| l.line.work_order == e.work_order)
            .map(|l| (e.state, l))
    })
}

async fn batch_view(state: &AppState, batch: &Batch, lines: &[StoredLine]) -> ApiResult<BatchView> {
    let names = customer_names(state, lines).await?;
    let work_orders = entry_lines(batch, lines)
        .map(|(entry, l)| BatchEntryView {
            entry,
            work_order: work_order_view(l, names.get(&l.line.org).cloned()),
        })
        .collect();
    Ok(BatchView {
        id: batch.id.to_string(),
        engineer: batch.engineer.to_string(),
        work_type: batch.work_type.clone(),
        status: batch.status,
        taken_at: batch.taken_at,
        stale_at: batch.stale_at,
        open: batch.open_entries().count(),
        work_orders,
    })
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
    let engineer = require_worker(&caller)?;
    let size = usize::from(body.size.unwrap_or(10));
    if !(1..=MAX_BATCH).contains(&size) {
        return Err(ApiError::validation(
            "size",
            format!("must be between 1 and {MAX_BATCH}"),
        ));
    }
    let filter = queue_filter(body.requested_by, body.area, "area")
        .map_err(|_| ApiError::validation("area", "must be 1–64 of a-z, 0-9 and '-'"))?;
    sweep_stale(&state).await?;
    let mut lost: HashSet<WorkOrderId> = HashSet::new();
    for attempt in 0..TAKE_ATTEMPTS {
        let page = state
            .store
            .queue(body.work_type.as_str(), &filter, size + lost.len(), None)
            .await?;
        let candidates: Vec<StoredLine> = page
            .items
            .into_iter()
            .filter(|l| l.line.state == LineState::Placed && !lost.contains(&l.line.work_order))
            .take(size)
            .collect();
        if candidates.is_empty() {
            return Err(ApiError::conflict(
                "nothing_waiting",
                format!("no work orders of type `{}` are waiting", body.work_type),
            ));
        }
        let now = state.clock.now();
        let mut lines: Vec<_> = candidates.iter().map(|c| c.line.clone()).collect();
        let batch = Batch::take(
            engineer,
            body.work_type.clone(),
            &mut lines,
            now,
            timeout(&state),
        );
        let taken: Vec<StoredLine> = lines
            .into_iter()
            .zip(&candidates)
            .map(|(line, c)| StoredLine { line, rev: c.rev })
            .collect();
        match state.store.take_batch(&batch, &taken).await? {
            TakeOutcome::Taken => {
                tracing::info!(batch = %batch.id, size = taken.len(), attempt, "batch taken");
                let stored: Vec<StoredLine> = taken
                    .into_iter()
                    .map(|l| StoredLine {
                        rev: l.rev + 1,
                        line: l.line,
                    })
                    .collect();
                return Ok((
                    StatusCode::CREATED,
                    Json(batch_view(&state, &batch, &stored).await?),
                ));
            }
            TakeOutcome::Lost(indexes) => {
                lost.extend(indexes.into_iter().map(|i| candidates[i].line.work_order));
                // Spread the retries of racing takers apart.
                let jitter = rand::random::<u64>() % (10 * (attempt as u64 + 1));
                tokio::time::sleep(Duration::from_millis(5 + jitter)).await;
            }
        }
    }
    Err(ApiError::unavailable())
}

/// Your batches, newest first.
#[utoipa::path(get, path = "/v1/work/batches", tag = "work", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = inline(Paged<BatchView>)), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_batches(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<BatchView>>> {
    let engineer = require_worker(&caller)?;
    let (limit, start) = query.parse(&state)?;
    let page = state.store.list_batches(engineer, limit, start).await?;
    let mut views = Vec::with_capacity(page.items.len());
    for stored in &page.items {
        let lines = batch_lines(&state, &stored.batch).await?;
        views.push(batch_view(&state, &stored.batch, &lines).await?);
    }
    let next = page.next.clone();
    Ok(Json(Paged::from_page(
        &state,
        kopek_aws::dynamo::Page { items: views, next },
        |v| v,
    )))
}

async fn find_batch(state: &AppState, id: &str) -> ApiResult<StoredBatch> {
    let id: BatchId = id.parse().map_err(|_| ApiError::not_found())?;
    state.store.batch(id).await?.ok_or_else(ApiError::not_found)
}

/// A batch with its work orders (staff see every batch; only its engineer acts on it).
#[utoipa::path(get, path = "/v1/work/batches/{batch_id}", tag = "work", security(("bearer" = [])), params(("batch_id" = String, Path)),
    responses((status = 200, body = BatchView), (status = 404, body = kopek_http::problem::Problem)))]
async fn get_batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(batch_id): Path<String>,
) -> ApiResult<Json<BatchView>> {
    require_worker(&caller)?;
    let stored = find_batch(&state, &batch_id).await?;
    let lines = batch_lines(&state, &stored.batch).await?;
    let mut batch = stored.batch.clone();
    batch.reconcile(&lines.iter().map(|l| l.line.clone()).collect::<Vec<_>>());
    Ok(Json(batch_view(&state, &batch, &lines).await?))
}

/// A stale batch is swept before the refusal, so its work is back in the queue at once.
async fn refuse_if_stale(state: &AppState, stored: &StoredBatch) -> ApiResult<()> {
    if stored.batch.is_stale(state.clock.now()) {
        sweep_stale(state).await?;
    }
    Ok(())
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
    let engineer = require_worker(&caller)?;
    let stored = find_batch(&state, &batch_id).await?;
    refuse_if_stale(&state, &stored).await?;
    let lines = batch_lines(&state, &stored.batch).await?;
    let mut next = stored.batch.clone();
    let mut changed: Vec<_> = lines.iter().map(|l| l.line.clone()).collect();
    next.reconcile(&changed);
    next.start(engineer, &mut changed, state.clock.now(), timeout(&state))?;
    let writes: Vec<StoredLine> = lines
        .iter()
        .zip(&changed)
        .filter(|(before, after)| before.line != **after)
        .map(|(before, after)| StoredLine {
            line: after.clone(),
            rev: before.rev,
        })
        .collect();
    state
        .store
        .save_batch_work(&stored, &next, &writes, &[], &[])
        .await?;
    let lines = batch_lines(&state, &next).await?;
    Ok(Json(batch_view(&state, &next, &lines).await?))
}

/// What happened to one work order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutcomeRequest {
    /// Done, with the quantity actually delivered (billed at the order's price version).
    Done {
        #[schema(value_type = String)]
        work_order: WorkOrderId,
        #[serde(with = "rust_decimal::serde::str")]
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
    let engineer = require_worker(&caller)?;
    if body.outcomes.len() > MAX_BATCH {
        return Err(ApiError::validation(
            "outcomes",
            format!("at most {MAX_BATCH} outcomes"),
        ));
    }
    let stored = find_batch(&state, &batch_id).await?;
    refuse_if_stale(&state, &stored).await?;
    let lines = batch_lines(&state, &stored.batch).await?;
    let plain: Vec<_> = lines.iter().map(|l| l.line.clone()).collect();
    let mut batch = stored.batch.clone();
    batch.reconcile(&plain);
    let outcomes: Vec<Outcome> = body
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
    let now = state.clock.now();
    let (next, completions) = plan_completion(
        &batch,
        engineer,
        &outcomes,
        &plain,
        now,
        state.calendar,
        timeout(&state),
    )?;
    let with_revs: Vec<(u64, _)> = completions
        .into_iter()
        .map(|c| {
            let rev = lines
                .iter()
                .find(|l| l.line.work_order == c.line.work_order)
                .map_or(0, |l| l.rev);
            (rev, c)
        })
        .collect();
    state
        .store
        .save_batch_work(&stored, &next, &[], &with_revs, &[])
        .await?;
    tracing::info!(batch = %next.id, completed = with_revs.len(), "batch work completed");
    let lines = batch_lines(&state, &next).await?;
    Ok(Json(batch_view(&state, &next, &lines).await?))
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
    let engineer = require_worker(&caller)?;
    let stored = find_batch(&state, &batch_id).await?;
    refuse_if_stale(&state, &stored).await?;
    let next = release(
        &state,
        &stored,
        Some(engineer),
        body.work_orders.as_deref(),
        state.clock.now(),
    )
    .await?;
    let lines = batch_lines(&state, &next).await?;
    Ok(Json(batch_view(&state, &next, &lines).await?))
}

/// A batch's work sheet, the same for every format: staff see every batch's sheet (as they
/// see every batch); customers and keys none.
async fn work_sheet_of(
    state: &AppState,
    caller: &Principal,
    batch_id: &str,
) -> ApiResult<WorkSheet> {
    require_worker(caller)?;
    let batch = find_batch(state, batch_id).await?.batch;
    let lines = batch_lines(state, &batch).await?;
    let names = customer_names(state, &lines).await?;
    let engineer = match state.store.user(batch.engineer).await? {
        Some(stored) => stored.user.name().as_str().to_owned(),
        None => batch.engineer.to_string(),
    };
    let rows = entry_lines(&batch, &lines)
        .map(|(entry, l)| {
            let w = work_order_view(l, names.get(&l.line.org).cloned());
            SheetRow {
                work_order: w.work_order,
                customer: w.customer.unwrap_or_default(),
                address: w.site.address,
                area: w.site.area,
                service: w.service,
                service_name: w.service_name,
                quantity: w.quantity.to_string(),
                unit: w.unit,
                unit_label: l.line.unit.short_name(Lang::Ru).to_owned(),
                requested_date: w.requested_date,
                note: w.note,
                status: wire_name(&entry),
            }
        })
        .collect();
    Ok(WorkSheet {
        batch_id: batch.id.to_string(),
        work_type: batch.work_type.to_string(),
        engineer,
        taken_at: batch.taken_at,
        rows,
    })
}

/// A file to download.
fn attachment(content_type: &'static str, file_name: String, bytes: Vec<u8>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        bytes,
    )
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
    let sheet = work_sheet_of(&state, &caller, &batch_id).await?;
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
    let sheet = work_sheet_of(&state, &caller, &batch_id).await?;
    let file_name = format!("work-sheet-{}.pdf", sheet.batch_id);
    // Tens of milliseconds of CPU for a full batch: off the async workers.
    let bytes = tokio::task::spawn_blocking(move || sheet.to_pdf())
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    Ok(attachment("application/pdf", file_name, bytes))
}
