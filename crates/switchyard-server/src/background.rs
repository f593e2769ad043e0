//! Work that outlives its request (an answer stored after its client went away, a generated
//! title): spawned on the runtime and tracked, so shutdown waits for it before the pool closes.

use switchyard_domain::conversations::{Spawner, Task};
use tokio_util::task::TaskTracker;

/// Spawns the domain's background tasks and logs their failures.
#[derive(Debug, Clone)]
pub struct TrackedSpawner {
    tracker: TaskTracker,
    runtime: tokio::runtime::Handle,
}

impl TrackedSpawner {
    /// On the current runtime (call inside it).
    pub fn on_current_runtime() -> Self {
        Self {
            tracker: TaskTracker::new(),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Stops taking tasks and waits for those running (the supervisor's cancellation calls it).
    pub async fn drain(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Spawner for TrackedSpawner {
    fn spawn(&self, task: Task) {
        self.tracker.spawn_on(
            async move {
                if let Err(error) = task.await {
                    tracing::error!(%error, "a background task of a conversation failed");
                }
            },
            &self.runtime,
        );
    }
}
