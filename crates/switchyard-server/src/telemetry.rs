//! Logging: `tracing-subscriber` with an `EnvFilter`, as text or JSON lines. Each request's
//! span (request id, route, client) is attached to every line written while it runs. Lines go to
//! standard error through `tracing-appender`'s writer thread: a request formats its line and
//! moves on, never waiting for the terminal or the file behind it (when 128,000 lines wait, the
//! writer pushes back rather than drop any).

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::settings::{LogFormat, LogSettings};

/// Directives appended to the configured level: sqlx logs every statement at INFO.
const QUIET_DEPENDENCIES: &str = "sqlx=warn,sea_orm=warn,sea_orm_migration=warn,actix_server=warn";

/// Installs the global subscriber; the guard writes what is left when it is dropped (keep it
/// until the end of `main`). Fails when the level is not a valid filter or when a subscriber is
/// already installed.
pub fn init(settings: &LogSettings) -> anyhow::Result<WorkerGuard> {
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(std::io::stderr());
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
