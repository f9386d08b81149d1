//! The audit log: one record per state-changing action — by staff, customers' users, API keys
//! or the system itself — written in the transaction of the change it describes.
//!
//! A record says who acted (user or API key, with role and organisation), on whose behalf,
//! what (the action: the route, or the system task), on which object, the fields before and
//! after (secrets left out, personal data masked), when, and the request id and client
//! address. Records are never changed; older ones than the [`Retention`] leave the table for
//! an archive.
//!
//! No I/O: the store attaches records to writes and the services search them; here are the
//! record, the diff of two states, the masking, the search filter and the CSV export.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::accounts::{Principal, Role, Subject};
use crate::ids::{AuditId, OrgId};

/// The most changes a record keeps (a new object's fields included); more are summed up in
/// one `…` entry.
pub const MAX_CHANGES: usize = 64;
/// The longest value a change shows, in characters; longer ones are cut with `…`.
pub const MAX_VALUE_CHARS: usize = 256;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiKey,
    /// A scheduled or event-driven task of Kopek's own (the period close, dunning, imports).
    System,
    /// A request before anyone signed in (registration, a password reset).
    Anonymous,
}

/// Who acted: the user or key and its role and organisation, or the system task's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// `usr_…`, `key_…`, or the system task (`period-close`); none when anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgId>,
}

impl Actor {
    pub fn of(principal: &Principal) -> Self {
        let (kind, id) = match principal.subject() {
            Subject::User(id) => (ActorKind::User, id.to_string()),
            Subject::ApiKey(id) => (ActorKind::ApiKey, id.to_string()),
        };
        Self {
            kind,
            id: Some(id),
            role: Some(principal.role()),
            org: principal.org(),
        }
    }

    /// One of Kopek's own tasks, by name.
    pub fn system(task: &str) -> Self {
        Self {
            kind: ActorKind::System,
            id: Some(task.to_owned()),
            role: None,
            org: None,
        }
    }

    pub fn anonymous() -> Self {
        Self {
            kind: ActorKind::Anonymous,
            id: None,
            role: None,
            org: None,
        }
    }

    /// As one word: the id, `system:<task>` or `anonymous`.
    pub fn text(&self) -> String {
        match (self.kind, &self.id) {
            (ActorKind::System, Some(task)) => format!("system:{task}"),
            (_, Some(id)) => id.clone(),
            _ => "anonymous".to_owned(),
        }
    }
}

/// Which object an action changed: its kind (`order`, `service`, `user` …) and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    pub id: String,
}

impl ObjectRef {
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// Why an object reference did not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an object is `kind:id`, e.g. `order:ord_01J…`")]
pub struct BadObjectRef;

impl FromStr for ObjectRef {
    type Err = BadObjectRef;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, id) = text.split_once(':').ok_or(BadObjectRef)?;
        let sane = |part: &str| {
            !part.is_empty()
                && part.len() <= 128
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        };
        if sane(kind) && sane(id) {
            Ok(Self::new(kind, id))
        } else {
            Err(BadObjectRef)
        }
    }
}

/// One field that changed: its path (`service.name`) and its value before and after as text
/// (none where it did not exist), masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// What the request or task that acts tells its record: everything but the object and the
/// changes, which the write itself gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub actor: Actor,
    /// `POST /v1/orders`, or a system task's action (`close.start`).
    pub action: String,
    pub request_id: Option<String>,
    pub client: Option<String>,
}

/// One record of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: AuditId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// The customer organisation the change concerns, where it concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OrgId>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

impl AuditRecord {
    /// The record of `context`'s action on `object`, from its state `before` to `after`
    /// (either absent for a creation or a removal). `kind` is the stored kind of the object,
    /// which decides what is personal data.
    pub fn new(
        context: &Context,
        at: DateTime<Utc>,
        object: Option<ObjectRef>,
        on_behalf_of: Option<OrgId>,
        before: Option<&Value>,
        after: Option<&Value>,
    ) -> Self {
        let kind = object.as_ref().map_or("", |o| o.kind.as_str());
        let on_behalf_of = on_behalf_of.or(context.actor.org);
        Self {
            id: AuditId::new(),
            at,
            actor: context.actor.clone(),
            on_behalf_of,
            action: context.action.clone(),
            changes: changes(kind, before, after),
            object,
            request_id: context.request_id.clone(),
            client: context.client.clone(),
        }
    }
}

/// The fields that differ between `before` and `after` (objects flattened into dotted
/// paths, lists compared whole), masked; storage bookkeeping left out.
pub fn changes(kind: &str, before: Option<&Value>, after: Option<&Value>) -> Vec<Change> {
    let flat = |value: Option<&Value>| {
        let mut out = BTreeMap::new();
        if let Some(value) = value {
            flatten(value, "", &mut out);
        }
        out
    };
    let (before, after) = (flat(before), flat(after));
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    let mut out = Vec::new();
    let mut left = 0usize;
    for field in fields {
        let (b, a) = (before.get(field), after.get(field));
        if b == a {
            continue;
        }
        if out.len() == MAX_CHANGES {
            left += 1;
            continue;
        }
        out.push(Change {
            field: field.clone(),
            before: b.map(|v| mask(kind, field, v)),
            after: a.map(|v| mask(kind, field, v)),
        });
    }
    if left > 0 {
        out.push(Change {
            field: "…".to_owned(),
            before: None,
            after: Some(Value::String(format!("{left} more fields changed"))),
        });
    }
    out
}

/// Attributes that are the store's bookkeeping, not the object's state.
const BOOKKEEPING: &[&str] = &[
    "PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "type", "rev", "ttl",
];

fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (name, inner) in map {
                if prefix.is_empty() && BOOKKEEPING.contains(&name.as_str()) {
                    continue;
                }
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                flatten(inner, &path, out);
            }
        }
        Value::Null => {}
        leaf => {
            out.insert(prefix.to_owned(), leaf.clone());
        }
    }
}

/// Parts of a field's name that mark a secret: never shown, not even masked.
const SECRET_MARKS: &[&str] = &[
    "password",
    "secret",
    "token",
    "hash",
    "signature",
    "otp",
    "salt",
    "private_key",
];
/// Parts of a field's name that mark personal data: shown masked.
const PERSONAL_MARKS: &[&str] = &["email", "phone", "passport", "birth", "person"];
/// Kinds of object whose `name` is a person's.
const PEOPLE: &[&str] = &["user", "staff", "invitation"];

/// `value` of `field` of an object of `kind` as the log shows it, always as text: secrets as
/// `[secret]`, personal data as its first character and `***` (an e-mail keeps its domain),
/// anything else as its text (lists and numbers as compact JSON), cut to [`MAX_VALUE_CHARS`].
pub fn mask(kind: &str, field: &str, value: &Value) -> Value {
    let lower = field.to_ascii_lowercase();
    let last = lower.rsplit('.').next().unwrap_or(&lower);
    if SECRET_MARKS.iter().any(|m| lower.contains(m)) {
        return Value::String("[secret]".to_owned());
    }
    let personal = PERSONAL_MARKS.iter().any(|m| lower.contains(m))
        || (PEOPLE.contains(&kind) && (last == "name" || last.ends_with("_name")));
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if personal {
        return Value::String(masked(&text));
    }
    Value::String(cut(&text))
}

fn masked(text: &str) -> String {
    let first: String = text.chars().take(1).collect();
    match text.rsplit_once('@') {
        Some((_, domain)) => format!("{first}***@{domain}"),
        None => format!("{first}***"),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
    out.push('…');
    out
}

/// How long records stay searchable in the table before they are archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    days: u32,
}

impl Retention {
    /// Five years (of 365.25 days), the default.
    pub const DEFAULT_DAYS: u32 = 1826;
    /// A day at least; a century at most.
    pub fn days(days: u32) -> Result<Self, String> {
        if (1..=36_525).contains(&days) {
            Ok(Self { days })
        } else {
            Err(format!("{days} days: between 1 and 36525"))
        }
    }

    pub fn in_days(&self) -> u32 {
        self.days
    }

    /// The first day still kept at `now`: records of earlier days are archived.
    pub fn first_kept_day(&self, now: DateTime<Utc>) -> NaiveDate {
        (now - Duration::days(i64::from(self.days))).date_naive()
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            days: Self::DEFAULT_DAYS,
        }
    }
}

/// What a search of the log asks for, besides the time range: every given part must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The actor's id (`usr_…`, `key_…`, `system:<task>`, `anonymous`).
    pub actor: Option<String>,
    pub object: Option<ObjectRef>,
    /// The action, or its beginning (`POST /v1/catalog` finds every catalog change).
    pub action: Option<String>,
    /// The organisation the record concerns.
    pub org: Option<OrgId>,
}

impl Filter {
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.actor
            .as_ref()
            .is_none_or(|a| *a == record.actor.text())
            && self
                .object
                .as_ref()
                .is_none_or(|o| record.object.as_ref() == Some(o))
            && self
                .action
                .as_ref()
                .is_none_or(|a| record.action.starts_with(a.as_str()))
            && self.org.is_none_or(|o| record.on_behalf_of == Some(o))
    }
}

/// The columns of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 12] = [
    "at",
    "id",
    "actor_kind",
    "actor",
    "role",
    "actor_org",
    "on_behalf_of",
    "action",
    "object",
    "changes",
    "request_id",
    "client",
];

/// `records` as CSV (RFC 4180, a header row first); changes read `field: before → after`,
/// separated by `; `.
pub fn to_csv<'r>(records: impl IntoIterator<Item = &'r AuditRecord>) -> Result<String, String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(CSV_COLUMNS).map_err(|e| e.to_string())?;
    for r in records {
        let kind = serde_json::to_value(r.actor.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let show = |v: &Option<Value>| match v {
            None => "—".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let changes = r
            .changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.field, show(&c.before), show(&c.after)))
            .collect::<Vec<_>>()
            .join("; ");
        out.write_record([
            r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            r.id.to_string(),
            kind,
            r.actor.text(),
            r.actor
                .role
                .map(|x| x.as_str().to_owned())
                .unwrap_or_default(),
            r.actor.org.map(|o| o.to_string()).unwrap_or_default(),
            r.on_behalf_of.map(|o| o.to_string()).unwrap_or_default(),
            r.action.clone(),
            r.object
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            changes,
            r.request_id.clone().unwrap_or_default(),
            r.client.clone().unwrap_or_default(),
        ])
        .map_err(|e| e.to_string())?;
    }
    let bytes = out.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Context {
        Context {
            actor: Actor::system("tests"),
            action: "PUT /v1/things/{id}".to_owned(),
            request_id: Some("req_1".to_owned()),
            client: Some("192.0.2.1".to_owned()),
        }
    }

    #[test]
    fn only_the_fields_that_differ_are_changes_and_bookkeeping_is_left_out() {
        let before = json!({"PK": "SERVICE#x", "rev": 1, "service": {"name": "Old", "unit": "pc"}});
        let after = json!({"PK": "SERVICE#x", "rev": 2, "service": {"name": "New", "unit": "pc"}});
        let got = changes("service", Some(&before), Some(&after));
        assert_eq!(
            got,
            vec![Change {
                field: "service.name".into(),
                before: Some(json!("Old")),
                after: Some(json!("New")),
            }]
        );
    }

    #[test]
    fn a_creation_shows_every_field_as_new_and_a_removal_every_field_as_gone() {
        let item = json!({"type": "key", "name": "CRM", "scopes": ["orders:read"]});
        let created = changes("api_key", None, Some(&item));
        assert_eq!(created.len(), 2);
        assert!(
            created
                .iter()
                .all(|c| c.before.is_none() && c.after.is_some())
        );
        let removed = changes("api_key", Some(&item), None);
        assert!(
            removed
                .iter()
                .all(|c| c.before.is_some() && c.after.is_none())
        );
        assert_eq!(removed[1].before, Some(json!("[\"orders:read\"]")));
    }

    #[test]
    fn secrets_never_show_and_personal_data_shows_masked() {
        assert_eq!(
            mask("user", "password_hash", &json!("$argon2id$…")),
            json!("[secret]")
        );
        assert_eq!(
            mask("webhook", "secrets.current", &json!("whsec_abc")),
            json!("[secret]")
        );
        assert_eq!(
            mask("user", "user.email", &json!("ivan@example.ru")),
            json!("i***@example.ru")
        );
        assert_eq!(
            mask("user", "user.name", &json!("Иван Петров")),
            json!("И***")
        );
        assert_eq!(
            mask("service", "service.name", &json!("Хостинг")),
            json!("Хостинг")
        );
        assert_eq!(
            mask("org", "billing.phone", &json!(79001234567u64)),
            json!("7***")
        );
    }

    #[test]
    fn long_values_are_cut_and_many_changes_summed_up() {
        let long = "я".repeat(MAX_VALUE_CHARS + 10);
        let shown = mask("service", "description", &json!(long));
        assert_eq!(shown.as_str().unwrap().chars().count(), MAX_VALUE_CHARS);
        let many: serde_json::Map<String, Value> = (0..MAX_CHANGES + 5)
            .map(|i| (format!("f{i:03}"), json!(i)))
            .collect();
        let got = changes("thing", None, Some(&Value::Object(many)));
        assert_eq!(got.len(), MAX_CHANGES + 1);
        assert_eq!(
            got.last().unwrap().after,
            Some(json!("5 more fields changed"))
        );
    }

    #[test]
    fn a_customers_action_is_on_its_own_behalf() {
        let org = OrgId::new();
        let mut ctx = context();
        ctx.actor = Actor {
            kind: ActorKind::User,
            id: Some("usr_1".into()),
            role: Some(Role::Customer),
            org: Some(org),
        };
        let at = Utc::now();
        let record = AuditRecord::new(&ctx, at, None, None, None, None);
        assert_eq!(record.on_behalf_of, Some(org));
        let staff = AuditRecord::new(&context(), at, None, None, None, None);
        assert_eq!(staff.on_behalf_of, None);
    }

    #[test]
    fn the_filter_matches_every_given_part_and_actions_by_their_beginning() {
        let object = ObjectRef::new("service", "HOST");
        let record = AuditRecord::new(
            &context(),
            Utc::now(),
            Some(object.clone()),
            None,
            None,
            None,
        );
        let mut filter = Filter {
            actor: Some("system:tests".into()),
            object: Some(object),
            action: Some("PUT /v1/things".into()),
            org: None,
        };
        assert!(filter.matches(&record));
        filter.action = Some("POST".into());
        assert!(!filter.matches(&record));
        filter.action = None;
        filter.org = Some(OrgId::new());
        assert!(!filter.matches(&record));
    }

    #[test]
    fn object_references_read_kind_colon_id_and_nothing_else() {
        assert_eq!(
            "order:ord_01".parse::<ObjectRef>(),
            Ok(ObjectRef::new("order", "ord_01"))
        );
        for bad in ["order", ":x", "order:", "a:b c", "a:b:c"] {
            assert!(bad.parse::<ObjectRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_csv_export_has_a_header_and_one_quoted_row_per_record() {
        let before = json!({"name": "a, b"});
        let after = json!({"name": "c \"d\""});
        let record = AuditRecord::new(
            &context(),
            Utc::now(),
            Some(ObjectRef::new("service", "HOST")),
            None,
            Some(&before),
            Some(&after),
        );
        let text = to_csv([&record]).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap().len(), CSV_COLUMNS.len());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][7], "PUT /v1/things/{id}");
        assert_eq!(&rows[0][9], "name: a, b → c \"d\"");
        assert_eq!(&rows[0][3], "system:tests");
    }

    #[test]
    fn retention_keeps_five_years_by_default_and_refuses_nonsense() {
        let now = "2031-06-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            Retention::default().first_kept_day(now),
            NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
        );
        assert!(Retention::days(0).is_err());
        assert_eq!(Retention::days(30).unwrap().in_days(), 30);
    }
}
