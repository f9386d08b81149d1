//! The `dunning` Lambda function: EventBridge Scheduler fires it every morning
//! (`DunningSchedule` in the template) to move each customer with money due through the
//! dunning policy; the rules are `kopek_services::dunning` and `kopek_domain::dunning`.

use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::dunning::{ScheduledDunning, handle_schedule};
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let dunning = &Services::from_config(&config, &clients)?.dunning();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ScheduledDunning>| async move {
            Ok::<_, Error>(handle_schedule(dunning, event.payload).await?)
        },
    ))
    .await
}
