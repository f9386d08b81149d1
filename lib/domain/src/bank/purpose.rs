//! Which invoices a payment's purpose («Назначение платежа») names, as payers write them:
//! the full number in any spacing (`KPK-2026-000001`, `КПК 2026 1`, series typed in Cyrillic
//! look-alike letters), or after a word for an invoice (`сч.`, `счёт №`, `по счету`,
//! `invoice no.`) with or without the year. Matching the named numbers to the customer's
//! invoices is the caller's: here a number is only what the text says.

use regex_lite::Regex;
use std::sync::LazyLock;

/// An invoice a purpose names: its series and year where written, and its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedInvoice {
    pub series: Option<String>,
    pub year: Option<i32>,
    pub seq: u64,
}

/// `SERIES-YEAR-SEQ` in any spacing, on the text with look-alike letters made Latin.
static FULL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^A-Z0-9])([A-Z][A-Z0-9]{1,7})[\s\-_/]*(20\d{2})[\s\-_/]+(\d{1,6})(?:$|[^0-9])",
    )
    .expect("a valid pattern")
});

/// A word for an invoice, then a number (with the year before it, or not).
static AFTER_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:СЧ[ЕЁ]Т(?:У|А)?|СЧ\.?|INVOICE|INV\.?)\s*(?:№|N|#|NO\.?)?\s*(?:(20\d{2})[\s\-/]+)?(\d{1,6})(?:$|[^0-9.])",
    )
    .expect("a valid pattern")
});

/// Every invoice `purpose` names, in the order written, each once.
pub fn invoices_named(purpose: &str) -> Vec<NamedInvoice> {
    let upper = purpose.to_uppercase();
    let latin: String = upper.chars().map(latin_look_alike).collect();
    let mut named: Vec<NamedInvoice> = Vec::new();
    let mut push = |n: NamedInvoice| {
        let same = |m: &NamedInvoice| {
            m.seq == n.seq
                && (m.year.is_none() || n.year.is_none() || m.year == n.year)
                && (m.series.is_none() || n.series.is_none() || m.series == n.series)
        };
        if !named.iter().any(same) {
            named.push(n);
        }
    };
    for c in FULL.captures_iter(&latin) {
        let (Some(series), Some(year), Some(seq)) = (c.get(1), c.get(2), c.get(3)) else {
            continue;
        };
        if let (Ok(year), Ok(seq)) = (year.as_str().parse(), seq.as_str().parse()) {
            push(NamedInvoice {
                series: Some(series.as_str().to_owned()),
                year: Some(year),
                seq,
            });
        }
    }
    for c in AFTER_WORD.captures_iter(&upper) {
        let Some(seq) = c.get(2).and_then(|s| s.as_str().parse().ok()) else {
            continue;
        };
        push(NamedInvoice {
            series: None,
            year: c.get(1).and_then(|y| y.as_str().parse().ok()),
            seq,
        });
    }
    named
}

/// A Cyrillic capital that looks like a Latin one, as the Latin one (series typed on a
/// Russian keyboard); any other character as it is.
fn latin_look_alike(c: char) -> char {
    match c {
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(series: Option<&str>, year: Option<i32>, seq: u64) -> NamedInvoice {
        NamedInvoice {
            series: series.map(str::to_owned),
            year,
            seq,
        }
    }

    #[test]
    fn invoice_numbers_are_found_as_payers_write_them() {
        let kpk = |year, seq| n(Some("KPK"), Some(year), seq);
        let cases: Vec<(&str, Vec<NamedInvoice>)> = vec![
            (
                "Оплата по счету № KPK-2026-000001 от 01.12.2026, в т.ч. НДС 20%",
                vec![kpk(2026, 1)],
            ),
            ("оплата сч.КРК-2026-000012", vec![kpk(2026, 12)]), // Cyrillic К, Р, К
            ("invoice KPK 2026 42", vec![kpk(2026, 42)]),
            (
                "KPK-2026-000001, KPK-2026-000002 за ноябрь",
                vec![kpk(2026, 1), kpk(2026, 2)],
            ),
            ("по сч. 2026-000007 за ноябрь", vec![n(None, Some(2026), 7)]),
            ("Счёт №15 от 01.12.2026", vec![n(None, None, 15)]),
            ("счет 16", vec![n(None, None, 16)]),
            (
                "р/сч 40702810938000000001, сч. 3 и сч. 4",
                vec![n(None, None, 3), n(None, None, 4)],
            ),
            ("Invoice no. 9", vec![n(None, None, 9)]),
            ("Оплата по договору 17/2026, НДС 20%", vec![]),
            ("Оплата за услуги связи", vec![]),
            ("", vec![]),
        ];
        for (purpose, want) in cases {
            assert_eq!(invoices_named(purpose), want, "{purpose}");
        }
    }
}
