//! The **UPD** (универсальный передаточный документ) of an invoice as the Federal Tax
//! Service's XML format 5.03 (order ЕД-7-26/970@, seller's title `ON_NSCHFDOPPR`, КНД 1115131)
//! with function **СЧФДОП**: one file that is both the VAT invoice (счёт-фактура) and the act
//! of the services rendered.
//!
//! Made only where it applies ([`applies`]): the provider pays VAT and both parties have a
//! Russian INN. The file is built from the format's published structure (no schema file is
//! published in a package registry, so none is checked here): elements in the schema's order,
//! attributes named as the schema names them, dates `ДД.ММ.ГГГГ`, times `ЧЧ.ММ.СС`, amounts
//! with two decimals and a dot, and the rules the schema's embedded checks add for СЧФДОП
//! (the document's name, the services' period, unit, quantity and price together or not at
//! all). The bytes are windows-1251, as the format requires; a character that encoding lacks
//! is written as an XML character reference, which every reader turns back into it.
//!
//! The file's name is `ON_NSCHFDOPPR_<buyer>_<seller>_<YYYYMMDD>_<GUID>_0_0_0_0_0_00` (the
//! participants are named by INN and KPP: no EDO operator has assigned ids), and `ИдФайл`
//! repeats it. Everything in it comes from the invoice and the moment it was issued, and the
//! GUID from the document's id, so the same invoice always gives the same bytes.

use chrono::{NaiveDate, NaiveDateTime};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use rust_decimal::Decimal;

use crate::accounts::TaxIdKind;
use crate::catalog::{Lang, TaxRate};
use crate::ids::DocumentId;
use crate::invoicing::{
    Invoice, InvoiceLine, InvoicingError, LineSource, ProviderRequisites, TaxMode,
};
use crate::money::{Currency, Money};

/// What the document says it is (the schema's `НаимДокОпр`).
pub const DOCUMENT_NAME: &str = "Счет-фактура и документ об отгрузке товаров (выполнении работ), \
                                 передаче имущественных прав (документ об оказании услуг)";
/// The fact of economic life it records (`ПоФактХЖ`).
pub const FACT: &str = "Документ об отгрузке товаров (выполнении работ), передаче имущественных \
                        прав (документ об оказании услуг)";
/// The transfer's content (`СодОпер`).
pub const OPERATION: &str = "Услуги оказаны в полном объеме";
/// The program that made the file (`ВерсПрог`).
const PROGRAM: &str = "Kopek 1.0";

/// The rates the format knows (`НалСт`), as it writes them.
const RATES: [(Decimal, &str); 10] = [
    (Decimal::from_parts(0, 0, 0, false, 0), "0%"),
    (Decimal::from_parts(5, 0, 0, false, 0), "5%"),
    (Decimal::from_parts(7, 0, 0, false, 0), "7%"),
    (Decimal::from_parts(10, 0, 0, false, 0), "10%"),
    (Decimal::from_parts(18, 0, 0, false, 0), "18%"),
    (Decimal::from_parts(20, 0, 0, false, 0), "20%"),
    (Decimal::from_parts(22, 0, 0, false, 0), "22%"),
    (Decimal::from_parts(909, 0, 0, false, 2), "9,09%"),
    (Decimal::from_parts(1667, 0, 0, false, 2), "16,67%"),
    (Decimal::from_parts(1803, 0, 0, false, 2), "18,03%"),
];

/// A made UPD file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdFile {
    /// The file's name without `.xml`, which its `ИдФайл` repeats.
    pub stem: String,
    /// The XML, encoded in windows-1251.
    pub bytes: Vec<u8>,
}

/// Whether `invoice` gets a UPD: its provider pays VAT and both parties have a Russian INN.
pub fn applies(invoice: &Invoice) -> bool {
    let Some(parties) = &invoice.parties else {
        return false;
    };
    let russian = |kind: TaxIdKind| kind != TaxIdKind::Vat;
    parties
        .seller
        .as_ref()
        .is_some_and(|s| s.vat_payer() && russian(s.tax_id().kind()))
        && russian(parties.buyer.tax_id.kind())
}

/// The UPD of `invoice`, made at `made_at` (the provider's wall clock) as document `id`.
///
/// Refused naming the field when the invoice cannot be written in the format: no seller
/// requisites (`requisites`), a party without a Russian INN (`tax_id`), a head whose name is
/// not a surname and a given name (`requisites.director.name`), a VAT rate the format does
/// not know (`lines[i].tax_rate`), or a negative amount (`lines[i]`).
pub fn upd(
    invoice: &Invoice,
    id: DocumentId,
    made_at: NaiveDateTime,
) -> Result<UpdFile, InvoicingError> {
    let parties = invoice
        .parties
        .as_ref()
        .ok_or_else(|| InvoicingError::invalid("buyer", "the invoice names no buyer"))?;
    let seller = ProviderRequisites::for_documents(parties.seller.as_ref())?;
    let buyer = &parties.buyer;
    if !applies(invoice) {
        return Err(InvoicingError::invalid(
            "tax_id",
            "a UPD is made only by a VAT payer for a buyer with a Russian INN",
        ));
    }
    let seller_id = participant_id(seller.tax_id().as_str(), seller.kpp().map(|k| k.as_str()));
    let buyer_id = participant_id(
        buyer.tax_id.as_str(),
        buyer.kpp.as_ref().map(|k| k.as_str()),
    );
    let stem = format!(
        "ON_NSCHFDOPPR_{buyer_id}_{seller_id}_{}_{}_0_0_0_0_0_00",
        invoice.issued_on.format("%Y%m%d"),
        guid(id),
    );
    let head = full_name(seller.director().name.ru())?;

    let mut x = Xml::new();
    x.decl()?;
    x.open(
        "Файл",
        &[
            ("ИдФайл", &stem),
            ("ВерсФорм", "5.03"),
            ("ВерсПрог", PROGRAM),
        ],
    )?;
    let compiler = format!(
        "{}, ИНН/КПП {}/{}",
        seller.legal_name().ru(),
        seller.tax_id(),
        seller.kpp().map(|k| k.as_str()).unwrap_or("-")
    );
    x.open(
        "Документ",
        &[
            ("КНД", "1115131"),
            ("Функция", "СЧФДОП"),
            ("ПоФактХЖ", FACT),
            ("НаимДокОпр", DOCUMENT_NAME),
            ("ДатаИнфПр", &day(made_at.date())),
            ("ВремИнфПр", &made_at.format("%H.%M.%S").to_string()),
            ("НаимЭконСубСост", &compiler),
        ],
    )?;

    let number = invoice.number.to_string();
    let dated = day(invoice.issued_on);
    x.open("СвСчФакт", &[("НомерДок", &number), ("ДатаДок", &dated)])?;
    x.open("СвПрод", &[])?;
    party(
        &mut x,
        seller.legal_name().ru(),
        seller.tax_id().as_str(),
        seller.kpp().map(|k| k.as_str()),
        seller.address().ru(),
    )?;
    let bank = seller.bank();
    x.open("БанкРекв", &[("НомерСчета", &bank.account)])?;
    x.empty(
        "СвБанк",
        &[
            ("НаимБанк", bank.bank_name.ru()),
            ("БИК", &bank.bic),
            ("КорСчет", &bank.correspondent_account),
        ],
    )?;
    x.close("БанкРекв")?;
    x.close("СвПрод")?;
    x.empty(
        "ДокПодтвОтгрНом",
        &[
            ("РеквНаимДок", "Универсальный передаточный документ"),
            ("РеквНомерДок", &number),
            ("РеквДатаДок", &dated),
        ],
    )?;
    x.open("СвПокуп", &[])?;
    party(
        &mut x,
        &buyer.legal_name.to_string(),
        buyer.tax_id.as_str(),
        buyer.kpp.as_ref().map(|k| k.as_str()),
        &buyer.address.to_string(),
    )?;
    x.close("СвПокуп")?;
    let (code, name) = currency(invoice.draft.currency);
    x.empty("ДенИзм", &[("КодОКВ", code), ("НаимОКВ", name)])?;
    x.close("СвСчФакт")?;

    x.open("ТаблСчФакт", &[])?;
    let mode = invoice.draft.tax_mode;
    for (i, line) in invoice.draft.lines.iter().enumerate() {
        goods_line(&mut x, line, mode, i)?;
    }
    let d = &invoice.draft;
    x.open(
        "ВсегоОпл",
        &[
            ("СтТовБезНДСВсего", &money(d.net)),
            ("СтТовУчНалВсего", &money(d.gross)),
        ],
    )?;
    x.open("СумНалВсего", &[])?;
    if d.lines.iter().all(|l| l.tax_rate.is_exempt()) {
        x.text_element("БезНДС", "без НДС")?;
    } else {
        x.text_element("СумНал", &money(d.tax))?;
    }
    x.close("СумНалВсего")?;
    x.close("ВсегоОпл")?;
    x.close("ТаблСчФакт")?;

    x.open("СвПродПер", &[])?;
    let period = d.period;
    let last_day = period
        .end_exclusive()
        .pred_opt()
        .unwrap_or(period.end_exclusive());
    x.open(
        "СвПер",
        &[
            ("СодОпер", OPERATION),
            ("ДатаПер", &dated),
            ("ДатаНачПер", &day(period.first_day())),
            ("ДатаОконПер", &day(last_day)),
        ],
    )?;
    match &buyer.contract {
        Some(contract) => x.empty(
            "ОснПер",
            &[
                ("РеквНаимДок", "Договор"),
                ("РеквНомерДок", &contract.number),
                ("РеквДатаДок", &day(contract.signed_on)),
            ],
        )?,
        None => x.text_element("БезДокОснПер", "1")?,
    }
    x.close("СвПер")?;
    x.close("СвПродПер")?;

    x.open(
        "Подписант",
        &[
            ("Должн", seller.director().position.get(Lang::Ru)),
            // By the data of the signer's own qualified signature.
            ("СпосПодтПолном", "1"),
        ],
    )?;
    let mut name = vec![("Фамилия", head.0), ("Имя", head.1)];
    if let Some(patronymic) = head.2 {
        name.push(("Отчество", patronymic));
    }
    x.empty("ФИО", &name)?;
    x.close("Подписант")?;
    x.close("Документ")?;
    x.close("Файл")?;

    let xml = x.finish()?;
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&xml);
    Ok(UpdFile {
        stem,
        bytes: bytes.into_owned(),
    })
}

/// One line of the table (`СведТов`): unit, quantity and price only where a price for one
/// unit applies (the format wants all three or none, and a price above zero).
fn goods_line(
    x: &mut Xml,
    line: &InvoiceLine,
    mode: TaxMode,
    index: usize,
) -> Result<(), InvoicingError> {
    let field = |name: &str| format!("lines[{index}]{name}");
    if line.net.is_negative() || line.tax.is_negative() || line.gross.is_negative() {
        return Err(InvoicingError::invalid(
            field(""),
            "a UPD has no negative amounts: corrections go on a credit note",
        ));
    }
    let rate = match line.tax_rate {
        TaxRate::Exempt => "без НДС",
        TaxRate::Percent(p) => RATES
            .iter()
            .find(|(r, _)| *r == p.normalize())
            .map(|(_, text)| *text)
            .ok_or_else(|| {
                InvoicingError::invalid(
                    field(".tax_rate"),
                    format!("the UPD format has no VAT rate of {}%", p.normalize()),
                )
            })?,
    };
    let last_day = line
        .until_exclusive
        .pred_opt()
        .unwrap_or(line.until_exclusive);
    let days = match line.source {
        LineSource::Subscription {
            days, period_days, ..
        } if days < period_days => format!(", {days} из {period_days} дн."),
        _ => String::new(),
    };
    let name = format!(
        "{} ({}–{}{days})",
        line.description.ru(),
        line.from.format("%d.%m.%Y"),
        last_day.format("%d.%m.%Y")
    );
    let price = price_of(line, mode);
    let no = line.no.to_string();
    let okei = format!("{:03}", line.unit.okei_code());
    let quantity = line.quantity.normalize().to_string();
    let price_text = price.map(|p| decimal(p.normalize()));
    let (net, gross) = (money(line.net), money(line.gross));
    let mut attributes: Vec<(&str, &str)> = vec![("НомСтр", &no), ("НаимТов", &name)];
    if let Some(price) = &price_text {
        attributes.extend([
            ("ОКЕИ_Тов", okei.as_str()),
            ("НаимЕдИзм", line.unit.short_name(Lang::Ru)),
            ("КолТов", quantity.as_str()),
            ("ЦенаТов", price.as_str()),
        ]);
    }
    attributes.extend([
        ("СтТовБезНДС", net.as_str()),
        ("НалСт", rate),
        ("СтТовУчНал", gross.as_str()),
    ]);
    x.open("СведТов", &attributes)?;
    // A service (ПрТовРаб 3).
    x.empty("ДопСведТов", &[("ПрТовРаб", "3")])?;
    x.open("Акциз", &[])?;
    x.text_element("БезАкциз", "без акциза")?;
    x.close("Акциз")?;
    x.open("СумНал", &[])?;
    match line.tax_rate {
        TaxRate::Exempt => x.text_element("БезНДС", "без НДС")?,
        TaxRate::Percent(_) => x.text_element("СумНал", &money(line.tax))?,
    }
    x.close("СумНал")?;
    x.close("СведТов")
}

/// The price of one unit without VAT as the UPD writes it (its column 4): the unit price
/// itself where the quantity at it makes the net amount; otherwise (a prorated line, prices
/// with VAT) the net amount over the quantity. `None` where no price above zero applies.
pub fn price_of(line: &InvoiceLine, mode: TaxMode) -> Option<Decimal> {
    let net_amount = line.net.amount();
    line.unit_price
        .filter(|p| *p > Decimal::ZERO && line.quantity > Decimal::ZERO)
        .and_then(|p| {
            let whole = p
                .checked_mul(line.quantity)
                .is_some_and(|v| v.round_dp(2) == net_amount);
            if mode == TaxMode::Exclusive && whole {
                Some(p)
            } else {
                net_amount
                    .checked_div(line.quantity)
                    .map(|p| p.round_dp(11))
            }
        })
        .filter(|p| *p > Decimal::ZERO)
}

/// A party's identification and address (`ИдСв`, `Адрес`): a legal entity by name, INN and
/// KPP; a sole proprietor (12-digit INN) by the name as written and the INN.
fn party(
    x: &mut Xml,
    name: &str,
    inn: &str,
    kpp: Option<&str>,
    address: &str,
) -> Result<(), InvoicingError> {
    x.open("ИдСв", &[])?;
    if inn.len() == 12 {
        let person = name
            .trim_start_matches("ИП")
            .trim_start_matches("Индивидуальный предприниматель")
            .trim();
        let (surname, given, patronymic) = full_name(person).map_err(|_| {
            InvoicingError::invalid(
                "legal_name",
                "a sole proprietor's name must hold a surname and a given name",
            )
        })?;
        x.open("СвИП", &[("ИННФЛ", inn)])?;
        let mut fio = vec![("Фамилия", surname), ("Имя", given)];
        if let Some(p) = patronymic {
            fio.push(("Отчество", p));
        }
        x.empty("ФИО", &fio)?;
        x.close("СвИП")?;
    } else {
        let mut attributes = vec![("НаимОрг", name), ("ИННЮЛ", inn)];
        if let Some(kpp) = kpp {
            attributes.push(("КПП", kpp));
        }
        x.empty("СвЮЛУч", &attributes)?;
    }
    x.close("ИдСв")?;
    x.open("Адрес", &[])?;
    x.empty(
        "АдрИнф",
        &[
            ("КодСтр", "643"),
            ("НаимСтран", "Россия"),
            ("АдрТекст", address),
        ],
    )?;
    x.close("Адрес")
}

/// A participant as the file name names it without an EDO operator: INN and KPP together.
fn participant_id(inn: &str, kpp: Option<&str>) -> String {
    format!("{inn}{}", kpp.unwrap_or_default())
}

/// Surname, given name and patronymic of a name written `Иванов Иван Иванович` or with
/// initials (`Иванов И. И.`, `Иванов И.И.`).
pub fn full_name(name: &str) -> Result<(&str, &str, Option<&str>), InvoicingError> {
    let mut parts = Vec::new();
    for word in name.split_whitespace() {
        // `И.И.` is two initials.
        let dots: Vec<(usize, char)> = word.char_indices().filter(|(_, c)| *c == '.').collect();
        if dots.len() == 2 && dots[1].0 == word.len() - 1 {
            let cut = dots[0].0 + 1;
            parts.extend([&word[..cut], &word[cut..]]);
        } else {
            parts.push(word);
        }
    }
    match parts.as_slice() {
        [surname, given] => Ok((surname, given, None)),
        [surname, given, patronymic] => Ok((surname, given, Some(patronymic))),
        _ => Err(InvoicingError::invalid(
            "requisites.director.name",
            "the UPD names the head by surname, given name and patronymic (or initials): \
             write it as «Иванов Иван Иванович» or «Иванов И. И.»",
        )),
    }
}

/// The document's id as the GUID of the file name.
fn guid(id: DocumentId) -> String {
    let hex = format!("{:032x}", u128::from(id.ulid()));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// ISO 4217 numeric code and Russian name of a currency (`ДенИзм`; the printable form's
/// field 7).
pub(crate) fn currency(currency: Currency) -> (&'static str, &'static str) {
    match currency {
        Currency::RUB => ("643", "Российский рубль"),
        Currency::USD => ("840", "Доллар США"),
        Currency::EUR => ("978", "Евро"),
    }
}

fn day(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

/// An amount as the format writes it: two decimals, a dot.
fn money(m: Money) -> String {
    format!("{:.2}", m.round_to_minor().amount())
}

/// A price: at least two decimals (`990.00`), more where it has them (`2.0005`).
fn decimal(d: Decimal) -> String {
    let d = d.normalize();
    if d.scale() < 2 {
        format!("{d:.2}")
    } else {
        d.to_string()
    }
}

/// The writer, with errors turned into the domain's (writing to memory does not fail, but a
/// write's result is never dropped).
struct Xml(Writer<Vec<u8>>);

impl Xml {
    fn new() -> Self {
        Self(Writer::new_with_indent(Vec::new(), b' ', 1))
    }

    fn write(&mut self, event: Event<'_>) -> Result<(), InvoicingError> {
        self.0
            .write_event(event)
            .map_err(|e| InvoicingError::invalid("upd", format!("writing the XML: {e}")))
    }

    fn decl(&mut self) -> Result<(), InvoicingError> {
        self.write(Event::Decl(BytesDecl::new(
            "1.0",
            Some("windows-1251"),
            None,
        )))
    }

    fn start<'a>(name: &'a str, attributes: &[(&str, &str)]) -> BytesStart<'a> {
        let mut start = BytesStart::new(name);
        for attribute in attributes {
            start.push_attribute(*attribute);
        }
        start
    }

    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) -> Result<(), InvoicingError> {
        self.write(Event::Start(Self::start(name, attributes)))
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) -> Result<(), InvoicingError> {
        self.write(Event::Empty(Self::start(name, attributes)))
    }

    fn close(&mut self, name: &str) -> Result<(), InvoicingError> {
        self.write(Event::End(BytesEnd::new(name)))
    }

    fn text_element(&mut self, name: &str, text: &str) -> Result<(), InvoicingError> {
        self.open(name, &[])?;
        self.write(Event::Text(BytesText::new(text)))?;
        self.close(name)
    }

    fn finish(self) -> Result<String, InvoicingError> {
        String::from_utf8(self.0.into_inner())
            .map_err(|e| InvoicingError::invalid("upd", format!("the XML is not UTF-8: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::fixtures::requisites_form;
    use rust_decimal_macros::dec;

    fn made_at() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap()
    }

    fn invoice() -> Invoice {
        super::super::sample_invoice(Lang::Ru)
    }

    fn id() -> DocumentId {
        DocumentId::from_ulid(ulid::Ulid::from_parts(1_780_000_000_000, 42))
    }

    /// The file's text, decoded from windows-1251 (refused if it is not).
    fn text_of(file: &UpdFile) -> String {
        let (text, had_errors) = encoding_rs::WINDOWS_1251.decode_without_bom_handling(&file.bytes);
        assert!(!had_errors);
        text.into_owned()
    }

    fn children<'a>(node: roxmltree::Node<'a, 'a>) -> Vec<&'a str> {
        node.children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect()
    }

    fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> roxmltree::Node<'a, 'a> {
        node.children()
            .find(|n| n.has_tag_name(name))
            .unwrap_or_else(|| panic!("no {name} in {}", node.tag_name().name()))
    }

    fn amount(node: roxmltree::Node<'_, '_>, attribute: &str) -> Decimal {
        node.attribute(attribute)
            .unwrap_or_else(|| panic!("no {attribute}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn the_file_follows_the_formats_structure_and_adds_up() {
        let invoice = invoice();
        let file = upd(&invoice, id(), made_at()).unwrap();
        // For checking by hand against a schema: `KOPEK_UPD_OUT=dir cargo test …`.
        if let Ok(dir) = std::env::var("KOPEK_UPD_OUT") {
            let path = std::path::Path::new(&dir).join(format!("{}.xml", file.stem));
            std::fs::write(path, &file.bytes).unwrap();
        }
        assert!(
            file.bytes
                .starts_with(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>")
        );
        // «Файл» in windows-1251, not UTF-8.
        assert!(file.bytes.windows(4).any(|w| w == [0xD4, 0xE0, 0xE9, 0xEB]));
        let text = text_of(&file);
        let xml = roxmltree::Document::parse(&text).unwrap();
        let root = xml.root_element();
        assert_eq!(root.tag_name().name(), "Файл");
        assert_eq!(root.attribute("ИдФайл"), Some(file.stem.as_str()));
        assert_eq!(root.attribute("ВерсФорм"), Some("5.03"));
        let parts: Vec<&str> = file.stem.split('_').collect();
        assert_eq!(&parts[..2], ["ON", "NSCHFDOPPR"]);
        assert_eq!(
            parts[2], "7701234560770101001",
            "the buyer (recipient) first"
        );
        assert_eq!(parts[3], "7708123450770801001", "then the seller");
        assert_eq!(parts[4], "20261201");
        assert_eq!(parts[5].len(), 36, "a GUID: {}", parts[5]);
        assert_eq!(&parts[6..], ["0", "0", "0", "0", "0", "00"]);

        assert_eq!(children(root), ["Документ"]);
        let document = child(root, "Документ");
        assert_eq!(document.attribute("КНД"), Some("1115131"));
        assert_eq!(document.attribute("Функция"), Some("СЧФДОП"));
        assert_eq!(document.attribute("НаимДокОпр"), Some(DOCUMENT_NAME));
        assert_eq!(document.attribute("ДатаИнфПр"), Some("01.12.2026"));
        assert_eq!(document.attribute("ВремИнфПр"), Some("03.04.05"));
        assert_eq!(
            children(document),
            ["СвСчФакт", "ТаблСчФакт", "СвПродПер", "Подписант"]
        );
        let head = child(document, "СвСчФакт");
        assert_eq!(
            head.attribute("НомерДок"),
            Some(invoice.number.to_string().as_str())
        );
        assert_eq!(
            children(head),
            ["СвПрод", "ДокПодтвОтгрНом", "СвПокуп", "ДенИзм"]
        );
        let seller = child(child(child(head, "СвПрод"), "ИдСв"), "СвЮЛУч");
        assert_eq!(seller.attribute("ИННЮЛ"), Some("7708123450"));
        assert_eq!(seller.attribute("КПП"), Some("770801001"));
        assert_eq!(child(head, "ДенИзм").attribute("КодОКВ"), Some("643"));

        let table = child(document, "ТаблСчФакт");
        let lines: Vec<_> = table
            .children()
            .filter(|n| n.has_tag_name("СведТов"))
            .collect();
        assert_eq!(lines.len(), invoice.draft.lines.len());
        let (mut net, mut gross, mut tax) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for line in &lines {
            assert_eq!(children(*line), ["ДопСведТов", "Акциз", "СумНал"]);
            let line_tax = child(*line, "СумНал");
            let line_tax = match line.attribute("НалСт") {
                Some("без НДС") => {
                    assert_eq!(children(line_tax), ["БезНДС"]);
                    assert_eq!(child(line_tax, "БезНДС").text(), Some("без НДС"));
                    Decimal::ZERO
                }
                _ => child(line_tax, "СумНал").text().unwrap().parse().unwrap(),
            };
            assert_eq!(
                amount(*line, "СтТовБезНДС") + line_tax,
                amount(*line, "СтТовУчНал")
            );
            net += amount(*line, "СтТовБезНДС");
            gross += amount(*line, "СтТовУчНал");
            tax += line_tax;
        }
        assert_eq!(lines[0].attribute("НалСт"), Some("20%"));
        assert_eq!(lines[0].attribute("ОКЕИ_Тов"), Some("362"));
        assert_eq!(lines[0].attribute("КолТов"), Some("2"));
        // 21 of 30 days of two servers at 990.00: the price of what was billed.
        assert_eq!(lines[0].attribute("ЦенаТов"), Some("693.00"));
        assert!(
            lines[0]
                .attribute("НаимТов")
                .unwrap()
                .ends_with("21 из 30 дн.)"),
            "{:?}",
            lines[0].attribute("НаимТов")
        );
        assert_eq!(lines[1].attribute("ЦенаТов"), Some("3500.00"));
        assert_eq!(lines[1].attribute("НалСт"), Some("без НДС"));
        let total = child(table, "ВсегоОпл");
        assert_eq!(amount(total, "СтТовБезНДСВсего"), net);
        assert_eq!(amount(total, "СтТовУчНалВсего"), gross);
        let total_tax: Decimal = child(child(total, "СумНалВсего"), "СумНал")
            .text()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(total_tax, tax);
        assert_eq!(gross, invoice.draft.gross.amount());
        assert_eq!(total.attribute("СтТовУчНалВсего"), Some("5163.20"));

        let transfer = child(child(document, "СвПродПер"), "СвПер");
        assert_eq!(transfer.attribute("ДатаНачПер"), Some("01.11.2026"));
        assert_eq!(transfer.attribute("ДатаОконПер"), Some("30.11.2026"));
        let basis = child(transfer, "ОснПер");
        assert_eq!(basis.attribute("РеквНомерДок"), Some("17/2026"));
        assert_eq!(basis.attribute("РеквДатаДок"), Some("12.01.2026"));
        let signer = child(document, "Подписант");
        assert_eq!(signer.attribute("Должн"), Some("Генеральный директор"));
        let name = child(signer, "ФИО");
        assert_eq!(
            (
                name.attribute("Фамилия"),
                name.attribute("Имя"),
                name.attribute("Отчество")
            ),
            (Some("Иванов"), Some("И."), Some("И."))
        );
    }

    #[test]
    fn the_same_invoice_always_gives_the_same_bytes_and_another_document_another_name() {
        let first = upd(&invoice(), id(), made_at()).unwrap();
        assert_eq!(upd(&invoice(), id(), made_at()).unwrap(), first);
        let other = DocumentId::from_ulid(ulid::Ulid::from_parts(1_780_000_000_000, 43));
        assert_ne!(upd(&invoice(), other, made_at()).unwrap().stem, first.stem);
    }

    #[test]
    fn an_all_exempt_invoice_totals_no_vat_and_quotes_are_escaped() {
        let mut invoice = invoice();
        invoice.draft.lines.remove(0);
        let exempt = &invoice.draft.lines[0];
        invoice.draft.net = exempt.net;
        invoice.draft.tax = exempt.tax;
        invoice.draft.gross = exempt.gross;
        let file = upd(&invoice, id(), made_at()).unwrap();
        let text = text_of(&file);
        let xml = roxmltree::Document::parse(&text).unwrap();
        let total = xml
            .descendants()
            .find(|n| n.has_tag_name("СумНалВсего"))
            .unwrap();
        assert_eq!(children(total), ["БезНДС"]);
        // «ООО «Ромашка»» keeps its guillemets; a quote would be escaped by the writer.
        assert!(text.contains("НаимОрг=\"ООО «Ромашка»\""), "{text}");
    }

    #[test]
    fn what_the_format_cannot_say_is_refused_naming_the_field() {
        let refused = |invoice: &Invoice| match upd(invoice, id(), made_at()) {
            Err(InvoicingError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut odd_rate = invoice();
        odd_rate.draft.lines[0].tax_rate = TaxRate::Percent(dec!(12));
        assert_eq!(refused(&odd_rate), "lines[0].tax_rate");

        let mut one_word = invoice();
        let mut form = requisites_form();
        form.director.name = crate::catalog::LocalizedText::new("Иванов", "Ivanov").unwrap();
        one_word.parties.as_mut().unwrap().seller = Some(ProviderRequisites::new(form).unwrap());
        assert_eq!(refused(&one_word), "requisites.director.name");

        let mut no_vat = invoice();
        let mut form = requisites_form();
        form.vat_payer = false;
        no_vat.parties.as_mut().unwrap().seller = Some(ProviderRequisites::new(form).unwrap());
        assert!(!applies(&no_vat));
        assert_eq!(refused(&no_vat), "tax_id");

        let mut foreign = invoice();
        foreign.parties.as_mut().unwrap().buyer.tax_id =
            crate::accounts::TaxId::parse("DE123456789").unwrap();
        assert!(!applies(&foreign));
        assert!(applies(&invoice()));
    }

    #[test]
    fn names_are_split_into_surname_given_name_and_patronymic() {
        let cases = [
            ("Иванов Иван Иванович", ("Иванов", "Иван", Some("Иванович"))),
            ("Иванов И. И.", ("Иванов", "И.", Some("И."))),
            ("Иванов И.И.", ("Иванов", "И.", Some("И."))),
            ("Smith John", ("Smith", "John", None)),
        ];
        for (name, want) in cases {
            assert_eq!(full_name(name).unwrap(), want, "{name}");
        }
        assert!(full_name("Иванов").is_err());
        assert!(full_name("").is_err());
    }
}
