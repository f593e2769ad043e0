//! Switchyard's persistence adapters: one sea-orm connection serving SQLite, PostgreSQL or
//! MySQL/MariaDB (chosen at run time by the URL), the migrations, and the repositories that
//! implement the domain's storage ports.
//!
//! Driver errors never leave this crate: [`error::store_error`] turns every `DbErr` into the
//! domain's `StoreError`.

mod api_key_repo;
mod attempt_limiter;
mod blob_store;
mod call_log;
mod capability_repo;
mod catalog_file_repo;
mod category_repo;
mod conversation_repo;
mod database;
mod entity;
mod error;
mod file_repo;
mod key_repo;
mod limit_columns;
mod model_config_repo;
mod model_repo;
mod model_rows;
mod page;
mod redis_limits;
mod refresh_token_repo;
mod routing_source;
mod secret_store;
mod settings_repo;
mod supplier_repo;
mod transaction;
mod usage_store;
mod user_repo;

pub use api_key_repo::SqlApiKeyRepo;
pub use attempt_limiter::{InMemoryAttemptLimiter, SharedAttemptLimiter};
pub use blob_store::{ObjectBlobStore, S3Settings};
pub use call_log::{
    CallLogQueue, CallLogSettings, CallLogWriter, MAX_BATCH, SPILL_FILE, SqlCallLogs, call_log, write_batch_now,
};
pub use capability_repo::SqlCapabilityRepo;
pub use catalog_file_repo::SqlCatalogFileRepo;
pub use category_repo::SqlCategoryRepo;
pub use conversation_repo::SqlConversationRepo;
pub use database::{Backend, Database, DatabaseOptions, redact_url};
pub use error::PersistenceError;
pub use file_repo::SqlFileRepo;
pub use key_repo::SqlUpstreamKeyRepo;
pub use migration::MigrateCommand;
pub use model_config_repo::SqlModelConfigRepo;
pub use model_repo::SqlModelRepo;
pub use redis_limits::RedisLimitStore;
pub use refresh_token_repo::SqlRefreshTokenRepo;
pub use routing_source::SqlRoutingSource;
pub use secret_store::SqlSecretStore;
pub use settings_repo::SqlSettingsRepo;
pub use supplier_repo::SqlSupplierRepo;
pub use usage_store::SqlUsageStore;
pub use user_repo::SqlUserRepo;
