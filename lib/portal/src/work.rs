//! Engineers in the portal: the work queues with how many wait and for how long, taking a
//! batch, and completing it in one form — each work order done (with the actual quantity),
//! failed (with why) or given back to the queue — through the same `Work` service methods as
//! `/v1/work/*`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use kopek_domain::ids::{BatchId, WorkOrderId};
use kopek_domain::work::{EntryState, Outcome};
use kopek_http::ApiError;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::work::{BatchDetail, TakeBatch};
use rust_decimal::Decimal;

use crate::form::Posted;
use crate::i18n::Lang;
use crate::pages::{Frame, PageError, see_other};
use crate::session::Viewer;

/// A queue as a row.
pub struct QueueRow {
    pub work_type: String,
    pub waiting: u64,
    /// How long the oldest has waited, in words.
    pub oldest: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "work.html")]
pub struct WorkPage {
    f: Frame,
    queues: Vec<QueueRow>,
    batches: Vec<(String, String, usize)>,
}

fn age(lang: Lang, secs: Option<i64>) -> String {
    let Some(secs) = secs else {
        return "—".to_owned();
    };
    let (hours, days) = (secs / 3600, secs / 86_400);
    match (lang, days) {
        (Lang::Ru, 0) => format!("{hours} ч"),
        (Lang::Ru, d) => format!("{d} дн."),
        (Lang::En, 0) => format!("{hours} h"),
        (Lang::En, d) => format!("{d} d"),
    }
}

/// The queues and the engineer's open batches (`Work::queues`, `Work::batches`).
pub async fn queues(State(state): State<AppState>, viewer: Viewer) -> Result<WorkPage, PageError> {
    let lang = viewer.lang;
    let work = state.services.work();
    let err = |e| PageError::of(lang, e);
    let queues = work.queues(&viewer.principal).await.map_err(err)?;
    let batches = work
        .batches(&viewer.principal, Paging::new(20, None))
        .await
        .map_err(err)?;
    Ok(WorkPage {
        f: Frame::of(&viewer, "/portal/work"),
        queues: queues
            .into_iter()
            .map(|q| QueueRow {
                work_type: q.work_type.as_str().to_owned(),
                waiting: q.waiting,
                oldest: age(lang, q.oldest_age_secs),
            })
            .collect(),
        batches: batches
            .items
            .iter()
            .filter(|b| b.work_orders.iter().any(|w| w.entry == EntryState::Open))
            .map(|b| {
                (
                    b.batch.id.to_string(),
                    b.batch.work_type.as_str().to_owned(),
                    b.work_orders.len(),
                )
            })
            .collect(),
    })
}

/// Takes a batch of a queue (`Work::take_batch`) and shows it.
pub async fn take(State(state): State<AppState>, Posted { viewer, fields }: Posted) -> Response {
    let lang = viewer.lang;
    let get = |name: &str| fields.get(name);
    let Some(work_type) = get("work_type").and_then(|w| w.parse().ok()) else {
        return PageError::of(lang, ApiError::validation("work_type", "choose a queue"))
            .into_response();
    };
    let size = get("size").and_then(|s| s.trim().parse().ok());
    let requested_by = match fields.filled("requested_by").map(|d| d.parse()) {
        None => None,
        Some(Ok(day)) => Some(day),
        Some(Err(_)) => {
            let e = ApiError::validation("requested_by", "a date as YYYY-MM-DD");
            return PageError::of(lang, e).into_response();
        }
    };
    match state
        .services
        .work()
        .take_batch(
            &viewer.principal,
            TakeBatch {
                work_type,
                size,
                requested_by,
                area: get("area").filter(|a| !a.is_empty()),
            },
        )
        .await
    {
        Ok(detail) => see_other(&format!("/portal/work/batches/{}", detail.batch.id)),
        Err(e) => PageError::of(lang, e).into_response(),
    }
}

/// A work order of the batch, as the completion form shows it.
pub struct EntryRow {
    pub work_order: String,
    pub open: bool,
    pub state: &'static str,
    pub customer: String,
    pub service: String,
    pub quantity: String,
    pub address: String,
    pub note: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "batch.html")]
pub struct BatchPage {
    f: Frame,
    id: String,
    work_type: String,
    rows: Vec<EntryRow>,
    any_open: bool,
}

fn batch_page(viewer: &Viewer, detail: &BatchDetail) -> BatchPage {
    let lang = viewer.lang;
    let ru = lang == Lang::Ru;
    let rows: Vec<EntryRow> = detail
        .work_orders
        .iter()
        .map(|w| EntryRow {
            work_order: w.line.work_order.to_string(),
            open: w.entry == EntryState::Open,
            state: match (w.entry, ru) {
                (EntryState::Open, true) => "В работе",
                (EntryState::Open, false) => "Open",
                (EntryState::Done, true) => "Выполнено",
                (EntryState::Done, false) => "Done",
                (EntryState::Failed, true) => "Не выполнено",
                (EntryState::Failed, false) => "Failed",
                (EntryState::Released, true) => "Возвращено в очередь",
                (EntryState::Released, false) => "Back in the queue",
            },
            customer: w.customer.clone().unwrap_or_default(),
            service: if ru {
                w.line.service_name.ru()
            } else {
                w.line.service_name.en()
            }
            .to_owned(),
            quantity: w.line.quantity.value().normalize().to_string(),
            address: w.line.site.address.clone(),
            note: w.line.note.clone().unwrap_or_default(),
        })
        .collect();
    BatchPage {
        f: Frame::of(viewer, "/portal/work"),
        id: detail.batch.id.to_string(),
        work_type: detail.batch.work_type.as_str().to_owned(),
        any_open: rows.iter().any(|r| r.open),
        rows,
    }
}

/// A batch with its completion form (`Work::batch`).
pub async fn batch(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<BatchPage, PageError> {
    let lang = viewer.lang;
    let id: BatchId = id
        .parse()
        .map_err(|_| PageError::of(lang, kopek_services::Error::NotFound))?;
    let detail = state
        .services
        .work()
        .batch(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(batch_page(&viewer, &detail))
}

/// Completes the batch in one form: for each work order `outcome.{id}` is `done` (with
/// `quantity.{id}`), `failed` (with `reason.{id}`) or `release`. The done and failed ones go
/// through `Work::complete` in one action, then the rest through `Work::release`; a refused
/// completion changes nothing and shows why.
pub async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let get = |name: &str| fields.get(name);
    let Ok(id) = id.parse::<BatchId>() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let mut outcomes = Vec::new();
    let mut released: Vec<WorkOrderId> = Vec::new();
    for (name, value) in &fields.0 {
        let Some(wo) = name.strip_prefix("outcome.") else {
            continue;
        };
        let Ok(work_order) = wo.parse::<WorkOrderId>() else {
            continue;
        };
        match value.as_str() {
            "done" => {
                let text = get(&format!("quantity.{wo}"))
                    .unwrap_or_default()
                    .replace(',', ".");
                let Ok(actual_quantity) = text.parse::<Decimal>() else {
                    let e =
                        ApiError::validation(format!("quantity.{wo}"), "the quantity done, e.g. 1");
                    return PageError::of(lang, e).into_response();
                };
                outcomes.push(Outcome::Done {
                    work_order,
                    actual_quantity,
                });
            }
            "failed" => outcomes.push(Outcome::Failed {
                work_order,
                reason: get(&format!("reason.{wo}")).unwrap_or_default(),
            }),
            _ => released.push(work_order),
        }
    }
    let work = state.services.work();
    if !outcomes.is_empty()
        && let Err(e) = work.complete(&viewer.principal, id, outcomes).await
    {
        return PageError::of(lang, e).into_response();
    }
    if !released.is_empty()
        && let Err(e) = work.release(&viewer.principal, id, Some(released)).await
    {
        return PageError::of(lang, e).into_response();
    }
    see_other(&format!("/portal/work/batches/{id}"))
}

/// The batch's work sheet as PDF, to print (`GET /v1/work/batches/{id}/sheet.pdf`).
pub async fn sheet(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = viewer.lang;
    let id: BatchId = id
        .parse()
        .map_err(|_| PageError::of(lang, kopek_services::Error::NotFound))?;
    let (name, bytes) = state
        .services
        .work()
        .work_sheet_pdf(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(kopek_http::download::attachment("application/pdf", name, bytes).into_response())
}
