//! Kopek's domain: the rules of billing, free of AWS, HTTP and I/O.
//!
//! The compiler enforces the boundary: this crate has no `aws-*`, `lambda_*` or `axum`
//! dependency. Adapters in `lib/aws` and `lib/http` turn storage items and wire types into
//! the types defined here (parse, don't validate), the use cases in `lib/services` apply these
//! rules, and the Lambda functions in `functions/` wire them together.
//!
//! Modules, one per concept:
//! - [`ids`]: prefixed, sortable identifiers (`org_…`, `usr_…`).
//! - [`money`]: amounts with their currency, checked arithmetic, the rounding policy.
//! - [`pricing`]: price models (flat, per unit, graduated, volume, package, percentage).
//! - [`catalog`]: services, their kinds, units, tax rates and price versions.
//! - [`accounts`]: organisations, users, roles, scopes, API keys and credentials.
//! - [`period`]: billing periods (calendar months, or quarters, half-years or years) and
//!   their days.
//! - [`calendar`]: the provider's time zone, which turns instants into days and periods.
//! - [`proration`]: the one proration rule: a period's price split by day.
//! - [`subscriptions`]: subscriptions to recurring services and their prorated charges.
//! - [`orders`]: orders, their lines and live status.
//! - [`work`]: work orders, batches and their outcomes.
//! - [`charges`]: billable charges and the domain events of the outbox.
//! - [`usage`]: metered usage events: parsing, judging, late events, totals and estimates.
//! - [`close`]: the states of a period's close and of each customer's job in it.
//! - [`invoicing`]: invoices of a closed period, taxes, numbering, credit notes.
//! - [`documents`]: what a closing document prints (invoice, act), in the buyer's language.
//! - [`ledger`]: the double-entry ledger and balances.
//! - [`payments`]: payments received, the invoices they settle, credit drawn down; payments
//!   reversed and refunds.
//! - [`bank`]: bank statements (1CClientBankExchange, camt.053), matching their payments,
//!   imports and what became of each line.
//! - [`account_statement`]: a customer's statement of account for any dates, from the ledger.
//! - [`dunning`]: the policy that chases what is overdue, and the daily run's decision.
//! - [`clock`]: the injected notion of "now".
//! - [`webhooks`]: outgoing webhooks (Standard Webhooks): event types, the envelope, signing
//!   secrets and signatures, the retry schedule, the addresses a delivery may not reach.
//! - [`audit`]: the audit log's records, what they mask, the changes they show, the search
//!   filter and the CSV export.
//! - [`wire`]: decimals and dates as text, read strictly (one grammar for all input).

pub mod account_statement;
pub mod accounts;
pub mod audit;
pub mod bank;
pub mod calendar;
pub mod catalog;
pub mod charges;
pub mod clock;
pub mod close;
pub mod documents;
pub mod dunning;
pub mod ids;
pub mod invoicing;
pub mod ledger;
pub mod money;
pub mod orders;
pub mod payments;
pub mod period;
pub mod pricing;
pub mod proration;
pub mod subscriptions;
pub mod usage;
pub mod webhooks;
pub mod wire;
pub mod work;
