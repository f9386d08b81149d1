//! Work orders in batches: how engineers take same-type jobs together and finish them in one
//! action.
//!
//! Every order line is a work order (see [`crate::orders`]) waiting in the queue of its work
//! type. An engineer **takes a batch**: the next work orders of one type, oldest first; they
//! move to `accepted` under the new [`Batch`] (storage makes the move atomic, so two engineers
//! never get the same work order). The engineer may **start** the batch, and **completes** it
//! with one [`Outcome`] per work order: done with the actual quantity (which becomes a
//! [`Charge`] for the current billing period at the order's price version) or failed with a
//! reason. Completion may be partial; what is left can be **released** back to the queue, and
//! a batch nobody touched for the configured time goes back to the queue by itself
//! ([`Batch::is_stale`]).
//!
//! Planning a completion ([`plan_completion`]) checks the whole request before anything is
//! written: the caller's own batch, still open, every work order in it once, none cancelled
//! or finished. A refused request changes nothing.

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::catalog::WorkType;
use crate::charges::{Charge, ChargeSource, DomainEvent, EventKind};
use crate::ids::{BatchId, ChargeId, OrderId, OrgId, UserId, WorkOrderId};
use crate::orders::{
    LineState, MAX_NOTE_CHARS, OrderLine, UserOrKey, check_quantity, clean_text, status_name,
};

/// The most work orders in one batch: taking it is one transaction of the batch and its work
/// orders, within DynamoDB's 100 actions.
pub const MAX_BATCH: usize = 99;

/// Why a batch operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The batch or a work order is not in a state that allows this.
    #[error("{field}: {reason}")]
    Conflict {
        field: String,
        code: &'static str,
        reason: String,
    },
    /// Another engineer's batch.
    #[error("this batch belongs to another engineer")]
    NotYours,
}

impl WorkError {
    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        WorkError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn conflict(field: impl Into<String>, code: &'static str, reason: impl Into<String>) -> Self {
        WorkError::Conflict {
            field: field.into(),
            code,
            reason: reason.into(),
        }
    }
}

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Taken; work orders `accepted`.
    Open,
    /// Started; work orders `in_progress`.
    InProgress,
    /// Nothing left open: every work order done, failed, released or cancelled.
    Closed,
}

/// Where one work order of a batch stands, from the batch's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Open,
    Done,
    Failed,
    /// Given back to the queue (by the engineer, or because the batch went stale).
    Released,
}

/// One work order of a batch, with the keys to find its line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEntry {
    pub work_order: WorkOrderId,
    pub org: OrgId,
    pub order: OrderId,
    pub line_no: u16,
    pub state: EntryState,
}

/// Work orders of one work type taken by one engineer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub id: BatchId,
    pub engineer: UserId,
    pub work_type: WorkType,
    pub taken_at: DateTime<Utc>,
    /// The last time the engineer did something with the batch.
    pub touched_at: DateTime<Utc>,
    /// When the batch, untouched, goes back to the queue.
    pub stale_at: DateTime<Utc>,
    pub status: BatchStatus,
    pub entries: Vec<BatchEntry>,
}

impl Batch {
    /// A new batch of `lines` (all `placed`, all of `work_type`), which move to `accepted`.
    ///
    /// Panics if a line is not `placed` or of another work type: the caller chose them from
    /// the queue of `work_type`, so that is a bug, not bad input.
    pub fn take(
        engineer: UserId,
        work_type: WorkType,
        lines: &mut [OrderLine],
        now: DateTime<Utc>,
        timeout: TimeDelta,
    ) -> Batch {
        assert!(
            lines.len() <= MAX_BATCH,
            "a batch holds at most {MAX_BATCH}"
        );
        let id = BatchId::new();
        let entries = lines
            .iter_mut()
            .map(|line| {
                assert_eq!(line.state, LineState::Placed, "only placed lines are taken");
                assert_eq!(line.work_type, work_type, "a batch has one work type");
                line.state = LineState::Accepted {
                    batch: id,
                    engineer,
                    at: now,
                };
                BatchEntry {
                    work_order: line.work_order,
                    org: line.org,
                    order: line.order,
                    line_no: line.line_no,
                    state: EntryState::Open,
                }
            })
            .collect();
        Batch {
            id,
            engineer,
            work_type,
            taken_at: now,
            touched_at: now,
            stale_at: now + timeout,
            status: BatchStatus::Open,
            entries,
        }
    }

    /// Untouched past its time, with work orders still open.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.status != BatchStatus::Closed && now >= self.stale_at
    }

    /// The entries still open.
    pub fn open_entries(&self) -> impl Iterator<Item = &BatchEntry> {
        self.entries.iter().filter(|e| e.state == EntryState::Open)
    }

    fn touch(&mut self, now: DateTime<Utc>, timeout: TimeDelta) {
        self.touched_at = now;
        self.stale_at = now + timeout;
    }

    fn close_if_finished(&mut self) {
        if self.open_entries().next().is_none() {
            self.status = BatchStatus::Closed;
        }
    }

    /// Brings the entries in line with the lines (the lines are the truth): a line finished
    /// in this batch marks its entry done or failed; a line no longer in this batch (and not
    /// cancelled by the customer) marks it released. Heals a batch whose own write was lost after its lines
    /// were written. Returns whether anything changed.
    pub fn reconcile(&mut self, lines: &[OrderLine]) -> bool {
        let mut changed = false;
        for entry in self
            .entries
            .iter_mut()
            .filter(|e| e.state == EntryState::Open)
        {
            let Some(line) = lines.iter().find(|l| l.work_order == entry.work_order) else {
                continue;
            };
            let state = match &line.state {
                LineState::Done { batch, .. } if *batch == self.id => EntryState::Done,
                LineState::Failed { batch, .. } if *batch == self.id => EntryState::Failed,
                state if state.open_batch() == Some(self.id) => EntryState::Open,
                _ => EntryState::Released,
            };
            if state != entry.state {
                entry.state = state;
                changed = true;
            }
        }
        if changed {
            self.close_if_finished();
        }
        changed
    }

    /// Checks that `engineer` may act on the batch now: theirs, not closed, not stale.
    pub fn ensure_workable(&self, engineer: UserId, now: DateTime<Utc>) -> Result<(), WorkError> {
        if self.engineer != engineer {
            return Err(WorkError::NotYours);
        }
        if self.status == BatchStatus::Closed {
            return Err(WorkError::conflict(
                "batch",
                "batch_closed",
                "the batch is already completed or released",
            ));
        }
        if self.is_stale(now) {
            return Err(WorkError::conflict(
                "batch",
                "batch_stale",
                "the batch was left untouched too long and went back to the queue",
            ));
        }
        Ok(())
    }

    /// Starts the batch: its open work orders (their `lines`, in any order) move to
    /// `in_progress`. Lines cancelled meanwhile stay cancelled.
    pub fn start(
        &mut self,
        engineer: UserId,
        lines: &mut [OrderLine],
        now: DateTime<Utc>,
        timeout: TimeDelta,
    ) -> Result<(), WorkError> {
        self.ensure_workable(engineer, now)?;
        if self.status == BatchStatus::InProgress {
            return Err(WorkError::conflict(
                "batch",
                "batch_started",
                "the batch is already started",
            ));
        }
        for line in lines.iter_mut() {
            if let LineState::Accepted { batch, .. } = line.state
                && batch == self.id
            {
                line.state = LineState::InProgress {
                    batch: self.id,
                    engineer,
                    at: now,
                };
            }
        }
        self.status = BatchStatus::InProgress;
        self.touch(now, timeout);
        Ok(())
    }

    /// Gives the open work orders among `lines` back to the queue (all open ones when the
    /// caller passes them all). Returns the lines that changed.
    ///
    /// `by` is `None` when the batch went stale and is released by the system.
    pub fn release(
        &mut self,
        by: Option<UserId>,
        which: Option<&[WorkOrderId]>,
        lines: &mut [OrderLine],
        now: DateTime<Utc>,
    ) -> Result<Vec<WorkOrderId>, WorkError> {
        match by {
            Some(engineer) => self.ensure_workable(engineer, now)?,
            None if !self.is_stale(now) => {
                return Err(WorkError::conflict(
                    "batch",
                    "batch_not_stale",
                    "the batch is not stale",
                ));
            }
            None => {}
        }
        if let Some(which) = which {
            for (i, wo) in which.iter().enumerate() {
                let entry = self.entries.iter().find(|e| e.work_order == *wo);
                match entry {
                    None => {
                        return Err(WorkError::invalid(
                            format!("work_orders[{i}]"),
                            format!("{wo} is not in this batch"),
                        ));
                    }
                    Some(e) if e.state != EntryState::Open => {
                        return Err(WorkError::conflict(
                            format!("work_orders[{i}]"),
                            "work_order_not_open",
                            format!("{wo} is no longer open in this batch"),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let chosen = |wo: &WorkOrderId| which.is_none_or(|w| w.contains(wo));
        let mut released = Vec::new();
        for entry in self.entries.iter_mut() {
            if entry.state != EntryState::Open || !chosen(&entry.work_order) {
                continue;
            }
            entry.state = EntryState::Released;
            released.push(entry.work_order);
            if let Some(line) = lines.iter_mut().find(|l| l.work_order == entry.work_order)
                && line.state.open_batch() == Some(self.id)
            {
                line.state = LineState::Placed;
            }
        }
        self.close_if_finished();
        Ok(released)
    }
}

/// What the engineer says about one work order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done {
        work_order: WorkOrderId,
        actual_quantity: Decimal,
    },
    Failed {
        work_order: WorkOrderId,
        reason: String,
    },
}

impl Outcome {
    pub fn work_order(&self) -> WorkOrderId {
        match self {
            Outcome::Done { work_order, .. } | Outcome::Failed { work_order, .. } => *work_order,
        }
    }
}

/// One work order's completion: its line in the new state, the charge (if done), and the
/// event. Storage writes the three together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub line: OrderLine,
    pub charge: Option<Charge>,
    pub event: DomainEvent,
}

/// Plans the completion of `outcomes` for `batch` by `engineer`: checks everything and
/// returns the completions and the batch as it will be. `lines` are the current lines of the
/// work orders named in `outcomes` (others are ignored). Nothing is decided by storage but
/// the atomicity of each write.
pub fn plan_completion(
    batch: &Batch,
    engineer: UserId,
    outcomes: &[Outcome],
    lines: &[OrderLine],
    now: DateTime<Utc>,
    calendar: Calendar,
    timeout: TimeDelta,
) -> Result<(Batch, Vec<Completion>), WorkError> {
    batch.ensure_workable(engineer, now)?;
    if outcomes.is_empty() {
        return Err(WorkError::invalid(
            "outcomes",
            "name at least one work order",
        ));
    }
    let mut next = batch.clone();
    let mut completions = Vec::with_capacity(outcomes.len());
    let period = calendar.period_of(now);
    for (i, outcome) in outcomes.iter().enumerate() {
        let field = |name: &str| format!("outcomes[{i}].{name}");
        let wo = outcome.work_order();
        if outcomes[..i].iter().any(|o| o.work_order() == wo) {
            return Err(WorkError::invalid(
                field("work_order"),
                format!("{wo} is named twice"),
            ));
        }
        let Some(entry) = next.entries.iter_mut().find(|e| e.work_order == wo) else {
            return Err(WorkError::invalid(
                field("work_order"),
                format!("{wo} is not in this batch"),
            ));
        };
        let Some(line) = lines.iter().find(|l| l.work_order == wo) else {
            return Err(WorkError::invalid(
                field("work_order"),
                format!("{wo} was not found"),
            ));
        };
        if let LineState::Cancelled { .. } = line.state {
            return Err(WorkError::conflict(
                field("work_order"),
                "work_order_cancelled",
                format!("{wo} was cancelled by the customer and cannot be completed"),
            ));
        }
        if entry.state != EntryState::Open || line.state.open_batch() != Some(batch.id) {
            return Err(WorkError::conflict(
                field("work_order"),
                "work_order_not_open",
                format!(
                    "{wo} is already {} and cannot be completed again",
                    status_name(line.state.status())
                ),
            ));
        }
        let mut line = line.clone();
        let actor = UserOrKey::User(engineer);
        let (charge, kind) = match outcome {
            Outcome::Done {
                actual_quantity, ..
            } => {
                let quantity =
                    check_quantity(&field("actual_quantity"), *actual_quantity, line.unit)
                        .map_err(|e| WorkError::invalid(field("actual_quantity"), e.to_string()))?;
                let amount = line
                    .price
                    .quote(quantity)
                    .map_err(|e| WorkError::invalid(field("actual_quantity"), e.to_string()))?
                    .total();
                let charge = Charge {
                    id: ChargeId::new(),
                    org: line.org,
                    period,
                    source: ChargeSource::WorkOrder {
                        order: line.order,
                        line_no: line.line_no,
                        work_order: wo,
                    },
                    service: line.service.clone(),
                    description: line.service_name.clone(),
                    quantity,
                    unit: line.unit,
                    price_version: line.price_version,
                    tax_rate: line.tax_rate,
                    amount,
                    rendered_on: calendar.date_of(now),
                    created_at: now,
                };
                line.state = LineState::Done {
                    batch: batch.id,
                    engineer,
                    at: now,
                    actual_quantity: quantity,
                    charge: charge.id,
                    amount,
                    period,
                };
                entry.state = EntryState::Done;
                let kind = EventKind::WorkOrderDone {
                    order: line.order,
                    line_no: line.line_no,
                    work_order: wo,
                    batch: batch.id,
                    actual_quantity: quantity,
                    charge: charge.id,
                    amount,
                };
                (Some(charge), kind)
            }
            Outcome::Failed { reason, .. } => {
                let reason = clean_text(&field("reason"), reason, MAX_NOTE_CHARS)
                    .map_err(|e| WorkError::invalid(field("reason"), e.to_string()))?;
                line.state = LineState::Failed {
                    batch: batch.id,
                    engineer,
                    at: now,
                    reason: reason.clone(),
                };
                entry.state = EntryState::Failed;
                let kind = EventKind::WorkOrderFailed {
                    order: line.order,
                    line_no: line.line_no,
                    work_order: wo,
                    batch: batch.id,
                    reason,
                };
                (None, kind)
            }
        };
        let event = DomainEvent::new(line.org, actor, now, kind);
        completions.push(Completion {
            line,
            charge,
            event,
        });
    }
    next.touch(now, timeout);
    next.close_if_finished();
    Ok((next, completions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{LocalizedText, TaxRate, UnitOfMeasure};
    use crate::money::{Currency, Money};
    use crate::orders::Site;
    use crate::pricing::{Price, PriceModel, Quantity, Tier};
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    fn timeout() -> TimeDelta {
        TimeDelta::hours(8)
    }

    /// [`plan_completion`] by `engineer` now, in a UTC calendar.
    fn complete(
        batch: &Batch,
        engineer: UserId,
        outcomes: &[Outcome],
        lines: &[OrderLine],
    ) -> Result<(Batch, Vec<Completion>), WorkError> {
        plan_completion(
            batch,
            engineer,
            outcomes,
            lines,
            now(),
            Calendar::UTC,
            timeout(),
        )
    }

    fn line(n: u16) -> OrderLine {
        let price = Price::new(
            Currency::RUB,
            PriceModel::Volume {
                tiers: vec![
                    Tier::bounded(dec!(5), dec!(7.00)),
                    Tier::bounded(dec!(10), dec!(6.50)),
                    Tier::unbounded(dec!(6.00)),
                ],
            },
            None,
            None,
        )
        .unwrap();
        OrderLine {
            org: OrgId::new(),
            order: OrderId::new(),
            line_no: n,
            work_order: WorkOrderId::new(),
            service: "ROUTER-SETUP".parse().unwrap(),
            service_name: LocalizedText::new("Настройка", "Setup").unwrap(),
            unit: UnitOfMeasure::Piece,
            work_type: "install".parse().unwrap(),
            quantity: Quantity::new(dec!(3)).unwrap(),
            requested_date: Calendar::UTC.date_of(now()),
            note: None,
            site: Site {
                address: "Тверская, 1".into(),
                area: None,
                contact: None,
            },
            price_version: 1,
            price,
            tax_rate: TaxRate::from_percent(dec!(20)).unwrap(),
            expected: Money::new(dec!(21), Currency::RUB),
            placed_at: now(),
            state: LineState::Placed,
        }
    }

    fn taken(n: u16) -> (UserId, Batch, Vec<OrderLine>) {
        let engineer = UserId::new();
        let mut lines: Vec<OrderLine> = (1..=n).map(line).collect();
        let batch = Batch::take(
            engineer,
            "install".parse().unwrap(),
            &mut lines,
            now(),
            timeout(),
        );
        (engineer, batch, lines)
    }

    #[test]
    fn taking_accepts_every_line_into_the_batch() {
        let (engineer, batch, lines) = taken(3);
        assert_eq!(batch.entries.len(), 3);
        assert!(lines.iter().all(|l| l.state.open_batch() == Some(batch.id)));
        assert_eq!(batch.engineer, engineer);
        assert_eq!(batch.stale_at, now() + timeout());
    }

    #[test]
    fn completing_bills_done_work_at_the_order_price_and_actual_quantity() {
        let (engineer, batch, lines) = taken(3);
        let outcomes = [
            Outcome::Done {
                work_order: lines[0].work_order,
                actual_quantity: dec!(25),
            },
            Outcome::Failed {
                work_order: lines[1].work_order,
                reason: " no access to the site ".into(),
            },
        ];
        let (next, completions) = complete(&batch, engineer, &outcomes, &lines).unwrap();
        // Volume 11+ at 6.00: 25 × 6.00.
        let charge = completions[0].charge.as_ref().unwrap();
        assert_eq!(charge.amount.amount(), dec!(150.00));
        assert_eq!(charge.period.to_string(), "2026-11");
        assert!(completions[1].charge.is_none());
        assert!(
            matches!(&completions[1].line.state, LineState::Failed { reason, .. } if reason == "no access to the site")
        );
        assert_eq!(
            next.status,
            BatchStatus::Open,
            "one work order is still open"
        );
        assert_eq!(next.open_entries().count(), 1);
    }

    #[test]
    fn work_done_counts_in_the_providers_period() {
        // 22:30 UTC on 30 November is 01:30 on 1 December in Moscow; the batch was taken an
        // hour before.
        let late = Utc.with_ymd_and_hms(2026, 11, 30, 22, 30, 0).unwrap();
        let engineer = UserId::new();
        let mut lines = vec![line(1)];
        let batch = Batch::take(
            engineer,
            "install".parse().unwrap(),
            &mut lines,
            late - TimeDelta::hours(1),
            timeout(),
        );
        let outcomes = [Outcome::Done {
            work_order: lines[0].work_order,
            actual_quantity: dec!(1),
        }];
        let plan = |calendar| {
            let (_, completions) = plan_completion(
                &batch,
                engineer,
                &outcomes,
                &lines,
                late,
                calendar,
                timeout(),
            )
            .unwrap();
            let charge = completions[0].charge.clone().unwrap();
            (charge.period.to_string(), charge.rendered_on.to_string())
        };
        assert_eq!(plan(Calendar::UTC), ("2026-11".into(), "2026-11-30".into()));
        let moscow: Calendar = "Europe/Moscow".parse().unwrap();
        assert_eq!(plan(moscow), ("2026-12".into(), "2026-12-01".into()));
    }

    #[test]
    fn completing_everything_closes_the_batch_and_a_second_time_is_refused() {
        let (engineer, batch, lines) = taken(2);
        let outcomes: Vec<Outcome> = lines
            .iter()
            .map(|l| Outcome::Done {
                work_order: l.work_order,
                actual_quantity: dec!(1),
            })
            .collect();
        let (next, completions) = complete(&batch, engineer, &outcomes, &lines).unwrap();
        assert_eq!(next.status, BatchStatus::Closed);
        let done: Vec<OrderLine> = completions.into_iter().map(|c| c.line).collect();
        let err = complete(&next, engineer, &outcomes, &done).unwrap_err();
        assert!(matches!(
            err,
            WorkError::Conflict {
                code: "batch_closed",
                ..
            }
        ));
        // Against the old batch state but the new lines: the work orders are finished.
        let err = complete(&batch, engineer, &outcomes, &done).unwrap_err();
        assert!(matches!(
            err,
            WorkError::Conflict {
                code: "work_order_not_open",
                ..
            }
        ));
    }

    #[test]
    fn refusals() {
        let (engineer, batch, mut lines) = taken(2);
        let wo = lines[0].work_order;
        let done = |q| Outcome::Done {
            work_order: wo,
            actual_quantity: q,
        };
        let plan = |outcomes: &[Outcome], lines: &[OrderLine], who, at| {
            plan_completion(&batch, who, outcomes, lines, at, Calendar::UTC, timeout())
        };
        assert_eq!(
            plan(&[done(dec!(1))], &lines, UserId::new(), now()).unwrap_err(),
            WorkError::NotYours
        );
        assert!(matches!(
            plan(&[done(dec!(1))], &lines, engineer, now() + timeout()).unwrap_err(),
            WorkError::Conflict {
                code: "batch_stale",
                ..
            }
        ));
        assert!(
            matches!(plan(&[], &lines, engineer, now()).unwrap_err(), WorkError::Invalid { field, .. } if field == "outcomes")
        );
        assert!(
            matches!(plan(&[done(dec!(1)), done(dec!(2))], &lines, engineer, now()).unwrap_err(), WorkError::Invalid { field, .. } if field == "outcomes[1].work_order")
        );
        assert!(
            matches!(plan(&[done(dec!(0))], &lines, engineer, now()).unwrap_err(), WorkError::Invalid { field, .. } if field == "outcomes[0].actual_quantity")
        );
        assert!(
            matches!(plan(&[done(dec!(1.5))], &lines, engineer, now()).unwrap_err(), WorkError::Invalid { field, .. } if field == "outcomes[0].actual_quantity")
        );
        let stranger = Outcome::Failed {
            work_order: WorkOrderId::new(),
            reason: "x".into(),
        };
        assert!(
            matches!(plan(&[stranger], &lines, engineer, now()).unwrap_err(), WorkError::Invalid { field, .. } if field == "outcomes[0].work_order")
        );
        let blank = Outcome::Failed {
            work_order: wo,
            reason: " ".into(),
        };
        assert!(
            matches!(plan(&[blank], &lines, engineer, now()).unwrap_err(), WorkError::Invalid { field, .. } if field == "outcomes[0].reason")
        );
        lines[0]
            .cancel(UserOrKey::User(UserId::new()), now())
            .unwrap();
        assert!(matches!(
            plan(&[done(dec!(1))], &lines, engineer, now()).unwrap_err(),
            WorkError::Conflict {
                code: "work_order_cancelled",
                ..
            }
        ));
    }

    #[test]
    fn release_puts_open_work_back_and_a_stale_batch_is_released_by_the_system() {
        let (engineer, mut batch, mut lines) = taken(3);
        let one = [lines[0].work_order];
        let released = batch
            .release(Some(engineer), Some(&one), &mut lines, now())
            .unwrap();
        assert_eq!(released, one.to_vec());
        assert_eq!(lines[0].state, LineState::Placed);
        assert_eq!(batch.status, BatchStatus::Open);
        assert!(
            batch.release(None, None, &mut lines, now()).is_err(),
            "not stale yet"
        );
        let later = now() + timeout();
        let released = batch.release(None, None, &mut lines, later).unwrap();
        assert_eq!(released.len(), 2);
        assert!(lines.iter().all(|l| l.state == LineState::Placed));
        assert_eq!(batch.status, BatchStatus::Closed);
    }

    #[test]
    fn starting_moves_open_work_in_progress_and_keeps_the_batch_alive() {
        let (engineer, mut batch, mut lines) = taken(2);
        let later = now() + TimeDelta::hours(7);
        batch.start(engineer, &mut lines, later, timeout()).unwrap();
        assert!(
            lines
                .iter()
                .all(|l| l.state.status() == crate::orders::Status::InProgress)
        );
        assert_eq!(batch.stale_at, later + timeout());
        assert!(batch.start(engineer, &mut lines, later, timeout()).is_err());
    }
}
