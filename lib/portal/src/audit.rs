//! The audit log in the portal: admins search every record (by dates, actor, object, action,
//! customer), a customer's users see the records about their organisation; a page at a time,
//! newest first, and the same search as CSV. Each is the `Audit` method its
//! `/v1/audit-records*` route calls.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use kopek_domain::audit::{AuditRecord, Filter, ObjectRef};
use kopek_http::ApiError;
use kopek_http::download::attachment;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::audit::AuditQuery;
use serde::Deserialize;

use crate::i18n::Lang;
use crate::pages::{Frame, PageError};
use crate::session::Viewer;

/// How many records a page shows.
const PAGE: i32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct AuditSearch {
    from: Option<String>,
    to: Option<String>,
    actor: Option<String>,
    object: Option<String>,
    action: Option<String>,
    org: Option<String>,
    cursor: Option<String>,
    format: Option<String>,
}

pub struct ChangeRow {
    pub field: String,
    pub before: String,
    pub after: String,
}

pub struct RecordRow {
    pub at: String,
    pub actor: String,
    pub org: String,
    pub action: String,
    pub object: String,
    pub changes: Vec<ChangeRow>,
    pub origin: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    f: Frame,
    /// Whether the viewer searches every organisation (admins).
    admin: bool,
    from: String,
    to: String,
    actor: String,
    object: String,
    action: String,
    org: String,
    rows: Vec<RecordRow>,
    /// The query of this search, for the CSV link and the next page.
    query: String,
    next: Option<String>,
}

fn shown(value: &Option<serde_json::Value>) -> String {
    match value {
        None => "—".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn row(r: AuditRecord) -> RecordRow {
    let role = r
        .actor
        .role
        .map(|x| format!(" ({})", x.as_str()))
        .unwrap_or_default();
    RecordRow {
        at: r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        actor: format!("{}{role}", r.actor.text()),
        org: r.on_behalf_of.map(|o| o.to_string()).unwrap_or_default(),
        action: r.action,
        object: r.object.map(|o| o.to_string()).unwrap_or_default(),
        changes: r
            .changes
            .iter()
            .map(|c| ChangeRow {
                field: c.field.clone(),
                before: shown(&c.before),
                after: shown(&c.after),
            })
            .collect(),
        origin: [r.request_id, r.client]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
    }
}

fn field_text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn date(lang: Lang, field: &str, text: &Option<String>) -> Result<Option<NaiveDate>, PageError> {
    field_text(text)
        .map(|t| {
            t.parse().map_err(|_| {
                PageError::of(
                    lang,
                    ApiError::validation(field.to_owned(), "a date as YYYY-MM-DD"),
                )
            })
        })
        .transpose()
}

/// The search page (`GET /v1/audit-records`), or its CSV (`format=csv`,
/// `GET /v1/audit-records.csv`).
pub async fn search(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AuditSearch>,
) -> Result<Response, PageError> {
    let lang = viewer.lang;
    let today = state.today();
    let to = date(lang, "to", &q.to)?.unwrap_or(today);
    let from = date(lang, "from", &q.from)?.unwrap_or(to - Duration::days(30));
    let object = field_text(&q.object)
        .map(|o| {
            o.parse::<ObjectRef>()
                .map_err(|e| PageError::of(lang, ApiError::validation("object", e.to_string())))
        })
        .transpose()?;
    let org = field_text(&q.org)
        .map(|o| {
            o.parse()
                .map_err(|_| PageError::of(lang, kopek_services::Error::NotFound))
        })
        .transpose()?;
    let query = AuditQuery {
        from: from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
        // The whole of the last day.
        to: (to + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc(),
        filter: Filter {
            actor: field_text(&q.actor),
            object: object.clone(),
            action: field_text(&q.action),
            org,
        },
    };
    let audit = state.services.audit();
    if q.format.as_deref() == Some("csv") {
        let csv = audit
            .export(&viewer.principal, query)
            .await
            .map_err(|e| PageError::of(lang, e))?;
        let name = format!(
            "audit-{}-{}.csv",
            from.format("%Y%m%d"),
            to.format("%Y%m%d")
        );
        return Ok(attachment("text/csv; charset=utf-8", name, csv.into_bytes()).into_response());
    }
    let start = q
        .cursor
        .as_deref()
        .map(|c| state.cursors.decode(c))
        .transpose()
        .map_err(|e| PageError::of(lang, e))?;
    let page = audit
        .search(&viewer.principal, query, Paging::new(PAGE, start))
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let mut pairs = vec![("from", from.to_string()), ("to", to.to_string())];
    for (name, value) in [
        ("actor", field_text(&q.actor)),
        ("object", object.as_ref().map(ToString::to_string)),
        ("action", field_text(&q.action)),
        ("org", field_text(&q.org)),
    ] {
        if let Some(v) = value {
            pairs.push((name, v));
        }
    }
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let next = page.next.as_ref().map(|k| {
        form_urlencoded::Serializer::new(encoded.clone())
            .append_pair("cursor", &state.cursors.encode(k))
            .finish()
    });
    Ok(AuditPage {
        f: Frame::of(&viewer, "/portal/audit"),
        admin: viewer.principal.org().is_none(),
        from: from.to_string(),
        to: to.to_string(),
        actor: field_text(&q.actor).unwrap_or_default(),
        object: object.map(|o| o.to_string()).unwrap_or_default(),
        action: field_text(&q.action).unwrap_or_default(),
        org: field_text(&q.org).unwrap_or_default(),
        rows: page.items.into_iter().map(row).collect(),
        query: encoded,
        next,
    }
    .into_response())
}
