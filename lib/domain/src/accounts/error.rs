//! The accounts module's errors.

use super::roles::{Role, Scope};

/// Why an accounts command was refused.
///
/// Each variant has a stable machine [`code`](AccountsError::code); [`Invalid`] and
/// [`ScopeBeyondRole`] also name the field, so the HTTP layer can point at it.
///
/// [`Invalid`]: AccountsError::Invalid
/// [`ScopeBeyondRole`]: AccountsError::ScopeBeyondRole
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    /// A value broke a rule; `reason` says which.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A scope was asked for that the role may not hold.
    #[error("scopes: `{scope}` is beyond what the role `{role}` may hold")]
    ScopeBeyondRole { scope: Scope, role: Role },
    /// Another user already has this e-mail (compared case-insensitively).
    #[error("email: already in use")]
    EmailTaken,
    /// The e-mail, password or token did not match. Deliberately says no more.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed sign-ins; try again after the given number of seconds.
    #[error("too many failed attempts; retry after {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// No credentials were presented, or they no longer identify anyone.
    #[error("not signed in")]
    Unauthenticated,
    /// The caller is known but lacks the role or scope named in `needed`.
    #[error("forbidden: needs {needed}")]
    Forbidden { needed: String },
    /// The thing does not exist, or belongs to an organisation the caller may not see.
    #[error("not found")]
    NotFound,
    /// The invitation's token is past its expiry.
    #[error("the invitation has expired")]
    InvitationExpired,
    /// The entity is not in a state that allows the change (e.g. revoking a revoked key).
    #[error("invalid state: {reason}")]
    InvalidState { reason: String },
}

impl AccountsError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The same error reported against another field: a constructor names its value
    /// generically (`email`), a command names its place (`billing_email`).
    pub fn in_field(self, field: &'static str) -> Self {
        match self {
            Self::Invalid { reason, .. } => Self::Invalid { field, reason },
            other => other,
        }
    }

    /// The field the error is about, if it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::ScopeBeyondRole { .. } => Some("scopes"),
            Self::EmailTaken => Some("email"),
            _ => None,
        }
    }

    /// A stable, machine-readable code for the problem document.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::ScopeBeyondRole { .. } => "scope_beyond_role",
            Self::EmailTaken => "email_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Throttled { .. } => "throttled",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound => "not_found",
            Self::InvitationExpired => "invitation_expired",
            Self::InvalidState { .. } => "invalid_state",
        }
    }
}

/// Why a principal may not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// Nobody (valid) is calling.
    #[error("not signed in")]
    Unauthenticated,
    /// The caller lacks a role or scope; `needed` names it (`scope orders:write`).
    #[error("forbidden: needs {needed}")]
    Forbidden { needed: String },
    /// The resource does not exist for this caller — also the answer for another
    /// organisation's resources, so their ids cannot be probed.
    #[error("not found")]
    NotFound,
}

impl From<AccessError> for AccountsError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::Unauthenticated => Self::Unauthenticated,
            AccessError::Forbidden { needed } => Self::Forbidden { needed },
            AccessError::NotFound => Self::NotFound,
        }
    }
}
