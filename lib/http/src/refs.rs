//! `org_id=ref:{reference}`: wherever a route takes the customer in its query, a CRM may name
//! it by its own reference — the one `PUT /v1/customers/by-ref/{reference}` keeps it by. The
//! reference is looked up once (`Accounts::customer_by_ref`, billing staff and their keys)
//! and the query carries the organisation's id before any route reads it, so every such
//! route takes references without a line of its own. An unknown reference is not found, as
//! an unknown id is; anything else about the query is left to the route.

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kopek_domain::accounts::Principal;

use crate::problem::ApiError;
use crate::state::AppState;

/// What marks a reference where an id is expected.
pub const PREFIX: &str = "ref:";

/// The middleware; inside authentication (the lookup is the caller's).
pub async fn middleware(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
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
    let Some(caller) = request.extensions().get::<Principal>().cloned() else {
        return ApiError::unauthenticated("naming a customer by its reference needs a caller")
            .into_response();
    };
    let organisation = match state
        .services
        .accounts()
        .customer_by_ref(&caller, &reference)
        .await
    {
        Ok(organisation) => organisation,
        Err(e) => return ApiError::from(e).with_field("org_id").into_response(),
    };
    let id = organisation.id.to_string();
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
