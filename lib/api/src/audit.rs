//! The audit log, read-only (served by `accounts-api`): a search newest first, and the same
//! search as CSV. No route changes or deletes a record.
//!
//! Handlers only translate: the query into a `kopek_services::audit::AuditQuery`, one call
//! of `Audit` with the caller, records into views.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kopek_domain::audit::{ActorKind, AuditRecord, Change, Filter, ObjectRef};
use kopek_http::auth::Caller;
use kopek_http::download::attachment;
use kopek_http::json::QueryParams;
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use kopek_services::audit::AuditQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::paging::{ListQuery, Paged};
use crate::params::org_query;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(export))
}

/// How far back a search looks when it names no `from`.
pub const DEFAULT_DAYS: i64 = 30;

/// `?from=&to=&actor=&object=&action=&org_id=` of a search and of its export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Records at or after this time (RFC 3339, or a date: its start in UTC); default 30
    /// days before `to`.
    pub from: Option<String>,
    /// Records before this time (RFC 3339, or a date: the start of that day); default now.
    pub to: Option<String>,
    /// Who acted: `usr_…`, `key_…`, `system:<task>` or `anonymous`.
    pub actor: Option<String>,
    /// The object, as `kind:id` (`order:ord_…`, `service:HOSTING`).
    pub object: Option<String>,
    /// The action, or its beginning (`POST /v1/catalog`).
    pub action: Option<String>,
    /// The customer organisation a record concerns (admins, by id or `ref:` and the CRM's
    /// reference; a customer sees only its own).
    pub org_id: Option<String>,
    /// How many records at most (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn instant(field: &str, text: &str) -> ApiResult<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    text.parse::<NaiveDate>()
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("{field} must be an RFC 3339 time or a date (YYYY-MM-DD)"),
            )
            .with_field(field)
        })
}

impl AuditParams {
    fn query(&self, state: &AppState) -> ApiResult<AuditQuery> {
        let to = match &self.to {
            Some(text) => instant("to", text)?,
            None => state.services.now(),
        };
        let from = match &self.from {
            Some(text) => instant("from", text)?,
            None => to - Duration::days(DEFAULT_DAYS),
        };
        let object = self
            .object
            .as_deref()
            .map(|o| {
                o.parse::<ObjectRef>().map_err(|e| {
                    ApiError::bad_request("invalid_query", e.to_string()).with_field("object")
                })
            })
            .transpose()?;
        let text = |field: &str, value: &Option<String>| -> ApiResult<Option<String>> {
            match value.as_deref().map(str::trim) {
                Some(v) if v.is_empty() || v.len() > 200 => Err(ApiError::bad_request(
                    "invalid_query",
                    format!("{field} must be 1 to 200 characters"),
                )
                .with_field(field)),
                v => Ok(v.map(str::to_owned)),
            }
        };
        Ok(AuditQuery {
            from,
            to,
            filter: Filter {
                actor: text("actor", &self.actor)?,
                object,
                action: text("action", &self.action)?,
                org: org_query(self.org_id.as_deref())?,
            },
        })
    }
}

/// Who acted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// `user`, `api_key`, `system` or `anonymous`.
    pub kind: String,
    /// `usr_…`, `key_…`, or the system task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The actor's own organisation (customers' users and keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

/// One field that changed, its values as text, masked: secrets read `[secret]`, personal
/// data its first character and `***`; absent where the field did not exist.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

fn text(value: Option<serde_json::Value>) -> Option<String> {
    value.map(|v| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

/// One record of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecordView {
    /// `aud_…`
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: ActorView,
    /// The customer organisation the change concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The route (`POST /v1/orders`) or the system task's action.
    pub action: String,
    /// `kind:id` of the object changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub changes: Vec<ChangeView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The client's address, as the platform saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

impl From<AuditRecord> for AuditRecordView {
    fn from(r: AuditRecord) -> Self {
        let kind = match r.actor.kind {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        };
        Self {
            id: r.id.to_string(),
            at: r.at,
            actor: ActorView {
                kind: kind.to_owned(),
                id: r.actor.id,
                role: r.actor.role.map(|x| x.as_str().to_owned()),
                org_id: r.actor.org.map(|o| o.to_string()),
            },
            org_id: r.on_behalf_of.map(|o| o.to_string()),
            action: r.action,
            object: r.object.map(|o| o.to_string()),
            changes: r
                .changes
                .into_iter()
                .map(
                    |Change {
                         field,
                         before,
                         after,
                     }| ChangeView {
                        field,
                        before: text(before),
                        after: text(after),
                    },
                )
                .collect(),
            request_id: r.request_id,
            client: r.client,
        }
    }
}

/// Search the audit log, newest first (admins: every record; a customer's users and keys:
/// the records about their organisation).
#[utoipa::path(get, path = "/v1/audit-records", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, body = Paged<AuditRecordView>), (status = 400, body = kopek_http::problem::Problem), (status = 403, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn search(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<AuditParams>,
) -> ApiResult<Json<Paged<AuditRecordView>>> {
    let query = params.query(&state)?;
    let paging = ListQuery {
        limit: params.limit,
        cursor: params.cursor.clone(),
    }
    .paging(&state)?;
    let page = state
        .services
        .audit()
        .search(&caller, query, paging)
        .await?;
    Ok(Json(Paged::from_page(&state, page, AuditRecordView::from)))
}

/// A CSV file.
pub struct CsvFile;

impl utoipa::PartialSchema for CsvFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .content_media_type("text/csv")
            .into()
    }
}

impl ToSchema for CsvFile {}

/// The same search as CSV, every matching record (at most 20,000; a wider one is refused
/// naming `from`). `limit` and `cursor` are not taken.
#[utoipa::path(get, path = "/v1/audit-records.csv", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, content_type = "text/csv", body = CsvFile), (status = 400, body = kopek_http::problem::Problem), (status = 403, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn export(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<AuditParams>,
) -> ApiResult<impl IntoResponse> {
    for (field, given) in [
        ("limit", params.limit.is_some()),
        ("cursor", params.cursor.is_some()),
    ] {
        if given {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("the export takes every record; {field} is not taken"),
            )
            .with_field(field));
        }
    }
    let query = params.query(&state)?;
    let name = format!(
        "audit-{}-{}.csv",
        query.from.format("%Y%m%d"),
        query.to.format("%Y%m%d")
    );
    let csv = state.services.audit().export(&caller, query).await?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        name,
        csv.into_bytes(),
    ))
}
