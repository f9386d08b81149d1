//! Roles, scopes and which scopes each role may hold.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::AccountsError;

/// What a person or key is, for the provider: a customer, or one of the staff roles.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A customer organisation's user or key: sees only its own organisation.
    Customer,
    /// Provider staff who do the work: work orders and usage.
    Engineer,
    /// Provider staff who run the catalogue and the customer accounts.
    Manager,
    /// Provider staff who handle invoices and payments.
    Accountant,
    /// Provider staff with every scope, and the only role that may create staff API keys.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Customer,
        Role::Engineer,
        Role::Manager,
        Role::Accountant,
        Role::Admin,
    ];

    /// True for every role of the provider's own people (everything but `Customer`).
    pub fn is_staff(self) -> bool {
        self != Role::Customer
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Engineer => "engineer",
            Role::Manager => "manager",
            Role::Accountant => "accountant",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccountsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| AccountsError::invalid("role", format!("unknown role `{s}`")))
    }
}

/// A permission to read or change one area, as `area:action`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Scope {
    #[serde(rename = "catalog:read")]
    CatalogRead,
    #[serde(rename = "catalog:write")]
    CatalogWrite,
    #[serde(rename = "accounts:read")]
    AccountsRead,
    #[serde(rename = "accounts:write")]
    AccountsWrite,
    #[serde(rename = "orders:read")]
    OrdersRead,
    #[serde(rename = "orders:write")]
    OrdersWrite,
    #[serde(rename = "usage:write")]
    UsageWrite,
    #[serde(rename = "invoices:read")]
    InvoicesRead,
    #[serde(rename = "payments:write")]
    PaymentsWrite,
}

use Scope::*;

const CUSTOMER_SCOPES: &[Scope] = &[
    CatalogRead,
    AccountsRead,
    AccountsWrite,
    OrdersRead,
    OrdersWrite,
    InvoicesRead,
];
const ENGINEER_SCOPES: &[Scope] = &[
    CatalogRead,
    AccountsRead,
    OrdersRead,
    OrdersWrite,
    UsageWrite,
];
const MANAGER_SCOPES: &[Scope] = &[
    CatalogRead,
    CatalogWrite,
    AccountsRead,
    AccountsWrite,
    OrdersRead,
    OrdersWrite,
    InvoicesRead,
];
const ACCOUNTANT_SCOPES: &[Scope] = &[
    CatalogRead,
    AccountsRead,
    OrdersRead,
    InvoicesRead,
    PaymentsWrite,
];

impl Scope {
    pub const ALL: [Scope; 9] = [
        CatalogRead,
        CatalogWrite,
        AccountsRead,
        AccountsWrite,
        OrdersRead,
        OrdersWrite,
        UsageWrite,
        InvoicesRead,
        PaymentsWrite,
    ];

    /// The scopes a role may hold: users of the role hold all of them, keys a subset.
    ///
    /// | scope            | customer | engineer | manager | accountant | admin |
    /// |------------------|:--------:|:--------:|:-------:|:----------:|:-----:|
    /// | `catalog:read`   | ✓        | ✓        | ✓       | ✓          | ✓     |
    /// | `catalog:write`  |          |          | ✓       |            | ✓     |
    /// | `accounts:read`  | ✓ (own)  | ✓        | ✓       | ✓          | ✓     |
    /// | `accounts:write` | ✓ (own)  |          | ✓       |            | ✓     |
    /// | `orders:read`    | ✓ (own)  | ✓        | ✓       | ✓          | ✓     |
    /// | `orders:write`   | ✓ (own)  | ✓        | ✓       |            | ✓     |
    /// | `usage:write`    |          | ✓        |         |            | ✓     |
    /// | `invoices:read`  | ✓ (own)  |          | ✓       | ✓          | ✓     |
    /// | `payments:write` |          |          |         | ✓          | ✓     |
    ///
    /// "Own" is enforced by [`Principal::can_access_org`](super::Principal::can_access_org).
    pub fn all_for(role: Role) -> &'static [Scope] {
        match role {
            Role::Customer => CUSTOMER_SCOPES,
            Role::Engineer => ENGINEER_SCOPES,
            Role::Manager => MANAGER_SCOPES,
            Role::Accountant => ACCOUNTANT_SCOPES,
            Role::Admin => &Scope::ALL,
        }
    }

    /// True when `role` may hold this scope.
    pub fn allowed_for(self, role: Role) -> bool {
        Scope::all_for(role).contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CatalogRead => "catalog:read",
            CatalogWrite => "catalog:write",
            AccountsRead => "accounts:read",
            AccountsWrite => "accounts:write",
            OrdersRead => "orders:read",
            OrdersWrite => "orders:write",
            UsageWrite => "usage:write",
            InvoicesRead => "invoices:read",
            PaymentsWrite => "payments:write",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = AccountsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| AccountsError::invalid("scopes", format!("unknown scope `{s}`")))
    }
}

/// A set of scopes that fits a role.
///
/// Built by [`ScopeSet::for_role`], which refuses any scope beyond the role and names it.
/// Serialized as an array of scope strings in a stable order. Deserializing checks only that
/// each string is a known scope (the role is not in the JSON); the entities that pair a set
/// with its role ([`ApiKey`](super::ApiKey), [`Principal`](super::Principal)) check the fit
/// again with [`ScopeSet::ensure_within`] when they are built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// The scopes given, if `role` may hold every one of them. Duplicates are merged.
    pub fn for_role(
        role: Role,
        scopes: impl IntoIterator<Item = Scope>,
    ) -> Result<Self, AccountsError> {
        let set = Self(scopes.into_iter().collect());
        set.ensure_within(role)?;
        Ok(set)
    }

    /// Every scope `role` may hold.
    pub fn all_for(role: Role) -> Self {
        Self(Scope::all_for(role).iter().copied().collect())
    }

    /// No scope at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// `Ok` when every scope in the set is allowed for `role`; otherwise names the first
    /// scope that is not.
    pub fn ensure_within(&self, role: Role) -> Result<(), AccountsError> {
        match self.0.iter().find(|scope| !scope.allowed_for(role)) {
            Some(&scope) => Err(AccountsError::ScopeBeyondRole { scope, role }),
            None => Ok(()),
        }
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// True when every scope here is also in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_customers_are_not_staff() {
        assert!(!Role::Customer.is_staff());
        for role in [Role::Engineer, Role::Manager, Role::Accountant, Role::Admin] {
            assert!(role.is_staff(), "{role}");
        }
    }

    #[test]
    fn roles_and_scopes_serialize_as_their_names() {
        assert_eq!(
            serde_json::to_string(&Role::Accountant).unwrap(),
            "\"accountant\""
        );
        assert_eq!(
            serde_json::to_string(&Scope::CatalogWrite).unwrap(),
            "\"catalog:write\""
        );
        for scope in Scope::ALL {
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{scope}\""));
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
        }
        for role in Role::ALL {
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("catalog:delete".parse::<Scope>().is_err());
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn a_customer_may_never_hold_catalog_write() {
        assert!(!Scope::CatalogWrite.allowed_for(Role::Customer));
        let err = ScopeSet::for_role(Role::Customer, [Scope::OrdersRead, Scope::CatalogWrite])
            .unwrap_err();
        assert_eq!(
            err,
            AccountsError::ScopeBeyondRole {
                scope: Scope::CatalogWrite,
                role: Role::Customer
            }
        );
        assert!(err.to_string().contains("catalog:write"));
        assert_eq!(err.field(), Some("scopes"));
    }

    #[test]
    fn an_admin_may_hold_every_scope() {
        let all = ScopeSet::for_role(Role::Admin, Scope::ALL).unwrap();
        assert_eq!(all.len(), Scope::ALL.len());
        assert_eq!(all, ScopeSet::all_for(Role::Admin));
    }

    #[test]
    fn every_role_may_read_the_catalog_and_staff_roles_differ() {
        for role in Role::ALL {
            assert!(Scope::CatalogRead.allowed_for(role));
        }
        assert!(Scope::PaymentsWrite.allowed_for(Role::Accountant));
        assert!(!Scope::PaymentsWrite.allowed_for(Role::Manager));
        assert!(Scope::UsageWrite.allowed_for(Role::Engineer));
        assert!(!Scope::UsageWrite.allowed_for(Role::Customer));
    }

    #[test]
    fn a_scope_set_serializes_as_a_sorted_array_of_strings() {
        let set =
            ScopeSet::for_role(Role::Customer, [Scope::OrdersWrite, Scope::CatalogRead]).unwrap();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["catalog:read","orders:write"]"#);
        let back: ScopeSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, set);
        assert!(serde_json::from_str::<ScopeSet>(r#"["orders:fly"]"#).is_err());
    }

    proptest! {
        #[test]
        fn scope_sets_never_exceed_the_role(
            role in proptest::sample::select(Role::ALL.to_vec()),
            scopes in proptest::collection::vec(proptest::sample::select(Scope::ALL.to_vec()), 0..12),
        ) {
            match ScopeSet::for_role(role, scopes.iter().copied()) {
                Ok(set) => {
                    prop_assert!(set.iter().all(|s| s.allowed_for(role)));
                    prop_assert!(set.is_subset(&ScopeSet::all_for(role)));
                    prop_assert!(set.ensure_within(role).is_ok());
                }
                Err(AccountsError::ScopeBeyondRole { scope, role: named }) => {
                    prop_assert_eq!(named, role);
                    prop_assert!(scopes.contains(&scope));
                    prop_assert!(!scope.allowed_for(role));
                }
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }
    }
}
