//! Kopek's event entrypoints: what the SQS- and schedule-triggered Lambda functions run, and
//! the local pollers that stand in for Lambda's event source mappings (`cargo xtask up`, the
//! tests, the benchmarks).
//!
//! Each handler only translates: an event into calls of one service of `kopek-services`, and
//! the outcome into the response Lambda expects (a partial batch response naming only the
//! messages to retry). No rule lives here.
//!
//! | module | function | event | service |
//! |--------|----------|-------|---------|
//! | [`close`] | `period-close` | the schedule's `{"scheduled_time", "time_zone"}` (or `{"period"}`) | [`kopek_services::close::Closer::start`] |
//! | [`close`] | `period-close-worker` | SQS batches of `CloseQueue` | [`kopek_services::close::Closer::handle`] |
//! | [`usage`] | `usage-ingest` | SQS batches of `UsageQueue` | [`kopek_services::usage::ingest::Ingestor::ingest`] |
//! | [`documents`] | `documents` | SQS batches of `DocumentsQueue` | [`kopek_services::documents::Documents::generate`] |
//! | [`documents`] | `outbox-relay` | the schedule (every minute; `{"window_seconds": 50}` keeps it relaying) | [`kopek_services::outbox::Outbox::relay`] (document jobs and the webhook dispatch), [`kopek_services::webhooks::Webhooks::sweep`] |
//! | [`bank`] | `bank-import` | SQS batches of `BankQueue` | [`kopek_services::bank::Bank::handle`] |
//! | [`webhooks`] | `webhook-delivery` | SQS batches of `WebhookQueue` | [`kopek_services::webhooks::Webhooks::deliver`] |
//! | [`dunning`] | `dunning` | the daily schedule | [`kopek_services::dunning::Dunning::run_daily`] |

pub mod bank;
pub mod close;
pub mod documents;
pub mod dunning;
pub mod poll;
pub mod usage;
pub mod webhooks;
