//! Payments received (`kopek_services::payments::Payments`): accountants record a customer's
//! payment once per reference; it settles the customer's open invoices oldest first and the
//! rest is credit, which the next invoices draw down as they are issued (see
//! `kopek_domain::payments`). Customers list their own payments.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::money::Currency;
use kopek_domain::payments::{Payment, Settlement};
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use kopek_http::{ApiError, ApiResult};
use kopek_services::payments::{RecordPaymentCommand, Recorded};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::params::org_query;

/// A payment to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// The paying organisation.
    org_id: String,
    /// A decimal string in whole minor units, more than zero.
    #[serde(with = "kopek_domain::wire::decimal")]
    #[schema(value_type = String, example = "12000.00")]
    amount: Decimal,
    /// The customer's currency.
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// The day the money arrived (not after today).
    #[serde(with = "kopek_domain::wire::date")]
    #[schema(value_type = String, format = Date, example = "2026-11-20")]
    received_on: NaiveDate,
    /// The bank document or receipt number, 1–64 characters; one payment per reference and
    /// customer (the same reference again answers the payment recorded).
    #[schema(example = "п/п 4711")]
    reference: String,
}

/// What a payment paid of one invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementView {
    invoice_id: String,
    number: String,
    amount: Amount,
}

/// A recorded payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    id: String,
    org_id: String,
    amount: Amount,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    received_on: NaiveDate,
    reference: String,
    recorded_at: DateTime<Utc>,
    /// The open invoices it paid, oldest first.
    settled: Vec<SettlementView>,
    /// What was left after settling: the customer's credit, drawn down by its next invoices.
    to_credit: Amount,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        Self {
            id: p.id.to_string(),
            org_id: p.org.to_string(),
            amount: p.amount.into(),
            currency: p.amount.currency(),
            received_on: p.received_on,
            reference: p.reference.to_string(),
            recorded_at: p.recorded_at,
            settled: p
                .settled
                .iter()
                .map(|s: &Settlement| SettlementView {
                    invoice_id: s.invoice.to_string(),
                    number: s.number.to_string(),
                    amount: s.amount.into(),
                })
                .collect(),
            to_credit: p.to_credit.into(),
        }
    }
}

/// Record a payment received: it settles the customer's open invoices oldest first (at most
/// 90), and what is left is credit that its next invoices draw down as they are issued. It
/// posts Dr Cash, Cr Receivable on the day received. Recording a reference again answers the
/// payment already recorded (200) when it is the same payment, and 409 when it is not.
#[utoipa::path(post, path = "/v1/billing/payments", tag = "billing", security(("bearer" = [])),
    request_body = PaymentRequest,
    responses((status = 201, body = PaymentView), (status = 200, description = "recorded before (same reference, amount and day)", body = PaymentView),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`conflict`: the reference was recorded with another amount or day (`reference`)", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `org_id`, `amount`, `currency`, `received_on`, `reference`", body = kopek_http::problem::Problem),
        (status = 503, description = "the customer's invoices kept changing; retry", body = kopek_http::problem::Problem)))]
pub(super) async fn record_payment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<PaymentRequest>,
) -> ApiResult<impl IntoResponse> {
    let org = body
        .org_id
        .parse()
        .map_err(|_| ApiError::validation("org_id", "no such organisation"))?;
    let command = RecordPaymentCommand {
        org,
        amount: body.amount,
        currency: body.currency,
        received_on: body.received_on,
        reference: body.reference,
    };
    let (status, payment) = match state.services.payments().record(&caller, command).await? {
        Recorded::New(payment) => (StatusCode::CREATED, payment),
        Recorded::Before(payment) => (StatusCode::OK, payment),
    };
    Ok((status, Json(PaymentView::from(&payment))))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PaymentsQuery {
    /// Whose: staff name the organisation; a customer may name only its own.
    org_id: Option<String>,
}

/// A customer's payments and its credit.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentsView {
    org_id: String,
    /// The customer's legal name.
    customer: String,
    /// Oldest received first.
    items: Vec<PaymentView>,
    /// Credit not yet drawn down by an invoice (prepaid or overpaid).
    credit: Amount,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
}

/// A customer's payments, oldest first, and the credit its next invoices will draw down.
#[utoipa::path(get, path = "/v1/billing/payments", tag = "billing", security(("bearer" = [])), params(PaymentsQuery),
    responses((status = 200, body = PaymentsView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn list_payments(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<PaymentsQuery>,
) -> ApiResult<Json<PaymentsView>> {
    let org = org_query(query.org_id.as_deref())?;
    let of = state.services.payments().of(&caller, org).await?;
    Ok(Json(PaymentsView {
        org_id: of.org.to_string(),
        customer: of.customer,
        items: of.payments.iter().map(PaymentView::from).collect(),
        credit: of.credit.into(),
        currency: of.currency,
    }))
}
