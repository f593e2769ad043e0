//! Switchyard's domain: the types, rules, ports and use cases every other crate builds on, one
//! folder per bounded context: `kernel` (shared by all), `accounts`, `catalog`, `gateway`, `conversations`, `usage`. A context
//! depends on the kernel and on another context only through an edge declared in
//! `docs/architecture.md` (checked by `cargo xtask tidy`).
//!
//! This crate does no IO. Whatever touches the outside world (database, network, clock,
//! files, environment) is reached through a port trait defined here and implemented in an
//! outer crate.

pub mod accounts;
pub mod catalog;
pub mod conversations;
pub mod gateway;
pub mod kernel;
pub mod usage;

pub use kernel::clock::ManualClock;
pub use kernel::error::{AuthFailure, ConflictKind, DomainError, Refusal, StoreError};
pub use kernel::health::{DependencyHealth, PoolStats};
pub use kernel::ids::UserId;
pub use kernel::ports::{Clock, HealthProbe, SettingsRepo};
pub use kernel::principal::{Admin, Principal, Role};
pub use kernel::settings::SettingKey;
