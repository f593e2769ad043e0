//! `FileRepo` on sea-orm: uploaded files' records, scoped to their owner.

use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use switchyard_domain::StoreError;
use switchyard_domain::UserId;
use switchyard_domain::conversations::{FileId, FileRepo, MediaType, StoredFile};
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use tracing::instrument;

use crate::entity::{files, message_files};
use crate::error::store_error;
use crate::key_repo::sum;
use crate::page::paginate;
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlFileRepo {
    db: DatabaseConnection,
}

impl SqlFileRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

pub(crate) fn stored(row: files::Model) -> Result<StoredFile, StoreError> {
    Ok(StoredFile {
        id: FileId(row.id),
        user_id: UserId(row.user_id),
        media_type: MediaType::parse(&row.media_type)
            .map_err(|_| StoreError::Other(format!("files.media_type of {}", row.id)))?,
        name: row.name,
        size: row.size,
        sha256: row.sha256,
        storage_key: row.storage_key,
        created_at: row.created_at,
    })
}

#[derive(Debug, FromQueryResult)]
struct Usage {
    count: i64,
    bytes: i64,
}

#[async_trait]
impl FileRepo for SqlFileRepo {
    #[instrument(skip_all, fields(user_id = %file.user_id, file_id = %file.id))]
    async fn create(&self, file: &StoredFile) -> Result<(), StoreError> {
        let row = files::ActiveModel {
            id: Set(file.id.0),
            user_id: Set(file.user_id.0),
            name: Set(file.name.clone()),
            media_type: Set(file.media_type.as_str().to_owned()),
            size: Set(file.size),
            sha256: Set(file.sha256.clone()),
            storage_key: Set(file.storage_key.clone()),
            created_at: Set(file.created_at),
        };
        files::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn usage(&self, user: UserId) -> Result<(u64, u64), StoreError> {
        let usage = files::Entity::find()
            .select_only()
            .column_as(files::Column::Id.count(), "count")
            .column_as(sum(self.db.get_database_backend(), "size"), "bytes")
            .filter(files::Column::UserId.eq(user.0))
            .into_model::<Usage>()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        let (count, bytes) = usage.map_or((0, 0), |usage| (usage.count, usage.bytes));
        Ok((u64::try_from(count).unwrap_or(0), u64::try_from(bytes).unwrap_or(0)))
    }

    async fn list(&self, user: UserId, page: PageRequest) -> Result<Page<StoredFile>, StoreError> {
        let select = files::Entity::find().filter(files::Column::UserId.eq(user.0));
        let rows = paginate(select, files::Column::CreatedAt, files::Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let items = rows.into_iter().map(stored).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, page.limit, |file| Cursor {
            created_at: file.created_at,
            id: file.id.0,
        }))
    }

    async fn get(&self, user: UserId, id: FileId) -> Result<Option<StoredFile>, StoreError> {
        files::Entity::find_by_id(id.0)
            .filter(files::Column::UserId.eq(user.0))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(stored)
            .transpose()
    }

    async fn get_many(&self, user: UserId, ids: &[FileId]) -> Result<Vec<StoredFile>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        files::Entity::find()
            .filter(files::Column::UserId.eq(user.0))
            .filter(files::Column::Id.is_in(ids.iter().map(|id| id.0)))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(stored)
            .collect()
    }

    async fn delete(&self, user: UserId, id: FileId) -> Result<Option<StoredFile>, StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let Some(row) = files::Entity::find_by_id(id.0)
                .filter(files::Column::UserId.eq(user.0))
                .lock_exclusive()
                .one(&txn)
                .await
                .map_err(store_error)?
            else {
                return Ok(None);
            };
            message_files::Entity::delete_many()
                .filter(message_files::Column::FileId.eq(id.0))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            files::Entity::delete_by_id(id.0)
                .exec(&txn)
                .await
                .map_err(store_error)?;
            stored(row).map(Some)
        }
        .await;
        finish(txn, outcome).await
    }
}
