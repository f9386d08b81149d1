//! SDK clients, built once per cold start.
//!
//! `aws_config::load_defaults` reads the region, credentials and `AWS_ENDPOINT_URL` from the
//! environment: in AWS it finds the real endpoints, locally it finds the moto emulator.

use aws_config::{BehaviorVersion, SdkConfig};

/// The shared SDK configuration from the environment.
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// The clients the HTTP functions use.
#[derive(Clone, Debug)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
        }
    }
}
