//! Decimals and dates as text, read strictly: the one grammar for every amount, quantity, rate
//! and day that enters the system, through the API or from storage.
//!
//! - A **decimal** is `-?DIGITS(.DIGITS)?`: no exponent (`1E3`), no sign `+`, no spaces, no
//!   leading zeros (`007`), no bare point (`.5`, `5.`), at most 28 significant digits. It is a
//!   JSON *string*, never a number, so no JSON reader turns it into a binary float.
//! - A **date** is `YYYY-MM-DD`, ten characters, a real calendar day: not `2026-12-6`,
//!   `+002026-12-31` or `"2026-12-31 "`.
//!
//! Use the serde modules with `#[serde(with = "…")]`: [`decimal`], [`decimal_option`],
//! [`price`], [`price_option`] (amounts of a price definition), [`date`], [`date_option`] (the `_option` ones with `#[serde(default)]` where the field may be absent).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::str::FromStr;

/// Reads a decimal in the strict grammar; the error says what is expected.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let expected = || {
        format!(
            "`{text}` is not a decimal: expected digits with an optional minus and fraction, e.g. \"12.50\""
        )
    };
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = whole.len() > 1 && whole.starts_with('0');
    if !digits(whole) || leading_zero || fraction.is_some_and(|f| !digits(f)) {
        return Err(expected());
    }
    Decimal::from_str(text).map_err(|_| format!("`{text}` has too many digits (at most 28)"))
}

/// Reads a date in the strict grammar.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(format!(
            "`{text}` is not a date: expected YYYY-MM-DD, e.g. \"2026-12-31\""
        ));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a day of the calendar"))
}

/// A decimal string (`#[serde(with = "kopek_domain::wire::decimal")]`).
pub mod decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::borrow::Cow;

    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        super::parse_decimal(&text).map_err(serde::de::Error::custom)
    }
}

/// An optional decimal string or `null`; it also reads a `null` that serde has buffered (inside
/// a tagged enum), which `rust_decimal`'s own option module cannot.
pub mod decimal_option {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    struct Text(#[serde(with = "super::decimal")] Decimal);

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<Text>::deserialize(d)?.map(|Text(value)| value))
    }
}

/// An amount or a unit price of a price definition: read as a [`decimal`], written with at
/// least the two places of a minor unit (the currencies billed in all have two) and no
/// trailing zero past them: `"2900"` and `"2900.00000"` are both written `"2900.00"`.
pub mod price {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    pub fn text(value: &Decimal) -> String {
        let mut value = value.normalize();
        if value.scale() < 2 {
            value.rescale(2);
        }
        value.to_string()
    }

    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        super::decimal::deserialize(d)
    }
}

/// An optional [`price`] amount, or `null`.
pub mod price_option {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&super::price::text(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        super::decimal_option::deserialize(d)
    }
}

/// A `YYYY-MM-DD` string (`#[serde(with = "kopek_domain::wire::date")]`).
pub mod date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::borrow::Cow;

    pub fn serialize<S: Serializer>(value: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&value.format("%Y-%m-%d"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        super::parse_date(&text).map_err(serde::de::Error::custom)
    }
}

/// An optional `YYYY-MM-DD` string or `null`.
pub mod date_option {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    struct Text(#[serde(with = "super::date")] NaiveDate);

    pub fn serialize<S: Serializer>(value: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::date::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        Ok(Option::<Text>::deserialize(d)?.map(|Text(value)| value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn plain_decimals_read_as_written() {
        for (text, value) in [
            ("0", dec!(0)),
            ("12", dec!(12)),
            ("12.50", dec!(12.50)),
            ("-0.01", dec!(-0.01)),
            ("0.000001", dec!(0.000001)),
            (
                "99999999999999999999999999.99",
                dec!(99999999999999999999999999.99),
            ),
        ] {
            assert_eq!(parse_decimal(text), Ok(value), "{text}");
            assert_eq!(parse_decimal(text).unwrap().to_string(), text, "{text}");
        }
    }

    #[test]
    fn anything_but_plain_digits_is_refused() {
        for text in [
            "", "1E3", "1e3", "+1", "-", " 1", "1 ", "1_000", "1,5", ".5", "5.", "007", "00.1",
            "--1", "0x10", "NaN", "inf", "1.2.3", "١٢",
        ] {
            let err = parse_decimal(text).unwrap_err();
            assert!(err.contains("not a decimal"), "{text}: {err}");
        }
        assert!(
            parse_decimal("123456789012345678901234567890")
                .unwrap_err()
                .contains("too many digits")
        );
    }

    #[test]
    fn price_amounts_are_written_with_at_least_two_places() {
        for (value, text) in [
            (dec!(2900), "2900.00"),
            (dec!(2900.00000), "2900.00"),
            (dec!(7.5), "7.50"),
            (dec!(2.0005), "2.0005"),
            (dec!(0), "0.00"),
        ] {
            assert_eq!(price::text(&value), text, "{value}");
        }
    }

    #[test]
    fn dates_are_ten_characters_and_a_real_day() {
        assert_eq!(
            parse_date("2026-12-31"),
            Ok(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap())
        );
        assert_eq!(
            parse_date("2028-02-29"),
            Ok(NaiveDate::from_ymd_opt(2028, 2, 29).unwrap())
        );
        for text in [
            "2026-12-6",
            "+002026-12-31",
            "2026-12-31 ",
            " 2026-12-31",
            "2026/12/31",
            "20261231",
            "2026-12-31T00:00:00Z",
            "26-12-31",
        ] {
            assert!(
                parse_date(text)
                    .unwrap_err()
                    .contains("expected YYYY-MM-DD"),
                "{text}"
            );
        }
        for text in ["2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31"] {
            assert!(
                parse_date(text).unwrap_err().contains("not a day"),
                "{text}"
            );
        }
    }

    #[test]
    fn the_serde_modules_read_strictly_and_write_what_they_read() {
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Wire {
            #[serde(with = "decimal")]
            amount: Decimal,
            #[serde(default, with = "decimal_option")]
            rate: Option<Decimal>,
            #[serde(with = "date")]
            on: NaiveDate,
            #[serde(default, with = "date_option")]
            until: Option<NaiveDate>,
        }
        let json = r#"{"amount":"10.50","rate":null,"on":"2026-12-06","until":"2027-01-31"}"#;
        let wire: Wire = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&wire).unwrap(), json);
        let absent: Wire = serde_json::from_str(r#"{"amount":"1","on":"2026-12-06"}"#).unwrap();
        assert_eq!((absent.rate, absent.until), (None, None));
        for bad in [
            r#"{"amount":"1E3","on":"2026-12-06"}"#,
            r#"{"amount":1000,"on":"2026-12-06"}"#,
            r#"{"amount":"1","rate":"+1","on":"2026-12-06"}"#,
            r#"{"amount":"1","on":"2026-12-6"}"#,
            r#"{"amount":"1","on":"2026-12-06","until":"+002027-01-31"}"#,
        ] {
            assert!(serde_json::from_str::<Wire>(bad).is_err(), "{bad}");
        }
    }
}
