//! The `usage-api` Lambda function: HTTP API (API Gateway, payload v2) for usage — events
//! posted as JSON or CSV onto the usage queue, the customer's usage view, ingestion health,
//! rejected events and external references. The routes live in `kopek_api::usage`; this main
//! only wires configuration (including `KOPEK_USAGE_QUEUE_URL`) and clients.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kopek_aws::telemetry::init();
    // The configuration is read and checked now; everything else — SDK clients, the token
    // key, the router — is made by the first request (see `run_http_function`).
    let start = kopek_services::HttpStart::from_env()?;
    kopek_http::layers::run_http_function(start, kopek_api::usage_app).await
}
