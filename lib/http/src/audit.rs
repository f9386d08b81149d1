//! The audit middleware: every POST, PUT, PATCH and DELETE — of the API and of the portal —
//! runs as one audited action ([`kopek_services::audit::scope`]): its route, request id,
//! client address and caller go into the record the store writes with its first change.
//!
//! A state-changing request that succeeds without having written its record with a change
//! in the table — it queued work, filed a file, or set what was already so — gets its record
//! written on its own once it has answered; only a use case that says it changed nothing
//! ([`kopek_services::audit::unchanged`]: a preview, a repeat) has none. A success that still
//! has no record (the write failed) is logged as an error, and fails the request where the
//! deployment is strict (`KOPEK_AUDIT_STRICT`: tests and the local stack). The response
//! carries the record's id in `kopek-audit-id`.
//!
//! With `KOPEK_AUDIT_TRACE` set (tests only) each such request's route, status and outcome
//! is appended to that file: a test then walks the OpenAPI document against it.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kopek_domain::accounts::Principal;
use kopek_services::audit::{self, Action, Actor, Outcome};

use crate::layers::{ClientAddr, REQUEST_ID};
use crate::problem::ApiError;
use crate::state::AppState;

/// The header naming the audit record a response's change wrote.
pub const AUDIT_ID: HeaderName = HeaderName::from_static("kopek-audit-id");

/// Whether `method` changes state by its definition.
pub fn changes_state(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The middleware; inside authentication, so that the caller is known.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !changes_state(request.method()) {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let action = format!("{} {route}", request.method());
    let context = Action {
        actor: request
            .extensions()
            .get::<Principal>()
            .map(Actor::of)
            .unwrap_or_else(Actor::anonymous),
        action: action.clone(),
        request_id: request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client: request
            .extensions()
            .get::<ClientAddr>()
            .map(|ClientAddr(ip)| ip.to_string()),
    };
    let audit_log = state.services.audit();
    let work = async {
        let response = next.run(request).await;
        let status = response.status();
        // Succeeded without a change in the table (work queued, a file filed, a setting set
        // to what it was): the record is written now, on its own.
        if (status.is_success() || status.is_redirection())
            && audit::waiting()
            && let Err(e) = audit_log.record_alone().await
        {
            tracing::error!(error = %e, "the audit record could not be written");
        }
        response
    };
    let (mut response, outcome) = audit::scope(&state.services, context, work).await;
    let status = response.status();
    trace(&action, status.as_u16(), outcome);
    match outcome {
        Outcome::Written(id) | Outcome::WrittenAlone(id) => {
            if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
                response.headers_mut().insert(AUDIT_ID, value);
            }
        }
        Outcome::Nothing if status.is_success() || status.is_redirection() => {
            tracing::error!(
                action,
                "a state-changing request succeeded without an audit record"
            );
            if state.services.settings().audit_strict {
                return ApiError::internal(&format!("{action} wrote no audit record"))
                    .into_response();
            }
        }
        Outcome::Nothing | Outcome::Unchanged => {}
    }
    response
}

/// Appends `action status outcome` to `KOPEK_AUDIT_TRACE`, if set.
fn trace(action: &str, status: u16, outcome: Outcome) {
    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        let path = std::env::var_os("KOPEK_AUDIT_TRACE")?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
            .map(Mutex::new)
    });
    if let Some(file) = file {
        let word = match outcome {
            Outcome::Written(_) => "written",
            Outcome::WrittenAlone(_) => "alone",
            Outcome::Unchanged => "unchanged",
            Outcome::Nothing => "nothing",
        };
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        // One write per line, appended: processes sharing the file never interleave a line.
        let _ = file.write_all(format!("{action}\t{status}\t{word}\n").as_bytes());
    }
}
