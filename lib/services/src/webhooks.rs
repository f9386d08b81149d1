//! Webhooks and the events feed: how Kopek tells a CRM what happened.
//!
//! Every event is written in the same transaction as the change that causes it, into the
//! outbox. The dispatcher ([`Webhooks::dispatch`], run by the outbox relay) gives each event
//! the next position of the **events feed** (`GET /v1/events`), stores it there for 35 days,
//! creates one **delivery** per endpoint that wants its type, and queues each delivery on
//! `WebhookQueue`; only then does the relay take the events out of the outbox, so a crash
//! repeats a dispatch rather than losing one (a repeated event keeps its id).
//!
//! [`Webhooks::deliver`] makes one attempt of one delivery (the `webhook-delivery`
//! function): the Standard Webhooks headers (`webhook-id` = the event's id, the same for
//! every attempt and replay; `webhook-timestamp`; `webhook-signature`, one `v1,` signature per
//! signing secret, both during a rotation's overlap), a POST through the checked client
//! (`kopek_aws::hooks`), the attempt logged. A failure is tried again on the schedule of
//! `kopek_domain::webhooks::RETRY_SCHEDULE`: waits up to 15 minutes as SQS delays, longer
//! ones by [`Webhooks::sweep`], which also re-queues any delivery whose message was lost.
//! An endpoint that failed every attempt for five days is disabled and its admins mailed.
//! Admins replay one delivery, or everything since a time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kopek_aws::dynamo::webhooks::{FeedEntry, StoredDelivery, StoredEndpoint};
use kopek_domain::accounts::{Principal, Role, Scope, UserStatus};
use kopek_domain::charges::DomainEvent;
use kopek_domain::ids::{DeliveryId, EventId, WebhookId};
use kopek_domain::webhooks::{
    Delivery, DeliveryStatus, Endpoint, EndpointUrl, Envelope, EventFilter, EventType, Next,
    Secrets, SigningSecret, WebhookError,
};
use serde::{Deserialize, Serialize};

use crate::access::BILLING_STAFF;
use crate::{Context, Error, Page, Paging, Result, StoreError};

/// The longest a wait is left to SQS (its maximum delay); longer waits are swept.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);
/// How long after its due time a waiting delivery is re-queued by the sweeper (the queue's
/// own message normally comes first).
pub const SWEEP_GRACE: Duration = Duration::from_secs(300);
/// Deliveries re-queued per sweep.
pub const SWEEP_BATCH: i32 = 100;
/// Events per page of the feed.
pub const MAX_FEED_PAGE: usize = 500;

impl From<WebhookError> for Error {
    fn from(e: WebhookError) -> Self {
        Error::invalid(e.field, e.reason)
    }
}

/// The queue message of one attempt: which delivery, and which attempt it is for (a
/// message for an attempt already made is stale and dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryMessage {
    pub endpoint: WebhookId,
    pub delivery: DeliveryId,
    pub attempt: usize,
}

/// A new endpoint, as an admin registers it.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: EndpointUrl,
    pub description: String,
    pub types: EventFilter,
    pub enabled: bool,
}

/// Changes to an endpoint (what is `None` stays).
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub url: Option<EndpointUrl>,
    pub description: Option<String>,
    pub types: Option<EventFilter>,
    pub enabled: Option<bool>,
}

/// An endpoint and its new signing secret, shown this once.
#[derive(Debug, Clone)]
pub struct WithSecret {
    pub endpoint: Endpoint,
    pub secret: String,
}

/// What one dispatch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Events placed in the feed.
    pub events: usize,
    /// Deliveries queued.
    pub deliveries: usize,
}

/// What became of one queue message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Attempted; what follows.
    Attempted { status: DeliveryStatus },
    /// Given up without a request: the endpoint is disabled or gone.
    Abandoned,
    /// The attempt was made already (a repeated or stale message), or the delivery is gone.
    Stale,
}

/// A page of the events feed: the envelopes (as JSON) and where to resume.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub events: Vec<serde_json::Value>,
    /// The position to pass as `after` next time (the last one read, or `after` itself).
    pub next: u64,
    /// Whether more events were already there.
    pub more: bool,
}

/// Webhook endpoints, deliveries and the events feed.
#[derive(Clone)]
pub struct Webhooks {
    ctx: Context,
}

fn admin(caller: &Principal, scope: Scope) -> Result<()> {
    caller.require_role(&[Role::Admin])?;
    caller.require_scope(scope)?;
    Ok(())
}

impl Webhooks {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Registers an endpoint; its signing secret is returned this once.
    pub async fn create(&self, caller: &Principal, new: NewEndpoint) -> Result<WithSecret> {
        admin(caller, Scope::AccountsWrite)?;
        let secret = SigningSecret::generate();
        let endpoint = Endpoint {
            id: WebhookId::new(),
            url: new.url,
            description: kopek_domain::webhooks::description(&new.description)?,
            types: new.types,
            enabled: new.enabled,
            disabled_reason: None,
            secrets: Secrets::new(secret.clone()),
            failing_since: None,
            last_success_at: None,
            created_at: self.ctx.now(),
        };
        self.ctx.store.create_webhook(&endpoint).await?;
        Ok(WithSecret {
            endpoint,
            secret: secret.expose(),
        })
    }

    /// Every endpoint.
    pub async fn list(&self, caller: &Principal) -> Result<Vec<Endpoint>> {
        admin(caller, Scope::AccountsRead)?;
        self.all().await
    }

    async fn all(&self) -> Result<Vec<Endpoint>> {
        Ok(self
            .ctx
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(|s| s.endpoint)
            .collect())
    }

    async fn stored(&self, id: WebhookId) -> Result<StoredEndpoint> {
        self.ctx.store.webhook(id).await?.ok_or(Error::NotFound)
    }

    /// An endpoint that is enabled (replays wait until it is).
    async fn enabled(&self, id: WebhookId) -> Result<Endpoint> {
        let endpoint = self.stored(id).await?.endpoint;
        if !endpoint.enabled {
            return Err(Error::conflict_on(
                "endpoint_disabled",
                "enabled",
                "the endpoint is disabled: enable it first",
            ));
        }
        Ok(endpoint)
    }

    /// One endpoint.
    pub async fn get(&self, caller: &Principal, id: WebhookId) -> Result<Endpoint> {
        admin(caller, Scope::AccountsRead)?;
        Ok(self.stored(id).await?.endpoint)
    }

    /// Changes an endpoint; enabling it again starts its failing streak afresh.
    pub async fn update(
        &self,
        caller: &Principal,
        id: WebhookId,
        change: EndpointChange,
    ) -> Result<Endpoint> {
        admin(caller, Scope::AccountsWrite)?;
        let description = change
            .description
            .as_deref()
            .map(kopek_domain::webhooks::description)
            .transpose()?;
        let StoredEndpoint { mut endpoint, rev } = self.stored(id).await?;
        if let Some(url) = change.url {
            endpoint.url = url;
        }
        if let Some(d) = description {
            endpoint.description = d;
        }
        if let Some(types) = change.types {
            endpoint.types = types;
        }
        if let Some(enabled) = change.enabled {
            if enabled && !endpoint.enabled {
                endpoint.failing_since = None;
            }
            endpoint.enabled = enabled;
            endpoint.disabled_reason = None;
        }
        self.ctx.store.save_webhook(&endpoint, rev).await?;
        Ok(endpoint)
    }

    /// Deletes an endpoint: nothing more is delivered to it.
    pub async fn delete(&self, caller: &Principal, id: WebhookId) -> Result<()> {
        admin(caller, Scope::AccountsWrite)?;
        let stored = self.stored(id).await?;
        if self.ctx.store.delete_webhook(id, stored.rev).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict("the endpoint changed meanwhile; retry".into()).into())
        }
    }

    /// A new signing secret, returned this once; the old one keeps signing for `overlap`.
    pub async fn rotate_secret(
        &self,
        caller: &Principal,
        id: WebhookId,
        overlap: Duration,
    ) -> Result<WithSecret> {
        admin(caller, Scope::AccountsWrite)?;
        let StoredEndpoint { mut endpoint, rev } = self.stored(id).await?;
        let secret = SigningSecret::generate();
        endpoint.secrets = endpoint
            .secrets
            .rotate(secret.clone(), self.ctx.now(), overlap)?;
        self.ctx.store.save_webhook(&endpoint, rev).await?;
        Ok(WithSecret {
            endpoint,
            secret: secret.expose(),
        })
    }

    /// One page of an endpoint's deliveries, newest first.
    pub async fn deliveries(
        &self,
        caller: &Principal,
        id: WebhookId,
        paging: Paging,
    ) -> Result<Page<Delivery>> {
        admin(caller, Scope::AccountsRead)?;
        self.stored(id).await?;
        Ok(self
            .ctx
            .store
            .deliveries(id, paging.limit, paging.start)
            .await?
            .map(|s| s.delivery))
    }

    /// One delivery with its attempts.
    pub async fn delivery(
        &self,
        caller: &Principal,
        id: WebhookId,
        delivery: DeliveryId,
    ) -> Result<Delivery> {
        admin(caller, Scope::AccountsRead)?;
        Ok(self
            .ctx
            .store
            .delivery(id, delivery)
            .await?
            .ok_or(Error::NotFound)?
            .delivery)
    }

    /// Queues a delivery again now (a new round of the retry schedule), whatever became of
    /// it; the receiver sees the same `webhook-id`.
    pub async fn replay(
        &self,
        caller: &Principal,
        id: WebhookId,
        delivery: DeliveryId,
    ) -> Result<Delivery> {
        admin(caller, Scope::AccountsWrite)?;
        self.enabled(id).await?;
        let StoredDelivery { mut delivery, rev } = self
            .ctx
            .store
            .delivery(id, delivery)
            .await?
            .ok_or(Error::NotFound)?;
        let now = self.ctx.now();
        delivery.replay(now);
        self.ctx.store.save_delivery(&delivery, rev, now).await?;
        self.enqueue(&[message(&delivery)], Duration::ZERO).await?;
        Ok(delivery)
    }

    /// Delivers again every event of the feed since `since` that the endpoint wants, as new
    /// deliveries (same event ids); how many.
    pub async fn replay_since(
        &self,
        caller: &Principal,
        id: WebhookId,
        since: DateTime<Utc>,
    ) -> Result<usize> {
        admin(caller, Scope::AccountsWrite)?;
        let endpoint = self.enabled(id).await?;
        let now = self.ctx.now();
        let mut entries = self.ctx.store.feed_since(since).await?;
        entries.reverse();
        let deliveries = entries
            .into_iter()
            .filter(|e| endpoint.receives(e.kind))
            .map(|e| deliveries_of(&e, std::slice::from_ref(&endpoint), now))
            .collect::<Result<Vec<_>>>()?
            .concat();
        self.ctx.store.put_deliveries(&deliveries, now).await?;
        let messages: Vec<_> = deliveries.iter().map(message).collect();
        self.enqueue(&messages, Duration::ZERO).await?;
        Ok(deliveries.len())
    }

    /// Sends a `webhook.ping` to the endpoint (not in the feed): checks URL, reachability and
    /// the receiver's signature check end to end.
    pub async fn ping(&self, caller: &Principal, id: WebhookId) -> Result<Delivery> {
        admin(caller, Scope::AccountsWrite)?;
        let endpoint = self.stored(id).await?.endpoint;
        let now = self.ctx.now();
        let envelope = Envelope {
            id: EventId::new(),
            kind: EventType::Ping,
            timestamp: now,
            sequence: 0,
            org_id: None,
            data: serde_json::json!({"endpoint": endpoint.id}),
        };
        let body = serde_json::to_string(&envelope).map_err(|e| Error::Internal(e.to_string()))?;
        let mut delivery = Delivery::new(endpoint.id, &envelope, body, now);
        delivery.next_attempt_at = Some(now);
        self.ctx
            .store
            .put_deliveries(std::slice::from_ref(&delivery), now)
            .await?;
        self.enqueue(&[message(&delivery)], Duration::ZERO).await?;
        Ok(delivery)
    }

    /// The events feed after position `after`: at most `limit` events, of `types` (all when
    /// empty), in order.
    pub async fn events(
        &self,
        caller: &Principal,
        after: u64,
        types: &EventFilter,
        limit: usize,
    ) -> Result<FeedPage> {
        caller.require_role(BILLING_STAFF)?;
        caller.require_scope(Scope::AccountsRead)?;
        let limit = limit.clamp(1, MAX_FEED_PAGE);
        let mut events = Vec::new();
        let mut next = after;
        let mut more = false;
        // Read ahead in pages until `limit` events of the wanted types are found or the
        // head is reached.
        'reading: loop {
            let page = self.ctx.store.feed_after(next, MAX_FEED_PAGE).await?;
            if page.is_empty() {
                break;
            }
            for entry in page {
                if events.len() == limit {
                    more = true;
                    break 'reading;
                }
                next = entry.sequence;
                if types.types().is_empty() || types.types().contains(&entry.kind) {
                    events.push(
                        serde_json::from_str(&entry.body)
                            .map_err(|e| Error::Internal(e.to_string()))?,
                    );
                }
            }
        }
        Ok(FeedPage { events, next, more })
    }

    /// Places `events` in the feed and creates and queues their deliveries (see the module
    /// docs). Events no CRM is told of are skipped.
    pub(crate) async fn dispatch(&self, events: &[DomainEvent]) -> Result<Dispatched> {
        let told: Vec<&DomainEvent> = events
            .iter()
            .filter(|e| kopek_domain::webhooks::event_type(&e.kind).is_some())
            .collect();
        if told.is_empty() {
            return Ok(Dispatched::default());
        }
        let now = self.ctx.now();
        let first = self
            .ctx
            .store
            .take_feed_positions(told.len() as u64)
            .await?;
        let mut entries = Vec::with_capacity(told.len());
        for (i, event) in told.iter().enumerate() {
            let Some(envelope) = Envelope::of(event, first + i as u64) else {
                continue;
            };
            entries.push(FeedEntry {
                sequence: envelope.sequence,
                kind: envelope.kind,
                at: envelope.timestamp,
                body: serde_json::to_string(&envelope)
                    .map_err(|e| Error::Internal(e.to_string()))?,
            });
        }
        let mut endpoints = self.all().await?;
        endpoints.retain(|e| e.enabled);
        let deliveries = entries
            .iter()
            .map(|e| deliveries_of(e, &endpoints, now))
            .collect::<Result<Vec<_>>>()?
            .concat();
        self.ctx
            .store
            .append_feed(&entries, &deliveries, now)
            .await?;
        let messages: Vec<_> = deliveries.iter().map(message).collect();
        self.enqueue(&messages, Duration::ZERO).await?;
        Ok(Dispatched {
            events: entries.len(),
            deliveries: deliveries.len(),
        })
    }

    async fn enqueue(&self, messages: &[DeliveryMessage], delay: Duration) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let queue = self.ctx.webhook_queue.as_ref().ok_or_else(|| {
            Error::Internal("no webhook queue here (KOPEK_WEBHOOK_QUEUE_URL)".into())
        })?;
        let bodies = messages
            .iter()
            .map(serde_json::to_string)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        queue
            .send_messages(&bodies, delay.as_secs().min(900) as i32)
            .await?;
        Ok(())
    }

    /// Makes the attempt a queue message asks for (see the module docs).
    pub async fn deliver(&self, msg: &DeliveryMessage) -> Result<Delivered> {
        let hooks = self.ctx.hooks.as_ref().ok_or_else(|| {
            Error::Internal("no webhook client here (the webhook-delivery function)".into())
        })?;
        let Some(StoredDelivery { mut delivery, rev }) =
            self.ctx.store.delivery(msg.endpoint, msg.delivery).await?
        else {
            return Ok(Delivered::Stale);
        };
        if delivery.next_attempt() != msg.attempt || delivery.status == DeliveryStatus::Succeeded {
            return Ok(Delivered::Stale);
        }
        let now = self.ctx.now();
        let stored = self.ctx.store.webhook(msg.endpoint).await?;
        let Some(StoredEndpoint {
            endpoint: mut target,
            rev: endpoint_rev,
        }) = stored.filter(|s| s.endpoint.enabled)
        else {
            delivery.abandon("the endpoint is disabled or deleted", now);
            return match self.ctx.store.save_delivery(&delivery, rev, now).await {
                Ok(_) => Ok(Delivered::Abandoned),
                Err(StoreError::Conflict(_)) => Ok(Delivered::Stale),
                Err(e) => Err(e.into()),
            };
        };
        let timestamp = now.timestamp();
        let id = delivery.event.to_string();
        let signature =
            target
                .secrets
                .signature_header(&id, timestamp, delivery.body.as_bytes(), now);
        let headers = [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        let attempt = hooks
            .post(&target.url, &headers, delivery.body.clone(), now)
            .await;
        let ok = attempt.succeeded();
        tracing::info!(
            endpoint = %target.id,
            delivery = %delivery.id,
            event = %delivery.event,
            attempt = msg.attempt,
            status = attempt.status_code,
            error = attempt.error.as_deref(),
            ms = attempt.duration_ms,
            "webhook attempt"
        );
        let next = delivery.record(attempt);
        let (changed, disabled) = target.after_attempt(ok, now);
        if disabled {
            delivery.give_up();
        }
        match self.ctx.store.save_delivery(&delivery, rev, now).await {
            Ok(_) => {}
            // Another attempt of the same delivery was recorded meanwhile: it decides.
            Err(StoreError::Conflict(_)) => return Ok(Delivered::Stale),
            Err(e) => return Err(e.into()),
        }
        if let Next::RetryAfter(wait) = next
            && wait <= MAX_QUEUE_DELAY
            && !disabled
        {
            self.enqueue(&[message(&delivery)], wait).await?;
        }
        if changed {
            match self.ctx.store.save_webhook(&target, endpoint_rev).await {
                // An admin's change or another attempt's came first: the next attempt
                // updates the streak.
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            if disabled {
                self.tell_admins_disabled(&target).await;
            }
        }
        Ok(Delivered::Attempted {
            status: delivery.status,
        })
    }

    /// Mails every active admin that `endpoint` was disabled (logged when there is no mail).
    async fn tell_admins_disabled(&self, endpoint: &Endpoint) {
        tracing::warn!(endpoint = %endpoint.id, url = %endpoint.url, "webhook endpoint disabled");
        let Some(mailer) = &self.ctx.mailer else {
            return;
        };
        let admins = match self.ctx.store.list_users(None, 100, None).await {
            Ok(page) => page.items,
            Err(e) => {
                tracing::warn!(error = %e, "admins not read: nobody mailed");
                return;
            }
        };
        let text = format!(
            "Kopek disabled the webhook endpoint {} ({}): {}.\n\
             Fix the receiver, enable the endpoint again and replay what it missed.\n\n\
             Kopek отключил адрес вебхуков {} ({}): все доставки не удавались 5 дней.\n\
             Исправьте приёмник, включите адрес и повторите пропущенные события.",
            endpoint.id,
            endpoint.url,
            endpoint.disabled_reason.as_deref().unwrap_or("failing"),
            endpoint.id,
            endpoint.url,
        );
        for admin in admins
            .iter()
            .filter(|u| u.role() == Role::Admin && u.status() == UserStatus::Active)
        {
            if let Err(e) = mailer
                .send(
                    admin.email().as_str(),
                    "Kopek: webhook endpoint disabled / адрес вебхуков отключён",
                    &text,
                )
                .await
            {
                tracing::warn!(error = %e, "an admin was not mailed");
            }
        }
    }

    /// Re-queues deliveries whose attempt is overdue by [`SWEEP_GRACE`] — the long waits of
    /// the schedule, and any whose message was lost — moving their due time on so the next
    /// sweep leaves them alone. How many.
    pub async fn sweep(&self) -> Result<usize> {
        let now = self.ctx.now();
        let cutoff = now
            - chrono::Duration::from_std(SWEEP_GRACE)
                .map_err(|e| Error::Internal(e.to_string()))?;
        let due = self.ctx.store.due_deliveries(cutoff, SWEEP_BATCH).await?;
        let mut messages = Vec::with_capacity(due.len());
        for StoredDelivery { mut delivery, rev } in due {
            delivery.next_attempt_at = Some(now);
            match self.ctx.store.save_delivery(&delivery, rev, now).await {
                Ok(_) => messages.push(message(&delivery)),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.enqueue(&messages, Duration::ZERO).await?;
        Ok(messages.len())
    }
}

fn message(d: &Delivery) -> DeliveryMessage {
    DeliveryMessage {
        endpoint: d.endpoint,
        delivery: d.id,
        attempt: d.next_attempt(),
    }
}

/// The deliveries of one feed entry to the endpoints that want it.
fn deliveries_of(
    entry: &FeedEntry,
    endpoints: &[Endpoint],
    now: DateTime<Utc>,
) -> Result<Vec<Delivery>> {
    let envelope: Envelope =
        serde_json::from_str(&entry.body).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(endpoints
        .iter()
        .filter(|e| e.receives(entry.kind))
        .map(|e| {
            let mut d = Delivery::new(e.id, &envelope, entry.body.clone(), now);
            d.next_attempt_at = Some(now);
            d
        })
        .collect())
}
