//! The provider's billing settings and requisites (`kopek_services::billing::Billing`).

use axum::Json;
use axum::extract::State;
use kopek_domain::calendar::Calendar;
use kopek_domain::invoicing::RequisitesForm;
use kopek_domain::invoicing::{TaxMode, ZeroInvoicePolicy};
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::JsonBody;
use kopek_http::state::AppState;
use kopek_services::billing::{RequisitesRead, SaveRequisites, SaveSettings, SettingsRead};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The provider's billing settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    /// The legal entity code every number starts with.
    #[schema(example = "KPK")]
    series: String,
    /// How many series invoices are numbered in: 1, the code alone (`KPK-2026-000123`), or
    /// up to 99 subdivisions (`KPK-07-2026-000123`), each numbered without gaps on its own.
    /// A customer is placed in one at its first invoice and stays there.
    #[schema(example = 1)]
    series_count: u8,
    /// `exclusive` (prices are net) or `inclusive` (prices include tax).
    #[schema(value_type = String)]
    tax_mode: TaxMode,
    /// `skip` (no invoice for a period that costs nothing) or `issue` (an invoice of zero).
    #[schema(value_type = String)]
    zero_invoices: ZeroInvoicePolicy,
    /// Days from the issue date to the due date.
    payment_terms_days: u16,
    /// The provider's further accounts bank statements may show (the requisites'
    /// settlement account always counts as its own).
    #[schema(example = json!(["DE89370400440532013000"]))]
    bank_accounts: Vec<String>,
    /// The revision to send with a change; 0 while the defaults apply (never saved).
    rev: u64,
    /// Read-only: the provider's time zone, the deployment's `ProviderTimeZone`. Billing
    /// periods are counted in its calendar and the scheduled close runs at 00:05 on the 1st
    /// after each period in it.
    #[schema(example = "Europe/Moscow")]
    time_zone: String,
    /// Read-only: how many months a billing period has (1, 3, 6 or 12), the deployment's
    /// `BillingPeriodMonths`. Recurring prices are prices of one period.
    #[schema(example = 1)]
    period_months: u32,
}

impl SettingsView {
    fn of(SettingsRead { settings, rev }: SettingsRead, calendar: Calendar) -> Self {
        Self {
            series: settings.series.as_str().to_owned(),
            series_count: settings.series_count.get(),
            tax_mode: settings.tax_mode,
            zero_invoices: settings.zero_invoices,
            payment_terms_days: settings.payment_terms_days,
            bank_accounts: settings.bank_accounts,
            rev,
            time_zone: calendar.to_string(),
            period_months: calendar.period_length().months(),
        }
    }
}

/// New billing settings, replacing the old whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    /// 2–8 capital letters or digits, starting with a letter.
    #[schema(example = "KPK")]
    series: String,
    /// 1 to 99 (absent: 1): how many series invoices are numbered in, each a subdivision of
    /// `series` (`KPK-07`). Customers already placed in one stay there when this changes.
    #[serde(default = "one_series")]
    #[schema(example = 1)]
    series_count: u8,
    /// `exclusive` or `inclusive`.
    #[schema(value_type = String, example = "exclusive")]
    tax_mode: TaxMode,
    /// `skip` or `issue`.
    #[schema(value_type = String, example = "skip")]
    zero_invoices: ZeroInvoicePolicy,
    /// 0 to 365.
    #[schema(example = 14)]
    payment_terms_days: u16,
    /// Further own accounts (20 digits or IBANs, at most 20); absent: none.
    #[serde(default)]
    bank_accounts: Vec<String>,
    /// The `rev` read (0 or absent while never saved): the change is refused if they were
    /// changed meanwhile.
    rev: Option<u64>,
}

fn one_series() -> u8 {
    1
}

/// The billing settings in force (the defaults until saved).
#[utoipa::path(get, path = "/v1/billing/settings", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn get_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<SettingsView>> {
    let read = state.services.billing().settings(&caller).await?;
    Ok(Json(SettingsView::of(read, state.services.calendar())))
}

/// Change the billing settings; later closes and credit notes use them.
#[utoipa::path(put, path = "/v1/billing/settings", tag = "billing", security(("bearer" = [])), request_body = SettingsRequest,
    responses((status = 200, body = SettingsView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "changed meanwhile (`field`: `rev`): read them again", body = kopek_http::problem::Problem),
        (status = 422, body = kopek_http::problem::Problem)))]
pub(super) async fn put_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<SettingsRequest>,
) -> ApiResult<Json<SettingsView>> {
    let saved = state
        .services
        .billing()
        .save_settings(
            &caller,
            SaveSettings {
                series: body.series,
                series_count: body.series_count,
                tax_mode: body.tax_mode,
                zero_invoices: body.zero_invoices,
                payment_terms_days: body.payment_terms_days,
                bank_accounts: body.bank_accounts,
                rev: body.rev,
            },
        )
        .await?;
    Ok(Json(SettingsView::of(saved, state.services.calendar())))
}

/// A text in both document languages.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LocalizedDoc {
    ru: String,
    en: String,
}

/// The provider's bank account.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BankAccountDoc {
    bank_name: LocalizedDoc,
    /// 9 digits.
    #[schema(example = "044525225")]
    bic: String,
    /// The settlement account, 20 digits; its control key must match the BIC.
    #[schema(example = "40702810938000000001")]
    account: String,
    /// 20 digits starting `30101`; its control key must match the BIC.
    #[schema(example = "30101810400000000225")]
    correspondent_account: String,
}

/// Someone who signs the provider's documents.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SignatoryDoc {
    /// As printed beside the signature.
    name: LocalizedDoc,
    position: LocalizedDoc,
}

/// The provider's requisites, as its closing documents print them.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RequisitesDoc {
    legal_name: LocalizedDoc,
    /// INN (10 digits for a legal entity, 12 for a sole proprietor; check digits verified)
    /// or a VAT number.
    #[schema(example = "7708123450")]
    tax_id: String,
    /// Required with a 10-digit INN; none with a 12-digit one.
    #[schema(example = "770801001")]
    kpp: Option<String>,
    address: LocalizedDoc,
    bank: BankAccountDoc,
    director: SignatoryDoc,
    chief_accountant: Option<SignatoryDoc>,
    /// Whether the provider charges VAT (its documents then include the UPD).
    vat_payer: bool,
}

/// The provider's requisites and the revision to send with a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequisitesView {
    /// `null` until an admin saves them; documents are refused until then.
    #[schema(value_type = Option<RequisitesDoc>)]
    requisites: Option<RequisitesForm>,
    /// 0 while never saved.
    rev: u64,
}

impl From<RequisitesRead> for RequisitesView {
    fn from(read: RequisitesRead) -> Self {
        Self {
            requisites: read.requisites.map(|r| r.form().clone()),
            rev: read.rev,
        }
    }
}

/// New requisites, replacing the old whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequisitesRequest {
    #[schema(value_type = RequisitesDoc)]
    requisites: RequisitesForm,
    /// The `rev` read (0 or absent while never saved): the change is refused if they were
    /// changed meanwhile.
    rev: Option<u64>,
}

/// The provider's requisites: legal name, tax ids, address, bank account and signatories, as
/// its closing documents print them (billing staff read them).
#[utoipa::path(get, path = "/v1/billing/requisites", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = RequisitesView), (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn get_requisites(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<RequisitesView>> {
    let read = state.services.billing().requisites(&caller).await?;
    Ok(Json(RequisitesView::from(read)))
}

/// Set the provider's requisites (admins). Every field is checked as an accountant would: the
/// INN and the bank accounts by their check digits, the KPP by its shape.
#[utoipa::path(put, path = "/v1/billing/requisites", tag = "billing", security(("bearer" = [])), request_body = RequisitesRequest,
    responses((status = 200, body = RequisitesView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "changed meanwhile (`field`: `rev`): read them again", body = kopek_http::problem::Problem),
        (status = 422, description = "`field` names the wrong one, e.g. `requisites.bank.account`", body = kopek_http::problem::Problem)))]
pub(super) async fn put_requisites(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<RequisitesRequest>,
) -> ApiResult<Json<RequisitesView>> {
    let saved = state
        .services
        .billing()
        .save_requisites(
            &caller,
            SaveRequisites {
                requisites: body.requisites,
                rev: body.rev,
            },
        )
        .await?;
    Ok(Json(RequisitesView::from(saved)))
}
