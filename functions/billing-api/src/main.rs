//! The `billing-api` Lambda function: HTTP API (API Gateway, payload v2) for the period close
//! (start, preview, status, resume), invoices, credit notes, balances and billing settings.
//! The routes live in `kopek_api::billing`; this main only wires configuration (including
//! `KOPEK_CLOSE_QUEUE_URL`) and clients.

use kopek_aws::{clients, config::Config, telemetry};
use kopek_http::state::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let state = AppState::from_config(&config, &clients::Clients::new(&sdk)).await?;
    kopek_http::layers::run_lambda(kopek_api::billing_app(state)).await
}
