//! Invoices (issued by the close) and credit notes.
//!
//! Every read needs `invoices:read` (engineers do not hold it, nor keys issued without it). A
//! customer reaches only its own organisation's documents: another organisation's invoice,
//! credit note or `org_id` is not found, exactly as an id that never existed.
//!
//! **A credit note** is built whole by [`invoicing::credit_note`] from the invoice and its
//! earlier credit notes, numbered from the credit note sequence of the invoice's series and
//! the year of issue ([`crate::numbering`]), and written in one transaction with the
//! invoice's new credited total, its ledger entry and its `credit_note_issued` event; a
//! refused request writes nothing. When another document took the number, the next is taken;
//! when another credit note (or a payment) changed the invoice meanwhile, the note is built
//! again from what is there now — at most [`CREDIT_ATTEMPTS`] times. On a paid invoice, what
//! it no longer owes goes back to the customer as credit, in the same transaction.

use chrono::{Datelike, NaiveDate};
use kopek_aws::dynamo::billing::{CreditOutcome, IssueCreditNote, Released, StoredInvoice};
use kopek_aws::dynamo::{Page, PageKey, StoreError};
use kopek_domain::accounts::{Principal, Scope};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::ids::{CreditNoteId, EntryId, InvoiceId, OrgId};
use kopek_domain::invoicing::{
    self, CreditNote, CreditRequestLine, DocumentKind, Invoice, InvoiceStatus,
};
use kopek_domain::ledger::{self, LedgerError};
use kopek_domain::payments;
use kopek_domain::period::BillingPeriod;

use crate::access::{BILLING_STAFF, actor, org_of};
use crate::numbering::Numbering;
use crate::{Context, Error, OfCustomer, Paging, Result};

/// How often issuing a credit note takes the next number or rebuilds the note after the
/// invoice changed, before it answers "busy, retry".
pub const CREDIT_ATTEMPTS: usize = 20;
/// Store pages read at most to fill one page of a filtered invoice listing.
const FILTER_READS: usize = 10;

/// Which invoices to list.
#[derive(Debug, Clone, Default)]
pub struct InvoiceQuery {
    /// One period's invoices.
    pub period: Option<BillingPeriod>,
    /// Whose: staff name any organisation; a customer may name only its own.
    pub org: Option<OrgId>,
    /// Only those of this status today.
    pub status: Option<InvoiceStatus>,
    pub paging: Paging,
}

/// An invoice with its credit notes, oldest first.
#[derive(Debug, Clone)]
pub struct InvoiceWithNotes {
    pub invoice: Invoice,
    pub credit_notes: Vec<CreditNote>,
    /// The customer's legal name.
    pub customer: Option<String>,
}

/// A credit note to issue against an invoice.
#[derive(Debug, Clone)]
pub struct IssueCreditNoteCommand {
    pub invoice: InvoiceId,
    /// Why (checked by the domain: 1–500 characters).
    pub reason: String,
    /// The lines to credit; none credits everything left on the invoice.
    pub lines: Vec<CreditRequestLine>,
}

/// Invoices and credit notes.
#[derive(Clone)]
pub struct Invoices {
    ctx: Context,
}

impl Invoices {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Invoices: a customer's own, newest period first; staff name a period (by customer)
    /// or an organisation. With `status`, only those of that status today (a page may then
    /// hold fewer and still have a next one).
    pub async fn list(
        &self,
        caller: &Principal,
        query: InvoiceQuery,
    ) -> Result<Page<OfCustomer<Invoice>>> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = match (caller.org(), query.org) {
            (None, None) => None,
            (_, named) => Some(org_of(caller, named)?),
        };
        let today = self.ctx.today();
        let keep = |s: &StoredInvoice| query.status.is_none_or(|w| s.invoice.status_on(today) == w);
        let store = &self.ctx.store;
        let Paging { limit, start } = query.paging;
        let page = match (org, query.period) {
            (Some(org), Some(period)) => Page {
                items: store
                    .invoice_of(org, period)
                    .await?
                    .into_iter()
                    .filter(keep)
                    .collect(),
                next: None,
            },
            (Some(org), None) => {
                filtered(
                    limit,
                    start,
                    |limit, start| store.list_invoices_of_org(org, limit, start),
                    keep,
                )
                .await?
            }
            (None, Some(period)) => {
                filtered(
                    limit,
                    start,
                    |limit, start| store.list_invoices_of_period(period, limit, start),
                    keep,
                )
                .await?
            }
            (None, None) => {
                return Err(Error::bad_input(
                    "invalid_query",
                    "period",
                    "staff name a period or an organisation (org_id)",
                ));
            }
        };
        let invoices: Vec<Invoice> = page.items.into_iter().map(|s| s.invoice).collect();
        let names = self
            .ctx
            .customer_names(invoices.iter().map(|i| i.draft.org))
            .await?;
        Ok(Page {
            items: OfCustomer::name_all(invoices, |i| i.draft.org, &names),
            next: page.next,
        })
    }

    /// An invoice with its credit notes (a customer's own, or any for staff).
    pub async fn get(&self, caller: &Principal, id: InvoiceId) -> Result<InvoiceWithNotes> {
        let stored = self.visible(caller, id).await?;
        self.with_notes(stored.invoice).await
    }

    /// A customer's invoice of a period (staff name the organisation).
    pub async fn of_period(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
        period: BillingPeriod,
    ) -> Result<InvoiceWithNotes> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = org_of(caller, org)?;
        let stored = self
            .ctx
            .store
            .invoice_of(org, period)
            .await?
            .ok_or(Error::NotFound)?;
        self.with_notes(stored.invoice).await
    }

    /// A credit note (a customer's own, or any for staff).
    pub async fn credit_note(&self, caller: &Principal, id: CreditNoteId) -> Result<CreditNote> {
        caller.require_scope(Scope::InvoicesRead)?;
        let note = self
            .ctx
            .store
            .credit_note_by_id(id)
            .await?
            .ok_or(Error::NotFound)?;
        caller.can_access_org(note.org)?;
        Ok(note)
    }

    /// Issues a credit note (billing staff): all that is left of the invoice, or parts of
    /// some lines; see the module docs.
    pub async fn issue_credit_note(
        &self,
        caller: &Principal,
        command: IssueCreditNoteCommand,
    ) -> Result<CreditNote> {
        caller.require_role(BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        let mut stored = self.visible(caller, command.invoice).await?;
        let (org, invoice) = (stored.invoice.draft.org, stored.invoice.id);
        let store = &self.ctx.store;
        let issued_on = self.ctx.today();
        let series = stored.invoice.number.series.clone();
        let (id, entry_id) = (CreditNoteId::new(), EntryId::new());
        let mut earlier = store.credit_notes_of_invoice(org, invoice).await?;
        let mut numbering = Numbering::new(
            store,
            &self.ctx.contention,
            series,
            DocumentKind::CreditNote,
            issued_on.year(),
            CREDIT_ATTEMPTS,
        );
        while let Some(number) = numbering.next::<Error>().await? {
            let note = invoicing::credit_note(
                &stored.invoice,
                &earlier,
                &command.lines,
                &command.reason,
                id,
                number.clone(),
                issued_on,
            )?;
            let entry = ledger::for_credit_note(&note, entry_id).map_err(|e| match e {
                LedgerError::Empty => Error::conflict_on(
                    "conflict",
                    "lines",
                    "the lines chosen add up to nothing: the credit note would move no amount",
                ),
                other => Error::internal(other),
            })?;
            let mut credited = stored.invoice.clone();
            credited.record_credit_note(&note)?;
            // On a paid invoice, what it no longer owes goes back to the customer as credit.
            let released = payments::release_by_credit(&mut credited)?;
            let credit = if released.is_zero() {
                None
            } else {
                let credit = store.credit(org, credited.draft.currency).await?;
                let after = credit.amount.checked_add(released)?;
                Some((credited.paid, credit, after))
            };
            let event = DomainEvent::new(
                org,
                actor(caller),
                self.ctx.now(),
                EventKind::CreditNoteIssued {
                    credit_note: note.id,
                    number: note.number.to_string(),
                    invoice,
                    gross: note.gross,
                },
            );
            match store
                .issue_credit_note(IssueCreditNote {
                    note: &note,
                    invoice: &stored,
                    new_credited: credited.credited,
                    entry: &entry,
                    event: &event,
                    released: credit.as_ref().map(|(paid, read, after)| Released {
                        paid: *paid,
                        credit: read,
                        credit_after: *after,
                    }),
                })
                .await?
            {
                CreditOutcome::Issued => {
                    tracing::info!(%org, %invoice, credit_note = %note.id, number = %note.number, "credit note issued");
                    return Ok(note);
                }
                CreditOutcome::NumberTaken => numbering.taken(&number),
                CreditOutcome::InvoiceChanged => {
                    stored = store.invoice_by_id(invoice).await?.ok_or(Error::NotFound)?;
                    earlier = store.credit_notes_of_invoice(org, invoice).await?;
                    numbering.changed();
                }
            }
        }
        tracing::warn!(%org, %invoice, "no credit note number could be taken");
        Err(Error::Busy(
            "too many concurrent credit notes; retry".into(),
        ))
    }

    /// An invoice the caller may see: its own organisation's, or any for staff.
    async fn visible(&self, caller: &Principal, id: InvoiceId) -> Result<StoredInvoice> {
        caller.require_scope(Scope::InvoicesRead)?;
        let stored = self
            .ctx
            .store
            .invoice_by_id(id)
            .await?
            .ok_or(Error::NotFound)?;
        caller.can_access_org(stored.invoice.draft.org)?;
        Ok(stored)
    }

    async fn with_notes(&self, invoice: Invoice) -> Result<InvoiceWithNotes> {
        let credit_notes = self
            .ctx
            .store
            .credit_notes_of_invoice(invoice.draft.org, invoice.id)
            .await?;
        let mut names = self.ctx.customer_names([invoice.draft.org]).await?;
        Ok(InvoiceWithNotes {
            customer: names.remove(&invoice.draft.org),
            invoice,
            credit_notes,
        })
    }

    /// The provider's date, by which an invoice's status is told.
    pub fn today(&self) -> NaiveDate {
        self.ctx.today()
    }
}

/// Reads pages of `fetch` from `start` until `limit` invoices kept by `keep` are found or
/// [`FILTER_READS`] pages were read; the next cursor resumes after the last invoice read.
async fn filtered<F, Fut>(
    limit: i32,
    mut start: Option<PageKey>,
    fetch: F,
    keep: impl Fn(&StoredInvoice) -> bool,
) -> Result<Page<StoredInvoice>, StoreError>
where
    F: Fn(i32, Option<PageKey>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<StoredInvoice>, StoreError>>,
{
    let mut items = Vec::new();
    for _ in 0..FILTER_READS {
        let wanted = limit.saturating_sub(i32::try_from(items.len()).unwrap_or(limit));
        let page = fetch(wanted, start).await?;
        items.extend(page.items.into_iter().filter(&keep));
        start = page.next;
        if start.is_none() || items.len() >= usize::try_from(limit).unwrap_or(0) {
            break;
        }
    }
    Ok(Page { items, next: start })
}
