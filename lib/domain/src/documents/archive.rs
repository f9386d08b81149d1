//! A period's archive for accountants: every customer's package of the period in one ZIP,
//! with a register of the documents (CSV and XLSX), built by the documents function and
//! streamed to S3, so no function holds the whole archive in memory.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::documents::filed::{DocumentType, FiledObject};
use crate::ids::ArchiveId;
use crate::money::Money;
use crate::period::BillingPeriod;

/// Where an archive stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveStatus {
    Building,
    Ready,
}

impl ArchiveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Building => "building",
            Self::Ready => "ready",
        }
    }
}

/// A period's archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    pub id: ArchiveId,
    pub period: BillingPeriod,
    /// Who asked (`usr_…`, `key_…`).
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub status: ArchiveStatus,
    /// The ZIP, once ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FiledObject>,
    /// Packages and documents in it.
    pub packages: u64,
    pub documents: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl Archive {
    /// The archive built: `file` holding `packages` packages of `documents` documents.
    pub fn ready(
        &self,
        file: FiledObject,
        packages: u64,
        documents: u64,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            status: ArchiveStatus::Ready,
            file: Some(file),
            packages,
            documents,
            finished_at: Some(at),
            ..self.clone()
        }
    }

    /// The ZIP's name when downloaded: `kopek-2026-11.zip`.
    pub fn file_name(&self) -> String {
        format!("kopek-{}.zip", self.period)
    }
}

/// One line of the register: a document of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    pub number: String,
    pub date: NaiveDate,
    pub kind: DocumentType,
    pub customer: String,
    pub tax_id: String,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
    /// The package's status (`sent`, `accepted`, `disputed`, …).
    pub status: String,
}

/// The register's column headings.
pub const REGISTER_COLUMNS: [&str; 9] = [
    "number", "date", "kind", "customer", "tax_id", "net", "vat", "gross", "status",
];

impl RegisterRow {
    /// The row as text, in [`REGISTER_COLUMNS`] order (amounts with their minor units).
    pub fn cells(&self) -> [String; 9] {
        [
            self.number.clone(),
            self.date.to_string(),
            self.kind.slug().to_owned(),
            self.customer.clone(),
            self.tax_id.clone(),
            self.net.amount_text(),
            self.tax.amount_text(),
            self.gross.amount_text(),
            self.status.clone(),
        ]
    }
}
