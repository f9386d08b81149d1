//! Closing documents in the portal. Customers: a period's documents (invoice for payment,
//! act, credit notes, UPD) with their signatures, the period's package — downloaded,
//! accepted, or disputed with a reason. Billing staff: the periods with their close status, a
//! period's documents by status, signing all of them in one action with its progress, the
//! packages with the disputes to resolve, and the period's archive. Every action is the
//! `Documents` service method `/v1/documents*`, `/v1/packages*`, `/v1/periods/*` call.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use kopek_domain::documents::archive::ArchiveStatus;
use kopek_domain::documents::package::PackageStatus;
use kopek_domain::documents::{Document, DocumentStatus, DocumentType};
use kopek_domain::ids::{ArchiveId, DocumentId, PackageId, SigningId};
use kopek_domain::period::BillingPeriod;
use kopek_http::state::AppState;
use kopek_services::Paging;
use serde::Deserialize;

use crate::form::{Posted, then};
use crate::i18n::Lang;
use crate::pages::{Frame, PageError, see_other};
use crate::session::Viewer;

/// A period given in a query or a path: one of the provider's periods, else 400 naming it.
pub(crate) fn period_of(
    state: &AppState,
    lang: Lang,
    text: Option<&str>,
    default: BillingPeriod,
) -> Result<BillingPeriod, PageError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(default);
    };
    let calendar = state.services.calendar();
    text.trim()
        .parse()
        .ok()
        .and_then(|p| calendar.check(p).ok())
        .ok_or_else(|| {
            PageError::of(
                lang,
                kopek_http::ApiError::validation(
                    "period",
                    format!(
                        "a {} as {}",
                        calendar.period_length(),
                        calendar.period_length().text_form()
                    ),
                ),
            )
        })
}

fn not_found(lang: Lang) -> PageError {
    PageError::of(lang, kopek_services::Error::NotFound)
}

fn id<T: std::str::FromStr>(lang: Lang, text: &str) -> Result<T, PageError> {
    text.parse().map_err(|_| not_found(lang))
}

/// A document's kind in words.
pub(crate) fn kind_text(lang: Lang, kind: DocumentType) -> &'static str {
    match kind {
        DocumentType::Invoice => lang.pick("Счёт на оплату", "Invoice for payment"),
        DocumentType::Act => lang.pick("Акт оказанных услуг", "Act of services rendered"),
        DocumentType::CreditNote => lang.pick("Корректировка", "Credit note"),
        DocumentType::Upd => lang.pick("УПД (XML)", "UPD (XML)"),
        DocumentType::UpdPrint => lang.pick("УПД (печатная форма)", "UPD (print form)"),
    }
}

pub(crate) fn package_status_text(lang: Lang, status: PackageStatus) -> &'static str {
    match status {
        PackageStatus::Signed => lang.pick("подписан", "signed"),
        PackageStatus::Sent => lang.pick("отправлен", "sent"),
        PackageStatus::Viewed => lang.pick("просмотрен", "viewed"),
        PackageStatus::Accepted => lang.pick("принят", "accepted"),
        PackageStatus::Disputed => lang.pick("оспорен", "disputed"),
    }
}

/// A document as a row.
pub struct DocRow {
    pub id: String,
    pub kind: &'static str,
    pub number: String,
    pub dated: String,
    pub gross: String,
    pub signed: bool,
    pub customer: String,
}

impl DocRow {
    fn of(d: &Document, customer: Option<&str>, lang: Lang) -> Self {
        Self {
            id: d.id.to_string(),
            kind: kind_text(lang, d.doc_type),
            number: d.number.clone(),
            dated: lang.date(d.dated),
            gross: lang.money(d.gross),
            signed: d.signature.is_some(),
            customer: customer.unwrap_or_default().to_owned(),
        }
    }
}

pub struct PackageView {
    pub id: String,
    pub status: &'static str,
    /// Whether the customer may still answer it.
    pub open: bool,
    pub reason: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "documents.html")]
pub struct DocumentsPage {
    f: Frame,
    period: String,
    previous: String,
    next: Option<String>,
    rows: Vec<DocRow>,
    package: Option<PackageView>,
}

#[derive(Deserialize)]
pub struct PeriodQuery {
    pub period: Option<String>,
}

/// A customer's documents of a period (by default the last closed one) and its package.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<DocumentsPage, PageError> {
    let lang = viewer.lang;
    let current = state.current_period();
    let period = period_of(&state, lang, q.period.as_deref(), current.previous())?;
    let err = |e| PageError::of(lang, e);
    let documents = state.services.documents();
    let found = documents
        .of_customer(&viewer.principal, None, period)
        .await
        .map_err(err)?;
    let package = documents
        .package_of(&viewer.principal, None, period)
        .await
        .map_err(err)?;
    Ok(DocumentsPage {
        f: Frame::of(&viewer, "/portal/documents"),
        period: period.to_string(),
        previous: period.previous().to_string(),
        next: (period < current).then(|| period.next().to_string()),
        rows: found.iter().map(|d| DocRow::of(d, None, lang)).collect(),
        package: package.map(|p| PackageView {
            id: p.id.to_string(),
            status: package_status_text(lang, p.status),
            open: matches!(
                p.status,
                PackageStatus::Sent | PackageStatus::Viewed | PackageStatus::Signed
            ),
            reason: p.dispute_reason,
        }),
    })
}

/// To a document's PDF (a short-lived link), or its detached signature.
pub async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, what)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let lang = viewer.lang;
    let signature = match what.as_str() {
        "file" => false,
        "signature" => true,
        _ => return Err(not_found(lang)),
    };
    let id: DocumentId = self::id(lang, &id)?;
    let link = state
        .services
        .documents()
        .download(&viewer.principal, id, signature)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(see_other(&link.url))
}

/// To a package's ZIP (a short-lived link); the first download marks it viewed.
pub async fn download_package(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = viewer.lang;
    let id: PackageId = self::id(lang, &id)?;
    let link = state
        .services
        .documents()
        .download_package(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(see_other(&link.url))
}

/// Accepts a package, or disputes it with `reason`.
pub async fn answer_package(
    State(state): State<AppState>,
    Path((id, answer)): Path<(String, String)>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let id: PackageId = match self::id(lang, &id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let documents = state.services.documents();
    let done = match answer.as_str() {
        "accept" => documents.accept_package(&viewer.principal, id).await,
        "dispute" => {
            let reason = fields.get("reason").unwrap_or_default();
            documents
                .dispute_package(&viewer.principal, id, &reason)
                .await
        }
        _ => return not_found(lang).into_response(),
    };
    then(lang, done, |p| {
        format!("/portal/documents?period={}", p.period)
    })
}

// --- Billing staff: periods, signing, packages, archives ----------------------------------

pub struct PeriodRow {
    pub period: String,
    pub state: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "periods.html")]
pub struct PeriodsPage {
    f: Frame,
    rows: Vec<PeriodRow>,
    current: String,
}

/// The periods with their close status (`GET /v1/periods`'s service).
pub async fn periods(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<PeriodsPage, PageError> {
    let lang = viewer.lang;
    let page = state
        .services
        .closer()
        .list_as(&viewer.principal, Paging::new(36, None))
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(PeriodsPage {
        f: Frame::of(&viewer, "/portal/periods"),
        rows: page
            .items
            .iter()
            .map(|p| PeriodRow {
                period: p.period.to_string(),
                state: close_text(lang, Some(p)),
            })
            .collect(),
        current: state.current_period().to_string(),
    })
}

/// Where a period's close stands, in words.
fn close_text(lang: Lang, p: Option<&kopek_services::close::StoredPeriod>) -> String {
    use kopek_domain::close::PeriodStatus;
    match (p, lang) {
        (None, _) => lang.pick("не закрыт", "not closed").to_owned(),
        (Some(p), Lang::Ru) if p.status == PeriodStatus::Closed => format!(
            "закрыт {}: счетов {}, пропущено {}",
            p.closed_at
                .map(|d| lang.date(d.date_naive()))
                .unwrap_or_default(),
            p.done,
            p.skipped
        ),
        (Some(p), Lang::En) if p.status == PeriodStatus::Closed => format!(
            "closed on {}: {} invoiced, {} skipped",
            p.closed_at
                .map(|d| lang.date(d.date_naive()))
                .unwrap_or_default(),
            p.done,
            p.skipped
        ),
        (Some(p), Lang::Ru) => format!(
            "закрывается: готово {} из {}, ошибок {}",
            p.done + p.skipped,
            p.planned,
            p.failed
        ),
        (Some(p), Lang::En) => format!(
            "closing: {} of {} done, {} failed",
            p.done + p.skipped,
            p.planned,
            p.failed
        ),
    }
}

pub struct StatusCount {
    pub status: &'static str,
    pub count: u64,
    pub gross: String,
}

pub struct PackageRow {
    pub id: String,
    pub customer: String,
    pub status: &'static str,
    pub reason: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "period.html")]
pub struct PeriodPage {
    f: Frame,
    period: String,
    state: String,
    closed: bool,
    invoices: u64,
    by_status: Vec<StatusCount>,
    rows: Vec<DocRow>,
    unsigned: u64,
    packages: Vec<PackageRow>,
    can_sign: bool,
}

/// A period: its close status, documents by status (with the first page of them), its
/// packages and disputes; the buttons to sign everything, send the packages, build the archive.
pub async fn period(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(period): Path<String>,
) -> Result<PeriodPage, PageError> {
    let lang = viewer.lang;
    let period = period_of(&state, lang, Some(&period), state.current_period())?;
    let err = |e| PageError::of(lang, e);
    let caller = &viewer.principal;
    let stored = state
        .services
        .closer()
        .status_as(caller, period)
        .await
        .map_err(err)?;
    let closed = stored
        .as_ref()
        .is_some_and(|p| p.status == kopek_domain::close::PeriodStatus::Closed);
    let (mut invoices, mut by_status, mut rows, mut unsigned, mut packages) =
        (0, Vec::new(), Vec::new(), 0, Vec::new());
    if closed {
        let documents = state.services.documents();
        let found = documents
            .of_period(caller, period, Paging::new(100, None))
            .await
            .map_err(err)?;
        invoices = found.invoices;
        for (status, totals) in &found.by_status {
            if *status == DocumentStatus::Generated {
                unsigned = totals.count;
            }
            by_status.push(StatusCount {
                status: match status {
                    DocumentStatus::Generated => lang.pick("не подписаны", "not signed"),
                    DocumentStatus::Signed => lang.pick("подписаны", "signed"),
                },
                count: totals.count,
                gross: totals
                    .gross
                    .iter()
                    .map(|m| lang.money(*m))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        rows = found
            .documents
            .iter()
            .map(|d| DocRow::of(&d.item, d.customer.as_deref(), lang))
            .collect();
        let sent = documents
            .period_packages(caller, period, None, Paging::new(100, None))
            .await
            .map_err(err)?;
        packages = sent
            .packages
            .iter()
            .map(|p| PackageRow {
                id: p.item.id.to_string(),
                customer: p.customer.clone().unwrap_or_default(),
                status: package_status_text(lang, p.item.status),
                reason: p.item.dispute_reason.clone(),
            })
            .collect();
    }
    Ok(PeriodPage {
        f: Frame::of(&viewer, "/portal/periods"),
        period: period.to_string(),
        state: close_text(lang, stored.as_ref()),
        closed,
        invoices,
        by_status,
        rows,
        unsigned,
        packages,
        can_sign: matches!(
            caller.role(),
            kopek_domain::accounts::Role::Manager | kopek_domain::accounts::Role::Admin
        ),
    })
}

/// A period's action: `close` it, `sign` all its documents, `send` its packages, or build
/// its `archive`.
pub async fn period_action(
    State(state): State<AppState>,
    Path((period, action)): Path<(String, String)>,
    Posted { viewer, .. }: Posted,
) -> Response {
    let lang = viewer.lang;
    let period = match period_of(&state, lang, Some(&period), state.current_period()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let caller = &viewer.principal;
    let documents = state.services.documents();
    match action.as_str() {
        "close" => then(
            lang,
            state.services.closer().start_as(caller, period).await,
            |_| format!("/portal/periods/{period}"),
        ),
        "sign" => then(
            lang,
            documents.start_signing(caller, period, None).await,
            |s| format!("/portal/signings/{}", s.id),
        ),
        "send" => then(lang, documents.send_packages(caller, period).await, |_| {
            format!("/portal/periods/{period}")
        }),
        "archive" => then(lang, documents.request_archive(caller, period).await, |a| {
            format!("/portal/archives/{}", a.id)
        }),
        _ => not_found(lang).into_response(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "progress.html")]
pub struct ProgressPage {
    pub f: Frame,
    pub heading: String,
    /// Done of total, for the progress bar.
    pub done: u64,
    pub total: u64,
    pub finished: bool,
    pub lines: Vec<String>,
    /// The result's link, once there is one.
    pub link: Option<(String, String)>,
    pub back: String,
}

/// A signing and its progress; the page reloads itself until it is finished.
pub async fn signing(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<ProgressPage, PageError> {
    let lang = viewer.lang;
    let id: SigningId = self::id(lang, &id)?;
    let s = state
        .services
        .documents()
        .signing(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let done = s.signed + s.already + s.refused.len() as u64;
    let mut lines = vec![match lang {
        Lang::Ru => format!(
            "Подписано {} из {}; подписаны ранее: {}.",
            s.signed, s.total, s.already
        ),
        Lang::En => format!(
            "Signed {} of {}; signed before: {}.",
            s.signed, s.total, s.already
        ),
    }];
    lines.extend(
        s.refused
            .iter()
            .map(|r| format!("{}: {}", r.document, r.reason)),
    );
    Ok(ProgressPage {
        f: Frame::of(&viewer, "/portal/periods"),
        heading: match lang {
            Lang::Ru => format!("Подписание документов за {}", s.period),
            Lang::En => format!("Signing the documents of {}", s.period),
        },
        done,
        total: s.total,
        finished: s.finished_at.is_some(),
        lines,
        link: None,
        back: format!("/portal/periods/{}", s.period),
    })
}

/// A period's archive: building, then its link.
pub async fn archive(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<ProgressPage, PageError> {
    let lang = viewer.lang;
    let id: ArchiveId = self::id(lang, &id)?;
    let found = state
        .services
        .documents()
        .archive(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let a = &found.archive;
    let finished = a.status == ArchiveStatus::Ready;
    Ok(ProgressPage {
        f: Frame::of(&viewer, "/portal/periods"),
        heading: match lang {
            Lang::Ru => format!("Архив документов за {}", a.period),
            Lang::En => format!("The documents archive of {}", a.period),
        },
        done: u64::from(finished),
        total: 1,
        finished,
        lines: vec![a.status.as_str().to_owned()],
        link: found.download.map(|l| {
            (
                l.url,
                lang.pick("Скачать архив (ZIP)", "Download the archive (ZIP)")
                    .to_owned(),
            )
        }),
        back: format!("/portal/periods/{}", a.period),
    })
}
