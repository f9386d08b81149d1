//! (being moved here from the HTTP handlers)

use crate::Context;

#[derive(Clone)]
pub struct Orders {
    #[allow(dead_code)]
    ctx: Context,
}

impl Orders {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
