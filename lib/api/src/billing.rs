//! The `billing-api` function: the period close (start, status, jobs, resume, preview),
//! invoices, credit notes, balances from the ledger, and the provider's billing settings.
//!
//! | route | who | what |
//! |-------|-----|------|
//! | `GET /v1/periods` | billing staff (admins, managers, accountants) | the closes, newest period first |
//! | `GET /v1/periods/{period}` | billing staff | a period's close: `open` (none started), `closing` or `closed`, with its counters |
//! | `POST /v1/periods/{period}/close` | admins | starts the close of an ended period (202) |
//! | `GET /v1/periods/{period}/jobs` | billing staff | the customers' jobs of a close, by status, with their errors |
//! | `POST /v1/periods/{period}/resume` | admins | re-queues what is pending or failed |
//! | `GET /v1/periods/{period}/preview` | billing staff | a dry run: the invoices the close would issue (writes nothing) |
//! | `GET /v1/invoices` | `invoices:read`: a customer its own, staff by period or organisation | invoices with their status today |
//! | `GET /v1/invoices/{invoice_id}` | the same | an invoice with its lines, taxes and credit notes |
//! | `GET /v1/invoices/period/{period}` | the same | a customer's invoice of a period |
//! | `POST /v1/invoices/{invoice_id}/credit-notes` | billing staff | a credit note (201) |
//! | `GET /v1/credit-notes/{credit_note_id}` | `invoices:read` | a credit note |
//! | `GET /v1/billing/balance`, `GET /v1/billing/ledger` | `invoices:read` | what a customer owes on a day, from the ledger; its entries |
//! | `GET`, `PUT /v1/billing/settings` | billing staff; admins change them | series, tax mode, zero invoices, payment terms |
//!
//! Every route needs `invoices:read` (engineers do not hold it, nor keys issued without it);
//! staff routes need a billing role on top. A customer reaches only its own organisation's
//! documents: another organisation's invoice, credit note or `org_id` is 404, exactly as an id
//! that never existed.
//!
//! **Starting a close** ([`Closer::start`]) writes the period's item once and queues its
//! planning; a second start is 409 `close_already_started` and changes nothing. Should the
//! planning message be lost after the period was written (the queue unavailable), `resume`
//! sends it again.
//!
//! **A credit note** is built whole by [`invoicing::credit_note`] from the invoice and its
//! earlier credit notes, numbered from the credit note sequence of the invoice's series and
//! the year of issue, and written in one transaction with the invoice's new credited total,
//! its ledger entry and its `credit_note_issued` event ([`Store::issue_credit_note`]); a
//! refused request writes nothing. When another document took the number, the next is taken;
//! when another credit note changed the invoice meanwhile, the note is built again from what
//! is there now — at most [`CREDIT_ATTEMPTS`] times.
//!
//! [`Store::issue_credit_note`]: kopek_aws::dynamo::Store::issue_credit_note

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use kopek_aws::dynamo::billing::{
    CreditOutcome, IssueCreditNote, Released, StoredInvoice, StoredJob, StoredPeriod,
};
use kopek_aws::dynamo::{Page, PageKey, StoreError};
use kopek_close::{CloseError, Closer, ORGS_PER_PAGE, Trigger};
use kopek_domain::accounts::{Principal, Role, Scope, Subject};
use kopek_domain::calendar::Calendar;
use kopek_domain::catalog::{LocalizedText, ServiceCode, UnitOfMeasure};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::close::JobStatus;
use kopek_domain::ids::{CreditNoteId, EntryId, InvoiceId, OrgId};
use kopek_domain::invoicing::{
    self, BillingSettings, CreditNote, CreditRequestLine, DocumentKind, Invoice, InvoiceDraft,
    InvoiceLine, InvoiceNumber, InvoiceSeries, InvoiceStatus, InvoicingError, LineSource, TaxMode,
    TaxSummary, ZeroInvoicePolicy,
};
use kopek_domain::ledger::{self, Account, DocumentRef, Entry, LedgerError, Posting};
use kopek_domain::money::{Currency, Money};
use kopek_domain::payments;
use kopek_domain::period::BillingPeriod;
use kopek_domain::pricing::QuoteLine;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::orders::{actor, org_param, parse_period, period_param};
use crate::paging::{ListQuery, Paged};

/// How often issuing a credit note takes the next number or rebuilds the note after the
/// invoice changed, before it answers 503.
pub const CREDIT_ATTEMPTS: usize = 20;
/// The longest payment terms the settings take, in days.
pub use kopek_domain::accounts::MAX_PAYMENT_TERMS_DAYS;
/// Store pages read at most to fill one page of a filtered invoice listing.
const FILTER_READS: usize = 10;

/// The staff roles that handle billing.
const BILLING_STAFF: &[Role] = &[Role::Admin, Role::Manager, Role::Accountant];

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_periods))
        .routes(routes!(get_period))
        .routes(routes!(start_close))
        .routes(routes!(list_jobs))
        .routes(routes!(resume_close))
        .routes(routes!(preview))
        .routes(routes!(list_invoices))
        .routes(routes!(get_invoice))
        .routes(routes!(invoice_of_period))
        .routes(routes!(issue_credit_note))
        .routes(routes!(get_credit_note))
        .routes(routes!(balance))
        .routes(routes!(ledger_entries))
        .routes(routes!(get_settings, put_settings))
        .merge(crate::payments::routes())
}

// ---------------------------------------------------------------------------------------
// Access, parameters, errors

/// Billing staff: `invoices:read` and one of [`BILLING_STAFF`].
fn require_billing_staff(caller: &Principal) -> ApiResult<()> {
    caller.require_role(BILLING_STAFF)?;
    caller.require_scope(Scope::InvoicesRead)?;
    Ok(())
}

/// Admins with `invoices:read`.
fn require_admin(caller: &Principal) -> ApiResult<()> {
    caller.require_role(&[Role::Admin])?;
    caller.require_scope(Scope::InvoicesRead)?;
    Ok(())
}

/// A period in a path: one of the provider's periods, else 400 naming `period`.
fn period_path(state: &AppState, text: &str) -> ApiResult<BillingPeriod> {
    parse_period(state, text, "invalid_path")
}

/// The period close over this function's store and close queue.
fn closer(state: &AppState) -> ApiResult<Closer> {
    let queue = state.close_queue.clone().ok_or_else(|| {
        ApiError::internal(&"this function has no close queue (KOPEK_CLOSE_QUEUE_URL)")
    })?;
    let default_series = InvoiceSeries::new(&state.invoice_series)
        .map_err(|e| ApiError::internal(&format!("KOPEK_INVOICE_SERIES: {e}")))?;
    Ok(Closer {
        store: state.store.clone(),
        queue,
        clock: state.clock.clone(),
        seal_wait: state.close_seal_wait,
        default_series,
        calendar: state.calendar,
    })
}

/// An invoicing refusal: 422 naming the field (invalid) or 409 naming it (conflict).
pub(crate) fn invoicing_error(e: InvoicingError) -> ApiError {
    match e {
        InvoicingError::Invalid { field, reason } => ApiError::validation(field, reason),
        InvoicingError::Conflict { field, reason } => {
            ApiError::conflict("conflict", reason).with_field(field)
        }
        InvoicingError::Money(e) => e.into(),
    }
}

/// A close refusal: 422 naming the field (the period has not ended, …), 409 (out of order).
fn close_error(e: CloseError) -> ApiError {
    match e {
        CloseError::Invalid { field, reason } => ApiError::validation(field, reason),
        CloseError::Conflict(reason) => {
            ApiError::conflict("invalid_state", reason).with_field("period")
        }
        CloseError::Invoicing(e) => invoicing_error(e),
        CloseError::Ledger(e) => ApiError::internal(&e),
        CloseError::Usage(e) => ApiError::internal(&e),
        CloseError::Store(e) => e.into(),
    }
}

/// An amount in its currency's minor units, as a decimal string (`"1500.00"`).
pub(crate) fn amount(money: Money) -> String {
    let mut value = money.amount();
    value.rescale(money.currency().minor_units().max(value.scale()));
    value.to_string()
}

fn decimal(value: Decimal) -> String {
    value.normalize().to_string()
}

// ---------------------------------------------------------------------------------------
// The close

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
async fn list_periods(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<PeriodView>>> {
    require_billing_staff(&caller)?;
    let (limit, start) = query.parse(&state)?;
    let page = state.store.list_periods(limit, start).await?;
    Ok(Json(Paged::from_page(&state, page, PeriodView::from)))
}

/// A period's close: `open` when none has been started.
#[utoipa::path(get, path = "/v1/periods/{period}", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    responses((status = 200, body = PeriodView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem)))]
async fn get_period(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<Json<PeriodView>> {
    require_billing_staff(&caller)?;
    let period = period_path(&state, &period)?;
    let view = match state.store.period(period).await? {
        Some(stored) => stored.into(),
        None => PeriodView::open(period),
    };
    Ok(Json(view))
}

/// Start the close of a period that has ended: every customer's period becomes an invoice,
/// asynchronously. Periods close in order, each once.
#[utoipa::path(post, path = "/v1/periods/{period}/close", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    responses((status = 202, description = "started: the close as it is now", body = PeriodView),
        (status = 400, body = kopek_http::problem::Problem), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`close_already_started`; `invalid_state`: a later period is closed, or an earlier one is not", body = kopek_http::problem::Problem),
        (status = 422, description = "the period has not ended (`field`: `period`)", body = kopek_http::problem::Problem)))]
async fn start_close(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<impl IntoResponse> {
    require_admin(&caller)?;
    let period = period_path(&state, &period)?;
    let who = match caller.subject() {
        Subject::User(id) => id.to_string(),
        Subject::ApiKey(id) => id.to_string(),
    };
    let started = closer(&state)?
        .start(period, Trigger::Admin(who))
        .await
        .map_err(close_error)?;
    if !started.started {
        return Err(ApiError::conflict(
            "close_already_started",
            format!(
                "the close of {period} was started at {} and is {}",
                started.period.started_at,
                started.period.status.as_str()
            ),
        )
        .with_field("period"));
    }
    Ok((StatusCode::ACCEPTED, Json(PeriodView::from(started.period))))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobsQuery {
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
async fn list_jobs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    QueryParams(query): QueryParams<JobsQuery>,
) -> ApiResult<Json<Paged<JobView>>> {
    require_billing_staff(&caller)?;
    let period = period_path(&state, &period)?;
    let (limit, start) = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse(&state)?;
    let page = state
        .store
        .list_jobs(period, query.status, limit, start)
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
async fn resume_close(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<Json<ResumedView>> {
    require_admin(&caller)?;
    let period = period_path(&state, &period)?;
    let queued = closer(&state)?.resume(period).await.map_err(close_error)?;
    let close = match state.store.period(period).await? {
        Some(stored) => stored.into(),
        None => PeriodView::open(period),
    };
    tracing::info!(%period, queued, "period close resumed");
    Ok(Json(ResumedView { queued, close }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
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
async fn preview(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    QueryParams(query): QueryParams<PreviewQuery>,
) -> ApiResult<Json<PreviewPage>> {
    require_billing_staff(&caller)?;
    let period = period_path(&state, &period)?;
    let limit = query.limit.unwrap_or(DEFAULT_PREVIEW_LIMIT);
    if !(1..=ORGS_PER_PAGE).contains(&usize::from(limit)) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {ORGS_PER_PAGE}"),
        )
        .with_field("limit"));
    }
    let cursor = query
        .cursor
        .as_deref()
        .map(|c| state.cursors.decode(c).map(|key| key.to_plain()))
        .transpose()?;
    let preview = closer(&state)?
        .preview(period, usize::from(limit), cursor.as_deref())
        .await
        .map_err(close_error)?;
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

// ---------------------------------------------------------------------------------------
// Documents: the views

/// One line of an invoice or a credit note. Amounts are decimal strings in the document's
/// currency (negative on a credit note).
#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    /// 1-based; a credit note's line has the number of the invoice line it corrects.
    no: u16,
    /// What the line bills: `{"type": "subscription", …}`, `{"type": "charge", "charge": …}`
    /// or `{"type": "usage", "events": …, "late_events": …}`.
    #[schema(value_type = Object)]
    source: LineSource,
    #[schema(value_type = String)]
    service: ServiceCode,
    #[schema(value_type = Object)]
    description: LocalizedText,
    quantity: String,
    #[schema(value_type = String)]
    unit: UnitOfMeasure,
    /// The price of one unit, when one price applies to the whole quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_price: Option<String>,
    /// The priced steps of a tiered or usage line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    tiers: Vec<QuoteLine>,
    price_version: u32,
    /// The days the line covers.
    from: NaiveDate,
    until_exclusive: NaiveDate,
    /// `"exempt"` or the percentage.
    tax_rate: String,
    /// As priced (net when prices exclude tax, gross when they include it).
    amount: String,
    net: String,
    tax: String,
    gross: String,
}

impl From<&InvoiceLine> for LineView {
    fn from(l: &InvoiceLine) -> Self {
        Self {
            no: l.no,
            source: l.source.clone(),
            service: l.service.clone(),
            description: l.description.clone(),
            quantity: decimal(l.quantity),
            unit: l.unit,
            unit_price: l.unit_price.map(decimal),
            tiers: l.tiers.clone(),
            price_version: l.price_version,
            from: l.from,
            until_exclusive: l.until_exclusive,
            tax_rate: l.tax_rate.to_string(),
            amount: amount(l.amount),
            net: amount(l.net),
            tax: amount(l.tax),
            gross: amount(l.gross),
        }
    }
}

/// The totals of one tax rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxSummaryView {
    /// `"exempt"` or the percentage.
    rate: String,
    net: String,
    tax: String,
    gross: String,
}

impl From<&TaxSummary> for TaxSummaryView {
    fn from(t: &TaxSummary) -> Self {
        Self {
            rate: t.rate.to_string(),
            net: amount(t.net),
            tax: amount(t.tax),
            gross: amount(t.gross),
        }
    }
}

/// An invoice the close would issue: not numbered, not written.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    org_id: String,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// Always `draft`.
    #[schema(value_type = String)]
    status: InvoiceStatus,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// `exclusive` (prices are net) or `inclusive` (prices include tax).
    #[schema(value_type = String)]
    tax_mode: TaxMode,
    lines: Vec<LineView>,
    /// Per tax rate: exempt first, then by increasing rate.
    taxes: Vec<TaxSummaryView>,
    net: String,
    tax: String,
    gross: String,
}

impl From<&InvoiceDraft> for DraftView {
    fn from(d: &InvoiceDraft) -> Self {
        Self {
            org_id: d.org.to_string(),
            period: d.period,
            status: InvoiceStatus::Draft,
            currency: d.currency,
            tax_mode: d.tax_mode,
            lines: d.lines.iter().map(LineView::from).collect(),
            taxes: d.taxes.iter().map(TaxSummaryView::from).collect(),
            net: amount(d.net),
            tax: amount(d.tax),
            gross: amount(d.gross),
        }
    }
}

/// An issued invoice, without its lines (as listed).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceSummaryView {
    id: String,
    #[schema(example = "KPK-2026-000042")]
    number: String,
    org_id: String,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// Today: `issued`, `partly_paid`, `paid`, `overdue` or `void` (credited in full).
    #[schema(value_type = String)]
    status: InvoiceStatus,
    issued_on: NaiveDate,
    due_on: NaiveDate,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    net: String,
    tax: String,
    gross: String,
    /// Credited by credit notes so far (gross).
    credited: String,
    paid: String,
    /// Left to pay: gross − credited − paid, never below zero.
    open: String,
}

impl InvoiceSummaryView {
    fn of(invoice: &Invoice, today: NaiveDate) -> Self {
        let d = &invoice.draft;
        Self {
            id: invoice.id.to_string(),
            number: invoice.number.to_string(),
            org_id: d.org.to_string(),
            period: d.period,
            status: invoice.status_on(today),
            issued_on: invoice.issued_on,
            due_on: invoice.due_on,
            currency: d.currency,
            net: amount(d.net),
            tax: amount(d.tax),
            gross: amount(d.gross),
            credited: amount(invoice.credited),
            paid: amount(invoice.paid),
            open: amount(invoice.open_amount()),
        }
    }
}

/// A credit note of an invoice, in short.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditNoteRefView {
    id: String,
    #[schema(example = "KPK-CN-2026-000007")]
    number: String,
    issued_on: NaiveDate,
    /// Negative: what it took back.
    gross: String,
}

/// An issued invoice with its lines, taxes and credit notes.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    #[serde(flatten)]
    summary: InvoiceSummaryView,
    #[schema(value_type = String)]
    tax_mode: TaxMode,
    lines: Vec<LineView>,
    taxes: Vec<TaxSummaryView>,
    /// Oldest first.
    credit_notes: Vec<CreditNoteRefView>,
}

impl InvoiceView {
    fn of(invoice: &Invoice, notes: &[CreditNote], today: NaiveDate) -> Self {
        Self {
            summary: InvoiceSummaryView::of(invoice, today),
            tax_mode: invoice.draft.tax_mode,
            lines: invoice.draft.lines.iter().map(LineView::from).collect(),
            taxes: invoice
                .draft
                .taxes
                .iter()
                .map(TaxSummaryView::from)
                .collect(),
            credit_notes: notes
                .iter()
                .map(|n| CreditNoteRefView {
                    id: n.id.to_string(),
                    number: n.number.to_string(),
                    issued_on: n.issued_on,
                    gross: amount(n.gross),
                })
                .collect(),
        }
    }
}

/// A credit note: what it takes back from which lines of one invoice (negative amounts).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditNoteView {
    id: String,
    #[schema(example = "KPK-CN-2026-000007")]
    number: String,
    invoice_id: String,
    invoice_number: String,
    org_id: String,
    issued_on: NaiveDate,
    reason: String,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    lines: Vec<LineView>,
    net: String,
    tax: String,
    gross: String,
}

impl From<&CreditNote> for CreditNoteView {
    fn from(n: &CreditNote) -> Self {
        Self {
            id: n.id.to_string(),
            number: n.number.to_string(),
            invoice_id: n.invoice.to_string(),
            invoice_number: n.invoice_number.to_string(),
            org_id: n.org.to_string(),
            issued_on: n.issued_on,
            reason: n.reason.clone(),
            currency: n.gross.currency(),
            lines: n.lines.iter().map(LineView::from).collect(),
            net: amount(n.net),
            tax: amount(n.tax),
            gross: amount(n.gross),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Invoices

/// An invoice status to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StatusFilter {
    Issued,
    PartlyPaid,
    Paid,
    Overdue,
    Void,
}

impl From<StatusFilter> for InvoiceStatus {
    fn from(s: StatusFilter) -> Self {
        match s {
            StatusFilter::Issued => InvoiceStatus::Issued,
            StatusFilter::PartlyPaid => InvoiceStatus::PartlyPaid,
            StatusFilter::Paid => InvoiceStatus::Paid,
            StatusFilter::Overdue => InvoiceStatus::Overdue,
            StatusFilter::Void => InvoiceStatus::Void,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InvoicesQuery {
    /// A period (`YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` for longer periods): the invoices of one period. Staff name a period or an organisation.
    period: Option<String>,
    /// Whose invoices: staff name any organisation; a customer may name only its own.
    org_id: Option<String>,
    /// `issued`, `partly_paid`, `paid`, `overdue` or `void`, as of today.
    #[param(value_type = Option<String>)]
    status: Option<StatusFilter>,
    /// How many items at most (1 to 100, default 50). With `status`, a page may hold fewer
    /// and still have a next one.
    limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Reads pages of `fetch` from `start` until `limit` invoices kept by `keep` are found or
/// [`FILTER_READS`] pages were read; the next cursor resumes after the last invoice read.
async fn filtered<F, Fut>(
    limit: i32,
    mut start: Option<PageKey>,
    fetch: F,
    keep: impl Fn(&StoredInvoice) -> bool,
) -> Result<Page<StoredInvoice>, StoreError>
where
    F: Fn(i32, Option<PageKey>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<StoredInvoice>, StoreError>>,
{
    let mut items = Vec::new();
    for _ in 0..FILTER_READS {
        let wanted = limit.saturating_sub(i32::try_from(items.len()).unwrap_or(limit));
        let page = fetch(wanted, start).await?;
        items.extend(page.items.into_iter().filter(&keep));
        start = page.next;
        if start.is_none() || items.len() >= usize::try_from(limit).unwrap_or(0) {
            break;
        }
    }
    Ok(Page { items, next: start })
}

/// Invoices: a customer's own, newest period first; staff name a period (by customer) or an
/// organisation. Each with its status today.
#[utoipa::path(get, path = "/v1/invoices", tag = "billing", security(("bearer" = [])), params(InvoicesQuery),
    responses((status = 200, body = inline(Paged<InvoiceSummaryView>)), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
async fn list_invoices(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<InvoicesQuery>,
) -> ApiResult<Json<Paged<InvoiceSummaryView>>> {
    caller.require_scope(Scope::InvoicesRead)?;
    let org = match (caller.org(), query.org_id.as_deref()) {
        (None, None) => None,
        (_, org_id) => Some(org_param(&caller, org_id)?),
    };
    let period = query
        .period
        .as_deref()
        .map(|p| period_param(&state, Some(p)))
        .transpose()?;
    let (limit, start) = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse(&state)?;
    let today = state.today();
    let wanted = query.status.map(InvoiceStatus::from);
    let keep = |s: &StoredInvoice| wanted.is_none_or(|w| s.invoice.status_on(today) == w);
    let store = &state.store;
    let page = match (org, period) {
        (Some(org), Some(period)) => Page {
            items: store
                .invoice_of(org, period)
                .await?
                .into_iter()
                .filter(keep)
                .collect(),
            next: None,
        },
        (Some(org), None) => {
            filtered(
                limit,
                start,
                |limit, start| store.list_invoices_of_org(org, limit, start),
                keep,
            )
            .await?
        }
        (None, Some(period)) => {
            filtered(
                limit,
                start,
                |limit, start| store.list_invoices_of_period(period, limit, start),
                keep,
            )
            .await?
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "staff name a period or an organisation (org_id)",
            )
            .with_field("period"));
        }
    };
    Ok(Json(Paged::from_page(&state, page, |s| {
        InvoiceSummaryView::of(&s.invoice, today)
    })))
}

/// An invoice the caller may see: its own organisation's, or any for staff; anything else,
/// malformed ids included, is 404.
async fn visible_invoice(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> ApiResult<StoredInvoice> {
    caller.require_scope(Scope::InvoicesRead)?;
    let id: InvoiceId = id.parse().map_err(|_| ApiError::not_found())?;
    let stored = state
        .store
        .invoice_by_id(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    caller.can_access_org(stored.invoice.draft.org)?;
    Ok(stored)
}

async fn invoice_view(state: &AppState, stored: &StoredInvoice) -> ApiResult<InvoiceView> {
    let invoice = &stored.invoice;
    let notes = state
        .store
        .credit_notes_of_invoice(invoice.draft.org, invoice.id)
        .await?;
    Ok(InvoiceView::of(invoice, &notes, state.today()))
}

/// An invoice with its lines, taxes, totals, status today and credit notes.
#[utoipa::path(get, path = "/v1/invoices/{invoice_id}", tag = "billing", security(("bearer" = [])),
    params(("invoice_id" = String, Path)),
    responses((status = 200, body = InvoiceView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
async fn get_invoice(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(invoice_id): Path<String>,
) -> ApiResult<Json<InvoiceView>> {
    let stored = visible_invoice(&state, &caller, &invoice_id).await?;
    Ok(Json(invoice_view(&state, &stored).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct OrgQuery {
    /// Whose: staff name the organisation; a customer may name only its own.
    org_id: Option<String>,
}

/// A customer's invoice of a period (staff name the organisation).
#[utoipa::path(get, path = "/v1/invoices/period/{period}", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years"), OrgQuery),
    responses((status = 200, body = InvoiceView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 404, description = "no invoice of the period", body = kopek_http::problem::Problem)))]
async fn invoice_of_period(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    QueryParams(query): QueryParams<OrgQuery>,
) -> ApiResult<Json<InvoiceView>> {
    caller.require_scope(Scope::InvoicesRead)?;
    let period = period_path(&state, &period)?;
    let org = org_param(&caller, query.org_id.as_deref())?;
    let stored = state
        .store
        .invoice_of(org, period)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(invoice_view(&state, &stored).await?))
}

// ---------------------------------------------------------------------------------------
// Credit notes

/// What to credit on one invoice line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditLineRequest {
    /// The invoice line's number.
    line_no: u16,
    /// The gross amount to credit, a decimal string in whole minor units; leave it out to
    /// credit all that is left of the line.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>, example = "100.00")]
    amount: Option<Decimal>,
}

/// A credit note to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditNoteRequest {
    /// Why (1–500 characters), printed on the note.
    #[schema(example = "Работы выполнены не полностью")]
    reason: String,
    /// The lines to credit; none (or absent) credits everything left on the invoice.
    #[serde(default)]
    lines: Vec<CreditLineRequest>,
}

fn ledger_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::Empty => ApiError::conflict(
            "conflict",
            "the lines chosen add up to nothing: the credit note would move no amount",
        )
        .with_field("lines"),
        other => ApiError::internal(&other),
    }
}

/// Issue a credit note for an invoice: all that is left of it, or parts of some lines. It is
/// numbered in the credit note sequence of the invoice's series (`KPK-CN-2026-000001`) and
/// posted to the ledger; the invoice's credited amount grows by it.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/credit-notes", tag = "billing", security(("bearer" = [])),
    params(("invoice_id" = String, Path)), request_body = CreditNoteRequest,
    responses((status = 201, body = CreditNoteView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`conflict`: nothing left to credit (`invoice`), more than is left of a line (`lines[i].amount`), more than the invoice (`invoice`)", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `reason`, `lines[i].line_no`, `lines[i].amount`", body = kopek_http::problem::Problem),
        (status = 503, description = "too many concurrent credit notes; retry", body = kopek_http::problem::Problem)))]
async fn issue_credit_note(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(invoice_id): Path<String>,
    JsonBody(body): JsonBody<CreditNoteRequest>,
) -> ApiResult<impl IntoResponse> {
    require_billing_staff(&caller)?;
    let mut stored = visible_invoice(&state, &caller, &invoice_id).await?;
    let (org, invoice) = (stored.invoice.draft.org, stored.invoice.id);
    let request: Vec<CreditRequestLine> = body
        .lines
        .iter()
        .map(|l| CreditRequestLine {
            line_no: l.line_no,
            amount: l.amount,
        })
        .collect();
    let store = &state.store;
    let issued_on = state.today();
    let series = stored.invoice.number.series.clone();
    let (id, entry_id) = (CreditNoteId::new(), EntryId::new());
    let mut earlier = store.credit_notes_of_invoice(org, invoice).await?;
    for _ in 0..CREDIT_ATTEMPTS {
        let last = store
            .sequence_last(&series, DocumentKind::CreditNote, issued_on.year())
            .await?;
        let number = InvoiceNumber::new(
            series.clone(),
            DocumentKind::CreditNote,
            issued_on.year(),
            last + 1,
        )
        .map_err(invoicing_error)?;
        let note = invoicing::credit_note(
            &stored.invoice,
            &earlier,
            &request,
            &body.reason,
            id,
            number,
            issued_on,
        )
        .map_err(invoicing_error)?;
        let entry = ledger::for_credit_note(&note, entry_id).map_err(ledger_error)?;
        let mut credited = stored.invoice.clone();
        credited
            .record_credit_note(&note)
            .map_err(invoicing_error)?;
        // On a paid invoice, what it no longer owes goes back to the customer as credit.
        let released = payments::release_by_credit(&mut credited)?;
        let credit = if released.is_zero() {
            None
        } else {
            let credit = store.credit(org, credited.draft.currency).await?;
            let after = credit.amount.checked_add(released)?;
            Some((credited.paid, credit, after))
        };
        let event = DomainEvent::new(
            org,
            actor(&caller),
            state.clock.now(),
            EventKind::CreditNoteIssued {
                credit_note: note.id,
                number: note.number.to_string(),
                invoice,
                gross: note.gross,
            },
        );
        match store
            .issue_credit_note(IssueCreditNote {
                note: &note,
                invoice: &stored,
                new_credited: credited.credited,
                entry: &entry,
                event: &event,
                released: credit.as_ref().map(|(paid, read, after)| Released {
                    paid: *paid,
                    credit: read,
                    credit_after: *after,
                }),
            })
            .await?
        {
            CreditOutcome::Issued => {
                tracing::info!(%org, %invoice, credit_note = %note.id, number = %note.number, "credit note issued");
                return Ok((StatusCode::CREATED, Json(CreditNoteView::from(&note))));
            }
            CreditOutcome::NumberTaken => {}
            CreditOutcome::InvoiceChanged => {
                stored = store
                    .invoice_by_id(invoice)
                    .await?
                    .ok_or_else(ApiError::not_found)?;
                earlier = store.credit_notes_of_invoice(org, invoice).await?;
            }
        }
    }
    tracing::warn!(%org, %invoice, "no credit note number could be taken");
    Err(ApiError::unavailable())
}

/// A credit note (a customer's own, or any for staff).
#[utoipa::path(get, path = "/v1/credit-notes/{credit_note_id}", tag = "billing", security(("bearer" = [])),
    params(("credit_note_id" = String, Path)),
    responses((status = 200, body = CreditNoteView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
async fn get_credit_note(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(credit_note_id): Path<String>,
) -> ApiResult<Json<CreditNoteView>> {
    caller.require_scope(Scope::InvoicesRead)?;
    let id: CreditNoteId = credit_note_id.parse().map_err(|_| ApiError::not_found())?;
    let note = state
        .store
        .credit_note_by_id(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    caller.can_access_org(note.org)?;
    Ok(Json(CreditNoteView::from(&note)))
}

// ---------------------------------------------------------------------------------------
// Balances and the ledger

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct BalanceQuery {
    /// Whose: staff name the organisation; a customer may name only its own.
    org_id: Option<String>,
    /// `YYYY-MM-DD`: the balance at the end of that day (default: today).
    #[param(value_type = Option<String>, format = Date)]
    on: Option<NaiveDate>,
}

/// What a customer owes on a day, from the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    org_id: String,
    on: NaiveDate,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// Positive: the customer owes it; negative: the provider owes the customer (a credit).
    balance: String,
    /// The ledger entries booked on or before `on`.
    entries: usize,
    /// Now (whatever `on` says): credit from payments and credit notes that no invoice has
    /// drawn down yet; the next invoices will.
    credit: String,
}

/// The organisation a balance or ledger read is about, its currency and its entries.
async fn ledger_of(
    state: &AppState,
    caller: &Principal,
    org_id: Option<&str>,
) -> ApiResult<(OrgId, Currency, Vec<Entry>)> {
    caller.require_scope(Scope::InvoicesRead)?;
    let org = org_param(caller, org_id)?;
    let organisation = state
        .store
        .organisation(org)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let entries = state.store.ledger_entries::<Entry>(org).await?;
    Ok((org, organisation.currency, entries))
}

/// A customer's balance on a day (what it owes: invoices less credit notes and payments),
/// with the number of entries it sums, and its credit not yet drawn down.
#[utoipa::path(get, path = "/v1/billing/balance", tag = "billing", security(("bearer" = [])), params(BalanceQuery),
    responses((status = 200, body = BalanceView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
async fn balance(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<BalanceQuery>,
) -> ApiResult<Json<BalanceView>> {
    let (org, currency, entries) = ledger_of(&state, &caller, query.org_id.as_deref()).await?;
    let on = query.on.unwrap_or_else(|| state.today());
    let balance = ledger::customer_balance(&entries, org, on, currency)
        .map_err(|e| ApiError::internal(&e))?;
    let credit = state.store.credit(org, currency).await?;
    Ok(Json(BalanceView {
        org_id: org.to_string(),
        on,
        currency,
        balance: amount(balance),
        entries: entries.iter().filter(|e| e.on() <= on).count(),
        credit: amount(credit.amount),
    }))
}

/// One posting of a ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostingView {
    /// `receivable` (the customer's), `revenue`, `tax_payable` or `cash`.
    #[schema(value_type = String)]
    account: Account,
    debit: String,
    credit: String,
}

impl From<&Posting> for PostingView {
    fn from(p: &Posting) -> Self {
        Self {
            account: p.account,
            debit: amount(p.debit),
            credit: amount(p.credit),
        }
    }
}

/// A balanced ledger entry: the postings of one document.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    id: String,
    /// The day it is booked on (the document's issue date).
    on: NaiveDate,
    /// `{"type": "invoice", "invoice": …, "number": …}`, `{"type": "credit_note", …}` or
    /// `{"type": "payment", "payment": …, "reference": …}`.
    #[schema(value_type = Object)]
    document: DocumentRef,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    postings: Vec<PostingView>,
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> Self {
        Self {
            id: e.id().to_string(),
            on: e.on(),
            document: e.document().clone(),
            currency: e.currency(),
            postings: e.postings().iter().map(PostingView::from).collect(),
        }
    }
}

/// A customer's ledger entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerView {
    org_id: String,
    /// By date, then id.
    items: Vec<EntryView>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LedgerQuery {
    /// Whose: staff name the organisation; a customer may name only its own.
    org_id: Option<String>,
}

/// A customer's ledger entries, oldest first.
#[utoipa::path(get, path = "/v1/billing/ledger", tag = "billing", security(("bearer" = [])), params(LedgerQuery),
    responses((status = 200, body = LedgerView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
async fn ledger_entries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<LedgerQuery>,
) -> ApiResult<Json<LedgerView>> {
    let (org, _, entries) = ledger_of(&state, &caller, query.org_id.as_deref()).await?;
    Ok(Json(LedgerView {
        org_id: org.to_string(),
        items: entries.iter().map(EntryView::from).collect(),
    }))
}

// ---------------------------------------------------------------------------------------
// Settings

/// The provider's billing settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    /// The legal entity code every number starts with.
    #[schema(example = "KPK")]
    series: String,
    /// `exclusive` (prices are net) or `inclusive` (prices include tax).
    #[schema(value_type = String)]
    tax_mode: TaxMode,
    /// `skip` (no invoice for a period that costs nothing) or `issue` (an invoice of zero).
    #[schema(value_type = String)]
    zero_invoices: ZeroInvoicePolicy,
    /// Days from the issue date to the due date.
    payment_terms_days: u16,
    /// The revision to send with a change; 0 while the defaults apply (never saved).
    rev: u64,
    /// Read-only: the provider's time zone, the deployment's `ProviderTimeZone`. Billing
    /// periods are counted in its calendar and the scheduled close runs at 00:05 on the 1st
    /// after each period in it.
    #[schema(example = "Europe/Moscow")]
    time_zone: String,
    /// Read-only: how many months a billing period has (1, 3, 6 or 12), the deployment's
    /// `BillingPeriodMonths`. Recurring prices are prices of one period.
    #[schema(example = 1)]
    period_months: u32,
}

impl SettingsView {
    fn of(settings: BillingSettings, rev: u64, calendar: Calendar) -> Self {
        Self {
            series: settings.series.as_str().to_owned(),
            tax_mode: settings.tax_mode,
            zero_invoices: settings.zero_invoices,
            payment_terms_days: settings.payment_terms_days,
            rev,
            time_zone: calendar.to_string(),
            period_months: calendar.period_length().months(),
        }
    }
}

/// New billing settings, replacing the old whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    /// 2–8 capital letters or digits, starting with a letter.
    #[schema(example = "KPK")]
    series: String,
    /// `exclusive` or `inclusive`.
    #[schema(value_type = String, example = "exclusive")]
    tax_mode: TaxMode,
    /// `skip` or `issue`.
    #[schema(value_type = String, example = "skip")]
    zero_invoices: ZeroInvoicePolicy,
    /// 0 to 365.
    #[schema(example = 14)]
    payment_terms_days: u16,
    /// The `rev` read (0 or absent while never saved): the change is refused if they were
    /// changed meanwhile.
    rev: Option<u64>,
}

/// The billing settings in force (the defaults until saved).
#[utoipa::path(get, path = "/v1/billing/settings", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 403, body = kopek_http::problem::Problem)))]
async fn get_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<SettingsView>> {
    require_billing_staff(&caller)?;
    let rev = state
        .store
        .billing_settings()
        .await?
        .map_or(0, |saved| saved.rev);
    let settings = closer(&state)?.settings().await?;
    Ok(Json(SettingsView::of(settings, rev, state.calendar)))
}

/// Change the billing settings; later closes and credit notes use them.
#[utoipa::path(put, path = "/v1/billing/settings", tag = "billing", security(("bearer" = [])), request_body = SettingsRequest,
    responses((status = 200, body = SettingsView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "changed meanwhile (`field`: `rev`): read them again", body = kopek_http::problem::Problem),
        (status = 422, body = kopek_http::problem::Problem)))]
async fn put_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<SettingsRequest>,
) -> ApiResult<Json<SettingsView>> {
    require_admin(&caller)?;
    let series = InvoiceSeries::new(&body.series).map_err(invoicing_error)?;
    if body.payment_terms_days > MAX_PAYMENT_TERMS_DAYS {
        return Err(ApiError::validation(
            "payment_terms_days",
            format!("must be from 0 to {MAX_PAYMENT_TERMS_DAYS} days"),
        ));
    }
    let settings = BillingSettings {
        series,
        tax_mode: body.tax_mode,
        zero_invoices: body.zero_invoices,
        payment_terms_days: body.payment_terms_days,
    };
    let expected = body.rev.filter(|rev| *rev > 0);
    let rev = state
        .store
        .put_billing_settings(&settings, expected)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(what) => ApiError::conflict("conflict", what).with_field("rev"),
            other => other.into(),
        })?;
    tracing::info!(rev, "billing settings saved");
    Ok(Json(SettingsView::of(settings, rev, state.calendar)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn amounts_show_the_currencys_minor_units() {
        let money = |s: &str| Money::new(s.parse::<Decimal>().unwrap(), Currency::RUB);
        assert_eq!(amount(money("1500")), "1500.00");
        assert_eq!(amount(money("-12.5")), "-12.50");
        assert_eq!(amount(money("0.01")), "0.01");
    }

    #[test]
    fn refusals_name_their_field() {
        let err = invoicing_error(InvoicingError::invalid("lines[2].line_no", "no such line"));
        assert_eq!(
            (err.status.as_u16(), err.field.as_deref()),
            (422, Some("lines[2].line_no"))
        );
        let err = invoicing_error(InvoicingError::conflict("invoice", "nothing left"));
        assert_eq!(
            (err.status.as_u16(), err.field.as_deref()),
            (409, Some("invoice"))
        );
        let err = close_error(CloseError::Invalid {
            field: "period".into(),
            reason: "not ended".into(),
        });
        assert_eq!(
            (err.status.as_u16(), err.field.as_deref()),
            (422, Some("period"))
        );
        let err = close_error(CloseError::Conflict("close 2026-10 first".into()));
        assert_eq!(err.status.as_u16(), 409);
    }
}
