//! What every handler shares: the store, the token signer, the cursor codec, the clock, and
//! for the usage endpoints the usage queue. Built once per cold start and cloned cheaply into
//! each request.

use crate::auth::TokenSigner;
use crate::cursor::CursorCodec;
use crate::seal::Sealer;
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use kopek_aws::clients::Clients;
use kopek_aws::config::Config;
use kopek_aws::dynamo::Store;
use kopek_aws::queue::Queue;
use kopek_aws::secrets::{self, Secret};
use kopek_domain::accounts::ThrottlePolicy;
use kopek_domain::calendar::Calendar;
use kopek_domain::clock::{Clock, SystemClock};
use kopek_domain::period::BillingPeriod;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    /// Every use case (`kopek_services`); handlers call one method of it per request.
    pub services: kopek_services::Services,
    pub store: Store,
    pub tokens: Arc<TokenSigner>,
    pub cursors: Arc<CursorCodec>,
    /// Seals the responses kept for `Idempotency-Key` replays.
    pub sealer: Arc<Sealer>,
    pub clock: Arc<dyn Clock>,
    pub session_ttl: Duration,
    pub throttle: ThrottlePolicy,
    /// How long a batch may stay untouched before its work goes back to the queue.
    pub batch_timeout: Duration,
    /// The queue usage events are posted to (`KOPEK_USAGE_QUEUE_URL`); `None` in functions
    /// that do not post usage.
    pub usage_queue: Option<Queue>,
    /// Usage events older than this are refused as `too_old`.
    pub usage_grace: Duration,
    /// The period close's queue (`KOPEK_CLOSE_QUEUE_URL`); `None` in functions that do not
    /// start closes.
    pub close_queue: Option<Queue>,
    /// How long customer jobs wait after their seal (see `kopek_close`).
    pub close_seal_wait: Duration,
    /// The invoice series used until billing settings are saved.
    pub invoice_series: String,
    /// The provider's calendar: what day and billing period it is.
    pub calendar: Calendar,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("table", &self.store.table())
            .finish_non_exhaustive()
    }
}

/// Derives a key for one purpose from the master secret, so that a token key and a cursor
/// key are never the same bytes.
fn derive(master: &Secret, purpose: &str) -> Vec<u8> {
    derive_key(master, purpose).to_vec()
}

fn derive_key(master: &Secret, purpose: &str) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(master.expose()).expect("HMAC accepts keys of any length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

impl AppState {
    /// The state of a running function: reads the token key from Secrets Manager.
    pub async fn from_config(
        config: &Config,
        clients: &Clients,
    ) -> Result<Self, secrets::SecretError> {
        let key = secrets::token_key(&clients.secrets, &config.token_key_secret_arn).await?;
        let store = Store::new(clients.dynamodb.clone(), config.table_name.clone());
        let mut state = Self::new(store, &key, config, Arc::new(SystemClock));
        state.usage_queue = config
            .usage_queue_url
            .as_ref()
            .map(|url| Queue::new(clients.sqs.clone(), url));
        state.close_queue = config
            .close_queue_url
            .as_ref()
            .map(|url| Queue::new(clients.sqs.clone(), url));
        if let Some(queue) = &state.usage_queue {
            state.services = state.services.with_usage_queue(queue.clone());
        }
        if let Some(queue) = &state.close_queue {
            state.services = state.services.with_close_queue(queue.clone());
        }
        Ok(state)
    }

    /// The state from parts, for tests that bring their own clock (and, if they post usage
    /// or start closes, set [`AppState::usage_queue`] or [`AppState::close_queue`]).
    pub fn new(store: Store, master_key: &Secret, config: &Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            services: kopek_services::Services::new(store.clone(), clock.clone(), config)
                .expect("KOPEK_INVOICE_SERIES is a series"),
            store,
            tokens: Arc::new(TokenSigner::new(
                &derive(master_key, "kopek-access-token-v1"),
                config.access_token_ttl,
            )),
            cursors: Arc::new(CursorCodec::new(&derive(master_key, "kopek-cursor-v1"))),
            sealer: Arc::new(Sealer::new(&derive_key(master_key, "kopek-idempotency-v1"))),
            clock,
            session_ttl: config.session_ttl,
            throttle: ThrottlePolicy::default(),
            batch_timeout: config.batch_timeout,
            usage_queue: None,
            usage_grace: config.usage_grace,
            close_queue: None,
            close_seal_wait: config.close_seal_wait,
            invoice_series: config.invoice_series.clone(),
            calendar: config.calendar,
        }
    }

    /// The provider's date now.
    pub fn today(&self) -> NaiveDate {
        self.calendar.date_of(self.clock.now())
    }

    /// The billing period it is now.
    pub fn current_period(&self) -> BillingPeriod {
        self.calendar.period_of(self.clock.now())
    }
}
