//! The `usage-api` Lambda function: HTTP API (API Gateway, payload v2) for usage — events
//! posted as JSON or CSV onto the usage queue, the customer's usage view, ingestion health,
//! rejected events and external references. The routes live in `kopek_api::usage`; this main
//! only wires configuration (including `KOPEK_USAGE_QUEUE_URL`) and clients.

use kopek_aws::{clients, config::Config, telemetry};
use kopek_http::state::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let state = AppState::from_config(&config, &clients::Clients::new(&sdk)).await?;
    kopek_http::layers::run_lambda(kopek_api::usage_app(state)).await
}
