//! The catalog for anyone, signed in or not: the services on offer with their unit and the
//! price of one unit now, and the price calculator — a plain form that works without
//! JavaScript, answered in place by htmx as it changes (`Catalog::list`, `Catalog::quote`,
//! as `/v1/catalog/*` answers anonymous callers).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use kopek_domain::catalog::{ServiceKind, ServiceStatus};
use kopek_domain::pricing::Quantity;
use kopek_http::state::AppState;
use kopek_services::Paging;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::i18n::Lang;
use crate::orders::{QuoteView, quote_of};
use crate::pages::{Frame, PageError, anonymous_page};
use crate::session::Viewer;

pub struct OfferRow {
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub unit: &'static str,
    pub price: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "catalog.html")]
pub struct CatalogPage {
    f: Frame,
    rows: Vec<OfferRow>,
    service: String,
    quantity: String,
    quote: QuoteView,
}

#[derive(Deserialize, Default)]
pub struct CalcQuery {
    #[serde(default)]
    service: String,
    #[serde(default)]
    quantity: String,
}

fn catalog_lang(lang: Lang) -> kopek_domain::catalog::Lang {
    match lang {
        Lang::Ru => kopek_domain::catalog::Lang::Ru,
        Lang::En => kopek_domain::catalog::Lang::En,
    }
}

/// The catalog with the calculator (its answer for `?service=&quantity=` in place).
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    viewer: Result<Viewer, Response>,
    Query(q): Query<CalcQuery>,
) -> Response {
    let lang = viewer
        .as_ref()
        .map_or_else(|_| Lang::of(&headers), |v| v.lang);
    let offers = match state
        .services
        .catalog()
        .list(None, ServiceStatus::Active, Paging::new(100, None))
        .await
    {
        Ok(page) => page.items,
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    let rows: Vec<OfferRow> = offers
        .iter()
        .filter_map(|o| {
            let current = o.current.as_ref()?;
            let one = Quantity::new(Decimal::ONE).ok()?;
            let price = current.price.quote(one).ok()?;
            Some(OfferRow {
                code: o.service.code().to_string(),
                name: match lang {
                    Lang::Ru => o.service.name().ru().to_owned(),
                    Lang::En => o.service.name().en().to_owned(),
                },
                kind: match o.service.kind() {
                    ServiceKind::Recurring => lang.pick("подписка", "subscription"),
                    ServiceKind::Metered => lang.pick("по потреблению", "metered"),
                    _ => lang.pick("разовая", "one-off"),
                },
                unit: o.service.unit().short_name(catalog_lang(lang)),
                price: lang.money(price.total()),
            })
        })
        .collect();
    let service = if q.service.is_empty() {
        rows.first().map(|r| r.code.clone()).unwrap_or_default()
    } else {
        q.service.clone()
    };
    let quantity = if q.quantity.is_empty() {
        "1".to_owned()
    } else {
        q.quantity.clone()
    };
    let quote = quote_of(&state, lang, &service, &quantity).await;
    let page = |f| {
        CatalogPage {
            f,
            rows,
            service,
            quantity,
            quote,
        }
        .into_response()
    };
    match viewer {
        Ok(viewer) => page(Frame::of(&viewer, "/portal/catalog")),
        Err(_) => anonymous_page(&state, &headers, &extensions, "/portal/catalog", page),
    }
}

/// htmx: the calculator's answer alone.
pub async fn quote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CalcQuery>,
) -> QuoteView {
    quote_of(&state, Lang::of(&headers), &q.service, &q.quantity).await
}
