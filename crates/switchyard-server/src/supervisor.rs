//! Runs background tasks and stops them in order: each task gets its own cancellation token;
//! shutdown cancels the most recently started first and waits for it (within a bound) before
//! cancelling the next, so a task can rely on everything started before it.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct Supervisor {
    tasks: Vec<Task>,
}

#[derive(Debug)]
struct Task {
    name: &'static str,
    token: CancellationToken,
    handle: JoinHandle<()>,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts `task`, which must return soon after its token is cancelled.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let token = CancellationToken::new();
        let handle = tokio::spawn(task(token.clone()));
        tracing::debug!(task = name, "background task started");
        self.tasks.push(Task { name, token, handle });
    }

    /// Stops every task, newest first, giving each at most `grace` to finish before aborting it.
    /// Returns the names of the tasks that had to be aborted or had panicked.
    pub async fn shutdown(self, grace: Duration) -> Vec<&'static str> {
        let mut failed = Vec::new();
        for task in self.tasks.into_iter().rev() {
            task.token.cancel();
            let mut handle = task.handle;
            match tokio::time::timeout(grace, &mut handle).await {
                Ok(Ok(())) => tracing::debug!(task = task.name, "background task stopped"),
                Ok(Err(error)) => {
                    tracing::error!(task = task.name, %error, "background task failed");
                    failed.push(task.name);
                }
                Err(_) => {
                    tracing::warn!(task = task.name, "background task did not stop in time; aborted");
                    handle.abort();
                    failed.push(task.name);
                }
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn tasks_stop_newest_first_and_stuck_ones_are_aborted() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut supervisor = Supervisor::new();
        for name in ["first", "second"] {
            let order = order.clone();
            supervisor.spawn(name, move |token| async move {
                token.cancelled().await;
                order.lock().unwrap_or_else(|p| p.into_inner()).push(name);
            });
        }
        supervisor.spawn("stuck", |_token| std::future::pending());
        let failed = supervisor.shutdown(Duration::from_millis(50)).await;
        assert_eq!(failed, vec!["stuck"]);
        assert_eq!(
            *order.lock().unwrap_or_else(|p| p.into_inner()),
            vec!["second", "first"]
        );
    }
}
