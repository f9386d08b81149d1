//! A typed view of `infra/template.yaml`: just what the local stack needs.
//!
//! The template is read with `serde_yaml` and turned into [`Template`]: every resource's `Type`,
//! `Properties`, `Metadata` and `DependsOn`, and `Globals.Function.Environment.Variables`.
//! Property values become [`Value`]s, in which the CloudFormation intrinsics the project uses
//! are parsed into their own variants, whether written in short form (`!Ref X`,
//! `!GetAtt X.Attr`, `!GetAtt [X, Attr]`, `!Sub "…${X}…"`) or long form (`{Ref: X}`,
//! `{"Fn::GetAtt": [X, Attr]}`, `{"Fn::Sub": …}`).
//!
//! Any other intrinsic (`!Join`, `Fn::If`, …) is kept as [`Value::Unsupported`] together with
//! where it was found, so the template still loads and the error is raised — naming the
//! function and the place — only if the local stack actually needs that value. Resolving the
//! intrinsics against provisioned resources is [`crate::provision::Provisioned`]'s job.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, bail};
use serde_yaml::Value as Yaml;

/// The intrinsic functions the local stack can resolve.
pub const SUPPORTED_INTRINSICS: &str = "Ref, Fn::GetAtt, Fn::Sub";

/// The parts of a SAM/CloudFormation template the local stack reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `Globals` of the SAM transform.
    pub globals: Globals,
    /// `Resources`, by logical id.
    pub resources: BTreeMap<String, Resource>,
    /// `Parameters`, by name, with their `Default` values: the local stack deploys every
    /// parameter at its default, as `sam deploy` does without overrides.
    pub parameters: BTreeMap<String, String>,
}

/// The SAM `Globals` section, as far as the local stack uses it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Globals {
    /// `Globals.Function.Environment.Variables`.
    pub function_environment: BTreeMap<String, Value>,
}

/// One entry of `Resources`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The CloudFormation `Type`, e.g. `AWS::DynamoDB::Table`.
    pub kind: String,
    /// `Properties` (empty when absent).
    pub properties: BTreeMap<String, Value>,
    /// `Metadata` (empty when absent).
    pub metadata: BTreeMap<String, Value>,
    /// `DependsOn`, as a list of logical ids.
    pub depends_on: Vec<String>,
}

/// A template value with its intrinsic functions parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_yaml::Number),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// `!Ref Name`: a logical id or a pseudo parameter such as `AWS::Region`.
    Ref(String),
    /// `!GetAtt Resource.Attribute`.
    GetAtt {
        resource: String,
        attribute: String,
    },
    /// `!Sub`: the string with `${…}` placeholders and its own variables.
    Sub {
        template: String,
        variables: BTreeMap<String, Value>,
    },
    /// An intrinsic function the local stack does not implement.
    Unsupported {
        function: String,
        at: String,
    },
}

/// One piece of a `!Sub` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubPart<'a> {
    /// Literal text (with `${!x}` already turned into `${x}`).
    Text(String),
    /// `${Name}`, or `${Resource.Attribute}` split at the first dot.
    Var {
        name: &'a str,
        attribute: Option<&'a str>,
    },
}

impl Template {
    /// Reads and parses the template at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Template> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the template {}", path.display()))?;
        Template::parse(&text).with_context(|| format!("in the template {}", path.display()))
    }

    /// Reads `infra/template.yaml` under the project root.
    pub fn load_project(project_root: &Path) -> anyhow::Result<Template> {
        Template::load(&project_root.join(crate::TEMPLATE_PATH))
    }

    /// Parses a template from YAML text.
    pub fn parse(text: &str) -> anyhow::Result<Template> {
        let doc: Yaml = serde_yaml::from_str(text).context("the template is not valid YAML")?;
        let Yaml::Mapping(top) = doc else {
            bail!("the template must be a YAML mapping at the top level");
        };

        let resources_yaml = match top.get("Resources") {
            Some(Yaml::Mapping(m)) => m,
            Some(_) => bail!("`Resources` must be a mapping"),
            None => bail!("the template has no `Resources` section"),
        };
        let mut resources = BTreeMap::new();
        for (id, body) in resources_yaml {
            let id = scalar_key(id).context("a key of `Resources`")?;
            let resource =
                parse_resource(&id, body).with_context(|| format!("in resource `{id}`"))?;
            resources.insert(id, resource);
        }

        let globals = match top.get("Globals") {
            None => Globals::default(),
            Some(g) => {
                let vars = g
                    .get("Function")
                    .and_then(|f| f.get("Environment"))
                    .and_then(|e| e.get("Variables"));
                let function_environment = match vars {
                    None => BTreeMap::new(),
                    Some(v) => expect_map(v, "Globals.Function.Environment.Variables")?,
                };
                Globals {
                    function_environment,
                }
            }
        };

        let mut parameters = BTreeMap::new();
        match top.get("Parameters") {
            None => {}
            Some(Yaml::Mapping(m)) => {
                for (name, body) in m {
                    let name = scalar_key(name).context("a key of `Parameters`")?;
                    let default = body
                        .get("Default")
                        .and_then(|d| match d {
                            Yaml::String(s) => Some(s.clone()),
                            Yaml::Number(n) => Some(n.to_string()),
                            Yaml::Bool(b) => Some(b.to_string()),
                            _ => None,
                        })
                        .with_context(|| {
                            format!(
                                "parameter `{name}` needs a scalar `Default`: the local stack \
                                 deploys every parameter at its default"
                            )
                        })?;
                    parameters.insert(name, default);
                }
            }
            Some(_) => bail!("`Parameters` must be a mapping"),
        }

        Ok(Template {
            globals,
            resources,
            parameters,
        })
    }

    /// The resource with this logical id, or an error naming the ones that exist.
    pub fn resource(&self, logical_id: &str) -> anyhow::Result<&Resource> {
        self.resources.get(logical_id).with_context(|| {
            let known: Vec<&str> = self.resources.keys().map(String::as_str).collect();
            format!(
                "the template has no resource `{logical_id}` (it has: {})",
                known.join(", ")
            )
        })
    }

    /// The resources of one CloudFormation type, in logical-id order.
    pub fn resources_of_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Resource)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r.kind == kind)
            .map(|(id, r)| (id.as_str(), r))
    }
}

impl Resource {
    /// A top-level property.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }

    /// The logical ids this resource refers to through intrinsics or `DependsOn`
    /// (pseudo parameters such as `AWS::Region` excluded).
    pub fn dependencies(&self) -> BTreeSet<String> {
        let mut deps: BTreeSet<String> = self.depends_on.iter().cloned().collect();
        for v in self.properties.values() {
            v.collect_references(&mut deps);
        }
        deps
    }
}

impl Value {
    /// The string, if this is a plain string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// A key of a mapping (`None` if absent or if this is not a mapping).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Adds every logical id this value refers to (not pseudo parameters) to `out`.
    pub fn collect_references(&self, out: &mut BTreeSet<String>) {
        match self {
            Value::Ref(name) if !is_pseudo_parameter(name) => {
                out.insert(name.clone());
            }
            Value::GetAtt { resource, .. } => {
                out.insert(resource.clone());
            }
            Value::Sub {
                template,
                variables,
            } => {
                for v in variables.values() {
                    v.collect_references(out);
                }
                // A malformed string is reported when it is resolved.
                if let Ok(parts) = sub_parts(template) {
                    for part in parts {
                        if let SubPart::Var { name, .. } = part
                            && !is_pseudo_parameter(name)
                            && !variables.contains_key(name)
                        {
                            out.insert(name.to_owned());
                        }
                    }
                }
            }
            Value::List(items) => items.iter().for_each(|v| v.collect_references(out)),
            Value::Map(entries) => entries.values().for_each(|v| v.collect_references(out)),
            _ => {}
        }
    }
}

/// Whether `name` is a CloudFormation pseudo parameter (`AWS::Region`, …).
pub fn is_pseudo_parameter(name: &str) -> bool {
    name.starts_with("AWS::")
}

/// Splits a `!Sub` string into literal text and `${…}` placeholders.
pub fn sub_parts(template: &str) -> anyhow::Result<Vec<SubPart<'_>>> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .with_context(|| format!("unclosed `${{` in !Sub string {template:?}"))?;
        let inner = &after[..end];
        if let Some(literal) = inner.strip_prefix('!') {
            text.push_str("${");
            text.push_str(literal);
            text.push('}');
        } else {
            let inner = inner.trim();
            if inner.is_empty() {
                bail!("empty `${{}}` in !Sub string {template:?}");
            }
            if !text.is_empty() {
                parts.push(SubPart::Text(std::mem::take(&mut text)));
            }
            // Pseudo parameters contain `::` but never a dot-separated attribute.
            let (name, attribute) = match inner.split_once('.') {
                Some((n, a)) if !is_pseudo_parameter(inner) => (n, Some(a)),
                _ => (inner, None),
            };
            parts.push(SubPart::Var { name, attribute });
        }
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(SubPart::Text(text));
    }
    Ok(parts)
}

fn parse_resource(id: &str, body: &Yaml) -> anyhow::Result<Resource> {
    let Yaml::Mapping(body) = body else {
        bail!("a resource must be a mapping");
    };
    let kind = match body.get("Type") {
        Some(Yaml::String(t)) => t.clone(),
        Some(_) => bail!("`Type` must be a string"),
        None => bail!("the resource has no `Type`"),
    };
    let properties = match body.get("Properties") {
        None => BTreeMap::new(),
        Some(p) => expect_map(p, &format!("Resources.{id}.Properties"))?,
    };
    let metadata = match body.get("Metadata") {
        None => BTreeMap::new(),
        Some(m) => expect_map(m, &format!("Resources.{id}.Metadata"))?,
    };
    let depends_on = match body.get("DependsOn") {
        None => Vec::new(),
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| match i {
                Yaml::String(s) => Ok(s.clone()),
                _ => Err(anyhow::anyhow!("`DependsOn` entries must be logical ids")),
            })
            .collect::<anyhow::Result<_>>()?,
        Some(_) => bail!("`DependsOn` must be a logical id or a list of them"),
    };
    Ok(Resource {
        kind,
        properties,
        metadata,
        depends_on,
    })
}

fn expect_map(yaml: &Yaml, at: &str) -> anyhow::Result<BTreeMap<String, Value>> {
    match convert(yaml, at)? {
        Value::Map(m) => Ok(m),
        Value::Null => Ok(BTreeMap::new()),
        _ => bail!("`{at}` must be a mapping"),
    }
}

fn scalar_key(key: &Yaml) -> anyhow::Result<String> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        _ => bail!("mapping keys must be scalars"),
    }
}

/// Converts YAML into a [`Value`], parsing intrinsics; `at` is the dotted path, for messages.
fn convert(yaml: &Yaml, at: &str) -> anyhow::Result<Value> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => Value::Number(n.clone()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| convert(v, &format!("{at}[{i}]")))
                .collect::<anyhow::Result<_>>()?,
        ),
        Yaml::Mapping(m) => {
            if m.len() == 1
                && let Some((Yaml::String(key), arg)) = m.iter().next()
                && let Some(function) = long_form_function(key)
            {
                return intrinsic(function, arg, at);
            }
            let mut entries = BTreeMap::new();
            for (k, v) in m {
                let k = scalar_key(k).with_context(|| format!("at `{at}`"))?;
                let child = convert(v, &format!("{at}.{k}"))?;
                entries.insert(k, child);
            }
            Value::Map(entries)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let function = if name == "Ref" {
                "Ref".to_owned()
            } else {
                format!("Fn::{name}")
            };
            intrinsic(&function, &tagged.value, at)?
        }
    })
}

/// `Ref` and `Fn::…` keys of a single-key mapping are intrinsic functions.
fn long_form_function(key: &str) -> Option<&str> {
    (key == "Ref" || key.starts_with("Fn::")).then_some(key)
}

fn intrinsic(function: &str, arg: &Yaml, at: &str) -> anyhow::Result<Value> {
    let here = || format!("`{function}` at `{at}`");
    match function {
        "Ref" => match arg {
            Yaml::String(name) if !name.is_empty() => Ok(Value::Ref(name.clone())),
            _ => bail!("{} takes a logical id or pseudo parameter name", here()),
        },
        "Fn::GetAtt" => {
            let (resource, attribute) = match arg {
                Yaml::String(s) => s
                    .split_once('.')
                    .map(|(r, a)| (r.to_owned(), a.to_owned()))
                    .with_context(|| format!("{} needs `Resource.Attribute`, got {s:?}", here()))?,
                Yaml::Sequence(items) => match items.as_slice() {
                    [Yaml::String(r), Yaml::String(a)] => (r.clone(), a.clone()),
                    _ => bail!(
                        "{} needs a list [Resource, Attribute] of two strings",
                        here()
                    ),
                },
                _ => bail!(
                    "{} needs `Resource.Attribute` or [Resource, Attribute]",
                    here()
                ),
            };
            if resource.is_empty() || attribute.is_empty() {
                bail!("{} has an empty resource or attribute name", here());
            }
            Ok(Value::GetAtt {
                resource,
                attribute,
            })
        }
        "Fn::Sub" => {
            let (template, variables) = match arg {
                Yaml::String(s) => (s.clone(), BTreeMap::new()),
                Yaml::Sequence(items) => match items.as_slice() {
                    [Yaml::String(s), vars] => {
                        (s.clone(), expect_map(vars, &format!("{at}.Fn::Sub[1]"))?)
                    }
                    _ => bail!("{} needs a string or [string, {{variables}}]", here()),
                },
                _ => bail!("{} needs a string or [string, {{variables}}]", here()),
            };
            sub_parts(&template).with_context(here)?;
            Ok(Value::Sub {
                template,
                variables,
            })
        }
        other => Ok(Value::Unsupported {
            function: other.to_owned(),
            at: at.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(yaml: &str) -> BTreeMap<String, Value> {
        let text = format!("Resources:\n  R:\n    Type: T\n    Properties:\n{yaml}");
        Template::parse(&text).expect("template parses").resources["R"]
            .properties
            .clone()
    }

    fn getatt(r: &str, a: &str) -> Value {
        Value::GetAtt {
            resource: r.into(),
            attribute: a.into(),
        }
    }

    #[test]
    fn short_and_long_ref_are_the_same_value() {
        let p = props("      A: !Ref Table\n      B: {Ref: Table}\n      C:\n        Ref: Table\n");
        assert_eq!(p["A"], Value::Ref("Table".into()));
        assert_eq!(p["B"], p["A"]);
        assert_eq!(p["C"], p["A"]);
    }

    #[test]
    fn getatt_accepts_dotted_string_and_list_forms() {
        let p = props(concat!(
            "      A: !GetAtt Queue.Arn\n",
            "      B: !GetAtt [Queue, Arn]\n",
            "      C: {\"Fn::GetAtt\": [Queue, Arn]}\n",
            "      D: !GetAtt Db.Endpoint.Address\n",
        ));
        assert_eq!(p["A"], getatt("Queue", "Arn"));
        assert_eq!(p["B"], p["A"]);
        assert_eq!(p["C"], p["A"]);
        assert_eq!(p["D"], getatt("Db", "Endpoint.Address"));
    }

    #[test]
    fn sub_keeps_its_string_and_variables() {
        let p = props(concat!(
            "      A: !Sub \"arn:${AWS::Partition}:s3:::${Bucket}/*\"\n",
            "      B:\n        Fn::Sub:\n          - \"${Name}-x\"\n          - Name: !Ref Table\n",
        ));
        assert_eq!(
            p["A"],
            Value::Sub {
                template: "arn:${AWS::Partition}:s3:::${Bucket}/*".into(),
                variables: BTreeMap::new()
            }
        );
        let Value::Sub { variables, .. } = &p["B"] else {
            panic!("B is a Sub: {:?}", p["B"])
        };
        assert_eq!(variables["Name"], Value::Ref("Table".into()));
    }

    #[test]
    fn sub_parts_split_names_attributes_and_literals() {
        let parts = sub_parts("a${X}b${Y.Arn}${AWS::Region}${!Lit}").expect("valid");
        assert_eq!(
            parts,
            vec![
                SubPart::Text("a".into()),
                SubPart::Var {
                    name: "X",
                    attribute: None
                },
                SubPart::Text("b".into()),
                SubPart::Var {
                    name: "Y",
                    attribute: Some("Arn")
                },
                SubPart::Var {
                    name: "AWS::Region",
                    attribute: None
                },
                SubPart::Text("${Lit}".into()),
            ]
        );
        assert!(sub_parts("oops ${X").is_err());
    }

    #[test]
    fn unknown_intrinsics_are_kept_with_their_location() {
        let p = props("      A: !Join [\"-\", [a, b]]\n      B: {\"Fn::If\": [C, 1, 2]}\n");
        assert_eq!(
            p["A"],
            Value::Unsupported {
                function: "Fn::Join".into(),
                at: "Resources.R.Properties.A".into()
            }
        );
        assert_eq!(
            p["B"],
            Value::Unsupported {
                function: "Fn::If".into(),
                at: "Resources.R.Properties.B".into()
            }
        );
    }

    #[test]
    fn malformed_intrinsics_are_errors_that_say_where() {
        let err = Template::parse(
            "Resources:\n  R:\n    Type: T\n    Properties:\n      A: !GetAtt Nodot\n",
        )
        .expect_err("must fail");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("Fn::GetAtt") && msg.contains("Resources.R.Properties.A"),
            "{msg}"
        );
    }

    #[test]
    fn dependencies_come_from_refs_getatts_subs_and_depends_on() {
        let text = concat!(
            "Resources:\n  R:\n    Type: T\n    DependsOn: [Z]\n    Properties:\n",
            "      A: !Ref X\n      B: !GetAtt Y.Arn\n      C: !Sub \"${W}${AWS::Region}${V}\"\n",
            "      D: !Sub [\"${V}\", {V: !Ref U}]\n      E: !Ref AWS::AccountId\n",
        );
        let t = Template::parse(text).expect("parses");
        let deps: Vec<String> = t.resources["R"].dependencies().into_iter().collect();
        assert_eq!(deps, ["U", "V", "W", "X", "Y", "Z"]);
    }

    #[test]
    fn globals_function_environment_is_read() {
        let t = Template::parse(concat!(
            "Globals:\n  Function:\n    Environment:\n      Variables:\n",
            "        A: !Ref T\n        B: info\n",
            "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n",
        ))
        .expect("parses");
        assert_eq!(t.globals.function_environment["A"], Value::Ref("T".into()));
        assert_eq!(
            t.globals.function_environment["B"],
            Value::String("info".into())
        );
        assert!(t.resources["T"].properties.is_empty());
    }

    #[test]
    fn a_template_without_resources_is_rejected() {
        let err = Template::parse("Globals: {}\n").expect_err("must fail");
        assert!(format!("{err:#}").contains("Resources"));
    }

    #[test]
    fn the_project_template_parses() {
        let root = crate::tools::project_root();
        let t = Template::load_project(&root).expect("infra/template.yaml parses");
        assert_eq!(
            t.resource("MainTable").expect("exists").kind,
            "AWS::DynamoDB::Table"
        );
        assert!(
            t.globals
                .function_environment
                .contains_key("KOPEK_TABLE_NAME")
        );
    }
}
