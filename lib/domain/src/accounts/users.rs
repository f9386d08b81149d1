//! Users and the invitations that bring them in.

use chrono::{DateTime, TimeDelta, Utc};

use super::principal::ensure_affiliation;
use super::{AccountsError, Email, PersonName, Role, SecretToken};
use crate::ids::{OrgId, UserId};

/// Where a user is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited, has not yet accepted (cannot sign in).
    Invited,
    Active,
    /// Switched off by an administrator (cannot sign in).
    Disabled,
}

/// A person who signs in: a customer organisation's user or a member of staff.
///
/// Fields are private because role and organisation go together (customers belong to one
/// organisation, staff to none); [`User::new`] checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    id: UserId,
    org: Option<OrgId>,
    email: Email,
    name: PersonName,
    role: Role,
    status: UserStatus,
    created_at: DateTime<Utc>,
}

impl User {
    /// A user from its parts (new, or read back from storage).
    pub fn new(
        id: UserId,
        org: Option<OrgId>,
        email: Email,
        name: PersonName,
        role: Role,
        status: UserStatus,
        created_at: DateTime<Utc>,
    ) -> Result<Self, AccountsError> {
        ensure_affiliation(role, org)?;
        Ok(Self {
            id,
            org,
            email,
            name,
            role,
            status,
            created_at,
        })
    }

    /// An active customer of `org`: the affiliation holds by construction.
    pub(super) fn active_customer(
        id: UserId,
        org: OrgId,
        email: Email,
        name: PersonName,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            org: Some(org),
            email,
            name,
            role: Role::Customer,
            status: UserStatus::Active,
            created_at,
        }
    }

    pub fn id(&self) -> UserId {
        self.id
    }

    pub fn org(&self) -> Option<OrgId> {
        self.org
    }

    pub fn email(&self) -> &Email {
        &self.email
    }

    pub fn name(&self) -> &PersonName {
        &self.name
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn status(&self) -> UserStatus {
        self.status
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// An invited user accepts the invitation.
    pub fn activate(&mut self) -> Result<(), AccountsError> {
        self.transition(UserStatus::Invited, UserStatus::Active)
    }

    /// A disabled user is let back in.
    pub fn enable(&mut self) -> Result<(), AccountsError> {
        self.transition(UserStatus::Disabled, UserStatus::Active)
    }

    /// An invited or active user is switched off.
    pub fn disable(&mut self) -> Result<(), AccountsError> {
        if self.status == UserStatus::Disabled {
            return Err(AccountsError::InvalidState {
                reason: "the user is already disabled".into(),
            });
        }
        self.status = UserStatus::Disabled;
        Ok(())
    }

    fn transition(&mut self, from: UserStatus, to: UserStatus) -> Result<(), AccountsError> {
        if self.status != from {
            return Err(AccountsError::InvalidState {
                reason: format!("the user is {:?}, not {from:?}", self.status).to_lowercase(),
            });
        }
        self.status = to;
        Ok(())
    }
}

/// The invitation policy: a one-time token, shown once, valid for seven days.
///
/// Uninhabited: it only names [`Invitation::issue`] and [`Invitation::TTL`].
#[derive(Debug)]
pub enum Invitation {}

impl Invitation {
    /// How long an invitation can be accepted.
    pub const TTL: TimeDelta = TimeDelta::days(7);

    /// A fresh token for the invitee (put it in the invitation link; never store it) and the
    /// record to store with the invited user.
    pub fn issue(now: DateTime<Utc>) -> (SecretToken, InvitationRecord) {
        let token = SecretToken::generate();
        let record = InvitationRecord {
            token_hash: token.sha256_hex(),
            expires_at: now
                .checked_add_signed(Self::TTL)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        };
        (token, record)
    }
}

/// What is stored of an invitation: the hash of its token and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

impl InvitationRecord {
    /// True from the moment of expiry on.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// `Ok` when `presented` is this invitation's token and it has not expired. A wrong token
    /// is [`AccountsError::InvalidCredentials`] (checked first, so expiry is told only to the
    /// token's holder); a late one [`AccountsError::InvitationExpired`].
    pub fn accept(&self, presented: &SecretToken, now: DateTime<Utc>) -> Result<(), AccountsError> {
        if !presented.matches(&self.token_hash) {
            return Err(AccountsError::InvalidCredentials);
        }
        if self.is_expired(now) {
            return Err(AccountsError::InvitationExpired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
    }

    fn user(role: Role, org: Option<OrgId>) -> Result<User, AccountsError> {
        User::new(
            UserId::new(),
            org,
            Email::parse("Ann@Example.com").unwrap(),
            PersonName::parse("Ann").unwrap(),
            role,
            UserStatus::Invited,
            now(),
        )
    }

    #[test]
    fn a_customer_user_belongs_to_an_organisation_and_staff_do_not() {
        assert!(user(Role::Customer, Some(OrgId::new())).is_ok());
        assert!(user(Role::Manager, None).is_ok());
        assert_eq!(user(Role::Customer, None).unwrap_err().field(), Some("org"));
        assert_eq!(
            user(Role::Admin, Some(OrgId::new())).unwrap_err().field(),
            Some("org")
        );
    }

    #[test]
    fn a_user_moves_from_invited_to_active_to_disabled_and_back() {
        let mut u = user(Role::Customer, Some(OrgId::new())).unwrap();
        assert!(matches!(
            u.enable(),
            Err(AccountsError::InvalidState { .. })
        ));
        u.activate().unwrap();
        assert_eq!(u.status(), UserStatus::Active);
        assert!(matches!(
            u.activate(),
            Err(AccountsError::InvalidState { .. })
        ));
        u.disable().unwrap();
        assert!(matches!(
            u.disable(),
            Err(AccountsError::InvalidState { .. })
        ));
        u.enable().unwrap();
        assert_eq!(u.status(), UserStatus::Active);
    }

    #[test]
    fn an_invitation_expires_after_seven_days() {
        let (_, record) = Invitation::issue(now());
        assert_eq!(record.expires_at, now() + TimeDelta::days(7));
        assert!(!record.is_expired(now() + TimeDelta::days(7) - TimeDelta::seconds(1)));
        assert!(record.is_expired(now() + TimeDelta::days(7)));
    }

    #[test]
    fn an_invitation_stores_only_the_hash_of_its_token() {
        let (token, record) = Invitation::issue(now());
        assert_ne!(record.token_hash, token.expose_secret());
        assert_eq!(record.token_hash, token.sha256_hex());
    }

    #[test]
    fn an_invitation_is_accepted_with_its_token_before_expiry_only() {
        let (token, record) = Invitation::issue(now());
        let presented = SecretToken::parse(token.expose_secret()).unwrap();
        assert_eq!(record.accept(&presented, now()), Ok(()));
        assert_eq!(
            record.accept(&presented, now() + TimeDelta::days(8)),
            Err(AccountsError::InvitationExpired)
        );
        assert_eq!(
            record.accept(&SecretToken::generate(), now()),
            Err(AccountsError::InvalidCredentials)
        );
        assert_eq!(
            record.accept(&SecretToken::generate(), now() + TimeDelta::days(8)),
            Err(AccountsError::InvalidCredentials),
            "a stranger's token learns nothing about expiry"
        );
    }
}
