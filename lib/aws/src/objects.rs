//! The documents bucket (`DocumentsBucket`): filing a document's bytes once, reading them
//! back, short-lived presigned downloads, and presigned uploads (bank statements too large
//! for a request body).
//!
//! Every object carries its SHA-256 as user metadata (`x-amz-meta-sha256`), so filing the same
//! bytes again finds them with one `HeadObject` and writes nothing (the bucket is versioned: a
//! second `PutObject` would add a version). Presigned URLs are signed locally with the
//! function's credentials; no request is made. The emulator does not enforce a presigned URL's
//! expiry, so [`MAX_PRESIGN`] is enforced here.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::dynamo::StoreError;

/// The longest a download link lives.
pub const MAX_PRESIGN: Duration = Duration::from_secs(15 * 60);

/// The user metadata key of an object's SHA-256.
const SHA256_META: &str = "sha256";

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What filing an object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    /// The bytes were written.
    Written,
    /// The same bytes were there already: nothing was written.
    AlreadyThere,
}

/// A link that downloads (or uploads) one object until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// The documents bucket and a client for it.
#[derive(Debug, Clone)]
pub struct Objects {
    client: Client,
    bucket: String,
}

impl Objects {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The SHA-256 recorded on the object at `key`, or `None` when there is no such object.
    pub async fn sha256_of(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.metadata()
                    .and_then(|m| m.get(SHA256_META))
                    .cloned()
                    .unwrap_or_default(),
            )),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(e) => Err(StoreError::from_sdk(e)),
        }
    }

    /// Files `bytes` at `key` unless the same bytes are there already.
    pub async fn file(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<Filed, StoreError> {
        let sha256 = sha256_hex(&bytes);
        if self.sha256_of(key).await?.as_deref() == Some(sha256.as_str()) {
            return Ok(Filed::AlreadyThere);
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .metadata(SHA256_META, sha256)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(Filed::Written)
    }

    /// The bytes of the object at `key`.
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(StoreError::NotFound);
            }
            Err(e) => return Err(StoreError::from_sdk(e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Transient(format!("reading {key}: {e}")))?;
        Ok(body.into_bytes().to_vec())
    }

    /// The size and last change of the object at `key`, or `None` when there is none.
    pub async fn head(&self, key: &str) -> Result<Option<(u64, DateTime<Utc>)>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let size = u64::try_from(out.content_length().unwrap_or_default()).unwrap_or(0);
                let changed = out
                    .last_modified()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                    .unwrap_or_default();
                Ok(Some((size, changed)))
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(e) => Err(StoreError::from_sdk(e)),
        }
    }

    /// Deletes the object at `key` (its latest version; nothing when there is none).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }

    /// A link that uploads the object at `key` with one `PUT` of its bytes for `ttl` (at
    /// most [`MAX_PRESIGN`]) from `now`.
    pub async fn upload_link(
        &self,
        key: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Download, StoreError> {
        let (config, expires_at) = presigning(now, ttl)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(Download {
            url: request.uri().to_owned(),
            expires_at,
        })
    }

    /// A link that downloads the object at `key` as `file_name` for `ttl` (at most
    /// [`MAX_PRESIGN`]) from `now`.
    pub async fn download(
        &self,
        key: &str,
        file_name: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Download, StoreError> {
        let (config, expires_at) = presigning(now, ttl)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!("attachment; filename=\"{file_name}\""))
            .presigned(config)
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(Download {
            url: request.uri().to_owned(),
            expires_at,
        })
    }
}

/// A presigned link's signing from `now` for `ttl`, at most [`MAX_PRESIGN`], and when it
/// expires.
fn presigning(
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<(PresigningConfig, DateTime<Utc>), StoreError> {
    let ttl = ttl.min(MAX_PRESIGN);
    let config = PresigningConfig::builder()
        .start_time(now.into())
        .expires_in(ttl)
        .build()
        .map_err(|e| StoreError::Unexpected(format!("presigning: {e}")))?;
    Ok((
        config,
        now + chrono::Duration::from_std(ttl).unwrap_or_default(),
    ))
}

/// An S3 client for `sdk`: path-style addressing where the endpoint is overridden (the local
/// emulator serves buckets by path, not by host name).
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_lowercase_hex_of_the_bytes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
