//! Reports as PDF: a customer's reconciliation statement («Акт сверки взаимных расчётов») or
//! statement of account for a date range, made by the documents function (the only one that
//! links the typesetting engine) and signed with the provider's KMS key like the closing
//! documents.
//!
//! **Asked for** ([`Documents::request_report`], `invoices:read`; a customer its own, staff
//! any): the statement is composed once through [`Reports::account_statement`] — the same
//! use case, the same rules — so a bad range is refused naming `from` or `to` and nothing is
//! written; then the report is filed `making` (A83) and its job queued on `DocumentsQueue`.
//!
//! **Made** ([`Documents::make_report`], the documents function): the statement composed
//! again from the ledger ([`Reports::statement_of`]), printed between the provider (its
//! requisites as saved now) and the customer (its profile now) in the report's language,
//! dated the day it was asked for (so a redelivered job typesets the same bytes), typeset
//! through the [`Typesetter`](kopek_domain::documents::Typesetter) port's `report`, filed
//! under `reports/{org}/{rep}.pdf` and the report saved `ready` with its SHA-256 and size. A
//! report that cannot be made — the provider's requisites are not set — is saved `failed`
//! with the reason; a job delivered again finds it ready (or failed) and does nothing.
//!
//! **Signed** ([`Documents::sign_report`], managers and admins, signed in as a person): the
//! API has no signing key (only the documents function may use it), so the request checks
//! the report is ready and unsigned and queues the signing; [`Documents::sign_report_job`]
//! reads the PDF back, checks its SHA-256 against the record, makes a detached CMS signature
//! with one KMS `Sign` ([`kopek_aws::signing`], under the certificate the closing documents
//! are signed under), files it beside the PDF (`….pdf.p7s`) and saves the signature over
//! the report's revision. A crash between the two signs again on redelivery; of two signings
//! racing, the one whose save lost makes sure the record names the `.p7s` that is filed.
//!
//! **Read** ([`Documents::report_file`], [`Documents::report_files`]): `invoices:read`, a
//! customer its own (another's id is *not found*, exactly as an unknown one), with
//! five-minute links to the PDF and, once signed, to its signature.

use chrono::NaiveDate;
use kopek_aws::dynamo::StoreError;
use kopek_aws::dynamo::reports::StoredReport;
use kopek_aws::objects::sha256_hex;
use kopek_domain::accounts::{DocumentLanguage, Principal, Scope};
use kopek_domain::documents::FiledObject;
use kopek_domain::documents::reconciliation::{ReportKind, ReportSheet};
use kopek_domain::documents::report::{
    self, ReportFile, ReportFileSignature, ReportRefused, ReportStatus,
};
use kopek_domain::ids::{OrgId, ReportId, UserId};
use kopek_domain::invoicing::{Buyer, ProviderRequisites};

use super::signing::SIGNERS;
use super::{DOWNLOAD_TTL, DocumentJob, Documents};
use crate::access::{actor, org_of, user_of};
use crate::reports::Reports;
use crate::{Download, Error, Page, Paging, Result};

/// A report, with links to download its PDF (once ready) and its signature (once signed).
#[derive(Debug, Clone)]
pub struct ReportWithLinks {
    pub report: ReportFile,
    pub pdf: Option<Download>,
    pub signature: Option<Download>,
}

/// A report refused for its state: 409 with the refusal's code.
fn refused(e: ReportRefused) -> Error {
    Error::conflict(e.code(), e.to_string())
}

impl Documents {
    /// Asks for a report of `kind` on `org`'s account from `from` to `to` in `language` (by
    /// default the customer's document language): checked as the statement of account is,
    /// filed `making` and queued (see the module docs).
    pub async fn request_report(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
        kind: ReportKind,
        from: NaiveDate,
        to: NaiveDate,
        language: Option<DocumentLanguage>,
    ) -> Result<ReportFile> {
        let of = Reports::new(self.ctx.clone())
            .account_statement(caller, org, Some(from), Some(to))
            .await?;
        let report = ReportFile::request(
            ReportId::new(),
            of.statement.org,
            kind,
            from,
            to,
            language.unwrap_or(of.language),
            actor(caller),
            self.ctx.now(),
        );
        self.ctx.store.file_report(&report).await?;
        self.queue(&[DocumentJob::Report {
            org: report.org,
            report: report.id,
        }])
        .await?;
        Ok(report)
    }

    /// Makes a report asked for (see the module docs).
    pub async fn make_report(&self, org: OrgId, id: ReportId) -> Result<()> {
        let store = &self.ctx.store;
        let StoredReport { report, rev } = store
            .report_of(org, id)
            .await?
            .ok_or_else(|| Error::invalid("report", format!("no report {id} of {org}")))?;
        if report.status != ReportStatus::Making {
            return Ok(());
        }
        let now = self.ctx.now();
        let made = match self.file_report_pdf(&report).await? {
            Ok(file) => report.ready(file, now),
            Err(reason) => {
                tracing::warn!(report = %id, org = %org, %reason, "the report cannot be made");
                report.failed(reason, now)
            }
        };
        match store.save_report(&made, rev).await {
            // Another delivery of the job saved it first.
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The report's PDF, made and filed; `Ok(Err(reason))` when it cannot be made.
    async fn file_report_pdf(
        &self,
        report: &ReportFile,
    ) -> Result<std::result::Result<FiledObject, String>> {
        let store = &self.ctx.store;
        let saved = store.provider_requisites().await?.map(|s| s.requisites);
        let seller = match ProviderRequisites::for_documents(saved.as_ref()) {
            Ok(seller) => seller,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let Some(organisation) = store.organisation(report.org).await? else {
            return Ok(Err(format!("the organisation {} is gone", report.org)));
        };
        let of = match Reports::new(self.ctx.clone())
            .statement_of(&organisation, Some(report.from), Some(report.to))
            .await
        {
            Ok(of) => of,
            Err(Error::Invalid { field, reason, .. }) => {
                return Ok(Err(format!("{field}: {reason}")));
            }
            Err(e) => return Err(e),
        };
        let buyer = Buyer::of(&organisation);
        // Dated the day it was asked for: the same report always gives the same bytes.
        let made_on = self.ctx.calendar.date_of(report.requested_at);
        let (statement, language) = (&of.statement, report.language);
        let sheet = match report.kind {
            ReportKind::Reconciliation => {
                ReportSheet::reconciliation(statement, seller, &buyer, language, made_on)
            }
            ReportKind::AccountStatement => {
                ReportSheet::account_statement(statement, seller, &buyer, language, made_on)
            }
        };
        let pdf = self
            .typesetter()?
            .report(&sheet)
            .map_err(|e| Error::Internal(format!("typesetting {}: {e}", sheet.title())))?;
        let key = report::object_key(report.org, report.id);
        let file = FiledObject {
            key: key.clone(),
            sha256: sha256_hex(&pdf),
            size: pdf.len() as u64,
        };
        self.objects()?.file(&key, pdf, "application/pdf").await?;
        Ok(Ok(file))
    }

    /// Asks for a ready report to be signed (managers and admins, signed in): refused when it
    /// is not ready (`not_ready`) or signed already (`already_signed`); the signing runs in
    /// the documents function, which holds the key (see the module docs).
    pub async fn sign_report(&self, caller: &Principal, id: ReportId) -> Result<ReportFile> {
        caller.require_role(SIGNERS)?;
        let by = user_of(caller)?;
        let StoredReport { report, .. } = self.visible_report(caller, id).await?;
        report.signable().map_err(refused)?;
        self.queue(&[DocumentJob::SignReport {
            org: report.org,
            report: report.id,
            by,
        }])
        .await?;
        Ok(report)
    }

    /// Signs a report for `by` (the documents function; see the module docs).
    pub async fn sign_report_job(&self, org: OrgId, id: ReportId, by: UserId) -> Result<()> {
        let store = &self.ctx.store;
        let StoredReport { report, rev } = store
            .report_of(org, id)
            .await?
            .ok_or_else(|| Error::invalid("report", format!("no report {id} of {org}")))?;
        if report.signature.is_some() {
            // A delivery again, or another request's signing: once is enough.
            return Ok(());
        }
        let pdf = report.signable().map_err(refused)?;
        let objects = self.objects()?;
        let bytes = objects.read(&pdf.key).await?;
        report
            .check_unchanged(&sha256_hex(&bytes))
            .map_err(refused)?;
        let certificate = self.certificate_for_signing().await?;
        let now = self.ctx.now();
        let p7s = self
            .signer()?
            .detached_signature(&bytes, &certificate, now)
            .await?;
        let key = report::signature_key(&pdf.key);
        let signature = ReportFileSignature {
            object: FiledObject {
                key: key.clone(),
                sha256: sha256_hex(&p7s),
                size: p7s.len() as u64,
            },
            signed_by: by,
            signed_at: now,
            certificate_sha256: certificate.sha256.clone(),
        };
        objects
            .file(&key, p7s, "application/pkcs7-signature")
            .await?;
        let signed = report.sign(signature.clone()).map_err(refused)?;
        match store.save_report(&signed, rev).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict(_)) => self.settle_race(org, id, &signature).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Another signing saved the report first, and both filed a `.p7s` under the same key:
    /// where this one's bytes are the ones filed, the record is made to name them.
    async fn settle_race(
        &self,
        org: OrgId,
        id: ReportId,
        mine: &ReportFileSignature,
    ) -> Result<()> {
        let store = &self.ctx.store;
        let Some(StoredReport { report, rev }) = store.report_of(org, id).await? else {
            return Ok(());
        };
        let filed = self.objects()?.sha256_of(&mine.object.key).await?;
        let recorded = report.signature.as_ref().map(|s| &s.object.sha256);
        if filed.as_ref() != Some(&mine.object.sha256) || recorded == Some(&mine.object.sha256) {
            return Ok(());
        }
        let over = report.sign_over(mine.clone()).map_err(refused)?;
        match store.save_report(&over, rev).await {
            Ok(_) => Ok(()),
            // Yet another signing meanwhile: its own save settles it.
            Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A report with its links (`invoices:read`; a customer its own).
    pub async fn report_file(&self, caller: &Principal, id: ReportId) -> Result<ReportWithLinks> {
        let StoredReport { report, .. } = self.visible_report(caller, id).await?;
        self.with_links(report).await
    }

    /// A customer's reports, newest first, with their links (`invoices:read`; customers their
    /// own, staff name the organisation).
    pub async fn report_files(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
        paging: Paging,
    ) -> Result<Page<ReportWithLinks>> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = org_of(caller, org)?;
        let page = self
            .ctx
            .store
            .reports_of(org, paging.limit, paging.start)
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for stored in page.items {
            items.push(self.with_links(stored.report).await?);
        }
        Ok(Page {
            items,
            next: page.next,
        })
    }

    /// A report the caller may see: its customer's, or any for staff; another's is *not
    /// found*, exactly as an unknown id.
    async fn visible_report(&self, caller: &Principal, id: ReportId) -> Result<StoredReport> {
        caller.require_scope(Scope::InvoicesRead)?;
        let stored = self
            .ctx
            .store
            .report_by_id(id)
            .await?
            .ok_or(Error::NotFound)?;
        caller.can_access_org(stored.report.org)?;
        Ok(stored)
    }

    /// Five-minute links to a report's PDF (once ready) and signature (once signed).
    async fn with_links(&self, report: ReportFile) -> Result<ReportWithLinks> {
        let name = report.file_name();
        let now = self.ctx.now();
        let mut pdf = None;
        let mut signature = None;
        if let Some(file) = report.file.as_ref() {
            let objects = self.objects()?;
            pdf = Some(
                objects
                    .download(&file.key, &name, now, DOWNLOAD_TTL)
                    .await?,
            );
            if let Some(signed) = report.signature.as_ref() {
                signature = Some(
                    objects
                        .download(
                            &signed.object.key,
                            &format!("{name}.p7s"),
                            now,
                            DOWNLOAD_TTL,
                        )
                        .await?,
                );
            }
        }
        Ok(ReportWithLinks {
            report,
            pdf,
            signature,
        })
    }
}
