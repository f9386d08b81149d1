//! The `accounts-api` function: registration, sign-in and sessions, organisations and their
//! users, staff, API keys.
//!
//! Handlers only translate: wire types in, domain commands through the domain's rules, the
//! store, views out. Passwords are hashed on the blocking pool (Argon2id takes tens of
//! milliseconds of CPU).

use crate::paging::{ListQuery, Paged};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use kopek_aws::dynamo::throttle::Subject as ThrottleSubject;
use kopek_domain::accounts::{
    AccessError, AccountsError, ApiKey, ApiKeyName, DocumentLanguage, Email, Invitation, NewApiKey,
    Organisation, Password, PasswordHash, PaymentTerms, PersonName, Principal, Registration,
    RegistrationForm, Role, Scope, ScopeSet, SecretToken, Subject, ThrottleDecision, User,
    UserStatus,
};
use kopek_domain::ids::{ApiKeyId, OrgId, SessionId, UserId};
use kopek_domain::money::Currency;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(sign_in))
        .routes(routes!(refresh))
        .routes(routes!(sign_out))
        .routes(routes!(change_password))
        .routes(routes!(accept_invitation))
        .routes(routes!(me))
        .routes(routes!(list_organisations))
        .routes(routes!(get_organisation))
        .routes(routes!(block_organisation))
        .routes(routes!(unblock_organisation))
        .routes(routes!(set_payment_terms))
        .routes(routes!(list_users, invite_user))
        .routes(routes!(list_staff, invite_staff))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
}

// ---------------------------------------------------------------------------------------
// Wire types

/// The organisation part of a registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    #[schema(example = "ООО «Ромашка»")]
    pub legal_name: String,
    /// Russian INN (10 or 12 digits, checksum verified) or an EU VAT number.
    #[schema(example = "7707083893")]
    pub tax_id: String,
    #[schema(example = "billing@romashka.ru")]
    pub billing_email: String,
    #[schema(example = "101000, Москва, ул. Мясницкая, 1")]
    pub billing_address: String,
    #[schema(value_type = String, example = "RUB")]
    pub currency: Currency,
    /// Language of the closing documents: `ru` or `en`.
    #[schema(value_type = String, example = "ru")]
    pub language: DocumentLanguage,
}

/// The first user of a registration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstUserInput {
    #[schema(example = "Мария Иванова")]
    pub name: String,
    #[schema(example = "maria@romashka.ru")]
    pub email: String,
    /// 10 to 128 characters.
    pub password: String,
}

impl std::fmt::Debug for FirstUserInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstUserInput")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub organisation: OrganisationInput,
    pub user: FirstUserInput,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The invitation token the inviter passed on.
    pub token: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteUserRequest {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteStaffRequest {
    pub name: String,
    pub email: String,
    /// `engineer`, `manager`, `accountant` or `admin`.
    #[schema(value_type = String, example = "engineer")]
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    #[schema(example = "CRM integration")]
    pub name: String,
    /// The key's role; customers may only create `customer` keys (the default).
    #[schema(value_type = Option<String>, example = "customer")]
    pub role: Option<Role>,
    /// The scopes the key holds (within the role's), e.g. `["orders:write", "usage:write"]`.
    #[schema(value_type = Vec<String>)]
    pub scopes: Vec<String>,
    /// For staff creating a customer key: the organisation it acts for.
    #[schema(value_type = Option<String>)]
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    #[schema(value_type = String, example = "org_01JDQ8Z6X9V1A2B3C4D5E6F7G8")]
    pub id: OrgId,
    pub legal_name: String,
    pub tax_id: String,
    pub billing_email: String,
    pub billing_address: String,
    #[schema(value_type = String)]
    pub currency: Currency,
    #[schema(value_type = String)]
    pub language: DocumentLanguage,
    /// `active` or `blocked`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// The customer's own payment terms in days (its invoices' due date is that many days
    /// after issue); `null`: the provider's, from the billing settings.
    pub payment_terms_days: Option<u16>,
}

impl From<&Organisation> for OrganisationView {
    fn from(o: &Organisation) -> Self {
        Self {
            id: o.id,
            legal_name: o.legal_name.as_str().to_owned(),
            tax_id: o.tax_id.as_str().to_owned(),
            billing_email: o.billing_email.as_str().to_owned(),
            billing_address: o.billing_address.as_str().to_owned(),
            currency: o.currency,
            language: o.language,
            status: if o.is_active() {
                "active".into()
            } else {
                "blocked".into()
            },
            payment_terms_days: o.payment_terms.map(PaymentTerms::get),
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String)]
    pub id: UserId,
    #[schema(value_type = Option<String>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<OrgId>,
    pub email: String,
    pub name: String,
    #[schema(value_type = String)]
    pub role: Role,
    #[schema(value_type = String)]
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id(),
            org_id: u.org(),
            email: u.email().as_str().to_owned(),
            name: u.name().as_str().to_owned(),
            role: u.role(),
            status: u.status(),
            created_at: u.created_at(),
        }
    }
}

/// Tokens of a new or refreshed session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub expires_at: DateTime<Utc>,
    /// Exchange at `/v1/auth/refresh` for a new access token; single use.
    pub refresh_token: String,
    pub user: UserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationView {
    pub organisation: OrganisationView,
    pub session: SessionView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub user: UserView,
    /// Shown once: the invitee accepts with it at `/v1/auth/accept-invitation`.
    pub invitation_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    pub name: String,
    #[schema(value_type = Option<String>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<OrgId>,
    #[schema(value_type = String)]
    pub role: Role,
    #[schema(value_type = Vec<String>)]
    pub scopes: ScopeSet,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id(),
            name: k.name().as_str().to_owned(),
            org_id: k.org(),
            role: k.role(),
            scopes: k.scopes().clone(),
            created_at: k.created_at(),
            revoked_at: k.revoked_at(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedApiKeyView {
    pub api_key: ApiKeyView,
    /// Shown once; store it now. Send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// Who is calling.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    /// `user` or `api_key`.
    pub kind: &'static str,
    #[schema(value_type = String)]
    pub role: Role,
    #[schema(value_type = Vec<String>)]
    pub scopes: ScopeSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<OrganisationView>,
}

// ---------------------------------------------------------------------------------------
// Bootstrap

/// Creates an active admin with a password: how the first admin comes to be (the setup
/// step passes a generated or operator-chosen password; none is written in code).
pub async fn bootstrap_admin(
    state: &AppState,
    email: &str,
    name: &str,
    password: &str,
) -> ApiResult<User> {
    let email = Email::parse(email)?;
    let password = Password::new(password, &email)?;
    let name = PersonName::parse(name).map_err(|e| e.in_field("name"))?;
    let user = User::new(
        UserId::new(),
        None,
        email,
        name,
        Role::Admin,
        UserStatus::Active,
        state.clock.now(),
    )?;
    let hash = blocking(move || password.hash()).await?;
    state.store.create_user(&user, &hash).await?;
    Ok(user)
}

// ---------------------------------------------------------------------------------------
// Sessions

/// A refresh token names its session: `{user}.{session}.{secret}`.
fn refresh_token(user: UserId, session: SessionId, secret: &SecretToken) -> String {
    format!("{user}.{session}.{}", secret.expose_secret())
}

fn parse_refresh_token(token: &str) -> Result<(UserId, SessionId, SecretToken), ApiError> {
    let refused = || ApiError::from(AccountsError::InvalidCredentials);
    let mut parts = token.split('.');
    let (Some(user), Some(session), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    Ok((
        user.parse().map_err(|_| refused())?,
        session.parse().map_err(|_| refused())?,
        SecretToken::parse(secret).map_err(|_| refused())?,
    ))
}

async fn start_session(state: &AppState, user: &User) -> ApiResult<SessionView> {
    let now = state.clock.now();
    let session = SessionId::new();
    let secret = SecretToken::generate();
    let expires =
        now + chrono::Duration::from_std(state.session_ttl).unwrap_or(chrono::Duration::days(30));
    state
        .store
        .start_session(user.id(), session, &secret.sha256_hex(), now, expires)
        .await?;
    Ok(session_view(state, user, session, &secret, now))
}

fn session_view(
    state: &AppState,
    user: &User,
    session: SessionId,
    secret: &SecretToken,
    now: DateTime<Utc>,
) -> SessionView {
    let access = state
        .tokens
        .issue(user.id(), user.role(), user.org(), session, now);
    SessionView {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl().as_secs(),
        expires_at: access.expires_at,
        refresh_token: refresh_token(user.id(), session, secret),
        user: UserView::from(user),
    }
}

/// Argon2id on the blocking pool, so a hash does not stall other requests on the runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&e))
}

fn user_id(caller: &Principal) -> ApiResult<UserId> {
    match caller.subject() {
        Subject::User(id) => Ok(id),
        Subject::ApiKey(_) => Err(ApiError::forbidden(
            "this needs a signed-in user, not an API key",
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Handlers: auth

/// Register a customer organisation with its first user, and sign that user in.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, body = RegistrationView),
        (status = 409, description = "`email_taken`", body = kopek_http::problem::Problem),
        (status = 422, description = "`validation_failed`, naming the field", body = kopek_http::problem::Problem),
    ))]
async fn register(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> ApiResult<impl IntoResponse> {
    let form = RegistrationForm {
        legal_name: body.organisation.legal_name,
        tax_id: body.organisation.tax_id,
        billing_email: body.organisation.billing_email,
        billing_address: body.organisation.billing_address,
        currency: body.organisation.currency,
        language: body.organisation.language,
        user_name: body.user.name,
        user_email: body.user.email,
        password: body.user.password,
    };
    let registration =
        Registration::try_from(form).map_err(|e| prefix_field(e.into(), "organisation", "user"))?;
    let now = state.clock.now();
    let account = blocking(move || registration.open(now)).await?;
    state
        .store
        .register(&account)
        .await
        .map_err(|e| match ApiError::from(e) {
            e if e.code == "email_taken" => e.with_field("user.email"),
            e => e,
        })?;
    tracing::info!(org = %account.organisation.id, user = %account.owner.id(), "organisation registered");
    let session = start_session(&state, &account.owner).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegistrationView {
            organisation: OrganisationView::from(&account.organisation),
            session,
        }),
    ))
}

/// The registration form is nested on the wire: name fields by their JSON path.
fn prefix_field(mut e: ApiError, org: &str, user: &str) -> ApiError {
    if let Some(field) = e.field.take() {
        e.field = Some(match field.strip_prefix("user_") {
            Some(rest) => format!("{user}.{rest}"),
            None if field == "password" => format!("{user}.password"),
            None => format!("{org}.{field}"),
        });
    }
    e
}

/// Sign in with e-mail and password. Failed attempts are throttled per account and per address.
#[utoipa::path(post, path = "/v1/auth/sign-in", tag = "auth", request_body = SignInRequest,
    responses(
        (status = 200, body = SessionView),
        (status = 401, description = "`invalid_credentials`", body = kopek_http::problem::Problem),
        (status = 429, description = "`too_many_attempts`, with Retry-After", body = kopek_http::problem::Problem),
    ))]
async fn sign_in(
    State(state): State<AppState>,
    addr: Option<Extension<ClientAddr>>,
    JsonBody(body): JsonBody<SignInRequest>,
) -> ApiResult<Json<SessionView>> {
    let email = Email::parse(&body.email)?;
    let address = addr
        .map(|Extension(ClientAddr(ip))| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let now = state.clock.now();
    let policy = state.throttle;
    let window = policy.window_start(now);
    let subjects = [
        ThrottleSubject::Account(email.normalized()),
        ThrottleSubject::Address(&address),
    ];
    let failures = state.store.failed_sign_ins(&subjects, window).await?;
    if let ThrottleDecision::Deny { .. } = policy.decide(failures[0], failures[1], now) {
        return Err(AccountsError::Throttled {
            retry_after_secs: policy.retry_after(now),
        }
        .into());
    }
    let stored = state.store.user_by_email(&email).await?;
    let candidate = body.password;
    let (user, hash) = match stored {
        Some(s) if s.user.status() == UserStatus::Active => (Some(s.user), s.password_hash),
        _ => (None, None),
    };
    let verified = blocking(move || match hash {
        Some(hash) => hash.verify(&candidate),
        None => {
            // Unknown e-mail: spend the same time as a wrong password.
            PasswordHash::dummy().verify(&candidate);
            false
        }
    })
    .await?;
    let window_end = window + policy.window();
    match user {
        Some(user) if verified => {
            state
                .store
                .clear_failed_sign_ins(subjects[0], window)
                .await?;
            tracing::info!(user = %user.id(), "signed in");
            Ok(Json(start_session(&state, &user).await?))
        }
        _ => {
            for subject in subjects {
                state
                    .store
                    .record_failed_sign_in(subject, window, window_end)
                    .await?;
            }
            Err(AccountsError::InvalidCredentials.into())
        }
    }
}

/// Exchange a refresh token for new tokens. Refresh tokens are single use: presenting an old
/// one again ends the session (it was copied).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = SessionView), (status = 401, body = kopek_http::problem::Problem)))]
async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<Json<SessionView>> {
    let (user_id, session, secret) = parse_refresh_token(&body.refresh_token)?;
    let now = state.clock.now();
    let refused = || ApiError::from(AccountsError::InvalidCredentials);
    let record = state
        .store
        .session(user_id, session, now)
        .await?
        .ok_or_else(refused)?;
    if !secret.matches(&record.refresh_hash) {
        tracing::warn!(user = %user_id, session = %session, "refresh token reused; ending the session");
        state.store.end_session(user_id, session).await?;
        return Err(refused());
    }
    let stored = state.store.user(user_id).await?.ok_or_else(refused)?;
    if stored.user.status() != UserStatus::Active {
        return Err(refused());
    }
    let next = SecretToken::generate();
    state
        .store
        .rotate_session(user_id, session, &record.refresh_hash, &next.sha256_hex())
        .await
        .map_err(|e| match e {
            kopek_aws::dynamo::StoreError::Conflict(_) => refused(),
            other => other.into(),
        })?;
    Ok(Json(session_view(
        &state,
        &stored.user,
        session,
        &next,
        now,
    )))
}

/// End the caller's session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/sign-out", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = kopek_http::problem::Problem)))]
async fn sign_out(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<StatusCode> {
    let user = user_id(&caller)?;
    if let Some(session) = caller.session() {
        state.store.end_session(user, session).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Change the caller's password; every other session of the user ends.
#[utoipa::path(post, path = "/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn change_password(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let id = user_id(&caller)?;
    let stored = state
        .store
        .user(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let password = Password::new(&body.new_password, stored.user.email())
        .map_err(|e| e.in_field("new_password"))?;
    let hash = stored
        .password_hash
        .ok_or_else(|| ApiError::from(AccountsError::InvalidCredentials))?;
    let current = body.current_password;
    let (ok, new_hash) = blocking(move || (hash.verify(&current), password.hash())).await?;
    if !ok {
        return Err(
            ApiError::from(AccountsError::InvalidCredentials).with_field("current_password")
        );
    }
    state.store.set_password(id, &new_hash).await?;
    let ended = state.store.end_sessions(id, caller.session()).await?;
    tracing::info!(user = %id, other_sessions_ended = ended, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation: choose a password and get signed in.
#[utoipa::path(post, path = "/v1/auth/accept-invitation", tag = "auth", request_body = AcceptInvitationRequest,
    responses((status = 200, body = SessionView), (status = 401, body = kopek_http::problem::Problem), (status = 410, description = "`invitation_expired`", body = kopek_http::problem::Problem)))]
async fn accept_invitation(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AcceptInvitationRequest>,
) -> ApiResult<Json<SessionView>> {
    let refused = || ApiError::from(AccountsError::InvalidCredentials).with_field("token");
    let token = SecretToken::parse(&body.token).map_err(|_| refused())?;
    let now = state.clock.now();
    let (user_id, record) = state
        .store
        .invitation(&token.sha256_hex())
        .await?
        .ok_or_else(refused)?;
    record.accept(&token, now)?;
    let stored = state.store.user(user_id).await?.ok_or_else(refused)?;
    let password = Password::new(&body.password, stored.user.email())?;
    let hash = blocking(move || password.hash()).await?;
    state
        .store
        .accept_invitation(&record.token_hash, user_id, &hash)
        .await
        .map_err(|e| match e {
            kopek_aws::dynamo::StoreError::Conflict(_) => refused(),
            other => other.into(),
        })?;
    let mut user = stored.user;
    user.activate()?;
    Ok(Json(start_session(&state, &user).await?))
}

/// Who am I: the caller's user or key, role, scopes and organisation.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = kopek_http::problem::Problem)))]
async fn me(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<Json<MeView>> {
    let organisation = match caller.org() {
        Some(org) => state
            .store
            .organisation(org)
            .await?
            .as_ref()
            .map(OrganisationView::from),
        None => None,
    };
    let (kind, user, api_key) = match caller.subject() {
        Subject::User(id) => (
            "user",
            state.store.user(id).await?.map(|s| UserView::from(&s.user)),
            None,
        ),
        Subject::ApiKey(id) => (
            "api_key",
            None,
            state
                .store
                .api_key(id)
                .await?
                .map(|(k, _)| ApiKeyView::from(&k)),
        ),
    };
    Ok(Json(MeView {
        kind,
        role: caller.role(),
        scopes: caller.scopes().clone(),
        user,
        api_key,
        organisation,
    }))
}

// ---------------------------------------------------------------------------------------
// Handlers: organisations and users

fn require(caller: &Principal, scope: kopek_domain::accounts::Scope) -> ApiResult<()> {
    caller.require_scope(scope).map_err(ApiError::from)
}

/// List customer organisations (staff only).
#[utoipa::path(get, path = "/v1/organisations", tag = "organisations", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Paged<OrganisationView>), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_organisations(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<OrganisationView>>> {
    caller.require_role(&[Role::Admin, Role::Manager, Role::Accountant, Role::Engineer])?;
    require(&caller, Scope::AccountsRead)?;
    let (limit, start) = query.parse(&state)?;
    let page = state.store.list_organisations(limit, start).await?;
    Ok(Json(Paged::from_page(&state, page, |o| {
        OrganisationView::from(&o)
    })))
}

fn parse_org(text: &str) -> ApiResult<OrgId> {
    // A malformed id cannot name anything: the same 404 as someone else's id.
    text.parse().map_err(|_| ApiError::not_found())
}

async fn reachable_org(
    state: &AppState,
    caller: &Principal,
    org_id: &str,
) -> ApiResult<Organisation> {
    let org = parse_org(org_id)?;
    caller.can_access_org(org)?;
    require(caller, Scope::AccountsRead)?;
    state
        .store
        .organisation(org)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// An organisation: customers see only their own (any other id is 404).
#[utoipa::path(get, path = "/v1/organisations/{org_id}", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path)),
    responses((status = 200, body = OrganisationView), (status = 404, body = kopek_http::problem::Problem)))]
async fn get_organisation(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org_id): Path<String>,
) -> ApiResult<Json<OrganisationView>> {
    let org = reachable_org(&state, &caller, &org_id).await?;
    Ok(Json(OrganisationView::from(&org)))
}

/// Block an organisation (admins, managers): its users keep read access, but it can place
/// no orders and start no subscriptions until unblocked.
#[utoipa::path(post, path = "/v1/organisations/{org_id}/block", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path)),
    responses((status = 200, body = OrganisationView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem)))]
async fn block_organisation(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org_id): Path<String>,
) -> ApiResult<Json<OrganisationView>> {
    set_org_status(&state, &caller, &org_id, true).await
}

/// Unblock an organisation (admins, managers).
#[utoipa::path(post, path = "/v1/organisations/{org_id}/unblock", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path)),
    responses((status = 200, body = OrganisationView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem)))]
async fn unblock_organisation(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org_id): Path<String>,
) -> ApiResult<Json<OrganisationView>> {
    set_org_status(&state, &caller, &org_id, false).await
}

async fn set_org_status(
    state: &AppState,
    caller: &Principal,
    org_id: &str,
    block: bool,
) -> ApiResult<Json<OrganisationView>> {
    let mut org = reachable_org(state, caller, org_id).await?;
    caller.require_role(&[Role::Admin, Role::Manager])?;
    let from = org.status;
    if block {
        org.block()?;
    } else {
        org.unblock()?;
    }
    state.store.set_org_status(org.id, from, org.status).await?;
    tracing::info!(org = %org.id, blocked = block, "organisation status changed");
    Ok(Json(OrganisationView::from(&org)))
}

/// A customer's own payment terms.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentTermsRequest {
    /// Days from an invoice's issue to its due date, 0 to 365; `null` returns the customer to
    /// the provider's terms (billing settings).
    #[schema(example = 30)]
    pub payment_terms_days: Option<u16>,
}

/// Set a customer's payment terms (admins, managers, accountants): invoices issued from now
/// on fall due that many days after issue; issued invoices keep their due date.
#[utoipa::path(put, path = "/v1/organisations/{org_id}/payment-terms", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path)), request_body = PaymentTermsRequest,
    responses((status = 200, body = OrganisationView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 422, description = "terms beyond 365 days (`field`: `payment_terms_days`)", body = kopek_http::problem::Problem)))]
async fn set_payment_terms(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org_id): Path<String>,
    JsonBody(body): JsonBody<PaymentTermsRequest>,
) -> ApiResult<Json<OrganisationView>> {
    let mut org = reachable_org(&state, &caller, &org_id).await?;
    caller.require_role(&[Role::Admin, Role::Manager, Role::Accountant])?;
    org.payment_terms = body
        .payment_terms_days
        .map(PaymentTerms::days)
        .transpose()?;
    state
        .store
        .set_payment_terms(org.id, org.payment_terms)
        .await?;
    tracing::info!(org = %org.id, terms = ?body.payment_terms_days, "payment terms set");
    Ok(Json(OrganisationView::from(&org)))
}

/// The users of an organisation.
#[utoipa::path(get, path = "/v1/organisations/{org_id}/users", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path), ListQuery),
    responses((status = 200, body = Paged<UserView>), (status = 404, body = kopek_http::problem::Problem)))]
async fn list_users(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org_id): Path<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<UserView>>> {
    let org = reachable_org(&state, &caller, &org_id).await?;
    let (limit, start) = query.parse(&state)?;
    let page = state.store.list_users(Some(org.id), limit, start).await?;
    Ok(Json(Paged::from_page(&state, page, |u| UserView::from(&u))))
}

async fn invite(
    state: &AppState,
    name: &str,
    email: &str,
    role: Role,
    org: Option<OrgId>,
) -> ApiResult<InvitationView> {
    let email = Email::parse(email)?;
    let name = PersonName::parse(name).map_err(|e| e.in_field("name"))?;
    let now = state.clock.now();
    let user = User::new(
        UserId::new(),
        org,
        email,
        name,
        role,
        UserStatus::Invited,
        now,
    )?;
    let (token, record) = Invitation::issue(now);
    state.store.invite_user(&user, &record).await?;
    tracing::info!(user = %user.id(), role = %role, "user invited");
    Ok(InvitationView {
        user: UserView::from(&user),
        invitation_token: token.expose_secret().to_owned(),
        expires_at: record.expires_at,
    })
}

/// Add a colleague to an organisation: the response carries an invitation token (shown once)
/// for the new user to choose a password with.
#[utoipa::path(post, path = "/v1/organisations/{org_id}/users", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path)), request_body = InviteUserRequest,
    responses((status = 201, body = InvitationView), (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem)))]
async fn invite_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org_id): Path<String>,
    JsonBody(body): JsonBody<InviteUserRequest>,
) -> ApiResult<impl IntoResponse> {
    let org = reachable_org(&state, &caller, &org_id).await?;
    require(&caller, Scope::AccountsWrite)?;
    if caller.role().is_staff() {
        caller.require_role(&[Role::Admin])?;
    }
    let view = invite(
        &state,
        &body.name,
        &body.email,
        Role::Customer,
        Some(org.id),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The provider's staff (admins only).
#[utoipa::path(get, path = "/v1/staff-users", tag = "staff", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Paged<UserView>), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_staff(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<UserView>>> {
    caller.require_role(&[Role::Admin])?;
    let (limit, start) = query.parse(&state)?;
    let page = state.store.list_users(None, limit, start).await?;
    Ok(Json(Paged::from_page(&state, page, |u| UserView::from(&u))))
}

/// Invite a member of staff (admins only).
#[utoipa::path(post, path = "/v1/staff-users", tag = "staff", security(("bearer" = [])), request_body = InviteStaffRequest,
    responses((status = 201, body = InvitationView), (status = 403, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn invite_staff(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<InviteStaffRequest>,
) -> ApiResult<impl IntoResponse> {
    caller.require_role(&[Role::Admin])?;
    require(&caller, Scope::AccountsWrite)?;
    if !body.role.is_staff() {
        return Err(ApiError::validation(
            "role",
            "staff roles are engineer, manager, accountant and admin; customers are invited by their organisation",
        ));
    }
    let view = invite(&state, &body.name, &body.email, body.role, None).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

// ---------------------------------------------------------------------------------------
// Handlers: API keys

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ApiKeyListQuery {
    limit: Option<u16>,
    cursor: Option<String>,
    /// Staff: list the keys of this organisation instead of the staff's.
    org_id: Option<String>,
}

/// The API keys of the caller's organisation (or, for admins, the staff's or `org_id`'s).
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])), params(ApiKeyListQuery),
    responses((status = 200, body = Paged<ApiKeyView>)))]
async fn list_api_keys(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ApiKeyListQuery>,
) -> ApiResult<Json<Paged<ApiKeyView>>> {
    require(&caller, Scope::AccountsRead)?;
    let owner = match (&caller.org(), query.org_id.as_deref()) {
        (Some(own), None) => Some(*own),
        (own, Some(requested)) => {
            let org = parse_org(requested)?;
            caller.can_access_org(org)?;
            debug_assert!(own.is_none() || *own == Some(org));
            Some(org)
        }
        (None, None) => {
            caller.require_role(&[Role::Admin])?;
            None
        }
    };
    let (limit, start) = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse(&state)?;
    let page = state.store.list_api_keys(owner, limit, start).await?;
    Ok(Json(Paged::from_page(&state, page, |k| {
        ApiKeyView::from(&k)
    })))
}

/// Create an API key. Its token is in this response only; Kopek keeps just a hash.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])), request_body = CreateApiKeyRequest,
    responses((status = 201, body = IssuedApiKeyView), (status = 403, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn create_api_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateApiKeyRequest>,
) -> ApiResult<impl IntoResponse> {
    let role = body.role.unwrap_or(Role::Customer);
    let org = match (caller.org(), body.org_id) {
        (Some(own), None) => Some(own),
        (_, Some(requested)) => Some(requested),
        (None, None) => None,
    };
    let scopes = body
        .scopes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<Scope>().map_err(|_| {
                ApiError::validation(format!("scopes[{i}]"), format!("`{s}` is not a scope"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scopes = ScopeSet::for_role(role, scopes)?;
    let name = ApiKeyName::parse(&body.name).map_err(|e| e.in_field("name"))?;
    let command = NewApiKey::new(&caller, org, name, role, scopes)?;
    let issued = command.issue(state.clock.now());
    state
        .store
        .create_api_key(&issued.key, &issued.secret_hash)
        .await?;
    tracing::info!(api_key = %issued.key.id(), role = %role, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(IssuedApiKeyView {
            api_key: ApiKeyView::from(&issued.key),
            token: issued.token.expose_secret().to_owned(),
        }),
    ))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(("key_id" = String, Path)),
    responses((status = 204), (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem)))]
async fn revoke_api_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    require(&caller, Scope::AccountsWrite)?;
    let id: ApiKeyId = key_id.parse().map_err(|_| ApiError::not_found())?;
    let (key, _) = state
        .store
        .api_key(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match key.org() {
        Some(org) => caller.can_access_org(org)?,
        None => caller
            .require_role(&[Role::Admin])
            .map_err(|_| AccessError::NotFound)?,
    }
    if !key.is_active() {
        return Err(ApiError::conflict(
            "invalid_state",
            "the key is already revoked",
        ));
    }
    state.store.revoke_api_key(id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
