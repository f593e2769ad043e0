//! Configuration: built-in defaults → optional `switchyard.toml` (or `--config PATH`) →
//! environment `SWITCHYARD__SECTION__KEY`. Every key is listed in `docs/configuration.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File};
use ipnet::IpNet;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    /// Where the SQLite database and generated secrets live.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub secrets: SecretsSettings,
    pub log: LogSettings,
    pub gateway: GatewayConfig,
    pub conversations: ConversationsConfig,
    pub files: FilesConfig,
    /// How long the call log and its rollups are kept.
    pub logs: LogsConfig,
    /// The gateway's rate limits, concurrency and budgets.
    pub limits: LimitsConfig,
    /// Shared state for limits across instances.
    pub redis: RedisConfig,
}

/// Uploads (`/api/v1/files`): limits and where the bytes are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    pub max_file_bytes: u64,
    pub max_files_per_user: u64,
    pub max_bytes_per_user: u64,
    /// Media types taken (of `image/png`, `image/jpeg`, `image/webp`, `image/gif`,
    /// `application/pdf`, `text/plain`, `text/markdown`).
    pub allowed_types: Vec<String>,
    /// `local` (under `local_dir`) or `s3`.
    pub storage: String,
    /// Where `local` storage keeps files; unset = `<data_dir>/files`.
    pub local_dir: Option<PathBuf>,
    pub s3: S3Config,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 20 * 1024 * 1024,
            max_files_per_user: 1000,
            max_bytes_per_user: 1024 * 1024 * 1024,
            allowed_types: [
                "image/png",
                "image/jpeg",
                "image/webp",
                "image/gif",
                "application/pdf",
                "text/plain",
                "text/markdown",
            ]
            .map(str::to_owned)
            .to_vec(),
            storage: "local".to_owned(),
            local_dir: None,
            s3: S3Config::default(),
        }
    }
}

/// An S3-compatible bucket (AWS S3, Tencent COS, MinIO, Sealos, …).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// The service's URL when it is not AWS.
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub virtual_hosted_style: bool,
    pub allow_http: bool,
}

/// Conversations kept on the server (`/api/v1/conversations`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationsConfig {
    /// The small model (a gateway model name) that titles a conversation after its first
    /// exchange when it has none; unset = titles are not generated.
    pub title_model: Option<String>,
    /// The context window assumed for a model whose catalog entry gives none, in tokens.
    pub default_context_window: i64,
    /// The tokens kept for the reply of a model whose catalog entry gives no most output tokens.
    pub default_reply_tokens: i64,
}

impl Default for ConversationsConfig {
    fn default() -> Self {
        Self {
            title_model: None,
            default_context_window: 16_384,
            default_reply_tokens: 1024,
        }
    }
}

/// The call log's retention: raw rows and hourly rollups are removed by a supervised task, in
/// bounded chunks, once they are older than their retention.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    /// Days raw call-log rows are kept; 0 keeps them for ever.
    pub retention_days: u32,
    /// Days hourly rollups (the statistics) are kept; 0 keeps them for ever.
    pub rollup_retention_days: u32,
    /// How often the retention task looks for old rows.
    #[serde(with = "humantime_serde")]
    pub retention_interval: Duration,
    /// Rows removed per statement.
    pub retention_chunk: u64,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            retention_days: 30,
            rollup_retention_days: 400,
            retention_interval: Duration::from_secs(3600),
            retention_chunk: 5_000,
        }
    }
}

/// What to do while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStoreFailure {
    /// Calls go through unlimited, with a warning and `switchyard_limit_store_failures_total`.
    Open,
    /// Calls are refused with 503.
    Closed,
}

/// Limits beyond what keys and users set, and how they are enforced.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per minute of a key that sets none; 0 = none.
    pub default_key_rpm: u32,
    /// Tokens per minute of a key that sets none; 0 = none.
    pub default_key_tpm: u64,
    /// Calls in flight of a key that sets none; 0 = none.
    pub default_key_concurrency: u32,
    /// While the shared store (Redis) is unreachable: `open` or `closed`.
    pub on_store_failure: OnStoreFailure,
    /// The IANA time zone whose days, weeks and months budgets follow.
    pub time_zone: String,
    /// How long a slot or a budget reservation of an instance that died outlives it.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            default_key_rpm: 0,
            default_key_tpm: 0,
            default_key_concurrency: 0,
            on_store_failure: OnStoreFailure::Open,
            time_zone: "UTC".to_owned(),
            lease_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// Redis, for limits shared by every instance; unset keeps them in this process.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:6379/0` (or `rediss://` for TLS); unset = limits in memory, per instance.
    pub url: Option<String>,
    /// Prefix of every key Switchyard writes (several deployments can share one Redis).
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: "switchyard:".to_owned(),
        }
    }
}

/// The gateway (`/v1/*`): upstream timeouts, the routing snapshot's refresh and the call log.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// The largest `/v1` request body, in bytes (images travel inline as base64).
    pub body_limit: usize,
    /// How often the routing snapshot is rebuilt from the database, for changes other
    /// instances made (this instance's own catalog writes apply at once).
    #[serde(with = "humantime_serde")]
    pub snapshot_refresh_interval: Duration,
    /// Timeouts of every upstream call, unless the supplier has its own.
    pub timeouts: TimeoutSettings,
    /// A supplier's own timeouts, by its name; unset fields take `timeouts`.
    pub supplier_timeouts: std::collections::BTreeMap<String, SupplierTimeouts>,
    pub call_log: CallLogConfig,
    /// How a supplier's key pool picks a call's key: `round_robin` (the default), `weighted`,
    /// `least_in_flight` or `latency`.
    pub key_selection: String,
    /// A supplier's own key selection, by its name.
    pub supplier_key_selection: std::collections::BTreeMap<String, String>,
    pub health: HealthConfig,
    pub retry: RetryConfig,
    /// How often keys' use counts, last use and health changes are written to their rows.
    #[serde(with = "humantime_serde")]
    pub key_flush_interval: Duration,
    pub byok: ByokConfig,
    /// Build the tokenizer of usage estimates (about 40 MB) at start, and let an estimate wait
    /// for it; otherwise it is built in the background on the first estimate, and estimates
    /// before it is ready count 4 bytes a token.
    pub preload_tokenizer: bool,
}

/// Users' own keys and endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ByokConfig {
    /// Hosts a user's custom endpoint may name even though they are, or resolve to, internal
    /// addresses (an Ollama or vLLM on the private network); these may also use plain http.
    pub allowed_hosts: Vec<String>,
}

/// How keys' health reacts to their suppliers' answers.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Failures in a row (5xx, timeouts, connection errors) that take a key out of rotation.
    pub failure_threshold: u32,
    /// Between two probes of a key out of rotation.
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
    /// How often the prober looks for keys whose probe is due.
    #[serde(with = "humantime_serde")]
    pub probe_tick: Duration,
    /// The cooldown after a 429 that said nothing of when to come back.
    #[serde(with = "humantime_serde")]
    pub default_cooldown: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        let defaults = switchyard_domain::gateway::HealthSettings::default();
        Self {
            failure_threshold: defaults.failure_threshold,
            probe_interval: defaults.probe_interval,
            probe_tick: Duration::from_secs(1),
            default_cooldown: defaults.default_cooldown,
        }
    }
}

/// How far one request is tried again through other keys, routes and fallback models.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Tries in all, the first included (1 = no retries).
    pub max_attempts: u16,
    /// No new try starts this long after the request arrived.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// With every key cooling down, wait for the first one back when it is back within this
    /// (and the deadline) instead of answering 429 at once; 0 = never wait.
    #[serde(with = "humantime_serde")]
    pub cooldown_wait: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        let defaults = switchyard_domain::gateway::RetrySettings::default();
        Self {
            max_attempts: defaults.max_attempts,
            deadline: defaults.deadline,
            cooldown_wait: defaults.cooldown_wait,
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            body_limit: 32 * 1024 * 1024,
            snapshot_refresh_interval: Duration::from_secs(30),
            timeouts: TimeoutSettings::default(),
            supplier_timeouts: std::collections::BTreeMap::new(),
            call_log: CallLogConfig::default(),
            key_selection: "round_robin".to_owned(),
            supplier_key_selection: std::collections::BTreeMap::new(),
            health: HealthConfig::default(),
            retry: RetryConfig::default(),
            key_flush_interval: Duration::from_secs(10),
            byok: ByokConfig::default(),
            preload_tokenizer: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutSettings {
    /// Opening the connection.
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// From sending the request to the answer's status line (a stream's first event follows).
    #[serde(with = "humantime_serde")]
    pub first_byte: Duration,
    /// Between two events of a stream.
    #[serde(with = "humantime_serde")]
    pub idle: Duration,
    /// The whole call, a stream included.
    #[serde(with = "humantime_serde")]
    pub total: Duration,
}

impl Default for TimeoutSettings {
    fn default() -> Self {
        let defaults = switchyard_domain::gateway::Timeouts::default();
        Self {
            connect: defaults.connect,
            first_byte: defaults.first_byte,
            idle: defaults.idle,
            total: defaults.total,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupplierTimeouts {
    #[serde(with = "humantime_serde")]
    pub connect: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub first_byte: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub idle: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub total: Option<Duration>,
}

impl SupplierTimeouts {
    pub fn over(self, defaults: TimeoutSettings) -> TimeoutSettings {
        TimeoutSettings {
            connect: self.connect.unwrap_or(defaults.connect),
            first_byte: self.first_byte.unwrap_or(defaults.first_byte),
            idle: self.idle.unwrap_or(defaults.idle),
            total: self.total.unwrap_or(defaults.total),
        }
    }
}

/// The call-log writer.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallLogConfig {
    /// Entries waiting for the writer; a full queue spills to the file instead of blocking.
    pub queue_capacity: usize,
    /// Rows per insert (at most 1000).
    pub batch_size: usize,
    /// The longest an entry waits for its batch to fill.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Entries kept in memory while the database is away; older ones go to the spill file.
    pub memory_capacity: usize,
    /// The longest wait between two attempts while the database is away.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

impl Default for CallLogConfig {
    fn default() -> Self {
        let defaults = switchyard_persistence::CallLogSettings::default();
        Self {
            queue_capacity: defaults.queue_capacity,
            batch_size: defaults.batch_size,
            flush_interval: defaults.flush_interval,
            memory_capacity: defaults.memory_capacity,
            retry_max: defaults.retry_max,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsSettings {
    /// Base64 of 32 bytes; encrypts stored secrets (upstream and BYOK keys). Generated into the
    /// data directory with SQLite when unset; required with PostgreSQL and MySQL.
    pub master_key: Option<SecretString>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings::default(),
            data_dir: PathBuf::from("./data"),
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            secrets: SecretsSettings::default(),
            log: LogSettings::default(),
            gateway: GatewayConfig::default(),
            conversations: ConversationsConfig::default(),
            files: FilesConfig::default(),
            logs: LogsConfig::default(),
            limits: LimitsConfig::default(),
            redis: RedisConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// The HS256 signing secret, at least 32 bytes. Generated into the data directory with
    /// SQLite when unset; required with PostgreSQL and MySQL.
    pub jwt_secret: Option<SecretString>,
    pub issuer: String,
    pub audience: String,
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// A refresh retried within this time gets the same successor instead of revoking the session.
    #[serde(with = "humantime_serde")]
    pub refresh_reuse_grace: Duration,
    /// Whether anyone may create an account with `POST /api/v1/auth/register`.
    pub allow_registration: bool,
    pub bcrypt_cost: u32,
    /// Allows `bcrypt_cost` below 10 (tests only: such hashes are cheap to crack).
    pub allow_weak_bcrypt: bool,
    /// bcrypt hashes running at once; 0 = one per CPU core.
    pub max_concurrent_hashes: usize,
    pub max_failed_logins: i64,
    #[serde(with = "humantime_serde")]
    pub lockout_duration: Duration,
    /// Attempts per minute on the routes that check or set a password or a refresh token.
    pub rate_limits: RateLimits,
    /// How often the identity cache picks up users and keys changed by other instances.
    #[serde(with = "humantime_serde")]
    pub identity_refresh_interval: Duration,
    /// The most users and the most API keys the identity cache holds (each).
    pub identity_cache_capacity: u64,
    /// How long a key hash that matched no key is answered from memory.
    #[serde(with = "humantime_serde")]
    pub unknown_key_cache_ttl: Duration,
    /// The most unknown key hashes remembered.
    pub unknown_key_cache_capacity: u64,
}

/// Attempts per minute, per client address (`*_per_address`; requests whose address is unknown
/// share one bucket) and per account (`*_per_account`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub login_per_address: u32,
    pub login_per_account: u32,
    pub register_per_address: u32,
    pub refresh_per_address: u32,
    pub refresh_per_account: u32,
    /// `POST /users/me/password` and the admin's `reset-password`.
    pub password_per_address: u32,
    pub password_per_account: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_per_address: 20,
            login_per_account: 10,
            register_per_address: 5,
            refresh_per_address: 120,
            refresh_per_account: 20,
            password_per_address: 20,
            password_per_account: 10,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            issuer: "switchyard".to_owned(),
            audience: "switchyard".to_owned(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::from_secs(10),
            allow_registration: false,
            bcrypt_cost: 12,
            allow_weak_bcrypt: false,
            max_concurrent_hashes: 0,
            max_failed_logins: 5,
            lockout_duration: Duration::from_secs(15 * 60),
            rate_limits: RateLimits::default(),
            identity_refresh_interval: Duration::from_secs(5),
            identity_cache_capacity: 100_000,
            unknown_key_cache_ttl: Duration::from_secs(30),
            unknown_key_cache_capacity: 100_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Browser origins allowed by CORS; empty sends no CORS headers; `*` allows any.
    pub cors_origins: Vec<String>,
    /// How long a stop waits for in-flight requests before closing them.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 8080,
            body_limit: 2 * 1024 * 1024,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            shutdown_timeout: Duration::from_secs(30),
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…`, `postgres://…` or `mysql://…`; unset means `<data_dir>/switchyard.db`.
    pub url: Option<String>,
    /// Apply pending migrations at start.
    pub auto_migrate: bool,
    pub max_connections: u32,
    pub min_connections: u32,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How often the background health watch probes the database (and logs changes).
    #[serde(with = "humantime_serde")]
    pub health_check_interval: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            auto_migrate: true,
            max_connections: 10,
            min_connections: 0,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(600),
            health_check_interval: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// An `EnvFilter` directive: `info`, `debug`, `switchyard_api=debug,info`, ...
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

impl Settings {
    /// Loads the layered configuration. Without `path`, `switchyard.toml` in the working
    /// directory is read when present.
    pub fn load(path: Option<&Path>) -> Result<Self, config::ConfigError> {
        let file = match path {
            Some(path) => File::from(path).required(true),
            None => File::with_name("switchyard.toml").required(false),
        };
        Config::builder()
            .add_source(file)
            .add_source(
                Environment::with_prefix("SWITCHYARD")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("server.trusted_proxies")
                    .with_list_parse_key("server.cors_origins")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()
    }

    /// The database URL: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("switchyard.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("switchyard.toml");
        std::fs::write(
            &path,
            "[server]\nport = 9000\nshutdown_timeout = \"2s\"\n[log]\nformat = \"json\"\n",
        )
        .expect("the file is written");
        let settings = Settings::load(Some(&path)).expect("the settings load");
        assert_eq!(settings.server.port, 9000);
        assert_eq!(settings.server.shutdown_timeout, Duration::from_secs(2));
        assert_eq!(settings.log.format, LogFormat::Json);
        assert_eq!(settings.server.host, "127.0.0.1");

        std::fs::write(&path, "[server]\nprot = 9000\n").expect("the file is written");
        let error = Settings::load(Some(&path))
            .err()
            .map(|e| e.to_string())
            .expect("an unknown key is refused");
        assert!(error.contains("prot"), "{error}");
    }

    #[test]
    fn the_default_database_is_a_sqlite_file_in_the_data_directory() {
        assert_eq!(
            Settings::default().database_url(),
            "sqlite://./data/switchyard.db?mode=rwc"
        );
    }
}
