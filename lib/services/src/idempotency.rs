//! The records behind `Idempotency-Key`: the first request with a key claims it (scoped to
//! its caller), its response is kept, and a retry with the same key and the same request gets
//! the kept response again. What a response is and how it is sealed is the HTTP layer's.

/// What claiming a key found, and a response kept for replay (at most [`MAX_STORED_BODY`]
/// bytes of body).
pub use kopek_aws::dynamo::idempotency::{Claim, MAX_STORED_BODY, StoredResponse};

use crate::{Context, Result};

/// Claims, completes and releases `Idempotency-Key` records.
#[derive(Clone)]
pub struct Idempotency {
    ctx: Context,
}

impl Idempotency {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Claims `key` for the caller `scope` with the request's `fingerprint` (a hash of its
    /// method, path and body), as of now.
    pub async fn claim(&self, scope: &str, key: &str, fingerprint: &str) -> Result<Claim> {
        Ok(self
            .ctx
            .store
            .claim_idempotency_key(scope, key, fingerprint, self.ctx.now())
            .await?)
    }

    /// Keeps the response of a claimed key.
    pub async fn complete(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<()> {
        Ok(self
            .ctx
            .store
            .complete_idempotency_key(scope, key, response)
            .await?)
    }

    /// Forgets a claimed key whose request failed, so that a retry runs it again.
    pub async fn release(&self, scope: &str, key: &str) -> Result<()> {
        Ok(self.ctx.store.release_idempotency_key(scope, key).await?)
    }
}
