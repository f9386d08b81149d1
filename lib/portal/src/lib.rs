//! Kopek's web portal: server-rendered pages for the people who use Kopek, over the same
//! services as the JSON API.
//!
//! - **Pages** ([`pages`]) are askama templates (`templates/`, checked at compile time), each
//!   handler one service call with the signed-in person's [`kopek_domain::accounts::Principal`]
//!   — so who may see what is decided where the API decides it, once.
//! - **Sessions and forms** ([`session`]): a session cookie of the portal's own audience,
//!   checked against the stored session on every request; a CSRF token on every form.
//! - **Languages** ([`i18n`]): Russian and English, the person's choice or the browser's.
//! - **Static files** (`static/`: one stylesheet, htmx vendored and pinned) are embedded in
//!   the binary and served with a long cache life; every page is sent with a
//!   Content-Security-Policy that allows no inline script or style and no other origin, and
//!   gzipped when the browser accepts it.
//! - **Three functions**: `portal` serves [`pages_routes`], `portal-files` [`files_routes`] —
//!   the pages that move files (downloads, the statement of account as CSV and XLSX, report
//!   PDFs, bank statements, templates) — and `order-intake` [`work_sheet_routes`], the work
//!   sheet's PDF, which it makes for the API too; the local stack serves them all
//!   ([`routes`]).
//!
//! Routes, all under `/portal` (each page's handler in the module named):
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET`, `POST /sign-in`; `POST /sign-out` | anyone; signed in | [`pages`]: signing in and out |
//! | `GET`, `POST /register` | anyone | [`register`]: an organisation with its first user, signed in at once |
//! | `GET`, `POST /forgot`; `GET`, `POST /reset`; `GET`, `POST /invitation` | anyone | [`account`]: a reset link by mail; a new password with it; accepting an invitation |
//! | `GET /catalog`, `/catalog/quote` | anyone | [`catalog`]: services and prices; the price calculator (htmx fragment) |
//! | `GET /language?to=&back=` | anyone | switches the language |
//! | `GET /` | signed in | [`pages`]: the dashboard — a customer's balance, open invoices, orders in progress, usage estimate, dunning |
//! | `GET /account`; `POST /account/{password, sign-out-everywhere, users, keys}`, `/account/keys/{id}/revoke` | signed in | [`account`]: profile, language, password, signing out everywhere, colleagues, API keys |
//! | `GET`, `POST /orders`, `GET /orders/new`, `POST /orders/quote`, `POST /orders/{id}/lines/{n}/cancel` | customers | [`orders`]: orders and their lines; ordering with the price first, once per form; cancelling a line before work starts |
//! | `GET`, `POST /subscriptions`, `POST /subscriptions/{id}` | customers | [`subscriptions`]: start, change, cancel — each previewed with its prorated effect, then confirmed once |
//! | `GET /usage?period=` | customers | [`usage`]: meters of a period with the estimate, by day as an SVG chart |
//! | `GET /documents?period=`, `/documents/{id}/{file, signature}`, `/packages/{id}/download`; `POST /packages/{id}/{accept, dispute}` | customers | [`documents`]: a period's closing documents and package: download, accept, dispute |
//! | `GET /payments`, `/statement?from=&to=[&org=][&format=csv/xlsx]`; `POST /reports`, `GET /reports/{id}` | customers (staff with `org`) | [`money`]: payments and credit; the statement of account; the reconciliation statement as PDF |
//! | `GET /invoices`, `/invoices/{id}` | signed in | [`pages`]: invoices, one invoice |
//! | `GET /work`, `POST /work/batches`, `GET`, `POST /work/batches/{id}`, `GET /work/batches/{id}/sheet.pdf` | engineers (managers, admins) | [`work`]: queues, taking a batch, completing it in one form, its work sheet |
//! | `GET /periods`, `/periods/{period}`; `POST /periods/{period}/{close, sign, send, archive}`; `GET /signings/{id}`, `/archives/{id}` | billing staff | [`documents`]: the close status, documents by status, signing all in one action with its progress, packages and disputes, the archive |
//! | `GET /customers`, `/customers/{org}`; `POST /customers/{org}/{payments, dunning}` | billing staff | [`money`]: balances, payments, recording a payment, dunning holds |
//! | `GET /bank`, `/bank/imports/{id}`; `POST /bank/statements`, `/bank/imports/{id}/lines/{n}` | billing staff (uploads: accountants, admins) | [`bank`]: statement upload, each import's report, the review list |
//! | `GET`, `POST /admin/catalog`, `POST /admin/catalog/{code}/{prices, retire}` | managers, admins | [`admin`]: services, a new one, a new price version, retiring |
//! | `GET`, `POST /admin/staff`; `GET`, `POST /admin/settings`, `POST /admin/requisites` | admins | [`admin`]: staff and inviting one; billing settings; the provider's requisites |
//! | `GET`, `POST /admin/webhooks`; `GET /admin/webhooks/{id}`, `POST …/{id}/{enable, disable, rotate, ping, replay, delete}`, `POST …/{id}/deliveries/{delivery}/replay` | admins | [`webhooks`]: endpoints (the secret shown once), the delivery log, replays |
//! | `GET /audit` (`?from&to&actor&object&action&org&cursor`, `format=csv`) | admins (every record), a customer's users (their organisation's) | [`audit`]: the audit log, a page at a time, and as CSV |
//! | `GET /admin/templates`, `POST /admin/templates/{kind}` (multipart), `…/{kind}/remove`, `GET …/{kind}/{sha256}` | admins (billing staff read) | [`admin`]: document templates: upload, its check, back to the built-in |
//! | `GET /static/{file}` | anyone | the stylesheet, htmx, the icon |

pub mod account;
pub mod admin;
pub mod audit;
pub mod bank;
pub mod base;
pub mod catalog;
pub mod documents;
pub mod form;
pub mod i18n;
pub mod money;
pub mod orders;
pub mod pages;
pub mod register;
pub mod session;
pub mod subscriptions;
pub mod usage;
pub mod webhooks;
pub mod work;

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kopek_http::state::AppState;

/// The portal's static files.
#[derive(rust_embed::Embed)]
#[folder = "static/"]
struct Static;

/// What every portal response may load: its own scripts, styles and images, nothing inline,
/// no frames, forms only to itself.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages that read and change the store, queue jobs and send mail, and the static files
/// (the `portal` function's).
fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/sign-out", post(pages::sign_out))
        .route("/register", get(register::form).post(register::submit))
        .route("/language", get(pages::language))
        .route("/catalog", get(catalog::page))
        .route("/catalog/quote", get(catalog::quote))
        .route("/forgot", get(account::forgot_form).post(account::forgot))
        .route(
            "/reset",
            get(account::reset_page).post(account::reset_submit),
        )
        .route(
            "/invitation",
            get(account::invitation_page).post(account::invitation_submit),
        )
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route(
            "/account/sign-out-everywhere",
            post(account::sign_out_everywhere),
        )
        .route("/account/users", post(account::invite))
        .route("/account/keys", post(account::create_key))
        .route("/account/keys/{id}/revoke", post(account::revoke_key))
        .route("/orders", get(orders::list).post(orders::submit))
        .route("/orders/new", get(orders::form))
        .route("/orders/quote", post(orders::preview))
        .route(
            "/orders/{id}/lines/{line}/cancel",
            post(orders::cancel_line),
        )
        .route("/work", get(work::queues))
        .route("/work/batches", post(work::take))
        .route("/work/batches/{id}", get(work::batch).post(work::complete))
        .route("/documents", get(documents::list))
        .route("/packages/{id}/{answer}", post(documents::answer_package))
        .route("/periods", get(documents::periods))
        .route("/periods/{period}", get(documents::period))
        .route("/periods/{period}/{action}", post(documents::period_action))
        .route("/signings/{id}", get(documents::signing))
        .route(
            "/subscriptions",
            get(subscriptions::list).post(subscriptions::start),
        )
        .route("/subscriptions/{id}", post(subscriptions::change))
        .route("/usage", get(usage::page))
        .route("/payments", get(money::payments))
        .route("/customers", get(money::customers))
        .route("/customers/{org}", get(money::customer))
        .route("/customers/{org}/payments", post(money::record_payment))
        .route("/customers/{org}/dunning", post(money::set_dunning))
        .route("/admin/catalog", get(admin::catalog).post(admin::create))
        .route("/admin/catalog/{code}/{action}", post(admin::change))
        .route("/admin/staff", get(admin::staff).post(admin::invite_staff))
        .route(
            "/admin/settings",
            get(admin::settings).post(admin::save_settings),
        )
        .route("/admin/requisites", post(admin::save_requisites))
        .route(
            "/admin/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/admin/webhooks/{id}", get(webhooks::endpoint))
        .route("/audit", get(audit::search))
        .route("/admin/webhooks/{id}/{action}", post(webhooks::act))
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery}/replay",
            post(webhooks::replay),
        )
        .route("/invoices", get(pages::invoices))
        .route("/invoices/{id}", get(pages::invoice))
        .route("/static/{file}", get(asset))
}

/// The pages that move files: downloads (short-lived S3 links), the statement of account as
/// CSV and XLSX, report PDFs, bank statement uploads and their imports, document templates.
fn file_routes() -> Router<AppState> {
    Router::new()
        .route("/documents/{id}/{what}", get(documents::download))
        .route("/packages/{id}/download", get(documents::download_package))
        .route("/archives/{id}", get(documents::archive))
        .route("/statement", get(money::statement))
        .route("/reports", post(money::request_report))
        .route("/reports/{id}", get(money::report))
        .route("/bank", get(bank::page))
        .route(
            "/bank/statements",
            post(bank::upload).layer(axum::extract::DefaultBodyLimit::max(
                bank::MAX_UPLOAD_BYTES + 64 * 1024,
            )),
        )
        .route("/bank/imports/{id}", get(bank::import))
        .route("/bank/imports/{id}/lines/{line}", post(bank::resolve))
        .route("/admin/templates", get(admin::templates))
        .route("/admin/templates/{kind}", post(admin::upload_template))
        .route(
            "/admin/templates/{kind}/remove",
            post(admin::remove_template),
        )
        .route("/admin/templates/{kind}/{sha256}", get(admin::template))
}

/// The work sheet as PDF, to print.
fn work_sheet_route() -> Router<AppState> {
    Router::new().route("/work/batches/{id}/sheet.pdf", get(work::sheet))
}

/// Every page, as the local stack serves them (before its common layers).
pub fn routes() -> Router<AppState> {
    with_root(portal(
        page_routes().merge(file_routes()).merge(work_sheet_route()),
    ))
}

/// The pages of the `portal` function: every page but those of [`files_routes`] and
/// [`work_sheet_routes`].
pub fn pages_routes() -> Router<AppState> {
    with_root(portal(page_routes()))
}

/// The pages of the `portal-files` function: those that move files (downloads through
/// short-lived S3 links, the statement of account as CSV and XLSX, report PDFs, bank
/// statements, document templates) — a function of their own so that `portal` links none of
/// the S3 operations, file formats and statement readers (BENCHMARKS, "Lean functions").
pub fn files_routes() -> Router<AppState> {
    portal(file_routes())
}

/// The work sheet as PDF (`/portal/work/batches/{id}/sheet.pdf`), served by the function that
/// makes it for the API too, `order-intake`: the PDF writer with its fonts is over half a
/// megabyte of a zip, which neither portal function then carries.
pub fn work_sheet_routes() -> Router<AppState> {
    portal(work_sheet_route())
}

/// `/portal/` to the dashboard, as `/portal` is.
fn with_root(portal: Router<AppState>) -> Router<AppState> {
    portal.route("/portal/", get(|| async { pages_redirect() }))
}

/// `pages` under `/portal`, with the portal's own answers and headers.
fn portal(pages: Router<AppState>) -> Router<AppState> {
    let pages = pages
        .fallback(pages::not_found)
        .layer(map_response(secure_headers))
        // Pages and static files gzipped for browsers that ask (all do); in Lambda a body
        // with Content-Encoding goes to API Gateway base64-encoded, as binary.
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(axum::middleware::from_fn(base::scope));
    Router::new().nest("/portal", pages)
}

fn pages_redirect() -> Response {
    pages::see_other("/portal")
}

/// The headers every portal response carries.
async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A static file, cached for a year (their names change with their content's version).
async fn asset(Path(file): Path<String>) -> Response {
    let Some(found) = Static::get(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let kind = match file.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    (
        [
            (CONTENT_TYPE, kind),
            (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        found.data.into_owned(),
    )
        .into_response()
}
