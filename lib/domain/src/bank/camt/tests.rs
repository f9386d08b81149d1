use super::*;
use proptest::prelude::*;
use rust_decimal_macros::dec;

/// A `camt.053.001.08` statement of a German EUR account: a credit naming an invoice, a debit,
/// a batched credit of two transactions and a pending entry, with the bank's totals.
const MODERN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>STMT-20261205-0001</MsgId>
      <CreDtTm>2026-12-05T18:00:00+01:00</CreDtTm>
    </GrpHdr>
    <Stmt>
      <Id>DE89370400440532013000-20261205</Id>
      <ElctrncSeqNb>245</ElctrncSeqNb>
      <CreDtTm>2026-12-05T18:00:00+01:00</CreDtTm>
      <FrToDt>
        <FrDtTm>2026-12-05T00:00:00+01:00</FrDtTm>
        <ToDtTm>2026-12-05T23:59:59+01:00</ToDtTm>
      </FrToDt>
      <Acct>
        <Id>
          <IBAN>DE89370400440532013000</IBAN>
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
        <Amt Ccy="EUR">1000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt>
          <Dt>2026-12-04</Dt>
        </Dt>
      </Bal>
      <Bal>
        <Tp>
          <CdOrPrtry>
            <Cd>CLBD</Cd>
          </CdOrPrtry>
        </Tp>
        <Amt Ccy="EUR">2240.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt>
          <Dt>2026-12-05</Dt>
        </Dt>
      </Bal>
      <TxsSummry>
        <TtlNtries>
          <NbOfNtries>3</NbOfNtries>
        </TtlNtries>
        <TtlCdtNtries>
          <NbOfNtries>2</NbOfNtries>
          <Sum>1490.00</Sum>
        </TtlCdtNtries>
        <TtlDbtNtries>
          <NbOfNtries>1</NbOfNtries>
          <Sum>250.00</Sum>
        </TtlDbtNtries>
      </TxsSummry>
      <Ntry>
        <NtryRef>1</NtryRef>
        <Amt Ccy="EUR">1190.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>
          <Cd>BOOK</Cd>
        </Sts>
        <BookgDt>
          <Dt>2026-12-05</Dt>
        </BookgDt>
        <ValDt>
          <Dt>2026-12-06</Dt>
        </ValDt>
        <AcctSvcrRef>COBA-20261205-0001</AcctSvcrRef>
        <BkTxCd>
          <Domn>
            <Cd>PMNT</Cd>
            <Fmly>
              <Cd>RCDT</Cd>
              <SubFmlyCd>ESCT</SubFmlyCd>
            </Fmly>
          </Domn>
        </BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <EndToEndId>E2E-KPK-2026-000123</EndToEndId>
            </Refs>
            <RltdPties>
              <Dbtr>
                <Pty>
                  <Nm>Acme Widgets Ltd</Nm>
                  <Id>
                    <OrgId>
                      <Othr>
                        <Id>4711</Id>
                        <SchmeNm>
                          <Cd>BANK</Cd>
                        </SchmeNm>
                      </Othr>
                      <Othr>
                        <Id>GB123456789</Id>
                        <SchmeNm>
                          <Cd>TXID</Cd>
                        </SchmeNm>
                      </Othr>
                    </OrgId>
                  </Id>
                </Pty>
              </Dbtr>
              <DbtrAcct>
                <Id>
                  <IBAN>GB29NWBK60161331926819</IBAN>
                </Id>
              </DbtrAcct>
              <Cdtr>
                <Pty>
                  <Nm>Kopek GmbH</Nm>
                </Pty>
              </Cdtr>
              <CdtrAcct>
                <Id>
                  <IBAN>DE89370400440532013000</IBAN>
                </Id>
              </CdtrAcct>
            </RltdPties>
            <RmtInf>
              <Ustrd>Invoice KPK-2026-000123</Ustrd>
              <Ustrd>thank you</Ustrd>
            </RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">250.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>
          <Cd>BOOK</Cd>
        </Sts>
        <BookgDt>
          <Dt>2026-12-05</Dt>
        </BookgDt>
        <ValDt>
          <Dt>2026-12-05</Dt>
        </ValDt>
        <AcctSvcrRef>COBA-20261205-0002</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <EndToEndId>NOTPROVIDED</EndToEndId>
            </Refs>
            <RltdPties>
              <Cdtr>
                <Pty>
                  <Nm>Hetzner Online GmbH</Nm>
                </Pty>
              </Cdtr>
              <CdtrAcct>
                <Id>
                  <IBAN>DE02120300000000202051</IBAN>
                </Id>
              </CdtrAcct>
            </RltdPties>
            <RmtInf>
              <Ustrd>Server rent December</Ustrd>
              <Strd>
                <CdtrRefInf>
                  <Tp>
                    <CdOrPrtry>
                      <Cd>SCOR</Cd>
                    </CdOrPrtry>
                  </Tp>
                  <Ref>RF18539007547034</Ref>
                </CdtrRefInf>
              </Strd>
            </RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">300.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>
          <Cd>BOOK</Cd>
        </Sts>
        <BookgDt>
          <DtTm>2026-12-05T14:30:00+01:00</DtTm>
        </BookgDt>
        <AcctSvcrRef>COBA-20261205-0003</AcctSvcrRef>
        <NtryDtls>
          <Btch>
            <NbOfTxs>2</NbOfTxs>
          </Btch>
          <TxDtls>
            <Refs>
              <AcctSvcrRef>COBA-20261205-0003-1</AcctSvcrRef>
              <EndToEndId>E2E-KPK-2026-000124</EndToEndId>
            </Refs>
            <Amt Ccy="EUR">100.00</Amt>
            <CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties>
              <Dbtr>
                <Pty>
                  <Nm>Beta Systeme Köln SE</Nm>
                </Pty>
              </Dbtr>
              <DbtrAcct>
                <Id>
                  <IBAN>DE75512108001245126199</IBAN>
                </Id>
              </DbtrAcct>
            </RltdPties>
            <RmtInf>
              <Ustrd>Invoice KPK-2026-000124</Ustrd>
            </RmtInf>
          </TxDtls>
          <TxDtls>
            <Refs>
              <AcctSvcrRef>COBA-20261205-0003-2</AcctSvcrRef>
            </Refs>
            <AmtDtls>
              <TxAmt>
                <Amt Ccy="EUR">200.00</Amt>
              </TxAmt>
            </AmtDtls>
            <RltdPties>
              <Dbtr>
                <Pty>
                  <Nm>Gamma Ltd</Nm>
                </Pty>
              </Dbtr>
            </RltdPties>
            <RmtInf>
              <Ustrd>Invoice KPK-2026-000125</Ustrd>
            </RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">99.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>
          <Cd>PDNG</Cd>
        </Sts>
        <AcctSvcrRef>COBA-20261206-0001</AcctSvcrRef>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#;

/// A `camt.053.001.02` statement of a British EUR account that ends overdrawn: a card debit
/// without details and a credit from a debtor with a tax id of no scheme.
const OLD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>053D2026120500001</MsgId>
      <CreDtTm>2026-12-05T20:15:00</CreDtTm>
    </GrpHdr>
    <Stmt>
      <Id>0352C5320261205</Id>
      <CreDtTm>2026-12-05T20:15:00</CreDtTm>
      <Acct>
        <Id>
          <IBAN>GB29NWBK60161331926819</IBAN>
        </Id>
        <Ownr>
          <Nm>Kopek UK Ltd</Nm>
        </Ownr>
      </Acct>
      <Bal>
        <Tp>
          <CdOrPrtry>
            <Cd>PRCD</Cd>
          </CdOrPrtry>
        </Tp>
        <Amt Ccy="EUR">100.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt>
          <Dt>2026-12-04</Dt>
        </Dt>
      </Bal>
      <Bal>
        <Tp>
          <CdOrPrtry>
            <Cd>CLBD</Cd>
          </CdOrPrtry>
        </Tp>
        <Amt Ccy="EUR">30.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Dt>
          <Dt>2026-12-05</Dt>
        </Dt>
      </Bal>
      <Ntry>
        <Amt Ccy="EUR">150.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt>
          <DtTm>2026-12-05T09:12:00</DtTm>
        </BookgDt>
        <ValDt>
          <Dt>2026-12-05</Dt>
        </ValDt>
        <AcctSvcrRef>NWBK-88213</AcctSvcrRef>
        <AddtlNtryInf>Card payment AWS EMEA</AddtlNtryInf>
      </Ntry>
      <Ntry>
        <NtryRef>NWBK-88214</NtryRef>
        <Amt Ccy="EUR">20.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt>
          <Dt>2026-12-05</Dt>
        </BookgDt>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <EndToEndId></EndToEndId>
            </Refs>
            <RltdPties>
              <Dbtr>
                <Nm>Delta Software GmbH</Nm>
                <Id>
                  <OrgId>
                    <Othr>
                      <Id>DE123456789</Id>
                    </Othr>
                  </OrgId>
                </Id>
              </Dbtr>
              <DbtrAcct>
                <Id>
                  <Othr>
                    <Id>12345678</Id>
                  </Othr>
                </Id>
              </DbtrAcct>
            </RltdPties>
            <AddtlTxInf>Invoice KPK-2026-000126</AddtlTxInf>
          </TxDtls>
        </NtryDtls>
        <AddtlNtryInf>SEPA credit transfer</AddtlNtryInf>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#;

/// The 1-based line where `needle` first appears in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` in the sample"));
    text[..at].matches('\n').count() + 1
}

fn read(text: &str) -> Statement {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("a statement: {e}"))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

#[test]
fn a_credit_names_its_debtor_tax_id_and_invoice() {
    let statement = read(MODERN);
    assert_eq!(statement.format, StatementFormat::Camt053);
    let credit = &statement.lines[0];
    assert_eq!(credit.line, line_of(MODERN, "<Ntry>"));
    assert_eq!(credit.number, "E2E-KPK-2026-000123");
    assert_eq!(credit.date, date(2026, 12, 5));
    assert_eq!(credit.amount, dec!(1190.00));
    assert_eq!(credit.currency, Some(Currency::EUR));
    assert_eq!(
        credit.payer,
        Party {
            name: "Acme Widgets Ltd".into(),
            account: "GB29NWBK60161331926819".into(),
            inn: None,
            kpp: None,
            tax_id: Some("GB123456789".into()),
        }
    );
    assert_eq!(credit.payee.name, "Kopek GmbH");
    assert_eq!(credit.payee.account, "DE89370400440532013000");
    assert_eq!(
        credit.received_on,
        Some(date(2026, 12, 6)),
        "the value date"
    );
    assert_eq!(credit.written_off_on, None);
    assert_eq!(credit.purpose, "Invoice KPK-2026-000123 thank you");
}

#[test]
fn a_debit_pays_the_creditor_from_the_statements_account() {
    let statement = read(MODERN);
    let debit = &statement.lines[1];
    assert_eq!(
        debit.number, "COBA-20261205-0002",
        "NOTPROVIDED is no number"
    );
    assert_eq!(debit.amount, dec!(250.00));
    assert_eq!(debit.payer.name, "Kopek GmbH");
    assert_eq!(debit.payer.account, "DE89370400440532013000");
    assert_eq!(debit.payee.name, "Hetzner Online GmbH");
    assert_eq!(debit.payee.account, "DE02120300000000202051");
    assert_eq!(debit.payee.tax_id, None);
    assert_eq!(debit.written_off_on, Some(date(2026, 12, 5)));
    assert_eq!(debit.received_on, None);
    assert_eq!(debit.purpose, "Server rent December RF18539007547034");
}

#[test]
fn an_entry_with_several_transactions_gives_a_line_each() {
    let statement = read(MODERN);
    let [_, _, first, second] = statement.lines.as_slice() else {
        panic!("four lines: {:?}", statement.lines);
    };
    let batch = MODERN.find("COBA-20261205-0003").expect("the batch");
    let first_at = batch + MODERN[batch..].find("<TxDtls>").expect("a TxDtls");
    let second_at = first_at + 1 + MODERN[first_at + 1..].find("<TxDtls>").expect("two");
    let line = |at: usize| MODERN[..at].matches('\n').count() + 1;
    let cases = [
        (
            first,
            line(first_at),
            "E2E-KPK-2026-000124",
            dec!(100.00),
            "Beta Systeme Köln SE",
        ),
        (
            second,
            line(second_at),
            "COBA-20261205-0003-2",
            dec!(200.00),
            "Gamma Ltd",
        ),
    ];
    for (read, at, number, amount, payer) in cases {
        assert_eq!(read.line, at, "the line of its TxDtls");
        assert_eq!(read.number, number);
        assert_eq!(read.amount, amount);
        assert_eq!(read.currency, Some(Currency::EUR));
        assert_eq!(read.payer.name, payer);
        assert_eq!(read.payee.account, "DE89370400440532013000");
        assert_eq!(read.date, date(2026, 12, 5), "the date of BookgDt/DtTm");
        assert_eq!(read.received_on, Some(date(2026, 12, 5)), "no value date");
    }
    assert_eq!(first.purpose, "Invoice KPK-2026-000124");
    assert_eq!(first.payer.account, "DE75512108001245126199");
    assert_eq!(second.payer.account, "");
}

#[test]
fn pending_entries_are_skipped() {
    let statement = read(MODERN);
    assert_eq!(statement.lines.len(), 4);
    assert!(
        statement
            .lines
            .iter()
            .all(|l| l.number != "COBA-20261206-0001" && l.amount != dec!(99.00))
    );
}

#[test]
fn balances_are_read_and_add_up() {
    let modern = read(MODERN);
    let old = read(OLD);
    let cases = [
        (
            &modern,
            MODERN,
            "DE89370400440532013000",
            (dec!(1000.00), dec!(1490.00), dec!(250.00), dec!(2240.00)),
            (Some(date(2026, 12, 5)), Some(date(2026, 12, 5))),
        ),
        (
            &old,
            OLD,
            "GB29NWBK60161331926819",
            (dec!(100.00), dec!(20.00), dec!(150.00), dec!(-30.00)),
            (None, None),
        ),
    ];
    for (statement, text, account, (opening, credited, debited, closing), (from, to)) in cases {
        let [balances] = statement.balances.as_slice() else {
            panic!("one account: {:?}", statement.balances);
        };
        assert_eq!(balances.line, line_of(text, "<Stmt>"));
        assert_eq!(balances.account, account);
        assert_eq!(balances.currency, Some(Currency::EUR));
        assert_eq!(
            (
                balances.opening,
                balances.credited,
                balances.debited,
                balances.closing
            ),
            (opening, credited, debited, closing)
        );
        assert_eq!((balances.from, balances.to), (from, to));
        assert!(balances.add_up(), "{balances:?}");
    }
}

#[test]
fn an_older_version_is_read_too() {
    let statement = read(OLD);
    let [debit, credit] = statement.lines.as_slice() else {
        panic!("two lines: {:?}", statement.lines);
    };
    assert_eq!(debit.number, "NWBK-88213");
    assert_eq!(debit.date, date(2026, 12, 5));
    assert_eq!(debit.payer.name, "Kopek UK Ltd");
    assert_eq!(
        debit.payee,
        Party::default(),
        "a card payment names no creditor"
    );
    assert_eq!(debit.purpose, "Card payment AWS EMEA");
    assert_eq!(
        credit.number, "NWBK-88214",
        "an empty EndToEndId is no number"
    );
    assert_eq!(credit.payer.name, "Delta Software GmbH");
    assert_eq!(credit.payer.account, "12345678");
    assert_eq!(credit.payer.tax_id.as_deref(), Some("DE123456789"));
    assert_eq!(credit.purpose, "Invoice KPK-2026-000126");
}

#[test]
fn balances_that_do_not_add_up_are_reported() {
    let cases = [
        (MODERN.replace("2240.00", "2240.01"), "the closing balance"),
        (
            MODERN.replace("<Sum>1490.00</Sum>", "<Sum>1400.00</Sum>"),
            "the bank's own total",
        ),
        (
            OLD.replace(
                "<Amt Ccy=\"EUR\">30.00</Amt>\n        <CdtDbtInd>DBIT",
                "<Amt Ccy=\"EUR\">30.00</Amt>\n        <CdtDbtInd>CRDT",
            ),
            "a credit closing balance",
        ),
    ];
    for (text, what) in cases {
        let statement = read(&text);
        assert!(!statement.balances[0].add_up(), "{what}");
    }
}

#[test]
fn a_statement_without_entries_is_fine() {
    let start = MODERN.find("      <Ntry>").expect("entries");
    let end = MODERN.find("    </Stmt>").expect("the end");
    let text = format!("{}{}", &MODERN[..start], &MODERN[end..])
        .replace("<Sum>1490.00</Sum>", "<Sum>0</Sum>")
        .replace("<Sum>250.00</Sum>", "<Sum>0</Sum>")
        .replace("2240.00", "1000.00");
    let statement = read(&text);
    assert!(statement.lines.is_empty());
    assert!(statement.balances[0].add_up());
}

#[test]
fn statement_dispatches_xml_to_camt() {
    for prefix in ["", "\u{feff}", "\n  ", "\u{feff}\r\n"] {
        let text = format!("{prefix}{MODERN}");
        let statement =
            crate::bank::statement(text.as_bytes()).unwrap_or_else(|e| panic!("{prefix:?}: {e}"));
        assert_eq!(statement.format, StatementFormat::Camt053);
        assert_eq!(statement.lines.len(), 4);
        assert_eq!(
            statement.balances[0].line,
            line_of(&text, "<Stmt>"),
            "{prefix:?}"
        );
    }
}

#[test]
fn every_broken_file_names_its_line_and_key() {
    let credit = "<Amt Ccy=\"EUR\">1190.00</Amt>";
    let amount = |v: &str| MODERN.replace(credit, &format!("<Amt Ccy=\"EUR\">{v}</Amt>"));
    let entry = line_of(MODERN, "<Ntry>");
    let amt = line_of(MODERN, credit);
    let truncated = &MODERN[..MODERN.find("<RmtInf>").expect("RmtInf") + 4];
    let mut not_utf8 = MODERN.as_bytes().to_vec();
    let nm = MODERN.find("Acme").expect("a name");
    not_utf8[nm] = 0xFF;
    let cases: Vec<(Vec<u8>, usize, Option<&str>)> = vec![
        (MODERN.replace(credit, "").into(), entry, Some("Amt")),
        (amount("12.345").into(), amt, Some("Amt")),
        (amount("-5").into(), amt, Some("Amt")),
        (amount("0.00").into(), amt, Some("Amt")),
        (amount("1 190").into(), amt, Some("Amt")),
        (amount("10000000000000.00").into(), amt, Some("Amt")),
        (
            MODERN
                .replace(credit, "<Amt Ccy=\"XYZ\">1190.00</Amt>")
                .into(),
            amt,
            Some("Amt"),
        ),
        (
            MODERN.replace(credit, "<Amt>1190.00</Amt>").into(),
            amt,
            Some("Amt"),
        ),
        (
            MODERN
                .replacen(
                    "<BookgDt>\n          <Dt>2026-12-05</Dt>\n        </BookgDt>\n",
                    "",
                    1,
                )
                .into(),
            entry,
            Some("BookgDt"),
        ),
        (
            MODERN
                .replacen(
                    "<Dt>2026-12-05</Dt>\n        </BookgDt>",
                    "<Dt>05.12.2026</Dt>\n        </BookgDt>",
                    1,
                )
                .into(),
            line_of(MODERN, "<Dt>2026-12-05</Dt>\n        </BookgDt>"),
            Some("Dt"),
        ),
        (
            MODERN
                .replacen("<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>", "<Sts>", 1)
                .into(),
            entry,
            Some("CdtDbtInd"),
        ),
        (
            MODERN
                .replacen(
                    "<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>",
                    "<CdtDbtInd>CRED</CdtDbtInd>\n        <Sts>",
                    1,
                )
                .into(),
            amt + 1,
            Some("CdtDbtInd"),
        ),
        (
            MODERN.replace("<Ccy>EUR</Ccy>", "<Ccy>XYZ</Ccy>").into(),
            line_of(MODERN, "<Ccy>EUR</Ccy>"),
            Some("Ccy"),
        ),
        (
            MODERN
                .replace("<Acct>", "<Acc>")
                .replace("</Acct>", "</Acc>")
                .into(),
            line_of(MODERN, "<Stmt>"),
            Some("Acct"),
        ),
        (
            MODERN.replace("<Cd>CLBD</Cd>", "<Cd>CLAV</Cd>").into(),
            line_of(MODERN, "<Stmt>"),
            Some("Bal"),
        ),
        (
            MODERN
                .replace("<NtryRef>1</NtryRef>", "")
                .replace("<AcctSvcrRef>COBA-20261205-0001</AcctSvcrRef>", "")
                .replace("E2E-KPK-2026-000123", "NOTPROVIDED")
                .into(),
            entry,
            Some("AcctSvcrRef"),
        ),
        (
            MODERN
                .replace("BkToCstmrStmt>", "BkToCstmrDbtCdtNtfctn>")
                .into(),
            line_of(MODERN, "<Document"),
            Some("BkToCstmrStmt"),
        ),
        (b"Hello, world\n".to_vec(), 1, None),
        (
            truncated.into(),
            truncated.trim_end().matches('\n').count() + 1,
            None,
        ),
        (
            MODERN.replace("</Stmt>", "</Stm>").into(),
            line_of(MODERN, "</Stmt>"),
            None,
        ),
        (not_utf8, line_of(MODERN, "Acme"), None),
        (
            MODERN
                .replacen("\n", "\n<!DOCTYPE Document [<!ENTITY x \"y\">]>\n", 1)
                .into(),
            2,
            None,
        ),
        (Vec::new(), 1, None),
    ];
    for (bytes, line, key) in cases {
        let refused = parse(&bytes).expect_err("refused");
        assert_eq!(
            (refused.line, refused.key.as_deref()),
            (line, key),
            "{refused}"
        );
    }
}

#[test]
fn a_file_too_large_is_refused_on_its_first_line() {
    let mut bytes = MODERN.as_bytes().to_vec();
    bytes.resize(MAX_FILE_BYTES + 1, b' ');
    let refused = parse(&bytes).expect_err("too large");
    assert_eq!((refused.line, refused.key), (1, None));
}

/// One change to a valid file.
#[derive(Debug, Clone)]
enum Mutation {
    /// The byte at an offset replaced.
    Set(usize, u8),
    /// The file cut at an offset.
    Truncate(usize),
    /// A slice (offset, length) copied to an offset.
    Duplicate(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        any::<u8>(),
        proptest::sample::select(b"<>/=\"'&;:.-+0123456789 \nT".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), byte).prop_map(|(at, b)| Mutation::Set(at, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..200, any::<usize>())
            .prop_map(|(from, len, to)| Mutation::Duplicate(from, len, to)),
    ]
}

fn mutate(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if data.is_empty() {
            break;
        }
        let n = data.len();
        match *m {
            Mutation::Set(at, b) => data[at % n] = b,
            Mutation::Truncate(at) => data.truncate(at % n),
            Mutation::Duplicate(from, len, to) => {
                let from = from % n;
                let slice = data[from..(from + len).min(n)].to_vec();
                let to = to % (n + 1);
                data.splice(to..to, slice);
            }
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the bytes, the parser answers and never panics.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&data);
    }

    /// A valid file with bytes changed, cut or repeated is read or refused, never a panic.
    #[test]
    fn a_mangled_statement_never_panics(
        old in any::<bool>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let sample = if old { OLD } else { MODERN };
        let data = mutate(sample.as_bytes().to_vec(), &mutations);
        let _ = parse(&data);
        let _ = crate::bank::statement(&data);
    }
}
