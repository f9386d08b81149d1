//! The outbox relay: what reacts to events hears of them through here.
//!
//! Every use case writes its event in the same transaction as its change, into the outbox
//! (`GSI1 = OUTBOX`). [`Outbox::relay`] reads the oldest events, sends what each one starts
//! — an `invoice_issued` or `credit_note_issued` event becomes a [`DocumentJob`] on
//! `DocumentsQueue` — and only then
//! takes each event out of the outbox. A crash between the send and the take-out sends the
//! job again on the next run: delivery is at least once, and every consumer is idempotent (a
//! document job finds its documents filed). Events nothing listens to yet are taken out too.
//!
//! Each run is also the webhook dispatcher's: the events go into the events feed and to
//! every endpoint that wants them ([`crate::webhooks`]) before they leave the outbox.
//!
//! It runs every minute (`outbox-relay`, on a schedule) and, locally, in a loop of the stack.

use kopek_domain::charges::{DomainEvent, EventKind};

use crate::documents::DocumentJob;
use crate::{Context, Error, Result};

/// Events read per relay run (one outbox query).
pub const RELAY_BATCH: i32 = 100;

/// Events taken out of the outbox at once (concurrent `UpdateItem`s).
pub const TAKE_OUT_AT_ONCE: usize = 16;

/// What one run relayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relayed {
    /// Events taken out of the outbox.
    pub events: usize,
    /// Document jobs sent.
    pub document_jobs: usize,
    /// Events placed in the feed, and webhook deliveries queued.
    pub webhooks: crate::webhooks::Dispatched,
}

/// The outbox relay.
#[derive(Clone)]
pub struct Outbox {
    ctx: Context,
}

/// What an event starts.
fn document_job(event: &DomainEvent) -> Option<DocumentJob> {
    match event.kind {
        EventKind::InvoiceIssued { invoice, .. } => Some(DocumentJob::Invoice {
            org: event.org,
            invoice,
        }),
        EventKind::CreditNoteIssued { credit_note, .. } => Some(DocumentJob::CreditNote {
            org: event.org,
            credit_note,
        }),
        _ => None,
    }
}

impl Outbox {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Relays the oldest [`RELAY_BATCH`] events of the outbox (see the module docs).
    pub async fn relay_once(&self) -> Result<Relayed> {
        let queue = self.ctx.documents_queue.as_ref().ok_or_else(|| {
            Error::Internal("the relay has no documents queue (KOPEK_DOCUMENTS_QUEUE_URL)".into())
        })?;
        let events = self.ctx.store.outbox(RELAY_BATCH).await?;
        let jobs = events
            .iter()
            .filter_map(document_job)
            .map(|job| serde_json::to_string(&job))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        if !jobs.is_empty() {
            queue.send_events(&jobs).await?;
        }
        let webhooks = crate::webhooks::Webhooks::new(self.ctx.clone())
            .dispatch(&events)
            .await?;
        // One `UpdateItem` per event, the run's largest share of requests: sent
        // [`TAKE_OUT_AT_ONCE`] at a time rather than one after another.
        use futures::stream::{self, StreamExt, TryStreamExt};
        let take_outs: Vec<_> = events
            .iter()
            .map(|event| self.ctx.store.relayed(event))
            .collect();
        stream::iter(take_outs)
            .buffer_unordered(TAKE_OUT_AT_ONCE)
            .try_collect::<Vec<bool>>()
            .await?;
        Ok(Relayed {
            events: events.len(),
            document_jobs: jobs.len(),
            webhooks,
        })
    }

    /// Relays until the outbox is empty (or `max_runs` runs were made).
    pub async fn relay(&self, max_runs: usize) -> Result<Relayed> {
        let mut total = Relayed::default();
        for _ in 0..max_runs {
            let run = self.relay_once().await?;
            total.events += run.events;
            total.document_jobs += run.document_jobs;
            total.webhooks.events += run.webhooks.events;
            total.webhooks.deliveries += run.webhooks.deliveries;
            if run.events < RELAY_BATCH as usize {
                break;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};
    use kopek_domain::ids::{InvoiceId, OrgId, PaymentId, UserId};
    use kopek_domain::money::{Currency, Money};
    use kopek_domain::orders::UserOrKey;
    use kopek_domain::period::BillingPeriod;

    #[test]
    fn issued_invoices_and_credit_notes_start_their_documents_and_a_payment_nothing() {
        let org = OrgId::new();
        let invoice = InvoiceId::new();
        let issued = DomainEvent::new(
            org,
            UserOrKey::User(UserId::new()),
            Utc::now(),
            EventKind::InvoiceIssued {
                invoice,
                number: "KPK-2026-000001".into(),
                period: BillingPeriod::new(2026, 11).expect("a period"),
                gross: Money::zero(Currency::RUB),
                due_on: NaiveDate::from_ymd_opt(2026, 12, 15).expect("a date"),
            },
        );
        assert_eq!(
            document_job(&issued),
            Some(DocumentJob::Invoice { org, invoice })
        );
        let credit_note = kopek_domain::ids::CreditNoteId::new();
        let credited = DomainEvent::new(
            org,
            UserOrKey::User(UserId::new()),
            Utc::now(),
            EventKind::CreditNoteIssued {
                credit_note,
                number: "KPK-CN-2026-000001".into(),
                invoice,
                gross: Money::zero(Currency::RUB),
            },
        );
        assert_eq!(
            document_job(&credited),
            Some(DocumentJob::CreditNote { org, credit_note })
        );
        let paid = DomainEvent::new(
            org,
            UserOrKey::User(UserId::new()),
            Utc::now(),
            EventKind::PaymentReceived {
                payment: PaymentId::new(),
                reference: "p-1".into(),
                amount: Money::zero(Currency::RUB),
                settled: Vec::new(),
                to_credit: Money::zero(Currency::RUB),
            },
        );
        assert_eq!(document_job(&paid), None);
    }
}
