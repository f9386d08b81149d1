//! Money in the portal. Customers: their payments and credit; the statement of account for
//! any dates (on the page, as CSV or XLSX) and the reconciliation statement as PDF. Billing
//! staff: the customers with a page each — balance, dunning (with the hold a manager sets),
//! payments, and recording a payment. Each is the service method its `/v1/billing/*` route
//! calls, with the viewer as the caller.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use kopek_domain::accounts::{DocumentLanguage, Role};
use kopek_domain::documents::reconciliation::ReportKind;
use kopek_domain::documents::report::ReportStatus;
use kopek_domain::ids::{OrgId, ReportId};
use kopek_domain::payments::Payment;
use kopek_http::ApiError;
use kopek_http::download::attachment;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::dunning::ModeCommand;
use kopek_services::payments::RecordPaymentCommand;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::documents::ProgressPage;
use crate::form::{Posted, then};
use crate::i18n::Lang;
use crate::pages::{Frame, PageError, cursor_of, next_link};
use crate::session::Viewer;

fn org_param(lang: Lang, org: Option<&str>) -> Result<Option<OrgId>, PageError> {
    org.filter(|o| !o.is_empty())
        .map(|o| {
            o.parse()
                .map_err(|_| PageError::of(lang, kopek_services::Error::NotFound))
        })
        .transpose()
}

/// A payment as a row.
pub struct PaymentRow {
    pub received_on: String,
    pub reference: String,
    pub amount: String,
    pub settled: String,
    pub to_credit: String,
    pub reversed: bool,
}

impl PaymentRow {
    fn of(p: &Payment, lang: Lang) -> Self {
        Self {
            received_on: lang.date(p.received_on),
            reference: p.reference.to_string(),
            amount: lang.money(p.amount),
            settled: p
                .settled
                .iter()
                .map(|s| format!("{} ({})", s.number, lang.money(s.amount)))
                .collect::<Vec<_>>()
                .join(", "),
            to_credit: lang.money(p.to_credit),
            reversed: p.reversed.is_some(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "payments.html")]
pub struct PaymentsPage {
    f: Frame,
    customer: String,
    credit: String,
    rows: Vec<PaymentRow>,
}

/// A customer's payments, newest first, and its credit (`GET /v1/billing/payments`).
pub async fn payments(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<PaymentsPage, PageError> {
    let lang = viewer.lang;
    let of = state
        .services
        .payments()
        .of(&viewer.principal, None)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(PaymentsPage {
        f: Frame::of(&viewer, "/portal/payments"),
        customer: of.customer,
        credit: lang.money(of.credit),
        rows: of
            .payments
            .iter()
            .rev()
            .map(|p| PaymentRow::of(p, lang))
            .collect(),
    })
}

// --- The statement of account -------------------------------------------------------------

#[derive(Deserialize)]
pub struct StatementQuery {
    from: Option<String>,
    to: Option<String>,
    org: Option<String>,
    format: Option<String>,
}

pub struct StatementRow {
    pub on: String,
    pub number: String,
    pub description: String,
    pub debit: String,
    pub credit: String,
    pub balance: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "statement.html")]
pub struct StatementPage {
    f: Frame,
    customer: String,
    org: String,
    from: String,
    to: String,
    opening: String,
    rows: Vec<StatementRow>,
    debit: String,
    credit: String,
    closing: String,
    overdue: String,
    /// The query of the file links.
    query: String,
}

fn date_param(lang: Lang, field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, PageError> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim().parse().map_err(|_| {
                PageError::of(
                    lang,
                    ApiError::validation(field.to_owned(), "a date as YYYY-MM-DD"),
                )
            })
        })
        .transpose()
}

/// The statement of account of the viewer's organisation (staff: of `org`) from `from` to
/// `to` (`GET /v1/billing/account-statement`): on the page, or `format=csv` / `xlsx`.
pub async fn statement(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<StatementQuery>,
) -> Result<Response, PageError> {
    let lang = viewer.lang;
    let org = org_param(lang, q.org.as_deref())?;
    let from = date_param(lang, "from", q.from.as_deref())?;
    let to = date_param(lang, "to", q.to.as_deref())?;
    let of = state
        .services
        .reports()
        .account_statement(&viewer.principal, org, from, to)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let s = &of.statement;
    let language = lang.document();
    let name = format!("statement-{}-{}-{}", s.org, s.from, s.to);
    match q.format.as_deref() {
        Some("csv") => {
            return Ok(attachment(
                "text/csv; charset=utf-8",
                format!("{name}.csv"),
                s.to_csv(language),
            )
            .into_response());
        }
        Some("xlsx") => {
            let bytes =
                kopek_services::reports::xlsx(s, language).map_err(|e| PageError::of(lang, e))?;
            return Ok(attachment(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                format!("{name}.xlsx"),
                bytes,
            )
            .into_response());
        }
        None | Some("") | Some("html") => {}
        Some(_) => {
            return Err(PageError::of(
                lang,
                ApiError::validation("format", "must be csv or xlsx"),
            ));
        }
    }
    let org_text = org.map(|o| o.to_string()).unwrap_or_default();
    let mut query = format!("from={}&to={}", s.from, s.to);
    if !org_text.is_empty() {
        query.push_str(&format!("&org={org_text}"));
    }
    let here = if org.is_some() {
        "/portal/customers"
    } else {
        "/portal/statement"
    };
    Ok(StatementPage {
        f: Frame::of(&viewer, here),
        customer: of.customer.clone(),
        org: org_text,
        from: s.from.to_string(),
        to: s.to.to_string(),
        opening: lang.money(s.opening),
        rows: s
            .rows
            .iter()
            .map(|r| StatementRow {
                on: lang.date(r.on),
                number: r.number.clone(),
                description: r.description.get(language).to_owned(),
                debit: if r.debit.is_zero() {
                    String::new()
                } else {
                    lang.money(r.debit)
                },
                credit: if r.credit.is_zero() {
                    String::new()
                } else {
                    lang.money(r.credit)
                },
                balance: lang.money(r.balance),
            })
            .collect(),
        debit: lang.money(s.totals.debit),
        credit: lang.money(s.totals.credit),
        closing: lang.money(s.closing),
        overdue: lang.money(s.overdue),
        query,
    }
    .into_response())
}

/// Asks for the reconciliation statement (or, with `kind=account_statement`, the statement of
/// account) as PDF for the dates (`POST /v1/billing/reports`), in the viewer's language, and
/// follows it.
pub async fn request_report(
    State(state): State<AppState>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let parsed = (|| {
        let org = org_param(lang, fields.get("org").as_deref())?;
        let from = date_param(lang, "from", fields.get("from").as_deref())?;
        let to = date_param(lang, "to", fields.get("to").as_deref())?;
        Ok::<_, PageError>((org, from, to))
    })();
    let (org, from, to) = match parsed {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let (Some(from), Some(to)) = (from, to) else {
        return PageError::of(
            lang,
            ApiError::validation("from", "the first and the last day"),
        )
        .into_response();
    };
    let language = match lang {
        Lang::Ru => DocumentLanguage::Ru,
        Lang::En => DocumentLanguage::En,
    };
    let kind = if fields.get("kind").as_deref() == Some("account_statement") {
        ReportKind::AccountStatement
    } else {
        ReportKind::Reconciliation
    };
    let done = state
        .services
        .documents()
        .request_report(&viewer.principal, org, kind, from, to, Some(language))
        .await;
    then(lang, done, |r| format!("/portal/reports/{}", r.id))
}

/// A report: being made, then its PDF's link (and its signature's, once signed).
pub async fn report(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<ProgressPage, PageError> {
    let lang = viewer.lang;
    let id: ReportId = id
        .parse()
        .map_err(|_| PageError::of(lang, kopek_services::Error::NotFound))?;
    let found = state
        .services
        .documents()
        .report_file(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let r = &found.report;
    let (finished, line) = match &r.status {
        ReportStatus::Making => (false, lang.pick("Формируется…", "Being made…").to_owned()),
        ReportStatus::Ready => (true, lang.pick("Готов.", "Ready.").to_owned()),
        ReportStatus::Failed { reason } => (true, reason.clone()),
    };
    let back = if viewer.principal.org().is_some() {
        "/portal/statement".to_owned()
    } else {
        format!("/portal/customers/{}", r.org)
    };
    Ok(ProgressPage {
        f: Frame::of(&viewer, &back),
        heading: format!(
            "{} {} – {}",
            match r.kind {
                ReportKind::Reconciliation => lang.pick("Акт сверки", "Reconciliation statement"),
                ReportKind::AccountStatement => {
                    lang.pick("Выписка по лицевому счёту", "Statement of account")
                }
            },
            lang.date(r.from),
            lang.date(r.to)
        ),
        done: u64::from(finished),
        total: 1,
        finished,
        lines: vec![line],
        link: found.pdf.map(|l| {
            (
                l.url,
                lang.pick("Скачать PDF", "Download the PDF").to_owned(),
            )
        }),
        back,
    })
}

// --- Billing staff: customers -------------------------------------------------------------

pub struct CustomerRow {
    pub id: String,
    pub name: String,
    pub tax_id: String,
    pub status: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "customers.html")]
pub struct CustomersPage {
    f: Frame,
    rows: Vec<CustomerRow>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

/// The customer organisations (`GET /v1/organisations`).
pub async fn customers(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<CursorQuery>,
) -> Result<CustomersPage, PageError> {
    let lang = viewer.lang;
    let start = cursor_of(&state, lang, q.cursor.as_deref())?;
    let page = state
        .services
        .accounts()
        .organisations(&viewer.principal, Paging::new(50, start))
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(CustomersPage {
        f: Frame::of(&viewer, "/portal/customers"),
        rows: page
            .items
            .iter()
            .map(|o| CustomerRow {
                id: o.id.to_string(),
                name: o.legal_name.to_string(),
                tax_id: o.tax_id.to_string(),
                status: format!("{:?}", o.status).to_lowercase(),
            })
            .collect(),
        next: next_link(&state, "/portal/customers", page.next),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "customer.html")]
pub struct CustomerPage {
    f: Frame,
    id: String,
    name: String,
    owed: String,
    credit: String,
    dunning: String,
    /// The manager's choice: under the policy, off, or held (until when, why).
    mode: String,
    dunning_rev: u64,
    can_hold: bool,
    can_record: bool,
    currency: String,
    today: String,
    rows: Vec<PaymentRow>,
}

/// One customer for billing staff: balance, dunning, payments, and the forms to record a
/// payment and to hold dunning.
pub async fn customer(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
) -> Result<CustomerPage, PageError> {
    let lang = viewer.lang;
    let org = org_param(lang, Some(&org))?;
    let err = |e| PageError::of(lang, e);
    let caller = &viewer.principal;
    let services = &state.services;
    let balance = services
        .billing()
        .balance(caller, org, None)
        .await
        .map_err(err)?;
    let payments = services.payments().of(caller, org).await.map_err(err)?;
    let dunning = services.dunning().of(caller, org).await.map_err(err)?;
    let role = caller.role();
    Ok(CustomerPage {
        f: Frame::of(&viewer, "/portal/customers"),
        id: balance.org.to_string(),
        name: payments.customer.clone(),
        owed: lang.money(balance.balance),
        credit: lang.money(balance.credit),
        mode: mode_text(lang, &dunning.settings.mode),
        dunning: dunning.explanation,
        dunning_rev: dunning.rev,
        can_hold: matches!(role, Role::Manager | Role::Admin),
        can_record: matches!(role, Role::Accountant | Role::Admin),
        currency: balance.currency.to_string(),
        today: state.today().to_string(),
        rows: payments
            .payments
            .iter()
            .rev()
            .map(|p| PaymentRow::of(p, lang))
            .collect(),
    })
}

fn mode_text(lang: Lang, mode: &kopek_domain::dunning::Mode) -> String {
    use kopek_domain::dunning::Mode;
    match mode {
        Mode::Policy => lang.pick("по политике", "under the policy").to_owned(),
        Mode::Off => lang.pick("выключены", "off").to_owned(),
        Mode::Hold { until, reason, .. } => match (lang, until) {
            (Lang::Ru, Some(d)) => format!("приостановлены до {}: {reason}", lang.date(*d)),
            (Lang::Ru, None) => format!("приостановлены, пока их не включат: {reason}"),
            (Lang::En, Some(d)) => format!("held until {}: {reason}", lang.date(*d)),
            (Lang::En, None) => format!("held until lifted: {reason}"),
        },
    }
}

/// Records a payment from the customer (`POST /v1/billing/payments`).
pub async fn record_payment(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let command = (|| {
        let org: OrgId = org
            .parse()
            .map_err(|_| PageError::of(lang, kopek_services::Error::NotFound))?;
        let bad = |e| PageError::of(lang, e);
        let amount: Decimal = fields
            .parsed::<Decimal>("amount", "an amount, e.g. 1200.00")
            .or_else(|e| {
                fields
                    .get("amount")
                    .map(|a| a.replace(',', ".").replace(' ', ""))
                    .and_then(|a| a.parse().ok())
                    .ok_or(e)
            })
            .map_err(bad)?;
        Ok::<_, PageError>(RecordPaymentCommand {
            org,
            amount,
            currency: fields
                .parsed("currency", "a currency code, e.g. RUB")
                .map_err(bad)?,
            received_on: fields
                .parsed("received_on", "a date as YYYY-MM-DD")
                .map_err(bad)?,
            reference: fields.get("reference").unwrap_or_default(),
        })
    })();
    let command = match command {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let org = command.org;
    let done = state
        .services
        .payments()
        .record(&viewer.principal, command)
        .await;
    then(lang, done, |_| format!("/portal/customers/{org}"))
}

/// Holds a customer's dunning (until a day, with why), turns it off, or puts it back under
/// the policy (`PUT /v1/billing/dunning`).
pub async fn set_dunning(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let Ok(org) = org.parse::<OrgId>() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let mode = match fields.get("mode").as_deref() {
        Some("policy") => ModeCommand::Policy,
        Some("off") => ModeCommand::Off,
        Some("hold") => {
            let until = match date_param(lang, "until", fields.get("until").as_deref()) {
                Ok(u) => u,
                Err(e) => return e.into_response(),
            };
            ModeCommand::Hold {
                until,
                reason: fields.get("reason").unwrap_or_default(),
            }
        }
        _ => {
            return PageError::of(lang, ApiError::validation("mode", "policy, off or hold"))
                .into_response();
        }
    };
    let rev = fields.get("rev").and_then(|r| r.parse().ok()).unwrap_or(0);
    let done = state
        .services
        .dunning()
        .set_mode(&viewer.principal, org, mode, rev)
        .await;
    then(lang, done, |_| format!("/portal/customers/{org}"))
}
