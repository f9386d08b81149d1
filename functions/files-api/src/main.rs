//! The `files-api` Lambda function: HTTP API (API Gateway, payload v2) for billing's routes
//! that move files in and out of S3 — closing documents and their signing, packages and
//! archives, report PDFs, templates, bank statements. The routes live in
//! `kopek_api::billing` (`files_app`); this main only wires configuration (the documents
//! bucket and queue, the bank queue) and clients. A function of its own so that `billing-api`
//! links none of it (BENCHMARKS, "Lean functions").

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kopek_aws::telemetry::init();
    // The configuration is read and checked now; everything else — SDK clients, the token
    // key, the router — is made by the first request (see `run_http_function`).
    let start = kopek_services::HttpStart::from_env()?;
    kopek_http::layers::run_http_function(start, kopek_api::files_app).await
}
