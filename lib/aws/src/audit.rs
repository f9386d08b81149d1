//! The audit scope: what a state-changing request or system task tells the store about
//! itself, so that the store writes its audit record **in the transaction of its first
//! change** — whichever write that is, through whichever store method.
//!
//! An entrypoint runs its work inside [`scope`] with the [`Context`] it knows (the route or
//! task, the request id, the client address, the actor once authenticated). The store's write
//! primitives ask [`claim`] for the record before they send: the first write of the scope
//! carries it (a single `PutItem`/`UpdateItem`/`DeleteItem` becomes a two-action transaction),
//! later writes do not. A write that fails hands the record back ([`settle`]), so a retry
//! carries it again; the record's id stays the same.
//!
//! The "before" of a change is what the scope read of the same item ([`note_read`]: the
//! store's consistent `GetItem`s, which the services do before every read-modify-write); the
//! "after" is what the write puts. A use case can name its object itself ([`describe`]), say
//! that it deliberately changed nothing ([`unchanged`]), or record a change that is not a
//! table write (usage enqueued to SQS) with [`note`].
//!
//! Writes that are bookkeeping rather than actions — idempotency records, sign-in throttling,
//! usage counting, the events feed — use primitives that never claim the record.

use std::future::Future;
use std::sync::{Arc, Mutex};

use kopek_domain::audit::{Actor, Context, ObjectRef};
use kopek_domain::clock::Clock;
use kopek_domain::ids::{AuditId, OrgId};
use serde_json::Value;

/// How many items a scope remembers having read (the most a use case reads before it
/// writes is far below).
const MAX_READS: usize = 32;

tokio::task_local! {
    static SCOPE: Arc<Mutex<Scope>>;
}

/// What became of a scope's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written with the scope's first change, in its transaction.
    Written(AuditId),
    /// Written on its own: the action changed nothing in the table (it queued work, filed a
    /// file) or said so only by succeeding.
    WrittenAlone(AuditId),
    /// The use case said it changed nothing (a preview, an unchanged upsert).
    Unchanged,
    /// Nothing was written at all.
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    /// Sent with a write whose outcome is not known yet; concurrent writes leave it alone.
    InFlight,
    Written,
    WrittenAlone,
    Unchanged,
}

struct Scope {
    context: Context,
    clock: Arc<dyn Clock>,
    id: AuditId,
    state: State,
    object: Option<ObjectRef>,
    on_behalf_of: Option<OrgId>,
    /// Changes the use case recorded itself ([`note`]).
    notes: serde_json::Map<String, Value>,
    /// Items read in this scope, by key (`PK`, `SK`), as JSON.
    reads: Vec<((String, String), Value)>,
}

/// Runs `work` as one audited action of `context`, dated by `clock`; what became of its
/// record comes back with the result.
pub async fn scope<F: Future>(
    context: Context,
    clock: Arc<dyn Clock>,
    work: F,
) -> (F::Output, Outcome) {
    let scope = Arc::new(Mutex::new(Scope {
        context,
        clock,
        id: AuditId::new(),
        state: State::Waiting,
        object: None,
        on_behalf_of: None,
        notes: serde_json::Map::new(),
        reads: Vec::new(),
    }));
    // The work on the heap: a whole request's future, held here by value, would otherwise
    // deepen every caller's stack frames.
    let output = SCOPE.scope(scope.clone(), Box::pin(work)).await;
    let scope = lock(&scope);
    let outcome = match scope.state {
        State::Written => Outcome::Written(scope.id),
        State::WrittenAlone => Outcome::WrittenAlone(scope.id),
        State::Unchanged => Outcome::Unchanged,
        State::Waiting | State::InFlight => Outcome::Nothing,
    };
    (output, outcome)
}

fn lock(scope: &Mutex<Scope>) -> std::sync::MutexGuard<'_, Scope> {
    scope.lock().unwrap_or_else(|e| e.into_inner())
}

fn with<R>(f: impl FnOnce(&mut Scope) -> R) -> Option<R> {
    SCOPE.try_with(|scope| f(&mut lock(scope))).ok()
}

/// Whether the current task acts inside an audit scope.
pub fn active() -> bool {
    with(|_| ()).is_some()
}

/// Who acts, once known (after authentication, or a sign-in's user).
pub fn set_actor(actor: Actor) {
    with(|s| s.context.actor = actor);
}

/// The actor the current scope names, if any.
pub fn actor() -> Option<Actor> {
    with(|s| s.context.actor.clone())
}

/// Names the object the action is about and the organisation it concerns, where the first
/// write would not say it well (a counter before the invoice it numbers).
pub fn describe(object: ObjectRef, on_behalf_of: Option<OrgId>) {
    with(|s| {
        s.object = Some(object);
        if on_behalf_of.is_some() {
            s.on_behalf_of = on_behalf_of;
        }
    });
}

/// The use case deliberately changed nothing (a preview, a repeat that matched).
pub fn unchanged() {
    with(|s| {
        if s.state == State::Waiting {
            s.state = State::Unchanged;
        }
    });
}

/// Records `field`'s new value for a change that is no table write of its own.
pub fn note(field: &str, value: Value) {
    with(|s| {
        s.notes.insert(field.to_owned(), value);
    });
}

/// Remembers an item read in this scope: the "before" of a write to it.
pub(crate) fn note_read(key: (String, String), item: impl FnOnce() -> Option<Value>) {
    with(|s| {
        if s.state != State::Waiting || s.reads.len() >= MAX_READS {
            return;
        }
        if let Some(value) = item() {
            s.reads.retain(|(k, _)| *k != key);
            s.reads.push((key, value));
        }
    });
}

/// Whether the current scope still waits for its record (the next write will carry it).
pub fn waiting() -> bool {
    with(|s| s.state == State::Waiting).unwrap_or(false)
}

/// What the store needs to write the record, handed out once: the context, its id and time,
/// and what the use case said about its object.
pub(crate) struct Claim {
    pub context: Context,
    pub id: AuditId,
    pub at: chrono::DateTime<chrono::Utc>,
    pub object: Option<ObjectRef>,
    pub on_behalf_of: Option<OrgId>,
    pub notes: serde_json::Map<String, Value>,
    /// The "before" of an item read in the scope, by its key.
    pub reads: Vec<((String, String), Value)>,
}

/// The record to write with the write about to be sent, if the scope still waits for one.
pub(crate) fn claim() -> Option<Claim> {
    with(|s| {
        if s.state != State::Waiting {
            return None;
        }
        s.state = State::InFlight;
        Some(Claim {
            context: s.context.clone(),
            id: s.id,
            at: s.clock.now(),
            object: s.object.clone(),
            on_behalf_of: s.on_behalf_of,
            notes: s.notes.clone(),
            reads: s.reads.clone(),
        })
    })
    .flatten()
}

/// After the write that carried a claimed record: written, or waiting again.
pub(crate) fn settle(written: bool) {
    settle_as(written, State::Written);
}

/// After the record was written on its own (`Store::audit_now`): written, or waiting again.
pub(crate) fn settle_alone(written: bool) {
    settle_as(written, State::WrittenAlone);
}

fn settle_as(written: bool, done: State) {
    with(|s| {
        if s.state == State::InFlight {
            s.state = if written { done } else { State::Waiting };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use kopek_domain::clock::SystemClock;

    fn context() -> Context {
        Context {
            actor: Actor::anonymous(),
            action: "POST /v1/things".into(),
            request_id: None,
            client: None,
        }
    }

    #[tokio::test]
    async fn the_first_write_claims_the_record_and_a_failed_one_hands_it_back() {
        let (ids, outcome) = scope(context(), Arc::new(SystemClock), async {
            let first = claim().expect("a waiting scope hands out its record");
            assert!(claim().is_none(), "not twice while in flight");
            settle(false);
            let again = claim().expect("a failed write hands it back");
            assert_eq!(first.id, again.id, "the same record");
            settle(true);
            assert!(claim().is_none(), "written once");
            first.id
        })
        .await;
        assert_eq!(outcome, Outcome::Written(ids));
    }

    #[tokio::test]
    async fn outside_a_scope_nothing_is_claimed_and_a_quiet_scope_says_so() {
        assert!(claim().is_none());
        assert!(!active());
        let ((), outcome) = scope(context(), Arc::new(SystemClock), async {}).await;
        assert_eq!(outcome, Outcome::Nothing);
        let ((), outcome) = scope(context(), Arc::new(SystemClock), async { unchanged() }).await;
        assert_eq!(outcome, Outcome::Unchanged);
    }
}
