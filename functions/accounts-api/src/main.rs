//! The `accounts-api` Lambda function: HTTP API (API Gateway, payload v2) for the accounts routes.
//! The routes live in `kopek_api::accounts`; this main only wires configuration and clients.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kopek_aws::telemetry::init();
    // The configuration is read and checked now; everything else — SDK clients, the token
    // key, the router — is made by the first request (see `run_http_function`).
    let start = kopek_services::HttpStart::from_env()?;
    kopek_http::layers::run_http_function(start, kopek_api::accounts_app).await
}
