//! The `period-close-worker` Lambda function: batches of `CloseQueue` (SQS event source,
//! `ReportBatchItemFailures`) — planning pages and one message per customer to close — handled
//! by `kopek_close::Closer`; the response names only the messages to retry.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::{clients, config::Config, telemetry};
use kopek_close::Closer;
use kopek_close::lambda::handle_batch;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let closer = &Closer::from_config(&config, &clients::Clients::new(&sdk))?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(handle_batch(closer, event.payload).await)
    }))
    .await
}
