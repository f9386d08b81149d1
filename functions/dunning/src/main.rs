//! The `dunning` Lambda function: EventBridge Scheduler fires it every morning
//! (`DunningSchedule` in the template) to move each customer with money due through the
//! dunning policy, and every night (`AuditArchiveSchedule`) to archive the audit records past
//! their retention; the rules are `kopek_services::dunning` and `kopek_services::audit`.
// The daily run's future, inside its audit scope, nests deeper than the default allows.
#![recursion_limit = "256"]

use kopek_aws::{clients, config::Config, telemetry};
use kopek_events::dunning::{ScheduledDunning, handle_schedule};
use kopek_services::Services;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    let services = Services::from_config(&config, &clients)?;
    let (dunning, audit) = (&services.dunning(), &services.audit());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ScheduledDunning>| async move {
            Ok::<_, Error>(handle_schedule(dunning, audit, event.payload).await?)
        },
    ))
    .await
}
