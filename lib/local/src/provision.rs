//! Creates the template's resources in the emulator and resolves the template's intrinsics.
//!
//! [`provision`] walks `infra/template.yaml` and creates, through the real AWS SDK, every
//! resource of a type the emulator stands in for:
//!
//! | type                           | created with                                              |
//! |--------------------------------|-----------------------------------------------------------|
//! | `AWS::DynamoDB::Table`         | CreateTable (keys, indexes, billing, streams, SSE), then UpdateTimeToLive and UpdateContinuousBackups |
//! | `AWS::SQS::Queue`              | CreateQueue with the template's attributes (RedrivePolicy as JSON with the resolved DLQ ARN) |
//! | `AWS::S3::Bucket`              | CreateBucket, then encryption, public access block, versioning, ownership controls |
//! | `AWS::SecretsManager::Secret`  | CreateSecret with `SecretString`, or one generated per `GenerateSecretString` |
//!
//! Everything comes from the template — names of attributes, keys, indexes, queue settings —
//! nothing is hard-coded here. Resources are created in dependency order (a queue's
//! dead-letter queue first). Other types (functions, the HTTP API, IAM) are skipped: the local
//! stack runs the functions itself, with [`Provisioned::function_env`] giving each one the
//! environment the template gives it in AWS.
//!
//! Physical names are `{prefix}-{LogicalId}` (buckets: lowercased, and shortened with a hash
//! past S3's 63 characters), so each test provisions its own copy under a fresh
//! [`random_prefix`] and any number of provisions can run in parallel against one emulator.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, anyhow, bail};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Map, Value as Json};

use crate::template::{self, SubPart, Template, Value};

const TABLE: &str = "AWS::DynamoDB::Table";
const QUEUE: &str = "AWS::SQS::Queue";
const BUCKET: &str = "AWS::S3::Bucket";
const SECRET: &str = "AWS::SecretsManager::Secret";
const FUNCTION: &str = "AWS::Serverless::Function";

/// The resource types [`provision`] creates.
pub const PROVISIONED_TYPES: [&str; 4] = [TABLE, QUEUE, BUCKET, SECRET];

/// What one provisioned resource's `!Ref` and `!GetAtt` resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedResource {
    /// The CloudFormation type.
    pub kind: String,
    /// What `!Ref` returns (table name, queue URL, bucket name, secret ARN).
    pub reference: String,
    /// What `!GetAtt` returns, by attribute name (`Arn`, `QueueName`, …).
    pub attributes: BTreeMap<String, String>,
}

/// The resources of one provision, by logical id, and the context to resolve intrinsics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The prefix of every physical name (also `AWS::StackName`).
    pub prefix: String,
    /// The SDK region (`AWS::Region`).
    pub region: String,
    /// The emulator's account (`AWS::AccountId`), read from the first ARN it returned.
    pub account_id: Option<String>,
    /// Every provisioned resource, by logical id.
    pub resources: BTreeMap<String, ProvisionedResource>,
    /// The template's parameters at their defaults (what `!Ref Parameter` gives).
    pub parameters: BTreeMap<String, String>,
}

/// A fresh prefix for physical names: `tag` followed by 8 random lowercase hex digits.
pub fn random_prefix(tag: &str) -> String {
    format!("{tag}{:08x}", rand::thread_rng().r#gen::<u32>())
}

/// The template's functions and the cargo binary each one runs
/// (`Metadata.BuildProperties.Binary`), in logical-id order. Functions without one are skipped.
pub fn functions(template: &Template) -> Vec<(String, String)> {
    template
        .resources_of_kind(FUNCTION)
        .filter_map(|(id, r)| {
            let binary = r
                .metadata
                .get("BuildProperties")
                .and_then(|p| p.get("Binary"));
            match binary.and_then(Value::as_str) {
                Some(b) => Some((id.to_owned(), b.to_owned())),
                None => {
                    tracing::warn!(function = id, "no Metadata.BuildProperties.Binary: skipped");
                    None
                }
            }
        })
        .collect()
}

/// The HTTP API routes, as `(function logical id, method, path)`: every function event of type
/// `HttpApi`. A missing `Method` is `ANY`; an event with neither `Method` nor `Path` is the
/// catch-all route, given as `("ANY", "$default")`.
pub fn http_routes(template: &Template) -> Vec<(String, String, String)> {
    let mut routes = Vec::new();
    for (id, r) in template.resources_of_kind(FUNCTION) {
        let Some(events) = r.property("Events").and_then(Value::as_map) else {
            continue;
        };
        for event in events.values() {
            if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let props = event.get("Properties");
            let method = props.and_then(|p| p.get("Method")).and_then(Value::as_str);
            let path = props.and_then(|p| p.get("Path")).and_then(Value::as_str);
            let method = method.unwrap_or("ANY").to_ascii_uppercase();
            let path = path.unwrap_or("$default").to_owned();
            routes.push((id.to_owned(), method, path));
        }
    }
    routes
}

/// Creates every table, queue, bucket and secret of `template` in the emulator `sdk` points at,
/// with physical names under `prefix`.
pub async fn provision(
    sdk: &SdkConfig,
    template: &Template,
    prefix: &str,
) -> anyhow::Result<Provisioned> {
    validate_prefix(prefix)?;
    let region = sdk
        .region()
        .map(ToString::to_string)
        .context("the SDK config has no region")?;
    let clients = Clients::new(sdk);
    let mut out = Provisioned {
        prefix: prefix.to_owned(),
        region,
        account_id: None,
        resources: BTreeMap::new(),
        parameters: template.parameters.clone(),
    };

    for id in creation_order(template)? {
        let resource = template.resource(&id)?;
        let props = out
            .resolve_map(&resource.properties)
            .with_context(|| format!("cannot resolve the properties of `{id}`"))?;
        let created = match resource.kind.as_str() {
            TABLE => create_table(&clients.dynamodb, &out.physical_name(&id), &props).await,
            QUEUE => create_queue(&clients.sqs, &out.physical_name(&id), &props).await,
            BUCKET => {
                create_bucket(&clients.s3, &bucket_name(prefix, &id), &out.region, &props).await
            }
            SECRET => create_secret(&clients.secrets, &out.physical_name(&id), &props).await,
            other => bail!("internal: `{id}` of type {other} is not provisioned"),
        }
        .with_context(|| format!("cannot create `{id}` ({}) in the emulator", resource.kind))?;
        if out.account_id.is_none() {
            out.account_id = created
                .attributes
                .get("Arn")
                .and_then(|arn| account_of(arn))
                .or_else(|| account_of(&created.reference));
        }
        tracing::debug!(logical_id = %id, reference = %created.reference, "provisioned");
        out.resources.insert(id, created);
    }
    Ok(out)
}

impl Provisioned {
    /// What `!Ref logical_id` resolves to.
    pub fn reference(&self, logical_id: &str) -> anyhow::Result<&str> {
        Ok(&self.get(logical_id)?.reference)
    }

    /// What `!GetAtt logical_id.attribute` resolves to.
    pub fn attribute(&self, logical_id: &str, attribute: &str) -> anyhow::Result<&str> {
        let r = self.get(logical_id)?;
        r.attributes
            .get(attribute)
            .map(String::as_str)
            .with_context(|| {
                let known: Vec<&str> = r.attributes.keys().map(String::as_str).collect();
                format!(
                    "`{logical_id}` ({}) has no attribute `{attribute}` here (it has: {})",
                    r.kind,
                    known.join(", ")
                )
            })
    }

    /// The environment the template gives a function: `Globals.Function.Environment.Variables`
    /// overlaid with the function's own `Environment.Variables`, every intrinsic resolved.
    pub fn function_env(
        &self,
        template: &Template,
        function_logical_id: &str,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let function = template.resource(function_logical_id)?;
        if function.kind != FUNCTION {
            bail!(
                "`{function_logical_id}` is a {}, not a {FUNCTION}",
                function.kind
            );
        }
        let own = function
            .property("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_map);
        // The function's own variables override the global ones of the same name (SAM merges).
        let merged: BTreeMap<&String, &Value> = template
            .globals
            .function_environment
            .iter()
            .chain(own.into_iter().flatten())
            .collect();
        let mut env = BTreeMap::new();
        for (name, value) in merged {
            let resolved = self.resolve_string(value).with_context(|| {
                format!("cannot resolve the variable {name} of `{function_logical_id}`")
            })?;
            env.insert(name.clone(), resolved);
        }
        Ok(env)
    }

    /// Resolves a template value (intrinsics included) to plain JSON.
    /// `!Ref AWS::NoValue` removes the enclosing map entry.
    pub fn resolve(&self, value: &Value) -> anyhow::Result<Json> {
        Ok(match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => yaml_number(n),
            Value::String(s) => Json::String(s.clone()),
            Value::List(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.resolve(v))
                    .collect::<anyhow::Result<_>>()?,
            ),
            Value::Map(m) => Json::Object(self.resolve_map(m)?),
            Value::Ref(name) if name == "AWS::NoValue" => Json::Null,
            Value::Ref(name) => Json::String(self.resolve_name(name, None)?),
            Value::GetAtt {
                resource,
                attribute,
            } => Json::String(self.attribute(resource, attribute)?.to_owned()),
            Value::Sub {
                template,
                variables,
            } => {
                let mut out = String::new();
                for part in template::sub_parts(template)? {
                    match part {
                        SubPart::Text(t) => out.push_str(&t),
                        SubPart::Var {
                            name,
                            attribute: None,
                        } if variables.contains_key(name) => {
                            out.push_str(&self.resolve_string(&variables[name])?);
                        }
                        SubPart::Var { name, attribute } => {
                            out.push_str(&self.resolve_name(name, attribute)?);
                        }
                    }
                }
                Json::String(out)
            }
            Value::Unsupported { function, at } => bail!(
                "{function} (at {at}) is not supported by the local stack; it resolves only {}",
                template::SUPPORTED_INTRINSICS
            ),
        })
    }

    /// Resolves a value that must be a scalar, as a string (numbers and booleans as written).
    pub fn resolve_string(&self, value: &Value) -> anyhow::Result<String> {
        match self.resolve(value)? {
            Json::String(s) => Ok(s),
            Json::Number(n) => Ok(n.to_string()),
            Json::Bool(b) => Ok(b.to_string()),
            other => bail!("expected a string, got {other}"),
        }
    }

    fn resolve_map(&self, map: &BTreeMap<String, Value>) -> anyhow::Result<Map<String, Json>> {
        let mut out = Map::new();
        for (k, v) in map {
            let resolved = self.resolve(v).with_context(|| format!("in `{k}`"))?;
            if !resolved.is_null() {
                out.insert(k.clone(), resolved);
            }
        }
        Ok(out)
    }

    /// `Name` or `Name.Attribute` as written in `!Sub`, or a `!Ref` target.
    fn resolve_name(&self, name: &str, attribute: Option<&str>) -> anyhow::Result<String> {
        if let Some(a) = attribute {
            return Ok(self.attribute(name, a)?.to_owned());
        }
        Ok(match name {
            "AWS::Region" => self.region.clone(),
            "AWS::AccountId" => self
                .account_id
                .clone()
                .context("AWS::AccountId is unknown: nothing with an ARN was provisioned")?,
            "AWS::StackName" => self.prefix.clone(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            "AWS::NoValue" => bail!("AWS::NoValue cannot be used inside a string"),
            pseudo if template::is_pseudo_parameter(pseudo) => {
                bail!("the pseudo parameter {pseudo} is not supported by the local stack")
            }
            parameter if self.parameters.contains_key(parameter) => {
                self.parameters[parameter].clone()
            }
            logical_id => self.reference(logical_id)?.to_owned(),
        })
    }

    fn get(&self, logical_id: &str) -> anyhow::Result<&ProvisionedResource> {
        self.resources.get(logical_id).with_context(|| {
            format!(
                "`{logical_id}` was not provisioned: the local stack provisions only {} \
                 (and only resources that exist in the template)",
                PROVISIONED_TYPES.join(", ")
            )
        })
    }

    /// `{prefix}-{logical_id}` (shortened with a hash past 80 characters, SQS's limit).
    fn physical_name(&self, logical_id: &str) -> String {
        shorten(&format!("{}-{logical_id}", self.prefix), 80)
    }
}

struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

impl Clients {
    fn new(sdk: &SdkConfig) -> Clients {
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            s3: crate::s3_client(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }
}

/// The provisioned types' logical ids, each after everything it refers to.
fn creation_order(template: &Template) -> anyhow::Result<Vec<String>> {
    let wanted: BTreeMap<&str, BTreeSet<String>> = template
        .resources
        .iter()
        .filter(|(_, r)| PROVISIONED_TYPES.contains(&r.kind.as_str()))
        .map(|(id, r)| (id.as_str(), r.dependencies()))
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < wanted.len() {
        let ready: Vec<&str> = wanted
            .iter()
            .filter(|(id, deps)| {
                !done.contains(*id)
                    && deps
                        .iter()
                        .all(|d| done.contains(d.as_str()) || !wanted.contains_key(d.as_str()))
            })
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = wanted
                .keys()
                .filter(|id| !done.contains(*id))
                .copied()
                .collect();
            bail!(
                "these resources refer to each other in a cycle: {}",
                stuck.join(", ")
            );
        }
        for id in ready {
            done.insert(id);
            order.push(id.to_owned());
        }
    }
    Ok(order)
}

fn validate_prefix(prefix: &str) -> anyhow::Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 40
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && prefix.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        bail!(
            "invalid prefix {prefix:?}: use 1 to 40 ASCII letters, digits or hyphens, \
             starting with a letter or digit (it becomes part of S3 bucket names)"
        );
    }
    Ok(())
}

/// The bucket for `logical_id`: lowercase `{prefix}-{logicalid}`, at most 63 characters.
pub fn bucket_name(prefix: &str, logical_id: &str) -> String {
    shorten(&format!("{prefix}-{logical_id}").to_ascii_lowercase(), 63)
}

/// `name` if it fits in `max` characters, else its head, `-` and 8 hex digits of its hash.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    // FNV-1a: stable across runs and platforms, which std's hasher is not.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let head = name[..max - 9].trim_end_matches('-');
    format!("{head}-{:08x}", hash as u32)
}

/// The account id of an ARN (`arn:partition:service:region:account:…`).
fn account_of(arn: &str) -> Option<String> {
    if !arn.starts_with("arn:") {
        return None;
    }
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

fn yaml_number(n: &serde_yaml::Number) -> Json {
    if let Some(i) = n.as_i64() {
        Json::from(i)
    } else if let Some(u) = n.as_u64() {
        Json::from(u)
    } else {
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number)
    }
}

fn sdk_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> anyhow::Error {
    anyhow!("{}", DisplayErrorContext(e))
}

/// Reads resolved properties, naming the resource and property in errors.
struct Props<'a> {
    map: &'a Map<String, Json>,
}

impl<'a> Props<'a> {
    fn warn_unhandled(&self, kind: &str, name: &str, handled: &[&str]) {
        for key in self.map.keys().filter(|k| !handled.contains(&k.as_str())) {
            tracing::warn!(resource = name, kind, property = %key, "property not applied by the local stack");
        }
    }

    fn get(&self, key: &str) -> Option<&'a Json> {
        self.map.get(key)
    }

    fn str(&self, key: &str) -> anyhow::Result<Option<&'a str>> {
        str_of(self.get(key), key)
    }

    fn bool(&self, key: &str) -> anyhow::Result<Option<bool>> {
        bool_of(self.get(key), key)
    }

    fn list(&self, key: &str) -> anyhow::Result<&'a [Json]> {
        list_of(self.get(key), key)
    }

    fn object(&self, key: &str) -> anyhow::Result<Option<Props<'a>>> {
        object_of(self.get(key), key)
    }
}

fn str_of<'a>(v: Option<&'a Json>, key: &str) -> anyhow::Result<Option<&'a str>> {
    match v {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(other) => bail!("`{key}` must be a string, got {other}"),
    }
}

fn bool_of(v: Option<&Json>, key: &str) -> anyhow::Result<Option<bool>> {
    match v {
        None => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(Json::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Json::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => bail!("`{key}` must be a boolean, got {other}"),
    }
}

fn int_of(v: Option<&Json>, key: &str) -> anyhow::Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(Json::Number(n)) => n
            .as_i64()
            .map(Some)
            .with_context(|| format!("`{key}` must be an integer, got {n}")),
        Some(Json::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .with_context(|| format!("`{key}` must be an integer, got {s:?}")),
        Some(other) => bail!("`{key}` must be an integer, got {other}"),
    }
}

fn list_of<'a>(v: Option<&'a Json>, key: &str) -> anyhow::Result<&'a [Json]> {
    match v {
        None => Ok(&[]),
        Some(Json::Array(items)) => Ok(items),
        Some(other) => bail!("`{key}` must be a list, got {other}"),
    }
}

fn object_of<'a>(v: Option<&'a Json>, key: &str) -> anyhow::Result<Option<Props<'a>>> {
    match v {
        None => Ok(None),
        Some(Json::Object(map)) => Ok(Some(Props { map })),
        Some(other) => bail!("`{key}` must be a mapping, got {other}"),
    }
}

fn required<T>(v: Option<T>, key: &str) -> anyhow::Result<T> {
    v.with_context(|| format!("`{key}` is required"))
}

// ---------------------------------------------------------------------------------- DynamoDB

async fn create_table(
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

// --------------------------------------------------------------------------------------- SQS

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

async fn create_queue(
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

// ---------------------------------------------------------------------------------------- S3

async fn create_bucket(
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

// --------------------------------------------------------------------------- Secrets Manager

async fn create_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    props: &Map<String, Json>,
) -> anyhow::Result<ProvisionedResource> {
    let p = Props { map: props };
    p.warn_unhandled(
        SECRET,
        name,
        &[
            "Description",
            "SecretString",
            "GenerateSecretString",
            "Name",
            "Tags",
            "KmsKeyId",
        ],
    );

    let value = match (p.str("SecretString")?, p.object("GenerateSecretString")?) {
        (Some(_), Some(_)) => bail!("use either SecretString or GenerateSecretString, not both"),
        (Some(s), None) => s.to_owned(),
        (None, Some(g)) => generate_secret(&g).context("GenerateSecretString")?,
        (None, None) => bail!("the local stack needs SecretString or GenerateSecretString"),
    };
    let created = client
        .create_secret()
        .name(name)
        .set_description(p.str("Description")?.map(str::to_owned))
        .secret_string(value)
        .send()
        .await
        .map_err(sdk_error)
        .context("CreateSecret")?;
    let arn = created.arn.context("CreateSecret returned no ARN")?;
    let attributes = BTreeMap::from([("Id".to_owned(), arn.clone())]);
    Ok(ProvisionedResource {
        kind: SECRET.to_owned(),
        reference: arn,
        attributes,
    })
}

/// Characters Secrets Manager counts as punctuation.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// A random secret following `GenerateSecretString` (length, excluded characters and classes,
/// one of each included class when `RequireEachIncludedType`, JSON template and key).
fn generate_secret(g: &Props<'_>) -> anyhow::Result<String> {
    let length = int_of(g.get("PasswordLength"), "PasswordLength")?.unwrap_or(32);
    let length = usize::try_from(length)
        .ok()
        .filter(|l| (1..=4096).contains(l))
        .with_context(|| format!("`PasswordLength` must be 1 to 4096, got {length}"))?;
    let excluded: BTreeSet<char> = g.str("ExcludeCharacters")?.unwrap_or("").chars().collect();
    let flag = |key: &str| g.bool(key).map(|b| b.unwrap_or(false));

    let mut classes: Vec<Vec<char>> = Vec::new();
    let mut add = |skip: bool, chars: &mut dyn Iterator<Item = char>| {
        if !skip {
            let class: Vec<char> = chars.filter(|c| !excluded.contains(c)).collect();
            if !class.is_empty() {
                classes.push(class);
            }
        }
    };
    add(flag("ExcludeLowercase")?, &mut ('a'..='z'));
    add(flag("ExcludeUppercase")?, &mut ('A'..='Z'));
    add(flag("ExcludeNumbers")?, &mut ('0'..='9'));
    add(flag("ExcludePunctuation")?, &mut PUNCTUATION.chars());
    add(!flag("IncludeSpace")?, &mut std::iter::once(' '));
    let alphabet: Vec<char> = classes.iter().flatten().copied().collect();
    if alphabet.is_empty() {
        bail!("the exclusions leave no characters to draw from");
    }

    let mut rng = rand::thread_rng();
    let mut chars: Vec<char> = Vec::with_capacity(length);
    if g.bool("RequireEachIncludedType")?.unwrap_or(true) && length >= classes.len() {
        for class in &classes {
            chars.push(class[rng.gen_range(0..class.len())]);
        }
    }
    while chars.len() < length {
        chars.push(alphabet[rng.gen_range(0..alphabet.len())]);
    }
    chars.shuffle(&mut rng);
    let secret: String = chars.into_iter().collect();

    match (g.str("SecretStringTemplate")?, g.str("GenerateStringKey")?) {
        (None, None) => Ok(secret),
        (Some(template), Some(key)) => {
            let mut doc: Json =
                serde_json::from_str(template).context("`SecretStringTemplate` is not JSON")?;
            let object = doc
                .as_object_mut()
                .context("`SecretStringTemplate` must be a JSON object")?;
            object.insert(key.to_owned(), Json::String(secret));
            Ok(doc.to_string())
        }
        _ => bail!("`SecretStringTemplate` and `GenerateStringKey` go together"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(yaml: &str) -> Template {
        Template::parse(yaml).expect("template parses")
    }

    /// (logical id, type, `!Ref` value, attributes)
    type Fixture<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

    fn provisioned(resources: &[Fixture<'_>]) -> Provisioned {
        Provisioned {
            prefix: "p1".into(),
            region: "eu-central-1".into(),
            account_id: Some("123456789012".into()),
            resources: resources
                .iter()
                .map(|(id, kind, reference, attrs)| {
                    let attributes = attrs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect();
                    (
                        (*id).to_owned(),
                        ProvisionedResource {
                            kind: (*kind).to_owned(),
                            reference: (*reference).to_owned(),
                            attributes,
                        },
                    )
                })
                .collect(),
            parameters: BTreeMap::from([("Zone".to_owned(), "Europe/Moscow".to_owned())]),
        }
    }

    #[test]
    fn dead_letter_queues_are_created_before_the_queues_that_use_them() {
        let t = template(concat!(
            "Resources:\n",
            "  A:\n    Type: AWS::SQS::Queue\n    Properties:\n",
            "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Z.Arn, maxReceiveCount: 5}\n",
            "  Z:\n    Type: AWS::SQS::Queue\n    Properties:\n",
            "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Y.Arn, maxReceiveCount: 5}\n",
            "  Y:\n    Type: AWS::SQS::Queue\n",
            "  F:\n    Type: AWS::Serverless::Function\n",
        ));
        assert_eq!(creation_order(&t).expect("no cycle"), ["Y", "Z", "A"]);
    }

    #[test]
    fn a_reference_cycle_is_reported() {
        let t = template(concat!(
            "Resources:\n",
            "  A:\n    Type: AWS::SQS::Queue\n    Properties: {X: !Ref B}\n",
            "  B:\n    Type: AWS::SQS::Queue\n    Properties: {X: !Ref A}\n",
        ));
        let err = creation_order(&t).expect_err("cycle");
        assert!(err.to_string().contains("A, B"), "{err}");
    }

    #[test]
    fn function_env_merges_globals_with_the_functions_own_variables() {
        let t = template(concat!(
            "Globals:\n  Function:\n    Environment:\n      Variables:\n",
            "        TABLE: !Ref T\n        LEVEL: info\n        PORT: 8080\n        OWN: !Ref Missing\n",
            "        ZONE: !Ref Zone\n",
            "Parameters:\n  Zone:\n    Type: String\n    Default: Europe/Moscow\n",
            "Resources:\n",
            "  T:\n    Type: AWS::DynamoDB::Table\n",
            "  Q:\n    Type: AWS::SQS::Queue\n",
            "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n",
            "      Environment:\n        Variables:\n",
            "          LEVEL: debug\n          QUEUE_ARN: !GetAtt Q.Arn\n          OWN: mine\n",
            "          WHERE: !Sub \"${AWS::Region}/${T}/${Q.QueueName}/${!x}\"\n",
        ));
        let p = provisioned(&[
            ("T", TABLE, "p1-T", &[("Arn", "arn:t")]),
            (
                "Q",
                QUEUE,
                "http://q",
                &[("Arn", "arn:q"), ("QueueName", "p1-Q")],
            ),
        ]);
        assert_eq!(t.parameters["Zone"], "Europe/Moscow");
        let env = p.function_env(&t, "F").expect("resolves");
        let expected: BTreeMap<String, String> = [
            ("LEVEL", "debug"),
            ("OWN", "mine"),
            ("PORT", "8080"),
            ("QUEUE_ARN", "arn:q"),
            ("TABLE", "p1-T"),
            ("WHERE", "eu-central-1/p1-T/p1-Q/${x}"),
            ("ZONE", "Europe/Moscow"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(env, expected);
    }

    #[test]
    fn function_env_names_what_cannot_be_resolved() {
        let t = template(concat!(
            "Resources:\n",
            "  Api:\n    Type: AWS::Serverless::HttpApi\n",
            "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n",
            "      Environment:\n        Variables:\n          API: !Ref Api\n",
            "  G:\n    Type: AWS::Serverless::Function\n    Properties:\n",
            "      Environment:\n        Variables:\n          J: !Join [\"\", [a]]\n",
        ));
        let p = provisioned(&[]);
        let err = format!(
            "{:#}",
            p.function_env(&t, "F")
                .expect_err("HttpApi is not provisioned")
        );
        assert!(
            err.contains("API") && err.contains("`Api` was not provisioned"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            p.function_env(&t, "G").expect_err("Join is unsupported")
        );
        assert!(
            err.contains("Fn::Join") && err.contains("Resources.G.Properties"),
            "{err}"
        );
        assert!(p.function_env(&t, "Api").is_err());
    }

    #[test]
    fn the_project_template_lists_its_functions_and_routes() {
        let t = Template::load_project(&crate::tools::project_root()).expect("parses");
        let functions = functions(&t);
        assert!(functions.contains(&("AccountsApiFunction".into(), "accounts-api".into())));
        assert!(functions.contains(&("CatalogApiFunction".into(), "catalog-api".into())));
        let routes = http_routes(&t);
        assert!(routes.contains(&("AccountsApiFunction".into(), "ANY".into(), "/v1/me".into())));
        assert!(routes.contains(&(
            "CatalogApiFunction".into(),
            "ANY".into(),
            "/v1/openapi.json".into()
        )));
    }

    #[test]
    fn bucket_names_are_lowercase_and_fit_s3s_limit() {
        assert_eq!(
            bucket_name("t1a2b3c4d", "DocumentsBucket"),
            "t1a2b3c4d-documentsbucket"
        );
        let long = bucket_name("prefix", &"VeryLongLogicalId".repeat(5));
        assert!(
            long.len() <= 63 && long == long.to_ascii_lowercase(),
            "{long}"
        );
        assert_ne!(long, bucket_name("prefix", &"VeryLongLogicalIdX".repeat(5)));
    }

    #[test]
    fn prefixes_are_checked_and_random_ones_are_valid() {
        let p = random_prefix("t");
        assert!(p.len() == 9 && p.starts_with('t'), "{p}");
        validate_prefix(&p).expect("valid");
        assert!(validate_prefix("").is_err());
        assert!(validate_prefix("has_underscore").is_err());
        assert!(validate_prefix("-lead").is_err());
    }

    #[test]
    fn generated_secrets_follow_the_template_rules() {
        let spec: Map<String, Json> =
            serde_json::from_str(r#"{"PasswordLength": 64, "ExcludePunctuation": true}"#)
                .expect("json");
        let secret = generate_secret(&Props { map: &spec }).expect("generates");
        assert_eq!(secret.len(), 64);
        assert!(
            secret.chars().all(|c| c.is_ascii_alphanumeric()),
            "{secret}"
        );

        let spec: Map<String, Json> = serde_json::from_str(
            r#"{"PasswordLength": "12", "SecretStringTemplate": "{\"user\":\"a\"}", "GenerateStringKey": "password", "ExcludeCharacters": "abc"}"#,
        )
        .expect("json");
        let doc: Json =
            serde_json::from_str(&generate_secret(&Props { map: &spec }).expect("generates"))
                .expect("secret is JSON");
        let password = doc["password"].as_str().expect("password");
        assert_eq!(doc["user"], "a");
        assert_eq!(password.chars().count(), 12);
        assert!(!password.contains(['a', 'b', 'c']), "{password}");
    }
}
