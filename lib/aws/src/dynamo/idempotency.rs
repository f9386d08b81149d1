//! Idempotency records (access pattern A14): the first POST with a key claims it, the
//! response is stored, and a retry with the same key and the same request gets the stored
//! response again. A retry with another request under the same key is a conflict.

use super::{Store, StoreError, epoch, key, keys};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::{DateTime, Duration, Utc};

/// How long a key is remembered.
pub const RETENTION: Duration = Duration::hours(24);
/// A claim older than this whose request never finished (a crashed function) may be taken over.
pub const STALE_CLAIM: Duration = Duration::minutes(2);
/// Responses larger than this are not stored (a DynamoDB item holds at most 400 KB).
pub const MAX_STORED_BODY: usize = 300 * 1024;

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key is new (or its earlier claim went stale): go ahead, then complete or release.
    Fresh,
    /// The same request was answered before: send this again.
    Replay(StoredResponse),
    /// The same request is being answered right now.
    InProgress,
    /// The key was used for another request.
    Mismatch,
}

impl Store {
    /// Claims `key` for `caller` with the request's `fingerprint` (a hash of method, path, body).
    pub async fn claim_idempotency_key(
        &self,
        caller: &str,
        idem_key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let pk = keys::idempotency(caller, idem_key);
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .item("PK", AttributeValue::S(pk.clone()))
            .item("SK", AttributeValue::S("IDEM".into()))
            .item("type", AttributeValue::S("idempotency".into()))
            .item("fingerprint", AttributeValue::S(fingerprint.into()))
            .item("state", AttributeValue::S("pending".into()))
            .item("claimed_at", AttributeValue::N(epoch(now).to_string()))
            .item("expires_at", AttributeValue::N(epoch(now + RETENTION).to_string()))
            // A stale pending claim (its function died) may be taken over by the same request.
            .condition_expression(
                "attribute_not_exists(PK) OR (#state = :pending AND fingerprint = :fp AND claimed_at < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":fp", AttributeValue::S(fingerprint.into()))
            .expression_attribute_values(":stale", AttributeValue::N(epoch(now - STALE_CLAIM).to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match put {
            Ok(out) => {
                self.record(out.consumed_capacity());
                return Ok(Claim::Fresh);
            }
            Err(e) => match StoreError::from_sdk(e) {
                StoreError::Conflict(_) => {}
                other => return Err(other),
            },
        }
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(&pk, "IDEM")))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record(out.consumed_capacity());
        let Some(item) = out.item else {
            // Deleted between our put and get (released after a failure): the caller may retry.
            return Ok(Claim::InProgress);
        };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        if text("fingerprint") != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if text("state") != "done" {
            return Ok(Claim::InProgress);
        }
        let status = item
            .get("status")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("{pk}: status")))?;
        let body = item
            .get("body")
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        Ok(Claim::Replay(StoredResponse {
            status,
            content_type: text("content_type"),
            body,
        }))
    }

    /// Stores the response of a claimed key.
    pub async fn complete_idempotency_key(
        &self,
        caller: &str,
        idem_key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(&keys::idempotency(caller, idem_key), "IDEM")))
            .update_expression(
                "SET #state = :done, #status = :status, content_type = :ct, body = :body",
            )
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", AttributeValue::S("done".into()))
            .expression_attribute_values(":status", AttributeValue::N(response.status.to_string()))
            .expression_attribute_values(":ct", AttributeValue::S(response.content_type.clone()))
            .expression_attribute_values(
                ":body",
                AttributeValue::B(Blob::new(response.body.clone())),
            )
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record(out.consumed_capacity());
        Ok(())
    }

    /// Forgets a claimed key whose request failed, so that a retry runs it again.
    pub async fn release_idempotency_key(
        &self,
        caller: &str,
        idem_key: &str,
    ) -> Result<(), StoreError> {
        let out = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(&keys::idempotency(caller, idem_key), "IDEM")))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.record(out.consumed_capacity());
        Ok(())
    }
}
