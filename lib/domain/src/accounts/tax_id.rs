//! Tax identification numbers: Russian INN (checksum verified) or EU-style VAT numbers.

use std::fmt;

use super::AccountsError;

/// Which scheme a [`TaxId`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxIdKind {
    /// A Russian INN of a legal entity: 10 digits, one check digit.
    InnLegalEntity,
    /// A Russian INN of an individual (sole proprietor): 12 digits, two check digits.
    InnIndividual,
    /// An EU-style VAT number: two-letter country prefix, then 2 to 13 letters or digits.
    Vat,
}

/// A tax identification number, validated and in canonical form (no spaces, upper case).
///
/// A value made only of digits is a Russian INN and must have 10 or 12 digits and correct
/// check digits (the Federal Tax Service's published weights); anything else must look like
/// an EU VAT number, `^[A-Z]{2}[A-Z0-9]{2,13}$` after trimming, removing spaces and
/// upper-casing. The VAT check is structural only: its per-country checksums are not
/// verified here.
///
/// The INN checksum is `weighted sum mod 11 mod 10`, so remainders 10 and 0 both give check
/// digit 0: a typo that moves the remainder between them is not caught. That is the
/// algorithm's limit, not this parser's; every other single-digit typo is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaxId {
    value: String,
    kind: TaxIdKind,
}

const FIELD: &str = "tax_id";

const INN10_WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12_WEIGHTS_11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12_WEIGHTS_12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// One INN check digit: the weighted sum of the preceding digits, mod 11, mod 10.
fn inn_check_digit(digits: &[u32], weights: &[u32]) -> u32 {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    sum % 11 % 10
}

/// The check digits an INN body needs: one for 9 body digits, two for 10.
fn inn_check_digits(body: &[u32]) -> Vec<u32> {
    match body.len() {
        9 => vec![inn_check_digit(body, &INN10_WEIGHTS)],
        10 => {
            let first = inn_check_digit(body, &INN12_WEIGHTS_11);
            let mut with_first = body.to_vec();
            with_first.push(first);
            vec![first, inn_check_digit(&with_first, &INN12_WEIGHTS_12)]
        }
        _ => Vec::new(),
    }
}

impl TaxId {
    pub fn parse(input: &str) -> Result<Self, AccountsError> {
        let compact: String = input.trim().chars().filter(|c| *c != ' ').collect();
        if compact.is_empty() {
            return Err(AccountsError::invalid(FIELD, "must not be empty"));
        }
        if compact.chars().all(|c| c.is_ascii_digit()) {
            Self::parse_inn(compact)
        } else {
            Self::parse_vat(compact.to_uppercase())
        }
    }

    /// The INN whose body (before the check digits) is `body`: 9 digits for a legal entity,
    /// 10 for an individual; the check digits are computed and appended. For demo and test
    /// data that must pass [`TaxId::parse`].
    pub fn inn_completing(body: &str) -> Result<Self, AccountsError> {
        if !(body.len() == 9 || body.len() == 10) || !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AccountsError::invalid(
                FIELD,
                "an INN body has 9 or 10 digits",
            ));
        }
        let digits: Vec<u32> = body.chars().filter_map(|c| c.to_digit(10)).collect();
        let check: String = inn_check_digits(&digits)
            .iter()
            .filter_map(|d| char::from_digit(*d, 10))
            .collect();
        Self::parse_inn(format!("{body}{check}"))
    }

    fn parse_inn(digits_text: String) -> Result<Self, AccountsError> {
        let (kind, body_len) = match digits_text.len() {
            10 => (TaxIdKind::InnLegalEntity, 9),
            12 => (TaxIdKind::InnIndividual, 10),
            _ => {
                return Err(AccountsError::invalid(
                    FIELD,
                    "an INN must have 10 or 12 digits",
                ));
            }
        };
        let digits: Vec<u32> = digits_text.chars().filter_map(|c| c.to_digit(10)).collect();
        let (body, check) = digits.split_at(body_len);
        if inn_check_digits(body) != check {
            return Err(AccountsError::invalid(
                FIELD,
                "the INN check digits do not match",
            ));
        }
        Ok(Self {
            value: digits_text,
            kind,
        })
    }

    fn parse_vat(value: String) -> Result<Self, AccountsError> {
        let bytes = value.as_bytes();
        let well_formed = (4..=15).contains(&bytes.len())
            && bytes[..2].iter().all(u8::is_ascii_uppercase)
            && bytes[2..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !well_formed {
            return Err(AccountsError::invalid(
                FIELD,
                "must be an INN of 10 or 12 digits, or a VAT number: two letters followed by \
                 2 to 13 letters or digits",
            ));
        }
        Ok(Self {
            value,
            kind: TaxIdKind::Vat,
        })
    }

    /// The canonical form: digits for an INN, upper-case letters and digits for VAT.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn kind(&self) -> TaxIdKind {
        self.kind
    }

    /// True for a Russian INN (10 or 12 digits).
    pub fn is_inn(&self) -> bool {
        self.kind != TaxIdKind::Vat
    }
}

impl fmt::Display for TaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl std::str::FromStr for TaxId {
    type Err = AccountsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_parsed_string!(TaxId);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reason(input: &str) -> String {
        match TaxId::parse(input) {
            Err(AccountsError::Invalid {
                field: "tax_id",
                reason,
            }) => reason,
            other => panic!("expected {input:?} to be refused, got {other:?}"),
        }
    }

    #[test]
    fn real_ten_digit_inns_are_accepted() {
        // Sberbank, Gazprom, Yandex.
        for inn in ["7707083893", "7736050003", "7736207543"] {
            let id = TaxId::parse(inn).unwrap();
            assert_eq!(id.as_str(), inn);
            assert_eq!(id.kind(), TaxIdKind::InnLegalEntity);
            assert!(id.is_inn());
        }
    }

    #[test]
    fn a_real_twelve_digit_inn_is_accepted() {
        let id = TaxId::parse("500100732259").unwrap();
        assert_eq!(id.kind(), TaxIdKind::InnIndividual);
    }

    #[test]
    fn an_inn_with_spaces_around_and_inside_is_compacted() {
        assert_eq!(
            TaxId::parse(" 7707 083 893 ").unwrap().as_str(),
            "7707083893"
        );
    }

    #[test]
    fn an_inn_with_a_wrong_check_digit_names_the_checksum_rule() {
        assert!(reason("7707083894").contains("check digits"));
        assert!(reason("500100732258").contains("check digits"));
        assert!(reason("500100732269").contains("check digits"));
    }

    #[test]
    fn an_all_digit_value_of_another_length_names_the_length_rule() {
        assert!(reason("770708389").contains("10 or 12 digits"));
        assert!(reason("77070838931").contains("10 or 12 digits"));
    }

    #[test]
    fn the_inn_checksum_cannot_tell_remainder_ten_from_zero() {
        // The bodies differ in one digit; their weighted sums are 10 and 0 mod 11, both give
        // check digit 0, so both are valid INNs by the published algorithm.
        assert_eq!(remainders("7607083890"), vec![10]);
        assert_eq!(remainders("7907083890"), vec![0]);
        assert!(TaxId::parse("7607083890").is_ok());
        assert!(TaxId::parse("7907083890").is_ok());
    }

    #[test]
    fn vat_numbers_are_upper_cased_and_compacted() {
        let id = TaxId::parse(" de 123 456 789 ").unwrap();
        assert_eq!(id.as_str(), "DE123456789");
        assert_eq!(id.kind(), TaxIdKind::Vat);
        assert!(!id.is_inn());
        assert!(TaxId::parse("ATU12345678").is_ok());
        assert!(TaxId::parse("NL123456789B01").is_ok());
    }

    #[test]
    fn malformed_vat_numbers_name_the_vat_rule() {
        for bad in [
            "D1234",
            "DE1",
            "1E123456",
            "DE-123456",
            "DE12345678901234",
            "ÄB1234",
        ] {
            assert!(reason(bad).contains("VAT number"), "{bad}");
        }
        assert!(reason("  ").contains("empty"));
    }

    #[test]
    fn a_tax_id_round_trips_through_json() {
        let id = TaxId::parse("7707083893").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"7707083893\"");
        assert_eq!(serde_json::from_str::<TaxId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<TaxId>("\"7707083894\"").is_err());
    }

    fn change_digit(inn: &str, position: usize, delta: u8) -> String {
        let mut bytes = inn.as_bytes().to_vec();
        bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
        String::from_utf8(bytes).unwrap()
    }

    /// The weighted sums mod 11 behind each check digit, from the published weights.
    fn remainders(inn: &str) -> Vec<u32> {
        let d: Vec<u32> = inn.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let rem = |weights: &[u32]| d.iter().zip(weights).map(|(a, b)| a * b).sum::<u32>() % 11;
        if d.len() == 10 {
            vec![rem(&INN10_WEIGHTS)]
        } else {
            vec![rem(&INN12_WEIGHTS_11), rem(&INN12_WEIGHTS_12)]
        }
    }

    /// A valid INN of 10 or 12 digits, built by computing its check digits.
    fn valid_inn() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(0u32..10, 9),
            proptest::collection::vec(0u32..10, 10),
        ]
        .prop_map(|mut digits| {
            let check = inn_check_digits(&digits);
            digits.extend(check);
            digits
                .iter()
                .filter_map(|d| char::from_digit(*d, 10))
                .collect()
        })
    }

    #[test]
    fn an_inn_is_completed_with_its_check_digits() {
        // 7707083893 is a published legal-entity INN; 500100732259 an individual's.
        assert_eq!(
            TaxId::inn_completing("770708389").unwrap().as_str(),
            "7707083893"
        );
        let person = TaxId::inn_completing("5001007322").unwrap();
        assert_eq!(person.as_str(), "500100732259");
        assert_eq!(person.kind(), TaxIdKind::InnIndividual);
        assert!(TaxId::inn_completing("77070838").is_err());
        assert!(TaxId::inn_completing("77070838x").is_err());
    }

    proptest! {
        #[test]
        fn any_inn_with_correct_check_digits_parses(inn in valid_inn()) {
            let id = TaxId::parse(&inn).unwrap();
            prop_assert_eq!(id.as_str(), inn.as_str());
            prop_assert!(id.is_inn());
        }

        #[test]
        fn changing_a_check_digit_of_a_valid_inn_always_fails(
            inn in valid_inn(),
            which in 0usize..2,
            delta in 1u8..10,
        ) {
            let body_len = if inn.len() == 10 { 9 } else { 10 };
            let position = (body_len + which).min(inn.len() - 1);
            let err = TaxId::parse(&change_digit(&inn, position, delta)).unwrap_err();
            prop_assert_eq!(err.field(), Some("tax_id"));
        }

        /// A changed body digit is caught unless it moves every remainder between 0 and 10
        /// (about 2 changes in 110 for a 10-digit INN), the algorithm's blind spot.
        #[test]
        fn changing_a_body_digit_of_a_valid_inn_fails_unless_the_remainder_wraps(
            inn in valid_inn(),
            position in any::<prop::sample::Index>(),
            delta in 1u8..10,
        ) {
            let body_len = if inn.len() == 10 { 9 } else { 10 };
            let changed = change_digit(&inn, position.index(body_len), delta);
            let wraps = remainders(&inn)
                .into_iter()
                .zip(remainders(&changed))
                .all(|(before, after)| before.min(after) == 0 && before.max(after) == 10);
            prop_assert_eq!(TaxId::parse(&changed).is_ok(), wraps);
        }
    }
}

/// A KPP (tax registration reason code) of a Russian legal entity: 4 digits, 2 digits or
/// capital letters, 3 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kpp(String);

impl Kpp {
    pub fn parse(text: &str) -> Result<Self, AccountsError> {
        let text = text.trim();
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 9
            && bytes.iter().enumerate().all(|(i, b)| match i {
                4 | 5 => b.is_ascii_digit() || b.is_ascii_uppercase(),
                _ => b.is_ascii_digit(),
            });
        if !shaped {
            return Err(AccountsError::invalid(
                "kpp",
                "a KPP is 9 characters: 4 digits, 2 digits or capital letters, 3 digits",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// `text` as the KPP of an organisation with `tax_id`: only a Russian legal entity (a
    /// 10-digit INN) has one.
    pub fn of(text: &str, tax_id: &TaxId) -> Result<Self, AccountsError> {
        let kpp = Self::parse(text)?;
        if tax_id.kind() != TaxIdKind::InnLegalEntity {
            return Err(AccountsError::invalid(
                "kpp",
                "only a Russian legal entity (10-digit INN) has a KPP",
            ));
        }
        Ok(kpp)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kpp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_parsed_string!(Kpp);
