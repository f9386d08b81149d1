//! Secrets fetched once at cold start. Their values are never logged: [`Secret`]'s `Debug`
//! prints a placeholder.

use aws_sdk_secretsmanager::Client;

/// Bytes that must not be printed.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read secret {arn}: {reason}")]
    Unreadable { arn: String, reason: String },
    #[error("secret {arn} is too short to sign tokens (need at least 32 bytes)")]
    TooShort { arn: String },
}

/// Reads the token-signing key. At least 32 bytes are required for HMAC-SHA256.
pub async fn token_key(client: &Client, arn: &str) -> Result<Secret, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| SecretError::Unreadable {
            arn: arn.to_owned(),
            reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
        })?;
    let bytes = out
        .secret_string()
        .map(|s| s.as_bytes().to_vec())
        .or_else(|| out.secret_binary().map(|b| b.as_ref().to_vec()))
        .unwrap_or_default();
    if bytes.len() < 32 {
        return Err(SecretError::TooShort {
            arn: arn.to_owned(),
        });
    }
    Ok(Secret::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let s = Secret::new(b"very-secret-signing-key".to_vec());
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}
