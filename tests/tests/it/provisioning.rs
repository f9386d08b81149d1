//! The emulator provisioned from `infra/template.yaml` has what the code relies on in AWS.
//!
//! Every test provisions its own copy of the template's resources (fresh name prefix) in the
//! shared moto server and talks to it through the real AWS SDK.

use std::collections::BTreeMap;
use std::process::Command;

use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, ProjectionType, TimeToLiveStatus,
};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use kopek_local::aws_sdk_secretsmanager;
use kopek_local::provision::Provisioned;
use kopek_tests::emulator;

fn keys(elements: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Vec<(String, KeyType)> {
    elements
        .iter()
        .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
        .collect()
}

fn owned(pairs: &[(&str, KeyType)]) -> Vec<(String, KeyType)> {
    pairs
        .iter()
        .map(|(n, t)| ((*n).to_owned(), t.clone()))
        .collect()
}

#[tokio::test]
async fn the_main_table_has_the_key_schema_index_and_ttl_of_the_template() {
    let (sdk, provisioned, _) = emulator::provisioned().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let name = provisioned
        .reference("MainTable")
        .expect("MainTable provisioned");

    let table = ddb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .expect("DescribeTable")
        .table
        .expect("a table description");
    assert_eq!(
        keys(table.key_schema()),
        owned(&[("PK", KeyType::Hash), ("SK", KeyType::Range)])
    );
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    let mut gsis = table.global_secondary_indexes().to_vec();
    gsis.sort_by(|a, b| a.index_name().cmp(&b.index_name()));
    assert_eq!(gsis.len(), 3, "{gsis:?}");
    // GSI3 holds keys only: planning reads organisation ids from it, nothing else.
    for (gsi, (name, projection)) in gsis.iter().zip([
        ("GSI1", ProjectionType::All),
        ("GSI2", ProjectionType::All),
        ("GSI3", ProjectionType::KeysOnly),
    ]) {
        assert_eq!(gsi.index_name(), Some(name));
        assert_eq!(
            keys(gsi.key_schema()),
            owned(&[
                (&*format!("{name}PK"), KeyType::Hash),
                (&*format!("{name}SK"), KeyType::Range)
            ])
        );
        assert_eq!(
            gsi.projection().and_then(|p| p.projection_type()),
            Some(&projection)
        );
    }
    assert_eq!(
        table.table_arn(),
        Some(provisioned.attribute("MainTable", "Arn").expect("Arn"))
    );

    let ttl = ddb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .expect("DescribeTimeToLive")
        .time_to_live_description
        .expect("a TTL description");
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
}

#[tokio::test]
async fn a_usage_message_received_five_times_lands_in_the_dead_letter_queue() {
    let (sdk, provisioned, template) = emulator::provisioned().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = provisioned
        .reference("UsageQueue")
        .expect("UsageQueue provisioned");
    let dlq = provisioned
        .reference("UsageDeadLetterQueue")
        .expect("DLQ provisioned");
    let dlq_arn = provisioned
        .attribute("UsageDeadLetterQueue", "Arn")
        .expect("DLQ Arn");

    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .expect("attributes");
    let redrive: serde_json::Value = serde_json::from_str(
        attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .expect("a RedrivePolicy"),
    )
    .expect("RedrivePolicy is JSON");
    assert_eq!(redrive["deadLetterTargetArn"], dlq_arn);
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    assert_eq!(
        attributes
            .get(&QueueAttributeName::VisibilityTimeout)
            .cloned(),
        template
            .resource("UsageQueue")
            .expect("UsageQueue in the template")
            .property("VisibilityTimeout")
            .map(|v| match v {
                kopek_local::template::Value::Number(n) => n.to_string(),
                other => other.as_str().unwrap_or_default().to_owned(),
            }),
        "the queue has the template's visibility timeout"
    );

    sqs.send_message()
        .queue_url(queue)
        .message_body("usage-1")
        .send()
        .await
        .expect("SendMessage");
    for expected in 1..=5 {
        let received = sqs
            .receive_message()
            .queue_url(queue)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = received.messages();
        assert_eq!(messages.len(), 1, "receive #{expected}: {messages:?}");
        let count = messages[0]
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map(String::as_str);
        assert_eq!(count, Some(expected.to_string().as_str()));
    }

    let sixth = sqs
        .receive_message()
        .queue_url(queue)
        .visibility_timeout(0)
        .send()
        .await
        .expect("ReceiveMessage");
    assert!(
        sixth.messages().is_empty(),
        "a sixth delivery: {:?}",
        sixth.messages()
    );
    let dead = sqs
        .receive_message()
        .queue_url(dlq)
        .send()
        .await
        .expect("ReceiveMessage on the DLQ");
    let bodies: Vec<&str> = dead.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["usage-1"]);
}

#[tokio::test]
async fn the_documents_bucket_is_encrypted_versioned_and_blocks_public_access() {
    let (sdk, provisioned, _) = emulator::provisioned().await;
    let s3 = kopek_local::s3_client(&sdk);
    let bucket = provisioned
        .reference("DocumentsBucket")
        .expect("DocumentsBucket provisioned");
    assert_eq!(bucket, format!("{}-documentsbucket", provisioned.prefix));

    let encryption = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .expect("GetBucketEncryption");
    let algorithms: Vec<String> = encryption
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_owned())
        .collect();
    assert_eq!(algorithms, ["AES256"]);

    let block = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .expect("GetPublicAccessBlock")
        .public_access_block_configuration
        .expect("a public access block");
    assert_eq!(block.block_public_acls(), Some(true));
    assert_eq!(block.block_public_policy(), Some(true));
    assert_eq!(block.ignore_public_acls(), Some(true));
    assert_eq!(block.restrict_public_buckets(), Some(true));

    // Versioning, seen by its effect: each write of a key gets its own version. (moto 5.2.5
    // answers GetBucketVersioning with a root element the Rust SDK rejects.)
    let mut versions = Vec::new();
    for body in ["v1", "v2"] {
        let put = s3
            .put_object()
            .bucket(bucket)
            .key("invoices/inv_1.pdf")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                body.as_bytes(),
            ))
            .send()
            .await
            .expect("PutObject");
        versions.push(put.version_id().expect("a version id").to_owned());
    }
    assert_ne!(versions[0], versions[1]);

    let ownership = s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
        .expect("GetBucketOwnershipControls")
        .ownership_controls
        .expect("ownership controls");
    let rules: Vec<&str> = ownership
        .rules()
        .iter()
        .map(|r| r.object_ownership().as_str())
        .collect();
    assert_eq!(rules, ["BucketOwnerEnforced"]);
}

#[tokio::test]
async fn the_accounts_function_gets_the_provisioned_table_and_a_64_character_token_key() {
    let (sdk, provisioned, template) = emulator::provisioned().await;
    let env = provisioned
        .function_env(&template, "AccountsApiFunction")
        .expect("env resolves");

    let table = provisioned.reference("MainTable").expect("MainTable");
    assert_eq!(env.get("KOPEK_TABLE_NAME").map(String::as_str), Some(table));
    assert_eq!(env.get("RUST_LOG").map(String::as_str), Some("info"));

    let secret_arn = env
        .get("KOPEK_TOKEN_KEY_SECRET_ARN")
        .expect("the secret variable");
    assert!(
        secret_arn.starts_with("arn:aws:secretsmanager:eu-central-1:"),
        "{secret_arn}"
    );
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let key = secrets
        .get_secret_value()
        .secret_id(secret_arn)
        .send()
        .await
        .expect("GetSecretValue")
        .secret_string
        .expect("a string secret");
    assert_eq!(key.len(), 64);
    assert!(
        key.chars().all(|c| c.is_ascii_alphanumeric()),
        "not alphanumeric: {key}"
    );

    // The catalog function sees the same table and key.
    let catalog = provisioned
        .function_env(&template, "CatalogApiFunction")
        .expect("env resolves");
    assert_eq!(catalog.get("KOPEK_TABLE_NAME"), env.get("KOPEK_TABLE_NAME"));
    assert_eq!(catalog.get("KOPEK_TOKEN_KEY_SECRET_ARN"), Some(secret_arn));
}

#[tokio::test]
async fn two_provisions_in_parallel_get_separate_resources() {
    // Both in one emulator: their names keep them apart, not separate servers.
    let endpoint = emulator::endpoint().await;
    let ((sdk, first, _), (_, second, _)) = tokio::join!(
        emulator::provisioned_on(&endpoint),
        emulator::provisioned_on(&endpoint)
    );
    assert_ne!(first.prefix, second.prefix);
    let physical = |p: &Provisioned| -> BTreeMap<String, String> {
        p.resources
            .iter()
            .map(|(id, r)| (id.clone(), r.reference.clone()))
            .collect()
    };
    let (a, b) = (physical(&first), physical(&second));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (id, name) in &a {
        // An SES identity is the sender's address itself: one for every copy, by design.
        if first.resources[id].kind == "AWS::SES::EmailIdentity" {
            assert_eq!(Some(name), b.get(id), "{id} names the same sender");
            continue;
        }
        assert_ne!(Some(name), b.get(id), "{id} is shared");
    }

    // An item written through one provision is invisible through the other.
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let key = |k: &str| AttributeValue::S(k.to_owned());
    ddb.put_item()
        .table_name(first.reference("MainTable").expect("table"))
        .item("PK", key("ORG#1"))
        .item("SK", key("ORG#1"))
        .send()
        .await
        .expect("PutItem");
    let other = ddb
        .get_item()
        .table_name(second.reference("MainTable").expect("table"))
        .key("PK", key("ORG#1"))
        .key("SK", key("ORG#1"))
        .send()
        .await
        .expect("GetItem");
    assert!(other.item().is_none());
}

#[test]
fn the_template_passes_cfn_lint() {
    let root = kopek_local::tools::project_root();
    let tools = kopek_local::tools::ensure(&root).expect("local tools");
    let output = Command::new(&tools.cfn_lint)
        .arg(kopek_local::TEMPLATE_PATH)
        .current_dir(&root)
        .output()
        .expect("cfn-lint runs");
    assert!(
        output.status.success(),
        "cfn-lint {} failed ({}):\n{}{}",
        kopek_local::TEMPLATE_PATH,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
