//! The portal's paths as the browser sees them. Behind an API Gateway stage or a custom
//! domain's mapping (`kopek_http::layers::BasePath`, set where the function runs) every link,
//! redirect and cookie path starts with that prefix; the routes themselves never see it.
//! [`scope`] makes the request's prefix known to everything that writes one while it is
//! handled, and [`url`] puts it before a path.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use kopek_http::layers::BasePath;

tokio::task_local! {
    static BASE: String;
}

/// Handles the request with its base path known ([`url`], [`prefix`]).
pub async fn scope(request: Request, next: Next) -> Response {
    let base = request
        .extensions()
        .get::<BasePath>()
        .map(|b| b.0.clone())
        .unwrap_or_default();
    BASE.scope(base, next.run(request)).await
}

/// The prefix of this request's paths (empty at the root).
pub fn prefix() -> String {
    BASE.try_with(Clone::clone).unwrap_or_default()
}

/// `path` (`/portal/…`) as the browser reaches it.
pub fn url(path: &str) -> String {
    format!("{}{path}", prefix())
}
