//! The `period-close-worker` Lambda function: batches of `CloseQueue` (SQS event source,
//! `ReportBatchItemFailures`) — planning pages and one message per customer to close — handled
//! by `kopek_services::close::Closer` through `kopek_events::close`; the response names only
//! the messages to retry.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::close::handle_batch;
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let closer = &Services::from_config(&config, &clients)?
        .closer()
        .with_queue_required()?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(handle_batch(closer, event.payload).await)
    }))
    .await
}
