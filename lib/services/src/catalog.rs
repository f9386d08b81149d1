//! (being moved here from the HTTP handlers)

use crate::Context;

#[derive(Clone)]
pub struct Catalog {
    #[allow(dead_code)]
    ctx: Context,
}

impl Catalog {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
