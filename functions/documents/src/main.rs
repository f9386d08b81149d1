//! The `documents` Lambda function: batches of `DocumentsQueue` (SQS event source,
//! `ReportBatchItemFailures`) — document jobs the outbox relay sends for every issued invoice
//! — handled by `kopek_services::documents::Documents` through `kopek_events::documents`,
//! with the Typst renderer (`kopek-render`, built into this function only) as typesetter.

// The layout of the handler's future (the SDK's and the renderer's types nested in it) goes
// deeper than the compiler's default query depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::documents::handle_batch;
use kopek_render::Renderer;
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let documents = &Services::from_config(&config, &clients)?
        .with_typesetter(Arc::new(Renderer::new()))
        .documents();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(handle_batch(documents, event.payload).await)
    }))
    .await
}
