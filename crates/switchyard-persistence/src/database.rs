//! Opening the database: backend detection, pool settings, per-backend session options,
//! migrations, readiness probing and pool statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use migration::{MigrateCommand, Migrator, MigratorTrait};
use sea_orm::sqlx::mysql::MySqlConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use switchyard_domain::{DependencyHealth, HealthProbe, PoolStats, StoreError};
use tracing::instrument;

use crate::error::PersistenceError;

/// Which database server a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    /// Detects the backend from the URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, PersistenceError> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            _ => Err(PersistenceError::UnsupportedUrl { url: redact_url(url) }),
        }
    }

    /// The short name used in logs, metrics and the readiness report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }
}

/// Hides the password of a URL (`scheme://user:secret@host` → `scheme://user:***@host`) so it can be logged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// How to open the database. Plain values: the server crate fills them from configuration.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    pub url: String,
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    /// How long a SQLite writer waits for the lock before giving up with `SQLITE_BUSY`.
    pub sqlite_busy_timeout: Duration,
}

impl DatabaseOptions {
    /// Defaults suited to tests and small installations.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            min_connections: 0,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(600),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// An open connection pool to one of the three backends.
#[derive(Debug, Clone)]
pub struct Database {
    connection: DatabaseConnection,
    backend: Backend,
    probe_timeout: Duration,
    /// Statements run through this pool (for `switchyard_db_queries_total`).
    queries: Arc<AtomicU64>,
}

impl Database {
    /// Opens a pool. SQLite runs in WAL mode with foreign keys on and creates its file when
    /// missing; MySQL/MariaDB sessions use `utf8mb4` with the `utf8mb4_bin` collation.
    #[instrument(skip_all, fields(backend))]
    pub async fn connect(options: &DatabaseOptions) -> Result<Self, PersistenceError> {
        let backend = Backend::from_url(&options.url)?;
        tracing::Span::current().record("backend", backend.name());
        let mut connect = ConnectOptions::new(options.url.clone());
        connect
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .connect_timeout(options.connect_timeout)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .sqlx_logging(false);
        let busy_timeout = options.sqlite_busy_timeout;
        connect.map_sqlx_sqlite_opts(move |sqlite: SqliteConnectOptions| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(busy_timeout)
        });
        connect.map_sqlx_mysql_opts(|mysql: MySqlConnectOptions| mysql.charset("utf8mb4").collation("utf8mb4_bin"));
        let mut connection = sea_orm::Database::connect(connect)
            .await
            .map_err(|error| PersistenceError::Connect {
                backend: backend.name(),
                url: redact_url(&options.url),
                message: error.to_string(),
            })?;
        // Every clone of the connection (each repository's) and every transaction begun from it
        // counts its statements here.
        let queries = Arc::new(AtomicU64::new(0));
        let counter = queries.clone();
        connection.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Self {
            connection,
            backend,
            probe_timeout: options.acquire_timeout.min(Duration::from_secs(2)),
            queries,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The sea-orm connection, for the repositories of this crate and for tests.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Applies every pending migration and returns how many were applied.
    #[instrument(skip_all, fields(backend = self.backend.name()))]
    pub async fn migrate_up(&self) -> Result<usize, PersistenceError> {
        let pending = Migrator::get_pending_migrations(&self.connection)
            .await
            .map_err(|error| PersistenceError::Migration(error.to_string()))?
            .len();
        Migrator::up(&self.connection, None)
            .await
            .map_err(|error| PersistenceError::Migration(error.to_string()))?;
        Ok(pending)
    }

    /// Runs one of the `migrate` subcommands and returns its report.
    pub async fn run_migration_command(&self, command: &MigrateCommand) -> Result<String, PersistenceError> {
        migration::command::run(&self.connection, command)
            .await
            .map_err(|error| PersistenceError::Migration(error.to_string()))
    }

    /// Closes every connection of the pool, waiting for those in use to be returned.
    pub async fn close(&self) {
        if let Err(error) = self.connection.close_by_ref().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
    }
}

#[async_trait]
impl HealthProbe for Database {
    async fn check(&self) -> DependencyHealth {
        let started = Instant::now();
        let outcome = tokio_timeout(self.probe_timeout, self.connection.ping()).await;
        let error = match outcome {
            Some(Ok(())) => None,
            Some(Err(error)) => Some(error.to_string()),
            None => Some(format!("no answer within {} ms", self.probe_timeout.as_millis())),
        };
        DependencyHealth {
            name: "database",
            kind: self.backend.name(),
            up: error.is_none(),
            latency: started.elapsed(),
            error,
        }
    }

    fn pool_stats(&self) -> Option<PoolStats> {
        // The pool getters panic on a backend mismatch, so dispatch on the backend we opened.
        let (size, idle, max) = match self.backend {
            Backend::Sqlite => {
                let pool = self.connection.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            Backend::Postgres => {
                let pool = self.connection.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            Backend::MySql => {
                let pool = self.connection.get_mysql_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
        };
        Some(PoolStats {
            connections: size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max_connections: max,
            queries: self.queries.load(Ordering::Relaxed),
        })
    }
}

/// Awaits `future` for at most `limit`; `None` when it did not finish in time.
async fn tokio_timeout<F: std::future::Future>(limit: Duration, future: F) -> Option<F::Output> {
    tokio::time::timeout(limit, future).await.ok()
}

/// The database's plan for a statement, one line per row of its `EXPLAIN` (SQLite: `EXPLAIN
/// QUERY PLAN`), the columns joined by ` | `.
pub(crate) async fn explain(db: &DatabaseConnection, statement: Statement) -> Result<String, StoreError> {
    let prefix = match statement.db_backend {
        DbBackend::Sqlite => "EXPLAIN QUERY PLAN ",
        _ => "EXPLAIN ",
    };
    let explained = Statement {
        sql: format!("{prefix}{}", statement.sql),
        ..statement
    };
    let rows = db.query_all_raw(explained).await.map_err(crate::error::store_error)?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in &rows {
        let cells: Vec<String> = (0..row.column_names().len())
            .map(|index| {
                row.try_get_by_index::<Option<String>>(index)
                    .ok()
                    .flatten()
                    .or_else(|| {
                        row.try_get_by_index::<Option<i64>>(index)
                            .ok()
                            .flatten()
                            .map(|n| n.to_string())
                    })
                    .or_else(|| {
                        row.try_get_by_index::<Option<f64>>(index)
                            .ok()
                            .flatten()
                            .map(|n| n.to_string())
                    })
                    .unwrap_or_default()
            })
            .collect();
        lines.push(cells.join(" | "));
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_detected_from_the_scheme() {
        assert!(matches!(
            Backend::from_url("sqlite://x.db?mode=rwc"),
            Ok(Backend::Sqlite)
        ));
        assert!(matches!(Backend::from_url("postgres://u@h/db"), Ok(Backend::Postgres)));
        assert!(matches!(
            Backend::from_url("postgresql://u@h/db"),
            Ok(Backend::Postgres)
        ));
        assert!(matches!(Backend::from_url("mysql://u@h/db"), Ok(Backend::MySql)));
        assert!(Backend::from_url("oracle://u@h/db").is_err());
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/sy"),
            "postgres://app:***@db:5432/sy"
        );
        assert_eq!(redact_url("mysql://root@127.0.0.1/test"), "mysql://root@127.0.0.1/test");
        assert_eq!(
            redact_url("sqlite://data/switchyard.db?mode=rwc"),
            "sqlite://data/switchyard.db?mode=rwc"
        );
    }

    #[tokio::test]
    async fn sqlite_opens_in_wal_mode_with_foreign_keys_and_migrates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = Database::connect(&DatabaseOptions::new(url)).await.expect("connect");
        assert_eq!(db.migrate_up().await.ok(), Some(Migrator::migrations().len()));
        assert_eq!(db.migrate_up().await.ok(), Some(0));
        let health = db.check().await;
        assert!(health.up, "{health:?}");
        use sea_orm::{ConnectionTrait, Statement};
        let backend = db.connection().get_database_backend();
        for (pragma, expected) in [("journal_mode", "wal"), ("foreign_keys", "1")] {
            let row = db
                .connection()
                .query_one_raw(Statement::from_string(backend, format!("PRAGMA {pragma}")))
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("PRAGMA {pragma} answered nothing"));
            let value: String = row
                .try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .expect("a pragma value");
            assert_eq!(value, expected, "PRAGMA {pragma}");
        }
        db.close().await;
    }

    #[tokio::test]
    async fn the_unique_index_list_matches_the_schema() {
        use sea_orm::{ConnectionTrait, Statement};
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = Database::connect(&DatabaseOptions::new(url)).await.expect("connect");
        db.migrate_up().await.expect("migrations");
        let backend = db.connection().get_database_backend();
        let sql = "SELECT i.name, i.tbl_name, c.name FROM sqlite_master i, pragma_index_info(i.name) c \
                   WHERE i.type = 'index' AND i.sql LIKE 'CREATE UNIQUE%' ORDER BY i.name, c.seqno";
        let rows = db
            .connection()
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .expect("the schema's unique indexes");
        let mut schema: Vec<(String, String, Vec<String>)> = Vec::new();
        for row in rows {
            let name: String = row.try_get_by_index(0).expect("an index name");
            let table: String = row.try_get_by_index(1).expect("a table name");
            let column: String = row.try_get_by_index(2).expect("a column name");
            match schema.last_mut() {
                Some((last, _, columns)) if *last == name => columns.push(column),
                _ => schema.push((name, table, vec![column])),
            }
        }
        let mut listed: Vec<(String, String, Vec<String>)> = crate::error::UNIQUE_INDEXES
            .iter()
            .map(|(name, table, columns)| {
                let columns = columns.iter().map(|column| column.to_string()).collect();
                (name.to_string(), table.to_string(), columns)
            })
            .collect();
        listed.sort();
        assert_eq!(
            schema, listed,
            "crate::error::UNIQUE_INDEXES must name every named unique index (column-level unique keys are not listed: only hash collisions could break them)"
        );
        db.close().await;
    }
}
