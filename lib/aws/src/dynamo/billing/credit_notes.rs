//! A58–A59: credit notes against issued invoices, numbered in their own gapless sequence.

use kopek_domain::charges::DomainEvent;
use kopek_domain::ids::{CreditNoteId, InvoiceId, OrgId};
use kopek_domain::invoicing::{CreditNote, DocumentKind};
use kopek_domain::ledger::Entry;
use kopek_domain::money::Money;
use serde::{Deserialize, Serialize};

use super::invoices::{StoredInvoice, invoice_change};
use super::ledger::ledger_put;
use super::numbering::{expect_kind, take_number};
use super::payments::{StoredCredit, credit_action};
use crate::dynamo::expr::{ABSENT, attr, failed_conditions, put};
use crate::dynamo::orders::put_event;
use crate::dynamo::{Store, StoreError, keys, to_item};

#[derive(Debug, Serialize, Deserialize)]
struct CreditNoteItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "type")]
    kind: String,
    credit_note: CreditNote,
}

/// What A58 writes in one transaction: a credit note against an invoice as read.
#[derive(Debug, Clone, Copy)]
pub struct IssueCreditNote<'a> {
    /// The note, with its number (its sequence moves to it).
    pub note: &'a CreditNote,
    /// The invoice it corrects, as read (its revision is the condition).
    pub invoice: &'a StoredInvoice,
    /// The invoice's credited total with this note.
    pub new_credited: Money,
    pub entry: &'a Entry,
    /// Its `credit_note_issued` event (the outbox).
    pub event: &'a DomainEvent,
    /// What the note gives back of a paid invoice, if anything.
    pub released: Option<Released<'a>>,
}

/// What a credit note on a paid invoice gives back: the invoice's `paid` becomes `paid`, and
/// the customer's credit (as read) becomes `credit_after`.
#[derive(Debug, Clone, Copy)]
pub struct Released<'a> {
    pub paid: Money,
    pub credit: &'a StoredCredit,
    pub credit_after: Money,
}

/// What issuing a credit note did. Nothing is written unless `Issued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditOutcome {
    Issued,
    /// Another document took the number: read the sequence again and retry with the next.
    NumberTaken,
    /// The invoice changed since it was read (another credit note): read it again.
    InvoiceChanged,
}

impl Store {
    /// A58: issues the credit note against its invoice (as read: its revision is the
    /// condition), whose credited total becomes `new_credited`, with its ledger entry and its
    /// event — one transaction. Not retried here.
    ///
    /// When the note releases what a paid invoice no longer owes ([`Released`]: the invoice's
    /// new `paid`, and the customer's credit as read with what it becomes), both change in the
    /// same transaction.
    pub async fn issue_credit_note(
        &self,
        issue: IssueCreditNote<'_>,
    ) -> Result<CreditOutcome, StoreError> {
        let IssueCreditNote {
            note,
            invoice,
            new_credited,
            entry,
            event,
            released,
        } = issue;
        let target = &invoice.invoice;
        expect_kind(&note.number, DocumentKind::CreditNote)?;
        if note.invoice != target.id || note.org != target.draft.org {
            return Err(StoreError::Unexpected(format!(
                "credit note {} is for {}, not {}",
                note.id, note.invoice, target.id
            )));
        }
        let item = to_item(&CreditNoteItem {
            pk: keys::org(&note.org),
            sk: keys::credit_note(&note.invoice, &note.id),
            gsi1pk: keys::credit_note_id(&note.id),
            gsi1sk: keys::CREDIT_SK.into(),
            kind: "credit_note".into(),
            credit_note: note.clone(),
        })?;
        let credited = invoice_change(invoice)?
            .set("#inv.credited = :c")
            .value(":c", attr(&new_credited)?);
        let credited = match released {
            Some(released) => credited
                .set("#inv.paid = :paid")
                .value(":paid", attr(&released.paid)?),
            None => credited,
        };
        let mut items = vec![
            take_number(self, &note.number)?,
            put(self, item, Some(ABSENT))?,
            credited.action(self)?,
            ledger_put(self, entry)?,
            put_event(self, event)?,
        ];
        if let Some(released) = released {
            items.push(credit_action(
                self,
                &note.org,
                released.credit,
                released.credit_after,
            )?);
        }
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(CreditOutcome::Issued),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        if failed.contains(&2) || failed.contains(&5) {
            Ok(CreditOutcome::InvoiceChanged)
        } else if failed.contains(&0) {
            Ok(CreditOutcome::NumberTaken)
        } else {
            Err(err.into_store_error().conflict_means(format!(
                "credit note {}, its ledger entry or its event was written before",
                note.id
            )))
        }
    }

    /// A59: the credit notes of an invoice, oldest first.
    pub async fn credit_notes_of_invoice(
        &self,
        org: OrgId,
        invoice: InvoiceId,
    ) -> Result<Vec<CreditNote>, StoreError> {
        Ok(self
            .query_all::<CreditNoteItem>(&keys::org(&org), &keys::credit_notes_of(&invoice))
            .await?
            .into_iter()
            .map(|i| i.credit_note)
            .collect())
    }

    /// A59: every credit note of a customer, by invoice.
    pub async fn credit_notes_of_org(&self, org: OrgId) -> Result<Vec<CreditNote>, StoreError> {
        Ok(self
            .query_all::<CreditNoteItem>(&keys::org(&org), keys::CREDIT_NOTES)
            .await?
            .into_iter()
            .map(|i| i.credit_note)
            .collect())
    }

    /// A59: a credit note by id (GSI1: a note is never changed, so the index's copy is it).
    pub async fn credit_note_by_id(
        &self,
        id: CreditNoteId,
    ) -> Result<Option<CreditNote>, StoreError> {
        Ok(self
            .only_on_gsi1::<CreditNoteItem>(&keys::credit_note_id(&id))
            .await?
            .map(|i| i.credit_note))
    }
}
