//! The `portal` Lambda function: the web portal's pages (`/portal*`) for API Gateway (HTTP
//! API, payload v2). The pages live in `kopek_portal` and call the same services as every
//! API function; this main only wires configuration and clients. The portal is a function of
//! its own so that the API functions link only what their routes reach (the pages reach
//! every service, with S3, SQS and SES).

use kopek_aws::{clients, config::Config, telemetry};
use kopek_services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let clients = clients::Clients::new(&clients::sdk_config().await);
    // The token key is read while the runtime starts (see `run_lambda_keyed`).
    let (services, key) = Services::starting(&config, &clients)?;
    kopek_http::layers::run_lambda_keyed(
        services,
        key,
        config.access_token_ttl,
        kopek_api::portal_app,
    )
    .await
}
