//! SDK clients, built once per cold start.
//!
//! `aws_config::load_defaults` reads the region, credentials and `AWS_ENDPOINT_URL` from the
//! environment: in AWS it finds the real endpoints, locally it finds the moto emulator.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The shared SDK configuration from the environment.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The HTTP client of every SDK client: hyper with rustls over ring (the SDK's default clients
/// are turned off in the workspace's manifest, so only this TLS stack is compiled). It speaks
/// plain HTTP too, to the local emulator.
pub fn http_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The clients the functions use (each is a handle; building one makes no request).
#[derive(Clone, Debug)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub ses: aws_sdk_sesv2::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            s3: crate::objects::client(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            ses: aws_sdk_sesv2::Client::new(sdk),
        }
    }
}
