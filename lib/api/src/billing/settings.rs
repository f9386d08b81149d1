//! The provider's billing settings (`kopek_services::billing::Billing`).

use axum::Json;
use axum::extract::State;
use kopek_domain::calendar::Calendar;
use kopek_domain::invoicing::{TaxMode, ZeroInvoicePolicy};
use kopek_http::ApiResult;
use kopek_http::auth::Caller;
use kopek_http::json::JsonBody;
use kopek_http::state::AppState;
use kopek_services::billing::{SaveSettings, SettingsRead};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The provider's billing settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    /// The legal entity code every number starts with.
    #[schema(example = "KPK")]
    series: String,
    /// `exclusive` (prices are net) or `inclusive` (prices include tax).
    #[schema(value_type = String)]
    tax_mode: TaxMode,
    /// `skip` (no invoice for a period that costs nothing) or `issue` (an invoice of zero).
    #[schema(value_type = String)]
    zero_invoices: ZeroInvoicePolicy,
    /// Days from the issue date to the due date.
    payment_terms_days: u16,
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
            tax_mode: settings.tax_mode,
            zero_invoices: settings.zero_invoices,
            payment_terms_days: settings.payment_terms_days,
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
    /// `exclusive` or `inclusive`.
    #[schema(value_type = String, example = "exclusive")]
    tax_mode: TaxMode,
    /// `skip` or `issue`.
    #[schema(value_type = String, example = "skip")]
    zero_invoices: ZeroInvoicePolicy,
    /// 0 to 365.
    #[schema(example = 14)]
    payment_terms_days: u16,
    /// The `rev` read (0 or absent while never saved): the change is refused if they were
    /// changed meanwhile.
    rev: Option<u64>,
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
                tax_mode: body.tax_mode,
                zero_invoices: body.zero_invoices,
                payment_terms_days: body.payment_terms_days,
                rev: body.rev,
            },
        )
        .await?;
    Ok(Json(SettingsView::of(saved, state.services.calendar())))
}
