//! The `catalog-api` function: the service catalog, price versions and the price calculator
//! (`kopek_services::catalog::Catalog`).
//!
//! Anyone (signed in or not) browses the active catalog and asks the calculator; holders of
//! `catalog:write` (admins, managers) create services, add price versions and retire
//! services; staff also see retired services. A price version never changes once written: an
//! invoice can always show the price that was in force on its date.

use crate::paging::{ListQuery, Paged};
use crate::params::id_path;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use kopek_domain::catalog::{
    CancellationPolicy, LocalizedText, NewService, PriceVersion, ServiceCode, ServiceKind,
    ServiceStatus, TaxRate, UnitOfMeasure, WorkType,
};
use kopek_domain::money::Currency;
use kopek_domain::pricing::Price;
use kopek_http::wire::{Amount, UnitPrice};

use crate::money::QuoteLineView;
use kopek_http::ApiResult;
use kopek_http::auth::{Caller, MaybeCaller};
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_services::catalog::{self, AddPrice, Offer};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service))
        .routes(routes!(list_prices, add_price))
        .routes(routes!(retire_service))
        .routes(routes!(quote))
}

/// How a price is written (documentation of the `price` object). Its amounts and unit prices
/// are decimal strings without VAT; answers write them with at least two places (`"990.00"`)
/// and unit prices with up to four (`"2.0005"`), the `UnitPrice` form.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"currency": "RUB", "model": {"type": "graduated", "tiers": [
    {"up_to": "5", "unit_price": "7.00"}, {"up_to": "10", "unit_price": "6.50"}, {"up_to": null, "unit_price": "6.00"}]},
    "minimum": null, "flat_fee": null}))]
pub struct PriceDoc {
    /// `RUB`, `USD` or `EUR`.
    currency: String,
    /// One of: `{"type":"flat","amount"}`, `{"type":"per_unit","unit_price"}`,
    /// `{"type":"graduated","tiers":[{"up_to","unit_price","flat_fee"}]}` (each slice at its
    /// tier), `{"type":"volume","tiers":[…]}` (every unit at the tier the total falls in),
    /// `{"type":"package","block_size","block_price","free_units"}`,
    /// `{"type":"percentage","tiers":[{"up_to","percent","fixed_fee"}]}` (of an amount).
    /// The last tier has `"up_to": null`.
    model: serde_json::Value,
    /// The least the charge can be, without VAT (answered with two places).
    minimum: Option<Amount>,
    /// Added to every charge, without VAT (answered with two places).
    flat_fee: Option<Amount>,
}

/// Documentation of the create-service body (parsed by the domain's `NewService`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewServiceDoc {
    /// Unique: 2–32 of A–Z, 0–9, `-`, `_`, starting with a letter.
    #[schema(example = "VPS-S")]
    code: String,
    /// `{"ru": "…", "en": "…"}`
    name: serde_json::Value,
    description: Option<serde_json::Value>,
    /// `piece`, `hour`, `day`, `month`, `gigabyte`, `megabyte`, `terabyte`, `mbps`, `request`,
    /// `kilowatt_hour`, `kilogram`, `delivery`, `visit`, `amount` (of money, for percentage prices).
    unit: String,
    /// `one_off`, `recurring` (billed per billing period: a calendar month unless the provider
    /// bills quarterly, half-yearly or yearly) or `metered`.
    kind: String,
    /// Required for `one_off` services (they become work orders): a slug such as `install`.
    work_type: Option<String>,
    /// For `recurring` services: `end_of_period` (default: a cancelled subscription is billed
    /// to the end of the month) or `immediately` (billed up to and including the day).
    cancellation: Option<String>,
    /// `"exempt"` or a percentage such as `"20"`.
    tax_rate: String,
    /// For an exempt service only: the legal basis documents print beside «Без НДС»,
    /// `{"ru": "НДС не облагается на основании подп. 26 п. 2 ст. 149 НК РФ", "en": "…"}`.
    tax_exemption: Option<serde_json::Value>,
    currency: String,
    price: PriceDoc,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPriceRequest {
    #[schema(value_type = PriceDoc)]
    pub price: Price,
    /// When the version takes effect (default: now). Never in the past.
    pub effective_from: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceVersionView {
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    #[schema(value_type = PriceDoc)]
    pub price: Price,
    pub created_at: DateTime<Utc>,
}

impl From<&PriceVersion> for PriceVersionView {
    fn from(v: &PriceVersion) -> Self {
        Self {
            version: v.version,
            effective_from: v.effective_from,
            price: v.price.clone(),
            created_at: v.created_at,
        }
    }
}

/// A service with the price in force now and the next scheduled one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    #[schema(value_type = String, example = "VPS-S")]
    pub code: ServiceCode,
    /// `{"ru": "…", "en": "…"}`
    #[schema(value_type = Object)]
    pub name: LocalizedText,
    #[schema(value_type = Option<Object>)]
    pub description: Option<LocalizedText>,
    /// As on creation: `piece`, `hour`, `month`, `gigabyte`, …
    #[schema(value_type = String, example = "month")]
    pub unit: UnitOfMeasure,
    /// `one_off`, `recurring` or `metered`.
    #[schema(value_type = String, example = "recurring")]
    pub kind: ServiceKind,
    #[schema(value_type = Option<String>, example = "install")]
    pub work_type: Option<WorkType>,
    /// `end_of_period` or `immediately`.
    #[schema(value_type = String)]
    pub cancellation: CancellationPolicy,
    /// `"exempt"` or a percentage such as `"20"`.
    #[schema(value_type = String, example = "20")]
    pub tax_rate: TaxRate,
    /// For an exempt service: the legal basis of the exemption.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub tax_exemption: Option<LocalizedText>,
    #[schema(value_type = String, example = "RUB")]
    pub currency: Currency,
    /// `active` or `retired`.
    #[schema(value_type = String)]
    pub status: ServiceStatus,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    /// The OKEI code of the unit, as the closing documents print it.
    pub unit_okei_code: u16,
    /// Whether quantities must be whole numbers.
    pub unit_is_whole: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_price: Option<PriceVersionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_price: Option<PriceVersionView>,
}

impl From<Offer> for ServiceView {
    fn from(offer: Offer) -> Self {
        let s = &offer.service;
        Self {
            code: s.code().clone(),
            name: s.name().clone(),
            description: s.description().cloned(),
            unit: s.unit(),
            kind: s.kind(),
            work_type: s.work_type().cloned(),
            cancellation: s.cancellation(),
            tax_rate: s.tax_rate(),
            tax_exemption: s.tax_exemption().cloned(),
            currency: s.currency(),
            status: s.status(),
            created_at: s.created_at(),
            retired_at: s.retired_at(),
            unit_okei_code: s.unit().okei_code(),
            unit_is_whole: s.unit().is_whole(),
            current_price: offer.current.as_ref().map(PriceVersionView::from),
            next_price: offer.next.as_ref().map(PriceVersionView::from),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CatalogQuery {
    /// `active` (default) or, for staff, `retired`.
    status: Option<String>,
    limit: Option<u16>,
    cursor: Option<String>,
}

/// Browse the catalog (no sign-in needed), by service code.
#[utoipa::path(get, path = "/v1/catalog/services", tag = "catalog", params(CatalogQuery),
    responses((status = 200, body = Paged<ServiceView>), (status = 400, body = kopek_http::problem::Problem)))]
async fn list_services(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    QueryParams(query): QueryParams<CatalogQuery>,
) -> ApiResult<Json<Paged<ServiceView>>> {
    let status = catalog::listed_status(caller.as_ref(), query.status.as_deref())?;
    let paging = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .paging(&state)?;
    let page = state
        .services
        .catalog()
        .list(caller.as_ref(), status, paging)
        .await?;
    Ok(Json(Paged::from_page(&state, page, ServiceView::from)))
}

/// Create a service with its first price (in force from now).
#[utoipa::path(post, path = "/v1/catalog/services", tag = "catalog", security(("bearer" = [])), request_body = NewServiceDoc,
    responses((status = 201, body = ServiceView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "`code_taken`", body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn create_service(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(command): JsonBody<NewService>,
) -> ApiResult<impl IntoResponse> {
    let offer = state.services.catalog().create(&caller, command).await?;
    Ok((StatusCode::CREATED, Json(ServiceView::from(offer))))
}

/// A service with its current and next price. Retired services are visible to staff only.
#[utoipa::path(get, path = "/v1/catalog/services/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 200, body = ServiceView), (status = 404, body = kopek_http::problem::Problem)))]
async fn get_service(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(code): Path<String>,
) -> ApiResult<Json<ServiceView>> {
    let offer = state
        .services
        .catalog()
        .get(caller.as_ref(), &id_path(&code)?)
        .await?;
    Ok(Json(ServiceView::from(offer)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PricesQuery {
    /// Only the version in force at this instant (RFC 3339).
    at: Option<DateTime<Utc>>,
}

/// Every price version of a service, oldest first, or the one in force `at` a date.
#[utoipa::path(get, path = "/v1/catalog/services/{code}/prices", tag = "catalog", params(("code" = String, Path), PricesQuery),
    responses((status = 200, body = Vec<PriceVersionView>), (status = 404, body = kopek_http::problem::Problem)))]
async fn list_prices(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(code): Path<String>,
    QueryParams(query): QueryParams<PricesQuery>,
) -> ApiResult<Json<Vec<PriceVersionView>>> {
    let versions = state
        .services
        .catalog()
        .prices(caller.as_ref(), &id_path(&code)?, query.at)
        .await?;
    Ok(Json(versions.iter().map(PriceVersionView::from).collect()))
}

/// Add a price version, in force from `effective_from` (now or later). Earlier versions stay
/// as they were, so past invoices keep their prices.
#[utoipa::path(post, path = "/v1/catalog/services/{code}/prices", tag = "catalog", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = AddPriceRequest,
    responses((status = 201, body = PriceVersionView), (status = 404, body = kopek_http::problem::Problem),
        (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn add_price(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(code): Path<String>,
    JsonBody(body): JsonBody<AddPriceRequest>,
) -> ApiResult<impl IntoResponse> {
    let command = AddPrice {
        price: body.price,
        effective_from: body.effective_from,
    };
    let version = state
        .services
        .catalog()
        .add_price(&caller, &id_path(&code)?, command)
        .await?;
    Ok((StatusCode::CREATED, Json(PriceVersionView::from(&version))))
}

/// Retire a service: it leaves the catalog; its history stays.
#[utoipa::path(post, path = "/v1/catalog/services/{code}/retire", tag = "catalog", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = ServiceView), (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem)))]
async fn retire_service(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<ServiceView>> {
    let offer = state
        .services
        .catalog()
        .retire(&caller, &id_path(&code)?)
        .await?;
    Ok(Json(ServiceView::from(offer)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct QuoteQuery {
    /// How many units (or, for percentage prices, the amount), e.g. `1250` or `12.5`.
    #[serde(with = "kopek_domain::wire::decimal")]
    #[param(value_type = String, example = "1250")]
    quantity: Decimal,
    /// Price the quantity as of this instant (default: now).
    at: Option<DateTime<Utc>>,
}

/// What a quantity of a service costs, in `currency`: the priced steps at full precision,
/// the total rounded once to minor units (`net`), the tax on it and the total with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub service: String,
    pub price_version: u32,
    pub at: DateTime<Utc>,
    #[schema(value_type = String, example = "RUB")]
    pub currency: Currency,
    /// The quantity priced, a decimal string.
    pub quantity: String,
    /// The model's steps, then the minimum adjustment and the flat fee, if any.
    pub lines: Vec<QuoteLineView>,
    /// What the model charges, at full precision, without VAT.
    pub subtotal_net: UnitPrice,
    /// What the price's minimum adds, without VAT.
    pub minimum_adjustment_net: UnitPrice,
    /// The flat fee added to every charge, without VAT.
    pub flat_fee_net: UnitPrice,
    /// The steps summed and rounded half away from zero to minor units, without VAT.
    pub net: Amount,
    /// `"exempt"` or the percentage.
    pub tax_rate: String,
    /// VAT on `net`, rounded half away from zero to minor units.
    pub tax: Amount,
    /// With VAT.
    pub gross: Amount,
}

/// The price calculator: what would this quantity cost.
#[utoipa::path(get, path = "/v1/catalog/services/{code}/quote", tag = "catalog", params(("code" = String, Path), QuoteQuery),
    responses((status = 200, body = QuoteView), (status = 400, body = kopek_http::problem::Problem),
        (status = 404, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn quote(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(code): Path<String>,
    QueryParams(query): QueryParams<QuoteQuery>,
) -> ApiResult<Json<QuoteView>> {
    let quoted = state
        .services
        .catalog()
        .quote(caller.as_ref(), &id_path(&code)?, query.quantity, query.at)
        .await?;
    let q = &quoted.quote;
    let currency = q.currency();
    Ok(Json(QuoteView {
        service: quoted.service.as_str().to_owned(),
        price_version: quoted.price_version,
        at: quoted.at,
        currency,
        quantity: q.quantity().to_string(),
        lines: q
            .lines()
            .iter()
            .map(|l| QuoteLineView::of(l, currency))
            .collect(),
        subtotal_net: UnitPrice::new(q.subtotal(), currency),
        minimum_adjustment_net: UnitPrice::new(q.minimum_adjustment(), currency),
        flat_fee_net: UnitPrice::new(q.flat_fee(), currency),
        net: Amount::of(q.total()),
        tax_rate: quoted.taxed.tax_rate,
        tax: Amount::of(quoted.taxed.tax),
        gross: Amount::of(quoted.taxed.total_with_tax),
    }))
}
