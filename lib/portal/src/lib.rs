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
//!   Content-Security-Policy that allows no inline script or style and no other origin.
//!
//! Routes, all under `/portal`:
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET`, `POST /portal/sign-in` | anyone | the sign-in form; signing in |
//! | `POST /portal/sign-out` | signed in | ends the session |
//! | `GET`, `POST /portal/register` | anyone | registering an organisation with its first user, signed in at once |
//! | `GET /portal/language?to=&back=` | anyone | switches the language |
//! | `GET /portal` | signed in | the dashboard: a customer's balance, open invoices, dunning |
//! | `GET /portal/orders`, `GET /portal/orders/new`, `POST /portal/orders` | customers | orders with their lines' status; ordering with the price shown first, placed once per form |
//! | `POST /portal/orders/quote` | customers | htmx: the expected price of the order form as it stands |
//! | `GET /portal/work`, `POST /portal/work/batches` | engineers (managers, admins) | the queues with counts and the oldest's age, the open batches; taking a batch |
//! | `GET`, `POST /portal/work/batches/{id}` | its engineer | a batch; completing it in one form (done, failed, back to the queue) |
//! | `GET /portal/invoices`, `/portal/invoices/{id}` | signed in | invoices, one invoice |
//! | `GET /portal/static/{file}` | anyone | the stylesheet and htmx |

pub mod i18n;
pub mod orders;
pub mod pages;
pub mod register;
pub mod session;
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

/// The portal's routes, for a function's router (before its common layers).
pub fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(pages::dashboard))
        .route("/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/sign-out", post(pages::sign_out))
        .route("/register", get(register::form).post(register::submit))
        .route("/language", get(pages::language))
        .route("/orders", get(orders::list).post(orders::submit))
        .route("/orders/new", get(orders::form))
        .route("/orders/quote", post(orders::preview))
        .route("/work", get(work::queues))
        .route("/work/batches", post(work::take))
        .route("/work/batches/{id}", get(work::batch).post(work::complete))
        .route("/invoices", get(pages::invoices))
        .route("/invoices/{id}", get(pages::invoice))
        .route("/static/{file}", get(asset))
        .fallback(pages::not_found)
        .layer(map_response(secure_headers));
    Router::new()
        .nest("/portal", pages)
        .route("/portal/", get(|| async { pages_redirect() }))
}

fn pages_redirect() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(axum::http::header::LOCATION, "/portal")],
    )
        .into_response()
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
