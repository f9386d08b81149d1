//! (being moved here from the HTTP handlers)

pub mod ingest;

use crate::Context;

#[derive(Clone)]
pub struct Usage {
    #[allow(dead_code)]
    ctx: Context,
}

impl Usage {
    pub(crate) fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}
