//! S3 buckets: CreateBucket, then encryption, public access block, versioning and ownership
//! controls.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{Map, Value as Json};

use super::props::{Props, object_of, required};
use super::{BUCKET, ProvisionedResource, sdk_error};

pub(super) async fn create_bucket(
    client: &aws_sdk_s3::Client,
    name: &str,
    region: &str,
    props: &Map<String, Json>,
) -> anyhow::Result<ProvisionedResource> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
        ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule, VersioningConfiguration,
    };

    let p = Props { map: props };
    p.warn_unhandled(
        BUCKET,
        name,
        &[
            "BucketEncryption",
            "PublicAccessBlockConfiguration",
            "VersioningConfiguration",
            "OwnershipControls",
            "BucketName",
            "Tags",
        ],
    );

    let mut request = client.create_bucket().bucket(name);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request
        .send()
        .await
        .map_err(sdk_error)
        .context("CreateBucket")?;

    if let Some(enc) = p.object("BucketEncryption")? {
        let mut rules = Vec::new();
        for (i, rule) in enc
            .list("ServerSideEncryptionConfiguration")?
            .iter()
            .enumerate()
        {
            let at = format!("BucketEncryption.ServerSideEncryptionConfiguration[{i}]");
            let r = required(object_of(Some(rule), &at)?, &at)?;
            let default = match r.object("ServerSideEncryptionByDefault")? {
                None => None,
                Some(d) => Some(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(required(
                            d.str("SSEAlgorithm")?,
                            "SSEAlgorithm",
                        )?))
                        .set_kms_master_key_id(d.str("KMSMasterKeyID")?.map(str::to_owned))
                        .build()
                        .context(at)?,
                ),
            };
            rules.push(
                ServerSideEncryptionRule::builder()
                    .set_apply_server_side_encryption_by_default(default)
                    .set_bucket_key_enabled(r.bool("BucketKeyEnabled")?)
                    .build(),
            );
        }
        client
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .context("BucketEncryption")?,
            )
            .send()
            .await
            .map_err(sdk_error)
            .context("PutBucketEncryption")?;
    }

    if let Some(block) = p.object("PublicAccessBlockConfiguration")? {
        client
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .set_block_public_acls(block.bool("BlockPublicAcls")?)
                    .set_block_public_policy(block.bool("BlockPublicPolicy")?)
                    .set_ignore_public_acls(block.bool("IgnorePublicAcls")?)
                    .set_restrict_public_buckets(block.bool("RestrictPublicBuckets")?)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)
            .context("PutPublicAccessBlock")?;
    }

    if let Some(v) = p.object("VersioningConfiguration")? {
        let status = required(v.str("Status")?, "VersioningConfiguration.Status")?;
        client
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::from(status))
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)
            .context("PutBucketVersioning")?;
    }

    if let Some(o) = p.object("OwnershipControls")? {
        let mut rules = Vec::new();
        for (i, rule) in o.list("Rules")?.iter().enumerate() {
            let at = format!("OwnershipControls.Rules[{i}]");
            let r = required(object_of(Some(rule), &at)?, &at)?;
            let ownership = required(r.str("ObjectOwnership")?, "ObjectOwnership")?;
            rules.push(
                OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::from(ownership))
                    .build()
                    .context(at)?,
            );
        }
        client
            .put_bucket_ownership_controls()
            .bucket(name)
            .ownership_controls(
                OwnershipControls::builder()
                    .set_rules(Some(rules))
                    .build()
                    .context("OwnershipControls")?,
            )
            .send()
            .await
            .map_err(sdk_error)
            .context("PutBucketOwnershipControls")?;
    }

    let attributes = BTreeMap::from([
        ("Arn".to_owned(), format!("arn:aws:s3:::{name}")),
        ("DomainName".to_owned(), format!("{name}.s3.amazonaws.com")),
        (
            "RegionalDomainName".to_owned(),
            format!("{name}.s3.{region}.amazonaws.com"),
        ),
    ]);
    Ok(ProvisionedResource {
        kind: BUCKET.to_owned(),
        reference: name.to_owned(),
        attributes,
    })
}
