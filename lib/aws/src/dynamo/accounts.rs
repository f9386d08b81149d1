//! Organisations, users, sessions, invitations, password resets and API keys (access patterns
//! A1–A12, A88).

use super::expr::{self, ABSENT, Change, EXISTS, put};
use super::{Page, PageKey, QuerySpec, Store, StoreError, epoch, from_item, key, keys, to_item};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, TransactWriteItem, Update, WriteRequest,
};
use chrono::{DateTime, TimeZone, Utc};
use kopek_domain::accounts::{
    ApiKey, ApiKeyName, BillingAddress, Contract, DocumentLanguage, Email, InvitationRecord, Kpp,
    LegalName, NewAccount, OrgStatus, Organisation, PasswordHash, PaymentTerms, PersonName, Role,
    ScopeSet, TaxId, User, UserStatus,
};
use kopek_domain::charges::DomainEvent;
use kopek_domain::ids::{ApiKeyId, OrgId, SessionId, UserId};
use kopek_domain::money::Currency;
use serde::{Deserialize, Serialize};

/// What a refused condition of these writes means, as `StoreError::from_sdk` says it.
const REFUSED: &str = "condition failed";

fn held(changed: bool) -> Result<(), StoreError> {
    expr::held(changed, REFUSED)
}

#[derive(Debug, Serialize, Deserialize)]
struct OrgItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    /// `TAXID#{tax id}` (A3b: a bank payment's payer found by INN).
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    /// `ORGSHARD#{nn}` / `{org}` (A3c: planning lists a job shard's organisations).
    #[serde(rename = "GSI3PK", default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(rename = "GSI3SK", default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    id: OrgId,
    legal_name: LegalName,
    tax_id: String,
    billing_email: Email,
    billing_address: BillingAddress,
    currency: Currency,
    language: DocumentLanguage,
    status: OrgStatus,
    created_at: DateTime<Utc>,
    /// The customer's own payment terms (absent: the provider's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_terms_days: Option<PaymentTerms>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kpp: Option<Kpp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contract: Option<Contract>,
    /// Its invoice series' subdivision, once placed (written by the close's issue: A55).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    series_index: Option<u8>,
    rev: u64,
}

impl OrgItem {
    fn from_domain(org: &Organisation) -> Self {
        Self {
            pk: keys::org(&org.id),
            sk: "ORG".into(),
            gsi1pk: keys::ORGS.into(),
            gsi1sk: keys::org(&org.id),
            gsi2pk: Some(keys::tax_id(org.tax_id.as_str())),
            gsi2sk: Some(keys::org(&org.id)),
            gsi3pk: Some(keys::org_shard(kopek_domain::close::job_shard(org.id))),
            gsi3sk: Some(org.id.to_string()),
            kind: "organisation".into(),
            id: org.id,
            legal_name: org.legal_name.clone(),
            tax_id: org.tax_id.as_str().to_owned(),
            billing_email: org.billing_email.clone(),
            billing_address: org.billing_address.clone(),
            currency: org.currency,
            language: org.language,
            status: org.status,
            created_at: org.created_at,
            payment_terms_days: org.payment_terms,
            kpp: org.kpp.clone(),
            contract: org.contract.clone(),
            series_index: org.series_index,
            rev: 1,
        }
    }

    fn into_domain(self) -> Result<Organisation, StoreError> {
        Ok(Organisation {
            id: self.id,
            legal_name: self.legal_name,
            tax_id: TaxId::parse(&self.tax_id)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", self.pk)))?,
            billing_email: self.billing_email,
            billing_address: self.billing_address,
            currency: self.currency,
            language: self.language,
            status: self.status,
            created_at: self.created_at,
            payment_terms: self.payment_terms_days,
            kpp: self.kpp,
            contract: self.contract,
            series_index: self.series_index,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct UserItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "type")]
    kind: String,
    id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<OrgId>,
    email: Email,
    name: PersonName,
    role: Role,
    status: UserStatus,
    created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    rev: u64,
}

impl UserItem {
    fn from_domain(user: &User, hash: Option<&PasswordHash>) -> Self {
        Self {
            pk: keys::user(&user.id()),
            sk: "USER".into(),
            gsi1pk: keys::owner(user.org().as_ref()),
            gsi1sk: keys::user(&user.id()),
            kind: "user".into(),
            id: user.id(),
            org: user.org(),
            email: user.email().clone(),
            name: user.name().clone(),
            role: user.role(),
            status: user.status(),
            created_at: user.created_at(),
            password_hash: hash.map(|h| h.as_str().to_owned()),
            rev: 1,
        }
    }

    fn into_domain(self) -> Result<StoredUser, StoreError> {
        let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{}: {e}", self.pk));
        let user = User::new(
            self.id,
            self.org,
            self.email.clone(),
            self.name.clone(),
            self.role,
            self.status,
            self.created_at,
        )
        .map_err(|e| corrupt(&e))?;
        let password_hash = self
            .password_hash
            .as_deref()
            .map(PasswordHash::parse)
            .transpose()
            .map_err(|e| corrupt(&e))?;
        Ok(StoredUser {
            user,
            password_hash,
        })
    }
}

/// A user with the hash of its password (none while an invitation is open).
#[derive(Debug, Clone)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: Option<PasswordHash>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EmailItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    user: UserId,
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    refresh_hash: String,
    created_at: DateTime<Utc>,
    expires_at: i64,
}

/// A session as stored: the hash of its current refresh token and its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub refresh_hash: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct InviteItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    kind: String,
    user: UserId,
    expires: DateTime<Utc>,
    expires_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ApiKeyItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "type")]
    kind: String,
    id: ApiKeyId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<OrgId>,
    name: ApiKeyName,
    role: Role,
    scopes: ScopeSet,
    created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<DateTime<Utc>>,
    secret_hash: String,
    rev: u64,
}

impl ApiKeyItem {
    fn into_domain(self) -> Result<(ApiKey, String), StoreError> {
        let key = ApiKey::new(
            self.id,
            self.org,
            self.name,
            self.role,
            self.scopes,
            self.created_at,
            self.revoked_at,
        )
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", self.pk)))?;
        Ok((key, self.secret_hash))
    }
}

fn from_timestamp(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Store {
    /// A1: an organisation, its first user and the user's e-mail guard, with the
    /// organisation's event, all or nothing.
    pub async fn register(
        &self,
        account: &NewAccount,
        event: &DomainEvent,
    ) -> Result<(), StoreError> {
        let org = to_item(&OrgItem::from_domain(&account.organisation))?;
        let user = to_item(&UserItem::from_domain(
            &account.owner,
            Some(&account.password_hash),
        ))?;
        let email = to_item(&EmailItem {
            pk: keys::email(account.owner.email().normalized()),
            sk: "EMAIL".into(),
            kind: "email".into(),
            user: account.owner.id(),
        })?;
        let absent = Some("attribute_not_exists(PK)");
        self.transact(
            vec![
                put(self, org, absent)?,
                put(self, user, absent)?,
                put(self, email, absent)?,
                super::orders::put_event(self, event)?,
            ],
            &[(2, StoreError::Duplicate("email"))],
        )
        .await
    }

    /// A user with a password and the e-mail guard, all or nothing (the first admin).
    pub async fn create_user(&self, user: &User, hash: &PasswordHash) -> Result<(), StoreError> {
        let user_item = to_item(&UserItem::from_domain(user, Some(hash)))?;
        let email = to_item(&EmailItem {
            pk: keys::email(user.email().normalized()),
            sk: "EMAIL".into(),
            kind: "email".into(),
            user: user.id(),
        })?;
        let absent = Some("attribute_not_exists(PK)");
        self.transact(
            vec![put(self, user_item, absent)?, put(self, email, absent)?],
            &[(1, StoreError::Duplicate("email"))],
        )
        .await
    }

    /// A2.
    pub async fn organisation(&self, id: OrgId) -> Result<Option<Organisation>, StoreError> {
        self.get::<OrgItem>(&keys::org(&id), "ORG", false)
            .await?
            .map(OrgItem::into_domain)
            .transpose()
    }

    /// A2: an organisation with its revision, strongly consistent (an upsert's read).
    pub async fn organisation_at(
        &self,
        id: OrgId,
    ) -> Result<Option<(Organisation, u64)>, StoreError> {
        match self.get::<OrgItem>(&keys::org(&id), "ORG", true).await? {
            Some(item) => {
                let rev = item.rev;
                Ok(Some((item.into_domain()?, rev)))
            }
            None => Ok(None),
        }
    }

    /// A2 + A45: a customer created from a CRM's record with its external reference, both
    /// or neither; the reference taken meanwhile is a duplicate.
    pub async fn create_customer(
        &self,
        org: &Organisation,
        reference: &str,
        event: &DomainEvent,
    ) -> Result<(), StoreError> {
        let item = to_item(&OrgItem::from_domain(org))?;
        self.transact(
            vec![
                put(self, item, Some("attribute_not_exists(PK)"))?,
                super::usage::external_ref_put(self, org.id, reference)?,
                super::orders::put_event(self, event)?,
            ],
            &[(1, StoreError::Duplicate("external_ref"))],
        )
        .await
    }

    /// A2: saves `org` over revision `rev` with its event; a conflict when it changed
    /// meanwhile.
    pub async fn save_organisation(
        &self,
        org: &Organisation,
        rev: u64,
        event: &DomainEvent,
    ) -> Result<u64, StoreError> {
        let mut item = OrgItem::from_domain(org);
        item.rev = rev + 1;
        self.transact(
            vec![
                super::expr::put_over_rev(self, to_item(&item)?, rev)?,
                super::orders::put_event(self, event)?,
            ],
            &[(
                0,
                StoreError::Conflict("the organisation changed meanwhile; retry".into()),
            )],
        )
        .await?;
        Ok(rev + 1)
    }

    /// A3.
    pub async fn list_organisations(
        &self,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<Organisation>, StoreError> {
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk: keys::ORGS,
            sk_prefix: Some("ORG#"),
            limit,
            forward: true,
        };
        self.query_page::<OrgItem>(q, start)
            .await?
            .try_map(OrgItem::into_domain)
    }

    /// A3b: the organisations registered with a tax id (a head office and its branches
    /// share one), on GSI2.
    pub async fn organisations_by_tax_id(
        &self,
        tax_id: &str,
    ) -> Result<Vec<Organisation>, StoreError> {
        self.query_all_at::<OrgItem>(Some(keys::GSI2), &keys::tax_id(tax_id), None)
            .await?
            .into_iter()
            .map(OrgItem::into_domain)
            .collect()
    }

    /// A4: the user who has this e-mail (compared lowercased).
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<StoredUser>, StoreError> {
        let Some(guard) = self
            .get::<EmailItem>(&keys::email(email.normalized()), "EMAIL", true)
            .await?
        else {
            return Ok(None);
        };
        self.user(guard.user).await
    }

    /// A2b: changes an organisation's status (block, unblock) if it is still `from`.
    /// Sets (or with `None` removes) an organisation's own payment terms; `NotFound` if it
    /// does not exist. One UpdateItem.
    /// A2: the organisations with these ids, read in batches (one request per 100); missing
    /// ones are left out.
    pub async fn organisations_by_id(
        &self,
        ids: &[OrgId],
    ) -> Result<Vec<Organisation>, StoreError> {
        let keys = ids.iter().map(|id| key(&keys::org(id), "ORG")).collect();
        self.batch_get(keys)
            .await?
            .into_iter()
            .map(|item| from_item::<OrgItem>(item)?.into_domain())
            .collect()
    }

    /// A2 (the organisation item): sets what a customer's documents name besides its
    /// registration: its KPP and the contract (`None` removes each).
    pub async fn set_document_details(
        &self,
        id: OrgId,
        kpp: Option<&Kpp>,
        contract: Option<&Contract>,
    ) -> Result<(), StoreError> {
        let contract = contract
            .map(serde_dynamo::to_attribute_value)
            .transpose()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        let kpp = kpp.map(|k| AttributeValue::S(k.as_str().into()));
        self.set_org_attributes(id, [("kpp", kpp), ("contract", contract)])
            .await
    }

    /// A2: sets a customer's own payment terms (`None`: the provider's).
    pub async fn set_payment_terms(
        &self,
        id: OrgId,
        terms: Option<PaymentTerms>,
    ) -> Result<(), StoreError> {
        let days = terms.map(|t| AttributeValue::N(t.get().to_string()));
        self.set_org_attributes(id, [("payment_terms_days", days)])
            .await
    }

    /// Sets each named attribute of an organisation to its value, or removes it (`None`), and
    /// moves its revision on; an organisation that does not exist is not found.
    async fn set_org_attributes<const N: usize>(
        &self,
        id: OrgId,
        attributes: [(&str, Option<AttributeValue>); N],
    ) -> Result<(), StoreError> {
        let mut change = Change::new(keys::org(&id), "ORG")
            .when(EXISTS)
            .add("rev :one")
            .value(":one", AttributeValue::N("1".into()));
        for (i, (name, value)) in attributes.into_iter().enumerate() {
            change = change.name(&format!("#a{i}"), name);
            change = match value {
                Some(value) => change
                    .set(&format!("#a{i} = :v{i}"))
                    .value(&format!(":v{i}"), value),
                None => change.remove(&format!("#a{i}")),
            };
        }
        if change.send(self).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    pub async fn set_org_status(
        &self,
        id: OrgId,
        from: OrgStatus,
        to: OrgStatus,
    ) -> Result<(), StoreError> {
        let status = |s: OrgStatus| {
            serde_dynamo::to_attribute_value::<_, AttributeValue>(s)
                .map_err(|e| StoreError::Unexpected(e.to_string()))
        };
        let changed = Change::new(keys::org(&id), "ORG")
            .set("#status = :to")
            .add("rev :one")
            .when("#status = :from")
            .name("#status", "status")
            .value(":from", status(from)?)
            .value(":to", status(to)?)
            .value(":one", AttributeValue::N("1".into()))
            .send(self)
            .await?;
        expr::held(changed, "the organisation changed meanwhile; retry")
    }

    /// A5.
    pub async fn user(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        self.get::<UserItem>(&keys::user(&id), "USER", true)
            .await?
            .map(UserItem::into_domain)
            .transpose()
    }

    /// A6: an organisation's users, or the staff (`org = None`).
    pub async fn list_users(
        &self,
        org: Option<OrgId>,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<User>, StoreError> {
        let owner = keys::owner(org.as_ref());
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk: &owner,
            sk_prefix: Some("USER#"),
            limit,
            forward: true,
        };
        self.query_page::<UserItem>(q, start)
            .await?
            .try_map(|i| i.into_domain().map(|s| s.user))
    }

    /// A7: an invited user, its e-mail guard and the invitation.
    pub async fn invite_user(
        &self,
        user: &User,
        invitation: &InvitationRecord,
        event: Option<&DomainEvent>,
    ) -> Result<(), StoreError> {
        let user_item = to_item(&UserItem::from_domain(user, None))?;
        let email = to_item(&EmailItem {
            pk: keys::email(user.email().normalized()),
            sk: "EMAIL".into(),
            kind: "email".into(),
            user: user.id(),
        })?;
        let invite = to_item(&InviteItem {
            pk: keys::invitation(&invitation.token_hash),
            sk: "INVITE".into(),
            kind: "invitation".into(),
            user: user.id(),
            expires: invitation.expires_at,
            expires_at: epoch(invitation.expires_at),
        })?;
        let absent = Some("attribute_not_exists(PK)");
        let mut items = vec![
            put(self, user_item, absent)?,
            put(self, email, absent)?,
            put(self, invite, absent)?,
        ];
        if let Some(event) = event {
            items.push(super::orders::put_event(self, event)?);
        }
        self.transact(items, &[(1, StoreError::Duplicate("email"))])
            .await
    }

    /// The invitation with this token hash: the invited user and when it expires.
    pub async fn invitation(
        &self,
        token_hash: &str,
    ) -> Result<Option<(UserId, InvitationRecord)>, StoreError> {
        Ok(self
            .get::<InviteItem>(&keys::invitation(token_hash), "INVITE", true)
            .await?
            .map(|i| {
                (
                    i.user,
                    InvitationRecord {
                        token_hash: token_hash.to_owned(),
                        expires_at: i.expires,
                    },
                )
            }))
    }

    /// A8: consumes the invitation and activates the user with a password, all or nothing.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        user: UserId,
        hash: &PasswordHash,
    ) -> Result<(), StoreError> {
        self.use_token_for_password(
            (keys::invitation(token_hash), "INVITE"),
            user,
            hash,
            "invited",
        )
        .await
    }

    /// A88: files a password reset of `user`, usable until `expires`.
    pub async fn start_password_reset(
        &self,
        token_hash: &str,
        user: UserId,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let item = to_item(&InviteItem {
            pk: keys::password_reset(token_hash),
            sk: "RESET".into(),
            kind: "password_reset".into(),
            user,
            expires,
            expires_at: epoch(expires),
        })?;
        if self.put_new(item).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "a reset with this token exists".into(),
            ))
        }
    }

    /// A88: the password reset with this token hash: its user and when it expires.
    pub async fn password_reset(
        &self,
        token_hash: &str,
    ) -> Result<Option<(UserId, DateTime<Utc>)>, StoreError> {
        Ok(self
            .get::<InviteItem>(&keys::password_reset(token_hash), "RESET", true)
            .await?
            .map(|i| (i.user, i.expires)))
    }

    /// A88: uses the reset once and sets the active user's new password, all or nothing
    /// (`Conflict` when the reset was used meanwhile or the user is not active).
    pub async fn reset_password(
        &self,
        token_hash: &str,
        user: UserId,
        hash: &PasswordHash,
    ) -> Result<(), StoreError> {
        self.use_token_for_password(
            (keys::password_reset(token_hash), "RESET"),
            user,
            hash,
            "active",
        )
        .await
    }

    /// Deletes a single-use token's item (it must exist) and gives the user `hash` as its
    /// password, leaving it active, if its status is `status` — in one transaction.
    async fn use_token_for_password(
        &self,
        (pk, sk): (String, &str),
        user: UserId,
        hash: &PasswordHash,
        status: &str,
    ) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(&pk, sk)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(&keys::user(&user), "USER")))
            .update_expression("SET #status = :active, password_hash = :hash ADD rev :one")
            .condition_expression("#status = :required")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", AttributeValue::S("active".into()))
            .expression_attribute_values(":required", AttributeValue::S(status.into()))
            .expression_attribute_values(":hash", AttributeValue::S(hash.as_str().to_owned()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        self.transact(
            vec![
                TransactWriteItem::builder().delete(delete).build(),
                TransactWriteItem::builder().update(update).build(),
            ],
            &[],
        )
        .await
    }

    /// Replaces a user's password hash.
    pub async fn set_password(&self, user: UserId, hash: &PasswordHash) -> Result<(), StoreError> {
        let changed = Change::new(keys::user(&user), "USER")
            .set("password_hash = :hash")
            .add("rev :one")
            .when(EXISTS)
            .value(":hash", AttributeValue::S(hash.as_str().to_owned()))
            .value(":one", AttributeValue::N("1".into()))
            .send(self)
            .await?;
        held(changed)
    }

    /// A9: starts a session.
    pub async fn start_session(
        &self,
        user: UserId,
        session: SessionId,
        refresh_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let item = to_item(&SessionItem {
            pk: keys::user(&user),
            sk: keys::session(&session),
            kind: "session".into(),
            refresh_hash: refresh_hash.to_owned(),
            created_at: now,
            expires_at: epoch(expires_at),
        })?;
        held(self.write_one(put(self, item, Some(ABSENT))?).await?)
    }

    /// A9: the session, if it exists and has not expired (TTL deletion can lag by hours).
    pub async fn session(
        &self,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let item = self
            .get::<SessionItem>(&keys::user(&user), &keys::session(&session), true)
            .await?;
        Ok(item
            .filter(|s| s.expires_at > epoch(now))
            .map(|s| SessionRecord {
                refresh_hash: s.refresh_hash,
                expires_at: from_timestamp(s.expires_at),
            }))
    }

    /// A9: whether the session is still alive.
    pub async fn session_exists(
        &self,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.session(user, session, now).await?.is_some())
    }

    /// Swaps a session's refresh token, if the presented one is still the current one.
    pub async fn rotate_session(
        &self,
        user: UserId,
        session: SessionId,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<(), StoreError> {
        let changed = Change::new(keys::user(&user), &keys::session(&session))
            .set("refresh_hash = :new")
            .when("refresh_hash = :old")
            .value(":new", AttributeValue::S(new_hash.to_owned()))
            .value(":old", AttributeValue::S(old_hash.to_owned()))
            .send(self)
            .await?;
        held(changed)
    }

    /// A9: ends a session.
    pub async fn end_session(&self, user: UserId, session: SessionId) -> Result<(), StoreError> {
        let action = expr::delete(
            self,
            (&keys::user(&user), &keys::session(&session)),
            None,
            Default::default(),
        )?;
        self.write_one(action).await.map(|_| ())
    }

    /// A10: ends every session of a user but `keep`. Deletes in batches of at most 25, the
    /// real `BatchWriteItem` limit, and retries unprocessed items.
    pub async fn end_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<usize, StoreError> {
        let pk = keys::user(&user);
        let keep = keep.map(|s| keys::session(&s));
        let mut doomed = Vec::new();
        let mut start = None;
        loop {
            let q = QuerySpec {
                index: None,
                pk: &pk,
                sk_prefix: Some("SESSION#"),
                limit: 1000,
                forward: true,
            };
            let page = self.query_page::<SessionItem>(q, start).await?;
            doomed.extend(
                page.items
                    .into_iter()
                    .map(|s| s.sk)
                    .filter(|sk| Some(sk) != keep.as_ref()),
            );
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        let requests = doomed
            .iter()
            .map(|sk| {
                DeleteRequest::builder()
                    .set_key(Some(key(&pk, sk)))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(|e| StoreError::Unexpected(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await?;
        Ok(doomed.len())
    }

    /// Stores a new API key with the hash of its secret.
    pub async fn create_api_key(
        &self,
        api_key: &ApiKey,
        secret_hash: &str,
    ) -> Result<(), StoreError> {
        let item = to_item(&ApiKeyItem {
            pk: keys::api_key(&api_key.id()),
            sk: "APIKEY".into(),
            gsi1pk: keys::owner(api_key.org().as_ref()),
            gsi1sk: keys::api_key(&api_key.id()),
            kind: "api_key".into(),
            id: api_key.id(),
            org: api_key.org(),
            name: api_key.name().clone(),
            role: api_key.role(),
            scopes: api_key.scopes().clone(),
            created_at: api_key.created_at(),
            revoked_at: api_key.revoked_at(),
            secret_hash: secret_hash.to_owned(),
            rev: 1,
        })?;
        held(self.write_one(put(self, item, Some(ABSENT))?).await?)
    }

    /// A11: an API key and the hash of its secret.
    pub async fn api_key(&self, id: ApiKeyId) -> Result<Option<(ApiKey, String)>, StoreError> {
        self.get::<ApiKeyItem>(&keys::api_key(&id), "APIKEY", true)
            .await?
            .map(ApiKeyItem::into_domain)
            .transpose()
    }

    /// A12: an owner's API keys (an organisation, or the staff for `None`).
    pub async fn list_api_keys(
        &self,
        org: Option<OrgId>,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<ApiKey>, StoreError> {
        let owner = keys::owner(org.as_ref());
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk: &owner,
            sk_prefix: Some("APIKEY#"),
            limit,
            forward: true,
        };
        self.query_page::<ApiKeyItem>(q, start)
            .await?
            .try_map(|i| i.into_domain().map(|(k, _)| k))
    }

    /// Revokes a key once; a second revocation is a conflict.
    pub async fn revoke_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let changed = Change::new(keys::api_key(&id), "APIKEY")
            .set("revoked_at = :now")
            .add("rev :one")
            .when("attribute_exists(PK) AND attribute_not_exists(revoked_at)")
            .value(
                ":now",
                AttributeValue::S(now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            )
            .value(":one", AttributeValue::N("1".into()))
            .send(self)
            .await?;
        held(changed)
    }
}

/// An organisation's keys on GSI3 (keys only).
#[derive(Debug, Deserialize)]
struct OrgShardKey {
    #[serde(rename = "GSI3SK")]
    org: OrgId,
}

impl Store {
    /// A3c, for planning: a page of the ids of the organisations of job shard `shard`
    /// (GSI3, keys only), in id order.
    pub async fn list_org_ids_of_shard(
        &self,
        shard: u8,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<(Vec<OrgId>, Option<PageKey>), StoreError> {
        let pk = keys::org_shard(shard);
        let q = QuerySpec {
            index: Some(keys::GSI3),
            pk: &pk,
            sk_prefix: None,
            limit,
            forward: true,
        };
        let page = self.query_page::<OrgShardKey>(q, start).await?;
        Ok((page.items.into_iter().map(|k| k.org).collect(), page.next))
    }

    /// A3, for the preview: a page of organisation ids. The cursors are [`PageKey`]s as plain
    /// text ([`PageKey::to_plain`]), as the period keeps them.
    pub async fn list_org_ids(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Vec<OrgId>, Option<String>), StoreError> {
        let start = cursor.map(PageKey::from_plain).transpose()?;
        let page = self.list_organisations(limit, start).await?;
        Ok((
            page.items.into_iter().map(|o| o.id).collect(),
            page.next.as_ref().map(PageKey::to_plain),
        ))
    }
}
