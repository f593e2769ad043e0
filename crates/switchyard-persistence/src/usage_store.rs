//! The usage rollups (`usage_hourly`, `usage_daily`, their per-model `usage_model_hourly` and
//! `usage_model_daily`, `usage_upstream_hourly`): added to by the call-log writer inside its
//! batch transaction, read by the statistics, trimmed by the retention.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QueryResult, QuerySelect,
};
use switchyard_domain::StoreError;
use switchyard_domain::usage::{
    Dimension, LATENCY_BUCKETS, Measures, Period, RollupQuery, RollupRow, Rollups, Subject, Tokens, UsageStore, day_of,
    hour_of,
};
use tracing::instrument;
use uuid::Uuid;

use crate::entity::{api_call_logs, api_keys, models, suppliers, upstream_keys, users};
use crate::error::store_error;
use crate::key_repo::sum;

pub(crate) const USAGE: &str = "usage_hourly";
pub(crate) const DAILY: &str = "usage_daily";
pub(crate) const UPSTREAM: &str = "usage_upstream_hourly";
/// The buckets without user and key: what a query over everyone reads.
pub(crate) const MODEL_HOURLY: &str = "usage_model_hourly";
pub(crate) const MODEL_DAILY: &str = "usage_model_daily";

/// A rollup table's bucket-start column.
fn time_column(table: &str) -> &'static str {
    if table == DAILY || table == MODEL_DAILY {
        "day_start"
    } else {
        "hour_start"
    }
}

/// The measure columns, in [`values`]' order.
pub(crate) fn measure_columns() -> Vec<String> {
    let mut columns: Vec<String> = [
        "requests",
        "errors",
        "prompt_tokens",
        "completion_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_nanos",
        "latency_ms_sum",
    ]
    .iter()
    .map(|name| (*name).to_owned())
    .collect();
    columns.extend((0..LATENCY_BUCKETS).map(|bucket| format!("latency_{bucket}")));
    columns
}

fn values(measures: &Measures) -> Vec<i64> {
    let tokens = measures.tokens;
    let mut values = vec![
        measures.requests,
        measures.errors,
        tokens.prompt,
        tokens.completion,
        tokens.cached_input,
        tokens.cache_write,
        tokens.reasoning,
        measures.cost_nanos,
        measures.latency_ms_sum,
    ];
    values.extend(measures.latency);
    values
}

fn read_measures(row: &QueryResult) -> Result<Measures, DbErr> {
    let columns = measure_columns();
    let mut figures = Vec::with_capacity(columns.len());
    for column in &columns {
        figures.push(row.try_get::<i64>("", column)?);
    }
    let mut latency = [0i64; LATENCY_BUCKETS];
    latency.copy_from_slice(&figures[9..]);
    Ok(Measures {
        requests: figures[0],
        errors: figures[1],
        tokens: Tokens {
            prompt: figures[2],
            completion: figures[3],
            cached_input: figures[4],
            cache_write: figures[5],
            reasoning: figures[6],
        },
        cost_nanos: figures[7],
        latency_ms_sum: figures[8],
        latency,
    })
}

/// An absent dimension is the nil UUID (NULLs would not meet in the primary key's bucket).
fn present(id: Option<Uuid>) -> Uuid {
    id.unwrap_or_else(Uuid::nil)
}

fn absent_is_none(id: Uuid) -> Option<Uuid> {
    (!id.is_nil()).then_some(id)
}

/// `column = column + the new row's value`, in each backend's words.
fn add_to(backend: DbBackend, table: &str, column: &str) -> Expr {
    match backend {
        DbBackend::MySql => Expr::cust(format!("{column} + VALUES({column})")),
        _ => Expr::cust(format!("{table}.{column} + excluded.{column}")),
    }
}

/// Rows per upsert statement (at most 26 values each: inside every backend's parameter limit).
const UPSERT_ROWS: usize = 500;

fn upsert(
    backend: DbBackend,
    table: &str,
    key_columns: &[&str],
    rows: Vec<(Vec<Expr>, &Measures)>,
) -> Result<Vec<sea_orm::sea_query::InsertStatement>, DbErr> {
    let measures = measure_columns();
    let mut statements = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut insert = Query::insert();
        insert.into_table(Alias::new(table)).columns(
            key_columns
                .iter()
                .map(|column| Alias::new(*column))
                .chain(measures.iter().map(Alias::new)),
        );
        for (mut keys, figures) in rows.by_ref().take(UPSERT_ROWS) {
            keys.extend(values(figures).into_iter().map(Expr::val));
            insert
                .values(keys)
                .map_err(|error| DbErr::Custom(format!("a rollup row does not fit its table: {error}")))?;
        }
        insert.on_conflict(
            OnConflict::column(Alias::new("id"))
                .values(
                    measures
                        .iter()
                        .map(|column| (Alias::new(column), add_to(backend, table, column))),
                )
                .to_owned(),
        );
        statements.push(insert);
    }
    Ok(statements)
}

/// A usage bucket's key columns, in the tables' order.
fn dimension_rows<'a>(
    buckets: Vec<(Uuid, &'a switchyard_domain::usage::UsageKey, &'a Measures)>,
) -> Vec<(Vec<Expr>, &'a Measures)> {
    buckets
        .into_iter()
        .map(|(id, key, figures)| {
            let keys = vec![
                Expr::val(id),
                Expr::val(key.hour),
                Expr::val(present(key.user.map(|id| id.0))),
                Expr::val(present(key.api_key.map(|id| id.0))),
                Expr::val(present(key.model.map(|id| id.0))),
                Expr::val(present(key.supplier.map(|id| id.0))),
                Expr::val(key.currency.clone().unwrap_or_default()),
                Expr::val(key.byok),
            ];
            (keys, figures)
        })
        .collect()
}

/// Adds a batch's rollups (upserts that add), rows in id order so that two writers never wait
/// on each other in a cycle.
pub(crate) async fn add(db: &impl ConnectionTrait, rollups: &Rollups) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let usage_keys = [
        "id",
        "hour_start",
        "user_id",
        "api_key_id",
        "model_id",
        "supplier_id",
        "currency",
        "byok",
    ];
    for statement in upsert(backend, USAGE, &usage_keys, dimension_rows(rollups.usage()))? {
        db.execute(&statement).await?;
    }
    let mut daily_keys = usage_keys;
    daily_keys[1] = "day_start";
    for statement in upsert(backend, DAILY, &daily_keys, dimension_rows(rollups.daily()))? {
        db.execute(&statement).await?;
    }
    for (table, keys, day) in [(MODEL_HOURLY, &usage_keys, false), (MODEL_DAILY, &daily_keys, true)] {
        for statement in upsert(backend, table, keys, dimension_rows(rollups.models(day)))? {
            db.execute(&statement).await?;
        }
    }
    let upstream = rollups
        .upstream()
        .into_iter()
        .map(|(id, key, figures)| {
            let keys = vec![
                Expr::val(id),
                Expr::val(key.hour),
                Expr::val(key.upstream_key),
                Expr::val(present(key.supplier.map(|id| id.0))),
                Expr::val(key.currency.clone().unwrap_or_default()),
            ];
            (keys, figures)
        })
        .collect();
    let upstream_keys = ["id", "hour_start", "upstream_key_id", "supplier_id", "currency"];
    for statement in upsert(backend, UPSTREAM, &upstream_keys, upstream)? {
        db.execute(&statement).await?;
    }
    Ok(())
}

fn dimension_column(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::User => "user_id",
        Dimension::ApiKey => "api_key_id",
        Dimension::Model => "model_id",
        Dimension::Supplier => "supplier_id",
    }
}

/// `SELECT [hour_start,] [group,] currency, SUM(measures…) FROM table WHERE the period GROUP BY …`.
fn summed(backend: DbBackend, table: &str, period: Period, group: Option<&str>, by_hour: bool) -> SelectStatement {
    let time = time_column(table);
    let mut select = Query::select();
    select.from(Alias::new(table));
    if by_hour {
        // Named `hour_start` whichever table: the reader takes either.
        select
            .expr_as(Expr::col(Alias::new(time)), Alias::new("hour_start"))
            .group_by_col(Alias::new(time));
    }
    if let Some(group) = group {
        select.column(Alias::new(group)).group_by_col(Alias::new(group));
    }
    select
        .column(Alias::new("currency"))
        .group_by_col(Alias::new("currency"));
    for column in measure_columns() {
        select.expr_as(sum(backend, &column), Alias::new(column));
    }
    select
        .and_where(Expr::col(Alias::new(time)).gte(period.from))
        .and_where(Expr::col(Alias::new(time)).lt(period.to));
    select
}

/// Where a query's rows come from: whole UTC days inside the period from the daily rollups,
/// the hours before the first and after the last from the hourly ones (all hourly when the
/// caller needs hours, or when the period holds no whole day). A query that neither names nor
/// groups by a user or a key reads the per-model rollups.
fn parts(query: &RollupQuery) -> Vec<(&'static str, Period)> {
    let period = query.period;
    let per_user = query.filter.user.is_some()
        || query.filter.api_key.is_some()
        || matches!(query.group, Some(Dimension::User | Dimension::ApiKey));
    let (hourly, daily) = if per_user {
        (USAGE, DAILY)
    } else {
        (MODEL_HOURLY, MODEL_DAILY)
    };
    if query.by_hour && !query.days_suffice {
        return vec![(hourly, period)];
    }
    let first = day_of(period.from);
    let first = if first < period.from {
        first + chrono::TimeDelta::days(1)
    } else {
        first
    };
    let last = day_of(period.to);
    if first >= last {
        return vec![(hourly, period)];
    }
    let mut parts = vec![(daily, Period { from: first, to: last })];
    if period.from < first {
        parts.push((
            hourly,
            Period {
                from: period.from,
                to: first,
            },
        ));
    }
    if last < period.to {
        parts.push((
            hourly,
            Period {
                from: last,
                to: period.to,
            },
        ));
    }
    parts
}

fn read_rows(rows: Vec<QueryResult>, group: Option<&str>, by_hour: bool) -> Result<Vec<RollupRow>, DbErr> {
    rows.iter()
        .map(|row| {
            let currency: String = row.try_get("", "currency")?;
            Ok(RollupRow {
                hour: if by_hour {
                    Some(row.try_get::<DateTime<Utc>>("", "hour_start")?)
                } else {
                    None
                },
                group: match group {
                    Some(column) => absent_is_none(row.try_get::<Uuid>("", column)?),
                    None => None,
                },
                currency: (!currency.is_empty()).then_some(currency),
                measures: read_measures(row)?,
            })
        })
        .collect()
}

/// Reads the rollups and trims them, with the raw call log, for the retention.
#[derive(Debug, Clone)]
pub struct SqlUsageStore {
    db: DatabaseConnection,
}

impl SqlUsageStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The database's plan for a rollup query (benchmarks name a slow query's plan): each
    /// part's.
    pub async fn plan(&self, query: &RollupQuery) -> Result<String, StoreError> {
        let backend = self.db.get_database_backend();
        let mut plans = Vec::new();
        for (table, period) in parts(query) {
            let select = self.select(query, table, period);
            plans.push(format!(
                "-- {table}\n{}",
                crate::database::explain(&self.db, backend.build(&select)).await?
            ));
        }
        Ok(plans.join("\n"))
    }

    fn select(&self, query: &RollupQuery, table: &str, period: Period) -> SelectStatement {
        let backend = self.db.get_database_backend();
        let group = query.group.map(dimension_column);
        let mut select = summed(backend, table, period, group, query.by_hour);
        let filter = query.filter;
        for (column, id) in [
            ("user_id", filter.user.map(|id| id.0)),
            ("api_key_id", filter.api_key.map(|id| id.0)),
            ("model_id", filter.model.map(|id| id.0)),
            ("supplier_id", filter.supplier.map(|id| id.0)),
        ] {
            if let Some(id) = id {
                select.and_where(Expr::col(Alias::new(column)).eq(id));
            }
        }
        select
    }

    async fn purge_table(&self, table: &str, before: DateTime<Utc>, limit: u64) -> Result<u64, DbErr> {
        let time = time_column(table);
        let mut select = Query::select();
        select
            .column(Alias::new("id"))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new(time)).lt(before))
            .limit(limit);
        let ids = self
            .db
            .query_all(&select)
            .await?
            .iter()
            .map(|row| row.try_get::<Uuid>("", "id"))
            .collect::<Result<Vec<Uuid>, DbErr>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut delete = Query::delete();
        delete
            .from_table(Alias::new(table))
            .and_where(Expr::col(Alias::new("id")).is_in(ids));
        Ok(self.db.execute(&delete).await?.rows_affected())
    }
}

#[async_trait]
impl UsageStore for SqlUsageStore {
    #[instrument(skip_all, err)]
    async fn usage(&self, query: &RollupQuery) -> Result<Vec<RollupRow>, StoreError> {
        let mut found = Vec::new();
        for (table, period) in parts(query) {
            let select = self.select(query, table, period);
            let rows = self.db.query_all(&select).await.map_err(store_error)?;
            found.extend(read_rows(rows, query.group.map(dimension_column), query.by_hour).map_err(store_error)?);
        }
        Ok(found)
    }

    #[instrument(skip_all, err)]
    async fn upstream_usage(&self, period: Period) -> Result<Vec<RollupRow>, StoreError> {
        let backend = self.db.get_database_backend();
        let select = summed(backend, UPSTREAM, period, Some("upstream_key_id"), false);
        let rows = self.db.query_all(&select).await.map_err(store_error)?;
        read_rows(rows, Some("upstream_key_id"), false).map_err(store_error)
    }

    #[instrument(skip_all, fields(ids = ids.len()), err)]
    async fn names(&self, dimension: Dimension, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = ids.to_vec();
        let names: Vec<(Uuid, String)> = match dimension {
            Dimension::User => {
                users::Entity::find()
                    .select_only()
                    .column(users::Column::Id)
                    .column(users::Column::Username)
                    .filter(users::Column::Id.is_in(ids))
                    .into_tuple()
                    .all(&self.db)
                    .await
            }
            Dimension::ApiKey => {
                api_keys::Entity::find()
                    .select_only()
                    .column(api_keys::Column::Id)
                    .column(api_keys::Column::Name)
                    .filter(api_keys::Column::Id.is_in(ids))
                    .into_tuple()
                    .all(&self.db)
                    .await
            }
            Dimension::Model => {
                models::Entity::find()
                    .select_only()
                    .column(models::Column::Id)
                    .column(models::Column::Name)
                    .filter(models::Column::Id.is_in(ids))
                    .into_tuple()
                    .all(&self.db)
                    .await
            }
            Dimension::Supplier => {
                suppliers::Entity::find()
                    .select_only()
                    .column(suppliers::Column::Id)
                    .column(suppliers::Column::Name)
                    .filter(suppliers::Column::Id.is_in(ids))
                    .into_tuple()
                    .all(&self.db)
                    .await
            }
        }
        .map_err(store_error)?;
        Ok(names.into_iter().collect())
    }

    #[instrument(skip_all, fields(ids = ids.len()), err)]
    async fn upstream_key_names(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let names: Vec<(Uuid, String)> = upstream_keys::Entity::find()
            .select_only()
            .column(upstream_keys::Column::Id)
            .column(upstream_keys::Column::Name)
            .filter(upstream_keys::Column::Id.is_in(ids.to_vec()))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(names.into_iter().collect())
    }

    #[instrument(skip(self), err)]
    async fn spent(
        &self,
        subject: Subject,
        currency: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        let mut filter = switchyard_domain::usage::UsageFilter::default();
        let (column, id) = match subject {
            Subject::Key(id) => {
                filter.api_key = Some(id);
                ("api_key_id", id.0)
            }
            Subject::User(id) => {
                filter.user = Some(id);
                ("user_id", id.0)
            }
            // Budgets are set on keys and users only.
            Subject::Model(_) | Subject::Global => return Ok(0),
        };
        let backend = self.db.get_database_backend();
        // Whole UTC days from the daily rollups, the hours at the edges from the hourly ones.
        let far = DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let period = Period {
            from: from.map_or(DateTime::UNIX_EPOCH, hour_of),
            to: to.unwrap_or(far),
        };
        let query = RollupQuery {
            period,
            filter,
            group: None,
            by_hour: false,
            days_suffice: true,
        };
        let mut spent = 0i64;
        for (table, part) in parts(&query) {
            let time = time_column(table);
            let mut select = Query::select();
            select
                .expr_as(sum(backend, "cost_nanos"), Alias::new("spent"))
                .from(Alias::new(table))
                .and_where(Expr::col(Alias::new(column)).eq(id))
                .and_where(Expr::col(Alias::new("currency")).eq(currency))
                .and_where(Expr::col(Alias::new("byok")).eq(false))
                .and_where(Expr::col(Alias::new(time)).gte(part.from))
                .and_where(Expr::col(Alias::new(time)).lt(part.to));
            if let Some(row) = self.db.query_one(&select).await.map_err(store_error)? {
                spent = spent.saturating_add(row.try_get::<i64>("", "spent").map_err(store_error)?);
            }
        }
        Ok(spent)
    }

    #[instrument(skip(self), err)]
    async fn purge_calls(&self, before: DateTime<Utc>, limit: u64) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = api_call_logs::Entity::find()
            .select_only()
            .column(api_call_logs::Column::Id)
            .filter(api_call_logs::Column::CreatedAt.lt(before))
            .order_by_asc(api_call_logs::Column::CreatedAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let removed = api_call_logs::Entity::delete_many()
            .filter(api_call_logs::Column::Id.is_in(ids))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(removed.rows_affected)
    }

    #[instrument(skip(self), err)]
    async fn purge_rollups(&self, before: DateTime<Utc>, limit: u64) -> Result<u64, StoreError> {
        let usage = self.purge_table(USAGE, before, limit).await.map_err(store_error)?;
        // A day goes once all of it is past the retention.
        let daily = self
            .purge_table(DAILY, day_of(before), limit)
            .await
            .map_err(store_error)?;
        let upstream = self.purge_table(UPSTREAM, before, limit).await.map_err(store_error)?;
        let models = self
            .purge_table(MODEL_HOURLY, before, limit)
            .await
            .map_err(store_error)?;
        let models_daily = self
            .purge_table(MODEL_DAILY, day_of(before), limit)
            .await
            .map_err(store_error)?;
        Ok(usage + daily + upstream + models + models_daily)
    }
}
