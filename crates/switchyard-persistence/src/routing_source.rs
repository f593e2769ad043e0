//! `RoutingSource` on sea-orm: every live, active model with its details, every supplier and
//! the active upstream keys (still encrypted), in a fixed number of queries however large the
//! catalog — the routing snapshot is rebuilt from these when the catalog changes.

use async_trait::async_trait;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use switchyard_domain::StoreError;
use switchyard_domain::catalog::SupplierId;
use switchyard_domain::gateway::{RoutingRows, RoutingSource, StoredUpstreamKey};
use tracing::instrument;

use crate::entity::{models, suppliers, upstream_keys, user_model_configs};
use crate::error::store_error;
use crate::model_config_repo::stored;
use crate::model_repo::details;
use crate::model_rows::assemble;
use crate::supplier_repo::{ACTIVE, ERROR, to_domain};

#[derive(Debug, Clone)]
pub struct SqlRoutingSource {
    db: DatabaseConnection,
}

impl SqlRoutingSource {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl RoutingSource for SqlRoutingSource {
    #[instrument(skip(self), err)]
    async fn routing_rows(&self) -> Result<RoutingRows, StoreError> {
        let db = &self.db;
        let rows = models::Entity::find()
            .filter(models::Column::DeletedAt.is_null())
            .filter(models::Column::IsActive.eq(true))
            .order_by_asc(models::Column::Name)
            .all(db)
            .await
            .map_err(store_error)?;
        let models = details(db, assemble(db, rows).await?).await?;
        let suppliers = suppliers::Entity::find()
            .filter(suppliers::Column::DeletedAt.is_null())
            .all(db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| to_domain(row, None))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = upstream_keys::Entity::find()
            .filter(upstream_keys::Column::Status.is_in([ACTIVE, ERROR]))
            .order_by_desc(upstream_keys::Column::CreatedAt)
            .all(db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| StoredUpstreamKey {
                id: row.id,
                supplier_id: SupplierId(row.supplier_id),
                ciphertext: row.value,
                weight: row.weight,
                error: row.status == ERROR,
                status_reason: row.status_reason,
                cooldown_until: row.cooldown_until,
                updated_at: row.updated_at,
            })
            .collect();
        let configs = user_model_configs::Entity::find()
            .filter(user_model_configs::Column::IsEnabled.eq(true))
            .all(db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(stored)
            .collect();
        Ok(RoutingRows {
            models,
            suppliers,
            keys,
            configs,
        })
    }
}
