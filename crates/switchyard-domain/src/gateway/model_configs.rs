//! A user's own model configs (bring your own key), for their owner only: the key is sealed
//! before it reaches the store and never comes back; a custom endpoint is checked against the
//! server's own network when saved (and again at each connection, by the provider clients).

use std::sync::Arc;

use uuid::Uuid;

use crate::catalog::supplier::api_key_last4;
use crate::gateway::byok::{
    ConfigWriteError, EndpointPolicy, HostResolver, ModelConfig, ModelConfigInput, ModelConfigRepo, ModelConfigSpec,
    SealedUserKey, check_endpoint, user_key_slot,
};
use crate::kernel::crypto::SecretCipher;
use crate::kernel::error::DomainError;
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::ports::Clock;
use crate::kernel::principal::Principal;

/// The ports and settings of the model-config use cases.
#[derive(Debug, Clone)]
pub struct ModelConfigPorts {
    pub repo: Arc<dyn ModelConfigRepo>,
    pub resolver: Arc<dyn HostResolver>,
    pub clock: Arc<dyn Clock>,
    pub policy: EndpointPolicy,
}

#[derive(Debug)]
pub struct ModelConfigs {
    ports: ModelConfigPorts,
    cipher: SecretCipher,
}

fn write_error(error: ConfigWriteError) -> DomainError {
    match error {
        ConfigWriteError::ModelMissing => DomainError::validation("model_id", "no_such_model", "is not a live model"),
        ConfigWriteError::Missing => DomainError::NotFound { entity: "model config" },
        ConfigWriteError::Store(error) => error.into(),
    }
}

impl ModelConfigs {
    pub fn new(ports: ModelConfigPorts, cipher: SecretCipher) -> Self {
        Self { ports, cipher }
    }

    fn seal(&self, id: Uuid, key: &str) -> Result<SealedUserKey, DomainError> {
        let last4 = api_key_last4(key)?;
        let ciphertext = self
            .cipher
            .encrypt(key.trim(), user_key_slot(&id.to_string()))
            .map_err(|error| DomainError::Internal(error.to_string()))?;
        Ok(SealedUserKey { ciphertext, last4 })
    }

    async fn spec(&self, mut input: ModelConfigInput) -> Result<ModelConfigSpec, DomainError> {
        let endpoint = match input.custom_endpoint.take().filter(|raw| !raw.trim().is_empty()) {
            Some(raw) => Some(check_endpoint(&raw, &self.ports.policy, self.ports.resolver.as_ref()).await?),
            None => None,
        };
        ModelConfigSpec::parse(input, endpoint)
    }

    pub async fn create(
        &self,
        owner: &Principal,
        input: ModelConfigInput,
        key: &str,
    ) -> Result<ModelConfig, DomainError> {
        let spec = self.spec(input).await?;
        let id = Uuid::now_v7();
        let sealed = self.seal(id, key)?;
        self.ports
            .repo
            .create(id, owner.user_id(), &spec, &sealed, self.ports.clock.now())
            .await
            .map_err(write_error)
    }

    pub async fn get(&self, owner: &Principal, id: Uuid) -> Result<ModelConfig, DomainError> {
        self.ports
            .repo
            .get(owner.user_id(), id)
            .await?
            .ok_or(DomainError::NotFound { entity: "model config" })
    }

    pub async fn list(&self, owner: &Principal, page: PageRequest) -> Result<Page<ModelConfig>, DomainError> {
        Ok(self.ports.repo.list(owner.user_id(), page).await?)
    }

    /// Replaces the fields, and the key when `key` is given.
    pub async fn replace(
        &self,
        owner: &Principal,
        id: Uuid,
        input: ModelConfigInput,
        key: Option<&str>,
    ) -> Result<ModelConfig, DomainError> {
        let spec = self.spec(input).await?;
        let sealed = key.map(|key| self.seal(id, key)).transpose()?;
        self.ports
            .repo
            .update(owner.user_id(), id, &spec, sealed.as_ref(), self.ports.clock.now())
            .await
            .map_err(write_error)
    }

    pub async fn delete(&self, owner: &Principal, id: Uuid) -> Result<(), DomainError> {
        self.ports.repo.delete(owner.user_id(), id).await.map_err(write_error)
    }
}
