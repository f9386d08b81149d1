//! RFC 9457 problem details: the one place where errors become HTTP responses.
//!
//! Every service error ([`kopek_services::Error`]) and every domain error it carries is
//! mapped here, once; handlers only add what the request's shape tells (the path of a nested
//! field).
//!
//! Every error a client can see has a stable machine `code` (documented in the OpenAPI
//! document), a human `detail`, and — for bad input — the `field` it is about. Anything
//! unexpected becomes a 500 with a generic body; its cause is logged once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
use kopek_services::StoreError;
use kopek_services::close::CloseError;
use kopek_services::usage::ingest::ResubmitError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of every error response.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, PartialEq)]
pub struct Problem {
    /// A URI reference naming the problem type: `/problems/{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`.
    pub code: String,
    pub detail: String,
    /// The request field the problem is about (a JSON path such as `price.tiers[1].up_to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error on its way to becoming a problem response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub field: Option<String>,
    pub retry_after_secs: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    /// The same error with another stable code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Input that is well-formed JSON but breaks a rule: 422 naming the field.
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
        .with_field(field)
    }

    /// Input that is not what the endpoint reads at all: 400.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many failed attempts; try again in {retry_after_secs} seconds"),
            )
        }
    }

    pub fn unavailable() -> Self {
        Self {
            retry_after_secs: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "please retry shortly",
            )
        }
    }

    /// An unexpected failure: the cause is logged here once and never shown to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "unexpected failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side",
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail.clone(),
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Conflict(what) => ApiError::conflict("conflict", what),
            StoreError::ForeignCursor => {
                ApiError::bad_request("invalid_cursor", "the cursor belongs to another listing")
                    .with_field("cursor")
            }
            StoreError::Duplicate(what) => {
                let code = match what {
                    "email" => "email_taken",
                    "code" => "code_taken",
                    "external_ref" => "external_ref_taken",
                    _ => "duplicate",
                };
                ApiError::conflict(code, format!("{what} is already taken")).with_field(what)
            }
            StoreError::Transient(cause) => {
                tracing::warn!(error = %cause, "storage unavailable");
                ApiError::unavailable()
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Unauthenticated => {
                ApiError::unauthenticated("sign in or present an API key")
            }
            AccessError::Forbidden { needed } => {
                ApiError::forbidden(format!("this needs {needed}"))
            }
            AccessError::NotFound => ApiError::not_found(),
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        let detail = e.to_string();
        match e {
            AccountsError::Invalid { field, reason } => ApiError::validation(field, reason),
            AccountsError::ScopeBeyondRole { .. } => ApiError::validation("scopes", detail),
            AccountsError::EmailTaken => {
                ApiError::conflict("email_taken", "this e-mail is already in use")
                    .with_field("email")
            }
            AccountsError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the e-mail, password or token is not valid",
            ),
            AccountsError::Throttled { retry_after_secs } => {
                ApiError::too_many_requests(retry_after_secs)
            }
            AccountsError::Unauthenticated => AccessError::Unauthenticated.into(),
            AccountsError::Forbidden { needed } => AccessError::Forbidden { needed }.into(),
            AccountsError::NotFound => ApiError::not_found(),
            AccountsError::InvitationExpired => {
                ApiError::new(StatusCode::GONE, "invitation_expired", detail)
            }
            AccountsError::InvalidState { reason } => ApiError::conflict("invalid_state", reason),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Invalid { field, reason } => ApiError::validation(field, reason),
            CatalogError::Conflict { field, reason } => {
                ApiError::conflict("conflict", reason).with_field(field)
            }
            CatalogError::Retired { code } => {
                ApiError::conflict("service_retired", format!("service {code} is retired"))
            }
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid { field, reason } => ApiError::validation(field, reason),
            OrderError::Conflict { field, reason } => {
                ApiError::conflict("invalid_state", reason).with_field(field)
            }
            OrderError::CustomerBlocked => ApiError::forbidden(
                "the organisation is blocked and cannot order; contact the provider",
            )
            .with_code("customer_blocked"),
        }
    }
}

impl From<SubscriptionError> for ApiError {
    fn from(e: SubscriptionError) -> Self {
        match e {
            SubscriptionError::Invalid { field, reason } => ApiError::validation(field, reason),
            SubscriptionError::Conflict { field, reason } => {
                ApiError::conflict("invalid_state", reason).with_field(field)
            }
            SubscriptionError::UnknownPriceVersion { .. } => ApiError::internal(&e),
            SubscriptionError::Pricing(e) => e.into(),
            SubscriptionError::Money(e) => e.into(),
        }
    }
}

impl From<WorkError> for ApiError {
    fn from(e: WorkError) -> Self {
        match e {
            WorkError::Invalid { field, reason } => ApiError::validation(field, reason),
            WorkError::Conflict {
                field,
                code,
                reason,
            } => ApiError::conflict(code, reason).with_field(field),
            WorkError::NotYours => ApiError::forbidden("this batch belongs to another engineer")
                .with_code("not_your_batch"),
        }
    }
}

impl From<PricingError> for ApiError {
    fn from(e: PricingError) -> Self {
        match e {
            PricingError::Invalid { field, reason } => ApiError::validation(field, reason),
            PricingError::Overflow => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "amount_out_of_range",
                "the charge is out of range",
            ),
        }
    }
}

impl From<MoneyError> for ApiError {
    fn from(e: MoneyError) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "money_error",
            e.to_string(),
        )
    }
}

/// A usage event refused: 422 with the reason as the `code` (`unknown_meter`, `bad_quantity`,
/// …) and the event's field at fault (the caller prefixes it with the event's place, such as
/// `events[3].quantity`).
impl From<Rejection> for ApiError {
    fn from(e: Rejection) -> Self {
        let error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.reason.as_str(),
            e.detail,
        );
        if e.field.is_empty() {
            error
        } else {
            error.with_field(e.field)
        }
    }
}

/// An invoicing refusal: 422 naming the field (invalid) or 409 naming it (conflict).
impl From<InvoicingError> for ApiError {
    fn from(e: InvoicingError) -> Self {
        match e {
            InvoicingError::Invalid { field, reason } => ApiError::validation(field, reason),
            InvoicingError::Conflict { field, reason } => {
                ApiError::conflict("conflict", reason).with_field(field)
            }
            InvoicingError::Money(e) => e.into(),
        }
    }
}

/// A close refusal: 422 naming the field (the period has not ended, …), 409 (out of order).
impl From<CloseError> for ApiError {
    fn from(e: CloseError) -> Self {
        match e {
            CloseError::Invalid { field, reason } => ApiError::validation(field, reason),
            CloseError::Conflict(reason) => {
                ApiError::conflict("invalid_state", reason).with_field("period")
            }
            CloseError::Invoicing(e) => e.into(),
            CloseError::Ledger(e) => ApiError::internal(&e),
            CloseError::Usage(e) => ApiError::internal(&e),
            CloseError::Store(e) => e.into(),
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Invalid { field, reason } => ApiError::validation(field, reason),
            e @ PaymentError::CreditDrawn { .. } => {
                ApiError::conflict("credit_drawn", e.to_string()).with_field("payment")
            }
            PaymentError::Money(e) => e.into(),
        }
    }
}

/// A re-submission refused: 409 when the event cannot be re-submitted, 422 (with the reason
/// as the code) when it is still rejected.
impl From<ResubmitError> for ApiError {
    fn from(e: ResubmitError) -> Self {
        match e {
            ResubmitError::NotOpen => ApiError::conflict("not_open", e.to_string()),
            ResubmitError::Truncated => ApiError::conflict("truncated", e.to_string()),
            ResubmitError::StillRejected(rejection) => rejection.into(),
            ResubmitError::Store(e) => e.into(),
        }
    }
}

/// Every service error: the domain's refusals through their own mappings above, and the
/// outcomes of the use cases themselves.
impl From<kopek_services::Error> for ApiError {
    fn from(e: kopek_services::Error) -> Self {
        use kopek_services::Error as E;
        match e {
            E::Access(e) => e.into(),
            E::Accounts(e) => e.into(),
            E::Catalog(e) => e.into(),
            E::Order(e) => e.into(),
            E::Subscription(e) => e.into(),
            E::Work(e) => e.into(),
            E::Pricing(e) => e.into(),
            E::Money(e) => e.into(),
            E::Invoicing(e) => e.into(),
            E::Payment(e) => e.into(),
            E::Close(e) => e.into(),
            E::Resubmit(e) => e.into(),
            E::Rejected(rejection) => rejection.into(),
            E::Store(e) => e.into(),
            E::Invalid {
                field,
                reason,
                code,
            } => {
                let error = ApiError::validation(field, reason);
                match code {
                    Some(code) => error.with_code(code),
                    None => error,
                }
            }
            E::BadInput {
                code,
                field,
                reason,
            } => ApiError::bad_request(code, reason).with_field(field),
            E::NotFound => ApiError::not_found(),
            E::Forbidden { code, reason } => ApiError::forbidden(reason).with_code(code),
            E::CredentialsRefused { field } => {
                ApiError::from(AccountsError::InvalidCredentials).with_field(field)
            }
            E::Conflict {
                code,
                field,
                reason,
            } => {
                let error = ApiError::conflict(code, reason);
                match field {
                    Some(field) => error.with_field(field),
                    None => error,
                }
            }
            E::Busy(reason) => {
                tracing::warn!(%reason, "gave up after optimistic retries");
                ApiError::unavailable()
            }
            E::Internal(cause) => ApiError::internal(&cause),
        }
    }
}
