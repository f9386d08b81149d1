//! Outgoing webhooks, as [Standard Webhooks](https://www.standardwebhooks.com/) defines them:
//! the event types a CRM subscribes to, the envelope every event travels in, the signing
//! secret (`whsec_…`) and the signature over `id.timestamp.body`, the retry schedule, when a
//! failing endpoint is disabled, and which addresses a delivery may never reach.
//!
//! No I/O: the services decide with these rules, the delivery adapter sends.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::charges::{DomainEvent, EventKind};
use crate::ids::{DeliveryId, EventId, OrgId, WebhookId};
use crate::money::Money;
use crate::orders::UserOrKey;

/// Why a webhook setting was refused; `field` names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct WebhookError {
    pub field: &'static str,
    pub reason: String,
}

fn refuse(field: &'static str, reason: impl Into<String>) -> WebhookError {
    WebhookError {
        field,
        reason: reason.into(),
    }
}

macro_rules! event_types {
    ($($(#[$meta:meta])* $variant:ident = $name:literal,)+) => {
        /// What happened, as a CRM subscribes to it (`order.placed`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $($(#[$meta])* $variant,)+
        }

        impl EventType {
            /// Every type, in the order the documentation lists them.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)+];

            /// Its name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }
        }

        impl FromStr for EventType {
            type Err = WebhookError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(EventType::$variant),)+
                    other => Err(refuse("types", format!("`{other}` is not an event type"))),
                }
            }
        }
    };
}

event_types! {
    OrganisationCreated = "organisation.created",
    OrganisationUpdated = "organisation.updated",
    UserAdded = "user.added",
    OrderPlaced = "order.placed",
    OrderLineCancelled = "order.line_cancelled",
    WorkOrderDone = "work_order.done",
    WorkOrderFailed = "work_order.failed",
    SubscriptionStarted = "subscription.started",
    SubscriptionChanged = "subscription.changed",
    SubscriptionCancelled = "subscription.cancelled",
    UsageRejected = "usage.rejected",
    InvoiceIssued = "invoice.issued",
    InvoicePaid = "invoice.paid",
    InvoiceOverdue = "invoice.overdue",
    CreditNoteIssued = "credit_note.issued",
    PaymentReceived = "payment.received",
    PaymentMatched = "payment.matched",
    PaymentReversed = "payment.reversed",
    RefundSent = "refund.sent",
    DocumentSigned = "document.signed",
    DocumentSent = "document.sent",
    DocumentViewed = "document.viewed",
    DocumentAccepted = "document.accepted",
    DocumentDisputed = "document.disputed",
    DunningStepReached = "dunning.step_reached",
    CustomerSuspended = "customer.suspended",
    CustomerRestored = "customer.restored",
    PeriodClosed = "period.closed",
    /// Sent only by `POST /v1/webhook-endpoints/{id}/test`: checks an endpoint end to end.
    Ping = "webhook.ping",
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The event types an endpoint wants: all of them, or those named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventFilter(Vec<EventType>);

impl EventFilter {
    /// Every type (an empty list).
    pub fn all() -> Self {
        Self(Vec::new())
    }

    /// The types named, sorted and without repeats; an empty list means every type.
    pub fn of(mut types: Vec<EventType>) -> Self {
        types.sort();
        types.dedup();
        Self(types)
    }

    /// Parses the names of the types (`order.placed`), refusing an unknown one.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, WebhookError> {
        names
            .iter()
            .map(|n| n.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(Self::of)
    }

    pub fn wants(&self, kind: EventType) -> bool {
        kind == EventType::Ping || self.0.is_empty() || self.0.contains(&kind)
    }

    /// The types named (empty: all).
    pub fn types(&self) -> &[EventType] {
        &self.0
    }
}

/// Where an endpoint receives events: an absolute `https` (or `http`) URL without
/// credentials or fragment, at most 2,048 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EndpointUrl {
    url: String,
    host: String,
    port: u16,
}

/// The longest URL taken.
pub const MAX_URL_LEN: usize = 2048;

impl EndpointUrl {
    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        let text = text.trim();
        if text.len() > MAX_URL_LEN {
            return Err(refuse("url", format!("at most {MAX_URL_LEN} characters")));
        }
        let url = url::Url::parse(text).map_err(|e| refuse("url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(refuse("url", "must be an https:// (or http://) URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse(
                "url",
                "must not carry credentials: the signature authenticates Kopek",
            ));
        }
        if url.fragment().is_some() {
            return Err(refuse("url", "must not have a fragment (#…)"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(refuse("url", "must name a host")),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| refuse("url", "must have a port"))?;
        Ok(Self {
            url: url.to_string(),
            host,
            port,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host, without brackets for IPv6.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL names an address rather than a name.
    pub fn literal_ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl TryFrom<String> for EndpointUrl {
    type Error = WebhookError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EndpointUrl> for String {
    fn from(u: EndpointUrl) -> String {
        u.url
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// Whether a delivery may connect to `ip`: only public unicast addresses. Loopback, private
/// (RFC 1918, unique local), shared (100.64/10), link-local (169.254/16 — the cloud's
/// metadata service — and fe80::/10), unspecified, multicast, broadcast, documentation and
/// reserved ranges are refused, also inside IPv4-mapped IPv6.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && ip.segments()[1] == 0x0db8
        || first == 0x0064 && ip.segments()[1] == 0xff9b)
}

/// An endpoint's signing secret: `whsec_` and 32 random bytes in base64. Shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    pub const PREFIX: &'static str = "whsec_";

    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        let rest = text
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| refuse("secret", "must start with whsec_"))?;
        let bytes = STANDARD
            .decode(rest)
            .map_err(|_| refuse("secret", "must be base64 after whsec_"))?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(refuse("secret", "must hold 24 to 64 bytes"));
        }
        Ok(Self(bytes))
    }

    /// The secret as the receiver configures it (`whsec_…`).
    pub fn expose(&self) -> String {
        format!("{}{}", Self::PREFIX, STANDARD.encode(&self.0))
    }

    /// The signature of one delivery: `v1,` and the base64 HMAC-SHA256 of
    /// `{id}.{timestamp}.{body}` under the secret's bytes.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

impl TryFrom<String> for SigningSecret {
    type Error = WebhookError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SigningSecret> for String {
    fn from(s: SigningSecret) -> String {
        s.expose()
    }
}

/// An endpoint's secrets: the current one, and the one it replaced while their overlap lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    pub current: SigningSecret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<SigningSecret>,
    /// Until when the previous secret signs too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_until: Option<DateTime<Utc>>,
}

/// The longest overlap of a rotation: a week.
pub const MAX_OVERLAP: Duration = Duration::from_secs(7 * 24 * 3600);

impl Secrets {
    pub fn new(current: SigningSecret) -> Self {
        Self {
            current,
            previous: None,
            previous_until: None,
        }
    }

    /// A new current secret; the old one keeps signing for `overlap` (at most a week).
    pub fn rotate(
        &self,
        next: SigningSecret,
        now: DateTime<Utc>,
        overlap: Duration,
    ) -> Result<Self, WebhookError> {
        if overlap > MAX_OVERLAP {
            return Err(refuse("overlap_seconds", "at most 604800 (a week)"));
        }
        let until = now
            + chrono::Duration::from_std(overlap)
                .map_err(|_| refuse("overlap_seconds", "out of range"))?;
        Ok(Self {
            current: next,
            previous: (!overlap.is_zero()).then(|| self.current.clone()),
            previous_until: (!overlap.is_zero()).then_some(until),
        })
    }

    /// The secrets that sign at `now`: the current one first.
    pub fn signing(&self, now: DateTime<Utc>) -> Vec<&SigningSecret> {
        let mut all = vec![&self.current];
        if let (Some(previous), Some(until)) = (&self.previous, self.previous_until)
            && now < until
        {
            all.push(previous);
        }
        all
    }

    /// The `webhook-signature` header: one `v1,…` per signing secret, space-separated.
    pub fn signature_header(
        &self,
        id: &str,
        timestamp: i64,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> String {
        self.signing(now)
            .iter()
            .map(|s| s.sign(id, timestamp, body))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A CRM's endpoint, as an admin registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub id: WebhookId,
    pub url: EndpointUrl,
    pub description: String,
    pub types: EventFilter,
    pub enabled: bool,
    /// Why it was disabled, when Kopek disabled it (an admin's switch leaves none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub secrets: Secrets,
    /// Since when every attempt failed (cleared by a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The longest description kept.
pub const MAX_DESCRIPTION: usize = 500;

/// A description, trimmed, at most [`MAX_DESCRIPTION`] characters.
pub fn description(text: &str) -> Result<String, WebhookError> {
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(refuse(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(text.to_owned())
}

impl Endpoint {
    /// Whether a delivery of `kind` goes to it now.
    pub fn receives(&self, kind: EventType) -> bool {
        self.enabled && self.types.wants(kind)
    }

    /// After an attempt: the failing streak updated, and the endpoint disabled when it has
    /// failed for [`DISABLE_AFTER`]. Returns whether anything changed, and whether it was
    /// disabled just now.
    pub fn after_attempt(&mut self, succeeded: bool, now: DateTime<Utc>) -> (bool, bool) {
        if succeeded {
            let changed = self.failing_since.is_some()
                || self
                    .last_success_at
                    .is_none_or(|last| now - last > chrono::Duration::hours(1));
            self.failing_since = None;
            if changed {
                self.last_success_at = Some(now);
            }
            return (changed, false);
        }
        if self.failing_since.is_none() {
            self.failing_since = Some(now);
            return (true, false);
        }
        if self.enabled && should_disable(self.failing_since, now) {
            self.enabled = false;
            self.disabled_reason = Some(format!(
                "every delivery failed for {} days",
                DISABLE_AFTER.as_secs() / 86_400
            ));
            return (true, true);
        }
        (false, false)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Queued, not tried yet.
    Pending,
    /// Failed; tried again at `next_attempt_at`.
    Retrying,
    Succeeded,
    /// Every attempt of the schedule failed (or the endpoint was disabled); replayable.
    Failed,
}

/// One request made (or refused before it was made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The HTTP status answered, if any answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// The answer's first [`KEPT_RESPONSE`] bytes.
    #[serde(default)]
    pub response: String,
    /// Why no answer came (timeout, refused address, connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// At most this many attempts are kept with a delivery (the newest).
pub const KEPT_ATTEMPTS: usize = 30;

/// One event's delivery to one endpoint, with every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint: WebhookId,
    pub event: EventId,
    pub kind: EventType,
    pub sequence: u64,
    /// The envelope's bytes, as every attempt sends them.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    /// Attempts made since it was queued or last replayed (the retry schedule's count).
    pub tries: usize,
    /// Attempts made in all (the log keeps the newest [`KEPT_ATTEMPTS`]).
    pub attempts_made: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Done,
    RetryAfter(Duration),
    GaveUp,
}

impl Delivery {
    pub fn new(endpoint: WebhookId, envelope: &Envelope, body: String, now: DateTime<Utc>) -> Self {
        Self {
            id: DeliveryId::new(),
            endpoint,
            event: envelope.id,
            kind: envelope.kind,
            sequence: envelope.sequence,
            body,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            tries: 0,
            attempts_made: 0,
            next_attempt_at: None,
            created_at: now,
        }
    }

    /// The number the next attempt has (1 for the first): a queue message for another
    /// number is stale.
    pub fn next_attempt(&self) -> usize {
        self.attempts_made + 1
    }

    /// Records `attempt` and decides what follows it.
    pub fn record(&mut self, attempt: Attempt) -> Next {
        let ok = attempt.succeeded();
        let at = attempt.at;
        self.attempts.push(attempt);
        if self.attempts.len() > KEPT_ATTEMPTS {
            self.attempts.remove(0);
        }
        self.attempts_made += 1;
        self.tries += 1;
        if ok {
            self.status = DeliveryStatus::Succeeded;
            self.next_attempt_at = None;
            return Next::Done;
        }
        match retry_after(self.tries) {
            Some(wait) => {
                self.status = DeliveryStatus::Retrying;
                self.next_attempt_at = chrono::Duration::from_std(wait).ok().map(|w| at + w);
                Next::RetryAfter(wait)
            }
            None => {
                self.status = DeliveryStatus::Failed;
                self.next_attempt_at = None;
                Next::GaveUp
            }
        }
    }

    /// Given up without a request: the endpoint is disabled or gone.
    pub fn abandon(&mut self, why: &str, now: DateTime<Utc>) {
        self.attempts.push(Attempt {
            at: now,
            status_code: None,
            duration_ms: 0,
            response: String::new(),
            error: Some(why.to_owned()),
        });
        self.attempts_made += 1;
        self.give_up();
    }

    /// No more attempts (its endpoint was disabled): failed, replayable.
    pub fn give_up(&mut self) {
        self.status = DeliveryStatus::Failed;
        self.next_attempt_at = None;
    }

    /// Queued again by hand: a new round of the retry schedule.
    pub fn replay(&mut self, now: DateTime<Utc>) {
        self.status = DeliveryStatus::Pending;
        self.tries = 0;
        self.next_attempt_at = Some(now);
    }
}

/// What one event says, in the envelope every delivery and the events feed carry:
/// `{"id", "type", "timestamp", "sequence", "org_id", "data"}`. `id` is the `webhook-id` of
/// every delivery of it (retries and replays included), so a receiver deduplicates by it;
/// `sequence` orders the feed, and tells a receiver when a retry arrived after a later
/// event of the same object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub timestamp: DateTime<Utc>,
    pub sequence: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<OrgId>,
    pub data: serde_json::Value,
}

impl Envelope {
    /// The envelope of a domain event at `sequence` of the feed, or `None` for an event no
    /// CRM is told of.
    pub fn of(event: &DomainEvent, sequence: u64) -> Option<Self> {
        let kind = event_type(&event.kind)?;
        Some(Self {
            id: event.id,
            kind,
            timestamp: event.at,
            sequence,
            org_id: Some(event.org),
            data: data(&event.kind, &event.actor),
        })
    }
}

/// An amount as the API writes it: exactly the currency's minor units, as a string.
fn amount(money: &Money) -> serde_json::Value {
    serde_json::Value::String(money.round_to_minor().amount_text())
}

/// Who acted, as every event's data says: `{"user": "usr_…"}`, `{"api_key": "key_…"}` or
/// `"system"`.
fn actor(actor: &UserOrKey) -> serde_json::Value {
    serde_json::to_value(actor).unwrap_or(serde_json::Value::Null)
}

/// What an event's `data` holds, in the API's wire forms: ids as `…_id`, amounts as strings
/// of exactly the currency's minor units with the `currency` beside them, dates as
/// `YYYY-MM-DD`, quantities as decimal strings. The OpenAPI document's `webhooks` section
/// gives each type's schema (and a test compares them with this).
pub fn data(kind: &EventKind, by: &UserOrKey) -> serde_json::Value {
    use serde_json::json;
    let mut data = match kind {
        EventKind::OrderPlaced {
            order,
            lines,
            expected_total,
        } => json!({"order_id": order, "lines": lines,
                    "expected_total": amount(expected_total), "currency": expected_total.currency()}),
        EventKind::OrderLineCancelled {
            order,
            line_no,
            work_order,
        } => json!({"order_id": order, "line_no": line_no, "work_order_id": work_order}),
        EventKind::WorkOrderDone {
            order,
            line_no,
            work_order,
            batch,
            actual_quantity,
            charge,
            amount: charged,
        } => json!({"order_id": order, "line_no": line_no, "work_order_id": work_order,
                    "batch_id": batch, "actual_quantity": actual_quantity, "charge_id": charge,
                    "amount": amount(charged), "currency": charged.currency()}),
        EventKind::WorkOrderFailed {
            order,
            line_no,
            work_order,
            batch,
            reason,
        } => json!({"order_id": order, "line_no": line_no, "work_order_id": work_order,
                    "batch_id": batch, "reason": reason}),
        EventKind::SubscriptionStarted {
            subscription,
            service,
            quantity,
            from,
        }
        | EventKind::SubscriptionChanged {
            subscription,
            service,
            quantity,
            from,
        } => json!({"subscription_id": subscription, "service": service,
                    "quantity": quantity, "from": from}),
        EventKind::SubscriptionCancelled {
            subscription,
            ends_on,
        } => json!({"subscription_id": subscription, "ends_on": ends_on}),
        EventKind::InvoiceIssued {
            invoice,
            number,
            period,
            gross,
            due_on,
        } => json!({"invoice_id": invoice, "number": number, "period": period,
                    "gross": amount(gross), "currency": gross.currency(), "due_on": due_on}),
        EventKind::CreditNoteIssued {
            credit_note,
            number,
            invoice,
            gross,
        } => json!({"credit_note_id": credit_note, "number": number, "invoice_id": invoice,
                    "gross": amount(gross), "currency": gross.currency()}),
        EventKind::PaymentReceived {
            payment,
            reference,
            amount: paid,
            settled,
            to_credit,
        } => json!({"payment_id": payment, "reference": reference, "amount": amount(paid),
                    "currency": paid.currency(), "settled_invoice_ids": settled,
                    "to_credit": amount(to_credit)}),
        EventKind::PaymentReversed {
            payment,
            reference,
            amount: reversed,
            reason,
            reopened,
        } => json!({"payment_id": payment, "reference": reference,
                    "amount": amount(reversed), "currency": reversed.currency(),
                    "reason": reason, "reopened_invoice_ids": reopened}),
        EventKind::RefundSent {
            refund,
            reference,
            amount: sent,
        } => json!({"refund_id": refund, "reference": reference, "amount": amount(sent),
                    "currency": sent.currency()}),
        EventKind::OrganisationCreated { state } => organisation(state, None),
        EventKind::OrganisationUpdated { changed, state } => organisation(state, Some(changed)),
        EventKind::UserAdded {
            user,
            name,
            email,
            role,
        } => json!({"user_id": user, "name": name, "email": email, "role": role,
                    "status": "invited"}),
        EventKind::InvoiceOverdue {
            invoice,
            number,
            open,
            due_on,
        } => json!({"invoice_id": invoice, "number": number, "open": amount(open),
                    "currency": open.currency(), "due_on": due_on}),
        EventKind::InvoicePaid {
            invoice,
            number,
            gross,
            payment,
        } => json!({"invoice_id": invoice, "number": number, "gross": amount(gross),
                    "currency": gross.currency(), "payment_id": payment}),
        EventKind::PaymentMatched {
            payment,
            reference,
            amount: matched,
            settled,
        } => json!({"payment_id": payment, "reference": reference, "amount": amount(matched),
                    "currency": matched.currency(), "settled_invoice_ids": settled}),
        EventKind::PeriodClosed { period, invoice } => {
            json!({"period": period, "invoice_id": invoice})
        }
        EventKind::DocumentSigned {
            document,
            doc_type,
            number,
            period,
        } => json!({"document_id": document, "doc_type": doc_type, "number": number,
                    "period": period}),
        EventKind::DocumentSent {
            package,
            period,
            documents,
        } => json!({"package_id": package, "period": period, "document_ids": documents}),
        EventKind::DocumentViewed { package, period }
        | EventKind::DocumentAccepted { package, period } => {
            json!({"package_id": package, "period": period})
        }
        EventKind::DocumentDisputed {
            package,
            period,
            reason,
        } => json!({"package_id": package, "period": period, "reason": reason}),
        EventKind::DunningStepReached {
            step,
            kind,
            overdue,
            on,
        } => json!({"step": step, "kind": kind, "overdue": amount(overdue),
                    "currency": overdue.currency(), "on": on}),
        EventKind::CustomerSuspended { overdue, on } => json!({"overdue": amount(overdue),
                    "currency": overdue.currency(), "on": on}),
        EventKind::CustomerRestored { on } => json!({"on": on}),
        EventKind::UsageRejected {
            rejected,
            reason,
            field,
            detail,
            meter,
            event_id,
        } => json!({"rejected_id": rejected, "reason": reason, "field": field,
                    "detail": detail, "meter": meter, "event_id": event_id}),
    };
    if let serde_json::Value::Object(fields) = &mut data {
        fields.insert("actor".into(), actor(by));
    }
    data
}

/// An organisation's data: its state, and what changed where something did.
fn organisation(
    state: &crate::charges::OrganisationState,
    changed: Option<&Vec<String>>,
) -> serde_json::Value {
    let mut data = serde_json::to_value(state).unwrap_or_default();
    if let serde_json::Value::Object(fields) = &mut data {
        for optional in ["kpp", "payment_terms_days", "external_ref"] {
            fields.entry(optional).or_insert(serde_json::Value::Null);
        }
        if let Some(changed) = changed {
            fields.insert("changed".into(), serde_json::json!(changed));
        }
    }
    data
}

/// The webhook type of a domain event.
pub fn event_type(kind: &EventKind) -> Option<EventType> {
    Some(match kind {
        EventKind::OrderPlaced { .. } => EventType::OrderPlaced,
        EventKind::OrderLineCancelled { .. } => EventType::OrderLineCancelled,
        EventKind::WorkOrderDone { .. } => EventType::WorkOrderDone,
        EventKind::WorkOrderFailed { .. } => EventType::WorkOrderFailed,
        EventKind::SubscriptionStarted { .. } => EventType::SubscriptionStarted,
        EventKind::SubscriptionChanged { .. } => EventType::SubscriptionChanged,
        EventKind::SubscriptionCancelled { .. } => EventType::SubscriptionCancelled,
        EventKind::InvoiceIssued { .. } => EventType::InvoiceIssued,
        EventKind::CreditNoteIssued { .. } => EventType::CreditNoteIssued,
        EventKind::PaymentReceived { .. } => EventType::PaymentReceived,
        EventKind::PaymentReversed { .. } => EventType::PaymentReversed,
        EventKind::RefundSent { .. } => EventType::RefundSent,
        EventKind::OrganisationCreated { .. } => EventType::OrganisationCreated,
        EventKind::OrganisationUpdated { .. } => EventType::OrganisationUpdated,
        EventKind::UserAdded { .. } => EventType::UserAdded,
        EventKind::InvoicePaid { .. } => EventType::InvoicePaid,
        EventKind::InvoiceOverdue { .. } => EventType::InvoiceOverdue,
        EventKind::DocumentSigned { .. } => EventType::DocumentSigned,
        EventKind::PeriodClosed { .. } => EventType::PeriodClosed,
        EventKind::DocumentSent { .. } => EventType::DocumentSent,
        EventKind::DocumentViewed { .. } => EventType::DocumentViewed,
        EventKind::DocumentAccepted { .. } => EventType::DocumentAccepted,
        EventKind::DocumentDisputed { .. } => EventType::DocumentDisputed,
        EventKind::PaymentMatched { .. } => EventType::PaymentMatched,
        EventKind::DunningStepReached { .. } => EventType::DunningStepReached,
        EventKind::CustomerSuspended { .. } => EventType::CustomerSuspended,
        EventKind::CustomerRestored { .. } => EventType::CustomerRestored,
        EventKind::UsageRejected { .. } => EventType::UsageRejected,
    })
}

/// When a failed delivery is tried again: after each failed attempt, the wait before the
/// next — 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h: ten attempts over about
/// three days (71 h 35 min). After the tenth the delivery has failed (it can be replayed).
pub const RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(20 * 3600),
];

/// The wait before attempt `attempts + 1`, after `attempts` failed ones; `None` when no
/// attempt is left.
pub fn retry_after(attempts: usize) -> Option<Duration> {
    attempts
        .checked_sub(1)
        .and_then(|i| RETRY_SCHEDULE.get(i).copied())
}

/// An endpoint whose every attempt failed for this long is disabled (and its admins told).
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);

/// Whether an endpoint failing since `failing_since` is disabled at `now`.
pub fn should_disable(failing_since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    failing_since.is_some_and(|since| {
        chrono::Duration::from_std(DISABLE_AFTER).is_ok_and(|limit| now - since >= limit)
    })
}

/// How long a delivery waits for an answer.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// How much of a response is kept with the attempt.
pub const KEPT_RESPONSE: usize = 1024;

/// The first [`KEPT_RESPONSE`] bytes of a response, cut at a character boundary.
pub fn trimmed(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(KEPT_RESPONSE)]);
    text.trim_end_matches('\u{FFFD}').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OrderId, UserId};
    use crate::money::Currency;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(*t));
        }
        let err = "order.eaten".parse::<EventType>().unwrap_err();
        assert_eq!(err.field, "types");
    }

    #[test]
    fn a_filter_wants_its_types_or_all_and_always_a_ping() {
        let some =
            EventFilter::parse(&["order.placed", "invoice.issued", "order.placed"]).expect("types");
        assert_eq!(some.types().len(), 2);
        assert!(some.wants(EventType::OrderPlaced));
        assert!(!some.wants(EventType::PaymentReceived));
        assert!(some.wants(EventType::Ping));
        assert!(EventFilter::all().wants(EventType::PaymentReceived));
        assert!(EventFilter::parse(&["nope"]).is_err());
    }

    #[test]
    fn urls_are_absolute_http_without_credentials() {
        let url = EndpointUrl::parse("https://crm.example.ru/hooks/kopek?x=1").expect("url");
        assert_eq!(url.host(), "crm.example.ru");
        assert_eq!(url.port(), 443);
        let local = EndpointUrl::parse("http://127.0.0.1:8088/in").expect("url");
        assert_eq!(local.literal_ip(), Some(IpAddr::from([127, 0, 0, 1])));
        let v6 = EndpointUrl::parse("http://[::1]:9/").expect("url");
        assert_eq!(v6.host(), "::1");
        for bad in [
            "ftp://crm.example.ru/",
            "https://user:pw@crm.example.ru/",
            "https://crm.example.ru/#x",
            "/relative",
            "not a url",
        ] {
            assert_eq!(EndpointUrl::parse(bad).unwrap_err().field, "url", "{bad}");
        }
        let long = format!("https://a.ru/{}", "x".repeat(MAX_URL_LEN));
        assert!(EndpointUrl::parse(&long).is_err());
    }

    #[test]
    fn only_public_unicast_addresses_are_reachable() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(refused.parse().expect("ip")), "{refused}");
        }
        for allowed in [
            "93.184.216.34",
            "8.8.8.8",
            "2a00:1450:4010::64",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(allowed.parse().expect("ip")), "{allowed}");
        }
    }

    #[test]
    fn a_signature_is_the_standard_one() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret =
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(SigningSecret::parse(&secret.expose()), Ok(secret));
        assert!(SigningSecret::parse("sk_abc").is_err());
        assert!(SigningSecret::parse("whsec_!!").is_err());
        assert_eq!(
            format!("{:?}", SigningSecret::generate()),
            "SigningSecret(***)"
        );
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends() {
        let now = Utc::now();
        let first = Secrets::new(SigningSecret::generate());
        let rotated = first
            .rotate(SigningSecret::generate(), now, Duration::from_secs(3600))
            .expect("rotation");
        assert_eq!(rotated.signing(now).len(), 2);
        assert_eq!(rotated.signing(now)[1], &first.current);
        let header = rotated.signature_header("evt_1", 1, b"{}", now);
        assert_eq!(header.split(' ').count(), 2);
        let later = now + chrono::Duration::hours(2);
        assert_eq!(rotated.signing(later).len(), 1);
        let at_once = first
            .rotate(SigningSecret::generate(), now, Duration::ZERO)
            .expect("rotation");
        assert_eq!(at_once.signing(now).len(), 1);
        assert_eq!(
            first
                .rotate(
                    SigningSecret::generate(),
                    now,
                    MAX_OVERLAP + Duration::from_secs(1)
                )
                .unwrap_err()
                .field,
            "overlap_seconds"
        );
    }

    #[test]
    fn retries_last_about_three_days_then_stop() {
        assert_eq!(retry_after(0), None);
        assert_eq!(retry_after(1), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(9), Some(Duration::from_secs(20 * 3600)));
        assert_eq!(retry_after(10), None);
        let total: u64 = RETRY_SCHEDULE.iter().map(Duration::as_secs).sum();
        assert_eq!(total, 71 * 3600 + 35 * 60 + 5);
    }

    #[test]
    fn an_endpoint_failing_for_five_days_is_disabled() {
        let now = Utc::now();
        assert!(!should_disable(None, now));
        assert!(!should_disable(Some(now - chrono::Duration::days(4)), now));
        assert!(should_disable(Some(now - chrono::Duration::days(5)), now));
    }

    #[test]
    fn a_domain_event_travels_in_its_envelope() {
        let org = OrgId::new();
        let event = DomainEvent::new(
            org,
            UserOrKey::User(UserId::new()),
            Utc::now(),
            EventKind::OrderPlaced {
                order: OrderId::new(),
                lines: 2,
                expected_total: Money::zero(Currency::RUB),
            },
        );
        let envelope = Envelope::of(&event, 7).expect("an envelope");
        assert_eq!(envelope.kind, EventType::OrderPlaced);
        assert_eq!(envelope.sequence, 7);
        assert_eq!(envelope.data["lines"], 2);
        assert_eq!(
            envelope.data["order_id"],
            serde_json::json!(event.kind.subject())
        );
        assert_eq!(envelope.data["expected_total"], "0.00");
        assert_eq!(envelope.data["currency"], "RUB");
        assert!(envelope.data["actor"]["user"].is_string());
        let text = serde_json::to_string(&envelope).expect("json");
        assert!(text.contains(r#""type":"order.placed""#));
        assert_eq!(
            serde_json::from_str::<Envelope>(&text).expect("back"),
            envelope
        );
    }

    fn attempt(code: Option<u16>) -> Attempt {
        Attempt {
            at: Utc::now(),
            status_code: code,
            duration_ms: 3,
            response: String::new(),
            error: code.is_none().then(|| "timed out".to_owned()),
        }
    }

    fn envelope() -> Envelope {
        Envelope {
            id: EventId::new(),
            kind: EventType::OrderPlaced,
            timestamp: Utc::now(),
            sequence: 1,
            org_id: None,
            data: serde_json::json!({}),
        }
    }

    #[test]
    fn a_delivery_retries_on_the_schedule_then_gives_up_and_a_replay_starts_over() {
        let mut d = Delivery::new(WebhookId::new(), &envelope(), "{}".into(), Utc::now());
        assert_eq!(d.next_attempt(), 1);
        assert_eq!(
            d.record(attempt(Some(500))),
            Next::RetryAfter(RETRY_SCHEDULE[0])
        );
        assert_eq!(d.status, DeliveryStatus::Retrying);
        assert!(d.next_attempt_at.is_some());
        assert_eq!(d.record(attempt(None)), Next::RetryAfter(RETRY_SCHEDULE[1]));
        for _ in 2..9 {
            assert!(matches!(d.record(attempt(Some(302))), Next::RetryAfter(_)));
        }
        assert_eq!(d.record(attempt(Some(503))), Next::GaveUp);
        assert_eq!(d.status, DeliveryStatus::Failed);
        assert_eq!(d.next_attempt(), 11);
        d.replay(Utc::now());
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.record(attempt(Some(204))), Next::Done);
        assert_eq!(d.status, DeliveryStatus::Succeeded);
        assert_eq!(d.attempts_made, 11);
        for _ in 0..40 {
            d.record(attempt(Some(500)));
        }
        assert_eq!(d.attempts.len(), KEPT_ATTEMPTS);
    }

    #[test]
    fn an_endpoint_tracks_its_failing_streak_and_is_disabled_after_five_days() {
        let now = Utc::now();
        let mut e = Endpoint {
            id: WebhookId::new(),
            url: EndpointUrl::parse("https://crm.example.ru/in").expect("url"),
            description: String::new(),
            types: EventFilter::all(),
            enabled: true,
            disabled_reason: None,
            secrets: Secrets::new(SigningSecret::generate()),
            failing_since: None,
            last_success_at: None,
            created_at: now,
        };
        assert!(e.receives(EventType::InvoiceIssued));
        assert_eq!(e.after_attempt(false, now), (true, false));
        assert_eq!(
            e.after_attempt(false, now + chrono::Duration::days(1)),
            (false, false)
        );
        assert_eq!(
            e.after_attempt(false, now + chrono::Duration::days(5)),
            (true, true)
        );
        assert!(!e.enabled);
        assert!(!e.receives(EventType::InvoiceIssued));
        assert!(e.disabled_reason.is_some());
        assert_eq!(
            e.after_attempt(true, now + chrono::Duration::days(6)),
            (true, false)
        );
        assert_eq!(e.failing_since, None);
        assert_eq!(
            e.after_attempt(true, now + chrono::Duration::days(6)),
            (false, false)
        );
    }

    #[test]
    fn descriptions_are_bounded() {
        assert_eq!(description("  CRM  ").expect("ok"), "CRM");
        assert_eq!(
            description(&"x".repeat(501)).unwrap_err().field,
            "description"
        );
    }

    #[test]
    fn a_response_is_kept_trimmed() {
        assert_eq!(trimmed(b"ok"), "ok");
        let long = "я".repeat(1000);
        let kept = trimmed(long.as_bytes());
        assert!(kept.len() <= KEPT_RESPONSE);
        assert!(kept.chars().all(|c| c == 'я'));
    }
}
