//! `cargo xtask`: repository automation written in Rust.
//!
//! - `cargo xtask ci`: exactly what CI runs (`.ci/run`).
//! - `cargo xtask tidy`: the architecture's invariants (see `docs/architecture.md`).
//! - `cargo xtask bench gateway`: the gateway benchmark (see `docs/benchmarks.md`).
//! - `cargo xtask bench conversations`: conversations' database work at 10,000 messages.
//! - `cargo xtask bench stats`: the usage statistics' queries at 10 million call-log rows.
//! - `cargo xtask seed | create-admin | rotate-master-key`: shortcuts to the operator commands.

mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci                 run what CI runs (.ci/run): fmt, clippy, tidy, tests on SQLite, PostgreSQL and MariaDB, schemathesis
  tidy               check dependency direction, a //! doc on every file, no ignored tests
  bench gateway      build release binaries, benchmark the gateway against the fake upstream, write docs/benchmarks.md ([--quick])
  bench conversations  build release binaries, time conversations' database work at 10,000 messages (SQLite, PostgreSQL), write its section of docs/benchmarks.md
  bench stats        build release binaries, fill 10 million call-log rows with their rollups and time the statistics' queries (SQLite, PostgreSQL, MariaDB), write its section of docs/benchmarks.md ([--rows N] [--backends sqlite,postgres,mariadb])
  seed [ARGS]        = switchyard catalog seed ([--database-url URL]): import the bundled catalog
  create-admin ARGS  = switchyard admin create ARGS (--username NAME [--email E] [--database-url URL])
  rotate-master-key  = switchyard secrets rotate ARGS ([--new-key KEY] [--database-url URL])";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let outcome = match args.first().map(String::as_str) {
        Some("ci") => run_ci(&root),
        Some("tidy") => tidy::run(&root),
        Some("bench") => bench(&root, &args[1..]),
        Some("create-admin") => switchyard(&root, &["admin", "create"], &args[1..]),
        Some("seed") => switchyard(&root, &["catalog", "seed"], &args[1..]),
        Some("rotate-master-key") => switchyard(&root, &["secrets", "rotate"], &args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}\n\n{USAGE}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace this run is for. `cargo run` sets `CARGO_MANIFEST_DIR` at run time; the
/// compile-time value would name whichever checkout last built the binary when several share a
/// target directory (as CI's clone and a working tree do).
fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir.parent().map(Path::to_path_buf).unwrap_or(manifest_dir)
}

/// Runs the shipped binary with `command` and the caller's arguments, so the shortcut and the
/// operator command are one implementation. Global flags (`--config`, `--database-url`) pass through.
fn switchyard(root: &Path, command: &[&str], args: &[String]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--package",
            "switchyard-server",
            "--bin",
            "switchyard",
            "--",
        ])
        .args(command)
        .args(args)
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), "switchyard {} failed ({status})", command.join(" "));
    Ok(())
}

/// Builds the release binaries (cargo shows its progress), then runs the benchmark against them.
fn bench(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let which = args.first().map(String::as_str);
    anyhow::ensure!(
        matches!(which, Some("gateway" | "conversations" | "stats")),
        "usage: cargo xtask bench gateway [--quick] | cargo xtask bench conversations | cargo xtask bench stats [--rows N]"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("bench: building release binaries (the first build takes several minutes)");
    let status = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--package",
            "switchyard-server",
            "--package",
            "switchyard-bench",
        ])
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), "the release build failed ({status})");
    let metadata = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()?;
    anyhow::ensure!(metadata.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)?;
    let target = metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("cargo metadata names no target directory"))?;
    let release = target.join("release");
    if which == Some("stats") {
        let postgres = std::env::var("SWITCHYARD_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let mysql = std::env::var("SWITCHYARD_BENCH_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
        let status = Command::new(release.join("switchyard-bench"))
            .arg("stats")
            .arg("--out")
            .arg(root.join("docs/benchmarks.md"))
            .arg("--postgres")
            .arg(postgres)
            .arg("--mysql")
            .arg(mysql)
            .args(&args[1..])
            .current_dir(root)
            .status()?;
        anyhow::ensure!(status.success(), "the benchmark failed ({status})");
        return Ok(());
    }
    if which == Some("conversations") {
        let postgres = std::env::var("SWITCHYARD_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let status = Command::new(release.join("switchyard-bench"))
            .arg("conversations")
            .arg("--out")
            .arg(root.join("docs/benchmarks.md"))
            .arg("--postgres")
            .arg(postgres)
            .current_dir(root)
            .status()?;
        anyhow::ensure!(status.success(), "the benchmark failed ({status})");
        return Ok(());
    }
    let status = Command::new(release.join("switchyard-bench"))
        .arg("gateway")
        .arg("--server")
        .arg(release.join("switchyard"))
        .arg("--out")
        .arg(root.join("docs/benchmarks.md"))
        .args(&args[1..])
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), "the benchmark failed ({status})");
    Ok(())
}

/// CI is one script so that it runs the same with or without cargo's help; this runs it.
fn run_ci(root: &Path) -> anyhow::Result<()> {
    let status = Command::new("bash")
        .arg(root.join(".ci/run"))
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), ".ci/run failed ({status})");
    Ok(())
}
