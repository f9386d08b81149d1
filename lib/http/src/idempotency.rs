//! `Idempotency-Key` for every POST.
//!
//! The first request with a key claims it (scoped to the caller, so two callers' keys never
//! meet); its response is stored for 24 hours unless it was a server error. A retry with the
//! same key and the same method, path and body gets the stored response again, marked with
//! `Idempotent-Replayed: true`; the same key with another request is a 409
//! `idempotency_key_reused`; a retry while the first is still running is a 409
//! `idempotency_key_in_progress`.
//!
//! A kept response may hold a credential shown once (a new API key, session tokens), so its
//! body is sealed ([`crate::seal`]) before it is stored, bound to the caller's scope and key.

use crate::auth::caller_scope;
use crate::json::{body_limit, too_large};
use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kopek_services::idempotency::{Claim, MAX_STORED_BODY, StoredResponse};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

/// Checks a client's key: 1 to 255 visible ASCII characters.
fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
        .with_field("Idempotency-Key")
    };
    let text = value.to_str().map_err(|_| invalid())?;
    if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    Ok(text.to_owned())
}

fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update([0]);
    hash.update(path_and_query.as_bytes());
    hash.update([0]);
    hash.update(body);
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The middleware; runs after authentication so that keys are scoped to the caller.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(value) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    match handle(state, request, next, value).await {
        Ok(response) | Err(response) => response,
    }
}

async fn handle(
    state: AppState,
    request: Request,
    next: Next,
    value: HeaderValue,
) -> Result<Response, Response> {
    let key = parse_key(&value).map_err(IntoResponse::into_response)?;
    let scope = caller_scope(&request);
    let limit = body_limit(request.extensions());
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit).into_response())?;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let print = fingerprint(&parts.method, path, &bytes);
    let claim = state
        .services
        .idempotency()
        .claim(&scope, &key, &print)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    match claim {
        Claim::Replay(stored) => Ok(replay(&state, &scope, &key, stored)),
        Claim::Mismatch => Err(ApiError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )
        .with_field("Idempotency-Key")
        .into_response()),
        Claim::InProgress => Err(ApiError::conflict(
            "idempotency_key_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .with_field("Idempotency-Key")
        .into_response()),
        Claim::Fresh => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            Ok(remember(&state, &scope, &key, response).await)
        }
    }
}

/// Stores a finished response (or releases the key after a server error) and passes it on.
async fn remember(state: &AppState, scope: &str, key: &str, response: Response) -> Response {
    let records = state.services.idempotency();
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        let _ = records.release(scope, key).await;
        return ApiError::internal(&"response body could not be read").into_response();
    };
    if parts.status.is_server_error() || bytes.len() > MAX_STORED_BODY {
        if let Err(e) = records.release(scope, key).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
    } else {
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_owned(),
            body: state
                .sealer
                .seal(seal_context(scope, key).as_bytes(), &bytes),
        };
        if let Err(e) = records.complete(scope, key, &stored).await {
            // The work is done; a retry will see the claim in progress until it goes stale.
            tracing::warn!(error = %e, "could not store an idempotent response");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// What a kept body is bound to: it opens only for the record it was stored under.
fn seal_context(scope: &str, key: &str) -> String {
    format!("idempotency\0{scope}\0{key}")
}

fn replay(state: &AppState, scope: &str, key: &str, stored: StoredResponse) -> Response {
    let Some(body) = state
        .sealer
        .open(seal_context(scope, key).as_bytes(), &stored.body)
    else {
        return ApiError::internal(&"a kept response does not open with the current key")
            .into_response();
    };
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    if let Ok(ct) = HeaderValue::from_str(&stored.content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(parse_key(&HeaderValue::from_static("order-2026-11-25-0001")).is_ok());
        assert!(parse_key(&HeaderValue::from_static("")).is_err());
        assert!(parse_key(&HeaderValue::from_static("has space")).is_err());
        let long = "k".repeat(256);
        assert!(parse_key(&HeaderValue::from_str(&long).unwrap()).is_err());
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let a = fingerprint(&Method::POST, "/v1/x", b"{}");
        assert_eq!(a, fingerprint(&Method::POST, "/v1/x", b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, "/v1/y", b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, "/v1/x", b"{ }"));
        assert_ne!(a, fingerprint(&Method::PUT, "/v1/x", b"{}"));
    }
}
