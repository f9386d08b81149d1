//! KMS keys (CreateKey with the template's key spec, usage and description) and SES
//! identities (CreateEmailIdentity): the documents' signing key and the mail sender.

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

/// An SES identity (an address or a domain): CreateEmailIdentity. `!Ref` is the identity.
pub(super) async fn create_mail_identity(
    client: &aws_sdk_sesv2::Client,
    props: &Map<String, Json>,
) -> anyhow::Result<ProvisionedResource> {
    let p = Props { map: props };
    let identity = p
        .str("EmailIdentity")?
        .context("an EmailIdentity needs `EmailIdentity`")?;
    p.warn_unhandled(
        super::MAIL_IDENTITY,
        identity,
        &[
            "EmailIdentity",
            "DkimSigningAttributes",
            "ConfigurationSetAttributes",
            "FeedbackAttributes",
        ],
    );
    // One identity serves every provisioned copy: it may exist already.
    match client
        .create_email_identity()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_already_exists_exception()) => {}
        Err(e) => return Err(sdk_error(e)).context("CreateEmailIdentity"),
    }
    Ok(ProvisionedResource {
        kind: super::MAIL_IDENTITY.to_owned(),
        reference: identity.to_owned(),
        attributes: BTreeMap::new(),
    })
}
