//! Kopek's use cases, each in one place.
//!
//! Every entrypoint — an HTTP handler of `kopek-api`, a Lambda event handler of
//! `kopek-events`, the demo of `xtask` — parses its input, calls **one** method of a service
//! here with the caller ([`Principal`]) and a typed command, and renders what it returns. The
//! services authorise the caller, load what they need through the store, apply the domain's
//! rules, write (with the outbox event, in one transaction where several items change) and
//! retry on optimistic-locking conflicts. No entrypoint repeats any of that.
//!
//! | service | what it owns |
//! |---------|--------------|
//! | [`accounts::Accounts`] | registration, sign-in (throttled), sessions, passwords, invitations, organisations, users, staff, API keys, authentication of every request |
//! | [`catalog::Catalog`] | services, price versions, retirement, the price calculator |
//! | [`orders::Orders`] | placing orders, reading them, cancelling a line, history, charges of a period |
//! | [`work::Work`] | work queues, taking batches (race-safe), starting, completing, releasing, stale batches, work sheets |
//! | [`subscriptions::Subscriptions`] | starting, changing, cancelling subscriptions and their prorated fees |
//! | [`usage::Usage`] | posting usage (judged as ingestion will), the customer's usage view, ingestion health, rejected events and their re-submission, external references |
//! | [`usage::ingest::Ingestor`] | one SQS batch of usage counted exactly once |
//! | [`close::Closer`] | the period close: start, plan, close each customer, preview, resume, status |
//! | [`invoices::Invoices`] | invoices and credit notes |
//! | [`payments::Payments`] | payments received, settling invoices, the credit |
//! | [`billing::Billing`] | billing settings, balances and the ledger |
//! | [`documents::Documents`] | closing documents: made from invoices, filed in S3, listed, downloaded |
//! | [`outbox::Outbox`] | the outbox relay: events to what reacts to them (document jobs, the webhook dispatcher) |
//! | [`webhooks::Webhooks`] | webhook endpoints, signed deliveries with retries, replays, the events feed |
//! | [`audit::Audit`] | the audit log: searching it (admins; a customer its own organisation's), the CSV export, archiving what is past the retention; [`audit::scope`] runs an entrypoint's action so its record is written with its first change |
//! | [`idempotency::Idempotency`] | the records behind `Idempotency-Key` |
//!
//! Gapless numbering of invoices and credit notes is [`numbering`], used by both. Errors are
//! one [`Error`]; `kopek-http` maps it to problem+json in one place.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod bank;
pub mod billing;
pub mod catalog;
pub mod close;
pub mod documents;
pub mod dunning;
mod error;
pub mod idempotency;
pub mod invoices;
pub mod numbering;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod reports;
pub mod subscriptions;
pub mod usage;
pub mod webhooks;
pub mod work;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use kopek_aws::clients::Clients;
use kopek_aws::config::{Config, ConfigError};
use kopek_aws::dynamo::Store;
use kopek_aws::objects::Objects;
use kopek_aws::queue::Queue;
use kopek_aws::secrets::{self, SecretError};
#[cfg(doc)]
use kopek_domain::accounts::Principal;
use kopek_domain::accounts::ThrottlePolicy;
use kopek_domain::audit::Retention;
use kopek_domain::calendar::Calendar;
use kopek_domain::clock::{Clock, SystemClock};
use kopek_domain::documents::Typesetter;
use kopek_domain::ids::OrgId;
use kopek_domain::invoicing::InvoiceSeries;
use kopek_domain::period::BillingPeriod;

pub use error::{Error, Result};
/// Listings come in pages; the HTTP layer turns a [`PageKey`] into a signed, opaque cursor.
pub use kopek_aws::dynamo::{CapacitySnapshot, Page, PageKey, StoreError};
/// A presigned download link.
pub use kopek_aws::objects::Download;
/// The master key the HTTP layer derives its token, cursor and sealing keys from.
pub use kopek_aws::secrets::Secret;
/// The signing certificate, and why one could not be read.
pub use kopek_aws::signing::{SigningCertificate, SigningError};

/// Where a listing starts and how much of it to read.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    pub limit: i32,
    pub start: Option<PageKey>,
}

impl Paging {
    pub fn new(limit: i32, start: Option<PageKey>) -> Self {
        Self { limit, start }
    }
}

/// The deployment's settings the use cases read (from the function's [`Config`]).
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a session (its refresh token) lives.
    pub session_ttl: Duration,
    /// Sign-in throttling.
    pub throttle: ThrottlePolicy,
    /// How long a batch may stay untouched before its work goes back to the queue.
    pub batch_timeout: Duration,
    /// Usage events older than this are refused as `too_old`.
    pub usage_grace: Duration,
    /// How long customer jobs wait after their seal (see [`close`]).
    pub close_seal_wait: Duration,
    /// How many planning chains a close runs at once (see [`close`]).
    pub close_plan_segments: kopek_domain::close::PlanSegments,
    /// The invoice series used until billing settings are saved.
    pub invoice_series: InvoiceSeries,
    /// How long audit records stay in the table before they are archived to S3.
    pub audit_retention: Retention,
    /// Whether a state-changing request that wrote no audit record fails (tests, the local
    /// stack) rather than only being logged.
    pub audit_strict: bool,
}

impl Settings {
    pub fn from_config(config: &Config) -> std::result::Result<Self, ConfigError> {
        Ok(Self {
            session_ttl: config.session_ttl,
            throttle: ThrottlePolicy::default(),
            batch_timeout: config.batch_timeout,
            usage_grace: config.usage_grace,
            close_seal_wait: config.close_seal_wait,
            close_plan_segments: config.close_plan_segments,
            audit_retention: config.audit_retention,
            audit_strict: config.audit_strict,
            invoice_series: InvoiceSeries::new(&config.invoice_series).map_err(|e| {
                ConfigError::Malformed {
                    name: "KOPEK_INVOICE_SERIES",
                    reason: e.to_string(),
                }
            })?,
        })
    }
}

/// How often a use case lost an optimistic race and tried again, since start: the evidence
/// that the retry paths run (tests assert on it; logs carry each loss).
#[derive(Debug, Default)]
pub struct Contention {
    numbers_lost: AtomicU64,
    batch_lines_lost: AtomicU64,
    changed_meanwhile: AtomicU64,
}

/// A copy of [`Contention`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentionSnapshot {
    /// A document's number taken by another document first (invoices and credit notes).
    pub numbers_lost: u64,
    /// Work orders another engineer's batch took first.
    pub batch_lines_lost: u64,
    /// Invoices or credit read by a payment, credit note or invoice changed before it wrote.
    pub changed_meanwhile: u64,
}

impl Contention {
    pub(crate) fn number_lost(&self) {
        self.numbers_lost.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn batch_lines_lost(&self, n: usize) {
        self.batch_lines_lost.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn changed_meanwhile(&self) {
        self.changed_meanwhile.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ContentionSnapshot {
        ContentionSnapshot {
            numbers_lost: self.numbers_lost.load(Ordering::Relaxed),
            batch_lines_lost: self.batch_lines_lost.load(Ordering::Relaxed),
            changed_meanwhile: self.changed_meanwhile.load(Ordering::Relaxed),
        }
    }
}

/// What every service shares: the store, the clock, the provider's calendar, the settings,
/// the queues the function was given, and the contention counters. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) calendar: Calendar,
    pub(crate) settings: Arc<Settings>,
    pub(crate) usage_queue: Option<Queue>,
    pub(crate) close_queue: Option<Queue>,
    /// Invoices composed by the close, waiting for their numbers (`NumberQueue`, FIFO).
    pub(crate) number_queue: Option<Queue>,
    pub(crate) documents_queue: Option<Queue>,
    /// Chunks of uploaded bank statements (`BankQueue`).
    pub(crate) bank_queue: Option<Queue>,
    /// Webhook deliveries waiting for their attempt (`WebhookQueue`).
    pub(crate) webhook_queue: Option<Queue>,
    /// The client webhook attempts are made with (the `webhook-delivery` function).
    pub(crate) hooks: Option<kopek_aws::hooks::HookClient>,
    /// The documents bucket, where the function was given one.
    pub(crate) objects: Option<Objects>,
    /// The typesetting engine: only the documents function (and the local stack) has one.
    pub(crate) typesetter: Option<Arc<dyn Typesetter>>,
    /// The documents' KMS signing key, where the function was given it.
    pub(crate) signer: Option<kopek_aws::signing::KmsSigner>,
    /// The sender of notifications, where the function was given one.
    pub(crate) mailer: Option<kopek_aws::mail::Mailer>,
    /// Where people reach Kopek (`https://billing.example.ru`): the base of links sent by
    /// mail.
    pub(crate) public_url: Option<String>,
    pub(crate) contention: Arc<Contention>,
}

impl Context {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The provider's date now.
    pub(crate) fn today(&self) -> NaiveDate {
        self.calendar.date_of(self.clock.now())
    }

    /// The billing period it is now.
    pub(crate) fn current_period(&self) -> BillingPeriod {
        self.calendar.period_of(self.clock.now())
    }

    /// The legal names of the customers `orgs`, for lists staff read: one batched read for
    /// up to 100 distinct organisations. An organisation that is gone has no name.
    pub(crate) async fn customer_names(
        &self,
        orgs: impl IntoIterator<Item = OrgId>,
    ) -> Result<BTreeMap<OrgId, String>> {
        let ids: Vec<OrgId> = orgs
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        Ok(self
            .store
            .organisations_by_id(&ids)
            .await?
            .into_iter()
            .map(|org| (org.id, org.legal_name.to_string()))
            .collect())
    }
}

/// An item of a list with the legal name of the customer it belongs to, so that staff see
/// whose it is without a lookup of their own.
#[derive(Debug, Clone)]
pub struct OfCustomer<T> {
    pub item: T,
    /// `None` only if the organisation is gone.
    pub customer: Option<String>,
}

impl<T> OfCustomer<T> {
    /// Each of `items` with its customer's name from `names`.
    pub(crate) fn name_all(
        items: Vec<T>,
        org_of: impl Fn(&T) -> OrgId,
        names: &BTreeMap<OrgId, String>,
    ) -> Vec<Self> {
        items
            .into_iter()
            .map(|item| {
                let customer = names.get(&org_of(&item)).cloned();
                Self { item, customer }
            })
            .collect()
    }
}

/// Every service of one function, over one store. Build it once per cold start
/// ([`Services::from_config`]) and clone it freely.
#[derive(Clone)]
pub struct Services {
    ctx: Context,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("table", &self.ctx.store.table())
            .field("calendar", &self.ctx.calendar)
            .finish_non_exhaustive()
    }
}

/// An HTTP function's start: its configuration, read from the environment and checked at
/// once, and the services it makes later, on its first request (see
/// `kopek_http::layers::run_http_function`).
#[derive(Debug, Clone)]
pub struct HttpStart {
    config: Config,
}

impl HttpStart {
    /// The function's configuration from the environment; a misconfigured function fails
    /// here, at its start, naming the variable.
    pub fn from_env() -> std::result::Result<Self, ConfigError> {
        let config = Config::from_env()?;
        Settings::from_config(&config)?;
        Ok(Self { config })
    }

    /// How long the access tokens the function issues and accepts live.
    pub fn access_token_ttl(&self) -> std::time::Duration {
        self.config.access_token_ttl
    }

    /// What the function loads after its start: the SDK clients from the environment, the
    /// services of its configuration and the master key.
    pub async fn load(&self) -> std::result::Result<(Services, Secret), LoadError> {
        let clients = Clients::new(&kopek_aws::clients::sdk_config().await);
        Services::load(&self.config, &clients).await
    }
}

/// Why a function could not build its services at cold start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl Services {
    /// The services over `store`, dated by `clock`, with the settings and calendar of
    /// `config`; no queues (see [`Services::with_usage_queue`], [`Services::with_close_queue`]).
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: &Config,
    ) -> std::result::Result<Self, ConfigError> {
        Ok(Self {
            ctx: Context {
                store,
                clock,
                calendar: config.calendar,
                settings: Arc::new(Settings::from_config(config)?),
                usage_queue: None,
                close_queue: None,
                number_queue: None,
                documents_queue: None,
                bank_queue: None,
                webhook_queue: None,
                hooks: None,
                objects: None,
                typesetter: None,
                signer: None,
                mailer: None,
                public_url: None,
                contention: Arc::default(),
            },
        })
    }

    /// The services of a running function: its table, and the queues its configuration names.
    pub fn from_config(
        config: &Config,
        clients: &Clients,
    ) -> std::result::Result<Self, ConfigError> {
        let store = Store::new(clients.dynamodb.clone(), config.table_name.clone());
        let mut services = Self::new(store, Arc::new(SystemClock), config)?;
        services.ctx.usage_queue = config
            .usage_queue_url
            .as_ref()
            .map(|url| Queue::new(clients.sqs.clone(), url));
        services.ctx.close_queue = config
            .close_queue_url
            .as_ref()
            .map(|url| Queue::new(clients.sqs.clone(), url));
        services.ctx.number_queue = config
            .number_queue_url
            .as_ref()
            .map(|url| Queue::new(clients.sqs.clone(), url));
        services.ctx.documents_queue = config
            .documents_queue_url
            .as_ref()
            .map(|url| Queue::new(clients.sqs.clone(), url));
        services.ctx.bank_queue = config
            .bank_queue_url
            .as_ref()
            .map(|url| Queue::new(clients.sqs.clone(), url));
        services.ctx.webhook_queue = config
            .webhook_queue_url
            .as_ref()
            .map(|url| Queue::new(clients.sqs.clone(), url));
        services.ctx.objects = config
            .documents_bucket
            .as_ref()
            .map(|bucket| Objects::new(clients.s3.clone(), bucket));
        services.ctx.signer = config
            .signing_key_id
            .as_ref()
            .map(|key| kopek_aws::signing::KmsSigner::new(clients.kms.clone(), key));
        services.ctx.mailer = config
            .mail_from
            .as_ref()
            .map(|from| kopek_aws::mail::Mailer::new(clients.ses.clone(), from));
        services.ctx.public_url = config.public_url.clone();
        Ok(services)
    }

    /// The services of a running HTTP function and the master key its tokens, cursors and
    /// kept responses are keyed from (read once from Secrets Manager).
    pub async fn load(
        config: &Config,
        clients: &Clients,
    ) -> std::result::Result<(Self, Secret), LoadError> {
        let key = secrets::token_key(&clients.secrets, &config.token_key_secret_arn).await?;
        Ok((Self::from_config(config, clients)?, key))
    }

    /// The same services posting usage to `queue`.
    pub fn with_usage_queue(mut self, queue: Queue) -> Self {
        self.ctx.usage_queue = Some(queue);
        self
    }

    /// The same services queueing the period close on `queue`.
    pub fn with_close_queue(mut self, queue: Queue) -> Self {
        self.ctx.close_queue = Some(queue);
        self
    }

    /// The same services sending the close's composed invoices to `queue` to be numbered.
    pub fn with_number_queue(mut self, queue: Queue) -> Self {
        self.ctx.number_queue = Some(queue);
        self
    }

    /// The same services sending document jobs to `queue`.
    pub fn with_documents_queue(mut self, queue: Queue) -> Self {
        self.ctx.documents_queue = Some(queue);
        self
    }

    /// The same services sending statement chunks to `queue`.
    pub fn with_bank_queue(mut self, queue: Queue) -> Self {
        self.ctx.bank_queue = Some(queue);
        self
    }

    /// The same services queueing webhook deliveries on `queue`.
    pub fn with_webhook_queue(mut self, queue: Queue) -> Self {
        self.ctx.webhook_queue = Some(queue);
        self
    }

    /// The same services making webhook attempts with `hooks` (the `webhook-delivery`
    /// function; others never send them).
    pub fn with_hook_client(mut self, hooks: kopek_aws::hooks::HookClient) -> Self {
        self.ctx.hooks = Some(hooks);
        self
    }

    /// The same services typesetting documents with `typesetter` (the documents function).
    pub fn with_typesetter(mut self, typesetter: Arc<dyn Typesetter>) -> Self {
        self.ctx.typesetter = Some(typesetter);
        self
    }

    /// The same services over another handle of the store (tests inject faults this way).
    pub fn with_store(mut self, store: Store) -> Self {
        self.ctx.store = store;
        self
    }

    /// The same services sending links under another public address (the local stack: its
    /// own port).
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.ctx.public_url = Some(url.into());
        self
    }

    /// The same services dated by another clock (the demo's history, tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.ctx.clock = clock;
        self
    }

    /// The same services with settings changed by `edit` (tests).
    pub fn with_settings(mut self, edit: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = (*self.ctx.settings).clone();
        edit(&mut settings);
        self.ctx.settings = Arc::new(settings);
        self
    }

    pub fn accounts(&self) -> accounts::Accounts {
        accounts::Accounts::new(self.ctx.clone())
    }

    pub fn catalog(&self) -> catalog::Catalog {
        catalog::Catalog::new(self.ctx.clone())
    }

    pub fn orders(&self) -> orders::Orders {
        orders::Orders::new(self.ctx.clone())
    }

    pub fn work(&self) -> work::Work {
        work::Work::new(self.ctx.clone())
    }

    pub fn subscriptions(&self) -> subscriptions::Subscriptions {
        subscriptions::Subscriptions::new(self.ctx.clone())
    }

    pub fn usage(&self) -> usage::Usage {
        usage::Usage::new(self.ctx.clone())
    }

    /// Usage ingestion, as the `usage-ingest` function runs it.
    pub fn ingestor(&self) -> usage::ingest::Ingestor {
        usage::ingest::Ingestor::of(&self.ctx)
    }

    /// The period close (starting and running one needs the close queue).
    pub fn closer(&self) -> close::Closer {
        close::Closer::new(self.ctx.clone())
    }

    pub fn invoices(&self) -> invoices::Invoices {
        invoices::Invoices::new(self.ctx.clone())
    }

    pub fn payments(&self) -> payments::Payments {
        payments::Payments::new(self.ctx.clone())
    }

    /// Bank statements: upload, import, review.
    pub fn bank(&self) -> bank::Bank {
        bank::Bank::new(self.ctx.clone())
    }

    /// The bank statement queue, where the function was given one.
    pub fn bank_queue(&self) -> Option<&Queue> {
        self.ctx.bank_queue.as_ref()
    }

    /// Dunning: the policy, customers' holds, the daily run.
    pub fn dunning(&self) -> dunning::Dunning {
        dunning::Dunning::new(self.ctx.clone())
    }

    /// Reports on customers' accounts (the statement of account).
    pub fn reports(&self) -> reports::Reports {
        reports::Reports::new(self.ctx.clone())
    }

    pub fn billing(&self) -> billing::Billing {
        billing::Billing::new(self.ctx.clone())
    }

    pub fn documents(&self) -> documents::Documents {
        documents::Documents::new(self.ctx.clone())
    }

    pub fn audit(&self) -> audit::Audit {
        audit::Audit::new(self.ctx.clone())
    }

    pub fn webhooks(&self) -> webhooks::Webhooks {
        webhooks::Webhooks::new(self.ctx.clone())
    }

    pub fn outbox(&self) -> outbox::Outbox {
        outbox::Outbox::new(self.ctx.clone())
    }

    /// The documents queue, where the function was given one.
    pub fn documents_queue(&self) -> Option<&Queue> {
        self.ctx.documents_queue.as_ref()
    }

    /// The queue of webhook attempts, where this function has it.
    pub fn webhook_queue(&self) -> Option<&Queue> {
        self.ctx.webhook_queue.as_ref()
    }

    pub fn idempotency(&self) -> idempotency::Idempotency {
        idempotency::Idempotency::new(self.ctx.clone())
    }

    /// The usage queue, for the local poller that stands in for `usage-ingest`'s trigger.
    pub fn usage_queue(&self) -> Option<&Queue> {
        self.ctx.usage_queue.as_ref()
    }

    /// The close queue, for the local poller that stands in for `period-close-worker`'s
    /// trigger.
    pub fn close_queue(&self) -> Option<&Queue> {
        self.ctx.close_queue.as_ref()
    }

    /// The close's numbering queue (FIFO), for the local poller.
    pub fn number_queue(&self) -> Option<&Queue> {
        self.ctx.number_queue.as_ref()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.ctx.clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.ctx.now()
    }

    /// The provider's calendar: what day and billing period it is.
    pub fn calendar(&self) -> Calendar {
        self.ctx.calendar
    }

    /// The provider's date now.
    pub fn today(&self) -> NaiveDate {
        self.ctx.today()
    }

    /// The billing period it is now.
    pub fn current_period(&self) -> BillingPeriod {
        self.ctx.current_period()
    }

    pub fn settings(&self) -> &Settings {
        &self.ctx.settings
    }

    /// DynamoDB requests and capacity units spent through these services so far (the
    /// benchmarks' figures).
    pub fn capacity(&self) -> CapacitySnapshot {
        self.ctx.store.capacity()
    }

    /// The races lost and retried so far.
    pub fn contention(&self) -> ContentionSnapshot {
        self.ctx.contention.snapshot()
    }
}
