//! `switchyard-bench gateway --server PATH --out FILE`: the gateway benchmark. It starts the
//! fake upstream (this binary's `fake` role, in its own process) and the released server
//! (SQLite in a fresh directory, a user and a gateway key, a pool of 4 upstream keys, capability
//! checks and the call log all on), then measures the fake directly and through Switchyard:
//! latency at 1 request at a time and at a fixed 500/s (open loop: each latency counts from the
//! request's intended send time, so a stall is not hidden), the most requests per second at
//! concurrency 64, and 512 concurrent streams (20 ms between chunks) — added time to first
//! token, stalls over 100 ms and the server's resident memory. It prints a table and writes the
//! figures, the machine and the commands to FILE.

mod conversations;
mod load;
mod report;
mod sections;
mod setup;
mod stats;

use std::time::Duration;

use anyhow::Context;

use crate::load::{Target, open_loop, sequential, streams, throughput};
use crate::report::{Figures, Report};

/// How long each phase runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub sequential: usize,
    pub rate: u32,
    pub open_loop: Duration,
    pub concurrency: usize,
    pub throughput: Duration,
    pub streams: usize,
}

impl Plan {
    const FULL: Plan = Plan {
        sequential: 5_000,
        rate: 500,
        open_loop: Duration::from_secs(10),
        concurrency: 64,
        throughput: Duration::from_secs(10),
        streams: 512,
    };

    /// A smoke run: every phase, briefly.
    const QUICK: Plan = Plan {
        sequential: 300,
        rate: 500,
        open_loop: Duration::from_secs(2),
        concurrency: 64,
        throughput: Duration::from_secs(2),
        streams: 64,
    };
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The value after `--name`, when given.
    let option = |name: &str| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|at| args.get(at + 1))
            .cloned()
    };
    match args.first().map(String::as_str) {
        Some("fake") => setup::run_fake(),
        Some("gateway") => {
            let server = option("--server").context("--server PATH (the released switchyard binary) is required")?;
            let out = option("--out").unwrap_or_else(|| "docs/benchmarks.md".to_owned());
            let plan = if args.iter().any(|arg| arg == "--quick") {
                Plan::QUICK
            } else {
                Plan::FULL
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(gateway(&server, &out, plan))
        }
        Some("conversations") => {
            let out = option("--out").unwrap_or_else(|| "docs/benchmarks.md".to_owned());
            let postgres =
                option("--postgres").unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(conversations_bench(&out, &postgres))
        }
        Some("stats") => {
            let out = option("--out").unwrap_or_else(|| "docs/benchmarks.md".to_owned());
            let postgres =
                option("--postgres").unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let mysql = option("--mysql").unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".to_owned());
            let rows = match option("--rows") {
                Some(rows) => rows.parse().context("--rows takes a number of rows")?,
                None => 10_000_000,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let backends = option("--backends").unwrap_or_else(|| "sqlite,postgres,mariadb".to_owned());
            let backends: Vec<&str> = backends.split(',').map(str::trim).collect();
            if let Some(unknown) = backends
                .iter()
                .find(|name| !["sqlite", "postgres", "mariadb"].contains(name))
            {
                anyhow::bail!(
                    "--backends takes sqlite, postgres and mariadb, comma-separated; {unknown:?} is none of them"
                );
            }
            runtime.block_on(stats_bench(&out, &postgres, &mysql, rows, &backends))
        }
        _ => anyhow::bail!(
            "usage: switchyard-bench gateway --server PATH [--out FILE] [--quick] | switchyard-bench conversations [--out FILE] [--postgres URL] | switchyard-bench stats [--out FILE] [--postgres URL] [--mysql URL] [--rows N] [--backends sqlite,postgres,mariadb] | switchyard-bench fake"
        ),
    }
}

fn step(text: &str) {
    eprintln!("bench: {text}");
}

async fn gateway(server: &str, out: &str, plan: Plan) -> anyhow::Result<()> {
    step("starting the fake upstream and the server");
    let world = setup::World::start(server).await?;
    let direct_fast = Target::direct(world.fast_url(), "gpt-4o");
    let through_fast = Target::through(world.gateway_url(), &world.gateway_key, setup::FAST_MODEL);
    let direct_paced = Target::direct(world.paced_url(), "gpt-4o");
    let through_paced = Target::through(world.gateway_url(), &world.gateway_key, setup::STREAM_MODEL);

    // Connections and caches warm; the idle memory is read after.
    sequential(&direct_fast, 200).await?;
    sequential(&through_fast, 200).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_kib = world.resident_kib()?;

    let mut figures = Figures::default();
    step(&format!("1 request at a time: {} requests each", plan.sequential));
    figures.sequential_direct = sequential(&direct_fast, plan.sequential).await?;
    figures.sequential_through = sequential(&through_fast, plan.sequential).await?;
    step(&format!("open loop at {}/s for {:?} each", plan.rate, plan.open_loop));
    figures.open_direct = open_loop(&direct_fast, plan.rate, plan.open_loop).await?;
    figures.open_through = open_loop(&through_fast, plan.rate, plan.open_loop).await?;
    step(&format!(
        "throughput at concurrency {} for {:?} each",
        plan.concurrency, plan.throughput
    ));
    figures.rps_direct = throughput(&direct_fast, plan.concurrency, plan.throughput).await?;
    figures.rps_through = throughput(&through_fast, plan.concurrency, plan.throughput).await?;
    step(&format!("{} concurrent streams, 20 ms between chunks", plan.streams));
    figures.streams_direct = streams(&direct_paced, plan.streams, None).await?;
    figures.streams_through = streams(&through_paced, plan.streams, Some(world.server_pid())).await?;
    figures.idle_kib = idle_kib;
    let logged = world.call_log_rows().await.unwrap_or(-1);
    world.stop();

    let report = Report::new(figures, plan, logged);
    println!("{}", report.table());
    // Other benchmarks' sections of the file are kept below the gateway's report.
    let before = std::fs::read_to_string(out).unwrap_or_default();
    let kept = sections::sections(&before);
    let text = if kept.is_empty() {
        report.markdown()
    } else {
        format!("{}\n{kept}", report.markdown().trim_end())
    };
    std::fs::write(out, text).with_context(|| format!("cannot write {out}"))?;
    step(&format!("wrote {out}"));
    Ok(())
}

/// The conversations' database benchmark on SQLite and PostgreSQL, written into its section.
async fn conversations_bench(out: &str, postgres: &str) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    let dir = std::env::temp_dir().join(format!("switchyard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sqlite = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
    rows.push(conversations::measure("SQLite", &sqlite).await?);
    let _ = std::fs::remove_dir_all(&dir);
    match conversations::ScratchDatabase::create(postgres).await {
        Ok(scratch) => {
            let measured = conversations::measure("PostgreSQL", &scratch.url).await;
            scratch.drop_now().await?;
            rows.push(measured?);
        }
        Err(error) => missing.push(format!("PostgreSQL was not measured: {error:#}.")),
    }
    let section = conversations::markdown(&rows, &missing);
    eprintln!("{section}");
    let before = std::fs::read_to_string(out).unwrap_or_default();
    std::fs::write(out, sections::replace_section(&before, "conversations", &section))
        .with_context(|| format!("cannot write {out}"))?;
    eprintln!("bench: wrote {out}");
    Ok(())
}

/// The statistics benchmark on SQLite, PostgreSQL and MariaDB, written into its section.
async fn stats_bench(out: &str, postgres: &str, mysql: &str, rows: usize, backends: &[&str]) -> anyhow::Result<()> {
    let mut measured = Vec::new();
    let mut missing = Vec::new();
    if backends.contains(&"sqlite") {
        let dir = std::env::temp_dir().join(format!("switchyard-bench-stats-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        step(&format!("SQLite: filling {rows} rows"));
        let sqlite = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
        let outcome = stats::measure("SQLite", &sqlite, rows).await;
        let _ = std::fs::remove_dir_all(&dir);
        measured.push(outcome?);
    }
    let servers = [("postgres", "PostgreSQL", postgres), ("mariadb", "MariaDB", mysql)];
    for (_, backend, url) in servers.into_iter().filter(|(name, _, _)| backends.contains(name)) {
        match conversations::ScratchDatabase::create(url).await {
            Ok(scratch) => {
                step(&format!("{backend}: filling {rows} rows"));
                let outcome = stats::measure(backend, &scratch.url, rows).await;
                scratch.drop_now().await?;
                measured.push(outcome?);
            }
            Err(error) => missing.push(format!("{backend} was not measured: {error:#}.")),
        }
    }
    let section = stats::markdown(&measured, &missing);
    eprintln!("{section}");
    let before = std::fs::read_to_string(out).unwrap_or_default();
    std::fs::write(out, sections::replace_section(&before, "stats", &section))
        .with_context(|| format!("cannot write {out}"))?;
    step(&format!("wrote {out}"));
    Ok(())
}
