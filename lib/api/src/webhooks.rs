//! Webhook endpoints, their deliveries, and the events feed (served by `accounts-api`).
//!
//! Handlers only translate: wire types in, one call of `kopek_services::webhooks::Webhooks`
//! with the caller, views out. The events a CRM receives are described in the document's
//! `webhooks` section ([`webhooks_section`]): one entry per event type, each a POST of the
//! envelope with the Standard Webhooks headers.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use kopek_domain::ids::{DeliveryId, EventId, WebhookId};
use kopek_domain::webhooks::{
    Attempt, Delivery, DeliveryStatus, Endpoint, EndpointUrl, EventFilter, EventType,
};
use kopek_http::auth::Caller;
use kopek_http::json::{JsonBody, QueryParams};
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use kopek_services::webhooks::{EndpointChange, NewEndpoint, WithSecret};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::paging::{ListQuery, Paged};
use crate::params::id_path;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(ping_endpoint))
        .routes(routes!(replay_since))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(replay_delivery))
        .routes(routes!(list_events))
}

// ---------------------------------------------------------------------------------------
// Wire types

fn url(field: &str, text: &str) -> ApiResult<EndpointUrl> {
    EndpointUrl::parse(text).map_err(|e| ApiError::validation(field, e.reason))
}

fn types(names: &[String]) -> ApiResult<EventFilter> {
    for (i, name) in names.iter().enumerate() {
        if name.parse::<EventType>().is_err() {
            return Err(ApiError::validation(
                format!("types[{i}]"),
                format!("`{name}` is not an event type"),
            ));
        }
    }
    EventFilter::parse(names).map_err(|e| ApiError::validation("types", e.reason))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    /// Where events are POSTed: an `https://` URL (or `http://`), no credentials.
    #[schema(example = "https://crm.example.ru/hooks/kopek")]
    pub url: String,
    #[serde(default)]
    #[schema(example = "Our CRM")]
    pub description: String,
    /// The event types wanted (`order.placed`, …); empty or absent: every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointRequest {
    pub url: Option<String>,
    pub description: Option<String>,
    pub types: Option<Vec<String>>,
    /// Enabling an endpoint that Kopek disabled starts its failing streak afresh.
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    /// How long the old secret keeps signing beside the new one (0 to 604800, default 86400):
    /// both signatures are sent meanwhile, so the receiver can switch without losing one.
    pub overlap_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySinceRequest {
    /// Every event since this time (RFC 3339) that the endpoint wants is delivered again.
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    #[schema(value_type = String, example = "whk_01JDQ8Z6X9V1A2B3C4D5E6F7G8")]
    pub id: WebhookId,
    pub url: String,
    pub description: String,
    /// The event types it receives; empty: every type.
    pub types: Vec<String>,
    pub enabled: bool,
    /// Why Kopek disabled it (every delivery failed for 5 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs (after a rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&Endpoint> for EndpointView {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url.to_string(),
            description: e.description.clone(),
            types: e.types.types().iter().map(|t| t.to_string()).collect(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            last_success_at: e.last_success_at,
            previous_secret_until: e.secrets.previous_until.filter(|until| *until > Utc::now()),
            created_at: e.created_at,
        }
    }
}

/// An endpoint with its signing secret, shown in this response only.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecretView {
    pub endpoint: EndpointView,
    /// `whsec_…`: configure the receiver with it to verify `webhook-signature`.
    pub secret: String,
}

impl From<WithSecret> for EndpointWithSecretView {
    fn from(w: WithSecret) -> Self {
        Self {
            endpoint: EndpointView::from(&w.endpoint),
            secret: w.secret,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status; absent when no answer came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// The first 1,024 bytes of the answer.
    pub response: String,
    /// Why no answer came (timeout, refused address, connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&Attempt> for AttemptView {
    fn from(a: &Attempt) -> Self {
        Self {
            at: a.at,
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            response: a.response.clone(),
            error: a.error.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    #[schema(value_type = String, example = "dlv_01JDQ8Z6X9V1A2B3C4D5E6F7G8")]
    pub id: DeliveryId,
    #[schema(value_type = String)]
    pub endpoint_id: WebhookId,
    /// The event's id: the `webhook-id` of every attempt.
    #[schema(value_type = String)]
    pub event_id: EventId,
    pub event_type: String,
    /// The event's position in the feed (0 for a ping).
    pub sequence: u64,
    /// `pending`, `retrying`, `succeeded` or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts_made: usize,
    /// The newest attempts (at most 30), oldest first.
    pub attempts: Vec<AttemptView>,
    pub created_at: DateTime<Utc>,
}

fn status_text(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Retrying => "retrying",
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Failed => "failed",
    }
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint,
            event_id: d.event,
            event_type: d.kind.to_string(),
            sequence: d.sequence,
            status: status_text(d.status).into(),
            next_attempt_at: d.next_attempt_at,
            attempts_made: d.attempts_made,
            attempts: d.attempts.iter().map(AttemptView::from).collect(),
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayedView {
    /// Deliveries queued.
    pub queued: usize,
}

/// The `data` of each event type, as `kopek_domain::webhooks::data` writes it. Documentation
/// only: nothing here is built; the test at the end of this file compares each with what the
/// domain writes, field by field.
#[allow(dead_code)]
mod event_data {
    use chrono::NaiveDate;
    use kopek_http::wire::Amount;
    use utoipa::ToSchema;

    /// Who acted: `{"user": "usr_…"}`, `{"api_key": "key_…"}` or `"system"`.
    pub type Actor = serde_json::Value;

    #[derive(ToSchema)]
    pub struct OrderPlacedData {
        pub order_id: String,
        pub lines: u16,
        pub expected_total: Amount,
        pub currency: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct OrderLineCancelledData {
        pub order_id: String,
        pub line_no: u16,
        pub work_order_id: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct WorkOrderDoneData {
        pub order_id: String,
        pub line_no: u16,
        pub work_order_id: String,
        pub batch_id: String,
        /// A decimal string.
        pub actual_quantity: String,
        pub charge_id: String,
        pub amount: Amount,
        pub currency: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct WorkOrderFailedData {
        pub order_id: String,
        pub line_no: u16,
        pub work_order_id: String,
        pub batch_id: String,
        pub reason: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// A subscription started, or changed from a date.
    #[derive(ToSchema)]
    pub struct SubscriptionData {
        pub subscription_id: String,
        pub service: String,
        /// A decimal string.
        pub quantity: String,
        pub from: NaiveDate,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct SubscriptionCancelledData {
        pub subscription_id: String,
        pub ends_on: NaiveDate,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct InvoiceIssuedData {
        pub invoice_id: String,
        pub number: String,
        pub period: String,
        pub gross: Amount,
        pub currency: String,
        pub due_on: NaiveDate,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct CreditNoteIssuedData {
        pub credit_note_id: String,
        pub number: String,
        pub invoice_id: String,
        pub gross: Amount,
        pub currency: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct PaymentReceivedData {
        pub payment_id: String,
        pub reference: String,
        pub amount: Amount,
        pub currency: String,
        pub settled_invoice_ids: Vec<String>,
        pub to_credit: Amount,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct PaymentReversedData {
        pub payment_id: String,
        pub reference: String,
        pub amount: Amount,
        pub currency: String,
        pub reason: String,
        pub reopened_invoice_ids: Vec<String>,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct RefundSentData {
        pub refund_id: String,
        pub reference: String,
        pub amount: Amount,
        pub currency: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// The customer's period is closed: its invoice, or none when there was nothing to bill.
    #[derive(ToSchema)]
    pub struct PeriodClosedData {
        pub period: String,
        pub invoice_id: Option<String>,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// A closing document was signed with the provider's key.
    #[derive(ToSchema)]
    pub struct DocumentSignedData {
        pub document_id: String,
        /// `invoice`, `act`, `credit_note`, `upd` or `upd_print`.
        pub doc_type: String,
        pub number: String,
        pub period: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// The period's signed documents went to the customer as one package.
    #[derive(ToSchema)]
    pub struct DocumentSentData {
        pub package_id: String,
        pub period: String,
        pub document_ids: Vec<String>,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// The customer downloaded (viewed) or accepted its package.
    #[derive(ToSchema)]
    pub struct PackageData {
        pub package_id: String,
        pub period: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// The customer disputed its package.
    #[derive(ToSchema)]
    pub struct DocumentDisputedData {
        pub package_id: String,
        pub period: String,
        pub reason: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// An invoice is past its due date with something left to pay.
    #[derive(ToSchema)]
    pub struct InvoiceOverdueData {
        pub invoice_id: String,
        pub number: String,
        /// What is left to pay.
        pub open: Amount,
        pub currency: String,
        pub due_on: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// A payment left nothing open on an invoice.
    #[derive(ToSchema)]
    pub struct InvoicePaidData {
        pub invoice_id: String,
        pub number: String,
        pub gross: Amount,
        pub currency: String,
        /// The payment that paid it off.
        pub payment_id: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// A bank statement's payment matched to the customer and recorded.
    #[derive(ToSchema)]
    pub struct PaymentMatchedData {
        pub payment_id: String,
        pub reference: String,
        pub amount: Amount,
        pub currency: String,
        pub settled_invoice_ids: Vec<String>,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// Dunning reached a step of its policy for the customer (the last one it took that day).
    #[derive(ToSchema)]
    pub struct DunningStepReachedData {
        /// The step's index in the policy.
        pub step: u32,
        /// `reminder`, `due_notice`, `overdue_notice`, `block_orders`, `suspend` or `final`.
        pub kind: String,
        /// What is overdue (zero before the due date).
        pub overdue: Amount,
        pub currency: String,
        pub on: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// Dunning suspended the customer's service.
    #[derive(ToSchema)]
    pub struct CustomerSuspendedData {
        pub overdue: Amount,
        pub currency: String,
        pub on: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// The customer paid what was overdue: its block and suspension are lifted.
    #[derive(ToSchema)]
    pub struct CustomerRestoredData {
        pub on: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// A usage event of the customer's was refused (once per distinct event); staff see it at
    /// `GET /v1/usage/rejected/{rejected_id}` and re-submit it once the cause is fixed.
    #[derive(ToSchema)]
    pub struct UsageRejectedData {
        /// The kept rejection (`rej_…`).
        pub rejected_id: String,
        /// `invalid_field`, `unknown_meter`, `not_metered`, `meter_retired`,
        /// `currency_mismatch`, `bad_quantity`, `future_timestamp`, `too_old` or `conflict`.
        pub reason: String,
        /// The field at fault (`quantity`), empty where the event as a whole is.
        pub field: String,
        pub detail: String,
        /// The meter the event named.
        pub meter: Option<String>,
        /// The producer's id of the event.
        pub event_id: Option<String>,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// An organisation as it is now: registered, or created by a CRM's reference.
    #[derive(ToSchema)]
    pub struct OrganisationData {
        pub legal_name: String,
        pub tax_id: String,
        pub kpp: Option<String>,
        pub billing_email: String,
        pub billing_address: String,
        pub currency: String,
        /// `ru` or `en`.
        pub language: String,
        /// Its own payment terms; `null`: the provider's.
        pub payment_terms_days: Option<u16>,
        /// `active` or `blocked`.
        pub status: String,
        /// The CRM's reference, where one created or updated it.
        pub external_ref: Option<String>,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    /// An organisation a CRM's record changed: what changed, and the organisation now.
    #[derive(ToSchema)]
    pub struct OrganisationUpdatedData {
        /// The fields that changed.
        pub changed: Vec<String>,
        #[serde(flatten)]
        pub organisation: OrganisationData,
    }

    /// A customer's new user, invited (it becomes active when it accepts).
    #[derive(ToSchema)]
    pub struct UserAddedData {
        pub user_id: String,
        pub name: String,
        pub email: String,
        /// `customer`.
        pub role: String,
        /// `invited`.
        pub status: String,
        #[schema(value_type = Object)]
        pub actor: Actor,
    }

    #[derive(ToSchema)]
    pub struct PingData {
        /// The endpoint pinged.
        pub endpoint: String,
    }
}

/// The schema name of each event type's `data` (types that share a shape share a schema).
pub fn data_schema_of(kind: EventType) -> &'static str {
    match kind {
        EventType::OrderPlaced => "OrderPlacedData",
        EventType::OrderLineCancelled => "OrderLineCancelledData",
        EventType::WorkOrderDone => "WorkOrderDoneData",
        EventType::WorkOrderFailed => "WorkOrderFailedData",
        EventType::SubscriptionStarted | EventType::SubscriptionChanged => "SubscriptionData",
        EventType::SubscriptionCancelled => "SubscriptionCancelledData",
        EventType::InvoiceIssued => "InvoiceIssuedData",
        EventType::CreditNoteIssued => "CreditNoteIssuedData",
        EventType::PaymentReceived => "PaymentReceivedData",
        EventType::PaymentReversed => "PaymentReversedData",
        EventType::RefundSent => "RefundSentData",
        EventType::OrganisationCreated => "OrganisationData",
        EventType::OrganisationUpdated => "OrganisationUpdatedData",
        EventType::UserAdded => "UserAddedData",
        EventType::InvoicePaid => "InvoicePaidData",
        EventType::InvoiceOverdue => "InvoiceOverdueData",
        EventType::DocumentSigned => "DocumentSignedData",
        EventType::PeriodClosed => "PeriodClosedData",
        EventType::DocumentSent => "DocumentSentData",
        EventType::DocumentViewed | EventType::DocumentAccepted => "PackageData",
        EventType::DocumentDisputed => "DocumentDisputedData",
        EventType::PaymentMatched => "PaymentMatchedData",
        EventType::DunningStepReached => "DunningStepReachedData",
        EventType::CustomerSuspended => "CustomerSuspendedData",
        EventType::CustomerRestored => "CustomerRestoredData",
        EventType::UsageRejected => "UsageRejectedData",
        EventType::Ping => "PingData",
    }
}

/// Every event data schema, to add to the document's components.
pub fn data_schemas() -> Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)> {
    use event_data::*;
    fn one<T: ToSchema>() -> (
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    ) {
        (T::name().into_owned(), T::schema())
    }
    vec![
        one::<OrderPlacedData>(),
        one::<OrderLineCancelledData>(),
        one::<WorkOrderDoneData>(),
        one::<WorkOrderFailedData>(),
        one::<SubscriptionData>(),
        one::<SubscriptionCancelledData>(),
        one::<InvoiceIssuedData>(),
        one::<CreditNoteIssuedData>(),
        one::<PaymentReceivedData>(),
        one::<PaymentReversedData>(),
        one::<RefundSentData>(),
        one::<InvoicePaidData>(),
        one::<InvoiceOverdueData>(),
        one::<DocumentSignedData>(),
        one::<PeriodClosedData>(),
        one::<DocumentSentData>(),
        one::<PackageData>(),
        one::<DocumentDisputedData>(),
        one::<PaymentMatchedData>(),
        one::<DunningStepReachedData>(),
        one::<CustomerSuspendedData>(),
        one::<CustomerRestoredData>(),
        one::<UsageRejectedData>(),
        one::<OrganisationData>(),
        one::<OrganisationUpdatedData>(),
        one::<UserAddedData>(),
        one::<PingData>(),
    ]
}

/// `data` as one of the event data schemas.
fn data_one_of() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let mut one_of = utoipa::openapi::schema::OneOfBuilder::new();
    for (name, _) in data_schemas() {
        one_of = one_of.item(utoipa::openapi::Ref::from_schema_name(name));
    }
    utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::OneOf(one_of.build()))
}

/// The envelope every event travels in, in the feed and in webhook requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventEnvelope {
    /// The event's id (`evt_…`): the `webhook-id` of every delivery of it.
    #[schema(example = "evt_01JDQ8Z6X9V1A2B3C4D5E6F7G8")]
    pub id: String,
    /// The event type (`order.placed`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// Its position in the feed: later events have larger numbers. A retried delivery may
    /// arrive after a later event of the same object; compare `sequence`.
    pub sequence: u64,
    /// The customer it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// What happened: the fields of the change and who made it (`actor`); its schema is
    /// the one of its `type` (the `webhooks` section says which).
    #[schema(schema_with = data_one_of)]
    pub data: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    #[schema(value_type = Vec<EventEnvelope>)]
    pub items: Vec<serde_json::Value>,
    /// Pass as `after` to continue (also when the page is empty: the same position).
    pub next_cursor: String,
    /// Whether more events were already there.
    pub has_more: bool,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// The `next_cursor` of the previous page (a position of the feed); absent: from the
    /// oldest event kept (30 days at least).
    after: Option<String>,
    /// Comma-separated event types (`invoice.issued,payment.received`); absent: all.
    types: Option<String>,
    /// How many events at most (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u16>,
}

// ---------------------------------------------------------------------------------------
// Handlers

/// Every webhook endpoint (admins).
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<EndpointView>), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_endpoints(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<EndpointView>>> {
    let endpoints = state.services.webhooks().list(&caller).await?;
    Ok(Json(endpoints.iter().map(EndpointView::from).collect()))
}

/// Register an endpoint (admins). Its signing secret is in this response only.
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateEndpointRequest,
    responses((status = 201, body = EndpointWithSecretView), (status = 403, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn create_endpoint(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateEndpointRequest>,
) -> ApiResult<impl IntoResponse> {
    let new = NewEndpoint {
        url: url("url", &body.url)?,
        description: body.description,
        types: types(&body.types)?,
        enabled: body.enabled.unwrap_or(true),
    };
    let created = state.services.webhooks().create(&caller, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecretView::from(created)),
    ))
}

/// One endpoint (admins).
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = kopek_http::problem::Problem)))]
async fn get_endpoint(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    let endpoint = state
        .services
        .webhooks()
        .get(&caller, id_path(&endpoint_id)?)
        .await?;
    Ok(Json(EndpointView::from(&endpoint)))
}

/// Change an endpoint's URL, description, types, or switch it on or off (admins).
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path)), request_body = UpdateEndpointRequest,
    responses((status = 200, body = EndpointView), (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn update_endpoint(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(endpoint_id): Path<String>,
    JsonBody(body): JsonBody<UpdateEndpointRequest>,
) -> ApiResult<Json<EndpointView>> {
    let id: WebhookId = id_path(&endpoint_id)?;
    let change = EndpointChange {
        url: body.url.as_deref().map(|u| url("url", u)).transpose()?,
        description: body.description,
        types: body.types.as_deref().map(types).transpose()?,
        enabled: body.enabled,
    };
    let endpoint = state
        .services
        .webhooks()
        .update(&caller, id, change)
        .await?;
    Ok(Json(EndpointView::from(&endpoint)))
}

/// Delete an endpoint (admins): nothing more is delivered to it.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path)),
    responses((status = 204), (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .services
        .webhooks()
        .delete(&caller, id_path(&endpoint_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret (admins), in this response only; the old one keeps signing for
/// `overlap_seconds`.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint_id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path)), request_body = RotateSecretRequest,
    responses((status = 200, body = EndpointWithSecretView), (status = 404, body = kopek_http::problem::Problem), (status = 422, body = kopek_http::problem::Problem)))]
async fn rotate_secret(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(endpoint_id): Path<String>,
    JsonBody(body): JsonBody<RotateSecretRequest>,
) -> ApiResult<Json<EndpointWithSecretView>> {
    let id: WebhookId = id_path(&endpoint_id)?;
    let overlap = Duration::from_secs(body.overlap_seconds.unwrap_or(86_400));
    let rotated = state
        .services
        .webhooks()
        .rotate_secret(&caller, id, overlap)
        .await?;
    Ok(Json(EndpointWithSecretView::from(rotated)))
}

/// Send a `webhook.ping` to the endpoint now (admins): its delivery shows what the receiver
/// answered.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint_id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path)),
    responses((status = 202, body = DeliveryView), (status = 404, body = kopek_http::problem::Problem)))]
async fn ping_endpoint(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let delivery = state
        .services
        .webhooks()
        .ping(&caller, id_path(&endpoint_id)?)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(&delivery))))
}

/// Deliver again every event since a time that the endpoint wants (admins): new deliveries,
/// the same event ids.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path)), request_body = ReplaySinceRequest,
    responses((status = 202, body = ReplayedView), (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem)))]
async fn replay_since(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(endpoint_id): Path<String>,
    JsonBody(body): JsonBody<ReplaySinceRequest>,
) -> ApiResult<impl IntoResponse> {
    let id: WebhookId = id_path(&endpoint_id)?;
    let queued = state
        .services
        .webhooks()
        .replay_since(&caller, id, body.since)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayedView { queued })))
}

/// An endpoint's deliveries, newest first, with their attempts (admins).
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint_id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path), ListQuery),
    responses((status = 200, body = Paged<DeliveryView>), (status = 404, body = kopek_http::problem::Problem)))]
async fn list_deliveries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(endpoint_id): Path<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Paged<DeliveryView>>> {
    let id: WebhookId = id_path(&endpoint_id)?;
    let paging = query.paging(&state)?;
    let page = state
        .services
        .webhooks()
        .deliveries(&caller, id, paging)
        .await?;
    Ok(Json(Paged::from_page(&state, page, |d| {
        DeliveryView::from(&d)
    })))
}

/// One delivery with its attempts (admins).
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 404, body = kopek_http::problem::Problem)))]
async fn get_delivery(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((endpoint_id, delivery_id)): Path<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    let delivery = state
        .services
        .webhooks()
        .delivery(&caller, id_path(&endpoint_id)?, id_path(&delivery_id)?)
        .await?;
    Ok(Json(DeliveryView::from(&delivery)))
}

/// Queue a delivery again now, whatever became of it (admins).
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, body = DeliveryView), (status = 404, body = kopek_http::problem::Problem), (status = 409, body = kopek_http::problem::Problem)))]
async fn replay_delivery(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((endpoint_id, delivery_id)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let delivery = state
        .services
        .webhooks()
        .replay(&caller, id_path(&endpoint_id)?, id_path(&delivery_id)?)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(&delivery))))
}

/// The events feed, for CRMs that poll: every event in order, resumable with `after`, kept
/// for at least 30 days (staff and their API keys).
#[utoipa::path(get, path = "/v1/events", tag = "webhooks", security(("bearer" = [])),
    params(EventsQuery),
    responses((status = 200, body = EventPage), (status = 400, body = kopek_http::problem::Problem), (status = 403, body = kopek_http::problem::Problem)))]
async fn list_events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<EventsQuery>,
) -> ApiResult<Json<EventPage>> {
    let after = match query.after.as_deref() {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::bad_request("invalid_query", "after must be a next_cursor of this feed")
                .with_field("after")
        })?,
    };
    let names: Vec<String> = query
        .types
        .as_deref()
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let filter = EventFilter::parse(&names)
        .map_err(|e| ApiError::bad_request("invalid_query", e.reason).with_field("types"))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(
            ApiError::bad_request("invalid_query", "limit must be between 1 and 500")
                .with_field("limit"),
        );
    }
    let page = state
        .services
        .webhooks()
        .events(&caller, after, &filter, usize::from(limit))
        .await?;
    Ok(Json(EventPage {
        items: page.events,
        next_cursor: page.next.to_string(),
        has_more: page.more,
    }))
}

/// The document's `webhooks` section (OpenAPI 3.1): for each event type, the POST a
/// receiver gets — the envelope, and the Standard Webhooks headers.
pub fn webhooks_section() -> serde_json::Value {
    let mut section = serde_json::Map::new();
    for kind in EventType::ALL {
        section.insert(
            kind.as_str().to_owned(),
            json!({
                "post": {
                    "summary": kind.as_str(),
                    "description": format!("Sent when `{kind}` happens, to every enabled endpoint that wants it. Answer 2xx within 15 s; anything else is retried (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h)."),
                    "parameters": [
                        {"name": "webhook-id", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The event's id, the same in every retry and replay: deduplicate by it."},
                        {"name": "webhook-timestamp", "in": "header", "required": true, "schema": {"type": "string"}, "description": "Seconds since the epoch when this attempt was signed."},
                        {"name": "webhook-signature", "in": "header", "required": true, "schema": {"type": "string"}, "description": "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` under the endpoint's secret; during a rotation, one for each secret, space-separated."},
                    ],
                    "requestBody": {
                        "required": true,
                        "content": {"application/json": {"schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/EventEnvelope"},
                                {"type": "object", "properties": {
                                    "type": {"const": kind.as_str()},
                                    "data": {"$ref": format!("#/components/schemas/{}", data_schema_of(*kind))}
                                }}
                            ]
                        }}}
                    },
                    "responses": {"2XX": {"description": "Received."}}
                }
            }),
        );
    }
    serde_json::Value::Object(section)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use kopek_domain::charges::EventKind;
    use kopek_domain::ids::*;
    use kopek_domain::money::{Currency, Money};
    use kopek_domain::orders::UserOrKey;
    use kopek_domain::period::BillingPeriod;
    use rust_decimal::Decimal;

    /// One event of every kind Kopek sends.
    fn samples() -> Vec<EventKind> {
        let money = Money::new(Decimal::new(15750, 2), Currency::RUB);
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
        let quantity =
            kopek_domain::pricing::Quantity::new(Decimal::new(15, 1)).expect("a quantity");
        let state = kopek_domain::charges::OrganisationState {
            legal_name: "ООО «Ромашка»".into(),
            tax_id: "7707083893".into(),
            kpp: None,
            billing_email: "billing@romashka.ru".into(),
            billing_address: "Москва".into(),
            currency: Currency::RUB,
            language: kopek_domain::accounts::DocumentLanguage::Ru,
            payment_terms_days: None,
            status: kopek_domain::accounts::OrgStatus::Active,
            external_ref: Some("crm-1".into()),
        };
        vec![
            EventKind::OrderPlaced {
                order: OrderId::new(),
                lines: 2,
                expected_total: money,
            },
            EventKind::OrderLineCancelled {
                order: OrderId::new(),
                line_no: 1,
                work_order: WorkOrderId::new(),
            },
            EventKind::WorkOrderDone {
                order: OrderId::new(),
                line_no: 1,
                work_order: WorkOrderId::new(),
                batch: BatchId::new(),
                actual_quantity: quantity,
                charge: ChargeId::new(),
                amount: money,
            },
            EventKind::WorkOrderFailed {
                order: OrderId::new(),
                line_no: 1,
                work_order: WorkOrderId::new(),
                batch: BatchId::new(),
                reason: "no access".into(),
            },
            EventKind::SubscriptionStarted {
                subscription: SubscriptionId::new(),
                service: "VPS-S".parse().expect("a code"),
                quantity,
                from: day,
            },
            EventKind::SubscriptionChanged {
                subscription: SubscriptionId::new(),
                service: "VPS-S".parse().expect("a code"),
                quantity,
                from: day,
            },
            EventKind::SubscriptionCancelled {
                subscription: SubscriptionId::new(),
                ends_on: day,
            },
            EventKind::InvoiceIssued {
                invoice: InvoiceId::new(),
                number: "KPK-2026-000001".into(),
                period: BillingPeriod::new(2026, 11).expect("a period"),
                gross: money,
                due_on: day,
            },
            EventKind::CreditNoteIssued {
                credit_note: CreditNoteId::new(),
                number: "KPK-CN-2026-000001".into(),
                invoice: InvoiceId::new(),
                gross: money,
            },
            EventKind::PaymentReceived {
                payment: PaymentId::new(),
                reference: "п/п 1".into(),
                amount: money,
                settled: vec![InvoiceId::new()],
                to_credit: money,
            },
            EventKind::PaymentReversed {
                payment: PaymentId::new(),
                reference: "п/п 1".into(),
                amount: money,
                reason: "mistake".into(),
                reopened: vec![],
            },
            EventKind::RefundSent {
                refund: RefundId::new(),
                reference: "возврат 1".into(),
                amount: money,
            },
            EventKind::OrganisationCreated {
                state: state.clone(),
            },
            EventKind::OrganisationUpdated {
                changed: vec!["language".into()],
                state,
            },
            EventKind::UserAdded {
                user: UserId::new(),
                name: "Пётр Сидоров".into(),
                email: "petr@romashka.ru".into(),
                role: kopek_domain::accounts::Role::Customer,
            },
            EventKind::PeriodClosed {
                period: BillingPeriod::new(2026, 11).expect("a period"),
                invoice: Some(InvoiceId::new()),
            },
            EventKind::DocumentSigned {
                document: kopek_domain::ids::DocumentId::new(),
                doc_type: kopek_domain::documents::DocumentType::Act,
                number: "KPK-2026-000001".into(),
                period: BillingPeriod::new(2026, 11).expect("a period"),
            },
            EventKind::DocumentSent {
                package: kopek_domain::ids::PackageId::new(),
                period: BillingPeriod::new(2026, 11).expect("a period"),
                documents: vec![kopek_domain::ids::DocumentId::new()],
            },
            EventKind::DocumentViewed {
                package: kopek_domain::ids::PackageId::new(),
                period: BillingPeriod::new(2026, 11).expect("a period"),
            },
            EventKind::DocumentAccepted {
                package: kopek_domain::ids::PackageId::new(),
                period: BillingPeriod::new(2026, 11).expect("a period"),
            },
            EventKind::DocumentDisputed {
                package: kopek_domain::ids::PackageId::new(),
                period: BillingPeriod::new(2026, 11).expect("a period"),
                reason: "the act's quantity is wrong".into(),
            },
            EventKind::InvoiceOverdue {
                invoice: InvoiceId::new(),
                number: "KPK-2026-000001".into(),
                open: money,
                due_on: day,
            },
            EventKind::InvoicePaid {
                invoice: InvoiceId::new(),
                number: "KPK-2026-000001".into(),
                gross: money,
                payment: PaymentId::new(),
            },
            EventKind::PaymentMatched {
                payment: PaymentId::new(),
                reference: "п/п 1".into(),
                amount: money,
                settled: vec![InvoiceId::new()],
            },
            EventKind::DunningStepReached {
                step: 2,
                kind: kopek_domain::dunning::StepKind::OverdueNotice,
                overdue: money,
                on: day,
            },
            EventKind::CustomerSuspended {
                overdue: money,
                on: day,
            },
            EventKind::CustomerRestored { on: day },
            EventKind::UsageRejected {
                rejected: "rej_0123456789abcdef0123456789abcdef".into(),
                reason: kopek_domain::usage::RejectReason::UnknownMeter,
                field: "meter".into(),
                detail: "no service `gpu-hours` in the catalog".into(),
                meter: Some("gpu-hours".into()),
                event_id: Some("evt-42".into()),
            },
        ]
    }

    #[test]
    fn every_event_types_data_is_what_its_schema_documents() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document");
        let mut documented = std::collections::BTreeSet::new();
        for kind in samples() {
            let event_type = kopek_domain::webhooks::event_type(&kind).expect("sent");
            let data = kopek_domain::webhooks::data(&kind, &UserOrKey::User(UserId::new()));
            let name = data_schema_of(event_type);
            documented.insert(event_type);
            let schema = properties_of(&doc, &doc["components"]["schemas"][name]);
            assert!(
                !schema["properties"].is_null(),
                "{name} is not in the document"
            );
            let properties: std::collections::BTreeSet<&str> = schema["properties"]
                .as_object()
                .expect("properties")
                .keys()
                .map(String::as_str)
                .collect();
            let written: std::collections::BTreeSet<&str> = data
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(written, properties, "{event_type}");
            for (field, value) in data.as_object().expect("an object") {
                let property = &schema["properties"][field];
                let is_amount = property["$ref"] == "#/components/schemas/Amount";
                if is_amount {
                    let text = value.as_str().expect("an amount is a string");
                    assert!(regex_free_amount(text), "{event_type}.{field}: {text}");
                }
                match property["type"].as_str() {
                    Some("string") => assert!(value.is_string(), "{event_type}.{field}: {value}"),
                    Some("integer") => assert!(value.is_u64(), "{event_type}.{field}: {value}"),
                    Some("array") => assert!(value.is_array(), "{event_type}.{field}: {value}"),
                    _ => {}
                }
            }
        }
        // Kopek sends every type: each has a sample here.
        for kind in EventType::ALL {
            if *kind != EventType::Ping {
                assert!(documented.contains(kind), "{kind} has no sample");
            }
        }
        let section = webhooks_section();
        assert_eq!(
            section.as_object().map(|s| s.len()),
            Some(EventType::ALL.len())
        );
    }

    /// A schema with the properties of its `allOf` parts (followed through `$ref`s) merged in.
    fn properties_of(doc: &serde_json::Value, schema: &serde_json::Value) -> serde_json::Value {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            return properties_of(doc, &doc["components"]["schemas"][name]);
        }
        let mut merged = serde_json::Map::new();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            if let Some(p) = properties_of(doc, part)["properties"].as_object() {
                merged.extend(p.clone());
            }
        }
        if let Some(p) = schema["properties"].as_object() {
            merged.extend(p.clone());
        }
        if merged.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::json!({ "properties": merged })
    }

    /// Exactly two decimals, as RUB's minor units.
    fn regex_free_amount(text: &str) -> bool {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        !whole.is_empty()
            && whole.chars().all(|c| c.is_ascii_digit() || c == '-')
            && fraction.len() == 2
    }
}
