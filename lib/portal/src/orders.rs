//! A customer's orders in the portal: the list with each line's status, and ordering — the
//! one-off services of the catalog, quantity, date, site and note, the expected price shown
//! before confirming (`Catalog::quote`, the price calculator's service; with htmx as the
//! fields change, without JavaScript by a "show the price" button), and an idempotent submit:
//! the form carries a key of its own, claimed in the same store as the API's
//! `Idempotency-Key`, so a second click or a reload places nothing twice.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use kopek_domain::catalog::{ServiceKind, ServiceStatus};
use kopek_domain::orders::{LineRequest, Status};
use kopek_http::ApiError;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::orders::PlaceOrder;
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::form::{Claimed, Posted, claim, mismatch_text};
use crate::i18n::Lang;
use crate::pages::{Frame, PageError, see_other};
use crate::session::Viewer;

/// An order as a block of the list.
pub struct OrderView {
    pub id: String,
    pub placed_on: String,
    pub total: String,
    pub lines: Vec<LineView>,
}

/// A line of an order: what, how many, when, where it stands; its number while it may
/// still be cancelled (before an engineer takes it).
pub struct LineView {
    pub service: String,
    pub quantity: String,
    pub date: String,
    pub status: &'static str,
    pub cancellable: Option<u16>,
}

#[derive(Template, WebTemplate)]
#[template(path = "orders.html")]
pub struct OrdersPage {
    f: Frame,
    orders: Vec<OrderView>,
    placed: bool,
}

fn status(lang: Lang, status: Status) -> &'static str {
    let ru = lang == Lang::Ru;
    match status {
        Status::Placed => {
            if ru {
                "Принят"
            } else {
                "Placed"
            }
        }
        Status::Accepted => {
            if ru {
                "Назначен инженеру"
            } else {
                "Assigned"
            }
        }
        Status::InProgress => {
            if ru {
                "В работе"
            } else {
                "In progress"
            }
        }
        Status::Done => {
            if ru {
                "Выполнен"
            } else {
                "Done"
            }
        }
        Status::PartlyDone => {
            if ru {
                "Выполнен частично"
            } else {
                "Partly done"
            }
        }
        Status::Failed => {
            if ru {
                "Не выполнен"
            } else {
                "Failed"
            }
        }
        Status::Cancelled => {
            if ru {
                "Отменён"
            } else {
                "Cancelled"
            }
        }
    }
}

#[derive(Deserialize)]
pub struct OrdersQuery {
    placed: Option<String>,
}

/// The customer's orders, newest first, each line with its work order's status
/// (`Orders::list`).
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<OrdersQuery>,
) -> Result<OrdersPage, PageError> {
    let lang = viewer.lang;
    let page = state
        .services
        .orders()
        .list(&viewer.principal, Paging::new(50, None))
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let calendar = state.calendar();
    let orders = page
        .items
        .iter()
        .map(|o| OrderView {
            id: o.order.id.to_string(),
            placed_on: lang.date(calendar.date_of(o.order.placed_at)),
            total: lang.money(o.order.expected_total),
            lines: o
                .lines
                .iter()
                .map(|l| {
                    let l = &l.line;
                    LineView {
                        service: match lang {
                            Lang::Ru => l.service_name.ru().to_owned(),
                            Lang::En => l.service_name.en().to_owned(),
                        },
                        quantity: l.quantity.value().normalize().to_string(),
                        date: lang.date(l.requested_date),
                        status: status(lang, l.state.status()),
                        cancellable: (l.state.status() == Status::Placed).then_some(l.line_no),
                    }
                })
                .collect(),
        })
        .collect();
    Ok(OrdersPage {
        f: Frame::of(&viewer, "/portal/orders"),
        orders,
        placed: q.placed.is_some(),
    })
}

/// The form's fields, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct OrderForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    /// The form's own idempotency key.
    #[serde(rename = "_key", default)]
    key: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    requested_date: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    note: String,
    /// `preview` shows the price; anything else places the order.
    #[serde(default)]
    action: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "order_form.html")]
pub struct OrderFormPage {
    f: Frame,
    services: Vec<(String, String)>,
    form: OrderForm,
    quote: QuoteView,
    error: Option<(String, String)>,
}

/// The expected price, or why there is none yet.
#[derive(Template, WebTemplate, Default)]
#[template(path = "order_quote.html")]
pub struct QuoteView {
    lang: &'static str,
    net: Option<String>,
    gross: Option<String>,
    note: String,
}

/// The active services of `kind` with a price in force: code and name in `lang`.
pub(crate) async fn services_of_kind(
    state: &AppState,
    lang: Lang,
    kind: ServiceKind,
) -> Result<Vec<(String, String)>, PageError> {
    let page = state
        .services
        .catalog()
        .list(None, ServiceStatus::Active, Paging::new(100, None))
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(page
        .items
        .iter()
        .filter(|o| o.service.kind() == kind && o.current.is_some())
        .map(|o| {
            let name = match lang {
                Lang::Ru => o.service.name().ru(),
                Lang::En => o.service.name().en(),
            };
            (o.service.code().to_string(), name.to_owned())
        })
        .collect())
}

async fn quote(state: &AppState, lang: Lang, form: &OrderForm) -> QuoteView {
    quote_of(state, lang, &form.service, &form.quantity).await
}

/// The price calculator (`Catalog::quote`, as `GET /v1/catalog/services/{code}/quote`):
/// what `quantity` of `service` costs now, with tax, or why there is no price.
pub(crate) async fn quote_of(
    state: &AppState,
    lang: Lang,
    service: &str,
    quantity: &str,
) -> QuoteView {
    let empty = |note: &str| QuoteView {
        lang: lang.code(),
        note: note.to_owned(),
        ..QuoteView::default()
    };
    let (Ok(code), Ok(quantity)) = (
        service.parse(),
        quantity.trim().replace(',', ".").parse::<Decimal>(),
    ) else {
        return empty(match lang {
            Lang::Ru => "Выберите услугу и количество — здесь появится стоимость.",
            Lang::En => "Choose a service and a quantity to see the price here.",
        });
    };
    match state
        .services
        .catalog()
        .quote(None, &code, quantity, None)
        .await
    {
        Ok(q) => QuoteView {
            lang: lang.code(),
            net: Some(lang.money(q.quote.total())),
            gross: Some(lang.money(q.taxed.total_with_tax)),
            note: String::new(),
        },
        Err(e) => empty(&ApiError::from(e).detail),
    }
}

/// The order form, with a fresh key for its submit.
pub async fn form(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<OrderFormPage, PageError> {
    let lang = viewer.lang;
    let services = services_of_kind(&state, lang, ServiceKind::OneOff).await?;
    let form = OrderForm {
        key: crate::pages::new_nonce(),
        quantity: "1".into(),
        requested_date: state.today().to_string(),
        service: services.first().map(|s| s.0.clone()).unwrap_or_default(),
        ..OrderForm::default()
    };
    let quote = quote(&state, lang, &form).await;
    Ok(OrderFormPage {
        f: Frame::of(&viewer, "/portal/orders"),
        services,
        form,
        quote,
        error: None,
    })
}

/// htmx: the expected price of the form as it stands (a fragment).
pub async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<OrderForm>,
) -> QuoteView {
    quote(&state, viewer.lang, &form).await
}

/// Shows the price (without JavaScript), or places the order (`Orders::place`, as
/// `POST /v1/orders` does) once per form, then shows the orders.
pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<OrderForm>,
) -> Response {
    let lang = viewer.lang;
    if !viewer.csrf_ok(&state, &form.csrf) {
        return crate::pages::csrf_refused(lang);
    }
    if form.action == "preview" {
        return again(&state, &viewer, form, None).await;
    }
    let line = match line_of(&form) {
        Ok(line) => line,
        Err(error) => return again(&state, &viewer, form, Some(error)).await,
    };
    // Idempotent: the form's key, claimed for this person with what the form asks.
    let fingerprint = format!(
        "{:x}",
        Sha256::digest(format!(
            "{}|{}|{}|{}|{}|{}",
            form.service, form.quantity, form.requested_date, form.address, form.area, form.note
        ))
    );
    let key = match claim(&state, &viewer, &form.key, &fingerprint).await {
        Ok(Claimed::Fresh(key)) => key,
        Ok(Claimed::Again) => return see_other("/portal/orders?placed=1"),
        Ok(Claimed::Mismatch) => {
            let why = ("service".into(), mismatch_text(lang).into());
            return again(&state, &viewer, form, Some(why)).await;
        }
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    let placed = state
        .services
        .orders()
        .place(
            &viewer.principal,
            PlaceOrder {
                reference: None,
                lines: vec![line],
            },
        )
        .await;
    match placed {
        Ok(_) => {
            key.done(&state).await;
            see_other("/portal/orders?placed=1")
        }
        Err(e) => {
            key.failed(&state).await;
            let e = ApiError::from(e);
            let field = e.field.clone().unwrap_or_default();
            let field = field.rsplit('.').next().unwrap_or_default().to_owned();
            let mut response = again(&state, &viewer, form, Some((field, e.detail))).await;
            *response.status_mut() = if e.status.is_client_error() {
                e.status
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            response
        }
    }
}

/// The line the form asks for, or the field at fault and why.
fn line_of(form: &OrderForm) -> Result<LineRequest, (String, String)> {
    let bad = |field: &str, why: &str| (field.to_owned(), why.to_owned());
    let service = form
        .service
        .parse()
        .map_err(|_| bad("service", "choose a service"))?;
    let quantity = form
        .quantity
        .trim()
        .replace(',', ".")
        .parse::<Decimal>()
        .map_err(|_| bad("quantity", "a number, e.g. 1 or 2.5"))?;
    let requested_date = if form.requested_date.trim().is_empty() {
        None
    } else {
        Some(
            form.requested_date
                .trim()
                .parse::<NaiveDate>()
                .map_err(|_| bad("requested_date", "a date"))?,
        )
    };
    let optional = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    Ok(LineRequest {
        service,
        quantity,
        requested_date,
        note: optional(&form.note),
        address: form.address.trim().to_owned(),
        area: optional(&form.area),
        contact: None,
    })
}

async fn again(
    state: &AppState,
    viewer: &Viewer,
    form: OrderForm,
    error: Option<(String, String)>,
) -> Response {
    let lang = viewer.lang;
    let services = match services_of_kind(state, lang, ServiceKind::OneOff).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let quote = quote(state, lang, &form).await;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        OrderFormPage {
            f: Frame::of(viewer, "/portal/orders"),
            services,
            form,
            quote,
            error,
        },
    )
        .into_response()
}

/// Cancels a line not yet taken by an engineer (`POST /v1/orders/{id}/lines/{n}/cancel`).
pub async fn cancel_line(
    State(state): State<AppState>,
    Path((id, line)): Path<(String, u16)>,
    Posted { viewer, .. }: Posted,
) -> Response {
    let lang = viewer.lang;
    let Ok(id) = id.parse() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let done = state
        .services
        .orders()
        .cancel_line(&viewer.principal, id, line)
        .await;
    crate::form::then(lang, done, |_| "/portal/orders".to_owned())
}
