//! Payments received (`/v1/billing/payments`, served by `billing-api`): accountants record a
//! customer's payment once per reference; it settles the customer's open invoices oldest
//! first and the rest is credit, which the next invoices draw down as they are issued (see
//! `kopek_domain::payments`). Customers list their own payments.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_aws::dynamo::billing::{PaymentOutcome, RecordPayment, StoredInvoice};
use kopek_domain::accounts::{Role, Scope};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::ids::{EntryId, OrgId, PaymentId};
use kopek_domain::ledger;
use kopek_domain::money::{Currency, Money};
use kopek_domain::payments::{
    NewPayment, OpenInvoice, Payment, PaymentError, PaymentReference, Settlement,
};
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::billing::amount;
use crate::orders::{actor, org_param};

/// How many times recording retries when an invoice or the credit changed meanwhile (a
/// close issuing an invoice, another payment).
const ATTEMPTS: usize = 5;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_payments, record_payment))
}

/// A payment to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// The paying organisation.
    org_id: String,
    /// A decimal string in whole minor units, more than zero.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "12000.00")]
    amount: Decimal,
    /// The customer's currency.
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// The day the money arrived (not after today).
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
    amount: String,
}

/// A recorded payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    id: String,
    org_id: String,
    amount: String,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    received_on: NaiveDate,
    reference: String,
    recorded_at: DateTime<Utc>,
    /// The open invoices it paid, oldest first.
    settled: Vec<SettlementView>,
    /// What was left after settling: the customer's credit, drawn down by its next invoices.
    to_credit: String,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        Self {
            id: p.id.to_string(),
            org_id: p.org.to_string(),
            amount: amount(p.amount),
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
                    amount: amount(s.amount),
                })
                .collect(),
            to_credit: amount(p.to_credit),
        }
    }
}

fn payment_error(e: PaymentError) -> ApiError {
    match e {
        PaymentError::Invalid { field, reason } => ApiError::validation(field, reason),
        PaymentError::Money(e) => e.into(),
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
async fn record_payment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<PaymentRequest>,
) -> ApiResult<impl IntoResponse> {
    caller.require_role(&[Role::Admin, Role::Accountant])?;
    caller.require_scope(Scope::PaymentsWrite)?;
    let unknown = || ApiError::validation("org_id", "no such organisation");
    let org: OrgId = body.org_id.parse().map_err(|_| unknown())?;
    let organisation = state.store.organisation(org).await?.ok_or_else(unknown)?;
    let reference = PaymentReference::try_from(body.reference).map_err(payment_error)?;
    let new = NewPayment {
        amount: Money::new(body.amount, body.currency),
        received_on: body.received_on,
        reference,
    };
    let store = &state.store;
    let (id, entry_id) = (PaymentId::new(), EntryId::new());
    for _ in 0..ATTEMPTS {
        if let Some(earlier) = store.payment_by_reference(org, &new.reference).await? {
            return same_payment(&earlier, &new).map(|view| (StatusCode::OK, Json(view)));
        }
        let invoices = store.invoices_of_org_all(org).await?;
        let credit = store.credit(org, organisation.currency).await?;
        let now = state.clock.now();
        let payment = Payment::record(
            new.clone(),
            id,
            org,
            organisation.currency,
            state.today(),
            now,
            invoices
                .iter()
                .map(|i| OpenInvoice::of(&i.invoice))
                .collect(),
        )
        .map_err(payment_error)?;
        let settled: Vec<(&StoredInvoice, Money)> = payment
            .settled
            .iter()
            .map(|s| {
                let stored = invoices
                    .iter()
                    .find(|i| i.invoice.id == s.invoice)
                    .expect("a payment settles only the invoices it was given");
                let paid = stored.invoice.paid.checked_add(s.amount)?;
                Ok((stored, paid))
            })
            .collect::<Result<_, kopek_domain::money::MoneyError>>()?;
        let credit_after = credit.amount.checked_add(payment.to_credit)?;
        let entry = ledger::for_payment(&payment, entry_id).map_err(|e| ApiError::internal(&e))?;
        let event = DomainEvent::new(
            org,
            actor(&caller),
            now,
            EventKind::PaymentReceived {
                payment: payment.id,
                reference: payment.reference.to_string(),
                amount: payment.amount,
                settled: payment.settled.iter().map(|s| s.invoice).collect(),
                to_credit: payment.to_credit,
            },
        );
        match store
            .record_payment(RecordPayment {
                payment: &payment,
                settled: &settled,
                credit: &credit,
                credit_after,
                entry: &entry,
                event: &event,
            })
            .await?
        {
            PaymentOutcome::Recorded => {
                tracing::info!(%org, payment = %payment.id, settled = payment.settled.len(), "payment recorded");
                return Ok((StatusCode::CREATED, Json(PaymentView::from(&payment))));
            }
            // Found by reference at the top of the next attempt.
            PaymentOutcome::AlreadyRecorded | PaymentOutcome::Changed => {}
        }
    }
    tracing::warn!(%org, "a payment could not be recorded: the invoices kept changing");
    Err(ApiError::unavailable())
}

/// The payment recorded before under the same reference, if it is the same payment.
fn same_payment(earlier: &Payment, new: &NewPayment) -> ApiResult<PaymentView> {
    if earlier.amount == new.amount && earlier.received_on == new.received_on {
        Ok(PaymentView::from(earlier))
    } else {
        Err(ApiError::conflict(
            "conflict",
            format!(
                "reference {} was recorded as a payment of {} on {}",
                earlier.reference,
                amount(earlier.amount),
                earlier.received_on
            ),
        )
        .with_field("reference"))
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PaymentsQuery {
    /// Whose: staff name the organisation; a customer may name only its own.
    org_id: Option<String>,
}

/// A customer's payments and its credit.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentsView {
    org_id: String,
    /// Oldest received first.
    items: Vec<PaymentView>,
    /// Credit not yet drawn down by an invoice (prepaid or overpaid).
    credit: String,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
}

/// A customer's payments, oldest first, and the credit its next invoices will draw down.
#[utoipa::path(get, path = "/v1/billing/payments", tag = "billing", security(("bearer" = [])), params(PaymentsQuery),
    responses((status = 200, body = PaymentsView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
async fn list_payments(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<PaymentsQuery>,
) -> ApiResult<Json<PaymentsView>> {
    caller.require_scope(Scope::InvoicesRead)?;
    let org = org_param(&caller, query.org_id.as_deref())?;
    let organisation = state
        .store
        .organisation(org)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let payments = state.store.payments_of(org).await?;
    let credit = state.store.credit(org, organisation.currency).await?;
    Ok(Json(PaymentsView {
        org_id: org.to_string(),
        items: payments.iter().map(PaymentView::from).collect(),
        credit: amount(credit.amount),
        currency: organisation.currency,
    }))
}
