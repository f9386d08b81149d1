//! Closing documents: made from every issued invoice (an invoice for payment and an act;
//! where the provider pays VAT and both parties are Russian, also the UPD as the tax
//! service's XML and its printable form) and every credit note (its correction document),
//! and filed in the documents bucket; listed, opened and downloaded by their customer;
//! counted and listed by period for the manager.
//!
//! **Made once.** A [`DocumentJob`] reaches the documents function through `DocumentsQueue`
//! (the outbox relay turns each `invoice_issued` event into one; a manager may ask for a
//! period's again). [`Documents::generate`] makes each of the job's documents that is not
//! filed yet: the sheet from the invoice as issued (its seller and buyer as of that day), the
//! PDF through the [`Typesetter`] port (the same sheet always gives the same bytes), the bytes
//! filed under a key naming period, customer, type and number, then the record with their
//! SHA-256 and size. A job delivered twice finds the records and renders nothing; a crash
//! between filing the bytes and the record renders the same bytes again, finds them filed
//! (same SHA-256) and writes only the record. An invoice issued before the provider's
//! requisites were set is printed with the requisites in force when its documents are made;
//! while there are none, it is refused naming `requisites` and nothing is filed (the job is
//! retried, then dead-lettered; `POST /v1/periods/{p}/documents` asks again).
//!
//! **Reading.** A customer reaches only its own documents (another's id is *not found*);
//! downloads are presigned `GET`s that live [`DOWNLOAD_TTL`]. Staff see a period's documents
//! with counts and totals by status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kopek_aws::dynamo::billing::StoredInvoice;
use kopek_aws::dynamo::documents::StoredDocument;
use kopek_aws::objects::{Download, Objects, sha256_hex};
use kopek_domain::accounts::{Principal, Scope};
use kopek_domain::close::PeriodStatus;
use kopek_domain::documents::{
    Document, DocumentStatus, DocumentType, FiledObject, InvoiceSheet, SheetKind, Source,
    Typesetter, filed::object_key, template::ActiveTemplates, upd,
};
use kopek_domain::ids::{
    ArchiveId, CreditNoteId, DocumentId, InvoiceId, OrgId, ReportId, SigningId, UserId,
};
use kopek_domain::invoicing::{Invoice, InvoicingError};
use kopek_domain::money::Money;
use kopek_domain::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use crate::access::{BILLING_STAFF, org_of};
use crate::{Context, Error, OfCustomer, Paging, Result};

/// How long a download link lives.
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(5 * 60);
/// Documents of a period read per page when counting them.
const COUNT_PAGE: i32 = 500;

mod archive;
mod packages;
mod reports;
mod signing;
mod templates;

pub use archive::{ArchiveWithLink, Built};
pub use packages::{PACKAGE_PAGE, PeriodPackages, SentPackages};
pub use reports::ReportWithLinks;
pub use signing::SIGN_PAGE;

/// What a document is, before it is typeset.
struct Head {
    source: Source,
    doc_type: DocumentType,
    org: OrgId,
    period: BillingPeriod,
    number: String,
    dated: chrono::NaiveDate,
    amounts: (Money, Money, Money),
}

/// One message of `DocumentsQueue`: the documents of one source to make, the next step of a
/// signing, the next page of a period's packages, an archive, a template's check, or a report
/// to make or sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
pub enum DocumentJob {
    /// The invoice for payment and the act of an issued invoice.
    Invoice { org: OrgId, invoice: InvoiceId },
    /// The document of a credit note.
    CreditNote {
        org: OrgId,
        credit_note: CreditNoteId,
    },
    /// The next page of a signing.
    Sign { signing: SigningId },
    /// A page of a period's packages: built, filed and sent (from `cursor`, a page key of
    /// the period's invoices).
    Packages {
        period: BillingPeriod,
        #[serde(default)]
        cursor: Option<String>,
    },
    /// A period's archive to build.
    Archive { archive: ArchiveId },
    /// A provider's template to check against the samples of its kind.
    Template { kind: SheetKind, sha256: String },
    /// A report asked for (a reconciliation statement, a statement of account) to make.
    Report { org: OrgId, report: ReportId },
    /// A ready report to sign for the manager `by`.
    SignReport {
        org: OrgId,
        report: ReportId,
        by: UserId,
    },
}

/// What one job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Documents made and filed now.
    pub filed: Vec<DocumentId>,
    /// Documents found filed already (a job delivered again).
    pub already: Vec<DocumentId>,
}

/// What a relayed or re-requested period asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requested {
    /// Invoices whose documents were queued.
    pub invoices: usize,
}

/// One status's count and totals in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTotals {
    pub count: u64,
    /// Gross totals per currency (of invoices for payment and credit notes: an act repeats
    /// its invoice's amount and is not added twice).
    pub gross: Vec<Money>,
}

/// A period's documents as the manager sees them.
#[derive(Debug, Clone)]
pub struct PeriodDocuments {
    pub period: BillingPeriod,
    /// Customers closed into an invoice in the period (the close's counter).
    pub invoices: u64,
    /// Counts and totals by status.
    pub by_status: BTreeMap<DocumentStatus, StatusTotals>,
    /// One page of the documents, by customer, type and number.
    pub documents: Vec<OfCustomer<Document>>,
    pub next: Option<kopek_aws::dynamo::PageKey>,
}

/// Closing documents: making, filing, listing, downloading.
#[derive(Clone)]
pub struct Documents {
    ctx: Context,
}

impl Documents {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn objects(&self) -> Result<&Objects> {
        self.ctx.objects.as_ref().ok_or_else(|| {
            Error::Internal("this function has no documents bucket (KOPEK_DOCUMENTS_BUCKET)".into())
        })
    }

    fn typesetter(&self) -> Result<&Arc<dyn Typesetter>> {
        self.ctx
            .typesetter
            .as_ref()
            .ok_or_else(|| Error::Internal("this function cannot typeset documents".into()))
    }

    /// Makes and files every document of `job` not filed yet (see the module docs).
    pub async fn generate(&self, job: &DocumentJob) -> Result<Generated> {
        match job {
            DocumentJob::Invoice { org, invoice } => self.of_invoice(*org, *invoice).await,
            DocumentJob::CreditNote { org, credit_note } => {
                self.of_credit_note(*org, *credit_note).await
            }
            DocumentJob::Sign { signing } => {
                self.sign_step(*signing).await?;
                Ok(Generated::default())
            }
            DocumentJob::Packages { period, cursor } => {
                self.packages_step(*period, cursor.clone()).await?;
                Ok(Generated::default())
            }
            DocumentJob::Archive { archive } => {
                self.build_archive(*archive).await?;
                Ok(Generated::default())
            }
            DocumentJob::Template { kind, sha256 } => {
                self.check_template(*kind, sha256).await?;
                Ok(Generated::default())
            }
            DocumentJob::Report { org, report } => {
                self.make_report(*org, *report).await?;
                Ok(Generated::default())
            }
            DocumentJob::SignReport { org, report, by } => {
                self.sign_report_job(*org, *report, *by).await?;
                Ok(Generated::default())
            }
        }
    }

    /// The invoice for payment and the act of an invoice; where the provider pays VAT and
    /// both parties are Russian, also its UPD (the XML and its printable form).
    async fn of_invoice(&self, org: OrgId, id: InvoiceId) -> Result<Generated> {
        let invoice = self.printable_invoice(org, id).await?;
        let templates = self.templates_in_force().await?;
        let mut done = Generated::default();
        let head = |doc_type| {
            let d = &invoice.draft;
            Head {
                source: Source::Invoice(invoice.id),
                doc_type,
                org,
                period: d.period,
                number: invoice.number.to_string(),
                dated: invoice.issued_on,
                amounts: (d.net, d.tax, d.gross),
            }
        };
        let mut sheets = vec![
            (DocumentType::Invoice, SheetKind::Invoice),
            (DocumentType::Act, SheetKind::Act),
        ];
        if upd::applies(&invoice) {
            let doc = DocumentId::of(Source::Invoice(invoice.id), DocumentType::Upd);
            // Made when the invoice was issued, on the provider's clock: the same bytes
            // whenever the job runs.
            let made_at = invoice
                .id
                .created_at()
                .with_timezone(&self.ctx.calendar.zone())
                .naive_local();
            self.file(
                head(DocumentType::Upd),
                || {
                    let file = upd::upd(&invoice, doc, made_at)?;
                    Ok((file.stem, file.bytes))
                },
                &mut done,
            )
            .await?;
            sheets.push((DocumentType::UpdPrint, SheetKind::Upd));
        }
        for (doc_type, sheet_kind) in sheets {
            self.file_sheet(
                head(doc_type),
                || InvoiceSheet::of(&invoice, sheet_kind),
                &templates,
                &mut done,
            )
            .await?;
        }
        Ok(done)
    }

    async fn of_credit_note(&self, org: OrgId, id: CreditNoteId) -> Result<Generated> {
        let note = self
            .ctx
            .store
            .credit_note_by_id(id)
            .await?
            .filter(|n| n.org == org)
            .ok_or_else(|| {
                Error::invalid("credit_note", format!("no credit note {id} of {org}"))
            })?;
        let invoice = self.printable_invoice(org, note.invoice).await?;
        let head = Head {
            source: Source::CreditNote(note.id),
            doc_type: DocumentType::CreditNote,
            org,
            period: invoice.draft.period,
            number: note.number.to_string(),
            dated: note.issued_on,
            amounts: (note.net, note.tax, note.gross),
        };
        let mut done = Generated::default();
        let templates = self.templates_in_force().await?;
        self.file_sheet(
            head,
            || InvoiceSheet::of_credit_note(&invoice, &note),
            &templates,
            &mut done,
        )
        .await?;
        Ok(done)
    }

    /// `org`'s invoice `id` as its documents print it: one issued before the provider's
    /// requisites were set is printed with those in force.
    async fn printable_invoice(&self, org: OrgId, id: InvoiceId) -> Result<Invoice> {
        let StoredInvoice { mut invoice, .. } = self
            .ctx
            .store
            .invoice_by_id(id)
            .await?
            .filter(|s| s.invoice.draft.org == org)
            .ok_or_else(|| Error::invalid("invoice", format!("no invoice {id} of {org}")))?;
        if let Some(parties) = invoice.parties.as_mut()
            && parties.seller.is_none()
        {
            parties.seller = self
                .ctx
                .store
                .provider_requisites()
                .await?
                .map(|s| s.requisites);
        }
        Ok(invoice)
    }

    /// Files the PDF document `head` describes unless it is filed (see [`Self::file`]),
    /// laid out by the provider's template of its kind where one is active.
    async fn file_sheet(
        &self,
        head: Head,
        sheet: impl FnOnce() -> std::result::Result<InvoiceSheet, InvoicingError>,
        templates: &ActiveTemplates,
        done: &mut Generated,
    ) -> Result<()> {
        let number = head.number.clone();
        self.file(
            head,
            || {
                let sheet = sheet()?;
                let template = templates.of(sheet.kind).map(|t| t.source.as_str());
                Ok((number, self.typeset(&sheet, template)?))
            },
            done,
        )
        .await
    }

    /// Files the document `head` describes unless it is filed: its bytes made (`make`
    /// gives the file's stem and bytes), filed in the bucket (unless the same bytes are
    /// there), then its record.
    async fn file(
        &self,
        head: Head,
        make: impl FnOnce() -> Result<(String, Vec<u8>)>,
        done: &mut Generated,
    ) -> Result<()> {
        let id = DocumentId::of(head.source, head.doc_type);
        if self.ctx.store.document_by_id(id).await?.is_some() {
            done.already.push(id);
            return Ok(());
        }
        let (stem, pdf) = make()?;
        let key = object_key(head.period, head.org, head.doc_type, &stem);
        let (net, tax, gross) = head.amounts;
        let document = Document {
            id,
            org: head.org,
            period: head.period,
            doc_type: head.doc_type,
            number: head.number,
            dated: head.dated,
            source: head.source,
            net,
            tax,
            gross,
            file: FiledObject {
                key: key.clone(),
                sha256: sha256_hex(&pdf),
                size: pdf.len() as u64,
            },
            generated_at: self.ctx.now(),
            status: DocumentStatus::Generated,
            signature: None,
        };
        self.objects()?
            .file(&key, pdf, head.doc_type.content_type())
            .await?;
        if self.ctx.store.file_document(&document).await? {
            done.filed.push(id);
        } else {
            done.already.push(id);
        }
        Ok(())
    }

    fn typeset(&self, sheet: &InvoiceSheet, template: Option<&str>) -> Result<Vec<u8>> {
        let typesetter = self.typesetter()?;
        match template {
            None => typesetter.sheet(sheet).map_err(|e| e.to_string()),
            Some(template) => typesetter
                .sheet_with(template, sheet)
                .map_err(|e| format!("the provider's template: {e}")),
        }
        .map_err(|e| Error::Internal(format!("typesetting {}: {e}", sheet.title)))
    }

    /// Queues the documents of every invoice of a closed period again (billing staff): what
    /// is filed already is skipped by the jobs, so this makes only what is missing — after
    /// the provider's requisites were completed, say.
    pub async fn request_period(
        &self,
        caller: &Principal,
        period: BillingPeriod,
    ) -> Result<Requested> {
        caller.require_role(BILLING_STAFF)?;
        self.closed(period).await?;
        let mut start = None;
        let mut requested = Requested::default();
        loop {
            let page = self
                .ctx
                .store
                .list_invoices_of_period(period, 100, start)
                .await?;
            let jobs: Vec<DocumentJob> = page
                .items
                .iter()
                .map(|s| DocumentJob::Invoice {
                    org: s.invoice.draft.org,
                    invoice: s.invoice.id,
                })
                .collect();
            self.queue(&jobs).await?;
            requested.invoices += jobs.len();
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(requested),
            }
        }
    }

    /// Sends `jobs` to `DocumentsQueue` (packed into as few messages as fit).
    pub(crate) async fn queue(&self, jobs: &[DocumentJob]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let queue = self.ctx.documents_queue.as_ref().ok_or_else(|| {
            Error::Internal(
                "this function has no documents queue (KOPEK_DOCUMENTS_QUEUE_URL)".into(),
            )
        })?;
        let bodies = jobs
            .iter()
            .map(serde_json::to_string)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        queue.send_events(&bodies).await?;
        Ok(())
    }

    /// Refused unless `period`'s close has finished.
    async fn closed(&self, period: BillingPeriod) -> Result<u64> {
        let stored = self.ctx.store.period(period).await?;
        match stored {
            Some(p) if p.status == PeriodStatus::Closed => Ok(p.done),
            _ => Err(Error::conflict_on(
                "period_not_closed",
                "period",
                format!("the close of {period} has not finished: its documents are not made yet"),
            )),
        }
    }

    /// A customer's documents of a period (staff name the organisation).
    pub async fn of_customer(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
        period: BillingPeriod,
    ) -> Result<Vec<Document>> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = org_of(caller, org)?;
        Ok(self
            .ctx
            .store
            .documents_of(org, period)
            .await?
            .into_iter()
            .map(|s| s.document)
            .collect())
    }

    /// A document (a customer's own, or any for staff).
    pub async fn get(&self, caller: &Principal, id: DocumentId) -> Result<Document> {
        Ok(self.visible(caller, id).await?.document)
    }

    /// A link that downloads a document's PDF, or its detached signature (`signature`).
    pub async fn download(
        &self,
        caller: &Principal,
        id: DocumentId,
        signature: bool,
    ) -> Result<Download> {
        let document = self.visible(caller, id).await?.document;
        let (key, name) = match (signature, &document.signature) {
            (false, _) => (document.file.key.clone(), document.file_name()),
            (true, Some(sig)) => (
                sig.object.key.clone(),
                format!("{}.p7s", document.file_name()),
            ),
            (true, None) => {
                return Err(Error::conflict_on(
                    "not_signed",
                    "signature",
                    format!("document {id} is not signed yet"),
                ));
            }
        };
        Ok(self
            .objects()?
            .download(&key, &name, self.ctx.now(), DOWNLOAD_TTL)
            .await?)
    }

    /// A period's documents (billing staff): counts and totals by status, and one page of
    /// the documents with their customers' names.
    pub async fn of_period(
        &self,
        caller: &Principal,
        period: BillingPeriod,
        paging: Paging,
    ) -> Result<PeriodDocuments> {
        caller.require_role(BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        let invoices = self.closed(period).await?;
        let by_status = self.count(period).await?;
        let page = self
            .ctx
            .store
            .documents_of_period(period, paging.limit, paging.start)
            .await?;
        let documents: Vec<Document> = page.items.into_iter().map(|s| s.document).collect();
        let names = self
            .ctx
            .customer_names(documents.iter().map(|d| d.org))
            .await?;
        Ok(PeriodDocuments {
            period,
            invoices,
            by_status,
            documents: OfCustomer::name_all(documents, |d| d.org, &names),
            next: page.next,
        })
    }

    /// Counts and totals of a period's documents by status (reads them all, 500 a page).
    async fn count(&self, period: BillingPeriod) -> Result<BTreeMap<DocumentStatus, StatusTotals>> {
        let mut totals: BTreeMap<DocumentStatus, (u64, BTreeMap<String, Money>)> = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .ctx
                .store
                .documents_of_period(period, COUNT_PAGE, start)
                .await?;
            for StoredDocument { document: d, .. } in page.items {
                let entry = totals.entry(d.status).or_default();
                entry.0 += 1;
                // Each invoice's amount once (by its invoice for payment; its act and UPD
                // repeat it), and each credit note's.
                if matches!(d.doc_type, DocumentType::Invoice | DocumentType::CreditNote) {
                    let code = d.gross.currency().to_string();
                    let sum = entry
                        .1
                        .entry(code)
                        .or_insert(Money::zero(d.gross.currency()));
                    *sum = sum.checked_add(d.gross)?;
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        Ok(totals
            .into_iter()
            .map(|(status, (count, gross))| {
                (
                    status,
                    StatusTotals {
                        count,
                        gross: gross.into_values().collect(),
                    },
                )
            })
            .collect())
    }

    /// A document the caller may see: its customer's, or any for billing staff.
    async fn visible(&self, caller: &Principal, id: DocumentId) -> Result<StoredDocument> {
        caller.require_scope(Scope::InvoicesRead)?;
        let stored = self
            .ctx
            .store
            .document_by_id(id)
            .await?
            .ok_or(Error::NotFound)?;
        caller.can_access_org(stored.document.org)?;
        Ok(stored)
    }
}
