//! Request bodies and query strings, parsed strictly.
//!
//! [`JsonBody`] reads at most [`MAX_BODY_BYTES`] (or the route's own [`BodyLimit`]), accepts
//! only `application/json`, refuses unknown fields (wire types carry
//! `#[serde(deny_unknown_fields)]`) and names the field in every error, using the JSON path
//! where deserialisation stopped. Well-formed JSON that breaks a rule is a 422; something
//! that is not JSON at all is a 400; too big is a 413. A struct is read only from a JSON
//! object, never from an array of its field values ([`strict`]).

use crate::problem::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

mod strict;

/// The largest request body an endpoint reads, unless its route has a [`BodyLimit`].
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request extension: the most bytes this request's route reads, where that is not
/// [`MAX_BODY_BYTES`] (bulk uploads). A router puts it on the request before any middleware
/// reads the body, so that the `Idempotency-Key` middleware and the extractors keep the same
/// limit and give the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// The most bytes the request with these extensions may carry.
pub fn body_limit(extensions: &Extensions) -> usize {
    extensions
        .get::<BodyLimit>()
        .map_or(MAX_BODY_BYTES, |limit| limit.0)
}

/// Whether the request's `Content-Type` is `media_type` (or, for `application/json`, any
/// `application/…+json`), parameters such as `charset` aside.
pub fn has_media_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == media_type
                || (media_type == "application/json"
                    && m.starts_with("application/")
                    && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// The 415 of a body sent as another media type than `media_type`.
pub fn unsupported_media_type(media_type: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("send the body as {media_type}"),
    )
}

/// Reads the whole body of `req`, at most its route's [`body_limit`] (else a 413).
pub async fn read_body(req: Request) -> Result<axum::body::Bytes, ApiError> {
    let limit = body_limit(req.extensions());
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large(limit))
}

/// A JSON request body, deserialised into `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(req.headers(), "application/json") {
            return Err(unsupported_media_type("application/json"));
        }
        let bytes = read_body(req).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body must not exceed {limit} bytes"),
    )
}

/// Parses `bytes` as `T`, naming the field of the first error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: &serde_json::Error| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(strict::Strict(&mut de)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => malformed(&inner),
            // The deserializer stops at the first error it meets, which may be a field it does
            // not know in a body that is not even JSON (`{"x": `): that is still a 400.
            serde_json::error::Category::Data => {
                match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                    Err(syntax) => malformed(&syntax),
                    Ok(_) => data_error(&path, &strip_position(&inner.to_string())),
                }
            }
        }
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

/// A data error from serde: names the field, including an unknown one.
fn data_error(path: &str, message: &str) -> ApiError {
    let path = if path == "." { "" } else { path };
    let join = |leaf: &str| {
        if path.is_empty() {
            leaf.to_owned()
        } else {
            format!("{path}.{leaf}")
        }
    };
    let field = if let Some(rest) = message.strip_prefix("unknown field `") {
        // serde_path_to_error has already stepped into the unknown key: the path names it.
        let name = rest.split('`').next().unwrap_or_default();
        if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            join(name)
        }
    } else if let Some(rest) = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("duplicate field `"))
    {
        join(rest.split('`').next().unwrap_or_default())
    } else if path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    ApiError::validation(field, message)
}

/// serde_json appends " at line L column C" to messages; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string, deserialised into `T`, with errors naming the parameter.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(strict::Strict(de))
            .map(QueryParams)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let mut err = data_error(&path, &message);
                err.status = StatusCode::BAD_REQUEST;
                err.code = "invalid_query";
                err
            })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        up_to: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        tiers: Vec<Inner>,
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let err = parse_json::<Outer>(br#"{"name":"a","tiers":[{"up_to":1},{"up_to":"x"}]}"#)
            .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.field.as_deref(), Some("tiers[1].up_to"));
    }

    #[test]
    fn an_unknown_field_is_named() {
        let err = parse_json::<Outer>(br#"{"name":"a","tiers":[],"admin":true}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("admin"));
        assert!(err.detail.contains("unknown field"));
        let err =
            parse_json::<Outer>(br#"{"name":"a","tiers":[{"up_to":1,"down_to":2}]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("tiers[0].down_to"));
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = parse_json::<Outer>(br#"{"tiers":[]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("name"));
    }

    #[test]
    fn a_duplicate_field_is_named() {
        let err = parse_json::<Outer>(br#"{"name":"a","name":"b","tiers":[]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("name"));
        let err =
            parse_json::<Outer>(br#"{"name":"a","tiers":[{"up_to":1,"up_to":2}]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("tiers[0].up_to"));
    }

    #[test]
    fn an_array_in_place_of_an_object_is_refused_naming_where() {
        let err = parse_json::<Outer>(br#"["a",[]]"#).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.field.as_deref(), Some("body"));
        assert!(
            err.detail.contains("expected struct Outer"),
            "{}",
            err.detail
        );
        let err = parse_json::<Outer>(br#"{"name":"a","tiers":[[1]]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("tiers[0]"));
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Outer>(br#"{"name": "#).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "malformed_json");
        let err = parse_json::<Outer>(br#"{"name":"a","tiers":[]} trailing"#).unwrap_err();
        assert_eq!(err.code, "malformed_json");
    }

    #[test]
    fn broken_json_is_a_bad_request_even_after_a_field_that_breaks_a_rule() {
        for body in [
            &br#"{"admin": "#[..],
            br#"{"name": 1,"#,
            br#"{"name": "a", "tiers": [{"up_to": "x"}],}"#,
            br#"{"admin": true} trailing"#,
        ] {
            let err = parse_json::<Outer>(body).unwrap_err();
            assert_eq!(
                (err.status, err.code),
                (StatusCode::BAD_REQUEST, "malformed_json"),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
