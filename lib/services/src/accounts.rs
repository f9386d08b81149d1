//! Accounts: registration, sign-in (throttled per account and per client address), sessions
//! and their single-use refresh tokens, passwords, invitations, organisations, their users,
//! the staff, API keys, and the authentication of every request.
//!
//! Passwords are hashed and verified on the blocking pool (Argon2id takes tens of
//! milliseconds of CPU). Access tokens are signed by the HTTP layer: a use case that signs
//! someone in returns the [`Session`] (its user, its id, its refresh token) and the HTTP layer
//! issues the access token for it. Secrets (passwords, refresh and invitation tokens, API key
//! tokens) are never logged; the commands that carry them hide them from `Debug`.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use kopek_aws::dynamo::throttle::Subject as ThrottleSubject;
use kopek_domain::accounts::{
    AccessError, AccountsError, ApiKey, ApiKeyName, ApiKeyToken, Contract, CustomerForm,
    CustomerRecord, Email, Invitation, IssuedApiKey, Kpp, NewApiKey, Organisation, Password,
    PasswordHash, PaymentTerms, PersonName, Principal, Registration, RegistrationForm, Role, Scope,
    ScopeSet, SecretToken, Subject, Upsert, User, UserStatus,
};
use kopek_domain::charges::{DomainEvent, EventKind, OrganisationState};
use kopek_domain::ids::{ApiKeyId, OrgId, SessionId, UserId};
use kopek_domain::orders::UserOrKey;
use kopek_domain::usage::CustomerRef;

use crate::access::user_of;
use crate::audit;
use crate::{Context, Error, Page, Paging, Result, StoreError};

/// The staff roles that may list the customer organisations.
const STAFF: &[Role] = &[Role::Admin, Role::Manager, Role::Accountant, Role::Engineer];

/// A session just started or refreshed.
pub struct Session {
    pub user: User,
    pub id: SessionId,
    /// `{user}.{session}.{secret}`, single use: show it to its owner once, never log it.
    pub refresh_token: String,
    /// When it was started or refreshed: the access token for it is issued as of then.
    pub at: DateTime<Utc>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user.id())
            .field("id", &self.id)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// A registered organisation and its first user, signed in.
#[derive(Debug)]
pub struct Registered {
    pub organisation: Organisation,
    pub session: Session,
}

/// What a customer's documents name besides its registration; `None` removes each.
#[derive(Debug, Clone, Default)]
pub struct DocumentDetails {
    pub kpp: Option<String>,
    /// The contract's number and the day it was signed.
    pub contract: Option<(String, chrono::NaiveDate)>,
}

/// A sign-in attempt.
pub struct SignIn {
    pub email: String,
    pub password: String,
    /// Where the attempt comes from (failures are counted per address too); `None` counts
    /// it under `unknown`.
    pub client: Option<IpAddr>,
}

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// A password change: the current one, and the new one (checked against the user's e-mail).
pub struct ChangePassword {
    pub current: String,
    pub new: String,
}

impl fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangePassword { .. }")
    }
}

/// A forgotten password: the e-mail address given, where from, and the language to write in.
#[derive(Debug, Clone)]
pub struct ResetRequest {
    pub email: String,
    pub client: Option<IpAddr>,
    pub language: kopek_domain::accounts::DocumentLanguage,
}

/// A password reset: the link's token and the new password.
pub struct ResetPassword {
    pub token: String,
    pub password: String,
}

impl fmt::Debug for ResetPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetPassword { .. }")
    }
}

/// An invitation accepted: its token and the password the invitee chose.
pub struct AcceptInvitation {
    pub token: String,
    pub password: String,
}

impl fmt::Debug for AcceptInvitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AcceptInvitation { .. }")
    }
}

/// The first admin, as the setup step creates it (with a generated or operator-chosen
/// password; none is written in code).
pub struct NewAdmin {
    pub email: String,
    pub name: String,
    pub password: String,
}

impl fmt::Debug for NewAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAdmin")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Someone to invite (checked after the caller is).
#[derive(Debug, Clone)]
pub struct Invite {
    pub name: String,
    pub email: String,
}

/// A user invited: the token it accepts with (show it once, never log it) and its expiry.
#[derive(Debug)]
pub struct Invited {
    pub user: User,
    pub token: SecretToken,
    pub expires_at: DateTime<Utc>,
    /// Whether the link was mailed to the invitee.
    pub mailed: bool,
}

/// An API key to create.
#[derive(Debug, Clone)]
pub struct CreateApiKey {
    /// Checked here (1–100 characters).
    pub name: String,
    /// `customer` when not given.
    pub role: Option<Role>,
    /// Within the role's, and each held by the creator.
    pub scopes: Vec<Scope>,
    /// For staff creating a customer key: the organisation it acts for.
    pub org: Option<OrgId>,
}

/// Who is calling, as stored.
#[derive(Debug)]
pub struct Me {
    /// The caller's organisation (customers).
    pub organisation: Option<Organisation>,
    /// The signed-in user.
    pub user: Option<User>,
    /// The API key.
    pub api_key: Option<ApiKey>,
}

/// Accounts, sessions and the authentication of requests.
#[derive(Clone)]
pub struct Accounts {
    ctx: Context,
}

impl Accounts {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    // -----------------------------------------------------------------------------------
    // Authentication

    /// The principal of an API key presented as `kpk_…`; `None` when the token is malformed,
    /// names no key, does not match, or its key is revoked (the caller says no more).
    pub async fn authenticate_key(&self, presented: &str) -> Result<Option<Principal>> {
        let Ok((id, secret)) = ApiKeyToken::parse(presented) else {
            return Ok(None);
        };
        let Some((key, hash)) = self.ctx.store.api_key(id).await? else {
            return Ok(None);
        };
        if !secret.matches(&hash) {
            return Ok(None);
        }
        Ok(Principal::from_api_key(&key).ok())
    }

    /// Whether the session a verified access token names is still alive (one consistent
    /// read): sign-out and a password change end access at once.
    pub async fn session_active(&self, user: UserId, session: SessionId) -> Result<bool> {
        Ok(self
            .ctx
            .store
            .session_exists(user, session, self.ctx.now())
            .await?)
    }

    // -----------------------------------------------------------------------------------
    // Registration, sessions, passwords

    /// Creates an active admin with a password: how the first admin comes to be.
    pub async fn bootstrap_admin(&self, admin: NewAdmin) -> Result<User> {
        let email = Email::parse(&admin.email)?;
        let password = Password::new(&admin.password, &email)?;
        let name = PersonName::parse(&admin.name).map_err(|e| e.in_field("name"))?;
        let user = User::new(
            UserId::new(),
            None,
            email,
            name,
            Role::Admin,
            UserStatus::Active,
            self.ctx.now(),
        )?;
        let hash = blocking(move || password.hash()).await?;
        self.ctx.store.create_user(&user, &hash).await?;
        Ok(user)
    }

    /// Registers a customer organisation with its first user, and signs that user in. The
    /// form's errors name its fields (`billing_email`, `user_email`, `password`…); an e-mail
    /// in use is the store's `Duplicate("email")`.
    pub async fn register(&self, form: RegistrationForm) -> Result<Registered> {
        let registration = Registration::try_from(form)?;
        let now = self.ctx.now();
        let account = blocking(move || registration.open(now)).await?;
        let created = DomainEvent::organisation_created(
            &account.organisation,
            UserOrKey::User(account.owner.id()),
            now,
            None,
        );
        acting_user(&account.owner);
        self.ctx.store.register(&account, &created).await?;
        tracing::info!(org = %account.organisation.id, user = %account.owner.id(), "organisation registered");
        let session = self.start_session(account.owner).await?;
        Ok(Registered {
            organisation: account.organisation,
            session,
        })
    }

    /// Signs in with e-mail and password. Every attempt first takes a place under the limits
    /// of its account and its client address (one conditional write each, so parallel
    /// attempts cannot all pass); over either limit it is refused without checking the
    /// password until the window ends. A success gives its places back (and forgets the
    /// account's failures); a failure keeps them. An unknown e-mail takes as long as a wrong
    /// password.
    pub async fn sign_in(&self, attempt: SignIn) -> Result<Session> {
        let store = &self.ctx.store;
        let email = Email::parse(&attempt.email)?;
        let address = attempt
            .client
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into());
        let now = self.ctx.now();
        let policy = self.ctx.settings.throttle;
        let window = policy.window_start(now);
        let window_end = window + policy.window();
        let account = ThrottleSubject::Account(email.normalized());
        let from = ThrottleSubject::Address(&address);
        let throttled = || Error::from(policy.refusal(now));
        if !store
            .take_sign_in_attempt(
                account,
                window,
                window_end,
                policy.max_failures_per_account(),
            )
            .await?
        {
            return Err(throttled());
        }
        if !store
            .take_sign_in_attempt(from, window, window_end, policy.max_failures_per_address())
            .await?
        {
            store.give_back_sign_in_attempt(account, window).await?;
            return Err(throttled());
        }
        let stored = store.user_by_email(&email).await?;
        let candidate = attempt.password;
        let (user, hash) = match stored {
            Some(s) if s.user.status() == UserStatus::Active => (Some(s.user), s.password_hash),
            _ => (None, None),
        };
        let verified = blocking(move || match hash {
            Some(hash) => hash.verify(&candidate),
            None => {
                // Unknown e-mail: spend the same time as a wrong password.
                PasswordHash::dummy().verify(&candidate);
                false
            }
        })
        .await?;
        match user {
            Some(user) if verified => {
                acting_user(&user);
                store.clear_failed_sign_ins(account, window).await?;
                store.give_back_sign_in_attempt(from, window).await?;
                tracing::info!(user = %user.id(), "signed in");
                self.start_session(user).await
            }
            // The places taken stay: they are the failures counted.
            _ => Err(AccountsError::InvalidCredentials.into()),
        }
    }

    /// Exchanges a refresh token for a new one. Refresh tokens are single use: presenting an
    /// old one again ends the session (it was copied).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        let store = &self.ctx.store;
        let refused = || Error::from(AccountsError::InvalidCredentials);
        let (user_id, session, secret) = parse_refresh_token(refresh_token).ok_or_else(refused)?;
        let now = self.ctx.now();
        audit::set_actor(audit::Actor {
            kind: audit::ActorKind::User,
            id: Some(user_id.to_string()),
            role: None,
            org: None,
        });
        let record = store
            .session(user_id, session, now)
            .await?
            .ok_or_else(refused)?;
        if !secret.matches(&record.refresh_hash) {
            tracing::warn!(user = %user_id, session = %session, "refresh token reused; ending the session");
            store.end_session(user_id, session).await?;
            return Err(refused());
        }
        let stored = store.user(user_id).await?.ok_or_else(refused)?;
        if stored.user.status() != UserStatus::Active {
            return Err(refused());
        }
        let next = SecretToken::generate();
        store
            .rotate_session(user_id, session, &record.refresh_hash, &next.sha256_hex())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => refused(),
                other => other.into(),
            })?;
        Ok(Session {
            refresh_token: refresh_token_text(user_id, session, &next),
            user: stored.user,
            id: session,
            at: now,
        })
    }

    /// Ends the caller's session: its access and refresh tokens stop working at once.
    pub async fn sign_out(&self, caller: &Principal) -> Result<()> {
        let user = user_of(caller)?;
        if let Some(session) = caller.session() {
            self.ctx.store.end_session(user, session).await?;
        }
        Ok(())
    }

    /// Changes the caller's password; every other session of the user ends. A wrong current
    /// password is refused naming `current_password`.
    pub async fn change_password(&self, caller: &Principal, change: ChangePassword) -> Result<()> {
        let store = &self.ctx.store;
        let id = user_of(caller)?;
        let stored = store.user(id).await?.ok_or(Error::NotFound)?;
        let password = Password::new(&change.new, stored.user.email())
            .map_err(|e| e.in_field("new_password"))?;
        let hash = stored
            .password_hash
            .ok_or(AccountsError::InvalidCredentials)?;
        let current = change.current;
        let (ok, new_hash) = blocking(move || (hash.verify(&current), password.hash())).await?;
        if !ok {
            return Err(Error::credentials_refused("current_password"));
        }
        store.set_password(id, &new_hash).await?;
        let ended = store.end_sessions(id, caller.session()).await?;
        tracing::info!(user = %id, other_sessions_ended = ended, "password changed");
        Ok(())
    }

    /// Sends a link to reset a forgotten password to `email`, when it is an active user's
    /// (else nothing is sent, and the answer is the same: nobody learns who has an account).
    /// Each request takes one place under the sign-in limits, per account and per address.
    /// The link (`{public url}/portal/reset?token=…`) works once, for an hour, in
    /// `language`.
    pub async fn request_password_reset(&self, request: ResetRequest) -> Result<()> {
        let store = &self.ctx.store;
        let Ok(email) = Email::parse(&request.email) else {
            return Err(Error::invalid(
                "email",
                "an e-mail address, e.g. anna@example.ru",
            ));
        };
        let (mailer, base) = match (&self.ctx.mailer, &self.ctx.public_url) {
            (Some(m), Some(b)) => (m, b),
            _ => {
                return Err(Error::internal(
                    "password reset needs a mail sender and a public URL",
                ));
            }
        };
        let now = self.ctx.now();
        let policy = self.ctx.settings.throttle;
        let window = policy.window_start(now);
        let window_end = window + policy.window();
        let address = request
            .client
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into());
        for (subject, max) in [
            (
                ThrottleSubject::Account(email.normalized()),
                policy.max_failures_per_account(),
            ),
            (
                ThrottleSubject::Address(&address),
                policy.max_failures_per_address(),
            ),
        ] {
            if !store
                .take_sign_in_attempt(subject, window, window_end, max)
                .await?
            {
                return Err(policy.refusal(now).into());
            }
        }
        let Some(stored) = store.user_by_email(&email).await? else {
            return Ok(());
        };
        if stored.user.status() != UserStatus::Active {
            return Ok(());
        }
        let token = SecretToken::generate();
        let expires = now + chrono::Duration::hours(1);
        store
            .start_password_reset(&token.sha256_hex(), stored.user.id(), expires)
            .await?;
        let link = format!(
            "{}/portal/reset?token={}",
            base.trim_end_matches('/'),
            token.expose_secret()
        );
        let (subject, body) = match request.language {
            kopek_domain::accounts::DocumentLanguage::Ru => (
                "Kopek: новый пароль",
                format!(
                    "Здравствуйте!\n\nЧтобы задать новый пароль, откройте ссылку в течение часа:\n{link}\n\nЕсли вы не просили сменить пароль, ничего не делайте: старый пароль продолжает действовать.\n"
                ),
            ),
            kopek_domain::accounts::DocumentLanguage::En => (
                "Kopek: a new password",
                format!(
                    "Hello,\n\nTo choose a new password, open this link within an hour:\n{link}\n\nIf you did not ask for it, do nothing: your password stays as it is.\n"
                ),
            ),
        };
        mailer.send(email.as_str(), subject, &body).await?;
        tracing::info!(user = %stored.user.id(), "password reset link sent");
        Ok(())
    }

    /// Sets a new password with a reset link's token, once: every session of the user ends
    /// and a new one starts. A token that names no open reset is refused naming `token`.
    pub async fn reset_password(&self, reset: ResetPassword) -> Result<Session> {
        let store = &self.ctx.store;
        let refused = || Error::credentials_refused("token");
        let token = SecretToken::parse(&reset.token).map_err(|_| refused())?;
        let hash_of_token = token.sha256_hex();
        let (user_id, expires) = store
            .password_reset(&hash_of_token)
            .await?
            .ok_or_else(refused)?;
        if expires <= self.ctx.now() {
            return Err(refused());
        }
        let stored = store.user(user_id).await?.ok_or_else(refused)?;
        acting_user(&stored.user);
        let password = Password::new(&reset.password, stored.user.email())
            .map_err(|e| e.in_field("password"))?;
        let hash = blocking(move || password.hash()).await?;
        store
            .reset_password(&hash_of_token, user_id, &hash)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => refused(),
                other => other.into(),
            })?;
        let ended = store.end_sessions(user_id, None).await?;
        tracing::info!(user = %user_id, sessions_ended = ended, "password reset");
        self.start_session(stored.user).await
    }

    /// Ends every session of the caller's user, this one too: signed out everywhere.
    pub async fn sign_out_everywhere(&self, caller: &Principal) -> Result<usize> {
        let user = user_of(caller)?;
        Ok(self.ctx.store.end_sessions(user, None).await?)
    }

    /// Accepts an invitation: the invitee chooses a password and is signed in. A token that
    /// names no open invitation is refused naming `token`.
    pub async fn accept_invitation(&self, acceptance: AcceptInvitation) -> Result<Session> {
        let store = &self.ctx.store;
        let refused = || Error::credentials_refused("token");
        let token = SecretToken::parse(&acceptance.token).map_err(|_| refused())?;
        let now = self.ctx.now();
        let (user_id, record) = store
            .invitation(&token.sha256_hex())
            .await?
            .ok_or_else(refused)?;
        record.accept(&token, now)?;
        let stored = store.user(user_id).await?.ok_or_else(refused)?;
        acting_user(&stored.user);
        let password = Password::new(&acceptance.password, stored.user.email())?;
        let hash = blocking(move || password.hash()).await?;
        store
            .accept_invitation(&record.token_hash, user_id, &hash)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => refused(),
                other => other.into(),
            })?;
        let mut user = stored.user;
        user.activate()?;
        self.start_session(user).await
    }

    /// Who is calling: its organisation, and its user or key, as stored.
    pub async fn me(&self, caller: &Principal) -> Result<Me> {
        let store = &self.ctx.store;
        let organisation = match caller.org() {
            Some(org) => store.organisation(org).await?,
            None => None,
        };
        let (user, api_key) = match caller.subject() {
            Subject::User(id) => (store.user(id).await?.map(|s| s.user), None),
            Subject::ApiKey(id) => (None, store.api_key(id).await?.map(|(k, _)| k)),
        };
        Ok(Me {
            organisation,
            user,
            api_key,
        })
    }

    async fn start_session(&self, user: User) -> Result<Session> {
        acting_user(&user);
        let now = self.ctx.now();
        let session = SessionId::new();
        let secret = SecretToken::generate();
        let expires = now
            + chrono::Duration::from_std(self.ctx.settings.session_ttl)
                .unwrap_or(chrono::Duration::days(30));
        self.ctx
            .store
            .start_session(user.id(), session, &secret.sha256_hex(), now, expires)
            .await?;
        Ok(Session {
            refresh_token: refresh_token_text(user.id(), session, &secret),
            user,
            id: session,
            at: now,
        })
    }

    // -----------------------------------------------------------------------------------
    // Organisations and their users

    /// The customer organisations (staff with `accounts:read`).
    pub async fn organisations(
        &self,
        caller: &Principal,
        paging: Paging,
    ) -> Result<Page<Organisation>> {
        caller.require_role(STAFF)?;
        caller.require_scope(Scope::AccountsRead)?;
        Ok(self
            .ctx
            .store
            .list_organisations(paging.limit, paging.start)
            .await?)
    }

    /// An organisation: customers reach only their own (any other is not found).
    pub async fn organisation(&self, caller: &Principal, org: OrgId) -> Result<Organisation> {
        caller.can_access_org(org)?;
        caller.require_scope(Scope::AccountsRead)?;
        self.ctx
            .store
            .organisation(org)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Creates or updates the customer a CRM names by `reference` from its record (admins
    /// and managers with `accounts:write`, typically a staff API key), idempotently: the same
    /// record again changes nothing. A new customer gets the reference (the one usage
    /// producers may name it by too); a changed one is saved over its revision, retried if
    /// it changed meanwhile. The currency is refused, naming it, once the customer has an
    /// invoice. Each creation or change writes its `organisation.*` event with it.
    pub async fn upsert_customer(
        &self,
        caller: &Principal,
        reference: &str,
        form: CustomerForm,
    ) -> Result<Upserted> {
        caller.require_role(&[Role::Admin, Role::Manager])?;
        caller.require_scope(Scope::AccountsWrite)?;
        let reference = external_reference(reference)?;
        let record = CustomerRecord::try_from(form)?;
        let store = &self.ctx.store;
        let by = crate::access::actor(caller);
        for _ in 0..3 {
            let now = self.ctx.now();
            let Some(id) = store.org_by_external_ref_now(&reference).await? else {
                let organisation = record.open(now);
                let event = DomainEvent::organisation_created(
                    &organisation,
                    by.clone(),
                    now,
                    Some(&reference),
                );
                match store
                    .create_customer(&organisation, &reference, &event)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(org = %organisation.id, "customer created by reference");
                        return Ok(Upserted {
                            organisation,
                            outcome: UpsertOutcome::Created,
                        });
                    }
                    // Another request created it meanwhile: update that one instead.
                    Err(StoreError::Duplicate(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            let (current, rev) = store.organisation_at(id).await?.ok_or(Error::NotFound)?;
            let invoiced = !store
                .list_invoices_of_org(id, 1, None)
                .await?
                .items
                .is_empty();
            let applied = record
                .apply(&current, invoiced)
                .map_err(|e| match e.field() {
                    Some("currency") => {
                        Error::conflict_on("currency_fixed", "currency", e.to_string())
                    }
                    _ => e.into(),
                })?;
            let (organisation, fields) = match applied {
                Upsert::Unchanged => {
                    audit::unchanged();
                    return Ok(Upserted {
                        organisation: current,
                        outcome: UpsertOutcome::Unchanged,
                    });
                }
                Upsert::Changed {
                    organisation,
                    fields,
                } => (*organisation, fields),
            };
            let changed: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
            let event = DomainEvent::new(
                id,
                by.clone(),
                now,
                EventKind::OrganisationUpdated {
                    changed: changed.clone(),
                    state: OrganisationState::of(&organisation, Some(&reference)),
                },
            );
            match store.save_organisation(&organisation, rev, &event).await {
                Ok(_) => {
                    tracing::info!(org = %id, ?changed, "customer updated by reference");
                    return Ok(Upserted {
                        organisation,
                        outcome: UpsertOutcome::Updated(changed),
                    });
                }
                Err(StoreError::Conflict(_)) => {
                    self.ctx.contention.changed_meanwhile();
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Transient("the customer kept changing; retry".into()).into())
    }

    /// The customer a CRM names by `reference` (staff who read accounts).
    pub async fn customer_by_ref(
        &self,
        caller: &Principal,
        reference: &str,
    ) -> Result<Organisation> {
        caller.require_role(crate::access::BILLING_STAFF)?;
        caller.require_scope(Scope::AccountsRead)?;
        let reference = external_reference(reference)?;
        let id = self
            .ctx
            .store
            .org_by_external_ref_now(&reference)
            .await?
            .ok_or(Error::NotFound)?;
        self.ctx
            .store
            .organisation(id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Blocks an organisation (admins, managers): it keeps read access but can place no
    /// orders and start no subscriptions until unblocked.
    pub async fn block(&self, caller: &Principal, org: OrgId) -> Result<Organisation> {
        self.set_status(caller, org, true).await
    }

    /// Unblocks an organisation (admins, managers).
    pub async fn unblock(&self, caller: &Principal, org: OrgId) -> Result<Organisation> {
        self.set_status(caller, org, false).await
    }

    async fn set_status(
        &self,
        caller: &Principal,
        org: OrgId,
        block: bool,
    ) -> Result<Organisation> {
        let mut org = self.organisation(caller, org).await?;
        caller.require_role(&[Role::Admin, Role::Manager])?;
        let from = org.status;
        if block {
            org.block()?;
        } else {
            org.unblock()?;
        }
        self.ctx
            .store
            .set_org_status(org.id, from, org.status)
            .await?;
        tracing::info!(org = %org.id, blocked = block, "organisation status changed");
        Ok(org)
    }

    /// Sets a customer's own payment terms in days, 0 to 365 (admins, managers,
    /// accountants); `None` returns it to the provider's. Checked after the caller is.
    pub async fn set_payment_terms(
        &self,
        caller: &Principal,
        org: OrgId,
        days: Option<u16>,
    ) -> Result<Organisation> {
        let mut org = self.organisation(caller, org).await?;
        caller.require_role(&[Role::Admin, Role::Manager, Role::Accountant])?;
        org.payment_terms = days.map(PaymentTerms::days).transpose()?;
        self.ctx
            .store
            .set_payment_terms(org.id, org.payment_terms)
            .await?;
        tracing::info!(org = %org.id, terms = ?days, "payment terms set");
        Ok(org)
    }

    /// Sets what a customer's documents name besides its registration (admins, managers,
    /// accountants): its KPP (a Russian legal entity's; none for a sole proprietor or a
    /// foreign VAT payer) and the contract its documents are issued under. Invoices issued
    /// from now on carry them; issued ones keep what they were issued with.
    pub async fn set_document_details(
        &self,
        caller: &Principal,
        org: OrgId,
        details: DocumentDetails,
    ) -> Result<Organisation> {
        let mut org = self.organisation(caller, org).await?;
        caller.require_role(&[Role::Admin, Role::Manager, Role::Accountant])?;
        let kpp = details
            .kpp
            .as_deref()
            .map(|k| Kpp::of(k, &org.tax_id))
            .transpose()?;
        let contract = details
            .contract
            .map(|(number, signed_on)| Contract::new(&number, signed_on))
            .transpose()?;
        self.ctx
            .store
            .set_document_details(org.id, kpp.as_ref(), contract.as_ref())
            .await?;
        org.kpp = kpp;
        org.contract = contract;
        tracing::info!(org = %org.id, "document details set");
        Ok(org)
    }

    /// The users of an organisation.
    pub async fn users(
        &self,
        caller: &Principal,
        org: OrgId,
        paging: Paging,
    ) -> Result<Page<User>> {
        let org = self.organisation(caller, org).await?;
        Ok(self
            .ctx
            .store
            .list_users(Some(org.id), paging.limit, paging.start)
            .await?)
    }

    /// Invites a colleague into an organisation (its customers with `accounts:write`, or an
    /// admin).
    pub async fn invite_user(
        &self,
        caller: &Principal,
        org: OrgId,
        invite: Invite,
    ) -> Result<Invited> {
        let org = self.organisation(caller, org).await?;
        caller.require_scope(Scope::AccountsWrite)?;
        if caller.role().is_staff() {
            caller.require_role(&[Role::Admin])?;
        }
        self.invite(caller, invite, Role::Customer, Some(org.id))
            .await
    }

    /// The provider's staff (admins).
    pub async fn staff(&self, caller: &Principal, paging: Paging) -> Result<Page<User>> {
        caller.require_role(&[Role::Admin])?;
        Ok(self
            .ctx
            .store
            .list_users(None, paging.limit, paging.start)
            .await?)
    }

    /// Invites a member of staff of `role` (admins).
    pub async fn invite_staff(
        &self,
        caller: &Principal,
        role: Role,
        invite: Invite,
    ) -> Result<Invited> {
        caller.require_role(&[Role::Admin])?;
        caller.require_scope(Scope::AccountsWrite)?;
        if !role.is_staff() {
            return Err(Error::invalid(
                "role",
                "staff roles are engineer, manager, accountant and admin; customers are invited by their organisation",
            ));
        }
        self.invite(caller, invite, role, None).await
    }

    async fn invite(
        &self,
        caller: &Principal,
        invite: Invite,
        role: Role,
        org: Option<OrgId>,
    ) -> Result<Invited> {
        let email = Email::parse(&invite.email)?;
        let name = PersonName::parse(&invite.name).map_err(|e| e.in_field("name"))?;
        let now = self.ctx.now();
        let user = User::new(
            UserId::new(),
            org,
            email,
            name,
            role,
            UserStatus::Invited,
            now,
        )?;
        let (token, record) = Invitation::issue(now);
        // A customer's new user is an event a CRM hears of (`user.added`); staff are not.
        let added = org.map(|org| {
            DomainEvent::new(
                org,
                crate::access::actor(caller),
                now,
                EventKind::UserAdded {
                    user: user.id(),
                    name: user.name().to_string(),
                    email: user.email().as_str().to_owned(),
                    role,
                },
            )
        });
        self.ctx
            .store
            .invite_user(&user, &record, added.as_ref())
            .await?;
        tracing::info!(user = %user.id(), role = %role, "user invited");
        // The invitee gets the link by mail where this function can send it; the token is
        // answered too, for the inviter to pass on otherwise.
        let mailed = match (&self.ctx.mailer, &self.ctx.public_url) {
            (Some(mailer), Some(base)) => {
                let link = format!(
                    "{}/portal/invitation?token={}",
                    base.trim_end_matches('/'),
                    token.expose_secret()
                );
                let body = format!(
                    "Здравствуйте, {name}!\n\nВас пригласили в Kopek. Чтобы задать пароль и войти, откройте ссылку (она действует 7 дней):\n{link}\n\n---\n\nHello {name},\n\nYou are invited to Kopek. To choose a password and sign in, open the link (it works for 7 days):\n{link}\n",
                    name = user.name()
                );
                match mailer
                    .send(
                        user.email().as_str(),
                        "Kopek: приглашение / invitation",
                        &body,
                    )
                    .await
                {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(user = %user.id(), error = %e, "the invitation was not mailed");
                        false
                    }
                }
            }
            _ => false,
        };
        Ok(Invited {
            user,
            token,
            expires_at: record.expires_at,
            mailed,
        })
    }

    // -----------------------------------------------------------------------------------
    // API keys

    /// API keys: the caller's organisation's, the named organisation's, or (admins, naming
    /// none) the staff's.
    pub async fn api_keys(
        &self,
        caller: &Principal,
        org: Option<OrgId>,
        paging: Paging,
    ) -> Result<Page<ApiKey>> {
        caller.require_scope(Scope::AccountsRead)?;
        let owner = match (caller.org(), org) {
            (Some(own), None) => Some(own),
            (own, Some(named)) => {
                caller.can_access_org(named)?;
                debug_assert!(own.is_none() || own == Some(named));
                Some(named)
            }
            (None, None) => {
                caller.require_role(&[Role::Admin])?;
                None
            }
        };
        Ok(self
            .ctx
            .store
            .list_api_keys(owner, paging.limit, paging.start)
            .await?)
    }

    /// Creates an API key; its token is shown once, only its hash is kept. The key's scopes
    /// and name are checked before the creator's rights, as the domain's `NewApiKey` checks
    /// those.
    pub async fn create_api_key(
        &self,
        caller: &Principal,
        create: CreateApiKey,
    ) -> Result<IssuedApiKey> {
        let role = create.role.unwrap_or(Role::Customer);
        let org = match (caller.org(), create.org) {
            (Some(own), None) => Some(own),
            (_, Some(named)) => Some(named),
            (None, None) => None,
        };
        let scopes = ScopeSet::for_role(role, create.scopes)?;
        let name = ApiKeyName::parse(&create.name).map_err(|e| e.in_field("name"))?;
        let issued = NewApiKey::new(caller, org, name, role, scopes)?.issue(self.ctx.now());
        self.ctx
            .store
            .create_api_key(&issued.key, &issued.secret_hash)
            .await?;
        tracing::info!(api_key = %issued.key.id(), role = %role, "API key created");
        Ok(issued)
    }

    /// Revokes an API key; it stops working at once. Another organisation's key, or the
    /// staff's for anyone but an admin, is not found.
    pub async fn revoke_api_key(&self, caller: &Principal, id: ApiKeyId) -> Result<()> {
        caller.require_scope(Scope::AccountsWrite)?;
        let store = &self.ctx.store;
        let (key, _) = store.api_key(id).await?.ok_or(Error::NotFound)?;
        match key.org() {
            Some(org) => caller.can_access_org(org)?,
            None => caller
                .require_role(&[Role::Admin])
                .map_err(|_| AccessError::NotFound)?,
        }
        if !key.is_active() {
            return Err(Error::conflict(
                "invalid_state",
                "the key is already revoked",
            ));
        }
        store.revoke_api_key(id, self.ctx.now()).await?;
        Ok(())
    }
}

/// A refresh token names its session: `{user}.{session}.{secret}`.
fn refresh_token_text(user: UserId, session: SessionId, secret: &SecretToken) -> String {
    format!("{user}.{session}.{}", secret.expose_secret())
}

fn parse_refresh_token(token: &str) -> Option<(UserId, SessionId, SecretToken)> {
    let mut parts = token.split('.');
    let (Some(user), Some(session), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some((
        user.parse().ok()?,
        session.parse().ok()?,
        SecretToken::parse(secret).ok()?,
    ))
}

/// Argon2id on the blocking pool, so a hash does not stall other requests on the runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_names_its_user_and_session() {
        let (user, session, secret) = (UserId::new(), SessionId::new(), SecretToken::generate());
        let text = refresh_token_text(user, session, &secret);
        let (u, s, parsed) = parse_refresh_token(&text).expect("parses");
        assert_eq!((u, s), (user, session));
        assert_eq!(parsed.expose_secret(), secret.expose_secret());
    }

    #[test]
    fn a_malformed_refresh_token_names_nothing() {
        let (user, session) = (UserId::new(), SessionId::new());
        let secret = SecretToken::generate();
        for bad in [
            String::new(),
            "a.b.c".to_owned(),
            format!("{user}.{session}"),
            format!("{user}.{session}.short"),
            format!("{user}.{session}.{}.extra", secret.expose_secret()),
            format!("{session}.{user}.{}", secret.expose_secret()),
        ] {
            assert!(parse_refresh_token(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn commands_hide_their_secrets() {
        let sign_in = SignIn {
            email: "maria@romashka.ru".into(),
            password: "Correct-horse-battery".into(),
            client: None,
        };
        assert!(!format!("{sign_in:?}").contains("Correct-horse"));
        let change = ChangePassword {
            current: "Old-password-1234".into(),
            new: "New-password-5678".into(),
        };
        assert!(!format!("{change:?}").contains("password-"));
        let accept = AcceptInvitation {
            token: "token-text".into(),
            password: "Chosen-password-1".into(),
        };
        let text = format!("{accept:?}");
        assert!(!text.contains("token-text") && !text.contains("Chosen"));
        let admin = NewAdmin {
            email: "admin@kopek.test".into(),
            name: "Admin".into(),
            password: "Admin-password-1".into(),
        };
        assert!(!format!("{admin:?}").contains("Admin-password"));
    }
}

/// What an upsert by reference did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    Created,
    /// These fields changed.
    Updated(Vec<String>),
    Unchanged,
}

/// A customer as a CRM's record left it.
#[derive(Debug, Clone)]
pub struct Upserted {
    pub organisation: Organisation,
    pub outcome: UpsertOutcome,
}

/// A CRM's reference, as usage producers name customers by it too: not an organisation id.
fn external_reference(text: &str) -> Result<String> {
    match CustomerRef::parse(text) {
        Ok(CustomerRef::External(reference)) => Ok(reference.as_str().to_owned()),
        Ok(CustomerRef::Org(_)) => Err(Error::bad_input(
            "invalid_path",
            "reference",
            "an organisation id is not an external reference",
        )),
        Err(reason) => Err(Error::bad_input("invalid_path", "reference", reason)),
    }
}

/// Names `user` as who acts in the current audit scope: the requests that sign someone in
/// (or register, reset, accept) come before anyone is authenticated.
fn acting_user(user: &User) {
    audit::set_actor(audit::Actor {
        kind: audit::ActorKind::User,
        id: Some(user.id().to_string()),
        role: Some(user.role()),
        org: user.org(),
    });
}
