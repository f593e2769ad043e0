//! The load generator, on hyper: one pooled HTTP/1.1 client, requests at 1 at a time, at a
//! fixed rate (open loop: a request's latency counts from when it was due, so a stall delays
//! every request due during it and shows), as many as 64 workers can push, and streams timed
//! chunk by chunk.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use switchyard_testkit::FakeUpstream;
use tokio::time::Instant;

pub type Http = Client<HttpConnector, Full<Bytes>>;

pub fn http_client() -> Http {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(2048)
        .build(connector)
}

fn request(method: &str, url: &str, token: Option<&str>, body: Bytes) -> anyhow::Result<hyper::Request<Full<Bytes>>> {
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    Ok(builder.body(Full::new(body))?)
}

/// A JSON call (set-up), its status and body.
pub async fn json_call(
    http: &Http,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let body = body.map(|body| Bytes::from(body.to_string())).unwrap_or_default();
    let response = http.request(request(method, url, token, body)?).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

pub async fn text_call(http: &Http, url: &str) -> anyhow::Result<String> {
    let response = http.request(request("GET", url, None, Bytes::new())?).await?;
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Where the load goes: the fake's chat completions directly, or Switchyard's.
#[derive(Clone)]
pub struct Target {
    http: Http,
    url: String,
    token: String,
    body: Bytes,
    stream_body: Bytes,
}

impl Target {
    fn new(url: String, token: &str, model: &str) -> Self {
        let body = |stream: bool| {
            Bytes::from(
                json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Say hello"}]})
                    .to_string(),
            )
        };
        Self {
            http: http_client(),
            url,
            token: token.to_owned(),
            body: body(false),
            stream_body: body(true),
        }
    }

    /// The fake upstream at `base` (its OpenAI base URL), with its key.
    pub fn direct(base: String, model: &str) -> Self {
        Self::new(format!("{base}/chat/completions"), FakeUpstream::KEY, model)
    }

    /// Switchyard at `base`, with a gateway key.
    pub fn through(base: String, key: &str, model: &str) -> Self {
        Self::new(format!("{base}/v1/chat/completions"), key, model)
    }

    /// One whole call; an answer that is not a 200 is an error.
    async fn call(&self) -> anyhow::Result<()> {
        let response = self
            .http
            .request(request("POST", &self.url, Some(&self.token), self.body.clone())?)
            .await?;
        let status = response.status();
        let body = response.into_body().collect().await?;
        if status != 200 {
            bail!(
                "{} answered {status}: {}",
                self.url,
                String::from_utf8_lossy(&body.to_bytes())
            );
        }
        Ok(())
    }
}

/// Latencies of `count` calls, one at a time, in microseconds.
pub async fn sequential(target: &Target, count: usize) -> anyhow::Result<Vec<u64>> {
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        target.call().await?;
        latencies.push(micros(started.elapsed()));
    }
    Ok(latencies)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Latencies (from each request's due time, in microseconds) of `rate` calls a second for
/// `length`, each sent when due whatever the others are doing.
pub async fn open_loop(target: &Target, rate: u32, length: Duration) -> anyhow::Result<Vec<u64>> {
    let count = (f64::from(rate) * length.as_secs_f64()) as u64;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = Instant::now() + Duration::from_millis(10);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due).await;
        let target = target.clone();
        tasks.spawn(async move {
            target.call().await?;
            Ok::<u64, anyhow::Error>(micros(due.elapsed()))
        });
    }
    let mut latencies = Vec::with_capacity(count as usize);
    while let Some(done) = tasks.join_next().await {
        latencies.push(done??);
    }
    Ok(latencies)
}

/// Calls a second that `workers` callers, each waiting for its answer, get through in `length`.
pub async fn throughput(target: &Target, workers: usize, length: Duration) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (target, done, stop) = (target.clone(), done.clone(), stop.clone());
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                target.call().await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    while let Some(finished) = tasks.join_next().await {
        finished??;
    }
    Ok(counted as f64 / elapsed.as_secs_f64())
}

/// What a run of concurrent streams showed.
#[derive(Debug, Clone, Default)]
pub struct StreamFigures {
    pub started: usize,
    pub completed: usize,
    /// Time to the first content event of each stream, in microseconds.
    pub first_token: Vec<u64>,
    /// Gaps over 100 ms between two events of a stream.
    pub stalls: usize,
    /// The longest gap seen, in microseconds.
    pub longest_gap: u64,
    /// The server's peak resident memory during the run, in KiB (through Switchyard only).
    pub peak_kib: Option<u64>,
}

/// Opens `count` streams at once and reads each to its end; samples `pid`'s memory meanwhile.
pub async fn streams(target: &Target, count: usize, pid: Option<u32>) -> anyhow::Result<StreamFigures> {
    let running = Arc::new(AtomicBool::new(true));
    let sampler = pid.map(|pid| {
        let running = running.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while running.load(Ordering::Relaxed) {
                peak = peak.max(resident_kib(pid).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let target = target.clone();
        tasks.spawn(async move { one_stream(&target).await });
    }
    let mut figures = StreamFigures {
        started: count,
        ..StreamFigures::default()
    };
    while let Some(done) = tasks.join_next().await {
        let (first, gaps, complete) = done??;
        figures.first_token.push(first);
        figures.stalls += gaps.iter().filter(|gap| **gap > 100_000).count();
        figures.longest_gap = figures.longest_gap.max(gaps.into_iter().max().unwrap_or(0));
        figures.completed += usize::from(complete);
    }
    running.store(false, Ordering::Relaxed);
    if let Some(sampler) = sampler {
        figures.peak_kib = Some(sampler.await?);
    }
    Ok(figures)
}

/// One stream: the time to its first content event, the gaps between events, and whether it
/// ended with `[DONE]`.
async fn one_stream(target: &Target) -> anyhow::Result<(u64, Vec<u64>, bool)> {
    let started = Instant::now();
    let response = target
        .http
        .request(request(
            "POST",
            &target.url,
            Some(&target.token),
            target.stream_body.clone(),
        )?)
        .await?;
    if response.status() != 200 {
        bail!("{} answered {} to a stream", target.url, response.status());
    }
    let mut body = response.into_body();
    let mut first = None;
    let mut last = Instant::now();
    let mut gaps = Vec::new();
    let mut tail = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the stream broke")?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let now = Instant::now();
        if first.is_some() {
            gaps.push(micros(now - last));
        } else if has_text(data) {
            first = Some(micros(now - started));
        }
        last = now;
        tail.extend_from_slice(data);
        if tail.len() > 64 {
            tail.drain(..tail.len() - 64);
        }
    }
    let complete = tail.windows(6).any(|window| window == b"[DONE]");
    Ok((first.unwrap_or(micros(started.elapsed())), gaps, complete))
}

/// Whether an event carries content text (not the empty content of a role-only first chunk):
/// a `"content":"` not followed by its closing quote.
fn has_text(data: &[u8]) -> bool {
    const KEY: &[u8] = b"\"content\":\"";
    data.windows(KEY.len() + 1)
        .any(|window| &window[..KEY.len()] == KEY && window[KEY.len()] != b'"')
}

/// A process's resident memory, in KiB, from `/proc`.
pub fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("no VmRSS in /proc")
}
