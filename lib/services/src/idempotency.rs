//! (being moved here from the HTTP handlers)

use crate::Context;

#[derive(Clone)]
pub struct Idempotency {
    #[allow(dead_code)]
    ctx: Context,
}

impl Idempotency {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
