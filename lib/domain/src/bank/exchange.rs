//! The `1CClientBankExchange` text format (versions 1.02 and 1.03): the statement a Russian
//! bank's client software writes for the accounting system.
//!
//! A file is lines of `Key=Value`: the first line `1CClientBankExchange`, a header
//! (`ВерсияФормата`, `Кодировка`, the dates and accounts it covers), one
//! `СекцияРасчСчет` … `КонецРасчСчет` per account with its balances, one
//! `СекцияДокумент=<kind>` … `КонецДокумента` per payment, and `КонецФайла`. `Кодировка`
//! says how it is encoded: `Windows` (windows-1251) or `DOS` (cp866); the key itself is found
//! in either encoding before the file is decoded.
//!
//! [`parse`] reads a whole file or refuses it with the first error, naming its 1-based line
//! and key ([`ExchangeError`]); it never panics, whatever the bytes. Amounts are positive
//! decimals with at most two places and at most [`MAX_AMOUNT`]; dates are `ДД.ММ.ГГГГ`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use encoding_rs::{Encoding, IBM866, WINDOWS_1251};
use rust_decimal::Decimal;

/// The largest amount a statement line may carry: a trillion roubles, far above any real
/// payment of this business and far below what arithmetic could overflow.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// The largest file read, in bytes (a year of a busy account is a few megabytes).
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

/// Why a file is refused (the statement error of every format).
pub use super::StatementError as ExchangeError;

/// How the file was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEncoding {
    /// `Кодировка=Windows`: windows-1251.
    Windows,
    /// `Кодировка=DOS`: cp866.
    Dos,
}

/// The balances of one account over the statement's dates (in roubles: the format names no
/// currency).
pub use super::Balances as AccountSection;

/// One payment document of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeDocument {
    /// Where its section starts.
    pub line: usize,
    /// `Платежное поручение`, `Банковский ордер`, …
    pub kind: String,
    pub number: String,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub payer_account: String,
    pub payer_name: String,
    pub payer_inn: Option<String>,
    pub payer_kpp: Option<String>,
    pub payee_account: String,
    pub payee_name: String,
    pub payee_inn: Option<String>,
    /// When the money reached the payee's account (a credit of the statement's account).
    pub received_on: Option<NaiveDate>,
    /// When it left the payer's account (a debit of the statement's account).
    pub written_off_on: Option<NaiveDate>,
    /// `НазначениеПлатежа`: what the payment is for, as the payer wrote it.
    pub purpose: String,
}

/// A parsed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub version: String,
    pub encoding: FileEncoding,
    /// The header's keys and values, as written (`Отправитель`, `ДатаНачала`, …).
    pub header: BTreeMap<String, String>,
    pub accounts: Vec<AccountSection>,
    pub documents: Vec<ExchangeDocument>,
}

/// The statement in `bytes`, or the first error, naming its line and key.
pub fn parse(bytes: &[u8]) -> Result<Exchange, ExchangeError> {
    let error = |line: usize, key: Option<&str>, reason: &str| ExchangeError {
        line,
        key: key.map(str::to_owned),
        reason: reason.to_owned(),
    };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(error(1, None, "the file is larger than 32 MiB"));
    }
    let encoding = detect(bytes);
    let (text, _, malformed) = match encoding {
        FileEncoding::Windows => WINDOWS_1251,
        FileEncoding::Dos => IBM866,
    }
    .decode(bytes);
    if malformed {
        return Err(error(1, None, "the file is not text in its encoding"));
    }
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_start_matches('\u{feff}')));
    match lines.next() {
        Some((_, first)) if first.trim() == "1CClientBankExchange" => {}
        _ => {
            return Err(error(
                1,
                None,
                "the first line must be 1CClientBankExchange",
            ));
        }
    }

    let mut header = BTreeMap::new();
    let mut accounts = Vec::new();
    let mut documents = Vec::new();
    let mut ended = false;
    let mut section: Option<Section> = None;
    for (no, raw) in lines.by_ref() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if ended {
            return Err(error(no, None, "nothing may follow КонецФайла"));
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line, ""),
        };
        match (&mut section, key) {
            (None, "КонецФайла") => ended = true,
            (None, "СекцияРасчСчет") => {
                section = Some(Section::new(no, Kind::Account, ""))
            }
            (None, "СекцияДокумент") => {
                if value.is_empty() {
                    return Err(error(no, Some(key), "names the kind of document"));
                }
                section = Some(Section::new(no, Kind::Document, value));
            }
            (None, _) if line.contains('=') => {
                header.insert(key.to_owned(), value.to_owned());
            }
            (None, _) => return Err(error(no, Some(key), "is no key of the header")),
            (Some(s), "КонецРасчСчет") if s.kind == Kind::Account => {
                accounts.push(s.account()?);
                section = None;
            }
            (Some(s), "КонецДокумента") if s.kind == Kind::Document => {
                documents.push(s.document()?);
                section = None;
            }
            (
                Some(s),
                "КонецРасчСчет"
                | "КонецДокумента"
                | "СекцияРасчСчет"
                | "СекцияДокумент"
                | "КонецФайла",
            ) => {
                return Err(error(
                    no,
                    Some(key),
                    &format!("the section opened on line {} is not closed", s.line),
                ));
            }
            (Some(s), _) => {
                if !line.contains('=') {
                    return Err(error(no, Some(key), "is not Key=Value"));
                }
                s.fields.insert(key.to_owned(), (no, value.to_owned()));
            }
        }
    }
    if let Some(s) = section {
        return Err(error(
            s.line,
            None,
            "the section is not closed before the file ends",
        ));
    }
    if !ended {
        return Err(error(
            text.split('\n').count(),
            None,
            "the file does not end with КонецФайла",
        ));
    }
    let version = header.get("ВерсияФормата").cloned().unwrap_or_default();
    if !matches!(version.as_str(), "1.02" | "1.03") {
        return Err(error(2, Some("ВерсияФормата"), "must be 1.02 or 1.03"));
    }
    Ok(Exchange {
        version,
        encoding,
        header,
        accounts,
        documents,
    })
}

/// Which encoding the file says it is in: `Кодировка=DOS` found as cp866 bytes, else
/// windows-1251.
fn detect(bytes: &[u8]) -> FileEncoding {
    let (dos, _, _) = IBM866.encode("Кодировка=DOS");
    let (dos_key, _, _) = IBM866.encode("Кодировка=");
    let windows_key = encoded(WINDOWS_1251, "Кодировка=");
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if has(&dos) || (has(&dos_key) && !has(&windows_key)) {
        FileEncoding::Dos
    } else {
        FileEncoding::Windows
    }
}

fn encoded(encoding: &'static Encoding, text: &str) -> Vec<u8> {
    encoding.encode(text).0.into_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Account,
    Document,
}

/// A section being read: its keys with the line of each.
struct Section {
    line: usize,
    kind: Kind,
    name: String,
    fields: BTreeMap<String, (usize, String)>,
}

impl Section {
    fn new(line: usize, kind: Kind, name: &str) -> Self {
        Self {
            line,
            kind,
            name: name.to_owned(),
            fields: BTreeMap::new(),
        }
    }

    fn missing(&self, key: &str) -> ExchangeError {
        ExchangeError {
            line: self.line,
            key: Some(key.to_owned()),
            reason: "is missing from the section".into(),
        }
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, key: &str) -> Result<String, ExchangeError> {
        self.text(key)
            .map(str::to_owned)
            .ok_or_else(|| self.missing(key))
    }

    fn date(&self, key: &str) -> Result<Option<NaiveDate>, ExchangeError> {
        match self.fields.get(key) {
            Some((line, v)) if !v.is_empty() => NaiveDate::parse_from_str(v, "%d.%m.%Y")
                .map(Some)
                .map_err(|_| ExchangeError {
                    line: *line,
                    key: Some(key.to_owned()),
                    reason: format!("`{v}` is no date ДД.ММ.ГГГГ"),
                }),
            _ => Ok(None),
        }
    }

    /// An amount; `positive`: above zero (a payment), else zero or more (a balance).
    fn amount(&self, key: &str, positive: bool) -> Result<Decimal, ExchangeError> {
        let Some((line, v)) = self.fields.get(key) else {
            return Err(self.missing(key));
        };
        let bad = |reason: String| ExchangeError {
            line: *line,
            key: Some(key.to_owned()),
            reason,
        };
        let amount: Decimal = v
            .replace(',', ".")
            .parse()
            .map_err(|_| bad(format!("`{v}` is no amount")))?;
        if amount.scale() > 2 {
            return Err(bad(format!("`{v}` has more than two decimal places")));
        }
        if amount.is_sign_negative() || (positive && amount.is_zero()) {
            return Err(bad(format!("`{v}` must be above zero")));
        }
        if amount > MAX_AMOUNT {
            return Err(bad(format!("`{v}` is more than {MAX_AMOUNT}")));
        }
        Ok(amount)
    }

    fn account(&self) -> Result<AccountSection, ExchangeError> {
        Ok(AccountSection {
            line: self.line,
            currency: None,
            account: self.required("РасчСчет")?,
            from: self.date("ДатаНачала")?,
            to: self.date("ДатаКонца")?,
            opening: self.amount("НачальныйОстаток", false)?,
            credited: self.amount("ВсегоПоступило", false)?,
            debited: self.amount("ВсегоСписано", false)?,
            closing: self.amount("КонечныйОстаток", false)?,
        })
    }

    fn document(&self) -> Result<ExchangeDocument, ExchangeError> {
        let date = self.date("Дата")?.ok_or_else(|| self.missing("Дата"))?;
        let payer_name = self
            .text("Плательщик1")
            .or_else(|| self.text("Плательщик"))
            .map(str::to_owned)
            .ok_or_else(|| self.missing("Плательщик"))?;
        let account = |prefix: &str| {
            self.text(&format!("{prefix}РасчСчет"))
                .or_else(|| self.text(&format!("{prefix}Счет")))
                .map(str::to_owned)
                .ok_or_else(|| self.missing(&format!("{prefix}Счет")))
        };
        Ok(ExchangeDocument {
            line: self.line,
            kind: self.name.clone(),
            number: self.required("Номер")?,
            date,
            amount: self.amount("Сумма", true)?,
            payer_account: account("Плательщик")?,
            payer_name,
            payer_inn: self.text("ПлательщикИНН").map(str::to_owned),
            payer_kpp: self.text("ПлательщикКПП").map(str::to_owned),
            payee_account: account("Получатель")?,
            payee_name: self
                .text("Получатель1")
                .or_else(|| self.text("Получатель"))
                .unwrap_or_default()
                .to_owned(),
            payee_inn: self.text("ПолучательИНН").map(str::to_owned),
            received_on: self.date("ДатаПоступило")?,
            written_off_on: self.date("ДатаСписано")?,
            purpose: self
                .text("НазначениеПлатежа")
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;
