//! Forms sent by a signed-in person: [`Posted`] reads the fields and lets a handler run only
//! when the form's CSRF token is the viewer's (else a 403 page, and nothing changes); the
//! helpers turn a field into a value or into the error that names it, and a service's answer
//! into where the browser goes next.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::response::{IntoResponse, Response};
use kopek_http::ApiError;
use kopek_http::state::AppState;

use crate::i18n::Lang;
use crate::pages::{PageError, csrf_refused, see_other};
use crate::session::Viewer;

/// A form's fields as sent, in order (names may repeat).
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    }

    /// The value of `name`, trimmed, when not empty.
    pub fn filled(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// The value of `name` parsed, else a 422 naming the field with `hint`.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str, hint: &str) -> Result<T, ApiError> {
        self.filled(name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ApiError::validation(name.to_owned(), hint.to_owned()))
    }
}

/// A form a signed-in person sent, its CSRF token checked.
pub struct Posted {
    pub viewer: Viewer,
    pub fields: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let lang = viewer.lang;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields = Fields::parse(&bytes);
        if !viewer.csrf_ok(state, &fields.get("_csrf").unwrap_or_default()) {
            return Err(csrf_refused(lang));
        }
        Ok(Posted { viewer, fields })
    }
}

/// Where a form leads: to `to(value)` when the service did it, else a page saying why (the
/// API's status and words for the same refusal).
pub fn then<T, E: Into<ApiError>>(
    lang: Lang,
    done: Result<T, E>,
    to: impl FnOnce(T) -> String,
) -> Response {
    match done {
        Ok(value) => see_other(&to(value)),
        Err(e) => PageError::of(lang, e).into_response(),
    }
}

/// A form's idempotency key, claimed for its person: [`FormKey::done`] when what it asked
/// was done, [`FormKey::failed`] to let the same form be sent again.
pub struct FormKey {
    scope: String,
    key: String,
}

/// What claiming a form's key found.
pub enum Claimed {
    /// First time: do it.
    Fresh(FormKey),
    /// Sent before with the same values: done already, or being done.
    Again,
    /// Sent before with other values.
    Mismatch,
}

/// Claims `form_key` (the form's own `_key`) for this person with `fingerprint`, what the
/// form asks, in the same store as the API's `Idempotency-Key`s.
pub async fn claim(
    state: &AppState,
    viewer: &Viewer,
    form_key: &str,
    fingerprint: &str,
) -> Result<Claimed, ApiError> {
    use kopek_services::idempotency::Claim;
    let scope = kopek_services::access::subject_text(&viewer.principal);
    let key = format!("portal-form:{form_key}");
    Ok(
        match state
            .services
            .idempotency()
            .claim(&scope, &key, fingerprint)
            .await?
        {
            Claim::Fresh => Claimed::Fresh(FormKey { scope, key }),
            Claim::Replay(_) | Claim::InProgress => Claimed::Again,
            Claim::Mismatch => Claimed::Mismatch,
        },
    )
}

impl FormKey {
    /// Done: the same form sent again is not done twice.
    pub async fn done(self, state: &AppState) {
        let done = kopek_services::idempotency::StoredResponse {
            status: 303,
            content_type: "text/html".into(),
            body: Vec::new(),
        };
        if let Err(e) = state
            .services
            .idempotency()
            .complete(&self.scope, &self.key, &done)
            .await
        {
            tracing::warn!(error = %e, "a form's key was not completed");
        }
    }

    /// Not done: the form may be sent again.
    pub async fn failed(self, state: &AppState) {
        let _ = state
            .services
            .idempotency()
            .release(&self.scope, &self.key)
            .await;
    }
}

/// The text a form sent again with other values is refused with.
pub fn mismatch_text(lang: Lang) -> &'static str {
    lang.pick(
        "Эта форма уже отправлена с другими данными: откройте её заново.",
        "This form was sent before with other values: open it again.",
    )
}

/// Runs `run` once per form ([`claim`]): the form's fields but its token are what it asks.
/// The same form sent again (a double click, a reload) goes to `replay_to` without running
/// anything; its key sent with other values is refused.
pub async fn once<T, E: Into<ApiError>>(
    state: &AppState,
    viewer: &Viewer,
    fields: &Fields,
    replay_to: &str,
    run: impl Future<Output = Result<T, E>>,
    to: impl FnOnce(T) -> String,
) -> Response {
    use sha2::{Digest, Sha256};
    let lang = viewer.lang;
    let Some(form_key) = fields.filled("_key") else {
        return PageError::of(lang, ApiError::validation("_key", "reload the page"))
            .into_response();
    };
    let mut asked: Vec<_> = fields
        .0
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "_csrf" | "intent"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    asked.sort();
    let fingerprint = format!("{:x}", Sha256::digest(asked.join("&")));
    let key = match claim(state, viewer, &form_key, &fingerprint).await {
        Ok(Claimed::Fresh(key)) => key,
        Ok(Claimed::Again) => return see_other(replay_to),
        Ok(Claimed::Mismatch) => {
            let e = ApiError::validation("_key", mismatch_text(lang));
            return PageError::of(lang, e).into_response();
        }
        Err(e) => return PageError::of(lang, e).into_response(),
    };
    match run.await {
        Ok(value) => {
            key.done(state).await;
            see_other(&to(value))
        }
        Err(e) => {
            key.failed(state).await;
            PageError::of(lang, e).into_response()
        }
    }
}

impl Fields {
    /// The form as the JSON body the API's route for the same thing takes, so it is read by
    /// the same types with the same refusals naming the same fields: a dotted name nests
    /// (`price.model.unit_price`), `name:bool` is a checkbox, `name:num` a whole number; empty
    /// fields are left out (a default, or a refusal naming the field), and `skip` not taken.
    pub fn to_json(&self, skip: &[&str]) -> serde_json::Value {
        use serde_json::{Map, Value};
        let mut root = Map::new();
        for (name, value) in &self.0 {
            let value = value.trim();
            let (path, kind) = name.split_once(':').unwrap_or((name.as_str(), ""));
            if path.starts_with('_') || skip.contains(&path) || (value.is_empty() && kind != "bool")
            {
                continue;
            }
            let leaf = match kind {
                "bool" => Value::Bool(matches!(value, "on" | "true" | "1")),
                "num" => value
                    .parse::<i64>()
                    .map_or_else(|_| Value::String(value.to_owned()), Value::from),
                _ => Value::String(value.to_owned()),
            };
            let mut node = &mut root;
            let mut parts = path.split('.').peekable();
            while let Some(part) = parts.next() {
                if parts.peek().is_none() {
                    node.insert(part.to_owned(), leaf);
                    break;
                }
                let next = node
                    .entry(part.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !next.is_object() {
                    *next = Value::Object(Map::new());
                }
                node = next.as_object_mut().expect("an object");
            }
        }
        Value::Object(root)
    }

    /// The form read as `T` through [`Self::to_json`] and the API's JSON reader.
    pub fn read_as<T: serde::de::DeserializeOwned>(&self, skip: &[&str]) -> Result<T, ApiError> {
        let body = serde_json::to_vec(&self.to_json(skip)).map_err(|e| ApiError::internal(&e))?;
        kopek_http::json::parse_json(&body)
    }
}

/// A file sent in a `multipart/form-data` form: its name and bytes, once the form's `_csrf`
/// is the viewer's (else the 403 page); a form without a `file` is refused naming it.
pub async fn uploaded_file(
    state: &AppState,
    viewer: &Viewer,
    mut multipart: Multipart,
) -> Result<(String, Vec<u8>), Response> {
    let lang = viewer.lang;
    let bad = |why: String| PageError::of(lang, ApiError::validation("file", why)).into_response();
    let (mut csrf, mut file) = (String::new(), None);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("_csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("file") => {
                    let name = field.file_name().unwrap_or("upload").to_owned();
                    let bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
                    file = Some((name, bytes.to_vec()));
                }
                _ => {}
            },
            Ok(None) => break,
            Err(e) => return Err(bad(e.body_text())),
        }
    }
    if !viewer.csrf_ok(state, &csrf) {
        return Err(csrf_refused(lang));
    }
    file.filter(|(_, bytes)| !bytes.is_empty())
        .ok_or_else(|| bad("choose a file".into()))
}
