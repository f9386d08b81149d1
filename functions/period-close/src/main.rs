//! The `period-close` Lambda function: EventBridge Scheduler fires it on the 1st of each month
//! (`CloseSchedule` in the template) to start the close of the month that ended; a duplicated
//! trigger resumes the close already started. The fan-out runs in `period-close-worker`.

use kopek_aws::{clients, config::Config, telemetry};
use kopek_close::Closer;
use kopek_close::lambda::{ScheduledClose, handle_schedule};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let closer = &Closer::from_config(&config, &clients::Clients::new(&sdk))?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ScheduledClose>| async move {
            Ok::<_, Error>(handle_schedule(closer, event.payload).await?)
        },
    ))
    .await
}
