//! bcrypt off the async executor: each hash runs on a blocking thread, and at most
//! `auth.max_concurrent_hashes` run at once, so a login storm cannot starve other requests.

use std::sync::Arc;

use async_trait::async_trait;
use switchyard_domain::DomainError;
use switchyard_domain::accounts::PasswordHasher;
use switchyard_domain::accounts::password::{Password, bcrypt_hash, bcrypt_verify};
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
pub struct BlockingBcrypt {
    cost: u32,
    permits: Arc<Semaphore>,
}

impl BlockingBcrypt {
    pub fn new(cost: u32, max_concurrent: usize) -> Self {
        Self {
            cost,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, DomainError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|error| DomainError::Internal(format!("hashing is shut down: {error}")))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|error| DomainError::Internal(format!("a hashing thread failed: {error}")))
    }
}

#[async_trait]
impl PasswordHasher for BlockingBcrypt {
    async fn hash(&self, password: &Password) -> Result<String, DomainError> {
        let password = password.clone();
        let cost = self.cost;
        self.run(move || bcrypt_hash(&password, cost)).await?
    }

    async fn verify(&self, password: &Password, hash: &str) -> Result<bool, DomainError> {
        let password = password.clone();
        let hash = hash.to_owned();
        self.run(move || bcrypt_verify(&password, &hash)).await
    }
}
