//! The `portal` Lambda function: the web portal's pages (`/portal*`) for API Gateway (HTTP
//! API, payload v2), but those that move files (`portal-files`'s). The pages live in
//! `kopek_portal` and call the same services as every API function; this main only wires
//! configuration and clients. The portal is a function of its own so that the API functions
//! link only what their routes reach (the pages reach every service, with SQS and SES).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kopek_aws::telemetry::init();
    // The configuration is read and checked now; everything else — SDK clients, the token
    // key, the router — is made by the first request (see `run_http_function`).
    let start = kopek_services::HttpStart::from_env()?;
    kopek_http::layers::run_http_function(start, kopek_api::portal_app).await
}
