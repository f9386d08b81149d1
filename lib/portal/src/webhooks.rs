//! Webhook endpoints in the portal (admins): every endpoint with its state; registering one
//! (its secret shown on that page only); one endpoint's delivery log with every attempt;
//! enabling, disabling, a new secret with an overlap, a ping, replaying one delivery or
//! everything since a time, deleting. Each is the `Webhooks` method its
//! `/v1/webhook-endpoints*` route calls.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDateTime, TimeZone};
use kopek_domain::ids::{DeliveryId, WebhookId};
use kopek_domain::webhooks::{
    Delivery, DeliveryStatus, Endpoint, EndpointUrl, EventFilter, EventType,
};
use kopek_http::ApiError;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::webhooks::{EndpointChange, NewEndpoint};

use crate::form::{Fields, Posted, then};
use crate::i18n::Lang;
use crate::pages::{Frame, PageError};
use crate::session::Viewer;

pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub types: String,
    pub enabled: bool,
    pub state: String,
}

fn row(e: &Endpoint, lang: Lang) -> EndpointRow {
    let state = match (&e.disabled_reason, e.enabled, e.failing_since) {
        (Some(reason), _, _) => format!("{}: {reason}", lang.pick("отключён", "disabled")),
        (None, false, _) => lang.pick("выключен", "switched off").to_owned(),
        (None, true, Some(since)) => format!(
            "{} {}",
            lang.pick("не принимает с", "failing since"),
            lang.date(since.date_naive())
        ),
        (None, true, None) => lang.pick("работает", "working").to_owned(),
    };
    EndpointRow {
        id: e.id.to_string(),
        url: e.url.to_string(),
        description: e.description.clone(),
        types: if e.types.types().is_empty() {
            lang.pick("все", "all").to_owned()
        } else {
            e.types
                .types()
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        enabled: e.enabled,
        state,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_webhooks.html")]
pub struct WebhooksPage {
    f: Frame,
    rows: Vec<EndpointRow>,
    /// The event types to choose from.
    types: Vec<&'static str>,
    /// A new endpoint's secret, on the page that registered it only.
    secret: Option<(String, String)>,
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    secret: Option<(String, String)>,
) -> Result<WebhooksPage, PageError> {
    let lang = viewer.lang;
    let endpoints = state
        .services
        .webhooks()
        .list(&viewer.principal)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(WebhooksPage {
        f: Frame::of(viewer, "/portal/admin/webhooks"),
        rows: endpoints.iter().map(|e| row(e, lang)).collect(),
        types: EventType::ALL
            .iter()
            .filter(|t| **t != EventType::Ping)
            .map(|t| t.as_str())
            .collect(),
        secret,
    })
}

/// Every endpoint, and the form to register one.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<WebhooksPage, PageError> {
    list_page(&state, &viewer, None).await
}

/// The event types a form chose (none: every type).
fn chosen_types(fields: &Fields) -> Result<EventFilter, ApiError> {
    EventFilter::parse(&fields.all("types")).map_err(|e| ApiError::validation("types", e.reason))
}

/// Registers an endpoint (`POST /v1/webhook-endpoints`) and shows its secret, once.
pub async fn create(State(state): State<AppState>, Posted { viewer, fields }: Posted) -> Response {
    let lang = viewer.lang;
    let new = (|| {
        Ok::<_, ApiError>(NewEndpoint {
            url: EndpointUrl::parse(&fields.get("url").unwrap_or_default())
                .map_err(|e| ApiError::validation("url", e.reason))?,
            description: fields.get("description").unwrap_or_default(),
            types: chosen_types(&fields)?,
            enabled: true,
        })
    })();
    let new = match new {
        Ok(new) => new,
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    match state
        .services
        .webhooks()
        .create(&viewer.principal, new)
        .await
    {
        Ok(created) => {
            let shown = (created.endpoint.id.to_string(), created.secret);
            match list_page(&state, &viewer, Some(shown)).await {
                Ok(page) => page.into_response(),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => PageError::of(lang, e).into_response(),
    }
}

pub struct AttemptRow {
    pub at: String,
    pub status: String,
    pub ms: u64,
    pub answer: String,
}

pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub kind: String,
    pub status: String,
    pub next: String,
    pub attempts: Vec<AttemptRow>,
}

fn delivery_row(d: &Delivery, lang: Lang) -> DeliveryRow {
    let when = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    DeliveryRow {
        id: d.id.to_string(),
        event: d.event.to_string(),
        kind: d.kind.to_string(),
        status: match d.status {
            DeliveryStatus::Pending => lang.pick("в очереди", "queued"),
            DeliveryStatus::Retrying => lang.pick("повтор", "retrying"),
            DeliveryStatus::Succeeded => lang.pick("доставлено", "delivered"),
            DeliveryStatus::Failed => lang.pick("не доставлено", "failed"),
        }
        .to_owned(),
        next: d.next_attempt_at.map(when).unwrap_or_default(),
        attempts: d
            .attempts
            .iter()
            .rev()
            .map(|a| AttemptRow {
                at: when(a.at),
                status: a
                    .status_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "—".into()),
                ms: a.duration_ms,
                answer: a.error.clone().unwrap_or_else(|| a.response.clone()),
            })
            .collect(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_webhook.html")]
pub struct WebhookPage {
    f: Frame,
    e: EndpointRow,
    deliveries: Vec<DeliveryRow>,
    next: Option<String>,
    /// A rotated secret, on the page that rotated it only.
    secret: Option<String>,
}

async fn endpoint_page(
    state: &AppState,
    viewer: &Viewer,
    id: WebhookId,
    cursor: Option<String>,
    secret: Option<String>,
) -> Result<WebhookPage, PageError> {
    let lang = viewer.lang;
    let webhooks = state.services.webhooks();
    let endpoint = webhooks
        .get(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let start = crate::pages::cursor_of(state, lang, cursor.as_deref())?;
    let page = webhooks
        .deliveries(&viewer.principal, id, Paging::new(25, start))
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let here = format!("/portal/admin/webhooks/{id}");
    Ok(WebhookPage {
        f: Frame::of(viewer, "/portal/admin/webhooks"),
        e: row(&endpoint, lang),
        deliveries: page.items.iter().map(|d| delivery_row(d, lang)).collect(),
        next: crate::pages::next_link(state, &here, page.next),
        secret,
    })
}

#[derive(serde::Deserialize)]
pub struct Cursor {
    cursor: Option<String>,
}

/// One endpoint: its state, its actions and its delivery log, newest first.
pub async fn endpoint(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<Cursor>,
) -> Result<WebhookPage, PageError> {
    let id = id
        .parse()
        .map_err(|_| PageError::of(viewer.lang, kopek_services::Error::NotFound))?;
    endpoint_page(&state, &viewer, id, query.cursor, None).await
}

/// The time a form gives (`datetime-local`, the provider's time zone) as an instant.
fn since(state: &AppState, text: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .map_err(|_| ApiError::validation("since", "a date and time, YYYY-MM-DDTHH:MM"))?;
    state
        .services
        .calendar()
        .zone()
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.to_utc())
        .ok_or_else(|| ApiError::validation("since", "no such time in the provider's zone"))
}

/// An endpoint's action: `enable`, `disable`, `rotate` (with `overlap_hours`), `ping`,
/// `replay` (with `since`), `delete`.
pub async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let Ok(id) = id.parse::<WebhookId>() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let webhooks = state.services.webhooks();
    let caller = &viewer.principal;
    let back = format!("/portal/admin/webhooks/{id}");
    match action.as_str() {
        "enable" | "disable" => {
            let change = EndpointChange {
                enabled: Some(action == "enable"),
                ..EndpointChange::default()
            };
            then(lang, webhooks.update(caller, id, change).await, |_| back)
        }
        "rotate" => {
            let hours: u64 = match fields.parsed("overlap_hours", "hours, 0 to 168") {
                Ok(h) => h,
                Err(e) => return PageError::of(lang, e).into_response(),
            };
            let overlap = Duration::from_secs(hours.saturating_mul(3600));
            match webhooks.rotate_secret(caller, id, overlap).await {
                Ok(rotated) => {
                    match endpoint_page(&state, &viewer, id, None, Some(rotated.secret)).await {
                        Ok(page) => page.into_response(),
                        Err(e) => e.into_response(),
                    }
                }
                Err(e) => PageError::of(lang, e).into_response(),
            }
        }
        "ping" => then(lang, webhooks.ping(caller, id).await, |_| back),
        "replay" => {
            let from = match since(&state, &fields.get("since").unwrap_or_default()) {
                Ok(t) => t,
                Err(e) => return PageError::of(lang, e).into_response(),
            };
            then(lang, webhooks.replay_since(caller, id, from).await, |_| {
                back
            })
        }
        "delete" => then(lang, webhooks.delete(caller, id).await, |_| {
            "/portal/admin/webhooks".to_owned()
        }),
        _ => PageError::of(lang, kopek_services::Error::NotFound).into_response(),
    }
}

/// Replays one delivery now.
pub async fn replay(
    State(state): State<AppState>,
    Path((id, delivery)): Path<(String, String)>,
    Posted { viewer, .. }: Posted,
) -> Response {
    let lang = viewer.lang;
    let (Ok(id), Ok(delivery)) = (id.parse::<WebhookId>(), delivery.parse::<DeliveryId>()) else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let done = state
        .services
        .webhooks()
        .replay(&viewer.principal, id, delivery)
        .await;
    then(lang, done, |_| format!("/portal/admin/webhooks/{id}"))
}
