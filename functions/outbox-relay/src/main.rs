//! The `outbox-relay` Lambda function: every minute (`RelaySchedule` in the template, which
//! keeps it relaying for 50 s) it relays the outbox's events to what reacts to them — an
//! `invoice_issued` event becomes a document job on `DocumentsQueue`, and every event the
//! events feed and the webhook deliveries on `WebhookQueue` — and sweeps the deliveries
//! whose retry is due, through `kopek_services::outbox::Outbox` and
//! `kopek_services::webhooks::Webhooks`. Its reserved concurrency is 1: one dispatcher
//! numbers the feed.

// The relay's future (dispatch, sweep, their store calls) nests deeper than the default.
#![recursion_limit = "256"]

use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::documents::{RelayEvent, handle_relay};
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let services = Services::from_config(&config, &clients)?;
    let (outbox, webhooks) = (&services.outbox(), &services.webhooks());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let input = serde_json::from_value::<RelayEvent>(event.payload).unwrap_or_default();
            Ok::<_, Error>(handle_relay(outbox, webhooks, input).await?)
        },
    ))
    .await
}
