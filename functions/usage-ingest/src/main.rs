//! The `usage-ingest` Lambda function: batches of usage events from `UsageQueue` (SQS event
//! source, `ReportBatchItemFailures`), judged and counted exactly once by
//! `kopek_ingest::Ingestor`; the response names only the messages to retry.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::dynamo::Store;
use kopek_aws::{clients, config::Config, telemetry};
use kopek_ingest::{Ingestor, lambda};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let store = Store::new(
        clients::Clients::new(&sdk).dynamodb,
        config.table_name.clone(),
    );
    let ingestor = &Ingestor::new(store, config.usage_grace, config.calendar);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let now = chrono::Utc::now();
        Ok::<SqsBatchResponse, Error>(lambda::handle(ingestor, event.payload, now).await)
    }))
    .await
}
