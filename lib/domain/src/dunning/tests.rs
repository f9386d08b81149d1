use super::*;
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn rub(amount: Decimal) -> Money {
    Money::new(amount, Currency::RUB)
}

fn invoice_id(n: u64) -> InvoiceId {
    InvoiceId::from_ulid(ulid::Ulid::from_parts(n, 0))
}

fn invoice(n: u64, due_on: NaiveDate, open: Decimal) -> DueInvoice {
    DueInvoice {
        id: invoice_id(n),
        number: format!("KPK-2026-{n:06}"),
        due_on,
        open: rub(open),
    }
}

fn days(from: NaiveDate, through: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= through)
}

fn is_invalid(err: &DunningError, on: &str) -> bool {
    matches!(err, DunningError::Invalid { field, .. } if field == on)
}

/// An action in short: `notify:overdue_notice#2`, `block`, `restore(unblock)`, `fee:7.00`.
fn short(action: &Action) -> String {
    match action {
        Action::Notify { kind, step, .. } => format!("notify:{}#{step}", kind.name()),
        Action::BlockOrders => "block".to_owned(),
        Action::Suspend => "suspend".to_owned(),
        Action::HandToPeople => "hand".to_owned(),
        Action::LateFee { amount } => format!("fee:{}", amount.amount_text()),
        Action::Restore { unblock, unsuspend } => match (unblock, unsuspend) {
            (true, true) => "restore(unblock,unsuspend)".to_owned(),
            (true, false) => "restore(unblock)".to_owned(),
            (false, true) => "restore(unsuspend)".to_owned(),
            (false, false) => "restore".to_owned(),
        },
    }
}

/// One customer run day after day with a controlled clock, its state fed back; every run is
/// also repeated on the same day to show that the repeat does nothing.
struct Walk {
    policy: DunningPolicy,
    customer: CustomerDunning,
    state: DunningState,
    /// The days that had actions, with the actions in short.
    log: Vec<(NaiveDate, Vec<String>)>,
}

impl Walk {
    fn new(policy: DunningPolicy) -> Self {
        Self {
            policy,
            customer: CustomerDunning::default(),
            state: DunningState::default(),
            log: Vec::new(),
        }
    }

    fn day(&mut self, today: NaiveDate, invoices: &[DueInvoice]) -> Vec<Action> {
        let decision = run(today, &self.policy, &self.customer, &self.state, invoices);
        let again = run(
            today,
            &self.policy,
            &self.customer,
            &decision.state,
            invoices,
        );
        assert_eq!(again.actions, [], "a second run on {today} did something");
        assert_eq!(again.state, decision.state, "a second run on {today}");
        self.state = decision.state;
        if !decision.actions.is_empty() {
            self.log
                .push((today, decision.actions.iter().map(short).collect()));
        }
        decision.actions
    }

    fn days(&mut self, from: NaiveDate, through: NaiveDate, invoices: &[DueInvoice]) {
        for today in days(from, through) {
            self.day(today, invoices);
        }
    }

    fn episode(&self) -> &Episode {
        self.state.episode.as_ref().expect("an episode")
    }

    fn take_log(&mut self) -> Vec<(NaiveDate, Vec<String>)> {
        std::mem::take(&mut self.log)
    }
}

fn log(entries: &[(NaiveDate, &[&str])]) -> Vec<(NaiveDate, Vec<String>)> {
    entries
        .iter()
        .map(|(d, actions)| (*d, actions.iter().map(|a| (*a).to_owned()).collect()))
        .collect()
}

// --- The policy --------------------------------------------------------------------------

#[test]
fn the_default_policy_is_the_written_one_and_passes_its_checks() {
    use StepKind::*;
    let policy = DunningPolicy::default();
    assert!(policy.enabled);
    let steps: Vec<(StepKind, i32)> = policy
        .steps
        .iter()
        .map(|s| (s.kind, s.offset_days))
        .collect();
    assert_eq!(
        steps,
        [
            (Reminder, -3),
            (DueNotice, 0),
            (OverdueNotice, 7),
            (BlockOrders, 14),
            (OverdueNotice, 21),
            (Suspend, 30),
            (Final, 45),
        ]
    );
    assert_eq!(policy.min_overdue, dec!(0));
    assert!(!policy.late_fee.enabled);
    assert_eq!(policy.late_fee.percent_per_day, dec!(0.1));
    assert_eq!(policy.late_fee.cap_percent, dec!(10));
    assert_eq!(policy.reminder_horizon_days(), 3);
    assert_eq!(policy.clone().checked(), Ok(policy));
}

#[test]
fn a_policy_travels_as_json_with_decimal_strings_and_no_unknown_fields() {
    let policy = DunningPolicy::default();
    let json = serde_json::to_string(&policy).unwrap();
    assert!(
        json.contains(r#"{"kind":"reminder","offset_days":-3}"#),
        "{json}"
    );
    assert!(json.contains(r#""min_overdue":"0""#), "{json}");
    assert!(json.contains(r#""percent_per_day":"0.1""#), "{json}");
    assert_eq!(
        serde_json::from_str::<DunningPolicy>(&json).unwrap(),
        policy
    );
    let extra = json.replacen("{", r#"{"grace_days":3,"#, 1);
    assert!(serde_json::from_str::<DunningPolicy>(&extra).is_err());
    let number = json.replace(r#""min_overdue":"0""#, r#""min_overdue":0"#);
    assert!(serde_json::from_str::<DunningPolicy>(&number).is_err());
}

fn with_steps(steps: &[(StepKind, i32)]) -> DunningPolicy {
    DunningPolicy {
        steps: steps.iter().map(|(k, o)| Step::new(*k, *o)).collect(),
        ..DunningPolicy::default()
    }
}

#[test]
fn policy_checks_name_the_field_at_fault() {
    use StepKind::*;
    let cases: Vec<(DunningPolicy, &str)> = vec![
        (with_steps(&[(OverdueNotice, 1); 13]), "steps"),
        (with_steps(&[(Reminder, -31)]), "steps[0].offset_days"),
        (
            with_steps(&[(DueNotice, 0), (Final, 366)]),
            "steps[1].offset_days",
        ),
        (with_steps(&[(Reminder, 0)]), "steps[0].offset_days"),
        (with_steps(&[(DueNotice, 1)]), "steps[0].offset_days"),
        (
            with_steps(&[(DueNotice, 0), (OverdueNotice, 0)]),
            "steps[1].offset_days",
        ),
        (with_steps(&[(BlockOrders, -1)]), "steps[0].offset_days"),
        (
            with_steps(&[(DueNotice, 0), (OverdueNotice, 7), (OverdueNotice, 5)]),
            "steps[2].offset_days",
        ),
        (
            with_steps(&[(OverdueNotice, 7), (OverdueNotice, 7)]),
            "steps[1].offset_days",
        ),
        (
            with_steps(&[(BlockOrders, 7), (BlockOrders, 14)]),
            "steps[1].kind",
        ),
        (
            with_steps(&[(Suspend, 10), (BlockOrders, 14)]),
            "steps[1].kind",
        ),
        (
            with_steps(&[(Suspend, 10), (BlockOrders, 10)]),
            "steps[1].kind",
        ),
        (
            with_steps(&[(Final, 30), (OverdueNotice, 30)]),
            "steps[0].kind",
        ),
        (
            DunningPolicy {
                min_overdue: dec!(-1),
                ..DunningPolicy::default()
            },
            "min_overdue",
        ),
        (
            DunningPolicy {
                late_fee: LateFee {
                    percent_per_day: dec!(1.01),
                    ..LateFee::default()
                },
                ..DunningPolicy::default()
            },
            "late_fee.percent_per_day",
        ),
        (
            DunningPolicy {
                late_fee: LateFee {
                    percent_per_day: dec!(-0.1),
                    ..LateFee::default()
                },
                ..DunningPolicy::default()
            },
            "late_fee.percent_per_day",
        ),
        (
            DunningPolicy {
                late_fee: LateFee {
                    cap_percent: dec!(100.5),
                    ..LateFee::default()
                },
                ..DunningPolicy::default()
            },
            "late_fee.cap_percent",
        ),
    ];
    for (policy, field) in cases {
        let err = policy.clone().checked().unwrap_err();
        assert!(
            is_invalid(&err, field),
            "{policy:?}: {err}, expected {field}"
        );
    }
    let err = with_steps(&[(Suspend, 10), (BlockOrders, 14)])
        .checked()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "steps[1].kind: orders must be blocked no later than the suspension (steps[0])"
    );
}

#[test]
fn policies_within_the_rules_pass() {
    use StepKind::*;
    for steps in [
        vec![],
        vec![(Reminder, -30), (Reminder, -7), (Final, 365)],
        vec![(BlockOrders, 10), (Suspend, 10)],
        vec![(OverdueNotice, 3), (OverdueNotice, 6), (OverdueNotice, 9)],
        vec![(DueNotice, 0), (OverdueNotice, 30), (Final, 30)],
    ] {
        let policy = with_steps(&steps);
        assert_eq!(policy.clone().checked(), Ok(policy));
    }
    let mut policy = with_steps(&[(OverdueNotice, 1); 12]);
    for (i, step) in policy.steps.iter_mut().enumerate() {
        step.offset_days = i32::try_from(i).unwrap() + 1;
    }
    assert!(policy.checked().is_ok());
    let bounds = DunningPolicy {
        min_overdue: dec!(500),
        late_fee: LateFee {
            enabled: true,
            percent_per_day: dec!(1),
            cap_percent: dec!(100),
        },
        ..DunningPolicy::default()
    };
    assert!(bounds.checked().is_ok());
}

#[test]
fn a_customers_settings_are_checked_with_fields_under_their_path() {
    let own = CustomerDunning {
        mode: Mode::Policy,
        policy_override: Some(with_steps(&[(StepKind::Reminder, 3)])),
    };
    let err = own.checked().unwrap_err();
    assert!(
        is_invalid(&err, "policy_override.steps[0].offset_days"),
        "{err}"
    );
    let hold = |reason: &str, by: &str| CustomerDunning {
        mode: Mode::Hold {
            until: None,
            reason: reason.to_owned(),
            by: by.to_owned(),
        },
        policy_override: None,
    };
    assert!(is_invalid(
        &hold("  ", "Anna").checked().unwrap_err(),
        "mode.reason"
    ));
    assert!(is_invalid(
        &hold(&"x".repeat(501), "Anna").checked().unwrap_err(),
        "mode.reason"
    ));
    assert!(is_invalid(
        &hold("promised to pay", " ").checked().unwrap_err(),
        "mode.by"
    ));
    assert_eq!(
        hold("  promised to pay\n", " Anna ")
            .checked()
            .unwrap()
            .mode,
        Mode::Hold {
            until: None,
            reason: "promised to pay".to_owned(),
            by: "Anna".to_owned()
        }
    );
}

#[test]
fn a_customers_mode_travels_tagged_with_its_kind() {
    let customer = CustomerDunning {
        mode: Mode::Hold {
            until: Some(day(2026, 12, 20)),
            reason: "Обещали оплатить".to_owned(),
            by: "usr_manager".to_owned(),
        },
        policy_override: None,
    };
    let json = serde_json::to_string(&customer).unwrap();
    assert_eq!(
        json,
        r#"{"mode":{"kind":"hold","until":"2026-12-20","reason":"Обещали оплатить","by":"usr_manager"}}"#
    );
    assert_eq!(
        serde_json::from_str::<CustomerDunning>(&json).unwrap(),
        customer
    );
    let forever: CustomerDunning =
        serde_json::from_str(r#"{"mode":{"kind":"hold","reason":"r","by":"b"}}"#).unwrap();
    assert!(matches!(forever.mode, Mode::Hold { until: None, .. }));
    let off: CustomerDunning = serde_json::from_str(r#"{"mode":{"kind":"off"}}"#).unwrap();
    assert_eq!(off.mode, Mode::Off);
    assert!(
        serde_json::from_str::<CustomerDunning>(
            r#"{"mode":{"kind":"hold","until":"2026-12-2","reason":"r","by":"b"}}"#
        )
        .is_err()
    );
}

// --- The controlled-clock walk -----------------------------------------------------------

fn one_invoice() -> Vec<DueInvoice> {
    vec![invoice(1, day(2026, 11, 30), dec!(1234.56))]
}

#[test]
fn the_default_policy_takes_each_step_on_its_day_and_a_rerun_does_nothing() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.days(day(2026, 11, 20), day(2027, 1, 31), &one_invoice());
    assert_eq!(
        walk.take_log(),
        log(&[
            (day(2026, 11, 27), &["notify:reminder#0"]),
            (day(2026, 11, 30), &["notify:due_notice#1"]),
            (day(2026, 12, 7), &["notify:overdue_notice#2"]),
            (day(2026, 12, 14), &["block", "notify:block_orders#3"]),
            (day(2026, 12, 21), &["notify:overdue_notice#4"]),
            (day(2026, 12, 30), &["suspend", "notify:suspend#5"]),
            (day(2027, 1, 14), &["hand", "notify:final#6"]),
        ])
    );
    let ep = walk.episode();
    assert_eq!(ep.started_on, day(2026, 11, 27));
    assert_eq!(ep.oldest_due, day(2026, 11, 30));
    assert!(ep.blocked && ep.suspended);
    assert_eq!(ep.overdue, rub(dec!(1234.56)));
    assert_eq!(ep.fee_charged, rub(dec!(0)));
    let indices: Vec<usize> = ep.done.iter().map(|d| d.index).collect();
    assert_eq!(indices, [0, 1, 2, 3, 4, 5, 6]);
    assert!(ep.done.iter().all(|d| !d.skipped_notice));
    assert_eq!(ep.done[3].on, day(2026, 12, 14));
}

#[test]
fn a_notice_carries_the_overdue_amount_the_anchor_and_the_invoices() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.days(day(2026, 11, 20), day(2026, 12, 6), &one_invoice());
    let actions = walk.day(day(2026, 12, 7), &one_invoice());
    assert_eq!(
        actions,
        [Action::Notify {
            kind: StepKind::OverdueNotice,
            step: 2,
            overdue: rub(dec!(1234.56)),
            oldest_due: day(2026, 11, 30),
            invoices: vec![(
                "KPK-2026-000001".to_owned(),
                rub(dec!(1234.56)),
                day(2026, 11, 30)
            )],
            late_fee: None,
        }]
    );
    // Before the due date nothing is overdue yet; the reminder lists what is coming due.
    let mut walk = Walk::new(DunningPolicy::default());
    let actions = walk.day(day(2026, 11, 27), &one_invoice());
    assert!(matches!(
        &actions[..],
        [Action::Notify { kind: StepKind::Reminder, overdue, invoices, .. }]
            if overdue.is_zero() && invoices.len() == 1
    ));
}

#[test]
fn paying_everything_restores_once_and_then_nothing_happens() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.days(day(2026, 11, 20), day(2026, 12, 19), &one_invoice());
    assert!(walk.episode().blocked);
    walk.take_log();
    // Paid on 2026-12-20: the invoice is open for nothing.
    let paid = [invoice(1, day(2026, 11, 30), dec!(0))];
    let actions = walk.day(day(2026, 12, 20), &paid);
    assert_eq!(
        actions,
        [Action::Restore {
            unblock: true,
            unsuspend: false
        }]
    );
    assert_eq!(walk.state, DunningState::default());
    walk.days(day(2026, 12, 21), day(2027, 1, 31), &paid);
    walk.days(day(2026, 12, 21), day(2027, 1, 31), &[]);
    assert_eq!(
        walk.take_log(),
        log(&[(day(2026, 12, 20), &["restore(unblock)"])])
    );
}

#[test]
fn a_run_down_for_ten_days_takes_the_due_steps_at_once_with_one_notice() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.days(day(2026, 11, 20), day(2026, 11, 27), &one_invoice());
    // Down from 11-28 through 12-14 (the due notice, the first overdue notice and the block
    // fell due meanwhile).
    let actions = walk.day(day(2026, 12, 15), &one_invoice());
    assert_eq!(
        actions.iter().map(short).collect::<Vec<_>>(),
        ["block", "notify:block_orders#3"]
    );
    let done: Vec<(usize, bool)> = walk
        .episode()
        .done
        .iter()
        .map(|d| (d.index, d.skipped_notice))
        .collect();
    assert_eq!(done, [(0, false), (1, true), (2, true), (3, false)]);
    assert!(
        walk.episode().done[1..]
            .iter()
            .all(|d| d.on == day(2026, 12, 15))
    );
    walk.take_log();
    walk.days(day(2026, 12, 16), day(2026, 12, 31), &one_invoice());
    assert_eq!(
        walk.take_log(),
        log(&[
            (day(2026, 12, 21), &["notify:overdue_notice#4"]),
            (day(2026, 12, 30), &["suspend", "notify:suspend#5"]),
        ])
    );
}

#[test]
fn an_invoice_first_seen_long_overdue_blocks_and_suspends_at_once_with_one_notice() {
    let mut walk = Walk::new(DunningPolicy::default());
    let actions = walk.day(day(2027, 1, 5), &one_invoice());
    assert_eq!(
        actions.iter().map(short).collect::<Vec<_>>(),
        ["block", "suspend", "notify:suspend#5"]
    );
    assert_eq!(walk.episode().done.len(), 6);
}

// --- Holds and off -----------------------------------------------------------------------

#[test]
fn a_hold_takes_no_step_until_it_ends_and_then_the_steps_resume() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.customer.mode = Mode::Hold {
        until: Some(day(2026, 12, 20)),
        reason: "promised to pay by the 20th".to_owned(),
        by: "usr_anna".to_owned(),
    };
    walk.days(day(2026, 11, 20), day(2027, 1, 31), &one_invoice());
    assert_eq!(
        walk.take_log(),
        log(&[
            // The hold ran through 12-20: what fell due meanwhile is taken at once.
            (day(2026, 12, 21), &["block", "notify:overdue_notice#4"]),
            (day(2026, 12, 30), &["suspend", "notify:suspend#5"]),
            (day(2027, 1, 14), &["hand", "notify:final#6"]),
        ])
    );
    // The episode was kept while held.
    assert_eq!(walk.episode().started_on, day(2026, 11, 27));
}

#[test]
fn a_payment_restores_a_held_customer() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.days(day(2026, 11, 20), day(2026, 12, 15), &one_invoice());
    assert!(walk.episode().blocked);
    walk.take_log();
    walk.customer.mode = Mode::Hold {
        until: None,
        reason: "in dispute".to_owned(),
        by: "usr_anna".to_owned(),
    };
    walk.days(day(2026, 12, 16), day(2027, 1, 20), &one_invoice());
    assert_eq!(walk.take_log(), []);
    assert!(walk.episode().blocked && !walk.episode().suspended);
    walk.days(day(2027, 1, 21), day(2027, 1, 31), &[]);
    assert_eq!(
        walk.take_log(),
        log(&[(day(2027, 1, 21), &["restore(unblock)"])])
    );
}

#[test]
fn suspended_days_are_kept_through_a_hold_and_after_the_restore() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.days(day(2026, 11, 20), day(2027, 1, 4), &one_invoice());
    // Suspended on the 30th of December, still suspended.
    let open = Pause {
        from: day(2026, 12, 30),
        until: None,
    };
    assert_eq!(walk.state.suspensions, [open]);
    assert!(walk.state.suspended_on(&walk.customer, day(2027, 1, 4)));
    // A manager's hold from the 5th to the 9th lifts it for those days…
    walk.customer.mode = Mode::Hold {
        until: Some(day(2027, 1, 9)),
        reason: "promised to pay".to_owned(),
        by: "usr_anna".to_owned(),
    };
    walk.days(day(2027, 1, 5), day(2027, 1, 9), &one_invoice());
    assert!(!walk.state.suspended_on(&walk.customer, day(2027, 1, 9)));
    // …it is back when the hold ends, until the payment restores the customer on the 12th.
    walk.days(day(2027, 1, 10), day(2027, 1, 11), &one_invoice());
    walk.days(day(2027, 1, 12), day(2027, 1, 20), &[]);
    assert_eq!(
        walk.state.suspensions,
        [
            Pause {
                from: day(2026, 12, 30),
                until: Some(day(2027, 1, 5)),
            },
            Pause {
                from: day(2027, 1, 10),
                until: Some(day(2027, 1, 12)),
            },
        ]
    );
    assert!(walk.state.episode.is_none());
    assert!(
        !walk
            .state
            .orders_blocked_on(&walk.customer, day(2027, 1, 20))
    );
}

#[test]
fn a_setting_changed_on_the_day_of_the_suspension_leaves_no_paused_day() {
    let mut state = DunningState {
        episode: None,
        suspensions: vec![Pause {
            from: day(2026, 12, 30),
            until: None,
        }],
    };
    state.track_suspension(&CustomerDunning::default(), day(2026, 12, 30));
    assert_eq!(state.suspensions, []);
}

#[test]
fn a_late_fee_is_a_charge_of_the_days_period_without_vat() {
    let org = OrgId::new();
    let period = crate::period::BillingPeriod::new(2026, 12).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-14T06:00:00Z")
        .unwrap()
        .to_utc();
    let charge = late_fee_charge(
        org,
        rub(dec!(12.35)),
        day(2026, 11, 30),
        day(2026, 12, 14),
        period,
        at,
    );
    assert_eq!(charge.org, org);
    assert_eq!(charge.period, period);
    assert_eq!(charge.amount, rub(dec!(12.35)));
    assert_eq!(charge.tax_rate, TaxRate::Exempt);
    assert_eq!(charge.service.as_str(), LATE_FEE_SERVICE);
    assert_eq!(charge.rendered_on, day(2026, 12, 14));
    assert_eq!(
        charge.source,
        ChargeSource::LateFee {
            oldest_due: day(2026, 11, 30)
        }
    );
    assert_eq!(
        charge.description.ru(),
        "Пени за просрочку оплаты (срок оплаты 30.11.2026)"
    );
    assert_eq!(
        charge.description.en(),
        "Late payment fee (payment due 2026-11-30)"
    );
}

#[test]
fn dunning_turned_off_takes_no_step_but_a_payment_still_ends_the_episode() {
    for turned_off in [true, false] {
        let mut walk = Walk::new(DunningPolicy::default());
        if turned_off {
            walk.customer.mode = Mode::Off;
        } else {
            walk.policy.enabled = false;
        }
        walk.days(day(2026, 11, 20), day(2027, 1, 31), &one_invoice());
        assert_eq!(walk.take_log(), []);
        assert_eq!(walk.episode().done, []);
        assert_eq!(walk.episode().overdue, rub(dec!(1234.56)));
        walk.day(day(2027, 2, 1), &[]);
        assert_eq!(walk.take_log(), log(&[(day(2027, 2, 1), &["restore"])]));
        assert_eq!(walk.state.episode, None);
    }
}

#[test]
fn a_customers_own_policy_wins_over_the_providers() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.customer.policy_override = Some(with_steps(&[
        (StepKind::OverdueNotice, 3),
        (StepKind::Suspend, 5),
    ]));
    walk.days(day(2026, 11, 20), day(2026, 12, 31), &one_invoice());
    assert_eq!(
        walk.take_log(),
        log(&[
            (day(2026, 12, 3), &["notify:overdue_notice#0"]),
            (day(2026, 12, 5), &["suspend", "notify:suspend#1"]),
        ])
    );
    // No reminder: the invoice counted from its due date on.
    assert_eq!(walk.episode().started_on, day(2026, 11, 30));
}

// --- Amounts -----------------------------------------------------------------------------

#[test]
fn an_overdue_amount_below_the_minimum_takes_no_overdue_step_until_it_is_reached() {
    let policy = DunningPolicy {
        min_overdue: dec!(100),
        ..DunningPolicy::default()
    };
    let mut walk = Walk::new(policy);
    let small = invoice(1, day(2026, 11, 30), dec!(50));
    walk.days(
        day(2026, 11, 20),
        day(2026, 12, 31),
        std::slice::from_ref(&small),
    );
    assert_eq!(
        walk.take_log(),
        log(&[
            (day(2026, 11, 27), &["notify:reminder#0"]),
            (day(2026, 11, 30), &["notify:due_notice#1"]),
        ])
    );
    assert_eq!(walk.episode().overdue, rub(dec!(50)));
    // A second invoice falls due on 12-31: from 2027-01-01, 130.00 is overdue.
    let both = [small, invoice(2, day(2026, 12, 31), dec!(80))];
    walk.days(day(2027, 1, 1), day(2027, 1, 31), &both);
    assert_eq!(
        walk.take_log(),
        log(&[
            (day(2027, 1, 1), &["block", "suspend", "notify:suspend#5"]),
            (day(2027, 1, 14), &["hand", "notify:final#6"]),
        ])
    );
    // Same anchor: the second invoice joined the episode.
    assert_eq!(walk.episode().oldest_due, day(2026, 11, 30));
}

#[test]
fn a_kopek_is_not_worth_chasing_unless_the_minimum_is_zero() {
    let mut walk = Walk::new(DunningPolicy::default());
    let crumbs = [invoice(1, day(2026, 11, 30), dec!(0.009))];
    walk.days(day(2026, 11, 20), day(2026, 12, 31), &crumbs);
    assert_eq!(walk.take_log(), []);
    assert_eq!(walk.state.episode, None);
    let kopek = [invoice(1, day(2026, 11, 30), dec!(0.01))];
    walk.days(day(2026, 11, 20), day(2026, 12, 7), &kopek);
    assert_eq!(walk.take_log().len(), 3);
}

#[test]
fn a_partial_payment_keeps_the_episode_and_its_anchor() {
    let mut walk = Walk::new(DunningPolicy::default());
    let a = |open| invoice(1, day(2026, 11, 30), open);
    let b = invoice(2, day(2026, 12, 10), dec!(500));
    walk.days(day(2026, 11, 20), day(2026, 12, 4), &[a(dec!(1000))]);
    // 600.00 of A paid on 12-05: the overdue notice shows what is left.
    walk.days(
        day(2026, 12, 5),
        day(2026, 12, 6),
        &[a(dec!(400)), b.clone()],
    );
    let actions = walk.day(day(2026, 12, 7), &[a(dec!(400)), b.clone()]);
    assert!(matches!(
        &actions[..],
        [Action::Notify { kind: StepKind::OverdueNotice, overdue, invoices, .. }]
            if *overdue == rub(dec!(400)) && invoices.len() == 1
    ));
    walk.days(
        day(2026, 12, 8),
        day(2026, 12, 19),
        &[a(dec!(400)), b.clone()],
    );
    assert!(walk.episode().blocked);
    assert_eq!(walk.episode().overdue, rub(dec!(900)));
    walk.take_log();
    // A paid in full on 12-20; B (due 12-10) is still overdue: the episode and the block stay,
    // and the anchor stays at A's due date.
    walk.days(
        day(2026, 12, 20),
        day(2026, 12, 23),
        std::slice::from_ref(&b),
    );
    assert_eq!(walk.episode().oldest_due, day(2026, 11, 30));
    assert!(walk.episode().blocked);
    assert_eq!(walk.episode().overdue, rub(dec!(500)));
    let log = walk.take_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, day(2026, 12, 21));
    assert_eq!(log[0].1, ["notify:overdue_notice#4"]);
    walk.day(day(2026, 12, 24), &[]);
    assert_eq!(
        walk.take_log(),
        [(day(2026, 12, 24), vec!["restore(unblock)".to_owned()])]
    );
}

#[test]
fn an_invoice_overdue_after_a_restore_starts_a_new_episode() {
    let mut walk = Walk::new(DunningPolicy::default());
    walk.days(day(2026, 11, 20), day(2026, 12, 1), &one_invoice());
    let second = [invoice(2, day(2026, 12, 31), dec!(700))];
    walk.days(day(2026, 12, 2), day(2027, 1, 31), &second);
    assert_eq!(
        walk.take_log(),
        log(&[
            (day(2026, 11, 27), &["notify:reminder#0"]),
            (day(2026, 11, 30), &["notify:due_notice#1"]),
            (day(2026, 12, 2), &["restore"]),
            (day(2026, 12, 28), &["notify:reminder#0"]),
            (day(2026, 12, 31), &["notify:due_notice#1"]),
            (day(2027, 1, 7), &["notify:overdue_notice#2"]),
            (day(2027, 1, 14), &["block", "notify:block_orders#3"]),
            (day(2027, 1, 21), &["notify:overdue_notice#4"]),
            (day(2027, 1, 30), &["suspend", "notify:suspend#5"]),
        ])
    );
    assert_eq!(walk.episode().started_on, day(2026, 12, 28));
    assert_eq!(walk.episode().oldest_due, day(2026, 12, 31));
}

#[test]
fn a_restore_and_the_next_reminder_can_come_in_one_run() {
    let mut walk = Walk::new(DunningPolicy::default());
    let next = invoice(2, day(2026, 12, 22), dec!(300));
    walk.days(
        day(2026, 11, 20),
        day(2026, 12, 19),
        &[one_invoice().remove(0), next.clone()],
    );
    let actions = walk.day(day(2026, 12, 20), std::slice::from_ref(&next));
    assert_eq!(
        actions.iter().map(short).collect::<Vec<_>>(),
        ["restore(unblock)", "notify:reminder#0"]
    );
    let ep = walk.episode();
    assert_eq!(
        (ep.started_on, ep.oldest_due),
        (day(2026, 12, 20), day(2026, 12, 22))
    );
    assert!(!ep.blocked);
}

#[test]
fn an_older_invoice_open_again_moves_the_anchor_back() {
    let mut walk = Walk::new(DunningPolicy::default());
    let later = invoice(2, day(2026, 12, 10), dec!(100));
    walk.days(
        day(2026, 12, 7),
        day(2026, 12, 11),
        std::slice::from_ref(&later),
    );
    assert_eq!(walk.episode().oldest_due, day(2026, 12, 10));
    walk.take_log();
    // A payment of an invoice due 11-30 is reversed on 12-12.
    let reopened = [invoice(1, day(2026, 11, 30), dec!(50)), later];
    let actions = walk.day(day(2026, 12, 12), &reopened);
    assert_eq!(walk.episode().oldest_due, day(2026, 11, 30));
    assert_eq!(
        actions.iter().map(short).collect::<Vec<_>>(),
        ["notify:overdue_notice#2"]
    );
}

#[test]
fn invoices_in_another_currency_are_left_out() {
    let mut walk = Walk::new(DunningPolicy::default());
    let mut usd = invoice(2, day(2026, 12, 1), dec!(99));
    usd.open = Money::new(dec!(99), Currency::USD);
    walk.days(
        day(2026, 11, 20),
        day(2026, 12, 7),
        &[one_invoice().remove(0), usd],
    );
    assert_eq!(walk.episode().overdue, rub(dec!(1234.56)));
}

// --- Late fee ----------------------------------------------------------------------------

fn with_fee(percent_per_day: Decimal, cap_percent: Decimal) -> DunningPolicy {
    DunningPolicy {
        late_fee: LateFee {
            enabled: true,
            percent_per_day,
            cap_percent,
        },
        ..DunningPolicy::default()
    }
}

#[test]
fn the_late_fee_accrues_by_day_and_is_charged_at_each_overdue_step() {
    let mut walk = Walk::new(with_fee(dec!(0.1), dec!(10)));
    let invoices = [invoice(1, day(2026, 11, 30), dec!(1000))];
    walk.days(day(2026, 11, 20), day(2027, 1, 31), &invoices);
    assert_eq!(
        walk.take_log(),
        log(&[
            (day(2026, 11, 27), &["notify:reminder#0"]),
            (day(2026, 11, 30), &["notify:due_notice#1"]),
            // 0.1 % × 7 days × 1000.00 = 7.00
            (day(2026, 12, 7), &["fee:7.00", "notify:overdue_notice#2"]),
            (
                day(2026, 12, 14),
                &["block", "fee:7.00", "notify:block_orders#3"]
            ),
            (day(2026, 12, 21), &["fee:7.00", "notify:overdue_notice#4"]),
            (
                day(2026, 12, 30),
                &["suspend", "fee:9.00", "notify:suspend#5"]
            ),
            (day(2027, 1, 14), &["hand", "fee:15.00", "notify:final#6"]),
        ])
    );
    assert_eq!(walk.episode().fee_charged, rub(dec!(45)));
}

#[test]
fn the_notice_of_a_step_that_charged_a_late_fee_announces_it() {
    let mut walk = Walk::new(with_fee(dec!(0.1), dec!(10)));
    let invoices = [invoice(1, day(2026, 11, 30), dec!(1000))];
    walk.days(day(2026, 11, 20), day(2026, 12, 6), &invoices);
    let actions = walk.day(day(2026, 12, 7), &invoices);
    let notify = actions.last().expect("a notice");
    assert!(matches!(notify, Action::Notify { late_fee: Some(fee), .. } if *fee == rub(dec!(7))));
    let ru = notice(notify, "ООО «Ромашка»", DocumentLanguage::Ru).unwrap();
    assert!(
        ru.body.contains("начислены пени: 7,00\u{a0}₽"),
        "{}",
        ru.body
    );
    let en = notice(notify, "Romashka LLC", DocumentLanguage::En).unwrap();
    assert!(
        en.body.contains("late payment fee of 7.00 RUB"),
        "{}",
        en.body
    );
    // Without a fee, no word of one.
    let plain = notice(
        &overdue_notify(StepKind::OverdueNotice),
        "X",
        DocumentLanguage::Ru,
    )
    .unwrap();
    assert!(!plain.body.contains("пени"));
}

#[test]
fn the_late_fee_is_capped_and_rounded_once() {
    let mut walk = Walk::new(with_fee(dec!(1), dec!(10)));
    let invoices = [invoice(1, day(2026, 11, 30), dec!(1000))];
    walk.days(day(2026, 11, 20), day(2027, 1, 31), &invoices);
    let fees: Vec<(NaiveDate, String)> = walk
        .take_log()
        .into_iter()
        .flat_map(|(d, actions)| {
            actions
                .into_iter()
                .filter(|a| a.starts_with("fee"))
                .map(move |a| (d, a))
        })
        .collect();
    // 7 % of 1000.00 = 70.00, then capped at 10 %: 30.00 more, then nothing.
    assert_eq!(
        fees,
        [
            (day(2026, 12, 7), "fee:70.00".to_owned()),
            (day(2026, 12, 14), "fee:30.00".to_owned()),
        ]
    );
    assert_eq!(walk.episode().fee_charged, rub(dec!(100)));

    // 0.1 % × 7 days × 333.33 = 2.33331 → 2.33.
    let mut walk = Walk::new(with_fee(dec!(0.1), dec!(10)));
    walk.days(
        day(2026, 12, 1),
        day(2026, 12, 7),
        &[invoice(1, day(2026, 11, 30), dec!(333.33))],
    );
    assert_eq!(walk.episode().fee_charged, rub(dec!(2.33)));
}

#[test]
fn the_late_fee_counts_each_invoice_from_its_own_due_date() {
    let mut walk = Walk::new(with_fee(dec!(0.1), dec!(10)));
    let invoices = [
        invoice(1, day(2026, 11, 30), dec!(1000)),
        invoice(2, day(2026, 12, 4), dec!(1000)),
    ];
    walk.days(day(2026, 12, 1), day(2026, 12, 7), &invoices);
    // 1000 × 0.1 % × 7 + 1000 × 0.1 % × 3 = 10.00
    assert_eq!(walk.episode().fee_charged, rub(dec!(10)));
}

#[test]
fn no_late_fee_while_held_or_below_the_minimum() {
    let mut walk = Walk::new(DunningPolicy {
        min_overdue: dec!(5000),
        ..with_fee(dec!(0.1), dec!(10))
    });
    walk.days(day(2026, 11, 20), day(2027, 1, 31), &one_invoice());
    assert_eq!(walk.episode().fee_charged, rub(dec!(0)));
    let mut walk = Walk::new(with_fee(dec!(0.1), dec!(10)));
    walk.customer.mode = Mode::Off;
    walk.days(day(2026, 11, 20), day(2027, 1, 31), &one_invoice());
    assert_eq!(walk.episode().fee_charged, rub(dec!(0)));
}

// --- Texts -------------------------------------------------------------------------------

fn overdue_notify(kind: StepKind) -> Action {
    Action::Notify {
        kind,
        step: 2,
        overdue: rub(dec!(1734.56)),
        oldest_due: day(2026, 11, 30),
        invoices: vec![
            (
                "KPK-2026-000001".to_owned(),
                rub(dec!(1234.56)),
                day(2026, 11, 30),
            ),
            (
                "KPK-2026-000002".to_owned(),
                rub(dec!(500)),
                day(2026, 12, 5),
            ),
        ],
        late_fee: None,
    }
}

#[test]
fn money_and_dates_are_written_as_the_language_writes_them() {
    use DocumentLanguage::{En, Ru};
    assert_eq!(money_text(rub(dec!(1234.56)), Ru), "1\u{a0}234,56\u{a0}₽");
    assert_eq!(money_text(rub(dec!(1234.56)), En), "1,234.56 RUB");
    assert_eq!(
        money_text(rub(dec!(1234567)), Ru),
        "1\u{a0}234\u{a0}567,00\u{a0}₽"
    );
    assert_eq!(money_text(rub(dec!(0.125)), En), "0.13 RUB");
    assert_eq!(money_text(rub(dec!(999)), En), "999.00 RUB");
    assert_eq!(
        money_text(Money::new(dec!(-50), Currency::EUR), Ru),
        "-50,00\u{a0}€"
    );
    assert_eq!(
        money_text(Money::new(dec!(12000.5), Currency::USD), En),
        "12,000.50 USD"
    );
    assert_eq!(date_text(day(2026, 11, 30), Ru), "30.11.2026");
    assert_eq!(date_text(day(2026, 1, 5), En), "2026-01-05");
}

#[test]
fn an_overdue_notice_lists_the_invoices_with_amounts_and_dates_in_both_languages() {
    let action = overdue_notify(StepKind::OverdueNotice);
    let ru = notice(&action, "ООО «Ромашка»", DocumentLanguage::Ru).unwrap();
    assert_eq!(ru.subject, "Счета просрочены");
    for part in [
        "Здравствуйте, ООО «Ромашка»!",
        "— счёт № KPK-2026-000001 на сумму 1\u{a0}234,56\u{a0}₽, срок оплаты — 30.11.2026",
        "— счёт № KPK-2026-000002 на сумму 500,00\u{a0}₽, срок оплаты — 05.12.2026",
        "Сумма просроченной задолженности: 1\u{a0}734,56\u{a0}₽.",
        "Срок оплаты истёк 30.11.2026",
        "С уважением,\nслужба расчётов",
    ] {
        assert!(ru.body.contains(part), "{part}\n---\n{}", ru.body);
    }
    let en = notice(&action, "Acme Ltd", DocumentLanguage::En).unwrap();
    assert_eq!(en.subject, "Invoices overdue");
    for part in [
        "Dear Acme Ltd,",
        "- invoice KPK-2026-000001: 1,234.56 RUB, due on 2026-11-30",
        "- invoice KPK-2026-000002: 500.00 RUB, due on 2026-12-05",
        "Overdue balance: 1,734.56 RUB.",
        "Payment was due on 2026-11-30",
    ] {
        assert!(en.body.contains(part), "{part}\n---\n{}", en.body);
    }
}

#[test]
fn every_step_has_its_notice_in_both_languages() {
    use StepKind::*;
    let subjects = [
        (
            Reminder,
            "Напоминание об оплате счетов",
            "Payment reminder: invoices due soon",
        ),
        (
            DueNotice,
            "Сегодня истекает срок оплаты счетов",
            "Invoices due today",
        ),
        (OverdueNotice, "Счета просрочены", "Invoices overdue"),
        (
            BlockOrders,
            "Приём новых заказов приостановлен",
            "New orders on hold",
        ),
        (Suspend, "Обслуживание приостановлено", "Service suspended"),
        (
            Final,
            "Последнее напоминание о задолженности",
            "Final reminder: overdue balance",
        ),
    ];
    for (kind, ru_subject, en_subject) in subjects {
        let action = overdue_notify(kind);
        let ru = notice(&action, "ИП Иванов", DocumentLanguage::Ru).unwrap();
        let en = notice(&action, "Ivanov", DocumentLanguage::En).unwrap();
        assert_eq!(ru.subject, ru_subject);
        assert_eq!(en.subject, en_subject);
        for (body, amount, date) in [
            (&ru.body, "1\u{a0}234,56\u{a0}₽", "05.12.2026"),
            (&en.body, "1,234.56 RUB", "2026-12-05"),
        ] {
            assert!(
                body.contains(amount) && body.contains(date),
                "{kind:?}: {body}"
            );
        }
    }
    // One invoice: the subject says so.
    let mut one = overdue_notify(Reminder);
    if let Action::Notify { invoices, .. } = &mut one {
        invoices.truncate(1);
    }
    let ru = notice(&one, "ИП Иванов", DocumentLanguage::Ru).unwrap();
    assert_eq!(ru.subject, "Напоминание об оплате счёта");
    assert!(
        ru.body.contains("Итого к оплате: 1\u{a0}234,56\u{a0}₽."),
        "{}",
        ru.body
    );
    let en = notice(&one, "Ivanov", DocumentLanguage::En).unwrap();
    assert_eq!(en.subject, "Payment reminder: invoice due soon");
    assert!(en.body.contains("Total due: 1,234.56 RUB."), "{}", en.body);
}

#[test]
fn a_restore_is_announced_only_when_it_lifts_something() {
    let restore = |unblock, unsuspend| Action::Restore { unblock, unsuspend };
    let ru = notice(&restore(true, true), "ИП Иванов", DocumentLanguage::Ru).unwrap();
    assert_eq!(ru.subject, "Обслуживание возобновлено");
    assert!(ru.body.contains("Благодарим за оплату!"));
    let ru = notice(&restore(true, false), "ИП Иванов", DocumentLanguage::Ru).unwrap();
    assert_eq!(ru.subject, "Приём заказов возобновлён");
    let en = notice(&restore(false, true), "Ivanov", DocumentLanguage::En).unwrap();
    assert_eq!(en.subject, "Service restored");
    assert_eq!(
        notice(&restore(false, false), "x", DocumentLanguage::En),
        None
    );
    for silent in [
        Action::BlockOrders,
        Action::Suspend,
        Action::HandToPeople,
        Action::LateFee {
            amount: rub(dec!(7)),
        },
    ] {
        assert_eq!(notice(&silent, "x", DocumentLanguage::Ru), None);
    }
}

#[test]
fn explain_says_what_the_customer_is_under_and_why() {
    use DocumentLanguage::{En, Ru};
    assert_eq!(explain(&DunningState::default(), En), "Nothing is overdue.");
    assert_eq!(
        explain(&DunningState::default(), Ru),
        "Просроченной задолженности нет."
    );
    let mut walk = Walk::new(DunningPolicy::default());
    walk.day(day(2026, 11, 27), &one_invoice());
    assert_eq!(explain(&walk.state, En), "Payment is due on 2026-11-30.");
    assert_eq!(explain(&walk.state, Ru), "Срок оплаты — 30.11.2026.");
    walk.days(day(2026, 11, 28), day(2026, 12, 7), &one_invoice());
    assert_eq!(
        explain(&walk.state, En),
        "1,234.56 RUB is overdue (due on 2026-11-30)."
    );
    walk.days(day(2026, 12, 8), day(2026, 12, 14), &one_invoice());
    assert_eq!(
        explain(&walk.state, En),
        "New orders have been blocked since 2026-12-14 because 1,234.56 RUB is overdue (due on 2026-11-30)."
    );
    assert_eq!(
        explain(&walk.state, Ru),
        "Приём новых заказов приостановлен с 14.12.2026: просрочена оплата 1\u{a0}234,56\u{a0}₽ (срок оплаты — 30.11.2026)."
    );
    walk.days(day(2026, 12, 15), day(2027, 1, 14), &one_invoice());
    assert_eq!(
        explain(&walk.state, En),
        "Service has been suspended since 2026-12-30 because 1,234.56 RUB is overdue (due on 2026-11-30). A manager is handling the matter."
    );
    assert_eq!(
        explain(&walk.state, Ru),
        "Обслуживание приостановлено с 30.12.2026: просрочена оплата 1\u{a0}234,56\u{a0}₽ (срок оплаты — 30.11.2026). Вопросом занимается менеджер."
    );
}

#[test]
fn the_state_travels_as_json() {
    let mut walk = Walk::new(with_fee(dec!(0.1), dec!(10)));
    walk.days(day(2026, 11, 20), day(2026, 12, 31), &one_invoice());
    let json = serde_json::to_string(&walk.state).unwrap();
    assert_eq!(
        serde_json::from_str::<DunningState>(&json).unwrap(),
        walk.state
    );
    assert!(json.contains(r#""oldest_due":"2026-11-30""#), "{json}");
}

// --- Any history -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Event {
    Nothing,
    /// An invoice issued today, due `terms` days later (0: today; it may also be issued late,
    /// due already).
    Invoice {
        terms: i64,
        kopeks: i64,
    },
    /// A payment, settling the oldest due first.
    Pay {
        kopeks: i64,
    },
    PayAll,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => Just(Event::Nothing),
        2 => (-10i64..=20, 1i64..=500_000)
            .prop_map(|(terms, kopeks)| Event::Invoice { terms, kopeks }),
        2 => (1i64..=500_000).prop_map(|kopeks| Event::Pay { kopeks }),
        1 => Just(Event::PayAll),
    ]
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        4 => Just(Mode::Policy),
        1 => Just(Mode::Off),
        1 => (0u64..=90).prop_map(|d| Mode::Hold {
            until: Some(day(2026, 11, 1) + chrono::Days::new(d)),
            reason: "r".to_owned(),
            by: "b".to_owned(),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_history_takes_each_step_once_reruns_are_no_ops_and_nothing_overdue_means_unblocked(
        events in prop::collection::vec(event(), 30..120),
        mode in mode(),
        min_overdue in prop_oneof![Just(dec!(0)), Just(dec!(100)), Just(dec!(2000))],
        fee in any::<bool>(),
    ) {
        let policy = DunningPolicy {
            min_overdue,
            late_fee: LateFee { enabled: fee, ..LateFee::default() },
            ..DunningPolicy::default()
        };
        let customer = CustomerDunning { mode, policy_override: None };
        let mut state = DunningState::default();
        let mut invoices: Vec<DueInvoice> = Vec::new();
        let start = day(2026, 11, 1);
        let mut suspended_days = Vec::new();
        for (n, event) in events.iter().enumerate() {
            let today = start + chrono::Days::new(n as u64);
            match event {
                Event::Nothing => {}
                Event::Invoice { terms, kopeks } => {
                    let due = today.checked_add_signed(TimeDelta::days(*terms)).unwrap();
                    invoices.push(invoice(n as u64, due, Decimal::new(*kopeks, 2)));
                }
                Event::Pay { kopeks } => {
                    let mut left = Decimal::new(*kopeks, 2);
                    invoices.sort_by_key(|i| i.due_on);
                    for inv in &mut invoices {
                        let paid = left.min(inv.open.amount());
                        inv.open = rub(inv.open.amount() - paid);
                        left -= paid;
                    }
                }
                Event::PayAll => invoices.clear(),
            }
            invoices.retain(|i| !i.open.is_zero());

            let decision = run(today, &policy, &customer, &state, &invoices);
            // Re-running the day is a no-op.
            let again = run(today, &policy, &customer, &decision.state, &invoices);
            prop_assert_eq!(&again.actions, &Vec::<Action>::new(), "rerun on {}", today);
            prop_assert_eq!(&again.state, &decision.state, "rerun on {}", today);

            // Each step index at most once per episode: within an episode the steps done only
            // grow, and never repeat.
            let restored = decision.actions.iter().any(|a| matches!(a, Action::Restore { .. }));
            if let (Some(before), Some(after), false) =
                (&state.episode, &decision.state.episode, restored)
            {
                prop_assert!(after.done.starts_with(&before.done), "on {}", today);
            }
            if let Some(ep) = &decision.state.episode {
                let mut indices: Vec<usize> = ep.done.iter().map(|d| d.index).collect();
                indices.sort_unstable();
                indices.dedup();
                prop_assert_eq!(indices.len(), ep.done.len(), "on {}", today);
                // One notice a run at most.
                let notices = decision
                    .actions
                    .iter()
                    .filter(|a| matches!(a, Action::Notify { .. }))
                    .count();
                prop_assert!(notices <= 1);
            }
            if let (Some(before), true) = (&state.episode, restored) {
                let expected = Action::Restore {
                    unblock: before.blocked,
                    unsuspend: before.suspended,
                };
                prop_assert!(decision.actions.contains(&expected));
            }

            // Never blocked or suspended with nothing overdue.
            let overdue = invoices
                .iter()
                .any(|i| i.due_on < today && i.open.amount() >= dec!(0.01));
            if !overdue && let Some(ep) = &decision.state.episode {
                prop_assert!(!ep.blocked && !ep.suspended, "on {}: {:?}", today, ep);
            }
            if decision.state.suspended_on(&customer, today) {
                suspended_days.push(today);
            }
            state = decision.state;
        }
        // The pauses cover exactly the days service was suspended, in order, apart.
        let last = start + chrono::Days::new(events.len() as u64 - 1);
        for today in days(start, last) {
            let covered = state.suspensions.iter().filter(|p| p.covers(today)).count();
            let expected = usize::from(suspended_days.contains(&today));
            prop_assert_eq!(covered, expected, "on {}: {:?}", today, state.suspensions);
        }
        prop_assert!(state.suspensions.windows(2).all(|w| w[0].until.is_some_and(|u| u < w[1].from)));
    }
}

#[test]
fn an_invoice_is_newly_overdue_the_day_after_its_due_date_and_only_until_told() {
    let due = day(2026, 11, 10);
    let invoices = [
        invoice(1, due, dec!(100.00)),
        invoice(2, day(2026, 11, 20), dec!(50.00)),
        invoice(3, day(2026, 11, 1), dec!(0.00)),
    ];
    let mut episode = Episode {
        started_on: due,
        oldest_due: due,
        done: Vec::new(),
        blocked: false,
        suspended: false,
        overdue: rub(dec!(0)),
        fee_charged: rub(dec!(0)),
        overdue_told: Vec::new(),
    };
    let ids = |found: Vec<&DueInvoice>| found.iter().map(|i| i.id).collect::<Vec<_>>();
    assert!(
        newly_overdue(&episode, &invoices, due).is_empty(),
        "due, not overdue"
    );
    assert_eq!(
        ids(newly_overdue(&episode, &invoices, day(2026, 11, 11))),
        [invoice_id(1)],
        "paid-off invoices are never overdue"
    );
    episode.overdue_told.push(invoice_id(1));
    assert!(newly_overdue(&episode, &invoices, day(2026, 11, 12)).is_empty());
    assert_eq!(
        ids(newly_overdue(&episode, &invoices, day(2026, 11, 21))),
        [invoice_id(2)]
    );
}
