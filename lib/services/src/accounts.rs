//! (being moved here from the HTTP handlers)

use crate::Context;

#[derive(Clone)]
pub struct Accounts {
    #[allow(dead_code)]
    ctx: Context,
}

impl Accounts {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
