//! Who is calling, and the authorization checks every handler runs.

use super::{AccessError, AccountsError, ApiKey, Role, Scope, ScopeSet, User, UserStatus};
use crate::ids::{ApiKeyId, OrgId, SessionId, UserId};

/// The credential behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    User(UserId),
    ApiKey(ApiKeyId),
}

/// The caller of one request, with what it may do and where.
///
/// Invariants, checked by every constructor: a customer principal has an organisation and
/// staff have none; the scopes fit the role; only users have sessions. A user holds every
/// scope of its role; an API key only those it was issued with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    subject: Subject,
    role: Role,
    org: Option<OrgId>,
    scopes: ScopeSet,
    session: Option<SessionId>,
}

/// `Ok` when the role and organisation go together: customers belong to exactly one
/// organisation, staff to none.
pub(crate) fn ensure_affiliation(role: Role, org: Option<OrgId>) -> Result<(), AccountsError> {
    match (role.is_staff(), org) {
        (false, None) => Err(AccountsError::invalid(
            "org",
            "a customer must belong to an organisation",
        )),
        (true, Some(_)) => Err(AccountsError::invalid(
            "org",
            "staff must not belong to an organisation",
        )),
        _ => Ok(()),
    }
}

impl Principal {
    /// A signed-in user, holding every scope of `role`.
    pub fn user(
        id: UserId,
        role: Role,
        org: Option<OrgId>,
        session: Option<SessionId>,
    ) -> Result<Self, AccountsError> {
        ensure_affiliation(role, org)?;
        Ok(Self {
            subject: Subject::User(id),
            role,
            org,
            scopes: ScopeSet::all_for(role),
            session,
        })
    }

    /// An API key, holding only `scopes`, which must fit `role`.
    pub fn api_key(
        id: ApiKeyId,
        role: Role,
        org: Option<OrgId>,
        scopes: ScopeSet,
    ) -> Result<Self, AccountsError> {
        ensure_affiliation(role, org)?;
        scopes.ensure_within(role)?;
        Ok(Self {
            subject: Subject::ApiKey(id),
            role,
            org,
            scopes,
            session: None,
        })
    }

    /// The principal of an active user; anyone else (invited, disabled) is unauthenticated.
    pub fn from_user(user: &User, session: Option<SessionId>) -> Result<Self, AccessError> {
        if user.status() != UserStatus::Active {
            return Err(AccessError::Unauthenticated);
        }
        // `User` holds the same invariant, so this cannot fail for a built user.
        Self::user(user.id(), user.role(), user.org(), session)
            .map_err(|_| AccessError::Unauthenticated)
    }

    /// The principal of an unrevoked API key; a revoked key is unauthenticated.
    pub fn from_api_key(key: &ApiKey) -> Result<Self, AccessError> {
        if !key.is_active() {
            return Err(AccessError::Unauthenticated);
        }
        Self::api_key(key.id(), key.role(), key.org(), key.scopes().clone())
            .map_err(|_| AccessError::Unauthenticated)
    }

    pub fn subject(&self) -> Subject {
        self.subject
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The customer's organisation; `None` for staff.
    pub fn org(&self) -> Option<OrgId> {
        self.org
    }

    /// The scopes held: all of the role's for a user, the issued ones for an API key.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    pub fn session(&self) -> Option<SessionId> {
        self.session
    }

    /// True when the principal holds `scope`.
    pub fn holds(&self, scope: Scope) -> bool {
        match self.subject {
            Subject::User(_) => scope.allowed_for(self.role),
            Subject::ApiKey(_) => self.scopes.contains(scope),
        }
    }

    /// `Ok` when the principal has one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), AccessError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        let needed = match names.as_slice() {
            [one] => format!("role {one}"),
            _ => format!("one of the roles {}", names.join(", ")),
        };
        Err(AccessError::Forbidden { needed })
    }

    /// `Ok` when the principal holds `scope`.
    pub fn require_scope(&self, scope: Scope) -> Result<(), AccessError> {
        if self.holds(scope) {
            Ok(())
        } else {
            Err(AccessError::Forbidden {
                needed: format!("scope {scope}"),
            })
        }
    }

    /// `Ok` when the principal may reach `org`: staff reach every organisation, a customer
    /// only its own. Another organisation is [`AccessError::NotFound`], never `Forbidden`,
    /// so a customer cannot learn which organisation ids exist.
    pub fn can_access_org(&self, org: OrgId) -> Result<(), AccessError> {
        if self.role.is_staff() || self.org == Some(org) {
            Ok(())
        } else {
            Err(AccessError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{ApiKeyName, Email, PersonName};
    use chrono::{TimeZone, Utc};

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

    #[test]
    fn a_customer_reaches_its_own_organisation() {
        let org = OrgId::new();
        assert_eq!(customer(org).can_access_org(org), Ok(()));
    }

    #[test]
    fn another_organisation_looks_like_it_does_not_exist() {
        let err = customer(OrgId::new())
            .can_access_org(OrgId::new())
            .unwrap_err();
        assert_eq!(err, AccessError::NotFound);
        assert_eq!(AccountsError::from(err), AccountsError::NotFound);
    }

    #[test]
    fn staff_reach_every_organisation() {
        for role in [Role::Engineer, Role::Manager, Role::Accountant, Role::Admin] {
            assert_eq!(staff(role).can_access_org(OrgId::new()), Ok(()), "{role}");
        }
    }

    #[test]
    fn a_customer_without_an_organisation_or_staff_with_one_cannot_be_a_principal() {
        let err = Principal::user(UserId::new(), Role::Customer, None, None).unwrap_err();
        assert_eq!(err.field(), Some("org"));
        let err = Principal::api_key(
            ApiKeyId::new(),
            Role::Admin,
            Some(OrgId::new()),
            ScopeSet::empty(),
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("org"));
    }

    #[test]
    fn require_role_names_the_roles_needed() {
        let engineer = staff(Role::Engineer);
        assert_eq!(
            engineer.require_role(&[Role::Engineer, Role::Admin]),
            Ok(())
        );
        assert_eq!(
            engineer.require_role(&[Role::Admin]),
            Err(AccessError::Forbidden {
                needed: "role admin".into()
            })
        );
        assert_eq!(
            engineer.require_role(&[Role::Manager, Role::Admin]),
            Err(AccessError::Forbidden {
                needed: "one of the roles manager, admin".into()
            })
        );
    }

    #[test]
    fn a_user_holds_every_scope_of_its_role_and_no_other() {
        let org = OrgId::new();
        let user = customer(org);
        for scope in Scope::all_for(Role::Customer) {
            assert_eq!(user.require_scope(*scope), Ok(()));
        }
        assert_eq!(
            user.require_scope(Scope::CatalogWrite),
            Err(AccessError::Forbidden {
                needed: "scope catalog:write".into()
            })
        );
        assert!(staff(Role::Admin).holds(Scope::PaymentsWrite));
    }

    #[test]
    fn an_api_key_holds_only_the_scopes_it_was_issued() {
        let scopes = ScopeSet::for_role(Role::Customer, [Scope::OrdersRead]).unwrap();
        let key = Principal::api_key(ApiKeyId::new(), Role::Customer, Some(OrgId::new()), scopes)
            .unwrap();
        assert_eq!(key.require_scope(Scope::OrdersRead), Ok(()));
        assert!(matches!(
            key.require_scope(Scope::OrdersWrite),
            Err(AccessError::Forbidden { .. })
        ));
        assert_eq!(key.session(), None);
    }

    #[test]
    fn an_api_key_principal_refuses_scopes_beyond_its_role() {
        let scopes: ScopeSet = serde_json::from_str(r#"["catalog:write"]"#).unwrap();
        let err = Principal::api_key(ApiKeyId::new(), Role::Customer, Some(OrgId::new()), scopes)
            .unwrap_err();
        assert!(matches!(
            err,
            AccountsError::ScopeBeyondRole {
                scope: Scope::CatalogWrite,
                ..
            }
        ));
    }

    #[test]
    fn only_active_users_and_unrevoked_keys_become_principals() {
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
        let org = OrgId::new();
        let mut user = User::new(
            UserId::new(),
            Some(org),
            Email::parse("ann@example.com").unwrap(),
            PersonName::parse("Ann").unwrap(),
            Role::Customer,
            UserStatus::Invited,
            now,
        )
        .unwrap();
        assert_eq!(
            Principal::from_user(&user, None),
            Err(AccessError::Unauthenticated)
        );
        user.activate().unwrap();
        let principal = Principal::from_user(&user, None).unwrap();
        assert_eq!(principal.subject(), Subject::User(user.id()));
        assert_eq!(principal.org(), Some(org));
        user.disable().unwrap();
        assert_eq!(
            Principal::from_user(&user, None),
            Err(AccessError::Unauthenticated)
        );

        let mut key = ApiKey::new(
            ApiKeyId::new(),
            Some(org),
            ApiKeyName::parse("ci").unwrap(),
            Role::Customer,
            ScopeSet::for_role(Role::Customer, [Scope::OrdersRead]).unwrap(),
            now,
            None,
        )
        .unwrap();
        let principal = Principal::from_api_key(&key).unwrap();
        assert_eq!(principal.role(), Role::Customer);
        assert!(principal.scopes().contains(Scope::OrdersRead));
        key.revoke(now).unwrap();
        assert_eq!(
            Principal::from_api_key(&key),
            Err(AccessError::Unauthenticated)
        );
    }
}
