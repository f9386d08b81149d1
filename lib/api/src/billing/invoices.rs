//! Invoices and credit notes (`kopek_services::invoices::Invoices`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use kopek_domain::invoicing::{CreditRequestLine, InvoiceStatus};
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_services::invoices::{InvoiceQuery, IssueCreditNoteCommand};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::views::{CreditNoteView, InvoiceSummaryView, InvoiceView};
use crate::paging::{ListQuery, Paged};
use crate::params::{id_path, org_query, period_path, period_query};

/// An invoice status to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum StatusFilter {
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
pub(super) struct InvoicesQuery {
    /// A period (`YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` for longer periods): the invoices of one period. Staff name a period or an organisation.
    period: Option<String>,
    /// Whose invoices: staff name any organisation (its id, or `ref:` and the CRM's
    /// reference); a customer may name only its own.
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

/// Invoices: a customer's own, newest period first; staff name a period (by customer) or an
/// organisation. Each with its status today.
#[utoipa::path(get, path = "/v1/invoices", tag = "billing", security(("bearer" = [])), params(InvoicesQuery),
    responses((status = 200, body = inline(Paged<InvoiceSummaryView>)), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn list_invoices(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<InvoicesQuery>,
) -> ApiResult<Json<Paged<InvoiceSummaryView>>> {
    let org = org_query(query.org_id.as_deref())?;
    let period = query
        .period
        .as_deref()
        .map(|p| period_query(&state, Some(p)))
        .transpose()?;
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .paging(&state)?;
    let invoices = state.services.invoices();
    let page = invoices
        .list(
            &caller,
            InvoiceQuery {
                period,
                org,
                status: query.status.map(InvoiceStatus::from),
                paging,
            },
        )
        .await?;
    let today = invoices.today();
    Ok(Json(Paged::from_page(&state, page, |listed| {
        InvoiceSummaryView::of(&listed.item, listed.customer, today)
    })))
}

/// An invoice with its lines, taxes, totals, status today and credit notes.
#[utoipa::path(get, path = "/v1/invoices/{invoice_id}", tag = "billing", security(("bearer" = [])),
    params(("invoice_id" = String, Path)),
    responses((status = 200, body = InvoiceView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_invoice(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(invoice_id): Path<String>,
) -> ApiResult<Json<InvoiceView>> {
    let invoices = state.services.invoices();
    let found = invoices.get(&caller, id_path(&invoice_id)?).await?;
    Ok(Json(InvoiceView::of(&found, invoices.today())))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct OrgQuery {
    /// Whose: staff name the organisation (its id, or `ref:` and the CRM's reference); a customer may name only its own.
    org_id: Option<String>,
}

/// A customer's invoice of a period (staff name the organisation).
#[utoipa::path(get, path = "/v1/invoices/period/{period}", tag = "billing", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years"), OrgQuery),
    responses((status = 200, body = InvoiceView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 404, description = "no invoice of the period", body = kopek_http::problem::Problem)))]
pub(super) async fn invoice_of_period(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    QueryParams(query): QueryParams<OrgQuery>,
) -> ApiResult<Json<InvoiceView>> {
    let period = period_path(&state, &period)?;
    let org = org_query(query.org_id.as_deref())?;
    let invoices = state.services.invoices();
    let found = invoices.of_period(&caller, org, period).await?;
    Ok(Json(InvoiceView::of(&found, invoices.today())))
}

/// What to credit on one invoice line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditLineRequest {
    /// The invoice line's number.
    line_no: u16,
    /// How much to credit, with VAT (gross): a decimal string in whole minor units; leave it
    /// out to credit all that is left of the line.
    #[serde(default, with = "kopek_domain::wire::decimal_option")]
    #[schema(value_type = Option<String>, example = "100.00")]
    gross: Option<Decimal>,
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

/// Issue a credit note for an invoice: all that is left of it, or parts of some lines. It is
/// numbered in the credit note sequence of the invoice's series (`KPK-CN-2026-000001`) and
/// posted to the ledger; the invoice's credited amount grows by it.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/credit-notes", tag = "billing", security(("bearer" = [])),
    params(("invoice_id" = String, Path)), request_body = CreditNoteRequest,
    responses((status = 201, body = CreditNoteView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`conflict`: nothing left to credit (`invoice`), more than is left of a line (`lines[i].gross`), more than the invoice (`invoice`)", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `reason`, `lines[i].line_no`, `lines[i].gross`", body = kopek_http::problem::Problem),
        (status = 503, description = "too many concurrent credit notes; retry", body = kopek_http::problem::Problem)))]
pub(super) async fn issue_credit_note(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(invoice_id): Path<String>,
    JsonBody(body): JsonBody<CreditNoteRequest>,
) -> ApiResult<impl IntoResponse> {
    let command = IssueCreditNoteCommand {
        invoice: id_path(&invoice_id)?,
        reason: body.reason,
        lines: body
            .lines
            .iter()
            .map(|l| CreditRequestLine {
                line_no: l.line_no,
                amount: l.gross,
            })
            .collect(),
    };
    let note = state
        .services
        .invoices()
        .issue_credit_note(&caller, command)
        .await?;
    Ok((StatusCode::CREATED, Json(CreditNoteView::from(&note))))
}

/// A credit note (a customer's own, or any for staff).
#[utoipa::path(get, path = "/v1/credit-notes/{credit_note_id}", tag = "billing", security(("bearer" = [])),
    params(("credit_note_id" = String, Path)),
    responses((status = 200, body = CreditNoteView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_credit_note(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(credit_note_id): Path<String>,
) -> ApiResult<Json<CreditNoteView>> {
    let note = state
        .services
        .invoices()
        .credit_note(&caller, id_path(&credit_note_id)?)
        .await?;
    Ok(Json(CreditNoteView::from(&note)))
}
