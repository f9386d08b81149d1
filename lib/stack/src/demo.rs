//! Demo data for the local stack, loaded through the HTTP API itself (the same router the
//! Lambda functions run), so the demo exercises exactly the code paths a client does.
//!
//! - the first admin, created the way the setup step creates it in AWS
//!   ([`kopek_services::accounts::Accounts::bootstrap_admin`]), and an engineer, a manager
//!   and an accountant it invites;
//! - the catalog in `lib/stack/demo/catalog.json`: every kind of service and every price
//!   model, one scheduled price change and one retired service;
//! - two customer organisations, each with its owner and an invited colleague;
//! - a month of metered usage for both ([`load_usage`]), sent through the real `UsageQueue`
//!   and counted by the same ingestion the `usage-ingest` function runs;
//! - all of that dated last month ([`history_clock`]), and last month closed into invoices
//!   ([`close_period`]) through the real `CloseQueue` fan-out; then this month's usage.
//!
//! Every password is generated on each start and printed once; none is written in code.

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use chrono::{DateTime, TimeDelta, Utc};
use http_body_util::BodyExt;
use kopek_domain::accounts::Principal;
use kopek_domain::calendar::Calendar;
use kopek_domain::clock::FixedClock;
use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_domain::usage::{RawQuantity, RawUsageEvent};
use kopek_events::usage::poller::Poller;
use kopek_http::layers::ClientAddr;
use kopek_http::state::AppState;
use kopek_services::accounts::NewAdmin;
use kopek_services::close::Trigger;
use kopek_services::usage::AddExternalRefCommand;
use kopek_services::usage::ingest::BatchReport;
use rand::distributions::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use tower::ServiceExt;

const CATALOG: &str = include_str!("../demo/catalog.json");

/// Someone who can sign in to the demo.
#[derive(Debug, Clone)]
pub struct Login {
    pub role: &'static str,
    pub organisation: Option<String>,
    pub email: String,
    pub password: String,
}

/// What the demo created.
#[derive(Debug, Default)]
pub struct Demo {
    /// The first admin, as the services know a caller.
    pub admin: Option<Principal>,
    pub logins: Vec<Login>,
    pub services: Vec<String>,
    pub organisations: Vec<(String, String)>,
    /// Orders placed, subscriptions started, and the batch the engineer completed.
    pub orders: usize,
    pub subscriptions: usize,
    pub completed_batch: Option<String>,
    pub usage: UsageDemo,
    /// The period the demo closed and the invoices it issued.
    pub closed: Option<ClosedDemo>,
    /// The demo manager's signing of the closed period's documents.
    pub signing: Option<Value>,
}

/// What the demo's period close issued.
#[derive(Debug, Default)]
pub struct ClosedDemo {
    pub period: String,
    /// `(number, organisation, gross, paid)` of each invoice.
    pub invoices: Vec<(String, String, String, String)>,
}

/// What the first demo customer paid in advance.
pub const PREPAYMENT: &str = "20000.00";

/// When the demo's history happens: the 10th of last month, 09:00 in the provider's
/// calendar. The demo is loaded at that instant so that last month has orders, work,
/// subscriptions and usage, and closes into invoices while the current month stays open.
pub fn history_clock(now: DateTime<Utc>, calendar: Calendar) -> FixedClock {
    let last_month = calendar.period_of(now).previous();
    let tenth = last_month.first_day() + TimeDelta::days(9);
    FixedClock::at(calendar.start_of(tenth) + TimeDelta::hours(9))
}

/// Closes `period` through the close's own queue, as the scheduler and the worker function
/// would, and reads back the invoices it issued.
pub async fn close_period(
    state: &AppState,
    admin: &Principal,
    period: BillingPeriod,
    organisations: &[(String, String)],
) -> anyhow::Result<ClosedDemo> {
    // Locally the usage is ingested before the close starts: nothing is in flight.
    let closer = state
        .services
        .clone()
        .with_settings(|s| s.close_seal_wait = std::time::Duration::ZERO)
        .closer();
    closer.start(period, Trigger::Admin("demo".into())).await?;
    kopek_events::close::poller::drain(&closer, 1).await?;
    let mut closed = ClosedDemo {
        period: period.to_string(),
        ..ClosedDemo::default()
    };
    for (id, name) in organisations {
        let org: OrgId = id
            .parse()
            .with_context(|| format!("organisation id {id}"))?;
        if let Ok(found) = state
            .services
            .invoices()
            .of_period(admin, Some(org), period)
            .await
        {
            let invoice = found.invoice;
            closed.invoices.push((
                invoice.number.to_string(),
                name.clone(),
                invoice.draft.gross.to_string(),
                invoice.paid.to_string(),
            ));
        }
    }
    Ok(closed)
}

/// The provider's requisites the demo (and the documents benchmark) sets, as its closing
/// documents print them.
pub fn provider_requisites() -> Value {
    json!({
            "legal_name": {"ru": "ООО «Копек Сервис»", "en": "Kopek Service LLC"},
            "tax_id": "7708123450",
            "kpp": "770801001",
            "address": {"ru": "101000, Москва, ул. Мясницкая, д. 1, офис 5",
                        "en": "Office 5, 1 Myasnitskaya St, Moscow 101000, Russia"},
            "bank": {"bank_name": {"ru": "ПАО Сбербанк", "en": "Sberbank"}, "bic": "044525225",
                     "account": "40702810938000000001",
                     "correspondent_account": "30101810400000000225"},
            "director": {"name": {"ru": "Смирнов А. В.", "en": "A. Smirnov"},
                         "position": {"ru": "Генеральный директор", "en": "General Director"}},
            "chief_accountant": {"name": {"ru": "Кузнецова Е. П.", "en": "E. Kuznetsova"},
                                 "position": {"ru": "Главный бухгалтер", "en": "Chief Accountant"}},
            "vat_payer": true
    })
}

/// Makes the documents of what the demo closed as AWS does — the outbox relayed (what
/// `outbox-relay` does every minute), then `DocumentsQueue` drained through the documents
/// service (what `documents` does) — has the demo manager sign them all in one action through
/// the API, the signing's steps drained the same way, and send them: one package per
/// customer, e-mailed — and the period's archive built. Returns the signing's view, with the
/// archive's id under `archive_id`.
pub async fn make_and_sign_documents(
    state: &AppState,
    router: &Router,
    demo: &Demo,
    period: BillingPeriod,
) -> anyhow::Result<Value> {
    state.services.outbox().relay(100).await?;
    let queue = state
        .services
        .documents_queue()
        .context("no function of the template has KOPEK_DOCUMENTS_QUEUE_URL")?;
    let documents = state.services.documents();
    let made = kopek_events::documents::drain(&documents, queue, 1, Some(1)).await?;
    anyhow::ensure!(made.failed == 0, "a document job failed (see the log)");
    let manager = demo
        .logins
        .iter()
        .find(|l| l.role == "manager")
        .context("the demo has a manager")?;
    let api = Api { router };
    let session = api
        .post(
            "/v1/auth/sign-in",
            None,
            &json!({"email": manager.email, "password": manager.password}),
        )
        .await?;
    let token = str_at(&session, "/access_token")?.to_owned();
    let started = api
        .post(
            &format!("/v1/periods/{period}/signings"),
            Some(&token),
            &json!({}),
        )
        .await?;
    let signed = kopek_events::documents::drain(&documents, queue, 1, Some(1)).await?;
    anyhow::ensure!(signed.failed == 0, "a signing step failed (see the log)");
    let signing = api
        .call(
            Method::GET,
            &format!("/v1/signings/{}", str_at(&started, "/id")?),
            Some(&token),
            None,
        )
        .await?;
    // Signed: one package per customer goes out, each customer's billing e-mail notified.
    api.post(
        &format!("/v1/periods/{period}/packages"),
        Some(&token),
        &json!({}),
    )
    .await?;
    let sent = kopek_events::documents::drain(&documents, queue, 1, Some(1)).await?;
    anyhow::ensure!(sent.failed == 0, "a package step failed (see the log)");
    // And the period's archive for the accountants.
    let archive = api
        .post(
            &format!("/v1/periods/{period}/archives"),
            Some(&token),
            &json!({}),
        )
        .await?;
    let built = kopek_events::documents::drain(&documents, queue, 1, Some(1)).await?;
    anyhow::ensure!(built.failed == 0, "the archive failed (see the log)");
    let mut signing = signing;
    signing["archive_id"] = archive["id"].clone();
    Ok(signing)
}

/// The usage the demo sent and what ingestion made of it.
#[derive(Debug, Default)]
pub struct UsageDemo {
    pub events: usize,
    pub messages: usize,
    pub report: BatchReport,
}

/// The demo's metered services and the quantity of one event of each: `(low, high, scale)`
/// is a random decimal from `low`·10⁻ˢᶜᵃˡᵉ to `high`·10⁻ˢᶜᵃˡᵉ.
const METERS: [(&str, (i64, i64, u32)); 6] = [
    ("TRAFFIC", (50, 4_000, 2)),                    // 0.50–40.00 GB
    ("BACKUP-STORAGE", (10, 200, 1)),               // 1.0–20.0 GB
    ("SMS", (1, 60, 0)),                            // whole messages
    ("API-CALLS", (100, 2_500, 0)),                 // whole requests
    ("COLO-POWER", (50, 400, 1)),                   // 5.0–40.0 kWh
    ("PAYMENT-COLLECTION", (50_000, 2_500_000, 2)), // 500.00–25,000.00 RUB collected
];
/// Events per organisation and meter.
const EVENTS_PER_METER: usize = 25;
/// Events a producer sends at once.
const EVENTS_PER_SEND: usize = 50;
/// The external reference the first demo organisation is known by in "the CRM".
pub const EXTERNAL_REF: &str = "crm:romashka";

/// A client of the in-process router.
struct Api<'a> {
    router: &'a Router,
}

impl Api<'_> {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let content = body
            .map(|b| Ok::<_, anyhow::Error>(("application/json", serde_json::to_vec(b)?)))
            .transpose()?;
        self.send(method, path, token, content).await
    }

    /// Sends a request with an optional body of its content type; the answer's JSON, or an
    /// error naming the request and the answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Value> {
        let mut request = Request::builder().method(method.clone()).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut request = match content {
            Some((content_type, body)) => request
                .header("content-type", content_type)
                .body(Body::from(body))?,
            None => request.body(Body::empty())?,
        };
        request
            .extensions_mut()
            .insert(ClientAddr(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok(value)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<Value> {
        self.call(Method::GET, path, token, None).await
    }

    /// An access token of the demo's `role` (its first login of that role).
    async fn token_of(&self, demo: &Demo, role: &str) -> anyhow::Result<String> {
        let login = demo
            .logins
            .iter()
            .find(|l| l.role == role)
            .with_context(|| format!("the demo has no {role}"))?;
        let session = self
            .post(
                "/v1/auth/sign-in",
                None,
                &json!({"email": login.email, "password": login.password}),
            )
            .await?;
        Ok(str_at(&session, "/access_token")?.to_owned())
    }

    /// POSTs a file's bytes as they are.
    async fn upload(&self, path: &str, token: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
        let content = Some(("application/octet-stream", bytes));
        self.send(Method::POST, path, Some(token), content).await
    }
}

fn password() -> String {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    format!("Demo-{random}")
}

fn str_at<'v>(value: &'v Value, pointer: &str) -> anyhow::Result<&'v str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .with_context(|| format!("no {pointer} in {value}"))
}

/// Loads the demo into the stack behind `router`.
pub async fn load(state: &AppState, router: &Router) -> anyhow::Result<Demo> {
    let api = Api { router };
    let mut demo = Demo::default();

    // The first admin, as the setup step creates it, then the staff it invites.
    let admin_email = "admin@kopek.test";
    let admin_password = password();
    let admin = state
        .services
        .accounts()
        .bootstrap_admin(NewAdmin {
            email: admin_email.to_owned(),
            name: "Анна Админова".to_owned(),
            password: admin_password.clone(),
        })
        .await
        .map_err(|e| {
            let e = kopek_http::ApiError::from(e);
            anyhow::anyhow!("cannot create the admin: {} ({})", e.detail, e.code)
        })?;
    demo.admin = Some(Principal::from_user(&admin, None).map_err(|e| anyhow::anyhow!("{e}"))?);
    let session = api
        .post(
            "/v1/auth/sign-in",
            None,
            &json!({"email": admin_email, "password": admin_password}),
        )
        .await?;
    let admin = str_at(&session, "/access_token")?.to_owned();
    demo.logins.push(Login {
        role: "admin",
        organisation: None,
        email: admin_email.into(),
        password: admin_password,
    });
    for (role, name) in [
        ("engineer", "Егор Инженеров"),
        ("manager", "Мария Менеджерова"),
        ("accountant", "Белла Бухгалтерова"),
    ] {
        let email = format!("{role}@kopek.test");
        let invited = api
            .post(
                "/v1/staff-users",
                Some(&admin),
                &json!({"name": name, "email": email, "role": role}),
            )
            .await?;
        demo.logins
            .push(accept(&api, &invited, role, None, &email).await?);
    }

    // The catalog.
    let catalog: Value = serde_json::from_str(CATALOG).context("lib/stack/demo/catalog.json")?;
    let services = catalog["services"]
        .as_array()
        .context("catalog.json has no services")?;
    let next_month = next_month_start(state);
    for entry in services {
        let mut body = entry.clone();
        let object = body.as_object_mut().context("a service is an object")?;
        let next_price = object.remove("next_price");
        let retire = object.remove("retire").is_some_and(|r| r == true);
        let code = str_at(entry, "/code")?.to_owned();
        api.post("/v1/catalog/services", Some(&admin), &body)
            .await?;
        if let Some(price) = next_price {
            let body = json!({"price": price, "effective_from": next_month});
            api.post(
                &format!("/v1/catalog/services/{code}/prices"),
                Some(&admin),
                &body,
            )
            .await?;
        }
        if retire {
            api.call(
                Method::POST,
                &format!("/v1/catalog/services/{code}/retire"),
                Some(&admin),
                None,
            )
            .await?;
        }
        demo.services.push(code);
    }

    // Two customer organisations, each with a colleague.
    let customers = [
        (
            "ООО «Ромашка»",
            "7704123450",
            "ru",
            ("Мария Иванова", "maria@romashka.test"),
            ("Иван Петров", "ivan@romashka.test"),
        ),
        (
            "Vasilek Logistics LLC",
            "7812345675",
            "en",
            ("John Smith", "john@vasilek.test"),
            ("Olga Sidorova", "olga@vasilek.test"),
        ),
    ];
    let mut tokens = Vec::new();
    for (legal_name, tax_id, language, owner, colleague) in customers {
        let owner_password = password();
        let registered = api
            .post(
                "/v1/auth/register",
                None,
                &json!({
                    "organisation": {
                        "legal_name": legal_name,
                        "tax_id": tax_id,
                        "billing_email": format!("billing@{}", owner.1.split('@').nth(1).unwrap_or("example.test")),
                        "billing_address": "101000, Москва, ул. Мясницкая, 1",
                        "currency": "RUB",
                        "language": language
                    },
                    "user": {"name": owner.0, "email": owner.1, "password": owner_password}
                }),
            )
            .await?;
        let org = str_at(&registered, "/organisation/id")?.to_owned();
        let token = str_at(&registered, "/session/access_token")?.to_owned();
        demo.logins.push(Login {
            role: "customer",
            organisation: Some(legal_name.into()),
            email: owner.1.into(),
            password: owner_password,
        });
        let invited = api
            .post(
                &format!("/v1/organisations/{org}/users"),
                Some(&token),
                &json!({"name": colleague.0, "email": colleague.1}),
            )
            .await?;
        demo.logins
            .push(accept(&api, &invited, "customer", Some(legal_name), colleague.1).await?);
        demo.organisations.push((org, legal_name.into()));
        tokens.push(token);
    }
    // The first customer's KPP and contract, which its documents print.
    if let Some((org, _)) = demo.organisations.first() {
        api.call(
            Method::PUT,
            &format!("/v1/organisations/{org}/document-details"),
            Some(&admin),
            Some(&json!({"kpp": "770401001",
                         "contract": {"number": "17/2025", "signed_on": "2025-12-01"}})),
        )
        .await?;
    }
    // The second customer's contract gives it 30 days to pay (the provider's terms are 14).
    if let Some((org, _)) = demo.organisations.get(1) {
        api.call(
            Method::PUT,
            &format!("/v1/organisations/{org}/payment-terms"),
            Some(&admin),
            Some(&json!({"payment_terms_days": 30})),
        )
        .await?;
    }

    // The provider's requisites, as its closing documents will print them.
    api.call(
        Method::PUT,
        "/v1/billing/requisites",
        Some(&admin),
        Some(&json!({"requisites": provider_requisites()})),
    )
    .await?;

    // The first customer pays 20,000.00 in advance (a bank transfer, before any invoice): all
    // credit, which its invoices draw down as the close issues them.
    if let Some((org, _)) = demo.organisations.first() {
        api.post(
            "/v1/billing/payments",
            Some(&admin),
            &json!({"org_id": org, "amount": PREPAYMENT, "currency": "RUB",
                "received_on": state.today().to_string(), "reference": "п/п 101"}),
        )
        .await?;
    }

    // Orders and subscriptions, so the work queues have something in them.
    let today = state.today();
    let soon = (today + chrono::TimeDelta::days(2)).to_string();
    let line = |service: &str,
                quantity: &str,
                date: &str,
                address: &str,
                area: &str,
                note: &str| {
        json!({"service": service, "quantity": quantity, "requested_date": date, "note": note,
               "site": {"address": address, "area": area, "contact": "Дежурный администратор, +7 495 000-00-00"}})
    };
    let orders = [
        (
            0,
            vec![
                line(
                    "ROUTER-INSTALL",
                    "1",
                    &today.to_string(),
                    "Москва, ул. Тверская, 7, офис 12",
                    "moscow-centre",
                    "Домофон 12, звонить за час",
                ),
                line(
                    "PC-MAINTENANCE",
                    "3",
                    &soon,
                    "Москва, ул. Тверская, 7, офис 12",
                    "moscow-centre",
                    "Пять рабочих мест",
                ),
            ],
        ),
        (
            0,
            vec![line(
                "ROUTER-INSTALL",
                "1",
                &today.to_string(),
                "Москва, Новый Арбат, 15, склад",
                "moscow-west",
                "Въезд со двора",
            )],
        ),
        (
            1,
            vec![
                line(
                    "CARTRIDGE-DELIVERY",
                    "12",
                    &today.to_string(),
                    "Санкт-Петербург, Лиговский пр., 50",
                    "spb-centre",
                    "Reception, 2nd floor",
                ),
                line(
                    "ROUTER-INSTALL",
                    "1",
                    &soon,
                    "Санкт-Петербург, Лиговский пр., 50",
                    "spb-centre",
                    "Ask for John",
                ),
            ],
        ),
        (
            1,
            vec![line(
                "PC-MAINTENANCE",
                "2",
                &soon,
                "Санкт-Петербург, Невский пр., 100",
                "spb-centre",
                "Server room key at security",
            )],
        ),
    ];
    for (customer, lines) in orders {
        api.post(
            "/v1/orders",
            Some(&tokens[customer]),
            &json!({"lines": lines}),
        )
        .await?;
        demo.orders += 1;
    }
    for (customer, service, quantity) in [
        (0, "VPS-S", "2"),
        (0, "INTERNET-100", "1"),
        (1, "VPS-M", "1"),
        (1, "WATER-DELIVERY", "8"),
    ] {
        api.post(
            "/v1/subscriptions",
            Some(&tokens[customer]),
            &json!({"service": service, "quantity": quantity}),
        )
        .await?;
        demo.subscriptions += 1;
    }

    // The engineer works one installation batch: one done, one failed; the rest stays queued.
    let engineer_token = api.token_of(&demo, "engineer").await?;
    let batch = api
        .post(
            "/v1/work/batches",
            Some(&engineer_token),
            &json!({"work_type": "installation", "size": 2}),
        )
        .await?;
    let batch_id = str_at(&batch, "/id")?.to_owned();
    let first = str_at(&batch, "/work_orders/0/work_order")?;
    let second = str_at(&batch, "/work_orders/1/work_order")?;
    api.post(
        &format!("/v1/work/batches/{batch_id}/complete"),
        Some(&engineer_token),
        &json!({"outcomes": [
            {"work_order": first, "outcome": "done", "actual_quantity": "1"},
            {"work_order": second, "outcome": "failed", "reason": "Нет доступа: склад закрыт / No access: the warehouse was closed"}
        ]}),
    )
    .await?;
    demo.completed_batch = Some(batch_id);
    Ok(demo)
}

/// Accepts an invitation with a fresh password.
async fn accept(
    api: &Api<'_>,
    invited: &Value,
    role: &'static str,
    organisation: Option<&str>,
    email: &str,
) -> anyhow::Result<Login> {
    let password = password();
    api.post(
        "/v1/auth/accept-invitation",
        None,
        &json!({"token": str_at(invited, "/invitation_token")?, "password": password}),
    )
    .await?;
    Ok(Login {
        role,
        organisation: organisation.map(str::to_owned),
        email: email.into(),
        password,
    })
}

/// The first instant of next month in the provider's calendar, when the demo's scheduled
/// price change applies.
fn next_month_start(state: &AppState) -> String {
    state
        .calendar()
        .period_end(state.current_period())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Sends this month's usage of the demo's metered services for `organisations` through the
/// usage queue, as producers would, and waits until `poller` has drained it. The first
/// organisation gets the external reference [`EXTERNAL_REF`], and every third of its events
/// names it by that. Two events are invalid on purpose (an unknown meter, half an SMS) and one
/// is sent twice, so the back office has rejected events and a duplicate to show.
pub async fn load_usage(
    state: &AppState,
    admin: &Principal,
    poller: &Poller,
    organisations: &[(String, String)],
) -> anyhow::Result<UsageDemo> {
    let orgs = organisations
        .iter()
        .map(|(id, _)| {
            id.parse::<OrgId>()
                .with_context(|| format!("organisation id {id}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = *orgs.first().context("the demo has no organisation")?;
    state
        .services
        .usage()
        .add_external_ref(
            admin,
            AddExternalRefCommand {
                org_id: first.to_string(),
                external_ref: EXTERNAL_REF.to_owned(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("the demo's external reference: {e}"))?;

    let now = state.services.now();
    let mut events = usage_events(&orgs, now, state.calendar());
    let duplicate = events.first().context("no usage events")?.clone();
    let invalid = |id: &str, org: OrgId, meter: &str, quantity: Decimal| RawUsageEvent {
        id: id.into(),
        customer: org.to_string(),
        meter: meter.into(),
        quantity: RawQuantity::exact(quantity),
        timestamp: rfc3339(now),
        properties: BTreeMap::new(),
    };
    let last = *orgs.last().unwrap_or(&first);
    events.push(invalid(
        "demo-bad-0001",
        first,
        "TELEPORTATION",
        Decimal::ONE,
    ));
    events.push(invalid("demo-bad-0002", last, "SMS", Decimal::new(25, 1)));
    // The duplicate comes in a message of its own, as a producer's retry would.
    let mut sends: Vec<&[RawUsageEvent]> = events.chunks(EVENTS_PER_SEND).collect();
    sends.push(std::slice::from_ref(&duplicate));

    let mut demo = UsageDemo::default();
    for events in sends {
        let bodies = events
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        demo.messages += poller.queue.send_events(&bodies).await?.messages;
        demo.events += bodies.len();
    }
    demo.report = poller.drain(state.services.clock().as_ref(), 2).await?;
    if !demo.report.failed.is_empty() {
        tracing::warn!(
            failed = demo.report.failed.len(),
            "some usage messages failed and will be redelivered after the visibility timeout"
        );
    }
    Ok(demo)
}

/// [`EVENTS_PER_METER`] events of each demo meter for each of `orgs`, at random instants of
/// this month up to `now` (all of them today when today is the 1st), with quantities from a
/// fixed seed.
fn usage_events(orgs: &[OrgId], now: DateTime<Utc>, calendar: Calendar) -> Vec<RawUsageEvent> {
    let mut rng = StdRng::seed_from_u64(2026);
    let start = calendar.period_start(calendar.period_of(now));
    let span = (now - start).num_seconds().max(0);
    let mut events = Vec::new();
    for (o, org) in orgs.iter().enumerate() {
        for (meter, (low, high, scale)) in METERS {
            for n in 0..EVENTS_PER_METER {
                let at = start + TimeDelta::seconds(rng.gen_range(0..=span));
                let customer = if o == 0 && n % 3 == 2 {
                    EXTERNAL_REF.to_owned()
                } else {
                    org.to_string()
                };
                let mut properties = BTreeMap::new();
                if meter == "TRAFFIC" {
                    properties.insert("port".to_owned(), format!("ge-0/0/{}", n % 4));
                }
                events.push(RawUsageEvent {
                    id: format!("demo-{o}-{}-{n:04}", meter.to_lowercase()),
                    customer,
                    meter: meter.to_owned(),
                    quantity: RawQuantity::exact(Decimal::new(rng.gen_range(low..=high), scale)),
                    timestamp: rfc3339(at),
                    properties,
                });
            }
        }
    }
    events
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The provider's settlement account in [`provider_requisites`].
pub(crate) const OWN_ACCOUNT: &str = "40702810938000000001";

/// A payment document of the demo statement.
pub(crate) struct StatementDoc {
    pub number: String,
    pub amount: Decimal,
    pub payer: String,
    pub payer_inn: String,
    pub payer_kpp: String,
    pub payer_account: String,
    pub payee: String,
    pub payee_inn: String,
    pub payee_account: String,
    pub purpose: String,
}

/// The demo's bank statement as the bank's client software writes it: 1CClientBankExchange
/// 1.03, windows-1251, CRLF, dated `day`.
pub(crate) fn statement_file(
    day: chrono::NaiveDate,
    opening: Decimal,
    docs: &[StatementDoc],
) -> Vec<u8> {
    let d = day.format("%d.%m.%Y").to_string();
    let (credited, debited) = docs
        .iter()
        .fold((Decimal::ZERO, Decimal::ZERO), |(c, d), doc| {
            if doc.payee_account == OWN_ACCOUNT {
                (c + doc.amount, d)
            } else {
                (c, d + doc.amount)
            }
        });
    let closing = opening + credited - debited;
    let mut text = format!(
        "1CClientBankExchange\r\nВерсияФормата=1.03\r\nКодировка=Windows\r\n\
         Отправитель=СберБизнес\r\nПолучатель=1С:Бухгалтерия предприятия\r\n\
         ДатаСоздания={d}\r\nВремяСоздания=08:15:02\r\nДатаНачала={d}\r\nДатаКонца={d}\r\n\
         РасчСчет={OWN_ACCOUNT}\r\nДокумент=Платежное поручение\r\n\
         СекцияРасчСчет\r\nДатаНачала={d}\r\nДатаКонца={d}\r\nРасчСчет={OWN_ACCOUNT}\r\n\
         НачальныйОстаток={opening:.2}\r\nВсегоПоступило={credited:.2}\r\nВсегоСписано={debited:.2}\r\n\
         КонечныйОстаток={closing:.2}\r\nКонецРасчСчет\r\n"
    );
    for doc in docs {
        let (received, written_off) = if doc.payee_account == OWN_ACCOUNT {
            (format!("ДатаПоступило={d}\r\n"), String::new())
        } else {
            (String::new(), format!("ДатаСписано={d}\r\n"))
        };
        text.push_str(&format!(
            "СекцияДокумент=Платежное поручение\r\nНомер={}\r\nДата={d}\r\nСумма={:.2}\r\n\
             ПлательщикСчет={}\r\n{written_off}Плательщик={}\r\nПлательщикИНН={}\r\n\
             Плательщик1={}\r\nПлательщикРасчСчет={}\r\nПлательщикБанк1=АО «Альфа-Банк»\r\n\
             ПлательщикБИК=044525593\r\nПлательщикКорсчет=30101810200000000593\r\n\
             ПлательщикКПП={}\r\nПолучательСчет={}\r\n{received}Получатель={}\r\n\
             ПолучательИНН={}\r\nПолучатель1={}\r\nПолучательРасчСчет={}\r\n\
             ПолучательБанк1=ПАО Сбербанк\r\nПолучательБИК=044525225\r\n\
             ПолучательКорсчет=30101810400000000225\r\nВидПлатежа=электронно\r\nВидОплаты=01\r\n\
             Очередность=5\r\nНазначениеПлатежа={}\r\nКонецДокумента\r\n",
            doc.number,
            doc.amount,
            doc.payer_account,
            doc.payer,
            doc.payer_inn,
            doc.payer,
            doc.payer_account,
            doc.payer_kpp,
            doc.payee_account,
            doc.payee,
            doc.payee_inn,
            doc.payee,
            doc.payee_account,
            doc.purpose,
        ));
    }
    text.push_str("КонецФайла\r\n");
    encoding_rs::WINDOWS_1251.encode(&text).0.into_owned()
}

/// What the demo statement's import came to.
#[derive(Debug, Default)]
pub struct StatementDemo {
    /// Where the file was written.
    pub file: std::path::PathBuf,
    /// The import's report (`GET /v1/billing/statements/{id}`).
    pub report: Value,
}

/// This morning's bank statement, as the demo accountant imports it: Vasilek's invoice paid
/// in full naming its number (after 500.00 of it was recorded by hand before the statement came,
/// and is on it again: a duplicate), Ромашка paying by INN only and, in a second payment,
/// part of its invoice by number, an unknown sole trader's advance (to review), and the
/// bank's fee (a debit, skipped). Written to `dir` as the bank sends it (windows-1251),
/// uploaded through the API and matched through `BankQueue`.
pub async fn import_statement(
    state: &AppState,
    router: &Router,
    demo: &Demo,
    dir: &std::path::Path,
) -> anyhow::Result<StatementDemo> {
    let api = Api { router };
    let token = api.token_of(demo, "accountant").await?;
    let [(romashka, _), (vasilek, _), ..] = demo.organisations.as_slice() else {
        bail!("the demo has two customers");
    };
    let today = state.today();
    let mut parties = Vec::new();
    for org in [romashka, vasilek] {
        let admin = demo.admin.as_ref().context("the demo has its admin")?;
        let organisation = state
            .services
            .accounts()
            .organisation(admin, org.parse()?)
            .await
            .map_err(|e| anyhow::anyhow!("a demo customer: {e}"))?;
        let invoices = api
            .get(&format!("/v1/invoices?org_id={org}"), Some(&token))
            .await?;
        let invoice = invoices["items"]
            .as_array()
            .and_then(|items| items.first())
            .cloned()
            .context("the demo customer has an invoice")?;
        parties.push((organisation, invoice));
    }
    let open = |invoice: &Value| -> anyhow::Result<Decimal> {
        Ok(str_at(invoice, "/open")?.parse::<Decimal>()?)
    };
    // Before the statement arrived, the accountant typed in Vasilek's first 500.00 by hand.
    let (vasilek_org, vasilek_invoice) = &parties[1];
    let hand = Decimal::new(50_000, 2);
    api.post(
        "/v1/billing/payments",
        Some(&token),
        &json!({"org_id": vasilek, "amount": "500.00", "currency": "RUB",
                "received_on": today.to_string(), "reference": "п/п 1042"}),
    )
    .await?;
    let vasilek_rest = (open(vasilek_invoice)? - hand).max(Decimal::new(1, 2));
    let (romashka_org, romashka_invoice) = &parties[0];
    let third = (open(romashka_invoice)? / Decimal::from(3))
        .round_dp(2)
        .max(Decimal::new(1, 2));
    let customer = |org: &kopek_domain::accounts::Organisation, number: &str, account: &str| {
        (
            org.legal_name.to_string(),
            org.tax_id.as_str().to_owned(),
            org.kpp
                .as_ref()
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            number.to_owned(),
            account.to_owned(),
        )
    };
    let r = customer(
        romashka_org,
        str_at(romashka_invoice, "/number")?,
        "40702810400000004411",
    );
    let l = customer(
        vasilek_org,
        str_at(vasilek_invoice, "/number")?,
        "40702810700000007733",
    );
    let provider = "ООО «Копек Сервис»";
    let doc = |number: &str,
               amount: Decimal,
               payer: &(String, String, String, String, String),
               purpose: String| StatementDoc {
        number: number.into(),
        amount,
        payer: payer.0.clone(),
        payer_inn: payer.1.clone(),
        payer_kpp: payer.2.clone(),
        payer_account: payer.4.clone(),
        payee: provider.into(),
        payee_inn: "7708123450".into(),
        payee_account: OWN_ACCOUNT.into(),
        purpose,
    };
    let unknown = (
        "ИП Сидоров Пётр Алексеевич".to_owned(),
        "772912345678".to_owned(),
        String::new(),
        String::new(),
        "40802810900000001234".to_owned(),
    );
    let docs = vec![
        doc(
            "1043",
            vasilek_rest,
            &l,
            format!("Оплата по счёту № {} за услуги. В т.ч. НДС 20%", l.3),
        ),
        doc(
            "1042",
            hand,
            &l,
            "Оплата за услуги по договору. В т.ч. НДС 20%".into(),
        ),
        doc(
            "517",
            third,
            &r,
            "Оплата за услуги связи и хостинга. В т.ч. НДС 20%".into(),
        ),
        doc(
            "518",
            third,
            &r,
            format!("Частичная оплата по сч. {} . В т.ч. НДС 20%", r.3),
        ),
        doc(
            "88",
            Decimal::new(1_200_000, 2),
            &unknown,
            "Аванс за обслуживание оборудования, НДС не облагается".into(),
        ),
        StatementDoc {
            number: "7".into(),
            amount: Decimal::new(49_000, 2),
            payer: provider.into(),
            payer_inn: "7708123450".into(),
            payer_kpp: "770801001".into(),
            payer_account: OWN_ACCOUNT.into(),
            payee: "ПАО Сбербанк".into(),
            payee_inn: "7707083893".into(),
            payee_account: "70601810038002740201".into(),
            purpose: "Комиссия за ведение счёта за месяц. НДС не облагается".into(),
        },
    ];
    let file = statement_file(today, Decimal::new(125_000_000, 2), &docs);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("statement-{today}.txt"));
    std::fs::write(&path, &file).with_context(|| format!("cannot write {}", path.display()))?;
    let uploaded = api
        .upload(
            &format!("/v1/billing/statements?file_name=statement-{today}.txt"),
            &token,
            file,
        )
        .await?;
    let queue = state
        .services
        .bank_queue()
        .context("no function of the template has KOPEK_BANK_QUEUE_URL")?;
    let drained = kopek_events::bank::drain(&state.services.bank(), queue, 1, Some(1)).await?;
    anyhow::ensure!(
        drained.failed == 0,
        "a statement chunk failed (see the log)"
    );
    let report = api
        .get(
            &format!("/v1/billing/statements/{}", str_at(&uploaded, "/id")?),
            Some(&token),
        )
        .await?;
    Ok(StatementDemo { file: path, report })
}

/// What the demo's webhook endpoint is.
#[derive(Debug)]
pub struct WebhookDemo {
    pub endpoint: String,
    pub url: String,
    /// Deliveries queued of what the demo did before the endpoint existed.
    pub replayed: usize,
}

/// Registers the demo's receiver as a webhook endpoint for every event type (as the admin,
/// through the same service the API's route calls), writes its signing secret where the
/// receiver reads it, and replays to it everything the demo did (the feed since `since`).
pub async fn connect_webhooks(
    state: &AppState,
    demo: &Demo,
    url: &str,
    secret_file: &std::path::Path,
    since: DateTime<Utc>,
) -> anyhow::Result<WebhookDemo> {
    let admin = demo.admin.as_ref().context("the demo has its admin")?;
    let webhooks = state.services.webhooks();
    let created = webhooks
        .create(
            admin,
            kopek_services::webhooks::NewEndpoint {
                url: kopek_domain::webhooks::EndpointUrl::parse(url)?,
                description: "The demo's receiver (lib/stack/webhook_receiver.py)".into(),
                types: kopek_domain::webhooks::EventFilter::all(),
                enabled: true,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot register the demo's webhook endpoint: {e}"))?;
    std::fs::write(secret_file, &created.secret)
        .with_context(|| format!("cannot write {}", secret_file.display()))?;
    let replayed = webhooks
        .replay_since(admin, created.endpoint.id, since)
        .await
        .map_err(|e| anyhow::anyhow!("cannot replay the demo's events: {e}"))?;
    Ok(WebhookDemo {
        endpoint: created.endpoint.id.to_string(),
        url: url.to_owned(),
        replayed,
    })
}
