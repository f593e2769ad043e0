//! `switchyard-bench stats`: the usage statistics at 10 million call-log rows, on SQLite,
//! PostgreSQL and MariaDB, through the stores the server uses (no HTTP). It fills the call log
//! the way the server's writer does (batches of 1000 rows with their hourly rollups, in one
//! transaction each) with synthetic traffic over 30 days, then times the overview, one user's
//! overview, a 30-day daily series, the per-model table and two filtered log pages; a query
//! slower than the 100 ms target is reported with its plan.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use switchyard_domain::accounts::ApiKeyId;
use switchyard_domain::catalog::{ModelId, SupplierId};
use switchyard_domain::gateway::{CallLogEntry, CallLogFilter, CallLogReader, Endpoint, Usage};
use switchyard_domain::kernel::ids::UserId;
use switchyard_domain::kernel::page::PageRequest;
use switchyard_domain::usage::{
    Dimension, Granularity, Period, RollupQuery, Totals, Tz, UsageFilter, UsageStore, hour_of,
};
use switchyard_persistence::{Database, DatabaseOptions, MAX_BATCH, SqlCallLogs, SqlUsageStore, write_batch_now};
use uuid::Uuid;

/// The target of every query.
pub const TARGET: Duration = Duration::from_millis(100);
const RUNS: usize = 20;
const USERS: usize = 100;
const KEYS_PER_USER: usize = 2;
const MODELS: usize = 16;
const SUPPLIERS: usize = 4;
const UPSTREAM_KEYS_PER_SUPPLIER: usize = 3;

/// One query's timings.
#[derive(Debug)]
pub struct Timed {
    pub name: &'static str,
    pub p50: Duration,
    pub max: Duration,
    /// Its plan, when it missed the target.
    pub plan: Option<String>,
}

/// One backend's figures.
#[derive(Debug)]
pub struct Row {
    pub backend: &'static str,
    pub rows: usize,
    pub fill: Duration,
    /// Rows in `usage_hourly`, `usage_daily`, `usage_model_hourly`, `usage_model_daily`.
    pub rollup_rows: [i64; 4],
    pub bytes_per_row: Option<f64>,
    pub queries: Vec<Timed>,
}

/// The synthetic world: users with two keys each, 16 models of 4 suppliers (a quarter billed in
/// CNY), each key calling 3 favourite models; users' traffic skewed (a few heavy, many light).
struct Mix {
    users: Vec<UserId>,
    /// Cumulative weights of the users.
    weights: Vec<f64>,
    keys: Vec<ApiKeyId>,
    favourites: Vec<[usize; 3]>,
    models: Vec<ModelId>,
    suppliers: Vec<SupplierId>,
    upstream: Vec<Uuid>,
    prices: Vec<(i64, i64)>,
    rng: StdRng,
}

impl Mix {
    fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(12);
        let users: Vec<UserId> = (0..USERS).map(|_| UserId(Uuid::now_v7())).collect();
        let mut total = 0.0;
        let weights = (0..USERS)
            .map(|n| {
                total += 1.0 / ((n + 1) as f64).powf(0.8);
                total
            })
            .collect();
        let keys = (0..USERS * KEYS_PER_USER).map(|_| ApiKeyId(Uuid::now_v7())).collect();
        let favourites = (0..USERS * KEYS_PER_USER)
            .map(|_| {
                [
                    rng.random_range(0..MODELS),
                    rng.random_range(0..MODELS),
                    rng.random_range(0..MODELS),
                ]
            })
            .collect();
        let prices = (0..MODELS)
            .map(|_| {
                let input = rng.random_range(100_000..5_000_000);
                (input, input * 4)
            })
            .collect();
        Self {
            users,
            weights,
            keys,
            favourites,
            models: (0..MODELS).map(|_| ModelId(Uuid::now_v7())).collect(),
            suppliers: (0..SUPPLIERS).map(|_| SupplierId(Uuid::now_v7())).collect(),
            upstream: (0..SUPPLIERS * UPSTREAM_KEYS_PER_SUPPLIER)
                .map(|_| Uuid::now_v7())
                .collect(),
            prices,
            rng,
        }
    }

    fn call(&mut self, at: DateTime<Utc>) -> CallLogEntry {
        let total = self.weights[USERS - 1];
        let pick = self.rng.random_range(0.0..total);
        let user = self.weights.partition_point(|weight| *weight < pick).min(USERS - 1);
        let key = user * KEYS_PER_USER + self.rng.random_range(0..KEYS_PER_USER);
        let model = self.favourites[key][self.rng.random_range(0..3)];
        let supplier = model / (MODELS / SUPPLIERS);
        let roll = self.rng.random_range(0..1000);
        let (status, error) = match roll {
            0..960 => (200, None),
            960..980 => (429, Some("rate_limited")),
            980..990 => (502, Some("upstream_error")),
            990..995 => (400, Some("invalid_request")),
            _ => (200, Some("client_closed")),
        };
        let stream = self.rng.random_bool(0.6);
        let (prompt, completion) = if status == 200 {
            (self.rng.random_range(50..4_000), self.rng.random_range(10..1_000))
        } else {
            (0, 0)
        };
        let (input, output) = self.prices[model];
        let latency = 150 + (self.rng.random::<f64>().powi(3) * 20_000.0) as i64;
        CallLogEntry {
            id: Uuid::now_v7(),
            request_id: format!("bench-{}", Uuid::now_v7().simple()),
            user_id: Some(self.users[user]),
            api_key_id: Some(self.keys[key]),
            model_id: Some(self.models[model]),
            supplier_id: Some(self.suppliers[supplier]),
            upstream_key_id: Some(
                self.upstream
                    [supplier * UPSTREAM_KEYS_PER_SUPPLIER + self.rng.random_range(0..UPSTREAM_KEYS_PER_SUPPLIER)],
            ),
            upstream_model: Some(format!("model-{model}")),
            endpoint: Endpoint::ChatCompletions,
            stream,
            status_code: status,
            error_code: error.map(str::to_owned),
            error_summary: error.map(|code| format!("{status} {code}: synthetic")),
            usage: Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                ..Usage::default()
            },
            cost_nanos: (prompt * input + completion * output) / 1000,
            currency: Some(if model >= MODELS * 3 / 4 { "CNY" } else { "USD" }.to_owned()),
            time_to_first_token_ms: stream.then_some(latency / 4),
            latency_ms: latency,
            client_ip: Some("203.0.113.7".to_owned()),
            attempt: 1,
            byok: false,
            created_at: at,
        }
    }
}

fn quantiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() - 1])
}

/// Times a query `RUNS` times after two warm-up runs.
async fn time<F, Fut>(mut run: F) -> anyhow::Result<(Duration, Duration)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    for _ in 0..2 {
        run().await?;
    }
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let rows = run().await?;
        samples.push(started.elapsed());
        anyhow::ensure!(rows > 0, "a benchmark query found nothing");
    }
    Ok(quantiles(samples))
}

async fn scalar(database: &Database, sql: &str) -> anyhow::Result<Option<i64>> {
    let connection = database.connection();
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            sql.to_owned(),
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<Option<i64>>(0).ok().flatten(),
        None => None,
    })
}

/// The raw rows' bytes (table and indexes) per row.
async fn bytes_per_row(database: &Database, rows: usize) -> anyhow::Result<Option<f64>> {
    let connection = database.connection();
    let bytes = match connection.get_database_backend() {
        DbBackend::Postgres => scalar(database, "SELECT pg_total_relation_size('api_call_logs')").await?,
        DbBackend::MySql => {
            connection.execute_unprepared("ANALYZE TABLE api_call_logs").await?;
            scalar(
                database,
                "SELECT CAST(data_length + index_length AS SIGNED) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = 'api_call_logs'",
            )
            .await?
        }
        _ => {
            // The table's and its indexes' pages, where SQLite has its `dbstat` table; else the
            // file's shrink when the table goes.
            match scalar(
                database,
                "SELECT SUM(pgsize) FROM dbstat WHERE name = 'api_call_logs' OR name LIKE 'api_call_logs_%' \
                 OR name = 'sqlite_autoindex_api_call_logs_1'",
            )
            .await
            {
                Ok(bytes) => bytes,
                Err(_) => {
                    let size = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
                    let before = scalar(database, size).await?.unwrap_or(0);
                    connection.execute_unprepared("DROP TABLE api_call_logs").await?;
                    connection.execute_unprepared("VACUUM").await?;
                    let after = scalar(database, size).await?.unwrap_or(0);
                    Some(before - after)
                }
            }
        }
    };
    Ok(bytes.map(|bytes| bytes as f64 / rows as f64))
}

/// Fills a fresh database at `url` with `rows` calls and times the queries.
pub async fn measure(backend: &'static str, url: &str, rows: usize) -> anyhow::Result<Row> {
    let database = Database::connect(&DatabaseOptions::new(url))
        .await
        .with_context(|| format!("cannot connect to {backend}"))?;
    database.migrate_up().await?;
    let connection = database.connection().clone();
    let now = hour_of(Utc::now());
    let start = now - TimeDelta::days(30);
    let step = TimeDelta::days(30).num_microseconds().unwrap_or(1) / rows.max(1) as i64;
    let mut mix = Mix::new();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    for n in 0..rows {
        batch.push(mix.call(start + TimeDelta::microseconds(step * n as i64)));
        if batch.len() == MAX_BATCH || n + 1 == rows {
            write_batch_now(&connection, &batch).await?;
            batch.clear();
        }
        if (n + 1) % 500_000 == 0 {
            let rate = (n + 1) as f64 / started.elapsed().as_secs_f64();
            eprintln!("bench: {backend}: {} of {rows} rows written ({rate:.0} rows/s)", n + 1);
        }
    }
    let fill = started.elapsed();
    if connection.get_database_backend() != DbBackend::MySql {
        // What an operator's database does on its own (autovacuum, `PRAGMA optimize`).
        connection.execute_unprepared("ANALYZE").await?;
    }
    let mut rollup_rows = [0i64; 4];
    for (count, table) in
        rollup_rows
            .iter_mut()
            .zip(["usage_hourly", "usage_daily", "usage_model_hourly", "usage_model_daily"])
    {
        *count = scalar(&database, &format!("SELECT COUNT(*) FROM {table}"))
            .await?
            .unwrap_or(0);
    }
    eprintln!("bench: {backend}: filled in {fill:.0?}, rollup rows {rollup_rows:?}; timing the queries");

    let store = SqlUsageStore::new(connection.clone());
    let logs = SqlCallLogs::new(connection.clone());
    let period = Period { from: start, to: now };
    let heavy = mix.users[0];
    let all = UsageFilter::default();
    let one_user = UsageFilter {
        user: Some(heavy),
        ..UsageFilter::default()
    };
    let rollup = |filter: UsageFilter, group: Option<Dimension>, by_hour: bool| RollupQuery {
        period,
        filter,
        group,
        by_hour,
        // The series' buckets are UTC days.
        days_suffice: true,
    };
    let mut queries = Vec::new();
    let mut timed = |name: &'static str, timings: (Duration, Duration), plan: Option<String>| {
        queries.push(Timed {
            name,
            p50: timings.0,
            max: timings.1,
            plan: (timings.1 > TARGET).then_some(plan).flatten(),
        });
    };

    let query = rollup(all, None, false);
    let timings = time(|| async { Ok(Totals::of(&store.usage(&query).await?).measures.requests as usize) }).await?;
    timed("overview, 30 days, everyone", timings, store.plan(&query).await.ok());

    let query = rollup(one_user, None, false);
    let timings = time(|| async { Ok(Totals::of(&store.usage(&query).await?).measures.requests as usize) }).await?;
    timed("overview, 30 days, one user", timings, store.plan(&query).await.ok());

    let query = rollup(all, None, true);
    let timings = time(|| async {
        let rows = store.usage(&query).await?;
        Ok(switchyard_domain::usage::stats::series(&rows, period, Granularity::Day, Tz::UTC).len())
    })
    .await?;
    timed(
        "30-day daily series (UTC days), everyone",
        timings,
        store.plan(&query).await.ok(),
    );

    // Days of a zone whose midnight is not UTC's are summed from hours.
    let shanghai: Tz = "Asia/Shanghai".parse().unwrap_or(Tz::UTC);
    let query = RollupQuery {
        days_suffice: false,
        ..rollup(all, None, true)
    };
    let timings = time(|| async {
        let rows = store.usage(&query).await?;
        Ok(switchyard_domain::usage::stats::series(&rows, period, Granularity::Day, shanghai).len())
    })
    .await?;
    timed(
        "30-day daily series (Asia/Shanghai days), everyone",
        timings,
        store.plan(&query).await.ok(),
    );

    // A table names its rows, as the API does.
    for (name, dimension) in [
        ("per-model table, 30 days", Dimension::Model),
        ("per-user table, 30 days", Dimension::User),
    ] {
        let query = rollup(all, Some(dimension), false);
        let timings = time(|| async {
            let rows = store.usage(&query).await?;
            let table = switchyard_domain::usage::stats::table(&rows);
            let ids: Vec<Uuid> = table.iter().filter_map(|(id, _)| *id).collect();
            store.names(dimension, &ids).await?;
            Ok(table.len())
        })
        .await?;
        timed(name, timings, store.plan(&query).await.ok());
    }

    let page = PageRequest::new(Some(50), None)?;
    let filter = CallLogFilter {
        user: Some(heavy),
        from: Some(now - TimeDelta::days(7)),
        ..CallLogFilter::default()
    };
    let timings = time(|| async { Ok(logs.page(&filter, page).await?.items.len()) }).await?;
    timed(
        "log page: one user, last 7 days",
        timings,
        logs.plan(&filter, page).await.ok(),
    );

    let filter = CallLogFilter {
        api_key: Some(mix.keys[0]),
        status: Some(502),
        ..CallLogFilter::default()
    };
    let timings = time(|| async { Ok(logs.page(&filter, page).await?.items.len()) }).await?;
    timed("log page: one key's 502s", timings, logs.plan(&filter, page).await.ok());

    let bytes_per_row = bytes_per_row(&database, rows).await?;
    database.close().await;
    Ok(Row {
        backend,
        rows,
        fill,
        rollup_rows,
        bytes_per_row,
        queries,
    })
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// The section of `docs/benchmarks.md`.
pub fn markdown(rows: &[Row], missing: &[String]) -> String {
    let mut out = String::new();
    let count = rows.first().map_or(0, |row| row.rows);
    let _ = writeln!(
        out,
        "## Statistics at {count} call-log rows\n\nWritten by `cargo xtask bench stats` (do not edit by hand; run it again). The release\n`switchyard-bench stats` fills a fresh database with {count} synthetic calls over 30 days the way the\nserver's call-log writer does (batches of 1000 rows with their rollups, one transaction each;\n{USERS} users of skewed traffic with {KEYS_PER_USER} keys each, {MODELS} models of {SUPPLIERS} suppliers, a quarter billed in CNY,\neach key calling 3 favourite models; 96% answered, the rest refused, failed or left by the client;\n60% streamed), runs `ANALYZE` (MariaDB keeps its statistics itself), then times each query {RUNS} times\nthrough the stores the server uses (the median and the slowest run). Target: every query under\n{} ms.\n",
        TARGET.as_millis()
    );
    let _ = writeln!(
        out,
        "| backend | fill | rows/s | rollup rows: hourly, daily; per model hourly, daily | bytes per raw row |\n|---|---|---|---|---|"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {:.0} s | {:.0} | {} | {} |",
            row.backend,
            row.fill.as_secs_f64(),
            row.rows as f64 / row.fill.as_secs_f64(),
            row.rollup_rows.map(|count| count.to_string()).join(", "),
            row.bytes_per_row.map_or("—".to_owned(), |bytes| format!("{bytes:.0}")),
        );
    }
    let _ = write!(out, "\n| query |");
    for row in rows {
        let _ = write!(out, " {} p50 | {} slowest |", row.backend, row.backend);
    }
    let _ = write!(out, "\n|---|");
    for _ in rows {
        let _ = write!(out, "---|---|");
    }
    let _ = writeln!(out);
    if let Some(first) = rows.first() {
        for (index, query) in first.queries.iter().enumerate() {
            let _ = write!(out, "| {} |", query.name);
            for row in rows {
                match row.queries.get(index) {
                    Some(timed) => {
                        let miss = if timed.max > TARGET { " (miss)" } else { "" };
                        let _ = write!(out, " {} | {}{miss} |", ms(timed.p50), ms(timed.max));
                    }
                    None => {
                        let _ = write!(out, " — | — |");
                    }
                }
            }
            let _ = writeln!(out);
        }
    }
    let mut misses = false;
    for row in rows {
        for timed in &row.queries {
            if let Some(plan) = &timed.plan {
                misses = true;
                let _ = writeln!(
                    out,
                    "\n**Missed on {}: {}** (slowest {}). Its plan:\n\n```\n{plan}\n```",
                    row.backend,
                    timed.name,
                    ms(timed.max)
                );
            }
        }
    }
    if !misses && !rows.is_empty() {
        let _ = writeln!(out, "\nEvery query met the target on every backend measured.");
    }
    for line in missing {
        let _ = writeln!(out, "\n{line}");
    }
    let _ = writeln!(
        out,
        "\n```sh\ncargo xtask bench stats   # SQLite; PostgreSQL at SWITCHYARD_BENCH_POSTGRES_URL, MariaDB at SWITCHYARD_BENCH_MYSQL_URL\n                          # (defaults postgres://postgres@127.0.0.1:5432/postgres, mysql://root@127.0.0.1:3306/test); --rows N\n```"
    );
    out
}
