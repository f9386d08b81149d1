//! Credit notes: what may be credited on an invoice, and how a credited amount is split, under
//! "Credit notes" in the [module docs](super).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{
    Amounts, CreditNote, CreditRequestLine, DocumentKind, Invoice, InvoiceLine, InvoiceNumber,
    InvoicingError, MAX_REASON_CHARS, TaxMode, check_number, minor_scale, negated, tax_included,
};
use crate::ids::CreditNoteId;
use crate::money::{Money, MoneyError};

/// What the credit notes `earlier` took from each invoice line, by line number, as positive
/// amounts (the negatives of the notes' lines, summed). Lines never credited are absent.
pub fn credited_per_line(earlier: &[CreditNote]) -> Result<BTreeMap<u16, Amounts>, InvoicingError> {
    let mut credited: BTreeMap<u16, Amounts> = BTreeMap::new();
    for line in earlier.iter().flat_map(|note| &note.lines) {
        let taken = line.amounts().negated();
        let sum = match credited.get(&line.no) {
            Some(so_far) => so_far.checked_add(taken)?,
            None => taken,
        };
        credited.insert(line.no, sum);
    }
    Ok(credited)
}

/// A credit note of `invoice`, given the credit notes already issued for it (`earlier`):
/// the lines and amounts of `request` (all that is left, when empty), as the module docs say.
///
/// Refused, naming the field:
/// - `reason` (invalid): empty or longer than [`MAX_REASON_CHARS`] after trimming;
/// - `number` (invalid): not a credit note number of the invoice's series and of the year of
///   `issued_on`; `issued_on` (invalid): before the invoice's issue date;
/// - `invoice`: an earlier note of another invoice (invalid); nothing left to credit on the
///   whole invoice, or more credited in all than the invoice's gross total (conflict);
/// - `lines[i].line_no` (invalid): no such line, or the line requested twice;
/// - `lines[i].gross`: not more than zero or not in whole minor units (invalid); more than
///   is left of the line, or nothing left of it (conflict);
/// - `lines` (conflict): the lines chosen would raise what is owed (a credit note's gross
///   total is never more than zero).
pub fn credit_note(
    invoice: &Invoice,
    earlier: &[CreditNote],
    request: &[CreditRequestLine],
    reason: &str,
    id: CreditNoteId,
    number: InvoiceNumber,
    issued_on: NaiveDate,
) -> Result<CreditNote, InvoicingError> {
    let reason = checked_reason(reason)?;
    check_number(&number, DocumentKind::CreditNote, issued_on)?;
    if number.series != invoice.number.series {
        return Err(InvoicingError::invalid(
            "number",
            format!(
                "{number} is not of {}, the invoice's series",
                invoice.number.series.as_str()
            ),
        ));
    }
    if issued_on < invoice.issued_on {
        return Err(InvoicingError::invalid(
            "issued_on",
            format!(
                "must not be before {}, when invoice {} was issued",
                invoice.issued_on, invoice.number
            ),
        ));
    }
    if let Some(other) = earlier.iter().find(|note| note.invoice != invoice.id) {
        return Err(InvoicingError::invalid(
            "invoice",
            format!(
                "credit note {} corrects another invoice than {}",
                other.number, invoice.number
            ),
        ));
    }

    let currency = invoice.draft.currency;
    let credited = credited_per_line(earlier)?;
    let mut left: BTreeMap<u16, (&InvoiceLine, Amounts)> = BTreeMap::new();
    for line in &invoice.draft.lines {
        let taken = credited
            .get(&line.no)
            .copied()
            .unwrap_or(Amounts::zero(currency));
        left.insert(line.no, (line, line.amounts().checked_sub(taken)?));
    }
    if left.values().all(|(_, rest)| rest.is_zero()) {
        return Err(InvoicingError::conflict(
            "invoice",
            format!("nothing is left to credit on invoice {}", invoice.number),
        ));
    }

    // (line, what is left of it, the gross amount to credit or None for all that is left)
    let mut picks: Vec<(&InvoiceLine, Amounts, Option<Money>)> = Vec::new();
    if request.is_empty() {
        picks.extend(
            left.values()
                .filter(|(_, rest)| !rest.is_zero())
                .map(|(line, rest)| (*line, *rest, None)),
        );
    } else {
        let mut seen = BTreeSet::new();
        for (i, wanted) in request.iter().enumerate() {
            let (line, rest) = left.get(&wanted.line_no).copied().ok_or_else(|| {
                InvoicingError::invalid(
                    format!("lines[{i}].line_no"),
                    format!("invoice {} has no line {}", invoice.number, wanted.line_no),
                )
            })?;
            if !seen.insert(wanted.line_no) {
                return Err(InvoicingError::invalid(
                    format!("lines[{i}].line_no"),
                    format!("line {} is requested more than once", wanted.line_no),
                ));
            }
            let field = || format!("lines[{i}].gross");
            let nothing_left = || {
                InvoicingError::conflict(
                    field(),
                    format!("nothing is left to credit on line {}", line.no),
                )
            };
            let amount = match wanted.amount {
                None if rest.is_zero() => return Err(nothing_left()),
                None => None,
                Some(amount) => {
                    if amount <= Decimal::ZERO {
                        return Err(InvoicingError::invalid(field(), "must be more than zero"));
                    }
                    if amount.normalize().scale() > currency.minor_units() {
                        return Err(InvoicingError::invalid(
                            field(),
                            format!(
                                "must be in whole minor units (at most {} decimal places)",
                                currency.minor_units()
                            ),
                        ));
                    }
                    let limit = rest.gross.amount();
                    if limit <= Decimal::ZERO {
                        return Err(nothing_left());
                    }
                    if amount > limit {
                        return Err(InvoicingError::conflict(
                            field(),
                            format!(
                                "at most {} is left to credit on line {}",
                                rest.gross, line.no
                            ),
                        ));
                    }
                    // Crediting exactly what is left is crediting the whole rest.
                    (amount != limit).then(|| minor_scale(Money::new(amount, currency)))
                }
            };
            picks.push((line, rest, amount));
        }
        picks.sort_by_key(|(line, _, _)| line.no);
    }

    let mut lines = Vec::with_capacity(picks.len());
    for (line, rest, amount) in picks {
        let taken = match amount {
            None => rest,
            Some(gross) => part_of(line, rest, gross)?,
        };
        lines.push(credit_line(line, taken, invoice.draft.tax_mode));
    }
    let totals = Amounts::checked_sum(currency, lines.iter().map(InvoiceLine::amounts))?;

    if totals.gross.amount() > Decimal::ZERO {
        return Err(InvoicingError::conflict(
            "lines",
            format!(
                "the lines chosen would raise what is owed by {}: reverse a credit line together with what it discounts",
                totals.gross
            ),
        ));
    }
    let credited_before =
        Money::checked_sum(currency, earlier.iter().map(|note| negated(note.gross)))?;
    let credited_after = credited_before.checked_sub(totals.gross)?;
    if credited_after.amount() > invoice.draft.gross.amount() {
        return Err(InvoicingError::conflict(
            "invoice",
            format!(
                "would credit {credited_after} in all, more than the invoice's gross total {}",
                invoice.draft.gross
            ),
        ));
    }

    Ok(CreditNote {
        id,
        number,
        invoice: invoice.id,
        invoice_number: invoice.number.clone(),
        org: invoice.draft.org,
        issued_on,
        reason,
        lines,
        net: totals.net,
        tax: totals.tax,
        gross: totals.gross,
    })
}

fn checked_reason(reason: &str) -> Result<String, InvoicingError> {
    let reason = reason.trim();
    match reason.chars().count() {
        0 => Err(InvoicingError::invalid("reason", "must not be empty")),
        n if n > MAX_REASON_CHARS => Err(InvoicingError::invalid(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        )),
        _ => Ok(reason.to_owned()),
    }
}

/// The net, tax and gross taken by crediting `gross` (more than zero, less than what is left
/// of the line's gross) from a line of which `rest` is left: the tax included in `gross` at
/// the line's rate, kept within what is left of the line's tax and net (module docs).
fn part_of(line: &InvoiceLine, rest: Amounts, gross: Money) -> Result<Amounts, InvoicingError> {
    let mut tax = tax_included(&gross, line.tax_rate)?.amount();
    let (rest_net, rest_tax) = (rest.net.amount(), rest.tax.amount());
    if rest_net >= Decimal::ZERO && rest_tax >= Decimal::ZERO {
        // Non-empty: gross ≤ rest.gross = rest_net + rest_tax, so gross − rest_net ≤ rest_tax.
        let lowest = gross
            .amount()
            .checked_sub(rest_net)
            .ok_or(MoneyError::Overflow)?
            .max(Decimal::ZERO);
        let highest = gross.amount().min(rest_tax);
        tax = tax.clamp(lowest, highest);
    }
    let tax = minor_scale(Money::new(tax, gross.currency()));
    Ok(Amounts {
        net: gross.checked_sub(tax)?,
        tax,
        gross,
    })
}

/// The credit note's copy of an invoice line, crediting `taken` (positive amounts).
fn credit_line(line: &InvoiceLine, taken: Amounts, mode: TaxMode) -> InvoiceLine {
    let credit = taken.negated();
    InvoiceLine {
        amount: match mode {
            TaxMode::Exclusive => credit.net,
            TaxMode::Inclusive => credit.gross,
        },
        net: credit.net,
        tax: credit.tax,
        gross: credit.gross,
        ..line.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{InvoiceStatus, TaxRate, ZeroInvoicePolicy};
    use super::*;
    use crate::ids::InvoiceId;
    use crate::money::Currency;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    /// An invoice of one line per `(amount, rate)`, composed under `mode`.
    fn invoice_of(charges: &[(Decimal, TaxRate)], mode: TaxMode) -> Invoice {
        let mut settings = settings(mode);
        settings.zero_invoices = ZeroInvoicePolicy::Issue;
        issued(
            close_with_charges(charges)
                .compose(&settings)
                .unwrap()
                .unwrap(),
        )
    }

    /// 100.00 net at 20% (120.00 gross) and 50.00 exempt, tax exclusive.
    fn two_line_invoice() -> Invoice {
        invoice_of(
            &[(dec!(100), rate(dec!(20))), (dec!(50), TaxRate::Exempt)],
            TaxMode::Exclusive,
        )
    }

    fn columns(amounts: Amounts) -> [Decimal; 3] {
        [
            amounts.net.amount(),
            amounts.tax.amount(),
            amounts.gross.amount(),
        ]
    }

    fn refused_on(result: Result<CreditNote, InvoicingError>, conflict: bool, on: &str) {
        match result {
            Err(InvoicingError::Conflict { field, .. }) if conflict && field == on => {}
            Err(InvoicingError::Invalid { field, .. }) if !conflict && field == on => {}
            other => panic!(
                "expected {} on {on}, got {other:?}",
                if conflict { "a conflict" } else { "an invalid" }
            ),
        }
    }

    /// Every column of the invoice and its credit notes, per line and in total, sums to zero.
    fn nets_to_zero(invoice: &Invoice, notes: &[CreditNote]) -> bool {
        let credited = credited_per_line(notes).unwrap();
        let lines_zero = invoice.draft.lines.iter().all(|line| {
            let taken = credited
                .get(&line.no)
                .copied()
                .unwrap_or(Amounts::zero(line.gross.currency()));
            line.amounts().checked_sub(taken).unwrap().is_zero()
        });
        let notes_total =
            Amounts::checked_sum(Currency::RUB, notes.iter().map(CreditNote::amounts)).unwrap();
        lines_zero
            && invoice
                .draft
                .amounts()
                .checked_add(notes_total)
                .unwrap()
                .is_zero()
    }

    #[test]
    fn crediting_part_of_a_line_splits_it_as_a_price_including_tax() {
        let invoice = two_line_invoice();
        let note = credit(&invoice, &[], &[take(1, Some(dec!(60.00)))]).unwrap();
        assert_eq!(note.lines.len(), 1);
        let line = &note.lines[0];
        assert_eq!(
            columns(line.amounts()),
            [dec!(-50.00), dec!(-10.00), dec!(-60.00)]
        );
        assert_eq!(line.amount, rub(dec!(-50.00))); // net, as the invoice is tax exclusive
        assert_eq!(
            (line.no, &line.service),
            (1, &invoice.draft.lines[0].service)
        );
        assert_eq!(line.source, invoice.draft.lines[0].source);
        assert_eq!(
            columns(note.amounts()),
            [dec!(-50.00), dec!(-10.00), dec!(-60.00)]
        );
        assert_eq!(note.invoice, invoice.id);
        assert_eq!(note.invoice_number, invoice.number);
        assert_eq!(note.org, invoice.draft.org);
        assert_eq!(note.number.to_string(), "KPK-CN-2026-000001");
        assert_eq!(note.reason, "Correction agreed with the customer");
    }

    #[test]
    fn crediting_what_is_left_of_a_line_takes_exactly_its_rest_in_every_column() {
        // 0.33 net → 0.07 tax (0.066), 0.40 gross. Credit 0.20 (tax 0.0333 → 0.03), then
        // the rest: 0.13 net, 0.04 tax, 0.20 gross — not 0.20 split again (0.03 tax).
        let invoice = invoice_of(&[(dec!(0.33), rate(dec!(20)))], TaxMode::Exclusive);
        let first = credit(&invoice, &[], &[take(1, Some(dec!(0.20)))]).unwrap();
        assert_eq!(
            columns(first.amounts()),
            [dec!(-0.17), dec!(-0.03), dec!(-0.20)]
        );
        let rest = credit(
            &invoice,
            std::slice::from_ref(&first),
            &[take(1, Some(dec!(0.20)))],
        )
        .unwrap();
        assert_eq!(
            columns(rest.amounts()),
            [dec!(-0.16), dec!(-0.04), dec!(-0.20)]
        );
        assert!(nets_to_zero(&invoice, &[first, rest]));
    }

    #[test]
    fn an_empty_request_credits_what_is_left_of_every_line() {
        let invoice = two_line_invoice();
        let part = credit(&invoice, &[], &[take(1, Some(dec!(60.00)))]).unwrap();
        let rest = credit(&invoice, std::slice::from_ref(&part), &[]).unwrap();
        assert_eq!(rest.lines.iter().map(|l| l.no).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            columns(rest.lines[0].amounts()),
            [dec!(-50), dec!(-10), dec!(-60)]
        );
        assert_eq!(
            columns(rest.lines[1].amounts()),
            [dec!(-50), dec!(0), dec!(-50)]
        );
        assert!(nets_to_zero(&invoice, &[part, rest]));
    }

    #[test]
    fn a_credit_note_lists_its_lines_in_invoice_order_whatever_the_request_order() {
        let invoice = two_line_invoice();
        let note = credit(&invoice, &[], &[take(2, None), take(1, Some(dec!(1)))]).unwrap();
        assert_eq!(note.lines.iter().map(|l| l.no).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn under_inclusive_tax_a_credit_line_states_its_gross_as_its_amount() {
        let invoice = invoice_of(&[(dec!(189.00), rate(dec!(20)))], TaxMode::Inclusive);
        let note = credit(&invoice, &[], &[]).unwrap();
        assert_eq!(note.lines[0].amount, rub(dec!(-189.00)));
        assert_eq!(
            columns(note.amounts()),
            [dec!(-157.50), dec!(-31.50), dec!(-189.00)]
        );
    }

    #[test]
    fn partial_credits_never_take_more_tax_or_net_than_the_line_has() {
        // 0.25 net at 20% → 0.05 tax, 0.30 gross. Each 0.03 credited holds 0.005 → 0.01 of
        // tax by the inclusive rule: nine of them would take 0.09 of a 0.05 tax.
        let invoice = invoice_of(&[(dec!(0.25), rate(dec!(20)))], TaxMode::Exclusive);
        let mut notes = Vec::new();
        for _ in 0..9 {
            let note = credit(&invoice, &notes, &[take(1, Some(dec!(0.03)))]).unwrap();
            notes.push(note);
            let taken = credited_per_line(&notes).unwrap()[&1];
            assert!(taken.tax.amount() <= dec!(0.05) && taken.net.amount() <= dec!(0.25));
            assert!(taken.tax.amount() >= dec!(0) && taken.net.amount() >= dec!(0));
        }
        notes.push(credit(&invoice, &notes, &[]).unwrap());
        assert!(
            notes
                .iter()
                .all(|n| n.tax.amount() <= dec!(0) && n.net.amount() <= dec!(0))
        );
        assert!(nets_to_zero(&invoice, &notes));
    }

    #[test]
    fn credited_per_line_sums_what_each_note_took_as_positive_amounts() {
        let invoice = two_line_invoice();
        let a = credit(&invoice, &[], &[take(1, Some(dec!(12)))]).unwrap();
        let b = credit(
            &invoice,
            std::slice::from_ref(&a),
            &[take(1, Some(dec!(24))), take(2, None)],
        )
        .unwrap();
        let credited = credited_per_line(&[a, b]).unwrap();
        assert_eq!(columns(credited[&1]), [dec!(30), dec!(6), dec!(36)]);
        assert_eq!(columns(credited[&2]), [dec!(50), dec!(0), dec!(50)]);
        assert_eq!(credited_per_line(&[]).unwrap().len(), 0);
    }

    #[test]
    fn a_request_for_a_line_the_invoice_does_not_have_or_twice_for_one_line_is_refused() {
        let invoice = two_line_invoice();
        refused_on(
            credit(&invoice, &[], &[take(3, None)]),
            false,
            "lines[0].line_no",
        );
        refused_on(
            credit(&invoice, &[], &[take(1, None), take(0, None)]),
            false,
            "lines[1].line_no",
        );
        refused_on(
            credit(
                &invoice,
                &[],
                &[
                    take(2, None),
                    take(1, Some(dec!(1))),
                    take(2, Some(dec!(1))),
                ],
            ),
            false,
            "lines[2].line_no",
        );
    }

    #[test]
    fn an_amount_must_be_more_than_zero_in_whole_minor_units() {
        let invoice = two_line_invoice();
        for bad in [dec!(0), dec!(-1), dec!(0.001), dec!(1.005)] {
            refused_on(
                credit(&invoice, &[], &[take(1, Some(bad))]),
                false,
                "lines[0].gross",
            );
        }
        assert!(credit(&invoice, &[], &[take(1, Some(dec!(1.500)))]).is_ok());
    }

    #[test]
    fn more_than_is_left_of_a_line_is_a_conflict() {
        let invoice = two_line_invoice();
        refused_on(
            credit(&invoice, &[], &[take(1, Some(dec!(120.01)))]),
            true,
            "lines[0].gross",
        );
        assert!(credit(&invoice, &[], &[take(1, Some(dec!(120.00)))]).is_ok());
        let part = credit(&invoice, &[], &[take(1, Some(dec!(100)))]).unwrap();
        refused_on(
            credit(
                &invoice,
                std::slice::from_ref(&part),
                &[take(2, None), take(1, Some(dec!(20.01)))],
            ),
            true,
            "lines[1].gross",
        );
        let rest = credit(&invoice, std::slice::from_ref(&part), &[take(1, None)]).unwrap();
        refused_on(
            credit(&invoice, &[part.clone(), rest.clone()], &[take(1, None)]),
            true,
            "lines[0].gross",
        );
        refused_on(
            credit(&invoice, &[part, rest], &[take(1, Some(dec!(0.01)))]),
            true,
            "lines[0].gross",
        );
    }

    #[test]
    fn a_fully_credited_invoice_has_nothing_left_to_credit() {
        let invoice = two_line_invoice();
        let all = credit(&invoice, &[], &[]).unwrap();
        assert!(nets_to_zero(&invoice, std::slice::from_ref(&all)));
        refused_on(
            credit(&invoice, std::slice::from_ref(&all), &[]),
            true,
            "invoice",
        );
        refused_on(
            credit(&invoice, &[all], &[take(2, Some(dec!(1)))]),
            true,
            "invoice",
        );
    }

    #[test]
    fn a_reason_is_one_to_five_hundred_characters_after_trimming() {
        let invoice = two_line_invoice();
        let with_reason = |reason: &str| {
            credit_note(
                &invoice,
                &[],
                &[],
                reason,
                CreditNoteId::new(),
                "KPK-CN-2026-000001".parse().unwrap(),
                day(2026, 12, 5),
            )
        };
        refused_on(with_reason("   "), false, "reason");
        refused_on(with_reason(&"я".repeat(501)), false, "reason");
        assert_eq!(
            with_reason(&format!(" {} ", "я".repeat(500)))
                .unwrap()
                .reason
                .chars()
                .count(),
            500
        );
        assert_eq!(
            with_reason("  Duplicate billing \n").unwrap().reason,
            "Duplicate billing"
        );
    }

    #[test]
    fn a_credit_note_takes_a_credit_note_number_of_its_series_and_year_not_before_the_invoice() {
        let invoice = two_line_invoice();
        let with = |number: &str, on: NaiveDate| {
            credit_note(
                &invoice,
                &[],
                &[],
                "Wrong price",
                CreditNoteId::new(),
                number.parse().unwrap(),
                on,
            )
        };
        refused_on(with("KPK-2026-000002", day(2026, 12, 5)), false, "number");
        refused_on(
            with("KPK-CN-2027-000001", day(2026, 12, 5)),
            false,
            "number",
        );
        refused_on(
            with("ABC-CN-2026-000001", day(2026, 12, 5)),
            false,
            "number",
        );
        refused_on(
            with("KPK-CN-2026-000001", day(2026, 11, 30)),
            false,
            "issued_on",
        );
        assert!(with("KPK-CN-2027-000001", day(2027, 1, 10)).is_ok());
        assert!(with("KPK-CN-2026-000001", invoice.issued_on).is_ok());
    }

    #[test]
    fn an_earlier_credit_note_of_another_invoice_is_refused() {
        let invoice = two_line_invoice();
        let mut stray = credit(&invoice, &[], &[take(1, Some(dec!(1)))]).unwrap();
        stray.invoice = InvoiceId::new();
        refused_on(credit(&invoice, &[stray], &[]), false, "invoice");
    }

    #[test]
    fn a_credit_line_is_reversed_only_whole_and_only_with_what_it_discounts() {
        // 100.00 and a credit of −30.00, both at 20%: 120.00 − 36.00 = 84.00.
        let invoice = invoice_of(
            &[(dec!(100), rate(dec!(20))), (dec!(-30), rate(dec!(20)))],
            TaxMode::Exclusive,
        );
        assert_eq!(invoice.draft.gross, rub(dec!(84.00)));
        refused_on(
            credit(&invoice, &[], &[take(2, Some(dec!(1)))]),
            true,
            "lines[0].gross",
        );
        refused_on(credit(&invoice, &[], &[take(2, None)]), true, "lines");
        // The first line alone would credit 120.00 of an 84.00 invoice.
        refused_on(credit(&invoice, &[], &[take(1, None)]), true, "invoice");
        let part = credit(&invoice, &[], &[take(1, Some(dec!(84)))]).unwrap();
        refused_on(
            credit(&invoice, std::slice::from_ref(&part), &[take(1, None)]),
            true,
            "invoice",
        );
        let rest = credit(&invoice, std::slice::from_ref(&part), &[]).unwrap();
        assert_eq!(rest.gross, rub(dec!(0)));
        assert!(nets_to_zero(&invoice, &[part, rest]));
    }

    #[test]
    fn a_negative_invoice_cannot_be_credited() {
        let invoice = invoice_of(&[(dec!(-30), rate(dec!(20)))], TaxMode::Exclusive);
        refused_on(credit(&invoice, &[], &[]), true, "lines");
    }

    #[test]
    fn an_invoice_of_zero_with_no_lines_of_value_has_nothing_to_credit() {
        let invoice = invoice_of(&[(dec!(0), rate(dec!(20)))], TaxMode::Exclusive);
        refused_on(credit(&invoice, &[], &[]), true, "invoice");
    }

    #[test]
    fn a_credit_note_travels_as_json() {
        let invoice = two_line_invoice();
        let note = credit(&invoice, &[], &[take(1, Some(dec!(60)))]).unwrap();
        let json = serde_json::to_value(&note).unwrap();
        assert_eq!(json["number"], "KPK-CN-2026-000001");
        assert_eq!(json["gross"]["amount"], "-60.00");
        assert_eq!(serde_json::from_value::<CreditNote>(json).unwrap(), note);
        let request: Vec<CreditRequestLine> =
            serde_json::from_str(r#"[{"line_no": 1, "amount": "60.00"}, {"line_no": 2}]"#).unwrap();
        assert_eq!(request, [take(1, Some(dec!(60.00))), take(2, None)]);
    }

    // --- Properties ------------------------------------------------------------------------

    /// A request: (line number, 0 to the line count + 1; amount in kopeks or all that is left).
    /// Mostly a few lines; now and then an empty request (all that is left).
    fn any_request() -> impl Strategy<Value = Vec<(u16, Option<i64>)>> {
        prop_oneof![
            1 => Just(Vec::new()),
            6 => prop::collection::vec(
                (0u16..=8, prop::option::weighted(0.7, -100i64..=60_000_000)),
                1..4,
            ),
        ]
    }

    proptest! {
        #[test]
        fn credit_notes_never_credit_more_than_the_invoice_and_crediting_all_nets_to_zero(
            charges in any_charges(6),
            mode in any_tax_mode(),
            requests in prop::collection::vec(any_request(), 0..8),
        ) {
            let mut invoice = invoice_of(&charges, mode);
            let gross = invoice.draft.gross.amount();
            let mut notes: Vec<CreditNote> = Vec::new();
            for request in requests {
                let request: Vec<_> = request
                    .into_iter()
                    .map(|(no, cents)| take(no, cents.map(|c| Decimal::new(c, 2))))
                    .collect();
                let Ok(note) = credit(&invoice, &notes, &request) else { continue };
                prop_assert!(note.gross.amount() <= Decimal::ZERO);
                prop_assert_eq!(note.net.checked_add(note.tax).unwrap(), note.gross);
                invoice.record_credit_note(&note).unwrap();
                notes.push(note);

                prop_assert!(invoice.credited.amount() <= gross);
                let credited = credited_per_line(&notes).unwrap();
                for line in invoice.draft.lines.iter().filter(|l| l.gross.amount() > Decimal::ZERO) {
                    if let Some(taken) = credited.get(&line.no) {
                        for (took, had) in [(taken.net, line.net), (taken.tax, line.tax), (taken.gross, line.gross)] {
                            prop_assert!(took.amount() >= Decimal::ZERO && took.amount() <= had.amount(),
                                "line {} took {} of {}", line.no, took, had);
                        }
                    }
                }
            }

            match credit(&invoice, &notes, &[]) {
                Ok(all) => {
                    invoice.record_credit_note(&all).unwrap();
                    notes.push(all);
                    prop_assert!(nets_to_zero(&invoice, &notes));
                    prop_assert_eq!(invoice.credited.amount(), gross);
                    let again = credit(&invoice, &notes, &[]);
                    let refused = matches!(again, Err(InvoicingError::Conflict { ref field, .. }) if field == "invoice");
                    prop_assert!(refused, "a second full credit was not refused: {:?}", again);
                    if gross > Decimal::ZERO {
                        prop_assert_eq!(invoice.status_on(day(2027, 6, 1)), InvoiceStatus::Void);
                    }
                }
                Err(InvoicingError::Conflict { field, .. }) => {
                    // Only a negative invoice, or one with nothing left, refuses a full credit.
                    prop_assert!(
                        (field == "lines" && gross < Decimal::ZERO)
                            || (field == "invoice" && nets_to_zero(&invoice, &notes)),
                        "refused on {} with gross {}", field, gross
                    );
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
