//! Packages: once a period's documents are signed, each customer gets one package for the
//! period — a ZIP of its documents, their signatures, `manifest.json` and the manifest's
//! signature — and one e-mail saying so.
//!
//! **Sending** ([`Documents::send_packages`], managers and admins) is refused while any
//! document of the period is unsigned; it queues the period's first page of customers. Each
//! step ([`Documents::packages_step`]) takes [`PACKAGE_PAGE`] invoices of the period and, per
//! customer, builds its package unless it is filed (its id is made from the invoice's, so a
//! step run twice finds it), files the ZIP and the record, e-mails the customer's billing
//! address through SES and marks it `sent`. A crash between the e-mail and the mark sends the
//! e-mail again on SQS's redelivery (at least once); everything else is written once.
//!
//! **The customer** lists its packages, downloads one (a presigned link; its first download
//! marks it `viewed`), and accepts it, or disputes it with a reason — one answer, final.
//! **Staff** list a period's packages by status: disputes with their reasons are there.

use std::collections::BTreeMap;

use kopek_aws::archive::zip_in_memory;
use kopek_aws::dynamo::documents::StoredPackage;
use kopek_aws::dynamo::{Page, StoreError};
use kopek_aws::objects::sha256_hex;
use kopek_domain::accounts::{Principal, Role, Scope};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::documents::package::{MANIFEST, Manifest, Package, PackageStatus};
use kopek_domain::documents::{DocumentStatus, FiledObject};
use kopek_domain::ids::{InvoiceId, OrgId, PackageId};
use kopek_domain::orders::UserOrKey;
use kopek_domain::period::BillingPeriod;

use super::{DocumentJob, Documents};
use crate::access::{BILLING_STAFF, customer_org, org_of, subject_text};
use crate::{Download, Error, OfCustomer, PageKey, Paging, Result};

/// Customers packaged per step.
pub const PACKAGE_PAGE: i32 = 25;

/// Who may send packages.
const SENDERS: &[Role] = &[Role::Manager, Role::Admin];

/// What asking to send a period's packages started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentPackages {
    /// Documents of the period, all signed.
    pub documents: u64,
}

/// A period's packages as staff see them.
#[derive(Debug, Clone)]
pub struct PeriodPackages {
    pub by_status: BTreeMap<PackageStatus, u64>,
    pub packages: Vec<OfCustomer<Package>>,
    pub next: Option<PageKey>,
}

impl From<kopek_domain::documents::package::PackageError> for Error {
    fn from(e: kopek_domain::documents::package::PackageError) -> Self {
        use kopek_domain::documents::package::PackageError as P;
        match e {
            P::Reason => Error::invalid("reason", e.to_string()),
            P::NotSigned(_) => Error::conflict_on("not_signed", "period", e.to_string()),
            P::Empty => Error::conflict_on("no_documents", "period", e.to_string()),
            P::Answered(_) | P::NotSent => Error::conflict("invalid_state", e.to_string()),
        }
    }
}

impl Documents {
    /// Sends every customer its package of `period` (see the module docs).
    pub async fn send_packages(
        &self,
        caller: &Principal,
        period: BillingPeriod,
    ) -> Result<SentPackages> {
        caller.require_role(SENDERS)?;
        self.closed(period).await?;
        let counts = self.count(period).await?;
        let documents: u64 = counts.values().map(|t| t.count).sum();
        if documents == 0 {
            return Err(Error::conflict_on(
                "no_documents",
                "period",
                format!("{period} has no documents yet"),
            ));
        }
        if let Some(unsigned) = counts.get(&DocumentStatus::Generated) {
            return Err(Error::conflict_on(
                "not_signed",
                "period",
                format!(
                    "{} of {documents} documents of {period} are not signed: sign them first",
                    unsigned.count
                ),
            ));
        }
        self.queue(&[DocumentJob::Packages {
            period,
            cursor: None,
        }])
        .await?;
        Ok(SentPackages { documents })
    }

    /// One page of a period's packages (see the module docs).
    pub async fn packages_step(&self, period: BillingPeriod, cursor: Option<String>) -> Result<()> {
        let start = cursor.as_deref().map(PageKey::from_plain).transpose()?;
        let page = self
            .ctx
            .store
            .list_invoices_of_period(period, PACKAGE_PAGE, start)
            .await?;
        for stored in &page.items {
            self.package_customer(stored.invoice.draft.org, period, stored.invoice.id)
                .await?;
        }
        if let Some(next) = page.next {
            self.queue(&[DocumentJob::Packages {
                period,
                cursor: Some(next.to_plain()),
            }])
            .await?;
        }
        Ok(())
    }

    async fn package_customer(
        &self,
        org: OrgId,
        period: BillingPeriod,
        invoice: InvoiceId,
    ) -> Result<()> {
        let store = &self.ctx.store;
        let organisation = store
            .organisation(org)
            .await?
            .ok_or_else(|| Error::Internal(format!("the organisation {org} is gone")))?;
        let stored = match store.package_of(org, period).await? {
            Some(stored) => stored,
            None => {
                let package = self
                    .build_package(PackageId::of(invoice), org, period, &organisation)
                    .await?;
                store.file_package(&package).await?;
                store.package_of(org, period).await?.ok_or_else(|| {
                    Error::Store(StoreError::Transient("the package vanished".into()))
                })?
            }
        };
        let to = organisation.billing_email.to_string();
        if let Some(sent) = stored.package.sent(&to, self.ctx.now()) {
            self.notify(&organisation, &sent).await?;
            let told = DomainEvent::new(
                org,
                UserOrKey::System,
                self.ctx.now(),
                EventKind::DocumentSent {
                    package: sent.id,
                    period: sent.period,
                    documents: sent.documents.clone(),
                },
            );
            match store.save_package_telling(&sent, stored.rev, &told).await {
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn build_package(
        &self,
        id: PackageId,
        org: OrgId,
        period: BillingPeriod,
        organisation: &kopek_domain::accounts::Organisation,
    ) -> Result<Package> {
        let documents: Vec<_> = self
            .ctx
            .store
            .documents_of(org, period)
            .await?
            .into_iter()
            .map(|s| s.document)
            .collect();
        let manifest = Manifest::of(
            id,
            period,
            (
                org,
                organisation.legal_name.as_str(),
                &organisation.tax_id.to_string(),
            ),
            &documents,
        )?;
        let manifest_json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
        let certificate = self.certificate_for_signing().await?;
        let now = self.ctx.now();
        let manifest_signature = self
            .signer()?
            .detached_signature(&manifest_json, &certificate, now)
            .await?;
        let objects = self.objects()?;
        let mut entries = Vec::new();
        for (document, entry) in documents.iter().zip(&manifest.documents) {
            let signature = document
                .signature
                .as_ref()
                .ok_or_else(|| Error::Internal("a signed document without its signature".into()))?;
            entries.push((entry.file.clone(), objects.read(&document.file.key).await?));
            entries.push((
                entry.signature.clone(),
                objects.read(&signature.object.key).await?,
            ));
        }
        let manifest_sha256 = sha256_hex(&manifest_json);
        entries.push((MANIFEST.to_owned(), manifest_json));
        entries.push((format!("{MANIFEST}.p7s"), manifest_signature));
        let zip = zip_in_memory(&entries)?;
        let key = format!("periods/{period}/{org}/package-{period}.zip");
        let file = FiledObject {
            key: key.clone(),
            sha256: sha256_hex(&zip),
            size: zip.len() as u64,
        };
        objects.file(&key, zip, "application/zip").await?;
        Ok(Package {
            id,
            org,
            period,
            status: PackageStatus::Signed,
            documents: documents.iter().map(|d| d.id).collect(),
            file,
            manifest_sha256,
            built_at: now,
            sent_to: None,
            sent_at: None,
            viewed_at: None,
            answered_at: None,
            answered_by: None,
            dispute_reason: None,
        })
    }

    /// E-mails the customer's billing address that its package is ready.
    async fn notify(
        &self,
        organisation: &kopek_domain::accounts::Organisation,
        package: &Package,
    ) -> Result<()> {
        let mailer = self.ctx.mailer.as_ref().ok_or_else(|| {
            Error::Internal("this function has no mail sender (KOPEK_MAIL_FROM)".into())
        })?;
        let count = package.documents.len();
        let (subject, text) = match organisation.language {
            kopek_domain::accounts::DocumentLanguage::Ru => (
                format!("Закрывающие документы за {}", package.period),
                format!(
                    "Здравствуйте!\n\nДля {} готов пакет закрывающих документов за {}: {count} документов, подписанных электронной подписью, с описью (manifest.json).\n\nПакет {} — в личном кабинете Kopek, раздел «Документы». Примите его или сообщите о разногласиях там же.\n",
                    organisation.legal_name.as_str(),
                    package.period,
                    package.id
                ),
            ),
            kopek_domain::accounts::DocumentLanguage::En => (
                format!("Closing documents for {}", package.period),
                format!(
                    "Hello,\n\nThe closing documents of {} for {} are ready as one package: {count} signed documents with their manifest (manifest.json).\n\nPackage {} is in Kopek under Documents. Accept it, or dispute it with a reason, there.\n",
                    organisation.legal_name.as_str(),
                    package.period,
                    package.id
                ),
            ),
        };
        mailer
            .send(&organisation.billing_email.to_string(), &subject, &text)
            .await?;
        Ok(())
    }

    /// A customer's package of a period (its own; staff name the organisation).
    pub async fn package_of(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
        period: BillingPeriod,
    ) -> Result<Option<Package>> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = org_of(caller, org)?;
        Ok(self
            .ctx
            .store
            .package_of(org, period)
            .await?
            .map(|s| s.package))
    }

    /// A package (its customer's, or any for billing staff).
    pub async fn package(&self, caller: &Principal, id: PackageId) -> Result<Package> {
        Ok(self.visible_package(caller, id).await?.package)
    }

    async fn visible_package(&self, caller: &Principal, id: PackageId) -> Result<StoredPackage> {
        caller.require_scope(Scope::InvoicesRead)?;
        let stored = self
            .ctx
            .store
            .package_by_id(id)
            .await?
            .ok_or(Error::NotFound)?;
        caller.can_access_org(stored.package.org)?;
        Ok(stored)
    }

    /// A link that downloads a package; the customer's first download marks it viewed.
    pub async fn download_package(&self, caller: &Principal, id: PackageId) -> Result<Download> {
        let stored = self.visible_package(caller, id).await?;
        let package = &stored.package;
        if caller.org().is_some()
            && let Some(viewed) = package.viewed(self.ctx.now())
        {
            let told = DomainEvent::new(
                viewed.org,
                crate::access::actor(caller),
                self.ctx.now(),
                EventKind::DocumentViewed {
                    package: viewed.id,
                    period: viewed.period,
                },
            );
            match self
                .ctx
                .store
                .save_package_telling(&viewed, stored.rev, &told)
                .await
            {
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let organisation = self
            .ctx
            .store
            .organisation(package.org)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(self
            .objects()?
            .download(
                &package.file.key,
                &package.file_name(&organisation.tax_id.to_string()),
                self.ctx.now(),
                super::DOWNLOAD_TTL,
            )
            .await?)
    }

    /// The customer accepts its package (its people, or a key of its CRM).
    pub async fn accept_package(&self, caller: &Principal, id: PackageId) -> Result<Package> {
        self.answer(caller, id, None).await
    }

    /// The customer disputes its package, saying why.
    pub async fn dispute_package(
        &self,
        caller: &Principal,
        id: PackageId,
        reason: &str,
    ) -> Result<Package> {
        self.answer(caller, id, Some(reason)).await
    }

    async fn answer(
        &self,
        caller: &Principal,
        id: PackageId,
        dispute: Option<&str>,
    ) -> Result<Package> {
        let stored = self.visible_package(caller, id).await?;
        customer_org(caller)?;
        let by = subject_text(caller);
        let now = self.ctx.now();
        let answered = match dispute {
            None => stored.package.accept(&by, now)?,
            Some(reason) => stored.package.dispute(&by, now, reason)?,
        };
        let kind = match &answered.dispute_reason {
            None => EventKind::DocumentAccepted {
                package: answered.id,
                period: answered.period,
            },
            Some(reason) => EventKind::DocumentDisputed {
                package: answered.id,
                period: answered.period,
                reason: reason.clone(),
            },
        };
        let told = DomainEvent::new(answered.org, crate::access::actor(caller), now, kind);
        self.ctx
            .store
            .save_package_telling(&answered, stored.rev, &told)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::conflict("invalid_state", "the package was answered meanwhile")
                }
                other => other.into(),
            })?;
        Ok(answered)
    }

    /// A period's packages by status, and a page of them (billing staff), `status` only.
    pub async fn period_packages(
        &self,
        caller: &Principal,
        period: BillingPeriod,
        status: Option<PackageStatus>,
        paging: Paging,
    ) -> Result<PeriodPackages> {
        caller.require_role(BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        let store = &self.ctx.store;
        let mut by_status = BTreeMap::new();
        let mut start = None;
        loop {
            let page = store.packages_of_period(period, 500, start).await?;
            for p in &page.items {
                *by_status.entry(p.package.status).or_insert(0) += 1;
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        let Page { items, next } = store
            .packages_of_period(period, paging.limit, paging.start)
            .await?;
        let packages: Vec<Package> = items
            .into_iter()
            .map(|s| s.package)
            .filter(|p| status.is_none_or(|s| p.status == s))
            .collect();
        let names = self
            .ctx
            .customer_names(packages.iter().map(|p| p.org))
            .await?;
        Ok(PeriodPackages {
            by_status,
            packages: OfCustomer::name_all(packages, |p| p.org, &names),
            next,
        })
    }
}
