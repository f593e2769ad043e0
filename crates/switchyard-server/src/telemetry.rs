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

struct Lines {
    /// Lines not yet written.
    buffer: Mutex<Vec<u8>>,
    /// Where lines go (standard error), held while writing and taken before `buffer` is let
    /// go: lines leave in the order they came.
    output: Mutex<Box<dyn Write + Send>>,
    /// Set when the guard is dropped (or no flushing thread could start): lines are then
    /// written as they come.
    direct: std::sync::atomic::AtomicBool,
    /// Tells the flushing thread to stop.
    stop: Mutex<bool>,
    stopped: Condvar,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines").finish_non_exhaustive()
    }
}

impl Lines {
    fn new(output: Box<dyn Write + Send>) -> Self {
        Self {
            buffer: Mutex::default(),
            output: Mutex::new(output),
            direct: std::sync::atomic::AtomicBool::new(false),
            stop: Mutex::new(false),
            stopped: Condvar::new(),
        }
    }

    /// Writes what waits (taken under the buffer's lock, written under the output's).
    fn flush(&self, mut buffer: std::sync::MutexGuard<'_, Vec<u8>>) {
        if buffer.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut *buffer);
        let mut output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        drop(buffer);
        // The output gone: there is nowhere to say so.
        let _ = output.write_all(&lines).and_then(|()| output.flush());
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
        if buffer.len() >= BUFFER_MOST || self.0.direct.load(std::sync::atomic::Ordering::Acquire) {
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
/// `main`); lines logged after it go out as they come.
#[derive(Debug)]
pub struct LogGuard {
    lines: Arc<Lines>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.lines.direct.store(true, std::sync::atomic::Ordering::Release);
        *self.lines.stop.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.lines.stopped.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.lines.flush(self.lines.lock());
    }
}

fn buffered_stderr() -> (BufferedStderr, LogGuard) {
    buffered(Box::new(std::io::stderr()))
}

fn buffered(output: Box<dyn Write + Send>) -> (BufferedStderr, LogGuard) {
    let lines = Arc::new(Lines::new(output));
    let flusher = lines.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            loop {
                let stop = flusher.stop.lock().unwrap_or_else(PoisonError::into_inner);
                let (stop, _) = flusher
                    .stopped
                    .wait_timeout(stop, FLUSH_EVERY)
                    .unwrap_or_else(PoisonError::into_inner);
                let stopping = *stop;
                // Written without the stop flag held: a blocked output never blocks the guard's
                // signal (the guard then waits for this write, as any writer would).
                drop(stop);
                flusher.flush(flusher.lock());
                if stopping {
                    return;
                }
            }
        })
        .ok();
    if thread.is_none() {
        lines.direct.store(true, std::sync::atomic::Ordering::Release);
    }
    (BufferedStderr(lines.clone()), LogGuard { lines, thread })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output a test can read.
    #[derive(Debug, Clone, Default)]
    struct Seen(Arc<Mutex<Vec<u8>>>);

    impl Write for Seen {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("the output").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_wait_in_memory_and_leave_in_order_when_full_or_stopped() {
        let seen = Seen::default();
        let (mut writer, guard) = buffered(Box::new(seen.clone()));
        writer.write_all(b"one\n").expect("a line");
        writer.write_all(b"two\n").expect("a line");
        let written = || seen.0.lock().expect("the output").clone();
        assert!(
            written().is_empty() || written() == b"one\ntwo\n",
            "never a line out of order"
        );
        let long = vec![b'x'; BUFFER_MOST];
        writer.write_all(&long).expect("a long line");
        assert!(written().ends_with(&long), "a full buffer is written at once");
        writer.write_all(b"three\n").expect("a line");
        drop(guard);
        let mut expected = b"one\ntwo\n".to_vec();
        expected.extend_from_slice(&long);
        expected.extend_from_slice(b"three\n");
        assert_eq!(written(), expected, "everything, in order, once the guard is dropped");
        writer.write_all(b"late\n").expect("a line");
        assert!(
            written().ends_with(b"late\n"),
            "after the guard, lines go out as they come"
        );
    }
}
