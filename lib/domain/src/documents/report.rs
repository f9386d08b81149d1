//! A report filed as a PDF: the reconciliation statement or the statement of account of one
//! customer for a date range ([`super::reconciliation`] says what they print), asked for by
//! the customer or the staff, made by the documents function, and signed like the closing
//! documents.
//!
//! **Its life.** Asked for, it is `making` ([`ReportFile::request`]); made, it is `ready` with
//! its PDF's object key, SHA-256 and size ([`ReportFile::ready`]); a report that cannot be
//! made (the provider's requisites are not set) is `failed` with the reason
//! ([`ReportFile::failed`]) and stays so: ask again once the cause is fixed.
//!
//! **Signing** is allowed once, and only for a ready report whose stored bytes still hash to
//! the SHA-256 on record ([`ReportFile::check_unchanged`], [`ReportFile::sign`]); the detached
//! signature lies beside the PDF ([`signature_key`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::accounts::DocumentLanguage;
use crate::documents::filed::FiledObject;
use crate::documents::reconciliation::ReportKind;
use crate::ids::{OrgId, ReportId, UserId};
use crate::orders::UserOrKey;

/// Where a report stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Asked for; the documents function is making it.
    Making,
    /// Made: its PDF is filed.
    Ready,
    /// It could not be made, and why (the provider's requisites are not set, say).
    Failed { reason: String },
}

impl ReportStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Making => "making",
            Self::Ready => "ready",
            Self::Failed { .. } => "failed",
        }
    }
}

/// Who signed a report, when, and where the detached signature is filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFileSignature {
    /// The detached CMS signature (`.p7s`) beside the PDF.
    pub object: FiledObject,
    pub signed_by: UserId,
    pub signed_at: DateTime<Utc>,
    /// SHA-256 of the signing certificate's DER, lowercase hex.
    pub certificate_sha256: String,
}

/// A report as filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFile {
    pub id: ReportId,
    pub org: OrgId,
    pub kind: ReportKind,
    /// The first and the last day it covers.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The language it is written in.
    pub language: DocumentLanguage,
    pub requested_by: UserOrKey,
    pub requested_at: DateTime<Utc>,
    pub status: ReportStatus,
    /// The PDF, once ready: its object key, SHA-256 and size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FiledObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<ReportFileSignature>,
    /// When it was made, or found impossible to make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why a report cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportRefused {
    #[error("report {0} is not ready: it is signed once its PDF is made")]
    NotReady(ReportId),
    #[error("report {0} is signed already")]
    AlreadySigned(ReportId),
    #[error("report {id}'s PDF changed since it was made (SHA-256 {filed} filed, {now} now)")]
    Changed {
        id: ReportId,
        filed: String,
        now: String,
    },
}

impl ReportRefused {
    /// The refusal's stable code: `not_ready`, `already_signed` or `changed`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotReady(_) => "not_ready",
            Self::AlreadySigned(_) => "already_signed",
            Self::Changed { .. } => "changed",
        }
    }
}

impl ReportFile {
    /// A report of `kind` for `org` from `from` to `to` in `language`, asked for by `by` at
    /// `at`: `making`.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        id: ReportId,
        org: OrgId,
        kind: ReportKind,
        from: NaiveDate,
        to: NaiveDate,
        language: DocumentLanguage,
        by: UserOrKey,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            org,
            kind,
            from,
            to,
            language,
            requested_by: by,
            requested_at: at,
            status: ReportStatus::Making,
            file: None,
            signature: None,
            finished_at: None,
        }
    }

    /// The report made: its PDF is `file`.
    pub fn ready(&self, file: FiledObject, at: DateTime<Utc>) -> Self {
        Self {
            status: ReportStatus::Ready,
            file: Some(file),
            finished_at: Some(at),
            ..self.clone()
        }
    }

    /// The report cannot be made, for `reason`.
    pub fn failed(&self, reason: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            status: ReportStatus::Failed {
                reason: reason.into(),
            },
            file: None,
            finished_at: Some(at),
            ..self.clone()
        }
    }

    /// Refused unless the report is ready and not signed yet.
    pub fn signable(&self) -> Result<&FiledObject, ReportRefused> {
        if self.signature.is_some() {
            return Err(ReportRefused::AlreadySigned(self.id));
        }
        match (&self.status, &self.file) {
            (ReportStatus::Ready, Some(file)) => Ok(file),
            _ => Err(ReportRefused::NotReady(self.id)),
        }
    }

    /// Refused unless the stored bytes hash to the SHA-256 on record (`actual`).
    pub fn check_unchanged(&self, actual: &str) -> Result<(), ReportRefused> {
        let file = self.file.as_ref().ok_or(ReportRefused::NotReady(self.id))?;
        if file.sha256 != actual {
            return Err(ReportRefused::Changed {
                id: self.id,
                filed: file.sha256.clone(),
                now: actual.to_owned(),
            });
        }
        Ok(())
    }

    /// The report signed: refused unless it is ready and not signed yet.
    pub fn sign(&self, signature: ReportFileSignature) -> Result<Self, ReportRefused> {
        self.signable()?;
        Ok(Self {
            signature: Some(signature),
            ..self.clone()
        })
    }

    /// The report signed anew: its recorded signature replaced by `signature`, the one whose
    /// `.p7s` is filed (two signings raced, and this one's bytes were filed last). Only a
    /// ready report.
    pub fn sign_over(&self, signature: ReportFileSignature) -> Result<Self, ReportRefused> {
        match (&self.status, &self.file) {
            (ReportStatus::Ready, Some(_)) => Ok(Self {
                signature: Some(signature),
                ..self.clone()
            }),
            _ => Err(ReportRefused::NotReady(self.id)),
        }
    }

    /// The file name a person downloads: `reconciliation-2026-11-01-2026-11-30.pdf`.
    pub fn file_name(&self) -> String {
        format!("{}-{}-{}.pdf", self.kind.as_str(), self.from, self.to)
    }
}

/// The object key of a report's PDF: `reports/org_…/rep_….pdf`.
pub fn object_key(org: OrgId, id: ReportId) -> String {
    format!("reports/{org}/{id}.pdf")
}

/// The object key of a report's detached signature, beside its PDF: `reports/org_…/rep_….pdf.p7s`.
pub fn signature_key(pdf_key: &str) -> String {
    format!("{pdf_key}.p7s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requested() -> ReportFile {
        ReportFile::request(
            "rep_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap(),
            "org_01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap(),
            ReportKind::Reconciliation,
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            DocumentLanguage::Ru,
            UserOrKey::User(UserId::new()),
            Utc::now(),
        )
    }

    fn pdf() -> FiledObject {
        FiledObject {
            key: "reports/org_01ARZ3NDEKTSV4RRFFQ69G5FAV/rep_01ARZ3NDEKTSV4RRFFQ69G5FAV.pdf".into(),
            sha256: "ab".repeat(32),
            size: 4096,
        }
    }

    fn signature() -> ReportFileSignature {
        ReportFileSignature {
            object: FiledObject {
                key: signature_key(&pdf().key),
                sha256: "cd".repeat(32),
                size: 900,
            },
            signed_by: UserId::new(),
            signed_at: Utc::now(),
            certificate_sha256: "ef".repeat(32),
        }
    }

    #[test]
    fn a_report_is_making_until_its_pdf_is_filed() {
        let report = requested();
        assert_eq!(report.status.as_str(), "making");
        assert_eq!(report.signable(), Err(ReportRefused::NotReady(report.id)));
        let ready = report.ready(pdf(), Utc::now());
        assert_eq!(ready.status, ReportStatus::Ready);
        assert_eq!(ready.signable(), Ok(&pdf()));
    }

    #[test]
    fn a_failed_report_keeps_its_reason_and_cannot_be_signed() {
        let failed = requested().failed("the provider's requisites are not set", Utc::now());
        assert_eq!(failed.status.as_str(), "failed");
        assert_eq!(
            failed.status,
            ReportStatus::Failed {
                reason: "the provider's requisites are not set".into()
            }
        );
        assert_eq!(
            failed.sign(signature()).unwrap_err().code(),
            "not_ready",
            "nothing to sign"
        );
    }

    #[test]
    fn a_ready_report_is_signed_once() {
        let ready = requested().ready(pdf(), Utc::now());
        let signed = ready.sign(signature()).expect("signed");
        assert!(signed.signature.is_some());
        assert_eq!(signed.status, ReportStatus::Ready);
        let again = signed.sign(signature()).unwrap_err();
        assert_eq!(again, ReportRefused::AlreadySigned(ready.id));
        assert_eq!(again.code(), "already_signed");
        let raced = signature();
        let over = signed.sign_over(raced.clone()).expect("signed over");
        assert_eq!(
            over.signature,
            Some(raced),
            "the filed signature is the recorded one"
        );
        assert!(requested().sign_over(signature()).is_err(), "not ready");
    }

    #[test]
    fn bytes_that_changed_since_the_report_was_made_are_refused() {
        let ready = requested().ready(pdf(), Utc::now());
        assert_eq!(ready.check_unchanged(&"ab".repeat(32)), Ok(()));
        let changed = ready.check_unchanged(&"00".repeat(32)).unwrap_err();
        assert_eq!(changed.code(), "changed");
        assert!(changed.to_string().contains(&"ab".repeat(32)));
    }

    #[test]
    fn the_pdf_and_its_signature_are_filed_side_by_side_under_the_customer() {
        let report = requested();
        let key = object_key(report.org, report.id);
        assert_eq!(
            key,
            "reports/org_01ARZ3NDEKTSV4RRFFQ69G5FAV/rep_01ARZ3NDEKTSV4RRFFQ69G5FAV.pdf"
        );
        assert_eq!(signature_key(&key), format!("{key}.p7s"));
        assert_eq!(
            report.file_name(),
            "reconciliation-2026-11-01-2026-11-30.pdf"
        );
    }

    #[test]
    fn a_report_reads_back_through_serde() {
        let signed = requested()
            .ready(pdf(), Utc::now())
            .sign(signature())
            .unwrap();
        let json = serde_json::to_value(&signed).unwrap();
        assert_eq!(json["kind"], "reconciliation");
        assert_eq!(json["status"], "ready");
        let back: ReportFile = serde_json::from_value(json).unwrap();
        assert_eq!(back, signed);
        let failed = requested().failed("why", Utc::now());
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["status"]["failed"]["reason"], "why");
        assert_eq!(serde_json::from_value::<ReportFile>(json).unwrap(), failed);
    }
}
