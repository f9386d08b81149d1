//! Payments received (`kopek_services::payments::Payments`): accountants record a customer's
//! payment once per reference; it settles the customer's open invoices oldest first and the
//! rest is credit, which the next invoices draw down as they are issued (see
//! `kopek_domain::payments`). Customers list their own payments.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::money::Currency;
use kopek_domain::payments::{Payment, Refund, Settlement};
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use kopek_http::{ApiError, ApiResult};
use kopek_services::payments::{RecordPaymentCommand, Recorded, RefundCommand};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::params::id_path;

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
    /// The bank statement line it was read from, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    statement: Option<StatementSourceView>,
    /// When and why it was taken back, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    reversed: Option<ReversalView>,
}

/// The bank statement line a payment was read from.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementSourceView {
    import_id: String,
    line: usize,
    /// The bank document's number and date.
    number: String,
    date: NaiveDate,
    payer_name: String,
    payer_account: String,
    purpose: String,
}

/// How a payment was taken back.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReversalView {
    /// The day it is booked on.
    on: NaiveDate,
    at: DateTime<Utc>,
    reason: String,
    /// The invoices reopened, with what each is open for again.
    reopened: Vec<SettlementView>,
    /// Withdrawn from the customer's credit.
    from_credit: Amount,
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
            settled: p.settled.iter().map(SettlementView::from).collect(),
            to_credit: p.to_credit.into(),
            statement: p.source.as_ref().map(|s| StatementSourceView {
                import_id: s.import.to_string(),
                line: s.line,
                number: s.number.clone(),
                date: s.date,
                payer_name: s.payer_name.clone(),
                payer_account: s.payer_account.clone(),
                purpose: s.purpose.clone(),
            }),
            reversed: p.reversed.as_ref().map(|r| ReversalView {
                on: r.on,
                at: r.at,
                reason: r.reason.clone(),
                reopened: r.reopened.iter().map(SettlementView::from).collect(),
                from_credit: r.from_credit.into(),
            }),
        }
    }
}

impl From<&Settlement> for SettlementView {
    fn from(s: &Settlement) -> Self {
        Self {
            invoice_id: s.invoice.to_string(),
            number: s.number.to_string(),
            amount: s.amount.into(),
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

/// A customer's payments and its credit.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentsView {
    org_id: String,
    /// The customer's legal name.
    customer: String,
    /// Oldest received first; reversed ones too, marked.
    items: Vec<PaymentView>,
    /// Money sent back from the credit, oldest first.
    refunds: Vec<RefundView>,
    /// Credit not yet drawn down by an invoice (prepaid or overpaid).
    credit: Amount,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
}

/// A customer's payments, oldest first, and the credit its next invoices will draw down.
#[utoipa::path(get, path = "/v1/billing/payments", tag = "billing", security(("bearer" = [])), params(crate::params::OrgQuery),
    responses((status = 200, body = PaymentsView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn list_payments(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<crate::params::OrgQuery>,
) -> ApiResult<Json<PaymentsView>> {
    let org = query.org()?;
    let of = state.services.payments().of(&caller, org).await?;
    Ok(Json(PaymentsView {
        org_id: of.org.to_string(),
        customer: of.customer,
        items: of.payments.iter().map(PaymentView::from).collect(),
        refunds: of.refunds.iter().map(RefundView::from).collect(),
        credit: of.credit.into(),
        currency: of.currency,
    }))
}

/// Why a payment is taken back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// 1–500 characters.
    #[schema(example = "Зачислен не тому клиенту")]
    reason: String,
}

/// Take a payment back (admins, accountants) — recorded by mistake, for the wrong customer
/// or amount — with a reason, on today's date: the invoices it settled are reopened, the
/// credit it left is withdrawn, a reversing ledger entry is posted (Dr Receivable, Cr Cash).
/// A payment read from a bank statement goes back to the review list. Refused with 409
/// `credit_drawn` when its credit was drawn into invoices issued since (credit those invoices
/// first), and 422 naming `payment` when it is reversed already.
#[utoipa::path(post, path = "/v1/billing/payments/{payment_id}/reverse", tag = "billing", security(("bearer" = [])),
    params(("payment_id" = String, Path)), request_body = ReverseRequest,
    responses((status = 200, body = PaymentView), (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`credit_drawn` (`payment`): its credit paid later invoices", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `reason`, or `payment` (reversed already)", body = kopek_http::problem::Problem)))]
pub(super) async fn reverse_payment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(payment_id): Path<String>,
    JsonBody(body): JsonBody<ReverseRequest>,
) -> ApiResult<Json<PaymentView>> {
    let id = id_path(&payment_id)?;
    let reversed = state
        .services
        .payments()
        .reverse(&caller, id, &body.reason)
        .await?;
    Ok(Json(PaymentView::from(&reversed)))
}

/// A refund to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    org_id: String,
    /// At most the customer's credit; whole minor units.
    #[serde(with = "kopek_domain::wire::decimal")]
    #[schema(value_type = String, example = "500.00")]
    amount: Decimal,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// The day the money left (not after today).
    #[serde(with = "kopek_domain::wire::date")]
    #[schema(value_type = String, format = Date, example = "2026-11-25")]
    paid_on: NaiveDate,
    /// The bank document's number, 1–64 characters; one refund per reference and customer.
    #[schema(example = "п/п 318")]
    reference: String,
    /// Why, 1–500 characters.
    #[schema(example = "Возврат переплаты по заявлению клиента")]
    reason: String,
}

/// Money sent back to a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    id: String,
    org_id: String,
    amount: Amount,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    paid_on: NaiveDate,
    reference: String,
    reason: String,
    recorded_at: DateTime<Utc>,
}

impl From<&Refund> for RefundView {
    fn from(r: &Refund) -> Self {
        Self {
            id: r.id.to_string(),
            org_id: r.org.to_string(),
            amount: r.amount.into(),
            currency: r.amount.currency(),
            paid_on: r.paid_on,
            reference: r.reference.to_string(),
            reason: r.reason.clone(),
            recorded_at: r.recorded_at,
        }
    }
}

/// Record a refund (admins, accountants): money sent back to a customer from its credit, at
/// most the credit it has; it posts Dr Receivable, Cr Cash and the credit shrinks. Recording
/// a reference again answers the refund already recorded (200) when it is the same, and 409
/// when it is not.
#[utoipa::path(post, path = "/v1/billing/refunds", tag = "billing", security(("bearer" = [])),
    request_body = RefundRequest,
    responses((status = 201, body = RefundView), (status = 200, description = "recorded before (same reference, amount and day)", body = RefundView),
        (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`conflict`: the reference was recorded with another amount or day (`reference`)", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `org_id`, `amount` (more than the credit), `currency`, `paid_on`, `reference`, `reason`", body = kopek_http::problem::Problem),
        (status = 503, description = "the customer's credit kept changing; retry", body = kopek_http::problem::Problem)))]
pub(super) async fn record_refund(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<RefundRequest>,
) -> ApiResult<impl IntoResponse> {
    let org = body
        .org_id
        .parse()
        .map_err(|_| ApiError::validation("org_id", "no such organisation"))?;
    let command = RefundCommand {
        org,
        amount: body.amount,
        currency: body.currency,
        paid_on: body.paid_on,
        reference: body.reference,
        reason: body.reason,
    };
    let (refund, new) = state.services.payments().refund(&caller, command).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(RefundView::from(&refund))))
}
