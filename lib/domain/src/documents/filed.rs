//! A closing document as filed: which paper it is, whose, of which period, where its PDF lies
//! (object key, SHA-256, size) and whether it is signed.
//!
//! **One document per source and type.** Its id is made from its source's id and its type
//! ([`DocumentId::of`]), so a document job delivered twice names the same document and writes
//! nothing new; its object key names period, customer, type and number
//! ([`object_key`]), so the bucket reads as an archive without the table.
//!
//! **Signing** is allowed only for a document whose stored bytes are still the ones listed
//! ([`Document::check_unchanged`]) and only once ([`Document::sign`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CreditNoteId, DocumentId, InvoiceId, OrgId, SigningId, UserId};
use crate::money::Money;
use crate::period::BillingPeriod;

/// Which paper a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// «Счёт на оплату»: what to pay, and where to.
    Invoice,
    /// «Акт оказанных услуг»: the services of the period were rendered.
    Act,
    /// The document of a credit note: what an invoice no longer charges.
    CreditNote,
    /// The UPD as the tax service's XML (format 5.03, СЧФДОП), where the provider pays VAT.
    Upd,
    /// The UPD's printable form, beside its XML.
    UpdPrint,
}

impl DocumentType {
    pub const ALL: [DocumentType; 5] = [
        Self::Invoice,
        Self::Act,
        Self::CreditNote,
        Self::Upd,
        Self::UpdPrint,
    ];

    /// Its name in keys, file names and the API.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::Act => "act",
            Self::CreditNote => "credit_note",
            Self::Upd => "upd",
            Self::UpdPrint => "upd_print",
        }
    }

    /// The file's extension: `xml` for the UPD, `pdf` for the rest.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Upd => "xml",
            _ => "pdf",
        }
    }

    /// The file's media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Upd => "application/xml",
            _ => "application/pdf",
        }
    }

    /// A distinct value per type, mixed into the document's id.
    fn tag(self) -> u128 {
        match self {
            Self::Invoice => 1,
            Self::Act => 2,
            Self::CreditNote => 3,
            Self::Upd => 4,
            Self::UpdPrint => 5,
        }
    }
}

impl std::str::FromStr for DocumentType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.slug() == s)
            .ok_or_else(|| {
                format!("`{s}` is no document type (invoice, act, credit_note, upd, upd_print)")
            })
    }
}

/// Where a document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Source {
    Invoice(InvoiceId),
    CreditNote(CreditNoteId),
}

impl Source {
    fn ulid(self) -> ulid::Ulid {
        match self {
            Self::Invoice(id) => id.ulid(),
            Self::CreditNote(id) => id.ulid(),
        }
    }
}

impl DocumentId {
    /// The id of the document of `doc_type` made from `source`: the source's timestamp (so
    /// documents sort as their sources do) and its randomness mixed with the type. Two
    /// sources never share randomness, so two documents never share an id.
    pub fn of(source: Source, doc_type: DocumentType) -> Self {
        let ulid = source.ulid();
        Self::from_ulid(ulid::Ulid::from_parts(
            ulid.timestamp_ms(),
            ulid.random() ^ doc_type.tag(),
        ))
    }
}

/// Where a document's bytes are filed, and what they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiledObject {
    /// The object key in the documents bucket.
    pub key: String,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    pub size: u64,
}

/// A document's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Rendered and filed; not signed yet.
    Generated,
    /// Signed by a manager: its detached signature is filed beside it.
    Signed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::Signed => "signed",
        }
    }
}

/// Who signed a document, when, and where the signature is filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureRecord {
    /// The detached CMS signature (`.p7s`).
    pub object: FiledObject,
    pub signed_by: UserId,
    pub signed_at: DateTime<Utc>,
    /// The signing (the manager's one action) that signed it.
    pub signing: SigningId,
    /// SHA-256 of the signing certificate's DER, lowercase hex.
    pub certificate_sha256: String,
}

/// A closing document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub id: DocumentId,
    pub org: OrgId,
    pub period: BillingPeriod,
    pub doc_type: DocumentType,
    /// The number of its source (the invoice's or the credit note's).
    pub number: String,
    /// The date it bears (its source's date of issue).
    pub dated: NaiveDate,
    pub source: Source,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
    pub file: FiledObject,
    pub generated_at: DateTime<Utc>,
    pub status: DocumentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureRecord>,
}

/// Why a document cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningRefused {
    #[error("document {0} is signed already")]
    AlreadySigned(DocumentId),
    #[error("document {id} changed since it was listed (SHA-256 {listed} listed, {now} now)")]
    Changed {
        id: DocumentId,
        listed: String,
        now: String,
    },
}

impl Document {
    /// The file name a person downloads: `act-KPK-2026-000042.pdf`; a UPD's is the one the
    /// format gives it (`ON_NSCHFDOPPR_….xml`), the last part of its key.
    pub fn file_name(&self) -> String {
        match self.doc_type {
            DocumentType::Upd => self
                .file
                .key
                .rsplit('/')
                .next()
                .unwrap_or(&self.file.key)
                .to_owned(),
            t => format!("{}-{}.{}", t.slug(), self.number, t.extension()),
        }
    }

    /// Refused unless the bytes filed now are the ones listed (`listed`, the SHA-256 the
    /// manager saw) and the stored bytes hash to what the record says (`actual`).
    pub fn check_unchanged(
        &self,
        listed: Option<&str>,
        actual: &str,
    ) -> Result<(), SigningRefused> {
        let changed = |listed: &str| SigningRefused::Changed {
            id: self.id,
            listed: listed.to_owned(),
            now: actual.to_owned(),
        };
        if let Some(listed) = listed
            && listed != actual
        {
            return Err(changed(listed));
        }
        if self.file.sha256 != actual {
            return Err(changed(&self.file.sha256));
        }
        Ok(())
    }

    /// The document signed: refused when it is signed already.
    pub fn sign(&self, signature: SignatureRecord) -> Result<Document, SigningRefused> {
        if self.status == DocumentStatus::Signed {
            return Err(SigningRefused::AlreadySigned(self.id));
        }
        Ok(Document {
            status: DocumentStatus::Signed,
            signature: Some(signature),
            ..self.clone()
        })
    }
}

/// The object key of a document: `periods/2026-11/org_…/act/KPK-2026-000042.pdf`, named by
/// `stem` — its number, or for a UPD the file name its format gives it.
pub fn object_key(period: BillingPeriod, org: OrgId, doc_type: DocumentType, stem: &str) -> String {
    format!(
        "periods/{period}/{org}/{}/{stem}.{}",
        doc_type.slug(),
        doc_type.extension()
    )
}

/// The object key of a document's detached signature by `signing`: its own key with the
/// signing and `.p7s` added (two signings racing never overwrite each other's object).
pub fn signature_key(document_key: &str, signing: SigningId) -> String {
    format!("{document_key}.{signing}.p7s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn document() -> Document {
        let invoice = InvoiceId::new();
        let org = OrgId::new();
        let period = BillingPeriod::new(2026, 11).expect("a period");
        let rub = |v: i64| Money::new(rust_decimal::Decimal::new(v, 2), Currency::RUB);
        Document {
            id: DocumentId::of(Source::Invoice(invoice), DocumentType::Act),
            org,
            period,
            doc_type: DocumentType::Act,
            number: "KPK-2026-000042".into(),
            dated: NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date"),
            source: Source::Invoice(invoice),
            net: rub(10_000),
            tax: rub(2_200),
            gross: rub(12_200),
            file: FiledObject {
                key: object_key(period, org, DocumentType::Act, "KPK-2026-000042"),
                sha256: "ab".repeat(32),
                size: 1000,
            },
            generated_at: Utc::now(),
            status: DocumentStatus::Generated,
            signature: None,
        }
    }

    fn signature() -> SignatureRecord {
        SignatureRecord {
            object: FiledObject {
                key: "k.p7s".into(),
                sha256: "cd".repeat(32),
                size: 700,
            },
            signed_by: UserId::new(),
            signed_at: Utc::now(),
            signing: SigningId::new(),
            certificate_sha256: "ef".repeat(32),
        }
    }

    #[test]
    fn a_source_and_type_always_name_the_same_document_and_types_differ() {
        let source = Source::Invoice(InvoiceId::new());
        let ids: Vec<DocumentId> = DocumentType::ALL
            .into_iter()
            .map(|t| DocumentId::of(source, t))
            .collect();
        assert_eq!(ids[0], DocumentId::of(source, DocumentType::Invoice));
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
        assert_ne!(ids[0], ids[2]);
        let Source::Invoice(invoice) = source else {
            unreachable!()
        };
        assert_eq!(ids[0].created_at(), invoice.created_at());
    }

    #[test]
    fn keys_name_period_customer_type_and_number() {
        let doc = document();
        assert_eq!(
            doc.file.key,
            format!("periods/2026-11/{}/act/KPK-2026-000042.pdf", doc.org)
        );
        let sgn = SigningId::new();
        assert_eq!(
            signature_key(&doc.file.key, sgn),
            format!("{}.{sgn}.p7s", doc.file.key)
        );
        assert_eq!(doc.file_name(), "act-KPK-2026-000042.pdf");
        for t in DocumentType::ALL {
            assert_eq!(t.slug().parse::<DocumentType>(), Ok(t));
        }
        assert!("receipt".parse::<DocumentType>().is_err());
    }

    #[test]
    fn a_document_is_signed_once_and_only_as_listed() {
        let doc = document();
        let sha = doc.file.sha256.clone();
        assert_eq!(doc.check_unchanged(Some(&sha), &sha), Ok(()));
        assert_eq!(doc.check_unchanged(None, &sha), Ok(()));
        let tampered = "00".repeat(32);
        assert!(matches!(
            doc.check_unchanged(None, &tampered),
            Err(SigningRefused::Changed { .. })
        ));
        assert!(matches!(
            doc.check_unchanged(Some(&tampered), &sha),
            Err(SigningRefused::Changed { .. })
        ));
        let signed = doc.sign(signature()).expect("signed");
        assert_eq!(signed.status, DocumentStatus::Signed);
        assert_eq!(
            signed.sign(signature()),
            Err(SigningRefused::AlreadySigned(doc.id))
        );
    }
}
