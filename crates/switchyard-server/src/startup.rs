//! Start-up and wiring: open the database, migrate, build the API, listen, and stop in order.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::{Server, ServerHandle};
use anyhow::Context;
use secrecy::ExposeSecret;
use switchyard_api::{Api, HttpSettings, Metrics, RouteConfig, Services};
use switchyard_domain::accounts::token::TokenKeys;
use switchyard_domain::accounts::{
    AccountPorts, Accounts, Attempt, AttemptLimiter, AuthPolicy, CacheLimits, IdentityCache, Scope,
};
use switchyard_domain::catalog::{Catalog, CatalogPorts};
use switchyard_domain::conversations::{
    ConversationPorts, ConversationSettings, Conversations, FileLimits, FilePorts, Files, MediaType,
};
use switchyard_domain::gateway::byok::{EndpointPolicy, HostResolver};
use switchyard_domain::gateway::model_configs::{ModelConfigPorts, ModelConfigs};
use switchyard_domain::gateway::{
    CallLogs, Gateway, GatewayPorts, GatewaySettings, HealthSettings, KeySelection, RetrySettings, Strategy, Timeouts,
    Tokenizer,
};
use switchyard_domain::kernel::crypto::SecretCipher;
use switchyard_domain::usage::{
    FailMode, Governor, LimitSettings, LimitStore, MemoryLimitStore, Purged, Retention, UsagePorts, UsageStats,
};
use switchyard_domain::{Clock, HealthProbe};
use switchyard_persistence::{
    CallLogSettings, Database, DatabaseOptions, InMemoryAttemptLimiter, ObjectBlobStore, RedisLimitStore, S3Settings,
    SharedAttemptLimiter, SqlApiKeyRepo, SqlCallLogs, SqlCapabilityRepo, SqlCatalogFileRepo, SqlCategoryRepo,
    SqlConversationRepo, SqlFileRepo, SqlModelConfigRepo, SqlModelRepo, SqlRefreshTokenRepo, SqlRoutingSource,
    SqlSettingsRepo, SqlSupplierRepo, SqlUpstreamKeyRepo, SqlUsageStore, SqlUserRepo, call_log,
};
use switchyard_providers::{Providers, SystemResolver, Tiktoken};
use tokio_util::sync::CancellationToken;

use crate::background::TrackedSpawner;
use crate::clock::SystemClock;
use crate::settings::{AuthSettings, CallLogConfig, FilesConfig, GatewayConfig, RateLimits, Settings, TimeoutSettings};
use crate::supervisor::Supervisor;

/// Connections waiting to be accepted (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 2048;

/// A bound, ready-to-run server with its background tasks.
pub struct Application {
    port: u16,
    server: Server,
    supervisor: Supervisor,
    database: Database,
    shutdown_timeout: Duration,
}

/// What tests (and only tests) change about the wiring.
#[derive(Debug, Default)]
pub struct Overrides {
    /// A clock other than the system's.
    pub clock: Option<Arc<dyn Clock>>,
    /// Extra routes, mounted beside the real ones.
    pub routes: Vec<RouteConfig>,
}

/// Opens the configured database (creating the data directory for the default SQLite file).
pub async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    if settings.database.url.is_none() {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}; create it or set data_dir to a writable directory",
                settings.data_dir.display()
            )
        })?;
    }
    let db = &settings.database;
    let options = DatabaseOptions {
        url: settings.database_url(),
        max_connections: db.max_connections,
        min_connections: db.min_connections,
        connect_timeout: db.connect_timeout,
        acquire_timeout: db.acquire_timeout,
        idle_timeout: db.idle_timeout,
        ..DatabaseOptions::new(String::new())
    };
    Ok(Database::connect(&options).await?)
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("backend", &self.database.backend())
            .finish_non_exhaustive()
    }
}

/// The lowest bcrypt cost accepted outside tests: below it a stolen hash is cheap to crack.
pub const MIN_BCRYPT_COST: u32 = 10;

/// Refuses a weak `auth.bcrypt_cost`, naming the fix, unless `auth.allow_weak_bcrypt` says so.
fn check_bcrypt_cost(auth: &AuthSettings) -> anyhow::Result<()> {
    anyhow::ensure!(
        auth.bcrypt_cost >= MIN_BCRYPT_COST || auth.allow_weak_bcrypt,
        "auth.bcrypt_cost = {} is too weak: set it to {MIN_BCRYPT_COST} or more (the default is 12), \
         or set auth.allow_weak_bcrypt = true where cheap hashes are wanted (tests only)",
        auth.bcrypt_cost
    );
    Ok(())
}

/// The attempt limits of `auth.rate_limits`, per kind and scope.
fn attempt_limits(limits: &RateLimits) -> [(Attempt, Scope, u32); 7] {
    [
        (Attempt::Login, Scope::Address, limits.login_per_address),
        (Attempt::Login, Scope::Account, limits.login_per_account),
        (Attempt::Register, Scope::Address, limits.register_per_address),
        (Attempt::Refresh, Scope::Address, limits.refresh_per_address),
        (Attempt::Refresh, Scope::Account, limits.refresh_per_account),
        (Attempt::Password, Scope::Address, limits.password_per_address),
        (Attempt::Password, Scope::Account, limits.password_per_account),
    ]
}

/// The Redis every instance shares limits through, when `redis.url` is set: one connection for
/// the gateway's limits and the attempt limits.
fn redis_store(settings: &Settings) -> anyhow::Result<Option<RedisLimitStore>> {
    let Some(url) = &settings.redis.url else {
        return Ok(None);
    };
    tracing::info!("limits are shared across instances through Redis");
    Ok(Some(
        RedisLimitStore::new(url, &settings.redis.key_prefix).map_err(anyhow::Error::msg)?,
    ))
}

/// The login, registration, refresh and password attempt limits: in this process, or shared by
/// every instance through `redis`.
fn attempt_limiter(settings: &Settings, redis: Option<RedisLimitStore>) -> Arc<dyn AttemptLimiter> {
    let limits = attempt_limits(&settings.auth.rate_limits);
    match redis {
        Some(store) => Arc::new(SharedAttemptLimiter::new(store, &limits)),
        None => Arc::new(InMemoryAttemptLimiter::new(&limits)),
    }
}

/// The account use cases over this database, configured from `settings.auth`, their attempt
/// limits in `redis` when given.
pub async fn accounts(
    settings: &Settings,
    database: &Database,
    redis: Option<RedisLimitStore>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Accounts> {
    let auth = &settings.auth;
    check_bcrypt_cost(auth)?;
    let secret = crate::secrets::jwt_secret(auth.jwt_secret.as_ref(), database.backend(), &settings.data_dir)?;
    let duration = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let token_keys = TokenKeys::new(&secret, &auth.issuer, &auth.audience, duration(auth.access_token_ttl))?;
    let hashes = match auth.max_concurrent_hashes {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        n => n,
    };
    let connection = database.connection().clone();
    let ports = AccountPorts {
        users: Arc::new(SqlUserRepo::new(connection.clone())),
        refresh_tokens: Arc::new(SqlRefreshTokenRepo::new(connection.clone())),
        keys: Arc::new(SqlApiKeyRepo::new(connection)),
        hasher: Arc::new(crate::hashing::BlockingBcrypt::new(auth.bcrypt_cost, hashes)),
        limiter: attempt_limiter(settings, redis),
        clock,
    };
    let policy = AuthPolicy {
        allow_registration: auth.allow_registration,
        max_failed_logins: auth.max_failed_logins,
        lockout_duration: duration(auth.lockout_duration),
        refresh_ttl: duration(auth.refresh_token_ttl),
        refresh_reuse_grace: duration(auth.refresh_reuse_grace),
        identity_cache: CacheLimits {
            capacity: auth.identity_cache_capacity,
            unknown_key_ttl: duration(auth.unknown_key_cache_ttl),
            unknown_key_capacity: auth.unknown_key_cache_capacity,
        },
    };
    Ok(Accounts::new(ports, token_keys, policy).await?)
}

/// The cipher for stored secrets under the configured (or, with SQLite, generated) master key,
/// after checking it is the key this database's secrets were made with.
pub async fn checked_cipher(
    settings: &Settings,
    database: &Database,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<SecretCipher> {
    let master_key = crate::secrets::master_key(
        settings.secrets.master_key.as_ref(),
        database.backend(),
        &settings.data_dir,
    )?;
    let cipher = SecretCipher::new(master_key);
    let settings_repo = SqlSettingsRepo::new(database.connection().clone());
    crate::secrets::check_master_key(&settings_repo, &cipher, now).await?;
    Ok(cipher)
}

/// The catalog use cases over this database.
pub fn catalog(database: &Database, cipher: SecretCipher, clock: Arc<dyn Clock>) -> Catalog {
    let connection = database.connection();
    let ports = CatalogPorts {
        suppliers: Arc::new(SqlSupplierRepo::new(connection.clone())),
        categories: Arc::new(SqlCategoryRepo::new(connection.clone())),
        capabilities: Arc::new(SqlCapabilityRepo::new(connection.clone())),
        models: Arc::new(SqlModelRepo::new(connection.clone())),
        keys: Arc::new(SqlUpstreamKeyRepo::new(connection.clone())),
        files: Arc::new(SqlCatalogFileRepo::new(connection.clone())),
    };
    Catalog::new(ports, cipher, clock)
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Overrides::default()).await
    }

    pub async fn build_with(settings: Settings, overrides: Overrides) -> anyhow::Result<Self> {
        // Refuse a weak configuration before touching the database.
        check_bcrypt_cost(&settings.auth)?;
        let database = open_database(&settings).await?;
        if settings.database.auto_migrate {
            let applied = database.migrate_up().await?;
            tracing::info!(
                applied,
                backend = database.backend().name(),
                "database migrations applied"
            );
        }
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let cipher = checked_cipher(&settings, &database, clock.now()).await?;
        let probe: Arc<dyn HealthProbe> = Arc::new(database.clone());
        let redis = redis_store(&settings)?;
        let accounts = Arc::new(accounts(&settings, &database, redis.clone(), clock.clone()).await?);
        let identity_cache = accounts.identity_cache();
        let http = HttpSettings {
            body_limit: settings.server.body_limit,
            gateway_body_limit: settings.gateway.body_limit,
            trusted_proxies: settings.server.trusted_proxies.clone(),
            cors_origins: settings.server.cors_origins.clone(),
        };
        let catalog = Arc::new(catalog(&database, cipher.clone(), clock.clone()));
        let metrics = Metrics::new()?;
        let (log_queue, log_writer) = call_log(
            database.connection().clone(),
            call_log_settings(&settings.gateway.call_log),
            &settings.data_dir,
        );
        let policy = EndpointPolicy {
            allowed_hosts: settings.gateway.byok.allowed_hosts.clone(),
        };
        if let Some(entry) = policy.malformed().first() {
            anyhow::bail!(
                "gateway.byok.allowed_hosts entry {entry:?} is not host or host:port (no scheme, no path; an IPv6 address in brackets)"
            );
        }
        let resolver: Arc<dyn HostResolver> = Arc::new(SystemResolver);
        let model_configs = Arc::new(ModelConfigs::new(
            ModelConfigPorts {
                repo: Arc::new(SqlModelConfigRepo::new(database.connection().clone())),
                resolver: resolver.clone(),
                clock: clock.clone(),
                policy: policy.clone(),
            },
            cipher.clone(),
        ));
        let tokenizer: Arc<dyn Tokenizer> = Arc::new(if settings.gateway.preload_tokenizer {
            Tiktoken::preloaded()
        } else {
            Tiktoken::lazy()
        });
        let usage_store = Arc::new(SqlUsageStore::new(database.connection().clone()));
        let governor = Arc::new(governor(
            &settings,
            redis,
            usage_store.clone(),
            accounts.clone(),
            clock.clone(),
        )?);
        let gateway = Arc::new(Gateway::new(
            GatewayPorts {
                provider: Arc::new(Providers::new(resolver, policy)),
                routing: Arc::new(SqlRoutingSource::new(database.connection().clone())),
                log: Arc::new(log_queue),
                observer: Arc::new(metrics.clone()),
                tokenizer: tokenizer.clone(),
                clock: clock.clone(),
                keys: Arc::new(SqlUpstreamKeyRepo::new(database.connection().clone())),
                waiter: Arc::new(crate::clock::TimerWaiter),
                governor: Some(governor.clone()),
            },
            cipher,
            gateway_settings(&settings.gateway)?,
        ));
        refresh_snapshot(&gateway).await?;
        let spawner = TrackedSpawner::on_current_runtime();
        let files = Arc::new(Files::new(
            FilePorts {
                repo: Arc::new(SqlFileRepo::new(database.connection().clone())),
                blobs: Arc::new(blob_store(&settings)?),
                clock: clock.clone(),
                spawner: Arc::new(spawner.clone()),
            },
            file_limits(&settings.files)?,
        ));
        let conversations = Arc::new(Conversations::new(
            ConversationPorts {
                repo: Arc::new(SqlConversationRepo::new(database.connection().clone())),
                gateway: gateway.clone(),
                tokenizer,
                clock: clock.clone(),
                spawner: Arc::new(spawner.clone()),
                files: files.clone(),
            },
            ConversationSettings {
                title_model: settings.conversations.title_model.clone(),
                default_context_window: settings.conversations.default_context_window.max(1),
                default_reply_tokens: settings.conversations.default_reply_tokens.max(1),
            },
        ));
        let usage = Arc::new(UsageStats::new(
            UsagePorts {
                store: usage_store,
                clock: clock.clone(),
            },
            retention(&settings.logs),
        ));
        let call_logs = Arc::new(CallLogs::new(Arc::new(SqlCallLogs::new(database.connection().clone()))));
        let services = Services {
            probe: probe.clone(),
            clock: clock.clone(),
            accounts,
            catalog,
            gateway: gateway.clone(),
            model_configs,
            conversations,
            files,
            usage: usage.clone(),
            call_logs,
            governor,
            metrics,
        };
        let api = overrides
            .routes
            .into_iter()
            .fold(Api::new(services, http)?, Api::with_routes);

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).with_context(|| {
            format!("cannot listen on {address}; is another server using the port? set server.port or SWITCHYARD__SERVER__PORT")
        })?;
        // The standard library listens with a backlog of 128: a burst of new connections (512
        // streams opened at once in the benchmark) overflowed it, and each dropped connection
        // waited a second for its SYN to be sent again.
        socket2::SockRef::from(&listener)
            .listen(LISTEN_BACKLOG)
            .with_context(|| format!("cannot listen on {address} with a backlog of {LISTEN_BACKLOG}"))?;
        let port = listener.local_addr()?.port();
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        };
        let server = HttpServer::new(move || api.app())
            // Without TCP_NODELAY a stream's next event waits for the client's delayed ACK of the
            // last one (up to 40 ms on Linux): the benchmark saw it in the time to first token.
            .on_connect(|connection, _| {
                if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                    let _ = tcp.set_nodelay(true);
                }
            })
            .workers(workers)
            .shutdown_timeout(settings.server.shutdown_timeout.as_secs().max(1))
            .listen(listener)?
            .run();

        let mut supervisor = Supervisor::new();
        // First started, last stopped: every other task and request has logged its calls by then.
        supervisor.spawn("call_log_writer", move |token| {
            log_writer.run(async move { token.cancelled().await })
        });
        // Stopped before the call-log writer: their calls (titles) are logged by then.
        supervisor.spawn("conversation_tasks", move |token| async move {
            token.cancelled().await;
            spawner.drain().await;
        });
        let interval = settings.gateway.key_flush_interval;
        let flushing = gateway.clone();
        supervisor.spawn("upstream_key_flush", move |token| flush_keys(flushing, interval, token));
        let tick = settings.gateway.health.probe_tick;
        let probing = gateway.clone();
        supervisor.spawn("upstream_key_probes", move |token| probe_keys(probing, tick, token));
        let interval = settings.gateway.snapshot_refresh_interval;
        supervisor.spawn("routing_snapshot_refresh", move |token| {
            refresh_snapshots(gateway, interval, token)
        });
        // Preloaded, the tokenizer's tables (about 40 MB) load at start, off the request path;
        // otherwise on the first estimate, in the background.
        if settings.gateway.preload_tokenizer {
            tokio::task::spawn_blocking(Tiktoken::warm_up);
        }
        let interval = settings.logs.retention_interval;
        supervisor.spawn("call_log_retention", move |token| {
            purge_old_usage(usage, interval, token)
        });
        let interval = settings.database.health_check_interval;
        supervisor.spawn("database_health_watch", move |token| {
            watch_health(probe, interval, token)
        });
        let interval = settings.auth.identity_refresh_interval;
        supervisor.spawn("identity_cache_refresh", move |token| {
            refresh_identities(identity_cache, clock, interval, token)
        });
        tracing::info!(%address, port, backend = database.backend().name(), "switchyard listening");
        Ok(Self {
            port,
            server,
            supervisor,
            database,
            shutdown_timeout: settings.server.shutdown_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server as SIGTERM would.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT or SIGTERM (or the server handle stops it), then: in-flight requests
    /// finish within `server.shutdown_timeout`, background tasks stop newest first, the pool closes.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let served = self.server.await;
        tracing::info!("http server stopped; stopping background tasks");
        let failed = self.supervisor.shutdown(self.shutdown_timeout).await;
        if !failed.is_empty() {
            tracing::warn!(?failed, "some background tasks did not stop cleanly");
        }
        self.database.close().await;
        tracing::info!("database pool closed; bye");
        Ok(served?)
    }
}

/// Where files' bytes are kept: `files.storage`.
fn blob_store(settings: &Settings) -> anyhow::Result<ObjectBlobStore> {
    let files = &settings.files;
    match files.storage.as_str() {
        "local" => {
            let dir = files
                .local_dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("files"));
            ObjectBlobStore::local(&dir).map_err(|error| {
                anyhow::anyhow!("files.local_dir: {error}; set files.local_dir to a writable directory")
            })
        }
        "s3" => {
            let s3 = &files.s3;
            if s3.bucket.is_empty() {
                anyhow::bail!("files.storage is s3 but files.s3.bucket is empty; set files.s3.bucket");
            }
            ObjectBlobStore::s3(&S3Settings {
                bucket: s3.bucket.clone(),
                region: if s3.region.is_empty() {
                    "us-east-1".to_owned()
                } else {
                    s3.region.clone()
                },
                endpoint: s3.endpoint.clone(),
                access_key_id: s3.access_key_id.clone(),
                secret_access_key: s3
                    .secret_access_key
                    .as_ref()
                    .map(|secret| secret.expose_secret().to_owned()),
                virtual_hosted_style: s3.virtual_hosted_style,
                allow_http: s3.allow_http,
            })
            .map_err(|error| anyhow::anyhow!("files.s3: {error}"))
        }
        other => anyhow::bail!("files.storage is {other:?}; set it to local or s3"),
    }
}

fn file_limits(config: &FilesConfig) -> anyhow::Result<FileLimits> {
    let allowed = config
        .allowed_types
        .iter()
        .map(|raw| {
            MediaType::parse(raw).map_err(|_| {
                let names: Vec<&str> = MediaType::ALL.iter().map(|kind| kind.as_str()).collect();
                anyhow::anyhow!("files.allowed_types has {raw:?}; use some of {}", names.join(", "))
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(FileLimits {
        max_file_bytes: config.max_file_bytes.max(1),
        max_files_per_user: config.max_files_per_user,
        max_bytes_per_user: config.max_bytes_per_user,
        allowed,
    })
}

fn call_log_settings(config: &CallLogConfig) -> CallLogSettings {
    CallLogSettings {
        queue_capacity: config.queue_capacity,
        batch_size: config.batch_size,
        flush_interval: config.flush_interval,
        memory_capacity: config.memory_capacity,
        retry_max: config.retry_max,
    }
}

fn timeouts(settings: TimeoutSettings) -> Timeouts {
    Timeouts {
        connect: settings.connect,
        first_byte: settings.first_byte,
        idle: settings.idle,
        total: settings.total,
    }
}

fn strategy(setting: &str, raw: &str) -> anyhow::Result<Strategy> {
    Strategy::parse(raw).map_err(|_| {
        let names: Vec<&str> = Strategy::ALL.iter().map(|strategy| strategy.as_str()).collect();
        anyhow::anyhow!("{setting} is {raw:?}; set it to one of {}", names.join(", "))
    })
}

fn gateway_settings(config: &GatewayConfig) -> anyhow::Result<GatewaySettings> {
    let mut by_supplier = std::collections::HashMap::new();
    for (supplier, raw) in &config.supplier_key_selection {
        let setting = format!("gateway.supplier_key_selection.{supplier}");
        by_supplier.insert(supplier.clone(), strategy(&setting, raw)?);
    }
    Ok(GatewaySettings {
        timeouts: timeouts(config.timeouts),
        supplier_timeouts: config
            .supplier_timeouts
            .iter()
            .map(|(name, own)| (name.clone(), timeouts(own.over(config.timeouts))))
            .collect(),
        health: HealthSettings {
            failure_threshold: config.health.failure_threshold.max(1),
            probe_interval: config.health.probe_interval,
            default_cooldown: config.health.default_cooldown,
        },
        selection: KeySelection {
            default: Some(strategy("gateway.key_selection", &config.key_selection)?),
            by_supplier,
        },
        retry: RetrySettings {
            max_attempts: config.retry.max_attempts.max(1),
            deadline: config.retry.deadline,
            cooldown_wait: config.retry.cooldown_wait,
        },
    })
}

/// Writes keys' uses and health changes every `interval`, and once more when stopping.
async fn flush_keys(gateway: Arc<Gateway>, interval: Duration, token: CancellationToken) {
    let mut ticker = after_one_interval(interval);
    loop {
        let stopping = tokio::select! {
            () = token.cancelled() => true,
            _ = ticker.tick() => false,
        };
        match gateway.flush_keys().await {
            Ok(0) => {}
            Ok(keys) => tracing::debug!(keys, "upstream keys' use and health written"),
            Err(error) => {
                tracing::warn!(%error, "upstream keys' use could not be written; it is kept for the next flush")
            }
        }
        if stopping {
            return;
        }
    }
}

/// The gateway's limits: in this process, or in Redis when `redis.url` is set.
fn governor(
    settings: &Settings,
    redis: Option<RedisLimitStore>,
    usage: Arc<SqlUsageStore>,
    accounts: Arc<Accounts>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Governor> {
    let config = &settings.limits;
    let zone = switchyard_domain::usage::zone(&config.time_zone).map_err(|_| {
        anyhow::anyhow!(
            "limits.time_zone {:?} is not an IANA time zone name (such as UTC, Europe/Berlin)",
            config.time_zone
        )
    })?;
    let store: Arc<dyn LimitStore> = match redis {
        Some(store) => Arc::new(store),
        None => Arc::new(MemoryLimitStore::new()),
    };
    let some = |value: u64| (value > 0).then_some(value);
    Ok(Governor::new(
        store,
        usage,
        accounts,
        clock,
        LimitSettings {
            default_key_rpm: some(u64::from(config.default_key_rpm)).and_then(|value| u32::try_from(value).ok()),
            default_key_tpm: some(config.default_key_tpm),
            default_key_concurrency: some(u64::from(config.default_key_concurrency))
                .and_then(|value| u32::try_from(value).ok()),
            on_store_failure: match config.on_store_failure {
                crate::settings::OnStoreFailure::Open => FailMode::Open,
                crate::settings::OnStoreFailure::Closed => FailMode::Closed,
            },
            zone,
            lease_ttl: config.lease_ttl,
        },
    ))
}

/// The retention of raw call logs and rollups.
fn retention(config: &crate::settings::LogsConfig) -> Retention {
    let days = |days: u32| (days > 0).then(|| chrono::TimeDelta::days(i64::from(days)));
    Retention {
        calls: days(config.retention_days),
        rollups: days(config.rollup_retention_days),
        chunk: config.retention_chunk.max(1),
    }
}

/// Removes call-log rows and rollups past their retention: a minute after start, then every
/// `interval`, a chunk at a time until none is left (stopping between chunks when asked).
async fn purge_old_usage(usage: Arc<UsageStats>, interval: Duration, token: CancellationToken) {
    let chunk = usage.retention().chunk;
    let interval = interval.max(Duration::from_millis(10));
    // The first look a minute after start (or sooner), once the server is serving.
    let first = tokio::time::Instant::now() + interval.min(Duration::from_secs(60));
    let mut ticker = tokio::time::interval_at(first, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let mut removed = Purged::default();
        loop {
            match usage.purge_step().await {
                Ok(step) => {
                    removed.calls += step.calls;
                    removed.rollups += step.rollups;
                    if !step.more(chunk) {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "old call-log rows could not be removed; tried again at the next interval");
                    break;
                }
            }
            if token.is_cancelled() {
                return;
            }
        }
        if removed != Purged::default() {
            tracing::info!(
                calls = removed.calls,
                rollups = removed.rollups,
                "call-log rows and rollups past their retention removed"
            );
        }
    }
}

/// Probes keys out of rotation whose probe is due, every `tick`.
async fn probe_keys(gateway: Arc<Gateway>, tick: Duration, token: CancellationToken) {
    let mut ticker = after_one_interval(tick);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = ticker.tick() => {}
        }
        for report in gateway.probe_due().await {
            if report.back {
                tracing::info!(key_id = %report.key_id, supplier = %report.supplier, "an upstream key is back in rotation after a probe");
            } else {
                tracing::warn!(key_id = %report.key_id, supplier = %report.supplier, outcome = ?report.outcome, "an upstream key's probe failed; it stays out of rotation");
            }
        }
    }
}

/// Builds the routing snapshot, logging the keys that did not decrypt.
async fn refresh_snapshot(gateway: &Gateway) -> anyhow::Result<usize> {
    let (models, problems) = gateway
        .refresh()
        .await
        .context("cannot load the routing snapshot from the catalog")?;
    for problem in problems {
        tracing::error!(%problem, "an upstream key was left out of the routing snapshot; set it again");
    }
    Ok(models)
}

/// Rebuilds the routing snapshot every `interval`, for catalog changes other instances made.
async fn refresh_snapshots(gateway: Arc<Gateway>, interval: Duration, token: CancellationToken) {
    let mut ticker = after_one_interval(interval);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(error) = refresh_snapshot(&gateway).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "routing snapshot refresh failed; the previous snapshot stays in use"
            );
        }
    }
}

/// Picks up users and keys changed by other instances sharing the database: every `interval`,
/// forgets what changed since the previous pass (with a margin for clock skew between instances).
async fn refresh_identities(
    cache: Arc<IdentityCache>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    token: CancellationToken,
) {
    let margin = chrono::Duration::seconds(2);
    let mut since = clock.now();
    let mut ticker = after_one_interval(interval);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let started = clock.now();
        match cache.refresh_changed(since - margin).await {
            Ok(_) => since = started,
            Err(error) => tracing::warn!(%error, "identity cache refresh failed; will retry"),
        }
    }
}

/// A ticker whose first tick comes one `interval` from now (the state at start is known: the
/// database was just reached and the identity cache is empty), then every `interval`.
fn after_one_interval(interval: Duration) -> tokio::time::Interval {
    // A zero period would panic the task: configuration asks for "as often as possible".
    let interval = interval.max(Duration::from_millis(100));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Probes the database every `interval` and logs when it goes down or comes back, so an outage
/// shows in the log even when nobody calls `/health/ready`.
async fn watch_health(probe: Arc<dyn HealthProbe>, interval: Duration, token: CancellationToken) {
    let mut ticker = after_one_interval(interval);
    let mut was_up = true;
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let health = probe.check().await;
        if health.up != was_up {
            if health.up {
                tracing::info!(dependency = health.name, "dependency reachable again");
            } else {
                tracing::error!(
                    dependency = health.name,
                    error = health.error.as_deref().unwrap_or(""),
                    "dependency unreachable"
                );
            }
            was_up = health.up;
        }
    }
}
