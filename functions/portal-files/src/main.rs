//! The `portal-files` Lambda function: the web portal's pages that move files, for API
//! Gateway (HTTP API, payload v2) — downloads through short-lived S3 links, the work sheet
//! PDF, the statement of account as CSV and XLSX, report PDFs, bank statements, document
//! templates. The pages live in `kopek_portal` (`files_routes`); this main only wires
//! configuration and clients. A function of its own so that `portal` links none of it
//! (BENCHMARKS, "Lean functions").

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kopek_aws::telemetry::init();
    // The configuration is read and checked now; everything else — SDK clients, the token
    // key, the router — is made by the first request (see `run_http_function`).
    let start = kopek_services::HttpStart::from_env()?;
    kopek_http::layers::run_http_function(start, kopek_api::portal_files_app).await
}
