//! SQS queues: CreateQueue with the template's attributes.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json};

use super::props::Props;
use super::{ProvisionedResource, QUEUE, sdk_error};

/// CloudFormation properties of `AWS::SQS::Queue` that are SQS attributes of the same name.
const QUEUE_ATTRIBUTES: [&str; 13] = [
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
    "RedrivePolicy",
];

pub(super) async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    props: &Map<String, Json>,
) -> anyhow::Result<ProvisionedResource> {
    use aws_sdk_sqs::types::QueueAttributeName;

    let p = Props { map: props };
    let mut handled = QUEUE_ATTRIBUTES.to_vec();
    handled.extend(["RedriveAllowPolicy", "QueueName", "Tags"]);
    p.warn_unhandled(QUEUE, name, &handled);

    let fifo = p.bool("FifoQueue")?.unwrap_or(false);
    let name = if fifo {
        format!("{}.fifo", name.trim_end_matches(".fifo"))
    } else {
        name.to_owned()
    };

    let mut attributes = HashMap::new();
    for key in QUEUE_ATTRIBUTES.iter().chain(&["RedriveAllowPolicy"]) {
        let value = match p.get(key) {
            None => continue,
            Some(Json::String(s)) => s.clone(),
            Some(Json::Bool(b)) => b.to_string(),
            Some(Json::Number(n)) => n.to_string(),
            // RedrivePolicy and RedriveAllowPolicy are JSON documents in SQS.
            Some(object @ Json::Object(_)) => object.to_string(),
            Some(other) => bail!("`{key}` cannot be {other}"),
        };
        attributes.insert(QueueAttributeName::from(*key), value);
    }

    let created = client
        .create_queue()
        .queue_name(&name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(sdk_error)
        .context("CreateQueue")?;
    let url = created.queue_url.context("CreateQueue returned no URL")?;
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(sdk_error)
        .context("GetQueueAttributes")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("GetQueueAttributes returned no QueueArn")?;

    let attributes = BTreeMap::from([
        ("Arn".to_owned(), arn),
        ("QueueName".to_owned(), name),
        ("QueueUrl".to_owned(), url.clone()),
    ]);
    Ok(ProvisionedResource {
        kind: QUEUE.to_owned(),
        reference: url,
        attributes,
    })
}
