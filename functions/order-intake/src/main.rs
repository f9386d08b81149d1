//! The `order-intake` Lambda function: HTTP API (API Gateway, payload v2) for orders,
//! subscriptions, work queues and batches. The routes live in `kopek_api::{orders,
//! subscriptions, work}`; this main only wires configuration and clients.

use kopek_aws::{clients, config::Config, telemetry};
use kopek_http::state::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let state = AppState::from_config(&config, &clients::Clients::new(&sdk)).await?;
    kopek_http::layers::run_lambda(kopek_api::order_intake_app(state)).await
}
