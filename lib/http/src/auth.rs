//! Who is calling: access tokens for people, API keys for machines.
//!
//! - An **access token** is a JWT (HS256, key derived from the secret in Secrets Manager)
//!   that lives 15 minutes by default and names the user, role, organisation and session.
//!   Every request also checks that the session still exists (one consistent read), so
//!   sign-out and a password change end access at once, not when the token expires.
//! - An **API key** (`kpk_…`) is looked up by its id and its secret compared by SHA-256 hash
//!   in constant time; a revoked key stops working at once.
//!
//! Both lookups are `kopek_services::accounts::Accounts`'s; tokens are signed and verified
//! here.
//!
//! The middleware puts the [`Principal`] into the request's extensions; handlers take it with
//! the [`Caller`] extractor (401 when absent). A malformed, tampered or expired credential is a
//! 401 before any handler runs.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kopek_domain::accounts::{AccessError, ApiKeyToken, Principal, Role};
use kopek_domain::ids::{OrgId, SessionId, UserId};
use kopek_services::access::subject_text;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const ISSUER: &str = "kopek";
const AUDIENCE: &str = "kopek-api";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Claims {
    iss: String,
    aud: String,
    sub: UserId,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<OrgId>,
    sid: SessionId,
    iat: i64,
    exp: i64,
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Why a token was refused. Deliberately coarse towards the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

/// Issues and verifies access tokens.
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    audience: &'static str,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The verified content of an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user: UserId,
    pub role: Role,
    pub org: Option<OrgId>,
    pub session: SessionId,
}

impl TokenSigner {
    /// The API's access tokens, lasting `ttl`.
    pub fn new(key: &[u8], ttl: Duration) -> Self {
        Self::for_audience(key, ttl, AUDIENCE)
    }

    /// Tokens for `audience` only (the portal's session cookie is not an API token, nor the
    /// other way round), lasting `ttl`.
    pub fn for_audience(key: &[u8], ttl: Duration, audience: &'static str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the injected clock below, not the system clock.
        validation.validate_exp = false;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            ttl,
            audience,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(
        &self,
        user: UserId,
        role: Role,
        org: Option<OrgId>,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> AccessToken {
        let expires_at =
            now + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(15));
        let claims = Claims {
            iss: ISSUER.into(),
            aud: self.audience.into(),
            sub: user,
            role,
            org,
            sid: session,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default();
        AccessToken {
            token,
            expires_at: Utc
                .timestamp_opt(claims.exp, 0)
                .single()
                .unwrap_or(expires_at),
        }
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(VerifiedToken {
            user: claims.sub,
            role: claims.role,
            org: claims.org,
            session: claims.sid,
        })
    }
}

/// The authenticated caller; a 401 when the request carries no credentials.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::from(AccessError::Unauthenticated))
    }
}

/// The caller if there is one (public endpoints that show more to staff).
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(parts.extensions.get::<Principal>().cloned()))
    }
}

/// Who a request's idempotency keys belong to: the principal, or for an anonymous request
/// (registration, sign-in) its client address, so strangers never share a key space.
pub fn caller_scope(request: &Request) -> String {
    match request.extensions().get::<Principal>() {
        Some(principal) => subject_text(principal),
        None => match request.extensions().get::<crate::layers::ClientAddr>() {
            Some(addr) => format!("anonymous@{}", addr.0),
            None => "anonymous".to_owned(),
        },
    }
}

/// The authentication middleware.
pub async fn middleware(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(header) = request.headers().get(AUTHORIZATION) else {
        return next.run(request).await;
    };
    let presented = match header.to_str().ok().and_then(bearer_token) {
        Some(token) => token.to_owned(),
        None => {
            return ApiError::unauthenticated("the Authorization header must be `Bearer <token>`")
                .with_field("Authorization")
                .into_response();
        }
    };
    match authenticate(&state, &presented).await {
        Ok(principal) => {
            tracing::Span::current().record(
                "principal",
                tracing::field::display(subject_text(&principal)),
            );
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("Bearer").then(|| token.trim())
}

async fn authenticate(state: &AppState, presented: &str) -> Result<Principal, ApiError> {
    let accounts = state.services.accounts();
    if presented.starts_with(ApiKeyToken::PREFIX) {
        return accounts
            .authenticate_key(presented)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("the API key is not valid"));
    }
    session_principal(state, &state.tokens, presented).await
}

/// The person a token of `signer` names, while its session lasts: the API's access tokens,
/// and the portal's session cookie.
pub async fn session_principal(
    state: &AppState,
    signer: &TokenSigner,
    presented: &str,
) -> Result<Principal, ApiError> {
    let accounts = state.services.accounts();
    let token = signer
        .verify(presented, state.services.now())
        .map_err(|e| ApiError::unauthenticated(e.to_string()))?;
    if !accounts.session_active(token.user, token.session).await? {
        return Err(ApiError::unauthenticated(
            "the session has ended; sign in again",
        ));
    }
    let principal = Principal::user(token.user, token.role, token.org, Some(token.session))
        .map_err(|_| ApiError::unauthenticated(TokenError::Invalid.to_string()))?;
    // The portal authenticates inside its handlers: its actions learn their actor here.
    kopek_services::audit::set_actor(kopek_services::audit::Actor::of(&principal));
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new(
            b"0123456789abcdef0123456789abcdef",
            Duration::from_secs(900),
        )
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_token_verifies_until_it_expires() {
        let (user, org, sid) = (UserId::new(), OrgId::new(), SessionId::new());
        let token = signer().issue(user, Role::Customer, Some(org), sid, now());
        let verified = signer().verify(&token.token, now()).unwrap();
        assert_eq!(
            verified,
            VerifiedToken {
                user,
                role: Role::Customer,
                org: Some(org),
                session: sid
            }
        );
        let later = now() + chrono::Duration::seconds(900);
        assert_eq!(
            signer().verify(&token.token, later),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let token = signer().issue(
            UserId::new(),
            Role::Customer,
            Some(OrgId::new()),
            SessionId::new(),
            now(),
        );
        let mut parts: Vec<String> = token.token.split('.').map(str::to_owned).collect();
        // Swap the payload for one claiming the admin role, keeping the old signature.
        let forged = signer().issue(UserId::new(), Role::Admin, None, SessionId::new(), now());
        parts[1] = forged.token.split('.').nth(1).unwrap().to_owned();
        assert_eq!(
            signer().verify(&parts.join("."), now()),
            Err(TokenError::Invalid)
        );
        let other = TokenSigner::new(
            b"another-key-another-key-another-",
            Duration::from_secs(900),
        );
        assert_eq!(other.verify(&token.token, now()), Err(TokenError::Invalid));
        assert_eq!(
            signer().verify("not-a-token", now()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn a_token_signed_with_none_is_refused() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let token = signer().issue(UserId::new(), Role::Admin, None, SessionId::new(), now());
        let payload = token.token.split('.').nth(1).unwrap();
        assert_eq!(
            signer().verify(&format!("{header}.{payload}."), now()),
            Err(TokenError::Invalid)
        );
    }
}
