//! Kopek's HTTP API: one axum router per HTTP Lambda function, and the OpenAPI document of
//! the whole API. Handlers only translate: they read the request (wire types, `params`,
//! `paging`), call one method of a service of `kopek_services` with the caller, and render
//! the result as a view. This crate does not depend on the AWS adapters: no handler can reach
//! the store.
//!
//! | module | function (`functions/…`) | paths |
//! |--------|--------------------------|-------|
//! | [`accounts`], [`webhooks`], [`audit`] | `accounts-api` | `/v1/auth/*`, `/v1/me`, `/v1/organisations*`, `/v1/customers/*`, `/v1/staff-users*`, `/v1/api-keys*`, `/v1/webhook-endpoints*`, `/v1/events`, `/v1/audit-records*` |
//! | `kopek_portal` | `portal` | `/portal*` (the web portal's pages) |
//! | `kopek_portal` (its file pages) | `portal-files` | `/portal/{documents/{id}/{what}, packages/{id}/download, archives/*, statement, reports*, bank*, admin/templates*}` |
//! | [`catalog`] | `catalog-api` | `/v1/catalog/*`, `/v1/openapi.json` |
//! | [`orders`], [`subscriptions`], [`work`] | `order-intake` | `/v1/orders*`, `/v1/charges`, `/v1/subscriptions*`, `/v1/work/*`, and the portal's `/portal/work/batches/{id}/sheet.pdf` |
//! | [`usage`] | `usage-api` | `/v1/usage*` |
//! | [`billing`] | `billing-api` | `/v1/periods*` (the close), `/v1/invoices*`, `/v1/credit-notes/*`, `/v1/billing/*` (settings, payments, ledger, dunning, the statement of account) |
//! | [`billing`] (its file routes) | `files-api` | `/v1/documents*`, `/v1/signings/*`, `/v1/packages*`, `/v1/archives/*`, `/v1/periods/{period}/{documents, signings, packages, archives}`, `/v1/billing/{signing-certificate, reports*, templates/*, statements*, statement-uploads*, statement-review, payer-accounts}` |
//!
//! Routes and their OpenAPI operations are registered together (`utoipa_axum::routes!`), so
//! the document cannot list a route the router does not serve, nor miss one it does.
//! The local stack serves [`local_app`]: every function's routes on one port.
//!
//! Every body is limited to 64 KiB ([`kopek_http::json::MAX_BODY_BYTES`]) except the usage
//! uploads (`usage::body_limit`) and bank statements (`billing::statements::body_limit`):
//! `with_upload_limits` marks those requests with their [`BodyLimit`] before any middleware
//! reads a body, in every router that serves them.

pub mod accounts;
pub mod audit;
pub mod billing;
pub mod catalog;
pub mod money;
pub mod orders;
mod paging;
mod params;

pub mod subscriptions;
pub mod usage;
pub mod webhooks;
pub mod work;

use axum::Router;
use axum::extract::Request;
use axum::middleware::map_request;
use axum::routing::get;
use kopek_http::json::BodyLimit;
use kopek_http::layers::with_common_layers;
use kopek_http::state::AppState;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kopek API",
        version = "1.0.0",
        description = "Billing for companies that sell many small, regular services. Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code` and the `field` they are about. Every POST honours an `Idempotency-Key` header. Lists are paged with opaque cursors."
    ),
    modifiers(&BearerAuth),
    components(schemas(kopek_http::problem::Problem)),
    tags(
        (name = "auth", description = "Registration, sign-in, sessions, passwords"),
        (name = "organisations", description = "Customer organisations and their users"),
        (name = "staff", description = "The provider's staff"),
        (name = "api-keys", description = "Keys for machine clients (CRM, usage producers)"),
        (name = "catalog", description = "Services, price versions and the price calculator"),
        (name = "orders", description = "Orders, their lines and history; charges of a period"),
        (name = "subscriptions", description = "Subscriptions to recurring services, prorated by day"),
        (name = "work", description = "Work queues and batches for engineers"),
        (name = "usage", description = "Metered usage: reporting it, the customer's view with estimated prices, ingestion health and rejected events"),
        (name = "billing", description = "The period close, invoices, credit notes, payments received and credit, balances from the ledger, and billing settings"),
        (name = "documents", description = "Closing documents: invoices for payment and acts as PDF, their signatures, a period's documents"),
        (name = "audit", description = "The audit log of every state-changing action (read-only): searched by time, actor, object and action, exported as CSV; a customer sees the records about its own organisation"),
        (name = "webhooks", description = "Webhook endpoints (Standard Webhooks: signed, retried for about three days, replayable), their delivery log, and the events feed for CRMs that poll. The events themselves are in this document's `webhooks` section"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("An access token from sign-in, or an API key (`kpk_…`).".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

fn base() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
}

/// The OpenAPI document of the whole API (every function's routes), with the answers of the
/// shared layers ([`kopek_http::openapi::CommonAnswers`]) on every operation.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = base()
        .merge(accounts_routes())
        .merge(catalog::routes())
        .merge(order_intake_routes())
        .merge(usage::routes())
        .merge(billing::routes())
        .merge(billing::file_routes())
        .split_for_parts();
    kopek_http::openapi::CommonAnswers.modify(&mut doc);
    params::ReadingAnswers.modify(&mut doc);
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in webhooks::data_schemas() {
        components.schemas.insert(name, schema);
    }
    doc.extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".into(), webhooks::webhooks_section());
    doc
}

fn accounts_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(accounts::routes())
        .merge(webhooks::routes())
        .merge(audit::routes())
}

fn order_intake_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(orders::routes())
        .merge(subscriptions::routes())
        .merge(work::routes())
}

/// The OpenAPI document as served: [`openapi`] written out ahead of time
/// (`lib/api/openapi.json`, kept equal to it by this crate's test
/// `the_served_document_is_the_api_as_built`), so the function that serves it neither builds
/// it at start nor links every other function's routes to do so.
pub const OPENAPI_DOCUMENT: &str = include_str!("../openapi.json");

fn serve_openapi(router: Router<AppState>) -> Router<AppState> {
    router.route(
        "/v1/openapi.json",
        get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                OPENAPI_DOCUMENT,
            )
        }),
    )
}

/// The `accounts-api` function's router.
pub fn accounts_app(state: AppState) -> Router {
    let (router, _) = base().merge(accounts_routes()).split_for_parts();
    with_common_layers(router, state)
}

/// The `portal` function's router: the web portal's pages, behind the same layers as the API
/// (the session is checked in the same store; forms' bodies are limited the same way).
pub fn portal_app(state: AppState) -> Router {
    with_common_layers(kopek_portal::pages_routes(), state)
}

/// The `portal-files` function's router: the portal's pages that move files (downloads,
/// statements of account, report PDFs, bank statements, templates; the work sheet PDF is
/// `order-intake`'s).
pub fn portal_files_app(state: AppState) -> Router {
    with_common_layers(kopek_portal::files_routes(), state)
}

/// The `catalog-api` function's router (it also serves `/v1/openapi.json`).
pub fn catalog_app(state: AppState) -> Router {
    let (router, _) = base().merge(catalog::routes()).split_for_parts();
    with_common_layers(serve_openapi(router), state)
}

/// The `order-intake` function's router, with the portal's work sheet PDF (made by the same
/// code as the API's, so that neither portal function links the PDF writer).
pub fn order_intake_app(state: AppState) -> Router {
    let (router, _) = base().merge(order_intake_routes()).split_for_parts();
    with_common_layers(router.merge(kopek_portal::work_sheet_routes()), state)
}

/// The `usage-api` function's router.
pub fn usage_app(state: AppState) -> Router {
    let (router, _) = base().merge(usage::routes()).split_for_parts();
    with_upload_limits(with_common_layers(router, state))
}

/// The `billing-api` function's router.
pub fn billing_app(state: AppState) -> Router {
    let (router, _) = base().merge(billing::routes()).split_for_parts();
    with_common_layers(router, state)
}

/// The `files-api` function's router: billing's routes that move files (documents, packages,
/// archives, report PDFs, templates, bank statements), with the statements' upload limit.
pub fn files_app(state: AppState) -> Router {
    let (router, _) = base().merge(billing::file_routes()).split_for_parts();
    with_upload_limits(with_common_layers(router, state))
}

/// Every function's routes on one router, as the local stack serves them.
pub fn local_app(state: AppState) -> Router {
    let (router, _) = base()
        .merge(accounts_routes())
        .merge(catalog::routes())
        .merge(order_intake_routes())
        .merge(usage::routes())
        .merge(billing::routes())
        .merge(billing::file_routes())
        .split_for_parts();
    let router = serve_openapi(router).merge(kopek_portal::routes()).route(
        "/",
        get(|| async { axum::response::Redirect::to("/portal") }),
    );
    with_upload_limits(with_common_layers(router, state))
}

/// Gives the upload routes their larger [`BodyLimit`], outside every other layer, so that
/// the `Idempotency-Key` middleware reads those bodies whole and every other body stays
/// within 64 KiB.
fn with_upload_limits(router: Router) -> Router {
    router.layer(map_request(|mut request: Request| async move {
        let (method, path) = (request.method(), request.uri().path());
        if let Some(limit) = usage::body_limit(method, path)
            .or_else(|| billing::statements::body_limit(method, path))
        {
            request.extensions_mut().insert(BodyLimit(limit));
        }
        request
    }))
}

#[cfg(test)]
mod tests {
    /// The document served is the one the routes make; `KOPEK_WRITE_OPENAPI=1 cargo test -p
    /// kopek-api the_served_document` writes it again after a change of the API.
    #[test]
    fn the_served_document_is_the_api_as_built() {
        let built = super::openapi().to_pretty_json().expect("the document");
        if std::env::var_os("KOPEK_WRITE_OPENAPI").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
            std::fs::write(path, format!("{built}\n")).expect("written");
            return;
        }
        let built: serde_json::Value = serde_json::from_str(&built).expect("json");
        let served: serde_json::Value =
            serde_json::from_str(super::OPENAPI_DOCUMENT).expect("the served document is JSON");
        assert!(
            built == served,
            "lib/api/openapi.json is not the API as built: run \
             `KOPEK_WRITE_OPENAPI=1 cargo test -p kopek-api the_served_document` and commit it"
        );
    }
}
