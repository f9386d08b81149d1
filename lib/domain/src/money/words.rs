//! An amount of money in words, as a document's total is written out: «Двадцать шесть тысяч
//! девятьсот шестьдесят два рубля 16 копеек», "Twenty-six thousand nine hundred sixty-two
//! roubles and 16 kopecks".
//!
//! The whole units are written in words, the minor units in two digits with their noun, both
//! nouns agreeing with their number. Russian agrees by the last two digits: 1 (but not 11)
//! takes the singular, 2–4 (but not 12–14) the paucal form, everything else the genitive
//! plural (рубль, рубля, рублей); the grammatical gender of the counted noun picks один/одна
//! and два/две (тысяча and копейка are feminine: «одна тысяча», «две копейки»). The amount is
//! first rounded to minor units by the rounding policy; a negative amount is preceded by
//! «минус» / "minus". Scales go up to trillions (10¹⁵), far above any amount the system
//! accepts.

use super::{Currency, Money};
use crate::catalog::Lang;
use rust_decimal::prelude::ToPrimitive;

/// The amount in words in `lang`, capitalised.
pub fn in_words(amount: Money, lang: Lang) -> String {
    let rounded = amount.round_to_minor();
    let value = rounded.amount();
    let negative = value.is_sign_negative() && !value.is_zero();
    let absolute = value.abs();
    let whole = absolute.trunc().to_u128().unwrap_or(0);
    let minor = ((absolute - absolute.trunc()) * rust_decimal::Decimal::from(100))
        .round()
        .to_u32()
        .unwrap_or(0);
    let currency = rounded.currency();
    let text = match lang {
        Lang::Ru => russian(whole, minor, currency, negative),
        Lang::En => english(whole, minor, currency, negative),
    };
    capitalise(&text)
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

// --- Russian -------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Gender {
    Masculine,
    Feminine,
}

/// A noun's three forms: for 1, for 2–4, for 5–20 (and 0).
type Forms = [&'static str; 3];

/// Which of a noun's [`Forms`] goes with `n`.
fn form(n: u128, forms: &Forms) -> &'static str {
    let (last_two, last) = (n % 100, n % 10);
    if (11..=14).contains(&last_two) {
        forms[2]
    } else if last == 1 {
        forms[0]
    } else if (2..=4).contains(&last) {
        forms[1]
    } else {
        forms[2]
    }
}

fn russian_nouns(currency: Currency) -> ((Forms, Gender), Forms) {
    match currency {
        Currency::RUB => (
            (["рубль", "рубля", "рублей"], Gender::Masculine),
            ["копейка", "копейки", "копеек"],
        ),
        Currency::USD => (
            (
                ["доллар США", "доллара США", "долларов США"],
                Gender::Masculine,
            ),
            ["цент", "цента", "центов"],
        ),
        Currency::EUR => (
            (["евро", "евро", "евро"], Gender::Masculine),
            ["цент", "цента", "центов"],
        ),
    }
}

/// 1 to 999 in words, `gender` deciding один/одна and два/две.
fn russian_triple(n: u128, gender: Gender) -> Vec<&'static str> {
    const HUNDREDS: [&str; 10] = [
        "",
        "сто",
        "двести",
        "триста",
        "четыреста",
        "пятьсот",
        "шестьсот",
        "семьсот",
        "восемьсот",
        "девятьсот",
    ];
    const TENS: [&str; 10] = [
        "",
        "",
        "двадцать",
        "тридцать",
        "сорок",
        "пятьдесят",
        "шестьдесят",
        "семьдесят",
        "восемьдесят",
        "девяносто",
    ];
    const TEENS: [&str; 10] = [
        "десять",
        "одиннадцать",
        "двенадцать",
        "тринадцать",
        "четырнадцать",
        "пятнадцать",
        "шестнадцать",
        "семнадцать",
        "восемнадцать",
        "девятнадцать",
    ];
    const UNITS: [&str; 10] = [
        "",
        "один",
        "два",
        "три",
        "четыре",
        "пять",
        "шесть",
        "семь",
        "восемь",
        "девять",
    ];
    let mut words = Vec::new();
    let (h, t, u) = (
        (n / 100) as usize,
        (n / 10 % 10) as usize,
        (n % 10) as usize,
    );
    if h > 0 {
        words.push(HUNDREDS[h]);
    }
    match t {
        1 => words.push(TEENS[u]),
        _ => {
            if t > 1 {
                words.push(TENS[t]);
            }
            match (u, gender) {
                (0, _) => {}
                (1, Gender::Feminine) => words.push("одна"),
                (2, Gender::Feminine) => words.push("две"),
                _ => words.push(UNITS[u]),
            }
        }
    }
    words
}

fn russian(whole: u128, minor: u32, currency: Currency, negative: bool) -> String {
    const SCALES: [(Forms, Gender); 4] = [
        (["тысяча", "тысячи", "тысяч"], Gender::Feminine),
        (["миллион", "миллиона", "миллионов"], Gender::Masculine),
        (["миллиард", "миллиарда", "миллиардов"], Gender::Masculine),
        (["триллион", "триллиона", "триллионов"], Gender::Masculine),
    ];
    let ((unit_forms, unit_gender), minor_forms) = russian_nouns(currency);
    let mut words: Vec<&str> = Vec::new();
    if negative {
        words.push("минус");
    }
    if whole == 0 {
        words.push("ноль");
    } else {
        let triples = triples(whole);
        for (scale, &triple) in triples.iter().enumerate().rev() {
            if triple == 0 {
                continue;
            }
            if scale == 0 {
                words.extend(russian_triple(triple, unit_gender));
            } else {
                let (forms, gender) = SCALES.get(scale - 1).copied().unwrap_or(SCALES[3]);
                words.extend(russian_triple(triple, gender));
                words.push(form(triple, &forms));
            }
        }
    }
    let minor_count = u128::from(minor);
    format!(
        "{} {} {minor:02} {}",
        words.join(" "),
        form(whole, &unit_forms),
        form(minor_count, &minor_forms)
    )
}

/// `n` in groups of three digits, the lowest first.
fn triples(mut n: u128) -> Vec<u128> {
    let mut groups = Vec::new();
    while n > 0 {
        groups.push(n % 1000);
        n /= 1000;
    }
    groups
}

// --- English -------------------------------------------------------------------------------

fn english_triple(n: u128) -> String {
    const UNITS: [&str; 20] = [
        "",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let (h, rest) = ((n / 100) as usize, (n % 100) as usize);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{} hundred", UNITS[h]));
    }
    match rest {
        0 => {}
        1..=19 => parts.push(UNITS[rest].to_owned()),
        _ if rest % 10 == 0 => parts.push(TENS[rest / 10].to_owned()),
        _ => parts.push(format!("{}-{}", TENS[rest / 10], UNITS[rest % 10])),
    }
    parts.join(" ")
}

fn english(whole: u128, minor: u32, currency: Currency, negative: bool) -> String {
    const SCALES: [&str; 5] = ["", "thousand", "million", "billion", "trillion"];
    let (unit, units, cent, cents) = match currency {
        Currency::RUB => ("rouble", "roubles", "kopeck", "kopecks"),
        Currency::USD => ("US dollar", "US dollars", "cent", "cents"),
        Currency::EUR => ("euro", "euros", "cent", "cents"),
    };
    let mut words = Vec::new();
    if negative {
        words.push("minus".to_owned());
    }
    if whole == 0 {
        words.push("zero".to_owned());
    } else {
        for (scale, &triple) in triples(whole).iter().enumerate().rev() {
            if triple == 0 {
                continue;
            }
            let name = SCALES.get(scale).copied().unwrap_or("trillion");
            let triple = english_triple(triple);
            words.push(if name.is_empty() {
                triple
            } else {
                format!("{triple} {name}")
            });
        }
    }
    format!(
        "{} {} and {minor:02} {}",
        words.join(" "),
        if whole == 1 { unit } else { units },
        if minor == 1 { cent } else { cents }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn words(amount: &str, currency: Currency, lang: Lang) -> String {
        in_words(
            Money::new(Decimal::from_str(amount).unwrap(), currency),
            lang,
        )
    }

    #[test]
    fn russian_roubles_agree_with_their_numbers() {
        for (amount, expected) in [
            (
                "26962.16",
                "Двадцать шесть тысяч девятьсот шестьдесят два рубля 16 копеек",
            ),
            ("0", "Ноль рублей 00 копеек"),
            ("0.01", "Ноль рублей 01 копейка"),
            ("0.02", "Ноль рублей 02 копейки"),
            ("0.05", "Ноль рублей 05 копеек"),
            ("0.11", "Ноль рублей 11 копеек"),
            ("0.21", "Ноль рублей 21 копейка"),
            ("1", "Один рубль 00 копеек"),
            ("2", "Два рубля 00 копеек"),
            ("4.04", "Четыре рубля 04 копейки"),
            ("5", "Пять рублей 00 копеек"),
            ("11", "Одиннадцать рублей 00 копеек"),
            ("12", "Двенадцать рублей 00 копеек"),
            ("14", "Четырнадцать рублей 00 копеек"),
            ("21", "Двадцать один рубль 00 копеек"),
            ("22", "Двадцать два рубля 00 копеек"),
            ("111", "Сто одиннадцать рублей 00 копеек"),
            ("1000", "Одна тысяча рублей 00 копеек"),
            ("2000", "Две тысячи рублей 00 копеек"),
            ("5000", "Пять тысяч рублей 00 копеек"),
            ("11000", "Одиннадцать тысяч рублей 00 копеек"),
            ("21000", "Двадцать одна тысяча рублей 00 копеек"),
            ("22000", "Двадцать две тысячи рублей 00 копеек"),
            ("1001", "Одна тысяча один рубль 00 копеек"),
            ("1000000", "Один миллион рублей 00 копеек"),
            ("2000000", "Два миллиона рублей 00 копеек"),
            ("5000000", "Пять миллионов рублей 00 копеек"),
            ("1002003.99", "Один миллион две тысячи три рубля 99 копеек"),
            ("1000000000", "Один миллиард рублей 00 копеек"),
            (
                "999999999.99",
                "Девятьсот девяносто девять миллионов девятьсот девяносто девять тысяч девятьсот девяносто девять рублей 99 копеек",
            ),
            ("12000.00", "Двенадцать тысяч рублей 00 копеек"),
            ("100.50", "Сто рублей 50 копеек"),
            ("-150.00", "Минус сто пятьдесят рублей 00 копеек"),
        ] {
            assert_eq!(words(amount, Currency::RUB, Lang::Ru), expected, "{amount}");
        }
    }

    #[test]
    fn other_currencies_have_their_own_nouns_in_russian() {
        assert_eq!(
            words("1.01", Currency::USD, Lang::Ru),
            "Один доллар США 01 цент"
        );
        assert_eq!(
            words("3.02", Currency::USD, Lang::Ru),
            "Три доллара США 02 цента"
        );
        assert_eq!(
            words("25.11", Currency::EUR, Lang::Ru),
            "Двадцать пять евро 11 центов"
        );
        assert_eq!(words("1", Currency::EUR, Lang::Ru), "Один евро 00 центов");
    }

    #[test]
    fn english_amounts_read_as_a_cheque_does() {
        for (amount, currency, expected) in [
            (
                "26962.16",
                Currency::RUB,
                "Twenty-six thousand nine hundred sixty-two roubles and 16 kopecks",
            ),
            ("0", Currency::RUB, "Zero roubles and 00 kopecks"),
            ("1.01", Currency::RUB, "One rouble and 01 kopeck"),
            ("15", Currency::USD, "Fifteen US dollars and 00 cents"),
            ("1000000", Currency::EUR, "One million euros and 00 cents"),
            (
                "1002003.40",
                Currency::EUR,
                "One million two thousand three euros and 40 cents",
            ),
            (
                "110",
                Currency::RUB,
                "One hundred ten roubles and 00 kopecks",
            ),
            (
                "-20.5",
                Currency::USD,
                "Minus twenty US dollars and 50 cents",
            ),
        ] {
            assert_eq!(words(amount, currency, Lang::En), expected, "{amount}");
        }
    }

    #[test]
    fn an_amount_is_rounded_to_minor_units_by_the_policy_first() {
        assert_eq!(
            words("0.005", Currency::RUB, Lang::Ru),
            "Ноль рублей 01 копейка"
        );
        assert_eq!(
            words("1.999", Currency::RUB, Lang::En),
            "Two roubles and 00 kopecks"
        );
    }
}
