//! The period close: its status, start, jobs, resume and preview
//! (`kopek_services::close::Closer`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use kopek_domain::close::JobStatus;
use kopek_domain::period::BillingPeriod;
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::QueryParams;
use kopek_http::state::AppState;
use kopek_services::PageKey;
use kopek_services::close::StoredJob;
use kopek_services::close::StoredPeriod;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views::DraftView;
use crate::paging::{ListQuery, Paged};
use crate::params::period_path;

/// A period's close.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// `open` (no close started), `closing` or `closed`.
    status: String,
    /// What started it: `schedule` or `admin:{user or key id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_at: Option<DateTime<Utc>>,
    /// Customers given a job so far.
    planned: u64,
    /// Jobs neither done nor skipped (failed ones included).
    remaining: u64,
    /// Jobs that issued an invoice.
    done: u64,
    /// Jobs with nothing to bill.
    skipped: u64,
    /// Jobs failed at the moment (see `GET …/jobs?status=failed`; `POST …/resume` retries them).
    failed: u64,
    /// Whether every customer has been given its job.
    planning_complete: bool,
}

impl PeriodView {
    /// A period's close as stored, or `open` when none was started.
    fn of(period: BillingPeriod, stored: Option<StoredPeriod>) -> Self {
        stored.map_or_else(|| Self::open(period), Self::from)
    }

    fn open(period: BillingPeriod) -> Self {
        Self {
            period,
            status: "open".into(),
            trigger: None,
            started_at: None,
            closed_at: None,
            planned: 0,
            remaining: 0,
            done: 0,
            skipped: 0,
            failed: 0,
            planning_complete: false,
        }
    }
}

impl From<StoredPeriod> for PeriodView {
    fn from(p: StoredPeriod) -> Self {
        Self {
            period: p.period,
            status: p.status.as_str().to_owned(),
            trigger: Some(p.trigger),
            started_at: Some(p.started_at),
            closed_at: p.closed_at,
            planned: p.planned,
            remaining: p.remaining,
            done: p.done,
            skipped: p.skipped,
            failed: p.failed,
            planning_complete: p.plan_complete,
        }
    }
}

/// The closes started so far, newest period first.
#[utoipa::path(get, path = "/v1/periods", tag = "billing", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = inline(Paged<PeriodView>)), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn list_periods(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<PeriodView>>> {
    let paging = query.paging(&state)?;
    let page = state.services.closer().list_as(&caller, paging).await?;
    Ok(Json(Paged::from_page(&state, page, PeriodView::from)))
}

/// A period's close: `open` when none has been started.
#[utoipa::path(get, path = "/v1/periods/{period}", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    responses((status = 200, body = PeriodView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn get_period(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<Json<PeriodView>> {
    let period = period_path(&state, &period)?;
    let stored = state.services.closer().status_as(&caller, period).await?;
    Ok(Json(PeriodView::of(period, stored)))
}

/// Start the close of a period that has ended: every customer's period becomes an invoice,
/// asynchronously. Periods close in order, each once.
#[utoipa::path(post, path = "/v1/periods/{period}/close", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    responses((status = 202, description = "started: the close as it is now", body = PeriodView),
        (status = 400, body = kopek_http::problem::Problem), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`close_already_started`; `invalid_state`: a later period is closed, or an earlier one is not", body = kopek_http::problem::Problem),
        (status = 422, description = "the period has not ended (`field`: `period`)", body = kopek_http::problem::Problem)))]
pub(super) async fn start_close(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let period = period_path(&state, &period)?;
    let started = state.services.closer().start_as(&caller, period).await?;
    Ok((StatusCode::ACCEPTED, Json(PeriodView::from(started))))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct JobsQuery {
    /// `pending`, `done`, `skipped` or `failed` (default: all).
    #[param(value_type = Option<String>)]
    status: Option<JobStatus>,
    /// How many items at most (1 to 100, default 50).
    limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One customer's job in a close.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    org_id: String,
    /// `pending`, `done`, `skipped` or `failed`.
    status: String,
    /// Failures so far.
    attempts: u32,
    /// The last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoice_id: Option<String>,
    /// The invoice's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<DateTime<Utc>>,
}

impl From<StoredJob> for JobView {
    fn from(j: StoredJob) -> Self {
        Self {
            org_id: j.org.to_string(),
            status: j.status.as_str().to_owned(),
            attempts: j.attempts,
            error: j.error,
            reason: j.reason,
            invoice_id: j.invoice.map(|id| id.to_string()),
            number: j.number,
            updated_at: j.updated_at,
        }
    }
}

/// The customers' jobs of a close, by customer id; failed ones with their error.
#[utoipa::path(get, path = "/v1/periods/{period}/jobs", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years"), JobsQuery),
    responses((status = 200, body = inline(Paged<JobView>)), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn list_jobs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    QueryParams(query): QueryParams<JobsQuery>,
) -> ApiResult<Json<Paged<JobView>>> {
    let period = period_path(&state, &period)?;
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .paging(&state)?;
    let page = state
        .services
        .closer()
        .jobs_as(&caller, period, query.status, paging)
        .await?;
    Ok(Json(Paged::from_page(&state, page, JobView::from)))
}

/// What a resume queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResumedView {
    /// Customers queued again (pending and failed).
    queued: usize,
    close: PeriodView,
}

/// Re-queue what a close still has to do: the rest of its planning, and every pending or
/// failed customer (each is closed at most once, whatever is queued twice).
#[utoipa::path(post, path = "/v1/periods/{period}/resume", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    responses((status = 200, body = ResumedView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 422, description = "no close of the period was started (`field`: `period`)", body = kopek_http::problem::Problem)))]
pub(super) async fn resume_close(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<Json<ResumedView>> {
    let period = period_path(&state, &period)?;
    let (queued, stored) = state.services.closer().resume_as(&caller, period).await?;
    Ok(Json(ResumedView {
        queued,
        close: PeriodView::of(period, stored),
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PreviewQuery {
    /// How many customers to compose (1 to 49, default 20): customers with nothing to bill
    /// have no invoice, so a page may hold fewer invoices.
    #[param(minimum = 1, maximum = 49)]
    limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

const DEFAULT_PREVIEW_LIMIT: u16 = 20;

/// A page of a period close's dry run.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewPage {
    /// The invoices the close would issue for this page's customers.
    items: Vec<DraftView>,
    /// This page's customers the close could not invoice, with the reason their job would
    /// fail with (fix them before closing, or expect them in the close's failed jobs).
    failures: Vec<PreviewFailure>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// A customer a dry run could not invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewFailure {
    org_id: String,
    reason: String,
}

/// A dry run of a period's close over a page of customers: every invoice the close would issue
/// for them now (status `draft`, unnumbered), and every customer it could not invoice, with
/// why. Nothing is written.
#[utoipa::path(get, path = "/v1/periods/{period}/preview", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years"), PreviewQuery),
    responses((status = 200, body = PreviewPage), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn preview(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    QueryParams(query): QueryParams<PreviewQuery>,
) -> ApiResult<Json<PreviewPage>> {
    let period = period_path(&state, &period)?;
    let limit = query.limit.unwrap_or(DEFAULT_PREVIEW_LIMIT);
    let cursor = query
        .cursor
        .as_deref()
        .map(|c| state.cursors.decode(c).map(|key| key.to_plain()))
        .transpose()?;
    let preview = state
        .services
        .closer()
        .preview_as(&caller, period, usize::from(limit), cursor.as_deref())
        .await?;
    let next_cursor = preview
        .next
        .map(|plain| PageKey::from_plain(&plain).map(|key| state.cursors.encode(&key)))
        .transpose()?;
    Ok(Json(PreviewPage {
        items: preview.drafts.iter().map(DraftView::from).collect(),
        failures: preview
            .failures
            .into_iter()
            .map(|(org, reason)| PreviewFailure {
                org_id: org.to_string(),
                reason,
            })
            .collect(),
        next_cursor,
    }))
}
