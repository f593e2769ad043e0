//! Logging: `tracing-subscriber` with an `EnvFilter`, as text or JSON lines. Each request's
//! span (request id, route, client) is attached to every line written while it runs. Lines are
//! gathered in memory and written to standard error by a thread every [`FLUSH_EVERY`] (or by the
//! request that fills [`BUFFER_MOST`]): a request appends its line and moves on, never waiting
//! for the terminal or the file behind it, and no thread is woken for each line (a writer thread
//! woken per line was a tenth of the gateway's time under load). When the output cannot keep up,
//! a request waits rather than a line being dropped.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::settings::{LogFormat, LogSettings};

/// Directives appended to the configured level: sqlx logs every statement at INFO.
const QUIET_DEPENDENCIES: &str = "sqlx=warn,sea_orm=warn,sea_orm_migration=warn,actix_server=warn";

/// Installs the global subscriber; the guard writes what is left when it is dropped (keep it
/// until the end of `main`). Fails when the level is not a valid filter or when a subscriber is
/// already installed.
pub fn init(settings: &LogSettings) -> anyhow::Result<LogGuard> {
    let (writer, guard) = buffered_stderr();
    let filter = EnvFilter::try_new(format!("{QUIET_DEPENDENCIES},{}", settings.level))
        .map_err(|error| anyhow::anyhow!("log.level {:?} is not a valid filter: {error}", settings.level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    let installed = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
    installed.map_err(|error| anyhow::anyhow!("cannot install the log subscriber: {error}"))?;
    Ok(guard)
}

/// How long a line may wait in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// The bytes that, once waiting, are written at once by the request that adds the last line.
const BUFFER_MOST: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Lines {
    /// Lines not yet written.
    buffer: Mutex<Vec<u8>>,
    /// Held while writing, taken before `buffer` is let go: lines leave in the order they came.
    output: Mutex<()>,
    /// Tells the flushing thread to stop.
    stop: Mutex<bool>,
    stopped: Condvar,
}

impl Lines {
    /// Writes what waits (taken under the buffer's lock, written under the output's).
    fn flush(&self, mut buffer: std::sync::MutexGuard<'_, Vec<u8>>) {
        if buffer.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut *buffer);
        let _output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        drop(buffer);
        let mut stderr = std::io::stderr().lock();
        // Standard error gone: there is nowhere to say so.
        let _ = stderr.write_all(&lines).and_then(|()| stderr.flush());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The subscriber's writer: appends to the shared buffer.
#[derive(Debug, Clone)]
pub struct BufferedStderr(Arc<Lines>);

impl Write for BufferedStderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock();
        buffer.extend_from_slice(bytes);
        if buffer.len() >= BUFFER_MOST {
            self.0.flush(buffer);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BufferedStderr {
    type Writer = BufferedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Writes what is left and stops the flushing thread when dropped (keep it until the end of
/// `main`).
#[derive(Debug)]
pub struct LogGuard {
    lines: Arc<Lines>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        *self.lines.stop.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.lines.stopped.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.lines.flush(self.lines.lock());
    }
}

fn buffered_stderr() -> (BufferedStderr, LogGuard) {
    let lines = Arc::new(Lines::default());
    let flusher = lines.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            let mut stop = flusher.stop.lock().unwrap_or_else(PoisonError::into_inner);
            while !*stop {
                stop = flusher
                    .stopped
                    .wait_timeout(stop, FLUSH_EVERY)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                flusher.flush(flusher.lock());
            }
        })
        .ok();
    (BufferedStderr(lines.clone()), LogGuard { lines, thread })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wait_in_memory_until_a_flush_and_leave_in_order() {
        let lines = Arc::new(Lines::default());
        let mut writer = BufferedStderr(lines.clone());
        writer.write_all(b"one\n").expect("a line");
        writer.write_all(b"two\n").expect("a line");
        assert_eq!(lines.lock().as_slice(), b"one\ntwo\n", "kept, not written per line");
        writer.write_all(&vec![b'x'; BUFFER_MOST]).expect("a long line");
        assert!(lines.lock().is_empty(), "a full buffer is written at once");
    }
}
