//! Kopek's integration and end-to-end tests: one test binary (the AWS SDK links once), one
//! module per area, all on the harness of `kopek_tests` (`tests/src/lib.rs`). Every test
//! provisions its own resources from `infra/template.yaml` in the shared emulator, so they run
//! in parallel.
//!
//! Run one area with `cargo xtask test -- --test it access::` (a module path filters tests).

mod access;
mod accounts;
mod architecture;
mod audit;
mod bad_input;
mod billing_api;
mod billing_store;
mod catalog;
mod close;
mod crm;
mod documents;
mod lambda_e2e;
mod openapi;
mod orders;
mod portal;
mod provisioning;
mod schemathesis;
mod smoke;
mod subscriptions;
mod support;
mod usage_api;
mod usage_ingest;
mod webhooks;
mod wire_money;
mod work_sheet_pdf;
