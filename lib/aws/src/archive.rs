//! ZIP files in the documents bucket: a customer's package built in memory (a few documents),
//! and a period's archive streamed to S3 with a multipart upload, so its size is bounded by
//! the bucket, not by the function's memory.
//!
//! Entries carry the ZIP epoch (1980-01-01) as their time, so the same files give the same
//! ZIP. The archive writes each entry through the ZIP writer into a small buffer that is moved
//! into the upload's current part after the entry; a part is sent once it holds
//! [`PART_SIZE`], so memory stays at about one part plus the largest entry.

use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use sha2::{Digest, Sha256};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, StreamWriter, ZipWriter};

use crate::dynamo::StoreError;
use crate::objects::Objects;

/// The size of each uploaded part but the last (S3 takes 5 MiB to 5 GiB, at most 10,000).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

fn zip_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(format!("writing a ZIP: {e}"))
}

fn options(compress: bool) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(if compress {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        })
        .large_file(false)
}

/// A ZIP of `entries` (name, bytes), deflated, in memory.
pub fn zip_in_memory(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>, StoreError> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options(true))
            .map_err(zip_error)?;
        zip.write_all(bytes).map_err(zip_error)?;
    }
    Ok(zip.finish().map_err(zip_error)?.into_inner())
}

/// Bytes the ZIP writer produced since they were last taken.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Pending {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a streamed archive came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub key: String,
    pub size: u64,
    /// SHA-256 of the whole object, lowercase hex.
    pub sha256: String,
    /// Parts uploaded.
    pub parts: usize,
    /// The most bytes held at once (the part being filled plus the last entry's output).
    pub peak_buffer: usize,
}

/// A ZIP written entry by entry into a multipart upload.
pub struct ZipUpload {
    objects: Objects,
    key: String,
    upload_id: String,
    zip: ZipWriter<StreamWriter<Pending>>,
    pending: Pending,
    part: Vec<u8>,
    parts: Vec<CompletedPart>,
    hasher: Sha256,
    size: u64,
    peak: usize,
}

impl ZipUpload {
    /// Starts the upload of a ZIP at `key`.
    pub async fn start(objects: &Objects, key: &str) -> Result<Self, StoreError> {
        let out = objects
            .client()
            .create_multipart_upload()
            .bucket(objects.bucket())
            .key(key)
            .content_type("application/zip")
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let pending = Pending::default();
        Ok(Self {
            objects: objects.clone(),
            key: key.to_owned(),
            upload_id: out.upload_id.unwrap_or_default(),
            zip: ZipWriter::new_stream(pending.clone()),
            pending,
            part: Vec::with_capacity(PART_SIZE),
            parts: Vec::new(),
            hasher: Sha256::new(),
            size: 0,
            peak: 0,
        })
    }

    /// Adds one entry (`compress`: deflate it; ZIPs and PDFs are stored as they are).
    pub async fn add(
        &mut self,
        name: &str,
        bytes: &[u8],
        compress: bool,
    ) -> Result<(), StoreError> {
        self.zip
            .start_file(name, options(compress))
            .map_err(zip_error)?;
        self.zip.write_all(bytes).map_err(zip_error)?;
        self.drain(false).await
    }

    /// Moves what the ZIP writer produced into the part, sending full parts (and, with
    /// `last`, what is left).
    async fn drain(&mut self, last: bool) -> Result<(), StoreError> {
        let produced = self.pending.take();
        self.peak = self.peak.max(self.part.len() + produced.len());
        self.hasher.update(&produced);
        self.size += produced.len() as u64;
        self.part.extend_from_slice(&produced);
        while self.part.len() >= PART_SIZE {
            let rest = self.part.split_off(PART_SIZE);
            let full = std::mem::replace(&mut self.part, rest);
            self.send_part(full).await?;
        }
        if last && (!self.part.is_empty() || self.parts.is_empty()) {
            let tail = std::mem::take(&mut self.part);
            self.send_part(tail).await?;
        }
        Ok(())
    }

    async fn send_part(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        let number = self.parts.len() as i32 + 1;
        let out = self
            .objects
            .client()
            .upload_part()
            .bucket(self.objects.bucket())
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag)
                .build(),
        );
        Ok(())
    }

    /// Writes the ZIP's central directory and completes the upload.
    pub async fn finish(mut self) -> Result<Streamed, StoreError> {
        let zip = std::mem::replace(&mut self.zip, ZipWriter::new_stream(Pending::default()));
        zip.finish().map_err(zip_error)?;
        self.drain(true).await?;
        self.objects
            .client()
            .complete_multipart_upload()
            .bucket(self.objects.bucket())
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(Streamed {
            key: self.key,
            size: self.size,
            sha256: self
                .hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            parts: self.parts.len(),
            peak_buffer: self.peak,
        })
    }

    /// Gives the upload up (its parts are deleted by S3).
    pub async fn abort(self) {
        let _ = self
            .objects
            .client()
            .abort_multipart_upload()
            .bucket(self.objects.bucket())
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_zip_in_memory_holds_its_entries_and_is_the_same_every_time() {
        let entries = vec![
            ("a.pdf".to_owned(), b"%PDF-1.7 one".to_vec()),
            ("manifest.json".to_owned(), br#"{"documents":[]}"#.to_vec()),
        ];
        let zip = zip_in_memory(&entries).expect("zipped");
        assert_eq!(zip, zip_in_memory(&entries).expect("zipped"));
        let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("a ZIP");
        assert_eq!(archive.len(), 2);
        let mut text = String::new();
        archive
            .by_name("manifest.json")
            .expect("the manifest")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, r#"{"documents":[]}"#);
    }
}
