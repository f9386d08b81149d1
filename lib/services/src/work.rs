//! (being moved here from the HTTP handlers)

use crate::Context;

#[derive(Clone)]
pub struct Work {
    #[allow(dead_code)]
    ctx: Context,
}

impl Work {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
