//! The pages. Each handler reads its input, calls the service method the API's handler for
//! the same thing calls — with the same caller, so roles, scopes and organisation scoping
//! are the services' and nothing else's — and renders the result into a template.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kopek_domain::accounts::{Principal, Role};
use kopek_domain::ids::InvoiceId;
use kopek_domain::invoicing::{Invoice, InvoiceStatus};
use kopek_http::ApiError;
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::accounts::SignIn;
use kopek_services::invoices::InvoiceQuery;
use serde::Deserialize;

use crate::i18n::{Lang, Texts};
use crate::session::{
    LANG_COOKIE, NONCE_COOKIE, SESSION_COOKIE, Viewer, cookie, csrf_ok, csrf_token, secure,
    session_cookie, set_cookie,
};

/// What every page's frame shows: the language, the texts, the person signed in (if any)
/// with the menu and the sign-out form's token.
pub struct Frame {
    /// What every link starts with: the stage or mapping in front of `/portal` (see
    /// [`crate::base`]); empty at the root.
    pub base: String,
    pub lang: &'static str,
    pub t: &'static Texts,
    /// Where the language switch leads.
    pub switch: String,
    /// `None` on the sign-in page.
    pub who: Option<String>,
    pub csrf: String,
    /// The menu: link, label, whether it is this page.
    pub menu: Vec<(&'static str, &'static str, bool)>,
}

impl Frame {
    pub(crate) fn of(viewer: &Viewer, here: &str) -> Frame {
        let t = viewer.lang.texts();
        let tr = |ru: &'static str, en: &'static str| viewer.lang.pick(ru, en);
        let role = viewer.principal.role();
        let customer = viewer.principal.org().is_some();
        let billing = matches!(role, Role::Manager | Role::Accountant | Role::Admin);
        let entries: [(&'static str, &'static str, bool); 19] = [
            ("/portal", t.dashboard, true),
            ("/portal/orders", t.orders, customer),
            (
                "/portal/subscriptions",
                tr("Подписки", "Subscriptions"),
                customer,
            ),
            ("/portal/usage", tr("Потребление", "Usage"), customer),
            (
                "/portal/work",
                t.work,
                matches!(role, Role::Engineer | Role::Manager | Role::Admin),
            ),
            ("/portal/periods", tr("Периоды", "Periods"), billing),
            ("/portal/customers", tr("Клиенты", "Customers"), billing),
            (
                "/portal/bank",
                tr("Банк", "Bank"),
                matches!(role, Role::Accountant | Role::Admin),
            ),
            ("/portal/invoices", t.invoices, role != Role::Engineer),
            ("/portal/documents", tr("Документы", "Documents"), customer),
            ("/portal/payments", tr("Платежи", "Payments"), customer),
            ("/portal/statement", tr("Сверка", "Statement"), customer),
            (
                "/portal/admin/catalog",
                tr("Каталог", "Catalog"),
                matches!(role, Role::Manager | Role::Admin),
            ),
            (
                "/portal/admin/staff",
                tr("Сотрудники", "Staff"),
                role == Role::Admin,
            ),
            (
                "/portal/admin/settings",
                tr("Настройки", "Settings"),
                role == Role::Admin,
            ),
            (
                "/portal/admin/templates",
                tr("Шаблоны", "Templates"),
                role == Role::Admin,
            ),
            (
                "/portal/admin/webhooks",
                tr("Вебхуки", "Webhooks"),
                role == Role::Admin,
            ),
            (
                "/portal/audit",
                tr("Журнал", "Audit log"),
                customer || role == Role::Admin,
            ),
            ("/portal/account", tr("Профиль", "Account"), true),
        ];
        let menu = entries
            .into_iter()
            .filter(|(_, _, shown)| *shown)
            .map(|(href, label, _)| {
                let current = if href == "/portal" {
                    here == href
                } else {
                    here.starts_with(href)
                };
                (href, label, current)
            })
            .collect();
        Frame {
            base: crate::base::prefix(),
            lang: viewer.lang.code(),
            t,
            switch: switch_link(viewer.lang, here),
            who: Some(who(&viewer.principal)),
            csrf: viewer.csrf.clone(),
            menu,
        }
    }

    /// The text in the page's language: `{{ f.tr("Счета", "Invoices") }}`.
    pub fn tr<'a>(&self, ru: &'a str, en: &'a str) -> &'a str {
        if self.lang == "ru" { ru } else { en }
    }

    pub(crate) fn anonymous(lang: Lang, here: &str, csrf: String) -> Frame {
        Frame {
            base: crate::base::prefix(),
            lang: lang.code(),
            t: lang.texts(),
            switch: switch_link(lang, here),
            who: None,
            csrf,
            menu: Vec::new(),
        }
    }
}

fn switch_link(lang: Lang, here: &str) -> String {
    format!("/portal/language?to={}&back={here}", lang.other().code())
}

fn who(principal: &Principal) -> String {
    format!("{:?}", principal.role()).to_lowercase()
}

/// A page that could not be shown: the API's status for the same failure, in words.
pub struct PageError {
    pub status: StatusCode,
    pub lang: Lang,
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    f: Frame,
    heading: &'static str,
    detail: String,
}

impl PageError {
    /// The page of the API's answer `e`: its status, and its words with the field they are
    /// about (`quantity: must be greater than zero`).
    pub(crate) fn of(lang: Lang, e: impl Into<ApiError>) -> Self {
        let e = e.into();
        let detail = match &e.field {
            Some(field) if !e.detail.contains(field.as_str()) => format!("{field}: {}", e.detail),
            _ => e.detail,
        };
        Self {
            status: e.status,
            lang,
            detail,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let t = self.lang.texts();
        let heading = match self.status {
            StatusCode::NOT_FOUND => t.not_found,
            StatusCode::FORBIDDEN => t.forbidden,
            s if s.is_client_error() => self
                .lang
                .pick("Проверьте, что введено", "Please check what you entered"),
            _ => t.went_wrong,
        };
        let detail = if self.status.is_server_error() {
            String::new()
        } else {
            self.detail
        };
        let page = ErrorPage {
            f: Frame::anonymous(self.lang, "/portal", String::new()),
            heading,
            detail,
        };
        (self.status, page).into_response()
    }
}

/// A page not found, as a page.
pub async fn not_found(headers: HeaderMap) -> PageError {
    PageError {
        status: StatusCode::NOT_FOUND,
        lang: Lang::of(&headers),
        detail: String::new(),
    }
}

// --- Sign-in, sign-out, language ---------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
struct SignInPage {
    f: Frame,
    email: String,
    error: Option<String>,
}

/// The sign-in form, with a fresh nonce for its CSRF token when the browser has none.
pub async fn sign_in_form(
    headers: HeaderMap,
    extensions: Extensions,
    State(state): State<AppState>,
) -> Response {
    anonymous_page(&state, &headers, &extensions, "/portal/sign-in", |f| {
        SignInPage {
            f,
            email: String::new(),
            error: None,
        }
        .into_response()
    })
}

/// A page of a form for people not signed in: its frame with a CSRF token made from the
/// browser's nonce cookie, set when the browser has none.
pub(crate) fn anonymous_page(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    here: &str,
    page: impl FnOnce(Frame) -> Response,
) -> Response {
    let lang = Lang::of(headers);
    let (nonce, fresh) = nonce_of(headers);
    let mut response = page(Frame::anonymous(
        lang,
        here,
        csrf_token(state, &anon(&nonce)),
    ));
    if fresh {
        response.headers_mut().append(
            SET_COOKIE,
            set_cookie(NONCE_COOKIE, &nonce, Some(3600), secure(extensions)),
        );
    }
    response
}

/// The browser's form nonce, or a fresh one (`true`: to be set as a cookie).
pub(crate) fn nonce_of(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, NONCE_COOKIE) {
        Some(n) if n.len() >= 16 => (n.to_owned(), false),
        _ => (new_nonce(), true),
    }
}

pub(crate) fn new_nonce() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

pub(crate) fn anon(nonce: &str) -> String {
    format!("anon:{nonce}")
}

/// Whether an anonymous form's token matches the browser's nonce cookie.
pub(crate) fn anon_csrf_ok(state: &AppState, headers: &HeaderMap, presented: &str) -> bool {
    cookie(headers, NONCE_COOKIE)
        .is_some_and(|nonce| !nonce.is_empty() && csrf_ok(state, &anon(nonce), presented))
}

/// To the dashboard with the new session's cookie, the form nonce dropped.
pub(crate) fn signed_in(
    state: &AppState,
    session: &kopek_services::accounts::Session,
    secure: bool,
) -> Response {
    let mut response = see_other("/portal");
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        session_cookie(state, &session.user, session.id, secure),
    );
    headers.append(SET_COOKIE, set_cookie(NONCE_COOKIE, "", None, secure));
    response
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// Signs in through the accounts service, as `POST /v1/auth/sign-in` does, and sets the
/// session cookie; a wrong password shows the form again with why.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = Lang::of(&headers);
    if !anon_csrf_ok(&state, &headers, &form.csrf) {
        return csrf_refused(lang);
    }
    let attempt = SignIn {
        email: form.email.clone(),
        password: form.password,
        client: extensions.get::<ClientAddr>().map(|ClientAddr(ip)| *ip),
    };
    match state.services.accounts().sign_in(attempt).await {
        Ok(session) => signed_in(&state, &session, secure(&extensions)),
        Err(e) => {
            let e = ApiError::from(e);
            let t = lang.texts();
            let error = match e.code {
                "invalid_credentials" => t.bad_credentials.to_owned(),
                "too_many_attempts" => t.too_many_attempts.to_owned(),
                _ => e.detail,
            };
            let page = SignInPage {
                f: Frame::anonymous(lang, "/portal/sign-in", form.csrf),
                email: form.email,
                error: Some(error),
            };
            (e.status, page).into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// Ends the session (as `POST /v1/auth/sign-out` does) and drops the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    extensions: Extensions,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !viewer.csrf_ok(&state, &form.csrf) {
        return csrf_refused(viewer.lang);
    }
    if let Err(e) = state.services.accounts().sign_out(&viewer.principal).await {
        return PageError::of(viewer.lang, e).into_response();
    }
    let mut response = see_other("/portal/sign-in");
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", None, secure(&extensions)),
    );
    response
}

#[derive(Deserialize)]
pub struct LanguageQuery {
    to: String,
    back: Option<String>,
}

/// Switches the language (a cookie for a year) and goes back to the page it came from.
pub async fn language(extensions: Extensions, Query(q): Query<LanguageQuery>) -> Response {
    let Some(lang) = Lang::parse(&q.to) else {
        return see_other("/portal");
    };
    // Only back into the portal: never an open redirect.
    let back = q
        .back
        .filter(|b| b.starts_with("/portal") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/portal".to_owned());
    let mut response = see_other(&back);
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(
            LANG_COOKIE,
            lang.code(),
            Some(365 * 24 * 3600),
            secure(&extensions),
        ),
    );
    response
}

/// To `to`: a portal path (`/portal/…`, given the request's base path) or a link elsewhere
/// (a presigned download).
pub(crate) fn see_other(to: &str) -> Response {
    let to = if to.starts_with("/portal") {
        crate::base::url(to)
    } else {
        to.to_owned()
    };
    (
        StatusCode::SEE_OTHER,
        [(
            LOCATION,
            HeaderValue::from_str(&to).unwrap_or(HeaderValue::from_static("/portal")),
        )],
    )
        .into_response()
}

pub(crate) fn csrf_refused(lang: Lang) -> Response {
    PageError {
        status: StatusCode::FORBIDDEN,
        lang,
        detail: match lang {
            Lang::Ru => "Форма устарела или отправлена не с этой страницы. Обновите страницу и попробуйте ещё раз.".into(),
            Lang::En => "The form has expired or was not sent from this page. Reload the page and try again.".into(),
        },
    }
    .into_response()
}

// --- The dashboard ------------------------------------------------------------------------

/// An invoice as a row of a list.
pub struct InvoiceRow {
    pub id: String,
    pub number: String,
    pub period: String,
    pub issued_on: String,
    pub due_on: String,
    pub gross: String,
    pub open: String,
    pub status: &'static str,
    /// A CSS class for the status.
    pub tone: &'static str,
}

impl InvoiceRow {
    fn of(invoice: &Invoice, lang: Lang, today: chrono::NaiveDate) -> Self {
        let status = invoice.status_on(today);
        Self {
            id: invoice.id.to_string(),
            number: invoice.number.to_string(),
            period: invoice.draft.period.to_string(),
            issued_on: lang.date(invoice.issued_on),
            due_on: lang.date(invoice.due_on),
            gross: lang.money(invoice.draft.gross),
            open: lang.money(invoice.open_amount()),
            status: lang.texts().status(status),
            tone: match status {
                InvoiceStatus::Overdue => "bad",
                InvoiceStatus::Paid | InvoiceStatus::Void => "good",
                _ => "",
            },
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
pub struct Dashboard {
    f: Frame,
    customer: Option<CustomerSummary>,
}

struct CustomerSummary {
    name: String,
    owed: String,
    credit: String,
    overdue: String,
    open: Vec<InvoiceRow>,
    dunning: Option<String>,
    /// Order lines placed and not yet done, failed or cancelled.
    in_progress: usize,
    /// This period's usage so far, estimated with tax.
    usage: String,
}

/// The dashboard: for a customer its balance, credit, open and overdue invoices and where it
/// stands in dunning; for staff, their workplace.
pub async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Dashboard, PageError> {
    let lang = viewer.lang;
    let caller = &viewer.principal;
    let customer = match caller.org() {
        None => None,
        Some(_) => {
            let err = |e| PageError::of(lang, e);
            let services = &state.services;
            let me = services.accounts().me(caller).await.map_err(err)?;
            let balance = services
                .billing()
                .balance(caller, None, None)
                .await
                .map_err(err)?;
            let today = state.today();
            let invoices = services
                .invoices()
                .list(
                    caller,
                    InvoiceQuery {
                        period: None,
                        org: None,
                        status: None,
                        paging: Paging::new(100, None),
                    },
                )
                .await
                .map_err(err)?;
            let open: Vec<&Invoice> = invoices
                .items
                .iter()
                .map(|i| &i.item)
                .filter(|i| {
                    matches!(
                        i.status_on(today),
                        InvoiceStatus::Issued | InvoiceStatus::PartlyPaid | InvoiceStatus::Overdue
                    )
                })
                .collect();
            let overdue = kopek_domain::money::Money::checked_sum(
                balance.currency,
                open.iter()
                    .filter(|i| i.status_on(today) == InvoiceStatus::Overdue)
                    .map(|i| i.open_amount()),
            )
            .map_err(|e| PageError::of(lang, kopek_services::Error::internal(e)))?;
            let dunning = services.dunning().of(caller, None).await.map_err(err)?;
            let orders = services
                .orders()
                .list(caller, Paging::new(100, None))
                .await
                .map_err(err)?;
            let in_progress = orders
                .items
                .iter()
                .flat_map(|o| &o.lines)
                .filter(|l| {
                    use kopek_domain::orders::Status;
                    matches!(
                        l.line.state.status(),
                        Status::Placed | Status::Accepted | Status::InProgress
                    )
                })
                .count();
            let usage = services
                .usage()
                .of_period(
                    caller,
                    kopek_services::usage::UsageQuery {
                        org: None,
                        period: state.current_period(),
                    },
                )
                .await
                .map_err(err)?;
            let owed = if balance.balance.is_negative() {
                kopek_domain::money::Money::zero(balance.currency)
            } else {
                balance.balance
            };
            Some(CustomerSummary {
                name: me
                    .organisation
                    .map(|o| o.legal_name.to_string())
                    .unwrap_or_default(),
                owed: lang.money(owed),
                credit: lang.money(balance.credit),
                overdue: lang.money(overdue),
                open: open
                    .iter()
                    .map(|i| InvoiceRow::of(i, lang, today))
                    .collect(),
                dunning: dunning
                    .state
                    .episode
                    .is_some()
                    .then_some(dunning.explanation),
                in_progress,
                usage: lang.money(usage.estimated_total_with_tax),
            })
        }
    };
    Ok(Dashboard {
        f: Frame::of(&viewer, "/portal"),
        customer,
    })
}

// --- Invoices ----------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "invoices.html")]
pub struct InvoicesPage {
    f: Frame,
    rows: Vec<InvoiceRow>,
    /// The next page's link.
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

/// A customer's invoices, newest first (`GET /v1/invoices`'s service).
pub async fn invoices(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<InvoicesPage, PageError> {
    let lang = viewer.lang;
    let start = cursor_of(&state, lang, q.cursor.as_deref())?;
    let page = state
        .services
        .invoices()
        .list(
            &viewer.principal,
            InvoiceQuery {
                period: None,
                org: None,
                status: None,
                paging: Paging::new(50, start),
            },
        )
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let today = state.today();
    Ok(InvoicesPage {
        f: Frame::of(&viewer, "/portal/invoices"),
        rows: page
            .items
            .iter()
            .map(|i| InvoiceRow::of(&i.item, lang, today))
            .collect(),
        next: next_link(&state, "/portal/invoices", page.next),
    })
}

/// A list's `?cursor=`: where its page starts (a cursor not ours is a bad request).
pub(crate) fn cursor_of(
    state: &AppState,
    lang: Lang,
    cursor: Option<&str>,
) -> Result<Option<kopek_services::PageKey>, PageError> {
    cursor
        .map(|c| state.cursors.decode(c))
        .transpose()
        .map_err(|e| PageError::of(lang, e))
}

/// The link to a list's next page, if there is one.
pub(crate) fn next_link(
    state: &AppState,
    list: &str,
    next: Option<kopek_services::PageKey>,
) -> Option<String> {
    next.map(|k| format!("{list}?cursor={}", state.cursors.encode(&k)))
}

#[derive(Template, WebTemplate)]
#[template(path = "invoice.html")]
pub struct InvoicePage {
    f: Frame,
    row: InvoiceRow,
    customer: String,
    lines: Vec<LineRow>,
    net: String,
    tax: String,
    gross: String,
    paid: String,
    /// What credit notes took back, when they did.
    credited: Option<String>,
}

struct LineRow {
    no: u16,
    service: String,
    quantity: String,
    net: String,
    tax: String,
    gross: String,
}

/// One invoice with its lines (`GET /v1/invoices/{id}`'s service): another organisation's is
/// not found, as in the API.
pub async fn invoice(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<InvoicePage, PageError> {
    let lang = viewer.lang;
    let not_found = || PageError::of(lang, kopek_services::Error::NotFound);
    let id: InvoiceId = id.parse().map_err(|_| not_found())?;
    let found = state
        .services
        .invoices()
        .get(&viewer.principal, id)
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let invoice = &found.invoice;
    let draft = &invoice.draft;
    let lines = draft
        .lines
        .iter()
        .map(|l| LineRow {
            no: l.no,
            service: match lang {
                Lang::Ru => l.description.ru().to_owned(),
                Lang::En => l.description.en().to_owned(),
            },
            quantity: l.quantity.normalize().to_string(),
            net: lang.money(l.net),
            tax: lang.money(l.tax),
            gross: lang.money(l.gross),
        })
        .collect();
    Ok(InvoicePage {
        f: Frame::of(&viewer, "/portal/invoices"),
        row: InvoiceRow::of(invoice, lang, state.today()),
        customer: found.customer.clone().unwrap_or_default(),
        lines,
        net: lang.money(draft.net),
        tax: lang.money(draft.tax),
        gross: lang.money(draft.gross),
        paid: lang.money(invoice.paid),
        credited: (!invoice.credited.is_zero()).then(|| lang.money(invoice.credited)),
    })
}
