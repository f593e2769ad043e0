//! `SettingsRepo` on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait};
use switchyard_domain::kernel::settings::Setting;
use switchyard_domain::{SettingKey, SettingsRepo, StoreError};
use tracing::instrument;

use crate::entity::system_settings;
use crate::error::store_error;

/// Settings kept in the `system_settings` table.
#[derive(Debug, Clone)]
pub struct SqlSettingsRepo {
    db: DatabaseConnection,
}

impl SqlSettingsRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Writes a setting, replacing any value it had, on any connection or transaction.
pub(crate) async fn upsert(
    db: &impl ConnectionTrait,
    key: &str,
    value: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = system_settings::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value.to_owned()),
        updated_at: Set(at),
    };
    system_settings::Entity::insert(row)
        .on_conflict(
            OnConflict::column(system_settings::Column::Key)
                .update_columns([system_settings::Column::Value, system_settings::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(store_error)?;
    Ok(())
}

fn to_domain(row: system_settings::Model) -> Result<Setting, StoreError> {
    let key = SettingKey::parse(&row.key).map_err(|error| StoreError::Other(error.to_string()))?;
    Ok(Setting {
        key,
        value: row.value,
        updated_at: row.updated_at,
    })
}

#[async_trait]
impl SettingsRepo for SqlSettingsRepo {
    #[instrument(skip_all, fields(key = key.as_str()))]
    async fn get(&self, key: &SettingKey) -> Result<Option<Setting>, StoreError> {
        system_settings::Entity::find_by_id(key.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(to_domain)
            .transpose()
    }

    #[instrument(skip_all, fields(key = key.as_str()))]
    async fn put(&self, key: &SettingKey, value: &str, at: DateTime<Utc>) -> Result<Setting, StoreError> {
        upsert(&self.db, key.as_str(), value, at).await?;
        self.get(key)
            .await?
            .ok_or_else(|| StoreError::Other("setting vanished right after it was written".to_owned()))
    }
}
