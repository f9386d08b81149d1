//! The `accounts-api` function: registration, sign-in and sessions, organisations and their
//! users, staff, API keys.
//!
//! Handlers only translate: wire types in, one call of `kopek_services::accounts::Accounts`
//! with the caller and a typed command, views out. Access tokens are signed here
//! ([`kopek_http::auth::TokenSigner`]) for the sessions the service starts.

use crate::paging::{ListQuery, Paged};
use crate::params::{id_path, org_query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use kopek_domain::accounts::{
    ApiKey, CustomerForm, DocumentLanguage, Organisation, PaymentTerms, RegistrationForm, Role,
    Scope, ScopeSet, Subject, User, UserStatus,
};
use kopek_domain::ids::{ApiKeyId, OrgId, UserId};
use kopek_domain::money::Currency;
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use kopek_services::accounts::{
    AcceptInvitation, ChangePassword, CreateApiKey, DocumentDetails, Invite, Invited,
    ResetPassword, ResetRequest, Session, SignIn, UpsertOutcome,
};
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
        .routes(routes!(request_password_reset))
        .routes(routes!(reset_password))
        .routes(routes!(sign_out_everywhere))
        .routes(routes!(me))
        .routes(routes!(list_organisations))
        .routes(routes!(get_organisation))
        .routes(routes!(get_customer_by_ref, upsert_customer_by_ref))
        .routes(routes!(block_organisation))
        .routes(routes!(unblock_organisation))
        .routes(routes!(set_payment_terms))
        .routes(routes!(set_document_details))
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
    /// KPP (9 characters), for a Russian legal entity (10-digit INN); printed on its
    /// documents. Staff can set it later too.
    #[serde(default)]
    #[schema(example = "770101001")]
    pub kpp: Option<String>,
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
    /// The language of the mail: `ru` (default) or `en`.
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token of the link the mail gave.
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
    /// A Russian legal entity's KPP, printed beside its INN on documents.
    pub kpp: Option<String>,
    /// The contract its documents are issued under.
    pub contract: Option<ContractView>,
}

/// A contract: its number and the day it was signed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractView {
    #[schema(example = "17/2026")]
    pub number: String,
    #[serde(with = "kopek_domain::wire::date")]
    #[schema(value_type = String, format = Date, example = "2026-01-12")]
    pub signed_on: chrono::NaiveDate,
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
            kpp: o.kpp.as_ref().map(|k| k.as_str().to_owned()),
            contract: o.contract.as_ref().map(|c| ContractView {
                number: c.number.clone(),
                signed_on: c.signed_on,
            }),
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
// Sessions

/// A session's tokens: its refresh token, and an access token signed here as of when the
/// session started or was refreshed.
fn session_view(state: &AppState, session: Session) -> SessionView {
    let user = &session.user;
    let access = state
        .tokens
        .issue(user.id(), user.role(), user.org(), session.id, session.at);
    SessionView {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl().as_secs(),
        expires_at: access.expires_at,
        user: UserView::from(user),
        refresh_token: session.refresh_token,
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
        kpp: body.organisation.kpp,
        user_name: body.user.name,
        user_email: body.user.email,
        password: body.user.password,
    };
    let registered = state
        .services
        .accounts()
        .register(form)
        .await
        .map_err(|e| registration_field(e.into()))?;
    Ok((
        StatusCode::CREATED,
        Json(RegistrationView {
            organisation: OrganisationView::from(&registered.organisation),
            session: session_view(&state, registered.session),
        }),
    ))
}

/// The registration form is nested on the wire: name fields by their JSON path (an e-mail
/// in use is the user's).
fn registration_field(e: ApiError) -> ApiError {
    if e.code == "email_taken" {
        e.with_field("user.email")
    } else {
        prefix_field(e, "organisation", "user")
    }
}

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
    let attempt = SignIn {
        email: body.email,
        password: body.password,
        client: addr.map(|Extension(ClientAddr(ip))| ip),
    };
    let session = state.services.accounts().sign_in(attempt).await?;
    Ok(Json(session_view(&state, session)))
}

/// Exchange a refresh token for new tokens. Refresh tokens are single use: presenting an old
/// one again ends the session (it was copied).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = SessionView), (status = 401, body = kopek_http::problem::Problem)))]
async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<Json<SessionView>> {
    let session = state
        .services
        .accounts()
        .refresh(&body.refresh_token)
        .await?;
    Ok(Json(session_view(&state, session)))
}

/// End the caller's session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/sign-out", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = kopek_http::problem::Problem),
        (status = 403, description = "an API key has no session to end", body = kopek_http::problem::Problem)))]
async fn sign_out(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<StatusCode> {
    state.services.accounts().sign_out(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the caller's password; every other session of the user ends.
#[utoipa::path(post, path = "/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = kopek_http::problem::Problem),
        (status = 403, description = "an API key has no password", body = kopek_http::problem::Problem),
        (status = 422, body = kopek_http::problem::Problem)))]
async fn change_password(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let change = ChangePassword {
        current: body.current_password,
        new: body.new_password,
    };
    state
        .services
        .accounts()
        .change_password(&caller, change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation: choose a password and get signed in.
#[utoipa::path(post, path = "/v1/auth/accept-invitation", tag = "auth", request_body = AcceptInvitationRequest,
    responses((status = 200, body = SessionView), (status = 401, body = kopek_http::problem::Problem), (status = 410, description = "`invitation_expired`", body = kopek_http::problem::Problem)))]
async fn accept_invitation(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AcceptInvitationRequest>,
) -> ApiResult<Json<SessionView>> {
    let acceptance = AcceptInvitation {
        token: body.token,
        password: body.password,
    };
    let session = state
        .services
        .accounts()
        .accept_invitation(acceptance)
        .await?;
    Ok(Json(session_view(&state, session)))
}

/// Forgot the password: a link to choose a new one is mailed to the address when it is an
/// active user's. The answer is the same either way; requests are throttled as sign-ins are.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", request_body = PasswordResetRequest,
    responses((status = 202, description = "a link was mailed if the address is an active user's"),
        (status = 422, description = "`field`: `email`, `language`", body = kopek_http::problem::Problem),
        (status = 429, description = "`too_many_attempts`, with Retry-After", body = kopek_http::problem::Problem)))]
async fn request_password_reset(
    State(state): State<AppState>,
    addr: Option<Extension<ClientAddr>>,
    JsonBody(body): JsonBody<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    let language = match body.language.as_deref() {
        None | Some("ru") => kopek_domain::accounts::DocumentLanguage::Ru,
        Some("en") => kopek_domain::accounts::DocumentLanguage::En,
        Some(_) => return Err(ApiError::validation("language", "must be ru or en")),
    };
    state
        .services
        .accounts()
        .request_password_reset(ResetRequest {
            email: body.email,
            client: addr.map(|Extension(ClientAddr(ip))| ip),
            language,
        })
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Choose a new password with the token of a reset link (once, within an hour): every
/// session of the user ends, and a new one starts.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 200, body = SessionView), (status = 401, description = "`field`: `token`", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `password`", body = kopek_http::problem::Problem)))]
async fn reset_password(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ResetPasswordRequest>,
) -> ApiResult<Json<SessionView>> {
    let session = state
        .services
        .accounts()
        .reset_password(ResetPassword {
            token: body.token,
            password: body.password,
        })
        .await?;
    Ok(Json(session_view(&state, session)))
}

/// Sign out everywhere: every session of the caller's user ends, this one too.
#[utoipa::path(post, path = "/v1/auth/sign-out-everywhere", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = kopek_http::problem::Problem),
        (status = 403, description = "an API key has no sessions", body = kopek_http::problem::Problem)))]
async fn sign_out_everywhere(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<StatusCode> {
    state
        .services
        .accounts()
        .sign_out_everywhere(&caller)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who am I: the caller's user or key, role, scopes and organisation.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = kopek_http::problem::Problem)))]
async fn me(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<Json<MeView>> {
    let me = state.services.accounts().me(&caller).await?;
    let kind = match caller.subject() {
        Subject::User(_) => "user",
        Subject::ApiKey(_) => "api_key",
    };
    Ok(Json(MeView {
        kind,
        role: caller.role(),
        scopes: caller.scopes().clone(),
        user: me.user.as_ref().map(UserView::from),
        api_key: me.api_key.as_ref().map(ApiKeyView::from),
        organisation: me.organisation.as_ref().map(OrganisationView::from),
    }))
}

// ---------------------------------------------------------------------------------------
// Handlers: organisations and users

/// List customer organisations (staff only).
#[utoipa::path(get, path = "/v1/organisations", tag = "organisations", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Paged<OrganisationView>), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_organisations(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<OrganisationView>>> {
    let paging = query.paging(&state)?;
    let page = state
        .services
        .accounts()
        .organisations(&caller, paging)
        .await?;
    Ok(Json(Paged::from_page(&state, page, |o| {
        OrganisationView::from(&o)
    })))
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
    let org = state
        .services
        .accounts()
        .organisation(&caller, id_path(&org_id)?)
        .await?;
    Ok(Json(OrganisationView::from(&org)))
}

/// A CRM's record of a customer: what `PUT /v1/customers/by-ref/{reference}` sets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRecordRequest {
    #[schema(example = "ООО «Ромашка»")]
    pub legal_name: String,
    /// Russian INN (10 or 12 digits, checksum verified) or an EU VAT number.
    #[schema(example = "7707083893")]
    pub tax_id: String,
    /// KPP, for a Russian legal entity; absent: none.
    #[serde(default)]
    pub kpp: Option<String>,
    #[schema(example = "billing@romashka.ru")]
    pub billing_email: String,
    #[schema(example = "101000, Москва, ул. Мясницкая, 1")]
    pub billing_address: String,
    /// Fixed once the customer has an invoice: another one is then refused naming it.
    #[schema(value_type = String, example = "RUB")]
    pub currency: Currency,
    /// Language of the closing documents: `ru` or `en`.
    #[schema(value_type = String, example = "ru")]
    pub language: DocumentLanguage,
    /// The customer's own payment terms in days (0 to 365); absent: the provider's.
    #[serde(default)]
    pub payment_terms_days: Option<u16>,
}

/// What an upsert by reference did.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpsertedView {
    pub organisation: OrganisationView,
    /// `created`, `updated` or `unchanged` (the same record again changes nothing).
    pub outcome: String,
    /// The fields the record changed (empty unless `updated`).
    pub changed: Vec<String>,
}

/// The customer a CRM knows by `reference` (staff): its id, for every route that takes one.
#[utoipa::path(get, path = "/v1/customers/by-ref/{reference}", tag = "organisations", security(("bearer" = [])),
    params(("reference" = String, Path, description = "The CRM's reference (as usage producers name the customer too)")),
    responses((status = 200, body = OrganisationView), (status = 400, body = kopek_http::problem::Problem), (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
async fn get_customer_by_ref(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(reference): Path<String>,
) -> ApiResult<Json<OrganisationView>> {
    let org = state
        .services
        .accounts()
        .customer_by_ref(&caller, &reference)
        .await?;
    Ok(Json(OrganisationView::from(&org)))
}

/// Create or update the customer a CRM knows by `reference` from its record (admins and
/// managers, e.g. with a staff API key), idempotently: 201 when created, 200 when updated or
/// unchanged. The currency cannot change once the customer has an invoice (409 naming it).
#[utoipa::path(put, path = "/v1/customers/by-ref/{reference}", tag = "organisations", security(("bearer" = [])),
    params(("reference" = String, Path, description = "The CRM's reference")),
    request_body = CustomerRecordRequest,
    responses((status = 200, body = UpsertedView), (status = 201, body = UpsertedView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn upsert_customer_by_ref(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(reference): Path<String>,
    JsonBody(body): JsonBody<CustomerRecordRequest>,
) -> ApiResult<impl IntoResponse> {
    let form = CustomerForm {
        legal_name: body.legal_name,
        tax_id: body.tax_id,
        kpp: body.kpp,
        billing_email: body.billing_email,
        billing_address: body.billing_address,
        currency: body.currency,
        language: body.language,
        payment_terms_days: body.payment_terms_days,
    };
    let upserted = state
        .services
        .accounts()
        .upsert_customer(&caller, &reference, form)
        .await?;
    let (status, outcome, changed) = match upserted.outcome {
        UpsertOutcome::Created => (StatusCode::CREATED, "created", Vec::new()),
        UpsertOutcome::Updated(fields) => (StatusCode::OK, "updated", fields),
        UpsertOutcome::Unchanged => (StatusCode::OK, "unchanged", Vec::new()),
    };
    Ok((
        status,
        Json(UpsertedView {
            organisation: OrganisationView::from(&upserted.organisation),
            outcome: outcome.into(),
            changed,
        }),
    ))
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
    let org = state
        .services
        .accounts()
        .block(&caller, id_path(&org_id)?)
        .await?;
    Ok(Json(OrganisationView::from(&org)))
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
    let org = state
        .services
        .accounts()
        .unblock(&caller, id_path(&org_id)?)
        .await?;
    Ok(Json(OrganisationView::from(&org)))
}

/// What a customer's documents name besides its registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentDetailsRequest {
    /// 9 characters (a Russian legal entity's); `null` removes it.
    #[schema(example = "770101001")]
    pub kpp: Option<String>,
    /// `null` removes it.
    pub contract: Option<ContractView>,
}

/// Set what a customer's documents name besides its registration: its KPP and the contract
/// (admins, managers, accountants). Invoices issued from now on carry them; issued invoices
/// keep what they were issued with.
#[utoipa::path(put, path = "/v1/organisations/{org_id}/document-details", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path)), request_body = DocumentDetailsRequest,
    responses((status = 200, body = OrganisationView), (status = 403, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `kpp` or `contract.number`", body = kopek_http::problem::Problem)))]
async fn set_document_details(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org_id): Path<String>,
    JsonBody(body): JsonBody<DocumentDetailsRequest>,
) -> ApiResult<Json<OrganisationView>> {
    let details = DocumentDetails {
        kpp: body.kpp,
        contract: body.contract.map(|c| (c.number, c.signed_on)),
    };
    let org = state
        .services
        .accounts()
        .set_document_details(&caller, id_path(&org_id)?, details)
        .await?;
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
    let org = state
        .services
        .accounts()
        .set_payment_terms(&caller, id_path(&org_id)?, body.payment_terms_days)
        .await?;
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
    let org = id_path(&org_id)?;
    let paging = query.paging(&state)?;
    let page = state
        .services
        .accounts()
        .users(&caller, org, paging)
        .await?;
    Ok(Json(Paged::from_page(&state, page, |u| UserView::from(&u))))
}

fn invitation_view(invited: Invited) -> InvitationView {
    InvitationView {
        user: UserView::from(&invited.user),
        invitation_token: invited.token.expose_secret().to_owned(),
        expires_at: invited.expires_at,
    }
}

/// Add a colleague to an organisation: the response carries an invitation token (shown once)
/// for the new user to choose a password with.
#[utoipa::path(post, path = "/v1/organisations/{org_id}/users", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path)), request_body = InviteUserRequest,
    responses((status = 201, body = InvitationView), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`email_taken`", body = kopek_http::problem::Problem)))]
async fn invite_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(org_id): Path<String>,
    JsonBody(body): JsonBody<InviteUserRequest>,
) -> ApiResult<impl IntoResponse> {
    let invite = Invite {
        name: body.name,
        email: body.email,
    };
    let invited = state
        .services
        .accounts()
        .invite_user(&caller, id_path(&org_id)?, invite)
        .await?;
    Ok((StatusCode::CREATED, Json(invitation_view(invited))))
}

/// The provider's staff (admins only).
#[utoipa::path(get, path = "/v1/staff-users", tag = "staff", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Paged<UserView>), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_staff(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<UserView>>> {
    let paging = query.paging(&state)?;
    let page = state.services.accounts().staff(&caller, paging).await?;
    Ok(Json(Paged::from_page(&state, page, |u| UserView::from(&u))))
}

/// Invite a member of staff (admins only).
#[utoipa::path(post, path = "/v1/staff-users", tag = "staff", security(("bearer" = [])), request_body = InviteStaffRequest,
    responses((status = 201, body = InvitationView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`email_taken`", body = kopek_http::problem::Problem),
        (status = 422, body = kopek_http::problem::Problem)))]
async fn invite_staff(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<InviteStaffRequest>,
) -> ApiResult<impl IntoResponse> {
    let invite = Invite {
        name: body.name,
        email: body.email,
    };
    let invited = state
        .services
        .accounts()
        .invite_staff(&caller, body.role, invite)
        .await?;
    Ok((StatusCode::CREATED, Json(invitation_view(invited))))
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
    let org = org_query(query.org_id.as_deref())?;
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .paging(&state)?;
    let page = state
        .services
        .accounts()
        .api_keys(&caller, org, paging)
        .await?;
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
    let create = CreateApiKey {
        name: body.name,
        role: body.role,
        scopes,
        org: body.org_id,
    };
    let issued = state
        .services
        .accounts()
        .create_api_key(&caller, create)
        .await?;
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
    state
        .services
        .accounts()
        .revoke_api_key(&caller, id_path(&key_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
