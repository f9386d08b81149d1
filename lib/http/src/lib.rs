//! The HTTP plumbing every Kopek HTTP function shares.
//!
//! - [`problem`]: the one mapping from domain and storage errors to RFC 9457
//!   `application/problem+json` responses with a stable machine `code`;
//! - [`json`]: the JSON body extractor — size-limited, unknown fields refused, and every
//!   error naming the field it is about;
//! - [`audit`]: every state-changing request as one audited action (its record written with
//!   its first change);
//! - [`auth`]: access tokens, API keys and the [`auth::Caller`] extractor;
//! - [`idempotency`]: the `Idempotency-Key` middleware every POST goes through;
//! - [`refs`]: `org_id=ref:{reference}` in any query, looked up before the route reads it;
//! - [`cursor`]: opaque, signed page cursors;
//! - [`seal`]: AES-256-GCM sealing of what is kept at rest (responses kept for replay);
//! - [`openapi`]: the answers of these layers, written into the OpenAPI document once;
//! - [`wire`]: money on the wire, one form for every amount ([`wire::Amount`]);
//! - [`state`]: what handlers share ([`state::AppState`]);
//! - [`layers`]: the stack of middleware every router gets (request ids, tracing, auth,
//!   idempotency, audit) and [`layers::run_lambda`], which runs a router in AWS Lambda.

pub mod audit;
pub mod auth;
pub mod cursor;
pub mod download;
pub mod idempotency;
pub mod json;
pub mod layers;
pub mod openapi;
pub mod problem;
pub mod refs;
pub mod seal;
pub mod state;
pub mod wire;

pub use problem::{ApiError, ApiResult};
