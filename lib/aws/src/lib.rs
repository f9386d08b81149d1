//! Kopek's AWS adapters.
//!
//! Everything that speaks to AWS lives here, behind types the rest of the code can use
//! without knowing the SDK:
//! - [`config`]: the typed configuration every function reads once at cold start;
//! - [`clients`]: SDK clients built from `aws_config`, honouring `AWS_ENDPOINT_URL` so the
//!   same code talks to the local emulator and to AWS;
//! - [`secrets`]: secrets fetched once at cold start (never logged);
//! - [`dynamo`]: the DynamoDB store — the table design and every access pattern are in its
//!   module docs;
//! - [`queue`]: the SQS queues: sending in batches, receiving, deleting;
//! - [`audit`]: the audit scope: a request's or task's record, written by the store with its
//!   first change;
//! - [`archive`]: ZIPs: a package in memory, a period's archive streamed as a multipart upload;
//! - [`hooks`]: outgoing webhook requests (addresses checked before connecting, no redirects,
//!   a deadline);
//! - [`mail`]: e-mail through SES (package notifications);
//! - [`objects`]: the documents bucket: filing bytes once, reading them, presigned downloads;
//! - [`signing`]: the documents' KMS key: its self-signed certificate, detached CMS signatures;
//! - [`telemetry`]: JSON logs through `tracing`;
//! - `faults` (cargo feature `faults`, tests only): injected write failures.

pub mod archive;
pub mod audit;
pub mod clients;
pub mod config;
pub mod dynamo;
#[cfg(feature = "faults")]
pub mod faults;
pub mod hooks;
pub mod mail;
pub mod objects;
pub mod queue;
pub mod secrets;
pub mod signing;
pub mod telemetry;
