//! Dunning (`kopek_services::dunning::Dunning`): the provider's policy, where a customer
//! stands and why, a manager's hold, and the daily run by hand. The rules are
//! `kopek_domain::dunning`.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use kopek_domain::dunning::{CustomerDunning, DunningPolicy, DunningState, StepKind};
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::wire::Amount;
use kopek_http::{ApiError, ApiResult};
use kopek_services::dunning::{DunningOf, ModeCommand};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The provider's dunning policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    /// `enabled`, `steps` (each `{kind, offset_days}` from the oldest due date: `reminder`
    /// before it, `due_notice` on it, `overdue_notice`, `block_orders`, `suspend`, `final`
    /// after it), `min_overdue`, `late_fee` (`{enabled, percent_per_day, cap_percent}`).
    #[schema(value_type = Object)]
    policy: DunningPolicy,
    /// The revision to send with a change; 0 while the written default applies.
    rev: u64,
}

/// A new policy, replacing the old whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    #[schema(value_type = Object)]
    policy: DunningPolicy,
    /// The `rev` read (0 while never saved).
    rev: u64,
}

/// The provider's dunning policy (billing staff): the written default until an admin saves
/// one.
#[utoipa::path(get, path = "/v1/billing/dunning-policy", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = PolicyView), (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn get_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<PolicyView>> {
    let stored = state.services.dunning().policy(&caller).await?;
    Ok(Json(PolicyView {
        policy: stored.policy,
        rev: stored.rev,
    }))
}

/// Change the dunning policy (admins); every error names its field, e.g.
/// `steps[2].offset_days`.
#[utoipa::path(put, path = "/v1/billing/dunning-policy", tag = "billing", security(("bearer" = [])), request_body = PolicyRequest,
    responses((status = 200, body = PolicyView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "changed meanwhile (`rev`)", body = kopek_http::problem::Problem),
        (status = 422, body = kopek_http::problem::Problem)))]
pub(super) async fn put_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<PolicyRequest>,
) -> ApiResult<Json<PolicyView>> {
    let stored = state
        .services
        .dunning()
        .save_policy(&caller, body.policy, body.rev)
        .await?;
    Ok(Json(PolicyView {
        policy: stored.policy,
        rev: stored.rev,
    }))
}

/// Where a customer stands in dunning, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct DunningView {
    org_id: String,
    customer: String,
    /// What the customer is under and why, in its language.
    #[schema(
        example = "Приём новых заказов приостановлен с 14.12.2026: просрочено 1 234,56 ₽ с 30.11.2026."
    )]
    explanation: String,
    /// `mode` (`policy`, `off`, or `hold` with `until`, `reason`, `by`) and an own policy.
    #[schema(value_type = Object)]
    settings: CustomerDunning,
    /// The episode in progress, if any: its anchor, the steps taken with their days,
    /// whether orders are blocked and service suspended, the overdue amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    episode: Option<EpisodeView>,
    /// The stretches of days service was suspended, oldest first (`until`: the first day it
    /// was back; absent while suspended). Subscriptions are not billed for these days.
    suspensions: Vec<SuspensionView>,
    /// The revision to send with a change of settings.
    rev: u64,
}

/// Days service was suspended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuspensionView {
    from: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<NaiveDate>,
}

/// A step taken in an episode.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoneStepView {
    /// `reminder`, `due_notice`, `overdue_notice`, `block_orders`, `suspend` or `final`.
    #[schema(value_type = String, example = "overdue_notice")]
    kind: StepKind,
    on: NaiveDate,
    /// Taken together with a later step on the same run, whose notice went instead.
    skipped_notice: bool,
}

/// A stretch of dunning, from the first invoice counted until everything is paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpisodeView {
    started_on: NaiveDate,
    /// The oldest due date the steps count from.
    oldest_due: NaiveDate,
    done: Vec<DoneStepView>,
    /// New orders are refused.
    blocked: bool,
    suspended: bool,
    /// Overdue as of the last run.
    overdue: Amount,
    /// Late fees charged in this episode.
    late_fee: Amount,
}

fn episode_view(state: &DunningState) -> Option<EpisodeView> {
    state.episode.as_ref().map(|e| EpisodeView {
        started_on: e.started_on,
        oldest_due: e.oldest_due,
        done: e
            .done
            .iter()
            .map(|d| DoneStepView {
                kind: d.kind,
                on: d.on,
                skipped_notice: d.skipped_notice,
            })
            .collect(),
        blocked: e.blocked,
        suspended: e.suspended,
        overdue: e.overdue.into(),
        late_fee: e.fee_charged.into(),
    })
}

impl From<DunningOf> for DunningView {
    fn from(d: DunningOf) -> Self {
        Self {
            org_id: d.org.to_string(),
            customer: d.customer,
            explanation: d.explanation,
            settings: d.settings,
            episode: episode_view(&d.state),
            suspensions: d
                .state
                .suspensions
                .iter()
                .map(|p| SuspensionView {
                    from: p.from,
                    until: p.until,
                })
                .collect(),
            rev: d.rev,
        }
    }
}

/// Where a customer stands in dunning and why (`invoices:read`: a customer its own, staff
/// any).
#[utoipa::path(get, path = "/v1/billing/dunning", tag = "billing", security(("bearer" = [])), params(crate::params::OrgQuery),
    responses((status = 200, body = DunningView), (status = 400, body = kopek_http::problem::Problem),
        (status = 403, body = kopek_http::problem::Problem), (status = 404, body = kopek_http::problem::Problem)))]
pub(super) async fn get_dunning(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<crate::params::OrgQuery>,
) -> ApiResult<Json<DunningView>> {
    let org = query.org()?;
    Ok(Json(
        state.services.dunning().of(&caller, org).await?.into(),
    ))
}

/// A manager's choice for one customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeRequest {
    org_id: String,
    /// `policy`, `off` or `hold`.
    #[schema(example = "hold")]
    mode: String,
    /// With `hold`: the last day held (absent: until lifted).
    #[serde(default, with = "kopek_domain::wire::date_option")]
    #[schema(value_type = Option<String>, format = Date)]
    until: Option<NaiveDate>,
    /// With `hold`: why (1–500 characters).
    reason: Option<String>,
    /// The `rev` read.
    rev: u64,
}

/// Hold a customer's dunning, turn it off, or put it back under the policy (managers,
/// admins). A hold or "off" lifts a block at once; when a hold ends, the next run takes the
/// steps that fell due meanwhile.
#[utoipa::path(put, path = "/v1/billing/dunning", tag = "billing", security(("bearer" = [])), request_body = ModeRequest,
    responses((status = 200, body = DunningView), (status = 403, body = kopek_http::problem::Problem),
        (status = 409, description = "changed meanwhile (`rev`)", body = kopek_http::problem::Problem),
        (status = 422, description = "`field`: `org_id`, `mode`, `reason`", body = kopek_http::problem::Problem)))]
pub(super) async fn put_dunning(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<ModeRequest>,
) -> ApiResult<Json<DunningView>> {
    let org = body
        .org_id
        .parse()
        .map_err(|_| ApiError::validation("org_id", "no such organisation"))?;
    let mode = match body.mode.as_str() {
        "policy" => ModeCommand::Policy,
        "off" => ModeCommand::Off,
        "hold" => ModeCommand::Hold {
            until: body.until,
            reason: body.reason.unwrap_or_default(),
        },
        _ => return Err(ApiError::validation("mode", "must be policy, off or hold")),
    };
    let view = state
        .services
        .dunning()
        .set_mode(&caller, org, mode, body.rev)
        .await?;
    Ok(Json(view.into()))
}

/// What a dunning run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    customers: usize,
    changed: usize,
    notices: usize,
    blocked: usize,
    suspended: usize,
    restored: usize,
    handed_to_people: usize,
    /// Customers charged a late fee (billed with their next invoice).
    late_fees: usize,
    failed: usize,
}

/// Run today's dunning now (admins), as the `dunning` function does every morning; run
/// again on the same day, it changes nothing.
#[utoipa::path(post, path = "/v1/billing/dunning/run", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = RunView), (status = 403, body = kopek_http::problem::Problem)))]
pub(super) async fn run_dunning(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<RunView>> {
    let r = state.services.dunning().run_daily_as(&caller).await?;
    Ok(Json(RunView {
        customers: r.customers,
        changed: r.changed,
        notices: r.notices,
        blocked: r.blocked,
        suspended: r.suspended,
        restored: r.restored,
        handed_to_people: r.handed_to_people,
        late_fees: r.late_fees,
        failed: r.failed,
    }))
}
