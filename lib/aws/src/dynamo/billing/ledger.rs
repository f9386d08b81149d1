//! A60: a customer's ledger entries, written inside the transactions of the documents and
//! payments they post.

use aws_sdk_dynamodb::types::TransactWriteItem;
use kopek_domain::ids::OrgId;
use kopek_domain::ledger::Entry;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::dynamo::expr::{ABSENT, put};
use crate::dynamo::{Store, StoreError, keys, to_item};

#[derive(Debug, Serialize, Deserialize)]
struct LedgerItem<E> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    entry: E,
}

/// `entry` as a new item of its customer's ledger, on its date.
pub(super) fn ledger_put(store: &Store, entry: &Entry) -> Result<TransactWriteItem, StoreError> {
    let item = to_item(&LedgerItem {
        pk: keys::org(&entry.org()),
        sk: keys::ledger_entry(entry.on(), &entry.id().to_string()),
        kind: "ledger_entry".into(),
        entry,
    })?;
    put(store, item, Some(ABSENT))
}

impl Store {
    /// A60: every ledger entry of a customer, by date then id.
    pub async fn ledger_entries<T: DeserializeOwned>(
        &self,
        org: OrgId,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self
            .query_all::<LedgerItem<T>>(&keys::org(&org), keys::LEDGER)
            .await?
            .into_iter()
            .map(|i| i.entry)
            .collect())
    }
}
