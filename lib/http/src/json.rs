//! Request bodies and query strings, parsed strictly.
//!
//! [`JsonBody`] reads at most [`MAX_BODY_BYTES`], accepts only `application/json`, refuses
//! unknown fields (wire types carry `#[serde(deny_unknown_fields)]`) and names the field in
//! every error, using the JSON path where deserialisation stopped. Well-formed JSON that
//! breaks a rule is a 422; something that is not JSON at all is a 400; too big is a 413.

use crate::problem::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// The largest request body any endpoint reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body, deserialised into `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| too_large())?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body must not exceed {MAX_BODY_BYTES} bytes"),
    )
}

/// Parses `bytes` as `T`, naming the field of the first error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: &serde_json::Error| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
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
        serde_path_to_error::deserialize(de)
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
