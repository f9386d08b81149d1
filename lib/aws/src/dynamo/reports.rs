//! A83–A84: reports filed as PDFs (a customer's reconciliation statement or statement of
//! account for a date range) — one item per report, in its customer's partition, found by id
//! on GSI1.
//!
//! | # | Access pattern | Operation | Key | Cost |
//! |---|----------------|-----------|-----|------|
//! | A83 | A report file: put once (asked for), get by id (the API; the documents function, consistent), save over its revision (made, failed, signed) | `PutItem` if `attribute_not_exists(PK)` / `Query GSI1` or `GetItem` (consistent) / `PutItem` if `rev = :rev` | `ORG#{org}` / `REPORT#{rep}`; GSI1 `REPORT#{rep}` / `REPORT` | 1 WCU + 1 GSI (item ≈ 0.7 KB); 0.5 RCU (1 consistent) |
//! | A84 | A customer's report files, newest first | `Query`, backwards, paged | `ORG#{org}`, `SK begins_with REPORT#` | 0.5 RCU per 4 KB |

use kopek_domain::documents::report::ReportFile;
use kopek_domain::ids::{OrgId, ReportId};
use serde::{Deserialize, Serialize};

use crate::dynamo::{Page, PageKey, QuerySpec, Store, StoreError, keys, to_item};

/// A report file as stored, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    pub report: ReportFile,
    pub rev: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReportItem {
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
    report: ReportFile,
    rev: u64,
}

impl ReportItem {
    fn new(report: &ReportFile, rev: u64) -> Self {
        Self {
            pk: keys::org(&report.org),
            sk: keys::report(&report.id),
            gsi1pk: keys::report(&report.id),
            gsi1sk: keys::REPORT_SK.into(),
            kind: "report".into(),
            report: report.clone(),
            rev,
        }
    }
}

impl From<ReportItem> for StoredReport {
    fn from(i: ReportItem) -> Self {
        Self {
            report: i.report,
            rev: i.rev,
        }
    }
}

impl Store {
    /// A83: files a report asked for (revision 1); a conflict when its id is taken.
    pub async fn file_report(&self, report: &ReportFile) -> Result<(), StoreError> {
        self.put_first(to_item(&ReportItem::new(report, 1))?, || {
            format!("report {} exists", report.id)
        })
        .await
    }

    /// A83: a report by id, whoever's (GSI1, eventually consistent).
    pub async fn report_by_id(&self, id: ReportId) -> Result<Option<StoredReport>, StoreError> {
        Ok(self
            .only_on_gsi1::<ReportItem>(&keys::report(&id))
            .await?
            .map(StoredReport::from))
    }

    /// A83: `org`'s report `id`, strongly consistent (the documents function's jobs).
    pub async fn report_of(
        &self,
        org: OrgId,
        id: ReportId,
    ) -> Result<Option<StoredReport>, StoreError> {
        Ok(self
            .get::<ReportItem>(&keys::org(&org), &keys::report(&id), true)
            .await?
            .map(StoredReport::from))
    }

    /// A83: saves `report` over revision `rev`; a conflict when it changed meanwhile.
    pub async fn save_report(&self, report: &ReportFile, rev: u64) -> Result<u64, StoreError> {
        self.put_at_rev(to_item(&ReportItem::new(report, rev + 1))?, rev, "report")
            .await
    }

    /// A84: one page of `org`'s report files, newest first.
    pub async fn reports_of(
        &self,
        org: OrgId,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredReport>, StoreError> {
        let pk = keys::org(&org);
        let q = QuerySpec {
            index: None,
            pk: &pk,
            sk_prefix: Some(keys::REPORTS),
            limit,
            forward: false,
        };
        Ok(self
            .query_page::<ReportItem>(q, start)
            .await?
            .map(StoredReport::from))
    }
}
