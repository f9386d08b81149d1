//! Kopek's local stack: the AWS emulator, provisioned from the same template AWS deploys.
//!
//! `infra/template.yaml` is the single definition of every resource. In AWS, SAM deploys it.
//! Locally — for `cargo xtask up`, `cargo xtask test` and the integration tests — this crate
//! stands in for SAM and AWS:
//!
//! 1. [`tools::ensure`] installs the pinned Python tools (`infra/local-tools.txt`: moto's
//!    server, cfn-lint, cargo-lambda, openapi-spec-validator, schemathesis) into `<root>/.venv`.
//! 2. [`emulator::Emulator::start`] runs moto's server on a free `127.0.0.1` port; it stops when
//!    the `Emulator` is dropped or the owning process ends.
//! 3. [`sdk_config`] points the AWS SDK at it (fixed region and dummy credentials).
//! 4. [`template::Template`] parses the template, CloudFormation intrinsics included.
//! 5. [`provision::provision`] creates the template's tables, queues, buckets and secrets in the
//!    emulator under a name prefix of the caller's choosing — each test takes a fresh one from
//!    [`provision::random_prefix`], so tests run in parallel against one emulator.
//! 6. [`provision::Provisioned::function_env`] gives each function exactly the environment the
//!    template gives it in AWS (globals and its own variables, `!Ref`/`!GetAtt`/`!Sub`
//!    resolved to the provisioned names), and [`provision::functions`] and
//!    [`provision::http_routes`] say which binary each function runs and which routes it serves.
//!
//! Nothing about the resources is written down here: change the template and the local stack
//! and the tests follow.
//!
//! The SDK crates are re-exported so callers use the same versions as the clients built here.
//!
//! What talks to AWS (the SDK configuration, provisioning) is behind the default feature `aws`:
//! `cargo xtask test` needs only the tools and the emulator, and builds without the AWS SDK.

pub mod emulator;
#[cfg(feature = "aws")]
pub mod provision;
pub mod template;
pub mod tools;

#[cfg(feature = "aws")]
pub use aws_config;
#[cfg(feature = "aws")]
pub use aws_sdk_dynamodb;
#[cfg(feature = "aws")]
pub use aws_sdk_s3;
#[cfg(feature = "aws")]
pub use aws_sdk_secretsmanager;
#[cfg(feature = "aws")]
pub use aws_sdk_sqs;

#[cfg(feature = "aws")]
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The template's path relative to the project root.
pub const TEMPLATE_PATH: &str = "infra/template.yaml";

/// The region of the local stack.
pub const REGION: &str = "eu-central-1";

/// SDK configuration for the emulator at `endpoint`: region eu-central-1, static dummy
/// credentials, that endpoint for every service, latest behaviour version.
///
/// Production code uses `aws_config::load_defaults`, which honours `AWS_ENDPOINT_URL`; this is
/// for tests and the local stack. Build S3 clients with [`s3_client`] (path-style addressing).
#[cfg(feature = "aws")]
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        "kopek-local",
        "kopek-local",
        None,
        None,
        "kopek-local",
    );
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(kopek_aws::clients::http_client())
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .load()
        .await
}

/// An S3 client for the emulator: path-style addressing, as `bucket.127.0.0.1` cannot resolve.
#[cfg(feature = "aws")]
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    kopek_aws::objects::client(sdk)
}
