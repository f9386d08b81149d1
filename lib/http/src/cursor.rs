//! Opaque page cursors.
//!
//! A cursor is the store's [`PageKey`] as JSON, base64url-encoded, followed by an HMAC tag.
//! Clients cannot read meaning into it or forge one that starts a listing elsewhere; a cursor
//! that was tampered with is refused as a 400 naming the `cursor` parameter.

use crate::problem::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use kopek_services::PageKey;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Encodes and verifies cursors with a key derived from the token key.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(***)")
    }
}

impl CursorCodec {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn tag(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(b"kopek-cursor-v1");
        mac.update(payload);
        mac.finalize().into_bytes()[..16].to_vec()
    }

    pub fn encode(&self, key: &PageKey) -> String {
        let payload = serde_json::to_vec(key).unwrap_or_default();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(self.tag(&payload))
        )
    }

    pub fn decode(&self, cursor: &str) -> Result<PageKey, ApiError> {
        let invalid = || {
            ApiError::bad_request("invalid_cursor", "the cursor is not one this API gave out")
                .with_field("cursor")
        };
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(b"kopek-cursor-v1");
        mac.update(&payload);
        mac.verify_truncated_left(&tag).map_err(|_| invalid())?;
        serde_json::from_slice(&payload).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn page_key() -> PageKey {
        PageKey(BTreeMap::from([
            ("PK".to_owned(), "ORG#a".to_owned()),
            ("SK".to_owned(), "USER#b".to_owned()),
        ]))
    }

    #[test]
    fn a_cursor_round_trips() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            codec.decode(&codec.encode(&page_key())).unwrap(),
            page_key()
        );
    }

    #[test]
    fn a_tampered_cursor_is_refused() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        let cursor = codec.encode(&page_key());
        let forged = PageKey(BTreeMap::from([("PK".to_owned(), "ORG#other".to_owned())]));
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tag = cursor.split_once('.').unwrap().1;
        let err = codec
            .decode(&format!("{forged_payload}.{tag}"))
            .unwrap_err();
        assert_eq!(err.code, "invalid_cursor");
        assert!(codec.decode("garbage").is_err());
        let other = CursorCodec::new(b"another-key-another-key-another-");
        assert!(other.decode(&cursor).is_err());
    }
}
