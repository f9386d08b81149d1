//! KMS keys: CreateKey with the template's key spec, usage and description.

use std::collections::BTreeMap;

use anyhow::Context;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use serde_json::{Map, Value as Json};

use super::props::Props;
use super::{KEY, ProvisionedResource, sdk_error};

pub(super) async fn create_key(
    client: &aws_sdk_kms::Client,
    name: &str,
    props: &Map<String, Json>,
) -> anyhow::Result<ProvisionedResource> {
    let p = Props { map: props };
    p.warn_unhandled(
        KEY,
        name,
        &[
            "Description",
            "KeySpec",
            "KeyUsage",
            "KeyPolicy",
            "EnableKeyRotation",
            "PendingWindowInDays",
            "Tags",
        ],
    );
    let created = client
        .create_key()
        .description(p.str("Description")?.unwrap_or(name))
        .key_spec(KeySpec::from(
            p.str("KeySpec")?.unwrap_or("SYMMETRIC_DEFAULT"),
        ))
        .key_usage(KeyUsageType::from(
            p.str("KeyUsage")?.unwrap_or("ENCRYPT_DECRYPT"),
        ))
        .send()
        .await
        .map_err(sdk_error)
        .context("CreateKey")?;
    let metadata = created.key_metadata.context("CreateKey returned no key")?;
    let arn = metadata.arn.context("CreateKey returned no ARN")?;
    Ok(ProvisionedResource {
        kind: KEY.to_owned(),
        reference: metadata.key_id.clone(),
        attributes: BTreeMap::from([
            ("Arn".to_owned(), arn),
            ("KeyId".to_owned(), metadata.key_id),
        ]),
    })
}
