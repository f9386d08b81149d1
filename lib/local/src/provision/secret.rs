//! Secrets Manager secrets: CreateSecret with a given or generated value.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Map, Value as Json};

use super::props::{Props, int_of};
use super::{ProvisionedResource, SECRET, sdk_error};

pub(super) async fn create_secret(
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
pub(super) fn generate_secret(g: &Props<'_>) -> anyhow::Result<String> {
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
