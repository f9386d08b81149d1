//! Who may do what, applied by every service before it reads or writes: the caller's own
//! organisation, the organisation a read names, the person behind a request. A customer only
//! ever reaches its own organisation: another's id answers *not found*, exactly as an id that
//! never existed.

use kopek_domain::accounts::{Principal, Role, Subject};
use kopek_domain::ids::{OrgId, UserId};
use kopek_domain::orders::UserOrKey;

use crate::{Error, Result};

/// The staff roles that handle billing.
pub const BILLING_STAFF: &[Role] = &[Role::Admin, Role::Manager, Role::Accountant];

/// Who acted, as events record it.
pub fn actor(caller: &Principal) -> UserOrKey {
    match caller.subject() {
        Subject::User(id) => UserOrKey::User(id),
        Subject::ApiKey(id) => UserOrKey::ApiKey(id),
    }
}

/// The caller as text (`usr_…`, `key_…`), as a close's trigger records it.
pub fn subject_text(caller: &Principal) -> String {
    match caller.subject() {
        Subject::User(id) => id.to_string(),
        Subject::ApiKey(id) => id.to_string(),
    }
}

/// The caller's own organisation: only customers (and their keys) act for a customer.
pub fn customer_org(caller: &Principal) -> Result<OrgId> {
    caller.org().ok_or_else(|| {
        Error::forbidden(
            "customer_only",
            "only a customer's users and keys act for a customer",
        )
    })
}

/// The organisation a read is about: customers default to (and may name only) their own —
/// another organisation's id is not found; staff must name one.
pub fn org_of(caller: &Principal, named: Option<OrgId>) -> Result<OrgId> {
    let org = match (caller.org(), named) {
        (Some(own), None) => own,
        (_, Some(org)) => org,
        (None, None) => {
            return Err(Error::bad_input(
                "invalid_query",
                "org_id",
                "staff name the organisation",
            ));
        }
    };
    caller.can_access_org(org)?;
    Ok(org)
}

/// The signed-in person behind the request (not an API key).
pub fn user_of(caller: &Principal) -> Result<UserId> {
    match caller.subject() {
        Subject::User(id) => Ok(id),
        Subject::ApiKey(_) => Err(Error::forbidden(
            "forbidden",
            "this needs a signed-in user, not an API key",
        )),
    }
}
