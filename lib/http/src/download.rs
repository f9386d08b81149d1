//! Files sent to be saved rather than shown.

use axum::http::header;
use axum::response::IntoResponse;

/// `bytes` as a download named `file_name`, of `content_type`.
pub fn attachment(
    content_type: &'static str,
    file_name: String,
    bytes: Vec<u8>,
) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        bytes,
    )
}
