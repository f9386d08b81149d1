//! What every handler shares: the services (every use case), the token signer, the cursor
//! codec and the sealer of kept responses. Built once per cold start and cloned cheaply into
//! each request.

use crate::auth::TokenSigner;
use crate::cursor::CursorCodec;
use crate::seal::Sealer;
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use kopek_domain::calendar::Calendar;
use kopek_domain::period::BillingPeriod;
use kopek_services::Services;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    /// Every use case (`kopek_services`); handlers call one method of it per request.
    pub services: Services,
    pub tokens: Arc<TokenSigner>,
    pub cursors: Arc<CursorCodec>,
    /// Seals the responses kept for `Idempotency-Key` replays.
    pub sealer: Arc<Sealer>,
    /// The portal's session cookies and form tokens.
    pub portal: Arc<PortalKeys>,
}

/// The keys of the portal: its session cookie (a token for the portal's audience only, for
/// [`PORTAL_SESSION`]) and the key its forms' CSRF tokens are made with.
pub struct PortalKeys {
    pub sessions: TokenSigner,
    pub csrf: [u8; 32],
}

/// How long a portal sign-in lasts (the session itself may end sooner: sign-out, a password
/// change).
pub const PORTAL_SESSION: Duration = Duration::from_secs(12 * 60 * 60);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

/// Derives a key for one purpose from the master secret, so that a token key and a cursor
/// key are never the same bytes.
fn derive(master: &[u8], purpose: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC accepts keys of any length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

impl AppState {
    /// The state of an HTTP function: its services, and the keys of its access tokens
    /// (lasting `access_token_ttl`), cursors and kept responses, each derived from the master
    /// key for its own purpose.
    pub fn new(services: Services, master_key: &[u8], access_token_ttl: Duration) -> Self {
        Self {
            services,
            tokens: Arc::new(TokenSigner::new(
                &derive(master_key, "kopek-access-token-v1"),
                access_token_ttl,
            )),
            cursors: Arc::new(CursorCodec::new(&derive(master_key, "kopek-cursor-v1"))),
            sealer: Arc::new(Sealer::new(&derive(master_key, "kopek-idempotency-v1"))),
            portal: Arc::new(PortalKeys {
                sessions: TokenSigner::for_audience(
                    &derive(master_key, "kopek-portal-session-v1"),
                    PORTAL_SESSION,
                    "kopek-portal",
                ),
                csrf: derive(master_key, "kopek-portal-csrf-v1"),
            }),
        }
    }

    /// The provider's calendar.
    pub fn calendar(&self) -> Calendar {
        self.services.calendar()
    }

    /// The provider's date now.
    pub fn today(&self) -> NaiveDate {
        self.services.today()
    }

    /// The billing period it is now.
    pub fn current_period(&self) -> BillingPeriod {
        self.services.current_period()
    }
}
