//! `ref:{reference}` for `org_id`: wherever a route takes the customer — in its query, or as
//! the top-level `org_id` of a JSON body (a payment, a refund, a key) — a CRM may name it by
//! its own reference, the one `PUT /v1/customers/by-ref/{reference}` keeps it by. The
//! reference is looked up once (`Accounts::customer_by_ref`, billing staff and their keys)
//! and the request carries the organisation's id before any route reads it, so every such
//! route takes references without a line of its own. An unknown reference is not found, as
//! an unknown id is; anything else about the request is left to the route. Bodies are read
//! for this only when they declare JSON and are known to be at most 64 KiB.

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kopek_domain::accounts::Principal;

use crate::problem::ApiError;
use crate::state::AppState;

/// What marks a reference where an id is expected.
pub const PREFIX: &str = "ref:";

/// The largest body read for a reference.
const MAX_BODY: u64 = 64 * 1024;

/// The middleware; inside authentication (the lookup is the caller's).
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let request = match in_body(&state, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    in_query(state, request, next).await
}

/// The customer `reference` names, as the caller may see it.
async fn lookup(
    state: &AppState,
    caller: Option<&Principal>,
    reference: &str,
) -> Result<String, Response> {
    let Some(caller) = caller else {
        return Err(
            ApiError::unauthenticated("naming a customer by its reference needs a caller")
                .into_response(),
        );
    };
    state
        .services
        .accounts()
        .customer_by_ref(caller, reference)
        .await
        .map(|organisation| organisation.id.to_string())
        .map_err(|e| ApiError::from(e).with_field("org_id").into_response())
}

/// A JSON body's top-level `org_id` of `ref:…`, replaced by the organisation's id.
async fn in_body(state: &AppState, request: Request) -> Result<Request, Response> {
    // Its size as the body knows it (a Lambda event's body is whole; so is a test's).
    let small_json = crate::json::has_media_type(request.headers(), "application/json")
        && axum::body::HttpBody::size_hint(request.body())
            .upper()
            .is_some_and(|n| n <= MAX_BODY);
    if !small_json {
        return Ok(request);
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY as usize).await else {
        return Err(
            ApiError::bad_request("invalid_body", "the body could not be read").into_response(),
        );
    };
    // Most bodies name no reference: only those that hold `"ref:` are parsed here.
    let mentions = bytes.windows(PREFIX.len() + 1).any(|w| w == b"\"ref:");
    let named = mentions
        .then(|| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .flatten()
        .and_then(|v| {
            v.get("org_id")?
                .as_str()?
                .strip_prefix(PREFIX)
                .map(str::to_owned)
        });
    let Some(reference) = named else {
        return Ok(Request::from_parts(parts, axum::body::Body::from(bytes)));
    };
    let id = lookup(state, parts.extensions.get::<Principal>(), &reference).await?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    value["org_id"] = serde_json::Value::String(id);
    let rewritten = serde_json::to_vec(&value).unwrap_or_default();
    parts.headers.insert(
        axum::http::header::CONTENT_LENGTH,
        axum::http::HeaderValue::from(rewritten.len()),
    );
    Ok(Request::from_parts(
        parts,
        axum::body::Body::from(rewritten),
    ))
}

/// A query's `org_id=ref:…`, replaced by the organisation's id.
async fn in_query(state: AppState, mut request: Request, next: Next) -> Response {
    let Some(query) = request.uri().query() else {
        return next.run(request).await;
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let Some(reference) = pairs
        .iter()
        .find(|(name, value)| name == "org_id" && value.starts_with(PREFIX))
        .map(|(_, value)| value[PREFIX.len()..].to_owned())
    else {
        return next.run(request).await;
    };
    let id = match lookup(&state, request.extensions().get::<Principal>(), &reference).await {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let rewritten = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(name, value)| {
            if name == "org_id" {
                (name.as_str(), id.as_str())
            } else {
                (name.as_str(), value.as_str())
            }
        }))
        .finish();
    let mut parts = request.uri().clone().into_parts();
    let path = request.uri().path().to_owned();
    match format!("{path}?{rewritten}").parse() {
        Ok(path_and_query) => {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
        Err(_) => return ApiError::not_found().into_response(),
    }
    next.run(request).await
}
