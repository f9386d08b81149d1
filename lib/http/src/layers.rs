//! The middleware stack every router gets, and how a router runs in Lambda.
//!
//! From the outside in: a request id (the client's `x-request-id` if it sent a sane one,
//! otherwise a fresh ULID; echoed on the response), a tracing span carrying it, the
//! authentication of the `Authorization` header, the `Idempotency-Key` handling, a customer
//! named by its reference (`org_id=ref:…`), and the audit scope of every state-changing
//! request.
//! Unknown routes and methods answer with problem documents too.

use crate::problem::ApiError;
use crate::state::AppState;
use crate::{audit, auth, idempotency, refs};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, map_request};
use std::net::IpAddr;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's network address, as the platform saw it (API Gateway's `sourceIp`, or the
/// TCP peer locally). Never read from a client-controlled header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Where Kopek's paths start as the browser sees them: `/{stage}` under an API Gateway stage
/// other than `$default`, after `KOPEK_BASE_PATH` (a custom domain's API mapping, which API
/// Gateway strips before the function sees the path). Empty at the root. Pages put it before
/// every link they write; routing never sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BasePath(pub String);

impl BasePath {
    /// `mapping` (a custom domain's path, with or without slashes) and `stage` joined.
    pub fn of(mapping: Option<&str>, stage: Option<&str>) -> BasePath {
        let mut base = String::new();
        for part in [mapping, stage.filter(|s| *s != "$default")]
            .into_iter()
            .flatten()
            .flat_map(|p| p.split('/'))
            .filter(|p| !p.is_empty())
        {
            base.push('/');
            base.push_str(part);
        }
        BasePath(base)
    }
}

#[derive(Clone, Copy, Default)]
struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, request: &axum::http::Request<B>) -> Option<RequestId> {
        let sane = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        let id = match sane {
            Some(v) => v.to_owned(),
            None => format!("req_{}", ulid::Ulid::new()),
        };
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Wraps `routes` in the common stack and gives it problem+json fallbacks.
pub fn with_common_layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this method is not allowed here")
        })
        .layer(from_fn_with_state(state.clone(), audit::middleware))
        .layer(from_fn_with_state(state.clone(), refs::middleware))
        .layer(from_fn_with_state(state.clone(), idempotency::middleware))
        .layer(from_fn_with_state(state.clone(), auth::middleware))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path(), principal = tracing::field::Empty)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, UlidRequestId))
        .with_state(state)
}

/// `/{stage}/rest` → `/rest` (and `/{stage}` → `/`), the query kept.
fn strip_stage<B>(request: &mut axum::http::Request<B>, stage: &str) {
    let uri = request.uri();
    let prefix = format!("/{stage}");
    let Some(rest) = uri.path().strip_prefix(&prefix) else {
        return;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
}

/// The whole of an HTTP function's cold start after its configuration is read: the runtime
/// asks for its first event at once, and the first request builds the router — `start` makes
/// the services and reads the token key ([`kopek_services::HttpStart::load`]: the SDK clients
/// with their TLS roots, Secrets Manager), `app` routes them. Every later request finds the
/// router built; if building it failed (the key could not be read), the next request builds
/// it again.
///
/// Built on the first request, not in a task beside the runtime's start: measured
/// (BENCHMARKS.md, "Lean functions"), a build running beside the start competes with it for
/// the cores and delays the first `next` by 1–2 ms (half the floor), while the first
/// response gains nothing — Lambda freezes a function once it waits for an event, so the
/// build could only overlap the start's last millisecond anyway.
pub async fn run_http_function(
    start: kopek_services::HttpStart,
    app: fn(AppState) -> Router,
) -> Result<(), lambda_http::Error> {
    let start = std::sync::Arc::new(start);
    let build = move || {
        let start = start.clone();
        async move {
            let (services, key) = start.load().await?;
            Ok::<Router, lambda_http::Error>(app(AppState::new(
                services,
                key.expose(),
                start.access_token_ttl(),
            )))
        }
    };
    let router: std::sync::Arc<tokio::sync::OnceCell<Router>> = std::sync::Arc::default();
    let deferred = tower::service_fn(move |request: lambda_http::Request| {
        let (router, build) = (router.clone(), build.clone());
        async move {
            let router = router.get_or_try_init(build).await?;
            let response = tower::ServiceExt::oneshot(router.clone(), request).await?;
            Ok::<_, lambda_http::Error>(response)
        }
    });
    run_lambda_service(deferred).await
}

/// Runs `router` as an AWS Lambda function behind API Gateway (HTTP API, payload v2): the
/// caller's [`ClientAddr`] and the [`BasePath`] come from the request context.
///
/// Under a named stage the path API Gateway sends starts with the stage (lambda_http keeps
/// it): it is taken off here, so routes match the same under any stage, and kept in
/// [`BasePath`] for the links pages write.
pub async fn run_lambda(router: Router) -> Result<(), lambda_http::Error> {
    run_lambda_service(router).await
}

/// [`run_lambda`] over any service answering requests as a router does.
async fn run_lambda_service<S>(router: S) -> Result<(), lambda_http::Error>
where
    S: tower::Service<
            lambda_http::Request,
            Response = axum::response::Response,
            Error: Into<lambda_http::Error>
                       + Into<lambda_http::lambda_runtime::Diagnostic>
                       + std::fmt::Debug,
            Future: Send,
        > + Send
        + 'static,
{
    use lambda_http::RequestExt;
    let mapping = std::env::var("KOPEK_BASE_PATH").ok();
    // Around the router, not inside it: the path is rewritten before a route is chosen.
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut request: lambda_http::Request| {
            let (source, stage) = match request.request_context_ref() {
                Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => (
                    ctx.http
                        .source_ip
                        .as_deref()
                        .and_then(|ip| ip.parse::<IpAddr>().ok()),
                    ctx.stage.clone(),
                ),
                _ => (None, None),
            };
            if let Some(ip) = source {
                request.extensions_mut().insert(ClientAddr(ip));
            }
            if let Some(stage) = stage.as_deref().filter(|s| *s != "$default") {
                strip_stage(&mut request, stage);
            }
            let base = BasePath::of(mapping.as_deref(), stage.as_deref());
            request.extensions_mut().insert(base);
            request
        })
        .service(router);
    lambda_http::run(service).await
}

/// Serves `router` over plain HTTP on `listener`, as the local stack does: the TCP peer is the
/// [`ClientAddr`], as API Gateway's `sourceIp` is in Lambda. Returns when `shutdown` completes.
pub async fn serve_local(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let router = router.layer(map_request(|mut request: Request| async move {
        if let Some(ConnectInfo(peer)) = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
        {
            request.extensions_mut().insert(ClientAddr(peer.ip()));
        }
        request
    }));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use super::{BasePath, strip_stage};

    #[test]
    fn a_named_stage_is_taken_off_the_path_and_the_query_kept() {
        let mut request = axum::extract::Request::new(axum::body::Body::empty());
        *request.uri_mut() = "/prod/portal/statement?from=2026-01-01".parse().unwrap();
        strip_stage(&mut request, "prod");
        assert_eq!(request.uri(), "/portal/statement?from=2026-01-01");
        *request.uri_mut() = "/prod".parse().unwrap();
        strip_stage(&mut request, "prod");
        assert_eq!(request.uri(), "/");
        *request.uri_mut() = "/production/x".parse().unwrap();
        strip_stage(&mut request, "prod");
        assert_eq!(request.uri(), "/production/x", "only the whole segment");
    }

    #[test]
    fn the_base_path_joins_a_mapping_and_a_named_stage() {
        assert_eq!(BasePath::of(None, None).0, "");
        assert_eq!(BasePath::of(None, Some("$default")).0, "");
        assert_eq!(BasePath::of(None, Some("prod")).0, "/prod");
        assert_eq!(
            BasePath::of(Some("/billing/"), Some("$default")).0,
            "/billing"
        );
        assert_eq!(BasePath::of(Some("billing"), Some("v2")).0, "/billing/v2");
    }
}
