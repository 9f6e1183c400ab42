//! The providers' listings of one name prefix walked together in name order, a page at a time:
//! each name once, with the providers that list it. Memory holds one page per provider
//! whatever the number of names (a rebuild walks millions of segment and stream names).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::backend::Backend;

/// Names asked for per provider request.
const PAGE: usize = 1000;

/// One provider's place in the walk.
struct Cursor {
    backend: Arc<dyn Backend>,
    page: VecDeque<String>,
    after: Option<String>,
    exhausted: bool,
}

/// A walk over several providers' listings (each sorted by name, as [`Backend::list`] is).
pub(super) struct MergedListing {
    prefix: String,
    cursors: Vec<Cursor>,
    /// Providers whose listing failed, with why; they are left out of the rest of the walk.
    pub(super) unreachable: Vec<String>,
}

impl MergedListing {
    pub(super) fn new(providers: &[Arc<dyn Backend>], prefix: &str) -> Self {
        let cursors = providers
            .iter()
            .map(|b| Cursor { backend: Arc::clone(b), page: VecDeque::new(), after: None, exhausted: false })
            .collect();
        Self { prefix: prefix.to_owned(), cursors, unreachable: Vec::new() }
    }

    /// The next name and the providers that list it; `None` once every listing is done.
    pub(super) async fn next(&mut self) -> Option<(String, Vec<Arc<dyn Backend>>)> {
        self.refill().await;
        let smallest = self.cursors.iter().filter_map(|c| c.page.front()).min()?.clone();
        let mut holders = Vec::new();
        for c in &mut self.cursors {
            if c.page.front() == Some(&smallest) {
                c.page.pop_front();
                holders.push(Arc::clone(&c.backend));
            }
        }
        Some((smallest, holders))
    }

    /// Fetches the next page of every cursor that has run dry; drops failing providers.
    async fn refill(&mut self) {
        let prefix = self.prefix.clone();
        let mut failed = Vec::new();
        for (i, c) in self.cursors.iter_mut().enumerate() {
            if !c.page.is_empty() || c.exhausted {
                continue;
            }
            match c.backend.list(&prefix, c.after.as_deref(), PAGE).await {
                Ok(page) => {
                    // Only an empty page ends a listing: a provider may answer fewer than asked.
                    c.exhausted = page.is_empty();
                    c.after = page.last().map(|(name, _)| name.clone());
                    c.page.extend(page.into_iter().map(|(name, _)| name));
                }
                Err(e) => {
                    self.unreachable.push(format!("{}: {}", c.backend.id(), crate::report::chain(&e)));
                    failed.push(i);
                }
            }
        }
        for i in failed.into_iter().rev() {
            self.cursors.remove(i);
        }
    }
}
