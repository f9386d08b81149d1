//! Reading what a request names — ids in paths, `?org_id=`, periods — into typed values. An
//! id that does not parse names nothing the caller could see: the same 404 as another
//! organisation's id, so ids cannot be probed. Who may read what is the services' business.

use std::str::FromStr;

use kopek_domain::ids::OrgId;
use kopek_domain::period::BillingPeriod;
use kopek_http::state::AppState;
use kopek_http::{ApiError, ApiResult};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::ParameterIn;

/// An id in a path: not found unless it parses.
pub(crate) fn id_path<T: FromStr>(text: &str) -> ApiResult<T> {
    text.parse().map_err(|_| ApiError::not_found())
}

/// `?org_id=`, when given: not found unless it parses.
pub(crate) fn org_query(org_id: Option<&str>) -> ApiResult<Option<OrgId>> {
    org_id.map(id_path).transpose()
}

/// The query of a read of one customer's data that takes nothing else.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrgQuery {
    /// Whose: staff name the organisation (its id, or `ref:` and the CRM's reference); a customer may name only its own.
    org_id: Option<String>,
}

impl OrgQuery {
    /// The organisation named, if any ([`org_query`]).
    pub(crate) fn org(&self) -> ApiResult<Option<OrgId>> {
        org_query(self.org_id.as_deref())
    }
}

/// A period given as input (`code` says where: `invalid_path` or `invalid_query`): one of the
/// provider's periods, written as its length is (`2026-11` for a month, `2026-Q4` for a
/// quarter), else 400 naming `period`. A well-formed period of another length is refused too:
/// a quarterly provider has no period `2026-11`.
pub(crate) fn parse_period(
    state: &AppState,
    text: &str,
    code: &'static str,
) -> ApiResult<BillingPeriod> {
    let calendar = state.services.calendar();
    let length = calendar.period_length();
    text.parse()
        .ok()
        .and_then(|p| calendar.check(p).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                code,
                format!("period must be a {length} as {}", length.text_form()),
            )
            .with_field("period")
        })
}

/// A period in a path.
pub(crate) fn period_path(state: &AppState, text: &str) -> ApiResult<BillingPeriod> {
    parse_period(state, text, "invalid_path")
}

/// `?period=`, or the current period by the clock.
pub(crate) fn period_query(state: &AppState, period: Option<&str>) -> ApiResult<BillingPeriod> {
    match period {
        None => Ok(state.services.current_period()),
        Some(p) => parse_period(state, p, "invalid_query"),
    }
}

/// Writes the answers of this module's readers into the document, on every operation that
/// uses them: a path parameter answers 404 when it names nothing the caller can see (a
/// `period` in the path: 400 when it is not one of the provider's periods), and an `org_id`
/// filter answers 404 for an organisation the caller cannot see.
pub(crate) struct ReadingAnswers;

impl utoipa::Modify for ReadingAnswers {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let params: Vec<(ParameterIn, String)> = op
                    .parameters
                    .iter()
                    .flatten()
                    .map(|p| (p.parameter_in.clone(), p.name.clone()))
                    .collect();
                for (place, name) in params {
                    match (place, name.as_str()) {
                        (ParameterIn::Path, "period") => kopek_http::openapi::answer(
                            op,
                            400,
                            "`invalid_path`: `period` is not one of the provider's periods",
                        ),
                        (ParameterIn::Path, _) => kopek_http::openapi::answer(
                            op,
                            404,
                            "`not_found`: nothing the caller can see has this id",
                        ),
                        (ParameterIn::Query, "org_id") => kopek_http::openapi::answer(
                            op,
                            404,
                            "`not_found`: no organisation the caller can see has this `org_id`",
                        ),
                        _ => {}
                    }
                }
            }
        }
    }
}
