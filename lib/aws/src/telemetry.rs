//! Structured JSON logs through `tracing`.
//!
//! Every function calls [`init`] first. Logs carry request ids and entity ids; they never
//! carry passwords, tokens or full personal data (types holding secrets redact their `Debug`).

use tracing_subscriber::EnvFilter;

/// JSON logs to stdout (what CloudWatch ingests), filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests, the local stack) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// Human-readable logs for the local stack's terminal.
pub fn init_pretty() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
