//! Dunning: chasing what is overdue, by itself — reminders before the due date, notices after
//! it, then blocking new orders, suspending service, and finally handing the customer to
//! people.
//!
//! A provider sets a [`DunningPolicy`]: a list of [`Step`]s, each a [`StepKind`] and a number
//! of days relative to the due date of the customer's oldest overdue-or-due invoice (the
//! episode's *anchor*). A customer may have its own policy, be put on hold by a manager or
//! have dunning turned off ([`CustomerDunning`]). Once a day [`run`] looks at the customer's
//! open invoices ([`DueInvoice`]) and its [`DunningState`] and decides what to do
//! ([`Decision`]): the [`Action`]s to carry out and the new state to store. It is a pure
//! function of its inputs; the caller sends the notices ([`notice`]), blocks, suspends and
//! charges.
//!
//! # Rules
//!
//! 1. **Who moves.** Steps are taken only when the policy in force (the customer's
//!    `policy_override`, else the provider's) is `enabled` and the customer's mode is
//!    [`Mode::Policy`], or a [`Mode::Hold`] that has expired (`until` before today). A hold in
//!    force (`until` absent, or today or later) or [`Mode::Off`] takes no step and charges no
//!    late fee — but the episode is still kept up to date and **a payment that clears
//!    everything still restores**: [`Action::Restore`] is never held back. When a hold ends
//!    (or dunning is turned back on), the steps that fell due meanwhile are taken at once, as
//!    after a run that was down (rule 3); the schedule is not shifted by the hold.
//! 2. **What counts.** The open invoices with at least one minor unit open (0.01) whose due
//!    date is within the *reminder horizon*: on or before today plus the days of the earliest
//!    negative offset of the policy (3 days for the default policy; 0 without reminders). An
//!    invoice is *overdue* when its due date is before today (on the due date it is not yet,
//!    as [`crate::invoicing::Invoice::status_on`] has it); the *overdue amount* is the sum of
//!    the overdue invoices' open amounts. A customer is billed in one currency; invoices in
//!    another currency than the episode's (or, to start one, the oldest invoice's) are left
//!    out.
//! 3. **An episode** starts on the first run with something counted; its anchor is the oldest
//!    counted due date. **Each step happens once per episode**, on the first run whose today
//!    is on or after anchor + offset. The overdue steps (every kind but [`StepKind::Reminder`]
//!    and [`StepKind::DueNotice`]) are taken only while the overdue amount is more than zero
//!    and at least the policy's `min_overdue`; below it they wait (reminders and the due
//!    notice still happen), and are taken once it is reached again. When several steps fall
//!    due in one run (the run was down, a hold ended, an invoice arrived late) they are all
//!    taken, in order, but **only the last one's notice is sent**: the earlier ones are
//!    recorded as done with `skipped_notice`, so the customer gets one e-mail. Blocking,
//!    suspending and handing to people are never skipped. After [`StepKind::Final`] no step is
//!    automatic any more.
//! 4. **Idempotent.** Running again on the same day with the returned state and the same
//!    invoices yields no action and the same state.
//! 5. **The end.** An episode ends when nothing is overdue and either nothing is counted any
//!    more or its anchor is past (the invoices that made it late are paid or credited, and
//!    what is still open is not yet due): [`Action::Restore`] with whatever was blocked or
//!    suspended, and the state's episode is `None`. A partial payment that leaves anything at
//!    all overdue keeps the episode — and a block or suspension — even when what is left is
//!    below `min_overdue` (which only holds back *new* overdue steps). When the oldest overdue
//!    invoice is paid and a younger one is still overdue, **the anchor stays**: the steps
//!    already taken are not taken again, and the later ones keep their dates. An older
//!    invoice that becomes open again (a payment reversed) moves the anchor back to its due
//!    date; the steps that thereby fall due are taken at once (rule 3).
//! 6. **A new episode.** After an episode ends, the next counted invoice starts a new one, with
//!    every step to take again — on the same run, when such an invoice is already within the
//!    reminder horizon (the customer then gets the restore notice and the new reminder).
//! 7. **Late fee** (off by default): on a run that takes at least one overdue step, the fee
//!    as of today is Σ over the overdue invoices of open × `percent_per_day` % × days past
//!    its due date, capped at `cap_percent` % of the overdue amount, rounded once under the
//!    money rounding policy ([`Money::round_to_minor`]). The episode keeps what was charged
//!    (`fee_charged`); [`Action::LateFee`] asks the caller to charge the difference when the
//!    fee as of today is more. So a fee is charged at most once per step, never twice for the
//!    same days, never refunded, and stops accruing with the last step. The caller records it
//!    as a [`Charge`] of the day's period ([`late_fee_charge`]), billed with the next invoice,
//!    not subject to VAT.
//! 8. **Suspended days are kept.** Service is suspended while the episode says so and no hold
//!    or "off" lifts it ([`DunningState::suspended_on`]). Every run (and every change of the
//!    customer's settings, [`DunningState::track_suspension`]) keeps the days in
//!    `suspensions`: a [`Pause`] opens on the first day service is suspended and ends on the
//!    day it is restored, held or turned off. They outlive the episode: the period close
//!    leaves those days of the customer's subscriptions unbilled.
//!
//! A policy is checked when it is saved ([`DunningPolicy::checked`]); every refusal names the
//! field at fault, e.g. `steps[2].offset_days`, `late_fee.percent_per_day`.

use std::str::FromStr;

use chrono::{NaiveDate, TimeDelta};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::accounts::DocumentLanguage;
use crate::catalog::{LocalizedText, ServiceCode, TaxRate, UnitOfMeasure};
use crate::charges::{Charge, ChargeSource};
use crate::ids::{ChargeId, InvoiceId, OrgId};
use crate::invoicing::Invoice;
use crate::money::{Currency, Money};
use crate::period::BillingPeriod;
use crate::pricing::Quantity;
use crate::subscriptions::Pause;

/// Why a dunning policy or a customer's dunning settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DunningError {
    /// A field breaks a rule; `field` is its path, e.g. `steps[2].offset_days`.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl DunningError {
    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error with its field under `prefix` (`policy_override.` + `steps[0]…`).
    fn under(self, prefix: &str) -> Self {
        match self {
            Self::Invalid { field, reason } => Self::Invalid {
                field: format!("{prefix}.{field}"),
                reason,
            },
        }
    }
}

/// What a dunning step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A reminder before the due date (negative offset).
    Reminder,
    /// A notice on the due date (offset 0).
    DueNotice,
    /// A notice that something is overdue (positive offset; may appear several times).
    OverdueNotice,
    /// New orders are refused.
    BlockOrders,
    /// Subscriptions stop accruing and the customer's work orders are held back from the
    /// queues.
    Suspend,
    /// Handed to people: a manager must act; no further automatic step.
    Final,
}

impl StepKind {
    /// Whether the step is taken only while something is overdue (everything but the reminder
    /// and the due notice).
    pub const fn is_overdue_step(self) -> bool {
        !matches!(self, StepKind::Reminder | StepKind::DueNotice)
    }

    /// The name it travels under, for error messages.
    const fn name(self) -> &'static str {
        match self {
            StepKind::Reminder => "reminder",
            StepKind::DueNotice => "due_notice",
            StepKind::OverdueNotice => "overdue_notice",
            StepKind::BlockOrders => "block_orders",
            StepKind::Suspend => "suspend",
            StepKind::Final => "final",
        }
    }
}

/// One step of a policy: what, and how many days after the anchor (negative: before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub kind: StepKind,
    /// Days after the anchor (the oldest due date); negative: before it.
    pub offset_days: i32,
}

impl Step {
    /// A step of `kind`, `offset_days` after the anchor.
    pub const fn new(kind: StepKind, offset_days: i32) -> Self {
        Self { kind, offset_days }
    }
}

/// A late fee on what is overdue (rule 7 of the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LateFee {
    /// Whether a late fee is charged at all.
    pub enabled: bool,
    /// Per cent of the overdue amount per day past the due date, 0 to 1 (0.1: a tenth of a
    /// per cent a day).
    #[serde(with = "crate::wire::decimal")]
    pub percent_per_day: Decimal,
    /// The most the fee comes to, in per cent of the overdue amount, 0 to 100.
    #[serde(with = "crate::wire::decimal")]
    pub cap_percent: Decimal,
}

impl Default for LateFee {
    /// Off; 0.1 % a day, at most 10 %, when turned on.
    fn default() -> Self {
        Self {
            enabled: false,
            percent_per_day: Decimal::new(1, 1),
            cap_percent: Decimal::TEN,
        }
    }
}

/// A provider's dunning settings. [`Default`] is the written default policy: reminder 3 days
/// before the due date, a notice on it, a notice after 7 days, new orders blocked after 14, a
/// second notice after 21, service suspended after 30, handed to a manager after 45; any
/// overdue amount counts; no late fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DunningPolicy {
    /// Whether dunning runs at all.
    pub enabled: bool,
    /// The steps, by offset (see [`DunningPolicy::checked`]).
    pub steps: Vec<Step>,
    /// An overdue amount below this (in the customer's currency) takes no overdue step; 0:
    /// any amount does.
    #[serde(with = "crate::wire::decimal")]
    pub min_overdue: Decimal,
    /// The late fee (rule 7 of the module docs).
    pub late_fee: LateFee,
}

impl Default for DunningPolicy {
    fn default() -> Self {
        use StepKind::*;
        Self {
            enabled: true,
            steps: vec![
                Step::new(Reminder, -3),
                Step::new(DueNotice, 0),
                Step::new(OverdueNotice, 7),
                Step::new(BlockOrders, 14),
                Step::new(OverdueNotice, 21),
                Step::new(Suspend, 30),
                Step::new(Final, 45),
            ],
            min_overdue: Decimal::ZERO,
            late_fee: LateFee::default(),
        }
    }
}

impl DunningPolicy {
    /// The most steps a policy has.
    pub const MAX_STEPS: usize = 12;
    /// The earliest offset: a month before the due date.
    pub const MIN_OFFSET_DAYS: i32 = -30;
    /// The latest offset: a year after the due date.
    pub const MAX_OFFSET_DAYS: i32 = 365;
    /// The highest daily late fee, in per cent.
    pub const MAX_PERCENT_PER_DAY: Decimal = Decimal::ONE;
    /// The highest late fee cap, in per cent.
    pub const MAX_CAP_PERCENT: Decimal = Decimal::ONE_HUNDRED;

    /// The policy, if it holds together: at most [`Self::MAX_STEPS`] steps, sorted by offset
    /// (steps on the same day are taken in the order listed), offsets within
    /// [`Self::MIN_OFFSET_DAYS`]..=[`Self::MAX_OFFSET_DAYS`]; a reminder before the due date,
    /// the due notice on it, every other step after it; at most one due notice, one block, one
    /// suspension and one final step, and no step twice on the same day; orders blocked not
    /// after the suspension; the final step last. `min_overdue` is not negative; the late fee
    /// is 0 to 1 % a day, capped at 0 to 100 %. Steps out of order are refused, not sorted, so
    /// that the indices a stored state refers to never move.
    pub fn checked(self) -> Result<Self, DunningError> {
        if self.steps.len() > Self::MAX_STEPS {
            return Err(DunningError::invalid(
                "steps",
                format!("at most {} steps", Self::MAX_STEPS),
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            check_step(&self.steps, i, *step)?;
        }
        if self.min_overdue < Decimal::ZERO {
            return Err(DunningError::invalid("min_overdue", "must not be negative"));
        }
        let fee = &self.late_fee;
        if fee.percent_per_day < Decimal::ZERO || fee.percent_per_day > Self::MAX_PERCENT_PER_DAY {
            return Err(DunningError::invalid(
                "late_fee.percent_per_day",
                format!(
                    "must be 0 to {} (per cent a day)",
                    Self::MAX_PERCENT_PER_DAY
                ),
            ));
        }
        if fee.cap_percent < Decimal::ZERO || fee.cap_percent > Self::MAX_CAP_PERCENT {
            return Err(DunningError::invalid(
                "late_fee.cap_percent",
                format!(
                    "must be 0 to {} (per cent of the overdue amount)",
                    Self::MAX_CAP_PERCENT
                ),
            ));
        }
        Ok(self)
    }

    /// How many days before a due date an invoice starts to count: the earliest negative
    /// offset's days, 0 without one.
    pub fn reminder_horizon_days(&self) -> i64 {
        self.steps
            .iter()
            .map(|s| i64::from(s.offset_days))
            .min()
            .map_or(0, |earliest| (-earliest).max(0))
    }
}

/// Checks `steps[i]` against its kind and the steps before it.
fn check_step(steps: &[Step], i: usize, step: Step) -> Result<(), DunningError> {
    let offset_field = format!("steps[{i}].offset_days");
    let kind_field = format!("steps[{i}].kind");
    let offset = step.offset_days;
    if !(DunningPolicy::MIN_OFFSET_DAYS..=DunningPolicy::MAX_OFFSET_DAYS).contains(&offset) {
        return Err(DunningError::invalid(
            offset_field,
            format!(
                "must be {} to {} days from the due date",
                DunningPolicy::MIN_OFFSET_DAYS,
                DunningPolicy::MAX_OFFSET_DAYS
            ),
        ));
    }
    let sign_rule = match step.kind {
        StepKind::Reminder if offset >= 0 => {
            Some("a reminder comes before the due date: the offset must be negative")
        }
        StepKind::DueNotice if offset != 0 => {
            Some("the due notice comes on the due date: the offset must be 0")
        }
        kind if kind.is_overdue_step() && offset <= 0 => {
            Some("this step comes after the due date: the offset must be positive")
        }
        _ => None,
    };
    if let Some(reason) = sign_rule {
        return Err(DunningError::invalid(offset_field, reason));
    }
    let earlier = &steps[..i];
    if let Some(previous) = earlier.last()
        && offset < previous.offset_days
    {
        return Err(DunningError::invalid(
            offset_field,
            format!(
                "steps must be sorted by offset: {offset} is before steps[{}] ({})",
                i - 1,
                previous.offset_days
            ),
        ));
    }
    let once = matches!(
        step.kind,
        StepKind::DueNotice | StepKind::BlockOrders | StepKind::Suspend | StepKind::Final
    );
    if let Some(j) = earlier.iter().position(|s| s.kind == step.kind) {
        if once {
            return Err(DunningError::invalid(
                kind_field,
                format!("only one {} step (steps[{j}] is one)", step.kind.name()),
            ));
        }
        if let Some(j) = earlier.iter().position(|s| *s == step) {
            return Err(DunningError::invalid(
                offset_field,
                format!("repeats steps[{j}]"),
            ));
        }
    }
    if step.kind == StepKind::BlockOrders
        && let Some(j) = earlier.iter().position(|s| s.kind == StepKind::Suspend)
    {
        return Err(DunningError::invalid(
            kind_field,
            format!("orders must be blocked no later than the suspension (steps[{j}])"),
        ));
    }
    if step.kind == StepKind::Final && i + 1 != steps.len() {
        return Err(DunningError::invalid(
            kind_field,
            "the final step must be the last",
        ));
    }
    Ok(())
}

/// The longest reason of a hold, in characters.
pub const MAX_HOLD_REASON_CHARS: usize = 500;

/// How dunning treats one customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Mode {
    /// The policy applies.
    #[default]
    Policy,
    /// Dunning is off for this customer: no step is taken (a payment still restores).
    Off,
    /// A manager holds dunning back: no step is taken through `until` (inclusive), or
    /// indefinitely; the steps resume the day after.
    Hold {
        #[serde(default, with = "crate::wire::date_option")]
        until: Option<NaiveDate>,
        reason: String,
        /// Who put the hold (the manager's name or id).
        by: String,
    },
}

impl Mode {
    /// Whether steps may be taken on `today`: under the policy, or after a hold has expired.
    pub fn moves_on(&self, today: NaiveDate) -> bool {
        match self {
            Mode::Policy => true,
            Mode::Off => false,
            Mode::Hold { until, .. } => until.is_some_and(|until| until < today),
        }
    }
}

/// A customer's dunning settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerDunning {
    /// Under the policy, off, or held by a manager.
    pub mode: Mode,
    /// The customer's own policy (its contract's), instead of the provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_override: Option<DunningPolicy>,
}

impl CustomerDunning {
    /// The settings, if they hold together: a hold has a reason (1 to
    /// [`MAX_HOLD_REASON_CHARS`] characters, no control characters but line breaks, trimmed)
    /// and says who put it (`mode.by`, not empty); an own policy is checked like the
    /// provider's, its errors under `policy_override.`.
    pub fn checked(self) -> Result<Self, DunningError> {
        let mode = match self.mode {
            Mode::Hold { until, reason, by } => {
                let reason = reason.trim().to_owned();
                let chars = reason.chars().count();
                if chars == 0
                    || chars > MAX_HOLD_REASON_CHARS
                    || reason.chars().any(|c| c.is_control() && c != '\n')
                {
                    return Err(DunningError::invalid(
                        "mode.reason",
                        format!(
                            "must be 1 to {MAX_HOLD_REASON_CHARS} characters without control characters"
                        ),
                    ));
                }
                let by = by.trim().to_owned();
                if by.is_empty() || by.chars().any(char::is_control) {
                    return Err(DunningError::invalid(
                        "mode.by",
                        "must name who put the hold",
                    ));
                }
                Mode::Hold { until, reason, by }
            }
            other => other,
        };
        let policy_override = self
            .policy_override
            .map(|p| p.checked().map_err(|e| e.under("policy_override")))
            .transpose()?;
        Ok(Self {
            mode,
            policy_override,
        })
    }
}

/// A step taken in an episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoneStep {
    /// The step's index in the policy's `steps`.
    pub index: usize,
    /// The step's kind when it was taken.
    pub kind: StepKind,
    /// The day of the run that took it.
    pub on: NaiveDate,
    /// Taken together with a later step in the same run, whose notice was sent instead.
    #[serde(default)]
    pub skipped_notice: bool,
}

/// One stretch of dunning: from the first counted invoice to everything being paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Episode {
    /// The day of the run that started it.
    pub started_on: NaiveDate,
    /// The anchor: the oldest due date of the episode (see rule 5 of the module docs).
    pub oldest_due: NaiveDate,
    /// The steps taken, in the order taken.
    pub done: Vec<DoneStep>,
    /// New orders are refused.
    pub blocked: bool,
    /// Service is suspended.
    pub suspended: bool,
    /// The overdue amount as of the last run (zero before the due date); its currency is the
    /// episode's.
    pub overdue: Money,
    /// The late fee charged so far in this episode.
    pub fee_charged: Money,
    /// The invoices already told overdue in this episode (each once: `invoice.overdue`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overdue_told: Vec<InvoiceId>,
}

/// The invoices of `invoices` past their due date on `today` with something left to pay that
/// `episode` has not told overdue yet.
pub fn newly_overdue<'a>(
    episode: &Episode,
    invoices: &'a [DueInvoice],
    today: NaiveDate,
) -> Vec<&'a DueInvoice> {
    invoices
        .iter()
        .filter(|i| i.due_on < today && i.open.amount() > rust_decimal::Decimal::ZERO)
        .filter(|i| !episode.overdue_told.contains(&i.id))
        .collect()
}

impl Episode {
    /// Whether the step at `index` was taken in this episode.
    pub fn has_done(&self, index: usize) -> bool {
        self.done.iter().any(|d| d.index == index)
    }

    /// The last day a step of `kind` was taken.
    pub fn done_on(&self, kind: StepKind) -> Option<NaiveDate> {
        self.done
            .iter()
            .rev()
            .find(|d| d.kind == kind)
            .map(|d| d.on)
    }

    /// The episode's currency.
    pub fn currency(&self) -> Currency {
        self.overdue.currency()
    }
}

/// What dunning knows of a customer between runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DunningState {
    /// The episode in progress; `None` when nothing is being chased.
    pub episode: Option<Episode>,
    /// The days service was suspended, oldest first; the last one open while it lasts (rule
    /// 8). Kept after the episode ends: the period close leaves these days unbilled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspensions: Vec<Pause>,
}

impl DunningState {
    /// Whether the customer's service is suspended on `today`: the episode suspended it and
    /// no manager's hold or "off" lifts it (`settings.mode`).
    pub fn suspended_on(&self, settings: &CustomerDunning, today: NaiveDate) -> bool {
        self.episode.as_ref().is_some_and(|e| e.suspended) && settings.mode.moves_on(today)
    }

    /// Whether new orders are refused on `today`: blocked or suspended, and not lifted.
    pub fn orders_blocked_on(&self, settings: &CustomerDunning, today: NaiveDate) -> bool {
        self.episode
            .as_ref()
            .is_some_and(|e| e.blocked || e.suspended)
            && settings.mode.moves_on(today)
    }

    /// Brings `suspensions` in line with [`Self::suspended_on`] `today` (rule 8): opens a
    /// pause from today, or ends the open one today — one that would end on the day it began
    /// covers no day and is dropped. Changes nothing when they already agree.
    pub fn track_suspension(&mut self, settings: &CustomerDunning, today: NaiveDate) {
        let suspended = self.suspended_on(settings, today);
        let open = self.suspensions.last().is_some_and(|p| p.until.is_none());
        match (suspended, open) {
            (true, false) => self.suspensions.push(Pause {
                from: today,
                until: None,
            }),
            (false, true) => {
                if let Some(pause) = self.suspensions.pop()
                    && pause.from < today
                {
                    self.suspensions.push(Pause {
                        until: Some(today),
                        ..pause
                    });
                }
            }
            _ => {}
        }
    }
}

/// The service code late fees are charged under.
pub const LATE_FEE_SERVICE: &str = "LATE-FEE";

/// The charge of a late fee of `amount` decided on `today` (rule 7): one of `today`'s
/// `period`, quantity one, not subject to VAT, described in both languages with the episode's
/// anchor.
pub fn late_fee_charge(
    org: OrgId,
    amount: Money,
    oldest_due: NaiveDate,
    today: NaiveDate,
    period: BillingPeriod,
    now: chrono::DateTime<chrono::Utc>,
) -> Charge {
    let due = oldest_due.format("%d.%m.%Y");
    Charge {
        id: ChargeId::new(),
        org,
        period,
        source: ChargeSource::LateFee { oldest_due },
        service: ServiceCode::from_str(LATE_FEE_SERVICE).expect("a code that keeps the rule"),
        description: LocalizedText::new(
            &format!("Пени за просрочку оплаты (срок оплаты {due})"),
            &format!("Late payment fee (payment due {oldest_due})"),
        )
        .expect("short texts without control characters"),
        quantity: Quantity::new(Decimal::ONE).expect("one is a quantity"),
        unit: UnitOfMeasure::Piece,
        price_version: 0,
        tax_rate: TaxRate::Exempt,
        amount,
        rendered_on: today,
        created_at: now,
    }
}

/// An open invoice as dunning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueInvoice {
    pub id: InvoiceId,
    /// The invoice's number as printed.
    pub number: String,
    pub due_on: NaiveDate,
    /// What is left to pay.
    pub open: Money,
}

impl DueInvoice {
    /// The invoice's number, due date and open amount.
    pub fn of(invoice: &Invoice) -> Self {
        Self {
            id: invoice.id,
            number: invoice.number.to_string(),
            due_on: invoice.due_on,
            open: invoice.open_amount(),
        }
    }
}

/// What the caller is to do after a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send the customer the notice of step `step` ([`notice`]).
    Notify {
        kind: StepKind,
        /// The step's index in the policy.
        step: usize,
        /// The overdue amount (zero for a reminder or due notice before anything is overdue).
        overdue: Money,
        /// The episode's anchor.
        oldest_due: NaiveDate,
        /// The invoices the notice is about — number, open amount, due date — oldest first:
        /// the overdue ones for an overdue step, every counted one for a reminder or due
        /// notice.
        invoices: Vec<(String, Money, NaiveDate)>,
        /// The late fee charged in the same run, which the notice announces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        late_fee: Option<Money>,
    },
    /// Refuse the customer's new orders.
    BlockOrders,
    /// Stop the customer's subscriptions accruing and hold its work orders back.
    Suspend,
    /// The episode ended: lift what was blocked and suspended, and tell the customer.
    Restore {
        /// Accept new orders again.
        unblock: bool,
        /// Let subscriptions accrue and work orders into the queues again.
        unsuspend: bool,
    },
    /// A manager must take over (the final step).
    HandToPeople,
    /// Charge the customer this late fee (the increase since the last charge).
    LateFee { amount: Money },
}

/// The outcome of a run: the state to store and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub state: DunningState,
    /// In this order: a restore, then the steps' effects (block, suspend, hand to people) in
    /// step order, a late fee, and at most one notice.
    pub actions: Vec<Action>,
}

/// The counted invoices of one currency on one day (rule 2).
struct Outstanding<'a> {
    /// Oldest due first, then by number.
    counted: Vec<&'a DueInvoice>,
    /// The counted ones due before today.
    overdue: Vec<&'a DueInvoice>,
    overdue_sum: Money,
}

impl<'a> Outstanding<'a> {
    /// What counts on `today`, in `currency` or else the oldest counted invoice's.
    fn of(
        today: NaiveDate,
        horizon_days: i64,
        currency: Option<Currency>,
        invoices: &'a [DueInvoice],
    ) -> Option<Self> {
        let horizon = today.checked_add_signed(TimeDelta::try_days(horizon_days)?)?;
        let mut counted: Vec<&DueInvoice> = invoices
            .iter()
            .filter(|inv| inv.due_on <= horizon && at_least_one_minor_unit(inv.open))
            .collect();
        counted.sort_by(|a, b| a.due_on.cmp(&b.due_on).then(a.number.cmp(&b.number)));
        let currency = currency.or_else(|| counted.first().map(|inv| inv.open.currency()))?;
        counted.retain(|inv| inv.open.currency() == currency);
        let overdue: Vec<&DueInvoice> = counted
            .iter()
            .copied()
            .filter(|inv| inv.due_on < today)
            .collect();
        let overdue_sum = sum(currency, overdue.iter().map(|inv| inv.open));
        Some(Self {
            counted,
            overdue,
            overdue_sum,
        })
    }
}

fn at_least_one_minor_unit(open: Money) -> bool {
    open.amount() >= Decimal::new(1, open.currency().minor_units())
}

/// The sum of amounts in `currency`; out of `Decimal`'s range (no invoices carry such
/// amounts) it stays at the largest amount.
fn sum(currency: Currency, amounts: impl IntoIterator<Item = Money>) -> Money {
    Money::checked_sum(currency, amounts).unwrap_or(Money::new(Decimal::MAX, currency))
}

fn listed(invoices: &[&DueInvoice]) -> Vec<(String, Money, NaiveDate)> {
    invoices
        .iter()
        .map(|inv| (inv.number.clone(), inv.open, inv.due_on))
        .collect()
}

/// The day's decision for one customer (see the module docs' rules): `policy` is the
/// provider's (the customer's own `policy_override` wins), `state` what the last run
/// returned, `invoices` the customer's open invoices.
pub fn run(
    today: NaiveDate,
    policy: &DunningPolicy,
    customer: &CustomerDunning,
    state: &DunningState,
    invoices: &[DueInvoice],
) -> Decision {
    let (episode, actions) = decide(today, policy, customer, state.episode.clone(), invoices);
    let mut state = DunningState {
        episode,
        suspensions: state.suspensions.clone(),
    };
    state.track_suspension(customer, today);
    Decision { state, actions }
}

/// The episode after today's run and the actions (rules 1–7).
fn decide(
    today: NaiveDate,
    policy: &DunningPolicy,
    customer: &CustomerDunning,
    mut episode: Option<Episode>,
    invoices: &[DueInvoice],
) -> (Option<Episode>, Vec<Action>) {
    let policy = customer.policy_override.as_ref().unwrap_or(policy);
    let horizon = policy.reminder_horizon_days();
    let mut actions = Vec::new();

    // Rule 5: an episode ends when nothing is overdue and its anchor is past or nothing is
    // counted.
    if let Some(ep) = &episode {
        let outstanding = Outstanding::of(today, horizon, Some(ep.currency()), invoices);
        let ends = outstanding.as_ref().is_none_or(|o| {
            o.overdue.is_empty() && (o.counted.is_empty() || ep.oldest_due < today)
        });
        if ends {
            actions.push(Action::Restore {
                unblock: ep.blocked,
                unsuspend: ep.suspended,
            });
            episode = None;
        }
    }

    let currency = episode.as_ref().map(Episode::currency);
    let Some(outstanding) = Outstanding::of(today, horizon, currency, invoices) else {
        return (episode, actions);
    };
    let Some(oldest) = outstanding.counted.first().map(|inv| inv.due_on) else {
        return (episode, actions);
    };
    // Rules 3 and 6: start an episode, or keep the anchor (moving it back only).
    let mut ep = episode.unwrap_or_else(|| {
        let zero = Money::zero(outstanding.overdue_sum.currency());
        Episode {
            started_on: today,
            oldest_due: oldest,
            done: Vec::new(),
            blocked: false,
            suspended: false,
            overdue: zero,
            fee_charged: zero,
            overdue_told: Vec::new(),
        }
    });
    ep.oldest_due = ep.oldest_due.min(oldest);
    ep.overdue = outstanding.overdue_sum;

    if policy.enabled && customer.mode.moves_on(today) {
        take_steps(today, policy, &outstanding, &mut ep, &mut actions);
    }
    (Some(ep), actions)
}

/// Takes the steps that are due (rules 3 and 7).
fn take_steps(
    today: NaiveDate,
    policy: &DunningPolicy,
    outstanding: &Outstanding<'_>,
    ep: &mut Episode,
    actions: &mut Vec<Action>,
) {
    let overdue = outstanding.overdue_sum;
    let overdue_counts = overdue.amount() > Decimal::ZERO && overdue.amount() >= policy.min_overdue;
    let mut taken: Vec<(usize, StepKind)> = Vec::new();
    for (index, step) in policy.steps.iter().enumerate() {
        if ep.done_on(StepKind::Final).is_some() {
            break;
        }
        let due = TimeDelta::try_days(i64::from(step.offset_days))
            .and_then(|offset| ep.oldest_due.checked_add_signed(offset))
            .is_some_and(|on| on <= today);
        if !due || ep.has_done(index) || (step.kind.is_overdue_step() && !overdue_counts) {
            continue;
        }
        match step.kind {
            StepKind::BlockOrders if !ep.blocked => {
                ep.blocked = true;
                actions.push(Action::BlockOrders);
            }
            StepKind::Suspend if !ep.suspended => {
                ep.suspended = true;
                actions.push(Action::Suspend);
            }
            StepKind::Final => actions.push(Action::HandToPeople),
            _ => {}
        }
        ep.done.push(DoneStep {
            index,
            kind: step.kind,
            on: today,
            skipped_notice: true,
        });
        taken.push((index, step.kind));
    }
    let Some(&(step, kind)) = taken.last() else {
        return;
    };
    if let Some(last) = ep.done.last_mut() {
        last.skipped_notice = false;
    }

    let mut charged = None;
    if policy.late_fee.enabled
        && taken.iter().any(|(_, kind)| kind.is_overdue_step())
        && let Some(fee) = late_fee(today, &policy.late_fee, outstanding)
        && fee.amount() > ep.fee_charged.amount()
        && let Ok(amount) = fee.checked_sub(ep.fee_charged)
    {
        ep.fee_charged = fee;
        actions.push(Action::LateFee { amount });
        charged = Some(amount);
    }

    let about = if kind.is_overdue_step() {
        &outstanding.overdue
    } else {
        &outstanding.counted
    };
    actions.push(Action::Notify {
        kind,
        step,
        overdue,
        oldest_due: ep.oldest_due,
        invoices: listed(about),
        late_fee: charged,
    });
}

/// The late fee as of `today` (rule 7), rounded; `None` out of `Decimal`'s range.
fn late_fee(today: NaiveDate, fee: &LateFee, outstanding: &Outstanding<'_>) -> Option<Money> {
    let currency = outstanding.overdue_sum.currency();
    let mut accrued = Decimal::ZERO;
    for inv in &outstanding.overdue {
        let days = Decimal::from((today - inv.due_on).num_days());
        let part = inv
            .open
            .amount()
            .checked_mul(fee.percent_per_day)?
            .checked_mul(days)?;
        accrued = accrued.checked_add(part)?;
    }
    let cap = outstanding
        .overdue_sum
        .amount()
        .checked_mul(fee.cap_percent)?;
    let fee = accrued.min(cap).checked_div(Decimal::ONE_HUNDRED)?;
    Some(Money::new(fee, currency).round_to_minor())
}

/// What the customer sees of its dunning state, one sentence in `language`: e.g. "New orders
/// have been blocked since 2026-12-14 because 1,234.56 RUB is overdue (due on 2026-11-30)."
pub fn explain(state: &DunningState, language: DocumentLanguage) -> String {
    let ru = language == DocumentLanguage::Ru;
    let Some(ep) = &state.episode else {
        return if ru {
            "Просроченной задолженности нет.".to_owned()
        } else {
            "Nothing is overdue.".to_owned()
        };
    };
    let amount = money_text(ep.overdue, language);
    let due = date_text(ep.oldest_due, language);
    let since = |kind| date_text(ep.done_on(kind).unwrap_or(ep.started_on), language);
    let mut text = if ep.suspended {
        if ru {
            format!(
                "Обслуживание приостановлено с {}: просрочена оплата {amount} (срок оплаты — {due}).",
                since(StepKind::Suspend)
            )
        } else {
            format!(
                "Service has been suspended since {} because {amount} is overdue (due on {due}).",
                since(StepKind::Suspend)
            )
        }
    } else if ep.blocked {
        if ru {
            format!(
                "Приём новых заказов приостановлен с {}: просрочена оплата {amount} (срок оплаты — {due}).",
                since(StepKind::BlockOrders)
            )
        } else {
            format!(
                "New orders have been blocked since {} because {amount} is overdue (due on {due}).",
                since(StepKind::BlockOrders)
            )
        }
    } else if ep.overdue.amount() > Decimal::ZERO {
        if ru {
            format!("Просрочена оплата {amount} (срок оплаты — {due}).")
        } else {
            format!("{amount} is overdue (due on {due}).")
        }
    } else if ru {
        format!("Срок оплаты — {due}.")
    } else {
        format!("Payment is due on {due}.")
    };
    if ep.done_on(StepKind::Final).is_some() {
        text.push_str(if ru {
            " Вопросом занимается менеджер."
        } else {
            " A manager is handling the matter."
        });
    }
    text
}

/// An e-mail to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    /// Plain text, lines separated by `\n`.
    pub body: String,
}

/// The notice to send for `action` to `customer_name`, in `language`: one for every
/// [`Action::Notify`], and for an [`Action::Restore`] that lifts a block or a suspension.
/// `None` for the other actions (the customer learns of them from the step's notice) and for
/// a restore that lifts nothing (the invoices were merely paid on time).
pub fn notice(action: &Action, customer_name: &str, language: DocumentLanguage) -> Option<Notice> {
    let texts = match language {
        DocumentLanguage::Ru => &RU,
        DocumentLanguage::En => &EN,
    };
    match action {
        Action::Notify {
            kind,
            overdue,
            oldest_due,
            invoices,
            late_fee,
            ..
        } => {
            let several = invoices.len() > 1;
            let money = |m: Money| money_text(m, language);
            let date = |d: NaiveDate| date_text(d, language);
            let list: String = invoices
                .iter()
                .map(|(number, open, due)| (texts.line)(number, &money(*open), &date(*due)))
                .collect::<Vec<_>>()
                .join("\n");
            let total = money(sum(overdue.currency(), invoices.iter().map(|i| i.1)));
            let (subject, text) = match kind {
                StepKind::Reminder => (
                    texts.reminder_subject[usize::from(several)],
                    (texts.reminder)(&list, &total),
                ),
                StepKind::DueNotice => (
                    texts.due_subject[usize::from(several)],
                    (texts.due)(&list, &total),
                ),
                StepKind::OverdueNotice => (
                    texts.overdue_subject[usize::from(several)],
                    (texts.overdue)(&list, &money(*overdue), &date(*oldest_due)),
                ),
                StepKind::BlockOrders => (
                    texts.block_subject,
                    (texts.block)(&list, &money(*overdue), &date(*oldest_due)),
                ),
                StepKind::Suspend => (
                    texts.suspend_subject,
                    (texts.suspend)(&list, &money(*overdue), &date(*oldest_due)),
                ),
                StepKind::Final => (
                    texts.final_subject,
                    (texts.final_)(&list, &money(*overdue), &date(*oldest_due)),
                ),
            };
            let text = match late_fee {
                Some(fee) => format!("{text}\n\n{}", (texts.late_fee)(&money(*fee))),
                None => text,
            };
            Some(letter(texts, customer_name, subject, &text))
        }
        Action::Restore { unblock, unsuspend } => {
            let (subject, text) = match (unblock, unsuspend) {
                (_, true) => (texts.restore_subject, texts.restore),
                (true, false) => (texts.unblock_subject, texts.unblock),
                (false, false) => return None,
            };
            Some(letter(texts, customer_name, subject, text))
        }
        Action::BlockOrders | Action::Suspend | Action::HandToPeople | Action::LateFee { .. } => {
            None
        }
    }
}

fn letter(texts: &Texts, customer_name: &str, subject: &str, text: &str) -> Notice {
    Notice {
        subject: subject.to_owned(),
        body: format!(
            "{}\n\n{text}\n\n{}",
            (texts.greeting)(customer_name.trim()),
            texts.signature
        ),
    }
}

/// The notices' wording in one language.
struct Texts {
    greeting: fn(&str) -> String,
    signature: &'static str,
    /// One invoice of a list: number, amount, due date.
    line: fn(&str, &str, &str) -> String,
    /// Subjects for one invoice and for several.
    reminder_subject: [&'static str; 2],
    /// The list and its total.
    reminder: fn(&str, &str) -> String,
    due_subject: [&'static str; 2],
    due: fn(&str, &str) -> String,
    overdue_subject: [&'static str; 2],
    /// The list, the overdue amount and the oldest due date.
    overdue: fn(&str, &str, &str) -> String,
    block_subject: &'static str,
    block: fn(&str, &str, &str) -> String,
    suspend_subject: &'static str,
    suspend: fn(&str, &str, &str) -> String,
    final_subject: &'static str,
    final_: fn(&str, &str, &str) -> String,
    restore_subject: &'static str,
    restore: &'static str,
    unblock_subject: &'static str,
    unblock: &'static str,
    /// The late fee charged with the step.
    late_fee: fn(&str) -> String,
}

static RU: Texts = Texts {
    greeting: |name| format!("Здравствуйте, {name}!"),
    signature: "С уважением,\nслужба расчётов",
    line: |number, amount, due| format!("— счёт № {number} на сумму {amount}, срок оплаты — {due}"),
    reminder_subject: [
        "Напоминание об оплате счёта",
        "Напоминание об оплате счетов",
    ],
    reminder: |list, total| {
        format!(
            "Напоминаем, что приближается срок оплаты:\n{list}\n\nИтого к оплате: {total}.\n\n\
             Если вы уже произвели оплату, пожалуйста, не обращайте внимания на это письмо."
        )
    },
    due_subject: [
        "Сегодня истекает срок оплаты счёта",
        "Сегодня истекает срок оплаты счетов",
    ],
    due: |list, total| {
        format!(
            "Сегодня истекает срок оплаты:\n{list}\n\nИтого к оплате: {total}.\n\n\
             Просим произвести оплату сегодня, чтобы избежать просрочки. Если вы уже произвели \
             оплату, пожалуйста, не обращайте внимания на это письмо."
        )
    },
    overdue_subject: ["Счёт просрочен", "Счета просрочены"],
    overdue: |list, overdue, due| {
        format!(
            "Срок оплаты истёк {due}, но оплата пока не поступила:\n{list}\n\n\
             Сумма просроченной задолженности: {overdue}.\n\n\
             Просим погасить задолженность в ближайшее время. Если вы уже произвели оплату, \
             пожалуйста, не обращайте внимания на это письмо."
        )
    },
    block_subject: "Приём новых заказов приостановлен",
    block: |list, overdue, due| {
        format!(
            "В связи с просроченной задолженностью в размере {overdue} (срок оплаты истёк \
             {due}) приём новых заказов приостановлен. Действующие подписки и заказы, уже \
             принятые в работу, продолжают обслуживаться.\n\nНеоплаченные счета:\n{list}\n\n\
             Приём заказов будет возобновлён автоматически после погашения задолженности."
        )
    },
    suspend_subject: "Обслуживание приостановлено",
    suspend: |list, overdue, due| {
        format!(
            "В связи с просроченной задолженностью в размере {overdue} (срок оплаты истёк \
             {due}) обслуживание приостановлено: начисления по подпискам и выполнение заказов \
             остановлены.\n\nНеоплаченные счета:\n{list}\n\n\
             Обслуживание будет возобновлено автоматически после погашения задолженности."
        )
    },
    final_subject: "Последнее напоминание о задолженности",
    final_: |list, overdue, due| {
        format!(
            "Задолженность в размере {overdue} не погашена, хотя срок оплаты истёк {due}. \
             Вопрос передан ответственному менеджеру, который свяжется с вами в ближайшее \
             время.\n\nНеоплаченные счета:\n{list}\n\n\
             Просим погасить задолженность или связаться с нами, чтобы согласовать порядок \
             оплаты."
        )
    },
    restore_subject: "Обслуживание возобновлено",
    restore: "Благодарим за оплату! Задолженность погашена, обслуживание возобновлено в полном \
              объёме.",
    unblock_subject: "Приём заказов возобновлён",
    unblock: "Благодарим за оплату! Задолженность погашена, приём новых заказов возобновлён.",
    late_fee: |fee| {
        format!(
            "По условиям договора за просрочку оплаты начислены пени: {fee}. Они будут \
             включены в следующий счёт."
        )
    },
};

static EN: Texts = Texts {
    greeting: |name| format!("Dear {name},"),
    signature: "Kind regards,\nBilling team",
    line: |number, amount, due| format!("- invoice {number}: {amount}, due on {due}"),
    reminder_subject: [
        "Payment reminder: invoice due soon",
        "Payment reminder: invoices due soon",
    ],
    reminder: |list, total| {
        format!(
            "This is a friendly reminder that the following payment is due soon:\n{list}\n\n\
             Total due: {total}.\n\nIf you have already paid, please disregard this message."
        )
    },
    due_subject: ["Invoice due today", "Invoices due today"],
    due: |list, total| {
        format!(
            "The following payment is due today:\n{list}\n\nTotal due: {total}.\n\n\
             Please pay today to keep your account in good standing. If you have already paid, \
             please disregard this message."
        )
    },
    overdue_subject: ["Invoice overdue", "Invoices overdue"],
    overdue: |list, overdue, due| {
        format!(
            "Payment was due on {due}, and we have not received it yet:\n{list}\n\n\
             Overdue balance: {overdue}.\n\n\
             Please settle the balance at your earliest convenience. If you have already paid, \
             please disregard this message."
        )
    },
    block_subject: "New orders on hold",
    block: |list, overdue, due| {
        format!(
            "Because a balance of {overdue} is overdue (payment was due on {due}), new orders \
             are on hold. Active subscriptions and orders already in progress continue as \
             usual.\n\nUnpaid invoices:\n{list}\n\n\
             Orders will be accepted again automatically once the balance is paid."
        )
    },
    suspend_subject: "Service suspended",
    suspend: |list, overdue, due| {
        format!(
            "Because a balance of {overdue} is overdue (payment was due on {due}), service is \
             suspended: subscriptions no longer accrue and work on your orders is on hold.\n\n\
             Unpaid invoices:\n{list}\n\n\
             Service will resume automatically once the balance is paid."
        )
    },
    final_subject: "Final reminder: overdue balance",
    final_: |list, overdue, due| {
        format!(
            "The overdue balance of {overdue} (payment was due on {due}) remains unpaid. The \
             matter has been passed to your account manager, who will contact you shortly.\n\n\
             Unpaid invoices:\n{list}\n\n\
             Please pay the balance or contact us to agree on a payment plan."
        )
    },
    restore_subject: "Service restored",
    restore: "Thank you for your payment. Your balance is settled and service has been fully \
              restored.",
    unblock_subject: "Orders accepted again",
    unblock: "Thank you for your payment. Your balance is settled and new orders are accepted \
              again.",
    late_fee: |fee| {
        format!(
            "Under your contract, a late payment fee of {fee} has been charged. It will be \
             included in your next invoice."
        )
    },
};

/// An amount as the language writes it, rounded to minor units: `1 234,56 ₽` (a no-break
/// space between groups and before the sign), `1,234.56 RUB`.
pub fn money_text(money: Money, language: DocumentLanguage) -> String {
    let mut value = money.round_to_minor().amount();
    value.rescale(money.currency().minor_units());
    let text = value.abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let (group, point) = match language {
        DocumentLanguage::Ru => ('\u{a0}', ','),
        DocumentLanguage::En => (',', '.'),
    };
    let mut number = String::new();
    if value.is_sign_negative() && !value.is_zero() {
        number.push('-');
    }
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            number.push(group);
        }
        number.push(digit);
    }
    if !fraction.is_empty() {
        number.push(point);
        number.push_str(fraction);
    }
    match language {
        DocumentLanguage::Ru => {
            let sign = match money.currency() {
                Currency::RUB => "₽",
                Currency::USD => "$",
                Currency::EUR => "€",
            };
            format!("{number}\u{a0}{sign}")
        }
        DocumentLanguage::En => format!("{number} {}", money.currency()),
    }
}

/// A day as the language writes it in a notice: `30.11.2026`, `2026-11-30`.
pub fn date_text(day: NaiveDate, language: DocumentLanguage) -> String {
    match language {
        DocumentLanguage::Ru => day.format("%d.%m.%Y").to_string(),
        DocumentLanguage::En => day.format("%Y-%m-%d").to_string(),
    }
}

#[cfg(test)]
mod tests;
