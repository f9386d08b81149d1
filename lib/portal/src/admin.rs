//! The provider's own set-up in the portal. Managers and admins: the catalog — every
//! service with its price now and the next one, a new service (priced per unit; other price
//! models through the API), a new price version from a date, retiring. Admins: the staff
//! (inviting one with a role, by mail), the billing settings and the provider's requisites.
//! Each form is read as the JSON body of the API's route for the same thing
//! ([`crate::form::Fields::read_as`]), so a refusal names the same field the API would.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use kopek_domain::catalog::{NewService, ServiceCode, ServiceStatus};
use kopek_domain::documents::SheetKind;
use kopek_domain::documents::template::TemplateStatus;
use kopek_domain::invoicing::{RequisitesForm, TaxMode, ZeroInvoicePolicy};
use kopek_domain::pricing::Quantity;
use kopek_http::ApiError;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::accounts::Invite;
use kopek_services::billing::{SaveRequisites, SaveSettings};
use kopek_services::catalog::AddPrice;
use rust_decimal::Decimal;

use crate::form::{Fields, Posted, then, uploaded_file};
use crate::i18n::Lang;
use crate::pages::{Frame, PageError};
use crate::session::Viewer;

/// The units a service may be counted in, as the API writes them.
const UNITS: [&str; 14] = [
    "piece",
    "hour",
    "day",
    "month",
    "gigabyte",
    "megabyte",
    "terabyte",
    "mbps",
    "request",
    "kilowatt_hour",
    "kilogram",
    "delivery",
    "visit",
    "amount",
];

pub struct ServiceRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub unit: String,
    pub price: String,
    pub next: Option<String>,
    pub active: bool,
    pub currency: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_catalog.html")]
pub struct CatalogAdminPage {
    f: Frame,
    rows: Vec<ServiceRow>,
    units: &'static [&'static str],
}

fn price_of_one(version: &kopek_domain::catalog::PriceVersion, lang: Lang) -> String {
    Quantity::new(Decimal::ONE)
        .ok()
        .and_then(|one| version.price.quote(one).ok())
        .map(|q| lang.money(q.total()))
        .unwrap_or_default()
}

/// Every service, active and retired, with the forms to add one, price one anew, retire one.
pub async fn catalog(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<CatalogAdminPage, PageError> {
    let lang = viewer.lang;
    let catalog = state.services.catalog();
    let mut rows = Vec::new();
    for status in [ServiceStatus::Active, ServiceStatus::Retired] {
        let page = catalog
            .list(Some(&viewer.principal), status, Paging::new(100, None))
            .await
            .map_err(|e| PageError::of(lang, e))?;
        rows.extend(page.items.iter().map(|o| {
            ServiceRow {
                code: o.service.code().to_string(),
                name: match lang {
                    Lang::Ru => o.service.name().ru().to_owned(),
                    Lang::En => o.service.name().en().to_owned(),
                },
                kind: kopek_services::work::wire_name(&o.service.kind()),
                unit: kopek_services::work::wire_name(&o.service.unit()),
                price: o
                    .current
                    .as_ref()
                    .map(|v| price_of_one(v, lang))
                    .unwrap_or_default(),
                next: o.next.as_ref().map(|v| {
                    format!(
                        "{} {} {}",
                        price_of_one(v, lang),
                        lang.pick("с", "from"),
                        lang.date(v.effective_from.date_naive())
                    )
                }),
                active: status == ServiceStatus::Active,
                currency: o.service.currency().to_string(),
            }
        }));
    }
    Ok(CatalogAdminPage {
        f: Frame::of(&viewer, "/portal/admin/catalog"),
        rows,
        units: &UNITS,
    })
}

/// The form's price (`price.model.unit_price` per unit) in the form's `currency`.
fn with_price(fields: &Fields) -> Fields {
    let currency = fields.get("currency").unwrap_or_default();
    let mut all = fields.0.clone();
    all.push(("price.currency".into(), currency));
    all.push(("price.model.type".into(), "per_unit".into()));
    Fields(all)
}

/// Creates a service (`POST /v1/catalog/services`).
pub async fn create(State(state): State<AppState>, Posted { viewer, fields }: Posted) -> Response {
    let lang = viewer.lang;
    let new: NewService = match with_price(&fields).read_as(&[]) {
        Ok(n) => n,
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    let done = state
        .services
        .catalog()
        .create(&viewer.principal, new)
        .await;
    then(lang, done, |_| "/portal/admin/catalog".to_owned())
}

/// A new price version of a service from a date (`POST /v1/catalog/services/{code}/prices`),
/// or retiring it (`…/retire`).
pub async fn change(
    State(state): State<AppState>,
    Path((code, action)): Path<(String, String)>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let Ok(code) = code.parse::<ServiceCode>() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let catalog = state.services.catalog();
    let back = "/portal/admin/catalog";
    match action.as_str() {
        "retire" => then(lang, catalog.retire(&viewer.principal, &code).await, |_| {
            back.to_owned()
        }),
        "prices" => {
            let command = (|| {
                let price =
                    with_price(&fields).read_as::<serde_json::Value>(&["effective_from"])?;
                let price =
                    serde_json::to_vec(&price["price"]).map_err(|e| ApiError::internal(&e))?;
                let price = kopek_http::json::parse_json(&price).map_err(|mut e: ApiError| {
                    e.field = Some(format!("price.{}", e.field.unwrap_or_default()));
                    e
                })?;
                let effective_from = fields
                    .filled("effective_from")
                    .map(|d| {
                        d.parse::<chrono::NaiveDate>()
                            .ok()
                            .map(|d| state.calendar().start_of(d))
                            .ok_or_else(|| {
                                ApiError::validation("effective_from", "a date as YYYY-MM-DD")
                            })
                    })
                    .transpose()?;
                Ok::<_, ApiError>(AddPrice {
                    price,
                    effective_from,
                })
            })();
            match command {
                Ok(c) => then(
                    lang,
                    catalog.add_price(&viewer.principal, &code, c).await,
                    |_| back.to_owned(),
                ),
                Err(e) => PageError::of(lang, e).into_response(),
            }
        }
        _ => PageError::of(lang, kopek_services::Error::NotFound).into_response(),
    }
}

// --- Staff ---------------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "admin_staff.html")]
pub struct StaffPage {
    f: Frame,
    rows: Vec<(String, String, String, String)>,
}

/// The provider's staff (admins), with the form to invite one.
pub async fn staff(State(state): State<AppState>, viewer: Viewer) -> Result<StaffPage, PageError> {
    let lang = viewer.lang;
    let page = state
        .services
        .accounts()
        .staff(&viewer.principal, Paging::new(100, None))
        .await
        .map_err(|e| PageError::of(lang, e))?;
    Ok(StaffPage {
        f: Frame::of(&viewer, "/portal/admin/staff"),
        rows: page
            .items
            .iter()
            .map(|u| {
                (
                    u.name().to_string(),
                    u.email().to_string(),
                    format!("{:?}", u.role()).to_lowercase(),
                    format!("{:?}", u.status()).to_lowercase(),
                )
            })
            .collect(),
    })
}

/// Invites a member of staff with a role (`POST /v1/staff-users`); the link goes by mail.
pub async fn invite_staff(
    State(state): State<AppState>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let role = match fields.parsed("role", "engineer, manager, accountant or admin") {
        Ok(r) => r,
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    let done = state
        .services
        .accounts()
        .invite_staff(
            &viewer.principal,
            role,
            Invite {
                name: fields.get("name").unwrap_or_default(),
                email: fields.get("email").unwrap_or_default(),
            },
        )
        .await;
    then(lang, done, |_| "/portal/admin/staff".to_owned())
}

// --- Billing settings and requisites ---------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "admin_settings.html")]
pub struct SettingsPage {
    f: Frame,
    series: String,
    series_count: u8,
    terms: u16,
    inclusive: bool,
    issue_zero: bool,
    accounts: String,
    rev: u64,
    /// The requisites' fields: name, label, value as saved (empty while never saved).
    requisites: Vec<(&'static str, &'static str, String)>,
    vat_payer: bool,
    r_rev: u64,
}

/// The requisites' text fields as the form names them, with their labels.
const REQUISITES: [(&str, &str, &str); 19] = [
    (
        "legal_name.ru",
        "Наименование (рус.)",
        "Legal name (Russian)",
    ),
    (
        "legal_name.en",
        "Наименование (англ.)",
        "Legal name (English)",
    ),
    ("tax_id", "ИНН", "Tax id (INN)"),
    ("kpp", "КПП (для юрлица)", "KPP (legal entities)"),
    ("address.ru", "Адрес (рус.)", "Address (Russian)"),
    ("address.en", "Адрес (англ.)", "Address (English)"),
    ("bank.bank_name.ru", "Банк (рус.)", "Bank (Russian)"),
    ("bank.bank_name.en", "Банк (англ.)", "Bank (English)"),
    ("bank.bic", "БИК", "BIC"),
    ("bank.account", "Расчётный счёт", "Settlement account"),
    (
        "bank.correspondent_account",
        "Корр. счёт",
        "Correspondent account",
    ),
    (
        "director.name.ru",
        "Руководитель (рус.)",
        "Director (Russian)",
    ),
    (
        "director.name.en",
        "Руководитель (англ.)",
        "Director (English)",
    ),
    (
        "director.position.ru",
        "Должность (рус.)",
        "Position (Russian)",
    ),
    (
        "director.position.en",
        "Должность (англ.)",
        "Position (English)",
    ),
    (
        "chief_accountant.name.ru",
        "Главный бухгалтер (рус.)",
        "Chief accountant (Russian)",
    ),
    (
        "chief_accountant.name.en",
        "Главный бухгалтер (англ.)",
        "Chief accountant (English)",
    ),
    (
        "chief_accountant.position.ru",
        "Его должность (рус.)",
        "Their position (Russian)",
    ),
    (
        "chief_accountant.position.en",
        "Его должность (англ.)",
        "Their position (English)",
    ),
];

/// The billing settings and the provider's requisites, each a form.
pub async fn settings(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<SettingsPage, PageError> {
    let lang = viewer.lang;
    let err = |e| PageError::of(lang, e);
    let billing = state.services.billing();
    let read = billing.settings(&viewer.principal).await.map_err(err)?;
    let requisites = billing.requisites(&viewer.principal).await.map_err(err)?;
    let s = &read.settings;
    let saved = requisites
        .requisites
        .as_ref()
        .and_then(|r| serde_json::to_value(r.form()).ok())
        .unwrap_or_default();
    let value = |name: &str| {
        let pointer = format!("/{}", name.replace('.', "/"));
        saved
            .pointer(&pointer)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    Ok(SettingsPage {
        f: Frame::of(&viewer, "/portal/admin/settings"),
        series: s.series.as_str().to_owned(),
        series_count: s.series_count.get(),
        terms: s.payment_terms_days,
        inclusive: s.tax_mode == TaxMode::Inclusive,
        issue_zero: s.zero_invoices == ZeroInvoicePolicy::Issue,
        accounts: s.bank_accounts.join("\n"),
        rev: read.rev,
        requisites: REQUISITES
            .iter()
            .map(|(name, ru, en)| (*name, lang.pick(ru, en), value(name)))
            .collect(),
        vat_payer: saved
            .pointer("/vat_payer")
            .and_then(|v| v.as_bool())
            .unwrap_or(true),
        r_rev: requisites.rev,
    })
}

/// Saves the billing settings (`PUT /v1/billing/settings`) over the revision read.
pub async fn save_settings(
    State(state): State<AppState>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let command = (|| {
        Ok::<_, ApiError>(SaveSettings {
            series: fields.get("series").unwrap_or_default(),
            series_count: match fields.filled("series_count") {
                Some(_) => fields.parsed("series_count", "1 to 99 series")?,
                None => 1,
            },
            tax_mode: if fields.get("tax_mode").as_deref() == Some("inclusive") {
                TaxMode::Inclusive
            } else {
                TaxMode::Exclusive
            },
            zero_invoices: if fields.get("zero_invoices").as_deref() == Some("issue") {
                ZeroInvoicePolicy::Issue
            } else {
                ZeroInvoicePolicy::Skip
            },
            payment_terms_days: fields.parsed("payment_terms_days", "days, e.g. 14")?,
            bank_accounts: fields
                .get("bank_accounts")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            rev: fields.get("rev").and_then(|r| r.parse().ok()),
        })
    })();
    let command = match command {
        Ok(c) => c,
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    let done = state
        .services
        .billing()
        .save_settings(&viewer.principal, command)
        .await;
    then(lang, done, |_| "/portal/admin/settings".to_owned())
}

/// Saves the provider's requisites (`PUT /v1/billing/requisites`) over the revision read.
pub async fn save_requisites(
    State(state): State<AppState>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let form: RequisitesForm = match fields.read_as(&["rev"]) {
        Ok(f) => f,
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    let done = state
        .services
        .billing()
        .save_requisites(
            &viewer.principal,
            SaveRequisites {
                requisites: form,
                rev: fields.get("rev").and_then(|r| r.parse().ok()),
            },
        )
        .await;
    then(lang, done, |_| "/portal/admin/settings".to_owned())
}

// --- Document templates --------------------------------------------------------------------

pub struct TemplateRow {
    pub kind: &'static str,
    pub name: &'static str,
    /// The active upload's SHA-256 and when it was accepted; `None`: the built-in template.
    pub active: Option<(String, String)>,
}

fn sheet_name(lang: Lang, kind: SheetKind) -> &'static str {
    match kind {
        SheetKind::Invoice => lang.pick("Счёт на оплату", "Invoice for payment"),
        SheetKind::Act => lang.pick("Акт оказанных услуг", "Act of services rendered"),
        SheetKind::CreditNote => lang.pick("Корректировка", "Credit note"),
        SheetKind::Upd => lang.pick("УПД (печатная форма)", "UPD (print form)"),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_templates.html")]
pub struct TemplatesPage {
    f: Frame,
    rows: Vec<TemplateRow>,
}

/// Each kind of document with its template: the provider's own (accepted) or the built-in.
pub async fn templates(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<TemplatesPage, PageError> {
    let lang = viewer.lang;
    let documents = state.services.documents();
    let mut rows = Vec::new();
    for kind in SheetKind::ALL {
        let active = documents
            .active_template(&viewer.principal, kind)
            .await
            .map_err(|e| PageError::of(lang, e))?;
        rows.push(TemplateRow {
            kind: kind.as_str(),
            name: sheet_name(lang, kind),
            active: active.map(|a| (a.sha256, lang.date(a.accepted_at.date_naive()))),
        });
    }
    Ok(TemplatesPage {
        f: Frame::of(&viewer, "/portal/admin/templates"),
        rows,
    })
}

fn sheet_kind(lang: Lang, kind: &str) -> Result<SheetKind, PageError> {
    kind.parse()
        .map_err(|_| PageError::of(lang, kopek_services::Error::NotFound))
}

/// Uploads a Typst template of a kind (`PUT /v1/billing/templates/{kind}`): checked against
/// samples by the documents function, followed on its own page.
pub async fn upload_template(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    viewer: Viewer,
    multipart: Multipart,
) -> Response {
    let lang = viewer.lang;
    let kind = match sheet_kind(lang, &kind) {
        Ok(k) => k,
        Err(refused) => return refused.into_response(),
    };
    let (_, bytes) = match uploaded_file(&state, &viewer, multipart).await {
        Ok(file) => file,
        Err(refused) => return refused,
    };
    let Ok(source) = String::from_utf8(bytes) else {
        let e = ApiError::validation("file", "a Typst source in UTF-8");
        return PageError::of(lang, e).into_response();
    };
    let done = state
        .services
        .documents()
        .upload_template(&viewer.principal, kind, source)
        .await;
    then(lang, done, |t| {
        format!("/portal/admin/templates/{}/{}", t.kind.as_str(), t.sha256)
    })
}

/// Goes back to the built-in template of a kind (`DELETE /v1/billing/templates/{kind}`).
pub async fn remove_template(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    Posted { viewer, .. }: Posted,
) -> Response {
    let lang = viewer.lang;
    let kind = match sheet_kind(lang, &kind) {
        Ok(k) => k,
        Err(refused) => return refused.into_response(),
    };
    let done = state
        .services
        .documents()
        .remove_template(&viewer.principal, kind)
        .await;
    then(lang, done, |_| "/portal/admin/templates".to_owned())
}

/// An upload and its check: the page reloads itself while the documents function compiles
/// it against the samples, then says whether the kind's documents use it, or why not.
pub async fn template(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((kind, sha256)): Path<(String, String)>,
) -> Result<crate::documents::ProgressPage, Response> {
    let lang = viewer.lang;
    let kind = sheet_kind(lang, &kind).map_err(IntoResponse::into_response)?;
    let t = state
        .services
        .documents()
        .template(&viewer.principal, kind, &sha256)
        .await
        .map_err(|e| PageError::of(lang, e).into_response())?;
    let (finished, line) = match t.status {
        TemplateStatus::Checking => (
            false,
            lang.pick("Проверяется…", "Being checked…").to_owned(),
        ),
        TemplateStatus::Accepted => (
            true,
            lang.pick(
                "Принят: документы этого вида теперь делаются по нему.",
                "Accepted: documents of this kind are made with it now.",
            )
            .to_owned(),
        ),
        TemplateStatus::Refused => (
            true,
            format!(
                "{}: {}",
                lang.pick("Отклонён", "Refused"),
                t.error.map(|e| e.to_string()).unwrap_or_default()
            ),
        ),
    };
    Ok(crate::documents::ProgressPage {
        f: Frame::of(&viewer, "/portal/admin/templates"),
        heading: format!(
            "{} · {}",
            sheet_name(lang, kind),
            &sha256[..sha256.len().min(12)]
        ),
        done: u64::from(finished),
        total: 1,
        finished,
        lines: vec![line],
        link: None,
        back: "/portal/admin/templates".to_owned(),
    })
}
