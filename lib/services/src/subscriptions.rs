//! (being moved here from the HTTP handlers)

use crate::Context;

#[derive(Clone)]
pub struct Subscriptions {
    #[allow(dead_code)]
    ctx: Context,
}

impl Subscriptions {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
