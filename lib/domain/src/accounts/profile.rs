//! Who an organisation and its people are: e-mail, names, address, document language.

use std::fmt;
use std::hash::{Hash, Hasher};

use super::AccountsError;

/// An e-mail address, as its owner spelled it, with a normalized form for uniqueness.
///
/// Rules (after trimming): 3 to 254 characters, exactly one `@`, a non-empty local part of at
/// most 64 characters, a domain with a dot (not at either end, never two in a row), no
/// whitespace or control characters.
///
/// Two e-mails are equal when their [`normalized`](Email::normalized) forms are: `Ann@X.io`
/// and `ann@x.io` are the same address for uniqueness, while [`as_str`](Email::as_str) keeps
/// `Ann@X.io` for display and for the mails we send. An internationalised domain is the same
/// in Unicode or in its ASCII form (`ромашка.рф` and `xn--80aa…` — browsers send the latter
/// from an e-mail field), so the normalized form spells it in Unicode.
#[derive(Clone)]
pub struct Email {
    original: String,
    normalized: String,
}

impl Email {
    const FIELD: &'static str = "email";
    const MAX_LEN: usize = 254;
    const MAX_LOCAL_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, AccountsError> {
        let invalid = |reason: &str| AccountsError::invalid(Self::FIELD, reason);
        let original = input.trim();
        if original.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if original
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid("must not contain whitespace or control characters"));
        }
        let normalized = original.to_lowercase();
        // Lowercasing can lengthen a few non-ASCII letters; both forms must fit, so that the
        // normalized form parses again to itself.
        let len = original.chars().count().max(normalized.chars().count());
        if !(3..=Self::MAX_LEN).contains(&len) {
            return Err(invalid("must be 3 to 254 characters long"));
        }
        let (local, domain) = original
            .split_once('@')
            .ok_or_else(|| invalid("must contain an @"))?;
        if domain.contains('@') {
            return Err(invalid("must contain exactly one @"));
        }
        if local.is_empty() {
            return Err(invalid("the part before the @ must not be empty"));
        }
        let local_len = local
            .chars()
            .count()
            .max(local.to_lowercase().chars().count());
        if local_len > Self::MAX_LOCAL_LEN {
            return Err(invalid(
                "the part before the @ must be at most 64 characters long",
            ));
        }
        if !domain.contains('.') {
            return Err(invalid("the domain must contain a dot"));
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(invalid(
                "the domain must not start or end with a dot or have two dots in a row",
            ));
        }
        // The domain in Unicode: an ASCII-encoded (punycode) label decoded, so either
        // spelling finds the same account.
        let normalized = match normalized.split_once('@') {
            Some((local, domain)) if domain.split('.').any(|l| l.starts_with("xn--")) => {
                match idna::domain_to_unicode(domain) {
                    (unicode, Ok(())) => format!("{local}@{}", unicode.to_lowercase()),
                    (_, Err(_)) => normalized,
                }
            }
            _ => normalized,
        };
        Ok(Self {
            original: original.to_owned(),
            normalized,
        })
    }

    /// The address as its owner typed it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The whole address lowercased: the key for uniqueness and look-ups.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The part before the `@`, as typed.
    pub fn local_part(&self) -> &str {
        self.original.split_once('@').map_or("", |(local, _)| local)
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}

impl Eq for Email {}

impl Hash for Email {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

/// Masks the local part (`Email("a***@example.com")`): `Debug` output ends up in logs, and
/// logs carry no full personal data. Use [`Email::as_str`] where the address is needed.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (local, domain) = self
            .original
            .split_once('@')
            .unwrap_or(("", &self.original));
        let first = local.chars().next().unwrap_or('*');
        write!(f, "Email(\"{first}***@{domain}\")")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl std::str::FromStr for Email {
    type Err = AccountsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_parsed_string!(Email);

/// Trims `input` and checks its length in characters and that it has no control characters
/// (line breaks allowed only where `multiline`).
fn bounded_text(
    field: &'static str,
    input: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, AccountsError> {
    let text = input.trim();
    let len = text.chars().count();
    if len < min || len > max {
        return Err(AccountsError::invalid(
            field,
            format!("must be {min} to {max} characters long"),
        ));
    }
    let allowed = |c: char| multiline && (c == '\n' || c == '\r');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(AccountsError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

macro_rules! bounded_text_type {
    ($(#[$meta:meta])* $name:ident, $field:literal, $min:literal ..= $max:literal, multiline: $multiline:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub const MIN_LEN: usize = $min;
            pub const MAX_LEN: usize = $max;

            pub fn parse(input: &str) -> Result<Self, AccountsError> {
                bounded_text($field, input, $min, $max, $multiline).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = AccountsError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        serde_as_parsed_string!($name);
    };
}

bounded_text_type!(
    /// An organisation's legal name as it appears on invoices: 2 to 300 characters, trimmed.
    LegalName, "legal_name", 2..=300, multiline: false
);
bounded_text_type!(
    /// A person's name as they want to be addressed: 1 to 120 characters, trimmed.
    PersonName, "name", 1..=120, multiline: false
);
bounded_text_type!(
    /// The billing address, one free-text field (line breaks allowed): 5 to 500 characters.
    BillingAddress, "billing_address", 5..=500, multiline: true
);
bounded_text_type!(
    /// A label for an API key so its owner can tell keys apart: 1 to 100 characters.
    ApiKeyName, "name", 1..=100, multiline: false
);

/// The language of an organisation's documents (invoices, acts, mails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentLanguage {
    Ru,
    En,
}

impl DocumentLanguage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ru => "ru",
            Self::En => "en",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    fn reason_of(result: Result<Email, AccountsError>) -> String {
        match result {
            Err(AccountsError::Invalid {
                field: "email",
                reason,
            }) => reason,
            other => panic!("expected an invalid email, got {other:?}"),
        }
    }

    #[test]
    fn an_email_keeps_its_spelling_and_is_trimmed() {
        let e = email("  Ann.Lee@Example.COM \n");
        assert_eq!(e.as_str(), "Ann.Lee@Example.COM");
        assert_eq!(e.to_string(), "Ann.Lee@Example.COM");
        assert_eq!(e.normalized(), "ann.lee@example.com");
        assert_eq!(e.local_part(), "Ann.Lee");
    }

    #[test]
    fn an_internationalised_domain_is_one_address_in_unicode_or_punycode() {
        let unicode = email("owner@Ромашка.example.ru");
        let ascii = email("owner@xn--80aa3agjl3d.example.ru");
        assert_eq!(unicode.normalized(), "owner@ромашка.example.ru");
        assert_eq!(ascii.normalized(), unicode.normalized());
        assert_eq!(ascii, unicode);
        // As typed, for the mails we send.
        assert_eq!(ascii.as_str(), "owner@xn--80aa3agjl3d.example.ru");
    }

    #[test]
    fn an_email_masks_its_local_part_in_debug_output() {
        assert_eq!(
            format!("{:?}", email("Ann.Lee@Example.com")),
            r#"Email("A***@Example.com")"#
        );
    }

    #[test]
    fn email_is_unique_regardless_of_case() {
        let a = email("Ann@Example.com");
        let b = email("ann@EXAMPLE.COM");
        assert_eq!(a, b);
        let set: HashSet<Email> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_ne!(email("ann@example.com"), email("anna@example.com"));
    }

    #[test]
    fn an_email_without_an_at_or_with_two_is_refused() {
        assert!(reason_of(Email::parse("ann.example.com")).contains("@"));
        assert!(reason_of(Email::parse("ann@b@example.com")).contains("exactly one"));
    }

    #[test]
    fn an_email_needs_a_local_part_and_a_dotted_domain() {
        assert!(reason_of(Email::parse("@example.com")).contains("before the @"));
        assert!(reason_of(Email::parse("ann@localhost")).contains("dot"));
        assert!(reason_of(Email::parse("ann@.example.com")).contains("dot"));
        assert!(reason_of(Email::parse("ann@example.com.")).contains("dot"));
        assert!(reason_of(Email::parse("ann@example..com")).contains("dot"));
    }

    #[test]
    fn an_email_with_inner_whitespace_or_control_characters_is_refused() {
        assert!(reason_of(Email::parse("an n@example.com")).contains("whitespace"));
        assert!(reason_of(Email::parse("ann@exa\u{0}mple.com")).contains("control"));
        assert!(reason_of(Email::parse("   ")).contains("empty"));
    }

    #[test]
    fn an_email_longer_than_the_limits_is_refused() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(reason_of(Email::parse(&long_local)).contains("64"));
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
        let long_domain = format!("ann@{}.com", "d".repeat(247));
        assert_eq!(long_domain.len(), 255);
        assert!(reason_of(Email::parse(&long_domain)).contains("254"));
        assert!(Email::parse(&long_domain[1..]).is_ok());
        assert!(reason_of(Email::parse("a@")).contains("3 to 254"));
    }

    #[test]
    fn an_email_serializes_as_its_spelling_and_deserializes_through_the_rules() {
        let e = email("Ann@Example.com");
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"Ann@Example.com\"");
        let back: Email = serde_json::from_str("\" Ann@Example.com \"").unwrap();
        assert_eq!(back.as_str(), "Ann@Example.com");
        let err = serde_json::from_str::<Email>("\"not-an-email\"").unwrap_err();
        assert!(err.to_string().contains("email"));
    }

    #[test]
    fn names_and_addresses_are_trimmed_and_bounded_in_characters() {
        assert_eq!(
            LegalName::parse("  ООО «Ромашка» ").unwrap().as_str(),
            "ООО «Ромашка»"
        );
        assert!(LegalName::parse(" A ").is_err());
        // 300 Cyrillic letters are 600 bytes but 300 characters: allowed.
        assert!(LegalName::parse(&"Я".repeat(300)).is_ok());
        assert!(LegalName::parse(&"Я".repeat(301)).is_err());
        assert_eq!(PersonName::parse(" Ann ").unwrap().as_str(), "Ann");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"x".repeat(121)).is_err());
        assert!(BillingAddress::parse("Moscow,\nTverskaya 1").is_ok());
        assert!(BillingAddress::parse("Mos").is_err());
        assert!(BillingAddress::parse(&"x".repeat(501)).is_err());
    }

    #[test]
    fn a_name_error_names_the_field_and_the_bounds() {
        let err = LegalName::parse("A").unwrap_err();
        assert_eq!(err.field(), Some("legal_name"));
        assert_eq!(
            err.to_string(),
            "legal_name: must be 2 to 300 characters long"
        );
        let err = PersonName::parse("Ann\u{7}").unwrap_err();
        assert_eq!(err.to_string(), "name: must not contain control characters");
        assert!(LegalName::parse("Acme\nLtd").is_err());
    }

    #[test]
    fn document_language_serializes_as_its_code() {
        assert_eq!(
            serde_json::to_string(&DocumentLanguage::Ru).unwrap(),
            "\"ru\""
        );
        let en: DocumentLanguage = serde_json::from_str("\"en\"").unwrap();
        assert_eq!(en, DocumentLanguage::En);
        assert_eq!(en.as_str(), "en");
        assert!(serde_json::from_str::<DocumentLanguage>("\"de\"").is_err());
    }

    /// Valid addresses in mixed ASCII case.
    fn valid_email() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,30}(\\.[A-Za-z0-9-]{1,20}){1,3}"
    }

    proptest! {
        #[test]
        fn email_normalization_is_idempotent(raw in valid_email()) {
            let once = Email::parse(&raw).unwrap();
            let twice = Email::parse(once.normalized()).unwrap();
            prop_assert_eq!(once.normalized(), twice.normalized());
            prop_assert_eq!(twice.as_str(), twice.normalized());
            prop_assert_eq!(&once, &twice);
        }

        #[test]
        fn email_normalization_is_case_insensitive(raw in valid_email(), flips in proptest::collection::vec(any::<bool>(), 0..140)) {
            let flipped: String = raw
                .chars()
                .zip(flips.iter().chain(std::iter::repeat(&false)))
                .map(|(c, &flip)| if flip && c.is_ascii_lowercase() { c.to_ascii_uppercase() } else if flip { c.to_ascii_lowercase() } else { c })
                .collect();
            let a = Email::parse(&raw).unwrap();
            let b = Email::parse(&flipped).unwrap();
            prop_assert_eq!(a.normalized(), b.normalized());
            prop_assert_eq!(a, b);
        }

        #[test]
        fn any_string_either_parses_or_names_the_email_field(raw in "\\PC{0,80}") {
            if let Err(err) = Email::parse(&raw) {
                prop_assert_eq!(err.field(), Some("email"));
            }
        }
    }
}
