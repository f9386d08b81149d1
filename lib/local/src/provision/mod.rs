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
//! | `AWS::SES::EmailIdentity`      | CreateEmailIdentity (SES v2) |
//! | `AWS::KMS::Key`                | CreateKey with its `KeySpec`, `KeyUsage` and description (the key policy is IAM's, not the emulator's) |
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
//!
//! One submodule per concern: `props` reads the resolved properties with errors that name the
//! property; `table`, `queue`, `bucket`, `secret` and `key` each create one resource type (`secret`
//! also generates secrets per `GenerateSecretString`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, anyhow, bail};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use rand::Rng;
use serde_json::{Map, Value as Json};

use crate::template::{self, SubPart, Template, Value};

mod bucket;
mod key;
mod props;
mod queue;
mod secret;
mod table;

use bucket::create_bucket;
use key::{create_key, create_mail_identity};
use props::yaml_number;
use queue::create_queue;
use secret::create_secret;
use table::create_table;

const TABLE: &str = "AWS::DynamoDB::Table";
const QUEUE: &str = "AWS::SQS::Queue";
const BUCKET: &str = "AWS::S3::Bucket";
const SECRET: &str = "AWS::SecretsManager::Secret";
const KEY: &str = "AWS::KMS::Key";
const MAIL_IDENTITY: &str = "AWS::SES::EmailIdentity";
const FUNCTION: &str = "AWS::Serverless::Function";

/// The resource types [`provision`] creates.
pub const PROVISIONED_TYPES: [&str; 6] = [TABLE, QUEUE, BUCKET, SECRET, KEY, MAIL_IDENTITY];

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
            KEY => create_key(&clients.kms, &out.physical_name(&id), &props).await,
            MAIL_IDENTITY => create_mail_identity(&clients.ses, &props).await,
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
    kms: aws_sdk_kms::Client,
    ses: aws_sdk_sesv2::Client,
}

impl Clients {
    fn new(sdk: &SdkConfig) -> Clients {
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            s3: crate::s3_client(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            ses: aws_sdk_sesv2::Client::new(sdk),
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

fn sdk_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> anyhow::Error {
    anyhow!("{}", DisplayErrorContext(e))
}

#[cfg(test)]
mod tests;
