//! The `bank-import` Lambda function: batches of `BankQueue` (SQS event source,
//! `ReportBatchItemFailures`) — chunks of uploaded bank statements — handled by
//! `kopek_services::bank::Bank` through `kopek_events::bank`.
// A chunk's future, inside its audit scope, nests deeper than the default allows.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::bank::handle_batch;
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let bank = &Services::from_config(&config, &clients)?.bank();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(handle_batch(bank, event.payload).await)
    }))
    .await
}
