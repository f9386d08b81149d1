//! The `period-close` Lambda function: EventBridge Scheduler fires it on the 1st after each
//! period (`CloseSchedule` in the template) to start the close of the period that ended; a
//! duplicated trigger resumes the close already started. The fan-out runs in
//! `period-close-worker`; the rules are `kopek_services::close`.
// The start's future, inside its audit scope, nests deeper than the default allows.
#![recursion_limit = "256"]

use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::close::{ScheduledClose, handle_schedule};
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
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ScheduledClose>| async move {
            Ok::<_, Error>(handle_schedule(closer, event.payload).await?)
        },
    ))
    .await
}
