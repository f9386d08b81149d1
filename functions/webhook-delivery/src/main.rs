//! The `webhook-delivery` Lambda function: batches of `WebhookQueue` (SQS event source,
//! `ReportBatchItemFailures`) — one attempt of one webhook delivery per message — made by
//! `kopek_services::webhooks::Webhooks` through `kopek_events::webhooks`, with the checked
//! client of `kopek_aws::hooks` (private addresses only where `KOPEK_WEBHOOKS_ALLOW_PRIVATE`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::hooks::HookClient;
use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::webhooks::handle_batch;
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let hooks = HookClient::new(config.webhooks_allow_private)?;
    let webhooks = &Services::from_config(&config, &clients)?
        .with_hook_client(hooks)
        .webhooks();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(handle_batch(webhooks, event.payload).await)
    }))
    .await
}
