//! The `accounts-api` Lambda function: HTTP API (API Gateway, payload v2) for the accounts routes.
//! The routes live in `kopek_api::accounts`; this main only wires configuration and clients.

use kopek_aws::{clients, config::Config, telemetry};
use kopek_http::state::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let state = AppState::from_config(&config, &clients::Clients::new(&sdk)).await?;
    kopek_http::layers::run_lambda(kopek_api::accounts_app(state)).await
}
