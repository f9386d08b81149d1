//! Reports as PDF (`kopek_services::documents::Documents`): a customer's reconciliation
//! statement («Акт сверки взаимных расчётов») or statement of account for a date range,
//! asked for here, made by the documents function, downloaded through five-minute links and
//! signed by a manager with the provider's key. The rules are in
//! `kopek_services::documents` (reports) and `kopek_domain::documents::report`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::accounts::DocumentLanguage;
use kopek_domain::documents::reconciliation::ReportKind;
use kopek_domain::documents::report::{ReportFile, ReportStatus};
use kopek_domain::orders::UserOrKey;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use kopek_services::documents::ReportWithLinks;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::documents::DownloadView;
use crate::paging::{ListQuery, Paged};
use crate::params::{id_path, org_query};

/// A report to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// `reconciliation` (the two-sided «Акт сверки взаимных расчётов») or
    /// `account_statement` (the statement of account, every document with a running
    /// balance).
    #[schema(example = "reconciliation")]
    kind: String,
    /// Whose: staff name the organisation (its id, or `ref:` and the CRM's reference); a customer may name only its own (or none).
    #[serde(default)]
    org_id: Option<String>,
    /// The first day it covers.
    #[serde(with = "kopek_domain::wire::date")]
    #[schema(value_type = String, format = Date, example = "2026-11-01")]
    from: NaiveDate,
    /// The last day it covers, inclusive (at most ten years after `from`).
    #[serde(with = "kopek_domain::wire::date")]
    #[schema(value_type = String, format = Date, example = "2026-11-30")]
    to: NaiveDate,
    /// `ru` or `en` (default: the customer's document language).
    #[serde(default)]
    #[schema(example = "ru")]
    language: Option<String>,
}

/// Who signed a report, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSignatureView {
    signed_by: String,
    signed_at: DateTime<Utc>,
    /// SHA-256 of the detached CMS signature (`.p7s`).
    sha256: String,
    /// SHA-256 of the signing certificate (DER): `GET /v1/billing/signing-certificate`.
    certificate_sha256: String,
}

/// A report filed as a PDF.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportFileView {
    id: String,
    org_id: String,
    /// `reconciliation` or `account_statement`.
    #[schema(example = "reconciliation")]
    kind: String,
    from: NaiveDate,
    to: NaiveDate,
    /// `ru` or `en`.
    #[schema(example = "ru")]
    language: String,
    /// Who asked: a user (`usr_…`) or an API key (`key_…`).
    requested_by: String,
    requested_at: DateTime<Utc>,
    /// `making`, `ready` or `failed`.
    #[schema(example = "ready")]
    status: String,
    /// Why it could not be made (`failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The file's name when downloaded (`reconciliation-2026-11-01-2026-11-30.pdf`).
    file_name: String,
    /// SHA-256 of the PDF (lowercase hex), once ready: what a signature covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// The PDF's size in bytes, once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<ReportSignatureView>,
    /// A five-minute link to the PDF, once ready (on reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    download: Option<DownloadView>,
    /// A five-minute link to the detached CMS signature (`.p7s`), once signed (on reads):
    /// `openssl cms -verify -binary -inform DER -in report.pdf.p7s -content report.pdf …`.
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_download: Option<DownloadView>,
}

impl ReportFileView {
    fn of(r: ReportFile, download: Option<DownloadView>, signature: Option<DownloadView>) -> Self {
        let reason = match &r.status {
            ReportStatus::Failed { reason } => Some(reason.clone()),
            _ => None,
        };
        Self {
            id: r.id.to_string(),
            org_id: r.org.to_string(),
            kind: r.kind.as_str().to_owned(),
            file_name: r.file_name(),
            from: r.from,
            to: r.to,
            language: r.language.as_str().to_owned(),
            requested_by: match r.requested_by {
                UserOrKey::User(id) => id.to_string(),
                UserOrKey::ApiKey(id) => id.to_string(),
                UserOrKey::System => "system".to_owned(),
            },
            requested_at: r.requested_at,
            status: r.status.as_str().to_owned(),
            reason,
            sha256: r.file.as_ref().map(|f| f.sha256.clone()),
            size: r.file.as_ref().map(|f| f.size),
            finished_at: r.finished_at,
            signature: r.signature.map(|s| ReportSignatureView {
                signed_by: s.signed_by.to_string(),
                signed_at: s.signed_at,
                sha256: s.object.sha256,
                certificate_sha256: s.certificate_sha256,
            }),
            download,
            signature_download: signature,
        }
    }

    fn with_links(found: ReportWithLinks) -> Self {
        Self::of(
            found.report,
            found.pdf.map(DownloadView::from),
            found.signature.map(DownloadView::from),
        )
    }
}

/// Ask for a report on a customer's account for a date range, as a PDF in the customer's
/// document language (or `language`): `reconciliation` (the two-sided «Акт сверки взаимных
/// расчётов»: the provider's side filled in, the customer's left to fill in) or
/// `account_statement` (the statement of account). `invoices:read`: a customer its own,
/// staff any. The range is checked as the statement of account checks it, and nothing is
/// filed when it is refused. Made by the documents function: follow it at
/// `/v1/billing/reports/{report_id}` until it is `ready` (or `failed`, with the reason: the
/// provider's requisites are not set, say).
#[utoipa::path(post, path = "/v1/billing/reports", tag = "documents", security(("bearer" = [])),
    request_body = ReportRequest,
    responses((status = 202, body = ReportFileView),
        (status = 400, description = "`invalid_query` (`org_id`): staff name the organisation", body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 404, description = "`not_found`: no organisation the caller can see has this `org_id`", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `kind`, `org_id` (malformed), `from` (after `to`), `to` (more than ten years after `from`), `language`", body = kopek_http::problem::Problem)))]
pub(super) async fn request_report(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<ReportRequest>,
) -> ApiResult<impl IntoResponse> {
    let kind: ReportKind = body
        .kind
        .parse()
        .map_err(|e: String| ApiError::validation("kind", e))?;
    let org = body
        .org_id
        .as_deref()
        .map(|id| {
            id.parse()
                .map_err(|_| ApiError::validation("org_id", "no such organisation"))
        })
        .transpose()?;
    let language = match body.language.as_deref() {
        None => None,
        Some("ru") => Some(DocumentLanguage::Ru),
        Some("en") => Some(DocumentLanguage::En),
        Some(_) => return Err(ApiError::validation("language", "must be ru or en")),
    };
    let report = state
        .services
        .documents()
        .request_report(&caller, org, kind, body.from, body.to, language)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReportFileView::of(report, None, None)),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportsQuery {
    /// Whose: staff name the organisation (its id, or `ref:` and the CRM's reference); a customer may name only its own.
    org_id: Option<String>,
    /// How many items at most (1 to 100, default 50).
    limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A customer's reports, newest first, with their links (`invoices:read`: a customer its
/// own, staff name `org_id`).
#[utoipa::path(get, path = "/v1/billing/reports", tag = "documents", security(("bearer" = [])), params(ReportsQuery),
    responses((status = 200, body = inline(Paged<ReportFileView>)),
        (status = 400, description = "`invalid_query` (`org_id`, `limit`); `invalid_cursor`", body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn list_reports(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ReportsQuery>,
) -> ApiResult<Json<Paged<ReportFileView>>> {
    let org = org_query(query.org_id.as_deref())?;
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .paging(&state)?;
    let page = state
        .services
        .documents()
        .report_files(&caller, org, paging)
        .await?;
    Ok(Json(Paged::from_page(
        &state,
        page,
        ReportFileView::with_links,
    )))
}

/// A report; once ready, with a five-minute link to its PDF, and once signed, to its
/// signature (`invoices:read`: a customer its own).
#[utoipa::path(get, path = "/v1/billing/reports/{report_id}", tag = "documents", security(("bearer" = [])),
    params(("report_id" = String, Path)),
    responses((status = 200, body = ReportFileView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_report(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(report_id): Path<String>,
) -> ApiResult<Json<ReportFileView>> {
    let found = state
        .services
        .documents()
        .report_file(&caller, id_path(&report_id)?)
        .await?;
    Ok(Json(ReportFileView::with_links(found)))
}

/// Sign a ready report with the provider's key, as the closing documents are signed: a
/// detached CMS signature filed beside the PDF (managers and admins, signed in as a person).
/// Only the documents function holds the key, so the signing runs there: the answer is the
/// report as it stands (202); it shows the signature once made.
#[utoipa::path(post, path = "/v1/billing/reports/{report_id}/sign", tag = "documents", security(("bearer" = [])),
    params(("report_id" = String, Path)),
    responses((status = 202, body = ReportFileView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`not_ready`: the report is not made yet (or failed); `already_signed`", body = kopek_http::problem::Problem)))]
pub(super) async fn sign_report(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(report_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let report = state
        .services
        .documents()
        .sign_report(&caller, id_path(&report_id)?)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReportFileView::of(report, None, None)),
    ))
}
