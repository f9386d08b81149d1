//! The `outbox-relay` Lambda function: every minute (`RelaySchedule` in the template) it
//! relays the outbox's events to what reacts to them — an `invoice_issued` event becomes a
//! document job on `DocumentsQueue` — through `kopek_services::outbox::Outbox`.

use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::documents::handle_relay;
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let outbox = &Services::from_config(&config, &clients)?.outbox();
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, Error>(handle_relay(outbox).await?)
        },
    ))
    .await
}
