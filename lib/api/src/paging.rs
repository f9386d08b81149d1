//! List parameters and pages, shared by every listing.

use kopek_http::ApiError;
use kopek_http::state::AppState;
use kopek_services::{Page, PageKey, Paging};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: u16 = 50;
pub const MAX_LIMIT: u16 = 100;

/// `?limit=&cursor=` on every listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many items at most (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The page to read, for a service's listing.
    pub fn paging(&self, state: &AppState) -> Result<Paging, ApiError> {
        let (limit, start) = self.parse(state)?;
        Ok(Paging::new(limit, start))
    }

    pub fn parse(&self, state: &AppState) -> Result<(i32, Option<PageKey>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            )
            .with_field("limit"));
        }
        let start = self
            .cursor
            .as_deref()
            .map(|c| state.cursors.decode(c))
            .transpose()?;
        Ok((i32::from(limit), start))
    }
}

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Paged<T> {
    pub fn from_page<U>(state: &AppState, page: Page<U>, view: impl FnMut(U) -> T) -> Self {
        Paged {
            next_cursor: page.next.as_ref().map(|k| state.cursors.encode(k)),
            items: page.items.into_iter().map(view).collect(),
        }
    }
}
