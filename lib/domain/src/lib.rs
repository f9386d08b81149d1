//! Kopek's domain: the rules of billing, free of AWS, HTTP and I/O.
//!
//! The compiler enforces the boundary: this crate has no `aws-*`, `lambda_*` or `axum`
//! dependency. Adapters in `lib/aws` and `lib/http` turn storage items and wire types into
//! the types defined here (parse, don't validate), and the Lambda functions in `functions/`
//! wire them together.
//!
//! Modules, one per concept:
//! - [`ids`]: prefixed, sortable identifiers (`org_…`, `usr_…`).
//! - [`money`]: amounts with their currency, checked arithmetic, the rounding policy.
//! - [`pricing`]: price models (flat, per unit, graduated, volume, package, percentage).
//! - [`catalog`]: services, their kinds, units, tax rates and price versions.
//! - [`accounts`]: organisations, users, roles, scopes, API keys and credentials.
//! - [`clock`]: the injected notion of "now".

pub mod accounts;
pub mod catalog;
pub mod clock;
pub mod ids;
pub mod money;
pub mod pricing;
