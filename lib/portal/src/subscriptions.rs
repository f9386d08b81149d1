//! Subscriptions in the portal: a customer's subscriptions with this period's prorated fees;
//! starting one, changing its quantity or service, cancelling it — each shown first with its
//! effect on this period's fees (`Subscriptions::preview_*`, the same rule and checks as the
//! change itself), then confirmed once (the form's own idempotency key).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use kopek_domain::catalog::ServiceKind;
use kopek_domain::ids::SubscriptionId;
use kopek_domain::subscriptions::SubscriptionStatus;
use kopek_http::ApiError;
use kopek_http::state::AppState;
use kopek_services::Paging;
use kopek_services::subscriptions::{ChangeSubscription, StartSubscription, SubscriptionFees};
use rust_decimal::Decimal;

use crate::form::{Fields, Posted, once};
use crate::i18n::Lang;
use crate::orders::services_of_kind;
use crate::pages::{Frame, PageError};
use crate::session::Viewer;

pub struct SubscriptionRow {
    pub id: String,
    pub service: String,
    pub quantity: String,
    pub status: &'static str,
    pub since: String,
    pub ends: String,
    pub fee: String,
    pub open: bool,
}

fn status_text(lang: Lang, s: SubscriptionStatus) -> &'static str {
    match s {
        SubscriptionStatus::Scheduled => lang.pick("запланирована", "scheduled"),
        SubscriptionStatus::Active => lang.pick("действует", "active"),
        SubscriptionStatus::Cancelling => lang.pick("отменена с конца срока", "cancelling"),
        SubscriptionStatus::Ended => lang.pick("завершена", "ended"),
    }
}

impl SubscriptionRow {
    fn of(s: &SubscriptionFees, lang: Lang) -> Self {
        let sub = &s.subscription;
        let last = sub.last_segment();
        Self {
            id: sub.id().to_string(),
            service: last.service.to_string(),
            quantity: last.quantity.to_string(),
            status: status_text(lang, s.status),
            since: lang.date(sub.starts_on()),
            ends: sub.ends_on().map(|d| lang.date(d)).unwrap_or_default(),
            fee: lang.money(s.fees.total),
            open: matches!(
                s.status,
                SubscriptionStatus::Scheduled | SubscriptionStatus::Active
            ),
        }
    }
}

/// What a change would do: the fees of the period before and after.
pub struct EffectView {
    pub period: String,
    pub before: Option<String>,
    pub after: String,
    /// Each prorated part after the change: days, service, amount.
    pub parts: Vec<String>,
    /// The form's values to confirm with.
    pub hidden: Vec<(String, String)>,
    pub action: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "subscriptions.html")]
pub struct SubscriptionsPage {
    f: Frame,
    rows: Vec<SubscriptionRow>,
    services: Vec<(String, String)>,
    today: String,
    key: String,
    effect: Option<EffectView>,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    effect: Option<EffectView>,
) -> Result<SubscriptionsPage, PageError> {
    let lang = viewer.lang;
    let list = state
        .services
        .subscriptions()
        .list(&viewer.principal, Paging::new(100, None))
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let services = services_of_kind(state, lang, ServiceKind::Recurring).await?;
    let rows = list
        .items
        .iter()
        .map(|s| {
            let mut row = SubscriptionRow::of(s, lang);
            if let Some((_, name)) = services.iter().find(|(code, _)| *code == row.service) {
                row.service = name.clone();
            }
            row
        })
        .collect();
    Ok(SubscriptionsPage {
        f: Frame::of(viewer, "/portal/subscriptions"),
        rows,
        services,
        today: state.today().to_string(),
        key: crate::pages::new_nonce(),
        effect,
    })
}

/// The subscriptions and the form to start one.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<SubscriptionsPage, PageError> {
    page(&state, &viewer, None).await
}

fn quantity(fields: &Fields, name: &str) -> Result<Option<Decimal>, ApiError> {
    fields
        .filled(name)
        .map(|q| {
            q.replace(',', ".")
                .parse()
                .map_err(|_| ApiError::validation(name.to_owned(), "a number, e.g. 1"))
        })
        .transpose()
}

fn date(fields: &Fields, name: &str) -> Result<Option<chrono::NaiveDate>, ApiError> {
    fields
        .filled(name)
        .map(|d| {
            d.parse()
                .map_err(|_| ApiError::validation(name.to_owned(), "a date as YYYY-MM-DD"))
        })
        .transpose()
}

fn effect_of(
    lang: Lang,
    before: Option<&SubscriptionFees>,
    after: &SubscriptionFees,
    fields: &Fields,
    action: String,
) -> EffectView {
    EffectView {
        period: after.fees.period.to_string(),
        before: before.map(|b| lang.money(b.fees.total)),
        after: lang.money(after.fees.total),
        parts: after
            .fees
            .parts
            .iter()
            .map(|p| {
                format!(
                    "{} × {}: {} – {} ({}/{}) = {}",
                    p.service,
                    p.quantity,
                    lang.date(p.from),
                    lang.date(p.until_exclusive.pred_opt().unwrap_or(p.until_exclusive)),
                    p.days,
                    p.period_days,
                    lang.money(p.amount)
                )
            })
            .collect(),
        hidden: fields
            .0
            .iter()
            .filter(|(k, _)| k != "_csrf" && k != "intent")
            .cloned()
            .collect(),
        action,
    }
}

/// Starts a subscription: `intent=preview` shows its effect, `intent=confirm` starts it once.
pub async fn start(State(state): State<AppState>, Posted { viewer, fields }: Posted) -> Response {
    let lang = viewer.lang;
    let command = (|| {
        Ok::<_, ApiError>(StartSubscription {
            service: fields.parsed("service", "choose a service")?,
            quantity: quantity(&fields, "quantity")?
                .ok_or_else(|| ApiError::validation("quantity", "a number, e.g. 1"))?,
            start_date: date(&fields, "start_date")?,
        })
    })();
    let command = match command {
        Ok(c) => c,
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    let subscriptions = state.services.subscriptions();
    if fields.get("intent").as_deref() != Some("confirm") {
        return match subscriptions
            .preview_start(&viewer.principal, command)
            .await
        {
            Ok(after) => {
                let effect = effect_of(lang, None, &after, &fields, "/portal/subscriptions".into());
                page(&state, &viewer, Some(effect)).await.into_response()
            }
            Err(e) => PageError::of(lang, e).into_response(),
        };
    }
    once(
        &state,
        &viewer,
        &fields,
        "/portal/subscriptions",
        subscriptions.start(&viewer.principal, command),
        |_| "/portal/subscriptions".to_owned(),
    )
    .await
}

/// Changes (`do=change`: quantity, service, from a date) or cancels (`do=cancel`) a
/// subscription: previewed first, then confirmed once.
pub async fn change(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, fields }: Posted,
) -> Response {
    let lang = viewer.lang;
    let Ok(id) = id.parse::<SubscriptionId>() else {
        return PageError::of(lang, kopek_services::Error::NotFound).into_response();
    };
    let subscriptions = state.services.subscriptions();
    let caller = &viewer.principal;
    let change = if fields.get("do").as_deref() == Some("cancel") {
        None
    } else {
        let command = (|| {
            Ok::<_, ApiError>(ChangeSubscription {
                quantity: quantity(&fields, "quantity")?,
                service: fields
                    .filled("service")
                    .map(|s| {
                        s.parse()
                            .map_err(|_| ApiError::validation("service", "choose a service"))
                    })
                    .transpose()?,
                effective_date: date(&fields, "effective_date")?,
            })
        })();
        match command {
            Ok(c) => Some(c),
            Err(e) => return PageError::of(lang, e).into_response(),
        }
    };
    if fields.get("intent").as_deref() == Some("confirm") {
        let run = async {
            match change {
                Some(command) => subscriptions.change(caller, id, command).await,
                None => subscriptions.cancel(caller, id).await,
            }
        };
        let to = |_| "/portal/subscriptions".to_owned();
        return once(&state, &viewer, &fields, "/portal/subscriptions", run, to).await;
    }
    let previewed = match change {
        Some(command) => subscriptions.preview_change(caller, id, command).await,
        None => subscriptions.preview_cancel(caller, id).await,
    };
    match previewed {
        Ok(e) => {
            let here = format!("/portal/subscriptions/{id}");
            let effect = effect_of(lang, Some(&e.before), &e.after, &fields, here);
            page(&state, &viewer, Some(effect)).await.into_response()
        }
        Err(e) => PageError::of(lang, e).into_response(),
    }
}
