//! API keys for machine clients: who may create which, and their life.

use chrono::{DateTime, Utc};

use super::principal::ensure_affiliation;
use super::{AccountsError, ApiKeyName, ApiKeyToken, Principal, Role, Scope, ScopeSet};
use crate::ids::{ApiKeyId, OrgId};

/// A machine client's key. The secret is not here: only its hash is stored, next to the key.
///
/// Fields are private because role, organisation and scopes go together; [`ApiKey::new`]
/// checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    id: ApiKeyId,
    org: Option<OrgId>,
    name: ApiKeyName,
    role: Role,
    scopes: ScopeSet,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// A key from its parts (new, or read back from storage).
    pub fn new(
        id: ApiKeyId,
        org: Option<OrgId>,
        name: ApiKeyName,
        role: Role,
        scopes: ScopeSet,
        created_at: DateTime<Utc>,
        revoked_at: Option<DateTime<Utc>>,
    ) -> Result<Self, AccountsError> {
        ensure_affiliation(role, org)?;
        scopes.ensure_within(role)?;
        if revoked_at.is_some_and(|revoked| revoked < created_at) {
            return Err(AccountsError::invalid(
                "revoked_at",
                "must not be before created_at",
            ));
        }
        Ok(Self {
            id,
            org,
            name,
            role,
            scopes,
            created_at,
            revoked_at,
        })
    }

    pub fn id(&self) -> ApiKeyId {
        self.id
    }

    pub fn org(&self) -> Option<OrgId> {
        self.org
    }

    pub fn name(&self) -> &ApiKeyName {
        &self.name
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.revoked_at
    }

    /// True until the key is revoked.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// Revokes the key for good.
    pub fn revoke(&mut self, now: DateTime<Utc>) -> Result<(), AccountsError> {
        if self.revoked_at.is_some() {
            return Err(AccountsError::InvalidState {
                reason: "the key is already revoked".into(),
            });
        }
        self.revoked_at = Some(now.max(self.created_at));
        Ok(())
    }
}

/// A request to create an API key, checked against the principal asking for it.
///
/// Rules: the creator needs `accounts:write`; a customer-role key belongs to an organisation
/// the creator can reach (a customer: only its own; another organisation is `NotFound`);
/// a staff-role key belongs to no organisation and only an admin may create one; the scopes
/// must fit the key's role and the creator must hold each of them itself, so no key can
/// grant more than its creator has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    org: Option<OrgId>,
    name: ApiKeyName,
    role: Role,
    scopes: ScopeSet,
}

/// A key just created: the entity to store, the token to show once, and the hash to store.
#[derive(Debug)]
pub struct IssuedApiKey {
    pub key: ApiKey,
    pub token: ApiKeyToken,
    /// SHA-256 of the token's secret, hex.
    pub secret_hash: String,
}

impl NewApiKey {
    pub fn new(
        creator: &Principal,
        org: Option<OrgId>,
        name: ApiKeyName,
        role: Role,
        scopes: ScopeSet,
    ) -> Result<Self, AccountsError> {
        creator.require_scope(Scope::AccountsWrite)?;
        if role.is_staff() {
            creator.require_role(&[Role::Admin])?;
        }
        ensure_affiliation(role, org)?;
        if let Some(org) = org {
            creator.can_access_org(org)?;
        }
        scopes.ensure_within(role)?;
        if let Some(scope) = scopes.iter().find(|scope| !creator.holds(*scope)) {
            return Err(AccountsError::Forbidden {
                needed: format!("scope {scope}"),
            });
        }
        Ok(Self {
            org,
            name,
            role,
            scopes,
        })
    }

    pub fn org(&self) -> Option<OrgId> {
        self.org
    }

    pub fn name(&self) -> &ApiKeyName {
        &self.name
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Creates the key with a new id and its token.
    pub fn issue(self, now: DateTime<Utc>) -> IssuedApiKey {
        let id = ApiKeyId::new();
        let (token, secret_hash) = ApiKeyToken::issue(id);
        let key = ApiKey {
            id,
            org: self.org,
            name: self.name,
            role: self.role,
            scopes: self.scopes,
            created_at: now,
            revoked_at: None,
        };
        IssuedApiKey {
            key,
            token,
            secret_hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SessionId, UserId};
    use chrono::{TimeDelta, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
    }

    fn name() -> ApiKeyName {
        ApiKeyName::parse("billing export").unwrap()
    }

    fn customer(org: OrgId) -> Principal {
        Principal::user(
            UserId::new(),
            Role::Customer,
            Some(org),
            Some(SessionId::new()),
        )
        .unwrap()
    }

    fn staff(role: Role) -> Principal {
        Principal::user(UserId::new(), role, None, Some(SessionId::new())).unwrap()
    }

    fn scopes(role: Role, scopes: &[Scope]) -> ScopeSet {
        ScopeSet::for_role(role, scopes.iter().copied()).unwrap()
    }

    #[test]
    fn a_customer_creates_a_customer_key_for_its_own_organisation() {
        let org = OrgId::new();
        let request = NewApiKey::new(
            &customer(org),
            Some(org),
            name(),
            Role::Customer,
            scopes(Role::Customer, &[Scope::OrdersRead, Scope::InvoicesRead]),
        )
        .unwrap();
        let issued = request.issue(now());
        assert_eq!(issued.key.org(), Some(org));
        assert!(issued.key.is_active());
        assert_eq!(issued.key.created_at(), now());
        let (id, secret) = ApiKeyToken::parse(issued.token.expose_secret()).unwrap();
        assert_eq!(id, issued.key.id());
        assert!(secret.matches(&issued.secret_hash));
    }

    #[test]
    fn a_customer_cannot_create_a_key_for_another_organisation() {
        let err = NewApiKey::new(
            &customer(OrgId::new()),
            Some(OrgId::new()),
            name(),
            Role::Customer,
            ScopeSet::empty(),
        )
        .unwrap_err();
        assert_eq!(err, AccountsError::NotFound);
    }

    #[test]
    fn a_customer_cannot_create_a_staff_key() {
        let err = NewApiKey::new(
            &customer(OrgId::new()),
            None,
            name(),
            Role::Engineer,
            ScopeSet::empty(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            AccountsError::Forbidden {
                needed: "role admin".into()
            }
        );
    }

    #[test]
    fn only_an_admin_creates_staff_keys() {
        let usage = scopes(Role::Engineer, &[Scope::UsageWrite]);
        let err = NewApiKey::new(
            &staff(Role::Manager),
            None,
            name(),
            Role::Engineer,
            usage.clone(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            AccountsError::Forbidden {
                needed: "role admin".into()
            }
        );
        let key = NewApiKey::new(&staff(Role::Admin), None, name(), Role::Engineer, usage).unwrap();
        assert_eq!(key.role(), Role::Engineer);
        assert_eq!(key.org(), None);
    }

    #[test]
    fn a_manager_creates_customer_keys_for_any_organisation() {
        let org = OrgId::new();
        let key = NewApiKey::new(
            &staff(Role::Manager),
            Some(org),
            name(),
            Role::Customer,
            ScopeSet::all_for(Role::Customer),
        )
        .unwrap();
        assert_eq!(key.org(), Some(org));
    }

    #[test]
    fn a_key_needs_the_organisation_its_role_implies() {
        let err = NewApiKey::new(
            &staff(Role::Admin),
            None,
            name(),
            Role::Customer,
            ScopeSet::empty(),
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("org"));
        let err = NewApiKey::new(
            &staff(Role::Admin),
            Some(OrgId::new()),
            name(),
            Role::Accountant,
            ScopeSet::empty(),
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("org"));
    }

    #[test]
    fn a_key_cannot_hold_scopes_beyond_its_role() {
        let org = OrgId::new();
        let beyond: ScopeSet = serde_json::from_str(r#"["catalog:write"]"#).unwrap();
        let err = NewApiKey::new(
            &staff(Role::Admin),
            Some(org),
            name(),
            Role::Customer,
            beyond,
        )
        .unwrap_err();
        assert_eq!(
            err,
            AccountsError::ScopeBeyondRole {
                scope: Scope::CatalogWrite,
                role: Role::Customer
            }
        );
    }

    #[test]
    fn a_key_cannot_grant_more_than_its_creator_holds() {
        let org = OrgId::new();
        let creator = Principal::api_key(
            ApiKeyId::new(),
            Role::Customer,
            Some(org),
            scopes(Role::Customer, &[Scope::AccountsWrite, Scope::OrdersRead]),
        )
        .unwrap();
        let err = NewApiKey::new(
            &creator,
            Some(org),
            name(),
            Role::Customer,
            scopes(Role::Customer, &[Scope::OrdersWrite]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            AccountsError::Forbidden {
                needed: "scope orders:write".into()
            }
        );
    }

    #[test]
    fn creating_a_key_needs_accounts_write() {
        let err = NewApiKey::new(
            &staff(Role::Engineer),
            Some(OrgId::new()),
            name(),
            Role::Customer,
            ScopeSet::empty(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            AccountsError::Forbidden {
                needed: "scope accounts:write".into()
            }
        );
    }

    #[test]
    fn a_revoked_key_is_inactive_and_cannot_be_revoked_twice() {
        let mut key = ApiKey::new(
            ApiKeyId::new(),
            None,
            name(),
            Role::Engineer,
            scopes(Role::Engineer, &[Scope::UsageWrite]),
            now(),
            None,
        )
        .unwrap();
        assert!(key.is_active());
        key.revoke(now() + TimeDelta::hours(1)).unwrap();
        assert!(!key.is_active());
        assert_eq!(key.revoked_at(), Some(now() + TimeDelta::hours(1)));
        assert!(matches!(
            key.revoke(now()),
            Err(AccountsError::InvalidState { .. })
        ));
    }

    #[test]
    fn a_stored_key_is_checked_like_a_new_one() {
        let revoked_before_created = ApiKey::new(
            ApiKeyId::new(),
            None,
            name(),
            Role::Admin,
            ScopeSet::empty(),
            now(),
            Some(now() - TimeDelta::seconds(1)),
        );
        assert_eq!(
            revoked_before_created.unwrap_err().field(),
            Some("revoked_at")
        );
    }
}
