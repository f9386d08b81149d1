//! Closing documents (`kopek_services::documents::Documents`): a customer's own, one by id,
//! download links; a period's for billing staff, and asking for a period's again.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::documents::signing::{Listed, Signing};
use kopek_domain::documents::{Document, DocumentStatus, DocumentType};
use kopek_domain::money::Currency;
use kopek_domain::period::BillingPeriod;
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
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
    /// `invoice` (invoice for payment), `act` (act of services rendered), `credit_note`,
    /// `upd` (the UPD as the tax service's XML, format 5.03, where the provider pays VAT) or
    /// `upd_print` (the UPD's printable PDF).
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
    /// The file's name when downloaded (`act-KPK-2026-000042.pdf`; a UPD's as its format
    /// names it, `ON_NSCHFDOPPR_….xml`).
    file_name: String,
    /// SHA-256 of the file (lowercase hex): what a signature covers.
    sha256: String,
    /// The file's size in bytes.
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
    /// Whose: staff name the organisation (its id, or `ref:` and the CRM's reference); a customer may name only its own.
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

/// A document to sign, as the manager listed it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListedDocument {
    /// The document's id.
    id: String,
    /// Its SHA-256 as listed: a document whose bytes are no longer these is refused.
    sha256: String,
}

/// What to sign.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SigningRequest {
    /// The documents to sign (at most 1,000); absent: every document of the period not
    /// signed yet.
    #[serde(default)]
    documents: Option<Vec<ListedDocument>>,
}

/// A signing and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningView {
    id: String,
    #[schema(value_type = String, example = "2026-11")]
    period: BillingPeriod,
    /// `running` or `done`.
    status: String,
    /// Who signs (the manager who started it).
    requested_by: String,
    requested_at: DateTime<Utc>,
    /// Documents it covers.
    total: u64,
    /// Signed by it so far.
    signed: u64,
    /// Found signed by an earlier signing (nothing is signed twice).
    already: u64,
    /// Refused, each with the reason (changed since listed, not of the period).
    refused: Vec<RefusalView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
}

/// A document a signing refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusalView {
    document_id: String,
    reason: String,
}

impl From<Signing> for SigningView {
    fn from(s: Signing) -> Self {
        Self {
            id: s.id.to_string(),
            period: s.period,
            status: s.status.as_str().to_owned(),
            requested_by: s.requested_by.to_string(),
            requested_at: s.requested_at,
            total: s.total,
            signed: s.signed,
            already: s.already,
            refused: s
                .refused
                .into_iter()
                .map(|r| RefusalView {
                    document_id: r.document.to_string(),
                    reason: r.reason,
                })
                .collect(),
            finished_at: s.finished_at,
        }
    }
}

/// Sign a closed period's documents in one action (managers and admins, signed in): every
/// document not signed yet, or the listed ones. Runs as a job: follow it at
/// `/v1/signings/{signing_id}`. Each document gets a detached CMS signature made with the
/// provider's KMS key; nothing is signed twice.
#[utoipa::path(post, path = "/v1/periods/{period}/signings", tag = "documents", security(("bearer" = [])),
    params(("period" = String, Path, description = "a billing period: `YYYY-MM`, or `YYYY-Qn`, `YYYY-Hn`, `YYYY` where periods are quarters, half-years or years")),
    request_body = SigningRequest,
    responses((status = 202, description = "started", body = SigningView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`period_not_closed`; `no_documents`", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `documents[i]` (twice, not a SHA-256), `documents[i].id`", body = kopek_http::problem::Problem)))]
pub(super) async fn start_signing(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(period): Path<String>,
    JsonBody(body): JsonBody<SigningRequest>,
) -> ApiResult<impl IntoResponse> {
    let period = period_path(&state, &period)?;
    let selection = body
        .documents
        .map(|listed| {
            listed
                .into_iter()
                .enumerate()
                .map(|(i, l)| {
                    let id = l.id.parse().map_err(|_| {
                        kopek_services::Error::invalid(
                            format!("documents[{i}].id"),
                            "not a document id",
                        )
                    })?;
                    Ok(Listed {
                        id,
                        sha256: l.sha256,
                    })
                })
                .collect::<Result<Vec<_>, kopek_services::Error>>()
        })
        .transpose()?;
    let signing = state
        .services
        .documents()
        .start_signing(&caller, period, selection)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(SigningView::from(signing))))
}

/// A signing and its progress (billing staff).
#[utoipa::path(get, path = "/v1/signings/{signing_id}", tag = "documents", security(("bearer" = [])),
    params(("signing_id" = String, Path)),
    responses((status = 200, body = SigningView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_signing(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(signing_id): Path<String>,
) -> ApiResult<Json<SigningView>> {
    let signing = state
        .services
        .documents()
        .signing(&caller, id_path(&signing_id)?)
        .await?;
    Ok(Json(signing.into()))
}

/// The certificate documents are signed under.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    /// The X.509 certificate, PEM: `openssl cms -verify … -CAfile` it.
    pem: String,
    /// SHA-256 of its DER (lowercase hex), as each signature records it.
    sha256: String,
    subject: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

/// The certificate of the provider's signing key (anyone who reads documents, to verify
/// their signatures); 404 until the first signing made it.
#[utoipa::path(get, path = "/v1/billing/signing-certificate", tag = "documents", security(("bearer" = [])),
    responses((status = 200, body = CertificateView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn signing_certificate(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<CertificateView>> {
    let certificate = state.services.documents().certificate(&caller).await?;
    Ok(Json(CertificateView::of(certificate)?))
}

impl CertificateView {
    fn of(certificate: kopek_services::SigningCertificate) -> ApiResult<Self> {
        let internal =
            |e: kopek_services::SigningError| kopek_services::Error::Internal(e.to_string());
        let (not_before, not_after) = certificate.validity().map_err(internal)?;
        Ok(Self {
            pem: certificate.pem().map_err(internal)?,
            subject: certificate.subject().map_err(internal)?,
            sha256: certificate.sha256,
            not_before,
            not_after,
        })
    }
}

/// A certificate the provider had issued for its signing key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// The X.509 certificate, PEM; it must certify the key of the current certificate.
    pem: String,
}

/// Replaces the self-signed certificate by one the provider had issued for the same key, by
/// its certificate authority (admins): signatures made from then on carry it, and verify
/// against that authority. 422 naming `pem` when it is no certificate, certifies another key
/// or is not valid now; 409 before the first signing made the key's own certificate.
#[utoipa::path(put, path = "/v1/billing/signing-certificate", tag = "documents", security(("bearer" = [])),
    request_body = CertificateRequest,
    responses((status = 200, body = CertificateView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
pub(super) async fn upload_signing_certificate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CertificateRequest>,
) -> ApiResult<Json<CertificateView>> {
    let certificate = state
        .services
        .documents()
        .upload_certificate(&caller, &body.pem)
        .await?;
    Ok(Json(CertificateView::of(certificate)?))
}
