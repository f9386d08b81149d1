//! Credentials: passwords and their Argon2id hashes, high-entropy tokens and API keys.
//!
//! See the [module docs](super) for why passwords get Argon2id and tokens get SHA-256.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AccountsError, Email};
use crate::ids::ApiKeyId;

/// Argon2id with OWASP's first recommended configuration: m = 19 MiB, t = 2, p = 1.
/// Evaluated at compile time, so the parameters are known valid before anything runs.
const OWASP_PARAMS: Params = match Params::new(19_456, 2, 1, None) {
    Ok(params) => params,
    Err(_) => panic!("the OWASP Argon2id parameters are within argon2's limits"),
};

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, OWASP_PARAMS)
}

/// The most common passwords of 10 or more characters (shorter ones fail the length rule
/// anyway), compared case-insensitively. A short list against the worst offenders, not a
/// breach corpus: that check belongs to an adapter with a real list.
const COMMON_PASSWORDS: &[&str] = &[
    "password123",
    "password1234",
    "password12345",
    "password1!",
    "passw0rd123",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "qwertyuiop",
    "qwertyuiop1",
    "qwertyuiop123",
    "1234567890",
    "12345678910",
    "0987654321",
    "1234567890q",
    "123456789a",
    "123456789q",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "qazwsxedc123",
    "zaq12wsxcde3",
    "asdfghjkl1",
    "iloveyou123",
    "letmein123",
    "welcome123",
    "admin12345",
    "administrator",
    "changeme123",
    "football123",
    "sunshine123",
    "princess123",
    "йцукенгшщз",
    "ytrewq123456",
];

/// A password its owner chose, checked against the policy. Never printed, never serialized.
///
/// Policy: 10 to 128 characters (characters, not bytes, so Cyrillic passwords are not
/// penalised); not one character repeated; not containing the e-mail's local part when that
/// is 4 characters or longer (case-insensitive); not one of the most common passwords. The
/// password is kept exactly as typed — no trimming or normalisation.
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 128;
    const FIELD: &'static str = "password";

    /// Checks `plain` against the policy for the account whose e-mail is `email`.
    pub fn new(plain: &str, email: &Email) -> Result<Self, AccountsError> {
        let invalid = |reason: &str| AccountsError::invalid(Self::FIELD, reason);
        let len = plain.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(invalid("must be 10 to 128 characters long"));
        }
        let mut chars = plain.chars();
        if let Some(first) = chars.next()
            && chars.all(|c| c == first)
        {
            return Err(invalid("must not be one character repeated"));
        }
        let lowered = plain.to_lowercase();
        let local = email.local_part().to_lowercase();
        if local.chars().count() >= 4 && lowered.contains(&local) {
            return Err(invalid("must not contain the e-mail address's name"));
        }
        if COMMON_PASSWORDS.contains(&lowered.as_str()) {
            return Err(invalid("is one of the most common passwords"));
        }
        Ok(Self(plain.to_owned()))
    }

    /// Hashes the password with Argon2id (OWASP parameters) and a fresh random salt.
    ///
    /// CPU- and memory-heavy by design (tens of milliseconds, 19 MiB).
    pub fn hash(&self) -> PasswordHash {
        hash_with_owasp_params(self.0.as_bytes())
    }
}

fn hash_with_owasp_params(secret: &[u8]) -> PasswordHash {
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2id()
        .hash_password(secret, &salt)
        // Fails only for a secret over 4 GiB or a salt outside 8..=64 bytes; ours are at most
        // 512 bytes and the 16-byte default salt.
        .expect("Argon2id hashing with valid parameters, salt and a bounded input");
    PasswordHash(phc.to_string())
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A password's Argon2id hash as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A stored PHC string, read back from storage. Only Argon2id hashes are accepted.
    pub fn parse(phc: &str) -> Result<Self, AccountsError> {
        let parsed = argon2::PasswordHash::new(phc)
            .map_err(|_| AccountsError::invalid("password_hash", "not a PHC string"))?;
        if parsed.algorithm != Algorithm::Argon2id.ident() {
            return Err(AccountsError::invalid(
                "password_hash",
                "not an Argon2id hash",
            ));
        }
        Ok(Self(phc.to_owned()))
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `candidate` is the password this hash was made from.
    ///
    /// The comparison of the derived key is constant-time (argon2 compares with `subtle`).
    /// A candidate over 128 characters cannot meet the policy and is refused before hashing,
    /// so callers cannot make us hash megabytes.
    pub fn verify(&self, candidate: &str) -> bool {
        // Cheap byte bound first (128 chars are at most 512 bytes), then the exact one.
        if candidate.len() > Password::MAX_LEN * 4 || candidate.chars().count() > Password::MAX_LEN
        {
            return false;
        }
        match argon2::PasswordHash::new(&self.0) {
            Ok(parsed) => argon2id()
                .verify_password(candidate.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// A valid hash of a random secret nobody knows, made once per process. Verify against
    /// it when the e-mail is unknown, so that answer takes as long as a wrong password.
    pub fn dummy() -> &'static PasswordHash {
        static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
        DUMMY.get_or_init(|| {
            let unknowable = SecretToken::generate();
            hash_with_owasp_params(unknowable.expose_secret().as_bytes())
        })
    }

    /// True when the hash was made with other parameters than today's: rehash the password
    /// after the next successful sign-in.
    pub fn needs_rehash(&self) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(&self.0) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.version != Some(Version::V0x13.into())
            || params.m_cost() != OWASP_PARAMS.m_cost()
            || params.t_cost() != OWASP_PARAMS.t_cost()
            || params.p_cost() != OWASP_PARAMS.p_cost()
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// SHA-256 of `bytes` as 64 lower-case hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// Compares two strings (e.g. stored token hashes) in time independent of where they differ.
/// Strings of different lengths are unequal; lengths are not secret.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A 256-bit random secret for API keys, refresh tokens and invitations, as 43 characters of
/// unpadded base64url.
///
/// Store only [`sha256_hex`](SecretToken::sha256_hex): with 256 bits of entropy a fast hash
/// is as safe as a slow one (see the [module docs](super)).
pub struct SecretToken(String);

impl SecretToken {
    pub const BYTES: usize = 32;
    pub const ENCODED_LEN: usize = 43;

    /// A fresh secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; Self::BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A secret presented by a client. Anything that is not 32 bytes of canonical unpadded
    /// base64url is [`AccountsError::InvalidCredentials`].
    pub fn parse(presented: &str) -> Result<Self, AccountsError> {
        if presented.len() != Self::ENCODED_LEN {
            return Err(AccountsError::InvalidCredentials);
        }
        match URL_SAFE_NO_PAD.decode(presented) {
            Ok(bytes) if bytes.len() == Self::BYTES => Ok(Self(presented.to_owned())),
            _ => Err(AccountsError::InvalidCredentials),
        }
    }

    /// The secret itself: show it to its owner once, never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The value to store: SHA-256 of the secret's text, in hex.
    pub fn sha256_hex(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// True when this secret hashes to `stored_hash`, compared in constant time.
    pub fn matches(&self, stored_hash: &str) -> bool {
        constant_time_eq(&self.sha256_hex(), stored_hash)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

/// The API key a client presents, `kpk_{key id's ULID}_{secret}`, shown once at creation.
///
/// The id part lets the server find the key with one read; the secret part is checked
/// against the stored SHA-256. The `kpk_` prefix makes leaked keys easy to spot by secret
/// scanners.
pub struct ApiKeyToken(String);

impl ApiKeyToken {
    pub const PREFIX: &'static str = "kpk_";
    const ULID_LEN: usize = 26;

    /// A new token for the key `id`, and the hash of its secret to store with the key.
    pub fn issue(id: ApiKeyId) -> (ApiKeyToken, String) {
        let secret = SecretToken::generate();
        let id_text = id.to_string();
        let ulid = id_text.strip_prefix(ApiKeyId::PREFIX).unwrap_or(&id_text);
        let token = format!("{}{ulid}_{}", Self::PREFIX, secret.expose_secret());
        (ApiKeyToken(token), secret.sha256_hex())
    }

    /// The key id and secret in a presented token. Any malformation is
    /// [`AccountsError::InvalidCredentials`], with no detail for the caller.
    ///
    /// The secret's alphabet contains `_`, so the token is split by position, not by `_`.
    pub fn parse(presented: &str) -> Result<(ApiKeyId, SecretToken), AccountsError> {
        let rest = presented
            .strip_prefix(Self::PREFIX)
            .ok_or(AccountsError::InvalidCredentials)?;
        let ulid = rest
            .get(..Self::ULID_LEN)
            .ok_or(AccountsError::InvalidCredentials)?;
        let secret = rest
            .get(Self::ULID_LEN..)
            .and_then(|tail| tail.strip_prefix('_'))
            .ok_or(AccountsError::InvalidCredentials)?;
        let id = format!("{}{ulid}", ApiKeyId::PREFIX)
            .parse::<ApiKeyId>()
            .map_err(|_| AccountsError::InvalidCredentials)?;
        Ok((id, SecretToken::parse(secret)?))
    }

    /// The token itself: show it to its owner once, never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("maria.ivanova@example.com").unwrap()
    }

    fn policy_reason(plain: &str) -> String {
        match Password::new(plain, &email()) {
            Err(AccountsError::Invalid {
                field: "password",
                reason,
            }) => reason,
            other => panic!("expected {plain:?} to be refused, got {other:?}"),
        }
    }

    #[test]
    fn a_password_is_counted_in_characters_not_bytes() {
        // Ten Cyrillic letters are twenty bytes but ten characters: long enough.
        assert!(Password::new("пароль-дом", &email()).is_ok());
        assert!(policy_reason("короткий").contains("10 to 128"));
        assert!(Password::new(&"ж1".repeat(64), &email()).is_ok());
        assert!(policy_reason(&"ж1".repeat(64).replace('1', "12")).contains("10 to 128"));
    }

    #[test]
    fn a_password_of_one_repeated_character_is_refused() {
        assert!(policy_reason("aaaaaaaaaaaa").contains("repeated"));
        assert!(policy_reason("ЖЖЖЖЖЖЖЖЖЖ").contains("repeated"));
    }

    #[test]
    fn a_password_containing_the_email_name_is_refused_in_any_case() {
        assert!(policy_reason("xx-Maria.Ivanova-2024").contains("e-mail"));
        let short = Email::parse("bob@example.com").unwrap();
        // A local part under four characters is too common a substring to forbid.
        assert!(Password::new("bob-likes-long-walks", &short).is_ok());
    }

    #[test]
    fn the_most_common_passwords_are_refused_whatever_their_case() {
        assert!(policy_reason("password123").contains("most common"));
        assert!(policy_reason("QWERTY1234").contains("most common"));
        assert!(policy_reason("1234567890").contains("most common"));
        assert!(
            COMMON_PASSWORDS
                .iter()
                .all(|p| p.chars().count() >= Password::MIN_LEN)
        );
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Password::new("correct horse battery", &email()).unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
        let token = SecretToken::generate();
        assert_eq!(format!("{token:?}"), "SecretToken(***)");
        let (api_key, _) = ApiKeyToken::issue(ApiKeyId::new());
        assert_eq!(format!("{api_key:?}"), "ApiKeyToken(***)");
    }

    // Hashes in this module's tests: 1 hash + 3 verifies here, 1 + 1 for the dummy.
    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let password = Password::new("correct horse battery", &email()).unwrap();
        let hash = password.hash();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!hash.needs_rehash());
        assert!(hash.verify("correct horse battery"));
        assert!(!hash.verify("correct horse battery "));
        assert!(
            !hash.verify(&"x".repeat(129)),
            "over-long candidates are refused unhashed"
        );
        let stored = PasswordHash::parse(hash.as_str()).unwrap();
        assert_eq!(stored, hash);
        assert!(!stored.verify("Correct horse battery"));
    }

    #[test]
    fn the_dummy_hash_is_valid_made_once_and_matches_nothing_known() {
        let dummy = PasswordHash::dummy();
        assert!(std::ptr::eq(dummy, PasswordHash::dummy()));
        assert!(PasswordHash::parse(dummy.as_str()).is_ok());
        assert!(!dummy.needs_rehash());
        assert!(!dummy.verify("password123456"));
    }

    #[test]
    fn a_stored_hash_must_be_an_argon2id_phc_string() {
        assert!(PasswordHash::parse("plaintext").is_err());
        let argon2i = "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$\
                       iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert_eq!(
            PasswordHash::parse(argon2i).unwrap_err().field(),
            Some("password_hash")
        );
    }

    #[test]
    fn weaker_parameters_call_for_a_rehash() {
        let old = "$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$\
                   iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert!(PasswordHash::parse(old).unwrap().needs_rehash());
    }

    #[test]
    fn a_secret_token_is_32_random_bytes_in_unpadded_base64url() {
        let a = SecretToken::generate();
        let b = SecretToken::generate();
        assert_eq!(a.expose_secret().len(), SecretToken::ENCODED_LEN);
        assert!(!a.expose_secret().contains('='));
        assert_ne!(a.expose_secret(), b.expose_secret());
        let decoded = URL_SAFE_NO_PAD.decode(a.expose_secret()).unwrap();
        assert_eq!(decoded.len(), 32);
    }

    #[test]
    fn a_secret_token_matches_only_its_own_hash() {
        let token = SecretToken::generate();
        let hash = token.sha256_hex();
        assert_eq!(hash.len(), 64);
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let presented = SecretToken::parse(token.expose_secret()).unwrap();
        assert!(presented.matches(&hash));
        assert!(!SecretToken::generate().matches(&hash));
        assert!(!presented.matches(&hash[..63]));
    }

    #[test]
    fn sha256_hex_matches_the_published_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn a_malformed_secret_token_is_invalid_credentials() {
        for bad in [
            "",
            "short",
            &"A".repeat(44),
            &format!("{}=", "A".repeat(42)),
        ] {
            assert_eq!(
                SecretToken::parse(bad).unwrap_err(),
                AccountsError::InvalidCredentials
            );
        }
    }

    #[test]
    fn an_api_key_token_carries_its_key_id_and_parses_back() {
        let id = ApiKeyId::new();
        let (token, hash) = ApiKeyToken::issue(id);
        let text = token.expose_secret();
        let ulid = id.to_string()[ApiKeyId::PREFIX.len()..].to_owned();
        assert!(text.starts_with(&format!("kpk_{ulid}_")));
        assert_eq!(text.len(), 4 + 26 + 1 + 43);
        let (parsed_id, secret) = ApiKeyToken::parse(text).unwrap();
        assert_eq!(parsed_id, id);
        assert!(secret.matches(&hash));
    }

    #[test]
    fn a_malformed_api_key_token_is_invalid_credentials() {
        let (token, _) = ApiKeyToken::issue(ApiKeyId::new());
        let good = token.expose_secret();
        let cases = [
            String::new(),
            good.replacen("kpk_", "kpx_", 1),
            good[..good.len() - 1].to_owned(),
            good.replacen('_', "-", 2),
            format!("kpk_{}", "Я".repeat(20)),
            format!("{good}A"),
        ];
        for bad in &cases {
            assert_eq!(
                ApiKeyToken::parse(bad).unwrap_err(),
                AccountsError::InvalidCredentials
            );
        }
    }
}
