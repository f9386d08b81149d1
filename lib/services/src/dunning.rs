//! Dunning: the daily run that moves each customer with money due through the provider's
//! policy — reminders, notices, blocked orders, suspension, a final step handed to people —
//! and restores it when it has paid (the rules and texts are `kopek_domain::dunning`). The
//! `dunning` function runs [`Dunning::run_daily`] on its schedule; a payment recorded runs
//! [`Dunning::run_customer`] for its customer at once, so paying restores without waiting for
//! the next morning. Orders are refused while a customer is blocked ([`orders_allowed`]); a
//! suspended customer's work orders wait in the queues, not taken into batches
//! ([`suspended`], read by `Work::take_batch`), and its subscriptions are not billed for the
//! days suspended (the state keeps them; the period close reads them). A late
//! fee, when the policy charges one, is a charge recorded with the step that decided it.

use kopek_aws::dynamo::StoreError;
use kopek_aws::dynamo::dunning::{StoredDunning, StoredPolicy};
use kopek_domain::accounts::{DocumentLanguage, Principal, Role, Scope};
use kopek_domain::charges::{DomainEvent, EventKind};
use kopek_domain::dunning::{
    self, Action, CustomerDunning, DueInvoice, DunningPolicy, DunningState, Mode,
};
use kopek_domain::ids::OrgId;
use kopek_domain::money::Money;
use kopek_domain::orders::UserOrKey;

use crate::access::{BILLING_STAFF, org_of, subject_text};
use crate::{Context, Error, Result};

/// Organisations read per page of the daily run.
const PAGE: i32 = 100;

/// A customer's dunning as people see it.
#[derive(Debug, Clone)]
pub struct DunningOf {
    pub org: OrgId,
    pub customer: String,
    pub settings: CustomerDunning,
    pub state: DunningState,
    /// What the customer is under and why, in its language.
    pub explanation: String,
    /// The revision to send with a change of settings.
    pub rev: u64,
}

/// A manager's choice for one customer.
#[derive(Debug, Clone)]
pub enum ModeCommand {
    /// Under the provider's policy.
    Policy,
    /// No dunning for this customer.
    Off,
    /// No steps until `until` (inclusive; `None`: until lifted), with why.
    Hold {
        until: Option<chrono::NaiveDate>,
        reason: String,
    },
}

/// What one customer's run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerRun {
    /// The state changed and was saved.
    pub changed: bool,
    pub notices: usize,
    pub blocked: bool,
    pub suspended: bool,
    pub restored: bool,
    pub handed_to_people: bool,
    /// The late fee charged, if one was.
    pub late_fee: Option<Money>,
}

/// What a daily run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DailyRun {
    pub customers: usize,
    /// Customers whose dunning changed.
    pub changed: usize,
    pub notices: usize,
    pub blocked: usize,
    pub suspended: usize,
    pub restored: usize,
    pub handed_to_people: usize,
    /// Customers charged a late fee.
    pub late_fees: usize,
    /// Customers whose run failed (logged; the next run tries again).
    pub failed: usize,
}

/// Dunning.
#[derive(Clone)]
pub struct Dunning {
    ctx: Context,
}

/// Refuses a new order of a customer whose orders dunning blocked (409 `orders_blocked`,
/// saying why) — unless a manager's hold or "off" lifts it.
pub(crate) async fn orders_allowed(
    ctx: &Context,
    org: OrgId,
    language: DocumentLanguage,
) -> Result<()> {
    let stored = ctx.store.dunning(org).await?;
    if stored
        .state
        .orders_blocked_on(&stored.settings, ctx.today())
    {
        return Err(Error::conflict(
            "orders_blocked",
            dunning::explain(&stored.state, language),
        ));
    }
    Ok(())
}

/// Whether dunning suspended `org`'s service (and no manager's hold or "off" lifts it): its
/// work orders are held back from the queues.
pub(crate) async fn suspended(ctx: &Context, org: OrgId) -> Result<bool> {
    let stored = ctx.store.dunning(org).await?;
    Ok(stored.state.suspended_on(&stored.settings, ctx.today()))
}

impl Dunning {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// The provider's policy (billing staff), the written default until an admin saves one.
    pub async fn policy(&self, caller: &Principal) -> Result<StoredPolicy> {
        caller.require_role(BILLING_STAFF)?;
        caller.require_scope(Scope::InvoicesRead)?;
        Ok(self.ctx.store.dunning_policy().await?)
    }

    /// Saves the provider's policy (admins) over the revision read; checked first, every
    /// error naming its field.
    pub async fn save_policy(
        &self,
        caller: &Principal,
        policy: DunningPolicy,
        rev: u64,
    ) -> Result<StoredPolicy> {
        caller.require_role(&[Role::Admin])?;
        caller.require_scope(Scope::InvoicesRead)?;
        let policy =
            policy
                .checked()
                .map_err(|dunning::DunningError::Invalid { field, reason }| {
                    Error::invalid(field, reason)
                })?;
        let rev = self
            .ctx
            .store
            .save_dunning_policy(&policy, rev)
            .await
            .map_err(conflict_on_rev)?;
        tracing::info!(rev, "dunning policy saved");
        Ok(StoredPolicy { policy, rev })
    }

    /// A customer's dunning: its settings, where it stands and why (`invoices:read`;
    /// customers their own, staff any).
    pub async fn of(&self, caller: &Principal, org: Option<OrgId>) -> Result<DunningOf> {
        caller.require_scope(Scope::InvoicesRead)?;
        let org = org_of(caller, org)?;
        let organisation = self
            .ctx
            .store
            .organisation(org)
            .await?
            .ok_or(Error::NotFound)?;
        let stored = self.ctx.store.dunning(org).await?;
        Ok(DunningOf {
            org,
            customer: organisation.legal_name.to_string(),
            explanation: dunning::explain(&stored.state, organisation.language),
            settings: stored.settings,
            state: stored.state,
            rev: stored.rev,
        })
    }

    /// Puts a customer under the policy, turns dunning off for it, or holds it (managers
    /// and admins), over the revision read. A hold or "off" lifts a block at once; the next
    /// run after a hold ends takes the steps that fell due.
    pub async fn set_mode(
        &self,
        caller: &Principal,
        org: OrgId,
        mode: ModeCommand,
        rev: u64,
    ) -> Result<DunningOf> {
        caller.require_role(&[Role::Admin, Role::Manager])?;
        caller.require_scope(Scope::InvoicesRead)?;
        let store = &self.ctx.store;
        store
            .organisation(org)
            .await?
            .ok_or_else(|| Error::invalid("org_id", "no such organisation"))?;
        let mut stored = store.dunning(org).await?;
        if stored.rev != rev {
            return Err(Error::conflict_on(
                "conflict",
                "rev",
                "the customer's dunning changed meanwhile; read it again",
            ));
        }
        stored.settings = CustomerDunning {
            mode: match mode {
                ModeCommand::Policy => Mode::Policy,
                ModeCommand::Off => Mode::Off,
                ModeCommand::Hold { until, reason } => Mode::Hold {
                    until,
                    reason,
                    by: subject_text(caller),
                },
            },
            ..stored.settings
        }
        .checked()
        .map_err(|dunning::DunningError::Invalid { field, reason }| {
            Error::invalid(field.strip_prefix("mode.").unwrap_or(&field), reason)
        })?;
        // A hold or "off" lifts a suspension today; back under the policy, it is back.
        stored
            .state
            .track_suspension(&stored.settings, self.ctx.today());
        store
            .save_dunning(org, &stored)
            .await
            .map_err(conflict_on_rev)?;
        tracing::info!(%org, "dunning settings changed");
        self.of(caller, Some(org)).await
    }

    /// Today's run by hand (admins): [`Dunning::run_daily`].
    pub async fn run_daily_as(&self, caller: &Principal) -> Result<DailyRun> {
        caller.require_role(&[Role::Admin])?;
        caller.require_scope(Scope::InvoicesRead)?;
        self.run_daily().await
    }

    /// Today's run for every customer (the `dunning` function's schedule; admins may run it
    /// by hand): each customer with money due moved through the policy. Run again on the same
    /// day, it changes nothing.
    pub async fn run_daily(&self) -> Result<DailyRun> {
        let policy = self.ctx.store.dunning_policy().await?.policy;
        let mut run = DailyRun::default();
        let mut start = None;
        loop {
            let page = self.ctx.store.list_organisations(PAGE, start).await?;
            for organisation in &page.items {
                run.customers += 1;
                match self.run_one(organisation, &policy).await {
                    Ok(one) => {
                        run.changed += usize::from(one.changed);
                        run.notices += one.notices;
                        run.blocked += usize::from(one.blocked);
                        run.suspended += usize::from(one.suspended);
                        run.restored += usize::from(one.restored);
                        run.handed_to_people += usize::from(one.handed_to_people);
                        run.late_fees += usize::from(one.late_fee.is_some());
                    }
                    Err(e) => {
                        run.failed += 1;
                        tracing::warn!(org = %organisation.id, error = %e, "dunning failed for a customer");
                    }
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        tracing::info!(
            customers = run.customers,
            changed = run.changed,
            notices = run.notices,
            "dunning run"
        );
        // A run is an action even where it changed nothing: its record says what it saw.
        crate::audit::note("customers", run.customers.into());
        crate::audit::note("changed", run.changed.into());
        self.ctx.store.audit_now().await?;
        Ok(run)
    }

    /// Today's run for one customer (after a payment: restores at once what it paid off).
    /// A customer without an episode and nothing due costs one read of its dunning and one
    /// of its invoices.
    pub async fn run_customer(&self, org: OrgId) -> Result<CustomerRun> {
        let organisation = self
            .ctx
            .store
            .organisation(org)
            .await?
            .ok_or(Error::NotFound)?;
        let policy = self.ctx.store.dunning_policy().await?.policy;
        self.run_one(&organisation, &policy).await
    }

    async fn run_one(
        &self,
        organisation: &kopek_domain::accounts::Organisation,
        policy: &DunningPolicy,
    ) -> Result<CustomerRun> {
        let store = &self.ctx.store;
        let org = organisation.id;
        let stored = store.dunning(org).await?;
        let invoices: Vec<DueInvoice> = store
            .invoices_of_org_all(org)
            .await?
            .iter()
            .map(|i| DueInvoice::of(&i.invoice))
            .filter(|i| !i.open.is_zero() && !i.open.is_negative())
            .collect();
        if invoices.is_empty() && stored.state.episode.is_none() {
            return Ok(CustomerRun::default());
        }
        let policy = stored.settings.policy_override.as_ref().unwrap_or(policy);
        let mut decision = dunning::run(
            self.ctx.today(),
            policy,
            &stored.settings,
            &stored.state,
            &invoices,
        );
        // Invoices that went past their due date since the episode last told: each told once.
        let past_due: Vec<DueInvoice> = match decision.state.episode.as_mut() {
            Some(episode) => {
                let newly: Vec<DueInvoice> =
                    dunning::newly_overdue(episode, &invoices, self.ctx.today())
                        .into_iter()
                        .cloned()
                        .collect();
                episode.overdue_told.extend(newly.iter().map(|i| i.id));
                newly
            }
            None => Vec::new(),
        };
        if decision.state == stored.state && decision.actions.is_empty() {
            return Ok(CustomerRun::default());
        }
        let mut run = CustomerRun {
            changed: true,
            ..CustomerRun::default()
        };
        // Notices first, the state after: a crash in between sends a notice again rather
        // than losing it; each step is recorded once, with its day — and a late fee with it.
        let today = self.ctx.today();
        let mut fee = None;
        for action in &decision.actions {
            match action {
                Action::BlockOrders => run.blocked = true,
                Action::Suspend => run.suspended = true,
                Action::Restore { .. } => run.restored = true,
                Action::HandToPeople => run.handed_to_people = true,
                Action::LateFee { amount } => {
                    let oldest_due = decision
                        .state
                        .episode
                        .as_ref()
                        .map_or(today, |e| e.oldest_due);
                    fee = Some(dunning::late_fee_charge(
                        org,
                        *amount,
                        oldest_due,
                        today,
                        self.ctx.current_period(),
                        self.ctx.now(),
                    ));
                    run.late_fee = Some(*amount);
                }
                Action::Notify { .. } => {}
            }
            let name = organisation.legal_name.to_string();
            if let Some(notice) = dunning::notice(action, &name, organisation.language) {
                let mailer = self
                    .ctx
                    .mailer
                    .as_ref()
                    .ok_or_else(|| Error::internal("this function has no mail sender"))?;
                mailer
                    .send(
                        organisation.billing_email.as_str(),
                        &notice.subject,
                        &notice.body,
                    )
                    .await?;
                run.notices += 1;
            }
        }
        // What a CRM is told, in the same transaction: the step reached, a suspension, a
        // restore.
        let now = self.ctx.now();
        let overdue = decision.state.episode.as_ref().map(|e| e.overdue);
        let told_overdue = past_due.iter().map(|i| EventKind::InvoiceOverdue {
            invoice: i.id,
            number: i.number.clone(),
            open: i.open,
            due_on: i.due_on,
        });
        let events: Vec<DomainEvent> = decision
            .actions
            .iter()
            .filter_map(|action| match action {
                Action::Notify {
                    kind,
                    step,
                    overdue,
                    ..
                } => Some(EventKind::DunningStepReached {
                    step: *step,
                    kind: *kind,
                    overdue: *overdue,
                    on: today,
                }),
                Action::Suspend => {
                    overdue.map(|overdue| EventKind::CustomerSuspended { overdue, on: today })
                }
                Action::Restore { .. } => Some(EventKind::CustomerRestored { on: today }),
                _ => None,
            })
            .chain(told_overdue)
            .map(|kind| DomainEvent::new(org, UserOrKey::System, now, kind))
            .collect();
        let saved = StoredDunning {
            state: decision.state,
            ..stored
        };
        store
            .save_dunning_charging(org, &saved, fee.as_ref(), &events)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Busy("the customer's dunning changed meanwhile".into())
                }
                other => other.into(),
            })?;
        tracing::info!(%org, notices = run.notices, blocked = run.blocked, suspended = run.suspended, restored = run.restored, "dunning moved a customer");
        Ok(run)
    }
}

fn conflict_on_rev(e: StoreError) -> Error {
    match e {
        StoreError::Conflict(what) => Error::conflict_on("conflict", "rev", what),
        other => other.into(),
    }
}
