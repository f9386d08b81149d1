//! What a customer owes, from the ledger (`kopek_services::billing::Billing`).

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use kopek_domain::ledger::{Account, DocumentRef, Entry, Posting};
use kopek_domain::money::Currency;
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::QueryParams;
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct BalanceQuery {
    /// Whose: staff name the organisation (its id, or `ref:` and the CRM's reference); a customer may name only its own.
    org_id: Option<String>,
    /// `YYYY-MM-DD`: the balance at the end of that day (default: today).
    #[param(value_type = Option<String>, format = Date)]
    #[serde(default, with = "kopek_domain::wire::date_option")]
    on: Option<NaiveDate>,
}

/// What a customer owes on a day, from the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    org_id: String,
    on: NaiveDate,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    /// Positive: the customer owes it; negative: the provider owes the customer (a credit).
    balance: Amount,
    /// The ledger entries booked on or before `on`.
    entries: usize,
    /// Now (whatever `on` says): credit from payments and credit notes that no invoice has
    /// drawn down yet; the next invoices will.
    credit: Amount,
}

/// A customer's balance on a day (what it owes: invoices less credit notes and payments),
/// with the number of entries it sums, and its credit not yet drawn down.
#[utoipa::path(get, path = "/v1/billing/balance", tag = "billing", security(("bearer" = [])), params(BalanceQuery),
    responses((status = 200, body = BalanceView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn balance(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<BalanceQuery>,
) -> ApiResult<Json<BalanceView>> {
    let org = crate::params::org_query(query.org_id.as_deref())?;
    let b = state
        .services
        .billing()
        .balance(&caller, org, query.on)
        .await?;
    Ok(Json(BalanceView {
        org_id: b.org.to_string(),
        on: b.on,
        currency: b.currency,
        balance: b.balance.into(),
        entries: b.entries,
        credit: b.credit.into(),
    }))
}

/// One posting of a ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostingView {
    /// `receivable` (the customer's), `revenue`, `tax_payable` or `cash`.
    #[schema(value_type = String)]
    account: Account,
    debit: Amount,
    credit: Amount,
}

impl From<&Posting> for PostingView {
    fn from(p: &Posting) -> Self {
        Self {
            account: p.account,
            debit: p.debit.into(),
            credit: p.credit.into(),
        }
    }
}

/// A balanced ledger entry: the postings of one document.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    id: String,
    /// The day it is booked on (the document's issue date).
    on: NaiveDate,
    /// `{"type": "invoice", "invoice": …, "number": …}`, `{"type": "credit_note", …}` or
    /// `{"type": "payment", "payment": …, "reference": …}`.
    #[schema(value_type = Object)]
    document: DocumentRef,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    postings: Vec<PostingView>,
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> Self {
        Self {
            id: e.id().to_string(),
            on: e.on(),
            document: e.document().clone(),
            currency: e.currency(),
            postings: e.postings().iter().map(PostingView::from).collect(),
        }
    }
}

/// A customer's ledger entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerView {
    org_id: String,
    /// By date, then id.
    items: Vec<EntryView>,
}

/// A customer's ledger entries, oldest first.
#[utoipa::path(get, path = "/v1/billing/ledger", tag = "billing", security(("bearer" = [])), params(crate::params::OrgQuery),
    responses((status = 200, body = LedgerView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn ledger_entries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<crate::params::OrgQuery>,
) -> ApiResult<Json<LedgerView>> {
    let org = query.org()?;
    let ledger = state.services.billing().ledger(&caller, org).await?;
    Ok(Json(LedgerView {
        org_id: ledger.org.to_string(),
        items: ledger.entries.iter().map(EntryView::from).collect(),
    }))
}
