//! The statement of account (`kopek_services::reports::Reports`): a customer's full report of
//! services rendered and payments made for any dates, as JSON, CSV or XLSX. The rules are
//! `kopek_domain::account_statement`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use kopek_domain::account_statement::{AccountStatement, Row, RowLine};
use kopek_domain::accounts::DocumentLanguage;
use kopek_domain::catalog::Lang;
use kopek_domain::money::Currency;
use kopek_http::auth::Caller;
use kopek_http::json::QueryParams;
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use kopek_http::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::params::org_query;
use kopek_http::download::attachment;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct StatementQuery {
    /// Whose: staff name the organisation (its id, or `ref:` and the CRM's reference); a customer may name only its own.
    org_id: Option<String>,
    /// The first day (default: the 1st of January of `to`'s year).
    #[param(value_type = Option<String>, format = Date)]
    #[serde(default, with = "kopek_domain::wire::date_option")]
    from: Option<NaiveDate>,
    /// The last day, inclusive (default: today).
    #[param(value_type = Option<String>, format = Date)]
    #[serde(default, with = "kopek_domain::wire::date_option")]
    to: Option<NaiveDate>,
    /// `json` (default), `csv` or `xlsx`.
    format: Option<String>,
    /// The language of the file's words: `ru` or `en` (default: the customer's document
    /// language).
    language: Option<String>,
}

/// A line of an invoice or credit note in the statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLineView {
    no: u16,
    service: String,
    description: String,
    /// What it bills: a subscription's days, a work order, metered usage.
    what: String,
    quantity: String,
    unit: String,
    net: Amount,
    tax: Amount,
    gross: Amount,
}

/// One document that moved the customer's balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementRowView {
    on: NaiveDate,
    /// `invoice`, `credit_note`, `payment`, `payment_reversal` or `refund`.
    #[schema(example = "invoice")]
    kind: String,
    /// The invoice or credit note number, or the payment's or refund's reference.
    number: String,
    description: String,
    /// What it raised the debt by.
    debit: Amount,
    /// What it lowered the debt by.
    credit: Amount,
    /// The running balance after it (negative: the customer's credit).
    balance: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lines: Vec<StatementLineView>,
}

/// Totals of one service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceTotalView {
    service: String,
    net: Amount,
    tax: Amount,
    gross: Amount,
}

/// A customer's statement of account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountStatementView {
    org_id: String,
    customer: String,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    from: NaiveDate,
    to: NaiveDate,
    /// What the customer owed before `from` (negative: its credit).
    opening: Amount,
    rows: Vec<StatementRowView>,
    by_service: Vec<ServiceTotalView>,
    debit: Amount,
    credit: Amount,
    /// What the customer owes at the end of `to`: the ledger's balance that day.
    closing: Amount,
    /// What of it is overdue on `to` (oldest invoices first).
    overdue: Amount,
}

fn line_view(l: &RowLine, language: DocumentLanguage) -> StatementLineView {
    StatementLineView {
        no: l.no,
        service: l.service.to_string(),
        description: match language {
            DocumentLanguage::Ru => l.description.ru().to_owned(),
            DocumentLanguage::En => l.description.en().to_owned(),
        },
        what: l.what.text(language),
        quantity: l.quantity.normalize().to_string(),
        unit: l
            .unit
            .short_name(match language {
                DocumentLanguage::Ru => Lang::Ru,
                DocumentLanguage::En => Lang::En,
            })
            .to_owned(),
        net: l.net.into(),
        tax: l.tax.into(),
        gross: l.gross.into(),
    }
}

fn row_view(r: &Row, language: DocumentLanguage) -> StatementRowView {
    StatementRowView {
        on: r.on,
        kind: serde_json::to_value(r.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        number: r.number.clone(),
        description: r.description.get(language).to_owned(),
        debit: r.debit.into(),
        credit: r.credit.into(),
        balance: r.balance.into(),
        due_on: r.due_on,
        lines: r.lines.iter().map(|l| line_view(l, language)).collect(),
    }
}

impl AccountStatementView {
    fn of(s: &AccountStatement, customer: String, language: DocumentLanguage) -> Self {
        Self {
            org_id: s.org.to_string(),
            customer,
            currency: s.currency,
            from: s.from,
            to: s.to,
            opening: s.opening.into(),
            rows: s.rows.iter().map(|r| row_view(r, language)).collect(),
            by_service: s
                .by_service
                .iter()
                .map(|t| ServiceTotalView {
                    service: t.service.to_string(),
                    net: t.net.into(),
                    tax: t.tax.into(),
                    gross: t.gross.into(),
                })
                .collect(),
            debit: s.totals.debit.into(),
            credit: s.totals.credit.into(),
            closing: s.closing.into(),
            overdue: s.overdue.into(),
        }
    }
}

/// A customer's statement of account for any dates (`invoices:read`: a customer its own,
/// staff any): the opening balance, every invoice (with its lines: services rendered, work
/// orders, subscription days, metered usage), credit note, payment, reversal and refund in
/// date order with a running balance, totals by service, the closing balance — always the
/// ledger's balance on `to` — and what is overdue. One currency: the customer's. As JSON, or
/// as a file: `format=csv` (UTF-8 with a byte order mark) or `format=xlsx`.
#[utoipa::path(get, path = "/v1/billing/account-statement", tag = "billing", security(("bearer" = [])), params(StatementQuery),
    responses((status = 200, body = AccountStatementView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `from` (after `to`), `to` (more than ten years after `from`), `format`, `language`", body = kopek_http::problem::Problem)))]
pub(super) async fn account_statement(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<StatementQuery>,
) -> ApiResult<Response> {
    let org = org_query(query.org_id.as_deref())?;
    let format = query.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "xlsx") {
        return Err(ApiError::validation("format", "must be json, csv or xlsx"));
    }
    let language = match query.language.as_deref() {
        None => None,
        Some("ru") => Some(DocumentLanguage::Ru),
        Some("en") => Some(DocumentLanguage::En),
        Some(_) => return Err(ApiError::validation("language", "must be ru or en")),
    };
    let of = state
        .services
        .reports()
        .account_statement(&caller, org, query.from, query.to)
        .await?;
    let language = language.unwrap_or(of.language);
    let s = &of.statement;
    let name = format!("statement-{}-{}-{}", s.org, s.from, s.to);
    Ok(match format {
        "csv" => attachment(
            "text/csv; charset=utf-8",
            format!("{name}.csv"),
            s.to_csv(language),
        )
        .into_response(),
        "xlsx" => attachment(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            format!("{name}.xlsx"),
            kopek_services::reports::xlsx(s, language)?,
        )
        .into_response(),
        _ => Json(AccountStatementView::of(s, of.customer, language)).into_response(),
    })
}
