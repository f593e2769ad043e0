//! Master-key rotation: every stored secret re-encrypted under a new key in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
};
use switchyard_domain::StoreError;
use switchyard_domain::catalog::upstream_key_slot;
use switchyard_domain::kernel::crypto::{KEY_CHECK_SETTING, SecretCipher};

use crate::entity::upstream_keys;
use crate::error::store_error;
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlSecretStore {
    db: DatabaseConnection,
}

impl SqlSecretStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Decrypts every stored secret with `old` and encrypts it with `new`, and replaces the key
    /// check, all in one transaction: readers see either every old value or every new one.
    /// Returns how many secrets were re-encrypted.
    pub async fn rotate(
        &self,
        old: &SecretCipher,
        new: &SecretCipher,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let keys = upstream_keys::Entity::find()
                .filter(upstream_keys::Column::Value.ne(""))
                .all(&txn)
                .await
                .map_err(store_error)?;
            let count = keys.len();
            for key in keys {
                let id = key.id.to_string();
                let plaintext = old
                    .decrypt(&key.value, upstream_key_slot(&id))
                    .map_err(|error| StoreError::Other(format!("upstream key {id}: {error}")))?;
                let ciphertext = new
                    .encrypt(&plaintext, upstream_key_slot(&id))
                    .map_err(|error| StoreError::Other(error.to_string()))?;
                let mut row = key.into_active_model();
                row.value = Set(ciphertext);
                row.updated_at = Set(now);
                row.update(&txn).await.map_err(store_error)?;
            }
            let check = new.key_check().map_err(|error| StoreError::Other(error.to_string()))?;
            crate::settings_repo::upsert(&txn, KEY_CHECK_SETTING, &check, now).await?;
            Ok(count)
        }
        .await;
        finish(txn, outcome).await
    }
}
