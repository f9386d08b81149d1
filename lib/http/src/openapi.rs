//! The answers every operation may give because of the layers in this crate, written into the
//! OpenAPI document in one place ([`CommonAnswers`]), so that the document says what the server
//! does without each handler repeating it:
//!
//! - every error is `application/problem+json` ([`crate::problem`]): an error response a
//!   handler documents as `application/json` is rewritten;
//! - an operation that needs a caller (`bearer` security, [`crate::auth`]) may answer 401;
//! - an operation with a JSON body ([`crate::json::JsonBody`]) may answer 400 (not JSON), 413
//!   (too large), 415 (not declared as JSON) and 422 (a field breaks a rule);
//! - an operation with query parameters ([`crate::json::QueryParams`]) may answer 400;
//! - a POST ([`crate::idempotency`]) takes an `Idempotency-Key` header and may answer 400 (a
//!   malformed key) and 409 (the key is in use by another request, or still in progress).
//!
//! Statuses particular to one operation (403 `customer_only`, 409 `email_taken`, 429…) stay on
//! the operation's own annotation.

use crate::problem::PROBLEM_JSON;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::{Content, Ref, RefOr, Required, Response, Schema};
use utoipa::{Modify, openapi::OpenApi};

/// Adds the answers of the shared layers to every operation of a document.
pub struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let methods = [
                (&mut item.get, false),
                (&mut item.put, false),
                (&mut item.post, true),
                (&mut item.delete, false),
                (&mut item.patch, false),
            ];
            for (operation, is_post) in methods {
                if let Some(operation) = operation.as_mut() {
                    add_common_answers(operation, is_post);
                }
            }
        }
    }
}

fn add_common_answers(op: &mut Operation, is_post: bool) {
    for (status, response) in op.responses.responses.iter_mut() {
        let error = status.parse::<u16>().is_ok_and(|s| s >= 400);
        if let (true, RefOr::T(response)) = (error, response) {
            as_problem(response);
        }
    }
    let secured = op
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    if secured {
        answer(
            op,
            401,
            "`unauthenticated`: no valid access token or API key",
        );
    }
    if op.request_body.as_ref().is_some_and(is_json) {
        answer(op, 400, "`malformed_json`: the body is not JSON");
        answer(op, 413, "`payload_too_large`: the body is over the limit");
        answer(
            op,
            415,
            "`unsupported_media_type`: the body is not declared as JSON",
        );
        answer(
            op,
            422,
            "`validation_failed`: a field breaks a rule; `field` names it",
        );
    }
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    if has_query {
        answer(
            op,
            400,
            "`invalid_query`: a query parameter breaks a rule; `field` names it",
        );
    }
    if is_post {
        let mut key = Parameter::new("Idempotency-Key");
        key.parameter_in = ParameterIn::Header;
        key.required = Required::False;
        key.description = Some(
            "Any 1 to 255 visible ASCII characters. The same key and request again answer the \
             first response, once more; the same key with another request is a 409."
                .into(),
        );
        key.schema = Some(RefOr::T(Schema::Object(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$"))
                .build(),
        )));
        op.parameters.get_or_insert_with(Vec::new).push(key);
        answer(
            op,
            400,
            "`invalid_idempotency_key`: the Idempotency-Key header is malformed",
        );
        answer(
            op,
            409,
            "`idempotency_key_reused` (the key was used for another request) or \
             `idempotency_key_in_progress` (a request with the key is still running)",
        );
    }
}

fn is_json(body: &RequestBody) -> bool {
    body.content.keys().any(|media| media == "application/json")
}

/// Adds a problem answer for `status`, or adds `description` to the one documented.
pub fn answer(op: &mut Operation, status: u16, description: &str) {
    let responses = &mut op.responses.responses;
    match responses.get_mut(&status.to_string()) {
        Some(RefOr::T(existing)) => {
            if !existing.description.contains(description) {
                existing.description = if existing.description.is_empty() {
                    description.to_owned()
                } else {
                    format!("{}; {description}", existing.description)
                };
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let mut response = Response::new(description);
            as_problem(&mut response);
            responses.insert(status.to_string(), RefOr::T(response));
        }
    }
}

/// Serves `response` as a problem document, whatever a handler's annotation said.
fn as_problem(response: &mut Response) {
    response.content.clear();
    response.content.insert(
        PROBLEM_JSON.to_owned(),
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
}
