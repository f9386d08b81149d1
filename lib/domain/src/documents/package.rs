//! A customer's package of a period: every signed document of the period with its signature,
//! a manifest of them and the manifest's own signature, as one ZIP — sent once per period
//! instead of once per document.
//!
//! Its status flows **signed → sent → viewed → accepted / disputed** ([`PackageStatus`]):
//! built from signed documents only, sent when the customer's billing e-mail was notified,
//! viewed when the customer first downloaded it, then accepted, or disputed with a reason (the
//! reason reaches the manager's list). An answer is final: an accepted package is not disputed
//! afterwards, nor the other way round.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::documents::filed::{Document, DocumentStatus, DocumentType, FiledObject};
use crate::ids::{DocumentId, InvoiceId, OrgId, PackageId};
use crate::money::Money;
use crate::period::BillingPeriod;

/// The longest dispute reason, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// The manifest's name inside a package.
pub const MANIFEST: &str = "manifest.json";

impl PackageId {
    /// The package of the customer and period of `invoice` (one invoice per customer and
    /// period): the invoice's timestamp, its randomness mixed with a tag of its own.
    pub fn of(invoice: InvoiceId) -> Self {
        let ulid = invoice.ulid();
        Self::from_ulid(ulid::Ulid::from_parts(
            ulid.timestamp_ms(),
            ulid.random() ^ 0x10,
        ))
    }
}

/// Where a package stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageStatus {
    Signed,
    Sent,
    Viewed,
    Accepted,
    Disputed,
}

impl PackageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signed => "signed",
            Self::Sent => "sent",
            Self::Viewed => "viewed",
            Self::Accepted => "accepted",
            Self::Disputed => "disputed",
        }
    }
}

impl std::str::FromStr for PackageStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Signed,
            Self::Sent,
            Self::Viewed,
            Self::Accepted,
            Self::Disputed,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| {
            format!("`{s}` is no package status (signed, sent, viewed, accepted, disputed)")
        })
    }
}

/// One document of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// The PDF's name in the package.
    pub file: String,
    /// Its detached signature's name in the package.
    pub signature: String,
    pub document_id: DocumentId,
    pub kind: DocumentType,
    pub number: String,
    pub date: NaiveDate,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
    /// SHA-256 of the PDF, lowercase hex.
    pub sha256: String,
    /// SHA-256 of the signature, lowercase hex.
    pub signature_sha256: String,
}

/// What a package holds, as `manifest.json` says it (signed itself, `manifest.json.p7s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub package_id: PackageId,
    pub period: BillingPeriod,
    pub customer: OrgId,
    pub customer_name: String,
    pub customer_tax_id: String,
    pub documents: Vec<ManifestEntry>,
}

/// Why a package cannot be built or answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("document {0} is not signed yet")]
    NotSigned(DocumentId),
    #[error("the period has no documents for this customer")]
    Empty,
    #[error("the package was {0} already")]
    Answered(&'static str),
    #[error("the package is not sent yet")]
    NotSent,
    #[error("a dispute needs a reason (1 to {MAX_REASON_CHARS} characters)")]
    Reason,
}

impl Manifest {
    /// The manifest of `documents` (a customer's of one period, every one signed).
    pub fn of(
        package_id: PackageId,
        period: BillingPeriod,
        customer: (OrgId, &str, &str),
        documents: &[Document],
    ) -> Result<Self, PackageError> {
        if documents.is_empty() {
            return Err(PackageError::Empty);
        }
        let entries = documents
            .iter()
            .map(|d| {
                let signature = match (&d.status, &d.signature) {
                    (DocumentStatus::Signed, Some(s)) => s,
                    _ => return Err(PackageError::NotSigned(d.id)),
                };
                Ok(ManifestEntry {
                    file: d.file_name(),
                    signature: format!("{}.p7s", d.file_name()),
                    document_id: d.id,
                    kind: d.doc_type,
                    number: d.number.clone(),
                    date: d.dated,
                    net: d.net,
                    tax: d.tax,
                    gross: d.gross,
                    sha256: d.file.sha256.clone(),
                    signature_sha256: signature.object.sha256.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            package_id,
            period,
            customer: customer.0,
            customer_name: customer.1.to_owned(),
            customer_tax_id: customer.2.to_owned(),
            documents: entries,
        })
    }
}

/// A customer's package of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub id: PackageId,
    pub org: OrgId,
    pub period: BillingPeriod,
    pub status: PackageStatus,
    /// The documents it holds.
    pub documents: Vec<DocumentId>,
    /// The ZIP.
    pub file: FiledObject,
    /// SHA-256 of `manifest.json` inside it.
    pub manifest_sha256: String,
    pub built_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    /// Who answered: a customer's user (`usr_…`) or API key (`key_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_reason: Option<String>,
}

impl Package {
    /// The ZIP's name when downloaded: `documents-2026-11-7708123450.zip`.
    pub fn file_name(&self, customer_tax_id: &str) -> String {
        format!("documents-{}-{customer_tax_id}.zip", self.period)
    }

    /// Sent to `to` at `at`; a package sent already stays as it is (`None`).
    pub fn sent(&self, to: &str, at: DateTime<Utc>) -> Option<Self> {
        (self.status == PackageStatus::Signed).then(|| Self {
            status: PackageStatus::Sent,
            sent_to: Some(to.to_owned()),
            sent_at: Some(at),
            ..self.clone()
        })
    }

    /// Opened by the customer at `at`: viewed, if it was only sent (`None`: nothing changes).
    pub fn viewed(&self, at: DateTime<Utc>) -> Option<Self> {
        (self.status == PackageStatus::Sent).then(|| Self {
            status: PackageStatus::Viewed,
            viewed_at: Some(at),
            ..self.clone()
        })
    }

    fn answerable(&self) -> Result<(), PackageError> {
        match self.status {
            PackageStatus::Signed => Err(PackageError::NotSent),
            PackageStatus::Sent | PackageStatus::Viewed => Ok(()),
            PackageStatus::Accepted => Err(PackageError::Answered("accepted")),
            PackageStatus::Disputed => Err(PackageError::Answered("disputed")),
        }
    }

    /// Accepted by `by` at `at`.
    pub fn accept(&self, by: &str, at: DateTime<Utc>) -> Result<Self, PackageError> {
        self.answerable()?;
        Ok(Self {
            status: PackageStatus::Accepted,
            viewed_at: self.viewed_at.or(Some(at)),
            answered_at: Some(at),
            answered_by: Some(by.to_owned()),
            ..self.clone()
        })
    }

    /// Disputed by `by` at `at`, for `reason` (trimmed, 1 to [`MAX_REASON_CHARS`]).
    pub fn dispute(&self, by: &str, at: DateTime<Utc>, reason: &str) -> Result<Self, PackageError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(PackageError::Reason);
        }
        self.answerable()?;
        Ok(Self {
            status: PackageStatus::Disputed,
            viewed_at: self.viewed_at.or(Some(at)),
            answered_at: Some(at),
            answered_by: Some(by.to_owned()),
            dispute_reason: Some(reason.to_owned()),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> Package {
        Package {
            id: PackageId::of(InvoiceId::new()),
            org: OrgId::new(),
            period: BillingPeriod::new(2026, 11).expect("a period"),
            status: PackageStatus::Signed,
            documents: vec![DocumentId::new()],
            file: FiledObject {
                key: "k.zip".into(),
                sha256: "ab".repeat(32),
                size: 1,
            },
            manifest_sha256: "cd".repeat(32),
            built_at: Utc::now(),
            sent_to: None,
            sent_at: None,
            viewed_at: None,
            answered_at: None,
            answered_by: None,
            dispute_reason: None,
        }
    }

    #[test]
    fn a_package_flows_signed_sent_viewed_then_one_answer() {
        let now = Utc::now();
        let signed = package();
        assert_eq!(signed.viewed(now), None, "not sent: nothing to view");
        assert_eq!(signed.accept("usr_x", now), Err(PackageError::NotSent));
        let sent = signed.sent("billing@example.ru", now).expect("sent");
        assert_eq!(sent.status, PackageStatus::Sent);
        assert_eq!(sent.sent("again@example.ru", now), None, "sent once");
        let viewed = sent.viewed(now).expect("viewed");
        assert_eq!(viewed.viewed(now), None, "viewed once");
        let accepted = viewed.accept("usr_x", now).expect("accepted");
        assert_eq!(accepted.status, PackageStatus::Accepted);
        assert_eq!(
            accepted.dispute("usr_x", now, "wrong"),
            Err(PackageError::Answered("accepted"))
        );
        let disputed = sent
            .dispute("usr_x", now, "  Услуга 3 не оказана  ")
            .expect("disputed");
        assert_eq!(
            disputed.dispute_reason.as_deref(),
            Some("Услуга 3 не оказана")
        );
        assert!(disputed.viewed_at.is_some(), "answering is viewing");
        assert_eq!(
            disputed.accept("usr_x", now),
            Err(PackageError::Answered("disputed"))
        );
        for bad in ["", "   ", &"я".repeat(MAX_REASON_CHARS + 1)] {
            assert_eq!(sent.dispute("usr_x", now, bad), Err(PackageError::Reason));
        }
    }

    #[test]
    fn the_package_of_an_invoice_is_always_the_same_and_statuses_round_trip() {
        let invoice = InvoiceId::new();
        assert_eq!(PackageId::of(invoice), PackageId::of(invoice));
        assert_ne!(PackageId::of(invoice), PackageId::of(InvoiceId::new()));
        for s in ["signed", "sent", "viewed", "accepted", "disputed"] {
            assert_eq!(s.parse::<PackageStatus>().map(PackageStatus::as_str), Ok(s));
        }
        assert!("lost".parse::<PackageStatus>().is_err());
    }
}
