//! The `accounts-api` Lambda function: HTTP API (API Gateway, payload v2) for the accounts routes.
//! The routes live in `kopek_api::accounts`; this main only wires configuration and clients.

use kopek_aws::{clients, config::Config, telemetry};
use kopek_services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    // The token key is read while the runtime starts (see `run_lambda_keyed`).
    let (services, key) = Services::starting(&config, &clients)?;
    kopek_http::layers::run_lambda_keyed(
        services,
        key,
        config.access_token_ttl,
        kopek_api::accounts_app,
    )
    .await
}
