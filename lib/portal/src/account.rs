//! The signed-in person's account page — profile, language, changing the password, signing
//! out everywhere; a customer's colleagues (invited by mail) and the organisation's API keys
//! (the secret shown once) — and, for people not signed in, the forgotten password (a link
//! by mail, used once) and accepting an invitation. Each is the `Accounts` method its
//! `/v1/auth/*`, `/v1/organisations/*/users` or `/v1/api-keys*` route calls.
//!
//! A link's token (`?token=` of a reset or an invitation link) is moved at once into a
//! short-lived `HttpOnly` cookie and the browser sent to the same page without it, so the
//! token stays in no address bar, history or page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use kopek_domain::accounts::{Role, Scope};
use kopek_domain::ids::ApiKeyId;
use kopek_http::ApiError;
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::accounts::{
    AcceptInvitation, ChangePassword, CreateApiKey, Invite, ResetPassword, ResetRequest,
};
use serde::Deserialize;

use crate::form::{Fields, Posted, then};
use crate::i18n::Lang;
use crate::pages::{
    Frame, PageError, anon_csrf_ok, anonymous_page, csrf_refused, see_other, signed_in,
};
use crate::session::{SESSION_COOKIE, Viewer, cookie, secure, set_cookie};

pub struct UserRow {
    pub name: String,
    pub email: String,
    pub status: String,
}

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    f: Frame,
    name: String,
    email: String,
    role: String,
    organisation: Option<String>,
    users: Option<Vec<UserRow>>,
    keys: Option<Vec<KeyRow>>,
    scopes: Vec<&'static str>,
    /// A key just made: its secret, shown this once.
    new_key: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    done: Option<String>,
}

fn notice(lang: Lang, done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "password" => lang.pick(
            "Пароль изменён; другие сеансы завершены.",
            "Password changed; your other sessions ended.",
        ),
        "invited" => lang.pick(
            "Приглашение отправлено по почте.",
            "The invitation was sent by mail.",
        ),
        "revoked" => lang.pick("Ключ отозван.", "The key was revoked."),
        _ => return None,
    })
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    new_key: Option<String>,
    notice: Option<&'static str>,
) -> Result<AccountPage, PageError> {
    let lang = viewer.lang;
    let err = |e| PageError::of(lang, e);
    let caller = &viewer.principal;
    let accounts = state.services.accounts();
    let me = accounts.me(caller).await.map_err(err)?;
    let (name, email) = me
        .user
        .as_ref()
        .map(|u| (u.name().to_string(), u.email().to_string()))
        .unwrap_or_default();
    let users = match caller.org() {
        Some(org) => Some(
            accounts
                .users(caller, org, Paging::new(100, None))
                .await
                .map_err(err)?
                .items
                .iter()
                .map(|u| UserRow {
                    name: u.name().to_string(),
                    email: u.email().to_string(),
                    status: format!("{:?}", u.status()).to_lowercase(),
                })
                .collect(),
        ),
        None => None,
    };
    let keys = if caller.org().is_some() || caller.role() == Role::Admin {
        Some(
            accounts
                .api_keys(caller, None, Paging::new(100, None))
                .await
                .map_err(err)?
                .items
                .iter()
                .map(|k| KeyRow {
                    id: k.id().to_string(),
                    name: k.name().to_string(),
                    scopes: k
                        .scopes()
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    created: lang.date(k.created_at().date_naive()),
                    active: k.is_active(),
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(AccountPage {
        f: Frame::of(viewer, "/portal/account"),
        name,
        email,
        role: format!("{:?}", caller.role()).to_lowercase(),
        organisation: me.organisation.map(|o| o.legal_name.to_string()),
        users,
        keys,
        scopes: Scope::all_for(caller.role())
            .iter()
            .map(|s| s.as_str())
            .collect(),
        new_key,
        notice,
    })
}

/// The account page.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Result<AccountPage, PageError> {
    let n = notice(viewer.lang, q.done.as_deref());
    account_page(&state, &viewer, None, n).await
}

/// Changes the password (`POST /v1/auth/change-password`): the other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let (new, again) = (
        fields.get("new_password").unwrap_or_default(),
        fields.get("new_password_again").unwrap_or_default(),
    );
    if new != again {
        let e = ApiError::validation(
            "new_password_again",
            lang.pick("пароли не совпадают", "the passwords differ"),
        );
        return PageError::of(lang, e).into_response();
    }
    let done = state
        .services
        .accounts()
        .change_password(
            &viewer.principal,
            ChangePassword {
                current: fields.get("current_password").unwrap_or_default(),
                new,
            },
        )
        .await;
    then(lang, done, |_| "/portal/account?done=password".to_owned())
}

/// Signs out everywhere (`POST /v1/auth/sign-out-everywhere`), this browser too.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    extensions: Extensions,
    Posted { viewer, .. }: Posted,
) -> Response {
    match state
        .services
        .accounts()
        .sign_out_everywhere(&viewer.principal)
        .await
    {
        Ok(_) => {
            let mut response = see_other("/portal/sign-in");
            response.headers_mut().append(
                SET_COOKIE,
                set_cookie(SESSION_COOKIE, "", None, secure(&extensions)),
            );
            response
        }
        Err(e) => PageError::of(viewer.lang, e).into_response(),
    }
}

/// Invites a colleague into the viewer's organisation: the link goes by mail.
pub async fn invite(State(state): State<AppState>, Posted { viewer, fields }: Posted) -> Response {
    let lang = viewer.lang;
    let Some(org) = viewer.principal.org() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let done = state
        .services
        .accounts()
        .invite_user(
            &viewer.principal,
            org,
            Invite {
                name: fields.get("name").unwrap_or_default(),
                email: fields.get("email").unwrap_or_default(),
            },
        )
        .await;
    then(lang, done, |_| "/portal/account?done=invited".to_owned())
}

/// Creates an API key with the scopes ticked, and shows its secret this once.
pub async fn create_key(
    State(state): State<AppState>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let scopes: Result<Vec<Scope>, _> = fields.all("scope").iter().map(|s| s.parse()).collect();
    let Ok(scopes) = scopes else {
        return PageError::of(lang, ApiError::validation("scope", "unknown scope")).into_response();
    };
    let created = state
        .services
        .accounts()
        .create_api_key(
            &viewer.principal,
            CreateApiKey {
                name: fields.get("name").unwrap_or_default(),
                role: None,
                scopes,
                org: None,
            },
        )
        .await;
    match created {
        Ok(issued) => {
            let secret = issued.token.expose_secret().to_owned();
            let mut response = account_page(&state, &viewer, Some(secret), None)
                .await
                .into_response();
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(e) => PageError::of(lang, e).into_response(),
    }
}

/// Revokes an API key.
pub async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, .. }: Posted,
) -> Response {
    let lang = viewer.lang;
    let Ok(id) = id.parse::<ApiKeyId>() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let done = state
        .services
        .accounts()
        .revoke_api_key(&viewer.principal, id)
        .await;
    then(lang, done, |_| "/portal/account?done=revoked".to_owned())
}

// --- Not signed in: a forgotten password, an invitation -----------------------------------

/// The cookie a link's token waits in (ten minutes, this page only).
const LINK_COOKIE: &str = "kopek_link";

#[derive(Template, WebTemplate)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    f: Frame,
    sent: bool,
}

/// The form to ask for a reset link.
pub async fn forgot_form(
    headers: HeaderMap,
    extensions: Extensions,
    State(state): State<AppState>,
) -> Response {
    anonymous_page(&state, &headers, &extensions, "/portal/forgot", |f| {
        ForgotPage { f, sent: false }.into_response()
    })
}

/// Asks for a reset link (`POST /v1/auth/password-reset`): the same answer whether or not
/// the address has an account.
pub async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: axum::body::Bytes,
) -> Response {
    let lang = Lang::of(&headers);
    let fields = Fields::parse(&body);
    if !anon_csrf_ok(&state, &headers, &fields.get("_csrf").unwrap_or_default()) {
        return csrf_refused(lang);
    }
    let asked = state
        .services
        .accounts()
        .request_password_reset(ResetRequest {
            email: fields.get("email").unwrap_or_default(),
            client: extensions.get::<ClientAddr>().map(|ClientAddr(ip)| *ip),
            language: lang.document(),
        })
        .await;
    match asked {
        Ok(()) => anonymous_page(&state, &headers, &extensions, "/portal/forgot", |f| {
            ForgotPage { f, sent: true }.into_response()
        }),
        Err(e) => PageError::of(lang, e).into_response(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "new_password.html")]
pub struct NewPasswordPage {
    f: Frame,
    /// `reset` or `invitation`: where the form goes.
    action: &'static str,
    heading: &'static str,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// A reset link: [`link_page`].
pub async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Query(q): Query<TokenQuery>,
) -> Response {
    link_page(&state, &headers, &extensions, "reset", q)
}

/// An invitation link: [`link_page`].
pub async fn invitation_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Query(q): Query<TokenQuery>,
) -> Response {
    link_page(&state, &headers, &extensions, "invitation", q)
}

/// A new password with a reset link's token: [`link_submit`].
pub async fn reset_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: axum::body::Bytes,
) -> Response {
    link_submit(&state, &headers, &extensions, "reset", &body).await
}

/// A first password with an invitation's token: [`link_submit`].
pub async fn invitation_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: axum::body::Bytes,
) -> Response {
    link_submit(&state, &headers, &extensions, "invitation", &body).await
}

/// A reset or invitation link: its token into a cookie, then the same page without it; the
/// page itself is the new-password form.
fn link_page(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    action: &'static str,
    q: TokenQuery,
) -> Response {
    let lang = Lang::of(headers);
    let heading = match action {
        "reset" => lang.pick("Новый пароль", "A new password"),
        _ => lang.pick("Добро пожаловать в Kopek", "Welcome to Kopek"),
    };
    if let Some(token) = q.token {
        let mut response = see_other(&format!("/portal/{action}"));
        response.headers_mut().append(
            SET_COOKIE,
            set_cookie(LINK_COOKIE, &token, Some(600), secure(extensions)),
        );
        return response;
    }
    let here = format!("/portal/{action}");
    anonymous_page(state, headers, extensions, &here, |f| {
        NewPasswordPage { f, action, heading }.into_response()
    })
}

/// Sets the password with the link's token (`…/password-reset/confirm` or
/// `…/accept-invitation`) and signs in.
async fn link_submit(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    action: &'static str,
    body: &[u8],
) -> Response {
    let lang = Lang::of(headers);
    let fields = Fields::parse(body);
    if !anon_csrf_ok(state, headers, &fields.get("_csrf").unwrap_or_default()) {
        return csrf_refused(lang);
    }
    let password = fields.get("password").unwrap_or_default();
    if fields.get("password_again").unwrap_or_default() != password {
        let e = ApiError::validation(
            "password_again",
            lang.pick("пароли не совпадают", "the passwords differ"),
        );
        return PageError::of(lang, e).into_response();
    }
    let token = cookie(headers, LINK_COOKIE).unwrap_or_default().to_owned();
    let accounts = state.services.accounts();
    let session = if action == "reset" {
        accounts
            .reset_password(ResetPassword { token, password })
            .await
    } else {
        accounts
            .accept_invitation(AcceptInvitation { token, password })
            .await
    };
    match session {
        Ok(session) => {
            let mut response = signed_in(state, &session, secure(extensions));
            response.headers_mut().append(
                SET_COOKIE,
                set_cookie(LINK_COOKIE, "", None, secure(extensions)),
            );
            response
        }
        Err(e) => PageError::of(lang, e).into_response(),
    }
}
