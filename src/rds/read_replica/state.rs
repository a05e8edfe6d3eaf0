//! The replication side of a DB instance, shared by its clones: whether it is a read replica's
//! (set when replication is set up, cleared when it is promoted) and what was last sampled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwapOption;

use super::status::ReplicaObserved;

/// Cheap to clone; clones share the state. Empty for an instance that is not a read replica.
#[derive(Debug, Clone, Default)]
pub struct ReplicaCell {
    observed: Arc<ArcSwapOption<ReplicaObserved>>,
    /// Set while a promotion runs (one at a time; the sampler stands aside).
    promoting: Arc<AtomicBool>,
}

impl ReplicaCell {
    /// The last sample, `None` when the instance does not replicate.
    pub fn get(&self) -> Option<ReplicaObserved> {
        self.observed.load_full().map(|o| (*o).clone())
    }

    pub fn set(&self, observed: ReplicaObserved) {
        self.observed.store(Some(Arc::new(observed)));
    }

    /// The instance no longer replicates (promoted).
    pub fn clear(&self) {
        self.observed.store(None);
    }

    /// Marks a promotion as begun; `false` when one already runs.
    pub fn begin_promotion(&self) -> bool {
        !self.promoting.swap(true, Ordering::SeqCst)
    }

    pub fn end_promotion(&self) {
        self.promoting.store(false, Ordering::SeqCst);
    }

    pub fn is_promoting(&self) -> bool {
        self.promoting.load(Ordering::SeqCst)
    }
}
