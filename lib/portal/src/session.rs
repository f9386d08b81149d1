//! Who is looking at a page: the session cookie, the language, and the token every form
//! carries against cross-site requests.
//!
//! - **The session cookie** (`kopek_session`) is a token of the portal's own audience
//!   (`AppState::portal`), naming the user, role, organisation and session like an API
//!   access token, lasting a sign-in (12 hours) — and checked against the stored session on
//!   every request, so sign-out (here or anywhere) ends it at once. It is `HttpOnly`,
//!   `SameSite=Lax`, scoped to `/portal`, and `Secure` unless the request came over loopback
//!   (the local stack).
//! - **CSRF**: every form carries `_csrf`, an HMAC of the session id (signed in) or of a
//!   random nonce kept in the `kopek_csrf` cookie (the sign-in form), keyed by a key derived
//!   for this purpose only. A form whose token does not match is refused (403) and changes
//!   nothing.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use kopek_domain::accounts::Principal;
use kopek_http::layers::ClientAddr;
use kopek_http::state::{AppState, PORTAL_SESSION};
use sha2::Sha256;

use crate::i18n::Lang;

pub const SESSION_COOKIE: &str = "kopek_session";
pub const NONCE_COOKIE: &str = "kopek_csrf";
pub const LANG_COOKIE: &str = "kopek_lang";
/// Where the portal lives; its cookies are scoped to it.
pub const BASE: &str = "/portal";

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value for the portal: `HttpOnly`, `SameSite=Lax`, `Path=/portal`, `Secure`
/// when `secure`; kept `max_age` seconds, or removed when `None`.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> HeaderValue {
    let age = max_age.unwrap_or(0);
    let value = if max_age.is_some() { value } else { "" };
    let secure = if secure { "; Secure" } else { "" };
    let path = crate::base::url(BASE);
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether cookies must be `Secure`: everywhere but a request over loopback.
pub fn secure(parts_extensions: &axum::http::Extensions) -> bool {
    !parts_extensions
        .get::<ClientAddr>()
        .is_some_and(|ClientAddr(ip)| ip.is_loopback())
}

/// The CSRF token of `subject` (a session id, or `anon:` and a nonce).
pub fn csrf_token(state: &AppState, subject: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(state, subject).finalize().into_bytes())
}

/// Whether `presented` is `subject`'s CSRF token (compared in constant time).
pub fn csrf_ok(state: &AppState, subject: &str, presented: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(presented)
        .is_ok_and(|bytes| mac(state, subject).verify_slice(&bytes).is_ok())
}

fn mac(state: &AppState, subject: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&state.portal.csrf).expect("HMAC takes any key length");
    mac.update(subject.as_bytes());
    mac
}

/// The session cookie's value for a new sign-in.
pub fn session_cookie(
    state: &AppState,
    user: &kopek_domain::accounts::User,
    session: kopek_domain::ids::SessionId,
    secure: bool,
) -> HeaderValue {
    let token = state.portal.sessions.issue(
        user.id(),
        user.role(),
        user.org(),
        session,
        state.services.now(),
    );
    set_cookie(
        SESSION_COOKIE,
        &token.token,
        Some(PORTAL_SESSION.as_secs()),
        secure,
    )
}

/// A signed-in person looking at a page: who (the same [`Principal`] the API's handlers
/// get), in which language, and their forms' CSRF token. Anyone else is sent to sign in.
pub struct Viewer {
    pub principal: Principal,
    pub lang: Lang,
    pub csrf: String,
}

impl Viewer {
    /// Whether `presented` is this viewer's form token.
    pub fn csrf_ok(&self, state: &AppState, presented: &str) -> bool {
        let session = self
            .principal
            .session()
            .map(|s| s.to_string())
            .unwrap_or_default();
        csrf_ok(state, &session, presented)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::of(&parts.headers);
        let secure = secure(&parts.extensions);
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in(secure, false));
        };
        match kopek_http::auth::session_principal(state, &state.portal.sessions, token).await {
            Ok(principal) => {
                let session = principal
                    .session()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                Ok(Viewer {
                    csrf: csrf_token(state, &session),
                    principal,
                    lang,
                })
            }
            Err(_) => Err(to_sign_in(secure, true)),
        }
    }
}

/// A redirect to the sign-in page, dropping a session cookie that no longer works.
pub fn to_sign_in(secure: bool, drop_cookie: bool) -> Response {
    let mut response = crate::pages::see_other("/portal/sign-in");
    if drop_cookie {
        response
            .headers_mut()
            .append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", None, secure));
    }
    response
}
