//! DynamoDB tables: CreateTable with keys, indexes, billing, streams and SSE, then TTL and
//! point-in-time recovery.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json};

use super::props::{Props, int_of, object_of, required, str_of};
use super::{ProvisionedResource, TABLE, sdk_error};

pub(super) async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    props: &Map<String, Json>,
) -> anyhow::Result<ProvisionedResource> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, PointInTimeRecoverySpecification, ScalarAttributeType,
        SseSpecification, SseType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
    };

    let p = Props { map: props };
    p.warn_unhandled(
        TABLE,
        name,
        &[
            "AttributeDefinitions",
            "KeySchema",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "BillingMode",
            "ProvisionedThroughput",
            "StreamSpecification",
            "SSESpecification",
            "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification",
            "TableName",
            "Tags",
            "DeletionProtectionEnabled",
        ],
    );

    let mut definitions = Vec::new();
    for (i, d) in p.list("AttributeDefinitions")?.iter().enumerate() {
        let key = format!("AttributeDefinitions[{i}]");
        let d = required(object_of(Some(d), &key)?, &key)?;
        definitions.push(
            AttributeDefinition::builder()
                .attribute_name(required(d.str("AttributeName")?, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(required(
                    d.str("AttributeType")?,
                    "AttributeType",
                )?))
                .build()
                .with_context(|| key.clone())?,
        );
    }

    let billing = p.str("BillingMode")?.unwrap_or("PROVISIONED");
    let mut request = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key_schema(p.list("KeySchema")?, "KeySchema")?))
        .billing_mode(BillingMode::from(billing));
    if let Some(t) = p.object("ProvisionedThroughput")? {
        request = request.provisioned_throughput(throughput(&t)?);
    }
    for (i, gsi) in p.list("GlobalSecondaryIndexes")?.iter().enumerate() {
        let key = format!("GlobalSecondaryIndexes[{i}]");
        let g = required(object_of(Some(gsi), &key)?, &key)?;
        let mut index = aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
            .index_name(required(g.str("IndexName")?, "IndexName")?)
            .set_key_schema(Some(key_schema(g.list("KeySchema")?, "KeySchema")?))
            .projection(projection(g.object("Projection")?)?);
        if let Some(t) = g.object("ProvisionedThroughput")? {
            index = index.provisioned_throughput(throughput(&t)?);
        }
        request = request.global_secondary_indexes(index.build().with_context(|| key.clone())?);
    }
    for (i, lsi) in p.list("LocalSecondaryIndexes")?.iter().enumerate() {
        let key = format!("LocalSecondaryIndexes[{i}]");
        let l = required(object_of(Some(lsi), &key)?, &key)?;
        let index = aws_sdk_dynamodb::types::LocalSecondaryIndex::builder()
            .index_name(required(l.str("IndexName")?, "IndexName")?)
            .set_key_schema(Some(key_schema(l.list("KeySchema")?, "KeySchema")?))
            .projection(projection(l.object("Projection")?)?)
            .build()
            .with_context(|| key.clone())?;
        request = request.local_secondary_indexes(index);
    }
    if let Some(s) = p.object("StreamSpecification")? {
        let view = required(
            s.str("StreamViewType")?,
            "StreamSpecification.StreamViewType",
        )?;
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()
                .context("StreamSpecification")?,
        );
    }
    if let Some(s) = p.object("SSESpecification")? {
        let mut sse = SseSpecification::builder().set_enabled(s.bool("SSEEnabled")?);
        if let Some(t) = s.str("SSEType")? {
            sse = sse.sse_type(SseType::from(t));
        }
        if let Some(k) = s.str("KMSMasterKeyId")? {
            sse = sse.kms_master_key_id(k);
        }
        request = request.sse_specification(sse.build());
    }

    let created = request
        .send()
        .await
        .map_err(sdk_error)
        .context("CreateTable")?;
    let description = created
        .table_description
        .context("CreateTable returned no table")?;
    let mut attributes = BTreeMap::new();
    if let Some(arn) = description.table_arn {
        attributes.insert("Arn".to_owned(), arn);
    }
    if let Some(arn) = description.latest_stream_arn {
        attributes.insert("StreamArn".to_owned(), arn);
    }

    if let Some(ttl) = p.object("TimeToLiveSpecification")? {
        let enabled = ttl.bool("Enabled")?.unwrap_or(false);
        let attribute = required(
            ttl.str("AttributeName")?,
            "TimeToLiveSpecification.AttributeName",
        )?;
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(enabled)
                    .attribute_name(attribute)
                    .build()
                    .context("TimeToLiveSpecification")?,
            )
            .send()
            .await
            .map_err(sdk_error)
            .context("UpdateTimeToLive")?;
    }
    if let Some(pitr) = p.object("PointInTimeRecoverySpecification")? {
        let enabled = pitr.bool("PointInTimeRecoveryEnabled")?.unwrap_or(false);
        client
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(enabled)
                    .build()
                    .context("PointInTimeRecoverySpecification")?,
            )
            .send()
            .await
            .map_err(sdk_error)
            .context("UpdateContinuousBackups")?;
    }

    Ok(ProvisionedResource {
        kind: TABLE.to_owned(),
        reference: name.to_owned(),
        attributes,
    })
}

fn key_schema(
    items: &[Json],
    key: &str,
) -> anyhow::Result<Vec<aws_sdk_dynamodb::types::KeySchemaElement>> {
    use aws_sdk_dynamodb::types::{KeySchemaElement, KeyType};
    if items.is_empty() {
        bail!("`{key}` is required");
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{key}[{i}]");
            let k = required(object_of(Some(item), &at)?, &at)?;
            KeySchemaElement::builder()
                .attribute_name(required(k.str("AttributeName")?, "AttributeName")?)
                .key_type(KeyType::from(required(k.str("KeyType")?, "KeyType")?))
                .build()
                .context(at)
        })
        .collect()
}

fn projection(p: Option<Props<'_>>) -> anyhow::Result<aws_sdk_dynamodb::types::Projection> {
    use aws_sdk_dynamodb::types::{Projection, ProjectionType};
    let p = required(p, "Projection")?;
    let non_key = p
        .list("NonKeyAttributes")?
        .iter()
        .map(|a| {
            required(str_of(Some(a), "NonKeyAttributes")?, "NonKeyAttributes").map(str::to_owned)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Projection::builder()
        .set_projection_type(p.str("ProjectionType")?.map(ProjectionType::from))
        .set_non_key_attributes((!non_key.is_empty()).then_some(non_key))
        .build())
}

fn throughput(t: &Props<'_>) -> anyhow::Result<aws_sdk_dynamodb::types::ProvisionedThroughput> {
    aws_sdk_dynamodb::types::ProvisionedThroughput::builder()
        .read_capacity_units(required(
            int_of(t.get("ReadCapacityUnits"), "ReadCapacityUnits")?,
            "ReadCapacityUnits",
        )?)
        .write_capacity_units(required(
            int_of(t.get("WriteCapacityUnits"), "WriteCapacityUnits")?,
            "WriteCapacityUnits",
        )?)
        .build()
        .context("ProvisionedThroughput")
}
