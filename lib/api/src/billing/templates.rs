//! The provider's own templates of closing documents: upload one (admins; checked by the
//! documents function before it is used), see an upload's outcome, see or remove a kind's
//! active template. The rules live in `kopek_services::documents` (templates).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use kopek_domain::documents::SheetKind;
use kopek_domain::documents::template::{ActiveTemplate, Template, TemplateError};
use kopek_http::auth::Caller;
use kopek_http::json::JsonBody;
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A kind of sheet in a path: `invoice`, `act`, `credit_note` or `upd` (the UPD's printable
/// form); anything else names nothing (404).
fn kind_path(kind: &str) -> ApiResult<SheetKind> {
    kind.parse().map_err(|_| ApiError::not_found())
}

/// A template to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// Typst source (at most 48 KiB) that reads the sheet as JSON from `sys.inputs.sheet`,
    /// as the built-in template does; the fonts are DejaVu Sans (regular, bold).
    #[schema(example = "#let d = json(bytes(sys.inputs.sheet))\n= #d.title\n")]
    source: String,
}

/// An uploaded template and where its check stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// `invoice`, `act`, `credit_note` or `upd`.
    #[schema(value_type = String, example = "act")]
    kind: SheetKind,
    /// SHA-256 of the source: the upload's id.
    sha256: String,
    /// `checking`, `accepted` (documents of the kind made from now on use it) or `refused`.
    #[schema(example = "checking")]
    status: String,
    /// Why it was refused: the compiler's message and the template's line.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<TemplateErrorView>,
    uploaded_by: String,
    uploaded_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checked_at: Option<DateTime<Utc>>,
}

/// Why a template does not compile.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateErrorView {
    /// The compiler's message.
    #[schema(example = "dictionary does not contain key \"no_such_field\"")]
    message: String,
    /// The template's line it points at (1-based), where it points into the template.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
}

impl From<TemplateError> for TemplateErrorView {
    fn from(e: TemplateError) -> Self {
        Self {
            message: e.message,
            line: e.line,
        }
    }
}

impl From<Template> for TemplateView {
    fn from(t: Template) -> Self {
        Self {
            kind: t.kind,
            sha256: t.sha256,
            status: t.status.as_str().to_owned(),
            error: t.error.map(TemplateErrorView::from),
            uploaded_by: t.uploaded_by,
            uploaded_at: t.uploaded_at,
            checked_at: t.checked_at,
        }
    }
}

/// Which template a kind's documents are made with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveTemplateView {
    #[schema(value_type = String, example = "act")]
    kind: SheetKind,
    /// `builtin`, or `custom` (the provider's own, accepted).
    #[schema(example = "builtin")]
    template: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accepted_at: Option<DateTime<Utc>>,
    /// The source of the provider's template.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

impl ActiveTemplateView {
    fn of(kind: SheetKind, active: Option<ActiveTemplate>) -> Self {
        match active {
            Some(t) => Self {
                kind,
                template: "custom",
                sha256: Some(t.sha256),
                accepted_at: Some(t.accepted_at),
                source: Some(t.source),
            },
            None => Self {
                kind,
                template: "builtin",
                sha256: None,
                accepted_at: None,
                source: None,
            },
        }
    }
}

/// Uploads the provider's own template of a kind of document (admins). Answered at once,
/// `checking`: the documents function compiles it against sample data of the kind, then it
/// is `accepted` — documents of the kind made from then on use it — or `refused` with the
/// compiler's message and line (see `GET …/{sha256}`).
#[utoipa::path(put, path = "/v1/billing/templates/{kind}", tag = "documents", security(("bearer" = [])),
    params(("kind" = String, Path, description = "`invoice`, `act`, `credit_note` or `upd`")),
    request_body = TemplateRequest,
    responses((status = 202, body = TemplateView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
pub(super) async fn upload_template(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(kind): Path<String>,
    JsonBody(body): JsonBody<TemplateRequest>,
) -> ApiResult<impl IntoResponse> {
    let kind = kind_path(&kind)?;
    let upload = state
        .services
        .documents()
        .upload_template(&caller, kind, body.source)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(TemplateView::from(upload))))
}

/// Which template a kind's documents are made with: the built-in one or the provider's
/// (billing staff).
#[utoipa::path(get, path = "/v1/billing/templates/{kind}", tag = "documents", security(("bearer" = [])),
    params(("kind" = String, Path, description = "`invoice`, `act`, `credit_note` or `upd`")),
    responses((status = 200, body = ActiveTemplateView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn active_template(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(kind): Path<String>,
) -> ApiResult<Json<ActiveTemplateView>> {
    let kind = kind_path(&kind)?;
    let active = state
        .services
        .documents()
        .active_template(&caller, kind)
        .await?;
    Ok(Json(ActiveTemplateView::of(kind, active)))
}

/// Brings back the built-in template of a kind (admins); 404 when the provider had none of
/// its own.
#[utoipa::path(delete, path = "/v1/billing/templates/{kind}", tag = "documents", security(("bearer" = [])),
    params(("kind" = String, Path, description = "`invoice`, `act`, `credit_note` or `upd`")),
    responses((status = 204), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn remove_template(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(kind): Path<String>,
) -> ApiResult<StatusCode> {
    let kind = kind_path(&kind)?;
    state
        .services
        .documents()
        .remove_template(&caller, kind)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An upload of a kind, with its status and, if refused, the compiler's message and line
/// (billing staff).
#[utoipa::path(get, path = "/v1/billing/templates/{kind}/{sha256}", tag = "documents", security(("bearer" = [])),
    params(("kind" = String, Path, description = "`invoice`, `act`, `credit_note` or `upd`"),
        ("sha256" = String, Path, description = "the upload's SHA-256")),
    responses((status = 200, body = TemplateView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_template(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((kind, sha256)): Path<(String, String)>,
) -> ApiResult<Json<TemplateView>> {
    let kind = kind_path(&kind)?;
    let upload = state
        .services
        .documents()
        .template(&caller, kind, &sha256)
        .await?;
    Ok(Json(upload.into()))
}
