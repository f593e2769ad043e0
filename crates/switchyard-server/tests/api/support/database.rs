//! A fresh, migrated database per test, made cheap by migrating once per test process into a
//! template and copying it: a file copy on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL,
//! and a schema-and-rows copy on MySQL/MariaDB (which has no templates). Each test's database is
//! dropped when the test ends; what a killed run leaves behind is dropped by the next run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Statement};
use switchyard_persistence::{Backend, Database, DatabaseOptions};
use tokio::sync::OnceCell;

/// The environment variable naming a PostgreSQL or MySQL server to test against.
pub const SERVER_URL_VAR: &str = "SWITCHYARD_TEST_DATABASE_URL";

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One test's database.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    /// The database's name on a PostgreSQL or MySQL server (none for SQLite).
    name: Option<String>,
    server_url: Option<String>,
    /// The test's data directory; it also holds the SQLite file.
    pub dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let Some(server_url) = std::env::var(SERVER_URL_VAR).ok().filter(|url| !url.is_empty()) else {
            let template = TEMPLATE.get_or_init(sqlite_template).await;
            let file = dir.path().join("switchyard.db");
            std::fs::copy(template, &file).expect("copy the SQLite template");
            return Self {
                url: sqlite_url(&file),
                backend: Backend::Sqlite,
                name: None,
                server_url: None,
                dir,
            };
        };
        let backend = Backend::from_url(&server_url).expect("SWITCHYARD_TEST_DATABASE_URL is postgres:// or mysql://");
        let template = TEMPLATE
            .get_or_init(|| server_template(server_url.clone(), backend))
            .await;
        let name = format!(
            "sy_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = connect(&server_url).await;
        match backend {
            Backend::Postgres => {
                let sql = format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#);
                // PostgreSQL refuses a copy while another session touches the template; retry briefly.
                let mut attempt = 0;
                while let Err(error) = admin.connection().execute_unprepared(&sql).await {
                    attempt += 1;
                    assert!(attempt < 20, "cannot create {name}: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
            Backend::MySql => copy_mysql_database(&admin, &server_url, template, &name).await,
            Backend::Sqlite => unreachable!("SQLite needs no server"),
        }
        admin.close().await;
        Self {
            url: with_database(&server_url, &name),
            backend,
            name: Some(name),
            server_url: Some(server_url),
            dir,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The host and port of the database server, for a proxy to stand in front of.
    pub fn server_address(&self) -> Option<String> {
        let url = self.server_url.as_deref()?;
        let after_scheme = url.split_once("://")?.1;
        let authority = after_scheme.split('/').next()?;
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let default_port = if self.backend == Backend::Postgres { 5432 } else { 3306 };
        Some(if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:{default_port}")
        })
    }

    /// This database's URL with its host and port replaced by `address` (a proxy's).
    pub fn url_via(&self, address: &str) -> String {
        let (scheme, rest) = self.url.split_once("://").expect("a URL with a scheme");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let user = authority
            .rsplit_once('@')
            .map(|(user, _)| format!("{user}@"))
            .unwrap_or_default();
        format!("{scheme}://{user}{address}/{path}")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (Some(name), Some(server_url)) = (self.name.clone(), self.server_url.clone()) else {
            return;
        };
        let backend = self.backend;
        // Drop runs inside the test's runtime, which cannot be blocked on; use a thread of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let admin = connect(&server_url).await;
                if backend == Backend::MySql {
                    // The app's connections are still open (its runtime is the test's, blocked
                    // here): one in a transaction would hold a metadata lock the drop waits for,
                    // forever. PostgreSQL's `WITH (FORCE)` does the same.
                    kill_connections(&admin, &name).await;
                }
                let result = admin.connection().execute_unprepared(&drop_sql(backend, &name)).await;
                admin.close().await;
                result.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: could not drop test database {:?}", self.name);
        }
    }
}

/// Ends every MySQL connection to the database `name`.
async fn kill_connections(admin: &Database, name: &str) {
    let backend = admin.connection().get_database_backend();
    let query = Statement::from_sql_and_values(
        backend,
        "SELECT CAST(id AS UNSIGNED) FROM information_schema.processlist WHERE db = ?",
        [name.into()],
    );
    let rows = match admin.connection().query_all_raw(query).await {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("warning: the connections to test database {name} could not be listed: {error}");
            return;
        }
    };
    for row in rows {
        match row.try_get_by_index::<u64>(0) {
            Ok(id) => {
                if let Err(error) = admin.connection().execute_unprepared(&format!("KILL {id}")).await {
                    eprintln!("warning: connection {id} to test database {name} could not be ended: {error}");
                }
            }
            Err(error) => eprintln!("warning: a connection id did not read: {error}"),
        }
    }
}

fn drop_sql(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Postgres => format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#),
        _ => format!("DROP DATABASE IF EXISTS `{name}`"),
    }
}

fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}?mode=rwc", file.display())
}

async fn connect(url: &str) -> Database {
    let mut options = DatabaseOptions::new(url);
    options.max_connections = 1;
    Database::connect(&options)
        .await
        .unwrap_or_else(|error| panic!("test database server: {error}"))
}

/// Replaces the database name (the URL's path) of a server URL, keeping any query string.
fn with_database(server_url: &str, name: &str) -> String {
    let (scheme, rest) = server_url.split_once("://").expect("a URL with a scheme");
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}{query}")
}

/// Whether the process that made a `sy_…_<pid>…` database or template file is still running.
fn owner_alive(name: &str) -> bool {
    let pid = name
        .split('_')
        .find_map(|part| part.split('.').next()?.parse::<u32>().ok());
    match pid {
        Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
        None => true,
    }
}

async fn sqlite_template() -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("sy_tmpl_") && !owner_alive(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let file = dir.join(format!("sy_tmpl_{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let db = connect(&sqlite_url(&file)).await;
    db.migrate_up().await.expect("migrate the SQLite template");
    db.connection()
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .expect("checkpoint the SQLite template");
    db.close().await;
    file.display().to_string()
}

async fn server_template(server_url: String, backend: Backend) -> String {
    let admin = connect(&server_url).await;
    drop_abandoned_databases(&admin, backend).await;
    let template = format!("sy_tmpl_{}", std::process::id());
    let create = match backend {
        Backend::Postgres => format!(r#"CREATE DATABASE "{template}""#),
        _ => format!("CREATE DATABASE `{template}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
    };
    admin
        .connection()
        .execute_unprepared(&drop_sql(backend, &template))
        .await
        .expect("drop an old template");
    admin
        .connection()
        .execute_unprepared(&create)
        .await
        .expect("create the template database");
    admin.close().await;
    let db = connect(&with_database(&server_url, &template)).await;
    db.migrate_up().await.expect("migrate the template database");
    db.close().await;
    template
}

/// Drops the test databases and templates of test processes that no longer run.
async fn drop_abandoned_databases(admin: &Database, backend: Backend) {
    let list = match backend {
        Backend::Postgres => "SELECT datname FROM pg_database WHERE datname LIKE 'sy\\_%'",
        _ => "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'sy\\_%'",
    };
    let rows = admin
        .connection()
        .query_all_raw(Statement::from_string(admin.connection().get_database_backend(), list))
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get_by_index::<String>(0) else {
            continue;
        };
        if (name.starts_with("sy_t_") || name.starts_with("sy_tmpl_")) && !owner_alive(&name) {
            let _ = admin.connection().execute_unprepared(&drop_sql(backend, &name)).await;
        }
    }
}

/// MySQL has no database templates: recreate each table of the template from its
/// `SHOW CREATE TABLE` (foreign keys included) and copy its rows (the migration records).
async fn copy_mysql_database(admin: &Database, server_url: &str, template: &str, name: &str) {
    let conn = admin.connection();
    let backend = conn.get_database_backend();
    conn.execute_unprepared(&format!(
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ))
    .await
    .expect("create the test database");
    let tables = conn
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = '{template}' AND table_type = 'BASE TABLE'"
            ),
        ))
        .await
        .expect("list the template's tables");
    let target = connect(&with_database(server_url, name)).await;
    let target_conn = target.connection();
    target_conn
        .execute_unprepared("SET FOREIGN_KEY_CHECKS = 0")
        .await
        .expect("disable foreign key checks");
    for row in tables {
        let table: String = row.try_get_by_index(0).expect("a table name");
        let create = conn
            .query_one_raw(Statement::from_string(
                backend,
                format!("SHOW CREATE TABLE `{template}`.`{table}`"),
            ))
            .await
            .expect("show create table")
            .expect("a create statement");
        let create: String = create.try_get_by_index(1).expect("the create statement");
        target_conn.execute_unprepared(&create).await.expect("create a table");
        target_conn
            .execute_unprepared(&format!("INSERT INTO `{table}` SELECT * FROM `{template}`.`{table}`"))
            .await
            .expect("copy the template's rows");
    }
    target.close().await;
}
