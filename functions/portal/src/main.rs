//! The `portal` Lambda function: the web portal's pages (`/portal*`) for API Gateway (HTTP
//! API, payload v2). The pages live in `kopek_portal` and call the same services as every
//! API function; this main only wires configuration and clients. The portal is a function of
//! its own so that the API functions link only what their routes reach (the pages reach
//! every service, with S3, SQS and SES).

use kopek_aws::{config::Config, telemetry};
use kopek_services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    // Everything else — SDK clients, the token key, the router — is made by the first
    // request (see `run_http_function`).
    let config = Config::from_env()?;
    // A misconfigured function fails here, at its start, naming the variable.
    kopek_services::Settings::from_config(&config)?;
    let ttl = config.access_token_ttl;
    kopek_http::layers::run_http_function(
        move || Services::load_deferred(config.clone()),
        ttl,
        kopek_api::portal_app,
    )
    .await
}
