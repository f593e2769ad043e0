//! The figures, checked against the targets, as a table for the terminal and as
//! `docs/benchmarks.md`.

use std::fmt::Write;

use crate::Plan;
use crate::load::StreamFigures;

/// Everything measured.
#[derive(Debug, Default)]
pub struct Figures {
    pub sequential_direct: Vec<u64>,
    pub sequential_through: Vec<u64>,
    pub open_direct: Vec<u64>,
    pub open_through: Vec<u64>,
    pub rps_direct: f64,
    pub rps_through: f64,
    pub streams_direct: StreamFigures,
    pub streams_through: StreamFigures,
    pub idle_kib: u64,
}

/// The `q` quantile (0–1) of microsecond samples.
fn quantile(samples: &[u64], q: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(micros: u64) -> String {
    format!("{:.3} ms", micros as f64 / 1000.0)
}

fn added(through: u64, direct: u64) -> String {
    let difference = through as i64 - direct as i64;
    format!("{difference} µs")
}

/// One target: what it asks, what was measured, and whether it holds.
struct Check {
    target: &'static str,
    measured: String,
    met: bool,
}

pub struct Report {
    figures: Figures,
    plan: Plan,
    logged: i64,
    checks: Vec<Check>,
}

impl Report {
    pub fn new(figures: Figures, plan: Plan, logged: i64) -> Self {
        let f = &figures;
        let p99 = |samples: &[u64]| quantile(samples, 0.99);
        let sequential_added = p99(&f.sequential_through) as i64 - p99(&f.sequential_direct) as i64;
        let open_added = p99(&f.open_through) as i64 - p99(&f.open_direct) as i64;
        let share = if f.rps_direct > 0.0 {
            f.rps_through / f.rps_direct
        } else {
            0.0
        };
        let streams = &f.streams_through;
        let peak_mib = streams.peak_kib.unwrap_or(0) as f64 / 1024.0;
        let idle_mib = f.idle_kib as f64 / 1024.0;
        let checks = vec![
            Check {
                target: "added p99 at concurrency 1 ≤ 150 µs",
                measured: format!("{sequential_added} µs"),
                met: sequential_added <= 150,
            },
            Check {
                target: "added p99 at 500/s ≤ 1 ms",
                measured: format!("{open_added} µs"),
                met: open_added <= 1000,
            },
            Check {
                target: "throughput through Switchyard ≥ 30% of the fake's own",
                measured: format!("{:.1}%", share * 100.0),
                met: share >= 0.30,
            },
            Check {
                target: "every stream completes, no stall over 100 ms",
                measured: format!(
                    "{}/{} complete, {} stalls (longest gap {})",
                    streams.completed,
                    streams.started,
                    streams.stalls,
                    ms(streams.longest_gap)
                ),
                met: streams.completed == streams.started && streams.stalls == 0,
            },
            Check {
                target: "resident memory ≤ 40 MB idle",
                measured: format!("{:.1} MB ({idle_mib:.1} MiB)", megabytes(idle_mib)),
                // The issue's MB are decimal: the stricter reading.
                met: megabytes(idle_mib) <= 40.0,
            },
            Check {
                target: "resident memory ≤ 200 MB under the stream load",
                measured: format!("{:.1} MB ({peak_mib:.1} MiB)", megabytes(peak_mib)),
                met: megabytes(peak_mib) <= 200.0,
            },
        ];
        Self {
            figures,
            plan,
            logged,
            checks,
        }
    }

    fn latency_rows(&self) -> Vec<[String; 6]> {
        let f = &self.figures;
        let row = |name: &str, direct: &[u64], through: &[u64]| {
            let q = |samples: &[u64], at| quantile(samples, at);
            [
                name.to_owned(),
                format!("{} / {}", ms(q(direct, 0.5)), ms(q(through, 0.5))),
                format!("{} / {}", ms(q(direct, 0.99)), ms(q(through, 0.99))),
                format!("{} / {}", ms(q(direct, 0.999)), ms(q(through, 0.999))),
                added(q(through, 0.5), q(direct, 0.5)),
                added(q(through, 0.99), q(direct, 0.99)),
            ]
        };
        vec![
            row("1 at a time", &f.sequential_direct, &f.sequential_through),
            row(
                &format!("{}/s open loop", self.plan.rate),
                &f.open_direct,
                &f.open_through,
            ),
            row(
                "stream first token",
                &f.streams_direct.first_token,
                &f.streams_through.first_token,
            ),
        ]
    }

    /// The table printed to the terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<22} {:>25} {:>25} {:>25} {:>12} {:>12}",
            "", "p50 direct / through", "p99 direct / through", "p99.9 direct / through", "added p50", "added p99"
        );
        for row in self.latency_rows() {
            let _ = writeln!(
                out,
                "{:<22} {:>25} {:>25} {:>25} {:>12} {:>12}",
                row[0], row[1], row[2], row[3], row[4], row[5]
            );
        }
        let f = &self.figures;
        let _ = writeln!(
            out,
            "\nthroughput at concurrency {}: {:.0}/s direct, {:.0}/s through",
            self.plan.concurrency, f.rps_direct, f.rps_through
        );
        let _ = writeln!(out, "call-log rows written: {}\n", self.logged);
        for check in &self.checks {
            let _ = writeln!(
                out,
                "{} {:<55} {}",
                if check.met { "MET " } else { "MISS" },
                check.target,
                check.measured
            );
        }
        out
    }

    /// `docs/benchmarks.md`.
    pub fn markdown(&self) -> String {
        let f = &self.figures;
        let mut out = String::new();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Written by `cargo xtask bench gateway` (do not edit by hand; run it again). It builds the release\n\
             binaries, starts the fake upstream (`switchyard-bench fake`, its own process) and `switchyard`\n\
             (SQLite in a fresh directory, default settings: info logs, the call log, capability checks),\n\
             furnished through the API: an admin, a user with a gateway key, a supplier with a pool of 4\n\
             keys (round-robin) and a model with a capability. The load generator is `switchyard-bench`\n\
             (hyper, HTTP/1.1, pooled connections): the same requests go to the fake directly and through\n\
             Switchyard; *added* is the difference. Open-loop latencies count from each request's due time.\n"
        );
        let _ = writeln!(out, "## Machine\n\n{}\n", machine());
        let _ = writeln!(out, "## Targets\n\n| | target | measured |\n|---|---|---|");
        for check in &self.checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                if check.met { "met" } else { "**missed**" },
                check.target,
                check.measured
            );
        }
        let _ = writeln!(
            out,
            "\n## Latency\n\n| | p50 direct / through | p99 direct / through | p99.9 direct / through | added p50 | added p99 |\n|---|---|---|---|---|---|"
        );
        for row in self.latency_rows() {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        let _ = writeln!(
            out,
            "\nSamples: {} one at a time, {} at {}/s over {:?}, {} streams of 50 chunks 20 ms apart.\n",
            f.sequential_through.len(),
            f.open_through.len(),
            self.plan.rate,
            self.plan.open_loop,
            f.streams_through.started
        );
        let _ = writeln!(
            out,
            "## Throughput\n\nConcurrency {} for {:?}: **{:.0}/s** direct, **{:.0}/s** through Switchyard ({:.1}%).\n",
            self.plan.concurrency,
            self.plan.throughput,
            f.rps_direct,
            f.rps_through,
            if f.rps_direct > 0.0 {
                f.rps_through / f.rps_direct * 100.0
            } else {
                0.0
            }
        );
        let _ = writeln!(
            out,
            "## Streams and memory\n\n| | direct | through |\n|---|---|---|\n| completed | {}/{} | {}/{} |\n| stalls over 100 ms | {} | {} |\n| longest gap | {} | {} |\n\nResident memory of `switchyard`: {:.1} MiB idle (after set-up and warm-up), {:.1} MiB at the peak of the stream load.\nCall-log rows written during the run: {}.\n",
            f.streams_direct.completed,
            f.streams_direct.started,
            f.streams_through.completed,
            f.streams_through.started,
            f.streams_direct.stalls,
            f.streams_through.stalls,
            ms(f.streams_direct.longest_gap),
            ms(f.streams_through.longest_gap),
            f.idle_kib as f64 / 1024.0,
            f.streams_through.peak_kib.unwrap_or(0) as f64 / 1024.0,
            self.logged
        );
        let _ = writeln!(
            out,
            "## Commands\n\n```sh\ncargo xtask bench gateway           # the full run (about two minutes)\ncargo xtask bench gateway --quick   # every phase, briefly\n```"
        );
        out
    }
}

/// The CPU, cores, memory and kernel, from `/proc`.
fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
        );
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
    format!("- CPU: {cpu}, {cores} cores available, everything co-located\n- Memory: {memory}\n- Linux {kernel}")
}

/// Mebibytes in (decimal) megabytes.
fn megabytes(mib: f64) -> f64 {
    mib * 1_048_576.0 / 1_000_000.0
}
