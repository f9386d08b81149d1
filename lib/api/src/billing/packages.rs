//! Packages of a period's signed documents (`kopek_services::documents::Documents`): sent by
//! a manager, downloaded, accepted or disputed by the customer, listed by status for staff.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use kopek_domain::documents::package::{Package, PackageStatus};
use kopek_domain::period::BillingPeriod;
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_services::OfCustomer;
use kopek_services::documents::PeriodPackages;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::documents::DownloadView;
use crate::paging::ListQuery;
use crate::params::{id_path, org_query, period_path, period_query};

/// A customer's package of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PackageView {
    id: String,
    org_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<String>,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// `signed`, `sent`, `viewed`, `accepted` or `disputed`.
    #[schema(value_type = String, example = "sent")]
    status: PackageStatus,
    /// The documents it holds (each with its signature), besides `manifest.json` and
    /// `manifest.json.p7s`.
    document_ids: Vec<String>,
    /// SHA-256 of the ZIP, and of the manifest inside it (lowercase hex).
    sha256: String,
    manifest_sha256: String,
    size: u64,
    built_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    viewed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answered_at: Option<DateTime<Utc>>,
    /// Who answered: a user (`usr_…`) or an API key (`key_…`) of the customer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    answered_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dispute_reason: Option<String>,
}

impl PackageView {
    fn of(p: Package, customer: Option<String>) -> Self {
        Self {
            id: p.id.to_string(),
            org_id: p.org.to_string(),
            customer,
            period: p.period,
            status: p.status,
            document_ids: p.documents.iter().map(ToString::to_string).collect(),
            sha256: p.file.sha256,
            manifest_sha256: p.manifest_sha256,
            size: p.file.size,
            built_at: p.built_at,
            sent_to: p.sent_to,
            sent_at: p.sent_at,
            viewed_at: p.viewed_at,
            answered_at: p.answered_at,
            answered_by: p.answered_by,
            dispute_reason: p.dispute_reason,
        }
    }
}

/// What sending a period's packages started.
#[derive(Debug, Serialize, ToSchema)]
pub struct SendingView {
    /// The period's documents, every one signed, that go out in the packages.
    documents: u64,
}

/// Send a closed, signed period's documents: one package per customer (its documents, their
/// signatures, `manifest.json` and its signature, as a ZIP), each customer's billing e-mail
/// notified. Managers and admins; runs as a job (follow it in the period's packages).
#[utoipa::path(post, path = "/v1/periods/{period}/packages", tag = "documents", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    responses((status = 202, body = SendingView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`period_not_closed`; `no_documents`; `not_signed` (sign the period first)", body = kopek_http::problem::Problem)))]
pub(super) async fn send_packages(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let period = period_path(&state, &period)?;
    let sent = state
        .services
        .documents()
        .send_packages(&caller, period)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SendingView {
            documents: sent.documents,
        }),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PeriodPackagesQuery {
    /// Only these: `signed`, `sent`, `viewed`, `accepted` or `disputed`.
    status: Option<String>,
    /// How many items at most (1 to 100, default 50).
    limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A period's packages for staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodPackagesView {
    /// Packages by status: `{"sent": 98, "accepted": 1, "disputed": 1}`.
    by_status: std::collections::BTreeMap<String, u64>,
    items: Vec<PackageView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// A period's packages by status (billing staff): disputes with their reasons.
#[utoipa::path(get, path = "/v1/periods/{period}/packages", tag = "documents", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years"), PeriodPackagesQuery),
    responses((status = 200, body = PeriodPackagesView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn period_packages(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    QueryParams(query): QueryParams<PeriodPackagesQuery>,
) -> ApiResult<Json<PeriodPackagesView>> {
    let period = period_path(&state, &period)?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<PackageStatus>()
                .map_err(|e| kopek_services::Error::bad_input("invalid_query", "status", e))
        })
        .transpose()?;
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .paging(&state)?;
    let PeriodPackages {
        by_status,
        packages,
        next,
    } = state
        .services
        .documents()
        .period_packages(&caller, period, status, paging)
        .await?;
    Ok(Json(PeriodPackagesView {
        by_status: by_status
            .into_iter()
            .map(|(s, n)| (s.as_str().to_owned(), n))
            .collect(),
        items: packages
            .into_iter()
            .map(|OfCustomer { item, customer }| PackageView::of(item, customer))
            .collect(),
        next_cursor: next.as_ref().map(|k| state.cursors.encode(k)),
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PackagesQuery {
    /// The period; by default the current one.
    period: Option<String>,
    /// Whose: staff name the organisation (its id, or `ref:` and the CRM's reference); a customer may name only its own.
    org_id: Option<String>,
}

/// A customer's package of a period (none, or one).
#[utoipa::path(get, path = "/v1/packages", tag = "documents", security(("bearer" = [])), params(PackagesQuery),
    responses((status = 200, body = Vec<PackageView>), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn list_packages(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<PackagesQuery>,
) -> ApiResult<Json<Vec<PackageView>>> {
    let period = period_query(&state, query.period.as_deref())?;
    let org = org_query(query.org_id.as_deref())?;
    let found = state
        .services
        .documents()
        .package_of(&caller, org, period)
        .await?;
    Ok(Json(
        found
            .into_iter()
            .map(|p| PackageView::of(p, None))
            .collect(),
    ))
}

/// A package.
#[utoipa::path(get, path = "/v1/packages/{package_id}", tag = "documents", security(("bearer" = [])),
    params(("package_id" = String, Path)),
    responses((status = 200, body = PackageView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_package(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(package_id): Path<String>,
) -> ApiResult<Json<PackageView>> {
    let found = state
        .services
        .documents()
        .package(&caller, id_path(&package_id)?)
        .await?;
    Ok(Json(PackageView::of(found, None)))
}

/// A link that downloads the package's ZIP (five minutes); the customer's first download
/// marks it `viewed`.
#[utoipa::path(get, path = "/v1/packages/{package_id}/download", tag = "documents", security(("bearer" = [])),
    params(("package_id" = String, Path)),
    responses((status = 200, body = DownloadView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn download_package(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(package_id): Path<String>,
) -> ApiResult<Json<DownloadView>> {
    let link = state
        .services
        .documents()
        .download_package(&caller, id_path(&package_id)?)
        .await?;
    Ok(Json(link.into()))
}

/// The customer accepts its package (its people, or its CRM's API key).
#[utoipa::path(post, path = "/v1/packages/{package_id}/accept", tag = "documents", security(("bearer" = [])),
    params(("package_id" = String, Path)),
    responses((status = 200, body = PackageView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`invalid_state`: not sent yet, or answered already", body = kopek_http::problem::Problem)))]
pub(super) async fn accept_package(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(package_id): Path<String>,
) -> ApiResult<Json<PackageView>> {
    let accepted = state
        .services
        .documents()
        .accept_package(&caller, id_path(&package_id)?)
        .await?;
    Ok(Json(PackageView::of(accepted, None)))
}

/// Why a package is disputed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DisputeRequest {
    /// 1 to 1,000 characters: what is wrong (a service not rendered, an amount).
    reason: String,
}

/// The customer disputes its package with a reason, which reaches the manager's list.
#[utoipa::path(post, path = "/v1/packages/{package_id}/dispute", tag = "documents", security(("bearer" = [])),
    params(("package_id" = String, Path)), request_body = DisputeRequest,
    responses((status = 200, body = PackageView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`invalid_state`: not sent yet, or answered already", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `reason`", body = kopek_http::problem::Problem)))]
pub(super) async fn dispute_package(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(package_id): Path<String>,
    JsonBody(body): JsonBody<DisputeRequest>,
) -> ApiResult<Json<PackageView>> {
    let disputed = state
        .services
        .documents()
        .dispute_package(&caller, id_path(&package_id)?, &body.reason)
        .await?;
    Ok(Json(PackageView::of(disputed, None)))
}

/// A period's archive for accountants.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArchiveView {
    id: String,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// `building` or `ready`.
    status: String,
    requested_by: String,
    requested_at: DateTime<Utc>,
    /// Packages and documents in it (once ready).
    packages: u64,
    documents: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
    /// A five-minute link to the ZIP, once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    download: Option<DownloadView>,
}

impl ArchiveView {
    fn of(a: kopek_domain::documents::archive::Archive, download: Option<DownloadView>) -> Self {
        Self {
            id: a.id.to_string(),
            period: a.period,
            status: a.status.as_str().to_owned(),
            requested_by: a.requested_by,
            requested_at: a.requested_at,
            packages: a.packages,
            documents: a.documents,
            size: a.file.as_ref().map(|f| f.size),
            sha256: a.file.map(|f| f.sha256),
            finished_at: a.finished_at,
            download,
        }
    }
}

/// Build a period's archive (billing staff): every customer's package in one ZIP, with the
/// register of the period's documents as `register.csv` and `register.xlsx`. Runs as a job:
/// follow it at `/v1/archives/{archive_id}`.
#[utoipa::path(post, path = "/v1/periods/{period}/archives", tag = "documents", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    responses((status = 202, body = ArchiveView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`period_not_closed`; `no_packages` (send the period first)", body = kopek_http::problem::Problem)))]
pub(super) async fn request_archive(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let period = period_path(&state, &period)?;
    let archive = state
        .services
        .documents()
        .request_archive(&caller, period)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(ArchiveView::of(archive, None))))
}

/// An archive; once ready, with a link to download it (billing staff).
#[utoipa::path(get, path = "/v1/archives/{archive_id}", tag = "documents", security(("bearer" = [])),
    params(("archive_id" = String, Path)),
    responses((status = 200, body = ArchiveView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_archive(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(archive_id): Path<String>,
) -> ApiResult<Json<ArchiveView>> {
    let found = state
        .services
        .documents()
        .archive(&caller, id_path(&archive_id)?)
        .await?;
    Ok(Json(ArchiveView::of(
        found.archive,
        found.download.map(DownloadView::from),
    )))
}
