//! Bank statements through the pure steps of an import, on files as large as a busy year of
//! one account: reading a file's bytes into a `Statement` (`bank::statement`, which hands a
//! `1CClientBankExchange` file to `bank::exchange::parse` and a camt.053 file to
//! `bank::camt::parse`), finding the invoices a purpose names (`bank::purpose::invoices_named`),
//! finding whose payment a line is and which invoices it pays (`bank::matching::who_paid`,
//! `bank::matching::allocate`), and counting the statement and fingerprinting its lines
//! (`bank::imports::StatementImport::of`, `bank::imports::fingerprint`).
//!
//! The inputs are generated here, deterministically (a fixed-seed SplitMix64), nothing is read
//! from disk:
//! - 1,000 customers of a Russian provider: legal entities with a 10-digit INN and a KPP, one
//!   in ten a sole trader (ИП) with a 12-digit INN; twenty pairs of a head office and a branch
//!   share an INN and differ by KPP. Each has 12 open invoices, `KPK-2026-…`, one a month;
//! - a `1CClientBankExchange` 1.03 file, windows-1251, of one account over 2026: 10,000
//!   payment orders of 25 `Key=Value` lines each. Nine in ten are payments by customers (a
//!   few by unknown payers or without an INN) whose purposes name their invoices in the ways
//!   payers write them, or no invoice at all; one in ten is the provider's own debit;
//! - a `camt.053.001.08` file, UTF-8, of one EUR account with 10,000 booked entries, each
//!   with its transaction details (references, related parties with a VAT id, remittance
//!   information), in the same proportions.
//!
//! Run with `cargo bench -p kopek-domain --bench bank`; figures go into BENCHMARKS.md.
//! Throughput is in statement lines (`Throughput::Elements`), and for reading a file also in
//! bytes (`Throughput::Bytes`). The file sizes are printed before the measurements. Amounts are
//! built from integer cents: no binary floating point anywhere near money.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use encoding_rs::WINDOWS_1251;
use kopek_domain::bank::exchange::MAX_FILE_BYTES;
use kopek_domain::bank::imports::{StatementImport, fingerprint};
use kopek_domain::bank::matching::{
    Allocated, Customer, Direction, Payer, allocate, direction, who_paid,
};
use kopek_domain::bank::purpose::invoices_named;
use kopek_domain::bank::{self, Statement, StatementFormat, StatementLine};
use kopek_domain::ids::{ImportId, InvoiceId, OrgId};
use kopek_domain::invoicing::InvoiceNumber;
use kopek_domain::money::{Currency, Money};
use kopek_domain::orders::UserOrKey;
use kopek_domain::payments::OpenInvoice;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

/// Payment documents (1CClientBankExchange) or entries (camt.053) per file.
const DOCUMENTS: usize = 10_000;
/// Customers matched against, and the open invoices each has.
const CUSTOMERS: usize = 1_000;
const INVOICES_EACH: usize = 12;
/// Purposes read, and statement lines matched, per measured batch.
const PURPOSES: usize = 1_000;
const MATCHED: usize = 1_000;

/// The provider's own account (roubles) and IBAN (euros).
const OWN: &str = "40702810938000000001";
const OWN_INN: &str = "7708123450";
const OWN_IBAN: &str = "DE89370400440532013000";

/// SplitMix64: a fixed seed gives the same files on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Cents as the 1CClientBankExchange and camt.053 files write them: `26962.16`.
fn amount_text(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn cents(cents: u64) -> Decimal {
    Decimal::new(cents as i64, 2)
}

const FORMS: [&str; 4] = ["ООО", "ООО", "АО", "ПАО"];
const BASES: [&str; 20] = [
    "Ромашка",
    "Северный ветер",
    "ТехноСервис",
    "Вектор",
    "Альфа-Трейд",
    "СтройИнвест",
    "Уральские сети",
    "Гранит",
    "Медиаплюс",
    "Байкал-Логистик",
    "Сибирская нива",
    "Волга-Телеком",
    "Энергоресурс",
    "Дальний Восток",
    "Промавтоматика",
    "Кировский хлеб",
    "Нева-Софт",
    "Электрон",
    "Агрохолдинг Заря",
    "Белые ночи",
];
const CITIES: [&str; 10] = [
    "Москва",
    "Петербург",
    "Казань",
    "Екатеринбург",
    "Новосибирск",
    "Нижний Новгород",
    "Самара",
    "Краснодар",
    "Пермь",
    "Красноярск",
];
const REGIONS: [u32; 10] = [77, 78, 16, 66, 54, 52, 63, 23, 59, 24];
const PEOPLE: [&str; 8] = [
    "Иванов Иван Иванович",
    "Смирнова Ольга Петровна",
    "Кузнецов Алексей Сергеевич",
    "Попова Мария Андреевна",
    "Соколов Дмитрий Юрьевич",
    "Лебедева Анна Викторовна",
    "Новиков Сергей Николаевич",
    "Фёдоров Павел Олегович",
];
const MONTHS: [&str; 12] = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
];
const SERVICES: [&str; 5] = [
    "услуги доступа в интернет",
    "услуги связи",
    "аренду стойки в ЦОД",
    "услуги хостинга",
    "техническое обслуживание",
];
/// Whom the provider pays: name, INN, account, and what for.
const SUPPLIERS: [(&str, &str, &str, &str); 5] = [
    (
        "ПАО \"Ростелеком\"",
        "7707049388",
        "40702810100020000123",
        "Оплата по счёту № 45{n} от {d} за магистральный канал, в т.ч. НДС 20% - {vat} руб.",
    ),
    (
        "АО \"Бизнес-центр Северный\"",
        "7714098765",
        "40702810500000004567",
        "Арендная плата за {m} 2026 г. по договору № 17/А от 01.01.2026, НДС не облагается",
    ),
    (
        "УФК по г. Москве (ИФНС России № 8 по г. Москве)",
        "7708049486",
        "03100643000000017300",
        "Налог на доходы физических лиц за {m} 2026 г.",
    ),
    (
        "ООО \"Яндекс.Облако\"",
        "7704458262",
        "40702810438000034426",
        "Оплата по счёту № YC-{n} от {d} за облачные ресурсы, в т.ч. НДС 20% - {vat} руб.",
    ),
    (
        "ООО \"Кабельные системы\"",
        "5009087654",
        "40702810700000009876",
        "Оплата по договору поставки № КС-{n} от {d} за кабель ВОК, в т.ч. НДС 20% - {vat} руб.",
    ),
];

/// One customer as the bank writes it, with what matching knows of it.
struct Client {
    customer: Customer,
    account: String,
    /// 20% VAT is charged; a sole trader on the simplified system charges none.
    vat: bool,
    invoices: Vec<OpenInvoice>,
}

fn customers(rng: &mut Rng) -> Vec<Client> {
    (0..CUSTOMERS)
        .map(|i| {
            let region = REGIONS[i % REGIONS.len()];
            let sole_trader = i % 10 == 9;
            let (name, tax_id, kpp, account) = if sole_trader {
                (
                    format!("ИП {}", PEOPLE[(i / 10) % PEOPLE.len()]),
                    format!("{region:02}{:010}", 1_000_000_000 + i as u64 * 7_919),
                    None,
                    format!("40802810{:012}", 300_000_000 + i as u64 * 7_777),
                )
            } else {
                // Every 50th customer is the branch of the one before: same INN, its own KPP.
                let head = if i % 50 == 1 { i - 1 } else { i };
                let head_region = REGIONS[head % REGIONS.len()];
                (
                    format!(
                        "{} \"{}-{}\"",
                        FORMS[i % FORMS.len()],
                        BASES[(i / 3) % BASES.len()],
                        CITIES[(i / 7) % CITIES.len()]
                    ),
                    format!("{head_region:02}{:08}", 10_000_000 + head as u64 * 7_919),
                    Some(format!("{region:02}{:02}01001", i % 100)),
                    format!("40702810{:012}", 100_000_000 + i as u64 * 7_777),
                )
            };
            let org = OrgId::from_ulid(ulid::Ulid::from_parts(1_790_000_000_000, i as u128));
            let invoices = (0..INVOICES_EACH)
                .map(|k| {
                    let seq = (i * INVOICES_EACH + k + 1) as u64;
                    OpenInvoice {
                        id: InvoiceId::from_ulid(ulid::Ulid::from_parts(
                            1_790_000_000_000,
                            (1 << 32) + seq as u128,
                        )),
                        number: format!("KPK-2026-{seq:06}")
                            .parse::<InvoiceNumber>()
                            .expect("a valid number"),
                        issued_on: NaiveDate::from_ymd_opt(2026, k as u32 + 1, 1).expect("a day"),
                        open: Money::new(cents(100_000 + rng.below(25_000_000)), Currency::RUB),
                    }
                })
                .collect();
            Client {
                customer: Customer {
                    org,
                    name,
                    tax_id,
                    kpp,
                    currency: Currency::RUB,
                },
                account,
                vat: !sole_trader,
                invoices,
            }
        })
        .collect()
}

/// The invoice's amount in cents.
fn open_cents(invoice: &OpenInvoice) -> u64 {
    (invoice.open.amount() * Decimal::from(100))
        .try_into()
        .expect("whole cents")
}

/// The VAT included in a gross amount at 20%, written with a decimal comma.
fn vat_text(gross: u64) -> String {
    let vat = gross / 6;
    format!("{},{:02}", vat / 100, vat % 100)
}

/// A customer's payment, as its accountant writes it: the purpose and the amount in cents.
fn customer_purpose(rng: &mut Rng, client: &Client, month: usize) -> (String, u64) {
    let invoice = &client.invoices[month];
    let other = &client.invoices[(month + 11) % INVOICES_EACH];
    let seq = invoice.number.seq;
    let issued = invoice.issued_on.format("%d.%m.%Y");
    let exact = open_cents(invoice);
    let mut amount = match rng.below(10) {
        0 => exact / 2,
        1 => exact + 5_000_000,
        _ => exact,
    };
    let vat = |amount: u64| {
        if client.vat {
            format!("в т.ч. НДС 20% - {} руб.", vat_text(amount))
        } else {
            "НДС не облагается".to_owned()
        }
    };
    let service = rng.pick(&SERVICES);
    let purpose = match rng.below(100) {
        0..45 => format!(
            "Оплата по {} № KPK-2026-{seq:06} от {issued}, {}",
            if rng.below(2) == 0 {
                "счёту"
            } else {
                "счету"
            },
            vat(amount)
        ),
        45..55 => format!(
            "оплата сч.КРК-2026-{seq} от {issued} за {service}, {}",
            vat(amount)
        ),
        55..63 => format!(
            "Оплата сч. {seq} от {issued} за {service} за {} 2026 г.",
            MONTHS[month]
        ),
        63..70 => {
            amount = exact + open_cents(other);
            format!(
                "Оплата по счетам {}, {} за {service}, {}",
                other.number,
                invoice.number,
                vat(amount)
            )
        }
        70..80 => format!(
            "Оплата по договору № {}/2026-У от 15.01.2026 за {service} за {} 2026 г., {}",
            client.customer.tax_id.get(6..).unwrap_or("1"),
            MONTHS[month],
            vat(amount)
        ),
        80..85 => {
            amount = 10_000_000;
            format!(
                "Аванс по договору № {}/2026-У от 15.01.2026, {}",
                client.customer.tax_id.get(6..).unwrap_or("1"),
                vat(amount)
            )
        }
        85..90 => format!("Invoice KPK 2026 {seq} payment, {}", vat(amount)),
        90..95 => format!(
            "Оплата по счету № KPK-2025-{:06} от 01.12.2025 за {service}",
            rng.below(9_000) + 1
        ),
        _ => format!("Счёт №{seq} от {issued}. {}", vat(amount)),
    };
    (purpose, amount)
}

/// One line of a statement, before it is written in either format.
struct Document {
    number: u64,
    date: NaiveDate,
    cents: u64,
    payer_name: String,
    payer_inn: Option<String>,
    payer_kpp: Option<String>,
    payer_account: String,
    /// A debit: the provider pays.
    debit: bool,
    payee_name: String,
    payee_inn: String,
    payee_account: String,
    purpose: String,
}

/// The year's documents on the provider's account: customers paying, and the provider paying
/// its suppliers, in date order.
fn documents(rng: &mut Rng, clients: &[Client]) -> Vec<Document> {
    let first = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a day");
    let mut own_number = 0;
    (0..DOCUMENTS)
        .map(|i| {
            let date = first + TimeDelta::days((i * 365 / DOCUMENTS) as i64);
            let month = date.month0() as usize;
            if rng.below(10) == 0 {
                own_number += 1;
                let (name, inn, account, template) = *rng.pick(&SUPPLIERS);
                let cents = 50_000 + rng.below(30_000_000);
                let purpose = template
                    .replace("{n}", &format!("{}", rng.below(9_000) + 1_000))
                    .replace("{d}", &date.format("%d.%m.%Y").to_string())
                    .replace("{m}", MONTHS[month])
                    .replace("{vat}", &vat_text(cents));
                return Document {
                    number: own_number,
                    date,
                    cents,
                    payer_name: "ООО \"Копек\"".into(),
                    payer_inn: Some(OWN_INN.into()),
                    payer_kpp: Some("770801001".into()),
                    payer_account: OWN.into(),
                    debit: true,
                    payee_name: name.into(),
                    payee_inn: inn.into(),
                    payee_account: account.into(),
                    purpose,
                };
            }
            let client = rng.pick(clients);
            let (purpose, cents) = customer_purpose(rng, client, month);
            let kind = rng.below(100);
            let (payer_name, payer_inn, payer_kpp, payer_account) = match kind {
                // A payer that is no customer.
                0..3 => (
                    format!("ООО \"{}-{}\"", rng.pick(&BASES), rng.pick(&CITIES)),
                    Some(format!("99{:08}", rng.below(100_000_000))),
                    Some("990101001".to_owned()),
                    format!("40702810{:012}", 900_000_000 + rng.below(1_000_000)),
                ),
                // A customer's payment without its INN (paid by a person, or the bank lost it).
                3..5 => (
                    rng.pick(&PEOPLE).to_string(),
                    None,
                    None,
                    client.account.clone(),
                ),
                _ => (
                    client.customer.name.clone(),
                    Some(client.customer.tax_id.clone()),
                    client.customer.kpp.clone(),
                    client.account.clone(),
                ),
            };
            Document {
                number: rng.below(99_999) + 1,
                date,
                cents,
                payer_name,
                payer_inn,
                payer_kpp,
                payer_account,
                debit: false,
                payee_name: "ООО \"Копек\"".into(),
                payee_inn: OWN_INN.into(),
                payee_account: OWN.into(),
                purpose,
            }
        })
        .collect()
}

/// Opening, credited, debited and closing, in cents.
fn totals(documents: &[Document]) -> (u64, u64, u64, u64) {
    let opening = 123_456_789;
    let credited: u64 = documents.iter().filter(|d| !d.debit).map(|d| d.cents).sum();
    let debited: u64 = documents.iter().filter(|d| d.debit).map(|d| d.cents).sum();
    (opening, credited, debited, opening + credited - debited)
}

/// The `1CClientBankExchange` file of `documents`, windows-1251, `\r\n` line ends.
fn one_c(documents: &[Document]) -> Vec<u8> {
    let (opening, credited, debited, closing) = totals(documents);
    let mut text = String::with_capacity(documents.len() * 1_100);
    let mut line = |t: &str| {
        text.push_str(t);
        text.push_str("\r\n");
    };
    for header in [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        "Кодировка=Windows",
        "Отправитель=СберБизнес",
        "Получатель=Бухгалтерия предприятия, редакция 3.0",
        "ДатаСоздания=05.01.2027",
        "ВремяСоздания=09:15:02",
        "ДатаНачала=01.01.2026",
        "ДатаКонца=31.12.2026",
        &format!("РасчСчет={OWN}"),
        "Документ=Платежное поручение",
        "СекцияРасчСчет",
        "ДатаНачала=01.01.2026",
        "ДатаКонца=31.12.2026",
        &format!("РасчСчет={OWN}"),
        &format!("НачальныйОстаток={}", amount_text(opening)),
        &format!("ВсегоПоступило={}", amount_text(credited)),
        &format!("ВсегоСписано={}", amount_text(debited)),
        &format!("КонечныйОстаток={}", amount_text(closing)),
        "КонецРасчСчет",
    ] {
        line(header);
    }
    let mut buf = String::new();
    for d in documents {
        let date = d.date.format("%d.%m.%Y").to_string();
        let (bank, bik, corr) = if d.debit || d.number % 3 == 0 {
            (
                "ПАО Сбербанк г. Москва",
                "044525225",
                "30101810400000000225",
            )
        } else {
            (
                "АО \"Тинькофф Банк\" г. Москва",
                "044525974",
                "30101810145250000974",
            )
        };
        let payer_inn = d.payer_inn.as_deref().unwrap_or("");
        let fields: [(&str, &str); 23] = [
            ("Номер", &d.number.to_string()),
            ("Дата", &date),
            ("Сумма", &amount_text(d.cents)),
            ("ПлательщикСчет", &d.payer_account),
            (
                "Плательщик",
                &if payer_inn.is_empty() {
                    d.payer_name.clone()
                } else {
                    format!("ИНН {payer_inn} {}", d.payer_name)
                },
            ),
            ("ПлательщикИНН", payer_inn),
            ("ПлательщикКПП", d.payer_kpp.as_deref().unwrap_or("")),
            ("Плательщик1", &d.payer_name),
            ("ПлательщикРасчСчет", &d.payer_account),
            ("ПлательщикБанк1", bank),
            ("ПлательщикБИК", bik),
            ("ПлательщикКорсчет", corr),
            ("ПолучательСчет", &d.payee_account),
            (
                if d.debit {
                    "ДатаСписано"
                } else {
                    "ДатаПоступило"
                },
                &date,
            ),
            (
                "Получатель",
                &format!("ИНН {} {}", d.payee_inn, d.payee_name),
            ),
            ("ПолучательИНН", &d.payee_inn),
            ("Получатель1", &d.payee_name),
            ("ПолучательРасчСчет", &d.payee_account),
            ("ПолучательБанк1", "ПАО Сбербанк г. Москва"),
            ("ПолучательБИК", "044525225"),
            ("ВидОплаты", "01"),
            ("Очередность", "5"),
            ("НазначениеПлатежа", &d.purpose),
        ];
        line("СекцияДокумент=Платежное поручение");
        for (key, value) in fields {
            buf.clear();
            write!(buf, "{key}={value}").expect("a string");
            line(&buf);
        }
        line("КонецДокумента");
    }
    line("КонецФайла");
    let (bytes, _, unmappable) = WINDOWS_1251.encode(&text);
    assert!(!unmappable, "every character has a windows-1251 byte");
    bytes.into_owned()
}

/// Escapes the five XML characters.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

const EU_NAMES: [&str; 10] = [
    "Acme Widgets Ltd",
    "Beta Systeme Köln SE",
    "Gamma Consulting B.V.",
    "Delta Logistik GmbH & Co. KG",
    "Epsilon Software S.r.l.",
    "Zeta Networks AB",
    "Eta Médias SAS",
    "Theta Data Oy",
    "Iota Hosting sp. z o.o.",
    "Kappa Engineering Ltd",
];
const EU_COUNTRIES: [&str; 10] = ["GB", "DE", "NL", "DE", "IT", "SE", "FR", "FI", "PL", "IE"];

/// A `camt.053.001.08` file of one EUR account with the same lines, the parties European.
fn camt(documents: &[Document]) -> Vec<u8> {
    let (opening, credited, debited, closing) = totals(documents);
    let credits = documents.iter().filter(|d| !d.debit).count();
    let mut x = String::with_capacity(documents.len() * 2_400);
    let _ = write!(
        x,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>STMT-20261231-0001</MsgId>
      <CreDtTm>2027-01-01T06:00:00+01:00</CreDtTm>
    </GrpHdr>
    <Stmt>
      <Id>{OWN_IBAN}-2026</Id>
      <ElctrncSeqNb>2026</ElctrncSeqNb>
      <CreDtTm>2027-01-01T06:00:00+01:00</CreDtTm>
      <FrToDt>
        <FrDtTm>2026-01-01T00:00:00+01:00</FrDtTm>
        <ToDtTm>2026-12-31T23:59:59+01:00</ToDtTm>
      </FrToDt>
      <Acct>
        <Id>
          <IBAN>{OWN_IBAN}</IBAN>
        </Id>
        <Ccy>EUR</Ccy>
        <Ownr>
          <Nm>Kopek GmbH</Nm>
        </Ownr>
        <Svcr>
          <FinInstnId>
            <BICFI>COBADEFFXXX</BICFI>
          </FinInstnId>
        </Svcr>
      </Acct>
      <Bal>
        <Tp>
          <CdOrPrtry>
            <Cd>OPBD</Cd>
          </CdOrPrtry>
        </Tp>
        <Amt Ccy="EUR">{}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt>
          <Dt>2025-12-31</Dt>
        </Dt>
      </Bal>
      <Bal>
        <Tp>
          <CdOrPrtry>
            <Cd>CLBD</Cd>
          </CdOrPrtry>
        </Tp>
        <Amt Ccy="EUR">{}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt>
          <Dt>2026-12-31</Dt>
        </Dt>
      </Bal>
      <TxsSummry>
        <TtlNtries>
          <NbOfNtries>{}</NbOfNtries>
        </TtlNtries>
        <TtlCdtNtries>
          <NbOfNtries>{credits}</NbOfNtries>
          <Sum>{}</Sum>
        </TtlCdtNtries>
        <TtlDbtNtries>
          <NbOfNtries>{}</NbOfNtries>
          <Sum>{}</Sum>
        </TtlDbtNtries>
      </TxsSummry>
"#,
        amount_text(opening),
        amount_text(closing),
        documents.len(),
        amount_text(credited),
        documents.len() - credits,
        amount_text(debited),
    );
    for (i, d) in documents.iter().enumerate() {
        let n = (d.number as usize + i) % EU_NAMES.len();
        let name = xml(EU_NAMES[n]);
        let vat_id = format!("{}{:09}", EU_COUNTRIES[n], 100_000_000 + d.number * 13);
        let iban = format!(
            "{}{:02}{:018}",
            EU_COUNTRIES[n],
            10 + n,
            370_400_440_000_000_000u64 + d.number * 7_919
        );
        let date = d.date.format("%Y-%m-%d");
        let (indicator, role, role_account, family) = if d.debit {
            ("DBIT", "Cdtr", "CdtrAcct", "ICDT")
        } else {
            ("CRDT", "Dbtr", "DbtrAcct", "RCDT")
        };
        // Remittance information is 140 characters at most; Latin text in euro payments.
        let purpose = if d.debit {
            format!("Supplier invoice {} December services", d.number)
        } else {
            let named = invoices_named(&d.purpose);
            match named.first() {
                Some(inv) => format!(
                    "Invoice KPK-{}-{:06} thank you",
                    inv.year.unwrap_or(2026),
                    inv.seq
                ),
                None => "Advance payment per contract 2026-U".to_owned(),
            }
        };
        let _ = write!(
            x,
            r#"      <Ntry>
        <NtryRef>{i}</NtryRef>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>{indicator}</CdtDbtInd>
        <Sts>
          <Cd>BOOK</Cd>
        </Sts>
        <BookgDt>
          <Dt>{date}</Dt>
        </BookgDt>
        <ValDt>
          <Dt>{date}</Dt>
        </ValDt>
        <AcctSvcrRef>COBA-{compact}-{i:05}</AcctSvcrRef>
        <BkTxCd>
          <Domn>
            <Cd>PMNT</Cd>
            <Fmly>
              <Cd>{family}</Cd>
              <SubFmlyCd>ESCT</SubFmlyCd>
            </Fmly>
          </Domn>
        </BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <AcctSvcrRef>COBA-{compact}-{i:05}-1</AcctSvcrRef>
              <EndToEndId>E2E-{number:06}</EndToEndId>
            </Refs>
            <RltdPties>
              <{role}>
                <Pty>
                  <Nm>{name}</Nm>
                  <Id>
                    <OrgId>
                      <Othr>
                        <Id>{vat_id}</Id>
                        <SchmeNm>
                          <Cd>TXID</Cd>
                        </SchmeNm>
                      </Othr>
                    </OrgId>
                  </Id>
                </Pty>
              </{role}>
              <{role_account}>
                <Id>
                  <IBAN>{iban}</IBAN>
                </Id>
              </{role_account}>
            </RltdPties>
            <RmtInf>
              <Ustrd>{purpose}</Ustrd>
            </RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
"#,
            amount = amount_text(d.cents),
            compact = d.date.format("%Y%m%d"),
            number = d.number,
        );
    }
    x.push_str("    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n");
    x.into_bytes()
}

/// Everything measured, built once.
struct Inputs {
    clients: Vec<Client>,
    one_c: Vec<u8>,
    camt: Vec<u8>,
    statement: Statement,
}

fn inputs() -> Inputs {
    let mut rng = Rng(0x4B4F_5045_4B32_3032);
    let clients = customers(&mut rng);
    let documents = documents(&mut rng, &clients);
    let one_c = one_c(&documents);
    let camt = camt(&documents);
    assert!(one_c.len() < MAX_FILE_BYTES && camt.len() < MAX_FILE_BYTES);

    let statement = bank::statement(&one_c).expect("the 1CClientBankExchange file reads");
    assert_eq!(statement.format, StatementFormat::OneC);
    assert_eq!(statement.lines.len(), DOCUMENTS);
    assert!(statement.balances.iter().all(|b| b.add_up()));
    let euro = bank::statement(&camt).expect("the camt.053 file reads");
    assert_eq!(euro.format, StatementFormat::Camt053);
    assert_eq!(euro.lines.len(), DOCUMENTS);
    assert!(euro.balances.iter().all(|b| b.add_up()));

    let lines = |bytes: &[u8]| bytes.iter().filter(|b| **b == b'\n').count();
    eprintln!(
        "1CClientBankExchange: {} bytes, {} lines ({:.1} per document); camt.053.001.08: {} \
         bytes, {} lines ({:.1} per entry)",
        one_c.len(),
        lines(&one_c),
        lines(&one_c) as f64 / DOCUMENTS as f64,
        camt.len(),
        lines(&camt),
        lines(&camt) as f64 / DOCUMENTS as f64,
    );
    Inputs {
        clients,
        one_c,
        camt,
        statement,
    }
}

fn statements(c: &mut Criterion, inputs: &Inputs) {
    let files = [
        ("1c_exchange_10000_docs", &inputs.one_c),
        ("camt053_10000_entries", &inputs.camt),
    ];
    let mut group = c.benchmark_group("bank_statement");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(DOCUMENTS as u64));
    for (name, bytes) in files {
        group.bench_function(name, |b| {
            b.iter(|| bank::statement(black_box(bytes)).expect("a statement"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("bank_statement_bytes");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for (name, bytes) in files {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| bank::statement(black_box(bytes)).expect("a statement"))
        });
    }
    group.finish();
}

fn purposes(c: &mut Criterion, inputs: &Inputs) {
    // Every tenth line's purpose: customers' and the provider's own, spread over the year.
    let purposes: Vec<&str> = inputs
        .statement
        .lines
        .iter()
        .step_by(DOCUMENTS / PURPOSES)
        .map(|l| l.purpose.as_str())
        .collect();
    assert_eq!(purposes.len(), PURPOSES);
    let named: usize = purposes.iter().map(|p| invoices_named(p).len()).sum();
    eprintln!("{PURPOSES} purposes name {named} invoices");

    let mut group = c.benchmark_group("bank_purpose");
    group.throughput(Throughput::Elements(PURPOSES as u64));
    group.sample_size(30);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("invoices_named_1000", |b| {
        b.iter(|| {
            black_box(&purposes)
                .iter()
                .map(|p| invoices_named(p))
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

/// A line's amount, in roubles where the format names no currency.
fn amount(line: &StatementLine) -> Money {
    Money::new(line.amount, line.currency.unwrap_or(Currency::RUB))
}

fn matching(c: &mut Criterion, inputs: &Inputs) {
    let customers: Vec<Customer> = inputs.clients.iter().map(|c| c.customer.clone()).collect();
    let by_org: HashMap<OrgId, &Client> =
        inputs.clients.iter().map(|c| (c.customer.org, c)).collect();
    // Half the customers paid before, from the account they pay from now.
    let known: HashMap<String, OrgId> = inputs
        .clients
        .iter()
        .step_by(2)
        .map(|c| (c.account.clone(), c.customer.org))
        .collect();
    let known = |account: &str| known.get(account).copied();
    let own = [OWN.to_owned()];
    let lines: Vec<&StatementLine> = inputs
        .statement
        .lines
        .iter()
        .filter(|l| direction(l, &own) == Direction::Credit)
        .take(MATCHED)
        .collect();
    assert_eq!(lines.len(), MATCHED);

    let payers: Vec<Payer> = lines
        .iter()
        .map(|l| who_paid(l, &customers, known))
        .collect();
    let confident: Vec<(&StatementLine, &Client)> = lines
        .iter()
        .zip(&payers)
        .filter_map(|(l, p)| match p {
            Payer::Confident(c) => Some((*l, by_org[&c.org])),
            _ => None,
        })
        .collect();
    let ambiguous = payers
        .iter()
        .filter(|p| matches!(p, Payer::Ambiguous(_)))
        .count();
    let recorded = confident
        .iter()
        .filter(|(l, c)| {
            matches!(
                allocate(l, amount(l), c.customer.currency, &c.invoices),
                Allocated::Record { .. }
            )
        })
        .count();
    eprintln!(
        "{MATCHED} payments: {} confident ({recorded} recorded, {} to review), {ambiguous} \
         ambiguous, {} unknown",
        confident.len(),
        confident.len() - recorded,
        MATCHED - confident.len() - ambiguous,
    );

    let mut group = c.benchmark_group("bank_matching");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(MATCHED as u64));
    group.bench_function("who_paid_1000_of_1000_customers", |b| {
        b.iter(|| {
            black_box(&lines)
                .iter()
                .map(|l| who_paid(l, &customers, known))
                .collect::<Vec<_>>()
        })
    });
    group.throughput(Throughput::Elements(confident.len() as u64));
    group.bench_function("allocate_confident_of_12_invoices", |b| {
        b.iter(|| {
            black_box(&confident)
                .iter()
                .map(|(l, c)| allocate(l, amount(l), c.customer.currency, &c.invoices))
                .collect::<Vec<_>>()
        })
    });
    group.throughput(Throughput::Elements(MATCHED as u64));
    group.bench_function("who_paid_then_allocate_1000", |b| {
        b.iter(|| {
            black_box(&lines)
                .iter()
                .map(|l| match who_paid(l, &customers, known) {
                    Payer::Confident(c) => {
                        let client = by_org[&c.org];
                        Some(allocate(
                            l,
                            amount(l),
                            client.customer.currency,
                            &client.invoices,
                        ))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

fn imports(c: &mut Criterion, inputs: &Inputs) {
    let own = [OWN.to_owned()];
    let sha256 = format!("{:x}", Sha256::digest(&inputs.one_c));
    let id = ImportId::from_ulid(ulid::Ulid::from_parts(1_798_700_000_000, 1));
    let uploaded_at: DateTime<Utc> = Utc
        .with_ymd_and_hms(2027, 1, 5, 9, 20, 0)
        .single()
        .expect("a valid moment");
    let statement = &inputs.statement;
    let import = StatementImport::of(
        id,
        "выписка_2026.txt".into(),
        sha256.clone(),
        inputs.one_c.len(),
        statement,
        &own,
        Currency::RUB,
        UserOrKey::System,
        uploaded_at,
    );
    assert_eq!(import.lines_read, DOCUMENTS);
    assert!(import.balances.iter().all(|b| b.adds_up && b.own));

    let mut group = c.benchmark_group("bank_import");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(DOCUMENTS as u64));
    group.bench_function("statement_import_of_10000", |b| {
        b.iter(|| {
            StatementImport::of(
                id,
                "выписка_2026.txt".into(),
                sha256.clone(),
                inputs.one_c.len(),
                black_box(statement),
                &own,
                Currency::RUB,
                UserOrKey::System,
                uploaded_at,
            )
        })
    });
    group.bench_function("fingerprint_10000", |b| {
        b.iter(|| {
            black_box(&statement.lines)
                .iter()
                .map(fingerprint)
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

fn bank_benches(c: &mut Criterion) {
    let inputs = inputs();
    statements(c, &inputs);
    purposes(c, &inputs);
    matching(c, &inputs);
    imports(c, &inputs);
}

criterion_group!(benches, bank_benches);
criterion_main!(benches);
