//! A77–A80, A87: bank statement imports, the outcome of each payment on them, the claims that
//! keep a bank payment from being counted twice, and the payer accounts accountants
//! confirmed. The file itself is in S3 under its SHA-256.
//!
//! | # | Access pattern | Operation | Key | Cost |
//! |---|----------------|-----------|-----|------|
//! | A77 | An import: file once at upload, read; list them, newest first | `PutItem` if absent / `GetItem` / `Query GSI1` (backwards) | `IMPORT#{imp}` / `IMPORT`; GSI1 `IMPORTS` / `{uploaded at}#{imp}` | 1 WCU + 1 GSI (≈ 1 KB) |
//! | A78 | A payment's outcome: file once (with its claim, or with its payment: A62); read one; an import's report; resolve a reviewed one; the review list | `PutItem` if absent / `GetItem` (consistent) / `Query` / `PutItem` if `rev = :rev` / `Query GSI1` | `IMPORT#{imp}` / `LINE#{nnnnnnn}`; GSI1 while in review `REVIEW` / `{imp}#{nnnnnnn}` | 1 WCU (+ 1 GSI in review) |
//! | A79 | A bank payment's claim (number, date, payer account, amount): taken once, read by a later import | `PutItem` if absent, in A78's or A62's transaction / `GetItem` (consistent) | `BANKLINE#{sha256}` / `BANKLINE` | 1 WCU |
//! | A87 | A statement upload: a presigned link given (who, the file's name, when it expires); taken once when imported | `PutItem` if absent / `GetItem` (consistent) / `DeleteItem` if it exists; TTL `expires_at` a day later | `UPLOAD#{upl}` / `UPLOAD` | 1 WCU |
//! | A80 | The customer a payer account was confirmed for (by resolving a reviewed line, or by staff directly); a customer's accounts; forgetting one | `GetItem` / `PutItem` / `Query GSI1` / `DeleteItem` if `org = :org` | `PAYERACCOUNT#{account}` / `PAYERACCOUNT`; GSI1 `PAYERACCOUNTS#{org}` / `{account}` | 1 WCU + 1 GSI |

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use kopek_domain::bank::imports::{ImportLine, StatementImport};
use kopek_domain::ids::{ImportId, OrgId, UploadId};
use serde::{Deserialize, Serialize};

use crate::dynamo::expr::{ABSENT, EXISTS, SAME_REV, conditional_put, failed_conditions, n, put};
use crate::dynamo::{Page, PageKey, Store, StoreError, epoch, keys, to_item};

#[derive(Debug, Serialize, Deserialize)]
struct ImportItem {
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
    import: StatementImport,
}

#[derive(Debug, Serialize, Deserialize)]
struct LineItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    line: ImportLine,
    rev: u64,
}

impl LineItem {
    fn new(line: &ImportLine, rev: u64) -> Self {
        let review = line.in_review();
        Self {
            pk: keys::import(&line.import),
            sk: keys::import_line(line.line),
            gsi1pk: review.then(|| keys::REVIEW.to_owned()),
            gsi1sk: review.then(|| format!("{}#{}", line.import, keys::import_line(line.line))),
            kind: "import_line".into(),
            line: line.clone(),
            rev,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ClaimItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    import: ImportId,
    line: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct PayerAccountItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    /// The customer's accounts (absent on items written before they were listed).
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    org: OrgId,
}

#[derive(Debug, Serialize, Deserialize)]
struct UploadItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    upload: StatementUpload,
    /// When DynamoDB may forget it (epoch seconds): a day after the link expired.
    expires_at: i64,
}

/// A presigned upload of a statement, before it is imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementUpload {
    pub id: UploadId,
    /// Who asked for the link.
    pub by: String,
    pub file_name: String,
    /// The object the link writes.
    pub key: String,
    /// When the link stops working.
    pub link_expires_at: DateTime<Utc>,
}

/// An import line as read, with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLine {
    pub line: ImportLine,
    pub rev: u64,
}

/// Which import and line claimed a bank payment first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub import: ImportId,
    pub line: usize,
}

/// How a payment's line is written with the payment that records it (A62).
#[derive(Debug, Clone, Copy)]
pub enum LineWrite<'a> {
    /// Filed now, claiming the bank payment by its fingerprint.
    New {
        line: &'a ImportLine,
        fingerprint: &'a str,
    },
    /// A line under review, resolved: still at the revision read.
    Resolve { line: &'a ImportLine, rev: u64 },
}

impl LineWrite<'_> {
    /// The actions: the line, then the claim where there is one.
    pub(crate) fn actions(&self, store: &Store) -> Result<Vec<TransactWriteItem>, StoreError> {
        match *self {
            LineWrite::New { line, fingerprint } => Ok(vec![
                put(store, to_item(&LineItem::new(line, 1))?, Some(ABSENT))?,
                claim_put(store, line, fingerprint)?,
            ]),
            LineWrite::Resolve { line, rev } => Ok(vec![resolve_put(store, line, rev)?]),
        }
    }
}

fn claim_put(
    store: &Store,
    line: &ImportLine,
    fingerprint: &str,
) -> Result<TransactWriteItem, StoreError> {
    let item = to_item(&ClaimItem {
        pk: keys::bank_line(fingerprint),
        sk: keys::BANK_LINE_SK.into(),
        kind: "bank_line".into(),
        import: line.import,
        line: line.line,
    })?;
    put(store, item, Some(ABSENT))
}

fn resolve_put(
    store: &Store,
    line: &ImportLine,
    rev: u64,
) -> Result<TransactWriteItem, StoreError> {
    let read = i64::try_from(rev).map_err(|_| StoreError::Corrupt("import line: rev".into()))?;
    conditional_put(
        store,
        to_item(&LineItem::new(line, rev + 1))?,
        Some(SAME_REV),
        [(":rev".to_owned(), n(read))].into(),
    )
}

/// What filing a line without a payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    Filed,
    /// The line has its outcome already (a chunk handled again).
    LineExists,
    /// Another line claimed the bank payment first.
    Claimed,
}

impl Store {
    /// A77: files an import once; `false` if it exists.
    pub async fn put_import(&self, import: &StatementImport) -> Result<bool, StoreError> {
        self.put_new(to_item(&ImportItem {
            pk: keys::import(&import.id),
            sk: keys::IMPORT_SK.into(),
            gsi1pk: keys::IMPORTS.into(),
            gsi1sk: format!("{}#{}", import.uploaded_at.to_rfc3339(), import.id),
            kind: "statement_import".into(),
            import: import.clone(),
        })?)
        .await
    }

    /// A87: files a statement upload once.
    pub async fn put_upload(&self, upload: &StatementUpload) -> Result<bool, StoreError> {
        self.put_new(to_item(&UploadItem {
            pk: keys::upload(&upload.id),
            sk: keys::UPLOAD_SK.into(),
            kind: "statement_upload".into(),
            upload: upload.clone(),
            expires_at: epoch(upload.link_expires_at + chrono::TimeDelta::days(1)),
        })?)
        .await
    }

    /// A87: a statement upload not yet imported.
    pub async fn upload(&self, id: UploadId) -> Result<Option<StatementUpload>, StoreError> {
        Ok(self
            .get::<UploadItem>(&keys::upload(&id), keys::UPLOAD_SK, true)
            .await?
            .map(|i| i.upload))
    }

    /// A87: takes an upload to import it: `false` when another request took it first.
    pub async fn take_upload(&self, id: UploadId) -> Result<bool, StoreError> {
        self.delete_if(&keys::upload(&id), keys::UPLOAD_SK, EXISTS, None)
            .await
    }

    /// A77: an import.
    pub async fn import(&self, id: ImportId) -> Result<Option<StatementImport>, StoreError> {
        Ok(self
            .get::<ImportItem>(&keys::import(&id), keys::IMPORT_SK, true)
            .await?
            .map(|i| i.import))
    }

    /// A77: imports, newest first.
    pub async fn imports(
        &self,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StatementImport>, StoreError> {
        Ok(self
            .gsi1_page::<ImportItem>(keys::IMPORTS, limit, start, false)
            .await?
            .map(|i| i.import))
    }

    /// A78: every line of an import with its outcome, in file order.
    pub async fn import_lines(&self, id: ImportId) -> Result<Vec<ImportLine>, StoreError> {
        Ok(self
            .query_all::<LineItem>(&keys::import(&id), keys::IMPORT_LINES)
            .await?
            .into_iter()
            .map(|i| i.line)
            .collect())
    }

    /// A78: one line (strongly consistent).
    pub async fn import_line(
        &self,
        id: ImportId,
        line: usize,
    ) -> Result<Option<StoredLine>, StoreError> {
        Ok(self
            .get::<LineItem>(&keys::import(&id), &keys::import_line(line), true)
            .await?
            .map(|i| StoredLine {
                line: i.line,
                rev: i.rev,
            }))
    }

    /// A78: the lines waiting for review, oldest import first.
    pub async fn review_lines(
        &self,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<ImportLine>, StoreError> {
        Ok(self
            .gsi1_page::<LineItem>(keys::REVIEW, limit, start, true)
            .await?
            .map(|i| i.line))
    }

    /// A78 + A79: files a line without a payment (to review, or a duplicate), claiming the
    /// bank payment with it when `fingerprint` is given — one transaction.
    pub async fn file_line(
        &self,
        line: &ImportLine,
        fingerprint: Option<&str>,
    ) -> Result<Filed, StoreError> {
        let mut items = vec![put(self, to_item(&LineItem::new(line, 1))?, Some(ABSENT))?];
        if let Some(fingerprint) = fingerprint {
            items.push(claim_put(self, line, fingerprint)?);
        }
        let err = match self.transact_raw(items).await {
            Ok(()) => return Ok(Filed::Filed),
            Err(err) => err,
        };
        let failed = failed_conditions(&err);
        if failed.contains(&0) {
            Ok(Filed::LineExists)
        } else if failed.contains(&1) {
            Ok(Filed::Claimed)
        } else {
            Err(err.into_store_error())
        }
    }

    /// A78: a reviewed line's new outcome without a payment (dismissed); `false` if it
    /// changed since it was read.
    pub async fn resolve_line(&self, line: &ImportLine, rev: u64) -> Result<bool, StoreError> {
        let err = match self.transact_raw(vec![resolve_put(self, line, rev)?]).await {
            Ok(()) => return Ok(true),
            Err(err) => err,
        };
        if failed_conditions(&err).contains(&0) {
            Ok(false)
        } else {
            Err(err.into_store_error())
        }
    }

    /// A79: which import and line claimed a bank payment (strongly consistent).
    pub async fn bank_line_claim(&self, fingerprint: &str) -> Result<Option<Claim>, StoreError> {
        Ok(self
            .get::<ClaimItem>(&keys::bank_line(fingerprint), keys::BANK_LINE_SK, true)
            .await?
            .map(|c| Claim {
                import: c.import,
                line: c.line,
            }))
    }

    /// A80: the customer a payer account was confirmed for.
    pub async fn payer_account(&self, account: &str) -> Result<Option<OrgId>, StoreError> {
        Ok(self
            .get::<PayerAccountItem>(&keys::payer_account(account), keys::PAYER_ACCOUNT_SK, false)
            .await?
            .map(|i| i.org))
    }

    /// A80: remembers that `account` pays for `org` (the latest confirmation wins).
    pub async fn remember_payer_account(
        &self,
        account: &str,
        org: OrgId,
    ) -> Result<(), StoreError> {
        self.put_replacing(to_item(&PayerAccountItem {
            pk: keys::payer_account(account),
            sk: keys::PAYER_ACCOUNT_SK.into(),
            gsi1pk: Some(keys::payer_accounts_of(&org)),
            gsi1sk: Some(account.to_owned()),
            kind: "payer_account".into(),
            org,
        })?)
        .await
    }

    /// A80: the accounts confirmed for `org`, in account order.
    pub async fn payer_accounts_of(&self, org: OrgId) -> Result<Vec<String>, StoreError> {
        Ok(self
            .query_all_at::<PayerAccountItem>(
                Some(keys::GSI1),
                &keys::payer_accounts_of(&org),
                None,
            )
            .await?
            .into_iter()
            .filter_map(|i| i.gsi1sk)
            .collect())
    }

    /// A80: forgets that `account` pays for `org`; `false` when it was not `org`'s.
    pub async fn forget_payer_account(
        &self,
        account: &str,
        org: OrgId,
    ) -> Result<bool, StoreError> {
        self.delete_if(
            &keys::payer_account(account),
            keys::PAYER_ACCOUNT_SK,
            "org = :org",
            Some((":org", AttributeValue::S(org.to_string()))),
        )
        .await
    }
}
