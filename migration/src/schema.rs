//! Column and table helpers that apply CONVENTIONS.md the same way on SQLite, PostgreSQL and MySQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A `CREATE TABLE` with the backend's table options: on MySQL/MariaDB `InnoDB`, `utf8mb4` and
/// the `utf8mb4_bin` collation, so uniqueness and comparison are exact, as on the other backends.
pub fn create_table(manager: &SchemaManager<'_>, name: impl IntoIden) -> TableCreateStatement {
    let mut table = Table::create();
    table.table(name);
    if manager.get_database_backend() == DbBackend::MySql {
        table.engine("InnoDB").character_set("utf8mb4").collate("utf8mb4_bin");
    }
    table
}

/// An instant: `timestamptz` on PostgreSQL, `DATETIME(6)` on MySQL (microseconds, no time-zone
/// conversion: every value written is UTC), text on SQLite.
pub fn timestamp(manager: &SchemaManager<'_>, name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    match manager.get_database_backend() {
        DbBackend::MySql => column.custom(Alias::new("DATETIME(6)")),
        _ => column.timestamp_with_time_zone(),
    };
    column
}

/// A UUID primary or foreign key column: `uuid` on PostgreSQL, `BINARY(16)` on MySQL, a 16-byte
/// blob on SQLite (so ids are never compared as text).
pub fn uuid(name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    column.uuid();
    column
}

/// A string column with its maximum length in characters, as the domain's parse function checks.
pub fn string(name: impl IntoIden, max_len: u32) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    column.string_len(max_len);
    column
}

/// Long text (a message's content, a system prompt): `MEDIUMTEXT` on MySQL (16 MiB; its `TEXT`
/// holds only 64 KiB), `text` elsewhere. The domain bounds what is written.
pub fn long_text(manager: &SchemaManager<'_>, name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    match manager.get_database_backend() {
        DbBackend::MySql => column.custom(Alias::new("MEDIUMTEXT")),
        _ => column.text(),
    };
    column
}
