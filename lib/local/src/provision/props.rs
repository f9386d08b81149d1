//! Typed readers of resolved properties, naming the property in errors.

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json};

/// Reads resolved properties, naming the resource and property in errors.
pub(super) struct Props<'a> {
    pub(super) map: &'a Map<String, Json>,
}

impl<'a> Props<'a> {
    pub(super) fn warn_unhandled(&self, kind: &str, name: &str, handled: &[&str]) {
        for key in self.map.keys().filter(|k| !handled.contains(&k.as_str())) {
            tracing::warn!(resource = name, kind, property = %key, "property not applied by the local stack");
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Json> {
        self.map.get(key)
    }

    pub(super) fn str(&self, key: &str) -> anyhow::Result<Option<&'a str>> {
        str_of(self.get(key), key)
    }

    pub(super) fn bool(&self, key: &str) -> anyhow::Result<Option<bool>> {
        bool_of(self.get(key), key)
    }

    pub(super) fn list(&self, key: &str) -> anyhow::Result<&'a [Json]> {
        list_of(self.get(key), key)
    }

    pub(super) fn object(&self, key: &str) -> anyhow::Result<Option<Props<'a>>> {
        object_of(self.get(key), key)
    }
}

pub(super) fn str_of<'a>(v: Option<&'a Json>, key: &str) -> anyhow::Result<Option<&'a str>> {
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

pub(super) fn int_of(v: Option<&Json>, key: &str) -> anyhow::Result<Option<i64>> {
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

pub(super) fn object_of<'a>(v: Option<&'a Json>, key: &str) -> anyhow::Result<Option<Props<'a>>> {
    match v {
        None => Ok(None),
        Some(Json::Object(map)) => Ok(Some(Props { map })),
        Some(other) => bail!("`{key}` must be a mapping, got {other}"),
    }
}

pub(super) fn required<T>(v: Option<T>, key: &str) -> anyhow::Result<T> {
    v.with_context(|| format!("`{key}` is required"))
}

pub(super) fn yaml_number(n: &serde_yaml::Number) -> Json {
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
