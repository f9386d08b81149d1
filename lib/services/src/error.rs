//! The one error of every service: the domain's refusals as they are, storage failures, and
//! the few outcomes that belong to a use case rather than to one domain rule. `kopek-http`
//! maps each variant to problem+json in one place (`kopek_http::problem`).

use kopek_domain::accounts::{AccessError, AccountsError};
use kopek_domain::catalog::CatalogError;
use kopek_domain::invoicing::InvoicingError;
use kopek_domain::money::MoneyError;
use kopek_domain::orders::OrderError;
use kopek_domain::payments::PaymentError;
use kopek_domain::pricing::PricingError;
use kopek_domain::subscriptions::SubscriptionError;
use kopek_domain::usage::Rejection;
use kopek_domain::work::WorkError;

use crate::StoreError;
use crate::close::CloseError;
use crate::usage::ingest::ResubmitError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a use case refused or failed. Nothing was written unless the variant says so.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
    #[error(transparent)]
    Work(#[from] WorkError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Invoicing(#[from] InvoicingError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Close(#[from] CloseError),
    #[error(transparent)]
    Resubmit(#[from] ResubmitError),
    /// A usage event refused; its `field` names where in the request it stands.
    #[error("{}: {}", .0.field, .0.detail)]
    Rejected(Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Input that reads well but breaks a rule (422), naming the field; `code` refines the
    /// generic `validation_failed`.
    #[error("{field}: {reason}")]
    Invalid {
        field: String,
        reason: String,
        code: Option<&'static str>,
    },
    /// Input the operation does not take at all (400), naming the field.
    #[error("{field}: {reason}")]
    BadInput {
        code: &'static str,
        field: String,
        reason: String,
    },
    /// Nothing the caller may see has this id (also for another organisation's).
    #[error("not found")]
    NotFound,
    /// The caller may not do this (403).
    #[error("{reason}")]
    Forbidden { code: &'static str, reason: String },
    /// The credentials presented in `field` (a password, a token) were refused; as
    /// [`AccountsError::InvalidCredentials`], it says no more, but names the field.
    #[error("{field}: invalid credentials")]
    CredentialsRefused { field: &'static str },
    /// The state refuses it (409), optionally naming the field.
    #[error("{reason}")]
    Conflict {
        code: &'static str,
        field: Option<String>,
        reason: String,
    },
    /// Optimistic retries ran out: the things read kept changing (503, retry).
    #[error("busy: {0}")]
    Busy(String),
    /// A bug or a misconfiguration: never the caller's fault (500, logged once).
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// 422 naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
            code: None,
        }
    }

    /// 400 naming `field`.
    pub fn bad_input(
        code: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::BadInput {
            code,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// 409 with a stable `code`.
    pub fn conflict(code: &'static str, reason: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            field: None,
            reason: reason.into(),
        }
    }

    /// 409 naming `field`.
    pub fn conflict_on(
        code: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Conflict {
            code,
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    pub fn forbidden(code: &'static str, reason: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            reason: reason.into(),
        }
    }

    /// The credentials in `field` were refused (401 `invalid_credentials`).
    pub fn credentials_refused(field: &'static str) -> Self {
        Self::CredentialsRefused { field }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// Whether trying again later may succeed (storage throttling, an unavailable service,
    /// retries that ran out).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Store(StoreError::Transient(_)) | Error::Busy(_) => true,
            Error::Close(e) => e.is_transient(),
            _ => false,
        }
    }
}
