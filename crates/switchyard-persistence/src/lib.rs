//! Switchyard's persistence adapters: one sea-orm connection serving SQLite, PostgreSQL or
//! MySQL/MariaDB (chosen at run time by the URL), the migrations, and the repositories that
//! implement the domain's storage ports.
//!
//! Driver errors never leave this crate: [`error::store_error`] turns every `DbErr` into the
//! domain's `StoreError`.

mod database;
mod entity;
mod error;
mod settings_repo;

pub use database::{Backend, Database, DatabaseOptions, redact_url};
pub use error::PersistenceError;
pub use migration::MigrateCommand;
pub use settings_repo::SqlSettingsRepo;
