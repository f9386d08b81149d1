//! Bank statements in the portal, for accountants: uploading a statement (1CClientBankExchange
//! or camt.053, as `POST /v1/billing/statements` takes it), each import's report with every
//! payment's outcome (matching runs in the background: the page refreshes itself until it
//! is complete), and the review list — each line assigned to a customer or dismissed with
//! why, through `Bank::resolve`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use kopek_domain::bank::imports::{ImportLine, Outcome};
use kopek_domain::ids::{ImportId, OrgId};
use kopek_http::ApiError;
use kopek_http::state::AppState;
use kopek_services::bank::Resolution;

use crate::form::{Posted, then, uploaded_file};
use crate::i18n::Lang;
use crate::pages::{Frame, PageError};
use crate::session::Viewer;

/// The largest statement the portal takes, as the API's upload.
pub const MAX_UPLOAD_BYTES: usize = 4 * 1024 * 1024;

pub struct ImportRow {
    pub id: String,
    pub file_name: String,
    pub uploaded: String,
    pub lines: usize,
    pub payments: String,
}

pub struct LineRow {
    pub import: String,
    pub line: usize,
    pub date: String,
    pub number: String,
    pub amount: String,
    pub payer: String,
    pub purpose: String,
    pub outcome: &'static str,
    pub tone: &'static str,
    pub reason: String,
    /// Customers it may be from: id and name.
    pub candidates: Vec<(String, String)>,
}

impl LineRow {
    fn of(l: &ImportLine, lang: Lang) -> Self {
        let (outcome, tone, reason, candidates) = match &l.outcome {
            Outcome::Recorded { reason, .. } => (
                lang.pick("зачтён", "recorded"),
                "good",
                reason.clone(),
                Vec::new(),
            ),
            Outcome::Review { reason, candidates } => (
                lang.pick("на разборе", "to review"),
                "bad",
                reason.clone(),
                candidates
                    .iter()
                    .map(|c| (c.customer.org.to_string(), c.customer.name.clone()))
                    .collect(),
            ),
            Outcome::Duplicate { reason, .. } => (
                lang.pick("повтор", "duplicate"),
                "",
                reason.clone(),
                Vec::new(),
            ),
            Outcome::Dismissed { reason, .. } => (
                lang.pick("отклонён", "dismissed"),
                "",
                reason.clone(),
                Vec::new(),
            ),
        };
        Self {
            import: l.import.to_string(),
            line: l.line,
            date: lang.date(l.received_on),
            number: l.number.clone(),
            amount: lang.money(l.amount),
            payer: format!(
                "{} ({})",
                l.payer.name,
                l.payer.inn.clone().unwrap_or_default()
            ),
            purpose: l.purpose.clone(),
            outcome,
            tone,
            reason,
            candidates,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "bank.html")]
pub struct BankPage {
    f: Frame,
    imports: Vec<ImportRow>,
    review: Vec<LineRow>,
    can_resolve: bool,
}

fn tallies(lang: Lang, t: &[kopek_domain::bank::imports::Tally]) -> String {
    t.iter()
        .map(|t| {
            format!(
                "{} × {}",
                t.count,
                lang.money(kopek_domain::money::Money::new(t.total, t.currency))
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The upload form, the latest imports and the lines waiting for review.
pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<BankPage, PageError> {
    let lang = viewer.lang;
    let err = |e| PageError::of(lang, e);
    let bank = state.services.bank();
    let imports = bank
        .imports(&viewer.principal, 20, None)
        .await
        .map_err(err)?;
    let review = bank
        .review_list(&viewer.principal, 50, None)
        .await
        .map_err(err)?;
    Ok(BankPage {
        f: Frame::of(&viewer, "/portal/bank"),
        imports: imports
            .items
            .iter()
            .map(|i| ImportRow {
                id: i.id.to_string(),
                file_name: i.file_name.clone(),
                uploaded: lang.date(i.uploaded_at.date_naive()),
                lines: i.lines_read,
                payments: tallies(lang, &i.payments),
            })
            .collect(),
        review: review.items.iter().map(|l| LineRow::of(l, lang)).collect(),
        can_resolve: matches!(
            viewer.principal.role(),
            kopek_domain::accounts::Role::Accountant | kopek_domain::accounts::Role::Admin
        ),
    })
}

/// Uploads a statement (multipart: `_csrf`, `file`) and shows its report.
pub async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    multipart: Multipart,
) -> Response {
    let (name, bytes) = match uploaded_file(&state, &viewer, multipart).await {
        Ok(file) => file,
        Err(refused) => return refused,
    };
    let done = state
        .services
        .bank()
        .upload(&viewer.principal, &name, bytes)
        .await;
    then(viewer.lang, done, |i| {
        format!("/portal/bank/imports/{}", i.id)
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "bank_import.html")]
pub struct ImportPage {
    f: Frame,
    row: ImportRow,
    complete: bool,
    lines: Vec<LineRow>,
    debits: String,
    other: String,
    can_resolve: bool,
}

/// An import's report.
pub async fn import(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<ImportPage, PageError> {
    let lang = viewer.lang;
    let id: ImportId = id
        .parse()
        .map_err(|_| PageError::of(lang, kopek_services::Error::NotFound))?;
    let report = state
        .services
        .bank()
        .report(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let i = &report.import;
    Ok(ImportPage {
        f: Frame::of(&viewer, "/portal/bank"),
        complete: report.is_complete(),
        row: ImportRow {
            id: i.id.to_string(),
            file_name: i.file_name.clone(),
            uploaded: lang.date(i.uploaded_at.date_naive()),
            lines: i.lines_read,
            payments: tallies(lang, &i.payments),
        },
        lines: report.lines.iter().map(|l| LineRow::of(l, lang)).collect(),
        debits: tallies(lang, &i.debits),
        other: tallies(lang, &i.other),
        can_resolve: matches!(
            viewer.principal.role(),
            kopek_domain::accounts::Role::Accountant | kopek_domain::accounts::Role::Admin
        ),
    })
}

/// Resolves a line under review: `do=assign` to `org`, or `do=dismiss` with `reason`.
pub async fn resolve(
    State(state): State<AppState>,
    Path((id, line)): Path<(String, usize)>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let Ok(id) = id.parse::<ImportId>() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let resolution = match fields.get("do").as_deref() {
        Some("assign") => match fields.parsed::<OrgId>("org", "choose the customer") {
            Ok(org) => Resolution::Assign { org, split: None },
            Err(e) => return PageError::of(lang, e).into_response(),
        },
        Some("dismiss") => Resolution::Dismiss {
            reason: fields.get("reason").unwrap_or_default(),
        },
        _ => {
            return PageError::of(lang, ApiError::validation("do", "assign or dismiss"))
                .into_response();
        }
    };
    let done = state
        .services
        .bank()
        .resolve(&viewer.principal, id, line, resolution)
        .await;
    then(lang, done, |_| "/portal/bank".to_owned())
}
