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
//! - [`telemetry`]: JSON logs through `tracing`.

pub mod clients;
pub mod config;
pub mod dynamo;
pub mod queue;
pub mod secrets;
pub mod telemetry;
