//! Bank statements (`kopek_services::bank::Bank`): accountants upload a file, read its
//! import report, and work through the review list. The rules of matching are
//! `kopek_domain::bank::matching`; of counting and duplicates `kopek_domain::bank::imports`.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use kopek_domain::bank::imports::{
    BalanceCheck, ImportLine, Outcome, Report, StatementImport, Tally,
};
use kopek_domain::ids::{ImportId, InvoiceId};
use kopek_domain::money::{Currency, Money};
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams, read_body};
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use kopek_http::{ApiError, ApiResult};
use kopek_services::bank::Resolution;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::paging::{ListQuery, Paged};
use crate::params::id_path;

/// The largest statement the HTTP API takes: Lambda's 6 MB invocation payload, base64
/// encoded by API Gateway, leaves about 4.5 MB.
pub const MAX_STATEMENT_BYTES: usize = 4 * 1024 * 1024;

/// The body limit of the statement upload (the API's, and the portal's form with a little
/// room for its multipart framing).
pub(crate) fn body_limit(method: &Method, path: &str) -> Option<usize> {
    match (method == Method::POST, path) {
        (true, "/v1/billing/statements") => Some(MAX_STATEMENT_BYTES),
        (true, "/portal/bank/statements") => Some(kopek_portal::bank::MAX_UPLOAD_BYTES + 64 * 1024),
        _ => None,
    }
}

/// Lines and money in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct TallyView {
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    count: usize,
    total: Amount,
}

fn tallies(t: &[Tally]) -> Vec<TallyView> {
    t.iter()
        .map(|t| TallyView {
            currency: t.currency,
            count: t.count,
            total: Money::new(t.total, t.currency).into(),
        })
        .collect()
}

/// An account's balances as the statement states them.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementBalanceView {
    account: String,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    opening: Amount,
    credited: Amount,
    debited: Amount,
    closing: Amount,
    /// opening + credited − debited = closing; `false` is a mismatch to look into.
    adds_up: bool,
    /// One of the provider's own accounts.
    own: bool,
}

impl From<&BalanceCheck> for StatementBalanceView {
    fn from(b: &BalanceCheck) -> Self {
        let m = |d: Decimal| Amount::from(Money::new(d, b.currency));
        Self {
            account: b.account.clone(),
            currency: b.currency,
            from: b.from,
            to: b.to,
            opening: m(b.opening),
            credited: m(b.credited),
            debited: m(b.debited),
            closing: m(b.closing),
            adds_up: b.adds_up,
            own: b.own,
        }
    }
}

/// An import and its counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    id: String,
    file_name: String,
    /// SHA-256 of the file as uploaded (it is kept unchanged).
    sha256: String,
    bytes: usize,
    /// `one_c` (1CClientBankExchange) or `camt053`.
    #[schema(example = "one_c")]
    format: String,
    uploaded_at: DateTime<Utc>,
    /// Lines (payment documents, entries) in the file.
    lines_read: usize,
    /// Money received on own accounts: each matched and reported below.
    payments: Vec<TallyView>,
    /// Money sent from own accounts: counted and skipped.
    debits: Vec<TallyView>,
    /// Neither: counted and skipped.
    other: Vec<TallyView>,
    balances: Vec<StatementBalanceView>,
    /// `importing` while payments are still being matched, then `done`.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    /// The payments by outcome: `recorded`, `review`, `duplicate`, `dismissed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcomes: Option<std::collections::BTreeMap<&'static str, Vec<TallyView>>>,
    /// Every payment and its outcome, in file order.
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<Vec<LineView>>,
}

impl ImportView {
    fn of(i: &StatementImport) -> Self {
        Self {
            id: i.id.to_string(),
            file_name: i.file_name.clone(),
            sha256: i.sha256.clone(),
            bytes: i.bytes,
            format: serde_json::to_value(i.format)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            uploaded_at: i.uploaded_at,
            lines_read: i.lines_read,
            payments: tallies(&i.payments),
            debits: tallies(&i.debits),
            other: tallies(&i.other),
            balances: i.balances.iter().map(StatementBalanceView::from).collect(),
            status: None,
            outcomes: None,
            lines: None,
        }
    }

    fn report(report: &Report) -> Self {
        Self {
            status: Some(if report.is_complete() {
                "done"
            } else {
                "importing"
            }),
            outcomes: Some(
                report
                    .by_outcome()
                    .iter()
                    .map(|(k, t)| (*k, tallies(t)))
                    .collect(),
            ),
            lines: Some(report.lines.iter().map(LineView::from).collect()),
            ..Self::of(&report.import)
        }
    }
}

/// Who paid, as the statement names them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayerView {
    name: String,
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    inn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kpp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tax_id: Option<String>,
}

/// An open invoice a payment under review could settle.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenInvoiceView {
    invoice_id: String,
    number: String,
    open: Amount,
}

/// A customer a payment under review may be from.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateView {
    org_id: String,
    name: String,
    /// Why it is a candidate.
    reason: String,
    /// Its open invoices, oldest first.
    open_invoices: Vec<OpenInvoiceView>,
}

/// A payment on a statement and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    import_id: String,
    /// The file's line where it starts.
    line: usize,
    /// The bank document's number and date.
    number: String,
    date: NaiveDate,
    received_on: NaiveDate,
    amount: Amount,
    #[schema(value_type = String, example = "RUB")]
    currency: Currency,
    payer: PayerView,
    purpose: String,
    /// `recorded`, `review`, `duplicate` or `dismissed`.
    #[schema(example = "recorded")]
    status: &'static str,
    /// Why: how it was matched, why it needs review, what it duplicates.
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
    /// For review: the customers it may be from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    candidates: Vec<CandidateView>,
}

impl From<&ImportLine> for LineView {
    fn from(l: &ImportLine) -> Self {
        let (status, reason, org, payment, candidates) = match &l.outcome {
            Outcome::Recorded {
                org,
                payment,
                reason,
                ..
            } => (
                "recorded",
                reason.clone(),
                Some(org.to_string()),
                Some(payment.to_string()),
                Vec::new(),
            ),
            Outcome::Review { reason, candidates } => (
                "review",
                reason.clone(),
                None,
                None,
                candidates
                    .iter()
                    .map(|c| CandidateView {
                        org_id: c.customer.org.to_string(),
                        name: c.customer.name.clone(),
                        reason: c.customer.reason.clone(),
                        open_invoices: c
                            .open_invoices
                            .iter()
                            .map(|(id, number, open)| OpenInvoiceView {
                                invoice_id: id.to_string(),
                                number: number.to_string(),
                                open: (*open).into(),
                            })
                            .collect(),
                    })
                    .collect(),
            ),
            Outcome::Duplicate { reason, payment } => (
                "duplicate",
                reason.clone(),
                None,
                payment.map(|p| p.to_string()),
                Vec::new(),
            ),
            Outcome::Dismissed { reason, .. } => {
                ("dismissed", reason.clone(), None, None, Vec::new())
            }
        };
        Self {
            import_id: l.import.to_string(),
            line: l.line,
            number: l.number.clone(),
            date: l.date,
            received_on: l.received_on,
            amount: l.amount.into(),
            currency: l.amount.currency(),
            payer: PayerView {
                name: l.payer.name.clone(),
                account: l.payer.account.clone(),
                inn: l.payer.inn.clone(),
                kpp: l.payer.kpp.clone(),
                tax_id: l.payer.tax_id.clone(),
            },
            purpose: l.purpose.clone(),
            status,
            reason,
            org_id: org,
            payment_id: payment,
            candidates,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct UploadQuery {
    /// The file's name, for the report (up to 200 characters).
    file_name: Option<String>,
}

/// Upload a bank statement (admins, accountants): the file's bytes as they came from the
/// bank (`application/octet-stream` or `text/plain`, up to 4 MiB; larger files go through
/// `POST /v1/billing/statement-uploads`) —
/// `1CClientBankExchange` 1.02/1.03 (windows-1251 or cp866) or ISO 20022 camt.053. It is
/// kept unchanged with its SHA-256, read (a broken file is refused naming its line and key,
/// and nothing is recorded), counted, and its payments matched in the background: read the
/// report at `GET /v1/billing/statements/{import_id}`.
#[utoipa::path(post, path = "/v1/billing/statements", tag = "billing", security(("bearer" = [])), params(UploadQuery),
    request_body(content = String, content_type = "application/octet-stream", description = "the statement file"),
    responses((status = 202, body = ImportView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`no_own_accounts`: the provider's requisites are not saved yet", body = kopek_http::problem::Problem),
        (status = 413, description = "over 4 MiB", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `file` — which line and key of it is wrong", body = kopek_http::problem::Problem)))]
pub(super) async fn upload_statement(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<UploadQuery>,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    let bytes = read_body(request).await?;
    let import = state
        .services
        .bank()
        .upload(
            &caller,
            query.file_name.as_deref().unwrap_or_default(),
            bytes.to_vec(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(ImportView::of(&import))))
}

/// A statement file too large for a request body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadLinkRequest {
    /// The file's name, for the report (up to 200 characters).
    #[serde(default)]
    file_name: String,
}

/// Where to put a large statement file.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadLinkView {
    /// Import it with `POST /v1/billing/statement-uploads/{upload_id}/import` once put.
    upload_id: String,
    /// `PUT` the file's bytes here, as they came from the bank, before `expires_at`.
    url: String,
    expires_at: DateTime<Utc>,
    /// The largest file taken.
    max_bytes: usize,
}

/// Ask for a link to put a statement file larger than a request body takes (admins,
/// accountants): `PUT` the file's bytes to `url` within 15 minutes, then import it.
#[utoipa::path(post, path = "/v1/billing/statement-uploads", tag = "billing", security(("bearer" = [])), request_body = UploadLinkRequest,
    responses((status = 201, body = UploadLinkView), (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn upload_link(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<UploadLinkRequest>,
) -> ApiResult<impl IntoResponse> {
    let (upload, link) = state
        .services
        .bank()
        .upload_link(&caller, &body.file_name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadLinkView {
            upload_id: upload.id.to_string(),
            url: link.url,
            expires_at: link.expires_at,
            max_bytes: kopek_services::bank::MAX_FILE_BYTES,
        }),
    ))
}

/// Import a statement put through an upload link (admins, accountants), as
/// `POST /v1/billing/statements` imports one sent in the request: the same checks, report
/// and matching. An upload is imported once.
#[utoipa::path(post, path = "/v1/billing/statement-uploads/{upload_id}/import", tag = "billing", security(("bearer" = [])),
    params(("upload_id" = String, Path)),
    responses((status = 202, body = ImportView), (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`not_uploaded`: nothing put yet; `upload_expired`: put after the link expired, or asked over an hour later; `no_own_accounts`", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `file` — which line and key of it is wrong, or over 32 MiB", body = kopek_http::problem::Problem)))]
pub(super) async fn import_upload(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(upload_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = id_path(&upload_id)?;
    let import = state.services.bank().import_upload(&caller, id).await?;
    Ok((StatusCode::ACCEPTED, Json(ImportView::of(&import))))
}

/// The statements uploaded, newest first (billing staff).
#[utoipa::path(get, path = "/v1/billing/statements", tag = "billing", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Paged<ImportView>), (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn list_statements(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<ImportView>>> {
    let (limit, start) = query.parse(&state)?;
    let page = state.services.bank().imports(&caller, limit, start).await?;
    Ok(Json(Paged::from_page(&state, page, |i| ImportView::of(&i))))
}

/// An import's report (billing staff): the file's counts, whether its balances add up, and
/// every payment with its outcome and why.
#[utoipa::path(get, path = "/v1/billing/statements/{import_id}", tag = "billing", security(("bearer" = [])),
    params(("import_id" = String, Path)),
    responses((status = 200, body = ImportView), (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_statement(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(import_id): Path<String>,
) -> ApiResult<Json<ImportView>> {
    let id: ImportId = id_path(&import_id)?;
    let report = state.services.bank().report(&caller, id).await?;
    Ok(Json(ImportView::report(&report)))
}

/// The payments waiting for review, oldest import first (billing staff), each with its
/// candidates and why.
#[utoipa::path(get, path = "/v1/billing/statement-review", tag = "billing", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Paged<LineView>), (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn review_list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<LineView>>> {
    let (limit, start) = query.parse(&state)?;
    let page = state
        .services
        .bank()
        .review_list(&caller, limit, start)
        .await?;
    Ok(Json(Paged::from_page(&state, page, |l| LineView::from(&l))))
}

/// The payer accounts confirmed for a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayerAccountsView {
    org_id: String,
    /// Payments from these accounts (20 digits, or IBANs) match the customer at once.
    #[schema(example = json!(["40702810900000001234", "DE89370400440532013000"]))]
    accounts: Vec<String>,
}

impl PayerAccountsView {
    fn of((org, accounts): (kopek_domain::ids::OrgId, Vec<String>)) -> Self {
        Self {
            org_id: org.to_string(),
            accounts,
        }
    }
}

/// The accounts confirmed as a customer's (`invoices:read`: billing staff any customer's, a
/// customer its own): statement payments from them match it without review.
#[utoipa::path(get, path = "/v1/billing/payer-accounts", tag = "billing", security(("bearer" = [])), params(crate::params::OrgQuery),
    responses((status = 200, body = PayerAccountsView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_payer_accounts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<crate::params::OrgQuery>,
) -> ApiResult<Json<PayerAccountsView>> {
    let org = query.org()?;
    let found = state.services.bank().payer_accounts(&caller, org).await?;
    Ok(Json(PayerAccountsView::of(found)))
}

/// A customer's payer accounts, all of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayerAccountsRequest {
    org_id: String,
    /// Every account to match the customer by: 20 digits or an IBAN, spaces allowed; those
    /// left out are forgotten.
    #[schema(example = json!(["40702810900000001234"]))]
    accounts: Vec<String>,
}

/// Set the accounts a customer pays from (admins, accountants), e.g. the IBANs a customer
/// abroad pays from, so that camt.053 payments from them match it before any was reviewed.
/// An account confirmed for another customer moves to this one.
#[utoipa::path(put, path = "/v1/billing/payer-accounts", tag = "billing", security(("bearer" = [])), request_body = PayerAccountsRequest,
    responses((status = 200, body = PayerAccountsView), (status = 403, body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `org_id`, `accounts`, `accounts[n]`", body = kopek_http::problem::Problem)))]
pub(super) async fn put_payer_accounts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<PayerAccountsRequest>,
) -> ApiResult<Json<PayerAccountsView>> {
    let org = body
        .org_id
        .parse()
        .map_err(|_| ApiError::validation("org_id", "no such organisation"))?;
    let set = state
        .services
        .bank()
        .set_payer_accounts(&caller, org, &body.accounts)
        .await?;
    Ok(Json(PayerAccountsView::of(set)))
}

/// A part of a split payment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitPart {
    invoice_id: String,
    #[serde(with = "kopek_domain::wire::decimal")]
    #[schema(value_type = String, example = "1200.00")]
    amount: Decimal,
}

/// An accountant's decision on a payment under review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `assign` (record it as `org_id`'s payment: a candidate or any other customer) or
    /// `dismiss` (no customer's payment; give `reason`).
    #[schema(example = "assign")]
    action: String,
    org_id: Option<String>,
    /// With `assign`: exactly these amounts of these open invoices; the rest is credit.
    /// Absent: the oldest open invoices first.
    split: Option<Vec<SplitPart>>,
    /// With `dismiss`: why (1–500 characters).
    reason: Option<String>,
}

/// Resolve a payment under review (admins, accountants): assign it to a customer — it is
/// recorded as that customer's payment, and the payer's account is remembered for it — or
/// dismiss it with a reason.
#[utoipa::path(post, path = "/v1/billing/statements/{import_id}/lines/{line}/resolve", tag = "billing", security(("bearer" = [])),
    params(("import_id" = String, Path), ("line" = usize, Path)), request_body = ResolveRequest,
    responses((status = 200, body = LineView), (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, description = "`not_in_review`: resolved before (`status`)", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `action`, `org_id`, `split[n].invoice`, `split[n].amount`, `reason`", body = kopek_http::problem::Problem)))]
pub(super) async fn resolve_line(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((import_id, line)): Path<(String, String)>,
    JsonBody(body): JsonBody<ResolveRequest>,
) -> ApiResult<Json<LineView>> {
    let id: ImportId = id_path(&import_id)?;
    let line: usize = id_path(&line)?;
    let resolution = match body.action.as_str() {
        "assign" => {
            let org = body
                .org_id
                .as_deref()
                .ok_or_else(|| ApiError::validation("org_id", "name the customer to assign it to"))?
                .parse()
                .map_err(|_| ApiError::validation("org_id", "no such organisation"))?;
            let split = body
                .split
                .map(|parts| {
                    parts
                        .into_iter()
                        .enumerate()
                        .map(|(i, p)| {
                            let invoice: InvoiceId = p.invoice_id.parse().map_err(|_| {
                                ApiError::validation(
                                    format!("split[{i}].invoice"),
                                    "is not an open invoice of the customer",
                                )
                            })?;
                            Ok((invoice, p.amount))
                        })
                        .collect::<ApiResult<Vec<_>>>()
                })
                .transpose()?;
            Resolution::Assign { org, split }
        }
        "dismiss" => Resolution::Dismiss {
            reason: body.reason.unwrap_or_default(),
        },
        _ => return Err(ApiError::validation("action", "must be assign or dismiss")),
    };
    let resolved = state
        .services
        .bank()
        .resolve(&caller, id, line, resolution)
        .await?;
    Ok(Json(LineView::from(&resolved)))
}
