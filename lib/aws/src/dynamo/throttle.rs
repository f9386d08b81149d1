//! Failed sign-in counters (access pattern A13), one item per subject and fixed window.
//! The policy (how many failures, how long a window) is the domain's; this only counts.

use super::{Store, StoreError, epoch, key, keys};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use chrono::{DateTime, Utc};

/// Whose failures are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A normalised e-mail address.
    Account(&'a str),
    /// A client address.
    Address(&'a str),
}

impl Subject<'_> {
    fn pk(&self) -> String {
        match self {
            Subject::Account(s) => keys::throttle("ACCOUNT", s),
            Subject::Address(s) => keys::throttle("ADDRESS", s),
        }
    }
}

impl Store {
    /// The failures counted for each subject in the window that starts at `window_start`.
    pub async fn failed_sign_ins(
        &self,
        subjects: &[Subject<'_>],
        window_start: DateTime<Utc>,
    ) -> Result<Vec<u32>, StoreError> {
        let sk = keys::window(epoch(window_start));
        let pks: Vec<String> = subjects.iter().map(Subject::pk).collect();
        let mut unique = pks.clone();
        unique.sort();
        unique.dedup();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(unique.iter().map(|pk| key(pk, &sk)).collect()))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        let out = self
            .client()
            .batch_get_item()
            .request_items(self.table(), request)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record_many(out.consumed_capacity());
        let found = out
            .responses
            .and_then(|mut r| r.remove(self.table()))
            .unwrap_or_default();
        let count_of = |pk: &str| {
            found
                .iter()
                .find(|item| {
                    item.get("PK")
                        .and_then(|v| v.as_s().ok())
                        .map(String::as_str)
                        == Some(pk)
                })
                .and_then(|item| item.get("failures"))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Ok(pks.iter().map(|pk| count_of(pk)).collect())
    }

    /// Counts one more failure for `subject` in the window, which expires at `window_end`.
    pub async fn record_failed_sign_in(
        &self,
        subject: Subject<'_>,
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(&subject.pk(), &keys::window(epoch(window_start)))))
            .update_expression("ADD failures :one SET expires_at = :exp, #type = :type")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":exp", AttributeValue::N(epoch(window_end).to_string()))
            .expression_attribute_values(":type", AttributeValue::S("throttle".into()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record(out.consumed_capacity());
        Ok(())
    }

    /// Forgets an account's failures after a successful sign-in.
    pub async fn clear_failed_sign_ins(
        &self,
        subject: Subject<'_>,
        window_start: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let out = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(&subject.pk(), &keys::window(epoch(window_start)))))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record(out.consumed_capacity());
        Ok(())
    }
}
