//! The `order-intake` Lambda function: HTTP API (API Gateway, payload v2) for orders,
//! subscriptions, work queues and batches. The routes live in `kopek_api::{orders,
//! subscriptions, work}`; this main only wires configuration and clients.

use kopek_aws::{config::Config, telemetry};
use kopek_services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    // Everything else — SDK clients, the token key, the router — is made by the first
    // request (see `run_http_function`).
    let config = Config::from_env()?;
    // A misconfigured function fails here, at its start, naming the variable.
    kopek_services::Settings::from_config(&config)?;
    let ttl = config.access_token_ttl;
    kopek_http::layers::run_http_function(
        move || Services::load_deferred(config.clone()),
        ttl,
        kopek_api::order_intake_app,
    )
    .await
}
