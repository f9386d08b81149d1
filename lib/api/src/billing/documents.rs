//! Closing documents (`kopek_services::documents::Documents`): a customer's own, one by id,
//! download links; a period's for billing staff, and asking for a period's again.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::documents::{Document, DocumentStatus, DocumentType};
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::QueryParams;
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use kopek_services::documents::{PeriodDocuments, StatusTotals};
use kopek_services::{Download, OfCustomer};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::paging::ListQuery;
use crate::params::{id_path, org_query, period_path, period_query};

/// A closing document.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    id: String,
    /// `invoice` (invoice for payment), `act` (act of services rendered) or `credit_note`.
    #[schema(value_type = String, example = "act")]
    doc_type: DocumentType,
    /// Its source's number.
    #[schema(example = "KPK-2026-000042")]
    number: String,
    /// The date it bears.
    dated: NaiveDate,
    org_id: String,
    /// The customer's legal name (staff lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<String>,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// The invoice (or credit note) it was made from.
    source_id: String,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    net: Amount,
    tax: Amount,
    gross: Amount,
    /// `generated` or `signed`.
    #[schema(value_type = String, example = "generated")]
    status: DocumentStatus,
    /// The PDF's name when downloaded.
    file_name: String,
    /// SHA-256 of the PDF (lowercase hex): what a signature covers.
    sha256: String,
    /// The PDF's size in bytes.
    size: u64,
    generated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<SignatureView>,
}

/// Who signed a document, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureView {
    signed_by: String,
    signed_at: DateTime<Utc>,
    /// SHA-256 of the detached CMS signature (`.p7s`).
    sha256: String,
    /// SHA-256 of the signing certificate (DER).
    certificate_sha256: String,
}

impl DocumentView {
    fn of(d: Document, customer: Option<String>) -> Self {
        let source_id = match d.source {
            kopek_domain::documents::Source::Invoice(id) => id.to_string(),
            kopek_domain::documents::Source::CreditNote(id) => id.to_string(),
        };
        Self {
            id: d.id.to_string(),
            doc_type: d.doc_type,
            file_name: d.file_name(),
            number: d.number,
            dated: d.dated,
            org_id: d.org.to_string(),
            customer,
            period: d.period,
            source_id,
            currency: d.gross.currency(),
            net: d.net.into(),
            tax: d.tax.into(),
            gross: d.gross.into(),
            status: d.status,
            sha256: d.file.sha256,
            size: d.file.size,
            generated_at: d.generated_at,
            signature: d.signature.map(|s| SignatureView {
                signed_by: s.signed_by.to_string(),
                signed_at: s.signed_at,
                sha256: s.object.sha256,
                certificate_sha256: s.certificate_sha256,
            }),
        }
    }
}

/// A short-lived link that downloads a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadView {
    /// A presigned `GET` URL; it needs no other credentials and expires at `expires_at`.
    url: String,
    expires_at: DateTime<Utc>,
}

impl From<Download> for DownloadView {
    fn from(d: Download) -> Self {
        Self {
            url: d.url,
            expires_at: d.expires_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DocumentsQuery {
    /// The period (`YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` for longer periods); by
    /// default the current one.
    period: Option<String>,
    /// Whose: staff name the organisation; a customer may name only its own.
    org_id: Option<String>,
}

/// A customer's documents of a period: its invoice for payment and act (and credit notes'
/// documents), each with its status and SHA-256.
#[utoipa::path(get, path = "/v1/documents", tag = "documents", security(("bearer" = [])), params(DocumentsQuery),
    responses((status = 200, body = Vec<DocumentView>), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn list_documents(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<DocumentsQuery>,
) -> ApiResult<Json<Vec<DocumentView>>> {
    let period = period_query(&state, query.period.as_deref())?;
    let org = org_query(query.org_id.as_deref())?;
    let documents = state
        .services
        .documents()
        .of_customer(&caller, org, period)
        .await?;
    Ok(Json(
        documents
            .into_iter()
            .map(|d| DocumentView::of(d, None))
            .collect(),
    ))
}

/// A document.
#[utoipa::path(get, path = "/v1/documents/{document_id}", tag = "documents", security(("bearer" = [])),
    params(("document_id" = String, Path)),
    responses((status = 200, body = DocumentView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_document(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(document_id): Path<String>,
) -> ApiResult<Json<DocumentView>> {
    let found = state
        .services
        .documents()
        .get(&caller, id_path(&document_id)?)
        .await?;
    Ok(Json(DocumentView::of(found, None)))
}

/// A link that downloads the document's PDF (valid for five minutes).
#[utoipa::path(get, path = "/v1/documents/{document_id}/download", tag = "documents", security(("bearer" = [])),
    params(("document_id" = String, Path)),
    responses((status = 200, body = DownloadView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn download_document(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(document_id): Path<String>,
) -> ApiResult<Json<DownloadView>> {
    link(&state, &caller, &document_id, false).await
}

/// The download link of a document's PDF, or of its signature.
async fn link(
    state: &AppState,
    caller: &kopek_domain::accounts::Principal,
    document_id: &str,
    signature: bool,
) -> ApiResult<Json<DownloadView>> {
    let link = state
        .services
        .documents()
        .download(caller, id_path(document_id)?, signature)
        .await?;
    Ok(Json(link.into()))
}

/// A link that downloads the document's detached CMS signature (`.p7s`, valid for five
/// minutes): `openssl cms -verify -binary -inform DER -in doc.pdf.p7s -content doc.pdf …`.
#[utoipa::path(get, path = "/v1/documents/{document_id}/signature", tag = "documents", security(("bearer" = [])),
    params(("document_id" = String, Path)),
    responses((status = 200, body = DownloadView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`not_signed`: the document is not signed yet", body = kopek_http::problem::Problem)))]
pub(super) async fn download_signature(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(document_id): Path<String>,
) -> ApiResult<Json<DownloadView>> {
    link(&state, &caller, &document_id, true).await
}

/// One status's count and totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusTotalsView {
    #[schema(value_type = String, example = "generated")]
    status: DocumentStatus,
    count: u64,
    /// Gross totals of its invoices and credit notes, per currency (acts repeat their
    /// invoices' amounts and are not added again).
    gross: Vec<Amount>,
}

/// A period's documents, for billing staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodDocumentsView {
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// Customers the close invoiced: each has an invoice for payment and an act.
    invoices: u64,
    by_status: Vec<StatusTotalsView>,
    items: Vec<DocumentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// How many items at most (1 to 100, default 50).
    limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A closed period's documents (billing staff): counts and totals by status, and the
/// documents by customer.
#[utoipa::path(get, path = "/v1/periods/{period}/documents", tag = "documents", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years"), PageQuery),
    responses((status = 200, body = PeriodDocumentsView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`period_not_closed`", body = kopek_http::problem::Problem)))]
pub(super) async fn period_documents(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    QueryParams(query): QueryParams<PageQuery>,
) -> ApiResult<Json<PeriodDocumentsView>> {
    let period = period_path(&state, &period)?;
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .paging(&state)?;
    let PeriodDocuments {
        period,
        invoices,
        by_status,
        documents,
        next,
    } = state
        .services
        .documents()
        .of_period(&caller, period, paging)
        .await?;
    Ok(Json(PeriodDocumentsView {
        period,
        invoices,
        by_status: by_status
            .into_iter()
            .map(|(status, StatusTotals { count, gross })| StatusTotalsView {
                status,
                count,
                gross: gross.into_iter().map(Amount::of).collect(),
            })
            .collect(),
        items: documents
            .into_iter()
            .map(|OfCustomer { item, customer }| DocumentView::of(item, customer))
            .collect(),
        next_cursor: next.as_ref().map(|k| state.cursors.encode(k)),
    }))
}

/// What asking for a period's documents queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestedView {
    /// Invoices whose documents were queued (those filed already are skipped by the jobs).
    invoices: usize,
}

/// Make a closed period's missing documents (billing staff): every invoice's documents are
/// queued again, and those filed already are skipped — after the provider's requisites were
/// completed, say.
#[utoipa::path(post, path = "/v1/periods/{period}/documents", tag = "documents", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    responses((status = 202, body = RequestedView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`period_not_closed`", body = kopek_http::problem::Problem)))]
pub(super) async fn request_documents(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let period = period_path(&state, &period)?;
    let requested = state
        .services
        .documents()
        .request_period(&caller, period)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RequestedView {
            invoices: requested.invoices,
        }),
    ))
}
