//! A65–A74: closing documents as filed — one item per document, in its customer's partition,
//! found by id on GSI1 and by period on GSI2.
//!
//! | # | Access pattern | Operation | Key | Cost |
//! |---|----------------|-----------|-----|------|
//! | A65 | File a document's record once (a re-run job finds it) | `PutItem` if `attribute_not_exists(PK)` | `ORG#{org}` / `DOC#{yyyy-mm}#{type}#{number}`; GSI1 `DOC#{doc}` / `DOC`; GSI2 `DOCS#{yyyy-mm}` / `{org}#{type}#{number}` | 1 WCU + 1 per GSI (item ≈ 0.8 KB) |
//! | A66 | A customer's documents of a period | `Query` | `ORG#{org}`, `SK begins_with DOC#{yyyy-mm}#` | 0.5 RCU per 4 KB |
//! | A67 | A document by id | `Query GSI1` | `GSI1PK = DOC#{doc}` | 0.5 RCU |
//! | A68 | A period's documents, by customer (the manager's list; signing) | `Query GSI2`, paged | `GSI2PK = DOCS#{yyyy-mm}` | 0.5 RCU per 4 KB |
//! | A69 | Record a signature | `PutItem` if `rev = :rev` | the document's key | 1 WCU + 2 GSI |
//! | A70 | A signing job: start, read, advance a page | `PutItem` if absent / `GetItem` (consistent) / `PutItem` if `rev = :rev` | `SIGNING#{sgn}` / `SIGNING`; GSI1 `SIGNINGS#{yyyy-mm}` / `{sgn}` | 1 WCU (2 with a selection of 1,000) |
//! | A71 | The signing certificate: read, file once, replace by the provider's own | `GetItem` / `PutItem` if absent / `UpdateItem` if `sha256 = :old` | `SETTINGS` / `SIGNING_CERT` | 1 WCU |
//! | A72 | A customer's package of a period: file once, read, save its status | `PutItem` if absent / `GetItem` / `PutItem` if `rev = :rev` | `ORG#{org}` / `PACKAGE#{yyyy-mm}`; GSI1 `PACKAGE#{pkg}` / `PACKAGE`; GSI2 `PACKAGES#{yyyy-mm}` / `{org}` | 1 WCU + 2 GSI |
//! | A73 | A package by id; a period's packages, by customer | `Query GSI1`; `Query GSI2`, paged | `GSI1PK = PACKAGE#{pkg}`; `GSI2PK = PACKAGES#{yyyy-mm}` | 0.5 RCU per 4 KB |
//! | A74 | A period's archive: start, read by id, mark ready | `PutItem` if absent / `Query GSI1` / `PutItem` if `rev = :rev` | `PERIOD#{yyyy-mm}` / `ARCHIVE#{arc}`; GSI1 `ARCHIVE#{arc}` / `ARCHIVE` | 1 WCU + 1 GSI |

use kopek_domain::charges::DomainEvent;
use kopek_domain::documents::Document;
use kopek_domain::documents::archive::Archive;
use kopek_domain::documents::package::Package;
use kopek_domain::documents::signing::Signing;
use kopek_domain::ids::{ArchiveId, DocumentId, OrgId, PackageId, SigningId};
use kopek_domain::period::BillingPeriod;
use serde::{Deserialize, Serialize};

use crate::dynamo::expr::{Change, s};
use crate::dynamo::{Page, PageKey, Store, StoreError, keys, to_item};

/// A document as stored, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub document: Document,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct DocumentItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    gsi2sk: String,
    #[serde(rename = "type")]
    kind: String,
    document: Document,
    rev: u64,
}

impl DocumentItem {
    fn new(document: &Document, rev: u64) -> Self {
        let d = document;
        Self {
            pk: keys::org(&d.org),
            sk: keys::document(d.period, d.doc_type, &d.number),
            gsi1pk: keys::document_id(&d.id),
            gsi1sk: keys::DOCUMENT_SK.into(),
            gsi2pk: keys::documents_of_period(d.period),
            gsi2sk: keys::document_in_period(&d.org, d.doc_type, &d.number),
            kind: "document".into(),
            document: d.clone(),
            rev,
        }
    }
}

impl From<DocumentItem> for StoredDocument {
    fn from(i: DocumentItem) -> Self {
        Self {
            document: i.document,
            rev: i.rev,
        }
    }
}

impl Store {
    /// A65: files a document's record; `false` when it was filed already (nothing changed).
    pub async fn file_document(&self, document: &Document) -> Result<bool, StoreError> {
        self.put_new(to_item(&DocumentItem::new(document, 1))?)
            .await
    }

    /// A66: a customer's documents of a period, by type and number.
    pub async fn documents_of(
        &self,
        org: OrgId,
        period: BillingPeriod,
    ) -> Result<Vec<StoredDocument>, StoreError> {
        Ok(self
            .query_all::<DocumentItem>(&keys::org(&org), &keys::documents_of(period))
            .await?
            .into_iter()
            .map(StoredDocument::from)
            .collect())
    }

    /// A67: a document by id.
    pub async fn document_by_id(
        &self,
        id: DocumentId,
    ) -> Result<Option<StoredDocument>, StoreError> {
        Ok(self
            .only_on_gsi1::<DocumentItem>(&keys::document_id(&id))
            .await?
            .map(StoredDocument::from))
    }

    /// A68: one page of a period's documents, by customer, type and number.
    pub async fn documents_of_period(
        &self,
        period: BillingPeriod,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredDocument>, StoreError> {
        Ok(self
            .gsi2_page::<DocumentItem>(&keys::documents_of_period(period), limit, start)
            .await?
            .map(StoredDocument::from))
    }

    /// A69: saves `document` (signed) over revision `rev`; a conflict when it changed.
    pub async fn save_document(&self, document: &Document, rev: u64) -> Result<u64, StoreError> {
        self.put_at_rev(
            to_item(&DocumentItem::new(document, rev + 1))?,
            rev,
            "document",
        )
        .await
    }

    /// A65: saves a document over the revision read with `event` (signed) in the same
    /// transaction.
    pub async fn save_document_telling(
        &self,
        document: &Document,
        rev: u64,
        event: &DomainEvent,
    ) -> Result<u64, StoreError> {
        let item = to_item(&DocumentItem::new(document, rev + 1))?;
        self.put_at_rev_telling(item, rev, "document", event).await
    }
}

/// A signing job as stored, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigning {
    pub signing: Signing,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SigningItem {
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
    signing: Signing,
    rev: u64,
}

impl SigningItem {
    fn new(signing: &Signing, rev: u64) -> Self {
        Self {
            pk: keys::signing(&signing.id),
            sk: keys::SIGNING_SK.into(),
            gsi1pk: keys::signings_of(signing.period),
            gsi1sk: signing.id.to_string(),
            kind: "signing".into(),
            signing: signing.clone(),
            rev,
        }
    }
}

/// The certificate documents are signed under, with the KMS key it certifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCertificate {
    pub key_id: String,
    /// The certificate's DER, base64.
    pub der_base64: String,
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CertificateItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    certificate: StoredCertificate,
}

impl Store {
    /// A70: files a new signing job.
    pub async fn start_signing(&self, signing: &Signing) -> Result<(), StoreError> {
        self.put_first(to_item(&SigningItem::new(signing, 1))?, || {
            format!("signing {} exists", signing.id)
        })
        .await
    }

    /// A70: a signing job (strongly consistent).
    pub async fn signing(&self, id: SigningId) -> Result<Option<StoredSigning>, StoreError> {
        Ok(self
            .get::<SigningItem>(&keys::signing(&id), keys::SIGNING_SK, true)
            .await?
            .map(|i| StoredSigning {
                signing: i.signing,
                rev: i.rev,
            }))
    }

    /// A70: saves a signing job's progress over revision `rev`.
    pub async fn save_signing(&self, signing: &Signing, rev: u64) -> Result<u64, StoreError> {
        self.put_at_rev(
            to_item(&SigningItem::new(signing, rev + 1))?,
            rev,
            "signing",
        )
        .await
    }

    /// A71: the signing certificate, if one was filed.
    pub async fn signing_certificate(&self) -> Result<Option<StoredCertificate>, StoreError> {
        Ok(self
            .get::<CertificateItem>(keys::SETTINGS, keys::SIGNING_CERT_SK, true)
            .await?
            .map(|i| i.certificate))
    }

    /// A71: replaces the filed certificate `old_sha256` by `certificate` (one the provider
    /// uploaded for the same key); `false` when another was filed meanwhile.
    pub async fn replace_signing_certificate(
        &self,
        old_sha256: &str,
        certificate: &StoredCertificate,
    ) -> Result<bool, StoreError> {
        Change::new(keys::SETTINGS.into(), keys::SIGNING_CERT_SK)
            .set("der_base64 = :der, sha256 = :sha")
            .when("sha256 = :old")
            .value(":der", s(&certificate.der_base64))
            .value(":sha", s(&certificate.sha256))
            .value(":old", s(old_sha256))
            .send(self)
            .await
    }

    /// A71: files the signing certificate unless one is filed; `false` when one was.
    pub async fn file_signing_certificate(
        &self,
        certificate: &StoredCertificate,
    ) -> Result<bool, StoreError> {
        self.put_new(to_item(&CertificateItem {
            pk: keys::SETTINGS.into(),
            sk: keys::SIGNING_CERT_SK.into(),
            kind: "signing_certificate".into(),
            certificate: certificate.clone(),
        })?)
        .await
    }
}

/// A package as stored, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPackage {
    pub package: Package,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PackageItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    gsi2sk: String,
    #[serde(rename = "type")]
    kind: String,
    package: Package,
    rev: u64,
}

impl PackageItem {
    fn new(package: &Package, rev: u64) -> Self {
        Self {
            pk: keys::org(&package.org),
            sk: keys::package(package.period),
            gsi1pk: keys::package_id(&package.id),
            gsi1sk: keys::PACKAGE_SK.into(),
            gsi2pk: keys::packages_of_period(package.period),
            gsi2sk: package.org.to_string(),
            kind: "package".into(),
            package: package.clone(),
            rev,
        }
    }
}

impl From<PackageItem> for StoredPackage {
    fn from(i: PackageItem) -> Self {
        Self {
            package: i.package,
            rev: i.rev,
        }
    }
}

impl Store {
    /// A72: files a package once; `false` when it was filed already.
    pub async fn file_package(&self, package: &Package) -> Result<bool, StoreError> {
        self.put_new(to_item(&PackageItem::new(package, 1))?).await
    }

    /// A72: a customer's package of a period.
    pub async fn package_of(
        &self,
        org: OrgId,
        period: BillingPeriod,
    ) -> Result<Option<StoredPackage>, StoreError> {
        Ok(self
            .get::<PackageItem>(&keys::org(&org), &keys::package(period), true)
            .await?
            .map(StoredPackage::from))
    }

    /// A72: saves a package's new status over revision `rev`.
    pub async fn save_package(&self, package: &Package, rev: u64) -> Result<u64, StoreError> {
        self.put_at_rev(
            to_item(&PackageItem::new(package, rev + 1))?,
            rev,
            "package",
        )
        .await
    }

    /// A72: saves a package over the revision read with `event` (sent, viewed, accepted,
    /// disputed) in the same transaction.
    pub async fn save_package_telling(
        &self,
        package: &Package,
        rev: u64,
        event: &DomainEvent,
    ) -> Result<u64, StoreError> {
        let item = to_item(&PackageItem::new(package, rev + 1))?;
        self.put_at_rev_telling(item, rev, "package", event).await
    }

    /// A73: a package by id.
    pub async fn package_by_id(&self, id: PackageId) -> Result<Option<StoredPackage>, StoreError> {
        Ok(self
            .only_on_gsi1::<PackageItem>(&keys::package_id(&id))
            .await?
            .map(StoredPackage::from))
    }

    /// A73: one page of a period's packages, by customer.
    pub async fn packages_of_period(
        &self,
        period: BillingPeriod,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredPackage>, StoreError> {
        Ok(self
            .gsi2_page::<PackageItem>(&keys::packages_of_period(period), limit, start)
            .await?
            .map(StoredPackage::from))
    }
}

/// An archive as stored, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArchive {
    pub archive: Archive,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ArchiveItem {
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
    archive: Archive,
    rev: u64,
}

impl ArchiveItem {
    fn new(archive: &Archive, rev: u64) -> Self {
        Self {
            pk: keys::period(archive.period),
            sk: keys::archive(&archive.id),
            gsi1pk: keys::archive(&archive.id),
            gsi1sk: keys::ARCHIVE_SK.into(),
            kind: "archive".into(),
            archive: archive.clone(),
            rev,
        }
    }
}

impl Store {
    /// A74: files a new archive job.
    pub async fn start_archive(&self, archive: &Archive) -> Result<(), StoreError> {
        if self
            .put_new(to_item(&ArchiveItem::new(archive, 1))?)
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "archive {} exists",
                archive.id
            )))
        }
    }

    /// A74: an archive by id.
    pub async fn archive_by_id(&self, id: ArchiveId) -> Result<Option<StoredArchive>, StoreError> {
        Ok(self
            .only_on_gsi1::<ArchiveItem>(&keys::archive(&id))
            .await?
            .map(|i| StoredArchive {
                archive: i.archive,
                rev: i.rev,
            }))
    }

    /// A74: saves an archive over revision `rev`.
    pub async fn save_archive(&self, archive: &Archive, rev: u64) -> Result<u64, StoreError> {
        self.put_at_rev(
            to_item(&ArchiveItem::new(archive, rev + 1))?,
            rev,
            "archive",
        )
        .await
    }
}
