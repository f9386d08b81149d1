//! The `billing-api` Lambda function: HTTP API (API Gateway, payload v2) for the period close
//! (start, preview, status, resume), invoices, credit notes, balances, payments, dunning and
//! billing settings (documents, packages and statements are `files-api`'s).
//! The routes live in `kopek_api::billing`; this main only wires configuration (including
//! `KOPEK_CLOSE_QUEUE_URL`) and clients.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kopek_aws::telemetry::init();
    // The configuration is read and checked now; everything else — SDK clients, the token
    // key, the router — is made by the first request (see `run_http_function`).
    let start = kopek_services::HttpStart::from_env()?;
    kopek_http::layers::run_http_function(start, kopek_api::billing_app).await
}
