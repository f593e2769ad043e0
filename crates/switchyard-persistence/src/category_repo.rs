//! `CategoryRepo` on sea-orm. Every write that looks at the tree first locks all its rows (the
//! tree is small), so two concurrent moves cannot together make a cycle. Deleting a category
//! with children or models needs `reassign` (they move to its parent) or is refused.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use switchyard_domain::StoreError;
use switchyard_domain::catalog::{CatalogWriteError, CategoryRepo};
use switchyard_domain::catalog::{Category, CategoryId, CategorySpec, DeleteMode, would_cycle};
use switchyard_domain::kernel::patch::Revise;
use uuid::Uuid;

use crate::entity::{categories, model_categories};
use crate::error::store_error;
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlCategoryRepo {
    db: DatabaseConnection,
}

impl SqlCategoryRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

pub(crate) fn to_domain(row: categories::Model) -> Category {
    Category {
        id: CategoryId(row.id),
        spec: CategorySpec {
            name: row.name,
            display_name: row.display_name,
            description: row.description,
            category_type: row.category_type,
            parent_id: row.parent_id.map(CategoryId),
            is_active: row.is_active,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
    }
}

fn parent_key(parent: Option<CategoryId>) -> String {
    parent.map(|parent| parent.0.to_string()).unwrap_or_default()
}

pub(crate) fn write_spec(row: &mut categories::ActiveModel, spec: &CategorySpec) {
    row.parent_id = Set(spec.parent_id.map(|parent| parent.0));
    row.parent_key = Set(parent_key(spec.parent_id));
    row.name = Set(spec.name.clone());
    row.display_name = Set(spec.display_name.clone());
    row.description = Set(spec.description.clone());
    row.category_type = Set(spec.category_type.clone());
    row.is_active = Set(spec.is_active);
}

/// Every row, locked for the rest of the transaction, by id.
async fn lock_tree(txn: &DatabaseTransaction) -> Result<HashMap<Uuid, categories::Model>, StoreError> {
    let rows = categories::Entity::find()
        .order_by_asc(categories::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

fn live_parent(tree: &HashMap<Uuid, categories::Model>, parent: Option<CategoryId>) -> Result<(), CatalogWriteError> {
    match parent {
        None => Ok(()),
        Some(parent) => match tree.get(&parent.0) {
            Some(row) if row.deleted_at.is_none() => Ok(()),
            _ => Err(CatalogWriteError::ParentMissing),
        },
    }
}

/// Moves the models of a category being deleted to its parent (at the root they simply leave it).
async fn reassign_models(
    txn: &DatabaseTransaction,
    category: Uuid,
    parent: Option<Uuid>,
    models: Vec<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if models.is_empty() {
        return Ok(());
    }
    if let Some(parent) = parent {
        let already: Vec<Uuid> = model_categories::Entity::find()
            .filter(model_categories::Column::CategoryId.eq(parent))
            .filter(model_categories::Column::ModelId.is_in(models.clone()))
            .all(txn)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|link| link.model_id)
            .collect();
        for model in models.into_iter().filter(|model| !already.contains(model)) {
            model_categories::Entity::insert(model_categories::ActiveModel {
                model_id: Set(model),
                category_id: Set(parent),
                created_at: Set(now),
            })
            .exec_without_returning(txn)
            .await
            .map_err(store_error)?;
        }
    }
    model_categories::Entity::delete_many()
        .filter(model_categories::Column::CategoryId.eq(category))
        .exec(txn)
        .await
        .map_err(store_error)?;
    Ok(())
}

async fn reload(txn: &DatabaseTransaction, id: CategoryId) -> Result<Category, CatalogWriteError> {
    categories::Entity::find_by_id(id.0)
        .one(txn)
        .await
        .map_err(store_error)?
        .map(to_domain)
        .ok_or(CatalogWriteError::Store(StoreError::NotFound))
}

#[async_trait]
impl CategoryRepo for SqlCategoryRepo {
    async fn create(
        &self,
        id: CategoryId,
        spec: &CategorySpec,
        now: DateTime<Utc>,
    ) -> Result<Category, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let tree = lock_tree(&txn).await?;
            live_parent(&tree, spec.parent_id)?;
            let mut row = categories::ActiveModel {
                id: Set(id.0),
                live_key: Set(String::new()),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                ..Default::default()
            };
            write_spec(&mut row, spec);
            categories::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(store_error)?;
            reload(&txn, id).await
        }
        .await;
        finish(txn, outcome).await
    }

    async fn get(&self, id: CategoryId) -> Result<Option<Category>, StoreError> {
        Ok(categories::Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(to_domain))
    }

    async fn all(&self, include_deleted: bool) -> Result<Vec<Category>, StoreError> {
        let mut select = categories::Entity::find();
        if !include_deleted {
            select = select.filter(categories::Column::DeletedAt.is_null());
        }
        Ok(select
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(to_domain)
            .collect())
    }

    async fn update(
        &self,
        id: CategoryId,
        revise: Revise<'_, CategorySpec>,
        now: DateTime<Utc>,
    ) -> Result<Category, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let tree = lock_tree(&txn).await?;
            let current = tree
                .get(&id.0)
                .filter(|row| row.deleted_at.is_none())
                .ok_or(CatalogWriteError::Store(StoreError::NotFound))?;
            let spec = &revise(&to_domain(current.clone()).spec).map_err(CatalogWriteError::Rejected)?;
            live_parent(&tree, spec.parent_id)?;
            let parent_of = |node: CategoryId| tree.get(&node.0).and_then(|row| row.parent_id).map(CategoryId);
            if would_cycle(id, spec.parent_id, parent_of) {
                return Err(CatalogWriteError::Cycle);
            }
            let mut row = current.clone().into_active_model();
            write_spec(&mut row, spec);
            row.updated_at = Set(now);
            row.update(&txn).await.map_err(store_error)?;
            reload(&txn, id).await
        }
        .await;
        finish(txn, outcome).await
    }

    async fn delete(
        &self,
        id: CategoryId,
        mode: DeleteMode,
        now: DateTime<Utc>,
    ) -> Result<Category, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let tree = lock_tree(&txn).await?;
            let current = tree
                .get(&id.0)
                .filter(|row| row.deleted_at.is_none())
                .ok_or(CatalogWriteError::Store(StoreError::NotFound))?;
            let has_children = tree
                .values()
                .any(|row| row.parent_id == Some(id.0) && row.deleted_at.is_none());
            let models: Vec<Uuid> = model_categories::Entity::find()
                .filter(model_categories::Column::CategoryId.eq(id.0))
                .all(&txn)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|link| link.model_id)
                .collect();
            if (has_children || !models.is_empty()) && mode == DeleteMode::Refuse {
                return Err(CatalogWriteError::NotEmpty);
            }
            reassign_models(&txn, id.0, current.parent_id, models, now).await?;
            if has_children {
                categories::Entity::update_many()
                    .col_expr(categories::Column::ParentId, Expr::value(current.parent_id))
                    .col_expr(categories::Column::ParentKey, Expr::value(current.parent_key.clone()))
                    .col_expr(categories::Column::UpdatedAt, Expr::value(now))
                    .filter(categories::Column::ParentId.eq(id.0))
                    .filter(categories::Column::DeletedAt.is_null())
                    .exec(&txn)
                    .await
                    .map_err(store_error)?;
            }
            let mut row = current.clone().into_active_model();
            row.deleted_at = Set(Some(now));
            row.live_key = Set(id.0.to_string());
            row.updated_at = Set(now);
            row.update(&txn).await.map_err(store_error)?;
            reload(&txn, id).await
        }
        .await;
        finish(txn, outcome).await
    }

    async fn restore(&self, id: CategoryId, now: DateTime<Utc>) -> Result<Category, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let tree = lock_tree(&txn).await?;
            let current = tree.get(&id.0).ok_or(CatalogWriteError::Store(StoreError::NotFound))?;
            live_parent(&tree, current.parent_id.map(CategoryId))?;
            let mut row = current.clone().into_active_model();
            row.deleted_at = Set(None);
            row.live_key = Set(String::new());
            row.updated_at = Set(now);
            row.update(&txn).await.map_err(store_error)?;
            reload(&txn, id).await
        }
        .await;
        finish(txn, outcome).await
    }
}
