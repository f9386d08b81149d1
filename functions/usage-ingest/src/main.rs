//! The `usage-ingest` Lambda function: batches of usage events from `UsageQueue` (SQS event
//! source, `ReportBatchItemFailures`), judged and counted exactly once by
//! `kopek_services::usage::ingest::Ingestor` through `kopek_events::usage`; the response names
//! only the messages to retry.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::usage;
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let ingestor = &Services::from_config(&config, &clients)?.ingestor();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let now = chrono::Utc::now();
        Ok::<SqsBatchResponse, Error>(usage::handle(ingestor, event.payload, now).await)
    }))
    .await
}
